//! One log segment: `<base>.log` plus its `.index` and `.timeindex` (see `index.rs`).
//!
//! File names are the 20-digit zero-padded base offset. The `.log` holds v2 record batches exactly
//! as on the wire, offsets increasing, the first batch at or after the base offset. Relative
//! offsets and positions must fit in i32 (the index format), which the log enforces by rolling.
//!
//! Appends write at `size` with positional writes, so a failed write can be cut back to the last
//! good size; reads are positional too, so a `&Segment` can be read while no one writes.
//!
//! Descriptors: only a segment being written to holds one, for its `.log` (`segment_file.rs`).
//! Index entries live in memory and reach their files at seal, flush and clean close
//! (`index.rs`); the `.txnindex` is opened for each write (`txn_index.rs`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::batch::{BatchHeader, BATCH_HEADER_SIZE};
use super::builder::ControlType;
use super::error::{IoContext, LogError};
use super::index::{self, IndexFile, OffsetEntry, TimeEntry};
use super::read::FileSlice;
use super::scan::{Scanned, SegmentScanner};
use super::segment_file::SegmentFile;
use super::txn_index::{AbortedTxn, TxnIndex};

pub(crate) fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

/// Where a recovery scan stopped.
pub(crate) struct RecoverOutcome {
    pub valid_bytes: u64,
    /// Why the bytes after `valid_bytes` are not valid batches (None: the whole file is valid).
    pub invalid: Option<String>,
}

pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    /// The `.log`; its handle is shared with fetch reads in flight (`FileSlice`), which outlive
    /// the partition lock.
    log: SegmentFile,
    size: u64,
    offset_index: IndexFile<OffsetEntry>,
    time_index: IndexFile<TimeEntry>,
    /// Next offset after the last batch. Exact for scanned segments (always the active one).
    next_offset: i64,
    /// Largest batch max_timestamp and the last offset of the first batch reaching it (-1: none).
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// When the first batch was appended: segment.ms counts from here. After a restart the first
    /// batch's max_timestamp stands in, as the append time is not stored.
    rolling_base_ms: Option<i64>,
    bytes_since_last_index_entry: u64,
    /// Transactions aborted by markers in this segment (`.txnindex`).
    txn_index: TxnIndex,
}

impl Segment {
    /// A new, empty segment (the files are created or emptied).
    pub(crate) fn create(dir: &Path, base_offset: i64) -> Result<Segment, LogError> {
        let log = SegmentFile::create(dir.join(file_name(base_offset, "log")))?;
        Ok(Segment {
            base_offset,
            log,
            size: 0,
            offset_index: IndexFile::create(dir.join(file_name(base_offset, "index")))?,
            time_index: IndexFile::create(dir.join(file_name(base_offset, "timeindex")))?,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            rolling_base_ms: None,
            bytes_since_last_index_entry: 0,
            txn_index: TxnIndex::create(dir.join(file_name(base_offset, "txnindex")))?,
        })
    }

    /// Opens an existing segment. With `next_base` (the following segment's base) it tries the
    /// index files and returns `true` if they pass the sanity checks; otherwise (or for the last
    /// segment) the indexes are emptied and the caller must `recover()`. No descriptor is held
    /// afterwards: the first read or append opens one.
    pub(crate) fn open(
        dir: &Path,
        base_offset: i64,
        next_base: Option<i64>,
    ) -> Result<(Segment, bool), LogError> {
        let files = SegmentFiles::open(dir, base_offset)?;
        let loaded = match next_base {
            Some(next) => files.load_indexes(base_offset, next - base_offset)?,
            None => None,
        };
        let SegmentFiles {
            log_path,
            size,
            index_path,
            time_path,
            ..
        } = files;
        let trusted = loaded.is_some();
        let (offset_index, time_index) = match loaded {
            Some((o, t)) => (
                IndexFile::open_with(index_path, o),
                IndexFile::open_with(time_path, t),
            ),
            None => (
                IndexFile::create(index_path)?,
                IndexFile::create(time_path)?,
            ),
        };
        let (max_timestamp, offset_of_max_timestamp) = time_index.last().map_or((-1, -1), |t| {
            (t.timestamp, base_offset + i64::from(t.relative_offset))
        });
        let seg = Segment {
            base_offset,
            log: SegmentFile::existing(log_path),
            size,
            offset_index,
            time_index,
            next_offset: next_base.unwrap_or(base_offset),
            max_timestamp,
            offset_of_max_timestamp,
            rolling_base_ms: None,
            bytes_since_last_index_entry: 0,
            txn_index: TxnIndex::open(dir.join(file_name(base_offset, "txnindex")))?,
        };
        Ok((seg, trusted))
    }

