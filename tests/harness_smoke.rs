//! The test harness itself works: the stock Kafka tools from $MILENA_KAFKA_DIST run (no broker needed).
use crate::support;

use support::*;

#[test]
fn kafka_topics_version_runs() {
    let out = kafka_tool("kafka-topics.sh", &["--version"]);
    let stdout = assert_success(&out, "kafka-topics.sh --version");
    assert!(
        stdout.trim().starts_with("4.1."),
        "expected an Apache Kafka 4.1.x version, got {stdout:?}"
    );
}
