//! Swapping cleaned segments in, crash-safely, and finishing an interrupted swap at start-up.
//!
//! Steps for one group (Kafka's `.cleaned` -> `.swap` -> rename), under the log's write lock:
//!
//! 1. `rewrite` wrote and fsynced `<base>.{txnindex,index,timeindex,log}.cleaned`;
//! 2. each is renamed to `.swap`, the `.log` last, and the directory fsynced. The `.log.swap`
//!    is the commit point: from here a restart completes the swap;
//! 3. the replaced segments are renamed to `*.deleted` (removed after file.delete.delay.ms);
//! 4. each `.swap` is renamed to its final name, the `.log` last, and the directory fsynced.
//!
//! Recovery (`complete_swaps`, before the loader lists segments): for every `<base>.log.swap`,
//! the segments whose base lies in `(base, next offset of the swap)` are replaced segments not
//! yet renamed away: their files are removed; then the remaining `<base>.*.swap` files are
//! renamed to their final names (overwriting the replaced segment's files at `base`). A
//! `.txnindex.swap` always exists until step 4, so an old transaction index can never survive
//! next to new data. `.cleaned` files, and `.swap` index files without a `.log.swap` (a crash in
//! step 2), are an unfinished clean: the loader removes them and the old segments stand.
//! A `.log.swap` that does not start with a valid batch was not written by the cleaner and is
//! removed as a stray; one that is damaged further in stops start-up (`LogError::Corrupt`).
//! A replaced segment wholly above the swap's last offset (its records were all cleaned away)
//! may survive a crash in step 3: it holds older values of keys, never newer, so the log stays
//! a valid, less compacted, history.

use std::fs;
use std::path::{Path, PathBuf};

use super::super::checkpoint::{self, remove_if_exists};
use super::super::error::{IoContext, LogError};
use super::super::scan::{Scanned, SegmentScanner};
use super::super::segment::{file_name, Segment};
use super::super::Log;
use super::rewrite::{cleaned_path, remove_cleaned, CleanedGroup, SEGMENT_EXTS};

fn swap_path(dir: &Path, base: i64, ext: &str) -> PathBuf {
    dir.join(format!("{}.swap", file_name(base, ext)))
}

fn rename(from: &Path, to: &Path) -> Result<(), LogError> {
    fs::rename(from, to).at(from)
}

impl Log {
    /// Swaps one cleaned group in. `false` (and the `.cleaned` files removed) if the segments it
    /// replaces changed since the plan (retention or truncation got there first).
    pub(crate) fn swap_group(&mut self, group: &CleanedGroup) -> Result<bool, LogError> {
        let unchanged = group
            .sources
            .iter()
            .all(|(base, size)| self.sealed.get(base).is_some_and(|s| s.size() == *size));
        let next_base = group
            .sources
            .last()
            .and_then(|(b, _)| self.sealed.range(b + 1..).next().map(|(n, _)| *n))
            .unwrap_or(self.active.base_offset);
        if !unchanged || next_base != group.next_base {
            remove_cleaned(&self.dir, group.base)?;
            return Ok(false);
        }
        let dir = self.dir.clone();
        for ext in SEGMENT_EXTS {
            rename(
                &cleaned_path(&dir, group.base, ext),
                &swap_path(&dir, group.base, ext),
            )?;
        }
        checkpoint::sync_dir(&dir)?;
        let now = self.last_now_ms;
        for (base, _) in &group.sources {
            if let Some(mut old) = self.sealed.remove(base) {
                let renamed = old.rename_for_delete()?;
                self.schedule_delete(renamed, now)?;
            }
        }
        for ext in SEGMENT_EXTS {
            rename(
                &swap_path(&dir, group.base, ext),
                &dir.join(file_name(group.base, ext)),
            )?;
        }
        checkpoint::sync_dir(&dir)?;
        let (mut seg, trusted) = Segment::open(&dir, group.base, Some(group.next_base))?;
        if !trusted {
            if let Some(reason) = seg.recover(self.config.index_interval_bytes)?.invalid {
                return Err(seg.corrupt(0, reason));
            }
            seg.flush()?;
        }
        self.sealed.insert(group.base, seg);
        Ok(true)
    }
}

/// Finishes swaps a crash interrupted after their commit point (see the module docs).
pub(crate) fn complete_swaps(dir: &Path) -> Result<(), LogError> {
    let mut swaps = Vec::new();
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let name = entry.at(dir)?.file_name().to_string_lossy().into_owned();
        let parse = |stem: &str| {
            (stem.len() == 20)
                .then(|| stem.parse::<i64>().ok())
                .flatten()
        };
        if let Some(stem) = name.strip_suffix(".log.swap") {
            swaps.extend(parse(stem));
        } else if let Some(stem) = name.strip_suffix(".log") {
            bases.extend(parse(stem));
        }
    }
    swaps.sort_unstable();
    for base in swaps {
        let path = swap_path(dir, base, "log");
        let mut next = base;
        let mut scanner = SegmentScanner::open(&path, 0)?;
        let mut foreign = false;
        loop {
            match scanner.next_batch()? {
                Scanned::End => break,
                Scanned::Batch { header, .. } => next = header.last_offset() + 1,
                // Not a single batch: not a file the cleaner wrote. Left for the loader to
                // remove as a stray; the segments it would replace stand.
                Scanned::Invalid { position: 0, .. } => {
                    foreign = true;
                    break;
                }
                // The .swap was fsynced before it was named so: damage inside it is not a
                // torn write, and the segments it replaces may be gone. Stop for an operator.
                Scanned::Invalid { position, reason } => {
                    return Err(LogError::Corrupt {
                        path,
                        position,
                        reason: reason.to_string(),
                    })
                }
            }
        }
        if foreign {
            tracing::warn!(swap = %path.display(), "ignoring a swap file that holds no record batch");
            continue;
        }
        tracing::info!(swap = %path.display(), next_offset = next, "completing an interrupted segment swap");
        for &old in bases.iter().filter(|b| **b > base && **b < next) {
            for ext in SEGMENT_EXTS {
                remove_if_exists(&dir.join(file_name(old, ext)))?;
            }
        }
        for ext in SEGMENT_EXTS {
            let from = swap_path(dir, base, ext);
            if from.exists() {
                rename(&from, &dir.join(file_name(base, ext)))?;
            }
        }
        checkpoint::sync_dir(dir)?;
    }
    Ok(())
}
