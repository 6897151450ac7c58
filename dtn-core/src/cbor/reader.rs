//! The zero-copy CBOR reader.

use core::ops::Range;

use super::{CborError, CborErrorKind, Major};

/// Deepest nesting [`Reader::skip`] follows; bundles never nest anywhere near this.
const MAX_SKIP_DEPTH: u32 = 32;

/// An item head: major type, argument and where it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The major type.
    pub major: Major,
    /// The argument (value, length or count); `None` for an indefinite length or the break code.
    pub arg: Option<u64>,
    /// The additional-information bits (needed to tell simple values and floats apart).
    pub info: u8,
    /// Offset of the initial byte.
    pub offset: usize,
}

/// Reads CBOR items from a byte slice without copying.
///
/// In strict mode a head that is not in shortest form is an error; in relaxed mode it is accepted
/// and the offset of the first one is kept in [`Reader::non_canonical_at`].
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    strict: bool,
    non_canonical_at: Option<usize>,
}

impl<'a> Reader<'a> {
    /// A strict reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_strictness(buf, true)
    }

    /// A reader that rejects (`strict`) or records non-shortest heads.
    pub fn with_strictness(buf: &'a [u8], strict: bool) -> Self {
        Reader { buf, pos: 0, strict, non_canonical_at: None }
    }

    /// The whole input.
    pub fn input(&self) -> &'a [u8] {
        self.buf
    }

    /// Offset of the next unread byte.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// The next byte, not consumed.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Advances past `n` bytes the caller has already examined (clamped to the input).
    pub fn skip_bytes(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
    }

    /// Offset of the first non-shortest head accepted in relaxed mode.
    pub fn non_canonical_at(&self) -> Option<usize> {
        self.non_canonical_at
    }

    fn err(&self, kind: CborErrorKind, offset: usize) -> CborError {
        CborError { kind, offset }
    }

    fn take(&mut self, n: usize, item_offset: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(self.err(CborErrorKind::TooLong, item_offset))?;
        let slice = self.buf.get(self.pos..end).ok_or(self.err(CborErrorKind::Truncated, item_offset))?;
        self.pos = end;
        Ok(slice)
    }

    /// Reads one item head.
    pub fn head(&mut self) -> Result<Head, CborError> {
        let offset = self.pos;
        let initial = *self.buf.get(self.pos).ok_or(self.err(CborErrorKind::Truncated, offset))?;
        self.pos += 1;
        let major = Major::from_initial(initial);
        let info = initial & 0x1f;
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24..=27 => {
                let width = 1usize << (info - 24);
                let bytes = self.take(width, offset)?;
                let value = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                let shortest_min: u64 = match info {
                    24 => 24,
                    25 => 0x100,
                    26 => 0x1_0000,
                    _ => 0x1_0000_0000,
                };
                // RFC 8949 3.3: a one-byte simple value below 32 is not well-formed at all.
                if major == Major::Simple && info == 24 && value < 32 {
                    return Err(self.err(CborErrorKind::Reserved, offset));
                }
                // Floats (major 7, info 25..27) have no integer shortest form to check.
                let is_float = major == Major::Simple && info > 24;
                if !is_float && value < shortest_min {
                    if self.strict {
                        return Err(self.err(CborErrorKind::NonShortest, offset));
                    }
                    self.non_canonical_at.get_or_insert(offset);
                }
                Some(value)
            }
            31 => match major {
                Major::Bytes | Major::Text | Major::Array | Major::Map | Major::Simple => None,
                _ => return Err(self.err(CborErrorKind::Reserved, offset)),
            },
            _ => return Err(self.err(CborErrorKind::Reserved, offset)),
        };
        Ok(Head { major, arg, info, offset })
    }

    fn head_of(&mut self, expected: Major) -> Result<Head, CborError> {
        let head = self.head()?;
        if head.major != expected {
            return Err(self.err(CborErrorKind::WrongType { expected, found: head.major }, head.offset));
        }
        Ok(head)
    }

    /// Reads an unsigned integer.
    pub fn uint(&mut self) -> Result<u64, CborError> {
        let head = self.head_of(Major::Unsigned)?;
        // Major 0 never carries info 31 (rejected in `head`), so `arg` is set.
        head.arg.ok_or(self.err(CborErrorKind::Reserved, head.offset))
    }

    /// Reads an array head: `Some(n)` for a definite array of `n` items, `None` for an
    /// indefinite one (ended by a break, see [`Reader::at_break`]).
    pub fn array(&mut self) -> Result<Option<u64>, CborError> {
        Ok(self.head_of(Major::Array)?.arg)
    }

    /// Reads a tag number.
    pub fn tag(&mut self) -> Result<u64, CborError> {
        let head = self.head_of(Major::Tag)?;
        head.arg.ok_or(self.err(CborErrorKind::Reserved, head.offset))
    }

    /// Reads a definite-length byte string and returns where its content lies in the input.
    pub fn bytes_range(&mut self) -> Result<Range<usize>, CborError> {
        let head = self.head_of(Major::Bytes)?;
        let len = head.arg.ok_or(self.err(CborErrorKind::IndefiniteLength, head.offset))?;
        let len = usize::try_from(len).map_err(|_| self.err(CborErrorKind::TooLong, head.offset))?;
        let start = self.pos;
        self.take(len, head.offset)?;
        Ok(start..self.pos)
    }

    /// Reads a definite-length byte string, borrowed from the input.
    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        let range = self.bytes_range()?;
        Ok(self.buf.get(range).unwrap_or(&[]))
    }

    /// Reads a definite-length UTF-8 text string, borrowed from the input.
    pub fn text(&mut self) -> Result<&'a str, CborError> {
        let head = self.head_of(Major::Text)?;
        let len = head.arg.ok_or(self.err(CborErrorKind::IndefiniteLength, head.offset))?;
        let len = usize::try_from(len).map_err(|_| self.err(CborErrorKind::TooLong, head.offset))?;
        let raw = self.take(len, head.offset)?;
        core::str::from_utf8(raw).map_err(|_| self.err(CborErrorKind::InvalidUtf8, head.offset))
    }

    /// Reads `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, CborError> {
        let head = self.head()?;
        match (head.major, head.info) {
            (Major::Simple, 20) => Ok(false),
            (Major::Simple, 21) => Ok(true),
            (found, _) => Err(self.err(CborErrorKind::WrongType { expected: Major::Simple, found }, head.offset)),
        }
    }

    /// True when the next byte is the break stop code (0xff).
    pub fn at_break(&self) -> bool {
        self.peek() == Some(0xff)
    }

    /// Consumes the break stop code that ends an indefinite-length item.
    pub fn read_break(&mut self) -> Result<(), CborError> {
        match self.peek() {
            Some(0xff) => {
                self.pos += 1;
                Ok(())
            }
            Some(byte) => Err(self
                .err(CborErrorKind::WrongType { expected: Major::Simple, found: Major::from_initial(byte) }, self.pos)),
            None => Err(self.err(CborErrorKind::Truncated, self.pos)),
        }
    }

    /// Skips one complete item of any type (including nested and indefinite-length items).
    pub fn skip(&mut self) -> Result<(), CborError> {
        self.skip_at_depth(0)
    }

    fn skip_at_depth(&mut self, depth: u32) -> Result<(), CborError> {
        if depth > MAX_SKIP_DEPTH {
            return Err(self.err(CborErrorKind::TooDeep, self.pos));
        }
        let head = self.head()?;
        match (head.major, head.arg) {
            (Major::Unsigned | Major::Negative | Major::Simple, Some(_)) => Ok(()),
            (Major::Simple, None) => Err(self.err(CborErrorKind::Reserved, head.offset)),
            (Major::Bytes | Major::Text, Some(len)) => {
                let len = usize::try_from(len).map_err(|_| self.err(CborErrorKind::TooLong, head.offset))?;
                self.take(len, head.offset).map(|_| ())
            }
            (Major::Bytes | Major::Text, None) => {
                while !self.at_break() {
                    let chunk = self.head_of(head.major)?;
                    let len = chunk.arg.ok_or(self.err(CborErrorKind::IndefiniteLength, chunk.offset))?;
                    let len = usize::try_from(len).map_err(|_| self.err(CborErrorKind::TooLong, chunk.offset))?;
                    self.take(len, chunk.offset)?;
                }
                self.read_break()
            }
            (Major::Array | Major::Map, Some(count)) => {
                let per_entry = if head.major == Major::Map { 2 } else { 1 };
                for _ in 0..count {
                    for _ in 0..per_entry {
                        self.skip_at_depth(depth + 1)?;
                    }
                }
                Ok(())
            }
            (Major::Array | Major::Map, None) => {
                while !self.at_break() {
                    self.skip_at_depth(depth + 1)?;
                }
                self.read_break()
            }
            (Major::Tag, _) => self.skip_at_depth(depth + 1),
            (Major::Unsigned | Major::Negative, None) => Err(self.err(CborErrorKind::Reserved, head.offset)),
        }
    }
}
