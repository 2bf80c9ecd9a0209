//! The follower's write path: batches fetched from the leader are appended as they are, with
//! the offsets, leader epochs and timestamps the leader gave them (Kafka's
//! `appendRecordsToFollowerOrFutureReplica`). Nothing is reassigned and no producer is checked:
//! the leader's log is the truth. What a leader keeps beside its log is rebuilt from the
//! batches: the leader-epoch cache, idempotent producer state and the aborted-transaction
//! index, so that this replica can lead next with the same answers.

use bytes::Bytes;

use super::append::AppendInfo;
use super::batch::{BatchHeader, BatchIter};
use super::builder::control_type;
use super::error::LogError;
use super::Log;

impl Log {
    /// Appends the leader's batches at this log's end. Every batch must pass its CRC, batches
    /// must start at or after the log end offset (compaction leaves gaps) and increase; a
    /// violation appends nothing and is an error, so a corrupt fetch never reaches the log.
    pub fn append_as_follower(
        &mut self,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.last_now_ms = self.last_now_ms.max(now_ms);
        // An empty log started at the leader's log start, which DeleteRecords may have put in
        // the middle of a batch: the leader sends that whole batch, so the log starts again at
        // its base offset (Kafka does the same), and the leader's log start comes with the
        // next fetch.
        if self.log_end_offset == self.log_start_offset {
            if let Some(Ok((h, _))) = BatchIter::new(records.clone()).next() {
                if h.base_offset < self.log_end_offset && h.last_offset() >= self.log_end_offset {
                    self.truncate_fully_and_start_at(h.base_offset)?;
                }
            }
        }
        let mut batches: Vec<(BatchHeader, usize)> = Vec::new();
        let mut next = self.log_end_offset;
        let mut at = 0usize;
        for item in BatchIter::new(records.clone()) {
            let (h, slice) = item?;
            if h.base_offset < next || h.last_offset() < h.base_offset {
                return Err(LogError::InvalidRecord {
                    reason: "replicated batches out of order or below the log end offset",
                });
            }
            next = h.last_offset() + 1;
            batches.push((h, at));
            at += slice.len();
        }
        let Some(first) = batches.first().map(|(h, _)| h.base_offset) else {
            return Err(LogError::InvalidRecord {
                reason: "no record batches",
            });
        };
        let mut record_count = 0u64;
        let mut i = 0;
        while i < batches.len() {
            let (h0, a0) = batches[i];
            if self.should_roll(h0.size_in_bytes(), h0.last_offset(), now_ms) {
                self.roll()?;
            }
            // One positional write for the run of batches that fits the active segment.
            let mut j = i + 1;
            let mut size = h0.size_in_bytes();
            while let Some((h, _)) = batches.get(j) {
                let grown = size + h.size_in_bytes();
                if self.active.size() + grown as u64 > self.config.segment_bytes
                    || self.active.would_overflow(grown, h.last_offset())
                {
                    break;
                }
                size = grown;
                j += 1;
            }
            // Before the data, as on the leader: the checkpoint never lacks a batch's epoch.
            for (h, _) in &batches[i..j] {
                self.maybe_assign_leader_epoch(h.partition_leader_epoch, h.base_offset)?;
            }
            let run: Vec<(BatchHeader, usize)> =
                batches[i..j].iter().map(|&(h, a)| (h, a - a0)).collect();
            let interval = self.config.index_interval_bytes;
            self.active
                .append(&records[a0..a0 + size], &run, interval, now_ms)?;
            for &(h, a) in &batches[i..j] {
                record_count += u64::try_from(h.records_count).unwrap_or(0);
                let control = if h.is_control() {
                    control_type(&records[a..a + h.size_in_bytes()])
                } else {
                    None
                };
                if let Some(aborted) = self.producers.replay(&h, control) {
                    self.active.add_aborted_txn(aborted)?;
                }
                self.log_end_offset = h.last_offset() + 1;
            }
            i = j;
        }
        self.unflushed_messages = self.unflushed_messages.saturating_add(record_count);
        if self.unflushed_messages >= self.config.flush_interval_messages || self.flush_due(now_ms)
        {
            self.flush()?;
        }
        Ok(AppendInfo {
            first_offset: first,
            last_offset: self.log_end_offset - 1,
            log_append_time_ms: -1,
            log_start_offset: self.log_start_offset,
            record_count,
            duplicate: false,
        })
    }
}
