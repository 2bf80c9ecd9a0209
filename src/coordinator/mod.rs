//! Coordinators: state machines over Kafka's internal topics.
//!
//! Each coordinator is a single writer over its internal topic (ARCHITECTURE invariant 2), one
//! lock per internal partition, held by the broker that leads that partition: a
//! request is validated against in-memory state, its effects are written as records in Kafka's
//! own key/value schemas, and state changes by applying those records; at start the state is
//! rebuilt by replaying the topic (invariant 3). This module holds what both coordinators need:
//! creating their topic on first use and reading it back.

pub mod group;
mod schema;
pub mod txn;

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;

use crate::broker::Broker;
use crate::log::builder::{control_type, read_records, ControlType, StoredRecord};
use crate::log::{AppendOrigin, BatchHeader, BatchIter};
use crate::metadata::controller::NewTopic;
use crate::partition::manager::now_ms;

/// Kafka's `offsets.topic.segment.bytes` / `transaction.state.log.segment.bytes`: small
/// segments so that compaction can keep up.
const INTERNAL_SEGMENT_BYTES: &str = "104857600";

/// Creates an internal topic the first time its coordinator needs it, compacted, as Kafka does.
pub(crate) fn ensure_internal_topic(
    broker: &Broker,
    name: &str,
    partitions: i32,
) -> Result<(), i16> {
    if broker.image().topic(name).is_some() {
        return Ok(());
    }
    let replication_factor = internal_replication_factor(broker, name)?;
    let mut configs: Vec<(String, String)> = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", INTERNAL_SEGMENT_BYTES),
        ("compression.type", "producer"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if name == txn::TXN_TOPIC {
        // Kafka gives the transaction log its own min ISR.
        let min_isr = broker_int(broker, "transaction.state.log.min.isr", 2);
        configs.push(("min.insync.replicas".to_string(), min_isr.to_string()));
    }
    let topic = NewTopic {
        name: name.to_string(),
        num_partitions: partitions,
        replication_factor,
        assignments: vec![],
        configs: configs.into_iter().collect(),
    };
    match broker.controller.create_topic(topic, false) {
        Ok(_) | Err(crate::metadata::MetadataError::TopicAlreadyExists(_)) => {}
        Err(e) => {
            tracing::error!(topic = name, error = %e, "cannot create internal topic");
            return Err(ResponseError::CoordinatorNotAvailable.code());
        }
    }
    let failures = broker.apply_metadata().map_err(|e| {
        tracing::error!(topic = name, error = %e, "cannot open internal topic");
        ResponseError::CoordinatorNotAvailable.code()
    })?;
    // The partitions that could not be opened stay offline (the manager logged why) and are
    // tried again at the next metadata change; the client retries meanwhile.
    if failures.iter().any(|f| f.topic == name) {
        return Err(ResponseError::CoordinatorNotAvailable.code());
    }
    Ok(())
}

/// The replication factor an internal topic is created with. On a single node, 1. In a cluster,
/// `offsets.topic.replication.factor` for `__consumer_offsets` and
/// `transaction.state.log.replication.factor` for `__transaction_state` (both 3 by default):
/// the coordinators move with the leadership of their partitions, so a group or a transaction
/// survives the loss of its coordinator. As in Kafka, the topic is not created until that many
/// brokers are live (the client gets COORDINATOR_NOT_AVAILABLE and retries).
fn internal_replication_factor(broker: &Broker, name: &str) -> Result<i16, i16> {
    if broker.cluster.is_none() {
        return Ok(1);
    }
    let key = if name == txn::TXN_TOPIC {
        "transaction.state.log.replication.factor"
    } else {
        "offsets.topic.replication.factor"
    };
    let wanted = broker_int(broker, key, 3).clamp(1, i16::MAX as i64) as i16;
    let live = broker.live_broker_count();
    if live < wanted as usize {
        tracing::warn!(
            topic = name,
            live,
            replication_factor = wanted,
            "not creating the internal topic until enough brokers are live ({key})"
        );
        return Err(ResponseError::CoordinatorNotAvailable.code());
    }
    Ok(wanted)
}

/// An integer broker setting read from the raw configuration, with Kafka's default.
fn broker_int(broker: &Broker, key: &str, default: i64) -> i64 {
    broker
        .config
        .raw_value(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// How long a coordinator waits for the followers of its internal partition (Kafka's
/// coordinators append with acks=all and give up after about `request.timeout.ms`).
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(15);

/// Appends a batch the coordinator built to partition `index` of its topic and waits until the
/// ISR has it, as Kafka's coordinators append with acks=all. `leader_epoch` is the leadership
/// the coordinator loaded its state in: if the partition has moved on since, the write is
/// refused. Errors are the coordinator's: NOT_COORDINATOR when this broker no longer leads
/// the partition in that epoch, COORDINATOR_NOT_AVAILABLE when the ISR is below
/// `min.insync.replicas` (nothing is appended) or the followers do not catch up in time.
pub(crate) fn append_replicated(
    broker: &Broker,
    topic: &str,
    index: i32,
    leader_epoch: Option<i32>,
    batch: Bytes,
) -> Result<(), i16> {
    let not_coordinator = ResponseError::NotCoordinator.code();
    let Ok(partition) = broker.leader_partition(topic, index) else {
        return Err(not_coordinator);
    };
    if leader_epoch.is_some_and(|e| e != partition.leader_epoch()) {
        return Err(not_coordinator);
    }
    if partition.under_min_isr() {
        tracing::warn!(
            topic,
            partition = index,
            "coordinator write refused: the ISR is below min.insync.replicas"
        );
        return Err(ResponseError::CoordinatorNotAvailable.code());
    }
    let write = append_internal(broker, topic, index, batch)?;
    wait_replicated(broker, vec![write]).map_err(|e| match e {
        ResponseError::NotLeaderOrFollower => not_coordinator,
        _ => ResponseError::CoordinatorNotAvailable.code(),
    })
}

/// Appends a batch the coordinator built to partition `index` of its topic, without waiting
/// for the followers: what the caller must wait for is returned.
pub(crate) fn append_internal(
    broker: &Broker,
    topic: &str,
    index: i32,
    batch: Bytes,
) -> Result<crate::handlers::Replicating, i16> {
    let not_coordinator = ResponseError::NotCoordinator.code();
    let Ok(partition) = broker.leader_partition(topic, index) else {
        return Err(not_coordinator);
    };
    let leader_epoch = partition.leader_epoch();
    let info = partition
        .append_from(batch, now_ms(), AppendOrigin::Coordinator)
        .map_err(|e| {
            tracing::error!(topic, partition = index, error = %e, "writing coordinator records failed");
            match e {
                crate::log::LogError::InvalidProducerEpoch { .. } => {
                    ResponseError::InvalidProducerEpoch.code()
                }
                crate::log::LogError::NotLeader => not_coordinator,
                _ => ResponseError::CoordinatorNotAvailable.code(),
            }
        })?;
    Ok(crate::handlers::Replicating {
        partition,
        leader_epoch,
        required: info.last_offset + 1,
    })
}

/// Blocks the calling thread until every write is replicated to its partition's ISR (see
/// [`crate::handlers::replicated`]); the first failure is returned. At once on a single node,
/// whose high watermark is its log end.
pub(crate) fn wait_replicated(
    broker: &Broker,
    writes: Vec<crate::handlers::Replicating>,
) -> Result<(), ResponseError> {
    let pending = writes
        .iter()
        .any(|w| w.partition.high_watermark() < w.required);
    let (true, Some(node)) = (pending, broker.cluster.as_ref()) else {
        return Ok(());
    };
    let outcomes = node
        .block_on(
            async move { crate::handlers::replicated(&writes, REPLICATION_TIMEOUT).await },
            REPLICATION_TIMEOUT + Duration::from_secs(1),
        )
        .unwrap_or_else(|| vec![Err(ResponseError::RequestTimedOut)]);
    outcomes.into_iter().collect()
}

/// One thing found replaying an internal topic partition.
pub(crate) enum Replayed {
    /// The records of a data batch (its header says whether it is transactional).
    Records(BatchHeader, Vec<StoredRecord>),
    /// A transaction marker of `producer_id`.
    Marker(i64, ControlType),
}

/// Reads partition `index` of an internal topic from its start to its log end, calling
/// `f` with each batch's records or marker. Unreadable batches are skipped with a warning; an
/// unreadable log stops this partition's replay (the error is logged).
pub(crate) fn replay_partition(
    broker: &Broker,
    topic: &str,
    index: i32,
    mut f: impl FnMut(Replayed),
) {
    let Some(partition) = broker.replicas.get(topic, index) else {
        return;
    };
    // To the log end, not the high watermark: a new leader's log is what will be committed
    // (followers truncate to it), and its high watermark may lag until they fetch again.
    let mut offset = partition.log_start_offset();
    let end = partition.log_end_offset();
    while offset < end {
        let read = match partition.read_local(offset, 1 << 20) {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(topic, partition = index, offset, error = %e, "reading an internal topic failed; the rest of this partition is not loaded");
                return;
            }
        };
        if read.records.is_empty() {
            return;
        }
        for item in BatchIter::new(read.records) {
            let Ok((header, batch)) = item else {
                // The log validated these batches when they were appended.
                tracing::warn!(
                    topic,
                    partition = index,
                    offset,
                    "unparsable batch in an internal topic; stopping this partition's load"
                );
                return;
            };
            offset = offset.max(header.last_offset() + 1);
            if header.is_control() {
                if let Some(control) = control_type(&batch) {
                    f(Replayed::Marker(header.producer_id, control));
                }
                continue;
            }
            match read_records(batch) {
                Ok(records) => f(Replayed::Records(header, records)),
                Err(e) => {
                    tracing::warn!(topic, partition = index, base_offset = header.base_offset, error = %e, "skipping an unreadable batch of an internal topic")
                }
            }
        }
    }
}
