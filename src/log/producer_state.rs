//! Idempotent producer state of one partition (Kafka semantics) and its snapshot files.
//!
//! Per producer_id: the current producer_epoch and the metadata of its last five appended
//! batches, enough to recognise a retried batch (duplicate) and to require the next sequence.
//! Checks run on a staged copy (`ProducerAppend`) so every batch of a Produce request is checked
//! before anything is written; `commit` applies the staged entries after the write.
//!
//! Transactions: a transactional batch from a producer with no open transaction in this
//! partition opens one at its base offset; the producer's commit or abort marker closes it. The
//! smallest first offset of the open transactions bounds the last stable offset (LSO), and a
//! closed abort becomes an `AbortedTxn` for the segment's transaction index.
//!
//! Expiry (Kafka's `producer.id.expiration.ms`): a producer whose last write here (the max
//! timestamp of its last batch, or the timestamp of its last marker) is older than the
//! expiration and that has no open transaction is forgotten by `remove_expired`, which the
//! broker's housekeeping calls every `producer.id.expiration.check.interval.ms`. Memory and
//! snapshots then stay bounded under producer churn. A forgotten producer that writes again is
//! a new one: as in Kafka, its first batch is accepted whatever its sequence (there is nothing
//! left to check it against), and checking resumes from there.
//!
//! Snapshot file `<20-digit offset>.snapshot`: the state covering every batch below `offset`.
//! Written at segment roll and at close, atomically (tmp + rename). Layout, big endian:
//!
//! ```text
//! magic "MLPS" | version u16 = 3 | crc u32 (CRC32C of all bytes after it) | offset i64
//! | producer_count u32 | { producer_id i64 | producer_epoch i16 | txn_first_offset i64 (v2+)
//! | coordinator_epoch i32 (v2+) | last_timestamp i64 (v3) | batch_count u8
//! | { first_seq i32 | last_seq i32 | first_offset i64 | last_offset i64 | timestamp i64 }* }*
//! ```
//!
//! Versions 1 (no transactions) and 2 (no last timestamp: the last batch's is taken) are still
//! read.
//!
//! At open the newest valid snapshot at or below the log end is loaded and the batches after it
//! are replayed from the log; snapshots above the log end (after a truncation) are deleted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::path::Path;

use super::batch::{increment_sequence, BatchHeader};
use super::builder::ControlType;
use super::checkpoint;
use super::error::{IoContext, LogError};
use super::segment::file_name;
use super::txn_index::AbortedTxn;

/// Kafka keeps the last five batches per producer (max.in.flight.requests.per.connection).
pub(crate) const MAX_CACHED_BATCHES: usize = 5;
const MAGIC: &[u8; 4] = b"MLPS";
const VERSION: u16 = 3;
/// Snapshots kept on disk: the newest plus one older, for truncation.
const SNAPSHOTS_KEPT: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_epoch: i16,
    /// Oldest first, at most `MAX_CACHED_BATCHES`.
    pub batches: VecDeque<BatchMetadata>,
    /// First offset of the producer's open transaction in this partition, -1 if none.
    pub txn_first_offset: i64,
    /// Epoch of the coordinator that wrote the producer's last marker, -1 if none.
    pub coordinator_epoch: i32,
    /// Timestamp of the producer's last write here: its last batch's max timestamp, or its
    /// last marker's. Expiry measures idleness from it; -1 if unknown.
    pub last_timestamp: i64,
}

impl ProducerEntry {
    fn new(producer_epoch: i16) -> Self {
        ProducerEntry {
            producer_epoch,
            batches: VecDeque::new(),
            txn_first_offset: -1,
            coordinator_epoch: -1,
            last_timestamp: -1,
        }
    }

    /// The same producer under a newer epoch: sequences restart, an open transaction stays.
    fn bumped(&self, producer_epoch: i16) -> Self {
        ProducerEntry {
            txn_first_offset: self.txn_first_offset,
            coordinator_epoch: self.coordinator_epoch,
            last_timestamp: self.last_timestamp,
            ..ProducerEntry::new(producer_epoch)
        }
    }
    fn push(&mut self, meta: BatchMetadata) {
        self.last_timestamp = meta.timestamp;
        self.batches.push_back(meta);
        while self.batches.len() > MAX_CACHED_BATCHES {
            self.batches.pop_front();
        }
    }
}

