//! The one error type of the configuration layer.
//!
//! Every variant that concerns a value names the key it came from, so that an operator can find the
//! offending line without reading the code; the caller decides whether the error stops start-up or
//! becomes an `INVALID_CONFIG` answer on the wire.

use std::path::PathBuf;

/// Why a configuration could not be read or accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The properties file could not be read at all.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The properties text is not well formed (only a bad `\uXXXX` escape can cause this).
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },

    /// A known key has a value that does not parse or is out of range.
    #[error("invalid value {value:?} for configuration {key}: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },

    /// A topic-level configuration name that Kafka does not define.
    #[error("unknown configuration {key}")]
    UnknownConfig { key: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
