//! Record-level validation of client batches (KIP-467): which records are refused, with the
//! batch indices and messages Kafka's LogValidator gives, and that a refused batch writes nothing.

use bytes::Bytes;

use super::*;
use crate::log::builder::{build_batch, NewRecord};
use crate::log::{LogError, RecordProblem};

const HOUR: i64 = 3_600_000;

fn record(key: Option<&'static str>) -> NewRecord {
    NewRecord {
        key: key.map(|k| Bytes::from_static(k.as_bytes())),
        value: Some(Bytes::from_static(b"v")),
    }
}

fn refused(result: Result<crate::log::AppendInfo, LogError>) -> (bool, Vec<RecordProblem>) {
    match result {
        Err(LogError::RecordErrors { timestamp, records }) => (timestamp, records),
        other => panic!("expected record errors, got {other:?}"),
    }
}

#[test]
fn keyless_records_of_a_compacted_topic_are_named_by_batch_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(
        dir.path(),
        LogConfig {
            cleanup_compact: true,
            ..LogConfig::default()
        },
    );
    let batch = build_batch(
        &[
            record(Some("a")),
            record(None),
            record(Some("c")),
            record(None),
        ],
        NOW,
    );
    let (timestamp, problems) = refused(log.append_as_leader(batch, 0, NOW));
    assert!(!timestamp);
    let indices: Vec<i32> = problems.iter().map(|p| p.batch_index).collect();
    assert_eq!(indices, vec![1, 3]);
    let name = dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        problems[0].message,
        format!("Compacted topic cannot accept message without key in topic partition {name}")
    );
    assert_eq!(log.log_end_offset(), 0, "a refused batch writes nothing");
}

#[test]
fn create_time_timestamps_outside_the_configured_window_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    // Kafka 4's default: at most one hour ahead of the broker's clock, any age behind it.
    let ahead = build_batch(&[record(None), record(None)], NOW + 2 * HOUR);
    let (timestamp, problems) = refused(log.append_as_leader(ahead, 0, NOW));
    assert!(timestamp);
    assert_eq!(problems.len(), 2);
    assert_eq!(
        problems[1].message,
        format!(
            "Timestamp {} of message with offset 1 is out of range. The timestamp should be within [{}, {}]",
            NOW + 2 * HOUR,
            NOW.wrapping_sub(i64::MAX),
            NOW + HOUR
        )
    );
    log.append_as_leader(build_batch(&[record(None)], NOW + HOUR / 2), 0, NOW)
        .expect("half an hour ahead is in range");
    log.append_as_leader(build_batch(&[record(None)], 0), 0, NOW)
        .expect("any age is in range by default");

    log.set_config(LogConfig {
        message_timestamp_before_max_ms: HOUR,
        ..LogConfig::default()
    });
    let old = build_batch(&[record(None)], NOW - 2 * HOUR);
    let (timestamp, problems) = refused(log.append_as_leader(old, 0, NOW));
    assert!(timestamp);
    assert_eq!(problems[0].batch_index, 0);
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn log_append_time_topics_take_any_producer_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(
        dir.path(),
        LogConfig {
            message_timestamp_type_log_append: true,
            ..LogConfig::default()
        },
    );
    log.append_as_leader(build_batch(&[record(None)], NOW + 48 * HOUR), 0, NOW)
        .expect("the broker's clock replaces the timestamp");
}
