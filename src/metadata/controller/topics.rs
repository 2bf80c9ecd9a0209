//! Topic and config changes as pure functions: (image, request) → records plus an answer. The
//! caller (the single-node controller, or the active controller of a cluster) runs them one at a
//! time against the latest image and commits the records, so two concurrent CreateTopics for one
//! name cannot both succeed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::placement;
use crate::metadata::{MetadataError, MetadataImage, MetadataRecord, TopicImage};

/// Kafka's limit on topic name length (it leaves room for the partition suffix in file names).
pub const MAX_TOPIC_NAME_LEN: usize = 249;
/// A bound on the partitions of one topic: each partition holds open files, so an unbounded
/// request could exhaust the broker. Far above what a single node serves well.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;
/// A CreateTopics entry in domain terms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTopic {
    pub name: String,
    /// -1: the receiving broker's `num.partitions` (see [`TopicDefaults`]).
    pub num_partitions: i32,
    /// -1: the receiving broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Manual assignment: partition index → broker IDs.
    pub assignments: Vec<(i32, Vec<i32>)>,
    pub configs: BTreeMap<String, String>,
}

/// The receiving broker's defaults for a topic that does not name its counts.
pub struct TopicDefaults {
    pub num_partitions: i32,
    pub replication_factor: i16,
}

impl NewTopic {
    /// Fills `-1` counts from the broker that received the request (Kafka resolves them there
    /// before forwarding to the controller).
    pub fn with_defaults(mut self, defaults: &TopicDefaults) -> Self {
        if self.assignments.is_empty() {
            if self.num_partitions == -1 {
                self.num_partitions = defaults.num_partitions;
            }
            if self.replication_factor == -1 {
                self.replication_factor = defaults.replication_factor;
            }
        }
        self
    }
}

/// One change to a topic config: `None` removes the override.
pub type ConfigChange = (String, Option<String>);

/// Validates a topic (with its counts already resolved) and places its replicas over the
/// registered brokers. Returns the records to commit and the topic as created.
pub fn create_topic(
    image: &MetadataImage,
    topic: NewTopic,
    brokers: &Brokers<'_>,
) -> Result<(Vec<MetadataRecord>, TopicImage), MetadataError> {
    validate_topic_name(&topic.name)?;
    if image.topic(&topic.name).is_some() {
        return Err(MetadataError::TopicAlreadyExists(topic.name));
    }
    if let Some(existing) = colliding_topic(image, &topic.name) {
        return Err(MetadataError::InvalidTopic(format!(
            "Topic '{}' collides with existing topic: {existing}",
            topic.name
        )));
    }
    let id = Uuid::new_v4();
    let assignments = if topic.assignments.is_empty() {
        let partitions = match topic.num_partitions {
            n if n <= 0 => {
                return Err(MetadataError::InvalidPartitions(
                    "Number of partitions was set to an invalid non-positive value.".into(),
                ))
            }
            n => n,
        };
        let replication_factor = match topic.replication_factor {
            n if n <= 0 => {
                return Err(MetadataError::InvalidReplicationFactor(
                    "Replication factor must be larger than 0, or -1 to use the default value."
                        .into(),
                ))
            }
            n => n,
        };
        check_replication_factor(replication_factor as usize, brokers)?;
        check_partition_count(partitions)?;
        // The topic ID is random: it picks where the striping starts, as Kafka starts at a
        // random broker, so that leaders of many small topics spread over the cluster.
        let start = usize::from(id.as_bytes()[0]);
        placement::stripe_live_first(
            0,
            partitions,
            replication_factor as usize,
            brokers.registered,
            brokers.live,
            start,
        )
    } else {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return Err(MetadataError::InvalidRequest(
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
            ));
        }
        validate_assignments(&topic.assignments, brokers.registered)?;
        check_partition_count(topic.assignments.len() as i32)?;
        topic.assignments.into_iter().map(|(_, r)| r).collect()
    };
    for (key, value) in &topic.configs {
        validate_config(key, value)?;
    }
    let mut created = TopicImage {
        name: topic.name.clone(),
        id,
        partitions: assignments.len() as i32,
        configs: topic.configs,
        placement: BTreeMap::new(),
    };
    let mut records = vec![MetadataRecord::Topic {
        name: created.name.clone(),
        id,
        partitions: created.partitions,
        configs: created.configs.clone(),
    }];
    for (index, replicas) in assignments.into_iter().enumerate() {
        let state = placement::initial_state(replicas, brokers.live);
        records.push(placement::partition_record(id, index as i32, &state));
        created.placement.insert(index as i32, state);
    }
    Ok((records, created))
}

/// The brokers a new replica may go to: every registered one (Kafka places replicas on fenced
/// brokers too, and counts them for the replication factor), and the live ones that may lead.
pub struct Brokers<'a> {
    pub registered: &'a [i32],
    pub live: &'a [i32],
}

/// Kafka refuses a replication factor above the number of registered brokers.
fn check_replication_factor(
    replication_factor: usize,
    brokers: &Brokers<'_>,
) -> Result<(), MetadataError> {
    if replication_factor > brokers.registered.len() {
        return Err(MetadataError::InvalidReplicationFactor(format!(
            "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only {} broker(s) are registered.",
            brokers.registered.len()
        )));
    }
    Ok(())
}

