//! Transactions on a 3-node cluster (issue 13, point 5): a transactional producer whose
//! partitions are led by different brokers than its transaction coordinator. The coordinator
//! writes the markers of partitions led elsewhere with WriteTxnMarkers, as Kafka's coordinator
//! does; a read_committed consumer then sees every committed record and none of an aborted
//! transaction, through any node.
//!
//! Runs against Apache Kafka 4.1.2 too (`MILENA_TEST_REFERENCE=1`), where it passes the same way.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::cluster::*;

const PARTITIONS: i32 = 3;

fn transactional_producer(bootstrap: &str, id: &str) -> BaseProducer {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", id)
        .set("linger.ms", "5")
        .create()
        .expect("create producer");
    producer
        .init_transactions(bound(30))
        .expect("init_transactions");
    producer
}

/// One transaction writing `values` round-robin over every partition, committed or aborted.
fn transaction(producer: &BaseProducer, topic: &str, values: &[String], commit: bool) {
    producer.begin_transaction().expect("begin");
    for (i, v) in values.iter().enumerate() {
        let record: BaseRecord<'_, str, str> = BaseRecord::to(topic)
            .partition(i as i32 % PARTITIONS)
            .payload(v);
        producer.send(record).map_err(|(e, _)| e).expect("send");
        producer.poll(Duration::ZERO);
    }
    // librdkafka's abort needs the delivery reports served first (BaseProducer: by polling).
    producer.flush(bound(30)).expect("flush");
    if commit {
        producer.commit_transaction(bound(30)).expect("commit");
    } else {
        producer.abort_transaction(bound(30)).expect("abort");
    }
}

/// Every value a read_committed consumer through `bootstrap` alone reads, until it has seen
/// `expected` values and the end of every partition (or the deadline).
fn read_committed(bootstrap: &str, topic: &str, expected: usize) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "txn-checker")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .expect("create consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + bound(30);
    let mut values = Vec::new();
    let mut at_end = BTreeSet::new();
    while Instant::now() < deadline
        && (values.len() < expected || at_end.len() < PARTITIONS as usize)
    {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
                at_end.remove(&m.partition());
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            _ => {}
        }
    }
    values
}

#[test]
fn transactions_commit_and_abort_across_partitions_led_by_other_brokers() {
    let c = Cluster::start(
        3,
        &[
            ("broker.heartbeat.interval.ms", "500"),
            ("broker.session.timeout.ms", "3000"),
        ],
    );
    let topic = "txn-spread";
    c.create_topic(1, topic, PARTITIONS as u32, 3, &[]);
    let d = c.wait_describe(
        topic,
        1,
        bound(20),
        "leaders on three brokers and full ISRs",
        |d| {
            d.partitions.len() == PARTITIONS as usize
                && d.partitions
                    .iter()
                    .all(|p| p.leader.is_some() && p.isr.len() == 3)
        },
    );
    let leaders: BTreeSet<i32> = d.partitions.iter().filter_map(|p| p.leader).collect();
    assert_eq!(leaders.len(), 3, "leaders not spread:\n{}", d.text);

    // Several transactional ids, so that coordinators land on different brokers; whichever
    // broker coordinates, two of the three partitions are led elsewhere.
    let mut committed = Vec::new();
    let mut aborted = Vec::new();
    for t in 0..4 {
        let producer = transactional_producer(&c.bootstrap(), &format!("spread-{t}"));
        for round in 0..3 {
            let values: Vec<String> = (0..9).map(|i| format!("c-{t}-{round}-{i}")).collect();
            transaction(&producer, topic, &values, true);
            committed.extend(values);
            let values: Vec<String> = (0..9).map(|i| format!("a-{t}-{round}-{i}")).collect();
            transaction(&producer, topic, &values, false);
            aborted.extend(values);
        }
    }
    for id in c.ids() {
        let seen = read_committed(&c.node_bootstrap(id), topic, committed.len());
        let seen_set: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(
            seen.len(),
            seen_set.len(),
            "a value read twice via node {id}"
        );
        let missing: Vec<&String> = committed.iter().filter(|v| !seen_set.contains(v)).collect();
        assert!(
            missing.is_empty(),
            "committed values missing via node {id}: {missing:?}"
        );
        let leaked: Vec<&String> = aborted.iter().filter(|v| seen_set.contains(v)).collect();
        assert!(
            leaked.is_empty(),
            "aborted values read via node {id}: {leaked:?}"
        );
        assert_eq!(seen.len(), committed.len(), "via node {id}");
    }
}

/// A transaction's values and what its producer was told.
type Transaction = (Vec<String>, Outcome);

/// What a transaction's producer was told in the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Committed,
    Aborted,
    /// The producer gave up (a fatal error): the transaction is committed or aborted, as a
    /// whole.
    Unknown,
}

