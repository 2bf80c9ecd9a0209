//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3), earliest local (-4), and the
//! first offset at or after a timestamp, found through the time index. With isolation level
//! read_committed the end is the last stable offset instead of the high watermark. Version 0
//! (old clients) answers a list of segment start offsets instead, as Kafka 3.9 did.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use super::fetch::check_leader_epoch;
use crate::partition::manager::now_ms;
use crate::partition::Partition;
use crate::protocol::{errors, RequestContext};
use crate::security::acl::AclOperation;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const EARLIEST_PENDING_UPLOAD: i64 = -5;

pub async fn handle(ctx: &RequestContext, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let read_committed = request.isolation_level == 1;
    // v0 lets a consumer's answer stop at the high watermark; replicas and debuggers see the
    // log end (Kafka 3.9: `isFromConsumer`).
    let from_consumer = request.replica_id.0 == -1;
    let authz = ctx.authz();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            // Kafka: DESCRIBE on the topic.
            let denied = !authz.topic(AclOperation::Describe, &topic.name.0);
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1);
                    let partition = if denied {
                        Err(ResponseError::TopicAuthorizationFailed)
                    } else {
                        ctx.broker
                            .leader_partition(&topic.name.0, p.partition_index)
                    };
                    match partition {
                        Err(e) => response.with_error_code(e.code()),
                        Ok(partition) => {
                            match check_leader_epoch(
                                p.current_leader_epoch,
                                partition.leader_epoch(),
                            ) {
                                Some(code) => response.with_error_code(code),
                                None if ctx.api_version == 0 => legacy_lookup(
                                    &partition,
                                    p.timestamp,
                                    p.max_num_offsets,
                                    from_consumer,
                                    response,
                                ),
                                None => lookup(
                                    &partition,
                                    p.timestamp,
                                    response,
                                    ctx.api_version,
                                    read_committed,
                                ),
                            }
                        }
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// ListOffsets v0 (message format v0/v1 clients, dropped by Kafka 4): `max_num_offsets`
/// segment start offsets before a time, newest first, as Kafka 3.9 answered them
/// (`Partition::legacy_offsets_before`). Kafka 3.9.1 answers the special times of later
/// versions (-3 max timestamp, -4, -5) and any other negative time with UNSUPPORTED_VERSION,
/// and a negative count with UNKNOWN_SERVER_ERROR (an unexpected exception there); the same
/// codes here (compared with a Kafka 3.9.1 broker, FINDINGS.md finding 7).
fn legacy_lookup(
    partition: &Partition,
    timestamp: i64,
    max_num_offsets: i32,
    from_consumer: bool,
    response: ListOffsetsPartitionResponse,
) -> ListOffsetsPartitionResponse {
    if timestamp < 0 && timestamp != LATEST && timestamp != EARLIEST {
        return response.with_error_code(ResponseError::UnsupportedVersion.code());
    }
    let Ok(max) = usize::try_from(max_num_offsets) else {
        return response.with_error_code(ResponseError::UnknownServerError.code());
    };
    let offsets = partition.legacy_offsets_before(timestamp, max, from_consumer, now_ms());
    response.with_old_style_offsets(offsets)
}

fn lookup(
    partition: &Partition,
    timestamp: i64,
    response: ListOffsetsPartitionResponse,
    version: i16,
    read_committed: bool,
) -> ListOffsetsPartitionResponse {
    // A read_committed consumer sees the log up to the last stable offset only.
    let end = if read_committed {
        partition.last_stable_offset()
    } else {
        partition.high_watermark()
    };
    // The leader epoch field exists from v4 on; encoding it earlier fails.
    let epoch = if version >= 4 {
        partition.leader_epoch()
    } else {
        -1
    };
    let found = |offset: i64, ts: i64| {
        response
            .clone()
            .with_offset(offset)
            .with_timestamp(ts)
            .with_leader_epoch(epoch)
    };
    match timestamp {
        LATEST => found(end, -1),
        EARLIEST | EARLIEST_LOCAL => found(partition.log_start_offset(), -1),
        // No tiered storage: nothing is pending upload.
        EARLIEST_PENDING_UPLOAD => response,
        MAX_TIMESTAMP => match partition.max_timestamp() {
            Some((offset, ts)) => found(offset, ts),
            None => response,
        },
        target if target >= 0 => match partition.offset_for_timestamp(target) {
            Ok(Some((offset, ts))) if offset < end => found(offset, ts),
            Ok(_) => response,
            Err(e) => response.with_error_code(errors::log_error(&e).code),
        },
        _ => response.with_error_code(ResponseError::InvalidRequest.code()),
    }
}
