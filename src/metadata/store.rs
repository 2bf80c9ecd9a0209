//! Durable storage of metadata records.
//!
//! [`LocalMetadataStore`] is the single-node store: an append-only file of records, one per line,
//! framed as `<crc32c of the JSON, 8 hex digits> <JSON>\n`. It is fsynced before a commit returns,
//! so an acknowledged CreateTopics survives `kill -9`. At open, a torn or damaged *last* line
//! (a crash in the middle of an append) is cut off with a warning; damage before the last line
//! means the file was altered and start-up stops with [`MetadataError::Corrupt`].
//!
//! One writer: commits are serialised by the store's mutex; readers take the current image
//! without blocking writers.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::{MetadataError, MetadataImage, MetadataRecord};

/// The seam between metadata users and where the records are kept (a local file now, a Raft log
/// in cluster mode).
pub trait MetadataStore: Send + Sync {
    /// The current image; cheap, never blocks on a commit in progress for long.
    fn image(&self) -> Arc<MetadataImage>;
    /// Makes `records` durable, applies them, and returns the resulting image.
    fn commit(&self, records: &[MetadataRecord]) -> Result<Arc<MetadataImage>, MetadataError>;
}

pub struct LocalMetadataStore {
    path: PathBuf,
    file: Mutex<File>,
    image: RwLock<Arc<MetadataImage>>,
}