    /// Opens the last segment of a cleanly closed log without scanning it, as Kafka does when
    /// its clean-shutdown marker is present: the indexes written at close are trusted after
    /// the same sanity checks as a sealed segment's, and only the batch headers after the last
    /// offset index entry are read, to find the log end. `None` when anything does not fit
    /// (missing or implausible indexes, a tail that does not end exactly at the file's end):
    /// the caller then opens and scans it as after a crash.
    pub(crate) fn open_last_after_clean_close(
        dir: &Path,
        base_offset: i64,
    ) -> Result<Option<Segment>, LogError> {
        let files = SegmentFiles::open(dir, base_offset)?;
        let Some((offsets, times)) = files.load_indexes(base_offset, i64::from(i32::MAX) + 1)?
        else {
            return Ok(None);
        };
        let SegmentFiles {
            log,
            log_path,
            size,
            index_path,
            time_path,
        } = files;
        let (mut max_timestamp, mut offset_of_max_timestamp) = times.last().map_or((-1, -1), |t| {
            (t.timestamp, base_offset + i64::from(t.relative_offset))
        });
        let from = offsets.last().map_or(0, |o| o.position as u64);
        let mut position = from;
        let mut next_offset = base_offset;
        while position < size {
            let Ok(Some(h)) = read_header(&log, &log_path, size, position) else {
                return Ok(None);
            };
            if h.base_offset < next_offset || position + h.size_in_bytes() as u64 > size {
                return Ok(None);
            }
            if h.max_timestamp > max_timestamp {
                max_timestamp = h.max_timestamp;
                offset_of_max_timestamp = h.last_offset();
            }
            next_offset = h.last_offset() + 1;
            position += h.size_in_bytes() as u64;
        }
        let rolling_base_ms = match read_header(&log, &log_path, size, 0) {
            Ok(Some(first)) => Some(first.max_timestamp),
            Ok(None) => None,
            Err(_) => return Ok(None),
        };
        drop(log);
        Ok(Some(Segment {
            base_offset,
            log: SegmentFile::existing(log_path),
            size,
            offset_index: IndexFile::open_with(index_path, offsets),
            time_index: IndexFile::open_with(time_path, times),
            next_offset,
            max_timestamp,
            offset_of_max_timestamp,
            rolling_base_ms,
            bytes_since_last_index_entry: size - from,
            txn_index: TxnIndex::open(dir.join(file_name(base_offset, "txnindex")))?,
        }))
    }

