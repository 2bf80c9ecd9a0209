//! The compatibility matrix (compat-tests/run.sh) against a Milena started by the test harness:
//! one test per client family (java-4.4 and cli-4.4 are the Apache Kafka 4.4.0 client and tools),
//! each with its own broker, so that `scripts/test.sh`'s summary
//! counts a family as failed when any of its cells fails.
//!
//! A cell passes when the family's program passes its own checks and prints exactly what Apache
//! Kafka 4.1 showed the same client (compat-tests/expected/, recorded by `run.sh --diff
//! --record`), unless compat-tests/FINDINGS.md lists the difference. With
//! `MILENA_TEST_REFERENCE=1` the harness starts Apache Kafka instead, which checks the recorded
//! observations themselves. The differential run proper is `compat-tests/run.sh --diff`.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

/// The settings run.sh gives both brokers (its COMMON_PROPS), so that outputs match expected/.
const COMMON_PROPS: &[(&str, &str)] = &[
    ("group.initial.rebalance.delay.ms", "0"),
    ("offsets.topic.replication.factor", "1"),
    ("log.segment.bytes", "1073741824"),
    ("transaction.state.log.replication.factor", "1"),
    ("transaction.state.log.min.isr", "1"),
    ("num.partitions", "1"),
];

/// Generous: the slowest family (kafkajs, a group join per read) takes about 2 minutes on 2 busy cores.
const FAMILY_TIMEOUT: Duration = Duration::from_secs(600);

fn family(name: &str) {
    let broker = Broker::start_with(COMMON_PROPS);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::Builder::new()
        .prefix("milena-compat-")
        .tempdir()
        .expect("temp dir");
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("compat-tests/run.sh"))
        .args([
            "--families",
            name,
            "--bootstrap",
            &broker.bootstrap(),
            "--no-readme",
            "--out",
        ])
        .arg(out.path());
    let result = run_with_timeout(&mut cmd, None, FAMILY_TIMEOUT);
    let output = match result {
        Ok(o) => o,
        Err(e) => panic!("compat-tests/run.sh --families {name}: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "compat matrix, family {name}: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- broker log (tail)\n{}",
        output.status,
        tail(&broker.log(), 40)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn compat_java() {
    family("java");
}

/// The newest Apache Kafka's Java client (4.4.0), same scenarios.
#[test]
fn compat_java_newest() {
    family("java-4.4");
}

#[test]
fn compat_confluent_kafka_librdkafka() {
    family("confluent");
}

#[test]
fn compat_kcat() {
    family("kcat");
}

#[test]
fn compat_kafka_python() {
    family("kafka-python");
}

#[test]
fn compat_kafkajs() {
    family("kafkajs");
}

#[test]
fn compat_franz_go() {
    family("franz-go");
}

#[test]
fn compat_sarama() {
    family("sarama");
}

#[test]
fn compat_raw_bad_requests() {
    family("raw");
}

#[test]
fn compat_stock_tools_connect_streams() {
    family("cli");
}

/// The newest Apache Kafka's stock tools, Connect and Streams (4.4.0).
#[test]
fn compat_stock_tools_connect_streams_newest() {
    family("cli-4.4");
}
