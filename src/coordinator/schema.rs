//! Reading the key/value schemas of Kafka's internal topics (`__consumer_offsets`,
//! `__transaction_state`): a bounds-checked reader shared by both coordinators' record modules.
//!
//! Non-flexible versions write strings as i16 length + UTF-8 (-1 = null), bytes and arrays with
//! an i32 length; flexible versions write compact lengths (unsigned varint length + 1, 0 = null)
//! and end structs with a tagged-field section. Bytes from disk are not trusted: every length
//! and count is checked against the bytes left before it is used.

use bytes::Bytes;

/// Why bytes do not follow a schema; each record module maps these into its own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("{field}: needs {needed} bytes, {available} left")]
    Truncated {
        field: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("{field}: invalid length {length}")]
    InvalidLength { field: &'static str, length: i64 },
    #[error("{field}: null where the schema does not allow it")]
    UnexpectedNull { field: &'static str },
    #[error("{field}: not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error("{field}: varint longer than 5 bytes")]
    VarintTooLong { field: &'static str },
    #[error("{schema}: {count} bytes left over")]
    TrailingBytes { schema: &'static str, count: usize },
}

/// Reads one record's fields; every read checks the bytes left first.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Compact lengths and tagged fields (flexible versions) instead of fixed-width lengths.
    flexible: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], flexible: bool) -> Self {
        Reader {
            buf,
            pos: 0,
            flexible,
        }
    }

    pub(crate) fn is_flexible(&self) -> bool {
        self.flexible
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], SchemaError> {
        if n > self.remaining() {
            return Err(SchemaError::Truncated {
                field,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], SchemaError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(field, N)?);
        Ok(a)
    }

    pub(crate) fn i8(&mut self, field: &'static str) -> Result<i8, SchemaError> {
        self.array(field).map(i8::from_be_bytes)
    }
    pub(crate) fn i16(&mut self, field: &'static str) -> Result<i16, SchemaError> {
        self.array(field).map(i16::from_be_bytes)
    }
    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, SchemaError> {
        self.array(field).map(i32::from_be_bytes)
    }
    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64, SchemaError> {
        self.array(field).map(i64::from_be_bytes)
    }

    /// An unsigned varint of at most 5 bytes (u32).
    pub(crate) fn uvarint(&mut self, field: &'static str) -> Result<u32, SchemaError> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let [byte] = self.array(field)?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| SchemaError::VarintTooLong { field });
            }
        }
        Err(SchemaError::VarintTooLong { field })
    }

    /// The length of a string, bytes or array field; `None` is null. `wide` picks an i32 over
    /// an i16 in non-flexible versions.
    fn length(&mut self, field: &'static str, wide: bool) -> Result<Option<usize>, SchemaError> {
        let length = if self.flexible {
            i64::from(self.uvarint(field)?) - 1
        } else if wide {
            i64::from(self.i32(field)?)
        } else {
            i64::from(self.i16(field)?)
        };
        match length {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(n as usize)),
            n => Err(SchemaError::InvalidLength { field, length: n }),
        }
    }

    pub(crate) fn nullable_string(
        &mut self,
        field: &'static str,
    ) -> Result<Option<String>, SchemaError> {
        let Some(len) = self.length(field, false)? else {
            return Ok(None);
        };
        let raw = self.take(field, len)?;
        let s = std::str::from_utf8(raw).map_err(|_| SchemaError::InvalidUtf8 { field })?;
        Ok(Some(s.to_owned()))
    }

    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, SchemaError> {
        self.nullable_string(field)?
            .ok_or(SchemaError::UnexpectedNull { field })
    }

    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<Bytes, SchemaError> {
        let len = self
            .length(field, true)?
            .ok_or(SchemaError::UnexpectedNull { field })?;
        Ok(Bytes::copy_from_slice(self.take(field, len)?))
    }

    /// A nullable array's element count, refused when `count` elements of at least `min_size`
    /// bytes each cannot fit in the bytes left (so no count sizes an allocation unchecked).
    pub(crate) fn nullable_array_len(
        &mut self,
        field: &'static str,
        min_size: usize,
    ) -> Result<Option<usize>, SchemaError> {
        let Some(count) = self.length(field, true)? else {
            return Ok(None);
        };
        if count > self.remaining() / min_size.max(1) {
            return Err(SchemaError::InvalidLength {
                field,
                length: count as i64,
            });
        }
        Ok(Some(count))
    }

    /// A non-nullable array's element count (see `nullable_array_len`).
    pub(crate) fn array_len(
        &mut self,
        field: &'static str,
        min_size: usize,
    ) -> Result<usize, SchemaError> {
        self.nullable_array_len(field, min_size)?
            .ok_or(SchemaError::UnexpectedNull { field })
    }

    /// A tagged-field section (flexible versions only), each field handed to `field`.
    pub(crate) fn tagged_fields<E: From<SchemaError>>(
        &mut self,
        mut field: impl FnMut(u32, &'a [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint("tagged fields")?;
        for _ in 0..count {
            let tag = self.uvarint("tag")?;
            let size = self.uvarint("tagged field size")?;
            let data = self.take("tagged field", size as usize)?;
            field(tag, data)?;
        }
        Ok(())
    }

    /// A tagged-field section whose fields are all skipped.
    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), SchemaError> {
        self.tagged_fields(|_, _| Ok::<(), SchemaError>(()))
    }

    pub(crate) fn finish(&self, schema: &'static str) -> Result<(), SchemaError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(SchemaError::TrailingBytes { schema, count }),
        }
    }
}
