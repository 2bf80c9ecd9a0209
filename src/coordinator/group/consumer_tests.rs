//! KIP-848 consumer group state machine tests, with a fake clock and a fake metadata image.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::assignor::{self, Assignment, MemberSpec};
use super::consumer::*;

const T: Uuid = Uuid::from_u128(0x1111);
const U: Uuid = Uuid::from_u128(0x2222);

fn topics(partitions: i32) -> Topics {
    BTreeMap::from([("t".to_string(), TopicMeta { id: T, partitions })])
}

fn config() -> ConsumerGroupConfig {
    ConsumerGroupConfig {
        session_timeout_ms: 6000,
        heartbeat_interval_ms: 1000,
        max_size: 10,
    }
}

fn parts(a: &Assignment) -> Vec<i32> {
    a.get(&T)
        .map(|ps| ps.iter().copied().collect())
        .unwrap_or_default()
}

fn owned(ps: &[i32]) -> Option<Assignment> {
    let mut a = Assignment::new();
    if !ps.is_empty() {
        a.insert(T, ps.iter().copied().collect());
    }
    Some(a)
}

fn join(member: &str) -> Heartbeat {
    Heartbeat {
        member_id: member.to_string(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".to_string()]),
        owned: Some(Assignment::new()),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        ..Default::default()
    }
}

fn beat(member: &str, epoch: i32, owned_now: Option<Assignment>) -> Heartbeat {
    Heartbeat {
        member_id: member.to_string(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned: owned_now,
        ..Default::default()
    }
}

struct Fixture {
    group: ConsumerGroup,
    topics: Topics,
}

impl Fixture {
    fn new(partitions: i32) -> Self {
        Self {
            group: ConsumerGroup::new("g"),
            topics: topics(partitions),
        }
    }

    fn hb(&mut self, req: Heartbeat, now: i64) -> Result<HeartbeatResult, HeartbeatError> {
        self.group.heartbeat(
            req,
            || "generated".to_string(),
            &self.topics,
            &config(),
            now,
        )
    }

    fn ok(&mut self, req: Heartbeat, now: i64) -> HeartbeatResult {
        self.hb(req, now).expect("heartbeat accepted")
    }

    fn code(&mut self, req: Heartbeat, now: i64) -> i16 {
        self.hb(req, now).expect_err("heartbeat refused").code
    }
}

/// m1 alone owns all six partitions, then m2 joins and the group converges to 3 + 3.
fn two_members() -> Fixture {
    let mut f = Fixture::new(6);
    let r = f.ok(join("m1"), 0);
    assert_eq!((r.member_epoch, f.group.group_epoch), (1, 1));
    assert_eq!(
        parts(r.assignment.as_ref().unwrap()),
        vec![0, 1, 2, 3, 4, 5]
    );
    assert_eq!(f.group.state(), ConsumerGroupState::Stable);

    // m2 joins: epoch 2, but everything it is targeted is still m1's.
    let r = f.ok(join("m2"), 100);
    assert_eq!(f.group.group_epoch, 2);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(parts(r.assignment.as_ref().unwrap()), Vec::<i32>::new());
    assert_eq!(
        f.group.members["m2"].state,
        MemberState::UnreleasedPartitions
    );
    assert_eq!(f.group.state(), ConsumerGroupState::Reconciling);
    let m2_target = parts(&f.group.target["m2"]);
    assert_eq!(m2_target.len(), 3);

    // m1 is told to revoke first: its assignment shrinks, its epoch stays.
    let r = f.ok(beat("m1", 1, None), 200);
    assert_eq!(r.member_epoch, 1);
    let kept = parts(r.assignment.as_ref().unwrap());
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|p| !m2_target.contains(p)));
    assert_eq!(
        f.group.members["m1"].state,
        MemberState::UnrevokedPartitions
    );

    // Until m1 reports the revocation, m2 gets nothing.
    let r = f.ok(beat("m2", 2, None), 300);
    assert_eq!(r.assignment, None);
    assert!(f.group.members["m2"].assigned.is_empty());
    // Still owning them: m1 stays where it is.
    let r = f.ok(beat("m1", 1, owned(&[0, 1, 2, 3, 4, 5])), 400);
    assert_eq!((r.member_epoch, r.assignment), (1, None));

    // m1 reports it owns only what it kept: it reaches epoch 2.
    let r = f.ok(beat("m1", 1, owned(&kept)), 500);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(f.group.members["m1"].state, MemberState::Stable);
    // Now m2 gets its three.
    let r = f.ok(beat("m2", 2, None), 600);
    assert_eq!(parts(r.assignment.as_ref().unwrap()), m2_target);
    assert_eq!(f.group.state(), ConsumerGroupState::Stable);
    f
}

#[test]
fn two_members_split_uniformly_revoking_before_reassigning() {
    let f = two_members();
    let all: BTreeSet<i32> = f
        .group
        .members
        .values()
        .flat_map(|m| parts(&m.assigned))
        .collect();
    assert_eq!(all.len(), 6);
}

