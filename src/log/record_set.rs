//! The records of any v2 batch, compressed or not: decoding them and building a batch from a
//! subset of them. Used by the log cleaner and by the record checks of `validate` (compacted
//! topics, out-of-range timestamps), never on the hot path of other topics.
//!
//! Record layout (see `builder` for the whole batch): `length varint | attributes i8 |
//! timestamp_delta varlong | offset_delta varint | key | value | headers`, where key and value
//! are a varint length (-1 = null) and bytes. A record keeps its header section as raw bytes, so
//! a rebuilt batch carries headers exactly as produced.
//!
//! A rebuilt batch keeps the original base offset, last offset delta, producer id, epoch and
//! base sequence (so producer state derived from it stays right, as in Kafka), the codec and
//! the timestamp type; `records_count` and `max_timestamp` follow the retained records. With a
//! delete horizon (KIP-534) the attribute bit 6 is set and base_timestamp holds the horizon; the
//! record timestamp deltas are re-expressed against it, so clients still read the same times.

use std::ops::Range;

use super::batch::{BatchHeader, BATCH_HEADER_SIZE};
use super::codec::{self, CodecError};

/// Attribute bit: base_timestamp is the batch's delete horizon (KIP-534).
pub(crate) const DELETE_HORIZON_BIT: i16 = 0x40;

/// One decoded record; key, value and headers are ranges into the decoded records section.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub attributes: i8,
    pub timestamp: i64,
    pub offset_delta: i32,
    pub key: Option<Range<usize>>,
    pub value: Option<Range<usize>>,
    /// headers_count varint and the headers, verbatim.
    pub headers: Range<usize>,
}

/// A batch's records section (decompressed) and its records.
pub(crate) struct DecodedBatch {
    pub header: BatchHeader,
    pub body: Vec<u8>,
    pub records: Vec<Record>,
}

impl DecodedBatch {
    pub(crate) fn key(&self, r: &Record) -> Option<&[u8]> {
        r.key.clone().map(|k| &self.body[k])
    }

    /// The delete horizon of the batch, if the cleaner set one.
    pub(crate) fn delete_horizon(&self) -> Option<i64> {
        delete_horizon(&self.header)
    }
}

pub(crate) fn delete_horizon(h: &BatchHeader) -> Option<i64> {
    (h.attributes & DELETE_HORIZON_BIT != 0).then_some(h.base_timestamp)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("malformed record {index}: {reason}")]
    Malformed { index: i32, reason: &'static str },
}

/// Decodes the records of `batch` (one whole, CRC-checked batch, header included).
pub(crate) fn decode(batch: &[u8]) -> Result<DecodedBatch, RecordError> {
    let header = BatchHeader::parse(batch).map_err(|_| RecordError::Malformed {
        index: -1,
        reason: "bad batch header",
    })?;
    let body = codec::decompress(header.compression(), &batch[BATCH_HEADER_SIZE..])?;
    // Each record takes at least 7 bytes: refuse counts the bytes cannot hold before allocating.
    if header.records_count as usize > body.len() / 7 {
        return Err(RecordError::Malformed {
            index: 0,
            reason: "records_count exceeds what the batch can hold",
        });
    }
    let mut records = Vec::with_capacity(header.records_count as usize);
    let mut pos = 0;
    for index in 0..header.records_count {
        let bad = |reason| RecordError::Malformed { index, reason };
        let len = varint(&body, &mut pos).ok_or(bad("bad record length"))?;
        let len = usize::try_from(len).map_err(|_| bad("negative record length"))?;
        let end = pos
            .checked_add(len)
            .filter(|e| *e <= body.len())
            .ok_or(bad("record length exceeds the batch"))?;
        let rec = &body[..end];
        let attributes = *rec.get(pos).ok_or(bad("missing attributes"))? as i8;
        pos += 1;
        let ts_delta = varint(rec, &mut pos).ok_or(bad("bad timestamp delta"))?;
        let offset_delta = varint(rec, &mut pos)
            .and_then(|d| i32::try_from(d).ok())
            .ok_or(bad("bad offset delta"))?;
        let key = nullable(rec, &mut pos).ok_or(bad("bad key"))?;
        let value = nullable(rec, &mut pos).ok_or(bad("bad value"))?;
        let headers = pos..end;
        let timestamp = if header.is_log_append_time() {
            header.max_timestamp
        } else {
            header.base_timestamp.saturating_add(ts_delta)
        };
        records.push(Record {
            attributes,
            timestamp,
            offset_delta,
            key,
            value,
            headers,
        });
        pos = end;
    }
    if pos != body.len() {
        return Err(RecordError::Malformed {
            index: header.records_count,
            reason: "bytes left after the last record",
        });
    }
    Ok(DecodedBatch {
        header,
        body,
        records,
    })
}

