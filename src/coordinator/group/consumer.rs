//! A KIP-848 consumer group (`group.protocol=consumer`): membership through
//! ConsumerGroupHeartbeat, a server-side assignor, and per-member reconciliation.
//!
//! ```text
//!  heartbeat ─▶ member joins / changes subscription / leaves / expires, or the subscribed
//!               topics change (new topic, new partitions)       ──▶ group epoch + 1
//!  group epoch > assignment epoch  ──▶ the assignor computes a new target assignment,
//!                                      assignment epoch = group epoch
//!  each member, at its own heartbeat, moves towards its target:
//!     revoke first:  assigned = assigned ∩ target, the rest pending revocation, epoch kept
//!                    (UnrevokedPartitions) until the member reports it no longer owns them;
//!     then assign:   target partitions that no other member still owns (assigned or pending
//!                    revocation) are added and the member epoch becomes the assignment epoch;
//!                    those still owned elsewhere wait (UnreleasedPartitions).
//! ```
//!
//! A partition is therefore never owned by two members at once. The group is Empty without
//! members, Assigning while the group epoch is ahead of the assignment epoch, Reconciling while a
//! member has not reached its target at the assignment epoch, and Stable otherwise.
//!
//! Pure logic like [`super::state`]: time comes in as `now` (milliseconds) and topics as a
//! [`Topics`] snapshot of the metadata image, so every rule is tested with a fake clock. The
//! caller persists the group epoch when it changes (see `consumer_coordinator`).

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::assignor::{self, Assignment, MemberSpec};

/// A heartbeat with this epoch leaves the group.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// A static member leaving temporarily: it keeps its partitions until its session expires.
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

