//! The seed quickstart, steps 1-5, with the stock Kafka 4.1 tools and kcat (Debian's
//! librdkafka 2.0.2): create, list, describe, alter and delete topics; produce lines with the
//! console producer (idempotent, acks=-1) and read them back with kcat, in order per partition.

use crate::support;

use support::*;

#[test]
fn topics_tool_create_list_describe_alter_delete() {
    let broker = Broker::start();
    let out = topics(
        &broker,
        &[
            "--create",
            "--replication-factor",
            "1",
            "--partitions",
            "3",
            "--topic",
            "test",
        ],
    );
    assert!(assert_success(&out, "create").contains("Created topic test."));

    let out = topics(&broker, &["--list"]);
    assert_eq!(assert_success(&out, "list").trim(), "test");

    let out = topics(&broker, &["--describe", "--topic", "test"]);
    let text = assert_success(&out, "describe");
    assert!(text.contains("PartitionCount: 3"), "{text}");
    assert!(text.contains("ReplicationFactor: 1"), "{text}");
    // Kafka 4.1 prints this exact line (DescribeTopicPartitions, with empty ELR lists).
    for p in 0..3 {
        assert!(
            text.contains(&format!("\tTopic: test\tPartition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: \n")),
            "{text}"
        );
    }

    // Creating it again is refused, as Kafka refuses it.
    let out = topics(
        &broker,
        &["--create", "--partitions", "1", "--topic", "test"],
    );
    assert!(!out.status.success());
    assert!(
        stdout_of(&out).contains("already exists") || stderr_of(&out).contains("already exists")
    );

    // A replication factor above the broker count gets Kafka's error.
    let out = topics(
        &broker,
        &[
            "--create",
            "--replication-factor",
            "3",
            "--partitions",
            "1",
            "--topic",
            "rf3",
        ],
    );
    assert!(!out.status.success());
    assert!(format!("{}{}", stdout_of(&out), stderr_of(&out))
        .contains("InvalidReplicationFactorException"));

    // Per-topic configs are stored and shown by --describe.
    let out = topics(
        &broker,
        &[
            "--create",
            "--partitions",
            "1",
            "--topic",
            "configured",
            "--config",
            "retention.ms=123456",
            "--config",
            "cleanup.policy=compact",
        ],
    );
    assert_success(&out, "create with configs");
    let text = assert_success(
        &topics(&broker, &["--describe", "--topic", "configured"]),
        "describe configured",
    );
    assert!(text.contains("retention.ms=123456"), "{text}");
    assert!(text.contains("cleanup.policy=compact"), "{text}");

    // An unknown config gets INVALID_CONFIG from the broker (the tool itself checks value types).
    let out = topics(
        &broker,
        &[
            "--create",
            "--partitions",
            "1",
            "--topic",
            "badcfg",
            "--config",
            "retention.msx=5",
        ],
    );
    assert!(!out.status.success());
    assert!(
        format!("{}{}", stdout_of(&out), stderr_of(&out)).contains("InvalidConfigurationException")
    );

    let out = topics(
        &broker,
        &["--alter", "--topic", "test", "--partitions", "6"],
    );
    assert_success(&out, "alter");
    let text = assert_success(
        &topics(&broker, &["--describe", "--topic", "test"]),
        "describe after alter",
    );
    assert!(text.contains("PartitionCount: 6"), "{text}");
    assert!(text.contains("Partition: 5\tLeader: 1"), "{text}");

    assert_success(&topics(&broker, &["--delete", "--topic", "test"]), "delete");
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        !stdout_of(&topics(&broker, &["--list"]))
            .lines()
            .any(|l| l == "test")
    }));
    assert!(
        !broker.log_dir().join("test-0").exists(),
        "deleted topic's directory remains"
    );
}

