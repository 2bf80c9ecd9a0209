//! `/metrics`: the exposition. Counters come from [`crate::metrics`] (kept by the request
//! path); everything that describes state (log sizes and offsets, partition and leader counts,
//! groups and their lag, connections, the process) is read from the broker when Prometheus
//! scrapes, so appends pay nothing for it.
//!
//! Names are `milena_*` (and Prometheus' standard `process_*`), in base units (bytes,
//! seconds), counters ending in `_total`; README "Metrics" maps each to its Kafka JMX MBean.
//! Label cardinality is bounded by what the broker holds: topics, partitions, groups, APIs,
//! listeners. With `milena.metrics.partition.series.enable=false` no series is per partition.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::broker::Broker;
use crate::metadata::PartitionState;
use crate::metrics::LatencyHistogram;

/// Renders every metric of `broker` in the text format.
pub fn render(broker: Arc<Broker>) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BrokerCollector { broker }));
    let mut text = String::with_capacity(64 * 1024);
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

struct BrokerCollector {
    broker: Arc<Broker>,
}

impl std::fmt::Debug for BrokerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerCollector")
    }
}

impl Collector for BrokerCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let b = &self.broker;
        let per_partition = b.config.metrics_partition_series;
        let hosted = b.replicas.all();
        topic_traffic(&mut e, &hosted)?;
        requests(&mut e, b)?;
        replica_state(&mut e, b, hosted.len())?;
        if per_partition {
            logs(&mut e, &hosted)?;
        }
        groups(&mut e, b, per_partition)?;
        connections(&mut e, b)?;
        process(&mut e)
    }
}

/// A label value: text (escaped as the text format requires: group ids may hold anything) or
/// a number.
enum V<'a> {
    S(&'a str),
    I(i64),
}

impl EncodeLabelValue for V<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        match self {
            V::I(n) => write!(encoder, "{n}"),
            V::S(s) if !s.contains(['\\', '"', '\n']) => encoder.write_str(s),
            V::S(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => encoder.write_str("\\\\")?,
                        '"' => encoder.write_str("\\\"")?,
                        '\n' => encoder.write_str("\\n")?,
                        c => encoder.write_char(c)?,
                    }
                }
                Ok(())
            }
        }
    }
}

type L<'a, const N: usize> = [(&'static str, V<'a>); N];

/// One counter family: `rows` of (labels, value). `name` without `_total`: the encoder adds it.
fn counters<S: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (S, u64)>,
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauges<S: EncodeLabelSet, N: prometheus_client::encoding::EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (S, N)>,
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: N,
) -> std::fmt::Result {
    let m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

/// BytesInPerSec, MessagesInPerSec, BytesOutPerSec per topic (summed over its partitions here).
fn topic_traffic(
    e: &mut DescriptorEncoder,
    hosted: &[Arc<crate::partition::Partition>],
) -> std::fmt::Result {
    let mut per_topic: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    for p in hosted {
        let c = &p.counters;
        let sums = per_topic.entry(&p.topic).or_default();
        sums[0] += c.bytes_in.load(std::sync::atomic::Ordering::Relaxed);
        sums[1] += c.messages_in.load(std::sync::atomic::Ordering::Relaxed);
        sums[2] += c.bytes_out.load(std::sync::atomic::Ordering::Relaxed);
    }
    let rows = |i: usize| {
        per_topic
            .iter()
            .map(move |(t, sums)| ([("topic", V::S(t))], sums[i]))
    };
    counters(
        e,
        "milena_topic_bytes_in",
        "Record bytes produced to the topic's partitions led here.",
        rows(0),
    )?;
    counters(
        e,
        "milena_topic_messages_in",
        "Records produced to the topic's partitions led here.",
        rows(1),
    )?;
    counters(
        e,
        "milena_topic_bytes_out",
        "Record bytes fetched by consumers from the topic's partitions led here (replication excluded).",
        rows(2),
    )
}

fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map_or_else(|_| format!("ApiKey{key}"), |k| format!("{k:?}"))
}