impl LocalMetadataStore {
    pub fn open(path: &Path) -> Result<Self, MetadataError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut content = Vec::new();
        file.read_to_end(&mut content)?;
        let (image, valid_len) = replay_file(path, &content)?;
        if valid_len < content.len() {
            tracing::warn!(
                path = %path.display(),
                dropped_bytes = content.len() - valid_len,
                "metadata log ended with a torn record; truncating it"
            );
            file.set_len(valid_len as u64)?;
            file.sync_all()?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            image: RwLock::new(Arc::new(image)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn replay_file(path: &Path, content: &[u8]) -> Result<(MetadataImage, usize), MetadataError> {
    let mut image = MetadataImage::default();
    let mut offset = 0;
    let mut line_no = 0;
    while offset < content.len() {
        line_no += 1;
        let Some(end) = content[offset..].iter().position(|&b| b == b'\n') else {
            // No newline: the last append was cut short.
            return Ok((image, offset));
        };
        let line = &content[offset..offset + end];
        let is_last = offset + end + 1 == content.len();
        match parse_line(line) {
            Ok(record) => image.replay(&record),
            Err(_) if is_last => return Ok((image, offset)),
            Err(reason) => {
                return Err(MetadataError::Corrupt {
                    path: path.display().to_string(),
                    line: line_no,
                    reason,
                })
            }
        }
        offset += end + 1;
    }
    Ok((image, offset))
}

fn parse_line(line: &[u8]) -> Result<MetadataRecord, String> {
    if line.len() < 10 || line[8] != b' ' {
        return Err("malformed frame".into());
    }
    let crc_hex = std::str::from_utf8(&line[..8]).map_err(|_| "malformed checksum")?;
    let crc = u32::from_str_radix(crc_hex, 16).map_err(|_| "malformed checksum")?;
    let json = &line[9..];
    if crc32c::crc32c(json) != crc {
        return Err("checksum mismatch".into());
    }
    serde_json::from_slice(json).map_err(|e| format!("undecodable record: {e}"))
}

fn frame_line(record: &MetadataRecord, out: &mut Vec<u8>) {
    // Serialising a plain enum of strings, integers and maps cannot fail.
    let json = serde_json::to_vec(record).unwrap_or_default();
    out.extend_from_slice(format!("{:08x} ", crc32c::crc32c(&json)).as_bytes());
    out.extend_from_slice(&json);
    out.push(b'\n');
}

impl MetadataStore for LocalMetadataStore {
    fn image(&self) -> Arc<MetadataImage> {
        self.image
            .read()
            .map(|image| image.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn commit(&self, records: &[MetadataRecord]) -> Result<Arc<MetadataImage>, MetadataError> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut bytes = Vec::new();
        for record in records {
            frame_line(record, &mut bytes);
        }
        file.write_all(&bytes)?;
        file.sync_data()?;
        let mut next = (*self.image()).clone();
        for record in records {
            next.replay(record);
        }
        let next = Arc::new(next);
        *self.image.write().unwrap_or_else(|p| p.into_inner()) = next.clone();
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn topic(name: &str) -> MetadataRecord {
        MetadataRecord::Topic {
            name: name.into(),
            id: uuid::Uuid::new_v4(),
            partitions: 3,
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn commits_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.log");
        let store = LocalMetadataStore::open(&path).unwrap();
        store.commit(&[topic("a"), topic("b")]).unwrap();
        store
            .commit(&[MetadataRecord::PartitionCount {
                name: "a".into(),
                count: 6,
            }])
            .unwrap();
        let id = store.image().topic("a").unwrap().id;
        drop(store);
        let store = LocalMetadataStore::open(&path).unwrap();
        let image = store.image();
        assert_eq!(image.topic("a").unwrap().partitions, 6);
        assert_eq!(image.topic("a").unwrap().id, id);
        assert_eq!(image.topic_by_id(&id).unwrap().name, "a");
        assert!(image.topic("b").is_some());
    }

    #[test]
    fn torn_last_record_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.log");
        let store = LocalMetadataStore::open(&path).unwrap();
        store.commit(&[topic("a")]).unwrap();
        drop(store);
        let good_len = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"0000abcd {\"type\":\"top").unwrap();
        drop(f);
        let store = LocalMetadataStore::open(&path).unwrap();
        assert!(store.image().topic("a").is_some());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
        store.commit(&[topic("b")]).unwrap();
        drop(store);
        let store = LocalMetadataStore::open(&path).unwrap();
        assert!(store.image().topic("b").is_some());
    }

    /// A metadata log written before cluster mode (topics without placement records) opens as
    /// it did: every partition on the one node, led by it.
    #[test]
    fn a_log_from_before_placement_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.log");
        let mut bytes = Vec::new();
        for json in [
            r#"{"type":"topic","name":"old","id":"6f1b3d2e-8a4c-4b5d-9e6f-0a1b2c3d4e5f","partitions":2,"configs":{"retention.ms":"1000"}}"#,
            r#"{"type":"producer_ids","next":1000}"#,
            r#"{"type":"partition_count","name":"old","count":3}"#,
        ] {
            bytes.extend_from_slice(
                format!("{:08x} {json}\n", crc32c::crc32c(json.as_bytes())).as_bytes(),
            );
        }
        std::fs::write(&path, bytes).unwrap();
        let store = LocalMetadataStore::open(&path).unwrap();
        let image = store.image();
        let topic = image.topic("old").expect("the old topic");
        assert_eq!(topic.partitions, 3);
        assert_eq!(topic.configs["retention.ms"], "1000");
        assert_eq!(image.next_producer_id, 1000);
        let state = topic.partition(2, 7).expect("partition 2");
        assert_eq!(
            (state.leader, state.replicas, state.isr),
            (7, vec![7], vec![7])
        );
        assert!(topic.partition(3, 7).is_none());
    }

    #[test]
    fn interior_damage_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.log");
        let store = LocalMetadataStore::open(&path).unwrap();
        store.commit(&[topic("a"), topic("b")]).unwrap();
        drop(store);
        let mut content = std::fs::read(&path).unwrap();
        content[20] ^= 0x01;
        std::fs::write(&path, content).unwrap();
        match LocalMetadataStore::open(&path) {
            Err(MetadataError::Corrupt { line: 1, .. }) => {}
            other => panic!("expected corruption at line 1, got {:?}", other.err()),
        }
    }
}
