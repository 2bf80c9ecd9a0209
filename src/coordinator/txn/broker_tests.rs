//! The coordinator on a real (in-process) broker: a crash between the two phases of a commit,
//! partition verification before a transaction's first write to a partition, and the expiry of
//! idle transactional ids.

use super::*;
use crate::log::builder::{build_transactional_batch, NewRecord};
use crate::log::AppendOrigin;
use crate::testing::broker_in;
use kafka_protocol::ResponseError;

#[test]
fn a_commit_interrupted_between_its_phases_is_completed_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let broker = broker_in(dir.path());
        ensure_internal_topic(&broker, "t", 1).expect("topic");
        let (pid, epoch) = broker
            .txns
            .init_producer_id(&broker, "tx", 60_000, None)
            .expect("init");
        broker
            .txns
            .add_partitions(&broker, "tx", pid, epoch, &[("t".to_string(), 0)], 0)
            .expect("add");
        let partition = broker.replicas.get("t", 0).expect("partition");
        let record = NewRecord {
            key: Some("k".into()),
            value: Some("v".into()),
        };
        let batch = build_transactional_batch(&[record], 1_000, pid, epoch);
        partition
            .append_from(batch, 1_000, AppendOrigin::Coordinator)
            .expect("append");
        assert_eq!(partition.last_stable_offset(), 0);
        // Phase one only: the crash comes before any marker is written.
        let shard = broker.txns.shard(&broker, "tx").expect("coordinated here");
        let mut txns = shard.lock();
        let Ok(EndStep::Prepare(prepared)) = txns["tx"].end(pid, epoch, true, 2_000, 0, || None)
        else {
            panic!("expected a prepare step");
        };
        broker
            .txns
            .write(&broker, &shard, &mut txns, "tx", prepared)
            .expect("prepare");
        assert_eq!(partition.last_stable_offset(), 0);
    } // dropped without a clean shutdown

    let broker = broker_in(dir.path());
    let txn = broker
        .txns
        .describe(&broker, "tx")
        .expect("coordinated here")
        .expect("known after restart");
    assert_eq!(txn.state, TxnState::CompleteCommit);
    let partition = broker.replicas.get("t", 0).expect("partition");
    assert_eq!(partition.log_end_offset(), 2, "record and commit marker");
    assert_eq!(partition.last_stable_offset(), 2);
    let (_, aborted) = partition.read_committed(0, 1 << 20, true).expect("read");
    assert!(aborted.is_empty());
}

#[test]
fn only_partitions_added_to_the_running_transaction_pass_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = broker_in(dir.path());
    ensure_internal_topic(&broker, "t", 2).expect("topic");
    let txns = &broker.txns;
    let (pid, epoch) = txns
        .init_producer_id(&broker, "tx", 60_000, None)
        .expect("init");
    let invalid_txn_state = ResponseError::InvalidTxnState.code();
    // No transaction running yet.
    assert_eq!(
        txns.verify_partition(&broker, Some("tx"), pid, epoch, "t", 0),
        Err(invalid_txn_state)
    );
    txns.add_partitions(&broker, "tx", pid, epoch, &[("t".to_string(), 0)], 0)
        .expect("add");
    assert_eq!(
        txns.verify_partition(&broker, Some("tx"), pid, epoch, "t", 0),
        Ok(())
    );
    assert_eq!(
        txns.verify_partition(&broker, Some("tx"), pid, epoch, "t", 1),
        Err(invalid_txn_state),
        "partition 1 was never added"
    );
    assert_eq!(
        txns.verify_partition(&broker, Some("tx"), pid + 1, 0, "t", 0),
        Err(invalid_txn_state),
        "unknown producer"
    );
    // A fenced instance is told so.
    txns.init_producer_id(&broker, "tx", 60_000, None)
        .expect("new instance");
    assert_eq!(
        txns.verify_partition(&broker, Some("tx"), pid, epoch, "t", 0),
        Err(ResponseError::InvalidProducerEpoch.code())
    );
}

#[test]
fn idle_finished_transactional_ids_expire_with_a_tombstone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expiration = 604_800_000; // transactional.id.expiration.ms, Kafka's default
    {
        let broker = broker_in(dir.path());
        ensure_internal_topic(&broker, "t", 1).expect("topic");
        let txns = &broker.txns;
        let (pid, _) = txns
            .init_producer_id(&broker, "idle", 60_000, None)
            .expect("init");
        txns.init_producer_id(&broker, "open", 60_000, None)
            .and_then(|(p, e)| {
                txns.add_partitions(&broker, "open", p, e, &[("t".to_string(), 0)], 0)
            })
            .expect("open a transaction");
        let shard = txns.shard(&broker, "idle").expect("coordinated here");
        let mut ids = shard.lock();
        let idle_since = ids["idle"].last_update_ms;
        assert_eq!(
            txns.remove_expired_ids(&broker, &shard, &mut ids, idle_since + expiration - 1),
            0
        );
        drop(ids);
        // Removal is by shard: both ids may sit in different ones, so look at each.
        let mut removed = 0;
        for id in ["idle", "open"] {
            let shard = txns.shard(&broker, id).expect("coordinated here");
            let mut ids = shard.lock();
            removed +=
                txns.remove_expired_ids(&broker, &shard, &mut ids, idle_since + 10 * expiration);
        }
        assert_eq!(removed, 1, "only the id with no running transaction");
        assert_eq!(txns.describe(&broker, "idle"), Ok(None));
        let open = txns.describe(&broker, "open").expect("here").expect("kept");
        assert_eq!(open.state, TxnState::Ongoing);
        // A producer coming back under the expired id starts afresh.
        let (new_pid, _) = txns
            .init_producer_id(&broker, "idle", 60_000, None)
            .expect("init again");
        assert_ne!(new_pid, pid, "a forgotten id gets a new producer id");
        let shard = txns.shard(&broker, "idle").expect("coordinated here");
        let mut ids = shard.lock();
        let again = ids["idle"].last_update_ms;
        assert_eq!(
            txns.remove_expired_ids(&broker, &shard, &mut ids, again + expiration),
            1
        );
    }
    // The tombstones are in __transaction_state: a restart does not bring the id back.
    let broker = broker_in(dir.path());
    assert_eq!(broker.txns.describe(&broker, "idle"), Ok(None));
    assert!(broker
        .txns
        .describe(&broker, "open")
        .expect("here")
        .is_some());
}
