//! The transaction coordinator: transactional ids, their producer ids and epochs, and the
//! two-phase completion of their transactions (Kafka's transactions V1, KIP-98 with KIP-360).
//!
//! One coordinator owns every transactional id on this broker; its mutex is the single writer.
//! A state change is written to the id's `__transaction_state` partition (Java `hashCode`
//! placement, as Kafka) and then applied; at start the topic is replayed ([`records`] holds
//! Kafka's own schemas). EndTxn writes PrepareCommit/PrepareAbort, then a commit or abort marker
//! into every partition of the transaction, then CompleteCommit/CompleteAbort; on one node the
//! markers are written directly (Kafka sends WriteTxnMarkers to the partition leaders). A
//! transaction found in a Prepare state at start is completed then, so a crash between the
//! phases loses nothing; an Ongoing one is left to its timeout, as in Kafka.
//!
//! A transaction open longer than its `transaction.timeout.ms` is aborted by `tick` with the
//! producer's epoch bumped, which fences the producer that let it time out.

pub mod records;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use kafka_protocol::ResponseError;

use super::{append_internal, ensure_internal_topic, replay_partition, Replayed};
use crate::broker::Broker;
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::log::builder::{build_batch, ControlType, NewRecord};
use crate::log::LogError;
use crate::partition::manager::now_ms;
use records::{partition_for, TxnRecord, TxnState};
pub use state::{EndStep, InitStep, TxnError, TxnMetadata};

pub const TXN_TOPIC: &str = "__transaction_state";
/// Single node: the coordinator epoch never changes (it is bumped when a partition of
/// `__transaction_state` moves to another broker).
const COORDINATOR_EPOCH: i32 = 0;

/// Kafka's transaction coordinator settings.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions`.
    pub partitions: i32,
    /// `transaction.max.timeout.ms`: the largest timeout a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    pub abort_check_interval_ms: u64,
}

impl TxnError {
    pub fn code(self) -> i16 {
        match self {
            TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
            TxnError::ProducerFenced => ResponseError::ProducerFenced,
            TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
            TxnError::InvalidTxnState => ResponseError::InvalidTxnState,
            TxnError::InvalidTransactionTimeout => ResponseError::InvalidTransactionTimeout,
        }
        .code()
    }
}

pub struct TransactionCoordinator {
    config: TxnConfig,
    txns: Mutex<HashMap<String, TxnMetadata>>,
}

type Txns = HashMap<String, TxnMetadata>;

impl TransactionCoordinator {
    pub fn new(mut config: TxnConfig) -> Self {
        config.partitions = config.partitions.max(1);
        Self {
            config,
            txns: Mutex::new(HashMap::new()),
        }
    }

