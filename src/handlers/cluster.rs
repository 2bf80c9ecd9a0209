//! DescribeCluster: the cluster ID, the controller and the brokers.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::protocol::RequestContext;

/// DescribeCluster's endpoint types: brokers, or (KIP-919) controllers.
const BROKERS: i8 = 1;

pub async fn describe_cluster(
    ctx: &RequestContext,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let broker = &ctx.broker;
    let response = DescribeClusterResponse::default().with_endpoint_type(BROKERS);
    if ctx.api_version >= 1 && request.endpoint_type != BROKERS {
        return response
            .with_error_code(ResponseError::UnsupportedEndpointType.code())
            .with_error_message(Some(str_bytes("The broker only serves broker endpoints")));
    }
    let brokers = broker
        .live_brokers()
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
