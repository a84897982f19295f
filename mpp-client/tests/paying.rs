//! `PayingClient` against real HTTP servers on loopback: the paywall of mpp-server
//! (the reference configuration) and hand-written servers that misbehave on purpose.

mod paying_support;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method, StatusCode};
use mpp_client::{
    ClientOptions, PaidRequest, PayingClient, PayingError, PaymentKind, PaymentMade, origin_of,
};
use mpp_core::client::{Declined, Origin, PolicyError, Skipped, SpendingPolicy};
use mpp_core::credential::Credential;
use mpp_core::problem::ProblemType;
use mpp_core::time::UnixTime;
use mpp_methods::preimage::hash_hex;
use paying_support::*;
use reqwest::Url;

/// The refusal inside a `PayingError::Declined`, or a panic naming what came instead.
fn refusal<T: fmt::Debug>(result: Result<T, PayingError>) -> Declined {
    match result {
        Err(PayingError::Declined(r)) => r,
        other => panic!("expected PayingError::Declined, got {other:?}"),
    }
}

/// The one payment made for a request, or a panic naming what was made instead.
fn only(payments: &[PaymentMade]) -> &PaymentMade {
    match payments {
        [payment] => payment,
        other => panic!("expected one payment, got {other:?}"),
    }
}

/// The reasons of a refusal, in the order the challenges were seen.
fn reasons(refusal: &Declined) -> Vec<Skipped> {
    refusal.passed.iter().map(|p| p.reason.clone()).collect()
}

/// The `request` parameter of a challenge header, as written.
fn request_param(challenge: &str) -> String {
    mpp_core::challenge::Challenge::parse(challenge.as_bytes())
        .unwrap()
        .request
        .as_str()
        .to_owned()
}

fn post(url: &str, body: &'static [u8]) -> PaidRequest {
    PaidRequest::new(Method::POST, Url::parse(url).unwrap()).body(body)
}

// ---------------------------------------------------------------------------------
// 1. End to end against the reference configuration
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn paid_get_returns_the_handler_body_its_receipt_and_what_was_paid() {
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(policy());

    let response = client.get(&app.url("/paid")).await.unwrap();

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(&response.body[..], b"paid content");
    let receipt = response.receipt.as_ref().expect("a parsed Payment-Receipt");
    assert_eq!(receipt.method.as_str(), "preimage");
    assert_eq!(receipt.reference, hash_hex(PREIMAGE), "the payment hash");
    let payment = only(&response.payments);
    assert_eq!(payment.kind, PaymentKind::Charge);
    assert_eq!((payment.amount, payment.cost), (PRICE, PRICE));
    assert_eq!(payment.currency, CURRENCY);
    assert_eq!(payment.origin, app.origin());
    assert_eq!(payment.challenge.method.as_str(), "preimage");
    assert_eq!(response.url.as_str(), app.url("/paid"));
    assert_eq!(spent(&client).await, [(CURRENCY.to_string(), PRICE)]);
    assert_eq!(counts.paid_runs.get(), 1);
    assert_eq!(
        counts.requests.get(),
        2,
        "the unpaid request, then the paid one"
    );
}

#[tokio::test]
async fn free_route_is_fetched_without_paying() {
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(policy());

    let response = client.get(&app.url("/free")).await.unwrap();

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(&response.body[..], b"free");
    assert!(response.payments.is_empty());
    assert!(response.receipt.is_none());
    assert_eq!(spent_usd(&client).await, 0);
    assert_eq!(counts.requests.get(), 1);
}

#[tokio::test]
async fn post_body_is_resent_intact_and_its_digest_binding_verifies() {
    // req: core.digest.client-same-body
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(policy());
    // Bytes that are not UTF-8, a CR LF and a NUL: anything re-encoded would differ.
    let body: &'static [u8] = b"{\"order\":42}\r\n\x00\xff\xfe binary tail";

    let response = client
        .send(post(&app.url("/paid-post"), body))
        .await
        .unwrap();

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        &response.body[..],
        body,
        "the handler echoes what it received"
    );
    let payment = only(&response.payments);
    let digest = payment
        .challenge
        .digest
        .as_ref()
        .expect("the challenge paid binds the body");
    assert!(digest.matches(body));
    assert_eq!(
        response.receipt.as_ref().unwrap().method.as_str(),
        "preimage"
    );
    assert_eq!(counts.paid_runs.get(), 1);
    assert_eq!(spent_usd(&client).await, PRICE);
}

#[tokio::test]
async fn accept_payment_announces_the_wallet_methods_and_a_callers_value_wins() {
    let (server, log) = scripted(|_, _| ok("hello")).await;
    let client = client(policy());

    client.get(&server.url("/a")).await.unwrap();
    let own = PaidRequest::new(Method::GET, Url::parse(&server.url("/b")).unwrap()).header(
        "accept-payment".parse().unwrap(),
        HeaderValue::from_static("*/*"),
    );
    client.send(own).await.unwrap();

    let all = log.all();
    let announced = all[0].headers.get("accept-payment").unwrap();
    assert!(
        announced.to_str().unwrap().contains("preimage/charge"),
        "{announced:?}"
    );
    let values: Vec<_> = all[1].headers.get_all("accept-payment").iter().collect();
    assert_eq!(values, [HeaderValue::from_static("*/*")]);
}

