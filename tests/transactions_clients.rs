//! Transactions as non-Java clients see them (issue 4), each validated against Apache Kafka 4.1
//! with `MILENA_TEST_REFERENCE=1` (see tests/support/mod.rs):
//!
//! - librdkafka (the `rdkafka` crate): a committed, an aborted and a committed transaction over two
//!   topics and five partitions. A `read_committed` consumer sees exactly the committed records, in
//!   order, at their offsets (every commit or abort marker takes one offset); `read_uncommitted`
//!   sees the aborted ones too.
//! - librdkafka fencing: a second producer with the same `transactional.id` aborts the first one's
//!   open transaction and the first one fails with a fatal "fenced" error.
//! - librdkafka transaction timeout: an open transaction holds back `read_committed` readers (the
//!   last stable offset) until the coordinator aborts it after `transaction.timeout.ms`.
//! - confluent-kafka (Python): the same commit/abort layout read by Python consumers at both
//!   isolation levels, and a consume-transform-produce loop with `send_offsets_to_transaction` in
//!   which the group's committed offsets move only when the transaction commits.
//! - Kafka Streams: the stock `WordCountDemo` with `processing.guarantee=exactly_once_v2`. The
//!   counts read with `read_committed` are exact, also after the Streams process is SIGKILLed in
//!   the middle of a transaction while input is arriving, and started again: for every word the
//!   committed updates are exactly 1, 2, ..., n (no update lost, none counted twice), and the
//!   killed transaction's updates stay visible to `read_uncommitted` only. Streams also purges its
//!   repartition topic with DeleteRecords.
//!
//! The Java clients of Kafka 4.1 (Streams, console tools) use transaction version 2 when the
//! broker finalizes `transaction.version=2` in ApiVersions, as Kafka 4.1 does: no
//! AddPartitionsToTxn from the client (the partition leader adds the partition on the first
//! transactional Produce v13), no AddOffsetsToTxn before TxnOffsetCommit v5, and the EndTxn v5
//! response carries a new producer epoch after every commit. librdkafka (2.12 here, 2.16 in
//! confluent-kafka) uses InitProducerId v4, AddPartitionsToTxn v0, AddOffsetsToTxn v0,
//! TxnOffsetCommit v3 and EndTxn v1.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use support::streams::*;
use support::*;

/// What a single node needs for transactions (Kafka's defaults want three replicas), and no
/// initial rebalance delay for the groups the tests join.
const TXN_BROKER_PROPS: &[(&str, &str)] = &[
    ("transaction.state.log.replication.factor", "1"),
    ("transaction.state.log.min.isr", "1"),
    ("group.initial.rebalance.delay.ms", "0"),
];

const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

fn start_broker(extra: &[(&str, &str)]) -> Broker {
    let mut props = TXN_BROKER_PROPS.to_vec();
    props.extend_from_slice(extra);
    Broker::start_with(&props)
}

fn create_topic(broker: &Broker, topic: &str, partitions: i32) {
    let out = topics(
        broker,
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

fn client_config(broker: &Broker) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker.bootstrap());
    config
}

/// A librdkafka producer with `transactional.id`, after `init_transactions`.
#[track_caller]
fn transactional_producer(broker: &Broker, id: &str, extra: &[(&str, &str)]) -> BaseProducer {
    let mut config = client_config(broker);
    config.set("transactional.id", id);
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let producer: BaseProducer = config.create().expect("create transactional producer");
    producer
        .init_transactions(CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("init_transactions({id}): {e}"));
    producer
}

/// Queues `value` (also the key) for `topic`/`partition`.
#[track_caller]
fn send(producer: &BaseProducer, topic: &str, partition: i32, value: &str) {
    producer
        .send(
            BaseRecord::to(topic)
                .partition(partition)
                .key(value)
                .payload(value),
        )
        .unwrap_or_else(|(e, _)| panic!("queue {value}: {e}"));
    producer.poll(Duration::ZERO);
}

/// `(topic, partition) -> [(offset, value)]`.
type Records = BTreeMap<(String, i32), Vec<(i64, String)>>;

/// Two topics, five partitions: every transaction in these tests spans all of them.
const LAYOUT: &[(&str, i32)] = &[("txn-a", 3), ("txn-b", 2)];
const PER_PARTITION: i64 = 3;

