//! Produce and Fetch at the protocol level: long polls answer as soon as data arrives, or at
//! max_wait_ms; whole batches are returned, including the one holding the fetch offset;
//! OFFSET_OUT_OF_RANGE past the end; and CreateTopics validate_only creates nothing.

use crate::support;
use crate::wire;

use std::time::{Duration, Instant};

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use wire::*;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create_topic(
    stream: &mut std::net::TcpStream,
    topic: &str,
    validate_only: bool,
) -> CreateTopicsResponse {
    roundtrip(
        stream,
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_validate_only(validate_only)
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(1)
                .with_replication_factor(1)]),
    )
}

fn produce(
    stream: &mut std::net::TcpStream,
    topic: &str,
    batch: bytes::Bytes,
) -> produce_response::PartitionProduceResponse {
    produce_batch(stream, topic, 0, batch)
}

fn fetch_request(topic: &str, offset: i64, max_wait_ms: i32, min_bytes: i32) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

fn fetch(
    stream: &mut std::net::TcpStream,
    request: &FetchRequest,
) -> fetch_response::PartitionData {
    let response: FetchResponse = roundtrip(stream, ApiKey::Fetch, 12, request);
    assert_eq!(
        response.session_id, 0,
        "sessionless answers carry session id 0"
    );
    response.responses[0].partitions[0].clone()
}

#[test]
fn validate_only_creates_nothing() {
    let broker = support::Broker::start();
    let mut s = connect(broker.port);
    let response = create_topic(&mut s, "maybe", true);
    assert_eq!(response.topics[0].error_code, 0);
    assert_eq!(response.topics[0].num_partitions, 1);
    let metadata: MetadataResponse = roundtrip(
        &mut s,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(name("maybe")))]))
            .with_allow_auto_topic_creation(false),
    );
    assert_eq!(
        metadata.topics[0].error_code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
}

#[test]
fn long_poll_wakes_on_data_and_times_out_without_it() {
    let broker = support::Broker::start();
    let mut admin = connect(broker.port);
    assert_eq!(
        create_topic(&mut admin, "poll", false).topics[0].error_code,
        0
    );

    // Nothing arrives: the answer comes at max_wait_ms, empty.
    let mut consumer = connect(broker.port);
    let started = Instant::now();
    let empty = fetch(&mut consumer, &fetch_request("poll", 0, 700, 1));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(600),
        "answered after {waited:?}, before max_wait_ms"
    );
    assert_eq!(empty.error_code, 0);
    assert!(empty.records.unwrap_or_default().is_empty());

    // Data arrives during a 20 s poll: the answer comes right after it.
    let port = broker.port;
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let mut s = connect(port);
        produce(
            &mut s,
            "poll",
            record_batch(3, 1_700_000_000_000, -1, -1, -1),
        )
    });
    let started = Instant::now();
    let data = fetch(&mut consumer, &fetch_request("poll", 0, 20_000, 1));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "long poll not woken by the produce"
    );
    assert_eq!(producer.join().unwrap().error_code, 0);
    assert_eq!(data.high_watermark, 3);
    assert!(!data.records.unwrap_or_default().is_empty());
}

#[test]
fn fetch_returns_whole_batches_and_out_of_range_past_the_end() {
    let broker = support::Broker::start();
    let mut s = connect(broker.port);
    assert_eq!(
        create_topic(&mut s, "batches", false).topics[0].error_code,
        0
    );
    let first = produce(
        &mut s,
        "batches",
        record_batch(5, 1_700_000_000_000, -1, -1, -1),
    );
    assert_eq!(first.base_offset, 0);
    let second = produce(
        &mut s,
        "batches",
        record_batch(5, 1_700_000_000_100, -1, -1, -1),
    );
    assert_eq!(second.base_offset, 5);

    // Offset 7 lies inside the second batch: that whole batch comes back, base offset 5.
    let data = fetch(&mut s, &fetch_request("batches", 7, 0, 1));
    let records = data.records.unwrap();
    assert_eq!(i64::from_be_bytes(records[..8].try_into().unwrap()), 5);
    assert_eq!(data.high_watermark, 10);
    assert_eq!(data.log_start_offset, 0);

    // The log end is a valid position (empty answer); past it is OFFSET_OUT_OF_RANGE.
    let at_end = fetch(&mut s, &fetch_request("batches", 10, 0, 0));
    assert_eq!(at_end.error_code, 0);
    let past = fetch(&mut s, &fetch_request("batches", 11, 0, 0));
    assert_eq!(past.error_code, 1, "OFFSET_OUT_OF_RANGE");

    // A corrupt batch is refused and nothing is written.
    let mut corrupt = record_batch(2, 1_700_000_000_200, -1, -1, -1).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let refused = produce(&mut s, "batches", bytes::Bytes::from(corrupt));
    assert_eq!(refused.error_code, 2, "CORRUPT_MESSAGE");
    assert_eq!(
        fetch(&mut s, &fetch_request("batches", 10, 0, 0)).high_watermark,
        10
    );
}

#[test]
fn message_max_bytes_is_enforced() {
    let broker = support::Broker::start_with(&[("message.max.bytes", "2000")]);
    let mut s = connect(broker.port);
    assert_eq!(create_topic(&mut s, "small", false).topics[0].error_code, 0);
    assert_eq!(
        produce(
            &mut s,
            "small",
            record_batch(2, 1_700_000_000_000, -1, -1, -1)
        )
        .error_code,
        0
    );
    let big = produce(
        &mut s,
        "small",
        record_batch(300, 1_700_000_000_000, -1, -1, -1),
    );
    assert_eq!(big.error_code, 10, "MESSAGE_TOO_LARGE");
}
