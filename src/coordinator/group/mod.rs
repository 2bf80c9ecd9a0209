//! The group coordinator for classic consumer groups: membership (see [`state`]) and committed
//! offsets, persisted in `__consumer_offsets` with Kafka's own record schemas ([`records`]).
//!
//! A group belongs to one `__consumer_offsets` partition (Java's `hashCode` of the group ID
//! modulo `offsets.topic.num.partitions`, as Kafka places it), and the broker that leads that
//! partition coordinates it. Each partition's groups are a shard with its own mutex, the single
//! writer of those groups: groups of different partitions never wait for each other. A commit
//! is written to the group's partition and then applied by the same replay code that rebuilds
//! the state when the partition's leadership arrives. Group metadata is written when a rebalance
//! settles (Stable with the leader's assignment, or Empty). The topic is created on first use,
//! as Kafka creates it, compacted.
//!
//! Requests that wait (JoinGroup, a follower's SyncGroup) hold no lock while waiting: they await
//! a oneshot answer from the state machine. A ticker drives session and rebalance timeouts.

pub mod assignor;
pub mod consumer;
pub mod consumer_coordinator;
pub mod consumer_records;
#[cfg(test)]
mod consumer_tests;
mod deleted_topics;
pub mod records;
pub mod requests;
pub mod state;
#[cfg(test)]
mod state_tests;
pub mod view;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::{ensure_internal_topic, replay_partition, Replayed};
use crate::broker::Broker;
use crate::log::builder::ControlType;
use crate::partition::manager::now_ms;
use records::{partition_for, GroupRecord, OffsetValue};
pub use state::{
    ClassicGroup, GroupConfig, GroupState, JoinRequest, JoinResult, Reply, SyncRequest, SyncResult,
};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Kafka's `offsets.retention.check.interval.ms`: how long an empty group without offsets is kept.
const GROUP_CLEANUP_INTERVAL_MS: i64 = 600_000;
/// Kafka's `offset.metadata.max.bytes`.
const MAX_METADATA_BYTES: usize = 4096;

/// A committed offset as OffsetFetch reports it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

/// What ListGroups shows of one group.
pub struct ListedGroupInfo {
    pub group_id: String,
    pub protocol_type: String,
    /// The state name Kafka's tools print and ListGroups filters on.
    pub state: &'static str,
    /// "classic" or "consumer".
    pub group_type: &'static str,
}

/// What DescribeGroups shows of one member.
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// One offset to commit: (topic, partition, offset, leader_epoch, metadata).
pub type OffsetEntry = (String, i32, i64, i32, Option<String>);

/// Who commits offsets: the member's generation (or KIP-848 epoch), id and static instance id.
#[derive(Debug, Clone, Copy)]
pub struct CommitMember<'a> {
    pub generation: i32,
    pub member_id: &'a str,
    pub instance_id: Option<&'a str>,
}

#[derive(Default)]
struct Inner {
    groups: HashMap<String, ClassicGroup>,
    offsets: HashMap<String, BTreeMap<(String, i32), OffsetValue>>,
    /// Transactional offset commits awaiting their marker, by producer id.
    pending_txn: HashMap<i64, Vec<GroupRecord>>,
    /// KIP-848 consumer groups; a group ID is in `groups` or here, not both.
    consumer: consumer_coordinator::ConsumerGroups,
    /// This broker leads the shard's `__consumer_offsets` partition and has loaded it.
    loaded: bool,
}

impl Inner {
    /// Tombstones for every committed offset of a group (deleting the group deletes them).
    fn offset_tombstones(&self, group_id: &str) -> Vec<GroupRecord> {
        self.offsets
            .get(group_id)
            .into_iter()
            .flat_map(|o| o.keys())
            .map(|(topic, partition)| GroupRecord::Offset {
                group: group_id.to_string(),
                topic: topic.clone(),
                partition: *partition,
                value: None,
            })
            .collect()
    }

    fn stage_txn(&mut self, producer_id: i64, record: GroupRecord) {
        self.pending_txn
            .entry(producer_id)
            .or_default()
            .push(record);
    }

    fn complete_txn(&mut self, producer_id: i64, commit: bool, now: i64) {
        let Some(records) = self.pending_txn.remove(&producer_id) else {
            return;
        };
        if commit {
            for record in records {
                self.apply(record, now);
            }
        }
    }