// ---------------------------------------------------------------------------------
// 2. Policy refusals
// ---------------------------------------------------------------------------------

/// Asserts a refusal by the paywalled app's `/paid`: the only challenge was passed
/// over for `expected`, nothing was spent and no paid handler ran.
async fn assert_paywall_refuses(policy: SpendingPolicy, expected: PolicyError) {
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(policy);

    let refusal = refusal(client.get(&app.url("/paid")).await);

    assert_eq!(reasons(&refusal), [Skipped::Policy(expected)]);
    assert!(refusal.by_policy());
    assert_eq!(refusal.passed[0].offer, "preimage/charge");
    assert_eq!(spent_usd(&client).await, 0);
    assert_eq!(counts.paid_runs.get(), 0, "the handler never ran");
    assert_eq!(counts.requests.get(), 1, "no credential was sent");
}

#[tokio::test]
async fn amount_over_the_per_request_cap_is_refused() {
    let policy = SpendingPolicy {
        max_per_request: vec![(CURRENCY.into(), PRICE - 1)],
        ..SpendingPolicy::default()
    };
    assert_paywall_refuses(
        policy,
        PolicyError::OverRequestCap {
            amount: PRICE,
            cap: PRICE - 1,
        },
    )
    .await;
}

#[tokio::test]
async fn currency_without_a_cap_is_refused() {
    let policy = SpendingPolicy {
        max_per_request: vec![("eur".into(), 1_000_000)],
        ..SpendingPolicy::default()
    };
    assert_paywall_refuses(policy, PolicyError::CurrencyNotAllowed(CURRENCY.into())).await;
}

#[tokio::test]
async fn recipient_outside_the_allowed_list_is_refused() {
    let policy = SpendingPolicy {
        allowed_recipients: vec!["acct_someone_else".into()],
        ..policy()
    };
    assert_paywall_refuses(policy, PolicyError::RecipientNotAllowed).await;
}

#[tokio::test]
async fn recipient_in_the_allowed_list_is_paid() {
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(SpendingPolicy {
        allowed_recipients: vec!["acct_someone_else".into(), RECIPIENT.into()],
        ..policy()
    });
    let response = client.get(&app.url("/paid")).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(counts.paid_runs.get(), 1);
}

#[tokio::test]
async fn a_budget_for_exactly_three_payments_refuses_the_fourth() {
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(SpendingPolicy {
        budget: vec![(CURRENCY.into(), 3 * PRICE)],
        ..policy()
    });

    for i in 0..3 {
        let response = client.get(&app.url("/paid")).await.unwrap();
        assert_eq!(response.status, StatusCode::OK, "payment {i}");
    }
    let refusal = refusal(client.get(&app.url("/paid")).await);

    assert_eq!(
        reasons(&refusal),
        [Skipped::Policy(PolicyError::OverBudget {
            amount: PRICE,
            left: 0
        })]
    );
    assert_eq!(spent_usd(&client).await, 3 * PRICE);
    assert_eq!(counts.paid_runs.get(), 3);
    assert_eq!(counts.requests.get(), 3 * 2 + 1);
}

/// A hand-written server that answers every request with a 402 carrying `lines`.
async fn always_402(lines: Vec<String>) -> (Server, Log) {
    scripted(move |_, _| payment_required(&lines, None)).await
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let expired = challenge(&Terms {
        expires_in: Some(-60),
        ..Terms::default()
    });
    let (server, log) = always_402(vec![expired]).await;
    let client = client(policy());

    let refusal = refusal(client.get(&server.url("/paid")).await);

    assert_eq!(reasons(&refusal), [Skipped::Expired]);
    assert_eq!(log.len(), 1, "no paid retry");
    assert_eq!(log.with_credential(), 0);
    assert_eq!(spent_usd(&client).await, 0);
}

#[tokio::test]
async fn a_challenge_without_expires_is_refused() {
    let no_expiry = challenge(&Terms {
        expires_in: None,
        ..Terms::default()
    });
    assert!(!no_expiry.contains("expires="), "{no_expiry}");
    let (server, log) = always_402(vec![no_expiry]).await;
    let client = client(policy());

    let refusal = refusal(client.get(&server.url("/paid")).await);

    assert_eq!(reasons(&refusal), [Skipped::Expired]);
    assert_eq!(log.len(), 1);
    assert_eq!(log.with_credential(), 0);
    assert_eq!(spent_usd(&client).await, 0);
}

