//! Partitions: a partition is its log, its leader epoch and its high watermark.
//!
//! With one broker the in-sync replica set is {self}, so the high watermark is the log end
//! offset, or with `milena.flush.on.ack` the end of what is fsynced. Replication will change who
//! moves the high watermark, not what reads it.
//!
//! Fsync before acknowledging is a group commit: appends take the write lock only to write; the
//! fsync happens outside it on a second file handle, under a separate flush lock. Whoever holds
//! the flush lock syncs everything appended so far, so producers that queued behind it find
//! their data already durable and return without an fsync of their own.
//!
//! One writer per log (invariant 2): appends take the log's write lock; reads take its read lock
//! and use positional reads, so fetches run side by side. No lock is held across an `.await`.

pub mod cleaner;
pub mod manager;
pub mod replica;
pub mod replication;
#[cfg(test)]
mod replication_tests;
pub mod wakeup;

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use uuid::Uuid;

use crate::log::builder::ControlType;
use crate::log::cleaner::{CleanSummary, CleanableStats, CleanerEnv};
use crate::log::{
    AbortedTxn, AppendInfo, AppendOrigin, EpochEndOffset, Log, LogConfig, LogError, ProducerEntry,
    ReadInfo, SliceRead,
};

pub use manager::ReplicaManager;
pub use replica::{IsrChange, Role};

pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    pub topic_id: Uuid,
    /// The leader epoch the controller gave this partition; always 0 on a single node. Batches
    /// appended here are stamped with it.
    leader_epoch: AtomicI32,
    log: RwLock<Log>,
    /// Offsets below this are readable by consumers (committed).
    high_watermark: AtomicI64,
    /// Offsets below this are readable by read_committed consumers: the high watermark, or the
    /// first offset of the oldest open transaction if that is lower.
    last_stable_offset: AtomicI64,
    /// Mirrors of the log's bounds so that Metadata, ListOffsets and Fetch read them lock-free.
    log_start_offset: AtomicI64,
    log_end_offset: AtomicI64,
    /// Requests parked on this partition (long-poll Fetch, writes waiting for replication),
    /// woken when its log end, high watermark, last stable offset, role or leader epoch changes.
    waiters: Arc<wakeup::Waiters>,
    /// `milena.flush.on.ack`: acknowledge and expose only fsynced data.
    flush_on_ack: bool,
    /// Offsets below this are fsynced (meaningful with `flush_on_ack`).
    flushed_offset: AtomicI64,
    /// Serialises the group-commit fsyncs.
    flush_lock: std::sync::Mutex<()>,
    /// Leader or follower, and as leader the followers' progress and the ISR (`replica.rs`).
    /// Taken after the log lock when both are held, never before it.
    role: Mutex<Role>,
    /// As follower: the leader's high watermark in its last fetch answer.
    leader_high_watermark: AtomicI64,
    /// `min.insync.replicas` of the topic.
    min_insync_replicas: AtomicI32,
    /// Bytes and messages in and out as leader, summed per topic by `/metrics`.
    pub counters: crate::metrics::PartitionCounters,
}

