//! The core requirements of `spec/requirements.json` that the language-neutral
//! vectors do not reach: writing headers, offsets, options, limits, redaction and
//! binding. Each test is named after the requirement it covers. The header cases
//! the vectors hold (`spec/vectors/draft-01/`) run through mpp-core in
//! `tests/vectors.rs` and are not repeated here.

mod common;

use common::{challenge, challenge_with, params, request_b64};
use mpp_core::accept::{AcceptPayment, Weight};
use mpp_core::base64;
use mpp_core::binding::{BindingInput, ChallengeBinder, Secret};
use mpp_core::challenge::{Challenge, ChallengeBuilder};
use mpp_core::credential::{Credential, CredentialField, find_credentials};
use mpp_core::json::JsonObject;
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::Opaque;
use mpp_core::{BindingError, FormatError, Param, ParseErrorKind, ParseOptions};
use serde_json::json;

fn kind(header: &str) -> Result<(), ParseErrorKind> {
    Challenge::parse(header.as_bytes())
        .map(|_| ())
        .map_err(|e| e.kind())
}

fn parses(header: &str) -> Challenge<'static> {
    Challenge::parse(header.as_bytes())
        .unwrap_or_else(|e| panic!("{header}: {e}"))
        .into_owned()
}

fn object(v: serde_json::Value) -> JsonObject {
    v.as_object().unwrap().clone()
}

// Grammar ---------------------------------------------------------------------------

#[test]
fn core_grammar_scheme_case_insensitive_and_written_as_payment() {
    // req: core.grammar.scheme.case-insensitive
    for scheme in ["Payment", "payment", "PAYMENT", "pAyMeNt"] {
        let c = parses(&format!("{scheme} {}", params()));
        assert!(c.to_header().unwrap().starts_with("Payment id="));
    }
}

#[test]
fn core_grammar_scheme_space_a_tab_is_refused_at_its_offset() {
    // req: core.grammar.scheme.space
    let e = Challenge::parse(format!("Payment\t{}", params()).as_bytes()).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ParseErrorKind::ExpectedSpace, 7));
}

#[test]
fn core_grammar_param_value_forms_written_quoted() {
    let c = parses(&challenge_with(
        r#", expires="2030-01-01T00:00:00Z", description="x""#,
    ));
    let out = c.to_header().unwrap();
    for name in [
        "id",
        "realm",
        "method",
        "intent",
        "request",
        "expires",
        "description",
    ] {
        assert!(
            out.contains(&format!("{name}=\"")),
            "{name} unquoted in {out}"
        );
    }
}

