//! Any bytes as an application-bridge header: no panics, and whatever decodes re-encodes to
//! a header that decodes to the same message.
#![no_main]

use dtn_core::app::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        let wire = message.encode();
        let again = wire.get(4..).map(Message::decode);
        assert_eq!(again, Some(Ok(message)));
    }
});