fn metadata(h: &BatchHeader) -> BatchMetadata {
    BatchMetadata {
        first_seq: h.base_sequence,
        last_seq: h.last_sequence(),
        first_offset: h.base_offset,
        last_offset: h.last_offset(),
        timestamp: h.max_timestamp,
    }
}

#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id (derived from `producers`).
    ongoing: BTreeMap<i64, i64>,
}

/// Outcome of checking one batch.
pub(crate) enum SequenceCheck {
    Accept,
    /// A retry of an already written batch: answer with the original's offsets.
    Duplicate(BatchMetadata),
}

/// Producer entries changed by one append, not yet applied.
pub(crate) struct ProducerAppend<'a> {
    state: &'a ProducerStateManager,
    staged: HashMap<i64, ProducerEntry>,
}

impl ProducerAppend<'_> {
    /// Checks a batch whose final offsets are already in `h`. Batches the broker writes itself
    /// (`from_coordinator`: transactional offset commits) carry no sequence numbers; only their
    /// epoch is checked.
    pub(crate) fn check(
        &mut self,
        h: &BatchHeader,
        from_coordinator: bool,
    ) -> Result<SequenceCheck, LogError> {
        let pid = h.producer_id;
        let current = self
            .staged
            .get(&pid)
            .or_else(|| self.state.producers.get(&pid));
        let out_of_order = |expected| LogError::OutOfOrderSequence {
            producer_id: pid,
            expected,
            found: h.base_sequence,
        };
        let mut entry = match current {
            Some(e) if from_coordinator && h.producer_epoch < e.producer_epoch => {
                return Err(LogError::InvalidProducerEpoch {
                    producer_id: pid,
                    epoch: h.producer_epoch,
                    current_epoch: e.producer_epoch,
                })
            }
            Some(e) if from_coordinator && h.producer_epoch > e.producer_epoch => {
                e.bumped(h.producer_epoch)
            }
            Some(e) if from_coordinator => e.clone(),
            // Unknown (new, or expired): Kafka accepts any sequence, as nothing is left to
            // check it against; a producer that was expired resumes where it was.
            None => ProducerEntry::new(h.producer_epoch),
            Some(e) if h.producer_epoch < e.producer_epoch => {
                return Err(LogError::InvalidProducerEpoch {
                    producer_id: pid,
                    epoch: h.producer_epoch,
                    current_epoch: e.producer_epoch,
                })
            }
            Some(e) if h.producer_epoch > e.producer_epoch => {
                if h.base_sequence != 0 {
                    return Err(out_of_order(0));
                }
                e.bumped(h.producer_epoch)
            }
            Some(e) => {
                let last_seq = h.last_sequence();
                if let Some(dup) = e
                    .batches
                    .iter()
                    .find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq)
                {
                    return Ok(SequenceCheck::Duplicate(*dup));
                }
                let expected = e
                    .batches
                    .back()
                    .map_or(0, |b| increment_sequence(b.last_seq, 1));
                if h.base_sequence != expected {
                    return Err(out_of_order(expected));
                }
                e.clone()
            }
        };
        if h.is_transactional() {
            if entry.txn_first_offset < 0 {
                entry.txn_first_offset = h.base_offset;
            }
        } else if entry.txn_first_offset >= 0 {
            return Err(LogError::InvalidTxnState {
                producer_id: pid,
                reason: "non-transactional write while a transaction is open",
            });
        }
        if from_coordinator {
            entry.last_timestamp = h.max_timestamp;
        } else {
            entry.push(metadata(h));
        }
        self.staged.insert(pid, entry);
        Ok(SequenceCheck::Accept)
    }

    pub(crate) fn into_staged(self) -> HashMap<i64, ProducerEntry> {
        self.staged
    }
}

