//! CreateTopics, DeleteTopics and CreatePartitions (and Metadata's auto-creation). Each change
//! goes through the controller, then the hosted partitions are brought in line with it.
//!
//! A topic is created only if this broker could open the logs of all its partitions placed
//! here: otherwise (most likely the open-file budget is exhausted) the topic is deleted again
//! and the client gets KAFKA_STORAGE_ERROR, never a success for partitions that do not exist.
//! Partitions added by CreatePartitions cannot be taken back (Kafka's metadata has no record for
//! that): the topic gets KAFKA_STORAGE_ERROR and the new partitions stay offline, without a
//! leader in Metadata, until a later metadata change opens them.

use std::collections::{BTreeMap, HashMap, HashSet};

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::broker::Broker;
use crate::config::topic::describe_topic_configs;
use crate::metadata::controller::{NewTopic, TopicDefaults};
use crate::partition::manager::OpenFailure;
use crate::protocol::errors::KafkaError;
use crate::protocol::{errors, RequestContext};
use crate::security::acl::AclOperation;

fn topic_defaults(broker: &Broker) -> TopicDefaults {
    TopicDefaults {
        num_partitions: broker.config.num_partitions,
        replication_factor: broker.config.default_replication_factor,
    }
}

/// Creates a topic with the broker's defaults, as Metadata does for an unknown topic.
pub fn auto_create(broker: &Broker, name: &str) -> Result<(), KafkaError> {
    let topic = NewTopic {
        name: name.to_string(),
        num_partitions: -1,
        replication_factor: -1,
        assignments: vec![],
        configs: BTreeMap::new(),
    };
    broker
        .controller
        .create_topic(topic.with_defaults(&topic_defaults(broker)), false)
        .map_err(|e| errors::metadata_error(&e))?;
    if let Some(failed) = apply(broker).remove(name) {
        return Err(undo_create(broker, name, &failed));
    }
    tracing::info!(topic = name, "auto-created topic");
    Ok(())
}

/// Applies the metadata to the hosted partitions; returns by topic the partitions whose log
/// could not be opened (the manager has named each in the log).
/// Opening (creating) many partitions' files takes a while: it runs off the async workers, so
/// that produce and fetch on other topics go on meanwhile.
fn apply(broker: &Broker) -> HashMap<String, Vec<OpenFailure>> {
    let mut by_topic: HashMap<String, Vec<OpenFailure>> = HashMap::new();
    match crate::cluster::off_async_workers(|| broker.apply_metadata()) {
        Ok(failures) => {
            for f in failures {
                by_topic.entry(f.topic.clone()).or_default().push(f);
            }
        }
        Err(e) => tracing::error!(error = %e, "applying metadata to partition logs failed"),
    }
    by_topic
}

/// The error for partitions of `topic` whose logs could not be opened.
fn open_failure_error(broker: &Broker, topic: &str, failed: &[OpenFailure]) -> KafkaError {
    let first = failed.first().map(|f| &f.error);
    errors::partitions_not_opened(broker.node_id, topic, failed.len(), first)
}

/// Deletes a topic just created whose logs could not all be opened, so that nothing
/// half-created stays in the metadata, and says why to the client.
fn undo_create(broker: &Broker, topic: &str, failed: &[OpenFailure]) -> KafkaError {
    let error = open_failure_error(broker, topic, failed);
    match broker.controller.delete_topic(topic) {
        Ok(()) => {
            tracing::warn!(
                topic,
                partitions_not_opened = failed.len(),
                "topic not created: its partition logs could not all be opened"
            );
            if let Err(e) = broker.apply_metadata() {
                tracing::error!(error = %e, "applying metadata to partition logs failed");
            }
            broker.replicas.remove_unopened(failed);
        }
        Err(e) => {
            tracing::error!(topic, error = %e, "cannot delete a topic whose partition logs could not be opened; they stay offline");
        }
    }
    error
}

