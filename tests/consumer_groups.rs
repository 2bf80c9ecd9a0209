//! Consumer groups (classic protocol) with the stock tools and clients, as they observe them:
//!
//! - `kafka-console-consumer.sh` reads the quickstart topic without `--group` (it then joins a random
//!   `console-consumer-NNNNN` group) and with `--group g1`.
//! - `kafka-consumer-groups.sh` lists, describes (offsets, lag, members, state), resets offsets
//!   (earliest, to an offset, shifted), deletes offsets and deletes groups; a group with a live member
//!   cannot be deleted or reset.
//! - Committed offsets and their metadata strings survive a clean restart and a SIGKILL.
//!
//! Validated against Apache Kafka 4.1 with `MILENA_TEST_REFERENCE=1` (see tests/support/mod.rs).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

/// A broker set up for group tests: no initial rebalance delay (Kafka's default is 3 s).
fn start_broker() -> Broker {
    Broker::start_with(&[("group.initial.rebalance.delay.ms", "0")])
}

/// Runs a Kafka tool with `--bootstrap-server` first.
fn tool(broker: &Broker, name: &str, args: &[&str]) -> std::process::Output {
    let bootstrap = broker.bootstrap();
    let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
    all.extend_from_slice(args);
    kafka_tool(name, &all)
}

/// `kafka-consumer-groups.sh args...`: stdout and stderr together. The tool reports most errors
/// ("Error: ...") on stdout and still exits 0, so callers assert on the text.
fn groups(broker: &Broker, args: &[&str]) -> String {
    let out = tool(broker, "kafka-consumer-groups.sh", args);
    format!("{}{}", stdout_of(&out), stderr_of(&out))
}

fn create_topic(broker: &Broker, topic: &str, partitions: u32) {
    let out = tool(
        broker,
        "kafka-topics.sh",
        &[
            "--create",
            "--topic",
            topic,
            "--partitions",
            &partitions.to_string(),
        ],
    );
    assert_success(&out, "kafka-topics.sh --create");
}

/// Produces `key-i:line-i` for i in 0..n with the console producer (keys spread the lines over
/// partitions by Kafka's murmur2 partitioner) and returns the values.
fn produce_lines(broker: &Broker, topic: &str, n: usize) -> Vec<String> {
    let records: Vec<(String, String)> = (0..n)
        .map(|i| (format!("key-{i}"), format!("line-{i}")))
        .collect();
    produce_keyed(broker, topic, &records);
    records.into_iter().map(|(_, v)| v).collect()
}

/// Log end offsets per partition, from `kafka-get-offsets.sh` (`topic:partition:offset` lines).
fn end_offsets(broker: &Broker, topic: &str) -> BTreeMap<i32, i64> {
    let out = tool(broker, "kafka-get-offsets.sh", &["--topic", topic]);
    let text = assert_success(&out, "kafka-get-offsets.sh");
    text.lines()
        .filter_map(|l| {
            let mut parts = l.trim().rsplitn(3, ':');
            let off = parts.next()?.parse().ok()?;
            let p = parts.next()?.parse().ok()?;
            Some((p, off))
        })
        .collect()
}

/// One row of `kafka-consumer-groups.sh --describe --group G` (offsets view).
#[derive(Debug, Clone, PartialEq)]
struct OffsetRow {
    topic: String,
    current: String,
    log_end: i64,
    lag: String,
    consumer_id: String,
    host: String,
    client_id: String,
}

