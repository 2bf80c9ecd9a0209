//! Up-conversion: a produced v0/v1 message set becomes one v2 batch, as Kafka's LogValidator
//! converted it for a log in format v2. Offsets are the log's to assign (base offset 0 here),
//! the producer id, epoch and sequence are -1, a compressed wrapper's records keep its codec (the
//! topic's `compression.type=producer`), magic 0 records get no timestamp (-1), and record
//! headers are empty.

use super::message::{self, Message};
use super::LegacyError;
use crate::log::batch::BATCH_HEADER_SIZE;
use crate::log::codec::{self, CodecError};
use crate::log::record_set::put_varint;

/// One record of the batch being built.
struct Converted<'a> {
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

/// The v2 batch holding the records of `set`, a message set of magic 0 or 1.
pub fn up_convert(set: &[u8]) -> Result<Vec<u8>, LegacyError> {
    let mut entries: Vec<Message<'_>> = Vec::new();
    let mut pos = 0;
    while pos < set.len() {
        let rest = &set[pos..];
        // The magic byte sits at the same place in a legacy entry and a v2 batch.
        if let (Some(first), Some(magic)) = (entries.first(), super::first_magic(rest)) {
            if magic != first.magic {
                return Err(LegacyError::Invalid(format!(
                    "Batch magic {magic} is not the same as the first batch's magic byte {}",
                    first.magic
                )));
            }
        }
        let Some((entry, size)) = message::read(rest)? else {
            break; // a partial entry at the end: Kafka drops it
        };
        entries.push(entry);
        pos += size;
    }
    let Some(first) = entries.first() else {
        return Err(LegacyError::Invalid(
            "Record batch has no batches at all".into(),
        ));
    };
    let compressed = entries.iter().find(|e| e.codec() != 0);
    let Some(wrapper) = compressed else {
        let records: Vec<Converted<'_>> = entries
            .iter()
            .map(|e| Converted {
                timestamp: e.timestamp,
                key: e.key,
                value: e.value,
            })
            .collect();
        return build(0, &records);
    };
    if entries.len() > 1 {
        return Err(LegacyError::Invalid(
            "Compressed outer record has more than one batch".into(),
        ));
    }
    let magic = first.magic;
    let codec_id = wrapper.codec();
    if codec_id > 3 {
        return Err(LegacyError::Invalid(format!(
            "Invalid wrapper compressionType found in legacy deep record iterator {magic}"
        )));
    }
    let Some(value) = wrapper.value else {
        return Err(LegacyError::Invalid(format!(
            "Found invalid compressed record set with null value (magic = {magic})"
        )));
    };
    let inner_bytes = decompress(codec_id, magic, value)?;
    let mut inner = Vec::new();
    let mut pos = 0;
    while let Some((m, size)) = message::read(&inner_bytes[pos..])? {
        if m.magic != magic {
            return Err(LegacyError::Invalid(format!(
                "Compressed message magic {} does not match wrapper magic {magic}",
                m.magic
            )));
        }
        if m.codec() != 0 {
            return Err(LegacyError::Invalid(
                "Inner messages must not be compressed".into(),
            ));
        }
        inner.push(m);
        pos += size;
    }
    let Some(last) = inner.last() else {
        return Err(LegacyError::Invalid(
            "Found invalid compressed record set with no inner records".into(),
        ));
    };
    if magic == 1 && wrapper.offset != 0 && wrapper.offset < last.offset {
        return Err(LegacyError::Invalid(format!(
            "Found invalid wrapper offset in compressed v1 message set, wrapper offset '{}' is less than the last inner message offset '{}' and it is not zero.",
            wrapper.offset, last.offset
        )));
    }
    let records: Vec<Converted<'_>> = inner
        .iter()
        .map(|m| Converted {
            timestamp: if wrapper.is_log_append_time() {
                wrapper.timestamp
            } else {
                m.timestamp
            },
            key: m.key,
            value: m.value,
        })
        .collect();
    build(codec_id, &records)
}

/// A wrapper's value decompressed, bounded by `codec::MAX_DECOMPRESSED`.
fn decompress(codec_id: i16, magic: i8, value: &[u8]) -> Result<Vec<u8>, LegacyError> {
    let fixed;
    let data = if codec_id == 3 && magic == 0 {
        // Old clients wrote a wrong LZ4 header checksum for magic 0 (KAFKA-3160); Kafka did
        // not check it there, and neither do we: the standard checksum is put in first.
        let mut frame = value.to_vec();
        message::set_lz4_header_checksum(&mut frame, false);
        fixed = frame;
        &fixed[..]
    } else {
        value
    };
    codec::decompress(codec_id, data).map_err(|e| match e {
        CodecError::TooLarge => LegacyError::Corrupt(format!(
            "Compressed message set expands past {} bytes",
            codec::MAX_DECOMPRESSED
        )),
        other => LegacyError::Corrupt(other.to_string()),
    })
}

/// The v2 batch of `records` (at least one), compressed with `codec_id`: base offset 0,
/// CreateTime, no producer, partition leader epoch -1 (the log stamps it).
fn build(codec_id: i16, records: &[Converted<'_>]) -> Result<Vec<u8>, LegacyError> {
    let base_timestamp = records.first().map_or(-1, |r| r.timestamp);
    let max_timestamp = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
    let mut raw = Vec::new();
    let mut rec = Vec::new();
    for (offset_delta, r) in records.iter().enumerate() {
        rec.clear();
        rec.push(0); // attributes
        put_varint(&mut rec, r.timestamp.wrapping_sub(base_timestamp));
        put_varint(&mut rec, offset_delta as i64);
        for field in [r.key, r.value] {
            match field {
                Some(f) => {
                    put_varint(&mut rec, f.len() as i64);
                    rec.extend_from_slice(f);
                }
                None => put_varint(&mut rec, -1),
            }
        }
        put_varint(&mut rec, 0); // no headers
        put_varint(&mut raw, rec.len() as i64);
        raw.extend_from_slice(&rec);
    }
    let body = codec::compress(codec_id, &raw).map_err(|e| LegacyError::Corrupt(e.to_string()))?;
    let count = i32::try_from(records.len())
        .map_err(|_| LegacyError::Invalid("too many records in one message set".into()))?;
    let batch_length = i32::try_from(BATCH_HEADER_SIZE - 12 + body.len())
        .map_err(|_| LegacyError::Invalid("converted batch is too large".into()))?;
    let mut b = Vec::with_capacity(BATCH_HEADER_SIZE + body.len());
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset: the log assigns it
    b.extend_from_slice(&batch_length.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&[0; 4]); // crc, below
    b.extend_from_slice(&codec_id.to_be_bytes()); // attributes: codec, CreateTime
    b.extend_from_slice(&(count - 1).to_be_bytes()); // last offset delta
    b.extend_from_slice(&base_timestamp.to_be_bytes());
    b.extend_from_slice(&max_timestamp.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(&body);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(b)
}
