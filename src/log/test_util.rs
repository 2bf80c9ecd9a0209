//! Test-only helpers: a minimal v2 batch builder (uncompressed records with varint fields).
//!
//! Enough to drive the log as a producer would; compression is only a flag here (the records are
//! written uncompressed either way), which is all the log needs since it never decompresses.

use bytes::{BufMut, Bytes, BytesMut};

pub(crate) struct BatchBuilder {
    base_offset: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    attributes: i16,
    base_timestamp: i64,
    timestamp_deltas: Vec<i64>,
    values: Vec<Vec<u8>>,
}

fn put_varlong(buf: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        buf.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    buf.put_u8(z as u8);
}

impl BatchBuilder {
    pub(crate) fn new() -> Self {
        BatchBuilder {
            base_offset: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            attributes: 0,
            base_timestamp: 1_000,
            timestamp_deltas: Vec::new(),
            values: Vec::new(),
        }
    }
    pub(crate) fn base_offset(mut self, o: i64) -> Self {
        self.base_offset = o;
        self
    }
    pub(crate) fn producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }
    pub(crate) fn attributes(mut self, a: i16) -> Self {
        self.attributes = a;
        self
    }
    pub(crate) fn timestamp(mut self, ts: i64) -> Self {
        self.base_timestamp = ts;
        self
    }
    /// Per-record timestamp deltas (defaults to 0 for every record).
    pub(crate) fn deltas(mut self, d: &[i64]) -> Self {
        self.timestamp_deltas = d.to_vec();
        self
    }
    pub(crate) fn records(mut self, values: &[&[u8]]) -> Self {
        self.values = values.iter().map(|v| v.to_vec()).collect();
        self
    }
    /// `n` records of `size` bytes each.
    pub(crate) fn sized(mut self, n: usize, size: usize) -> Self {
        self.values = (0..n).map(|i| vec![i as u8; size]).collect();
        self
    }

    pub(crate) fn build(self) -> Bytes {
        let mut records = BytesMut::new();
        let mut max_ts = self.base_timestamp;
        for (i, v) in self.values.iter().enumerate() {
            let delta = self.timestamp_deltas.get(i).copied().unwrap_or(0);
            max_ts = max_ts.max(self.base_timestamp + delta);
            let mut body = BytesMut::new();
            body.put_i8(0);
            put_varlong(&mut body, delta);
            put_varlong(&mut body, i as i64);
            put_varlong(&mut body, -1);
            put_varlong(&mut body, v.len() as i64);
            body.put_slice(v);
            put_varlong(&mut body, 0);
            put_varlong(&mut records, body.len() as i64);
            records.put_slice(&body);
        }
        let n = self.values.len() as i32;
        let mut b = BytesMut::new();
        b.put_i64(self.base_offset);
        b.put_i32((49 + records.len()) as i32);
        b.put_i32(-1);
        b.put_i8(2);
        b.put_u32(0);
        b.put_i16(self.attributes);
        b.put_i32((n - 1).max(0));
        b.put_i64(self.base_timestamp);
        b.put_i64(max_ts);
        b.put_i64(self.producer_id);
        b.put_i16(self.producer_epoch);
        b.put_i32(self.base_sequence);
        b.put_i32(n);
        b.put_slice(&records);
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b.freeze()
    }
}
