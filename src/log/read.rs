//! The read path: Fetch reads and ListOffsets lookups. All take `&self`.
//!
//! A fetch returns whole batches, starting with the batch that contains the fetch offset (the
//! client skips the records before it). The offset index gives a position at most
//! `index.interval.bytes` before that batch; batch headers are scanned from there. Where the
//! read ends is found the same way: the limit's batch (high watermark or LSO) through the index,
//! and the budget's last whole batch by a header walk from the last index entry before it. So a
//! read touches a few headers whatever its size, and yields file regions ([`SliceRead`]): Fetch
//! sends large ones with sendfile after the lock is released, everything else reads them.
//!
//! Limitations: ListOffsets by timestamp finds the exact record only in uncompressed batches
//! (the log never decompresses); in a compressed batch it answers the batch's first offset. The
//! MAX_TIMESTAMP lookup is batch-granular: the last offset of the batch holding the maximum.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use super::batch::BatchHeader;
use super::error::{IoContext, LogError};
use super::records::find_record_by_timestamp;
use super::segment::Segment;
use super::txn_index::AbortedTxn;
use super::{Log, ProducerEntry};

/// Whole batches of one segment, as a region of its file.
#[derive(Debug, Clone)]
pub struct FileSlice {
    pub file: Arc<File>,
    pub path: PathBuf,
    pub position: u64,
    pub len: usize,
}

impl FileSlice {
    /// Reads the region into memory.
    pub fn read(&self) -> Result<Bytes, LogError> {
        let mut buf = vec![0u8; self.len];
        self.file
            .read_exact_at(&mut buf, self.position)
            .at(&self.path)?;
        Ok(Bytes::from(buf))
    }
}

/// A fetch read as file regions, in log order.
#[derive(Debug, Clone)]
pub struct SliceRead {
    pub slices: Vec<FileSlice>,
    /// Total bytes of the slices.
    pub len: usize,
    /// The offset after the last batch read (the fetch offset when nothing was read).
    pub next_offset: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

impl SliceRead {
    /// All slices read into one buffer.
    pub fn read_all(&self) -> Result<Bytes, LogError> {
        match self.slices.as_slice() {
            [] => Ok(Bytes::new()),
            [one] => one.read(),
            all => {
                let mut out = Vec::with_capacity(self.len);
                for s in all {
                    out.extend_from_slice(&s.read()?);
                }
                Ok(Bytes::from(out))
            }
        }
    }
}

/// Result of a fetch read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadInfo {
    /// Whole batches, concatenated as on disk; empty when nothing qualifies.
    pub records: Bytes,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// Why a segment's contribution to a read ended.
enum Stop {
    /// Reached the end of the segment with room left: continue in the next one.
    SegmentEnd,
    /// max_bytes or max_offset reached: the read is complete.
    Done,
}

impl Log {
    /// Reads whole batches from the one containing `fetch_offset`, up to `max_bytes` (the first
    /// batch always if `min_one_batch`), stopping before batches whose base offset is at or
    /// above `max_offset` (e.g. the high watermark).
    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        max_offset: Option<i64>,
    ) -> Result<ReadInfo, LogError> {
        let slices = self.read_slices(fetch_offset, max_bytes, min_one_batch, max_offset)?;
        Ok(ReadInfo {
            records: slices.read_all()?,
            log_start_offset: slices.log_start_offset,
            log_end_offset: slices.log_end_offset,
        })
    }

    /// What [`Log::read`] returns, as file regions not yet read: Fetch sends them from the
    /// files, so only batch headers near the end of each region are read here.
    pub fn read_slices(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        max_offset: Option<i64>,
    ) -> Result<SliceRead, LogError> {
        if fetch_offset < self.log_start_offset || fetch_offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset: fetch_offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let limit = max_offset.unwrap_or(i64::MAX);
        let mut read = SliceRead {
            slices: Vec::new(),
            len: 0,
            next_offset: fetch_offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        };
        if fetch_offset < self.log_end_offset {
            for seg in self.segments_from(fetch_offset) {
                // One open file for this segment's header reads and its slice, shared with
                // other readers (a sealed segment holds no descriptor of its own).
                let _shared = seg.reader()?;
                let start = if seg.base_offset >= fetch_offset {
                    seg.header_at(0)?.map(|h| (0, h))
                } else {
                    seg.find_batch(fetch_offset)?
                };
                let Some((position, first)) = start else {
                    continue;
                };
                let budget = max_bytes.saturating_sub(read.len) as u64;
                let first_needed = min_one_batch && read.len == 0;
                let span = segment_span(seg, position, &first, budget, first_needed, limit)?;
                if span.len > 0 {
                    read.slices.push(seg.slice(position, span.len as usize)?);
                    read.len += span.len as usize;
                    read.next_offset = span.next_offset;
                }
                if matches!(span.stop, Stop::Done) {
                    break;
                }
            }
        }
        Ok(read)
    }

