//! Real clients as members of one consumer group (classic protocol), as they observe it:
//!
//! - Two Java consumers (`kafka-console-consumer.sh --group`) split a 6-partition topic 3/3; one is
//!   SIGKILLed, the other owns all 6 after the session timeout and resumes from the committed
//!   offsets: every produced record is printed by someone.
//! - The same with confluent-kafka (librdkafka) consumers, plus a third member joining (2/2/2), with
//!   the `cooperative-sticky` and the `range` assignors.
//! - The same split and fail-over with kafka-python consumers.
//! - A static member (`group.instance.id`) restarted within its session timeout gets its assignment
//!   back without a rebalance (same generation).
//!
//! Validated against Apache Kafka 4.1 with `MILENA_TEST_REFERENCE=1` (see tests/support/mod.rs).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use support::*;

const PARTITIONS: i32 = 6;

/// A broker set up for group tests: no initial rebalance delay (Kafka's default is 3 s).
fn start_broker() -> Broker {
    Broker::start_with(&[("group.initial.rebalance.delay.ms", "0")])
}

fn create_topic(broker: &Broker, topic: &str, partitions: i32) {
    let out = kafka_tool(
        "kafka-topics.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--create",
            "--topic",
            topic,
            "--partitions",
            &partitions.to_string(),
        ],
    );
    assert_success(&out, "kafka-topics.sh --create");
}

/// Produces `per_partition` records `<prefix>-<p>-<i>` to each partition (explicitly), acks=all.
const PRODUCER: &str = r#"
import sys, json, confluent_kafka
bootstrap, topic, partitions, per_partition, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5})
errors, delivered = [], []
def report(err, msg):
    if err is not None: errors.append(str(err))
    else: delivered.append(msg.value().decode())
for i in range(per_partition):
    for part in range(partitions):
        p.produce(topic, value=('%s-%d-%d' % (prefix, part, i)).encode(), partition=part, on_delivery=report)
left = p.flush(30)
print(json.dumps({'left': left, 'errors': errors, 'delivered': delivered}))
"#;

/// Produces a round of records and returns their values.
fn produce_round(broker: &Broker, topic: &str, per_partition: usize, prefix: &str) -> Vec<String> {
    let out = python(
        PRODUCER,
        &[
            &broker.bootstrap(),
            topic,
            &PARTITIONS.to_string(),
            &per_partition.to_string(),
            prefix,
        ],
    );
    let text = assert_success(&out, "producer script");
    let v: Value = serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", stderr_of(&out)));
    assert_eq!(v["left"], 0, "{v}");
    assert_eq!(v["errors"], Value::Array(vec![]), "{v}");
    let delivered: Vec<String> = v["delivered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(delivered.len(), per_partition * PARTITIONS as usize);
    delivered
}

/// Committed offsets of `group` for partitions 0..PARTITIONS (-1 when none), read by a client
/// that does not join the group.
const COMMITTED: &str = r#"
import sys, json, confluent_kafka
bootstrap, group, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False})
res = c.committed([confluent_kafka.TopicPartition(topic, p) for p in range(n)], timeout=20)
print(json.dumps([max(tp.offset, -1) for tp in res]))
c.close()
"#;

fn committed(broker: &Broker, group: &str, topic: &str) -> Vec<i64> {
    let out = python(
        COMMITTED,
        &[&broker.bootstrap(), group, topic, &PARTITIONS.to_string()],
    );
    let text = assert_success(&out, "committed script");
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", stderr_of(&out)))
}

/// Waits until the group's committed offsets reach `ends` (the members' auto-commit caught up).
#[track_caller]
fn wait_committed(broker: &Broker, group: &str, topic: &str, ends: &[i64]) {
    let mut last = Vec::new();
    assert!(
        wait_until(Duration::from_secs(45), || {
            last = committed(broker, group, topic);
            last == ends
        }),
        "committed offsets {last:?}, expected {ends:?}"
    );
}

