//! The partition log's produce and fetch paths: `Log::append_as_leader` of a Produce payload and
//! `Log::read` of 1 MiB, on a real log in a temporary directory.
//!
//! Neither fsyncs (the default `flush.messages`/`flush.ms` never flush), so these measure the
//! broker's own work plus the page cache, not the disk: a regression here is Milena's.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use milena::log::builder::{build_batch, NewRecord};
use milena::log::{Log, LogConfig};

const NOW_MS: i64 = 1_700_000_000_000;
const LEADER_EPOCH: i32 = 0;
const MIB: usize = 1 << 20;

/// An uncompressed v2 batch of `count` keyless records of `size` bytes each.
fn batch(count: usize, size: usize) -> Bytes {
    let records: Vec<NewRecord> = (0..count)
        .map(|i| NewRecord {
            key: None,
            value: Some(Bytes::from(vec![i as u8; size])),
        })
        .collect();
    build_batch(&records, NOW_MS)
}

fn open_log(dir: &tempfile::TempDir) -> Log {
    Log::open(dir.path(), LogConfig::default(), NOW_MS).expect("open log")
}

/// Appends are timed on fresh logs of at most this many bytes each, so a long run does not
/// fill the disk (opening and removing a log is not timed).
const LOG_BYTES_PER_CHUNK: usize = 64 * MIB;

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("log/append_as_leader");
    for (name, count, size) in [("100x100B", 100, 100), ("16x1KiB", 16, 1024)] {
        let payload = batch(count, size);
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &payload, |b, payload| {
            let chunk = (LOG_BYTES_PER_CHUNK / payload.len()) as u64;
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(chunk);
                    let dir = tempfile::tempdir().expect("tempdir");
                    let mut log = open_log(&dir);
                    let start = Instant::now();
                    for _ in 0..n {
                        let info = log
                            .append_as_leader(payload.clone(), LEADER_EPOCH, NOW_MS)
                            .expect("append");
                        black_box(info);
                    }
                    timed += start.elapsed();
                    drop(log);
                    drop(dir);
                    left -= n;
                }
                timed
            })
        });
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    // A 64 MiB log of 16 KiB batches; fetch 1 MiB from an offset inside a batch in the middle,
    // so the index lookup and the header scan from the index entry are part of it.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open_log(&dir);
    let payload = batch(16, 1024);
    while (log.size_in_bytes() as usize) < 64 * MIB {
        log.append_as_leader(payload.clone(), LEADER_EPOCH, NOW_MS)
            .expect("append");
    }
    let high_watermark = log.log_end_offset();
    let fetch_offset = high_watermark / 2 + 5;
    let sample = log
        .read(fetch_offset, MIB, true, Some(high_watermark))
        .expect("read");
    assert!(sample.records.len() > MIB / 2, "the read returns data");

    let mut group = c.benchmark_group("log/read");
    group.throughput(Throughput::Bytes(sample.records.len() as u64));
    group.bench_function("1MiB_from_middle", |b| {
        b.iter(|| {
            log.read(black_box(fetch_offset), MIB, true, Some(high_watermark))
                .expect("read")
        })
    });
    // What Fetch does under the partition lock: find the file regions, read nothing.
    group.bench_function("1MiB_slices_from_middle", |b| {
        b.iter(|| {
            log.read_slices(black_box(fetch_offset), MIB, true, Some(high_watermark))
                .expect("read")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Text results only: no gnuplot runs between benchmarks on a shared machine.
    config = Criterion::default().without_plots();
    targets = append, read
}
criterion_main!(benches);
