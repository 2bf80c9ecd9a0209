//! Kafka Streams' stock `org.apache.kafka.streams.examples.wordcount.WordCountDemo`, run with
//! `kafka-run-class.sh` from `$MILENA_KAFKA_DIST`, and what tests need around it: deterministic
//! input lines and their true word counts, console producers (one-shot and slow), the output
//! topic's count updates as kcat reads them at either isolation level, and the exactly-once
//! checks. Shared by the single-node test (tests/transactions_clients.rs) and the 3-node one
//! (tests/cluster_transactions.rs); every helper takes a bootstrap list, so either a `Broker` or
//! a `Cluster` can serve it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::{
    assert_success, fast_jvm_opts, kafka_dist, kafka_tool_stdin, kcat, wait_until, write_file,
    Background,
};

/// The topics the stock demo reads and writes (it creates neither).
pub const WORDS_IN: &str = "streams-plaintext-input";
pub const COUNTS_OUT: &str = "streams-wordcount-output";
/// Its application id: the consumer group, the prefix of its internal topics and of its
/// transactional ids.
pub const APPLICATION_ID: &str = "streams-wordcount";

const VOCABULARY: [&str; 8] = [
    "kafka", "milena", "streams", "count", "exactly", "once", "broker", "word",
];

/// How long a librdkafka call in these helpers may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Input lines `from..from + n`: one to four words each, deterministic.
pub fn text_lines(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            (0..1 + i % 4)
                .map(|j| VOCABULARY[(i * 3 + j * 5 + i / 7) % VOCABULARY.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

pub fn add_counts(counts: &mut BTreeMap<String, i64>, lines: &[String]) {
    for line in lines {
        for word in line.split_whitespace() {
            *counts.entry(word.to_string()).or_default() += 1;
        }
    }
}

/// Lets `org.apache.kafka.streams.KafkaStreams` log its state transitions (INFO) to stderr, and
/// the producer's `TransactionManager` its coordinator look-ups and producer epochs; everything
/// else at WARN.
const STREAMS_LOG4J: &str = r#"Configuration:
  Appenders:
    Console:
      name: STDERR
      target: SYSTEM_ERR
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDERR
    Logger:
      - name: org.apache.kafka.streams.KafkaStreams
        level: INFO
      - name: org.apache.kafka.clients.producer.internals.TransactionManager
        level: INFO
"#;

/// Writes the demo's configuration into `dir` (`wordcount.properties`, read by
/// `word_count_demo`, and its log4j file): exactly_once_v2, one stream thread, a commit every
/// second (EOS's default is 100 ms: a longer interval makes an open transaction easy to catch),
/// the state under `dir/state`, then `extra` lines (`key=value\n`, e.g. `replication.factor`).
pub fn write_demo_config(dir: &Path, bootstrap: &str, extra: &str) {
    write_file(dir, "streams-log4j2.yaml", STREAMS_LOG4J);
    write_file(
        dir,
        "wordcount.properties",
        &format!(
            "application.id={APPLICATION_ID}\n\
             bootstrap.servers={bootstrap}\n\
             processing.guarantee=exactly_once_v2\n\
             commit.interval.ms=1000\n\
             num.stream.threads=1\n\
             state.dir={}\n\
             session.timeout.ms=6000\n\
             heartbeat.interval.ms=1000\n\
             {extra}",
            dir.join("state").display()
        ),
    );
}

/// `kafka-run-class.sh org.apache.kafka.streams.examples.wordcount.WordCountDemo <props>`; the
/// demo reads its configuration from the file named by its first argument (see
/// `write_demo_config`).
pub fn word_count_demo(dir: &Path, name: &str) -> Background {
    let mut cmd = Command::new(kafka_dist().join("bin").join("kafka-run-class.sh"));
    cmd.arg("org.apache.kafka.streams.examples.wordcount.WordCountDemo")
        .arg(dir.join("wordcount.properties"))
        .env(
            "KAFKA_LOG4J_OPTS",
            format!(
                "-Dlog4j2.configurationFile={}",
                dir.join("streams-log4j2.yaml").display()
            ),
        )
        .env("KAFKA_JVM_PERFORMANCE_OPTS", fast_jvm_opts().join(" "));
    Background::spawn(cmd, dir, name)
}

/// Waits until the Streams client logs that it is RUNNING (tasks assigned and restored).
#[track_caller]
pub fn wait_running(streams: &mut Background, timeout: Duration) {
    let started = Instant::now();
    let running = wait_until(timeout, || {
        streams
            .stderr()
            .contains("State transition from REBALANCING to RUNNING")
            || !streams.is_running()
    });
    assert!(
        running && streams.is_running(),
        "{} not RUNNING within {timeout:?}\n{}",
        streams.name,
        streams.dump()
    );
    eprintln!("{} RUNNING after {:?}", streams.name, started.elapsed());
}

/// `kafka-console-producer.sh` (idempotent, acks=all) with `lines` on stdin (one record each, no
/// key) to the demo's input topic.
#[track_caller]
pub fn produce_lines(bootstrap: &str, lines: &[String]) {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &["--bootstrap-server", bootstrap, "--topic", WORDS_IN],
        &input,
    );
    assert_success(&out, "kafka-console-producer.sh");
}

/// `kafka-console-producer.sh` in the background, fed `lines` one every 40 ms (the lines are
/// written to `dir/<name>.txt` first); it exits by itself after the last one.
pub fn slow_producer(dir: &Path, bootstrap: &str, lines: &[String], name: &str) -> Background {
    let path = write_file(
        dir,
        &format!("{name}.txt"),
        &lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(
            r#"while IFS= read -r line; do printf '%s\n' "$line"; sleep 0.04; done < "$1" \
               | "$2" --bootstrap-server "$3" --topic "$4" --timeout 20"#,
        )
        .arg(name)
        .arg(&path)
        .arg(kafka_dist().join("bin").join("kafka-console-producer.sh"))
        .arg(bootstrap)
        .arg(WORDS_IN)
        .env("KAFKA_JVM_PERFORMANCE_OPTS", fast_jvm_opts().join(" "));
    Background::spawn(cmd, dir, name)
}

/// Input arriving slowly while the Streams producer has a transaction open: see
/// `slow_input_until_open_transaction`.
pub struct SlowInput {
    /// The slow producer, still running unless it has finished its lines.
    pub producer: Background,
    pub started: Instant,
    /// ListOffsets readers of the output topic (`watermark_reader`) at both isolation levels.
    pub uncommitted: BaseConsumer,
    pub committed: BaseConsumer,
    /// Offsets of the output topic in open transactions when the moment was caught.
    pub open: i64,
}

/// Starts `slow_producer` with `lines` through `bootstrap`, then waits (at most `timeout`) for a
/// moment when the Streams producer has a transaction open with updates in the output topic
/// (its `partitions` have last stable offsets below their high watermarks). A commit every
/// second (`write_demo_config`) makes such a moment easy to catch, and the race of whatever the
/// caller does next with the commit rare. Panics if none comes or `streams` exits.
#[track_caller]
pub fn slow_input_until_open_transaction(
    dir: &Path,
    bootstrap: &str,
    lines: &[String],
    streams: &mut Background,
    partitions: i32,
    timeout: Duration,
) -> SlowInput {
    let started = Instant::now();
    let producer = slow_producer(dir, bootstrap, lines, "slow-producer");
    let uncommitted = watermark_reader(bootstrap, "read_uncommitted");
    let committed = watermark_reader(bootstrap, "read_committed");
    let mut open = 0;
    let caught = wait_until(timeout, || {
        open = in_open_transaction(&uncommitted, &committed, partitions);
        open > 0 || !streams.is_running()
    });
    assert!(
        caught && streams.is_running(),
        "no open transaction with updates in the output topic\n{}\n{}",
        streams.dump(),
        producer.dump()
    );
    SlowInput {
        producer,
        started,
        uncommitted,
        committed,
        open,
    }
}

/// Waits at most `timeout` for the slow producer (started at `started`) to send its last line
/// and exit; asserts it succeeded.
#[track_caller]
pub fn wait_slow_producer(producer: &mut Background, started: Instant, timeout: Duration) {
    let status = producer.wait_exit(timeout);
    assert!(
        status.is_some_and(|s| s.success()),
        "slow producer: {status:?}\n{}",
        producer.dump()
    );
    eprintln!("slow producer done after {:?}", started.elapsed());
}

/// Every line of the input topic (kcat, read_uncommitted, to the end), sorted.
#[track_caller]
pub fn input_lines(bootstrap: &str) -> Vec<String> {
    let mut lines: Vec<String> = super::consume_all_from(bootstrap, WORDS_IN)
        .into_values()
        .flatten()
        .map(|(_, line)| line)
        .collect();
    lines.sort();
    lines
}

/// The output topic as kcat reads it at `isolation` to its end: word -> the counts in offset
/// order (each word is a key, so all its updates are in one partition).
#[track_caller]
pub fn word_updates(bootstrap: &str, isolation: &str) -> BTreeMap<String, Vec<i64>> {
    let out = kcat(&[
        "-C",
        "-b",
        bootstrap,
        "-t",
        COUNTS_OUT,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-X",
        &format!("isolation.level={isolation}"),
        "-s",
        "value=>q",
        "-f",
        "%p %o %k %s\n",
    ]);
    let text = assert_success(&out, "kcat -C");
    let mut by_partition: BTreeMap<i32, Vec<(i64, String, i64)>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 4, "kcat line {line:?}");
        by_partition
            .entry(fields[0].parse().unwrap())
            .or_default()
            .push((
                fields[1].parse().unwrap(),
                fields[2].to_string(),
                fields[3].parse().unwrap(),
            ));
    }
    let mut updates: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for records in by_partition.values() {
        for (_, word, count) in records {
            updates.entry(word.clone()).or_default().push(*count);
        }
    }
    updates
}

pub fn latest(updates: &BTreeMap<String, Vec<i64>>) -> BTreeMap<String, i64> {
    updates
        .iter()
        .map(|(w, counts)| (w.clone(), *counts.last().unwrap()))
        .collect()
}

/// A librdkafka consumer for ListOffsets at `isolation`: the latest offset is the high watermark
/// with read_uncommitted and the last stable offset with read_committed.
pub fn watermark_reader(bootstrap: &str, isolation: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("watermarks-{isolation}"))
        .set("isolation.level", isolation)
        .create()
        .expect("create consumer")
}

