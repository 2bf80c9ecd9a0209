//! The transaction coordinator: transactional ids, their producer ids and epochs, and the
//! two-phase completion of their transactions (Kafka's transactions V1, KIP-98 with KIP-360, and
//! V2, KIP-890 part 2: with EndTxn v5 the Prepare step bumps the producer epoch, the markers carry
//! the bumped epoch and the producer goes on with it; partitions of a V2 producer are registered
//! by their leaders, see [`registration`]).
//!
//! A transactional id belongs to one `__transaction_state` partition (Java `hashCode`
//! placement, as Kafka), and the broker that leads that partition coordinates it: the
//! coordinator moves with leadership. Each led partition is a shard with its own lock, the
//! single writer of its ids. A state change is written to the partition, replicated to its ISR
//! (acks=all), and then applied; a new leader replays the partition ([`records`] holds Kafka's
//! own schemas). EndTxn writes PrepareCommit/PrepareAbort, then a commit or abort marker into
//! every partition of the transaction (directly where this broker leads it, with
//! WriteTxnMarkers where another does), then CompleteCommit/CompleteAbort. A transaction found
//! prepared by a new coordinator (or at start) is completed then, so the loss of a coordinator
//! between the phases loses nothing; an Ongoing one is left to its timeout, as in Kafka.
//!
//! A transaction open longer than its `transaction.timeout.ms` is aborted by `tick` with the
//! producer's epoch bumped, which fences the producer that let it time out. A transactional id
//! idle for `transactional.id.expiration.ms` with no transaction running is forgotten by `tick`
//! (every `transaction.remove.expired.transaction.cleanup.interval.ms`): a tombstone for its key
//! goes to `__transaction_state`, as Kafka writes one, and then it leaves the shard.

pub mod records;
pub mod registration;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use kafka_protocol::ResponseError;

use super::{
    append_replicated, ensure_internal_topic, replay_partition, wait_replicated, Replayed,
};
use crate::broker::Broker;
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::handlers::Replicating;
use crate::log::builder::{build_batch, ControlType, NewRecord};
use crate::log::LogError;
use crate::metadata::features::TRANSACTION_VERSION;
use crate::partition::manager::now_ms;
use records::{partition_for, TxnRecord, TxnState};
pub use state::{EndStep, InitStep, TxnError, TxnMetadata, TV_2};

pub const TXN_TOPIC: &str = "__transaction_state";
/// Kafka's transaction coordinator settings.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions`.
    pub partitions: i32,
    /// `transaction.max.timeout.ms`: the largest timeout a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    pub abort_check_interval_ms: u64,
    /// `transactional.id.expiration.ms`: idle time after which a finished id is forgotten.
    pub id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    pub remove_expired_interval_ms: i64,
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
    /// The `__transaction_state` partitions this broker leads, loaded: one lock per partition,
    /// so transactional ids of different partitions never wait for each other.
    shards: RwLock<BTreeMap<i32, Arc<Shard>>>,
    /// Serializes loading and unloading (metadata changes and first use race).
    syncing: Mutex<()>,
    /// When `tick` last looked for transactions that outlived their timeout.
    last_abort_check_ms: AtomicI64,
    /// When `tick` last looked for transactional ids idle past their expiration.
    last_expiry_check_ms: AtomicI64,
}

/// The transactional ids of one `__transaction_state` partition.
struct Shard {
    partition: i32,
    /// The partition's leader epoch when it was loaded: Kafka's coordinator epoch. Writes are
    /// refused once the partition has moved on, and markers carry it (a partition leader
    /// refuses markers of an older coordinator).
    coordinator_epoch: i32,
    txns: Mutex<Txns>,
}

type Txns = HashMap<String, TxnMetadata>;

impl Shard {
    /// The shard's ids. Its holder may be waiting for followers (which this broker's async
    /// workers serve), so a contended lock is waited for off the async workers.
    fn lock(&self) -> std::sync::MutexGuard<'_, Txns> {
        use std::sync::TryLockError;
        match self.txns.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => crate::cluster::off_async_workers(|| {
                self.txns.lock().unwrap_or_else(|p| p.into_inner())
            }),
        }
    }
}

