//! Kafka's `__transaction_state` record schemas: round trips, bytes Kafka 4.1 writes, every
//! value version, and malformed input.
//!
//! The `JAVA_*` vectors were printed by a throwaway Java program run against the Kafka 4.1.2
//! jars (`java -cp 'kafka-4.1.2/libs/*' Gen.java`): it built the values described next to each
//! vector with the generated `TransactionLogKey` / `TransactionLogValue` classes and serialized
//! them with `MessageUtil.toCoordinatorTypePrefixedBytes` (key) and
//! `MessageUtil.toVersionPrefixedBytes` (value), as Kafka's `TransactionLog` does.

use super::*;
use crate::coordinator::schema::SchemaError;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Key of "my-txn".
const JAVA_KEY: &str = "000000066d792d74786e";
/// Ongoing, producer 1000 epoch 5, timeout 60000, partitions orders[0,2] and t[], last update
/// 1700000000123, start 1700000000000, client transaction version 2; value v1.
const JAVA_ONGOING_V1: &str = "000100000000000003e800050000ea600103076f726465727303000000000000\
                               000200027401000000018bcfe5687b0000018bcfe568000102020002";
/// The same at v0 with client transaction version 0 (v0 refuses a non-default one).
const JAVA_ONGOING_V0: &str = "000000000000000003e800050000ea60010000000200066f7264657273000000\
                               020000000000000002000174000000000000018bcfe5687b0000018bcfe56800";
/// Empty, producer 7 epoch 0, timeout 30000, null partitions, last update 99, start -1.
const JAVA_EMPTY_V1: &str =
    "0001000000000000000700000000753000000000000000000063ffffffffffffffff00";
const JAVA_EMPTY_V0: &str =
    "0000000000000000000700000000753000ffffffff0000000000000063ffffffffffffffff";
/// PrepareCommit with every tagged field set: producer 2000, previous 1999, next 2001, epoch
/// 32767, next epoch 0, timeout 900000, partitions é[3], last update 5, start 4, client
/// transaction version 2; value v1.
const JAVA_TAGGED_V1: &str = "000100000000000007d07fff000dbba0020203c3a9020000000300000000000000\
                              0005000000000000000404000800000000000007cf010800000000000007d102\
                              02000203020000";

fn ongoing() -> TxnMetadataValue {
    TxnMetadataValue {
        partitions: vec![("orders".into(), vec![0, 2]), ("t".into(), vec![])],
        last_update_ms: 1_700_000_000_123,
        start_ms: 1_700_000_000_000,
        client_transaction_version: 2,
        ..TxnMetadataValue::new(1000, 5, 60_000, TxnState::Ongoing)
    }
}

fn empty() -> TxnMetadataValue {
    TxnMetadataValue {
        last_update_ms: 99,
        ..TxnMetadataValue::new(7, 0, 30_000, TxnState::Empty)
    }
}

fn tagged() -> TxnMetadataValue {
    TxnMetadataValue {
        previous_producer_id: 1999,
        next_producer_id: 2001,
        next_producer_epoch: 0,
        partitions: vec![("é".into(), vec![3])],
        last_update_ms: 5,
        start_ms: 4,
        client_transaction_version: 2,
        ..TxnMetadataValue::new(2000, i16::MAX, 900_000, TxnState::PrepareCommit)
    }
}

fn record(value: Option<TxnMetadataValue>) -> TxnRecord {
    TxnRecord {
        transactional_id: "my-txn".into(),
        value,
    }
}

fn decode_value_bytes(value: &[u8]) -> TxnMetadataValue {
    TxnRecord::decode(&hex(JAVA_KEY), Some(value))
        .expect("decode")
        .expect("a transaction record")
        .value
        .expect("not a tombstone")
}

fn round_trip(r: &TxnRecord) {
    r.validate().expect("encodable");
    let (k, v) = r.encode();
    assert_eq!(TxnRecord::decode(&k, v.as_deref()), Ok(Some(r.clone())));
}

#[test]
fn state_ids_and_names_are_kafkas() {
    let expected = [
        (0, "Empty"),
        (1, "Ongoing"),
        (2, "PrepareCommit"),
        (3, "PrepareAbort"),
        (4, "CompleteCommit"),
        (5, "CompleteAbort"),
        (6, "Dead"),
        (7, "PrepareEpochFence"),
    ];
    for (state, (id, name)) in TxnState::ALL.into_iter().zip(expected) {
        assert_eq!((state.id(), state.name()), (id, name));
        assert_eq!(TxnState::from_id(id), Some(state));
    }
    for id in [8, 100, i8::MAX, -1, i8::MIN] {
        assert_eq!(TxnState::from_id(id), None);
    }
}