/// `http://0.0.0.0:PORT` reaches the loopback listener on Linux (a connection to the
/// unspecified address goes to the local host), but its origin is not a loopback
/// name: the client must treat it as a plain-HTTP origin anyone could observe.
#[cfg(unix)]
#[tokio::test]
async fn plain_http_to_a_non_loopback_origin_is_refused_end_to_end() {
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let url = format!("http://0.0.0.0:{}/paid", app.port());
    let client = client(policy());

    let refusal = refusal(client.get(&url).await);

    assert_eq!(
        reasons(&refusal),
        [Skipped::Policy(PolicyError::InsecureOrigin)]
    );
    assert_eq!(
        counts.requests.get(),
        1,
        "the 402 came from the real server"
    );
    assert_eq!(counts.paid_runs.get(), 0);
    assert_eq!(spent_usd(&client).await, 0);

    // The same server under its loopback name is paid: the origin made the difference.
    let response = client.get(&app.url("/paid")).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn plain_http_to_a_named_remote_origin_is_refused_and_https_is_not() {
    let lines = [valid_challenge()];
    let mut wallet = wallet(policy());
    let http = origin_of(&Url::parse("http://pay.example/paid").unwrap());
    assert_eq!(http, Origin::new("http", "pay.example", 80));
    let now = UnixTime::from_secs(now_secs());

    let refused = wallet.choose(&lines, &http, now).unwrap_err();
    assert_eq!(
        reasons(&refused),
        [Skipped::Policy(PolicyError::InsecureOrigin)]
    );
    assert_eq!(wallet.spent(), []);

    let https = origin_of(&Url::parse("https://pay.example/paid").unwrap());
    assert_eq!(https, Origin::new("https", "pay.example", 443));
    let chosen = wallet.choose(&lines, &https, now).unwrap();
    assert_eq!(chosen.amount, PRICE);
}

/// The policy allows it, but the method cannot pay (the payment hash is not the
/// wallet's preimage's): nothing is sent and the reservation is handed back.
#[tokio::test]
async fn a_challenge_the_method_cannot_pay_spends_nothing() {
    let terms = Terms::default();
    let foreign = mpp_methods::preimage::Preimage::request(
        &terms.amount,
        &terms.currency,
        &terms.recipient,
        "somebody-elses-preimage",
    );
    let (server, log) = always_402(vec![challenge_with_request(&terms, &foreign)]).await;
    let client = client(SpendingPolicy {
        budget: vec![(CURRENCY.into(), PRICE)],
        ..policy()
    });

    let result = client.get(&server.url("/paid")).await;

    assert!(matches!(result, Err(PayingError::Method(_))), "{result:?}");
    assert_eq!(log.len(), 1);
    assert_eq!(spent_usd(&client).await, 0, "the reservation was released");
}

// ---------------------------------------------------------------------------------
// 3. A 402 after paying
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_402_after_paying_is_rejected_with_its_problem_and_paid_once() {
    let (server, log) = scripted(|_, _| {
        payment_required(
            &[valid_challenge()],
            Some(&problem(
                ProblemType::VerificationFailed,
                "this server never accepts anything",
            )),
        )
    })
    .await;
    let client = client(policy());

    let result = client.get(&server.url("/paid")).await;

    let Err(PayingError::Rejected {
        status,
        problem,
        payments,
    }) = result
    else {
        panic!("expected Rejected, got {result:?}");
    };
    let payment = only(&payments);
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let problem = problem.expect("the problem details");
    assert_eq!(
        problem.problem_type(),
        Some(ProblemType::VerificationFailed)
    );
    assert_eq!(
        problem.detail.as_deref(),
        Some("this server never accepts anything")
    );
    assert_eq!(payment.amount, PRICE);
    assert_eq!(payment.origin, server.origin());
    assert_eq!(spent_usd(&client).await, PRICE, "exactly one payment");
    assert_eq!(log.len(), 2, "the request and one paid retry, no loop");
    assert_eq!(log.with_credential(), 1);
}

// ---------------------------------------------------------------------------------
// 4. Malformed challenges next to a valid one
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_challenges_are_skipped_and_the_valid_one_is_paid() {
    let valid = valid_challenge();
    let bad_base64 = r#"Payment id="bad64", realm="r", method="preimage", intent="charge", request="not-valid!!!", expires="2999-01-01T00:00:00Z""#.to_string();
    let unterminated =
        r#"Payment id="open", realm="r", method="preimage", intent="charge", request="e30"#
            .to_string();
    let unknown_method = valid.replace(r#"method="preimage""#, r#"method="lightning""#);
    assert_ne!(unknown_method, valid);
    // Separate lines (an open quote swallows the rest of its own line only), and the
    // valid one last so every malformed one is looked at first.
    let lines = vec![bad_base64, unterminated, unknown_method, valid.clone()];
    let (server, log) = scripted(move |r, _| {
        if r.has_payment_credential() {
            ok("paid")
        } else {
            payment_required(&lines, None)
        }
    })
    .await;
    let client = client(policy());

    let response = client.get(&server.url("/paid")).await.unwrap();

    assert_eq!(&response.body[..], b"paid");
    let paid = only(&response.payments);
    let id = mpp_core::challenge::Challenge::parse(valid.as_bytes())
        .unwrap()
        .id
        .to_string();
    assert_eq!(
        paid.challenge.id.as_str(),
        id,
        "the valid challenge was paid"
    );
    // The credential that reached the server answers that challenge.
    let sent = log.all()[1].headers.get(AUTHORIZATION).unwrap().clone();
    let credential = Credential::parse(sent.as_bytes()).unwrap();
    assert_eq!(credential.challenge.id.as_str(), id);
    assert_eq!(spent_usd(&client).await, PRICE);
}

#[tokio::test]
async fn malformed_challenges_on_one_line_with_a_valid_one_still_pay_the_valid_one() {
    let valid = valid_challenge();
    let bad_base64 = r#"Payment id="bad64", realm="r", method="preimage", intent="charge", request="not-valid!!!", expires="2999-01-01T00:00:00Z""#;
    let unknown_method = valid.replace(r#"method="preimage""#, r#"method="lightning""#);
    let line = format!(r#"Bearer realm="x", {bad_base64}, {unknown_method}, {valid}"#);
    let (server, log) = scripted(move |r, _| {
        if r.has_payment_credential() {
            ok("paid")
        } else {
            payment_required(std::slice::from_ref(&line), None)
        }
    })
    .await;
    let client = client(policy());

    let response = client.get(&server.url("/paid")).await.unwrap();

    assert_eq!(&response.body[..], b"paid");
    assert_eq!(log.with_credential(), 1);
}

// ---------------------------------------------------------------------------------
// 5. Redirects
// ---------------------------------------------------------------------------------

/// Server A: 402 without a credential; with one, a `status` redirect to `location`.
async fn pay_then_redirect(status: StatusCode, location: String) -> (Server, Log) {
    scripted(move |r, _| {
        if r.has_payment_credential() {
            redirect(status, &location)
        } else {
            payment_required(&[valid_challenge()], None)
        }
    })
    .await
}

#[tokio::test]
async fn paid_retry_redirected_to_another_origin_carries_no_credential_there() {
    for status in [StatusCode::FOUND, StatusCode::TEMPORARY_REDIRECT] {
        let (b, b_log) = scripted(|_, _| ok("content at B")).await;
        let (a, a_log) = pay_then_redirect(status, b.url("/landing")).await;
        let client = client(policy());

        let response = client.get(&a.url("/paid")).await.unwrap();

        assert_eq!(&response.body[..], b"content at B", "{status}");
        assert_eq!(response.url.as_str(), b.url("/landing"));
        assert_eq!(a_log.with_credential(), 1, "paid at A");
        let at_b = b_log.all();
        assert_eq!(at_b.len(), 1);
        assert!(
            !at_b[0].headers.contains_key("authorization")
                && !at_b[0].headers.contains_key("payment-authorization"),
            "{status}: B received {:?}",
            at_b[0].headers
        );
        assert_eq!(spent_usd(&client).await, PRICE);
    }
}

#[tokio::test]
async fn paid_retry_redirected_within_the_origin_keeps_the_credential() {
    let landing_log: Arc<Mutex<Option<HeaderValue>>> = Arc::default();
    let seen = landing_log.clone();
    let (a, log) = scripted(move |r, _| {
        if r.path == "/landing" {
            *seen.lock().unwrap() = r.headers.get(AUTHORIZATION).cloned();
            ok("landed")
        } else if r.has_payment_credential() {
            redirect(StatusCode::TEMPORARY_REDIRECT, "/landing")
        } else {
            payment_required(&[valid_challenge()], None)
        }
    })
    .await;
    let client = client(policy());

    let response = client.get(&a.url("/paid")).await.unwrap();

    assert_eq!(&response.body[..], b"landed");
    let credential = landing_log.lock().unwrap().clone().expect("a credential");
    assert_eq!(
        credential.to_str().unwrap(),
        only(&response.payments).credential
    );
    assert_eq!(log.len(), 3);
    assert_eq!(spent_usd(&client).await, PRICE);
}

#[tokio::test]
async fn a_402_from_another_origin_after_the_paid_retry_is_not_paid_again() {
    let (b, b_log) = always_402(vec![valid_challenge()]).await;
    let (a, a_log) = pay_then_redirect(StatusCode::TEMPORARY_REDIRECT, b.url("/paid")).await;
    let client = client(policy());

    let result = client.get(&a.url("/paid")).await;

    assert!(
        matches!(&result, Err(PayingError::Rejected { status, .. }) if *status == StatusCode::PAYMENT_REQUIRED),
        "{result:?}"
    );
    assert_eq!(spent_usd(&client).await, PRICE, "one payment, at A");
    assert_eq!(a_log.len(), 2);
    assert_eq!(b_log.len(), 1, "B was asked once and never paid");
    assert_eq!(b_log.with_credential(), 0);
}

/// Peer lesson §2.9 (83): every peer SDK refuses to pay a 402 that a redirect to
/// another origin led to; the origin the caller asked for is the one it trusts.
#[tokio::test]
async fn a_402_reached_through_a_cross_origin_redirect_is_not_paid() {
    let (b, b_log) = scripted(|r, _| {
        if r.has_payment_credential() {
            ok("paid at B")
        } else {
            payment_required(&[valid_challenge()], None)
        }
    })
    .await;
    let target = b.url("/paid");
    let (a, _) = scripted(move |_, _| redirect(StatusCode::TEMPORARY_REDIRECT, &target)).await;
    let client = client(policy());

    let result = client.get(&a.url("/start")).await;

    assert!(
        matches!(result, Err(PayingError::Redirect(_))),
        "{result:?}"
    );
    assert_eq!(b_log.with_credential(), 0, "B got no credential");
    assert_eq!(spent_usd(&client).await, 0);
}

#[tokio::test]
async fn a_402_reached_through_a_same_origin_redirect_is_paid_there() {
    let (a, log) = scripted(|r, _| match (r.path.as_str(), r.has_payment_credential()) {
        ("/start", _) => redirect(StatusCode::FOUND, "/paid"),
        (_, false) => payment_required(&[valid_challenge()], None),
        (_, true) => ok("paid"),
    })
    .await;
    let client = client(policy());

    let response = client.get(&a.url("/start")).await.unwrap();

    assert_eq!(&response.body[..], b"paid");
    let paths: Vec<_> = log.all().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/start", "/paid", "/paid"],
        "retried where the 402 was"
    );
    assert_eq!(spent_usd(&client).await, PRICE);
}

/// The client follows redirects itself; it must strip what reqwest's own policy
/// would have stripped on a cross-origin hop: the caller's `Authorization` (and
/// cookies) are for the origin it asked.
#[tokio::test]
async fn callers_authorization_is_not_forwarded_to_another_origin() {
    let (b, b_log) = scripted(|_, _| ok("at B")).await;
    let target = b.url("/elsewhere");
    let (a, a_log) = scripted(move |_, _| redirect(StatusCode::FOUND, &target)).await;
    let client = client(policy());
    let request = PaidRequest::new(Method::GET, Url::parse(&a.url("/x")).unwrap())
        .header(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer secret-token"),
        )
        .header(
            axum::http::header::COOKIE,
            HeaderValue::from_static("session=secret"),
        )
        .header(
            "x-custom".parse().unwrap(),
            HeaderValue::from_static("kept"),
        );

    let response = client.send(request).await.unwrap();

    assert_eq!(&response.body[..], b"at B");
    let at_a = &a_log.all()[0];
    assert!(
        at_a.headers.contains_key(AUTHORIZATION),
        "A is the caller's origin"
    );
    let at_b = &b_log.all()[0];
    assert!(
        !at_b.headers.contains_key(AUTHORIZATION),
        "B received {:?}",
        at_b.headers
    );
    assert!(!at_b.headers.contains_key(axum::http::header::COOKIE));
    assert_eq!(at_b.headers.get("x-custom").unwrap(), "kept");
}

/// A POST answered `303 See Other` becomes a GET without a body; a 402 on that GET
/// is paid by resending that GET, not the original POST.
#[tokio::test]
async fn a_402_reached_through_a_303_is_paid_by_resending_the_get() {
    let counts = AppCounts::default();
    let front = axum::Router::new()
        .route(
            "/submit",
            axum::routing::post(|| async { redirect(StatusCode::SEE_OTHER, "/paid") }),
        )
        .merge(paywalled_app(&counts));
    let server = serve(front).await;
    let client = client(policy());

    let response = client
        .send(post(&server.url("/submit"), b"form=1"))
        .await
        .unwrap();

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(&response.body[..], b"paid content");
    assert_eq!(response.url.as_str(), server.url("/paid"));
    assert_eq!(counts.paid_runs.get(), 1);
}

// ---------------------------------------------------------------------------------
// 6. 5xx after paying
// ---------------------------------------------------------------------------------

/// A server that answers 402 to a request without a credential, `failure` (a status
/// and its `Retry-After`, if any) to the first `failures` requests carrying one, and
/// 200 `paid` to the rest.
async fn failing_after_paying(
    failure: StatusCode,
    retry_after: Option<&'static str>,
    failures: usize,
) -> (Server, Log) {
    let answered = Counter::default();
    scripted(move |r, _| {
        if !r.has_payment_credential() {
            return payment_required(&[valid_challenge()], None);
        }
        answered.bump();
        if answered.get() > failures {
            return ok("paid");
        }
        let mut response = axum::response::IntoResponse::into_response((failure, "try again"));
        if let Some(value) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static(value));
        }
        response
    })
    .await
}

#[tokio::test]
async fn a_server_error_after_paying_is_an_unknown_outcome_and_not_retried() {
    // Not retried: a status that does not say a retry can succeed, no `Retry-After`,
    // one too far off, or a date (only a short delay in seconds is waited for).
    for (failure, retry_after) in [
        (StatusCode::INTERNAL_SERVER_ERROR, None),
        (StatusCode::BAD_GATEWAY, Some("0")),
        (StatusCode::GATEWAY_TIMEOUT, Some("1")),
        (StatusCode::SERVICE_UNAVAILABLE, Some("6")),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
        ),
    ] {
        let (server, log) = failing_after_paying(failure, retry_after, 1).await;
        let client = client(policy());

        let result = client.get(&server.url("/paid")).await;

        let Err(PayingError::UnknownOutcome {
            status, payments, ..
        }) = result
        else {
            panic!("{failure}: expected UnknownOutcome, got {result:?}");
        };
        assert_eq!(status, Some(failure));
        assert_eq!(only(&payments).amount, PRICE);
        assert_eq!(log.len(), 2, "{failure} {retry_after:?}: not retried");
        assert_eq!(spent_usd(&client).await, PRICE, "counted as spent");
    }
}

