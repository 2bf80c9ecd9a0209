//! Walking the records inside an uncompressed v2 batch, for ListOffsets by timestamp.
//!
//! This is the only place the log looks inside a batch, and only off the hot path. Record layout:
//! `length varint | attributes i8 | timestamp_delta varlong | offset_delta varint | key...`; all
//! varints are zigzag. Records are not validated on append, so a malformed record here is
//! reported as `None` and the caller falls back to batch granularity rather than failing.

use super::batch::{BatchHeader, BATCH_HEADER_SIZE};

/// Reads one zigzag varint of at most 10 bytes starting at `*pos`.
fn read_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    None
}

/// The first record (offset, timestamp) with `timestamp >= target_ms` and `offset >= min_offset`
/// in an uncompressed CreateTime batch. `None` if there is none or the records are malformed.
pub(crate) fn find_record_by_timestamp(
    batch: &[u8],
    header: &BatchHeader,
    target_ms: i64,
    min_offset: i64,
) -> Option<(i64, i64)> {
    let mut pos = BATCH_HEADER_SIZE;
    for _ in 0..header.records_count {
        let length = usize::try_from(read_varlong(batch, &mut pos)?).ok()?;
        let end = pos.checked_add(length)?;
        if end > batch.len() {
            return None;
        }
        let mut p = pos + 1; // skip the attributes byte
        let timestamp_delta = read_varlong(&batch[..end], &mut p)?;
        let offset_delta = read_varlong(&batch[..end], &mut p)?;
        let timestamp = header.base_timestamp.checked_add(timestamp_delta)?;
        let offset = header.base_offset.checked_add(offset_delta)?;
        if timestamp >= target_ms && offset >= min_offset {
            return Some((offset, timestamp));
        }
        pos = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::BatchBuilder;

    #[test]
    fn finds_first_record_at_or_after_target() {
        let b = BatchBuilder::new()
            .base_offset(100)
            .timestamp(1000)
            .deltas(&[0, 10, 5, 20])
            .records(&[b"a", b"b", b"c", b"d"])
            .build();
        let h = BatchHeader::parse(&b).expect("header");
        assert_eq!(find_record_by_timestamp(&b, &h, 1004, 0), Some((101, 1010)));
        assert_eq!(find_record_by_timestamp(&b, &h, 1000, 0), Some((100, 1000)));
        assert_eq!(
            find_record_by_timestamp(&b, &h, 1000, 102),
            Some((102, 1005))
        );
        assert_eq!(find_record_by_timestamp(&b, &h, 1021, 0), None);
    }

    #[test]
    fn malformed_records_give_none() {
        let b = BatchBuilder::new().records(&[b"abc"]).build();
        let h = BatchHeader::parse(&b).expect("header");
        let mut bad = b.to_vec();
        bad[BATCH_HEADER_SIZE] = 0xff; // length varint that never ends within the record
        bad.truncate(BATCH_HEADER_SIZE + 1);
        assert_eq!(find_record_by_timestamp(&bad, &h, 0, 0), None);
    }
}
