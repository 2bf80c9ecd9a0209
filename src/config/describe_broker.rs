//! The DescribeConfigs view of the broker resource: every broker key Milena recognises.
//!
//! As in Kafka, an entry's value is that key's own value (`log.retention.ms` stays null when only
//! `log.retention.hours` is set), its source is `STATIC_BROKER_CONFIG` when the file or environment
//! set it and `DEFAULT_CONFIG` otherwise, and `read_only` is true for every key Kafka cannot change
//! on a running broker, whatever its source. Passwords are hidden in the entry and in every
//! synonym. Checked against Kafka 4.1's answer key by key by tests/config_fidelity.rs.

use super::broker::BrokerConfig;
use super::broker_keys::{BrokerKey, BROKER_KEYS};
use super::entry::{ConfigEntry, ConfigSource, ConfigSynonym};
use super::value::{Check, ConfigType};

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

/// Keys Kafka has no default for (it refuses to start without them) while Milena has one: Kafka
/// lists no `DEFAULT_CONFIG` synonym for them.
const NO_KAFKA_DEFAULT: &[&str] = &["node.id", "process.roles"];

/// Kafka's default of `broker.id`, listed as its `DEFAULT_CONFIG` synonym.
const KAFKA_BROKER_ID_DEFAULT: &str = "-1";

/// Keys of the authorizer, outside Kafka's broker config definition: Kafka reports them only when
/// the file sets them, like any key it does not know (type unknown, so treated as sensitive and
/// hidden, and read-only).
const UNDECLARED_IN_KAFKA: &[&str] = &["super.users", "allow.everyone.if.no.acl.found"];

/// Every recognised broker key, sorted by name, as DescribeConfigs reports it for this broker.
pub fn describe_broker_configs(broker: &BrokerConfig) -> Vec<ConfigEntry> {
    let mut entries: Vec<ConfigEntry> = BROKER_KEYS
        .iter()
        .filter(|k| !UNDECLARED_IN_KAFKA.contains(&k.name))
        .map(|k| entry(k, broker))
        .chain(
            UNDECLARED_IN_KAFKA
                .iter()
                .filter_map(|name| undeclared(name, broker)),
        )
        .collect();
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
    let mut synonyms = broker.synonym_chain(&group);
    if NO_KAFKA_DEFAULT.contains(&key.name) {
        synonyms.retain(|s| s.source != ConfigSource::Default);
    }
    if sensitive {
        for s in &mut synonyms {
            s.value = None;
        }
    }
    let mut entry = ConfigEntry {
        name: key.name.to_string(),
        value,
        source: synonyms.first().map_or(ConfigSource::Default, |s| s.source),
        read_only: !key.dynamic,
        is_sensitive: sensitive,
        config_type: reported_type(key).code(),
        documentation: key.doc.to_string(),
        synonyms,
    };
    if key.name == "broker.id" {
        broker_id_from_node_id(&mut entry, broker);
    }
    entry
}

fn undeclared(name: &str, broker: &BrokerConfig) -> Option<ConfigEntry> {
    broker.raw_value(name)?;
    Some(ConfigEntry {
        name: name.to_string(),
        value: None,
        source: ConfigSource::StaticBroker,
        read_only: true,
        is_sensitive: true,
        config_type: UNKNOWN_TYPE,
        documentation: String::new(),
        synonyms: vec![ConfigSynonym {
            name: name.to_string(),
            value: None,
            source: ConfigSource::StaticBroker,
        }],
    })
}

/// The DescribeConfigs `config_type` of a key Kafka does not declare.
const UNKNOWN_TYPE: i8 = 0;

/// Kafka declares `log.dir` and `log.dirs` as STRING and splits them itself; Milena validates them
/// as lists, but reports Kafka's type.
fn reported_type(key: &BrokerKey) -> ConfigType {
    match key.check {
        Check::NonEmptyUniqueList => ConfigType::String,
        _ => key.kind,
    }
}

/// Kafka copies `node.id` into `broker.id` when only the former is set, so `broker.id` shows the
/// node id as a static value over Kafka's default of -1.
fn broker_id_from_node_id(entry: &mut ConfigEntry, broker: &BrokerConfig) {
    let node_id_set = broker.raw_value("node.id").is_some();
    if broker.raw_value("broker.id").is_some() || !node_id_set {
        return;
    }
    let value = broker.node_id.to_string();
    entry.value = Some(value.clone());
    entry.source = ConfigSource::StaticBroker;
    entry.synonyms = vec![
        ConfigSynonym {
            name: entry.name.clone(),
            value: Some(value),
            source: ConfigSource::StaticBroker,
        },
        ConfigSynonym {
            name: entry.name.clone(),
            value: Some(KAFKA_BROKER_ID_DEFAULT.to_string()),
            source: ConfigSource::Default,
        },
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

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
