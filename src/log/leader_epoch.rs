//! The leader-epoch cache: for each leader epoch that wrote to this log, the offset of its
//! first batch. Followers truncate by it after a leader change (never by the high watermark),
//! and OffsetForLeaderEpoch answers from it (consumers validate positions with it, KIP-320).
//!
//! Invariant: entries grow strictly in both epoch and start offset, and every start offset is
//! in `[log_start_offset, log_end_offset]`; the log keeps it so on truncation (`truncate_from_end`)
//! and when log_start_offset moves (`truncate_from_start`).
//!
//! File `leader-epoch-checkpoint` in the partition directory, Kafka's format (text):
//!
//! ```text
//! 0                 version
//! 2                 number of entries
//! 0 0               epoch start_offset
//! 3 1200
//! ```
//!
//! Written atomically (tmp, fsync, rename, fsync dir) whenever the entries change. An assign is
//! written before the batch that carries the new epoch, so the file never lacks an entry for
//! data in the log; extra entries beyond the log end (a crash between the two writes) are cut at
//! the next open. An empty file is an empty cache, as in Kafka; a file that does not parse is
//! ignored with a warning and the cache is rebuilt from the batches.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::checkpoint;
use super::error::LogError;

pub(crate) const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";
const VERSION: &str = "0";

