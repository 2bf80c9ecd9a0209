//! The state machine of one transactional id (Kafka's TransactionMetadata), pure: each
//! operation checks a request against the current metadata and returns the metadata to write,
//! or the Kafka error the client gets. The coordinator writes the result to
//! `__transaction_state` and only then applies it (replay is the only way state changes).
//!
//! ```text
//!            InitProducerId                 AddPartitions/AddOffsets
//!   (none) ───────────────▶ Empty ─────────────────────────────▶ Ongoing
//!                            ▲  ▲                                │   │
//!            InitProducerId  │  │ EndTxn(commit)     EndTxn(abort)│   │ timeout / fencing
//!       (epoch bump)         │  └── CompleteCommit ◀── PrepareCommit   │ (epoch bump)
//!                            └───── CompleteAbort  ◀── PrepareAbort ◀──┘
//! ```
//!
//! Markers are written to every partition of the transaction between Prepare* and Complete*.

use std::collections::BTreeSet;

use super::records::{TxnMetadataValue, TxnState};

/// Kafka fences a producer whose epoch reaches this and hands out a new producer id.
const MAX_EPOCH: i16 = i16::MAX - 1;

/// Why a transactional request is refused (each maps to one Kafka error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnError {
    /// Another operation on the transaction is still completing: retry.
    ConcurrentTransactions,
    /// An older producer instance with this transactional id.
    ProducerFenced,
    /// The producer id is not the one this transactional id has.
    InvalidProducerIdMapping,
    /// The request does not fit the transaction's state.
    InvalidTxnState,
    /// transaction.timeout.ms is above transaction.max.timeout.ms (or not positive).
    InvalidTransactionTimeout,
}

/// One transactional id's metadata, as kept in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnMetadata {
    pub producer_id: i64,
    /// The producer id before the last change of producer id (epoch exhaustion), -1 for none.
    pub previous_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump (KIP-360 retries of InitProducerId), -1 for none. Not
    /// persisted, as in Kafka.
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    /// When the running transaction started, -1 when none runs.
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// The transaction version of the client's last transaction (Kafka's
    /// clientTransactionVersion): 2 when it came with Produce v12+/TxnOffsetCommit v5+/EndTxn
    /// v5+ (transactions V2, KIP-890 part 2: an epoch bump at every EndTxn), else 0.
    pub client_transaction_version: i16,
    /// The producer id the producer moves to when this transaction completes, -1 for none: a V2
    /// EndTxn on an exhausted epoch allocates it.
    pub next_producer_id: i64,
}

/// The first transaction version whose EndTxn bumps the producer epoch (KIP-890 part 2).
pub const TV_2: i16 = 2;

/// What InitProducerId must do.
#[derive(Debug, Clone, PartialEq)]
pub enum InitStep {
    /// Write this metadata (epoch bumped, state Empty) and answer with its id and epoch.
    Write(TxnMetadata),
    /// A transaction is open: abort it first (fencing its producer), then try again.
    AbortOngoing,
}

/// What EndTxn must do.
#[derive(Debug, Clone, PartialEq)]
pub enum EndStep {
    /// Write this PrepareCommit/PrepareAbort metadata, the markers, then complete.
    Prepare(TxnMetadata),
    /// A retry of an EndTxn that already completed: answer success.
    AlreadyDone,
}

impl TxnMetadata {
    /// A new transactional id, first seen by InitProducerId.
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> TxnMetadata {
        TxnMetadata {
            producer_id,
            previous_producer_id: -1,
            producer_epoch: 0,
            last_producer_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now_ms,
            client_transaction_version: 0,
            next_producer_id: -1,
        }
    }

    pub fn from_value(v: &TxnMetadataValue) -> TxnMetadata {
        TxnMetadata {
            producer_id: v.producer_id,
            previous_producer_id: v.previous_producer_id,
            producer_epoch: v.producer_epoch,
            last_producer_epoch: -1,
            timeout_ms: v.timeout_ms,
            state: v.state,
            partitions: v
                .partitions
                .iter()
                .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
                .collect(),
            start_ms: v.start_ms,
            last_update_ms: v.last_update_ms,
            client_transaction_version: v.client_transaction_version,
            next_producer_id: v.next_producer_id,
        }
    }

    pub fn to_value(&self) -> TxnMetadataValue {
        let mut value = TxnMetadataValue::new(
            self.producer_id,
            self.producer_epoch,
            self.timeout_ms,
            self.state,
        );
        value.previous_producer_id = self.previous_producer_id;
        value.next_producer_id = self.next_producer_id;
        value.client_transaction_version = self.client_transaction_version;
        value.last_update_ms = self.last_update_ms;
        value.start_ms = self.start_ms;
        if self.state != TxnState::Empty {
            for (topic, partition) in &self.partitions {
                match value.partitions.last_mut() {
                    Some((t, ps)) if t == topic => ps.push(*partition),
                    _ => value.partitions.push((topic.clone(), vec![*partition])),
                }
            }
        }
        value
    }

