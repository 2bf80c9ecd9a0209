//! The HTTP listener (`milena.http.listener`) and its Prometheus `/metrics`, as real clients see
//! them:
//!
//! - confluent-kafka produces, a consumer group consumes and commits, and `/metrics` reports the
//!   topic's messages and bytes in and out, the requests per API and version, error codes, the
//!   group's state and members, and its lag per partition, equal to the end offset minus the
//!   committed offset that `kafka-consumer-groups.sh --describe` prints.
//! - Debian's `prometheus` scrapes the broker every second and its query API returns the series.
//! - Bad input: an oversized request head, a malformed request line, unknown paths and methods,
//!   and more idle connections than the listener takes; the Kafka listener keeps answering.

use crate::support;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::http::{get, raw_http, start_broker};
use support::prometheus::{first_value, has_series, Prometheus};
use support::*;

/// The samples of `/metrics`: `name{labels}` → value, labels as written by the server.
fn scrape(port: u16) -> BTreeMap<String, f64> {
    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200, "GET /metrics: {body}");
    assert!(body.ends_with("# EOF\n"), "not OpenMetrics text:\n{body}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[track_caller]
fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    match samples.get(series) {
        Some(v) => *v,
        None => panic!(
            "no series {series} in /metrics; series with that name:\n{}",
            samples
                .keys()
                .filter(|k| k.starts_with(series.split('{').next().unwrap_or(series)))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Produces 10 records to partition 0 and 5 to partition 1 of a new topic (acks=all), then
/// asks to delete a topic that does not exist (an error code to count).
const PRODUCE: &str = r#"
import sys, confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({'bootstrap.servers': bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5})
for i in range(10):
    p.produce(topic, value=b'v' * 100, key=b'k%d' % i, partition=0)
for i in range(5):
    p.produce(topic, value=b'w' * 100, key=b'k%d' % i, partition=1)
assert p.flush(30) == 0
try:
    admin.delete_topics(['no-such-topic'])['no-such-topic'].result(30)
except Exception as e:
    print('delete failed as expected:', e)
"#;

/// A group member that reads everything, commits offset 4 of partition 0 and 2 of partition 1,
/// says "committed", and stays in the group until its stdin closes.
const CONSUME: &str = r#"
import sys, threading, confluent_kafka
from confluent_kafka import TopicPartition
bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': group,
    'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.subscribe([topic])
seen = 0
while seen < 15:
    m = c.poll(1.0)
    if m is not None and m.error() is None:
        seen += 1
c.commit(offsets=[TopicPartition(topic, 0, 4), TopicPartition(topic, 1, 2)], asynchronous=False)
print('committed', flush=True)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
while not stop.is_set():
    c.poll(0.2)
c.close()
"#;

#[test]
fn metrics_show_traffic_requests_groups_and_lag() {
    let (broker, http) = start_broker(&[]);
    let bootstrap = broker.bootstrap();
    let topic = "metrics-orders";
    let group = "metrics-billing";
    assert_success(&python(PRODUCE, &[&bootstrap, topic]), "produce");
    let dir = tempfile::tempdir().unwrap();
    let mut consumer =
        Background::python(CONSUME, &[&bootstrap, topic, group], dir.path(), "consumer");
    assert!(
        wait_until(Duration::from_secs(60), || consumer
            .stdout()
            .contains("committed")),
        "the consumer did not commit: {}",
        consumer.dump()
    );

    let m = scrape(http);
    let t = format!("topic=\"{topic}\"");
    assert_eq!(
        sample(&m, &format!("milena_topic_messages_in_total{{{t}}}")),
        15.0
    );
    // Record batches: 15 values of 100 bytes plus keys and batch headers.
    let bytes_in = sample(&m, &format!("milena_topic_bytes_in_total{{{t}}}"));
    assert!((1500.0..8000.0).contains(&bytes_in), "bytes in {bytes_in}");
    let bytes_out = sample(&m, &format!("milena_topic_bytes_out_total{{{t}}}"));
    assert!(
        bytes_out >= bytes_in,
        "the consumer read everything: {bytes_out} < {bytes_in}"
    );
    for (name, value) in [
        ("milena_log_end_offset", 10.0),
        ("milena_log_start_offset", 0.0),
    ] {
        assert_eq!(
            sample(&m, &format!("{name}{{{t},partition=\"0\"}}")),
            value,
            "{name}"
        );
    }
    assert_eq!(
        sample(&m, &format!("milena_log_end_offset{{{t},partition=\"1\"}}")),
        5.0
    );
    assert!(sample(&m, &format!("milena_log_size_bytes{{{t},partition=\"0\"}}")) > 1000.0);

    // Requests per API and version, and the error of the DeleteTopics of a missing topic.
    let requests = |api: &str| -> f64 {
        m.iter()
            .filter(|(k, _)| k.starts_with(&format!("milena_requests_total{{request=\"{api}\",")))
            .map(|(_, v)| v)
            .sum()
    };
    for api in [
        "ApiVersions",
        "Metadata",
        "Produce",
        "Fetch",
        "JoinGroup",
        "SyncGroup",
        "OffsetCommit",
        "CreateTopics",
    ] {
        assert!(requests(api) >= 1.0, "no {api} request counted");
    }
    assert!(
        sample(
            &m,
            "milena_request_errors_total{request=\"DeleteTopics\",error=\"UNKNOWN_TOPIC_OR_PARTITION\"}"
        ) >= 1.0
    );
    let produced = sample(
        &m,
        "milena_request_total_time_seconds_count{request=\"Produce\"}",
    );
    assert!(produced >= 1.0);
    assert_eq!(
        sample(
            &m,
            "milena_request_local_time_seconds_count{request=\"Produce\"}"
        ),
        requests("Produce")
    );
    assert!(
        sample(
            &m,
            "milena_request_total_time_seconds_bucket{le=\"+Inf\",request=\"Fetch\"}"
        ) >= 1.0
    );

    // The live group: Stable with one member, and its lag.
    let g = format!("group=\"{group}\"");
    assert_eq!(
        sample(&m, &format!("milena_consumer_group_members{{{g}}}")),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            &format!("milena_consumer_group_state{{{g},state=\"Stable\",type=\"classic\"}}")
        ),
        1.0
    );
    let lag = |p: i32| {
        sample(
            &m,
            &format!("milena_consumer_group_lag{{{g},{t},partition=\"{p}\"}}"),
        )
    };
    assert_eq!((lag(0), lag(1)), (6.0, 3.0));
    assert_eq!(
        sample(&m, &format!("milena_consumer_group_lag_sum{{{g}}}")),
        9.0
    );

    // kafka-consumer-groups.sh sees the same: LAG = LOG-END-OFFSET - CURRENT-OFFSET.
    let out = kafka_tool(
        "kafka-consumer-groups.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--group",
            group,
        ],
    );
    let text = assert_success(&out, "kafka-consumer-groups.sh --describe");
    for line in text.lines().filter(|l| l.contains(topic)) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (partition, current, end, tool_lag) = (cols[2], cols[3], cols[4], cols[5]);
        let current: f64 = current.parse().unwrap();
        let end: f64 = end.parse().unwrap();
        assert_eq!(tool_lag.parse::<f64>().unwrap(), end - current, "{line}");
        assert_eq!(lag(partition.parse().unwrap()), end - current, "{line}");
        assert_eq!(
            sample(
                &m,
                &format!(
                    "milena_consumer_group_committed_offset{{{g},{t},partition=\"{partition}\"}}"
                )
            ),
            current
        );
    }

    // Connections, broker state, process.
    assert!(sample(&m, "milena_listener_connections{listener=\"PLAINTEXT\"}") >= 1.0);
    assert!(
        sample(
            &m,
            "milena_listener_connections_accepted_total{listener=\"PLAINTEXT\"}"
        ) >= 3.0
    );
    assert_eq!(sample(&m, "milena_active_controller"), 1.0);
    assert_eq!(sample(&m, "milena_offline_partitions"), 0.0);
    assert_eq!(sample(&m, "milena_under_replicated_partitions"), 0.0);
    assert!(sample(&m, "milena_leader_partitions") >= 2.0);
    assert!(sample(&m, "process_resident_memory_bytes") > 1.0e6);
    assert!(sample(&m, "process_open_fds") > 3.0);
    assert!(sample(&m, "process_cpu_seconds_total") > 0.0);

    // The member leaves: the group is Empty, its lag stays.
    consumer.close_stdin();
    assert!(consumer.wait_exit(Duration::from_secs(30)).is_some());
    assert!(wait_until(Duration::from_secs(15), || {
        let m = scrape(http);
        m.get(&format!(
            "milena_consumer_group_state{{{g},state=\"Empty\",type=\"classic\"}}"
        )) == Some(&1.0)
            && m.get(&format!("milena_consumer_group_members{{{g}}}")) == Some(&0.0)
    }));
}

