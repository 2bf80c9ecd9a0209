//! Errors of the log layer.
//!
//! `BatchError` describes why a byte range is not a valid v2 record batch; it is a value, not an
//! I/O failure, so recovery can tell a torn tail from a disk error. `LogError` is what the `Log`
//! API returns; the protocol layer maps each variant to a Kafka error code in one place.

use std::io;
use std::path::{Path, PathBuf};

/// Why bytes do not form a valid v2 record batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("{available} bytes are too few for a batch header")]
    TooShort { available: usize },
    #[error("batch_length {batch_length} is impossible")]
    InvalidLength { batch_length: i32 },
    #[error("batch needs {needed} bytes but only {available} remain")]
    Truncated { needed: usize, available: usize },
    #[error("unsupported magic {0} (only v2 batches are stored)")]
    UnsupportedMagic(i8),
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("negative records_count {0}")]
    NegativeRecordCount(i32),
    #[error("negative last_offset_delta {0}")]
    NegativeLastOffsetDelta(i32),
}

/// One record a batch cannot take: its index in the batch and why (Kafka's RecordError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    pub batch_index: i32,
    pub message: String,
}

impl std::fmt::Display for RecordProblem {
    /// Kafka's `RecordError.toString`, which the response's error message embeds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecordError(batchIndex={}, message='{}')",
            self.batch_index, self.message
        )
    }
}

/// Errors of the partition log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A produced batch failed structural validation (length, magic, CRC).
    #[error("corrupt record batch: {0}")]
    CorruptRecord(#[from] BatchError),
    /// A produced batch is well formed but not acceptable (e.g. count mismatch, control batch).
    #[error("invalid record batch: {reason}")]
    InvalidRecord { reason: &'static str },
    /// Records of a produced batch Kafka's validator refuses one by one (KIP-467): keyless
    /// records on a compacted topic, CreateTime timestamps out of range. The whole batch fails;
    /// the Produce response names the records.
    #[error("{} record(s) refused, the first: {}", records.len(), records.first().map_or("", |r| r.message.as_str()))]
    RecordErrors {
        /// Some record's timestamp is out of range: INVALID_TIMESTAMP (else INVALID_RECORD).
        timestamp: bool,
        records: Vec<RecordProblem>,
    },
    /// An append as leader to a replica that follows (leadership moved under the caller).
    #[error("this replica is not the partition leader")]
    NotLeader,
    #[error("record batch of {size} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge { size: usize, max: usize },
    #[error("offset {offset} is outside [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// Damage that recovery must not silently drop (not a torn tail): start-up stops.
    #[error("corrupt log segment {path} at position {position}: {reason}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    #[error("producer {producer_id} epoch {epoch} is older than current epoch {current_epoch}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current_epoch: i16,
    },
    #[error("marker of coordinator epoch {epoch} for producer {producer_id} is older than {current_epoch}")]
    TransactionCoordinatorFenced {
        producer_id: i64,
        epoch: i32,
        current_epoch: i32,
    },
    #[error("producer {producer_id}: {reason}")]
    InvalidTxnState {
        producer_id: i64,
        reason: &'static str,
    },
    #[error("producer {producer_id} sent sequence {found}, expected {expected}")]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        found: i32,
    },
}

impl LogError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        LogError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the error is a file that could not be opened for want of a file descriptor: a
    /// resource running out, not damage, so a partition it keeps closed may open later.
    pub fn is_out_of_file_descriptors(&self) -> bool {
        use rustix::io::Errno;
        // The process's budget (EMFILE) or the system's (ENFILE).
        matches!(self, LogError::Io { source, .. }
        if source.raw_os_error().is_some_and(|n| {
            n == Errno::MFILE.raw_os_error() || n == Errno::NFILE.raw_os_error()
        }))
    }
}

/// Shorthand to attach a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T, LogError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, LogError> {
        self.map_err(|e| LogError::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_file_descriptors_is_told_apart_from_other_io_errors() {
        let io = |errno| LogError::io(Path::new("p"), io::Error::from_raw_os_error(errno));
        let (emfile, enfile) = (rustix::io::Errno::MFILE, rustix::io::Errno::NFILE);
        assert!(io(emfile.raw_os_error()).is_out_of_file_descriptors());
        assert!(io(enfile.raw_os_error()).is_out_of_file_descriptors());
        let eio = rustix::io::Errno::IO.raw_os_error();
        assert!(!io(eio).is_out_of_file_descriptors());
        let corrupt = LogError::Corrupt {
            path: "p".into(),
            position: 0,
            reason: String::new(),
        };
        assert!(!corrupt.is_out_of_file_descriptors());
    }
}