    /// Scans the whole `.log`, validating every batch, and rebuilds both indexes from the valid
    /// prefix. Does not cut anything: the caller decides what invalid bytes mean.
    pub(crate) fn recover(
        &mut self,
        index_interval_bytes: u32,
    ) -> Result<RecoverOutcome, LogError> {
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.rolling_base_ms = None;
        self.bytes_since_last_index_entry = 0;
        let (mut offsets, mut times) = (Vec::new(), Vec::new());
        let log_path = self.log_path().to_path_buf();
        let mut scanner = SegmentScanner::open(&log_path, 0)?;
        let outcome = loop {
            let (position, header) = match scanner.next_batch()? {
                Scanned::End => {
                    break RecoverOutcome {
                        valid_bytes: self.size,
                        invalid: None,
                    }
                }
                Scanned::Invalid { position, reason } => {
                    break RecoverOutcome {
                        valid_bytes: position,
                        invalid: Some(reason.to_string()),
                    }
                }
                Scanned::Batch {
                    position, header, ..
                } => (position, header),
            };
            if header.base_offset < self.next_offset
                || header.last_offset() - self.base_offset > i64::from(i32::MAX)
            {
                break RecoverOutcome {
                    valid_bytes: position,
                    invalid: Some(format!(
                        "batch offsets {}..={} do not follow {}",
                        header.base_offset,
                        header.last_offset(),
                        self.next_offset
                    )),
                };
            }
            self.rolling_base_ms.get_or_insert(header.max_timestamp);
            if let Some((o, t)) = self.track_batch(position, &header, index_interval_bytes) {
                offsets.push(o);
                times.extend(t);
            }
        };
        self.offset_index.replace(offsets)?;
        self.time_index.replace(times)?;
        Ok(outcome)
    }

    /// Bookkeeping for one batch at `position`: max timestamp, next offset and, every
    /// `index_interval_bytes`, the index entries to add (Kafka's placement rule).
    fn track_batch(
        &mut self,
        position: u64,
        h: &BatchHeader,
        index_interval_bytes: u32,
    ) -> Option<(OffsetEntry, Option<TimeEntry>)> {
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        self.next_offset = h.last_offset() + 1;
        let mut entries = None;
        if self.bytes_since_last_index_entry > u64::from(index_interval_bytes) {
            let o = OffsetEntry {
                relative_offset: (h.last_offset() - self.base_offset) as i32,
                position: position as i32,
            };
            entries = Some((o, self.time_entry_if_increased()));
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += h.size_in_bytes() as u64;
        entries
    }

    fn time_entry_if_increased(&self) -> Option<TimeEntry> {
        let last = self.time_index.last().map_or(-1, |t| t.timestamp);
        (self.max_timestamp > last && self.max_timestamp >= 0).then(|| TimeEntry {
            timestamp: self.max_timestamp,
            relative_offset: (self.offset_of_max_timestamp - self.base_offset) as i32,
        })
    }

    /// Adds the segment's max timestamp to the time index if it is not its last entry yet: at
    /// seal, and at a clean close, so that a later load reads the max timestamp from there.
    pub(crate) fn append_final_time_entry(&mut self) {
        if let Some(t) = self.time_entry_if_increased() {
            self.time_index.append(t);
        }
    }

    /// Cuts the `.log` to `size` bytes (recovery of a torn tail, truncation).
    pub(crate) fn truncate_bytes(&mut self, size: u64) -> Result<(), LogError> {
        let path = self.log_path().to_path_buf();
        self.log.writable()?.set_len(size).at(&path)?;
        self.size = size;
        Ok(())
    }

    /// Appends already validated batches (`data`, with each batch's header and offset within
    /// `data`, final offsets assigned) and indexes them.
    pub(crate) fn append(
        &mut self,
        data: &[u8],
        batches: &[(BatchHeader, usize)],
        index_interval_bytes: u32,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let file = self.log.writable()?;
        if let Err(e) = file.write_all_at(data, self.size) {
            // Leave no partial batch behind for the next append to follow.
            let _ = file.set_len(self.size);
            return Err(LogError::io(self.log.path(), e));
        }
        let start = self.size;
        self.size += data.len() as u64;
        self.rolling_base_ms.get_or_insert(now_ms);
        // Index entries go to memory; their files are written at seal, flush and close.
        for (h, at) in batches {
            if let Some((o, t)) = self.track_batch(start + *at as u64, h, index_interval_bytes) {
                self.offset_index.append(o);
                if let Some(t) = t {
                    self.time_index.append(t);
                }
            }
        }
        Ok(())
    }

    /// Header of the batch at `position`; `None` at or past the end of the data.
    pub(crate) fn header_at(&self, position: u64) -> Result<Option<BatchHeader>, LogError> {
        if position + BATCH_HEADER_SIZE as u64 > self.size {
            return Ok(None);
        }
        read_header(&*self.log.get()?, self.log.path(), self.size, position)
    }

    /// A handle on the `.log` for reading. Holding it across a series of reads of a segment
    /// that holds no descriptor (a sealed one) makes them share one open file.
    pub(crate) fn reader(&self) -> Result<std::sync::Arc<File>, LogError> {
        self.log.get()
    }

    /// Position and header of the first batch whose last offset is >= `offset`.
    pub(crate) fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let rel = (offset - self.base_offset).clamp(0, i64::from(i32::MAX)) as i32;
        self.scan_from(self.offset_index.lookup(rel), |h| h.last_offset() >= offset)
    }

