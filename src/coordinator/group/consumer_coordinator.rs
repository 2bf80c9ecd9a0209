//! The group coordinator's side of KIP-848 consumer groups: it owns the [`ConsumerGroup`]s (in
//! `Inner::consumer`, under the same single-writer mutex as the classic groups of their shard), applies
//! heartbeats to a copy of the group and keeps the copy only once its new epoch is written to
//! `__consumer_offsets` ([`ConsumerGroupMetadata`]), drives session expiry from the ticker,
//! and keeps a group ID either classic or consumer, as Kafka does:
//!
//! - a consumer heartbeat for a non-empty classic group gets GROUP_ID_NOT_FOUND; an empty
//!   classic group (offsets only) becomes a consumer group, keeping its offsets;
//! - a JoinGroup for a non-empty consumer group gets INCONSISTENT_GROUP_PROTOCOL; an empty one
//!   becomes a classic group (a tombstone is written).
//!
//! Settings come from Kafka's `group.consumer.*` keys: `session.timeout.ms` (default 45000)
//! and `heartbeat.interval.ms` (5000) are clamped to their `min.`/`max.` bounds (defaults
//! 45000-60000 and 5000-15000), as Kafka refuses to start outside them.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::consumer::{
    ConsumerGroup, ConsumerGroupConfig, ConsumerGroupState, Heartbeat, HeartbeatError,
    HeartbeatResult, TopicMeta, Topics,
};
use super::consumer_records::ConsumerGroupMetadata;
use super::records::GroupRecord;
use super::{ClassicGroup, GroupCoordinator, Inner, OFFSETS_TOPIC};
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::coordinator::append_internal;
use crate::log::builder::{build_batch, build_transactional_batch, NewRecord};
use crate::metadata::MetadataImage;
use crate::partition::manager::{now_ms, topic_id_string};

/// The consumer groups of one coordinator, by group ID.
pub(super) type ConsumerGroups = HashMap<String, ConsumerGroup>;

/// Kafka's `group.consumer.*` settings, with Kafka's bounds applied.
pub fn consumer_config(config: &BrokerConfig) -> ConsumerGroupConfig {
    let int = |key: &str, default: i32| {
        config
            .raw_value(key)
            .and_then(|v| v.trim().parse::<i32>().ok())
            .unwrap_or(default)
    };
    let min_session = int("group.consumer.min.session.timeout.ms", 45_000).max(1);
    let max_session = int("group.consumer.max.session.timeout.ms", 60_000).max(min_session);
    let min_interval = int("group.consumer.min.heartbeat.interval.ms", 5_000).max(1);
    let max_interval = int("group.consumer.max.heartbeat.interval.ms", 15_000).max(min_interval);
    let session = int("group.consumer.session.timeout.ms", 45_000).clamp(min_session, max_session);
    let interval =
        int("group.consumer.heartbeat.interval.ms", 5_000).clamp(min_interval, max_interval);
    ConsumerGroupConfig {
        session_timeout_ms: session,
        heartbeat_interval_ms: interval,
        max_size: usize::try_from(int("group.consumer.max.size", i32::MAX)).unwrap_or(usize::MAX),
    }
}

/// Every topic of the image, as the consumer groups see it.
fn topics_of(image: &MetadataImage) -> Topics {
    image
        .topics
        .values()
        .map(|t| {
            (
                t.name.clone(),
                TopicMeta {
                    id: t.id,
                    partitions: t.partitions,
                },
            )
        })
        .collect()
}

fn error(e: ResponseError, message: impl Into<String>) -> HeartbeatError {
    HeartbeatError {
        code: e.code(),
        message: message.into(),
    }
}

/// Why ConsumerGroupDescribe cannot describe a group.
pub enum DescribeError {
    NotFound,
    NotAConsumerGroup,
}

