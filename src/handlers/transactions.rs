//! The transactional APIs: AddPartitionsToTxn (v0-3, the client form), AddOffsetsToTxn,
//! EndTxn, TxnOffsetCommit, and the admin views DescribeTransactions, ListTransactions and
//! DescribeProducers. The state lives in the transaction coordinator and, for offsets, the
//! group coordinator; these functions translate.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
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

pub async fn add_partitions_to_txn(
    ctx: &RequestContext,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
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
    let result = if any_unknown {
        None
    } else {
        let done = super::may_fsync(ctx, || {
            broker.txns.add_partitions(
                broker,
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                &requested,
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
        None if unknown(topic, p) => ResponseError::UnknownTopicOrPartition.code(),
        None => ResponseError::OperationNotAttempted.code(),
    };
    let results = request
        .v3_and_below_topics
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
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

pub async fn add_offsets_to_txn(
    ctx: &RequestContext,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let broker = &ctx.broker;
    let code = super::may_fsync(ctx, || {
        broker.groups.ensure_topic(broker)?;
        let partition = broker.groups.partition_for(&request.group_id);
        broker.txns.add_partitions(
            broker,
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            &[(OFFSETS_TOPIC.to_string(), partition)],
        )
    })
    .err()
    .unwrap_or(0);
    let code = errors::producer_fenced_compat(code, ctx.api_version, 2);
    AddOffsetsToTxnResponse::default().with_error_code(code)
}

pub async fn end_txn(ctx: &RequestContext, request: EndTxnRequest) -> EndTxnResponse {
    let broker = &ctx.broker;
    let code = super::may_fsync(ctx, || {
        broker.txns.end_txn(
            broker,
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
        )
    })
    .err()
    .unwrap_or(0);
    let code = errors::producer_fenced_compat(code, ctx.api_version, 2);
    EndTxnResponse::default().with_error_code(code)
}

pub async fn txn_offset_commit(
    ctx: &RequestContext,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let broker = &ctx.broker;
    let offsets: Vec<OffsetEntry> = request
        .topics
        .iter()
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
    let result = super::may_fsync(ctx, || {
        broker.groups.txn_commit(
            broker,
            &request.group_id,
            &member,
            &offsets,
            (request.producer_id.0, request.producer_epoch),
        )
    });
    let mut codes = match result {
        Ok(codes) => codes.into_iter(),
        Err(code) => vec![code; offsets.len()].into_iter(),
    };
    let topics = request
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(errors::producer_fenced_compat(
                                    codes.next().unwrap_or(0),
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

pub async fn describe_transactions(
    ctx: &RequestContext,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = request
        .transactional_ids
        .iter()
        .map(|id| {
            let state = describe_transactions_response::TransactionState::default()
                .with_transactional_id(id.clone())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
                .with_transaction_start_time_ms(-1);
            let txn = match ctx.broker.txns.describe(&ctx.broker, id) {
                Ok(Some(txn)) => txn,
                Ok(None) => {
                    return state.with_error_code(ResponseError::TransactionalIdNotFound.code())
                }
                Err(code) => return state.with_error_code(code),
            };
            let mut topics: Vec<TopicData> = Vec::new();
            for (topic, p) in &txn.partitions {
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
    let states = ctx
        .broker
        .txns
        .list()
        .into_iter()
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
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index);
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
