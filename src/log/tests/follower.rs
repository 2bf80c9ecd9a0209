//! The follower's append: the leader's batches land unchanged (same offsets, epochs, bytes),
//! and the epoch cache, producer state and aborted-transaction index come out as the leader's.

use std::fs;

use bytes::Bytes;

use super::*;
use crate::log::builder::ControlType;
use crate::log::LogError;

/// Everything the leader's log holds from `from` on, as a follower's fetch would get it.
fn fetch_from(leader: &Log, from: i64, max_bytes: usize) -> Bytes {
    leader
        .read(from, max_bytes, true, None)
        .expect("read")
        .records
}

/// The concatenated segment files of a log directory, oldest first.
fn segment_bytes(dir: &Path) -> Vec<u8> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    names.sort();
    names
        .iter()
        .flat_map(|p| fs::read(p).expect("read"))
        .collect()
}

fn replicate(leader: &Log, follower: &mut Log, chunk: usize) {
    while follower.log_end_offset() < leader.log_end_offset() {
        let records = fetch_from(leader, follower.log_end_offset(), chunk);
        follower
            .append_as_follower(records, NOW)
            .expect("follower append");
    }
}

#[test]
fn a_follower_log_is_the_leaders_byte_for_byte() {
    let (ld, fd) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut leader = open(ld.path(), small_config());
    let mut follower = open(fd.path(), small_config());
    for epoch in [0, 0, 2, 2, 2, 5] {
        leader
            .append_as_leader(batch(3), epoch, NOW)
            .expect("append");
    }
    let idempotent = BatchBuilder::new().producer(7, 1, 0).sized(2, 50).build();
    leader
        .append_as_leader(idempotent, 5, NOW)
        .expect("idempotent");
    let txn = BatchBuilder::new()
        .producer(9, 0, 0)
        .attributes(0x10)
        .sized(2, 50)
        .build();
    leader.append_as_leader(txn, 5, NOW).expect("txn");
    leader
        .append_txn_marker(9, 0, ControlType::Abort, 0, 5, NOW)
        .expect("abort");
    // Small fetches, so the follower rolls its segments on its own.
    replicate(&leader, &mut follower, 300);

    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(all_offsets(&follower), all_offsets(&leader));
    assert_eq!(
        follower.leader_epoch_entries(),
        leader.leader_epoch_entries()
    );
    assert_eq!(
        follower.producer_entry(7).map(|e| e.producer_epoch),
        Some(1),
        "idempotent producer state rebuilt from the batches"
    );
    assert_eq!(
        follower.aborted_transactions(0, follower.log_end_offset()),
        leader.aborted_transactions(0, leader.log_end_offset())
    );
    assert_eq!(follower.first_unstable_offset(), None);
    assert_eq!(segment_bytes(fd.path()), segment_bytes(ld.path()));
    assert!(follower.segment_count() > 1, "the follower rolled");

    // A retry of the idempotent batch on the follower, once it leads, is a duplicate.
    let retry = BatchBuilder::new().producer(7, 1, 0).sized(2, 50).build();
    let info = follower.append_as_leader(retry, 6, NOW).expect("retry");
    assert!(info.duplicate);
    // And everything survives a restart.
    drop(follower);
    let follower = open(fd.path(), small_config());
    assert_eq!(all_offsets(&follower), all_offsets(&leader));
}

#[test]
fn a_corrupt_or_misplaced_fetch_appends_nothing() {
    let (ld, fd) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut leader = open(ld.path(), small_config());
    let mut follower = open(fd.path(), small_config());
    append_batches(&mut leader, 3, 2);
    let good = fetch_from(&leader, 0, 1 << 20);

    let mut corrupt = good.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff; // inside the last batch's CRC span
    let err = follower.append_as_follower(Bytes::from(corrupt), NOW);
    assert!(err.is_err(), "a CRC mismatch is refused");
    assert_eq!(follower.log_end_offset(), 0, "and nothing was appended");

    follower
        .append_as_follower(good.clone(), NOW)
        .expect("append");
    assert_eq!(follower.log_end_offset(), 6);
    let again = follower.append_as_follower(good, NOW);
    assert!(
        matches!(again, Err(LogError::InvalidRecord { .. })),
        "batches below the log end are refused: {again:?}"
    );
    assert_eq!(follower.log_end_offset(), 6);
    assert!(follower.append_as_follower(Bytes::new(), NOW).is_err());
}

#[test]
fn truncation_then_refetch_converges_on_the_leaders_log() {
    let (ld, fd) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut old_leader = open(fd.path(), small_config());
    let mut new_leader = open(ld.path(), small_config());
    // Both hold epoch 0's first batches; the old leader then wrote more that never replicated.
    for log in [&mut old_leader, &mut new_leader] {
        log.append_as_leader(batch(2), 0, NOW).expect("append");
    }
    old_leader.append_as_leader(batch(4), 0, NOW).expect("lost");
    new_leader
        .append_as_leader(batch(1), 1, NOW)
        .expect("epoch 1");
    // The old leader, now a follower, truncates where epoch 0 ends on the new leader.
    let diverging = new_leader.end_offset_for_epoch(0, -1);
    assert_eq!((diverging.leader_epoch, diverging.end_offset), (0, 2));
    old_leader
        .truncate_to(diverging.end_offset)
        .expect("truncate");
    replicate(&new_leader, &mut old_leader, 1 << 20);
    assert_eq!(all_offsets(&old_leader), all_offsets(&new_leader));
    assert_eq!(segment_bytes(fd.path()), segment_bytes(ld.path()));
    assert_eq!(
        old_leader.leader_epoch_entries(),
        new_leader.leader_epoch_entries()
    );
}

/// A follower that needs offsets the leader's retention deleted starts its log again, empty, at
/// the leader's log start, then replicates the rest byte for byte; it survives a restart there.
#[test]
fn a_follower_behind_the_leaders_log_start_starts_again_there() {
    let (ld, fd) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut leader = open(ld.path(), small_config());
    let mut follower = open(fd.path(), small_config());
    append_batches(&mut leader, 4, 1);
    replicate(&leader, &mut follower, 1 << 20);
    // Batches of two records: DeleteRecords at 13 leaves the leader's log start inside the
    // batch [12, 13].
    append_batches(&mut leader, 8, 2);
    leader.delete_records_before(13).expect("delete records");
    let start = leader.log_start_offset();
    assert_eq!(start, 13);
    assert!(start > follower.log_end_offset());

    follower
        .truncate_fully_and_start_at(start)
        .expect("restart at the leader's start");
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (start, start)
    );
    // The leader serves the whole batch holding its log start: the follower starts at its base.
    replicate(&leader, &mut follower, 1 << 20);
    assert_eq!(follower.log_start_offset(), 12);
    let from = |log: &Log| {
        all_offsets(log)
            .into_iter()
            .filter(|&o| o >= 13)
            .collect::<Vec<_>>()
    };
    assert_eq!(from(&follower), from(&leader));
    drop(follower);
    let follower = open(fd.path(), small_config());
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (12, leader.log_end_offset())
    );
    assert_eq!(from(&follower), from(&leader));
}
