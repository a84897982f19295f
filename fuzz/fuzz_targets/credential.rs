//! Credential parsing. Oracle: parse → format → parse gives the same credential.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpp_core::credential::{Credential, find_credentials};

fuzz_target!(|data: &[u8]| {
    let headers = [("Authorization", data), ("payment-authorization", data)];
    for found in find_credentials(headers.iter().map(|(n, v)| (*n, *v))) {
        let _ = Credential::parse(found.value);
    }
    if let Ok(credential) = Credential::parse(data) {
        let header = credential.to_header();
        let again = Credential::parse(header.as_bytes()).expect("formatted output parses");
        assert_eq!(again, credential);
    }
});