    /// Position and header of the first batch whose base offset is >= `offset`.
    pub(crate) fn first_batch_from(
        &self,
        offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let rel = (offset - 1 - self.base_offset).clamp(-1, i64::from(i32::MAX)) as i32;
        self.scan_from(self.offset_index.lookup(rel), |h| h.base_offset >= offset)
    }

    /// The last indexed batch start at or before `position` (0 if none): a place to resume a
    /// header walk that must end at `position`.
    pub(crate) fn indexed_position_at_or_before(&self, position: u64) -> u64 {
        self.offset_index.floor_position(position)
    }

    /// `len` bytes of the data from `position`, as a region of the file.
    pub(crate) fn slice(&self, position: u64, len: usize) -> Result<FileSlice, LogError> {
        Ok(FileSlice {
            file: self.log.get()?,
            path: self.log.path().to_path_buf(),
            position,
            len,
        })
    }

    /// Scans headers from `position` for the first batch satisfying `pred`.
    pub(crate) fn scan_from(
        &self,
        mut position: u64,
        pred: impl Fn(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let _shared = self.reader()?;
        while let Some(h) = self.header_at(position)? {
            if pred(&h) {
                return Ok(Some((position, h)));
            }
            position += h.size_in_bytes() as u64;
        }
        Ok(None)
    }

    /// Calls `f` with every batch whose base offset is >= `from`, CRC-checked, and the marker
    /// type of control batches (state rebuilds).
    pub(crate) fn for_each_batch_from(
        &self,
        from: i64,
        mut f: impl FnMut(&BatchHeader, Option<ControlType>),
    ) -> Result<(), LogError> {
        let start = if from <= self.base_offset {
            0
        } else {
            let rel = (from - self.base_offset).min(i64::from(i32::MAX)) as i32;
            self.offset_index.lookup(rel)
        };
        let mut scanner = SegmentScanner::open(self.log.path(), start)?;
        loop {
            match scanner.next_batch()? {
                Scanned::End => return Ok(()),
                Scanned::Batch {
                    header, control, ..
                } if header.base_offset >= from => f(&header, control),
                Scanned::Batch { .. } => {}
                Scanned::Invalid { position, reason } => {
                    return Err(self.corrupt(position, reason.to_string()))
                }
            }
        }
    }

    /// Position to start a scan for the first batch with max_timestamp >= `target_ms`.
    pub(crate) fn time_lookup_position(&self, target_ms: i64) -> u64 {
        match self.time_index.lookup(target_ms) {
            Some(rel) => self.offset_index.lookup(rel),
            None => 0,
        }
    }

    pub(crate) fn read_bytes(&self, position: u64, len: usize) -> Result<Vec<u8>, LogError> {
        let mut buf = vec![0u8; len];
        self.log
            .get()?
            .read_exact_at(&mut buf, position)
            .at(self.log.path())?;
        Ok(buf)
    }

    pub(crate) fn corrupt(&self, position: u64, reason: String) -> LogError {
        LogError::Corrupt {
            path: self.log.path().to_path_buf(),
            position,
            reason,
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }
    pub(crate) fn log_path(&self) -> &Path {
        self.log.path()
    }
    pub(crate) fn rolling_base_ms(&self) -> Option<i64> {
        self.rolling_base_ms
    }
    /// (max timestamp, offset) of the segment, None if it has no timestamped batch.
    pub(crate) fn max_timestamp(&self) -> Option<(i64, i64)> {
        (self.max_timestamp >= 0).then_some((self.offset_of_max_timestamp, self.max_timestamp))
    }
    /// Timestamp retention.ms compares against: the max timestamp, else the file's mtime.
    pub(crate) fn retention_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            return self.max_timestamp;
        }
        std::fs::metadata(self.log.path())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(-1, |d| d.as_millis() as i64)
    }
    /// Whether one more index position or relative offset would overflow i32.
    pub(crate) fn would_overflow(&self, extra_bytes: usize, last_offset: i64) -> bool {
        self.size + extra_bytes as u64 > i32::MAX as u64
            || last_offset - self.base_offset > i64::from(i32::MAX)
    }

