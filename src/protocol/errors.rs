//! The one place where domain errors become Kafka error codes (invariant 4). Callers pass the
//! request version where older clients need older codes.

use kafka_protocol::ResponseError;

use crate::log::LogError;
use crate::metadata::MetadataError;

/// A Kafka error code with the message Kafka would put beside it (where the API has one).
pub struct KafkaError {
    pub code: i16,
    pub message: Option<String>,
}

impl KafkaError {
    pub fn new(error: ResponseError) -> Self {
        Self {
            code: error.code(),
            message: None,
        }
    }

    pub fn with_message(error: ResponseError, message: impl Into<String>) -> Self {
        Self {
            code: error.code(),
            message: Some(message.into()),
        }
    }
}

pub fn metadata_error(e: &MetadataError) -> KafkaError {
    use MetadataError::*;
    let code = match e {
        TopicAlreadyExists(name) => {
            return KafkaError::with_message(
                ResponseError::TopicAlreadyExists,
                format!("Topic '{name}' already exists."),
            )
        }
        UnknownTopic(_) => ResponseError::UnknownTopicOrPartition,
        InvalidTopic(_) => ResponseError::InvalidTopicException,
        InvalidPartitions(_) => ResponseError::InvalidPartitions,
        InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
        InvalidReplicaAssignment(_) => ResponseError::InvalidReplicaAssignment,
        InvalidRequest(_) => ResponseError::InvalidRequest,
        InvalidConfig(_) => ResponseError::InvalidConfig,
        InvalidUpdateVersion(_) => ResponseError::InvalidUpdateVersion,
        Io(_) | Corrupt { .. } => ResponseError::KafkaStorageError,
        Unavailable(_) => ResponseError::RequestTimedOut,
    };
    let message = match e {
        InvalidTopic(m)
        | InvalidPartitions(m)
        | InvalidReplicationFactor(m)
        | InvalidReplicaAssignment(m)
        | InvalidRequest(m)
        | InvalidConfig(m)
        | InvalidUpdateVersion(m) => Some(m.clone()),
        UnknownTopic(_) => Some("This server does not host this topic-partition.".into()),
        other => Some(other.to_string()),
    };
    KafkaError {
        code: code.code(),
        message,
    }
}

/// CreateTopics or CreatePartitions whose partition logs could not all be opened on this broker
/// (most likely out of file descriptors): KAFKA_STORAGE_ERROR, the disk error Kafka reports for
/// a log it cannot access, naming the first cause.
pub fn partitions_not_opened(
    node_id: i32,
    topic: &str,
    count: usize,
    first: Option<&LogError>,
) -> KafkaError {
    let cause = first.map_or(String::new(), |e| format!(": {e}"));
    KafkaError::with_message(
        ResponseError::KafkaStorageError,
        format!("Broker {node_id} could not open the logs of {count} partition(s) of topic {topic}{cause}"),
    )
}

pub fn log_error(e: &LogError) -> KafkaError {
    if let LogError::RecordErrors { timestamp, records } = e {
        // Kafka's RecordValidationException messages (LogValidator.processRecordErrors).
        return if *timestamp {
            KafkaError::with_message(
                ResponseError::InvalidTimestamp,
                "One or more records have been rejected due to invalid timestamp".to_string(),
            )
        } else {
            let shown: Vec<String> = records.iter().take(3).map(|r| r.to_string()).collect();
            KafkaError::with_message(
                ResponseError::InvalidRecord,
                format!(
                    "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
                    records.len(),
                    shown.join(", ")
                ),
            )
        };
    }
    let code = match e {
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::RecordTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::CorruptRecord(_) => ResponseError::CorruptMessage,
        LogError::InvalidRecord { .. } => ResponseError::InvalidRecord,
        LogError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        LogError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        LogError::InvalidTxnState { .. } => ResponseError::InvalidTxnState,
        LogError::TransactionCoordinatorFenced { .. } => {
            ResponseError::TransactionCoordinatorFenced
        }
        LogError::NotLeader => ResponseError::NotLeaderOrFollower,
        _ => ResponseError::KafkaStorageError,
    };
    KafkaError {
        code: code.code(),
        message: Some(e.to_string()),
    }
}

/// A v0/v1 message set Milena cannot convert (`log::legacy_format`), produced or fetched, as
/// Kafka 3.9 answers it.
pub fn legacy_error(e: &crate::log::legacy_format::LegacyError) -> KafkaError {
    use crate::log::legacy_format::LegacyError;
    let code = match e {
        LegacyError::Corrupt(_) => ResponseError::CorruptMessage,
        LegacyError::Invalid(_) => ResponseError::InvalidRecord,
        LegacyError::Zstd => ResponseError::UnsupportedCompressionType,
    };
    KafkaError::with_message(code, e.to_string())
}

pub const NONE: i16 = 0;

pub fn code(error: ResponseError) -> i16 {
    error.code()
}

/// PRODUCER_FENCED exists for clients from these request versions on (KIP-588); older ones get
/// INVALID_PRODUCER_EPOCH for the same condition, as Kafka answers them.
pub fn producer_fenced_compat(code: i16, version: i16, first_version: i16) -> i16 {
    if code == ResponseError::ProducerFenced.code() && version < first_version {
        ResponseError::InvalidProducerEpoch.code()
    } else {
        code
    }
}

/// What a client is told about a failed SASL exchange (SaslServerAuthenticator): Kafka's
/// SaslAuthenticationException messages as they are, anything else as the generic "invalid
/// credentials" message, which does not tell whether the user exists.
pub fn sasl_error(
    e: &crate::security::sasl::SaslError,
    mechanism: Option<crate::security::sasl::SaslMechanism>,
    reauthenticating: bool,
) -> KafkaError {
    use crate::security::sasl::SaslError;
    match e {
        SaslError::Authentication(m) => {
            KafkaError::with_message(ResponseError::SaslAuthenticationFailed, m.clone())
        }
        SaslError::Credentials(_) => KafkaError::with_message(
            ResponseError::SaslAuthenticationFailed,
            format!(
                "Authentication failed during {} due to invalid credentials with SASL mechanism {}",
                if reauthenticating {
                    "re-authentication"
                } else {
                    "authentication"
                },
                mechanism.map_or("-", |m| m.name())
            ),
        ),
        SaslError::IllegalState(m) => {
            KafkaError::with_message(ResponseError::IllegalSaslState, m.clone())
        }
    }
}

/// The error code and message of one user's refused SCRAM credential change.
pub fn scram_alter_error(e: &crate::metadata::controller::scram::ScramAlterError) -> KafkaError {
    use crate::metadata::controller::scram::ScramAlterError::*;
    let code = match e {
        Duplicate => ResponseError::DuplicateResource,
        NotFound => ResponseError::ResourceNotFound,
        UnknownMechanism => ResponseError::UnsupportedSaslMechanism,
        Unacceptable(_) => ResponseError::UnacceptableCredential,
    };
    KafkaError::with_message(code, e.message())
}
