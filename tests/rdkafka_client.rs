//! A current librdkafka (2.12, built from source by the `rdkafka` crate) against Milena: the
//! admin client creates and describes topics, an idempotent acks=all producer writes keyed
//! records with headers, and an assigning consumer reads them back in order per partition.

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

fn client_config(broker: &support::Broker) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", broker.bootstrap());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_idempotent_producer_and_consumer_round_trip() {
    let broker = support::Broker::start();
    let admin: AdminClient<DefaultClientContext> = client_config(&broker).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let created = admin
        .create_topics(
            &[NewTopic::new("rd", 3, TopicReplication::Fixed(1)).set("retention.ms", "3600000")],
            &options,
        )
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
    let again = admin
        .create_topics(
            &[NewTopic::new("rd", 3, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .unwrap();
    assert!(
        matches!(
            &again[0],
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))
        ),
        "{again:?}"
    );

    let configs = admin
        .describe_configs(&[ResourceSpecifier::Topic("rd")], &options)
        .await
        .unwrap();
    let resource = configs[0].as_ref().unwrap();
    let retention = resource.get("retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert!(resource.get("segment.bytes").is_some_and(|e| e.is_default));

    let producer: FutureProducer = client_config(&broker)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut sent: BTreeMap<i32, Vec<(String, i64)>> = BTreeMap::new();
    for i in 0..300 {
        let key = format!("key-{}", i % 17);
        let value = format!("value-{i}");
        let headers = OwnedHeaders::new().insert(Header {
            key: "n",
            value: Some(&i.to_string()),
        });
        let delivery = producer
            .send(
                FutureRecord::to("rd")
                    .key(&key)
                    .payload(&value)
                    .headers(headers),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("delivery failed: {e}"));
        sent.entry(delivery.partition)
            .or_default()
            .push((value, delivery.offset));
    }
    // Keys are hashed to partitions: several partitions got records.
    assert!(sent.len() > 1, "{:?}", sent.keys());

    // librdkafka wants a group.id even to assign; with explicit offsets and no commits it never
    // needs the group coordinator (consumer groups are not served yet).
    let consumer: BaseConsumer = client_config(&broker)
        .set("group.id", "rdkafka-assign")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for p in 0..3 {
        assignment
            .add_partition_offset("rd", p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut received: BTreeMap<i32, Vec<(String, i64)>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.values().map(Vec::len).sum::<usize>() < 300 && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let value = String::from_utf8(message.payload().unwrap().to_vec()).unwrap();
            let n: usize = value.trim_start_matches("value-").parse().unwrap();
            let header = message.headers().unwrap().get(0);
            assert_eq!(header.key, "n");
            assert_eq!(header.value, Some(n.to_string().as_bytes()));
            assert_eq!(message.key(), Some(format!("key-{}", n % 17).as_bytes()));
            received
                .entry(message.partition())
                .or_default()
                .push((value, message.offset()));
        }
    }
    assert_eq!(
        received, sent,
        "every acknowledged record, at its acknowledged offset, in order"
    );
}