#[test]
fn records_round_trip_in_every_state() {
    for state in TxnState::ALL {
        let partitions = if state == TxnState::Empty {
            vec![]
        } else {
            vec![
                ("a".into(), vec![0, 1, i32::MAX]),
                ("日本".into(), vec![-1]),
            ]
        };
        let value = TxnMetadataValue {
            partitions,
            last_update_ms: i64::MAX,
            start_ms: i64::MIN,
            ..TxnMetadataValue::new(i64::MAX, -1, i32::MIN, state)
        };
        round_trip(&record(Some(value)));
    }
    // Every tagged field alone, all together, and none.
    let base = ongoing();
    let variants = [
        TxnMetadataValue {
            previous_producer_id: 0,
            ..base.clone()
        },
        TxnMetadataValue {
            next_producer_id: i64::MAX,
            ..base.clone()
        },
        TxnMetadataValue {
            next_producer_epoch: 3,
            ..base.clone()
        },
        TxnMetadataValue {
            client_transaction_version: 0,
            ..base.clone()
        },
        tagged(),
        empty(),
    ];
    for value in variants {
        round_trip(&record(Some(value)));
    }
    round_trip(&record(None));
    round_trip(&TxnRecord {
        transactional_id: String::new(),
        value: Some(ongoing()),
    });
}

#[test]
fn v0_round_trips_when_tagged_fields_are_default() {
    let value = TxnMetadataValue {
        client_transaction_version: 0,
        ..ongoing()
    };
    for v in [Some(value), Some(empty()), None] {
        let r = record(v);
        let (k, v) = r.encode_with_value_version(0).expect("v0");
        if let Some(v) = &v {
            assert_eq!(&v[..2], [0, 0]);
        }
        assert_eq!(TxnRecord::decode(&k, v.as_deref()), Ok(Some(r)));
    }
    assert_eq!(
        record(Some(ongoing())).encode_with_value_version(0),
        Err(TxnRecordError::TaggedFieldsInV0)
    );
    for version in [-1, 2] {
        assert_eq!(
            record(None).encode_with_value_version(version),
            Err(TxnRecordError::UnsupportedVersion(version))
        );
    }
    // v1 through encode_with_value_version is encode.
    let r = record(Some(tagged()));
    assert_eq!(r.encode_with_value_version(1), Ok(r.encode()));
}

#[test]
fn encodes_the_bytes_kafka_writes() {
    let (k, v) = record(Some(ongoing())).encode();
    assert_eq!(k[..], hex(JAVA_KEY));
    assert_eq!(v.expect("value")[..], hex(JAVA_ONGOING_V1));
    let (_, v) = record(Some(empty())).encode();
    assert_eq!(v.expect("value")[..], hex(JAVA_EMPTY_V1));
    let (_, v) = record(Some(tagged())).encode();
    assert_eq!(v.expect("value")[..], hex(JAVA_TAGGED_V1));
    let at_v0 = |value| {
        record(Some(value))
            .encode_with_value_version(0)
            .expect("v0")
            .1
            .expect("value")
    };
    let ongoing_v0 = TxnMetadataValue {
        client_transaction_version: 0,
        ..ongoing()
    };
    assert_eq!(at_v0(ongoing_v0)[..], hex(JAVA_ONGOING_V0));
    assert_eq!(at_v0(empty())[..], hex(JAVA_EMPTY_V0));
    // A tombstone has no value.
    assert_eq!(record(None).encode(), (Bytes::from(hex(JAVA_KEY)), None));
}

#[test]
fn decodes_the_bytes_kafka_writes() {
    assert_eq!(decode_value_bytes(&hex(JAVA_ONGOING_V1)), ongoing());
    assert_eq!(decode_value_bytes(&hex(JAVA_EMPTY_V1)), empty());
    assert_eq!(decode_value_bytes(&hex(JAVA_EMPTY_V0)), empty());
    assert_eq!(decode_value_bytes(&hex(JAVA_TAGGED_V1)), tagged());
    // v0 has no tagged fields: they come back as their defaults (-1, -1, -1, 0).
    let v = decode_value_bytes(&hex(JAVA_ONGOING_V0));
    assert_eq!(
        (
            v.previous_producer_id,
            v.next_producer_id,
            v.next_producer_epoch,
            v.client_transaction_version
        ),
        (-1, -1, -1, 0)
    );
    assert_eq!(
        v,
        TxnMetadataValue {
            client_transaction_version: 0,
            ..ongoing()
        }
    );
    assert_eq!(
        TxnRecord::decode(&hex(JAVA_KEY), None),
        Ok(Some(record(None)))
    );
}

