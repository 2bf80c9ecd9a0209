//! The wire layer's hot paths: decoding Produce and Fetch request frames as `handle_frame` does,
//! and encoding a large FetchResponse as every fetch answer is encoded.
//!
//! Decoding mirrors `milena::protocol::handle_frame` up to the handler call: the fixed-offset
//! frame header, the API table check, `RequestHeader::decode`, then `protocol::decode_body`.
//! Encoding compares `protocol::encode_response` (every other response) with
//! `protocol::encode_fetch`, which Fetch uses: records stay their own chunks.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ProduceRequest, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use milena::log::builder::{build_batch, NewRecord};
use milena::protocol::{
    apis, decode_body, encode_fetch, encode_response, FetchAnswer, FrameHeader,
};

/// Produce v9 is the first flexible version (librdkafka's usual); Fetch v12 the last with topic
/// names. Pinned so that saved baselines stay comparable when the API table grows.
const PRODUCE_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 12;
const PARTITIONS: i32 = 8;
const MIB: usize = 1 << 20;

fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str("bench-topic"))
}

/// The bytes `handle_frame` gets: a request frame without its 4-byte size.
fn frame<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Bytes {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("rdkafka")))
        .encode(&mut buf, key.request_header_version(version))
        .expect("encode header");
    body.encode(&mut buf, version).expect("encode body");
    buf.freeze()
}

/// `handle_frame`'s steps before the handler: peek, version check, header, body.
fn decode_frame<T: Decodable>(frame: Bytes) -> (RequestHeader, T) {
    let header = FrameHeader::peek(&frame).expect("frame header");
    let key = ApiKey::try_from(header.api_key).expect("known api key");
    let version = header.api_version;
    apis::lookup(key)
        .filter(|s| version >= s.min && version <= s.max)
        .expect("supported version");
    let mut body = frame;
    let request_header =
        RequestHeader::decode(&mut body, key.request_header_version(version)).expect("header");
    let request = decode_body(key, version, &mut body).expect("body");
    (request_header, request)
}

/// A ~16 KiB batch: 16 keyless records of 1 KiB.
fn batch_16k() -> Bytes {
    let records: Vec<NewRecord> = (0..16)
        .map(|i| NewRecord {
            key: None,
            value: Some(Bytes::from(vec![i as u8; 1024])),
        })
        .collect();
    build_batch(&records, 1_700_000_000_000)
}

fn produce_request() -> ProduceRequest {
    let batch = batch_16k();
    let partitions = (0..PARTITIONS)
        .map(|p| {
            PartitionProduceData::default()
                .with_index(p)
                .with_records(Some(batch.clone()))
        })
        .collect();
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic())
            .with_partition_data(partitions)])
}

fn fetch_request() -> FetchRequest {
    let partitions = (0..PARTITIONS)
        .map(|p| {
            FetchPartition::default()
                .with_partition(p)
                .with_current_leader_epoch(0)
                .with_fetch_offset(1_000_000)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(MIB as i32)
        })
        .collect();
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 * MIB as i32)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic())
            .with_partitions(partitions)])
}

/// A Fetch answer of 8 partitions with 1 MiB of records each, fields set as the handler does.
fn fetch_response() -> FetchResponse {
    let records = Bytes::from(vec![0x5au8; MIB]);
    let partitions = (0..PARTITIONS)
        .map(|p| {
            PartitionData::default()
                .with_partition_index(p)
                .with_high_watermark(2_000_000)
                .with_last_stable_offset(2_000_000)
                .with_log_start_offset(0)
                .with_preferred_read_replica(BrokerId(-1))
                .with_records(Some(records.clone()))
        })
        .collect();
    FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(topic())
        .with_partitions(partitions)])
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_decode");

    let produce = frame(ApiKey::Produce, PRODUCE_VERSION, &produce_request());
    let (_, decoded): (_, ProduceRequest) = decode_frame(produce.clone());
    assert_eq!(
        decoded.topic_data[0].partition_data.len(),
        PARTITIONS as usize
    );
    group.throughput(Throughput::Bytes(produce.len() as u64));
    group.bench_function("produce_v9_8x16KiB", |b| {
        b.iter(|| decode_frame::<ProduceRequest>(black_box(produce.clone())))
    });

    let fetch = frame(ApiKey::Fetch, FETCH_VERSION, &fetch_request());
    let (_, decoded): (_, FetchRequest) = decode_frame(fetch.clone());
    assert_eq!(decoded.topics[0].partitions.len(), PARTITIONS as usize);
    group.throughput(Throughput::Bytes(fetch.len() as u64));
    group.bench_function("fetch_v12_8_partitions", |b| {
        b.iter(|| decode_frame::<FetchRequest>(black_box(fetch.clone())))
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let key = ApiKey::Fetch;
    let header_version = key.response_header_version(FETCH_VERSION);
    let response = fetch_response();
    let size = encode_response(key, 7, FETCH_VERSION, header_version, &response)
        .expect("encode")
        .len();
    let mut group = c.benchmark_group("response_encode");
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("fetch_v12_8x1MiB", |b| {
        b.iter(|| {
            encode_response(key, 7, FETCH_VERSION, header_version, black_box(&response))
                .expect("encode")
        })
    });
    group.bench_function("fetch_v12_8x1MiB_chunked", |b| {
        b.iter(|| {
            let answer = FetchAnswer {
                response: black_box(&response).clone(),
                from_files: Vec::new(),
            };
            encode_fetch(7, FETCH_VERSION, answer).expect("plain response")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Text results only: no gnuplot runs between benchmarks on a shared machine.
    config = Criterion::default().without_plots();
    targets = decode, encode
}
criterion_main!(benches);
