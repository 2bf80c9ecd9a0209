//! Transactions as the Java client and `kafka-transactions.sh` observe them (tests/java/TxnClient.java
//! drives the client):
//!
//! - Commits and aborts spanning two topics and several partitions: read_committed sees exactly the
//!   committed records, in order per partition; read_uncommitted sees the aborted ones too; each
//!   transaction marker takes one offset.
//! - Consume-transform-produce with `sendOffsetsToTransaction`: the group's offsets move if and only
//!   if the transaction commits, and a rerun makes the output exactly the input, once.
//! - A second producer with the same transactional.id fences the first (PRODUCER_FENCED on EndTxn,
//!   INVALID_PRODUCER_EPOCH on Produce) and its open transaction is aborted.
//! - A transaction left open is aborted by the broker after `transaction.timeout.ms`: the last stable
//!   offset holds read_committed consumers at its first record until then, and moves past it after.
//! - `kafka-transactions.sh list`, `describe` and `describe-producers`.
//! - Expiry: an idempotent producer idle for `producer.id.expiration.ms` drops out of
//!   `describe-producers`, and the same producer writing again afterwards (its old epoch, its next
//!   sequence) is accepted; a transactional id idle for `transactional.id.expiration.ms` after its
//!   commit is forgotten (`describe` no longer finds it, `list` no longer shows it).
//! - kill -9 with one transaction open and others committed: after the restart the open one still
//!   holds the last stable offset, is aborted by its timeout and never served to read_committed.
//!
//! Validated against Apache Kafka 4.1 with `MILENA_TEST_REFERENCE=1` (see tests/support/mod.rs).

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use support::*;

/// How often the broker looks for timed-out transactions (Kafka's default is 10 s).
const ABORT_CHECK_INTERVAL: (&str, &str) = (
    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    "1000",
);

/// Runs `TxnClient.java <mode> --bootstrap <broker> args...` with Java's source launcher and
/// returns its stdout; panics with its output if it fails or outlives `timeout`.
#[track_caller]
fn txn_client(broker: &Broker, mode: &str, args: &[&str], timeout: Duration) -> String {
    let dist = kafka_dist();
    let java = std::env::var_os("JAVA_HOME")
        .map(|home| std::path::PathBuf::from(home).join("bin/java"))
        .unwrap_or_else(|| "java".into());
    let mut cmd = Command::new(java);
    cmd.args(fast_jvm_opts())
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            dist.join("config/tools-log4j2.yaml").display()
        ))
        .arg("-cp")
        .arg(dist.join("libs/*"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/java/TxnClient.java"
        ))
        .args([mode, "--bootstrap", &broker.bootstrap()])
        .args(args);
    match run_with_timeout(&mut cmd, None, timeout) {
        Ok(out) => assert_success(&out, &format!("TxnClient {mode} {args:?}")),
        Err(e) => panic!("TxnClient {mode} {args:?}: {e}"),
    }
}

/// A record as TxnClient prints it: `TAG TOPIC PARTITION OFFSET KEY VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    topic: String,
    partition: i32,
    offset: i64,
    key: String,
    value: String,
}

/// The records of the lines `TAG TOPIC PARTITION OFFSET KEY VALUE`.
fn records(out: &str, tag: &str) -> Vec<Rec> {
    out.lines()
        .filter_map(|l| l.strip_prefix(tag)?.strip_prefix(' '))
        .map(parse_rec)
        .collect()
}

fn parse_rec(line: &str) -> Rec {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 5, "record line {line:?}");
    Rec {
        topic: f[0].to_string(),
        partition: f[1].parse().unwrap(),
        offset: f[2].parse().unwrap(),
        key: f[3].to_string(),
        value: f[4].to_string(),
    }
}

/// The records of TxnClient copy's `copied TXN TOPIC PARTITION OFFSET KEY VALUE` lines, of
/// transaction `txn` or all.
fn copied(out: &str, txn: Option<usize>) -> Vec<Rec> {
    out.lines()
        .filter_map(|l| l.strip_prefix("copied ")?.split_once(' '))
        .filter(|(n, _)| txn.is_none_or(|t| n.parse() == Ok(t)))
        .map(|(_, rest)| parse_rec(rest))
        .collect()
}

type Partition = (String, i32);

/// Records grouped by partition, each list in offset order.
fn by_partition(recs: &[Rec]) -> BTreeMap<Partition, Vec<Rec>> {
    let mut map: BTreeMap<Partition, Vec<Rec>> = BTreeMap::new();
    for r in recs {
        map.entry((r.topic.clone(), r.partition))
            .or_default()
            .push(r.clone());
    }
    for list in map.values_mut() {
        list.sort_by_key(|r| r.offset);
    }
    map
}

