//! The records of the local metadata log.
//!
//! Each is one line of JSON; see [`super::store`] for the framing. Replaying them in order from
//! an empty image rebuilds the broker's metadata.

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
}
