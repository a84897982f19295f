//! Property tests: what this crate formats, it parses back to the same value.

use std::borrow::Cow;

use mpp_core::accept::{AcceptPayment, PaymentRange, Weight};
use mpp_core::binding::{BindingInput, ChallengeBinder, Secret};
use mpp_core::challenge::Challenge;
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::digest::{ContentDigest, DigestAlgorithm};
use mpp_core::json::{self, JsonObject};
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{Base64Json, ChallengeId, IntentName, MethodName, Opaque, Realm};
use mpp_core::{Param, jcs};
use mpp_test_support::strategies;
use proptest::prelude::*;
use serde_json::Value;

/// Text without control characters (what quoted-strings can carry), including
/// non-ASCII and astral characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[^\\p{{Cc}}]{{0,{max}}}")).unwrap()
}

/// JSON small enough that a challenge carrying it stays within the size limits.
fn json_value() -> impl Strategy<Value = Value> {
    strategies::json_value_within(3, 4)
}

fn json_object() -> impl Strategy<Value = JsonObject> {
    strategies::json_object_within(3, 5)
}

/// An object as a peer receives it: numbers read as the doubles they denote (so
/// `3.0` is the integer `3`), which is the form that formats and parses back equal.
fn received(object: JsonObject) -> JsonObject {
    json::parse_object(jcs::object_to_string(&object).as_bytes()).unwrap()
}

fn unix_time() -> impl Strategy<Value = UnixTime> {
    // Years 0000 to 9999.
    (-62_167_219_200i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(s, n)| UnixTime::new(s, n).unwrap())
}

