//! The `.log` file of one segment, and the file descriptor it may hold.
//!
//! File descriptors are budgeted: a partition holds at most one at rest, its active segment's
//! (Kafka holds one per segment). A segment created to be written to (a new partition, a roll)
//! opens its file for writing and holds it: creating a partition fails while there is no
//! descriptor to spare, rather than later at the first append. Sealed segments, and segments
//! opened at start-up (loading stays lazy, so a broker restarts whatever its partition count),
//! hold none: a read opens the file and shares that handle with every reader while one of them
//! holds it (a `FileSlice` in flight to a socket keeps an `Arc<File>`), and the file closes when
//! the last reader drops it. An append to a segment that holds no handle opens one for writing
//! and keeps it.
//!
//! Thread safety: `&self` reads may run concurrently (the partition's read lock); the shared
//! handle sits behind a short mutex that is never held across I/O other than the open.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use super::error::{IoContext, LogError};

pub(crate) struct SegmentFile {
    path: PathBuf,
    /// The handle appends write through, held while the segment is written to.
    held: Option<Arc<File>>,
    /// The handle readers share while any of them holds it (and the held one, if any).
    shared: Mutex<Weak<File>>,
}

impl SegmentFile {
    /// Creates (or empties) the file and holds a handle for writing.
    pub(crate) fn create(path: PathBuf) -> Result<SegmentFile, LogError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at(&path)?;
        let file = Arc::new(file);
        Ok(SegmentFile {
            path,
            shared: Mutex::new(Arc::downgrade(&file)),
            held: Some(file),
        })
    }

    /// An existing file, not opened until used.
    pub(crate) fn existing(path: PathBuf) -> SegmentFile {
        SegmentFile {
            path,
            held: None,
            shared: Mutex::new(Weak::new()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A handle for reading: the held or shared one, else a new one that the next readers share.
    pub(crate) fn get(&self) -> Result<Arc<File>, LogError> {
        if let Some(file) = &self.held {
            return Ok(file.clone());
        }
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = shared.upgrade() {
            return Ok(file);
        }
        let file = Arc::new(File::open(&self.path).at(&self.path)?);
        *shared = Arc::downgrade(&file);
        Ok(file)
    }

    /// The handle to write through, opened (and then held) if the segment holds none.
    pub(crate) fn writable(&mut self) -> Result<&File, LogError> {
        if self.held.is_none() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.path)
                .at(&self.path)?;
            let file = Arc::new(file);
            *self.shared.get_mut().unwrap_or_else(|p| p.into_inner()) = Arc::downgrade(&file);
            self.held = Some(file);
        }
        Ok(self.held.as_deref().expect("held above"))
    }

    /// Stops holding the handle (the segment was sealed); readers in flight keep theirs.
    pub(crate) fn release(&mut self) {
        self.held = None;
    }

    /// Whether the segment holds a descriptor at rest (tests).
    #[cfg(test)]
    pub(crate) fn holds_descriptor(&self) -> bool {
        self.held.is_some()
    }
}
