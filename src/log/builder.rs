//! Building and reading the records of v2 batches, for the internal topics the broker writes
//! itself (`__consumer_offsets`, `__transaction_state`).
//!
//! The data path never looks inside a batch (see `batch`); the coordinators do, off the hot path,
//! to write their records and to replay them at start-up. A built batch is uncompressed, with
//! base offset 0 (the log assigns offsets on append), producer id/epoch/base sequence -1,
//! attributes 0 (CreateTime, not transactional, not control), partition leader epoch -1 (the log
//! stamps it), and every record at `timestamp_ms`. Its header is the 61-byte v2 header described
//! in `batch`; each record that follows is (all varints zigzag):
//!
//! ```text
//! length varint | attributes i8 (0) | timestamp_delta varlong | offset_delta varint
//! key_length varint (-1 = null) | key | value_length varint (-1 = null) | value
//! headers_count varint | headers (header_key_length varint | key | value_length varint | value)
//! ```
//!
//! Reading accepts only uncompressed, non-control batches: Milena writes its internal topics
//! uncompressed, so that is all replay meets today. Reading compressed batches (an internal topic
//! written by Apache Kafka) is future work. Bytes read from disk are not trusted: every count and
//! length is checked against the bytes left before it is used, and malformed input is an error.

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{validate_batch, BATCH_HEADER_SIZE};
use super::error::BatchError;

