//! The leader-epoch cache as the log keeps it: assigned by appends, cut by truncation and by
//! log-start moves, persisted in `leader-epoch-checkpoint`, and rebuilt from the batches when
//! the file is gone or a crash left a torn tail.

use std::fs::{self, OpenOptions};

use super::*;
use crate::log::{EpochEndOffset, EpochEntry};

const CHECKPOINT: &str = "leader-epoch-checkpoint";

fn entries(log: &Log) -> Vec<(i32, i64)> {
    log.leader_epoch_entries()
        .iter()
        .map(|e: &EpochEntry| (e.epoch, e.start_offset))
        .collect()
}

fn end(log: &Log, requested: i32, leader_epoch: i32) -> (i32, i64) {
    let EpochEndOffset {
        leader_epoch,
        end_offset,
    } = log.end_offset_for_epoch(requested, leader_epoch);
    (leader_epoch, end_offset)
}

/// Appends `count` one-record batches stamped with `epoch`.
fn append_in(log: &mut Log, epoch: i32, count: usize) {
    for _ in 0..count {
        log.append_as_leader(batch(1), epoch, NOW).expect("append");
    }
}

fn file(dir: &Path) -> String {
    fs::read_to_string(dir.join(CHECKPOINT)).expect("checkpoint")
}

#[test]
fn appends_assign_new_epochs_and_write_the_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    assert!(
        !dir.path().join(CHECKPOINT).exists(),
        "an empty log's checkpoint waits for its first epoch"
    );
    assert_eq!(
        end(&log, 0, 0),
        (0, 0),
        "the leader's epoch ends at the log end"
    );
    assert_eq!(end(&log, 0, -1), (-1, -1), "an empty cache knows no epoch");
    append_in(&mut log, 0, 4);
    append_in(&mut log, 2, 3);
    append_in(&mut log, 1, 1); // a lower epoch is ignored
    append_in(&mut log, 5, 2);
    assert_eq!(entries(&log), [(0, 0), (2, 4), (5, 8)]);
    assert_eq!(file(dir.path()), "0\n3\n0 0\n2 4\n5 8\n");
    assert_eq!(end(&log, 0, 5), (0, 4));
    assert_eq!(end(&log, 1, 5), (0, 4));
    assert_eq!(end(&log, 2, 5), (2, 8));
    assert_eq!(end(&log, 5, 5), (5, 10));
    assert_eq!(end(&log, 6, 5), (-1, -1));
    // Elected with epoch 7 and nothing appended yet: epoch 5 ends here, 7 at the log end.
    assert_eq!(end(&log, 5, 7), (5, 10));
    assert_eq!(end(&log, 7, 7), (7, 10));
    log.close().expect("close");
    let log = open(dir.path(), small_config());
    assert_eq!(entries(&log), [(0, 0), (2, 4), (5, 8)]);
}

#[test]
fn transaction_markers_assign_their_epoch_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    let b = BatchBuilder::new()
        .producer(7, 0, 0)
        .attributes(0x10)
        .sized(1, 10)
        .build();
    log.append_as_leader(b, 1, NOW).expect("append");
    log.append_txn_marker(7, 0, crate::log::builder::ControlType::Commit, 0, 3, NOW)
        .expect("marker");
    assert_eq!(entries(&log), [(1, 0), (3, 1)]);
}

#[test]
fn rebuilt_from_the_batches_when_the_checkpoint_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_in(&mut log, 0, 8);
    append_in(&mut log, 4, 10); // several segments
    assert!(log.segment_count() > 2);
    let before = entries(&log);
    log.close().expect("close");
    fs::remove_file(dir.path().join(CHECKPOINT)).expect("remove");
    let log = open(dir.path(), small_config());
    assert_eq!(entries(&log), before);
    assert_eq!(file(dir.path()), "0\n2\n0 0\n4 8\n");

    // Garbage is treated as missing.
    drop(log);
    fs::write(dir.path().join(CHECKPOINT), "0\n3\n0 0\n").expect("write");
    let log = open(dir.path(), small_config());
    assert_eq!(entries(&log), before);
}

