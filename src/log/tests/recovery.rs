//! Restart and crash scenarios: clean close, kill -9 (drop without close), torn tails, damaged
//! indexes, interior corruption, stray files, truncation.

use std::fs::{self, OpenOptions};
use std::io::Write;

use super::*;
use crate::log::LogError;

fn remove(dir: &Path, name: &str) {
    match fs::remove_file(dir.join(name)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("remove {name}: {e}"),
        _ => {}
    }
}

#[test]
fn restart_after_clean_close_keeps_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 20, 1);
    log.delete_records_before(8).expect("delete records");
    let (segments, size) = (log.segment_count(), log.size_in_bytes());
    log.close().expect("close");
    assert!(dir.path().join("clean-shutdown").exists());

    let mut log = open(dir.path(), small_config());
    assert!(
        !dir.path().join("clean-shutdown").exists(),
        "marker removed at open"
    );
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (8, 20));
    assert_eq!((log.segment_count(), log.size_in_bytes()), (segments, size));
    assert_eq!(all_offsets(&log), (8..20).collect::<Vec<_>>());
    let info = log.append_as_leader(batch(1), 0, NOW).expect("append");
    assert_eq!(info.first_offset, 20);
}

#[test]
fn reopen_after_kill_without_close_keeps_written_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 25, 2);
    drop(log);
    let log = open(dir.path(), small_config());
    assert_eq!(log.log_end_offset(), 50);
    assert_eq!(all_offsets(&log), (0..50).collect::<Vec<_>>());
}

/// Appends 10 one-record batches in one segment, then damages the tail with `damage`.
fn torn_tail_case(damage: impl FnOnce(&Path)) -> (tempfile::TempDir, Log) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let mut log = open(&path, LogConfig::default());
    append_batches(&mut log, 10, 1);
    drop(log);
    damage(&segment_path(&path, 0, "log"));
    let mut log = open(&path, LogConfig::default());
    let next = log.log_end_offset();
    let info = log.append_as_leader(batch(1), 0, NOW).expect("append");
    assert_eq!(
        info.first_offset, next,
        "appends continue at the recovered end"
    );
    assert_eq!(all_offsets(&log), (0..=next).collect::<Vec<_>>());
    (dir, log)
}

#[test]
fn torn_tail_cut_mid_batch_is_truncated() {
    let (_dir, log) = torn_tail_case(|p| {
        let f = OpenOptions::new().write(true).open(p).expect("open");
        let len = f.metadata().expect("meta").len();
        f.set_len(len - 20).expect("cut");
    });
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(log.size_in_bytes(), 10 * batch(1).len() as u64);
}

#[test]
fn torn_tail_with_garbage_bytes_is_truncated() {
    let (_dir, log) = torn_tail_case(|p| {
        let mut f = OpenOptions::new().append(true).open(p).expect("open");
        f.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(40))
            .expect("garbage");
    });
    assert_eq!(log.log_end_offset(), 11);
}

#[test]
fn torn_tail_zero_filled_is_truncated() {
    let (_dir, log) = torn_tail_case(|p| {
        let f = OpenOptions::new().write(true).open(p).expect("open");
        let len = f.metadata().expect("meta").len();
        f.set_len(len + 4096).expect("zero fill");
    });
    assert_eq!(log.log_end_offset(), 11);
}

#[test]
fn damaged_or_missing_index_files_are_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for i in 0..40 {
        let b = BatchBuilder::new().timestamp(i * 10).sized(1, 100).build();
        log.append_as_leader(b, 0, NOW).expect("append");
    }
    let expected_ts = log.offset_for_timestamp(155).expect("ts");
    log.close().expect("close");
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 5);
    fs::write(segment_path(dir.path(), bases[0], "index"), [0xab; 24]).expect("garbage");
    fs::write(segment_path(dir.path(), bases[1], "index"), [0; 16]).expect("zeros");
    fs::remove_file(segment_path(dir.path(), bases[2], "timeindex")).expect("rm");
    fs::write(segment_path(dir.path(), bases[3], "timeindex"), [1; 7]).expect("partial");
    fs::remove_file(segment_path(dir.path(), bases[4], "index")).expect("rm");

    let log = open(dir.path(), small_config());
    assert_eq!(all_offsets(&log), (0..40).collect::<Vec<_>>());
    for offset in 0..40 {
        let hs = batches(log.read(offset, 1, true, None).expect("read").records);
        assert_eq!(hs[0].base_offset, offset);
    }
    assert_eq!(log.offset_for_timestamp(155).expect("ts"), expected_ts);
    assert_eq!(expected_ts, Some((16, 160)));
    let rebuilt = fs::metadata(segment_path(dir.path(), bases[4], "index")).expect("index");
    assert!(rebuilt.len() > 0 && rebuilt.len().is_multiple_of(8));
}

