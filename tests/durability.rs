//! What survives a restart and a crash, as clients see it.
//!
//! - A clean restart (SIGTERM) keeps records, offsets, topics, topic IDs and topic configs.
//! - `kill -9` while an idempotent `acks=all` producer (confluent-kafka) is writing loses no
//!   acknowledged record: each is served at the offset it was acknowledged with, offsets stay
//!   dense, and new records continue after the recovered end.
//! - Bytes torn off or garbage appended to the active segment after a crash are truncated at
//!   start-up; acknowledged records are still served and new ones take the next offset.
//! - Idempotent producer state (last sequences) survives a restart: a retried batch is
//!   recognised as a duplicate and a sequence gap is refused (raw protocol).

use crate::support;
use crate::wire;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use support::*;

#[track_caller]
fn assert_dense_from_zero(records: &[(i64, String)], what: &str) {
    for (i, (offset, _)) in records.iter().enumerate() {
        assert_eq!(
            *offset, i as i64,
            "{what}: offsets not dense from 0 at index {i}"
        );
    }
}

/// The `TopicId: ...` of a `kafka-topics.sh --describe` output.
fn topic_id(describe: &str) -> String {
    describe
        .split_whitespace()
        .skip_while(|w| *w != "TopicId:")
        .nth(1)
        .unwrap_or_else(|| panic!("no TopicId in {describe}"))
        .to_string()
}

#[test]
fn restart_keeps_records_offsets_topics_configs_and_ids() {
    let mut broker = Broker::start();
    assert_success(
        &topics(
            &broker,
            &["--create", "--partitions", "3", "--topic", "plain"],
        ),
        "create plain",
    );
    assert_success(
        &topics(
            &broker,
            &[
                "--create",
                "--partitions",
                "1",
                "--topic",
                "configured",
                "--config",
                "retention.ms=123456789",
            ],
        ),
        "create configured",
    );
    let input: String = (0..300).map(|i| format!("rec-{i}\n")).collect();
    for topic in ["plain", "configured"] {
        let out = kafka_tool_stdin(
            "kafka-console-producer.sh",
            &["--bootstrap-server", &broker.bootstrap(), "--topic", topic],
            &input,
        );
        assert_success(&out, "console producer");
    }
    let describe_plain = assert_success(
        &topics(&broker, &["--describe", "--topic", "plain"]),
        "describe plain",
    );
    let describe_configured = assert_success(
        &topics(&broker, &["--describe", "--topic", "configured"]),
        "describe configured",
    );
    assert!(
        describe_configured.contains("retention.ms=123456789"),
        "{describe_configured}"
    );
    let before = [
        consume_all(&broker, "plain"),
        consume_all(&broker, "configured"),
    ];

    broker.restart();

    let list = assert_success(&topics(&broker, &["--list"]), "list after restart");
    let mut listed: Vec<&str> = list.lines().collect();
    listed.sort();
    assert_eq!(listed, ["configured", "plain"]);
    let after_plain = assert_success(
        &topics(&broker, &["--describe", "--topic", "plain"]),
        "describe plain after restart",
    );
    let after_configured = assert_success(
        &topics(&broker, &["--describe", "--topic", "configured"]),
        "describe configured after restart",
    );
    assert_eq!(
        topic_id(&after_plain),
        topic_id(&describe_plain),
        "TopicId changed across restart"
    );
    assert_eq!(
        topic_id(&after_configured),
        topic_id(&describe_configured),
        "TopicId changed across restart"
    );
    assert_ne!(topic_id(&after_plain), topic_id(&after_configured));
    assert!(after_plain.contains("PartitionCount: 3"), "{after_plain}");
    assert!(
        after_configured.contains("retention.ms=123456789"),
        "{after_configured}"
    );

    // Every record is served at the same offset as before.
    let after = [
        consume_all(&broker, "plain"),
        consume_all(&broker, "configured"),
    ];
    assert_eq!(after, before, "records or offsets changed across restart");
    let total: usize = after[0].values().map(Vec::len).sum();
    assert_eq!(total, 300);
    assert_eq!(after[1][&0].len(), 300);
    for partitions in &after {
        for (p, records) in partitions {
            assert_dense_from_zero(records, &format!("partition {p}"));
        }
    }

    // New records continue each partition's offsets: no reuse, no gap.
    for p in 0..3 {
        let out = kcat_stdin(
            &[
                "-P",
                "-b",
                &broker.bootstrap(),
                "-t",
                "plain",
                "-p",
                &p.to_string(),
            ],
            &format!("new-{p}\n"),
        );
        assert_success(&out, "kcat -P after restart");
    }
    let again = consume_all(&broker, "plain");
    for p in 0..3 {
        let old = after[0].get(&p).map_or(0, Vec::len);
        let records = &again[&p];
        assert_dense_from_zero(records, &format!("partition {p} after new produce"));
        assert_eq!(records.len(), old + 1);
        assert_eq!(records.last().unwrap(), &(old as i64, format!("new-{p}")));
    }
}