/// The latest offsets of the output topic's `partitions` through `reader` (see
/// `watermark_reader`), summed: the high watermarks or the last stable offsets. `None` when one
/// cannot be listed within `timeout` (e.g. its leader just died).
pub fn output_end(reader: &BaseConsumer, partitions: i32, timeout: Duration) -> Option<i64> {
    (0..partitions)
        .map(|p| {
            reader
                .fetch_watermarks(COUNTS_OUT, p, timeout)
                .ok()
                .map(|(_, end)| end)
        })
        .sum()
}

/// How many offsets of the output topic's `partitions` lie in open transactions: high watermarks
/// minus last stable offsets. 0 when they cannot be listed.
pub fn in_open_transaction(
    uncommitted: &BaseConsumer,
    committed: &BaseConsumer,
    partitions: i32,
) -> i64 {
    match (
        output_end(uncommitted, partitions, CLIENT_TIMEOUT),
        output_end(committed, partitions, CLIENT_TIMEOUT),
    ) {
        (Some(high_watermarks), Some(last_stable)) => high_watermarks - last_stable,
        _ => 0,
    }
}

/// Waits until the latest committed count of every word equals `truth`; fails early when a count
/// overshoots (double counting).
#[track_caller]
pub fn wait_counts(
    bootstrap: &str,
    truth: &BTreeMap<String, i64>,
    streams: &mut Background,
    timeout: Duration,
) -> BTreeMap<String, Vec<i64>> {
    let started = Instant::now();
    let mut updates = BTreeMap::new();
    let converged = wait_until(timeout, || {
        updates = word_updates(bootstrap, "read_committed");
        let now = latest(&updates);
        if now.iter().any(|(w, n)| truth.get(w).is_none_or(|t| n > t)) {
            return true;
        }
        now == *truth || !streams.is_running()
    });
    assert!(
        converged && latest(&updates) == *truth,
        "committed counts {:?}, expected {truth:?} (after {:?})\nupdates: {updates:?}\n{}",
        latest(&updates),
        started.elapsed(),
        streams.dump()
    );
    eprintln!("counts exact after {:?}", started.elapsed());
    updates
}

/// Exactly once: with the demo's record cache off (`statestore.cache.max.bytes=0`, set by the
/// demo) every word occurrence emits one update, so the committed updates of a word seen n times
/// are 1, 2, ..., n.
#[track_caller]
pub fn assert_each_count_once(updates: &BTreeMap<String, Vec<i64>>, truth: &BTreeMap<String, i64>) {
    for (word, n) in truth {
        let expected: Vec<i64> = (1..=*n).collect();
        assert_eq!(
            updates.get(word),
            Some(&expected),
            "committed updates of {word:?}"
        );
    }
    assert_eq!(
        updates.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>()
    );
}
