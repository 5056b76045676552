//! Printing arbitrary bytes (user keys) as readable text: printable ASCII stays as it is, a
//! backslash is doubled, and every other byte becomes `\xNN`, so the output is unambiguous and
//! one key never spans several lines.

use std::fmt::Write;

/// `bytes` as escaped text.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_bytes;

    #[test]
    fn escapes_backslash_and_non_printable_bytes() {
        assert_eq!(escape_bytes(b"key-1"), "key-1");
        assert_eq!(escape_bytes(b"a\\b"), "a\\\\b");
        assert_eq!(escape_bytes(&[0, b'x', 0xff, b'\n']), "\\x00x\\xff\\x0a");
    }
}
