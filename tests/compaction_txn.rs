//! Log compaction meets transactions and the internal topics (issue 5, points 5 and 6), with
//! real clients: librdkafka (the `rdkafka` crate) produces and commits, kcat reads at both
//! isolation levels, and the stock `kafka-configs.sh`, `kafka-consumer-groups.sh` and
//! `kafka-transactions.sh` configure and describe.
//!
//! - Transactional data on a compacted topic: once cleaned, aborted records are gone for
//!   `read_uncommitted` readers too, the latest committed value of every key stays at its
//!   offset, and `read_committed` readers see the same. Data of a transaction still open when
//!   the cleaner runs is not touched (nor are the older values of the keys it rewrites) until
//!   the transaction is complete; a transaction left open and then aborted loses its records
//!   and takes no committed value with it.
//! - `__consumer_offsets` and `__transaction_state` are compacted like any compacted topic once
//!   their segments roll (`segment.ms`, altered live with `kafka-configs.sh`): hundreds of
//!   offset commits or transactions shrink to a handful of records, and after a clean restart
//!   and after a kill -9 the group's committed offsets and the transactional id's producer id,
//!   epoch and state are exactly what they were; a new producer with that id initialises.
//!   (Milena's AlterConfigs accepts topic configs for the internal topics, as Kafka does; there
//!   is no `offsets.topic.segment.bytes`-like broker property, and `segment.bytes` cannot go
//!   below 1 MiB, so segments roll on `segment.ms`.)
//!
//! Every test passes against Apache Kafka 4.1 with `MILENA_TEST_REFERENCE=1`, the ignored one
//! included: it shows a Milena cleaner bug (see its `ignore` reason).

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use support::*;

/// A single node with transactions (Kafka's defaults want three replicas), a cleaner that looks
/// every 200 ms, and one partition per internal topic so a test knows which one to watch.
const PROPS: &[(&str, &str)] = &[
    ("transaction.state.log.replication.factor", "1"),
    ("transaction.state.log.min.isr", "1"),
    ("transaction.state.log.num.partitions", "1"),
    ("offsets.topic.num.partitions", "1"),
    ("group.initial.rebalance.delay.ms", "0"),
    ("log.cleaner.backoff.ms", "200"),
];

/// Topic configs that make a log cleanable within test time (segment.bytes cannot go below
/// 1 MiB, so segments roll on time: at the first append 100 ms after a segment's first).
const QUICK_COMPACT: &str =
    "segment.ms=100,min.cleanable.dirty.ratio=0.01,delete.retention.ms=1000";
/// Longer than segment.ms: the next append rolls the segment.
const ROLL: Duration = Duration::from_millis(150);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
const CLEAN_TIMEOUT: Duration = Duration::from_secs(40);

// ------------------------------------------------------------------------------------------------
// Clients

/// `(offset, key, value)` of a record the broker acked, or why it was not.
type Report = Result<(i64, String, String), String>;

/// Delivery reports of a producer, in arrival order.
#[derive(Clone, Default)]
struct Delivered(Arc<Mutex<Vec<Report>>>);

impl ClientContext for Delivered {}

impl ProducerContext for Delivered {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
        let entry = match result {
            Ok(m) => Ok((m.offset(), text(m.key()), text(m.payload()))),
            Err((e, m)) => Err(format!("{}: {e}", text(m.key()))),
        };
        self.0.lock().unwrap().push(entry);
    }
}

impl Delivered {
    /// The reports so far, emptied; panics on a failed delivery.
    #[track_caller]
    fn take(&self) -> Vec<(i64, String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("delivery failed: {e}")))
            .collect()
    }
}

struct TxnProducer {
    producer: BaseProducer<Delivered>,
    delivered: Delivered,
}

impl TxnProducer {
    /// A librdkafka producer with `transactional.id`, after `init_transactions`.
    #[track_caller]
    fn new(broker: &Broker, id: &str) -> TxnProducer {
        let delivered = Delivered::default();
        let producer: BaseProducer<Delivered> = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("transactional.id", id)
            .set("transaction.timeout.ms", "60000")
            .set("linger.ms", "0")
            .create_with_context(delivered.clone())
            .expect("create transactional producer");
        producer
            .init_transactions(CLIENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("init_transactions({id}): {e}"));
        TxnProducer {
            producer,
            delivered,
        }
    }

