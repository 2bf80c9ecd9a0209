//! Client libraries and stock admin tools beyond the quickstart, each asserting on what the
//! client itself reports:
//!
//! - confluent-kafka (current librdkafka): keyed records with headers and explicit timestamps
//!   round-trip through a consumer that assigns partitions (no consumer group: not served yet).
//! - kafka-python: produce, then `assign` + `seek_to_beginning` with `group_id=None`.
//! - The Java console consumer with `--partition`/`--offset` (it assigns instead of joining a group).
//! - `kafka-get-offsets.sh` for latest, earliest and by timestamp.
//! - `kafka-delete-records.sh` moves the low watermark; `kafka-log-dirs.sh` reports sizes.
//! - `kafka-configs.sh` alters, deletes and describes topic configs, `--all` compared against what
//!   Apache Kafka 4.1 printed (scripts/reference-output/configs-describe-topic.txt).

use crate::support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::*;

fn admin(tool: &str, broker: &Broker, args: &[&str]) -> String {
    let bootstrap = broker.bootstrap();
    let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
    all.extend_from_slice(args);
    assert_success(&kafka_tool(tool, &all), tool)
}

fn create_topic(broker: &Broker, topic: &str, partitions: u32) {
    admin(
        "kafka-topics.sh",
        broker,
        &[
            "--create",
            "--partitions",
            &partitions.to_string(),
            "--topic",
            topic,
        ],
    );
}

/// Runs a Python script whose last stdout line is JSON, and returns that JSON.
fn python_json(script: &str, args: &[&str]) -> Value {
    let out = python(script, args);
    let text = assert_success(&out, "python script");
    let last = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output; stderr:\n{}", stderr_of(&out)));
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{e}: {last}\nstderr:\n{}", stderr_of(&out)))
}

const CONFLUENT_PRODUCE: &str = r#"
import sys, json, confluent_kafka
bootstrap, topic = sys.argv[1], sys.argv[2]
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 10})
errors, delivered = [], []
def report(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered.append([msg.key().decode(), msg.partition(), msg.offset()])
for i in range(100):
    p.produce(topic, key=b'key-%d' % i, value=b'value-%d' % i,
              headers=[('trace', b'id-%d' % i), ('dup', b'1'), ('dup', b'2')],
              timestamp=1700000000000 + i * 1000, on_delivery=report)
left = p.flush(30)
print(json.dumps({'left': left, 'errors': errors, 'delivered': delivered}))
"#;

const CONFLUENT_CONSUME: &str = r#"
import sys, json, time, confluent_kafka
from confluent_kafka import TopicPartition, KafkaError, OFFSET_BEGINNING
bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': 'assign-only',
                              'enable.auto.commit': False, 'enable.partition.eof': True})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
eof, out = set(), []
deadline = time.time() + 40
while len(eof) < partitions and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
            continue
        raise Exception(str(m.error()))
    ts_type, ts = m.timestamp()
    out.append({'p': m.partition(), 'o': m.offset(), 'key': m.key().decode(), 'value': m.value().decode(),
                'headers': [[k, v.decode()] for k, v in (m.headers() or [])], 'ts_type': ts_type, 'ts': ts})
c.close()
print(json.dumps({'eof': sorted(eof), 'records': out}))
"#;

