//! Compaction: a model-based test of random produce / tombstone / clean / restart / crash
//! sequences against a map of the latest value per key, transactions under the cleaner, and
//! every crash point of the segment swap.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;

use bytes::Bytes;

use super::*;
use crate::log::builder::{build_batch, ControlType, NewRecord};
use crate::log::cleaner::{CleanerConfig, CleanerEnv, Throttler};
use crate::log::codec;
use crate::log::record_set;
use crate::log::LogError;

/// (key, value) of each record, by offset.
type Records = BTreeMap<i64, (Vec<u8>, Option<Vec<u8>>)>;

fn compact_config() -> LogConfig {
    LogConfig {
        segment_bytes: 700,
        segment_ms: 10_000,
        index_interval_bytes: 150,
        file_delete_delay_ms: 0,
        cleanup_compact: true,
        cleanup_delete: false,
        delete_retention_ms: 5_000,
        ..LogConfig::default()
    }
}

/// A batch of keyed records (`None` value: tombstone) compressed with `codec`.
fn keyed(records: &[(&[u8], Option<&[u8]>)], codec: i16, ts: i64) -> Bytes {
    let recs: Vec<NewRecord> = records
        .iter()
        .map(|(k, v)| NewRecord {
            key: Some(Bytes::copy_from_slice(k)),
            value: v.map(Bytes::copy_from_slice),
        })
        .collect();
    let plain = build_batch(&recs, ts).to_vec();
    if codec == 0 {
        return Bytes::from(plain);
    }
    let body = codec::compress(codec, &plain[61..]).expect("compress");
    let mut b = plain[..61].to_vec();
    b.extend_from_slice(&body);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[21..23].copy_from_slice(&codec.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

/// Every record readable in the log, decoded, with its batch's producer id.
fn read_all(log: &Log) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.log_end_offset() {
        let read = log.read(next, 1 << 20, true, None).expect("read");
        if read.records.is_empty() {
            // Cleaning may empty the last sealed segments: nothing left until the next one.
            let later = log.sealed.keys().find(|b| **b > next).copied();
            let later =
                later.or_else(|| (log.active.base_offset > next).then_some(log.active.base_offset));
            match later {
                Some(base) => {
                    next = base;
                    continue;
                }
                None => panic!("read at {next} returned nothing"),
            }
        }
        for item in BatchIter::new(read.records) {
            let (h, bytes) = item.expect("valid batch");
            next = h.last_offset() + 1;
            if h.is_control() {
                continue;
            }
            let decoded = record_set::decode(&bytes).expect("records decode");
            for r in &decoded.records {
                let offset = h.base_offset + i64::from(r.offset_delta);
                let key = decoded.key(r).map(<[u8]>::to_vec).unwrap_or_default();
                let value = r.value.clone().map(|v| decoded.body[v].to_vec());
                out.push((offset, key, value));
            }
        }
    }
    out
}

fn env_parts(buffer: usize) -> (CleanerConfig, Throttler, AtomicBool) {
    (
        CleanerConfig {
            dedupe_buffer_size: buffer,
        },
        Throttler::new(f64::INFINITY),
        AtomicBool::new(false),
    )
}

fn clean(log: &mut Log, now: i64, buffer: usize) {
    let (config, mut throttle, stop) = env_parts(buffer);
    let mut env = CleanerEnv {
        config: &config,
        throttle: &mut throttle,
        stop: &stop,
    };
    log.clean(now, &mut env).expect("clean");
}

/// Checks the log against what was produced: every record read is one that was produced at
/// that offset, offsets increase, and the latest record of every key is there (a tombstone
/// may be gone).
fn check(log: &Log, produced: &Records, latest: &HashMap<Vec<u8>, i64>) {
    let read = read_all(log);
    let mut prev = -1;
    for (offset, key, value) in &read {
        assert!(*offset > prev, "offsets increase: {offset} after {prev}");
        prev = *offset;
        let (k, v) = produced.get(offset).expect("a produced offset");
        assert_eq!((k, v), (key, value), "record at {offset} unchanged");
    }
    let present: HashMap<i64, ()> = read.iter().map(|(o, _, _)| (*o, ())).collect();
    for (key, offset) in latest {
        let tombstone = produced[offset].1.is_none();
        assert!(
            tombstone || present.contains_key(offset),
            "latest value of {key:?} (offset {offset}) is kept"
        );
    }
}

fn model_run(seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = compact_config();
    let mut log = open(dir.path(), config.clone());
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    // Small enough that some passes cannot map the whole dirty section.
    let buffer = 24 * (40 + next(200) as usize);
    let mut now = NOW;
    let mut produced = Records::new();
    let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut cleans = 0;
    for _ in 0..300 {
        match next(100) {
            0..=59 => {
                let n = 1 + next(4) as usize;
                let owned: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..n)
                    .map(|_| {
                        let key = format!("key-{}", next(16)).into_bytes();
                        let value =
                            (next(5) != 0).then(|| format!("v{}", next(1_000_000)).into_bytes());
                        (key, value)
                    })
                    .collect();
                let recs: Vec<(&[u8], Option<&[u8]>)> =
                    owned.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
                let info = log
                    .append_as_leader(keyed(&recs, next(5) as i16, now), 0, now)
                    .expect("append");
                for (i, (k, v)) in owned.into_iter().enumerate() {
                    let offset = info.first_offset + i as i64;
                    latest.insert(k.clone(), offset);
                    produced.insert(offset, (k, v));
                }
            }
            60..=74 => {
                clean(&mut log, now, buffer);
                cleans += 1;
            }
            75..=81 => {
                log.close().expect("close");
                log = open(dir.path(), config.clone());
            }
            82..=86 => {
                drop(log); // kill -9: no clean-shutdown marker
                log = Log::open(dir.path(), config.clone(), now).expect("recover");
            }
            87..=94 => now += next(4_000) as i64,
            _ => {
                // Idle compacted logs do not roll by time: check that, then roll by appending.
                log.maybe_roll_and_flush(now + 20_000)
                    .expect("housekeeping");
                if next(2) == 0 {
                    now += 11_000;
                }
            }
        }
        check(&log, &produced, &latest);
    }
    assert!(cleans > 10, "seed {seed} cleaned only {cleans} times");

    // Everything sealed and cleaned twice past the delete horizon: one record per key below
    // the checkpoint, and no tombstone left.
    now += 20_000;
    let info = log
        .append_as_leader(keyed(&[(b"sentinel", Some(b"last"))], 0, now), 0, now)
        .expect("append rolls");
    assert_eq!(
        log.active.base_offset, info.first_offset,
        "rolled by segment.ms"
    );
    latest.insert(b"sentinel".to_vec(), info.first_offset);
    produced.insert(
        info.first_offset,
        (b"sentinel".to_vec(), Some(b"last".to_vec())),
    );
    clean(&mut log, now, 1 << 20);
    now += config.delete_retention_ms + 1;
    clean(&mut log, now, 1 << 20);
    check(&log, &produced, &latest);
    let read = read_all(&log);
    let mut seen = HashMap::new();
    for (offset, key, value) in &read {
        assert!(
            value.is_some(),
            "tombstone at {offset} outlived delete.retention.ms"
        );
        assert!(seen.insert(key.clone(), *offset).is_none(), "{key:?} twice");
        assert_eq!(latest[key], *offset);
    }
    let live = latest.values().filter(|o| produced[o].1.is_some()).count();
    assert_eq!(read.len(), live, "seed {seed}");
}

