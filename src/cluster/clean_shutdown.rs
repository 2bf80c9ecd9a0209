//! The log directory's clean-shutdown file, as Kafka writes it: `<log.dirs>/.kafka_cleanshutdown`
//! holding `{"version":0,"brokerEpoch":<epoch>}`, written once every log is closed and removed at
//! the next start. The broker sends the epoch it read as its previous broker epoch when it
//! registers; a missing file (kill -9, power loss) tells the controller the shutdown was
//! unclean, so that the broker leaves every ISR and ELR (KIP-966): it may have lost records it
//! had acknowledged as a follower.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CleanShutdown {
    version: i32,
    broker_epoch: i64,
}

/// Reads and removes the file: the epoch of the last clean shutdown, `None` without one (a file
/// that does not parse counts as none, with a warning).
pub fn take_previous_broker_epoch(log_dir: &Path) -> Option<i64> {
    let path = log_dir.join(CLEAN_SHUTDOWN_FILE);
    let bytes = std::fs::read(&path).ok()?;
    let epoch = match serde_json::from_slice::<CleanShutdown>(&bytes) {
        Ok(c) if c.version == 0 && c.broker_epoch > 0 => Some(c.broker_epoch),
        _ => {
            tracing::warn!(path = %path.display(), "ignoring an unreadable clean-shutdown file");
            None
        }
    };
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove the clean-shutdown file");
        return None;
    }
    // The removal must be durable before this run can be trusted to say "clean" next time.
    if let Err(e) = std::fs::File::open(log_dir).and_then(|d| d.sync_all()) {
        tracing::warn!(path = %log_dir.display(), error = %e, "cannot sync the log directory");
        return None;
    }
    epoch
}

/// Writes the file (atomically, fsynced) after every log has been closed.
pub fn write(log_dir: &Path, broker_epoch: i64) -> std::io::Result<()> {
    let json = serde_json::to_vec(&CleanShutdown {
        version: 0,
        broker_epoch,
    })
    .map_err(std::io::Error::other)?;
    let tmp = log_dir.join(format!("{CLEAN_SHUTDOWN_FILE}.tmp"));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, log_dir.join(CLEAN_SHUTDOWN_FILE))?;
    std::fs::File::open(log_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_once_and_garbage_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(take_previous_broker_epoch(dir.path()), None);
        write(dir.path(), 42).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CLEAN_SHUTDOWN_FILE)).unwrap(),
            r#"{"version":0,"brokerEpoch":42}"#
        );
        assert_eq!(take_previous_broker_epoch(dir.path()), Some(42));
        assert_eq!(take_previous_broker_epoch(dir.path()), None, "read once");
        std::fs::write(dir.path().join(CLEAN_SHUTDOWN_FILE), b"{not json").unwrap();
        assert_eq!(take_previous_broker_epoch(dir.path()), None);
        assert!(!dir.path().join(CLEAN_SHUTDOWN_FILE).exists());
    }
}