#[test]
fn confluent_kafka_keys_values_headers_timestamps_round_trip() {
    let broker = Broker::start();
    create_topic(&broker, "ck", 2);
    let produced = python_json(CONFLUENT_PRODUCE, &[&broker.bootstrap(), "ck"]);
    assert_eq!(produced["left"], 0, "{produced}");
    assert_eq!(
        produced["errors"].as_array().unwrap().len(),
        0,
        "{produced}"
    );
    let delivered = produced["delivered"].as_array().unwrap();
    assert_eq!(delivered.len(), 100);

    let consumed = python_json(CONFLUENT_CONSUME, &[&broker.bootstrap(), "ck", "2"]);
    assert_eq!(
        consumed["eof"],
        serde_json::json!([0, 1]),
        "did not reach the end of both partitions"
    );
    let records = consumed["records"].as_array().unwrap();
    assert_eq!(records.len(), 100);

    // Each record is where its delivery report said, with everything it was sent with.
    let mut by_key: BTreeMap<String, &Value> = BTreeMap::new();
    for r in records {
        by_key.insert(r["key"].as_str().unwrap().to_string(), r);
    }
    assert_eq!(by_key.len(), 100, "duplicate keys served");
    for d in delivered {
        let key = d[0].as_str().unwrap();
        let i: i64 = key.trim_start_matches("key-").parse().unwrap();
        let r = by_key[key];
        assert_eq!(
            (&r["p"], &r["o"]),
            (&d[1], &d[2]),
            "{key} served elsewhere than acknowledged"
        );
        assert_eq!(r["value"], format!("value-{i}"));
        assert_eq!(
            r["headers"],
            serde_json::json!([["trace", format!("id-{i}")], ["dup", "1"], ["dup", "2"]])
        );
        assert_eq!(r["ts_type"], 1, "CreateTime");
        assert_eq!(r["ts"], 1_700_000_000_000i64 + i * 1000);
    }
    // Both partitions were used and each is dense from 0 in produce order.
    for p in 0..2 {
        let offsets: Vec<i64> = records
            .iter()
            .filter(|r| r["p"] == p)
            .map(|r| r["o"].as_i64().unwrap())
            .collect();
        assert!(!offsets.is_empty(), "partition {p} got nothing");
        assert_eq!(
            offsets,
            (0..offsets.len() as i64).collect::<Vec<_>>(),
            "partition {p}"
        );
    }
}

const KAFKA_PYTHON: &str = r#"
import sys, json, time
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
bootstrap, topic = sys.argv[1], sys.argv[2]
p = KafkaProducer(bootstrap_servers=bootstrap, acks='all')
futures = [p.send(topic, key=b'k%d' % i, value=b'kp-%d' % i, headers=[('h', b'%d' % i)], partition=0) for i in range(50)]
acked = [f.get(timeout=30).offset for f in futures]
p.close(timeout=10)
c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
tp = TopicPartition(topic, 0)
c.assign([tp])
c.seek_to_beginning(tp)
out = []
deadline = time.time() + 30
while len(out) < 53 and time.time() < deadline:
    for records in c.poll(timeout_ms=1000).values():
        for r in records:
            out.append([r.offset, (r.key or b'').decode(), r.value.decode(), [[k, v.decode()] for k, v in r.headers]])
end = c.end_offsets([tp])[tp]
c.close()
print(json.dumps({'acked': acked, 'records': out, 'end': end}))
"#;

#[test]
fn kafka_python_produces_and_reads_back_with_assign() {
    let broker = Broker::start();
    create_topic(&broker, "kp", 1);
    // Three records from another client first, so kafka-python reads what it did not write.
    assert_success(
        &kcat_stdin(
            &["-P", "-b", &broker.bootstrap(), "-t", "kp", "-p", "0"],
            "x\ny\nz\n",
        ),
        "kcat -P",
    );

    let result = python_json(KAFKA_PYTHON, &[&broker.bootstrap(), "kp"]);
    let acked: Vec<i64> = result["acked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(acked, (3..53).collect::<Vec<_>>(), "acknowledged offsets");
    assert_eq!(result["end"], 53);
    let records = result["records"].as_array().unwrap();
    assert_eq!(records.len(), 53, "{result}");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r[0], i as i64);
        if i < 3 {
            assert_eq!(r[2], ["x", "y", "z"][i]);
        } else {
            let n = i - 3;
            assert_eq!(r[1], format!("k{n}"));
            assert_eq!(r[2], format!("kp-{n}"));
            assert_eq!(r[3], serde_json::json!([["h", n.to_string()]]));
        }
    }

    // And kcat reads what kafka-python wrote.
    let out = kcat(&[
        "-C",
        "-b",
        &broker.bootstrap(),
        "-t",
        "kp",
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%o %k %s\n",
    ]);
    let text = assert_success(&out, "kcat -C");
    assert_eq!(text.lines().count(), 53);
    assert_eq!(text.lines().nth(52), Some("52 k49 kp-49"));
}

