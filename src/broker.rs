//! The broker context shared by every connection: identity, config, metadata and partitions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cluster::ClusterNode;
use crate::config::BrokerConfig;
use crate::coordinator::group::{GroupConfig, GroupCoordinator};
use crate::coordinator::txn::{TransactionCoordinator, TxnConfig};
use crate::metadata::{Controller, LocalMetadataStore, MetadataImage, PartitionState, TopicImage};
use crate::partition::ReplicaManager;

/// The metadata log inside the first log directory.
const METADATA_LOG: &str = "__milena_metadata.log";

/// Network limits the server enforces, lifted out of the config once.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub socket_request_max_bytes: usize,
    pub connections_max_idle_ms: u64,
    /// SO_SNDBUF of each accepted connection; `None` leaves the OS default.
    pub socket_send_buffer_bytes: Option<usize>,
}

/// A socket buffer size setting: -1 (any value below 1) leaves the OS default, as in Kafka.
fn buffer_size(bytes: i32) -> Option<usize> {
    usize::try_from(bytes).ok().filter(|&n| n > 0)
}

/// Where clients are told to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: i32,
}

pub struct Broker {
    pub config: BrokerConfig,
    pub node_id: i32,
    pub cluster_id: String,
    /// The inter-broker listener's advertised endpoint (the first of `endpoints`).
    pub advertised: Endpoint,
    /// Every client listener's name and advertised endpoint, the inter-broker listener first.
    /// A client gets the endpoints of the listener it connected through, as in Kafka.
    pub endpoints: Vec<(String, Endpoint)>,
    pub limits: Limits,
    pub log_dir: PathBuf,
    pub controller: Controller,
    /// Cluster mode: this node's quorum side. `None` on a single node.
    pub cluster: Option<Arc<ClusterNode>>,
    pub replicas: ReplicaManager,
    pub groups: GroupCoordinator,
    pub txns: TransactionCoordinator,
    /// Fetch sessions (KIP-227) of consumers and followers.
    pub fetch_sessions: crate::handlers::fetch_session::FetchSessions,
    /// `authorizer.class.name` set: every request is checked against the ACLs of the image.
    /// `None`: everything is allowed and the checks cost a branch.
    pub authorizer: Option<crate::security::acl::Authorizer>,
    /// Request, connection and ISR counters (`metrics/`), exposed by the HTTP listener.
    pub metrics: crate::metrics::BrokerMetrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("log directory {path}: {source}")]
    LogDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    MetaProperties(String),
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
    #[error("opening partition logs: {0}")]
    Log(#[from] crate::log::LogError),
}

