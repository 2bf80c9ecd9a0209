//! Append and read scenarios: offsets, segment rolls, fetch limits, timestamps.

use bytes::Bytes;

use super::*;
use crate::log::{validate_batch, LogError};

#[test]
fn append_then_read_round_trips_across_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    for i in 0..40 {
        let info = log.append_as_leader(batch(2), 7, NOW).expect("append");
        assert_eq!((info.first_offset, info.last_offset), (i * 2, i * 2 + 1));
        assert_eq!(info.record_count, 2);
        assert!(!info.duplicate);
        assert_eq!(info.log_append_time_ms, -1);
    }
    assert_eq!(log.log_end_offset(), 80);
    assert!(log.segment_count() > 5, "tiny segments must roll");
    assert_eq!(segment_bases(dir.path()).len(), log.segment_count());
    let read = log.read(0, 1 << 20, false, None).expect("read");
    let hs = batches(read.records.clone());
    assert_eq!(hs.len(), 40);
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(h.base_offset, i as i64 * 2);
        assert_eq!(h.partition_leader_epoch, 7);
    }
    assert_eq!(read.records.len() as u64, log.size_in_bytes());
    assert_eq!(all_offsets(&log), (0..80).collect::<Vec<_>>());
}

#[test]
fn read_from_the_middle_of_a_batch_returns_the_containing_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 30, 3);
    for offset in 0..90 {
        let hs = batches(log.read(offset, 1, true, None).expect("read").records);
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].base_offset, offset - offset % 3, "fetch at {offset}");
    }
}

#[test]
fn max_bytes_min_one_batch_and_max_offset_bound_the_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), LogConfig::default());
    append_batches(&mut log, 10, 1);
    let size = batch(1).len();
    let two = log.read(0, size * 2 + size / 2, false, None).expect("read");
    assert_eq!(batches(two.records).len(), 2, "no partial batch");
    let none = log.read(0, size - 1, false, None).expect("read");
    assert!(none.records.is_empty());
    let one = log.read(0, 1, true, None).expect("read");
    assert_eq!(
        batches(one.records).len(),
        1,
        "min_one_batch overrides max_bytes"
    );
    let bounded = log.read(2, 1 << 20, true, Some(5)).expect("read");
    let hs = batches(bounded.records);
    assert_eq!(
        hs.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert!(log
        .read(5, 1 << 20, true, Some(5))
        .expect("read")
        .records
        .is_empty());
}

#[test]
fn reads_outside_the_log_are_out_of_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    append_batches(&mut log, 10, 1);
    let at_end = log.read(10, 1000, true, None).expect("read at log end");
    assert!(at_end.records.is_empty());
    assert_eq!(at_end.log_end_offset, 10);
    assert!(matches!(
        log.read(11, 1000, true, None),
        Err(LogError::OffsetOutOfRange { offset: 11, .. })
    ));
    log.delete_records_before(4).expect("delete records");
    assert!(matches!(
        log.read(3, 1000, true, None),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let hs = batches(log.read(4, 1000, true, None).expect("read").records);
    assert_eq!(hs[0].base_offset, 4);
}

#[test]
fn segments_roll_by_size_and_by_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    log.append_as_leader(batch(1), 0, NOW).expect("append");
    log.append_as_leader(batch(1), 0, NOW + 1000)
        .expect("append");
    assert_eq!(
        log.segment_count(),
        1,
        "exactly segment.ms old: no roll yet"
    );
    log.append_as_leader(batch(1), 0, NOW + 1001)
        .expect("append");
    assert_eq!(log.segment_count(), 2);
    assert_eq!(segment_bases(dir.path()), [0, 2]);
    log.maybe_roll_and_flush(NOW + 1500).expect("periodic");
    assert_eq!(log.segment_count(), 2);
    log.maybe_roll_and_flush(NOW + 2002).expect("periodic");
    assert_eq!(
        log.segment_count(),
        3,
        "periodic check rolls an old segment"
    );
    assert_eq!(log.log_end_offset(), 3);

    let mut config = small_config();
    config.segment_bytes = (batch(1).len() * 3) as u64;
    log.set_config(config);
    append_batches(&mut log, 7, 1);
    assert_eq!(segment_bases(dir.path()), [0, 2, 3, 6, 9]);
}

#[test]
fn oversized_or_invalid_batches_are_rejected_without_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        max_message_bytes: 500,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let big = BatchBuilder::new().sized(1, 600).build();
    assert!(matches!(
        log.append_as_leader(big, 0, NOW),
        Err(LogError::RecordTooLarge { max: 500, .. })
    ));
    let mut two = batch(1).to_vec();
    let mut bad = batch(1).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    two.extend_from_slice(&bad);
    assert!(matches!(
        log.append_as_leader(Bytes::from(two), 0, NOW),
        Err(LogError::CorruptRecord(_))
    ));
    let mut torn = batch(1).to_vec();
    torn.truncate(100);
    assert!(matches!(
        log.append_as_leader(Bytes::from(torn), 0, NOW),
        Err(LogError::CorruptRecord(_))
    ));
    assert!(matches!(
        log.append_as_leader(Bytes::new(), 0, NOW),
        Err(LogError::InvalidRecord { .. })
    ));
    let control = BatchBuilder::new().attributes(0x20).sized(1, 10).build();
    assert!(matches!(
        log.append_as_leader(control, 0, NOW),
        Err(LogError::InvalidRecord { .. })
    ));
    assert_eq!((log.log_end_offset(), log.size_in_bytes()), (0, 0));
}

