//! The transactional APIs: AddPartitionsToTxn (v0-3 the client form, v4-5 the broker form),
//! AddOffsetsToTxn,
//! EndTxn, TxnOffsetCommit, and the admin views DescribeTransactions, ListTransactions and
//! DescribeProducers. The state lives in the transaction coordinator and, for offsets, the
//! group coordinator; these functions translate.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::{self, TopicData};
use kafka_protocol::messages::list_transactions_response;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::coordinator::group::{CommitMember, OffsetEntry, OFFSETS_TOPIC};
use crate::coordinator::txn::records::TxnState;
use crate::partition::manager::now_ms;
use crate::protocol::{errors, RequestContext};
use crate::security::acl::{AclOperation, ResourceType};

pub async fn add_partitions_to_txn(
    ctx: &RequestContext,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if ctx.api_version >= 4 {
        return add_partitions_for_brokers(ctx, request);
    }
    let broker = &ctx.broker;
    let image = broker.image();
    let requested: Vec<(String, i32)> = request
        .v3_and_below_topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.name.0.to_string(), *p)))
        .collect();
    let unknown = |topic: &str, p: i32| {
        image
            .topic(topic)
            .is_none_or(|t| p < 0 || p >= t.partitions)
    };
    // Kafka refuses the whole request when any partition is unknown: those get
    // UNKNOWN_TOPIC_OR_PARTITION, the rest OPERATION_NOT_ATTEMPTED.
    let any_unknown = requested.iter().any(|(t, p)| unknown(t, *p));
    // Kafka: WRITE on the transactional id (else every partition fails), then WRITE on each
    // topic (the others are not attempted).
    let authz = ctx.authz();
    let txn_denied =
        !authz.transactional_id(AclOperation::Write, &request.v3_and_below_transactional_id);
    let topic_denied = |topic: &str| !authz.topic(AclOperation::Write, topic);
    let any_denied = txn_denied || requested.iter().any(|(t, _)| topic_denied(t));
    let result = if txn_denied {
        Some(ResponseError::TransactionalIdAuthorizationFailed.code())
    } else if any_denied || any_unknown {
        None
    } else {
        let done = super::may_fsync(ctx, || {
            broker.txns.add_partitions(
                broker,
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                &requested,
                0,
            )
        });
        Some(errors::producer_fenced_compat(
            done.err().unwrap_or(0),
            ctx.api_version,
            2,
        ))
    };
    let code_for = |topic: &str, p: i32| match result {
        Some(code) => code,
        None if any_denied && topic_denied(topic) => ResponseError::TopicAuthorizationFailed.code(),
        None if !any_denied && unknown(topic, p) => ResponseError::UnknownTopicOrPartition.code(),
        None => ResponseError::OperationNotAttempted.code(),
    };
    let results = partition_results(&request.v3_and_below_topics, code_for);
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

/// AddPartitionsToTxn v4+ (KIP-890): a partition leader verifies (`verify_only`) or, for a
/// transactions V2 producer, adds partitions of transactions this broker coordinates; several
/// transactions per request, a result per partition. Only brokers send it (CLUSTER_ACTION).
fn add_partitions_for_brokers(
    ctx: &RequestContext,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let broker = &ctx.broker;
    if !ctx.authorize(
        AclOperation::ClusterAction,
        ResourceType::Cluster,
        crate::security::acl::CLUSTER_NAME,
    ) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let results = request
        .transactions
        .iter()
        .map(|txn| {
            let id = txn.transactional_id.0.as_str();
            let requested: Vec<(String, i32)> = txn
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.name.0.to_string(), *p)))
                .collect();
            let coordinated = broker.txns.coordinates(broker, id);
            // A V2 producer's partitions are added at once; a verification asks per partition.
            let added = match coordinated {
                Ok(()) if !txn.verify_only => Some(
                    super::may_fsync(ctx, || {
                        broker.txns.add_partitions(
                            broker,
                            id,
                            txn.producer_id.0,
                            txn.producer_epoch,
                            &requested,
                            crate::coordinator::txn::TV_2,
                        )
                    })
                    .err()
                    .unwrap_or(0),
                ),
                _ => None,
            };
            let code_for = |topic: &str, p: i32| match (coordinated, added) {
                (Err(code), _) => code,
                (Ok(()), Some(code)) => code,
                (Ok(()), None) => broker
                    .txns
                    .verify_partition(
                        broker,
                        Some(id),
                        txn.producer_id.0,
                        txn.producer_epoch,
                        topic,
                        p,
                    )
                    .err()
                    .unwrap_or(0),
            };
            AddPartitionsToTxnResult::default()
                .with_transactional_id(txn.transactional_id.clone())
                .with_topic_results(partition_results(&txn.topics, code_for))
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// A result per requested partition, with the error code `code_for(topic, partition)` gives.
fn partition_results(
    topics: &[add_partitions_to_txn_request::AddPartitionsToTxnTopic],
    code_for: impl Fn(&str, i32) -> i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    topics
        .iter()
        .map(|t| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|p| {
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(code_for(&t.name, *p))
                        })
                        .collect(),
                )
        })
        .collect()
}