#[test]
fn a_torn_tail_takes_its_epochs_with_it() {
    for remove_checkpoint in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = open(dir.path(), LogConfig::default());
        append_in(&mut log, 0, 5);
        append_in(&mut log, 2, 3);
        assert_eq!(entries(&log), [(0, 0), (2, 5)]);
        drop(log); // kill -9
        if remove_checkpoint {
            fs::remove_file(dir.path().join(CHECKPOINT)).expect("remove");
        }
        // Cut into the first epoch-2 batch: every batch of epoch 2 is torn off.
        let f = OpenOptions::new()
            .write(true)
            .open(segment_path(dir.path(), 0, "log"))
            .expect("open");
        f.set_len(5 * batch(1).len() as u64 + 10).expect("cut");
        let mut log = open(dir.path(), LogConfig::default());
        assert_eq!(log.log_end_offset(), 5);
        assert_eq!(
            entries(&log),
            [(0, 0)],
            "checkpoint removed: {remove_checkpoint}"
        );
        assert_eq!(file(dir.path()), "0\n1\n0 0\n");
        assert_eq!(end(&log, 2, -1), (-1, -1));
        append_in(&mut log, 3, 1);
        assert_eq!(entries(&log), [(0, 0), (3, 5)]);
    }
}

#[test]
fn a_crash_completes_the_cache_from_the_rescanned_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    append_in(&mut log, 0, 3);
    drop(log);
    let stale = file(dir.path());
    let mut log = open(dir.path(), LogConfig::default());
    append_in(&mut log, 6, 2);
    drop(log); // kill -9, then an older checkpoint (as if its write had been lost)
    fs::write(dir.path().join(CHECKPOINT), stale).expect("write");
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(entries(&log), [(0, 0), (6, 3)]);
}

#[test]
fn truncation_and_log_start_moves_keep_the_cache_in_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_in(&mut log, 0, 6);
    append_in(&mut log, 1, 6);
    append_in(&mut log, 2, 6);
    assert_eq!(entries(&log), [(0, 0), (1, 6), (2, 12)]);

    log.truncate_to(14).expect("truncate");
    assert_eq!(entries(&log), [(0, 0), (1, 6), (2, 12)]);
    log.truncate_to(12).expect("truncate");
    assert_eq!(entries(&log), [(0, 0), (1, 6)]);
    assert_eq!(end(&log, 1, -1), (1, 12));
    assert_eq!(file(dir.path()), "0\n2\n0 0\n1 6\n");

    log.delete_records_before(3).expect("delete records");
    assert_eq!(entries(&log), [(0, 3), (1, 6)]);
    log.delete_records_before(8).expect("delete records");
    assert_eq!(entries(&log), [(1, 8)]);
    assert_eq!(
        end(&log, 0, -1),
        (0, 8),
        "below the first epoch: where the log starts"
    );
    log.close().expect("close");
    let mut log = open(dir.path(), small_config());
    assert_eq!(entries(&log), [(1, 8)]);

    // Below the log start the log restarts empty, and so does the cache.
    log.truncate_to(2).expect("truncate");
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 2));
    assert!(entries(&log).is_empty());
    append_in(&mut log, 4, 1);
    assert_eq!(entries(&log), [(4, 2)]);
}

#[test]
fn retention_moves_the_first_entry_with_the_log_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_in(&mut log, 0, 8);
    append_in(&mut log, 1, 12);
    log.set_config(LogConfig {
        retention_bytes: 1,
        retention_ms: -1,
        ..small_config()
    });
    log.enforce_retention(NOW).expect("retention");
    let start = log.log_start_offset();
    assert!(start > 8, "log start {start}");
    assert_eq!(entries(&log), [(1, start)]);
}
