//! The metadata quorum's Raft, on openraft (pinned; its types stay inside this module).
//!
//! The log entries are batches of [`MetadataRecord`]s: one batch is one atomic change (a topic
//! with its partitions; a fence with its elections). Every node of the cluster is a voter.
//! [`MetadataRaft`] is all the rest of the broker sees: write a batch as the leader, learn who
//! leads, and watch the committed image.

mod log_store;
mod network;
mod state_machine;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use state_machine::Published;

use crate::cluster::rpc::{RaftKind, Request, Response};
use crate::config::Voter;
use crate::metadata::MetadataRecord;

openraft::declare_raft_types!(
    /// openraft's types for the metadata quorum.
    pub TypeConfig:
        D = Vec<MetadataRecord>,
        R = (),
);

type NodeId = u64;
type Node = openraft::BasicNode;
type Entry = openraft::Entry<TypeConfig>;

/// Raft timing. Heartbeats every 200 ms and an election after 1–2 s of silence: a lost leader
/// is replaced within about two seconds, and a busy 2-core machine does not cause spurious
/// elections.
const HEARTBEAT_MS: u64 = 200;
const ELECTION_MIN_MS: u64 = 1000;
const ELECTION_MAX_MS: u64 = 2000;

#[derive(Debug, thiserror::Error)]
pub enum RaftWriteError {
    #[error("not the active controller")]
    NotLeader(Option<i32>),
    #[error("{0}")]
    Unavailable(String),
}

/// A voter's replication progress, as the leader knows it (DescribeQuorum).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VoterProgress {
    pub id: i32,
    /// The next offset after its last matched entry; -1 when unknown.
    pub log_end_offset: i64,
    /// When the leader last heard from it (ms since the epoch); -1 when unknown. openraft
    /// reports the time of the last quorum acknowledgement, which stands in for every voter
    /// that has matched the leader's log.
    pub last_fetch_timestamp: i64,
    pub last_caught_up_timestamp: i64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QuorumStatus {
    pub leader: Option<i32>,
    pub term: u64,
    pub high_watermark: i64,
    pub voters: Vec<VoterProgress>,
}

#[derive(Clone)]
pub struct MetadataRaft {
    raft: openraft::Raft<TypeConfig>,
    published: watch::Receiver<Published>,
}

impl MetadataRaft {
    /// Opens the quorum's log in `dir` and starts Raft. On a node that never ran, the initial
    /// membership (every voter) is written; doing that on every node with the same voters is
    /// safe, so there is no format step. `refusals` receives each peer's refusal of our
    /// configuration.
    pub async fn start(
        node_id: i32,
        voters: &[Voter],
        dir: &Path,
        hello: Arc<dyn Fn(i32) -> Request + Send + Sync>,
        channel: Arc<crate::cluster::channel::ChannelBuilder>,
        refusals: tokio::sync::mpsc::UnboundedSender<(i32, String)>,
    ) -> Result<Self, String> {
        let log = log_store::LogStore::open(dir)?;
        let (state_machine, published) = state_machine::StateMachine::new();
        let config = openraft::Config {
            cluster_name: "milena".into(),
            heartbeat_interval: HEARTBEAT_MS,
            election_timeout_min: ELECTION_MIN_MS,
            election_timeout_max: ELECTION_MAX_MS,
            // The metadata log is small: keep it whole, so a restarted node replays it.
            snapshot_policy: openraft::SnapshotPolicy::Never,
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(|e| e.to_string())?);
        let network = network::Network {
            hello: Arc::new(move |target: NodeId| hello(target as i32)),
            channel,
            refusals,
        };
        let raft = openraft::Raft::new(node_id as NodeId, config, network, log, state_machine)
            .await
            .map_err(|e| format!("cannot start the metadata quorum: {e}"))?;
        let initialized = raft.is_initialized().await.map_err(|e| e.to_string())?;
        if !initialized {
            let members: BTreeMap<NodeId, Node> = voters
                .iter()
                .map(|v| (v.id as NodeId, openraft::BasicNode::new(v.address())))
                .collect();
            if let Err(e) = raft.initialize(members).await {
                // Another voter initialized first and reached us: that is the goal anyway.
                tracing::debug!(error = %e, "metadata quorum already initialized");
            }
        }
        Ok(Self { raft, published })
    }

    pub fn published(&self) -> watch::Receiver<Published> {
        self.published.clone()
    }

    pub fn leader(&self) -> Option<i32> {
        self.raft
            .metrics()
            .borrow()
            .current_leader
            .map(|id| id as i32)
    }

    pub fn is_leader(&self, node_id: i32) -> bool {
        self.leader() == Some(node_id)
    }

    /// Waits until this node is confirmed leader by a quorum and has applied everything
    /// committed before: the image it then reads is the latest.
    pub async fn ensure_linearizable(&self) -> Result<(), RaftWriteError> {
        match self.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.forward_to_leader() {
                Some(f) => RaftWriteError::NotLeader(f.leader_id.map(|id| id as i32)),
                None => RaftWriteError::Unavailable(e.to_string()),
            }),
        }
    }

    /// Commits one batch through the quorum; returns its log index once it is applied here.
    pub async fn write(&self, records: Vec<MetadataRecord>) -> Result<u64, RaftWriteError> {
        match self.raft.client_write(records).await {
            Ok(response) => Ok(response.log_id.index),
            Err(e) => Err(match e.forward_to_leader() {
                Some(f) => RaftWriteError::NotLeader(f.leader_id.map(|id| id as i32)),
                None => RaftWriteError::Unavailable(e.to_string()),
            }),
        }
    }

    pub async fn handle(&self, kind: RaftKind, body: serde_json::Value) -> Response {
        network::handle(&self.raft, kind, body).await
    }

    pub fn status(&self) -> QuorumStatus {
        let metrics = self.raft.metrics().borrow().clone();
        let leader = metrics.current_leader.map(|id| id as i32);
        let end =
            |log_id: Option<openraft::LogId<NodeId>>| log_id.map_or(-1, |l| l.index as i64 + 1);
        let mut voters: Vec<VoterProgress> = metrics
            .membership_config
            .membership()
            .voter_ids()
            .map(|id| VoterProgress {
                id: id as i32,
                log_end_offset: -1,
                last_fetch_timestamp: -1,
                last_caught_up_timestamp: -1,
            })
            .collect();
        let now = crate::partition::manager::now_ms();
        let acked = metrics
            .millis_since_quorum_ack
            .map_or(-1, |ms| now - ms as i64);
        let leader_end = metrics.last_log_index.map_or(-1, |i| i as i64 + 1);
        for voter in &mut voters {
            if voter.id as NodeId == metrics.id {
                voter.log_end_offset = leader_end;
                voter.last_fetch_timestamp = now;
                voter.last_caught_up_timestamp = now;
            } else if let Some(replication) = &metrics.replication {
                if let Some(matched) = replication.get(&(voter.id as NodeId)) {
                    voter.log_end_offset = end(*matched);
                    voter.last_fetch_timestamp = acked;
                    if voter.log_end_offset == leader_end {
                        voter.last_caught_up_timestamp = acked;
                    }
                }
            }
        }
        QuorumStatus {
            leader,
            term: metrics.current_term,
            high_watermark: end(metrics.last_applied),
            voters,
        }
    }

    pub async fn shutdown(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.raft.shutdown()).await;
    }
}