/// Hand-built bytes in the layouts of the schema files.
struct Hand(Vec<u8>);
impl Hand {
    fn new() -> Self {
        Hand(Vec::new())
    }
    fn i8(self, v: i8) -> Self {
        self.raw(&v.to_be_bytes())
    }
    fn i16(self, v: i16) -> Self {
        self.raw(&v.to_be_bytes())
    }
    fn i32(self, v: i32) -> Self {
        self.raw(&v.to_be_bytes())
    }
    fn i64(self, v: i64) -> Self {
        self.raw(&v.to_be_bytes())
    }
    /// Non-flexible string: i16 length, UTF-8.
    fn s(self, v: &str) -> Self {
        self.i16(v.len() as i16).raw(v.as_bytes())
    }
    /// Compact length: unsigned varint of length + 1 (every test length is < 127).
    fn c(self, len: usize) -> Self {
        self.raw(&[len as u8 + 1])
    }
    fn cs(self, v: &str) -> Self {
        self.c(v.len()).raw(v.as_bytes())
    }
    fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
}

/// The head every value shares: version, producer id 2000, epoch 32767, timeout 900000,
/// PrepareCommit.
fn head(version: i16) -> Hand {
    Hand::new()
        .i16(version)
        .i64(2000)
        .i16(i16::MAX)
        .i32(900_000)
        .i8(2)
}

#[test]
fn hand_derived_bytes_match_the_schema() {
    // TransactionLogValue v1, field by field from TransactionLogValue.json.
    let v1 = head(1)
        .c(1) // partitions: compact array of 1 entry
        .cs("é") // topic: compact string, 2 UTF-8 bytes
        .c(1) // partition ids: compact array of 1
        .i32(3)
        .raw(&[0]) // no tagged fields in the entry
        .i64(5) // last update timestamp
        .i64(4) // start timestamp
        .raw(&[4]) // four tagged fields, ascending tags
        .raw(&[0, 8]) // tag 0 previous producer id, 8 bytes
        .i64(1999)
        .raw(&[1, 8]) // tag 1 next producer id
        .i64(2001)
        .raw(&[2, 2]) // tag 2 client transaction version, 2 bytes
        .i16(2)
        .raw(&[3, 2]) // tag 3 next producer epoch
        .i16(0)
        .0;
    assert_eq!(v1, hex(JAVA_TAGGED_V1));
    assert_eq!(record(Some(tagged())).encode().1.expect("value")[..], v1);
    // The key: record type 0, then TransactionLogKey v0's i16-length string.
    assert_eq!(Hand::new().i16(0).s("my-txn").0, hex(JAVA_KEY));
    // v0 of the same with the tags dropped: i32 counts, i16 string lengths, no tag section.
    let v0 = head(0).i32(1).s("é").i32(1).i32(3).i64(5).i64(4).0;
    let expected = TxnMetadataValue {
        partitions: vec![("é".into(), vec![3])],
        last_update_ms: 5,
        start_ms: 4,
        ..TxnMetadataValue::new(2000, i16::MAX, 900_000, TxnState::PrepareCommit)
    };
    assert_eq!(decode_value_bytes(&v0), expected);
}

#[test]
fn tagged_fields_unknown_skipped_any_order_exact_size() {
    let body = |tags: &[u8]| {
        head(1)
            .c(0) // empty partitions array
            .i64(5)
            .i64(4)
            .raw(tags)
            .0
    };
    // An unknown tag (9) with 3 bytes, then tag 2 before tag 0.
    let v = decode_value_bytes(&body(&[
        3, 9, 3, 1, 2, 3, 2, 2, 0, 2, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42,
    ]));
    assert_eq!(
        (
            v.previous_producer_id,
            v.client_transaction_version,
            v.next_producer_id
        ),
        (42, 2, -1)
    );
    // A tagged field in a partitions entry is skipped too.
    let entry = head(1)
        .c(1)
        .cs("t")
        .c(0)
        .raw(&[1, 7, 1, 0xee]) // entry tagged fields: tag 7, 1 byte
        .i64(5)
        .i64(4)
        .raw(&[0])
        .0;
    assert_eq!(
        decode_value_bytes(&entry).partitions,
        vec![("t".to_string(), vec![])]
    );
    // A known tag with the wrong size.
    for tags in [
        &[1u8, 0, 4, 0, 0, 0, 1][..],
        &[1, 2, 1, 2],
        &[1, 3, 8, 0, 0, 0, 0, 0, 0, 0, 1],
    ] {
        let err = TxnRecord::decode(&hex(JAVA_KEY), Some(&body(tags))).expect_err("bad size");
        assert!(
            matches!(
                err,
                TxnRecordError::Schema(SchemaError::InvalidLength { .. })
            ),
            "{err}"
        );
    }
}

