//! The write path: leader appends, segment rolls and flushes.
//!
//! An append is all or nothing: every batch of the request is validated and every idempotent
//! producer check passes before a byte is written. The producer's bytes are copied once into a
//! buffer where base_offset and partition_leader_epoch are rewritten (outside the CRC) and, for
//! LogAppendTime topics, the timestamp (inside it, so the CRC is recomputed); that buffer is
//! written to the active segment with a single positional write. A batch stamped with a leader
//! epoch newer than the cache's latest first records that epoch's start offset
//! (`leader_epoch.rs`).

use bytes::{Bytes, BytesMut};

use super::batch::{self, BatchHeader, BatchIter};
use super::builder::{build_control_batch, ControlType};
use super::checkpoint;
use super::error::LogError;
use super::producer_state::SequenceCheck;
use super::segment::Segment;
use super::validate::{validate_batch_from, RecordRules};
use super::Log;

/// Result of a successful (or duplicate) append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// The broker time stamped on the batches, -1 unless the topic uses LogAppendTime.
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    pub record_count: u64,
    /// The request was a retry of batches already in the log: nothing was written and the
    /// offsets are the original's.
    pub duplicate: bool,
}

/// Who wrote the batches of an append (Kafka's AppendOrigin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer: full validation and idempotence checks.
    Client,
    /// The broker's own coordinators: transactional offset commits carry a producer id and
    /// epoch but no sequence numbers.
    Coordinator,
}

impl Log {
    /// Appends a Produce request's batches for this partition, as the leader.
    pub fn append_as_leader(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.append_from(records, leader_epoch, now_ms, AppendOrigin::Client)
    }

    /// Appends batches as the leader on behalf of `origin`.
    pub fn append_from(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        self.last_now_ms = self.last_now_ms.max(now_ms);
        if records.is_empty() {
            return Err(LogError::InvalidRecord {
                reason: "no record batches",
            });
        }
        let max_batch = self.config.max_message_bytes as usize;
        let topic_partition = self.topic_partition();
        let rules = RecordRules::new(&self.config, &topic_partition);
        let mut positions = Vec::new();
        let mut at = 0;
        for item in BatchIter::new(records.clone()) {
            let (h, slice) = item?;
            if slice.len() > max_batch {
                return Err(LogError::RecordTooLarge {
                    size: slice.len(),
                    max: max_batch,
                });
            }
            validate_batch_from(&h, origin)?;
            if origin == AppendOrigin::Client {
                rules.check(&h, &slice, now_ms)?;
            }
            positions.push(at);
            at += slice.len();
        }
        let max_total = self.config.segment_bytes.min(i32::MAX as u64) as usize;
        if records.len() > max_total {
            return Err(LogError::RecordTooLarge {
                size: records.len(),
                max: max_total,
            });
        }

        // The one copy: offsets, leader epoch and maybe LogAppendTime are rewritten in it.
        let log_append = self.config.message_timestamp_type_log_append;
        let mut buf = BytesMut::from(&records[..]);
        let mut next_offset = self.log_end_offset;
        let mut batches = Vec::with_capacity(positions.len());
        let mut producer_append = self.producers.begin_append();
        let mut record_count = 0u64;
        for &at in &positions {
            let slice = &mut buf[at..];
            batch::set_base_offset(slice, next_offset)?;
            batch::set_partition_leader_epoch(slice, leader_epoch)?;
            let mut h = BatchHeader::parse(slice)?;
            if log_append {
                let end = at + h.size_in_bytes();
                batch::set_log_append_time(&mut buf[at..end], now_ms)?;
                h = BatchHeader::parse(&buf[at..])?;
            }
            if h.has_producer_id() {
                let from_coordinator = origin == AppendOrigin::Coordinator;
                if let SequenceCheck::Duplicate(original) =
                    producer_append.check(&h, from_coordinator)?
                {
                    return Ok(AppendInfo {
                        first_offset: original.first_offset,
                        last_offset: original.last_offset,
                        log_append_time_ms: if log_append { original.timestamp } else { -1 },
                        log_start_offset: self.log_start_offset,
                        record_count: 0,
                        duplicate: true,
                    });
                }
            }
            record_count += h.records_count as u64;
            next_offset = h.last_offset() + 1;
            batches.push((h, at));
        }
        let staged = producer_append.into_staged();

        let first_offset = self.log_end_offset;
        if self.should_roll(buf.len(), next_offset - 1, now_ms) {
            self.roll()?;
        }
        // Before the data, as Kafka does: the checkpoint never lacks the epoch of a batch.
        self.maybe_assign_leader_epoch(leader_epoch, first_offset)?;
        let interval = self.config.index_interval_bytes;
        self.active.append(&buf, &batches, interval, now_ms)?;
        self.log_end_offset = next_offset;
        self.producers.commit(staged);

        self.unflushed_messages = self.unflushed_messages.saturating_add(record_count);
        if self.unflushed_messages >= self.config.flush_interval_messages || self.flush_due(now_ms)
        {
            self.flush()?;
        }
        Ok(AppendInfo {
            first_offset,
            last_offset: next_offset - 1,
            log_append_time_ms: if log_append { now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            record_count,
            duplicate: false,
        })
    }

    /// Writes a transaction marker (commit or abort) for `producer_id` and closes its open
    /// transaction in this partition; an abort is recorded in the transaction index.
    pub fn append_txn_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        control: ControlType,
        coordinator_epoch: i32,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.last_now_ms = self.last_now_ms.max(now_ms);
        self.producers
            .check_marker(producer_id, producer_epoch, coordinator_epoch)?;
        let marker = build_control_batch(
            producer_id,
            producer_epoch,
            control,
            coordinator_epoch,
            now_ms,
        );
        let mut buf = BytesMut::from(&marker[..]);
        let offset = self.log_end_offset;
        batch::set_base_offset(&mut buf, offset)?;
        batch::set_partition_leader_epoch(&mut buf, leader_epoch)?;
        let h = BatchHeader::parse(&buf)?;
        if self.should_roll(buf.len(), offset, now_ms) {
            self.roll()?;
        }
        self.maybe_assign_leader_epoch(leader_epoch, offset)?;
        let interval = self.config.index_interval_bytes;
        self.active.append(&buf, &[(h, 0)], interval, now_ms)?;
        self.log_end_offset = offset + 1;
        let aborted = self.producers.complete_txn(
            producer_id,
            producer_epoch,
            control,
            coordinator_epoch,
            offset,
            now_ms,
        );
        if let Some(entry) = aborted {
            self.active.add_aborted_txn(entry)?;
        }
        self.unflushed_messages = self.unflushed_messages.saturating_add(1);
        if self.unflushed_messages >= self.config.flush_interval_messages || self.flush_due(now_ms)
        {
            self.flush()?;
        }
        Ok(AppendInfo {
            first_offset: offset,
            last_offset: offset,
            log_append_time_ms: -1,
            log_start_offset: self.log_start_offset,
            record_count: 1,
            duplicate: false,
        })
    }