    /// First offset of the oldest open transaction; the last stable offset cannot pass it.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers.first_unstable_offset()
    }

    /// Aborted transactions a read_committed consumer must know about to read `[from, upper)`:
    /// those whose marker is at or after `from` and whose first offset is below `upper`.
    /// Markers after `from` live in the segment holding `from` or later ones.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        let mut out = Vec::new();
        for seg in self.segments_from(from) {
            let mut done = false;
            for entry in seg.aborted_txns() {
                if entry.last_offset >= from && entry.first_offset < upper {
                    out.push(*entry);
                }
                // Once the LSO passed `upper`, no later abort can start below it.
                done |= entry.last_stable_offset >= upper;
            }
            if done {
                break;
            }
        }
        out
    }

    /// Every producer with state in this partition (DescribeProducers).
    pub fn producers(&self) -> Vec<(i64, ProducerEntry)> {
        self.producers
            .producers()
            .map(|(pid, e)| (pid, e.clone()))
            .collect()
    }

    /// ListOffsets by timestamp: the first offset at or above log_start_offset whose record
    /// timestamp is >= `target_ms`, with that timestamp. `None` if no record qualifies.
    pub fn offset_for_timestamp(&self, target_ms: i64) -> Result<Option<(i64, i64)>, LogError> {
        let lso = self.log_start_offset;
        for seg in self.segments() {
            if seg.max_timestamp().is_none_or(|(_, ts)| ts < target_ms) {
                continue;
            }
            let from = seg.time_lookup_position(target_ms);
            let found = seg.scan_from(from, |h| {
                h.max_timestamp >= target_ms && h.last_offset() >= lso
            })?;
            if let Some((position, h)) = found {
                return Ok(Some(locate_record(seg, position, &h, target_ms, lso)?));
            }
        }
        Ok(None)
    }

    /// ListOffsets v0: every segment as (base offset, `.log` path, bytes), oldest first, with the
    /// log start and end offsets taken under the same lock. The caller reads the files' mtimes
    /// after releasing the lock (see `legacy_offsets_before`).
    pub fn segment_files(&self) -> LegacySegments {
        LegacySegments {
            segments: self
                .segments()
                .map(|s| (s.base_offset, s.log_path().to_path_buf(), s.size()))
                .collect(),
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset(),
        }
    }

    /// ListOffsets MAX_TIMESTAMP: (offset, timestamp) of the batch with the largest timestamp
    /// (its last offset; the earliest such batch on ties).
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.segments().filter_map(Segment::max_timestamp).fold(
            None,
            |best: Option<(i64, i64)>, cur| match best {
                Some(b) if b.1 >= cur.1 => Some(b),
                _ => Some(cur),
            },
        )
    }
}

/// The whole batches a read takes from one segment, starting with `first` at `position`.
struct Span {
    len: u64,
    /// The offset after the span's last batch.
    next_offset: i64,
    stop: Stop,
}

/// Finds where a read of at most `budget` bytes from `position` ends: at the end of the data,
/// before the first batch at or above `limit`, or after the last whole batch within the budget.
/// Only headers are read: the limit's batch via the offset index, and the batches between the
/// last index entry before the budget's end and that end.
fn segment_span(
    seg: &Segment,
    position: u64,
    first: &BatchHeader,
    budget: u64,
    first_needed: bool,
    limit: i64,
) -> Result<Span, LogError> {
    let nothing = Span {
        len: 0,
        next_offset: first.base_offset,
        stop: Stop::Done,
    };
    if first.base_offset >= limit {
        return Ok(nothing);
    }
    let first_size = first.size_in_bytes() as u64;
    if first_size > budget {
        return Ok(if first_needed {
            Span {
                len: first_size,
                next_offset: first.last_offset() + 1,
                stop: Stop::Done,
            }
        } else {
            nothing
        });
    }
    let mut end = Span {
        len: seg.size() - position,
        next_offset: seg.next_offset(),
        stop: Stop::SegmentEnd,
    };
    if limit < seg.next_offset() {
        if let Some((at, h)) = seg.first_batch_from(limit)? {
            end = Span {
                len: at - position,
                next_offset: h.base_offset,
                stop: Stop::Done,
            };
        }
    }
    if budget >= end.len {
        return Ok(end);
    }
    // The budget ends inside the span: stop after the last batch that fits.
    let target = position + budget;
    let mut at = seg.indexed_position_at_or_before(target).max(position);
    while let Some(h) = seg.header_at(at)? {
        let next = at + h.size_in_bytes() as u64;
        if next > target {
            return Ok(Span {
                len: at - position,
                next_offset: h.base_offset,
                stop: Stop::Done,
            });
        }
        at = next;
    }
    Err(seg.corrupt(at, "batch headers end before the segment's size".into()))
}

