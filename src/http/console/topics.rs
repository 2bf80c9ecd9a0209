//! `/topics` and `/topics/{name}`: the topics, their partitions and configs; create, delete and
//! config changes, each through the Kafka handler of the same request (ACLs: `access`).

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    CreateTopicsRequest, DeleteTopicsRequest, IncrementalAlterConfigsRequest,
};
use maud::html;
use serde::Deserialize;

use super::layout::{self, segment, Nav};
use super::{
    kafka_outcome, parse_number, see_other, Access, ConsoleError, Named, PageResult, Posted,
    Writable,
};
use crate::broker::Broker;
use crate::config::topic::describe_topic_configs;
use crate::handlers::{str_bytes, topic_name};
use crate::metadata::TopicImage;
use crate::security::acl::{AclOperation, ResourceType};

/// What this node holds of a topic's partitions: bytes on disk and records (high watermark minus
/// log start offset, as Kafka's tools count them). `None` when it hosts none of them.
fn hosted_totals(b: &Broker, topic: &TopicImage) -> Option<(u64, i64)> {
    let mut totals = None;
    for index in 0..topic.partitions {
        if let Some(p) = b.replicas.get(&topic.name, index) {
            let (size, messages) = totals.get_or_insert((0u64, 0i64));
            *size += p.size_in_bytes();
            *messages += (p.high_watermark() - p.log_start_offset()).max(0);
        }
    }
    totals
}

pub(super) async fn list(access: Access) -> PageResult {
    let b = &access.broker;
    let image = b.image();
    // As Metadata does: topics the viewer may not DESCRIBE are left out.
    let authz = access.authz();
    let topics: Vec<&TopicImage> = image
        .topics
        .values()
        .filter(|t| authz.topic(AclOperation::Describe, &t.name))
        .collect();
    let may_create = access.may_create_topics();
    let body = html! {
        table #topics {
            thead { tr {
                th { "Topic" } th.num { "Partitions" } th.num { "Replication" }
                th.num { "Size" } th.num { "Messages" }
            } }
            tbody {
                @for t in &topics {
                    @let replication = b.partition_state(t, 0).map_or(0, |s| s.replicas.len());
                    @let totals = hosted_totals(b, t);
                    tr {
                        td {
                            a href={ "/topics/" (segment(&t.name)) } { (t.name) }
                            @if crate::handlers::metadata::is_internal(&t.name) { " " span.tag { "internal" } }
                        }
                        td.num { (t.partitions) }
                        td.num { (replication) }
                        td.num { (totals.map_or("—".into(), |(s, _)| layout::bytes(s))) }
                        td.num { (totals.map_or("—".into(), |(_, m)| m.to_string())) }
                    }
                }
            }
        }
        @if topics.is_empty() { p.note { "No topics yet (or none you may describe)." } }
        @if may_create {
            h2 { "Create a topic" }
            form.stack #create-topic method="post" action="/topics" {
                label { "Name " input name="name" required maxlength="249" pattern="[a-zA-Z0-9._\\-]+"; }
                label { "Partitions " input name="partitions" type="number" min="1" placeholder={ "default " (b.config.num_partitions) }; }
                label { "Replication factor " input name="replication_factor" type="number" min="1" placeholder={ "default " (b.config.default_replication_factor) }; }
                label { "Configs (one key=value a line) " textarea name="configs" rows="3" placeholder="retention.ms=86400000" {} }
                button type="submit" { "Create topic" }
            }
        }
    };
    Ok(layout::render_with(
        "Topics",
        Nav::Topics,
        access.login(),
        body,
    ))
}

pub(super) async fn detail(access: Access, Named(name): Named) -> PageResult {
    let b = &access.broker;
    // Before the existence check, as Kafka answers TOPIC_AUTHORIZATION_FAILED for a topic the
    // client may not describe whether it exists or not.
    access.require(AclOperation::Describe, ResourceType::Topic, &name)?;
    let image = b.image();
    let topic = image
        .topic(&name)
        .ok_or_else(|| ConsoleError::not_found(format!("There is no topic named '{name}'.")))?;
    let authz = access.authz();
    let (may_describe_configs, may_alter_configs, may_delete) = (
        authz.topic(AclOperation::DescribeConfigs, &name),
        authz.topic(AclOperation::AlterConfigs, &name),
        authz.topic(AclOperation::Delete, &name),
    );
    let configs = if may_describe_configs {
        describe_topic_configs(&topic.configs, &b.config)
    } else {
        Vec::new()
    };
    let link = segment(&topic.name);
    let body = html! {
        p.note {
            "Topic id " code { (topic.id) } ". "
            a href={ "/topics/" (link) "/messages" } { "Browse messages" }
        }
        h2 { "Partitions" }
        table #partitions {
            thead { tr {
                th.num { "Partition" } th.num { "Leader" } th { "Replicas" } th { "ISR" }
                th.num { "Log start" } th.num { "High watermark" } th.num { "Log end" } th.num { "Size" }
            } }
            tbody {
                @for index in 0..topic.partitions {
                    @let placement = b.partition_state(topic, index).unwrap_or_default();
                    @let hosted = b.replicas.get(&topic.name, index);
                    tr {
                        td.num { a href={ "/topics/" (link) "/messages?partition=" (index) } { (index) } }
                        td.num { @if placement.leader < 0 { "none" } @else { (placement.leader) } }
                        td { (layout::ids(&placement.replicas)) }
                        td class=[(placement.isr.len() < placement.replicas.len()).then_some("warn")] {
                            (layout::ids(&placement.isr))
                        }
                        @if let Some(p) = hosted {
                            td.num { (p.log_start_offset()) }
                            td.num { (p.high_watermark()) }
                            td.num { (p.log_end_offset()) }
                            td.num { (layout::bytes(p.size_in_bytes())) }
                        } @else {
                            td.num colspan="4" { "not hosted on this node" }
                        }
                    }
                }
            }
        }
        h2 { "Configs" }
        @if !may_describe_configs {
            p.note #configs-denied { "Not shown: " (access.principal()) " may not DESCRIBE_CONFIGS this topic." }
        }
        @if may_alter_configs {
            form.inline #alter-config method="post" action={ "/topics/" (link) "/config" } {
                label { "Config " input name="name" list="config-names" required; }
                datalist #config-names { @for c in &configs { option value=(c.name) {} } }
                label { "Value " input name="value"; }
                button type="submit" name="operation" value="set" { "Set" }
                button type="submit" name="operation" value="delete" { "Reset to default" }
            }
        }
        table #configs {
            thead { tr { th { "Name" } th { "Value" } th { "Source" } } }
            tbody {
                @for c in &configs {
                    tr class=[(c.source == crate::config::ConfigSource::DynamicTopic).then_some("override")] {
                        td { code { (c.name) } }
                        td { (c.value.as_deref().unwrap_or("")) }
                        td { (source_name(c.source)) }
                    }
                }
            }
        }
        @if may_delete {
            h2 { "Delete" }
            form.inline #delete-topic method="post" action={ "/topics/" (link) "/delete" } {
                label { "Type the topic's name to delete it and all its records: "
                    input name="confirm" required autocomplete="off"; }
                button.danger type="submit" { "Delete topic" }
            }
        }
    };
    Ok(layout::render_with(
        &format!("Topic {name}"),
        Nav::Topics,
        access.login(),
        body,
    ))
}

