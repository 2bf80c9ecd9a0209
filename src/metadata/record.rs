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

use crate::security::acl::StandardAcl;

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
        /// Eligible leader replicas (KIP-966); absent in logs written before ELR.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        elr: Vec<i32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        last_known_elr: Vec<i32>,
        #[serde(default, skip_serializing_if = "LeaderRecoveryState::is_recovered")]
        leader_recovery_state: LeaderRecoveryState,
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        elr: Option<Vec<i32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_known_elr: Option<Vec<i32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader_recovery_state: Option<LeaderRecoveryState>,
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
    /// A user's SCRAM credential for one mechanism was created or replaced (Kafka's
    /// UserScramCredentialRecord): salt, stored key, server key and iterations, never the
    /// password. `mechanism` is Kafka's wire type (1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512).
    UserScramCredential {
        name: String,
        mechanism: i8,
        #[serde(flatten)]
        credential: crate::security::sasl::ScramCredential,
    },
    /// A user's SCRAM credential for one mechanism was deleted (RemoveUserScramCredentialRecord).
    RemoveUserScramCredential { name: String, mechanism: i8 },
    /// An ACL was created (Kafka's AccessControlEntryRecord): its id names it for removal.
    AccessControlEntry {
        id: Uuid,
        #[serde(flatten)]
        acl: StandardAcl,
    },
    /// An ACL was deleted (Kafka's RemoveAccessControlEntryRecord).
    RemoveAccessControlEntry { id: Uuid },
    /// A feature's finalized level changed (Kafka's FeatureLevelRecord; UpdateFeatures). Level 0
    /// turns the feature off.
    FeatureLevel { name: String, level: i16 },
    /// Node `node_id`'s `bootstrap.checkpoint` was applied (the records before this one): no
    /// later checkpoint is. Milena's own; Kafka writes its bootstrap as the log's first batch.
    Bootstrapped { node_id: i32 },
}

/// Whether the leader may hold less than every committed record (Kafka's LeaderRecoveryState):
/// an unclean election makes the partition RECOVERING until its leader confirms it has recovered
/// (in Milena: its first ISR change accepted by the controller).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaderRecoveryState {
    #[default]
    Recovered,
    Recovering,
}

impl LeaderRecoveryState {
    pub fn is_recovered(&self) -> bool {
        *self == LeaderRecoveryState::Recovered
    }
}

/// A listener a broker advertises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerEndpoint {
    pub listener: String,
    pub host: String,
    pub port: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs written before eligible leader replicas still replay: the new fields default to
    /// empty / RECOVERED, and records without them are written as before.
    #[test]
    fn partition_records_without_elr_fields_read_and_write_as_before() {
        let id = "6f1b3d2e-8a4c-4b5d-9e6f-0a1b2c3d4e5f";
        let old = format!(
            r#"{{"type":"partition","topic_id":"{id}","partition":0,"replicas":[1,2],"isr":[1,2],"leader":1,"leader_epoch":0,"partition_epoch":0}}"#
        );
        let record: MetadataRecord = serde_json::from_str(&old).unwrap();
        let MetadataRecord::Partition {
            elr,
            last_known_elr,
            leader_recovery_state,
            ..
        } = &record
        else {
            panic!("{record:?}");
        };
        assert!(elr.is_empty() && last_known_elr.is_empty());
        assert_eq!(*leader_recovery_state, LeaderRecoveryState::Recovered);
        assert_eq!(serde_json::to_string(&record).unwrap(), old);
        let change =
            format!(r#"{{"type":"partition_change","topic_id":"{id}","partition":0,"isr":[1]}}"#);
        let record: MetadataRecord = serde_json::from_str(&change).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), change);
        let with_elr = format!(
            r#"{{"type":"partition_change","topic_id":"{id}","partition":0,"isr":[],"leader":-1,"elr":[1],"last_known_elr":[1],"leader_recovery_state":"recovering"}}"#
        );
        let record: MetadataRecord = serde_json::from_str(&with_elr).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), with_elr);
    }
}
