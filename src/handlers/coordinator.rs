//! FindCoordinator: on a single node every group and transactional ID is coordinated here; in a
//! cluster, by the leader of the internal topic partition that holds the key's records.
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
use crate::security::acl::AclOperation;

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub async fn find_coordinator(
    ctx: &RequestContext,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let broker = &ctx.broker;
    let key_type_error = !matches!(request.key_type, GROUP | TRANSACTION);
    // Kafka: DESCRIBE on the group or the transactional id.
    let authz = ctx.authz();
    let answer = |key: StrBytes| {
        let located = if key_type_error {
            Err(ResponseError::InvalidRequest)
        } else if request.key_type == GROUP && !authz.group(AclOperation::Describe, &key) {
            Err(ResponseError::GroupAuthorizationFailed)
        } else if request.key_type == TRANSACTION
            && !authz.transactional_id(AclOperation::Describe, &key)
        {
            Err(ResponseError::TransactionalIdAuthorizationFailed)
        } else {
            locate(broker, &ctx.listener.name, request.key_type, &key)
        };
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
            match located {
                Ok((node, host, port)) => Coordinator::default()
                    .with_key(key)
                    .with_node_id(BrokerId(node))
                    .with_host(str_bytes(host))
                    .with_port(port),
                Err(e) => Coordinator::default()
                    .with_key(key)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(e.code()),
            }
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

/// The broker that coordinates `key`: this one on a single node; in a cluster the leader of the
/// key's partition of `__consumer_offsets` or `__transaction_state` (created on first use).
fn locate(
    broker: &crate::broker::Broker,
    listener: &str,
    key_type: i8,
    key: &str,
) -> Result<(i32, String, i32), ResponseError> {
    if broker.cluster.is_none() {
        let (id, e, _) = broker.live_brokers(listener).swap_remove(0);
        return Ok((id, e.host, e.port));
    }
    use crate::coordinator::{group, txn};
    let (topic, partitions) = if key_type == GROUP {
        (
            group::OFFSETS_TOPIC,
            broker.config.offsets_topic_num_partitions,
        )
    } else {
        (
            txn::TXN_TOPIC,
            broker.config.transaction_state_log_num_partitions,
        )
    };
    crate::coordinator::ensure_internal_topic(broker, topic, partitions)
        .map_err(|_| ResponseError::CoordinatorNotAvailable)?;
    let index = if key_type == GROUP {
        group::records::partition_for(key, partitions)
    } else {
        txn::records::partition_for(key, partitions)
    };
    let image = broker.image();
    let leader = image
        .topic(topic)
        .and_then(|t| broker.partition_state(t, index))
        .map(|p| p.leader)
        .ok_or(ResponseError::CoordinatorNotAvailable)?;
    broker
        .live_brokers(listener)
        .into_iter()
        .find(|(id, _, _)| *id == leader)
        .map(|(id, e, _)| (id, e.host, e.port))
        .ok_or(ResponseError::CoordinatorNotAvailable)
}

/// NOT_COORDINATOR when a cluster node that does not lead the group's `__consumer_offsets`
/// partition gets a request for the group (a client with stale routing): it looks the
/// coordinator up again and goes there. COORDINATOR_LOAD_IN_PROGRESS while this node leads it
/// but has not loaded its groups yet (it just became leader): the client retries. Always `None`
/// on a single node.
pub(crate) fn not_coordinator(ctx: &RequestContext, group_id: &str) -> Option<i16> {
    let broker = &ctx.broker;
    broker.cluster.as_ref()?;
    let index = crate::coordinator::group::records::partition_for(
        group_id,
        broker.config.offsets_topic_num_partitions,
    );
    if broker
        .leader_partition(crate::coordinator::group::OFFSETS_TOPIC, index)
        .is_err()
    {
        Some(ResponseError::NotCoordinator.code())
    } else if !broker.groups.is_loaded(index) {
        Some(ResponseError::CoordinatorLoadInProgress.code())
    } else {
        None
    }
}
