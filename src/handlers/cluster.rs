//! DescribeCluster (the cluster ID, the controller and the brokers) and DescribeQuorum (the
//! metadata quorum, for `kafka-metadata-quorum.sh`).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::protocol::RequestContext;
use crate::security::acl::{ResourceType, CLUSTER_NAME};

/// DescribeCluster's endpoint types: brokers, or (KIP-919) controllers.
const BROKERS: i8 = 1;

pub async fn describe_cluster(
    ctx: &RequestContext,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let broker = &ctx.broker;
    let mut response = DescribeClusterResponse::default().with_endpoint_type(BROKERS);
    if request.include_cluster_authorized_operations {
        response.cluster_authorized_operations = ctx.authz().authorized_operations(
            ResourceType::Cluster,
            CLUSTER_NAME,
            super::authz::CLUSTER_OPERATIONS,
        );
    }
    if ctx.api_version >= 1 && request.endpoint_type != BROKERS {
        return response
            .with_error_code(ResponseError::UnsupportedEndpointType.code())
            .with_error_message(Some(str_bytes("The broker only serves broker endpoints")));
    }
    let brokers = broker
        .live_brokers(&ctx.listener.name)
        .into_iter()
        .map(|(id, endpoint, rack)| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(id))
                .with_host(str_bytes(endpoint.host))
                .with_port(endpoint.port)
                .with_rack(rack.map(str_bytes))
        })
        .collect();
    response
        .with_cluster_id(str_bytes(broker.cluster_id.clone()))
        .with_controller_id(BrokerId(broker.controller_id()))
        .with_brokers(brokers)
}

/// DescribeQuorum: the voters of the metadata quorum, its leader and each voter's progress in
/// the metadata log (`__cluster_metadata-0`), as the leader knows them. A single node is a
/// quorum of one, led by itself.
pub async fn describe_quorum(
    ctx: &RequestContext,
    _request: kafka_protocol::messages::DescribeQuorumRequest,
) -> kafka_protocol::messages::DescribeQuorumResponse {
    use kafka_protocol::messages::describe_quorum_response as dq;
    use kafka_protocol::messages::DescribeQuorumResponse;
    let broker = &ctx.broker;
    // Kafka: DESCRIBE on the cluster.
    if !ctx.authorize(
        crate::security::acl::AclOperation::Describe,
        ResourceType::Cluster,
        CLUSTER_NAME,
    ) {
        return DescribeQuorumResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let (status, nodes) = match &broker.cluster {
        None => (
            crate::cluster::raft::QuorumStatus {
                leader: Some(broker.node_id),
                term: 1,
                high_watermark: 0,
                voters: vec![crate::cluster::raft::VoterProgress {
                    id: broker.node_id,
                    log_end_offset: 0,
                    last_fetch_timestamp: crate::partition::manager::now_ms(),
                    last_caught_up_timestamp: crate::partition::manager::now_ms(),
                }],
            },
            Vec::new(),
        ),
        Some(node) => match node.quorum_status().await {
            Ok(status) => {
                let listener = node.controller_listener_name().to_string();
                let nodes = node
                    .voters()
                    .iter()
                    .map(|v| {
                        dq::Node::default()
                            .with_node_id(BrokerId(v.id))
                            .with_listeners(vec![dq::Listener::default()
                                .with_name(str_bytes(listener.clone()))
                                .with_host(str_bytes(v.host.clone()))
                                .with_port(v.port)])
                    })
                    .collect();
                (status, nodes)
            }
            Err(e) => {
                let mut response = DescribeQuorumResponse::default()
                    .with_error_code(ResponseError::RequestTimedOut.code());
                if ctx.api_version >= 2 {
                    response.error_message = Some(str_bytes(e.to_string()));
                }
                return response;
            }
        },
    };
    let voters = status
        .voters
        .iter()
        .map(|v| {
            let mut state = dq::ReplicaState::default()
                .with_replica_id(BrokerId(v.id))
                .with_log_end_offset(v.log_end_offset);
            if ctx.api_version >= 1 {
                state.last_fetch_timestamp = v.last_fetch_timestamp;
                state.last_caught_up_timestamp = v.last_caught_up_timestamp;
            }
            state
        })
        .collect();
    let partition = dq::PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(status.leader.unwrap_or(-1)))
        .with_leader_epoch(status.term as i32)
        .with_high_watermark(status.high_watermark)
        .with_current_voters(voters);
    let mut response = DescribeQuorumResponse::default()
        .with_topics(vec![dq::TopicData::default()
            .with_topic_name(super::topic_name("__cluster_metadata"))
            .with_partitions(vec![partition])]);
    if ctx.api_version >= 2 {
        response.nodes = nodes;
    }
    response
}
