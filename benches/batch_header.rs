//! Batch header parse and the batch walk: the only look inside a batch on the produce path.
//!
//! `Log::append_as_leader` walks every Produce payload with `BatchIter` (header checks, length
//! and CRC32C of each batch) before it assigns offsets; `BatchHeader::parse` is also what the read
//! path calls on every batch it scans from an index entry.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use milena::log::builder::{build_batch, NewRecord};
use milena::log::{BatchHeader, BatchIter};

/// An uncompressed v2 batch of `count` keyless records of `size` bytes each.
fn batch(count: usize, size: usize) -> Bytes {
    let records: Vec<NewRecord> = (0..count)
        .map(|i| NewRecord {
            key: None,
            value: Some(Bytes::from(vec![i as u8; size])),
        })
        .collect();
    build_batch(&records, 1_700_000_000_000)
}

/// Whole batches like `one`, concatenated up to (not past) `target` bytes.
fn buffer_of(one: &Bytes, target: usize) -> Bytes {
    let mut buf = BytesMut::with_capacity(target);
    while buf.len() + one.len() <= target {
        buf.extend_from_slice(one);
    }
    buf.freeze()
}

fn header_parse(c: &mut Criterion) {
    let b = batch(100, 100);
    c.bench_function("batch_header/parse", |bench| {
        bench.iter(|| BatchHeader::parse(black_box(&b[..])).expect("valid header"))
    });
}

fn batch_iter(c: &mut Criterion) {
    const MIB: usize = 1 << 20;
    let mut group = c.benchmark_group("batch_header/iter_1MiB");
    // 1 KiB batches stress the per-batch cost; 16 KiB ones are a typical producer linger batch.
    for (name, count, size) in [("1KiB_batches", 10, 100), ("16KiB_batches", 16, 1024)] {
        let buf = buffer_of(&batch(count, size), MIB);
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &buf, |bench, buf| {
            bench.iter(|| {
                let mut n = 0;
                for item in BatchIter::new(buf.clone()) {
                    let (h, _) = item.expect("valid batch");
                    n += h.records_count;
                }
                n
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Text results only: no gnuplot runs between benchmarks on a shared machine.
    config = Criterion::default().without_plots();
    targets = header_parse, batch_iter
}
criterion_main!(benches);
