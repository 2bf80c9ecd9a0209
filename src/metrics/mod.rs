//! The broker's own counters: what the request path, the connections and the ISR duty count
//! as they go. Everything here is an atomic updated with a relaxed `fetch_add`: no lock, no
//! allocation, no map lookup on the hot path. Gauges that describe state (log sizes and
//! offsets, partition counts, consumer lag) are not kept here at all: `http::metrics` reads
//! them from the broker's state when Prometheus scrapes.
//!
//! Per-topic byte and message counters live on each [`crate::partition::Partition`]
//! ([`PartitionCounters`]) and are summed per topic at scrape time.

pub mod errors;
pub mod histogram;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use histogram::LatencyHistogram;

/// API keys are below this (Kafka 4.1 stops at 92).
pub const API_KEYS: usize = 128;
/// Versions are below this (Kafka 4.1's highest is Fetch 17).
pub const API_VERSIONS: usize = 32;
/// Error codes counted one by one are below this; others (and UNKNOWN_SERVER_ERROR, -1) go to
/// slot 0, which code 0 (NONE) never uses because successes are not errors.
pub const ERROR_CODES: usize = 160;

/// The broker's counters, shared by every connection through [`crate::broker::Broker`].
#[derive(Debug)]
pub struct BrokerMetrics {
    /// Requests served, by api key and version (Kafka's RequestsPerSec, request, version).
    requests: Box<[AtomicU64]>,
    /// Error codes in responses, by api key and code (Kafka's ErrorsPerSec, request, error).
    errors: Box<[AtomicU64]>,
    /// By api key: from the full frame read to the response written (TotalTimeMs).
    pub total_time: Box<[LatencyHistogram]>,
    /// By api key: time spent serving the request, waits in purgatory excluded (LocalTimeMs).
    pub local_time: Box<[LatencyHistogram]>,
    /// By api key: time waiting in purgatory (followers for acks=all, data for a long-poll
    /// fetch) (RemoteTimeMs). Only Produce and Fetch wait.
    pub remote_time: Box<[LatencyHistogram]>,
    /// acks=all produce requests waiting for their followers (Produce PurgatorySize).
    pub produce_purgatory: AtomicI64,
    /// Fetch requests parked for data (Fetch PurgatorySize).
    pub fetch_purgatory: AtomicI64,
    /// ISR changes this leader had committed (IsrShrinksPerSec, IsrExpandsPerSec).
    pub isr_shrinks: AtomicU64,
    pub isr_expands: AtomicU64,
    /// One entry per client listener, registered when it starts serving.
    listeners: Mutex<Vec<Arc<ListenerConnections>>>,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        let histograms = || (0..API_KEYS).map(|_| LatencyHistogram::default()).collect();
        let counters = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Self {
            requests: counters(API_KEYS * API_VERSIONS),
            errors: counters(API_KEYS * ERROR_CODES),
            total_time: histograms(),
            local_time: histograms(),
            remote_time: histograms(),
            produce_purgatory: AtomicI64::new(0),
            fetch_purgatory: AtomicI64::new(0),
            isr_shrinks: AtomicU64::new(0),
            isr_expands: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
        }
    }
}

/// The slot of an api key, if it fits the tables.
fn api_slot(api_key: i16) -> Option<usize> {
    usize::try_from(api_key).ok().filter(|&k| k < API_KEYS)
}

impl BrokerMetrics {
    /// A request was served: counts it and times its local part (`served` less `remote`).
    pub fn request_served(&self, api_key: i16, version: i16, served: Duration, remote: Duration) {
        let Some(key) = api_slot(api_key) else {
            return;
        };
        let version = usize::try_from(version).unwrap_or(0).min(API_VERSIONS - 1);
        self.requests[key * API_VERSIONS + version].fetch_add(1, Relaxed);
        self.local_time[key].observe(served.saturating_sub(remote));
        if !remote.is_zero() {
            self.remote_time[key].observe(remote);
        }
    }

