//! The config loader: TOML parsing, version handling and validation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mediawatch_config::Config::from_toml_str(text, "<fuzz>");
    }
});
