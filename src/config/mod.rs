//! Configuration: the broker's `server.properties` (plus `KAFKA_*` environment variables) and the
//! topic-level configs of CreateTopics, DescribeConfigs and AlterConfigs.
//!
//! Names, types, defaults and validation follow Apache Kafka 4.1, so that a Kafka config file and
//! Kafka's admin tools work unchanged. Layout:
//! - `properties`: the Java `.properties` text format;
//! - `env`: `KAFKA_FOO_BAR` variables as the official Docker image maps them;
//! - `broker_keys`, `topic_defs`: the tables of known keys (types, defaults, synonyms, docs);
//! - `value`: typed validation and the canonical text Kafka reports;
//! - `broker`, `load`: [`BrokerConfig`] and its loading;
//! - `topic`, `describe_broker`, `entry`: topic validation, effective topic values, and the
//!   DescribeConfigs view of topics and the broker;
//! - `ssl`, `sasl`, `security`: the listeners' TLS and SASL settings; `peer`: how this node
//!   connects to the other nodes' inter-broker and controller listeners;
//! - `listener`, `log_types`: small value types.
//!
//! Nothing here touches the network or wire types; `protocol/` maps [`ConfigEntry`] to the wire.

mod broker;
pub(crate) mod broker_keys;
mod describe_broker;
mod entry;
pub mod env;
mod error;
mod listener;
mod load;
mod log_types;
pub mod peer;
pub mod properties;
pub mod quorum;
pub mod sasl;
pub mod security;
pub mod ssl;
pub mod topic;
mod topic_defs;
mod value;

pub use broker::BrokerConfig;
pub use describe_broker::describe_broker_configs;
pub use entry::{ConfigEntry, ConfigSource, ConfigSynonym};
pub use env::env_name_for;
pub use error::ConfigError;
pub use listener::{parse_listeners, Listener};
pub use log_types::{CleanupPolicy, CompressionType, TimestampType};
pub use quorum::{QuorumConfig, Voter};
pub use sasl::{SaslListenerConfig, SaslSettings};
pub use security::SecurityProtocol;
pub use topic::{
    describe_topic_configs, effective_topic_config, validate_topic_config,
    validate_topic_overrides, TopicConfig,
};
pub use value::ConfigType;
