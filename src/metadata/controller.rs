//! The controller: validates topic and config changes against the current image and commits
//! them as records. One controller per broker; its mutex makes validate-then-commit atomic, so
//! two concurrent CreateTopics for one name cannot both succeed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{MetadataError, MetadataImage, MetadataRecord, MetadataStore, TopicImage};

/// Kafka's limit on topic name length (it leaves room for the partition suffix in file names).
pub const MAX_TOPIC_NAME_LEN: usize = 249;
/// A bound on the partitions of one topic: each partition holds open files, so an unbounded
/// request could exhaust the broker. Far above what a single node serves well.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;
/// Producer IDs are reserved in blocks so that handing one out rarely touches the disk.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// A CreateTopics entry in domain terms.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    /// -1: the broker's `num.partitions`.
    pub num_partitions: i32,
    /// -1: the broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Manual assignment: partition index → broker IDs.
    pub assignments: Vec<(i32, Vec<i32>)>,
    pub configs: BTreeMap<String, String>,
}

/// What the controller needs to know about the broker to validate a topic.
pub struct TopicDefaults<'a> {
    pub num_partitions: i32,
    pub replication_factor: i16,
    pub live_brokers: &'a [i32],
}

/// One change to a topic config: `None` removes the override.
pub type ConfigChange = (String, Option<String>);

pub struct Controller {
    store: Arc<dyn MetadataStore>,
    /// Serialises validate-then-commit; also guards the producer ID block.
    state: Mutex<ProducerIdBlock>,
}

struct ProducerIdBlock {
    next: i64,
    end: i64,
}

impl Controller {
    pub fn new(store: Arc<dyn MetadataStore>) -> Self {
        let next = store.image().next_producer_id;
        Self {
            store,
            state: Mutex::new(ProducerIdBlock { next, end: next }),
        }
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        self.store.image()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProducerIdBlock> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates and (unless `validate_only`) creates a topic. `validate_config` checks one
    /// config entry and says what is wrong with it.
    pub fn create_topic(
        &self,
        topic: NewTopic,
        defaults: &TopicDefaults<'_>,
        validate_only: bool,
        validate_config: impl Fn(&str, &str) -> Result<(), String>,
    ) -> Result<TopicImage, MetadataError> {
        let _guard = self.lock();
        let image = self.store.image();
        validate_topic_name(&topic.name)?;
        if image.topic(&topic.name).is_some() {
            return Err(MetadataError::TopicAlreadyExists(topic.name));
        }
        if let Some(existing) = colliding_topic(&image, &topic.name) {
            return Err(MetadataError::InvalidTopic(format!(
                "Topic '{}' collides with existing topic: {existing}",
                topic.name
            )));
        }
        let partitions = if topic.assignments.is_empty() {
            let partitions = match topic.num_partitions {
                -1 => defaults.num_partitions,
                n if n <= 0 => {
                    return Err(MetadataError::InvalidPartitions(
                        "Number of partitions was set to an invalid non-positive value.".into(),
                    ))
                }
                n => n,
            };
            let replication_factor =
                match topic.replication_factor {
                    -1 => defaults.replication_factor,
                    n if n <= 0 => return Err(MetadataError::InvalidReplicationFactor(
                        "Replication factor must be larger than 0, or -1 to use the default value."
                            .into(),
                    )),
                    n => n,
                };
            if replication_factor as usize > defaults.live_brokers.len() {
                return Err(MetadataError::InvalidReplicationFactor(format!(
                    "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only {} broker(s) are registered.",
                    defaults.live_brokers.len()
                )));
            }
            partitions
        } else {
            if topic.num_partitions != -1 || topic.replication_factor != -1 {
                return Err(MetadataError::InvalidRequest(
                    "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
                ));
            }
            validate_assignments(&topic.assignments, defaults.live_brokers)?;
            topic.assignments.len() as i32
        };
        if partitions > MAX_PARTITIONS_PER_TOPIC {
            return Err(MetadataError::InvalidPartitions(format!(
                "Milena serves at most {MAX_PARTITIONS_PER_TOPIC} partitions per topic."
            )));
        }
        for (key, value) in &topic.configs {
            validate_config(key, value).map_err(MetadataError::InvalidConfig)?;
        }
        let created = TopicImage {
            name: topic.name.clone(),
            id: Uuid::new_v4(),
            partitions,
            configs: topic.configs,
        };
        if !validate_only {
            self.store.commit(&[MetadataRecord::Topic {
                name: created.name.clone(),
                id: created.id,
                partitions,
                configs: created.configs.clone(),
            }])?;
        }
        Ok(created)
    }

    pub fn delete_topic(&self, name: &str) -> Result<TopicImage, MetadataError> {
        let _guard = self.lock();
        let image = self.store.image();
        let topic = image
            .topic(name)
            .ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?
            .clone();
        self.store.commit(&[MetadataRecord::RemoveTopic {
            name: topic.name.clone(),
            id: topic.id,
        }])?;
        Ok(topic)
    }

    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), MetadataError> {
        let _guard = self.lock();
        let image = self.store.image();
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
        if count > MAX_PARTITIONS_PER_TOPIC {
            return Err(MetadataError::InvalidPartitions(format!(
                "Milena serves at most {MAX_PARTITIONS_PER_TOPIC} partitions per topic."
            )));
        }
        if !validate_only {
            self.store.commit(&[MetadataRecord::PartitionCount {
                name: name.to_string(),
                count,
            }])?;
        }
        Ok(())
    }

