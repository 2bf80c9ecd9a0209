//! Log compaction end to end, as kcat and the stock Kafka tools see it: the latest value of
//! every key survives with its offset (consumers see gaps), tombstones go after
//! delete.retention.ms, keyless records are refused, a policy switched with kafka-configs.sh
//! takes effect live, and a kill -9 in the middle of a cleaning pass loses nothing.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::{assert_success, kafka_tool, kcat, kcat_stdin, stderr_of, wait_until, Broker};

/// Broker settings that let the cleaner look often.
const CLEANER_PROPS: &[(&str, &str)] = &[
    ("log.cleaner.backoff.ms", "200"),
    ("log.retention.check.interval.ms", "1000"),
];

/// Topic configs of a quickly compacted topic.
const COMPACT_CONFIGS: &[&str] = &[
    "cleanup.policy=compact",
    "segment.ms=100",
    "min.cleanable.dirty.ratio=0.01",
    "delete.retention.ms=2000",
];

fn create(broker: &Broker, topic: &str, configs: &[&str]) {
    let mut args = vec![
        "--create",
        "--topic",
        topic,
        "--partitions",
        "1",
        "--replication-factor",
        "1",
    ];
    for c in configs {
        args.extend(["--config", c]);
    }
    assert_success(&support::topics(broker, &args), "kafka-topics.sh --create");
}

/// Produces `key:value` lines with kcat; an empty value is sent as a null (a tombstone).
fn produce(broker: &Broker, topic: &str, lines: &[String]) {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = kcat_stdin(
        &[
            "-P",
            "-b",
            &broker.bootstrap(),
            "-t",
            topic,
            "-K",
            ":",
            "-Z",
        ],
        &input,
    );
    assert_success(&out, "kcat -P");
}

/// A record as kcat reads it: (offset, key, value; None for a tombstone).
type Read = (i64, String, Option<String>);

fn read_all(broker: &Broker, topic: &str) -> Vec<Read> {
    let out = kcat(&[
        "-C",
        "-b",
        &broker.bootstrap(),
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%o\t%k\t%S\t%s\n",
    ]);
    let text = assert_success(&out, "kcat -C");
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(4, '\t');
            let offset = parts.next().unwrap().parse().unwrap();
            let key = parts.next().unwrap().to_string();
            let len: i64 = parts.next().unwrap().parse().unwrap();
            let value = parts.next().unwrap_or("").to_string();
            (offset, key, (len >= 0).then_some(value))
        })
        .collect()
}

/// The latest (offset, value) per key of what was produced, offsets counted from 0.
fn latest(produced: &[String]) -> BTreeMap<String, (i64, Option<String>)> {
    let mut out = BTreeMap::new();
    for (offset, line) in produced.iter().enumerate() {
        let (k, v) = line.split_once(':').unwrap();
        let value = (!v.is_empty()).then(|| v.to_string());
        out.insert(k.to_string(), (offset as i64, value));
    }
    out
}

/// Whether the log holds exactly the live latest records, each at its original offset.
fn fully_compacted(read: &[Read], want: &BTreeMap<String, (i64, Option<String>)>) -> bool {
    let live: Vec<Read> = want
        .iter()
        .filter(|(_, (_, v))| v.is_some())
        .map(|(k, (o, v))| (*o, k.clone(), v.clone()))
        .collect();
    let mut live = live;
    live.sort();
    read == live.as_slice()
}

#[test]
fn compacted_topic_keeps_the_latest_value_per_key_at_its_offset() {
    let broker = Broker::start_with(CLEANER_PROPS);
    create(&broker, "changelog", COMPACT_CONFIGS);
    let mut produced = Vec::new();
    for round in 0..3 {
        let batch: Vec<String> = (0..10)
            .filter(|k| round == 0 || k % 2 == 0)
            .map(|k| format!("key{k}:value{k}-round{round}"))
            .collect();
        produce(&broker, "changelog", &batch);
        produced.extend(batch);
        std::thread::sleep(Duration::from_millis(300));
    }
    let deletes = vec!["key4:".to_string(), "key7:".to_string()];
    produce(&broker, "changelog", &deletes);
    produced.extend(deletes);
    // segment.ms rolls at the next append, as in Kafka: the tombstones get sealed, cleanable.
    // (A new key: the active segment is never cleaned nor mapped, so a key written there
    // would leave its previous value in the sealed part too.)
    std::thread::sleep(Duration::from_millis(300));
    let last = vec!["end:the-end".to_string()];
    produce(&broker, "changelog", &last);
    produced.extend(last);
    let want = latest(&produced);

    let mut read = Vec::new();
    let done = wait_until(Duration::from_secs(40), || {
        read = read_all(&broker, "changelog");
        fully_compacted(&read, &want)
    });
    assert!(
        done,
        "never fully compacted; consumer reads {read:#?}\nwant {want:#?}\n{}",
        broker.log()
    );
    // Offsets kept: the consumer sees gaps, not renumbered records.
    assert!(read.windows(2).any(|w| w[1].0 > w[0].0 + 1));
    assert!(read.iter().all(|(_, k, _)| k != "key4" && k != "key7"));
}