#[tokio::test]
async fn a_500_or_503_asking_to_retry_within_five_seconds_gets_the_same_credential_once_more() {
    for failure in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
    ] {
        let (server, log) = failing_after_paying(failure, Some("1"), 1).await;
        let client = client(policy());

        let started = Instant::now();
        let response = client.get(&server.url("/paid")).await.unwrap();

        assert_eq!(response.status, StatusCode::OK, "{failure}");
        assert_eq!(&response.body[..], b"paid");
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "after the delay"
        );
        let all = log.all();
        assert_eq!(all.len(), 3, "{failure}: the request, the credential twice");
        assert_eq!(
            all[1].headers.get(AUTHORIZATION),
            all[2].headers.get(AUTHORIZATION),
            "{failure}: the very same credential"
        );
        let paid = only(&response.payments);
        assert_eq!(
            all[2].headers[AUTHORIZATION].to_str().unwrap(),
            paid.credential
        );
        assert_eq!(spent_usd(&client).await, PRICE, "{failure}: paid once");
    }

    // Once only: a second failure is an unknown outcome.
    let (server, log) = failing_after_paying(StatusCode::SERVICE_UNAVAILABLE, Some("0"), 2).await;
    let client = client(policy());
    let result = client.get(&server.url("/paid")).await;
    assert!(
        matches!(
            result,
            Err(PayingError::UnknownOutcome {
                status: Some(StatusCode::SERVICE_UNAVAILABLE),
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(log.len(), 3, "retried once");
    assert_eq!(spent_usd(&client).await, PRICE);
}

/// A paid retry that times out is not retried either, and the amount stays spent:
/// an unknown outcome without a status, carrying what was paid.
#[tokio::test]
async fn a_paid_retry_that_times_out_is_not_retried_and_stays_spent() {
    let log = Log::default();
    let seen = log.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let seen = seen.clone();
        async move {
            let recorded = Recorded {
                method: request.method().clone(),
                path: request.uri().path().to_owned(),
                headers: request.headers().clone(),
                body: Default::default(),
            };
            let paid = recorded.has_payment_credential();
            seen.push(recorded);
            if paid {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            payment_required(&[valid_challenge()], None)
        }
    });
    let server = serve(app).await;
    let client = client_with(
        policy(),
        ClientOptions {
            timeout: Duration::from_millis(500),
            ..ClientOptions::default()
        },
    );

    let result = client.get(&server.url("/paid")).await;

    let Err(PayingError::UnknownOutcome {
        status: None,
        detail,
        payments,
    }) = result
    else {
        panic!("expected UnknownOutcome without a status, got {result:?}");
    };
    let payment = only(&payments);
    assert!(
        detail.contains("timed out") || detail.contains("timeout"),
        "{detail}"
    );
    assert_eq!(payment.amount, PRICE);
    assert_eq!(log.len(), 2, "not retried");
    assert_eq!(log.with_credential(), 1);
    assert_eq!(spent_usd(&client).await, PRICE);
}

// ---------------------------------------------------------------------------------
// 7. Hostile servers
// ---------------------------------------------------------------------------------

/// Well under the time a human would notice, even in a debug build.
const QUICK: Duration = Duration::from_millis(1500);

/// Runs `client.get(url)` and returns the refusal and how long it took.
async fn timed_refusal(client: &PayingClient, url: &str) -> (Declined, Duration) {
    let start = Instant::now();
    let result = client.get(url).await;
    (refusal(result), start.elapsed())
}

#[tokio::test]
async fn thousands_of_challenges_are_refused_quickly_and_never_paid() {
    // 3000 challenges: 2500 for an unknown method, 500 valid but above the cap, on
    // 30 field lines of 100 (each line under the parser's 64 KiB cap).
    let over_cap = challenge(&Terms {
        amount: "1001".into(),
        ..Terms::default()
    });
    let unknown = r#"Payment id="u", realm="r", method="nope", intent="charge", request="e30""#;
    let mut lines = Vec::new();
    for l in 0..30 {
        let one = if l < 25 { unknown } else { over_cap.as_str() };
        lines.push(vec![one; 100].join(", "));
    }
    let (server, log) = always_402(lines).await;
    let client = client(policy());

    let (refusal, elapsed) = timed_refusal(&client, &server.url("/paid")).await;

    assert_eq!(refusal.passed.len(), 3000);
    assert!(refusal.by_policy());
    assert!(elapsed < QUICK, "took {elapsed:?}");
    assert_eq!(log.len(), 1);
    assert_eq!(spent_usd(&client).await, 0);
}

#[tokio::test]
async fn a_402_too_large_for_the_http_stack_is_never_paid() {
    // 500 field lines: more than the HTTP client reads; a payable challenge last.
    let mut lines = vec![
            r#"Payment id="u", realm="r", method="nope", intent="charge", request="e30""#
                .to_string();
            500
        ];
    lines.push(valid_challenge());
    let (server, log) = always_402(lines).await;
    let client = client(policy());

    let start = Instant::now();
    let result = client.get(&server.url("/paid")).await;

    assert!(matches!(result, Err(PayingError::Network(_))), "{result:?}");
    assert!(start.elapsed() < QUICK);
    assert_eq!(log.with_credential(), 0);
    assert_eq!(spent_usd(&client).await, 0);
}

#[tokio::test]
async fn a_60_kib_challenge_is_refused_quickly_and_never_paid() {
    // Payable terms padded to 60 KiB: the decoded `request` is over the 16 KiB cap.
    // (The formatter refuses to write a challenge over 8 KiB, so it is spliced in.)
    let valid = valid_challenge();
    let mut request = request_of(&Terms::default());
    request.insert("padding".into(), "x".repeat(45 * 1024).into());
    let huge = valid.replace(
        request_param(&valid).as_str(),
        mpp_core::value::Base64Json::encode(&request).as_str(),
    );
    assert!(huge.len() >= 60 * 1024, "{}", huge.len());
    let (server, log) = always_402(vec![huge]).await;
    let client = client(policy());

    let (refusal, elapsed) = timed_refusal(&client, &server.url("/paid")).await;

    assert!(
        matches!(reasons(&refusal)[..], [Skipped::Malformed(_)]),
        "{refusal:?}"
    );
    assert!(elapsed < QUICK, "took {elapsed:?}");
    assert_eq!(log.len(), 1);
    assert_eq!(spent_usd(&client).await, 0);
}

#[tokio::test]
async fn unpayable_single_challenges_are_refused_quickly_and_never_paid() {
    let valid = valid_challenge();
    let request = request_param(&valid);
    type Expected = fn(&Skipped) -> bool;
    let cases: Vec<(&str, String, Expected)> = vec![
        (
            "invalid base64 in request",
            valid.replace(&request, "not-valid!!!"),
            |s| matches!(s, Skipped::Malformed(_)),
        ),
        (
            "a price above the policy",
            challenge(&Terms {
                amount: "1000000000000".into(),
                ..Terms::default()
            }),
            |s| matches!(s, Skipped::Policy(PolicyError::OverRequestCap { .. })),
        ),
        (
            "no expires",
            challenge(&Terms {
                expires_in: None,
                ..Terms::default()
            }),
            |s| *s == Skipped::Expired,
        ),
        (
            "an amount that is not a number",
            challenge(&Terms {
                amount: "1e3".into(),
                ..Terms::default()
            }),
            |s| matches!(s, Skipped::UnreadableTerms(_)),
        ),
    ];
    for (name, line, expected) in cases {
        let (server, log) = always_402(vec![line]).await;
        let client = client(policy());

        let (refusal, elapsed) = timed_refusal(&client, &server.url("/paid")).await;

        assert_eq!(refusal.passed.len(), 1, "{name}");
        assert!(expected(&refusal.passed[0].reason), "{name}: {refusal:?}");
        assert!(elapsed < QUICK, "{name}: took {elapsed:?}");
        assert_eq!(log.len(), 1, "{name}");
        assert_eq!(spent_usd(&client).await, 0, "{name}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_network_error_after_the_timeout() {
    let server = silent().await;
    let timeout = Duration::from_millis(500);
    let client = client_with(
        policy(),
        ClientOptions {
            timeout,
            ..ClientOptions::default()
        },
    );

    let start = Instant::now();
    let result = client.get(&server.url("/paid")).await;
    let elapsed = start.elapsed();

    assert!(matches!(result, Err(PayingError::Network(_))), "{result:?}");
    assert!(elapsed >= timeout, "gave up after {elapsed:?}");
    assert!(elapsed < timeout * 4, "took {elapsed:?}");
    assert_eq!(spent_usd(&client).await, 0);
}

// ---------------------------------------------------------------------------------
// 8. Concurrency
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_with_a_budget_for_twenty_pay_exactly_twenty() {
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(SpendingPolicy {
        budget: vec![(CURRENCY.into(), 20 * PRICE)],
        ..policy()
    });
    let url = app.url("/paid");

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move { client.get(&url).await })
        })
        .collect();
    let mut paid = 0;
    let mut over_budget = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) if r.status == StatusCode::OK && r.receipt.is_some() => paid += 1,
            Err(PayingError::Declined(r))
                if matches!(
                    reasons(&r)[..],
                    [Skipped::Policy(PolicyError::OverBudget { .. })]
                ) =>
            {
                over_budget += 1
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    assert_eq!((paid, over_budget), (20, 30));
    assert_eq!(counts.paid_runs.get(), 20);
    assert_eq!(spent_usd(&client).await, 20 * PRICE);
    assert_eq!(counts.requests.get(), 50 + 20);
}

// ---------------------------------------------------------------------------------
// 9. Payment-Authorization
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn payment_authorization_route_gets_the_credential_there_and_the_bearer_reaches_the_handler()
{
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    let client = client(policy());
    let request = PaidRequest::new(Method::GET, Url::parse(&app.url("/paid-pa")).unwrap())
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer x"));

    let response = client.send(request).await.unwrap();

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        &response.body[..],
        b"Bearer x",
        "the handler saw the Bearer"
    );
    assert!(response.receipt.is_some());
    let payment = only(&response.payments);
    assert_eq!(
        payment.challenge.credential_field,
        mpp_core::credential::CredentialField::PaymentAuthorization
    );
    assert_eq!(counts.paid_runs.get(), 1);
}

