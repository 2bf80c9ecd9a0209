//! The replica manager: the partitions this broker hosts, kept in step with the metadata image.
//!
//! A broker hosts the partitions whose replicas include it (all of them on a single node).
//! After every metadata change [`ReplicaManager::sync`] opens the logs of new partitions, applies
//! changed topic configs and deletes the logs of deleted topics. Each partition directory holds
//! Kafka's `partition.metadata` file naming its topic ID, so a directory left by a deleted topic
//! is never mistaken for a new topic of the same name. Deletion renames the directory to
//! `<topic>-<partition>.<id>-delete` first (atomic) and removes it afterwards; leftovers of a
//! crash in between are removed at start.
//!
//! A partition whose log cannot be opened (most likely the open-file budget is exhausted:
//! EMFILE/ENFILE) does not stop the others: `sync` opens what it can, names each failure in the
//! log, keeps the failed ones as offline (Metadata shows them without a leader) and tries them
//! again at every later sync. Callers decide what a failure means: CreateTopics undoes the
//! topic and answers an error, start-up carries on unless the failure is damage on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use uuid::Uuid;

use super::Partition;
use crate::config::BrokerConfig;
use crate::log::{Log, LogConfig, LogError, CLEAN_SHUTDOWN_FILE};
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
    /// Partitions placed here whose log the last sync could not open.
    offline: RwLock<BTreeSet<(String, i32)>>,
    /// Held by a sync from start to end: the map's lock is not, while logs are opened.
    syncing: Mutex<()>,
}

/// A partition placed on this broker whose log could not be opened.
#[derive(Debug)]
pub struct OpenFailure {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
    pub error: LogError,
}

/// How many failures `sync` names one by one before summarizing the rest.
const FAILURES_LOGGED: usize = 10;

/// Kafka prints topic IDs as URL-safe base64 without padding.
pub fn topic_id_string(id: &Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

impl ReplicaManager {
    pub fn new(log_dir: &Path) -> Self {
        Self {
            log_dir: log_dir.to_path_buf(),
            topics: RwLock::new(HashMap::new()),
            offline: RwLock::new(BTreeSet::new()),
            syncing: Mutex::new(()),
        }
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics.get(topic)?.partitions.get(&partition).cloned()
    }

    /// Whether the log of a partition placed here could not be opened.
    pub fn is_offline(&self, topic: &str, partition: i32) -> bool {
        let offline = self.offline.read().unwrap_or_else(|p| p.into_inner());
        offline.contains(&(topic.to_string(), partition))
    }

    /// Removes what opening left of these partitions of a topic whose creation was undone:
    /// directories holding nothing yet, which a topic of the same name created later must not
    /// find (their `partition.metadata` names the undone topic's ID).
    pub fn remove_unopened(&self, failed: &[OpenFailure]) {
        for f in failed {
            let dir = self.partition_dir(&f.topic, f.partition);
            let ours = match read_topic_id(&dir) {
                Some(id) => id == f.topic_id,
                None => !dir.join(PARTITION_METADATA).exists(),
            };
            if ours && dir.exists() {
                self.delete_partition_dir(&f.topic, f.partition, &f.topic_id);
            }
        }
    }

    /// Whether some partition placed here is offline (a later sync may open it).
    pub fn has_offline(&self) -> bool {
        !self
            .offline
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
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
    ///
    /// Returns the new partitions whose log could not be opened (see the module docs); the
    /// error is for a failure to apply a new state to a partition already open.
    pub fn sync(
        &self,
        image: &MetadataImage,
        broker: &BrokerConfig,
        may_lead: bool,
    ) -> Result<Vec<OpenFailure>, LogError> {
        let _one_at_a_time = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        let node_id = broker.node_id;
        let now = now_ms();
        let mut to_open = Vec::new();
        let mut removed = Vec::new();
        {
            let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
            let gone: Vec<String> = topics
                .iter()
                .filter(|(name, hosted)| image.topic(name).map(|t| t.id) != Some(hosted.id))
                .map(|(name, _)| name.clone())
                .collect();
            for name in gone {
                if let Some(hosted) = topics.remove(&name) {
                    removed.push((name, hosted));
                }
            }
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
                    match hosted.partitions.get(&index) {
                        Some(hosted) => {
                            hosted.set_min_insync_replicas(min_isr);
                            hosted.apply_state(node_id, &state, now)?;
                        }
                        None => to_open.push((topic, index, config.clone(), min_isr, state)),
                    }
                }
            }
        }
        // Outside the map's lock from here: produce, fetch and metadata requests for other
        // partitions go on while directories are removed and logs are opened.
        for (name, hosted) in removed {
            for partition in hosted.partitions.into_values() {
                // Closed first: its descriptor may be the one removing the directory needs.
                let index = partition.index;
                // Parked fetches look again and find the topic gone.
                partition.wake_waiters();
                drop(partition);
                self.delete_partition_dir(&name, index, &hosted.id);
            }
        }
        let reopened_clean = to_open.iter().any(|(topic, index, ..)| {
            self.partition_dir(&topic.name, *index)
                .join(CLEAN_SHUTDOWN_FILE)
                .exists()
        });
        let threads = broker.num_recovery_threads_per_data_dir.max(1) as usize;
        let progress = OpenProgress::new(to_open.len(), threads);
        let opened = in_parallel(
            to_open,
            threads,
            |(topic, index, config, min_isr, state)| {
                let opened = self.open_partition(topic, index, &config, broker, now);
                let opened = opened.and_then(|partition| {
                    partition.set_min_insync_replicas(min_isr);
                    partition.apply_state(node_id, &state, now)?;
                    Ok(partition)
                });
                progress.one_done();
                (topic, index, opened)
            },
        );
        progress.finished();
        if reopened_clean {
            // Makes every opened log's removal of its clean-shutdown marker durable at once.
            crate::log::sync_log_dir(&self.log_dir)?;
        }
        let mut failures = Vec::new();
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        for (topic, index, opened) in opened {
            match opened {
                Ok(partition) => {
                    if let Some(hosted) = topics.get_mut(&topic.name) {
                        hosted.partitions.insert(index, Arc::new(partition));
                    }
                }
                Err(error) => failures.push(OpenFailure {
                    topic: topic.name.clone(),
                    topic_id: topic.id,
                    partition: index,
                    error,
                }),
            }
        }
        drop(topics);
        self.note_failures(&failures);
        Ok(failures)
    }

    fn open_partition(
        &self,
        topic: &TopicImage,
        index: i32,
        config: &LogConfig,
        broker: &BrokerConfig,
        now: i64,
    ) -> Result<Partition, LogError> {
        let dir = self.partition_dir(&topic.name, index);
        ensure_partition_metadata(&dir, &topic.id).map_err(|e| LogError::Io {
            path: dir.clone(),
            source: e,
        })?;
        let log = Log::open(&dir, config.clone(), now)?;
        Ok(Partition::new(
            Arc::from(topic.name.as_str()),
            index,
            topic.id,
            log,
            broker.flush_on_ack,
        ))
    }

    /// Records the offline partitions and names them in the log: one line each for the first
    /// few, then a count, so an exhausted budget does not flood the log.
    fn note_failures(&self, failures: &[OpenFailure]) {
        for f in failures.iter().take(FAILURES_LOGGED) {
            tracing::error!(topic = %f.topic, partition = f.partition, error = %f.error, "cannot open partition log; the partition is offline until a later attempt succeeds");
        }
        if failures.len() > FAILURES_LOGGED {
            let exhausted = failures
                .iter()
                .filter(|f| f.error.is_out_of_file_descriptors())
                .count();
            tracing::error!(
                offline = failures.len(),
                out_of_file_descriptors = exhausted,
                "cannot open partition logs (only the first {FAILURES_LOGGED} are named)"
            );
        }
        let mut offline = self.offline.write().unwrap_or_else(|p| p.into_inner());
        *offline = failures
            .iter()
            .map(|f| (f.topic.clone(), f.partition))
            .collect();
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
        let mut logs = Vec::new();
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        for (name, hosted) in topics.drain() {
            for partition in hosted.partitions.into_values() {
                let index = partition.index;
                match Arc::try_unwrap(partition) {
                    Ok(partition) => logs.push((name.clone(), index, partition.into_log())),
                    Err(_) => {
                        clean = false;
                        tracing::warn!(topic = %name, partition = index, "log still in use at shutdown; recovery will run at next start")
                    }
                }
            }
        }
        drop(topics);
        close_all(logs) && clean
    }
}

