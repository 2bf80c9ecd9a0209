//! InitProducerId. Without a transactional ID every call gets a fresh producer ID (idempotent
//! producers). With one, the transaction coordinator answers: the ID's producer ID and a bumped
//! epoch, fencing any older instance of the producer (see `coordinator::txn`).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use crate::protocol::{errors, RequestContext};
use crate::security::acl::{AclOperation, ResourceType};

pub async fn handle(
    ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let broker = &ctx.broker;
    // Kafka: WRITE on the transactional id; an idempotent producer needs IDEMPOTENT_WRITE on
    // the cluster or WRITE on some topic.
    let authz = ctx.authz();
    match request.transactional_id.as_deref().map(|id| id.as_str()) {
        Some(id) if !id.is_empty() && !authz.transactional_id(AclOperation::Write, id) => {
            return response
                .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
        }
        None if !authz.cluster(AclOperation::IdempotentWrite)
            && !authz.allows_any(AclOperation::Write, ResourceType::Topic) =>
        {
            return response.with_error_code(ResponseError::ClusterAuthorizationFailed.code());
        }
        _ => {}
    }
    match request.transactional_id.as_deref().map(|id| id.as_str()) {
        // Kafka refuses an empty transactional ID outright.
        Some("") => response.with_error_code(ResponseError::InvalidRequest.code()),
        Some(id) => {
            // v3+: a restarting producer names its id and epoch (KIP-360).
            let expected = (ctx.api_version >= 3 && request.producer_id.0 >= 0)
                .then_some((request.producer_id.0, request.producer_epoch));
            let result = super::may_fsync(ctx, || {
                broker
                    .txns
                    .init_producer_id(broker, id, request.transaction_timeout_ms, expected)
            });
            match result {
                Ok((pid, epoch)) => response
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch),
                Err(code) => response.with_error_code(errors::producer_fenced_compat(
                    code,
                    ctx.api_version,
                    4,
                )),
            }
        }
        // Without a transactional ID Kafka always hands out a fresh producer ID, even when the
        // producer names its old one (KIP-360 epoch bumps only apply to transactional producers).
        None => match broker.controller.allocate_producer_id() {
            Ok(id) => response
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(0),
            Err(e) => {
                tracing::error!(error = %e, "could not allocate a producer id");
                response.with_error_code(errors::metadata_error(&e).code)
            }
        },
    }
}
