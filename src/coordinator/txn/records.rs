//! The records of `__transaction_state`, in Apache Kafka's own key/value schemas (architecture
//! invariant 6), so `kafka-dump-log.sh --transaction-log-decoder` reads what Milena writes and a
//! Kafka data directory's transactions replay here.
//!
//! Every key and every non-null value starts with a big-endian i16. Before the key it is the
//! coordinator record type: 0 is a transaction's metadata, the only type this topic holds, and
//! the key that follows is TransactionLogKey v0. Kafka's loader ignores keys of any other type,
//! so `decode` returns `Ok(None)` for them and replay skips them. Before a value it is the value
//! version. A null value is a tombstone (the transactional id expired).
//!
//! ```text
//! TransactionLogKey v0     transactional_id string
//! TransactionLogValue v0   producer_id i64 | producer_epoch i16 | timeout_ms i32 | status i8 |
//!                          partitions [topic string | partition_ids [i32]]? |
//!                          last_update_timestamp i64 | start_timestamp i64
//!                     v1   as v0, flexible, with four tagged fields after the start timestamp:
//!                            tag 0  previous_producer_id       i64, default -1
//!                            tag 1  next_producer_id           i64, default -1
//!                            tag 2  client_transaction_version i16, default 0
//!                            tag 3  next_producer_epoch        i16, default -1
//! ```
//!
//! `[..]?` is nullable. v0 writes strings as i16 length + UTF-8 and arrays as i32 count (-1 =
//! null). v1 writes compact strings and arrays (unsigned varint length + 1, 0 = null) and ends
//! each struct, every partitions entry included, with a tagged-field section: an unsigned varint
//! count, then per field its tag, size and data, in ascending tag order, a field written only
//! when it differs from its default. v0 cannot carry the tagged fields, so reading v0 gives their
//! defaults. Tags this module does not know are skipped, as Kafka does.
//!
//! `status` is Kafka's transaction state id (`TxnState::id`). The partitions are null exactly
//! when the state is `Empty`: Kafka writes them so and ignores them in an `Empty` record when
//! loading; a null in any other state is an error (Kafka's loader fails on it too).
//!
//! Encoding writes what Kafka 4.1 writes: key type 0 with TransactionLogKey v0, and
//! TransactionLogValue v1, the version Kafka 4.1 writes once `transaction.version` is 1 or more
//! (the default for clusters created by 4.x). `TxnRecord::encode_with_value_version(0)` writes
//! v0, what it writes at `transaction.version` 0. Kafka 4.1 itself leaves the previous and next
//! producer id and next producer epoch at their defaults; they are written whenever set. Decoding
//! trusts nothing: every length and count is checked against the bytes left before use, a known
//! tagged field must have its type's exact size, and bytes left over after a record are an error.

use crate::coordinator::schema::{Reader, SchemaError};
use bytes::{BufMut, Bytes, BytesMut};

/// A transaction's state, as Kafka stores it (the `status` byte) and names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// The id Kafka writes in `TransactionLogValue.status`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_id(id: i8) -> Option<Self> {
        usize::try_from(id)
            .ok()
            .and_then(|i| TxnState::ALL.get(i).copied())
    }

    /// The name Kafka gives the state, as `kafka-transactions.sh` prints it.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }
}

/// A transactional id's metadata, written at each state change.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnMetadataValue {
    pub producer_id: i64,
    /// Producer id of the last committed transaction (tag 0), -1 for none.
    pub previous_producer_id: i64,
    /// Producer id handed to the producer for its next transaction (tag 1), -1 for none.
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    /// Epoch that goes with `next_producer_id` (tag 3), -1 for none.
    pub next_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Topics and partition ids in the transaction; empty, and written as null, in `Empty`.
    pub partitions: Vec<(String, Vec<i32>)>,
    pub last_update_ms: i64,
    /// When the transaction started, -1 when none is running.
    pub start_ms: i64,
    /// The transaction version the client uses (tag 2), 0 by default.
    pub client_transaction_version: i16,
}

impl TxnMetadataValue {
    /// A value with every tagged field at its default and no partitions.
    pub fn new(producer_id: i64, producer_epoch: i16, timeout_ms: i32, state: TxnState) -> Self {
        TxnMetadataValue {
            producer_id,
            previous_producer_id: DEFAULT_PRODUCER_ID,
            next_producer_id: DEFAULT_PRODUCER_ID,
            producer_epoch,
            next_producer_epoch: DEFAULT_PRODUCER_EPOCH,
            timeout_ms,
            state,
            partitions: Vec::new(),
            last_update_ms: -1,
            start_ms: -1,
            client_transaction_version: DEFAULT_CLIENT_TRANSACTION_VERSION,
        }
    }

