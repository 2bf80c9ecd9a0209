//! Old clients (issue 17): Produce v0–v2 and Fetch v0–v3 with message format v0/v1, which Kafka 4
//! dropped, converted to and from the stored v2 batches as Kafka 3.x did.
//!
//! The clients are real old-protocol clients: current librdkafka (confluent-kafka) with
//! `api.version.request=false` and `broker.version.fallback=0.9.0` sends Produce v1 and Fetch v1
//! with magic 0 (librdkafka 2.x ignores the setting for fallbacks of 0.10 and above and asks for
//! ApiVersions, so it cannot be made to speak magic 1), and kafka-python 1.4.7 with
//! `api_version=(0, 10, 0)` sends Produce v2 / Fetch v2 with magic 1, with `(0, 8, 2)` Produce v0
//! / Fetch v0. kafka-python 1.4.7 lives in its own directory (scripts/install-test-deps.sh), apart
//! from the kafka-python 3 the other tests use. What the old clients read back is compared with
//! what a modern client (confluent-kafka, default settings) reads, both ways.
//!
//! Kafka 4.1, the reference broker of `MILENA_TEST_REFERENCE=1`, serves none of this: there
//! these tests only say so and stop.

use crate::support;
use crate::wire::*;

use std::path::PathBuf;
use std::process::Command;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{
    list_offsets_request, produce_request, ApiKey, BrokerId, ListOffsetsRequest,
    ListOffsetsResponse, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde_json::Value;
use support::*;

/// Produces `count` keyed records with one client (`modern`, or an old librdkafka fallback
/// such as `0.9.0`) and reads partition 0 back from offset 0 with each client in `consumers`.
/// Values are `value-<i> ...`, keys `key-<i>`, CreateTime `1700000000000 + i`; the modern
/// producer adds a header.
const RDKAFKA: &str = r#"
import sys, json, time, confluent_kafka
from confluent_kafka import TopicPartition, KafkaError
bootstrap, topic, producer, consumers, codec, count = sys.argv[1:7]
count = int(count)

def conf(who):
    c = {'bootstrap.servers': bootstrap, 'log_level': 3}
    if who != 'modern':
        c.update({'api.version.request': False, 'broker.version.fallback': who})
    return c

def produce(who):
    p = confluent_kafka.Producer(dict(conf(who), **{'linger.ms': 50, 'compression.codec': codec}))
    errors = []
    for i in range(count):
        kw = {'headers': [('h', b'x')]} if who == 'modern' else {}
        p.produce(topic, key=('key-%d' % i).encode(), partition=0, timestamp=1700000000000 + i,
                  value=('value-%d %s' % (i, 'compressible ' * 10)).encode(),
                  on_delivery=lambda err, msg: err and errors.append(str(err)), **kw)
    return {'left': p.flush(20), 'errors': errors}

def consume(who):
    c = confluent_kafka.Consumer(dict(conf(who), **{'group.id': 'old-formats',
                                 'enable.auto.commit': False, 'enable.partition.eof': True}))
    c.assign([TopicPartition(topic, 0, 0)])
    out, eof, errors = [], False, []
    deadline = time.time() + 20
    while not eof and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof = len(out) >= count
            else:
                errors.append(str(m.error()))
            continue
        out.append([m.offset(), m.key().decode(), m.value().decode().split(' ')[0],
                    m.timestamp()[0], m.timestamp()[1], len(m.headers() or [])])
    c.close()
    return {'records': out, 'errors': errors}

result = {'produce': produce(producer)} if producer != '-' else {}
for who in consumers.split(','):
    result[who] = consume(who)
print(json.dumps(result))
"#;

/// kafka-python 1.4.7 at `api_version`: produces `count` records like `RDKAFKA` (mode
/// `produce` or `both`) and reads partition 0 from `from_offset` (mode `consume` or `both`).
const KAFKA_PYTHON_14: &str = r#"
import sys, json, time
import kafka
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
assert kafka.__version__ == '1.4.7', kafka.__version__
bootstrap, topic, mode, api, codec, count, from_offset = sys.argv[1:8]
api, count, from_offset = tuple(int(x) for x in api.split('.')), int(count), int(from_offset)
out = {}
if mode in ('produce', 'both'):
    p = KafkaProducer(bootstrap_servers=bootstrap, api_version=api, linger_ms=50,
                      compression_type=None if codec == 'none' else codec)
    futures = [p.send(topic, key=('key-%d' % i).encode(), partition=0,
                      value=('value-%d %s' % (i, 'compressible ' * 10)).encode(),
                      timestamp_ms=1700000000000 + i) for i in range(count)]
    out['produced'] = [f.get(timeout=20).offset for f in futures]
    p.close()
if mode in ('consume', 'both'):
    c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=api, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, from_offset)
    records = []
    deadline = time.time() + 20
    while len(records) < count - from_offset and time.time() < deadline:
        for msgs in c.poll(timeout_ms=500).values():
            records += [[m.offset, m.key.decode(), m.value.decode().split(' ')[0],
                         m.timestamp_type, m.timestamp] for m in msgs]
    c.close()
    out['consumed'] = records
