//! Fetch sessions (KIP-227): a full fetch with epoch 0 opens a session; incremental fetches
//! name only what changed and get back only the partitions with something new; epochs are
//! checked; epoch -1 closes the session. At the protocol level with raw requests, and with the
//! Java consumer, which uses sessions whenever the broker hands one out.

use crate::support;
use crate::wire;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use support::{assert_success, kafka_tool, stderr_of, Background};
use wire::*;

const TOPIC: &str = "sessions";

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create_topic(stream: &mut std::net::TcpStream, topic: &str, partitions: i32) {
    let response: CreateTopicsResponse = roundtrip(
        stream,
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1)]),
    );
    assert_eq!(response.topics[0].error_code, 0);
}

fn produce(stream: &mut std::net::TcpStream, partition: i32, value: &str) {
    let batch = record_batch_of(1, 0, (-1, -1, -1), |_| value.as_bytes().to_vec());
    assert_eq!(produce_batch(stream, TOPIC, partition, batch).error_code, 0);
}

fn partition(index: i32, offset: i64) -> fetch_request::FetchPartition {
    fetch_request::FetchPartition::default()
        .with_partition(index)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20)
}

/// A Fetch v12 in session `id` at `epoch` naming `partitions` (index, offset) and forgetting
/// `forgotten`.
fn fetch_request(
    id: i32,
    epoch: i32,
    partitions: &[(i32, i64)],
    forgotten: &[i32],
    max_wait_ms: i32,
) -> FetchRequest {
    let mut request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_id(id)
        .with_session_epoch(epoch);
    if !partitions.is_empty() {
        request.topics = vec![fetch_request::FetchTopic::default()
            .with_topic(name(TOPIC))
            .with_partitions(partitions.iter().map(|&(p, o)| partition(p, o)).collect())];
    }
    if !forgotten.is_empty() {
        request.forgotten_topics_data = vec![fetch_request::ForgottenTopic::default()
            .with_topic(name(TOPIC))
            .with_partitions(forgotten.to_vec())];
    }
    request
}

fn fetch(stream: &mut std::net::TcpStream, request: &FetchRequest) -> FetchResponse {
    roundtrip(stream, ApiKey::Fetch, 12, request)
}

/// The partitions in an answer, and which of them carry records.
fn answered(response: &FetchResponse) -> (BTreeSet<i32>, BTreeSet<i32>) {
    let mut all = BTreeSet::new();
    let mut with_records = BTreeSet::new();
    for t in &response.responses {
        for p in &t.partitions {
            assert_eq!(p.error_code, 0, "partition {}", p.partition_index);
            all.insert(p.partition_index);
            if p.records.as_ref().is_some_and(|r| !r.is_empty()) {
                with_records.insert(p.partition_index);
            }
        }
    }
    (all, with_records)
}

fn set(items: &[i32]) -> BTreeSet<i32> {
    items.iter().copied().collect()
}

#[test]
fn incremental_fetches_answer_only_what_changed_and_check_epochs() {
    let broker = support::Broker::start();
    let mut s = connect(broker.port);
    create_topic(&mut s, TOPIC, 3);
    produce(&mut s, 0, "a");
    produce(&mut s, 1, "b");

    // A full fetch with epoch 0 opens a session and answers every partition.
    let full = fetch(
        &mut s,
        &fetch_request(0, 0, &[(0, 0), (1, 0), (2, 0)], &[], 0),
    );
    assert_eq!(full.error_code, 0);
    let id = full.session_id;
    assert_ne!(id, 0, "a session is opened");
    assert_eq!(answered(&full), (set(&[0, 1, 2]), set(&[0, 1])));

    // Positions move past what was read: nothing is new, nothing is answered.
    let r = fetch(&mut s, &fetch_request(id, 1, &[(0, 1), (1, 1)], &[], 0));
    assert_eq!((r.error_code, r.session_id), (0, id));
    assert_eq!(answered(&r), (set(&[]), set(&[])));

    // New data in partition 2 only: the request names nothing, the answer only partition 2.
    produce(&mut s, 2, "c");
    let r = fetch(&mut s, &fetch_request(id, 2, &[], &[], 0));
    assert_eq!(answered(&r), (set(&[2]), set(&[2])));

    // The same epoch again, and an unknown session.
    let r = fetch(&mut s, &fetch_request(id, 2, &[(2, 1)], &[], 0));
    assert_eq!(r.error_code, ResponseError::InvalidFetchSessionEpoch.code());
    assert!(r.responses.is_empty());
    let r = fetch(&mut s, &fetch_request(id.wrapping_add(1), 1, &[], &[], 0));
    assert_eq!(r.error_code, ResponseError::FetchSessionIdNotFound.code());

    // A forgotten partition is no longer read, though it has new data at its cached offset.
    let r = fetch(&mut s, &fetch_request(id, 3, &[], &[2], 0));
    assert_eq!(answered(&r), (set(&[]), set(&[])));
    produce(&mut s, 2, "d");
    // Its high watermark moved too, but it left the session: the long poll times out empty.
    let started = Instant::now();
    let r = fetch(&mut s, &fetch_request(id, 4, &[], &[], 300));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(answered(&r), (set(&[]), set(&[])));

    // A long poll in the session wakes for data in any of its partitions, and answers only it.
    let port = broker.port;
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut p = connect(port);
        produce(&mut p, 1, "e");
    });
    let started = Instant::now();
    let r = fetch(&mut s, &fetch_request(id, 5, &[], &[], 10_000));
    producer.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken by the produce"
    );
    assert_eq!(answered(&r), (set(&[1]), set(&[1])));

    // Epoch -1 closes the session: a sessionless full answer, and the session is gone.
    let r = fetch(&mut s, &fetch_request(id, -1, &[(0, 0)], &[], 0));
    assert_eq!((r.error_code, r.session_id), (0, 0));
    assert_eq!(answered(&r), (set(&[0]), set(&[0])));
    let r = fetch(&mut s, &fetch_request(id, 6, &[], &[], 0));
    assert_eq!(r.error_code, ResponseError::FetchSessionIdNotFound.code());
}

