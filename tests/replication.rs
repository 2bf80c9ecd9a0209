//! Cluster II (issue 13): replication, ISR and failover with no acknowledged record lost. Three
//! nodes in KRaft combined mode (`tests/support/cluster.rs`), librdkafka (the `rdkafka` crate)
//! producing and consuming from inside the test, the stock Kafka tools for describe and configs,
//! and the Jepsen-style checker of `tests/support/checker.rs` for the verdict.
//!
//! - `rf3_topic_is_replicated_to_every_replica`: 3 partitions, RF 3, topic
//!   `min.insync.replicas=2`; 3000 records from an idempotent acks=all producer (25 per batch);
//!   a fresh consumer through each node alone reads exactly the acknowledged (partition, offset,
//!   value)s; at rest the ISRs are full and every replica's `<log.dirs>/<topic>-<p>/*.log` holds
//!   the same batches byte for byte, and the same segment files.
//! - `leader_kill_under_acks_all_load_loses_nothing`: 1 partition, RF 3, min.insync.replicas=2;
//!   an idempotent acks=all producer thread (`v-<seq>`, ~500/s); kill -9 the leader; a new leader
//!   from the old ISR, the victim out of the ISR; acks go on for records sent after that; restart
//!   the victim, full ISR again; then the checker over three final reads and the replica logs
//!   byte-identical below the high watermark.
//! - `min_insync_replicas_refuses_acks_all_writes_when_isr_too_small`: kill one follower (one:
//!   with two of three nodes down the quorum could not fence anybody; not the Raft leader, so
//!   there is no election); ISR 2 =
//!   min.insync.replicas 2 takes acks=all; `kafka-configs.sh --alter --add-config
//!   min.insync.replicas=3`; acks=all (no retries) is refused with NOT_ENOUGH_REPLICAS and not
//!   appended, acks=1 is taken; with the follower back, acks=all is taken again.
//! - `repeated_leader_kills_lose_no_acknowledged_record`: 3 partitions; the producer thread and one
//!   read_uncommitted consumer session polling throughout; 3 rounds of kill -9 the leader of
//!   partition 0 / new leader / acks for new records / restart / full ISRs; then the consumer reads
//!   on to the end, every partition is read from 0 through each node, and the checker
//!   (`tests/support/checker.rs`: lost writes, one value per offset, no duplicate, nothing past the
//!   end or never sent, monotonic polls, complete final reads) must find nothing; the replica logs
//!   are byte-identical below the high watermark.
//! - `a_stalled_follower_leaves_the_isr_after_the_lag_time_and_rejoins`: SIGSTOP of a follower
//!   with `replica.lag.time.max.ms=2000` and a 30 s session: the leader takes it out of the ISR
//!   (Kafka 4.1.2: 2.9 s after the stop; Milena: 2.3 s) while it is still registered, acks=all
//!   goes on, and after SIGCONT it catches up and rejoins (Kafka: 2.0 s; Milena: 1.7 s).
//! - `checker_finds::*`: crafted histories with each kind of violation, so that the checker cannot
//!   pass silently; the segment parser on torn and zero-filled tails.
//!
//! "Through node N" means `bootstrap.servers` is node N alone: librdkafka then fetches from each
//! partition's leader, so what followers hold is checked on disk, not through a consumer.
//!
//! Validated against Apache Kafka 4.1.2 (`MILENA_TEST_REFERENCE=1 cargo test --release --test
//! suite replication:: -- --test-threads=1 --nocapture`; 3 JVMs with -Xmx384m on 2 cores; the four
//! cluster tests take about 25 s, 35-45 s, 30 s and 70-80 s; the whole file 170 s). What Kafka
//! showed over three runs of the file and three more of the two kill tests ("describe" times
//! include a JVM tool run, 1.5-3 s; "Metadata" is librdkafka polling every 100 ms):
//!
//! - At rest the replicas' segment files are byte-identical, not only their batches: one
//!   `00000000000000000000.log` of 18440 bytes (40 batches) per replica of each partition. A
//!   follower appends the leader's batches as they are (offsets, partition leader epoch, CRC).
//!   After kill -9 and restart too, below the high watermark: 690-920 batches for one partition,
//!   4600-6200 per partition in the chaos runs.
//! - kill -9 of a leader (fencing after broker.session.timeout.ms=3000): Metadata named a new
//!   leader 2.5-3.2 s after the kill when the victim was not the Raft leader, 4.7-6.2 s when it
//!   was (an election, then a full session timeout under the new controller; up to 6.5 s in a
//!   run that did not record which); describe then showed `Leader: 3\tReplicas: 2,3,1\tIsr:
//!   3,1\tElr: \tLastKnownElr: `. The first record sent after the kill was acknowledged at that
//!   same moment (within 0.1 s), whichever partition it went to: acks=all waits for the whole ISR
//!   (not just min.insync.replicas of it), so every partition with the dead node in its ISR stalls
//!   until the controller takes it out. Longest time without an ack: 3.2-8.0 s.
//! - Restart of the victim: "Kafka Server started" after 2.6-3.8 s, full ISRs 4.2-10.4 s after the
//!   start (`Isr: 3,1,2`, the rejoining replica appended); leadership does not move back.
//!   `replica.lag.time.max.ms` is left at its default: a restarted follower rejoins as soon as it
//!   has caught up, and the dead one leaves the ISR when fenced, not after the lag time.
//! - No delivery failed (message.timeout.ms=120000) in any run: 4400-7100 records acked in the
//!   single kill, 22000-27600 in the chaos runs; the consumer session saw every one, in order.
//!   In 2 of 6 chaos runs one record was reported delivered with offset -1001
//!   (RD_KAFKA_OFFSET_INVALID): that is how librdkafka reports a retried idempotent batch the
//!   broker answers with DUPLICATE_SEQUENCE_NUMBER ("previous send succeeded but was not
//!   acknowledged"). The record was in the log once (at offset 2523 of partition 0, the first
//!   time); the checker looks such acks up by value.
//! - min.insync.replicas: a killed follower left the ISR (`Isr: 1,2`, ELR empty) 3.4-5.3 s after
//!   the kill (describe included); acks=all was accepted with ISR 2 and min.insync.replicas=2.
//!   `kafka-configs.sh` printed `Completed updating config for topic mir.`; describe then showed
//!   `Configs: min.insync.replicas=3` with `Isr: 1,2\tElr: \tLastKnownElr: ` (the ELR stays
//!   empty). The very next acks=all record (1.5-1.9 s after the alter) was refused: librdkafka
//!   `NotEnoughReplicas (Broker: Not enough in-sync replicas)`, error 19 (retriable, so the
//!   producer there has retries=0 and no idempotence). It never appeared in the log; acks=1 was
//!   accepted at the next offset; with the follower back (full ISR 3.9-4.6 s after its start)
//!   acks=all was accepted again.
//!
//! Milena today (followers do not replicate yet): the four cluster tests fail after 20 s each at
//! the first "full ISR" wait (`Isr: <leader>` only); the checker tests pass.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use support::checker::{self, Batch, History, Record};
use support::cluster::*;
use support::*;

/// Fast failure detection, as in tests/cluster.rs (Kafka's defaults are 2000 / 9000): a killed
/// node is fenced, and leaves every ISR, about 3 s after the kill. `replica.lag.time.max.ms` keeps
/// its default (30 s): it only matters for a follower that is alive but lagging, and no test here
/// has one; a restarted follower rejoins the ISR as soon as it has caught up, whatever its value.
const PROPS: &[(&str, &str)] = &[
    ("broker.heartbeat.interval.ms", "500"),
    ("broker.session.timeout.ms", "3000"),
];