/// The config source as DescribeConfigs names it.
fn source_name(source: crate::config::ConfigSource) -> &'static str {
    use crate::config::ConfigSource::*;
    match source {
        DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        StaticBroker => "STATIC_BROKER_CONFIG",
        Default => "DEFAULT_CONFIG",
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    partitions: String,
    #[serde(default)]
    replication_factor: String,
    #[serde(default)]
    configs: String,
}

pub(super) async fn create(
    Writable(access): Writable,
    Posted(form): Posted<CreateForm>,
) -> PageResult {
    let name = form.name.trim().to_string();
    access.require_create_topic(&name)?;
    let partitions: i32 = parse_number("partitions", &form.partitions)?.unwrap_or(-1);
    let replication: i16 =
        parse_number("replication factor", &form.replication_factor)?.unwrap_or(-1);
    let mut configs = Vec::new();
    for line in form
        .configs
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let Some((key, value)) = line.split_once('=') else {
            return Err(ConsoleError::bad_request(format!(
                "configs: '{line}' is not key=value"
            )));
        };
        configs.push(
            CreatableTopicConfig::default()
                .with_name(str_bytes(key.trim()))
                .with_value(Some(str_bytes(value.trim()))),
        );
    }
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(name.clone()))
            .with_num_partitions(partitions)
            .with_replication_factor(replication)
            .with_configs(configs)]);
    let ctx = access.context(7);
    let response = crate::handlers::topics::create_topics(&ctx, request).await;
    kafka_outcome(
        || format!("Creating topic '{name}'"),
        (response.topics.iter()).map(|r| (r.error_code, r.error_message.as_deref())),
    )?;
    Ok(see_other(&format!("/topics/{}", segment(&name))))
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

pub(super) async fn delete(
    Writable(access): Writable,
    Named(name): Named,
    Posted(form): Posted<DeleteForm>,
) -> PageResult {
    access.require(AclOperation::Delete, ResourceType::Topic, &name)?;
    if form.confirm.trim() != name {
        return Err(ConsoleError::bad_request(format!(
            "Not deleted: type the topic's name ('{name}') to confirm."
        )));
    }
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic_name(name.clone())))
        ]);
    let ctx = access.context(6);
    let response = crate::handlers::topics::delete_topics(&ctx, request).await;
    kafka_outcome(
        || format!("Deleting topic '{name}'"),
        (response.responses.iter()).map(|r| (r.error_code, r.error_message.as_deref())),
    )?;
    Ok(see_other("/topics"))
}

#[derive(Debug, Deserialize)]
pub(super) struct ConfigForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    operation: String,
}

/// IncrementalAlterConfigs resource type of a topic.
const TOPIC_RESOURCE: i8 = 2;

pub(super) async fn alter_config(
    Writable(access): Writable,
    Named(topic): Named,
    Posted(form): Posted<ConfigForm>,
) -> PageResult {
    access.require(AclOperation::AlterConfigs, ResourceType::Topic, &topic)?;
    if access.broker.image().topic(&topic).is_none() {
        return Err(ConsoleError::not_found(format!(
            "There is no topic named '{topic}'."
        )));
    }
    // IncrementalAlterConfigs operations: 0 SET, 1 DELETE.
    let (operation, value) = match form.operation.as_str() {
        "set" => (0, Some(str_bytes(form.value.trim()))),
        "delete" => (1, None),
        other => {
            return Err(ConsoleError::bad_request(format!(
                "unknown config operation '{other}'"
            )))
        }
    };
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(str_bytes(topic.clone()))
            .with_configs(vec![AlterableConfig::default()
                .with_name(str_bytes(form.name.trim()))
                .with_config_operation(operation)
                .with_value(value)]),
    ]);
    let ctx = access.context(1);
    let response = crate::handlers::configs::incremental_alter_configs(&ctx, request).await;
    kafka_outcome(
        || format!("Changing {} of topic '{topic}'", form.name.trim()),
        (response.responses.iter()).map(|r| (r.error_code, r.error_message.as_deref())),
    )?;
    Ok(see_other(&format!("/topics/{}", segment(&topic))))
}
