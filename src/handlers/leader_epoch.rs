//! OffsetForLeaderEpoch (key 23): where a leader epoch ends in a partition's log.
//!
//! Consumers ask it to validate their position after a leader change (KIP-320): an epoch that
//! ends below the position means the log was truncated under them. Followers will ask it too
//! (the legacy truncation path); for now a request with a replica id is answered as a
//! consumer's, by the leader. Per partition, as Kafka's `Partition.lastOffsetForLeaderEpoch`:
//! the leader check, then the current-leader-epoch check (-1 skips it), then the epoch cache.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use kafka_protocol::ResponseError;

use super::fetch::check_leader_epoch;
use crate::protocol::RequestContext;
use crate::security::acl::AclOperation;

pub async fn handle(
    ctx: &RequestContext,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    // Kafka: a follower (v3+ with a replica id) needs CLUSTER_ACTION, then DESCRIBE per topic.
    let authz = ctx.authz();
    let cluster_denied = ctx.api_version >= 3
        && request.replica_id.0 >= 0
        && !authz.cluster(AclOperation::ClusterAction);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let denied = if cluster_denied {
                Some(ResponseError::ClusterAuthorizationFailed)
            } else if !authz.topic(AclOperation::Describe, &topic.topic.0) {
                Some(ResponseError::TopicAuthorizationFailed)
            } else {
                None
            };
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    // Defaults: UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
                    let response = EpochEndOffset::default().with_partition(p.partition);
                    if let Some(e) = denied {
                        return response.with_error_code(e.code());
                    }
                    let partition = match ctx.broker.leader_partition(&topic.topic.0, p.partition) {
                        Ok(partition) => partition,
                        Err(e) => return response.with_error_code(e.code()),
                    };
                    if let Some(code) =
                        check_leader_epoch(p.current_leader_epoch, partition.leader_epoch())
                    {
                        return response.with_error_code(code);
                    }
                    let end = partition.end_offset_for_epoch(p.leader_epoch);
                    response
                        .with_leader_epoch(end.leader_epoch)
                        .with_end_offset(end.end_offset)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