#[test]
fn null_and_empty_partitions_follow_the_state() {
    // Empty is written with null partitions (v1: 0, v0: -1) and decodes to none.
    let (_, v) = record(Some(empty())).encode();
    assert_eq!(v.expect("value")[2 + 8 + 2 + 4 + 1], 0);
    // Other states write an empty array, not null.
    let complete = TxnMetadataValue::new(7, 1, 30_000, TxnState::CompleteCommit);
    let (_, v) = record(Some(complete.clone())).encode();
    assert_eq!(v.expect("value")[2 + 8 + 2 + 4 + 1], 1);
    round_trip(&record(Some(complete)));
    // Kafka ignores partitions in an Empty record: they are dropped.
    let empty_with = Hand::new()
        .i16(0)
        .i64(7)
        .i16(0)
        .i32(30_000)
        .i8(0)
        .i32(1)
        .s("t")
        .i32(1)
        .i32(0)
        .i64(99)
        .i64(-1)
        .0;
    assert_eq!(decode_value_bytes(&empty_with), empty());
    // Null partitions outside Empty: Kafka cannot load that either.
    let null_ongoing = head(0).i32(-1).i64(5).i64(4).0;
    assert_eq!(
        TxnRecord::decode(&hex(JAVA_KEY), Some(&null_ongoing)),
        Err(TxnRecordError::Schema(SchemaError::UnexpectedNull {
            field: "partitions"
        }))
    );
    // Writing an Empty value with partitions is refused by validate.
    let bad = TxnMetadataValue {
        partitions: vec![("t".into(), vec![0])],
        ..empty()
    };
    assert_eq!(
        record(Some(bad)).validate(),
        Err(TxnRecordError::EmptyWithPartitions)
    );
}

#[test]
fn other_record_types_are_skipped() {
    for record_type in [1i16, 2, -1, i16::MIN, i16::MAX] {
        let key = Hand::new().i16(record_type).s("my-txn").0;
        assert_eq!(TxnRecord::decode(&key, Some(b"\x00\x09zz")), Ok(None));
        assert_eq!(TxnRecord::decode(&key, None), Ok(None));
    }
}

