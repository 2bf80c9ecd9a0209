//! The classic group state machine driven with a fake clock: every timeout is a number.

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::state::*;

fn config(delay: i32) -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: delay,
        ..GroupConfig::default()
    }
}

fn request(member_id: &str, instance: Option<&str>) -> JoinRequest {
    JoinRequest {
        member_id: member_id.into(),
        group_instance_id: instance.map(str::to_string),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"sub"))],
        require_known_member_id: true,
    }
}

fn sync_req(
    member: &str,
    instance: Option<&str>,
    generation: i32,
    protocol_type: Option<&str>,
    protocol_name: Option<&str>,
    assignments: Vec<(String, Bytes)>,
) -> SyncRequest {
    SyncRequest {
        member_id: member.into(),
        group_instance_id: instance.map(str::to_string),
        generation,
        protocol_type: protocol_type.map(str::to_string),
        protocol_name: protocol_name.map(str::to_string),
        assignments,
    }
}

fn now_reply<T: std::fmt::Debug>(reply: Reply<T>) -> T {
    match reply {
        Reply::Now(v) => v,
        Reply::Later(_) => panic!("expected an immediate answer"),
    }
}

fn later<T>(reply: Reply<T>) -> tokio::sync::oneshot::Receiver<T> {
    match reply {
        Reply::Later(rx) => rx,
        Reply::Now(_) => panic!("expected to wait"),
    }
}

/// Joins a new member through MEMBER_ID_REQUIRED; returns its ID and the pending join.
fn join_new(
    group: &mut ClassicGroup,
    name: &str,
    cfg: &GroupConfig,
    now: i64,
) -> (String, tokio::sync::oneshot::Receiver<JoinResult>) {
    let first = now_reply(group.join(request("", None), || format!("{name}-id"), cfg, now));
    assert_eq!(first.error, ResponseError::MemberIdRequired.code());
    let id = first.member_id;
    let rx = later(group.join(request(&id, None), || unreachable!(), cfg, now));
    (id, rx)
}

/// Two members form generation 1; the leader's assignment makes the group Stable.
fn stable_pair(cfg: &GroupConfig) -> (ClassicGroup, String, String) {
    let mut g = ClassicGroup::new("g", 0);
    // Both get their member IDs first; a pending member holds the join open (as in Kafka).
    let a = now_reply(g.join(request("", None), || "a-id".into(), cfg, 0)).member_id;
    let b = now_reply(g.join(request("", None), || "b-id".into(), cfg, 0)).member_id;
    let mut rx_a = later(g.join(request(&a, None), || unreachable!(), cfg, 5));
    assert!(rx_a.try_recv().is_err(), "b is still pending");
    let mut rx_b = later(g.join(request(&b, None), || unreachable!(), cfg, 10));
    let ja = rx_a
        .try_recv()
        .expect("join completes once all members joined");
    let jb = rx_b.try_recv().unwrap();
    assert_eq!((ja.generation, jb.generation), (1, 1));
    assert_eq!(ja.leader, a);
    assert_eq!(ja.members.len(), 2, "the leader sees every member");
    assert!(jb.members.is_empty(), "followers see none");
    assert_eq!(g.state, GroupState::CompletingRebalance);
    let (follower, store) = g.sync(sync_req(&b, None, 1, None, None, vec![]), 20);
    assert!(!store);
    let mut follower = later(follower);
    let assignments = vec![
        (a.clone(), Bytes::from_static(b"A")),
        (b.clone(), Bytes::from_static(b"B")),
    ];
    let (leader, store) = g.sync(
        sync_req(&a, None, 1, Some("consumer"), Some("range"), assignments),
        30,
    );
    assert!(store, "the leader's assignment must be persisted");
    g.finish_sync(None, cfg, 30);
    assert_eq!(
        later(leader).try_recv().unwrap().assignment,
        Bytes::from_static(b"A")
    );
    assert_eq!(
        follower.try_recv().unwrap().assignment,
        Bytes::from_static(b"B")
    );
    assert_eq!(g.state, GroupState::Stable);
    (g, a, b)
}