pub async fn add_offsets_to_txn(
    ctx: &RequestContext,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let broker = &ctx.broker;
    // Kafka: WRITE on the transactional id, READ on the group.
    let authz = ctx.authz();
    if !authz.transactional_id(AclOperation::Write, &request.transactional_id) {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    if !authz.group(AclOperation::Read, &request.group_id) {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let code = super::may_fsync(ctx, || {
        broker.groups.ensure_topic(broker)?;
        let partition = broker.groups.partition_for(&request.group_id);
        broker.txns.add_partitions(
            broker,
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            &[(OFFSETS_TOPIC.to_string(), partition)],
            0,
        )
    })
    .err()
    .unwrap_or(0);
    let code = errors::producer_fenced_compat(code, ctx.api_version, 2);
    AddOffsetsToTxnResponse::default().with_error_code(code)
}

pub async fn end_txn(ctx: &RequestContext, request: EndTxnRequest) -> EndTxnResponse {
    let broker = &ctx.broker;
    // Kafka: WRITE on the transactional id.
    if !ctx.authorize(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.transactional_id,
    ) {
        return EndTxnResponse::default()
            .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    // EndTxn v5+ is a transactions V2 producer's: its epoch is bumped at every EndTxn and the
    // response names the producer id and epoch to go on with.
    let client_transaction_version = if ctx.api_version >= 5 {
        crate::coordinator::txn::TV_2
    } else {
        0
    };
    let result = super::may_fsync(ctx, || {
        broker.txns.end_txn(
            broker,
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
            client_transaction_version,
        )
    });
    let mut response = EndTxnResponse::default();
    match result {
        Ok((producer_id, epoch)) if ctx.api_version >= 5 => {
            response.producer_id = ProducerId(producer_id);
            response.producer_epoch = epoch;
        }
        Ok(_) => {}
        Err(code) => {
            response.error_code = errors::producer_fenced_compat(code, ctx.api_version, 2);
            if ctx.api_version >= 5 {
                response.producer_id = ProducerId(-1);
                response.producer_epoch = -1;
            }
        }
    }
    response
}

pub async fn txn_offset_commit(
    ctx: &RequestContext,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let broker = &ctx.broker;
    // Kafka: WRITE on the transactional id and READ on the group (else every partition
    // fails), then READ on each topic.
    let authz = ctx.authz();
    let denied_all = if !authz.transactional_id(AclOperation::Write, &request.transactional_id) {
        Some(ResponseError::TransactionalIdAuthorizationFailed.code())
    } else if !authz.group(AclOperation::Read, &request.group_id) {
        Some(ResponseError::GroupAuthorizationFailed.code())
    } else {
        None
    };
    let topic_denied: Vec<bool> = request
        .topics
        .iter()
        .map(|t| !authz.topic(AclOperation::Read, &t.name.0))
        .collect();
    let offsets: Vec<OffsetEntry> = request
        .topics
        .iter()
        .zip(&topic_denied)
        .filter(|(_, denied)| !**denied)
        .map(|(t, _)| t)
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    if ctx.api_version >= 2 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    p.committed_metadata.as_ref().map(|m| m.to_string()),
                )
            })
        })
        .collect();
    // v3 adds the member's identity (KIP-447); before it there is none to check.
    let member = if ctx.api_version >= 3 {
        CommitMember {
            generation: request.generation_id,
            member_id: &request.member_id,
            instance_id: request.group_instance_id.as_deref(),
        }
    } else {
        CommitMember {
            generation: -1,
            member_id: "",
            instance_id: None,
        }
    };
    let result = if let Some(code) = denied_all {
        Err(code)
    } else if offsets.is_empty() {
        Ok(Vec::new())
    } else if let Err(code) = register_offsets_partition(ctx, &request) {
        Err(code)
    } else {
        super::may_fsync(ctx, || {
            broker.groups.txn_commit(
                broker,
                &request.group_id,
                &member,
                &offsets,
                (request.producer_id.0, request.producer_epoch),
            )
        })
    };
    let mut codes = match result {
        Ok(codes) => codes.into_iter(),
        Err(code) => vec![code; offsets.len()].into_iter(),
    };
    let topics = request
        .topics
        .iter()
        .zip(topic_denied)
        .map(|(t, denied)| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            let code = match denied_all {
                                Some(code) => code,
                                None if denied => ResponseError::TopicAuthorizationFailed.code(),
                                None => codes.next().unwrap_or(0),
                            };
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(errors::producer_fenced_compat(
                                    code,
                                    ctx.api_version,
                                    3,
                                ))
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// TxnOffsetCommit v5+ comes from a transactions V2 producer, which sent no AddOffsetsToTxn:
/// the group's `__consumer_offsets` partition is added to its transaction here (Kafka's group
/// coordinator does the same through AddPartitionsToTxnManager).
fn register_offsets_partition(
    ctx: &RequestContext,
    request: &TxnOffsetCommitRequest,
) -> Result<(), i16> {
    if ctx.api_version < 5 {
        return Ok(());
    }
    let broker = &ctx.broker;
    crate::cluster::off_async_workers(|| {
        broker.groups.ensure_topic(broker)?;
        let partition = broker.groups.partition_for(&request.group_id);
        broker.txns.verify_or_register(
            broker,
            Some(&request.transactional_id),
            request.producer_id.0,
            request.producer_epoch,
            OFFSETS_TOPIC,
            partition,
            crate::coordinator::txn::registration::Registration::Add,
        )
    })
}

pub async fn describe_transactions(
    ctx: &RequestContext,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    // Kafka: DESCRIBE on each transactional id; the topics listed are those the principal
    // may DESCRIBE.
    let authz = ctx.authz();
    let states = request
        .transactional_ids
        .iter()
        .map(|id| {
            let state = describe_transactions_response::TransactionState::default()
                .with_transactional_id(id.clone())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
                .with_transaction_start_time_ms(-1);
            if !authz.transactional_id(AclOperation::Describe, id) {
                return state
                    .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
            }
            let txn = match ctx.broker.txns.describe(&ctx.broker, id) {
                Ok(Some(txn)) => txn,
                Ok(None) => {
                    return state.with_error_code(ResponseError::TransactionalIdNotFound.code())
                }
                Err(code) => return state.with_error_code(code),
            };
            let mut topics: Vec<TopicData> = Vec::new();
            for (topic, p) in &txn.partitions {
                if !authz.topic(AclOperation::Describe, topic) {
                    continue;
                }
                match topics.last_mut() {
                    Some(t) if *t.topic.0 == **topic => t.partitions.push(*p),
                    _ => topics.push(
                        TopicData::default()
                            .with_topic(topic_name(topic.clone()))
                            .with_partitions(vec![*p]),
                    ),
                }
            }
            state
                .with_transaction_state(str_bytes(txn.state.name().to_string()))
                .with_transaction_timeout_ms(txn.timeout_ms)
                .with_transaction_start_time_ms(txn.start_ms)
                .with_producer_id(ProducerId(txn.producer_id))
                .with_producer_epoch(txn.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

pub async fn list_transactions(
    ctx: &RequestContext,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let known = |name: &str| TxnState::ALL.iter().any(|s| s.name() == name);
    let unknown_filters: Vec<_> = request
        .state_filters
        .iter()
        .filter(|f| !known(f))
        .cloned()
        .collect();
    let now = now_ms();
    // Kafka: only the transactional ids the principal may DESCRIBE.
    let authz = ctx.authz();
    let states = ctx
        .broker
        .txns
        .list()
        .into_iter()
        .filter(|(id, _)| authz.transactional_id(AclOperation::Describe, id))
        .filter(|(_, t)| {
            request.state_filters.is_empty()
                || request.state_filters.iter().any(|f| **f == *t.state.name())
        })
        .filter(|(_, t)| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .contains(&ProducerId(t.producer_id))
        })
        .filter(|(_, t)| {
            // v1: only transactions running longer than the filter (-1: no filter).
            request.duration_filter < 0
                || (t.state == TxnState::Ongoing
                    && now.saturating_sub(t.start_ms) > request.duration_filter)
        })
        .map(|(id, t)| {
            list_transactions_response::TransactionState::default()
                .with_transactional_id(str_bytes(id).into())
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(str_bytes(t.state.name().to_string()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown_filters)
        .with_transaction_states(states)
}

pub async fn describe_producers(
    ctx: &RequestContext,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    // Kafka: READ on each topic.
    let authz = ctx.authz();
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let denied = !authz.topic(AclOperation::Read, &t.name);
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index);
                    if denied {
                        return response
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    let Some(partition) = ctx.broker.replicas.get(&t.name, index) else {
                        return response
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let producers = partition
                        .producers()
                        .into_iter()
                        .map(|(pid, e)| {
                            let last = e.batches.back();
                            ProducerState::default()
                                .with_producer_id(ProducerId(pid))
                                .with_producer_epoch(i32::from(e.producer_epoch))
                                .with_last_sequence(last.map_or(-1, |b| b.last_seq))
                                .with_last_timestamp(e.last_timestamp)
                                .with_coordinator_epoch(e.coordinator_epoch)
                                .with_current_txn_start_offset(e.txn_first_offset)
                        })
                        .collect();
                    response.with_active_producers(producers)
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
