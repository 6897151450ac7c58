//! Any bytes from a TCPCLv4 peer, in any pieces, into a passive session (after a valid contact
//! header and SESS_INIT, or raw): no panics, the session's output stays bounded, and every
//! message the framer accepts re-encodes to the bytes it came from.
#![no_main]

use bytes::Bytes;
use dtn_core::cla::tcpcl::msg::{Limits, frame_len};
use dtn_core::cla::tcpcl::{ContactHeader, Message, Role, SessInit, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let config = SessionConfig { segment_mru: 4096, transfer_mru: 1 << 16, ..SessionConfig::new("ipn:2.0") };
    let mut session = Session::new(config, Role::Passive, 0);
    if mode & 1 == 1 {
        session.receive(&ContactHeader { version: 4, can_tls: false }.encode(), 0);
        let init = SessInit {
            keepalive_s: 60,
            segment_mru: 65_536,
            transfer_mru: 1 << 20,
            node_id: "ipn:1.0".into(),
            extensions: Vec::new(),
        };
        session.receive(&Message::SessInit(init).encode(), 0);
    }
    let piece = usize::from(mode >> 1).max(1);
    for (i, part) in rest.chunks(piece).enumerate() {
        session.receive(part, i as u64);
        session.handle_timeout(i as u64 * 1000);
        while session.poll_event().is_some() {}
        // Acks and answers only: never more than the input could ask for.
        assert!(session.queued_bytes() <= 256 + 64 * rest.len());
    }
    let limits = Limits::default();
    let bytes = Bytes::copy_from_slice(rest);
    if let Ok(Some(len)) = frame_len(&bytes, &limits) {
        let frame = bytes.slice(..len);
        if let Ok(message) = Message::parse(&frame, &limits) {
            let again = message.encode();
            // Unassigned flag bits are dropped on re-encoding; everything else is kept.
            if again != frame.as_ref() {
                assert_eq!(Message::parse(&Bytes::from(again), &limits).ok(), Some(message));
            }
        }
    }
});
