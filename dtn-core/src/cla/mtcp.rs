//! MTCP, the minimal TCP convergence layer (draft-ietf-dtn-mtcpcl-01, as µD3TN and dtn7
//! speak it): each bundle on the stream is one definite-length CBOR byte string. No
//! handshake, no acknowledgements: the sender knows only that TCP took the bytes.
//!
//! [`Decoder`] takes bundles off a stream that may arrive split anywhere, refusing anything
//! that is not a byte string and anything above its size limit before buffering it.

use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};

use crate::cbor::Major;
use crate::cbor::writer;

/// Why the stream cannot be read as MTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MtcpError {
    /// The item at `offset` is not a definite-length byte string.
    #[error("byte {offset} of the stream: 0x{byte:02x} does not start a definite-length CBOR byte string")]
    NotAByteString {
        /// Stream offset of the item.
        offset: u64,
        /// Its initial byte.
        byte: u8,
    },
    /// A bundle longer than the limit.
    #[error("byte {offset} of the stream: a {len}-byte bundle is above the {max}-byte limit")]
    TooLarge {
        /// Stream offset of the item.
        offset: u64,
        /// Declared length.
        len: u64,
        /// The limit.
        max: u64,
    },
}

/// The framing for one bundle: the byte-string head to send before its bytes.
pub fn head(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    writer::head(&mut out, Major::Bytes, len as u64);
    out
}

/// Takes bundles off an MTCP stream.
#[derive(Debug)]
pub struct Decoder {
    max: u64,
    buffer: BytesMut,
    /// Stream offset of the buffer's first byte.
    offset: u64,
    failed: Option<MtcpError>,
}

impl Decoder {
    /// A decoder refusing bundles above `max_bundle` bytes.
    pub fn new(max_bundle: u64) -> Self {
        Decoder { max: max_bundle, buffer: BytesMut::new(), offset: 0, failed: None }
    }

    /// Bytes received and not yet handed out as bundles.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next whole bundle, `Ok(None)` while more bytes are needed; after an error the
    /// stream cannot be followed and every call returns it.
    pub fn next_bundle(&mut self) -> Result<Option<Bytes>, MtcpError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let Some(&first) = self.buffer.first() else { return Ok(None) };
        let fail = |s: &mut Self, e: MtcpError| {
            s.failed = Some(e);
            s.buffer = BytesMut::new();
            Err(e)
        };
        let not_bytes = MtcpError::NotAByteString { offset: self.offset, byte: first };
        if first >> 5 != 2 {
            return fail(self, not_bytes);
        }
        let (head_len, len) = match first & 0x1f {
            n @ 0..=23 => (1, u64::from(n)),
            n @ 24..=27 => {
                let width = 1usize << (n - 24);
                let Some(field) = self.buffer.get(1..1 + width) else { return Ok(None) };
                (1 + width, field.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
            }
            _ => return fail(self, not_bytes),
        };
        if len > self.max {
            return fail(self, MtcpError::TooLarge { offset: self.offset, len, max: self.max });
        }
        let Ok(len) = usize::try_from(len) else {
            return fail(self, MtcpError::TooLarge { offset: self.offset, len, max: self.max });
        };
        if self.buffer.len() < head_len + len {
            // Room for the rest, but never more ahead than has arrived (at least 64 KiB): a
            // peer declaring a huge bundle and stalling holds only what it sent, and a big
            // bundle grows the buffer by doubling, not byte by byte.
            let missing = head_len + len - self.buffer.len();
            self.buffer.reserve(missing.min(self.buffer.len().max(64 * 1024)));
            return Ok(None);
        }
        self.buffer.advance(head_len);
        self.offset += (head_len + len) as u64;
        Ok(Some(self.buffer.split_to(len).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn frames_with_the_shortest_head() {
        assert_eq!(head(5), vec![0x45]);
        assert_eq!(head(300), vec![0x59, 0x01, 0x2c]);
    }

    #[test]
    fn refuses_what_is_not_a_byte_string_or_too_big() {
        let mut d = Decoder::new(100);
        d.extend(&[0x45, 1, 2, 3, 4, 5, 0x9f]);
        assert_eq!(d.next_bundle(), Ok(Some(Bytes::from_static(&[1, 2, 3, 4, 5]))));
        assert_eq!(d.next_bundle(), Err(MtcpError::NotAByteString { offset: 6, byte: 0x9f }));
        let mut d = Decoder::new(100);
        d.extend(&[0x59, 0x01, 0x2c]);
        assert_eq!(d.next_bundle(), Err(MtcpError::TooLarge { offset: 0, len: 300, max: 100 }));
        let mut d = Decoder::new(100);
        d.extend(&[0x5f]);
        assert!(d.next_bundle().is_err(), "indefinite-length byte strings are not MTCP");
    }

    #[test]
    fn a_declared_length_reserves_no_more_than_has_arrived() {
        let mut d = Decoder::new(1 << 30);
        // A head declaring a 1 GiB bundle, then a trickle.
        d.extend(&[0x5a, 0x40, 0x00, 0x00, 0x00]);
        assert_eq!(d.next_bundle(), Ok(None));
        assert!(d.buffer.capacity() <= 256 * 1024, "{} bytes reserved", d.buffer.capacity());
        d.extend(&[0u8; 1000]);
        assert_eq!(d.next_bundle(), Ok(None));
        assert!(d.buffer.capacity() <= 256 * 1024, "{} bytes reserved", d.buffer.capacity());
    }

    proptest! {
        #[test]
        fn bundles_come_out_whole_whatever_the_split(
            bundles in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 1..8),
            piece in 1usize..50,
        ) {
            let mut stream = Vec::new();
            for b in &bundles {
                stream.extend_from_slice(&head(b.len()));
                stream.extend_from_slice(b);
            }
            let mut d = Decoder::new(1 << 20);
            let mut out = Vec::new();
            for part in stream.chunks(piece) {
                d.extend(part);
                while let Some(b) = d.next_bundle().unwrap() {
                    out.push(b.to_vec());
                }
            }
            prop_assert_eq!(out, bundles);
        }
    }
}
