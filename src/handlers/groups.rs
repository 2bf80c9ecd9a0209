//! The classic group membership APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the
//! group admin APIs DescribeGroups, ListGroups and DeleteGroups. The group coordinator holds the
//! state; these map versions and fields.

use bytes::Bytes;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::authz::GROUP_OPERATIONS;
use super::str_bytes;
use crate::coordinator::group::{GroupState, JoinRequest, SyncRequest};
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, ResourceType};

fn opt(s: &Option<kafka_protocol::protocol::StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

/// Kafka records a client's host as Java prints an address: with a leading slash.
fn client_host(ctx: &RequestContext) -> String {
    format!("/{}", ctx.peer.ip())
}

pub async fn join_group(ctx: &RequestContext, request: JoinGroupRequest) -> JoinGroupResponse {
    if !ctx.authorize(AclOperation::Read, ResourceType::Group, &request.group_id) {
        return JoinGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code())
            .with_generation_id(-1);
    }
    if let Some(code) = super::coordinator::not_coordinator(ctx, &request.group_id) {
        return JoinGroupResponse::default()
            .with_error_code(code)
            .with_generation_id(-1);
    }
    let version = ctx.api_version;
    let join = JoinRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: if version >= 5 {
            opt(&request.group_instance_id)
        } else {
            None
        },
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: client_host(ctx),
        session_timeout_ms: request.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        },
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        require_known_member_id: version >= 4,
    };
    let result = ctx
        .broker
        .groups
        .join(&ctx.broker, &request.group_id, join)
        .await;
    let mut response = JoinGroupResponse::default()
        .with_error_code(result.error)
        .with_generation_id(result.generation)
        .with_leader(str_bytes(result.leader))
        .with_member_id(str_bytes(result.member_id))
        .with_members(
            result
                .members
                .into_iter()
                .map(|(member_id, instance_id, metadata)| {
                    let member = JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(member_id))
                        .with_metadata(metadata);
                    if version >= 5 {
                        member.with_group_instance_id(instance_id.map(str_bytes))
                    } else {
                        member
                    }
                })
                .collect(),
        );
    if version >= 7 {
        response.protocol_type = result.protocol_type.map(str_bytes);
        response.protocol_name = result.protocol_name.map(str_bytes);
    } else {
        // Before v7 the protocol name is a non-null string.
        response.protocol_name = Some(str_bytes(result.protocol_name.unwrap_or_default()));
    }
    response
}

