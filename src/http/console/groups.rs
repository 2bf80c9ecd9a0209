//! `/groups` and `/groups/{id}`: the consumer groups this node coordinates, their members and
//! assignments, committed offsets and lag; reset offsets (OffsetCommit as a group admin sends
//! it, which the coordinator accepts only from an empty group) and delete (DeleteGroups).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use bytes::{Buf, Bytes};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, DeleteGroupsRequest, GroupId, OffsetCommitRequest,
};
use kafka_protocol::protocol::Decodable;
use maud::html;
use serde::Deserialize;

use super::layout::{self, segment, Nav};
use super::{
    kafka_outcome, parse_number, see_other, Access, ConsoleError, Named, PageResult, Posted,
    Writable,
};
use crate::broker::Broker;
use crate::coordinator::group::view::GroupView;
use crate::handlers::authz::Authz;
use crate::handlers::{str_bytes, topic_name};
use crate::security::acl::{AclOperation, ResourceType};

/// One committed partition: (topic, partition) → (committed, high watermark if hosted here).
type Offsets = BTreeMap<(String, i32), (i64, Option<i64>)>;

/// The committed offsets of the topics the viewer may describe (as OffsetFetch leaves the
/// others out).
fn offsets(b: &Broker, authz: &Authz<'_>, view: &GroupView) -> Offsets {
    view.committed
        .iter()
        .filter(|((topic, _), _)| authz.topic(AclOperation::Describe, topic))
        .map(|((topic, index), &committed)| {
            let end = b.replicas.get(topic, *index).map(|p| p.high_watermark());
            ((topic.clone(), *index), (committed, end))
        })
        .collect()
}

fn lag(committed: i64, end: Option<i64>) -> Option<i64> {
    end.map(|e| (e - committed).max(0))
}

fn find_group(b: &Broker, id: &str) -> Result<GroupView, ConsoleError> {
    b.groups
        .views()
        .into_iter()
        .find(|v| v.group_id == id)
        .ok_or_else(|| {
            ConsoleError::not_found(format!(
                "No group '{id}' is coordinated by this node (in a cluster, its coordinator may be another node)."
            ))
        })
}

pub(super) async fn list(access: Access) -> PageResult {
    let b = &access.broker;
    let authz = access.authz();
    // As ListGroups does: DESCRIBE on the cluster lists every group, else those the viewer may
    // describe.
    let all = authz.cluster(AclOperation::Describe);
    let views: Vec<GroupView> = b
        .groups
        .views()
        .into_iter()
        .filter(|v| all || authz.group(AclOperation::Describe, &v.group_id))
        .collect();
    let body = html! {
        table #groups {
            thead { tr {
                th { "Group" } th { "Type" } th { "State" } th.num { "Members" }
                th.num { "Partitions" } th.num { "Lag" }
            } }
            tbody {
                @for v in &views {
                    @let total: i64 = offsets(b, &authz, v).values().filter_map(|&(c, e)| lag(c, e)).sum();
                    tr {
                        td { a href={ "/groups/" (segment(&v.group_id)) } { (v.group_id) } }
                        td { (v.group_type) }
                        td { (v.state) }
                        td.num { (v.members) }
                        td.num { (v.committed.len()) }
                        td.num { (total) }
                    }
                }
            }
        }
        @if views.is_empty() { p.note { "No consumer groups are coordinated by this node (or none you may describe)." } }
    };
    Ok(layout::render_with(
        "Consumer groups",
        Nav::Groups,
        access.login(),
        body,
    ))
}

/// A member's assigned partitions as `topic: 0, 1`, from its ConsumerProtocolAssignment.
fn assignment_text(assignment: &Bytes) -> String {
    let mut buf = assignment.clone();
    if buf.len() < 2 {
        return String::new();
    }
    let version = buf.get_i16();
    match ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)) {
        Ok(a) => a
            .assigned_partitions
            .iter()
            .map(|t| format!("{}: {}", t.topic.as_str(), layout::ids(&t.partitions)))
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => format!("{} bytes (not the consumer protocol)", assignment.len()),
    }
}