fn check_partition_count(partitions: i32) -> Result<(), MetadataError> {
    if partitions > MAX_PARTITIONS_PER_TOPIC {
        return Err(MetadataError::InvalidPartitions(format!(
            "Milena serves at most {MAX_PARTITIONS_PER_TOPIC} partitions per topic."
        )));
    }
    Ok(())
}

fn validate_config(key: &str, value: &str) -> Result<(), MetadataError> {
    crate::config::topic::validate_topic_config(key, value)
        .map_err(|e| MetadataError::InvalidConfig(e.to_string()))
}

pub fn delete_topic(
    image: &MetadataImage,
    name: &str,
) -> Result<Vec<MetadataRecord>, MetadataError> {
    let topic = image
        .topic(name)
        .ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?;
    Ok(vec![MetadataRecord::RemoveTopic {
        name: topic.name.clone(),
        id: topic.id,
    }])
}

/// Grows a topic to `count` partitions; the new ones are placed like the first ones (same
/// replication factor), continuing the striping.
pub fn create_partitions(
    image: &MetadataImage,
    name: &str,
    count: i32,
    brokers: &Brokers<'_>,
    default_node: i32,
) -> Result<Vec<MetadataRecord>, MetadataError> {
    let topic = image
        .topic(name)
        .ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?;
    if count < topic.partitions {
        return Err(MetadataError::InvalidPartitions(format!(
            "Topic currently has {} partitions, which is higher than the requested {count}.",
            topic.partitions
        )));
    }
    if count == topic.partitions {
        return Err(MetadataError::InvalidPartitions(format!(
            "Topic already has {} partitions.",
            topic.partitions
        )));
    }
    check_partition_count(count)?;
    let replication_factor = topic
        .partition(0, default_node)
        .map_or(1, |p| p.replicas.len());
    check_replication_factor(replication_factor, brokers)?;
    let start = usize::from(topic.id.as_bytes()[0]);
    let mut records = vec![MetadataRecord::PartitionCount {
        name: name.to_string(),
        count,
    }];
    let placed = placement::stripe_live_first(
        topic.partitions,
        count,
        replication_factor,
        brokers.registered,
        brokers.live,
        start,
    );
    for (offset, replicas) in placed.into_iter().enumerate() {
        let index = topic.partitions + offset as i32;
        records.push(placement::partition_record(
            topic.id,
            index,
            &placement::initial_state(replicas, brokers.live),
        ));
    }
    Ok(records)
}

/// Applies config changes to one topic. With `replace_all` (the legacy AlterConfigs), every
/// override not named in `changes` is removed.
pub fn alter_topic_configs(
    image: &MetadataImage,
    name: &str,
    changes: &[ConfigChange],
    replace_all: bool,
) -> Result<Vec<MetadataRecord>, MetadataError> {
    let topic = image
        .topic(name)
        .ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?;
    let mut records = Vec::new();
    for (key, value) in changes {
        if let Some(value) = value {
            validate_config(key, value)?;
        }
        records.push(MetadataRecord::TopicConfig {
            name: name.to_string(),
            key: key.clone(),
            value: value.clone(),
        });
    }
    if replace_all {
        for key in topic.configs.keys() {
            if !changes.iter().any(|(k, _)| k == key) {
                records.push(MetadataRecord::TopicConfig {
                    name: name.to_string(),
                    key: key.clone(),
                    value: None,
                });
            }
        }
    }
    Ok(records)
}

/// Kafka's topic name rules: 1..=249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), MetadataError> {
    if name.is_empty() {
        return Err(MetadataError::InvalidTopic(
            "Topic name is illegal, it can't be empty".into(),
        ));
    }
    if name == "." || name == ".." {
        return Err(MetadataError::InvalidTopic(
            "Topic name cannot be \".\" or \"..\"".into(),
        ));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(MetadataError::InvalidTopic(format!(
            "Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME_LEN} characters, topic name: {name}"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(MetadataError::InvalidTopic(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        )));
    }
    Ok(())
}

/// Topics whose names differ only by '.' versus '_' collide in metric names, so Kafka refuses
/// the second one.
fn colliding_topic<'a>(image: &'a MetadataImage, name: &str) -> Option<&'a str> {
    let unified = name.replace('.', "_");
    image
        .topics
        .keys()
        .find(|existing| existing.as_str() != name && existing.replace('.', "_") == unified)
        .map(String::as_str)
}

fn validate_assignments(
    assignments: &[(i32, Vec<i32>)],
    registered: &[i32],
) -> Result<(), MetadataError> {
    let mut expected_rf = None;
    for (i, (partition, replicas)) in assignments.iter().enumerate() {
        if *partition != i as i32 {
            return Err(MetadataError::InvalidReplicaAssignment(
                "Partitions should be consecutive and start from zero.".into(),
            ));
        }
        if replicas.is_empty() || *expected_rf.get_or_insert(replicas.len()) != replicas.len() {
            return Err(MetadataError::InvalidReplicaAssignment(
                "All partitions should have the same number of replicas.".into(),
            ));
        }
        let mut distinct = replicas.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != replicas.len() {
            return Err(MetadataError::InvalidReplicaAssignment(format!(
                "Duplicate brokers not allowed in replica assignment: {replicas:?} for partition id {partition}."
            )));
        }
        if let Some(unknown) = replicas.iter().find(|b| !registered.contains(b)) {
            return Err(MetadataError::InvalidReplicaAssignment(format!(
                "The manual partition assignment includes broker {unknown}, but no such broker is registered."
            )));
        }
    }
    Ok(())
}
