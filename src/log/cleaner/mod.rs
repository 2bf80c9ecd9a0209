//! Log compaction: the cleaner of `cleanup.policy=compact` logs, Kafka's way.
//!
//! A compacted log has a clean head (already compacted, below the cleaner checkpoint) and a
//! dirty tail. A pass:
//!
//! 1. `Log::plan_clean` (read access, brief): the cleanable range is `[first dirty offset,
//!    first uncleanable offset)`, where the latter is the lowest of the active segment's base
//!    (the active segment is never cleaned), the first unstable offset (open transactions) and
//!    the base of the first segment newer than `min.compaction.lag.ms`. The plan copies what
//!    the pass needs: the sealed segments' paths and sizes, aborted transactions, the last
//!    batch of each producer.
//! 2. `CleanPlan::run` (no lock: sealed segments never change, and are read on their own file
//!    handles): builds the offset map (key hash -> last offset) over the dirty range, stopping
//!    early if the map (bounded by `log.cleaner.dedupe.buffer.size`) is full; then rewrites the
//!    segments below the map's end, in groups of at most `segment.bytes`, into `.cleaned` files
//!    (`rewrite`, with the rules of `filter`), all I/O under the `log.cleaner.io.max.bytes.per.
//!    second` limit.
//! 3. `Log::apply_clean` (write access, brief): swaps each group in crash-safely (`swap`) and
//!    records the map's end in `cleaner-offset-checkpoint`.
//!
//! Offsets never change: a cleaned batch keeps its base and last offset. Which log to clean is
//! the caller's choice (`Log::cleanable_stats`: the dirtiest above `min.cleanable.dirty.ratio`,
//! or one past `max.compaction.lag.ms`, or one whose tombstones' delete horizon has passed).
//!
//! Checkpoint file `cleaner-offset-checkpoint`, one per partition directory (Kafka keeps one
//! per log directory listing every partition): the checkpoint format of `checkpoint.rs`.

mod filter;
mod offset_map;
mod rewrite;
mod swap;
mod throttle;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) use swap::complete_swaps;
pub use throttle::Throttler;

use super::checkpoint;
use super::error::LogError;
use super::record_set;
use super::txn_index::AbortedTxn;
use super::Log;
use filter::{ProducerLast, TxnTracker};
use offset_map::OffsetMap;
use rewrite::{BatchReader, CleanedGroup, Pass, SourceSegment};

pub(crate) const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// Broker-wide cleaner settings.
#[derive(Debug, Clone)]
pub struct CleanerConfig {
    /// `log.cleaner.dedupe.buffer.size`: memory of the offset map.
    pub dedupe_buffer_size: usize,
}

/// What the cleaner needs at hand for a pass.
pub struct CleanerEnv<'a> {
    pub config: &'a CleanerConfig,
    pub throttle: &'a mut Throttler,
    /// Set to abandon a pass (shutdown); checked between batches.
    pub stop: &'a AtomicBool,
}

/// How much a compacted log needs cleaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanableStats {
    /// Dirty bytes / (clean + dirty bytes) of the cleanable part.
    pub dirty_ratio: f64,
    pub dirty_bytes: u64,
    /// Cleanable now whatever the ratio: past max.compaction.lag.ms, or tombstones due.
    pub must_clean: bool,
    /// Above `min.cleanable.dirty.ratio`, or `must_clean`.
    pub ready: bool,
}

/// A pass prepared under the log's lock, run without it.
pub struct CleanPlan {
    dir: PathBuf,
    index_interval_bytes: u32,
    segment_bytes: u64,
    delete_retention_ms: i64,
    now_ms: i64,
    first_dirty: i64,
    uncleanable: i64,
    dirty_bytes: u64,
    /// Sealed segments from the first, up to the first uncleanable offset.
    segments: Vec<SourceSegment>,
    aborted: Vec<AbortedTxn>,
    producers: HashMap<i64, ProducerLast>,
}

/// A finished run, to be applied with `Log::apply_clean`.
pub struct CleanOutcome {
    groups: Vec<CleanedGroup>,
    map_end: i64,
    max_horizon: Option<i64>,
    keys: usize,
}

/// What a pass did, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanSummary {
    pub segments: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub keys: usize,
    pub cleaned_to: i64,
}

