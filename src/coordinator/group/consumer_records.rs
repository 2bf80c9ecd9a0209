//! The KIP-848 records of `__consumer_offsets` that Milena writes, in Kafka's own schemas
//! (architecture invariant 6). Only the group's existence and epoch are persisted:
//!
//! ```text
//! ConsumerGroupMetadataKey (key version 3)  group_id string
//! ConsumerGroupMetadataValue v0 (flexible)  epoch i32 | tagged fields
//!                                           (tag 0 metadata_hash i64, tag 1 creation_time_ms i64)
//! ```
//!
//! A null value is a tombstone (the group was deleted or became a classic group). Members,
//! subscriptions and assignments (key versions 4 to 8) are not written: after a restart a
//! consumer group is Empty at its last epoch and its members rejoin (they get
//! UNKNOWN_MEMBER_ID). Keys of those versions written by Kafka are skipped on replay.

use bytes::{BufMut, Bytes, BytesMut};

/// The key version that names a ConsumerGroupMetadata record.
pub const CONSUMER_GROUP_METADATA_KEY: i16 = 3;
const VALUE_VERSION: i16 = 0;

/// One ConsumerGroupMetadata record: the group epoch, or `None` for a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    pub group: String,
    pub epoch: Option<i32>,
}

impl ConsumerGroupMetadata {
    pub fn encode(&self) -> (Bytes, Option<Bytes>) {
        let mut key = BytesMut::new();
        key.put_i16(CONSUMER_GROUP_METADATA_KEY);
        let group = self.group.as_bytes();
        let len = group.len().min(i16::MAX as usize);
        key.put_i16(len as i16);
        key.put_slice(&group[..len]);
        let value = self.epoch.map(|epoch| {
            let mut v = BytesMut::with_capacity(7);
            v.put_i16(VALUE_VERSION);
            v.put_i32(epoch);
            v.put_u8(0); // no tagged fields
            v.freeze()
        });
        (key.freeze(), value)
    }

    /// Decodes a ConsumerGroupMetadata record; `Ok(None)` for any other key version.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<Self>, String> {
        if key.len() < 2 || i16::from_be_bytes([key[0], key[1]]) != CONSUMER_GROUP_METADATA_KEY {
            return Ok(None);
        }
        if key.len() < 4 {
            return Err("ConsumerGroupMetadataKey: truncated".into());
        }
        let len = i16::from_be_bytes([key[2], key[3]]);
        if len < 0 || key.len() != 4 + len as usize {
            return Err(format!("ConsumerGroupMetadataKey: bad group length {len}"));
        }
        let group = std::str::from_utf8(&key[4..])
            .map_err(|_| "ConsumerGroupMetadataKey: group is not UTF-8".to_string())?
            .to_string();
        let epoch = match value {
            None => None,
            Some(v) => {
                if v.len() < 6 {
                    return Err("ConsumerGroupMetadataValue: truncated".into());
                }
                let version = i16::from_be_bytes([v[0], v[1]]);
                if version != VALUE_VERSION {
                    return Err(format!(
                        "ConsumerGroupMetadataValue: unsupported version {version}"
                    ));
                }
                // The tagged fields that follow (metadata hash, creation time) are not used.
                Some(i32::from_be_bytes([v[2], v[3], v[4], v[5]]))
            }
        };
        Ok(Some(Self { group, epoch }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_kafka_bytes() {
        let r = ConsumerGroupMetadata {
            group: "g".into(),
            epoch: Some(7),
        };
        let (k, v) = r.encode();
        assert_eq!(&k[..], &[0, 3, 0, 1, b'g']);
        assert_eq!(v.as_deref(), Some(&[0, 0, 0, 0, 0, 7, 0][..]));
        assert_eq!(ConsumerGroupMetadata::decode(&k, v.as_deref()), Ok(Some(r)));
        let tomb = ConsumerGroupMetadata {
            group: "g".into(),
            epoch: None,
        };
        let (k, v) = tomb.encode();
        assert_eq!(
            ConsumerGroupMetadata::decode(&k, v.as_deref()),
            Ok(Some(tomb))
        );
        // A Kafka 4.1 value with a metadata hash tag.
        let kafka = [0, 0, 0, 0, 0, 9, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            ConsumerGroupMetadata::decode(&k, Some(&kafka)).map(|r| r.and_then(|r| r.epoch)),
            Ok(Some(9))
        );
        assert_eq!(
            ConsumerGroupMetadata::decode(&[0, 5, 0, 1, b'g'], None),
            Ok(None)
        );
        assert!(ConsumerGroupMetadata::decode(&[0, 3, 0, 9, b'g'], None).is_err());
    }
}
