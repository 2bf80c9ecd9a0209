//! Committed offsets: OffsetCommit, OffsetFetch (single-group and batched shapes, and the
//! all-partitions form) and OffsetDelete.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::*;
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::coordinator::group::{CommitMember, Committed, OffsetEntry};
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, ResourceType};

pub async fn offset_commit(
    ctx: &RequestContext,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    // Kafka: READ on the group (else every partition fails), then READ on each topic.
    let authz = ctx.authz();
    let group_denied = !authz.group(AclOperation::Read, &request.group_id);
    let topic_denied: Vec<bool> = request
        .topics
        .iter()
        .map(|t| !authz.topic(AclOperation::Read, &t.name.0))
        .collect();
    let offsets: Vec<OffsetEntry> = request
        .topics
        .iter()
        .zip(&topic_denied)
        .filter(|(_, denied)| !**denied)
        .map(|(t, _)| t)
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                let epoch = if ctx.api_version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                };
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    epoch,
                    p.committed_metadata.as_ref().map(|m| m.to_string()),
                )
            })
        })
        .collect();
    let instance = if ctx.api_version >= 7 {
        request.group_instance_id.as_ref().map(|s| s.to_string())
    } else {
        None
    };
    let member = CommitMember {
        generation: request.generation_id_or_member_epoch,
        member_id: &request.member_id,
        instance_id: instance.as_deref(),
    };
    let result = match super::coordinator::not_coordinator(ctx, &request.group_id) {
        _ if group_denied => Err(ResponseError::GroupAuthorizationFailed.code()),
        Some(code) => Err(code),
        None if offsets.is_empty() => Ok(Vec::new()),
        None => ctx
            .broker
            .groups
            .commit(&ctx.broker, &request.group_id, &member, &offsets),
    };
    // Acknowledged only once replicated to the offsets partition's ISR, like an acks=all write.
    let result = match result {
        Ok(codes) if codes.contains(&0) => match committed_durably(ctx, &request.group_id).await {
            Ok(()) => Ok(codes),
            Err(code) => Err(code),
        },
        other => other,
    };
    let mut codes = match result {
        Ok(codes) => codes.into_iter(),
        Err(code) => vec![code; offsets.len()].into_iter(),
    };
    let topics = request
        .topics
        .iter()
        .zip(topic_denied)
        .map(|(t, denied)| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            let code = if group_denied {
                                ResponseError::GroupAuthorizationFailed.code()
                            } else if denied {
                                ResponseError::TopicAuthorizationFailed.code()
                            } else {
                                codes.next().unwrap_or(0)
                            };
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// How long an offset commit waits for the offsets partition's followers (Kafka's
/// `offsets.commit.timeout.ms`).
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until the group's `__consumer_offsets` partition's high watermark covers what was
/// just written there. Immediate on a single node (its high watermark is its log end).
async fn committed_durably(ctx: &RequestContext, group_id: &str) -> Result<(), i16> {
    let broker = &ctx.broker;
    let index = broker.groups.partition_for(group_id);
    let Some(partition) = broker
        .replicas
        .get(crate::coordinator::group::OFFSETS_TOPIC, index)
    else {
        return Ok(());
    };
    let write = super::Replicating {
        leader_epoch: partition.leader_epoch(),
        required: partition.log_end_offset(),
        partition,
    };
    let outcome = super::replicated(&[write], COMMIT_TIMEOUT).await;
    outcome
        .into_iter()
        .collect::<Result<(), _>>()
        .map_err(|e| match e {
            ResponseError::NotLeaderOrFollower => ResponseError::NotCoordinator.code(),
            e => e.code(),
        })
}

/// Committed offsets by topic: (topic, [(partition, committed, error code)]).
type TopicOffsets = Vec<(String, Vec<(i32, Option<Committed>, i16)>)>;

/// One group's answer in domain terms. With `require_stable` (a read_committed consumer), an
/// offset an open transaction is about to change is UNSTABLE_OFFSET_COMMIT: the client retries.
fn fetch_group(
    ctx: &RequestContext,
    group_id: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> TopicOffsets {
    let groups = &ctx.broker.groups;
    let requested = topics.is_some();
    let rows = groups.fetch(group_id, topics.as_deref());
    // Kafka: DESCRIBE on each topic; a topic not allowed is left out of an all-topics answer
    // and answered TOPIC_AUTHORIZATION_FAILED when named.
    let authz = ctx.authz();
    let mut by_topic: TopicOffsets = Vec::new();
    for (topic, partition, committed) in rows {
        let row = if !authz.topic(AclOperation::Describe, &topic) {
            if !requested {
                continue;
            }
            (
                partition,
                None,
                ResponseError::TopicAuthorizationFailed.code(),
            )
        } else if require_stable && groups.has_pending_offset(group_id, &topic, partition) {
            (partition, None, ResponseError::UnstableOffsetCommit.code())
        } else {
            (partition, committed, 0)
        };
        match by_topic.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, ps)) => ps.push(row),
            None => by_topic.push((topic, vec![row])),
        }
    }
    by_topic
}

