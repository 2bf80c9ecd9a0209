//! The immutable metadata image: what every handler reads. A new image is built by replaying
//! records onto a clone of the old one and swapped in atomically by the store. It serializes
//! whole, as the cluster's Raft snapshot.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::record::{BrokerEndpoint, LeaderRecoveryState};
use super::MetadataRecord;
use crate::security::acl::AclCache;
use crate::security::sasl::{ScramCredential, ScramMechanism};

/// No leader: the partition is offline.
pub const NO_LEADER: i32 = -1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    /// Only the overrides set on the topic; defaults come from the broker config.
    pub configs: BTreeMap<String, String>,
    /// Replica placement by partition index. Partitions without an entry were created before
    /// placement existed, on a single node: see [`TopicImage::partition`].
    #[serde(default)]
    pub placement: BTreeMap<i32, PartitionState>,
}

/// A partition's replicas, in-sync replicas, leader and epochs, as the controller decided them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub replicas: Vec<i32>,
    /// Empty only when the ISR shrank to nothing with eligible leader replicas on (KIP-966).
    pub isr: Vec<i32>,
    /// [`NO_LEADER`] when offline.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// Eligible leader replicas: replicas that left the ISR while it was smaller than the
    /// effective `min.insync.replicas`, so that (the high watermark being held below that size)
    /// they hold every committed record and may lead when the ISR is empty.
    #[serde(default)]
    pub elr: Vec<i32>,
    /// The last leader, kept once the ISR and ELR are both empty (Kafka keeps the last known
    /// leader here): it is elected when it comes back.
    #[serde(default)]
    pub last_known_elr: Vec<i32>,
    #[serde(default)]
    pub leader_recovery_state: LeaderRecoveryState,
}

impl PartitionState {
    /// A partition on one node that leads it, as every partition is on a single node.
    pub fn local(node_id: i32) -> Self {
        Self {
            replicas: vec![node_id],
            isr: vec![node_id],
            leader: node_id,
            leader_epoch: 0,
            partition_epoch: 0,
            ..Default::default()
        }
    }
}

impl TopicImage {
    /// The state of partition `index`; a partition without a placement record (a single-node
    /// topic from before placement) lives on `default_node` and is led by it.
    pub fn partition(&self, index: i32, default_node: i32) -> Option<PartitionState> {
        if index < 0 || index >= self.partitions {
            return None;
        }
        Some(
            self.placement
                .get(&index)
                .cloned()
                .unwrap_or_else(|| PartitionState::local(default_node)),
        )
    }
}

/// A registered broker (Kafka's BrokerRegistration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub id: i32,
    pub incarnation_id: Uuid,
    pub epoch: i64,
    pub endpoints: Vec<BrokerEndpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
}

impl BrokerRegistration {
    /// The endpoint clients use: the first advertised one (the client listener).
    pub fn endpoint(&self) -> Option<&BrokerEndpoint> {
        self.endpoints.first()
    }

