//! The log cleaner thread: compacts the partitions whose cleanup.policy includes compact.
//!
//! One thread (Kafka's `log.cleaner.threads=1`), blocking I/O off the async workers. Each round
//! it asks every partition how dirty its log is and cleans the dirtiest one that is ready
//! (above `min.cleanable.dirty.ratio`, past `max.compaction.lag.ms`, or holding tombstones whose
//! delete horizon passed), then looks again; with nothing ready it sleeps
//! `log.cleaner.backoff.ms`. Memory is the offset map (`log.cleaner.dedupe.buffer.size`) plus
//! one batch at a time; I/O is held to `log.cleaner.io.max.bytes.per.second`. A policy switched
//! with AlterConfigs is seen at the next round, as the partition's config is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::manager::{now_ms, ReplicaManager};
use crate::config::BrokerConfig;
use crate::log::cleaner::{CleanerConfig, CleanerEnv, Throttler};

/// Runs until `stop` is set; returns promptly after (a pass under way is abandoned, its
/// `.cleaned` files removed).
pub fn run(replicas: &ReplicaManager, broker: &BrokerConfig, stop: &AtomicBool) {
    let config = CleanerConfig {
        dedupe_buffer_size: usize::try_from(broker.log_cleaner_dedupe_buffer_size.max(0))
            .unwrap_or(usize::MAX),
    };
    let mut throttle = Throttler::new(broker.log_cleaner_io_max_bytes_per_second);
    let backoff = Duration::from_millis(broker.log_cleaner_backoff_ms.max(0) as u64);
    while !stop.load(Ordering::Relaxed) {
        let now = now_ms();
        let filthiest = replicas
            .all()
            .into_iter()
            .filter_map(|p| p.cleanable_stats(now).map(|s| (p, s)))
            .filter(|(_, s)| s.ready)
            .max_by(|(_, a), (_, b)| a.dirty_ratio.total_cmp(&b.dirty_ratio));
        let Some((partition, stats)) = filthiest else {
            sleep_unless_stopped(backoff, stop);
            continue;
        };
        let mut env = CleanerEnv {
            config: &config,
            throttle: &mut throttle,
            stop,
        };
        let started = Instant::now();
        match partition.clean(now, &mut env) {
            Ok(Some(s)) => tracing::info!(
                topic = %partition.topic,
                partition = partition.index,
                dirty_ratio = stats.dirty_ratio,
                segments = s.segments,
                bytes_in = s.bytes_in,
                bytes_out = s.bytes_out,
                keys = s.keys,
                cleaned_to = s.cleaned_to,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "cleaned log"
            ),
            // Nothing the map could cover, or stopped: wait rather than spin.
            Ok(None) => sleep_unless_stopped(backoff, stop),
            Err(e) => {
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "log cleaning failed");
                sleep_unless_stopped(backoff, stop);
            }
        }
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}
