//! The transaction state machine's valid transitions and its refusals.

use super::*;

fn ongoing(partitions: &[(&str, i32)]) -> TxnMetadata {
    let parts: Vec<(String, i32)> = partitions
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect();
    let empty = TxnMetadata::new(7, 60_000, 0);
    empty
        .add_partitions(7, 0, &parts, 10)
        .expect("add")
        .expect("changed")
}

#[test]
fn commit_path_empty_ongoing_prepare_complete() {
    let txn = ongoing(&[("a", 0), ("b", 1)]);
    assert_eq!(txn.state, TxnState::Ongoing);
    assert_eq!(txn.start_ms, 10);
    // Adding a partition already in the transaction writes nothing.
    assert_eq!(txn.add_partitions(7, 0, &[("a".into(), 0)], 20), Ok(None));
    let EndStep::Prepare(prepared) = txn.end(7, 0, true, 30).expect("end") else {
        panic!("expected prepare");
    };
    assert_eq!(prepared.state, TxnState::PrepareCommit);
    assert_eq!(
        prepared.partitions.len(),
        2,
        "markers go to these partitions"
    );
    // While preparing, everything waits.
    assert_eq!(
        prepared.add_partitions(7, 0, &[("c".into(), 0)], 31),
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        prepared.end(7, 0, true, 31),
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        prepared.end(7, 0, false, 31),
        Err(TxnError::InvalidTxnState)
    );
    let done = prepared.complete(40);
    assert_eq!(done.state, TxnState::CompleteCommit);
    assert!(done.partitions.is_empty());
    // A retried commit succeeds; an abort of a committed transaction does not.
    assert_eq!(done.end(7, 0, true, 41), Ok(EndStep::AlreadyDone));
    assert_eq!(done.end(7, 0, false, 41), Err(TxnError::InvalidTxnState));
    // The next transaction starts from CompleteCommit with a fresh partition set.
    let next = done
        .add_partitions(7, 0, &[("c".into(), 2)], 50)
        .expect("add")
        .expect("changed");
    assert_eq!(next.state, TxnState::Ongoing);
    assert_eq!(next.partitions.len(), 1);
    assert_eq!(next.start_ms, 50);
}

#[test]
fn abort_path_and_empty_end_is_refused() {
    let empty = TxnMetadata::new(7, 60_000, 0);
    assert_eq!(empty.end(7, 0, false, 1), Err(TxnError::InvalidTxnState));
    let txn = ongoing(&[("a", 0)]);
    let EndStep::Prepare(prepared) = txn.end(7, 0, false, 30).expect("end") else {
        panic!("expected prepare");
    };
    assert_eq!(prepared.state, TxnState::PrepareAbort);
    assert_eq!(prepared.complete(31).state, TxnState::CompleteAbort);
}

#[test]
fn wrong_producer_or_epoch_is_refused() {
    let txn = ongoing(&[("a", 0)]);
    assert_eq!(
        txn.add_partitions(8, 0, &[("a".into(), 1)], 1),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(txn.end(7, 1, true, 1), Err(TxnError::ProducerFenced));
}

#[test]
fn init_bumps_the_epoch_and_aborts_an_open_transaction_first() {
    let empty = TxnMetadata::new(7, 60_000, 0);
    let InitStep::Write(bumped) = empty.init(30_000, None, 5, || None).expect("init") else {
        panic!("expected write");
    };
    assert_eq!((bumped.producer_id, bumped.producer_epoch), (7, 1));
    assert_eq!(bumped.timeout_ms, 30_000);
    assert_eq!(bumped.state, TxnState::Empty);

    let txn = ongoing(&[("a", 0)]);
    assert_eq!(
        txn.init(60_000, None, 5, || None),
        Ok(InitStep::AbortOngoing)
    );
    let fenced = txn.fence_and_abort(6);
    assert_eq!(fenced.state, TxnState::PrepareAbort);
    assert_eq!(fenced.producer_epoch, 1, "the old producer is fenced");
    assert_eq!(
        txn.end(7, 0, true, 7).ok(),
        Some(EndStep::Prepare(txn.prepare(true, 7)))
    );
    let done = fenced.complete(7);
    assert_eq!(done.end(7, 0, true, 8), Err(TxnError::ProducerFenced));
    let InitStep::Write(next) = done.init(60_000, None, 9, || None).expect("init") else {
        panic!("expected write");
    };
    assert_eq!(next.producer_epoch, 2);
}

#[test]
fn init_with_a_known_producer_follows_kip_360() {
    let empty = TxnMetadata::new(7, 60_000, 0);
    let InitStep::Write(bumped) = empty.init(60_000, Some((7, 0)), 1, || None).expect("init")
    else {
        panic!("expected write");
    };
    assert_eq!(bumped.producer_epoch, 1);
    // The same request again (a retry): the bump is not repeated.
    let InitStep::Write(again) = bumped.init(60_000, Some((7, 0)), 2, || None).expect("init")
    else {
        panic!("expected write");
    };
    assert_eq!(again.producer_epoch, 1);
    // A producer naming an epoch that was never this id's is fenced.
    assert_eq!(
        bumped.init(60_000, Some((9, 0)), 3, || None),
        Err(TxnError::ProducerFenced)
    );
}

#[test]
fn exhausted_epoch_moves_to_a_new_producer_id() {
    let mut txn = TxnMetadata::new(7, 60_000, 0);
    txn.producer_epoch = MAX_EPOCH;
    let InitStep::Write(next) = txn.init(60_000, None, 1, || Some(42)).expect("init") else {
        panic!("expected write");
    };
    assert_eq!((next.producer_id, next.producer_epoch), (42, 0));
    assert_eq!(next.previous_producer_id, 7);
}

#[test]
fn timeout_and_value_round_trip() {
    let txn = ongoing(&[("a", 0), ("a", 1), ("b", 0)]);
    assert!(!txn.timed_out(10 + 60_000));
    assert!(txn.timed_out(10 + 60_001));
    let value = txn.to_value();
    assert_eq!(
        value.partitions,
        vec![("a".to_string(), vec![0, 1]), ("b".to_string(), vec![0])]
    );
    let back = TxnMetadata::from_value(&value);
    assert_eq!(back.partitions, txn.partitions);
    assert_eq!(back.state, TxnState::Ongoing);
}