/// One transaction of `values` (round-robin over the partitions), committed, and driven
/// through a coordinator failover as an application would: retriable errors are retried,
/// abortable ones abort.
fn commit_through_failover(producer: &BaseProducer, topic: &str, values: &[String]) -> Outcome {
    use rdkafka::error::KafkaError;
    let requires_abort = |e: &KafkaError| match e {
        KafkaError::Transaction(e) => e.txn_requires_abort(),
        _ => false,
    };
    let retriable = |e: &KafkaError| match e {
        KafkaError::Transaction(e) => e.is_retriable(),
        _ => false,
    };
    if producer.begin_transaction().is_err() {
        return Outcome::Unknown;
    }
    for (i, v) in values.iter().enumerate() {
        let record: BaseRecord<'_, str, str> = BaseRecord::to(topic)
            .partition(i as i32 % PARTITIONS)
            .payload(v);
        if producer.send(record).is_err() {
            return Outcome::Unknown;
        }
        producer.poll(Duration::ZERO);
    }
    let _ = producer.flush(bound(30));
    for _ in 0..5 {
        match producer.commit_transaction(bound(30)) {
            Ok(()) => return Outcome::Committed,
            Err(e) if retriable(&e) => continue,
            Err(e) if requires_abort(&e) => {
                return match producer.abort_transaction(bound(30)) {
                    Ok(()) => Outcome::Aborted,
                    Err(_) => Outcome::Unknown,
                };
            }
            Err(_) => return Outcome::Unknown,
        }
    }
    Outcome::Unknown
}

/// Issue 13, point 5: kill -9 of the transaction coordinator in the middle of transactions.
/// `__transaction_state` is created with Kafka's defaults (RF 3, min ISR 2); the coordinator
/// moves with the leadership of the id's partition, finishes what the dead one prepared, and
/// the producer carries on by itself. Every transaction is committed or aborted as a whole,
/// every commit the producer was told of is read exactly once through every node, and no
/// aborted record is.
#[test]
fn transactions_survive_the_loss_of_their_coordinator() {
    let mut c = Cluster::start(
        3,
        &[
            ("broker.heartbeat.interval.ms", "500"),
            ("broker.session.timeout.ms", "3000"),
            // Kafka's default (the harness lowers it for smaller clusters).
            ("transaction.state.log.min.isr", "2"),
        ],
    );
    let topic = "txn-failover";
    c.create_topic(1, topic, PARTITIONS as u32, 3, &[]);
    c.wait_describe(topic, 1, bound(20), "full ISRs", |d| {
        d.partitions.len() == PARTITIONS as usize && full_isr(d)
    });
    let id = "failover-tx";
    // The producer runs transactions back to back in its own thread, through everything below.
    let outcomes: Arc<Mutex<Vec<Transaction>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let producing = {
        let (bootstrap, outcomes, stop) = (c.bootstrap(), outcomes.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut producer = transactional_producer(&bootstrap, id);
            for t in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let values: Vec<String> = (0..9).map(|i| format!("t{t}-{i}")).collect();
                let outcome = commit_through_failover(&producer, topic, &values);
                outcomes.lock().unwrap().push((values, outcome));
                if outcome == Outcome::Unknown {
                    producer = transactional_producer(&bootstrap, id);
                }
            }
        })
    };
    let committed_count = || {
        outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, o)| *o == Outcome::Committed)
            .count()
    };
    let wait_commits = |n: usize, what: &str| {
        let deadline = Instant::now() + bound(60);
        while committed_count() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            committed_count() >= n,
            "{what}: {} of {n} transactions committed; outcomes: {:?}",
            committed_count(),
            outcomes
                .lock()
                .unwrap()
                .iter()
                .map(|(_, o)| *o)
                .collect::<Vec<_>>()
        );
    };
    wait_commits(3, "before the kill");

    let state = c.describe("__transaction_state", 1);
    assert!(
        state.text.contains("ReplicationFactor: 3") && state.text.contains("min.insync.replicas=2"),
        "__transaction_state not created with Kafka's defaults:\n{}",
        state.text.lines().next().unwrap_or_default()
    );
    let coordinator = state
        .partition(internal_partition(id, 50))
        .leader
        .expect("the coordinator's partition has a leader");

    // The coordinator dies while transactions are under way; the producer keeps going.
    let before = committed_count();
    let killed_at = Instant::now();
    c.kill9(coordinator);
    wait_commits(before + 5, "after the coordinator was killed");
    let line = format!(
        "five transactions committed {:?} after coordinator {coordinator} was killed",
        killed_at.elapsed()
    );
    eprintln!("{line}");
    c.note(coordinator, &line);
    let survivor = c.running_ids()[0];
    let moved = c.describe("__transaction_state", survivor);
    let new_coordinator = moved.partition(internal_partition(id, 50)).leader;
    assert!(
        new_coordinator.is_some() && new_coordinator != Some(coordinator),
        "the coordinator's partition did not move:\n{}",
        moved.text
    );

    // The node comes back and catches up; the producer still commits.
    c.start_again(coordinator);
    c.wait_describe(topic, coordinator, bound(30), "full ISRs", full_isr);
    wait_commits(committed_count() + 2, "after the restart");
    stop.store(true, Ordering::Relaxed);
    producing.join().expect("producer thread");
    let outcomes = outcomes.lock().unwrap().clone();
    eprintln!(
        "outcomes: {:?}",
        outcomes.iter().map(|(_, o)| *o).collect::<Vec<_>>()
    );

    let committed: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Committed)
        .flat_map(|(v, _)| v)
        .collect();
    for via in c.ids() {
        let seen = read_committed(&c.node_bootstrap(via), topic, committed.len());
        let seen_set: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(
            seen.len(),
            seen_set.len(),
            "a value read twice via node {via}"
        );
        for (values, outcome) in &outcomes {
            let present = values.iter().filter(|v| seen_set.contains(v)).count();
            let expected_ok = match outcome {
                Outcome::Committed => present == values.len(),
                Outcome::Aborted => present == 0,
                Outcome::Unknown => present == 0 || present == values.len(),
            };
            assert!(
                expected_ok,
                "transaction {:?} ({outcome:?}) has {present} of {} values via node {via}",
                values[0],
                values.len()
            );
        }
    }
}
