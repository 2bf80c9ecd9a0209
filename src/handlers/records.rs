//! DeleteRecords: moves each partition's log start offset forward (`kafka-delete-records.sh`).

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;

use crate::protocol::{errors, RequestContext};
use crate::security::acl::AclOperation;

pub async fn delete_records(
    ctx: &RequestContext,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    // Kafka: DELETE on each topic.
    let authz = ctx.authz();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let denied = !authz.topic(AclOperation::Delete, &topic.name.0);
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1);
                    if denied {
                        return result
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    let Some(partition) = ctx.broker.replicas.get(&topic.name.0, p.partition_index)
                    else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    // -1 means "up to the high watermark".
                    let target = if p.offset == -1 {
                        partition.high_watermark()
                    } else {
                        p.offset
                    };
                    if target < 0 || target > partition.high_watermark() {
                        return result.with_error_code(ResponseError::OffsetOutOfRange.code());
                    }
                    match partition.delete_records_before(target) {
                        Ok(low_watermark) => result.with_low_watermark(low_watermark),
                        Err(e) => result.with_error_code(errors::log_error(&e).code),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
