//! The wire layer: the only code that sees `kafka_protocol` request and response framing.
//!
//! A frame (the bytes after the 4-byte size) starts with api key, api version and correlation id
//! at fixed offsets; they are read directly, since the crate's header decoder panics on short
//! input. The version is checked against [`apis::SUPPORTED`] before the body is decoded; the
//! body is decoded; bytes left over after it are ignored, as Kafka ignores them (librdkafka's
//! Metadata v13 carries three). The crate is patched so that impossible
//! array counts fail before allocating (vendor/kafka-protocol/PATCHED.md).

pub mod apis;
pub mod errors;
mod response;

pub use response::{encode_fetch, Chunk, FetchAnswer, FileRecords, ResponseFrame};

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::broker::Broker;
use crate::handlers;
use crate::metrics::errors::{Counted, Probe, Uncounted};
use crate::security::sasl::Gate;
use crate::security::{KafkaPrincipal, ListenerInfo, Session};

/// What a handler knows about the request besides its body.
pub struct RequestContext {
    pub broker: Arc<Broker>,
    pub api_version: i16,
    pub client_id: Option<String>,
    pub peer: SocketAddr,
    /// The listener the request came in on (its name picks the endpoints Metadata returns).
    pub listener: Arc<ListenerInfo>,
    /// Who sent it: `User:ANONYMOUS` unless the connection authenticated.
    pub principal: Arc<KafkaPrincipal>,
    /// Nanoseconds the request waited in a purgatory (followers for acks=all, data for a
    /// long-poll Fetch): the request's remote time, kept apart from its local time.
    pub remote_ns: std::sync::atomic::AtomicU64,
}