if mode == 'offsets':
    # Where seek_to_beginning / seek_to_end land: below (0, 10, 1) a ListOffsets v0 lookup.
    c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=api, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    out['beginning'] = c.position(tp)
    c.seek_to_end(tp)
    out['end'] = c.position(tp)
    c.close()
print(json.dumps(out))
"#;

/// librdkafka with a broker.version.fallback and no ApiVersions: the low and high watermarks of
/// partition 0 (`get_watermark_offsets`, ListOffsets v0 at a 0.9.0 fallback).
const RDKAFKA_WATERMARKS: &str = r#"
import sys, json, confluent_kafka
from confluent_kafka import TopicPartition
bootstrap, topic, fallback = sys.argv[1:4]
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': 'old-watermarks',
                              'api.version.request': False, 'broker.version.fallback': fallback,
                              'log_level': 3})
low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=20)
c.close()
print(json.dumps({'low': low, 'high': high}))
"#;

/// Where scripts/install-test-deps.sh puts kafka-python 1.4.7 (`$MILENA_CACHE`, by default
/// `~/.cache/milena`).
fn kafka_python_14() -> PathBuf {
    let cache = match std::env::var_os("MILENA_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/milena"),
    };
    cache.join("kafka-python-1.4.7")
}

fn rdkafka(broker: &Broker, args: &[&str]) -> Value {
    let mut all = vec![broker.bootstrap()];
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = python(RDKAFKA, &all);
    serde_json::from_str(&assert_success(&out, "confluent-kafka")).expect("json")
}

fn kafka_python(broker: &Broker, args: &[&str]) -> Value {
    let dir = kafka_python_14();
    assert!(
        dir.join("kafka").is_dir(),
        "kafka-python 1.4.7 is missing from {}: run scripts/install-test-deps.sh",
        dir.display()
    );
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", &dir)
        .arg("-c")
        .arg(KAFKA_PYTHON_14)
        .arg(broker.bootstrap())
        .args(args);
    let out = run_with_timeout(&mut cmd, None, TOOL_TIMEOUT).expect("kafka-python 1.4.7 runs");
    serde_json::from_str(&assert_success(&out, "kafka-python 1.4.7")).expect("json")
}

fn skip_on_reference(broker: &Broker) -> bool {
    if broker.is_reference() {
        eprintln!("Kafka 4 serves no message format v0/v1: nothing to compare");
    }
    broker.is_reference()
}

/// The (offset, key, value) triples a consumer read.
fn triples(records: &Value) -> Vec<(i64, String, String)> {
    records
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_str().unwrap().to_string(),
                r[2].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn expected(count: i64, from: i64) -> Vec<(i64, String, String)> {
    (from..count)
        .map(|i| (i, format!("key-{i}"), format!("value-{i}")))
        .collect()
}

/// confluent-kafka's (timestamp type, timestamp) of every record read.
fn timestamps(records: &Value) -> Vec<(i64, i64)> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[3].as_i64().unwrap(), r[4].as_i64().unwrap()))
        .collect()
}