#[tokio::test]
async fn payment_authorization_challenge_is_answered_in_that_field_only() {
    // req: core.credential.one-per-request core.credential.field.payment-authorization
    let pa = challenge(&Terms {
        payment_authorization: true,
        ..Terms::default()
    });
    let (server, log) = scripted(move |r, _| {
        if r.has_payment_credential() {
            ok("paid")
        } else {
            payment_required(std::slice::from_ref(&pa), None)
        }
    })
    .await;
    let client = client(policy());
    let request = PaidRequest::new(Method::GET, Url::parse(&server.url("/x")).unwrap())
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer x"));

    client.send(request).await.unwrap();

    let retry = &log.all()[1];
    let auth: Vec<_> = retry.headers.get_all(AUTHORIZATION).iter().collect();
    assert_eq!(auth, [HeaderValue::from_static("Bearer x")]);
    let pa: Vec<_> = retry
        .headers
        .get_all("payment-authorization")
        .iter()
        .collect();
    assert_eq!(pa.len(), 1, "exactly one Payment credential in the retry");
    let credential = Credential::parse(pa[0].as_bytes()).unwrap();
    assert_eq!(
        credential.challenge.credential_field,
        mpp_core::credential::CredentialField::PaymentAuthorization
    );
}

#[tokio::test]
async fn an_authorization_challenge_replaces_the_callers_own_authorization() {
    // req: core.credential.field.authorization
    // One `Authorization` per request: the challenge selected it for the credential,
    // so the caller's Bearer gives way on the paid retry (and only there).
    let (server, log) = scripted(move |r, _| {
        if r.has_payment_credential() {
            ok("paid")
        } else {
            payment_required(&[valid_challenge()], None)
        }
    })
    .await;
    let client = client(policy());
    let request = PaidRequest::new(Method::GET, Url::parse(&server.url("/x")).unwrap())
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer x"));

    client.send(request).await.unwrap();

    let all = log.all();
    let first: Vec<_> = all[0].headers.get_all(AUTHORIZATION).iter().collect();
    assert_eq!(first, [HeaderValue::from_static("Bearer x")]);
    let retry: Vec<_> = all[1].headers.get_all(AUTHORIZATION).iter().collect();
    assert_eq!(retry.len(), 1, "{retry:?}");
    assert!(Credential::parse(retry[0].as_bytes()).is_ok());
}