impl Inner {
    /// Replay of a KIP-848 record (key version 3 and up); other record types are skipped.
    pub(super) fn replay_consumer(&mut self, key: &[u8], value: Option<&[u8]>, now: i64) {
        match ConsumerGroupMetadata::decode(key, value) {
            Ok(Some(record)) => self.apply_consumer(record, now),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "skipping an undecodable consumer group record")
            }
        }
    }

    fn apply_consumer(&mut self, record: ConsumerGroupMetadata, now: i64) {
        match record.epoch {
            Some(epoch) => {
                let group = self
                    .consumer
                    .entry(record.group.clone())
                    .or_insert_with(|| ConsumerGroup::new(&record.group));
                group.group_epoch = epoch;
                group.assignment_epoch = group.assignment_epoch.max(epoch);
                if self.groups.get(&record.group).is_some_and(|g| g.is_empty()) {
                    self.groups.remove(&record.group);
                }
            }
            None => {
                self.consumer.remove(&record.group);
                // Offsets that outlive the group keep it listed, as for a classic group.
                if self
                    .offsets
                    .get(&record.group)
                    .is_some_and(|o| !o.is_empty())
                {
                    self.groups
                        .entry(record.group.clone())
                        .or_insert_with(|| ClassicGroup::new(&record.group, now));
                }
            }
        }
    }
}

impl GroupCoordinator {
    /// Appends raw `(key, value)` records for one group to its `__consumer_offsets` partition,
    /// as part of `producer`'s transaction when given (TxnOffsetCommit).
    pub(super) fn write_raw(
        &self,
        broker: &Broker,
        group_id: &str,
        records: Vec<(Bytes, Option<Bytes>)>,
        producer: Option<(i64, i16)>,
    ) -> Result<(), i16> {
        self.ensure_topic(broker)?;
        let now = now_ms();
        let batch: Vec<NewRecord> = records
            .into_iter()
            .map(|(key, value)| NewRecord {
                key: Some(key),
                value,
            })
            .collect();
        let bytes = match producer {
            Some((id, epoch)) => build_transactional_batch(&batch, now, id, epoch),
            None => build_batch(&batch, now),
        };
        append_internal(broker, OFFSETS_TOPIC, self.partition_for(group_id), bytes).map(|_| ())
    }

    fn write_epoch(&self, broker: &Broker, group_id: &str, epoch: Option<i32>) -> Result<(), i16> {
        let record = ConsumerGroupMetadata {
            group: group_id.to_string(),
            epoch,
        };
        self.write_raw(broker, group_id, vec![record.encode()], None)
    }

    /// ConsumerGroupHeartbeat (join, heartbeat, leave) for a validated request.
    pub fn consumer_heartbeat(
        &self,
        broker: &Broker,
        group_id: &str,
        request: Heartbeat,
    ) -> Result<HeartbeatResult, HeartbeatError> {
        if group_id.len() > i16::MAX as usize {
            return Err(error(
                ResponseError::InvalidGroupId,
                "The group id is too long.",
            ));
        }
        self.ensure_topic(broker).map_err(|code| HeartbeatError {
            code,
            message: "The coordinator is not available.".into(),
        })?;
        let config = consumer_config(&broker.config);
        let topics = topics_of(&broker.image());
        let mut inner = self.lock(group_id);
        if inner.groups.get(group_id).is_some_and(|g| !g.is_empty()) {
            return Err(error(
                ResponseError::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            ));
        }
        let existing = inner.consumer.get(group_id);
        if existing.is_none() && request.member_epoch != 0 {
            return Err(error(
                ResponseError::GroupIdNotFound,
                format!("Consumer group {group_id} not found."),
            ));
        }
        let before = existing.map(|g| g.group_epoch);
        let mut group = existing
            .cloned()
            .unwrap_or_else(|| ConsumerGroup::new(group_id));
        let now = now_ms();
        let new_id = || topic_id_string(&uuid::Uuid::new_v4());
        let result = group.heartbeat(request, new_id, &topics, &config, now)?;
        if before != Some(group.group_epoch) {
            self.write_epoch(broker, group_id, Some(group.group_epoch))
                .map_err(|code| HeartbeatError {
                    code,
                    message: "The group epoch could not be stored.".into(),
                })?;
            if before.is_none() {
                // An empty classic group (committed offsets only) becomes this group.
                inner.groups.remove(group_id);
            }
        }
        inner.consumer.insert(group_id.to_string(), group);
        Ok(result)
    }