#[test]
fn librdkafka_magic_0_produces_and_fetches_uncompressed_gzip_and_lz4() {
    let broker = Broker::start();
    if skip_on_reference(&broker) {
        return;
    }
    // lz4 with magic 0 carries the old, wrong frame header checksum (KAFKA-3160).
    for codec in ["none", "gzip", "lz4"] {
        let topic = format!("old-rdkafka-{codec}");
        let r = rdkafka(&broker, &[&topic, "0.9.0", "0.9.0,modern", codec, "5"]);
        assert_eq!(
            r["produce"]["errors"],
            serde_json::json!([]),
            "{codec}: {r}"
        );
        for who in ["0.9.0", "modern"] {
            assert_eq!(
                r[who]["errors"],
                serde_json::json!([]),
                "{codec} {who}: {r}"
            );
            assert_eq!(triples(&r[who]["records"]), expected(5, 0), "{codec} {who}");
        }
        // Magic 0 has no timestamps: the old consumer sees none (type 0, NOT_AVAILABLE), the
        // modern one the stored -1, as Kafka 3.x up-converted them.
        assert!(timestamps(&r["0.9.0"]["records"]).iter().all(|t| t.0 == 0));
        assert!(timestamps(&r["modern"]["records"])
            .iter()
            .all(|t| t.1 == -1));
    }
}

#[test]
fn kafka_python_14_magic_1_and_produce_v0_round_trip_with_a_modern_consumer() {
    let broker = Broker::start();
    if skip_on_reference(&broker) {
        return;
    }
    // (api_version, codec): magic 1 on Produce v2 / Fetch v2; magic 0 on Produce v0 / Fetch v0.
    for (api, codec) in [("0.10.0", "none"), ("0.10.0", "gzip"), ("0.8.2", "gzip")] {
        let topic = format!("old-kp-{}-{codec}", api.replace('.', "-"));
        let old = kafka_python(&broker, &[&topic, "both", api, codec, "5", "0"]);
        assert_eq!(
            old["produced"],
            serde_json::json!([0, 1, 2, 3, 4]),
            "{api} {codec}"
        );
        assert_eq!(triples(&old["consumed"]), expected(5, 0), "{api} {codec}");
        let modern = rdkafka(&broker, &[&topic, "-", "modern", codec, "5"]);
        assert_eq!(triples(&modern["modern"]["records"]), expected(5, 0));
        let ts: Vec<i64> = timestamps(&modern["modern"]["records"])
            .iter()
            .map(|t| t.1)
            .collect();
        let consumed_ts: Vec<Value> = old["consumed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[4].clone())
            .collect();
        if api == "0.10.0" {
            // Magic 1 keeps CreateTime both ways.
            let want: Vec<i64> = (0..5).map(|i| 1_700_000_000_000 + i).collect();
            assert_eq!(ts, want, "{codec}");
            assert_eq!(
                consumed_ts,
                want.iter().map(|t| Value::from(*t)).collect::<Vec<_>>()
            );
        } else {
            assert_eq!(ts, vec![-1; 5], "magic 0 stores no timestamp");
            assert!(consumed_ts.iter().all(Value::is_null), "Fetch v0 has none");
        }
    }
}

#[test]
fn modern_producer_old_consumers_get_down_converted_messages() {
    let broker = Broker::start();
    if skip_on_reference(&broker) {
        return;
    }
    for codec in ["none", "gzip", "snappy", "lz4"] {
        let topic = format!("new-to-old-{codec}");
        let r = rdkafka(&broker, &[&topic, "modern", "0.9.0,modern", codec, "5"]);
        assert_eq!(
            r["produce"]["errors"],
            serde_json::json!([]),
            "{codec}: {r}"
        );
        assert_eq!(triples(&r["0.9.0"]["records"]), expected(5, 0), "{codec}");
        assert!(
            r["0.9.0"]["records"]
                .as_array()
                .unwrap()
                .iter()
                .all(|rec| rec[5] == 0),
            "format v0 has no headers"
        );
        assert!(
            r["modern"]["records"][0][5] == 1,
            "the stored record keeps its header"
        );
        // Magic 1 through Fetch v2, from the middle of the partition: the records before the
        // fetch offset are skipped (by the broker for plain batches, by the client otherwise).
        let old = kafka_python(&broker, &[&topic, "consume", "0.10.0", "none", "5", "2"]);
        assert_eq!(triples(&old["consumed"]), expected(5, 2), "{codec}");
        for (i, rec) in old["consumed"].as_array().unwrap().iter().enumerate() {
            assert_eq!(rec[3], 0, "CreateTime");
            assert_eq!(rec[4], 1_700_000_000_002 + i as i64, "{codec}");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Bad input, on the wire

/// One v0/v1 message (offset, size, CRC32, ...), as old clients write it.
fn message(offset: i64, magic: i8, codec: u8, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![magic as u8, codec];
    if magic == 1 {
        body.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            Some(f) => {
                body.extend_from_slice(&(f.len() as i32).to_be_bytes());
                body.extend_from_slice(f);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Produce v2 of `set` to partition 0 of `topic`: (error code, base offset).
fn produce_v2(stream: &mut std::net::TcpStream, topic: &str, set: Vec<u8>) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(set))),
            ])]);
    send(stream, &request_frame(ApiKey::Produce, 2, 7, &request));
    let mut r = read_response(stream).expect("a Produce v2 answer");
    assert_eq!(r.get_i32(), 7, "correlation id");
    assert_eq!(r.get_i32(), 1, "one topic");
    let name_len = r.get_i16() as usize;
    r.advance(name_len);
    assert_eq!(r.get_i32(), 1, "one partition");
    assert_eq!(r.get_i32(), 0, "partition 0");
    let code = r.get_i16();
    let base_offset = r.get_i64();
    let _log_append_time = r.get_i64();
    let _throttle = r.get_i32();
    assert!(!r.has_remaining(), "Produce v2 ends with the throttle time");
    (code, base_offset)
}