/// `<tag>-<topic>-<partition>-<i>`: the record `i` of a transaction `tag` in one partition.
fn value(tag: &str, topic: &str, partition: i32, i: i64) -> String {
    format!("{tag}-{topic}-{partition}-{i}")
}

/// What the commit/abort/commit sequence leaves in every partition of LAYOUT: the committed `c1`
/// records at offsets 0..3, its commit marker at 3, the aborted `ab` records at 4..7, the abort
/// marker at 7, the committed `c2` records at 8..11 and the last marker at 11.
fn expected_layout(with_aborted: bool) -> Records {
    let mut expected = Records::new();
    for (topic, partitions) in LAYOUT {
        for p in 0..*partitions {
            let mut records = Vec::new();
            for (tag, first, committed) in [("c1", 0, true), ("ab", 4, false), ("c2", 8, true)] {
                if committed || with_aborted {
                    for i in 0..PER_PARTITION {
                        records.push((first + i, value(tag, topic, p, i)));
                    }
                }
            }
            expected.insert((topic.to_string(), p), records);
        }
    }
    expected
}

/// Reads `topic` from the beginning with librdkafka at `isolation` until it has at least
/// `expected` records and stands at the end of every partition (for `read_committed` the end is
/// the last stable offset, which may trail a commit that just returned: markers are written after
/// the coordinator answers EndTxn).
#[track_caller]
fn read_topic(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    isolation: &str,
    expected: usize,
) -> Records {
    let consumer: BaseConsumer = client_config(broker)
        .set("group.id", format!("reader-{topic}-{isolation}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .create()
        .expect("create consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut got = Records::new();
    let mut count = 0;
    // librdkafka reports the end of a partition once each time it gets there.
    let mut at_end = BTreeSet::new();
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    while count < expected || at_end.len() < partitions as usize {
        assert!(
            Instant::now() < deadline,
            "{isolation} read of {topic}: {count} of {expected} records, at the end of \
             partitions {at_end:?}, within {CLIENT_TIMEOUT:?}: {got:?}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                let value = String::from_utf8_lossy(m.payload().unwrap_or_default());
                got.entry((m.topic().to_string(), m.partition()))
                    .or_default()
                    .push((m.offset(), value.into_owned()));
                count += 1;
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("{isolation} consumer of {topic}: {e}"),
        }
    }
    got
}

/// `read_topic` over every topic of LAYOUT, `expected_per_partition` records in each partition.
#[track_caller]
fn read_layout(broker: &Broker, isolation: &str, expected_per_partition: usize) -> Records {
    let mut got = Records::new();
    for (topic, partitions) in LAYOUT {
        let expected = expected_per_partition * *partitions as usize;
        got.extend(read_topic(broker, topic, *partitions, isolation, expected));
    }
    got
}

// ------------------------------------------------------------------------------------------------
// librdkafka

/// Queues `PER_PARTITION` records of transaction `tag` for every partition of LAYOUT.
fn send_layout(producer: &BaseProducer, tag: &str) {
    for (topic, partitions) in LAYOUT {
        for p in 0..*partitions {
            for i in 0..PER_PARTITION {
                send(producer, topic, p, &value(tag, topic, p, i));
            }
        }
    }
}

/// Commit, abort, commit, each over both topics and all five partitions; then what each
/// isolation level reads, and the high watermark (three records and one marker per transaction).
#[test]
fn rdkafka_commit_and_abort_across_topics_and_partitions() {
    let broker = start_broker(&[]);
    for (topic, partitions) in LAYOUT {
        create_topic(&broker, topic, *partitions);
    }
    let producer = transactional_producer(&broker, "rdkafka-txn", &[]);

    producer.begin_transaction().unwrap();
    send_layout(&producer, "c1");
    producer
        .commit_transaction(CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("commit c1: {e}"));

    producer.begin_transaction().unwrap();
    send_layout(&producer, "ab");
    // Delivered before the abort, so the aborted records are in the logs: abort_transaction
    // alone would purge what is still queued.
    producer.flush(CLIENT_TIMEOUT).unwrap();
    producer
        .abort_transaction(CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("abort ab: {e}"));

    producer.begin_transaction().unwrap();
    send_layout(&producer, "c2");
    producer
        .commit_transaction(CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("commit c2: {e}"));

    let committed = read_layout(&broker, "read_committed", 2 * PER_PARTITION as usize);
    assert_eq!(
        committed,
        expected_layout(false),
        "read_committed: the committed records only, in order, at their offsets"
    );
    let uncommitted = read_layout(&broker, "read_uncommitted", 3 * PER_PARTITION as usize);
    assert_eq!(
        uncommitted,
        expected_layout(true),
        "read_uncommitted: every record, aborted ones included; markers are never returned"
    );

    let consumer: BaseConsumer = client_config(&broker)
        .set("group.id", "watermarks")
        .create()
        .unwrap();
    for (topic, partitions) in LAYOUT {
        for p in 0..*partitions {
            let (low, high) = consumer.fetch_watermarks(topic, p, CLIENT_TIMEOUT).unwrap();
            assert_eq!(
                (low, high),
                (0, 4 * PER_PARTITION),
                "{topic}-{p}: 9 records and 3 control records"
            );
        }
    }
}

/// A second producer with the same `transactional.id` fences the first: its open transaction is
/// aborted, and the first producer's next produce or commit fails with a fatal error.
#[test]
fn rdkafka_second_producer_with_same_transactional_id_fences_the_first() {
    let broker = start_broker(&[]);
    create_topic(&broker, "fence", 1);
    let first = transactional_producer(&broker, "fence-id", &[]);
    first.begin_transaction().unwrap();
    send(&first, "fence", 0, "first-1");
    first.flush(CLIENT_TIMEOUT).unwrap();

    // InitProducerId bumps the epoch and aborts first's transaction (the coordinator answers
    // CONCURRENT_TRANSACTIONS until the abort is complete; librdkafka retries).
    let second = transactional_producer(&broker, "fence-id", &[]);

    send(&first, "fence", 0, "first-2");
    let result = first.commit_transaction(CLIENT_TIMEOUT);
    let fatal = first.client().fatal_error();
    eprintln!("first producer: commit_transaction -> {result:?}; fatal_error -> {fatal:?}");
    match &result {
        Err(KafkaError::Transaction(e)) => assert!(e.is_fatal(), "not fatal: {e:?}"),
        other => panic!("commit by a fenced producer: {other:?}"),
    }
    // Kafka answers the old epoch's Produce with INVALID_PRODUCER_EPOCH; librdkafka makes that a
    // fatal `_FENCED` ("transactional producer fenced by newer producer instance").
    let (code, reason) = fatal.expect("the fenced producer has a fatal error");
    assert_eq!(code, RDKafkaErrorCode::Fenced, "{reason}");
    // A fatal producer refuses to start another transaction.
    assert!(first.begin_transaction().is_err());

    second.begin_transaction().unwrap();
    send(&second, "fence", 0, "second-1");
    second
        .commit_transaction(CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("commit by the new producer: {e}"));

    let key = ("fence".to_string(), 0);
    let committed = read_topic(&broker, "fence", 1, "read_committed", 1);
    assert_eq!(
        committed[&key],
        vec![(2, "second-1".to_string())],
        "first-1 (offset 0) was aborted (marker at 1); first-2 was never written"
    );
    let uncommitted = read_topic(&broker, "fence", 1, "read_uncommitted", 2);
    assert_eq!(
        uncommitted[&key],
        vec![(0, "first-1".to_string()), (2, "second-1".to_string())]
    );
}

/// An open transaction holds back `read_committed` readers, also from records written after it
/// outside any transaction, until the coordinator aborts it after `transaction.timeout.ms`; the
/// producer then learns it was fenced.
#[test]
fn rdkafka_open_transaction_holds_back_read_committed_until_it_times_out() {
    // Kafka looks for expired transactions every 10 s by default.
    let broker = start_broker(&[(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "500",
    )]);
    create_topic(&broker, "slow", 1);
    let key = ("slow".to_string(), 0);
    let producer =
        transactional_producer(&broker, "slow-id", &[("transaction.timeout.ms", "8000")]);
    let started = Instant::now();
    producer.begin_transaction().unwrap();
    for i in 0..3 {
        send(&producer, "slow", 0, &format!("open-{i}"));
    }
    producer.flush(CLIENT_TIMEOUT).unwrap();

    let plain: BaseProducer = client_config(&broker).create().unwrap();
    send(&plain, "slow", 0, "after");
    plain.flush(CLIENT_TIMEOUT).unwrap();

    let uncommitted = read_topic(&broker, "slow", 1, "read_uncommitted", 4);
    assert_eq!(
        uncommitted[&key],
        vec![
            (0, "open-0".to_string()),
            (1, "open-1".to_string()),
            (2, "open-2".to_string()),
            (3, "after".to_string()),
        ]
    );
    // While the transaction is open the last stable offset stays at 0: read_committed reaches
    // the end of the partition with nothing.
    let held = read_topic(&broker, "slow", 1, "read_committed", 0);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "too slow to observe the open transaction ({:?})",
        started.elapsed()
    );
    assert_eq!(
        held,
        Records::new(),
        "read_committed during the transaction"
    );

    // The coordinator aborts it once it is older than 8 s; the abort marker lands at offset 4.
    let mut released = Records::new();
    let done = wait_until(Duration::from_secs(40), || {
        released = read_topic(&broker, "slow", 1, "read_committed", 0);
        !released.is_empty()
    });
    assert!(done, "read_committed still held 40 s after the timeout");
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "released after {:?}, before the transaction timeout",
        started.elapsed()
    );
    assert_eq!(released[&key], vec![(3, "after".to_string())]);

    let result = producer.commit_transaction(CLIENT_TIMEOUT);
    let fatal = producer.client().fatal_error();
    eprintln!("timed-out producer: commit_transaction -> {result:?}; fatal_error -> {fatal:?}");
    // The coordinator bumped the epoch when it aborted; Kafka answers EndTxn with
    // INVALID_PRODUCER_EPOCH, which librdkafka reports as a fatal `_FENCED`.
    match &result {
        Err(KafkaError::Transaction(e)) => assert!(e.is_fatal(), "not fatal: {e:?}"),
        other => panic!("commit after the coordinator aborted the transaction: {other:?}"),
    }
    assert_eq!(fatal.map(|(code, _)| code), Some(RDKafkaErrorCode::Fenced));
}

// ------------------------------------------------------------------------------------------------
// confluent-kafka (Python, its own bundled librdkafka)

/// Commit, abort, commit over LAYOUT with a transactional producer, then what a read_committed
/// and a read_uncommitted consumer read: `{"read_committed": {"topic/p": [[offset, value]...]},
/// "read_uncommitted": {...}}`.
const PY_COMMIT_ABORT: &str = r#"
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition, KafkaError, OFFSET_BEGINNING
bootstrap, layout, per = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'python-txn'})
p.init_transactions(30)
def send(tag):
    for topic, n in layout:
        for part in range(n):
            for i in range(per):
                v = '%s-%s-%d-%d' % (tag, topic, part, i)
                p.produce(topic, key=v, value=v, partition=part)