    #[track_caller]
    fn begin(&self) {
        self.producer.begin_transaction().unwrap();
    }

    /// Writes `(key, value)` records to partition 0 of `topic` in the current transaction;
    /// returns them as delivered, `(offset, key, value)`.
    #[track_caller]
    fn write(&self, topic: &str, records: &[(String, String)]) -> Vec<(i64, String, String)> {
        for (k, v) in records {
            self.producer
                .send(
                    BaseRecord::<str, str>::to(topic)
                        .partition(0)
                        .key(k)
                        .payload(v),
                )
                .unwrap_or_else(|(e, _)| panic!("queue {k}: {e}"));
        }
        // Delivered before the transaction ends (abort_transaction alone would purge what is
        // still queued), and the delivery reports served.
        self.producer.flush(CLIENT_TIMEOUT).unwrap();
        let delivered = self.delivered.take();
        assert_eq!(delivered.len(), records.len(), "{delivered:?}");
        delivered
    }

    #[track_caller]
    fn commit(&self) {
        self.producer
            .commit_transaction(CLIENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("commit_transaction: {e}"));
    }

    #[track_caller]
    fn abort(&self) {
        self.producer
            .abort_transaction(CLIENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("abort_transaction: {e}"));
    }

    /// One committed transaction of `records`; returns them as delivered.
    #[track_caller]
    fn committed(&self, topic: &str, records: &[(String, String)]) -> Vec<(i64, String, String)> {
        self.begin();
        let delivered = self.write(topic, records);
        self.commit();
        delivered
    }
}

/// `(prefix<i>, <tag>-<prefix><i>)` for i in `range`.
fn keyed(prefix: &str, tag: &str, range: std::ops::Range<usize>) -> Vec<(String, String)> {
    range
        .map(|i| (format!("{prefix}{i}"), format!("{tag}-{prefix}{i}")))
        .collect()
}

/// A record as kcat reads it: (offset, key, value).
type Read = (i64, String, String);

/// Partition 0 of `topic` from the beginning to the end (the last stable offset for
/// `read_committed`), as kcat reads it at `isolation`.
fn read(broker: &Broker, topic: &str, isolation: &str) -> Vec<Read> {
    let out = kcat(&[
        "-C",
        "-b",
        &broker.bootstrap(),
        "-t",
        topic,
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-q",
        "-X",
        &format!("isolation.level={isolation}"),
        "-f",
        "%o\t%k\t%s\n",
    ]);
    let text = assert_success(&out, "kcat -C");
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t');
            let offset = parts.next().unwrap().parse().unwrap();
            let key = parts.next().unwrap().to_string();
            (offset, key, parts.next().unwrap_or("").to_string())
        })
        .collect()
}

/// How many records partition 0 of an internal topic holds, as kcat reads them.
fn count_records(broker: &Broker, topic: &str) -> usize {
    let out = kcat(&[
        "-C",
        "-b",
        &broker.bootstrap(),
        "-t",
        topic,
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%o\n",
    ]);
    assert_success(&out, "kcat -C").lines().count()
}

/// The high watermark of partition 0 of `topic`.
fn end_offset(broker: &Broker, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    consumer
        .fetch_watermarks(topic, 0, CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("watermarks of {topic}: {e}"))
        .1
}

/// Number of `.log` segment files and their total size in a partition directory.
fn segments_on_disk(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().ends_with(".log") {
            files += 1;
            bytes += entry.metadata().unwrap().len();
        }
    }
    (files, bytes)
}

/// `kafka-configs.sh --alter --entity-type topics --entity-name <topic> --add-config <configs>`.
#[track_caller]
fn alter_topic(broker: &Broker, topic: &str, configs: &str) {
    let bootstrap = broker.bootstrap();
    let out = kafka_tool(
        "kafka-configs.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            topic,
            "--add-config",
            configs,
        ],
    );
    assert_success(&out, &format!("kafka-configs.sh --alter {topic}"));
}

