//! Idempotent producer scenarios: duplicates, sequence gaps, fencing, and state across restarts.

use bytes::Bytes;

use super::*;
use crate::log::LogError;

const PID: i64 = 1000;

/// A batch of `n` records from producer `PID`.
fn idem(epoch: i16, seq: i32, n: usize) -> Bytes {
    BatchBuilder::new()
        .producer(PID, epoch, seq)
        .sized(n, 100)
        .build()
}

#[test]
fn a_retried_batch_is_a_duplicate_with_the_original_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    log.append_as_leader(batch(2), 0, NOW).expect("plain");
    let first = log.append_as_leader(idem(0, 0, 3), 0, NOW).expect("seq 0");
    assert_eq!((first.first_offset, first.last_offset), (2, 4));
    log.append_as_leader(idem(0, 3, 1), 0, NOW).expect("seq 3");
    let size = log.size_in_bytes();
    let dup = log.append_as_leader(idem(0, 0, 3), 0, NOW).expect("retry");
    assert!(dup.duplicate);
    assert_eq!((dup.first_offset, dup.last_offset), (2, 4));
    assert_eq!((log.log_end_offset(), log.size_in_bytes()), (6, size));
    let next = log.append_as_leader(idem(0, 4, 1), 0, NOW).expect("seq 4");
    assert_eq!(next.first_offset, 6);
}

#[test]
fn a_sequence_gap_is_out_of_order_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    log.append_as_leader(idem(0, 0, 2), 0, NOW).expect("seq 0");
    assert!(matches!(
        log.append_as_leader(idem(0, 5, 1), 0, NOW),
        Err(LogError::OutOfOrderSequence {
            expected: 2,
            found: 5,
            ..
        })
    ));
    // Two batches in one request: the second is out of order, so neither is written.
    let mut request = idem(0, 2, 1).to_vec();
    request.extend_from_slice(&idem(0, 9, 1));
    assert!(matches!(
        log.append_as_leader(Bytes::from(request), 0, NOW),
        Err(LogError::OutOfOrderSequence {
            expected: 3,
            found: 9,
            ..
        })
    ));
    assert_eq!(log.log_end_offset(), 2);
    // ...but in order they are both accepted, the second checked against the first.
    let mut request = idem(0, 2, 1).to_vec();
    request.extend_from_slice(&idem(0, 3, 2));
    let info = log
        .append_as_leader(Bytes::from(request), 0, NOW)
        .expect("in order");
    assert_eq!((info.first_offset, info.last_offset), (2, 4));
}

#[test]
fn an_unknown_producer_may_start_at_any_sequence_as_in_kafka() {
    // Kafka accepts the first batch of a producer it has no state for whatever its sequence:
    // its state may have expired (producer.id.expiration.ms) or its batches been deleted.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    log.append_as_leader(idem(0, 3, 1), 0, NOW)
        .expect("unknown producer at sequence 3");
    assert!(matches!(
        log.append_as_leader(idem(0, 5, 1), 0, NOW),
        Err(LogError::OutOfOrderSequence {
            expected: 4,
            found: 5,
            ..
        })
    ));
}

#[test]
fn an_older_epoch_is_fenced_and_a_new_epoch_restarts_at_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    log.append_as_leader(idem(1, 0, 1), 0, NOW)
        .expect("epoch 1");
    assert!(matches!(
        log.append_as_leader(idem(0, 1, 1), 0, NOW),
        Err(LogError::InvalidProducerEpoch {
            epoch: 0,
            current_epoch: 1,
            ..
        })
    ));
    assert!(matches!(
        log.append_as_leader(idem(2, 1, 1), 0, NOW),
        Err(LogError::OutOfOrderSequence { expected: 0, .. })
    ));
    log.append_as_leader(idem(2, 0, 1), 0, NOW)
        .expect("epoch 2 seq 0");
    let entry = log.producer_entry(PID).expect("entry");
    assert_eq!((entry.producer_epoch, entry.batches.len()), (2, 1));
}

fn producer_state_survives(reopen_cleanly: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    let mut seq = 0;
    // Enough to roll several segments (snapshots at rolls) and leave some batches after.
    for _ in 0..20 {
        log.append_as_leader(idem(4, seq, 1), 0, NOW)
            .expect("append");
        seq += 1;
    }
    let last_original = log.producer_entry(PID).cloned().expect("entry");
    if reopen_cleanly {
        log.close().expect("close");
    } else {
        drop(log);
    }
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.producer_entry(PID), Some(&last_original));
    let dup = log.append_as_leader(idem(4, 18, 1), 0, NOW).expect("retry");
    assert!(dup.duplicate);
    assert_eq!(dup.first_offset, 18);
    assert!(matches!(
        log.append_as_leader(idem(3, 20, 1), 0, NOW),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    let info = log.append_as_leader(idem(4, seq, 1), 0, NOW).expect("next");
    assert_eq!(info.first_offset, 20);
}

#[test]
fn producer_state_survives_clean_restart() {
    producer_state_survives(true);
}

#[test]
fn producer_state_survives_kill_without_close() {
    producer_state_survives(false);
}

#[test]
fn producer_state_is_rebuilt_when_snapshots_are_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for seq in 0..10 {
        log.append_as_leader(idem(0, seq, 1), 0, NOW)
            .expect("append");
    }
    log.close().expect("close");
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "snapshot") {
            std::fs::write(&path, b"MLPS garbage").expect("damage");
        }
    }
    let mut log = open(dir.path(), small_config());
    assert!(
        log.append_as_leader(idem(0, 9, 1), 0, NOW)
            .expect("retry")
            .duplicate
    );
}