/// A record as a consumer printed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    partition: i32,
    offset: i64,
    value: String,
}

/// Records printed by the Python consumers: `REC <partition> <offset> <value>`.
fn python_records(out: &str) -> Vec<Rec> {
    out.lines()
        .filter_map(|l| l.strip_prefix("REC "))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            Rec {
                partition: parts.next().unwrap().parse().unwrap(),
                offset: parts.next().unwrap().parse().unwrap(),
                value: parts.next().unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// Records printed by the console consumer: `Partition:P\tOffset:O\tvalue`.
fn console_records(out: &str) -> Vec<Rec> {
    out.lines()
        .filter(|l| l.starts_with("Partition:"))
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            Rec {
                partition: parts
                    .next()
                    .unwrap()
                    .trim_start_matches("Partition:")
                    .parse()
                    .unwrap(),
                offset: parts
                    .next()
                    .unwrap()
                    .trim_start_matches("Offset:")
                    .parse()
                    .unwrap(),
                value: parts.next().unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// The last assignment a Python consumer reported: `ASSIGNMENT 0,1,2` (empty after the comma-less
/// `ASSIGNMENT `). `None` before the first one.
fn last_assignment(out: &str) -> Option<BTreeSet<i32>> {
    out.lines()
        .rev()
        .find_map(|l| l.strip_prefix("ASSIGNMENT"))
        .map(|s| {
            s.trim()
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().unwrap())
                .collect()
        })
}

/// Asserts every value in `produced` was printed, and that the printed (partition, offset) pairs
/// cover each partition densely up to its end (no gap). Duplicates are allowed.
#[track_caller]
fn assert_all_consumed(all: &[Rec], produced: &[String], what: &str) {
    let seen: BTreeSet<&str> = all.iter().map(|r| r.value.as_str()).collect();
    let missing: Vec<&String> = produced
        .iter()
        .filter(|v| !seen.contains(v.as_str()))
        .collect();
    assert!(missing.is_empty(), "{what}: never printed: {missing:?}");
    let mut offsets: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    for r in all {
        offsets.entry(r.partition).or_default().insert(r.offset);
    }
    let per_partition = produced.len() as i64 / PARTITIONS as i64;
    for p in 0..PARTITIONS {
        let got = offsets.get(&p).cloned().unwrap_or_default();
        assert_eq!(
            got,
            (0..per_partition).collect::<BTreeSet<_>>(),
            "{what}: offsets printed for partition {p}"
        );
    }
    // Same offset, same value, whoever printed it.
    let mut by_pos: BTreeMap<(i32, i64), &str> = BTreeMap::new();
    for r in all {
        let v = by_pos.entry((r.partition, r.offset)).or_insert(&r.value);
        assert_eq!(
            *v, r.value,
            "{what}: two values at {}/{}",
            r.partition, r.offset
        );
    }
}

/// `kafka-consumer-groups.sh --describe --group G --members`: (consumer id, client id,
/// #partitions) per member. Empty while the group has no members.
fn describe_members(broker: &Broker, group: &str) -> (Vec<(String, String, usize)>, String) {
    let out = kafka_tool(
        "kafka-consumer-groups.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--describe",
            "--group",
            group,
            "--members",
        ],
    );
    let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
    let mut header = false;
    let mut members = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols == ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"] {
            header = true;
        } else if header && cols.len() == 5 && cols[0] == group {
            members.push((
                cols[1].to_string(),
                cols[3].to_string(),
                cols[4].parse().unwrap(),
            ));
        }
    }
    (members, text)
}

/// Polls `describe --members` until the members' partition counts are `counts` (any order).
#[track_caller]
fn wait_member_partitions(
    broker: &Broker,
    group: &str,
    counts: &[usize],
    dump: &dyn Fn() -> String,
) {
    let mut want = counts.to_vec();
    want.sort();
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(60), || {
        let (members, text) = describe_members(broker, group);
        last = text;
        let mut got: Vec<usize> = members.iter().map(|m| m.2).collect();
        got.sort();
        got == want
    });
    assert!(
        ok,
        "group {group}: expected members with {want:?} partitions\n{last}\n{}",
        dump()
    );
}

