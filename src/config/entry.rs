//! What DescribeConfigs reports about one config: value, source, synonyms, type and documentation.
//!
//! These are domain types; `protocol/` copies them into the wire structs of the negotiated version
//! (synonyms from v1, type and documentation from v3).

/// Where a reported value comes from; the discriminant is the DescribeConfigs `config_source` code
/// (`kafka-configs.sh` prints them as `DYNAMIC_TOPIC_CONFIG`, `STATIC_BROKER_CONFIG`, `DEFAULT_CONFIG`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigSource {
    /// A per-topic override (CreateTopics configs or AlterConfigs on the topic).
    DynamicTopic = 1,
    /// A per-broker dynamic override (not produced yet: Milena has no dynamic broker configs).
    DynamicBroker = 2,
    /// A cluster-wide dynamic broker default (not produced yet, as above).
    DynamicDefaultBroker = 3,
    /// Set in `server.properties` or through a `KAFKA_*` environment variable.
    StaticBroker = 4,
    /// Nobody set it: the built-in default.
    Default = 5,
}

impl ConfigSource {
    /// The DescribeConfigs `config_source` code.
    pub fn code(self) -> i8 {
        self as i8
    }
}

/// One config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` only for a key with no value at all (no default and not set), or a sensitive one.
    pub value: Option<String>,
    pub source: ConfigSource,
    /// True when the value cannot be changed with AlterConfigs.
    pub read_only: bool,
    pub is_sensitive: bool,
    /// A [`super::ConfigType`] code.
    pub config_type: i8,
    pub documentation: String,
    /// Every place the value could come from, highest precedence first (the first is the source).
    pub synonyms: Vec<ConfigSynonym>,
}

/// One candidate value of a config, named by the key that carries it at its level.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}