#[test]
fn interior_corruption_in_a_non_last_segment_stops_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 20, 1);
    drop(log);
    // Lose the recovery point too, so every segment is rescanned (as after a crash that beat
    // the checkpoint write).
    remove(dir.path(), "recovery-point-checkpoint");
    let first = segment_path(dir.path(), 0, "log");
    let mut bytes = fs::read(&first).expect("read");
    bytes[100] ^= 0xff; // inside the first batch; valid batches follow
    fs::write(&first, bytes).expect("write");
    match Log::open(dir.path(), small_config(), NOW) {
        Err(LogError::Corrupt { path, position, .. }) => {
            assert_eq!(path, first);
            assert_eq!(position, 0);
        }
        other => panic!(
            "expected Corrupt, got {:?}",
            other.map(|l| l.log_end_offset())
        ),
    }
}

#[test]
fn damage_in_a_segment_followed_only_by_empty_segments_is_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 6, 1);
    drop(log);
    remove(dir.path(), "recovery-point-checkpoint");
    let first = segment_path(dir.path(), 0, "log");
    let len = fs::metadata(&first).expect("meta").len();
    OpenOptions::new()
        .write(true)
        .open(&first)
        .and_then(|f| f.set_len(len - 5))
        .expect("cut");
    // An empty segment, as a roll leaves before the first append to it.
    fs::write(segment_path(dir.path(), 6, "log"), b"").expect("empty segment");
    let log = open(dir.path(), small_config());
    assert_eq!((log.log_end_offset(), log.segment_count()), (5, 1));
    assert!(!segment_path(dir.path(), 6, "log").exists());
}

#[test]
fn stray_files_are_removed_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 3, 1);
    log.close().expect("close");
    for name in [
        "00000000000000000007.log.deleted",
        "00000000000000000007.log.cleaned",
        "00000000000000000007.log.swap",
        "00000000000000000099.index",
    ] {
        fs::write(dir.path().join(name), b"junk").expect("write");
    }
    let log = open(dir.path(), small_config());
    assert_eq!(log.log_end_offset(), 3);
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names
        .iter()
        .all(|n| !n.contains(".log.") && !n.starts_with("000000000000000000099")));
}

#[test]
fn truncate_to_cuts_at_batch_boundaries_and_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 20, 2);
    log.truncate_to(13).expect("truncate");
    assert_eq!(
        log.log_end_offset(),
        12,
        "the batch holding 13 goes entirely"
    );
    assert_eq!(all_offsets(&log), (0..12).collect::<Vec<_>>());
    let info = log.append_as_leader(batch(1), 0, NOW).expect("append");
    assert_eq!(info.first_offset, 12);
    drop(log);
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.log_end_offset(), 13);
    log.truncate_to(0).expect("truncate all");
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    assert_eq!(log.segment_count(), 1);
}

/// The recovery point on disk; a missing file means 0 (a new log writes none).
fn recovery_point_file(dir: &Path) -> i64 {
    crate::log::checkpoint::read_offset(dir, "recovery-point-checkpoint")
        .expect("read checkpoint")
        .unwrap_or(0)
}

fn snapshots(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.ends_with(".snapshot").then_some(name)
        })
        .collect();
    names.sort();
    names
}

#[test]
fn a_roll_advances_the_recovery_point_only_once_its_background_flush_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    assert_eq!(recovery_point_file(dir.path()), 0);
    append_batches(&mut log, 12, 1);
    assert!(log.segment_count() > 1, "the small segments rolled");
    let active_base = *segment_bases(dir.path()).last().expect("segments");
    assert_eq!(
        recovery_point_file(dir.path()),
        0,
        "nothing is trusted before it is fsynced"
    );
    assert!(
        snapshots(dir.path()).is_empty(),
        "no snapshot in the append path"
    );

    let flush = log.take_rolled_flush().expect("a roll hands out a flush");
    assert!(log.take_rolled_flush().is_none(), "handed out once");
    flush.run().expect("background flush");
    assert_eq!(recovery_point_file(dir.path()), active_base);
    assert_eq!(
        snapshots(dir.path()).last().map(String::as_str),
        Some(format!("{active_base:020}.snapshot").as_str())
    );

    // A crash now rescans only the active segment, and loses nothing.
    drop(log);
    let log = open(dir.path(), small_config());
    assert_eq!(all_offsets(&log), (0..12).collect::<Vec<_>>());
}

