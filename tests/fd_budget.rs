//! File descriptors are a budgeted resource (issue 14, item 4). The broker runs under a low
//! open-file limit (`prlimit --nofile=N:N`, soft = hard so it cannot raise it) and is driven with
//! the stock `kafka-topics.sh` and kcat:
//!
//! - a partition holds one descriptor at rest: the open count grows by about one per partition;
//! - past the budget CreateTopics answers an error, and the topic is not left half-created;
//! - with descriptors exhausted by connections, the listener keeps going and serves again once
//!   they close;
//! - the data survives a restart, and the broker starts under a limit below its partition count
//!   (loading is lazy) and serves produce and consume;
//! - CreatePartitions past the budget answers an error; the partitions open at the next start.

use crate::support;

use std::net::TcpStream;
use std::time::Duration;

use support::*;

const LIMIT: u64 = 400;
const FIRST: i32 = 200;
const TOO_MANY: i32 = 300;

fn open_fds(broker: &Broker) -> usize {
    let pid = broker.pid().expect("broker runs");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/<pid>/fd")
        .count()
}

fn topic_names(broker: &Broker) -> String {
    assert_success(&kcat(&["-L", "-b", &broker.bootstrap()]), "kcat -L")
}

fn produce(broker: &Broker, topic: &str, partition: i32, lines: &str) {
    let p = partition.to_string();
    let out = kcat_stdin(
        &["-P", "-b", &broker.bootstrap(), "-t", topic, "-p", &p],
        lines,
    );
    assert_success(&out, "kcat -P");
}

fn values(broker: &Broker, topic: &str, partition: i32) -> Vec<String> {
    consume_all(broker, topic)
        .remove(&partition)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn partitions_hold_one_descriptor_and_an_exhausted_budget_is_reported_not_fatal() {
    if reference_mode() {
        // Kafka's JVM alone needs more descriptors than this budget; nothing to compare.
        eprintln!("skipped in reference mode");
        return;
    }
    let mut broker = Broker::start_limited(&[], Some(LIMIT));
    let base = open_fds(&broker);

    // One descriptor per partition at rest (its active segment), not three.
    let out = topics(
        &broker,
        &[
            "--create",
            "--topic",
            "t1",
            "--partitions",
            &FIRST.to_string(),
        ],
    );
    assert_success(&out, "create t1");
    let with_t1 = open_fds(&broker);
    eprintln!("open fds: {base} at start, {with_t1} with {FIRST} partitions");
    assert!(
        with_t1 <= base + FIRST as usize + 8,
        "{with_t1} descriptors open for {FIRST} partitions (at start {base})"
    );

    // Past the budget: an error to the client, and no half-created topic.
    let out = topics(
        &broker,
        &[
            "--create",
            "--topic",
            "t2",
            "--partitions",
            &TOO_MANY.to_string(),
        ],
    );
    let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(
        !out.status.success() || text.contains("Error"),
        "creating t2 past the open-file limit must fail: {text}"
    );
    eprintln!("kafka-topics.sh on t2: {text}");
    assert!(text.contains("could not open the logs"), "{text}");
    let listing = topic_names(&broker);
    assert!(
        listing.contains("topic \"t1\" with 200 partitions"),
        "{listing}"
    );
    assert!(!listing.contains("\"t2\""), "t2 must not exist: {listing}");
    let left: Vec<_> = std::fs::read_dir(broker.log_dir())
        .expect("log dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("t2-"))
        .collect();
    assert!(left.is_empty(), "directories of t2 left behind: {left:?}");
    let after = open_fds(&broker);
    assert!(
        after <= with_t1 + 8,
        "t2's partitions were closed again: {after} open (was {with_t1})"
    );
    assert!(broker.log().contains("cannot open partition log"));

    // Produce and consume still work.
    produce(&broker, "t1", 0, "a\nb\n");
    produce(&broker, "t1", FIRST - 1, "z\n");
    assert_eq!(values(&broker, "t1", 0), ["a", "b"]);

    // Descriptors exhausted by connections: the listener backs off and carries on.
    let mut held = Vec::new();
    while open_fds(&broker) < LIMIT as usize && held.len() < LIMIT as usize {
        match TcpStream::connect(broker.addr()) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
        if held.len() % 50 == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // A few more wait in the backlog while accept fails with EMFILE.
    for _ in 0..5 {
        held.extend(TcpStream::connect(broker.addr()).ok());
    }
    assert!(
        wait_until(Duration::from_secs(10), || broker
            .log()
            .contains("accept failed")),
        "accept never hit the limit ({} connections, {} fds)",
        held.len(),
        open_fds(&broker)
    );
    assert!(broker.is_running());
    drop(held);
    assert!(
        wait_until(Duration::from_secs(20), || open_fds(&broker) <= after + 8),
        "connections not closed: {} open",
        open_fds(&broker)
    );
    produce(&broker, "t1", 1, "c\n");
    assert_eq!(values(&broker, "t1", 1), ["c"]);

    // A clean restart with the data, under the same limit; loading holds nothing.
    broker.restart();
    let restarted = open_fds(&broker);
    eprintln!("open fds after restart with {FIRST} partitions: {restarted}");
    assert!(restarted <= base + 8, "{restarted} open after restart");
    assert_eq!(values(&broker, "t1", 0), ["a", "b"]);
    assert_eq!(values(&broker, "t1", FIRST - 1), ["z"]);

    // Below the partition count the broker still starts and serves (after a crash, too).
    broker.kill9();
    broker.nofile = Some(FIRST as u64 - 50);
    broker.start_again();
    assert_eq!(values(&broker, "t1", 0), ["a", "b"]);
    produce(&broker, "t1", 0, "d\n");
    assert_eq!(values(&broker, "t1", 0), ["a", "b", "d"]);
    assert_eq!(values(&broker, "t1", 1), ["c"]);
    assert!(topic_names(&broker).contains("topic \"t1\" with 200 partitions"));

    // CreatePartitions past the budget: an error too (the partitions cannot be taken back out
    // of the metadata; they stay offline and are tried again later).
    let more = (2 * FIRST).to_string();
    let out = topics(
        &broker,
        &["--alter", "--topic", "t1", "--partitions", &more],
    );
    let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
    eprintln!("kafka-topics.sh --alter past the budget: {text}");
    assert!(text.contains("could not open the logs"), "{text}");
    assert!(broker.is_running());
    // The stock tool (DescribeTopicPartitions) names the offline partitions as unavailable.
    let out = topics(
        &broker,
        &["--describe", "--topic", "t1", "--unavailable-partitions"],
    );
    let text = stdout_of(&out);
    let last = format!("Partition: {}\tLeader: none", 2 * FIRST - 1);
    assert!(text.contains(&last), "{text}");
    assert!(!text.contains("Partition: 0\t"), "{text}");
    // A clean stop under the exhausted budget, and a start that opens everything lazily.
    broker.stop();
    broker.nofile = Some(LIMIT);
    broker.start_again();
    assert!(topic_names(&broker).contains("topic \"t1\" with 400 partitions"));
    produce(&broker, "t1", 2 * FIRST - 1, "new\n");
    assert_eq!(values(&broker, "t1", 2 * FIRST - 1), ["new"]);
    assert_eq!(values(&broker, "t1", 0), ["a", "b", "d"]);
}
