//! Cluster mode (issue 12): three nodes in KRaft combined mode on 127.0.0.1
//! (`tests/support/cluster.rs`), driven only through the stock Kafka tools, kcat, the Java console
//! clients, Python confluent-kafka and, for one error code, a raw Produce request.
//!
//! - (a) topics created through any node; `--describe` identical from every node; leaders spread;
//!   RF 4 on 3 brokers refused; `--replica-assignment` honoured.
//! - (b) kcat -L lists the 3 brokers with their advertised ports from every node; one cluster id.
//! - (c) RF 1 partitions spread over the nodes; kcat, console producer/consumer and confluent-kafka
//!   produce and consume through one bootstrap node; a non-leader answers NOT_LEADER_OR_FOLLOWER.
//! - (d) kill -9: the node is fenced after broker.session.timeout.ms, its RF 3 partitions move to
//!   a survivor from the ISR, its RF 1
//!   partitions have no leader, acked data survives, and it rejoins on restart; killing the Raft
//!   leader still lets the survivors create topics.
//! - (f) start-up faults: no CONTROLLER listener, node.id missing from the voters, voters that
//!   differ from the other nodes'.
//!
//! Validated against Apache Kafka 4.1.2 (`MILENA_TEST_REFERENCE=1 cargo test --release --test
//! suite cluster:: -- --test-threads=1`: 3 JVMs with -Xmx384m on 2 cores; all 7 tests pass, the 3-node
//! start takes 10-15 s). What Kafka printed there (`\t` is a tab; every partition line starts
//! with a tab and ends with a space after `LastKnownElr:`):
//!
//! - `kafka-topics.sh --describe` of a new RF 3 topic, byte-identical through every node:
//!   `Topic: t\tTopicId: hiTelY6vTq6NfXkjp-C24g\tPartitionCount: 3\tReplicationFactor: 3\t`
//!   `Configs: min.insync.replicas=1`, then
//!   `\tTopic: t\tPartition: 0\tLeader: 2\tReplicas: 2,3,1\tIsr: 2,3,1\tElr: \tLastKnownElr: `
//!   `\tTopic: t\tPartition: 1\tLeader: 3\tReplicas: 3,1,2\tIsr: 3,1,2\tElr: \tLastKnownElr: `
//!   `\tTopic: t\tPartition: 2\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,2,3\tElr: \tLastKnownElr: `
//!   `Configs: min.insync.replicas=1` shows although the topic has no config of its own (Kafka 4.1
//!   with ELR on keeps a cluster-level min.insync.replicas; with the config/server-N.properties of
//!   this repository it shows `min.insync.replicas=2,segment.bytes=1073741824`, the static broker
//!   configs). Empty `Elr:`/`LastKnownElr:` are printed as empty, not `N/A`. The first replica
//!   leads (the preferred leader) and the replica lists rotate from partition to partition.
//! - RF 4 on 3 brokers: exit 1, stdout `Error while executing topic command : Unable to replicate
//!   the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3
//!   broker(s) are registered.`, stderr `ERROR org.apache.kafka.common.errors.
//!   InvalidReplicationFactorException: Unable to replicate ...`. A fenced (dead) broker still
//!   counts as registered: by hand, with one node killed and fenced, RF 3 was accepted (a replica
//!   placed on the fenced node, left out of the ISR: `Replicas: 1,2,3\tIsr: 1,2`) and RF 4 still
//!   refused with "only 3 broker(s) are registered".
//! - `--replica-assignment 1:2,2:3,3:1`: `ReplicationFactor: 2`, `Leader: 1\tReplicas: 1,2\tIsr:
//!   1,2`, `Leader: 2\tReplicas: 2,3\tIsr: 2,3`, `Leader: 3\tReplicas: 3,1\tIsr: 3,1`.
//! - `kcat -L -b <node>`: ` 3 brokers:`, `  broker 1 at 127.0.0.1:<port>`, ..., one line suffixed
//!   ` (controller)`: in KRaft, Metadata's controller id is a random live broker, not the Raft
//!   leader (it differed between nodes and between calls).
//! - DescribeCluster: `Cluster ID: <the id given to kafka-storage.sh format>` from every node
//!   (ClusterTool, the class of kafka-cluster.sh, which the assembled dist has no script for), and
//!   the same id and nodes [1, 2, 3] from confluent-kafka's AdminClient.describe_cluster.
//! - Produce v9 sent straight to a broker that does not lead the partition: error 6
//!   (NOT_LEADER_OR_FOLLOWER); to the leader: 0.
//! - kill -9 with broker.heartbeat.interval.ms=500 and broker.session.timeout.ms=3000: Metadata
//!   from the survivors stopped listing the node 2.8-3.3 s after the kill (a node that was not the
//!   Raft leader; the Raft leader's server.log: `Fencing broker 1 at epoch 8 because its session
//!   has timed out.`). Its partitions changed at that same moment. RF 3 (min.insync.replicas=2),
//!   node 3 killed, identical through both survivors:
//!   `\tTopic: r3\tPartition: 0\tLeader: 1\tReplicas: 3,1,2\tIsr: 1,2\tElr: \tLastKnownElr: `
//!   `\tTopic: r3\tPartition: 1\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,2\tElr: \tLastKnownElr: `
//!   `\tTopic: r3\tPartition: 2\tLeader: 2\tReplicas: 2,3,1\tIsr: 2,1\tElr: \tLastKnownElr: `
//!   RF 1: the partition on node 3 has no leader, an empty ISR and node 3 in the ELR (ELR is on by
//!   default in new 4.1 clusters; without it Kafka keeps the last replica in the ISR, `Isr: 3`, and
//!   the test accepts either); the other partitions kept their leaders:
//!   `\tTopic: r1\tPartition: 0\tLeader: none\tReplicas: 3\tIsr: \tElr: 3\tLastKnownElr: 3`
//! - Restart of the killed node: Metadata listed 3 brokers again 2.6-3.0 s after the JVM was
//!   started; the ISRs were full again at the first describe after that (6.1-6.6 s after the
//!   start, a JVM tool run included), the rejoining replica appended (`Isr: 2,1,3`). Leadership
//!   does not go back to the preferred replica at once (`Leader: 1\tReplicas: 3,1,2` stays; that
//!   waits for the leader rebalance, every 300 s). The RF 1 partition got node 3 back as leader,
//!   its ELR emptied: `Leader: 3\tReplicas: 3\tIsr: 3\tElr: \tLastKnownElr: `.
//! - Raft leader killed (`kafka-metadata-quorum.sh describe --status` prints
//!   `LeaderId:               2`, padded): `kafka-topics.sh --create` through a survivor (one JVM
//!   tool run, accepted at the first attempt) succeeded 2.3-6.0 s after the kill; a survivor became
//!   `LeaderId:`; the dead node was fenced 4.8-5.9 s after the kill (election first, then a full
//!   session timeout under the new controller), before or after the create was accepted.
//! - Produce v9 sent to a survivor for the RF 1 partition left without a leader (the survivor holds
//!   no replica of it): error 6 (NOT_LEADER_OR_FOLLOWER).
//! - No CONTROLLER listener (`listeners=PLAINTEXT://127.0.0.1:P`,
//!   `controller.listener.names=CONTROLLER`, voters set): exit 1 within ~3 s, on stdout `ERROR
//!   Exiting Kafka due to fatal exception` and `java.lang.IllegalArgumentException: requirement
//!   failed: controller.listener.names must contain at least one value appearing in the
//!   'listeners' configuration when running the KRaft controller role`.
//! - node.id 3 with voters `1@..,2@..,4@..`: exit 1, `requirement failed: If process.roles contains
//!   the 'controller' role, the node id 3 must be included in the set of voters
//!   controller.quorum.voters=Set(4, 1, 2)`.
//! - Voters that differ from the other nodes' (node 3 with an extra voter `4@127.0.0.1:<unused>`,
//!   all three formatted alike): Kafka does NOT detect it. Node 3 runs, logs `Connection to node 4
//!   (/127.0.0.1:39294) could not be established` every second and serves as a broker (kcat -L
//!   lists 3 brokers). Exiting there is Milena's own stricter rule (issue 12 f), so that test is
//!   skipped in reference mode.
//!
//! Milena behaves as Kafka here since issue 13 (followers replicate): a new partition has every
//! replica in sync, a killed leader's partitions move to a survivor from the ISR, and the ISRs
//! regrow after the restart. Since issue 13 point 7 Milena keeps eligible leader replicas as
//! Kafka 4.1 does (see tests/unclean_election.rs): the dead RF 1 replica shows in `Elr:` and
//! `LastKnownElr:`. The leader epoch bump of an election does not show in `--describe`, so it is not
//! asserted.