#[test]
fn random_produce_delete_clean_restart_sequences_keep_the_latest_values() {
    for seed in 1..=4 {
        model_run(seed);
    }
}

#[test]
fn keyless_records_are_refused_on_compacted_logs_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), compact_config());
    let keyless = build_batch(
        &[NewRecord {
            key: None,
            value: Some(Bytes::from_static(b"v")),
        }],
        NOW,
    );
    assert!(matches!(
        log.append_as_leader(keyless.clone(), 0, NOW),
        Err(LogError::RecordErrors {
            timestamp: false,
            ..
        })
    ));
    log.set_config(LogConfig {
        cleanup_compact: false,
        ..compact_config()
    });
    log.append_as_leader(keyless, 0, NOW)
        .expect("delete policy takes keyless records");
}

#[test]
fn active_segment_and_min_compaction_lag_bound_the_cleaning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        min_compaction_lag_ms: 60_000,
        ..compact_config()
    };
    let mut log = open(dir.path(), config);
    for i in 0..30 {
        let v = format!("v{i}");
        log.append_as_leader(keyed(&[(b"k", Some(v.as_bytes()))], 0, NOW), 0, NOW)
            .expect("append");
    }
    let before = read_all(&log).len();
    clean(&mut log, NOW + 1_000, 1 << 20);
    assert_eq!(
        read_all(&log).len(),
        before,
        "younger than min.compaction.lag.ms"
    );
    clean(&mut log, NOW + 61_000, 1 << 20);
    let after = read_all(&log);
    // The sealed segments keep nothing but what the active segment still holds.
    let active_records = after
        .iter()
        .filter(|(o, _, _)| *o >= log.active.base_offset)
        .count();
    assert_eq!(
        after.len(),
        active_records + 1,
        "one k left in the sealed segments"
    );
    assert_eq!(after.last().map(|r| r.0), Some(29));
}

