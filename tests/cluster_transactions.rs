//! Transactions on a 3-node cluster (issue 13, point 5): a transactional producer whose
//! partitions are led by different brokers than its transaction coordinator. The coordinator
//! writes the markers of partitions led elsewhere with WriteTxnMarkers, as Kafka's coordinator
//! does; a read_committed consumer then sees every committed record and none of an aborted
//! transaction, through any node.
//!
//! Runs against Apache Kafka 4.1.2 too (`MILENA_TEST_REFERENCE=1`), where it passes the same way.
//!
//! Kafka Streams (issue 13, point 5, the Streams part): the stock WordCountDemo with
//! `processing.guarantee=exactly_once_v2`, bootstrapped to all three nodes, input and output
//! topics with 3 partitions, RF 3 and min.insync.replicas=2 (its repartition and changelog topics
//! too: `replication.factor=3`, `topic.min.insync.replicas=2`). 40 lines, counts checked; then
//! 250 lines from a slow console producer (idempotent, acks=all), and while the Streams producer
//! has a transaction open with updates in the output topic, kill -9 of one node: its transaction
//! coordinator (`kafka-transactions.sh list`) in one test, a node that is not (the group's
//! coordinator when that is another node, else the one leading the most of the demo's
//! partitions) in the other. The victim stays down until a transaction completes without it or
//! 10 s pass (longer than the producer's transaction.timeout.ms), and until the demo's topics
//! are led by the survivors; then it starts again. 40 more lines; the input topic holds every line
//! once, and read_committed (kcat, to the end) shows for every word the updates 1, 2, ..., n.
//!
//! Kafka 4.1.2 (reference mode, 3 JVMs on 2 cores): both pass, 62-104 s. Neither Kafka nor Milena
//! completed a transaction while the transaction coordinator or the group coordinator was down
//! (30 s in reference mode, 10 s on Milena); after the kill of a node that was neither, Milena
//! completed one 3.5 s after the kill in one run, none within 10 s in another.
//!
//! Before the transaction coordinator moved with leadership (`__transaction_state` at RF 1),
//! the first test failed on Milena 2 runs of 9: the restarted coordinator aborted a timed-out
//! transaction before it had caught up with the cluster's metadata, wrote the abort markers
//! into its own stale replicas of partitions it had led before the kill, and truncated them
//! moments later as a diverging log. Those partitions never got their marker (the last stable
//! offset stuck; Streams hung restoring its changelog). Fixed by the coordinator moving with
//! leadership and, above all, by a node leading nothing until the controller has seen it catch
//! up with the metadata; both tests then passed 3 runs of 3 (39-68 s).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::cluster::*;
use support::streams::*;
use support::*;

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
        .partition(coordinator_partition(id, 50))
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
    let new_coordinator = moved.partition(coordinator_partition(id, 50)).leader;
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

// ------------------------------------------------------------------------------------------------
// Kafka Streams: WordCountDemo with exactly_once_v2 while a node is killed and restarted

/// Partitions of the demo's input and output topics: one led by each node.
const STREAMS_PARTITIONS: u32 = 3;

/// How long (on Milena; `bound` triples it for Kafka) the victim stays down at most waiting for
/// Streams to commit a transaction without it.
const PROGRESS_WAIT_SECS: u64 = 10;

/// How long one librdkafka call may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Fast failure detection, as in tests/cluster_groups.rs: a killed node is fenced, and its
/// partitions move, about 3 s after the kill.
const FAST_FENCING: &[(&str, &str)] = &[
    ("broker.heartbeat.interval.ms", "500"),
    ("broker.session.timeout.ms", "3000"),
];

/// Which node the Streams test kills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Victim {
    /// The transaction coordinator of the Streams producer (the leader of its
    /// `__transaction_state` partition): its open transaction must be completed or aborted by
    /// the coordinator that takes over (Kafka) or by the same node once it is back.
    TransactionCoordinator,
    /// A node that is not that coordinator: the group's coordinator if it is another node, else
    /// the node leading the most partitions of the demo's topics. The transaction must survive
    /// the loss of partition leaders (and of the group coordinator) under it.
    NotTransactionCoordinator,
}

