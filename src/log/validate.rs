//! What the leader checks in a client's batches before it assigns offsets, as Kafka's
//! LogValidator does: the batch header (control batches, counts, sequences) and, per record
//! (KIP-467), keys on compacted topics and CreateTime timestamps within
//! `message.timestamp.before.max.ms` / `message.timestamp.after.max.ms` of the broker's clock.
//!
//! Kafka walks every record of every batch. Milena only walks a batch's records when its header
//! cannot vouch for them: always on compacted topics (keys), when `before.max` is set (the header
//! has no minimum timestamp), when the header's max timestamp is out of range, and when a client
//! marked the batch LogAppendTime. The common case costs two comparisons.

use super::append::AppendOrigin;
use super::batch::BatchHeader;
use super::config::LogConfig;
use super::error::{LogError, RecordProblem};
use super::record_set;

/// Highest compression codec id Kafka defines (zstd).
const MAX_COMPRESSION_CODEC: i16 = 4;

/// Checks Kafka applies to batch headers coming from clients, beyond the structural ones.
pub(super) fn validate_batch_from(h: &BatchHeader, origin: AppendOrigin) -> Result<(), LogError> {
    let invalid = |reason| Err(LogError::InvalidRecord { reason });
    if origin == AppendOrigin::Coordinator {
        return if h.is_control() {
            invalid("coordinators write markers through append_txn_marker")
        } else {
            Ok(())
        };
    }
    if h.is_control() {
        return invalid("clients may not write control batches");
    }
    if h.compression() > MAX_COMPRESSION_CODEC {
        return invalid("unknown compression codec");
    }
    if h.records_count == 0 {
        return invalid("batch has no records");
    }
    if i64::from(h.records_count) != i64::from(h.last_offset_delta) + 1 {
        return invalid("records_count does not match last_offset_delta");
    }
    if h.has_producer_id() && h.base_sequence < 0 {
        return invalid("idempotent batch without a base sequence");
    }
    if h.is_transactional() && !h.has_producer_id() {
        return invalid("transactional batch without a producer id");
    }
    Ok(())
}

/// The record-level rules of a partition, from its topic config.
pub(super) struct RecordRules<'a> {
    pub compacted: bool,
    pub log_append_time: bool,
    pub before_max_ms: i64,
    pub after_max_ms: i64,
    /// `topic-partition`, as Kafka names it in messages.
    pub topic_partition: &'a str,
}

impl<'a> RecordRules<'a> {
    pub fn new(config: &LogConfig, topic_partition: &'a str) -> Self {
        Self {
            compacted: config.cleanup_compact,
            log_append_time: config.message_timestamp_type_log_append,
            before_max_ms: config.message_timestamp_before_max_ms,
            after_max_ms: config.message_timestamp_after_max_ms,
            topic_partition,
        }
    }

    /// Kafka's range test, with Java's wrapping arithmetic.
    fn timestamp_out_of_range(&self, timestamp: i64, now_ms: i64) -> bool {
        let diff = now_ms.wrapping_sub(timestamp);
        diff > self.before_max_ms || diff.wrapping_neg() > self.after_max_ms
    }

    /// Whether the header alone shows every record passes.
    fn header_vouches(&self, h: &BatchHeader, now_ms: i64) -> bool {
        if self.compacted || h.is_log_append_time() {
            return false;
        }
        self.log_append_time
            || (self.before_max_ms == i64::MAX
                && (h.max_timestamp == -1 || !self.timestamp_out_of_range(h.max_timestamp, now_ms)))
    }

    /// Checks the records of one client batch (`batch`: the whole batch, header included).
    /// Refused records come back as `LogError::RecordErrors`, the whole batch failing with them.
    pub fn check(&self, h: &BatchHeader, batch: &[u8], now_ms: i64) -> Result<(), LogError> {
        if self.header_vouches(h, now_ms) {
            return Ok(());
        }
        let decoded = record_set::decode(batch).map_err(|_| LogError::InvalidRecord {
            reason: "records of the batch do not decode",
        })?;
        let mut problems = Vec::new();
        let mut timestamp = false;
        for (index, r) in decoded.records.iter().enumerate() {
            let batch_index = index as i32;
            let offset = h.base_offset.wrapping_add(i64::from(r.offset_delta));
            let message = if self.compacted && r.key.is_none() {
                format!(
                    "Compacted topic cannot accept message without key in topic partition {}",
                    self.topic_partition
                )
            } else if !self.log_append_time && r.timestamp != -1 {
                if !self.timestamp_out_of_range(r.timestamp, now_ms) {
                    continue;
                }
                timestamp = true;
                format!(
                    "Timestamp {} of message with offset {offset} is out of range. The timestamp should be within [{}, {}]",
                    r.timestamp,
                    now_ms.wrapping_sub(self.before_max_ms),
                    now_ms.wrapping_add(self.after_max_ms)
                )
            } else if h.is_log_append_time() {
                timestamp = true;
                let len =
                    |range: &Option<std::ops::Range<usize>>| range.as_ref().map_or(0, |r| r.len());
                format!(
                    "Invalid timestamp type in message DefaultRecord(offset={offset}, timestamp={}, key={} bytes, value={} bytes). Producer should not set timestamp type to LogAppendTime.",
                    r.timestamp,
                    len(&r.key),
                    len(&r.value)
                )
            } else {
                continue;
            };
            problems.push(RecordProblem {
                batch_index,
                message,
            });
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(LogError::RecordErrors {
            timestamp,
            records: problems,
        })
    }
}
