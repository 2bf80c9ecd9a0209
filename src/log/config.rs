//! Per-topic log configuration, with Apache Kafka's defaults.
//!
//! Field names follow the topic configs they mirror (`segment.bytes`, `retention.ms`, ...).
//! Changed at run time through `Log::set_config`; a change applies from the next operation
//! (switching `cleanup.policy` takes effect at the next retention or cleaner pass).

/// Topic-level settings the log obeys.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first append is older than this.
    pub segment_ms: i64,
    /// `retention.ms`: delete sealed segments whose newest timestamp is older; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete the oldest sealed segments while the log is larger; -1: no limit.
    pub retention_bytes: i64,
    /// `index.interval.bytes`: bytes of log between two index entries.
    pub index_interval_bytes: u32,
    /// `max.message.bytes`: largest accepted record batch.
    pub max_message_bytes: u32,
    /// `message.timestamp.type=LogAppendTime`: the broker stamps batches with its clock.
    pub message_timestamp_type_log_append: bool,
    /// `message.timestamp.before.max.ms`: how far behind the broker's clock a CreateTime record
    /// may be (Long.MAX_VALUE: any).
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far ahead of it (Kafka 4 default: one hour).
    pub message_timestamp_after_max_ms: i64,
    /// `flush.messages`: fsync after this many records.
    pub flush_interval_messages: u64,
    /// `flush.ms`: fsync when the last flush is older than this.
    pub flush_interval_ms: i64,
    /// `file.delete.delay.ms`: how long `*.deleted` files stay before removal.
    pub file_delete_delay_ms: i64,
    /// `cleanup.policy` contains `delete`: retention.ms and retention.bytes apply.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`: the cleaner keeps the latest record per key, and
    /// records without a key are refused at append.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long a tombstone (and an emptied transaction marker) stays
    /// after the cleaner first saw it.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: segments holding records younger than this are not cleaned.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this makes the log cleanable whatever
    /// its dirty ratio; also caps `segment.ms` of compacted logs, as in Kafka.
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`: dirty bytes / total bytes above which the log is cleaned.
    pub min_cleanable_dirty_ratio: f64,
}

impl Default for LogConfig {
    fn default() -> Self {
        const DAY_MS: i64 = 24 * 60 * 60 * 1000;
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * DAY_MS,
            retention_ms: 7 * DAY_MS,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            message_timestamp_type_log_append: false,
            message_timestamp_before_max_ms: i64::MAX,
            message_timestamp_after_max_ms: 3_600_000,
            flush_interval_messages: u64::MAX,
            flush_interval_ms: i64::MAX,
            file_delete_delay_ms: 60_000,
            cleanup_delete: true,
            cleanup_compact: false,
            delete_retention_ms: DAY_MS,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_dirty_ratio: 0.5,
        }
    }
}
