//! `Payment-Receipt` parsing. Oracle: parse → format → parse gives the same receipt.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpp_core::receipt::Receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok(receipt) = Receipt::parse(data) {
        let header = receipt.to_header();
        let again = Receipt::parse(header.as_bytes()).expect("formatted output parses");
        assert_eq!(again, receipt);
    }
});