pub async fn offset_fetch(
    ctx: &RequestContext,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let version = ctx.api_version;
    // An offset never committed is -1 with empty metadata and no error.
    let values = |c: Option<Committed>| match c {
        Some(c) => (
            c.offset,
            if version >= 5 { c.leader_epoch } else { -1 },
            c.metadata,
        ),
        None => (-1, -1, String::new()),
    };
    if version >= 8 {
        let groups = request
            .groups
            .iter()
            .map(|g| {
                if !ctx.authorize(AclOperation::Describe, ResourceType::Group, &g.group_id) {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(ResponseError::GroupAuthorizationFailed.code());
                }
                if let Some(code) = super::coordinator::not_coordinator(ctx, &g.group_id) {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(code);
                }
                let topics = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let topics = fetch_group(ctx, &g.group_id, topics, request.require_stable)
                    .into_iter()
                    .map(|(topic, ps)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(topic_name(topic))
                            .with_partitions(
                                ps.into_iter()
                                    .map(|(p, c, code)| {
                                        let (offset, epoch, metadata) = values(c);
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(p)
                                            .with_error_code(code)
                                            .with_committed_offset(offset)
                                            .with_committed_leader_epoch(epoch)
                                            .with_metadata(Some(str_bytes(metadata)))
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    if !ctx.authorize(
        AclOperation::Describe,
        ResourceType::Group,
        &request.group_id,
    ) {
        // v1 has no top-level error: it answers no offsets.
        let mut response = OffsetFetchResponse::default();
        if version >= 2 {
            response.error_code = ResponseError::GroupAuthorizationFailed.code();
        }
        return response;
    }
    if let Some(code) = super::coordinator::not_coordinator(ctx, &request.group_id) {
        return OffsetFetchResponse::default().with_error_code(code);
    }
    let topics = request.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
            .collect()
    });
    let stable = version >= 7 && request.require_stable;
    let topics = fetch_group(ctx, &request.group_id, topics, stable)
        .into_iter()
        .map(|(topic, ps)| {
            OffsetFetchResponseTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(
                    ps.into_iter()
                        .map(|(p, c, code)| {
                            let (offset, epoch, metadata) = values(c);
                            let partition = OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_error_code(code)
                                .with_committed_offset(offset)
                                .with_metadata(Some(str_bytes(metadata)));
                            if version >= 5 {
                                partition.with_committed_leader_epoch(epoch)
                            } else {
                                partition
                            }
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

pub async fn offset_delete(
    ctx: &RequestContext,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    // Kafka: DELETE on the group, then READ on each topic.
    let authz = ctx.authz();
    if !authz.group(AclOperation::Delete, &request.group_id) {
        return OffsetDeleteResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let (allowed, denied): (Vec<_>, Vec<_>) = request
        .topics
        .iter()
        .partition(|t| authz.topic(AclOperation::Read, &t.name.0));
    let wanted: Vec<(String, Vec<i32>)> = allowed
        .iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    match ctx
        .broker
        .groups
        .delete_offsets(&ctx.broker, &request.group_id, &wanted)
    {
        Err(code) => OffsetDeleteResponse::default().with_error_code(code),
        Ok(rows) => {
            let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
            for (topic, partition, code) in rows {
                let entry = OffsetDeleteResponsePartition::default()
                    .with_partition_index(partition)
                    .with_error_code(code);
                match topics.iter_mut().find(|t| *t.name.0 == *topic) {
                    Some(t) => t.partitions.push(entry),
                    None => topics.push(
                        OffsetDeleteResponseTopic::default()
                            .with_name(topic_name(topic))
                            .with_partitions(vec![entry]),
                    ),
                }
            }
            for t in denied {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        OffsetDeleteResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    })
                    .collect();
                topics.push(
                    OffsetDeleteResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(partitions),
                );
            }
            OffsetDeleteResponse::default().with_topics(topics)
        }
    }
}
