//! Offset and time indexes of one segment, in Kafka's file formats.
//!
//! - `.index`: 8-byte entries `relative_offset i32 BE | position i32 BE`. The relative offset is
//!   the batch's last offset minus the segment base; the position is where that batch starts in
//!   the `.log`. Entries are added every `index_interval_bytes` of appended log, so a lookup
//!   lands at most that many bytes before the wanted batch.
//! - `.timeindex`: 12-byte entries `timestamp i64 BE | relative_offset i32 BE`: the largest
//!   timestamp seen so far in the segment and the (last) offset of the batch that first reached
//!   it. Added at the same moments as offset entries, and only when the timestamp increased.
//!
//! Invariants: both are strictly increasing in their key. The entries live in memory (0.2% of
//! the log for offset entries) so lookups never touch the disk; the files are only appended to,
//! rewritten on rebuild, and sanity-checked on load. Indexes are derived data: when a check
//! fails the segment is rescanned and they are rebuilt, never trusted.
//!
//! File descriptors are a budgeted resource (one per partition at rest), so an index holds no
//! open file: new entries stay in memory and are written (open, write, close) when the segment
//! is sealed, when the log is flushed and at clean close. Entries not yet written are lost in a
//! crash, which costs nothing: the loader rescans every segment above the recovery point, and a
//! segment's indexes are written at seal, before the recovery point can pass it.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::error::{IoContext, LogError};

pub(crate) trait IndexEntry: Copy {
    const SIZE: usize;
    fn encode(&self, out: &mut Vec<u8>);
    /// `b` is exactly `SIZE` bytes.
    fn decode(b: &[u8]) -> Self;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: i32,
    pub position: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: i32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: i32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

/// An index file's entries in memory, and how many of them the file holds.
pub(crate) struct IndexFile<E> {
    path: PathBuf,
    entries: Vec<E>,
    /// The first `written` entries are in the file; the rest only in memory.
    written: usize,
    /// Whether the file's content is known to be fsynced.
    synced: bool,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Creates (or empties) the file; no handle is kept.
    pub(crate) fn create(path: PathBuf) -> Result<Self, LogError> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at(&path)?;
        Ok(IndexFile {
            path,
            entries: Vec::new(),
            written: 0,
            synced: false,
        })
    }