// ------------------------------------------------------------------------------------------------
// Java consumers

fn java_consumer(broker: &Broker, dir: &std::path::Path, name: &str) -> Background {
    Background::kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--topic",
            "t",
            "--group",
            "g",
            "--from-beginning",
            "--property",
            "print.partition=true",
            "--property",
            "print.offset=true",
            "--consumer-property",
            "session.timeout.ms=6000",
            "--consumer-property",
            "heartbeat.interval.ms=1000",
            "--consumer-property",
            "auto.commit.interval.ms=500",
            "--consumer-property",
            &format!("client.id={name}"),
        ],
        dir,
        name,
    )
}

#[test]
fn java_consumers_share_partitions_and_fail_over() {
    let broker = start_broker();
    create_topic(&broker, "t", PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let mut a = java_consumer(&broker, dir.path(), "java-a");
    let b = java_consumer(&broker, dir.path(), "java-b");

    wait_member_partitions(&broker, "g", &[3, 3], &|| {
        format!("{}{}", a.dump(), b.dump())
    });
    let (members, text) = describe_members(&broker, "g");
    let clients: BTreeSet<&str> = members.iter().map(|m| m.1.as_str()).collect();
    assert_eq!(clients, BTreeSet::from(["java-a", "java-b"]), "{text}");

    let mut produced = produce_round(&broker, "t", 5, "one");
    assert!(
        wait_until(Duration::from_secs(60), || {
            let mut all = console_records(&a.stdout());
            all.extend(console_records(&b.stdout()));
            all.len() >= produced.len()
        }),
        "round one not consumed\n{}{}",
        a.dump(),
        b.dump()
    );
    let a_before = console_records(&a.stdout());
    let b_before = console_records(&b.stdout());
    assert!(!a_before.is_empty() && !b_before.is_empty());
    let a_parts: BTreeSet<i32> = a_before.iter().map(|r| r.partition).collect();
    let b_parts: BTreeSet<i32> = b_before.iter().map(|r| r.partition).collect();
    assert_eq!(a_parts.len(), 3, "{a_before:?}");
    assert_eq!(b_parts.len(), 3, "{b_before:?}");
    assert!(a_parts.is_disjoint(&b_parts));
    wait_committed(&broker, "g", "t", &[5; PARTITIONS as usize]);

    // SIGKILL one: no LeaveGroup; the other takes all 6 after the session timeout.
    a.kill9();
    wait_member_partitions(&broker, "g", &[6], &|| b.dump());
    let (members, text) = describe_members(&broker, "g");
    assert_eq!(members[0].1, "java-b", "{text}");

    produced.extend(produce_round(&broker, "t", 5, "two"));
    assert!(
        wait_until(Duration::from_secs(60), || {
            let mut all = a_before.clone();
            all.extend(console_records(&b.stdout()));
            produced.iter().all(|v| all.iter().any(|r| &r.value == v))
        }),
        "round two not consumed\n{}",
        b.dump()
    );
    let mut all = a_before.clone();
    let b_all = console_records(&b.stdout());
    all.extend(b_all.iter().cloned());
    assert_all_consumed(&all, &produced, "java consumers");
    // B resumed A's partitions from A's committed offsets (5): nothing of round one again.
    let redelivered: Vec<&Rec> = b_all
        .iter()
        .filter(|r| a_parts.contains(&r.partition) && r.offset < 5)
        .collect();
    assert!(
        redelivered.is_empty(),
        "re-read below the committed offset: {redelivered:?}"
    );
}

// ------------------------------------------------------------------------------------------------
// Python consumers

/// A confluent-kafka consumer in group `group`, subscribed to `topic`: prints `ASSIGNMENT p,p,...`
/// after every assignment change and `REC partition offset value` per record; closes (leaving the
/// group, committing) when stdin reaches EOF and prints `CLOSED`. Extra `key=value` arguments are
/// librdkafka properties.
const CONFLUENT_CONSUMER: &str = r#"
import sys, threading, confluent_kafka
bootstrap, topic, group, name = sys.argv[1:5]
conf = {'bootstrap.servers': bootstrap, 'group.id': group, 'client.id': name,
        'session.timeout.ms': 6000, 'heartbeat.interval.ms': 1000,
        'auto.offset.reset': 'earliest', 'enable.auto.commit': True, 'auto.commit.interval.ms': 500}
conf.update(dict(kv.split('=', 1) for kv in sys.argv[5:]))
c = confluent_kafka.Consumer(conf)
owned = set()
def show():
    print('ASSIGNMENT ' + ','.join(str(p) for p in sorted(owned)), flush=True)
def on_assign(consumer, parts):
    owned.update(tp.partition for tp in parts); show()
def on_revoke(consumer, parts):
    owned.difference_update(tp.partition for tp in parts); show()
c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
stop = threading.Event()
def watch_stdin():
    sys.stdin.read(); stop.set()
threading.Thread(target=watch_stdin, daemon=True).start()
while not stop.is_set():
    m = c.poll(0.2)
    if m is None:
        continue
    if m.error():
        print('ERROR %s' % m.error(), flush=True)
        continue
    print('REC %d %d %s' % (m.partition(), m.offset(), m.value().decode()), flush=True)
c.close()
print('CLOSED', flush=True)
"#;

/// The same with kafka-python (its own heartbeat thread), eager rebalancing.
///
/// It learns the topic's partitions before its first JoinGroup (after `subscribe`, so that the
/// coordinator's metadata snapshot covers the topic). Without that, a member that leads the
/// group before its first Metadata answer arrives assigns nothing, and rejoins when the answer
/// comes only because its metadata snapshot changed. kafka-python 3.0.12 strands such a rejoin
/// when `poll(timeout_ms=200)` gives up while the leader's SyncGroup is in flight: the leader's
/// own `_perform_assignment` has already made the snapshots equal, so `need_rejoin()` is false
/// from then on and the finished join is never taken up. The member stays REBALANCING with its
/// heartbeats disabled and no partitions, the broker expires its session (rightly: it is
/// silent), and the others split the topic without it. On a loaded 2-core machine that window
/// (a few milliseconds of SyncGroup round trip) is hit now and then.
const KAFKA_PYTHON_CONSUMER: &str = r#"
import sys, threading, time
from kafka import KafkaConsumer, ConsumerRebalanceListener
bootstrap, topic, group, name = sys.argv[1:5]
owned = set()
def show():
    print('ASSIGNMENT ' + ','.join(str(p) for p in sorted(owned)), flush=True)
class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        owned.difference_update(tp.partition for tp in revoked); show()
    def on_partitions_assigned(self, assigned):
        owned.update(tp.partition for tp in assigned); show()
c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=name,
                  session_timeout_ms=6000, heartbeat_interval_ms=1000,
                  auto_offset_reset='earliest', enable_auto_commit=True, auto_commit_interval_ms=500)