    /// Whether a transaction holds an uncommitted offset for this group and partition
    /// (OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT then).
    fn has_pending_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        self.pending_txn.values().flatten().any(|r| {
            matches!(r, GroupRecord::Offset { group, topic: t, partition: p, .. }
                if group == group_id && t == topic && *p == partition)
        })
    }

    /// Replay: the only way persisted state enters memory.
    fn apply(&mut self, record: GroupRecord, now: i64) {
        match record {
            GroupRecord::Offset {
                group,
                topic,
                partition,
                value,
            } => match value {
                Some(v) => {
                    self.offsets
                        .entry(group.clone())
                        .or_default()
                        .insert((topic, partition), v);
                    if !self.consumer.contains_key(&group) {
                        self.groups
                            .entry(group.clone())
                            .or_insert_with(|| ClassicGroup::new(&group, now));
                    }
                }
                None => {
                    if let Some(offsets) = self.offsets.get_mut(&group) {
                        offsets.remove(&(topic, partition));
                    }
                }
            },
            GroupRecord::Metadata {
                group,
                value: Some(value),
            } => {
                let loaded = ClassicGroup::from_metadata(&group, &value, now);
                self.groups.insert(group, loaded);
            }
            GroupRecord::Metadata { group, value: None } => {
                self.groups.remove(&group);
                self.offsets.remove(&group);
            }
        }
    }
}

pub struct GroupCoordinator {
    config: GroupConfig,
    partitions: i32,
    /// One shard per `__consumer_offsets` partition.
    shards: Vec<Mutex<Inner>>,
    /// Bumped after each `load_partition`.
    loads: std::sync::atomic::AtomicU64,
    /// (`MetadataImage::topics_removed`, `loads`) when the loaded offsets were last found free
    /// of deleted topics: `remove_offsets_of_deleted_topics` walks them only when either moved.
    deleted_topics_checked: Mutex<(u64, u64)>,
}

impl GroupCoordinator {
    pub fn new(config: GroupConfig, partitions: i32) -> Self {
        let partitions = partitions.max(1);
        Self {
            config,
            partitions,
            shards: (0..partitions).map(|_| Mutex::default()).collect(),
            loads: Default::default(),
            deleted_topics_checked: Mutex::new((u64::MAX, u64::MAX)),
        }
    }

