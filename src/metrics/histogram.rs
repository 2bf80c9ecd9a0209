//! A latency histogram kept in atomics: one relaxed `fetch_add` per bucket crossed, no lock and
//! no allocation per observation, so the request path can time every request.
//!
//! An observation increments the one bucket it falls in; the exposition encoder sums them into
//! Prometheus' cumulative `le` buckets at scrape time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds in seconds, from half a millisecond (a Metadata answer) to the 30 s a produce or
/// fetch can be made to wait. Kafka's JMX histograms are in ms; Prometheus wants seconds.
pub const BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of every observation, in nanoseconds.
    sum_ns: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// How many observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// (sum in seconds, count, per-bucket counts) as prometheus-client's encoder takes them:
    /// not cumulative (it adds them up), the last bound `f64::MAX` (which it writes `+Inf`).
    /// Read without a lock, so a scrape racing an observation may see its bucket and not yet
    /// its sum.
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut count = 0;
        let mut out = Vec::with_capacity(BUCKETS.len() + 1);
        for (i, bucket) in self.buckets.iter().enumerate() {
            let n = bucket.load(Relaxed);
            count += n;
            out.push((BUCKETS.get(i).copied().unwrap_or(f64::MAX), n));
        }
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        (sum, count, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_their_own_observations_and_end_at_max() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let (sum, count, buckets) = h.snapshot();
        assert_eq!(count, 3);
        assert!((sum - 60.0033).abs() < 1e-6);
        assert_eq!(buckets[0], (0.0005, 1));
        assert_eq!(buckets[3], (0.005, 1));
        assert_eq!(buckets[BUCKETS.len() - 1], (30.0, 0));
        assert_eq!(buckets[BUCKETS.len()], (f64::MAX, 1));
    }
}
