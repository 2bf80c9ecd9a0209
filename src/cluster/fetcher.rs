//! Replica fetchers: a follower replicates with Kafka's own Fetch API, as a Kafka broker does
//! (`ReplicaFetcherThread`). One task per leader broker fetches every partition this node
//! follows there, on one connection to the leader's client listener:
//! - the request carries this node's id and broker epoch (ReplicaState, v15+), and per
//!   partition the leader epoch it knows, its log end offset as fetch offset and the epoch of
//!   its last batch (LastFetchedEpoch), so the leader can tell where the logs diverge;
//! - a DivergingEpoch answer truncates the log where the leader's log stops agreeing (never at
//!   the high watermark), and the next fetch goes on from there;
//! - records are appended unchanged (`Log::append_as_follower`); a corrupt batch appends
//!   nothing, is logged, and is fetched again;
//! - the follower's high watermark is the leader's, bounded by its own log end.
//!
//! The set of partitions per leader follows the metadata ([`ReplicaFetchers::assign`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse};
use kafka_protocol::ResponseError;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::kafka_client;
use crate::broker::Broker;
use crate::log::EpochEndOffset;
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
const IO_TIMEOUT: Duration = Duration::from_secs(10);

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
            let Some(e) = image.brokers.get(&leader).and_then(|b| b.endpoint()) else {
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
    let mut connection: Option<TcpStream> = None;
    let mut correlation_id = 0i32;
    loop {
        let current = partitions.borrow_and_update().clone();
        let positions: Vec<(Arc<Partition>, FetchPosition)> = current
            .into_iter()
            .filter_map(|p| {
                let position = p.fetch_position()?;
                (position.leader == leader).then_some((p, position))
            })
            .collect();
        if positions.is_empty() {
            if partitions.changed().await.is_err() {
                return;
            }
            continue;
        }
        let broker_epoch = broker.cluster.as_ref().map_or(-1, |c| c.broker_epoch());
        let request = fetch_request(broker.node_id, broker_epoch, &positions);
        correlation_id = correlation_id.wrapping_add(1);
        let wait = IO_TIMEOUT + Duration::from_millis(FETCH_WAIT_MS as u64);
        let answer = match connection.as_mut() {
            Some(stream) => {
                kafka_client::call(
                    stream,
                    ApiKey::Fetch,
                    FETCH_VERSION,
                    &request,
                    correlation_id,
                    wait,
                )
                .await
            }
            None => match kafka_client::connect(&address).await {
                Ok(mut stream) => {
                    let answer = kafka_client::call(
                        &mut stream,
                        ApiKey::Fetch,
                        FETCH_VERSION,
                        &request,
                        correlation_id,
                        wait,
                    )
                    .await;
                    connection = Some(stream);
                    answer
                }
                Err(e) => Err(e),
            },
        };
        let response = match answer {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(leader, error = %e, "replica fetch failed");
                connection = None;
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        let applied = tokio::task::spawn_blocking(move || apply(&positions, response)).await;
        if !matches!(applied, Ok(true)) {
            // Errors only: wait for the metadata to catch up rather than spinning.
            tokio::select! {
                _ = tokio::time::sleep(BACKOFF) => {}
                _ = partitions.changed() => {}
            }
        }
    }
}

fn fetch_request(
    node_id: i32,
    broker_epoch: i64,
    positions: &[(Arc<Partition>, FetchPosition)],
) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (p, pos) in positions {
        let partition = FetchPartition::default()
            .with_partition(p.index)
            .with_current_leader_epoch(pos.leader_epoch)
            .with_fetch_offset(pos.fetch_offset)
            .with_last_fetched_epoch(pos.last_fetched_epoch)
            .with_log_start_offset(pos.log_start_offset)
            .with_partition_max_bytes(PARTITION_MAX_BYTES);
        match topics.iter_mut().find(|t| t.topic_id == p.topic_id) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(
                FetchTopic::default()
                    .with_topic_id(p.topic_id)
                    .with_partitions(vec![partition]),
            ),
        }
    }
    FetchRequest::default()
        .with_replica_state(
            ReplicaState::default()
                .with_replica_id(BrokerId(node_id))
                .with_replica_epoch(broker_epoch),
        )
        .with_max_wait_ms(FETCH_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(RESPONSE_MAX_BYTES)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics)
}

/// Applies one fetch answer (blocking file work). True if any partition made progress or had
/// nothing to do; false if every partition answered an error.
fn apply(positions: &[(Arc<Partition>, FetchPosition)], response: FetchResponse) -> bool {
    if response.error_code != 0 {
        tracing::warn!(error = response.error_code, "replica fetch refused");
        return false;
    }
    let mut progressed = false;
    for topic in response.responses {
        for data in topic.partitions {
            let Some((p, sent)) = positions
                .iter()
                .find(|(p, _)| p.topic_id == topic.topic_id && p.index == data.partition_index)
            else {
                continue;
            };
            progressed |= apply_partition(p, sent, data);
        }
    }
    progressed
}

fn apply_partition(p: &Partition, sent: &FetchPosition, data: PartitionData) -> bool {
    if data.error_code == ResponseError::OffsetOutOfRange.code()
        && data.log_start_offset > sent.fetch_offset
    {
        return match p.restart_at_leader_start(sent.fetch_offset, data.log_start_offset) {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "starting the log again at the leader's log start failed");
                false
            }
        };
    }
    if data.error_code != 0 {
        let error = ResponseError::try_from_code(data.error_code);
        tracing::debug!(topic = %p.topic, partition = p.index, ?error, "replica fetch error");
        return false;
    }
    let diverging = &data.diverging_epoch;
    if diverging.epoch >= 0 || diverging.end_offset >= 0 {
        let diverging = EpochEndOffset {
            leader_epoch: diverging.epoch,
            end_offset: diverging.end_offset,
        };
        let target = p.truncation_offset(sent.fetch_offset, diverging);
        if let Err(e) = p.truncate_to(target) {
            tracing::error!(topic = %p.topic, partition = p.index, error = %e, "truncating to the leader's log failed");
            return false;
        }
        return true;
    }
    let records = data.records.unwrap_or_default();
    let now = crate::partition::manager::now_ms();
    match p.append_fetched(
        sent.fetch_offset,
        records,
        data.high_watermark,
        data.log_start_offset,
        now,
    ) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(topic = %p.topic, partition = p.index, fetch_offset = sent.fetch_offset, error = %e, "replicated batches refused; fetching them again");
            false
        }
    }
}