    /// A second handle on the `.log`, so that it can be fsynced without the log's lock.
    pub(crate) fn log_file_handle(&self) -> Result<File, LogError> {
        self.log.get()?.try_clone().at(self.log.path())
    }

    /// Writes the index entries not yet in their files (no fsync).
    pub(crate) fn write_indexes(&mut self) -> Result<(), LogError> {
        self.offset_index.write(false)?;
        self.time_index.write(false)
    }

    /// fsync the `.log` and what was written of the indexes; writes nothing, so it may run
    /// outside the write path (e.g. for a sealed segment).
    pub(crate) fn sync(&self) -> Result<(), LogError> {
        self.log.get()?.sync_data().at(self.log.path())?;
        self.offset_index.sync_written()?;
        self.time_index.sync_written()?;
        self.txn_index.sync()
    }

    /// Writes the pending index entries, then fsyncs the `.log` and the indexes.
    pub(crate) fn flush(&mut self) -> Result<(), LogError> {
        self.log.get()?.sync_data().at(self.log.path())?;
        self.offset_index.flush()?;
        self.time_index.flush()?;
        self.txn_index.flush()
    }

    /// Transactions aborted by markers in this segment, in marker order.
    pub(crate) fn aborted_txns(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }

    pub(crate) fn add_aborted_txn(&mut self, entry: AbortedTxn) -> Result<(), LogError> {
        self.txn_index.append(entry)
    }

    /// Forgets aborted transactions whose markers are at or after `offset` (before a replay).
    pub(crate) fn truncate_aborted_txns(&mut self, offset: i64) -> Result<(), LogError> {
        self.txn_index.truncate_from(offset)
    }

    /// Called when a newer segment takes over: the time index's last entry must hold the
    /// segment's max timestamp, because that is what a later load reads it from. The index
    /// entries are written to their files, not fsynced: the log's background flush fsyncs them
    /// by name with the `.log` (`flush.rs`) before the recovery point may pass the segment. The
    /// segment stops holding its descriptor: reads of a sealed segment open the file on demand.
    pub(crate) fn seal(&mut self) -> Result<(), LogError> {
        self.append_final_time_entry();
        self.write_indexes()?;
        self.log.release();
        Ok(())
    }

    /// The segment's files, for an fsync by name (the `.txnindex` only if it exists).
    pub(crate) fn file_paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![
            self.log.path().to_path_buf(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
        ];
        if !self.txn_index.entries().is_empty() {
            paths.push(self.txn_index.path().to_path_buf());
        }
        paths
    }

    /// Whether the segment holds a descriptor at rest (tests).
    #[cfg(test)]
    pub(crate) fn holds_descriptor(&self) -> bool {
        self.log.holds_descriptor()
    }

