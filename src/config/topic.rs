//! Topic-level configs: validation for CreateTopics/AlterConfigs, the DescribeConfigs view, and the
//! effective typed values the log uses.
//!
//! A topic's value comes from its override if it has one, else from the first broker synonym set
//! in the file or environment (`retention.ms` ← `log.retention.ms`, `.minutes`, `.hours`), else
//! from Kafka's default. DescribeConfigs reports sources and synonyms exactly as Kafka 4.1 does,
//! including one quirk kept for compatibility: when a synonym group's main key is not set (say only
//! `log.retention.hours` is), Kafka reports no synonyms and `DEFAULT_CONFIG` as the source, though
//! the value does reflect the hours setting.

use std::collections::BTreeMap;

use super::broker::BrokerConfig;
pub use super::describe_broker::describe_broker_configs;
pub use super::entry::{ConfigEntry, ConfigSource, ConfigSynonym};
use super::log_types::{CleanupPolicy, CompressionType, TimestampType};
use super::topic_defs::{topic_def, TopicDef, Unit, TOPIC_DEFS};
use super::value::canonical;
use super::ConfigError;

/// Checks one topic config; unknown names are [`ConfigError::UnknownConfig`].
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), ConfigError> {
    let def = topic_def(name).ok_or_else(|| ConfigError::UnknownConfig {
        key: name.to_string(),
    })?;
    canonical(name, def.kind, def.check, value).map(drop)
}

