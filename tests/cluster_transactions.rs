//! Transactions on a 3-node cluster (issue 13, point 5): a transactional producer whose
//! partitions are led by different brokers than its transaction coordinator. The coordinator
//! writes the markers of partitions led elsewhere with WriteTxnMarkers, as Kafka's coordinator
//! does; a read_committed consumer then sees every committed record and none of an aborted
//! transaction, through any node.
//!
//! Runs against Apache Kafka 4.1.2 too (`MILENA_TEST_REFERENCE=1`), where it passes the same way.

mod support;

use std::collections::BTreeSet;
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
