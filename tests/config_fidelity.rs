//! Config fidelity: DescribeConfigs for the broker and a topic answers as Apache Kafka 4.1 does,
//! key by key (value, read_only, config_type, is_sensitive, config_source, synonyms), and
//! changing a read-only broker key fails with Kafka's error.
//!
//! The expected answer is Kafka's own, recorded from the reference broker into
//! `tests/expected/config_fidelity/reference.txt`:
//! `MILENA_TEST_REFERENCE=1 MILENA_RECORD_EXPECTED=1 cargo test --release --test suite config_fidelity::`.
//! Without `MILENA_RECORD_EXPECTED` a reference run compares Kafka with the file (the file is
//! still Kafka's answer), and a normal run compares Milena with it.
//!
//! Both brokers get the same static configuration: the stock `config/server.properties` of the
//! Kafka distribution (which the reference script starts from) plus [`OVERRIDES`]. Ports and the
//! temporary directory differ from run to run; they are written as `<port>`,
//! `<controller-port>` and `<dir>`. Where Milena differs on purpose the difference is explicit:
//! [`VALUE_DIFFERS`] (the value, for a stated reason; everything else about the key is still
//! compared), [`KNOWN_DIFFERENCES`] (whole lines, with Milena's line spelled out),
//! `not_in_milena.txt` (Kafka keys Milena does not report, a reviewed list that must
//! match exactly), and [`MILENA_ONLY`] (keys only Milena has).

use crate::support;
use crate::wire;

use std::collections::BTreeMap;
use std::path::PathBuf;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use wire::*;

const TOPIC: &str = "fidelity";

/// Keys of the reference script's server.properties (Kafka's stock file, rewritten for the
/// ports and directory), given to Milena too so that both report the same static keys.
/// `listeners`, `advertised.listeners`, `log.dirs`, `node.id` and
/// `controller.quorum.bootstrap.servers` are set by the harness and the script.
const STOCK: &[(&str, &str)] = &[
    ("process.roles", "broker,controller"),
    ("inter.broker.listener.name", "PLAINTEXT"),
    ("controller.listener.names", "CONTROLLER"),
    (
        "listener.security.protocol.map",
        "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    ),
    ("num.network.threads", "3"),
    ("num.io.threads", "8"),
    ("socket.send.buffer.bytes", "102400"),
    ("socket.receive.buffer.bytes", "102400"),
    ("socket.request.max.bytes", "104857600"),
    ("num.recovery.threads.per.data.dir", "1"),
    ("share.coordinator.state.topic.replication.factor", "1"),
    ("share.coordinator.state.topic.min.isr", "1"),
    ("transaction.state.log.replication.factor", "1"),
    ("transaction.state.log.min.isr", "1"),
    ("log.segment.bytes", "1073741824"),
    ("log.retention.check.interval.ms", "300000"),
    // The harness's defaults for the reference broker (tests/support/mod.rs).
    ("group.initial.rebalance.delay.ms", "0"),
    ("offsets.topic.replication.factor", "1"),
];

/// Static overrides of this test, on both brokers: a value that is not the default, one that is
/// written untidily (canonical text), a synonym group's lower key, and a password.
const OVERRIDES: &[(&str, &str)] = &[
    ("num.partitions", "3"),
    ("log.retention.hours", "72"),
    ("log.roll.hours", "24"),
    ("message.max.bytes", "2000000"),
    ("auto.create.topics.enable", " FALSE"),
    ("compression.type", "lz4"),
    ("log.cleanup.policy", "compact, delete"),
    ("ssl.keystore.password", "fidelity-secret"),
    // Read by the authorizer, not declared among Kafka's broker configs.
    ("super.users", "User:admin"),
];

/// The topic's overrides (CreateTopics configs).
const TOPIC_CONFIGS: &[(&str, &str)] = &[
    ("retention.ms", "3600000"),
    ("cleanup.policy", "compact"),
    ("max.message.bytes", "500000"),
];

/// Keys whose value Milena reports differently on purpose; everything else about them (read-only,
/// type, sensitivity, source, synonym names and sources) is still compared.
const VALUE_DIFFERS: &[(&str, &str, &str)] = &[(
    "broker '1'",
    "log.dir",
    "Milena's default is ./data: Kafka's /tmp/kafka-logs is wiped at boot on many systems",
)];

/// Lines where Milena's answer differs from Kafka's for a stated reason: the line key, Milena's
/// whole line (empty: Milena has no such line), and why.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    // `kafka-storage.sh format` of Kafka 4 writes a cluster-wide dynamic default of
    // min.insync.replicas=1 into the new metadata log; Milena has no dynamic broker configs.
    ("broker '' | min.insync.replicas", "", "no dynamic cluster default"),
    (
        "broker '1' | min.insync.replicas",
        "broker '1' | min.insync.replicas | 1 | read_only=false | INT | sensitive=false | DEFAULT_CONFIG | [min.insync.replicas=1@DEFAULT_CONFIG]",
        "no dynamic cluster default",
    ),
    (
        "topic fidelity | min.insync.replicas",
        "topic fidelity | min.insync.replicas | 1 | read_only=false | INT | sensitive=false | DEFAULT_CONFIG | [min.insync.replicas=1@DEFAULT_CONFIG]",
        "no dynamic cluster default",
    ),
];

