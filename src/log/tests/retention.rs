//! Retention and DeleteRecords scenarios: what is deleted, log_start_offset, persistence.

use super::*;
use crate::log::LogError;

/// Appends one-record batches with timestamps `ts` (one per batch).
fn append_at(log: &mut Log, ts: &[i64]) {
    for &t in ts {
        let b = BatchBuilder::new().timestamp(t).sized(1, 100).build();
        log.append_as_leader(b, 0, NOW).expect("append");
    }
}

#[test]
fn retention_by_time_deletes_old_sealed_segments_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        retention_ms: 10_000,
        ..small_config()
    };
    let mut log = open(dir.path(), config);
    // Six batches per segment: two old segments, one recent, and an old active segment.
    append_at(&mut log, &[NOW - 50_000; 12]);
    append_at(&mut log, &[NOW - 1_000; 6]);
    append_at(&mut log, &[NOW - 50_000; 2]);
    assert_eq!(segment_bases(dir.path()), [0, 6, 12, 18]);
    assert_eq!(log.enforce_retention(NOW).expect("retention"), 2);
    assert_eq!(segment_bases(dir.path()), [12, 18]);
    assert_eq!(log.log_start_offset(), 12);
    assert_eq!(all_offsets(&log), (12..20).collect::<Vec<_>>());
    assert_eq!(log.enforce_retention(NOW + 20_000).expect("retention"), 1);
    assert_eq!(
        log.segment_count(),
        1,
        "the active segment is never deleted"
    );
    assert_eq!(log.log_start_offset(), 18);
}

#[test]
fn retention_by_size_keeps_the_newest_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 20, 1); // segments of 6 batches: 0, 6, 12, 18
    let segment = 6 * batch(1).len() as i64;
    log.set_config(LogConfig {
        retention_bytes: 2 * segment + 10,
        retention_ms: -1, // the test batches carry 1970 timestamps
        ..small_config()
    });
    assert_eq!(log.enforce_retention(NOW).expect("retention"), 1);
    assert_eq!((log.log_start_offset(), log.segment_count()), (6, 3));
    assert!(log.size_in_bytes() as i64 <= 2 * segment + 10 + segment);
}

#[test]
fn delete_records_raises_log_start_offset_and_persists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 20, 1);
    assert_eq!(log.delete_records_before(13).expect("delete"), 13);
    assert_eq!(
        segment_bases(dir.path()),
        [12, 18],
        "segments below 12 are gone"
    );
    assert_eq!(log.delete_records_before(5).expect("lower is a no-op"), 13);
    assert!(matches!(
        log.delete_records_before(21),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    drop(log); // unclean
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.log_start_offset(), 13);
    assert_eq!(all_offsets(&log), (13..20).collect::<Vec<_>>());
    assert_eq!(log.delete_records_before(20).expect("up to the end"), 20);
    assert!(log
        .read(20, 100, true, None)
        .expect("read")
        .records
        .is_empty());
    log.close().expect("close");
    let log = open(dir.path(), small_config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (20, 20));
}

#[test]
fn deleted_segments_wait_for_the_file_delete_delay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        file_delete_delay_ms: 1_000,
        ..small_config()
    };
    let mut log = open(dir.path(), config);
    append_batches(&mut log, 8, 1);
    log.delete_records_before(7).expect("delete");
    let deleted = segment_path(dir.path(), 0, "log.deleted");
    assert!(deleted.exists());
    log.maybe_roll_and_flush(NOW + 999).expect("periodic");
    assert!(deleted.exists());
    log.maybe_roll_and_flush(NOW + 1_000).expect("periodic");
    assert!(!deleted.exists());
}

#[test]
fn delete_removes_the_partition_directory() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("topic-0");
    let mut log = open(&dir, small_config());
    append_batches(&mut log, 3, 1);
    log.delete().expect("delete");
    assert!(!dir.exists());
}