    fn tagged_fields_are_default(&self) -> bool {
        self.previous_producer_id == DEFAULT_PRODUCER_ID
            && self.next_producer_id == DEFAULT_PRODUCER_ID
            && self.next_producer_epoch == DEFAULT_PRODUCER_EPOCH
            && self.client_transaction_version == DEFAULT_CLIENT_TRANSACTION_VERSION
    }
}

/// One `__transaction_state` record.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnRecord {
    pub transactional_id: String,
    /// `None` is a tombstone: the transactional id expired.
    pub value: Option<TxnMetadataValue>,
}

/// Why bytes are not a valid `__transaction_state` record, or a record cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnRecordError {
    /// The bytes do not follow the schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("unknown transaction state id {0}")]
    InvalidState(i8),
    #[error("unsupported TransactionLogValue version {0}")]
    UnsupportedVersion(i16),
    /// From `validate`: a string or array too long for its schema.
    #[error("{field}: {length} does not fit the schema")]
    TooLong { field: &'static str, length: usize },
    /// From `validate`: Kafka never writes partitions for an `Empty` transaction.
    #[error("an Empty transaction cannot have partitions")]
    EmptyWithPartitions,
    /// From `encode_with_value_version(0)`: v0 has no room for the tagged fields.
    #[error("TransactionLogValue v0 cannot carry non-default tagged fields")]
    TaggedFieldsInV0,
}

/// The coordinator record type of a transaction's metadata, written before the key.
const TRANSACTION_LOG_RECORD_TYPE: i16 = 0;
/// The value version `encode` writes.
pub const TXN_VALUE_VERSION: i16 = 1;
const FIRST_FLEXIBLE_VALUE_VERSION: i16 = 1;
const MAX_STRING: usize = i16::MAX as usize;
const MAX_ARRAY: usize = i32::MAX as usize;

const DEFAULT_PRODUCER_ID: i64 = -1;
const DEFAULT_PRODUCER_EPOCH: i16 = -1;
const DEFAULT_CLIENT_TRANSACTION_VERSION: i16 = 0;

const TAG_PREVIOUS_PRODUCER_ID: u32 = 0;
const TAG_NEXT_PRODUCER_ID: u32 = 1;
const TAG_CLIENT_TRANSACTION_VERSION: u32 = 2;
const TAG_NEXT_PRODUCER_EPOCH: u32 = 3;

impl TxnRecord {
    /// Key and value bytes as Kafka 4.1 writes them: record type 0 with TransactionLogKey v0,
    /// and TransactionLogValue v1.
    ///
    /// Records built from client input should pass `validate` first: over-long strings are cut
    /// at a character boundary rather than written with a wrong length, and an `Empty` value's
    /// partitions are not written (Kafka writes null there).
    pub fn encode(&self) -> (Bytes, Option<Bytes>) {
        let key = self.encode_key();
        let value = self
            .value
            .as_ref()
            .map(|v| encode_value(v, TXN_VALUE_VERSION));
        (key, value)
    }

    /// As `encode`, with TransactionLogValue `version` 0 or 1. Version 0 is what Kafka 4.1
    /// writes while `transaction.version` is 0; it fails, as Kafka does, when a tagged field is
    /// not at its default.
    pub fn encode_with_value_version(
        &self,
        version: i16,
    ) -> Result<(Bytes, Option<Bytes>), TxnRecordError> {
        if !(0..=TXN_VALUE_VERSION).contains(&version) {
            return Err(TxnRecordError::UnsupportedVersion(version));
        }
        if version < FIRST_FLEXIBLE_VALUE_VERSION
            && self
                .value
                .as_ref()
                .is_some_and(|v| !v.tagged_fields_are_default())
        {
            return Err(TxnRecordError::TaggedFieldsInV0);
        }
        let value = self.value.as_ref().map(|v| encode_value(v, version));
        Ok((self.encode_key(), value))
    }

    fn encode_key(&self) -> Bytes {
        let mut key = BytesMut::new();
        key.put_i16(TRANSACTION_LOG_RECORD_TYPE);
        put_string(&mut key, &self.transactional_id, false);
        key.freeze()
    }