#[test]
fn topic_ids_name_session_partitions_from_fetch_v13() {
    let broker = support::Broker::start();
    let mut s = connect(broker.port);
    create_topic(&mut s, TOPIC, 2);
    let metadata: MetadataResponse = roundtrip(
        &mut s,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(name(TOPIC))),
        ])),
    );
    let topic_id = metadata.topics[0].topic_id;
    produce(&mut s, 0, "a");
    produce(&mut s, 1, "b");
    let by_id = |id: i32, epoch: i32, partitions: &[(i32, i64)], forgotten: &[i32]| {
        let mut r = fetch_request(id, epoch, &[], &[], 0);
        if !partitions.is_empty() {
            r.topics = vec![fetch_request::FetchTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(partitions.iter().map(|&(p, o)| partition(p, o)).collect())];
        }
        if !forgotten.is_empty() {
            r.forgotten_topics_data = vec![fetch_request::ForgottenTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(forgotten.to_vec())];
        }
        r
    };
    let full: FetchResponse = roundtrip(
        &mut s,
        ApiKey::Fetch,
        16,
        &by_id(0, 0, &[(0, 0), (1, 0)], &[]),
    );
    let id = full.session_id;
    assert_ne!(id, 0);
    assert_eq!(answered(&full), (set(&[0, 1]), set(&[0, 1])));
    assert_eq!(full.responses[0].topic_id, topic_id);
    // Forget partition 0 by topic ID: partition 1 alone is read, its records still at offset 0.
    let r: FetchResponse = roundtrip(&mut s, ApiKey::Fetch, 16, &by_id(id, 1, &[], &[0]));
    assert_eq!(answered(&r), (set(&[1]), set(&[1])));
    let r: FetchResponse = roundtrip(
        &mut s,
        ApiKey::Fetch,
        16,
        &by_id(id, 2, &[(1, 0), (0, 0)], &[]),
    );
    assert_eq!(
        answered(&r),
        (set(&[0, 1]), set(&[0, 1])),
        "re-added and re-read"
    );
    // A session opened by names cannot go on by topic IDs.
    let named = fetch(&mut s, &fetch_request(0, 0, &[(0, 0)], &[], 0));
    let r: FetchResponse = roundtrip(
        &mut s,
        ApiKey::Fetch,
        16,
        &by_id(named.session_id, 1, &[], &[]),
    );
    assert_eq!(r.error_code, ResponseError::FetchSessionTopicIdError.code());
}

#[test]
fn without_cache_slots_every_fetch_is_sessionless() {
    let broker = support::Broker::start_with(&[("max.incremental.fetch.session.cache.slots", "0")]);
    let mut s = connect(broker.port);
    create_topic(&mut s, TOPIC, 1);
    let r = fetch(&mut s, &fetch_request(0, 0, &[(0, 0)], &[], 0));
    assert_eq!((r.error_code, r.session_id), (0, 0));
}

#[test]
fn the_java_consumer_reads_many_partitions_through_a_session() {
    let broker = support::Broker::start();
    let mut s = connect(broker.port);
    const PARTITIONS: i32 = 24;
    create_topic(&mut s, TOPIC, PARTITIONS);
    let first: Vec<(String, String)> = (0..600)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    support::produce_keyed(&broker, TOPIC, &first);
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = broker.bootstrap();
    let mut consumer = Background::kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            TOPIC,
            "--group",
            "sessions",
            "--from-beginning",
            "--max-messages",
            "1200",
            "--timeout-ms",
            "60000",
        ],
        dir.path(),
        "consumer",
    );
    // More records while the consumer is in its incremental fetches.
    assert!(support::wait_until(Duration::from_secs(60), || consumer
        .stdout()
        .lines()
        .count()
        >= 600));
    let second: Vec<(String, String)> = (600..1200)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    support::produce_keyed(&broker, TOPIC, &second);
    let status = consumer.wait_exit(Duration::from_secs(90));
    assert!(status.is_some_and(|s| s.success()), "{}", consumer.dump());
    let got: BTreeSet<String> = consumer.stdout().lines().map(str::to_string).collect();
    let want: BTreeSet<String> = (0..1200).map(|i| format!("v{i}")).collect();
    assert_eq!(got, want, "{}", consumer.dump());

    // The same through a fresh consumer that reads it all at once, per partition.
    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            TOPIC,
            "--from-beginning",
            "--max-messages",
            "1200",
            "--timeout-ms",
            "30000",
        ],
    );
    let text = assert_success(&out, "console consumer");
    assert_eq!(text.lines().count(), 1200, "{}", stderr_of(&out));
}
