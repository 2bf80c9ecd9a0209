//! Issue 13, "Bad input and faults": what a partition leader answers to follower Fetches it must
//! refuse, and what a follower whose disk fills up does to the cluster. Three nodes in KRaft
//! combined mode (`tests/support/cluster.rs`); raw Fetch requests with the `kafka-protocol` crate.
//! Runs against a real Kafka 4.1 cluster with `MILENA_TEST_REFERENCE=1`.
//!
//! - `follower_fetches_that_must_be_refused_get_kafkas_error_codes`: topic `fenced` placed with
//!   `--replica-assignment 1:2,2:3,3:1`. To leader 1 of partition 0 (replicas 1,2):
//!   - node 3, not a replica, with its real broker epoch (Fetch v15 ReplicaState) or as the
//!     replica id of Fetch v12: UNKNOWN_LEADER_EPOCH when the request names the current leader
//!     epoch (Kafka's `Partition.followerReplicaOrThrow`: "the tuple (replicaId, leaderEpoch) is
//!     not yet recognized"), NOT_LEADER_OR_FOLLOWER when it names none (-1); a broker id no
//!     broker has gets the same;
//!   - node 2, a replica, with a broker epoch older than its registration: NOT_LEADER_OR_FOLLOWER
//!     (Kafka's `Replica.updateFetchStateOrThrow`); with its own epoch: no error. The real epochs
//!     are found by asking: the smallest epoch a leader does not call stale is the registered one;
//!   - after the leader moves (node 1 stopped and started again), the new leader answers an older
//!     current leader epoch with FENCED_LEADER_EPOCH and a newer one with UNKNOWN_LEADER_EPOCH.
//!
//!   Then the ISRs are full again and a write is acknowledged by all of them: no refused fetch
//!   stopped the partition or the replication of the others.
//! - `a_follower_with_a_full_disk_leaves_the_isr_and_the_leader_carries_on`: node 3's log dir is
//!   a 4 MiB tmpfs; see the test's own comment.

use crate::support;
use crate::wire;

use std::net::TcpStream;
use uuid::Uuid;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use support::cluster::*;
use support::*;

const NONE: i16 = 0;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn connect_node(c: &Cluster, id: i32) -> TcpStream {
    wire::connect(c.node(id).port)
}

/// (topic id, leader, leader epoch) of `topic`-`partition` as node `via` sees it (Metadata v12).
fn leader_of(c: &Cluster, via: i32, topic: &str, partition: i32) -> (Uuid, i32, i32) {
    let mut s = connect_node(c, via);
    let response: MetadataResponse = wire::roundtrip(
        &mut s,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(name(topic))),
        ])),
    );
    let t = &response.topics[0];
    assert_eq!(t.error_code, 0, "metadata for {topic}");
    let p = t
        .partitions
        .iter()
        .find(|p| p.partition_index == partition)
        .expect("the partition in Metadata");
    (t.topic_id, p.leader_id.0, p.leader_epoch)
}

/// One follower Fetch, as a replica fetcher sends it.
struct FollowerFetch<'a> {
    topic: &'a str,
    topic_id: Uuid,
    partition: i32,
    version: i16,
    replica_id: i32,
    /// Sent in ReplicaState from v15; older versions have no broker epoch.
    broker_epoch: i64,
    current_leader_epoch: i32,
}

/// The partition's error code in the answer to `f`, sent to node `to`. Fetches from offset 0 of
/// an empty log, without waiting.
fn follower_fetch(c: &Cluster, to: i32, f: &FollowerFetch) -> i16 {
    let partition = fetch_request::FetchPartition::default()
        .with_partition(f.partition)
        .with_current_leader_epoch(f.current_leader_epoch)
        .with_fetch_offset(0)
        .with_last_fetched_epoch(-1)
        .with_log_start_offset(0)
        .with_partition_max_bytes(1 << 20);
    let mut topic = fetch_request::FetchTopic::default().with_partitions(vec![partition]);
    if f.version >= 13 {
        topic = topic.with_topic_id(f.topic_id);
    } else {
        topic = topic.with_topic(name(f.topic));
    }
    let mut request = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![topic]);
    if f.version >= 15 {
        request = request.with_replica_state(
            fetch_request::ReplicaState::default()
                .with_replica_id(BrokerId(f.replica_id))
                .with_replica_epoch(f.broker_epoch),
        );
    } else {
        request = request.with_replica_id(BrokerId(f.replica_id));
    }
    let mut s = connect_node(c, to);
    let response: FetchResponse = wire::roundtrip(&mut s, ApiKey::Fetch, f.version, &request);
    assert_eq!(response.error_code, 0, "top-level Fetch error");
    response.responses[0].partitions[0].error_code
}