#[test]
fn java_console_consumer_with_partition_and_offset_needs_no_group() {
    let broker = Broker::start();
    create_topic(&broker, "jc", 2);
    let input: String = (0..20).map(|i| format!("key{i}:val{i}\n")).collect();
    assert_success(
        &kcat_stdin(
            &[
                "-P",
                "-b",
                &broker.bootstrap(),
                "-t",
                "jc",
                "-p",
                "1",
                "-K",
                ":",
            ],
            &input,
        ),
        "kcat -P",
    );

    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--topic",
            "jc",
            "--partition",
            "1",
            "--offset",
            "earliest",
            "--max-messages",
            "20",
            "--timeout-ms",
            "30000",
            "--property",
            "print.key=true",
            "--property",
            "key.separator=:",
        ],
    );
    let text = assert_success(&out, "console consumer");
    assert_eq!(text, input);
    assert!(
        stderr_of(&out).contains("Processed a total of 20 messages"),
        "{}",
        stderr_of(&out)
    );

    // A numeric --offset starts there.
    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--topic",
            "jc",
            "--partition",
            "1",
            "--offset",
            "17",
            "--max-messages",
            "3",
            "--timeout-ms",
            "30000",
        ],
    );
    assert_eq!(
        assert_success(&out, "console consumer from 17"),
        "val17\nval18\nval19\n"
    );
}

const TIMESTAMPED_PRODUCE: &str = r#"
import sys, json, confluent_kafka
bootstrap, topic = sys.argv[1], sys.argv[2]
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 0, 'batch.num.messages': 1})
errors = []
for i in range(10):
    p.produce(topic, value=b'ts-%d' % i, partition=0, timestamp=1700000000000 + i * 1000,
              on_delivery=lambda err, msg: err and errors.append(str(err)))
    p.flush(30)
print(json.dumps({'left': len(p), 'errors': errors}))
"#;

#[test]
fn get_offsets_latest_earliest_and_by_timestamp() {
    let broker = Broker::start();
    create_topic(&broker, "go", 3);
    let result = python_json(TIMESTAMPED_PRODUCE, &[&broker.bootstrap(), "go"]);
    assert_eq!(result, serde_json::json!({"left": 0, "errors": []}));
    assert_success(
        &kcat_stdin(
            &["-P", "-b", &broker.bootstrap(), "-t", "go", "-p", "1"],
            "a\nb\n",
        ),
        "kcat -P",
    );

    let offsets = |time: &str| {
        admin(
            "kafka-get-offsets.sh",
            &broker,
            &["--topic", "go", "--time", time],
        )
    };
    assert_eq!(offsets("-1"), "go:0:10\ngo:1:2\ngo:2:0\n");
    assert_eq!(offsets("-2"), "go:0:0\ngo:1:0\ngo:2:0\n");
    // The first offset of partition 0 whose timestamp is at or after the target (time index).
    let at = |ts: i64| -> String {
        let out = admin(
            "kafka-get-offsets.sh",
            &broker,
            &[
                "--topic",
                "go",
                "--partitions",
                "0",
                "--time",
                &ts.to_string(),
            ],
        );
        out.trim().to_string()
    };
    assert_eq!(at(1_700_000_000_000), "go:0:0");
    assert_eq!(at(1_700_000_004_500), "go:0:5");
    assert_eq!(at(1_700_000_009_000), "go:0:9");
    assert_eq!(at(1_600_000_000_000), "go:0:0");
}

