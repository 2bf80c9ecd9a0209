//! Issue 13 point 7: eligible leader replicas (ELR, KIP-966) and `unclean.leader.election.enable`,
//! as `kafka-topics.sh --describe` shows them (`Leader:`, `Isr:`, `Elr:`, `LastKnownElr:`).
//! Three nodes in KRaft combined mode (`tests/support/cluster.rs`); every scenario runs the same
//! against Apache Kafka 4.1 with `MILENA_TEST_REFERENCE=1`.
//!
//! - `elr_stays_empty_while_the_quorum_can_act`: RF 3, min.insync.replicas=2; healthy; kill -9 of
//!   one node, of two, of all three and the restart of one, then of a second.
//! - `elr_keeps_a_follower_that_left_an_isr_below_min_insync_replicas`: RF 3,
//!   min.insync.replicas=3; a killed follower goes into the ELR; restarted after kill -9 it leaves
//!   the ELR (unclean shutdown) and rejoins the ISR; stopped with SIGTERM it goes into the ELR too.
//! - `unclean_election_elects_an_out_of_sync_replica`: two RF 2 topics on the same two nodes, one
//!   with `unclean.leader.election.enable=true`; the follower is frozen until the leader drops it
//!   from the ISR, then the leader is killed: the unclean topic elects the out-of-sync follower,
//!   the other has no leader, an empty ISR and the dead leader in `Elr:` and `LastKnownElr:`; when
//!   the dead leader comes back it leads that topic again (the last known leader).
//!
//! What Apache Kafka 4.1.2 printed (`MILENA_TEST_REFERENCE=1 cargo test --release --test
//! suite unclean_election:: -- --test-threads=1 --nocapture`, 3 JVMs on 2 cores, 240 s for the file;
//! `\t` is a tab, every partition line starts with a tab). A new cluster, formatted as the
//! harness does (`kafka-storage.sh format -t <id>`, no feature flags), has ELR on:
//! `kafka-features.sh describe` printed `Feature: eligible.leader.replicas.version\t
//! SupportedMinVersion: 0\tSupportedMaxVersion: 1\tFinalizedVersionLevel: 1\tEpoch: 30` (and
//! `metadata.version ... FinalizedVersionLevel: 4.1-IV1`). The topic header line was
//! `Topic: elr2\tTopicId: ...\tPartitionCount: 1\tReplicationFactor: 3\tConfigs:
//! min.insync.replicas=2`.
//!
//! - min.insync.replicas=2, replicas 2,3,1:
//!   healthy `Leader: 2\tReplicas: 2,3,1\tIsr: 2,3,1\tElr: \tLastKnownElr: `;
//!   kill -9 of follower 3 `Leader: 2\tReplicas: 2,3,1\tIsr: 2,1\tElr: \tLastKnownElr: ` (the ISR
//!   still holds min ISR: the ELR stays empty);
//!   kill -9 of 1 as well: unchanged 8 s later through the survivor (one voter of three: the
//!   controller cannot fence anybody) `Leader: 2\tReplicas: 2,3,1\tIsr: 2,1\tElr: \tLastKnownElr: `;
//!   kill -9 of 2 too, 2 restarted alone: its client port stays closed (30 s: a broker waits for
//!   the quorum before it opens); 1 restarted as well: 2.1 s later
//!   `Leader: 1\tReplicas: 2,3,1\tIsr: 1,2\tElr: \tLastKnownElr: ` (both had shut down
//!   uncleanly; the second to come back leads).
//! - min.insync.replicas=3, replicas 3,1,2:
//!   healthy `Leader: 3\tReplicas: 3,1,2\tIsr: 3,1,2\tElr: \tLastKnownElr: `;
//!   kill -9 of 2 `Leader: 3\tReplicas: 3,1,2\tIsr: 3,1\tElr: 2\tLastKnownElr: `;
//!   2 restarted `Leader: 3\tReplicas: 3,1,2\tIsr: 3,1,2\tElr: \tLastKnownElr: `;
//!   SIGTERM of 2 `Leader: 3\tReplicas: 3,1,2\tIsr: 3,1\tElr: 2\tLastKnownElr: `;
//!   2 restarted `Leader: 3\tReplicas: 3,1,2\tIsr: 3,1,2\tElr: \tLastKnownElr: `.
//! - RF 2 on 1,3 (the Raft leader 2 holds no replica), `replica.lag.time.max.ms=1500`, session
//!   8000 ms: healthy `Leader: 1\tReplicas: 1,3\tIsr: 1,3\tElr: \tLastKnownElr: ` for both (header
//!   `Configs: min.insync.replicas=1,unclean.leader.election.enable=true` / `=false`); 3 frozen
//!   until out of both ISRs, 1 killed, 3 resumed; 12.2 s after the kill:
//!   unclean `Leader: 3\tReplicas: 1,3\tIsr: 3\tElr: \tLastKnownElr: `,
//!   clean `Leader: none\tReplicas: 1,3\tIsr: \tElr: 1\tLastKnownElr: 1`;
//!   1 restarted (after kill -9): clean `Leader: 1\tReplicas: 1,3\tIsr: 1,3\tElr: \tLastKnownElr: `,
//!   unclean `Leader: 3\tReplicas: 1,3\tIsr: 3,1\tElr: \tLastKnownElr: `.
//!
//! Milena prints the same lines in each scenario (node ids differ with placement), with two
//! differences outside this issue: `kafka-features.sh describe` lists no feature (ApiVersions
//! carries no finalized features), and a node restarted without a quorum opens its client port
//! and answers describe from the metadata it had.