/// A transactional batch of keyed records.
fn txn_batch(pid: i64, seq: i32, key: &[u8], value: &[u8]) -> Bytes {
    let mut b = keyed(&[(key, Some(value))], 0, NOW).to_vec();
    b[21..23].copy_from_slice(&0x10i16.to_be_bytes());
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&0i16.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

#[test]
fn aborted_data_goes_committed_stays_and_open_transactions_are_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), compact_config());
    let mut now = NOW;
    // pid 1 aborts "a", pid 2 commits "b", pid 3 leaves "c" open.
    log.append_as_leader(txn_batch(1, 0, b"a", b"aborted"), 0, now)
        .expect("a"); // 0
    log.append_as_leader(txn_batch(2, 0, b"b", b"committed"), 0, now)
        .expect("b"); // 1
    log.append_txn_marker(1, 0, ControlType::Abort, 0, 0, now)
        .expect("abort"); // 2
    log.append_txn_marker(2, 0, ControlType::Commit, 0, 0, now)
        .expect("commit"); // 3
                           // pid 1 goes on, so the aborted batch is no longer its last one (which the cleaner keeps).
    log.append_as_leader(txn_batch(1, 1, b"a2", b"later"), 0, now)
        .expect("a2"); // 4
    log.append_txn_marker(1, 0, ControlType::Commit, 0, 0, now)
        .expect("commit"); // 5
    for i in 0..10 {
        let v = format!("filler{i}");
        log.append_as_leader(keyed(&[(b"f", Some(v.as_bytes()))], 0, now), 0, now)
            .expect("filler");
    }
    log.append_as_leader(txn_batch(3, 0, b"c", b"open"), 0, now)
        .expect("c"); // 16
    let later = now + 20_000;
    log.append_as_leader(keyed(&[(b"z", Some(b"tail"))], 0, later), 0, later)
        .expect("tail rolls the segment");
    assert_eq!(log.first_unstable_offset(), Some(16));
    clean(&mut log, now, 1 << 20);
    let keys: Vec<(i64, Vec<u8>)> = read_all(&log).into_iter().map(|(o, k, _)| (o, k)).collect();
    assert!(
        !keys.iter().any(|(_, k)| k == b"a"),
        "aborted data is cleaned: {keys:?}"
    );
    assert!(keys.contains(&(1, b"b".to_vec())), "committed data stays");
    assert!(
        keys.contains(&(16, b"c".to_vec())),
        "open transaction untouched"
    );
    // The abort marker stays (with its index entry) while this pass removed its data.
    assert_eq!(log.aborted_transactions(0, 20).len(), 1);
    // Later passes past the delete horizon remove the emptied abort marker.
    now += 10_000;
    clean(&mut log, now, 1 << 20);
    now += 10_000;
    clean(&mut log, now, 1 << 20);
    let read = log.read(0, 1 << 20, true, None).expect("read");
    let markers: Vec<i64> = batches(read.records)
        .iter()
        .filter(|h| h.is_control())
        .map(|h| h.base_offset)
        .collect();
    assert!(
        !markers.contains(&2),
        "abort marker removed after the horizon: {markers:?}"
    );
    assert!(
        markers.contains(&3),
        "commit marker stays while its data does"
    );
    // Producer state survives a crash and a rebuild from the cleaned log.
    drop(log);
    let log = Log::open(dir.path(), compact_config(), now).expect("reopen");
    assert_eq!(log.first_unstable_offset(), Some(16));
    assert!(log.producer_entry(2).is_some());
}

