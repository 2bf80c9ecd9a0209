//! Produce: append each partition's batches as leader and report offsets. The batches stay the
//! request's bytes until the log's single copy into the segment (ARCHITECTURE, performance).
//!
//! acks=0 requests get no response (the protocol layer drops it), acks=1 is answered once the
//! leader appended. acks=-1 (all) is a delayed produce, as in Kafka: refused with
//! NOT_ENOUGH_REPLICAS before appending when the ISR is smaller than `min.insync.replicas`,
//! then answered once the high watermark passed the records (every ISR member has them), with
//! NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below the minimum meanwhile, or
//! REQUEST_TIMED_OUT after the request's `timeout_ms`. With one replica the high watermark is
//! the log end, so nothing waits. With `milena.flush.on.ack` the log is fsynced first. A
//! partition led by another broker gets NOT_LEADER_OR_FOLLOWER.

use crate::metrics::Waiting;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse,
    TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::coordinator::txn::registration::Registration;
use crate::log::{legacy_format, BatchIter, LogError};
use crate::partition::manager::now_ms;
use crate::partition::Partition;
use crate::protocol::{errors, RequestContext};
use crate::security::acl::AclOperation;
use bytes::Bytes;
use std::time::Duration;

/// A produce request never waits for replication longer than this, whatever it asks.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn handle(ctx: &RequestContext, request: ProduceRequest) -> ProduceResponse {
    // Where each acks=all write waiting for its followers answers, and what it waits for.
    let mut waiting: Vec<(usize, usize)> = Vec::new();
    let mut replicating: Vec<super::Replicating> = Vec::new();
    let acks = request.acks;
    let transactional_id = request.transactional_id.as_ref().map(|t| t.0.as_str());
    let timeout = Duration::from_millis(request.timeout_ms.max(0) as u64).min(MAX_TIMEOUT);
    // KIP-951: a partition led elsewhere names its leader, and the response carries that
    // leader's endpoint, so the client re-routes without a Metadata round trip.
    let mut leaders_named = std::collections::BTreeSet::new();
    let valid_acks = matches!(request.acks, -1..=1);
    let mut responses = Vec::with_capacity(request.topic_data.len());
    // Kafka: WRITE on the transactional id (for every partition), then WRITE on each topic.
    let authz = ctx.authz();
    let txn_denied =
        transactional_id.is_some_and(|t| !authz.transactional_id(AclOperation::Write, t));
    for (topic_index, topic) in request.topic_data.into_iter().enumerate() {
        let name = topic.name.0.to_string();
        let denied = if txn_denied {
            Some(ResponseError::TransactionalIdAuthorizationFailed)
        } else if !authz.topic(AclOperation::Write, &name) {
            Some(ResponseError::TopicAuthorizationFailed)
        } else {
            None
        };
        let mut partition_responses = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let response = if let Some(e) = denied {
                failed(data.index, e.code(), None)
            } else if !valid_acks {
                failed(data.index, ResponseError::InvalidRequiredAcks.code(), None)
            } else if super::metadata::is_internal(&name) {
                failed(
                    data.index,
                    ResponseError::InvalidTopicException.code(),
                    Some(format!("Cannot append to internal topic {name}")),
                )
            } else {
                let index = data.index;
                let (mut response, appended) =
                    produce_partition(ctx, transactional_id, &name, data, acks);
                if let Some(write) = appended {
                    waiting.push((topic_index, partition_responses.len()));
                    replicating.push(write);
                }
                if ctx.api_version >= 10
                    && response.error_code == ResponseError::NotLeaderOrFollower.code()
                {
                    if let Some((leader, epoch)) = ctx.broker.live_leader(&name, index) {
                        response.current_leader = LeaderIdAndEpoch::default()
                            .with_leader_id(BrokerId(leader))
                            .with_leader_epoch(epoch);
                        leaders_named.insert(leader);
                    }
                }
                response
            };
            partition_responses.push(response);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_topic_id(topic.topic_id)
                .with_partition_responses(partition_responses),
        );
    }
    if !replicating.is_empty() {
        let in_purgatory = Waiting::enter(&ctx.broker.metrics.produce_purgatory);
        let since = std::time::Instant::now();
        let outcomes = super::replicated(&replicating, timeout).await;
        ctx.waited(since);
        drop(in_purgatory);
        for (((t, p), write), outcome) in waiting.into_iter().zip(&replicating).zip(outcomes) {
            let code = match outcome {
                // The ISR shrank below the minimum while the write waited: it stays, the
                // producer retries (Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND).
                Ok(()) if write.partition.under_min_isr() => {
                    ResponseError::NotEnoughReplicasAfterAppend.code()
                }
                Ok(()) => continue,
                Err(e) => e.code(),
            };
            responses[t].partition_responses[p].error_code = code;
        }
    }
    let mut response = ProduceResponse::default().with_responses(responses);
    if !leaders_named.is_empty() {
        response.node_endpoints = ctx
            .broker
            .live_brokers(&ctx.listener.name)
            .into_iter()
            .filter(|(id, _, _)| leaders_named.contains(id))
            .map(|(id, e, rack)| {
                NodeEndpoint::default()
                    .with_node_id(BrokerId(id))
                    .with_host(str_bytes(e.host))
                    .with_port(e.port)
                    .with_rack(rack.map(str_bytes))
            })
            .collect();
    }
    response
}