    /// The index entries in memory (tests).
    #[cfg(test)]
    pub(crate) fn index_entries(&self) -> (&[OffsetEntry], &[TimeEntry]) {
        (self.offset_index.entries(), self.time_index.entries())
    }

    /// Renames the segment's files to `*.deleted`; returns the new paths for later removal.
    pub(crate) fn rename_for_delete(&mut self) -> Result<Vec<PathBuf>, LogError> {
        let mut out = Vec::with_capacity(4);
        for path in [
            self.log.path().to_path_buf(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
            self.txn_index.path().to_path_buf(),
        ] {
            let mut name = path.clone().into_os_string();
            name.push(".deleted");
            let target = PathBuf::from(name);
            match std::fs::rename(&path, &target) {
                Ok(()) => out.push(target),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(&path, e)),
            }
        }
        Ok(out)
    }
}

fn read_header(
    log: &File,
    log_path: &Path,
    size: u64,
    position: u64,
) -> Result<Option<BatchHeader>, LogError> {
    if position + BATCH_HEADER_SIZE as u64 > size {
        return Ok(None);
    }
    let mut head = [0u8; BATCH_HEADER_SIZE];
    log.read_exact_at(&mut head, position).at(log_path)?;
    BatchHeader::parse(&head)
        .map(Some)
        .map_err(|e| LogError::Corrupt {
            path: log_path.to_path_buf(),
            position,
            reason: e.to_string(),
        })
}

type LoadedIndexes = (Vec<OffsetEntry>, Vec<TimeEntry>);

/// An existing segment's `.log`, opened for reading, and the paths of its indexes.
struct SegmentFiles {
    log: File,
    log_path: PathBuf,
    size: u64,
    index_path: PathBuf,
    time_path: PathBuf,
}

impl SegmentFiles {
    fn open(dir: &Path, base_offset: i64) -> Result<SegmentFiles, LogError> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let log = File::open(&log_path).at(&log_path)?;
        let size = log.metadata().at(&log_path)?.len();
        Ok(SegmentFiles {
            log,
            log_path,
            size,
            index_path: dir.join(file_name(base_offset, "index")),
            time_path: dir.join(file_name(base_offset, "timeindex")),
        })
    }

    /// The indexes, if they pass the sanity checks for relative offsets below `max_rel`.
    fn load_indexes(
        &self,
        base_offset: i64,
        max_rel: i64,
    ) -> Result<Option<LoadedIndexes>, LogError> {
        load_indexes(
            &self.log,
            &self.log_path,
            self.size,
            base_offset,
            &self.index_path,
            &self.time_path,
            max_rel,
        )
    }
}

/// Reads and sanity-checks a closed segment's indexes; `None` means "rebuild them".
fn load_indexes(
    log: &File,
    log_path: &Path,
    size: u64,
    base_offset: i64,
    index_path: &Path,
    time_path: &Path,
    max_rel: i64,
) -> Result<Option<LoadedIndexes>, LogError> {
    let (Some(offsets), Some(times)) = (
        IndexFile::<OffsetEntry>::read_entries(index_path)?,
        IndexFile::<TimeEntry>::read_entries(time_path)?,
    ) else {
        return Ok(None);
    };
    // A sealed non-empty segment always ends its time index with its max timestamp (see
    // `seal`), unless no batch carried a timestamp; an empty file there most likely was lost.
    if !index::offset_entries_sane(&offsets, size, max_rel)
        || !index::time_entries_sane(&times, max_rel)
        || (size > 0 && times.is_empty())
    {
        return Ok(None);
    }
    // The last offset entry must point at the batch it names; catches plausible garbage.
    if let Some(last) = offsets.last() {
        let target = base_offset + i64::from(last.relative_offset);
        match read_header(log, log_path, size, last.position as u64) {
            Ok(Some(h)) if h.base_offset <= target && target <= h.last_offset() => {}
            _ => return Ok(None),
        }
    }
    Ok(Some((offsets, times)))
}
