//! The read path: Fetch reads and ListOffsets lookups. All take `&self`.
//!
//! A fetch returns whole batches, starting with the batch that contains the fetch offset (the
//! client skips the records before it). The offset index gives a position at most
//! `index.interval.bytes` before that batch; batch headers are scanned from there. The data is
//! then read with one positional read per segment touched and the batch boundaries are walked
//! in memory, so a read costs a few syscalls whatever the batch sizes.
//!
//! Limitations: ListOffsets by timestamp finds the exact record only in uncompressed batches
//! (the log never decompresses); in a compressed batch it answers the batch's first offset. The
//! MAX_TIMESTAMP lookup is batch-granular: the last offset of the batch holding the maximum.

use bytes::Bytes;

use super::batch::{BatchHeader, BATCH_HEADER_SIZE};
use super::error::LogError;
use super::records::find_record_by_timestamp;
use super::segment::Segment;
use super::txn_index::AbortedTxn;
use super::{Log, ProducerEntry};

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
        if fetch_offset < self.log_start_offset || fetch_offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset: fetch_offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let limit = max_offset.unwrap_or(i64::MAX);
        let mut out: Vec<u8> = Vec::new();
        if fetch_offset < self.log_end_offset {
            for seg in self.segments_from(fetch_offset) {
                let start = if seg.base_offset >= fetch_offset {
                    seg.header_at(0)?.map(|h| (0, h))
                } else {
                    seg.find_batch(fetch_offset)?
                };
                let Some((position, first)) = start else {
                    continue;
                };
                let stop = read_segment(
                    seg,
                    position,
                    &first,
                    &mut out,
                    max_bytes,
                    min_one_batch,
                    limit,
                )?;
                if matches!(stop, Stop::Done) {
                    break;
                }
            }
        }
        Ok(ReadInfo {
            records: Bytes::from(out),
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        })
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

/// Appends to `out` the batches of `seg` from `position` that fit. `first` is the header there.
fn read_segment(
    seg: &Segment,
    position: u64,
    first: &BatchHeader,
    out: &mut Vec<u8>,
    max_bytes: usize,
    min_one_batch: bool,
    limit: i64,
) -> Result<Stop, LogError> {
    if first.base_offset >= limit {
        return Ok(Stop::Done);
    }
    let in_segment = (seg.size() - position) as usize;
    let budget = max_bytes.saturating_sub(out.len());
    let first_size = first.size_in_bytes();
    if first_size > budget {
        if out.is_empty() && min_one_batch {
            out.extend_from_slice(&seg.read_bytes(position, first_size)?);
        }
        return Ok(Stop::Done);
    }
    let chunk_len = budget.min(in_segment);
    let chunk = seg.read_bytes(position, chunk_len)?;
    let mut used = 0;
    let mut stop = if chunk_len == in_segment {
        Stop::SegmentEnd
    } else {
        Stop::Done
    };
    while used < chunk.len() {
        let h = match BatchHeader::parse(&chunk[used..]) {
            Ok(h) => h,
            // Less than a header left: the budget ended inside a batch.
            Err(_) if chunk.len() - used < BATCH_HEADER_SIZE => {
                stop = Stop::Done;
                break;
            }
            Err(e) => return Err(seg.corrupt(position + used as u64, e.to_string())),
        };
        if h.base_offset >= limit || used + h.size_in_bytes() > chunk.len() {
            stop = Stop::Done;
            break;
        }
        used += h.size_in_bytes();
    }
    if out.is_empty() {
        *out = chunk;
        out.truncate(used);
    } else {
        out.extend_from_slice(&chunk[..used]);
    }
    Ok(stop)
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