pub async fn create_topics(
    ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let broker = &ctx.broker;
    let defaults = topic_defaults(broker);
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = request
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .filter(|n| !seen.insert(n.clone()))
        .collect();
    let mut results = Vec::with_capacity(request.topics.len());
    let mut pending = Vec::new();
    // Kafka: CREATE on the cluster, else CREATE on each topic.
    let authz = ctx.authz();
    let cluster_create = authz.cluster(AclOperation::Create);
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let mut result = CreatableTopicResult::default()
            .with_name(topic.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if duplicates.contains(&name) {
            result.error_code = ResponseError::InvalidRequest.code();
            result.error_message = Some(str_bytes(format!(
                "Create topics request from client contains multiple entries for the following topics: {name}"
            )));
            results.push(result);
            continue;
        }
        if !cluster_create && !authz.topic(AclOperation::Create, &name) {
            result.error_code = ResponseError::TopicAuthorizationFailed.code();
            results.push(result);
            continue;
        }
        let mut configs = BTreeMap::new();
        let mut null_config = None;
        for config in &topic.configs {
            match &config.value {
                Some(value) => {
                    configs.insert(config.name.to_string(), value.to_string());
                }
                None => null_config = Some(config.name.to_string()),
            }
        }
        if let Some(key) = null_config {
            result.error_code = ResponseError::InvalidConfig.code();
            result.error_message = Some(str_bytes(format!(
                "Null value not supported for topic configs: {key}"
            )));
            results.push(result);
            continue;
        }
        let new_topic = NewTopic {
            name: name.clone(),
            num_partitions: topic.num_partitions,
            replication_factor: topic.replication_factor,
            assignments: topic
                .assignments
                .iter()
                .map(|a| {
                    (
                        a.partition_index,
                        a.broker_ids.iter().map(|b| b.0).collect(),
                    )
                })
                .collect(),
            configs,
        };
        // The replication factor the answer names: the request's, the default's, or the
        // explicit assignment's.
        let rf = match topic.assignments.first() {
            Some(a) => a.broker_ids.len() as i16,
            None if topic.replication_factor == -1 => defaults.replication_factor,
            None => topic.replication_factor,
        };
        result.replication_factor = rf;
        pending.push((results.len(), new_topic.with_defaults(&defaults)));
        results.push(result);
    }
    // One controller call for the request: a single node commits every topic with one fsync
    // of the metadata log, off the async workers.
    let (indexes, topics): (Vec<usize>, Vec<NewTopic>) = pending.into_iter().unzip();
    let created = crate::cluster::off_async_workers(|| {
        broker
            .controller
            .create_topics(topics, request.validate_only)
    });
    for (index, outcome) in indexes.into_iter().zip(created) {
        let result = &mut results[index];
        match outcome {
            Ok(created) => {
                result.topic_id = created.id;
                result.num_partitions = created.partitions;
                if ctx.api_version >= 5 {
                    result.configs = Some(
                        describe_topic_configs(&created.configs, &broker.config)
                            .into_iter()
                            .map(|entry| {
                                CreatableTopicConfigs::default()
                                    .with_name(str_bytes(entry.name))
                                    .with_value(entry.value.map(str_bytes))
                                    .with_read_only(entry.read_only)
                                    .with_config_source(entry.source as i8)
                                    .with_is_sensitive(entry.is_sensitive)
                            })
                            .collect(),
                    );
                }
                if !request.validate_only {
                    tracing::info!(topic = %result.name.0.as_str(), partitions = created.partitions, "created topic");
                }
            }
            Err(e) => {
                let error = errors::metadata_error(&e);
                result.replication_factor = -1;
                result.error_code = error.code;
                result.error_message = error.message.map(str_bytes);
            }
        }
    }
    if !request.validate_only {
        let mut failed = apply(broker);
        for result in &mut results {
            if result.error_code != errors::NONE {
                continue;
            }
            let Some(failures) = failed.remove(result.name.0.as_str()) else {
                continue;
            };
            let error = undo_create(broker, &result.name.0, &failures);
            *result = CreatableTopicResult::default()
                .with_name(result.name.clone())
                .with_num_partitions(-1)
                .with_replication_factor(-1)
                .with_error_code(error.code)
                .with_error_message(error.message.map(str_bytes));
        }
    }
    CreateTopicsResponse::default().with_topics(results)
}