pub async fn sync_group(ctx: &RequestContext, request: SyncGroupRequest) -> SyncGroupResponse {
    if !ctx.authorize(AclOperation::Read, ResourceType::Group, &request.group_id) {
        return SyncGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    if let Some(code) = super::coordinator::not_coordinator(ctx, &request.group_id) {
        return SyncGroupResponse::default().with_error_code(code);
    }
    let version = ctx.api_version;
    let assignments: Vec<(String, Bytes)> = request
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
        .collect();
    let instance = if version >= 3 {
        opt(&request.group_instance_id)
    } else {
        None
    };
    let (protocol_type, protocol_name) = if version >= 5 {
        (opt(&request.protocol_type), opt(&request.protocol_name))
    } else {
        (None, None)
    };
    let result = ctx
        .broker
        .groups
        .sync(
            &ctx.broker,
            &request.group_id,
            SyncRequest {
                member_id: request.member_id.to_string(),
                group_instance_id: instance,
                generation: request.generation_id,
                protocol_type,
                protocol_name,
                assignments,
            },
        )
        .await;
    let mut response = SyncGroupResponse::default()
        .with_error_code(result.error)
        .with_assignment(result.assignment);
    if version >= 5 {
        response.protocol_type = result.protocol_type.map(str_bytes);
        response.protocol_name = result.protocol_name.map(str_bytes);
    }
    response
}

pub async fn heartbeat(ctx: &RequestContext, request: HeartbeatRequest) -> HeartbeatResponse {
    if !ctx.authorize(AclOperation::Read, ResourceType::Group, &request.group_id) {
        return HeartbeatResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    if let Some(code) = super::coordinator::not_coordinator(ctx, &request.group_id) {
        return HeartbeatResponse::default().with_error_code(code);
    }
    let instance = if ctx.api_version >= 3 {
        opt(&request.group_instance_id)
    } else {
        None
    };
    let code = ctx.broker.groups.heartbeat(
        &request.group_id,
        &request.member_id,
        instance.as_deref(),
        request.generation_id,
    );
    HeartbeatResponse::default().with_error_code(code)
}

pub async fn leave_group(ctx: &RequestContext, request: LeaveGroupRequest) -> LeaveGroupResponse {
    if !ctx.authorize(AclOperation::Read, ResourceType::Group, &request.group_id) {
        return LeaveGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    if let Some(code) = super::coordinator::not_coordinator(ctx, &request.group_id) {
        return LeaveGroupResponse::default().with_error_code(code);
    }
    let batch = ctx.api_version >= 3;
    let members: Vec<(String, Option<String>)> = if batch {
        request
            .members
            .iter()
            .map(|m| (m.member_id.to_string(), opt(&m.group_instance_id)))
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    match ctx
        .broker
        .groups
        .leave(&ctx.broker, &request.group_id, &members)
    {
        Err(code) => LeaveGroupResponse::default().with_error_code(code),
        Ok(codes) if !batch => LeaveGroupResponse::default().with_error_code(codes[0]),
        Ok(codes) => LeaveGroupResponse::default().with_members(
            members
                .into_iter()
                .zip(codes)
                .map(|((member_id, instance_id), code)| {
                    MemberResponse::default()
                        .with_member_id(str_bytes(member_id))
                        .with_group_instance_id(instance_id.map(str_bytes))
                        .with_error_code(code)
                })
                .collect(),
        ),
    }
}

pub async fn describe_groups(
    ctx: &RequestContext,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let version = ctx.api_version;
    let authz = ctx.authz();
    let groups = request
        .groups
        .iter()
        .map(|group_id| {
            let mut described = DescribedGroup::default().with_group_id(group_id.clone());
            // Kafka: DESCRIBE on each group.
            if !authz.group(AclOperation::Describe, group_id) {
                return described.with_error_code(ResponseError::GroupAuthorizationFailed.code());
            }
            if version >= 3 && request.include_authorized_operations {
                described.authorized_operations =
                    authz.authorized_operations(ResourceType::Group, group_id, GROUP_OPERATIONS);
            }
            match ctx.broker.groups.describe(group_id) {
                // Unknown groups are "Dead"; v6 also says GROUP_ID_NOT_FOUND, as Kafka 4 does.
                None => {
                    let described = described.with_group_state(str_bytes(GroupState::Dead.name()));
                    if version >= 6 {
                        described
                            .with_error_code(ResponseError::GroupIdNotFound.code())
                            .with_error_message(Some(str_bytes(format!(
                                "Group {} not found.",
                                &**group_id
                            ))))
                    } else {
                        described
                    }
                }
                Some(group) => described
                    .with_group_state(str_bytes(group.state.name()))
                    .with_protocol_type(str_bytes(group.protocol_type))
                    .with_protocol_data(str_bytes(group.protocol))
                    .with_members(
                        group
                            .members
                            .into_iter()
                            .map(|m| {
                                let member = DescribedGroupMember::default()
                                    .with_member_id(str_bytes(m.member_id))
                                    .with_client_id(str_bytes(m.client_id))
                                    .with_client_host(str_bytes(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment);
                                if version >= 4 {
                                    member
                                        .with_group_instance_id(m.group_instance_id.map(str_bytes))
                                } else {
                                    member
                                }
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

/// ListGroups over classic and consumer groups, with the state (v4+) and type (v5+) filters.
pub async fn list_groups(ctx: &RequestContext, request: ListGroupsRequest) -> ListGroupsResponse {
    let version = ctx.api_version;
    let lowercase = |filter: &[kafka_protocol::protocol::StrBytes]| -> Vec<String> {
        filter.iter().map(|s| s.to_lowercase()).collect()
    };
    let states = if version >= 4 {
        lowercase(&request.states_filter)
    } else {
        vec![]
    };
    let types = if version >= 5 {
        lowercase(&request.types_filter)
    } else {
        vec![]
    };
    // Kafka: DESCRIBE on the cluster lists every group; otherwise those the principal may
    // DESCRIBE.
    let authz = ctx.authz();
    let all_visible = authz.cluster(AclOperation::Describe);
    let groups = ctx
        .broker
        .groups
        .list()
        .into_iter()
        .filter(|g| all_visible || authz.group(AclOperation::Describe, &g.group_id))
        .filter(|g| states.is_empty() || states.contains(&g.state.to_lowercase()))
        .filter(|g| types.is_empty() || types.iter().any(|t| t == g.group_type))
        .map(|g| {
            let mut listed = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(g.group_id)))
                .with_protocol_type(str_bytes(g.protocol_type));
            if version >= 4 {
                listed.group_state = str_bytes(g.state);
            }
            if version >= 5 {
                listed.group_type = str_bytes(g.group_type);
            }
            listed
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

pub async fn delete_groups(
    ctx: &RequestContext,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let authz = ctx.authz();
    let results = request
        .groups_names
        .iter()
        .map(|group_id| {
            // Kafka: DELETE on each group.
            let code = if authz.group(AclOperation::Delete, group_id) {
                ctx.broker.groups.delete_group(&ctx.broker, group_id)
            } else {
                ResponseError::GroupAuthorizationFailed.code()
            };
            DeletableGroupResult::default()
                .with_group_id(group_id.clone())
                .with_error_code(code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