    /// ConsumerGroupDescribe: a snapshot of the group.
    pub fn consumer_describe(&self, group_id: &str) -> Result<ConsumerGroup, DescribeError> {
        let inner = self.lock(group_id);
        match inner.consumer.get(group_id) {
            Some(group) => Ok(group.clone()),
            None if inner.groups.contains_key(group_id) => Err(DescribeError::NotAConsumerGroup),
            None => Err(DescribeError::NotFound),
        }
    }

    /// ListGroups: (group ID, state) of every consumer group.
    pub(super) fn list_consumer_groups(&self) -> Vec<(String, ConsumerGroupState)> {
        let mut groups: Vec<_> = self
            .each_shard()
            .flat_map(|inner| {
                inner
                    .consumer
                    .values()
                    .map(|g| (g.group_id.clone(), g.state()))
                    .collect::<Vec<_>>()
            })
            .collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    }

    /// DeleteGroups for a consumer group: `None` when `group_id` is not one. Only an empty group
    /// can go; its committed offsets go with it.
    pub(super) fn delete_consumer_group(&self, broker: &Broker, group_id: &str) -> Option<i16> {
        let mut inner = self.lock(group_id);
        let group = inner.consumer.get(group_id)?;
        if !group.is_empty() {
            return Some(ResponseError::NonEmptyGroup.code());
        }
        let offsets = inner.offset_tombstones(group_id);
        let tombstone = ConsumerGroupMetadata {
            group: group_id.to_string(),
            epoch: None,
        };
        let mut records: Vec<_> = offsets.iter().map(GroupRecord::encode).collect();
        records.push(tombstone.encode());
        if let Err(code) = self.write_raw(broker, group_id, records, None) {
            return Some(code);
        }
        let now = now_ms();
        for record in offsets {
            inner.apply(record, now);
        }
        inner.apply_consumer(tombstone, now);
        Some(0)
    }

    /// JoinGroup guard: a non-empty consumer group refuses classic members; an empty one is
    /// dropped so that the group ID can become classic.
    pub(super) fn check_classic_join(&self, broker: &Broker, group_id: &str) -> Result<(), i16> {
        let mut inner = self.lock(group_id);
        match inner.consumer.get(group_id) {
            None => Ok(()),
            Some(group) if !group.is_empty() => {
                Err(ResponseError::InconsistentGroupProtocol.code())
            }
            Some(_) => {
                self.write_epoch(broker, group_id, None)?;
                inner.apply_consumer(
                    ConsumerGroupMetadata {
                        group: group_id.to_string(),
                        epoch: None,
                    },
                    now_ms(),
                );
                Ok(())
            }
        }
    }

    /// OffsetCommit guard: `Some` when `group_id` is a consumer group, with the verdict on the
    /// member ID and epoch.
    pub(super) fn check_consumer_commit(
        inner: &Inner,
        group_id: &str,
        member_id: &str,
        member_epoch: i32,
    ) -> Option<Result<(), i16>> {
        inner
            .consumer
            .get(group_id)
            .map(|g| g.validate_commit(member_id, member_epoch))
    }

    /// Session expiry and revocation timeouts of consumer group members.
    pub(super) fn tick_consumer_groups(&self, broker: &Broker, inner: &mut Inner) {
        if inner.consumer.is_empty() {
            return;
        }
        let config = consumer_config(&broker.config);
        let now = now_ms();
        let mut changed = Vec::new();
        for (id, group) in inner.consumer.iter_mut() {
            let gone = group.tick(&config, now);
            for member in &gone {
                tracing::info!(group = %id, member = %member, "consumer group member removed: session or rebalance timeout");
            }
            if !gone.is_empty() {
                changed.push((id.clone(), group.group_epoch));
            }
        }
        for (id, epoch) in changed {
            if let Err(code) = self.write_epoch(broker, &id, Some(epoch)) {
                tracing::warn!(group = %id, code, "could not store the consumer group epoch");
            }
        }
    }
}