prop_compose! {
    fn challenge()(
        id in "[A-Za-z0-9_-]{1,43}|[^\\p{Cc}]{1,12}",
        realm in "[^\\p{Cc}|]{1,20}",
        method in "[a-z][a-z0-9:_-]{0,10}",
        intent in "[A-Za-z0-9-]{1,10}",
        request in json_object(),
        expires in prop::option::of(unix_time()),
        digest in prop::option::of((any::<bool>(), prop::collection::vec(any::<u8>(), 0..40))),
        description in prop::option::of(text(30)),
        opaque in prop::option::of(prop::collection::btree_map(text(6), text(6), 0..3)),
        payment_authorization in any::<bool>(),
        extensions in prop::collection::btree_map("x[a-z0-9_-]{0,8}", text(10), 0..4),
    ) -> Challenge<'static> {
        Challenge {
            id: ChallengeId::from_string(id).unwrap(),
            realm: Realm::from_string(realm).unwrap(),
            method: MethodName::from_string(method).unwrap(),
            intent: IntentName::from_string(intent).unwrap(),
            request: Base64Json::encode(&request),
            expires: expires.map(|t| Timestamp::from_unix(t).unwrap()),
            digest: digest.map(|(long, body)| {
                let alg = if long { DigestAlgorithm::Sha512 } else { DigestAlgorithm::Sha256 };
                ContentDigest::compute(alg, &body)
            }),
            description: description.map(Cow::Owned),
            opaque: opaque.map(Opaque::encode),
            credential_field: if payment_authorization {
                CredentialField::PaymentAuthorization
            } else {
                CredentialField::Authorization
            },
            extensions: extensions.into_iter().map(|(k, v)| (Cow::Owned(k), Cow::Owned(v))).collect(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn challenge_format_then_parse_is_identity(c in challenge()) {
        let header = c.to_header().unwrap();
        prop_assert!(header.is_ascii());
        let back = Challenge::parse(header.as_bytes()).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.to_header().unwrap(), header);
    }

    #[test]
    fn challenge_lists_round_trip(cs in prop::collection::vec(challenge(), 1..4)) {
        let line = cs.iter().map(|c| c.to_header().unwrap()).collect::<Vec<_>>().join(", ");
        let back: Vec<_> = Challenge::parse_all(line.as_bytes()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(back, cs);
    }

    #[test]
    fn credential_format_then_parse_is_identity(
        c in challenge(),
        payload in json_object(),
        source in prop::option::of(text(20)),
    ) {
        let credential = Credential::answer(&c, received(payload), source);
        let header = credential.to_header();
        let back = Credential::parse(header.as_bytes()).unwrap();
        prop_assert_eq!(back, credential);
    }

    #[test]
    fn receipt_format_then_parse_is_identity(
        method in "[a-z][a-z0-9-]{0,8}",
        at in unix_time(),
        reference in text(20),
        extra in json_object(),
    ) {
        let mut r = Receipt::new(
            MethodName::from_string(method).unwrap(),
            Timestamp::from_unix(at).unwrap(),
            reference,
        );
        r.extra = received(extra).into_iter().filter(|(k, _)| !["status", "method", "timestamp", "reference"].contains(&k.as_str())).collect();
        let back = Receipt::parse(r.to_header().as_bytes()).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn accept_payment_format_then_parse_is_identity(
        ranges in prop::collection::vec(
            (prop::option::of("[a-z][a-z0-9:_-]{0,6}"), prop::option::of("[A-Za-z0-9-]{1,6}"), 0u16..=1000),
            1..6,
        )
    ) {
        let accept = AcceptPayment {
            ranges: ranges
                .into_iter()
                .map(|(m, i, q)| PaymentRange {
                    method: m.map(|m| MethodName::from_string(m).unwrap()),
                    intent: i.map(|i| IntentName::from_string(i).unwrap()),
                    weight: Weight::new(q).unwrap(),
                })
                .collect(),
        };
        let text = accept.to_string();
        prop_assert_eq!(AcceptPayment::parse(&text).unwrap(), accept);
    }

    #[test]
    fn jcs_is_idempotent_and_preserves_the_value(v in json_value()) {
        let canonical = jcs::to_string(&v);
        let back = json::parse_value(canonical.as_bytes()).unwrap();
        prop_assert_eq!(jcs::to_string(&back), canonical);
        prop_assert!(same_numbers(&back, &v));
    }

    #[test]
    fn ids_match_the_crates_io_mpp_sdk(
        secret in "[ -~]{32,48}",
        realm in "[^\\p{Cc}|]{1,20}",
        method in "[a-z]{1,8}",
        intent in "[a-z]{1,8}",
        request in json_object(),
        expires in prop::option::of("[0-9TZ:-]{1,20}"),
        digest in prop::option::of("[A-Za-z0-9=:+/-]{1,20}"),
        opaque in prop::option::of("[A-Za-z0-9_-]{1,20}"),
        header in any::<bool>(),
    ) {
        // req: core.binding.hmac.recipe
        let request = Base64Json::encode(&request);
        let header = header.then_some("Payment-Authorization");
        let input = BindingInput {
            realm: &realm, method: &method, intent: &intent, request: request.as_str(),
            expires: expires.as_deref(), digest: digest.as_deref(), header, opaque: opaque.as_deref(),
        };
        let ours = ChallengeBinder::new(Secret::new(secret.as_bytes()).unwrap()).id_for(&input).unwrap();
        let theirs = mpp::protocol::core::compute_challenge_id_with_header(
            &secret, &realm, &method, &intent, request.as_str(),
            expires.as_deref(), digest.as_deref(), opaque.as_deref(), header,
        );
        prop_assert_eq!(ours.as_str(), theirs);
    }
}

/// Structural equality that compares numbers as doubles (JCS turns every number into
/// its shortest double form, so `1.0` comes back as `1`).
fn same_numbers(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_numbers(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_numbers(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn unused_param_kinds_are_still_named() {
    // Keeps `Param` in this file's imports meaningful: every known name round-trips.
    for p in Param::KNOWN {
        assert_eq!(
            Param::from_name(p.name().to_uppercase().as_bytes()),
            Some(p)
        );
    }
}