#[test]
fn bad_old_message_sets_get_kafkas_errors_and_the_connection_carries_on() {
    let broker = Broker::start();
    if skip_on_reference(&broker) {
        return;
    }
    let topic = "old-bad-input";
    // Produce creates no topic (Metadata does, with auto creation on).
    let bootstrap = broker.bootstrap();
    assert_success(&kcat(&["-L", "-b", &bootstrap, "-t", topic]), "kcat -L");
    let mut s = connect(broker.port);
    let good = message(0, 1, 0, Some(b"k"), Some(b"v"));
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        produce_v2(&mut s, topic, good.clone()).0 == 0
    }));

    const CORRUPT_MESSAGE: i16 = 2;
    const INVALID_RECORD: i16 = 87;
    let mut bad_crc = message(0, 1, 0, Some(b"k"), Some(b"v"));
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    assert_eq!(produce_v2(&mut s, topic, bad_crc).0, CORRUPT_MESSAGE);

    let mut mixed = message(0, 0, 0, None, Some(b"a"));
    mixed.extend(message(1, 1, 0, None, Some(b"b")));
    assert_eq!(produce_v2(&mut s, topic, mixed).0, INVALID_RECORD);

    let inner = message(
        0,
        1,
        1,
        None,
        Some(&gzip(&message(0, 1, 0, None, Some(b"x")))),
    );
    let nested = message(0, 1, 1, None, Some(&gzip(&inner)));
    assert_eq!(produce_v2(&mut s, topic, nested).0, INVALID_RECORD);

    // Inner offsets 0..=2 under a wrapper claiming 1: below the last inner offset.
    let mut three = Vec::new();
    for i in 0..3 {
        three.extend(message(i, 1, 0, None, Some(b"y")));
    }
    let absurd = message(1, 1, 1, None, Some(&gzip(&three)));
    assert_eq!(produce_v2(&mut s, topic, absurd).0, INVALID_RECORD);

    // A 64 MiB + 1 byte bomb in a small wrapper is refused, not inflated.
    let bomb = gzip(&vec![0u8; 64 * 1024 * 1024 + 1]);
    let bomb = message(0, 1, 1, None, Some(&bomb));
    assert_eq!(produce_v2(&mut s, topic, bomb).0, CORRUPT_MESSAGE);

    // The same connection still appends: the second good message lands at offset 1.
    let wrapped = message(2, 1, 1, None, Some(&gzip(&three)));
    assert_eq!(produce_v2(&mut s, topic, wrapped), (0, 1));
    assert_eq!(produce_v2(&mut s, topic, good), (0, 4));
}