/// Parses the offsets table: `GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID
/// HOST CLIENT-ID`, one row per partition, `-` for an empty cell. Keyed by (topic, partition).
fn parse_describe(text: &str, group: &str) -> BTreeMap<(String, i32), OffsetRow> {
    let mut header_seen = false;
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"GROUP") {
            assert_eq!(
                cols,
                [
                    "GROUP",
                    "TOPIC",
                    "PARTITION",
                    "CURRENT-OFFSET",
                    "LOG-END-OFFSET",
                    "LAG",
                    "CONSUMER-ID",
                    "HOST",
                    "CLIENT-ID"
                ],
                "describe header\n{text}"
            );
            header_seen = true;
            continue;
        }
        if header_seen && cols.len() == 9 && cols[0] == group {
            rows.insert(
                (cols[1].to_string(), cols[2].parse().unwrap()),
                OffsetRow {
                    topic: cols[1].to_string(),
                    current: cols[3].to_string(),
                    log_end: cols[4]
                        .parse()
                        .unwrap_or_else(|_| panic!("LOG-END-OFFSET in {line:?}\n{text}")),
                    lag: cols[5].to_string(),
                    consumer_id: cols[6].to_string(),
                    host: cols[7].to_string(),
                    client_id: cols[8].to_string(),
                },
            );
        }
    }
    rows
}

/// Parses the `--reset-offsets` result table: `GROUP TOPIC PARTITION NEW-OFFSET`.
fn parse_reset(text: &str, group: &str) -> BTreeMap<i32, i64> {
    let mut header_seen = false;
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"] {
            header_seen = true;
        } else if header_seen && cols.len() == 4 && cols[0] == group {
            rows.insert(cols[2].parse().unwrap(), cols[3].parse().unwrap());
        }
    }
    rows
}

/// Asserts the describe output shows committed offsets `expected` for `topic`, with the lag
/// against `ends` and no member in the member columns.
#[track_caller]
fn assert_offsets(
    text: &str,
    group: &str,
    topic: &str,
    expected: &BTreeMap<i32, i64>,
    ends: &BTreeMap<i32, i64>,
) {
    assert!(
        text.contains(&format!("Consumer group '{group}' has no active members.")),
        "{text}"
    );
    let rows = parse_describe(text, group);
    assert_eq!(
        rows.keys().map(|(_, p)| *p).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>(),
        "partitions in describe\n{text}"
    );
    for (p, off) in expected {
        let row = &rows[&(topic.to_string(), *p)];
        assert_eq!(
            row.current,
            off.to_string(),
            "CURRENT-OFFSET of {p}\n{text}"
        );
        assert_eq!(row.log_end, ends[p], "LOG-END-OFFSET of {p}\n{text}");
        assert_eq!(row.lag, (ends[p] - off).to_string(), "LAG of {p}\n{text}");
        assert_eq!(
            (
                row.consumer_id.as_str(),
                row.host.as_str(),
                row.client_id.as_str()
            ),
            ("-", "-", "-"),
            "member columns of {p}\n{text}"
        );
    }
}

