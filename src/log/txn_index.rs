//! The aborted-transaction index of a segment: `<base>.txnindex`, in Apache Kafka's format.
//!
//! One entry per transaction aborted by a marker written into the segment, 34 bytes big endian:
//!
//! ```text
//! version i16 (0) | producer_id i64 | first_offset i64 | last_offset i64 | last_stable_offset i64
//! ```
//!
//! `first_offset` is the transaction's first offset in this partition (possibly in an older
//! segment), `last_offset` the abort marker's offset, `last_stable_offset` the partition's LSO
//! once the abort completed. A read_committed Fetch lists the aborted transactions overlapping
//! the fetched range so the consumer can drop their records.
//!
//! The entries also live in memory (they are few: one per aborted transaction). Appends write
//! at the end of the file, opening it for that write only (no descriptor is held: file
//! descriptors are budgeted, one per partition at rest); `flush` fsyncs it with the segment. A rebuild after a crash rewrites
//! the file from the log (see `Log::rebuild_producer_state`), so a torn tail is harmless: a
//! partial last entry is ignored when loading.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::checkpoint;
use super::error::{IoContext, LogError};

const ENTRY_SIZE: usize = 34;
const VERSION: i16 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..2].copy_from_slice(&VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(a)
        };
        (i16::from_be_bytes([b[0], b[1]]) == VERSION).then(|| AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// Like Kafka, the file exists only once the segment holds an abort marker.
pub(crate) struct TxnIndex {
    path: PathBuf,
    entries: Vec<AbortedTxn>,
    /// Written since the last fsync.
    dirty: bool,
}

impl TxnIndex {
    /// Loads the index if the file exists; keeps the valid prefix of its entries.
    pub(crate) fn open(path: PathBuf) -> Result<TxnIndex, LogError> {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(LogError::io(&path, e)),
        };
        let mut entries = Vec::with_capacity(bytes.len() / ENTRY_SIZE);
        for chunk in bytes.chunks_exact(ENTRY_SIZE) {
            match AbortedTxn::decode(chunk) {
                Some(e) => entries.push(e),
                None => break,
            }
        }
        let mut index = TxnIndex {
            path,
            entries,
            dirty: false,
        };
        if bytes.len() != index.entries.len() * ENTRY_SIZE {
            tracing::warn!(path = %index.path.display(), "dropping a damaged tail of a transaction index");
            index.rewrite()?;
        }
        Ok(index)
    }

    /// A new, empty index (an old file of the same name is removed).
    pub(crate) fn create(path: PathBuf) -> Result<TxnIndex, LogError> {
        checkpoint::remove_if_exists(&path)?;
        Ok(TxnIndex {
            path,
            entries: Vec::new(),
            dirty: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    fn open_for_write(&self) -> Result<std::fs::File, LogError> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .at(&self.path)
    }

    pub(crate) fn append(&mut self, entry: AbortedTxn) -> Result<(), LogError> {
        let at = (self.entries.len() * ENTRY_SIZE) as u64;
        self.open_for_write()?
            .write_all_at(&entry.encode(), at)
            .at(&self.path)?;
        self.entries.push(entry);
        self.dirty = true;
        Ok(())
    }

    /// Drops the entries of markers at or after `offset` (they are rebuilt by a replay).
    pub(crate) fn truncate_from(&mut self, offset: i64) -> Result<(), LogError> {
        let keep = self.entries.partition_point(|e| e.last_offset < offset);
        if keep < self.entries.len() {
            self.entries.truncate(keep);
            self.rewrite()?;
        }
        Ok(())
    }

    /// Cuts the file to the entries in memory (removing it when there are none).
    fn rewrite(&mut self) -> Result<(), LogError> {
        if self.entries.is_empty() {
            self.dirty = false;
            return checkpoint::remove_if_exists(&self.path);
        }
        let len = (self.entries.len() * ENTRY_SIZE) as u64;
        self.open_for_write()?.set_len(len).at(&self.path)?;
        self.dirty = true;
        Ok(())
    }

    /// fsyncs the file if it was written since the last [`Self::flush`] (`&self`, for an fsync
    /// outside the write path; a repeated fsync is harmless).
    pub(crate) fn sync(&self) -> Result<(), LogError> {
        if !self.dirty {
            return Ok(());
        }
        File::open(&self.path)
            .and_then(|f| f.sync_data())
            .at(&self.path)
    }

    pub(crate) fn flush(&mut self) -> Result<(), LogError> {
        self.sync()?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i64, first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: last + 1,
        }
    }

    #[test]
    fn append_reopen_truncate_and_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut index = TxnIndex::create(path.clone()).expect("create");
        for i in 0..3 {
            index.append(entry(7, i * 10, i * 10 + 5)).expect("append");
        }
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len(), 3 * ENTRY_SIZE);
        // Kafka's layout: version 0, then producer id 7.
        assert_eq!(&bytes[..10], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
        drop(index);
        let mut index = TxnIndex::open(path.clone()).expect("open");
        assert_eq!(index.entries().len(), 3);
        index.truncate_from(15).expect("truncate");
        assert_eq!(index.entries(), &[entry(7, 0, 5)]);
        index.truncate_from(0).expect("truncate");
        assert!(
            !path.exists(),
            "an index without entries has no file, as in Kafka"
        );
        index.append(entry(7, 0, 5)).expect("append");
        drop(index);
        // A partial entry (torn write) is dropped at open.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[0, 0, 1]);
        std::fs::write(&path, bytes).expect("write");
        let index = TxnIndex::open(path.clone()).expect("open");
        assert_eq!(index.entries(), &[entry(7, 0, 5)]);
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len(),
            ENTRY_SIZE as u64
        );
    }
}
