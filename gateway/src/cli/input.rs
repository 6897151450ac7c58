//! Reading bundle bytes from a file, stdin or the command line, as hex or binary.

use std::io::Read;
use std::path::Path;

/// Reads `path` (or stdin for `-`) whole.
pub fn read_source(path: &Path) -> Result<Vec<u8>, String> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("cannot read stdin: {e}"))?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// Input that is entirely hex digits and whitespace is hex; anything else is binary CBOR (a
/// bundle's first byte, 0x9f, 0x8_ or 0xd9, is never a hex digit).
pub fn hex_or_binary(input: Vec<u8>) -> Result<Vec<u8>, String> {
    let is_text = !input.is_empty() && input.iter().all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace());
    if !is_text {
        return Ok(input);
    }
    let text: Vec<u8> = input.into_iter().filter(|b| !b.is_ascii_whitespace()).collect();
    decode_hex(&text)
}

/// Decodes hex digits, naming the position of the first bad one.
pub fn decode_hex(text: &[u8]) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("hex input has an odd number of digits ({})", text.len()));
    }
    text.chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let digit = |c: u8| (c as char).to_digit(16);
            match pair {
                [hi, lo] => match (digit(*hi), digit(*lo)) {
                    (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                    _ => Err(format!("not a hex digit at position {}", 2 * i)),
                },
                _ => Err("hex input has an odd number of digits".to_string()),
            }
        })
        .collect()
}

/// Lower-case hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_hex_and_binary() {
        assert_eq!(hex_or_binary(b"9f ff\n".to_vec()).unwrap(), [0x9f, 0xff]);
        assert_eq!(hex_or_binary(vec![0x9f, 0xff]).unwrap(), [0x9f, 0xff]);
    }

    #[test]
    fn names_bad_hex_position() {
        assert_eq!(decode_hex(b"9fzz").unwrap_err(), "not a hex digit at position 2");
        assert!(decode_hex(b"9ff").unwrap_err().contains("odd"));
        assert_eq!(encode_hex(&[0, 255]), "00ff");
    }
}
