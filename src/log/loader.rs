//! Opening a partition directory: loading segments and recovering after a crash.
//!
//! Steps: finish a segment swap of the cleaner that a crash interrupted (see
//! `cleaner/swap.rs`); remove stray files (`*.deleted`, `*.cleaned`, `*.swap`, `*.tmp`, indexes without a
//! `.log`); open segments in offset order; scan (validate every batch, rebuild indexes) every
//! segment holding offsets at or after the recovery point when the clean-shutdown marker is
//! absent, and any segment whose indexes fail their sanity checks. After a clean close the last
//! segment's indexes are trusted too and only the headers after its last index entry are read
//! (`Segment::open_last_after_clean_close`); without the marker the last segment is always
//! scanned.
//!
//! What invalid bytes mean depends on where they are. In the last segment, or in a segment
//! followed only by empty segments, they are a torn tail: cut off with a warning, and the empty
//! followers removed. Anywhere else valid data follows the damage, so dropping it would lose
//! acknowledged records: `LogError::Corrupt` stops start-up for an operator to decide.
//!
//! The leader-epoch cache comes from `leader-epoch-checkpoint`; it is rebuilt from the
//! batches' partition_leader_epoch when the file is missing, completed from the rescanned
//! batches after a crash, and cut to the recovered log's bounds.
//!
//! Finally producer state is reloaded (snapshot + replay), recovered segments are fsynced, the
//! recovery point is advanced (written only if it changed), and the clean-shutdown marker is
//! removed so that a crash from here on is detected at the next start. A fresh or cleanly closed
//! log is so opened without a single fsync; the caller makes the marker's removal durable with
//! one `sync_log_dir` for all the logs it opened.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::checkpoint::{self, CLEAN_SHUTDOWN_FILE, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE};
use super::cleaner::{complete_swaps, CLEANER_CHECKPOINT_FILE};
use super::config::LogConfig;
use super::error::{IoContext, LogError};
use super::leader_epoch::LeaderEpochCache;
use super::producer_state::ProducerStateManager;
use super::segment::{file_name, Segment};
use super::Log;

const STRAY_SUFFIXES: [&str; 4] = [".deleted", ".cleaned", ".swap", ".tmp"];

impl Log {
    /// Opens (creating if missing) the partition directory `dir`, recovering it if needed.
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64) -> Result<Log, LogError> {
        fs::create_dir_all(dir).at(dir)?;
        let clean = dir.join(CLEAN_SHUTDOWN_FILE).exists();
        complete_swaps(dir)?;
        let bases = list_segments(dir)?;
        let stored_recovery_point = checkpoint::read_offset(dir, RECOVERY_POINT_FILE)?;
        let recovery_point = if clean {
            i64::MAX
        } else {
            stored_recovery_point.unwrap_or(0)
        };
        if !clean && !bases.is_empty() {
            tracing::info!(dir = %dir.display(), recovery_point, "recovering log after unclean shutdown");
        }

        let mut segments = Vec::with_capacity(bases.len());
        // Base of the first segment rescanned: its batches are checked against the epoch cache.
        let mut first_recovered = None;
        for (i, &base) in bases.iter().enumerate() {
            let next = bases.get(i + 1).copied();
            let needs_scan = next.is_none_or(|n| n > recovery_point);
            let fast = match next {
                None if clean => Segment::open_last_after_clean_close(dir, base)?,
                _ => None,
            };
            let (mut seg, trusted) = match fast {
                Some(seg) => (seg, true),
                None => Segment::open(dir, base, next.filter(|_| !needs_scan))?,
            };
            let mut torn = false;
            if !trusted {
                first_recovered.get_or_insert(base);
                let outcome = seg.recover(config.index_interval_bytes)?;
                if let Some(reason) = outcome.invalid {
                    if followed_by_data(dir, &bases[i + 1..])? {
                        return Err(seg.corrupt(outcome.valid_bytes, reason));
                    }
                    tracing::warn!(
                        segment = %seg.log_path().display(),
                        position = outcome.valid_bytes,
                        bytes_dropped = seg.size() - outcome.valid_bytes,
                        %reason,
                        "truncating torn tail of log segment"
                    );
                    seg.truncate_bytes(outcome.valid_bytes)?;
                    torn = true;
                }
                if let Some(n) = next.filter(|n| seg.next_offset() > *n) {
                    let reason = format!(
                        "segment ends at offset {} past the next base {n}",
                        seg.next_offset()
                    );
                    return Err(seg.corrupt(seg.size(), reason));
                }
                seg.flush()?;
            }
            segments.push(seg);
            if torn {
                for &empty in &bases[i + 1..] {
                    for ext in ["log", "index", "timeindex", "txnindex"] {
                        checkpoint::remove_if_exists(&dir.join(file_name(empty, ext)))?;
                    }
                }
                break;
            }
        }

        let checkpointed_start = checkpoint::read_offset(dir, LOG_START_OFFSET_FILE)?;
        let active = match segments.pop() {
            Some(seg) => seg,
            None => Segment::create(dir, checkpointed_start.unwrap_or(0))?,
        };
        let sealed: BTreeMap<i64, Segment> =
            segments.into_iter().map(|s| (s.base_offset, s)).collect();
        let log_end_offset = active.next_offset();
        let first_base = sealed.keys().next().copied().unwrap_or(active.base_offset);
        let log_start_offset = checkpointed_start
            .unwrap_or(0)
            .max(first_base)
            .min(log_end_offset);

        let (leader_epochs, found_epochs) = LeaderEpochCache::load(dir)?;
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            sealed,
            active,
            log_start_offset,
            log_end_offset,
            // What the file holds (missing: 0, which recovery assumes then): unchanged, it is
            // not rewritten below.
            durability: super::flush::Durability::new(stored_recovery_point.unwrap_or(0)),
            rolled: None,
            producers: ProducerStateManager::default(),
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            last_now_ms: now_ms,
            pending_deletes: Vec::new(),
            cleaner_checkpoint: checkpoint::read_offset(dir, CLEANER_CHECKPOINT_FILE)?.unwrap_or(0),
            delete_horizon_due: None,
            leader_epochs,
        };
        // Without a checkpoint every batch is read for its epoch; after a crash the batches
        // recovery rescanned (the checkpoint cannot lack their epochs, but may hold more).
        let epochs_from = if !found_epochs {
            Some(first_base)
        } else if clean {
            None
        } else {
            first_recovered
        };
        log.load_leader_epochs(epochs_from, !found_epochs)?;
        log.rebuild_producer_state()?;
        log.write_recovery_point(log_end_offset)?;
        // Not made durable here, one directory fsync per partition: the caller syncs the file
        // system once after opening every log (`sync_log_dir`), as Kafka removes its one
        // clean-shutdown file per log directory.
        checkpoint::remove_if_exists(&dir.join(CLEAN_SHUTDOWN_FILE))?;
        Ok(log)
    }
}

