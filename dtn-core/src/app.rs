//! The application bridge's messages (docs/app-protocol.md): how a ground application talks
//! to a gateway over QUIC. A CBOR array per message,
//! preceded on its stream by a 4-byte big-endian length; ADUs follow their header on the
//! same stream, up to its FIN. Decoding never panics and names the byte at fault.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::cbor::{Reader, writer};

/// ALPN of the application bridge.
pub const ALPN: &[u8] = b"dtn-app/1";
/// Longest header accepted.
pub const MAX_HEADER: usize = 64 * 1024;

/// Outcome codes of [`Message::Registered`].
pub mod registered {
    /// Registered.
    pub const OK: u64 = 0;
    /// The client's certificate does not name this endpoint.
    pub const NOT_ALLOWED: u64 = 1;
    /// The endpoint is not on this node.
    pub const NOT_LOCAL: u64 = 2;
}

/// Status codes of [`Message::Submitted`].
pub mod submitted {
    /// Durably accepted.
    pub const ACCEPTED: u64 = 0;
    /// Refused for an RFC 9171 status-report reason: `REASON + code`.
    pub const REASON: u64 = 1;
    /// Refused: the ADU is larger than the gateway accepts (not an RFC 9171 reason).
    pub const TOO_LARGE: u64 = 256;

    /// A refusal in words: what it means for this submission, then the RFC 9171 reason.
    pub fn describe(status: u64) -> alloc::string::String {
        use crate::admin::ReasonCode;
        match status {
            ACCEPTED => "accepted".into(),
            TOO_LARGE => "the ADU is larger than the gateway accepts".into(),
            s if s < TOO_LARGE => {
                let reason = ReasonCode::from_code(s - REASON);
                let meaning = match reason {
                    ReasonCode::NoInformation => {
                        "the source endpoint is not this client's to send from (its certificate does not name it, \
                         or it is not on the gateway's node)"
                    }
                    ReasonCode::DepletedStorage => "the gateway's store is full",
                    ReasonCode::TrafficPared => "the lifetime is longer than the gateway keeps bundles",
                    ReasonCode::BlockUnintelligible => {
                        "the gateway could not make a bundle of it (is the destination a valid endpoint ID?)"
                    }
                    ReasonCode::MissingSecurityOperation => {
                        "the gateway's BPSec policy has no rule that gives the protection asked for"
                    }
                    other => return alloc::format!("refused: {} (reason {})", other.description(), other.code()),
                };
                alloc::format!("refused: {meaning} ({}, reason {})", reason.description(), reason.code())
            }
            s => alloc::format!("refused: unknown status {s}"),
        }
    }
}

/// CBOR null.
const NULL: u8 = 0xf6;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Client → gateway, control stream: collect deliveries for `endpoint`.
    Register {
        /// The endpoint.
        endpoint: String,
    },
    /// Gateway → client: the answer to [`Message::Register`].
    Registered {
        /// The endpoint.
        endpoint: String,
        /// [`registered`] code.
        status: u64,
    },
    /// Client → gateway, the ADU after it: send this. Without a length the ADU runs to the
    /// stream's FIN (one ADU per stream); with one, the ADU is that many bytes and another
    /// SUBMIT may follow on the same stream (answers come in order on it).
    Submit {
        /// The client's reference, echoed in [`Message::Submitted`].
        reference: u64,
        /// Sending endpoint (one the client registered or its certificate names).
        source: String,
        /// Destination endpoint.
        destination: String,
        /// Lifetime in milliseconds.
        lifetime_ms: u64,
        /// 0 bulk, 1 normal, 2 expedited.
        priority: u64,
        /// RFC 9171 bundle processing flags the client may set (reports, no fragmentation).
        flags: u64,
        /// The ADU's length in bytes, when several ADUs share the stream.
        length: Option<u64>,
        /// BPSec the client asks the node's policy to give the ADU: 1 integrity (a BIB),
        /// 2 confidentiality (a BCB); refused with reason 12 if no rule can.
        protection: u64,
    },
    /// Gateway → client, on the submit stream: durably accepted (status 0) or refused (the
    /// RFC 9171 status-report reason code).
    Submitted {
        /// The client's reference.
        reference: u64,
        /// 0: accepted; refused: 1 + the RFC 9171 status-report reason code.
        status: u64,
        /// The bundle's creation time (DTN ms) and sequence number, when accepted.
        creation: (u64, u64),
    },
    /// Gateway → client, a stream of its own, the ADU after it: a delivery.
    Deliver {
        /// The registered endpoint.
        endpoint: String,
        /// Who sent it.
        source: String,
        /// Its creation time (DTN ms) and sequence number: with the source, its identity.
        creation: (u64, u64),
    },
    /// Client → gateway, on the delivery stream: the client has it; the gateway lets go.
    Delivered,
    /// Client → gateway, control stream: the node's state.
    Status,
    /// Gateway → client: the admin API's `/node` JSON.
    StatusReport {
        /// JSON text.
        json: String,
    },
}

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The length prefix exceeds [`MAX_HEADER`].
    #[error("header of {0} bytes is above the 64 KiB limit")]
    TooLong(usize),
    /// Malformed CBOR or a wrong field.
    #[error("byte {offset}: {what}")]
    Malformed {
        /// Byte offset in the header.
        offset: usize,
        /// What was expected.
        what: &'static str,
    },
    /// An unknown message code.
    #[error("unknown message type {0}")]
    Unknown(u64),
}

