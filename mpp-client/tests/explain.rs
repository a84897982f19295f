//! `mpp_client::explain` (behind `mpp decode` and `mpp-conformance explain`): decodes
//! what is valid and points at what is not.

use mpp_client::explain::{Kind, explain};
use mpp_core::time::UnixTime;

const NOW: UnixTime = UnixTime::from_secs(1_769_688_000); // 2026-01-29T12:00:00Z
const REQUEST: &str = "eyJhbW91bnQiOiIxMDAwIn0"; // {"amount":"1000"}

#[test]
fn explains_each_challenge_of_a_mixed_header() {
    // req: charge.method-details.display
    let header = format!(
        r#"Bearer realm="x, Payment id=1", Payment id="abc", realm="api.example.com", method="tempo", intent="charge", request="{REQUEST}", expires="2026-01-29T12:05:00Z", Payment id="b", realm="r", method="Tempo", intent="charge", request="{REQUEST}", NTLM"#
    );
    let (text, ok) = explain(&header, Kind::Auto, NOW, false);
    assert!(!ok, "one challenge is invalid");
    assert!(text.contains("[1] Bearer challenge"), "{text}");
    assert!(text.contains("[2] Payment challenge: valid"), "{text}");
    assert!(text.contains(r#""amount": "1000""#), "{text}");
    assert!(
        text.contains("expires      2026-01-29T12:05:00Z (in 5m 0s)"),
        "{text}"
    );
    assert!(
        text.contains("[3] Payment challenge: invalid: invalid method"),
        "{text}"
    );
    let caret_line = text.lines().find(|l| l.contains("^ byte")).unwrap();
    let at: usize = caret_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(
        &header[at..at + 1],
        "T",
        "the caret points at the bad method"
    );
    assert!(
        text.contains("[4] NTLM challenge with no parameters"),
        "{text}"
    );
}

#[test]
fn explains_credentials_and_receipts_with_secrets_redacted() {
    let challenge = format!(
        r#"Payment id="abc", realm="r", method="tempo", intent="charge", request="{REQUEST}""#
    );
    let challenge = mpp_core::challenge::Challenge::parse(challenge.as_bytes()).unwrap();
    let mut payload = mpp_core::json::JsonObject::new();
    payload.insert("preimage".into(), "s3cret-preimage".into());
    let credential =
        mpp_core::credential::Credential::answer(&challenge, payload, Some("did:key:z6Mk".into()))
            .to_header();
    let (text, ok) = explain(&credential, Kind::Auto, NOW, false);
    assert!(ok);
    assert!(text.starts_with("Payment credential: valid"), "{text}");
    assert!(!text.contains("s3cret") && !text.contains("z6Mk"), "{text}");
    let (revealed, _) = explain(&credential, Kind::Credential, NOW, true);
    assert!(revealed.contains("s3cret-preimage"), "{revealed}");

    let receipt = mpp_core::base64::encode(br#"{"method":"tempo","reference":"0xfeed","status":"success","timestamp":"2026-01-29T12:00:00Z"}"#);
    let (text, ok) = explain(&receipt, Kind::Auto, NOW, false);
    assert!(
        ok && text.starts_with("Payment receipt: valid") && !text.contains("0xfeed"),
        "{text}"
    );

    let (text, ok) = explain("Payment !!!", Kind::Credential, NOW, false);
    assert!(
        !ok && text.contains("invalid base64url character"),
        "{text}"
    );
    let (text, ok) = explain("", Kind::Challenge, NOW, false);
    assert!(!ok && text.contains("no Payment challenge"), "{text}");
}

#[test]
fn challenges_json_decodes_each_challenge_or_points_at_its_error() {
    use mpp_client::explain::challenges_json;
    let header = format!(
        r#"Bearer realm="x", Payment id="abc", realm="api.example.com", method="tempo", intent="charge", request="{REQUEST}", expires="2026-01-29T11:00:00Z", Payment id="b", realm="r", method="Tempo", intent="charge", request="{REQUEST}""#
    );
    let list = challenges_json(&header, NOW);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[0]["scheme"], "Bearer");
    assert_eq!(list[0]["payment"], false);
    let valid = &list[1];
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["method"], "tempo");
    assert_eq!(valid["amount"], "1000");
    assert_eq!(valid["currency"], serde_json::Value::Null);
    assert_eq!(valid["request"]["amount"], "1000");
    assert_eq!(valid["expired"], true, "an hour before NOW");
    assert_eq!(valid["credentialField"], "Authorization");
    let invalid = &list[2];
    assert_eq!(invalid["valid"], false);
    assert!(
        invalid["error"]
            .as_str()
            .unwrap()
            .contains("invalid method")
    );
    let at = invalid["at"].as_u64().unwrap() as usize;
    assert_eq!(
        &header[at..at + 1],
        "T",
        "the offset points at the bad method"
    );
}