#[test]
fn core_grammar_param_quoted_string_round_trips() {
    // req: core.grammar.param.quoted-string
    let h = challenge_with(r#", description="a \"quoted\" word and a back\\slash, Payment x""#);
    let c = parses(&h);
    assert_eq!(
        c.description.as_deref(),
        Some(r#"a "quoted" word and a back\slash, Payment x"#)
    );
    let again = c.to_header().unwrap();
    assert_eq!(parses(&again), c);
    // A quoted-pair may not escape a control character.
    assert_eq!(
        kind(&challenge_with(", description=\"a\\\u{1}\"")),
        Err(ParseErrorKind::InvalidQuotedPair)
    );
}

#[test]
fn core_grammar_param_quoted_string_written_escaping_quote_and_backslash_only() {
    let mut c = parses(&challenge()).into_owned();
    c.description = Some(r#"say "hi" \ <ok> & 'fine'"#.into());
    let out = c.to_header().unwrap();
    assert!(
        out.contains(r#"description="say \"hi\" \\ <ok> & 'fine'""#),
        "{out}"
    );
    for bad in [
        "a\r\nX-Injected: 1",
        "a\nb",
        "a\rb",
        "nul\0",
        "del\u{7f}",
        "c1\u{85}",
    ] {
        c.description = Some(bad.into());
        assert_eq!(
            c.to_header(),
            Err(FormatError::ControlCharacter(Param::Description)),
            "{bad:?}"
        );
    }
    c.description = Some("tab\tis fine".into());
    assert!(c.to_header().is_ok());
}

#[test]
fn core_grammar_param_whitespace_read_and_never_written() {
    // req: core.grammar.param.whitespace core.grammar.param.no-bws
    let h = format!(
        "Payment id = \"a\" ,realm= \"api.example.com\",\tmethod =\"tempo\" , intent=charge ,request={}  ",
        request_b64()
    );
    let c = parses(&h);
    assert_eq!((c.id.as_str(), c.method.as_str()), ("a", "tempo"));
    let out = c.to_header().unwrap();
    assert!(
        !out.contains(" =") && !out.contains("= "),
        "no BWS generated: {out}"
    );
}

#[test]
fn core_grammar_param_name_case_insensitive_extensions_lowercased() {
    // req: core.grammar.param.name-case
    let upper = format!(
        r#"Payment ID="a", Realm="api.example.com", METHOD="tempo", Intent="charge", REQUEST="{}", X-Custom="v""#,
        request_b64()
    );
    let c = parses(&upper);
    assert_eq!(c.id, "a");
    assert_eq!(c.extensions, [("x-custom".into(), "v".into())]);
}

#[test]
fn core_grammar_param_unique_with_the_offset_of_the_second() {
    // req: core.grammar.param.unique
    for (extra, param) in [(r#", id="b""#, Param::Id), (r#", Realm="b""#, Param::Realm)] {
        assert_eq!(
            kind(&challenge_with(extra)),
            Err(ParseErrorKind::DuplicateParameter(param)),
            "{extra}"
        );
    }
    let e = Challenge::parse(challenge_with(r#", id="b""#).as_bytes()).unwrap_err();
    assert_eq!(
        e.offset(),
        challenge().len() + 2,
        "points at the second `id`"
    );
}

#[test]
fn core_challenge_unknown_params_kept_aside() {
    // req: core.challenge.unknown-params core.versioning.ignore-unknown
    let c = parses(&challenge_with(
        r#", constructor="x", __proto__=y, future_ext="1""#,
    ));
    assert_eq!(c.extensions.len(), 3);
}

#[test]
fn core_grammar_challenge_list_on_one_line_and_across_lines() {
    // req: core.grammar.challenge.list core.security.intermediaries.client
    let a = challenge();
    let b = challenge().replace("tempo", "stripe");
    // One comma-joined line, mixed with other schemes.
    let line = format!(
        r#"Bearer realm="x, Payment id=\"evil\"", error_description="Payment id=1", {a}, Digest realm="d", nonce="n", {b}, Basic YWxhZGRpbjpvcGVu, Newauth"#
    );
    let found: Vec<_> = Challenge::parse_all(line.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        found.iter().map(|c| c.method.as_str()).collect::<Vec<_>>(),
        ["tempo", "stripe"]
    );
    // Separate field lines, one of which leaves a quote open: it hides nothing after it.
    let lines = [
        format!(r#"Bearer realm="unterminated, {a}"#),
        b.clone(),
        "Basic x".into(),
    ];
    let found: Vec<_> = Challenge::parse_fields(&lines, ParseOptions::STRICT).collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].as_ref().unwrap().method, "stripe");
    // Empty list elements and leading whitespace.
    let padded = format!(" , ,{a} ,, {b},");
    let found: Vec<_> = Challenge::parse_all(padded.as_bytes()).collect();
    assert_eq!(found.iter().filter(|r| r.is_ok()).count(), 2);
    // An auth-param named Payment does not split the list.
    let c = parses(&challenge_with(", payment=\"Payment id=1\""));
    assert_eq!(c.extensions[0].0, "payment");
}

#[test]
fn core_grammar_challenge_list_a_malformed_challenge_hides_nothing() {
    // req: core.grammar.challenge.list
    let good = challenge();
    for bad in [
        r#"Payment id="a", id="b""#.to_string(),
        r#"Payment method="Tempo""#.to_string(),
        format!("Payment {}, garbage\"x\"", params()),
    ] {
        let line = format!("{bad}, {good}, Bearer x=y");
        let results: Vec<_> = Challenge::parse_all(line.as_bytes()).collect();
        assert_eq!(results.len(), 2, "{line}");
        assert!(results[0].is_err(), "{line}");
        assert_eq!(results[1].as_ref().unwrap(), &parses(&good), "{line}");
    }
}

#[test]
fn core_challenge_required_params_blank_values_and_padded_token68() {
    // req: core.challenge.required-params
    assert_eq!(kind("Payment   "), Err(ParseErrorKind::NoParameters));
    assert_eq!(
        kind("Payment abc=="),
        Err(ParseErrorKind::Token68NotAllowed)
    );
    assert_eq!(kind("   "), Err(ParseErrorKind::NoPaymentChallenge));
}

#[test]
fn core_challenge_method_case_sensitive_grammar_and_offsets() {
    // req: core.challenge.method.case-sensitive
    for (method, ok) in [
        ("tempo", true),
        ("tempo-v2", true),
        ("vendor:pay", true),
        ("x402", true),
        ("tem po", false),
        ("*", false),
    ] {
        let h = challenge().replace("\"tempo\"", &format!("\"{method}\""));
        assert_eq!(kind(&h).is_ok(), ok, "{method}");
    }
    let h = challenge().replace("\"tempo\"", "\"temp!\"");
    let e = Challenge::parse(h.as_bytes()).unwrap_err();
    assert_eq!(
        (e.kind(), e.field(), &h[e.offset()..e.offset() + 1]),
        (ParseErrorKind::InvalidMethod, Some("method"), "!")
    );
}

#[test]
fn core_challenge_request_json_offsets_opaque_and_size() {
    // req: core.challenge.request.json
    let with_request = |r: &str| challenge().replace(&request_b64(), r);
    assert!(
        kind(&with_request("_w")).is_err(),
        "non-UTF-8 decoded bytes"
    );
    // "not json": refused as soon as its first byte shows it is not an object.
    assert_eq!(
        kind(&with_request("bm90IGpzb24")),
        Err(ParseErrorKind::ExpectedJsonObject)
    );
    let broken = base64::encode(b"{not json}");
    assert_eq!(
        kind(&with_request(&broken)),
        Err(ParseErrorKind::InvalidJson)
    );
    // The bad character's offset is its place in the header.
    let h = with_request("e3!0");
    let e = Challenge::parse(h.as_bytes()).unwrap_err();
    assert_eq!(&h[e.offset()..e.offset() + 1], "!");
    // opaque: a JSON object of strings.
    let opaque = |v: serde_json::Value| {
        challenge_with(&format!(
            ", opaque=\"{}\"",
            base64::encode(v.to_string().as_bytes())
        ))
    };
    assert_eq!(
        kind(&opaque(json!(["a"]))),
        Err(ParseErrorKind::ExpectedJsonObject)
    );
    // Decoded requests are capped (D11).
    let big = base64::encode(format!(r#"{{"pad":"{}"}}"#, "x".repeat(16 * 1024)).as_bytes());
    assert_eq!(
        kind(&with_request(&big)),
        Err(ParseErrorKind::RequestTooLarge { limit: 16 * 1024 })
    );
}

#[test]
fn core_challenge_request_no_padding_tolerated_on_input_never_written() {
    // req: core.challenge.request.no-padding core.challenge.request.jcs
    let padded = base64::encode(br#"{"a":"12"}"#) + "==";
    assert!(padded.ends_with("fQ=="));
    let c = parses(&challenge().replace(&request_b64(), &padded)).into_owned();
    let b = ChallengeBuilder::new("r", "tempo", "charge", &c.request.decode().unwrap()).unwrap();
    let issued = b
        .issue(&ChallengeBinder::new(Secret::new([1; 32]).unwrap()))
        .unwrap();
    assert_eq!(issued.request.as_str(), base64::encode(br#"{"a":"12"}"#));
    // The standard alphabet (refused by default: a vector) only with the named switch.
    let url_safe = base64::encode(br#"{"q":"???>>>"}"#);
    assert!(url_safe.contains(['-', '_']), "{url_safe}");
    let standard = url_safe.replace('-', "+").replace('_', "/");
    let h = challenge().replace(&request_b64(), &standard);
    let lenient = ParseOptions {
        standard_base64: true,
        ..ParseOptions::STRICT
    };
    let c = Challenge::parse_all_with(h.as_bytes(), lenient)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(c.request.decode().unwrap()["q"], "???>>>");
}

#[test]
fn core_grammar_param_quoted_string_linear_on_12000_backslashes() {
    let h = format!("{}, ext=\"{}", challenge(), "\\".repeat(12_000));
    let start = std::time::Instant::now();
    assert_eq!(kind(&h), Err(ParseErrorKind::UnterminatedQuotedString));
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    // On its own line it hides nothing on the next.
    let lines = [h, challenge()];
    let found: Vec<_> = Challenge::parse_fields(&lines, ParseOptions::STRICT).collect();
    assert!(found[0].is_err() && found[1].is_ok());
}

#[test]
fn core_grammar_param_quoted_string_legacy_unescaped_quote() {
    let h = challenge_with(
        r#", description="Payment for "Premium" service...", expires="2030-01-01T00:00:00Z""#,
    );
    assert_eq!(kind(&h), Err(ParseErrorKind::ExpectedComma));
    let legacy = ParseOptions {
        legacy_unescaped_quotes: true,
        ..ParseOptions::STRICT
    };
    let c = Challenge::parse_all_with(h.as_bytes(), legacy)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(c.description.as_deref(), Some("Payment for "));
    assert_eq!(
        c.expires.unwrap().as_str(),
        "2030-01-01T00:00:00Z",
        "later parameters are kept"
    );
    // The leniency applies to description only.
    let other = challenge_with(r#", ext="a"b""#);
    assert!(
        Challenge::parse_all_with(other.as_bytes(), legacy)
            .next()
            .unwrap()
            .is_err()
    );
}

#[test]
fn core_grammar_credential_form_the_scheme_alone_is_empty() {
    // req: core.grammar.credential.form
    let e = Credential::parse(b"Payment").unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::Empty);
}

#[test]
fn core_grammar_receipt_form_round_trips() {
    // req: core.grammar.receipt.form
    let r = Receipt::new(
        "tempo".to_string().try_into().unwrap(),
        Timestamp::from_string("2026-01-29T12:00:00Z".into()).unwrap(),
        "0xabc",
    );
    let h = r.to_header();
    assert_eq!(Receipt::parse(h.as_bytes()).unwrap(), r);
}

// Challenge parameters ----------------------------------------------------------------

#[test]
fn core_challenge_header_value_and_expires_forms() {
    // req: core.grammar.expires.rfc3339 core.challenge.header.value
    assert_eq!(
        kind(&challenge_with(r#", expires="tomorrow""#)),
        Err(ParseErrorKind::InvalidTimestamp)
    );
    assert!(
        kind(&challenge_with(
            r#", expires="2026-01-29T12:00:00.123+02:00""#
        ))
        .is_ok()
    );
    assert_eq!(
        kind(&challenge_with(r#", header="Cookie""#)),
        Err(ParseErrorKind::UnsupportedHeader)
    );
    let c = parses(&challenge_with(r#", header="payment-authorization""#)).into_owned();
    assert_eq!(c.credential_field, CredentialField::PaymentAuthorization);
    assert!(
        c.to_header()
            .unwrap()
            .ends_with(r#"header="Payment-Authorization""#)
    );
    assert_eq!(
        parses(&challenge()).credential_field,
        CredentialField::Authorization
    );
}

#[test]
fn core_challenge_custom_params_lowercase_when_written() {
    // req: core.challenge.custom-params.lowercase
    let mut c = parses(&challenge()).into_owned();
    c.extensions.push(("Upper".into(), "v".into()));
    assert_eq!(c.to_header(), Err(FormatError::InvalidParamName));
    c.extensions = vec![("realm".into(), "v".into())];
    assert_eq!(c.to_header(), Err(FormatError::DuplicateParameter));
    c.extensions = vec![("x".into(), "1".into()), ("x".into(), "2".into())];
    assert_eq!(c.to_header(), Err(FormatError::DuplicateParameter));
    c.extensions = vec![("x".into(), "é\u{1F600}".into())];
    let out = c.to_header().unwrap();
    assert!(
        out.is_ascii() && out.contains(r#"x="\u00e9\ud83d\ude00""#),
        "{out}"
    );
    assert_eq!(parses(&out).extensions[0].1, "é\u{1F600}");
}

// Credential --------------------------------------------------------------------------

#[test]
fn core_credential_echo_payload_and_source() {
    // req: core.credential.echo core.challenge.opaque.echo core.credential.header.echo
    // req: core.security.credentials.password-care
    let c = parses(&challenge_with(
        r#", description="d", opaque="eyJrIjoidiJ9", ext="1""#,
    ))
    .into_owned();
    let payload = object(json!({"preimage": "s3cret"}));
    let cred = Credential::answer(&c, payload.clone(), Some("did:key:z6Mk".into()));
    assert!(cred.challenge.extensions.is_empty());
    let header = cred.to_header();
    let wire: serde_json::Value =
        serde_json::from_slice(&base64::decode(&header["Payment ".len()..]).unwrap()).unwrap();
    // On the wire the echo carries request as the server's base64url string.
    assert_eq!(wire["challenge"]["request"], request_b64());
    assert_eq!(wire["challenge"]["opaque"], "eyJrIjoidiJ9");
    assert!(
        wire["challenge"].get("header").is_none(),
        "no header echo when the challenge had none"
    );
    let back = Credential::parse(header.as_bytes()).unwrap();
    assert_eq!(back, cred);
    assert_eq!(back.challenge.request.decode().unwrap()["amount"], "1000");
    // Redacted debug output.
    let debug = format!("{back:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("did:key"),
        "{debug}"
    );
}

#[test]
fn core_versioning_ignore_unknown_credential_members_and_header_echo() {
    // req: core.versioning.ignore-unknown core.credential.header.echo
    // req: core.credential.field.payment-authorization core.grammar.scheme.case-insensitive
    let c = parses(&challenge_with(r#", header="Payment-Authorization""#)).into_owned();
    let mut wire = Credential::answer(&c, JsonObject::new(), None).to_json();
    wire.insert("future".into(), json!(1));
    wire["challenge"]
        .as_object_mut()
        .unwrap()
        .insert("extra".into(), json!("x"));
    assert_eq!(wire["challenge"]["header"], "Payment-Authorization");
    let h = format!(
        "Payment {}",
        base64::encode(serde_json::to_string(&wire).unwrap().as_bytes())
    );
    let back = Credential::parse(h.as_bytes()).unwrap();
    assert_eq!(back.field(), CredentialField::PaymentAuthorization);
    // Standard-alphabet, padded or lowercase-scheme credentials (mppx accepts them):
    let lower = h.replacen("Payment", "payment", 1);
    assert!(Credential::parse(lower.as_bytes()).is_ok());
}

#[test]
fn core_credential_field_every_credential_in_a_request_is_found() {
    let cred = Credential::answer(&parses(&challenge()), JsonObject::new(), None).to_header();
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"x".as_slice()),
        ("authorization", cred.as_bytes()),
        (
            "Payment-Authorization",
            b"Bearer abc, payment e30".as_slice(),
        ),
        (
            "Authorization",
            br#"Digest realm="x, Payment y", Payment abc"#.as_slice(),
        ),
        ("X-Payment", b"Payment abc".as_slice()),
    ];
    let found = find_credentials(headers.iter().map(|(n, v)| (*n, *v)));
    let fields: Vec<_> = found
        .iter()
        .map(|f| (f.field, String::from_utf8_lossy(f.value).into_owned()))
        .collect();
    assert_eq!(fields.len(), 3, "{fields:?}");
    assert_eq!(fields[0], (CredentialField::Authorization, cred.clone()));
    assert_eq!(
        fields[1],
        (CredentialField::PaymentAuthorization, "payment e30".into())
    );
    assert_eq!(
        fields[2],
        (CredentialField::Authorization, "Payment abc".into())
    );
    assert!(
        !format!("{found:?}").contains("e30"),
        "debug output is redacted"
    );
}

// Receipt -----------------------------------------------------------------------------

#[test]
fn core_receipt_status_success_members_and_extensions() {
    // req: core.receipt.status-success core.versioning.ignore-unknown
    let encode = |v: serde_json::Value| base64::encode(v.to_string().as_bytes());
    let good = json!({"status": "success", "method": "tempo", "timestamp": "2026-01-29T12:00:00Z", "reference": "0xabc", "chainId": 4217, "challengeId": "x"});
    let r = Receipt::parse(encode(good.clone()).as_bytes()).unwrap();
    assert_eq!(r.extra.len(), 2);
    assert_eq!(serde_json::Value::Object(r.to_json()), good);
    assert!(
        !format!("{r:?}").contains("0xabc"),
        "debug output is redacted"
    );
}

// Binding -----------------------------------------------------------------------------

fn hmac_b64(secret: &[u8], input: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    base64::encode(&mac.finalize().into_bytes())
}

const SECRET: &[u8] = b"minimum-32-byte-secret-for-tests!";

#[test]
fn core_binding_hmac_recipe_seven_positional_slots() {
    // req: core.binding.hmac.recipe
    let binder = ChallengeBinder::new(Secret::new(SECRET).unwrap());
    let req = request_b64();
    let mut input = BindingInput {
        realm: "api.example.com",
        method: "tempo",
        intent: "charge",
        request: &req,
        expires: None,
        digest: None,
        header: None,
        opaque: None,
    };
    let id = binder.id_for(&input).unwrap();
    assert_eq!(
        id.as_str(),
        hmac_b64(SECRET, &format!("api.example.com|tempo|charge|{req}|||"))
    );
    assert_eq!(id.as_str().len(), 43);
    input.expires = Some("2030-01-01T00:00:00Z");
    input.opaque = Some("eyJrIjoidiJ9");
    let with_expires = binder.id_for(&input).unwrap();
    assert_eq!(
        with_expires.as_str(),
        hmac_b64(
            SECRET,
            &format!("api.example.com|tempo|charge|{req}|2030-01-01T00:00:00Z||eyJrIjoidiJ9")
        )
    );
    // The header slot, when present, goes before opaque (D2, spec/ERRATA.md E1).
    input.header = Some("Payment-Authorization");
    assert_eq!(
        binder.id_for(&input).unwrap().as_str(),
        hmac_b64(
            SECRET,
            &format!(
                "api.example.com|tempo|charge|{req}|2030-01-01T00:00:00Z||Payment-Authorization|eyJrIjoidiJ9"
            )
        )
    );
}

#[test]
fn core_binding_id_bound_every_field_but_description() {
    // req: core.binding.id.bound core.binding.opaque.bound core.binding.header.bound
    // req: core.binding.echo-mismatch core.challenge.description.not-verified
    let binder = ChallengeBinder::new(Secret::new(SECRET).unwrap());
    let request = object(json!({"amount": "1000", "currency": "usd"}));
    let expires = Timestamp::from_unix(UnixTime::from_secs(1_900_000_000)).unwrap();
    let c = ChallengeBuilder::new("api.example.com", "tempo", "charge", &request)
        .unwrap()
        .expires(expires)
        .opaque(Opaque::encode([("route", "GET /a")]))
        .issue(&binder)
        .unwrap();
    assert!(binder.verify_challenge(&c).unwrap());
    type Edit = Box<dyn Fn(&mut Challenge<'static>)>;
    let tamper: Vec<(&str, Edit)> = vec![
        (
            "realm",
            Box::new(|c| c.realm = "evil.example".to_string().try_into().unwrap()),
        ),
        (
            "method",
            Box::new(|c| c.method = "stripe".to_string().try_into().unwrap()),
        ),
        (
            "intent",
            Box::new(|c| c.intent = "session".to_string().try_into().unwrap()),
        ),
        (
            "request",
            Box::new(|c| {
                c.request = mpp_core::value::Base64Json::encode(&object(
                    json!({"amount": "1", "currency": "usd"}),
                ))
            }),
        ),
        ("expires dropped", Box::new(|c| c.expires = None)),
        (
            "expires moved",
            Box::new(|c| c.expires = Timestamp::from_unix(UnixTime::from_secs(2_000_000_000))),
        ),
        ("opaque dropped", Box::new(|c| c.opaque = None)),
        (
            "opaque changed",
            Box::new(|c| c.opaque = Some(Opaque::encode([("route", "GET /b")]))),
        ),
        (
            "digest added",
            Box::new(|c| {
                c.digest = Some(mpp_core::digest::ContentDigest::compute(
                    mpp_core::digest::DigestAlgorithm::Sha256,
                    b"x",
                ))
            }),
        ),
        (
            "header added",
            Box::new(|c| c.credential_field = CredentialField::PaymentAuthorization),
        ),
    ];
    for (what, edit) in tamper {
        let mut edited = c.clone().into_owned();
        edit(&mut edited);
        assert!(
            !binder.verify_challenge(&edited).unwrap(),
            "{what} must invalidate the id"
        );
    }
    let mut described = c.clone().into_owned();
    described.description = Some("changed".into());
    assert!(
        binder.verify_challenge(&described).unwrap(),
        "description is not bound"
    );
}

#[test]
fn core_binding_verify_request_slot_from_the_decoded_echo() {
    let binder = ChallengeBinder::new(Secret::new(SECRET).unwrap());
    let request = object(json!({"currency": "usd", "amount": "1000"}));
    let c = ChallengeBuilder::new("r", "tempo", "charge", &request)
        .unwrap()
        .issue(&binder)
        .unwrap()
        .into_owned();
    // A client that re-encodes the request with other key order and whitespace.
    let mut echo = c.clone();
    let reencoded = base64::encode(br#"{ "currency" : "usd", "amount":"1000" }"#);
    echo.request = mpp_core::value::Base64Json::new(&reencoded)
        .unwrap()
        .into_owned();
    assert_ne!(echo.request, c.request);
    assert!(binder.verify_challenge(&echo).unwrap());
}

#[test]
fn core_binding_secret_rotation_weak_secrets_and_pipes() {
    // req: core.binding.secret.rotation core.binding.secret.not-logged
    assert_eq!(
        Secret::new([0u8; 31]).unwrap_err(),
        BindingError::WeakSecret { len: 31, min: 32 }
    );
    assert!(!format!("{:?}", Secret::new(SECRET).unwrap()).contains("minimum"));
    let old = ChallengeBinder::new(Secret::new([1u8; 32]).unwrap());
    let rotated = ChallengeBinder::new(Secret::new([2u8; 32]).unwrap())
        .with_previous(Secret::new([1u8; 32]).unwrap());
    let c = ChallengeBuilder::new("r", "tempo", "charge", &JsonObject::new())
        .unwrap()
        .issue(&old)
        .unwrap();
    assert!(
        rotated.verify_challenge(&c).unwrap(),
        "the previous secret still verifies"
    );
    let fresh = ChallengeBuilder::new("r", "tempo", "charge", &JsonObject::new())
        .unwrap()
        .issue(&rotated)
        .unwrap();
    assert!(
        !old.verify_challenge(&fresh).unwrap(),
        "new ids use the new secret"
    );
    let input = BindingInput {
        realm: "a|b",
        method: "m",
        intent: "i",
        request: "e30",
        expires: None,
        digest: None,
        header: None,
        opaque: None,
    };
    assert_eq!(
        rotated.id_for(&input).unwrap_err(),
        BindingError::PipeInField(Param::Realm)
    );
    let input = BindingInput {
        opaque: Some("x|y"),
        realm: "a",
        ..input
    };
    assert_eq!(
        rotated.id_for(&input).unwrap_err(),
        BindingError::PipeInField(Param::Opaque)
    );
    assert!(
        rotated
            .verify(
                &BindingInput {
                    opaque: None,
                    ..input
                },
                "short"
            )
            .is_ok_and(|ok| !ok)
    );
}

// Accept-Payment ----------------------------------------------------------------------

#[test]
fn core_grammar_accept_payment_weights_and_writing() {
    // req: core.grammar.accept-payment
    let a = AcceptPayment::parse("tempo/charge, tempo/session;q=0, stripe/*; Q=0.5 , */*;q=0.001")
        .unwrap();
    assert_eq!(a.ranges.len(), 4);
    assert_eq!(a.weight_of("tempo", "session"), Some(Weight::ZERO));
    assert_eq!(a.weight_of("stripe", "charge"), Weight::new(500));
    assert_eq!(
        a.to_string(),
        "tempo/charge, tempo/session;q=0, stripe/*;q=0.5, */*;q=0.001"
    );
    for bad in ["tempo/", "/charge"] {
        assert!(AcceptPayment::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn core_accept_payment_order_filter_ties_and_specific_ranges() {
    // req: core.accept-payment.filter core.accept-payment.order core.accept-payment.ties
    // req: core.accept-payment.specific
    let offers = [
        ("stripe", "charge"),
        ("tempo", "session"),
        ("tempo", "charge"),
        ("solana", "charge"),
    ];
    let a = AcceptPayment::parse(
        "tempo/charge, tempo/session, stripe/charge;q=0.5, solana/charge;q=0.3",
    )
    .unwrap();
    assert_eq!(a.rank(offers), [1, 2, 0, 3]);
    let a = AcceptPayment::parse("tempo/charge, tempo/session;q=0, solana/charge").unwrap();
    assert_eq!(
        a.rank(offers),
        [2, 3],
        "q=0 excludes, unmatched offers are dropped"
    );
    // The most specific range decides: tempo/* beats */charge for tempo/charge.
    let a = AcceptPayment::parse("*/charge;q=0.1, tempo/*;q=0.9, */*;q=0.5").unwrap();
    assert_eq!(a.rank(offers), [1, 2, 0, 3]);
    assert_eq!(a.weight_of("stripe", "charge"), Weight::new(100));
}

#[test]
fn core_accept_payment_filter_no_match_keeps_nothing() {
    let a = AcceptPayment::parse("lightning/charge").unwrap();
    assert!(a.rank([("tempo", "charge")]).is_empty());
}
