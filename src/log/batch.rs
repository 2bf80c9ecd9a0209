//! The v2 record batch header: parsing, validation and the few in-place rewrites the broker does.
//!
//! Batches stay opaque on the hot path: only the fixed 61-byte header is read. Layout (big endian):
//!
//! ```text
//! 0  base_offset i64          | 8  batch_length i32 (bytes after this field)
//! 12 partition_leader_epoch i32 | 16 magic i8 (=2) | 17 crc u32 (CRC32C of bytes 21..end)
//! 21 attributes i16           | 23 last_offset_delta i32 | 27 base_timestamp i64
//! 35 max_timestamp i64        | 43 producer_id i64       | 51 producer_epoch i16
//! 53 base_sequence i32        | 57 records_count i32     | 61 records...
//! ```
//!
//! `base_offset`, `batch_length` and `partition_leader_epoch` sit before the CRC'd range, so the
//! broker can assign offsets and stamp the leader epoch without recomputing the CRC. Setting
//! LogAppendTime changes the attributes and max_timestamp, which are covered, so it recomputes it.

use bytes::Bytes;

use super::error::BatchError;

/// Size of the fixed v2 header.
pub const BATCH_HEADER_SIZE: usize = 61;
/// base_offset + batch_length: the bytes not counted by `batch_length`.
pub const LOG_OVERHEAD: usize = 12;
/// Smallest legal `batch_length` (a header with zero records).
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32;

const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const MAX_TIMESTAMP_AT: usize = 35;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// The decoded fixed header of a v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl BatchHeader {
    /// Parses and sanity-checks the 61-byte header (not the CRC, which needs the whole batch).
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        if buf.len() < BATCH_HEADER_SIZE {
            return Err(BatchError::TooShort {
                available: buf.len(),
            });
        }
        let h = BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, LEADER_EPOCH_AT),
            magic: buf[MAGIC_AT] as i8,
            crc: be_i32(buf, CRC_AT) as u32,
            attributes: be_i16(buf, ATTRIBUTES_AT),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_AT),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, 57),
        };
        if h.batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::InvalidLength {
                batch_length: h.batch_length,
            });
        }
        if h.magic != 2 {
            return Err(BatchError::UnsupportedMagic(h.magic));
        }
        if h.records_count < 0 {
            return Err(BatchError::NegativeRecordCount(h.records_count));
        }
        if h.last_offset_delta < 0 {
            return Err(BatchError::NegativeLastOffsetDelta(h.last_offset_delta));
        }
        Ok(h)
    }

    /// Whole batch size on disk and on the wire.
    pub fn size_in_bytes(&self) -> usize {
        self.batch_length.max(0) as usize + LOG_OVERHEAD
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }
    /// 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_MASK
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
    /// Sequence of the last record; sequences wrap from i32::MAX to 0.
    pub fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `seq + delta` in the producer sequence space, which wraps at i32::MAX to 0.
pub fn increment_sequence(seq: i32, delta: i32) -> i32 {
    let sum = i64::from(seq) + i64::from(delta);
    if sum > i64::from(i32::MAX) {
        (sum - i64::from(i32::MAX) - 1) as i32
    } else {
        sum as i32
    }
}

/// CRC32C over the range the v2 format covers (attributes to the end).
fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_AT..])
}

/// Validates one complete batch: header checks, exact length and CRC.
pub fn validate_batch(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let h = BatchHeader::parse(batch)?;
    if h.size_in_bytes() != batch.len() {
        return Err(BatchError::Truncated {
            needed: h.size_in_bytes(),
            available: batch.len(),
        });
    }
    let computed = compute_crc(batch);
    if computed != h.crc {
        return Err(BatchError::CrcMismatch {
            stored: h.crc,
            computed,
        });
    }
    Ok(h)
}

/// Splits a buffer of concatenated batches, validating each; stops at the first error.
pub struct BatchIter {
    buf: Bytes,
    pos: usize,
    failed: bool,
}

