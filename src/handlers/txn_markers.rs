//! WriteTxnMarkers (broker to broker): a transaction coordinator on another broker asks this
//! one, the leader of some of the transaction's partitions, to write its commit or abort
//! markers there (Kafka's TransactionMarkerChannelManager sends them). A marker in
//! `__consumer_offsets` also settles the transaction's pending offset commits. The answer comes
//! once the markers are replicated to the ISR, as Kafka writes them with acks=all; the
//! coordinator retries whatever failed.

use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use crate::coordinator::group::OFFSETS_TOPIC;
use crate::log::builder::ControlType;
use crate::partition::manager::now_ms;
use crate::protocol::{errors, RequestContext};

/// Kafka's transaction coordinator waits this long (request.timeout.ms) for a marker answer.
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(25);

pub async fn write_txn_markers(
    ctx: &RequestContext,
    request: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let broker = &ctx.broker;
    // Kafka: CLUSTER_ACTION on the cluster (only brokers write markers).
    let denied = !ctx.authorize(
        crate::security::acl::AclOperation::ClusterAction,
        crate::security::acl::ResourceType::Cluster,
        crate::security::acl::CLUSTER_NAME,
    );
    // Where each written marker's answer goes, and what it waits for.
    let mut written: Vec<(usize, usize, usize)> = Vec::new();
    let mut replicating: Vec<super::Replicating> = Vec::new();
    let mut markers = Vec::with_capacity(request.markers.len());
    for (m, marker) in request.markers.iter().enumerate() {
        let control = if marker.transaction_result {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let mut topics = Vec::with_capacity(marker.topics.len());
        for (t, topic) in marker.topics.iter().enumerate() {
            let name = topic.name.0.as_str();
            let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
            for (i, &index) in topic.partition_indexes.iter().enumerate() {
                let code = match broker.leader_partition(name, index) {
                    _ if denied => kafka_protocol::ResponseError::ClusterAuthorizationFailed.code(),
                    Err(e) => e.code(),
                    Ok(partition) => {
                        let appended = super::may_fsync(ctx, || {
                            partition.append_txn_marker(
                                marker.producer_id.0,
                                marker.producer_epoch,
                                control,
                                marker.coordinator_epoch,
                                now_ms(),
                            )
                        });
                        match appended {
                            Ok(info) => {
                                if name == OFFSETS_TOPIC {
                                    broker.groups.complete_txn(
                                        index,
                                        marker.producer_id.0,
                                        control == ControlType::Commit,
                                    );
                                }
                                written.push((m, t, i));
                                replicating.push(super::Replicating {
                                    leader_epoch: partition.leader_epoch(),
                                    required: info.last_offset + 1,
                                    partition,
                                });
                                0
                            }
                            Err(e) => errors::log_error(&e).code,
                        }
                    }
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions),
            );
        }
        markers.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(marker.producer_id)
                .with_topics(topics),
        );
    }
    let outcomes = super::replicated(&replicating, REPLICATION_TIMEOUT).await;
    for ((m, t, i), outcome) in written.into_iter().zip(outcomes) {
        if let Err(e) = outcome {
            markers[m].topics[t].partitions[i].error_code = e.code();
        }
    }
    WriteTxnMarkersResponse::default().with_markers(markers)
}
