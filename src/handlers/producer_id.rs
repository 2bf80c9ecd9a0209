//! InitProducerId for idempotent producers. Transactional IDs need the transaction coordinator
//! (not built yet): they get UNSUPPORTED_VERSION, which the Java client reports as "transactions
//! are not supported by the broker" instead of retrying forever.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use crate::protocol::{errors, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match request.transactional_id.as_deref().map(|id| id.as_str()) {
        // Kafka refuses an empty transactional ID outright.
        Some("") => return response.with_error_code(ResponseError::InvalidRequest.code()),
        Some(_) => return response.with_error_code(ResponseError::UnsupportedVersion.code()),
        None => {}
    }
    // Without a transactional ID Kafka always hands out a fresh producer ID, even when the
    // producer names its old one (KIP-360 epoch bumps only apply to transactional producers).
    match ctx.broker.controller.allocate_producer_id() {
        Ok(id) => response
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "could not allocate a producer id");
            response.with_error_code(errors::metadata_error(&e).code)
        }
    }
}