/// ListOffsets v0 (Kafka 4 dropped it): old clients find the earliest and latest offsets with it.
/// kafka-python 1.4.7 below `api_version` (0, 10, 1) resets with it, librdkafka with a 0.9.0
/// fallback asks for watermarks with it; both land where a modern client would.
#[test]
fn old_clients_look_up_earliest_and_latest_with_list_offsets_v0() {
    let broker = Broker::start();
    if skip_on_reference(&broker) {
        return;
    }
    let topic = "old-list-offsets".to_string();
    let produced = kafka_python(&broker, &[&topic, "produce", "0.10.0", "none", "5", "0"]);
    assert_eq!(produced["produced"], serde_json::json!([0, 1, 2, 3, 4]));
    for api in ["0.10.0", "0.8.2"] {
        let got = kafka_python(&broker, &[&topic, "offsets", api, "none", "0", "0"]);
        assert_eq!(
            (got["beginning"].as_i64(), got["end"].as_i64()),
            (Some(0), Some(5)),
            "kafka-python 1.4.7 at {api}: {got}"
        );
    }
    let out = python(RDKAFKA_WATERMARKS, &[&broker.bootstrap(), &topic, "0.9.0"]);
    let got: Value = serde_json::from_str(&assert_success(&out, "confluent-kafka")).unwrap();
    assert_eq!(
        got,
        serde_json::json!({"low": 0, "high": 5}),
        "librdkafka 0.9.0"
    );
}

/// The raw v0 answer, as Kafka 3.9 gave it: segment start offsets (here the one segment's 0)
/// plus the log end when the active segment has data, newest first, at most
/// `max_num_offsets`; a time before every segment's mtime finds none; a negative count is
/// UNKNOWN_SERVER_ERROR and another negative time UNSUPPORTED_VERSION. Every answer here is
/// what Kafka 3.9.1 gave for the same requests (FINDINGS.md finding 7).
#[test]
fn list_offsets_v0_answers_segment_offsets_like_kafka_3_9() {
    let broker = Broker::start();
    if skip_on_reference(&broker) {
        return;
    }
    let topic = "old-list-offsets-raw";
    let bootstrap = broker.bootstrap();
    assert_success(&kcat(&["-L", "-b", &bootstrap, "-t", topic]), "kcat -L");
    let mut s = connect(broker.port);
    let three: Vec<u8> = (0..3)
        .flat_map(|i| message(i, 1, 0, None, Some(b"z")))
        .collect();
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        produce_v2(&mut s, topic, three.clone()).0 == 0
    }));
    let ask = |s: &mut std::net::TcpStream, timestamp: i64, max: i32| {
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(timestamp)
                        .with_max_num_offsets(max),
                ])]);
        let r: ListOffsetsResponse = roundtrip(s, ApiKey::ListOffsets, 0, &request);
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.old_style_offsets.clone())
    };
    assert_eq!(ask(&mut s, -1, 1), (0, vec![3]));
    assert_eq!(ask(&mut s, -1, 100), (0, vec![3, 0]));
    assert_eq!(ask(&mut s, -2, 100), (0, vec![0]));
    assert_eq!(ask(&mut s, i64::MAX, 100), (0, vec![3, 0]));
    assert_eq!(ask(&mut s, 1, 100), (0, vec![]));
    assert_eq!(ask(&mut s, -1, -1), (-1, vec![]));
    // The special times of later versions are refused, as Kafka 3.9.1 refused them.
    for later in [-3, -4, -5, -100] {
        assert_eq!(ask(&mut s, later, 5), (35, vec![]), "{later}");
    }
    // An unknown partition gets its error and no offsets; the connection carries on.
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
            .with_name(TopicName(StrBytes::from_string(
                "no-such-topic".to_string(),
            )))
            .with_partitions(vec![
                list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1),
            ])]);
    let r: ListOffsetsResponse = roundtrip(&mut s, ApiKey::ListOffsets, 0, &request);
    assert_eq!(r.topics[0].partitions[0].error_code, 3);
    assert!(r.topics[0].partitions[0].old_style_offsets.is_empty());
    assert_eq!(ask(&mut s, -1, 1), (0, vec![3]));
}

/// Where scripts/install-test-deps.sh puts kafka-clients `version` and its dependencies.
fn java_clients(version: &str) -> PathBuf {
    kafka_python_14()
        .parent()
        .expect("cache dir")
        .join(format!("kafka-clients-{version}"))
}

