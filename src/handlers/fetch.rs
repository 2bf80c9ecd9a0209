//! Fetch: whole batches from each requested partition, answered as soon as `min_bytes` are
//! available or `max_wait_ms` has passed.
//!
//! read_committed fetches (isolation level 1) stop at the last stable offset and list the
//! aborted transactions overlapping the returned batches; the consumer drops their records.
//!
//! The data path: under the partition's read lock only the file regions are found
//! (`Partition::fetch`); regions of 64 KiB or more go to the socket with sendfile, smaller ones
//! are read into memory and sent with the encoded parts in one vectored write
//! (`protocol::encode_fetch`). No record byte is copied into an encoded response.
//!
//! Fetch sessions (KIP-227) are served by `fetch_session`: an incremental fetch reads every
//! partition of its session and answers with those that changed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
    PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::fetch_session::{self, Begin};
use crate::log::AbortedTxn;
use crate::metrics::Waiting;
use crate::partition::manager::now_ms;
use crate::partition::replication::FollowerFetchError;
use crate::partition::wakeup::Wakeup;
use crate::partition::Partition;
use crate::protocol::{errors, FetchAnswer, FileRecords, RequestContext};
use crate::security::acl::AclOperation;

/// A long poll never parks a connection longer than this, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(60);

/// Reads at least this large are sent from the log files (sendfile); smaller ones are read into
/// memory, where a copy costs less than another system call.
const SEND_FROM_FILE_MIN: usize = 64 * 1024;

pub async fn handle(ctx: &RequestContext, request: FetchRequest) -> FetchAnswer {
    let sessions = &ctx.broker.fetch_sessions;
    let version = ctx.api_version;
    if version <= 3 {
        // Old consumers read message format v0/v1; they know no sessions (Fetch v7+).
        let answer = long_poll(ctx, &request).await;
        return super::legacy_records::down_convert(answer, &request, version);
    }
    match sessions.begin(&request, version, now_ms()) {
        Err(e) => fetch_session::error(e),
        Ok(Begin::Sessionless) => long_poll(ctx, &request).await,
        Ok(Begin::Open) => {
            let mut answer = long_poll(ctx, &request).await;
            let privileged = follower(version, &request).is_some();
            answer.response.session_id =
                sessions.open(&request, &answer.response, version, privileged, now_ms());
            answer
        }
        Ok(Begin::Incremental(incremental)) => {
            let answer = long_poll(ctx, &incremental.request).await;
            incremental.finish(answer)
        }
    }
}

/// Serves `request` (every partition it names) once `min_bytes` are there or `max_wait_ms` has
/// passed.
async fn long_poll(ctx: &RequestContext, request: &FetchRequest) -> FetchAnswer {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    // Registered with the request's partitions only once it must wait (Kafka's
    // tryCompleteElseWatch): the read after registering checks again, so nothing that lands in
    // between is missed, and a fetch answered at once pays nothing for it.
    let mut wakeup: Option<Wakeup> = None;
    loop {
        let (response, bytes, any_error, served) = read_all(ctx, request, wakeup.as_mut());
        let now = Instant::now();
        if bytes >= request.min_bytes.max(0) as usize || any_error || now >= deadline {
            count_bytes_out(&served);
            return response;
        }
        let Some(parked) = &wakeup else {
            wakeup = Some(Wakeup::new());
            continue;
        };
        let _in_purgatory = Waiting::enter(&ctx.broker.metrics.fetch_purgatory);
        let parked_at = Instant::now();
        let woken = tokio::time::timeout(deadline - now, parked.changed()).await;
        ctx.waited(parked_at);
        if woken.is_err() {
            // Timed out: answer with whatever is there now.
            let (response, _, _, served) = read_all(ctx, request, None);
            count_bytes_out(&served);
            return response;
        }
    }
}

/// Counts the record bytes of the answer sent (BytesOutPerSec of each topic). Only the read
/// that is answered counts: reads before a long poll parks are thrown away.
fn count_bytes_out(served: &[(Arc<Partition>, usize)]) {
    for (partition, bytes) in served {
        partition.counters.fetched(*bytes);
    }
}

/// The follower a fetch comes from, and its broker epoch (-1 before v15): a replica id in the
/// request (v15+: in ReplicaState, KIP-903). Consumers send -1.
fn follower(version: i16, request: &FetchRequest) -> Option<(i32, i64)> {
    let (id, epoch) = if version >= 15 {
        (
            request.replica_state.replica_id.0,
            request.replica_state.replica_epoch,
        )
    } else {
        (request.replica_id.0, -1)
    };
    (id >= 0).then_some((id, epoch))
}

