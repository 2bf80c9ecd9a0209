//! The KIP-848 consumer group APIs: ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//! The group coordinator holds the state; these validate requests as Kafka does and map
//! topic IDs and names. ListGroups and DeleteGroups cover both kinds of group in `groups`.

use kafka_protocol::messages::consumer_group_describe_response as describe;
use kafka_protocol::messages::consumer_group_heartbeat_response as heartbeat;
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::coordinator::group::assignor::{Assignment, ASSIGNORS};
use crate::coordinator::group::consumer::{
    Heartbeat, LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use crate::coordinator::group::consumer_coordinator::DescribeError;
use crate::metadata::MetadataImage;
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, ResourceType};

/// From this version the client generates its member ID (Kafka's
/// `CONSUMER_GENERATED_MEMBER_ID_REQUIRED_VERSION`).
const CLIENT_MEMBER_ID_VERSION: i16 = 1;

fn refused(error: ResponseError, message: impl Into<String>) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(error.code())
        .with_error_message(Some(str_bytes(message)))
}

/// Kafka's request validation, in Kafka's order; `Err` is the error and its message.
fn validate(
    version: i16,
    r: &ConsumerGroupHeartbeatRequest,
) -> Result<(), (ResponseError, String)> {
    let blank = |s: Option<&str>| s.is_some_and(|s| s.trim().is_empty());
    let invalid = |m: &str| Err((ResponseError::InvalidRequest, m.to_string()));
    if (version >= CLIENT_MEMBER_ID_VERSION
        || r.member_epoch > 0
        || r.member_epoch == LEAVE_GROUP_MEMBER_EPOCH)
        && blank(Some(&r.member_id))
    {
        return invalid("MemberId can't be empty.");
    }
    if blank(Some(&r.group_id)) {
        return invalid("GroupId can't be empty.");
    }
    if blank(r.instance_id.as_deref()) {
        return invalid("InstanceId can't be empty.");
    }
    if blank(r.rack_id.as_deref()) {
        return invalid("RackId can't be empty.");
    }
    if r.member_epoch == 0 {
        if r.rebalance_timeout_ms == -1 {
            return invalid("RebalanceTimeoutMs must be provided in first request.");
        }
        if r.topic_partitions.as_ref().is_none_or(|t| !t.is_empty()) {
            return invalid("TopicPartitions must be empty when (re-)joining.");
        }
        if r.subscribed_topic_names.is_none() && r.subscribed_topic_regex.is_none() {
            return invalid(
                "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
            );
        }
    } else if r.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
        if r.instance_id.is_none() {
            return invalid("InstanceId can't be null.");
        }
    } else if r.member_epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH {
        return invalid("MemberEpoch is invalid.");
    }
    if let Some(assignor) = r.server_assignor.as_deref() {
        if !ASSIGNORS.contains(&assignor) {
            return Err((
                ResponseError::UnsupportedAssignor,
                format!(
                    "ServerAssignor {assignor} is not supported. Supported assignors: {}.",
                    ASSIGNORS.join(", ")
                ),
            ));
        }
    }
    // Regex subscriptions (KIP-848 v1) are not resolved by this broker yet.
    if r.subscribed_topic_regex
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return invalid("SubscribedTopicRegex is not supported by this broker.");
    }
    Ok(())
}

