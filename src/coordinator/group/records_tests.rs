//! Kafka's `__consumer_offsets` record schemas: round trips, every version Kafka wrote, and
//! malformed input.

use super::*;
use crate::coordinator::schema::SchemaError;

fn offset_value(expire_timestamp: i64) -> OffsetValue {
    OffsetValue {
        offset: 42,
        leader_epoch: if expire_timestamp == -1 { 7 } else { -1 },
        metadata: "meta".into(),
        commit_timestamp: 1_700_000_000_000,
        expire_timestamp,
    }
}

fn member(id: &str, instance: Option<&str>) -> MemberMetadata {
    MemberMetadata {
        member_id: id.into(),
        group_instance_id: instance.map(Into::into),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        rebalance_timeout: 300_000,
        session_timeout: 45_000,
        subscription: Bytes::from_static(b"\x00\x01sub"),
        assignment: Bytes::from_static(b""),
    }
}

fn group_value() -> GroupMetadataValue {
    GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 3,
        protocol: Some("range".into()),
        leader: Some("m1".into()),
        current_state_timestamp: 1_700_000_000_123,
        members: vec![member("m1", Some("static-1")), member("m2", None)],
    }
}

fn round_trip(r: &GroupRecord) {
    r.validate().expect("encodable");
    let (k, v) = r.encode();
    let back = GroupRecord::decode(&k, v.as_deref()).expect("decode");
    assert_eq!(back.as_ref(), Some(r));
}

#[test]
fn records_round_trip() {
    for value in [Some(offset_value(-1)), Some(offset_value(99)), None] {
        round_trip(&GroupRecord::Offset {
            group: "g".into(),
            topic: "orders".into(),
            partition: 5,
            value,
        });
    }
    let empty = GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 0,
        protocol: None,
        leader: None,
        current_state_timestamp: -1,
        members: Vec::new(),
    };
    for value in [Some(group_value()), Some(empty), None] {
        round_trip(&GroupRecord::Metadata {
            group: "grüppe".into(),
            value,
        });
    }
}

