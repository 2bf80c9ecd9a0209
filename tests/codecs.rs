//! Compressed record batches: for each codec (gzip, snappy, lz4, zstd) records produced by
//! confluent-kafka (current librdkafka) and kcat (Debian's librdkafka 2.0.2), and for lz4 by the
//! Java console producer, are read back identically by kcat and confluent-kafka.
//!
//! The partition's segment file is then read directly: every stored batch must carry the
//! codec in its attributes (bytes 21..23, `attributes & 7`). That proves both that the broker
//! stores batches as sent and that the clients really compressed: librdkafka silently sends
//! uncompressed batches when the broker's ApiVersions do not look like what it expects
//! (see KAFKA-NOTES.md).

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// Values compress well, so no client falls back to sending them uncompressed because the
/// compressed batch came out larger.
fn value(producer: &str, i: usize) -> String {
    format!("{producer}-{i}-{}", "compressible ".repeat(20))
}

const CONFLUENT_PRODUCE: &str = r#"
import sys, json, confluent_kafka
bootstrap, topic, codec, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 50,
                              'compression.type': codec})
errors = []
for i in range(count):
    p.produce(topic, value=('confluent-%d-%s' % (i, 'compressible ' * 20)).encode(), partition=0,
              on_delivery=lambda err, msg: err and errors.append(str(err)))
left = p.flush(30)
print(json.dumps({'left': left, 'errors': errors}))
"#;

const CONFLUENT_CONSUME: &str = r#"
import sys, json, time, confluent_kafka
from confluent_kafka import TopicPartition, KafkaError, OFFSET_BEGINNING
bootstrap, topic = sys.argv[1], sys.argv[2]
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': 'assign-only',
                              'enable.auto.commit': False, 'enable.partition.eof': True})
c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
out, eof = [], False
deadline = time.time() + 40
while not eof and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            eof = True
            continue
        raise Exception(str(m.error()))
    out.append([m.offset(), m.value().decode()])
c.close()
print(json.dumps({'eof': eof, 'records': out}))
"#;