/// Keys only Milena reports (Kafka 4.1 has no such key).
const MILENA_ONLY: &[&str] = &[
    "cluster.id",
    "milena.flush.on.ack",
    "milena.http.listener",
    "milena.http.ssl.key.password",
    "milena.http.ssl.keystore.certificate.chain",
    "milena.http.ssl.keystore.key",
    "milena.http.ssl.keystore.location",
    "milena.http.ssl.keystore.password",
    "milena.http.ssl.keystore.type",
    "milena.log.format",
    "milena.metrics.partition.series.enable",
];

fn expected_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expected/config_fidelity")
}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

const BROKER_RESOURCE: i8 = 4;
const TOPIC_RESOURCE: i8 = 2;

fn source_name(code: i8) -> String {
    match code {
        1 => "DYNAMIC_TOPIC_CONFIG".into(),
        2 => "DYNAMIC_BROKER_CONFIG".into(),
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG".into(),
        4 => "STATIC_BROKER_CONFIG".into(),
        5 => "DEFAULT_CONFIG".into(),
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG".into(),
        7 => "CLIENT_METRICS_CONFIG".into(),
        8 => "GROUP_CONFIG".into(),
        other => format!("UNKNOWN({other})"),
    }
}

fn type_name(code: i8) -> String {
    match code {
        0 => "UNKNOWN".into(),
        1 => "BOOLEAN".into(),
        2 => "STRING".into(),
        3 => "INT".into(),
        4 => "SHORT".into(),
        5 => "LONG".into(),
        6 => "DOUBLE".into(),
        7 => "LIST".into(),
        8 => "CLASS".into(),
        9 => "PASSWORD".into(),
        other => format!("UNKNOWN({other})"),
    }
}

/// Replaces what changes from run to run: ports and the temporary directory.
struct Normalizer {
    port: u16,
    controller_port: u16,
    dir: String,
}

impl Normalizer {
    fn value(&self, v: Option<&str>) -> String {
        match v {
            None => "<null>".into(),
            Some(v) => v
                .replace(&self.dir, "<dir>")
                .replace(&self.controller_port.to_string(), "<controller-port>")
                .replace(&self.port.to_string(), "<port>"),
        }
    }
}

/// One line per key: `resource | name | value | read_only | type | sensitive | source | synonyms`.
fn render(
    resource: &str,
    entry: &describe_configs_response::DescribeConfigsResourceResult,
    norm: &Normalizer,
) -> String {
    let synonyms: Vec<String> = entry
        .synonyms
        .iter()
        .map(|s| {
            format!(
                "{}={}@{}",
                &*s.name,
                norm.value(s.value.as_deref()),
                source_name(s.source)
            )
        })
        .collect();
    format!(
        "{resource} | {} | {} | read_only={} | {} | sensitive={} | {} | [{}]",
        &*entry.name,
        norm.value(entry.value.as_deref()),
        entry.read_only,
        type_name(entry.config_type),
        entry.is_sensitive,
        source_name(entry.config_source),
        synonyms.join(", ")
    )
}

/// The value fields of a rendered line replaced by `<differs>` (the entry's and its synonyms').
fn without_values(line: &str) -> String {
    let mut fields: Vec<String> = line.split(" | ").map(str::to_string).collect();
    if fields.len() == 8 {
        fields[2] = "<differs>".into();
        let synonyms = fields[7].trim_start_matches('[').trim_end_matches(']');
        let masked: Vec<String> = synonyms
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(|s| match (s.split_once('='), s.rsplit_once('@')) {
                (Some((name, _)), Some((_, source))) => format!("{name}=<differs>@{source}"),
                _ => s.to_string(),
            })
            .collect();
        fields[7] = format!("[{}]", masked.join(", "));
    }
    fields.join(" | ")
}