/// Creates a one-partition topic with `cleanup.policy=compact` and QUICK_COMPACT.
#[track_caller]
fn create_compacted(broker: &Broker, topic: &str) {
    let mut create = vec![
        "--create",
        "--topic",
        topic,
        "--partitions",
        "1",
        "--replication-factor",
        "1",
        "--config",
        "cleanup.policy=compact",
    ];
    for c in QUICK_COMPACT.split(',') {
        create.extend(["--config", c]);
    }
    assert_success(&topics(broker, &create), "kafka-topics.sh --create");
}

/// Latest `(offset, value)` per key of committed records, as `Read`s in offset order.
fn latest(committed: &[(i64, String, String)]) -> Vec<Read> {
    let mut by_key: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
    for (offset, key, value) in committed {
        let slot = by_key.entry(key).or_insert((*offset, value));
        if *offset >= slot.0 {
            *slot = (*offset, value);
        }
    }
    let mut out: Vec<Read> = by_key
        .into_iter()
        .map(|(k, (o, v))| (o, k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

/// What `got` has that `want` lacks and the reverse.
fn diff(got: &[Read], want: &[Read]) -> String {
    let extra: Vec<&Read> = got.iter().filter(|r| !want.contains(r)).collect();
    let missing: Vec<&Read> = want.iter().filter(|r| !got.contains(r)).collect();
    format!("read but not wanted {extra:?}; wanted but not read {missing:?}")
}

// ------------------------------------------------------------------------------------------------
// Point 5: transactional data on a compacted topic

#[test]
fn cleaner_removes_aborted_data_keeps_committed_and_waits_for_open_transactions() {
    let broker = Broker::start_with(PROPS);
    let topic = "ledger";
    create_compacted(&broker, topic);

    let main = TxnProducer::new(&broker, "ledger-main");
    // Every committed record, with its offset: what the latest values are computed from.
    let mut committed = Vec::new();
    committed.extend(main.committed(topic, &keyed("k", "c1", 0..10)));
    std::thread::sleep(ROLL);
    // An aborted transaction over three segments: new values of committed keys, and keys that
    // never get a committed value. (By another producer: for the same producer, see
    // `committed_data_after_an_aborted_transaction_of_its_producer_is_compacted`.)
    let aborter = TxnProducer::new(&broker, "ledger-aborter");
    aborter.begin();
    let mut aborted = aborter.write(topic, &keyed("k", "ab", 0..5));
    std::thread::sleep(ROLL);

    // Meanwhile two more transactions begin and stay open: one will commit, one will abort.
    // Both rewrite a committed key.
    let open = TxnProducer::new(&broker, "ledger-open");
    let mut open_records = keyed("o", "open", 0..5);
    open_records.push(("k1".into(), "open-k1".into()));
    open.begin();
    let open_delivered = open.write(topic, &open_records);
    let doomed = TxnProducer::new(&broker, "ledger-doomed");
    doomed.begin();
    let doomed_delivered = doomed.write(
        topic,
        &[
            ("k2".into(), "doomed-k2".into()),
            ("d0".into(), "doomed-d0".into()),
        ],
    );
    std::thread::sleep(ROLL);
    aborted.extend(aborter.write(topic, &keyed("n", "ab", 0..5)));
    aborter.abort();
    std::thread::sleep(ROLL);
    // Committed data after them, rolling segments.
    committed.extend(main.committed(topic, &keyed("k", "c2", 5..10)));
    std::thread::sleep(ROLL);
    for round in 0..3 {
        committed.extend(main.committed(topic, &keyed("m", &format!("c3.{round}"), 0..5)));
        std::thread::sleep(ROLL);
    }

    // The aborted transaction ended after the open ones began, so the pass that removes its
    // first records (below the open transactions' data) runs while they are open.
    let mut now = Vec::new();
    let cleaned = wait_until(CLEAN_TIMEOUT, || {
        now = read(&broker, topic, "read_uncommitted");
        !now.iter()
            .any(|(_, k, v)| k.starts_with('k') && v.starts_with("ab-"))
    });
    assert!(
        cleaned,
        "aborted records still read: {now:?}\n{}",
        broker.log()
    );
    let now = read(&broker, topic, "read_uncommitted");
    let has = |offset: i64, value: &str| now.iter().any(|(o, _, v)| *o == offset && v == value);
    for (offset, _, value) in open_delivered.iter().chain(&doomed_delivered) {
        assert!(
            has(*offset, value),
            "undecided record {value}@{offset} removed while its transaction is open: {now:?}"
        );
    }
    // The committed values the open transactions rewrite stay too: an undecided value is not
    // the latest of its key yet.
    for value in ["c1-k1", "c1-k2"] {
        let offset = committed.iter().find(|r| r.2 == value).unwrap().0;
        assert!(
            has(offset, value),
            "{value}@{offset} removed while a transaction rewriting its key is open: {now:?}"
        );
    }

    open.commit();
    committed.extend(open_delivered);
    doomed.abort();
    std::thread::sleep(ROLL);
    // A new key in a new segment: everything before it is sealed and decided, so cleanable.
    committed.extend(main.committed(topic, &[("end".into(), "the-end".into())]));

    let want = latest(&committed);
    let mut uncommitted = Vec::new();
    let done = wait_until(CLEAN_TIMEOUT, || {
        uncommitted = read(&broker, topic, "read_uncommitted");
        uncommitted == want
    });
    assert!(
        done,
        "read_uncommitted after cleaning differs from the latest committed value of every key \
         at its offset: {}\naborted: {aborted:?}\n{}",
        diff(&uncommitted, &want),
        broker.log()
    );
    let committed_read = read(&broker, topic, "read_committed");
    assert!(
        committed_read == want,
        "read_committed differs from the latest committed values: {}",
        diff(&committed_read, &want)
    );
    // Gaps, not renumbered records.
    assert!(want.windows(2).any(|w| w[1].0 > w[0].0 + 1));
}

/// A transactional producer that aborted a transaction keeps writing: its later committed values
/// must replace its earlier ones once cleaned, also when the abort lies in the part of the log a
/// previous pass already cleaned (the usual case for a long-running producer, e.g. a Kafka
/// Streams changelog under exactly-once).
#[test]
fn committed_data_after_an_aborted_transaction_of_its_producer_is_compacted() {
    let broker = Broker::start_with(PROPS);
    let topic = "resumed";
    create_compacted(&broker, topic);
    let producer = TxnProducer::new(&broker, "resumed-producer");
    let mut committed = producer.committed(topic, &keyed("k", "first", 0..5));
    std::thread::sleep(ROLL);
    producer.begin();
    producer.write(topic, &keyed("k", "aborted", 0..5));
    producer.abort();
    std::thread::sleep(ROLL);
    // Seals the abort marker's segment; then a pass cleans up to here (the aborted records go).
    committed.extend(producer.committed(topic, &[("a".into(), "a".into())]));
    let mut now = Vec::new();
    let passed = wait_until(CLEAN_TIMEOUT, || {
        now = read(&broker, topic, "read_uncommitted");
        !now.iter().any(|(_, _, v)| v.starts_with("aborted-"))
    });
    assert!(
        passed,
        "aborted records still read: {now:?}\n{}",
        broker.log()
    );

    // The same producer replaces every value; the first ones must go.
    std::thread::sleep(ROLL);
    committed.extend(producer.committed(topic, &keyed("k", "second", 0..5)));
    std::thread::sleep(ROLL);
    committed.extend(producer.committed(topic, &[("end".into(), "end".into())]));
    let want = latest(&committed);
    let done = wait_until(Duration::from_secs(15), || {
        now = read(&broker, topic, "read_uncommitted");
        now == want
    });
    assert!(
        done,
        "not compacted: {}\n{}",
        diff(&now, &want),
        broker.log()
    );
}

// ------------------------------------------------------------------------------------------------
// Point 6: the internal topics are compacted

/// `kafka-consumer-groups.sh --describe --group G`: (topic, partition) -> CURRENT-OFFSET.
fn committed_offsets(broker: &Broker, group: &str) -> BTreeMap<(String, i32), i64> {
    let bootstrap = broker.bootstrap();
    let out = kafka_tool(
        "kafka-consumer-groups.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--group",
            group,
        ],
    );
    let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() >= 4 && c[0] == group && c[2].parse::<i32>().is_ok())
        .map(|c| {
            let offset = c[3]
                .parse::<i64>()
                .unwrap_or_else(|_| panic!("CURRENT-OFFSET of {c:?}\n{text}"));
            ((c[1].to_string(), c[2].parse().unwrap()), offset)
        })
        .collect()
}

/// Commits `offsets(i)` for i in `range`, one synchronous OffsetCommit each, a few ms apart
/// (so the commits span many 100 ms segments). Returns the last commit.
fn commit_many(
    consumer: &BaseConsumer,
    topic: &str,
    range: std::ops::RangeInclusive<i64>,
) -> BTreeMap<(String, i32), i64> {
    let mut last = BTreeMap::new();
    for i in range {
        let mut tpl = TopicPartitionList::new();
        for (p, offset) in [(0, i), (1, 2 * i)] {
            tpl.add_partition_offset(topic, p, Offset::Offset(offset))
                .unwrap();
            last.insert((topic.to_string(), p), offset);
        }
        consumer
            .commit(&tpl, CommitMode::Sync)
            .unwrap_or_else(|e| panic!("commit {i}: {e}"));
        std::thread::sleep(Duration::from_millis(3));
    }
    last
}

/// Commits `offsets` once more after a roll, so every earlier commit is in a sealed segment.
fn commit_after_roll(consumer: &BaseConsumer, offsets: &BTreeMap<(String, i32), i64>) {
    std::thread::sleep(ROLL);
    let mut tpl = TopicPartitionList::new();
    for ((topic, p), offset) in offsets {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*offset))
            .unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

/// Waits until partition 0 of internal `topic` holds at most `most` records.
#[track_caller]
fn wait_compacted(broker: &Broker, topic: &str, most: usize) -> usize {
    let mut count = usize::MAX;
    let done = wait_until(CLEAN_TIMEOUT, || {
        count = count_records(broker, topic);
        count <= most
    });
    assert!(
        done,
        "{topic} still holds {count} records (end offset {}), {:?} on disk\n{}",
        end_offset(broker, topic),
        segments_on_disk(&broker.log_dir().join(format!("{topic}-0"))),
        broker.log()
    );
    count
}

#[test]
fn consumer_offsets_are_compacted_and_survive_restarts() {
    let mut broker = Broker::start_with(PROPS);
    let topic = "events";
    assert_success(
        &topics(
            &broker,
            &["--create", "--topic", topic, "--partitions", "2"],
        ),
        "kafka-topics.sh --create",
    );
    let group = "compacted-group";
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    // The first commit creates __consumer_offsets (compact, 100 MiB segments); then it gets
    // segments that roll on time, so the cleaner gets to it in test time.
    commit_many(&consumer, topic, 0..=0);
    alter_topic(&broker, "__consumer_offsets", QUICK_COMPACT);

    let started = Instant::now();
    let want = commit_many(&consumer, topic, 1..=300);
    eprintln!("300 commits in {:?}", started.elapsed());
    commit_after_roll(&consumer, &want);
    let end = end_offset(&broker, "__consumer_offsets");
    assert!(end >= 602, "two records per commit: end offset {end}");
    let dir = broker.log_dir().join("__consumer_offsets-0");
    // The cleaned part keeps one record per key (group, topic, partition); the active segment
    // the last commit.
    let left = wait_compacted(&broker, "__consumer_offsets", 10);
    let (files, bytes) = segments_on_disk(&dir);
    eprintln!(
        "__consumer_offsets-0: {left} of {end} records left, {files} segments, {bytes} bytes"
    );
    assert!(
        bytes < 4096,
        "{files} segments, {bytes} bytes for {left} records"
    );
    assert_eq!(committed_offsets(&broker, group), want);

    drop(consumer);
    broker.restart();
    assert_eq!(
        committed_offsets(&broker, group),
        want,
        "after a clean restart"
    );

    // More commits on top of the clean head, cleaned again, then a crash.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let want = commit_many(&consumer, topic, 301..=400);
    commit_after_roll(&consumer, &want);
    wait_compacted(&broker, "__consumer_offsets", 10);
    drop(consumer);
    broker.kill9();
    broker.start_again();
    assert_eq!(
        committed_offsets(&broker, group),
        want,
        "after kill -9 and a new start"
    );
}

/// `kafka-transactions.sh describe --transactional-id ID`: column name -> value.
fn describe_txn(broker: &Broker, id: &str) -> BTreeMap<String, String> {
    let bootstrap = broker.bootstrap();
    let out = kafka_tool(
        "kafka-transactions.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "describe",
            "--transactional-id",
            id,
        ],
    );
    let text = assert_success(&out, "kafka-transactions.sh describe");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split('\t')
        .map(|c| c.trim().to_string())
        .collect();
    let row: Vec<String> = lines
        .next()
        .unwrap_or_else(|| panic!("no row in\n{text}"))
        .split('\t')
        .map(|c| c.trim().to_string())
        .collect();
    header
        .into_iter()
        .zip(row)
        .filter(|(h, _)| !h.is_empty())
        .collect()
}

