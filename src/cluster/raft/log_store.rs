//! The Raft log of the metadata quorum on disk, in `__cluster_metadata-0/` of the first log
//! directory.
//!
//! Files:
//! - `raft.log`: one entry per line, `<crc32c of the JSON, 8 hex digits> <JSON entry>\n`, as the
//!   single-node metadata log frames its records. An append is fsynced before openraft is told
//!   it is stored. At open a torn last line (a crash mid-append) is cut off; damage before the
//!   last line stops start-up.
//! - `vote.json`, `committed.json`, `purged.json`: replaced atomically (write, fsync, rename,
//!   fsync the directory) before the call that saves them returns. A vote is never forgotten,
//!   so a node cannot vote twice in one term across a crash.
//!
//! One writer: openraft serialises the calls; the reader (replication tasks) shares the
//! in-memory entries behind a mutex that is never held across an await.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{LogId, OptionalSend, StorageError, StorageIOError, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Entry, NodeId, TypeConfig};

const LOG_FILE: &str = "raft.log";
const VOTE_FILE: &str = "vote.json";
const COMMITTED_FILE: &str = "committed.json";
const PURGED_FILE: &str = "purged.json";

#[derive(Clone)]
pub struct LogStore {
    shared: Arc<Mutex<Inner>>,
    dir: PathBuf,
}

struct Inner {
    entries: BTreeMap<u64, Entry>,
    /// Byte position of each entry's line in `raft.log`, for truncation.
    positions: BTreeMap<u64, u64>,
    file_len: u64,
    file: Arc<Mutex<File>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    purged: Option<LogId<NodeId>>,
}

fn io_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::write(&std::io::Error::other(e.to_string())).into()
}

impl LogStore {
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut content = Vec::new();
        file.read_to_end(&mut content)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let purged: Option<LogId<NodeId>> = read_json(dir, PURGED_FILE)?;
        let mut entries = BTreeMap::new();
        let mut positions = BTreeMap::new();
        let mut offset = 0usize;
        let mut line_no = 0;
        while offset < content.len() {
            line_no += 1;
            let Some(end) = content[offset..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let is_last = offset + end + 1 == content.len();
            match parse_line(&content[offset..offset + end]) {
                Ok(entry) => {
                    let index = entry.log_id.index;
                    positions.insert(index, offset as u64);
                    entries.insert(index, entry);
                }
                Err(_) if is_last => break,
                Err(reason) => {
                    return Err(format!(
                        "{} is damaged at line {line_no}: {reason}",
                        path.display()
                    ))
                }
            }
            offset += end + 1;
        }
        if offset < content.len() {
            tracing::warn!(path = %path.display(), dropped_bytes = content.len() - offset, "the metadata quorum's log ended with a torn entry; truncating it");
            file.set_len(offset as u64)
                .and_then(|_| file.sync_all())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if let Some(purged) = purged {
            entries.retain(|i, _| *i > purged.index);
        }
        let inner = Inner {
            entries,
            positions,
            file_len: offset as u64,
            file: Arc::new(Mutex::new(file)),
            vote: read_json(dir, VOTE_FILE)?,
            committed: read_json(dir, COMMITTED_FILE)?,
            purged,
        };
        Ok(Self {
            shared: Arc::new(Mutex::new(inner)),
            dir: dir.to_path_buf(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `value` to `name` atomically, off the async workers.
    async fn save<T: Serialize>(
        &self,
        name: &'static str,
        value: &T,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = serde_json::to_vec(value).map_err(io_err)?;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            crate::log::checkpoint::write_atomically(&dir, name, &bytes)
        })
        .await
        .map_err(io_err)?
        .map_err(io_err)
    }
}

fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<Option<T>, String> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn parse_line(line: &[u8]) -> Result<Entry, String> {
    if line.len() < 10 || line[8] != b' ' {
        return Err("malformed frame".into());
    }
    let crc = std::str::from_utf8(&line[..8])
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("malformed checksum")?;
    let json = &line[9..];
    if crc32c::crc32c(json) != crc {
        return Err("checksum mismatch".into());
    }
    serde_json::from_slice(json).map_err(|e| format!("undecodable entry: {e}"))
}

fn frame(entry: &Entry) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(entry)?;
    let mut out = format!("{:08x} ", crc32c::crc32c(&json)).into_bytes();
    out.extend_from_slice(&json);
    out.push(b'\n');
    Ok(out)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        let inner = self.lock();
        Ok(inner.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let inner = self.lock();
        let last = inner
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(inner.purged);
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.save(VOTE_FILE, vote).await?;
        self.lock().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.lock().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.save(COMMITTED_FILE, &committed).await?;
        self.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut bytes = Vec::new();
        let file = {
            let mut inner = self.lock();
            for entry in entries {
                let index = entry.log_id.index;
                let line = frame(&entry).map_err(io_err)?;
                let position = inner.file_len + bytes.len() as u64;
                inner.positions.insert(index, position);
                bytes.extend_from_slice(&line);
                inner.entries.insert(index, entry);
            }
            inner.file_len += bytes.len() as u64;
            inner.file.clone()
        };
        let written = tokio::task::spawn_blocking(move || {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            file.write_all(&bytes)?;
            file.sync_data()
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        let failed = written.as_ref().err().map(|e| e.to_string());
        callback.log_io_completed(written);
        match failed {
            Some(e) => Err(io_err(e)),
            None => Ok(()),
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let (file, len) = {
            let mut inner = self.lock();
            let Some(&position) = inner.positions.get(&log_id.index) else {
                return Ok(());
            };
            inner.entries.split_off(&log_id.index);
            inner.positions.split_off(&log_id.index);
            inner.file_len = position;
            (inner.file.clone(), position)
        };
        tokio::task::spawn_blocking(move || {
            let file = file.lock().unwrap_or_else(|p| p.into_inner());
            file.set_len(len)?;
            file.sync_all()
        })
        .await
        .map_err(io_err)?
        .map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        // The entries stay in the file (the metadata log is small); `purged.json` says where
        // the readable log starts, so a restart drops them again.
        self.save(PURGED_FILE, &log_id).await?;
        let mut inner = self.lock();
        inner.purged = Some(log_id);
        let keep = inner.entries.split_off(&(log_id.index + 1));
        inner.entries = keep;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_interior_line_is_refused_and_torn_tail_cut() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOG_FILE), b"00000000 {}\n00000000 {}\n").unwrap();
        assert!(LogStore::open(dir.path()).err().unwrap().contains("line 1"));
        std::fs::write(dir.path().join(LOG_FILE), b"00000000 {\"tor").unwrap();
        LogStore::open(dir.path()).unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len(),
            0
        );
    }
}
