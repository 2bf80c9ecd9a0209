//! Kafka's `bootstrap.checkpoint`: the metadata `kafka-storage.sh format` writes beside
//! `meta.properties` for a new cluster. Milena needs no format step, but an operator who runs
//! one, as Kafka's documentation says, gets what it asked for: the SCRAM credentials of
//! `--add-scram` (how a KRaft cluster whose brokers log in to each other with SCRAM gets its
//! first credential) and the feature levels of `--feature` / `--release-version`.
//!
//! As on Kafka, the checkpoint is applied once, when the cluster's metadata is new: the first
//! node to offer its checkpoint to the controller wins and a `Bootstrapped` record marks the
//! metadata, so a credential deleted later never comes back at the next restart.
//!
//! The file holds v2 record batches (a snapshot: control batches for its header and footer,
//! then data batches). Each data record's value is a metadata record framed as Kafka frames
//! them: unsigned varints for the frame version, the record type and its version, then the
//! record in its flexible-version encoding. Only the two types above are read; the others a
//! format writes (none today besides these) are counted and named in the log.

use std::path::Path;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use serde::{Deserialize, Serialize};

use super::features;
use crate::security::sasl::{ScramCredential, ScramMechanism};

/// The file's name in the first log directory, as Kafka names it.
pub const FILE_NAME: &str = "bootstrap.checkpoint";
/// A format writes a few hundred bytes; anything over this is not a bootstrap checkpoint.
const MAX_FILE_BYTES: u64 = 1 << 20;

const FEATURE_LEVEL_RECORD: u32 = 12;
const USER_SCRAM_CREDENTIAL_RECORD: u32 = 11;

/// What Milena applies from a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// (user, mechanism wire type, credential).
    pub scram: Vec<(String, i8, ScramCredential)>,
    /// Feature levels Milena supports at that level.
    pub features: Vec<(String, i16)>,
}

/// The checkpoint in `dir` with what was left out and why (for the log); `Ok(None)` without one.
pub fn read(dir: &Path) -> Result<Option<(Bootstrap, Vec<String>)>, String> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return Err(format!(
                "{}: {} bytes is too large for a bootstrap checkpoint",
                path.display(),
                m.len()
            ))
        }
        Ok(_) => std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    };
    parse(Bytes::from(bytes))
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a checkpoint's bytes.
pub fn parse(bytes: Bytes) -> Result<(Bootstrap, Vec<String>), String> {
    let mut bootstrap = Bootstrap::default();
    let mut skipped = Vec::new();
    for batch in crate::log::BatchIter::new(bytes) {
        let (header, mut batch) = batch.map_err(|e| e.to_string())?;
        if header.is_control() {
            continue;
        }
        let set = RecordBatchDecoder::decode(&mut batch).map_err(|e| {
            format!(
                "the batch at offset {} does not decode: {e}",
                header.base_offset
            )
        })?;
        for record in set.records {
            let Some(value) = record.value else { continue };
            let mut r = Reader(&value);
            let _frame_version = r.uvarint()?;
            let record_type = r.uvarint()?;
            let _version = r.uvarint()?;
            match record_type {
                FEATURE_LEVEL_RECORD => {
                    let name = r.compact_string()?;
                    let level = r.i16()?;
                    match features::supported(&name) {
                        Some(f) if (f.min..=f.max).contains(&level) => {
                            bootstrap.features.push((name, level))
                        }
                        Some(f) => skipped.push(format!(
                            "{name}={level} (Milena supports {} to {})",
                            f.min, f.max
                        )),
                        None if level == 0 => {}
                        None => {
                            skipped.push(format!("{name}={level} (a feature Milena does not have)"))
                        }
                    }
                }
                USER_SCRAM_CREDENTIAL_RECORD => {
                    let name = r.compact_string()?;
                    let mechanism = r.i8()?;
                    let salt = r.compact_bytes()?;
                    let stored_key = r.compact_bytes()?;
                    let server_key = r.compact_bytes()?;
                    let iterations = r.i32()?;
                    if ScramMechanism::from_wire_type(mechanism).is_none() {
                        skipped.push(format!(
                            "a credential of {name} for SCRAM mechanism type {mechanism}"
                        ));
                        continue;
                    }
                    bootstrap.scram.push((
                        name,
                        mechanism,
                        ScramCredential {
                            salt,
                            stored_key,
                            server_key,
                            iterations,
                        },
                    ));
                }
                other => skipped.push(format!("a metadata record of type {other}")),
            }
        }
    }
    Ok((bootstrap, skipped))
}

/// Bounds-checked reads of Kafka's flexible-version encoding.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("a metadata record ends early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn uvarint(&mut self) -> Result<u32, String> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint is longer than 5 bytes".into())
    }

    fn i8(&mut self) -> Result<i8, String> {
        Ok(self.take(1)?[0] as i8)
    }

    fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Compact bytes: length + 1 as an unsigned varint (0 is null, refused here).
    fn compact_bytes(&mut self) -> Result<Vec<u8>, String> {
        let len = self.uvarint()?;
        let len = len
            .checked_sub(1)
            .ok_or("a required field is null in a metadata record")?;
        Ok(self.take(len as usize)?.to_vec())
    }

    fn compact_string(&mut self) -> Result<String, String> {
        String::from_utf8(self.compact_bytes()?)
            .map_err(|_| "a name in a metadata record is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint written by Apache Kafka 4.1.2's `kafka-storage.sh format --standalone
    /// --add-scram 'SCRAM-SHA-512=[name=broker,password=broker-secret]' --add-scram
    /// 'SCRAM-SHA-256=[name=alice,iterations=8192,password=alice-secret]'`.
    const KAFKA_4_1: &[u8] = include_bytes!("testdata/bootstrap.checkpoint");

    #[test]
    fn reads_what_kafka_storage_format_writes() {
        let (b, skipped) = parse(Bytes::from_static(KAFKA_4_1)).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let users: Vec<(&str, i8, i32, usize)> = b
            .scram
            .iter()
            .map(|(n, m, c)| (n.as_str(), *m, c.iterations, c.stored_key.len()))
            .collect();
        assert_eq!(users, [("broker", 2, 4096, 64), ("alice", 1, 8192, 32)]);
        let levels: Vec<(&str, i16)> = b.features.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        assert!(levels.contains(&("metadata.version", 27)), "{levels:?}");
        assert!(levels.contains(&("transaction.version", 2)), "{levels:?}");
    }

    #[test]
    fn the_credential_verifies_the_password_it_was_made_from() {
        let (b, _) = parse(Bytes::from_static(KAFKA_4_1)).unwrap();
        let (_, _, alice) = b.scram.iter().find(|(n, _, _)| n == "alice").unwrap();
        let m = ScramMechanism::Sha256;
        let salted = m.salted_password(b"alice-secret", &alice.salt, alice.iterations as u32);
        let again =
            ScramCredential::from_salted_password(m, &alice.salt, &salted, alice.iterations);
        assert_eq!(again.stored_key, alice.stored_key);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for end in 0..KAFKA_4_1.len() {
            let _ = parse(Bytes::copy_from_slice(&KAFKA_4_1[..end]));
        }
        let mut flipped = KAFKA_4_1.to_vec();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = parse(Bytes::from(flipped.clone()));
            flipped[i] ^= 0xff;
        }
    }
}