pub async fn delete_topics(
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let broker = &ctx.broker;
    // v6 names topics by name or ID; older versions only by name.
    let targets: Vec<(Option<String>, uuid::Uuid)> = if ctx.api_version >= 6 {
        request
            .topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
            .collect()
    };
    let mut results = Vec::with_capacity(targets.len());
    let mut changed = false;
    // Kafka: DELETE on each topic; a name not allowed is refused before its existence shows.
    let authz = ctx.authz();
    for (name, id) in targets {
        let image = broker.image();
        let mut result = DeletableTopicResult::default()
            .with_name(name.clone().map(topic_name))
            .with_topic_id(id);
        if let Some(n) = name.as_deref().filter(|n| !n.is_empty()) {
            if !authz.topic(AclOperation::Delete, n) {
                result.error_code = ResponseError::TopicAuthorizationFailed.code();
                results.push(result);
                continue;
            }
        }
        let topic = super::metadata::resolve(&image, name.as_deref(), &id);
        let Some(topic) = topic else {
            result.error_code = if name.is_some() {
                ResponseError::UnknownTopicOrPartition.code()
            } else {
                ResponseError::UnknownTopicId.code()
            };
            results.push(result);
            continue;
        };
        if !authz.topic(AclOperation::Delete, &topic.name) {
            result.error_code = ResponseError::TopicAuthorizationFailed.code();
            results.push(result);
            continue;
        }
        result.name = Some(topic_name(topic.name.clone()));
        result.topic_id = topic.id;
        if !broker.config.delete_topic_enable {
            result.error_code = ResponseError::TopicDeletionDisabled.code();
            results.push(result);
            continue;
        }
        match broker.controller.delete_topic(&topic.name) {
            Ok(_) => {
                changed = true;
                tracing::info!(topic = %topic.name, "deleted topic");
            }
            Err(e) => {
                let error = errors::metadata_error(&e);
                result.error_code = error.code;
                result.error_message = error.message.map(str_bytes);
            }
        }
        results.push(result);
    }
    if changed {
        apply(broker);
        // The deleted topics' committed offsets go before the answer (on a cluster, every
        // coordinator also does it when the deletion reaches it).
        crate::cluster::off_async_workers(|| broker.sync_coordinators());
    }
    DeleteTopicsResponse::default().with_responses(results)
}

pub async fn create_partitions(
    ctx: &RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let broker = &ctx.broker;
    let mut results = Vec::with_capacity(request.topics.len());
    // Kafka: ALTER on each topic.
    let authz = ctx.authz();
    for topic in &request.topics {
        let mut result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
        if !authz.topic(AclOperation::Alter, &topic.name.0) {
            result.error_code = ResponseError::TopicAuthorizationFailed.code();
            results.push(result);
            continue;
        }
        if let Err(e) =
            broker
                .controller
                .create_partitions(&topic.name.0, topic.count, request.validate_only)
        {
            let error = errors::metadata_error(&e);
            result.error_code = error.code;
            result.error_message = error.message.map(str_bytes);
        }
        results.push(result);
    }
    if !request.validate_only {
        let failed = apply(broker);
        for result in &mut results {
            if result.error_code != errors::NONE {
                continue;
            }
            if let Some(failures) = failed.get(result.name.0.as_str()) {
                let error = open_failure_error(broker, &result.name.0, failures);
                result.error_code = error.code;
                result.error_message = error.message.map(str_bytes);
            }
        }
    }
    CreatePartitionsResponse::default().with_results(results)
}