impl Log {
    /// `[first dirty, first uncleanable)` and the clean and dirty byte counts.
    fn cleanable_range(&self, now_ms: i64) -> (i64, i64, u64, u64) {
        let first_dirty = if self.cleaner_checkpoint < self.log_start_offset
            || self.cleaner_checkpoint > self.log_end_offset
        {
            self.log_start_offset
        } else {
            self.cleaner_checkpoint
        };
        let mut uncleanable = self.active.base_offset;
        if let Some(fuo) = self.first_unstable_offset() {
            uncleanable = uncleanable.min(fuo);
        }
        let (mut clean, mut dirty) = (0, 0);
        let next_bases = self
            .sealed
            .keys()
            .skip(1)
            .copied()
            .chain(std::iter::once(self.active.base_offset));
        for ((base, seg), next) in self.sealed.iter().zip(next_bases) {
            if next <= first_dirty {
                clean += seg.size();
                continue;
            }
            let lag = self.config.min_compaction_lag_ms;
            if lag > 0 && now_ms.saturating_sub(seg.retention_timestamp()) < lag {
                uncleanable = uncleanable.min(*base);
            }
            if *base >= uncleanable {
                break;
            }
            dirty += seg.size();
        }
        (first_dirty, uncleanable.max(first_dirty), clean, dirty)
    }

    /// How dirty this log is; `None` unless its policy includes compact.
    pub fn cleanable_stats(&self, now_ms: i64) -> Option<CleanableStats> {
        if !self.config.cleanup_compact {
            return None;
        }
        let (first_dirty, _, clean, dirty) = self.cleanable_range(now_ms);
        let total = clean + dirty;
        let dirty_ratio = if total == 0 {
            0.0
        } else {
            dirty as f64 / total as f64
        };
        let max_lag = self.config.max_compaction_lag_ms;
        let overdue = dirty > 0
            && max_lag < i64::MAX
            && self
                .segments_from(first_dirty)
                .next()
                .and_then(|seg| seg.header_at(0).ok().flatten())
                .is_some_and(|h| now_ms.saturating_sub(h.max_timestamp) > max_lag);
        let tombstones_due = total > 0 && self.delete_horizon_due.is_some_and(|h| h <= now_ms);
        let must_clean = overdue || tombstones_due;
        Some(CleanableStats {
            dirty_ratio,
            dirty_bytes: dirty,
            must_clean,
            ready: must_clean || (dirty > 0 && dirty_ratio > self.config.min_cleanable_dirty_ratio),
        })
    }

    /// Prepares a pass (see the module docs); `None` if there is nothing to clean.
    pub fn plan_clean(&self, now_ms: i64) -> Option<CleanPlan> {
        if !self.config.cleanup_compact {
            return None;
        }
        let (first_dirty, uncleanable, clean, dirty_bytes) = self.cleanable_range(now_ms);
        if clean + dirty_bytes == 0 {
            return None;
        }
        let next_bases = self
            .sealed
            .keys()
            .skip(1)
            .copied()
            .chain(std::iter::once(self.active.base_offset));
        let segments = self
            .sealed
            .iter()
            .zip(next_bases)
            .take_while(|((base, _), _)| **base < uncleanable)
            .map(|((base, seg), next_base)| SourceSegment {
                base: *base,
                next_base,
                size: seg.size(),
                path: seg.log_path().to_path_buf(),
            })
            .collect();
        let aborted = self
            .segments()
            .flat_map(|s| s.aborted_txns().iter().copied())
            .collect();
        let producers = self
            .producers
            .producers()
            .map(|(pid, e)| {
                let last = ProducerLast {
                    last_data_offset: e.batches.back().map(|b| b.last_offset),
                    producer_epoch: e.producer_epoch,
                };
                (pid, last)
            })
            .collect();
        Some(CleanPlan {
            dir: self.dir.clone(),
            index_interval_bytes: self.config.index_interval_bytes,
            segment_bytes: self.config.segment_bytes,
            delete_retention_ms: self.config.delete_retention_ms,
            now_ms,
            first_dirty,
            uncleanable,
            dirty_bytes,
            segments,
            aborted,
            producers,
        })
    }

    /// Swaps the cleaned groups in and advances the cleaner checkpoint.
    pub fn apply_clean(&mut self, outcome: CleanOutcome) -> Result<CleanSummary, LogError> {
        let mut summary = CleanSummary {
            keys: outcome.keys,
            cleaned_to: self.cleaner_checkpoint,
            ..CleanSummary::default()
        };
        let mut complete = true;
        for group in &outcome.groups {
            if complete && self.swap_group(group)? {
                summary.segments += group.sources.len();
                summary.bytes_in += group.bytes_in;
                summary.bytes_out += group.bytes_out;
            } else {
                complete = false;
                rewrite::remove_cleaned(&self.dir, group.base)?;
            }
        }
        if complete {
            self.set_cleaner_checkpoint(outcome.map_end)?;
            summary.cleaned_to = outcome.map_end;
            self.delete_horizon_due = outcome.max_horizon;
        }
        Ok(summary)
    }

