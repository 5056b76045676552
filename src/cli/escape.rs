//! Printing arbitrary bytes (user keys and values) as readable text, and reading it back:
//! printable ASCII stays as it is, a backslash is doubled, and every other byte becomes `\xNN`,
//! so the output is unambiguous, one key never spans several lines, and what `shale scan`
//! prints can be given back to `shale get`.

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

/// The bytes `text` stands for: `\\` is a backslash, `\xNN` the byte NN (two hex digits), and
/// everything else (including non-ASCII characters) is its UTF-8 encoding. Any other use of a
/// backslash is refused, so that a typo does not silently become a different key.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while let Some(&byte) = bytes.get(position) {
        if byte != b'\\' {
            out.push(byte);
            position += 1;
            continue;
        }
        match bytes.get(position + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                position += 2;
            }
            Some(b'x') => {
                let digits = bytes
                    .get(position + 2..position + 4)
                    .and_then(|digits| std::str::from_utf8(digits).ok())
                    .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                    .ok_or_else(|| {
                        format!("'{text}': \\x at byte {position} needs two hex digits")
                    })?;
                out.push(digits);
                position += 4;
            }
            _ => {
                return Err(format!(
                    "'{text}': a backslash at byte {position} must start \\\\ or \\xNN"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{escape_bytes, unescape};

    #[test]
    fn escapes_backslash_and_non_printable_bytes() {
        assert_eq!(escape_bytes(b"key-1"), "key-1");
        assert_eq!(escape_bytes(b"a\\b"), "a\\\\b");
        assert_eq!(escape_bytes(&[0, b'x', 0xff, b'\n']), "\\x00x\\xff\\x0a");
    }

    #[test]
    fn unescape_reverses_escape() {
        let every_byte: Vec<u8> = (0..=255).collect();
        assert_eq!(unescape(&escape_bytes(&every_byte)), Ok(every_byte));
        assert_eq!(unescape("é"), Ok("é".as_bytes().to_vec()));
    }

    #[test]
    fn unescape_refuses_malformed_escapes() {
        for text in ["\\", "\\n", "\\x", "\\x4", "\\xzz", "a\\"] {
            assert!(unescape(text).is_err(), "{text:?}");
        }
    }
}
