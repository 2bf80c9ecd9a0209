//! The transaction state machine's valid transitions and its refusals.

use super::*;

fn ongoing(partitions: &[(&str, i32)]) -> TxnMetadata {
    let parts: Vec<(String, i32)> = partitions
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect();
    let empty = TxnMetadata::new(7, 60_000, 0);
    empty
        .add_partitions(7, 0, &parts, 10, 0)
        .expect("add")
        .expect("changed")
}

#[test]
fn commit_path_empty_ongoing_prepare_complete() {
    let txn = ongoing(&[("a", 0), ("b", 1)]);
    assert_eq!(txn.state, TxnState::Ongoing);
    assert_eq!(txn.start_ms, 10);
    // Adding a partition already in the transaction writes nothing.
    assert_eq!(
        txn.add_partitions(7, 0, &[("a".into(), 0)], 20, 0),
        Ok(None)
    );
    let EndStep::Prepare(prepared) = txn.end(7, 0, true, 30, 0, || None).expect("end") else {
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
        prepared.add_partitions(7, 0, &[("c".into(), 0)], 31, 0),
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        prepared.end(7, 0, true, 31, 0, || None),
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        prepared.end(7, 0, false, 31, 0, || None),
        Err(TxnError::InvalidTxnState)
    );
    let done = prepared.complete(40);
    assert_eq!(done.state, TxnState::CompleteCommit);
    assert!(done.partitions.is_empty());
    // A retried commit succeeds; an abort of a committed transaction does not.
    assert_eq!(
        done.end(7, 0, true, 41, 0, || None),
        Ok(EndStep::AlreadyDone)
    );
    assert_eq!(
        done.end(7, 0, false, 41, 0, || None),
        Err(TxnError::InvalidTxnState)
    );
    // The next transaction starts from CompleteCommit with a fresh partition set.
    let next = done
        .add_partitions(7, 0, &[("c".into(), 2)], 50, 0)
        .expect("add")
        .expect("changed");
    assert_eq!(next.state, TxnState::Ongoing);
    assert_eq!(next.partitions.len(), 1);
    assert_eq!(next.start_ms, 50);
}

#[test]
fn abort_path_and_empty_end_is_refused() {
    let empty = TxnMetadata::new(7, 60_000, 0);
    assert_eq!(
        empty.end(7, 0, false, 1, 0, || None),
        Err(TxnError::InvalidTxnState)
    );
    let txn = ongoing(&[("a", 0)]);
    let EndStep::Prepare(prepared) = txn.end(7, 0, false, 30, 0, || None).expect("end") else {
        panic!("expected prepare");
    };
    assert_eq!(prepared.state, TxnState::PrepareAbort);
    assert_eq!(prepared.complete(31).state, TxnState::CompleteAbort);
}

#[test]
fn wrong_producer_or_epoch_is_refused() {
    let txn = ongoing(&[("a", 0)]);
    assert_eq!(
        txn.add_partitions(8, 0, &[("a".into(), 1)], 1, 0),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        txn.end(7, 1, true, 1, 0, || None),
        Err(TxnError::ProducerFenced)
    );
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
        txn.end(7, 0, true, 7, 0, || None).ok(),
        Some(EndStep::Prepare(txn.prepare(true, 7)))
    );
    let done = fenced.complete(7);
    assert_eq!(
        done.end(7, 0, true, 8, 0, || None),
        Err(TxnError::ProducerFenced)
    );
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

/// Transactions V2 (EndTxn v5): every EndTxn bumps the epoch; a retry comes with the epoch
/// before the bump and succeeds again; the old epoch is fenced for anything else.
#[test]
fn v2_end_txn_bumps_the_epoch_and_accepts_its_retry() {
    let txn = TxnMetadata::new(7, 60_000, 0);
    let ongoing = txn
        .add_partitions(7, 0, &[("a".into(), 0)], 10, TV_2)
        .unwrap()
        .unwrap();
    assert_eq!(ongoing.client_transaction_version, TV_2);
    let Ok(EndStep::Prepare(prepared)) = ongoing.end(7, 0, true, 20, TV_2, || None) else {
        panic!("expected a prepare");
    };
    assert_eq!(
        prepared.producer_epoch, 1,
        "markers go out with the bumped epoch"
    );
    assert_eq!(prepared.state, TxnState::PrepareCommit);
    // The retry of the same EndTxn while the markers are written: wait.
    assert_eq!(
        prepared.end(7, 0, true, 21, TV_2, || None),
        Err(TxnError::ConcurrentTransactions)
    );
    let done = prepared.complete(30);
    assert_eq!(
        done.end(7, 0, true, 31, TV_2, || None),
        Ok(EndStep::AlreadyDone)
    );
    assert_eq!(
        done.end(7, 0, false, 31, TV_2, || None),
        Err(TxnError::InvalidTxnState)
    );
    // The next transaction runs at the new epoch; the old one is fenced.
    assert_eq!(
        done.add_partitions(7, 0, &[("a".into(), 0)], 40, TV_2),
        Err(TxnError::ProducerFenced)
    );
    // An abort with no partition added is allowed in V2 (not in V1), and bumps again.
    assert_eq!(
        done.end(7, 1, false, 41, 0, || None),
        Err(TxnError::InvalidTxnState)
    );
    let Ok(EndStep::Prepare(abort)) = done.end(7, 1, false, 41, TV_2, || None) else {
        panic!("expected a prepare");
    };
    assert_eq!((abort.producer_epoch, abort.partitions.len()), (2, 0));
    assert_eq!(
        done.end(7, 2, true, 41, TV_2, || None),
        Err(TxnError::ProducerFenced),
        "an epoch above the current one is fenced too"
    );
}

/// On an exhausted epoch a V2 EndTxn moves the producer to a new id, epoch 0, when the
/// transaction completes; the retry with the old id and last epoch still succeeds.
#[test]
fn v2_end_txn_on_an_exhausted_epoch_moves_to_a_new_producer_id() {
    let mut txn = TxnMetadata::new(7, 60_000, 0);
    txn.producer_epoch = i16::MAX - 1;
    let ongoing = txn
        .add_partitions(7, i16::MAX - 1, &[("a".into(), 0)], 10, TV_2)
        .unwrap()
        .unwrap();
    let Ok(EndStep::Prepare(prepared)) = ongoing.end(7, i16::MAX - 1, true, 20, TV_2, || Some(9))
    else {
        panic!("expected a prepare");
    };
    assert_eq!(
        (prepared.producer_epoch, prepared.next_producer_id),
        (i16::MAX, 9)
    );
    let done = prepared.complete(30);
    assert_eq!(
        (
            done.producer_id,
            done.producer_epoch,
            done.previous_producer_id
        ),
        (9, 0, 7)
    );
    assert_eq!(
        done.end(7, i16::MAX - 1, true, 31, TV_2, || None),
        Ok(EndStep::AlreadyDone)
    );
}