/// `kafka-consumer-groups.sh --list`, one group per line.
fn list_groups(broker: &Broker) -> BTreeSet<String> {
    let out = tool(broker, "kafka-consumer-groups.sh", &["--list"]);
    assert_success(&out, "kafka-consumer-groups.sh --list")
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Lines `Partition:P\tOffset:O\tvalue` (console consumer with print.partition and print.offset).
fn parse_partition_offset_value(text: &str) -> Vec<(i32, i64, String)> {
    text.lines()
        .filter(|l| l.starts_with("Partition:"))
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let p = parts.next().unwrap().trim_start_matches("Partition:");
            let o = parts.next().unwrap().trim_start_matches("Offset:");
            (
                p.parse().unwrap(),
                o.parse().unwrap(),
                parts.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn console_consumer_reads_the_quickstart_with_and_without_group() {
    let broker = start_broker();
    create_topic(&broker, "test", 3);
    let lines = produce_lines(&broker, "test", 30);
    let expected: BTreeSet<String> = lines.iter().cloned().collect();
    let ends = end_offsets(&broker, "test");
    assert_eq!(ends.values().sum::<i64>(), 30, "{ends:?}");
    let bootstrap = broker.bootstrap();

    // The quickstart command, without --group: a random console-consumer-NNNNN group.
    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "test",
            "--from-beginning",
            "--max-messages",
            "30",
            "--timeout-ms",
            "20000",
        ],
    );
    let text = assert_success(&out, "kafka-console-consumer.sh without --group");
    let got: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(got.len(), 30, "{text}\n{}", stderr_of(&out));
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(
        stderr_of(&out).contains("Processed a total of 30 messages"),
        "{}",
        stderr_of(&out)
    );
    // The group it joined is listed afterwards (Empty, no committed offsets: the console consumer
    // does not commit without --group).
    let listed = list_groups(&broker);
    assert!(
        listed.iter().any(|g| g
            .strip_prefix("console-consumer-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))),
        "no console-consumer-NNNNN group listed: {listed:?}"
    );

    // With --group g1, printing partition and offset: every line once, in order per partition.
    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "test",
            "--group",
            "g1",
            "--from-beginning",
            "--max-messages",
            "30",
            "--timeout-ms",
            "20000",
            "--property",
            "print.partition=true",
            "--property",
            "print.offset=true",
        ],
    );
    let text = assert_success(&out, "kafka-console-consumer.sh --group g1");
    let records = parse_partition_offset_value(&text);
    assert_eq!(records.len(), 30, "{text}\n{}", stderr_of(&out));
    assert_eq!(
        records
            .iter()
            .map(|(_, _, v)| v.clone())
            .collect::<BTreeSet<_>>(),
        expected
    );
    let mut by_partition: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
    for (p, o, v) in &records {
        let i: usize = v.trim_start_matches("line-").parse().unwrap();
        by_partition.entry(*p).or_default().push((*o, i));
    }
    for (p, recs) in &by_partition {
        let offsets: Vec<i64> = recs.iter().map(|r| r.0).collect();
        assert_eq!(
            offsets,
            (0..ends[p]).collect::<Vec<_>>(),
            "offsets of partition {p}"
        );
        assert!(
            recs.windows(2).all(|w| w[0].1 < w[1].1),
            "partition {p} out of produce order: {recs:?}"
        );
    }
    assert!(list_groups(&broker).contains("g1"));
}

#[test]
fn consumer_groups_tool_list_describe_reset_delete() {
    let broker = start_broker();
    create_topic(&broker, "test", 3);
    produce_lines(&broker, "test", 30);
    let ends = end_offsets(&broker, "test");
    assert_eq!(ends.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    assert!(ends.values().all(|&e| e >= 2), "test setup: {ends:?}");
    let bootstrap = broker.bootstrap();
    let consume_g1 = |n: usize| {
        let out = kafka_tool(
            "kafka-console-consumer.sh",
            &[
                "--bootstrap-server",
                &bootstrap,
                "--topic",
                "test",
                "--group",
                "g1",
                "--from-beginning",
                "--max-messages",
                &n.to_string(),
                "--timeout-ms",
                "20000",
            ],
        );
        let text = assert_success(&out, "kafka-console-consumer.sh --group g1");
        assert_eq!(text.lines().count(), n, "{text}\n{}", stderr_of(&out));
    };

    // The console consumer commits its position when it exits.
    consume_g1(30);
    assert!(list_groups(&broker).contains("g1"));
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    assert_offsets(&text, "g1", "test", &ends, &ends);

    // --state: coordinator, no assignment strategy and no members once the consumer left.
    let text = groups(&broker, &["--describe", "--group", "g1", "--state"]);
    let state: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("g1 "))
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        state,
        ["g1", &broker.bootstrap(), "(1)", "-", "Empty", "0"],
        "{text}"
    );

    // --to-earliest: every committed offset goes to 0, the lag becomes the log end.
    let text = groups(
        &broker,
        &[
            "--reset-offsets",
            "--group",
            "g1",
            "--topic",
            "test",
            "--to-earliest",
            "--execute",
        ],
    );
    let zeros: BTreeMap<i32, i64> = ends.keys().map(|&p| (p, 0)).collect();
    assert_eq!(parse_reset(&text, "g1"), zeros, "{text}");
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    assert_offsets(&text, "g1", "test", &zeros, &ends);

    // --to-offset 2.
    let text = groups(
        &broker,
        &[
            "--reset-offsets",
            "--group",
            "g1",
            "--topic",
            "test",
            "--to-offset",
            "2",
            "--execute",
        ],
    );
    let twos: BTreeMap<i32, i64> = ends.keys().map(|&p| (p, 2)).collect();
    assert_eq!(parse_reset(&text, "g1"), twos, "{text}");
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    assert_offsets(&text, "g1", "test", &twos, &ends);

    // --shift-by -1, from the committed offsets.
    let text = groups(
        &broker,
        &[
            "--reset-offsets",
            "--group",
            "g1",
            "--topic",
            "test",
            "--shift-by",
            "-1",
            "--execute",
        ],
    );
    let ones: BTreeMap<i32, i64> = ends.keys().map(|&p| (p, 1)).collect();
    assert_eq!(parse_reset(&text, "g1"), ones, "{text}");
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    assert_offsets(&text, "g1", "test", &ones, &ends);

    // A consumer resumes from the reset offsets: 3 partitions × (end - 1) records.
    consume_g1(ends.values().map(|e| (e - 1) as usize).sum());
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    assert_offsets(&text, "g1", "test", &ends, &ends);

    // --delete-offsets for the topic: a status per partition, then no offsets left.
    let text = groups(
        &broker,
        &["--delete-offsets", "--group", "g1", "--topic", "test"],
    );
    assert!(
        text.contains("Request succeeded for deleting offsets from group g1."),
        "{text}"
    );
    for p in ends.keys() {
        let row = format!("test {p} Successful");
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == row),
            "no {row:?} in\n{text}"
        );
    }
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    assert!(
        text.contains("Consumer group 'g1' has no active members."),
        "{text}"
    );
    assert!(parse_describe(&text, "g1").is_empty(), "{text}");

    // --delete: gone from --list; describing it now fails.
    let text = groups(&broker, &["--delete", "--group", "g1"]);
    assert!(
        text.contains("Deletion of requested consumer groups ('g1') was successful."),
        "{text}"
    );
    assert!(!list_groups(&broker).contains("g1"));
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    assert!(
        text.contains("GroupIdNotFoundException: Group g1 not found."),
        "{text}"
    );
}

