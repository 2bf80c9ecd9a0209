//! The replica manager: the partitions this broker hosts, kept in step with the metadata image.
//!
//! A broker hosts the partitions whose replicas include it (all of them on a single node).
//! After every metadata change [`ReplicaManager::sync`] opens the logs of new partitions, applies
//! changed topic configs and deletes the logs of deleted topics. Each partition directory holds
//! Kafka's `partition.metadata` file naming its topic ID, so a directory left by a deleted topic
//! is never mistaken for a new topic of the same name. Deletion renames the directory to
//! `<topic>-<partition>.<id>-delete` first (atomic) and removes it afterwards; leftovers of a
//! crash in between are removed at start.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::Engine;
use uuid::Uuid;

use super::Partition;
use crate::config::BrokerConfig;
use crate::log::{Log, LogConfig, LogError};
use crate::metadata::{MetadataImage, TopicImage};

struct HostedTopic {
    id: Uuid,
    config: LogConfig,
    /// By partition index: only the partitions this broker is a replica of.
    partitions: BTreeMap<i32, Arc<Partition>>,
}

pub struct ReplicaManager {
    log_dir: PathBuf,
    topics: RwLock<HashMap<String, HostedTopic>>,
}

/// Kafka prints topic IDs as URL-safe base64 without padding.
pub fn topic_id_string(id: &Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

impl ReplicaManager {
    pub fn new(log_dir: &Path) -> Self {
        Self {
            log_dir: log_dir.to_path_buf(),
            topics: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics.get(topic)?.partitions.get(&partition).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics
            .values()
            .flat_map(|t| t.partitions.values().cloned())
            .collect()
    }

    fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.log_dir.join(format!("{topic}-{partition}"))
    }

    /// Brings the hosted partitions in line with `image`: opens the replicas placed on
    /// `broker.node_id`, and gives each its role (leader or follower) and leader epoch.
    ///
    /// Without `may_lead` (a cluster node that has not caught up with the metadata since it
    /// started or was fenced), partitions the image says this broker leads are held as
    /// followers of no one: that image may be stale, the cluster having elected another leader
    /// meanwhile, and a stale leader must neither accept writes nor serve reads.
    pub fn sync(
        &self,
        image: &MetadataImage,
        broker: &BrokerConfig,
        may_lead: bool,
    ) -> Result<(), LogError> {
        let node_id = broker.node_id;
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> = topics
            .iter()
            .filter(|(name, hosted)| image.topic(name).map(|t| t.id) != Some(hosted.id))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(hosted) = topics.remove(&name) {
                for partition in hosted.partitions.into_values() {
                    self.delete_partition_dir(&name, partition.index, &hosted.id);
                    // Parked fetches look again and find the topic gone.
                    partition.wake_waiters();
                }
            }
        }
        let now = now_ms();
        for topic in image.topics.values() {
            let config = log_config(topic, broker);
            let min_isr = crate::config::topic::effective_topic_config(&topic.configs, broker)
                .min_insync_replicas;
            let hosted = topics
                .entry(topic.name.clone())
                .or_insert_with(|| HostedTopic {
                    id: topic.id,
                    config: config.clone(),
                    partitions: BTreeMap::new(),
                });
            if hosted.config != config {
                for partition in hosted.partitions.values() {
                    partition.set_config(config.clone());
                }
                hosted.config = config.clone();
            }
            for index in 0..topic.partitions {
                let Some(mut state) = topic.partition(index, node_id) else {
                    continue;
                };
                if !may_lead && state.leader == node_id {
                    state.leader = -1;
                }
                if !state.replicas.contains(&node_id) {
                    continue;
                }
                if let Some(hosted) = hosted.partitions.get(&index) {
                    hosted.set_min_insync_replicas(min_isr);
                    hosted.apply_state(node_id, &state, now)?;
                    continue;
                }
                let dir = self.partition_dir(&topic.name, index);
                ensure_partition_metadata(&dir, &topic.id).map_err(|e| LogError::Io {
                    path: dir.clone(),
                    source: e,
                })?;
                let log = Log::open(&dir, config.clone(), now)?;
                let partition = Partition::new(
                    Arc::from(topic.name.as_str()),
                    index,
                    topic.id,
                    log,
                    broker.flush_on_ack,
                );
                partition.set_min_insync_replicas(min_isr);
                partition.apply_state(node_id, &state, now)?;
                hosted.partitions.insert(index, Arc::new(partition));
            }
        }
        Ok(())
    }

    fn delete_partition_dir(&self, topic: &str, partition: i32, id: &Uuid) {
        let dir = self.partition_dir(topic, partition);
        let doomed = self
            .log_dir
            .join(format!("{topic}-{partition}.{}-delete", id.simple()));
        if let Err(e) =
            std::fs::rename(&dir, &doomed).and_then(|_| std::fs::remove_dir_all(&doomed))
        {
            tracing::warn!(dir = %dir.display(), error = %e, "could not delete partition directory");
        }
    }

    /// At start: removes directories of deleted topics and half-finished deletions. Runs before
    /// the first [`Self::sync`]. With `keep_unknown` (cluster mode, where this node's image may
    /// still be behind the quorum's) a directory of a topic the image does not know is kept;
    /// one of a topic that was deleted and created again (another topic ID) is still removed.
    pub fn remove_stray_directories(
        &self,
        image: &MetadataImage,
        keep_unknown: bool,
    ) -> std::io::Result<()> {
        for entry in std::fs::read_dir(&self.log_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == CLUSTER_METADATA_DIR {
                continue;
            }
            let keep = match name.rsplit_once('-') {
                Some((topic, partition)) => match (image.topic(topic), partition.parse::<i32>()) {
                    (Some(t), Ok(p)) => {
                        p < t.partitions && read_topic_id(&entry.path()).is_none_or(|id| id == t.id)
                    }
                    (None, Ok(_)) => keep_unknown && !name.ends_with("-delete"),
                    _ => false,
                },
                None => false,
            };
            if !keep {
                tracing::info!(dir = %entry.path().display(), "removing directory of a deleted or unknown partition");
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(())
    }

    /// Closes every log cleanly (flush, producer-state snapshot, clean-shutdown marker); returns
    /// whether all of them closed cleanly.
    pub fn shutdown(&self) -> bool {
        let mut clean = true;
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        for (name, hosted) in topics.drain() {
            for partition in hosted.partitions.into_values() {
                let index = partition.index;
                match Arc::try_unwrap(partition) {
                    Ok(partition) => {
                        if let Err(e) = partition.into_log().close() {
                            clean = false;
                            tracing::error!(topic = %name, partition = index, error = %e, "closing log failed");
                        }
                    }
                    Err(_) => {
                        clean = false;
                        tracing::warn!(topic = %name, partition = index, "log still in use at shutdown; recovery will run at next start")
                    }
                }
            }
        }
        clean
    }
}

/// The effective log settings of a topic: its overrides over the broker's defaults.
pub fn log_config(topic: &TopicImage, broker: &BrokerConfig) -> LogConfig {
    let t = crate::config::topic::effective_topic_config(&topic.configs, broker);
    LogConfig {
        segment_bytes: t.segment_bytes,
        segment_ms: t.segment_ms,
        retention_ms: t.retention_ms,
        retention_bytes: t.retention_bytes,
        index_interval_bytes: t.index_interval_bytes,
        max_message_bytes: t.max_message_bytes,
        message_timestamp_type_log_append: t.message_timestamp_type_log_append,
        flush_interval_messages: t.flush_messages,
        flush_interval_ms: t.flush_ms,
        file_delete_delay_ms: t.file_delete_delay_ms,
        cleanup_delete: t.cleanup_policy.delete,
        cleanup_compact: t.cleanup_policy.compact,
        delete_retention_ms: t.delete_retention_ms,
        min_compaction_lag_ms: t.min_compaction_lag_ms,
        max_compaction_lag_ms: t.max_compaction_lag_ms,
        min_cleanable_dirty_ratio: t.min_cleanable_dirty_ratio,
    }
}

const PARTITION_METADATA: &str = "partition.metadata";
/// The metadata quorum's log directory (cluster mode), named as Kafka names its own.
pub const CLUSTER_METADATA_DIR: &str = "__cluster_metadata-0";

fn read_topic_id(dir: &Path) -> Option<Uuid> {
    let text = std::fs::read_to_string(dir.join(PARTITION_METADATA)).ok()?;
    let encoded = text.lines().find_map(|l| l.strip_prefix("topic_id: "))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim())
        .ok()?;
    Uuid::from_slice(&bytes).ok()
}

/// Writes Kafka's `partition.metadata` (the topic ID) when the directory is new.
fn ensure_partition_metadata(dir: &Path, id: &Uuid) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(PARTITION_METADATA);
    if !path.exists() {
        let tmp = dir.join(format!("{PARTITION_METADATA}.tmp"));
        std::fs::write(
            &tmp,
            format!("version: 0\ntopic_id: {}\n", topic_id_string(id)),
        )?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
