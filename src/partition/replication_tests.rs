//! Replication as a randomized simulation: three replicas of one partition (real `Partition`s
//! over real logs in temporary directories) and the real controller functions (fencing,
//! registration, AlterPartition validation) on a `MetadataImage`, driven through random
//! appends, follower fetches (with the leader's divergence check and the follower's
//! truncation), ISR changes, clock jumps, crashes and restarts. The invariants of CLUSTER.md §4
//! are checked as it runs:
//! - acked-not-lost: every write acknowledged under acks=all (high watermark past it while its
//!   leader still led in its epoch) is in every later leader's log at its offset;
//! - a leader's high watermark never passes the log end of a live ISR member;
//! - log matching: once healed and caught up, every replica holds the same batches.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;

use super::replication::FollowerFetchError;
use super::Partition;
use crate::log::builder::{build_batch, read_records, NewRecord};
use crate::log::{BatchIter, Log, LogConfig};
use crate::metadata::controller::alter_partition::AlterPartitionRequest;
use crate::metadata::controller::partition_change::ElectionPolicy;
use crate::metadata::controller::topics::{create_topic, Brokers, NewTopic};
use crate::metadata::{
    BrokerEndpoint, MetadataImage, MetadataRecord, PartitionState, TopicImage, NO_LEADER,
};

/// The simulated topic's election settings: Kafka's defaults (min ISR 1, no unclean election).
fn policy(_: &TopicImage) -> ElectionPolicy {
    ElectionPolicy::default()
}

fn alter_partition(
    image: &MetadataImage,
    request: &AlterPartitionRequest,
) -> Result<Vec<MetadataRecord>, crate::metadata::controller::alter_partition::AlterPartitionError>
{
    crate::metadata::controller::alter_partition::alter_partition(image, request, &policy)
}

fn fence(image: &MetadataImage, b: i32) -> Vec<MetadataRecord> {
    crate::metadata::controller::brokers::fence(image, b, &policy)
}

fn unfence(image: &MetadataImage, b: i32) -> Vec<MetadataRecord> {
    crate::metadata::controller::brokers::unfence(image, b, &policy)
}

/// A registration after kill -9: no clean-shutdown epoch.
fn register(
    image: &MetadataImage,
    b: i32,
    incarnation: Uuid,
    endpoints: Vec<BrokerEndpoint>,
    rack: Option<String>,
) -> Vec<MetadataRecord> {
    crate::metadata::controller::brokers::register(
        image,
        b,
        incarnation,
        endpoints,
        rack,
        None,
        &policy,
    )
}

const BROKERS: [i32; 3] = [1, 2, 3];
const LAG_MS: i64 = 10_000;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Sim {
    image: MetadataImage,
    topic_id: Uuid,
    dirs: BTreeMap<i32, tempfile::TempDir>,
    /// `None` while the broker is down.
    replicas: BTreeMap<i32, Option<Arc<Partition>>>,
    now: i64,
    next_value: u64,
    /// Appended, not yet answered: (leader, leader epoch, offset, value).
    pending: Vec<(i32, i32, i64, String)>,
    acked: BTreeMap<i64, String>,
    acks: usize,
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        ..LogConfig::default()
    }
}

fn endpoint(id: i32) -> Vec<BrokerEndpoint> {
    vec![BrokerEndpoint {
        listener: "PLAINTEXT".into(),
        host: "h".into(),
        port: id,
    }]
}

