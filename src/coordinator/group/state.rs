//! A classic consumer group's membership state machine (JoinGroup/SyncGroup/Heartbeat/
//! LeaveGroup), as Kafka's classic protocol defines it.
//!
//! ```text
//!            join                 all joined / rebalance timeout      leader syncs
//!  Empty ───────────▶ PreparingRebalance ─────────────▶ CompletingRebalance ───────▶ Stable
//!    ▲                      ▲   (members that did not rejoin are removed)              │
//!    └── last member gone ──┴───────────── join / leave / session expiry ──────────────┘
//! ```
//!
//! Pure logic: time comes in as `now` (milliseconds), so timeouts are tested with a fake
//! clock. Requests that must wait (JoinGroup until the rebalance completes, a follower's
//! SyncGroup until the leader's assignment arrives) get a oneshot receiver; the state machine
//! answers through the sender when the group moves on. Persisting the group (the caller's job)
//! happens when the leader's assignment makes it Stable and when it becomes Empty.

use std::collections::HashMap;

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::sync::oneshot;

use super::records::{GroupMetadataValue, MemberMetadata};
pub use super::requests::*;
use kafka_protocol::ResponseError;

#[derive(Debug)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// Session expiry counts from here.
    last_heartbeat_ms: i64,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

pub struct ClassicGroup {
    pub group_id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    /// In join order: the first member to join a rebalance leads it when the leader is gone.
    pub members: IndexMap<String, Member>,
    /// Member IDs handed out with MEMBER_ID_REQUIRED, and when they expire if never used.
    pending_members: HashMap<String, i64>,
    /// When the current PreparingRebalance must end (rebalance timeout or initial delay).
    rebalance_deadline_ms: Option<i64>,
    /// The initial-delay window of a rebalance started from Empty (`group.initial.rebalance.delay.ms`).
    initial_delay_until_ms: Option<i64>,
    pub current_state_timestamp: i64,
    /// Set when a completed rebalance left the group Empty: the caller persists that.
    emptied: bool,
}

/// At most this many member IDs handed out by MEMBER_ID_REQUIRED and not yet used, per group.
const MAX_PENDING_MEMBERS: usize = 10_000;

fn err(e: ResponseError) -> i16 {
    e.code()
}

impl ClassicGroup {
    pub fn new(group_id: &str, now: i64) -> Self {
        Self {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: IndexMap::new(),
            pending_members: HashMap::new(),
            rebalance_deadline_ms: None,
            initial_delay_until_ms: None,
            current_state_timestamp: now,
            emptied: false,
        }
    }

    /// Rebuilds a group from its persisted metadata. Loaded members get a fresh session, so
    /// static members can come back after a broker restart without a rebalance.
    pub fn from_metadata(group_id: &str, value: &GroupMetadataValue, now: i64) -> Self {
        let mut group = Self::new(group_id, now);
        group.generation = value.generation;
        group.protocol_type = Some(value.protocol_type.clone()).filter(|s| !s.is_empty());
        group.protocol_name = value.protocol.clone();
        group.leader = value.leader.clone();
        group.current_state_timestamp = value.current_state_timestamp;
        for m in &value.members {
            let protocol = value.protocol.clone().unwrap_or_default();
            group.members.insert(
                m.member_id.clone(),
                Member {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout,
                    rebalance_timeout_ms: m.rebalance_timeout,
                    protocol_type: value.protocol_type.clone(),
                    protocols: vec![(protocol, m.subscription.clone())],
                    assignment: m.assignment.clone(),
                    last_heartbeat_ms: now,
                    join_waiter: None,
                    sync_waiter: None,
                },
            );
        }
        group.state = if group.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        group
    }

    /// What is written to `__consumer_offsets` for this group.
    pub fn metadata_value(&self) -> GroupMetadataValue {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.current_state_timestamp,
            members: self
                .members
                .values()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: m.metadata_for(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// An Empty group with nothing pending holds no state worth keeping in memory.
    pub fn is_idle(&self) -> bool {
        self.state == GroupState::Empty
            && self.members.is_empty()
            && self.pending_members.is_empty()
    }

    fn transition(&mut self, state: GroupState, now: i64) {
        self.state = state;
        self.current_state_timestamp = now;
    }

    fn static_member(&self, instance_id: &str) -> Option<String> {
        self.members
            .values()
            .find(|m| m.group_instance_id.as_deref() == Some(instance_id))
            .map(|m| m.member_id.clone())
    }

    /// The protocol every member supports, chosen by the members' summed preference (earlier in
    /// a member's list is preferred), as Kafka votes.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let mut best: Option<(usize, String)> = None;
        for (name, _) in &first.protocols {
            if !self
                .members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            {
                continue;
            }
            let score: usize = self
                .members
                .values()
                .map(|m| {
                    m.protocols
                        .iter()
                        .position(|(n, _)| n == name)
                        .unwrap_or(usize::MAX / 1024)
                })
                .sum();
            if best.as_ref().is_none_or(|(s, _)| score < *s) {
                best = Some((score, name.clone()));
            }
        }
        best.map(|(_, name)| name)
    }

    /// Whether a joining member's protocols fit the group's.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocols.is_empty() || protocol_type.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(name, _)| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
    }