/// Progress of opening (and recovering) many partition logs, as at start-up with thousands of
/// them: a line at the start, one every [`PROGRESS_EVERY`] with how many are done and left, and
/// one at the end. Openings of a few logs (a topic created, a partition reassigned) that finish
/// quickly log nothing.
struct OpenProgress {
    total: usize,
    started: Instant,
    done: AtomicUsize,
    last_report: Mutex<Instant>,
}

/// Fewer logs than this open without a line at the start.
const PROGRESS_MIN_LOGS: usize = 100;
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl OpenProgress {
    fn new(total: usize, threads: usize) -> Self {
        if total >= PROGRESS_MIN_LOGS {
            tracing::info!(logs = total, threads, "opening partition logs");
        }
        let now = Instant::now();
        OpenProgress {
            total,
            started: now,
            done: AtomicUsize::new(0),
            last_report: Mutex::new(now),
        }
    }

    fn one_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_report.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= PROGRESS_EVERY && done < self.total {
            *last = Instant::now();
            tracing::info!(
                done,
                left = self.total - done,
                elapsed_ms = self.started.elapsed().as_millis() as u64,
                "opening partition logs"
            );
        }
    }

    fn finished(&self) {
        let elapsed = self.started.elapsed();
        if self.total >= PROGRESS_MIN_LOGS || elapsed >= PROGRESS_EVERY {
            tracing::info!(
                logs = self.total,
                elapsed_ms = elapsed.as_millis() as u64,
                "opened partition logs"
            );
        }
    }
}

/// Threads closing logs at shutdown: a close is a few fsyncs, which wait on the disk, not on
/// a core, and the disk serves concurrent ones together (Kafka closes logs on a pool too).
const CLOSE_THREADS: usize = 16;

/// Closes every log (flush, producer snapshot, clean-shutdown marker) on `CLOSE_THREADS`
/// threads; false if any failed.
fn close_all(logs: Vec<(String, i32, Log)>) -> bool {
    let closed = in_parallel(logs, CLOSE_THREADS, |(name, index, log)| {
        log.close()
            .map_err(|e| tracing::error!(topic = %name, partition = index, error = %e, "closing log failed"))
            .is_ok()
    });
    closed.into_iter().all(|ok| ok)
}

/// `f` applied to every item on up to `threads` scoped threads, results in the items' order.
/// One item, or one thread, runs on the calling thread.
fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let results = Mutex::new((0..count).map(|_| None).collect::<Vec<Option<R>>>());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some((i, item)) = next else {
                    return;
                };
                let r = f(item);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every item was processed"))
        .collect()
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
        message_timestamp_before_max_ms: t.message_timestamp_before_max_ms,
        message_timestamp_after_max_ms: t.message_timestamp_after_max_ms,
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
