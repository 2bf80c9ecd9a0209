//! Coordinators: state machines over Kafka's internal topics.
//!
//! Each coordinator is a single writer over its internal topic (ARCHITECTURE invariant 2): a
//! request is validated against in-memory state, its effects are written as records in Kafka's
//! own key/value schemas, and state changes by applying those records; at start the state is
//! rebuilt by replaying the topic (invariant 3). This module holds what both coordinators need:
//! creating their topic on first use and reading it back.

pub mod group;
mod schema;
pub mod txn;

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
    let topic = NewTopic {
        name: name.to_string(),
        num_partitions: partitions,
        replication_factor,
        assignments: vec![],
        configs: [
            ("cleanup.policy", "compact"),
            ("segment.bytes", INTERNAL_SEGMENT_BYTES),
            ("compression.type", "producer"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    };
    match broker.controller.create_topic(topic, false) {
        Ok(_) | Err(crate::metadata::MetadataError::TopicAlreadyExists(_)) => {}
        Err(e) => {
            tracing::error!(topic = name, error = %e, "cannot create internal topic");
            return Err(ResponseError::CoordinatorNotAvailable.code());
        }
    }
    broker.apply_metadata().map_err(|e| {
        tracing::error!(topic = name, error = %e, "cannot open internal topic");
        ResponseError::CoordinatorNotAvailable.code()
    })
}

/// The replication factor an internal topic is created with. On a single node, 1. In a cluster,
/// `offsets.topic.replication.factor` (default 3) for `__consumer_offsets`: the group
/// coordinator moves with the leadership of its partition, so a group survives the loss of its
/// coordinator. As in Kafka, the topic is not created until that many brokers are live (the
/// client gets COORDINATOR_NOT_AVAILABLE and retries). `__transaction_state` stays at 1 until
/// the transaction coordinator moves with leadership too (markers to partitions led by other
/// brokers need WriteTxnMarkers between brokers).
fn internal_replication_factor(broker: &Broker, name: &str) -> Result<i16, i16> {
    if broker.cluster.is_none() || name != group::OFFSETS_TOPIC {
        return Ok(1);
    }
    let wanted: i16 = broker
        .config
        .raw_value("offsets.topic.replication.factor")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(3)
        .max(1);
    let live = broker.live_brokers().len();
    if live < wanted as usize {
        tracing::warn!(
            topic = name,
            live,
            replication_factor = wanted,
            "not creating the internal topic until enough brokers are live (offsets.topic.replication.factor)"
        );
        return Err(ResponseError::CoordinatorNotAvailable.code());
    }
    Ok(wanted)
}

/// Appends a batch the coordinator built to partition `index` of its topic.
pub(crate) fn append_internal(
    broker: &Broker,
    topic: &str,
    index: i32,
    batch: Bytes,
) -> Result<(), i16> {
    let Ok(partition) = broker.leader_partition(topic, index) else {
        return Err(ResponseError::NotCoordinator.code());
    };
    partition
        .append_from(batch, now_ms(), AppendOrigin::Coordinator)
        .map(|_| ())
        .map_err(|e| {
            tracing::error!(topic, partition = index, error = %e, "writing coordinator records failed");
            match e {
                crate::log::LogError::InvalidProducerEpoch { .. } => {
                    ResponseError::InvalidProducerEpoch.code()
                }
                _ => ResponseError::CoordinatorNotAvailable.code(),
            }
        })
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