/// One record to write. `None` is a null key or value (a null value is a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// A record read back from a batch, with its absolute offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: i64,
    /// CreateTime of the record, or the batch's max timestamp for a LogAppendTime batch.
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Why the records of a batch cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuilderError {
    /// The header, length or CRC is wrong.
    #[error("invalid record batch: {0}")]
    Batch(#[from] BatchError),
    /// Compressed batches are not read yet (Milena writes internal topics uncompressed).
    #[error("compressed record batch (codec {0}) is not supported here")]
    Compressed(i16),
    /// Control batches (transaction markers) carry no key/value records for a coordinator.
    #[error("control batch has no data records")]
    Control,
    /// The records inside the batch do not parse.
    #[error("malformed record {index} of the batch: {reason}")]
    MalformedRecord { index: i32, reason: &'static str },
}

/// Kafka's record attributes byte: no bits are defined yet.
const RECORD_ATTRIBUTES: i8 = 0;

fn put_varlong(buf: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        buf.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    buf.put_u8(z as u8);
}

/// Length of a key or value as the record format writes it: -1 for null.
fn put_nullable(buf: &mut BytesMut, data: Option<&Bytes>) {
    match data {
        Some(d) => {
            put_varlong(buf, d.len() as i64);
            buf.put_slice(d);
        }
        None => put_varlong(buf, -1),
    }
}

/// An uncompressed v2 batch holding `records`, ready for `Log::append_as_leader` (see the
/// module docs for the fixed header fields). An empty `records` gives a batch with no records,
/// which the log refuses, as Kafka does.
pub fn build_batch(records: &[NewRecord], timestamp_ms: i64) -> Bytes {
    let mut body = BytesMut::new();
    let mut record = BytesMut::new();
    for (offset_delta, r) in records.iter().enumerate() {
        record.clear();
        record.put_i8(RECORD_ATTRIBUTES);
        put_varlong(&mut record, 0); // timestamp_delta: every record at timestamp_ms
        put_varlong(&mut record, offset_delta as i64);
        put_nullable(&mut record, r.key.as_ref());
        put_nullable(&mut record, r.value.as_ref());
        put_varlong(&mut record, 0); // headers_count
        put_varlong(&mut body, record.len() as i64);
        body.put_slice(&record);
    }
    let count = records.len() as i32;
    let mut b = BytesMut::with_capacity(BATCH_HEADER_SIZE + body.len());
    b.put_i64(0); // base_offset: assigned by the log
    b.put_i32((BATCH_HEADER_SIZE - 12 + body.len()) as i32); // batch_length: after this field
    b.put_i32(-1); // partition_leader_epoch: stamped by the log
    b.put_i8(2); // magic
    b.put_u32(0); // crc, filled in below
    b.put_i16(0); // attributes: uncompressed, CreateTime
    b.put_i32((count - 1).max(0)); // last_offset_delta
    b.put_i64(timestamp_ms); // base_timestamp
    b.put_i64(timestamp_ms); // max_timestamp
    b.put_i64(-1); // producer_id
    b.put_i16(-1); // producer_epoch
    b.put_i32(-1); // base_sequence
    b.put_i32(count);
    b.put_slice(&body);
    // The CRC covers attributes (byte 21) to the end.
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

/// `build_batch` as part of a transaction: transactional attribute, the producer's id and
/// epoch, no sequence (the coordinator's own writes, e.g. transactional offset commits).
pub fn build_transactional_batch(
    records: &[NewRecord],
    timestamp_ms: i64,
    producer_id: i64,
    producer_epoch: i16,
) -> Bytes {
    let mut b = BytesMut::from(&build_batch(records, timestamp_ms)[..]);
    set_producer(
        &mut b,
        TRANSACTIONAL_ATTRIBUTES,
        producer_id,
        producer_epoch,
    );
    b.freeze()
}

/// Sets attributes, producer id and epoch of a built batch and recomputes its CRC.
fn set_producer(b: &mut BytesMut, attributes: i16, producer_id: i64, producer_epoch: i16) {
    b[21..23].copy_from_slice(&attributes.to_be_bytes());
    b[43..51].copy_from_slice(&producer_id.to_be_bytes());
    b[51..53].copy_from_slice(&producer_epoch.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Attributes of a transactional data batch (0x10), uncompressed.
const TRANSACTIONAL_ATTRIBUTES: i16 = 0x10;

/// Kafka's control record types (the key's `type` field of a transaction marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
}

/// Attributes of a control batch: transactional (0x10) and control (0x20), uncompressed.
const CONTROL_ATTRIBUTES: i16 = 0x30;

/// A transaction marker: a control batch of one record whose key is `version i16 (0) | type
/// i16` (0 = abort, 1 = commit) and whose value is `version i16 (0) | coordinator_epoch i32`,
/// written by the coordinator into every partition of a transaction. The batch carries the
/// producer's id and epoch and no sequence (-1).
pub fn build_control_batch(
    producer_id: i64,
    producer_epoch: i16,
    control: ControlType,
    coordinator_epoch: i32,
    timestamp_ms: i64,
) -> Bytes {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(match control {
        ControlType::Abort => 0,
        ControlType::Commit => 1,
    });
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(coordinator_epoch);
    let record = NewRecord {
        key: Some(key.freeze()),
        value: Some(value.freeze()),
    };
    let mut b = BytesMut::from(&build_batch(&[record], timestamp_ms)[..]);
    set_producer(&mut b, CONTROL_ATTRIBUTES, producer_id, producer_epoch);
    b.freeze()
}

/// The control type of a control batch, read from its first record's key (`batch` is the whole
/// batch, header included). `None` if the record does not parse or names a type other than
/// commit and abort (Kafka defines more, which carry no transaction outcome).
pub fn control_type(batch: &[u8]) -> Option<ControlType> {
    if batch.len() < BATCH_HEADER_SIZE {
        return None;
    }
    let mut cur = Cursor {
        buf: batch,
        pos: BATCH_HEADER_SIZE,
    };
    cur.varint()?; // record length
    cur.skip(1)?; // attributes
    cur.varlong()?; // timestamp delta
    cur.varint()?; // offset delta
    if cur.varint()? < 4 {
        return None;
    }
    let at = cur.pos;
    cur.skip(4)?;
    match i16::from_be_bytes([batch[at + 2], batch[at + 3]]) {
        0 => Some(ControlType::Abort),
        1 => Some(ControlType::Commit),
        _ => None,
    }
}

/// The records of one uncompressed v2 batch (exactly one batch's bytes, header included), with
/// absolute offsets. Validates length and CRC; compressed and control batches are refused.
pub fn read_records(batch: Bytes) -> Result<Vec<StoredRecord>, BuilderError> {
    let h = validate_batch(&batch)?;
    if h.compression() != 0 {
        return Err(BuilderError::Compressed(h.compression()));
    }
    if h.is_control() {
        return Err(BuilderError::Control);
    }
    // Each record takes at least 7 bytes, so a count the bytes cannot hold is refused before
    // it sizes an allocation.
    let body_len = batch.len() - BATCH_HEADER_SIZE;
    if h.records_count as usize > body_len / 7 {
        return Err(BuilderError::MalformedRecord {
            index: 0,
            reason: "records_count exceeds what the batch can hold",
        });
    }
    let mut out = Vec::with_capacity(h.records_count as usize);
    let mut cur = Cursor {
        buf: &batch,
        pos: BATCH_HEADER_SIZE,
    };
    for index in 0..h.records_count {
        let bad = |reason| BuilderError::MalformedRecord { index, reason };
        let length = cur.varint().ok_or(bad("bad record length"))?;
        let length = usize::try_from(length).map_err(|_| bad("negative record length"))?;
        if length > cur.remaining() {
            return Err(bad("record length exceeds the batch"));
        }
        let end = cur.pos + length;
        let mut rec = Cursor {
            buf: &batch[..end],
            pos: cur.pos,
        };
        rec.skip(1).ok_or(bad("missing attributes"))?;
        let timestamp_delta = rec.varlong().ok_or(bad("bad timestamp delta"))?;
        let offset_delta = rec.varint().ok_or(bad("bad offset delta"))?;
        let key = rec.nullable(&batch).ok_or(bad("bad key"))?;
        let value = rec.nullable(&batch).ok_or(bad("bad value"))?;
        let headers = rec.varint().ok_or(bad("bad headers count"))?;
        if headers < 0 {
            return Err(bad("negative headers count"));
        }
        for _ in 0..headers {
            match rec.nullable(&batch) {
                Some(Some(_)) => {}
                _ => return Err(bad("bad header key")),
            }
            rec.nullable(&batch).ok_or(bad("bad header value"))?;
        }
        if rec.pos != end {
            return Err(bad("record length does not match its fields"));
        }
        let timestamp = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            h.base_timestamp
                .checked_add(timestamp_delta)
                .ok_or(bad("timestamp overflows"))?
        };
        let offset = h
            .base_offset
            .checked_add(i64::from(offset_delta))
            .ok_or(bad("offset overflows"))?;
        out.push(StoredRecord {
            offset,
            timestamp,
            key,
            value,
        });
        cur.pos = end;
    }
    if cur.remaining() != 0 {
        return Err(BuilderError::MalformedRecord {
            index: h.records_count,
            reason: "bytes left after the last record",
        });
    }
    Ok(out)
}

/// A read position in `buf`; every read returns `None` rather than run past the end.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        if n > self.remaining() {
            return None;
        }
        self.pos += n;
        Some(())
    }

    /// A zigzag varint of at most `max_bytes` bytes.
    fn zigzag(&mut self, max_bytes: usize) -> Option<i64> {
        let mut raw: u64 = 0;
        for i in 0..max_bytes {
            let byte = *self.buf.get(self.pos)?;
            self.pos += 1;
            raw |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        None
    }

    fn varlong(&mut self) -> Option<i64> {
        self.zigzag(10)
    }

    fn varint(&mut self) -> Option<i32> {
        i32::try_from(self.zigzag(5)?).ok()
    }

    /// A varint length (-1 = null) and that many bytes, sliced from `whole` without copying.
    fn nullable(&mut self, whole: &Bytes) -> Option<Option<Bytes>> {
        let len = self.varint()?;
        if len == -1 {
            return Some(None);
        }
        let len = usize::try_from(len).ok()?;
        let start = self.pos;
        self.skip(len)?;
        Some(Some(whole.slice(start..start + len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_valid_control_batches_with_their_type() {
        for control in [ControlType::Commit, ControlType::Abort] {
            let b = build_control_batch(42, 3, control, 0, 1_000);
            let h = validate_batch(&b).expect("valid");
            assert!(h.is_control() && h.is_transactional());
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (42, 3, -1)
            );
            assert_eq!(control_type(&b), Some(control));
            // Every prefix is handled without a panic.
            for n in 0..b.len() {
                let _ = control_type(&b[..n]);
            }
        }
        let data = build_transactional_batch(&[], 1_000, 7, 1);
        let h = validate_batch(&data).expect("valid");
        assert!(h.is_transactional() && !h.is_control());
    }
    use crate::log::{BatchIter, Log, LogConfig};

    fn rec(key: Option<&'static [u8]>, value: Option<&'static [u8]>) -> NewRecord {
        NewRecord {
            key: key.map(Bytes::from_static),
            value: value.map(Bytes::from_static),
        }
    }

    fn sample() -> Vec<NewRecord> {
        vec![
            rec(Some(b"k1"), Some(b"v1")),
            rec(None, Some(b"no key")),
            rec(Some(b"tombstone"), None),
            rec(None, None),
            rec(Some(b""), Some(b"")),
        ]
    }

    #[test]
    fn round_trip_with_null_keys_and_values() {
        let records = sample();
        let b = build_batch(&records, 1_234);
        let h = validate_batch(&b).expect("valid batch");
        assert_eq!(
            (h.base_offset, h.records_count, h.last_offset_delta),
            (0, 5, 4)
        );
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (-1, -1, -1)
        );
        assert_eq!((h.attributes, h.partition_leader_epoch), (0, -1));
        let read = read_records(b).expect("read");
        assert_eq!(read.len(), records.len());
        for (i, (r, w)) in read.iter().zip(&records).enumerate() {
            assert_eq!(r.offset, i as i64);
            assert_eq!(r.timestamp, 1_234);
            assert_eq!((&r.key, &r.value), (&w.key, &w.value));
        }
    }

    #[test]
    fn reads_batches_appended_through_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path(), LogConfig::default(), 1_000).expect("open");
        log.append_as_leader(build_batch(&sample()[..2], 1_000), 4, 1_000)
            .expect("append");
        log.append_as_leader(build_batch(&sample()[2..], 2_000), 4, 2_000)
            .expect("append");
        let read = log.read(0, 1 << 20, true, None).expect("read");
        let mut all = Vec::new();
        for item in BatchIter::new(read.records) {
            let (_, batch) = item.expect("valid batch");
            all.extend(read_records(batch).expect("records"));
        }
        let offsets: Vec<_> = all.iter().map(|r| (r.offset, r.timestamp)).collect();
        assert_eq!(
            offsets,
            [(0, 1_000), (1, 1_000), (2, 2_000), (3, 2_000), (4, 2_000)]
        );
        assert_eq!(all[2].key.as_deref(), Some(&b"tombstone"[..]));
        assert_eq!(all[2].value, None);
    }

    #[test]
    fn log_append_time_batches_report_the_batch_time() {
        let mut b = build_batch(&sample(), 1_000).to_vec();
        crate::log::set_log_append_time(&mut b, 9_999).expect("len");
        let read = read_records(Bytes::from(b)).expect("read");
        assert!(read.iter().all(|r| r.timestamp == 9_999));
    }

    /// Rewrites the record bytes of a built batch and fixes its length and CRC, so only the
    /// records are wrong.
    fn with_body(records: &[NewRecord], edit: impl FnOnce(&mut Vec<u8>)) -> Bytes {
        let mut b = build_batch(records, 0).to_vec();
        let mut body = b.split_off(BATCH_HEADER_SIZE);
        edit(&mut body);
        b.extend_from_slice(&body);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(b)
    }

    fn malformed(b: Bytes) -> &'static str {
        match read_records(b) {
            Err(BuilderError::MalformedRecord { reason, .. }) => reason,
            other => panic!("expected a malformed record, got {other:?}"),
        }
    }

    #[test]
    fn truncated_and_corrupt_batches_are_errors() {
        let b = build_batch(&sample(), 0);
        for cut in [0, 10, BATCH_HEADER_SIZE, b.len() - 1] {
            assert!(matches!(
                read_records(b.slice(..cut)),
                Err(BuilderError::Batch(_))
            ));
        }
        let mut flipped = b.to_vec();
        flipped[BATCH_HEADER_SIZE + 3] ^= 1;
        assert!(matches!(
            read_records(Bytes::from(flipped)),
            Err(BuilderError::Batch(BatchError::CrcMismatch { .. }))
        ));
    }

    #[test]
    fn lying_lengths_and_counts_are_errors() {
        let one = [rec(Some(b"key"), Some(b"value"))];
        // Record length larger than the batch.
        assert_eq!(
            malformed(with_body(&one, |body| body[0] = 0x7e)),
            "record length exceeds the batch"
        );
        // Key length running past the record (key_length is at byte 4 of the body).
        assert_eq!(malformed(with_body(&one, |body| body[4] = 0x40)), "bad key");
        // Negative value length other than -1.
        assert_eq!(
            malformed(with_body(&one, |body| body[8] = 0x05)),
            "bad value"
        );
        // A varint that never ends.
        assert_eq!(
            malformed(with_body(&one, |body| body
                .iter_mut()
                .for_each(|x| *x = 0xff))),
            "bad record length"
        );
        // Trailing garbage after the last record.
        assert_eq!(
            malformed(with_body(&one, |body| body.push(0))),
            "bytes left after the last record"
        );
        // Header count claiming more records than the bytes hold.
        let mut b = with_body(&one, |_| {}).to_vec();
        b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            malformed(Bytes::from(b)),
            "records_count exceeds what the batch can hold"
        );
        // Header count claiming two records where there is one.
        let mut b = with_body(&one, |_| {}).to_vec();
        b[57..61].copy_from_slice(&2i32.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(malformed(Bytes::from(b)), "bad record length");
    }

    #[test]
    fn compressed_and_control_batches_are_refused() {
        for (attributes, expected) in [
            (1i16, BuilderError::Compressed(1)),
            (0x20, BuilderError::Control),
        ] {
            let mut b = build_batch(&sample(), 0).to_vec();
            b[21..23].copy_from_slice(&attributes.to_be_bytes());
            let crc = crc32c::crc32c(&b[21..]);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
            assert_eq!(read_records(Bytes::from(b)), Err(expected));
        }
    }
}