/// The exact record in an uncompressed CreateTime batch; the batch's first offset otherwise.
fn locate_record(
    seg: &Segment,
    position: u64,
    h: &BatchHeader,
    target_ms: i64,
    lso: i64,
) -> Result<(i64, i64), LogError> {
    if h.compression() == 0 && !h.is_log_append_time() {
        let bytes = seg.read_bytes(position, h.size_in_bytes())?;
        if let Some(found) = find_record_by_timestamp(&bytes, h, target_ms, lso) {
            return Ok(found);
        }
    }
    Ok((h.base_offset.max(lso), h.max_timestamp))
}

/// A log's segments as ListOffsets v0 sees them ([`Log::segment_files`]).
#[derive(Debug, Clone)]
pub struct LegacySegments {
    pub segments: Vec<(i64, PathBuf, u64)>,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

impl LegacySegments {
    /// Kafka's ListOffsets v0 answer (3.9's `UnifiedLog.legacyFetchOffsetsBefore`): a list of
    /// segment start offsets (each at least the log start offset) with the `.log` file's mtime,
    /// plus (log end offset, `now_ms`) when the active segment holds data. LATEST starts at the
    /// last entry, EARLIEST at the first, any other timestamp at the last entry whose mtime is at
    /// or before it. From there up to `max` offsets going back, newest first. `mtime` gives a
    /// file's mtime in ms (0 when unknown, as Java's `File.lastModified`). At most one entry
    /// per segment plus one: the answer never grows with `max`.
    pub fn offsets_before(
        &self,
        timestamp: i64,
        max: usize,
        now_ms: i64,
        mtime: impl Fn(&std::path::Path) -> i64,
    ) -> Vec<i64> {
        let mut entries: Vec<(i64, i64)> = self
            .segments
            .iter()
            .map(|(base, path, _)| ((*base).max(self.log_start_offset), mtime(path)))
            .collect();
        if self.segments.last().is_some_and(|(_, _, size)| *size > 0) {
            entries.push((self.log_end_offset, now_ms));
        }
        // One past the entry to start from (0: none).
        let start = match timestamp {
            -1 => entries.len(),
            -2 => entries.len().min(1),
            target => entries
                .iter()
                .rposition(|(_, ts)| *ts <= target)
                .map_or(0, |i| i + 1),
        };
        let mut offsets: Vec<i64> = entries[..start]
            .iter()
            .rev()
            .take(max)
            .map(|(offset, _)| *offset)
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
    }
}

#[cfg(test)]
mod legacy_offsets_tests {
    use super::LegacySegments;
    use std::path::{Path, PathBuf};

    /// Three segments at 0, 10 and 20 (mtimes 100, 200, 300 by name), log start 5, end 25.
    fn log(active_size: u64) -> LegacySegments {
        LegacySegments {
            segments: vec![
                (0, PathBuf::from("100"), 10),
                (10, PathBuf::from("200"), 10),
                (20, PathBuf::from("300"), active_size),
            ],
            log_start_offset: 5,
            log_end_offset: 25,
        }
    }

    fn mtime(p: &Path) -> i64 {
        p.to_str().unwrap().parse().unwrap()
    }

    #[test]
    fn latest_and_earliest_as_kafka_3_9() {
        let l = log(7);
        assert_eq!(l.offsets_before(-1, 1, 1000, mtime), vec![25]);
        assert_eq!(l.offsets_before(-1, 10, 1000, mtime), vec![25, 20, 10, 5]);
        assert_eq!(l.offsets_before(-2, 10, 1000, mtime), vec![5]);
        assert_eq!(l.offsets_before(-1, 0, 1000, mtime), Vec::<i64>::new());
        // An empty active segment adds no log-end entry.
        assert_eq!(log(0).offsets_before(-1, 10, 1000, mtime), vec![20, 10, 5]);
    }

    #[test]
    fn a_timestamp_picks_the_last_segment_modified_at_or_before_it() {
        let l = log(7);
        assert_eq!(l.offsets_before(250, 10, 1000, mtime), vec![10, 5]);
        assert_eq!(l.offsets_before(200, 1, 1000, mtime), vec![10]);
        assert_eq!(l.offsets_before(99, 10, 1000, mtime), Vec::<i64>::new());
        assert_eq!(l.offsets_before(5000, 2, 1000, mtime), vec![25, 20]);
        // A huge count allocates nothing beyond the segments.
        assert_eq!(l.offsets_before(-1, usize::MAX, 1000, mtime).len(), 4);
    }
}
