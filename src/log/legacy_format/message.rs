//! One message of format v0/v1: reading (with its CRC checked) and writing.

use super::LegacyError;

/// offset i64 + message_size i32.
pub(super) const LOG_OVERHEAD: usize = 12;
/// crc + magic + attributes + key length + value length: Kafka's RECORD_OVERHEAD_V0.
const RECORD_OVERHEAD_V0: usize = 14;
/// The same with the v1 timestamp.
const RECORD_OVERHEAD_V1: usize = 22;
const CODEC_MASK: i8 = 0x07;
const LOG_APPEND_TIME_BIT: i8 = 0x08;

/// A message read from a message set; key and value borrow the set's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message<'a> {
    pub offset: i64,
    pub magic: i8,
    pub attributes: i8,
    /// -1 (Kafka's NO_TIMESTAMP) for magic 0.
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

impl Message<'_> {
    pub(super) fn codec(&self) -> i16 {
        i16::from(self.attributes & CODEC_MASK)
    }

    pub(super) fn is_log_append_time(&self) -> bool {
        self.magic == 1 && self.attributes & LOG_APPEND_TIME_BIT != 0
    }
}

fn corrupt(message: String) -> LegacyError {
    LegacyError::Corrupt(message)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

/// A nullable `i32`-length-prefixed field at `*pos` of `message`.
fn nullable<'a>(
    message: &'a [u8],
    pos: &mut usize,
    what: &str,
) -> Result<Option<&'a [u8]>, LegacyError> {
    if message.len() < *pos + 4 {
        return Err(corrupt(format!("Record {what} length is cut short")));
    }
    let len = be_i32(message, *pos);
    *pos += 4;
    if len == -1 {
        return Ok(None);
    }
    let len = usize::try_from(len)
        .map_err(|_| corrupt(format!("Record {what} has an invalid length {len}")))?;
    let end = pos
        .checked_add(len)
        .filter(|e| *e <= message.len())
        .ok_or_else(|| corrupt(format!("Record {what} of {len} bytes runs past the record")))?;
    let field = &message[*pos..end];
    *pos = end;
    Ok(Some(field))
}

/// The entry at the start of `buf` and its size, or `None` when `buf` holds only part of one
/// (Kafka ignores a partial entry at the end of a message set).
pub(super) fn read(buf: &[u8]) -> Result<Option<(Message<'_>, usize)>, LegacyError> {
    if buf.len() < LOG_OVERHEAD {
        return Ok(None);
    }
    let offset = be_i64(buf, 0);
    let size = be_i32(buf, 8);
    let Some(size) = usize::try_from(size)
        .ok()
        .filter(|s| *s >= RECORD_OVERHEAD_V0)
    else {
        return Err(corrupt(format!(
            "Record size {size} is less than the minimum record overhead ({RECORD_OVERHEAD_V0})"
        )));
    };
    let Some(message) = buf.get(LOG_OVERHEAD..LOG_OVERHEAD + size) else {
        return Ok(None);
    };
    let stored = u32::from_be_bytes([message[0], message[1], message[2], message[3]]);
    let magic = message[4] as i8;
    if !(0..=1).contains(&magic) {
        return Err(corrupt(format!(
            "Invalid magic {magic} in a legacy message set"
        )));
    }
    if magic == 1 && size < RECORD_OVERHEAD_V1 {
        return Err(corrupt(format!(
            "Record size {size} is less than the minimum record overhead ({RECORD_OVERHEAD_V1})"
        )));
    }
    let computed = crc32fast::hash(&message[4..]);
    if stored != computed {
        return Err(corrupt(format!(
            "Record is corrupt (stored crc = {stored}, computed crc = {computed})"
        )));
    }
    let attributes = message[5] as i8;
    let (timestamp, mut pos) = if magic == 1 {
        (be_i64(message, 6), 14)
    } else {
        (-1, 6)
    };
    let key = nullable(message, &mut pos, "key")?;
    let value = nullable(message, &mut pos, "value")?;
    let message = Message {
        offset,
        magic,
        attributes,
        timestamp,
        key,
        value,
    };
    Ok(Some((message, LOG_OVERHEAD + size)))
}

/// Appends one entry to `out`. `codec` and `log_append_time` make the attributes; magic 0
/// carries neither a timestamp nor a timestamp type.
#[allow(clippy::too_many_arguments)]
pub(super) fn write(
    out: &mut Vec<u8>,
    offset: i64,
    magic: i8,
    codec: i16,
    log_append_time: bool,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    let mut attributes = (codec as i8) & CODEC_MASK;
    if magic == 1 && log_append_time {
        attributes |= LOG_APPEND_TIME_BIT;
    }
    out.extend_from_slice(&offset.to_be_bytes());
    let size_at = out.len();
    out.extend_from_slice(&[0; 4]); // message_size, below
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]); // crc, below
    out.push(magic as u8);
    out.push(attributes as u8);
    if magic == 1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            Some(f) => {
                out.extend_from_slice(&(f.len() as i32).to_be_bytes());
                out.extend_from_slice(f);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let size = (out.len() - crc_at) as i32;
    out[size_at..crc_at].copy_from_slice(&size.to_be_bytes());
    let crc = crc32fast::hash(&out[crc_at + 4..]);
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Kafka's old LZ4 framing (KAFKA-3160): message format v0 clients computed the frame header
/// checksum over the frame magic too. `broken` makes the header what they wrote (and read);
/// otherwise the standard one. Frames whose header is not the plain 7-byte one (content size or
/// dictionary id set) are left alone.
pub(super) fn set_lz4_header_checksum(frame: &mut [u8], broken: bool) {
    const MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
    if frame.len() < 7 || frame[..4] != MAGIC || frame[4] & 0x09 != 0 {
        return;
    }
    let covered = if broken { &frame[..6] } else { &frame[4..6] };
    frame[6] = (twox_hash::XxHash32::oneshot(0, covered) >> 8) as u8;
}
