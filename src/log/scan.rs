//! Sequential validating scan of a segment's `.log`, for recovery and state rebuilds.
//!
//! Reads through its own file handle with a large buffer and streams each batch through CRC32C,
//! so memory stays bounded whatever `batch_length` a damaged file claims. A scan never fails on
//! bad data: it reports the position of the first invalid batch and the caller decides whether
//! that is a torn tail (truncate) or interior damage (refuse to start).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::batch::{BatchHeader, BATCH_HEADER_SIZE, LOG_OVERHEAD, MIN_BATCH_LENGTH};
use super::builder::{control_type, ControlType};
use super::error::{BatchError, IoContext, LogError};

/// Control batches are one small record; their bytes are kept to read the marker type.
const MAX_CONTROL_BATCH: u64 = 1024;

const READ_BUFFER: usize = 256 * 1024;

pub(crate) enum Scanned {
    Batch {
        position: u64,
        header: BatchHeader,
        /// The marker type of a control batch (transaction commit or abort).
        control: Option<ControlType>,
    },
    End,
    Invalid {
        position: u64,
        reason: BatchError,
    },
}

pub(crate) struct SegmentScanner<'a> {
    path: &'a Path,
    reader: BufReader<File>,
    position: u64,
    file_len: u64,
    chunk: Vec<u8>,
}

impl<'a> SegmentScanner<'a> {
    pub(crate) fn open(path: &'a Path, start: u64) -> Result<Self, LogError> {
        let mut file = File::open(path).at(path)?;
        let file_len = file.metadata().at(path)?.len();
        file.seek(SeekFrom::Start(start)).at(path)?;
        Ok(SegmentScanner {
            path,
            reader: BufReader::with_capacity(READ_BUFFER, file),
            position: start,
            file_len,
            chunk: vec![0u8; 64 * 1024],
        })
    }

    /// The next batch, fully CRC-checked, or where and why the valid data ends.
    pub(crate) fn next_batch(&mut self) -> Result<Scanned, LogError> {
        let position = self.position;
        let remaining = self.file_len.saturating_sub(position);
        if remaining == 0 {
            return Ok(Scanned::End);
        }
        let invalid = |reason| Ok(Scanned::Invalid { position, reason });
        if remaining < BATCH_HEADER_SIZE as u64 {
            return invalid(BatchError::Truncated {
                needed: BATCH_HEADER_SIZE,
                available: remaining as usize,
            });
        }
        let mut head = [0u8; BATCH_HEADER_SIZE];
        self.reader.read_exact(&mut head).at(self.path)?;
        let batch_length = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        if batch_length < MIN_BATCH_LENGTH {
            return invalid(BatchError::InvalidLength { batch_length });
        }
        let size = batch_length as u64 + LOG_OVERHEAD as u64;
        if size > remaining {
            return invalid(BatchError::Truncated {
                needed: usize::try_from(size).unwrap_or(usize::MAX),
                available: remaining as usize,
            });
        }
        let header = match BatchHeader::parse(&head) {
            Ok(h) => h,
            Err(reason) => return invalid(reason),
        };
        let mut crc = crc32c::crc32c(&head[21..]);
        let mut left = size - BATCH_HEADER_SIZE as u64;
        let keep = header.is_control() && size <= MAX_CONTROL_BATCH;
        let mut kept = if keep { head.to_vec() } else { Vec::new() };
        while left > 0 {
            let n = left.min(self.chunk.len() as u64) as usize;
            self.reader.read_exact(&mut self.chunk[..n]).at(self.path)?;
            crc = crc32c::crc32c_append(crc, &self.chunk[..n]);
            if keep {
                kept.extend_from_slice(&self.chunk[..n]);
            }
            left -= n as u64;
        }
        if crc != header.crc {
            return invalid(BatchError::CrcMismatch {
                stored: header.crc,
                computed: crc,
            });
        }
        self.position += size;
        let control = if keep { control_type(&kept) } else { None };
        Ok(Scanned::Batch {
            position,
            header,
            control,
        })
    }
}