p.begin_transaction(); send('c1'); p.commit_transaction(30)
# flush first: abort_transaction purges what is still queued
p.begin_transaction(); send('ab'); p.flush(30); p.abort_transaction(30)
p.begin_transaction(); send('c2'); p.commit_transaction(30)

def read(isolation, per_partition):
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'python-reader-' + isolation,
                  'enable.auto.commit': False, 'enable.partition.eof': True,
                  'isolation.level': isolation})
    tps = [TopicPartition(t, part, OFFSET_BEGINNING) for t, n in layout for part in range(n)]
    c.assign(tps)
    got, at_end, count = {}, set(), 0
    deadline = time.time() + 30
    while count < per_partition * len(tps) or len(at_end) < len(tps):
        if time.time() > deadline:
            raise SystemExit('%s: %d records, at the end of %s: %s' % (isolation, count, at_end, got))
        m = c.poll(0.2)
        if m is None:
            continue
        where = '%s/%d' % (m.topic(), m.partition())
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(where)
                continue
            raise SystemExit('%s: %s' % (isolation, m.error()))
        at_end.discard(where)
        got.setdefault(where, []).append([m.offset(), m.value().decode()])
        count += 1
    c.close()
    return got
print(json.dumps({'read_committed': read('read_committed', 2 * per),
                  'read_uncommitted': read('read_uncommitted', 3 * per)}))