/// The registered broker epoch of `broker`, found through the leader of a partition it follows:
/// the leader calls every older epoch stale (NOT_LEADER_OR_FOLLOWER) and takes every other one.
fn broker_epoch(c: &Cluster, broker: i32, topic: &str, partition: i32) -> i64 {
    let (topic_id, leader, leader_epoch) = leader_of(c, broker, topic, partition);
    assert_ne!(leader, broker, "{broker} must follow {topic}-{partition}");
    let stale = |epoch: i64| {
        let code = follower_fetch(
            c,
            leader,
            &FollowerFetch {
                topic,
                topic_id,
                partition,
                version: 15,
                replica_id: broker,
                broker_epoch: epoch,
                current_leader_epoch: leader_epoch,
            },
        );
        match code {
            NOT_LEADER_OR_FOLLOWER => true,
            NONE => false,
            other => panic!("broker {broker} epoch {epoch}: unexpected error {other}"),
        }
    };
    // Epochs start at 1; the first one not stale is the registered one.
    let (mut lo, mut hi) = (0i64, 1i64);
    while stale(hi) {
        lo = hi;
        hi *= 2;
        assert!(hi < 1 << 50, "no broker epoch of {broker} is current");
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if stale(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[test]
fn follower_fetches_that_must_be_refused_get_kafkas_error_codes() {
    let mut c = Cluster::start(3, &[]);
    let topic = "fenced";
    let out = c.topics(
        1,
        &[
            "--create",
            "--topic",
            topic,
            "--replica-assignment",
            "1:2,2:3,3:1",
        ],
    );
    assert_success(&out, "create --replica-assignment");
    c.wait_describe(topic, 1, bound(20), "a full ISR", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    // Node b follows partition p here: 2 follows 0 (leader 1), 3 follows 1, 1 follows 2.
    let epoch_2 = broker_epoch(&c, 2, topic, 0);
    let epoch_3 = broker_epoch(&c, 3, topic, 1);
    eprintln!("broker epochs: node 2 = {epoch_2}, node 3 = {epoch_3}");

    let (topic_id, leader, leader_epoch) = leader_of(&c, 1, topic, 0);
    assert_eq!(leader, 1);
    let base = FollowerFetch {
        topic,
        topic_id,
        partition: 0,
        version: 15,
        replica_id: 3,
        broker_epoch: epoch_3,
        current_leader_epoch: leader_epoch,
    };
    let mut seen = Vec::new();
    let mut case = |what: &str, f: FollowerFetch, c: &Cluster, to: i32| {
        let code = follower_fetch(c, to, &f);
        eprintln!("{what}: error {code}");
        seen.push((what.to_string(), code));
    };
    // (a) Not a replica.
    case(
        "v15 non-replica, leader epoch named",
        FollowerFetch { ..base },
        &c,
        1,
    );
    case(
        "v15 non-replica, no leader epoch",
        FollowerFetch {
            current_leader_epoch: -1,
            ..base
        },
        &c,
        1,
    );
    case(
        "v12 non-replica, leader epoch named",
        FollowerFetch {
            version: 12,
            broker_epoch: -1,
            ..base
        },
        &c,
        1,
    );
    case(
        "v12 non-replica, no leader epoch",
        FollowerFetch {
            version: 12,
            broker_epoch: -1,
            current_leader_epoch: -1,
            ..base
        },
        &c,
        1,
    );
    case(
        "v15 unknown broker 99",
        FollowerFetch {
            replica_id: 99,
            broker_epoch: 1,
            ..base
        },
        &c,
        1,
    );
    // (b) A replica with a stale broker epoch, and with its own.
    case(
        "v15 replica, stale broker epoch",
        FollowerFetch {
            replica_id: 2,
            broker_epoch: epoch_2 - 1,
            ..base
        },
        &c,
        1,
    );
    case(
        "v15 replica, current broker epoch",
        FollowerFetch {
            replica_id: 2,
            broker_epoch: epoch_2,
            ..base
        },
        &c,
        1,
    );

    // (c) Move the leadership of partition 0 (its epoch grows), then fence both ways.
    c.stop(1);
    c.wait_describe(topic, 2, bound(30), "leader 2 for partition 0", |d| {
        d.partition(0).leader == Some(2)
    });
    c.start_again(1);
    c.wait_describe(topic, 2, bound(60), "a full ISR again", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
    let (topic_id, leader, leader_epoch) = leader_of(&c, 2, topic, 0);
    assert!(leader == 2 && leader_epoch >= 1, "{leader} {leader_epoch}");
    let epoch_1 = broker_epoch(&c, 1, topic, 0);
    let moved = FollowerFetch {
        topic,
        topic_id,
        partition: 0,
        version: 15,
        replica_id: 1,
        broker_epoch: epoch_1,
        current_leader_epoch: leader_epoch,
    };
    case(
        "v15 replica, older leader epoch",
        FollowerFetch {
            current_leader_epoch: leader_epoch - 1,
            ..moved
        },
        &c,
        2,
    );
    case(
        "v15 replica, newer leader epoch",
        FollowerFetch {
            current_leader_epoch: leader_epoch + 1,
            ..moved
        },
        &c,
        2,
    );
    case(
        "v15 replica, current leader epoch",
        FollowerFetch { ..moved },
        &c,
        2,
    );

    let expected = [
        ("v15 non-replica, leader epoch named", UNKNOWN_LEADER_EPOCH),
        ("v15 non-replica, no leader epoch", NOT_LEADER_OR_FOLLOWER),
        ("v12 non-replica, leader epoch named", UNKNOWN_LEADER_EPOCH),
        ("v12 non-replica, no leader epoch", NOT_LEADER_OR_FOLLOWER),
        ("v15 unknown broker 99", UNKNOWN_LEADER_EPOCH),
        ("v15 replica, stale broker epoch", NOT_LEADER_OR_FOLLOWER),
        ("v15 replica, current broker epoch", NONE),
        ("v15 replica, older leader epoch", FENCED_LEADER_EPOCH),
        ("v15 replica, newer leader epoch", UNKNOWN_LEADER_EPOCH),
        ("v15 replica, current leader epoch", NONE),
    ];
    let expected: Vec<(String, i16)> = expected
        .iter()
        .map(|(w, code)| (w.to_string(), *code))
        .collect();
    assert_eq!(seen, expected);

    // Nothing above stopped replication: every replica of every partition stays in sync, and
    // an acks=all write to each partition is acknowledged.
    for p in 0..3 {
        let (_, leader, _) = leader_of(&c, 3, topic, p);
        assert_eq!(
            produce_acks_all(&c, leader, topic, p),
            NONE,
            "partition {p}"
        );
    }
    c.wait_describe(topic, 3, bound(20), "a full ISR", |d| {
        d.partitions.len() == 3 && full_isr(d)
    });
}

/// The error code of an acks=all Produce (v9) of one record to `topic`-`partition` on node `to`.
fn produce_acks_all(c: &Cluster, to: i32, topic: &str, partition: i32) -> i16 {
    let mut s = connect_node(c, to);
    let response: ProduceResponse = wire::roundtrip(
        &mut s,
        ApiKey::Produce,
        9,
        &ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(10_000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(wire::record_batch(1, 1_700_000_000_000, -1, -1, -1))),
                ])]),
    );
    response.responses[0].partition_responses[0].error_code
}

/// A tmpfs mounted on a directory for the life of the guard (lazily unmounted on drop, so that
/// a node still holding files there does not keep it mounted).
struct Tmpfs {
    dir: std::path::PathBuf,
}

impl Tmpfs {
    /// `None` (with the reason) when this host does not let the test mount (not root, no
    /// CAP_SYS_ADMIN, no tmpfs).
    fn mount(dir: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    fn resize(&self, size: &str) {
        let out = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .expect("mount -o remount");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

/// One batch of `count` records of `size` bytes each (uncompressed, no key).
fn big_batch(count: i32, size: usize) -> bytes::Bytes {
    wire::record_batch_of(count, 1_700_000_000_000, (-1, -1, -1), |_| vec![b'x'; size])
}

/// The error code of a Produce (v9) of `records` to `topic`-`partition` on node `to`.
fn produce(
    c: &Cluster,
    to: i32,
    acks: i16,
    topic: &str,
    partition: i32,
    records: bytes::Bytes,
) -> i16 {
    let mut s = connect_node(c, to);
    let response: ProduceResponse = wire::roundtrip(
        &mut s,
        ApiKey::Produce,
        9,
        &ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(8_000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(records)),
                ])]),
    );
    response.responses[0].partition_responses[0].error_code
}