/// The `end ISOLATION TOPIC PARTITION OFFSET` lines for one isolation level.
fn ends(out: &str, isolation: &str) -> BTreeMap<Partition, i64> {
    out.lines()
        .filter_map(|l| {
            l.strip_prefix("end ")?
                .strip_prefix(isolation)?
                .strip_prefix(' ')
        })
        .map(|rest| {
            let f: Vec<&str> = rest.split(' ').collect();
            (
                (f[0].to_string(), f[1].parse().unwrap()),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// The `position TOPIC PARTITION OFFSET` lines.
fn positions(out: &str) -> BTreeMap<Partition, i64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("position "))
        .map(|rest| {
            let f: Vec<&str> = rest.split(' ').collect();
            (
                (f[0].to_string(), f[1].parse().unwrap()),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// Reads `topics` from the beginning with `isolation` until the position reaches the end offset of
/// every partition (or `expect` records, when given); asserts it did not time out.
#[track_caller]
fn consume(broker: &Broker, topics: &str, isolation: &str, expect: Option<usize>) -> String {
    let expect = expect.map(|n| n.to_string());
    let mut args = vec![
        "--topics",
        topics,
        "--isolation",
        isolation,
        "--timeout-ms",
        "60000",
    ];
    if let Some(n) = &expect {
        args.extend(["--expect", n.as_str()]);
    }
    let out = txn_client(broker, "consume", &args, Duration::from_secs(90));
    assert!(
        out.contains(" timed-out=false"),
        "{isolation} consumer of {topics} timed out\n{out}"
    );
    out
}

/// End offsets by ListOffsets for read_committed (the last stable offset) and read_uncommitted
/// (the high watermark).
#[track_caller]
fn end_offsets(
    broker: &Broker,
    topics: &str,
) -> (BTreeMap<Partition, i64>, BTreeMap<Partition, i64>) {
    let out = txn_client(
        broker,
        "offsets",
        &[
            "--topics",
            topics,
            "--isolation",
            "read_committed,read_uncommitted",
        ],
        Duration::from_secs(60),
    );
    (ends(&out, "read_committed"), ends(&out, "read_uncommitted"))
}

#[track_caller]
fn create_topic(broker: &Broker, topic: &str, partitions: u32) {
    let out = topics(
        broker,
        &[
            "--create",
            "--topic",
            topic,
            "--partitions",
            &partitions.to_string(),
        ],
    );
    assert_success(&out, "kafka-topics.sh --create");
}

/// `kafka-transactions.sh --bootstrap-server <broker> args...`.
fn transactions_tool(broker: &Broker, args: &[&str]) -> std::process::Output {
    let bootstrap = broker.bootstrap();
    let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
    all.extend_from_slice(args);
    kafka_tool("kafka-transactions.sh", &all)
}

/// A table printed by `kafka-transactions.sh`: tab-separated, cells padded with spaces. Asserts
/// the header and returns the rows, cells trimmed.
#[track_caller]
fn tool_table(text: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let cells = |l: &str| -> Vec<String> {
        let mut c: Vec<String> = l.split('\t').map(|c| c.trim().to_string()).collect();
        if c.last().is_some_and(|c| c.is_empty()) {
            c.pop(); // the tool ends every line with a tab
        }
        c
    };
    assert_eq!(
        cells(lines.next().unwrap_or_default()),
        header,
        "header of\n{text}"
    );
    lines
        .map(|l| {
            let mut row = cells(l);
            row.resize(header.len(), String::new()); // an empty last cell
            row
        })
        .collect()
}

const DESCRIBE_HEADER: &[&str] = &[
    "CoordinatorId",
    "TransactionalId",
    "ProducerId",
    "ProducerEpoch",
    "TransactionState",
    "TransactionTimeoutMs",
    "CurrentTransactionStartTimeMs",
    "TransactionDurationMs",
    "TopicPartitions",
];

/// `kafka-transactions.sh describe --transactional-id ID`: its one row, by column name.
#[track_caller]
fn describe_txn(broker: &Broker, id: &str) -> BTreeMap<&'static str, String> {
    let out = transactions_tool(broker, &["describe", "--transactional-id", id]);
    let text = assert_success(&out, "kafka-transactions.sh describe");
    let rows = tool_table(&text, DESCRIBE_HEADER);
    assert_eq!(rows.len(), 1, "one row\n{text}");
    DESCRIBE_HEADER
        .iter()
        .copied()
        .zip(rows[0].iter().cloned())
        .collect()
}

/// Waits until `describe` shows `state` for `id`; returns that row.
#[track_caller]
fn wait_txn_state(
    broker: &Broker,
    id: &str,
    state: &str,
    timeout: Duration,
) -> BTreeMap<&'static str, String> {
    let mut last = BTreeMap::new();
    let reached = wait_until(timeout, || {
        last = describe_txn(broker, id);
        last["TransactionState"] == state
    });
    assert!(
        reached,
        "{id} did not reach {state} in {timeout:?}: {last:?}"
    );
    last
}

fn values(recs: &[Rec]) -> Vec<&str> {
    recs.iter().map(|r| r.value.as_str()).collect()
}

#[test]
fn commit_and_abort_across_topics_and_partitions() {
    let broker = Broker::start();
    create_topic(&broker, "t1", 3);
    create_topic(&broker, "t2", 2);
    let out = txn_client(
        &broker,
        "produce",
        &[
            "--txn-id",
            "multi",
            "--plan",
            "commit:t1,t2:5;abort:t1,t2:5;commit:t1,t2:4",
        ],
        Duration::from_secs(60),
    );
    let committed = records(&out, "committed");
    let aborted = records(&out, "aborted");
    assert_eq!((committed.len(), aborted.len()), (18, 10), "{out}");

    // Each transaction writes its records then a marker (one offset) to every partition it touched:
    // committed 0-1, marker 2, aborted 3-4, marker 5, committed 6, marker 7 (t1-0, say).
    let mut all = committed.clone();
    all.extend(aborted.iter().cloned());
    let all = by_partition(&all);
    assert_eq!(all.len(), 5, "every partition got records\n{out}");
    for ((topic, p), recs) in &all {
        let mut expected = 0;
        let mut txn = "0";
        for r in recs {
            let this_txn = r.key.split('-').next().unwrap();
            if this_txn != txn {
                expected += 1; // the previous transaction's marker
                txn = this_txn;
            }
            assert_eq!(r.offset, expected, "offset in {topic}-{p}\n{out}");
            expected += 1;
        }
    }

    let rc = consume(&broker, "t1,t2", "read_committed", None);
    assert_eq!(
        by_partition(&records(&rc, "record")),
        by_partition(&committed),
        "read_committed must see exactly the committed records\n{rc}"
    );
    let ru = consume(&broker, "t1,t2", "read_uncommitted", None);
    assert_eq!(
        by_partition(&records(&ru, "record")),
        all,
        "read_uncommitted sees committed and aborted records\n{ru}"
    );

    // No transaction is open: the last stable offset is the high watermark, one past the last
    // commit marker, and both consumers end there.
    let last_stable = ends(&rc, "read_committed");
    let high_watermark = ends(&ru, "read_uncommitted");
    assert_eq!(last_stable, high_watermark, "{rc}\n{ru}");
    for (tp, recs) in &all {
        assert_eq!(
            high_watermark[tp],
            recs.last().unwrap().offset + 2,
            "{tp:?}\n{ru}"
        );
    }
    assert_eq!(positions(&rc), last_stable, "{rc}");
    assert_eq!(positions(&ru), high_watermark, "{ru}");
}

/// One `txn N commit|abort IN:P=OFFSET,...` line of TxnClient copy.
struct CopyTxn {
    number: usize,
    committed: bool,
    offsets: BTreeMap<i32, i64>,
}

fn copy_txns(out: &str) -> Vec<CopyTxn> {
    out.lines()
        .filter_map(|l| l.strip_prefix("txn "))
        .map(|rest| {
            let f: Vec<&str> = rest.split(' ').collect();
            CopyTxn {
                number: f[0].parse().unwrap(),
                committed: f[1] == "commit",
                offsets: f[2]
                    .split(',')
                    .map(|tp| {
                        let (name, off) = tp.split_once('=').unwrap();
                        (
                            name.rsplit(':').next().unwrap().parse().unwrap(),
                            off.parse().unwrap(),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `group-offset TOPIC PARTITION OFFSET|-` lines: the offsets the group has committed.
fn group_offsets(out: &str) -> BTreeMap<i32, i64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("group-offset "))
        .filter_map(|rest| {
            let f: Vec<&str> = rest.split(' ').collect();
            Some((f[1].parse().unwrap(), f[2].parse().ok()?))
        })
        .collect()
}

/// `kafka-consumer-groups.sh --describe --group G`: partition -> (CURRENT-OFFSET, LOG-END-OFFSET, LAG).
fn describe_group(broker: &Broker, group: &str) -> (BTreeMap<i32, (i64, i64, i64)>, String) {
    let bootstrap = broker.bootstrap();
    let out = kafka_tool(
        "kafka-consumer-groups.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--group",
            group,
        ],
    );
    let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
    let rows = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() == 9 && c[0] == group)
        .map(|c| {
            let n = |i: usize| {
                c[i].parse::<i64>()
                    .unwrap_or_else(|_| panic!("{c:?}\n{text}"))
            };
            (n(2) as i32, (n(3), n(4), n(5)))
        })
        .collect();
    (rows, text)
}

#[test]
fn consume_transform_produce_commits_offsets_with_the_transaction() {
    let broker = Broker::start();
    create_topic(&broker, "in", 3);
    create_topic(&broker, "out", 3);
    let input = records(
        &txn_client(
            &broker,
            "produce",
            &["--txn-id", "source", "--plan", "commit:in:30"],
            Duration::from_secs(60),
        ),
        "committed",
    );
    assert_eq!(input.len(), 30);
    let copy = |plan: &str, max_txns: &str| {
        txn_client(
            &broker,
            "copy",
            &[
                "--txn-id",
                "copier",
                "--group",
                "copiers",
                "--input",
                "in",
                "--output",
                "out",
                "--txn-size",
                "4",
                "--plan",
                plan,
                "--max-txns",
                max_txns,
            ],
            Duration::from_secs(90),
        )
    };

    // Commit, abort, commit, abort, then stop: after each abort the copier rewinds to the group's
    // committed offsets, so the offsets of the last (aborted) transaction must not be committed.
    let first = copy("commit,abort", "4");
    let txns = copy_txns(&first);
    assert_eq!(
        txns.iter()
            .map(|t| (t.number, t.committed))
            .collect::<Vec<_>>(),
        [(0, true), (1, false), (2, true), (3, false)],
        "{first}"
    );
    let mut expected_offsets = BTreeMap::new();
    for t in txns.iter().filter(|t| t.committed) {
        expected_offsets.extend(t.offsets.clone());
    }
    assert_eq!(
        group_offsets(&first),
        expected_offsets,
        "the copier's OffsetFetch\n{first}"
    );
    let (rows, text) = describe_group(&broker, "copiers");
    assert_eq!(
        rows.iter()
            .map(|(p, row)| (*p, row.0))
            .collect::<BTreeMap<_, _>>(),
        expected_offsets,
        "kafka-consumer-groups.sh --describe\n{text}"
    );
    let committed_copies: Vec<Rec> = txns
        .iter()
        .filter(|t| t.committed)
        .flat_map(|t| copied(&first, Some(t.number)))
        .collect();
    let all_copies = copied(&first, None);
    let rc = consume(&broker, "out", "read_committed", None);
    assert_eq!(
        by_partition(&records(&rc, "record")),
        by_partition(&committed_copies),
        "read_committed output is the committed transactions' copies\n{rc}"
    );
    let ru = consume(&broker, "out", "read_uncommitted", None);
    assert_eq!(
        by_partition(&records(&ru, "record")),
        by_partition(&all_copies),
        "read_uncommitted output has the aborted copies too\n{ru}"
    );

    // A second run in the same group commits everything: it resumes from the committed offsets,
    // so the committed output is the input, each record once and in order per partition.
    let second = copy("commit", "-1");
    assert!(copy_txns(&second).iter().all(|t| t.committed), "{second}");
    let rc = consume(&broker, "out", "read_committed", None);
    let output = by_partition(&records(&rc, "record"));
    let input = by_partition(&input);
    assert_eq!(output.len(), 3, "{rc}");
    for ((_, p), recs) in &input {
        let want: Vec<String> = recs.iter().map(|r| format!("copy-{}", r.value)).collect();
        assert_eq!(
            values(&output[&("out".to_string(), *p)]),
            want,
            "out-{p}\n{rc}"
        );
    }
    // The group's offsets are one past each partition's last input record; the commit marker after
    // it is the one offset of lag left.
    let (rows, text) = describe_group(&broker, "copiers");
    let want: BTreeMap<i32, (i64, i64, i64)> = input
        .iter()
        .map(|((_, p), recs)| {
            let next = recs.last().unwrap().offset + 1;
            (*p, (next, next + 1, 1))
        })
        .collect();
    assert_eq!(rows, want, "kafka-consumer-groups.sh --describe\n{text}");
    assert_eq!(
        group_offsets(&second),
        want.iter().map(|(p, row)| (*p, row.0)).collect(),
        "{second}"
    );
}

/// One `describe WHEN STATE PRODUCER-ID EPOCH TOPIC-PARTITIONS` line of TxnClient fence.
fn fence_describe(out: &str, when: &str) -> (String, i64, i16, String) {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("describe {when} ")))
        .unwrap_or_else(|| panic!("no describe {when}\n{out}"));
    let f: Vec<&str> = line.split(' ').collect();
    (
        f[0].to_string(),
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
        f[3].to_string(),
    )
}

#[test]
fn a_second_producer_fences_the_first_and_aborts_its_transaction() {
    let broker = Broker::start();
    create_topic(&broker, "fenced", 2);
    let fence = |id: &str, p1_actions: &str| {
        txn_client(
            &broker,
            "fence",
            &[
                "--txn-id",
                id,
                "--topic",
                "fenced",
                "--count",
                "3",
                "--p1-actions",
                p1_actions,
            ],
            Duration::from_secs(90),
        )
    };

    // The fenced producer commits at once: EndTxn with the old epoch gets PRODUCER_FENCED.
    let direct = fence("fence-direct", "commit");
    assert!(
        direct
            .contains("\np1-commit-error org.apache.kafka.common.errors.ProducerFencedException\n"),
        "{direct}"
    );
    // The fenced producer sends first: Produce with the old epoch gets INVALID_PRODUCER_EPOCH, an
    // abortable error that commitTransaction rethrows; EndTxn(abort) then gets PRODUCER_FENCED.
    let send = fence("fence-send", "send,commit,abort");
    assert!(
        send.contains(
            "\np1-send-error org.apache.kafka.common.errors.InvalidProducerEpochException\n\
             p1-commit-error org.apache.kafka.common.errors.InvalidProducerEpochException\n\
             p1-abort-error org.apache.kafka.common.errors.ProducerFencedException\n"
        ),
        "{send}"
    );

    for (id, out) in [("fence-direct", &direct), ("fence-send", &send)] {
        // Same producer id throughout; initTransactions of the second producer aborts the open
        // transaction and bumps the epoch (Kafka: 0 -> 2, one bump to fence, one for the new
        // producer), leaving the transactional id Empty.
        let (state, pid, epoch, partitions) = fence_describe(out, "p1-open");
        assert_eq!(
            (state.as_str(), partitions.as_str()),
            ("Ongoing", "fenced-0,fenced-1"),
            "{out}"
        );
        let (state2, pid2, epoch2, partitions2) = fence_describe(out, "p2-initialized");
        assert_eq!(
            (state2.as_str(), pid2, partitions2.as_str()),
            ("Empty", pid, "-"),
            "{out}"
        );
        assert!(
            epoch2 > epoch,
            "epoch after fencing {epoch2}, before {epoch}\n{out}"
        );
        let (state3, pid3, _, _) = fence_describe(out, "p2-committed");
        assert!(
            ["PrepareCommit", "CompleteCommit"].contains(&state3.as_str()) && pid3 == pid,
            "{out}"
        );
        let row = wait_txn_state(&broker, id, "CompleteCommit", Duration::from_secs(30));
        assert_eq!(row["ProducerId"], pid.to_string(), "{row:?}");
    }

    let open: Vec<Rec> = [&direct, &send]
        .iter()
        .flat_map(|o| records(o, "open"))
        .collect();
    let committed: Vec<Rec> = [&direct, &send]
        .iter()
        .flat_map(|o| records(o, "committed"))
        .collect();
    assert_eq!((open.len(), committed.len()), (6, 6));
    let rc = consume(&broker, "fenced", "read_committed", None);
    assert_eq!(
        by_partition(&records(&rc, "record")),
        by_partition(&committed),
        "read_committed sees the second producers' records only\n{rc}"
    );
    let ru = consume(&broker, "fenced", "read_uncommitted", None);
    let mut all = open;
    all.extend(committed);
    assert_eq!(
        by_partition(&records(&ru, "record")),
        by_partition(&all),
        "{ru}"
    );
    assert_eq!(
        ends(&rc, "read_committed"),
        ends(&ru, "read_uncommitted"),
        "{rc}\n{ru}"
    );
}

/// Starts a transaction that sends `count` records to `topic` and halts the JVM without ending it;
/// returns the records it left open.
#[track_caller]
fn hang(broker: &Broker, id: &str, topic: &str, count: usize, timeout_ms: u64) -> Vec<Rec> {
    let out = txn_client(
        broker,
        "hang",
        &[
            "--txn-id",
            id,
            "--topic",
            topic,
            "--count",
            &count.to_string(),
            "--txn-timeout-ms",
            &timeout_ms.to_string(),
        ],
        Duration::from_secs(60),
    );
    assert!(out.contains("\nhanging\n"), "{out}");
    let open = records(&out, "open");
    assert_eq!(open.len(), count, "{out}");
    open
}

/// Per partition, the first offset of `recs` (where an open transaction holds the last stable offset).
fn first_offsets(recs: &[Rec]) -> BTreeMap<Partition, i64> {
    by_partition(recs)
        .into_iter()
        .map(|(tp, list)| (tp, list[0].offset))
        .collect()
}

#[test]
fn a_timed_out_transaction_is_aborted_by_the_broker() {
    let broker = Broker::start_with(&[ABORT_CHECK_INTERVAL]);
    create_topic(&broker, "slow", 2);
    let open = hang(&broker, "hung", "slow", 4, 15_000);

    // While it is open, ListOffsets(read_committed) answers its first offset in each partition.
    let (last_stable, high_watermark) = end_offsets(&broker, "slow");
    let open_first = first_offsets(&open);
    let open_after: BTreeMap<Partition, i64> = by_partition(&open)
        .into_iter()
        .map(|(tp, list)| (tp, list.last().unwrap().offset + 1))
        .collect();
    assert_eq!(last_stable, open_first, "last stable offset while open");
    assert_eq!(high_watermark, open_after, "high watermark while open");
    let before = describe_txn(&broker, "hung");
    assert_eq!(
        (
            before["TransactionState"].as_str(),
            before["TransactionTimeoutMs"].as_str()
        ),
        ("Ongoing", "15000"),
        "{before:?}"
    );

    // A transaction committed after it is held back too, until the broker aborts the open one.
    let committed = records(
        &txn_client(
            &broker,
            "produce",
            &["--txn-id", "after-hung", "--plan", "commit:slow:4"],
            Duration::from_secs(60),
        ),
        "committed",
    );
    let rc = consume(&broker, "slow", "read_committed", Some(committed.len()));
    assert_eq!(
        by_partition(&records(&rc, "record")),
        by_partition(&committed),
        "read_committed moves past the aborted transaction\n{rc}"
    );
    let (last_stable, high_watermark) = end_offsets(&broker, "slow");
    assert_eq!(last_stable, high_watermark, "no transaction left open");

    // The broker aborted it with a bumped epoch (so the hung producer, were it alive, is fenced).
    let after = wait_txn_state(&broker, "hung", "CompleteAbort", Duration::from_secs(30));
    assert_eq!(after["ProducerId"], before["ProducerId"], "{after:?}");
    assert!(
        after["ProducerEpoch"].parse::<i16>().unwrap()
            > before["ProducerEpoch"].parse::<i16>().unwrap(),
        "epoch bumped by the timeout abort: {before:?} -> {after:?}"
    );
    assert_eq!(after["TopicPartitions"], "", "{after:?}");

    let ru = consume(&broker, "slow", "read_uncommitted", None);
    let mut all = open;
    all.extend(committed);
    assert_eq!(
        by_partition(&records(&ru, "record")),
        by_partition(&all),
        "{ru}"
    );
}

#[test]
fn kafka_transactions_tool_lists_and_describes() {
    let broker = Broker::start();
    create_topic(&broker, "tool", 2);
    let done = records(
        &txn_client(
            &broker,
            "produce",
            &[
                "--txn-id",
                "tool-done",
                "--plan",
                "abort:tool:2;commit:tool:4",
            ],
            Duration::from_secs(60),
        ),
        "committed",
    );
    assert_eq!(done.len(), 4);
    let open = hang(&broker, "tool-open", "tool", 3, 120_000);

    // describe: one row, the open transaction with its partitions; the finished one without.
    let open_row = describe_txn(&broker, "tool-open");
    assert_eq!(open_row["CoordinatorId"], "1", "{open_row:?}");
    assert_eq!(open_row["TransactionalId"], "tool-open");
    assert_eq!(
        open_row["ProducerEpoch"], "0",
        "a new transactional id starts at epoch 0"
    );
    assert_eq!(open_row["TransactionState"], "Ongoing");
    assert_eq!(open_row["TransactionTimeoutMs"], "120000");
    let start: i64 = open_row["CurrentTransactionStartTimeMs"].parse().unwrap();
    assert!(start > 1_600_000_000_000, "{open_row:?}");
    let duration: i64 = open_row["TransactionDurationMs"].parse().unwrap();
    assert!((0..120_000).contains(&duration), "{open_row:?}");
    let mut partitions: Vec<&str> = open_row["TopicPartitions"].split(',').collect();
    partitions.sort();
    assert_eq!(partitions, ["tool-0", "tool-1"], "{open_row:?}");
    let open_pid = open_row["ProducerId"].clone();

    let done_row = wait_txn_state(
        &broker,
        "tool-done",
        "CompleteCommit",
        Duration::from_secs(30),
    );
    assert_eq!(done_row["TransactionTimeoutMs"], "60000", "{done_row:?}");
    assert_eq!(done_row["TopicPartitions"], "", "{done_row:?}");
    let done_pid = done_row["ProducerId"].clone();
    assert_ne!(done_pid, open_pid);

    let missing = transactions_tool(&broker, &["describe", "--transactional-id", "no-such-id"]);
    assert!(!missing.status.success(), "{}", stdout_of(&missing));
    assert!(
        stderr_of(&missing).contains("DescribeTransactions request for transactionalId `no-such-id` failed because the ID could not be found"),
        "{}",
        stderr_of(&missing)
    );

    // list: every transactional id with its coordinator, producer id and state.
    let out = transactions_tool(&broker, &["list"]);
    let text = assert_success(&out, "kafka-transactions.sh list");
    let mut rows = tool_table(
        &text,
        &[
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState",
        ],
    );
    rows.sort();
    assert_eq!(
        rows,
        [
            vec![
                "tool-done".to_string(),
                "1".into(),
                done_pid.clone(),
                "CompleteCommit".into()
            ],
            vec![
                "tool-open".to_string(),
                "1".into(),
                open_pid.clone(),
                "Ongoing".into()
            ],
        ],
        "{text}"
    );

    // describe-producers: each producer that wrote to the partition; the open one with the
    // offset its transaction started at.
    let open_first = first_offsets(&open);
    for p in 0..2 {
        let out = transactions_tool(
            &broker,
            &[
                "describe-producers",
                "--topic",
                "tool",
                "--partition",
                &p.to_string(),
            ],
        );
        let text = assert_success(&out, "kafka-transactions.sh describe-producers");
        let rows = tool_table(
            &text,
            &[
                "ProducerId",
                "ProducerEpoch",
                "LatestCoordinatorEpoch",
                "LastSequence",
                "LastTimestamp",
                "CurrentTransactionStartOffset",
            ],
        );
        let by_pid: BTreeMap<&str, &Vec<String>> =
            rows.iter().map(|r| (r[0].as_str(), r)).collect();
        assert_eq!(by_pid.len(), 2, "{text}");
        assert_eq!(
            by_pid[open_pid.as_str()][5],
            open_first[&("tool".to_string(), p)].to_string(),
            "{text}"
        );
        assert_eq!(by_pid[open_pid.as_str()][1], "0", "{text}");
        assert_eq!(by_pid[done_pid.as_str()][5], "None", "{text}");
        for row in &rows {
            assert!(
                row[4].parse::<i64>().unwrap() > 1_600_000_000_000,
                "LastTimestamp\n{text}"
            );
        }
    }
}

#[test]
fn kill9_with_transactions_open_and_committed() {
    let mut broker = Broker::start_with(&[ABORT_CHECK_INTERVAL]);
    create_topic(&broker, "crash", 2);
    let produce = |broker: &Broker, id: &str| {
        records(
            &txn_client(
                broker,
                "produce",
                &["--txn-id", id, "--plan", "commit:crash:4"],
                Duration::from_secs(60),
            ),
            "committed",
        )
    };
    // The open transaction must outlive the checks made after the restart: four JVM runs, some
    // 10 s with Milena on an idle machine but over 30 s on two busy CI cores; the reference
    // broker alone takes some 15 s to start again.
    let timeout_ms = 60_000;

    let early = produce(&broker, "before-open");
    let open = hang(&broker, "crash-open", "crash", 4, timeout_ms);
    let late = produce(&broker, "after-open");
    let open_first = first_offsets(&open);
    let (last_stable, high_watermark) = end_offsets(&broker, "crash");
    assert_eq!(
        last_stable, open_first,
        "last stable offset before the crash"
    );
    let late_after = by_partition(&late)
        .into_iter()
        .map(|(tp, list)| (tp, list.last().unwrap().offset + 2))
        .collect::<BTreeMap<_, _>>();
    assert_eq!(
        high_watermark, late_after,
        "high watermark before the crash"
    );

    broker.kill9();
    broker.start_again();

    // The open transaction still holds the last stable offset: read_committed gets only what was
    // committed before it.
    let (last_stable, high_watermark) = end_offsets(&broker, "crash");
    assert_eq!(
        last_stable, open_first,
        "last stable offset after the restart"
    );
    assert_eq!(
        high_watermark, late_after,
        "high watermark after the restart"
    );
    let rc = consume(&broker, "crash", "read_committed", None);
    assert_eq!(
        by_partition(&records(&rc, "record")),
        by_partition(&early),
        "read_committed after the restart, transaction still open\n{rc}"
    );

    // Its timeout aborts it; then read_committed gets both committed transactions and none of it.
    let mut committed = early;
    committed.extend(late);
    let rc = consume(&broker, "crash", "read_committed", Some(committed.len()));
    assert_eq!(
        by_partition(&records(&rc, "record")),
        by_partition(&committed),
        "read_committed once the open transaction timed out\n{rc}"
    );
    wait_txn_state(
        &broker,
        "crash-open",
        "CompleteAbort",
        Duration::from_secs(30),
    );
    wait_txn_state(
        &broker,
        "after-open",
        "CompleteCommit",
        Duration::from_secs(30),
    );
    let (last_stable, high_watermark) = end_offsets(&broker, "crash");
    assert_eq!(last_stable, high_watermark, "no transaction left open");
    assert_eq!(
        high_watermark,
        late_after
            .iter()
            .map(|(tp, o)| (tp.clone(), o + 1))
            .collect(),
        "one abort marker after the last commit marker"
    );
    let rc = consume(&broker, "crash", "read_committed", None);
    assert_eq!(
        by_partition(&records(&rc, "record")),
        by_partition(&committed),
        "{rc}"
    );
}

/// An idempotent producer (confluent-kafka) that sends `rec-0..2`, prints `sent`, waits for
/// EOF on stdin, sends `rec-3..5` and prints `delivered N failed M`.
const PAUSING_PRODUCER: &str = r#"
import sys, confluent_kafka
p = confluent_kafka.Producer({'bootstrap.servers': sys.argv[1], 'acks': 'all',
                              'enable.idempotence': True, 'linger.ms': 5,
                              'message.timeout.ms': 30000})
done = {'ok': 0, 'failed': 0}
def report(err, msg):
    done['failed' if err else 'ok'] += 1
    if err:
        sys.stderr.write('delivery failed: %s\n' % err)
def send(values):
    for v in values:
        p.produce(sys.argv[2], value=v.encode(), on_delivery=report)
    p.flush(30)
send(['rec-0', 'rec-1', 'rec-2'])
print('sent', flush=True)
sys.stdin.read()
send(['rec-3', 'rec-4', 'rec-5'])
print('delivered %d failed %d' % (done['ok'] - 3, done['failed']), flush=True)
"#;

/// `describe-producers` of partition 0: (ProducerId, ProducerEpoch, LastSequence) per row.
fn producers_of(broker: &Broker, topic: &str) -> Vec<(String, String, String)> {
    let out = transactions_tool(
        broker,
        &["describe-producers", "--topic", topic, "--partition", "0"],
    );
    let text = assert_success(&out, "kafka-transactions.sh describe-producers");
    tool_table(
        &text,
        &[
            "ProducerId",
            "ProducerEpoch",
            "LatestCoordinatorEpoch",
            "LastSequence",
            "LastTimestamp",
            "CurrentTransactionStartOffset",
        ],
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].clone(), r[3].clone()))
    .collect()
}

#[test]
fn idle_producer_ids_and_transactional_ids_expire() {
    let broker = Broker::start_with(&[
        ("producer.id.expiration.ms", "8000"),
        ("producer.id.expiration.check.interval.ms", "500"),
        ("transactional.id.expiration.ms", "3000"),
        (
            "transaction.remove.expired.transaction.cleanup.interval.ms",
            "500",
        ),
    ]);
    create_topic(&broker, "expiry", 1);
    create_topic(&broker, "expiry-txn", 1);

    // A committed transaction; its id expires 3 s after the commit.
    let committed = records(
        &txn_client(
            &broker,
            "produce",
            &["--txn-id", "exp-done", "--plan", "commit:expiry-txn:2"],
            Duration::from_secs(60),
        ),
        "committed",
    );
    assert_eq!(committed.len(), 2);

    // An idempotent producer writes, then idles past producer.id.expiration.ms.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut producer = Background::python(
        PAUSING_PRODUCER,
        &[&broker.bootstrap(), "expiry"],
        dir.path(),
        "pausing-producer",
    );
    assert!(
        wait_until(Duration::from_secs(30), || producer
            .stdout()
            .contains("sent")),
        "{}",
        producer.dump()
    );
    let before = producers_of(&broker, "expiry");
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].2, "2", "last sequence of rec-0..2: {before:?}");
    let mut left = before.clone();
    assert!(
        wait_until(Duration::from_secs(40), || {
            left = producers_of(&broker, "expiry");
            left.is_empty()
        }),
        "the idle producer is still listed: {left:?}"
    );

    // The same producer resumes: its old id and epoch, sequence 3, which the partition no
    // longer has anything to check against. Kafka accepts it, and so must Milena.
    producer.close_stdin();
    assert!(
        producer.wait_exit(Duration::from_secs(60)).is_some(),
        "{}",
        producer.dump()
    );
    assert!(
        producer.stdout().contains("delivered 3 failed 0"),
        "{}",
        producer.dump()
    );
    let after = producers_of(&broker, "expiry");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!((&after[0].0, &after[0].1), (&before[0].0, &before[0].1));
    assert_eq!(after[0].2, "5", "{after:?}");
    let log = consume_all(&broker, "expiry");
    let got: Vec<(i64, &str)> = log[&0].iter().map(|(o, v)| (*o, v.as_str())).collect();
    assert_eq!(
        got,
        (0..6)
            .map(|i| (
                i as i64,
                ["rec-0", "rec-1", "rec-2", "rec-3", "rec-4", "rec-5"][i]
            ))
            .collect::<Vec<_>>()
    );

    // By now the committed transactional id has been idle for well over 3 s.
    let mut listing = String::new();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let out = transactions_tool(&broker, &["list"]);
            listing = assert_success(&out, "kafka-transactions.sh list");
            !listing.contains("exp-done")
        }),
        "exp-done still listed:\n{listing}"
    );
    let missing = transactions_tool(&broker, &["describe", "--transactional-id", "exp-done"]);
    assert!(!missing.status.success(), "{}", stdout_of(&missing));
}

