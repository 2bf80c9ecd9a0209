//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (and describing the
//! broker's static configs). DescribeConfigs returns the full set with defaults and sources, as
//! `kafka-topics.sh --describe` and `kafka-configs.sh --describe --all` print it.
//!
//! Dynamic broker configs are not supported yet: altering a BROKER resource gets INVALID_REQUEST,
//! with Kafka's message when a key is one Kafka cannot change dynamically either, else a message
//! saying so. The cluster-default BROKER resource (empty name) describes as empty: it lists only
//! dynamic defaults, and Milena has none.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::config::topic::{describe_broker_configs, describe_topic_configs, ConfigEntry};
use crate::metadata::controller::ConfigChange;
use crate::protocol::errors::{self, KafkaError};
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;

const GROUP: i8 = 32;

/// Kafka: DESCRIBE_CONFIGS / ALTER_CONFIGS on the topic, the group, or (brokers and their
/// loggers) the cluster; the error names which.
fn config_denied(
    ctx: &RequestContext,
    op: AclOperation,
    resource_type: i8,
    name: &str,
) -> Option<KafkaError> {
    let (allowed, error) = match resource_type {
        TOPIC => (
            ctx.authorize(op, ResourceType::Topic, name),
            ResponseError::TopicAuthorizationFailed,
        ),
        GROUP => (
            ctx.authorize(op, ResourceType::Group, name),
            ResponseError::GroupAuthorizationFailed,
        ),
        _ => (
            ctx.authorize(op, ResourceType::Cluster, CLUSTER_NAME),
            ResponseError::ClusterAuthorizationFailed,
        ),
    };
    (!allowed).then(|| KafkaError::new(error))
}

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

pub async fn describe_configs(
    ctx: &RequestContext,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let broker = &ctx.broker;
    let image = broker.image();
    let results = request
        .resources
        .iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            if let Some(e) = config_denied(
                ctx,
                AclOperation::DescribeConfigs,
                resource.resource_type,
                &resource.resource_name,
            ) {
                return result.with_error_code(e.code);
            }
            let entries = match resource.resource_type {
                TOPIC => match image.topic(&resource.resource_name) {
                    Some(topic) => describe_topic_configs(&topic.configs, &broker.config),
                    None => {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(Some(str_bytes(format!(
                                "Topic {} does not exist.",
                                &*resource.resource_name
                            ))))
                    }
                },
                BROKER => {
                    let name: &str = &resource.resource_name;
                    if !name.is_empty() && name != broker.node_id.to_string() {
                        return result
                            .with_error_code(ResponseError::InvalidRequest.code())
                            .with_error_message(Some(str_bytes(format!(
                                "Unexpected broker id, expected {} but received {name}",
                                broker.node_id
                            ))));
                    }
                    if name.is_empty() {
                        // The cluster-wide default resource lists only dynamic cluster
                        // defaults, as in Kafka; Milena has none.
                        Vec::new()
                    } else {
                        describe_broker_configs(&broker.config)
                    }
                }
                BROKER_LOGGER => Vec::new(),
                other => {
                    return result
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(str_bytes(format!(
                            "Unsupported resource type {other}"
                        ))))
                }
            };
            let keys = resource.configuration_keys.as_ref();
            let configs = entries
                .into_iter()
                .filter(|e| keys.is_none_or(|keys| keys.iter().any(|k| k.as_str() == e.name)))
                .map(|e| {
                    to_wire(
                        e,
                        ctx.api_version,
                        request.include_synonyms,
                        request.include_documentation,
                    )
                })
                .collect();
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn to_wire(
    entry: ConfigEntry,
    version: i16,
    synonyms: bool,
    documentation: bool,
) -> DescribeConfigsResourceResult {
    let mut result = DescribeConfigsResourceResult::default()
        .with_name(str_bytes(entry.name))
        .with_value(entry.value.map(str_bytes))
        .with_read_only(entry.read_only)
        .with_config_source(entry.source as i8)
        .with_is_sensitive(entry.is_sensitive);
    if synonyms {
        result.synonyms = entry
            .synonyms
            .into_iter()
            .map(|s| {
                DescribeConfigsSynonym::default()
                    .with_name(str_bytes(s.name))
                    .with_value(s.value.map(str_bytes))
                    .with_source(s.source as i8)
            })
            .collect();
    }
    if version >= 3 {
        result.config_type = entry.config_type;
        if documentation {
            result.documentation = Some(str_bytes(entry.documentation));
        }
    }
    result
}

/// A broker key Kafka knows and cannot change on a running broker (Kafka names these in its
/// error; keys it can change Milena cannot either yet, and says so).
fn is_read_only_broker_key(name: &str) -> bool {
    crate::config::broker_keys::broker_key(name).is_some_and(|k| !k.dynamic)
}