// ---------------------------------------------------------------------------------
// 10. Tracing (a minimal subscriber: tracing-subscriber is not a dev-dependency)
// ---------------------------------------------------------------------------------

/// Records every `mpp*` event as `LEVEL target field=value…`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        use fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("mpp")
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let metadata = event.metadata();
        let mut line = format!("{} {}", metadata.level(), metadata.target());
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Installed as the global subscriber, once for the whole test binary: a scoped
/// (thread-local) one misses callsites that other tests' threads register first.
/// Other tests' events land in it too; this test picks its own by origin.
fn capture() -> &'static Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).unwrap();
        capture
    })
}

#[tokio::test]
async fn client_events_name_method_amount_and_origin_but_never_secrets() {
    let capture = capture();
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;

    let response = client(policy()).get(&app.url("/paid")).await.unwrap();
    let stingy = client(SpendingPolicy {
        max_per_request: vec![(CURRENCY.into(), 1)],
        ..SpendingPolicy::default()
    });
    refusal(stingy.get(&app.url("/paid")).await);

    let lines = capture.lines();
    let origin = format!("origin={}", app.origin());
    let client_lines: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" mpp::client ") && l.contains(&origin))
        .collect();
    let has = |words: &[&str]| {
        client_lines
            .iter()
            .any(|l| words.iter().all(|w| l.contains(w)))
    };
    assert!(
        has(&[
            "message=paying",
            "method=preimage",
            "amount=1000",
            "currency=usd",
            &origin
        ]),
        "{client_lines:#?}"
    );
    assert!(
        has(&["message=paid", "status=200", &origin]),
        "{client_lines:#?}"
    );
    assert!(
        has(&["payment refused", "per-request cap", &origin]),
        "{client_lines:#?}"
    );
    let payment = only(&response.payments);
    let credential_blob = payment.credential.trim_start_matches("Payment ");
    let receipt = response.headers.get("payment-receipt").unwrap();
    let secrets = [PREIMAGE, credential_blob, receipt.to_str().unwrap()];
    for line in &lines {
        for secret in secrets {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

/// A method that fails the way a payment fails once it is sent: `verdict`.
struct FailingPayer(mpp_core::client::PayError);

impl mpp_core::client::PayMethod for FailingPayer {
    fn name(&self) -> &str {
        "preimage"
    }

    fn pay<'a>(
        &'a self,
        _: &'a mpp_core::client::Choice,
    ) -> mpp_core::method::BoxFuture<
        'a,
        Result<mpp_core::client::Payment, mpp_core::client::PayError>,
    > {
        Box::pin(std::future::ready(Err(self.0.clone())))
    }
}

#[tokio::test]
async fn money_that_may_have_moved_stays_counted_and_a_refusal_does_not() {
    use mpp_core::client::PayError;
    let counts = AppCounts::default();
    let app = serve(paywalled_app(&counts)).await;
    for (verdict, counted) in [
        (
            PayError::OutcomeUnknown("transaction 0xab… was sent".into()),
            PRICE,
        ),
        (PayError::Backend("the node refused".into()), 0),
    ] {
        let wallet = mpp_core::client::Wallet::new(policy())
            .with_method(Arc::new(FailingPayer(verdict.clone())), 1000);
        let client = PayingClient::new(wallet).unwrap();
        let error = client.get(&app.url("/paid")).await.unwrap_err();
        assert!(
            matches!(&error, PayingError::Method(e) if *e == verdict),
            "{error:?}"
        );
        assert_eq!(spent_usd(&client).await, counted, "{verdict:?}");
    }
}
