//! A bounded, deterministic fuzz run of the request path, in-process: valid requests of every
//! served API are mutated (bit flips, truncations, huge counts and lengths, spliced garbage) and
//! fed through `protocol::handle_frame` on a real broker. Nothing may panic or abort, and the
//! broker must still answer a valid request afterwards. The cargo-fuzz target in `fuzz/` runs
//! the same path open-ended.

use crate::wire;

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// xorshift64*: deterministic, so a failure reproduces from the iteration number.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn name(s: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(s))
}

/// One valid frame (without size prefix) per served API, at a few versions.
fn seeds() -> Vec<Vec<u8>> {
    let strip = |f: Vec<u8>| f[4..].to_vec();
    let mut seeds = Vec::new();
    for v in [0, 3, 4] {
        seeds.push(strip(wire::request_frame(
            ApiKey::ApiVersions,
            v,
            1,
            &ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("fuzz"))
                .with_client_software_version(StrBytes::from_static_str("1")),
        )));
    }
    for v in [0, 4, 9, 12] {
        seeds.push(strip(wire::request_frame(
            ApiKey::Metadata,
            v,
            2,
            &MetadataRequest::default()
                .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
                )
                .with_name(Some(name("fuzz")))]))
                .with_allow_auto_topic_creation(true),
        )));
    }
    for v in [2, 5, 7] {
        seeds.push(strip(wire::request_frame(
            ApiKey::CreateTopics,
            v,
            3,
            &CreateTopicsRequest::default().with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(name("fuzz2"))
                    .with_num_partitions(2)
                    .with_replication_factor(1)
                    .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
                        .with_name(StrBytes::from_static_str("retention.ms"))
                        .with_value(Some(StrBytes::from_static_str("1000")))]),
            ]),
        )));
    }
    let batch = record_batch();
    for v in [3, 9, 12] {
        seeds.push(strip(wire::request_frame(
            ApiKey::Produce,
            v,
            4,
            &ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(100)
                .with_topic_data(vec![produce_request::TopicProduceData::default()
                    .with_name(name("fuzz"))
                    .with_partition_data(vec![
                        produce_request::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(batch.clone())),
                    ])]),
        )));
    }
    for v in [4, 11, 12] {
        seeds.push(strip(wire::request_frame(
            ApiKey::Fetch,
            v,
            5,
            &FetchRequest::default()
                .with_max_wait_ms(0)
                .with_max_bytes(1 << 20)
                .with_replica_id(BrokerId(-1))
                .with_session_epoch(-1)
                .with_topics(vec![fetch_request::FetchTopic::default()
                    .with_topic(name("fuzz"))
                    .with_partitions(vec![fetch_request::FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1 << 20)])]),
        )));
    }
    for v in [0, 1, 4, 8] {
        seeds.push(strip(wire::request_frame(
            ApiKey::ListOffsets,
            v,
            6,
            &ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                    .with_name(name("fuzz"))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(-1),
                    ])]),
        )));
    }
    for v in [2, 3, 4] {
        seeds.push(strip(wire::request_frame(
            ApiKey::OffsetForLeaderEpoch,
            v,
            23,
            &OffsetForLeaderEpochRequest::default().with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(name("fuzz"))
                    .with_partitions(vec![
                        offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                            .with_partition(0)
                            .with_current_leader_epoch(0)
                            .with_leader_epoch(0),
                    ]),
            ]),
        )));
    }
    for v in [1, 4] {
        seeds.push(strip(wire::request_frame(
            ApiKey::DescribeConfigs,
            v,
            7,
            &DescribeConfigsRequest::default().with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("fuzz")),
            ]),
        )));
    }
    seeds.push(strip(wire::request_frame(
        ApiKey::InitProducerId,
        4,
        8,
        &InitProducerIdRequest::default()
            .with_transaction_timeout_ms(1000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    )));
    seeds.push(strip(wire::request_frame(
        ApiKey::CreatePartitions,
        3,
        9,
        // validate_only: a mutated count up to the 10,000 limit is a legitimate request, and
        // creating that many partitions is slow work this test is not about.
        &CreatePartitionsRequest::default()
            .with_validate_only(true)
            .with_topics(vec![
                create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(name("fuzz2"))
                    .with_count(3),
            ]),
    )));
    seeds.push(strip(wire::request_frame(
        ApiKey::IncrementalAlterConfigs,
        1,
        10,
        &IncrementalAlterConfigsRequest::default().with_resources(vec![
            incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("fuzz2"))
                .with_configs(vec![
                    incremental_alter_configs_request::AlterableConfig::default()
                        .with_name(StrBytes::from_static_str("cleanup.policy"))
                        .with_config_operation(2)
                        .with_value(Some(StrBytes::from_static_str("compact"))),
                ]),
        ]),
    )));
    seeds.push(strip(wire::request_frame(
        ApiKey::DescribeLogDirs,
        4,
        11,
        &DescribeLogDirsRequest::default(),
    )));
    seeds.push(strip(wire::request_frame(
        ApiKey::DeleteRecords,
        2,
        12,
        &DeleteRecordsRequest::default().with_topics(vec![
            delete_records_request::DeleteRecordsTopic::default()
                .with_name(name("fuzz"))
                .with_partitions(vec![
                    delete_records_request::DeleteRecordsPartition::default()
                        .with_partition_index(0)
                        .with_offset(-1),
                ]),
        ]),
    )));
    seeds.push(strip(wire::request_frame(
        ApiKey::DescribeCluster,
        1,
        13,
        &DescribeClusterRequest::default().with_endpoint_type(1),
    )));
    seeds.push(strip(wire::request_frame(
        ApiKey::DescribeQuorum,
        2,
        14,
        &DescribeQuorumRequest::default().with_topics(vec![
            describe_quorum_request::TopicData::default()
                .with_topic_name(name("__cluster_metadata"))
                .with_partitions(vec![
                    describe_quorum_request::PartitionData::default().with_partition_index(0)
                ]),
        ]),
    )));
    seeds.extend(transaction_seeds().into_iter().map(strip));
    seeds.extend(sasl_seeds().into_iter().map(strip));
    seeds
}