/// A confluent-kafka producer (idempotent, acks=all) that writes `rec-N` records until a
/// delivery fails, printing `rec-N partition offset` for every acknowledged record as the
/// delivery report arrives.
const ACKED_PRODUCER: &str = r#"
import sys, confluent_kafka
bootstrap, topic = sys.argv[1], sys.argv[2]
p = confluent_kafka.Producer({
    'bootstrap.servers': bootstrap, 'acks': 'all', 'enable.idempotence': True,
    'message.timeout.ms': 15000, 'linger.ms': 5,
})
failed = []
def report(err, msg):
    if err is None:
        sys.stdout.write('%s %d %d\n' % (msg.value().decode(), msg.partition(), msg.offset()))
        sys.stdout.flush()
    elif not failed:
        failed.append(err)
        sys.stderr.write('first failed delivery: %s\n' % err)
i = 0
while not failed:
    try:
        p.produce(topic, key=str(i).encode(), value=('rec-%d' % i).encode(), on_delivery=report)
        i += 1
        p.poll(0)
    except BufferError:
        p.poll(0.1)
p.flush(30)
"#;

/// Kills a child's whole process group when dropped, so a failing test leaves nothing behind.
/// Disarmed (`None`) once the child has been reaped, as its pid may then be reused.
struct GroupGuard(Option<u32>);
impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn kill9_under_load_loses_no_acknowledged_record() {
    let mut broker = Broker::start();
    assert_success(
        &topics(
            &broker,
            &["--create", "--partitions", "3", "--topic", "load"],
        ),
        "create",
    );

    let mut child = Command::new("python3")
        .arg("-c")
        .arg(ACKED_PRODUCER)
        .args([broker.bootstrap().as_str(), "load"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn python3");
    let mut guard = GroupGuard(Some(child.id()));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stdout = child.stdout.take().unwrap();
    let sink = acked.clone();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });

    let enough = wait_until(Duration::from_secs(60), || {
        acked.lock().unwrap().len() >= 5000
    });
    assert!(
        enough,
        "only {} records acknowledged in 60 s",
        acked.lock().unwrap().len()
    );
    broker.kill9();

    // Undelivered records time out after message.timeout.ms (15 s); then the script exits.
    let exited = wait_until(Duration::from_secs(90), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "producer did not exit within 90 s of the crash");
    guard.0 = None;
    reader.join().unwrap();
    let producer_stderr = err_reader.join().unwrap();

    let acked: Vec<String> = acked.lock().unwrap().clone();
    let mut expected: HashMap<String, (i32, i64)> = HashMap::new();
    for line in &acked {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 3, "bad producer line {line:?}\n{producer_stderr}");
        expected.insert(
            f[0].to_string(),
            (f[1].parse().unwrap(), f[2].parse().unwrap()),
        );
    }
    assert!(expected.len() >= 5000);

    broker.start_again();
    assert!(
        broker
            .log()
            .contains("recovering log after unclean shutdown"),
        "no recovery in the broker log"
    );

    let served = consume_all(&broker, "load");
    let mut at: HashMap<(i32, i64), &str> = HashMap::new();
    for (p, records) in &served {
        assert_dense_from_zero(records, &format!("partition {p}"));
        for (o, v) in records {
            at.insert((*p, *o), v);
        }
    }
    let mut lost = Vec::new();
    for (id, (p, o)) in &expected {
        if at.get(&(*p, *o)) != Some(&id.as_str()) {
            lost.push(format!(
                "{id} acknowledged at {p}:{o}, served {:?}",
                at.get(&(*p, *o))
            ));
        }
    }
    lost.sort();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost or moved, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    // No record is served twice (the idempotent producer's retries were deduplicated).
    let mut values: Vec<&str> = at.values().copied().collect();
    values.sort();
    let n = values.len();
    values.dedup();
    assert_eq!(values.len(), n, "a record is stored twice");

    // New records continue after the recovered end of each partition.
    for p in 0..3 {
        let out = kcat_stdin(
            &[
                "-P",
                "-b",
                &broker.bootstrap(),
                "-t",
                "load",
                "-p",
                &p.to_string(),
            ],
            "after-crash\n",
        );
        assert_success(&out, "kcat -P after recovery");
    }
    let again = consume_all(&broker, "load");
    for p in 0..3 {
        let end = served.get(&p).map_or(0, Vec::len);
        assert_eq!(again[&p].len(), end + 1, "partition {p}");
        assert_eq!(
            again[&p].last().unwrap(),
            &(end as i64, "after-crash".to_string())
        );
    }
}