    pub fn abort_check_interval_ms(&self) -> u64 {
        self.config.abort_check_interval_ms.max(1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Txns> {
        self.txns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuilds the transactional ids from `__transaction_state`, then completes transactions a
    /// crash left between their two phases.
    pub fn load(&self, broker: &Broker) {
        if broker.image().topic(TXN_TOPIC).is_none() {
            return;
        }
        let mut txns = self.lock();
        for p in 0..self.config.partitions {
            replay_partition(broker, TXN_TOPIC, p, |item| {
                let Replayed::Records(_, records) = item else {
                    return;
                };
                for r in records {
                    let key = r.key.as_deref().unwrap_or_default();
                    match TxnRecord::decode(key, r.value.as_deref()) {
                        Ok(Some(TxnRecord {
                            transactional_id,
                            value: Some(v),
                        })) => {
                            txns.insert(transactional_id, TxnMetadata::from_value(&v));
                        }
                        Ok(Some(TxnRecord {
                            transactional_id,
                            value: None,
                        })) => {
                            txns.remove(&transactional_id);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(partition = p, offset = r.offset, error = %e, "skipping an undecodable __transaction_state record")
                        }
                    }
                }
            });
        }
        if !txns.is_empty() {
            tracing::info!(
                transactional_ids = txns.len(),
                "loaded transactions from __transaction_state"
            );
        }
        let preparing: Vec<(String, TxnMetadata)> = txns
            .iter()
            .filter(|(_, t)| matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        for (id, prepared) in preparing {
            tracing::info!(transactional_id = %id, state = prepared.state.name(), "completing a transaction interrupted by a restart");
            if let Err(code) = self.finish(broker, &mut txns, &id, prepared) {
                tracing::error!(transactional_id = %id, code, "could not complete the transaction");
            }
        }
    }

    /// Writes a transactional id's new metadata; on success applies it.
    fn write(
        &self,
        broker: &Broker,
        txns: &mut Txns,
        transactional_id: &str,
        meta: TxnMetadata,
    ) -> Result<(), i16> {
        let record = TxnRecord {
            transactional_id: transactional_id.to_string(),
            value: Some(meta.to_value()),
        };
        if let Err(e) = record.validate() {
            tracing::warn!(error = %e, "refusing a transaction record that Kafka's schema cannot hold");
            return Err(ResponseError::InvalidRequest.code());
        }
        ensure_internal_topic(broker, TXN_TOPIC, self.config.partitions)?;
        let (key, value) = record.encode();
        let batch = build_batch(
            &[NewRecord {
                key: Some(key),
                value,
            }],
            now_ms(),
        );
        let partition = partition_for(transactional_id, self.config.partitions);
        append_internal(broker, TXN_TOPIC, partition, batch)?;
        txns.insert(transactional_id.to_string(), meta);
        Ok(())
    }

    /// InitProducerId for a transactional producer: the producer id and the (bumped) epoch.
    pub fn init_producer_id(
        &self,
        broker: &Broker,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), i16> {
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout.code());
        }
        let allocate = || {
            broker.controller.allocate_producer_id().map_err(|e| {
                tracing::error!(error = %e, "could not allocate a producer id");
                ResponseError::CoordinatorNotAvailable.code()
            })
        };
        let mut txns = self.lock();
        let now = now_ms();
        let Some(current) = txns.get(transactional_id).cloned() else {
            let meta = TxnMetadata::new(allocate()?, timeout_ms, now);
            let answer = (meta.producer_id, meta.producer_epoch);
            self.write(broker, &mut txns, transactional_id, meta)?;
            return Ok(answer);
        };
        let step = current
            .init(timeout_ms, expected, now, || allocate().ok())
            .map_err(TxnError::code)?;
        let next = match step {
            InitStep::Write(next) => next,
            InitStep::AbortOngoing => {
                // A new instance of the producer: fence the old one by aborting its
                // transaction under a bumped epoch, then hand out the next epoch.
                let fenced = current.fence_and_abort(now);
                self.write(broker, &mut txns, transactional_id, fenced.clone())?;
                self.finish(broker, &mut txns, transactional_id, fenced)?;
                let aborted = txns[transactional_id].clone();
                match aborted.init(timeout_ms, None, now, || allocate().ok()) {
                    Ok(InitStep::Write(next)) => next,
                    Ok(InitStep::AbortOngoing) => {
                        return Err(TxnError::ConcurrentTransactions.code())
                    }
                    Err(e) => return Err(e.code()),
                }
            }
        };
        let answer = (next.producer_id, next.producer_epoch);
        self.write(broker, &mut txns, transactional_id, next)?;
        Ok(answer)
    }

    /// AddPartitionsToTxn and AddOffsetsToTxn: adds partitions to the running transaction.
    pub fn add_partitions(
        &self,
        broker: &Broker,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), i16> {
        let mut txns = self.lock();
        let Some(current) = txns.get(transactional_id) else {
            return Err(TxnError::InvalidProducerIdMapping.code());
        };
        match current.add_partitions(producer_id, epoch, partitions, now_ms()) {
            Ok(None) => Ok(()),
            Ok(Some(next)) => self.write(broker, &mut txns, transactional_id, next),
            Err(e) => Err(e.code()),
        }
    }

    /// EndTxn: commit or abort the running transaction. Answers once the markers are written.
    pub fn end_txn(
        &self,
        broker: &Broker,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), i16> {
        let mut txns = self.lock();
        let Some(current) = txns.get(transactional_id) else {
            return Err(TxnError::InvalidProducerIdMapping.code());
        };
        match current.end(producer_id, epoch, commit, now_ms()) {
            Ok(EndStep::AlreadyDone) => Ok(()),
            Ok(EndStep::Prepare(prepared)) => {
                self.write(broker, &mut txns, transactional_id, prepared.clone())?;
                self.finish(broker, &mut txns, transactional_id, prepared)
            }
            Err(e) => Err(e.code()),
        }
    }

    /// Second phase: markers into every partition of the transaction, then Complete*.
    fn finish(
        &self,
        broker: &Broker,
        txns: &mut Txns,
        transactional_id: &str,
        prepared: TxnMetadata,
    ) -> Result<(), i16> {
        let control = if prepared.state == TxnState::PrepareCommit {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let now = now_ms();
        // Partitions led by other brokers get their markers through WriteTxnMarkers.
        let mut remote: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
        for (topic, index) in &prepared.partitions {
            let partition = match broker.leader_partition(topic, *index) {
                Ok(partition) => partition,
                Err(ResponseError::UnknownTopicOrPartition) => {
                    // Deleted meanwhile: Kafka drops markers for partitions that are gone.
                    tracing::warn!(topic = %topic, partition = index, "no marker written: partition is gone");
                    continue;
                }
                Err(_) => match broker.live_leader(topic, *index) {
                    Some((leader, _)) => {
                        remote
                            .entry(leader)
                            .or_default()
                            .push((topic.clone(), *index));
                        continue;
                    }
                    None => {
                        // No leader now: the transaction stays prepared; `tick` retries.
                        tracing::warn!(topic = %topic, partition = index, "no leader for a transaction marker yet");
                        return Err(ResponseError::CoordinatorNotAvailable.code());
                    }
                },
            };
            match partition.append_txn_marker(
                prepared.producer_id,
                prepared.producer_epoch,
                control,
                COORDINATOR_EPOCH,
                now,
            ) {
                Ok(_) => {}
                Err(LogError::InvalidProducerEpoch { .. }) => {
                    tracing::warn!(topic = %topic, partition = index, "marker from an older epoch skipped");
                }
                Err(e) => {
                    // The transaction stays in its Prepare state; `tick` retries it.
                    tracing::error!(topic = %topic, partition = index, error = %e, "writing a transaction marker failed");
                    return Err(ResponseError::CoordinatorNotAvailable.code());
                }
            }
            if topic == OFFSETS_TOPIC {
                broker.groups.complete_txn(
                    *index,
                    prepared.producer_id,
                    control == ControlType::Commit,
                );
            }
        }
        for (leader, partitions) in remote {
            markers_to(broker, leader, &prepared, control, partitions)?;
        }
        self.write(broker, txns, transactional_id, prepared.complete(now))
    }

    /// Aborts the transactions that outlived their timeout, fencing their producers, and writes
    /// again the markers of transactions left prepared by a failed marker write.
    pub fn tick(&self, broker: &Broker) {
        let mut txns = self.lock();
        let now = now_ms();
        let stuck: Vec<(String, TxnMetadata)> = txns
            .iter()
            .filter(|(_, t)| {
                matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                    && now.saturating_sub(t.last_update_ms) > PREPARED_RETRY_MS
            })
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        for (id, txn) in stuck {
            if let Err(code) = self.finish(broker, &mut txns, &id, txn) {
                tracing::warn!(transactional_id = %id, code, "transaction markers not written yet; retrying");
            }
        }
        let expired: Vec<(String, TxnMetadata)> = txns
            .iter()
            .filter(|(_, t)| t.timed_out(now))
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        for (id, txn) in expired {
            tracing::info!(transactional_id = %id, producer_id = txn.producer_id, "aborting a transaction that timed out");
            let fenced = txn.fence_and_abort(now);
            let done = self
                .write(broker, &mut txns, &id, fenced.clone())
                .and_then(|_| self.finish(broker, &mut txns, &id, fenced));
            if let Err(code) = done {
                tracing::error!(transactional_id = %id, code, "could not abort the timed-out transaction");
            }
        }
    }

    /// Verification before a producer's first transactional write to a partition (Kafka's
    /// `transaction.partition.verification.enable`, KIP-890 part 1): the producer's running
    /// transaction must contain the partition, or the write would open a transaction no marker
    /// will ever close (a hanging transaction holding back the last stable offset).
    pub fn verify_partition(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), i16> {
        let txns = self.lock();
        let Some(txn) = txns.values().find(|t| t.producer_id == producer_id) else {
            return Err(ResponseError::InvalidTxnState.code());
        };
        if epoch < txn.producer_epoch {
            return Err(ResponseError::InvalidProducerEpoch.code());
        }
        let added = txn.state == TxnState::Ongoing
            && txn.partitions.contains(&(topic.to_string(), partition));
        if added && epoch == txn.producer_epoch {
            Ok(())
        } else {
            Err(ResponseError::InvalidTxnState.code())
        }
    }

    /// DescribeTransactions.
    pub fn describe(&self, transactional_id: &str) -> Option<TxnMetadata> {
        self.lock().get(transactional_id).cloned()
    }

    /// ListTransactions: every transactional id with its metadata.
    pub fn list(&self) -> Vec<(String, TxnMetadata)> {
        let mut all: Vec<_> = self
            .lock()
            .iter()
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod broker_tests;

/// How long a transaction may stay prepared (its markers not all written) before `tick` writes
/// them again.
const PREPARED_RETRY_MS: i64 = 1000;

/// Writes a transaction's markers into `partitions`, led by broker `leader`, with
/// WriteTxnMarkers (Kafka's TransactionMarkerChannelManager; the leader answers once they are
/// replicated). A marker the leader refuses for an older producer epoch is skipped, as locally.
fn markers_to(
    broker: &Broker,
    leader: i32,
    prepared: &TxnMetadata,
    control: ControlType,
    partitions: Vec<(String, i32)>,
) -> Result<(), i16> {
    use kafka_protocol::messages::write_txn_markers_request::{
        WritableTxnMarker, WritableTxnMarkerTopic,
    };
    use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
    let unavailable = ResponseError::CoordinatorNotAvailable.code();
    let (Some(node), Some(address)) = (
        broker.cluster.as_ref(),
        broker
            .image()
            .brokers
            .get(&leader)
            .and_then(|b| b.endpoint())
            .map(|e| format!("{}:{}", e.host, e.port)),
    ) else {
        return Err(unavailable);
    };
    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, index) in partitions {
        topics.entry(topic).or_default().push(index);
    }
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(prepared.producer_id))
        .with_producer_epoch(prepared.producer_epoch)
        .with_transaction_result(control == ControlType::Commit)
        .with_coordinator_epoch(COORDINATOR_EPOCH)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, indexes)| {
                    WritableTxnMarkerTopic::default()
                        .with_name(TopicName(crate::handlers::str_bytes(name)))
                        .with_partition_indexes(indexes)
                })
                .collect(),
        );
    let request = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
    let response = node.write_txn_markers(address, request).map_err(|e| {
        tracing::warn!(leader, error = %e, "WriteTxnMarkers failed");
        unavailable
    })?;
    let refused = ResponseError::InvalidProducerEpoch.code();
    for result in response.markers {
        for topic in result.topics {
            for p in topic.partitions {
                if p.error_code != 0 && p.error_code != refused {
                    tracing::warn!(leader, topic = %topic.name.0, partition = p.partition_index, error = p.error_code, "a transaction marker was not written");
                    return Err(unavailable);
                }
            }
        }
    }
    Ok(())
}