    /// The shard of `__consumer_offsets` partition `p`.
    fn lock_partition(&self, p: i32) -> std::sync::MutexGuard<'_, Inner> {
        let shard = &self.shards[p.clamp(0, self.partitions - 1) as usize];
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shard that holds `group_id`.
    fn lock(&self, group_id: &str) -> std::sync::MutexGuard<'_, Inner> {
        self.lock_partition(self.partition_for(group_id))
    }

    /// Every shard in turn (one lock at a time).
    fn each_shard(&self) -> impl Iterator<Item = std::sync::MutexGuard<'_, Inner>> {
        (0..self.partitions).map(|p| self.lock_partition(p))
    }

    /// Becomes the coordinator of the groups in `__consumer_offsets` partition `p` (this broker
    /// leads it now): rebuilds their groups and offsets from the partition's log, replacing
    /// whatever was held for it before. Transactional offset commits stay pending until their
    /// producer's marker in the same partition.
    pub fn load_partition(&self, broker: &Broker, p: i32) {
        let now = now_ms();
        let mut inner = self.lock_partition(p);
        *inner = Inner::default();
        let mut count = 0usize;
        replay_partition(broker, OFFSETS_TOPIC, p, |item| match item {
            Replayed::Marker(producer_id, control) => {
                inner.complete_txn(producer_id, control == ControlType::Commit, now);
            }
            Replayed::Records(header, records) => {
                for r in records {
                    let key = r.key.as_deref().unwrap_or_default();
                    match GroupRecord::decode(key, r.value.as_deref()) {
                        Ok(Some(record)) if header.is_transactional() => {
                            inner.stage_txn(header.producer_id, record);
                        }
                        Ok(Some(record)) => {
                            inner.apply(record, now);
                            count += 1;
                        }
                        Ok(None) => inner.replay_consumer(key, r.value.as_deref(), now),
                        Err(e) => {
                            tracing::warn!(partition = p, offset = r.offset, error = %e, "skipping an undecodable __consumer_offsets record")
                        }
                    }
                }
            }
        });
        inner.loaded = true;
        self.loads.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if count > 0 {
            tracing::info!(
                partition = p,
                records = count,
                "loaded consumer groups from __consumer_offsets"
            );
        }
    }

    /// Stops coordinating the groups of partition `p` (another broker leads it now). Requests
    /// waiting on them are answered by the dropped state; clients find the new coordinator.
    pub fn unload_partition(&self, p: i32) {
        *self.lock_partition(p) = Inner::default();
        tracing::info!(
            partition = p,
            "no longer coordinating the groups of __consumer_offsets"
        );
    }

    /// The `__consumer_offsets` partitions whose groups are loaded here.
    pub fn loaded_partitions(&self) -> BTreeSet<i32> {
        (0..self.partitions)
            .filter(|&p| self.is_loaded(p))
            .collect()
    }

    pub fn is_loaded(&self, partition: i32) -> bool {
        (0..self.partitions).contains(&partition) && self.lock_partition(partition).loaded
    }

    /// Creates `__consumer_offsets` the first time a group needs it, as Kafka does.
    pub(crate) fn ensure_topic(&self, broker: &Broker) -> Result<(), i16> {
        ensure_internal_topic(broker, OFFSETS_TOPIC, self.partitions)
    }

    /// The `__consumer_offsets` partition that holds a group's records.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.partitions)
    }

    /// Writes records for one group to its partition; on success the caller applies them.
    fn write(&self, broker: &Broker, group_id: &str, records: &[GroupRecord]) -> Result<(), i16> {
        self.write_batch(broker, group_id, records, None)
    }

    /// `write`, as part of `producer`'s transaction when given (TxnOffsetCommit).
    fn write_batch(
        &self,
        broker: &Broker,
        group_id: &str,
        records: &[GroupRecord],
        producer: Option<(i64, i16)>,
    ) -> Result<(), i16> {
        // Kafka's schemas hold strings of at most i16::MAX bytes; a client can send longer ones.
        if let Some(e) = records.iter().find_map(|r| r.validate().err()) {
            tracing::warn!(group = %group_id.chars().take(64).collect::<String>(), error = %e, "refusing a group record that Kafka's schema cannot hold");
            return Err(ResponseError::InvalidGroupId.code());
        }
        let raw = records.iter().map(GroupRecord::encode).collect();
        self.write_raw(broker, group_id, raw, producer)
    }

    pub async fn join(&self, broker: &Broker, group_id: &str, request: JoinRequest) -> JoinResult {
        if group_id.is_empty() {
            return JoinResult::failed(ResponseError::InvalidGroupId.code(), request.member_id);
        }
        if let Err(code) = self.ensure_topic(broker) {
            return JoinResult::failed(code, request.member_id);
        }
        if let Err(code) = self.check_classic_join(broker, group_id) {
            return JoinResult::failed(code, request.member_id);
        }
        let reply = {
            let mut inner = self.lock(group_id);
            let now = now_ms();
            let group = inner
                .groups
                .entry(group_id.to_string())
                .or_insert_with(|| ClassicGroup::new(group_id, now));
            let client_id = request.client_id.clone();
            group.join(
                request,
                || format!("{client_id}-{}", uuid::Uuid::new_v4()),
                &self.config,
                now,
            )
        };
        match reply {
            Reply::Now(result) => result,
            Reply::Later(rx) => rx.await.unwrap_or_else(|_| {
                JoinResult::failed(ResponseError::CoordinatorNotAvailable.code(), "")
            }),
        }
    }

    pub async fn sync(&self, broker: &Broker, group_id: &str, request: SyncRequest) -> SyncResult {
        let reply = {
            let mut inner = self.lock(group_id);
            let now = now_ms();
            let Some(group) = inner.groups.get_mut(group_id) else {
                return SyncResult::failed(ResponseError::UnknownMemberId.code());
            };
            let (reply, store) = group.sync(request, now);
            if store {
                let value = group.metadata_value();
                let record = GroupRecord::Metadata {
                    group: group_id.to_string(),
                    value: Some(value),
                };
                let written = self.write(broker, group_id, std::slice::from_ref(&record));
                // Re-borrow: write() does not touch `inner`, but the borrow checker needs a fresh one.
                if let Some(group) = inner.groups.get_mut(group_id) {
                    group.finish_sync(written.err(), &self.config, now);
                }
            }
            reply
        };
        match reply {
            Reply::Now(result) => result,
            Reply::Later(rx) => rx
                .await
                .unwrap_or_else(|_| SyncResult::failed(ResponseError::RebalanceInProgress.code())),
        }
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        let mut inner = self.lock(group_id);
        match inner.groups.get_mut(group_id) {
            Some(group) => group.heartbeat(member_id, instance_id, generation, now_ms()),
            None => ResponseError::UnknownMemberId.code(),
        }
    }

    /// LeaveGroup: one result per (member ID, instance ID).
    pub fn leave(
        &self,
        broker: &Broker,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<i16>, i16> {
        let mut inner = self.lock(group_id);
        let now = now_ms();
        let Some(group) = inner.groups.get_mut(group_id) else {
            return Err(ResponseError::UnknownMemberId.code());
        };
        let codes = members
            .iter()
            .map(|(m, i)| group.leave(m, i.as_deref(), &self.config, now))
            .collect();
        if group.take_emptied() {
            let value = group.metadata_value();
            let _ = self.write(
                broker,
                group_id,
                &[GroupRecord::Metadata {
                    group: group_id.to_string(),
                    value: Some(value),
                }],
            );
        }
        Ok(codes)
    }

    /// Drives timeouts; called periodically.
    pub fn tick(&self, broker: &Broker) {
        for mut inner in self.each_shard() {
            if inner.loaded || broker.cluster.is_none() {
                self.tick_consumer_groups(broker, &mut inner);
                self.tick_classic_groups(broker, &mut inner);
            }
        }
    }

    fn tick_classic_groups(&self, broker: &Broker, inner: &mut Inner) {
        let now = now_ms();
        let mut emptied = Vec::new();
        for (id, group) in inner.groups.iter_mut() {
            group.tick(&self.config, now);
            if group.take_emptied() {
                emptied.push((id.clone(), group.metadata_value()));
            }
        }
        // Empty groups without committed offsets are forgotten, as Kafka's periodic cleanup
        // forgets them: at once if nothing was ever written for them (so a storm of one-off
        // group IDs does not grow memory), else after the cleanup interval, with a tombstone.
        let Inner {
            groups, offsets, ..
        } = inner;
        let mut tombstones = Vec::new();
        groups.retain(|id, g| {
            let forgettable = g.is_idle() && offsets.get(id).is_none_or(|o| o.is_empty());
            if !forgettable {
                return true;
            }
            if g.generation == 0 {
                return false;
            }
            if now - g.current_state_timestamp < GROUP_CLEANUP_INTERVAL_MS {
                return true;
            }
            tombstones.push(id.clone());
            false
        });
        for id in tombstones {
            let _ = self.write(
                broker,
                &id,
                &[GroupRecord::Metadata {
                    group: id.clone(),
                    value: None,
                }],
            );
        }
        for (id, value) in emptied {
            let _ = self.write(
                broker,
                &id,
                &[GroupRecord::Metadata {
                    group: id.clone(),
                    value: Some(value),
                }],
            );
        }
    }

    /// OffsetCommit. `offsets`: (topic, partition, offset, leader_epoch, metadata); the answer
    /// is one code per entry, or one code for the whole request.
    pub fn commit(
        &self,
        broker: &Broker,
        group_id: &str,
        member: &CommitMember<'_>,
        offsets: &[OffsetEntry],
    ) -> Result<Vec<i16>, i16> {
        self.commit_offsets(broker, group_id, member, offsets, None)
    }

    /// TxnOffsetCommit: the same checks, written as part of `producer`'s transaction. The
    /// offsets stay pending until the transaction's marker reaches this group's partition.
    pub fn txn_commit(
        &self,
        broker: &Broker,
        group_id: &str,
        member: &CommitMember<'_>,
        offsets: &[OffsetEntry],
        producer: (i64, i16),
    ) -> Result<Vec<i16>, i16> {
        self.commit_offsets(broker, group_id, member, offsets, Some(producer))
    }

    fn commit_offsets(
        &self,
        broker: &Broker,
        group_id: &str,
        member: &CommitMember<'_>,
        offsets: &[OffsetEntry],
        producer: Option<(i64, i16)>,
    ) -> Result<Vec<i16>, i16> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId.code());
        }
        let mut inner = self.lock(group_id);
        let now = now_ms();
        Self::check_commit_member(&inner, group_id, member)?;
        let image = broker.image();
        let mut codes = Vec::with_capacity(offsets.len());
        let mut records = Vec::new();
        for (topic, partition, offset, leader_epoch, metadata) in offsets {
            let metadata = metadata.clone().unwrap_or_default();
            let code = if image
                .topic(topic)
                .is_none_or(|t| *partition < 0 || *partition >= t.partitions)
            {
                ResponseError::UnknownTopicOrPartition.code()
            } else if metadata.len() > MAX_METADATA_BYTES {
                ResponseError::OffsetMetadataTooLarge.code()
            } else {
                records.push(GroupRecord::Offset {
                    group: group_id.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                    value: Some(OffsetValue {
                        offset: *offset,
                        leader_epoch: *leader_epoch,
                        metadata,
                        commit_timestamp: now,
                        expire_timestamp: -1,
                    }),
                });
                0
            };
            codes.push(code);
        }
        if !records.is_empty() {
            self.write_batch(broker, group_id, &records, producer)?;
            match producer {
                Some((producer_id, _)) => {
                    for record in records {
                        inner.stage_txn(producer_id, record);
                    }
                }
                None => {
                    for record in records {
                        inner.apply(record, now);
                    }
                }
            }
        }
        Ok(codes)
    }

    /// Whether the committing member may commit for the group now.
    fn check_commit_member(
        inner: &Inner,
        group_id: &str,
        member: &CommitMember<'_>,
    ) -> Result<(), i16> {
        let CommitMember {
            generation,
            member_id,
            instance_id,
        } = *member;
        let consumer = Self::check_consumer_commit(inner, group_id, member_id, generation);
        if let Some(Err(code)) = consumer {
            return Err(code);
        }
        match inner.groups.get(group_id) {
            _ if consumer.is_some() => {}
            None if generation >= 0 => return Err(ResponseError::IllegalGeneration.code()),
            None => {}
            Some(group) if generation < 0 && member_id.is_empty() && !group.is_empty() => {
                return Err(ResponseError::UnknownMemberId.code());
            }
            Some(_) if generation < 0 && member_id.is_empty() => {}
            Some(group) => {
                if !group.members.contains_key(member_id) {
                    return Err(if instance_id.is_some() {
                        ResponseError::FencedInstanceId.code()
                    } else {
                        ResponseError::UnknownMemberId.code()
                    });
                }
                if generation != group.generation {
                    return Err(ResponseError::IllegalGeneration.code());
                }
                if group.state == GroupState::CompletingRebalance {
                    return Err(ResponseError::RebalanceInProgress.code());
                }
            }
        }
        Ok(())
    }

    /// Whether an open transaction holds an offset for this group and partition.
    pub fn has_pending_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        self.lock(group_id)
            .has_pending_offset(group_id, topic, partition)
    }

    /// A transaction marker was written to `__consumer_offsets` partition `partition`: the
    /// producer's pending offsets there become committed, or are dropped.
    pub fn complete_txn(&self, partition: i32, producer_id: i64, commit: bool) {
        if (0..self.partitions).contains(&partition) {
            self.lock_partition(partition)
                .complete_txn(producer_id, commit, now_ms());
        }
    }

    /// OffsetFetch: the committed offsets of the named partitions, or all of the group's.
    pub fn fetch(
        &self,
        group_id: &str,
        partitions: Option<&[(String, Vec<i32>)]>,
    ) -> Vec<(String, i32, Option<Committed>)> {
        let inner = self.lock(group_id);
        let offsets = inner.offsets.get(group_id);
        let committed = |v: &OffsetValue| Committed {
            offset: v.offset,
            leader_epoch: v.leader_epoch,
            metadata: v.metadata.clone(),
        };
        match partitions {
            Some(wanted) => wanted
                .iter()
                .flat_map(|(topic, ps)| ps.iter().map(move |p| (topic.clone(), *p)))
                .map(|(topic, p)| {
                    let c = offsets
                        .and_then(|o| o.get(&(topic.clone(), p)))
                        .map(committed);
                    (topic, p, c)
                })
                .collect(),
            None => offsets
                .into_iter()
                .flat_map(|o| o.iter())
                .map(|((topic, p), v)| (topic.clone(), *p, Some(committed(v))))
                .collect(),
        }
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let inner = self.lock(group_id);
        let group = inner.groups.get(group_id)?;
        let protocol = group.protocol_name.clone().unwrap_or_default();
        Some(GroupDescription {
            state: group.state,
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol: if group.state == GroupState::Stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: group
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: m
                        .protocols
                        .iter()
                        .find(|(n, _)| *n == protocol)
                        .map(|(_, b)| b.clone())
                        .unwrap_or_default(),
                    assignment: if group.state == GroupState::Stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// ListGroups: every group, classic and consumer, sorted by ID.
    pub fn list(&self) -> Vec<ListedGroupInfo> {
        let classic: Vec<ListedGroupInfo> = self
            .each_shard()
            .flat_map(|inner| {
                inner
                    .groups
                    .values()
                    .map(|g| ListedGroupInfo {
                        group_id: g.group_id.clone(),
                        protocol_type: g.protocol_type.clone().unwrap_or_default(),
                        state: g.state.name(),
                        group_type: "classic",
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let consumer = self
            .list_consumer_groups()
            .into_iter()
            .map(|(group_id, state)| ListedGroupInfo {
                group_id,
                protocol_type: "consumer".to_string(),
                state: state.name(),
                group_type: "consumer",
            });
        let mut groups: Vec<ListedGroupInfo> = classic.into_iter().chain(consumer).collect();
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        groups
    }

    /// DeleteGroups for one group of either kind: only an empty group can go, and its
    /// committed offsets go with it.
    pub fn delete_group(&self, broker: &Broker, group_id: &str) -> i16 {
        self.delete_consumer_group(broker, group_id)
            .unwrap_or_else(|| self.delete_classic_group(broker, group_id))
    }

    /// DeleteGroups for one group: only an empty group can go; its offsets go with it.
    fn delete_classic_group(&self, broker: &Broker, group_id: &str) -> i16 {
        let mut inner = self.lock(group_id);
        let Some(group) = inner.groups.get(group_id) else {
            return ResponseError::GroupIdNotFound.code();
        };
        if !group.is_empty() {
            return ResponseError::NonEmptyGroup.code();
        }
        let mut records = inner.offset_tombstones(group_id);
        records.push(GroupRecord::Metadata {
            group: group_id.to_string(),
            value: None,
        });
        if let Err(code) = self.write(broker, group_id, &records) {
            return code;
        }
        let now = now_ms();
        for record in records {
            inner.apply(record, now);
        }
        0
    }

    /// OffsetDelete: drops committed offsets of topics the group does not consume.
    pub fn delete_offsets(
        &self,
        broker: &Broker,
        group_id: &str,
        partitions: &[(String, Vec<i32>)],
    ) -> Result<Vec<(String, i32, i16)>, i16> {
        let mut inner = self.lock(group_id);
        let Some(group) = inner.groups.get(group_id) else {
            return Err(ResponseError::GroupIdNotFound.code());
        };
        let subscribed = subscribed_topics(group);
        let mut results = Vec::new();
        let mut records = Vec::new();
        for (topic, ps) in partitions {
            for p in ps {
                if subscribed.iter().any(|t| t == topic) {
                    results.push((
                        topic.clone(),
                        *p,
                        ResponseError::GroupSubscribedToTopic.code(),
                    ));
                    continue;
                }
                if inner
                    .offsets
                    .get(group_id)
                    .is_some_and(|o| o.contains_key(&(topic.clone(), *p)))
                {
                    records.push(GroupRecord::Offset {
                        group: group_id.to_string(),
                        topic: topic.clone(),
                        partition: *p,
                        value: None,
                    });
                }
                results.push((topic.clone(), *p, 0));
            }
        }
        if !records.is_empty() {
            self.write(broker, group_id, &records)?;
            let now = now_ms();
            for record in records {
                inner.apply(record, now);
            }
        }
        Ok(results)
    }
}

/// The topics a consumer group's members subscribe to, from their ConsumerProtocolSubscription
/// metadata (only meaningful for protocol type "consumer").
fn subscribed_topics(group: &ClassicGroup) -> Vec<String> {
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::Decodable;
    if group.protocol_type.as_deref() != Some("consumer") || group.is_empty() {
        return Vec::new();
    }
    let protocol = group.protocol_name.clone().unwrap_or_default();
    let mut topics = Vec::new();
    for m in group.members.values() {
        let Some((_, metadata)) = m.protocols.iter().find(|(n, _)| *n == protocol) else {
            continue;
        };
        let mut buf = metadata.clone();
        if buf.len() < 2 {
            continue;
        }
        let version = i16::from_be_bytes([buf[0], buf[1]]);
        let _ = bytes::Buf::get_i16(&mut buf);
        if let Ok(subscription) =
            ConsumerProtocolSubscription::decode(&mut buf, version.clamp(0, 3))
        {
            topics.extend(subscription.topics.iter().map(|t| t.to_string()));
        }
    }
    topics
}
