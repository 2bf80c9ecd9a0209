//! Retention end to end: with a short `segment.ms` and `retention.ms`, the broker's background
//! housekeeping rolls the active segment, deletes the expired one, and clients see the log start
//! offset move forward (ListOffsets earliest, Fetch from 0 out of range).

use crate::support;
use crate::wire;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use wire::*;

fn earliest(s: &mut std::net::TcpStream, topic: &str) -> i64 {
    let response: ListOffsetsResponse = roundtrip(
        s,
        ApiKey::ListOffsets,
        7,
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(-2),
                ])]),
    );
    let p = &response.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

#[test]
fn expired_segments_are_deleted_in_the_background() {
    let broker = support::Broker::start_with(&[("log.retention.check.interval.ms", "1000")]);
    let mut s = connect(broker.port);
    let created: CreateTopicsResponse = roundtrip(
        &mut s,
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("short")))
                .with_num_partitions(1)
                .with_replication_factor(1)
                .with_configs(vec![
                    create_topics_request::CreatableTopicConfig::default()
                        .with_name(StrBytes::from_static_str("retention.ms"))
                        .with_value(Some(StrBytes::from_static_str("2000"))),
                    create_topics_request::CreatableTopicConfig::default()
                        .with_name(StrBytes::from_static_str("segment.ms"))
                        .with_value(Some(StrBytes::from_static_str("200"))),
                ])]),
    );
    assert_eq!(
        created.topics[0].error_code, 0,
        "{:?}",
        created.topics[0].error_message
    );

    let an_hour_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 3_600_000;
    let produced: ProduceResponse = roundtrip(
        &mut s,
        ApiKey::Produce,
        9,
        &ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("short")))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(record_batch(3, an_hour_ago, -1, -1, -1))),
                ])]),
    );
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(earliest(&mut s, "short"), 0);

    let moved = support::wait_until(Duration::from_secs(20), || earliest(&mut s, "short") == 3);
    assert!(
        moved,
        "log start offset never advanced past the expired records\n{}",
        broker.log()
    );
    let first_segment = broker
        .log_dir()
        .join("short-0")
        .join("00000000000000000000.log");
    assert!(
        support::wait_until(Duration::from_secs(90), || !first_segment.exists()),
        "expired segment file still on disk"
    );
}
