//! The partition log on disk: record batches in, bytes out. No wire types.
//!
//! One directory per partition, `<log.dirs>/<topic>-<partition>/`, in Apache Kafka's format:
//!
//! ```text
//! 00000000000000000000.log        v2 record batches exactly as on the wire   (segment.rs)
//! 00000000000000000000.index      relative offset i32 | position i32         (index.rs)
//! 00000000000000000000.timeindex  timestamp i64 | relative offset i32        (index.rs)
//! 00000000000000000000.txnindex   aborted transactions                       (txn_index.rs)
//! 00000000000000000042.snapshot   idempotent producer state at offset 42     (producer_state.rs)
//! recovery-point-checkpoint       offset below which all is fsynced          (checkpoint.rs)
//! log-start-offset-checkpoint     log_start_offset after DeleteRecords       (checkpoint.rs)
//! leader-epoch-checkpoint         first offset of each leader epoch          (leader_epoch.rs)
//! cleaner-offset-checkpoint       offsets below it are compacted             (cleaner/)
//! clean-shutdown                  present only between close() and open()    (checkpoint.rs)
//! ```
//!
//! Roles: `batch` parses and rewrites batch headers; `segment` + `index` own one segment's
//! files; `loader` opens and recovers a directory; `append`, `read` and `retention` are the
//! `Log` operations; `producer_state` checks idempotent producers; `cleaner` compacts logs
//! (with `record_set` and `codec` to look inside batches, which nothing else on the data path
//! does).
//!
//! Concurrency: ONE WRITER PER PARTITION. `Log` has no internal locking; its owner (the
//! partition) wraps it in a mutex. Reads take `&self` and use positional reads, so they never
//! move a shared file cursor.
//!
//! Invariants: offsets increase across segments; the active segment is the last one and always
//! exists; `log_start_offset <= log_end_offset`; everything below the recovery point is fsynced;
//! indexes are derived data and are rebuilt whenever they cannot be trusted.
//!
//! File descriptors are budgeted: a log holds at most one at rest, its active segment's `.log`
//! once written to (`segment_file.rs`). Index entries live in memory and are written at seal,
//! flush and clean close; sealed segments are opened on demand by readers, who share the handle.

mod append;
mod batch;
pub mod builder;
pub(crate) mod checkpoint;
pub mod cleaner;
pub(crate) mod codec;
mod config;
mod error;
mod flush;
mod follower;
mod index;
mod leader_epoch;
pub mod legacy_format;
mod loader;
mod producer_state;
mod read;
mod record_set;
mod records;
mod retention;
mod scan;
mod segment;
mod segment_file;
mod txn_index;
mod validate;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use append::{AppendInfo, AppendOrigin};
pub use batch::{
    increment_sequence, set_base_offset, set_log_append_time, set_partition_leader_epoch,
    validate_batch, BatchHeader, BatchIter, BATCH_HEADER_SIZE,
};
pub use checkpoint::{sync_log_dir, CLEAN_SHUTDOWN_FILE};
pub use config::LogConfig;
pub use error::{BatchError, LogError, RecordProblem};
pub use flush::RolledFlush;
pub use leader_epoch::{EpochEndOffset, EpochEntry, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
pub use producer_state::{BatchMetadata, ProducerEntry};
pub use read::{FileSlice, LegacySegments, ReadInfo, SliceRead};
pub use txn_index::AbortedTxn;

use leader_epoch::LeaderEpochCache;
use producer_state::ProducerStateManager;
use segment::Segment;

/// The log of one partition. See the module docs for the single-writer rule.
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    /// Segments before the active one, by base offset; sealed (final time index entry, indexes
    /// written, no descriptor held; fsynced once the recovery point passes them).
    sealed: BTreeMap<i64, Segment>,
    /// The segment appends go to.
    active: Segment,
    log_start_offset: i64,
    /// Next offset to assign.
    log_end_offset: i64,
    /// The recovery point: offsets below it are fsynced; recovery rescans from there after an
    /// unclean shutdown. Shared with background flushes (`flush.rs`).
    durability: std::sync::Arc<flush::Durability>,
    /// The last roll not yet handed to a background flush: the new segment's base and the
    /// producer state encoded there.
    rolled: Option<(i64, Vec<u8>)>,
    producers: ProducerStateManager,
    /// First offset of each leader epoch in this log (`leader-epoch-checkpoint`).
    leader_epochs: LeaderEpochCache,
    /// Records appended since the last fsync (for `flush.messages`).
    unflushed_messages: u64,
    last_flush_ms: i64,
    /// Latest clock reading seen, so `flush()` (which takes no clock) can stamp the flush time.
    last_now_ms: i64,
    /// `*.deleted` files and when they may be removed (`file.delete.delay.ms`).
    pending_deletes: Vec<(PathBuf, i64)>,
    /// Offsets below this were compacted by the cleaner (`cleaner-offset-checkpoint`).
    cleaner_checkpoint: i64,
    /// Latest delete horizon the last cleaning pass left on tombstones or markers: once it
    /// passes, a pass can remove them. Not persisted (nor is it in Kafka).
    delete_horizon_due: Option<i64>,
}