    /// The endpoint of `listener` (other brokers reach this one on the inter-broker listener,
    /// which every node names alike), else the first one.
    pub fn endpoint_for(&self, listener: &str) -> Option<&BrokerEndpoint> {
        self.endpoints
            .iter()
            .find(|e| e.listener == listener)
            .or_else(|| self.endpoint())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetadataImage {
    pub topics: BTreeMap<String, TopicImage>,
    pub topic_names_by_id: HashMap<Uuid, String>,
    /// The first producer ID not yet handed out.
    pub next_producer_id: i64,
    /// Registered brokers (cluster mode); empty on a single node.
    #[serde(default)]
    pub brokers: BTreeMap<i32, BrokerRegistration>,
    /// The epoch the next registration gets: epochs only grow, across every broker.
    #[serde(default)]
    pub next_broker_epoch: i64,
    /// SCRAM credentials by user, then by mechanism (Kafka's ScramImage).
    #[serde(default)]
    pub scram_credentials: BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>,
    /// The ACLs (`AccessControlEntry` records not removed since).
    #[serde(default)]
    pub acls: AclCache,
    /// Finalized feature levels set by `FeatureLevel` records; a feature without one is at its
    /// bootstrap level (see [`super::features`]).
    #[serde(default)]
    pub features: BTreeMap<String, i16>,
    /// How many records this image has replayed: the metadata log's offset, which Kafka uses as
    /// the finalized features epoch in ApiVersions.
    #[serde(default)]
    pub records_applied: i64,
    /// Whether a `bootstrap.checkpoint` was applied (see [`super::bootstrap`]).
    #[serde(default)]
    pub bootstrapped: bool,
    /// How many topics `RemoveTopic` records have deleted: what the group coordinator compares
    /// to know whether committed offsets may have lost their topic since it last looked.
    #[serde(default)]
    pub topics_removed: u64,
}

impl MetadataImage {
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topic_names_by_id
            .get(id)
            .and_then(|name| self.topics.get(name))
    }

    /// Unfenced brokers, by id: those that may lead and that Metadata lists.
    pub fn live_brokers(&self) -> Vec<i32> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| b.id)
            .collect()
    }

    /// `user`'s SCRAM credential for `mechanism`, if there is one.
    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<&ScramCredential> {
        self.scram_credentials.get(user)?.get(&mechanism)
    }

    pub fn is_live(&self, broker: i32) -> bool {
        self.brokers.get(&broker).is_some_and(|b| !b.fenced)
    }

    /// Applies one record. Replay is total: a record about a topic or broker that is gone is
    /// ignored, as it can only follow that topic's deletion in a log written by this cluster.
    pub fn replay(&mut self, record: &MetadataRecord) {
        self.records_applied += 1;
        match record {
            MetadataRecord::Topic {
                name,
                id,
                partitions,
                configs,
            } => {
                self.topic_names_by_id.insert(*id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        id: *id,
                        partitions: *partitions,
                        configs: configs.clone(),
                        placement: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::PartitionCount { name, count } => {
                if let Some(topic) = self.topics.get_mut(name) {
                    topic.partitions = topic.partitions.max(*count);
                }
            }
            MetadataRecord::TopicConfig { name, key, value } => {
                if let Some(topic) = self.topics.get_mut(name) {
                    match value {
                        Some(value) => topic.configs.insert(key.clone(), value.clone()),
                        None => topic.configs.remove(key),
                    };
                }
            }
            MetadataRecord::RemoveTopic { name, id } => {
                if self.topics.get(name).is_some_and(|t| t.id == *id) {
                    self.topics.remove(name);
                    self.topic_names_by_id.remove(id);
                    self.topics_removed += 1;
                }
            }
            MetadataRecord::ProducerIds { next } => {
                self.next_producer_id = self.next_producer_id.max(*next);
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
                elr,
                last_known_elr,
                leader_recovery_state,
            } => {
                if let Some(topic) = self.topic_by_id_mut(topic_id) {
                    topic.placement.insert(
                        *partition,
                        PartitionState {
                            replicas: replicas.clone(),
                            isr: isr.clone(),
                            leader: *leader,
                            leader_epoch: *leader_epoch,
                            partition_epoch: *partition_epoch,
                            elr: elr.clone(),
                            last_known_elr: last_known_elr.clone(),
                            leader_recovery_state: *leader_recovery_state,
                        },
                    );
                }
            }
            MetadataRecord::PartitionChange {
                topic_id,
                partition,
                isr,
                leader,
                elr,
                last_known_elr,
                leader_recovery_state,
            } => {
                let Some(state) = self
                    .topic_by_id_mut(topic_id)
                    .and_then(|t| t.placement.get_mut(partition))
                else {
                    return;
                };
                if let Some(isr) = isr {
                    state.isr = isr.clone();
                }
                if let Some(elr) = elr {
                    state.elr = elr.clone();
                }
                if let Some(last_known_elr) = last_known_elr {
                    state.last_known_elr = last_known_elr.clone();
                }
                if let Some(recovery) = leader_recovery_state {
                    state.leader_recovery_state = *recovery;
                }
                if let Some(leader) = leader {
                    if *leader != state.leader {
                        state.leader = *leader;
                        state.leader_epoch += 1;
                    }
                }
                state.partition_epoch += 1;
            }
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                broker_epoch,
                endpoints,
                rack,
            } => {
                self.next_broker_epoch = self.next_broker_epoch.max(broker_epoch + 1);
                self.brokers.insert(
                    *broker_id,
                    BrokerRegistration {
                        id: *broker_id,
                        incarnation_id: *incarnation_id,
                        epoch: *broker_epoch,
                        endpoints: endpoints.clone(),
                        rack: rack.clone(),
                        fenced: true,
                    },
                );
            }
            MetadataRecord::BrokerRegistrationChange {
                broker_id,
                broker_epoch,
                fenced,
            } => {
                if let Some(broker) = self.brokers.get_mut(broker_id) {
                    if broker.epoch == *broker_epoch {
                        broker.fenced = *fenced;
                    }
                }
            }
            MetadataRecord::UserScramCredential {
                name,
                mechanism,
                credential,
            } => {
                // A mechanism this version does not know is skipped: it cannot be served.
                if let Some(m) = ScramMechanism::from_wire_type(*mechanism) {
                    self.scram_credentials
                        .entry(name.clone())
                        .or_default()
                        .insert(m, credential.clone());
                }
            }
            MetadataRecord::RemoveUserScramCredential { name, mechanism } => {
                if let (Some(m), Some(user)) = (
                    ScramMechanism::from_wire_type(*mechanism),
                    self.scram_credentials.get_mut(name),
                ) {
                    user.remove(&m);
                    if user.is_empty() {
                        self.scram_credentials.remove(name);
                    }
                }
            }
            MetadataRecord::AccessControlEntry { id, acl } => self.acls.add(*id, acl.clone()),
            MetadataRecord::RemoveAccessControlEntry { id } => self.acls.remove(id),
            MetadataRecord::FeatureLevel { name, level } => {
                self.features.insert(name.clone(), *level);
            }
            MetadataRecord::Bootstrapped { .. } => self.bootstrapped = true,
        }
    }

    fn topic_by_id_mut(&mut self, id: &Uuid) -> Option<&mut TopicImage> {
        let name = self.topic_names_by_id.get(id)?;
        self.topics.get_mut(name)
    }
}
