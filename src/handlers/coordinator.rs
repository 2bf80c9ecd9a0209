//! FindCoordinator: on a single node every group and transactional ID is coordinated here.
//!
//! Served before the coordinators themselves because clients use its presence for feature
//! detection: librdkafka only compresses with LZ4 when FindCoordinator is advertised. Group
//! and transaction APIs are advertised only once they are served, so clients that find this
//! broker as coordinator learn from ApiVersions what it can do.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::protocol::RequestContext;

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub async fn find_coordinator(
    ctx: &RequestContext,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let broker = &ctx.broker;
    let host = str_bytes(broker.advertised.host.clone());
    let port = broker.advertised.port;
    let node = BrokerId(broker.node_id);
    let key_type_error = !matches!(request.key_type, GROUP | TRANSACTION);
    let answer = |key: StrBytes| {
        if key_type_error {
            Coordinator::default()
                .with_key(key)
                .with_node_id(BrokerId(-1))
                .with_port(-1)
                .with_error_code(ResponseError::InvalidRequest.code())
                .with_error_message(Some(str_bytes(format!(
                    "Unsupported key type {}",
                    request.key_type
                ))))
        } else {
            Coordinator::default()
                .with_key(key)
                .with_node_id(node)
                .with_host(host.clone())
                .with_port(port)
        }
    };
    if ctx.api_version >= 4 {
        // v4+: a batch of keys, one answer each.
        let coordinators = request
            .coordinator_keys
            .iter()
            .cloned()
            .map(answer)
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let single = answer(request.key);
    let mut response = FindCoordinatorResponse::default()
        .with_error_code(single.error_code)
        .with_node_id(single.node_id)
        .with_host(single.host)
        .with_port(single.port);
    if ctx.api_version >= 1 {
        response.error_message = single.error_message;
    }
    response
}
