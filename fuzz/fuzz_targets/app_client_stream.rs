//! The client side of dtn-app/1: any bytes as what a gateway sends on a stream (length
//! prefix, then a CBOR header), read as the client reads them, header after header: no
//! panics, no allocation beyond the header limit, and every answer decodes to a message that
//! re-encodes to itself.
#![no_main]

use dtn_core::app::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Some((prefix, tail)) = rest.split_first_chunk::<4>() {
        let Ok(len) = Message::header_len(*prefix) else { return };
        let Some(body) = tail.get(..len) else { return };
        match Message::decode(body) {
            Ok(message) => assert_eq!(Message::decode(&message.encode()[4..]), Ok(message)),
            Err(_) => return,
        }
        rest = &tail[len..];
    }
});
