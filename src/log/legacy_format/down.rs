//! Down-conversion: v2 batches read from the log become a v0/v1 message set for an old
//! consumer, as Kafka's `RecordsUtil.downConvert` did. Control batches (transaction markers)
//! are dropped; an uncompressed batch drops its records before the fetch offset (one message
//! each), a compressed one keeps all its records in one wrapper of the same codec, which the
//! client skips through. Headers are lost: formats v0/v1 have none. A read holding a zstd batch
//! (a codec formats v0/v1 lack) is refused with `LegacyError::Zstd`, as Kafka 3.9 answered
//! Fetch v0–v9 with UNSUPPORTED_COMPRESSION_TYPE.

use super::message;
use super::LegacyError;
use crate::log::batch::{BatchHeader, BatchIter};
use crate::log::codec;
use crate::log::record_set;
use bytes::Bytes;

/// The message set of `magic` (0 or 1) holding the records of `batches` (log bytes, possibly
/// ending in a partial batch, which is dropped) from `fetch_offset` on. Stops adding batches
/// once `max_bytes` are written, after the first.
pub fn down_convert(
    batches: Bytes,
    magic: i8,
    fetch_offset: i64,
    max_bytes: usize,
) -> Result<Bytes, LegacyError> {
    if BatchIter::new(batches.clone()).any(|b| b.is_ok_and(|(h, _)| h.compression() == 4)) {
        return Err(LegacyError::Zstd);
    }
    let mut out = Vec::new();
    for batch in BatchIter::new(batches) {
        let Ok((header, bytes)) = batch else {
            break; // a partial batch at the end of the read
        };
        if header.is_control() {
            continue;
        }
        if !out.is_empty() && out.len() >= max_bytes {
            break;
        }
        convert_batch(&mut out, &header, &bytes, magic, fetch_offset)?;
    }
    Ok(Bytes::from(out))
}

fn convert_batch(
    out: &mut Vec<u8>,
    header: &BatchHeader,
    bytes: &[u8],
    magic: i8,
    fetch_offset: i64,
) -> Result<(), LegacyError> {
    let decoded = record_set::decode(bytes).map_err(|e| LegacyError::Corrupt(e.to_string()))?;
    let log_append_time = header.is_log_append_time();
    let codec_id = header.compression();
    let offset = |r: &record_set::Record| header.base_offset + i64::from(r.offset_delta);
    let field = |range: &Option<std::ops::Range<usize>>| range.clone().map(|r| &decoded.body[r]);
    if codec_id == 0 {
        for r in decoded.records.iter().filter(|r| offset(r) >= fetch_offset) {
            let (key, value) = (field(&r.key), field(&r.value));
            message::write(
                out,
                offset(r),
                magic,
                0,
                log_append_time,
                r.timestamp,
                key,
                value,
            );
        }
        return Ok(());
    }
    let (Some(first), Some(last)) = (decoded.records.first(), decoded.records.last()) else {
        return Ok(());
    };
    let (base, last_offset) = (offset(first), offset(last));
    let mut inner = Vec::new();
    for r in &decoded.records {
        // v1 inner offsets are relative to the first; v0 ones absolute.
        let inner_offset = if magic == 1 {
            offset(r) - base
        } else {
            offset(r)
        };
        let (key, value) = (field(&r.key), field(&r.value));
        message::write(
            &mut inner,
            inner_offset,
            magic,
            0,
            log_append_time,
            r.timestamp,
            key,
            value,
        );
    }
    let mut value =
        codec::compress(codec_id, &inner).map_err(|e| LegacyError::Corrupt(e.to_string()))?;
    if codec_id == 3 && magic == 0 {
        message::set_lz4_header_checksum(&mut value, true);
    }
    let max_timestamp = if log_append_time {
        header.max_timestamp
    } else {
        decoded
            .records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(-1)
    };
    message::write(
        out,
        last_offset,
        magic,
        codec_id,
        log_append_time,
        max_timestamp,
        None,
        Some(&value),
    );
    Ok(())
}
