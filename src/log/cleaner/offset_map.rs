//! The cleaner's offset map: key hash -> last offset of that key in the dirty section.
//!
//! Like Kafka's SkimpyOffsetMap it stores a 128-bit hash of each key, never the key, in a
//! fixed-size open-addressing table (24 bytes a slot), so its memory is known in advance and
//! bounded by `log.cleaner.dedupe.buffer.size`. Two keys with the same 128-bit hash would be
//! treated as one; with a 2^-128 chance per pair this is the risk Kafka takes with MD5.
//!
//! The table is filled to at most 3/4 of its slots (short probe sequences); `has_room_for`
//! tells the caller when to stop mapping, and the clean then ends at the last mapped offset.

use std::hash::{DefaultHasher, Hash, Hasher};

/// Bytes per slot: a u128 hash and an i64 offset.
pub(crate) const SLOT_BYTES: usize = 24;

pub(crate) struct OffsetMap {
    /// 0 marks an empty slot (a real hash of 0 is stored as 1).
    hashes: Vec<u128>,
    offsets: Vec<i64>,
    len: usize,
    max_len: usize,
}

fn hash_key(key: &[u8]) -> u128 {
    // Two SipHash passes with different prefixes give 128 independent-enough bits.
    let mut a = DefaultHasher::new();
    key.hash(&mut a);
    let mut b = DefaultHasher::new();
    0x9e37_79b9_7f4a_7c15u64.hash(&mut b);
    key.hash(&mut b);
    let h = (u128::from(a.finish()) << 64) | u128::from(b.finish());
    h.max(1)
}

impl OffsetMap {
    /// A map of at most `memory_bytes`, sized down to `expected_keys` when that is smaller.
    pub(crate) fn new(memory_bytes: usize, expected_keys: usize) -> OffsetMap {
        let max_slots = (memory_bytes / SLOT_BYTES).max(16);
        let wanted = expected_keys.saturating_mul(4) / 3 + 16;
        let slots = wanted.min(max_slots);
        OffsetMap {
            hashes: vec![0; slots],
            offsets: vec![0; slots],
            len: 0,
            max_len: slots * 3 / 4,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `n` more distinct keys fit.
    pub(crate) fn has_room_for(&self, n: usize) -> bool {
        self.len + n <= self.max_len
    }

    fn slot(&self, hash: u128) -> usize {
        let slots = self.hashes.len();
        let mut i = (hash as u64 as usize) % slots;
        while self.hashes[i] != 0 && self.hashes[i] != hash {
            i = (i + 1) % slots;
        }
        i
    }

    /// Records `offset` as the latest offset of `key`. The caller checks `has_room_for` first;
    /// a full map ignores new keys rather than loop.
    pub(crate) fn put(&mut self, key: &[u8], offset: i64) {
        let hash = hash_key(key);
        let i = self.slot(hash);
        if self.hashes[i] == 0 {
            if self.len >= self.max_len {
                return;
            }
            self.hashes[i] = hash;
            self.len += 1;
        }
        self.offsets[i] = offset;
    }

    /// The latest offset of `key` in the mapped section, if it occurs there.
    pub(crate) fn get(&self, key: &[u8]) -> Option<i64> {
        let hash = hash_key(key);
        let i = self.slot(hash);
        (self.hashes[i] == hash).then(|| self.offsets[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_offset_and_respects_its_bound() {
        let mut map = OffsetMap::new(SLOT_BYTES * 100, 1_000);
        assert!(map.has_room_for(75) && !map.has_room_for(76));
        for i in 0..75u32 {
            map.put(&i.to_be_bytes(), i64::from(i));
            map.put(&i.to_be_bytes(), i64::from(i) + 1000);
        }
        assert_eq!(map.len(), 75);
        map.put(b"one too many", 1);
        assert_eq!((map.len(), map.get(b"one too many")), (75, None));
        for i in 0..75u32 {
            assert_eq!(map.get(&i.to_be_bytes()), Some(i64::from(i) + 1000));
        }
        assert_eq!(map.get(b"absent"), None);
        // Sized down when few keys are expected.
        assert_eq!(OffsetMap::new(1 << 30, 0).hashes.len(), 16);
    }
}
