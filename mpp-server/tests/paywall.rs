//! The paywall layer end to end, against a mock handler: the status matrix (D6), the
//! verification order, route pinning (D7), body digests, the credential field (D12),
//! Accept-Payment, Idempotency-Key, secret rotation, discovery and free routes.
//!
//! Every refusal is checked for its status, problem type, `Cache-Control: no-store`,
//! a fresh parseable challenge on each 402 (named by the body's `challengeId`), no
//! `Payment-Receipt`, and a handler that did not run.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Method, StatusCode};
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::{Challenge, ChallengeBuilder};
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::digest::{ContentDigest, DigestAlgorithm};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::MethodError;
use mpp_core::problem::ProblemType;
use mpp_core::time::{ManualClock, Timestamp, UnixTime};
use mpp_core::value::{Base64Json, IntentName, Opaque};
use mpp_core::{ParseOptions, base64};
use mpp_methods::preimage::{Preimage, hash_hex};
use mpp_methods::token::Token;
use mpp_server::{ChargeOffer, PaidRoute, ServiceInfo};

// ---------------------------------------------------------------------------
// 1. The status matrix (D6)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn no_credential_is_payment_required_with_a_fresh_challenge() {
    // req: core.errors.402.payment-required core.errors.402.with-challenge
    // req: core.caching.402-no-store core.challenge.realm.present core.challenge.expires.include
    // req: core.challenge.id.non-empty core.challenge.opaque.string-map core.errors.problem-details
    // req: core.errors.problem-type core.idempotency.no-unpaid-side-effects
    // req: core.challenge.intent.registered charge.request.shared-fields charge.request.no-expiry
    let h = Harness::standard();
    let answer = h.send(get("/paid")).await;
    let challenges = answer.assert_402(ProblemType::PaymentRequired);
    assert_eq!(challenges.len(), 1, "one offer, one challenge");
    let c = &challenges[0];
    assert_eq!(c.realm, REALM);
    assert_eq!(c.method, "preimage");
    assert_eq!(c.intent, "charge");
    assert_eq!(c.request.decode().unwrap(), preimage_request());
    assert_eq!(c.description.as_deref(), Some("A paid GET"));
    assert_eq!(c.credential_field, CredentialField::Authorization);
    assert!(c.digest.is_none(), "a GET without body binds no digest");
    let expires = c
        .expires
        .as_ref()
        .expect("the server always emits expires (D8)");
    assert_eq!(expires.unix(), UnixTime::from_secs(T0 + TTL));
    assert!(expires.as_str().ends_with('Z'), "expires is emitted in UTC");
    assert!(c.opaque.is_some(), "opaque binds the resource (D7)");
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn every_challenge_issued_is_unique() {
    // req: core.caching.challenge-fresh
    let h = Harness::standard();
    let a = h.challenge(get("/paid")).await;
    let b = h.challenge(get("/paid")).await;
    assert_ne!(a.id, b.id, "same route, same instant, different challenges");
    assert_ne!(a.opaque, b.opaque, "the opaque nonce differs");
}