use crate::support;
use crate::wire;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cluster::*;
use support::*;

/// Fast failure detection for the kill tests (Kafka's defaults are 2000 / 9000).
const FAST_FENCING: &[(&str, &str)] = &[
    ("broker.heartbeat.interval.ms", "500"),
    ("broker.session.timeout.ms", "3000"),
];

fn all_ids(c: &Cluster) -> BTreeSet<i32> {
    c.ids().into_iter().collect()
}

// ------------------------------------------------------------------------------------------------
// (a) + (b)

#[test]
fn every_node_creates_and_describes_topics_alike_and_reports_one_cluster() {
    let c = Cluster::start(3, &[]);
    let ids = all_ids(&c);

    // (b) Metadata from every node lists the three brokers at their advertised addresses.
    for via in c.ids() {
        let seen = c
            .brokers_seen(via)
            .unwrap_or_else(|| panic!("kcat -L via node {via} failed"));
        let expected: Vec<(i32, String)> = c
            .nodes
            .iter()
            .map(|n| (n.id, format!("127.0.0.1:{}", n.port)))
            .collect();
        assert_eq!(seen, expected, "kcat -L via node {via}");
    }

    // (b) One cluster id, through every node (DescribeCluster).
    let ids_seen: Vec<String> = c.ids().into_iter().map(|via| c.cluster_id(via)).collect();
    assert!(
        ids_seen.iter().all(|id| id == &ids_seen[0]),
        "cluster ids differ between nodes: {ids_seen:?}"
    );
    if let Some(formatted) = &c.formatted_cluster_id {
        assert_eq!(&ids_seen[0], formatted);
    }
    // ... and the Admin API of another client (librdkafka's DescribeCluster) agrees.
    let described = python_json(DESCRIBE_CLUSTER, &[&c.node_bootstrap(3)]);
    assert_eq!(described["cluster_id"], Value::from(ids_seen[0].clone()));
    let nodes: BTreeSet<i64> = described["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .collect();
    assert_eq!(nodes, BTreeSet::from([1, 2, 3]), "{described}");

    // (a) RF 3 through node 2.
    c.create_topic(2, "t", 3, 3, &[]);
    let mut texts = Vec::new();
    for via in c.ids() {
        let d = c.wait_describe("t", via, bound(20), "3 settled partitions", |d| {
            d.partitions.len() == 3 && full_isr(d)
        });
        for p in &d.partitions {
            assert_eq!(
                p.replica_set(),
                ids,
                "replicas of t-{}:\n{}",
                p.partition,
                d.text
            );
            assert_eq!(p.replicas.len(), 3, "{}", d.text);
            // A new partition is led by its first (preferred) replica.
            assert_eq!(p.leader, Some(p.replicas[0]), "{}", d.text);
        }
        // Each broker leads one of the three partitions.
        let leaders: BTreeSet<i32> = d.leaders().into_iter().flatten().collect();
        assert_eq!(leaders, ids, "leaders not spread:\n{}", d.text);
        assert!(
            d.text.contains("ReplicationFactor: 3"),
            "describe header:\n{}",
            d.text
        );
        texts.push((via, d));
    }
    // Every node tells the same story: same topic id, replicas, ISR, leaders (the whole output).
    for (via, d) in &texts[1..] {
        assert_eq!(
            d.text, texts[0].1.text,
            "describe via node {via} differs from via node {}",
            texts[0].0
        );
    }

    // (a) RF 4 on 3 brokers is refused, and nothing is created.
    let out = c.topics(
        3,
        &[
            "--create",
            "--topic",
            "t4",
            "--partitions",
            "3",
            "--replication-factor",
            "4",
        ],
    );
    let both = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(!out.status.success(), "RF 4 accepted:\n{both}");
    assert!(both.contains("InvalidReplicationFactorException"), "{both}");
    let listed = assert_success(&c.topics(1, &["--list"]), "kafka-topics.sh --list");
    assert!(!listed.lines().any(|l| l.trim() == "t4"), "{listed}");

    // (a) An explicit assignment is honoured: partition i on the given brokers, first one leading.
    let out = c.topics(
        1,
        &[
            "--create",
            "--topic",
            "assigned",
            "--replica-assignment",
            "1:2,2:3,3:1",
        ],
    );
    let text = assert_success(&out, "create --replica-assignment");
    assert!(text.contains("Created topic assigned."), "{text}");
    let d = c.wait_describe("assigned", 3, bound(20), "settled", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    let expected = [vec![1, 2], vec![2, 3], vec![3, 1]];
    for (p, replicas) in d.partitions.iter().zip(expected) {
        assert_eq!(p.replicas, replicas, "{}", d.text);
        assert_eq!(p.leader, Some(replicas[0]), "{}", d.text);
        // `Isr: 1,2`: every replica in sync.
        assert_eq!(p.isr_set(), p.replica_set(), "{}", d.text);
    }
    assert!(d.text.contains("ReplicationFactor: 2"), "{}", d.text);
}

// ------------------------------------------------------------------------------------------------
// (c)

#[test]
fn rf1_partitions_spread_and_clients_work_through_any_single_node() {
    let c = Cluster::start(3, &[]);
    c.create_topic(1, "spread", 3, 1, &[]);
    let d = c.wait_describe("spread", 2, bound(20), "3 led partitions", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    for p in &d.partitions {
        let leader = p.leader.unwrap();
        assert_eq!(p.replicas, vec![leader], "{}", d.text);
        assert_eq!(p.isr, vec![leader], "{}", d.text);
    }
    let leaders: BTreeSet<i32> = d.leaders().into_iter().flatten().collect();
    assert_eq!(
        leaders,
        all_ids(&c),
        "RF 1 partitions not spread:\n{}",
        d.text
    );

    // kcat: produce through node 1 alone, consume through node 3 alone.
    let input: String = (0..30).map(|i| format!("kcat-{i}:kv-{i}\n")).collect();
    let out = kcat_stdin(
        &[
            "-P",
            "-b",
            &c.node_bootstrap(1),
            "-t",
            "spread",
            "-K:",
            "-X",
            "acks=all",
        ],
        &input,
    );
    assert_success(&out, "kcat -P through node 1");

    // The Java console producer through node 2.
    let input: String = (0..30).map(|i| format!("java-{i}:jv-{i}\n")).collect();
    let bootstrap2 = c.node_bootstrap(2);
    let out = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &[
            "--bootstrap-server",
            &bootstrap2,
            "--topic",
            "spread",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        &input,
    );
    assert_success(&out, "kafka-console-producer.sh through node 2");

    // Python confluent-kafka through node 3; the delivery reports say where each record went.
    let produced = python_json(
        CONFLUENT_PRODUCE,
        &[&c.node_bootstrap(3), "spread", "py", "30"],
    );
    assert_eq!(produced["left"], 0, "{produced}");
    assert_eq!(produced["errors"], Value::Array(vec![]), "{produced}");
    let delivered = produced["delivered"].as_array().unwrap();
    assert_eq!(delivered.len(), 30, "{produced}");

    // kcat through node 3 reads everything, from all three partitions (three leaders).
    let read = kcat_read(&c.node_bootstrap(3), "spread", None);
    let by_key: BTreeMap<&str, &(i32, i64, String)> =
        read.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(read.len(), 90, "records read through node 3: {read:?}");
    assert_eq!(by_key.len(), 90, "duplicates: {read:?}");
    for i in 0..30 {
        assert_eq!(by_key[format!("kcat-{i}").as_str()].2, format!("kv-{i}"));
        assert_eq!(by_key[format!("java-{i}").as_str()].2, format!("jv-{i}"));
        assert_eq!(by_key[format!("py-{i}").as_str()].2, format!("pv-{i}"));
    }
    let partitions: BTreeSet<i32> = read.values().map(|v| v.0).collect();
    assert_eq!(partitions, BTreeSet::from([0, 1, 2]), "{read:?}");
    for d in delivered {
        let key = d[0].as_str().unwrap();
        let at = (d[1].as_i64().unwrap() as i32, d[2].as_i64().unwrap());
        assert_eq!(
            (by_key[key].0, by_key[key].1),
            at,
            "{key} not where reported"
        );
    }

    // The Java console consumer through node 1 (it joins a consumer group: __consumer_offsets
    // with RF 3, its coordinator on whichever node leads its partition).
    let bootstrap1 = c.node_bootstrap(1);
    let out = kafka_tool_timeout(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap1,
            "--topic",
            "spread",
            "--from-beginning",
            "--max-messages",
            "90",
            "--timeout-ms",
            "30000",
            "--property",
            "print.key=true",
            "--property",
            "key.separator=:",
        ],
        None,
        Duration::from_secs(90),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = assert_success(&out, "kafka-console-consumer.sh through node 1");
    let got: BTreeSet<&str> = text.lines().collect();
    assert_eq!(got.len(), 90, "{text}\n{}", stderr_of(&out));
    assert!(
        got.contains("java-7:jv-7") && got.contains("kcat-29:kv-29") && got.contains("py-0:pv-0")
    );

    // Python confluent-kafka consumer through node 2.
    let consumed = python_json(CONFLUENT_CONSUME, &[&c.node_bootstrap(2), "spread", "3"]);
    assert_eq!(consumed["eof"], serde_json::json!([0, 1, 2]), "{consumed}");
    assert_eq!(consumed["records"].as_array().unwrap().len(), 90);

    // A broker that does not lead a partition answers NOT_LEADER_OR_FOLLOWER (6); its leader
    // takes the same request.
    for p in &d.partitions {
        let leader = p.leader.unwrap();
        for node in &c.nodes {
            let code = raw_produce(node.port, "spread", p.partition);
            let expected = if node.id == leader { 0 } else { 6 };
            assert_eq!(
                code, expected,
                "Produce to spread-{} (leader {leader}) sent to node {}",
                p.partition, node.id
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// (d)

#[test]
fn a_killed_node_is_fenced_its_partitions_move_and_it_rejoins() {
    let mut c = Cluster::start(3, FAST_FENCING);
    c.create_topic(1, "r3", 3, 3, &["--config", "min.insync.replicas=2"]);
    c.create_topic(2, "r1", 3, 1, &[]);
    let before = c.wait_describe("r3", 3, bound(20), "settled", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    let r1_before = c.wait_describe("r1", 3, bound(20), "settled", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    assert!(
        before.text.contains("min.insync.replicas=2"),
        "{}",
        before.text
    );
    produce_acks_all(&c.bootstrap(), "r3", "before", None, 30);
    // Where every acknowledged record is, to compare with what stays readable after the kill.
    let before_read = check_all_there(&c.bootstrap(), "r3", &["before"], 30);

    // The victim: a leader of r3, unless that is the Raft leader (that case has its own test).
    let raft_leader = c.quorum_leader(1);
    let victim = before
        .leaders()
        .into_iter()
        .flatten()
        .find(|&l| Some(l) != raft_leader)
        .unwrap();
    let survivors: Vec<i32> = c.ids().into_iter().filter(|&id| id != victim).collect();
    eprintln!("raft leader {raft_leader:?}; killing node {victim}");

    c.kill9(victim);
    let fenced_after = c.wait_for_brokers(2, bound(30));
    eprintln!("node {victim} fenced (Metadata lists 2 brokers) {fenced_after:?} after SIGKILL");
    for &via in &survivors {
        let seen = c.brokers_seen(via).unwrap();
        let expected: Vec<(i32, String)> = survivors
            .iter()
            .map(|&id| (id, c.node_bootstrap(id)))
            .collect();
        assert_eq!(seen, expected, "kcat -L via node {via} after the kill");
    }

    // RF 3 through each survivor.
    let mut r3_seen: Vec<TopicDescription> = Vec::new();
    for &via in &survivors {
        // The victim's partitions have a new leader from the ISR; it left every ISR.
        let d = c.wait_describe("r3", via, bound(20), "without the victim", |d| {
            d.partitions
                .iter()
                .all(|p| p.leader.is_some_and(|l| l != victim) && !p.isr.contains(&victim))
        });
        eprintln!("r3 via node {via} after the kill:\n{}", d.text);
        for (p, old) in d.partitions.iter().zip(&before.partitions) {
            assert_eq!(p.replicas, old.replicas, "replicas changed:\n{}", d.text);
            // No eligible leader replicas: the ELR stays empty while the ISR still holds
            // min.insync.replicas members.
            assert_eq!(
                p.elr,
                Some(vec![]),
                "Elr of r3-{}:\n{}",
                p.partition,
                d.text
            );
            assert_eq!(
                p.last_known_elr,
                Some(vec![]),
                "LastKnownElr of r3-{}:\n{}",
                p.partition,
                d.text
            );
            let leader = p.leader.unwrap();
            assert!(
                p.isr.contains(&leader),
                "leader outside the ISR:\n{}",
                d.text
            );
            assert!(
                old.isr.contains(&leader),
                "leader not from the old ISR:\n{}",
                d.text
            );
            assert_eq!(
                p.isr_set(),
                old.replica_set()
                    .into_iter()
                    .filter(|&r| r != victim)
                    .collect(),
                "ISR of r3-{}:\n{}",
                p.partition,
                d.text
            );
            if old.leader != Some(victim) {
                assert_eq!(p.leader, old.leader, "leader moved needlessly:\n{}", d.text);
            }
        }
        r3_seen.push(d);
    }
    // Both survivors tell the same story.
    assert_eq!(
        r3_seen[0].partitions, r3_seen[1].partitions,
        "r3 via node {} and via node {} differ:\n{}\n{}",
        survivors[0], survivors[1], r3_seen[0].text, r3_seen[1].text
    );
    let r3_after = r3_seen.pop().unwrap();

    // RF 1: what the victim led has no leader; the other partitions keep theirs.
    let r1_after = c.wait_describe(
        "r1",
        survivors[0],
        bound(20),
        "leaderless where the victim led",
        |d| {
            d.partitions
                .iter()
                .zip(&r1_before.partitions)
                .all(|(p, old)| (old.leader == Some(victim)) == p.leader.is_none())
        },
    );
    let d = &r1_after;
    eprintln!("r1 via node {} after the kill:\n{}", survivors[0], d.text);
    for (p, old) in d.partitions.iter().zip(&r1_before.partitions) {
        assert_eq!(p.replicas, old.replicas, "{}", d.text);
        if old.leader == Some(victim) {
            assert!(
                d.text.contains(&format!(
                    "Partition: {}\tLeader: none\tReplicas: {victim}\t",
                    p.partition
                )),
                "expected `Leader: none` for r1-{}:\n{}",
                p.partition,
                d.text
            );
            // Kafka 4.1 with ELR (on in a new cluster), and Milena: `Isr: ` empty, the victim in
            // `Elr:` and, as the last leader, in `LastKnownElr:`.
            assert!(p.isr.is_empty(), "ISR of r1-{}:\n{}", p.partition, d.text);
            assert_eq!(p.elr, Some(vec![victim]), "{}", d.text);
            assert_eq!(p.last_known_elr, Some(vec![victim]), "{}", d.text);
        } else {
            assert_eq!(p.leader, old.leader, "{}", d.text);
            assert_eq!(p.isr, old.isr, "{}", d.text);
        }
    }

    // Nobody takes writes for a partition without a leader: every survivor answers
    // NOT_LEADER_OR_FOLLOWER (6), whether it holds a replica of it or not.
    for (topic, d) in [("r3", &r3_after), ("r1", &r1_after)] {
        for p in d.partitions.iter().filter(|p| p.leader.is_none()) {
            for &s in &survivors {
                let code = raw_produce(c.node(s).port, topic, p.partition);
                assert_eq!(
                    code, 6,
                    "Produce to leaderless {topic}-{} sent to node {s}",
                    p.partition
                );
            }
        }
    }

    // The partitions with a leader (all three: ISR 2 = min.insync.replicas) take acks=all
    // writes through the survivors.
    let led: Vec<i32> = r3_after
        .partitions
        .iter()
        .filter(|p| p.leader.is_some())
        .map(|p| p.partition)
        .collect();
    let survivor_bootstrap = survivors
        .iter()
        .map(|&id| c.node_bootstrap(id))
        .collect::<Vec<_>>()
        .join(",");
    let after_prefixes: Vec<String> = led.iter().map(|p| format!("after{p}")).collect();
    for (&p, prefix) in led.iter().zip(&after_prefixes) {
        produce_acks_all(&survivor_bootstrap, "r3", prefix, Some(p), 30);
    }
    // Acked data survived: each led partition holds exactly what it held before the kill, then
    // what was written after it.
    let via = c.node_bootstrap(survivors[1]);
    let mut read = BTreeMap::new();
    for &p in &led {
        read.extend(kcat_read(&via, "r3", Some(p)));
    }
    let mut expected: BTreeMap<String, (i32, i64, String)> = before_read
        .iter()
        .filter(|(_, v)| led.contains(&v.0))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (&p, prefix) in led.iter().zip(&after_prefixes) {
        let base = before_read.values().filter(|v| v.0 == p).count() as i64;
        for i in 0..30 {
            expected.insert(
                format!("{prefix}-{i}"),
                (p, base + i, format!("{prefix}v-{i}")),
            );
        }
    }
    assert_eq!(
        read, expected,
        "r3 partitions {led:?} read via node {} after the kill (key -> (partition, offset, value))",
        survivors[1]
    );

    // Restart: it rejoins and Metadata lists 3 brokers again.
    let restarted = Instant::now();
    c.start_again(victim);
    let rejoined = c.wait_for_brokers(3, bound(30));
    eprintln!(
        "node {victim} listed again {:?} after its start ({rejoined:?} after \"started\")",
        restarted.elapsed()
    );
    // It catches up and the ISRs regrow (leadership stays where it moved until the periodic
    // preferred-leader rebalance).
    let d = c.wait_describe("r3", victim, bound(30), "with full ISRs again", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    eprintln!("r3 via node {victim} after its restart:\n{}", d.text);
    // RF 1: the partitions it holds have their leader back.
    let d = c.wait_describe("r1", victim, bound(30), "led again", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    eprintln!("r1 via node {victim} after its restart:\n{}", d.text);
    assert_eq!(d.leaders(), r1_before.leaders(), "{}", d.text);
    eprintln!("settled again {:?} after the restart", restarted.elapsed());
    // Every acknowledged record is there, through the restarted node.
    let mut prefixes = vec!["before"];
    prefixes.extend(after_prefixes.iter().map(String::as_str));
    check_all_there(&c.node_bootstrap(victim), "r3", &prefixes, 30);
}

#[test]
fn the_survivors_create_topics_after_the_raft_leader_is_killed() {
    let mut c = Cluster::start(3, FAST_FENCING);
    let leader = c.quorum_leader(2);
    // Without DescribeQuorum, kill every node in turn: one of them is the Raft leader.
    let victims = match leader {
        Some(l) => vec![l],
        None => {
            eprintln!(
                "kafka-metadata-quorum.sh describe --status failed: killing every node in turn"
            );
            c.ids()
        }
    };
    let mut misplaced = Vec::new();
    for victim in victims {
        let survivors: Vec<i32> = c.ids().into_iter().filter(|&id| id != victim).collect();
        let survivor_bootstraps: Vec<String> =
            survivors.iter().map(|&id| c.node_bootstrap(id)).collect();
        c.kill9(victim);
        let killed = Instant::now();

        // `kafka-topics.sh --create` through a survivor, again until it succeeds (the new
        // controller may still be electing: the tool's own retries cover most of that), while
        // a watcher times the fencing: Metadata from both survivors lists 2 brokers.
        let topic = format!("after-kill-{victim}");
        let ((attempts, created), fenced) = std::thread::scope(|s| {
            let watcher = s.spawn(|| {
                let deadline = killed + bound(30);
                while Instant::now() < deadline {
                    if survivor_bootstraps
                        .iter()
                        .all(|b| kcat_broker_count(b) == Some(2))
                    {
                        return Some(killed.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                None
            });
            let created = create_until_accepted(&c, survivors[0], &topic, killed, bound(30));
            (created, watcher.join().unwrap())
        });
        let created = created.unwrap_or_else(|last| {
            panic!(
                "node {victim} killed: no --create of {topic} through node {} accepted within {:?} \
                 ({attempts} attempts); last:\n{last}\n{}",
                survivors[0],
                bound(30),
                c.logs_tail(60)
            )
        });
        let fenced = fenced.unwrap_or_else(|| {
            panic!(
                "node {victim} not fenced (Metadata from nodes {survivors:?} still lists it) {:?} \
                 after the kill\n{}",
                bound(30),
                c.logs_tail(60)
            )
        });
        eprintln!(
            "node {victim} (leader: {leader:?}) killed: {topic} created through node {} {created:?} \
             after the kill ({attempts} attempt(s)); node {victim} fenced {fenced:?} after the kill",
            survivors[0]
        );

        if leader.is_some() {
            let new = c.quorum_leader(survivors[1]);
            assert!(
                new.is_some_and(|l| l != victim && survivors.contains(&l)),
                "Raft leader after killing {victim}: {new:?}"
            );
        }

        // Once it is fenced, new partitions are led by the survivors and served by them.
        let topic = format!("after-fence-{victim}");
        c.create_topic(survivors[1], &topic, 4, 2, &[]);
        let d = c.wait_describe(&topic, survivors[0], bound(20), "settled", |d| {
            d.partitions.len() == 4 && full_isr(d)
        });
        let bootstrap = c.node_bootstrap(survivors[0]);
        produce_acks_all(&bootstrap, &topic, "k", None, 20);
        check_all_there(&c.node_bootstrap(survivors[1]), &topic, &["k"], 20);
        // The topic created before the fencing is there too, seen from either survivor.
        let first = format!("after-kill-{victim}");
        c.wait_describe(&first, survivors[1], bound(20), "with 2 partitions", |d| {
            d.partitions.len() == 2
        });

        c.start_again(victim);
        c.wait_for_brokers(3, bound(30));

        // RF 2 with 2 unfenced brokers: Kafka places every replica on them (a fenced broker gets
        // a replica only when the unfenced ones are too few). Checked last, so that a wrong
        // placement does not hide the rest.
        let expected: BTreeSet<i32> = survivors.iter().copied().collect();
        if d.partitions.iter().any(|p| p.replica_set() != expected) {
            misplaced.push(format!(
                "{topic}, created after node {victim} was fenced, has replicas outside the \
                 survivors {expected:?}:\n{}",
                d.text
            ));
        }
    }
    assert!(misplaced.is_empty(), "{}", misplaced.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// (f)

#[test]
fn a_node_without_its_controller_listener_exits_naming_the_key() {
    let (port, c1, c2, c3) = (free_port(), free_port(), free_port(), free_port());
    let listeners = format!("PLAINTEXT://127.0.0.1:{port}");
    let voters = format!("1@127.0.0.1:{c1},2@127.0.0.1:{c2},3@127.0.0.1:{c3}");
    start_fails_naming(
        "1",
        &listeners,
        &listeners,
        &voters,
        &["controller.listener.names", "listeners"],
    );
}

#[test]
fn a_node_missing_from_the_voters_exits_naming_the_key() {
    let (port, cport, c1, c2) = (free_port(), free_port(), free_port(), free_port());
    let listeners = format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}");
    let advertised = format!("PLAINTEXT://127.0.0.1:{port}");
    // node.id 3, but the voters are 1, 2 and 4.
    let voters = format!("1@127.0.0.1:{c1},2@127.0.0.1:{c2},4@127.0.0.1:{cport}");
    start_fails_naming(
        "3",
        &listeners,
        &advertised,
        &voters,
        &["controller.quorum.voters"],
    );
}

/// Starts one combined-mode node with these keys and asserts that it exits with an error whose
/// message names one of `keys`.
#[track_caller]
fn start_fails_naming(
    node_id: &str,
    listeners: &str,
    advertised: &str,
    voters: &str,
    keys: &[&str],
) {
    let out = run_single_node(
        &[
            ("process.roles", "broker,controller"),
            ("node.id", node_id),
            ("listeners", listeners),
            ("advertised.listeners", advertised),
            ("controller.listener.names", "CONTROLLER"),
            ("controller.quorum.voters", voters),
        ],
        bound(20),
    )
    .unwrap_or_else(|e| panic!("the node kept running: {e}"));
    let both = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(!out.status.success(), "start-up must fail:\n{both}");
    assert!(
        keys.iter().any(|k| both.contains(k)),
        "the message names none of {keys:?}:\n{both}"
    );
}

#[test]
fn a_node_whose_voters_differ_from_the_others_exits_naming_the_key() {
    if reference_mode() {
        // Recorded at the top of this file: Kafka 4.1 runs such a node and lets it join.
        eprintln!(
            "skipped in reference mode: Kafka does not detect voters that differ between nodes"
        );
        return;
    }
    let mut c = Cluster::configure(3, FAST_FENCING);
    // Node 3 believes in a fourth voter that nobody else knows.
    let voters = format!(
        "{},4@127.0.0.1:{}",
        c.nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect::<Vec<_>>()
            .join(","),
        free_port()
    );
    c.set_prop(3, "controller.quorum.voters", &voters);
    c.launch(1);
    c.launch(2);
    c.launch_no_wait(3);
    let status = c.wait_exit(3, bound(30));
    let log = c.log(3);
    let status = status.unwrap_or_else(|| {
        panic!("node 3 with different controller.quorum.voters still runs after 30 s:\n{log}")
    });
    assert!(!status.success(), "node 3 exited with {status}:\n{log}");
    assert!(
        log.contains("controller.quorum.voters"),
        "node 3's message does not name controller.quorum.voters:\n{log}"
    );
    // The two nodes that agree keep running.
    assert!(c.is_running(1) && c.is_running(2), "{}", c.logs_tail(60));
}

/// With two of three nodes gone the survivor has no quorum: it keeps serving the partition it
/// leads with its last metadata (acks=1 produce and fetch), and a metadata change through it
/// is refused with an error, never applied by a minority.
#[test]
fn a_node_without_a_quorum_serves_what_it_leads_and_refuses_changes() {
    let mut c = Cluster::start(3, FAST_FENCING);
    c.create_topic(1, "minority", 3, 1, &[]);
    let d = c.wait_describe("minority", 1, bound(20), "led", full_isr);
    let own = d
        .partitions
        .iter()
        .find(|p| p.leader == Some(1))
        .map(|p| p.partition)
        .expect("node 1 leads one of the three partitions");
    c.kill9(2);
    c.kill9(3);
    let input: String = (0..10).map(|i| format!("m-{i}\n")).collect();
    let partition = own.to_string();
    let bootstrap = c.node_bootstrap(1);
    let args = [
        "-P",
        "-b",
        &bootstrap,
        "-t",
        "minority",
        "-p",
        &partition,
        "-X",
        "acks=1",
        "-X",
        "message.timeout.ms=20000",
    ];
    let out = kcat_stdin(&args, &input);
    assert!(
        out.status.success() && !stderr_of(&out).contains("Delivery failed"),
        "produce to the survivor's own partition failed: {}\n{}",
        stderr_of(&out),
        c.logs_tail(40)
    );
    let out = kcat(&[
        "-C",
        "-b",
        &bootstrap,
        "-t",
        "minority",
        "-p",
        &partition,
        "-o",
        "beginning",
        "-e",
        "-q",
    ]);
    let values: Vec<String> = stdout_of(&out).lines().map(str::to_string).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("m-{i}")).collect();
    assert_eq!(values, expected, "{}", stderr_of(&out));
    let started = Instant::now();
    let create = [
        "--bootstrap-server",
        bootstrap.as_str(),
        "--create",
        "--topic",
        "refused",
        "--partitions",
        "1",
        "--replication-factor",
        "1",
    ];
    match kafka_tool_timeout("kafka-topics.sh", &create, None, TOOL_TIMEOUT) {
        Ok(out) => {
            assert!(
                !out.status.success() && !stdout_of(&out).contains("Created topic"),
                "a minority created a topic:\n{}",
                stdout_of(&out)
            );
            // Milena answers within its forwarding timeout, naming the cause.
            assert!(
                c.is_reference() || stdout_of(&out).contains("controller.quorum.voters"),
                "{}",
                stdout_of(&out)
            );
            eprintln!(
                "create without quorum refused after {:?}: {}",
                started.elapsed(),
                stdout_of(&out).trim()
            );
        }
        // Kafka's Admin client keeps retrying for its 60 s default.api.timeout.ms.
        Err(e) if c.is_reference() => eprintln!("create without quorum: {e}"),
        Err(e) => panic!("no answer to a create without quorum: {e}"),
    }
    // Nothing was committed behind the majority's back: when it returns, there is no such topic.
    c.start_again(2);
    c.start_again(3);
    c.wait_for_brokers(3, bound(30));
    let list = stdout_of(&c.topics(2, &["--list"]));
    assert!(!list.lines().any(|l| l == "refused"), "{list}");
}

/// SIGTERM is a controlled shutdown: the stopping node asks to be fenced, so the others stop
/// listing it and its partitions change at once, not after `broker.session.timeout.ms` (left at
/// Kafka's 9 s here). Restarted, it leads its partitions again.
#[test]
fn a_node_stopped_with_sigterm_is_fenced_at_once_and_leads_again_after_restart() {
    let mut c = Cluster::start(3, &[("broker.heartbeat.interval.ms", "500")]);
    c.create_topic(1, "orderly", 3, 1, &[]);
    let before = c.wait_describe("orderly", 1, bound(20), "led", full_isr);
    let on_2 = before
        .partitions
        .iter()
        .find(|p| p.leader == Some(2))
        .map(|p| p.partition)
        .expect("node 2 leads one of the three partitions");
    let stopped = Instant::now();
    c.stop(2);
    assert!(
        wait_until(bound(5), || c
            .brokers_seen(1)
            .is_some_and(|b| b.iter().all(|(id, _)| *id != 2))),
        "node 2 still listed {:?} after its controlled shutdown\n{}",
        stopped.elapsed(),
        c.logs_tail(40)
    );
    let gone = stopped.elapsed();
    assert!(
        gone < Duration::from_secs(8),
        "fenced only after {gone:?}: the session timeout, not a controlled shutdown"
    );
    eprintln!("SIGTERM to fenced (as Metadata shows): {gone:?}");
    c.wait_describe("orderly", 3, bound(10), "without leader on node 2", |d| {
        d.partition(on_2).leader != Some(2)
    });
    c.start_again(2);
    c.wait_for_brokers(3, bound(30));
    c.wait_describe("orderly", 1, bound(20), "led by node 2 again", |d| {
        d.partition(on_2).leader == Some(2)
    });
}

// ------------------------------------------------------------------------------------------------
// Helpers

/// Produces `count` records `<prefix>-<i>` = `<prefix>v-<i>` with kcat, acks=all, to `partition`
/// (or wherever the partitioner puts each key), and checks every delivery report (kcat exits
/// non-zero when a message fails).
#[track_caller]
fn produce_acks_all(
    bootstrap: &str,
    topic: &str,
    prefix: &str,
    partition: Option<i32>,
    count: usize,
) {
    let input: String = (0..count)
        .map(|i| format!("{prefix}-{i}:{prefix}v-{i}\n"))
        .collect();
    let partition = partition.map(|p| p.to_string());
    let mut args = vec![
        "-P",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-K:",
        "-X",
        "acks=all",
        "-X",
        "message.timeout.ms=20000",
    ];
    if let Some(p) = &partition {
        args.extend(["-p", p.as_str()]);
    }
    let out = kcat_stdin(&args, &input);
    let err = stderr_of(&out);
    assert!(
        out.status.success() && !err.contains("Delivery failed") && !err.contains("ERROR"),
        "kcat -P to {topic} (partition {partition:?}) via {bootstrap}: {}\n{err}",
        out.status
    );
}

/// Reads `topic` from the beginning through `bootstrap` and checks it holds exactly the records of
/// `produce_acks_all` for each prefix, with dense offsets from 0 in every partition. Returns what
/// it read: `key -> (partition, offset, value)`.
#[track_caller]
fn check_all_there(
    bootstrap: &str,
    topic: &str,
    prefixes: &[&str],
    count: usize,
) -> BTreeMap<String, (i32, i64, String)> {
    let read = kcat_read(bootstrap, topic, None);
    let missing: Vec<String> = prefixes
        .iter()
        .flat_map(|prefix| (0..count).map(move |i| format!("{prefix}-{i}")))
        .filter(|key| !read.contains_key(key))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged records missing from {topic} read via {bootstrap}: {missing:?}\n\
         read (key -> (partition, offset, value)): {read:?}"
    );
    let expected: usize = prefixes.len() * count;
    assert_eq!(read.len(), expected, "{topic} via {bootstrap}: {read:?}");
    for prefix in prefixes {
        for i in 0..count {
            let key = format!("{prefix}-{i}");
            let got = read
                .get(&key)
                .unwrap_or_else(|| panic!("{key} missing from {topic} via {bootstrap}: {read:?}"));
            assert_eq!(got.2, format!("{prefix}v-{i}"));
        }
    }
    let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (p, o, _) in read.values() {
        by_partition.entry(*p).or_default().push(*o);
    }
    for (p, mut offsets) in by_partition {
        offsets.sort();
        assert_eq!(
            offsets,
            (0..offsets.len() as i64).collect::<Vec<_>>(),
            "offsets of {topic}-{p} not dense"
        );
    }
    read
}

/// `key -> (partition, offset, value)` of everything in `topic` (or in its one `partition`),
/// read with kcat through `bootstrap` to the end of every partition.
#[track_caller]
fn kcat_read(
    bootstrap: &str,
    topic: &str,
    partition: Option<i32>,
) -> BTreeMap<String, (i32, i64, String)> {
    let partition = partition.map(|p| p.to_string());
    let mut args = vec![
        "-C",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%p %o %k %s\n",
    ];
    if let Some(p) = &partition {
        args.extend(["-p", p.as_str()]);
    }
    let out = kcat(&args);
    let text = assert_success(&out, "kcat -C");
    let mut read = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(4, ' ');
        let p: i32 = parts.next().unwrap().parse().unwrap();
        let o: i64 = parts.next().unwrap().parse().unwrap();
        let k = parts.next().unwrap_or("").to_string();
        let v = parts.next().unwrap_or("").to_string();
        assert!(
            read.insert(k.clone(), (p, o, v)).is_none(),
            "{k} read twice from {topic}:\n{text}"
        );
    }
    read
}

/// How many brokers kcat's Metadata through `bootstrap` lists; `None` when kcat fails.
fn kcat_broker_count(bootstrap: &str) -> Option<usize> {
    let mut cmd = std::process::Command::new("kcat");
    cmd.args(["-L", "-b", bootstrap, "-m", "3"]);
    let out = run_with_timeout(&mut cmd, None, Duration::from_secs(10)).ok()?;
    if !out.status.success() {
        return None;
    }
    parse_kcat_brokers(&stdout_of(&out)).map(|b| b.len())
}

/// `kafka-topics.sh --create --topic <topic> --partitions 2 --replication-factor 2` through node
/// `via`, again until it is accepted or `timeout` after `since` has passed. Returns the attempts
/// made, and the time from `since` to the end of the accepted one (Err with the last output when
/// none was).
fn create_until_accepted(
    c: &Cluster,
    via: i32,
    topic: &str,
    since: Instant,
    timeout: Duration,
) -> (usize, Result<Duration, String>) {
    let deadline = since + timeout;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let out = c.topics(
            via,
            &[
                "--create",
                "--topic",
                topic,
                "--partitions",
                "2",
                "--replication-factor",
                "2",
            ],
        );
        let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
        // An attempt that timed out may still have been committed: then the next one finds it.
        if (out.status.success() && stdout.contains(&format!("Created topic {topic}.")))
            || (attempts > 1 && format!("{stdout}{stderr}").contains("already exists"))
        {
            return (attempts, Ok(since.elapsed()));
        }
        if Instant::now() >= deadline {
            return (
                attempts,
                Err(format!(
                    "{}\n---- stdout ----\n{stdout}\n---- stderr ----\n{stderr}",
                    out.status
                )),
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The error code of a Produce (v9, acks=1) of one record to `topic`-`partition`, sent to the
/// broker on `port` itself (no routing).
fn raw_produce(port: u16, topic: &str, partition: i32) -> i16 {
    let mut s = wire::connect(port);
    let batch = wire::record_batch(1, 1_700_000_000_000, -1, -1, -1);
    wire::produce_batch_with_acks(&mut s, topic, partition, batch, 1).error_code
}

/// Runs a Python script whose last stdout line is JSON, and returns that JSON.
#[track_caller]
fn python_json(script: &str, args: &[&str]) -> Value {
    let out = python(script, args);
    let text = assert_success(&out, "python script");
    let last = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output; stderr:\n{}", stderr_of(&out)));
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{e}: {last}\nstderr:\n{}", stderr_of(&out)))
}

const DESCRIBE_CLUSTER: &str = r#"
import sys, json
from confluent_kafka.admin import AdminClient
a = AdminClient({'bootstrap.servers': sys.argv[1]})
d = a.describe_cluster(request_timeout=20).result()
print(json.dumps({'cluster_id': d.cluster_id, 'nodes': sorted(n.id for n in d.nodes),
                  'controller': d.controller.id if d.controller else None}))
"#;

const CONFLUENT_PRODUCE: &str = r#"
import sys, json, confluent_kafka
bootstrap, topic, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5})
errors, delivered = [], []
def report(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered.append([msg.key().decode(), msg.partition(), msg.offset()])
for i in range(n):
    p.produce(topic, key=b'%s-%d' % (prefix.encode(), i), value=b'pv-%d' % i, on_delivery=report)
left = p.flush(30)
print(json.dumps({'left': left, 'errors': errors, 'delivered': delivered}))
"#;

const CONFLUENT_CONSUME: &str = r#"
import sys, json, time, confluent_kafka
from confluent_kafka import TopicPartition, KafkaError, OFFSET_BEGINNING
bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': 'assign-only',
                              'enable.auto.commit': False, 'enable.partition.eof': True})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
eof, out = set(), []
deadline = time.time() + 40
while len(eof) < partitions and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
            continue
        raise Exception(str(m.error()))
    out.append({'p': m.partition(), 'o': m.offset(), 'key': m.key().decode(), 'value': m.value().decode()})
c.close()
print(json.dumps({'eof': sorted(eof), 'records': out}))
"#;
