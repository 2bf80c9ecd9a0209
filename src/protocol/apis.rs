//! The one table of supported APIs. It drives both dispatch (a request outside its range is
//! refused before decoding) and the ApiVersions answer, so the two cannot disagree.
//!
//! Ranges are what the handlers really serve, clipped to what the `kafka-protocol` structs can
//! decode. What is not served is not advertised: clients use ApiVersions for feature detection.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::Message;

/// One supported API: the versions advertised, and the lowest one that is decodable.
#[derive(Debug, Clone, Copy)]
pub struct ApiSpec {
    pub key: ApiKey,
    /// Advertised minimum; below `min` only for APIs whose old versions a client must see
    /// although they are refused (none at present).
    pub advertised_min: i16,
    pub min: i16,
    pub max: i16,
}

const fn spec<R: Message>(key: ApiKey, advertised_min: i16, min: i16, max: i16) -> ApiSpec {
    // Clip to what the structs decode (crate 0.18 lists unstable versions it cannot decode
    // in ApiKey::valid_versions; the struct ranges are the truth).
    let min = if min < R::VERSIONS.min {
        R::VERSIONS.min
    } else {
        min
    };
    let max = if max > R::VERSIONS.max {
        R::VERSIONS.max
    } else {
        max
    };
    ApiSpec {
        key,
        advertised_min: if advertised_min < min {
            advertised_min
        } else {
            min
        },
        min,
        max,
    }
}

