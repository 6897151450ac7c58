//! Any text as a gateway node configuration: no panics; an error names a line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = gateway::daemon::config::Config::parse(text, std::path::Path::new("fuzz.toml")) {
        let _ = e.to_string();
    }
});