impl Sim {
    fn new() -> Self {
        let mut image = MetadataImage::default();
        for id in BROKERS {
            let r = register(&image, id, Uuid::new_v4(), endpoint(id), None);
            apply_records(&mut image, &r);
            let r = unfence(&image, id);
            apply_records(&mut image, &r);
        }
        let topic = NewTopic {
            name: "t".into(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: vec![(0, BROKERS.to_vec())],
            configs: Default::default(),
        };
        let brokers = Brokers {
            registered: &BROKERS,
            live: &BROKERS,
        };
        let (records, created) = create_topic(&image, topic, &brokers).expect("create");
        apply_records(&mut image, &records);
        let mut sim = Sim {
            image,
            topic_id: created.id,
            dirs: BROKERS
                .iter()
                .map(|&b| (b, tempfile::tempdir().expect("dir")))
                .collect(),
            replicas: BTreeMap::new(),
            now: 1_000_000,
            next_value: 0,
            pending: Vec::new(),
            acked: BTreeMap::new(),
            acks: 0,
        };
        for b in BROKERS {
            sim.start(b);
        }
        sim
    }

    fn state(&self) -> PartitionState {
        self.image
            .topic_by_id(&self.topic_id)
            .expect("topic")
            .placement[&0]
            .clone()
    }

    fn live(&self, b: i32) -> Option<Arc<Partition>> {
        self.replicas.get(&b).cloned().flatten()
    }

    fn start(&mut self, b: i32) {
        let log = Log::open(self.dirs[&b].path(), config(), self.now).expect("open log");
        let partition = Partition::new(Arc::from("t"), 0, self.topic_id, log, false);
        partition.set_min_insync_replicas(1);
        partition
            .apply_state(b, &self.state(), self.now)
            .expect("apply state");
        self.replicas.insert(b, Some(Arc::new(partition)));
    }

    /// Commits controller records and gives every live replica its new role.
    fn commit(&mut self, records: &[MetadataRecord]) {
        apply_records(&mut self.image, records);
        let state = self.state();
        for b in BROKERS {
            if let Some(p) = self.live(b) {
                p.apply_state(b, &state, self.now).expect("apply state");
            }
        }
    }

    fn append(&mut self) {
        let state = self.state();
        let Some(leader) = (state.leader != NO_LEADER)
            .then(|| self.live(state.leader))
            .flatten()
        else {
            return;
        };
        self.next_value += 1;
        let value = format!("v{}", self.next_value);
        let batch = build_batch(
            &[NewRecord {
                key: None,
                value: Some(Bytes::from(value.clone())),
            }],
            self.now,
        );
        let info = leader.append(batch, self.now).expect("append as leader");
        self.pending.push((
            state.leader,
            leader.leader_epoch(),
            info.first_offset,
            value,
        ));
    }

    /// One fetch of follower `f` from the current leader, as the fetcher and the Fetch handler
    /// do it.
    fn fetch(&mut self, f: i32) {
        let state = self.state();
        let (Some(follower), Some(leader)) = (self.live(f), self.live(state.leader)) else {
            return;
        };
        if f == state.leader {
            return;
        }
        let Some(position) = follower.fetch_position() else {
            return;
        };
        if position.leader_epoch != leader.leader_epoch() {
            return; // FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH
        }
        if let Some(diverging) =
            leader.diverging_epoch(position.last_fetched_epoch, position.fetch_offset)
        {
            let target = follower.truncation_offset(position.fetch_offset, diverging);
            follower.truncate_to(target).expect("truncate");
            return;
        }
        let epoch = self.image.brokers[&f].epoch;
        let read = match leader.fetch_for_follower(f, epoch, position.fetch_offset, 700, self.now) {
            Ok(read) => read,
            Err(FollowerFetchError::NotLeader | FollowerFetchError::NotReplica) => return,
        };
        let records = match read {
            Ok(read) => read.read_all().expect("read"),
            Err(_) => return, // out of range: the next round sees the new state
        };
        follower
            .append_fetched(
                position.fetch_offset,
                records,
                leader.high_watermark(),
                leader.log_start_offset(),
                self.now,
            )
            .expect("follower append");
    }

    fn isr_change(&mut self) {
        let state = self.state();
        let Some(leader) = self.live(state.leader) else {
            return;
        };
        let image = self.image.clone();
        let eligible = |b: i32, e: i64| {
            image
                .brokers
                .get(&b)
                .is_some_and(|r| !r.fenced && r.epoch == e)
        };
        let Some(change) = leader.isr_change(self.now, LAG_MS, eligible) else {
            return;
        };
        let request = AlterPartitionRequest {
            broker_id: state.leader,
            broker_epoch: self.image.brokers[&state.leader].epoch,
            topic_id: self.topic_id,
            partition: 0,
            leader_epoch: change.leader_epoch,
            partition_epoch: change.partition_epoch,
            new_isr: change.new_isr,
        };
        match alter_partition(&self.image, &request) {
            Ok(records) if !records.is_empty() => self.commit(&records),
            _ => leader.isr_change_failed(),
        }
    }

    fn crash(&mut self, b: i32) {
        if self.live(b).is_none() {
            return;
        }
        // kill -9 with the page cache intact: what was written is in the files.
        self.replicas.insert(b, None);
        let records = fence(&self.image, b);
        self.commit(&records);
    }

    fn restart(&mut self, b: i32) {
        if self.live(b).is_some() {
            return;
        }
        self.start(b);
        let records = register(&self.image, b, Uuid::new_v4(), endpoint(b), None);
        self.commit(&records);
        let records = unfence(&self.image, b);
        self.commit(&records);
    }

    /// Answers the acks=all writes whose fate is known, as the produce handler does.
    fn settle_acks(&mut self) {
        let replicas = self.replicas.clone();
        let mut acked = Vec::new();
        self.pending.retain(|(b, epoch, offset, value)| {
            let Some(p) = replicas.get(b).cloned().flatten() else {
                return false; // its leader died: unknown outcome, never assumed either way
            };
            if !p.is_leader() || p.leader_epoch() != *epoch {
                return false;
            }
            if p.high_watermark() > *offset {
                acked.push((*offset, value.clone()));
                return false;
            }
            true
        });
        for (offset, value) in acked {
            if let Some(old) = self.acked.insert(offset, value.clone()) {
                panic!("offset {offset} acknowledged twice: {old} and {value}");
            }
            self.acks += 1;
        }
    }

    fn check(&self) {
        let state = self.state();
        let Some(leader) = self.live(state.leader) else {
            return;
        };
        let hw = leader.high_watermark();
        for b in &state.isr {
            if let Some(member) = self.live(*b) {
                assert!(
                    hw <= member.log_end_offset(),
                    "leader {} HW {hw} past ISR member {b}'s log end {}: {state:?}",
                    state.leader,
                    member.log_end_offset()
                );
            }
        }
        let values = values(&leader);
        for (offset, value) in &self.acked {
            assert_eq!(
                values.get(offset),
                Some(value),
                "acknowledged record at {offset} missing from leader {} (epoch {}): {state:?}",
                state.leader,
                state.leader_epoch
            );
        }
    }
}

fn apply_records(image: &mut MetadataImage, records: &[MetadataRecord]) {
    for r in records {
        image.replay(r);
    }
}

/// Every record of a replica's log, offset → value.
fn values(p: &Partition) -> BTreeMap<i64, String> {
    let mut out = BTreeMap::new();
    let records = p
        .read_local(p.log_start_offset(), usize::MAX >> 1)
        .expect("read")
        .records;
    for batch in BatchIter::new(records) {
        let (_, bytes) = batch.expect("valid batch");
        for r in read_records(bytes).expect("records") {
            let value = String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned();
            out.insert(r.offset, value);
        }
    }
    out
}

#[test]
fn random_failures_lose_no_acknowledged_write_and_replicas_converge() {
    let mut total_acks = 0;
    let mut leader_changes = 0;
    for run in 0..12u64 {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (run * 0x9E37_79B9));
        let mut sim = Sim::new();
        let mut last_epoch = sim.state().leader_epoch;
        for _step in 0..400 {
            let b = BROKERS[rng.below(3) as usize];
            match rng.below(20) {
                0..=5 => sim.append(),
                6..=13 => sim.fetch(b),
                14 | 15 => sim.isr_change(),
                16 => sim.now += rng.below(2 * LAG_MS as u64) as i64,
                17 => sim.crash(b),
                _ => sim.restart(b),
            }
            sim.settle_acks();
            sim.check();
            let epoch = sim.state().leader_epoch;
            if epoch != last_epoch {
                leader_changes += 1;
                last_epoch = epoch;
            }
        }
        // Heal: everyone back, then fetch and grow the ISR until nothing moves.
        for b in BROKERS {
            sim.restart(b);
        }
        for _round in 0..200 {
            for b in BROKERS {
                sim.fetch(b);
            }
            sim.isr_change();
            sim.settle_acks();
            sim.check();
        }
        let state = sim.state();
        assert_ne!(
            state.leader, NO_LEADER,
            "healed without a leader: {state:?}"
        );
        assert_eq!(state.isr.len(), 3, "ISR did not regrow: {state:?}");
        let leader = values(&sim.live(state.leader).expect("leader"));
        for b in BROKERS {
            let replica = values(&sim.live(b).expect("live"));
            assert_eq!(
                replica, leader,
                "replica {b} differs from leader {}",
                state.leader
            );
        }
        total_acks += sim.acks;
    }
    assert!(
        total_acks > 500,
        "too few acks to mean anything: {total_acks}"
    );
    assert!(
        leader_changes > 20,
        "too few leader changes: {leader_changes}"
    );
}
