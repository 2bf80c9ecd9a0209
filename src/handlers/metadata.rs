//! Metadata: brokers, controller, topics and partitions; auto-creates requested topics when
//! `auto.create.topics.enable` and the request allow it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, MetadataRequest,
    MetadataResponse,
};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::authz::{Authz, CLUSTER_OPERATIONS, TOPIC_OPERATIONS};
use super::{str_bytes, topic_name, topics};
use crate::metadata::{MetadataImage, TopicImage};
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};

pub async fn handle(ctx: &RequestContext, request: MetadataRequest) -> MetadataResponse {
    let broker = &ctx.broker;
    let version = ctx.api_version;
    let mut image = broker.image();
    // v0 has no null: an empty list means every topic.
    let all_topics = request.topics.is_none()
        || (version == 0 && request.topics.as_ref().is_some_and(Vec::is_empty));
    let allow_auto_create = (version < 4 || request.allow_auto_topic_creation)
        && broker.config.auto_create_topics_enable;

    // Kafka: a topic needs DESCRIBE to be seen (all-topics requests leave the others out),
    // and CREATE (on the cluster or the topic) to be auto-created.
    let authz = ctx.authz();
    let mut topics = Vec::new();
    if all_topics {
        for topic in image.topics.values() {
            if authz.topic(AclOperation::Describe, &topic.name) {
                topics.push(topic_metadata(ctx, &authz, topic, &request));
            }
        }
    } else {
        for requested in request.topics.iter().flatten() {
            let name = match &requested.name {
                Some(name) => name.0.to_string(),
                None => match image.topic_by_id(&requested.topic_id) {
                    Some(topic) => topic.name.clone(),
                    None => {
                        topics.push(
                            MetadataResponseTopic::default()
                                .with_topic_id(requested.topic_id)
                                .with_error_code(ResponseError::UnknownTopicId.code()),
                        );
                        continue;
                    }
                },
            };
            if !authz.topic(AclOperation::Describe, &name) {
                // By id: ids are not secret, so the id is named; by name: the name.
                let mut denied = MetadataResponseTopic::default()
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                if requested.name.is_some() {
                    denied.name = Some(topic_name(name));
                } else {
                    denied.topic_id = requested.topic_id;
                }
                topics.push(denied);
                continue;
            }
            if image.topic(&name).is_none()
                && allow_auto_create
                && !authz.cluster(AclOperation::Create)
                && !authz.topic(AclOperation::Create, &name)
            {
                topics.push(unknown(
                    &name,
                    ResponseError::TopicAuthorizationFailed.code(),
                ));
                continue;
            }
            if image.topic(&name).is_none() && allow_auto_create {
                match topics::auto_create(broker, &name) {
                    Ok(()) => image = broker.image(),
                    Err(e) => {
                        let code = e.code;
                        // A concurrent creation won the race: serve the topic.
                        if code != ResponseError::TopicAlreadyExists.code() {
                            topics.push(unknown(&name, code));
                            continue;
                        }
                        image = broker.image();
                    }
                }
            }
            match image.topic(&name) {
                Some(topic) => topics.push(topic_metadata(ctx, &authz, topic, &request)),
                None => {
                    let code = if crate::metadata::controller::validate_topic_name(&name).is_err() {
                        ResponseError::InvalidTopicException.code()
                    } else {
                        ResponseError::UnknownTopicOrPartition.code()
                    };
                    topics.push(unknown(&name, code));
                }
            }
        }
    }

    let brokers = broker
        .live_brokers(&ctx.listener.name)
        .into_iter()
        .map(|(id, endpoint, rack)| {
            let mut b = MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(str_bytes(endpoint.host))
                .with_port(endpoint.port);
            if version >= 1 {
                b.rack = rack.map(str_bytes);
            }
            b
        })
        .collect();
    let mut response = MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(str_bytes(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(broker.controller_id()))
        .with_topics(topics);
    if (8..=10).contains(&version) && request.include_cluster_authorized_operations {
        response.cluster_authorized_operations =
            authz.authorized_operations(ResourceType::Cluster, CLUSTER_NAME, CLUSTER_OPERATIONS);
    }
    response
}

fn unknown(name: &str, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(name)))
        .with_error_code(code)
}

fn topic_metadata(
    ctx: &RequestContext,
    authz: &Authz<'_>,
    topic: &TopicImage,
    request: &MetadataRequest,
) -> MetadataResponseTopic {
    let partitions = (0..topic.partitions)
        .filter_map(|index| {
            let state = ctx.broker.partition_state(topic, index)?;
            let ids = |v: &[i32]| v.iter().map(|&b| BrokerId(b)).collect::<Vec<_>>();
            let mut p = MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_leader_id(BrokerId(state.leader))
                .with_replica_nodes(ids(&state.replicas))
                .with_isr_nodes(ids(&state.isr));
            if ctx.api_version >= 7 {
                p.leader_epoch = state.leader_epoch;
            }
            (p.offline_replicas, p.leader_id) = offline_here(ctx, &topic.name, index, state.leader);
            if p.leader_id.0 == crate::metadata::NO_LEADER {
                p.error_code = ResponseError::LeaderNotAvailable.code();
            }
            Some(p)
        })
        .collect();
    let mut result = MetadataResponseTopic::default()
        .with_name(Some(topic_name(topic.name.clone())))
        .with_topic_id(topic.id)
        .with_is_internal(is_internal(&topic.name))
        .with_partitions(partitions);
    if ctx.api_version >= 8 && request.include_topic_authorized_operations {
        result.topic_authorized_operations =
            authz.authorized_operations(ResourceType::Topic, &topic.name, TOPIC_OPERATIONS);
    }
    result
}

