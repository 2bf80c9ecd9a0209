//! Small per-partition checkpoint files and the clean-shutdown marker.
//!
//! Files in the partition directory, next to the segments:
//! - `recovery-point-checkpoint`: offset below which everything is fsynced (written at flush);
//!   segments at or after it are rescanned after an unclean shutdown.
//! - `log-start-offset-checkpoint`: the log_start_offset raised by DeleteRecords or retention.
//! - `clean-shutdown`: empty marker written by `close()` and removed at open, so a later crash
//!   (kill -9) is detected at the next start.
//!
//! Offset file format, text like Kafka's checkpoint files: a version line `0`, then the offset
//! in decimal, each line ending in `\n`. Written to `<name>.tmp`, fsynced, renamed over the old
//! file and the directory fsynced, so a reader sees either the old or the new value. A file
//! that does not parse is ignored with a warning: both values have a safe fallback (recover
//! everything; the first segment's base offset).

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::error::{IoContext, LogError};

pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point-checkpoint";
pub(crate) const LOG_START_OFFSET_FILE: &str = "log-start-offset-checkpoint";
pub const CLEAN_SHUTDOWN_FILE: &str = "clean-shutdown";
const VERSION: &str = "0";

/// Atomically replaces `dir/name` with `contents`.
pub(crate) fn write_atomically(dir: &Path, name: &str, contents: &[u8]) -> Result<(), LogError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp).at(&tmp)?;
    f.write_all(contents).at(&tmp)?;
    f.sync_all().at(&tmp)?;
    let target = dir.join(name);
    fs::rename(&tmp, &target).at(&target)?;
    sync_dir(dir)
}

/// fsync a directory so created, renamed and removed entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Makes every change to the file system holding `dir` durable (syncfs(2)): one call after
/// opening many logs instead of a directory fsync for each.
pub fn sync_log_dir(dir: &Path) -> Result<(), LogError> {
    let d = File::open(dir).at(dir)?;
    rustix::fs::syncfs(&d).map_err(|e| LogError::io(dir, e.into()))
}

pub(crate) fn write_offset(dir: &Path, name: &str, offset: i64) -> Result<(), LogError> {
    write_atomically(dir, name, format!("{VERSION}\n{offset}\n").as_bytes())
}

/// The stored offset, `None` when the file is missing or unreadable garbage.
pub(crate) fn read_offset(dir: &Path, name: &str) -> Result<Option<i64>, LogError> {
    let path = dir.join(name);
    let text = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(&path, e)),
    };
    let text = String::from_utf8_lossy(&text);
    let mut lines = text.lines();
    match (lines.next(), lines.next().map(str::parse::<i64>)) {
        (Some(VERSION), Some(Ok(offset))) if offset >= 0 => Ok(Some(offset)),
        _ => {
            tracing::warn!(path = %path.display(), "ignoring unreadable checkpoint file");
            Ok(None)
        }
    }
}

pub(crate) fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(LogError::io(path, e)),
        _ => Ok(()),
    }
}
