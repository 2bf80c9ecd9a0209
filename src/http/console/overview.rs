//! `/`: the cluster at a glance, and `/console/stats`, the counters its live charts poll.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::{self, Nav};
use super::Access;
use crate::http::HttpState;
use crate::metadata::PartitionState;
use crate::security::acl::AclOperation;

/// One broker row.
struct BrokerRow {
    id: i32,
    endpoint: String,
    rack: Option<String>,
    status: &'static str,
}

/// Brokers are shown to every viewer (Metadata returns them to any client); topic, partition
/// and group counts only include what the viewer may describe.
pub(super) async fn page(access: Access) -> Response {
    let b = &access.broker;
    let image = b.image();
    let authz = access.authz();
    let controller = b.controller_id();
    let brokers: Vec<BrokerRow> = if b.cluster.is_none() {
        vec![BrokerRow {
            id: b.node_id,
            endpoint: format!("{}:{}", b.advertised.host, b.advertised.port),
            rack: None,
            status: "up",
        }]
    } else {
        image
            .brokers
            .values()
            .map(|r| BrokerRow {
                id: r.id,
                endpoint: r
                    .endpoint()
                    .map(|e| format!("{}:{}", e.host, e.port))
                    .unwrap_or_default(),
                rack: r.rack.clone(),
                status: if r.fenced { "fenced" } else { "up" },
            })
            .collect()
    };
    let live = |id: i32| {
        if b.cluster.is_none() {
            id == b.node_id
        } else {
            image.is_live(id)
        }
    };
    let (mut partitions, mut under_replicated, mut offline) = (0usize, 0usize, 0usize);
    let local = PartitionState::local(b.node_id);
    let mut topics = 0usize;
    for topic in image.topics.values() {
        if !authz.topic(AclOperation::Describe, &topic.name) {
            continue;
        }
        topics += 1;
        for index in 0..topic.partitions {
            let state = topic.placement.get(&index).unwrap_or(&local);
            partitions += 1;
            if state.leader < 0 || !live(state.leader) {
                offline += 1;
            } else if state.isr.len() < state.replicas.len() {
                under_replicated += 1;
            }
        }
    }
    let all_groups = authz.cluster(AclOperation::Describe);
    let groups = b
        .groups
        .views()
        .iter()
        .filter(|v| all_groups || authz.group(AclOperation::Describe, &v.group_id))
        .count();
    let mode = if b.cluster.is_some() {
        "cluster"
    } else {
        "single node"
    };
    let body = html! {
        section.cards {
            div.card { span.n { (brokers.len()) } span { "brokers" } }
            div.card { span.n { (topics) } span { "topics" } }
            div.card { span.n { (partitions) } span { "partitions" } }
            div.card.warn[under_replicated > 0] {
                span.n #under-replicated { (under_replicated) } span { "under-replicated" }
            }
            div.card.warn[offline > 0] { span.n { (offline) } span { "offline" } }
            div.card { span.n { (groups) } span { "consumer groups here" } }
        }
        h2 { "Throughput" }
        p.note { "Rates of this node, refreshed every 2 seconds." }
        section.charts {
            @for (id, label) in [
                ("bytes_in", "Bytes in/s"),
                ("bytes_out", "Bytes out/s"),
                ("messages_in", "Messages in/s"),
                ("requests", "Requests/s"),
            ] {
                figure.chart data-series=(id) {
                    figcaption { (label) ": " span.rate { "…" } }
                    svg viewBox="0 0 300 80" preserveAspectRatio="none" {}
                }
            }
        }
        h2 { "Brokers" }
        p.note {
            (mode) ", cluster id " code { (b.cluster_id) } ", this console on node " (b.node_id)
            ", active controller: node " (controller) "."
        }
        table #brokers {
            thead { tr { th { "Node" } th { "Endpoint" } th { "Rack" } th { "Status" } th { "Role" } } }
            tbody {
                @for r in &brokers {
                    tr {
                        td { (r.id) @if r.id == b.node_id { " (this console)" } }
                        td { (r.endpoint) }
                        td { (r.rack.as_deref().unwrap_or("—")) }
                        td class=(r.status) { (r.status) }
                        td { @if r.id == controller { "controller, broker" } @else { "broker" } }
                    }
                }
            }
        }
    };
    layout::render_with("Overview", Nav::Overview, access.login(), body)
}

/// Cumulative counters of this node, as JSON; the overview's script turns them into rates.
pub(super) async fn stats(State(state): State<Arc<HttpState>>) -> Response {
    let b = &state.broker;
    let (mut bytes_in, mut bytes_out, mut messages_in) = (0u64, 0u64, 0u64);
    for p in b.replicas.all() {
        bytes_in += p.counters.bytes_in.load(Relaxed);
        bytes_out += p.counters.bytes_out.load(Relaxed);
        messages_in += p.counters.messages_in.load(Relaxed);
    }
    let requests: u64 = b.metrics.request_counts().iter().map(|&(_, _, n)| n).sum();
    let body = serde_json::json!({
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "messages_in": messages_in,
        "requests": requests,
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}
