//! The records of `__consumer_offsets`, in Apache Kafka's own key/value schemas (architecture
//! invariant 6), so a Kafka data directory's committed offsets and classic groups replay here.
//!
//! Every key and every non-null value starts with a big-endian i16 version. The key version
//! names the record type: 0 and 1 are an offset commit, 2 is a classic group's metadata, 3 and
//! up are KIP-848 consumer-group, share and streams records, which this module does not model
//! (`decode` returns `Ok(None)` for them so replay skips them). A null value is a tombstone.
//!
//! ```text
//! OffsetCommitKey v0-1     group string | topic string | partition i32
//! OffsetCommitValue v0     offset i64 | metadata string | commit_timestamp i64
//!                   v1     offset i64 | metadata string | commit_timestamp i64 | expire_timestamp i64
//!                   v2     offset i64 | metadata string | commit_timestamp i64
//!                   v3     offset i64 | leader_epoch i32 | metadata string | commit_timestamp i64
//!                   v4     as v3, flexible
//! GroupMetadataKey v2      group string
//! GroupMetadataValue v0-4  protocol_type string | generation i32 | protocol string? |
//!                          leader string? | current_state_timestamp i64 (v2+) | members [member]
//!   member                 member_id string | group_instance_id string? (v3+) | client_id string |
//!                          client_host string | rebalance_timeout i32 (v1+) |
//!                          session_timeout i32 | subscription bytes | assignment bytes
//! ```
//!
//! `string?` is nullable. Non-flexible versions write strings as i16 length + UTF-8 (-1 = null),
//! bytes as i32 length, arrays as i32 count. The flexible versions (OffsetCommitValue v4,
//! GroupMetadataValue v4) write compact strings, bytes and arrays (unsigned varint length + 1,
//! 0 = null) and end every struct, each member included, with a tagged-field section (unsigned
//! varint count, then tag, size and data per field), which is skipped: no tags are defined.
//!
//! Fields absent from an old version take Kafka's defaults: leader_epoch -1, expire_timestamp -1,
//! current_state_timestamp -1, group_instance_id null, and rebalance_timeout = session_timeout
//! for GroupMetadataValue v0, which predates a separate rebalance timeout.
//!
//! Encoding writes what Kafka 4.1 writes: OffsetCommitKey v1, OffsetCommitValue v3 (v1 when an
//! expire timestamp is set, as Kafka does, which drops the leader epoch), GroupMetadataKey v2,
//! GroupMetadataValue v3. Decoding trusts nothing: every length and count is checked against the
//! bytes left before use, and bytes left over after a record are an error.

use bytes::{BufMut, Bytes, BytesMut};

/// One `__consumer_offsets` record this module understands.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupRecord {
    /// A committed offset; `value: None` is a tombstone (offset deleted).
    Offset {
        group: String,
        topic: String,
        partition: i32,
        value: Option<OffsetValue>,
    },
    /// A classic group's metadata; `value: None` is a tombstone (group deleted).
    Metadata {
        group: String,
        value: Option<GroupMetadataValue>,
    },
}

/// The value of a committed offset.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetValue {
    pub offset: i64,
    /// Leader epoch of the committed record, -1 when unknown.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Expiry requested by an old OffsetCommit (v1), -1 for none.
    pub expire_timestamp: i64,
}

/// The state of a classic group, written at each generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMetadataValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// When the group entered its current state, -1 when unknown.
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

/// One member of a classic group, as stored in `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    /// The member's metadata for the chosen protocol, opaque to the broker.
    pub subscription: Bytes,
    /// The assignment the leader gave this member, opaque to the broker.
    pub assignment: Bytes,
}