#[test]
fn two_members_join_sync_and_become_stable() {
    let cfg = config(0);
    let (mut g, a, b) = stable_pair(&cfg);
    assert_eq!(g.heartbeat(&a, None, 1, 100), 0);
    assert_eq!(g.heartbeat(&b, None, 1, 100), 0);
    let value = g.metadata_value();
    assert_eq!((value.generation, value.members.len()), (1, 2));
    assert_eq!(value.protocol.as_deref(), Some("range"));
}

#[test]
fn heartbeat_errors() {
    let cfg = config(0);
    let (mut g, a, _) = stable_pair(&cfg);
    assert_eq!(
        g.heartbeat("nobody", None, 1, 100),
        ResponseError::UnknownMemberId.code()
    );
    assert_eq!(
        g.heartbeat(&a, None, 7, 100),
        ResponseError::IllegalGeneration.code()
    );
}

#[test]
fn an_expired_session_rebalances_the_survivor() {
    let cfg = config(0);
    let (mut g, a, b) = stable_pair(&cfg);
    // a keeps heartbeating, b goes silent.
    for t in (1000..=10_000).step_by(1000) {
        assert_eq!(g.heartbeat(&a, None, 1, t), 0);
        g.tick(&cfg, t);
    }
    g.tick(&cfg, 10_100);
    assert_eq!(
        g.state,
        GroupState::PreparingRebalance,
        "b's session expired"
    );
    assert_eq!(
        g.heartbeat(&a, None, 1, 10_200),
        ResponseError::RebalanceInProgress.code()
    );
    let mut rx = later(g.join(request(&a, None), || unreachable!(), &cfg, 10_300));
    let result = rx.try_recv().unwrap();
    assert_eq!((result.generation, result.members.len()), (2, 1));
    assert!(!g.members.contains_key(&b));
}

#[test]
fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
    let cfg = config(0);
    let (mut g, a, b) = stable_pair(&cfg);
    assert_eq!(
        g.leave("nobody", None, &cfg, 100),
        ResponseError::UnknownMemberId.code()
    );
    // A third member arrives: everyone must rejoin.
    let (_c, mut rx_c) = join_new(&mut g, "c", &cfg, 100);
    let mut rx_a = later(g.join(request(&a, None), || unreachable!(), &cfg, 200));
    // b keeps its session alive by heartbeating but never rejoins.
    for t in [9_000, 18_000, 27_000] {
        assert_eq!(
            g.heartbeat(&b, None, 1, t),
            ResponseError::RebalanceInProgress.code()
        );
        g.tick(&cfg, t + 500);
        assert!(rx_a.try_recv().is_err(), "still waiting for b at {t}");
    }
    g.tick(&cfg, 30_200);
    let result = rx_a
        .try_recv()
        .expect("join completes at the rebalance timeout");
    assert_eq!(result.generation, 2);
    assert!(rx_c.try_recv().is_ok());
    assert!(!g.members.contains_key(&b));
    assert_eq!(g.members.len(), 2);
}

#[test]
fn initial_delay_gathers_members_into_one_generation() {
    let cfg = config(3000);
    let mut g = ClassicGroup::new("g", 0);
    let (_, mut rx_a) = join_new(&mut g, "a", &cfg, 0);
    g.tick(&cfg, 1000);
    assert!(rx_a.try_recv().is_err(), "waits out the initial delay");
    let (_, mut rx_b) = join_new(&mut g, "b", &cfg, 2000);
    g.tick(&cfg, 4000);
    assert!(rx_a.try_recv().is_err(), "a new member extended the delay");
    g.tick(&cfg, 5000);
    let (ra, rb) = (rx_a.try_recv().unwrap(), rx_b.try_recv().unwrap());
    assert_eq!((ra.generation, rb.generation), (1, 1));
}