pub fn is_internal(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}

/// Resolves a topic by name or (newer versions) ID; used by APIs that accept either.
pub fn resolve<'a>(
    image: &'a MetadataImage,
    name: Option<&str>,
    id: &Uuid,
) -> Option<&'a TopicImage> {
    match name {
        Some(name) if !name.is_empty() => image.topic(name),
        _ => image.topic_by_id(id),
    }
}

/// Kafka's `max.request.partition.size.limit`: the most partitions one DescribeTopicPartitions
/// answer carries; the rest come through the cursor.
const MAX_PARTITIONS_PER_RESPONSE: i32 = 2000;

/// DescribeTopicPartitions (KIP-966): what `kafka-topics.sh --describe` asks in Kafka 4, with
/// paging by cursor over topics sorted by name.
/// A replica on this broker whose log could not be opened (see `ReplicaManager::sync`) serves
/// nothing: it is offline, and if it was to lead, the partition has no leader. Returns the
/// offline replicas to report and the leader to report.
fn offline_here(
    ctx: &RequestContext,
    topic: &str,
    index: i32,
    leader: i32,
) -> (Vec<BrokerId>, BrokerId) {
    let node_id = ctx.broker.node_id;
    if !ctx.broker.replicas.is_offline(topic, index) {
        return (Vec::new(), BrokerId(leader));
    }
    let leader = if leader == node_id {
        crate::metadata::NO_LEADER
    } else {
        leader
    };
    (vec![BrokerId(node_id)], BrokerId(leader))
}

pub async fn describe_topic_partitions(
    ctx: &RequestContext,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    use kafka_protocol::messages::describe_topic_partitions_response as dtp;

    let image = ctx.broker.image();
    let authz = ctx.authz();
    let listing_all = request.topics.is_empty();
    let mut names: Vec<String> = if listing_all {
        // Kafka: listing leaves out the topics the principal may not DESCRIBE.
        image
            .topics
            .keys()
            .filter(|name| authz.topic(AclOperation::Describe, name))
            .cloned()
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.0.to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    let (start_topic, mut start_partition) = match &request.cursor {
        Some(cursor) => (
            Some(cursor.topic_name.0.to_string()),
            cursor.partition_index.max(0),
        ),
        None => (None, 0),
    };
    let mut budget = request
        .response_partition_limit
        .clamp(1, MAX_PARTITIONS_PER_RESPONSE);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names.iter().filter(|n| {
        start_topic
            .as_ref()
            .is_none_or(|s| n.as_str() >= s.as_str())
    }) {
        if !listing_all && !authz.topic(AclOperation::Describe, name) {
            topics.push(
                dtp::DescribeTopicPartitionsResponseTopic::default()
                    .with_name(Some(topic_name(name.clone())))
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code()),
            );
            continue;
        }
        let Some(topic) = image.topic(name) else {
            topics.push(
                dtp::DescribeTopicPartitionsResponseTopic::default()
                    .with_name(Some(topic_name(name.clone())))
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
            );
            continue;
        };
        if budget == 0 {
            next_cursor = Some(
                dtp::Cursor::default()
                    .with_topic_name(topic_name(name.clone()))
                    .with_partition_index(0),
            );
            break;
        }
        let first = std::mem::take(&mut start_partition);
        let last = (first + budget).min(topic.partitions);
        let partitions = (first..last)
            .filter_map(|index| {
                let state = ctx.broker.partition_state(topic, index)?;
                let ids = |v: &[i32]| v.iter().map(|&b| BrokerId(b)).collect::<Vec<_>>();
                let mut p = dtp::DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(index)
                    .with_leader_id(BrokerId(state.leader))
                    .with_leader_epoch(state.leader_epoch)
                    .with_replica_nodes(ids(&state.replicas))
                    .with_isr_nodes(ids(&state.isr))
                    .with_eligible_leader_replicas(Some(ids(&state.elr)))
                    .with_last_known_elr(Some(ids(&state.last_known_elr)));
                (p.offline_replicas, p.leader_id) = offline_here(ctx, name, index, state.leader);
                if p.leader_id.0 == crate::metadata::NO_LEADER {
                    p.error_code = ResponseError::LeaderNotAvailable.code();
                }
                Some(p)
            })
            .collect();
        budget -= last - first;
        topics.push(
            dtp::DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(topic_name(name.clone())))
                .with_topic_id(topic.id)
                .with_is_internal(is_internal(name))
                .with_partitions(partitions)
                .with_topic_authorized_operations(authz.authorized_operations(
                    ResourceType::Topic,
                    name,
                    TOPIC_OPERATIONS,
                )),
        );
        if last < topic.partitions {
            next_cursor = Some(
                dtp::Cursor::default()
                    .with_topic_name(topic_name(name.clone()))
                    .with_partition_index(last),
            );
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}