impl Broker {
    /// The first log directory, created if needed, and the cluster ID kept in its
    /// `meta.properties` (written on first start). A directory of another node or cluster is
    /// refused. In cluster mode without `cluster.id` the ID is derived from the voters.
    pub fn open_log_dir(config: &BrokerConfig) -> Result<(PathBuf, String), StartError> {
        let log_dir = config
            .log_dirs
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("./data"));
        std::fs::create_dir_all(&log_dir).map_err(|source| StartError::LogDir {
            path: log_dir.display().to_string(),
            source,
        })?;
        let configured = config.cluster_id.clone().or_else(|| {
            config
                .quorum
                .as_ref()
                .map(crate::cluster::derived_cluster_id)
        });
        let cluster_id = meta_properties(&log_dir, config.node_id, configured.as_deref())?;
        Ok((log_dir, cluster_id))
    }

    /// Opens the data directory: identity, metadata (the local log on a single node, the
    /// quorum's committed image in cluster mode), then every hosted partition's log (with
    /// recovery where the last shutdown was not clean).
    pub fn open(config: BrokerConfig, advertised: Endpoint) -> Result<Arc<Self>, StartError> {
        Self::open_with(config, vec![("PLAINTEXT".into(), advertised)], None)
    }

    /// `endpoints`: the client listeners' names and advertised endpoints, the inter-broker
    /// listener first; never empty.
    pub fn open_with(
        config: BrokerConfig,
        endpoints: Vec<(String, Endpoint)>,
        cluster: Option<Arc<ClusterNode>>,
    ) -> Result<Arc<Self>, StartError> {
        let advertised = endpoints
            .first()
            .map(|(_, e)| e.clone())
            .ok_or_else(|| StartError::MetaProperties("no client listener".into()))?;
        let (log_dir, cluster_id) = Self::open_log_dir(&config)?;
        let io = |source| StartError::LogDir {
            path: log_dir.display().to_string(),
            source,
        };
        let controller = match &cluster {
            Some(node) => Controller::quorum(node.clone()),
            None => {
                let store = Arc::new(LocalMetadataStore::open(&log_dir.join(METADATA_LOG))?);
                Controller::local(store, config.node_id)
            }
        };
        let replicas = ReplicaManager::new(&log_dir);
        let image = controller.image();
        replicas
            .remove_stray_directories(&image, cluster.is_some())
            .map_err(io)?;
        // A cluster node leads nothing until the controller has seen it catch up. A partition
        // that cannot be opened for want of file descriptors stays offline (named in the log,
        // tried again at later syncs) rather than keeping the others from being served; damage
        // on disk still stops start-up for an operator to decide.
        let failures = replicas.sync(&image, &config, cluster.is_none())?;
        if let Some(damaged) = failures
            .into_iter()
            .find(|f| !f.error.is_out_of_file_descriptors())
        {
            return Err(damaged.error.into());
        }
        let limits = Limits {
            max_connections: usize::try_from(config.max_connections)
                .unwrap_or(usize::MAX)
                .min(1 << 20),
            socket_request_max_bytes: usize::try_from(config.socket_request_max_bytes).unwrap_or(0),
            connections_max_idle_ms: u64::try_from(config.connections_max_idle_ms)
                .unwrap_or(600_000),
            socket_send_buffer_bytes: buffer_size(config.socket_send_buffer_bytes),
        };
        let groups =
            GroupCoordinator::new(group_config(&config), config.offsets_topic_num_partitions);
        let txns = TransactionCoordinator::new(txn_config(&config));
        let broker = Arc::new(Self {
            node_id: config.node_id,
            cluster_id,
            advertised,
            endpoints,
            limits,
            log_dir,
            controller,
            cluster,
            replicas,
            groups,
            txns,
            fetch_sessions: crate::handlers::fetch_session::FetchSessions::new(
                config.max_incremental_fetch_session_cache_slots,
            ),
            authorizer: config.authorizer_enabled.then(|| {
                crate::security::acl::Authorizer::new(
                    config.super_users.iter().cloned(),
                    config.allow_everyone_if_no_acl_found,
                )
            }),
            metrics: Default::default(),
            config,
        });
        broker.sync_coordinators();
        broker.txns.complete_prepared(&broker);
        Ok(broker)
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    /// The brokers clients of `listener` may use, with their advertised endpoints on it: the
    /// unfenced registered brokers in cluster mode (those without such a listener are left out,
    /// as Kafka does), this one on a single node.
    pub fn live_brokers(&self, listener: &str) -> Vec<(i32, Endpoint, Option<String>)> {
        if self.cluster.is_none() {
            let endpoint = self
                .endpoints
                .iter()
                .find(|(name, _)| name == listener)
                .map_or(&self.advertised, |(_, e)| e);
            return vec![(self.node_id, endpoint.clone(), None)];
        }
        self.image()
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter_map(|b| {
                let e = b.endpoints.iter().find(|e| e.listener == listener)?;
                Some((
                    b.id,
                    Endpoint {
                        host: e.host.clone(),
                        port: e.port,
                    },
                    b.rack.clone(),
                ))
            })
            .collect()
    }

    /// How many brokers are registered and unfenced (this one on a single node).
    pub fn live_broker_count(&self) -> usize {
        match &self.cluster {
            None => 1,
            Some(_) => self.image().brokers.values().filter(|b| !b.fenced).count(),
        }
    }

    /// The controller id Metadata and DescribeCluster report: the active controller in cluster
    /// mode (any broker would do, as every broker forwards; this one is the least indirect).
    pub fn controller_id(&self) -> i32 {
        match &self.cluster {
            Some(node) => node
                .controller_id()
                .filter(|id| self.image().is_live(*id))
                .unwrap_or(self.node_id),
            None => self.node_id,
        }
    }

    /// A partition's replicas, ISR, leader and epochs.
    pub fn partition_state(&self, topic: &TopicImage, index: i32) -> Option<PartitionState> {
        topic.partition(index, self.node_id)
    }

    /// The live leader of a partition and its leader epoch (KIP-951: named to a client that
    /// sent a produce or fetch to the wrong broker).
    pub fn live_leader(&self, topic: &str, index: i32) -> Option<(i32, i32)> {
        let image = self.image();
        let state = self.partition_state(image.topic(topic)?, index)?;
        (state.leader >= 0 && image.is_live(state.leader))
            .then_some((state.leader, state.leader_epoch))
    }

    /// The partition, if this broker leads it; else the Kafka error a client gets:
    /// UNKNOWN_TOPIC_OR_PARTITION for what does not exist, NOT_LEADER_OR_FOLLOWER when another
    /// broker leads it (the client refreshes its metadata and goes there).
    pub fn leader_partition(
        &self,
        topic: &str,
        index: i32,
    ) -> Result<Arc<crate::partition::Partition>, kafka_protocol::ResponseError> {
        use kafka_protocol::ResponseError;
        let image = self.image();
        let state = image
            .topic(topic)
            .and_then(|t| self.partition_state(t, index))
            .ok_or(ResponseError::UnknownTopicOrPartition)?;
        if state.leader != self.node_id {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        // Led here but not opened yet (the metadata change is being applied), or not taken up
        // yet (see `may_lead`).
        self.replicas
            .get(topic, index)
            .filter(|p| p.is_leader())
            .ok_or(ResponseError::NotLeaderOrFollower)
    }

    /// Applies the current metadata image to the hosted partitions; called after every change.
    /// Brings the hosted partitions in line with the metadata image; returns the partitions
    /// whose log could not be opened (they stay offline until a later call opens them).
    pub fn apply_metadata(
        &self,
    ) -> Result<Vec<crate::partition::manager::OpenFailure>, crate::log::LogError> {
        let image = self.controller.image();
        self.replicas
            .sync(&image, &self.config, self.may_lead(&image))
    }

    /// Whether this broker may act on the leaderships `image` gives it: always on a single
    /// node; in a cluster, once the image holds this broker's current registration unfenced.
    /// The controller unfences a broker when its heartbeats show it has caught up with the
    /// metadata log (Kafka brokers likewise take no leadership before their initial
    /// catch-up), so a node restarted with a stale image never acts as a leader the cluster has
    /// replaced meanwhile.
    fn may_lead(&self, image: &MetadataImage) -> bool {
        let Some(node) = &self.cluster else {
            return true;
        };
        image
            .brokers
            .get(&self.node_id)
            .is_some_and(|b| !b.fenced && b.epoch == node.broker_epoch())
    }

    /// Coordinators move with leadership: the groups of every `__consumer_offsets` partition
    /// and the transactional ids of every `__transaction_state` partition this broker now leads
    /// are loaded from its log, those of partitions it no longer leads are dropped (Kafka's
    /// onElection/onResignation). Called after the metadata is applied, never
    /// while a coordinator lock is held.
    pub fn sync_coordinators(&self) {
        use crate::coordinator::group::OFFSETS_TOPIC;
        let image = self.image();
        let led: std::collections::BTreeSet<i32> = match image.topic(OFFSETS_TOPIC) {
            Some(t) => (0..t.partitions)
                .filter(|&p| self.leader_partition(OFFSETS_TOPIC, p).is_ok())
                .collect(),
            None => Default::default(),
        };
        let loaded = self.groups.loaded_partitions();
        for &p in loaded.difference(&led) {
            self.groups.unload_partition(p);
        }
        for &p in led.difference(&loaded) {
            self.groups.load_partition(self, p);
        }
        self.groups.remove_offsets_of_deleted_topics(self);
        self.txns.sync(self);
    }
}

/// Reads or writes Kafka's `meta.properties` (cluster ID, node ID) in the log directory. A
/// directory written by another node ID is refused, as Kafka refuses it.
fn meta_properties(
    dir: &Path,
    node_id: i32,
    configured: Option<&str>,
) -> Result<String, StartError> {
    let path = dir.join("meta.properties");
    let err = |m: String| StartError::MetaProperties(format!("{}: {m}", path.display()));
    if let Ok(text) = std::fs::read_to_string(&path) {
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
                .map(|v| v.trim().to_string())
        };
        let cluster_id = value("cluster.id").ok_or_else(|| err("no cluster.id".into()))?;
        if let Some(stored) = value("node.id") {
            if stored != node_id.to_string() {
                return Err(err(format!(
                    "the directory belongs to node.id {stored}, but this broker is node.id {node_id}"
                )));
            }
        }
        if let Some(configured) = configured {
            if configured != cluster_id {
                return Err(err(format!(
                    "the directory belongs to cluster {cluster_id}, but cluster.id is {configured}"
                )));
            }
        }
        return Ok(cluster_id);
    }
    let cluster_id = configured
        .map(str::to_string)
        .unwrap_or_else(|| crate::partition::manager::topic_id_string(&uuid::Uuid::new_v4()));
    let directory_id = crate::partition::manager::topic_id_string(&uuid::Uuid::new_v4());
    let tmp = dir.join("meta.properties.tmp");
    std::fs::write(
        &tmp,
        format!("#\n#Written by Milena\ncluster.id={cluster_id}\ndirectory.id={directory_id}\nnode.id={node_id}\nversion=1\n"),
    )
    .and_then(|_| std::fs::rename(&tmp, &path))
    .map_err(|e| err(e.to_string()))?;
    Ok(cluster_id)
}

/// The transaction coordinator's settings, from Kafka's `transaction.*` keys.
fn txn_config(config: &BrokerConfig) -> TxnConfig {
    let int = |key: &str, default: i64| {
        config
            .raw_value(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    };
    TxnConfig {
        partitions: config.transaction_state_log_num_partitions,
        max_timeout_ms: i32::try_from(int("transaction.max.timeout.ms", 900_000))
            .unwrap_or(900_000),
        abort_check_interval_ms: u64::try_from(int(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            10_000,
        ))
        .unwrap_or(10_000),
        id_expiration_ms: config.transactional_id_expiration_ms,
        remove_expired_interval_ms: config.transaction_remove_expired_interval_ms,
    }
}

/// The group coordinator's bounds, from Kafka's `group.*` settings.
fn group_config(config: &BrokerConfig) -> GroupConfig {
    let int = |key: &str, default: i32| {
        config
            .raw_value(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    };
    GroupConfig {
        min_session_timeout_ms: int("group.min.session.timeout.ms", 6000),
        max_session_timeout_ms: int("group.max.session.timeout.ms", 1_800_000),
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        max_size: usize::try_from(int("group.max.size", i32::MAX)).unwrap_or(usize::MAX),
    }
}