impl Message {
    /// The header: length prefix and CBOR.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            Message::Register { endpoint } => {
                writer::array(&mut body, 2);
                writer::uint(&mut body, 1);
                writer::text(&mut body, endpoint);
            }
            Message::Registered { endpoint, status } => {
                writer::array(&mut body, 3);
                writer::uint(&mut body, 2);
                writer::text(&mut body, endpoint);
                writer::uint(&mut body, *status);
            }
            Message::Submit { reference, source, destination, lifetime_ms, priority, flags, length, protection } => {
                let fields = if *protection != 0 {
                    9
                } else if length.is_some() {
                    8
                } else {
                    7
                };
                writer::array(&mut body, fields);
                writer::uint(&mut body, 3);
                writer::uint(&mut body, *reference);
                writer::text(&mut body, source);
                writer::text(&mut body, destination);
                writer::uint(&mut body, *lifetime_ms);
                writer::uint(&mut body, *priority);
                writer::uint(&mut body, *flags);
                match length {
                    Some(length) => writer::uint(&mut body, *length),
                    // Nine fields: the length is there, as null when the ADU runs to the FIN.
                    None if *protection != 0 => body.push(NULL),
                    None => {}
                }
                if *protection != 0 {
                    writer::uint(&mut body, *protection);
                }
            }
            Message::Submitted { reference, status, creation } => {
                writer::array(&mut body, 5);
                writer::uint(&mut body, 4);
                writer::uint(&mut body, *reference);
                writer::uint(&mut body, *status);
                writer::uint(&mut body, creation.0);
                writer::uint(&mut body, creation.1);
            }
            Message::Deliver { endpoint, source, creation } => {
                writer::array(&mut body, 5);
                writer::uint(&mut body, 5);
                writer::text(&mut body, endpoint);
                writer::text(&mut body, source);
                writer::uint(&mut body, creation.0);
                writer::uint(&mut body, creation.1);
            }
            Message::Delivered => {
                writer::array(&mut body, 1);
                writer::uint(&mut body, 6);
            }
            Message::Status => {
                writer::array(&mut body, 1);
                writer::uint(&mut body, 7);
            }
            Message::StatusReport { json } => {
                writer::array(&mut body, 2);
                writer::uint(&mut body, 8);
                writer::text(&mut body, json);
            }
        }
        let mut out = Vec::with_capacity(4 + body.len());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// The length of the header whose 4-byte prefix `prefix` is.
    pub fn header_len(prefix: [u8; 4]) -> Result<usize, ProtoError> {
        let len = u32::from_be_bytes(prefix) as usize;
        if len > MAX_HEADER { Err(ProtoError::TooLong(len)) } else { Ok(len) }
    }

    /// Decodes a header's CBOR (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Message, ProtoError> {
        let mut r = Reader::new(body);
        let bad = |r: &Reader<'_>, what: &'static str| ProtoError::Malformed { offset: r.position(), what };
        let len = match r.array() {
            Ok(Some(n)) => n,
            _ => return Err(bad(&r, "a definite-length array")),
        };
        let code = r.uint().map_err(|_| bad(&r, "a message type"))?;
        let want = match code {
            1 => 2,
            2 => 3,
            3 if len == 8 || len == 9 => len,
            3 => 7,
            4 | 5 => 5,
            6 | 7 => 1,
            8 => 2,
            other => return Err(ProtoError::Unknown(other)),
        };
        if len != want {
            return Err(bad(&r, "the number of fields of this message type"));
        }
        let message = match code {
            1 => Message::Register { endpoint: text(&mut r, "an endpoint")? },
            2 => Message::Registered { endpoint: text(&mut r, "an endpoint")?, status: uint(&mut r, "a status")? },
            3 => Message::Submit {
                reference: uint(&mut r, "a reference")?,
                source: text(&mut r, "a source endpoint")?,
                destination: text(&mut r, "a destination endpoint")?,
                lifetime_ms: uint(&mut r, "a lifetime")?,
                priority: uint(&mut r, "a priority")?,
                flags: uint(&mut r, "flags")?,
                length: match len {
                    8 => Some(uint(&mut r, "an ADU length")?),
                    9 if r.peek() == Some(NULL) => {
                        r.skip_bytes(1);
                        None
                    }
                    9 => Some(uint(&mut r, "an ADU length or null")?),
                    _ => None,
                },
                protection: if len == 9 { uint(&mut r, "protection flags")? } else { 0 },
            },
            4 => Message::Submitted {
                reference: uint(&mut r, "a reference")?,
                status: uint(&mut r, "a status")?,
                creation: (uint(&mut r, "a creation time")?, uint(&mut r, "a sequence number")?),
            },
            5 => Message::Deliver {
                endpoint: text(&mut r, "an endpoint")?,
                source: text(&mut r, "a source endpoint")?,
                creation: (uint(&mut r, "a creation time")?, uint(&mut r, "a sequence number")?),
            },
            6 => Message::Delivered,
            7 => Message::Status,
            _ => Message::StatusReport { json: text(&mut r, "JSON text")? },
        };
        if !r.is_empty() {
            return Err(bad(&r, "the end of the message"));
        }
        Ok(message)
    }
}

