//! What the cleaner keeps of each batch, following Kafka's LogCleaner.
//!
//! Batch level (transactions, producer state):
//! - data of aborted transactions goes; the abort marker stays while this pass still removed
//!   data of its transaction, and becomes removable afterwards;
//! - a commit marker stays while data of its transaction is still in the log;
//! - a removable marker is first stamped with a delete horizon (now + `delete.retention.ms`)
//!   and removed by a pass after that horizon, so a consumer that is behind still sees it;
//! - the batch holding the last sequence of a producer with state (or its last marker) stays,
//!   emptied if need be, so producer state rebuilt from the log stays right.
//!
//! Record level: records at or above the end of the offset map stay; keyless records go; a
//! record stays if it is the latest of its key in the map (or its key is not in the map) and,
//! for a tombstone, until the delete horizon of its batch has passed.

use std::collections::{HashMap, HashSet, VecDeque};

use super::super::batch::BatchHeader;
use super::super::builder::ControlType;
use super::super::record_set::{DecodedBatch, Record};
use super::super::txn_index::AbortedTxn;
use super::offset_map::OffsetMap;

/// The last thing a producer with state wrote, as the producer state manager knows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProducerLast {
    /// Last offset of its last data batch with a sequence, if any.
    pub last_data_offset: Option<i64>,
    pub producer_epoch: i16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchRetention {
    /// Drop the whole batch.
    Delete,
    /// Keep the records that pass; drop the batch if none does.
    DeleteEmpty,
    /// Keep the records that pass; keep the header even if none does.
    RetainEmpty,
}

/// Decision for one batch before looking at its records.
pub(crate) struct BatchDecision {
    pub retention: BatchRetention,
    /// Every record of the batch goes (aborted data, an expired marker).
    pub discard_records: bool,
    /// A removable marker: stamp a delete horizon if it has none.
    pub marker_for_empty_txn: bool,
}

/// Transaction state over one cleaning pass, batches fed in offset order.
pub(crate) struct TxnTracker {
    /// Aborted transactions not yet reached, by first offset.
    aborted: VecDeque<AbortedTxn>,
    /// Aborted transactions under way: producer -> whether data of it was seen this pass.
    ongoing_aborted: HashMap<i64, bool>,
    /// Producers with a committed (or still undecided) transaction whose data was seen.
    ongoing_committed: HashSet<i64>,
}

impl TxnTracker {
    pub(crate) fn new(mut aborted: Vec<AbortedTxn>) -> TxnTracker {
        aborted.sort_by_key(|a| a.first_offset);
        TxnTracker {
            aborted: aborted.into(),
            ongoing_aborted: HashMap::new(),
            ongoing_committed: HashSet::new(),
        }
    }

    fn consume_aborted_up_to(&mut self, offset: i64) {
        while self
            .aborted
            .front()
            .is_some_and(|a| a.first_offset <= offset)
        {
            if let Some(a) = self.aborted.pop_front() {
                self.ongoing_aborted.entry(a.producer_id).or_insert(false);
            }
        }
    }

    /// Whether the batch may be discarded as far as transactions go.
    fn can_discard(&mut self, h: &BatchHeader, control: Option<ControlType>) -> bool {
        self.consume_aborted_up_to(h.last_offset());
        let pid = h.producer_id;
        if h.is_control() {
            return match control {
                Some(ControlType::Abort) => self.ongoing_aborted.remove(&pid) != Some(true),
                Some(ControlType::Commit) => !self.ongoing_committed.remove(&pid),
                // An emptied marker (already cleaned) or an unknown control type.
                None => h.records_count == 0,
            };
        }
        if !h.is_transactional() {
            return false;
        }
        match self.ongoing_aborted.get_mut(&pid) {
            Some(seen) => {
                *seen = true;
                true
            }
            None => {
                self.ongoing_committed.insert(pid);
                false
            }
        }
    }

    /// Whether a transactional data batch belongs to an aborted transaction (offset map
    /// building skips those). Feeds the tracker like `decide` does.
    pub(crate) fn is_aborted_data(&mut self, h: &BatchHeader) -> bool {
        self.consume_aborted_up_to(h.last_offset());
        h.is_transactional() && !h.is_control() && self.ongoing_aborted.contains_key(&h.producer_id)
    }

    /// Marker seen while building the map: closes the aborted transaction it ends.
    pub(crate) fn end_txn(&mut self, h: &BatchHeader) {
        self.consume_aborted_up_to(h.last_offset());
        self.ongoing_aborted.remove(&h.producer_id);
    }

    pub(crate) fn decide(
        &mut self,
        h: &BatchHeader,
        control: Option<ControlType>,
        horizon: Option<i64>,
        producers: &HashMap<i64, ProducerLast>,
        now_ms: i64,
    ) -> BatchDecision {
        let can_discard = self.can_discard(h, control);
        let discard_records = if h.is_control() {
            can_discard && horizon.is_some_and(|t| t <= now_ms)
        } else {
            can_discard
        };
        let last_of_producer = h.has_producer_id()
            && producers
                .get(&h.producer_id)
                .is_some_and(|last| match last.last_data_offset {
                    Some(offset) => h.last_offset() == offset,
                    None => h.is_control() && h.producer_epoch == last.producer_epoch,
                });
        let retention = if last_of_producer {
            BatchRetention::RetainEmpty
        } else if discard_records {
            BatchRetention::Delete
        } else {
            BatchRetention::DeleteEmpty
        };
        BatchDecision {
            retention,
            discard_records,
            marker_for_empty_txn: h.is_control() && can_discard,
        }
    }
}

/// Whether a data record stays (see the module docs). `map_end` is the offset the map covers up
/// to (exclusive).
pub(crate) fn retain_record(
    batch: &DecodedBatch,
    record: &Record,
    map: &OffsetMap,
    map_end: i64,
    now_ms: i64,
) -> bool {
    let offset = batch.header.base_offset + i64::from(record.offset_delta);
    if offset >= map_end {
        return true;
    }
    let Some(key) = batch.key(record) else {
        return false;
    };
    let latest = map.get(key).is_none_or(|found| offset >= found);
    let tombstone_live = record.value.is_some()
        || batch
            .delete_horizon()
            .is_none_or(|horizon| now_ms < horizon);
    latest && tombstone_live
}