/// Runs tests/java/OldClient.java on kafka-clients `version` (its own classpath, apart from the
/// 4.x tools) and returns its stdout lines.
fn old_java(version: &str, args: &[&str]) -> Vec<String> {
    let dir = java_clients(version);
    assert!(
        dir.join(format!("kafka-clients-{version}.jar")).is_file(),
        "kafka-clients {version} is missing from {}: run scripts/install-test-deps.sh",
        dir.display()
    );
    let java = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .unwrap_or_else(|| "java".into());
    let mut cmd = Command::new(java);
    cmd.args(fast_jvm_opts())
        .arg("-cp")
        .arg(dir.join("*"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/java/OldClient.java"
        ))
        .args(args);
    let out = run_with_timeout(&mut cmd, None, TOOL_TIMEOUT)
        .unwrap_or_else(|e| panic!("kafka-clients {version} {args:?}: {e}"));
    assert_success(&out, &format!("kafka-clients {version} {args:?}"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// The Produce and Fetch versions the broker served so far, from its /metrics.
fn produce_fetch_versions(http_port: u16) -> Vec<String> {
    let (status, body) = support::http::get(http_port, "/metrics");
    assert_eq!(status, 200);
    let mut seen: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("milena_requests_total{request=\""))
        .filter(|l| l.starts_with("Produce\"") || l.starts_with("Fetch\""))
        .filter_map(|l| {
            let (labels, count) = l.rsplit_once(' ')?;
            let (api, rest) = labels.split_once('"')?;
            let version = rest.split("version=\"").nth(1)?.split('"').next()?;
            (count.parse::<f64>().ok()? > 0.0).then(|| format!("{api} v{version}"))
        })
        .collect();
    seen.sort();
    seen
}

/// Java clients of the Kafka 2.x and 0.10 lines, with a consumer group: they produce, consume,
/// commit, and a second consumer of the group resumes at the committed offset. kafka-clients
/// 0.10.2.2 writes message format v1 with Produce v2 and reads with Fetch v3 (both converted);
/// 2.8.2 negotiates Produce v9 / Fetch v12 with v2 batches (no conversion). A modern client
/// reads the same records back. Which versions each used is read from the broker's /metrics.
#[test]
fn java_clients_2_8_and_0_10_produce_and_consume_with_a_group() {
    for (version, expect) in [
        ("0.10.2.2", ["Fetch v3", "Produce v2"]),
        ("2.8.2", ["Fetch v12", "Produce v9"]),
    ] {
        let (broker, http_port) = support::http::start_broker(&[]);
        if skip_on_reference(&broker) {
            return;
        }
        let bootstrap = broker.bootstrap();
        let topic = format!("old-java-{}", version.replace('.', "-"));
        let group = format!("{topic}-group");
        let produced = old_java(version, &["produce", &bootstrap, &topic, "0", "5"]);
        let want: Vec<String> = (0..5).map(|i| format!("produced {i}")).collect();
        assert_eq!(produced, want, "kafka-clients {version}");

        let records = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .filter(|l| l.starts_with("record "))
                .cloned()
                .collect()
        };
        let record = |i: i64| {
            format!(
                "record {i} key-{i} value-{i} CreateTime {}",
                1700000000000 + i
            )
        };
        let first = old_java(version, &["consume", &bootstrap, &topic, &group, "5"]);
        assert_eq!(
            records(&first),
            (0..5).map(record).collect::<Vec<_>>(),
            "{first:?}"
        );
        assert!(first.contains(&"committed 5".to_string()), "{first:?}");
        assert!(first.contains(&"end 5".to_string()), "{first:?}");

        old_java(version, &["produce", &bootstrap, &topic, "5", "3"]);
        let second = old_java(version, &["consume", &bootstrap, &topic, &group, "3"]);
        assert_eq!(
            records(&second),
            (5..8).map(record).collect::<Vec<_>>(),
            "{second:?}"
        );
        assert!(second.contains(&"committed 8".to_string()), "{second:?}");

        // A modern client reads what the old one wrote.
        let modern = rdkafka(&broker, &[&topic, "-", "modern", "none", "8"]);
        assert_eq!(
            modern["modern"]["errors"],
            serde_json::json!([]),
            "{modern}"
        );
        assert_eq!(triples(&modern["modern"]["records"]), expected(8, 0));
        assert!(
            timestamps(&modern["modern"]["records"])
                .iter()
                .zip(0..)
                .all(|(&(kind, ts), i)| kind == 1 && ts == 1700000000000 + i),
            "CreateTime kept: {modern}"
        );

        let versions = produce_fetch_versions(http_port);
        for v in expect {
            assert!(
                versions.contains(&v.to_string()),
                "kafka-clients {version}: {versions:?}"
            );
        }
        eprintln!("kafka-clients {version}: served {versions:?}");
    }
}
