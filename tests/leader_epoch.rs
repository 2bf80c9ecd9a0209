//! OffsetForLeaderEpoch (key 23) and the `leader-epoch-checkpoint` file, as a client sees them.
//!
//! The Java consumer validates its position with this API after a leader change (KIP-320)
//! whenever the broker advertises it. On one node the leader epoch stays 0, so: epoch 0 ends at
//! the log end offset; a newer current epoch than the broker's is UNKNOWN_LEADER_EPOCH; unknown
//! epochs and partitions get Kafka's undefined answers and error codes. Runs against the real
//! Kafka broker with `MILENA_TEST_REFERENCE=1`.

use crate::support;
use crate::wire;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use wire::*;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create_topic(stream: &mut std::net::TcpStream, topic: &str) {
    let response: CreateTopicsResponse = roundtrip(
        stream,
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(1)
                .with_replication_factor(1)]),
    );
    assert_eq!(response.topics[0].error_code, 0, "create {topic}");
}

fn produce(stream: &mut std::net::TcpStream, topic: &str, count: i32) {
    let batch = record_batch(count, 1_700_000_000_000, -1, -1, -1);
    assert_eq!(produce_batch(stream, topic, 0, batch).error_code, 0);
}

/// One partition's answer: (error, leader_epoch, end_offset).
fn epoch_end(
    stream: &mut std::net::TcpStream,
    version: i16,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    leader_epoch: i32,
) -> (i16, i32, i64) {
    let mut request = OffsetForLeaderEpochRequest::default().with_topics(vec![
        offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![
                offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                    .with_partition(partition)
                    .with_current_leader_epoch(current_leader_epoch)
                    .with_leader_epoch(leader_epoch),
            ]),
    ]);
    if version >= 3 {
        request = request.with_replica_id(BrokerId(-1));
    }
    let response: OffsetForLeaderEpochResponse =
        roundtrip(stream, ApiKey::OffsetForLeaderEpoch, version, &request);
    assert_eq!(response.topics.len(), 1);
    assert_eq!(response.topics[0].topic, name(topic));
    let p = &response.topics[0].partitions[0];
    assert_eq!(p.partition, partition);
    (p.error_code, p.leader_epoch, p.end_offset)
}

/// The partition's leader epoch as Metadata reports it.
fn leader_epoch_of(stream: &mut std::net::TcpStream, topic: &str) -> i32 {
    let metadata: MetadataResponse = roundtrip(
        stream,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(name(topic)))]))
            .with_allow_auto_topic_creation(false),
    );
    metadata.topics[0].partitions[0].leader_epoch
}

#[test]
fn offset_for_leader_epoch_answers_as_kafka_on_one_node() {
    let mut broker = support::Broker::start();
    let mut s = connect(broker.port);

    let versions: ApiVersionsResponse = roundtrip(
        &mut s,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("milena-test"))
            .with_client_software_version(StrBytes::from_static_str("1")),
    );
    let advertised = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::OffsetForLeaderEpoch as i16)
        .expect("OffsetForLeaderEpoch is advertised");
    // Kafka 4 dropped versions 0 and 1 (KIP-896).
    assert_eq!((advertised.min_version, advertised.max_version), (2, 4));

    create_topic(&mut s, "epochs");
    // Before any record the leader's epoch 0 ends at offset 0 (once the leader is in place:
    // Kafka answers NOT_LEADER_OR_FOLLOWER for a moment after creation).
    let mut first = (0, 0, 0);
    let ready = support::wait_until(std::time::Duration::from_secs(30), || {
        first = epoch_end(&mut s, 4, "epochs", 0, -1, 0);
        first.0 != NOT_LEADER_OR_FOLLOWER
    });
    assert!(ready, "the partition gets a leader");
    assert_eq!(first, (0, 0, 0));

    produce(&mut s, "epochs", 3);
    produce(&mut s, "epochs", 2);
    for version in 2..=4 {
        assert_eq!(
            epoch_end(&mut s, version, "epochs", 0, -1, 0),
            (0, 0, 5),
            "v{version}: the latest epoch ends at the log end offset"
        );
    }
    assert_eq!(epoch_end(&mut s, 4, "epochs", 0, 0, 0), (0, 0, 5));
    assert_eq!(
        epoch_end(&mut s, 4, "epochs", 0, 5, 0),
        (UNKNOWN_LEADER_EPOCH, -1, -1),
        "a current epoch newer than the leader's"
    );
    assert_eq!(
        epoch_end(&mut s, 4, "epochs", 0, -1, 3),
        (0, -1, -1),
        "an epoch above every known one is undefined"
    );
    assert_eq!(epoch_end(&mut s, 4, "epochs", 0, -1, -1), (0, -1, -1));
    assert_eq!(
        epoch_end(&mut s, 4, "epochs", 7, -1, 0).0,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        epoch_end(&mut s, 4, "no-such-topic", 0, -1, 0),
        (UNKNOWN_TOPIC_OR_PARTITION, -1, -1)
    );

    // Kafka's file, next to the segments.
    let checkpoint = broker
        .log_dir()
        .join("epochs-0")
        .join("leader-epoch-checkpoint");
    let text = std::fs::read_to_string(&checkpoint).expect("leader-epoch-checkpoint exists");
    assert_eq!(text, "0\n1\n0 0\n");

    // The answer survives a restart, and a crash with the checkpoint gone.
    broker.restart();
    let mut s = connect(broker.port);
    assert!(
        support::wait_until(std::time::Duration::from_secs(30), || {
            epoch_end(&mut s, 4, "epochs", 0, -1, 0) == (0, 0, 5)
        }),
        "epoch 0 ends at the log end offset after a restart"
    );
    drop(s);
    broker.kill9();
    std::fs::remove_file(&checkpoint).expect("remove checkpoint");
    broker.start_again();
    let mut s = connect(broker.port);
    assert!(
        support::wait_until(std::time::Duration::from_secs(30), || {
            epoch_end(&mut s, 4, "epochs", 0, -1, 0) == (0, 0, 5)
        }),
        "epoch 0 ends at the log end offset after the rebuild"
    );
    produce(&mut s, "epochs", 1);
    // Kafka's controller bumps the epoch when the restarted broker leads again; Milena's single
    // node stays at 0. Either way the current epoch ends at the log end and epoch 0 where the
    // next one started.
    let current = leader_epoch_of(&mut s, "epochs");
    assert_eq!(
        epoch_end(&mut s, 4, "epochs", 0, current, current),
        (0, current, 6)
    );
    let epoch_0_end = if current == 0 { 6 } else { 5 };
    assert_eq!(
        epoch_end(&mut s, 4, "epochs", 0, current, 0),
        (0, 0, epoch_0_end)
    );
    assert!(checkpoint.exists(), "the checkpoint is written again");
}