    /// Decodes a record Kafka can have written: a key of record type 0 with any value version
    /// 0-1. Keys of other record types, which Kafka's loader ignores, give `Ok(None)`. In an
    /// `Empty` value the partitions are dropped, as Kafka's loader drops them.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<TxnRecord>, TxnRecordError> {
        let mut k = Reader::new(key, false);
        if k.i16("key record type")? != TRANSACTION_LOG_RECORD_TYPE {
            return Ok(None);
        }
        let transactional_id = k.string("transactional_id")?;
        k.finish("TransactionLogKey")?;
        let value = value.map(decode_value).transpose()?;
        Ok(Some(TxnRecord {
            transactional_id,
            value,
        }))
    }

    /// Checks that `encode` writes the record unchanged: every string fits an i16 length,
    /// every array an i32 count, and an `Empty` value has no partitions.
    pub fn validate(&self) -> Result<(), TxnRecordError> {
        fits("transactional_id", self.transactional_id.len(), MAX_STRING)?;
        let Some(v) = &self.value else { return Ok(()) };
        if v.state == TxnState::Empty && !v.partitions.is_empty() {
            return Err(TxnRecordError::EmptyWithPartitions);
        }
        fits("partitions", v.partitions.len(), MAX_ARRAY)?;
        for (topic, ids) in &v.partitions {
            fits("topic", topic.len(), MAX_STRING)?;
            fits("partition_ids", ids.len(), MAX_ARRAY)?;
        }
        Ok(())
    }
}

fn fits(field: &'static str, length: usize, max: usize) -> Result<(), TxnRecordError> {
    if length > max {
        return Err(TxnRecordError::TooLong { field, length });
    }
    Ok(())
}

/// The `__transaction_state` partition of a transactional id: Kafka places it exactly as it
/// places a group in `__consumer_offsets` (`Utils.abs(id.hashCode()) % partitions`), so this is
/// the group coordinator's placement.
pub fn partition_for(transactional_id: &str, partitions: i32) -> i32 {
    crate::coordinator::group::records::partition_for(transactional_id, partitions)
}

fn encode_value(v: &TxnMetadataValue, version: i16) -> Bytes {
    let flexible = version >= FIRST_FLEXIBLE_VALUE_VERSION;
    let mut b = BytesMut::new();
    b.put_i16(version);
    b.put_i64(v.producer_id);
    b.put_i16(v.producer_epoch);
    b.put_i32(v.timeout_ms);
    b.put_i8(v.state.id());
    if v.state == TxnState::Empty {
        put_array_len(&mut b, None, flexible);
    } else {
        let topics = &v.partitions[..v.partitions.len().min(MAX_ARRAY)];
        put_array_len(&mut b, Some(topics.len()), flexible);
        for (topic, ids) in topics {
            put_string(&mut b, topic, flexible);
            let ids = &ids[..ids.len().min(MAX_ARRAY)];
            put_array_len(&mut b, Some(ids.len()), flexible);
            for id in ids {
                b.put_i32(*id);
            }
            if flexible {
                put_uvarint(&mut b, 0); // no tagged fields in a partitions entry
            }
        }
    }
    b.put_i64(v.last_update_ms);
    b.put_i64(v.start_ms);
    if flexible {
        put_tagged_fields(&mut b, v);
    }
    b.freeze()
}

/// The value's tagged-field section: the non-default fields, in ascending tag order.
fn put_tagged_fields(b: &mut BytesMut, v: &TxnMetadataValue) {
    let mut fields: Vec<(u32, Vec<u8>)> = Vec::new();
    if v.previous_producer_id != DEFAULT_PRODUCER_ID {
        fields.push((
            TAG_PREVIOUS_PRODUCER_ID,
            v.previous_producer_id.to_be_bytes().to_vec(),
        ));
    }
    if v.next_producer_id != DEFAULT_PRODUCER_ID {
        fields.push((
            TAG_NEXT_PRODUCER_ID,
            v.next_producer_id.to_be_bytes().to_vec(),
        ));
    }
    if v.client_transaction_version != DEFAULT_CLIENT_TRANSACTION_VERSION {
        fields.push((
            TAG_CLIENT_TRANSACTION_VERSION,
            v.client_transaction_version.to_be_bytes().to_vec(),
        ));
    }
    if v.next_producer_epoch != DEFAULT_PRODUCER_EPOCH {
        fields.push((
            TAG_NEXT_PRODUCER_EPOCH,
            v.next_producer_epoch.to_be_bytes().to_vec(),
        ));
    }
    put_uvarint(b, fields.len() as u32);
    for (tag, data) in fields {
        put_uvarint(b, tag);
        put_uvarint(b, data.len() as u32);
        b.put_slice(&data);
    }
}