"#;

/// Parses `{"topic/p": [[offset, value], ...]}`.
fn records_from_json(v: &Value) -> Records {
    let mut records = Records::new();
    for (where_, list) in v.as_object().expect("object") {
        let (topic, p) = where_.rsplit_once('/').unwrap();
        let list = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_i64().unwrap(), r[1].as_str().unwrap().to_string()))
            .collect();
        records.insert((topic.to_string(), p.parse().unwrap()), list);
    }
    records
}

/// The last line of a Python script's stdout, as JSON.
#[track_caller]
fn python_json(out: &std::process::Output, what: &str) -> Value {
    let text = assert_success(out, what);
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{what}: {e}: {text}\n{}", stderr_of(out)))
}

#[test]
fn confluent_kafka_commit_and_abort_across_topics_and_partitions() {
    let broker = start_broker(&[]);
    for (topic, partitions) in LAYOUT {
        create_topic(&broker, topic, *partitions);
    }
    let layout = serde_json::to_string(LAYOUT).unwrap();
    let out = python(
        PY_COMMIT_ABORT,
        &[&broker.bootstrap(), &layout, &PER_PARTITION.to_string()],
    );
    let v = python_json(&out, "confluent-kafka transactions");
    assert_eq!(
        records_from_json(&v["read_committed"]),
        expected_layout(false),
        "read_committed"
    );
    assert_eq!(
        records_from_json(&v["read_uncommitted"]),
        expected_layout(true),
        "read_uncommitted"
    );
}

