//! Rewriting a group of sealed segments into one `.cleaned` segment.
//!
//! The sources are read through their own file handles (never the `Log`'s), batch by batch,
//! each batch CRC-checked. Kept batches are copied verbatim when nothing in them changes, and
//! rebuilt (`record_set::rebuild`) otherwise. The output `<base>.log.cleaned` gets its
//! `.index.cleaned` and `.timeindex.cleaned` built on the way with the placement rule of
//! `Segment` (so the swap needs no rescan), and a `.txnindex.cleaned` (always written, maybe
//! empty, so that recovery of a swap can tell the new index from the old). All four are
//! fsynced before the group is handed to the swap.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::super::batch::{validate_batch, BatchHeader, BATCH_HEADER_SIZE};
use super::super::builder::{control_type, ControlType};
use super::super::error::{IoContext, LogError};
use super::super::index::{IndexFile, OffsetEntry, TimeEntry};
use super::super::record_set::{self, delete_horizon};
use super::super::segment::file_name;
use super::super::txn_index::{AbortedTxn, TxnIndex};
use super::filter::{retain_record, BatchRetention, ProducerLast, TxnTracker};
use super::offset_map::OffsetMap;
use super::throttle::Throttler;

/// One sealed segment as the plan saw it.
#[derive(Debug, Clone)]
pub(crate) struct SourceSegment {
    pub base: i64,
    pub next_base: i64,
    pub size: u64,
    pub path: PathBuf,
}

/// A written `.cleaned` group, ready to swap in.
#[derive(Debug)]
pub(crate) struct CleanedGroup {
    pub base: i64,
    pub next_base: i64,
    /// (base, size) of the segments it replaces.
    pub sources: Vec<(i64, u64)>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The extensions of a segment's files, the `.log` last: renames go in this order so that the
/// `.log` marks a finished step (see `swap`).
pub(crate) const SEGMENT_EXTS: [&str; 4] = ["txnindex", "index", "timeindex", "log"];

pub(crate) fn cleaned_path(dir: &Path, base: i64, ext: &str) -> PathBuf {
    dir.join(format!("{}.cleaned", file_name(base, ext)))
}

/// Reads the batches of one segment, up to the size the plan saw.
pub(crate) struct BatchReader {
    path: PathBuf,
    reader: BufReader<File>,
    position: u64,
    end: u64,
}

impl BatchReader {
    pub(crate) fn open(seg: &SourceSegment) -> Result<BatchReader, LogError> {
        let file = File::open(&seg.path).at(&seg.path)?;
        Ok(BatchReader {
            path: seg.path.clone(),
            reader: BufReader::with_capacity(256 * 1024, file),
            position: 0,
            end: seg.size,
        })
    }

    /// The next whole batch and its header; `None` at the end.
    pub(crate) fn next(&mut self) -> Result<Option<(BatchHeader, Vec<u8>)>, LogError> {
        if self.position + BATCH_HEADER_SIZE as u64 > self.end {
            return Ok(None);
        }
        let corrupt = |position, reason: String| LogError::Corrupt {
            path: self.path.clone(),
            position,
            reason,
        };
        let mut head = [0u8; BATCH_HEADER_SIZE];
        self.reader.read_exact(&mut head).at(&self.path)?;
        let h = BatchHeader::parse(&head).map_err(|e| corrupt(self.position, e.to_string()))?;
        let size = h.size_in_bytes() as u64;
        if self.position + size > self.end {
            return Err(corrupt(self.position, "batch runs past the segment".into()));
        }
        let mut batch = vec![0u8; size as usize];
        batch[..BATCH_HEADER_SIZE].copy_from_slice(&head);
        self.reader
            .read_exact(&mut batch[BATCH_HEADER_SIZE..])
            .at(&self.path)?;
        validate_batch(&batch).map_err(|e| corrupt(self.position, e.to_string()))?;
        self.position += size;
        Ok(Some((h, batch)))
    }
}

/// The `.cleaned` files of one group being written.
struct CleanedWriter {
    dir: PathBuf,
    base: i64,
    log: BufWriter<File>,
    log_path: PathBuf,
    position: u64,
    index_interval_bytes: u32,
    bytes_since_last_entry: u64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    offsets: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    /// Offsets of the abort markers written (their transactions stay in the txn index).
    abort_markers: Vec<i64>,
}

impl CleanedWriter {
    fn create(dir: &Path, base: i64, index_interval_bytes: u32) -> Result<Self, LogError> {
        let log_path = cleaned_path(dir, base, "log");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)
            .at(&log_path)?;
        Ok(CleanedWriter {
            dir: dir.to_path_buf(),
            base,
            log: BufWriter::with_capacity(256 * 1024, file),
            log_path,
            position: 0,
            index_interval_bytes,
            bytes_since_last_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            offsets: Vec::new(),
            times: Vec::new(),
            abort_markers: Vec::new(),
        })
    }