    /// Reads entries from disk; `None` when missing or not a whole number of entries.
    pub(crate) fn read_entries(path: &Path) -> Result<Option<Vec<E>>, LogError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::io(path, e)),
        };
        if bytes.len() % E::SIZE != 0 {
            return Ok(None);
        }
        Ok(Some(bytes.chunks_exact(E::SIZE).map(E::decode).collect()))
    }

    /// An index whose file holds exactly `entries`, already read and checked.
    pub(crate) fn open_with(path: PathBuf, entries: Vec<E>) -> Self {
        IndexFile {
            path,
            written: entries.len(),
            entries,
            synced: true,
        }
    }

    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[E] {
        &self.entries
    }

    pub(crate) fn last(&self) -> Option<E> {
        self.entries.last().copied()
    }

    /// Adds an entry in memory; [`Self::write`] puts it in the file.
    pub(crate) fn append(&mut self, entry: E) {
        self.entries.push(entry);
    }

    /// Replaces the entries and the whole file content (rebuild).
    pub(crate) fn replace(&mut self, entries: Vec<E>) -> Result<(), LogError> {
        let mut buf = Vec::with_capacity(entries.len() * E::SIZE);
        for e in &entries {
            e.encode(&mut buf);
        }
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)
            .and_then(|f| f.write_all_at(&buf, 0))
            .at(&self.path)?;
        self.written = entries.len();
        self.entries = entries;
        self.synced = false;
        Ok(())
    }

    /// Writes the entries not yet in the file, and with `sync` fsyncs it. Opens the file only
    /// when there is something to do, and closes it before returning.
    pub(crate) fn write(&mut self, sync: bool) -> Result<(), LogError> {
        let pending = &self.entries[self.written..];
        if pending.is_empty() && (self.synced || !sync) {
            return Ok(());
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .at(&self.path)?;
        if !pending.is_empty() {
            let mut buf = Vec::with_capacity(pending.len() * E::SIZE);
            for e in pending {
                e.encode(&mut buf);
            }
            let at = (self.written * E::SIZE) as u64;
            file.write_all_at(&buf, at).at(&self.path)?;
            self.written = self.entries.len();
            self.synced = false;
        }
        if sync {
            file.sync_data().at(&self.path)?;
            self.synced = true;
        }
        Ok(())
    }

    /// fsyncs what [`Self::write`] wrote, without writing (a second handle, so no `&mut`).
    pub(crate) fn sync_written(&self) -> Result<(), LogError> {
        if self.synced {
            return Ok(());
        }
        std::fs::File::open(&self.path)
            .and_then(|f| f.sync_data())
            .at(&self.path)
    }

    /// fsyncs everything, writing the pending entries first.
    pub(crate) fn flush(&mut self) -> Result<(), LogError> {
        self.write(true)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl IndexFile<OffsetEntry> {
    /// Start position for a scan looking for `relative_offset`: the position of the last indexed
    /// batch whose last offset is <= the target (0 if none), which is never after the target.
    pub(crate) fn lookup(&self, relative_offset: i32) -> u64 {
        let idx = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        match idx {
            0 => 0,
            i => self.entries[i - 1].position as u64,
        }
    }

    /// The last indexed batch start at or before `position` (0 if none).
    pub(crate) fn floor_position(&self, position: u64) -> u64 {
        let idx = self
            .entries
            .partition_point(|e| e.position as u64 <= position);
        match idx {
            0 => 0,
            i => self.entries[i - 1].position as u64,
        }
    }
}

impl IndexFile<TimeEntry> {
    /// Relative offset of the last entry with timestamp < `target_ms`: every batch up to that
    /// offset has a smaller max timestamp, so a scan for `target_ms` may start there.
    pub(crate) fn lookup(&self, target_ms: i64) -> Option<i32> {
        let idx = self.entries.partition_point(|e| e.timestamp < target_ms);
        idx.checked_sub(1).map(|i| self.entries[i].relative_offset)
    }
}

/// Structural checks of an offset index against its segment: strictly increasing keys and
/// positions, all inside the log, offsets below the next segment's base.
pub(crate) fn offset_entries_sane(entries: &[OffsetEntry], log_size: u64, max_rel: i64) -> bool {
    let mut prev: Option<OffsetEntry> = None;
    entries.iter().all(|e| {
        let ok = e.relative_offset >= 0
            && e.position >= 0
            && (e.position as u64) < log_size
            && i64::from(e.relative_offset) < max_rel
            && prev
                .is_none_or(|p| e.relative_offset > p.relative_offset && e.position > p.position);
        prev = Some(*e);
        ok
    })
}

/// Structural checks of a time index: strictly increasing timestamps, non-decreasing offsets.
pub(crate) fn time_entries_sane(entries: &[TimeEntry], max_rel: i64) -> bool {
    let mut prev: Option<TimeEntry> = None;
    entries.iter().all(|e| {
        let ok = e.relative_offset >= 0
            && i64::from(e.relative_offset) < max_rel
            && prev.is_none_or(|p| {
                e.timestamp > p.timestamp && e.relative_offset >= p.relative_offset
            });
        prev = Some(*e);
        ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_returns_floor_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut idx = IndexFile::<OffsetEntry>::create(dir.path().join("a.index")).expect("c");
        for (r, p) in [(9, 4100), (20, 8300)] {
            idx.append(OffsetEntry {
                relative_offset: r,
                position: p,
            });
        }
        assert_eq!(
            std::fs::metadata(idx.path()).expect("meta").len(),
            0,
            "entries stay in memory until written"
        );
        idx.write(false).expect("write");
        assert_eq!(idx.lookup(0), 0);
        assert_eq!(idx.lookup(9), 4100);
        assert_eq!(idx.lookup(15), 4100);
        assert_eq!(idx.lookup(100), 8300);
        let back = IndexFile::<OffsetEntry>::read_entries(idx.path())
            .expect("read")
            .expect("whole");
        assert_eq!(back, idx.entries());
        assert!(offset_entries_sane(&back, 9000, 100));
        assert!(!offset_entries_sane(&back, 8000, 100));
    }

    #[test]
    fn time_lookup_is_strictly_below_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut idx = IndexFile::<TimeEntry>::create(dir.path().join("a.timeindex")).expect("c");
        idx.replace(vec![
            TimeEntry {
                timestamp: 100,
                relative_offset: 3,
            },
            TimeEntry {
                timestamp: 200,
                relative_offset: 8,
            },
        ])
        .expect("replace");
        assert_eq!(idx.lookup(100), None);
        assert_eq!(idx.lookup(101), Some(3));
        assert_eq!(idx.lookup(1000), Some(8));
        assert!(time_entries_sane(idx.entries(), 10));
        assert!(!time_entries_sane(idx.entries(), 8));
    }
}
