//! The active controller: the part of a node that acts only while it is the Raft leader.
//!
//! It runs the controller's pure functions ([`crate::metadata::controller`]) one at a time
//! against the latest committed image (confirmed with a linearizable read first) and commits
//! their records as one batch. It keeps the brokers' heartbeat times, which are soft state as
//! in Kafka: a new active controller starts every session afresh, so fencing after a
//! controller failover waits a full session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::raft::{MetadataRaft, RaftWriteError};
use super::rpc::Response;
use crate::config::BrokerConfig;
use crate::metadata::controller::alter_partition::{alter_partition, AlterPartitionRequest};
use crate::metadata::controller::partition_change::ElectionPolicy;
use crate::metadata::controller::{brokers, plan, Brokers, ControllerOp};
use crate::metadata::{BrokerEndpoint, MetadataError, MetadataRecord, TopicImage};

pub struct ActiveController {
    node_id: i32,
    /// The cluster-level defaults of `min.insync.replicas` and
    /// `unclean.leader.election.enable`, which a topic's own configs override.
    defaults: BrokerConfig,
    raft: MetadataRaft,
    session_timeout: Duration,
    /// One change at a time: validate against the image, then commit.
    writer: tokio::sync::Mutex<()>,
    sessions: Mutex<Sessions>,
}

#[derive(Default)]
struct Sessions {
    /// Whether the sessions below were started by this node's current leadership.
    active: bool,
    last_heartbeat: HashMap<i32, Instant>,
    /// The log index of each broker's registration; it is unfenced once it has applied that.
    registered_at: HashMap<i32, u64>,
}

