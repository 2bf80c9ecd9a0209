//! Replica fetchers: a follower replicates with Kafka's own Fetch API, as a Kafka broker does
//! (`ReplicaFetcherThread`). One task per leader broker fetches every partition this node
//! follows there, on one connection to the leader's client listener:
//! - the request carries this node's id and broker epoch (ReplicaState, v15+), and per
//!   partition the leader epoch it knows, its log end offset as fetch offset and the epoch of
//!   its last batch (LastFetchedEpoch), so the leader can tell where the logs diverge;
//! - a DivergingEpoch answer truncates the log where the leader's log stops agreeing (never at
//!   the high watermark), and the next fetch goes on from there;
//! - records are appended unchanged (`Log::append_as_follower`); a corrupt batch appends
//!   nothing (every batch's CRC is checked before the first byte is written), is logged, and
//!   that partition alone is fetched again after [`PARTITION_BACKOFF`] (Kafka's
//!   replica.fetch.backoff.ms), as is a partition whose append failed (a full disk) or whose
//!   answer was an error; the other partitions of the leader keep replicating meanwhile, and a
//!   metadata change lifts the backoffs;
//! - the follower's high watermark is the leader's, bounded by its own log end;
//! - fetches go in a fetch session (KIP-227): after the first, a fetch names only partitions whose
//!   position moved, and the leader answers only partitions with news; a connection failure or
//!   a session error starts a new session with a full fetch.
//!
//! The connection goes to the leader's inter-broker listener with its security protocol
//! (`channel`: TLS, SASL login as this broker's user, which ACLs see as the fetching
//! principal). A refused login or certificate is logged (not the password) and retried after a
//! backoff that grows to 10 s; other connection failures are retried after [`BACKOFF`].
//!
//! The set of partitions per leader follows the metadata ([`ReplicaFetchers::assign`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use kafka_protocol::messages::fetch_request::{
    FetchPartition, FetchTopic, ForgottenTopic, ReplicaState,
};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse};
use kafka_protocol::ResponseError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::channel::{AuthBackoff, ChannelBuilder, KafkaConnection};
use super::kafka_client;
use crate::broker::Broker;
use crate::log::{EpochEndOffset, LogError};
use crate::partition::replication::FetchPosition;
use crate::partition::Partition;

/// Fetch v15: ReplicaState carries the broker epoch (KIP-903).
const FETCH_VERSION: i16 = 15;
/// Kafka's replica.fetch.wait.max.ms, replica.fetch.max.bytes, replica.fetch.response.max.bytes.
const FETCH_WAIT_MS: i32 = 500;
const PARTITION_MAX_BYTES: i32 = 1024 * 1024;
const RESPONSE_MAX_BYTES: i32 = 10 * 1024 * 1024;
/// Kafka's replica.fetch.backoff.ms is 1 s; a leader that is not there yet is usually there
/// within a metadata round.
const BACKOFF: Duration = Duration::from_millis(200);
/// How long one partition rests after its part of an answer failed: an error code, batches that
/// do not pass their CRC, or an append the disk refused (Kafka's replica.fetch.backoff.ms).
const PARTITION_BACKOFF: Duration = Duration::from_secs(1);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A leader that refuses this broker's principal is said in the log at most this often.
const DENIED_LOG_INTERVAL: Duration = Duration::from_secs(30);
/// Answers that end a fetch session (the next fetch opens a new one).
const SESSION_ERRORS: [i16; 3] = [
    ResponseError::FetchSessionIdNotFound.code(),
    ResponseError::InvalidFetchSessionEpoch.code(),
    ResponseError::FetchSessionTopicIdError.code(),
];

/// The fetcher tasks of this node, one per leader it follows.
pub struct ReplicaFetchers {
    tasks: HashMap<i32, Fetcher>,
}

