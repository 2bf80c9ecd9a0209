//! Message format v0 and v1 (magic 0 and 1), which Kafka clients before 0.11 write and read, and
//! the conversion between it and the v2 batches the log stores: up-conversion of a produced
//! message set (Produce v0–v2), down-conversion of fetched batches (Fetch v0–v3), as Kafka 3.x
//! did. Kafka 4 dropped both; Milena keeps serving old clients.
//!
//! A message set is a sequence of entries, each `offset i64 | message_size i32 | message`:
//!
//! ```text
//! crc u32 (CRC32, IEEE, of everything after it) | magic i8 | attributes i8
//! timestamp i64 (magic 1 only) | key_length i32 (-1 = null) | key | value_length i32 | value
//! ```
//!
//! Attributes: bits 0–2 the codec (0 none, 1 gzip, 2 snappy, 3 lz4), bit 3 (magic 1) LogAppendTime.
//! A compressed message is a wrapper: its value is a whole message set, compressed, of the same
//! magic. A v1 wrapper's offset is the absolute offset of its last inner message and the inner
//! offsets are relative (0, 1, ...); in v0 the inner offsets are absolute.
//!
//! Bad input gets Kafka 3.9's error: a wrong CRC or impossible size is `Corrupt`
//! (CORRUPT_MESSAGE); mixed magic values, nested wrappers, a second wrapper, an empty or null
//! wrapper and a v1 wrapper offset below its last inner offset are `Invalid` (INVALID_RECORD).
//! Decompression is bounded by `codec::MAX_DECOMPRESSED`, every length is checked against the
//! bytes left before use, and conversions run outside any partition lock (the callers convert
//! before `append` and after `fetch`).

mod down;
mod message;
mod up;

#[cfg(test)]
mod tests;

pub use down::down_convert;
pub use up::up_convert;

/// Where the magic byte sits in both a legacy entry (after offset, size and CRC) and a v2 batch
/// (after base offset, length and partition leader epoch).
const MAGIC_AT: usize = 16;

/// The magic byte of the first entry of `records`, if there are enough bytes to hold one.
pub fn first_magic(records: &[u8]) -> Option<i8> {
    records.get(MAGIC_AT).map(|m| *m as i8)
}

/// Why a legacy message set cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegacyError {
    /// CORRUPT_MESSAGE: a wrong CRC, an impossible size, undecodable compressed data.
    #[error("{0}")]
    Corrupt(String),
    /// INVALID_RECORD: well-formed bytes Kafka's validator refuses.
    #[error("{0}")]
    Invalid(String),
    /// UNSUPPORTED_COMPRESSION_TYPE: zstd batches cannot be read in formats v0/v1.
    #[error("zstd-compressed batches cannot be down-converted to message format v0/v1")]
    Zstd,
}
