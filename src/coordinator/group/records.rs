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

use crate::coordinator::schema::{Reader, SchemaError};

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
    /// The bytes do not follow the schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("invalid key version {0}")]
    InvalidKeyVersion(i16),
    #[error("unsupported {schema} version {version}")]
    UnsupportedVersion { schema: &'static str, version: i16 },
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
    r.skip_tagged_fields()?;
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
    let count = r.array_len("members", 1)?;
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
        r.skip_tagged_fields()?;
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
    r.skip_tagged_fields()?;
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

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