    pub fn join(
        &mut self,
        req: JoinRequest,
        new_member_id: impl FnOnce() -> String,
        config: &GroupConfig,
        now: i64,
    ) -> Reply<JoinResult> {
        let fail = |code: i16, member_id: &str| {
            Reply::Now(JoinResult::failed(code, member_id.to_string()))
        };
        if self.state == GroupState::Dead {
            return fail(err(ResponseError::CoordinatorNotAvailable), &req.member_id);
        }
        if req.session_timeout_ms < config.min_session_timeout_ms
            || req.session_timeout_ms > config.max_session_timeout_ms
        {
            return fail(err(ResponseError::InvalidSessionTimeout), &req.member_id);
        }
        if !self.supports(&req.protocol_type, &req.protocols) {
            return fail(
                err(ResponseError::InconsistentGroupProtocol),
                &req.member_id,
            );
        }
        if req.member_id.is_empty() {
            self.join_unknown(req, new_member_id, config, now)
        } else {
            self.join_known(req, config, now)
        }
    }

    fn join_unknown(
        &mut self,
        req: JoinRequest,
        new_member_id: impl FnOnce() -> String,
        config: &GroupConfig,
        now: i64,
    ) -> Reply<JoinResult> {
        let member_id = new_member_id();
        if let Some(instance_id) = req.group_instance_id.clone() {
            if let Some(old_id) = self.static_member(&instance_id) {
                return self.replace_static_member(&old_id, member_id, req, config, now);
            }
        } else if req.require_known_member_id {
            // Give the member its ID and wait for it to come back with it (KIP-394). Unused IDs
            // live for a session timeout; a storm of joins must not grow them without bound.
            if self.pending_members.len() >= MAX_PENDING_MEMBERS.min(config.max_size) {
                return Reply::Now(JoinResult::failed(
                    err(ResponseError::GroupMaxSizeReached),
                    "",
                ));
            }
            let expiry = now + i64::from(req.session_timeout_ms);
            self.pending_members.insert(member_id.clone(), expiry);
            return Reply::Now(JoinResult::failed(
                err(ResponseError::MemberIdRequired),
                member_id,
            ));
        }
        if self.members.len() >= config.max_size {
            return Reply::Now(JoinResult::failed(
                err(ResponseError::GroupMaxSizeReached),
                member_id,
            ));
        }
        self.add_member_and_rebalance(member_id, req, config, now)
    }

    fn join_known(
        &mut self,
        req: JoinRequest,
        config: &GroupConfig,
        now: i64,
    ) -> Reply<JoinResult> {
        let member_id = req.member_id.clone();
        if self.pending_members.remove(&member_id).is_some() {
            if self.members.len() >= config.max_size {
                return Reply::Now(JoinResult::failed(
                    err(ResponseError::GroupMaxSizeReached),
                    member_id,
                ));
            }
            return self.add_member_and_rebalance(member_id, req, config, now);
        }
        let Some(member) = self.members.get(&member_id) else {
            return Reply::Now(JoinResult::failed(
                err(ResponseError::UnknownMemberId),
                member_id,
            ));
        };
        if let (Some(instance), Some(known)) = (&req.group_instance_id, &member.group_instance_id) {
            if instance != known {
                return Reply::Now(JoinResult::failed(
                    err(ResponseError::FencedInstanceId),
                    member_id,
                ));
            }
        }
        let metadata_changed = member.protocols != req.protocols;
        let is_leader = self.leader.as_deref() == Some(member_id.as_str());
        match self.state {
            GroupState::PreparingRebalance => {
                let (tx, rx) = oneshot::channel();
                self.update_member(&member_id, &req, now, Some(tx));
                self.maybe_complete_join(now);
                Reply::Later(rx)
            }
            GroupState::CompletingRebalance if !metadata_changed => {
                // A retry of a join whose answer was lost: answer it again.
                Reply::Now(self.join_result_for(&member_id))
            }
            GroupState::Stable if !metadata_changed && !is_leader => {
                // Nothing changes for a follower rejoining with the same metadata.
                Reply::Now(self.join_result_for(&member_id))
            }
            _ => self.rejoin_and_rebalance(&member_id, &req, config, now),
        }
    }

    fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
        config: &GroupConfig,
        now: i64,
    ) -> Reply<JoinResult> {
        let Some(mut member) = self.members.shift_remove(old_id) else {
            return self.add_member_and_rebalance(new_id, req, config, now);
        };
        // The old incarnation is fenced: whatever it waits on is answered FENCED_INSTANCE_ID.
        if let Some(tx) = member.join_waiter.take() {
            let _ = tx.send(JoinResult::failed(
                err(ResponseError::FencedInstanceId),
                old_id.to_string(),
            ));
        }
        if let Some(tx) = member.sync_waiter.take() {
            let _ = tx.send(SyncResult::failed(err(ResponseError::FencedInstanceId)));
        }
        let metadata_changed = member.protocols != req.protocols;
        member.member_id = new_id.clone();
        if self.leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.clone());
        }
        self.members.insert(new_id.clone(), member);
        match self.state {
            GroupState::Stable if !metadata_changed => {
                // KIP-345: a static member that restarts gets its old assignment back without a
                // rebalance. (Its leader role, if any, moves with it.)
                self.update_member(&new_id, &req, now, None);
                let mut result = self.join_result_for(&new_id);
                result.members.clear();
                if self.leader.as_deref() == Some(new_id.as_str()) {
                    // A leader must not recompute the assignment when nothing changed.
                    result.members = self.leader_members();
                }
                Reply::Now(result)
            }
            _ => self.rejoin_and_rebalance(&new_id, &req, config, now),
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: String,
        req: JoinRequest,
        config: &GroupConfig,
        now: i64,
    ) -> Reply<JoinResult> {
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        let (tx, rx) = oneshot::channel();
        self.members.insert(
            member_id.clone(),
            Member {
                member_id: member_id.clone(),
                group_instance_id: req.group_instance_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                session_timeout_ms: req.session_timeout_ms,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                protocol_type: req.protocol_type.clone(),
                protocols: req.protocols.clone(),
                assignment: Bytes::new(),
                last_heartbeat_ms: now,
                join_waiter: Some(tx),
                sync_waiter: None,
            },
        );
        let was_preparing = self.state == GroupState::PreparingRebalance;
        self.prepare_rebalance(config, now);
        if was_preparing {
            self.extend_initial_delay(config, now);
        }
        self.maybe_complete_join(now);
        Reply::Later(rx)
    }

    /// Parks a known member's join and starts (or joins) a rebalance; it is answered when the
    /// rebalance completes.
    fn rejoin_and_rebalance(
        &mut self,
        member_id: &str,
        req: &JoinRequest,
        config: &GroupConfig,
        now: i64,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        self.update_member(member_id, req, now, Some(tx));
        self.prepare_rebalance(config, now);
        self.maybe_complete_join(now);
        Reply::Later(rx)
    }

    fn update_member(
        &mut self,
        member_id: &str,
        req: &JoinRequest,
        now: i64,
        waiter: Option<oneshot::Sender<JoinResult>>,
    ) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.protocols = req.protocols.clone();
            m.session_timeout_ms = req.session_timeout_ms;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.client_id = req.client_id.clone();
            m.client_host = req.client_host.clone();
            m.last_heartbeat_ms = now;
            if waiter.is_some() {
                m.join_waiter = waiter;
            }
        }
    }

    fn prepare_rebalance(&mut self, config: &GroupConfig, now: i64) {
        if self.state == GroupState::CompletingRebalance {
            // Members waiting for the leader's assignment must rejoin.
            for m in self.members.values_mut() {
                if let Some(tx) = m.sync_waiter.take() {
                    let _ = tx.send(SyncResult::failed(err(ResponseError::RebalanceInProgress)));
                }
                m.assignment = Bytes::new();
            }
        }
        if self.state == GroupState::PreparingRebalance {
            return;
        }
        let rebalance_timeout = self
            .members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0);
        if self.state == GroupState::Empty && config.initial_rebalance_delay_ms > 0 {
            let delay = i64::from(config.initial_rebalance_delay_ms).min(rebalance_timeout.max(1));
            self.initial_delay_until_ms = Some(now + delay);
            self.rebalance_deadline_ms = Some(now + rebalance_timeout.max(delay));
        } else {
            self.initial_delay_until_ms = None;
            self.rebalance_deadline_ms = Some(now + rebalance_timeout);
        }
        self.transition(GroupState::PreparingRebalance, now);
    }

    /// A new member during the initial delay pushes the delay out, up to the rebalance timeout
    /// (Kafka's InitialDelayedJoin), so a burst of starting consumers forms one generation.
    fn extend_initial_delay(&mut self, config: &GroupConfig, now: i64) {
        if let (Some(until), Some(deadline)) =
            (self.initial_delay_until_ms, self.rebalance_deadline_ms)
        {
            if until > now {
                self.initial_delay_until_ms =
                    Some((now + i64::from(config.initial_rebalance_delay_ms)).min(deadline));
            }
        }
    }

    fn all_joined(&self) -> bool {
        self.members.values().all(|m| m.join_waiter.is_some()) && self.pending_members.is_empty()
    }

    /// Ends the join phase when every member has rejoined (and any initial delay has passed).
    fn maybe_complete_join(&mut self, now: i64) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if self.initial_delay_until_ms.is_some_and(|until| now < until) {
            return;
        }
        if self.all_joined() || self.rebalance_deadline_ms.is_some_and(|d| now >= d) {
            self.complete_join(now);
        }
    }

    fn complete_join(&mut self, now: i64) {
        // Members that did not rejoin in time are out.
        self.members.retain(|_, m| m.join_waiter.is_some());
        self.pending_members.clear();
        self.rebalance_deadline_ms = None;
        self.initial_delay_until_ms = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            self.transition(GroupState::Empty, now);
            self.emptied = true;
            return;
        }
        self.protocol_name = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.transition(GroupState::CompletingRebalance, now);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result_for(&id);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_heartbeat_ms = now;
                if let Some(tx) = m.join_waiter.take() {
                    let _ = tx.send(result);
                }
            }
        }
    }

    fn leader_members(&self) -> Vec<(String, Option<String>, Bytes)> {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        self.members
            .values()
            .map(|m| {
                (
                    m.member_id.clone(),
                    m.group_instance_id.clone(),
                    m.metadata_for(&protocol),
                )
            })
            .collect()
    }

    fn join_result_for(&self, member_id: &str) -> JoinResult {
        let leader = self.leader.clone().unwrap_or_default();
        JoinResult {
            error: 0,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            members: if leader == member_id {
                self.leader_members()
            } else {
                Vec::new()
            },
            leader,
            member_id: member_id.to_string(),
        }
    }

    fn check_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), i16> {
        let Some(member) = self.members.get(member_id) else {
            if let Some(instance) = instance_id {
                if self.static_member(instance).is_some() {
                    return Err(err(ResponseError::FencedInstanceId));
                }
            }
            return Err(err(ResponseError::UnknownMemberId));
        };
        if let (Some(a), Some(b)) = (instance_id, member.group_instance_id.as_deref()) {
            if a != b {
                return Err(err(ResponseError::FencedInstanceId));
            }
        }
        if generation != self.generation {
            return Err(err(ResponseError::IllegalGeneration));
        }
        Ok(())
    }

    /// SyncGroup. `true` in the outcome means the leader's assignment made the group Stable
    /// and the caller must persist it, then call [`Self::finish_sync`].
    pub fn sync(&mut self, request: SyncRequest, now: i64) -> (Reply<SyncResult>, bool) {
        let SyncRequest {
            member_id,
            group_instance_id,
            generation,
            protocol_type,
            protocol_name,
            assignments,
        } = request;
        let (member_id, instance_id) = (member_id.as_str(), group_instance_id.as_deref());
        let (protocol_type, protocol_name) = (protocol_type.as_deref(), protocol_name.as_deref());
        let now_reply = |error: i16| (Reply::Now(SyncResult::failed(error)), false);
        if self.state == GroupState::Dead {
            return now_reply(err(ResponseError::CoordinatorNotAvailable));
        }
        if let Err(code) = self.check_member(member_id, instance_id, generation) {
            return now_reply(code);
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            return now_reply(err(ResponseError::InconsistentGroupProtocol));
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => now_reply(err(ResponseError::UnknownMemberId)),
            GroupState::PreparingRebalance => now_reply(err(ResponseError::RebalanceInProgress)),
            GroupState::Stable => {
                let result = self.sync_result_for(member_id);
                (Reply::Now(result), false)
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.sync_waiter = Some(tx);
                    m.last_heartbeat_ms = now;
                }
                if self.leader.as_deref() == Some(member_id) {
                    for m in self.members.values_mut() {
                        m.assignment = assignments
                            .iter()
                            .find(|(id, _)| *id == m.member_id)
                            .map(|(_, a)| a.clone())
                            .unwrap_or_default();
                    }
                    self.transition(GroupState::Stable, now);
                    return (Reply::Later(rx), true);
                }
                (Reply::Later(rx), false)
            }
        }
    }

    /// Answers every member waiting in SyncGroup once the group's new assignment is stored
    /// (or, with an error, tells them to rejoin).
    pub fn finish_sync(&mut self, error: Option<i16>, config: &GroupConfig, now: i64) {
        if let Some(code) = error {
            for m in self.members.values_mut() {
                if let Some(tx) = m.sync_waiter.take() {
                    let _ = tx.send(SyncResult::failed(code));
                }
            }
            self.state = GroupState::CompletingRebalance;
            self.prepare_rebalance(config, now);
            return;
        }
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.sync_result_for(&id);
            if let Some(tx) = self.members.get_mut(&id).and_then(|m| m.sync_waiter.take()) {
                let _ = tx.send(result);
            }
        }
    }

    fn sync_result_for(&self, member_id: &str) -> SyncResult {
        SyncResult {
            error: 0,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment: self
                .members
                .get(member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
        }
    }

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: i64,
    ) -> i16 {
        if self.state == GroupState::Dead {
            return err(ResponseError::CoordinatorNotAvailable);
        }
        if let Err(code) = self.check_member(member_id, instance_id, generation) {
            // A member of the generation being formed may heartbeat while it rejoins.
            if !(code == err(ResponseError::IllegalGeneration)
                && self.state == GroupState::PreparingRebalance)
            {
                return code;
            }
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat_ms = now;
        }
        match self.state {
            GroupState::PreparingRebalance => err(ResponseError::RebalanceInProgress),
            GroupState::Empty => err(ResponseError::UnknownMemberId),
            _ => 0,
        }
    }

    /// LeaveGroup for one member (by ID, or by instance ID for static members).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        config: &GroupConfig,
        now: i64,
    ) -> i16 {
        if self.state == GroupState::Dead {
            return err(ResponseError::CoordinatorNotAvailable);
        }
        let target = match instance_id {
            Some(instance) => match self.static_member(instance) {
                Some(id) if member_id.is_empty() || id == member_id => id,
                Some(_) => return err(ResponseError::FencedInstanceId),
                None => return err(ResponseError::UnknownMemberId),
            },
            None => {
                if self.pending_members.remove(member_id).is_some() {
                    return 0;
                }
                if !self.members.contains_key(member_id) {
                    return err(ResponseError::UnknownMemberId);
                }
                member_id.to_string()
            }
        };
        self.remove_member(&target, config, now);
        0
    }

    fn remove_member(&mut self, member_id: &str, config: &GroupConfig, now: i64) {
        if let Some(mut m) = self.members.shift_remove(member_id) {
            if let Some(tx) = m.join_waiter.take() {
                let _ = tx.send(JoinResult::failed(
                    err(ResponseError::UnknownMemberId),
                    member_id.to_string(),
                ));
            }
            if let Some(tx) = m.sync_waiter.take() {
                let _ = tx.send(SyncResult::failed(err(ResponseError::UnknownMemberId)));
            }
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = None;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(config, now);
                // With no member left the join completes at once and the group is Empty, as
                // in Kafka (tools can then reset its offsets right away).
                self.maybe_complete_join(now);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            _ => {}
        }
    }

    /// Whether a completed rebalance left the group Empty since the last call; the caller then
    /// persists the group (Kafka writes the empty group's metadata).
    pub fn take_emptied(&mut self) -> bool {
        std::mem::take(&mut self.emptied)
    }

    /// Session expiry, rebalance deadlines and the initial delay.
    pub fn tick(&mut self, config: &GroupConfig, now: i64) {
        self.pending_members.retain(|_, expiry| *expiry > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                // Members parked in JoinGroup are bounded by the rebalance timeout instead.
                m.join_waiter.is_none()
                    && now - m.last_heartbeat_ms > i64::from(m.session_timeout_ms)
            })
            .map(|m| m.member_id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.group_id, member = %id, "member session expired");
            self.remove_member(&id, config, now);
        }
        if self.state == GroupState::CompletingRebalance {
            // Members that never sync within the rebalance timeout are removed (KIP-814 style).
            let deadline = self
                .members
                .values()
                .map(|m| i64::from(m.rebalance_timeout_ms))
                .max()
                .unwrap_or(0);
            if now - self.current_state_timestamp > deadline {
                let lagging: Vec<String> = self
                    .members
                    .values()
                    .filter(|m| m.sync_waiter.is_none())
                    .map(|m| m.member_id.clone())
                    .collect();
                for id in lagging {
                    self.remove_member(&id, config, now);
                }
            }
        }
        self.maybe_complete_join(now);
    }
}