impl Log {
    /// `topic-partition`, the name of the log's directory (as Kafka's messages name it).
    pub fn topic_partition(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    /// The next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }
    pub fn size_in_bytes(&self) -> u64 {
        self.segments().map(Segment::size).sum()
    }
    pub fn segment_count(&self) -> usize {
        self.sealed.len() + 1
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    /// Takes effect from the next append, roll or retention pass.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }
    /// Idempotence state of one producer (for InitProducerId/DescribeProducers later, and tests).
    pub fn producer_entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.entry(producer_id)
    }

    /// Where leader epoch `requested` ends in this log (Kafka's `endOffsetForEpoch`, served by
    /// OffsetForLeaderEpoch). `leader_epoch` is the epoch this replica leads in (-1 when it is
    /// not the leader): until its first batch is appended it counts as starting at the log end,
    /// as if assigned on election as Kafka's makeLeader does.
    pub fn end_offset_for_epoch(&self, requested: i32, leader_epoch: i32) -> EpochEndOffset {
        let cache = self.leader_epochs.entries();
        let pending = (leader_epoch >= 0 && cache.latest().is_none_or(|l| l.epoch < leader_epoch))
            .then_some(EpochEntry {
                epoch: leader_epoch,
                start_offset: self.log_end_offset,
            });
        cache.end_offset_with(requested, self.log_end_offset, pending)
    }

    /// The leader-epoch cache entries, oldest first.
    pub fn leader_epoch_entries(&self) -> &[EpochEntry] {
        self.leader_epochs.entries().as_slice()
    }

    /// Records that `epoch` starts at `start_offset` if it is newer than every epoch in the
    /// cache (O(1): one comparison with the last entry), writing the checkpoint when it does.
    pub fn maybe_assign_leader_epoch(
        &mut self,
        epoch: i32,
        start_offset: i64,
    ) -> Result<(), LogError> {
        if epoch >= 0 && self.leader_epochs.latest_epoch().is_none_or(|l| l < epoch) {
            self.leader_epochs.assign(epoch, start_offset)?;
        }
        Ok(())
    }

    /// All segments, oldest first.
    fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.sealed.values().chain(std::iter::once(&self.active))
    }

    /// The segment with base offset `base` (sealed or active).
    fn segment_mut(&mut self, base: i64) -> &mut Segment {
        match self.sealed.get_mut(&base) {
            Some(seg) => seg,
            None => &mut self.active,
        }
    }

    /// Segments from the one that holds `offset` on (offset at or above log_start_offset).
    fn segments_from(&self, offset: i64) -> impl Iterator<Item = &Segment> {
        let first = self
            .sealed
            .range(..=offset)
            .next_back()
            .or_else(|| self.sealed.first_key_value())
            .map_or(self.active.base_offset, |(b, _)| *b);
        self.sealed
            .range(first..)
            .map(|(_, s)| s)
            .chain(std::iter::once(&self.active))
    }
}