#[test]
fn consumer_groups_tool_shows_a_live_member_and_refuses_to_delete_or_reset() {
    let broker = start_broker();
    create_topic(&broker, "test", 3);
    produce_lines(&broker, "test", 30);
    let bootstrap = broker.bootstrap();

    // A group with a live member: the member shows in describe, and delete and reset are refused.
    let dir = tempfile::tempdir().unwrap();
    let mut member = Background::kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "test",
            "--group",
            "g1",
            "--from-beginning",
            "--consumer-property",
            "session.timeout.ms=6000",
            "--consumer-property",
            "heartbeat.interval.ms=1000",
        ],
        dir.path(),
        "member",
    );
    assert!(
        wait_until(Duration::from_secs(40), || member.stdout().lines().count()
            >= 30),
        "background console consumer did not print the 30 lines\n{}",
        member.dump()
    );
    let text = groups(&broker, &["--describe", "--group", "g1"]);
    let rows = parse_describe(&text, "g1");
    assert_eq!(rows.len(), 3, "{text}");
    let consumer_ids: BTreeSet<&str> = rows.values().map(|r| r.consumer_id.as_str()).collect();
    assert_eq!(consumer_ids.len(), 1, "{text}");
    for row in rows.values() {
        assert!(row.consumer_id.starts_with("console-consumer-"), "{text}");
        assert_eq!(row.host, "/127.0.0.1", "{text}");
        assert_eq!(row.client_id, "console-consumer", "{text}");
    }
    assert!(!text.contains("has no active members"), "{text}");
    let text = groups(&broker, &["--describe", "--group", "g1", "--members"]);
    let member_row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("g1 "))
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        member_row,
        [
            "g1",
            *consumer_ids.first().unwrap(),
            "/127.0.0.1",
            "console-consumer",
            "3"
        ],
        "{text}"
    );
    let text = groups(&broker, &["--describe", "--group", "g1", "--state"]);
    let state: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("g1 "))
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        state,
        ["g1", &broker.bootstrap(), "(1)", "range", "Stable", "1"],
        "{text}"
    );

    let text = groups(&broker, &["--delete", "--group", "g1"]);
    assert!(
        text.contains(
            "* Group 'g1' could not be deleted due to: \
             org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty."
        ),
        "{text}"
    );
    let text = groups(
        &broker,
        &[
            "--reset-offsets",
            "--group",
            "g1",
            "--topic",
            "test",
            "--to-earliest",
            "--execute",
        ],
    );
    assert!(
        text.contains(
            "Assignments can only be reset if the group 'g1' is inactive, but the current state is Stable."
        ),
        "{text}"
    );
    assert!(list_groups(&broker).contains("g1"));

    // Killed without leaving: the member is dropped after its session timeout (6 s), and then
    // the group can be deleted.
    member.kill9();
    let mut last = String::new();
    assert!(
        wait_until(Duration::from_secs(30), || {
            last = groups(&broker, &["--describe", "--group", "g1", "--state"]);
            last.contains("Consumer group 'g1' has no active members.")
        }),
        "the killed member was not removed after its session timeout\n{last}"
    );
    let text = groups(&broker, &["--delete", "--group", "g1"]);
    assert!(
        text.contains("Deletion of requested consumer groups ('g1') was successful."),
        "{text}"
    );
    assert!(!list_groups(&broker).contains("g1"));
}

