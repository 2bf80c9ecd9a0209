//! The cost of waking parked requests when one partition changes: an append to one partition
//! while other requests are parked on other partitions (long-poll fetches of idle consumers).
//!
//! `wakeup/per_partition/N`: Milena's wake-ups ([`Wakeup`]): one request parked on the appended
//! partition and `N` more each parked on another partition (1,001 partitions in all). Timed: the
//! append and the run of the one woken request. It should not grow with `N`.
//!
//! `wakeup/one_channel/N`: the scheme it replaced, modelled here: every parked request waits on one
//! broker-wide watch channel that each append bumps, so all `N + 1` wake and look again. Timed: the
//! append and the run of every woken request.
//!
//! Both run on a current-thread runtime, so the time of the woken tasks is on the clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use milena::log::builder::{build_batch, NewRecord};
use milena::log::{Log, LogConfig};
use milena::metadata::PartitionState;
use milena::partition::wakeup::Wakeup;
use milena::partition::Partition;

const NOW_MS: i64 = 1_700_000_000_000;
const PARTITIONS: usize = 1_001;

fn partitions(dir: &tempfile::TempDir) -> Vec<Arc<Partition>> {
    (0..PARTITIONS)
        .map(|i| {
            let path = dir.path().join(format!("t-{i}"));
            let log = Log::open(&path, LogConfig::default(), NOW_MS).expect("open log");
            let p = Partition::new(Arc::from("t"), i as i32, uuid::Uuid::nil(), log, false);
            p.apply_state(1, &PartitionState::local(1), NOW_MS)
                .expect("lead");
            Arc::new(p)
        })
        .collect()
}

fn one_record() -> Bytes {
    build_batch(
        &[NewRecord {
            key: None,
            value: Some(Bytes::from_static(b"value")),
        }],
        NOW_MS,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// Appends to partition 0 `iters` times; after each, yields until `wakes` grew by `expected`.
async fn append_and_wait(
    p: &Partition,
    wakes: &AtomicU64,
    expected: u64,
    iters: u64,
    after_append: impl Fn(),
) -> Duration {
    let batch = one_record();
    let start = Instant::now();
    for _ in 0..iters {
        let target = wakes.load(Ordering::Acquire) + expected;
        p.append(batch.clone(), NOW_MS).expect("append");
        after_append();
        while wakes.load(Ordering::Acquire) < target {
            tokio::task::yield_now().await;
        }
    }
    start.elapsed()
}

fn wakeup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let partitions = partitions(&dir);
    let mut group = c.benchmark_group("wakeup");
    for others in [0usize, 100, 1_000] {
        group.bench_with_input(
            BenchmarkId::new("per_partition", others),
            &others,
            |b, &others| {
                let rt = runtime();
                let wakes = Arc::new(AtomicU64::new(0));
                for p in partitions.iter().take(others + 1) {
                    let mut wakeup = Wakeup::new();
                    wakeup.watch(p);
                    let wakes = wakes.clone();
                    rt.spawn(async move {
                        loop {
                            wakeup.changed().await;
                            wakes.fetch_add(1, Ordering::AcqRel);
                        }
                    });
                }
                b.iter_custom(|iters| {
                    rt.block_on(append_and_wait(&partitions[0], &wakes, 1, iters, || {}))
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("one_channel", others),
            &others,
            |b, &others| {
                let rt = runtime();
                let (arrived, _) = tokio::sync::watch::channel(0u64);
                let wakes = Arc::new(AtomicU64::new(0));
                for p in partitions.iter().take(others + 1) {
                    let mut arrivals = arrived.subscribe();
                    let (p, wakes) = (p.clone(), wakes.clone());
                    rt.spawn(async move {
                        while arrivals.changed().await.is_ok() {
                            arrivals.borrow_and_update();
                            // What a parked fetch does first: look at its partition again.
                            std::hint::black_box(p.high_watermark());
                            wakes.fetch_add(1, Ordering::AcqRel);
                        }
                    });
                }
                let bump = || arrived.send_modify(|n| *n = n.wrapping_add(1));
                b.iter_custom(|iters| {
                    rt.block_on(append_and_wait(
                        &partitions[0],
                        &wakes,
                        others as u64 + 1,
                        iters,
                        bump,
                    ))
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, wakeup);
criterion_main!(benches);