/// Transactions V2 (KIP-890 part 2) as clients see them. With `transaction.version=2` finalized
/// (a new cluster's level, as on Kafka 4.1) the Java producer sends no AddPartitionsToTxn (the
/// partition leader registers the partition on Produce v12) and every EndTxn v5 bumps its epoch:
/// after three transactions `kafka-transactions.sh describe` shows epoch 3, and
/// `describe-producers` shows the partition's producer at epoch 3 too (the last marker was written
/// with the bumped epoch). Downgraded to `transaction.version=1` with `kafka-features.sh`, a new
/// producer falls back to V1: three transactions, epoch 0 throughout. Both commit exactly the
/// committed records.
#[test]
fn transactions_v2_bump_the_epoch_at_every_end_txn_and_v1_clients_keep_working() {
    let broker = Broker::start();
    let run = |id: &str, topic: &str| {
        create_topic(&broker, topic, 1);
        let plan = format!("commit:{topic}:2;abort:{topic}:2;commit:{topic}:2");
        let out = txn_client(
            &broker,
            "produce",
            &["--txn-id", id, "--plan", &plan],
            Duration::from_secs(90),
        );
        assert_eq!(records(&out, "committed").len(), 4, "{out}");
        let read = consume(&broker, topic, "read_committed", None);
        let committed: Vec<String> = records(&read, "record")
            .into_iter()
            .map(|r| r.value)
            .collect();
        assert_eq!(
            committed,
            ["commit-0-0", "commit-0-1", "commit-2-0", "commit-2-1"],
            "{read}"
        );
        let txn = wait_txn_state(&broker, id, "CompleteCommit", Duration::from_secs(30));
        let producers = producers_of(&broker, topic);
        assert_eq!(producers.len(), 1, "{producers:?}");
        assert_eq!(producers[0].0, txn["ProducerId"]);
        (txn["ProducerEpoch"].clone(), producers[0].1.clone())
    };

    assert_eq!(
        run("v2-producer", "txn-v2"),
        ("3".to_string(), "3".to_string()),
        "V2: one epoch bump per EndTxn, markers written with it"
    );

    let bootstrap = broker.bootstrap();
    let out = kafka_tool(
        "kafka-features.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "downgrade",
            "--feature",
            "transaction.version=1",
        ],
    );
    assert_success(&out, "kafka-features.sh downgrade");
    assert_eq!(
        run("v1-producer", "txn-v1"),
        ("0".to_string(), "0".to_string()),
        "V1: the epoch stays"
    );
}