#[test]
fn console_producer_lines_read_back_by_kcat_in_order() {
    let broker = Broker::start();
    assert_success(
        &topics(
            &broker,
            &[
                "--create",
                "--replication-factor",
                "1",
                "--partitions",
                "3",
                "--topic",
                "test",
            ],
        ),
        "create",
    );
    let lines: Vec<String> = (0..500).map(|i| format!("line-{i}")).collect();
    let input = lines.join("\n") + "\n";
    let out = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &["--bootstrap-server", &broker.bootstrap(), "--topic", "test"],
        &input,
    );
    assert_success(&out, "console producer");

    let by_partition = consume_all(&broker, "test");
    let mut seen: Vec<String> = Vec::new();
    for records in by_partition.values() {
        // Offsets are dense from 0 and values keep the order they were produced in.
        for (i, (offset, _)) in records.iter().enumerate() {
            assert_eq!(*offset, i as i64);
        }
        let indexes: Vec<usize> = records
            .iter()
            .map(|(_, v)| v.trim_start_matches("line-").parse().unwrap())
            .collect();
        assert!(
            indexes.windows(2).all(|w| w[0] < w[1]),
            "out of order in a partition: {indexes:?}"
        );
        seen.extend(records.iter().map(|(_, v)| v.clone()));
    }
    seen.sort();
    let mut expected = lines.clone();
    expected.sort();
    assert_eq!(seen, expected, "every line exactly once");
}

#[test]
fn kcat_lists_brokers_topics_and_partitions() {
    let broker = Broker::start();
    assert_success(
        &topics(
            &broker,
            &["--create", "--partitions", "3", "--topic", "test"],
        ),
        "create",
    );
    let out = kcat(&["-L", "-b", &broker.bootstrap()]);
    let text = assert_success(&out, "kcat -L");
    assert!(text.contains("1 brokers:"), "{text}");
    assert!(
        text.contains(&format!("broker 1 at localhost:{}", broker.port)),
        "{text}"
    );
    assert!(text.contains("topic \"test\" with 3 partitions:"), "{text}");
    assert!(
        text.contains("partition 2, leader 1, replicas: 1, isrs: 1"),
        "{text}"
    );
}

#[test]
fn metadata_auto_creates_topics_when_enabled() {
    let broker = Broker::start();
    let out = kcat_stdin(
        &["-P", "-b", &broker.bootstrap(), "-t", "auto-created"],
        "a\nb\n",
    );
    assert_success(&out, "kcat -P to a new topic");
    let records = consume_all(&broker, "auto-created");
    let values: Vec<&str> = records
        .values()
        .flatten()
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values, vec!["a", "b"]);

    let off = Broker::start_with(&[("auto.create.topics.enable", "false")]);
    let out = kcat(&["-L", "-b", &off.bootstrap(), "-t", "missing"]);
    assert!(
        stdout_of(&out).contains("Broker: Unknown topic or partition"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn flush_on_ack_serves_what_it_acknowledged() {
    let broker = Broker::start_with(&[("milena.flush.on.ack", "true")]);
    assert_success(
        &topics(
            &broker,
            &["--create", "--partitions", "2", "--topic", "durable"],
        ),
        "create",
    );
    let input: String = (0..300).map(|i| format!("d-{i}\n")).collect();
    // Two producers at once so that their fsyncs can be grouped.
    let bootstrap = broker.bootstrap();
    let second = {
        let bootstrap = bootstrap.clone();
        let input = input.clone();
        std::thread::spawn(move || {
            kafka_tool_stdin(
                "kafka-console-producer.sh",
                &["--bootstrap-server", &bootstrap, "--topic", "durable"],
                &input,
            )
        })
    };
    assert_success(
        &kafka_tool_stdin(
            "kafka-console-producer.sh",
            &["--bootstrap-server", &bootstrap, "--topic", "durable"],
            &input,
        ),
        "producer 1",
    );
    assert_success(&second.join().unwrap(), "producer 2");
    let total: usize = consume_all(&broker, "durable").values().map(Vec::len).sum();
    assert_eq!(total, 600);
}