/// Applies `changes` to one resource and says how it went.
fn alter(
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    changes: Result<Vec<ConfigChange>, KafkaError>,
    replace_all: bool,
    validate_only: bool,
) -> Option<KafkaError> {
    if let Some(e) = config_denied(ctx, AclOperation::AlterConfigs, resource_type, name) {
        return Some(e);
    }
    match resource_type {
        TOPIC => {}
        BROKER => return Some(match &changes {
            Ok(changes) if changes.iter().any(|(k, _)| is_read_only_broker_key(k)) => {
                let keys: Vec<&str> = changes
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .filter(|k| is_read_only_broker_key(k))
                    .collect();
                KafkaError::with_message(
                    ResponseError::InvalidRequest,
                    format!(
                        "Cannot update these configs dynamically: Set({})",
                        keys.join(", ")
                    ),
                )
            }
            _ => KafkaError::with_message(
                ResponseError::InvalidRequest,
                "Milena does not support dynamic broker configs yet; set them in server.properties",
            ),
        }),
        BROKER_LOGGER => {
            return Some(KafkaError::with_message(
                ResponseError::InvalidRequest,
                "Milena does not support dynamic broker configs yet; set them in server.properties",
            ))
        }
        other => {
            return Some(KafkaError::with_message(
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            ))
        }
    }
    let changes = match changes {
        Ok(changes) => changes,
        Err(e) => return Some(e),
    };
    let broker = &ctx.broker;
    match broker
        .controller
        .alter_topic_configs(name, &changes, replace_all, validate_only)
    {
        Ok(()) => {
            if !validate_only {
                if let Err(e) = broker.apply_metadata() {
                    tracing::error!(error = %e, "applying topic configs failed");
                }
            }
            None
        }
        Err(e) => {
            let mut error = errors::metadata_error(&e);
            if error.code == ResponseError::UnknownTopicOrPartition.code() {
                error.message = Some(format!("Topic {name} does not exist."));
            }
            Some(error)
        }
    }
}

pub async fn alter_configs(
    ctx: &RequestContext,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let responses = request
        .resources
        .iter()
        .map(|resource| {
            let changes = Ok(resource
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect());
            let error = alter(
                ctx,
                resource.resource_type,
                &resource.resource_name,
                changes,
                true,
                request.validate_only,
            );
            let mut response = alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            if let Some(error) = error {
                response.error_code = error.code;
                response.error_message = error.message.map(str_bytes);
            }
            response
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn incremental_alter_configs(
    ctx: &RequestContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let image = ctx.broker.image();
    let responses = request
        .resources
        .iter()
        .map(|resource| {
            let current = image
                .topic(&resource.resource_name)
                .map(|t| describe_topic_configs(&t.configs, &ctx.broker.config))
                .unwrap_or_default();
            let changes = incremental_changes(&resource.configs, &current);
            let error = alter(
                ctx,
                resource.resource_type,
                &resource.resource_name,
                changes,
                false,
                request.validate_only,
            );
            let mut response =
                incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name.clone());
            if let Some(error) = error {
                response.error_code = error.code;
                response.error_message = error.message.map(str_bytes);
            }
            response
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// Turns SET/DELETE/APPEND/SUBTRACT operations into plain set-or-remove changes. APPEND and
/// SUBTRACT work on list configs (like `cleanup.policy`) starting from the effective value.
fn incremental_changes(
    configs: &[incremental_alter_configs_request::AlterableConfig],
    current: &[ConfigEntry],
) -> Result<Vec<ConfigChange>, KafkaError> {
    let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut changes = Vec::with_capacity(configs.len());
    for config in configs {
        let name = config.name.to_string();
        if values.contains_key(&name) {
            return Err(KafkaError::with_message(
                ResponseError::InvalidRequest,
                format!("Error due to duplicate config keys: {name}"),
            ));
        }
        let value = config.value.as_ref().map(|v| v.to_string());
        let change = match config.config_operation {
            SET => match value {
                Some(v) => Some(v),
                None => {
                    return Err(KafkaError::with_message(
                        ResponseError::InvalidConfig,
                        format!("Null value not supported for : {name}"),
                    ))
                }
            },
            DELETE => None,
            APPEND | SUBTRACT => {
                let entry = current.iter().find(|e| e.name == name);
                if entry.is_none_or(|e| e.config_type != 7) {
                    return Err(KafkaError::with_message(
                        ResponseError::InvalidConfig,
                        format!(
                            "Config value append/subtract is not allowed for config key: {name}"
                        ),
                    ));
                }
                let mut list: Vec<String> = entry
                    .and_then(|e| e.value.clone())
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                let operand: Vec<String> = value
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if config.config_operation == APPEND {
                    for item in operand {
                        if !list.contains(&item) {
                            list.push(item);
                        }
                    }
                } else {
                    list.retain(|item| !operand.contains(item));
                }
                Some(list.join(","))
            }
            other => {
                return Err(KafkaError::with_message(
                    ResponseError::InvalidRequest,
                    format!("Unknown config operation {other}"),
                ))
            }
        };
        values.insert(name.clone(), change.clone());
        changes.push((name, change));
    }
    Ok(changes)
}
