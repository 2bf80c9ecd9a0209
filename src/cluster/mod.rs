//! Cluster mode: several Milena nodes form one Kafka cluster.
//!
//! Every node is both a voter of the metadata quorum and a broker (Kafka's combined mode):
//! - [`raft`]: the metadata log replicated with openraft; the committed image is published to
//!   the broker side of the node.
//! - [`active`]: the active controller, on the Raft leader only: topic changes, broker
//!   registration and heartbeats, fencing and leader election, as pure functions of the image.
//! - [`rpc`]: what nodes say to each other on the controller listener.
//! - [`channel`]: how this node connects to its peers' inter-broker and controller listeners
//!   (TLS client, SASL login).
//! - this module: the node's broker side toward the quorum: it registers, heartbeats, and
//!   forwards clients' changes to the active controller (any broker accepts CreateTopics).

pub mod active;
pub mod channel;
pub mod clean_shutdown;
pub mod fetcher;
pub mod isr;
pub mod kafka_client;
pub mod raft;
pub mod rpc;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::{BrokerConfig, QuorumConfig};
use crate::metadata::controller::alter_partition::AlterPartitionRequest;
use crate::metadata::controller::{ControllerOp, OpOutcome, QuorumClient};
use crate::metadata::{BrokerEndpoint, MetadataError, MetadataImage};
use active::ActiveController;
use kafka_protocol::messages::{ApiKey, WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use raft::{MetadataRaft, Published};
use rpc::{Client, Request, Response};

/// How long a client's change may wait for an active controller (Kafka's Admin default request
/// timeout is 30 s; leave it room to get our answer).
const OP_TIMEOUT: Duration = Duration::from_secs(20);
const RPC_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_millis(100);
/// How long a partition leader may take to write and replicate transaction markers.
const MARKERS_TIMEOUT: Duration = Duration::from_secs(30);

/// The cluster id of a cluster whose nodes do not set `cluster.id`: derived from the voters, so
/// that every node computes the same one with no format step.
pub fn derived_cluster_id(quorum: &QuorumConfig) -> String {
    let id = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("milena:{}", quorum.voters_string()).as_bytes(),
    );
    crate::partition::manager::topic_id_string(&id)
}

pub struct ClusterNode {
    /// The node itself, for tasks spawned from `&self`.
    me: std::sync::Weak<ClusterNode>,
    node_id: i32,
    cluster_id: String,
    quorum: QuorumConfig,
    raft: MetadataRaft,
    active: Arc<ActiveController>,
    peers: HashMap<i32, Arc<Client>>,
    runtime: tokio::runtime::Handle,
    /// This broker's registration epoch; 0 until registered.
    broker_epoch: AtomicI64,
    /// Reasons to stop the process.
    fatal: tokio::sync::mpsc::UnboundedSender<String>,
    /// Whether the active controller last said this broker is fenced.
    fenced: std::sync::atomic::AtomicBool,
    /// The broker epoch of the last clean shutdown, read (and removed) at start.
    previous_broker_epoch: Option<i64>,
    /// Where the clean-shutdown file goes.
    log_dir: std::path::PathBuf,
    /// Connections to other brokers' inter-broker listener (replica fetches, markers).
    inter_broker_channel: Arc<channel::ChannelBuilder>,
}

/// Why start-up failed, or why a running node must stop (a peer refused our configuration).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Start(String),
}

