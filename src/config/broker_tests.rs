//! BrokerConfig: parsing, defaults and the errors that name their key.

use super::*;

fn cfg(pairs: &[(&str, &str)]) -> Result<BrokerConfig, ConfigError> {
    BrokerConfig::from_raw(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn err(pairs: &[(&str, &str)]) -> String {
    cfg(pairs).expect_err("must be rejected").to_string()
}

#[test]
fn sasl_listeners_are_served_except_where_brokers_or_controllers_would_go_unauthenticated() {
    let sasl = [
        ("sasl.enabled.mechanisms", "SCRAM-SHA-256"),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        ),
    ];
    let single = cfg(&[
        sasl[0],
        sasl[1],
        ("listeners", "PLAINTEXT://:9092,SASL_PLAINTEXT://:9094"),
    ])
    .expect("a SASL_PLAINTEXT listener is served");
    assert!(single.sasl.listeners.contains_key("SASL_PLAINTEXT"));
    let e = err(&[
        sasl[0],
        sasl[1],
        ("listeners", "SASL_PLAINTEXT://:9092,CONTROLLER://:9093"),
        ("controller.listener.names", "CONTROLLER"),
        (
            "controller.quorum.voters",
            "1@localhost:9093,2@localhost:9193,3@localhost:9293",
        ),
        ("process.roles", "broker,controller"),
    ]);
    assert!(e.contains("controller listener CONTROLLER"), "{e}");
    let e = err(&[
        sasl[0],
        (
            "listener.security.protocol.map",
            "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        ),
        ("listeners", "SASL_PLAINTEXT://:9092,CONTROLLER://:9093"),
        ("controller.listener.names", "CONTROLLER"),
        (
            "controller.quorum.voters",
            "1@localhost:9093,2@localhost:9193,3@localhost:9293",
        ),
        ("process.roles", "broker,controller"),
    ]);
    // Kafka's default inter-broker mechanism, GSSAPI, is refused; PLAIN with the broker's
    // login in the listener's JAAS config is served.
    assert!(
        e.contains("sasl.mechanism.inter.broker.protocol") && e.contains("GSSAPI"),
        "{e}"
    );
    let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"b\" password=\"b-secret\" user_b=\"b-secret\";";
    let secured = cfg(&[
        ("sasl.enabled.mechanisms", "PLAIN"),
        ("sasl.mechanism.inter.broker.protocol", "PLAIN"),
        ("listener.name.sasl_plaintext.plain.sasl.jaas.config", jaas),
        (
            "listener.security.protocol.map",
            "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SSL",
        ),
        ("listeners", "SASL_PLAINTEXT://:9092,CONTROLLER://:9093"),
        ("controller.listener.names", "CONTROLLER"),
        (
            "controller.quorum.voters",
            "1@localhost:9093,2@localhost:9193,3@localhost:9293",
        ),
        ("process.roles", "broker,controller"),
    ])
    .expect("a SASL inter-broker listener and an SSL controller listener are served");
    let inter = secured.inter_broker_peer.expect("inter-broker peer");
    assert_eq!(inter.listener, "SASL_PLAINTEXT");
    assert_eq!(inter.sasl.map(|l| l.username).as_deref(), Some("b"));
    let controller = secured.controller_peer.expect("controller peer");
    assert!(controller.ssl.is_some() && controller.check_host_name);
    // SASL_SSL is TLS plus SASL: the listener gets both settings.
    let both = cfg(&[sasl[0], ("listeners", "SASL_SSL://:9094")]).expect("SASL_SSL is served");
    assert!(both.sasl.listeners.contains_key("SASL_SSL"));
    assert!(both.ssl.contains_key("SASL_SSL"));
}

#[test]
fn empty_raw_is_default() {
    assert_eq!(cfg(&[]).expect("defaults load"), BrokerConfig::default());
}

#[test]
fn node_id_falls_back_to_broker_id() {
    assert_eq!(cfg(&[("broker.id", "7")]).expect("ok").node_id, 7);
    assert_eq!(cfg(&[("node.id", "3")]).expect("ok").node_id, 3);
    assert_eq!(
        cfg(&[("node.id", "3"), ("broker.id", "3")])
            .expect("ok")
            .node_id,
        3
    );
    assert!(err(&[("node.id", "3"), ("broker.id", "4")]).contains("broker.id"));
    assert!(err(&[("node.id", "-1")]).contains("node.id"));
}

#[test]
fn retention_precedence_and_forever() {
    assert_eq!(
        cfg(&[("log.retention.hours", "1")])
            .expect("ok")
            .log_retention_ms,
        HOUR_MS
    );
    let c = cfg(&[("log.retention.hours", "1"), ("log.retention.minutes", "2")]).expect("ok");
    assert_eq!(c.log_retention_ms, 120_000);
    let c = cfg(&[("log.retention.minutes", "2"), ("log.retention.ms", "5")]).expect("ok");
    assert_eq!(c.log_retention_ms, 5);
    assert_eq!(
        cfg(&[("log.retention.ms", "-1")])
            .expect("ok")
            .log_retention_ms,
        -1
    );
    assert_eq!(
        cfg(&[("log.retention.hours", "-5")])
            .expect("ok")
            .log_retention_ms,
        -1
    );
    assert!(err(&[("log.retention.ms", "0")]).contains("log.retention.ms"));
}

#[test]
fn roll_and_flush_fallbacks() {
    assert_eq!(
        cfg(&[("log.roll.hours", "2")]).expect("ok").log_roll_ms,
        2 * HOUR_MS
    );
    let c = cfg(&[("log.roll.hours", "2"), ("log.roll.ms", "10")]).expect("ok");
    assert_eq!(c.log_roll_ms, 10);
    let c = cfg(&[("log.flush.scheduler.interval.ms", "500")]).expect("ok");
    assert_eq!(c.log_flush_interval_ms, 500);
    let c = cfg(&[
        ("log.flush.scheduler.interval.ms", "500"),
        ("log.flush.interval.ms", "7"),
    ])
    .expect("ok");
    assert_eq!(c.log_flush_interval_ms, 7);
}

#[test]
fn log_dirs_win_over_log_dir() {
    let c = cfg(&[("log.dir", "/a"), ("log.dirs", "/b, /c")]).expect("ok");
    assert_eq!(c.log_dirs, vec![PathBuf::from("/b"), PathBuf::from("/c")]);
    assert_eq!(
        cfg(&[("log.dir", "/a")]).expect("ok").log_dirs,
        vec![PathBuf::from("/a")]
    );
    assert!(err(&[("log.dirs", "/a,/a")]).contains("log.dirs"));
}

#[test]
fn typed_values() {
    let c = cfg(&[
        ("num.partitions", "3"),
        ("default.replication.factor", "2"),
        ("auto.create.topics.enable", "FALSE"),
        ("log.message.timestamp.type", "LogAppendTime"),
        ("log.cleanup.policy", "compact,delete"),
        ("compression.type", "zstd"),
        ("milena.flush.on.ack", "true"),
        ("milena.http.listener", "127.0.0.1:9644"),
        ("milena.metrics.partition.series.enable", "false"),
    ])
    .expect("ok");
    assert_eq!(c.http_listener, Some(("127.0.0.1".to_string(), 9644)));
    assert!(!c.metrics_partition_series);
    assert_eq!(cfg(&[]).expect("ok").http_listener, None);
    assert_eq!(
        cfg(&[("milena.http.listener", ":0")])
            .expect("ok")
            .http_listener,
        Some((String::new(), 0))
    );
    assert_eq!(c.num_partitions, 3);
    assert_eq!(c.default_replication_factor, 2);
    assert!(!c.auto_create_topics_enable);
    assert_eq!(c.log_message_timestamp_type, TimestampType::LogAppendTime);
    assert!(c.log_cleanup_policy.compact && c.log_cleanup_policy.delete);
    assert_eq!(c.compression_type, CompressionType::Zstd);
    assert!(c.flush_on_ack);
    assert_eq!(c.raw_value("auto.create.topics.enable"), Some("FALSE"));
    assert_eq!(c.source_of("num.partitions"), ConfigSource::StaticBroker);
    assert_eq!(c.source_of("log.segment.bytes"), ConfigSource::Default);
}

#[test]
fn http_listener_scheme_and_https_keys() {
    let plain = cfg(&[("milena.http.listener", "http://127.0.0.1:9644")]).expect("ok");
    assert_eq!(plain.http_listener, Some(("127.0.0.1".to_string(), 9644)));
    assert!(plain.http_tls.is_none());
    let https = cfg(&[
        ("milena.http.listener", "https://localhost:9644"),
        ("milena.http.ssl.keystore.location", "/etc/milena/http.p12"),
        ("milena.http.ssl.keystore.password", "pw"),
        // The Kafka listeners' keys are not inherited.
        ("ssl.keystore.location", "/etc/milena/kafka.p12"),
    ])
    .expect("ok");
    assert_eq!(https.http_listener, Some(("localhost".to_string(), 9644)));
    let tls = https.http_tls.expect("https settings");
    assert_eq!(
        tls.keystore.location,
        Some(std::path::PathBuf::from("/etc/milena/http.p12"))
    );
    assert_eq!(
        tls.keystore.password.as_ref().map(|p| p.expose()),
        Some("pw")
    );
    let no_keystore = err(&[("milena.http.listener", "https://:9644")]);
    assert!(
        no_keystore.contains("milena.http.ssl.keystore.location"),
        "{no_keystore}"
    );
    let not_https = err(&[
        ("milena.http.listener", "127.0.0.1:9644"),
        ("milena.http.ssl.keystore.location", "/x.p12"),
    ]);
    assert!(not_https.contains("https://"), "{not_https}");
    let scheme = err(&[("milena.http.listener", "ftp://127.0.0.1:9644")]);
    assert!(scheme.contains("http:// or https://"), "{scheme}");
}

#[test]
fn invalid_values_name_key_and_value() {
    for (key, value) in [
        ("num.partitions", "many"),
        ("num.partitions", "0"),
        ("log.segment.bytes", "1000"),
        ("message.max.bytes", "99999999999"),
        ("default.replication.factor", "40000"),
        ("compression.type", "brotli"),
        ("log.cleanup.policy", "delete,forever"),
        ("num.io.threads", "zero"),
        ("offsets.topic.replication.factor", "0"),
        ("cluster.id", "short"),
        ("milena.http.listener", "9644"),
        ("milena.http.listener", "localhost:http"),
        ("milena.http.listener", "localhost:70000"),
        ("milena.metrics.partition.series.enable", "maybe"),
    ] {
        let msg = err(&[(key, value)]);
        assert!(msg.contains(key) && msg.contains(value), "{msg}");
    }
}

#[test]
fn listeners_and_advertised() {
    let c = cfg(&[
        ("listeners", "PLAINTEXT://:9092,EXTERNAL://0.0.0.0:29092"),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
        ),
        (
            "advertised.listeners",
            "PLAINTEXT://broker:9092,EXTERNAL://localhost:29092",
        ),
    ])
    .expect("ok");
    assert_eq!(c.listeners.len(), 2);
    assert_eq!(c.advertised_listeners[1].host, "localhost");
    assert!(err(&[("listeners", "")]).contains("listeners"));
    assert!(err(&[("advertised.listeners", "OTHER://h:1")]).contains("not in listeners"));
    assert!(err(&[("advertised.listeners", "PLAINTEXT://0.0.0.0:9092")]).contains("wildcard"));
}

#[test]
fn cluster_id_accepts_kafka_uuids() {
    let c = cfg(&[("cluster.id", "MkU3OEVBNTcwNTJENDM2Qk")]).expect("ok");
    assert_eq!(c.cluster_id.as_deref(), Some("MkU3OEVBNTcwNTJENDM2Qk"));
}

#[test]
fn synonym_chain_follows_kafka() {
    let keys = [
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ];
    // Main key unset: Kafka drops the hour default, so there are no synonyms at all.
    assert!(cfg(&[("log.retention.hours", "1")])
        .expect("ok")
        .synonym_chain(&keys)
        .is_empty());
    let c = cfg(&[("log.retention.ms", "5"), ("log.retention.hours", "1")]).expect("ok");
    let chain: Vec<_> = c
        .synonym_chain(&keys)
        .into_iter()
        .map(|s| (s.name, s.value.unwrap_or_default(), s.source))
        .collect();
    assert_eq!(
        chain,
        vec![
            (
                "log.retention.ms".into(),
                "5".into(),
                ConfigSource::StaticBroker
            ),
            (
                "log.retention.hours".into(),
                "1".into(),
                ConfigSource::StaticBroker
            ),
            (
                "log.retention.hours".into(),
                "168".into(),
                ConfigSource::Default
            ),
        ]
    );
}
