//! The records of the metadata log.
//!
//! Each is one line of JSON; see [`super::store`] for the framing of the single-node log (a
//! cluster replicates the same records through its Raft log). Replaying them in order from an
//! empty image rebuilds the metadata. The cluster records mirror Kafka's KRaft records
//! (`RegisterBrokerRecord`, `PartitionRecord`, `PartitionChangeRecord`,
//! `BrokerRegistrationChangeRecord`); their on-wire KRaft encoding is not needed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetadataRecord {
    /// A topic was created with its ID, partition count and config overrides.
    Topic {
        name: String,
        id: Uuid,
        partitions: i32,
        configs: BTreeMap<String, String>,
    },
    /// A topic's partition count grew (CreatePartitions); counts never shrink.
    PartitionCount { name: String, count: i32 },
    /// A topic config override was set (`Some`) or removed (`None`).
    TopicConfig {
        name: String,
        key: String,
        value: Option<String>,
    },
    /// A topic was deleted.
    RemoveTopic { name: String, id: Uuid },
    /// Producer IDs below `next` have been handed out; a restart continues from here.
    ProducerIds { next: i64 },
    /// Where a partition's replicas are, who leads it and its epochs (Kafka's PartitionRecord).
    /// A topic written before placement existed has none: its partitions live on the one node.
    Partition {
        topic_id: Uuid,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        /// -1: no leader.
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
    },
    /// Only the fields that changed (Kafka's PartitionChangeRecord). Replay bumps the partition
    /// epoch always and the leader epoch when the leader changes.
    PartitionChange {
        topic_id: Uuid,
        partition: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isr: Option<Vec<i32>>,
        /// `Some(-1)`: the partition has no leader any more.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<i32>,
    },
    /// A broker (re)registered: a new broker epoch, fenced until it has caught up.
    RegisterBroker {
        broker_id: i32,
        incarnation_id: Uuid,
        broker_epoch: i64,
        endpoints: Vec<BrokerEndpoint>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rack: Option<String>,
    },
    /// A broker was fenced (session expired) or unfenced (caught up and heartbeating).
    BrokerRegistrationChange {
        broker_id: i32,
        broker_epoch: i64,
        fenced: bool,
    },
}

/// A listener a broker advertises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerEndpoint {
    pub listener: String,
    pub host: String,
    pub port: i32,
}
