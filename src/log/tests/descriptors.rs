//! File descriptors are budgeted (issue 14): a partition holds at most one at rest, its active
//! segment's `.log`. Sealed segments are opened on demand and their handle shared by concurrent
//! readers; index entries reach their files at seal, flush and clean close.

use std::os::fd::AsRawFd;
use std::sync::Arc;

use super::*;
use crate::log::index::{IndexFile, OffsetEntry, TimeEntry};

/// A log of several sealed segments and an active one.
fn rolled_log(dir: &Path) -> Log {
    let mut log = open(dir, small_config());
    append_batches(&mut log, 30, 2);
    assert!(log.segment_count() > 4, "tiny segments must roll");
    log
}

fn holding(log: &Log) -> Vec<bool> {
    log.segments().map(|s| s.holds_descriptor()).collect()
}

/// Where `/proc/self/fd/<fd>` points now (None once the descriptor is closed).
fn fd_target(fd: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

#[test]
fn only_the_segment_being_written_holds_a_descriptor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = rolled_log(dir.path());
    let held = holding(&log);
    assert_eq!(held.iter().filter(|h| **h).count(), 1, "{held:?}");
    assert_eq!(
        held.last(),
        Some(&true),
        "the active segment holds its .log"
    );
}

#[test]
fn sealed_segments_are_read_after_their_descriptor_was_released() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = rolled_log(dir.path());
    assert_eq!(all_offsets(&log), (0..60).collect::<Vec<_>>());
    // By timestamp too (header scans of sealed segments).
    assert!(log.offset_for_timestamp(0).expect("lookup").is_some());
    // Reading opened files on demand; none is held afterwards.
    assert_eq!(holding(&log).iter().filter(|h| **h).count(), 1);
}

#[test]
fn concurrent_readers_share_one_handle_which_closes_with_the_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = rolled_log(dir.path());
    let first = log.read_slices(0, 100, true, None).expect("read");
    let second = log.read_slices(1, 100, true, None).expect("read");
    let (a, b) = (&first.slices[0], &second.slices[0]);
    assert!(Arc::ptr_eq(&a.file, &b.file), "readers share the open file");
    let fd = a.file.as_raw_fd();
    let path = std::fs::canonicalize(&a.path).expect("canonical path");
    assert_eq!(fd_target(fd), Some(path.clone()));
    drop(first);
    assert_eq!(
        fd_target(fd),
        Some(path.clone()),
        "the second reader holds it"
    );
    // A slice in flight stays readable from its handle.
    assert_eq!(second.read_all().expect("read").len(), second.len);
    drop(second);
    assert_ne!(fd_target(fd), Some(path), "closed with the last reader");
}

#[test]
fn a_slice_in_flight_survives_retention_deleting_its_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = rolled_log(dir.path());
    let slices = log.read_slices(0, 100, true, None).expect("read");
    log.delete_records_before(30).expect("delete records");
    assert!(log.log_start_offset() >= 30);
    assert_eq!(slices.read_all().expect("read").len(), slices.len);
}

#[test]
fn indexes_are_written_at_seal_flush_and_close_and_read_back_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = rolled_log(dir.path());
    let index_len = |base: i64| {
        std::fs::metadata(segment_path(dir.path(), base, "index"))
            .expect("index file")
            .len() as usize
    };
    for seg in log.sealed.values() {
        let (offsets, times) = seg.index_entries();
        assert!(!offsets.is_empty() && !times.is_empty());
        let on_disk = IndexFile::<OffsetEntry>::read_entries(&segment_path(
            dir.path(),
            seg.base_offset,
            "index",
        ))
        .expect("read")
        .expect("whole entries");
        assert_eq!(on_disk, offsets, "sealed at {}", seg.base_offset);
        let on_disk = IndexFile::<TimeEntry>::read_entries(&segment_path(
            dir.path(),
            seg.base_offset,
            "timeindex",
        ))
        .expect("read")
        .expect("whole entries");
        assert_eq!(on_disk, times);
    }
    // The active segment's entries stay in memory until the log is flushed.
    let no_rolls = LogConfig {
        segment_bytes: 1 << 20,
        ..small_config()
    };
    log.set_config(no_rolls.clone());
    let active = log.active.base_offset;
    append_batches(&mut log, 2, 1);
    assert_eq!(log.active.base_offset, active);
    let in_memory = log.active.index_entries().0.len();
    assert!(in_memory > 0);
    assert_eq!(index_len(active), 0);
    log.flush().expect("flush");
    assert_eq!(index_len(active), in_memory * 8);
    append_batches(&mut log, 2, 1);
    let in_memory = log.active.index_entries().0.len();
    let sealed: Vec<(i64, Vec<OffsetEntry>)> = log
        .sealed
        .values()
        .map(|s| (s.base_offset, s.index_entries().0.to_vec()))
        .collect();
    log.close().expect("close");
    assert_eq!(index_len(active), in_memory * 8, "written at clean close");

    let log = open(dir.path(), no_rolls);
    let reopened: Vec<(i64, Vec<OffsetEntry>)> = log
        .sealed
        .values()
        .map(|s| (s.base_offset, s.index_entries().0.to_vec()))
        .collect();
    assert_eq!(reopened, sealed, "sealed indexes read back");
    assert!(
        log.segments().all(|s| !s.holds_descriptor()),
        "a loaded log holds nothing until written to"
    );
    assert_eq!(all_offsets(&log), (0..64).collect::<Vec<_>>());
}

#[test]
fn a_crash_before_the_active_indexes_were_written_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = rolled_log(dir.path());
    let expected = log.active.index_entries().0.to_vec();
    drop(log); // no close: the active segment's entries never reached its file
    let mut log = open(dir.path(), small_config());
    assert_eq!(
        log.active.index_entries().0,
        expected,
        "rebuilt by the rescan"
    );
    assert_eq!(all_offsets(&log), (0..60).collect::<Vec<_>>());
    log.append_as_leader(batch(1), 3, NOW).expect("append");
    assert!(log.active.holds_descriptor(), "held from the first append");
}
