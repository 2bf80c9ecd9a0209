//! AlterUserScramCredentials (v0) and DescribeUserScramCredentials (v0): SCRAM users managed
//! with `kafka-configs.sh --entity-type users`, kept in the metadata log (Kafka's
//! UserScramCredentialRecord) so that they survive restarts and replicate with the controller.
//! Also DescribeClientQuotas, which `kafka-configs.sh --describe --entity-type users` sends
//! first: Milena enforces no client quotas and accepts none, so it always answers with none.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::metadata::controller::scram::{ScramDeletion, ScramUpsertion};
use crate::protocol::errors::{metadata_error, scram_alter_error};
use crate::protocol::RequestContext;
use crate::security::sasl::{ScramCredential, ScramMechanism};

pub async fn alter_user_scram_credentials(
    ctx: &RequestContext,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let deletions: Vec<ScramDeletion> = request
        .deletions
        .iter()
        .map(|d| ScramDeletion {
            name: d.name.as_str().to_string(),
            mechanism: d.mechanism,
        })
        .collect();
    // The salted password becomes the stored and server keys here, on the receiving broker;
    // only those travel on and reach the log.
    let upsertions: Vec<ScramUpsertion> = request
        .upsertions
        .iter()
        .map(|u| ScramUpsertion {
            name: u.name.as_str().to_string(),
            mechanism: u.mechanism,
            credential: ScramMechanism::from_wire_type(u.mechanism).map(|m| {
                ScramCredential::from_salted_password(m, &u.salt, &u.salted_password, u.iterations)
            }),
            iterations: u.iterations,
        })
        .collect();
    let users: Vec<String> = deletions
        .iter()
        .map(|d| d.name.clone())
        .chain(upsertions.iter().map(|u| u.name.clone()))
        .collect();
    let broker = &ctx.broker;
    let outcome = crate::cluster::off_async_workers(|| {
        broker
            .controller
            .alter_scram_credentials(deletions, upsertions)
    });
    let results = match outcome {
        Ok(results) => results
            .into_iter()
            .map(|r| {
                let mut result =
                    AlterUserScramCredentialsResult::default().with_user(str_bytes(r.user));
                if let Some(e) = r.error {
                    let error = scram_alter_error(&e);
                    result.error_code = error.code;
                    result.error_message = error.message.map(str_bytes);
                }
                result
            })
            .collect(),
        Err(e) => {
            let error = metadata_error(&e);
            let mut unique = users;
            unique.sort();
            unique.dedup();
            unique
                .into_iter()
                .map(|user| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(str_bytes(user))
                        .with_error_code(error.code)
                        .with_error_message(error.message.clone().map(str_bytes))
                })
                .collect()
        }
    };
    AlterUserScramCredentialsResponse::default().with_results(results)
}

pub async fn describe_user_scram_credentials(
    ctx: &RequestContext,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let image = ctx.broker.controller.image();
    // As Kafka's ScramImage.describe: no users named means every user with a credential;
    // a user named twice is answered once, with DUPLICATE_RESOURCE.
    let mut wanted: BTreeMap<String, bool> = BTreeMap::new();
    match request.users.as_deref() {
        None | Some([]) => {
            for user in image.scram_credentials.keys() {
                wanted.insert(user.clone(), false);
            }
        }
        Some(users) => {
            for u in users {
                let name = u.name.as_str().to_string();
                let duplicate = wanted.contains_key(&name);
                wanted.insert(name, duplicate);
            }
        }
    }
    let results = wanted
        .into_iter()
        .map(|(user, duplicate)| {
            let result = DescribeUserScramCredentialsResult::default().with_user(str_bytes(user.as_str()));
            if duplicate {
                return result
                    .with_error_code(ResponseError::DuplicateResource.code())
                    .with_error_message(Some(str_bytes(format!(
                        "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                    ))));
            }
            match image.scram_credentials.get(&user) {
                Some(by_mechanism) if !by_mechanism.is_empty() => result.with_credential_infos(
                    by_mechanism
                        .iter()
                        .map(|(m, c)| {
                            CredentialInfo::default()
                                .with_mechanism(m.wire_type())
                                .with_iterations(c.iterations)
                        })
                        .collect(),
                ),
                _ => result
                    .with_error_code(ResponseError::ResourceNotFound.code())
                    .with_error_message(Some(str_bytes(format!(
                        "Attempt to describe a user credential that does not exist: {user}"
                    )))),
            }
        })
        .collect();
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

pub async fn describe_client_quotas(
    _ctx: &RequestContext,
    _request: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    DescribeClientQuotasResponse::default().with_entries(Some(Vec::new()))
}