    fn time_entry_if_increased(&self) -> Option<TimeEntry> {
        let last = self.times.last().map_or(-1, |t| t.timestamp);
        (self.max_timestamp > last && self.max_timestamp >= 0).then(|| TimeEntry {
            timestamp: self.max_timestamp,
            relative_offset: (self.offset_of_max_timestamp - self.base) as i32,
        })
    }

    /// Appends one batch, indexing it as `Segment::append` would.
    fn write(&mut self, batch: &[u8], h: &BatchHeader) -> Result<(), LogError> {
        self.log.write_all(batch).at(&self.log_path)?;
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        if self.bytes_since_last_entry > u64::from(self.index_interval_bytes) {
            self.offsets.push(OffsetEntry {
                relative_offset: (h.last_offset() - self.base) as i32,
                position: self.position as i32,
            });
            self.times.extend(self.time_entry_if_increased());
            self.bytes_since_last_entry = 0;
        }
        self.bytes_since_last_entry += batch.len() as u64;
        self.position += batch.len() as u64;
        Ok(())
    }

    /// Writes the indexes (with the final time entry a sealed segment has) and fsyncs all.
    fn finish(mut self, aborted: &[AbortedTxn]) -> Result<u64, LogError> {
        self.times.extend(self.time_entry_if_increased());
        let file = self
            .log
            .into_inner()
            .map_err(|e| LogError::io(&self.log_path, e.into_error()))?;
        file.sync_all().at(&self.log_path)?;
        let mut offsets = IndexFile::create(cleaned_path(&self.dir, self.base, "index"))?;
        offsets.replace(self.offsets)?;
        offsets.flush()?;
        let mut times = IndexFile::create(cleaned_path(&self.dir, self.base, "timeindex"))?;
        times.replace(self.times)?;
        times.flush()?;
        let txn_path = cleaned_path(&self.dir, self.base, "txnindex");
        File::create(&txn_path).at(&txn_path)?;
        let mut txn = TxnIndex::open(txn_path)?;
        for entry in aborted {
            if self.abort_markers.binary_search(&entry.last_offset).is_ok() {
                txn.append(*entry)?;
            }
        }
        let txn_path = txn.path().to_path_buf();
        File::open(&txn_path)
            .and_then(|f| f.sync_all())
            .at(&txn_path)?;
        Ok(self.position)
    }
}

/// Everything one pass over the groups shares.
pub(crate) struct Pass<'a> {
    pub dir: &'a Path,
    pub index_interval_bytes: u32,
    pub delete_retention_ms: i64,
    pub now_ms: i64,
    pub map: &'a OffsetMap,
    /// The map covers offsets below this; records from here on are kept.
    pub map_end: i64,
    pub tracker: TxnTracker,
    pub producers: HashMap<i64, ProducerLast>,
    pub aborted: Vec<AbortedTxn>,
    pub throttle: &'a mut Throttler,
    pub stop: &'a AtomicBool,
    /// Largest delete horizon left in the output (tombstones or markers waiting for it).
    pub max_horizon: Option<i64>,
}

