//! Minimal canonical CBOR (RFC 8949) over byte slices, as RFC 9171 section 4.1 uses it.
//!
//! Bundles use RFC 8949 section 4.2.1 "core deterministic" encoding except that indefinite-length
//! arrays are allowed. The [`Reader`] checks shortest-form heads as it goes (or, in relaxed mode,
//! remembers the first violation), never copies byte strings and never panics: every failure is a
//! [`CborError`] with the byte offset of the item at fault. The [`writer`] functions emit
//! shortest-form heads only.

mod reader;
pub mod writer;

pub use reader::{Head, Reader};

/// CBOR major types (RFC 8949 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    /// Major type 0.
    Unsigned,
    /// Major type 1.
    Negative,
    /// Major type 2.
    Bytes,
    /// Major type 3.
    Text,
    /// Major type 4.
    Array,
    /// Major type 5.
    Map,
    /// Major type 6.
    Tag,
    /// Major type 7: floats, simple values and the break stop code.
    Simple,
}

impl Major {
    pub(crate) fn from_initial(byte: u8) -> Self {
        match byte >> 5 {
            0 => Major::Unsigned,
            1 => Major::Negative,
            2 => Major::Bytes,
            3 => Major::Text,
            4 => Major::Array,
            5 => Major::Map,
            6 => Major::Tag,
            _ => Major::Simple,
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Major::Unsigned => 0,
            Major::Negative => 1,
            Major::Bytes => 2,
            Major::Text => 3,
            Major::Array => 4,
            Major::Map => 5,
            Major::Tag => 6,
            Major::Simple => 7,
        }
    }

    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Major::Unsigned => "unsigned integer",
            Major::Negative => "negative integer",
            Major::Bytes => "byte string",
            Major::Text => "text string",
            Major::Array => "array",
            Major::Map => "map",
            Major::Tag => "tag",
            Major::Simple => "simple value or float",
        }
    }
}

/// What went wrong while reading CBOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CborErrorKind {
    /// The input ended inside an item.
    Truncated,
    /// An item of another major type was found.
    WrongType {
        /// What the grammar required.
        expected: Major,
        /// What the input held.
        found: Major,
    },
    /// A head was not in shortest form (RFC 8949 4.2.1).
    NonShortest,
    /// An indefinite length where RFC 9171 requires a definite one.
    IndefiniteLength,
    /// Additional information 28..30 (reserved) or an indefinite length on a major type that
    /// cannot have one.
    Reserved,
    /// A text string that is not UTF-8.
    InvalidUtf8,
    /// A length that does not fit in memory on this platform.
    TooLong,
    /// Nesting deeper than the reader allows when skipping unknown items.
    TooDeep,
}

/// A CBOR decoding failure at a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct CborError {
    /// What went wrong.
    pub kind: CborErrorKind,
    /// Offset of the item at fault from the start of the reader's input.
    pub offset: usize,
}

impl core::fmt::Display for CborErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CborErrorKind::Truncated => f.write_str("input ends inside a CBOR item"),
            CborErrorKind::WrongType { expected, found } => {
                write!(f, "expected a CBOR {}, found a {}", expected.name(), found.name())
            }
            CborErrorKind::NonShortest => f.write_str("CBOR head not in shortest form (RFC 8949 4.2.1)"),
            CborErrorKind::IndefiniteLength => f.write_str("indefinite length where a definite length is required"),
            CborErrorKind::Reserved => f.write_str("reserved CBOR additional information"),
            CborErrorKind::InvalidUtf8 => f.write_str("text string is not valid UTF-8"),
            CborErrorKind::TooLong => f.write_str("CBOR length exceeds addressable memory"),
            CborErrorKind::TooDeep => f.write_str("CBOR nesting too deep"),
        }
    }
}

#[cfg(test)]
mod tests;