#[test]
fn v0_join_without_member_id_gets_one() {
    let mut f = Fixture::new(2);
    let r = f.ok(join(""), 0);
    assert_eq!(r.member_id, "generated");
    assert_eq!(r.heartbeat_interval_ms, 1000);
}

#[test]
fn expired_member_bumps_the_epoch_and_its_partitions_move() {
    let mut f = two_members();
    // m1 keeps heartbeating, m2 goes silent.
    let m1_epoch = f.group.members["m1"].member_epoch;
    f.ok(beat("m1", m1_epoch, None), 5000);
    assert!(f.group.tick(&config(), 6000).is_empty());
    assert_eq!(f.group.tick(&config(), 6601), vec!["m2".to_string()]);
    assert_eq!(f.group.group_epoch, 3);
    assert_eq!(f.group.state(), ConsumerGroupState::Assigning);
    let r = f.ok(beat("m1", m1_epoch, None), 6700);
    assert_eq!(r.member_epoch, 3);
    assert_eq!(
        parts(r.assignment.as_ref().unwrap()),
        vec![0, 1, 2, 3, 4, 5]
    );
    // A removed member is unknown.
    assert_eq!(
        f.code(beat("m2", 2, None), 6800),
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn a_member_that_does_not_revoke_in_time_is_removed() {
    let mut f = Fixture::new(2);
    f.ok(join("m1"), 0);
    f.ok(join("m2"), 0);
    f.ok(beat("m1", 1, None), 10); // told to revoke one partition
    assert_eq!(
        f.group.members["m1"].state,
        MemberState::UnrevokedPartitions
    );
    for t in (1000..31_000).step_by(1000) {
        f.ok(beat("m1", 1, None), t); // alive, but never reports the revocation
        f.ok(beat("m2", 2, None), t);
        f.group.tick(&config(), t);
    }
    assert_eq!(f.group.tick(&config(), 30_011), vec!["m1".to_string()]);
}

#[test]
fn leaving_bumps_the_epoch_and_frees_partitions() {
    let mut f = two_members();
    let r = f.ok(beat("m2", LEAVE_GROUP_MEMBER_EPOCH, None), 1000);
    assert_eq!(r.member_epoch, LEAVE_GROUP_MEMBER_EPOCH);
    assert_eq!(f.group.group_epoch, 3);
    let r = f.ok(beat("m1", 2, None), 1100);
    assert_eq!(r.member_epoch, 3);
    assert_eq!(parts(r.assignment.as_ref().unwrap()).len(), 6);
    f.ok(beat("m1", LEAVE_GROUP_MEMBER_EPOCH, None), 1200);
    assert_eq!(f.group.state(), ConsumerGroupState::Empty);
    assert_eq!(
        f.code(beat("m1", LEAVE_GROUP_MEMBER_EPOCH, None), 1300),
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn static_member_leaves_temporarily_and_comes_back_with_its_partitions() {
    let mut f = Fixture::new(4);
    let static_join = |member: &str| Heartbeat {
        instance_id: Some("i1".into()),
        ..join(member)
    };
    let r = f.ok(static_join("a"), 0);
    assert_eq!(parts(r.assignment.as_ref().unwrap()), vec![0, 1, 2, 3]);
    // While "a" holds the instance ID, another member cannot take it.
    assert_eq!(
        f.code(static_join("b"), 10),
        ResponseError::UnreleasedInstanceId.code()
    );
    let leave = Heartbeat {
        instance_id: Some("i1".into()),
        ..beat("a", LEAVE_GROUP_STATIC_MEMBER_EPOCH, None)
    };
    let r = f.ok(leave, 20);
    assert_eq!(r.member_epoch, LEAVE_GROUP_STATIC_MEMBER_EPOCH);
    assert_eq!(
        f.group.group_epoch, 1,
        "a temporary leave does not rebalance"
    );
    let r = f.ok(static_join("b"), 30);
    assert_eq!(r.member_epoch, 1);
    assert_eq!(parts(r.assignment.as_ref().unwrap()), vec![0, 1, 2, 3]);
    assert!(!f.group.members.contains_key("a"));
    // The old member ID is fenced by the new one.
    let stale = Heartbeat {
        instance_id: Some("i1".into()),
        ..beat("a", 1, None)
    };
    assert_eq!(f.code(stale, 40), ResponseError::FencedInstanceId.code());
}

#[test]
fn epochs_ahead_or_stale_are_fenced_but_a_lost_answer_is_forgiven() {
    let mut f = two_members();
    // m1 went from 1 to 2.
    assert_eq!(
        f.code(beat("m1", 3, None), 1000),
        ResponseError::FencedMemberEpoch.code()
    );
    assert_eq!(
        f.code(beat("m1", 1, None), 1000),
        ResponseError::FencedMemberEpoch.code(),
        "the previous epoch without owned partitions"
    );
    let kept = parts(&f.group.members["m1"].assigned);
    let r = f.ok(beat("m1", 1, owned(&kept)), 1000);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(
        f.code(beat("nobody", 2, None), 1000),
        ResponseError::UnknownMemberId.code()
    );
    // A fenced member rejoins under its own ID with epoch 0 and starts over.
    let r = f.ok(join("m1"), 1100);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(parts(r.assignment.as_ref().unwrap()), kept);
}

#[test]
fn new_partitions_and_new_topics_trigger_a_reassignment() {
    let mut f = Fixture::new(2);
    let sub_both = Heartbeat {
        subscribed_topic_names: Some(vec!["t".into(), "u".into()]),
        ..join("m1")
    };
    f.ok(sub_both, 0);
    assert_eq!(f.group.group_epoch, 1);
    f.topics.get_mut("t").unwrap().partitions = 3;
    let r = f.ok(beat("m1", 1, None), 100);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(parts(r.assignment.as_ref().unwrap()), vec![0, 1, 2]);
    f.topics.insert(
        "u".into(),
        TopicMeta {
            id: U,
            partitions: 1,
        },
    );
    let r = f.ok(beat("m1", 2, None), 200);
    assert_eq!(r.member_epoch, 3);
    assert_eq!(r.assignment.unwrap().get(&U).map(|p| p.len()), Some(1));
}

#[test]
fn offset_commits_check_the_member_epoch() {
    let f = two_members();
    assert_eq!(f.group.validate_commit("m1", 2), Ok(()));
    assert_eq!(
        f.group.validate_commit("m1", 1),
        Err(ResponseError::StaleMemberEpoch.code())
    );
    assert_eq!(
        f.group.validate_commit("zz", 2),
        Err(ResponseError::UnknownMemberId.code())
    );
    assert_eq!(
        f.group.validate_commit("", -1),
        Err(ResponseError::UnknownMemberId.code()),
        "an admin commit needs an empty group"
    );
    assert_eq!(ConsumerGroup::new("e").validate_commit("", -1), Ok(()));
}

#[test]
fn the_group_size_is_bounded() {
    let mut f = Fixture::new(1);
    for i in 0..10 {
        f.ok(join(&format!("m{i}")), 0);
    }
    assert_eq!(
        f.code(join("m10"), 0),
        ResponseError::GroupMaxSizeReached.code()
    );
}

#[test]
fn range_and_uniform_assignors() {
    let spec = |topics: &[Uuid]| MemberSpec {
        subscribed: topics.iter().copied().collect(),
        previous: Assignment::new(),
    };
    let members = BTreeMap::from([
        ("a".to_string(), spec(&[T, U])),
        ("b".to_string(), spec(&[T, U])),
    ]);
    let counts = BTreeMap::from([(T, 3), (U, 3)]);
    let range = assignor::assign(assignor::RANGE, &members, &counts);
    let of = |a: &BTreeMap<String, Assignment>, m: &str, t: Uuid| -> Vec<i32> {
        a[m].get(&t)
            .map(|p| p.iter().copied().collect())
            .unwrap_or_default()
    };
    assert_eq!(of(&range, "a", T), vec![0, 1]);
    assert_eq!(of(&range, "a", U), vec![0, 1]);
    assert_eq!(of(&range, "b", T), vec![2]);
    assert_eq!(of(&range, "b", U), vec![2]);
    let uniform = assignor::assign(assignor::UNIFORM, &members, &counts);
    let sizes: Vec<usize> = uniform
        .values()
        .map(|a| a.values().map(|p| p.len()).sum())
        .collect();
    assert_eq!(sizes, vec![3, 3]);

    // Uniform is sticky: a third member takes partitions without reshuffling the rest.
    let mut members = members;
    for (id, a) in &uniform {
        members.get_mut(id).unwrap().previous = a.clone();
    }
    members.insert("c".to_string(), spec(&[T, U]));
    let next = assignor::assign(assignor::UNIFORM, &members, &counts);
    for id in ["a", "b"] {
        for (t, ps) in &next[id] {
            assert!(ps.is_subset(&uniform[id][t]), "{id} only lost partitions");
        }
    }
    let sizes: Vec<usize> = next
        .values()
        .map(|a| a.values().map(|p| p.len()).sum())
        .collect();
    assert_eq!(sizes, vec![2, 2, 2]);

    // Heterogeneous subscriptions: only subscribers get a topic's partitions.
    let members = BTreeMap::from([("a".to_string(), spec(&[T])), ("b".to_string(), spec(&[U]))]);
    let mixed = assignor::assign(assignor::UNIFORM, &members, &counts);
    assert_eq!(of(&mixed, "a", T), vec![0, 1, 2]);
    assert_eq!(of(&mixed, "b", U), vec![0, 1, 2]);
    assert!(of(&mixed, "a", U).is_empty());
}

#[test]
fn the_server_assignor_follows_the_members() {
    let mut f = Fixture::new(4);
    let ranged = |m: &str| Heartbeat {
        server_assignor: Some("range".into()),
        ..join(m)
    };
    f.ok(ranged("a"), 0);
    f.ok(ranged("b"), 0);
    assert_eq!(f.group.assignor, "range");
    assert_eq!(parts(&f.group.target["a"]), vec![0, 1]);
    assert_eq!(parts(&f.group.target["b"]), vec![2, 3]);
}
