//! `WWW-Authenticate` parsing. Oracle: every challenge that parses formats to a header
//! that parses back to the same challenge (unless it is too large to send), and every
//! error points inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpp_core::challenge::Challenge;
use mpp_core::{FormatError, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let lenient = ParseOptions {
        legacy_unescaped_quotes: true,
        standard_base64: true,
        ..ParseOptions::STRICT
    };
    for options in [ParseOptions::STRICT, lenient] {
        for result in Challenge::parse_all_with(data, options) {
            let challenge = match result {
                Ok(c) => c,
                Err(e) => {
                    assert!(e.offset() <= data.len().max(options.max_field_len), "{e}");
                    continue;
                }
            };
            let header = match challenge.to_header() {
                Ok(h) => h,
                Err(FormatError::TooLarge { .. }) => continue,
                Err(e) => panic!("a parsed challenge must format: {e}"),
            };
            let again = Challenge::parse_all_with(header.as_bytes(), options)
                .next()
                .expect("one challenge")
                .expect("formatted output parses");
            assert_eq!(again, challenge);
            assert_eq!(again.clone().into_owned(), challenge);
        }
    }
});