/// Reads every requested partition; with `wakeup`, registers each with it before reading it.
fn read_all(
    ctx: &RequestContext,
    request: &FetchRequest,
    mut wakeup: Option<&mut Wakeup>,
) -> (FetchAnswer, usize, bool, Vec<(Arc<Partition>, usize)>) {
    // The partitions a consumer got records from, and how many bytes (not followers': Kafka
    // counts replication traffic apart from BytesOutPerSec).
    let mut served = Vec::new();
    let image = ctx.broker.image();
    let version = ctx.api_version;
    let follower = follower(version, request);
    // A follower fetching with an older broker epoch than its registration is a zombie (Kafka's
    // `Replica.updateFetchStateOrThrow`: only a registered, newer epoch counts; -1 is unchecked).
    let stale_follower = follower.is_some_and(|(id, epoch)| {
        epoch >= 0 && image.brokers.get(&id).is_some_and(|b| epoch < b.epoch)
    });
    let read_committed = request.isolation_level == 1;
    let mut budget = request.max_bytes.max(0) as usize;
    let mut total = 0usize;
    let mut any_error = false;
    let mut responses = Vec::with_capacity(request.topics.len());
    let mut from_files = Vec::new();
    let mut leaders_named = std::collections::BTreeSet::new();
    // Kafka: a follower needs CLUSTER_ACTION on the cluster, a consumer READ on each topic.
    let authz = ctx.authz();
    let follower_denied = follower.is_some() && !authz.cluster(AclOperation::ClusterAction);
    for (topic_index, topic) in request.topics.iter().enumerate() {
        let resolved = if version >= 13 {
            image.topic_by_id(&topic.topic_id)
        } else {
            image.topic(&topic.topic.0)
        };
        let denied = authz.enabled()
            && (follower_denied
                || (follower.is_none()
                    && match resolved {
                        Some(t) => !authz.topic(AclOperation::Read, &t.name),
                        None => version < 13 && !authz.topic(AclOperation::Read, &topic.topic.0),
                    }));
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let mut data = PartitionData::default()
                .with_partition_index(p.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_preferred_read_replica(BrokerId(-1))
                .with_records(Some(Bytes::new()));
            if read_committed {
                data.aborted_transactions = Some(Vec::new());
            }
            let partition = match resolved {
                _ if denied => Err(ResponseError::TopicAuthorizationFailed),
                Some(t) => ctx.broker.leader_partition(&t.name, p.partition),
                None if version >= 13 => Err(ResponseError::UnknownTopicId),
                None => Err(ResponseError::UnknownTopicOrPartition),
            };
            let partition = match partition {
                Ok(partition) => partition,
                Err(e) => {
                    data.error_code = e.code();
                    if e == ResponseError::NotLeaderOrFollower && version >= 12 {
                        // KIP-951: name the leader, so the client goes there at once.
                        if let Some((leader, epoch)) =
                            resolved.and_then(|t| ctx.broker.live_leader(&t.name, p.partition))
                        {
                            data.current_leader = LeaderIdAndEpoch::default()
                                .with_leader_id(BrokerId(leader))
                                .with_leader_epoch(epoch);
                            leaders_named.insert(leader);
                        }
                    }
                    any_error = true;
                    partitions.push(data);
                    continue;
                }
            };
            if let Some(wakeup) = wakeup.as_deref_mut() {
                wakeup.watch(&partition);
            }
            let high_watermark = partition.high_watermark();
            data.high_watermark = high_watermark;
            data.last_stable_offset = partition.last_stable_offset();
            data.log_start_offset = partition.log_start_offset();
            if let Some(code) = check_leader_epoch(p.current_leader_epoch, partition.leader_epoch())
            {
                data.error_code = code;
                any_error = true;
                partitions.push(data);
                continue;
            }
            let limit = (p.partition_max_bytes.max(0) as usize).min(budget);
            // The first partition with data returns at least one whole batch, so a batch larger
            // than the limits still makes progress (KIP-74).
            let read = match follower {
                Some((id, broker_epoch)) => {
                    // Kafka's order (`Partition.fetchRecords`): leader epoch (above), replica,
                    // diverging epoch, then the broker epoch as the fetch state is updated.
                    if !partition.is_follower_replica(id) {
                        data.error_code = not_a_replica(p.current_leader_epoch);
                        any_error = true;
                        partitions.push(data);
                        continue;
                    }
                    let diverging = partition.diverging_epoch(p.last_fetched_epoch, p.fetch_offset);
                    if let Some(ours) = diverging {
                        data.diverging_epoch = EpochEndOffset::default()
                            .with_epoch(ours.leader_epoch)
                            .with_end_offset(ours.end_offset);
                        any_error = true; // answer now: the follower must truncate first
                        partitions.push(data);
                        continue;
                    }
                    if stale_follower {
                        data.error_code = ResponseError::NotLeaderOrFollower.code();
                        any_error = true;
                        partitions.push(data);
                        continue;
                    }
                    let now = now_ms();
                    match partition.fetch_for_follower(id, broker_epoch, p.fetch_offset, limit, now)
                    {
                        Ok(read) => read.map(|r| (r, Vec::new())),
                        Err(e) => {
                            data.error_code = match e {
                                FollowerFetchError::NotReplica => {
                                    not_a_replica(p.current_leader_epoch)
                                }
                                FollowerFetchError::NotLeader => {
                                    ResponseError::NotLeaderOrFollower.code()
                                }
                            };
                            any_error = true;
                            partitions.push(data);
                            continue;
                        }
                    }
                }
                None => partition.fetch(p.fetch_offset, limit, total == 0, read_committed),
            };
            // What the follower's fetch moved is what it is told.
            data.high_watermark = partition.high_watermark();
            data.last_stable_offset = partition.last_stable_offset();
            let read = read.and_then(|(read, aborted)| {
                if read_committed {
                    data.aborted_transactions =
                        Some(aborted.iter().map(aborted_transaction).collect());
                }
                if read.len < SEND_FROM_FILE_MIN {
                    data.records = Some(read.read_all()?);
                    return Ok((read.len, None));
                }
                data.records = None;
                Ok((read.len, Some(read)))
            });
            match read {
                Ok((len, file)) => {
                    total += len;
                    if len > 0 && follower.is_none() {
                        served.push((partition.clone(), len));
                    }
                    budget = budget.saturating_sub(len);
                    if let Some(read) = file {
                        from_files.push(FileRecords {
                            topic: topic_index,
                            partition: partitions.len(),
                            read,
                        });
                    }
                }
                Err(e) => {
                    data.error_code = errors::log_error(&e).code;
                    any_error = true;
                }
            }
            partitions.push(data);
        }
        responses.push(
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions),
        );
    }
    let mut response = FetchResponse::default().with_responses(responses);
    if version >= 16 && !leaders_named.is_empty() {
        response.node_endpoints = ctx
            .broker
            .live_brokers(&ctx.listener.name)
            .into_iter()
            .filter(|(id, _, _)| leaders_named.contains(id))
            .map(|(id, e, rack)| {
                NodeEndpoint::default()
                    .with_node_id(BrokerId(id))
                    .with_host(super::str_bytes(e.host))
                    .with_port(e.port)
                    .with_rack(rack.map(super::str_bytes))
            })
            .collect();
    }
    let answer = FetchAnswer {
        response,
        from_files,
    };
    (answer, total, any_error, served)
}

