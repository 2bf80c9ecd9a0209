//! Cluster metadata: topics, their partition counts, IDs and config overrides, and the producer
//! ID blocks handed out so far.
//!
//! State changes only by replaying [`MetadataRecord`]s (ARCHITECTURE invariant 3): the
//! [`controller`] validates a request against the current [`MetadataImage`], turns it into
//! records, and the [`store`] appends them durably and swaps in the image their replay yields.
//! At start the store replays its log, so a restart sees exactly what was acknowledged.
//! A cluster implementation will replicate the same records through Raft; handlers do not change.

pub mod bootstrap;
pub mod controller;
pub mod features;
pub mod image;
pub mod record;
pub mod store;

pub use controller::Controller;
pub use image::{BrokerRegistration, MetadataImage, PartitionState, TopicImage, NO_LEADER};
pub use record::{BrokerEndpoint, MetadataRecord};
pub use store::{LocalMetadataStore, MetadataStore};

/// Errors of the metadata layer; `protocol::errors` maps them to Kafka codes.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("topic '{0}' already exists")]
    TopicAlreadyExists(String),
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),
    #[error("invalid topic: {0}")]
    InvalidTopic(String),
    #[error("invalid partitions: {0}")]
    InvalidPartitions(String),
    #[error("invalid replication factor: {0}")]
    InvalidReplicationFactor(String),
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// UpdateFeatures refused (Kafka's INVALID_UPDATE_VERSION); the text is Kafka's.
    #[error("{0}")]
    InvalidUpdateVersion(String),
    /// The metadata quorum could not take the change (no active controller reachable in time).
    #[error("the controller is not available: {0}")]
    Unavailable(String),
    #[error("metadata log I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("metadata log {path} is damaged at line {line}: {reason}")]
    Corrupt {
        path: String,
        line: usize,
        reason: String,
    },
}