/// Why bytes are not a valid `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("{field}: needs {needed} bytes, {available} left")]
    Truncated {
        field: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("{field}: invalid length {length}")]
    InvalidLength { field: &'static str, length: i64 },
    #[error("{field}: null where the schema does not allow it")]
    UnexpectedNull { field: &'static str },
    #[error("{field}: not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error("{field}: varint longer than 5 bytes")]
    VarintTooLong { field: &'static str },
    #[error("invalid key version {0}")]
    InvalidKeyVersion(i16),
    #[error("unsupported {schema} version {version}")]
    UnsupportedVersion { schema: &'static str, version: i16 },
    #[error("{schema}: {count} bytes left over")]
    TrailingBytes { schema: &'static str, count: usize },
    /// Only from `GroupRecord::validate`: a string or bytes field too long for its schema.
    #[error("{field}: {length} bytes do not fit the schema")]
    TooLong { field: &'static str, length: usize },
}

const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// First key version this module does not model (KIP-848 and later records).
const FIRST_UNMODELLED_KEY_VERSION: i16 = 3;
const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// The only version that carries an expire timestamp.
const OFFSET_COMMIT_VALUE_EXPIRE_VERSION: i16 = 1;
const GROUP_METADATA_VALUE_VERSION: i16 = 3;
const FIRST_FLEXIBLE_VALUE_VERSION: i16 = 4;

impl GroupRecord {
    /// Key and value bytes as Kafka 4.1 writes them: OffsetCommitKey v1; OffsetCommitValue v3
    /// (v1 when `expire_timestamp != -1`, as Kafka does); GroupMetadataKey v2;
    /// GroupMetadataValue v3.
    ///
    /// Strings must fit an i16 length and bytes an i32 one; `validate` checks that, and records
    /// built from client input should pass it first. Over-long strings are cut at a character
    /// boundary rather than written with a wrong length.
    pub fn encode(&self) -> (Bytes, Option<Bytes>) {
        let mut key = BytesMut::new();
        match self {
            GroupRecord::Offset {
                group,
                topic,
                partition,
                value,
            } => {
                key.put_i16(OFFSET_COMMIT_KEY_VERSION);
                put_string(&mut key, group);
                put_string(&mut key, topic);
                key.put_i32(*partition);
                (key.freeze(), value.as_ref().map(encode_offset_value))
            }
            GroupRecord::Metadata { group, value } => {
                key.put_i16(GROUP_METADATA_KEY_VERSION);
                put_string(&mut key, group);
                (key.freeze(), value.as_ref().map(encode_group_value))
            }
        }
    }

    /// Decodes any key/value version Kafka 4.1 can have written (OffsetCommitKey 0-1,
    /// OffsetCommitValue 0-4, GroupMetadataKey 2, GroupMetadataValue 0-4). Keys of the other
    /// record types (versions 3 and up) give `Ok(None)` so replay skips them.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<GroupRecord>, RecordError> {
        let mut k = Reader::new(key, false);
        let key_version = k.i16("key version")?;
        match key_version {
            0 | 1 => {
                let group = k.string("group")?;
                let topic = k.string("topic")?;
                let partition = k.i32("partition")?;
                k.finish("OffsetCommitKey")?;
                let value = value.map(decode_offset_value).transpose()?;
                Ok(Some(GroupRecord::Offset {
                    group,
                    topic,
                    partition,
                    value,
                }))
            }
            GROUP_METADATA_KEY_VERSION => {
                let group = k.string("group")?;
                k.finish("GroupMetadataKey")?;
                let value = value.map(decode_group_value).transpose()?;
                Ok(Some(GroupRecord::Metadata { group, value }))
            }
            v if v >= FIRST_UNMODELLED_KEY_VERSION => Ok(None),
            v => Err(RecordError::InvalidKeyVersion(v)),
        }
    }

    pub fn group_id(&self) -> &str {
        match self {
            GroupRecord::Offset { group, .. } | GroupRecord::Metadata { group, .. } => group,
        }
    }

    /// Checks that every string fits an i16 length and every bytes field an i32 one, so
    /// `encode` writes the record unchanged.
    pub fn validate(&self) -> Result<(), RecordError> {
        let string = |field, s: &str| fits(field, s.len(), i16::MAX as usize);
        let bytes = |field, b: &Bytes| fits(field, b.len(), i32::MAX as usize);
        match self {
            GroupRecord::Offset {
                group,
                topic,
                value,
                ..
            } => {
                string("group", group)?;
                string("topic", topic)?;
                if let Some(v) = value {
                    string("metadata", &v.metadata)?;
                }
            }
            GroupRecord::Metadata { group, value } => {
                string("group", group)?;
                let Some(v) = value else { return Ok(()) };
                string("protocol_type", &v.protocol_type)?;
                string("protocol", v.protocol.as_deref().unwrap_or_default())?;
                string("leader", v.leader.as_deref().unwrap_or_default())?;
                fits("members", v.members.len(), i32::MAX as usize)?;
                for m in &v.members {
                    string("member_id", &m.member_id)?;
                    string(
                        "group_instance_id",
                        m.group_instance_id.as_deref().unwrap_or_default(),
                    )?;
                    string("client_id", &m.client_id)?;
                    string("client_host", &m.client_host)?;
                    bytes("subscription", &m.subscription)?;
                    bytes("assignment", &m.assignment)?;
                }
            }
        }
        Ok(())
    }
}

fn fits(field: &'static str, length: usize, max: usize) -> Result<(), RecordError> {
    if length > max {
        return Err(RecordError::TooLong { field, length });
    }
    Ok(())
}

/// The `__consumer_offsets` partition of a group: Java's `String.hashCode` of the group id
/// (over UTF-16 code units), made non-negative as Kafka's `Utils.abs` does (i32::MIN maps to 0),
/// modulo `partitions`. A non-positive `partitions` gives 0.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    let hash = group_id.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions
}

fn encode_offset_value(v: &OffsetValue) -> Bytes {
    let mut b = BytesMut::new();
    if v.expire_timestamp != -1 {
        b.put_i16(OFFSET_COMMIT_VALUE_EXPIRE_VERSION);
        b.put_i64(v.offset);
        put_string(&mut b, &v.metadata);
        b.put_i64(v.commit_timestamp);
        b.put_i64(v.expire_timestamp);
    } else {
        b.put_i16(OFFSET_COMMIT_VALUE_VERSION);
        b.put_i64(v.offset);
        b.put_i32(v.leader_epoch);
        put_string(&mut b, &v.metadata);
        b.put_i64(v.commit_timestamp);
    }
    b.freeze()
}

fn encode_group_value(v: &GroupMetadataValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(GROUP_METADATA_VALUE_VERSION);
    put_string(&mut b, &v.protocol_type);
    b.put_i32(v.generation);
    put_nullable_string(&mut b, v.protocol.as_deref());
    put_nullable_string(&mut b, v.leader.as_deref());
    b.put_i64(v.current_state_timestamp);
    b.put_i32(v.members.len().min(i32::MAX as usize) as i32);
    for m in v.members.iter().take(i32::MAX as usize) {
        put_string(&mut b, &m.member_id);
        put_nullable_string(&mut b, m.group_instance_id.as_deref());
        put_string(&mut b, &m.client_id);
        put_string(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout);
        b.put_i32(m.session_timeout);
        put_bytes(&mut b, &m.subscription);
        put_bytes(&mut b, &m.assignment);
    }
    b.freeze()
}

/// A non-flexible string: i16 length and UTF-8, cut at a character boundary if too long.
fn put_string(b: &mut BytesMut, s: &str) {
    let mut end = s.len().min(i16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    b.put_i16(end as i16);
    b.put_slice(&s.as_bytes()[..end]);
}

fn put_nullable_string(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(b, s),
        None => b.put_i16(-1),
    }
}

/// Non-flexible bytes: i32 length.
fn put_bytes(b: &mut BytesMut, data: &Bytes) {
    let len = data.len().min(i32::MAX as usize);
    b.put_i32(len as i32);
    b.put_slice(&data[..len]);
}

fn decode_offset_value(value: &[u8]) -> Result<OffsetValue, RecordError> {
    let version = Reader::new(value, false).i16("value version")?;
    if !(0..=4).contains(&version) {
        return Err(RecordError::UnsupportedVersion {
            schema: "OffsetCommitValue",
            version,
        });
    }
    let mut r = Reader::new(&value[2..], version >= FIRST_FLEXIBLE_VALUE_VERSION);
    let offset = r.i64("offset")?;
    let leader_epoch = if version >= 3 {
        r.i32("leader_epoch")?
    } else {
        -1
    };
    let metadata = r.string("metadata")?;
    let commit_timestamp = r.i64("commit_timestamp")?;
    let expire_timestamp = if version == OFFSET_COMMIT_VALUE_EXPIRE_VERSION {
        r.i64("expire_timestamp")?
    } else {
        -1
    };
    r.tagged_fields()?;
    r.finish("OffsetCommitValue")?;
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
        expire_timestamp,
    })
}

fn decode_group_value(value: &[u8]) -> Result<GroupMetadataValue, RecordError> {
    let version = Reader::new(value, false).i16("value version")?;
    if !(0..=4).contains(&version) {
        return Err(RecordError::UnsupportedVersion {
            schema: "GroupMetadataValue",
            version,
        });
    }
    let mut r = Reader::new(&value[2..], version >= FIRST_FLEXIBLE_VALUE_VERSION);
    let protocol_type = r.string("protocol_type")?;
    let generation = r.i32("generation")?;
    let protocol = r.nullable_string("protocol")?;
    let leader = r.nullable_string("leader")?;
    let current_state_timestamp = if version >= 2 {
        r.i64("current_state_timestamp")?
    } else {
        -1
    };
    let count = r.array_len("members")?;
    // Capacity from what the bytes can hold, never from the count alone.
    let mut members = Vec::with_capacity(count.min(r.remaining()));
    for _ in 0..count {
        let member_id = r.string("member_id")?;
        let group_instance_id = if version >= 3 {
            r.nullable_string("group_instance_id")?
        } else {
            None
        };
        let client_id = r.string("client_id")?;
        let client_host = r.string("client_host")?;
        let rebalance_timeout = if version >= 1 {
            Some(r.i32("rebalance_timeout")?)
        } else {
            None
        };
        let session_timeout = r.i32("session_timeout")?;
        let subscription = r.bytes("subscription")?;
        let assignment = r.bytes("assignment")?;
        r.tagged_fields()?;
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout: rebalance_timeout.unwrap_or(session_timeout),
            session_timeout,
            subscription,
            assignment,
        });
    }
    r.tagged_fields()?;
    r.finish("GroupMetadataValue")?;
    Ok(GroupMetadataValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

/// Reads one record's fields; every read checks the bytes left first.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Compact lengths and tagged fields (flexible versions) instead of fixed-width lengths.
    flexible: bool,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], flexible: bool) -> Self {
        Reader {
            buf,
            pos: 0,
            flexible,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], RecordError> {
        if n > self.remaining() {
            return Err(RecordError::Truncated {
                field,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], RecordError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(field, N)?);
        Ok(a)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, RecordError> {
        self.array(field).map(i16::from_be_bytes)
    }
    fn i32(&mut self, field: &'static str) -> Result<i32, RecordError> {
        self.array(field).map(i32::from_be_bytes)
    }
    fn i64(&mut self, field: &'static str) -> Result<i64, RecordError> {
        self.array(field).map(i64::from_be_bytes)
    }

    /// An unsigned varint of at most 5 bytes (u32).
    fn uvarint(&mut self, field: &'static str) -> Result<u32, RecordError> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let [byte] = self.array(field)?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| RecordError::VarintTooLong { field });
            }
        }
        Err(RecordError::VarintTooLong { field })
    }

    /// The length of a string, bytes or array field; `None` is null.
    fn length(&mut self, field: &'static str, wide: bool) -> Result<Option<usize>, RecordError> {
        let length = if self.flexible {
            i64::from(self.uvarint(field)?) - 1
        } else if wide {
            i64::from(self.i32(field)?)
        } else {
            i64::from(self.i16(field)?)
        };
        match length {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(n as usize)),
            n => Err(RecordError::InvalidLength { field, length: n }),
        }
    }

    fn nullable_string(&mut self, field: &'static str) -> Result<Option<String>, RecordError> {
        let Some(len) = self.length(field, false)? else {
            return Ok(None);
        };
        let raw = self.take(field, len)?;
        let s = std::str::from_utf8(raw).map_err(|_| RecordError::InvalidUtf8 { field })?;
        Ok(Some(s.to_owned()))
    }

    fn string(&mut self, field: &'static str) -> Result<String, RecordError> {
        self.nullable_string(field)?
            .ok_or(RecordError::UnexpectedNull { field })
    }

    fn bytes(&mut self, field: &'static str) -> Result<Bytes, RecordError> {
        let len = self
            .length(field, true)?
            .ok_or(RecordError::UnexpectedNull { field })?;
        Ok(Bytes::copy_from_slice(self.take(field, len)?))
    }

    /// A non-nullable array's element count (each element takes at least one byte, which the
    /// element reads check).
    fn array_len(&mut self, field: &'static str) -> Result<usize, RecordError> {
        let count = self
            .length(field, true)?
            .ok_or(RecordError::UnexpectedNull { field })?;
        if count > self.remaining() {
            return Err(RecordError::InvalidLength {
                field,
                length: count as i64,
            });
        }
        Ok(count)
    }

    /// Skips a tagged-field section (flexible versions only): no tags are defined yet.
    fn tagged_fields(&mut self) -> Result<(), RecordError> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint("tagged fields")?;
        for _ in 0..count {
            self.uvarint("tag")?;
            let size = self.uvarint("tagged field size")?;
            self.take("tagged field", size as usize)?;
        }
        Ok(())
    }

    fn finish(&self, schema: &'static str) -> Result<(), RecordError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(RecordError::TrailingBytes { schema, count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(err(&lying, None), RecordError::Truncated { .. }));
        // Null and negative lengths where the schema forbids them.
        let null_group = Hand::new().i16(2).i16(-1).0;
        assert!(matches!(
            err(&null_group, None),
            RecordError::UnexpectedNull { .. }
        ));
        let negative = Hand::new().i16(2).i16(-2).0;
        assert!(matches!(
            err(&negative, None),
            RecordError::InvalidLength { .. }
        ));
        let bad_utf8 = Hand::new().i16(2).i16(1).raw(&[0xff]).0;
        assert!(matches!(
            err(&bad_utf8, None),
            RecordError::InvalidUtf8 { .. }
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
            RecordError::TrailingBytes { .. }
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
            RecordError::InvalidLength { .. }
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
            RecordError::Truncated { .. }
        ));
        // Flexible: a varint that never ends, a tagged field larger than the bytes.
        let endless = Hand::new().i16(4).i64(1).i32(0).raw(&[0xff; 6]).0;
        assert!(matches!(
            err(&good_key, Some(&endless)),
            RecordError::VarintTooLong { .. }
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
            RecordError::Truncated { .. }
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
}
