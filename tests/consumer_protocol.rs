//! KIP-848 consumer groups (`group.protocol=consumer`) with the stock Kafka 4.1 tools:
//!
//! - two `kafka-console-consumer.sh` members split a 6-partition topic 3 + 3, as
//!   `kafka-consumer-groups.sh --describe --members` shows (through ConsumerGroupDescribe: the
//!   verbose view has the epochs and target assignments only that API carries);
//! - one is killed; within the session timeout the other owns all 6 partitions and reads every
//!   record produced after the kill;
//! - after a broker restart the group is listed as an Empty consumer group with its offsets,
//!   and it can be deleted.
//!
//! Kafka refuses a `group.consumer.session.timeout.ms` below `group.consumer.min.session.timeout.ms`
//! (45 s by default), so both are lowered here, and the heartbeat interval with its minimum.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::*;

const PROPS: &[(&str, &str)] = &[
    ("group.initial.rebalance.delay.ms", "0"),
    ("group.consumer.min.session.timeout.ms", "6000"),
    ("group.consumer.session.timeout.ms", "6000"),
    ("group.consumer.min.heartbeat.interval.ms", "1000"),
    ("group.consumer.heartbeat.interval.ms", "1000"),
];

fn tool(broker: &Broker, name: &str, args: &[&str]) -> std::process::Output {
    let bootstrap = broker.bootstrap();
    let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
    all.extend_from_slice(args);
    kafka_tool(name, &all)
}

fn groups_tool(broker: &Broker, args: &[&str]) -> String {
    let out = tool(broker, "kafka-consumer-groups.sh", args);
    format!("{}{}", stdout_of(&out), stderr_of(&out))
}

/// Produces `key:value` lines with keys k1..kN, which spread over the partitions.
fn produce(broker: &Broker, topic: &str, prefix: &str, n: usize) -> BTreeSet<String> {
    let records: Vec<(String, String)> = (1..=n)
        .map(|i| (format!("k{}", i - 1), format!("{prefix}{i}")))
        .collect();
    produce_keyed(broker, topic, &records);
    records.into_iter().map(|(_, v)| v).collect()
}

fn consumer(broker: &Broker, dir: &std::path::Path, name: &str) -> Background {
    let bootstrap = broker.bootstrap();
    Background::kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "t6",
            "--group",
            "g",
            "--consumer-property",
            "group.protocol=consumer",
            "--consumer-property",
            "auto.commit.interval.ms=500",
        ],
        dir,
        name,
    )
}

/// `consumer id -> #partitions` from `--describe --members`.
fn members(broker: &Broker) -> BTreeMap<String, usize> {
    let text = groups_tool(broker, &["--describe", "--group", "g", "--members"]);
    text.lines()
        .filter(|l| l.starts_with("g "))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            Some((cols.get(1)?.to_string(), cols.get(4)?.parse().ok()?))
        })
        .collect()
}

fn lines(b: &Background) -> BTreeSet<String> {
    b.stdout().lines().map(str::to_string).collect()
}

#[test]
fn console_consumers_split_a_topic_and_the_survivor_takes_over() {
    let mut broker = Broker::start_with(PROPS);
    let out = tool(
        &broker,
        "kafka-topics.sh",
        &["--create", "--topic", "t6", "--partitions", "6"],
    );
    assert_success(&out, "kafka-topics.sh --create");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c1 = consumer(&broker, dir.path(), "c1");
    let mut c2 = consumer(&broker, dir.path(), "c2");

    let split = wait_until(Duration::from_secs(60), || {
        let m = members(&broker);
        m.len() == 2 && m.values().all(|&n| n == 3)
    });
    assert!(
        split,
        "no 3 + 3 split: {:?}\n{}{}",
        members(&broker),
        c1.dump(),
        c2.dump()
    );
    // The verbose view comes from ConsumerGroupDescribe: epochs and target assignments.
    let verbose = groups_tool(
        &broker,
        &["--describe", "--group", "g", "--members", "--verbose"],
    );
    assert!(verbose.contains("TARGET-ASSIGNMENT"), "{verbose}");
    let state = groups_tool(
        &broker,
        &["--describe", "--group", "g", "--state", "--verbose"],
    );
    let row = state.lines().find(|l| l.starts_with("g ")).unwrap_or("");
    assert!(row.contains("uniform") && row.contains("Stable"), "{state}");

    // Both members read; everything is read once the group is stable.
    let first = produce(&broker, "t6", "a", 60);
    assert!(
        wait_until(Duration::from_secs(30), || {
            lines(&c1)
                .union(&lines(&c2))
                .cloned()
                .collect::<BTreeSet<_>>()
                == first
        }),
        "not every record read\n{}{}",
        c1.dump(),
        c2.dump()
    );
    assert!(!lines(&c1).is_empty() && !lines(&c2).is_empty());
    // Committed offsets for all six partitions before one member dies.
    let committed = wait_until(Duration::from_secs(20), || {
        let text = groups_tool(&broker, &["--describe", "--group", "g", "--offsets"]);
        let rows: Vec<Vec<String>> = text
            .lines()
            .filter(|l| l.starts_with("g "))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect();
        rows.len() == 6 && rows.iter().all(|r| r.get(3) == r.get(4))
    });
    assert!(committed, "offsets not committed");

    c1.kill9();
    let second = produce(&broker, "t6", "b", 60);
    let took_over = wait_until(Duration::from_secs(20), || {
        let m = members(&broker);
        m.len() == 1 && m.values().all(|&n| n == 6)
    });
    assert!(
        took_over,
        "no takeover: {:?}\n{}",
        members(&broker),
        c2.dump()
    );
    assert!(
        wait_until(Duration::from_secs(30), || lines(&c2).is_superset(&second)),
        "records produced after the kill were missed: {:?}\n{}",
        second.difference(&lines(&c2)).collect::<Vec<_>>(),
        c2.dump()
    );
    assert!(c2.is_running(), "{}", c2.dump());

    // The group survives a restart as an Empty consumer group with its offsets.
    c2.kill9();
    broker.restart();
    let listed = groups_tool(&broker, &["--list", "--type", "--state"]);
    let row = listed.lines().find(|l| l.starts_with("g ")).unwrap_or("");
    assert!(
        row.split_whitespace().eq(["g", "Consumer", "Empty"]),
        "{listed}"
    );
    let offsets = groups_tool(&broker, &["--describe", "--group", "g", "--offsets"]);
    let rows = offsets.lines().filter(|l| l.starts_with("g ")).count();
    assert_eq!(rows, 6, "{offsets}");
    let deleted = groups_tool(&broker, &["--delete", "--group", "g"]);
    assert!(deleted.contains("successful"), "{deleted}");
    let listed = groups_tool(&broker, &["--list"]);
    assert!(!listed.lines().any(|l| l.trim() == "g"), "{listed}");
}
