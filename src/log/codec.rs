//! The compression codecs of v2 record batches, for the few places the broker must look inside a
//! compressed batch: the log cleaner, and the key check of appends to compacted topics.
//!
//! The records section after the 61-byte header is compressed as a whole, in the framing
//! Kafka's Java clients write and read:
//!
//! - 1 gzip: a gzip member (RFC 1952);
//! - 2 snappy: snappy-java's stream framing (`\x82SNAPPY\0`, version 1, compatible version 1,
//!   then blocks of `compressed_length i32 BE | raw snappy block`); a section without that magic
//!   is one raw snappy block, which is what some non-Java clients write;
//! - 3 lz4: the LZ4 frame format with independent 64 KiB blocks (what Kafka writes);
//! - 4 zstd: one zstd frame.
//!
//! Decompression is bounded by `MAX_DECOMPRESSED`: a small batch that expands without limit (a
//! compression bomb) is refused instead of exhausting memory.

use std::io::{Read, Write};

/// Largest records section accepted after decompression.
pub(crate) const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

const SNAPPY_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// snappy-java's default block size, the one Kafka's producer uses.
const SNAPPY_BLOCK: usize = 32 * 1024;

/// Why a compressed records section cannot be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("unknown compression codec {0}")]
    Unknown(i16),
    #[error("compressed records do not decode: {0}")]
    Corrupt(String),
    #[error("records expand past {MAX_DECOMPRESSED} bytes")]
    TooLarge,
}

fn corrupt(e: impl std::fmt::Display) -> CodecError {
    CodecError::Corrupt(e.to_string())
}

/// Reads all of `reader`, refusing more than `MAX_DECOMPRESSED` bytes.
fn read_bounded(reader: impl Read) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(CodecError::TooLarge);
    }
    Ok(out)
}

/// The records section `data` compressed with `codec` (0..=4), decompressed.
pub(crate) fn decompress(codec: i16, data: &[u8]) -> Result<Vec<u8>, CodecError> {
    match codec {
        0 => Ok(data.to_vec()),
        1 => read_bounded(flate2::read::GzDecoder::new(data)),
        2 => snappy_decompress(data),
        3 => read_bounded(lz4_flex::frame::FrameDecoder::new(data)),
        4 => read_bounded(zstd::stream::read::Decoder::new(data).map_err(corrupt)?),
        other => Err(CodecError::Unknown(other)),
    }
}

/// `data` compressed with `codec` at the codec's default level, as Kafka's cleaner does.
pub(crate) fn compress(codec: i16, data: &[u8]) -> Result<Vec<u8>, CodecError> {
    match codec {
        0 => Ok(data.to_vec()),
        1 => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).map_err(corrupt)?;
            enc.finish().map_err(corrupt)
        }
        2 => snappy_compress(data),
        3 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(data).map_err(corrupt)?;
            enc.finish().map_err(corrupt)
        }
        4 => zstd::stream::encode_all(data, zstd::DEFAULT_COMPRESSION_LEVEL).map_err(corrupt),
        other => Err(CodecError::Unknown(other)),
    }
}

fn snappy_decompress(data: &[u8]) -> Result<Vec<u8>, CodecError> {
    let raw = |block: &[u8]| -> Result<Vec<u8>, CodecError> {
        let len = snap::raw::decompress_len(block).map_err(corrupt)?;
        if len as u64 > MAX_DECOMPRESSED {
            return Err(CodecError::TooLarge);
        }
        snap::raw::Decoder::new()
            .decompress_vec(block)
            .map_err(corrupt)
    };
    let Some(mut rest) = data.strip_prefix(SNAPPY_MAGIC) else {
        return raw(data);
    };
    if rest.len() < 8 {
        return Err(corrupt("snappy stream header is cut short"));
    }
    rest = &rest[8..]; // version, compatible version
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(corrupt("snappy block length is cut short"));
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let block = rest
            .get(4..4 + len)
            .ok_or_else(|| corrupt("snappy block runs past the batch"))?;
        out.extend_from_slice(&raw(block)?);
        if out.len() as u64 > MAX_DECOMPRESSED {
            return Err(CodecError::TooLarge);
        }
        rest = &rest[4 + len..];
    }
    Ok(out)
}

fn snappy_compress(data: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    out.extend_from_slice(SNAPPY_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    for chunk in data.chunks(SNAPPY_BLOCK) {
        let block = enc.compress_vec(chunk).map_err(corrupt)?;
        out.extend_from_slice(&(block.len() as i32).to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for codec in 0..=4 {
            let packed = compress(codec, &data).expect("compress");
            assert_eq!(
                decompress(codec, &packed).expect("decompress"),
                data,
                "codec {codec}"
            );
        }
        // Raw snappy without the stream framing, as librdkafka writes it.
        let raw = snap::raw::Encoder::new().compress_vec(&data).expect("raw");
        assert_eq!(decompress(2, &raw).expect("raw snappy"), data);
    }

    #[test]
    fn garbage_and_bombs_are_errors() {
        for codec in [1, 3, 4] {
            assert!(decompress(codec, b"garbage!").is_err(), "codec {codec}");
        }
        let bad_block = b"\x82SNAPPY\x00\0\0\0\x01\0\0\0\x01\0\0\0\x09garbage";
        assert!(decompress(2, bad_block).is_err());
        assert_eq!(decompress(5, b""), Err(CodecError::Unknown(5)));
        let zeros = vec![0u8; (MAX_DECOMPRESSED + 1) as usize];
        let bomb = compress(4, &zeros).expect("compress");
        assert_eq!(decompress(4, &bomb), Err(CodecError::TooLarge));
    }
}