#[test]
fn per_partition_series_can_be_switched_off() {
    let (broker, http) = start_broker(&[("milena.metrics.partition.series.enable", "false")]);
    let input: String = (0..20).map(|i| format!("line-{i}\n")).collect();
    assert_success(
        &kcat_stdin(&["-P", "-b", &broker.bootstrap(), "-t", "quiet"], &input),
        "kcat -P",
    );
    let m = scrape(http);
    assert_eq!(
        sample(&m, "milena_topic_messages_in_total{topic=\"quiet\"}"),
        20.0
    );
    let per_partition: Vec<&String> = m.keys().filter(|k| k.contains("partition=\"")).collect();
    assert!(
        per_partition.is_empty(),
        "per-partition series: {per_partition:?}"
    );
}

#[test]
fn prometheus_scrapes_the_broker() {
    let (broker, http) = start_broker(&[]);
    let input: String = (0..25).map(|i| format!("record-{i}\n")).collect();
    assert_success(
        &kcat_stdin(&["-P", "-b", &broker.bootstrap(), "-t", "scraped"], &input),
        "kcat -P",
    );
    let prometheus = Prometheus::start(http);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    let ok = wait_until(deadline.saturating_duration_since(Instant::now()), || {
        last = prometheus.query("milena_topic_messages_in_total{topic=\"scraped\"}");
        last.as_ref().and_then(first_value) == Some(25.0)
    });
    assert!(
        ok,
        "Prometheus never returned the series: {last:?}\n{}",
        prometheus.log()
    );
    let up = prometheus.query("up{job=\"milena\"}").expect("query up");
    assert_eq!(first_value(&up), Some(1.0), "{up}");
    for promql in [
        "milena_log_end_offset{topic=\"scraped\",partition=\"0\"}",
        "histogram_quantile(0.99, rate(milena_request_total_time_seconds_bucket{request=\"Produce\"}[1m]))",
        "sum(milena_requests_total{request=\"Produce\"})",
        "process_resident_memory_bytes",
    ] {
        // A rate needs two scrapes in its window: poll until the answer has a series.
        let mut answer = None;
        let found = wait_until(deadline.saturating_duration_since(Instant::now()), || {
            answer = prometheus.query(promql);
            answer.as_ref().is_some_and(has_series)
        });
        assert!(found, "{promql}: no series: {answer:?}");
    }
    let end = prometheus
        .query("milena_log_end_offset{topic=\"scraped\",partition=\"0\"}")
        .and_then(|a| first_value(&a));
    assert_eq!(end, Some(25.0));
}

