//! Per-record produce errors (KIP-467): a batch with records the broker refuses fails as a
//! whole and the Produce response names the refused records by batch index, with Kafka's
//! messages. Both cases Kafka's validator has: keyless records on a compacted topic, and
//! CreateTime timestamps out of `message.timestamp.after.max.ms` (Kafka 4's default: one hour
//! ahead). librdkafka 2.16 (confluent-kafka) fails every record of such a batch with the
//! broker's error, against Kafka as against Milena. Every test here passes against Apache Kafka
//! 4.1 too (`MILENA_TEST_REFERENCE=1`).

use crate::support;
use crate::wire;

use std::time::{SystemTime, UNIX_EPOCH};

use support::*;

/// Produces `records` (key or None, timestamp offset from now in ms) in one batch with
/// confluent-kafka and prints one line per delivery report: `index error-name`, then every
/// record a consumer reads from the start.
const SCRIPT: &str = r#"
import json, sys, time
from confluent_kafka import Producer, Consumer
bootstrap, topic, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 200, "enable.idempotence": False,
              "retries": 0, "message.timeout.ms": 20000})
reports = {}
def report(index):
    def cb(err, msg):
        reports[index] = "OK" if err is None else err.name()
    return cb
now = int(time.time() * 1000)
for i, (key, ahead) in enumerate(spec):
    p.produce(topic, value=f"v{i}".encode(), key=None if key is None else key.encode(),
              timestamp=now + ahead, on_delivery=report(i))
p.flush(30)
for i in range(len(spec)):
    print(i, reports.get(i, "NONE"))
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + topic,
              "auto.offset.reset": "earliest", "enable.partition.eof": True})
c.subscribe([topic])
deadline = time.time() + 20
while time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        if m.error().code() == -191:  # _PARTITION_EOF
            break
        continue
    print("read", m.value().decode())
c.close()
"#;

fn produce_batch(broker: &Broker, topic: &str, spec: &str) -> Vec<String> {
    let out = python(SCRIPT, &[&broker.bootstrap(), topic, spec]);
    assert_success(&out, "confluent-kafka producer")
        .lines()
        .map(str::to_string)
        .collect()
}

fn create(broker: &Broker, topic: &str, configs: &[&str]) {
    let mut args = vec!["--create", "--topic", topic, "--partitions", "1"];
    for c in configs {
        args.extend(["--config", c]);
    }
    assert_success(&topics(broker, &args), "kafka-topics.sh --create");
}

#[test]
fn a_keyless_record_on_a_compacted_topic_fails_its_batch_with_invalid_record() {
    let broker = Broker::start();
    create(&broker, "keys-only", &["cleanup.policy=compact"]);
    let lines = produce_batch(&broker, "keys-only", r#"[["a", 0], [null, 0], ["c", 0]]"#);
    assert_eq!(
        lines,
        vec!["0 INVALID_RECORD", "1 INVALID_RECORD", "2 INVALID_RECORD"],
        "{lines:?}"
    );
    // The good records go through on their own.
    let lines = produce_batch(&broker, "keys-only", r#"[["a", 0], ["c", 0]]"#);
    assert_eq!(
        lines,
        vec!["0 OK", "1 OK", "read v0", "read v1"],
        "{lines:?}"
    );
}

#[test]
fn a_timestamp_too_far_ahead_fails_its_batch_with_invalid_timestamp() {
    let broker = Broker::start();
    create(&broker, "clock", &[]);
    let two_hours = 2 * 3_600_000;
    let lines = produce_batch(
        &broker,
        "clock",
        &format!(r#"[["a", 0], ["b", {two_hours}]]"#),
    );
    assert_eq!(
        lines,
        vec!["0 INVALID_TIMESTAMP", "1 INVALID_TIMESTAMP"],
        "{lines:?}"
    );
    // With the window widened, the same record is taken.
    assert_success(
        &kafka_tool(
            "kafka-configs.sh",
            &[
                "--bootstrap-server",
                &broker.bootstrap(),
                "--alter",
                "--entity-type",
                "topics",
                "--entity-name",
                "clock",
                "--add-config",
                "message.timestamp.after.max.ms=86400000",
            ],
        ),
        "kafka-configs.sh --alter",
    );
    let lines = produce_batch(&broker, "clock", &format!(r#"[["b", {two_hours}]]"#));
    assert_eq!(lines, vec!["0 OK", "read v0"], "{lines:?}");
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn the_produce_response_names_each_refused_record_as_kafka_does() {
    let broker = Broker::start();
    create(&broker, "wire-keys", &["cleanup.policy=compact"]);
    create(&broker, "wire-clock", &[]);
    let mut stream = wire::connect(broker.port);

    // Three keyless records on a compacted topic.
    let answer = wire::produce_batch(
        &mut stream,
        "wire-keys",
        0,
        wire::record_batch(3, now_ms(), -1, -1, -1),
    );
    assert_eq!(answer.error_code, 87, "INVALID_RECORD: {answer:?}");
    assert_eq!(answer.base_offset, -1);
    let why = "Compacted topic cannot accept message without key in topic partition wire-keys-0";
    let indices: Vec<i32> = answer.record_errors.iter().map(|e| e.batch_index).collect();
    assert_eq!(indices, vec![0, 1, 2], "{answer:?}");
    for e in &answer.record_errors {
        assert_eq!(e.batch_index_error_message.as_deref(), Some(why));
    }
    let shown = (0..3)
        .map(|i| format!("RecordError(batchIndex={i}, message='{why}')"))
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(
        answer.error_message.as_deref(),
        Some(format!("One or more records have been rejected due to 3 record errors in total, and only showing the first three errors at most: [{shown}]").as_str())
    );

    // Two records two hours ahead of the broker's clock.
    let ahead = now_ms() + 2 * 3_600_000;
    let answer = wire::produce_batch(
        &mut stream,
        "wire-clock",
        0,
        wire::record_batch(2, ahead, -1, -1, -1),
    );
    assert_eq!(answer.error_code, 32, "INVALID_TIMESTAMP: {answer:?}");
    assert_eq!(
        answer.error_message.as_deref(),
        Some("One or more records have been rejected due to invalid timestamp")
    );
    assert_eq!(answer.record_errors.len(), 2, "{answer:?}");
    for (i, e) in answer.record_errors.iter().enumerate() {
        assert_eq!(e.batch_index, i as i32);
        let message = e.batch_index_error_message.as_deref().unwrap_or_default();
        let expected = format!(
            "Timestamp {} of message with offset {i} is out of range. The timestamp should be within [",
            ahead + i as i64
        );
        assert!(message.starts_with(&expected), "{message}");
    }
    // Nothing of either batch was written.
    let answer = wire::produce_batch(
        &mut stream,
        "wire-clock",
        0,
        wire::record_batch(1, now_ms(), -1, -1, -1),
    );
    assert_eq!((answer.error_code, answer.base_offset), (0, 0));
}