fn aborted_transaction(a: &AbortedTxn) -> AbortedTransaction {
    AbortedTransaction::default()
        .with_producer_id(ProducerId(a.producer_id))
        .with_first_offset(a.first_offset)
}

/// The answer to a follower fetch from a broker that is not a replica of the partition (Kafka's
/// `Partition.followerReplicaOrThrow`): with a leader epoch that matches ours, the pair (replica,
/// epoch) is not known yet, as during a reassignment, and the follower retries
/// (UNKNOWN_LEADER_EPOCH); without one (older clients send -1) neither side can tell who is
/// behind (NOT_LEADER_OR_FOLLOWER).
fn not_a_replica(current_leader_epoch: i32) -> i16 {
    if current_leader_epoch >= 0 {
        ResponseError::UnknownLeaderEpoch.code()
    } else {
        ResponseError::NotLeaderOrFollower.code()
    }
}

/// A client that knows a newer epoch than ours has seen a leader we have not heard of yet; one
/// with an older epoch is behind. -1 means the client does not check.
pub fn check_leader_epoch(requested: i32, current: i32) -> Option<i16> {
    if requested < 0 || requested == current {
        None
    } else if requested > current {
        Some(ResponseError::UnknownLeaderEpoch.code())
    } else {
        Some(ResponseError::FencedLeaderEpoch.code())
    }
}