impl ClusterNode {
    /// Starts the node's quorum side: the Raft log in `__cluster_metadata-0` of `metadata.log.dir`
    /// (default: `log_dir`), the controller listener, the active controller's session timer.
    /// `fatal` receives a reason to stop the process (a peer with a contradicting configuration).
    pub async fn start(
        config: &BrokerConfig,
        cluster_id: String,
        controller_listener: TcpListener,
        log_dir: &std::path::Path,
        fatal: tokio::sync::mpsc::UnboundedSender<String>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, ClusterError> {
        let quorum = config
            .quorum
            .clone()
            .ok_or_else(|| ClusterError::Start("no controller.quorum.voters".into()))?;
        let node_id = config.node_id;
        let previous_broker_epoch = clean_shutdown::take_previous_broker_epoch(log_dir);
        let voters_string = quorum.voters_string();
        let hello = {
            let (cluster_id, voters) = (cluster_id.clone(), voters_string.clone());
            Arc::new(move |to: i32| Request::Hello {
                cluster_id: cluster_id.clone(),
                voters: voters.clone(),
                from: node_id,
                to,
            })
        };
        let plaintext_peer =
            |listener: &str| crate::config::peer::PeerSecurity::plaintext(listener);
        let channel = |peer: crate::config::peer::PeerSecurity| {
            channel::ChannelBuilder::new(&peer)
                .map(Arc::new)
                .map_err(|e| ClusterError::Start(format!("cannot connect to peers: {e}")))
        };
        let controller_channel = channel(
            config
                .controller_peer
                .clone()
                .unwrap_or_else(|| plaintext_peer(&quorum.controller_listener.name)),
        )?;
        let inter_broker_channel = channel(
            config
                .inter_broker_peer
                .clone()
                .unwrap_or_else(|| plaintext_peer("PLAINTEXT")),
        )?;
        let listener_security = rpc::ListenerSecurity {
            tls: match config.ssl.get(&quorum.controller_listener.name) {
                Some(settings) if quorum.controller_listener.protocol.uses_tls() => Some(Arc::new(
                    crate::server::tls::TlsListener::new(settings)
                        .map_err(|e| ClusterError::Start(format!("cannot set up TLS: {e}")))?,
                )),
                _ => None,
            },
            authorizer: config.authorizer_enabled.then(|| {
                Arc::new(crate::security::acl::Authorizer::new(
                    config.super_users.clone(),
                    false,
                ))
            }),
        };
        let (refusals, refused) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(judge_refusals(refused, fatal.clone(), quorum.voters.len()));
        let raft = MetadataRaft::start(
            node_id,
            &quorum.voters,
            &config
                .metadata_log_dir
                .as_deref()
                .unwrap_or(log_dir)
                .join(crate::partition::manager::CLUSTER_METADATA_DIR),
            hello.clone(),
            controller_channel.clone(),
            refusals,
        )
        .await
        .map_err(ClusterError::Start)?;
        let active = Arc::new(ActiveController::new(
            node_id,
            config.clone(),
            raft.clone(),
            Duration::from_millis(quorum.session_timeout_ms),
        ));
        let peers = quorum
            .voters
            .iter()
            .filter(|v| v.id != node_id)
            .map(|v| {
                let client = Client::new(v.address(), hello(v.id), controller_channel.clone());
                (v.id, Arc::new(client))
            })
            .collect();
        let node = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            node_id,
            cluster_id,
            quorum,
            raft,
            active,
            peers,
            runtime: tokio::runtime::Handle::current(),
            broker_epoch: AtomicI64::new(0),
            fenced: std::sync::atomic::AtomicBool::new(true),
            fatal,
            previous_broker_epoch,
            log_dir: log_dir.to_path_buf(),
            inter_broker_channel,
        });
        let handler = {
            let node = node.clone();
            Arc::new(move |request: Request| {
                let node = node.clone();
                async move { node.answer(request).await }
            })
        };
        tokio::spawn(rpc::serve(
            controller_listener,
            listener_security,
            handler,
            shutdown.clone(),
        ));
        tokio::spawn(session_timer(node.active.clone(), shutdown));
        Ok(node)
    }

    /// How this broker connects to other brokers' inter-broker listener.
    pub fn inter_broker_channel(&self) -> &Arc<channel::ChannelBuilder> {
        &self.inter_broker_channel
    }

    /// This broker's registration epoch; 0 until registered.
    pub fn broker_epoch(&self) -> i64 {
        self.broker_epoch.load(Ordering::Acquire)
    }

    pub fn published(&self) -> watch::Receiver<Published> {
        self.raft.published()
    }

    /// The Raft leader, which is the active controller.
    pub fn controller_id(&self) -> Option<i32> {
        self.raft.leader()
    }

    /// The quorum as its leader sees it (DescribeQuorum), asked of the leader.
    pub async fn quorum_status(&self) -> Result<raft::QuorumStatus, MetadataError> {
        match self
            .to_controller(Request::DescribeQuorum, Instant::now() + RPC_TIMEOUT)
            .await?
        {
            Response::Quorum(status) => Ok(status),
            other => Err(MetadataError::Unavailable(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    /// The voters' controller endpoints, as configured.
    pub fn voters(&self) -> &[crate::config::Voter] {
        &self.quorum.voters
    }

    pub fn controller_listener_name(&self) -> &str {
        &self.quorum.controller_listener.name
    }

    /// Answers one request from a peer on the controller listener.
    async fn answer(&self, request: Request) -> Response {
        match request {
            Request::Hello {
                cluster_id,
                voters,
                from,
                to,
            } => self.check_hello(&cluster_id, &voters, from, to),
            Request::Raft { kind, body } => self.raft.handle(kind, body).await,
            Request::RegisterBroker {
                broker_id,
                incarnation_id,
                endpoints,
                rack,
                previous_broker_epoch,
            } => {
                self.active
                    .register(
                        broker_id,
                        incarnation_id,
                        endpoints,
                        rack,
                        previous_broker_epoch,
                    )
                    .await
            }
            Request::BrokerHeartbeat {
                broker_id,
                broker_epoch,
                want_shutdown: true,
                ..
            } => {
                self.active
                    .controlled_shutdown(broker_id, broker_epoch)
                    .await
            }
            Request::BrokerHeartbeat {
                broker_id,
                broker_epoch,
                applied_index,
                want_shutdown: false,
            } => {
                self.active
                    .heartbeat(broker_id, broker_epoch, applied_index)
                    .await
            }
            Request::Op(op) => self.active.op(op).await,
            Request::AlterPartition(request) => self.active.alter_partition(request).await,
            Request::DescribeQuorum => {
                if self.raft.is_leader(self.node_id) {
                    Response::Quorum(self.raft.status())
                } else {
                    Response::NotController {
                        leader: self.raft.leader(),
                    }
                }
            }
        }
    }

    /// A peer must belong to the same cluster, list the same voters, and call us by our id.
    fn check_hello(&self, cluster_id: &str, voters: &str, from: i32, to: i32) -> Response {
        let refuse = |message: String| {
            tracing::error!(peer = from, "{message}");
            Response::Error {
                kind: "InvalidRequest".into(),
                message,
            }
        };
        if to != self.node_id {
            let message = format!(
                "node {from} expected node.id {to} at this address, but this node is node.id {}: check node.id and controller.quorum.voters (duplicate node.id?)",
                self.node_id
            );
            if voters == self.quorum.voters_string() {
                // We agree on the voters, so the address is node {to}'s: this node's node.id
                // is the wrong one.
                let _ = self.fatal.send(message.clone());
            }
            return refuse(message);
        }
        if voters != self.quorum.voters_string() {
            return refuse(format!(
                "node {from} has controller.quorum.voters={voters}, this node has {}: every node of a cluster must list the same voters",
                self.quorum.voters_string()
            ));
        }
        if cluster_id != self.cluster_id {
            return refuse(format!(
                "node {from} belongs to cluster.id {cluster_id}, this node to {}: check cluster.id and the data directories",
                self.cluster_id
            ));
        }
        Response::Hello
    }

    /// Sends `request` to the active controller (this node itself when it leads), following
    /// NotController answers, until `deadline`.
    async fn to_controller(
        &self,
        request: Request,
        deadline: Instant,
    ) -> Result<Response, MetadataError> {
        loop {
            let answer = match self.raft.leader() {
                // Bounded like a remote call: a leader cut off from its majority cannot confirm
                // its leadership, and the caller should try again (or whoever leads next).
                Some(leader) if leader == self.node_id => {
                    tokio::time::timeout(RPC_TIMEOUT, self.answer(request.clone()))
                        .await
                        .ok()
                }
                Some(leader) => match self.peers.get(&leader) {
                    Some(client) => client.call(&request, RPC_TIMEOUT).await.ok(),
                    None => None,
                },
                None => None,
            };
            match answer {
                Some(Response::NotController { .. }) | None => {}
                Some(answer) => return Ok(answer),
            }
            if Instant::now() >= deadline {
                return Err(MetadataError::Unavailable(
                    "no active controller answered in time; is a majority of controller.quorum.voters up?".into(),
                ));
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Asks the active controller to change a partition's ISR. `Ok(true)` when committed (the
    /// metadata will show it), `Ok(false)` when there was nothing to change, `Err` when refused
    /// or unanswered.
    pub async fn alter_partition(&self, request: AlterPartitionRequest) -> Result<bool, String> {
        match self
            .to_controller(
                Request::AlterPartition(request),
                Instant::now() + RPC_TIMEOUT,
            )
            .await
        {
            Ok(Response::AlterPartition {
                changed,
                refused: None,
            }) => Ok(changed),
            Ok(Response::AlterPartition {
                refused: Some(reason),
                ..
            }) => Err(reason),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn submit_async(&self, op: ControllerOp) -> Result<OpOutcome, MetadataError> {
        match self
            .to_controller(Request::Op(op), Instant::now() + OP_TIMEOUT)
            .await?
        {
            Response::Op(outcome) => Ok(outcome),
            Response::Error { kind, message } => Err(Response::into_error(&kind, message)),
            other => Err(MetadataError::Unavailable(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    /// The broker's side of the lifecycle: register (again after a restart or a stale epoch),
    /// then heartbeat every `broker.heartbeat.interval.ms` with how far this node has applied the
    /// metadata log, until shutdown.
    pub async fn run_broker_lifecycle(
        self: Arc<Self>,
        endpoints: Vec<BrokerEndpoint>,
        rack: Option<String>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let incarnation_id = Uuid::new_v4();
        let interval = Duration::from_millis(self.quorum.heartbeat_interval_ms);
        loop {
            let epoch = self.broker_epoch.load(Ordering::Acquire);
            let request = if epoch == 0 {
                Request::RegisterBroker {
                    broker_id: self.node_id,
                    incarnation_id,
                    endpoints: endpoints.clone(),
                    rack: rack.clone(),
                    previous_broker_epoch: self.previous_broker_epoch,
                }
            } else {
                Request::BrokerHeartbeat {
                    broker_id: self.node_id,
                    broker_epoch: epoch,
                    applied_index: self.raft.published().borrow().applied_index,
                    want_shutdown: false,
                }
            };
            let deadline = Instant::now() + interval;
            match self.to_controller(request, deadline).await {
                Ok(Response::Registered { broker_epoch }) => {
                    tracing::info!(broker_epoch, "registered with the active controller");
                    self.broker_epoch.store(broker_epoch, Ordering::Release);
                    // Heartbeat at once: unfencing waits for it.
                    continue;
                }
                Ok(Response::Heartbeat { fenced }) => {
                    let was = self.fenced.swap(fenced, Ordering::AcqRel);
                    if was && !fenced {
                        tracing::info!(
                            broker_epoch = epoch,
                            "unfenced: serving as a broker of the cluster"
                        );
                    } else if !was && fenced {
                        tracing::warn!(broker_epoch = epoch, "fenced by the active controller");
                    }
                }
                Ok(Response::StaleBrokerEpoch) => {
                    tracing::warn!(
                        broker_epoch = epoch,
                        "the controller does not know this broker epoch; registering again"
                    );
                    self.broker_epoch.store(0, Ordering::Release);
                    self.fenced.store(true, Ordering::Release);
                    continue;
                }
                Ok(other) => tracing::debug!(answer = ?other, "unexpected controller answer"),
                Err(e) => tracing::debug!(error = %e, "no active controller reached"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Controlled shutdown (Kafka's `WantShutDown` heartbeat): asks the active controller to
    /// fence this broker at once, moving its leaderships, before the process stops. Call it
    /// after the lifecycle loop has stopped (it would register the broker again) and while the
    /// controller listener still serves (a two-node majority needs this node's Raft vote).
    /// Bounded: after a few seconds the session timeout will do it instead.
    pub async fn controlled_shutdown(&self) {
        let epoch = self.broker_epoch.load(Ordering::Acquire);
        if epoch == 0 {
            return;
        }
        let request = Request::BrokerHeartbeat {
            broker_id: self.node_id,
            broker_epoch: epoch,
            applied_index: self.raft.published().borrow().applied_index,
            want_shutdown: true,
        };
        match self
            .to_controller(request, Instant::now() + Duration::from_secs(5))
            .await
        {
            Ok(Response::Heartbeat { fenced: true }) => {
                tracing::info!(
                    broker_epoch = epoch,
                    "controlled shutdown: fenced by the active controller"
                )
            }
            other => {
                tracing::warn!(answer = ?other, "controlled shutdown not confirmed; the session timeout will fence this broker")
            }
        }
    }

    pub async fn shutdown(&self) {
        self.raft.shutdown().await;
    }

    /// Every log is closed: records this broker epoch in the clean-shutdown file, so that the
    /// next registration tells the controller nothing acknowledged was lost here.
    pub fn mark_clean_shutdown(&self) {
        let epoch = self.broker_epoch();
        if epoch <= 0 {
            return;
        }
        match clean_shutdown::write(&self.log_dir, epoch) {
            Ok(()) => tracing::info!(broker_epoch = epoch, "clean shutdown recorded"),
            Err(e) => tracing::warn!(error = %e, "cannot write the clean-shutdown file"),
        }
    }
}

impl QuorumClient for ClusterNode {
    fn image(&self) -> Arc<MetadataImage> {
        self.raft.published().borrow().image.clone()
    }

    /// Blocks the calling thread (moved off the async workers with `block_in_place`) until the
    /// active controller answered.
    fn submit(&self, op: ControllerOp) -> Result<OpOutcome, MetadataError> {
        let Some(node) = self.me.upgrade() else {
            return Err(MetadataError::Unavailable(
                "the node is shutting down".into(),
            ));
        };
        self.block_on(
            async move { node.submit_async(op).await },
            OP_TIMEOUT + Duration::from_secs(1),
        )
        .unwrap_or_else(|| {
            Err(MetadataError::Unavailable(
                "the controller did not answer".into(),
            ))
        })
    }
}

impl ClusterNode {
    /// Runs `work` on the node's runtime and waits for it on the calling thread (moved off the
    /// async workers with `block_in_place`) for at most `timeout`: the bridge for the
    /// coordinators, whose code is synchronous.
    pub(crate) fn block_on<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
        timeout: Duration,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        off_async_workers(|| rx.recv_timeout(timeout).ok())
    }

    /// Sends transaction markers to the broker at `address` that leads their partitions
    /// (WriteTxnMarkers, as Kafka's transaction coordinator does) and waits for its answer.
    pub fn write_txn_markers(
        &self,
        address: String,
        request: WriteTxnMarkersRequest,
    ) -> Result<WriteTxnMarkersResponse, String> {
        self.call_broker(
            address,
            ApiKey::WriteTxnMarkers,
            1,
            request,
            MARKERS_TIMEOUT,
        )
    }

    /// Asks the transaction coordinator at `address` to verify or add a producer's partitions
    /// (AddPartitionsToTxn v5, the broker form of KIP-890), as a partition leader does before a
    /// transactional append.
    pub fn add_partitions_to_txn(
        &self,
        address: String,
        request: kafka_protocol::messages::AddPartitionsToTxnRequest,
    ) -> Result<kafka_protocol::messages::AddPartitionsToTxnResponse, String> {
        self.call_broker(
            address,
            ApiKey::AddPartitionsToTxn,
            5,
            request,
            ADD_PARTITIONS_TIMEOUT,
        )
    }

    /// One request to the broker at `address` on a fresh inter-broker connection (TLS and SASL
    /// as the inter-broker listener says), waiting at most `timeout` for its answer.
    fn call_broker<Req, Resp>(
        &self,
        address: String,
        key: ApiKey,
        version: i16,
        request: Req,
        timeout: Duration,
    ) -> Result<Resp, String>
    where
        Req: Encodable + HeaderVersion + Send + Sync + 'static,
        Resp: Decodable + HeaderVersion + Send + 'static,
    {
        let channel = self.inter_broker_channel.clone();
        let work = async move {
            let mut connection = channel.connect_kafka(&address).await?;
            kafka_client::call(&mut connection.stream, key, version, &request, 1, timeout).await
        };
        match self.block_on(work, timeout + Duration::from_secs(1)) {
            Some(Ok(response)) => Ok(response),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("no answer".into()),
        }
    }
}

/// How long a partition leader waits for the transaction coordinator's AddPartitionsToTxn answer.
const ADD_PARTITIONS_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks the brokers' sessions every 50 ms (cheap: one pass over the registered brokers), so a
/// dead broker is fenced within 50 ms of its session's end (Kafka schedules the check at the
/// next expiry); only the active controller acts on them.
async fn session_timer(active: Arc<ActiveController>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        active.expire_sessions().await;
    }
}

/// Peers that refuse our hello contradict our configuration, but so do we theirs: the node in
/// the wrong is the one no majority agrees with. Once so many peers refused that no majority of
/// the voters can include this node, the process must stop (`fatal`); a node refused by one odd
/// peer keeps running, and that peer stops instead.
async fn judge_refusals(
    mut refused: tokio::sync::mpsc::UnboundedReceiver<(i32, String)>,
    fatal: tokio::sync::mpsc::UnboundedSender<String>,
    voters: usize,
) {
    let peers = voters.saturating_sub(1);
    let majority = voters / 2 + 1;
    let mut refusing = std::collections::BTreeMap::new();
    while let Some((peer, message)) = refused.recv().await {
        refusing.insert(peer, message);
        if refusing.len() > peers.saturating_sub(majority - 1) {
            let reasons: Vec<String> = refusing.values().cloned().collect();
            let _ = fatal.send(reasons.join("; "));
            return;
        }
    }
}

/// Runs `wait`, which blocks, on the calling thread; called from an async worker of a
/// multi-threaded runtime, that worker's other tasks move elsewhere first (`block_in_place`).
pub(crate) fn off_async_workers<T>(wait: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}