c.subscribe([topic], listener=Listener())
# See above: the partitions are known before the first JoinGroup.
while not c.partitions_for_topic(topic):
    time.sleep(0.1)
stop = threading.Event()
def watch_stdin():
    sys.stdin.read(); stop.set()
threading.Thread(target=watch_stdin, daemon=True).start()
while not stop.is_set():
    for tp, msgs in c.poll(timeout_ms=200).items():
        for m in msgs:
            print('REC %d %d %s' % (m.partition, m.offset, m.value.decode()), flush=True)
c.close()
print('CLOSED', flush=True)
"#;

#[derive(Clone, Copy, Debug)]
enum Client {
    Confluent(&'static str),
    KafkaPython,
}

fn python_consumer(
    broker: &Broker,
    dir: &std::path::Path,
    client: Client,
    group: &str,
    name: &str,
) -> Background {
    let bootstrap = broker.bootstrap();
    match client {
        Client::Confluent(strategy) => {
            let strategy = format!("partition.assignment.strategy={strategy}");
            Background::python(
                CONFLUENT_CONSUMER,
                &[&bootstrap, "t", group, name, &strategy],
                dir,
                name,
            )
        }
        Client::KafkaPython => Background::python(
            KAFKA_PYTHON_CONSUMER,
            &[&bootstrap, "t", group, name],
            dir,
            name,
        ),
    }
}

fn dump_all(members: &[&Background]) -> String {
    members.iter().map(|m| m.dump()).collect()
}

/// Waits until the live `members` report disjoint assignments covering all partitions, of the
/// given sizes (in order); returns them.
#[track_caller]
fn wait_assignments(members: &[&Background], sizes: &[usize]) -> Vec<BTreeSet<i32>> {
    let mut last: Vec<Option<BTreeSet<i32>>> = Vec::new();
    let ok = wait_until(Duration::from_secs(60), || {
        last = members
            .iter()
            .map(|m| last_assignment(&m.stdout()))
            .collect();
        let Some(sets) = last.iter().cloned().collect::<Option<Vec<_>>>() else {
            return false;
        };
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        sets.iter().map(|s| s.len()).collect::<Vec<_>>() == sizes
            && union == (0..PARTITIONS).collect()
    });
    assert!(
        ok,
        "assignments {last:?}, expected sizes {sizes:?}\n{}",
        dump_all(members)
    );
    last.into_iter().map(Option::unwrap).collect()
}

/// Waits until the union of what `members` printed (plus `earlier`) holds every `produced` value.
#[track_caller]
fn wait_consumed(members: &[&Background], earlier: &[Rec], produced: &[String]) -> Vec<Rec> {
    let mut all = Vec::new();
    let ok = wait_until(Duration::from_secs(60), || {
        all = earlier.to_vec();
        for m in members {
            all.extend(python_records(&m.stdout()));
        }
        let seen: BTreeSet<&str> = all.iter().map(|r| r.value.as_str()).collect();
        produced.iter().all(|v| seen.contains(v.as_str()))
    });
    assert!(ok, "not everything consumed\n{}", dump_all(members));
    all
}

/// Two members split the topic 3/3; with `third`, a third joins (2/2/2); then the first is
/// SIGKILLed and the others take over its partitions from its committed offsets.
fn split_join_fail_over(client: Client, third: bool) {
    let broker = start_broker();
    create_topic(&broker, "t", PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let group = "g";
    let mut a = python_consumer(&broker, dir.path(), client, group, "a");
    let b = python_consumer(&broker, dir.path(), client, group, "b");
    let split = wait_assignments(&[&a, &b], &[3, 3]);

    let mut produced = produce_round(&broker, "t", 5, "one");
    wait_consumed(&[&a, &b], &[], &produced);
    for m in [&a, &b] {
        let parts: BTreeSet<i32> = python_records(&m.stdout())
            .iter()
            .map(|r| r.partition)
            .collect();
        let assigned = last_assignment(&m.stdout()).unwrap();
        assert_eq!(
            parts,
            assigned,
            "{}: printed records of other partitions\n{}",
            m.name,
            m.dump()
        );
    }

    let mut c = None;
    let mut rounds = 1;
    if third {
        let printed_before: Vec<usize> = [&a, &b].iter().map(|m| m.stdout().len()).collect();
        let joined = python_consumer(&broker, dir.path(), client, group, "c");
        let spread = wait_assignments(&[&a, &b, &joined], &[2, 2, 2]);
        if let Client::Confluent("cooperative-sticky") = client {
            // Sticky: the old members keep 2 of their 3 partitions.
            assert!(spread[0].is_subset(&split[0]), "{spread:?} after {split:?}");
            assert!(spread[1].is_subset(&split[1]), "{spread:?} after {split:?}");
            // Incremental: their partitions were never all revoked at once.
            for (m, from) in [&a, &b].iter().zip(&printed_before) {
                assert!(
                    !m.stdout()[*from..]
                        .lines()
                        .any(|l| l.trim() == "ASSIGNMENT"),
                    "{} lost its whole assignment in a cooperative rebalance\n{}",
                    m.name,
                    m.dump()
                );
            }
        }
        produced.extend(produce_round(&broker, "t", 5, "two"));
        wait_consumed(&[&a, &b, &joined], &[], &produced);
        let printed: BTreeSet<i32> = python_records(&joined.stdout())
            .iter()
            .map(|r| r.partition)
            .collect();
        assert_eq!(
            printed,
            spread[2],
            "the new member's records\n{}",
            joined.dump()
        );
        c = Some(joined);
        rounds = 2;
    }
    let per_partition = 5 * rounds;
    wait_committed(
        &broker,
        group,
        "t",
        &vec![per_partition; PARTITIONS as usize],
    );

    // SIGKILL the first member: no LeaveGroup, the others take over after the session timeout.
    let a_records = python_records(&a.stdout());
    let a_parts = last_assignment(&a.stdout()).unwrap();
    let survivors: Vec<&Background> = std::iter::once(&b).chain(c.as_ref()).collect();
    let printed_before: Vec<usize> = survivors.iter().map(|m| m.stdout().len()).collect();
    a.kill9();
    let sizes: Vec<usize> = if third { vec![3, 3] } else { vec![6] };
    wait_assignments(&survivors, &sizes);

    produced.extend(produce_round(&broker, "t", 5, "three"));
    let all = wait_consumed(&survivors, &a_records, &produced);
    assert_all_consumed(&all, &produced, &format!("{client:?}"));
    // A's partitions were resumed from its committed offsets: nothing below them printed again.
    for (m, from) in survivors.iter().zip(&printed_before) {
        let redelivered: Vec<Rec> = python_records(&m.stdout()[*from..])
            .into_iter()
            .filter(|r| a_parts.contains(&r.partition) && r.offset < per_partition)
            .collect();
        assert!(
            redelivered.is_empty(),
            "{} re-read below the committed offset {per_partition}: {redelivered:?}",
            m.name
        );
    }

    // Clean close: each survivor leaves and commits; both say CLOSED.
    let mut survivors: Vec<Background> = std::iter::once(b).chain(c).collect();
    for m in survivors.iter_mut() {
        m.close_stdin();
    }
    for m in survivors.iter_mut() {
        assert!(
            m.wait_exit(Duration::from_secs(30))
                .is_some_and(|s| s.success()),
            "{} did not close cleanly\n{}",
            m.name,
            m.dump()
        );
        assert!(m.stdout().contains("CLOSED"), "{}", m.dump());
    }
    wait_committed(
        &broker,
        group,
        "t",
        &vec![per_partition + 5; PARTITIONS as usize],
    );
}

#[test]
fn confluent_consumers_cooperative_sticky_split_join_fail_over() {
    split_join_fail_over(Client::Confluent("cooperative-sticky"), true);
}

#[test]
fn confluent_consumers_range_split_join_fail_over() {
    split_join_fail_over(Client::Confluent("range"), true);
}

#[test]
fn kafka_python_consumers_split_and_fail_over() {
    split_join_fail_over(Client::KafkaPython, false);
}

// ------------------------------------------------------------------------------------------------
// Static membership

/// The group as confluent-kafka's AdminClient describes it.
const DESCRIBE: &str = r#"
import sys, json
from confluent_kafka.admin import AdminClient
a = AdminClient({'bootstrap.servers': sys.argv[1]})
d = a.describe_consumer_groups([sys.argv[2]], request_timeout=20)[sys.argv[2]].result()
print(json.dumps({'state': d.state.name, 'assignor': d.partition_assignor,
                  'members': [{'member_id': m.member_id, 'instance': m.group_instance_id,
                               'client_id': m.client_id,
                               'assignment': sorted(tp.partition for tp in m.assignment.topic_partitions)}
                              for m in d.members]}))
"#;

fn describe_group(broker: &Broker, group: &str) -> Value {
    let out = python(DESCRIBE, &[&broker.bootstrap(), group]);
    let text = assert_success(&out, "describe script");
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", stderr_of(&out)))
}

/// Generation ids from librdkafka's cgrp debug log: `JoinGroup response: GenerationId N, ...`.
fn generations(stderr: &str) -> Vec<i64> {
    stderr
        .lines()
        .filter_map(|l| l.split("JoinGroup response: GenerationId ").nth(1))
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn static_membership_survives_restart_within_session_timeout() {
    let broker = start_broker();
    create_topic(&broker, "t", PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = broker.bootstrap();
    let static_member = |name: &str| {
        Background::python(
            CONFLUENT_CONSUMER,
            &[
                &bootstrap,
                "t",
                "static-group",
                "static-client",
                "group.instance.id=static-1",
                "session.timeout.ms=10000",
                "partition.assignment.strategy=range",
                "debug=cgrp",
            ],
            dir.path(),
            name,
        )
    };

    let mut first = static_member("first");
    let assignment = wait_assignments(&[&first], &[6]).remove(0);
    let produced = produce_round(&broker, "t", 3, "one");
    wait_consumed(&[&first], &[], &produced);
    let first_gen = *generations(&first.stderr())
        .last()
        .unwrap_or_else(|| panic!("no JoinGroup response in the debug log\n{}", first.dump()));

    let before = describe_group(&broker, "static-group");
    assert_eq!(before["state"], "STABLE", "{before}");
    let members = before["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{before}");
    assert_eq!(members[0]["instance"], "static-1", "{before}");
    assert_eq!(members[0]["client_id"], "static-client", "{before}");
    let want: Vec<i32> = assignment.iter().copied().collect();
    assert_eq!(
        members[0]["assignment"],
        serde_json::json!(want),
        "{before}"
    );

    // A static member's close commits but does not leave the group.
    first.close_stdin();
    assert!(
        first
            .wait_exit(Duration::from_secs(20))
            .is_some_and(|s| s.success()),
        "first run did not close\n{}",
        first.dump()
    );
    let closed = describe_group(&broker, "static-group");
    assert_eq!(closed["state"], "STABLE", "after close: {closed}");
    assert_eq!(
        closed["members"], before["members"],
        "the closed static member should still be in the group"
    );

    // Restarted within the 10 s session timeout: same assignment, same generation, no rebalance.
    let second = static_member("second");
    let again = wait_assignments(&[&second], &[6]).remove(0);
    assert_eq!(again, assignment);
    let second_gens = generations(&second.stderr());
    assert_eq!(
        second_gens,
        vec![first_gen],
        "the restarted static member should rejoin generation {first_gen}\n{}",
        second.dump()
    );
    let after = describe_group(&broker, "static-group");
    assert_eq!(after["state"], "STABLE", "{after}");
    let members = after["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{after}");
    assert_eq!(members[0]["instance"], "static-1", "{after}");
    assert_eq!(members[0]["assignment"], serde_json::json!(want), "{after}");

    // It resumes from the offsets the first run committed on close.
    let more = produce_round(&broker, "t", 2, "two");
    let recs = {
        wait_consumed(&[&second], &[], &more);
        python_records(&second.stdout())
    };
    assert!(
        recs.iter().all(|r| r.value.starts_with("two-")),
        "the restarted member re-read committed records: {recs:?}"
    );
}