struct Fetcher {
    address: String,
    partitions: watch::Sender<Vec<Arc<Partition>>>,
    task: JoinHandle<()>,
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Default for ReplicaFetchers {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplicaFetchers {
    pub fn new() -> Self {
        Self {
            tasks: HashMap::new(),
        }
    }

    /// Points the fetchers at the partitions this node follows now: new leaders get a task,
    /// leaders no longer followed lose theirs. Call after every metadata change is applied.
    pub fn assign(&mut self, broker: &Arc<Broker>) {
        let image = broker.image();
        let mut by_leader: BTreeMap<i32, Vec<Arc<Partition>>> = BTreeMap::new();
        for partition in broker.replicas.all() {
            if let Some(position) = partition.fetch_position() {
                if position.leader >= 0 && position.leader != broker.node_id {
                    by_leader
                        .entry(position.leader)
                        .or_default()
                        .push(partition);
                }
            }
        }
        let mut wanted = HashMap::new();
        for (leader, partitions) in by_leader {
            let listener = broker
                .cluster
                .as_ref()
                .map(|c| c.inter_broker_channel().listener().to_string());
            let Some(e) = image.brokers.get(&leader).and_then(|b| match &listener {
                Some(l) => b.endpoint_for(l),
                None => b.endpoint(),
            }) else {
                continue;
            };
            wanted.insert(leader, (format!("{}:{}", e.host, e.port), partitions));
        }
        self.tasks.retain(|leader, f| {
            wanted
                .get(leader)
                .is_some_and(|(address, _)| *address == f.address)
        });
        for (leader, (address, partitions)) in wanted {
            match self.tasks.get(&leader) {
                Some(f) => {
                    f.partitions.send_replace(partitions);
                }
                None => {
                    let (tx, rx) = watch::channel(partitions);
                    let task = tokio::spawn(run(broker.clone(), leader, address.clone(), rx));
                    self.tasks.insert(
                        leader,
                        Fetcher {
                            address,
                            partitions: tx,
                            task,
                        },
                    );
                }
            }
        }
    }
}

/// One leader's fetcher: fetch, apply, repeat, until its partition set is dropped.
async fn run(
    broker: Arc<Broker>,
    leader: i32,
    address: String,
    mut partitions: watch::Receiver<Vec<Arc<Partition>>>,
) {
    tracing::info!(leader, %address, "replica fetcher started");
    let mut connection: Option<KafkaConnection> = None;
    let channel = broker.cluster.as_ref().map_or_else(
        || Arc::new(ChannelBuilder::plaintext()),
        |c| c.inter_broker_channel().clone(),
    );
    let mut login_backoff = AuthBackoff::new();
    // When the leader's refusal of our principal was last logged.
    let mut denied_logged_at: Option<Instant> = None;
    let mut correlation_id = 0i32;
    // Partitions resting after a failure, until when.
    let mut backoff: HashMap<(Uuid, i32), Instant> = HashMap::new();
    let mut session = Session::default();
    loop {
        if partitions.has_changed().unwrap_or(false) {
            // New metadata: whatever failed may work now (a new epoch, a new leader).
            backoff.clear();
        }
        let current = partitions.borrow_and_update().clone();
        let now = Instant::now();
        backoff.retain(|_, until| *until > now);
        let positions: Vec<(Arc<Partition>, FetchPosition)> = current
            .into_iter()
            .filter(|p| !backoff.contains_key(&(p.topic_id, p.index)))
            .filter_map(|p| {
                let position = p.fetch_position()?;
                (position.leader == leader).then_some((p, position))
            })
            .collect();
        if positions.is_empty() {
            let resting = backoff.values().min().copied();
            tokio::select! {
                changed = partitions.changed() => if changed.is_err() { return },
                _ = sleep_until(resting) => {}
            }
            continue;
        }
        let broker_epoch = broker.cluster.as_ref().map_or(-1, |c| c.broker_epoch());
        let fetch = session.fetch(broker.node_id, broker_epoch, &positions);
        let request = &fetch.request;
        correlation_id = correlation_id.wrapping_add(1);
        let wait = IO_TIMEOUT + Duration::from_millis(FETCH_WAIT_MS as u64);
        if connection.as_ref().is_some_and(|c| !c.fresh()) {
            // The leader's SASL session is about to expire: log in again on a new connection.
            connection = None;
        }
        if connection.is_none() {
            match channel.connect_kafka(&address).await {
                Ok(c) => {
                    if login_backoff.failures() > 0 {
                        tracing::info!(leader, %address, "replica fetcher connected again");
                    }
                    login_backoff.succeeded();
                    connection = Some(c);
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    // A refused certificate or login does not fix itself: wait longer
                    // each time, and say so (the message names the user, never the
                    // password).
                    let (wait, failures) = login_backoff.failed();
                    if failures.is_power_of_two() {
                        tracing::warn!(leader, %address, error = %e, failures, retry_in = ?wait, "replica fetcher cannot authenticate to the leader");
                    }
                    session = Session::default();
                    if !wait_or_reassigned(&mut partitions, wait).await {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::debug!(leader, error = %e, "replica fetcher cannot connect");
                    session = Session::default();
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            }
        }
        let answer = match connection.as_mut() {
            Some(c) => {
                kafka_client::call(
                    &mut c.stream,
                    ApiKey::Fetch,
                    FETCH_VERSION,
                    request,
                    correlation_id,
                    wait,
                )
                .await
            }
            None => Err(std::io::Error::other("no connection to the leader")),
        };
        let response: FetchResponse = match answer {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(leader, error = %e, "replica fetch failed");
                connection = None;
                session = Session::default();
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        if response.error_code != 0 {
            // The session is gone (a leader restart, an eviction) or out of step: start a new
            // one at once with a full fetch. Other errors rest every partition, as before.
            session = Session::default();
            if SESSION_ERRORS.contains(&response.error_code) {
                tracing::debug!(
                    leader,
                    error = response.error_code,
                    "replica fetch session reset"
                );
                continue;
            }
        } else {
            session.answered(fetch, &response);
        }
        let failed = tokio::task::spawn_blocking(move || apply(&positions, response)).await;
        let until = Instant::now() + PARTITION_BACKOFF;
        match failed {
            Ok((failed, denied)) => {
                backoff.extend(failed.into_iter().map(|key| (key, until)));
                let quiet = denied_logged_at.is_some_and(|at| at.elapsed() < DENIED_LOG_INTERVAL);
                if denied && !quiet {
                    denied_logged_at = Some(Instant::now());
                    tracing::warn!(leader, %address, listener = %channel.listener(), "the leader refuses replica fetches from this broker's principal: it needs CLUSTER_ACTION on the cluster (an ACL, or super.users)");
                }
            }
            Err(e) => {
                // Not reached (apply does not panic), but never spin if it did.
                tracing::error!(leader, error = %e, "applying a replica fetch failed");
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}

/// Waits `wait`, or less if the partitions to fetch change (a new leader may be reachable);
/// false when the fetcher is gone.
async fn wait_or_reassigned(
    partitions: &mut watch::Receiver<Vec<Arc<Partition>>>,
    wait: Duration,
) -> bool {
    tokio::select! {
        changed = partitions.changed() => changed.is_ok(),
        _ = tokio::time::sleep(wait) => true,
    }
}

async fn sleep_until(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

/// This follower's fetch session with the leader (KIP-227, the client's side): what the leader
/// holds for each partition, so that a fetch names only the partitions whose position moved
/// and forgets those no longer fetched. Any failure starts a fresh session with a full fetch.
#[derive(Default)]
struct Session {
    /// 0: none; the next fetch is a full one that asks for a session (epoch 0).
    id: i32,
    /// The epoch of the next incremental fetch.
    epoch: i32,
    /// What the leader's session holds.
    held: HashMap<(Uuid, i32), FetchPartition>,
}

/// One fetch of a session: the request, and what the session holds once it is answered.
struct SessionFetch {
    request: FetchRequest,
    held: HashMap<(Uuid, i32), FetchPartition>,
}

impl Session {
    fn fetch(
        &self,
        node_id: i32,
        broker_epoch: i64,
        positions: &[(Arc<Partition>, FetchPosition)],
    ) -> SessionFetch {
        let mut topics: Vec<FetchTopic> = Vec::new();
        let mut held = HashMap::with_capacity(positions.len());
        for (p, pos) in positions {
            let partition = FetchPartition::default()
                .with_partition(p.index)
                .with_current_leader_epoch(pos.leader_epoch)
                .with_fetch_offset(pos.fetch_offset)
                .with_last_fetched_epoch(pos.last_fetched_epoch)
                .with_log_start_offset(pos.log_start_offset)
                .with_partition_max_bytes(PARTITION_MAX_BYTES);
            let key = (p.topic_id, p.index);
            let unchanged = self.id != 0 && self.held.get(&key) == Some(&partition);
            held.insert(key, partition.clone());
            if unchanged {
                continue;
            }
            match topics.iter_mut().find(|t| t.topic_id == p.topic_id) {
                Some(t) => t.partitions.push(partition),
                None => topics.push(
                    FetchTopic::default()
                        .with_topic_id(p.topic_id)
                        .with_partitions(vec![partition]),
                ),
            }
        }
        let mut forgotten: Vec<ForgottenTopic> = Vec::new();
        if self.id != 0 {
            for &(topic_id, index) in self.held.keys().filter(|k| !held.contains_key(k)) {
                match forgotten.iter_mut().find(|t| t.topic_id == topic_id) {
                    Some(t) => t.partitions.push(index),
                    None => forgotten.push(
                        ForgottenTopic::default()
                            .with_topic_id(topic_id)
                            .with_partitions(vec![index]),
                    ),
                }
            }
        }
        let request = FetchRequest::default()
            .with_replica_state(
                ReplicaState::default()
                    .with_replica_id(BrokerId(node_id))
                    .with_replica_epoch(broker_epoch),
            )
            .with_max_wait_ms(FETCH_WAIT_MS)
            .with_min_bytes(1)
            .with_max_bytes(RESPONSE_MAX_BYTES)
            .with_isolation_level(0)
            .with_session_id(self.id)
            .with_session_epoch(if self.id == 0 { 0 } else { self.epoch })
            .with_topics(topics)
            .with_forgotten_topics_data(forgotten);
        SessionFetch { request, held }
    }

    /// The leader answered `fetch` without a top-level error.
    fn answered(&mut self, fetch: SessionFetch, response: &FetchResponse) {
        if self.id == 0 && response.session_id != 0 {
            self.id = response.session_id;
            self.epoch = 0;
        }
        if self.id == 0 {
            return;
        }
        self.epoch = if self.epoch == i32::MAX {
            1
        } else {
            self.epoch + 1
        };
        self.held = fetch.held;
    }
}

/// Applies one fetch answer (blocking file work). Returns the partitions whose part failed
/// (to rest for [`PARTITION_BACKOFF`]); the others were applied, whatever the failed ones held.
/// Also says whether the leader refused this broker's principal (Kafka answers a follower
/// without CLUSTER_ACTION TOPIC_AUTHORIZATION_FAILED for every partition).
fn apply(
    positions: &[(Arc<Partition>, FetchPosition)],
    response: FetchResponse,
) -> (Vec<(Uuid, i32)>, bool) {
    let refusals = [
        ResponseError::TopicAuthorizationFailed.code(),
        ResponseError::ClusterAuthorizationFailed.code(),
    ];
    if response.error_code != 0 {
        tracing::warn!(error = response.error_code, "replica fetch refused");
        let failed = positions
            .iter()
            .map(|(p, _)| (p.topic_id, p.index))
            .collect();
        return (failed, refusals.contains(&response.error_code));
    }
    let mut denied = false;
    let mut failed = Vec::new();
    for topic in response.responses {
        for data in topic.partitions {
            let Some((p, sent)) = positions
                .iter()
                .find(|(p, _)| p.topic_id == topic.topic_id && p.index == data.partition_index)
            else {
                continue;
            };
            if let Err(e) = apply_partition(p, sent, data) {
                match e {
                    ApplyError::Answer(Ok(error)) if refusals.contains(&error.code()) => {
                        denied = true;
                    }
                    ApplyError::Answer(error) => {
                        tracing::debug!(topic = %p.topic, partition = p.index, ?error, "replica fetch error");
                    }
                    ApplyError::Log(e) => {
                        tracing::error!(topic = %p.topic, partition = p.index, fetch_offset = sent.fetch_offset, error = %e, "replicated batches not appended; fetching this partition again in {PARTITION_BACKOFF:?}");
                    }
                }
                failed.push((p.topic_id, p.index));
            }
        }
    }
    (failed, denied)
}

/// Why one partition's part of an answer was not applied.
#[derive(Debug)]
enum ApplyError {
    /// The leader answered an error code for it.
    Answer(Result<ResponseError, i16>),
    /// The log refused the batches (corrupt, out of order) or the truncation, or the disk
    /// failed (full).
    Log(LogError),
}

fn apply_partition(
    p: &Partition,
    sent: &FetchPosition,
    data: PartitionData,
) -> Result<(), ApplyError> {
    if data.error_code == ResponseError::OffsetOutOfRange.code()
        && data.log_start_offset > sent.fetch_offset
    {
        // Retention or DeleteRecords moved the leader's log start past what this replica holds.
        return p
            .restart_at_leader_start(sent.fetch_offset, data.log_start_offset)
            .map(drop)
            .map_err(ApplyError::Log);
    }
    if data.error_code != 0 {
        return Err(ApplyError::Answer(
            ResponseError::try_from_code(data.error_code).ok_or(data.error_code),
        ));
    }
    let diverging = &data.diverging_epoch;
    if diverging.epoch >= 0 || diverging.end_offset >= 0 {
        let diverging = EpochEndOffset {
            leader_epoch: diverging.epoch,
            end_offset: diverging.end_offset,
        };
        let target = p.truncation_offset(sent.fetch_offset, diverging);
        return p.truncate_to(target).map_err(ApplyError::Log);
    }
    let records = data.records.unwrap_or_default();
    let now = crate::partition::manager::now_ms();
    p.append_fetched(
        sent.fetch_offset,
        records,
        data.high_watermark,
        data.log_start_offset,
        now,
    )
    .map(drop)
    .map_err(ApplyError::Log)
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::fetch_response::FetchableTopicResponse;

    use super::*;
    use crate::log::builder::{build_batch, NewRecord};
    use crate::log::{Log, LogConfig};
    use crate::metadata::PartitionState;

    /// A partition that node 2 follows, led by node 1, over a fresh log in `dir`.
    fn follower(dir: &std::path::Path, topic_id: Uuid, index: i32) -> Arc<Partition> {
        let log = Log::open(dir, LogConfig::default(), 0).expect("open log");
        let p = Partition::new(Arc::from("t"), index, topic_id, log, false);
        let state = PartitionState {
            replicas: vec![1, 2],
            isr: vec![1, 2],
            leader: 1,
            ..PartitionState::default()
        };
        p.apply_state(2, &state, 0).expect("follow");
        Arc::new(p)
    }

    /// `count` records in one batch starting at `base_offset`.
    fn batch(base_offset: i64, count: usize) -> Bytes {
        let records: Vec<NewRecord> = (0..count)
            .map(|i| NewRecord {
                key: None,
                value: Some(Bytes::from(format!("v{i}"))),
            })
            .collect();
        let mut b = BytesMut::from(&build_batch(&records, 1_700_000_000_000)[..]);
        b[..8].copy_from_slice(&base_offset.to_be_bytes()); // outside the CRC
        b.freeze()
    }

    fn flip_a_byte_inside_the_crc(batch: &Bytes) -> Bytes {
        let mut b = BytesMut::from(&batch[..]);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        b.freeze()
    }

    fn answer(topic_id: Uuid, parts: Vec<(i32, Bytes)>) -> FetchResponse {
        let partitions = parts
            .into_iter()
            .map(|(index, records)| {
                PartitionData::default()
                    .with_partition_index(index)
                    .with_high_watermark(0)
                    .with_log_start_offset(0)
                    .with_records(Some(records))
            })
            .collect();
        FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic_id(topic_id)
            .with_partitions(partitions)])
    }

    #[test]
    fn a_corrupt_batch_is_not_appended_and_the_other_partition_is() {
        let (d0, d1) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let topic_id = Uuid::new_v4();
        let (p0, p1) = (
            follower(d0.path(), topic_id, 0),
            follower(d1.path(), topic_id, 1),
        );
        let positions: Vec<_> = [&p0, &p1]
            .iter()
            .map(|p| ((*p).clone(), p.fetch_position().expect("a follower")))
            .collect();
        // Partition 0: a good batch then a corrupt one, in one answer; partition 1: good.
        let mut bad = BytesMut::from(&batch(0, 3)[..]);
        bad.extend_from_slice(&flip_a_byte_inside_the_crc(&batch(3, 2)));
        let response = answer(topic_id, vec![(0, bad.freeze()), (1, batch(0, 4))]);

        let (failed, refused) = apply(&positions, response);

        assert!(!refused);
        assert_eq!(
            failed,
            vec![(topic_id, 0)],
            "only the corrupt partition rests"
        );
        // Nothing of the corrupt answer reached the log, not even the good batch before it.
        assert_eq!(p0.log_end_offset(), 0);
        let segment = d0.path().join("00000000000000000000.log");
        assert_eq!(std::fs::metadata(segment).map_or(0, |m| m.len()), 0);
        assert_eq!(p1.log_end_offset(), 4);

        // Fetched again (healthy this time), partition 0 catches up from where it was.
        let positions = vec![(p0.clone(), p0.fetch_position().unwrap())];
        assert_eq!(positions[0].1.fetch_offset, 0);
        let (failed, _) = apply(&positions, answer(topic_id, vec![(0, batch(0, 5))]));
        assert!(failed.is_empty());
        assert_eq!(p0.log_end_offset(), 5);
    }

    #[test]
    fn error_answers_and_garbage_rest_the_partition_without_panicking() {
        let d = tempfile::tempdir().unwrap();
        let topic_id = Uuid::new_v4();
        let p = follower(d.path(), topic_id, 0);
        let positions = vec![(p.clone(), p.fetch_position().unwrap())];
        let mut refused = answer(topic_id, vec![(0, Bytes::new())]);
        refused.responses[0].partitions[0].error_code = ResponseError::FencedLeaderEpoch.code();
        assert_eq!(apply(&positions, refused), (vec![(topic_id, 0)], false));
        let whole = batch(0, 2);
        for garbage in [
            Bytes::from_static(&[0xff; 7]),
            whole.slice(..whole.len() - 1), // a batch cut short
            Bytes::from(vec![0u8; 61]),     // a zero header
        ] {
            assert_eq!(
                apply(&positions, answer(topic_id, vec![(0, garbage)])),
                (vec![(topic_id, 0)], false)
            );
        }
        let top_level = FetchResponse::default().with_error_code(1);
        assert_eq!(apply(&positions, top_level), (vec![(topic_id, 0)], false));
        assert_eq!(p.log_end_offset(), 0);
    }

    fn positions(partitions: &[Arc<Partition>]) -> Vec<(Arc<Partition>, FetchPosition)> {
        partitions
            .iter()
            .map(|p| (p.clone(), p.fetch_position().expect("follower")))
            .collect()
    }

    fn named(request: &FetchRequest) -> Vec<i32> {
        let mut all: Vec<i32> = request
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.partition))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn a_session_fetch_names_only_moved_partitions_and_forgets_dropped_ones() {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let topic_id = Uuid::new_v4();
        let parts: Vec<_> = (0..3)
            .map(|i| follower(dirs[i].path(), topic_id, i as i32))
            .collect();
        let mut session = Session::default();
        let first = session.fetch(2, 7, &positions(&parts));
        assert_eq!(
            (first.request.session_id, first.request.session_epoch),
            (0, 0)
        );
        assert_eq!(named(&first.request), [0, 1, 2]);
        session.answered(first, &FetchResponse::default().with_session_id(42));

        // Nothing moved: an incremental fetch that names nothing.
        let next = session.fetch(2, 7, &positions(&parts));
        assert_eq!(
            (next.request.session_id, next.request.session_epoch),
            (42, 1)
        );
        assert!(named(&next.request).is_empty());
        assert!(next.request.forgotten_topics_data.is_empty());
        session.answered(next, &FetchResponse::default().with_session_id(42));

        // Partition 1 appended (its fetch offset moved); partition 2 is no longer fetched.
        parts[1]
            .append_fetched(0, batch(0, 2), 0, 0, 0)
            .expect("append");
        let next = session.fetch(2, 7, &positions(&parts[..2]));
        assert_eq!(next.request.session_epoch, 2);
        assert_eq!(named(&next.request), [1]);
        assert_eq!(next.request.topics[0].partitions[0].fetch_offset, 2);
        assert_eq!(next.request.forgotten_topics_data[0].partitions, [2]);

        // After a failure, a fresh session: a full fetch again.
        session = Session::default();
        let again = session.fetch(2, 7, &positions(&parts[..2]));
        assert_eq!(
            (again.request.session_id, again.request.session_epoch),
            (0, 0)
        );
        assert_eq!(named(&again.request), [0, 1]);
    }
}