/// Copies every regular file of `from` into `to`.
fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

#[test]
fn a_crash_at_any_point_of_the_swap_loses_nothing() {
    // A log of four sealed segments, cleaned into one group at base 0.
    let src = tempfile::tempdir().expect("tempdir");
    let mut log = open(src.path(), compact_config());
    let mut latest = HashMap::new();
    let mut produced = Records::new();
    for i in 0..40i64 {
        let (k, v) = (format!("k{}", i % 5), format!("value-{i:04}"));
        log.append_as_leader(keyed(&[(k.as_bytes(), Some(v.as_bytes()))], 0, NOW), 0, NOW)
            .expect("append");
        latest.insert(k.clone().into_bytes(), i);
        produced.insert(i, (k.into_bytes(), Some(v.into_bytes())));
    }
    log.close().expect("close");
    let before = tempfile::tempdir().expect("tempdir");
    copy_dir(src.path(), before.path());
    let mut log = open(src.path(), compact_config());
    log.set_config(LogConfig {
        segment_bytes: 1 << 20,
        ..compact_config()
    });
    clean(&mut log, NOW, 1 << 20);
    log.close().expect("close");
    let old_bases = segment_bases(before.path());
    assert!(old_bases.len() >= 4, "{old_bases:?}");
    let new_bases = segment_bases(src.path());
    assert!(new_bases.len() < old_bases.len());
    let exts = ["txnindex", "index", "timeindex", "log"];
    let cleaned = |dir: &Path, suffix: &str, which: &[&str]| {
        for ext in which {
            let name = format!("{}.{suffix}", crate::log::segment::file_name(0, ext));
            std::fs::copy(segment_path(src.path(), 0, ext), dir.join(name)).expect("copy");
        }
    };
    // (name, build the crash state, whether the result is the cleaned log)
    type Setup<'a> = Box<dyn Fn(&Path) + 'a>;
    let states: Vec<(&str, Setup, bool)> = vec![
        (
            "cleaned files written",
            Box::new(|d: &Path| cleaned(d, "cleaned", &exts)),
            false,
        ),
        (
            "some renamed to .swap",
            Box::new(|d: &Path| {
                cleaned(d, "swap", &exts[..2]);
                cleaned(d, "cleaned", &exts[2..]);
            }),
            false,
        ),
        (
            "all renamed to .swap",
            Box::new(|d: &Path| cleaned(d, "swap", &exts)),
            true,
        ),
        (
            "old segments partly deleted",
            Box::new(|d: &Path| {
                cleaned(d, "swap", &exts);
                for ext in exts {
                    let p = segment_path(d, old_bases[1], ext);
                    let _ = std::fs::rename(&p, format!("{}.deleted", p.display()));
                }
                let p = segment_path(d, 0, "log");
                std::fs::rename(&p, format!("{}.deleted", p.display())).expect("rename");
            }),
            true,
        ),
        (
            "final renames under way",
            Box::new(|d: &Path| {
                cleaned(d, "swap", &exts[3..]);
                for &base in old_bases[1..].iter().filter(|b| !new_bases.contains(b)) {
                    for ext in exts {
                        let _ = std::fs::remove_file(segment_path(d, base, ext));
                    }
                }
                std::fs::remove_file(segment_path(d, 0, "log")).expect("old log renamed away");
                for ext in &exts[..3] {
                    std::fs::copy(segment_path(src.path(), 0, ext), segment_path(d, 0, ext))
                        .expect("copy");
                }
            }),
            true,
        ),
    ];
    for (name, setup, swapped) in states {
        let crash = tempfile::tempdir().expect("tempdir");
        copy_dir(before.path(), crash.path());
        std::fs::remove_file(crash.path().join("clean-shutdown")).expect("crashed");
        setup(crash.path());
        let log = Log::open(crash.path(), compact_config(), NOW).expect(name);
        check(&log, &produced, &latest);
        let count = read_all(&log).len();
        if swapped {
            assert!(count < 40, "{name}: the swap was completed");
        } else {
            assert_eq!(count, 40, "{name}: the old segments stand");
        }
        let leftovers: Vec<_> = std::fs::read_dir(crash.path())
            .expect("read dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".swap") || n.ends_with(".cleaned"))
            .collect();
        assert!(leftovers.is_empty(), "{name}: {leftovers:?}");
    }
}