impl Log {
    /// Brings the epoch cache in line with the recovered log: epochs of the batches from the
    /// segment holding `from` on that are newer than the cache's latest are assigned (Kafka's
    /// LogSegment.recover), then entries past the log end or before its start are cut. The
    /// checkpoint is written if anything changed, or if `rewrite` (it was missing).
    fn load_leader_epochs(&mut self, from: Option<i64>, rewrite: bool) -> Result<(), LogError> {
        let mut changed = rewrite;
        let mut cache = self.leader_epochs.entries().clone();
        if let Some(from) = from {
            for seg in self.segments_from(from) {
                let _shared = seg.reader()?;
                let mut position = 0;
                while let Some(h) = seg.header_at(position)? {
                    position += h.size_in_bytes() as u64;
                    let epoch = h.partition_leader_epoch;
                    if epoch >= 0 && cache.latest().is_none_or(|l| l.epoch < epoch) {
                        changed |= cache.assign(epoch, h.base_offset);
                    }
                }
            }
        }
        changed |= cache.truncate_from_end(self.log_end_offset);
        changed |= cache.truncate_from_start(self.log_start_offset);
        *self.leader_epochs.entries_mut() = cache;
        // A missing checkpoint of an empty log stays missing: the first assign writes it.
        if changed && !(rewrite && self.leader_epochs.entries().as_slice().is_empty()) {
            self.leader_epochs.write()?;
        }
        Ok(())
    }
}

/// Whether any of these segments holds data (then damage before them is interior).
fn followed_by_data(dir: &Path, later: &[i64]) -> Result<bool, LogError> {
    for &base in later {
        let path = dir.join(file_name(base, "log"));
        if fs::metadata(&path).at(&path)?.len() > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Base offsets of the segments in `dir`, ascending, after removing stray files.
fn list_segments(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if STRAY_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            tracing::info!(file = %path.display(), "removing stray file");
            checkpoint::remove_if_exists(&path)?;
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(base) = stem.parse::<i64>() else {
            continue;
        };
        match ext {
            "log" => bases.push(base),
            "index" | "timeindex" | "txnindex" => indexes.push((base, path)),
            _ => {}
        }
    }
    bases.sort_unstable();
    for (base, path) in indexes {
        if bases.binary_search(&base).is_err() {
            checkpoint::remove_if_exists(&path)?;
        }
    }
    Ok(bases)
}