impl Partition {
    pub fn new(topic: Arc<str>, index: i32, topic_id: Uuid, log: Log, flush_on_ack: bool) -> Self {
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        let stable = log.first_unstable_offset().unwrap_or(end).min(end);
        Self {
            topic,
            index,
            topic_id,
            leader_epoch: AtomicI32::new(0),
            log: RwLock::new(log),
            high_watermark: AtomicI64::new(end),
            last_stable_offset: AtomicI64::new(stable),
            log_start_offset: AtomicI64::new(start),
            log_end_offset: AtomicI64::new(end),
            waiters: Arc::default(),
            flush_on_ack,
            // What the log holds at open is what recovery kept: treat it as durable.
            flushed_offset: AtomicI64::new(end),
            flush_lock: std::sync::Mutex::new(()),
            role: Mutex::new(Role::Leader(replica::LeaderState::new(
                -1,
                &crate::metadata::PartitionState::local(-1),
                end,
                0,
            ))),
            leader_high_watermark: AtomicI64::new(0),
            min_insync_replicas: AtomicI32::new(1),
            counters: Default::default(),
        }
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    /// Set from the metadata image when the controller moves leadership.
    pub fn set_leader_epoch(&self, epoch: i32) {
        self.leader_epoch.store(epoch, Ordering::Release);
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn last_stable_offset(&self) -> i64 {
        self.last_stable_offset.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset.load(Ordering::Acquire)
    }

    /// The log's write lock. Released, it hands a roll's fsyncs to a background flush.
    fn write_log(&self) -> LogWriteGuard<'_> {
        LogWriteGuard(Some(self.log.write().unwrap_or_else(|p| p.into_inner())))
    }

    fn read_log(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        self.log.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a producer's batches as leader. With `flush_on_ack` it returns only once they are
    /// fsynced (group commit, see the module docs): call it off the async workers then.
    pub fn append(&self, records: Bytes, now_ms: i64) -> Result<AppendInfo, LogError> {
        self.append_from(records, now_ms, AppendOrigin::Client)
    }

    /// `append` on behalf of `origin` (the coordinators' own writes).
    pub fn append_from(
        &self,
        records: Bytes,
        now_ms: i64,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        let bytes = records.len();
        self.after_append(bytes, now_ms, |log| {
            log.append_from(records, self.leader_epoch(), now_ms, origin)
        })
    }

    /// Writes a transaction marker for `producer_id` (see `Log::append_txn_marker`).
    pub fn append_txn_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        control: ControlType,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.after_append(crate::log::BATCH_HEADER_SIZE * 2, now_ms, |log| {
            log.append_txn_marker(
                producer_id,
                producer_epoch,
                control,
                coordinator_epoch,
                self.leader_epoch(),
                now_ms,
            )
        })
    }

    /// Runs an append under the write lock, publishes the new bounds and, with
    /// `flush_on_ack`, waits until the appended data is fsynced.
    fn after_append(
        &self,
        bytes: usize,
        now_ms: i64,
        append: impl FnOnce(&mut Log) -> Result<AppendInfo, LogError>,
    ) -> Result<AppendInfo, LogError> {
        // A roll creates the next segment's file, a flush fsyncs: not on an async worker while
        // holding the log's lock, where it would stall every task of that worker.
        let may_block = self.read_log().may_block(bytes, now_ms);
        let append_locked = || {
            let mut log = self.write_log();
            // Checked under the log lock, which a change of role takes too.
            if !matches!(*self.lock_role(), Role::Leader(_)) {
                return Err(LogError::NotLeader);
            }
            let info = append(&mut log)?;
            self.publish(&log);
            Ok(info)
        };
        let info = if may_block {
            crate::cluster::off_async_workers(append_locked)?
        } else {
            append_locked()?
        };
        if self.flush_on_ack {
            // A duplicate waits too: its original may still be in someone else's flush window.
            self.flush_through(info.last_offset + 1)?;
        }
        Ok(info)
    }

    /// Makes offsets below `offset` durable, fsyncing only if nobody already did.
    fn flush_through(&self, offset: i64) -> Result<(), LogError> {
        let _turn = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.flushed_offset.load(Ordering::Acquire) >= offset {
            return Ok(());
        }
        // Taken now, after waiting our turn: covers every append that queued up meanwhile.
        let flushed = self.flushed_offset.load(Ordering::Acquire);
        let (files, end, dir) = {
            let log = self.read_log();
            let (files, end) = log.sync_target(flushed)?;
            (files, end, log.dir().to_path_buf())
        };
        let io = |source| LogError::Io {
            path: format!("{}-{} active segment", self.topic, self.index).into(),
            source,
        };
        for file in &files {
            file.sync_data().map_err(io)?;
        }
        if files.len() > 1 {
            // A roll since the last flush: the new segment's directory entry too.
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        self.flushed_offset.fetch_max(end, Ordering::AcqRel);
        let log = self.read_log();
        self.publish(&log);
        Ok(())
    }

    fn publish(&self, log: &Log) {
        self.log_start_offset
            .store(log.log_start_offset(), Ordering::Release);
        let end = log.log_end_offset();
        let previous_end = self.log_end_offset.swap(end, Ordering::AcqRel);
        let mut visible = if self.flush_on_ack {
            end.min(self.flushed_offset.load(Ordering::Acquire))
        } else {
            end
        };
        // Replication bounds it: the ISR's progress on a leader, the leader's word on a follower.
        let min_isr = self.min_insync_replicas.load(Ordering::Acquire);
        visible = visible.min(match &*self.lock_role() {
            Role::Leader(l) => l.strict_high_watermark_bound(end, min_isr),
            Role::Follower { .. } => self.leader_high_watermark.load(Ordering::Acquire),
        });
        let previous = self.high_watermark.fetch_max(visible, Ordering::AcqRel);
        let hw = previous.max(visible);
        let stable = log.first_unstable_offset().map_or(hw, |f| f.min(hw));
        // Both only move forward (but for truncation): a transaction opens at or above the
        // high watermark.
        let previous_stable = self.last_stable_offset.fetch_max(stable, Ordering::AcqRel);
        // Log end growth wakes followers' long polls; high watermark growth consumers' and
        // acks=all producers'.
        if previous < visible || previous_stable < stable || previous_end != end {
            self.waiters.wake();
        }
    }

    /// Wakes the requests parked on this partition, to look at it again (deletion, shutdown).
    pub fn wake_waiters(&self) {
        self.waiters.wake();
    }

    /// How many requests are parked on this partition.
    pub fn parked(&self) -> usize {
        self.waiters.len()
    }

    /// Reads whole batches from `fetch_offset`, never past the high watermark.
    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadInfo, LogError> {
        let hw = self.high_watermark();
        self.read_log()
            .read(fetch_offset, max_bytes, min_one_batch, Some(hw))
    }

    /// Whole batches from `fetch_offset` up to the log end, committed or not (the coordinators
    /// replaying their partition as its new leader).
    pub fn read_local(&self, fetch_offset: i64, max_bytes: usize) -> Result<ReadInfo, LogError> {
        self.read_log().read(fetch_offset, max_bytes, true, None)
    }

    /// A read_committed read: whole batches below the last stable offset, and the aborted
    /// transactions overlapping what was read (the consumer drops their records).
    pub fn read_committed(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<(ReadInfo, Vec<AbortedTxn>), LogError> {
        let (read, aborted) = self.fetch(fetch_offset, max_bytes, min_one_batch, true)?;
        let info = ReadInfo {
            records: read.read_all()?,
            log_start_offset: read.log_start_offset,
            log_end_offset: read.log_end_offset,
        };
        Ok((info, aborted))
    }

    /// A Fetch read as file regions: below the high watermark, or for read_committed below
    /// the last stable offset together with the aborted transactions overlapping the regions.
    /// The regions are read (or sent) after the log lock is released.
    pub fn fetch(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        read_committed: bool,
    ) -> Result<(SliceRead, Vec<AbortedTxn>), LogError> {
        let log = self.read_log();
        if !read_committed {
            let hw = self.high_watermark();
            let read = log.read_slices(fetch_offset, max_bytes, min_one_batch, Some(hw))?;
            return Ok((read, Vec::new()));
        }
        let lso = self.last_stable_offset();
        let read = log.read_slices(fetch_offset, max_bytes, min_one_batch, Some(lso))?;
        let aborted = if read.next_offset > fetch_offset {
            log.aborted_transactions(fetch_offset, read.next_offset)
        } else {
            Vec::new()
        };
        Ok((read, aborted))
    }

    /// Whether the producer has a transaction open in this partition.
    pub fn has_open_txn(&self, producer_id: i64) -> bool {
        self.read_log()
            .producer_entry(producer_id)
            .is_some_and(|e| e.txn_first_offset >= 0)
    }

    /// Producers with state in this partition (DescribeProducers).
    pub fn producers(&self) -> Vec<(i64, ProducerEntry)> {
        self.read_log().producers()
    }

    /// Where leader epoch `requested` ends, answered as this partition's leader
    /// (OffsetForLeaderEpoch; see `Log::end_offset_for_epoch`).
    pub fn end_offset_for_epoch(&self, requested: i32) -> EpochEndOffset {
        self.read_log()
            .end_offset_for_epoch(requested, self.leader_epoch())
    }

    pub fn offset_for_timestamp(&self, target_ms: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.read_log().offset_for_timestamp(target_ms)
    }

    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.read_log().max_timestamp()
    }

    /// ListOffsets v0 (Kafka 3.9's `Partition.legacyFetchOffsetsForTimestamp`): up to `max`
    /// segment start offsets at or before `timestamp` (by the files' mtimes), newest first; see
    /// [`crate::log::LegacySegments::offsets_before`]. For a consumer (`from_consumer`) the
    /// offsets above the high watermark give way to the high watermark itself. The files are
    /// stat'ed after the log lock is released.
    pub fn legacy_offsets_before(
        &self,
        timestamp: i64,
        max: usize,
        from_consumer: bool,
        now_ms: i64,
    ) -> Vec<i64> {
        let segments = self.read_log().segment_files();
        let mut offsets = segments.offsets_before(timestamp, max, now_ms, file_mtime_ms);
        if from_consumer {
            let hw = self.high_watermark();
            if offsets.iter().any(|&o| o > hw) {
                offsets.retain(|&o| o <= hw);
                offsets.insert(0, hw);
            }
        }
        offsets
    }

    pub fn size_in_bytes(&self) -> u64 {
        self.read_log().size_in_bytes()
    }

    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let mut log = self.write_log();
        let start = log.delete_records_before(offset)?;
        self.publish(&log);
        Ok(start)
    }

    pub fn set_config(&self, config: LogConfig) {
        self.write_log().set_config(config);
    }

    /// Periodic housekeeping: retention, time-based roll and flush, and, when
    /// `expire_producers_ms` is given, forgetting the producers idle that long
    /// (`producer.id.expiration.ms`), on leaders and followers alike as in Kafka.
    pub fn housekeeping(
        &self,
        now_ms: i64,
        check_retention: bool,
        expire_producers_ms: Option<i64>,
    ) -> Result<(), LogError> {
        let mut log = self.write_log();
        log.maybe_roll_and_flush(now_ms)?;
        if check_retention {
            let deleted = log.enforce_retention(now_ms)?;
            if deleted > 0 {
                tracing::info!(topic = %self.topic, partition = self.index, segments = deleted, "retention deleted segments");
            }
        }
        if let Some(expiration_ms) = expire_producers_ms {
            let expired = log.remove_expired_producers(now_ms, expiration_ms);
            if expired > 0 {
                tracing::debug!(topic = %self.topic, partition = self.index, producers = expired, "expired idle producer ids");
            }
        }
        self.publish(&log);
        Ok(())
    }

    /// How much the log needs cleaning; `None` unless its cleanup.policy includes compact.
    pub fn cleanable_stats(&self, now_ms: i64) -> Option<CleanableStats> {
        self.read_log().cleanable_stats(now_ms)
    }

    /// One cleaning pass (see `log::cleaner`). The read lock is held only to plan it and the
    /// write lock only to swap the cleaned segments in: reading and rewriting the sealed
    /// segments runs beside produce and fetch.
    pub fn clean(
        &self,
        now_ms: i64,
        env: &mut CleanerEnv,
    ) -> Result<Option<CleanSummary>, LogError> {
        let Some(plan) = self.read_log().plan_clean(now_ms) else {
            return Ok(None);
        };
        let Some(outcome) = plan.run(env)? else {
            return Ok(None);
        };
        let mut log = self.write_log();
        let summary = log.apply_clean(outcome)?;
        self.publish(&log);
        Ok(Some(summary))
    }

    /// Takes the log out for close or delete; the partition is unusable afterwards.
    fn into_log(self) -> Log {
        self.log.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// The log's write guard; dropped, it releases the lock and then starts the background flush
/// of whatever was rolled under it (`log::RolledFlush`).
struct LogWriteGuard<'a>(Option<std::sync::RwLockWriteGuard<'a, Log>>);

impl std::ops::Deref for LogWriteGuard<'_> {
    type Target = Log;
    fn deref(&self) -> &Log {
        self.0.as_deref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for LogWriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Log {
        self.0.as_deref_mut().expect("held until dropped")
    }
}

impl Drop for LogWriteGuard<'_> {
    fn drop(&mut self) {
        let Some(mut log) = self.0.take() else {
            return;
        };
        let flush = log.take_rolled_flush();
        drop(log);
        if let Some(flush) = flush {
            flush.spawn();
        }
    }
}

/// A file's mtime in ms since the epoch, 0 when it cannot be read (as Java's `File.lastModified`).
fn file_mtime_ms(path: &std::path::Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
