//! The DescribeConfigs view of the broker resource: every broker key Milena recognises.
//!
//! As in Kafka, an entry's value is that key's own value (`log.retention.ms` stays null when only
//! `log.retention.hours` is set), its source is `STATIC_BROKER_CONFIG` when the file or environment
//! set it and `DEFAULT_CONFIG` otherwise, and `read_only` is true for every key Kafka cannot change
//! on a running broker, whatever its source.

use super::broker::BrokerConfig;
use super::broker_keys::{BrokerKey, BROKER_KEYS};
use super::entry::ConfigEntry;
use super::value::ConfigType;

/// Broker keys whose synonyms are other spellings of the same setting, in Kafka's order.
const SYNONYM_GROUPS: &[&[&str]] = &[
    &["log.roll.ms", "log.roll.hours"],
    &["log.roll.jitter.ms", "log.roll.jitter.hours"],
    &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ],
    &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
];

/// Every recognised broker key, sorted by name, as DescribeConfigs reports it for this broker.
pub fn describe_broker_configs(broker: &BrokerConfig) -> Vec<ConfigEntry> {
    let mut entries: Vec<ConfigEntry> = BROKER_KEYS.iter().map(|k| entry(k, broker)).collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

fn entry(key: &BrokerKey, broker: &BrokerConfig) -> ConfigEntry {
    let sensitive = key.kind == ConfigType::Password;
    let value = broker
        .raw_value(key.name)
        .map(|raw| {
            super::value::canonical(key.name, key.kind, key.check, raw)
                .unwrap_or_else(|_| raw.to_string())
        })
        .or_else(|| key.default.map(str::to_string))
        .filter(|_| !sensitive);
    // A key in a group lists the whole group from its own position on (Kafka drops the
    // higher-precedence spellings when describing a lower one).
    let group: Vec<&str> = SYNONYM_GROUPS
        .iter()
        .find_map(|g| {
            g.iter()
                .position(|&n| n == key.name)
                .map(|at| g[at..].to_vec())
        })
        .unwrap_or_else(|| vec![key.name]);
    let synonyms = broker.synonym_chain(&group);
    ConfigEntry {
        name: key.name.to_string(),
        value,
        source: synonyms
            .first()
            .map_or(super::ConfigSource::Default, |s| s.source),
        read_only: !key.dynamic,
        is_sensitive: sensitive,
        config_type: key.kind.code(),
        documentation: key.doc.to_string(),
        synonyms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    fn find<'a>(entries: &'a [ConfigEntry], name: &str) -> &'a ConfigEntry {
        entries.iter().find(|e| e.name == name).expect("present")
    }

    #[test]
    fn defaults_and_static_values() {
        let broker = BrokerConfig::from_raw(
            [("num.partitions", " 3"), ("log.retention.hours", "24")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .expect("valid");
        let entries = describe_broker_configs(&broker);
        let parts = find(&entries, "num.partitions");
        assert_eq!(parts.value.as_deref(), Some("3"));
        assert_eq!(parts.source, ConfigSource::StaticBroker);
        assert!(parts.read_only);
        assert_eq!(parts.synonyms[0].value.as_deref(), Some(" 3"));

        let seg = find(&entries, "log.segment.bytes");
        assert_eq!(seg.value.as_deref(), Some("1073741824"));
        assert_eq!(seg.source, ConfigSource::Default);
        assert!(
            !seg.read_only,
            "log.segment.bytes is dynamically updatable in Kafka"
        );

        let ms = find(&entries, "log.retention.ms");
        assert_eq!(ms.value, None);
        assert_eq!(ms.source, ConfigSource::Default);
        assert!(ms.synonyms.is_empty());

        let hours = find(&entries, "log.retention.hours");
        assert_eq!(hours.value.as_deref(), Some("24"));
        assert_eq!(hours.source, ConfigSource::StaticBroker);
        assert_eq!(hours.synonyms.len(), 2);
        assert_eq!(hours.synonyms[1].source, ConfigSource::Default);
    }

    #[test]
    fn sorted_and_typed() {
        let entries = describe_broker_configs(&BrokerConfig::default());
        assert!(entries.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(find(&entries, "auto.create.topics.enable").config_type, 1);
        assert_eq!(find(&entries, "node.id").value.as_deref(), Some("1"));
        assert!(entries.iter().all(|e| !e.documentation.is_empty()));
        // Passwords are sensitive: DescribeConfigs never shows them, as in Kafka.
        let password = find(&entries, "ssl.keystore.password");
        assert!(password.is_sensitive && password.value.is_none());
        assert!(entries
            .iter()
            .all(|e| e.is_sensitive == (e.config_type == ConfigType::Password.code())));
    }
}