pub(super) async fn detail(access: Access, Named(id): Named) -> PageResult {
    let b = &access.broker;
    // DescribeGroups: DESCRIBE on the group, before its existence is told.
    access.require(AclOperation::Describe, ResourceType::Group, &id)?;
    let authz = access.authz();
    let (may_reset, may_delete) = (
        authz.group(AclOperation::Read, &id),
        authz.group(AclOperation::Delete, &id),
    );
    let view = find_group(b, &id)?;
    let description = b.groups.describe(&id);
    let offsets = offsets(b, &authz, &view);
    let max_lag = offsets
        .values()
        .filter_map(|&(c, e)| lag(c, e))
        .max()
        .unwrap_or(0)
        .max(1);
    let topics: Vec<&String> = {
        let mut t: Vec<&String> = offsets.keys().map(|(t, _)| t).collect();
        t.dedup();
        t
    };
    let link = segment(&id);
    let body = html! {
        dl.facts {
            dt { "State" } dd #group-state { (view.state) }
            dt { "Type" } dd { (view.group_type) }
            @if let Some(d) = &description {
                dt { "Protocol" } dd { (d.protocol_type) " / " (d.protocol) }
            }
            dt { "Members" } dd { (view.members) }
        }
        @if let Some(d) = &description {
            @if !d.members.is_empty() {
                h2 { "Members" }
                table #members {
                    thead { tr { th { "Member" } th { "Client" } th { "Host" } th { "Assignment" } } }
                    tbody {
                        @for m in &d.members {
                            tr {
                                td { code { (m.member_id) } @if let Some(i) = &m.group_instance_id { " (static " (i) ")" } }
                                td { (m.client_id) }
                                td { (m.client_host) }
                                td { (assignment_text(&m.assignment)) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Offsets and lag" }
        table #offsets {
            thead { tr {
                th { "Topic" } th.num { "Partition" } th.num { "Committed" }
                th.num { "End offset" } th.num { "Lag" } th.bar { "" }
            } }
            tbody {
                @for ((topic, index), &(committed, end)) in &offsets {
                    @let lag = lag(committed, end);
                    tr {
                        td { a href={ "/topics/" (segment(topic)) } { (topic) } }
                        td.num { (index) }
                        td.num { (committed) }
                        td.num { (end.map_or("—".into(), |e| e.to_string())) }
                        td.num.lag { (lag.map_or("—".into(), |l| l.to_string())) }
                        td.bar {
                            // The lag chart: one bar per partition, scaled to the largest lag.
                            svg viewBox="0 0 100 10" preserveAspectRatio="none" {
                                rect x="0" y="0" height="10" width=((lag.unwrap_or(0) * 100 / max_lag).clamp(0, 100)) {}
                            }
                        }
                    }
                }
            }
        }
        @if offsets.is_empty() { p.note { "No committed offsets." } }
        @if may_reset {
            h2 { "Reset offsets" }
            @if view.members > 0 {
                p.note { "Offsets can be reset only while the group is empty: stop its consumers first." }
            } @else {
                form.inline #reset-offsets method="post" action={ "/groups/" (link) "/reset" } {
                    label { "Topic " select name="topic" {
                        option value="" { "every committed topic" }
                        @for t in &topics { option value=(t) { (t) } }
                    } }
                    label { "To " select name="to" {
                        option value="earliest" { "earliest" }
                        option value="latest" { "latest" }
                        option value="offset" { "offset" }
                    } }
                    label { "Offset " input name="offset" type="number" min="0"; }
                    button type="submit" { "Reset offsets" }
                }
            }
        }
        @if may_delete {
            h2 { "Delete" }
            form.inline #delete-group method="post" action={ "/groups/" (link) "/delete" } {
                button.danger type="submit" { "Delete group" }
            }
        }
    };
    Ok(layout::render_with(
        &format!("Group {id}"),
        Nav::Groups,
        access.login(),
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct ResetForm {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    offset: String,
}

pub(super) async fn reset_offsets(
    Writable(access): Writable,
    Named(id): Named,
    Posted(form): Posted<ResetForm>,
) -> PageResult {
    // OffsetCommit: READ on the group here; READ on each topic is the handler's check.
    access.require(AclOperation::Read, ResourceType::Group, &id)?;
    let b = &access.broker;
    let view = find_group(b, &id)?;
    if view.members > 0 {
        return Err(ConsoleError::new(
            StatusCode::CONFLICT,
            format!(
                "Group '{id}' has {} member(s): offsets can be reset only while it is empty.",
                view.members
            ),
        ));
    }
    let offset: Option<i64> = parse_number("offset", &form.offset)?;
    let mut by_topic: BTreeMap<String, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (topic, index) in view.committed.keys() {
        if !form.topic.is_empty() && *topic != form.topic {
            continue;
        }
        let p = b.replicas.get(topic, *index).ok_or_else(|| {
            ConsoleError::new(
                StatusCode::CONFLICT,
                format!("Partition {index} of '{topic}' is not hosted on this node: its offsets cannot be looked up here."),
            )
        })?;
        let (earliest, latest) = (p.log_start_offset(), p.high_watermark());
        // As kafka-consumer-groups.sh does, a target outside the log is moved to its nearest end.
        let target = match form.to.as_str() {
            "earliest" => earliest,
            "latest" => latest,
            "offset" => offset
                .ok_or_else(|| ConsoleError::bad_request("offset: give the offset to reset to"))?
                .clamp(earliest, latest),
            other => {
                return Err(ConsoleError::bad_request(format!(
                    "to: '{other}' is not earliest, latest or offset"
                )))
            }
        };
        by_topic.entry(topic.clone()).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(*index)
                .with_committed_offset(target)
                .with_committed_leader_epoch(-1),
        );
    }
    if by_topic.is_empty() {
        return Err(ConsoleError::bad_request(format!(
            "Group '{id}' has no committed offsets for that topic."
        )));
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(str_bytes(id.clone())))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(str_bytes(""))
        .with_topics(
            by_topic
                .into_iter()
                .map(|(t, partitions)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    let ctx = access.context(8);
    let response = crate::handlers::offsets::offset_commit(&ctx, request).await;
    kafka_outcome(
        || format!("Resetting the offsets of group '{id}'"),
        (response.topics.iter())
            .flat_map(|t| &t.partitions)
            .map(|p| (p.error_code, None)),
    )?;
    Ok(see_other(&format!("/groups/{}", segment(&id))))
}

pub(super) async fn delete(Writable(access): Writable, Named(id): Named) -> PageResult {
    access.require(AclOperation::Delete, ResourceType::Group, &id)?;
    let request =
        DeleteGroupsRequest::default().with_groups_names(vec![GroupId(str_bytes(id.clone()))]);
    let ctx = access.context(2);
    let response = crate::handlers::groups::delete_groups(&ctx, request).await;
    kafka_outcome(
        || format!("Deleting group '{id}'"),
        response.results.iter().map(|r| (r.error_code, None)),
    )?;
    Ok(see_other("/groups"))
}
