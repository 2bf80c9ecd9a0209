//! The immutable metadata image: what every handler reads. A new image is built by replaying
//! records onto a clone of the old one and swapped in atomically by the store.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::MetadataRecord;

#[derive(Debug, Clone, PartialEq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    /// Only the overrides set on the topic; defaults come from the broker config.
    pub configs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct MetadataImage {
    pub topics: BTreeMap<String, TopicImage>,
    pub topic_names_by_id: HashMap<Uuid, String>,
    /// The first producer ID not yet handed out.
    pub next_producer_id: i64,
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

    /// Applies one record. Replay is total: a record about a topic that is gone is ignored, as
    /// it can only follow that topic's deletion in a log written by this broker.
    pub fn replay(&mut self, record: &MetadataRecord) {
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
                }
            }
            MetadataRecord::ProducerIds { next } => {
                self.next_producer_id = self.next_producer_id.max(*next);
            }
        }
    }
}