impl Pass<'_> {
    /// Cleans `group` into `.cleaned` files. `None` if asked to stop (the files are removed).
    pub(crate) fn clean_group(
        &mut self,
        group: &[SourceSegment],
    ) -> Result<Option<CleanedGroup>, LogError> {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            return Ok(None);
        };
        let mut out = CleanedWriter::create(self.dir, first.base, self.index_interval_bytes)?;
        let mut bytes_in = 0;
        for seg in group {
            let mut reader = BatchReader::open(seg)?;
            while let Some((h, batch)) = reader.next()? {
                if self.stop.load(Ordering::Relaxed) {
                    drop(out);
                    remove_cleaned(self.dir, first.base)?;
                    return Ok(None);
                }
                bytes_in += batch.len() as u64;
                self.throttle.throttle(batch.len() as u64);
                if let Some(kept) = self.filter_batch(&h, batch) {
                    let kept_h = BatchHeader::parse(&kept)?;
                    if kept_h.is_control() && control_type(&kept) == Some(ControlType::Abort) {
                        out.abort_markers.push(kept_h.base_offset);
                    }
                    out.write(&kept, &kept_h)?;
                }
            }
        }
        let bytes_out = out.finish(&self.aborted)?;
        Ok(Some(CleanedGroup {
            base: first.base,
            next_base: last.next_base,
            sources: group.iter().map(|s| (s.base, s.size)).collect(),
            bytes_in,
            bytes_out,
        }))
    }

    /// What is left of one batch: the bytes to write, or `None` to drop it.
    fn filter_batch(&mut self, h: &BatchHeader, batch: Vec<u8>) -> Option<Vec<u8>> {
        let control = if h.is_control() {
            control_type(&batch)
        } else {
            None
        };
        let horizon = delete_horizon(h);
        let decision = self
            .tracker
            .decide(h, control, horizon, &self.producers, self.now_ms);
        if decision.retention == BatchRetention::Delete {
            return None;
        }
        let new_horizon = self.now_ms.saturating_add(self.delete_retention_ms);
        let decoded = match record_set::decode(&batch) {
            Ok(d) => d,
            Err(e) => {
                // Keep what cannot be read: losing data is worse than keeping stale records.
                tracing::warn!(offset = h.base_offset, error = %e, "cleaner keeps a batch it cannot decode");
                return Some(batch);
            }
        };
        let keep: Vec<_> = if decision.discard_records {
            Vec::new()
        } else if h.is_control() {
            decoded.records.iter().collect()
        } else {
            decoded
                .records
                .iter()
                .filter(|r| retain_record(&decoded, r, self.map, self.map_end, self.now_ms))
                .collect()
        };
        if keep.is_empty() && decision.retention != BatchRetention::RetainEmpty {
            return None;
        }
        let waits_for_horizon =
            decision.marker_for_empty_txn || keep.iter().any(|r| r.value.is_none());
        let set_horizon = waits_for_horizon && horizon.is_none() && !keep.is_empty();
        if waits_for_horizon && !keep.is_empty() {
            let h = horizon.unwrap_or(new_horizon);
            self.max_horizon = Some(self.max_horizon.map_or(h, |m| m.max(h)));
        }
        if keep.len() == decoded.records.len() && !set_horizon {
            return Some(batch);
        }
        match record_set::rebuild(&decoded, &keep, set_horizon.then_some(new_horizon)) {
            Ok(rebuilt) => Some(rebuilt),
            Err(e) => {
                tracing::warn!(offset = h.base_offset, error = %e, "cleaner keeps a batch it cannot rebuild");
                Some(batch)
            }
        }
    }
}

/// Removes the `.cleaned` files of the group at `base`, if any.
pub(crate) fn remove_cleaned(dir: &Path, base: i64) -> Result<(), LogError> {
    for ext in SEGMENT_EXTS {
        super::super::checkpoint::remove_if_exists(&cleaned_path(dir, base, ext))?;
    }
    Ok(())
}
