//! Shortest-form CBOR emitters appending to a `Vec<u8>`.

use alloc::vec::Vec;

use super::Major;

/// Appends an item head in shortest form.
pub fn head(out: &mut Vec<u8>, major: Major, value: u64) {
    let m = major.code() << 5;
    if value < 24 {
        out.push(m | value as u8);
    } else if value <= 0xff {
        out.extend_from_slice(&[m | 24, value as u8]);
    } else if value <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(value as u16).to_be_bytes());
    } else if value <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(value as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Length of the shortest head for `value`.
pub fn head_len(value: u64) -> usize {
    match value {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Appends an unsigned integer.
pub fn uint(out: &mut Vec<u8>, value: u64) {
    head(out, Major::Unsigned, value);
}

/// Appends a definite-length array head.
pub fn array(out: &mut Vec<u8>, len: u64) {
    head(out, Major::Array, len);
}

/// Appends the head of an indefinite-length array.
pub fn indefinite_array(out: &mut Vec<u8>) {
    out.push(0x9f);
}

/// Appends the break stop code.
pub fn stop(out: &mut Vec<u8>) {
    out.push(0xff);
}

/// Appends a byte string.
pub fn bytes(out: &mut Vec<u8>, data: &[u8]) {
    head(out, Major::Bytes, data.len() as u64);
    out.extend_from_slice(data);
}

/// Appends a text string.
pub fn text(out: &mut Vec<u8>, s: &str) {
    head(out, Major::Text, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends `true` or `false`.
pub fn bool(out: &mut Vec<u8>, value: bool) {
    out.push(if value { 0xf5 } else { 0xf4 });
}
