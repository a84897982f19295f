//! Every prefix (and every suffix) of a valid header is handled without a panic, and
//! the parsers never report more than the whole header holds.

mod common;

use mpp_core::accept::AcceptPayment;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::receipt::Receipt;
use mpp_core::time::Timestamp;

fn each_cut(input: &str, mut check: impl FnMut(&[u8])) {
    let bytes = input.as_bytes();
    for i in 0..=bytes.len() {
        check(&bytes[..i]);
        check(&bytes[i..]);
    }
}

#[test]
fn challenge_prefixes() {
    let line = format!(
        r#"Bearer realm="a, b", {}, Basic dXNlcjpwYXNz==, {}, NTLM"#,
        common::typical_challenge(),
        common::challenge_with(
            r#", description="caf\u00e9 \"x\"", header="Payment-Authorization", ext=tok"#
        )
    );
    let whole = Challenge::parse_all(line.as_bytes())
        .filter(Result::is_ok)
        .count();
    assert_eq!(whole, 2);
    each_cut(&line, |cut| {
        let results: Vec<_> = Challenge::parse_all(cut).collect();
        assert!(results.iter().filter(|r| r.is_ok()).count() <= whole);
        for r in results {
            if let Err(e) = r {
                assert!(e.offset() <= cut.len(), "{e} beyond {} bytes", cut.len());
                let _ = e.to_string();
            }
        }
    });
}

#[test]
fn credential_receipt_and_accept_prefixes() {
    let typical = common::typical_challenge();
    let challenge = Challenge::parse(typical.as_bytes()).unwrap();
    let mut payload = JsonObject::new();
    payload.insert("signature".into(), "0xdeadbeef".into());
    let credential =
        Credential::answer(&challenge, payload, Some("did:pkh:eip155:1:0xabc".into())).to_header();
    assert!(Credential::parse(credential.as_bytes()).is_ok());
    each_cut(&credential, |cut| {
        if let Err(e) = Credential::parse(cut) {
            assert!(e.offset() <= cut.len());
        }
    });

    let receipt = Receipt::new(
        "tempo".to_string().try_into().unwrap(),
        Timestamp::new("2026-01-29T12:00:00Z").unwrap().into_owned(),
        "0xabc",
    )
    .to_header();
    each_cut(&receipt, |cut| {
        let _ = Receipt::parse(cut);
    });

    let accept = "tempo/charge, tempo/session;q=0, stripe/*;q=0.5, */*;q=0.001";
    each_cut(accept, |cut| {
        if let Ok(text) = std::str::from_utf8(cut) {
            let _ = AcceptPayment::parse(text);
        }
    });
}