/// Kafka's error name (`NOT_LEADER_OR_FOLLOWER`) for a code.
pub(crate) fn error_name(code: i16) -> String {
    let Some(error) = ResponseError::try_from_code(code) else {
        return "UNKNOWN_SERVER_ERROR".to_string();
    };
    let camel = format!("{error:?}");
    let mut name = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// RequestsPerSec, ErrorsPerSec, the time histograms and the purgatories.
fn requests(e: &mut DescriptorEncoder, b: &Broker) -> std::fmt::Result {
    let m = &b.metrics;
    let counts = m.request_counts();
    let names: HashMap<i16, String> = counts.iter().map(|&(k, _, _)| (k, api_name(k))).collect();
    counters(
        e,
        "milena_requests",
        "Requests served, by API and version.",
        counts.iter().map(|&(k, v, n)| {
            let request = names.get(&k).map_or("", String::as_str);
            ([("request", V::S(request)), ("version", V::I(v.into()))], n)
        }),
    )?;
    let errors: Vec<(String, String, u64)> = m
        .error_counts()
        .into_iter()
        .map(|(k, code, n)| (api_name(k), error_name(code), n))
        .collect();
    counters(
        e,
        "milena_request_errors",
        "Error codes in responses (one per partition, topic or group that failed), by API and error.",
        errors
            .iter()
            .map(|(r, err, n)| ([("request", V::S(r)), ("error", V::S(err))], *n)),
    )?;
    let mut keys: Vec<i16> = names.keys().copied().collect();
    keys.sort_unstable();
    histograms(
        e,
        "milena_request_total_time_seconds",
        "From a request's last byte read to its response's last byte written.",
        &keys,
        &names,
        &m.total_time,
    )?;
    histograms(
        e,
        "milena_request_local_time_seconds",
        "Time spent serving a request, waits in purgatory excluded.",
        &keys,
        &names,
        &m.local_time,
    )?;
    histograms(
        e,
        "milena_request_remote_time_seconds",
        "Time a Produce (acks=all, for followers) or a Fetch (long poll, for data) waited in purgatory.",
        &keys,
        &names,
        &m.remote_time,
    )?;
    let load = |g: &std::sync::atomic::AtomicI64| g.load(std::sync::atomic::Ordering::Relaxed);
    gauges(
        e,
        "milena_purgatory_size",
        "Requests waiting in a purgatory: acks=all produces for their followers, fetches for data.",
        [
            ([("operation", V::S("Produce"))], load(&m.produce_purgatory)),
            ([("operation", V::S("Fetch"))], load(&m.fetch_purgatory)),
        ],
    )
}

fn histograms(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    keys: &[i16],
    names: &HashMap<i16, String>,
    all: &[LatencyHistogram],
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for &k in keys {
        let Some(h) = usize::try_from(k).ok().and_then(|k| all.get(k)) else {
            continue;
        };
        if h.count() == 0 {
            continue;
        }
        let (sum, count, buckets) = h.snapshot();
        let request = names.get(&k).map_or("", String::as_str);
        m.encode_family(&[("request", V::S(request))])?
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                sum, count, &buckets, None,
            )?;
    }
    Ok(())
}