impl BatchIter {
    pub fn new(buf: Bytes) -> BatchIter {
        BatchIter {
            buf,
            pos: 0,
            failed: false,
        }
    }
    /// Byte position of the next batch (after an error: of the bad batch).
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for BatchIter {
    type Item = Result<(BatchHeader, Bytes), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let result = batch_size(rest).and_then(|size| {
            let slice = self.buf.slice(self.pos..self.pos + size);
            validate_batch(&slice).map(|h| (h, slice))
        });
        match &result {
            Ok((h, _)) => self.pos += h.size_in_bytes(),
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}

/// Size of the batch starting at `rest[0]`, checked against what is available.
fn batch_size(rest: &[u8]) -> Result<usize, BatchError> {
    if rest.len() < LOG_OVERHEAD {
        return Err(BatchError::Truncated {
            needed: LOG_OVERHEAD,
            available: rest.len(),
        });
    }
    let batch_length = be_i32(rest, 8);
    if batch_length < MIN_BATCH_LENGTH {
        return Err(BatchError::InvalidLength { batch_length });
    }
    let size = batch_length as usize + LOG_OVERHEAD;
    if size > rest.len() {
        return Err(BatchError::Truncated {
            needed: size,
            available: rest.len(),
        });
    }
    Ok(size)
}

fn check_len(batch: &[u8]) -> Result<(), BatchError> {
    if batch.len() < BATCH_HEADER_SIZE {
        return Err(BatchError::TooShort {
            available: batch.len(),
        });
    }
    Ok(())
}

/// Rewrites base_offset (outside the CRC: no recompute).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), BatchError> {
    check_len(batch)?;
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}

/// Rewrites partition_leader_epoch (outside the CRC: no recompute).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), BatchError> {
    check_len(batch)?;
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&epoch.to_be_bytes());
    Ok(())
}

/// Marks the batch LogAppendTime with max_timestamp = `now_ms`; both are CRC'd, so recompute.
pub fn set_log_append_time(batch: &mut [u8], now_ms: i64) -> Result<(), BatchError> {
    check_len(batch)?;
    let attributes = be_i16(batch, ATTRIBUTES_AT) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::BatchBuilder;

    #[test]
    fn parses_a_built_batch() {
        let b = BatchBuilder::new()
            .base_offset(7)
            .producer(42, 3, 10)
            .records(&[b"a", b"bc"])
            .build();
        let h = validate_batch(&b).expect("valid");
        assert_eq!(h.base_offset, 7);
        assert_eq!(h.records_count, 2);
        assert_eq!(h.last_offset(), 8);
        assert_eq!(h.last_sequence(), 11);
        assert!(h.has_producer_id() && !h.is_transactional() && !h.is_control());
        assert_eq!(h.size_in_bytes(), b.len());
    }

    #[test]
    fn rejects_bad_magic_crc_and_lengths() {
        let good = BatchBuilder::new().records(&[b"x"]).build();
        let mut bad_crc = good.to_vec();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 0xff;
        assert!(matches!(
            validate_batch(&bad_crc),
            Err(BatchError::CrcMismatch { .. })
        ));
        let mut bad_magic = good.to_vec();
        bad_magic[MAGIC_AT] = 1;
        assert_eq!(
            validate_batch(&bad_magic),
            Err(BatchError::UnsupportedMagic(1))
        );
        assert!(matches!(
            BatchHeader::parse(&good[..60]),
            Err(BatchError::TooShort { .. })
        ));
        let mut bad_len = good.to_vec();
        bad_len[8..12].copy_from_slice(&10i32.to_be_bytes());
        assert!(matches!(
            validate_batch(&bad_len),
            Err(BatchError::InvalidLength { .. })
        ));
        let mut neg_count = good.to_vec();
        neg_count[57..61].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            BatchHeader::parse(&neg_count),
            Err(BatchError::NegativeRecordCount(-1))
        );
    }

    #[test]
    fn iterator_splits_and_stops_on_truncation() {
        let a = BatchBuilder::new().records(&[b"a"]).build();
        let b = BatchBuilder::new().records(&[b"b", b"c"]).build();
        let mut all = a.to_vec();
        all.extend_from_slice(&b);
        let parts: Vec<_> = BatchIter::new(Bytes::from(all.clone()))
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].1, b);
        all.truncate(all.len() - 3);
        let mut it = BatchIter::new(Bytes::from(all));
        assert!(it.next().is_some_and(|r| r.is_ok()));
        assert!(matches!(it.next(), Some(Err(BatchError::Truncated { .. }))));
        assert_eq!(it.position(), a.len());
        assert!(it.next().is_none());
    }

    #[test]
    fn rewrites_keep_crc_valid() {
        let mut b = BatchBuilder::new().records(&[b"a"]).build().to_vec();
        set_base_offset(&mut b, 1234).expect("len");
        set_partition_leader_epoch(&mut b, 9).expect("len");
        let h = validate_batch(&b).expect("still valid: fields outside CRC");
        assert_eq!((h.base_offset, h.partition_leader_epoch), (1234, 9));
        set_log_append_time(&mut b, 5555).expect("len");
        let h = validate_batch(&b).expect("CRC recomputed");
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 5555);
    }

    #[test]
    fn sequence_wraps_at_i32_max() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(5, 0), 5);
    }
}