/// Node 3's log dir is a 4 MiB tmpfs (its Raft metadata log is elsewhere: `metadata.log.dir`).
/// Topic `full` (leader 1, replicas 1,2,3, min.insync.replicas=2) takes 8 MiB with acks=1: node 3
/// fills its disk. Then: the leader took every write; node 3 leaves the ISR after
/// `replica.lag.time.max.ms` (3 s) and acks=all writes go on with ISR 1,2; node 3 is still up
/// (no panic) and its log names the full disk; topic `other` (replicas 2,1) never noticed. When
/// the tmpfs grows, node 3 catches up by itself and rejoins the ISR.
///
/// Kafka halts a broker whose only log dir fails (`LogManager.handleLogDirFailure`: "Shutdown
/// broker because all log dirs in ... have failed"); Milena keeps the node up and retries the
/// partition (see the commit that added this test), so this scenario has no reference run.
#[test]
fn a_follower_with_a_full_disk_leaves_the_isr_and_the_leader_carries_on() {
    if reference_mode() {
        eprintln!("SKIPPED in reference mode: Kafka halts a broker whose only log dir is full");
        return;
    }
    let mut c = Cluster::configure(
        3,
        &[
            ("replica.lag.time.max.ms", "3000"),
            ("broker.heartbeat.interval.ms", "500"),
        ],
    );
    let meta = c.node(3).dir.join("metadata");
    c.set_prop(3, "metadata.log.dir", &meta.display().to_string());
    let disk = match Tmpfs::mount(&c.node(3).data_dir(), "4m") {
        Ok(disk) => disk,
        Err(e) => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the follower's log dir ({e})");
            return;
        }
    };
    c.launch_all();
    c.wait_for_brokers(3, FORM_TIMEOUT);
    let out = c.topics(
        1,
        &[
            "--create",
            "--topic",
            "full",
            "--replica-assignment",
            "1:2:3",
            "--config",
            "min.insync.replicas=2",
        ],
    );
    assert_success(&out, "create full");
    let out = c.topics(
        1,
        &[
            "--create",
            "--topic",
            "other",
            "--replica-assignment",
            "2:1",
        ],
    );
    assert_success(&out, "create other");
    c.wait_describe("full", 1, bound(20), "a full ISR", full_isr);
    c.wait_describe("other", 1, bound(20), "a full ISR", full_isr);

    // 8 MiB in 1 MiB batches; node 3 has room for less than 4.
    for i in 0..8 {
        let code = produce(&c, 1, 1, "full", 0, big_batch(100, 10 * 1024));
        assert_eq!(code, NONE, "acks=1 batch {i}\n{}", c.logs_tail(30));
    }
    let d = c.wait_describe("full", 1, bound(20), "ISR 1,2", |d| {
        d.partition(0).isr_set() == [1, 2].into()
    });
    assert_eq!(d.partition(0).leader, Some(1), "{}", d.text);
    assert_eq!(
        produce(&c, 1, -1, "full", 0, big_batch(1, 10)),
        NONE,
        "acks=all with ISR 1,2"
    );
    assert_eq!(
        produce(&c, 2, -1, "other", 0, big_batch(1, 10)),
        NONE,
        "other"
    );
    assert!(c.is_running(3), "node 3 exited\n{}", c.log(3));
    let log = c.log(3);
    assert!(
        log.contains("No space left on device"),
        "node 3's log does not name the full disk:\n{}",
        c.logs_tail(30)
    );
    assert!(!log.contains("panicked"), "{log}");
    let first = log.lines().find(|l| l.contains("No space left on device"));
    eprintln!("node 3: {}", first.unwrap_or_default());
    // Node 3 still answers (it is a broker of the cluster, and still serves its metadata).
    assert_eq!(c.brokers_seen(3).map(|b| b.len()), Some(3));

    // Room again: node 3 catches up by itself and rejoins the ISR.
    disk.resize("64m");
    c.wait_describe("full", 1, bound(30), "a full ISR again", full_isr);
    assert!(!c.log(3).contains("panicked"));
    c.stop(3);
    drop(disk);
}
