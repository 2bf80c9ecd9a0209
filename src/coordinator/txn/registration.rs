//! A transactional write checked or registered by the partition's leader before it is appended
//! (KIP-890). With Produce v11 and below (and TxnOffsetCommit v4 and below) the producer added
//! the partition itself with AddPartitionsToTxn, and the leader only verifies that the running
//! transaction holds it (part 1: no hanging transaction). A transactions V2 producer (Produce
//! v12+, TxnOffsetCommit v5+) sends no AddPartitionsToTxn: the leader registers the partition
//! for it (part 2).
//!
//! The transaction coordinator is this broker or, in a cluster, the leader of the id's
//! `__transaction_state` partition, asked with AddPartitionsToTxn v5 (`verify_only` for part 1),
//! as Kafka's AddPartitionsToTxnManager does. The producer sees INVALID_PRODUCER_EPOCH where
//! the coordinator says PRODUCER_FENCED, as in Kafka. While the previous transaction's markers
//! are still being written (CONCURRENT_TRANSACTIONS) the registration is retried for up to
//! `add.partitions.to.txn.retry.backoff.max.ms` (100 ms), every 20 ms.

use std::time::{Duration, Instant};

use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, ProducerId, TransactionalId};
use kafka_protocol::ResponseError;

use super::records::partition_for;
use super::{TransactionCoordinator, TV_2, TXN_TOPIC};
use crate::broker::Broker;

const RETRY_BACKOFF: Duration = Duration::from_millis(20);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(100);

/// What the partition leader asks of the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Part 1: the transaction must already hold the partition.
    VerifyOnly,
    /// Part 2: add the partition to the transaction (starting one if none runs).
    Add,
}

impl TransactionCoordinator {
    /// Checks (or, for a V2 producer, registers) `topic`-`partition` in the producer's
    /// transaction before its first transactional write there. Blocks: call off the async
    /// workers.
    #[allow(clippy::too_many_arguments)]
    pub fn verify_or_register(
        &self,
        broker: &Broker,
        transactional_id: Option<&str>,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
        registration: Registration,
    ) -> Result<(), i16> {
        let Some(id) = transactional_id else {
            // Without an id only this broker's transactions can be searched (by producer id).
            return self.verify_partition(broker, None, producer_id, epoch, topic, partition);
        };
        let p = partition_for(id, self.config.partitions);
        let local = self.loaded_shard(p).is_some() || broker.cluster.is_none();
        let deadline = Instant::now() + RETRY_BACKOFF_MAX;
        loop {
            let result = if local {
                match registration {
                    Registration::VerifyOnly => self.verify_partition(
                        broker,
                        Some(id),
                        producer_id,
                        epoch,
                        topic,
                        partition,
                    ),
                    Registration::Add => self.add_partitions(
                        broker,
                        id,
                        producer_id,
                        epoch,
                        &[(topic.to_string(), partition)],
                        TV_2,
                    ),
                }
            } else {
                ask_coordinator(
                    broker,
                    p,
                    id,
                    producer_id,
                    epoch,
                    topic,
                    partition,
                    registration,
                )
            };
            match result {
                Err(code)
                    if code == ResponseError::ConcurrentTransactions.code()
                        && Instant::now() + RETRY_BACKOFF <= deadline =>
                {
                    std::thread::sleep(RETRY_BACKOFF);
                }
                Err(code) if code == ResponseError::ProducerFenced.code() => {
                    return Err(ResponseError::InvalidProducerEpoch.code())
                }
                other => return other,
            }
        }
    }

    /// Whether this broker coordinates `transactional_id` now (NOT_COORDINATOR or
    /// COORDINATOR_LOAD_IN_PROGRESS otherwise): AddPartitionsToTxn v4+ is answered only then.
    pub fn coordinates(&self, broker: &Broker, transactional_id: &str) -> Result<(), i16> {
        self.shard(broker, transactional_id).map(drop)
    }
}

/// AddPartitionsToTxn v5 to the broker leading `__transaction_state` partition `p`.
#[allow(clippy::too_many_arguments)]
fn ask_coordinator(
    broker: &Broker,
    p: i32,
    transactional_id: &str,
    producer_id: i64,
    epoch: i16,
    topic: &str,
    partition: i32,
    registration: Registration,
) -> Result<(), i16> {
    let unavailable = ResponseError::CoordinatorNotAvailable.code();
    let (Some(node), Some(address)) = (
        broker.cluster.as_ref(),
        broker.live_leader(TXN_TOPIC, p).and_then(|(leader, _)| {
            broker
                .image()
                .brokers
                .get(&leader)
                .and_then(|b| b.endpoint())
                .map(|e| format!("{}:{}", e.host, e.port))
        }),
    ) else {
        return Err(unavailable);
    };
    let transaction = AddPartitionsToTxnTransaction::default()
        .with_transactional_id(TransactionalId(crate::handlers::str_bytes(
            transactional_id,
        )))
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
        .with_verify_only(registration == Registration::VerifyOnly)
        .with_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(crate::handlers::topic_name(topic))
            .with_partitions(vec![partition])]);
    let request = AddPartitionsToTxnRequest::default().with_transactions(vec![transaction]);
    let response = node.add_partitions_to_txn(address, request).map_err(|e| {
        tracing::warn!(transactional_id, error = %e, "AddPartitionsToTxn to the transaction coordinator failed");
        ResponseError::NetworkException.code()
    })?;
    if response.error_code != 0 {
        // Kafka hides CLUSTER_AUTHORIZATION_FAILED from producers.
        return Err(
            if response.error_code == ResponseError::ClusterAuthorizationFailed.code() {
                ResponseError::InvalidTxnState.code()
            } else {
                response.error_code
            },
        );
    }
    let code = response
        .results_by_transaction
        .iter()
        .flat_map(|t| &t.topic_results)
        .flat_map(|t| &t.results_by_partition)
        .map(|p| p.partition_error_code)
        .find(|c| *c != 0)
        .unwrap_or(0);
    if code == 0 {
        Ok(())
    } else {
        Err(code)
    }
}