/// A text field; an error names where it should have started.
fn text(r: &mut Reader<'_>, what: &'static str) -> Result<String, ProtoError> {
    let offset = r.position();
    r.text().map(ToString::to_string).map_err(|_| ProtoError::Malformed { offset, what })
}

/// An unsigned field.
fn uint(r: &mut Reader<'_>, what: &'static str) -> Result<u64, ProtoError> {
    let offset = r.position();
    r.uint().map_err(|_| ProtoError::Malformed { offset, what })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message() -> impl Strategy<Value = Message> {
        let text = "[a-z0-9:./]{0,24}";
        prop_oneof![
            text.prop_map(|endpoint| Message::Register { endpoint }),
            (text, any::<u64>()).prop_map(|(endpoint, status)| Message::Registered { endpoint, status }),
            (any::<u64>(), text, text, any::<u64>(), 0..3u64, any::<u64>(), any::<Option<u64>>(), 0..4u64).prop_map(
                |(reference, source, destination, lifetime_ms, priority, flags, length, protection)| Message::Submit {
                    reference,
                    source,
                    destination,
                    lifetime_ms,
                    priority,
                    flags,
                    length,
                    protection
                }
            ),
            (any::<u64>(), any::<u64>(), any::<(u64, u64)>())
                .prop_map(|(reference, status, creation)| Message::Submitted { reference, status, creation }),
            (text, text, any::<(u64, u64)>()).prop_map(|(endpoint, source, creation)| Message::Deliver {
                endpoint,
                source,
                creation
            }),
            Just(Message::Delivered),
            Just(Message::Status),
            ".{0,40}".prop_map(|json| Message::StatusReport { json }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(m in message()) {
            let wire = m.encode();
            let len = Message::header_len([wire[0], wire[1], wire[2], wire[3]]).unwrap();
            prop_assert_eq!(len, wire.len() - 4);
            prop_assert_eq!(Message::decode(&wire[4..]).unwrap(), m);
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(noise in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = Message::decode(&noise);
        }

        #[test]
        fn a_truncated_header_is_an_error(m in message(), cut in 1usize..8) {
            let wire = m.encode();
            let body = &wire[4..];
            if cut <= body.len() {
                prop_assert!(Message::decode(&body[..body.len() - cut]).is_err());
            }
        }
    }

    #[test]
    fn refusals_say_what_they_mean_and_give_the_reason() {
        assert_eq!(
            submitted::describe(submitted::REASON + 4),
            "refused: the gateway's store is full (depleted storage, reason 4)"
        );
        assert!(submitted::describe(submitted::REASON).contains("certificate does not name it"));
        assert!(submitted::describe(submitted::REASON + 12).contains("BPSec policy"));
        assert_eq!(submitted::describe(submitted::REASON + 9), "refused: hop limit exceeded (reason 9)");
        assert_eq!(submitted::describe(submitted::ACCEPTED), "accepted");
    }

    #[test]
    fn errors_name_the_byte_and_limits_hold() {
        assert_eq!(Message::header_len((70_000u32).to_be_bytes()), Err(ProtoError::TooLong(70_000)));
        assert_eq!(Message::decode(&[0x82, 0x09, 0x60]), Err(ProtoError::Unknown(9)));
        assert!(matches!(
            Message::decode(&[0x82, 0x01, 0x01]),
            Err(ProtoError::Malformed { offset: 2, what: "an endpoint" })
        ));
        assert!(matches!(Message::decode(&[0x83, 0x01, 0x60, 0x60]), Err(ProtoError::Malformed { .. })));
    }
}
