//! Fetch v0–v3 for old consumers: the records of the answer, v2 batches as the log keeps them,
//! are down-converted to message format v0 (Fetch v0–v1) or v1 (Fetch v2–v3), as Kafka 3.x did
//! (`log::legacy_format`). The conversion runs after the partitions were read, outside any
//! partition lock, on a thread the async workers can spare (`off_async_workers`).
//!
//! Records the log would send from the files are read into memory first (conversion needs the
//! bytes); the read is already bounded by the partition's `max_bytes`. A read holding a zstd batch
//! gets UNSUPPORTED_COMPRESSION_TYPE, as from Kafka 3.9; one whose records cannot be converted
//! (damaged log data) gets CORRUPT_MESSAGE, which every old client knows.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::FetchRequest;
use kafka_protocol::ResponseError;

use crate::log::legacy_format::{self, LegacyError};
use crate::protocol::errors;
use crate::protocol::FetchAnswer;

/// The message format an old Fetch version reads.
pub fn magic_for(version: i16) -> i8 {
    if version <= 1 {
        0
    } else {
        1
    }
}

/// `answer` with every partition's records down-converted for Fetch `version` (0–3).
pub fn down_convert(answer: FetchAnswer, request: &FetchRequest, version: i16) -> FetchAnswer {
    crate::cluster::off_async_workers(|| convert(answer, request, magic_for(version)))
}

fn convert(answer: FetchAnswer, request: &FetchRequest, magic: i8) -> FetchAnswer {
    let FetchAnswer {
        mut response,
        from_files,
    } = answer;
    // (topic, partition) -> (fetch offset, partition max bytes)
    let mut asked: HashMap<(&str, i32), (i64, usize)> = HashMap::new();
    for t in &request.topics {
        for p in &t.partitions {
            let max = p.partition_max_bytes.max(0) as usize;
            asked.insert((t.topic.0.as_str(), p.partition), (p.fetch_offset, max));
        }
    }
    for f in from_files {
        let data = &mut response.responses[f.topic].partitions[f.partition];
        match f.read.read_all() {
            Ok(bytes) => data.records = Some(bytes),
            Err(e) => {
                tracing::warn!(error = %e, "fetch read for down-conversion failed");
                data.records = Some(Bytes::new());
                data.error_code = ResponseError::KafkaStorageError.code();
            }
        }
    }
    for topic in &mut response.responses {
        for data in &mut topic.partitions {
            let Some(records) = data.records.take().filter(|r| !r.is_empty()) else {
                data.records = Some(Bytes::new());
                continue;
            };
            let (fetch_offset, max_bytes) = asked
                .get(&(topic.topic.0.as_str(), data.partition_index))
                .copied()
                .unwrap_or((0, usize::MAX));
            match legacy_format::down_convert(records, magic, fetch_offset, max_bytes) {
                Ok(set) => data.records = Some(set),
                Err(LegacyError::Zstd) => {
                    // Kafka 3.9's answer: the error, no high watermark, null records.
                    data.error_code = errors::legacy_error(&LegacyError::Zstd).code;
                    data.high_watermark = -1;
                    data.records = None;
                }
                Err(e) => {
                    tracing::warn!(topic = %topic.topic.0, partition = data.partition_index, error = %e, "down-conversion failed");
                    data.records = Some(Bytes::new());
                    data.error_code = ResponseError::CorruptMessage.code();
                }
            }
        }
    }
    FetchAnswer {
        response,
        from_files: Vec::new(),
    }
}