    /// Whether an append of `bytes` might roll the active segment or fsync (`flush.messages`,
    /// `flush.ms`), so that the caller can move off the async workers first. An upper bound:
    /// it counts every byte as a record.
    pub fn may_block(&self, bytes: usize, now_ms: i64) -> bool {
        self.should_roll(bytes, self.log_end_offset + bytes as i64, now_ms)
            || self.unflushed_messages.saturating_add(bytes as u64)
                >= self.config.flush_interval_messages
            || now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_interval_ms
    }

    /// Whether appending `bytes` ending at `last_offset` needs a new active segment first.
    pub(super) fn should_roll(&self, bytes: usize, last_offset: i64, now_ms: i64) -> bool {
        let a = &self.active;
        if a.size() == 0 {
            // Only an offset gap too wide for the index can force rolling an empty segment.
            return a.base_offset != self.log_end_offset && a.would_overflow(bytes, last_offset);
        }
        a.size() + bytes as u64 > self.config.segment_bytes
            || self.time_to_roll(now_ms)
            || a.would_overflow(bytes, last_offset)
    }

    fn time_to_roll(&self, now_ms: i64) -> bool {
        // A compacted log rolls by max.compaction.lag.ms too, as Kafka does: the active
        // segment is never cleaned, so its records could otherwise wait longer than that.
        let segment_ms = if self.config.cleanup_compact {
            self.config
                .segment_ms
                .min(self.config.max_compaction_lag_ms)
        } else {
            self.config.segment_ms
        };
        self.active.size() > 0
            && self
                .active
                .rolling_base_ms()
                .is_some_and(|t| now_ms.saturating_sub(t) > segment_ms)
    }

    /// Seals the active segment and starts a new one at log_end_offset. The sealed segment is
    /// fsynced later, by the background flush `take_rolled_flush` hands out (`flush.rs`).
    pub(super) fn roll(&mut self) -> Result<(), LogError> {
        let new_base = self.log_end_offset;
        self.active.seal()?;
        let new = Segment::create(&self.dir, new_base)?;
        let mut old = std::mem::replace(&mut self.active, new);
        if old.size() == 0 {
            for path in old.rename_for_delete()? {
                checkpoint::remove_if_exists(&path)?;
            }
        } else {
            self.sealed.insert(old.base_offset, old);
        }
        self.rolled = Some((new_base, self.producers.encode(new_base)));
        tracing::debug!(dir = %self.dir.display(), new_base, "rolled log segment");
        Ok(())
    }

    /// Periodic duty: `flush.ms` flushes, `segment.ms` rolls, delayed file deletions.
    ///
    /// A compact-only log is not rolled while idle; its time roll waits for the next append, as
    /// in Kafka. Its last records so stay in the active segment, which is never cleaned: were
    /// they sealed, a pass could remove them all (expired tombstones, markers) and a consumer
    /// reading to the end would find nothing between its position and the high watermark.
    pub fn maybe_roll_and_flush(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.last_now_ms = self.last_now_ms.max(now_ms);
        let idle_roll = self.config.cleanup_delete || !self.config.cleanup_compact;
        if idle_roll && self.time_to_roll(now_ms) {
            self.roll()?;
        }
        if self.flush_due(now_ms) {
            self.flush()?;
        }
        self.remove_expired_files(now_ms)
    }
}
