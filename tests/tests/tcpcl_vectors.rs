//! TCPCLv4 (RFC 9174) against `shared/spec/tcpclv4-messages.json`: every message decoded to
//! its fields and re-encoded byte for byte, framed only when whole; the error cases handled
//! as the vectors expect; and a whole session stream built from the vectors, split at every
//! byte boundary, delivering the sample bundle.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use dtn_core::cla::tcpcl::msg::{ContactHeader, DecodeError, Limits, frame_len};
use dtn_core::cla::tcpcl::{Message, Role, Session, SessionConfig, SessionEvent, TermReason};
use dtn_tests::{hex_decode, hex_u64, spec_json};
use serde_json::Value;

fn vectors() -> Value {
    spec_json("tcpclv4-messages.json")
}

fn bytes_of(v: &Value) -> Bytes {
    Bytes::from(hex_decode(v["hex"].as_str().unwrap()).unwrap())
}

fn find<'a>(v: &'a Value, section: &str, id_prefix: &str) -> &'a Value {
    v[section].as_array().unwrap().iter().find(|m| m["id"].as_str().unwrap().starts_with(id_prefix)).unwrap()
}

const OPEN: Limits = Limits { segment_mru: u64::MAX, max_extensions: 1 << 16 };

fn check_fields(id: &str, message: &Message, f: &Value) {
    let u = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{id}: field {k}"));
    match message {
        Message::SessInit(s) => {
            assert_eq!(
                (u64::from(s.keepalive_s), s.segment_mru, s.transfer_mru),
                (u("keepalive_s"), u("segment_mru"), u("transfer_mru")),
                "{id}"
            );
            assert_eq!(s.node_id, f["node_id"].as_str().unwrap(), "{id}");
            let items = f["ext_items"].as_array().cloned().unwrap_or_default();
            assert_eq!(s.extensions.len(), items.len(), "{id}");
            for (item, want) in s.extensions.iter().zip(&items) {
                assert_eq!(u8::from(item.critical), want["flags"].as_u64().unwrap() as u8, "{id}");
                assert_eq!(u64::from(item.item_type), hex_u64(want["type"].as_str().unwrap()), "{id}");
                assert_eq!(item.value.as_ref(), hex_decode(want["value"].as_str().unwrap()).unwrap(), "{id}");
            }
        }
        Message::XferSegment { flags, transfer_id, extensions, data } => {
            let bits = (u8::from(flags.start) << 1) | u8::from(flags.end);
            assert_eq!(
                (u64::from(bits), *transfer_id, data.len() as u64),
                (u("flags"), u("transfer_id"), u("data_length")),
                "{id}"
            );
            if let Some(items) = f["ext_items"].as_array() {
                assert_eq!(extensions.len(), items.len(), "{id}");
                for (item, want) in extensions.iter().zip(items) {
                    assert_eq!(u64::from(item.item_type), hex_u64(want["type"].as_str().unwrap()), "{id}");
                    if let Some(v) = want["value_u64"].as_u64() {
                        assert_eq!(item.value.as_ref(), v.to_be_bytes(), "{id}");
                    }
                }
            }
            if let Some(ascii) = f["data_ascii"].as_str() {
                assert_eq!(data.as_ref(), ascii.as_bytes(), "{id}");
            }
        }
        Message::XferAck { flags, transfer_id, length } => {
            let bits = (u8::from(flags.start) << 1) | u8::from(flags.end);
            assert_eq!(
                (u64::from(bits), *transfer_id, *length),
                (u("flags"), u("transfer_id"), u("ack_length")),
                "{id}"
            );
        }
        Message::XferRefuse { reason, transfer_id } => {
            assert_eq!((u64::from(reason.code()), *transfer_id), (u("reason"), u("transfer_id")), "{id}");
        }
        Message::Keepalive => assert_eq!(u("type"), 4, "{id}"),
        Message::SessTerm { reply, reason } => {
            assert_eq!((u64::from(*reply), u64::from(reason.code())), (u("flags"), u("reason")), "{id}");
        }
        Message::MsgReject { reason, header } => {
            assert_eq!((u64::from(reason.code()), u64::from(*header)), (u("reason"), u("rejected_header")), "{id}");
        }
    }
}

#[test]
fn every_message_decodes_to_its_fields_and_reencodes_byte_for_byte() {
    let v = vectors();
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 20);
    for m in messages {
        let id = m["id"].as_str().unwrap();
        let bytes = bytes_of(m);
        if id.contains("contact_header") {
            let header = ContactHeader::decode(&bytes).unwrap().unwrap();
            assert_eq!(
                (header.version, u8::from(header.can_tls)),
                (4, m["fields"]["flags"].as_u64().unwrap() as u8),
                "{id}"
            );
            assert_eq!(header.encode().as_slice(), bytes.as_ref(), "{id}");
            continue;
        }
        for k in 0..bytes.len() {
            assert_eq!(frame_len(&bytes[..k], &OPEN), Ok(None), "{id}: framed after {k} of {} bytes", bytes.len());
        }
        assert_eq!(frame_len(&bytes, &OPEN), Ok(Some(bytes.len())), "{id}");
        let message = Message::parse(&bytes, &OPEN).unwrap_or_else(|e| panic!("{id}: {e}"));
        check_fields(id, &message, &m["fields"]);
        assert_eq!(message.encode(), bytes.as_ref(), "{id}: re-encoding differs");
    }
}

