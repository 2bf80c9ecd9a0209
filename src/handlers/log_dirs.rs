//! DescribeLogDirs: the one log directory and the size of each partition in it
//! (`kafka-log-dirs.sh --describe`).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use super::{str_bytes, topic_name};
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};

pub async fn describe_log_dirs(
    ctx: &RequestContext,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    // Kafka: DESCRIBE on the cluster; v3+ says why the answer is empty.
    if !ctx.authorize(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME) {
        let mut response = DescribeLogDirsResponse::default();
        if ctx.api_version >= 3 {
            response.error_code = kafka_protocol::ResponseError::ClusterAuthorizationFailed.code();
        }
        return response;
    }
    let wanted = |topic: &str, partition: i32| match &request.topics {
        None => true,
        Some(topics) => topics
            .iter()
            .any(|t| &*t.topic.0 == topic && t.partitions.contains(&partition)),
    };
    let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for partition in ctx.broker.replicas.all() {
        if wanted(&partition.topic, partition.index) {
            by_topic
                .entry(partition.topic.to_string())
                .or_default()
                .push(
                    DescribeLogDirsPartition::default()
                        .with_partition_index(partition.index)
                        .with_partition_size(partition.size_in_bytes() as i64),
                );
        }
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, mut partitions)| {
            partitions.sort_by_key(|p| p.partition_index);
            DescribeLogDirsTopic::default()
                .with_name(topic_name(name))
                .with_partitions(partitions)
        })
        .collect();
    let dir =
        std::fs::canonicalize(&ctx.broker.log_dir).unwrap_or_else(|_| ctx.broker.log_dir.clone());
    DescribeLogDirsResponse::default().with_results(vec![DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(dir.display().to_string()))
        .with_topics(topics)
        // Volume sizes are not measured yet; -1 is Kafka's "unknown".
        .with_total_bytes(-1)
        .with_usable_bytes(-1)])
}