/// Commits `[[partition, offset, metadata], ...]` with kafka-python (its metadata strings go on
/// the wire as given), or reads the committed offsets of partitions 0..n with kafka-python and
/// with confluent-kafka (librdkafka). Prints JSON.
///
/// confluent-kafka only reports offsets here: librdkafka commits metadata with a trailing NUL byte
/// and the Python binding reads metadata as a C string, so metadata committed by another client
/// comes back with whatever bytes follow it in memory (seen against Apache Kafka: a 1000-byte
/// string came back with one extra character).
const OFFSETS_SCRIPT: &str = r#"
import sys, json
bootstrap, group, topic, mode, arg = sys.argv[1:6]
if mode == 'commit':
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                      request_timeout_ms=20000)
    c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, md, -1) for p, o, md in json.loads(arg)})
    c.close()
    print(json.dumps('committed'))
else:
    n = int(arg)
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                      request_timeout_ms=20000)
    kp = []
    for p in range(n):
        r = c.committed(TopicPartition(topic, p), metadata=True)
        kp.append(None if r is None else [p, r.offset, r.metadata])
    c.close()
    import confluent_kafka
    c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': group,
                                  'enable.auto.commit': False})
    res = c.committed([confluent_kafka.TopicPartition(topic, p) for p in range(n)], timeout=20)
    ck = [None if tp.offset < 0 else [tp.partition, tp.offset] for tp in res]
    errors = [str(tp.error) for tp in res if tp.error is not None]
    c.close()
    print(json.dumps({'kafka-python': kp, 'confluent-kafka': ck, 'errors': errors}))
"#;

fn offsets_script(broker: &Broker, mode: &str, arg: &str) -> Value {
    let out = python(
        OFFSETS_SCRIPT,
        &[&broker.bootstrap(), "meta-group", "meta", mode, arg],
    );
    let text = assert_success(&out, &format!("offsets script ({mode})"));
    let last = text.lines().last().unwrap_or("");
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{e}: {text}\nstderr:\n{}", stderr_of(&out)))
}