/// `kafka-transactions.sh list` through `bootstrap`: `(transactional id, coordinator id)` of
/// every transactional id the cluster knows (ListTransactions to every broker).
fn list_transactions(bootstrap: &str) -> Result<Vec<(String, i32)>, String> {
    let out = kafka_tool_timeout(
        "kafka-transactions.sh",
        &["--bootstrap-server", bootstrap, "list"],
        None,
        TOOL_TIMEOUT,
    )
    .map_err(|e| e.to_string())?;
    let text = stdout_of(&out);
    if !out.status.success() || !text.contains("TransactionalId") {
        return Err(format!(
            "kafka-transactions.sh list: {}\n{text}\n{}",
            out.status,
            stderr_of(&out)
        ));
    }
    // `TransactionalId  Coordinator  ProducerId  TransactionState`, padded with spaces.
    Ok(text
        .lines()
        .skip_while(|l| !l.starts_with("TransactionalId"))
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            Some((cols.first()?.to_string(), cols.get(1)?.parse().ok()?))
        })
        .collect())
}

/// The leaders of every partition of `topics` through node `via`: node -> how many it leads.
fn leaders_count(c: &Cluster, via: i32, topics: &[&str]) -> BTreeMap<i32, usize> {
    let mut led = BTreeMap::new();
    for t in topics {
        for p in c.describe(t, via).partitions {
            if let Some(l) = p.leader {
                *led.entry(l).or_default() += 1;
            }
        }
    }
    led
}