fn describe(
    stream: &mut std::net::TcpStream,
    version: i16,
    resources: &[(i8, &str)],
) -> DescribeConfigsResponse {
    roundtrip(
        stream,
        ApiKey::DescribeConfigs,
        version,
        &DescribeConfigsRequest::default()
            .with_include_synonyms(true)
            .with_include_documentation(false)
            .with_resources(
                resources
                    .iter()
                    .map(|(t, n)| {
                        describe_configs_request::DescribeConfigsResource::default()
                            .with_resource_type(*t)
                            .with_resource_name(str(n))
                            .with_configuration_keys(None)
                    })
                    .collect(),
            ),
    )
}

/// Error code and message of changing broker keys Kafka does not let a running broker change.
fn read_only_alters(stream: &mut std::net::TcpStream, norm: &Normalizer) -> Vec<String> {
    let mut lines = Vec::new();
    let cases: &[(&str, &str, &str)] = &[
        ("1", "advertised.listeners", "PLAINTEXT://localhost:1"),
        ("", "advertised.listeners", "PLAINTEXT://localhost:1"),
        ("1", "log.retention.hours", "1"),
        ("", "num.partitions", "5"),
    ];
    for (broker, key, value) in cases {
        let response: IncrementalAlterConfigsResponse = roundtrip(
            stream,
            ApiKey::IncrementalAlterConfigs,
            1,
            &IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(BROKER_RESOURCE)
                    .with_resource_name(str(broker))
                    .with_configs(vec![
                        incremental_alter_configs_request::AlterableConfig::default()
                            .with_name(str(key))
                            .with_config_operation(0)
                            .with_value(Some(str(value))),
                    ]),
            ]),
        );
        let r = &response.responses[0];
        lines.push(format!(
            "alter | IncrementalAlterConfigs broker '{broker}' set {key} | error={} | {}",
            r.error_code,
            norm.value(r.error_message.as_deref())
        ));
        let response: AlterConfigsResponse = roundtrip(
            stream,
            ApiKey::AlterConfigs,
            2,
            &AlterConfigsRequest::default().with_resources(vec![
                alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(BROKER_RESOURCE)
                    .with_resource_name(str(broker))
                    .with_configs(vec![alter_configs_request::AlterableConfig::default()
                        .with_name(str(key))
                        .with_value(Some(str(value)))]),
            ]),
        );
        let r = &response.responses[0];
        lines.push(format!(
            "alter | AlterConfigs broker '{broker}' set {key} | error={} | {}",
            r.error_code,
            norm.value(r.error_message.as_deref())
        ));
    }
    lines
}

/// Everything this test compares, as `key -> line`.
fn observe(broker: &support::Broker, norm: &Normalizer) -> BTreeMap<String, String> {
    let mut stream = connect(broker.port);
    let create: CreateTopicsResponse = roundtrip(
        &mut stream,
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_timeout_ms(10000)
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(TopicName(str(TOPIC)))
                .with_num_partitions(1)
                .with_replication_factor(1)
                .with_configs(
                    TOPIC_CONFIGS
                        .iter()
                        .map(|(k, v)| {
                            create_topics_request::CreatableTopicConfig::default()
                                .with_name(str(k))
                                .with_value(Some(str(v)))
                        })
                        .collect(),
                )]),
    );
    assert_eq!(create.topics[0].error_code, 0, "{create:?}");

    let mut lines = BTreeMap::new();
    let v4 = describe(
        &mut stream,
        4,
        &[
            (BROKER_RESOURCE, "1"),
            (BROKER_RESOURCE, ""),
            (TOPIC_RESOURCE, TOPIC),
        ],
    );
    for result in &v4.results {
        let resource = match result.resource_type {
            BROKER_RESOURCE => format!("broker '{}'", &*result.resource_name),
            _ => format!("topic {}", &*result.resource_name),
        };
        let line = format!(
            "{resource} | <error> | error={} | {}",
            result.error_code,
            norm.value(result.error_message.as_deref())
        );
        lines.insert(key_of(&line), line);
        for entry in &result.configs {
            let line = render(&resource, entry, norm);
            lines.insert(key_of(&line), line);
        }
    }

    // v1 (the oldest Kafka 4 serves) is v4 without config_type.
    let v1 = describe(
        &mut stream,
        1,
        &[(BROKER_RESOURCE, "1"), (TOPIC_RESOURCE, TOPIC)],
    );
    for (old, new) in v1.results.iter().zip(
        v4.results
            .iter()
            .filter(|r| !(r.resource_type == BROKER_RESOURCE && r.resource_name.is_empty())),
    ) {
        // Kafka lists the keys in no fixed order, and v1 has no documentation field.
        let comparable =
            |configs: &[describe_configs_response::DescribeConfigsResourceResult]| {
                let mut configs = configs.to_vec();
                for e in &mut configs {
                    e.config_type = 0;
                    e.documentation = None;
                }
                configs.sort_by(|a, b| a.name.cmp(&b.name));
                configs
            };
        assert_eq!(
            comparable(&old.configs),
            comparable(&new.configs),
            "DescribeConfigs v1 is v4 without types"
        );
    }

    for line in read_only_alters(&mut stream, norm) {
        lines.insert(key_of(&line), line);
    }
    lines
}

