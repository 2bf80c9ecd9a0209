//! ApiVersions: the supported ranges from `protocol::apis::SUPPORTED`, and the KIP-511 answer to
//! a version newer than ours.

use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::metadata::features;
use crate::protocol::apis::SUPPORTED;
use crate::protocol::RequestContext;

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|s| {
            ApiVersion::default()
                .with_api_key(s.key as i16)
                .with_min_version(s.advertised_min)
                .with_max_version(s.max)
        })
        .collect()
}

pub async fn handle(ctx: &RequestContext, request: ApiVersionsRequest) -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default().with_api_keys(api_keys());
    if ctx.api_version >= 3 {
        // KIP-584: what `kafka-features.sh describe` prints, and how the Java client learns that
        // transactions V2 are on (finalized transaction.version ≥ 2).
        let image = ctx.broker.image();
        response.supported_features = features::SUPPORTED
            .iter()
            .map(|f| {
                SupportedFeatureKey::default()
                    .with_name(str_bytes(f.name))
                    .with_min_version(f.min)
                    .with_max_version(f.max)
            })
            .collect();
        response.finalized_features_epoch = image.records_applied;
        response.finalized_features = image
            .finalized_features()
            .into_iter()
            .map(|(name, level)| {
                FinalizedFeatureKey::default()
                    .with_name(str_bytes(name))
                    .with_min_version_level(level)
                    .with_max_version_level(level)
            })
            .collect();
    }
    if ctx.api_version >= 3
        && !(valid_software_field(&request.client_software_name)
            && valid_software_field(&request.client_software_version))
    {
        response.error_code = ResponseError::InvalidRequest.code();
    }
    response
}

/// The answer to an ApiVersions version we do not speak: encoded as v0, listing only
/// ApiVersions' own range, as Kafka answers (the client retries with a version in it).
pub fn unsupported_version() -> ApiVersionsResponse {
    let own = api_keys()
        .into_iter()
        .filter(|k| k.api_key == ApiKey::ApiVersions as i16)
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(own)
}

/// KIP-511: alphanumerics, '-' and '.', starting and ending with an alphanumeric.
fn valid_software_field(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
}
