//! A broker crash between the two phases of a transaction: PrepareCommit is in
//! `__transaction_state` but no marker reached the partitions. At the next start the coordinator
//! completes the commit, as Kafka does, and the last stable offset moves past the transaction.

use super::*;
use crate::log::builder::{build_transactional_batch, NewRecord};
use crate::log::AppendOrigin;
use crate::testing::broker_in;

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
            .add_partitions(&broker, "tx", pid, epoch, &[("t".to_string(), 0)])
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
        let mut txns = broker.txns.lock();
        let Ok(EndStep::Prepare(prepared)) = txns["tx"].end(pid, epoch, true, 2_000) else {
            panic!("expected a prepare step");
        };
        broker
            .txns
            .write(&broker, &mut txns, "tx", prepared)
            .expect("prepare");
        assert_eq!(partition.last_stable_offset(), 0);
    } // dropped without a clean shutdown

    let broker = broker_in(dir.path());
    let txn = broker.txns.describe("tx").expect("known after restart");
    assert_eq!(txn.state, TxnState::CompleteCommit);
    let partition = broker.replicas.get("t", 0).expect("partition");
    assert_eq!(partition.log_end_offset(), 2, "record and commit marker");
    assert_eq!(partition.last_stable_offset(), 2);
    let (_, aborted) = partition.read_committed(0, 1 << 20, true).expect("read");
    assert!(aborted.is_empty());
}