// ------------------------------------------------------------------------------------------------
// Producing

/// A delivery report that was not an acknowledgement: (value, error code, error text).
type Failure = (String, Option<RDKafkaErrorCode>, String);

#[derive(Default)]
struct Outcomes {
    /// Acknowledged writes and when the report arrived.
    acked: Vec<(Record, Instant)>,
    failed: Vec<Failure>,
    /// What librdkafka reported through the error callback (transport errors and the like).
    client_errors: Vec<String>,
    client_error_count: usize,
}

/// The producer's context: records every delivery report.
#[derive(Clone, Default)]
struct Deliveries(Arc<Mutex<Outcomes>>);

impl ClientContext for Deliveries {
    fn error(&self, error: KafkaError, reason: &str) {
        let mut o = self.0.lock().unwrap();
        o.client_error_count += 1;
        if o.client_errors.len() < 50 {
            o.client_errors.push(format!("{error}: {reason}"));
        }
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let value = |m: &BorrowedMessage<'_>| {
            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()
        };
        let mut o = self.0.lock().unwrap();
        match result {
            Ok(m) => {
                let rec = Record::new(m.partition(), m.offset(), value(m));
                o.acked.push((rec, Instant::now()));
            }
            Err((e, m)) => o
                .failed
                .push((value(m), e.rdkafka_error_code(), e.to_string())),
        }
    }
}