impl TransactionCoordinator {
    pub fn new(mut config: TxnConfig) -> Self {
        config.partitions = config.partitions.max(1);
        Self {
            config,
            shards: RwLock::new(BTreeMap::new()),
            syncing: Mutex::new(()),
            last_abort_check_ms: AtomicI64::new(0),
            last_expiry_check_ms: AtomicI64::new(0),
        }
    }

    pub fn abort_check_interval_ms(&self) -> u64 {
        self.config.abort_check_interval_ms.max(1)
    }

    fn loaded(&self) -> Vec<Arc<Shard>> {
        let shards = self.shards.read().unwrap_or_else(|p| p.into_inner());
        shards.values().cloned().collect()
    }

    fn loaded_shard(&self, p: i32) -> Option<Arc<Shard>> {
        let shards = self.shards.read().unwrap_or_else(|p| p.into_inner());
        shards.get(&p).cloned()
    }

    /// Coordinators move with leadership: loads the partitions of `__transaction_state` this
    /// broker now leads (or leads in a new epoch) and drops those it no longer leads (Kafka's
    /// onElection/onResignation). Never called with a shard lock held.
    pub fn sync(&self, broker: &Broker) {
        let _syncing = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        let led: BTreeMap<i32, i32> = match broker.image().topic(TXN_TOPIC) {
            Some(t) => (0..t.partitions)
                .filter_map(|p| {
                    let partition = broker.leader_partition(TXN_TOPIC, p).ok()?;
                    Some((p, partition.leader_epoch()))
                })
                .collect(),
            None => BTreeMap::new(),
        };
        for shard in self.loaded() {
            if led.get(&shard.partition) != Some(&shard.coordinator_epoch) {
                self.shards
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&shard.partition);
                tracing::info!(
                    partition = shard.partition,
                    "no longer coordinating the transactions of __transaction_state"
                );
            }
        }
        for (p, epoch) in led {
            if self.loaded_shard(p).is_none() {
                let shard = Arc::new(self.load_partition(broker, p, epoch));
                self.shards
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(p, shard);
            }
        }
    }

    /// Rebuilds the transactional ids of partition `p` from its log (to the log end: a new
    /// leader's log is what will be committed). Transactions found prepared are completed by
    /// `tick` (or at start, by [`Self::complete_prepared`]).
    fn load_partition(&self, broker: &Broker, p: i32, coordinator_epoch: i32) -> Shard {
        let mut txns = Txns::new();
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
        tracing::info!(
            partition = p,
            coordinator_epoch,
            transactional_ids = txns.len(),
            "coordinating the transactions of __transaction_state"
        );
        Shard {
            partition: p,
            coordinator_epoch,
            txns: Mutex::new(txns),
        }
    }

    /// The shard that coordinates `transactional_id`: NOT_COORDINATOR when another broker
    /// leads its partition, COORDINATOR_LOAD_IN_PROGRESS while this one is loading it. The
    /// topic is created on first use, as Kafka does.
    fn shard(&self, broker: &Broker, transactional_id: &str) -> Result<Arc<Shard>, i16> {
        let p = partition_for(transactional_id, self.config.partitions);
        if let Some(shard) = self.loaded_shard(p) {
            return Ok(shard);
        }
        if broker.image().topic(TXN_TOPIC).is_none() {
            ensure_internal_topic(broker, TXN_TOPIC, self.config.partitions)?;
            self.sync(broker);
            if let Some(shard) = self.loaded_shard(p) {
                return Ok(shard);
            }
        }
        Err(match broker.leader_partition(TXN_TOPIC, p) {
            Ok(_) => ResponseError::CoordinatorLoadInProgress.code(),
            Err(_) => ResponseError::NotCoordinator.code(),
        })
    }

    /// Writes a transactional id's new metadata, replicated; on success applies it.
    fn write(
        &self,
        broker: &Broker,
        shard: &Shard,
        txns: &mut Txns,
        transactional_id: &str,
        meta: TxnMetadata,
    ) -> Result<(), i16> {
        let record = TxnRecord {
            transactional_id: transactional_id.to_string(),
            value: Some(meta.to_value()),
        };
        append_record(broker, shard, record)?;
        txns.insert(transactional_id.to_string(), meta);
        Ok(())
    }

    /// Forgets the ids of `shard` that `TxnMetadata::expired` at `now`: a tombstone each,
    /// replicated, then removal (Kafka's removeExpiredTransactionalIds). Returns how many.
    fn remove_expired_ids(
        &self,
        broker: &Broker,
        shard: &Shard,
        txns: &mut Txns,
        now: i64,
    ) -> usize {
        let expired: Vec<String> = txns
            .iter()
            .filter(|(_, t)| t.expired(now, self.config.id_expiration_ms))
            .map(|(id, _)| id.clone())
            .collect();
        let mut removed = 0;
        for id in expired {
            let tombstone = TxnRecord {
                transactional_id: id.clone(),
                value: None,
            };
            match append_record(broker, shard, tombstone) {
                Ok(()) => {
                    txns.remove(&id);
                    removed += 1;
                }
                Err(code) => {
                    // Kept; the next pass tries again.
                    tracing::warn!(transactional_id = %id, code, "could not write the tombstone of an expired transactional id");
                }
            }
        }
        if removed > 0 {
            tracing::info!(
                partition = shard.partition,
                removed,
                "removed expired transactional ids"
            );
        }
        removed
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
        let shard = self.shard(broker, transactional_id)?;
        let mut txns = shard.lock();
        let now = now_ms();
        let Some(current) = txns.get(transactional_id).cloned() else {
            let meta = TxnMetadata::new(allocate()?, timeout_ms, now);
            let answer = (meta.producer_id, meta.producer_epoch);
            self.write(broker, &shard, &mut txns, transactional_id, meta)?;
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
                self.write(broker, &shard, &mut txns, transactional_id, fenced.clone())?;
                self.finish(broker, &shard, &mut txns, transactional_id, fenced)?;
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
        self.write(broker, &shard, &mut txns, transactional_id, next)?;
        Ok(answer)
    }

    /// AddPartitionsToTxn and AddOffsetsToTxn (`client_transaction_version` 0), or the
    /// partitions a V2 producer's Produce v12+ / TxnOffsetCommit v5+ registers implicitly (2):
    /// adds partitions to the running transaction, starting one if none runs.
    pub fn add_partitions(
        &self,
        broker: &Broker,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        client_transaction_version: i16,
    ) -> Result<(), i16> {
        let shard = self.shard(broker, transactional_id)?;
        let mut txns = shard.lock();
        let Some(current) = txns.get(transactional_id) else {
            return Err(TxnError::InvalidProducerIdMapping.code());
        };
        match current.add_partitions(
            producer_id,
            epoch,
            partitions,
            now_ms(),
            client_transaction_version,
        ) {
            Ok(None) => Ok(()),
            Ok(Some(next)) => self.write(broker, &shard, &mut txns, transactional_id, next),
            Err(e) => Err(e.code()),
        }
    }

    /// EndTxn: commit or abort the running transaction. Answers once the markers are written,
    /// with the producer id and epoch the producer goes on with: in V2
    /// (`client_transaction_version` 2, EndTxn v5+) the epoch was bumped, and the markers were
    /// written with it.
    pub fn end_txn(
        &self,
        broker: &Broker,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        client_transaction_version: i16,
    ) -> Result<(i64, i16), i16> {
        let shard = self.shard(broker, transactional_id)?;
        let mut txns = shard.lock();
        let Some(current) = txns.get(transactional_id) else {
            return Err(TxnError::InvalidProducerIdMapping.code());
        };
        let allocate = || broker.controller.allocate_producer_id().ok();
        match current.end(
            producer_id,
            epoch,
            commit,
            now_ms(),
            client_transaction_version,
            allocate,
        ) {
            Ok(EndStep::AlreadyDone) => Ok((current.producer_id, current.producer_epoch)),
            Ok(EndStep::Prepare(prepared)) => {
                self.write(
                    broker,
                    &shard,
                    &mut txns,
                    transactional_id,
                    prepared.clone(),
                )?;
                self.finish(broker, &shard, &mut txns, transactional_id, prepared)?;
                let done = &txns[transactional_id];
                Ok((done.producer_id, done.producer_epoch))
            }
            Err(e) => Err(e.code()),
        }
    }

    /// Second phase: markers into every partition of the transaction, replicated, then
    /// Complete*.
    fn finish(
        &self,
        broker: &Broker,
        shard: &Shard,
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
        let mut local = Vec::new();
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
            let leader_epoch = partition.leader_epoch();
            match partition.append_txn_marker(
                prepared.producer_id,
                prepared.producer_epoch,
                control,
                shard.coordinator_epoch,
                now,
            ) {
                Ok(info) => local.push(Replicating {
                    partition,
                    leader_epoch,
                    required: info.last_offset + 1,
                }),
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
            markers_to(broker, leader, shard, &prepared, control, partitions)?;
        }
        // Complete* only once every marker is on its partition's ISR: a new leader of a data
        // partition must not lack a marker the coordinator counts as written.
        wait_replicated(broker, local).map_err(|e| {
            tracing::warn!(transactional_id, error = ?e, "transaction markers not replicated yet");
            ResponseError::CoordinatorNotAvailable.code()
        })?;
        self.write(
            broker,
            shard,
            txns,
            transactional_id,
            prepared.complete(now),
        )
    }

    /// Completes the transactions found prepared at start (a crash came between the phases).
    pub fn complete_prepared(&self, broker: &Broker) {
        for shard in self.loaded() {
            self.retry_prepared(broker, &shard, &mut shard.lock(), 0);
        }
    }

    /// Writes again the markers of transactions prepared more than `min_age_ms` ago: left so by
    /// a failed marker write, or by the coordinator this one took over from.
    fn retry_prepared(&self, broker: &Broker, shard: &Shard, txns: &mut Txns, min_age_ms: i64) {
        let now = now_ms();
        let stuck: Vec<(String, TxnMetadata)> = txns
            .iter()
            .filter(|(_, t)| {
                matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                    && now.saturating_sub(t.last_update_ms) >= min_age_ms
            })
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        for (id, txn) in stuck {
            tracing::info!(transactional_id = %id, state = txn.state.name(), "completing a prepared transaction");
            if let Err(code) = self.finish(broker, shard, txns, &id, txn) {
                tracing::warn!(transactional_id = %id, code, "transaction markers not written yet; retrying");
            }
        }
    }

    /// Completes prepared transactions whose markers are not written yet and, every
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`, aborts the transactions
    /// that outlived their timeout, fencing their producers.
    pub fn tick(&self, broker: &Broker) {
        let now = now_ms();
        let last = self.last_abort_check_ms.load(Ordering::Relaxed);
        let check_timeouts = now.saturating_sub(last) >= self.abort_check_interval_ms() as i64;
        if check_timeouts {
            self.last_abort_check_ms.store(now, Ordering::Relaxed);
        }
        let last = self.last_expiry_check_ms.load(Ordering::Relaxed);
        let check_expiry =
            now.saturating_sub(last) >= self.config.remove_expired_interval_ms.max(1);
        if check_expiry {
            self.last_expiry_check_ms.store(now, Ordering::Relaxed);
        }
        for shard in self.loaded() {
            let mut txns = shard.lock();
            self.retry_prepared(broker, &shard, &mut txns, PREPARED_RETRY_MS);
            if check_timeouts {
                self.abort_timed_out(broker, &shard, &mut txns);
            }
            if check_expiry {
                self.remove_expired_ids(broker, &shard, &mut txns, now);
            }
        }
    }

    fn abort_timed_out(&self, broker: &Broker, shard: &Shard, txns: &mut Txns) {
        let now = now_ms();
        let expired: Vec<(String, TxnMetadata)> = txns
            .iter()
            .filter(|(_, t)| t.timed_out(now))
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        for (id, txn) in expired {
            tracing::info!(transactional_id = %id, producer_id = txn.producer_id, "aborting a transaction that timed out");
            let fenced = txn.fence_and_abort(now);
            let done = self
                .write(broker, shard, txns, &id, fenced.clone())
                .and_then(|_| self.finish(broker, shard, txns, &id, fenced));
            if let Err(code) = done {
                tracing::error!(transactional_id = %id, code, "could not abort the timed-out transaction");
            }
        }
    }

    /// Verification before a producer's first transactional write to a partition (Kafka's
    /// `transaction.partition.verification.enable`, KIP-890 part 1): the producer's running
    /// transaction must contain the partition, or the write would open a transaction no marker
    /// will ever close (a hanging transaction holding back the last stable offset). In a
    /// cluster, a transactional id coordinated by another broker is not verified (that takes
    /// AddPartitionsToTxn v4 between brokers).
    pub fn verify_partition(
        &self,
        broker: &Broker,
        transactional_id: Option<&str>,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), i16> {
        let shards = match transactional_id {
            Some(id) => match self.loaded_shard(partition_for(id, self.config.partitions)) {
                Some(shard) => vec![shard],
                None if broker.cluster.is_some() => return Ok(()),
                None => vec![],
            },
            None => self.loaded(),
        };
        let txn = shards.iter().find_map(|shard| {
            shard
                .lock()
                .values()
                .find(|t| t.producer_id == producer_id)
                .cloned()
        });
        let Some(txn) = txn else {
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

    /// DescribeTransactions: the id's metadata, None when it is unknown, or NOT_COORDINATOR /
    /// COORDINATOR_LOAD_IN_PROGRESS when another broker coordinates it.
    pub fn describe(
        &self,
        broker: &Broker,
        transactional_id: &str,
    ) -> Result<Option<TxnMetadata>, i16> {
        let p = partition_for(transactional_id, self.config.partitions);
        match self.loaded_shard(p) {
            Some(shard) => Ok(shard.lock().get(transactional_id).cloned()),
            None if broker.image().topic(TXN_TOPIC).is_none() => Ok(None),
            None => Err(match broker.leader_partition(TXN_TOPIC, p) {
                Ok(_) => ResponseError::CoordinatorLoadInProgress.code(),
                Err(_) => ResponseError::NotCoordinator.code(),
            }),
        }
    }

    /// ListTransactions: every transactional id coordinated here, with its metadata (the
    /// admin client asks every broker).
    pub fn list(&self) -> Vec<(String, TxnMetadata)> {
        let mut all: Vec<_> = self
            .loaded()
            .iter()
            .flat_map(|shard| {
                shard
                    .lock()
                    .iter()
                    .map(|(id, t)| (id.clone(), t.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod broker_tests;

/// Appends one `__transaction_state` record to the shard's partition and waits for its ISR.
fn append_record(broker: &Broker, shard: &Shard, record: TxnRecord) -> Result<(), i16> {
    if let Err(e) = record.validate() {
        tracing::warn!(error = %e, "refusing a transaction record that Kafka's schema cannot hold");
        return Err(ResponseError::InvalidRequest.code());
    }
    // TransactionLogValue v0 while transaction.version is 0, as Kafka writes; a value v0 cannot
    // hold (a previous producer id after an exhausted epoch) is written as v1 rather than lost.
    let (key, value) = if broker.image().feature_level(TRANSACTION_VERSION) == 0 {
        record
            .encode_with_value_version(0)
            .unwrap_or_else(|_| record.encode())
    } else {
        record.encode()
    };
    let batch = build_batch(
        &[NewRecord {
            key: Some(key),
            value,
        }],
        now_ms(),
    );
    append_replicated(
        broker,
        TXN_TOPIC,
        shard.partition,
        Some(shard.coordinator_epoch),
        batch,
    )
}

/// How long a transaction may stay prepared (its markers not all written) before `tick` writes
/// them again.
const PREPARED_RETRY_MS: i64 = 1000;

/// Writes a transaction's markers into `partitions`, led by broker `leader`, with
/// WriteTxnMarkers (Kafka's TransactionMarkerChannelManager; the leader answers once they are
/// replicated). A marker the leader refuses for an older producer epoch is skipped, as locally.
fn markers_to(
    broker: &Broker,
    leader: i32,
    shard: &Shard,
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
            .zip(broker.cluster.as_ref())
            .and_then(|(b, node)| b.endpoint_for(node.inter_broker_channel().listener()))
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
        .with_coordinator_epoch(shard.coordinator_epoch)
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