/// Builds a batch from `keep` (records of `decoded`, in order): see the module docs.
/// `delete_horizon` sets the KIP-534 horizon. An empty `keep` gives Kafka's empty batch: header
/// only, uncompressed, both timestamps the original max timestamp.
pub(crate) fn rebuild(
    decoded: &DecodedBatch,
    keep: &[&Record],
    delete_horizon: Option<i64>,
) -> Result<Vec<u8>, CodecError> {
    let h = &decoded.header;
    let mut attributes = h.attributes & !DELETE_HORIZON_BIT;
    let (base_ts, max_ts, body) = if keep.is_empty() {
        attributes &= !0x07;
        (h.max_timestamp, h.max_timestamp, Vec::new())
    } else {
        let base_ts = match delete_horizon.or_else(|| decoded.delete_horizon()) {
            Some(horizon) => {
                attributes |= DELETE_HORIZON_BIT;
                horizon
            }
            None => h.base_timestamp,
        };
        let max_ts = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            keep.iter()
                .map(|r| r.timestamp)
                .max()
                .unwrap_or(h.max_timestamp)
        };
        let mut raw = Vec::new();
        let mut rec = Vec::new();
        for r in keep {
            rec.clear();
            rec.push(r.attributes as u8);
            let delta = if h.is_log_append_time() {
                0
            } else {
                r.timestamp - base_ts
            };
            put_varint(&mut rec, delta);
            put_varint(&mut rec, i64::from(r.offset_delta));
            for part in [&r.key, &r.value] {
                match part {
                    Some(range) => {
                        put_varint(&mut rec, range.len() as i64);
                        rec.extend_from_slice(&decoded.body[range.clone()]);
                    }
                    None => put_varint(&mut rec, -1),
                }
            }
            rec.extend_from_slice(&decoded.body[r.headers.clone()]);
            put_varint(&mut raw, rec.len() as i64);
            raw.extend_from_slice(&rec);
        }
        (base_ts, max_ts, codec::compress(h.compression(), &raw)?)
    };
    let mut b = Vec::with_capacity(BATCH_HEADER_SIZE + body.len());
    b.extend_from_slice(&h.base_offset.to_be_bytes());
    b.extend_from_slice(&((BATCH_HEADER_SIZE - 12 + body.len()) as i32).to_be_bytes());
    b.extend_from_slice(&h.partition_leader_epoch.to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]); // crc, below
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&h.last_offset_delta.to_be_bytes());
    b.extend_from_slice(&base_ts.to_be_bytes());
    b.extend_from_slice(&max_ts.to_be_bytes());
    b.extend_from_slice(&h.producer_id.to_be_bytes());
    b.extend_from_slice(&h.producer_epoch.to_be_bytes());
    b.extend_from_slice(&h.base_sequence.to_be_bytes());
    b.extend_from_slice(&(keep.len() as i32).to_be_bytes());
    b.extend_from_slice(&body);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(b)
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for i in 0..10 {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    None
}

fn nullable(buf: &[u8], pos: &mut usize) -> Option<Option<Range<usize>>> {
    let len = varint(buf, pos)?;
    if len == -1 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let start = *pos;
    let end = start.checked_add(len).filter(|e| *e <= buf.len())?;
    *pos = end;
    Some(Some(start..end))
}

/// Appends `v` as a zigzag varint (the v2 record fields' encoding).
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}