/// Appends one partition's records; for acks=all also the partition and the high watermark
/// the write waits for, if it is not there yet.
fn produce_partition(
    ctx: &RequestContext,
    transactional_id: Option<&str>,
    topic: &str,
    data: PartitionProduceData,
    acks: i16,
) -> (PartitionProduceResponse, Option<super::Replicating>) {
    let partition = match ctx.broker.leader_partition(topic, data.index) {
        Ok(p) => p,
        Err(e) => return (failed(data.index, e.code(), None), None),
    };
    let Some(mut records) = data.records else {
        return (
            failed(data.index, ResponseError::CorruptMessage.code(), None),
            None,
        );
    };
    // An old client's message set (magic 0 or 1) becomes a v2 batch before the log sees it,
    // outside any partition lock. Any Produce version may carry either format (Kafka 3.9
    // checked the magic only from v3 on, and v3+ refuses old formats in `append`).
    if ctx.api_version <= 2 && legacy_format::first_magic(&records).is_some_and(|m| m < 2) {
        match crate::cluster::off_async_workers(|| legacy_format::up_convert(&records)) {
            Ok(batch) => records = Bytes::from(batch),
            Err(e) => {
                tracing::debug!(topic, partition = data.index, error = %e, "old message set refused");
                let error = errors::legacy_error(&e);
                return (failed(data.index, error.code, error.message), None);
            }
        }
    }
    if let Err(code) = verify_transaction(
        ctx,
        transactional_id,
        topic,
        data.index,
        &partition,
        &records,
    ) {
        let message = (code == ResponseError::InvalidTxnState.code())
            .then(|| "Partition was not added to the transaction".into());
        return (failed(data.index, code, message), None);
    }
    if acks == -1 && partition.under_min_isr() {
        let message = Some(format!(
            "The size of the current ISR is below the minimum ISR of {topic}-{}",
            data.index
        ));
        let code = ResponseError::NotEnoughReplicas.code();
        return (failed(data.index, code, message), None);
    }
    let size = records.len();
    let result = super::may_fsync(ctx, || partition.append(records, now_ms()));
    match result {
        Ok(info) => {
            if !info.duplicate {
                partition.counters.produced(size, info.record_count);
            }
            let required = info.last_offset + 1;
            let waits =
                (acks == -1 && partition.high_watermark() < required).then(|| super::Replicating {
                    leader_epoch: partition.leader_epoch(),
                    partition: partition.clone(),
                    required,
                });
            let response = PartitionProduceResponse::default()
                .with_index(data.index)
                .with_base_offset(info.first_offset)
                .with_log_append_time_ms(info.log_append_time_ms)
                .with_log_start_offset(info.log_start_offset);
            (response, waits)
        }
        Err(e) => {
            if !matches!(
                e,
                LogError::OutOfOrderSequence { .. } | LogError::InvalidProducerEpoch { .. }
            ) {
                tracing::warn!(topic, partition = data.index, error = %e, "produce refused");
            }
            let error = errors::log_error(&e);
            let mut response = failed(data.index, error.code, error.message.clone());
            if ctx.api_version >= 8 {
                response.record_errors = match &e {
                    // KIP-467: the client fails these records and may send the others again.
                    LogError::RecordErrors { records, .. } => records
                        .iter()
                        .map(|r| {
                            BatchIndexAndErrorMessage::default()
                                .with_batch_index(r.batch_index)
                                .with_batch_index_error_message(Some(str_bytes(r.message.clone())))
                        })
                        .collect(),
                    LogError::InvalidRecord { .. } | LogError::CorruptRecord(_) => {
                        vec![BatchIndexAndErrorMessage::default()
                            .with_batch_index(0)
                            .with_batch_index_error_message(error.message.map(str_bytes))]
                    }
                    _ => Vec::new(),
                };
            }
            (response, None)
        }
    }
}

/// A transactional producer's first write to a partition must be to a partition its
/// transaction holds: verified with the coordinator for Produce v11 and below, registered by it
/// for Produce v12+ (transactions V2: the producer sent no AddPartitionsToTxn). See
/// `coordinator::txn::registration`.
fn verify_transaction(
    ctx: &RequestContext,
    transactional_id: Option<&str>,
    topic: &str,
    index: i32,
    partition: &Partition,
    records: &Bytes,
) -> Result<(), i16> {
    let Some(Ok((h, _))) = BatchIter::new(records.clone()).next() else {
        return Ok(()); // the log refuses malformed batches with its own error
    };
    if !h.is_transactional() || partition.has_open_txn(h.producer_id) {
        return Ok(());
    }
    let registration = if ctx.api_version >= 12 {
        Registration::Add
    } else {
        Registration::VerifyOnly
    };
    crate::cluster::off_async_workers(|| {
        ctx.broker.txns.verify_or_register(
            &ctx.broker,
            transactional_id,
            h.producer_id,
            h.producer_epoch,
            topic,
            index,
            registration,
        )
    })
}

fn failed(index: i32, code: i16, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(str_bytes))
}