#[test]
fn log_append_time_rewrites_timestamp_and_keeps_crc_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        message_timestamp_type_log_append: true,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let info = log
        .append_as_leader(
            BatchBuilder::new().timestamp(5).sized(2, 10).build(),
            0,
            NOW,
        )
        .expect("append");
    assert_eq!(info.log_append_time_ms, NOW);
    let records = log.read(0, 1 << 20, true, None).expect("read").records;
    let h = validate_batch(&records).expect("CRC still valid");
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, NOW);
    assert_eq!(log.max_timestamp(), Some((1, NOW)));
    assert_eq!(
        log.offset_for_timestamp(NOW).expect("lookup"),
        Some((0, NOW))
    );
}

#[test]
fn offset_for_timestamp_uses_the_time_index_and_finds_the_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = open(dir.path(), small_config());
    // Batch i holds offsets 2i and 2i+1 with timestamps 1000*i and 1000*i + 500.
    for i in 0..30 {
        let b = BatchBuilder::new()
            .timestamp(1000 * i)
            .deltas(&[0, 500])
            .sized(2, 100)
            .build();
        log.append_as_leader(b, 0, NOW).expect("append");
    }
    assert!(log.segment_count() > 3);
    assert_eq!(log.offset_for_timestamp(0).expect("ts"), Some((0, 0)));
    assert_eq!(
        log.offset_for_timestamp(7200).expect("ts"),
        Some((15, 7500))
    );
    assert_eq!(
        log.offset_for_timestamp(7500).expect("ts"),
        Some((15, 7500))
    );
    assert_eq!(
        log.offset_for_timestamp(7501).expect("ts"),
        Some((16, 8000))
    );
    assert_eq!(log.offset_for_timestamp(29_501).expect("ts"), None);
    assert_eq!(log.max_timestamp(), Some((59, 29_500)));
    // A compressed batch answers at batch granularity (documented limitation).
    let gz = BatchBuilder::new()
        .attributes(1)
        .timestamp(40_000)
        .deltas(&[0, 500])
        .sized(2, 10)
        .build();
    log.append_as_leader(gz, 0, NOW).expect("append");
    assert_eq!(
        log.offset_for_timestamp(40_100).expect("ts"),
        Some((60, 40_500))
    );
    // After DeleteRecords the answer never falls below log_start_offset.
    log.delete_records_before(31).expect("delete");
    assert_eq!(log.offset_for_timestamp(0).expect("ts"), Some((31, 15_500)));
}

/// Every read, whatever its offset, budget and limit, returns exactly the whole batches a walk
/// over all batches in memory selects: the ones from the batch holding the fetch offset, below
/// the limit, that fit the budget (the first one always when asked), crossing segment ends.
#[test]
fn reads_match_a_walk_over_every_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes: 8 * 1024,
        index_interval_bytes: 700,
        ..small_config()
    };
    let mut log = open(dir.path(), config);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for _ in 0..150 {
        let records = 1 + next(4) as usize;
        let size = [10, 100, 900][next(3) as usize];
        log.append_as_leader(BatchBuilder::new().sized(records, size).build(), 0, NOW)
            .expect("append");
    }
    let all = batches(log.read(0, usize::MAX, false, None).expect("read").records);
    let end = log.log_end_offset();
    for _ in 0..3000 {
        let fetch = next(end as u64 + 1) as i64;
        let max_bytes = next(12_000) as usize;
        let min_one = next(2) == 0;
        let limit = if next(3) == 0 {
            None
        } else {
            Some(next(end as u64 + 2) as i64)
        };
        let mut expected = Vec::new();
        let mut used = 0;
        for h in all.iter().filter(|h| h.last_offset() >= fetch) {
            if limit.is_some_and(|l| h.base_offset >= l) {
                break;
            }
            let size = h.size_in_bytes();
            if used + size > max_bytes && !(min_one && expected.is_empty()) {
                break;
            }
            used += size;
            expected.push(h.base_offset);
        }
        let what = format!("fetch {fetch} max {max_bytes} min_one {min_one} limit {limit:?}");
        let slices = log
            .read_slices(fetch, max_bytes, min_one, limit)
            .expect(&what);
        let read = batches(slices.read_all().expect("read slices"));
        let bases: Vec<i64> = read.iter().map(|h| h.base_offset).collect();
        assert_eq!(bases, expected, "{what}");
        let after = read.last().map_or(fetch, |h| h.last_offset() + 1);
        assert_eq!(slices.next_offset, after, "{what}");
    }
}