impl RequestContext {
    /// Adds a wait in purgatory to the request's remote time.
    pub fn waited(&self, since: std::time::Instant) {
        let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.remote_ns
            .fetch_add(ns, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Why a connection must be closed (after a log line) instead of answered.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame of {0} bytes is too short for a request header")]
    ShortFrame(usize),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("unsupported version {version} of {key:?}")]
    UnsupportedVersion { key: ApiKey, version: i16 },
    #[error("malformed {key:?} v{version} request: {reason}")]
    Malformed {
        key: ApiKey,
        version: i16,
        reason: String,
    },
    /// A SASL connection sent what its authentication state does not admit, or failed a
    /// raw-token exchange (Kafka closes such connections).
    #[error("{0}")]
    Authentication(String),
    #[error("could not encode the {key:?} v{version} response: {reason}")]
    Encode {
        key: ApiKey,
        version: i16,
        reason: String,
    },
}

/// The fixed-offset start of every request frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

impl FrameHeader {
    pub fn peek(frame: &[u8]) -> Result<Self, ProtocolError> {
        if frame.len() < 8 {
            return Err(ProtocolError::ShortFrame(frame.len()));
        }
        Ok(Self {
            api_key: i16::from_be_bytes([frame[0], frame[1]]),
            api_version: i16::from_be_bytes([frame[2], frame[3]]),
            correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
        })
    }
}

/// Handles one request frame. `Ok(None)` means no response is sent (Produce with acks=0).
pub async fn handle_frame(
    broker: &Arc<Broker>,
    session: &mut Session,
    frame: Bytes,
) -> Result<Option<ResponseFrame>, ProtocolError> {
    if session.sasl.as_ref().is_some_and(|s| s.expects_raw_token()) {
        // After SaslHandshake v0 the client sends bare size-prefixed tokens.
        let token = handlers::sasl::raw_token(broker, session, &frame)
            .map_err(ProtocolError::Authentication)?;
        let mut out = BytesMut::with_capacity(4 + token.len());
        out.put_u32(token.len() as u32);
        out.extend_from_slice(&token);
        return Ok(single(out));
    }
    let header = FrameHeader::peek(&frame)?;
    let key = ApiKey::try_from(header.api_key)
        .map_err(|_| ProtocolError::UnknownApiKey(header.api_key))?;
    let version = header.api_version;
    let mut sasl_illegal_state = false;
    if let Some(sasl) = &session.sasl {
        match sasl.gate(key, std::time::Instant::now()) {
            Gate::Pass => {}
            Gate::IllegalState => sasl_illegal_state = true,
            Gate::Close(reason) => return Err(ProtocolError::Authentication(reason)),
        }
    }
    let supported = apis::lookup(key).filter(|s| version >= s.min && version <= s.max);
    if supported.is_none() {
        if key == ApiKey::ApiVersions {
            // KIP-511: answer a too-new ApiVersions with a v0 body, error 35 and the range of
            // ApiVersions itself, so the client retries with a version we speak.
            let response = handlers::api_versions::unsupported_version();
            return encode_response(key, header.correlation_id, 0, 0, &response).map(single);
        }
        return Err(ProtocolError::UnsupportedVersion { key, version });
    }
    let mut body = frame;
    let request_header = RequestHeader::decode(&mut body, key.request_header_version(version))
        .map_err(|e| malformed(key, version, e))?;
    let ctx = RequestContext {
        broker: broker.clone(),
        api_version: version,
        client_id: request_header
            .client_id
            .as_ref()
            .map(|s| s.as_str().to_string()),
        peer: session.peer,
        listener: session.listener.clone(),
        principal: session.principal.clone(),
        remote_ns: Default::default(),
    };
    let cid = header.correlation_id;
    let started = std::time::Instant::now();
    let metrics = &broker.metrics;
    let api_key = header.api_key;

    macro_rules! serve {
        ($req:ty, $handler:path) => {{
            let request: $req = decode_body(key, version, &mut body)?;
            let response = $handler(&ctx, request).await;
            (&Probe(&response)).each_error(&mut |code| metrics.error(api_key, code));
            encode_response(
                key,
                cid,
                version,
                key.response_header_version(version),
                &response,
            )
            .map(single)
        }};
        // SASL requests change the connection's session.
        ($req:ty, $handler:path, session) => {{
            let request: $req = decode_body(key, version, &mut body)?;
            let response = $handler(&ctx, session, request);
            (&Probe(&response)).each_error(&mut |code| metrics.error(api_key, code));
            encode_response(
                key,
                cid,
                version,
                key.response_header_version(version),
                &response,
            )
            .map(single)
        }};
    }

    let answer = match key {
        ApiKey::Produce => {
            let request: ProduceRequest = decode_body(key, version, &mut body)?;
            let acks = request.acks;
            let response = handlers::produce::handle(&ctx, request).await;
            Probe(&response).each_error(&mut |code| metrics.error(api_key, code));
            if acks == 0 {
                Ok(None)
            } else {
                encode_response(
                    key,
                    cid,
                    version,
                    key.response_header_version(version),
                    &response,
                )
                .map(single)
            }
        }
        ApiKey::Fetch => {
            let request: FetchRequest = decode_body(key, version, &mut body)?;
            let answer = handlers::fetch::handle(&ctx, request).await;
            Probe(&answer.response).each_error(&mut |code| metrics.error(api_key, code));
            match encode_fetch(cid, version, answer) {
                Ok(frame) => Ok(Some(frame)),
                Err(answer) => encode_response(
                    key,
                    cid,
                    version,
                    key.response_header_version(version),
                    &answer.into_response().map_err(|e| ProtocolError::Encode {
                        key,
                        version,
                        reason: e.to_string(),
                    })?,
                )
                .map(single),
            }
        }
        ApiKey::ListOffsets => serve!(ListOffsetsRequest, handlers::list_offsets::handle),
        ApiKey::OffsetForLeaderEpoch => {
            serve!(OffsetForLeaderEpochRequest, handlers::leader_epoch::handle)
        }
        ApiKey::Metadata => serve!(MetadataRequest, handlers::metadata::handle),
        ApiKey::ApiVersions if sasl_illegal_state => {
            let response = handlers::sasl::api_versions_in_wrong_state(broker, session);
            encode_response(key, cid, version, 0, &response).map(single)
        }
        ApiKey::ApiVersions => {
            let answer = serve!(ApiVersionsRequest, handlers::api_versions::handle);
            if let Some(sasl) = session.sasl.as_mut() {
                sasl.api_versions_answered();
            }
            answer
        }
        ApiKey::SaslHandshake => {
            serve!(
                SaslHandshakeRequest,
                handlers::sasl::sasl_handshake,
                session
            )
        }
        ApiKey::SaslAuthenticate => {
            serve!(
                SaslAuthenticateRequest,
                handlers::sasl::sasl_authenticate,
                session
            )
        }
        ApiKey::AlterUserScramCredentials => serve!(
            AlterUserScramCredentialsRequest,
            handlers::scram_credentials::alter_user_scram_credentials
        ),
        ApiKey::DescribeUserScramCredentials => serve!(
            DescribeUserScramCredentialsRequest,
            handlers::scram_credentials::describe_user_scram_credentials
        ),
        ApiKey::DescribeClientQuotas => serve!(
            DescribeClientQuotasRequest,
            handlers::scram_credentials::describe_client_quotas
        ),
        ApiKey::CreateTopics => serve!(CreateTopicsRequest, handlers::topics::create_topics),
        ApiKey::DeleteTopics => serve!(DeleteTopicsRequest, handlers::topics::delete_topics),
        ApiKey::CreatePartitions => {
            serve!(CreatePartitionsRequest, handlers::topics::create_partitions)
        }
        ApiKey::InitProducerId => {
            serve!(InitProducerIdRequest, handlers::producer_id::handle)
        }
        ApiKey::DescribeConfigs => {
            serve!(DescribeConfigsRequest, handlers::configs::describe_configs)
        }
        ApiKey::AlterConfigs => serve!(AlterConfigsRequest, handlers::configs::alter_configs),
        ApiKey::IncrementalAlterConfigs => serve!(
            IncrementalAlterConfigsRequest,
            handlers::configs::incremental_alter_configs
        ),
        ApiKey::DeleteRecords => {
            serve!(DeleteRecordsRequest, handlers::records::delete_records)
        }
        ApiKey::DescribeLogDirs => {
            serve!(
                DescribeLogDirsRequest,
                handlers::log_dirs::describe_log_dirs
            )
        }
        ApiKey::DescribeTopicPartitions => serve!(
            DescribeTopicPartitionsRequest,
            handlers::metadata::describe_topic_partitions
        ),
        ApiKey::JoinGroup => serve!(JoinGroupRequest, handlers::groups::join_group),
        ApiKey::SyncGroup => serve!(SyncGroupRequest, handlers::groups::sync_group),
        ApiKey::Heartbeat => serve!(HeartbeatRequest, handlers::groups::heartbeat),
        ApiKey::LeaveGroup => serve!(LeaveGroupRequest, handlers::groups::leave_group),
        ApiKey::DescribeGroups => serve!(DescribeGroupsRequest, handlers::groups::describe_groups),
        ApiKey::ListGroups => serve!(ListGroupsRequest, handlers::groups::list_groups),
        ApiKey::DeleteGroups => {
            serve!(DeleteGroupsRequest, handlers::groups::delete_groups)
        }
        ApiKey::ConsumerGroupHeartbeat => serve!(
            ConsumerGroupHeartbeatRequest,
            handlers::consumer_group::consumer_group_heartbeat
        ),
        ApiKey::ConsumerGroupDescribe => serve!(
            ConsumerGroupDescribeRequest,
            handlers::consumer_group::consumer_group_describe
        ),
        ApiKey::AddPartitionsToTxn => serve!(
            AddPartitionsToTxnRequest,
            handlers::transactions::add_partitions_to_txn
        ),
        ApiKey::AddOffsetsToTxn => serve!(
            AddOffsetsToTxnRequest,
            handlers::transactions::add_offsets_to_txn
        ),
        ApiKey::EndTxn => serve!(EndTxnRequest, handlers::transactions::end_txn),
        ApiKey::WriteTxnMarkers => serve!(
            WriteTxnMarkersRequest,
            handlers::txn_markers::write_txn_markers
        ),
        ApiKey::TxnOffsetCommit => serve!(
            TxnOffsetCommitRequest,
            handlers::transactions::txn_offset_commit
        ),
        ApiKey::DescribeTransactions => serve!(
            DescribeTransactionsRequest,
            handlers::transactions::describe_transactions
        ),
        ApiKey::ListTransactions => serve!(
            ListTransactionsRequest,
            handlers::transactions::list_transactions
        ),
        ApiKey::DescribeProducers => serve!(
            DescribeProducersRequest,
            handlers::transactions::describe_producers
        ),
        ApiKey::OffsetCommit => serve!(OffsetCommitRequest, handlers::offsets::offset_commit),
        ApiKey::OffsetFetch => serve!(OffsetFetchRequest, handlers::offsets::offset_fetch),
        ApiKey::OffsetDelete => serve!(OffsetDeleteRequest, handlers::offsets::offset_delete),
        ApiKey::FindCoordinator => {
            serve!(
                FindCoordinatorRequest,
                handlers::coordinator::find_coordinator
            )
        }
        ApiKey::DescribeCluster => {
            serve!(DescribeClusterRequest, handlers::cluster::describe_cluster)
        }
        ApiKey::DescribeQuorum => {
            serve!(DescribeQuorumRequest, handlers::cluster::describe_quorum)
        }
        ApiKey::CreateAcls => serve!(CreateAclsRequest, handlers::acls::create_acls),
        ApiKey::DescribeAcls => serve!(DescribeAclsRequest, handlers::acls::describe_acls),
        ApiKey::DeleteAcls => serve!(DeleteAclsRequest, handlers::acls::delete_acls),
        ApiKey::UpdateFeatures => {
            serve!(UpdateFeaturesRequest, handlers::features::update_features)
        }
        // Unreachable while every SUPPORTED key has an arm above; refusing is still safe.
        _ => Err(ProtocolError::UnsupportedVersion { key, version }),
    };
    let remote = ctx.remote_ns.load(std::sync::atomic::Ordering::Relaxed);
    metrics.request_served(
        api_key,
        version,
        started.elapsed(),
        std::time::Duration::from_nanos(remote),
    );
    answer
}

fn single(frame: BytesMut) -> Option<ResponseFrame> {
    Some(ResponseFrame::single(frame.freeze()))
}

fn malformed(key: ApiKey, version: i16, e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Malformed {
        key,
        version,
        reason: e.to_string(),
    }
}

/// Decodes a request body the way `handle_frame` does (public for benches/request_decode.rs).
pub fn decode_body<T: Decodable>(
    key: ApiKey,
    version: i16,
    body: &mut Bytes,
) -> Result<T, ProtocolError> {
    let request = T::decode(body, version).map_err(|e| malformed(key, version, e))?;
    if body.has_remaining() {
        tracing::debug!(
            ?key,
            version,
            bytes = body.remaining(),
            "ignoring bytes after the request body, as Kafka does"
        );
    }
    Ok(request)
}

/// Encodes `size | response header | body` into one buffer.
pub fn encode_response<R: Encodable>(
    key: ApiKey,
    correlation_id: i32,
    version: i16,
    header_version: i16,
    response: &R,
) -> Result<BytesMut, ProtocolError> {
    let encode_err = |e: anyhow::Error| ProtocolError::Encode {
        key,
        version,
        reason: e.to_string(),
    };
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .map_err(encode_err)?;
    response.encode(&mut buf, version).map_err(encode_err)?;
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf)
}