/// SASL and SCRAM-credential requests. On a PLAINTEXT session the SASL ones are answered with
/// ILLEGAL_SASL_STATE; [`sasl_exchanges_never_panic`] feeds them to a SASL session.
fn sasl_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for version in 0..=1 {
        seeds.push(wire::request_frame(
            ApiKey::SaslHandshake,
            version,
            40,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
        ));
    }
    for (version, token) in [
        (0, &b"\0alice\0alice-secret"[..]),
        (1, b"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"),
        (
            2,
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        ),
    ] {
        seeds.push(wire::request_frame(
            ApiKey::SaslAuthenticate,
            version,
            41,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token)),
        ));
    }
    seeds.push(wire::request_frame(
        ApiKey::AlterUserScramCredentials,
        0,
        42,
        &AlterUserScramCredentialsRequest::default()
            .with_upsertions(vec![
                alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
                    .with_name(StrBytes::from_static_str("fuzz-user"))
                    .with_mechanism(1)
                    .with_iterations(4096)
                    .with_salt(Bytes::from_static(b"salt"))
                    .with_salted_password(Bytes::from_static(&[7; 32])),
            ])
            .with_deletions(vec![
                alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                    .with_name(StrBytes::from_static_str("nobody"))
                    .with_mechanism(2),
            ]),
    ));
    seeds.push(wire::request_frame(
        ApiKey::DescribeUserScramCredentials,
        0,
        43,
        &DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
            describe_user_scram_credentials_request::UserName::default()
                .with_name(StrBytes::from_static_str("fuzz-user")),
        ])),
    ));
    seeds.push(wire::request_frame(
        ApiKey::DescribeClientQuotas,
        1,
        44,
        &DescribeClientQuotasRequest::default(),
    ));
    seeds
}