#[tokio::test]
async fn malformed_credential_bad_base64_is_malformed_credential() {
    // req: core.errors.malformed-credential
    let h = Harness::standard();
    let answer = h.send(get_paid("/paid", "Payment not-valid!!!")).await;
    answer.assert_402(ProblemType::MalformedCredential);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn malformed_credential_non_object_json_is_malformed_credential() {
    // req: core.errors.malformed-credential core.credential.structure
    let h = Harness::standard();
    for json in ["[]", "\"text\"", "7", "null", "not json"] {
        let answer = h.send(get_paid("/paid", &raw_credential(json))).await;
        assert_eq!(answer.status, StatusCode::PAYMENT_REQUIRED, "{json}");
        answer.assert_402(ProblemType::MalformedCredential);
    }
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn malformed_credential_missing_challenge_is_malformed_credential() {
    // req: core.errors.malformed-credential core.credential.structure
    let h = Harness::standard();
    let json = r#"{"payload":{"preimage":"the-correct-test-preimage"}}"#;
    let answer = h.send(get_paid("/paid", &raw_credential(json))).await;
    answer.assert_402(ProblemType::MalformedCredential);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn malformed_credential_missing_payload_is_malformed_credential() {
    // req: core.errors.malformed-credential core.credential.structure
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let mut json = Credential::answer(&challenge, preimage_payload(PREIMAGE), None).to_json();
    json.remove("payload");
    let value = raw_credential(&Value::Object(json).to_string());
    let answer = h.send(get_paid("/paid", &value)).await;
    answer.assert_refused(ProblemType::MalformedCredential, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn malformed_credential_variants_are_malformed_credential() {
    // req: core.errors.malformed-credential core.credential.structure
    // req: core.idempotency.no-unpaid-side-effects
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let good = Credential::answer(&challenge, preimage_payload(PREIMAGE), None).to_json();
    let edit = |f: &dyn Fn(&mut JsonObject)| {
        let mut json = good.clone();
        f(&mut json);
        raw_credential(&Value::Object(json).to_string())
    };
    let echo = |f: &'static dyn Fn(&mut JsonObject)| {
        move |json: &mut JsonObject| {
            let Some(Value::Object(echo)) = json.get_mut("challenge") else {
                unreachable!()
            };
            f(echo);
        }
    };
    let cases: Vec<(&str, String)> = vec![
        ("scheme only", "Payment".into()),
        ("scheme and spaces", "Payment    ".into()),
        ("padding", format!("{}==", raw_credential("{}"))),
        (
            "payload is a string",
            edit(&|j| {
                j.insert("payload".into(), "preimage".into());
            }),
        ),
        (
            "challenge is a string",
            edit(&|j| {
                j.insert("challenge".into(), "id".into());
            }),
        ),
        (
            "source is a number",
            edit(&|j| {
                j.insert("source".into(), 7.into());
            }),
        ),
        (
            "echo without id",
            edit(&echo(&|e| {
                e.remove("id");
            })),
        ),
        (
            "echo without request",
            edit(&echo(&|e| {
                e.remove("request");
            })),
        ),
        (
            "echo with an uppercase method",
            edit(&echo(&|e| {
                e.insert("method".into(), "Preimage".into());
            })),
        ),
        (
            "echo with a request that is not base64url JSON",
            edit(&echo(&|e| {
                e.insert("request".into(), "bm90IGpzb24".into());
            })),
        ),
        (
            "echo with an invalid expires",
            edit(&echo(&|e| {
                e.insert("expires".into(), "tomorrow".into());
            })),
        ),
        (
            "echo with another header value",
            edit(&echo(&|e| {
                e.insert("header".into(), "Authorization".into());
            })),
        ),
        (
            "credential over 64 KiB",
            format!("Payment {}", "A".repeat(64 * 1024 + 1)),
        ),
    ];
    for (case, value) in cases {
        let answer = h.send(get_paid("/paid", &value)).await;
        assert_eq!(answer.status, StatusCode::PAYMENT_REQUIRED, "{case}");
        let problem = answer.problem();
        assert_eq!(
            problem.type_uri,
            ProblemType::MalformedCredential.uri(),
            "{case}: {:?}",
            problem.detail
        );
        answer.assert_refused(ProblemType::MalformedCredential, &challenge);
    }
    assert_eq!(h.calls(), 0);
    // None of those consumed the challenge.
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
}

#[tokio::test]
async fn unknown_id_from_another_secret_is_invalid_challenge() {
    // req: core.errors.invalid-challenge core.binding.verify charge.verify.challenge
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let foreign = Harness::new(
        builder_with(OTHER_SECRET, REALM, &clock)
            .route(paid(Method::GET, "/paid"))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = foreign.challenge(get("/paid")).await;
    let answer = h.send(get_paid("/paid", &pay(&challenge))).await;
    answer.assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn replay_after_success_is_invalid_challenge() {
    // req: core.errors.invalid-challenge core.replay.single-use-proof charge.replay.id-single-use
    // req: charge.replay.credential-once
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let credential = pay(&challenge);
    h.send(get_paid("/paid", &credential)).await.assert_paid();
    let answer = h.send(get_paid("/paid", &credential)).await;
    answer.assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 1, "the handler ran for the first use only");
}

#[tokio::test]
async fn replay_after_failed_verification_is_invalid_challenge() {
    // req: core.errors.invalid-challenge charge.replay.id-single-use
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let wrong = credential(&challenge, preimage_payload("a-wrong-preimage"));
    h.send(get_paid("/paid", &wrong))
        .await
        .assert_refused(ProblemType::VerificationFailed, &challenge);
    // D9: a claimed id is never accepted again, even with the right proof now.
    let answer = h.send(get_paid("/paid", &pay(&challenge))).await;
    answer.assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn expired_challenge_is_payment_expired() {
    // req: core.errors.payment-expired charge.verify.expiry
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.clock.advance(TTL + 1);
    let answer = h.send(get_paid("/paid", &pay(&challenge))).await;
    answer.assert_refused(ProblemType::PaymentExpired, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn expired_at_exactly_now_is_payment_expired() {
    // req: core.errors.payment-expired charge.verify.expiry
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.clock.set(challenge.expires.as_ref().unwrap().unix());
    let answer = h.send(get_paid("/paid", &pay(&challenge))).await;
    answer.assert_refused(ProblemType::PaymentExpired, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn one_second_before_expiry_is_paid() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.clock.set(UnixTime::from_secs(
        challenge.expires.as_ref().unwrap().unix().secs() - 1,
    ));
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn route_ttl_sets_expires() {
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid").ttl(Duration::from_secs(30)))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid")).await;
    assert_eq!(
        challenge.expires.as_ref().unwrap().unix(),
        UnixTime::from_secs(T0 + 30)
    );
    clock.advance(30);
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::PaymentExpired, &challenge);
}

#[tokio::test]
async fn wrong_preimage_is_verification_failed() {
    // req: core.errors.verification-failed charge.verify.proof charge.atomic
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let wrong = credential(&challenge, preimage_payload("a-wrong-preimage"));
    let answer = h.send(get_paid("/paid", &wrong)).await;
    answer.assert_refused(ProblemType::VerificationFailed, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn non_string_preimage_is_invalid_payload() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), 7.into());
    let answer = h
        .send(get_paid("/paid", &credential(&challenge, payload)))
        .await;
    answer.assert_refused(ProblemType::InvalidPayload, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn empty_payload_is_invalid_payload() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let answer = h
        .send(get_paid(
            "/paid",
            &credential(&challenge, JsonObject::new()),
        ))
        .await;
    answer.assert_refused(ProblemType::InvalidPayload, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn invalid_payload_uses_up_the_challenge() {
    // req: charge.replay.id-single-use
    // The schema check is part of the method's verification, after the claim: a
    // challenge is used once, whether its verification succeeds or fails (D9).
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.send(get_paid(
        "/paid",
        &credential(&challenge, JsonObject::new()),
    ))
    .await
    .assert_refused(ProblemType::InvalidPayload, &challenge);
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn two_authorization_lines_are_bad_request() {
    // req: core.credential.several.reject
    let h = Harness::standard();
    let a = h.challenge(get("/paid")).await;
    let b = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[("authorization", &pay(&a)), ("authorization", &pay(&b))],
        "",
    );
    let answer = h.send(req).await;
    answer.assert_error(400, ProblemType::BadRequest);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn authorization_and_payment_authorization_together_are_bad_request() {
    // req: core.credential.several.reject
    let h = Harness::standard();
    let a = h.challenge(get("/paid")).await;
    let b = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[
            ("authorization", &pay(&a)),
            ("payment-authorization", &pay(&b)),
        ],
        "",
    );
    h.send(req).await.assert_error(400, ProblemType::BadRequest);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn two_credentials_in_one_comma_joined_value_are_bad_request() {
    // req: core.credential.several.reject
    let h = Harness::standard();
    let a = h.challenge(get("/paid")).await;
    let b = h.challenge(get("/paid")).await;
    let joined = format!("{}, {}", pay(&a), pay(&b));
    h.send(get_paid("/paid", &joined))
        .await
        .assert_error(400, ProblemType::BadRequest);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn the_same_credential_twice_is_bad_request() {
    // req: core.credential.several.reject core.idempotency.no-unpaid-side-effects
    let h = Harness::standard();
    let a = h.challenge(get("/paid")).await;
    let value = pay(&a);
    let req = request(
        Method::GET,
        "/paid",
        &[("authorization", &value), ("authorization", &value)],
        "",
    );
    h.send(req).await.assert_error(400, ProblemType::BadRequest);
    assert_eq!(h.calls(), 0);
    // The refusal claimed nothing.
    h.send(get_paid("/paid", &value)).await.assert_paid();
}

#[tokio::test]
async fn a_bearer_beside_one_payment_credential_is_not_several_credentials() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let joined = format!("Bearer abc.def==, {}", pay(&challenge));
    h.send(get_paid("/paid", &joined)).await.assert_paid();
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn lowercase_payment_scheme_is_accepted() {
    // req: core.grammar.scheme.case-insensitive
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let value = pay(&challenge).replacen("Payment", "payment", 1);
    h.send(get_paid("/paid", &value)).await.assert_paid();
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn failing_claim_store_is_500_and_fails_closed() {
    // req: core.errors.retry-after
    let clock = test_clock();
    let store = Arc::new(FlakyStore {
        fail_put_if_absent: true,
        ..FlakyStore::default()
    });
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .store(store.clone())
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid")).await;
    let answer = h.send(get_paid("/paid", &pay(&challenge))).await;
    answer.assert_error(500, ProblemType::InternalPaymentError);
    assert_eq!(
        store.counts[1].load(Ordering::SeqCst),
        1,
        "a claim was tried"
    );
    assert_eq!(h.calls(), 0, "no access without a recorded claim");
}

#[tokio::test]
async fn each_claim_is_stored_with_a_token_of_its_own() {
    // A store that lost the answer to a claim reads the key back and takes the
    // value it finds for its own: two claims with the same bytes could not be told
    // apart.
    use mpp_server::store::Store;
    let clock = test_clock();
    let store = Arc::new(FlakyStore::default());
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .store(store.clone())
            .build()
            .unwrap(),
        &clock,
    );
    let mut values = Vec::new();
    for _ in 0..2 {
        let challenge = h.challenge(get("/paid")).await;
        h.send(get_paid("/paid", &pay(&challenge)))
            .await
            .assert_paid();
        let key = format!("mpp:claim:{}", challenge.id);
        let value = store.memory.get(&key).await.unwrap().expect("a claim");
        let token = value.strip_prefix(b"claimed:").expect("a claim value");
        assert_eq!(token.len(), 32, "{value:?}");
        assert!(token.iter().all(u8::is_ascii_hexdigit), "{value:?}");
        values.push(value);
    }
    assert_ne!(values[0], values[1]);
}

#[tokio::test]
async fn failing_idempotency_lookup_is_500_and_fails_closed() {
    let clock = test_clock();
    let store = Arc::new(FlakyStore {
        fail_get: true,
        ..FlakyStore::default()
    });
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::POST, "/paid-post"))
            .store(store.clone())
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h
        .challenge(request(Method::POST, "/paid-post", &[], "{}"))
        .await;
    let req = request(
        Method::POST,
        "/paid-post",
        &[
            ("authorization", &pay(&challenge)),
            ("idempotency-key", "k1"),
        ],
        "{}",
    );
    h.send(req)
        .await
        .assert_error(500, ProblemType::InternalPaymentError);
    assert_eq!(store.counts[1].load(Ordering::SeqCst), 0, "nothing claimed");
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn failing_replay_write_still_serves_the_paid_response() {
    let clock = test_clock();
    let store = Arc::new(FlakyStore {
        fail_put: true,
        ..FlakyStore::default()
    });
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::POST, "/paid-post"))
            .store(store.clone())
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h
        .challenge(request(Method::POST, "/paid-post", &[], "{}"))
        .await;
    let req = request(
        Method::POST,
        "/paid-post",
        &[
            ("authorization", &pay(&challenge)),
            ("idempotency-key", "k1"),
        ],
        "{}",
    );
    h.send(req).await.assert_paid();
    assert_eq!(
        store.counts[2].load(Ordering::SeqCst),
        1,
        "a copy was tried"
    );
    assert_eq!(h.calls(), 1);
}

/// A paywall with one `scripted/charge` route at `GET /paid`.
fn scripted(method: Scripted) -> Harness {
    let clock = test_clock();
    Harness::new(
        builder(&clock)
            .route(
                PaidRoute::new(Method::GET, "/paid")
                    .offer(ChargeOffer::new(Arc::new(method), Scripted::request())),
            )
            .build()
            .unwrap(),
        &clock,
    )
}

#[tokio::test]
async fn a_settlement_without_verdict_can_be_retried_by_the_same_credential_only() {
    // req: charge.replay.credential-once core.errors.retry-after
    let mut method = Scripted::new(Ok(()));
    method.internal_first = 1;
    let settles = method.settles.clone();
    let h = scripted(method);
    let challenge = h.challenge(get("/paid")).await;
    let value = credential(&challenge, Scripted::payload());
    let answer = h.send(get_paid("/paid", &value)).await;
    let problem = answer.assert_error(500, ProblemType::InternalPaymentError);
    assert_eq!(
        problem.detail.as_deref(),
        Some("the backend did not answer")
    );
    assert_eq!(h.calls(), 0);
    // Another credential for the same challenge may not take the claim up...
    let mut other = Scripted::payload();
    other.insert("proof".into(), "something else".into());
    h.send(get_paid("/paid", &credential(&challenge, other)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    // ...the very same one may, once, as Retry-After said.
    h.send(get_paid("/paid", &value)).await.assert_paid();
    assert_eq!(settles.load(Ordering::SeqCst), 2);
    assert_eq!(h.calls(), 1);
    h.send(get_paid("/paid", &value))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(settles.load(Ordering::SeqCst), 2, "settled once");
}

#[tokio::test]
async fn a_500_invites_a_retry_only_when_the_retry_can_succeed() {
    // req: core.errors.retry-after
    let clock = test_clock();
    let mut method = Scripted::new(Ok(()));
    method.internal_first = 1;
    // The claim is recorded, but it cannot be marked for a retry.
    let store = Arc::new(FlakyStore {
        fail_swap: true,
        ..FlakyStore::default()
    });
    let h = Harness::new(
        builder(&clock)
            .route(
                PaidRoute::new(Method::GET, "/paid")
                    .offer(ChargeOffer::new(Arc::new(method), Scripted::request())),
            )
            .store(store)
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid")).await;
    let value = credential(&challenge, Scripted::payload());
    let answer = h.send(get_paid("/paid", &value)).await;
    answer.assert_problem(500, ProblemType::InternalPaymentError);
    assert_eq!(
        answer.header("retry-after"),
        None,
        "the retry would be refused: no Retry-After"
    );
    h.send(get_paid("/paid", &value))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
}

#[tokio::test]
async fn method_errors_map_to_their_problem_types() {
    // req: core.errors.verification-failed core.errors.problem-type
    let cases = [
        (
            MethodError::VerificationFailed("no".into()),
            ProblemType::VerificationFailed,
        ),
        (
            MethodError::InvalidPayload("no".into()),
            ProblemType::InvalidPayload,
        ),
        (
            MethodError::Insufficient("no".into()),
            ProblemType::PaymentInsufficient,
        ),
        (
            MethodError::ActionRequired("no".into()),
            ProblemType::PaymentActionRequired,
        ),
    ];
    for (error, expected) in cases {
        let h = scripted(Scripted::new(Err(error)));
        let challenge = h.challenge(get("/paid")).await;
        let answer = h
            .send(get_paid(
                "/paid",
                &credential(&challenge, Scripted::payload()),
            ))
            .await;
        answer.assert_refused(expected, &challenge);
        assert_eq!(h.calls(), 0, "{expected}");
    }
}

#[tokio::test]
async fn offer_without_payment_hash_is_500_not_a_grant() {
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(PaidRoute::new(Method::GET, "/paid").offer(ChargeOffer::new(
                Arc::new(Preimage),
                Token::request(AMOUNT, CURRENCY, RECIPIENT),
            )))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid")).await;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_error(500, ProblemType::InternalPaymentError);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn route_whose_challenges_cannot_be_formatted_is_refused_at_build() {
    // A description with a line break cannot go in a header (D5): refused when the
    // paywall is built, not discovered on every request.
    let clock = test_clock();
    let error = builder(&clock)
        .route(paid(Method::GET, "/paid").description("line one\nline two"))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("control character"), "{error}");
}

#[tokio::test]
async fn paid_request_is_200_with_receipt_and_private_cache() {
    // req: core.errors.granted core.receipt.on-success core.receipt.status-success
    // req: core.caching.receipt-private core.security.privacy.no-accounts
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.clock.advance(10);
    let value = Credential::answer(
        &challenge,
        preimage_payload(PREIMAGE),
        Some("did:key:z6MkTestPayer".into()),
    )
    .to_header();
    let answer = h.send(get_paid("/paid", &value)).await;
    let receipt = answer.assert_paid();
    assert_eq!(receipt.method, "preimage");
    assert_eq!(
        receipt.reference,
        hash_hex(PREIMAGE),
        "the hash, never the preimage"
    );
    assert_eq!(receipt.timestamp.unix(), UnixTime::from_secs(T0 + 10));
    assert_eq!(
        receipt.extra.get("challengeId").and_then(Value::as_str),
        Some(challenge.id.as_str())
    );
    assert_eq!(
        receipt.extra.get("intent").and_then(Value::as_str),
        Some("charge")
    );
    assert_eq!(answer.text(), r#"{"call":1}"#, "the handler's body");
    assert_eq!(h.calls(), 1);
    let seen = h.inner.seen();
    let payment = seen[0]
        .payment
        .as_ref()
        .expect("the VerifiedPayment extension");
    assert_eq!(payment.receipt, receipt);
    assert_eq!(payment.challenge.id, challenge.id);
    assert_eq!(payment.source.as_deref(), Some("did:key:z6MkTestPayer"));
}

#[tokio::test]
async fn credential_headers_reach_the_handler_marked_sensitive() {
    // req: core.security.credential-storage.sensitive
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    let seen = h.inner.seen();
    let authorization = seen[0].headers.get("authorization").unwrap();
    assert!(
        authorization.is_sensitive(),
        "D10: credentials are sensitive"
    );
}

#[tokio::test]
async fn receipt_header_is_marked_sensitive() {
    // req: core.security.credential-storage.sensitive
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let answer = h.send(get_paid("/paid", &pay(&challenge))).await;
    answer.assert_paid();
    assert!(answer.headers["payment-receipt"].is_sensitive(), "D10");
}

#[tokio::test]

async fn verified_payment_debug_redacts_the_source() {
    // req: core.security.credentials.not-logged
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let value = Credential::answer(
        &challenge,
        preimage_payload(PREIMAGE),
        Some("did:pkh:eip155:1:0xPAYERADDRESS".into()),
    )
    .to_header();
    h.send(get_paid("/paid", &value)).await.assert_paid();
    let payment = h.inner.seen()[0].payment.clone().unwrap();
    let debug = format!("{payment:?}");
    assert!(
        !debug.contains("0xPAYERADDRESS"),
        "the payer is sensitive (D10), as in Credential's Debug: {debug}"
    );
}

#[tokio::test]
async fn handler_cache_control_is_replaced_by_private_on_a_paid_response() {
    // req: core.caching.receipt-private
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[
            ("authorization", &pay(&challenge)),
            ("x-test-cache-control", "public, max-age=3600"),
        ],
        "",
    );
    let answer = h.send(req).await;
    answer.assert_paid();
    assert_eq!(answer.headers.get_all("cache-control").iter().count(), 1);
}

#[tokio::test]
async fn paid_request_whose_handler_fails_carries_no_receipt() {
    // req: core.receipt.not-on-error
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[
            ("authorization", &pay(&challenge)),
            ("x-test-status", "500"),
        ],
        "",
    );
    let answer = h.send(req).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    answer.assert_no_receipt();
    assert_eq!(h.calls(), 1, "the handler ran and failed on its own");
    // The challenge stays consumed (D9): it was settled.
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn the_binding_secret_never_reaches_a_client() {
    // req: core.binding.secret.server-only
    // Every kind of answer: 402 (none, malformed, unknown id, tampered, wrong proof),
    // 400 (several), 200, and a handler's 500; none may carry the secret in any form.
    let h = Harness::standard();
    let secret = std::str::from_utf8(SECRET).unwrap();
    let forms = [
        secret.to_string(),
        base64::encode(SECRET),
        SECRET
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    ];
    let c = h.challenge(get("/paid")).await;
    let mut tampered = c.clone();
    tampered.realm = mpp_core::value::Realm::new("elsewhere.example").unwrap();
    let requests = vec![
        get("/paid"),
        get_paid("/paid", "Payment !!"),
        get_paid("/paid", &credential(&tampered, preimage_payload(PREIMAGE))),
        get_paid("/paid", &credential(&c, preimage_payload("wrong"))),
        request(
            Method::GET,
            "/paid",
            &[("authorization", &pay(&c)), ("authorization", &pay(&c))],
            "",
        ),
    ];
    let mut answers = Vec::new();
    for r in requests {
        answers.push(h.send(r).await);
    }
    let fresh = h.challenge(get("/paid")).await;
    answers.push(h.send(get_paid("/paid", &pay(&fresh))).await);
    let fresh = h.challenge(get("/paid")).await;
    answers.push(
        h.send(request(
            Method::GET,
            "/paid",
            &[("authorization", &pay(&fresh)), ("x-test-status", "500")],
            "",
        ))
        .await,
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses, [402, 402, 402, 402, 400, 200, 500]);
    for answer in &answers {
        let mut text = String::from_utf8_lossy(&answer.body).into_owned();
        for (name, value) in &answer.headers {
            text.push_str(&format!(
                "\n{name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{} leaks the secret",
                answer.status
            );
        }
    }
}

#[tokio::test]
async fn paid_but_denied_by_the_handler_is_a_bare_403_and_the_challenge_stays_used() {
    // req: core.errors.policy-denied
    // The paywall has no policy hook (ERRATA E23): the handler's own 403 goes out
    // without a challenge or a receipt, and the payment is not taken again.
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[
            ("authorization", &pay(&challenge)),
            ("x-test-status", "403"),
        ],
        "",
    );
    let answer = h.send(req).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    answer.assert_no_receipt();
    assert!(answer.headers.get("www-authenticate").is_none());
    assert_eq!(h.calls(), 1);
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn reencoded_request_in_the_echo_is_accepted() {
    // D2: deployed clients re-encode `request`; the binding uses its canonical form.
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    let decoded = challenge.request.decode().unwrap();
    let pretty = serde_json::to_string_pretty(&Value::Object(decoded)).unwrap();
    let reencoded = base64::encode(pretty.as_bytes());
    assert_ne!(reencoded, challenge.request.as_str());
    challenge.request = Base64Json::from_cow(reencoded.into(), &ParseOptions::STRICT).unwrap();
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
}

#[tokio::test]
async fn edited_description_in_the_echo_is_accepted() {
    // req: core.challenge.description.not-verified
    // `description` is display text, not bound (-01).
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    challenge.description = Some("Something else entirely".into());
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    let mut challenge = h.challenge(get("/paid")).await;
    challenge.description = None;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn problem_details_never_contain_the_credential() {
    // req: core.security.credentials.not-logged
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let secret_looking = "the-payers-secret-proof-value";
    let values = [
        credential(&challenge, preimage_payload(secret_looking)),
        raw_credential(&format!(
            r#"{{"payload":{{"preimage":"{secret_looking}"}}}}"#
        )),
    ];
    for value in values {
        let answer = h.send(get_paid("/paid", &value)).await;
        assert_eq!(answer.status, StatusCode::PAYMENT_REQUIRED);
        let text = answer.text();
        assert!(!text.contains(secret_looking), "{text}");
        let encoded = value.trim_start_matches("Payment ");
        assert!(!text.contains(encoded), "{text}");
        for line in answer.headers.values() {
            let line = line.to_str().unwrap();
            assert!(!line.contains(secret_looking) && !line.contains(encoded));
        }
    }
}

// ---------------------------------------------------------------------------
// 2. The verification order: the earlier check wins
// ---------------------------------------------------------------------------

#[tokio::test]
async fn several_malformed_credentials_are_bad_request_not_malformed() {
    // req: core.credential.several.reject
    // Counting credentials comes before parsing any of them.
    let h = Harness::standard();
    let req = request(
        Method::GET,
        "/paid",
        &[
            ("authorization", "Payment !!!"),
            ("authorization", "Payment W10"),
        ],
        "",
    );
    h.send(req).await.assert_error(400, ProblemType::BadRequest);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn tampered_and_expired_is_invalid_challenge() {
    // req: core.binding.echo-mismatch
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    challenge.request = Base64Json::encode(&Preimage::request("1", CURRENCY, RECIPIENT, PREIMAGE));
    h.clock.advance(TTL + 60);
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn other_route_and_expired_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .route(paid(Method::GET, "/other"))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/other")).await;
    clock.advance(TTL + 60);
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn other_terms_and_expired_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let cheap = Harness::new(
        builder(&clock)
            .route(PaidRoute::new(Method::GET, "/paid").offer(ChargeOffer::new(
                Arc::new(Preimage),
                Preimage::request("1", CURRENCY, RECIPIENT, PREIMAGE),
            )))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = cheap.challenge(get("/paid")).await;
    clock.advance(TTL + 60);
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
}

#[tokio::test]
async fn other_body_and_expired_is_invalid_challenge() {
    let h = Harness::standard();
    let challenge = h
        .challenge(request(Method::POST, "/paid-post", &[], "body A"))
        .await;
    h.clock.advance(TTL + 60);
    let req = request(
        Method::POST,
        "/paid-post",
        &[("authorization", &pay(&challenge))],
        "body B",
    );
    h.send(req)
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn wrong_field_and_expired_is_invalid_challenge() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.clock.advance(TTL + 60);
    let req = request(
        Method::GET,
        "/paid",
        &[("payment-authorization", &pay(&challenge))],
        "",
    );
    h.send(req)
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
}

#[tokio::test]
async fn expired_and_wrong_preimage_is_payment_expired() {
    // req: charge.verify.expiry
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.clock.advance(TTL);
    let wrong = credential(&challenge, preimage_payload("a-wrong-preimage"));
    h.send(get_paid("/paid", &wrong))
        .await
        .assert_refused(ProblemType::PaymentExpired, &challenge);
}

#[tokio::test]
async fn expired_and_invalid_payload_is_payment_expired() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.clock.advance(TTL);
    h.send(get_paid(
        "/paid",
        &credential(&challenge, JsonObject::new()),
    ))
    .await
    .assert_refused(ProblemType::PaymentExpired, &challenge);
}

#[tokio::test]
async fn invalid_payload_on_a_used_id_is_invalid_challenge() {
    // req: charge.replay.id-single-use
    // D6: a used id is `invalid-challenge`, whatever its payload; the claim comes first.
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    h.send(get_paid(
        "/paid",
        &credential(&challenge, JsonObject::new()),
    ))
    .await
    .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn used_id_with_wrong_preimage_is_invalid_challenge() {
    // req: charge.replay.id-single-use
    // The claim precedes settlement: a used id is not verified again.
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    let wrong = credential(&challenge, preimage_payload("a-wrong-preimage"));
    h.send(get_paid("/paid", &wrong))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn store_failure_with_wrong_preimage_is_500() {
    // The claim precedes settlement, and fails closed.
    let clock = test_clock();
    let store = Arc::new(FlakyStore {
        fail_put_if_absent: true,
        ..FlakyStore::default()
    });
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .store(store)
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid")).await;
    let wrong = credential(&challenge, preimage_payload("a-wrong-preimage"));
    h.send(get_paid("/paid", &wrong))
        .await
        .assert_error(500, ProblemType::InternalPaymentError);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn malformed_credential_is_not_checked_further() {
    // req: core.errors.malformed-credential
    // A credential that does not parse never reaches the binding check, the store or
    // the method.
    let method = Scripted::new(Ok(()));
    let settles = method.settles.clone();
    let h = scripted(method);
    let answer = h.send(get_paid("/paid", &raw_credential("{}"))).await;
    answer.assert_402(ProblemType::MalformedCredential);
    assert_eq!(settles.load(Ordering::SeqCst), 0);
    assert_eq!(h.calls(), 0);
}

// ---------------------------------------------------------------------------
// 3. Route pinning (D7)
// ---------------------------------------------------------------------------

/// Issues a challenge on `foreign` (same secret, another aspect) for `issue`, pays
/// it on `h` at `target` with `payload` and expects `invalid-challenge`; then pays
/// it on `foreign` itself, where it must succeed, so the refusal was the pinning.
async fn assert_pinned(
    h: &Harness,
    target: http::Request<http_body_util::Full<Bytes>>,
    foreign: &Harness,
    issue: http::Request<http_body_util::Full<Bytes>>,
    payload: JsonObject,
) {
    let (parts, body) = issue.into_parts();
    let issue_again = http::Request::from_parts(parts.clone(), body.clone());
    let challenge = foreign.challenge(issue_again).await;
    let value = credential(&challenge, payload);
    let (mut target_parts, target_body) = target.into_parts();
    target_parts
        .headers
        .insert("authorization", value.parse().unwrap());
    let answer = h
        .send(http::Request::from_parts(target_parts, target_body))
        .await;
    answer.assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
    let mut paid_parts = parts;
    paid_parts
        .headers
        .insert("authorization", value.parse().unwrap());
    foreign
        .send(http::Request::from_parts(paid_parts, body))
        .await
        .assert_paid();
}

/// A paywall sharing [`SECRET`] and `clock`, with `realm` and one route.
fn foreign(realm: &str, route: PaidRoute, clock: &ManualClock) -> Harness {
    Harness::new(
        builder_with(SECRET, realm, clock)
            .route(route)
            .build()
            .unwrap(),
        clock,
    )
}

#[tokio::test]
async fn challenge_for_another_path_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let other = foreign(REALM, paid(Method::GET, "/other"), &clock);
    assert_pinned(
        &h,
        get("/paid"),
        &other,
        get("/other"),
        preimage_payload(PREIMAGE),
    )
    .await;
}

#[tokio::test]
async fn challenge_for_another_path_of_the_same_paywall_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .route(paid(Method::GET, "/other"))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/other")).await;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
    h.send(get_paid("/other", &pay(&challenge)))
        .await
        .assert_paid();
}

#[tokio::test]
async fn challenge_for_another_http_method_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let other = foreign(REALM, paid(Method::DELETE, "/paid"), &clock);
    let delete = request(Method::DELETE, "/paid", &[], "");
    assert_pinned(&h, get("/paid"), &other, delete, preimage_payload(PREIMAGE)).await;
}

#[tokio::test]
async fn challenge_for_another_price_is_invalid_challenge() {
    // req: charge.verify.amount
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let route = PaidRoute::new(Method::GET, "/paid").offer(ChargeOffer::new(
        Arc::new(Preimage),
        Preimage::request("1", CURRENCY, RECIPIENT, PREIMAGE),
    ));
    let other = foreign(REALM, route, &clock);
    assert_pinned(
        &h,
        get("/paid"),
        &other,
        get("/paid"),
        preimage_payload(PREIMAGE),
    )
    .await;
}

#[tokio::test]
async fn challenge_for_another_currency_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let route = PaidRoute::new(Method::GET, "/paid").offer(ChargeOffer::new(
        Arc::new(Preimage),
        Preimage::request(AMOUNT, "eur", RECIPIENT, PREIMAGE),
    ));
    let other = foreign(REALM, route, &clock);
    assert_pinned(
        &h,
        get("/paid"),
        &other,
        get("/paid"),
        preimage_payload(PREIMAGE),
    )
    .await;
}

#[tokio::test]
async fn challenge_for_another_recipient_is_invalid_challenge() {
    // req: charge.verify.recipient
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let route = PaidRoute::new(Method::GET, "/paid").offer(ChargeOffer::new(
        Arc::new(Preimage),
        Preimage::request(AMOUNT, CURRENCY, "acct_mallory", PREIMAGE),
    ));
    let other = foreign(REALM, route, &clock);
    assert_pinned(
        &h,
        get("/paid"),
        &other,
        get("/paid"),
        preimage_payload(PREIMAGE),
    )
    .await;
}

#[tokio::test]
async fn challenge_for_another_payment_method_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let route = PaidRoute::new(Method::GET, "/paid").offer(ChargeOffer::new(
        Arc::new(Token::new(TOKEN)),
        Token::request(AMOUNT, CURRENCY, RECIPIENT),
    ));
    let other = foreign(REALM, route, &clock);
    assert_pinned(&h, get("/paid"), &other, get("/paid"), token_payload(TOKEN)).await;
}

#[tokio::test]
async fn challenge_for_another_intent_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let offer = ChargeOffer {
        intent: IntentName::new("session").unwrap(),
        ..preimage_offer()
    };
    let other = foreign(
        REALM,
        PaidRoute::new(Method::GET, "/paid").offer(offer),
        &clock,
    );
    assert_pinned(
        &h,
        get("/paid"),
        &other,
        get("/paid"),
        preimage_payload(PREIMAGE),
    )
    .await;
}

#[tokio::test]
async fn challenge_for_another_realm_is_invalid_challenge() {
    let clock = test_clock();
    let h = Harness::standard_with_clock(&clock);
    let other = foreign("other.example.com", paid(Method::GET, "/paid"), &clock);
    assert_pinned(
        &h,
        get("/paid"),
        &other,
        get("/paid"),
        preimage_payload(PREIMAGE),
    )
    .await;
}

#[tokio::test]
async fn challenge_for_another_query_is_invalid_challenge_when_the_query_is_bound() {
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid").bind_query())
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid?item=1")).await;
    h.send(get_paid("/paid?item=2", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
    h.send(get_paid("/paid?item=1", &pay(&challenge)))
        .await
        .assert_paid();
}

#[tokio::test]
async fn query_is_not_bound_by_default() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid?item=1")).await;
    h.send(get_paid("/paid?item=2", &pay(&challenge)))
        .await
        .assert_paid();
}

#[tokio::test]
async fn echo_without_expires_is_invalid_challenge() {
    // req: core.binding.id.bound core.binding.echo-mismatch
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    challenge.expires = None;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn echo_with_a_later_expires_is_invalid_challenge() {
    // req: core.binding.echo-mismatch
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    h.clock.advance(TTL);
    challenge.expires = Some(Timestamp::from_unix(UnixTime::from_secs(T0 + 10 * TTL)).unwrap());
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
}

#[tokio::test]
async fn echo_without_opaque_is_invalid_challenge() {
    // req: core.binding.opaque.bound core.binding.echo-mismatch
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    challenge.opaque = None;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn echo_with_changed_opaque_is_invalid_challenge() {
    // req: core.binding.opaque.bound core.binding.echo-mismatch
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    let mut map = challenge.opaque.as_ref().unwrap().decode().unwrap();
    map.insert("nonce".into(), "AAAAAAAAAAAAAAAAAAAAAA".into());
    let entries: Vec<(String, String)> = map
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
        .collect();
    challenge.opaque = Some(Opaque::encode(entries));
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn echo_with_changed_amount_is_invalid_challenge() {
    // req: core.binding.echo-mismatch charge.verify.amount
    let h = Harness::standard();
    let mut challenge = h.challenge(get("/paid")).await;
    challenge.request = Base64Json::encode(&Preimage::request("1", CURRENCY, RECIPIENT, PREIMAGE));
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

/// A challenge for the standard offer with a genuine id under [`SECRET`], built
/// field by field.
fn minted(
    build: impl FnOnce(ChallengeBuilder<'static>) -> ChallengeBuilder<'static>,
) -> Challenge<'static> {
    let binder = ChallengeBinder::new(Secret::new(SECRET).unwrap());
    let builder = ChallengeBuilder::new(REALM, "preimage", "charge", &preimage_request()).unwrap();
    build(builder).issue(&binder).unwrap().into_owned()
}

fn expires_at(secs: i64) -> Timestamp<'static> {
    Timestamp::from_unix(UnixTime::from_secs(secs)).unwrap()
}

fn route_opaque(resource: &str) -> Opaque<'static> {
    Opaque::encode([("route", resource), ("nonce", "bWludGVkLWJ5LXRlc3Q")])
}

#[tokio::test]
async fn minted_challenge_is_accepted_as_a_control() {
    // The control for the minted cases below: all the right fields pay.
    let h = Harness::standard();
    let challenge = minted(|b| {
        b.expires(expires_at(T0 + 60))
            .opaque(route_opaque("GET /paid"))
    });
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
}

#[tokio::test]
async fn genuine_challenge_without_expires_is_invalid_challenge() {
    let h = Harness::standard();
    let challenge = minted(|b| b.opaque(route_opaque("GET /paid")));
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn genuine_challenge_without_opaque_is_invalid_challenge() {
    let h = Harness::standard();
    let challenge = minted(|b| b.expires(expires_at(T0 + 60)));
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn genuine_challenge_for_another_resource_is_invalid_challenge() {
    let h = Harness::standard();
    for resource in [
        "GET /other",
        "POST /paid",
        "GET /paid?x=1",
        "get /paid",
        "GET /paid/",
    ] {
        let challenge = minted(|b| {
            b.expires(expires_at(T0 + 60))
                .opaque(route_opaque(resource))
        });
        h.send(get_paid("/paid", &pay(&challenge)))
            .await
            .assert_refused(ProblemType::InvalidChallenge, &challenge);
    }
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn genuine_challenge_with_a_digest_on_a_bodiless_get_is_invalid_challenge() {
    // req: core.digest.verify
    let h = Harness::standard();
    let challenge = minted(|b| {
        b.expires(expires_at(T0 + 60))
            .opaque(route_opaque("GET /paid"))
            .digest(ContentDigest::compute(DigestAlgorithm::Sha256, b"x"))
    });
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn genuine_expired_challenge_with_an_offset_is_payment_expired() {
    // req: core.grammar.expires.rfc3339 core.errors.payment-expired
    // RFC 3339 offsets are read as the instant they name (D8).
    let h = Harness::standard();
    let at = Timestamp::new("2027-01-15T10:00:00+02:00").unwrap();
    assert_eq!(at.unix(), UnixTime::from_secs(T0));
    let challenge = minted(|b| b.expires(at).opaque(route_opaque("GET /paid")));
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::PaymentExpired, &challenge);
}

// ---------------------------------------------------------------------------
// 4. Body digest binding
// ---------------------------------------------------------------------------

fn post(body: &str, credential: Option<&str>) -> http::Request<http_body_util::Full<Bytes>> {
    match credential {
        Some(c) => request(Method::POST, "/paid-post", &[("authorization", c)], body),
        None => request(Method::POST, "/paid-post", &[], body),
    }
}

#[tokio::test]
async fn post_challenge_binds_the_body_digest() {
    // req: core.digest.include
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    assert_eq!(
        challenge.digest.as_ref().map(|d| d.as_str()),
        Some(ContentDigest::compute(DigestAlgorithm::Sha256, br#"{"q":"A"}"#).as_str())
    );
}

#[tokio::test]
async fn challenge_for_one_body_paid_with_another_is_invalid_challenge() {
    // req: core.digest.verify
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    h.send(post(r#"{"q":"B"}"#, Some(&pay(&challenge))))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn challenge_for_a_body_paid_without_a_body_is_invalid_challenge() {
    // req: core.digest.verify
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    h.send(post("", Some(&pay(&challenge))))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn challenge_without_a_body_paid_with_a_body_is_invalid_challenge() {
    let h = Harness::standard();
    let challenge = h.challenge(post("", None)).await;
    assert!(challenge.digest.is_none());
    h.send(post(r#"{"q":"A"}"#, Some(&pay(&challenge))))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn same_body_is_paid_and_reaches_the_handler_intact() {
    let h = Harness::standard();
    let body = "{\"q\":\"A\", \"bytes\": \"\u{e9}\u{1F600}\\n\"}";
    let challenge = h.challenge(post(body, None)).await;
    h.send(post(body, Some(&pay(&challenge))))
        .await
        .assert_paid();
    assert_eq!(h.calls(), 1);
    assert_eq!(h.inner.seen()[0].body, Bytes::from(body));
}

#[tokio::test]
async fn body_over_max_body_bytes_is_413_and_handler_not_called() {
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::POST, "/paid-post"))
            .max_body_bytes(16)
            .build()
            .unwrap(),
        &clock,
    );
    let small = h.challenge(post("0123456789abcdef", None)).await;
    for credential in [None, Some(pay(&small))] {
        let answer = h
            .send(post("0123456789abcdefX", credential.as_deref()))
            .await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(answer.problem().status, 413);
        answer.assert_no_receipt();
    }
    assert_eq!(h.calls(), 0);
    // A body of exactly the limit is read.
    h.send(post("0123456789abcdef", Some(&pay(&small))))
        .await
        .assert_paid();
}

/// A request body that fails on its first read.
struct BrokenBody;

impl http_body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
    }
}

#[tokio::test]
async fn unreadable_body_is_bad_request_and_handler_not_called() {
    let h = Harness::standard();
    let req = http::Request::post("/paid-post").body(BrokenBody).unwrap();
    h.send(req).await.assert_error(400, ProblemType::BadRequest);
    assert_eq!(h.calls(), 0);
}

// ---------------------------------------------------------------------------
// 5. The credential field (D12)
// ---------------------------------------------------------------------------

fn payment_authorization_harness() -> Harness {
    let clock = test_clock();
    Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid").payment_authorization())
            .build()
            .unwrap(),
        &clock,
    )
}

#[tokio::test]
async fn payment_authorization_route_issues_the_header_parameter() {
    // req: core.challenge.header.value
    let h = payment_authorization_harness();
    let answer = h.send(get("/paid")).await;
    let challenges = answer.assert_402(ProblemType::PaymentRequired);
    assert_eq!(
        challenges[0].credential_field,
        CredentialField::PaymentAuthorization
    );
    assert!(
        answer
            .header("www-authenticate")
            .unwrap()
            .contains(r#"header="Payment-Authorization""#)
    );
}

#[tokio::test]
async fn payment_authorization_is_accepted_beside_a_bearer_authorization() {
    // req: core.credential.field.payment-authorization-recommended core.caching.other-field
    let h = payment_authorization_harness();
    let challenge = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[
            ("authorization", "Bearer user-session-token"),
            ("payment-authorization", &pay(&challenge)),
        ],
        "",
    );
    let answer = h.send(req).await;
    answer.assert_paid();
    assert_eq!(h.calls(), 1);
    let seen = h.inner.seen();
    assert_eq!(
        seen[0].headers.get("authorization").unwrap(),
        "Bearer user-session-token",
        "the handler's own authentication is untouched"
    );
    assert!(seen[0].payment.is_some());
}

#[tokio::test]
async fn payment_authorization_challenge_sent_in_authorization_is_invalid_challenge() {
    // req: core.credential.field.server-selected
    let h = payment_authorization_harness();
    let challenge = h.challenge(get("/paid")).await;
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
    // The refusal was stateless: sent in the right field, the challenge still pays.
    let req = request(
        Method::GET,
        "/paid",
        &[("payment-authorization", &pay(&challenge))],
        "",
    );
    h.send(req).await.assert_paid();
}

#[tokio::test]
async fn authorization_challenge_sent_in_payment_authorization_is_invalid_challenge() {
    // req: core.credential.field.server-selected
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[("payment-authorization", &pay(&challenge))],
        "",
    );
    h.send(req)
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn echo_without_the_header_parameter_is_invalid_challenge() {
    // req: core.binding.header.bound core.binding.echo-mismatch
    let h = payment_authorization_harness();
    let mut challenge = h.challenge(get("/paid")).await;
    challenge.credential_field = CredentialField::Authorization;
    for field in ["authorization", "payment-authorization"] {
        let req = request(Method::GET, "/paid", &[(field, &pay(&challenge))], "");
        h.send(req)
            .await
            .assert_refused(ProblemType::InvalidChallenge, &challenge);
    }
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn failed_handler_response_to_payment_authorization_is_no_store() {
    // req: core.caching.other-field core.receipt.not-on-error
    // -01 §caching: a credential outside Authorization makes every response private
    // or no-store.
    let h = payment_authorization_harness();
    let challenge = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[
            ("payment-authorization", &pay(&challenge)),
            ("x-test-status", "404"),
            ("x-test-cache-control", "public, max-age=60"),
        ],
        "",
    );
    let answer = h.send(req).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.assert_no_receipt();
}

// ---------------------------------------------------------------------------
// 6. Accept-Payment
// ---------------------------------------------------------------------------

fn two_offers() -> Harness {
    let clock = test_clock();
    Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid").offer(ChargeOffer::new(
                Arc::new(Token::new(TOKEN)),
                Token::request(AMOUNT, CURRENCY, RECIPIENT),
            )))
            .build()
            .unwrap(),
        &clock,
    )
}

async fn offered_methods(h: &Harness, accept: Option<&str>) -> Vec<String> {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept-payment", a)).into_iter().collect();
    let answer = h.send(request(Method::GET, "/paid", &headers, "")).await;
    answer
        .assert_402(ProblemType::PaymentRequired)
        .iter()
        .map(|c| c.method.to_string())
        .collect()
}

#[tokio::test]
async fn no_accept_payment_yields_all_offers_in_server_order() {
    // req: core.accept-payment.absent
    let h = two_offers();
    assert_eq!(offered_methods(&h, None).await, ["preimage", "token"]);
}

#[tokio::test]
async fn accept_payment_orders_challenges_by_preference() {
    // req: core.accept-payment.consider core.accept-payment.order core.accept-payment.specific
    let h = two_offers();
    assert_eq!(
        offered_methods(&h, Some("token/charge, preimage/charge;q=0.5")).await,
        ["token", "preimage"]
    );
    assert_eq!(
        offered_methods(&h, Some("preimage/*;q=0.2, */charge;q=0.9")).await,
        ["token", "preimage"],
        "the most specific range decides"
    );
}

#[tokio::test]
async fn accept_payment_q0_excludes_an_offer() {
    // req: core.accept-payment.filter
    let h = two_offers();
    assert_eq!(
        offered_methods(&h, Some("preimage/charge;q=0, */*")).await,
        ["token"]
    );
}

#[tokio::test]
async fn accept_payment_matching_nothing_yields_all_offers() {
    let h = two_offers();
    assert_eq!(
        offered_methods(&h, Some("lightning/charge")).await,
        ["preimage", "token"]
    );
}

#[tokio::test]
async fn malformed_accept_payment_yields_all_offers() {
    let h = two_offers();
    assert_eq!(
        offered_methods(&h, Some("token/charge;q=7;;")).await,
        ["preimage", "token"]
    );
}

#[tokio::test]
async fn accept_payment_also_orders_the_challenges_of_a_refusal() {
    // req: core.accept-payment.consider
    let h = two_offers();
    let challenge = h.challenge(get("/paid")).await;
    let req = request(
        Method::GET,
        "/paid",
        &[
            (
                "authorization",
                &credential(&challenge, preimage_payload("wrong")),
            ),
            ("accept-payment", "token/charge"),
        ],
        "",
    );
    let fresh = h
        .send(req)
        .await
        .assert_refused(ProblemType::VerificationFailed, &challenge);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].method, "token");
}

#[tokio::test]
async fn each_offer_of_a_two_offer_route_is_payable() {
    let h = two_offers();
    let answer = h.send(get("/paid")).await;
    let challenges = answer.assert_402(ProblemType::PaymentRequired);
    let receipt = h
        .send(get_paid(
            "/paid",
            &credential(&challenges[1], token_payload(TOKEN)),
        ))
        .await
        .assert_paid();
    assert_eq!(receipt.method, "token");
    let receipt = h
        .send(get_paid("/paid", &pay(&challenges[0])))
        .await
        .assert_paid();
    assert_eq!(receipt.method, "preimage");
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn token_challenge_paid_with_a_wrong_token_is_verification_failed() {
    // req: core.errors.verification-failed charge.verify.proof
    let h = two_offers();
    let answer = h.send(get("/paid")).await;
    let token = answer.assert_402(ProblemType::PaymentRequired)[1].clone();
    h.send(get_paid(
        "/paid",
        &credential(&token, token_payload("guess")),
    ))
    .await
    .assert_refused(ProblemType::VerificationFailed, &token);
    assert_eq!(h.calls(), 0);
}

// ---------------------------------------------------------------------------
// 7. Idempotency-Key
// ---------------------------------------------------------------------------

fn idempotent_post(credential: &str, key: &str) -> http::Request<http_body_util::Full<Bytes>> {
    request(
        Method::POST,
        "/paid-post",
        &[("authorization", credential), ("idempotency-key", key)],
        r#"{"q":"A"}"#,
    )
}

#[tokio::test]
async fn idempotent_retry_replays_the_response_without_running_the_handler() {
    // req: core.idempotency.key core.idempotency.replay
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    let value = pay(&challenge);
    let first = h.send(idempotent_post(&value, "key-1")).await;
    let first_receipt = first.assert_paid();
    let retry = h.send(idempotent_post(&value, "key-1")).await;
    let retry_receipt = retry.assert_paid();
    assert_eq!(retry.status, first.status);
    assert_eq!(retry.body, first.body, "the stored body, not a second run");
    assert_eq!(retry_receipt, first_receipt);
    assert_eq!(
        retry.header("payment-receipt"),
        first.header("payment-receipt")
    );
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn different_idempotency_key_with_the_same_credential_is_a_replay() {
    // req: charge.replay.credential-once
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    let value = pay(&challenge);
    h.send(idempotent_post(&value, "key-1")).await.assert_paid();
    h.send(idempotent_post(&value, "key-2"))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn idempotency_key_on_get_is_not_replayed() {
    // req: charge.replay.credential-once
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let req = || {
        request(
            Method::GET,
            "/paid",
            &[
                ("authorization", &pay(&challenge)),
                ("idempotency-key", "key-1"),
            ],
            "",
        )
    };
    h.send(req()).await.assert_paid();
    h.send(req())
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn idempotent_retry_after_a_failed_verification_is_refused() {
    // req: core.idempotency.replay
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    let wrong = credential(&challenge, preimage_payload("a-wrong-preimage"));
    h.send(idempotent_post(&wrong, "key-1"))
        .await
        .assert_refused(ProblemType::VerificationFailed, &challenge);
    h.send(idempotent_post(&pay(&challenge), "key-1"))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]

async fn idempotent_retry_with_a_different_payload_is_refused() {
    // req: core.idempotency.replay
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    h.send(idempotent_post(&pay(&challenge), "key-1"))
        .await
        .assert_paid();
    // Whoever saw the challenge and the key, but not the proof.
    for payload in [preimage_payload("a-wrong-preimage"), JsonObject::new()] {
        let answer = h
            .send(idempotent_post(&credential(&challenge, payload), "key-1"))
            .await;
        assert_ne!(
            answer.status,
            StatusCode::OK,
            "the replay is for the same key *and* a valid credential (spec §1.11)"
        );
        answer.assert_no_receipt();
    }
    assert_eq!(h.calls(), 1);
}

#[tokio::test]

async fn idempotent_replay_receipt_is_marked_sensitive() {
    // req: core.security.credential-storage.sensitive
    let h = Harness::standard();
    let challenge = h.challenge(post(r#"{"q":"A"}"#, None)).await;
    let value = pay(&challenge);
    h.send(idempotent_post(&value, "key-1")).await.assert_paid();
    let retry = h.send(idempotent_post(&value, "key-1")).await;
    retry.assert_paid();
    assert!(retry.headers["payment-receipt"].is_sensitive(), "D10");
}

// ---------------------------------------------------------------------------
// 8. Secret rotation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn challenge_issued_under_the_previous_secret_is_paid_after_rotation() {
    // req: core.binding.secret.rotation
    let clock = test_clock();
    let before = Harness::new(
        builder_with(OTHER_SECRET, REALM, &clock)
            .route(paid(Method::GET, "/paid"))
            .build()
            .unwrap(),
        &clock,
    );
    let after = Harness::new(
        builder_with(SECRET, REALM, &clock)
            .previous_secret(OTHER_SECRET)
            .unwrap()
            .route(paid(Method::GET, "/paid"))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = before.challenge(get("/paid")).await;
    after
        .send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    assert_eq!(after.calls(), 1);
}

#[tokio::test]
async fn rotated_paywall_issues_under_the_new_secret() {
    // req: core.binding.secret.rotation
    let clock = test_clock();
    let rotated = Harness::new(
        builder_with(SECRET, REALM, &clock)
            .previous_secret(OTHER_SECRET)
            .unwrap()
            .route(paid(Method::GET, "/paid"))
            .build()
            .unwrap(),
        &clock,
    );
    let old_only = Harness::new(
        builder_with(OTHER_SECRET, REALM, &clock)
            .route(paid(Method::GET, "/paid"))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = rotated.challenge(get("/paid")).await;
    let binder = ChallengeBinder::new(Secret::new(SECRET).unwrap());
    assert!(binder.verify_challenge(&challenge).unwrap());
    old_only
        .send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
}

#[test]
fn secrets_shorter_than_32_bytes_are_refused() {
    assert!(mpp_server::PaywallLayer::builder(b"too short", REALM).is_err());
    let b = mpp_server::PaywallLayer::builder(SECRET, REALM).unwrap();
    assert!(b.previous_secret(b"also too short").is_err());
}

// ---------------------------------------------------------------------------
// 11. Discovery
// ---------------------------------------------------------------------------

fn with_discovery() -> Harness {
    let clock = test_clock();
    Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .discovery(ServiceInfo {
                title: "test service".into(),
                ..ServiceInfo::default()
            })
            .build()
            .unwrap(),
        &clock,
    )
}

#[tokio::test]
async fn discovery_document_is_served_without_calling_the_handler() {
    let h = with_discovery();
    let answer = h.send(get("/openapi.json")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("max-age=300"));
    assert!(answer.headers.get("www-authenticate").is_none());
    answer.assert_no_receipt();
    let _: serde_json::Value = serde_json::from_slice(&answer.body).expect("a JSON document");
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn openapi_json_passes_through_without_discovery() {
    let h = Harness::standard();
    let answer = h.send(get("/openapi.json")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), r#"{"call":1}"#);
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn post_to_openapi_json_passes_through() {
    let h = with_discovery();
    let answer = h
        .send(request(Method::POST, "/openapi.json", &[], "{}"))
        .await;
    assert_eq!(answer.text(), r#"{"call":1}"#);
    assert_eq!(h.calls(), 1);
}

// ---------------------------------------------------------------------------
// 12. Free routes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn free_route_passes_through_untouched() {
    let h = Harness::standard();
    let req = request(
        Method::GET,
        "/free?x=1",
        &[("x-test-cache-control", "public, max-age=60")],
        "",
    );
    let answer = h.send(req).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), r#"{"call":1}"#);
    assert_eq!(answer.header("cache-control"), Some("public, max-age=60"));
    assert!(answer.headers.get("www-authenticate").is_none());
    answer.assert_no_receipt();
    assert_eq!(h.calls(), 1);
    let seen = &h.inner.seen()[0];
    assert_eq!(seen.uri, "/free?x=1");
    assert!(seen.payment.is_none());
}

#[tokio::test]
async fn free_route_ignores_a_payment_credential() {
    let h = Harness::standard();
    let challenge = h.challenge(get("/paid")).await;
    let value = pay(&challenge);
    let answer = h.send(get_paid("/free", &value)).await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.assert_no_receipt();
    let seen = &h.inner.seen()[0];
    assert!(seen.payment.is_none());
    assert_eq!(seen.headers.get("authorization").unwrap(), value.as_str());
    // Nothing was claimed: the credential still pays the route it was issued for.
    h.send(get_paid("/paid", &value)).await.assert_paid();
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn other_http_method_on_a_paid_path_is_free() {
    // A route is its method and exact path.
    let h = Harness::standard();
    let answer = h.send(request(Method::POST, "/paid", &[], "{}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(h.calls(), 1);
    let answer = h.send(get("/paid/")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn axum_paths_near_a_paid_route_do_not_reach_its_handler_unpaid() {
    // req: core.idempotency.no-unpaid-side-effects
    // The paywall matches the exact path; axum must not route any other spelling
    // of it to the paid handler.
    use std::sync::atomic::AtomicUsize;
    use tower::ServiceExt;

    let clock = test_clock();
    let layer = builder(&clock)
        .route(paid(Method::GET, "/paid"))
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let handler_runs = runs.clone();
    let app = axum::Router::new()
        .route(
            "/paid",
            axum::routing::get(move || {
                handler_runs.fetch_add(1, Ordering::SeqCst);
                async { "paid content" }
            }),
        )
        .layer(layer);
    for uri in [
        "/paid",
        "/paid?x=1",
        "http://api.example.com/paid",
        "/pai%64",
        "/paid/",
        "//paid",
        "/./paid",
        "/a/../paid",
    ] {
        let response = app
            .clone()
            .oneshot(
                http::Request::get(uri)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(
            matches!(response.status().as_u16(), 402 | 404),
            "{uri}: {}",
            response.status()
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]

async fn head_on_a_paid_get_route_does_not_run_the_handler_unpaid() {
    // req: core.idempotency.no-unpaid-side-effects
    use std::sync::atomic::AtomicUsize;
    use tower::ServiceExt;

    let clock = test_clock();
    let layer = builder(&clock)
        .route(paid(Method::GET, "/paid"))
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let handler_runs = runs.clone();
    // As the crate's own example does: an axum GET route behind the paywall.
    let app = axum::Router::new()
        .route(
            "/paid",
            axum::routing::get(move || {
                handler_runs.fetch_add(1, Ordering::SeqCst);
                async { "paid content" }
            }),
        )
        .layer(layer);
    let response = app
        .oneshot(
            http::Request::head("/paid")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "the handler ran for an unpaid HEAD"
    );
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
}

#[tokio::test]
async fn a_route_may_have_its_own_realm() {
    // req: core.challenge.realm.present
    let clock = test_clock();
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid").realm("premium.example"))
            .route(paid(Method::GET, "/other"))
            .build()
            .unwrap(),
        &clock,
    );
    let challenge = h.challenge(get("/paid")).await;
    assert_eq!(challenge.realm, "premium.example");
    assert_ne!(h.challenge(get("/other")).await.realm, "premium.example");
    h.send(get_paid("/paid", &pay(&challenge)))
        .await
        .assert_paid();
    assert_eq!(h.calls(), 1);
}