/// Consume-transform-produce: a group member reads `ctp-in`, writes `out-...` records to
/// `ctp-out` and commits its consumed offsets inside the transaction
/// (`send_offsets_to_transaction`). The first transaction is aborted: the group's committed
/// offsets do not move, and a restarted member reads everything again. The second commits: the
/// offsets move with it, and a restarted member finds nothing left to read.
/// Prints `{"open": [...], "aborted": [...], "before_commit": [...], "committed": [...],
/// "first_read": n, "second_read": n, "after_commit_read": n, "stable": [...]}`, offsets per
/// partition of `ctp-in` (-1: none committed).
const PY_CONSUME_TRANSFORM_PRODUCE: &str = r#"
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition
bootstrap, partitions, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src, dst, group = 'ctp-in', 'ctp-out', 'ctp-group'
def log(*a): print(*a, file=sys.stderr, flush=True)

plain = Producer({'bootstrap.servers': bootstrap})
for part in range(partitions):
    for i in range(per):
        plain.produce(src, value='in-%d-%d' % (part, i), partition=part)
assert plain.flush(30) == 0

def member():
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False,
                  'auto.offset.reset': 'earliest', 'isolation.level': 'read_committed'})
    c.subscribe([src])
    return c

def consume(c, n, seconds):
    got, deadline = [], time.time() + seconds
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            raise SystemExit(str(m.error()))
        got.append(m)
    return got

def committed(isolation='read_uncommitted'):
    # Outside the group (never subscribes). read_uncommitted: OffsetFetch without require_stable,
    # so the broker answers with what is committed now instead of waiting for open transactions.
    ch = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False,
                   'isolation.level': isolation})
    res = ch.committed([TopicPartition(src, part) for part in range(partitions)], timeout=20)
    ch.close()
    return [max(tp.offset, -1) for tp in res]

p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'ctp-txn'})
p.init_transactions(30)
out = {}

def transform(c, msgs):
    p.begin_transaction()
    for m in msgs:
        p.produce(dst, value=m.value().decode().replace('in-', 'out-'), partition=m.partition())
    p.flush(30)
    positions = c.position(c.assignment())
    log('positions', [(tp.partition, tp.offset) for tp in positions])
    p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 30)

c = member()
msgs = consume(c, partitions * per, 40)
out['first_read'] = len(msgs)
transform(c, msgs)
out['open'] = committed()
p.abort_transaction(30)
out['aborted'] = committed()
c.close()

c = member()
msgs = consume(c, partitions * per, 40)
out['second_read'] = len(msgs)
transform(c, msgs)
out['before_commit'] = committed()
p.commit_transaction(30)
out['committed'] = committed()
c.close()

