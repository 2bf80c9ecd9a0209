//! The chunked Fetch encoder must produce exactly the bytes of `kafka_protocol`'s encoder.

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{encode_fetch, Chunk, FetchAnswer, FileRecords, RECORDS_CHUNK_MIN};
use crate::log::{FileSlice, SliceRead};
use crate::protocol::encode_response;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn records(rng: &mut Rng) -> Option<Bytes> {
    let len = match rng.below(5) {
        0 => return None,
        1 => 0,
        2 => rng.below(100) as usize,
        3 => RECORDS_CHUNK_MIN - 1 + rng.below(3) as usize,
        _ => 20_000 + rng.below(300_000) as usize,
    };
    Some(
        (0..len)
            .map(|i| (i * 31 + len) as u8)
            .collect::<Vec<_>>()
            .into(),
    )
}

fn response(rng: &mut Rng, version: i16) -> FetchResponse {
    let topics = (0..rng.below(4))
        .map(|t| {
            let partitions = (0..rng.below(5))
                .map(|p| {
                    let mut data = PartitionData::default()
                        .with_partition_index(p as i32)
                        .with_error_code(rng.below(3) as i16)
                        .with_high_watermark(rng.next() as i64 >> 1)
                        .with_last_stable_offset(rng.below(1 << 40) as i64)
                        .with_log_start_offset(if version >= 5 {
                            rng.below(1000) as i64
                        } else {
                            -1
                        })
                        .with_records(records(rng));
                    if version >= 11 {
                        data.preferred_read_replica = BrokerId(rng.below(3) as i32 - 1);
                    }
                    data.aborted_transactions = match rng.below(3) {
                        0 => None,
                        n => Some(
                            (0..n * 2)
                                .map(|i| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(i as i64 * 1000))
                                        .with_first_offset(rng.below(1 << 20) as i64)
                                })
                                .collect(),
                        ),
                    };
                    data
                })
                .collect();
            let name = "t".repeat(1 + (t as usize * 97) % 200);
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_string(name)))
                .with_topic_id(Uuid::from_u128(rng.next() as u128 * 7))
                .with_partitions(partitions)
        })
        .collect();
    let mut response = FetchResponse::default()
        .with_throttle_time_ms(rng.below(10) as i32)
        .with_responses(topics);
    if version >= 7 {
        response.error_code = rng.below(2) as i16;
        response.session_id = rng.below(2) as i32;
    }
    response
}

fn plain(response: FetchResponse) -> FetchAnswer {
    FetchAnswer {
        response,
        from_files: Vec::new(),
    }
}

fn reference(correlation_id: i32, version: i16, response: &FetchResponse) -> Bytes {
    let key = ApiKey::Fetch;
    encode_response(
        key,
        correlation_id,
        version,
        key.response_header_version(version),
        response,
    )
    .unwrap()
    .freeze()
}

#[test]
fn chunked_fetch_encoding_is_byte_identical_to_the_generic_encoder() {
    let mut rng = Rng(0x5EED_F00D);
    let mut chunked = 0;
    for version in 4..=16 {
        for _ in 0..60 {
            let response = response(&mut rng, version);
            let frame = encode_fetch(42, version, plain(response.clone())).expect("plain");
            let bytes = frame.to_bytes().expect("no files");
            assert_eq!(bytes, reference(42, version, &response), "v{version}");
            assert_eq!(frame.len(), bytes.len());
            chunked += usize::from(frame.chunks().len() > 1);
            for chunk in frame.chunks() {
                assert!(!chunk.is_empty());
            }
        }
    }
    assert!(
        chunked > 100,
        "large records should travel as their own chunks"
    );
}

#[test]
fn large_records_are_not_copied_into_the_frame() {
    let records = Bytes::from(vec![7u8; 1 << 20]);
    let response = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("t")))
        .with_partitions(vec![
            PartitionData::default().with_records(Some(records.clone()))
        ])]);
    let frame = encode_fetch(1, 12, plain(response)).unwrap();
    assert!(frame.chunks().iter().any(|c| matches!(
        c,
        Chunk::Bytes(b) if b.as_ptr() == records.as_ptr() && b.len() == records.len()
    )));
}

#[test]
fn responses_with_tagged_fields_fall_back_to_the_generic_encoder() {
    let mut partition = PartitionData::default();
    partition.diverging_epoch = EpochEndOffset::default().with_epoch(3).with_end_offset(10);
    let response = FetchResponse::default().with_responses(vec![
        FetchableTopicResponse::default().with_partitions(vec![partition])
    ]);
    assert!(encode_fetch(1, 12, plain(response)).is_err());
    // Versions the hand encoder does not know are left to the generic one too.
    assert!(encode_fetch(1, 17, plain(FetchResponse::default())).is_err());
}

/// Records left in a file are sent as file chunks and make the same frame as the same records
/// encoded inline; partitions around them keep their own records.
#[test]
fn file_records_encode_like_inline_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("00000000000000000000.log");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let file = std::sync::Arc::new(std::fs::File::open(&path).unwrap());
    let slice = |position: u64, len: usize| FileSlice {
        file: file.clone(),
        path: path.clone(),
        position,
        len,
    };
    let read = SliceRead {
        slices: vec![slice(10, 100_000), slice(150_000, 90_000)],
        len: 190_000,
        next_offset: 0,
        log_start_offset: 0,
        log_end_offset: 0,
    };
    let mut inline = content[10..100_010].to_vec();
    inline.extend_from_slice(&content[150_000..240_000]);
    for version in [4, 11, 12, 16] {
        let partitions = |records: Option<Bytes>| {
            vec![
                PartitionData::default().with_records(Some(Bytes::from_static(b"small"))),
                PartitionData::default()
                    .with_partition_index(1)
                    .with_records(records),
                PartitionData::default().with_partition_index(2),
            ]
        };
        let topic = |records| {
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(partitions(records))
        };
        let answer = FetchAnswer {
            response: FetchResponse::default().with_responses(vec![topic(None)]),
            from_files: vec![FileRecords {
                topic: 0,
                partition: 1,
                read: read.clone(),
            }],
        };
        let expected =
            FetchResponse::default().with_responses(vec![topic(Some(Bytes::from(inline.clone())))]);
        let frame = encode_fetch(7, version, answer).unwrap();
        assert_eq!(
            frame
                .chunks()
                .iter()
                .filter(|c| matches!(c, Chunk::File(_)))
                .count(),
            2
        );
        assert_eq!(frame.to_bytes().unwrap(), reference(7, version, &expected));
    }
}