/// Kafka's `group.consumer.*` broker settings.
#[derive(Debug, Clone)]
pub struct ConsumerGroupConfig {
    pub session_timeout_ms: i32,
    pub heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`.
    pub max_size: usize,
}

impl Default for ConsumerGroupConfig {
    fn default() -> Self {
        Self {
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            max_size: usize::MAX,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    /// The names Kafka's tools print and ListGroups filters on.
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// Where a member is on its way to its target assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Stable,
    /// Waiting for the member to give up `pending_revocation`.
    UnrevokedPartitions,
    /// Some target partitions are still owned by other members.
    UnreleasedPartitions,
}

/// One topic as the metadata image shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMeta {
    pub id: Uuid,
    pub partitions: i32,
}

/// Every topic of the metadata image, by name.
pub type Topics = BTreeMap<String, TopicMeta>;

#[derive(Debug, Clone)]
pub struct ConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    /// Accepted from a member whose answer with the new epoch was lost.
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Vec<String>,
    pub server_assignor: Option<String>,
    /// What the member may own now.
    pub assigned: Assignment,
    /// What it must give up before it moves on.
    pub pending_revocation: Assignment,
    /// Session expiry counts from here.
    last_heartbeat_ms: i64,
    /// A member that does not revoke within its rebalance timeout is removed.
    revocation_deadline_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ConsumerGroup {
    pub group_id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// The target assignment of every member, at `assignment_epoch`.
    pub target: BTreeMap<String, Assignment>,
    /// The subscribed topics as last seen; a difference (topic created, deleted or grown) bumps
    /// the group epoch.
    subscription_metadata: BTreeMap<String, TopicMeta>,
    /// The assignor that computed `target`.
    pub assignor: String,
}

/// A ConsumerGroupHeartbeat in domain terms; `None` means "unchanged" as on the wire.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns (`topic_partitions`).
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeartbeatResult {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent on a full request and whenever the member's assignment changed.
    pub assignment: Option<Assignment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatError {
    pub code: i16,
    pub message: String,
}

fn fail<T>(error: ResponseError, message: impl Into<String>) -> Result<T, HeartbeatError> {
    Err(HeartbeatError {
        code: error.code(),
        message: message.into(),
    })
}

fn contains(a: &Assignment, topic: &Uuid, p: i32) -> bool {
    a.get(topic).is_some_and(|ps| ps.contains(&p))
}

fn insert(a: &mut Assignment, topic: Uuid, p: i32) {
    a.entry(topic).or_default().insert(p);
}

fn pairs(a: &Assignment) -> impl Iterator<Item = (Uuid, i32)> + '_ {
    a.iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
}

fn is_subset(owned: Option<&Assignment>, of: &Assignment) -> bool {
    owned.is_some_and(|o| pairs(o).all(|(t, p)| contains(of, &t, p)))
}

impl ConsumerMember {
    fn new(member_id: String, now: i64) -> Self {
        Self {
            member_id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            rebalance_timeout_ms: 0,
            subscribed_topic_names: Vec::new(),
            server_assignor: None,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            last_heartbeat_ms: now,
            revocation_deadline_ms: None,
        }
    }

    fn set_epoch(&mut self, epoch: i32) {
        if epoch != self.member_epoch {
            self.previous_member_epoch = self.member_epoch;
            self.member_epoch = epoch;
        }
    }
}

impl ConsumerGroup {
    pub fn new(group_id: &str) -> Self {
        Self {
            group_id: group_id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscription_metadata: BTreeMap::new(),
            assignor: assignor::UNIFORM.to_string(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || m.state != MemberState::Stable)
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// The topics some member subscribes to, as a set of names.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed_topic_names.iter().cloned())
            .collect()
    }

    fn static_member(&self, instance_id: &str) -> Option<String> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.member_id.clone())
    }

    /// OffsetCommit by a member of this group: `member_epoch` is the request's
    /// generation_id_or_member_epoch. An admin commit (negative epoch) needs an empty group.
    pub fn validate_commit(&self, member_id: &str, member_epoch: i32) -> Result<(), i16> {
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let Some(member) = self.members.get(member_id) else {
            return Err(ResponseError::UnknownMemberId.code());
        };
        if member_epoch != member.member_epoch {
            return Err(ResponseError::StaleMemberEpoch.code());
        }
        Ok(())
    }

    /// ConsumerGroupHeartbeat. `new_member_id` names a member that joins without an ID (v0).
    /// The request is assumed validated (see the handler); the group epoch may change, and the
    /// caller persists it.
    pub fn heartbeat(
        &mut self,
        req: Heartbeat,
        new_member_id: impl FnOnce() -> String,
        topics: &Topics,
        config: &ConsumerGroupConfig,
        now: i64,
    ) -> Result<HeartbeatResult, HeartbeatError> {
        if req.member_epoch == LEAVE_GROUP_MEMBER_EPOCH
            || req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH
        {
            return self.leave(&req, config);
        }
        let joining = req.member_epoch == 0;
        let member_id = if req.member_id.is_empty() {
            new_member_id()
        } else {
            req.member_id.clone()
        };
        let mut is_new = false;
        match &req.instance_id {
            Some(instance) => match self.static_member(instance) {
                None if joining => is_new = true,
                None => {
                    return fail(
                        ResponseError::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    )
                }
                Some(old) if joining && old != member_id => {
                    let previous = self.members.get(&old).map_or(0, |m| m.member_epoch);
                    if previous != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                        return fail(
                            ResponseError::UnreleasedInstanceId,
                            format!("Static member {member_id} with instance id {instance} cannot join the group because the instance id is owned by {old} member."),
                        );
                    }
                    self.replace_static_member(&old, &member_id);
                }
                Some(_) if joining => self.reset_member(&member_id),
                Some(old) if old != member_id => {
                    return fail(
                        ResponseError::FencedInstanceId,
                        format!("Static member {member_id} with instance id {instance} was fenced by member {old}."),
                    )
                }
                Some(_) => self.check_epoch(&member_id, req.member_epoch, req.owned.as_ref())?,
            },
            None => match self.members.contains_key(&member_id) {
                false if joining => is_new = true,
                false => {
                    return fail(
                        ResponseError::UnknownMemberId,
                        format!(
                            "Member {member_id} is not a member of group {}.",
                            self.group_id
                        ),
                    )
                }
                // A known member that rejoins has abandoned its partitions (it was fenced, or
                // its join answer was lost): it starts over under the same ID.
                true if joining => self.reset_member(&member_id),
                true => self.check_epoch(&member_id, req.member_epoch, req.owned.as_ref())?,
            },
        }
        if is_new && self.members.len() >= config.max_size {
            return fail(
                ResponseError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    config.max_size
                ),
            );
        }
        let before = self
            .members
            .remove(&member_id)
            .unwrap_or_else(|| ConsumerMember::new(member_id.clone(), now));
        let old_assigned = before.assigned.clone();
        let mut member = before.clone();
        member.instance_id = req.instance_id.clone().or(member.instance_id);
        if req.rack_id.is_some() {
            member.rack_id = req.rack_id.clone();
        }
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        if req.rebalance_timeout_ms != -1 {
            member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if let Some(names) = &req.subscribed_topic_names {
            let mut names = names.clone();
            names.sort();
            names.dedup();
            member.subscribed_topic_names = names;
        }
        if req.server_assignor.is_some() {
            member.server_assignor = req.server_assignor.clone();
        }
        member.last_heartbeat_ms = now;
        let mut bump = is_new
            || member.subscribed_topic_names != before.subscribed_topic_names
            || member.server_assignor != before.server_assignor;
        self.members.insert(member_id.clone(), member);

        let metadata = self.compute_subscription_metadata(topics);
        if metadata != self.subscription_metadata {
            self.subscription_metadata = metadata;
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target();
        }
        self.reconcile(&member_id, req.owned.as_ref(), now);

        let Some(member) = self.members.get(&member_id) else {
            return fail(ResponseError::UnknownServerError, "member vanished");
        };
        let full = joining
            || (req.rebalance_timeout_ms != -1
                && req.subscribed_topic_names.is_some()
                && req.owned.is_some());
        Ok(HeartbeatResult {
            member_id: member_id.clone(),
            member_epoch: member.member_epoch,
            heartbeat_interval_ms: config.heartbeat_interval_ms,
            assignment: (full || member.assigned != old_assigned).then(|| member.assigned.clone()),
        })
    }

    fn check_epoch(
        &self,
        member_id: &str,
        epoch: i32,
        owned: Option<&Assignment>,
    ) -> Result<(), HeartbeatError> {
        let Some(member) = self.members.get(member_id) else {
            return fail(ResponseError::UnknownMemberId, "unknown member");
        };
        let fenced = epoch > member.member_epoch
            || (epoch < member.member_epoch
                && (epoch != member.previous_member_epoch || !is_subset(owned, &member.assigned)));
        if fenced {
            return fail(
                ResponseError::FencedMemberEpoch,
                format!(
                    "The consumer group member has a {} member epoch ({epoch}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                    if epoch > member.member_epoch { "greater" } else { "smaller" },
                    member.member_epoch
                ),
            );
        }
        Ok(())
    }

    /// A known member rejoining with epoch 0 gave up everything it owned.
    fn reset_member(&mut self, member_id: &str) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.assigned.clear();
            m.pending_revocation.clear();
            m.state = MemberState::Stable;
            m.revocation_deadline_ms = None;
            m.member_epoch = 0;
            m.previous_member_epoch = 0;
        }
    }

    /// A static member comes back under a new member ID: it takes over the old member's
    /// assignment and target, as the same instance.
    fn replace_static_member(&mut self, old: &str, new: &str) {
        if let Some(mut m) = self.members.remove(old) {
            m.member_id = new.to_string();
            m.member_epoch = 0;
            m.previous_member_epoch = 0;
            self.members.insert(new.to_string(), m);
        }
        if let Some(t) = self.target.remove(old) {
            self.target.insert(new.to_string(), t);
        }
    }

    fn leave(
        &mut self,
        req: &Heartbeat,
        config: &ConsumerGroupConfig,
    ) -> Result<HeartbeatResult, HeartbeatError> {
        let member_id = match &req.instance_id {
            Some(instance) => match self.static_member(instance) {
                None => {
                    return fail(
                        ResponseError::UnknownMemberId,
                        format!("Instance id {instance} is unknown."),
                    )
                }
                Some(old) if old != req.member_id => {
                    return fail(
                        ResponseError::FencedInstanceId,
                        format!(
                        "Static member {} with instance id {instance} was fenced by member {old}.",
                        req.member_id
                    ),
                    )
                }
                Some(old) => old,
            },
            None if self.members.contains_key(&req.member_id) => req.member_id.clone(),
            None => {
                return fail(
                    ResponseError::UnknownMemberId,
                    format!(
                        "Member {} is not a member of group {}.",
                        req.member_id, self.group_id
                    ),
                )
            }
        };
        if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // The instance keeps its partitions for its return, until its session expires.
            if let Some(m) = self.members.get_mut(&member_id) {
                m.set_epoch(LEAVE_GROUP_STATIC_MEMBER_EPOCH);
            }
        } else {
            self.remove_member(&member_id);
        }
        Ok(HeartbeatResult {
            member_id,
            member_epoch: req.member_epoch,
            heartbeat_interval_ms: config.heartbeat_interval_ms,
            assignment: None,
        })
    }

    fn remove_member(&mut self, member_id: &str) {
        if self.members.remove(member_id).is_some() {
            self.target.remove(member_id);
            self.group_epoch += 1;
        }
    }

    /// Session expiry and revocation timeouts. Returns the members removed.
    pub fn tick(&mut self, config: &ConsumerGroupConfig, now: i64) -> Vec<String> {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now - m.last_heartbeat_ms > i64::from(config.session_timeout_ms)
                    || m.revocation_deadline_ms.is_some_and(|d| now > d)
            })
            .map(|m| m.member_id.clone())
            .collect();
        for id in &gone {
            self.remove_member(id);
        }
        gone
    }

    fn compute_subscription_metadata(&self, topics: &Topics) -> BTreeMap<String, TopicMeta> {
        self.subscribed_topics()
            .into_iter()
            .filter_map(|name| topics.get(&name).map(|t| (name, *t)))
            .collect()
    }

    /// The assignor most members ask for; the default when none does.
    fn preferred_assignor(&self) -> &'static str {
        let mut best = assignor::ASSIGNORS[0];
        let mut best_count = 0;
        for name in assignor::ASSIGNORS {
            let count = self
                .members
                .values()
                .filter(|m| m.server_assignor.as_deref() == Some(*name))
                .count();
            if count > best_count {
                best = name;
                best_count = count;
            }
        }
        best
    }

    fn compute_target(&mut self) {
        let ids_by_name: BTreeMap<&String, Uuid> = self
            .subscription_metadata
            .iter()
            .map(|(n, t)| (n, t.id))
            .collect();
        let specs: BTreeMap<String, MemberSpec> = self
            .members
            .values()
            .map(|m| {
                let spec = MemberSpec {
                    subscribed: m
                        .subscribed_topic_names
                        .iter()
                        .filter_map(|n| ids_by_name.get(n).copied())
                        .collect(),
                    previous: self.target.get(&m.member_id).cloned().unwrap_or_default(),
                };
                (m.member_id.clone(), spec)
            })
            .collect();
        let counts: BTreeMap<Uuid, i32> = self
            .subscription_metadata
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        let name = self.preferred_assignor();
        self.target = assignor::assign(name, &specs, &counts);
        self.assignor = name.to_string();
        self.assignment_epoch = self.group_epoch;
    }

    /// Moves one member towards its target (see the module docs). `owned` is what the member
    /// reported owning in this heartbeat, if it did.
    fn reconcile(&mut self, member_id: &str, owned: Option<&Assignment>, now: i64) {
        let target_epoch = self.assignment_epoch;
        let Some(member) = self.members.get(member_id) else {
            return;
        };
        if member.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            return;
        }
        match member.state {
            MemberState::Stable if member.member_epoch == target_epoch => return,
            MemberState::UnrevokedPartitions => {
                let released = owned.is_some_and(|o| {
                    !pairs(&member.pending_revocation).any(|(t, p)| contains(o, &t, p))
                });
                if !released {
                    return;
                }
            }
            _ => {}
        }
        let target = self.target.get(member_id).cloned().unwrap_or_default();
        // Partitions other members still hold, assigned or not yet revoked.
        let mut held_elsewhere = Assignment::new();
        for (id, m) in &self.members {
            if id != member_id {
                for (t, p) in pairs(&m.assigned).chain(pairs(&m.pending_revocation)) {
                    insert(&mut held_elsewhere, t, p);
                }
            }
        }
        let Some(member) = self.members.get_mut(member_id) else {
            return;
        };
        member.pending_revocation.clear();
        let mut kept = Assignment::new();
        let mut revoke = Assignment::new();
        for (t, p) in pairs(&member.assigned) {
            if contains(&target, &t, p) {
                insert(&mut kept, t, p);
            } else {
                insert(&mut revoke, t, p);
            }
        }
        let mut newly = Assignment::new();
        let mut unreleased = false;
        for (t, p) in pairs(&target) {
            if contains(&member.assigned, &t, p) {
                continue;
            }
            if contains(&held_elsewhere, &t, p) {
                unreleased = true;
            } else {
                insert(&mut newly, t, p);
            }
        }
        if !revoke.is_empty() {
            member.assigned = kept;
            member.pending_revocation = revoke;
            member.state = MemberState::UnrevokedPartitions;
            member.revocation_deadline_ms = Some(now + i64::from(member.rebalance_timeout_ms));
            return;
        }
        for (t, p) in pairs(&newly) {
            insert(&mut kept, t, p);
        }
        member.assigned = kept;
        member.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
        member.revocation_deadline_ms = None;
        member.set_epoch(target_epoch);
    }
}