/// ReplicaManager and KafkaController gauges, from the metadata image.
fn replica_state(e: &mut DescriptorEncoder, b: &Broker, hosted: usize) -> std::fmt::Result {
    let image = b.image();
    let me = b.node_id;
    let live = |id: i32| {
        if b.cluster.is_none() {
            id == me
        } else {
            image.is_live(id)
        }
    };
    let local = PartitionState::local(me);
    let (mut leaders, mut under_replicated, mut offline, mut total) = (0i64, 0i64, 0i64, 0i64);
    for topic in image.topics.values() {
        for index in 0..topic.partitions {
            let state = topic.placement.get(&index).unwrap_or(&local);
            total += 1;
            if state.leader < 0 || !live(state.leader) {
                offline += 1;
            } else if state.leader == me {
                leaders += 1;
                if state.isr.len() < state.replicas.len() {
                    under_replicated += 1;
                }
            }
        }
    }
    let active = match &b.cluster {
        None => true,
        Some(node) => node.controller_id() == Some(me),
    };
    gauge(
        e,
        "milena_partitions",
        "Partition replicas hosted on this broker.",
        hosted as i64,
    )?;
    gauge(
        e,
        "milena_leader_partitions",
        "Partitions this broker leads.",
        leaders,
    )?;
    gauge(
        e,
        "milena_under_replicated_partitions",
        "Partitions led here whose ISR is smaller than their replica set.",
        under_replicated,
    )?;
    gauge(
        e,
        "milena_active_controller",
        "1 on the active controller (the Raft leader; a single node is its own), else 0.",
        i64::from(active),
    )?;
    // Kafka reports these on the active controller only, 0 elsewhere.
    gauge(
        e,
        "milena_offline_partitions",
        "On the active controller: partitions without a live leader.",
        if active { offline } else { 0 },
    )?;
    gauge(
        e,
        "milena_global_partitions",
        "On the active controller: every partition of the cluster.",
        if active { total } else { 0 },
    )?;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    counters(
        e,
        "milena_isr_shrinks",
        "ISR shrinks this leader had committed by the controller.",
        [([("broker", V::I(me.into()))], load(&b.metrics.isr_shrinks))],
    )?;
    counters(
        e,
        "milena_isr_expands",
        "ISR expansions this leader had committed by the controller.",
        [([("broker", V::I(me.into()))], load(&b.metrics.isr_expands))],
    )
}

/// kafka.log:type=Log Size, LogStartOffset, LogEndOffset, per hosted replica.
fn logs(
    e: &mut DescriptorEncoder,
    hosted: &[Arc<crate::partition::Partition>],
) -> std::fmt::Result {
    fn labels(p: &crate::partition::Partition) -> L<'_, 2> {
        [
            ("topic", V::S(&p.topic)),
            ("partition", V::I(p.index.into())),
        ]
    }
    gauges(
        e,
        "milena_log_size_bytes",
        "Bytes of the partition's log segments on disk.",
        hosted.iter().map(|p| {
            (
                labels(p),
                i64::try_from(p.size_in_bytes()).unwrap_or(i64::MAX),
            )
        }),
    )?;
    gauges(
        e,
        "milena_log_start_offset",
        "First offset of the partition's log.",
        hosted.iter().map(|p| (labels(p), p.log_start_offset())),
    )?;
    gauges(
        e,
        "milena_log_end_offset",
        "Offset the partition's next record will get.",
        hosted.iter().map(|p| (labels(p), p.log_end_offset())),
    )?;
    gauges(
        e,
        "milena_partition_high_watermark",
        "Offsets below this are committed and visible to consumers.",
        hosted.iter().map(|p| (labels(p), p.high_watermark())),
    )
}