c = member()
out['after_commit_read'] = len(consume(c, 1, 5))
# require_stable (read_committed): nothing pending any more
out['stable'] = committed('read_committed')
c.close()
print(json.dumps(out))
"#;

#[test]
fn confluent_kafka_consume_transform_produce_commits_offsets_with_the_transaction() {
    let broker = start_broker(&[]);
    let (partitions, per) = (2, 10);
    create_topic(&broker, "ctp-in", partitions);
    create_topic(&broker, "ctp-out", partitions);
    let out = python(
        PY_CONSUME_TRANSFORM_PRODUCE,
        &[
            &broker.bootstrap(),
            &partitions.to_string(),
            &per.to_string(),
        ],
    );
    let v = python_json(&out, "consume-transform-produce");
    let none = serde_json::json!([-1, -1]);
    let ends = serde_json::json!([per, per]);
    assert_eq!(v["first_read"], partitions * per, "{v}");
    assert_eq!(
        v["open"], none,
        "pending transactional offsets are not committed: {v}"
    );
    assert_eq!(
        v["aborted"], none,
        "an aborted transaction commits no offsets: {v}"
    );
    assert_eq!(
        v["second_read"],
        partitions * per,
        "a new member re-reads everything after the abort: {v}"
    );
    assert_eq!(v["before_commit"], none, "{v}");
    assert_eq!(
        v["committed"], ends,
        "the commit moves the group's offsets: {v}"
    );
    assert_eq!(
        v["after_commit_read"], 0,
        "nothing left after the commit: {v}"
    );
    assert_eq!(v["stable"], ends, "{v}");

    // The aborted run took offsets 0..10 and its marker 10; the committed one 11..21.
    let committed = read_topic(&broker, "ctp-out", partitions, "read_committed", 20);
    let uncommitted = read_topic(&broker, "ctp-out", partitions, "read_uncommitted", 40);
    for p in 0..partitions {
        let key = ("ctp-out".to_string(), p);
        let outputs: Vec<String> = (0..per).map(|i| format!("out-{p}-{i}")).collect();
        let at = |first: i64| -> Vec<(i64, String)> {
            outputs
                .iter()
                .enumerate()
                .map(|(i, v)| (first + i as i64, v.clone()))
                .collect()
        };
        assert_eq!(
            committed[&key],
            at(per as i64 + 1),
            "read_committed ctp-out-{p}"
        );
        let mut both = at(0);
        both.extend(at(per as i64 + 1));
        assert_eq!(uncommitted[&key], both, "read_uncommitted ctp-out-{p}");
    }
}

// ------------------------------------------------------------------------------------------------
// Kafka Streams (the demo and its checks: tests/support/streams.rs)

