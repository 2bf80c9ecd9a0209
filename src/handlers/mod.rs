//! One file per API family. A handler takes the request context and the decoded request and
//! returns the response (invariant 1): no sockets, no encoding. Error codes come from
//! `protocol::errors`.

pub mod api_versions;
pub mod cluster;
pub mod configs;
pub mod consumer_group;
pub mod coordinator;
pub mod fetch;
pub mod groups;
pub mod list_offsets;
pub mod log_dirs;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod records;
pub mod topics;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub(crate) fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(str_bytes(s))
}