#[test]
fn malformed_records_are_errors() {
    let key = hex(JAVA_KEY);
    let err = |k: &[u8], v: Option<&[u8]>| TxnRecord::decode(k, v).expect_err("malformed");
    // Every truncation of a valid key and of valid values of both versions.
    for cut in 0..key.len() {
        err(&key[..cut], None);
    }
    for good in [
        JAVA_ONGOING_V1,
        JAVA_ONGOING_V0,
        JAVA_TAGGED_V1,
        JAVA_EMPTY_V0,
        JAVA_EMPTY_V1,
    ] {
        let good = hex(good);
        for cut in 0..good.len() {
            err(&key, Some(&good[..cut]));
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            err(&key, Some(&trailing)),
            TxnRecordError::Schema(SchemaError::TrailingBytes { .. })
        ));
    }
    let mut trailing_key = key.clone();
    trailing_key.push(0);
    assert!(matches!(
        err(&trailing_key, None),
        TxnRecordError::Schema(SchemaError::TrailingBytes { .. })
    ));
    // Negative, null and lying string lengths.
    let negative = Hand::new().i16(0).i16(-2).0;
    assert_eq!(
        err(&negative, None),
        TxnRecordError::Schema(SchemaError::InvalidLength {
            field: "transactional_id",
            length: -2
        })
    );
    let null = Hand::new().i16(0).i16(-1).0;
    assert!(matches!(
        err(&null, None),
        TxnRecordError::Schema(SchemaError::UnexpectedNull { .. })
    ));
    let lying = Hand::new().i16(0).i16(100).raw(b"x").0;
    assert!(matches!(
        err(&lying, None),
        TxnRecordError::Schema(SchemaError::Truncated { .. })
    ));
    let bad_utf8 = Hand::new().i16(0).i16(1).raw(&[0xff]).0;
    assert!(matches!(
        err(&bad_utf8, None),
        TxnRecordError::Schema(SchemaError::InvalidUtf8 { .. })
    ));
    let negative_topic = head(0).i32(1).i16(-5).i32(0).i64(5).i64(4).0;
    assert!(matches!(
        err(&key, Some(&negative_topic)),
        TxnRecordError::Schema(SchemaError::InvalidLength { .. })
    ));
    // Huge array counts: refused before any allocation.
    for count in [i32::MAX, 1_000_000] {
        let topics = head(0).i32(count).i64(5).i64(4).0;
        assert!(matches!(
            err(&key, Some(&topics)),
            TxnRecordError::Schema(SchemaError::InvalidLength { .. })
        ));
        let ids = head(0).i32(1).s("t").i32(count).i64(5).i64(4).0;
        assert!(matches!(
            err(&key, Some(&ids)),
            TxnRecordError::Schema(SchemaError::InvalidLength { .. })
        ));
    }
    let compact_huge = head(1).raw(&[0xff, 0xff, 0xff, 0xff, 0x0f]).0;
    assert!(matches!(
        err(&key, Some(&compact_huge)),
        TxnRecordError::Schema(SchemaError::InvalidLength { .. })
    ));
    let negative_count = head(0).i32(-2).0;
    assert!(matches!(
        err(&key, Some(&negative_count)),
        TxnRecordError::Schema(SchemaError::InvalidLength { .. })
    ));
    let null_ids = head(0).i32(1).s("t").i32(-1).i64(5).i64(4).0;
    assert!(matches!(
        err(&key, Some(&null_ids)),
        TxnRecordError::Schema(SchemaError::UnexpectedNull { .. })
    ));
    // Unknown state ids and value versions.
    let bad_state = Hand::new()
        .i16(0)
        .i64(1)
        .i16(0)
        .i32(1)
        .i8(8)
        .i32(0)
        .i64(0)
        .i64(0)
        .0;
    assert_eq!(err(&key, Some(&bad_state)), TxnRecordError::InvalidState(8));
    for version in [2i16, -1, i16::MAX] {
        let v = Hand::new().i16(version).raw(&hex(JAVA_ONGOING_V1)[2..]).0;
        assert_eq!(
            err(&key, Some(&v)),
            TxnRecordError::UnsupportedVersion(version)
        );
    }
    // Flexible: a varint that never ends, a tagged field larger than the bytes.
    let endless = head(1).raw(&[0xff; 6]).0;
    assert!(matches!(
        err(&key, Some(&endless)),
        TxnRecordError::Schema(SchemaError::VarintTooLong { .. })
    ));
    let big_tag = head(1).c(0).i64(5).i64(4).raw(&[1, 9, 50, 1]).0;
    assert!(matches!(
        err(&key, Some(&big_tag)),
        TxnRecordError::Schema(SchemaError::Truncated { .. })
    ));
    let many_tags = head(1)
        .c(0)
        .i64(5)
        .i64(4)
        .raw(&[0xff, 0xff, 0xff, 0xff, 0x0f])
        .0;
    assert!(matches!(
        err(&key, Some(&many_tags)),
        TxnRecordError::Schema(SchemaError::Truncated { .. })
    ));
}

#[test]
fn over_long_strings_fail_validation_and_encode_cut() {
    let r = TxnRecord {
        transactional_id: "é".repeat(20_000),
        value: None,
    };
    assert!(matches!(
        r.validate(),
        Err(TxnRecordError::TooLong {
            field: "transactional_id",
            ..
        })
    ));
    match TxnRecord::decode(&r.encode().0, None) {
        Ok(Some(back)) => assert_eq!(back.transactional_id.len(), i16::MAX as usize - 1),
        other => panic!("cut key must still decode: {other:?}"),
    }
    let topic = TxnMetadataValue {
        partitions: vec![("t".repeat(40_000), vec![0])],
        ..ongoing()
    };
    let r = record(Some(topic));
    assert!(matches!(
        r.validate(),
        Err(TxnRecordError::TooLong { field: "topic", .. })
    ));
    let (k, v) = r.encode();
    let back = TxnRecord::decode(&k, v.as_deref())
        .expect("decode")
        .expect("record");
    assert_eq!(
        back.value.expect("value").partitions[0].0.len(),
        i16::MAX as usize
    );
}

#[test]
fn partition_follows_kafkas_placement() {
    // Utils.abs("…".hashCode()) % 50, printed by Java against the Kafka 4.1.2 jars.
    assert_eq!(partition_for("my-txn", 50), 45); // hashCode -1061187895
    assert_eq!(partition_for("", 50), 0);
    assert_eq!(partition_for("tx-é-日本", 50), 44); // hashCode -938879244
    assert_eq!(partition_for("g\u{1F600}", 50), 32); // surrogate pair; hashCode 1871882
    assert_eq!(partition_for("transactional-producer-1", 50), 48);
    // hashCode i32::MIN: Kafka's Utils.abs gives 0 (Math.abs would give -48).
    assert_eq!(partition_for("polygenelubricants", 50), 0);
}
