//! Milena's files are Kafka's files (ARCHITECTURE invariant 6), checked by Kafka's own reader:
//! `kafka-dump-log.sh` (DumpLogSegments) parses the segments Milena wrote, verifies their
//! offset and time indexes against the log, and decodes `__consumer_offsets` records with
//! Kafka's group-coordinator schemas.

use crate::support;

use support::*;

fn dump_log(args: &[&str]) -> String {
    let out = kafka_tool("kafka-dump-log.sh", args);
    assert_success(&out, "kafka-dump-log.sh")
}

#[test]
fn kafka_reads_milena_segments_indexes_and_consumer_offsets() {
    let mut broker = Broker::start_with(&[("group.initial.rebalance.delay.ms", "0")]);
    assert_success(
        &topics(
            &broker,
            &["--create", "--partitions", "1", "--topic", "formats"],
        ),
        "create",
    );
    // Enough data for several index entries (one per log.index.interval.bytes = 4096).
    let input: String = (0..3000)
        .map(|i| format!("record-number-{i:06}\n"))
        .collect();
    assert_success(
        &kafka_tool_stdin(
            "kafka-console-producer.sh",
            &[
                "--bootstrap-server",
                &broker.bootstrap(),
                "--topic",
                "formats",
            ],
            &input,
        ),
        "producer",
    );
    let consumed = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--topic",
            "formats",
            "--group",
            "dumped",
            "--from-beginning",
            "--max-messages",
            "3000",
            "--timeout-ms",
            "30000",
        ],
    );
    assert_success(&consumed, "console consumer");
    broker.stop();

    let dir = broker.log_dir().join("formats-0");
    let log = dir.join("00000000000000000000.log");
    let text = dump_log(&["--files", log.to_str().unwrap(), "--print-data-log"]);
    let records = text.lines().filter(|l| l.starts_with("| offset:")).count();
    assert_eq!(records, 3000, "{}", &text[..text.len().min(2000)]);
    assert!(text.contains("payload: record-number-000000"));
    assert!(text.contains("payload: record-number-002999"));
    assert!(
        !text.contains("isvalid: false"),
        "Kafka found a batch with a bad CRC"
    );

    for index in [
        "00000000000000000000.index",
        "00000000000000000000.timeindex",
    ] {
        let path = dir.join(index);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 0,
            "{index} has entries"
        );
        let text = dump_log(&["--files", path.to_str().unwrap(), "--verify-index-only"]);
        assert!(
            !text.contains("Mismatches") && !text.contains("mismatch"),
            "{index}: {text}"
        );
        let text = dump_log(&["--files", path.to_str().unwrap(), "--index-sanity-check"]);
        assert!(text.contains("passed sanity check"), "{index}: {text}");
    }

    // The group's metadata and committed offsets, decoded by Kafka's schemas.
    let offsets_dir = std::fs::read_dir(broker.log_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("__consumer_offsets-")
                && std::fs::metadata(p.join("00000000000000000000.log"))
                    .map(|m| m.len() > 0)
                    .unwrap_or(false)
        })
        .expect("a non-empty __consumer_offsets partition");
    let text = dump_log(&[
        "--files",
        offsets_dir
            .join("00000000000000000000.log")
            .to_str()
            .unwrap(),
        "--offsets-decoder",
    ]);
    assert!(
        text.contains(r#"key: {"type":"2","data":{"group":"dumped"}}"#),
        "{text}"
    );
    assert!(text.contains(r#""protocolType":"consumer""#), "{text}");
    assert!(
        text.contains(
            r#"key: {"type":"1","data":{"group":"dumped","topic":"formats","partition":0}}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"{"offset":3000,"#),
        "the committed position: {text}"
    );
}
