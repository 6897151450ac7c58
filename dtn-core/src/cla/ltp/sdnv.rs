//! Self-Delimiting Numeric Values (RFC 6256, used by every LTP field: RFC 5326 3.1).
//!
//! A value is written big-endian in 7-bit groups, the high bit set on every byte but the
//! last. We read at most [`MAX_LEN`] bytes (enough for any `u64`) and refuse values that do
//! not fit in 64 bits, so a hostile field costs at most ten bytes of work.

use alloc::vec::Vec;

/// The longest SDNV we read: ten bytes carry 70 bits, enough for a `u64`.
pub const MAX_LEN: usize = 10;

/// Why an SDNV could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SdnvError {
    /// The input ended inside the value.
    #[error("the input ends inside an SDNV")]
    Truncated,
    /// More than [`MAX_LEN`] bytes, or a value above `u64::MAX`.
    #[error("an SDNV above 64 bits")]
    Overflow,
}

/// Bytes needed to write `value`.
pub fn encoded_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends `value` as an SDNV.
pub fn encode(out: &mut Vec<u8>, value: u64) {
    let len = encoded_len(value);
    for i in (0..len).rev() {
        // Each group is seven bits; the cast keeps exactly them.
        let group = ((value >> (7 * i)) & 0x7f) as u8;
        out.push(if i == 0 { group } else { group | 0x80 });
    }
}

/// Reads one SDNV from `input` at `*pos`, advancing `*pos` past it.
pub fn decode(input: &[u8], pos: &mut usize) -> Result<u64, SdnvError> {
    let mut value: u64 = 0;
    let rest = input.get(*pos..).ok_or(SdnvError::Truncated)?;
    for (i, &byte) in rest.iter().enumerate() {
        if i >= MAX_LEN || value > (u64::MAX >> 7) {
            return Err(SdnvError::Overflow);
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            *pos += i + 1;
            return Ok(value);
        }
    }
    Err(if rest.len() >= MAX_LEN { SdnvError::Overflow } else { SdnvError::Truncated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, value);
        out
    }

    #[test]
    fn encodes_the_rfc_6256_examples() {
        assert_eq!(bytes(0), [0x00]);
        assert_eq!(bytes(0x7f), [0x7f]);
        assert_eq!(bytes(0xabc), [0x95, 0x3c]);
        assert_eq!(bytes(0x1234), [0xa4, 0x34]);
        assert_eq!(bytes(0x4234), [0x81, 0x84, 0x34]);
    }

    #[test]
    fn u64_max_takes_ten_bytes_and_one_more_bit_overflows() {
        let max = bytes(u64::MAX);
        assert_eq!(max.len(), 10);
        assert_eq!(decode(&max, &mut 0), Ok(u64::MAX));
        // 0x83 ff .. 7f: 65 significant bits.
        let mut over = vec![0x83];
        over.extend([0xff; 8]);
        over.push(0x7f);
        assert_eq!(decode(&over, &mut 0), Err(SdnvError::Overflow));
    }

    #[test]
    fn rejects_an_endless_run_of_continuation_bytes_after_ten() {
        let endless = [0x80u8; 1000];
        assert_eq!(decode(&endless, &mut 0), Err(SdnvError::Overflow));
        assert_eq!(decode(&[0x80, 0x80], &mut 0), Err(SdnvError::Truncated));
        assert_eq!(decode(&[], &mut 0), Err(SdnvError::Truncated));
    }

    #[test]
    fn leading_zero_groups_are_read() {
        assert_eq!(decode(&[0x80, 0x80, 0x05], &mut 0), Ok(5));
    }

    proptest! {
        #[test]
        fn round_trips(value: u64, prefix in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut input = prefix.clone();
            encode(&mut input, value);
            let mut pos = prefix.len();
            prop_assert_eq!(decode(&input, &mut pos), Ok(value));
            prop_assert_eq!(pos, input.len());
            prop_assert_eq!(input.len() - prefix.len(), encoded_len(value));
        }

        #[test]
        fn never_panics_and_never_reads_past_ten_bytes(input in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut pos = 0;
            if decode(&input, &mut pos).is_ok() {
                prop_assert!(pos <= MAX_LEN);
            }
        }
    }
}