use crate::support;

use std::thread;
use std::time::{Duration, Instant};

use support::cluster::*;
use support::*;

/// Fast failure detection, as in tests/replication.rs.
const PROPS: &[(&str, &str)] = &[
    ("broker.heartbeat.interval.ms", "500"),
    ("broker.session.timeout.ms", "3000"),
];

/// `kafka-features.sh describe` through node `via` (the feature levels, from ApiVersions).
fn features(via: &str) -> String {
    match kafka_tool_timeout(
        "kafka-features.sh",
        &["--bootstrap-server", via, "describe"],
        None,
        TOOL_TIMEOUT,
    ) {
        Ok(out) => format!("{}{}", stdout_of(&out), stderr_of(&out)),
        Err(e) => format!("kafka-features.sh: {e}"),
    }
}

/// The partition line of `d` for partition 0 with the topic name cut, e.g.
/// `Leader: 1\tReplicas: 1,2,3\tIsr: 1,2,3\tElr: \tLastKnownElr: `.
fn line(d: &TopicDescription) -> String {
    d.text
        .lines()
        .find(|l| l.contains("Partition: 0\t"))
        .and_then(|l| l.split_once("Partition: 0\t"))
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_default()
}

fn ids(v: &[i32]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// ISR of partition 0 of `topic` as kcat's Metadata through `bootstrap` shows it (fast: no JVM).
fn isr_in_metadata(bootstrap: &str, topic: &str) -> Option<Vec<i32>> {
    let mut cmd = std::process::Command::new("kcat");
    cmd.args(["-L", "-b", bootstrap, "-t", topic, "-m", "3"]);
    let out = run_with_timeout(&mut cmd, None, Duration::from_secs(10)).ok()?;
    let text = stdout_of(&out);
    let l = text.lines().find(|l| l.contains("partition 0,"))?;
    let isrs = l.split("isrs:").nth(1)?;
    Some(
        isrs.split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
    )
}

/// The Raft leader, asked through the running nodes in turn.
fn raft_leader(c: &Cluster) -> Option<i32> {
    c.ids().into_iter().find_map(|id| c.quorum_leader(id))
}

#[test]
fn elr_stays_empty_while_the_quorum_can_act() {
    let mut c = Cluster::start(3, PROPS);
    eprintln!("features: {}", features(&c.node_bootstrap(1)));
    let topic = "elr2";
    c.create_topic(1, topic, 1, 3, &["--config", "min.insync.replicas=2"]);
    let d = c.wait_describe(topic, 1, bound(20), "a full ISR", full_isr);
    eprintln!("healthy:\n{}", d.text);
    let p = d.partition(0).clone();
    let leader = p.leader.expect("a leader");
    assert_eq!(p.elr, Some(vec![]), "{}", d.text);
    assert_eq!(p.last_known_elr, Some(vec![]), "{}", d.text);
    assert_eq!(
        line(&d),
        format!(
            "Leader: {leader}\tReplicas: {}\tIsr: {}\tElr: \tLastKnownElr: ",
            ids(&p.replicas),
            ids(&p.isr)
        )
    );

    // One follower dies: the ISR (2) still holds min.insync.replicas, so the ELR stays empty.
    let raft = raft_leader(&c);
    let first = p
        .replicas
        .iter()
        .copied()
        .find(|&r| r != leader && Some(r) != raft)
        .expect("a follower that is not the Raft leader");
    c.kill9(first);
    let d = c.wait_describe(topic, leader, bound(20), "the victim out of the ISR", |d| {
        !d.partition(0).isr.contains(&first)
    });
    eprintln!("after kill -9 of {first}:\n{}", d.text);
    let after_one = d.partition(0).clone();
    assert_eq!(after_one.leader, Some(leader));
    assert_eq!(after_one.isr.len(), 2);
    assert_eq!(after_one.elr, Some(vec![]), "{}", d.text);
    assert_eq!(after_one.last_known_elr, Some(vec![]), "{}", d.text);

    // A second node dies: one voter of three is left, the quorum cannot change anything, and the
    // survivor keeps answering with the last metadata it has.
    let second = p
        .replicas
        .iter()
        .copied()
        .find(|&r| r != leader && r != first)
        .expect("the other follower");
    c.kill9(second);
    thread::sleep(Duration::from_secs(8));
    match c.try_describe(topic, leader) {
        Ok(d) => {
            eprintln!("after kill -9 of {first} and {second}:\n{}", d.text);
            assert_eq!(d.partition(0), &after_one, "{}", d.text);
        }
        Err(e) => eprintln!("after kill -9 of {first} and {second}: describe failed: {e}"),
    }

    // All three die; one comes back alone, then a second.
    c.kill9(leader);
    c.launch_no_wait(leader);
    thread::sleep(Duration::from_secs(if c.is_reference() { 30 } else { 10 }));
    let alone_port_open = std::net::TcpStream::connect_timeout(
        &c.node_bootstrap(leader).parse().expect("address"),
        Duration::from_millis(500),
    )
    .is_ok();
    eprintln!("node {leader} restarted alone: client port open: {alone_port_open}");
    if alone_port_open {
        match c.try_describe(topic, leader) {
            Ok(d) => eprintln!("{leader} restarted alone:\n{}", d.text),
            Err(e) => eprintln!("{leader} restarted alone: describe failed: {e}"),
        }
    }
    c.launch(second);
    let started = Instant::now();
    // Both shut down uncleanly: each leaves the ISR as it registers; the partition comes back
    // led by one of them, both in the ISR again (Kafka: the second to come back leads).
    let d = c.wait_describe(topic, second, bound(60), "both back in the ISR", |d| {
        let p = d.partition(0);
        p.leader.is_some() && p.isr_set() == [leader, second].into_iter().collect()
    });
    eprintln!(
        "{:?} after {second} joined {leader} (both restarted after kill -9):\n{}",
        started.elapsed(),
        d.text
    );
    assert_eq!(d.partition(0).last_known_elr, Some(vec![]), "{}", d.text);
    assert_eq!(d.partition(0).elr, Some(vec![]), "{}", d.text);
}

#[test]
fn elr_keeps_a_follower_that_left_an_isr_below_min_insync_replicas() {
    let mut c = Cluster::start(3, PROPS);
    let topic = "elr3";
    c.create_topic(1, topic, 1, 3, &["--config", "min.insync.replicas=3"]);
    let d = c.wait_describe(topic, 1, bound(20), "a full ISR", full_isr);
    eprintln!("healthy:\n{}", d.text);
    let p = d.partition(0).clone();
    let leader = p.leader.expect("a leader");
    let raft = raft_leader(&c);
    let victim = p
        .replicas
        .iter()
        .copied()
        .find(|&r| r != leader && Some(r) != raft)
        .expect("a follower that is not the Raft leader");
    c.kill9(victim);
    let d = c.wait_describe(topic, leader, bound(20), "the victim out of the ISR", |d| {
        !d.partition(0).isr.contains(&victim)
    });
    eprintln!("after kill -9 of {victim}:\n{}", d.text);
    let s = d.partition(0);
    let isr: Vec<i32> = p.isr.iter().copied().filter(|&b| b != victim).collect();
    assert_eq!(s.leader, Some(leader), "{}", d.text);
    assert_eq!(s.isr_set(), isr.iter().copied().collect(), "{}", d.text);
    assert_eq!(s.elr, Some(vec![victim]), "{}", d.text);
    assert_eq!(s.last_known_elr, Some(vec![]), "{}", d.text);
    assert_eq!(
        line(&d),
        format!(
            "Leader: {leader}\tReplicas: {}\tIsr: {}\tElr: {victim}\tLastKnownElr: ",
            ids(&p.replicas),
            ids(&isr)
        )
    );

    // Back after kill -9: an unclean shutdown, so it leaves the ELR; it rejoins the ISR once it
    // has caught up, and the ELR stays empty.
    c.start_again(victim);
    let d = c.wait_describe(topic, leader, bound(40), "a full ISR again", full_isr);
    eprintln!("after the restart of {victim}:\n{}", d.text);
    assert_eq!(d.partition(0).elr, Some(vec![]), "{}", d.text);
    assert_eq!(d.partition(0).last_known_elr, Some(vec![]), "{}", d.text);

    // A clean stop (SIGTERM, controlled shutdown): into the ELR as well.
    c.stop(victim);
    let d = c.wait_describe(
        topic,
        leader,
        bound(30),
        "the stopped one out of the ISR",
        |d| !d.partition(0).isr.contains(&victim),
    );
    eprintln!("after SIGTERM of {victim}:\n{}", d.text);
    assert_eq!(d.partition(0).elr, Some(vec![victim]), "{}", d.text);
    c.start_again(victim);
    let d = c.wait_describe(topic, leader, bound(40), "a full ISR again", full_isr);
    eprintln!("after the restart of {victim}:\n{}", d.text);
    assert_eq!(d.partition(0).elr, Some(vec![]), "{}", d.text);
}

#[test]
fn unclean_election_elects_an_out_of_sync_replica() {
    let mut c = Cluster::start(
        3,
        &[
            ("broker.heartbeat.interval.ms", "500"),
            ("broker.session.timeout.ms", "8000"),
            ("replica.lag.time.max.ms", "1500"),
        ],
    );
    // The Raft leader holds no replica: freezing the follower and killing the leader must leave
    // a quorum (the Raft leader and, once resumed, the follower).
    let raft = raft_leader(&c).expect("a Raft leader");
    let others: Vec<i32> = c.ids().into_iter().filter(|&id| id != raft).collect();
    let (leader, follower) = (others[0], others[1]);
    let assignment = format!("{leader}:{follower}");
    for (topic, unclean) in [("unclean", "true"), ("clean", "false")] {
        let config = format!("unclean.leader.election.enable={unclean}");
        let out = c.topics(
            raft,
            &[
                "--create",
                "--topic",
                topic,
                "--replica-assignment",
                &assignment,
                "--config",
                &config,
            ],
        );
        assert_success(&out, "create");
        let d = c.wait_describe(topic, raft, bound(20), "a full ISR", full_isr);
        eprintln!("healthy:\n{}", d.text);
    }

    c.pause(follower);
    let leader_bootstrap = c.node_bootstrap(leader);
    let shrunk = wait_until(bound(20), || {
        ["unclean", "clean"]
            .iter()
            .all(|t| isr_in_metadata(&leader_bootstrap, t).is_some_and(|isr| isr == vec![leader]))
    });
    if !shrunk {
        c.resume(follower);
        panic!(
            "the leader {leader} did not drop the frozen {follower} from the ISRs\n{}",
            c.logs_tail(60)
        );
    }
    c.kill9(leader);
    c.resume(follower);
    let killed = Instant::now();

    let d = c.wait_describe("unclean", raft, bound(40), "the follower elected", |d| {
        d.partition(0).leader == Some(follower)
    });
    eprintln!(
        "{:?} after kill -9 of {leader}:\n{}",
        killed.elapsed(),
        d.text
    );
    let unclean = format!(
        "Leader: {follower}\tReplicas: {leader},{follower}\tIsr: {follower}\tElr: \tLastKnownElr: "
    );
    assert_eq!(line(&d), unclean, "{}", d.text);

    let d = c.wait_describe("clean", raft, bound(20), "the leader gone", |d| {
        d.partition(0).leader.is_none()
    });
    eprintln!("{}", d.text);
    let clean = format!(
        "Leader: none\tReplicas: {leader},{follower}\tIsr: \tElr: {leader}\tLastKnownElr: {leader}"
    );
    assert_eq!(line(&d), clean, "{}", d.text);

    // The last leader comes back after kill -9: it leads the clean topic again.
    c.start_again(leader);
    let d = c.wait_describe("clean", raft, bound(40), "a leader", |d| {
        d.partition(0).leader.is_some()
    });
    eprintln!("after the restart of {leader}:\n{}", d.text);
    assert_eq!(d.partition(0).leader, Some(leader), "{}", d.text);
    let d = c.wait_describe("clean", raft, bound(40), "a full ISR", full_isr);
    eprintln!("{}", d.text);
    assert_eq!(d.partition(0).elr, Some(vec![]), "{}", d.text);
    let d = c.wait_describe("unclean", raft, bound(40), "a full ISR", full_isr);
    eprintln!("{}", d.text);
    assert_eq!(d.partition(0).leader, Some(follower), "{}", d.text);
}