/// Checks a whole set of overrides, including the rule that spans two keys
/// (`min.compaction.lag.ms` may not exceed `max.compaction.lag.ms`).
pub fn validate_topic_overrides(overrides: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (name, value) in overrides {
        validate_topic_config(name, value)?;
    }
    let lag = |name: &str, default: i64| {
        overrides
            .get(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(default)
    };
    let (min, max) = (
        lag("min.compaction.lag.ms", 0),
        lag("max.compaction.lag.ms", i64::MAX),
    );
    if min > max {
        return Err(ConfigError::invalid(
            "min.compaction.lag.ms",
            &min.to_string(),
            format!("must not exceed max.compaction.lag.ms ({max})"),
        ));
    }
    Ok(())
}

/// The values the log needs for one topic, after overrides and broker defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub segment_jitter_ms: i64,
    pub segment_index_bytes: i32,
    /// -1 keeps data forever.
    pub retention_ms: i64,
    /// -1 means no size limit.
    pub retention_bytes: i64,
    pub max_message_bytes: u32,
    /// True for LogAppendTime: the broker stamps batches at append.
    pub message_timestamp_type_log_append: bool,
    pub message_timestamp_before_max_ms: i64,
    pub message_timestamp_after_max_ms: i64,
    pub flush_messages: u64,
    pub flush_ms: i64,
    pub index_interval_bytes: u32,
    pub cleanup_policy: CleanupPolicy,
    pub delete_retention_ms: i64,
    pub min_compaction_lag_ms: i64,
    pub max_compaction_lag_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable`: whether the controller may elect an out-of-sync replica.
    pub unclean_leader_election_enable: bool,
    pub file_delete_delay_ms: i64,
    pub compression_type: CompressionType,
    pub preallocate: bool,
}

/// Resolves a topic's effective configuration. Overrides are expected to have been validated when
/// they were set; one that no longer parses is logged and replaced by the broker-level value.
pub fn effective_topic_config(
    overrides: &BTreeMap<String, String>,
    broker: &BrokerConfig,
) -> TopicConfig {
    let text = |name: &str| resolve(name, overrides, broker).value;
    // Resolved values passed validation and every default is tested to parse, so the fallbacks
    // are unreachable; they exist so that no request can make this panic.
    fn num<T: std::str::FromStr + Default>(text: &str, name: &str) -> T {
        text.parse()
            .ok()
            .or_else(|| topic_def(name).and_then(|d| d.default.parse().ok()))
            .unwrap_or_else(|| {
                tracing::error!(config = name, value = text, "config value is not a number");
                T::default()
            })
    }
    let int = |name: &str| -> i64 { num(&text(name), name) };
    let int32 = |name: &str| -> i32 { num(&text(name), name) };
    let uint = |name: &str| -> u64 { num(&text(name), name) };
    let uint32 = |name: &str| -> u32 { num(&text(name), name) };
    TopicConfig {
        segment_bytes: uint("segment.bytes"),
        segment_ms: int("segment.ms"),
        segment_jitter_ms: int("segment.jitter.ms"),
        segment_index_bytes: int32("segment.index.bytes"),
        retention_ms: int("retention.ms"),
        retention_bytes: int("retention.bytes"),
        max_message_bytes: uint32("max.message.bytes"),
        message_timestamp_type_log_append: TimestampType::from_canonical(&text(
            "message.timestamp.type",
        )) == TimestampType::LogAppendTime,
        message_timestamp_before_max_ms: int("message.timestamp.before.max.ms"),
        message_timestamp_after_max_ms: int("message.timestamp.after.max.ms"),
        flush_messages: uint("flush.messages"),
        flush_ms: int("flush.ms"),
        index_interval_bytes: uint32("index.interval.bytes"),
        cleanup_policy: CleanupPolicy::from_canonical(&text("cleanup.policy")),
        delete_retention_ms: int("delete.retention.ms"),
        min_compaction_lag_ms: int("min.compaction.lag.ms"),
        max_compaction_lag_ms: int("max.compaction.lag.ms"),
        min_cleanable_dirty_ratio: num(
            &text("min.cleanable.dirty.ratio"),
            "min.cleanable.dirty.ratio",
        ),
        min_insync_replicas: int32("min.insync.replicas"),
        unclean_leader_election_enable: text("unclean.leader.election.enable") == "true",
        file_delete_delay_ms: int("file.delete.delay.ms"),
        compression_type: CompressionType::from_canonical(&text("compression.type")),
        preallocate: text("preallocate") == "true",
    }
}

/// Every topic config of Kafka 4.1 as DescribeConfigs reports it for a topic with `overrides`,
/// sorted by name. Synonyms are always filled; the handler drops them unless the request asked.
pub fn describe_topic_configs(
    overrides: &BTreeMap<String, String>,
    broker: &BrokerConfig,
) -> Vec<ConfigEntry> {
    TOPIC_DEFS
        .iter()
        .map(|def| {
            let resolved = resolve(def.name, overrides, broker);
            let mut synonyms = Vec::new();
            if let Some(value) = resolved.override_text {
                synonyms.push(ConfigSynonym {
                    name: def.name.to_string(),
                    value: Some(value),
                    source: ConfigSource::DynamicTopic,
                });
            }
            let keys: Vec<&str> = def.synonyms.iter().map(|s| s.key).collect();
            synonyms.extend(broker.synonym_chain(&keys));
            ConfigEntry {
                name: def.name.to_string(),
                value: Some(resolved.value),
                source: synonyms.first().map_or(ConfigSource::Default, |s| s.source),
                read_only: false,
                is_sensitive: false,
                config_type: def.kind.code(),
                documentation: def.doc.to_string(),
                synonyms,
            }
        })
        .collect()
}

struct Resolved {
    /// Canonical effective value.
    value: String,
    /// Canonical override, when the topic has a valid one.
    override_text: Option<String>,
}

fn resolve(name: &str, overrides: &BTreeMap<String, String>, broker: &BrokerConfig) -> Resolved {
    let Some(def) = topic_def(name) else {
        return Resolved {
            value: String::new(),
            override_text: None,
        };
    };
    let override_text = overrides.get(name).and_then(|raw| {
        canonical(name, def.kind, def.check, raw)
            .map_err(|e| tracing::warn!("ignoring stored topic override: {e}"))
            .ok()
    });
    let value = match &override_text {
        Some(v) => v.clone(),
        None => broker_value(def, broker).unwrap_or_else(|| def.default.to_string()),
    };
    Resolved {
        value,
        override_text,
    }
}

/// The value the broker's file or environment gives a topic config, if any synonym is set.
fn broker_value(def: &TopicDef, broker: &BrokerConfig) -> Option<String> {
    def.synonyms.iter().find_map(|syn| {
        let raw = broker.raw_value(syn.key)?;
        let factor = match syn.unit {
            Unit::Same => return canonical(def.name, def.kind, def.check, raw).ok(),
            Unit::MinutesToMs => 60_000,
            Unit::HoursToMs => 3_600_000,
        };
        let ms = raw.trim().parse::<i64>().ok()?.checked_mul(factor)?;
        // A negative retention at broker level means "forever", which topics spell -1.
        let ms = if def.name == "retention.ms" && ms < 0 {
            -1
        } else {
            ms
        };
        Some(ms.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(pairs: &[(&str, &str)]) -> BrokerConfig {
        BrokerConfig::from_raw(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .expect("valid broker config")
    }

    fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn entry<'a>(entries: &'a [ConfigEntry], name: &str) -> &'a ConfigEntry {
        entries
            .iter()
            .find(|e| e.name == name)
            .expect("entry present")
    }

    #[test]
    fn validation() {
        assert!(validate_topic_config("retention.ms", "-1").is_ok());
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("compression.type", "zstd").is_ok());
        assert!(validate_topic_config("follower.replication.throttled.replicas", "*").is_ok());
        let unknown = validate_topic_config("retention.days", "1").expect_err("unknown");
        assert!(
            matches!(unknown, ConfigError::UnknownConfig { ref key } if key == "retention.days")
        );
        assert!(matches!(
            validate_topic_config("message.downconversion.enable", "true"),
            Err(ConfigError::UnknownConfig { .. })
        ));
        for (name, value) in [
            ("retention.ms", "-2"),
            ("segment.bytes", "1000"),
            ("cleanup.policy", "compact,trim"),
            ("compression.type", "brotli"),
            ("message.timestamp.type", "createtime"),
            ("min.cleanable.dirty.ratio", "1.5"),
            ("compression.zstd.level", "23"),
            ("preallocate", "maybe"),
        ] {
            let msg = validate_topic_config(name, value)
                .expect_err(name)
                .to_string();
            assert!(msg.contains(name) && msg.contains(value), "{msg}");
        }
    }

    #[test]
    fn compaction_lag_cross_check() {
        let bad = overrides(&[
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "5"),
        ]);
        assert!(validate_topic_overrides(&bad).is_err());
        assert!(validate_topic_overrides(&overrides(&[("min.compaction.lag.ms", "10")])).is_ok());
    }

    #[test]
    fn default_topic_on_default_broker_matches_kafka() {
        let entries = describe_topic_configs(&BTreeMap::new(), &BrokerConfig::default());
        assert_eq!(entries.len(), 33);
        for (name, value) in [
            ("cleanup.policy", "delete"),
            ("compression.type", "producer"),
            ("max.message.bytes", "1048588"),
            ("message.timestamp.type", "CreateTime"),
            ("min.insync.replicas", "1"),
            ("retention.ms", "604800000"),
            ("segment.bytes", "1073741824"),
            ("segment.ms", "604800000"),
            ("flush.ms", "9223372036854775807"),
            ("min.cleanable.dirty.ratio", "0.5"),
            ("leader.replication.throttled.replicas", ""),
            ("message.timestamp.after.max.ms", "3600000"),
        ] {
            let e = entry(&entries, name);
            assert_eq!(e.value.as_deref(), Some(value), "{name}");
            assert_eq!(e.source, ConfigSource::Default, "{name}");
            assert!(!e.read_only && !e.is_sensitive);
        }
        // Kafka lists the broker default as a synonym where the main broker key has a default...
        let seg = entry(&entries, "segment.bytes");
        assert_eq!(seg.synonyms.len(), 1);
        assert_eq!(seg.synonyms[0].name, "log.segment.bytes");
        assert_eq!(seg.synonyms[0].source, ConfigSource::Default);
        assert_eq!(
            entry(&entries, "max.message.bytes").synonyms[0].name,
            "message.max.bytes"
        );
        // ...and none where it has no default (log.retention.ms, log.roll.ms) or no broker key.
        assert!(entry(&entries, "retention.ms").synonyms.is_empty());
        assert!(entry(&entries, "segment.ms").synonyms.is_empty());
        assert!(entry(&entries, "remote.storage.enable").synonyms.is_empty());
        assert_eq!(entry(&entries, "retention.ms").config_type, 5);
        assert_eq!(entry(&entries, "cleanup.policy").config_type, 7);
    }

    #[test]
    fn override_then_static_then_default() {
        let b = broker(&[
            ("log.segment.bytes", "2097152"),
            ("log.retention.hours", "24"),
        ]);
        let o = overrides(&[("segment.bytes", " 4194304 ")]);
        let entries = describe_topic_configs(&o, &b);
        let seg = entry(&entries, "segment.bytes");
        assert_eq!(seg.value.as_deref(), Some("4194304"));
        assert_eq!(seg.source, ConfigSource::DynamicTopic);
        let chain: Vec<_> = seg
            .synonyms
            .iter()
            .map(|s| (s.name.as_str(), s.source))
            .collect();
        assert_eq!(
            chain,
            vec![
                ("segment.bytes", ConfigSource::DynamicTopic),
                ("log.segment.bytes", ConfigSource::StaticBroker),
                ("log.segment.bytes", ConfigSource::Default),
            ]
        );
        // Static broker value without a topic override.
        let without = describe_topic_configs(&BTreeMap::new(), &b);
        let seg = entry(&without, "segment.bytes");
        assert_eq!(seg.value.as_deref(), Some("2097152"));
        assert_eq!(seg.source, ConfigSource::StaticBroker);
        assert_eq!(seg.synonyms[0].value.as_deref(), Some("2097152"));
        // Kafka's quirk: hours alone changes the value but not the reported source.
        let ret = entry(&without, "retention.ms");
        assert_eq!(ret.value.as_deref(), Some("86400000"));
        assert_eq!(ret.source, ConfigSource::Default);
    }

    #[test]
    fn retention_ms_at_broker_level_is_reported_static() {
        let b = broker(&[("log.retention.ms", "1000")]);
        let entries = describe_topic_configs(&BTreeMap::new(), &b);
        let ret = entry(&entries, "retention.ms");
        assert_eq!(ret.value.as_deref(), Some("1000"));
        assert_eq!(ret.source, ConfigSource::StaticBroker);
        let names: Vec<_> = ret.synonyms.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["log.retention.ms", "log.retention.hours"]);
    }

    #[test]
    fn effective_config_defaults_agree_with_broker_fields() {
        let b = BrokerConfig::default();
        let t = effective_topic_config(&BTreeMap::new(), &b);
        assert_eq!(t.segment_bytes, b.log_segment_bytes as u64);
        assert_eq!(t.segment_ms, b.log_roll_ms);
        assert_eq!(t.retention_ms, b.log_retention_ms);
        assert_eq!(t.retention_bytes, b.log_retention_bytes);
        assert_eq!(t.max_message_bytes, b.message_max_bytes as u32);
        assert_eq!(t.flush_messages, b.log_flush_interval_messages as u64);
        assert_eq!(t.flush_ms, b.log_flush_interval_ms);
        assert_eq!(t.index_interval_bytes, b.log_index_interval_bytes as u32);
        assert_eq!(t.cleanup_policy, b.log_cleanup_policy);
        assert_eq!(t.min_insync_replicas, b.min_insync_replicas);
        assert_eq!(t.compression_type, b.compression_type);
        assert!(!t.message_timestamp_type_log_append);
        assert_eq!(t.file_delete_delay_ms, 60_000);
        assert_eq!(t.segment_index_bytes, 10_485_760);
        assert!(!t.preallocate);
    }

    #[test]
    fn effective_config_follows_broker_then_override() {
        let b = broker(&[
            ("log.retention.hours", "-1"),
            ("log.roll.hours", "1"),
            ("log.flush.scheduler.interval.ms", "1000"),
            ("log.message.timestamp.type", "LogAppendTime"),
            ("log.cleanup.policy", "compact"),
        ]);
        let t = effective_topic_config(&BTreeMap::new(), &b);
        assert_eq!(t.retention_ms, -1);
        assert_eq!(t.segment_ms, 3_600_000);
        assert_eq!(t.flush_ms, 1000);
        assert!(t.message_timestamp_type_log_append);
        assert!(t.cleanup_policy.compact && !t.cleanup_policy.delete);
        let o = overrides(&[
            ("retention.ms", "5000"),
            ("message.timestamp.type", "CreateTime"),
            ("cleanup.policy", "delete,compact"),
            ("max.message.bytes", "100"),
            ("segment.bytes", "not-a-number"),
        ]);
        let t = effective_topic_config(&o, &b);
        assert_eq!(t.retention_ms, 5000);
        assert!(!t.message_timestamp_type_log_append);
        assert!(t.cleanup_policy.compact && t.cleanup_policy.delete);
        assert_eq!(t.max_message_bytes, 100);
        // A corrupt stored override falls back to the broker value instead of failing.
        assert_eq!(t.segment_bytes, 1_073_741_824);
    }
}