/// Asserts kafka-python reads back `expected` (`[p, offset, metadata]`, `null` = nothing
/// committed) for partitions 0..n, and confluent-kafka the same offsets.
#[track_caller]
fn assert_committed(broker: &Broker, expected: &Value, when: &str) {
    let n = expected.as_array().unwrap().len();
    let got = offsets_script(broker, "read", &n.to_string());
    assert_eq!(got["errors"], json!([]), "{when}: {got}");
    assert_eq!(&got["kafka-python"], expected, "{when}: kafka-python");
    let offsets: Vec<Value> = expected
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match e.as_array() {
            Some(a) => json!([a[0], a[1]]),
            None => Value::Null,
        })
        .collect();
    assert_eq!(
        got["confluent-kafka"],
        Value::Array(offsets),
        "{when}: confluent-kafka"
    );
}

#[test]
fn committed_offsets_and_metadata_survive_restart_and_kill9() {
    let mut broker = start_broker();
    create_topic(&broker, "meta", 4);
    let long = "x".repeat(1000);
    let first = json!([
        [0, 5, "meta-0"],
        [1, 6, ""],
        [2, 7, "métadonnées ✓ {\"json\": [1, 2]}"],
    ]);
    assert_eq!(
        offsets_script(&broker, "commit", &first.to_string()),
        json!("committed")
    );
    // Partition 3 never committed: no offset, and no error.
    let mut expected = first.as_array().unwrap().clone();
    expected.push(Value::Null);
    let expected = Value::Array(expected);
    assert_committed(&broker, &expected, "after commit");

    broker.restart();
    assert_committed(&broker, &expected, "after a clean restart");

    // Commits after the restart (overwriting and new) survive a crash too.
    let second = json!([[0, 50, "meta-0 again"], [3, 1000, long]]);
    assert_eq!(
        offsets_script(&broker, "commit", &second.to_string()),
        json!("committed")
    );
    let expected = json!([
        [0, 50, "meta-0 again"],
        [1, 6, ""],
        [2, 7, "métadonnées ✓ {\"json\": [1, 2]}"],
        [3, 1000, long],
    ]);
    assert_committed(&broker, &expected, "after the second commit");

    broker.kill9();
    broker.start_again();
    assert_committed(&broker, &expected, "after SIGKILL and start");
}

/// The console consumer of `group` reads `topic` from the beginning or its committed offsets.
fn consume_as(broker: &Broker, group: &str, topic: &str, max: usize) -> Vec<String> {
    let out = tool(
        broker,
        "kafka-console-consumer.sh",
        &[
            "--topic",
            topic,
            "--group",
            group,
            "--from-beginning",
            "--max-messages",
            &max.to_string(),
            "--timeout-ms",
            "10000",
        ],
    );
    stdout_of(&out).lines().map(str::to_string).collect()
}

/// Deleting a topic deletes every group's committed offsets of it, as Kafka does
/// (onPartitionsDeleted): a topic created again under the same name is read from the start
/// by the same group, not from the old topic's positions. (Found by the compatibility matrix's
/// Kafka Streams demo run twice against one broker: Kafka 4.4 counted the words, Milena read
/// nothing.)
#[test]
fn deleting_a_topic_deletes_its_committed_offsets() {
    let broker = start_broker();
    create_topic(&broker, "reborn", 1);
    produce_lines(&broker, "reborn", 3);
    assert_eq!(consume_as(&broker, "readers", "reborn", 3).len(), 3);
    let described = groups(&broker, &["--describe", "--group", "readers"]);
    assert!(
        parse_describe(&described, "readers").contains_key(&("reborn".to_string(), 0)),
        "{described}"
    );

    assert_success(
        &tool(
            &broker,
            "kafka-topics.sh",
            &["--delete", "--topic", "reborn"],
        ),
        "kafka-topics.sh --delete",
    );
    let described = groups(&broker, &["--describe", "--group", "readers"]);
    assert!(
        !parse_describe(&described, "readers").contains_key(&("reborn".to_string(), 0)),
        "offsets of the deleted topic are still committed:\n{described}"
    );

    create_topic(&broker, "reborn", 1);
    let lines = produce_lines(&broker, "reborn", 5);
    assert_eq!(consume_as(&broker, "readers", "reborn", 5), lines);
}