/// The newest segment `.log` of a partition directory.
fn active_segment(partition_dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(partition_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop()
        .unwrap_or_else(|| panic!("no .log in {}", partition_dir.display()))
}

#[test]
fn torn_tail_after_kill9_is_truncated() {
    let mut broker = Broker::start();
    assert_success(
        &topics(
            &broker,
            &["--create", "--partitions", "2", "--topic", "torn"],
        ),
        "create",
    );
    let input: String = (0..50).map(|i| format!("rec-{i}\n")).collect();
    for p in ["0", "1"] {
        let out = kcat_stdin(
            &[
                "-P",
                "-b",
                &broker.bootstrap(),
                "-t",
                "torn",
                "-p",
                p,
                "-X",
                "acks=all",
            ],
            &input,
        );
        assert_success(&out, "kcat -P");
    }
    let before = consume_all(&broker, "torn");
    assert_eq!(before[&0].len(), 50);
    assert_eq!(before[&1].len(), 50);
    broker.kill9();

    // Partition 0: garbage after the last batch.
    let seg0 = active_segment(&broker.log_dir().join("torn-0"));
    let garbage: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 13) as u8)
        .collect();
    fs::OpenOptions::new()
        .append(true)
        .open(&seg0)
        .unwrap()
        .write_all(&garbage)
        .unwrap();
    // Partition 1: a torn write, i.e. the first part of a real batch (header intact) whose
    // base offset is the next one, cut short.
    let seg1 = active_segment(&broker.log_dir().join("torn-1"));
    let bytes = fs::read(&seg1).unwrap();
    let first_batch_len = 12 + i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut torn = bytes[..first_batch_len - 7].to_vec();
    torn[..8].copy_from_slice(&50i64.to_be_bytes());
    fs::OpenOptions::new()
        .append(true)
        .open(&seg1)
        .unwrap()
        .write_all(&torn)
        .unwrap();

    broker.start_again();
    assert!(
        broker.log().contains("truncating torn tail"),
        "no truncation in the broker log"
    );
    let after = consume_all(&broker, "torn");
    assert_eq!(
        after, before,
        "recovered log differs from what was acknowledged"
    );
    assert_eq!(
        fs::read(&seg1).unwrap(),
        bytes,
        "torn bytes were not cut off"
    );

    for p in ["0", "1"] {
        let out = kcat_stdin(
            &["-P", "-b", &broker.bootstrap(), "-t", "torn", "-p", p],
            "next\n",
        );
        assert_success(&out, "kcat -P after recovery");
    }
    let again = consume_all(&broker, "torn");
    for p in [0, 1] {
        assert_dense_from_zero(&again[&p], &format!("partition {p}"));
        assert_eq!(again[&p].last().unwrap(), &(50, "next".to_string()));
    }
}

// ------------------------------------------------------------------------------------------------
// Raw protocol: idempotent producer state across a restart