#[test]
fn encodes_the_versions_kafka_writes() {
    let r = GroupRecord::Offset {
        group: "g".into(),
        topic: "t".into(),
        partition: 1,
        value: Some(offset_value(-1)),
    };
    let (k, v) = r.encode();
    assert_eq!(&k[..], b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x01");
    let v = v.expect("value");
    assert_eq!(&v[..2], [0, 3]);
    assert_eq!(v.len(), 2 + 8 + 4 + 2 + 4 + 8);
    let r = GroupRecord::Offset {
        group: "g".into(),
        topic: "t".into(),
        partition: 1,
        value: Some(offset_value(5)),
    };
    assert_eq!(&r.encode().1.expect("value")[..2], [0, 1]);
    let r = GroupRecord::Metadata {
        group: "g".into(),
        value: Some(group_value()),
    };
    let (k, v) = r.encode();
    assert_eq!(&k[..], b"\x00\x02\x00\x01g");
    assert_eq!(&v.expect("value")[..2], [0, 3]);
    assert_eq!(r.group_id(), "g");
}

/// Hand-built bytes in the layouts of the schema files.
struct Hand(Vec<u8>);
impl Hand {
    fn new() -> Self {
        Hand(Vec::new())
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn s(self, v: &str) -> Self {
        self.i16(v.len() as i16).raw(v.as_bytes())
    }
    fn b(self, v: &[u8]) -> Self {
        self.i32(v.len() as i32).raw(v)
    }
    /// Compact string/bytes/array length: unsigned varint of length + 1 (all tests < 127).
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

fn offset_key(version: i16) -> Vec<u8> {
    Hand::new().i16(version).s("grp").s("topic").i32(9).0
}

fn decode_offset(key: &[u8], value: &[u8]) -> OffsetValue {
    match GroupRecord::decode(key, Some(value)).expect("decode") {
        Some(GroupRecord::Offset {
            group,
            topic,
            partition,
            value: Some(v),
        }) => {
            assert_eq!(
                (group.as_str(), topic.as_str(), partition),
                ("grp", "topic", 9)
            );
            v
        }
        other => panic!("not an offset commit: {other:?}"),
    }
}

#[test]
fn decodes_every_offset_commit_value_version() {
    let expected = |leader_epoch, expire_timestamp| OffsetValue {
        offset: 100,
        leader_epoch,
        metadata: "m".into(),
        commit_timestamp: 555,
        expire_timestamp,
    };
    let v0 = Hand::new().i16(0).i64(100).s("m").i64(555).0;
    assert_eq!(decode_offset(&offset_key(0), &v0), expected(-1, -1));
    let v1 = Hand::new().i16(1).i64(100).s("m").i64(555).i64(999).0;
    assert_eq!(decode_offset(&offset_key(1), &v1), expected(-1, 999));
    let v2 = Hand::new().i16(2).i64(100).s("m").i64(555).0;
    assert_eq!(decode_offset(&offset_key(1), &v2), expected(-1, -1));
    let v3 = Hand::new().i16(3).i64(100).i32(4).s("m").i64(555).0;
    assert_eq!(decode_offset(&offset_key(1), &v3), expected(4, -1));
    // v4: compact metadata, then a tagged-field section holding one unknown tag.
    let v4 = Hand::new()
        .i16(4)
        .i64(100)
        .i32(4)
        .cs("m")
        .i64(555)
        .raw(&[1, 9, 2, 0xaa, 0xbb])
        .0;
    assert_eq!(decode_offset(&offset_key(1), &v4), expected(4, -1));
    let v4_no_tags = Hand::new()
        .i16(4)
        .i64(100)
        .i32(4)
        .cs("m")
        .i64(555)
        .raw(&[0])
        .0;
    assert_eq!(decode_offset(&offset_key(1), &v4_no_tags), expected(4, -1));
}

fn decode_group(value: &[u8]) -> GroupMetadataValue {
    let key = Hand::new().i16(2).s("grp").0;
    match GroupRecord::decode(&key, Some(value)).expect("decode") {
        Some(GroupRecord::Metadata {
            group,
            value: Some(v),
        }) => {
            assert_eq!(group, "grp");
            v
        }
        other => panic!("not group metadata: {other:?}"),
    }
}

#[test]
fn decodes_every_group_metadata_value_version() {
    let head = |version| {
        Hand::new()
            .i16(version)
            .s("consumer")
            .i32(3)
            .s("range")
            .i16(-1)
    };
    // v0: no rebalance timeout (it takes the session timeout), no state timestamp.
    let v0 = head(0)
        .i32(1)
        .s("m1")
        .s("cid")
        .s("host")
        .i32(10_000)
        .b(b"sub")
        .b(b"asg")
        .0;
    let g = decode_group(&v0);
    assert_eq!(
        (
            g.protocol.as_deref(),
            g.leader.as_deref(),
            g.current_state_timestamp
        ),
        (Some("range"), None, -1)
    );
    let m = &g.members[0];
    assert_eq!((m.rebalance_timeout, m.session_timeout), (10_000, 10_000));
    assert_eq!(m.group_instance_id, None);
    assert_eq!(
        (&m.subscription[..], &m.assignment[..]),
        (&b"sub"[..], &b"asg"[..])
    );
    // v1: rebalance timeout.
    let v1 = head(1)
        .i32(1)
        .s("m1")
        .s("cid")
        .s("host")
        .i32(60_000)
        .i32(10_000)
        .b(b"")
        .b(b"")
        .0;
    let g = decode_group(&v1);
    assert_eq!(g.members[0].rebalance_timeout, 60_000);
    assert_eq!(g.current_state_timestamp, -1);
    // v2: state timestamp; zero members.
    let v2 = head(2).i64(77).i32(0).0;
    let g = decode_group(&v2);
    assert_eq!((g.current_state_timestamp, g.members.len()), (77, 0));
    // v3: group instance id.
    let v3 = head(3)
        .i64(77)
        .i32(1)
        .s("m1")
        .s("static")
        .s("cid")
        .s("host")
        .i32(60_000)
        .i32(10_000)
        .b(b"s")
        .b(b"a")
        .0;
    let g = decode_group(&v3);
    assert_eq!(g.members[0].group_instance_id.as_deref(), Some("static"));
    // v4: flexible, with a tagged field in the member and in the top-level struct.
    let v4 = Hand::new()
        .i16(4)
        .cs("consumer")
        .i32(3)
        .cs("range")
        .raw(&[0]) // null leader
        .i64(77)
        .c(1)
        .cs("m1")
        .raw(&[0]) // null group instance id
        .cs("cid")
        .cs("host")
        .i32(60_000)
        .i32(10_000)
        .c(1)
        .raw(b"s")
        .c(0)
        .raw(&[1, 5, 1, 0xff]) // member tagged fields
        .raw(&[0]) // top-level tagged fields
        .0;
    let g = decode_group(&v4);
    assert_eq!(g.leader, None);
    let m = &g.members[0];
    assert_eq!(
        (m.member_id.as_str(), m.group_instance_id.as_deref()),
        ("m1", None)
    );
    assert_eq!((&m.subscription[..], m.assignment.len()), (&b"s"[..], 0));
    assert_eq!(m.rebalance_timeout, 60_000);
}

#[test]
fn other_record_types_are_skipped_and_tombstones_kept() {
    for version in [3i16, 4, 5, 11, 12, i16::MAX] {
        let key = Hand::new().i16(version).s("grp").0;
        assert_eq!(GroupRecord::decode(&key, Some(b"\x00\x00zz")), Ok(None));
    }
    assert_eq!(
        GroupRecord::decode(&offset_key(0), None),
        Ok(Some(GroupRecord::Offset {
            group: "grp".into(),
            topic: "topic".into(),
            partition: 9,
            value: None
        }))
    );
}

#[test]
fn malformed_records_are_errors() {
    let good_key = offset_key(1);
    let good_value = Hand::new().i16(3).i64(1).i32(0).s("m").i64(2).0;
    let err = |k: &[u8], v: Option<&[u8]>| GroupRecord::decode(k, v).expect_err("malformed");
    // Every truncation of a valid key or value.
    for cut in 0..good_key.len() {
        err(&good_key[..cut], Some(&good_value));
    }
    for cut in 0..good_value.len() {
        err(&good_key, Some(&good_value[..cut]));
    }
    assert_eq!(
        err(&Hand::new().i16(-1).0, None),
        RecordError::InvalidKeyVersion(-1)
    );
    // A string length larger than the bytes left.
    let lying = Hand::new().i16(2).i16(100).raw(b"g").0;
    assert!(matches!(
        err(&lying, None),
        RecordError::Schema(SchemaError::Truncated { .. })
    ));
    // Null and negative lengths where the schema forbids them.
    let null_group = Hand::new().i16(2).i16(-1).0;
    assert!(matches!(
        err(&null_group, None),
        RecordError::Schema(SchemaError::UnexpectedNull { .. })
    ));
    let negative = Hand::new().i16(2).i16(-2).0;
    assert!(matches!(
        err(&negative, None),
        RecordError::Schema(SchemaError::InvalidLength { .. })
    ));
    let bad_utf8 = Hand::new().i16(2).i16(1).raw(&[0xff]).0;
    assert!(matches!(
        err(&bad_utf8, None),
        RecordError::Schema(SchemaError::InvalidUtf8 { .. })
    ));
    // Unknown value versions and trailing bytes.
    let v9 = Hand::new().i16(9).raw(&good_value[2..]).0;
    assert!(matches!(
        err(&good_key, Some(&v9)),
        RecordError::UnsupportedVersion { .. }
    ));
    let mut trailing = good_value.clone();
    trailing.push(0);
    assert!(matches!(
        err(&good_key, Some(&trailing)),
        RecordError::Schema(SchemaError::TrailingBytes { .. })
    ));
    // A member count far beyond the bytes, and a huge bytes length.
    let group_key = Hand::new().i16(2).s("g").0;
    let many = Hand::new()
        .i16(3)
        .s("c")
        .i32(1)
        .i16(-1)
        .i16(-1)
        .i64(0)
        .i32(i32::MAX)
        .0;
    assert!(matches!(
        err(&group_key, Some(&many)),
        RecordError::Schema(SchemaError::InvalidLength { .. })
    ));
    let huge = Hand::new()
        .i16(0)
        .s("c")
        .i32(1)
        .i16(-1)
        .i16(-1)
        .i32(1)
        .s("m")
        .s("c")
        .s("h")
        .i32(1)
        .i32(i32::MAX)
        .0;
    assert!(matches!(
        err(&group_key, Some(&huge)),
        RecordError::Schema(SchemaError::Truncated { .. })
    ));
    // Flexible: a varint that never ends, a tagged field larger than the bytes.
    let endless = Hand::new().i16(4).i64(1).i32(0).raw(&[0xff; 6]).0;
    assert!(matches!(
        err(&good_key, Some(&endless)),
        RecordError::Schema(SchemaError::VarintTooLong { .. })
    ));
    let big_tag = Hand::new()
        .i16(4)
        .i64(1)
        .i32(0)
        .cs("m")
        .i64(2)
        .raw(&[1, 0, 50, 1])
        .0;
    assert!(matches!(
        err(&good_key, Some(&big_tag)),
        RecordError::Schema(SchemaError::Truncated { .. })
    ));
}

#[test]
fn over_long_strings_fail_validation_and_encode_cut() {
    let r = GroupRecord::Metadata {
        group: "é".repeat(20_000),
        value: None,
    };
    assert!(matches!(r.validate(), Err(RecordError::TooLong { .. })));
    let (k, _) = r.encode();
    match GroupRecord::decode(&k, None) {
        Ok(Some(GroupRecord::Metadata { group, .. })) => {
            assert_eq!(group.len(), i16::MAX as usize - 1);
        }
        other => panic!("cut key must still decode: {other:?}"),
    }
}

/// Java's `String.hashCode`, written out: s[0]*31^(n-1) + ... + s[n-1] over UTF-16 units,
/// in wrapping i32 arithmetic.
fn java_hash(units: &[u16]) -> i32 {
    let n = units.len() as u32;
    units.iter().enumerate().fold(0i32, |acc, (i, &u)| {
        acc.wrapping_add(i32::from(u).wrapping_mul(31i32.wrapping_pow(n - 1 - i as u32)))
    })
}

#[test]
fn partition_follows_java_hash_code() {
    // Values worked out from the definition: "a" = 97; "ab" = 97*31 + 98 = 3105.
    assert_eq!(partition_for("a", 50), 97 % 50);
    assert_eq!(partition_for("ab", 50), 3105 % 50);
    assert_eq!(partition_for("", 50), 0);
    let g = "console-consumer-12345";
    let h = java_hash(&g.encode_utf16().collect::<Vec<_>>());
    assert_eq!(h, 158_455_506);
    assert_eq!(partition_for(g, 50), 158_455_506 % 50);
    // Negative hash codes take the absolute value.
    let h = java_hash(&"my-group".encode_utf16().collect::<Vec<_>>());
    assert_eq!(h, -1_906_497_762);
    assert_eq!(partition_for("my-group", 50), 1_906_497_762 % 50);
    // A hash of exactly i32::MIN: Kafka's Utils.abs maps it to 0, not i32::MIN.
    assert_eq!(
        java_hash(&"polygenelubricants".encode_utf16().collect::<Vec<_>>()),
        i32::MIN
    );
    assert_eq!(partition_for("polygenelubricants", 50), 0);
    assert_eq!(partition_for("polygenelubricants", 7), 0);
    // A character outside the BMP counts as two UTF-16 code units (a surrogate pair).
    let units = [u16::from(b'g'), 0xD83D, 0xDE00];
    let h = java_hash(&units);
    assert_eq!(h, 103 * 961 + 0xD83D * 31 + 0xDE00);
    assert_eq!(partition_for("g\u{1F600}", 1000), h % 1000);
    assert_eq!(partition_for("x", 0), 0);
}
