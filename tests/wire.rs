//! Shared by the raw-protocol tests: encode requests and read responses on a plain socket.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};

/// `size | header | body` for one request.
pub fn request_frame<R: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("milena-test")))
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let mut frame = (buf.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&buf);
    frame
}

pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads one response frame (without its size); `None` if the broker closed the connection.
pub fn read_response(stream: &mut TcpStream) -> Option<Bytes> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).ok()?;
    Some(Bytes::from(body))
}

pub fn send(stream: &mut TcpStream, frame: &[u8]) {
    stream.write_all(frame).unwrap();
}

/// True when the broker has closed this connection (EOF or reset), within the read timeout.
pub fn closed_by_broker(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0) | Err(_))
}

/// Sends one request and decodes its response (checking the correlation id).
pub fn roundtrip<Req: Encodable, Resp: kafka_protocol::protocol::Decodable>(
    stream: &mut TcpStream,
    key: ApiKey,
    version: i16,
    request: &Req,
) -> Resp {
    use kafka_protocol::protocol::Decodable;
    static NEXT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(100);
    let correlation_id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    send(
        stream,
        &request_frame(key, version, correlation_id, request),
    );
    let mut response = read_response(stream).expect("a response");
    let header = kafka_protocol::messages::ResponseHeader::decode(
        &mut response,
        key.response_header_version(version),
    )
    .unwrap();
    assert_eq!(header.correlation_id, correlation_id);
    Resp::decode(&mut response, version).unwrap()
}

/// A valid v2 record batch of `count` uncompressed records with values `value-<i>`, timestamps
/// `timestamp + i`, and the given producer fields.
pub fn record_batch(
    count: i32,
    timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Bytes {
    record_batch_of(
        count,
        timestamp,
        (producer_id, producer_epoch, base_sequence),
        |i| format!("value-{i}").into_bytes(),
    )
}

/// A valid v2 record batch of `count` uncompressed keyless records with values `value(i)`,
/// timestamps `timestamp + i`, and the given (producer id, epoch, base sequence).
pub fn record_batch_of(
    count: i32,
    timestamp: i64,
    (producer_id, producer_epoch, base_sequence): (i64, i16, i32),
    value: impl Fn(i32) -> Vec<u8>,
) -> Bytes {
    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
    let mut records = Vec::new();
    for i in 0..count {
        let value = value(i);
        let mut body = vec![0u8]; // attributes
        varint(&mut body, i as i64); // timestamp delta
        varint(&mut body, i as i64); // offset delta
        varint(&mut body, -1); // null key
        varint(&mut body, value.len() as i64);
        body.extend_from_slice(&value);
        varint(&mut body, 0); // no headers
        varint(&mut records, body.len() as i64);
        records.extend_from_slice(&body);
    }
    let mut after_crc = Vec::new();
    after_crc.extend_from_slice(&0i16.to_be_bytes());
    after_crc.extend_from_slice(&(count - 1).to_be_bytes());
    after_crc.extend_from_slice(&timestamp.to_be_bytes());
    after_crc.extend_from_slice(&(timestamp + count as i64 - 1).to_be_bytes());
    after_crc.extend_from_slice(&producer_id.to_be_bytes());
    after_crc.extend_from_slice(&producer_epoch.to_be_bytes());
    after_crc.extend_from_slice(&base_sequence.to_be_bytes());
    after_crc.extend_from_slice(&count.to_be_bytes());
    after_crc.extend_from_slice(&records);
    let mut batch = Vec::new();
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((4 + 1 + 4 + after_crc.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes());
    batch.push(2);
    batch.extend_from_slice(&crc32c::crc32c(&after_crc).to_be_bytes());
    batch.extend_from_slice(&after_crc);
    Bytes::from(batch)
}

/// Produce v9, acks=all, of one batch to one partition; that partition's answer.
pub fn produce_batch(
    stream: &mut TcpStream,
    topic: &str,
    partition: i32,
    batch: Bytes,
) -> kafka_protocol::messages::produce_response::PartitionProduceResponse {
    produce_batch_with_acks(stream, topic, partition, batch, -1)
}

/// Produce v9 of one batch to one partition with the given acks; that partition's answer.
pub fn produce_batch_with_acks(
    stream: &mut TcpStream,
    topic: &str,
    partition: i32,
    batch: Bytes,
    acks: i16,
) -> kafka_protocol::messages::produce_response::PartitionProduceResponse {
    use kafka_protocol::messages::{produce_request, ProduceRequest, ProduceResponse, TopicName};
    let response: ProduceResponse = roundtrip(
        stream,
        ApiKey::Produce,
        9,
        &ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(5000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(batch)),
                ])]),
    );
    response.responses[0].partition_responses[0].clone()
}
