//! The wire edge against the real binary: ApiVersions negotiation (KIP-511) and bad input.
//! Bad input must get a Kafka error or a closed connection, and the broker must keep serving
//! every other connection.

use crate::support;
use crate::wire;

use bytes::Buf;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use wire::*;

fn api_versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("milena-test"))
        .with_client_software_version(StrBytes::from_static_str("1.0"))
}

fn api_versions(port: u16, version: i16) -> ApiVersionsResponse {
    let mut stream = connect(port);
    send(
        &mut stream,
        &request_frame(ApiKey::ApiVersions, version, 7, &api_versions_request()),
    );
    let mut response = read_response(&mut stream).expect("an ApiVersions response");
    // Response header v0 at every version: just the correlation id.
    assert_eq!(response.get_i32(), 7);
    ApiVersionsResponse::decode(&mut response, version.min(4)).unwrap()
}

#[test]
fn api_versions_at_every_version_and_kip511_fallback() {
    let broker = support::Broker::start();
    for version in 0..=4 {
        let response = api_versions(broker.port, version);
        assert_eq!(response.error_code, 0, "v{version}");
        let produce = response
            .api_keys
            .iter()
            .find(|k| k.api_key == 0)
            .expect("Produce advertised");
        assert_eq!(
            produce.min_version, 0,
            "Produce advertises min 0 as Kafka 4 does"
        );
        assert!(response
            .api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Fetch as i16));
    }
    // A version from the future gets a v0 body with UNSUPPORTED_VERSION and, as from Kafka, the
    // range of ApiVersions alone.
    let mut stream = connect(broker.port);
    send(
        &mut stream,
        &request_frame(ApiKey::ApiVersions, 4, 9, &api_versions_request())
            .iter()
            .enumerate()
            .map(|(i, b)| if i == 7 { 99 } else { *b })
            .collect::<Vec<u8>>(),
    );
    let mut response = read_response(&mut stream).expect("a KIP-511 answer");
    assert_eq!(response.get_i32(), 9);
    let body = ApiVersionsResponse::decode(&mut response, 0).unwrap();
    assert_eq!(body.error_code, 35);
    assert_eq!(body.api_keys.len(), 1, "{body:?}");
    assert!(body
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::ApiVersions as i16 && k.max_version == 4));
}

#[test]
fn bad_frames_close_only_their_connection() {
    let broker = support::Broker::start();
    let port = broker.port;

    // Size prefix beyond socket.request.max.bytes: closed before any allocation.
    let mut s = connect(port);
    send(&mut s, &i32::MAX.to_be_bytes());
    assert!(closed_by_broker(&mut s));

    // Negative size.
    let mut s = connect(port);
    send(&mut s, &(-5i32).to_be_bytes());
    assert!(closed_by_broker(&mut s));

    // Shorter than a request header.
    let mut s = connect(port);
    send(&mut s, &[0, 0, 0, 3, 0, 18, 0]);
    assert!(closed_by_broker(&mut s));

    // Unknown API key.
    let mut s = connect(port);
    send(&mut s, &[0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert!(closed_by_broker(&mut s));

    // Metadata v0 whose topic array claims 54 million entries in a 5-byte body: the crate would
    // allocate gigabytes before noticing; the broker must refuse it.
    let mut s = connect(port);
    let mut frame = vec![0, 0, 0, 0];
    frame.extend_from_slice(&[0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff]); // Metadata v0, cid 1, null client id
    frame.extend_from_slice(&[0x03, 0x3c, 0x0c, 0x00, 0xb6]);
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    send(&mut s, &frame);
    assert!(closed_by_broker(&mut s));

    // Produce v2 (old clients, message format v0/v1) is served again: an empty request gets
    // an empty answer (v2: throttle time after the topics).
    let mut s = connect(port);
    let mut frame = vec![
        0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 0,
    ];
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    send(&mut s, &frame);
    let response = read_response(&mut s).expect("Produce v2 is answered");
    assert_eq!(&response[..], &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);

    // Bytes after a valid body are ignored, as Kafka ignores them (librdkafka's all-topics
    // Metadata v13 carries three): the request is answered.
    let mut s = connect(port);
    let mut frame = request_frame(
        ApiKey::Metadata,
        1,
        3,
        &MetadataRequest::default().with_topics(Some(vec![])),
    );
    frame.extend_from_slice(&[1, 2, 3]);
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    send(&mut s, &frame);
    let mut response = read_response(&mut s).expect("an answer despite the trailing bytes");
    assert_eq!(response.get_i32(), 3, "correlation id");

    // Everyone else is still served.
    assert_eq!(api_versions(port, 3).error_code, 0);
}

#[test]
fn acks_zero_gets_no_response_and_later_responses_keep_their_order() {
    let broker = support::Broker::start();
    let mut s = connect(broker.port);
    let produce = ProduceRequest::default()
        .with_acks(0)
        .with_timeout_ms(1000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("no-such-topic-acks0")))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(bytes::Bytes::new())),
            ])]);
    send(&mut s, &request_frame(ApiKey::Produce, 9, 1, &produce));
    send(
        &mut s,
        &request_frame(ApiKey::ApiVersions, 3, 2, &api_versions_request()),
    );
    let mut response = read_response(&mut s).expect("the ApiVersions response");
    assert_eq!(
        response.get_i32(),
        2,
        "the acks=0 produce must not be answered"
    );
}

#[test]
fn find_coordinator_single_and_batched_shapes() {
    let broker = support::Broker::start();
    let mut s = connect(broker.port);
    // v0-3: one key; the answer is this broker, as advertised.
    let single: FindCoordinatorResponse = roundtrip(
        &mut s,
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default()
            .with_key(StrBytes::from_static_str("my-group"))
            .with_key_type(0),
    );
    assert_eq!(
        (single.error_code, single.node_id.0, single.port),
        (0, 1, broker.port as i32)
    );
    assert_eq!(single.host.as_str(), "localhost");
    // v4+: a batch of keys, GROUP or TRANSACTION; an unknown key type is refused per key.
    let batch: FindCoordinatorResponse = roundtrip(
        &mut s,
        ApiKey::FindCoordinator,
        5,
        &FindCoordinatorRequest::default()
            .with_key_type(1)
            .with_coordinator_keys(vec![
                StrBytes::from_static_str("tx-a"),
                StrBytes::from_static_str("tx-b"),
            ]),
    );
    let keys: Vec<(&str, i32, i16)> = batch
        .coordinators
        .iter()
        .map(|c| (c.key.as_str(), c.node_id.0, c.error_code))
        .collect();
    assert_eq!(keys, vec![("tx-a", 1, 0), ("tx-b", 1, 0)]);
    let bad: FindCoordinatorResponse = roundtrip(
        &mut s,
        ApiKey::FindCoordinator,
        5,
        &FindCoordinatorRequest::default()
            .with_key_type(9)
            .with_coordinator_keys(vec![StrBytes::from_static_str("x")]),
    );
    assert_eq!(bad.coordinators[0].error_code, 42, "INVALID_REQUEST");
}