/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One cache entry: `epoch` started writing at `start_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The answer to "where does epoch N end?" (Kafka's endOffsetFor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// The largest known epoch at or below the requested one, or UNDEFINED_EPOCH.
    pub leader_epoch: i32,
    /// The start offset of the next epoch, the log end offset for the latest epoch, or
    /// UNDEFINED_EPOCH_OFFSET.
    pub end_offset: i64,
}

impl EpochEndOffset {
    pub const UNDEFINED: EpochEndOffset = EpochEndOffset {
        leader_epoch: UNDEFINED_EPOCH,
        end_offset: UNDEFINED_EPOCH_OFFSET,
    };
}

/// The entries, without I/O: every operation says whether it changed anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EpochEntries(Vec<EpochEntry>);

impl EpochEntries {
    pub(crate) fn as_slice(&self) -> &[EpochEntry] {
        &self.0
    }

    pub(crate) fn latest(&self) -> Option<EpochEntry> {
        self.0.last().copied()
    }

    /// Records that `epoch` starts at `start_offset`. Only a higher epoch is taken; a lower or
    /// equal one is ignored (batches of a live log never go back in epoch). Trailing entries
    /// starting at or after `start_offset` are dropped first, so offsets stay increasing.
    /// O(1) amortized: only the last entries are looked at.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if self.latest().is_some_and(|l| l.epoch >= epoch) {
            return false;
        }
        while self
            .0
            .last()
            .is_some_and(|l| l.start_offset >= start_offset)
        {
            self.0.pop();
        }
        self.0.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// Kafka's endOffsetFor, for a log whose end is `log_end_offset`.
    #[cfg(test)]
    pub(crate) fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> EpochEndOffset {
        self.end_offset_with(requested, log_end_offset, None)
    }

    /// `end_offset_for` as if `pending` (an epoch above every entry) had been assigned.
    pub(crate) fn end_offset_with(
        &self,
        requested: i32,
        log_end_offset: i64,
        pending: Option<EpochEntry>,
    ) -> EpochEndOffset {
        if requested == UNDEFINED_EPOCH {
            return EpochEndOffset::UNDEFINED;
        }
        if pending
            .or(self.latest())
            .is_some_and(|l| l.epoch == requested)
        {
            // The epoch still being written: it ends at the log end.
            return EpochEndOffset {
                leader_epoch: requested,
                end_offset: log_end_offset,
            };
        }
        // First entry with an epoch above the requested one.
        let higher = self.0.partition_point(|e| e.epoch <= requested);
        let next = self.0.get(higher).copied();
        let Some(next) = next.or(pending.filter(|p| p.epoch > requested)) else {
            return EpochEndOffset::UNDEFINED;
        };
        match higher.checked_sub(1).map(|i| self.0[i]) {
            // Below every known epoch: the data before the first one is gone, so the follower
            // is told to start from there, with its own epoch echoed (as Kafka does).
            None => EpochEndOffset {
                leader_epoch: requested,
                end_offset: next.start_offset,
            },
            Some(floor) => EpochEndOffset {
                leader_epoch: floor.epoch,
                end_offset: next.start_offset,
            },
        }
    }

    /// Drops the entries starting at or after `end_offset` (the log was cut there). A negative
    /// offset changes nothing, as in Kafka.
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        if end_offset < 0 {
            return false;
        }
        let keep = self.0.partition_point(|e| e.start_offset < end_offset);
        let changed = keep < self.0.len();
        self.0.truncate(keep);
        changed
    }

    /// The log now starts at `start_offset`: entries starting at or before it are replaced by
    /// the latest of them, moved to start there.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let covered = self.0.partition_point(|e| e.start_offset <= start_offset);
        if covered == 0 {
            return false;
        }
        let epoch = self.0[covered - 1].epoch;
        let before = self.0[0];
        self.0.drain(..covered - 1);
        self.0[0] = EpochEntry {
            epoch,
            start_offset,
        };
        covered > 1 || before != self.0[0]
    }

    pub(crate) fn clear(&mut self) -> bool {
        let changed = !self.0.is_empty();
        self.0.clear();
        changed
    }

    fn encode(&self) -> String {
        let mut text = format!("{VERSION}\n{}\n", self.0.len());
        for e in &self.0 {
            text.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        text
    }

    /// Parses the file's text; `None` if it is not a well-formed, increasing list.
    fn decode(text: &str) -> Option<EpochEntries> {
        let mut lines = text.lines();
        let Some(version) = lines.next() else {
            return Some(EpochEntries::default());
        };
        if version.trim() != VERSION {
            return None;
        }
        let count: usize = lines.next()?.trim().parse().ok()?;
        let mut entries = EpochEntries::default();
        for _ in 0..count {
            let mut fields = lines.next()?.split_whitespace();
            let epoch: i32 = fields.next()?.parse().ok()?;
            let start_offset: i64 = fields.next()?.parse().ok()?;
            if fields.next().is_some() || !entries.assign(epoch, start_offset) {
                return None;
            }
        }
        // assign() drops entries it would have to reorder: a shorter list means disorder.
        (entries.0.len() == count).then_some(entries)
    }
}

/// The cache of one partition log and its checkpoint file.
pub(crate) struct LeaderEpochCache {
    dir: PathBuf,
    entries: EpochEntries,
}

impl LeaderEpochCache {
    /// Loads the checkpoint of `dir`. The flag is false when the file is missing or unreadable:
    /// the caller must rebuild the entries from the log.
    pub(crate) fn load(dir: &Path) -> Result<(LeaderEpochCache, bool), LogError> {
        let path = dir.join(LEADER_EPOCH_FILE);
        let loaded = match fs::read(&path) {
            Ok(bytes) => {
                let parsed = EpochEntries::decode(&String::from_utf8_lossy(&bytes));
                if parsed.is_none() {
                    tracing::warn!(path = %path.display(), "ignoring unreadable leader-epoch checkpoint; rebuilding it from the log");
                }
                parsed
            }
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(LogError::io(&path, e)),
        };
        let found = loaded.is_some();
        let cache = LeaderEpochCache {
            dir: dir.to_path_buf(),
            entries: loaded.unwrap_or_default(),
        };
        Ok((cache, found))
    }

    pub(crate) fn entries(&self) -> &EpochEntries {
        &self.entries
    }

    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.latest().map(|e| e.epoch)
    }

    /// Mutates the entries in memory only; `write` persists them (for batched rebuilds).
    pub(crate) fn entries_mut(&mut self) -> &mut EpochEntries {
        &mut self.entries
    }

    /// `EpochEntries::assign`, persisted before returning when it changed anything.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<(), LogError> {
        if self.entries.assign(epoch, start_offset) {
            tracing::debug!(dir = %self.dir.display(), epoch, start_offset, "new leader epoch");
            self.write()?;
        }
        Ok(())
    }

    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) -> Result<(), LogError> {
        if self.entries.truncate_from_end(end_offset) {
            self.write()?;
        }
        Ok(())
    }

    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) -> Result<(), LogError> {
        if self.entries.truncate_from_start(start_offset) {
            self.write()?;
        }
        Ok(())
    }

    pub(crate) fn clear(&mut self) -> Result<(), LogError> {
        if self.entries.clear() {
            self.write()?;
        }
        Ok(())
    }

    pub(crate) fn write(&self) -> Result<(), LogError> {
        checkpoint::write_atomically(
            &self.dir,
            LEADER_EPOCH_FILE,
            self.entries.encode().as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(i32, i64)]) -> EpochEntries {
        EpochEntries(
            list.iter()
                .map(|&(epoch, start_offset)| EpochEntry {
                    epoch,
                    start_offset,
                })
                .collect(),
        )
    }

    fn end(e: &EpochEntries, requested: i32, leo: i64) -> (i32, i64) {
        let r = e.end_offset_for(requested, leo);
        (r.leader_epoch, r.end_offset)
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let e = entries(&[(1, 0), (3, 10), (5, 20)]);
        assert_eq!(end(&e, 5, 30), (5, 30), "latest epoch ends at the LEO");
        assert_eq!(end(&e, 3, 30), (3, 20));
        assert_eq!(end(&e, 4, 30), (3, 20), "unknown epoch: the one below it");
        assert_eq!(end(&e, 0, 30), (0, 0), "below the first: its start");
        assert_eq!(end(&e, 6, 30), (-1, -1), "above the latest");
        assert_eq!(end(&e, -1, 30), (-1, -1));
        assert_eq!(end(&EpochEntries::default(), 0, 30), (-1, -1));
    }

    #[test]
    fn a_pending_epoch_answers_as_if_assigned_at_the_log_end() {
        let e = entries(&[(1, 0), (3, 10)]);
        let pending = Some(EpochEntry {
            epoch: 7,
            start_offset: 30,
        });
        let with = |requested| {
            let r = e.end_offset_with(requested, 30, pending);
            (r.leader_epoch, r.end_offset)
        };
        let mut assigned = e.clone();
        assigned.assign(7, 30);
        for requested in -1..10 {
            assert_eq!(
                with(requested),
                end(&assigned, requested, 30),
                "{requested}"
            );
        }
        assert_eq!(with(3), (3, 30));
        assert_eq!(with(7), (7, 30));
        let empty = EpochEntries::default().end_offset_with(
            0,
            0,
            Some(EpochEntry {
                epoch: 0,
                start_offset: 0,
            }),
        );
        assert_eq!((empty.leader_epoch, empty.end_offset), (0, 0));
    }

    #[test]
    fn assign_takes_only_higher_epochs_and_keeps_offsets_increasing() {
        let mut e = EpochEntries::default();
        assert!(e.assign(0, 0));
        assert!(!e.assign(0, 5), "same epoch");
        assert!(e.assign(2, 10));
        assert!(!e.assign(1, 20), "lower epoch ignored");
        assert!(e.assign(4, 10), "same start replaces the entry there");
        assert_eq!(e, entries(&[(0, 0), (4, 10)]));
        assert!(!e.assign(-1, 30));
    }

    #[test]
    fn truncations_follow_kafka() {
        let mut e = entries(&[(1, 0), (3, 10), (5, 20)]);
        assert!(
            !e.truncate_from_start(0),
            "exclusive: an entry at the offset stays"
        );
        assert!(e.truncate_from_start(12));
        assert_eq!(e, entries(&[(3, 12), (5, 20)]));
        assert!(!e.truncate_from_end(21));
        assert!(e.truncate_from_end(20));
        assert_eq!(e, entries(&[(3, 12)]));
        assert!(e.truncate_from_end(0));
        assert_eq!(e, EpochEntries::default());
    }

    /// The obvious model: a map from epoch to start offset, operations written out longhand.
    #[derive(Default)]
    struct Model(std::collections::BTreeMap<i32, i64>);

    impl Model {
        fn assign(&mut self, epoch: i32, start: i64) {
            if epoch < 0 || self.0.keys().next_back().is_some_and(|&l| l >= epoch) {
                return;
            }
            self.0.retain(|_, s| *s < start);
            self.0.insert(epoch, start);
        }
        fn end_offset_for(&self, requested: i32, leo: i64) -> (i32, i64) {
            if requested == -1 {
                return (-1, -1);
            }
            if self.0.keys().next_back() == Some(&requested) {
                return (requested, leo);
            }
            let next = self.0.range(requested + 1..).next();
            let floor = self.0.range(..=requested).next_back();
            match (floor, next) {
                (_, None) => (-1, -1),
                (None, Some((_, s))) => (requested, *s),
                (Some((e, _)), Some((_, s))) => (*e, *s),
            }
        }
        fn truncate_from_end(&mut self, offset: i64) {
            if offset >= 0 {
                self.0.retain(|_, s| *s < offset);
            }
        }
        fn truncate_from_start(&mut self, offset: i64) {
            let covered: Vec<i32> = self
                .0
                .iter()
                .filter(|(_, s)| **s <= offset)
                .map(|(e, _)| *e)
                .collect();
            if let Some(&last) = covered.last() {
                for e in covered {
                    self.0.remove(&e);
                }
                self.0.insert(last, offset);
            }
        }
        fn list(&self) -> Vec<(i32, i64)> {
            self.0.iter().map(|(e, s)| (*e, *s)).collect()
        }
    }

    #[test]
    fn random_operations_agree_with_a_model() {
        for seed in 1..=20u64 {
            let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = move |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (rng % n) as i64
            };
            let (mut real, mut model) = (EpochEntries::default(), Model::default());
            let mut leo = 0i64;
            for step in 0..2000 {
                match next(10) {
                    0..=4 => {
                        let epoch = next(30) as i32 - 1;
                        let start = (leo - 3 + next(6)).max(0);
                        real.assign(epoch, start);
                        model.assign(epoch, start);
                        leo = leo.max(start) + next(5);
                    }
                    5 | 6 => {
                        let offset = (leo - next(8)).max(0);
                        real.truncate_from_end(offset);
                        model.truncate_from_end(offset);
                        leo = leo.min(offset);
                    }
                    7 => {
                        let offset = (leo - next(10)).max(0);
                        real.truncate_from_start(offset);
                        model.truncate_from_start(offset);
                    }
                    _ => {
                        let epoch = next(32) as i32 - 1;
                        assert_eq!(
                            end(&real, epoch, leo),
                            model.end_offset_for(epoch, leo),
                            "seed {seed} step {step} epoch {epoch} {real:?}"
                        );
                    }
                }
                let list: Vec<(i32, i64)> =
                    real.0.iter().map(|e| (e.epoch, e.start_offset)).collect();
                assert_eq!(list, model.list(), "seed {seed} step {step}");
                assert!(real
                    .0
                    .windows(2)
                    .all(|w| w[0].epoch < w[1].epoch && w[0].start_offset < w[1].start_offset));
                assert_eq!(EpochEntries::decode(&real.encode()), Some(real.clone()));
            }
        }
    }

    #[test]
    fn the_file_round_trips_in_kafka_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut cache, found) = LeaderEpochCache::load(dir.path()).expect("load");
        assert!(!found);
        cache.assign(0, 0).expect("assign");
        cache.assign(3, 17).expect("assign");
        let text = fs::read_to_string(dir.path().join(LEADER_EPOCH_FILE)).expect("read");
        assert_eq!(text, "0\n2\n0 0\n3 17\n");
        let (again, found) = LeaderEpochCache::load(dir.path()).expect("load");
        assert!(found);
        assert_eq!(again.entries(), cache.entries());
    }

    #[test]
    fn empty_and_damaged_files() {
        assert_eq!(EpochEntries::decode(""), Some(EpochEntries::default()));
        assert_eq!(
            EpochEntries::decode("0\n0\n"),
            Some(EpochEntries::default())
        );
        for bad in [
            "1\n0\n",
            "0\n2\n0 0\n",
            "0\n1\nx 0\n",
            "0\n2\n3 10\n1 20\n",
            "0\n2\n1 10\n3 5\n",
            "0\n1\n1 2 3\n",
        ] {
            assert_eq!(EpochEntries::decode(bad), None, "{bad:?}");
        }
    }
}