/// The transactional APIs, in the order a producer uses them (the first one in a fresh
/// broker creates `__transaction_state` and gives producer id 0, epoch 0).
fn transaction_seeds() -> Vec<Vec<u8>> {
    let txn = || TransactionalId(StrBytes::from_static_str("fuzz-txn"));
    vec![
        wire::request_frame(
            ApiKey::InitProducerId,
            4,
            20,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(txn()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ),
        wire::request_frame(
            ApiKey::AddPartitionsToTxn,
            3,
            21,
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(txn())
                .with_v3_and_below_producer_id(ProducerId(0))
                .with_v3_and_below_producer_epoch(0)
                .with_v3_and_below_topics(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(name("fuzz"))
                        .with_partitions(vec![0]),
                ]),
        ),
        wire::request_frame(
            ApiKey::AddOffsetsToTxn,
            3,
            22,
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(txn())
                .with_producer_id(ProducerId(0))
                .with_producer_epoch(0)
                .with_group_id(GroupId(StrBytes::from_static_str("fuzz-group"))),
        ),
        wire::request_frame(
            ApiKey::TxnOffsetCommit,
            3,
            23,
            &TxnOffsetCommitRequest::default()
                .with_transactional_id(txn())
                .with_group_id(GroupId(StrBytes::from_static_str("fuzz-group")))
                .with_producer_id(ProducerId(0))
                .with_producer_epoch(0)
                .with_generation_id(-1)
                .with_topics(vec![
                    txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                        .with_name(name("fuzz"))
                        .with_partitions(vec![
                            txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(1),
                        ]),
                ]),
        ),
        wire::request_frame(
            ApiKey::Fetch,
            12,
            24,
            &FetchRequest::default()
                .with_max_wait_ms(0)
                .with_isolation_level(1)
                .with_max_bytes(1 << 20)
                .with_topics(vec![fetch_request::FetchTopic::default()
                    .with_topic(name("fuzz"))
                    .with_partitions(vec![fetch_request::FetchPartition::default()
                        .with_partition(0)
                        .with_partition_max_bytes(1 << 20)])]),
        ),
        wire::request_frame(
            ApiKey::EndTxn,
            3,
            25,
            &EndTxnRequest::default()
                .with_transactional_id(txn())
                .with_producer_id(ProducerId(0))
                .with_producer_epoch(0)
                .with_committed(true),
        ),
        wire::request_frame(
            ApiKey::DescribeTransactions,
            0,
            26,
            &DescribeTransactionsRequest::default().with_transactional_ids(vec![txn()]),
        ),
        wire::request_frame(
            ApiKey::ListTransactions,
            1,
            27,
            &ListTransactionsRequest::default()
                .with_state_filters(vec![StrBytes::from_static_str("Ongoing")])
                .with_duration_filter(-1),
        ),
        wire::request_frame(
            ApiKey::DescribeProducers,
            0,
            28,
            &DescribeProducersRequest::default().with_topics(vec![
                describe_producers_request::TopicRequest::default()
                    .with_name(name("fuzz"))
                    .with_partition_indexes(vec![0, 7]),
            ]),
        ),
    ]
}

/// A minimal valid v2 record batch holding one record with value "v".
fn record_batch() -> Bytes {
    let record: Vec<u8> = vec![0x10, 0, 0, 0, 1, 2, b'v', 0]; // len 8: attrs, ts delta, offset delta, key null(-1), value len 1, "v", 0 headers
    let mut after_crc = Vec::new();
    after_crc.extend_from_slice(&0i16.to_be_bytes()); // attributes
    after_crc.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    after_crc.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    after_crc.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    after_crc.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    after_crc.extend_from_slice(&(-1i16).to_be_bytes());
    after_crc.extend_from_slice(&(-1i32).to_be_bytes());
    after_crc.extend_from_slice(&1i32.to_be_bytes()); // records count
    after_crc.extend_from_slice(&record);
    let mut batch = Vec::new();
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((4 + 1 + 4 + after_crc.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&0i32.to_be_bytes());
    batch.push(2);
    batch.extend_from_slice(&crc32c::crc32c(&after_crc).to_be_bytes());
    batch.extend_from_slice(&after_crc);
    Bytes::from(batch)
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        // Leave the api key and version alone half of the time so decoding is reached.
        let from = if rng.below(2) == 0 {
            8.min(data.len())
        } else {
            0
        };
        let at = from + rng.below(data.len().saturating_sub(from).max(1));
        match rng.below(6) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 => data.truncate(at),
            2 if at + 4 <= data.len() => {
                data[at..at + 4].copy_from_slice(&[0x7f, 0xff, 0xff, rng.next() as u8])
            }
            3 if at < data.len() => data[at] = 0xff,
            4 => {
                let n = rng.below(16);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(at.min(data.len())..at.min(data.len()), junk);
            }
            _ if at + 2 <= data.len() => data[at..at + 2].copy_from_slice(&[0x80, 0x00]),
            _ => {}
        }
    }
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_requests_never_panic_and_the_broker_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let broker = milena::testing::broker_in(dir.path());
    let mut session = milena::security::Session::plaintext("127.0.0.1:1".parse().unwrap());
    let seeds = seeds();
    // Every seed is valid as it stands.
    for seed in &seeds {
        let answered =
            milena::protocol::handle_frame(&broker, &mut session, Bytes::from(seed.clone())).await;
        assert!(answered.is_ok(), "seed rejected: {:?}", answered.err());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let budget = Duration::from_secs(20);
    let started = Instant::now();
    let mut runs = 0u64;
    while runs < 30_000 && started.elapsed() < budget {
        let seed = &seeds[rng.below(seeds.len())];
        let frame = Bytes::from(mutate(&mut rng, seed));

        // A mutated Fetch may long-poll; its wait is not what is tested here.
        let _ = tokio::time::timeout(
            Duration::from_millis(50),
            milena::protocol::handle_frame(&broker, &mut session, frame),
        )
        .await;
        runs += 1;
    }
    assert!(runs > 1000, "only {runs} runs in the time budget");
    let probe =
        milena::protocol::handle_frame(&broker, &mut session, Bytes::from(seeds[1].clone())).await;
    assert!(
        matches!(probe, Ok(Some(_))),
        "broker stopped answering after {runs} fuzzed requests"
    );
}

