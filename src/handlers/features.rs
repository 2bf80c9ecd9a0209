//! UpdateFeatures (`kafka-features.sh upgrade|downgrade|disable`): validated and written by the
//! controller as FeatureLevel records, all or none. `kafka-features.sh describe` reads
//! ApiVersions' supported and finalized features (handlers/api_versions.rs).
//!
//! As Kafka's controller: one refused update refuses the request, with INVALID_UPDATE_VERSION
//! and "The update failed for all features since the following feature had an error: ..."
//! at the top level (v2 answers only that) and for each feature (v0 and v1).

use kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::metadata::features::FeatureUpdate;
use crate::protocol::{errors, RequestContext};
use crate::security::acl::{AclOperation, ResourceType};

pub async fn update_features(
    ctx: &RequestContext,
    request: UpdateFeaturesRequest,
) -> UpdateFeaturesResponse {
    let names: Vec<_> = request
        .feature_updates
        .iter()
        .map(|u| u.feature.clone())
        .collect();
    let answer = |code: i16, message: Option<String>| {
        let mut response = UpdateFeaturesResponse::default()
            .with_error_code(code)
            .with_error_message(message.clone().map(str_bytes));
        if ctx.api_version < 2 {
            response.results = names
                .iter()
                .map(|name| {
                    UpdatableFeatureResult::default()
                        .with_feature(name.clone())
                        .with_error_code(code)
                        .with_error_message(message.clone().map(str_bytes))
                })
                .collect();
        }
        response
    };
    // Kafka: ALTER on the cluster.
    if !ctx.authorize(AclOperation::Alter, ResourceType::Cluster, "kafka-cluster") {
        return answer(ResponseError::ClusterAuthorizationFailed.code(), None);
    }
    let mut updates = Vec::with_capacity(request.feature_updates.len());
    for u in &request.feature_updates {
        // v0 has only allow_downgrade (a safe downgrade when set).
        let upgrade_type = if ctx.api_version == 0 {
            if u.allow_downgrade {
                2
            } else {
                1
            }
        } else {
            u.upgrade_type
        };
        if u.max_version_level < 0 {
            return answer(
                ResponseError::InvalidRequest.code(),
                Some(format!(
                    "Invalid update version {} for feature {}: a level cannot be negative.",
                    u.max_version_level, u.feature
                )),
            );
        }
        if updates
            .iter()
            .any(|x: &FeatureUpdate| *x.name == *u.feature)
        {
            return answer(
                ResponseError::InvalidRequest.code(),
                Some(format!("Feature {} appears more than once.", u.feature)),
            );
        }
        updates.push(FeatureUpdate {
            name: u.feature.to_string(),
            level: u.max_version_level,
            upgrade_type,
        });
    }
    let broker = &ctx.broker;
    let validate_only = ctx.api_version >= 1 && request.validate_only;
    let result = crate::cluster::off_async_workers(|| {
        broker.controller.update_features(updates, validate_only)
    });
    match result {
        Ok(()) => answer(0, None),
        Err(e) => {
            let error = errors::metadata_error(&e);
            let message = error.message.map(|m| {
                if error.code == ResponseError::InvalidUpdateVersion.code() {
                    format!(
                        "The update failed for all features since the following feature had \
                         an error: {m}"
                    )
                } else {
                    m
                }
            });
            answer(error.code, message)
        }
    }
}
