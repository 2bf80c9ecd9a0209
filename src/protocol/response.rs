//! Encoded response frames.
//!
//! Most responses are one buffer: `size | header | body`. A Fetch response instead keeps each
//! partition's records as chunks of their own between the encoded parts: large reads as regions
//! of the log files, which the connection sends with sendfile(2) (no user-space copy, as
//! Kafka's zero-copy transfer), smaller ones as the buffers the log read them into, sent with
//! the encoded parts in one vectored write.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchResponse, PartitionData};

use crate::log::{FileSlice, SliceRead};

/// One piece of a response frame.
#[derive(Debug, Clone)]
pub enum Chunk {
    Bytes(Bytes),
    File(FileSlice),
}

impl Chunk {
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::File(f) => f.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response ready for the socket: its chunks, in order, make the whole frame including the
/// 4-byte size prefix.
#[derive(Debug, Clone)]
pub struct ResponseFrame {
    chunks: Vec<Chunk>,
}

impl ResponseFrame {
    /// A frame already encoded into one buffer (size prefix included).
    pub fn single(frame: Bytes) -> Self {
        Self {
            chunks: vec![Chunk::Bytes(frame)],
        }
    }

    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    pub fn into_chunks(self) -> Vec<Chunk> {
        self.chunks
    }

    /// Total size on the wire, size prefix included.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Chunk::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole frame in one buffer, file regions read (tests and tools; the server sends
    /// the chunks).
    pub fn to_bytes(&self) -> Result<Bytes, crate::log::LogError> {
        if let [Chunk::Bytes(one)] = self.chunks.as_slice() {
            return Ok(one.clone());
        }
        let mut all = BytesMut::with_capacity(self.len());
        for c in &self.chunks {
            match c {
                Chunk::Bytes(b) => all.put_slice(b),
                Chunk::File(f) => all.put_slice(&f.read()?),
            }
        }
        Ok(all.freeze())
    }
}

/// A Fetch handler's answer: the response, and the records of some partitions still in the log
/// files (their `records` field is unset in the response).
#[derive(Debug, Default)]
pub struct FetchAnswer {
    pub response: FetchResponse,
    /// In response order.
    pub from_files: Vec<FileRecords>,
}

/// The records of the `partition`-th partition of the `topic`-th topic of a Fetch response.
#[derive(Debug)]
pub struct FileRecords {
    pub topic: usize,
    pub partition: usize,
    pub read: SliceRead,
}

impl FetchAnswer {
    /// Reads the file records into the response, for the generic encoder.
    pub fn into_response(mut self) -> Result<FetchResponse, crate::log::LogError> {
        for f in self.from_files {
            let records = f.read.read_all()?;
            self.response.responses[f.topic].partitions[f.partition].records = Some(records);
        }
        Ok(self.response)
    }
}

/// Records at least this large travel as their own chunk; smaller ones are cheaper to copy
/// than to give their own entry in the write's I/O vector.
const RECORDS_CHUNK_MIN: usize = 4096;

/// Encodes a Fetch response (versions 4-16) with the records as separate chunks, or gives the
/// answer back when the response sets a field this encoder does not write (tagged fields Milena
/// never sets as a single-node broker); the caller then uses the generic encoder. The bytes are
/// exactly what `kafka_protocol`'s encoder produces (see the tests).
pub fn encode_fetch(
    correlation_id: i32,
    version: i16,
    answer: FetchAnswer,
) -> Result<ResponseFrame, FetchAnswer> {
    if !(4..=16).contains(&version) || !is_plain(&answer.response) {
        return Err(answer);
    }
    let response = &answer.response;
    let mut from_files = answer.from_files.iter().peekable();
    let flexible = version >= 12;
    let mut out = ChunkedWriter::default();
    let b = &mut out.current;
    b.put_i32(0); // size, patched at the end
    b.put_i32(correlation_id);
    if flexible {
        b.put_u8(0); // response header v1: no tagged fields
    }
    b.put_i32(response.throttle_time_ms);
    if version >= 7 {
        b.put_i16(response.error_code);
        b.put_i32(response.session_id);
    } else if response.session_id != 0 {
        return Err(answer);
    }
    put_array_len(b, flexible, response.responses.len());
    for (t, topic) in response.responses.iter().enumerate() {
        let b = &mut out.current;
        if version >= 13 {
            b.put_slice(topic.topic_id.as_bytes());
        } else {
            put_string(b, flexible, topic.topic.0.as_bytes());
        }
        put_array_len(b, flexible, topic.partitions.len());
        for (i, p) in topic.partitions.iter().enumerate() {
            let file = from_files.next_if(|f| (f.topic, f.partition) == (t, i));
            if !put_partition(&mut out, flexible, version, p, file.map(|f| &f.read)) {
                return Err(answer);
            }
        }
        if flexible {
            out.current.put_u8(0); // topic tagged fields
        }
    }
    if flexible {
        out.current.put_u8(0); // response tagged fields (node_endpoints is empty)
    }
    if from_files.next().is_some() {
        // A file read that names no partition of the response: a handler bug, not the wire's.
        debug_assert!(false, "file records out of response order");
        return Err(answer);
    }
    Ok(out.finish())
}

fn put_partition(
    out: &mut ChunkedWriter,
    flexible: bool,
    version: i16,
    p: &PartitionData,
    file: Option<&SliceRead>,
) -> bool {
    let b = &mut out.current;
    b.put_i32(p.partition_index);
    b.put_i16(p.error_code);
    b.put_i64(p.high_watermark);
    b.put_i64(p.last_stable_offset);
    if version >= 5 {
        b.put_i64(p.log_start_offset);
    }
    match &p.aborted_transactions {
        None => put_null_len(b, flexible),
        Some(aborted) => {
            put_array_len(b, flexible, aborted.len());
            for a in aborted {
                b.put_i64(a.producer_id.0);
                b.put_i64(a.first_offset);
                if flexible {
                    b.put_u8(0);
                }
            }
        }
    }
    if version >= 11 {
        b.put_i32(p.preferred_read_replica.0);
    } else if p.preferred_read_replica.0 != -1 {
        return false;
    }
    match (&p.records, file) {
        (_, Some(file)) => {
            put_array_len(b, flexible, file.len);
            out.put_file(file);
        }
        (None, None) => put_null_len(b, flexible),
        (Some(records), None) => {
            put_array_len(b, flexible, records.len());
            out.put_records(records);
        }
    }
    if flexible {
        out.current.put_u8(0); // partition tagged fields
    }
    true
}

/// No field that needs a tagged-field encoding, and nothing unknown carried along.
fn is_plain(response: &FetchResponse) -> bool {
    response.node_endpoints.is_empty()
        && response.unknown_tagged_fields.is_empty()
        && response.responses.iter().all(|t| {
            t.unknown_tagged_fields.is_empty()
                && t.partitions.iter().all(|p| {
                    p.unknown_tagged_fields.is_empty()
                        && p.diverging_epoch == Default::default()
                        && p.current_leader == Default::default()
                        && p.snapshot_id == Default::default()
                        && p.aborted_transactions
                            .iter()
                            .flatten()
                            .all(|a| a.unknown_tagged_fields.is_empty())
                })
        })
}

/// Length of an array, string or bytes field: compact (unsigned varint of len + 1) in flexible
/// versions, a plain int32 otherwise. Strings use int16 in non-flexible versions.
fn put_array_len(b: &mut BytesMut, flexible: bool, len: usize) {
    if flexible {
        put_unsigned_varint(b, len as u64 + 1);
    } else {
        b.put_i32(len as i32);
    }
}

fn put_null_len(b: &mut BytesMut, flexible: bool) {
    if flexible {
        b.put_u8(0);
    } else {
        b.put_i32(-1);
    }
}

fn put_string(b: &mut BytesMut, flexible: bool, s: &[u8]) {
    if flexible {
        put_unsigned_varint(b, s.len() as u64 + 1);
    } else {
        b.put_i16(s.len() as i16);
    }
    b.put_slice(s);
}

fn put_unsigned_varint(b: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

/// Encoded parts interleaved with records chunks. The first part (with the size prefix) stays
/// mutable until the total size is known.
#[derive(Default)]
struct ChunkedWriter {
    head: BytesMut,
    rest: Vec<Chunk>,
    current: BytesMut,
}

impl ChunkedWriter {
    fn put_records(&mut self, records: &Bytes) {
        if records.len() < RECORDS_CHUNK_MIN {
            self.current.put_slice(records);
        } else {
            self.seal_current();
            self.rest.push(Chunk::Bytes(records.clone()));
        }
    }

    fn put_file(&mut self, read: &SliceRead) {
        self.seal_current();
        self.rest
            .extend(read.slices.iter().cloned().map(Chunk::File));
    }

    fn seal_current(&mut self) {
        if self.head.is_empty() {
            self.head = self.current.split();
        } else if !self.current.is_empty() {
            self.rest.push(Chunk::Bytes(self.current.split().freeze()));
        }
    }

    fn finish(mut self) -> ResponseFrame {
        self.seal_current();
        let total = self.head.len() + self.rest.iter().map(Chunk::len).sum::<usize>();
        self.head[..4].copy_from_slice(&((total - 4) as i32).to_be_bytes());
        let mut chunks = Vec::with_capacity(1 + self.rest.len());
        chunks.push(Chunk::Bytes(self.head.freeze()));
        chunks.append(&mut self.rest);
        ResponseFrame { chunks }
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