    /// A whole pass with exclusive access (tests, and callers that need no concurrency).
    pub fn clean(
        &mut self,
        now_ms: i64,
        env: &mut CleanerEnv,
    ) -> Result<Option<CleanSummary>, LogError> {
        let Some(plan) = self.plan_clean(now_ms) else {
            return Ok(None);
        };
        match plan.run(env)? {
            Some(outcome) => self.apply_clean(outcome).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn set_cleaner_checkpoint(&mut self, offset: i64) -> Result<(), LogError> {
        if offset != self.cleaner_checkpoint {
            checkpoint::write_offset(&self.dir, CLEANER_CHECKPOINT_FILE, offset)?;
            self.cleaner_checkpoint = offset;
        }
        Ok(())
    }
}

impl CleanPlan {
    /// Builds the offset map and writes the `.cleaned` groups. `None` if stopped or if there
    /// is nothing the map could cover.
    pub fn run(self, env: &mut CleanerEnv) -> Result<Option<CleanOutcome>, LogError> {
        let expected_keys = (self.dirty_bytes / 8) as usize;
        let mut map = OffsetMap::new(env.config.dedupe_buffer_size, expected_keys);
        let Some(map_end) = self.build_map(&mut map, env)? else {
            return Ok(None);
        };
        let mut pass = Pass {
            dir: &self.dir,
            index_interval_bytes: self.index_interval_bytes,
            delete_retention_ms: self.delete_retention_ms,
            now_ms: self.now_ms,
            map: &map,
            map_end,
            tracker: TxnTracker::new(self.aborted.clone()),
            producers: self.producers.clone(),
            aborted: self.aborted.clone(),
            throttle: env.throttle,
            stop: env.stop,
            max_horizon: None,
        };
        let mut groups = Vec::new();
        for group in group_by_size(&self.segments, map_end, self.segment_bytes) {
            match pass.clean_group(group)? {
                Some(done) => groups.push(done),
                None => {
                    for done in &groups {
                        rewrite::remove_cleaned(&self.dir, done.base)?;
                    }
                    return Ok(None);
                }
            }
        }
        Ok(Some(CleanOutcome {
            groups,
            map_end,
            max_horizon: pass.max_horizon,
            keys: map.len(),
        }))
    }

    /// Maps the keys of `[first_dirty, uncleanable)`; returns the end of what was mapped.
    fn build_map(
        &self,
        map: &mut OffsetMap,
        env: &mut CleanerEnv,
    ) -> Result<Option<i64>, LogError> {
        // Only aborts whose marker is in the dirty range matter here: an older marker was
        // passed before `first_dirty`, and keeping its producer "aborting" would leave all of
        // that producer's later committed data out of the map (Kafka collects the aborted
        // transactions from the first dirty offset on, too).
        let aborted = self
            .aborted
            .iter()
            .filter(|a| a.last_offset >= self.first_dirty)
            .copied()
            .collect();
        let mut tracker = TxnTracker::new(aborted);
        let dirty = self
            .segments
            .iter()
            .filter(|s| s.next_base > self.first_dirty && s.base < self.uncleanable);
        for seg in dirty {
            let mut reader = BatchReader::open(seg)?;
            while let Some((h, batch)) = reader.next()? {
                if env.stop.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                env.throttle.throttle(batch.len() as u64);
                if h.base_offset >= self.uncleanable {
                    break;
                }
                if h.last_offset() < self.first_dirty {
                    continue;
                }
                if h.is_control() {
                    tracker.end_txn(&h);
                    continue;
                }
                if tracker.is_aborted_data(&h) {
                    continue;
                }
                if !map.has_room_for(h.records_count as usize) {
                    if h.base_offset <= self.first_dirty {
                        tracing::warn!(dir = %self.dir.display(), "log.cleaner.dedupe.buffer.size is too small for one batch; not cleaning");
                        return Ok(None);
                    }
                    return Ok(Some(h.base_offset));
                }
                let Ok(decoded) = record_set::decode(&batch) else {
                    continue;
                };
                for r in &decoded.records {
                    let offset = h.base_offset + i64::from(r.offset_delta);
                    if let (true, Some(key)) = (offset >= self.first_dirty, decoded.key(r)) {
                        map.put(key, offset);
                    }
                }
            }
        }
        Ok(Some(self.uncleanable))
    }
}

/// Consecutive segments below `map_end`, grouped so each group's input fits one segment.
fn group_by_size(
    segments: &[SourceSegment],
    map_end: i64,
    max_bytes: u64,
) -> Vec<&[SourceSegment]> {
    let cleanable = segments.iter().take_while(|s| s.base < map_end).count();
    let segments = &segments[..cleanable];
    let mut groups = Vec::new();
    let mut start = 0;
    while start < segments.len() {
        let mut end = start + 1;
        let mut size = segments[start].size;
        while end < segments.len()
            && size + segments[end].size <= max_bytes
            && segments[end].next_base - segments[start].base <= i64::from(i32::MAX)
        {
            size += segments[end].size;
            end += 1;
        }
        groups.push(&segments[start..end]);
        start = end;
    }
    groups
}