/// Issue 13, point 5: the stock WordCountDemo with exactly_once_v2 on three nodes gives exact
/// counts while `victim` is killed (kill -9 while the Streams producer has a transaction open
/// with updates in the output topic and input is arriving) and started again.
fn word_count_survives_a_node_kill9(victim: Victim) {
    let test_started = Instant::now();
    let mut c = Cluster::start(3, FAST_FENCING);
    for topic in [WORDS_IN, COUNTS_OUT] {
        c.create_topic(
            1,
            topic,
            STREAMS_PARTITIONS,
            3,
            &["--config", "min.insync.replicas=2"],
        );
        c.wait_describe(topic, 1, bound(20), "fully replicated", full_isr);
    }
    let dir = tempfile::tempdir().unwrap();
    // Streams creates its repartition and changelog topics with RF 3 and min.insync.replicas=2.
    write_demo_config(
        dir.path(),
        &c.bootstrap(),
        "replication.factor=3\ntopic.min.insync.replicas=2\n",
    );

    let mut streams = word_count_demo(dir.path(), "streams");
    wait_running(&mut streams, bound(60));
    let first = text_lines(0, 40);
    let mut truth = BTreeMap::new();
    add_counts(&mut truth, &first);
    produce_lines(&c.bootstrap(), &first);
    let updates = wait_counts(&c.bootstrap(), &truth, &mut streams, bound(60));
    assert_each_count_once(&updates, &truth);

    // Who does what now: the Streams producer's transaction coordinator (its transactional id
    // is `<application.id>-<process uuid>-1`), the group's coordinator, the partition leaders.
    let txns = list_transactions(&c.bootstrap()).unwrap_or_else(|e| panic!("{e}"));
    let ours: Vec<&(String, i32)> = txns
        .iter()
        .filter(|(id, _)| id.starts_with(APPLICATION_ID))
        .collect();
    assert_eq!(ours.len(), 1, "one Streams transactional id: {txns:?}");
    let (txn_id, txn_coordinator) = ours[0].clone();
    let offsets = c.describe("__consumer_offsets", 1);
    let group_coordinator = offsets
        .partition(coordinator_partition(
            APPLICATION_ID,
            offsets.partitions.len() as i32,
        ))
        .leader
        .expect("the group's offsets partition has a leader");
    let internal: Vec<String> = stdout_of(&c.topics(1, &["--list"]))
        .lines()
        .filter(|t| t.starts_with(APPLICATION_ID) && *t != COUNTS_OUT)
        .map(str::to_string)
        .collect();
    let mut demo_topics = vec![WORDS_IN, COUNTS_OUT];
    demo_topics.extend(internal.iter().map(String::as_str));
    let led = leaders_count(&c, 1, &demo_topics);
    let victim_id = match victim {
        Victim::TransactionCoordinator => txn_coordinator,
        Victim::NotTransactionCoordinator if group_coordinator != txn_coordinator => {
            group_coordinator
        }
        Victim::NotTransactionCoordinator => c
            .ids()
            .into_iter()
            .filter(|&id| id != txn_coordinator)
            .max_by_key(|id| (led.get(id).copied().unwrap_or(0), -id))
            .unwrap(),
    };
    let survivor = c.ids().into_iter().find(|&id| id != victim_id).unwrap();
    eprintln!(
        "transaction coordinator of {txn_id}: node {txn_coordinator}; group coordinator: node \
         {group_coordinator}; partitions led per node (of {demo_topics:?}): {led:?}; victim \
         ({victim:?}): node {victim_id}"
    );

    // A slow producer (one line every 40 ms, over 10 s); kill -9 the victim while the Streams
    // producer has an open transaction with updates in the output topic.
    let second = text_lines(40, 250);
    let partitions = STREAMS_PARTITIONS as i32;
    let SlowInput {
        producer: mut slow,
        started: slow_started,
        uncommitted: uncommitted_reader,
        committed: committed_reader,
        open: open_at_kill,
    } = slow_input_until_open_transaction(
        dir.path(),
        &c.bootstrap(),
        &second,
        &mut streams,
        partitions,
        bound(30),
    );
    let input_still_arriving = slow.is_running();
    let written_at_kill = output_end(&uncommitted_reader, partitions, CLIENT_TIMEOUT);
    let streams_lines_before_kill = streams.stderr().lines().count();
    c.kill9(victim_id);
    let killed_at = Instant::now();
    eprintln!(
        "killed node {victim_id} {:?} after starting the slow producer, {open_at_kill} updates \
         in the open transaction (input still arriving: {input_still_arriving})",
        slow_started.elapsed()
    );
    // Does Streams commit while the victim is down? Once the last stable offsets pass the high
    // watermarks at the kill, a transaction has completed (a marker was written) since the kill.
    // Reported, not asserted: Kafka itself did not within 30 s in one run where the victim was
    // the transaction coordinator. The wait also keeps the victim down for longer than the
    // Streams producer's transaction.timeout.ms (10 s), so the open transaction has timed out
    // when the victim comes back.
    let written_at_kill = written_at_kill.expect("high watermarks at the kill");
    let progressed = wait_until(bound(PROGRESS_WAIT_SECS), || {
        output_end(&committed_reader, partitions, Duration::from_secs(2))
            .is_some_and(|committed| committed > written_at_kill)
    });
    let progress_after = killed_at.elapsed();
    eprintln!(
        "while node {victim_id} is down: {} {progress_after:?} after the kill",
        if progressed {
            "a transaction committed past the kill's high watermarks"
        } else {
            "no transaction completed"
        }
    );
    // Once the demo's partitions have moved to the survivors, start the victim again.
    for topic in [WORDS_IN, COUNTS_OUT] {
        c.wait_describe(topic, survivor, bound(20), "led by survivors", |d| {
            d.partitions
                .iter()
                .all(|p| p.leader.is_some_and(|l| l != victim_id) && !p.isr.contains(&victim_id))
        });
    }
    eprintln!("partitions moved {:?} after the kill", killed_at.elapsed());
    c.start_again(victim_id);
    eprintln!(
        "node {victim_id} back {:?} after the kill",
        killed_at.elapsed()
    );
    for topic in [WORDS_IN, COUNTS_OUT] {
        c.wait_describe(
            topic,
            victim_id,
            bound(30),
            "fully replicated again",
            full_isr,
        );
    }
    eprintln!("full ISRs again {:?} after the kill", killed_at.elapsed());

    wait_slow_producer(&mut slow, slow_started, bound(60));
    add_counts(&mut truth, &second);
    let third = text_lines(290, 40);
    add_counts(&mut truth, &third);
    produce_lines(&c.bootstrap(), &third);
    let mut produced: Vec<String> = first.iter().chain(&second).chain(&third).cloned().collect();
    produced.sort();
    assert!(
        input_lines(&c.bootstrap()) == produced,
        "the input topic holds every line once"
    );
    let updates = wait_counts(&c.bootstrap(), &truth, &mut streams, bound(90));
    assert_each_count_once(&updates, &truth);

    let total: i64 = truth.values().sum();
    let uncommitted: usize = word_updates(&c.bootstrap(), "read_uncommitted")
        .values()
        .map(Vec::len)
        .sum();
    let warnings: Vec<String> = streams
        .stderr()
        .lines()
        .skip(streams_lines_before_kill)
        .filter(|l| l.contains("] WARN ") || l.contains("] ERROR "))
        .map(|l| l.chars().take(300).collect())
        .collect();
    eprintln!(
        "{total} committed updates, {uncommitted} read_uncommitted; {} Streams warnings/errors \
         since the kill, first ones: {:#?}\nexact {:?} after the kill; whole test {:?}",
        warnings.len(),
        &warnings[..warnings.len().min(8)],
        killed_at.elapsed(),
        test_started.elapsed()
    );
    assert!(streams.is_running(), "{}", streams.dump());
    streams.kill9();
}

#[test]
fn kafka_streams_word_count_exactly_once_while_its_transaction_coordinator_is_killed() {
    word_count_survives_a_node_kill9(Victim::TransactionCoordinator);
}

#[test]
fn kafka_streams_word_count_exactly_once_while_another_node_is_killed() {
    word_count_survives_a_node_kill9(Victim::NotTransactionCoordinator);
}
