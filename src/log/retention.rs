//! Removing data: DeleteRecords, retention, truncation, close and delete; and forgetting
//! idle producers (`producer.id.expiration.ms`).
//!
//! Whole segments are removed by renaming their files to `*.deleted` and unlinking them after
//! `file.delete.delay.ms` (a crash in between is harmless: the loader removes `*.deleted`).
//! The active segment is never removed by retention. log_start_offset only moves forward here
//! (except `truncate_to` below it, which restarts the log) and is persisted in
//! `log-start-offset-checkpoint` whenever it changes.

use std::path::PathBuf;

use super::checkpoint;
use super::error::{IoContext, LogError};
use super::producer_state::ProducerStateManager;
use super::segment::Segment;
use super::Log;

impl Log {
    /// DeleteRecords: raises log_start_offset to `offset` and drops the segments entirely below
    /// it. Returns the new log_start_offset (unchanged if `offset` is not above it).
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        if offset > self.log_end_offset || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        if offset > self.log_start_offset {
            self.set_log_start_offset(offset)?;
            let now = self.last_now_ms;
            while self.next_base_after_first().is_some_and(|n| n <= offset) {
                self.remove_oldest_sealed(now)?;
            }
        }
        Ok(self.log_start_offset)
    }

    /// Forgets the producers idle for `expiration_ms` with no open transaction in this
    /// partition (see `producer_state`); returns how many. The next snapshot leaves them out.
    pub fn remove_expired_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.remove_expired(now_ms, expiration_ms)
    }

    /// Applies retention.ms (by each segment's newest timestamp) and retention.bytes to the
    /// sealed segments, oldest first, when cleanup.policy includes delete. Returns how many
    /// segments were deleted.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        self.last_now_ms = self.last_now_ms.max(now_ms);
        let mut deleted = 0;
        let delete = self.config.cleanup_delete;
        if delete && self.config.retention_ms >= 0 {
            while let Some((_, seg)) = self.sealed.first_key_value() {
                if now_ms.saturating_sub(seg.retention_timestamp()) <= self.config.retention_ms {
                    break;
                }
                self.remove_oldest_sealed(now_ms)?;
                deleted += 1;
            }
        }
        if delete && self.config.retention_bytes >= 0 {
            let mut excess = self.size_in_bytes() as i64 - self.config.retention_bytes;
            while let Some((_, seg)) = self.sealed.first_key_value() {
                if excess < seg.size() as i64 {
                    break;
                }
                excess -= seg.size() as i64;
                self.remove_oldest_sealed(now_ms)?;
                deleted += 1;
            }
        }
        let first_base = self.segments().next().map_or(0, |s| s.base_offset);
        if first_base > self.log_start_offset {
            self.set_log_start_offset(first_base)?;
        }
        self.remove_expired_files(now_ms)?;
        Ok(deleted)
    }

    /// Removes everything at and after `offset` (follower truncation). Cuts at a batch
    /// boundary: the batch containing `offset` goes too, so log_end_offset may end up below
    /// `offset`. Below log_start_offset the log restarts empty at `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        if offset >= self.log_end_offset {
            // An epoch may have been assigned at the log end without data after it (Kafka
            // truncates the cache here too).
            return self.leader_epochs.truncate_from_end(self.log_end_offset);
        }
        let now = self.last_now_ms;
        if offset < self.log_start_offset {
            self.restart_empty_at(offset)?;
        } else {
            while self.active.base_offset > offset {
                let Some((_, prev)) = self.sealed.pop_last() else {
                    break;
                };
                let mut old = std::mem::replace(&mut self.active, prev);
                self.schedule_delete(old.rename_for_delete()?, now)?;
            }
            let cut = self.active.find_batch(offset)?.map(|(p, _)| p);
            if let Some(position) = cut {
                self.active.truncate_bytes(position)?;
            }
            let outcome = self.active.recover(self.config.index_interval_bytes)?;
            if let Some(reason) = outcome.invalid {
                return Err(self.active.corrupt(outcome.valid_bytes, reason));
            }
            self.log_end_offset = self.active.next_offset();
            self.leader_epochs.truncate_from_end(self.log_end_offset)?;
        }
        self.after_truncation()
    }

    /// Drops the whole log and starts it empty at `offset`, which may lie beyond the log end: a
    /// follower whose leader no longer holds the offsets it needs (deleted by retention) starts
    /// again at the leader's log start (Kafka's truncateFullyAndStartAt).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        self.restart_empty_at(offset)?;
        self.after_truncation()
    }

    fn restart_empty_at(&mut self, offset: i64) -> Result<(), LogError> {
        let now = self.last_now_ms;
        self.leader_epochs.clear()?;
        while !self.sealed.is_empty() {
            self.remove_oldest_sealed(now)?;
        }
        // Rename first: the fresh segment may reuse the old one's file names.
        let renamed = self.active.rename_for_delete()?;
        self.active = Segment::create(&self.dir, offset.max(0))?;
        self.schedule_delete(renamed, now)?;
        self.log_end_offset = self.active.base_offset;
        self.set_log_start_offset(self.log_end_offset)?;
        if self.recovery_point() < self.log_end_offset {
            // Nothing below the new start is left to recover.
            self.write_recovery_point(self.log_end_offset)?;
        }
        Ok(())
    }

    /// What every truncation ends with: the cut made durable, checkpoints no further than the
    /// log end, producer state rebuilt from what is left.
    /// A background flush planned before the truncation advances nothing (`flush.rs`).
    fn after_truncation(&mut self) -> Result<(), LogError> {
        self.durability.truncating();
        self.rolled = None;
        self.active.flush()?;
        checkpoint::sync_dir(&self.dir)?;
        if self.recovery_point() > self.log_end_offset {
            self.write_recovery_point(self.log_end_offset)?;
        }
        if self.cleaner_checkpoint > self.log_end_offset {
            self.set_cleaner_checkpoint(self.log_end_offset)?;
        }
        // Under the files lock: a flush already past its generation check finishes writing its
        // snapshot first, and the rebuild then deletes it if it lies above the new log end.
        let durability = std::sync::Arc::clone(&self.durability);
        let _files = durability.lock_files();
        self.rebuild_producer_state()
    }

    /// Clean shutdown: flush, snapshot producer state, leave the clean-shutdown marker.
    pub fn close(mut self) -> Result<(), LogError> {
        // Its indexes are then complete: the next open trusts them (`open_last_after_clean_close`).
        self.active.append_final_time_entry();
        self.flush()?;
        self.producers
            .write_snapshot(&self.dir, self.log_end_offset)?;
        self.remove_expired_files(i64::MAX)?;
        checkpoint::write_atomically(&self.dir, checkpoint::CLEAN_SHUTDOWN_FILE, b"")
    }

    /// Removes the partition directory and everything in it.
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        drop(self);
        std::fs::remove_dir_all(&dir).at(&dir)
    }

    /// Unlinks `*.deleted` files whose delay has passed.
    pub(super) fn remove_expired_files(&mut self, now_ms: i64) -> Result<(), LogError> {
        let mut keep = Vec::new();
        for (path, due) in std::mem::take(&mut self.pending_deletes) {
            if due <= now_ms {
                checkpoint::remove_if_exists(&path)?;
            } else {
                keep.push((path, due));
            }
        }
        self.pending_deletes = keep;
        Ok(())
    }

    fn set_log_start_offset(&mut self, offset: i64) -> Result<(), LogError> {
        checkpoint::write_offset(&self.dir, checkpoint::LOG_START_OFFSET_FILE, offset)?;
        self.log_start_offset = offset;
        self.leader_epochs.truncate_from_start(offset)?;
        Ok(())
    }

    /// Base offset of the segment after the oldest sealed one, if there is a sealed one.
    fn next_base_after_first(&self) -> Option<i64> {
        let mut bases = self.sealed.keys().skip(1);
        self.sealed
            .first_key_value()
            .map(|_| bases.next().copied().unwrap_or(self.active.base_offset))
    }

    fn remove_oldest_sealed(&mut self, now_ms: i64) -> Result<(), LogError> {
        if let Some((_, mut seg)) = self.sealed.pop_first() {
            tracing::info!(segment = %seg.log_path().display(), "deleting log segment");
            self.schedule_delete(seg.rename_for_delete()?, now_ms)?;
        }
        let first_base = self.segments().next().map_or(0, |s| s.base_offset);
        if first_base > self.log_start_offset {
            self.set_log_start_offset(first_base)?;
        }
        Ok(())
    }

    pub(super) fn schedule_delete(
        &mut self,
        paths: Vec<PathBuf>,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let due = now_ms.saturating_add(self.config.file_delete_delay_ms);
        self.pending_deletes
            .extend(paths.into_iter().map(|p| (p, due)));
        self.remove_expired_files(now_ms)
    }

    /// Reloads producer state: newest snapshot at or below log_end_offset, then the batches
    /// after it replayed from the log.
    pub(super) fn rebuild_producer_state(&mut self) -> Result<(), LogError> {
        let first_base = self.segments().next().map_or(0, |s| s.base_offset);
        let (from, state) =
            match ProducerStateManager::load_snapshot(&self.dir, self.log_end_offset)? {
                Some((offset, state)) => (offset.max(first_base), state),
                None => (first_base, ProducerStateManager::default()),
            };
        let mut producers = state;
        let bases: Vec<i64> = self.segments_from(from).map(|s| s.base_offset).collect();
        for base in bases {
            let seg = self.segment_mut(base);
            // Aborts from `from` on are rebuilt from the markers in the log.
            seg.truncate_aborted_txns(from)?;
            let mut aborted = Vec::new();
            seg.for_each_batch_from(from, |h, control| {
                aborted.extend(producers.replay(h, control));
            })?;
            for entry in aborted {
                seg.add_aborted_txn(entry)?;
            }
        }
        self.producers = producers;
        Ok(())
    }
}