/// `(attributes, record count)` of every batch in the partition's segment files, in order.
fn stored_batches(partition_dir: &Path) -> Vec<(i16, i32)> {
    let mut logs: Vec<PathBuf> = fs::read_dir(partition_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    let mut batches = Vec::new();
    for log in logs {
        let bytes = fs::read(&log).unwrap();
        let mut pos = 0;
        while pos + 61 <= bytes.len() {
            let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
            assert_eq!(
                bytes[pos + 16],
                2,
                "magic of the batch at {pos} in {}",
                log.display()
            );
            let attributes = i16::from_be_bytes(bytes[pos + 21..pos + 23].try_into().unwrap());
            let count = i32::from_be_bytes(bytes[pos + 57..pos + 61].try_into().unwrap());
            batches.push((attributes, count));
            pos += 12 + len;
        }
        assert_eq!(
            pos,
            bytes.len(),
            "{} does not end on a batch boundary",
            log.display()
        );
    }
    batches
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Producer {
    /// confluent-kafka with `compression.type`.
    Confluent,
    /// kcat `-z` (Debian's librdkafka 2.0.2).
    Kcat,
    /// `kafka-console-producer.sh --compression-codec`.
    Java,
}
use Producer::*;

#[test]
fn gzip_batches_stored_as_sent_and_read_back() {
    round_trip("gzip", 1, &[Confluent, Kcat]);
}

#[test]
fn snappy_batches_stored_as_sent_and_read_back() {
    round_trip("snappy", 2, &[Confluent, Kcat]);
}

#[test]
fn zstd_batches_stored_as_sent_and_read_back() {
    round_trip("zstd", 4, &[Confluent, Kcat]);
}

#[test]
fn lz4_from_the_java_producer_stored_as_sent_and_read_back() {
    round_trip("lz4", 3, &[Java]);
}

/// librdkafka enables LZ4 only when the broker advertises FindCoordinator (its "LZ4" feature
/// depends on it, `debug=feature` logs "Feature LZ4: FindCoordinator NOT supported by broker,
/// Disabling feature LZ4") and otherwise silently sends uncompressed batches.
#[test]
fn lz4_from_librdkafka_stored_as_sent_and_read_back() {
    round_trip("lz4", 3, &[Confluent, Kcat]);
}

/// Produces `per_producer` records to `codec-<codec>` with each producer in turn, reads them
/// back with kcat and confluent-kafka, and checks every stored batch's compression is `code`.
fn round_trip(codec: &str, code: i16, producers: &[Producer]) {
    let broker = Broker::start();
    let per_producer = 50;
    let topic = format!("codec-{codec}");
    let out = kafka_tool(
        "kafka-topics.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--create",
            "--partitions",
            "1",
            "--topic",
            &topic,
        ],
    );
    assert_success(&out, "create topic");
    let mut expected: Vec<String> = Vec::new();

    for producer in producers {
        match producer {
            Confluent => {
                let out = python(
                    CONFLUENT_PRODUCE,
                    &[
                        &broker.bootstrap(),
                        &topic,
                        codec,
                        &per_producer.to_string(),
                    ],
                );
                let result: Value =
                    serde_json::from_str(assert_success(&out, "confluent-kafka produce").trim())
                        .unwrap();
                assert_eq!(
                    result,
                    serde_json::json!({"left": 0, "errors": []}),
                    "{codec}: {}",
                    stderr_of(&out)
                );
                expected.extend((0..per_producer).map(|i| value("confluent", i)));
            }
            Kcat => {
                let input: String = (0..per_producer).map(|i| value("kcat", i) + "\n").collect();
                let out = kcat_stdin(
                    &[
                        "-P",
                        "-b",
                        &broker.bootstrap(),
                        "-t",
                        &topic,
                        "-p",
                        "0",
                        "-z",
                        codec,
                        "-X",
                        "linger.ms=50",
                    ],
                    &input,
                );
                assert_success(&out, "kcat -P -z");
                expected.extend((0..per_producer).map(|i| value("kcat", i)));
            }
            Java => {
                let input: String = (0..per_producer).map(|i| value("java", i) + "\n").collect();
                let out = kafka_tool_stdin(
                    "kafka-console-producer.sh",
                    &[
                        "--bootstrap-server",
                        &broker.bootstrap(),
                        "--topic",
                        &topic,
                        "--compression-codec",
                        codec,
                        "--producer-property",
                        "linger.ms=50",
                    ],
                    &input,
                );
                assert_success(&out, "console producer --compression-codec");
                expected.extend((0..per_producer).map(|i| value("java", i)));
            }
        }
    }

    // kcat reads them back in order.
    let out = kcat(&[
        "-C",
        "-b",
        &broker.bootstrap(),
        "-t",
        &topic,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%o %s\n",
    ]);
    let text = assert_success(&out, "kcat -C");
    let by_kcat: Vec<(usize, &str)> = text
        .lines()
        .map(|l| l.split_once(' ').unwrap())
        .map(|(o, v)| (o.parse().unwrap(), v))
        .collect();
    let want: Vec<(usize, &str)> = expected
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.as_str()))
        .collect();
    assert_eq!(by_kcat, want, "{codec}: kcat read back something else");

    // So does confluent-kafka.
    let out = python(CONFLUENT_CONSUME, &[&broker.bootstrap(), &topic]);
    let result: Value =
        serde_json::from_str(assert_success(&out, "confluent-kafka consume").trim()).unwrap();
    assert_eq!(result["eof"], true, "{codec}: {}", stderr_of(&out));
    let want: Value = expected
        .iter()
        .enumerate()
        .map(|(i, v)| serde_json::json!([i, v]))
        .collect();
    assert_eq!(
        result["records"], want,
        "{codec}: confluent-kafka read back something else"
    );

    // Every stored batch carries the codec, and together they hold every record.
    let batches = stored_batches(&broker.log_dir().join(format!("{topic}-0")));
    let codecs: Vec<i16> = batches
        .iter()
        .map(|(attributes, _)| attributes & 7)
        .collect();
    assert!(
        codecs.iter().all(|c| *c == code),
        "{codec} (code {code}) from {producers:?}: stored batches have compression {codecs:?}"
    );
    let stored: i32 = batches.iter().map(|(_, count)| count).sum();
    assert_eq!(
        stored as usize,
        expected.len(),
        "{codec}: record counts of the stored batches"
    );
    // Batching happened (the test would prove little with one record per batch).
    assert!(
        batches.len() < expected.len() / 4,
        "{codec}: {} batches for {} records",
        batches.len(),
        expected.len()
    );
}