#[test]
fn delete_records_moves_low_watermark_and_log_dirs_reports_sizes() {
    let broker = Broker::start();
    create_topic(&broker, "dr", 2);
    let input: String = (0..10).map(|i| format!("m{i}\n")).collect();
    assert_success(
        &kcat_stdin(
            &["-P", "-b", &broker.bootstrap(), "-t", "dr", "-p", "0"],
            &input,
        ),
        "kcat -P",
    );

    let dir = tempfile::tempdir().unwrap();
    let json = write_file(
        dir.path(),
        "offsets.json",
        r#"{"version":1,"partitions":[{"topic":"dr","partition":0,"offset":4}]}"#,
    );
    let out = admin(
        "kafka-delete-records.sh",
        &broker,
        &["--offset-json-file", json.to_str().unwrap()],
    );
    assert!(out.contains("partition: dr-0\tlow_watermark: 4"), "{out}");

    assert_eq!(
        admin(
            "kafka-get-offsets.sh",
            &broker,
            &["--topic", "dr", "--time", "-2"]
        ),
        "dr:0:4\ndr:1:0\n"
    );
    let out = kcat(&[
        "-C",
        "-b",
        &broker.bootstrap(),
        "-t",
        "dr",
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%o %s\n",
    ]);
    let expected: String = (4..10).map(|i| format!("{i} m{i}\n")).collect();
    assert_eq!(
        assert_success(&out, "kcat -C after delete-records"),
        expected
    );

    let out = admin(
        "kafka-log-dirs.sh",
        &broker,
        &["--describe", "--topic-list", "dr"],
    );
    let json_line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON in {out}"));
    let described: Value = serde_json::from_str(json_line).unwrap();
    let brokers = described["brokers"].as_array().unwrap();
    assert_eq!(brokers.len(), 1);
    assert_eq!(brokers[0]["broker"], 1);
    let log_dir = &brokers[0]["logDirs"][0];
    assert_eq!(log_dir["error"], Value::Null);
    assert_eq!(log_dir["logDir"], broker.log_dir().display().to_string());
    let mut sizes: BTreeMap<String, i64> = BTreeMap::new();
    for p in log_dir["partitions"].as_array().unwrap() {
        sizes.insert(
            p["partition"].as_str().unwrap().to_string(),
            p["size"].as_i64().unwrap(),
        );
    }
    assert_eq!(
        sizes.keys().collect::<Vec<_>>(),
        ["dr-0", "dr-1"],
        "{json_line}"
    );
    assert!(sizes["dr-0"] > 0, "{json_line}");
    assert_eq!(sizes["dr-1"], 0, "{json_line}");
}

/// `name -> whole line` of a `kafka-configs.sh --describe` output.
fn config_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            (
                l.trim().split('=').next().unwrap().to_string(),
                l.trim().to_string(),
            )
        })
        .collect()
}

#[test]
fn configs_tool_alter_delete_and_describe_all() {
    let broker = Broker::start();
    create_topic(&broker, "cfg", 1);
    create_topic(&broker, "plain", 1);
    let configs = |args: &[&str]| {
        let mut all = vec!["--entity-type", "topics"];
        all.extend_from_slice(args);
        admin("kafka-configs.sh", &broker, &all)
    };

    let out = configs(&[
        "--entity-name",
        "cfg",
        "--alter",
        "--add-config",
        "retention.ms=1000,cleanup.policy=compact",
    ]);
    assert!(
        out.contains("Completed updating config for topic cfg."),
        "{out}"
    );
    let described = config_lines(&configs(&["--entity-name", "cfg", "--describe"]));
    assert_eq!(
        described.keys().collect::<Vec<_>>(),
        ["cleanup.policy", "retention.ms"]
    );
    assert!(
        described["retention.ms"].starts_with(
            "retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000"
        ),
        "{described:?}"
    );
    assert!(described["cleanup.policy"].starts_with("cleanup.policy=compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact"), "{described:?}");

    configs(&[
        "--entity-name",
        "cfg",
        "--alter",
        "--delete-config",
        "retention.ms",
    ]);
    let described = config_lines(&configs(&["--entity-name", "cfg", "--describe"]));
    assert_eq!(described.keys().collect::<Vec<_>>(), ["cleanup.policy"]);
    let all = config_lines(&configs(&["--entity-name", "cfg", "--describe", "--all"]));
    assert!(
        all["retention.ms"].starts_with("retention.ms=604800000 "),
        "{}",
        all["retention.ms"]
    );
    assert!(
        all["cleanup.policy"].starts_with("cleanup.policy=compact "),
        "{}",
        all["cleanup.policy"]
    );

    // A default topic, against what Apache Kafka 4.1 printed for one. The reference broker set
    // log.segment.bytes statically and min.insync.replicas as a dynamic default; those two lines
    // differ by their synonyms, every other line must match exactly.
    let text = configs(&["--entity-name", "plain", "--describe", "--all"]);
    assert!(
        text.starts_with("All configs for topic plain are:\n"),
        "{text}"
    );
    let ours = config_lines(&text);
    let reference = config_lines(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/reference-output/configs-describe-topic.txt"
        ))
        .unwrap(),
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>(),
        "config names differ from Kafka 4.1"
    );
    for (name, line) in &reference {
        if name == "segment.bytes" || name == "min.insync.replicas" {
            assert!(
                ours[name].starts_with(line.split(" synonyms=").next().unwrap()),
                "{}",
                ours[name]
            );
        } else {
            assert_eq!(&ours[name], line);
        }
    }
}