impl Deliveries {
    fn take(&self) -> Outcomes {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// An idempotent acks=all producer (`settings` may change that), its reports in the context.
fn producer(bootstrap: &str, settings: &[(&str, &str)]) -> BaseProducer<Deliveries> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        // Long enough to ride out a failover (fencing after 3 s, a JVM controller election):
        // a record is only given up as "unknown outcome" after this.
        .set("message.timeout.ms", "120000");
    for (k, v) in settings {
        config.set(*k, *v);
    }
    config
        .create_with_context(Deliveries::default())
        .expect("create producer")
}

/// Hands one record to the client, waiting while its queue is full. Err if it was not enqueued.
fn enqueue(
    producer: &BaseProducer<Deliveries>,
    topic: &str,
    partition: i32,
    value: &str,
    give_up: impl Fn() -> bool,
) -> Result<(), KafkaError> {
    loop {
        let record: BaseRecord<'_, str, str> =
            BaseRecord::to(topic).partition(partition).payload(value);
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                if give_up() {
                    return Err(e);
                }
                producer.poll(Duration::from_millis(50));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Produces `(partition, value)`s with a fresh producer, flushes, and returns every report.
#[track_caller]
fn produce(
    bootstrap: &str,
    topic: &str,
    records: &[(i32, String)],
    settings: &[(&str, &str)],
) -> Outcomes {
    let producer = producer(bootstrap, settings);
    for (p, v) in records {
        enqueue(&producer, topic, *p, v, || false)
            .unwrap_or_else(|e| panic!("enqueue {v} to partition {p}: {e}"));
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(bound(60))
        .unwrap_or_else(|e| panic!("flush of {} record(s): {e}", records.len()));
    producer.context().take()
}

/// The sequence number of a load value `v-<seq>`.
fn seq_of(value: &str) -> u64 {
    value
        .strip_prefix("v-")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a load value: {value:?}"))
}

/// A background thread producing `v-<seq>` round-robin over the partitions with an idempotent
/// acks=all producer, one record every `every`, until `finish`.
struct Load {
    stop: Arc<AtomicBool>,
    /// How many values were handed to the client so far (the next seq).
    sent: Arc<AtomicU64>,
    deliveries: Arc<Mutex<Option<Deliveries>>>,
    handle: Option<thread::JoinHandle<LoadEnd>>,
}

struct LoadEnd {
    attempted: Vec<String>,
    /// Values the client refused to enqueue (never sent).
    not_enqueued: Vec<String>,
    flush: Result<(), String>,
    flush_took: Duration,
    outcomes: Outcomes,
}

impl Load {
    fn start(bootstrap: String, topic: &str, partitions: i32, every: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let deliveries = Arc::new(Mutex::new(None));
        let topic = topic.to_string();
        let handle = {
            let (stop, sent, deliveries) = (stop.clone(), sent.clone(), deliveries.clone());
            thread::spawn(move || {
                let producer = producer(&bootstrap, &[]);
                *deliveries.lock().unwrap() = Some(Deliveries::clone(producer.context()));
                let (mut attempted, mut not_enqueued) = (Vec::new(), Vec::new());
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let value = format!("v-{seq:07}");
                    let p = (seq % partitions as u64) as i32;
                    attempted.push(value.clone());
                    if enqueue(&producer, &topic, p, &value, || stop.load(Ordering::SeqCst))
                        .is_err()
                    {
                        not_enqueued.push(value);
                    }
                    seq += 1;
                    sent.store(seq, Ordering::SeqCst);
                    producer.poll(Duration::ZERO);
                    thread::sleep(every);
                }
                let started = Instant::now();
                let flush = producer.flush(bound(60)).map_err(|e| e.to_string());
                let flush_took = started.elapsed();
                // Dropping purges whatever is left: those get a failed report (unknown outcome).
                let deliveries = Deliveries::clone(producer.context());
                drop(producer);
                LoadEnd {
                    attempted,
                    not_enqueued,
                    flush,
                    flush_took,
                    outcomes: deliveries.take(),
                }
            })
        };
        Load {
            stop,
            sent,
            deliveries,
            handle: Some(handle),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    fn with_outcomes<T>(&self, f: impl FnOnce(&Outcomes) -> T) -> Option<T> {
        let d = self.deliveries.lock().unwrap().clone()?;
        let o = d.0.lock().unwrap();
        Some(f(&o))
    }

    fn acked(&self) -> usize {
        self.with_outcomes(|o| o.acked.len()).unwrap_or(0)
    }

    /// Waits until a value with seq >= `seq` is acknowledged; returns when it was.
    fn wait_ack_from(&self, seq: u64, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .with_outcomes(|o| {
                    o.acked
                        .iter()
                        .filter(|(r, _)| seq_of(&r.value) >= seq)
                        .map(|(_, t)| *t)
                        .min()
                })
                .flatten();
            if found.is_some() {
                return found;
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The longest time without an acknowledgement, and when it ended.
    fn longest_ack_gap(&self) -> Option<(Duration, Instant)> {
        self.with_outcomes(|o| {
            let mut times: Vec<Instant> = o.acked.iter().map(|(_, t)| *t).collect();
            times.sort();
            times
                .windows(2)
                .map(|w| (w[1] - w[0], w[1]))
                .max_by_key(|(gap, _)| *gap)
        })
        .flatten()
    }

    fn status(&self) -> String {
        let sent = self.sent();
        self.with_outcomes(|o| {
            format!(
                "sent {sent}, acked {}, failed {}, client errors {} (first: {:?})",
                o.acked.len(),
                o.failed.len(),
                o.client_error_count,
                o.client_errors.first()
            )
        })
        .unwrap_or_else(|| format!("sent {sent}, producer not created yet"))
    }

    /// Stops producing, flushes, and returns everything that happened.
    fn finish(mut self) -> LoadEnd {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .unwrap()
            .join()
            .expect("the load thread panicked")
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        // A failing test: let the thread end by itself (its flush is bounded), do not wait.
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl LoadEnd {
    /// The producer side of a checker history: attempted values, acknowledgements, and every
    /// other value as an unknown outcome (failed report, not enqueued, or no report at all).
    fn history(&self) -> History {
        let mut h = History {
            attempted: self.attempted.iter().cloned().collect(),
            acked: self.outcomes.acked.iter().map(|(r, _)| r.clone()).collect(),
            ..History::default()
        };
        for (v, _, e) in &self.outcomes.failed {
            h.indeterminate.insert(v.clone(), e.clone());
        }
        for v in &self.not_enqueued {
            h.indeterminate
                .insert(v.clone(), "not enqueued by the client".into());
        }
        let acked: BTreeSet<&str> = h.acked.iter().map(|r| r.value.as_str()).collect();
        for v in &self.attempted {
            if !acked.contains(v.as_str()) && !h.indeterminate.contains_key(v) {
                h.indeterminate
                    .insert(v.clone(), "no delivery report".into());
            }
        }
        h
    }

    fn summary(&self) -> String {
        let mut errors: BTreeMap<String, usize> = BTreeMap::new();
        for (_, _, e) in &self.outcomes.failed {
            *errors.entry(e.clone()).or_default() += 1;
        }
        format!(
            "attempted {}, acked {}, failed {} {errors:?}, not enqueued {}, flush {:?} in {:?}, \
             client errors {} (first: {:?})",
            self.attempted.len(),
            self.outcomes.acked.len(),
            self.outcomes.failed.len(),
            self.not_enqueued.len(),
            self.flush,
            self.flush_took,
            self.outcomes.client_error_count,
            self.outcomes.client_errors.first()
        )
    }
}

// ------------------------------------------------------------------------------------------------
// Consuming

/// A consumer that assigns itself partitions 0..n of `topic` from offset 0; no group commits.
fn consumer(bootstrap: &str, topic: &str, partitions: i32) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        // librdkafka wants a group.id even to assign; nothing is committed.
        .set("group.id", "replication-checker")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("create consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    consumer
}

fn record_of(m: &BorrowedMessage<'_>) -> Record {
    Record::new(
        m.partition(),
        m.offset(),
        String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
    )
}

/// The high watermark of every partition, as a client through `bootstrap` sees it (ListOffsets).
#[track_caller]
fn end_offsets(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> BTreeMap<i32, i64> {
    let consumer = consumer(bootstrap, topic, 0);
    let deadline = Instant::now() + timeout;
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        loop {
            match consumer.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                Ok((low, high)) => {
                    assert_eq!(low, 0, "log start offset of {topic}-{p}");
                    ends.insert(p, high);
                    break;
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("watermarks of {topic}-{p} via {bootstrap}: {e}; again");
                    thread::sleep(Duration::from_millis(300));
                }
                Err(e) => panic!("watermarks of {topic}-{p} via {bootstrap}: {e}"),
            }
        }
    }
    ends
}

/// Polls Metadata through `bootstrap` (librdkafka, every 100 ms) until it names a leader of
/// `topic-p` other than `victim`; returns that leader and how long after `since` it was seen.
/// A client's view of the failover, without the seconds of a JVM tool run per describe.
fn wait_new_leader_in_metadata(
    bootstrap: &str,
    topic: &str,
    p: i32,
    victim: i32,
    since: Instant,
    timeout: Duration,
) -> Option<(i32, Duration)> {
    let client = consumer(bootstrap, topic, 0);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(m) = client.fetch_metadata(Some(topic), Duration::from_secs(2)) {
            let leader = m
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .and_then(|t| t.partitions().iter().find(|q| q.id() == p))
                .map(|q| q.leader());
            if let Some(l) = leader.filter(|&l| l >= 0 && l != victim) {
                return Some((l, since.elapsed()));
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Polls Metadata through `bootstrap` until the ISR of `topic-p` satisfies `done`; returns it.
fn wait_isr_in_metadata(
    bootstrap: &str,
    topic: &str,
    p: i32,
    timeout: Duration,
    done: impl Fn(&[i32]) -> bool,
) -> Option<Vec<i32>> {
    let client = consumer(bootstrap, topic, 0);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(m) = client.fetch_metadata(Some(topic), Duration::from_secs(2)) {
            let isr = m
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .and_then(|t| t.partitions().iter().find(|q| q.id() == p))
                .map(|q| q.isr().to_vec());
            if let Some(isr) = isr.filter(|isr| done(isr)) {
                return Some(isr);
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Every record of partitions 0..n from offset 0 up to their high watermarks, through
/// `bootstrap` alone (a fresh consumer; librdkafka fetches from each partition's leader).
/// Returns the records (poll order) and the high watermarks.
#[track_caller]
fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> (Vec<Record>, BTreeMap<i32, i64>) {
    let ends = end_offsets(bootstrap, topic, partitions, timeout);
    let consumer = consumer(bootstrap, topic, partitions);
    let mut next: BTreeMap<i32, i64> = (0..partitions).map(|p| (p, 0)).collect();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let deadline = Instant::now() + timeout;
    while next.iter().any(|(p, n)| *n < ends[p]) {
        if Instant::now() >= deadline {
            panic!(
                "read of {topic} via {bootstrap}: at {next:?} of {ends:?} after {timeout:?}; \
                 errors {errors:?}"
            );
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let rec = record_of(&m);
                next.insert(rec.partition, rec.offset + 1);
                records.push(rec);
            }
            Some(Err(e)) => errors.push(e.to_string()),
            None => {}
        }
    }
    (records, ends)
}

/// A background consumer session (one librdkafka consumer over the whole run) recording every
/// record it polls, in order.
struct Poller {
    stop: Arc<AtomicBool>,
    /// Per partition, the next offset (last polled + 1).
    next: Arc<Mutex<BTreeMap<i32, i64>>>,
    handle: Option<thread::JoinHandle<(Vec<Record>, Vec<String>)>>,
}

impl Poller {
    fn start(bootstrap: String, topic: &str, partitions: i32) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(Mutex::new(BTreeMap::new()));
        let topic = topic.to_string();
        let handle = {
            let (stop, next) = (stop.clone(), next.clone());
            thread::spawn(move || {
                let consumer = consumer(&bootstrap, &topic, partitions);
                let (mut polled, mut errors) = (Vec::new(), Vec::new());
                while !stop.load(Ordering::SeqCst) {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(m)) => {
                            let rec = record_of(&m);
                            next.lock().unwrap().insert(rec.partition, rec.offset + 1);
                            polled.push(rec);
                        }
                        Some(Err(e)) if errors.len() < 50 => errors.push(e.to_string()),
                        Some(Err(_)) | None => {}
                    }
                }
                (polled, errors)
            })
        };
        Poller {
            stop,
            next,
            handle: Some(handle),
        }
    }

    /// Waits until it has polled up to `ends` (exclusive) of every partition.
    fn wait_reached(&self, ends: &BTreeMap<i32, i64>, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let next = self.next.lock().unwrap();
            ends.iter()
                .all(|(p, end)| *end == 0 || next.get(p).is_some_and(|n| n >= end))
        })
    }

    fn next(&self) -> BTreeMap<i32, i64> {
        self.next.lock().unwrap().clone()
    }

    fn finish(mut self) -> (Vec<Record>, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .unwrap()
            .join()
            .expect("the poller thread panicked")
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A follower of `leader`'s partition that is not the Raft leader either (pausing or killing
/// it fails a replica, not the metadata quorum's leader).
fn follower_not_raft_leader(c: &Cluster, leader: i32) -> i32 {
    let raft_leader = c.quorum_leader(leader);
    c.ids()
        .into_iter()
        .find(|&id| id != leader && Some(id) != raft_leader)
        .expect("a follower that is not the Raft leader")
}

// ------------------------------------------------------------------------------------------------
// Replica logs

/// The batches of `topic-p` in node `id`'s log.dirs (empty if the directory is not there yet).
fn replica_batches(c: &Cluster, id: i32, topic: &str, p: i32) -> Vec<Batch> {
    checker::partition_batches(&c.node(id).data_dir().join(format!("{topic}-{p}")))
        .unwrap_or_default()
}

/// Waits until the logs of `topic-p` on `replicas` (the first one the reference, e.g. the
/// leader) are byte-identical batch for batch below `hw` and reach it; returns (batches, bytes).
/// Panics with the last difference after `timeout`.
#[track_caller]
fn wait_replicas_identical(
    c: &Cluster,
    topic: &str,
    p: i32,
    replicas: &[i32],
    hw: i64,
    timeout: Duration,
) -> (usize, usize) {
    let deadline = Instant::now() + timeout;
    loop {
        let logs: Vec<(String, Vec<Batch>)> = replicas
            .iter()
            .map(|&id| (format!("node {id}"), replica_batches(c, id, topic, p)))
            .collect();
        match checker::compare_replicas(&logs, Some(hw)) {
            Ok(done) => return done,
            Err(e) if Instant::now() >= deadline => panic!(
                "{topic}-{p}: replicas {replicas:?} not byte-identical below the high watermark \
                 {hw} within {timeout:?}: {e}"
            ),
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Reads every partition through every running node, checks the history (producer side in `h`,
/// polls already in it), asserts no violation, then compares every partition's replica logs below
/// the high watermark. Returns the report.
#[track_caller]
fn heal_read_and_check(
    c: &mut Cluster,
    topic: &str,
    partitions: i32,
    mut h: History,
) -> checker::Report {
    let mut ends_seen: Vec<(i32, BTreeMap<i32, i64>)> = Vec::new();
    for via in c.running_ids() {
        let (records, ends) = read_all(&c.node_bootstrap(via), topic, partitions, bound(30));
        h.final_reads.push((format!("via node {via}"), records));
        ends_seen.push((via, ends));
    }
    h.end_offsets = ends_seen[0].1.clone();
    for (via, ends) in &ends_seen {
        assert_eq!(
            ends, &h.end_offsets,
            "high watermarks via node {via} differ from via node {}",
            ends_seen[0].0
        );
    }
    let report = checker::check(&h);
    eprintln!("checker: {report}");
    assert!(report.is_ok(), "checker found violations:\n{report}");
    let via = c.running_ids()[0];
    let d = c.describe(topic, via);
    for p in &d.partitions {
        let leader = p.leader.expect("a leader");
        let mut replicas = vec![leader];
        replicas.extend(p.replicas.iter().filter(|&&r| r != leader));
        let hw = h.end_offsets[&p.partition];
        let (batches, bytes) =
            wait_replicas_identical(c, topic, p.partition, &replicas, hw, bound(30));
        eprintln!(
            "{topic}-{}: replicas {replicas:?} byte-identical below the high watermark {hw}: \
             {batches} batches, {bytes} bytes",
            p.partition
        );
    }
    report
}

// ------------------------------------------------------------------------------------------------
// 1. Replication at rest

/// Kafka 4.1.2: every replica's segment file byte-identical at rest (see the top of this file).
#[test]
fn rf3_topic_is_replicated_to_every_replica() {
    let c = Cluster::start(3, PROPS);
    let topic = "replicated";
    c.create_topic(1, topic, 3, 3, &["--config", "min.insync.replicas=2"]);
    let d = c.wait_describe(topic, 2, bound(20), "3 partitions with full ISRs", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    assert!(d.text.contains("min.insync.replicas=2"), "{}", d.text);

    const N: usize = 3000;
    let records: Vec<(i32, String)> = (0..N)
        .map(|i| ((i % 3) as i32, format!("v-{i:07}")))
        .collect();
    let started = Instant::now();
    // Small batches: many of them to compare on disk (librdkafka would put a partition's 1000
    // queued records in one).
    let out = produce(
        &c.bootstrap(),
        topic,
        &records,
        &[("batch.num.messages", "25")],
    );
    assert!(out.failed.is_empty(), "failed deliveries: {:?}", out.failed);
    assert_eq!(out.acked.len(), N);
    eprintln!("{N} records acknowledged in {:?}", started.elapsed());
    let mut expected: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for (r, _) in &out.acked {
        expected
            .entry(r.partition)
            .or_default()
            .push((r.offset, r.value.clone()));
    }
    for list in expected.values_mut() {
        list.sort();
    }
    // Dense offsets from 0, each value where the producer asked for it.
    for (p, list) in &expected {
        assert_eq!(list.len(), N / 3, "partition {p}");
        for (i, (o, v)) in list.iter().enumerate() {
            assert_eq!(*o, i as i64, "partition {p}: {list:?}");
            assert_eq!(seq_of(v) % 3, *p as u64, "{v} acked on partition {p}");
        }
    }

    // Through every node as the only bootstrap server: exactly the acknowledged records.
    for via in c.ids() {
        let (read, ends) = read_all(&c.node_bootstrap(via), topic, 3, bound(30));
        let mut got: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
        for r in read {
            got.entry(r.partition)
                .or_default()
                .push((r.offset, r.value));
        }
        assert_eq!(got, expected, "records read via node {via}");
        let expected_ends: BTreeMap<i32, i64> = (0..3).map(|p| (p, (N / 3) as i64)).collect();
        assert_eq!(ends, expected_ends, "high watermarks via node {via}");
    }

    // At rest: full ISRs, and on disk every replica holds the same batches, byte for byte.
    let d = c.wait_describe(topic, 3, bound(20), "full ISRs", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    for p in &d.partitions {
        let leader = p.leader.unwrap();
        let mut replicas = vec![leader];
        replicas.extend(p.replicas.iter().filter(|&&r| r != leader));
        let hw = (N / 3) as i64;
        let (batches, bytes) =
            wait_replicas_identical(&c, topic, p.partition, &replicas, hw, bound(20));
        // Nothing beyond the high watermark either: the whole logs are equal.
        let whole: Vec<(String, Vec<Batch>)> = replicas
            .iter()
            .map(|&id| {
                (
                    format!("node {id}"),
                    replica_batches(&c, id, topic, p.partition),
                )
            })
            .collect();
        let all = checker::compare_replicas(&whole, None)
            .unwrap_or_else(|e| panic!("{topic}-{}: {e}", p.partition));
        assert_eq!(all, (batches, bytes), "{topic}-{}", p.partition);
        // The segment files themselves (names and bytes).
        let files: Vec<Vec<(String, Vec<u8>)>> = replicas
            .iter()
            .map(|&id| {
                let dir = c
                    .node(id)
                    .data_dir()
                    .join(format!("{topic}-{}", p.partition));
                checker::segment_files(&dir)
                    .unwrap()
                    .into_iter()
                    .map(|f| {
                        let name = f.file_name().unwrap().to_string_lossy().into_owned();
                        (name, std::fs::read(&f).unwrap())
                    })
                    .collect()
            })
            .collect();
        let same_files = files.iter().all(|f| f == &files[0]);
        eprintln!(
            "{topic}-{}: replicas {replicas:?} hold {batches} identical batches ({bytes} bytes); \
             segment files {:?} identical: {same_files}",
            p.partition,
            files[0]
                .iter()
                .map(|(n, b)| (n.as_str(), b.len()))
                .collect::<Vec<_>>()
        );
        assert!(
            same_files,
            "{topic}-{}: the .log files differ (names or bytes beyond the batches)",
            p.partition
        );
    }
}

// ------------------------------------------------------------------------------------------------
// 2. One leader kill under load

/// Kafka 4.1.2: new leader 2.5-6.2 s after the kill (longer when the victim also led the Raft
/// quorum), no delivery failed, nothing lost (see the top of this file).
#[test]
fn leader_kill_under_acks_all_load_loses_nothing() {
    let mut c = Cluster::start(3, PROPS);
    let topic = "failover";
    c.create_topic(1, topic, 1, 3, &["--config", "min.insync.replicas=2"]);
    let before = c.wait_describe(topic, 1, bound(20), "a full ISR", full_isr);
    let victim = before.partition(0).leader.unwrap();
    let raft_leader = c.quorum_leader(1);
    let survivors: Vec<i32> = c.ids().into_iter().filter(|&id| id != victim).collect();

    let load = Load::start(c.bootstrap(), topic, 1, Duration::from_millis(2));
    assert!(
        wait_until(bound(30), || load.acked() >= 300),
        "no 300 acks before the kill: {}",
        load.status()
    );

    eprintln!("killing node {victim}, leader of {topic}-0 (Raft leader: {raft_leader:?})");
    let seq_at_kill = load.sent();
    c.kill9(victim);
    let killed = Instant::now();
    let survivor_bootstrap = survivors
        .iter()
        .map(|&id| c.node_bootstrap(id))
        .collect::<Vec<_>>()
        .join(",");
    let in_metadata =
        wait_new_leader_in_metadata(&survivor_bootstrap, topic, 0, victim, killed, bound(20));
    eprintln!("new leader in Metadata (leader, after the kill): {in_metadata:?}");
    let d = c.wait_describe(
        topic,
        survivors[0],
        bound(20),
        "led by another replica, the victim out of the ISR",
        |d| {
            let p = d.partition(0);
            p.leader.is_some_and(|l| l != victim) && !p.isr.contains(&victim)
        },
    );
    let failover = killed.elapsed();
    let p = d.partition(0);
    let new_leader = p.leader.unwrap();
    assert!(
        before.partition(0).isr.contains(&new_leader),
        "the new leader was not in the ISR before the kill:\n{}",
        d.text
    );
    assert_eq!(
        p.isr_set(),
        survivors.iter().copied().collect(),
        "ISR after the kill:\n{}",
        d.text
    );
    eprintln!(
        "{failover:?} after the kill: leader {new_leader}:\n{}",
        d.text
    );

    // The producer keeps getting acknowledgements, for records sent after the failover.
    let seq = load.sent();
    let resumed = load.wait_ack_from(seq, bound(20)).unwrap_or_else(|| {
        panic!(
            "no acknowledgement for a record sent after the failover: {}",
            load.status()
        )
    });
    let first_after_kill = load.wait_ack_from(seq_at_kill, Duration::ZERO).unwrap();
    eprintln!(
        "first ack of a record sent after the kill {:?} after it; acks for records sent after \
         the failover was described from {:?}; {}",
        first_after_kill.saturating_duration_since(killed),
        resumed.saturating_duration_since(killed),
        load.status()
    );

    let restarted = Instant::now();
    c.start_again(victim);
    let started = restarted.elapsed();
    let d = c.wait_describe(topic, victim, bound(30), "a full ISR again", full_isr);
    eprintln!(
        "node {victim} started in {started:?}; full ISR {:?} after its start:\n{}",
        restarted.elapsed(),
        d.text
    );
    // More acknowledged load with the victim back as a follower.
    let seq = load.sent();
    assert!(
        load.wait_ack_from(seq + 200, bound(20)).is_some(),
        "{}",
        load.status()
    );
    if let Some((gap, ended)) = load.longest_ack_gap() {
        eprintln!(
            "longest time without an ack: {gap:?}, ended {:?} after the kill",
            ended.checked_duration_since(killed)
        );
    }
    let end = load.finish();
    eprintln!("load: {}", end.summary());
    assert!(end.flush.is_ok(), "flush: {}", end.summary());

    c.wait_describe(topic, survivors[1], bound(20), "a full ISR", full_isr);
    let report = heal_read_and_check(&mut c, topic, 1, end.history());
    assert!(report.acked > 300, "{report}");
}

// ------------------------------------------------------------------------------------------------
// 3. min.insync.replicas

/// Kafka 4.1.2: with ISR {leader, follower} and the topic's min.insync.replicas raised from 2 to 3
/// (IncrementalAlterConfigs through kafka-configs.sh), the leader refused the next acks=all
/// Produce with NOT_ENOUGH_REPLICAS (19) before appending (the record never showed up), took
/// acks=1 at the next offset, and took acks=all again once the follower was back in the ISR. The
/// ELR stayed empty throughout. Timings at the top of this file.
#[test]
fn min_insync_replicas_refuses_acks_all_writes_when_isr_too_small() {
    let mut c = Cluster::start(3, PROPS);
    let topic = "mir";
    c.create_topic(1, topic, 1, 3, &["--config", "min.insync.replicas=2"]);
    let before = c.wait_describe(topic, 1, bound(20), "a full ISR", full_isr);
    let leader = before.partition(0).leader.unwrap();
    // The victim: a follower, not the Raft leader if we can tell (a plain fencing, no election).
    let raft_leader = c.quorum_leader(leader);
    let victim = before
        .partition(0)
        .replicas
        .iter()
        .copied()
        .find(|&r| r != leader && Some(r) != raft_leader)
        .unwrap();
    let others: Vec<i32> = c.ids().into_iter().filter(|&id| id != victim).collect();
    let bootstrap: String = others
        .iter()
        .map(|&id| c.node_bootstrap(id))
        .collect::<Vec<_>>()
        .join(",");
    // One attempt per record: no retries, no idempotence (it would force retries), acks as given.
    let once = |acks: &'static str| {
        [
            ("enable.idempotence", "false"),
            ("acks", acks),
            ("retries", "0"),
            ("message.timeout.ms", "15000"),
        ]
    };
    let mut written: Vec<Record> = Vec::new();
    let mut produce_one = |value: &str, acks: &'static str| -> Result<Record, Failure> {
        let out = produce(&bootstrap, topic, &[(0, value.to_string())], &once(acks));
        match (out.acked.first(), out.failed.first()) {
            (Some((r, _)), None) => {
                written.push(r.clone());
                Ok(r.clone())
            }
            (None, Some(f)) => Err(f.clone()),
            _ => panic!("one report expected for {value}"),
        }
    };

    produce_one("all-isr3", "all").expect("acks=all with 3 in sync");

    eprintln!("killing follower {victim} (leader {leader}, Raft leader {raft_leader:?})");
    c.kill9(victim);
    let killed = Instant::now();
    let d = c.wait_describe(topic, leader, bound(20), "the victim out of the ISR", |d| {
        let p = d.partition(0);
        p.leader == Some(leader) && !p.isr.contains(&victim)
    });
    eprintln!("{:?} after the kill:\n{}", killed.elapsed(), d.text);
    assert_eq!(d.partition(0).isr.len(), 2, "{}", d.text);

    // ISR 2 = min.insync.replicas 2: acks=all is accepted.
    produce_one("all-isr2-min2", "all").expect("acks=all with 2 in sync and min.insync.replicas=2");

    // min.insync.replicas=3 through kafka-configs.sh.
    let via = c.node_bootstrap(leader);
    let out = kafka_tool(
        "kafka-configs.sh",
        &[
            "--bootstrap-server",
            &via,
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            topic,
            "--add-config",
            "min.insync.replicas=3",
        ],
    );
    let text = assert_success(&out, "kafka-configs.sh --alter");
    eprintln!("kafka-configs.sh: {}", text.trim());
    let altered = Instant::now();
    let d = c.wait_describe(topic, leader, bound(20), "min.insync.replicas=3", |d| {
        d.text.contains("min.insync.replicas=3")
    });
    eprintln!("{}", d.text);

    // acks=all is now refused with NOT_ENOUGH_REPLICAS (the leader may take a moment to see the
    // new config: try again for a bounded time), and the refused record is not in the log.
    let mut attempts = Vec::new();
    let refused = loop {
        let value = format!("all-isr2-min3-{}", attempts.len());
        match produce_one(&value, "all") {
            Err(f) => break f,
            Ok(r) => attempts.push(r),
        }
        assert!(
            altered.elapsed() < bound(10),
            "acks=all still accepted {:?} after min.insync.replicas=3: {attempts:?}",
            altered.elapsed()
        );
        thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "acks=all refused {:?} after the alter ({} accepted before): {refused:?}",
        altered.elapsed(),
        attempts.len()
    );
    assert_eq!(
        refused.1,
        Some(RDKafkaErrorCode::NotEnoughReplicas),
        "{refused:?}"
    );

    // acks=1 does not wait for the ISR: accepted.
    let one = produce_one("one-isr2-min3", "1").expect("acks=1 with 2 in sync");
    eprintln!("acks=1 accepted at {one}");

    // Back to 3 in sync: acks=all accepted again.
    let restarted = Instant::now();
    c.start_again(victim);
    let d = c.wait_describe(topic, leader, bound(30), "a full ISR again", full_isr);
    eprintln!(
        "full ISR {:?} after the restart:\n{}",
        restarted.elapsed(),
        d.text
    );
    let deadline = Instant::now() + bound(10);
    let last = loop {
        match produce_one("all-isr3-min3", "all") {
            Ok(r) => break r,
            Err(f) if Instant::now() < deadline => {
                eprintln!("acks=all with a full ISR again: {f:?}; again");
                thread::sleep(Duration::from_millis(300));
            }
            Err(f) => panic!("acks=all refused with a full ISR and min.insync.replicas=3: {f:?}"),
        }
    };
    eprintln!("acks=all accepted again at {last}");

    // The log is exactly what was acknowledged, in order, through every node; the refused
    // record is nowhere.
    let expected: Vec<Record> = written.clone();
    for via in c.ids() {
        let (read, ends) = read_all(&c.node_bootstrap(via), topic, 1, bound(30));
        assert_eq!(read, expected, "{topic}-0 via node {via}");
        assert_eq!(
            ends[&0],
            expected.len() as i64,
            "high watermark via node {via}"
        );
        assert!(!read.iter().any(|r| r.value == refused.0));
    }
}

// ------------------------------------------------------------------------------------------------
// 4. Chaos

/// Kafka 4.1.2: 3 rounds in 70-80 s, 22000-27600 acknowledged records, no violation (see the top
/// of this file).
#[test]
fn repeated_leader_kills_lose_no_acknowledged_record() {
    const PARTITIONS: i32 = 3;
    // The long run (scripts/chaos.sh) sets more rounds, and pauses (SIGSTOP for longer than the
    // session timeout, then SIGCONT: a zombie leader coming back) in every other round.
    let rounds: usize = std::env::var("MILENA_CHAOS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let pauses = std::env::var("MILENA_CHAOS_PAUSES").is_ok_and(|v| v == "1");
    let mut c = Cluster::start(3, PROPS);
    let topic = "chaos";
    c.create_topic(
        1,
        topic,
        PARTITIONS as u32,
        3,
        &["--config", "min.insync.replicas=2"],
    );
    c.wait_describe(topic, 1, bound(20), "full ISRs", |d| {
        d.partitions.len() == PARTITIONS as usize && full_isr(d)
    });

    let load = Load::start(c.bootstrap(), topic, PARTITIONS, Duration::from_millis(2));
    let poller = Poller::start(c.bootstrap(), topic, PARTITIONS);
    assert!(
        wait_until(bound(30), || load.acked() >= 300),
        "no 300 acks before the first kill: {}",
        load.status()
    );

    let deadline = Instant::now() + bound(50 * rounds as u64);
    let mut timings = Vec::new();
    for round in 0..rounds {
        let pause = pauses && round % 2 == 1;
        assert!(
            Instant::now() < deadline,
            "round {round}: past the deadline"
        );
        let running = c.running_ids();
        let d = c.describe(topic, running[0]);
        let victim = d.partition(0).leader.expect("partition 0 has a leader");
        let survivor = running.into_iter().find(|&id| id != victim).unwrap();
        let raft_leader = c.quorum_leader(survivor);
        let seq_at_kill = load.sent();
        if pause {
            c.pause(victim);
        } else {
            c.kill9(victim);
        }
        let killed = Instant::now();
        let in_metadata = wait_new_leader_in_metadata(
            &c.node_bootstrap(survivor),
            topic,
            0,
            victim,
            killed,
            bound(20),
        )
        .map(|(_, t)| t);
        let d = c.wait_describe(
            topic,
            survivor,
            bound(20),
            "partition 0 led by another replica, the victim in no ISR",
            |d| {
                d.partition(0).leader.is_some_and(|l| l != victim)
                    && d.partitions
                        .iter()
                        .all(|p| p.leader.is_some() && !p.isr.contains(&victim))
            },
        );
        let failover = killed.elapsed();
        let seq = load.sent();
        load.wait_ack_from(seq, bound(20)).unwrap_or_else(|| {
            panic!(
                "round {round}: no ack for a record sent after the failover: {}\n{}",
                load.status(),
                d.text
            )
        });
        // When the first record sent after the kill was acknowledged: the client-visible outage.
        let resumed = load
            .wait_ack_from(seq_at_kill, Duration::ZERO)
            .unwrap()
            .saturating_duration_since(killed);
        let restarted = Instant::now();
        if pause {
            c.resume(victim);
        } else {
            c.start_again(victim);
        }
        c.wait_describe(topic, victim, bound(30), "full ISRs again", |d| {
            d.partitions.len() == PARTITIONS as usize && full_isr(d)
        });
        let regrow = restarted.elapsed();
        let how = if pause { "paused" } else { "killed" };
        eprintln!(
            "round {round}: {how} node {victim} (Raft leader {raft_leader:?}); new leader of \
             {topic}-0 in Metadata after \
             {in_metadata:?}, in describe after {failover:?}, first ack of a record sent after \
             the kill {resumed:?} after it; full ISRs {regrow:?} after the restart; {}",
            load.status()
        );
        timings.push((
            victim,
            raft_leader == Some(victim),
            in_metadata,
            resumed,
            regrow,
        ));
    }
    let seq = load.sent();
    assert!(
        load.wait_ack_from(seq + 200, bound(20)).is_some(),
        "{}",
        load.status()
    );
    let gap = load.longest_ack_gap().map(|(gap, _)| gap);
    let end = load.finish();
    eprintln!(
        "load: {}; longest time without an ack {gap:?}",
        end.summary()
    );
    assert!(end.flush.is_ok(), "flush: {}", end.summary());

    // Healed: the poller reads on to the end, then stops.
    let running = c.running_ids();
    assert_eq!(running.len(), 3);
    c.wait_describe(topic, running[0], bound(20), "full ISRs", full_isr);
    let ends = end_offsets(&c.bootstrap(), topic, PARTITIONS, bound(30));
    let reached = poller.wait_reached(&ends, bound(20));
    let polled_to = poller.next();
    let (polled, poll_errors) = poller.finish();
    eprintln!(
        "poller: {} records, reached {polled_to:?} of {ends:?}; {} error(s) (first: {:?})",
        polled.len(),
        poll_errors.len(),
        poll_errors.first()
    );
    assert!(
        reached,
        "the consumer session did not read to the end: {polled_to:?} of {ends:?}"
    );

    let mut h = end.history();
    h.sessions.push(polled);
    let report = heal_read_and_check(&mut c, topic, PARTITIONS, h);
    eprintln!(
        "timings (victim, was the Raft leader, new leader in Metadata, first ack of a record sent \
         after the kill, full ISRs after the restart): {timings:?}"
    );
    assert!(report.acked > 1000, "{report}");
}

// ------------------------------------------------------------------------------------------------
// The checker finds what it looks for.

mod checker_finds {
    use super::checker::{check, compare_replicas, parse_batches, History, Record};
    use std::collections::BTreeMap;

    fn r(p: i32, o: i64, v: &str) -> Record {
        Record::new(p, o, v)
    }

    /// Two partitions, three values each, all acked, polled and read back through two nodes.
    fn clean() -> History {
        let log = vec![
            r(0, 0, "a"),
            r(0, 1, "b"),
            r(0, 2, "c"),
            r(1, 0, "d"),
            r(1, 1, "e"),
            r(1, 2, "f"),
        ];
        History {
            attempted: ["a", "b", "c", "d", "e", "f", "g"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            acked: log.clone(),
            // "g" failed: unknown outcome, absent from the log. Not a violation.
            indeterminate: BTreeMap::from([("g".to_string(), "timed out".to_string())]),
            sessions: vec![log.clone()],
            final_reads: vec![("via 1".into(), log.clone()), ("via 2".into(), log)],
            end_offsets: BTreeMap::from([(0, 3), (1, 3)]),
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let report = check(&clean());
        assert!(report.is_ok(), "{report}");
        assert_eq!(
            (report.acked, report.polled, report.final_records),
            (6, 6, 6)
        );
        assert_eq!((report.indeterminate, report.indeterminate_present), (1, 0));
    }

    #[test]
    fn an_indeterminate_write_may_be_present() {
        let mut h = clean();
        for (_, recs) in &mut h.final_reads {
            recs.push(r(1, 3, "g"));
        }
        h.end_offsets.insert(1, 4);
        let report = check(&h);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.indeterminate_present, 1);
    }

    #[test]
    fn finds_a_lost_write() {
        let mut h = clean();
        // Node 2 lost the tail of partition 1 (and says its end is 2).
        h.final_reads[1].1.retain(|rec| rec.value != "f");
        let report = check(&h);
        assert_eq!(report.lost.count, 1, "{report}");
        assert!(report.lost.examples[0].contains("\"f\""), "{report}");
        assert_eq!(report.incomplete.count, 1, "{report}");
    }

    #[test]
    fn finds_a_lost_write_replaced_by_another_value() {
        let mut h = clean();
        h.attempted.insert("x".into());
        for (_, recs) in &mut h.final_reads {
            recs[1] = r(0, 1, "x");
        }
        let report = check(&h);
        assert_eq!(report.lost.count, 2, "{report}"); // "b" in both final reads
        assert_eq!(report.offset_conflicts.count, 1, "{report}");
        assert!(!report.is_ok());
    }

    #[test]
    fn an_ack_without_an_offset_is_looked_up_by_value() {
        let mut h = clean();
        h.acked[2].offset = -1001;
        let report = check(&h);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.acked_unknown_offset, 1);
        // ... and is lost when it is not in its partition.
        h.acked[2].partition = 1;
        let report = check(&h);
        assert_eq!(report.lost.count, 2, "{report}");
        assert!(
            report.lost.examples[0].contains("offset unknown"),
            "{report}"
        );
        // ... and is no exception to the duplicate check: "c" at 0@2 and 0@3.
        let mut h = clean();
        h.acked[2].offset = -1001;
        for (_, recs) in &mut h.final_reads {
            recs.push(r(0, 3, "c"));
        }
        h.end_offsets.insert(0, 4);
        assert_eq!(check(&h).duplicates.count, 1);
    }

    #[test]
    fn finds_an_offset_with_two_values() {
        let mut h = clean();
        // A poll saw "z" at 1@2 where the log has "f" (a read of a since-truncated record).
        h.attempted.insert("z".into());
        h.sessions[0][5] = r(1, 2, "z");
        let report = check(&h);
        assert_eq!(report.offset_conflicts.count, 1, "{report}");
        assert!(
            report.offset_conflicts.examples[0].starts_with("1@2"),
            "{report}"
        );
        assert_eq!(report.lost.count, 0, "{report}");
    }

    #[test]
    fn finds_a_duplicate() {
        let mut h = clean();
        // "a" written twice: at 0@0 and again at 0@3.
        for (_, recs) in &mut h.final_reads {
            recs.push(r(0, 3, "a"));
        }
        h.end_offsets.insert(0, 4);
        let report = check(&h);
        assert_eq!(report.duplicates.count, 1, "{report}");
        assert!(
            report.duplicates.examples[0].starts_with("\"a\""),
            "{report}"
        );
    }

    #[test]
    fn finds_a_read_beyond_the_end() {
        let mut h = clean();
        // A poll saw 0@3, past the final end 3 (an uncommitted record later truncated).
        h.attempted.insert("y".into());
        h.sessions[0].insert(3, r(0, 3, "y"));
        let report = check(&h);
        assert_eq!(report.beyond_end.count, 1, "{report}");
        assert_eq!(report.lost.count, 0, "{report}");
    }

    #[test]
    fn finds_a_value_never_sent() {
        let mut h = clean();
        h.attempted.remove("e");
        let report = check(&h);
        // Seen by the ack, the poll and two final reads: reported once.
        assert_eq!(report.never_sent.count, 1, "{report}");
    }

    #[test]
    fn finds_a_poll_going_backwards() {
        let mut h = clean();
        h.sessions[0].swap(0, 1);
        let report = check(&h);
        assert_eq!(report.non_monotonic.count, 1, "{report}");
        // A second session starting over is fine.
        let mut h = clean();
        let again = h.sessions[0].clone();
        h.sessions.push(again);
        assert!(check(&h).is_ok());
    }

    #[test]
    fn finds_a_final_read_with_a_gap_or_none() {
        let mut h = clean();
        h.final_reads[0].1.remove(0);
        let report = check(&h);
        assert_eq!(report.incomplete.count, 1, "{report}");
        assert_eq!(report.lost.count, 1, "{report}");
        let mut h = clean();
        h.final_reads.clear();
        assert_eq!(check(&h).incomplete.count, 1);
    }

    /// A magic-2 batch header (and no records body beyond it) for offsets base..=base+delta.
    fn batch(base: i64, delta: i32, epoch: i32, crc: u32, payload: &[u8]) -> Vec<u8> {
        let length = (super::checker::BATCH_HEADER - 12 + payload.len()) as i32;
        let mut b = Vec::new();
        b.extend(base.to_be_bytes());
        b.extend(length.to_be_bytes());
        b.extend(epoch.to_be_bytes());
        b.push(2);
        b.extend(crc.to_be_bytes());
        b.extend(0i16.to_be_bytes());
        b.extend(delta.to_be_bytes());
        b.resize(super::checker::BATCH_HEADER, 0);
        b.extend(payload);
        b
    }

    #[test]
    fn parses_batches_and_stops_at_a_torn_or_zeroed_tail() {
        let mut log = batch(0, 4, 0, 1, b"abc");
        log.extend(batch(5, 0, 1, 2, b""));
        let whole = parse_batches(&log);
        assert_eq!(whole.len(), 2);
        assert_eq!((whole[0].base_offset, whole[0].last_offset), (0, 4));
        assert_eq!((whole[1].base_offset, whole[1].leader_epoch), (5, 1));
        let mut torn = log.clone();
        torn.extend(&batch(6, 0, 1, 3, b"xyz")[..62]);
        assert_eq!(parse_batches(&torn), whole);
        let mut zeroed = log.clone();
        zeroed.resize(log.len() + 4096, 0);
        assert_eq!(parse_batches(&zeroed), whole);
    }

    #[test]
    fn replica_comparison_finds_a_different_or_short_log() {
        let a = [batch(0, 4, 0, 1, b"abc"), batch(5, 1, 0, 2, b"de")].concat();
        let same = ("b".to_string(), parse_batches(&a));
        let leader = ("a".to_string(), parse_batches(&a));
        assert_eq!(
            compare_replicas(&[leader.clone(), same.clone()], Some(7)),
            Ok((2, a.len()))
        );
        // One byte differs in the second batch.
        let mut other = a.clone();
        *other.last_mut().unwrap() = b'X';
        let err = compare_replicas(
            &[leader.clone(), ("c".into(), parse_batches(&other))],
            Some(7),
        )
        .unwrap_err();
        assert!(err.contains("batch #1"), "{err}");
        // Below 5 only the first batch counts: equal.
        assert_eq!(
            compare_replicas(
                &[leader.clone(), ("c".into(), parse_batches(&other))],
                Some(5)
            ),
            Ok((1, 12 + 49 + 3))
        );
        // A replica that lacks the second batch does not reach the high watermark 7.
        let short = ("d".to_string(), parse_batches(&batch(0, 4, 0, 1, b"abc")));
        let err = compare_replicas(&[leader, short], Some(7)).unwrap_err();
        assert!(err.contains("end at offset 5"), "{err}");
    }
}

/// A live but stalled follower (SIGSTOP: it neither fetches nor heartbeats) leaves the ISR after
/// `replica.lag.time.max.ms` through the leader's AlterPartition, before its session times out,
/// so acks=all writes go on without it; resumed (SIGCONT), it catches up and joins the ISR again.
/// The session timeout is set well above the lag time, so that the controller does not fence it
/// first (which would take it out of the ISR for another reason).
#[test]
fn a_stalled_follower_leaves_the_isr_after_the_lag_time_and_rejoins() {
    let mut c = Cluster::start(
        3,
        &[
            ("broker.heartbeat.interval.ms", "500"),
            ("broker.session.timeout.ms", "30000"),
            ("replica.lag.time.max.ms", "2000"),
        ],
    );
    let topic = "lagging";
    c.create_topic(1, topic, 1, 3, &["--config", "min.insync.replicas=2"]);
    let d = c.wait_describe(topic, 1, bound(20), "a full ISR", full_isr);
    let leader = d.partition(0).leader.expect("a leader");
    // Not the Raft leader either: its pause would be an election, not a lagging replica.
    let follower = follower_not_raft_leader(&c, leader);
    let load = Load::start(c.node_bootstrap(leader), topic, 1, Duration::from_millis(5));
    assert!(
        load.wait_ack_from(50, bound(20)).is_some(),
        "no acks before the pause: {}",
        load.status()
    );
    c.pause(follower);
    let paused = Instant::now();
    // Through librdkafka's Metadata from the leader: the Java Admin may send its describe to the
    // frozen node (still registered) and hang there for its request timeout.
    let leader_bootstrap = c.node_bootstrap(leader);
    let isr = wait_isr_in_metadata(&leader_bootstrap, topic, 0, bound(20), |isr| {
        !isr.contains(&follower)
    });
    let shrunk = paused.elapsed();
    assert!(
        isr.as_ref().is_some_and(|isr| isr.contains(&leader)),
        "node {follower} still in the ISR {isr:?} {shrunk:?} after SIGSTOP"
    );
    // Still registered: the ISR shrank for lag, not for a fenced broker.
    assert!(
        c.brokers_seen(leader)
            .is_some_and(|b| b.iter().any(|(id, _)| *id == follower)),
        "node {follower} was fenced; the lag time should have acted first"
    );
    let seq = load.sent();
    assert!(
        load.wait_ack_from(seq, bound(20)).is_some(),
        "acks=all stalled with the follower out of the ISR: {}",
        load.status()
    );
    c.resume(follower);
    let resumed = Instant::now();
    let isr = wait_isr_in_metadata(&leader_bootstrap, topic, 0, bound(30), |isr| isr.len() == 3);
    assert!(isr.is_some(), "node {follower} did not rejoin the ISR");
    c.wait_describe(
        topic,
        leader,
        bound(30),
        "the follower back in the ISR",
        full_isr,
    );
    eprintln!(
        "follower {follower} out of the ISR {shrunk:?} after SIGSTOP (replica.lag.time.max.ms \
         2000); back {:?} after SIGCONT; {}",
        resumed.elapsed(),
        load.status()
    );
    let end = load.finish();
    assert!(end.flush.is_ok(), "flush: {}", end.summary());
}

/// A replica that was down while the leader's log start moved past everything it holds
/// (`kafka-delete-records.sh`, as retention would) gets OFFSET_OUT_OF_RANGE when it fetches
/// again: it starts its log afresh at the leader's log start (Kafka's truncateFullyAndStartAt),
/// replicates the rest, and rejoins the ISR with the leader's batches from there on.
#[test]
fn a_replica_behind_the_leaders_log_start_starts_again_there() {
    let mut c = Cluster::start(
        3,
        &[
            ("broker.heartbeat.interval.ms", "500"),
            ("broker.session.timeout.ms", "3000"),
        ],
    );
    let topic = "restarted";
    c.create_topic(1, topic, 1, 3, &[]);
    let d = c.wait_describe(topic, 1, bound(20), "a full ISR", full_isr);
    let leader = d.partition(0).leader.expect("a leader");
    let follower = follower_not_raft_leader(&c, leader);
    let batch = |from: usize| -> Vec<(i32, String)> {
        (from..from + 100).map(|i| (0, format!("r-{i}"))).collect()
    };
    produce(&c.node_bootstrap(leader), topic, &batch(0), &[]);
    c.wait_describe(topic, leader, bound(20), "a full ISR", full_isr);
    c.kill9(follower);
    produce(&c.node_bootstrap(leader), topic, &batch(100), &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("offsets.json");
    std::fs::write(
        &json,
        format!(
            r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"offset":150}}]}}"#
        ),
    )
    .expect("write offsets.json");
    let out = kafka_tool(
        "kafka-delete-records.sh",
        &[
            "--bootstrap-server",
            &c.node_bootstrap(leader),
            "--offset-json-file",
            json.to_str().expect("utf-8 path"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("low_watermark: 150"), "{text}");

    c.start_again(follower);
    c.wait_describe(
        topic,
        leader,
        bound(30),
        "the restarted replica back in the ISR",
        full_isr,
    );
    // Its log holds the leader's batches from the one holding offset 150 on, nothing before.
    let leader_batches = replica_batches(&c, leader, topic, 0);
    let deadline = Instant::now() + bound(20);
    loop {
        let ours = replica_batches(&c, follower, topic, 0);
        let from = ours.first().map(|b| b.base_offset).unwrap_or(-1);
        let theirs: Vec<&Batch> = leader_batches
            .iter()
            .filter(|b| b.base_offset >= from)
            .collect();
        let same = (0..=150).contains(&from)
            && ours.len() == theirs.len()
            && ours.iter().zip(&theirs).all(|(a, b)| a.bytes == b.bytes);
        if same {
            assert!(
                leader_batches.first().is_some_and(|b| b.base_offset < from),
                "node {follower} was expected to start past the leader's first batch"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node {follower}'s log does not match the leader's from offset 150: \
             starts at {from}, {} batches against {}",
            ours.len(),
            theirs.len()
        );
        thread::sleep(Duration::from_millis(200));
    }
}
