//! Transactions in one partition: open transactions bound the last stable offset, markers
//! close them, aborts land in the segment's `.txnindex`, and all of it survives a restart and a
//! crash (the index is rebuilt from the markers in the log).

use bytes::Bytes;

use super::*;
use crate::log::builder::ControlType;
use crate::log::{AbortedTxn, LogError};

/// A transactional batch of `n` records from producer `pid`.
fn txn(pid: i64, seq: i32, n: usize) -> Bytes {
    BatchBuilder::new()
        .producer(pid, 0, seq)
        .attributes(0x10)
        .sized(n, 100)
        .build()
}

fn marker(log: &mut Log, pid: i64, control: ControlType) -> i64 {
    log.append_txn_marker(pid, 0, control, 0, 0, NOW)
        .expect("marker")
        .first_offset
}

fn aborted(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: last,
        last_stable_offset: lso,
    }
}

#[test]
fn open_transactions_bound_the_lso_until_their_markers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    log.append_as_leader(batch(2), 0, NOW).expect("plain"); // 0-1
    assert_eq!(log.first_unstable_offset(), None);
    log.append_as_leader(txn(1, 0, 2), 0, NOW).expect("txn 1"); // 2-3
    log.append_as_leader(txn(2, 0, 1), 0, NOW).expect("txn 2"); // 4
    log.append_as_leader(txn(1, 2, 1), 0, NOW)
        .expect("txn 1 again"); // 5
    assert_eq!(log.first_unstable_offset(), Some(2));
    assert_eq!(marker(&mut log, 1, ControlType::Abort), 6);
    // Producer 2's transaction still holds the LSO at its first offset.
    assert_eq!(log.first_unstable_offset(), Some(4));
    assert_eq!(
        log.aborted_transactions(0, 7),
        vec![aborted(1, 2, 6, 4)],
        "the abort's LSO is producer 2's open transaction"
    );
    assert_eq!(marker(&mut log, 2, ControlType::Commit), 7);
    assert_eq!(log.first_unstable_offset(), None);
    // Only aborts overlapping the fetched range are listed.
    assert_eq!(log.aborted_transactions(7, 8), vec![]);
    assert_eq!(log.aborted_transactions(0, 2), vec![]);
    assert_eq!(log.aborted_transactions(3, 4).len(), 1);
}

#[test]
fn non_transactional_write_during_a_transaction_and_stale_markers_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    log.append_as_leader(txn(1, 0, 1), 0, NOW).expect("txn");
    let plain = BatchBuilder::new().producer(1, 0, 1).sized(1, 10).build();
    assert!(matches!(
        log.append_as_leader(plain, 0, NOW),
        Err(LogError::InvalidTxnState { .. })
    ));
    // A marker with a newer epoch (a fencing abort) is accepted and fences epoch 0.
    log.append_txn_marker(1, 1, ControlType::Abort, 0, 0, NOW)
        .expect("fencing abort");
    assert!(matches!(
        log.append_txn_marker(1, 0, ControlType::Commit, 0, 0, NOW),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    assert!(matches!(
        log.append_as_leader(txn(1, 1, 1), 0, NOW),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
}

#[test]
fn transactions_survive_clean_restart_and_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    // Enough data to roll segments, with an abort in an early segment.
    log.append_as_leader(txn(1, 0, 3), 0, NOW).expect("txn"); // 0-2
    marker(&mut log, 1, ControlType::Abort); // 3
    for i in 0..10 {
        log.append_as_leader(txn(2, i * 2, 2), 0, NOW)
            .expect("txn 2");
    }
    marker(&mut log, 2, ControlType::Abort);
    log.append_as_leader(txn(3, 0, 1), 0, NOW)
        .expect("open txn");
    let open_at = log.log_end_offset() - 1;
    assert!(log.segment_count() > 2, "the test needs several segments");
    let before = log.aborted_transactions(0, log.log_end_offset());
    assert_eq!(before.len(), 2);
    log.close().expect("close");

    let mut log = open(dir.path(), small_config());
    assert_eq!(log.aborted_transactions(0, log.log_end_offset()), before);
    assert_eq!(log.first_unstable_offset(), Some(open_at));
    // More after the restart, then a crash: no clean-shutdown marker, no snapshot at the end.
    log.append_as_leader(txn(4, 0, 1), 0, NOW).expect("txn 4");
    marker(&mut log, 4, ControlType::Abort);
    let all = log.aborted_transactions(0, log.log_end_offset());
    assert_eq!(all.len(), 3);
    drop(log);

    // The last abort's index entry was never fsynced: lose it, as a crash may.
    let newest = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txnindex"))
        .max()
        .expect("an index with the last abort");
    let bytes = std::fs::read(&newest).expect("read");
    std::fs::write(&newest, &bytes[..bytes.len() - 34]).expect("cut");
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.first_unstable_offset(), Some(open_at));
    // Aborts after the last snapshot are rebuilt from their markers in the log.
    assert_eq!(log.aborted_transactions(0, log.log_end_offset()), all);
    marker(&mut log, 3, ControlType::Commit);
    assert_eq!(log.first_unstable_offset(), None);
}