/// A frame without its 4-byte size prefix, as `handle_frame` takes it.
fn strip_size(frame: Vec<u8>) -> Vec<u8> {
    frame[4..].to_vec()
}

/// The SASL entry point: every run starts a fresh SASL_PLAINTEXT session (a failed exchange
/// ends one), sends a handshake, then mutated handshakes, SaslAuthenticate requests and raw
/// tokens. Nothing may panic, and a clean PLAIN login still works afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_exchanges_never_panic() {
    use milena::security::{ListenerInfo, Session};
    let dir = tempfile::tempdir().unwrap();
    let broker = milena::testing::broker_with(
        dir.path(),
        &[
            ("listeners", "SASL_PLAINTEXT://:9092"),
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"),
            ("connection.failed.authentication.delay.ms", "0"),
            (
                "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";",
            ),
        ],
    );
    let listener = std::sync::Arc::new(ListenerInfo {
        name: "SASL_PLAINTEXT".into(),
        protocol: milena::config::SecurityProtocol::SaslPlaintext,
    });
    let session = || Session::new(listener.clone(), "127.0.0.1:1".parse().unwrap());
    let seeds: Vec<Vec<u8>> = sasl_seeds().into_iter().map(strip_size).collect();
    let scram_handshake = strip_size(wire::request_frame(
        ApiKey::SaslHandshake,
        1,
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("SCRAM-SHA-256")),
    ));
    let mut rng = Rng(0x5A51_0000_D00D_F00D);
    let started = Instant::now();
    let mut runs = 0u64;
    while runs < 20_000 && started.elapsed() < Duration::from_secs(15) {
        let mut s = session();
        let opening = if rng.below(2) == 0 {
            &seeds[1]
        } else {
            &scram_handshake
        };
        let _ = milena::protocol::handle_frame(&broker, &mut s, Bytes::from(opening.clone())).await;
        for _ in 0..1 + rng.below(3) {
            let seed = &seeds[rng.below(seeds.len())];
            let frame = Bytes::from(mutate(&mut rng, seed));
            if milena::protocol::handle_frame(&broker, &mut s, frame)
                .await
                .is_err()
            {
                break;
            }
        }
        runs += 1;
    }
    assert!(runs > 500, "only {runs} runs in the time budget");
    let mut s = session();
    let ok = milena::protocol::handle_frame(&broker, &mut s, Bytes::from(seeds[1].clone())).await;
    assert!(matches!(ok, Ok(Some(_))));
    let login = strip_size(wire::request_frame(
        ApiKey::SaslAuthenticate,
        2,
        2,
        &SaslAuthenticateRequest::default()
            .with_auth_bytes(Bytes::from_static(b"\0alice\0alice-secret")),
    ));
    let ok = milena::protocol::handle_frame(&broker, &mut s, Bytes::from(login)).await;
    assert!(matches!(ok, Ok(Some(_))));
    assert!(s.principal.name == "alice", "{:?}", s.principal);
}