#[test]
fn keyless_records_are_refused_once_a_live_topic_is_switched_to_compact() {
    let broker = Broker::start_with(CLEANER_PROPS);
    create(&broker, "switched", &["segment.ms=100"]);
    let keyless = kcat_stdin(
        &["-P", "-b", &broker.bootstrap(), "-t", "switched"],
        "no key\n",
    );
    assert_success(&keyless, "keyless produce to a delete-policy topic");
    let produced: Vec<String> = (0..30).map(|i| format!("k{}:v{i}", i % 3)).collect();
    produce(&broker, "switched", &produced);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        read_all(&broker, "switched").len(),
        31,
        "nothing cleaned yet"
    );

    let bootstrap = broker.bootstrap();
    let altered = kafka_tool(
        "kafka-configs.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "switched",
            "--add-config",
            "cleanup.policy=compact,min.cleanable.dirty.ratio=0.01",
        ],
    );
    assert_success(&altered, "kafka-configs.sh --alter");

    // The cleaner takes the topic up without a restart; the keyless record goes too.
    let mut read = Vec::new();
    let compacted = wait_until(Duration::from_secs(40), || {
        read = read_all(&broker, "switched");
        read.len() == 3
    });
    assert!(
        compacted,
        "not compacted after the switch: {read:?}\n{}",
        broker.log()
    );
    let keys: Vec<&str> = read.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(keys, ["k0", "k1", "k2"]);
    assert_eq!(
        read.iter().map(|r| r.0).collect::<Vec<_>>(),
        [28, 29, 30],
        "the last record of each key, at its offset"
    );

    let refused = kcat_stdin(
        &["-P", "-b", &broker.bootstrap(), "-t", "switched"],
        "no key\n",
    );
    let err = stderr_of(&refused);
    assert!(
        err.contains("Broker failed to validate record"),
        "kcat should report INVALID_RECORD: {err}"
    );
}

#[test]
fn kill_9_in_the_middle_of_cleaning_loses_no_latest_value() {
    // A slow cleaner (200 kB/s) over a few MB, so the kill lands mid-pass.
    let mut props = CLEANER_PROPS.to_vec();
    props.push(("log.cleaner.io.max.bytes.per.second", "200000"));
    let mut broker = Broker::start_with(&props);
    create(
        &broker,
        "big",
        &[
            "cleanup.policy=compact",
            "segment.bytes=1048576",
            "segment.ms=100",
            "min.cleanable.dirty.ratio=0.01",
        ],
    );
    let pad = "x".repeat(200);
    let produced: Vec<String> = (0..15_000)
        .map(|i| format!("key{}:{i}-{pad}", i % 500))
        .collect();
    for chunk in produced.chunks(5_000) {
        produce(&broker, "big", chunk);
    }
    let dir = broker.log_dir().join("big-0");
    let mid_clean = wait_until(Duration::from_secs(60), || {
        std::fs::read_dir(&dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(".cleaned"))
        })
    });
    assert!(mid_clean, "the cleaner never started\n{}", broker.log());
    std::thread::sleep(Duration::from_millis(500));
    broker.kill9();
    broker.start_again();

    let want = latest(&produced);
    let read = read_all(&broker, "big");
    let mut seen = BTreeMap::new();
    for (offset, key, value) in &read {
        seen.insert(key.clone(), (*offset, value.clone()));
    }
    assert_eq!(seen, want, "every key's latest value survives the crash");
    assert!(read.windows(2).all(|w| w[1].0 > w[0].0));
    // The restarted cleaner finishes the job once an append rolls the last segment.
    std::thread::sleep(Duration::from_millis(300));
    produce(&broker, "big", &["sentinel:last".to_string()]);
    let mut read = Vec::new();
    let done = wait_until(Duration::from_secs(90), || {
        read = read_all(&broker, "big");
        read.len() == 501
    });
    assert!(done, "{} records left\n{}", read.len(), broker.log());
}