#[test]
fn a_background_flush_planned_before_a_truncation_advances_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 12, 1);
    let flush = log.take_rolled_flush().expect("a roll hands out a flush");
    log.truncate_to(2).expect("truncate");
    append_batches(&mut log, 3, 1);
    flush.run().expect("background flush");
    let rp = recovery_point_file(dir.path());
    assert!(
        rp <= 2,
        "recovery point {rp} must not cover data written after the truncation"
    );
    assert!(
        snapshots(dir.path())
            .iter()
            .all(|s| s.as_str() <= format!("{:020}.snapshot", 2).as_str()),
        "no snapshot above the truncation: {:?}",
        snapshots(dir.path())
    );
    drop(log);
    let log = open(dir.path(), small_config());
    assert_eq!(all_offsets(&log), (0..5).collect::<Vec<_>>());
}

#[test]
fn flush_covers_rolled_segments_whose_background_flush_never_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 12, 1);
    let _never_run = log.take_rolled_flush();
    log.flush().expect("flush");
    assert_eq!(recovery_point_file(dir.path()), 12);
}

#[test]
fn a_cleanly_closed_log_reopens_without_rewriting_its_checkpoints() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    assert!(
        !dir.path().join("recovery-point-checkpoint").exists()
            && !dir.path().join("leader-epoch-checkpoint").exists(),
        "a new log writes no checkpoint"
    );
    append_batches(&mut log, 12, 1);
    log.close().expect("close");
    let inode = |name: &str| fs::metadata(dir.path().join(name)).expect(name).ino();
    let before = (
        inode("recovery-point-checkpoint"),
        inode("leader-epoch-checkpoint"),
    );
    let log = open(dir.path(), small_config());
    assert_eq!(
        (
            inode("recovery-point-checkpoint"),
            inode("leader-epoch-checkpoint")
        ),
        before,
        "unchanged checkpoints are not rewritten"
    );
    assert!(!dir.path().join("clean-shutdown").exists());
    assert_eq!(all_offsets(&log), (0..12).collect::<Vec<_>>());
}

#[test]
fn a_clean_restart_trusts_the_last_segments_indexes_and_reads_only_its_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        index_interval_bytes: 200,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config.clone());
    append_batches(&mut log, 40, 1);
    let (end, max_ts, size) = (
        log.log_end_offset(),
        log.max_timestamp(),
        log.size_in_bytes(),
    );
    log.close().expect("close");
    // Damage a record's value early in the segment, far before its last index entry: a scan
    // would find the CRC wrong and cut the log there; a clean open reads past it, as Kafka's.
    let path = segment_path(dir.path(), 0, "log");
    let mut bytes = fs::read(&path).expect("read");
    let batch_size = bytes.len() / 40; // 40 batches of one equal record
    let at = batch_size * 10 + batch_size - 20; // inside the 11th batch's value
    bytes[at] ^= 0xff;
    fs::write(&path, &bytes).expect("write");
    let log = open(dir.path(), config.clone());
    assert_eq!(
        (
            log.log_end_offset(),
            log.max_timestamp(),
            log.size_in_bytes()
        ),
        (end, max_ts, size),
        "the end, max timestamp and size come from the indexes and the tail"
    );
    log.close().expect("close");

    // Without the marker (a crash) the last segment is scanned, and the damage found.
    remove(dir.path(), "clean-shutdown");
    let log = open(dir.path(), config);
    assert!(
        log.log_end_offset() < end,
        "a scan cuts the log at the damaged batch: end {} of {end}",
        log.log_end_offset()
    );
}

#[test]
fn a_clean_restart_with_damaged_indexes_scans_the_last_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    append_batches(&mut log, 30, 2);
    let (end, max_ts) = (log.log_end_offset(), log.max_timestamp());
    log.close().expect("close");
    fs::write(segment_path(dir.path(), 0, "index"), [0xffu8; 16]).expect("damage index");
    let log = open(dir.path(), LogConfig::default());
    assert_eq!((log.log_end_offset(), log.max_timestamp()), (end, max_ts));
    assert_eq!(all_offsets(&log), (0..end).collect::<Vec<_>>());
}