fn put_uvarint(b: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        b.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

/// An array count (`None` = null): compact (varint of count + 1) when flexible, else an i32.
/// Callers pass counts already capped at i32::MAX.
fn put_array_len(b: &mut BytesMut, len: Option<usize>, flexible: bool) {
    match (len, flexible) {
        (None, true) => put_uvarint(b, 0),
        (Some(n), true) => put_uvarint(b, n as u32 + 1),
        (None, false) => b.put_i32(-1),
        (Some(n), false) => b.put_i32(n as i32),
    }
}

/// A non-null string, cut at a character boundary if longer than an i16 length allows.
fn put_string(b: &mut BytesMut, s: &str, flexible: bool) {
    let mut end = s.len().min(MAX_STRING);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if flexible {
        put_uvarint(b, end as u32 + 1);
    } else {
        b.put_i16(end as i16);
    }
    b.put_slice(&s.as_bytes()[..end]);
}

fn decode_value(value: &[u8]) -> Result<TxnMetadataValue, TxnRecordError> {
    let version = Reader::new(value, false).i16("value version")?;
    if !(0..=TXN_VALUE_VERSION).contains(&version) {
        return Err(TxnRecordError::UnsupportedVersion(version));
    }
    let mut r = Reader::new(&value[2..], version >= FIRST_FLEXIBLE_VALUE_VERSION);
    let producer_id = r.i64("producer_id")?;
    let producer_epoch = r.i16("producer_epoch")?;
    let timeout_ms = r.i32("timeout_ms")?;
    let status = r.i8("status")?;
    let state = TxnState::from_id(status).ok_or(TxnRecordError::InvalidState(status))?;
    let partitions = read_partitions(&mut r)?;
    let last_update_ms = r.i64("last_update_timestamp")?;
    let start_ms = r.i64("start_timestamp")?;
    let mut v = TxnMetadataValue::new(producer_id, producer_epoch, timeout_ms, state);
    v.last_update_ms = last_update_ms;
    v.start_ms = start_ms;
    r.tagged_fields(|tag, data| {
        match tag {
            TAG_PREVIOUS_PRODUCER_ID => {
                v.previous_producer_id =
                    fixed("previous_producer_id", data).map(i64::from_be_bytes)?
            }
            TAG_NEXT_PRODUCER_ID => {
                v.next_producer_id = fixed("next_producer_id", data).map(i64::from_be_bytes)?
            }
            TAG_CLIENT_TRANSACTION_VERSION => {
                v.client_transaction_version =
                    fixed("client_transaction_version", data).map(i16::from_be_bytes)?
            }
            TAG_NEXT_PRODUCER_EPOCH => {
                v.next_producer_epoch =
                    fixed("next_producer_epoch", data).map(i16::from_be_bytes)?
            }
            _ => {}
        }
        Ok::<(), TxnRecordError>(())
    })?;
    r.finish("TransactionLogValue")?;
    v.partitions = match (state, partitions) {
        (TxnState::Empty, _) => Vec::new(),
        (_, Some(p)) => p,
        (_, None) => {
            return Err(TxnRecordError::Schema(SchemaError::UnexpectedNull {
                field: "partitions",
            }))
        }
    };
    Ok(v)
}

/// A known tagged field's data, which must be exactly its type's size.
fn fixed<const N: usize>(field: &'static str, data: &[u8]) -> Result<[u8; N], TxnRecordError> {
    data.try_into().map_err(|_| {
        TxnRecordError::Schema(SchemaError::InvalidLength {
            field,
            length: data.len() as i64,
        })
    })
}

/// Topic names and their partition ids, as `TxnMetadataValue::partitions` holds them.
type TopicPartitions = Vec<(String, Vec<i32>)>;

/// The nullable partitions array of a TransactionLogValue.
fn read_partitions(r: &mut Reader<'_>) -> Result<Option<TopicPartitions>, SchemaError> {
    // Smallest entry: an empty topic and an empty id array (3 bytes flexible, with the
    // tagged-field count; 6 bytes otherwise).
    let min_entry = if r.is_flexible() { 3 } else { 6 };
    let Some(count) = r.nullable_array_len("partitions", min_entry)? else {
        return Ok(None);
    };
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let topic = r.string("topic")?;
        let n = r.array_len("partition_ids", 4)?;
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(r.i32("partition_id")?);
        }
        r.skip_tagged_fields()?;
        topics.push((topic, ids));
    }
    Ok(Some(topics))
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