    pub fn is_preparing(&self) -> bool {
        matches!(
            self.state,
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
        )
    }

    /// Whether the running transaction has outlived its timeout.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && now_ms.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }

    /// Whether the transactional id may be forgotten: idle for `expiration_ms`
    /// (`transactional.id.expiration.ms`) with no transaction running or completing (Kafka
    /// expires only Empty, CompleteCommit and CompleteAbort ids).
    pub fn expired(&self, now_ms: i64, expiration_ms: i64) -> bool {
        matches!(
            self.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        ) && now_ms.saturating_sub(self.last_update_ms) >= expiration_ms
    }

    /// InitProducerId. `expected` is the (producer id, epoch) a restarting producer names
    /// (KIP-360), `new_producer_id` allocates when the epoch is exhausted.
    pub fn init(
        &self,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        new_producer_id: impl FnOnce() -> Option<i64>,
    ) -> Result<InitStep, TxnError> {
        if self.is_preparing() {
            return Err(TxnError::ConcurrentTransactions);
        }
        if let Some((pid, epoch)) = expected {
            let current = pid == self.producer_id && epoch == self.producer_epoch;
            let retried = pid == self.producer_id && epoch == self.last_producer_epoch;
            let retried_new_id = pid == self.previous_producer_id;
            if !(current || retried || retried_new_id) {
                return Err(TxnError::ProducerFenced);
            }
            if retried || retried_new_id {
                // The bump this producer asked for already happened: answer it again.
                return Ok(InitStep::Write(TxnMetadata {
                    timeout_ms,
                    last_update_ms: now_ms,
                    ..self.clone()
                }));
            }
        }
        if self.state == TxnState::Ongoing {
            return Ok(InitStep::AbortOngoing);
        }
        let mut next = self.clone();
        next.bump_epoch(new_producer_id)?;
        next.timeout_ms = timeout_ms;
        next.state = TxnState::Empty;
        next.partitions.clear();
        next.start_ms = -1;
        next.last_update_ms = now_ms;
        Ok(InitStep::Write(next))
    }

    fn bump_epoch(
        &mut self,
        new_producer_id: impl FnOnce() -> Option<i64>,
    ) -> Result<(), TxnError> {
        if self.producer_epoch >= MAX_EPOCH {
            let id = new_producer_id().ok_or(TxnError::ConcurrentTransactions)?;
            self.previous_producer_id = self.producer_id;
            self.producer_id = id;
            self.last_producer_epoch = -1;
            self.producer_epoch = 0;
        } else {
            self.last_producer_epoch = self.producer_epoch;
            self.producer_epoch += 1;
        }
        Ok(())
    }

    fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), TxnError> {
        if producer_id != self.producer_id {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if epoch != self.producer_epoch {
            return Err(TxnError::ProducerFenced);
        }
        Ok(())
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn, or a V2 client's partition registered by its
    /// first produce or TxnOffsetCommit (`client_transaction_version` 2, which starts a new
    /// transaction from Empty or Complete* just as the explicit form does): `None` when every
    /// partition is already in.
    pub fn add_partitions(
        &self,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
        client_transaction_version: i16,
    ) -> Result<Option<TxnMetadata>, TxnError> {
        self.check_producer(producer_id, epoch)?;
        if self.is_preparing() {
            return Err(TxnError::ConcurrentTransactions);
        }
        if self.state == TxnState::Dead {
            return Err(TxnError::InvalidTxnState);
        }
        let ongoing = self.state == TxnState::Ongoing;
        if ongoing && partitions.iter().all(|p| self.partitions.contains(p)) {
            return Ok(None);
        }
        let mut next = self.clone();
        if !ongoing {
            next.partitions.clear();
            next.start_ms = now_ms;
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions.iter().cloned());
        next.last_update_ms = now_ms;
        next.client_transaction_version = client_transaction_version;
        Ok(Some(next))
    }

    /// EndTxn from the producer. `client_transaction_version` 2 (EndTxn v5+) is transactions
    /// V2: the epoch is bumped by the Prepare step, so a retry comes with the epoch before the
    /// bump, and an abort with no partition added is allowed (the producer's writes may all have
    /// failed before registering one). `new_producer_id` allocates when the epoch is exhausted.
    pub fn end(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
        client_transaction_version: i16,
        new_producer_id: impl FnOnce() -> Option<i64>,
    ) -> Result<EndStep, TxnError> {
        if client_transaction_version >= TV_2 {
            return self.end_v2(producer_id, epoch, commit, now_ms, new_producer_id);
        }
        self.check_producer(producer_id, epoch)?;
        match (self.state, commit) {
            (TxnState::Ongoing, _) => Ok(EndStep::Prepare(self.prepare(commit, now_ms))),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                Ok(EndStep::AlreadyDone)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(TxnError::ConcurrentTransactions)
            }
            _ => Err(TxnError::InvalidTxnState),
        }
    }

    /// Kafka's rules for a V2 EndTxn (TransactionCoordinator.endTransaction, TV2 table):
    /// a retry (epoch one below the current, or the last epoch of a producer id replaced on
    /// exhaustion) of a completed EndTxn succeeds again; Empty and Complete* may be aborted.
    fn end_v2(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
        new_producer_id: impl FnOnce() -> Option<i64>,
    ) -> Result<EndStep, TxnError> {
        let retry_on_overflow = self.previous_producer_id == producer_id
            && epoch == MAX_EPOCH
            && self.producer_epoch == 0;
        let retry_on_bump = i32::from(self.producer_epoch) == i32::from(epoch) + 1;
        let current = epoch == self.producer_epoch;
        let valid_epoch = match self.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => retry_on_bump,
            TxnState::CompleteCommit | TxnState::CompleteAbort => {
                retry_on_bump || retry_on_overflow || current
            }
            _ => current,
        };
        if producer_id != self.producer_id && !retry_on_overflow {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if !valid_epoch {
            return Err(TxnError::ProducerFenced);
        }
        let retry = retry_on_bump || retry_on_overflow;
        let prepare = |commit: bool, no_partition_added: bool| {
            let mut next = self.prepare(commit, now_ms);
            if self.producer_epoch >= MAX_EPOCH {
                next.next_producer_id =
                    new_producer_id().ok_or(TxnError::ConcurrentTransactions)?;
            }
            // At MAX_EPOCH this reaches i16::MAX, the last epoch there is; the producer moves
            // to `next_producer_id` when the transaction completes.
            next.producer_epoch = self.producer_epoch.saturating_add(1);
            next.last_producer_epoch = self.producer_epoch;
            next.client_transaction_version = TV_2;
            if no_partition_added {
                next.partitions.clear();
                next.start_ms = now_ms;
            }
            Ok(EndStep::Prepare(next))
        };
        match (self.state, commit) {
            (TxnState::Ongoing, _) => prepare(commit, false),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => {
                Ok(EndStep::AlreadyDone)
            }
            (TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Empty, false)
                if !retry =>
            {
                prepare(false, true)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(TxnError::ConcurrentTransactions)
            }
            _ => Err(TxnError::InvalidTxnState),
        }
    }

    fn prepare(&self, commit: bool, now_ms: i64) -> TxnMetadata {
        TxnMetadata {
            state: if commit {
                TxnState::PrepareCommit
            } else {
                TxnState::PrepareAbort
            },
            last_update_ms: now_ms,
            ..self.clone()
        }
    }

    /// The broker aborts an open transaction (timeout, or a new producer instance): the epoch
    /// is bumped first so that the old producer is fenced, as Kafka does.
    pub fn fence_and_abort(&self, now_ms: i64) -> TxnMetadata {
        let mut next = self.prepare(false, now_ms);
        if next.producer_epoch < MAX_EPOCH {
            next.last_producer_epoch = next.producer_epoch;
            next.producer_epoch += 1;
        }
        next
    }

    /// After the markers: PrepareCommit → CompleteCommit, PrepareAbort → CompleteAbort. The
    /// partitions are done with, as in Kafka.
    pub fn complete(&self, now_ms: i64) -> TxnMetadata {
        if self.next_producer_id >= 0 {
            // The epoch was exhausted by a V2 EndTxn: the producer goes on with a new id.
            return TxnMetadata {
                previous_producer_id: self.producer_id,
                producer_id: self.next_producer_id,
                next_producer_id: -1,
                producer_epoch: 0,
                last_producer_epoch: -1,
                ..self.complete_same_producer(now_ms)
            };
        }
        self.complete_same_producer(now_ms)
    }

    fn complete_same_producer(&self, now_ms: i64) -> TxnMetadata {
        TxnMetadata {
            state: if self.state == TxnState::PrepareCommit {
                TxnState::CompleteCommit
            } else {
                TxnState::CompleteAbort
            },
            partitions: BTreeSet::new(),
            last_update_ms: now_ms,
            ..self.clone()
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