#[test]
fn leaving_rebalances_and_the_last_one_out_empties_the_group() {
    let cfg = config(0);
    let (mut g, a, b) = stable_pair(&cfg);
    assert_eq!(g.leave(&b, None, &cfg, 100), 0);
    assert_eq!(g.state, GroupState::PreparingRebalance);
    assert_eq!(g.leave(&a, None, &cfg, 200), 0);
    assert!(g.take_emptied(), "the group became Empty: persist it");
    assert!(!g.take_emptied(), "reported once");
    assert_eq!(g.state, GroupState::Empty);
    assert!(g.is_empty());
}

#[test]
fn a_restarted_static_member_gets_its_assignment_back_without_a_rebalance() {
    let cfg = config(0);
    let mut g = ClassicGroup::new("g", 0);
    let mut rx = later(g.join(request("", Some("static-1")), || "s1".into(), &cfg, 0));
    let joined = rx.try_recv().unwrap();
    let (reply, store) = g.sync(
        sync_req(
            "s1",
            Some("static-1"),
            1,
            None,
            None,
            vec![("s1".into(), Bytes::from_static(b"P0"))],
        ),
        10,
    );
    assert!(store);
    g.finish_sync(None, &cfg, 10);
    assert_eq!(
        later(reply).try_recv().unwrap().assignment,
        Bytes::from_static(b"P0")
    );
    assert_eq!(joined.generation, 1);
    // The process restarts and joins again with the same instance ID but no member ID.
    let again = now_reply(g.join(
        request("", Some("static-1")),
        || "s1-new".into(),
        &cfg,
        5000,
    ));
    assert_eq!(again.error, 0);
    assert_eq!(again.generation, 1, "no rebalance");
    assert_eq!(again.member_id, "s1-new");
    assert_eq!(g.state, GroupState::Stable);
    let (reply, _) = g.sync(
        sync_req("s1-new", Some("static-1"), 1, None, None, vec![]),
        5010,
    );
    assert_eq!(now_reply(reply).assignment, Bytes::from_static(b"P0"));
    // The old incarnation is fenced.
    assert_eq!(
        g.heartbeat("s1", Some("static-1"), 1, 5020),
        ResponseError::FencedInstanceId.code()
    );
}

#[test]
fn bad_joins_are_refused() {
    let cfg = config(0);
    let mut g = ClassicGroup::new("g", 0);
    let mut short = request("", None);
    short.session_timeout_ms = 10;
    assert_eq!(
        now_reply(g.join(short, || "x".into(), &cfg, 0)).error,
        ResponseError::InvalidSessionTimeout.code()
    );
    let (_a, _rx) = join_new(&mut g, "a", &cfg, 0);
    let mut other = request("", None);
    other.protocols = vec![("roundrobin".into(), Bytes::new())];
    assert_eq!(
        now_reply(g.join(other, || "y".into(), &cfg, 0)).error,
        ResponseError::InconsistentGroupProtocol.code()
    );
    assert_eq!(
        now_reply(g.join(request("ghost", None), || unreachable!(), &cfg, 0)).error,
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn a_storm_of_joins_is_bounded() {
    let cfg = config(0);
    let mut g = ClassicGroup::new("g", 0);
    let mut last = 0;
    for n in 0..10_001 {
        last = now_reply(g.join(request("", None), || format!("m{n}"), &cfg, 0)).error;
    }
    assert_eq!(last, ResponseError::GroupMaxSizeReached.code());
    // Unused member IDs expire with the session timeout, and the group is idle again.
    g.tick(&cfg, 20_000);
    assert!(g.is_idle());
    assert_eq!(
        now_reply(g.join(request("", None), || "fresh".into(), &cfg, 20_000)).error,
        ResponseError::MemberIdRequired.code()
    );
}
