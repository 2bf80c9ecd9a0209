//! Making the log durable: fsync of what was appended, the recovery point, and the background
//! flush of rolled segments.
//!
//! A roll seals the active segment without an fsync and starts the next one; the sealed
//! segment's data, its indexes and the new segment's directory entry are fsynced later, off the
//! append path, by a [`RolledFlush`] the owner of the log runs outside its lock (Kafka's
//! "flush-log" task after a roll). When it completes, the producer-state snapshot taken at the
//! roll is written and the recovery point advances to the new segment's base. Until then the
//! recovery point stays where it was, so a crash rescans the rolled segment: nothing is trusted
//! before it is durable.
//!
//! The recovery point and the snapshot files are shared with the background flush through
//! [`Durability`]: its lock orders their writes, and a truncation (which can remove what a flush
//! in progress synced) bumps its generation so that such a flush advances nothing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::checkpoint;
use super::error::{IoContext, LogError};
use super::producer_state::write_snapshot_bytes;
use super::Log;

/// The recovery point, shared between the log and its background flushes.
#[derive(Debug)]
pub(crate) struct Durability {
    /// Offsets below this are fsynced (the `recovery-point-checkpoint` file's value).
    recovery_point: AtomicI64,
    /// Bumped by truncations: a flush planned before one advances nothing.
    generation: AtomicU64,
    /// Held while the recovery point or a snapshot file is written.
    files: Mutex<()>,
}

impl Durability {
    pub(crate) fn new(recovery_point: i64) -> Arc<Durability> {
        Arc::new(Durability {
            recovery_point: AtomicI64::new(recovery_point),
            generation: AtomicU64::new(0),
            files: Mutex::new(()),
        })
    }

    pub(crate) fn recovery_point(&self) -> i64 {
        self.recovery_point.load(Ordering::Acquire)
    }

    /// Held by whoever writes the recovery point or snapshot files, or deletes snapshots.
    pub(crate) fn lock_files(&self) -> MutexGuard<'_, ()> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A truncation began: flushes planned before it must not advance anything.
    pub(crate) fn truncating(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Writes `offset` as the recovery point (the caller holds [`Self::lock_files`]).
    fn store(&self, dir: &Path, offset: i64, _files: &MutexGuard<'_, ()>) -> Result<(), LogError> {
        if self.recovery_point.swap(offset, Ordering::AcqRel) != offset {
            checkpoint::write_offset(dir, checkpoint::RECOVERY_POINT_FILE, offset)?;
        }
        Ok(())
    }
}

/// What makes the segments rolled so far durable, run outside the log's lock.
#[derive(Debug)]
pub struct RolledFlush {
    dir: PathBuf,
    /// The files of every sealed segment at or above the recovery point when it was planned.
    files: Vec<PathBuf>,
    /// Producer state at `upto`, encoded at the roll.
    snapshot: Vec<u8>,
    /// The active segment's base when it was planned: the recovery point once this is done.
    upto: i64,
    generation: u64,
    durability: Arc<Durability>,
}

impl RolledFlush {
    /// fsyncs the rolled segments and the directory, then writes the producer snapshot and
    /// advances the recovery point, unless a truncation came in between.
    pub fn run(self) -> Result<(), LogError> {
        for path in &self.files {
            match File::open(path) {
                Ok(f) => f.sync_all().at(path)?,
                // Renamed away meanwhile (retention, compaction, truncation): nothing to keep.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(path, e)),
            }
        }
        checkpoint::sync_dir(&self.dir)?;
        let d = &self.durability;
        let files = d.lock_files();
        if d.generation.load(Ordering::Acquire) != self.generation
            || d.recovery_point() >= self.upto
        {
            return Ok(());
        }
        write_snapshot_bytes(&self.dir, self.upto, &self.snapshot)?;
        d.store(&self.dir, self.upto, &files)?;
        tracing::debug!(dir = %self.dir.display(), recovery_point = self.upto, "flushed rolled segments");
        Ok(())
    }

    /// Runs it on tokio's blocking pool when there is a runtime, else here; failures are logged
    /// (the recovery point then stays behind, and the next flush or restart covers the data).
    pub fn spawn(self) {
        let run = move || {
            let dir = self.dir.clone();
            if let Err(e) = self.run() {
                tracing::warn!(dir = %dir.display(), error = %e, "background flush of rolled segments failed");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(run);
            }
            Err(_) => run(),
        }
    }
}

impl Log {
    pub(super) fn recovery_point(&self) -> i64 {
        self.durability.recovery_point()
    }

    pub(super) fn flush_due(&self, now_ms: i64) -> bool {
        self.unflushed_messages > 0
            && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_interval_ms
    }

    /// After a roll: the background flush that makes the rolled segments durable. The owner of
    /// the log takes it under the log's lock and runs it ([`RolledFlush::spawn`]) outside.
    pub fn take_rolled_flush(&mut self) -> Option<RolledFlush> {
        let (upto, snapshot) = self.rolled.take()?;
        let recovery_point = self.recovery_point();
        let files = self
            .segments_from(recovery_point)
            .filter(|s| s.base_offset < upto)
            .flat_map(|s| s.file_paths())
            .collect();
        Some(RolledFlush {
            dir: self.dir.clone(),
            files,
            snapshot,
            upto,
            generation: self.durability.generation.load(Ordering::Acquire),
            durability: Arc::clone(&self.durability),
        })
    }

    /// Writes `offset` as the recovery point.
    pub(super) fn write_recovery_point(&mut self, offset: i64) -> Result<(), LogError> {
        let files = self.durability.lock_files();
        self.durability.store(&self.dir, offset, &files)
    }

    /// fsync everything appended (the active segment and any rolled segment not yet flushed in
    /// the background), then advance the recovery point to the log end.
    pub fn flush(&mut self) -> Result<(), LogError> {
        let rolled = self.segments_from(self.recovery_point()).count() > 1;
        // The active segment's index entries reach their files here (`index.rs`); rolled
        // segments' were written when they were sealed.
        self.active.flush()?;
        let active = self.active.base_offset;
        for seg in self.segments_from(self.recovery_point()) {
            if seg.base_offset != active {
                seg.sync()?;
            }
        }
        if rolled {
            checkpoint::sync_dir(&self.dir)?;
        }
        self.unflushed_messages = 0;
        self.last_flush_ms = self.last_now_ms;
        self.write_recovery_point(self.log_end_offset)
    }

    /// What an fsync outside the log's lock needs to make every offset from `from` to the log
    /// end durable: handles on the `.log` files that hold them (more than one after a roll,
    /// when the directory needs an fsync too) and that end offset. Indexes need no sync here:
    /// after a crash they are rebuilt from the log above the recovery point.
    pub fn sync_target(&self, from: i64) -> Result<(Vec<File>, i64), LogError> {
        let files = self
            .segments_from(from.max(self.recovery_point()))
            .map(|s| s.log_file_handle())
            .collect::<Result<_, _>>()?;
        Ok((files, self.log_end_offset))
    }

    /// The directory the log lives in (fsynced after a roll).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
