//! Little-endian fixed-width integers and LEB128 varints: the leaf encoders every on-disk format
//! is built from (FORMAT.md, "Common encodings").
//!
//! Encoders append to a `Vec<u8>`. Decoding goes through [`Cursor`], which never indexes blindly:
//! every read is bounds-checked and returns a [`DecodeError`] that says where and why it failed,
//! so that the caller can turn it into an `Error::Corruption` naming its file and offset.

use std::fmt;
use std::path::Path;

use crate::error::Error;

/// The most bytes a varint-encoded `u64` takes.
pub const MAX_VARINT64_LEN: usize = 10;

/// Appends `value` as 4 little-endian bytes.
pub fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends `value` as 8 little-endian bytes.
pub fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends `value` as an unsigned LEB128 varint (7 bits per byte, high bit = more bytes follow).
pub fn put_varint32(out: &mut Vec<u8>, value: u32) {
    put_varint64(out, u64::from(value));
}

/// Appends `value` as an unsigned LEB128 varint (7 bits per byte, high bit = more bytes follow).
pub fn put_varint64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `bytes` preceded by its length as a varint32.
///
/// # Panics
/// If `bytes` is longer than `u32::MAX`; callers enforce the key and value size limits first.
pub fn put_length_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let length = u32::try_from(bytes.len()).expect("length-prefixed slice longer than u32::MAX");
    put_varint32(out, length);
    out.extend_from_slice(bytes);
}

/// How many bytes `value` takes as a varint.
pub fn varint_length(mut value: u64) -> usize {
    let mut length = 1;
    while value >= 0x80 {
        value >>= 7;
        length += 1;
    }
    length
}

/// Why a decode failed, and where in the decoded slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset within the slice the cursor was reading.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

impl DecodeError {
    /// Turns this into a corruption error for `file`, where the decoded slice began at
    /// `base_offset` in the file.
    pub fn into_corruption(self, file: &Path, base_offset: u64) -> Error {
        Error::corruption(file, base_offset + self.offset as u64, self.reason)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

/// A bounds-checked reader over a byte slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, position: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error at the current position.
    pub fn error(&self, reason: &'static str) -> DecodeError {
        DecodeError {
            offset: self.position,
            reason,
        }
    }

    /// The next `length` bytes.
    pub fn bytes(&mut self, length: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .position
            .checked_add(length)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.error("length runs past the end of the data"))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    /// The next 4 bytes as a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.bytes(4)?);
        Ok(u32::from_le_bytes(word))
    }

    /// The next 8 bytes as a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.bytes(8)?);
        Ok(u64::from_le_bytes(word))
    }

    /// A varint that must fit in a `u32`.
    pub fn varint32(&mut self) -> Result<u32, DecodeError> {
        let start = self.position;
        let value = self.varint64()?;
        u32::try_from(value).map_err(|_| DecodeError {
            offset: start,
            reason: "varint does not fit in 32 bits",
        })
    }

    /// A varint that must fit in a `u64`.
    pub fn varint64(&mut self) -> Result<u64, DecodeError> {
        let start = self.position;
        // Fast path: most lengths in blocks are below 128 and take one byte.
        if let Some(&byte) = self.bytes.get(start)
            && byte < 0x80
        {
            self.position = start + 1;
            return Ok(u64::from(byte));
        }
        let mut value: u64 = 0;
        for index in 0..MAX_VARINT64_LEN {
            let byte = self.u8().map_err(|_| DecodeError {
                offset: start,
                reason: "truncated varint",
            })?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may only carry the top bit of a u64.
            if index == MAX_VARINT64_LEN - 1 && bits > 1 {
                break;
            }
            value |= bits << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError {
            offset: start,
            reason: "varint longer than 64 bits",
        })
    }

    /// A varint32 length followed by that many bytes.
    pub fn length_prefixed(&mut self) -> Result<&'a [u8], DecodeError> {
        let length = self.varint32()?;
        self.bytes(length as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_at_every_width() {
        let mut values = vec![
            0u64,
            1,
            127,
            128,
            255,
            300,
            16_383,
            16_384,
            u64::MAX,
            u64::MAX - 1,
        ];
        values.extend((0..64).map(|shift| 1u64 << shift));
        values.extend((1..64).map(|shift| (1u64 << shift) - 1));
        for value in values {
            let mut out = Vec::new();
            put_varint64(&mut out, value);
            assert_eq!(out.len(), varint_length(value), "length of {value}");
            let mut cursor = Cursor::new(&out);
            assert_eq!(cursor.varint64(), Ok(value));
            assert!(cursor.is_empty());
        }
    }

    #[test]
    fn varint_errors() {
        assert_eq!(
            Cursor::new(&[0x80, 0x80]).varint64().unwrap_err().reason,
            "truncated varint"
        );
        assert_eq!(
            Cursor::new(&[0xff; 11]).varint64().unwrap_err().reason,
            "varint longer than 64 bits"
        );
        assert_eq!(
            Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0x7f])
                .varint32()
                .unwrap_err()
                .reason,
            "varint does not fit in 32 bits"
        );
        let mut max32 = Vec::new();
        put_varint32(&mut max32, u32::MAX);
        assert_eq!(Cursor::new(&max32).varint32(), Ok(u32::MAX));
    }

    #[test]
    fn fixed_and_length_prefixed() {
        let mut out = Vec::new();
        put_u32(&mut out, 0xdead_beef);
        put_u64(&mut out, 0x0123_4567_89ab_cdef);
        put_length_prefixed(&mut out, b"shale");
        assert_eq!(&out[..4], &[0xef, 0xbe, 0xad, 0xde]);
        let mut cursor = Cursor::new(&out);
        assert_eq!(cursor.u32(), Ok(0xdead_beef));
        assert_eq!(cursor.u64(), Ok(0x0123_4567_89ab_cdef));
        assert_eq!(cursor.length_prefixed(), Ok(&b"shale"[..]));
        assert!(cursor.u8().is_err());
    }

    #[test]
    fn length_past_end_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        put_varint32(&mut out, 1000);
        out.extend_from_slice(b"short");
        let error = Cursor::new(&out).length_prefixed().unwrap_err();
        assert_eq!(error.offset, 2);
    }
}