pub const SUPPORTED: &[ApiSpec] = &[
    // Produce v0-v2 and Fetch v0-v3 carry message format v0/v1 (magic 0 and 1), which Kafka 4
    // dropped; Milena converts them to and from the stored v2 batches as Kafka 3.x did
    // (handlers/legacy_records.rs, log/legacy_format/). ListOffsets v0 is how those clients find
    // the earliest and latest offsets (handlers/list_offsets.rs).
    spec::<ProduceRequest>(ApiKey::Produce, 0, 0, 12),
    spec::<FetchRequest>(ApiKey::Fetch, 0, 0, 16),
    spec::<ListOffsetsRequest>(ApiKey::ListOffsets, 0, 0, 10),
    spec::<OffsetForLeaderEpochRequest>(ApiKey::OffsetForLeaderEpoch, 2, 2, 4),
    spec::<MetadataRequest>(ApiKey::Metadata, 0, 0, 13),
    spec::<ApiVersionsRequest>(ApiKey::ApiVersions, 0, 0, 4),
    spec::<CreateTopicsRequest>(ApiKey::CreateTopics, 2, 2, 7),
    spec::<DeleteTopicsRequest>(ApiKey::DeleteTopics, 1, 1, 6),
    spec::<InitProducerIdRequest>(ApiKey::InitProducerId, 0, 0, 5),
    spec::<DescribeConfigsRequest>(ApiKey::DescribeConfigs, 1, 1, 4),
    spec::<AlterConfigsRequest>(ApiKey::AlterConfigs, 0, 0, 2),
    spec::<IncrementalAlterConfigsRequest>(ApiKey::IncrementalAlterConfigs, 0, 0, 1),
    spec::<CreatePartitionsRequest>(ApiKey::CreatePartitions, 0, 0, 3),
    spec::<DeleteRecordsRequest>(ApiKey::DeleteRecords, 0, 0, 2),
    spec::<DescribeLogDirsRequest>(ApiKey::DescribeLogDirs, 1, 1, 4),
    spec::<DescribeClusterRequest>(ApiKey::DescribeCluster, 0, 0, 1),
    spec::<DescribeQuorumRequest>(ApiKey::DescribeQuorum, 0, 0, 2),
    spec::<FindCoordinatorRequest>(ApiKey::FindCoordinator, 0, 0, 5),
    spec::<JoinGroupRequest>(ApiKey::JoinGroup, 0, 0, 9),
    spec::<SyncGroupRequest>(ApiKey::SyncGroup, 0, 0, 5),
    spec::<HeartbeatRequest>(ApiKey::Heartbeat, 0, 0, 4),
    spec::<LeaveGroupRequest>(ApiKey::LeaveGroup, 0, 0, 5),
    spec::<OffsetCommitRequest>(ApiKey::OffsetCommit, 2, 2, 9),
    spec::<OffsetFetchRequest>(ApiKey::OffsetFetch, 1, 1, 9),
    spec::<DescribeGroupsRequest>(ApiKey::DescribeGroups, 0, 0, 6),
    spec::<ListGroupsRequest>(ApiKey::ListGroups, 0, 0, 5),
    spec::<DeleteGroupsRequest>(ApiKey::DeleteGroups, 0, 0, 2),
    spec::<OffsetDeleteRequest>(ApiKey::OffsetDelete, 0, 0, 0),
    spec::<DescribeTopicPartitionsRequest>(ApiKey::DescribeTopicPartitions, 0, 0, 0),
    spec::<ConsumerGroupHeartbeatRequest>(ApiKey::ConsumerGroupHeartbeat, 0, 0, 1),
    spec::<ConsumerGroupDescribeRequest>(ApiKey::ConsumerGroupDescribe, 0, 0, 1),
    // Transactions V1 and V2 (KIP-890): AddPartitionsToTxn v4+ is the broker-to-broker form
    // (verify or add for a partition leader); Produce v12, EndTxn v5 and TxnOffsetCommit v5 are
    // a V2 producer's (registration by the leader, an epoch bump at every EndTxn).
    spec::<AddPartitionsToTxnRequest>(ApiKey::AddPartitionsToTxn, 0, 0, 5),
    spec::<AddOffsetsToTxnRequest>(ApiKey::AddOffsetsToTxn, 0, 0, 4),
    spec::<EndTxnRequest>(ApiKey::EndTxn, 0, 0, 5),
    spec::<TxnOffsetCommitRequest>(ApiKey::TxnOffsetCommit, 0, 0, 5),
    // Broker to broker: a transaction coordinator's markers for partitions led here.
    spec::<WriteTxnMarkersRequest>(ApiKey::WriteTxnMarkers, 1, 1, 1),
    spec::<DescribeProducersRequest>(ApiKey::DescribeProducers, 0, 0, 0),
    spec::<DescribeTransactionsRequest>(ApiKey::DescribeTransactions, 0, 0, 0),
    spec::<ListTransactionsRequest>(ApiKey::ListTransactions, 0, 0, 1),
    // SASL (handlers/sasl.rs): advertised on every listener, as Kafka does; a non-SASL or
    // already authenticated connection gets ILLEGAL_SASL_STATE.
    spec::<SaslHandshakeRequest>(ApiKey::SaslHandshake, 0, 0, 1),
    spec::<SaslAuthenticateRequest>(ApiKey::SaslAuthenticate, 0, 0, 2),
    spec::<AlterUserScramCredentialsRequest>(ApiKey::AlterUserScramCredentials, 0, 0, 0),
    spec::<DescribeUserScramCredentialsRequest>(ApiKey::DescribeUserScramCredentials, 0, 0, 0),
    // No client quotas exist in Milena: always an empty answer (kafka-configs.sh needs it).
    spec::<DescribeClientQuotasRequest>(ApiKey::DescribeClientQuotas, 0, 0, 1),
    // ACLs (kafka-acls.sh): Kafka 4 serves v1-v3.
    spec::<DescribeAclsRequest>(ApiKey::DescribeAcls, 1, 1, 3),
    spec::<CreateAclsRequest>(ApiKey::CreateAcls, 1, 1, 3),
    spec::<DeleteAclsRequest>(ApiKey::DeleteAcls, 1, 1, 3),
    // kafka-features.sh upgrade/downgrade/disable (handlers/features.rs).
    spec::<UpdateFeaturesRequest>(ApiKey::UpdateFeatures, 0, 0, 2),
];

pub fn lookup(key: ApiKey) -> Option<&'static ApiSpec> {
    SUPPORTED.iter().find(|s| s.key == key)
}
