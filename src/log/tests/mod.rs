//! Scenario tests of the `Log`, in the spirit of Kafka's LogLoaderTest: each test names the
//! situation it drives, through the public API plus direct damage to the files on disk.

mod append_read;
mod compaction;
mod descriptors;
mod follower;
mod idempotence;
mod leader_epoch;
mod recovery;
mod retention;
mod transactions;
mod validation;

use std::path::Path;

use bytes::Bytes;

use super::test_util::BatchBuilder;
use super::{BatchHeader, BatchIter, Log, LogConfig};

pub(super) const NOW: i64 = 1_700_000_000_000;

/// Small segments and a tight index interval so a few appends exercise rolls and lookups.
pub(super) fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 200,
        file_delete_delay_ms: 0,
        ..LogConfig::default()
    }
}

pub(super) fn open(dir: &Path, config: LogConfig) -> Log {
    Log::open(dir, config, NOW).expect("open log")
}

/// A batch of `n` records of 100 bytes each.
pub(super) fn batch(n: usize) -> Bytes {
    BatchBuilder::new().sized(n, 100).build()
}

/// Appends `count` batches of `n` records each.
pub(super) fn append_batches(log: &mut Log, count: usize, n: usize) {
    for _ in 0..count {
        log.append_as_leader(batch(n), 3, NOW).expect("append");
    }
}

/// Headers of every batch returned by one read, checking each is intact.
pub(super) fn batches(records: Bytes) -> Vec<BatchHeader> {
    BatchIter::new(records)
        .map(|r| r.expect("valid batch").0)
        .collect()
}

/// Every offset readable from log_start_offset on, reading batch after batch.
pub(super) fn all_offsets(log: &Log) -> Vec<i64> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.log_end_offset() {
        let read = log.read(next, 1 << 20, true, None).expect("read");
        let hs = batches(read.records);
        assert!(!hs.is_empty(), "read at {next} returned nothing");
        for h in hs {
            out.extend((h.base_offset..=h.last_offset()).filter(|o| *o >= next));
            next = h.last_offset() + 1;
        }
    }
    out
}

pub(super) fn segment_path(dir: &Path, base: i64, ext: &str) -> std::path::PathBuf {
    dir.join(super::segment::file_name(base, ext))
}

/// Base offsets of the `.log` files in `dir`.
pub(super) fn segment_bases(dir: &Path) -> Vec<i64> {
    let mut bases: Vec<i64> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    bases.sort_unstable();
    bases
}