fn zigzag(buf: &mut Vec<u8>, n: i64) {
    let mut v = ((n << 1) ^ (n >> 63)) as u64;
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// A v2 record batch of `values` from an idempotent producer.
fn idempotent_batch(producer_id: i64, epoch: i16, base_sequence: i32, values: &[&str]) -> Bytes {
    let mut records = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let mut body = vec![0u8]; // attributes
        zigzag(&mut body, 0); // timestamp delta
        zigzag(&mut body, i as i64); // offset delta
        zigzag(&mut body, -1); // null key
        zigzag(&mut body, v.len() as i64);
        body.extend_from_slice(v.as_bytes());
        zigzag(&mut body, 0); // no headers
        zigzag(&mut records, body.len() as i64);
        records.extend_from_slice(&body);
    }
    // The current time, as a producer stamps it: producer state expires
    // `producer.id.expiration.ms` after its last batch's timestamp, so a batch dated long ago
    // would be forgotten at the first expiry pass (as in Kafka).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let mut after_crc = Vec::new();
    after_crc.extend_from_slice(&0i16.to_be_bytes());
    after_crc.extend_from_slice(&(values.len() as i32 - 1).to_be_bytes());
    after_crc.extend_from_slice(&now.to_be_bytes());
    after_crc.extend_from_slice(&now.to_be_bytes());
    after_crc.extend_from_slice(&producer_id.to_be_bytes());
    after_crc.extend_from_slice(&epoch.to_be_bytes());
    after_crc.extend_from_slice(&base_sequence.to_be_bytes());
    after_crc.extend_from_slice(&(values.len() as i32).to_be_bytes());
    after_crc.extend_from_slice(&records);
    let mut batch = Vec::new();
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((4 + 1 + 4 + after_crc.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    batch.push(2);
    batch.extend_from_slice(&crc32c::crc32c(&after_crc).to_be_bytes());
    batch.extend_from_slice(&after_crc);
    Bytes::from(batch)
}

/// Sends one request on a fresh connection and decodes the response body.
fn call<Req: kafka_protocol::protocol::Encodable, Resp: Decodable>(
    port: u16,
    key: ApiKey,
    version: i16,
    body: &Req,
) -> Resp {
    let mut stream = wire::connect(port);
    wire::send(&mut stream, &wire::request_frame(key, version, 42, body));
    let mut response = wire::read_response(&mut stream).expect("a response");
    let header =
        ResponseHeader::decode(&mut response, key.response_header_version(version)).unwrap();
    assert_eq!(header.correlation_id, 42);
    let decoded = Resp::decode(&mut response, version).unwrap();
    assert_eq!(
        response.remaining(),
        0,
        "bytes left after the response body"
    );
    decoded
}

/// Produce v9 (acks=-1) of one batch to `topic`-0: (error code, base offset).
fn produce(port: u16, topic: &'static str, batch: Bytes) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(topic)))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch)),
            ])]);
    let response: ProduceResponse = call(port, ApiKey::Produce, 9, &request);
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn idempotent_producer_state_survives_restart() {
    let mut broker = Broker::start();
    assert_success(
        &topics(
            &broker,
            &["--create", "--partitions", "1", "--topic", "idem"],
        ),
        "create",
    );

    let init: InitProducerIdResponse = call(
        broker.port,
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    );
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    assert!(pid >= 0);
    assert_eq!(init.producer_epoch, 0);

    // Something before it, so that the idempotent batch does not sit at offset 0.
    assert_success(
        &kcat_stdin(
            &["-P", "-b", &broker.bootstrap(), "-t", "idem", "-p", "0"],
            "first\n",
        ),
        "kcat -P",
    );
    let batch = idempotent_batch(pid, 0, 0, &["a", "b", "c"]);
    assert_eq!(produce(broker.port, "idem", batch.clone()), (0, 1));

    broker.restart();

    // The retried batch is a duplicate: no error, the original base offset, not appended again.
    assert_eq!(
        produce(broker.port, "idem", batch),
        (0, 1),
        "retry after restart is not recognised as a duplicate"
    );
    // A gap in the sequence is refused: OUT_OF_ORDER_SEQUENCE_NUMBER.
    let (error, _) = produce(broker.port, "idem", idempotent_batch(pid, 0, 5, &["gap"]));
    assert_eq!(
        error, 45,
        "sequence 5 after 0..=2 must be OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    // The next sequence is accepted right after the first batch.
    assert_eq!(
        produce(broker.port, "idem", idempotent_batch(pid, 0, 3, &["d"])),
        (0, 4)
    );

    let served: Vec<(i64, String)> = consume_all(&broker, "idem").remove(&0).unwrap();
    let expected: Vec<(i64, String)> = ["first", "a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v.to_string()))
        .collect();
    assert_eq!(served, expected);
}