/// Consumer groups coordinated here: counts by state, members, committed offsets and lag.
fn groups(e: &mut DescriptorEncoder, b: &Broker, per_partition: bool) -> std::fmt::Result {
    let views = b.groups.views();
    let mut by_state: BTreeMap<&str, i64> = BTreeMap::new();
    for v in &views {
        *by_state.entry(v.state).or_default() += 1;
    }
    gauges(
        e,
        "milena_consumer_groups",
        "Consumer groups coordinated here, by state.",
        by_state.iter().map(|(s, n)| ([("state", V::S(s))], *n)),
    )?;
    gauges(
        e,
        "milena_consumer_group_state",
        "1 for each group coordinated here, labelled with its state and type.",
        views.iter().map(|v| {
            (
                [
                    ("group", V::S(&v.group_id)),
                    ("state", V::S(v.state)),
                    ("type", V::S(v.group_type)),
                ],
                1i64,
            )
        }),
    )?;
    gauges(
        e,
        "milena_consumer_group_members",
        "Members of each group coordinated here.",
        views
            .iter()
            .map(|v| ([("group", V::S(&v.group_id))], v.members as i64)),
    )?;
    // Lag = high watermark - committed offset, for partitions hosted here (on a cluster, the
    // partitions whose replica lives on the group's coordinator).
    let mut lags: Vec<(&str, &str, i32, i64, i64)> = Vec::new();
    for v in &views {
        for ((topic, index), &committed) in &v.committed {
            let Some(p) = b.replicas.get(topic, *index) else {
                continue;
            };
            let lag = (p.high_watermark() - committed).max(0);
            lags.push((&v.group_id, topic, *index, committed, lag));
        }
    }
    if per_partition {
        fn labels<'a>(g: &'a str, t: &'a str, p: i32) -> L<'a, 3> {
            [
                ("group", V::S(g)),
                ("topic", V::S(t)),
                ("partition", V::I(p.into())),
            ]
        }
        gauges(
            e,
            "milena_consumer_group_committed_offset",
            "The group's committed offset of the partition.",
            lags.iter().map(|&(g, t, p, c, _)| (labels(g, t, p), c)),
        )?;
        gauges(
            e,
            "milena_consumer_group_lag",
            "Records of the partition the group has not committed yet: high watermark - committed offset.",
            lags.iter().map(|&(g, t, p, _, lag)| (labels(g, t, p), lag)),
        )?;
    }
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for &(g, _, _, _, lag) in &lags {
        *sums.entry(g).or_default() += lag;
    }
    gauges(
        e,
        "milena_consumer_group_lag_sum",
        "The group's lag summed over its partitions hosted here.",
        sums.iter().map(|(g, lag)| ([("group", V::S(g))], *lag)),
    )
}

/// socket-server-metrics connection-count and connection-creation-total, per listener.
fn connections(e: &mut DescriptorEncoder, b: &Broker) -> std::fmt::Result {
    let listeners = b.metrics.listeners();
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    gauges(
        e,
        "milena_listener_connections",
        "Client connections open on the listener.",
        listeners
            .iter()
            .map(|l| ([("listener", V::S(&l.listener))], l.open.load(relaxed))),
    )?;
    counters(
        e,
        "milena_listener_connections_accepted",
        "Client connections the listener has accepted.",
        listeners
            .iter()
            .map(|l| ([("listener", V::S(&l.listener))], l.accepted.load(relaxed))),
    )
}

fn process(e: &mut DescriptorEncoder) -> std::fmt::Result {
    let Some(p) = super::process::read() else {
        return Ok(());
    };
    let m = e.encode_descriptor(
        "process_cpu_seconds",
        "User and system CPU time of the broker process.",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(p.cpu_seconds).encode(m)?;
    gauge(
        e,
        "process_resident_memory_bytes",
        "Resident set size.",
        p.resident_memory_bytes as i64,
    )?;
    gauge(
        e,
        "process_virtual_memory_bytes",
        "Virtual memory size.",
        p.virtual_memory_bytes as i64,
    )?;
    gauge(
        e,
        "process_open_fds",
        "Open file descriptors.",
        p.open_fds as i64,
    )?;
    if let Some(max) = p.max_fds {
        gauge(
            e,
            "process_max_fds",
            "The soft limit on open file descriptors.",
            i64::try_from(max).unwrap_or(i64::MAX),
        )?;
    }
    gauge(
        e,
        "process_threads",
        "Threads of the process.",
        p.threads as i64,
    )?;
    gauge(
        e,
        "process_start_time_seconds",
        "Start time of the process, in seconds since the Unix epoch.",
        p.start_time_seconds,
    )
}