/// The fields of a describe that a restart must not change.
fn txn_identity(d: &BTreeMap<String, String>) -> (String, String, String) {
    (
        d["ProducerId"].clone(),
        d["ProducerEpoch"].clone(),
        d["TransactionState"].clone(),
    )
}

#[test]
fn transaction_state_is_compacted_and_survives_restarts() {
    let mut broker = Broker::start_with(PROPS);
    let topic = "txn-data";
    assert_success(
        &topics(
            &broker,
            &["--create", "--topic", topic, "--partitions", "1"],
        ),
        "kafka-topics.sh --create",
    );
    let id = "many-txns";
    let producer = TxnProducer::new(&broker, id);
    alter_topic(&broker, "__transaction_state", QUICK_COMPACT);

    let started = Instant::now();
    let n = 80;
    for i in 0..n {
        producer.committed(topic, &[(format!("key{i}"), format!("value{i}"))]);
    }
    eprintln!("{n} transactions in {:?}", started.elapsed());
    // One more after a roll: every earlier state record is in a sealed segment.
    std::thread::sleep(ROLL);
    producer.committed(topic, &[(format!("key{n}"), format!("value{n}"))]);
    let end = end_offset(&broker, "__transaction_state");
    assert!(
        end > 2 * n as i64,
        "state records per transaction: end offset {end}"
    );
    // The cleaned part keeps the last state of the one transactional id; the active segment
    // the last transaction's few.
    let left = wait_compacted(&broker, "__transaction_state", 10);
    let dir = broker.log_dir().join("__transaction_state-0");
    let (files, bytes) = segments_on_disk(&dir);
    eprintln!(
        "__transaction_state-0: {left} of {end} records left, {files} segments, {bytes} bytes"
    );
    assert!(
        bytes < 4096,
        "{files} segments, {bytes} bytes for {left} records"
    );

    let before = describe_txn(&broker, id);
    assert_eq!(before["TransactionState"], "CompleteCommit", "{before:?}");
    drop(producer);
    broker.restart();
    let after = describe_txn(&broker, id);
    assert_eq!(
        txn_identity(&after),
        txn_identity(&before),
        "after a clean restart"
    );
    broker.kill9();
    broker.start_again();
    let after = describe_txn(&broker, id);
    assert_eq!(txn_identity(&after), txn_identity(&before), "after kill -9");

    // The id carries on: same producer id, next epoch, and its transactions commit.
    let producer = TxnProducer::new(&broker, id);
    let next = describe_txn(&broker, id);
    assert_eq!(next["ProducerId"], before["ProducerId"], "{next:?}");
    let epoch = |d: &BTreeMap<String, String>| d["ProducerEpoch"].parse::<i64>().unwrap();
    assert_eq!(epoch(&next), epoch(&before) + 1, "{next:?}");
    producer.committed(topic, &[("after".into(), "restart".into())]);
    let mut got = Vec::new();
    let all = wait_until(Duration::from_secs(10), || {
        got = read(&broker, topic, "read_committed");
        got.len() == n + 2
    });
    assert!(all, "read_committed: {got:?}");
    assert_eq!(got.last().unwrap().2, "restart");
}