    /// A response carried `code` (not 0) for one of its items.
    pub fn error(&self, api_key: i16, code: i16) {
        if code == 0 {
            return;
        }
        let Some(key) = api_slot(api_key) else {
            return;
        };
        let slot = usize::try_from(code)
            .ok()
            .filter(|&c| c < ERROR_CODES)
            .unwrap_or(0);
        self.errors[key * ERROR_CODES + slot].fetch_add(1, Relaxed);
    }

    /// The response of a request was written: times the whole round.
    pub fn response_sent(&self, api_key: i16, total: Duration) {
        if let Some(key) = api_slot(api_key) {
            self.total_time[key].observe(total);
        }
    }

    /// (api key, version, count) of every pair served at least once.
    pub fn request_counts(&self) -> Vec<(i16, i16, u64)> {
        nonzero(&self.requests, API_VERSIONS)
    }

    /// (api key, error code, count) of every pair seen at least once; code -1 stands for every
    /// code outside the table.
    pub fn error_counts(&self) -> Vec<(i16, i16, u64)> {
        nonzero(&self.errors, ERROR_CODES)
            .into_iter()
            .map(|(k, c, n)| (k, if c == 0 { -1 } else { c }, n))
            .collect()
    }

    /// The counters of a listener, registered on first use.
    pub fn listener(&self, name: &str) -> Arc<ListenerConnections> {
        let mut all = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = all.iter().find(|l| l.listener == name) {
            return l.clone();
        }
        let l = Arc::new(ListenerConnections {
            listener: name.to_string(),
            open: AtomicI64::new(0),
            accepted: AtomicU64::new(0),
        });
        all.push(l.clone());
        l
    }

    pub fn listeners(&self) -> Vec<Arc<ListenerConnections>> {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn nonzero(table: &[AtomicU64], width: usize) -> Vec<(i16, i16, u64)> {
    table
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let n = n.load(Relaxed);
            (n > 0).then(|| ((i / width) as i16, (i % width) as i16, n))
        })
        .collect()
}

/// Connections of one listener (Kafka's socket-server-metrics connection-count and
/// connection-creation-total, listener=NAME).
#[derive(Debug)]
pub struct ListenerConnections {
    pub listener: String,
    pub open: AtomicI64,
    pub accepted: AtomicU64,
}

impl ListenerConnections {
    /// Counts a connection, open until the guard drops.
    pub fn opened(self: &Arc<Self>) -> ConnectionOpen {
        self.accepted.fetch_add(1, Relaxed);
        self.open.fetch_add(1, Relaxed);
        ConnectionOpen(self.clone())
    }
}

/// One open connection of a listener, counted while it lives.
pub struct ConnectionOpen(Arc<ListenerConnections>);

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}

/// Holds one unit of a broker-wide gauge (a request in a purgatory) while it lives.
pub struct Waiting<'a>(&'a AtomicI64);

impl<'a> Waiting<'a> {
    pub fn enter(gauge: &'a AtomicI64) -> Self {
        gauge.fetch_add(1, Relaxed);
        Waiting(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// What one partition replica counts of its traffic as leader (BrokerTopicMetrics per topic:
/// BytesInPerSec, MessagesInPerSec, BytesOutPerSec), summed per topic at scrape time. The
/// counters start at zero when the partition is opened, as Kafka's meters do at start.
#[derive(Debug, Default)]
pub struct PartitionCounters {
    pub bytes_in: AtomicU64,
    pub messages_in: AtomicU64,
    /// Record bytes sent to consumers (followers' fetches are not counted, as in Kafka).
    pub bytes_out: AtomicU64,
}

impl PartitionCounters {
    pub fn produced(&self, bytes: usize, messages: u64) {
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
        self.messages_in.fetch_add(messages, Relaxed);
    }

    pub fn fetched(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
    }
}