/// WordCountDemo with exactly_once_v2: exact counts, then the same after a SIGKILL while input is
/// arriving and a restart (the restarted instance aborts the dead one's transaction, restores its
/// store from the changelog with read_committed and resumes from the offsets committed in the
/// last committed transaction).
#[test]
fn kafka_streams_word_count_exactly_once_survives_kill9() {
    let broker = start_broker(&[]);
    create_topic(&broker, WORDS_IN, 2);
    create_topic(&broker, COUNTS_OUT, 2);
    let dir = tempfile::tempdir().unwrap();
    write_demo_config(
        dir.path(),
        &broker.bootstrap(),
        "replication.factor=1\nrepartition.purge.interval.ms=1000\n",
    );
    let test_started = Instant::now();

    let mut streams = word_count_demo(dir.path(), "streams-1");
    wait_running(&mut streams, Duration::from_secs(120));
    let first = text_lines(0, 40);
    let mut truth = BTreeMap::new();
    add_counts(&mut truth, &first);
    produce_lines(&broker.bootstrap(), &first);
    let updates = wait_counts(
        &broker.bootstrap(),
        &truth,
        &mut streams,
        Duration::from_secs(60),
    );
    assert_each_count_once(&updates, &truth);

    // A slow producer (one line every 40 ms, over 10 s); SIGKILL the Streams process while it has
    // an open transaction with updates in the output topic (last stable offset below the high
    // watermark) and more input is still arriving. A commit every second (EOS's default is
    // 100 ms) makes such a moment easy to catch, and the race with the next commit rare.
    let second = text_lines(40, 250);
    let SlowInput {
        producer: mut slow,
        started: slow_started,
        uncommitted: uncommitted_reader,
        committed: committed_reader,
        ..
    } = slow_input_until_open_transaction(
        dir.path(),
        &broker.bootstrap(),
        &second,
        &mut streams,
        2,
        Duration::from_secs(60),
    );
    let open = || in_open_transaction(&uncommitted_reader, &committed_reader, 2);
    let input_still_arriving = slow.is_running();
    streams.kill9();
    // Normally the transaction caught open above; 0 if the kill raced its commit.
    let open_at_kill = open();
    eprintln!(
        "SIGKILLed streams-1 {:?} after starting the slow producer, {open_at_kill} updates in \
         its open transaction (input still arriving: {input_still_arriving})",
        slow_started.elapsed()
    );
    wait_slow_producer(&mut slow, slow_started, Duration::from_secs(60));
    add_counts(&mut truth, &second);

    let mut streams = word_count_demo(dir.path(), "streams-2");
    wait_running(&mut streams, Duration::from_secs(120));
    let third = text_lines(290, 40);
    add_counts(&mut truth, &third);
    produce_lines(&broker.bootstrap(), &third);
    let input = input_lines(&broker.bootstrap());
    let mut produced: Vec<String> = first.iter().chain(&second).chain(&third).cloned().collect();
    produced.sort();
    assert!(input == produced, "the input topic holds every line once");
    let updates = wait_counts(
        &broker.bootstrap(),
        &truth,
        &mut streams,
        Duration::from_secs(90),
    );
    assert_each_count_once(&updates, &truth);

    // The quickstart's reader: the console consumer, read_committed, Long values.
    let total: i64 = truth.values().sum();
    let out = kafka_tool_timeout(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--topic",
            COUNTS_OUT,
            "--from-beginning",
            "--isolation-level",
            "read_committed",
            "--max-messages",
            &total.to_string(),
            "--timeout-ms",
            "20000",
            "--property",
            "print.key=true",
            "--property",
            "key.deserializer=org.apache.kafka.common.serialization.StringDeserializer",
            "--property",
            "value.deserializer=org.apache.kafka.common.serialization.LongDeserializer",
        ],
        None,
        Duration::from_secs(90),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = assert_success(&out, "kafka-console-consumer.sh");
    let mut console: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in text.lines() {
        let (word, count) = line.split_once('\t').expect("word<TAB>count");
        console
            .entry(word.to_string())
            .or_default()
            .push(count.parse().unwrap());
    }
    assert_each_count_once(&console, &truth);

    // What the kill left behind: updates of aborted transactions, visible to read_uncommitted.
    let uncommitted: usize = word_updates(&broker.bootstrap(), "read_uncommitted")
        .values()
        .map(Vec::len)
        .sum();
    let internal = stdout_of(&topics(&broker, &["--list"]));
    eprintln!(
        "{total} committed updates, {uncommitted} read_uncommitted; topics: {:?}; whole test {:?}",
        internal.lines().collect::<Vec<_>>(),
        test_started.elapsed()
    );
    assert!(
        uncommitted as i64 >= total + open_at_kill,
        "the updates of the killed transaction ({open_at_kill}) were aborted, not committed"
    );
    let ours: Vec<&str> = internal
        .lines()
        .filter(|t| t.starts_with(APPLICATION_ID) && *t != COUNTS_OUT)
        .collect();
    let repartition = ours.iter().find(|t| t.ends_with("-repartition"));
    assert!(
        repartition.is_some() && ours.iter().any(|t| t.ends_with("-changelog")),
        "Streams' internal topics: {ours:?}"
    );
    // Streams deletes the repartition records it has committed past (DeleteRecords, every
    // repartition.purge.interval.ms).
    let consumer: BaseConsumer = client_config(&broker)
        .set("group.id", "watermarks")
        .create()
        .unwrap();
    let purged = wait_until(Duration::from_secs(30), || {
        (0..2).any(|p| {
            consumer
                .fetch_watermarks(repartition.unwrap(), p, CLIENT_TIMEOUT)
                .is_ok_and(|(low, _)| low > 0)
        })
    });
    assert!(purged, "no repartition records deleted\n{}", streams.dump());
    streams.kill9();
}