impl ProducerStateManager {
    pub(crate) fn begin_append(&self) -> ProducerAppend<'_> {
        ProducerAppend {
            state: self,
            staged: HashMap::new(),
        }
    }

    pub(crate) fn commit(&mut self, staged: HashMap<i64, ProducerEntry>) {
        for (pid, entry) in staged {
            self.insert(pid, entry);
        }
    }

    /// Sets a producer's entry, keeping the index of open transactions in step.
    fn insert(&mut self, pid: i64, entry: ProducerEntry) {
        if let Some(old) = self.producers.get(&pid) {
            if old.txn_first_offset >= 0 {
                self.ongoing.remove(&old.txn_first_offset);
            }
        }
        if entry.txn_first_offset >= 0 {
            self.ongoing.insert(entry.txn_first_offset, pid);
        }
        self.producers.insert(pid, entry);
    }

    pub(crate) fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub(crate) fn producers(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(pid, e)| (*pid, e))
    }

    /// First offset of the oldest open transaction: the last stable offset's bound.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Checks a transaction marker before it is written: a marker from an older epoch than the
    /// producer's current one is a zombie coordinator's, refused as Kafka refuses it.
    /// A marker is refused when its producer epoch is older than the producer's, or when it
    /// comes from an older transaction coordinator than the last marker (a coordinator that
    /// lost the leadership of its `__transaction_state` partition and does not know it yet).
    pub(crate) fn check_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), LogError> {
        match self.producers.get(&producer_id) {
            Some(e) if epoch < e.producer_epoch => Err(LogError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current_epoch: e.producer_epoch,
            }),
            Some(e) if coordinator_epoch < e.coordinator_epoch => {
                Err(LogError::TransactionCoordinatorFenced {
                    producer_id,
                    epoch: coordinator_epoch,
                    current_epoch: e.coordinator_epoch,
                })
            }
            _ => Ok(()),
        }
    }

    /// Applies a marker written at `offset` with `timestamp`: closes the producer's open
    /// transaction, if any. An abort returns the entry for the transaction index.
    pub(crate) fn complete_txn(
        &mut self,
        producer_id: i64,
        epoch: i16,
        control: ControlType,
        coordinator_epoch: i32,
        offset: i64,
        timestamp: i64,
    ) -> Option<AbortedTxn> {
        let mut entry = match self.producers.get(&producer_id) {
            Some(e) if epoch > e.producer_epoch => e.bumped(epoch),
            Some(e) => e.clone(),
            None => ProducerEntry::new(epoch),
        };
        let first_offset = entry.txn_first_offset;
        entry.txn_first_offset = -1;
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp = timestamp;
        self.insert(producer_id, entry);
        (first_offset >= 0 && control == ControlType::Abort).then(|| AbortedTxn {
            producer_id,
            first_offset,
            last_offset: offset,
            last_stable_offset: self.first_unstable_offset().unwrap_or(offset + 1),
        })
    }

    /// Applies a batch read back from the log (rebuild), without checks: the log is the truth.
    /// `control` is the marker type of a control batch. Returns a completed abort.
    pub(crate) fn replay(
        &mut self,
        h: &BatchHeader,
        control: Option<ControlType>,
    ) -> Option<AbortedTxn> {
        if !h.has_producer_id() {
            return None;
        }
        if h.is_control() {
            let control = control?;
            // The coordinator epoch is in the marker's value; it is informational here.
            return self.complete_txn(
                h.producer_id,
                h.producer_epoch,
                control,
                -1,
                h.base_offset,
                h.max_timestamp,
            );
        }
        let mut entry = match self.producers.get(&h.producer_id) {
            Some(e) if h.producer_epoch > e.producer_epoch => e.bumped(h.producer_epoch),
            Some(e) => e.clone(),
            None => ProducerEntry::new(h.producer_epoch),
        };
        if h.is_transactional() && entry.txn_first_offset < 0 {
            entry.txn_first_offset = h.base_offset;
        }
        if h.base_sequence >= 0 {
            entry.push(metadata(h));
        } else {
            entry.last_timestamp = h.max_timestamp;
        }
        self.insert(h.producer_id, entry);
        None
    }

    /// Forgets the producers idle for at least `expiration_ms` at `now_ms` that have no open
    /// transaction here (Kafka's `removeExpiredProducers`); returns how many. An open
    /// transaction pins its producer: the last stable offset and the abort index need it until
    /// its marker comes, however long that takes.
    pub(crate) fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.txn_first_offset >= 0 || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    pub(crate) fn encode(&self, offset: i64) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&offset.to_be_bytes());
        body.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        for (pid, e) in &self.producers {
            body.extend_from_slice(&pid.to_be_bytes());
            body.extend_from_slice(&e.producer_epoch.to_be_bytes());
            body.extend_from_slice(&e.txn_first_offset.to_be_bytes());
            body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            body.push(e.batches.len() as u8);
            for b in &e.batches {
                body.extend_from_slice(&b.first_seq.to_be_bytes());
                body.extend_from_slice(&b.last_seq.to_be_bytes());
                body.extend_from_slice(&b.first_offset.to_be_bytes());
                body.extend_from_slice(&b.last_offset.to_be_bytes());
                body.extend_from_slice(&b.timestamp.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(body.len() + 10);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes a snapshot; `None` if damaged in any way.
    fn decode(bytes: &[u8]) -> Option<(i64, ProducerStateManager)> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC {
            return None;
        }
        let version = r.u16()?;
        if !(1..=VERSION).contains(&version) {
            return None;
        }
        let crc = r.u32()?;
        if crc32c::crc32c(r.0) != crc {
            return None;
        }
        let offset = r.i64()?;
        let count = r.u32()?;
        let mut state = ProducerStateManager::default();
        for _ in 0..count {
            let pid = r.i64()?;
            let mut entry = ProducerEntry::new(r.u16()? as i16);
            if version >= 2 {
                entry.txn_first_offset = r.i64()?;
                entry.coordinator_epoch = r.u32()? as i32;
            }
            let last_timestamp = if version >= 3 { Some(r.i64()?) } else { None };
            for _ in 0..r.take(1)?[0] {
                entry.push(BatchMetadata {
                    first_seq: r.u32()? as i32,
                    last_seq: r.u32()? as i32,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                    timestamp: r.i64()?,
                });
            }
            if let Some(ts) = last_timestamp {
                entry.last_timestamp = ts;
            }
            state.insert(pid, entry);
        }
        r.0.is_empty().then_some((offset, state))
    }

    /// Writes `<offset>.snapshot` and prunes older snapshots.
    pub(crate) fn write_snapshot(&self, dir: &Path, offset: i64) -> Result<(), LogError> {
        write_snapshot_bytes(dir, offset, &self.encode(offset))
    }

    /// Newest valid snapshot at or below `max_offset`, with its offset. Deletes snapshots above
    /// it (stale after a truncation) and damaged ones.
    pub(crate) fn load_snapshot(
        dir: &Path,
        max_offset: i64,
    ) -> Result<Option<(i64, ProducerStateManager)>, LogError> {
        for offset in list_snapshots(dir)?.into_iter().rev() {
            let path = dir.join(file_name(offset, "snapshot"));
            if offset > max_offset {
                checkpoint::remove_if_exists(&path)?;
                continue;
            }
            match ProducerStateManager::decode(&fs::read(&path).at(&path)?) {
                Some((o, state)) if o == offset => return Ok(Some((offset, state))),
                _ => {
                    tracing::warn!(path = %path.display(), "deleting damaged producer snapshot");
                    checkpoint::remove_if_exists(&path)?;
                }
            }
        }
        Ok(None)
    }
}

/// Writes `<offset>.snapshot` (the state `encode`d at `offset`) and prunes older snapshots.
pub(crate) fn write_snapshot_bytes(dir: &Path, offset: i64, bytes: &[u8]) -> Result<(), LogError> {
    let name = file_name(offset, "snapshot");
    checkpoint::write_atomically(dir, &name, bytes)?;
    let snapshots = list_snapshots(dir)?;
    let excess = snapshots.len().saturating_sub(SNAPSHOTS_KEPT);
    for old in &snapshots[..excess] {
        checkpoint::remove_if_exists(&dir.join(file_name(*old, "snapshot")))?;
    }
    Ok(())
}

/// Offsets of the `*.snapshot` files in `dir`, ascending.
fn list_snapshots(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let name = entry.at(dir)?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".snapshot") {
            if let (20, Ok(o)) = (stem.len(), stem.parse::<i64>()) {
                out.push(o);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Bounds-checked big-endian reader over a snapshot.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Option<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(i64::from_be_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(base_offset: i64, base_sequence: i32, last_offset_delta: i32) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta,
            base_timestamp: 0,
            max_timestamp: 10,
            producer_id: 9,
            producer_epoch: 1,
            base_sequence,
            records_count: last_offset_delta + 1,
        }
    }

    #[test]
    fn next_sequence_after_i32_max_is_zero() {
        let mut state = ProducerStateManager::default();
        state.replay(&header(0, i32::MAX - 1, 1), None);
        let mut append = state.begin_append();
        assert!(matches!(
            append.check(&header(2, 1, 0), false),
            Err(LogError::OutOfOrderSequence { expected: 0, .. })
        ));
        assert!(matches!(
            append.check(&header(2, 0, 2), false),
            Ok(SequenceCheck::Accept)
        ));
        // A batch spanning the wrap is recognised as a duplicate by its wrapped last sequence.
        assert!(matches!(
            append.check(&header(2, 0, 2), false),
            Ok(SequenceCheck::Duplicate(_))
        ));
        let mut wrapped = state.begin_append();
        assert!(matches!(
            wrapped.check(&header(0, i32::MAX - 1, 1), false),
            Ok(SequenceCheck::Duplicate(m)) if m.last_seq == i32::MAX
        ));
    }

    /// A batch of producer `pid` written at `timestamp`.
    fn at(pid: i64, base_offset: i64, timestamp: i64, transactional: bool) -> BatchHeader {
        BatchHeader {
            producer_id: pid,
            max_timestamp: timestamp,
            base_timestamp: timestamp,
            attributes: if transactional { 0x10 } else { 0 },
            ..header(base_offset, 0, 0)
        }
    }

    const EXPIRATION: i64 = 1_000;

    #[test]
    fn idle_producers_expire_unless_a_transaction_is_open() {
        let mut state = ProducerStateManager::default();
        state.replay(&at(1, 0, 100, false), None); // idle since 100
        state.replay(&at(2, 1, 900, false), None); // recent
        state.replay(&at(3, 2, 100, true), None); // idle, but its transaction is open
        state.replay(&at(4, 3, 100, true), None);
        // Producer 4's transaction was aborted at 950: the marker counts as activity.
        let aborted = state.complete_txn(4, 1, ControlType::Abort, 0, 4, 950);
        assert!(aborted.is_some());
        assert_eq!(state.entry(4).map(|e| e.last_timestamp), Some(950));

        // Not yet: idleness is measured up to the expiration itself.
        assert_eq!(state.remove_expired(1_099, EXPIRATION), 0);
        assert_eq!(state.remove_expired(1_100, EXPIRATION), 1);
        assert!(state.entry(1).is_none());
        assert!(state.entry(2).is_some() && state.entry(4).is_some());
        // Much later, only the producer with the open transaction is left, and it still bounds
        // the last stable offset.
        assert_eq!(state.remove_expired(1_000_000, EXPIRATION), 2);
        let left: Vec<i64> = state.producers().map(|(pid, _)| pid).collect();
        assert_eq!(left, [3]);
        assert_eq!(state.first_unstable_offset(), Some(2));
        // Once its marker comes it can expire like the others.
        state.complete_txn(3, 1, ControlType::Commit, 0, 5, 1_000_000);
        assert_eq!(state.first_unstable_offset(), None);
        assert_eq!(state.remove_expired(1_000_999, EXPIRATION), 0);
        assert_eq!(state.remove_expired(1_001_000, EXPIRATION), 1);
        assert_eq!(state.producers().count(), 0);
    }

    #[test]
    fn a_snapshot_taken_after_expiry_leaves_the_expired_producers_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = ProducerStateManager::default();
        for pid in 0..100 {
            state.replay(&at(pid, pid, pid * 10, false), None);
        }
        state.write_snapshot(dir.path(), 100).expect("write");
        // At 1_495 the producers last seen at or before 495 are gone.
        assert_eq!(state.remove_expired(1_495, EXPIRATION), 50);
        state.write_snapshot(dir.path(), 101).expect("write");
        let (_, back) = ProducerStateManager::load_snapshot(dir.path(), 101)
            .expect("load")
            .expect("some");
        let mut pids: Vec<i64> = back.producers().map(|(pid, _)| pid).collect();
        pids.sort_unstable();
        assert_eq!(pids, (50..100).collect::<Vec<_>>());
        assert_eq!(back.entry(70).map(|e| e.last_timestamp), Some(700));
        assert!(
            fs::metadata(dir.path().join(file_name(101, "snapshot")))
                .expect("stat")
                .len()
                < fs::metadata(dir.path().join(file_name(100, "snapshot")))
                    .expect("stat")
                    .len()
        );
    }

    #[test]
    fn an_expired_producer_resumes_with_its_old_epoch_and_sequence() {
        let mut state = ProducerStateManager::default();
        let mut first = header(0, 0, 4);
        first.max_timestamp = 100;
        state.replay(&first, None);
        assert_eq!(state.remove_expired(100 + EXPIRATION, EXPIRATION), 1);
        // Kafka accepts an unknown producer's first batch whatever its sequence (nothing is
        // left to check it against), then checks the following ones against it.
        let mut append = state.begin_append();
        assert!(matches!(
            append.check(&header(5, 5, 1), false),
            Ok(SequenceCheck::Accept)
        ));
        state.commit(append.into_staged());
        let mut append = state.begin_append();
        assert!(matches!(
            append.check(&header(7, 9, 0), false),
            Err(LogError::OutOfOrderSequence { expected: 7, .. })
        ));
        assert!(matches!(
            append.check(&header(7, 5, 1), false),
            Ok(SequenceCheck::Duplicate(_))
        ));
        assert!(matches!(
            append.check(&header(7, 7, 0), false),
            Ok(SequenceCheck::Accept)
        ));
    }

    #[test]
    fn version_2_snapshots_take_the_last_batch_timestamp() {
        let mut state = ProducerStateManager::default();
        state.replay(&at(1, 0, 123, false), None);
        let mut bytes = state.encode(1);
        // Rewrite as version 2: drop the last_timestamp field and fix version and CRC.
        let at_ts = 4 + 2 + 4 + 8 + 4 + 8 + 2 + 8 + 4;
        bytes.drain(at_ts..at_ts + 8);
        bytes[4..6].copy_from_slice(&2u16.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[10..]);
        bytes[6..10].copy_from_slice(&crc.to_be_bytes());
        let (_, back) = ProducerStateManager::decode(&bytes).expect("v2 decodes");
        assert_eq!(back.entry(1), state.entry(1));
    }

    #[test]
    fn snapshot_round_trip_and_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = ProducerStateManager::default();
        for seq in 0..7 {
            state.replay(&header(seq as i64, seq, 0), None);
        }
        assert_eq!(state.entry(9).map(|e| e.batches.len()), Some(5));
        state.write_snapshot(dir.path(), 7).expect("write");
        let (o, back) = ProducerStateManager::load_snapshot(dir.path(), 7)
            .expect("load")
            .expect("some");
        assert_eq!(o, 7);
        assert_eq!(back.entry(9), state.entry(9));
        // Above the log end: ignored and deleted.
        assert!(ProducerStateManager::load_snapshot(dir.path(), 6)
            .expect("load")
            .is_none());
        state.write_snapshot(dir.path(), 7).expect("write");
        let path = dir.path().join(file_name(7, "snapshot"));
        let mut bytes = fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, bytes).expect("write");
        assert!(ProducerStateManager::load_snapshot(dir.path(), 7)
            .expect("load")
            .is_none());
    }
}