#[test]
fn the_single_segment_carries_sample_bundle_s01() {
    let v = vectors();
    let samples = spec_json("bpv7-sample-bundles.json");
    let s01 = bytes_of(find(&samples, "samples", "S01"));
    let Message::XferSegment { data, .. } = Message::parse(&bytes_of(find(&v, "messages", "T06")), &OPEN).unwrap()
    else {
        panic!("T06 is a segment")
    };
    assert_eq!(data, s01);
    dtn_core::Bundle::parse(data, dtn_core::ParseMode::Strict).unwrap();
}

#[test]
fn dtn7_go_arrays_decode_and_reencode() {
    let v = vectors();
    for m in v["external_vectors"].as_array().unwrap() {
        let (id, bytes) = (m["id"].as_str().unwrap(), bytes_of(m));
        if bytes.len() == 6 && bytes.starts_with(b"dtn!") {
            assert_eq!(ContactHeader::decode(&bytes).unwrap().unwrap().encode().as_slice(), bytes.as_ref(), "{id}");
        } else {
            let message = Message::parse(&bytes, &OPEN).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(message.encode(), bytes.as_ref(), "{id}");
        }
    }
}

fn passive() -> Session {
    Session::new(SessionConfig { segment_mru: 65_536, ..SessionConfig::new("ipn:2.0") }, Role::Passive, 0)
}

fn sent(s: &mut Session) -> Vec<u8> {
    core::iter::from_fn(|| s.poll_transmit()).flat_map(|c| c.to_vec()).collect()
}

fn events(s: &mut Session) -> Vec<SessionEvent> {
    core::iter::from_fn(|| s.poll_event()).collect()
}

/// A passive session after the vectors' contact header and SESS_INIT (T01, T03).
fn established() -> Session {
    let v = vectors();
    let mut s = passive();
    s.receive(&bytes_of(find(&v, "messages", "T01")), 0);
    s.receive(&bytes_of(find(&v, "messages", "T03")), 0);
    sent(&mut s);
    assert!(events(&mut s).iter().any(|e| matches!(e, SessionEvent::Established { .. })));
    s
}

#[test]
fn error_cases_get_the_expected_answer() {
    let v = vectors();
    let case = |p: &str| bytes_of(find(&v, "invalid_or_error_cases", p));
    // TX01: not a TCPCL peer: closed without a word.
    let mut s = passive();
    s.receive(&case("TX01"), 0);
    assert!(sent(&mut s).is_empty() && s.is_closed());
    // TX02: version 3: our header, then SESS_TERM reason 2 (T18).
    let mut s = passive();
    s.receive(&case("TX02"), 0);
    let out = sent(&mut s);
    assert_eq!(&out[6..], bytes_of(find(&v, "messages", "T18")).as_ref());
    // TX03: unknown type: MSG_REJECT reason 1 for 0x08 (T19).
    let mut s = established();
    s.receive(&case("TX03"), 1);
    assert!(sent(&mut s).starts_with(&bytes_of(find(&v, "messages", "T19"))));
    // TX04: truncated: wait for more.
    assert_eq!(frame_len(&case("TX04"), &OPEN), Ok(None));
    // TX05: the unassigned flag bit is ignored.
    let Message::XferSegment { flags, .. } = Message::parse(&case("TX05"), &OPEN).unwrap() else { panic!() };
    assert!(flags.start && flags.end);
    // TX06: 70,000 data octets against a 65,536 segment MRU: the session ends.
    let limits = Limits { segment_mru: 65_536, ..Limits::default() };
    assert_eq!(frame_len(&case("TX06"), &limits), Err(DecodeError::SegmentTooLarge { len: 70_000, mru: 65_536 }));
    let mut s = established();
    s.receive(&case("TX06"), 1);
    assert_eq!(events(&mut s), vec![SessionEvent::Ended { reason: TermReason::ResourceExhaustion, by_peer: true }]);
    // T05: an unknown critical session extension ends the session (contact failure).
    let mut s = passive();
    s.receive(&bytes_of(find(&v, "messages", "T01")), 0);
    s.receive(&bytes_of(find(&v, "messages", "T05")), 0);
    assert!(events(&mut s).contains(&SessionEvent::Ended { reason: TermReason::ContactFailure, by_peer: true }));
}

#[test]
fn a_vector_stream_split_at_every_byte_delivers_the_bundle_and_its_acks() {
    let v = vectors();
    let stream: Vec<u8> = ["T01", "T03", "T07", "T08", "T15", "T16"]
        .iter()
        .flat_map(|id| bytes_of(find(&v, "messages", id)).to_vec())
        .collect();
    let s01 = bytes_of(find(&spec_json("bpv7-sample-bundles.json"), "samples", "S01"));
    let acks: Vec<u8> = ["T11", "T12"].iter().flat_map(|id| bytes_of(find(&v, "messages", id)).to_vec()).collect();
    for split in 0..=stream.len() {
        let mut s = passive();
        s.receive(&stream[..split], 0);
        s.receive(&stream[split..], 0);
        let got = events(&mut s);
        assert!(
            got.contains(&SessionEvent::Received { transfer_id: 2, bundle: s01.clone() }),
            "split at {split}: {got:?}"
        );
        assert_eq!(
            got.last(),
            Some(&SessionEvent::Ended { reason: TermReason::IdleTimeout, by_peer: true }),
            "split at {split}"
        );
        let out = sent(&mut s);
        // Our contact header, our SESS_INIT, the two acks (T11, T12), the SESS_TERM reply (T17).
        let tail = [acks.as_slice(), bytes_of(find(&v, "messages", "T17")).as_ref()].concat();
        assert!(out.ends_with(&tail), "split at {split}");
    }
}