#[test]
fn bad_http_input_gets_clear_errors_and_kafka_keeps_serving() {
    let (broker, http) = start_broker(&[]);
    // A request head past the 16 KiB bound.
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = raw_http(http, huge.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "oversized head: {answer:?}"
    );
    // A request line that is not HTTP.
    let answer = raw_http(http, b"GET /\x01metrics\x7f HTTP/1.1\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "malformed line: {answer:?}"
    );
    let answer = raw_http(
        http,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 400") || answer.is_empty(),
        "TLS hello: {answer:?}"
    );
    // Unknown paths and methods.
    let (status, body) = get(http, "/no/such/page?x=%zz");
    assert_eq!(status, 404);
    assert!(body.contains("no such page"), "{body}");
    let answer = raw_http(
        http,
        b"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 405"), "DELETE: {answer:?}");
    let answer = raw_http(
        http,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 4"),
        "POST with a huge body: {answer:?}"
    );

    // More idle connections than the listener takes: the extra ones are closed at once, the
    // others after the header read timeout; the Kafka listener answers all the while.
    let idle: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", http)).ok())
        .collect();
    let started = Instant::now();
    let out = kcat(&["-L", "-b", &broker.bootstrap()]);
    assert_success(&out, "kcat -L while the HTTP listener is full");
    let input = "a\nb\nc\n";
    assert_success(
        &kcat_stdin(
            &["-P", "-b", &broker.bootstrap(), "-t", "still-serving"],
            input,
        ),
        "kcat -P while the HTTP listener is full",
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Every idle connection is closed by the server within the header timeout (5 s) and slack.
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut buf = [0u8; 256];
        let closed_at = Instant::now();
        let n = c.read(&mut buf).unwrap_or(0);
        assert!(closed_at.elapsed() < Duration::from_secs(15));
        // Closed outright, or answered 408 and closed.
        assert!(n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"));
    }
    let (status, _) = get(http, "/metrics");
    assert_eq!(status, 200, "/metrics once the idle connections are gone");
    assert!(
        broker.log().lines().all(|l| !l.contains("panicked")),
        "{}",
        broker.log()
    );
}