fn read_expected(name: &str) -> String {
    let path = expected_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn describe_configs_matches_kafka() {
    let controller_port = support::free_port();
    let mut props: Vec<(&str, String)> = Vec::new();
    let controller = format!("localhost:{controller_port}");
    if !support::reference_mode() {
        props.push((
            "listeners",
            format!("PLAINTEXT://localhost:{{port}},CONTROLLER://{controller}"),
        ));
        props.push((
            "advertised.listeners",
            format!("PLAINTEXT://localhost:{{port}},CONTROLLER://{controller}"),
        ));
        props.push(("controller.quorum.bootstrap.servers", controller.clone()));
        props.extend(STOCK.iter().map(|(k, v)| (*k, v.to_string())));
    }
    props.extend(OVERRIDES.iter().map(|(k, v)| (*k, v.to_string())));
    let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let broker = support::Broker::start_with(&props);
    let norm = Normalizer {
        port: broker.port,
        controller_port: if broker.is_reference() {
            broker.port + 1000
        } else {
            controller_port
        },
        dir: broker.data_dir.path().display().to_string(),
    };
    let observed = observe(&broker, &norm);

    if broker.is_reference() && std::env::var("MILENA_RECORD_EXPECTED").is_ok_and(|v| v == "1") {
        let mut text = String::from(
            "# Apache Kafka 4.1's answers, recorded by tests/config_fidelity.rs (see its docs).\n",
        );
        for line in observed.values() {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::create_dir_all(expected_dir()).expect("create the expected dir");
        std::fs::write(expected_dir().join("reference.txt"), text).expect("write reference.txt");
        return;
    }

    let expected: BTreeMap<String, String> = read_expected("reference.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| (key_of(l), l.to_string()))
        .collect();
    let not_in_milena: Vec<String> = read_expected("not_in_milena.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();

    let mut problems = Vec::new();
    let mut missing = Vec::new();
    for (key, want) in &expected {
        if let Some((_, milena, _)) = KNOWN_DIFFERENCES
            .iter()
            .find(|(k, _, _)| !broker.is_reference() && k == key)
        {
            let got = observed.get(key).map_or("", String::as_str);
            if got != *milena {
                problems.push(format!(
                    "known difference changed:\nwas:    {milena}\nmilena: {got}"
                ));
            }
            continue;
        }
        match observed.get(key) {
            Some(got) => {
                let differs = VALUE_DIFFERS
                    .iter()
                    .find(|(resource, name, _)| key == &format!("{resource} | {name}"));
                let (got, want) = match differs {
                    Some(_) => (without_values(got), without_values(want)),
                    None => (got.clone(), want.clone()),
                };
                if got != want {
                    problems.push(format!("kafka:  {want}\nmilena: {got}"));
                }
            }
            None if broker.is_reference() => problems.push(format!("kafka no longer has: {want}")),
            None => missing.push(key.clone()),
        }
    }
    for (key, got) in &observed {
        if expected.contains_key(key) {
            continue;
        }
        let name = key.rsplit(" | ").next().unwrap_or_default();
        if broker.is_reference() || !MILENA_ONLY.contains(&name) {
            problems.push(format!("not in kafka's answer: {got}"));
        }
    }
    if !broker.is_reference() && missing != not_in_milena {
        let extra: Vec<&String> = missing
            .iter()
            .filter(|m| !not_in_milena.contains(m))
            .collect();
        let gone: Vec<&String> = not_in_milena
            .iter()
            .filter(|m| !missing.contains(m))
            .collect();
        problems.push(format!(
            "keys Kafka reports and Milena does not, beyond not_in_milena.txt: {extra:#?}\n\
             listed in not_in_milena.txt but reported by Milena: {gone:#?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{} differences from Kafka 4.1:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A line's first two fields: the resource (or `alter`) and the key (or the change).
fn key_of(line: &str) -> String {
    let mut key: Vec<&str> = line.splitn(3, " | ").collect();
    key.truncate(2);
    key.join(" | ")
}