pub async fn consumer_group_heartbeat(
    ctx: &RequestContext,
    request: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    if let Err((error, message)) = validate(ctx.api_version, &request) {
        return refused(error, message);
    }
    // Kafka: READ on the group, then DESCRIBE on every subscribed topic.
    let authz = ctx.authz();
    if !authz.group(AclOperation::Read, &request.group_id) {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let mut denied: Vec<&str> = request
        .subscribed_topic_names
        .iter()
        .flatten()
        .map(|t| t.0.as_str())
        .filter(|t| !authz.topic(AclOperation::Describe, t))
        .collect();
    if !denied.is_empty() {
        denied.sort_unstable();
        denied.dedup();
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
            .with_error_message(Some(str_bytes(format!(
                "The group has subscribed to topics which are not authorized: {}",
                denied.join(", ")
            ))));
    }
    if let Some(code) = super::coordinator::not_coordinator(ctx, &request.group_id) {
        return ConsumerGroupHeartbeatResponse::default().with_error_code(code);
    }
    let owned = request.topic_partitions.as_ref().map(|tps| {
        let mut owned = Assignment::new();
        for tp in tps {
            owned
                .entry(tp.topic_id)
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
        owned
    });
    let beat = Heartbeat {
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: request.instance_id.as_ref().map(|s| s.to_string()),
        rack_id: request.rack_id.as_ref().map(|s| s.to_string()),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .as_ref()
            .map(|names| names.iter().map(|n| n.0.to_string()).collect()),
        server_assignor: request.server_assignor.as_ref().map(|s| s.to_string()),
        owned,
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    match ctx
        .broker
        .groups
        .consumer_heartbeat(&ctx.broker, &request.group_id, beat)
    {
        Err(e) => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(e.code)
            .with_error_message(Some(str_bytes(e.message))),
        Ok(result) => ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(str_bytes(result.member_id)))
            .with_member_epoch(result.member_epoch)
            .with_heartbeat_interval_ms(result.heartbeat_interval_ms)
            .with_assignment(result.assignment.map(|a| {
                heartbeat::Assignment::default().with_topic_partitions(
                    a.into_iter()
                        .map(|(topic_id, ps)| {
                            heartbeat::TopicPartitions::default()
                                .with_topic_id(topic_id)
                                .with_partitions(ps.into_iter().collect())
                        })
                        .collect(),
                )
            })),
    }
}

fn described_assignment(image: &MetadataImage, a: &Assignment) -> describe::Assignment {
    describe::Assignment::default().with_topic_partitions(
        a.iter()
            .map(|(id, ps)| {
                let name = image.topic_by_id(id).map(|t| t.name.clone());
                describe::TopicPartitions::default()
                    .with_topic_id(*id)
                    .with_topic_name(topic_name(name.unwrap_or_default()))
                    .with_partitions(ps.iter().copied().collect())
            })
            .collect(),
    )
}

pub async fn consumer_group_describe(
    ctx: &RequestContext,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let image = ctx.broker.image();
    let authz = ctx.authz();
    let groups = request
        .group_ids
        .iter()
        .map(|group_id| {
            let mut described = describe::DescribedGroup::default().with_group_id(group_id.clone());
            // Kafka: DESCRIBE on each group.
            if !authz.group(AclOperation::Describe, group_id) {
                return described.with_error_code(ResponseError::GroupAuthorizationFailed.code());
            }
            if request.include_authorized_operations {
                described.authorized_operations = authz.authorized_operations(
                    ResourceType::Group,
                    group_id,
                    super::authz::GROUP_OPERATIONS,
                );
            }
            let group = match ctx.broker.groups.consumer_describe(group_id) {
                Ok(group) => group,
                Err(e) => {
                    let message = match e {
                        DescribeError::NotFound => format!("Group {} not found.", &**group_id),
                        DescribeError::NotAConsumerGroup => {
                            format!("Group {} is not a consumer group.", &**group_id)
                        }
                    };
                    return described
                        .with_error_code(ResponseError::GroupIdNotFound.code())
                        .with_error_message(Some(str_bytes(message)));
                }
            };
            let members = group
                .members
                .values()
                .map(|m| {
                    let target = group.target.get(&m.member_id).cloned().unwrap_or_default();
                    let member = describe::Member::default()
                        .with_member_id(str_bytes(m.member_id.clone()))
                        .with_instance_id(m.instance_id.clone().map(str_bytes))
                        .with_rack_id(m.rack_id.clone().map(str_bytes))
                        .with_member_epoch(m.member_epoch)
                        .with_client_id(str_bytes(m.client_id.clone()))
                        .with_client_host(str_bytes(m.client_host.clone()))
                        .with_subscribed_topic_names(
                            m.subscribed_topic_names
                                .iter()
                                .map(|n| topic_name(n.clone()))
                                .collect(),
                        )
                        .with_assignment(described_assignment(&image, &m.assigned))
                        .with_target_assignment(described_assignment(&image, &target));
                    if ctx.api_version >= 1 {
                        // 1: a member of the consumer protocol (0 would be classic).
                        member.with_member_type(1)
                    } else {
                        member
                    }
                })
                .collect();
            described
                .with_group_state(str_bytes(group.state().name()))
                .with_group_epoch(group.group_epoch)
                .with_assignment_epoch(group.assignment_epoch)
                .with_assignor_name(str_bytes(group.assignor.clone()))
                .with_members(members)
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
