//! Any bytes as an administrative record (status report, BIBE PDU, custody signal): no panics,
//! and what decodes re-encodes to bytes that decode to the same record.
#![no_main]

use dtn_core::admin::{AdminRecord, CustodyCodes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = AdminRecord::decode(data) {
        for codes in [CustodyCodes::DRAFT, CustodyCodes::ION] {
            let again = AdminRecord::decode(&record.encode_with(codes)).expect("re-encoded record decodes");
            assert_eq!(again, record);
        }
    }
});
