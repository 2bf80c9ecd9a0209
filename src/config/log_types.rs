//! Small enums for config values the log acts on: timestamp type, cleanup policy, compression.
//!
//! They are built from canonical (already validated) text, so the conversions cannot fail; an
//! unexpected string maps to Kafka's default rather than panicking.

/// `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    #[default]
    CreateTime,
    /// Stamp each batch with the broker's clock at append.
    LogAppendTime,
}

impl TimestampType {
    pub(crate) fn from_canonical(s: &str) -> Self {
        match s {
            "LogAppendTime" => TimestampType::LogAppendTime,
            _ => TimestampType::CreateTime,
        }
    }
}

/// `cleanup.policy`: which of delete and compact apply (both, one, or neither for an empty list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub delete: bool,
    pub compact: bool,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        CleanupPolicy {
            delete: true,
            compact: false,
        }
    }
}

impl CleanupPolicy {
    pub(crate) fn from_canonical(s: &str) -> Self {
        let items: Vec<&str> = s.split(',').collect();
        CleanupPolicy {
            delete: items.contains(&"delete"),
            compact: items.contains(&"compact"),
        }
    }
}

/// `compression.type` of a topic or broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionType {
    /// Store batches with the producer's codec, untouched.
    #[default]
    Producer,
    Uncompressed,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl CompressionType {
    pub(crate) fn from_canonical(s: &str) -> Self {
        match s {
            "uncompressed" => CompressionType::Uncompressed,
            "gzip" => CompressionType::Gzip,
            "snappy" => CompressionType::Snappy,
            "lz4" => CompressionType::Lz4,
            "zstd" => CompressionType::Zstd,
            _ => CompressionType::Producer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(
            TimestampType::from_canonical("LogAppendTime"),
            TimestampType::LogAppendTime
        );
        assert_eq!(
            TimestampType::from_canonical("CreateTime"),
            TimestampType::CreateTime
        );
        let both = CleanupPolicy::from_canonical("compact,delete");
        assert!(both.compact && both.delete);
        let none = CleanupPolicy::from_canonical("");
        assert!(!none.compact && !none.delete);
        assert_eq!(
            CleanupPolicy::from_canonical("delete"),
            CleanupPolicy::default()
        );
        assert_eq!(
            CompressionType::from_canonical("zstd"),
            CompressionType::Zstd
        );
        assert_eq!(
            CompressionType::from_canonical("producer"),
            CompressionType::Producer
        );
    }
}