    /// Applies config changes to one topic. With `replace_all` (the legacy AlterConfigs), every
    /// override not named in `changes` is removed.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        changes: &[ConfigChange],
        replace_all: bool,
        validate_only: bool,
        validate_config: impl Fn(&str, &str) -> Result<(), String>,
    ) -> Result<(), MetadataError> {
        let _guard = self.lock();
        let image = self.store.image();
        let topic = image
            .topic(name)
            .ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?;
        let mut records = Vec::new();
        for (key, value) in changes {
            if let Some(value) = value {
                validate_config(key, value).map_err(MetadataError::InvalidConfig)?;
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
        if !validate_only && !records.is_empty() {
            self.store.commit(&records)?;
        }
        Ok(())
    }

    /// Hands out a producer ID never used before on this broker, across restarts.
    pub fn allocate_producer_id(&self) -> Result<i64, MetadataError> {
        let mut block = self.lock();
        if block.next >= block.end {
            let end = block.next + PRODUCER_ID_BLOCK;
            self.store
                .commit(&[MetadataRecord::ProducerIds { next: end }])?;
            block.end = end;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }
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
    live_brokers: &[i32],
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
        if let Some(unknown) = replicas.iter().find(|b| !live_brokers.contains(b)) {
            return Err(MetadataError::InvalidReplicaAssignment(format!(
                "The manual partition assignment includes broker {unknown}, but no such broker is registered."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::LocalMetadataStore;

    fn controller(dir: &std::path::Path) -> Controller {
        let store = LocalMetadataStore::open(&dir.join("m.log")).unwrap();
        Controller::new(Arc::new(store))
    }

    fn new_topic(name: &str, partitions: i32, rf: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: rf,
            assignments: vec![],
            configs: BTreeMap::new(),
        }
    }

    const DEFAULTS: TopicDefaults<'static> = TopicDefaults {
        num_partitions: 1,
        replication_factor: 1,
        live_brokers: &[1],
    };

    #[test]
    fn create_validates_names_counts_and_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let ok = |_: &str, _: &str| Ok(());
        assert_eq!(
            c.create_topic(new_topic("a.b", -1, -1), &DEFAULTS, false, ok)
                .unwrap()
                .partitions,
            1
        );
        assert!(matches!(
            c.create_topic(new_topic("a.b", 3, 1), &DEFAULTS, false, ok),
            Err(MetadataError::TopicAlreadyExists(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("a_b", 3, 1), &DEFAULTS, false, ok),
            Err(MetadataError::InvalidTopic(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("bad name", 3, 1), &DEFAULTS, false, ok),
            Err(MetadataError::InvalidTopic(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("t", 0, 1), &DEFAULTS, false, ok),
            Err(MetadataError::InvalidPartitions(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("t", 3, 3), &DEFAULTS, false, ok),
            Err(MetadataError::InvalidReplicationFactor(_))
        ));
        c.create_topic(new_topic("v", 3, 1), &DEFAULTS, true, ok)
            .unwrap();
        assert!(
            c.image().topic("v").is_none(),
            "validate_only must not create"
        );
    }

    #[test]
    fn producer_ids_are_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let c = controller(dir.path());
            (
                c.allocate_producer_id().unwrap(),
                c.allocate_producer_id().unwrap(),
            )
        };
        assert_eq!(first.1, first.0 + 1);
        let c = controller(dir.path());
        assert!(c.allocate_producer_id().unwrap() > first.1);
    }

    #[test]
    fn partitions_only_grow() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        c.create_topic(new_topic("t", 3, 1), &DEFAULTS, false, |_, _| Ok(()))
            .unwrap();
        assert!(c.create_partitions("t", 2, false).is_err());
        assert!(c.create_partitions("t", 3, false).is_err());
        c.create_partitions("t", 6, false).unwrap();
        assert_eq!(c.image().topic("t").unwrap().partitions, 6);
    }
}
