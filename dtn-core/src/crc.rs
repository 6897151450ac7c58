//! Block CRCs (RFC 9171 section 4.2.1): CRC-16/X.25 and CRC-32C (Castagnoli).
//!
//! The CRC of a block is computed over the whole encoded block, array head and break bytes
//! included, with the bytes of the CRC value itself taken as zero. CRC-32C uses the SSE 4.2 /
//! ARMv8 instruction under the `std` feature (through the `crc32c` crate, whose runtime CPU
//! detection needs `std`) and a slice-by-16 table otherwise.

use core::ops::Range;

const CRC16_X25: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_IBM_SDLC);
#[cfg(not(feature = "std"))]
const CRC32C_TABLE: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// The CRC type field of a block (RFC 9171 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum CrcType {
    /// Type 0: no CRC.
    #[default]
    None,
    /// Type 1: standard X-25 CRC-16, 2 bytes.
    Crc16,
    /// Type 2: CRC-32C (Castagnoli), 4 bytes.
    Crc32c,
}

impl CrcType {
    /// The type for a wire code, or `None` for an undefined code.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(CrcType::None),
            1 => Some(CrcType::Crc16),
            2 => Some(CrcType::Crc32c),
            _ => None,
        }
    }

    /// The wire code.
    pub fn code(self) -> u64 {
        match self {
            CrcType::None => 0,
            CrcType::Crc16 => 1,
            CrcType::Crc32c => 2,
        }
    }

    /// Length of the CRC value in bytes (0, 2 or 4).
    pub fn value_len(self) -> usize {
        match self {
            CrcType::None => 0,
            CrcType::Crc16 => 2,
            CrcType::Crc32c => 4,
        }
    }

    /// CRC of `block` with the bytes in `hole` (the CRC value) taken as zero.
    ///
    /// `hole` must lie inside `block`; an out-of-range hole is clamped, which can only give a
    /// CRC that does not match.
    pub fn compute(self, block: &[u8], hole: Range<usize>) -> u32 {
        let end = hole.end.min(block.len());
        let start = hole.start.min(end);
        let (before, rest) = block.split_at(start);
        let (value, after) = rest.split_at(end - start);
        let zeros = [0u8; 4];
        let zeros = zeros.get(..value.len()).unwrap_or(&zeros);
        match self {
            CrcType::None => 0,
            CrcType::Crc16 => {
                let mut digest = CRC16_X25.digest();
                digest.update(before);
                digest.update(zeros);
                digest.update(after);
                u32::from(digest.finalize())
            }
            CrcType::Crc32c => crc32c_parts(&[before, zeros, after]),
        }
    }

    /// Writes `crc` big-endian into the value bytes (`value.len()` must be [`Self::value_len`]).
    pub fn write_value(self, crc: u32, value: &mut [u8]) {
        let be = crc.to_be_bytes();
        let src = match self {
            CrcType::None => &be[4..],
            CrcType::Crc16 => &be[2..],
            CrcType::Crc32c => &be[..],
        };
        if let Some(dst) = value.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
    }

    /// Reads a big-endian CRC value.
    pub fn read_value(value: &[u8]) -> u32 {
        value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
    }
}

/// CRC-32C over the concatenation of `parts`.
#[cfg(feature = "std")]
pub fn crc32c_parts(parts: &[&[u8]]) -> u32 {
    parts.iter().filter(|p| !p.is_empty()).fold(0, |crc, part| crc32c::crc32c_append(crc, part))
}

/// CRC-32C over the concatenation of `parts`.
#[cfg(not(feature = "std"))]
pub fn crc32c_parts(parts: &[&[u8]]) -> u32 {
    let mut digest = CRC32C_TABLE.digest();
    for part in parts {
        digest.update(part);
    }
    digest.finalize()
}

/// CRC-16/X.25 over `data`.
pub fn crc16_x25(data: &[u8]) -> u16 {
    CRC16_X25.checksum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_x25_check_value() {
        assert_eq!(crc16_x25(b"123456789"), 0x906e);
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c_parts(&[b"1234", b"56789"]), 0xe306_9283);
    }

    #[test]
    fn crc32c_covers_zeroed_crc_field() {
        let block = [1u8, 2, 3, 0xaa, 0xbb, 0xcc, 0xdd, 9];
        let zeroed = [1u8, 2, 3, 0, 0, 0, 0, 9];
        assert_eq!(CrcType::Crc32c.compute(&block, 3..7), crc32c_parts(&[&zeroed]));
        assert_eq!(CrcType::Crc16.compute(&block, 3..5), u32::from(crc16_x25(&[1, 2, 3, 0, 0, 0xcc, 0xdd, 9])));
    }

    #[test]
    fn out_of_range_hole_does_not_panic() {
        let _ = CrcType::Crc32c.compute(&[1, 2], 5..9);
        let _ = CrcType::Crc16.compute(&[1, 2], 1..9);
    }

    #[test]
    fn value_is_big_endian() {
        let mut v = [0u8; 2];
        CrcType::Crc16.write_value(0x2b7a, &mut v);
        assert_eq!(v, [0x2b, 0x7a]);
        assert_eq!(CrcType::read_value(&v), 0x2b7a);
    }
}