impl ActiveController {
    pub fn new(
        node_id: i32,
        defaults: BrokerConfig,
        raft: MetadataRaft,
        session_timeout: Duration,
    ) -> Self {
        Self {
            node_id,
            defaults,
            raft,
            session_timeout,
            writer: tokio::sync::Mutex::new(()),
            sessions: Mutex::new(Sessions::default()),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A topic's election settings: its own configs over this node's broker defaults.
    fn policy(&self, topic: &TopicImage) -> ElectionPolicy {
        let config = crate::config::topic::effective_topic_config(&topic.configs, &self.defaults);
        ElectionPolicy {
            min_insync_replicas: config.min_insync_replicas,
            unclean_leader_election: config.unclean_leader_election_enable,
        }
    }

    fn not_controller(&self) -> Response {
        Response::NotController {
            leader: self.raft.leader().filter(|&l| l != self.node_id),
        }
    }

    /// Takes the writer lock and confirms leadership with a current image, or says who leads.
    async fn begin(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, Response> {
        if !self.raft.is_leader(self.node_id) {
            return Err(self.not_controller());
        }
        let guard = self.writer.lock().await;
        match self.raft.ensure_linearizable().await {
            Ok(()) => Ok(guard),
            Err(e) => Err(self.write_error(e)),
        }
    }

    fn write_error(&self, e: RaftWriteError) -> Response {
        match e {
            RaftWriteError::NotLeader(leader) => Response::NotController {
                leader: leader.filter(|&l| l != self.node_id),
            },
            RaftWriteError::Unavailable(message) => {
                Response::from_error(&MetadataError::Unavailable(message))
            }
        }
    }

    async fn commit(&self, records: Vec<MetadataRecord>) -> Result<Option<u64>, Response> {
        if records.is_empty() {
            return Ok(None);
        }
        self.raft
            .write(records)
            .await
            .map(Some)
            .map_err(|e| self.write_error(e))
    }

    pub async fn op(&self, op: ControllerOp) -> Response {
        let _guard = match self.begin().await {
            Ok(g) => g,
            Err(r) => return r,
        };
        let image = self.raft.published().borrow().image.clone();
        let registered: Vec<i32> = image.brokers.keys().copied().collect();
        let live = image.live_brokers();
        let brokers = Brokers {
            registered: &registered,
            live: &live,
        };
        match plan(&image, op, &brokers, self.node_id) {
            Ok((records, outcome)) => match self.commit(records).await {
                Ok(_) => Response::Op(outcome),
                Err(r) => r,
            },
            Err(e) => Response::from_error(&e),
        }
    }

    pub async fn register(
        &self,
        broker_id: i32,
        incarnation_id: Uuid,
        endpoints: Vec<BrokerEndpoint>,
        rack: Option<String>,
        previous_broker_epoch: Option<i64>,
    ) -> Response {
        let _guard = match self.begin().await {
            Ok(g) => g,
            Err(r) => return r,
        };
        let image = self.raft.published().borrow().image.clone();
        if let Some(existing) = image.brokers.get(&broker_id) {
            if existing.incarnation_id == incarnation_id {
                // A retried registration of the same process: same answer.
                return Response::Registered {
                    broker_epoch: existing.epoch,
                };
            }
        }
        let clean = image
            .brokers
            .get(&broker_id)
            .map(|b| Some(b.epoch) == previous_broker_epoch);
        if clean == Some(false) {
            tracing::info!(
                broker_id,
                ?previous_broker_epoch,
                "broker registers after an unclean shutdown: it leaves every ISR and ELR"
            );
        }
        let policy = |t: &TopicImage| self.policy(t);
        let records = brokers::register(
            &image,
            broker_id,
            incarnation_id,
            endpoints,
            rack,
            previous_broker_epoch,
            &policy,
        );
        let epoch = records.iter().find_map(|r| match r {
            MetadataRecord::RegisterBroker { broker_epoch, .. } => Some(*broker_epoch),
            _ => None,
        });
        match self.commit(records).await {
            Ok(index) => {
                let mut sessions = self.sessions();
                sessions.last_heartbeat.insert(broker_id, Instant::now());
                sessions
                    .registered_at
                    .insert(broker_id, index.unwrap_or_default());
                tracing::info!(
                    broker_id,
                    broker_epoch = epoch.unwrap_or_default(),
                    "broker registered"
                );
                Response::Registered {
                    broker_epoch: epoch.unwrap_or_default(),
                }
            }
            Err(r) => r,
        }
    }

    pub async fn heartbeat(
        &self,
        broker_id: i32,
        broker_epoch: i64,
        applied_index: u64,
    ) -> Response {
        if !self.raft.is_leader(self.node_id) {
            return self.not_controller();
        }
        let image = self.raft.published().borrow().image.clone();
        let Some(registration) = image.brokers.get(&broker_id) else {
            return Response::StaleBrokerEpoch;
        };
        if registration.epoch != broker_epoch {
            return Response::StaleBrokerEpoch;
        }
        let caught_up = {
            let mut sessions = self.sessions();
            sessions.last_heartbeat.insert(broker_id, Instant::now());
            // Registered under an earlier leadership: its record is at most what is applied here.
            let applied_here = self.raft.published().borrow().applied_index;
            let registered_at = *sessions
                .registered_at
                .entry(broker_id)
                .or_insert(applied_here);
            applied_index >= registered_at
        };
        if !registration.fenced || !caught_up {
            return Response::Heartbeat {
                fenced: registration.fenced,
            };
        }
        self.change_registration(broker_id, broker_epoch, false)
            .await
    }

    /// A partition leader's ISR change, validated as Kafka's controller validates it (leader
    /// and partition epochs as compare-and-set, eligibility of new members).
    pub async fn alter_partition(&self, request: AlterPartitionRequest) -> Response {
        let _guard = match self.begin().await {
            Ok(g) => g,
            Err(r) => return r,
        };
        let image = self.raft.published().borrow().image.clone();
        let policy = |t: &TopicImage| self.policy(t);
        match alter_partition(&image, &request, &policy) {
            Ok(records) => {
                let changed = !records.is_empty();
                match self.commit(records).await {
                    Ok(_) => {
                        if changed {
                            tracing::info!(topic_id = %request.topic_id, partition = request.partition, leader = request.broker_id, isr = ?request.new_isr.iter().map(|(b, _)| *b).collect::<Vec<_>>(), "ISR changed");
                        }
                        Response::AlterPartition {
                            changed,
                            refused: None,
                        }
                    }
                    Err(r) => r,
                }
            }
            Err(e) => Response::AlterPartition {
                changed: false,
                refused: Some(format!("{e:?}")),
            },
        }
    }

    /// A broker that is stopping asks to be fenced now (controlled shutdown): the same change
    /// as a session expiry, without the wait.
    pub async fn controlled_shutdown(&self, broker_id: i32, broker_epoch: i64) -> Response {
        self.change_registration(broker_id, broker_epoch, true)
            .await
    }

    /// Fences or unfences the broker registered under `broker_epoch` (with the partition changes
    /// that go with it, in one batch); a stale epoch gets StaleBrokerEpoch.
    async fn change_registration(
        &self,
        broker_id: i32,
        broker_epoch: i64,
        fence: bool,
    ) -> Response {
        let _guard = match self.begin().await {
            Ok(g) => g,
            Err(r) => return r,
        };
        let image = self.raft.published().borrow().image.clone();
        if image.brokers.get(&broker_id).map(|b| b.epoch) != Some(broker_epoch) {
            return Response::StaleBrokerEpoch;
        }
        let policy = |t: &TopicImage| self.policy(t);
        let records = if fence {
            brokers::fence(&image, broker_id, &policy)
        } else {
            brokers::unfence(&image, broker_id, &policy)
        };
        match self.commit(records).await {
            Ok(_) => {
                let what = if fence {
                    "fenced (controlled shutdown)"
                } else {
                    "unfenced"
                };
                tracing::info!(broker_id, broker_epoch, "broker {what}");
                Response::Heartbeat { fenced: fence }
            }
            Err(r) => r,
        }
    }

    /// Fences every unfenced broker whose session expired. Called periodically on every node;
    /// acts only on the leader.
    pub async fn expire_sessions(&self) {
        if !self.raft.is_leader(self.node_id) {
            let mut sessions = self.sessions();
            if sessions.active {
                *sessions = Sessions::default();
            }
            return;
        }
        let image = self.raft.published().borrow().image.clone();
        let now = Instant::now();
        let expired: Vec<i32> = {
            let mut sessions = self.sessions();
            if !sessions.active {
                // Newly active: every broker gets a full session from now.
                sessions.active = true;
                for id in image.brokers.keys() {
                    sessions.last_heartbeat.insert(*id, now);
                }
            }
            image
                .brokers
                .values()
                .filter(|b| !b.fenced)
                .filter(|b| {
                    let last = *sessions.last_heartbeat.entry(b.id).or_insert(now);
                    now.duration_since(last) > self.session_timeout
                })
                .map(|b| b.id)
                .collect()
        };
        for broker_id in expired {
            let _guard = match self.begin().await {
                Ok(g) => g,
                Err(_) => return,
            };
            let image = self.raft.published().borrow().image.clone();
            let policy = |t: &TopicImage| self.policy(t);
            let records = brokers::fence(&image, broker_id, &policy);
            let changes = records.len().saturating_sub(1);
            if self.commit(records).await.is_ok() {
                tracing::info!(
                    broker_id,
                    partitions_changed = changes,
                    "broker session expired: fenced"
                );
            }
        }
    }
}
