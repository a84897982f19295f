//! The cases, by section. Each is an `async fn(&Ctx) -> Verdict`; [`all`] lists them
//! with their requirement ids and levels.

use bytes::Bytes;
use http::Method;
use mpp_core::base64;
use mpp_core::challenge::Challenge;
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::json::Value;
use mpp_core::problem::ProblemType;
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{Base64Json, IntentName, MethodName, Realm};

use super::context::{Ctx, Exchange};
use super::{Case, Level, Verdict};

macro_rules! case {
    ($f:ident, $id:literal, $section:literal, $req:literal, $level:ident, $pays:literal, $title:literal) => {
        Case {
            id: $id,
            section: $section,
            requirement: $req,
            level: Level::$level,
            pays: $pays,
            title: $title,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
}

/// Every case, in running order.
pub(super) fn all() -> Vec<Case> {
    vec![
        // -- The 402 and its challenges, without any credential.
        case!(
            status_402,
            "challenge.status-402",
            "Challenges",
            "core.errors.402.payment-required",
            Must,
            false,
            "an unpaid request to a paid resource is answered 402"
        ),
        case!(
            has_challenge,
            "challenge.present",
            "Challenges",
            "core.errors.402.with-challenge",
            Must,
            false,
            "the 402 carries at least one Payment challenge"
        ),
        case!(
            challenges_valid,
            "challenge.well-formed",
            "Challenges",
            "core.challenge.required-params",
            Must,
            false,
            "every Payment challenge has a non-empty id, realm, method, intent and request, in the grammar"
        ),
        case!(
            request_unpadded,
            "challenge.request-unpadded",
            "Challenges",
            "core.challenge.request.no-padding",
            Must,
            false,
            "`request` is base64url without `=` padding"
        ),
        case!(
            request_canonical,
            "challenge.request-jcs",
            "Challenges",
            "core.challenge.request.jcs",
            Must,
            false,
            "`request` encodes RFC 8785 canonical JSON"
        ),
        case!(
            no_bws,
            "challenge.no-bws",
            "Challenges",
            "core.grammar.param.no-bws",
            Must,
            false,
            "no whitespace around the `=` of challenge parameters"
        ),
        case!(
            challenge_size,
            "challenge.size",
            "Challenges",
            "core.size.challenge",
            Should,
            false,
            "each challenge is under 8 KB"
        ),
        case!(
            charge_request,
            "challenge.charge-request",
            "Challenges",
            "charge.request.shared-fields",
            Must,
            false,
            "a charge request has `amount` (a base-unit integer string) and `currency`"
        ),
        case!(
            charge_no_expiry,
            "challenge.charge-no-expires-member",
            "Challenges",
            "charge.request.no-expiry",
            Must,
            false,
            "a charge request has no `expires` member (expiry travels in the parameter)"
        ),
        case!(
            expires_present,
            "challenge.expires-present",
            "Challenges",
            "core.challenge.expires.include",
            Should,
            false,
            "each challenge carries `expires`"
        ),
        case!(
            expires_future,
            "challenge.expires-future",
            "Challenges",
            "core.grammar.expires.rfc3339",
            Must,
            false,
            "`expires` is an RFC 3339 instant in the future"
        ),
        case!(
            fresh_ids,
            "challenge.fresh-ids",
            "Challenges",
            "core.caching.challenge-fresh",
            Must,
            false,
            "two 402s for the same resource carry different challenge ids"
        ),
        case!(
            no_store,
            "caching.402-no-store",
            "Caching",
            "core.caching.402-no-store",
            Must,
            false,
            "a 402 carries Cache-Control: no-store"
        ),
        case!(
            no_receipt_on_402,
            "receipt.not-on-errors",
            "Receipts",
            "core.receipt.not-on-error",
            Must,
            false,
            "a 402 carries no Payment-Receipt"
        ),
        // -- Credentials the server must refuse.
        case!(
            malformed_base64,
            "credential.malformed-base64",
            "Credentials",
            "core.errors.malformed-credential",
            Must,
            false,
            "a credential that is not base64url: 402, a fresh challenge, malformed-credential"
        ),
        case!(
            malformed_json,
            "credential.malformed-json",
            "Credentials",
            "core.errors.malformed-credential",
            Must,
            false,
            "a credential that is not a JSON object: 402, a fresh challenge, malformed-credential"
        ),
        case!(
            bad_proof,
            "credential.bad-proof",
            "Credentials",
            "core.errors.verification-failed",
            Must,
            false,
            "an intact echo with a proof that does not verify: 402, a fresh challenge, verification-failed"
        ),
        case!(
            several_credentials,
            "credential.several",
            "Credentials",
            "core.credential.several.reject",
            Should,
            false,
            "a request with two Payment credentials (in the selected field) is answered 400"
        ),
        case!(
            large_credential,
            "credential.large",
            "Credentials",
            "core.size.server-credential",
            Must,
            false,
            "a credential over 4 KiB is processed, not refused for its size"
        ),
        case!(
            wrong_field,
            "credential.wrong-field",
            "Credentials",
            "core.credential.field.server-selected",
            Must,
            false,
            "a credential in another header field than the one the challenge selects does not pay"
        ),
        case!(
            unknown_id,
            "binding.unknown-id",
            "Binding",
            "core.errors.invalid-challenge",
            Must,
            false,
            "a credential for a challenge id never issued: 402, a fresh challenge, invalid-challenge"
        ),
        case!(
            tampered_realm,
            "binding.tampered-realm",
            "Binding",
            "core.binding.echo-mismatch",
            Must,
            false,
            "an echo with another realm is refused"
        ),
        case!(
            tampered_method,
            "binding.tampered-method",
            "Binding",
            "core.binding.echo-mismatch",
            Must,
            false,
            "an echo with another method is refused"
        ),
        case!(
            tampered_intent,
            "binding.tampered-intent",
            "Binding",
            "core.binding.echo-mismatch",
            Must,
            false,
            "an echo with another intent is refused"
        ),
        case!(
            tampered_amount,
            "binding.tampered-amount",
            "Binding",
            "charge.verify.amount",
            Must,
            false,
            "an echo with a lower amount is refused"
        ),
        case!(
            tampered_currency,
            "binding.tampered-currency",
            "Binding",
            "core.binding.echo-mismatch",
            Must,
            false,
            "an echo with another currency is refused"
        ),
        case!(
            tampered_recipient,
            "binding.tampered-recipient",
            "Binding",
            "charge.verify.recipient",
            Must,
            false,
            "an echo with another recipient is refused"
        ),
        case!(
            tampered_expires,
            "binding.tampered-expires",
            "Binding",
            "core.binding.id.bound",
            Must,
            false,
            "an echo whose `expires` was moved later is refused"
        ),
        case!(
            dropped_expires,
            "binding.dropped-expires",
            "Binding",
            "core.binding.id.bound",
            Must,
            false,
            "an echo without its `expires` is refused"
        ),
        case!(
            tampered_opaque,
            "binding.tampered-opaque",
            "Binding",
            "core.binding.opaque.bound",
            Must,
            false,
            "an echo with `opaque` changed or dropped is refused"
        ),
        case!(
            expired_echo,
            "binding.expired-echo",
            "Binding",
            "charge.verify.expiry",
            Must,
            false,
            "an echo whose `expires` is in the past is refused"
        ),
        // -- Accept-Payment.
        case!(
            accept_q0,
            "accept.q0-excludes",
            "Accept-Payment",
            "core.accept-payment.filter",
            Should,
            false,
            "a method given q=0 is not offered"
        ),
        case!(
            accept_order,
            "accept.order",
            "Accept-Payment",
            "core.accept-payment.order",
            Should,
            false,
            "challenges come in the client's order of preference"
        ),
        // -- The paid path.
        case!(
            paid_granted,
            "paid.granted",
            "Paid requests",
            "core.errors.granted",
            Must,
            true,
            "a valid credential is served (2xx)"
        ),
        case!(
            paid_receipt,
            "paid.receipt",
            "Paid requests",
            "core.receipt.on-success",
            Should,
            true,
            "the paid response carries a Payment-Receipt"
        ),
        case!(
            paid_receipt_valid,
            "paid.receipt-valid",
            "Paid requests",
            "core.receipt.status-success",
            Must,
            true,
            "a Payment-Receipt is valid: status success, the method paid, an RFC 3339 timestamp"
        ),
        case!(
            paid_private,
            "paid.cache-private",
            "Paid requests",
            "core.caching.receipt-private",
            Must,
            true,
            "a response carrying a receipt has Cache-Control: private"
        ),
        case!(
            paid_other_field,
            "paid.other-field-not-shared",
            "Paid requests",
            "core.caching.other-field",
            Must,
            true,
            "a response to a credential in Payment-Authorization is private or no-store"
        ),
        case!(
            paid_replay,
            "replay.refused",
            "Replay",
            "core.replay.single-use-proof",
            Must,
            true,
            "a credential used once is refused the second time"
        ),
        case!(
            replay_problem,
            "replay.invalid-challenge",
            "Replay",
            "core.errors.invalid-challenge",
            Must,
            true,
            "the refusal of a used credential is 402 with a fresh challenge and invalid-challenge"
        ),
        case!(
            paid_concurrent,
            "replay.concurrent-once",
            "Replay",
            "core.concurrency.once",
            Must,
            true,
            "twenty simultaneous requests with one credential are served once"
        ),
        case!(
            digest_present,
            "digest.challenge-has-digest",
            "Body digest",
            "core.digest.include",
            Should,
            false,
            "a challenge for a request with a body carries `digest`"
        ),
        case!(
            digest_enforced,
            "digest.other-body-refused",
            "Body digest",
            "core.digest.verify",
            Must,
            true,
            "a credential for one body does not pay for another"
        ),
        case!(
            tls,
            "security.tls",
            "Security",
            "core.security.tls.server",
            Must,
            false,
            "challenges are issued over TLS (loopback targets excepted)"
        ),
        // -- Last: error bodies and statuses, and what every 402 of the run showed.
        case!(
            problem_details,
            "errors.problem-details",
            "Errors",
            "core.errors.problem-details",
            Should,
            false,
            "a 402 body is an application/problem+json document"
        ),
        case!(
            problem_type,
            "errors.problem-type",
            "Errors",
            "core.errors.problem-type",
            Should,
            false,
            "its `type` is one of https://paymentauth.org/problems/"
        ),
        case!(
            missing_not_402,
            "errors.missing-not-402",
            "Errors",
            "core.errors.not-payment-barrier",
            Should,
            false,
            "a resource that does not exist is not answered 402"
        ),
        case!(
            every_402_challenged,
            "errors.402-always-challenges",
            "Errors",
            "core.errors.402.with-challenge",
            Must,
            false,
            "no 402 of this run went out without a Payment challenge"
        ),
    ]
}

// ---- helpers

fn unreachable(e: String) -> Verdict {
    Verdict::fail("the server to answer", e)
}

/// Checks what every refusal must be: 402 with a fresh valid challenge and no receipt.
fn refused(exchange: &Exchange) -> Verdict {
    let fresh = !exchange.valid_challenges().is_empty();
    Verdict::check(
        exchange.status == 402 && fresh && !exchange.headers.contains_key("payment-receipt"),
        "402 with a fresh Payment challenge and no Payment-Receipt",
        exchange.describe(),
    )
}

/// A refusal ([`refused`]) with this problem type.
fn refused_as(exchange: &Exchange, problem: ProblemType) -> Verdict {
    let verdict = refused(exchange);
    if verdict != Verdict::Pass {
        return verdict;
    }
    Verdict::check(
        exchange.problem_type() == Some(problem),
        format!(
            "402 with a fresh challenge and problem type {}",
            problem.uri()
        ),
        exchange.describe(),
    )
}

/// A refusal of a tampered echo: conclusive when the proof was valid (then any
/// refusal shows the tampering was caught); without a valid proof only an
/// `invalid-challenge` (or `payment-expired`) shows it.
fn refused_tampered(ctx: &Ctx, challenge: &Challenge<'_>, exchange: &Exchange) -> Verdict {
    if exchange.status / 100 == 2 {
        return Verdict::fail("the tampered echo to be refused", exchange.describe());
    }
    let verdict = refused(exchange);
    if verdict != Verdict::Pass || ctx.can_pay(challenge) {
        return verdict;
    }
    match exchange.problem_type() {
        Some(ProblemType::InvalidChallenge | ProblemType::PaymentExpired) => Verdict::Pass,
        _ => Verdict::NotApplicable(format!(
            "refused ({}), but without a valid proof the reason is unclear; run with --pay",
            exchange.describe()
        )),
    }
}

async fn first_402(ctx: &Ctx) -> Result<Exchange, Verdict> {
    let exchange = ctx.get(&[]).await.map_err(unreachable)?;
    if exchange.status != 402 {
        return Err(Verdict::NotApplicable(format!(
            "the target did not answer 402 ({})",
            exchange.describe()
        )));
    }
    Ok(exchange)
}

async fn challenge(ctx: &Ctx) -> Result<Challenge<'static>, Verdict> {
    ctx.fresh_challenge()
        .await
        .map_err(|e| Verdict::NotApplicable(format!("no fresh challenge: {e}")))
}

/// Sends the echo of `challenge` after `edit`, with the suite's payload.
async fn send_edited(
    ctx: &Ctx,
    challenge: &Challenge<'static>,
    edit: impl FnOnce(&mut Credential),
) -> Result<Exchange, Verdict> {
    let mut credential = ctx.credential(challenge);
    edit(&mut credential);
    ctx.pay_with(challenge, &credential.to_header())
        .await
        .map_err(unreachable)
}

fn edit_request(credential: &mut Credential, f: impl FnOnce(&mut mpp_core::json::JsonObject)) {
    if let Ok(mut request) = credential.challenge.request.decode() {
        f(&mut request);
        credential.challenge.request = Base64Json::encode(&request);
    }
}

fn now() -> UnixTime {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    UnixTime::from_secs(i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}

// ---- the 402

async fn status_402(ctx: &Ctx) -> Verdict {
    match ctx.get(&[]).await {
        Ok(e) => Verdict::check(e.status == 402, "402", e.describe()),
        Err(e) => unreachable(e),
    }
}

async fn has_challenge(ctx: &Ctx) -> Verdict {
    match first_402(ctx).await {
        Ok(e) => Verdict::check(
            !e.valid_challenges().is_empty(),
            "at least one valid Payment challenge",
            e.describe(),
        ),
        Err(v) => v,
    }
}

async fn challenges_valid(ctx: &Ctx) -> Verdict {
    let e = match first_402(ctx).await {
        Ok(e) => e,
        Err(v) => return v,
    };
    let errors: Vec<String> = e
        .challenges()
        .into_iter()
        .filter_map(Result::err)
        .map(|e| e.to_string())
        .collect();
    Verdict::check(
        errors.is_empty(),
        "every Payment challenge valid",
        format!("invalid: {}", errors.join("; ")),
    )
}

async fn request_unpadded(ctx: &Ctx) -> Verdict {
    let e = match first_402(ctx).await {
        Ok(e) => e,
        Err(v) => return v,
    };
    // The parser refuses a padded `request`; look at the raw field values.
    let padded = e
        .headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| {
            let lower = v.to_ascii_lowercase();
            lower.match_indices("request=").any(|(i, _)| {
                let rest = v[i + 8..].trim_start_matches('"');
                let value: String = rest
                    .chars()
                    .take_while(|c| !matches!(c, '"' | ',' | ' '))
                    .collect();
                value.ends_with('=')
            })
        });
    match padded {
        Some(v) => Verdict::fail("no `=` padding in `request`", v.to_string()),
        None => Verdict::Pass,
    }
}

async fn request_canonical(ctx: &Ctx) -> Verdict {
    let e = match first_402(ctx).await {
        Ok(e) => e,
        Err(v) => return v,
    };
    for c in e.valid_challenges() {
        // Compared as JSON text, so that padding (its own case) does not count here.
        let sent = base64::decode_utf8(c.request.as_str()).unwrap_or_default();
        match c.request.canonical() {
            Ok(canonical) => {
                let canonical = base64::decode_utf8(&canonical).unwrap_or_default();
                if canonical != sent {
                    return Verdict::fail(
                        format!("the canonical form {canonical}"),
                        sent.to_string(),
                    );
                }
            }
            Err(err) => return Verdict::fail("a JSON object", err.to_string()),
        }
    }
    Verdict::Pass
}

/// Whether a field value has whitespace next to a parameter's `=`, outside quoted
/// strings.
fn has_bws(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'=' if !quoted => {
                let before = i > 0 && matches!(bytes[i - 1], b' ' | b'\t');
                let after = matches!(bytes.get(i + 1), Some(b' ' | b'\t'));
                if before || after {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

async fn no_bws(ctx: &Ctx) -> Verdict {
    let e = match first_402(ctx).await {
        Ok(e) => e,
        Err(v) => return v,
    };
    let offending = e
        .headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.to_ascii_lowercase().contains("payment") && has_bws(v));
    match offending {
        Some(v) => Verdict::fail("`name=value` without whitespace around `=`", v.to_string()),
        None => Verdict::Pass,
    }
}

async fn challenge_size(ctx: &Ctx) -> Verdict {
    let e = match first_402(ctx).await {
        Ok(e) => e,
        Err(v) => return v,
    };
    for c in e.valid_challenges() {
        let len = c.to_header().map(|h| h.len()).unwrap_or(0);
        if len >= 8 * 1024 {
            return Verdict::fail(
                "each challenge under 8 KB",
                format!("a {}-byte challenge ({})", len, c.method),
            );
        }
    }
    Verdict::Pass
}

/// The decoded requests of the target's charge challenges.
async fn charge_requests(ctx: &Ctx) -> Result<Vec<(String, mpp_core::json::JsonObject)>, Verdict> {
    let e = first_402(ctx).await?;
    let mut requests = Vec::new();
    for c in e.valid_challenges() {
        if c.intent == "charge" {
            let request = c
                .request
                .decode()
                .map_err(|err| Verdict::fail("a JSON object request", err.to_string()))?;
            requests.push((c.method.to_string(), request));
        }
    }
    if requests.is_empty() {
        return Err(Verdict::NotApplicable(
            "the target offers no charge challenge".into(),
        ));
    }
    Ok(requests)
}

async fn charge_request(ctx: &Ctx) -> Verdict {
    let requests = match charge_requests(ctx).await {
        Ok(r) => r,
        Err(v) => return v,
    };
    for (method, r) in requests {
        let amount = r.get("amount").and_then(Value::as_str);
        let amount_ok =
            amount.is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
        let currency_ok = r
            .get("currency")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty());
        if !(amount_ok && currency_ok) {
            return Verdict::fail(
                "`amount` as a string of digits and a non-empty `currency`",
                format!(
                    "{method}: amount {:?}, currency {:?}",
                    r.get("amount"),
                    r.get("currency")
                ),
            );
        }
    }
    Verdict::Pass
}

async fn charge_no_expiry(ctx: &Ctx) -> Verdict {
    let requests = match charge_requests(ctx).await {
        Ok(r) => r,
        Err(v) => return v,
    };
    match requests.iter().find(|(_, r)| r.contains_key("expires")) {
        Some((method, r)) => Verdict::fail(
            "no `expires` member in the request",
            format!("{method}: expires {:?}", r.get("expires")),
        ),
        None => Verdict::Pass,
    }
}

async fn expires_present(ctx: &Ctx) -> Verdict {
    match first_402(ctx).await {
        Ok(e) => {
            let missing = e
                .valid_challenges()
                .iter()
                .filter(|c| c.expires.is_none())
                .count();
            Verdict::check(
                missing == 0,
                "`expires` on every challenge",
                format!("{missing} challenge(s) without it"),
            )
        }
        Err(v) => v,
    }
}

async fn expires_future(ctx: &Ctx) -> Verdict {
    let e = match first_402(ctx).await {
        Ok(e) => e,
        Err(v) => return v,
    };
    let now = now();
    for c in e.valid_challenges() {
        if let Some(t) = &c.expires {
            if t.is_expired_at(now) {
                return Verdict::fail(
                    "an `expires` in the future",
                    format!("{} (already past)", t.as_str()),
                );
            }
        }
    }
    Verdict::Pass
}

async fn fresh_ids(ctx: &Ctx) -> Verdict {
    let (a, b) = match (first_402(ctx).await, first_402(ctx).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let ids = |e: &Exchange| {
        e.valid_challenges()
            .into_iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>()
    };
    let (a, b) = (ids(&a), ids(&b));
    Verdict::check(
        a.iter().all(|id| !b.contains(id)),
        "different ids",
        format!("ids repeated: {a:?} then {b:?}"),
    )
}

async fn no_store(ctx: &Ctx) -> Verdict {
    match first_402(ctx).await {
        Ok(e) => Verdict::check(
            cache_control_has(&e, &["no-store"]),
            "Cache-Control: no-store",
            e.describe(),
        ),
        Err(v) => v,
    }
}

async fn problem_details(ctx: &Ctx) -> Verdict {
    match first_402(ctx).await {
        Ok(e) => {
            let json = e.header("content-type").is_some_and(|t| {
                t.to_ascii_lowercase()
                    .starts_with("application/problem+json")
            });
            Verdict::check(
                json && e.problem().is_some(),
                "Content-Type: application/problem+json and an RFC 9457 body",
                format!(
                    "Content-Type {:?}, {}",
                    e.header("content-type"),
                    e.describe()
                ),
            )
        }
        Err(v) => v,
    }
}

async fn problem_type(ctx: &Ctx) -> Verdict {
    match first_402(ctx).await {
        Ok(e) => match e.problem() {
            Some(p) => Verdict::check(
                e.problem_type().is_some(),
                "a type under https://paymentauth.org/problems/",
                p.type_uri,
            ),
            None => Verdict::NotApplicable("the 402 has no problem-details body".into()),
        },
        Err(v) => v,
    }
}

async fn missing_not_402(ctx: &Ctx) -> Verdict {
    let Ok(url) = ctx.target().join("/mpp-conformance-no-such-resource-7f3a") else {
        return Verdict::NotApplicable("cannot build a URL on the target's origin".into());
    };
    match ctx.send(Method::GET, &url, &[], None).await {
        Ok(e) => Verdict::check(e.status != 402, format!("not 402 for {url}"), e.describe()),
        Err(e) => unreachable(e),
    }
}

async fn tls(ctx: &Ctx) -> Verdict {
    let url = ctx.target();
    if url.scheme() == "https" {
        return Verdict::Pass;
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(|c| c == '[' || c == ']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Verdict::NotApplicable("a loopback target over plain HTTP (development)".into())
    } else {
        Verdict::fail(
            "challenges issued over https",
            format!("the target is {url}"),
        )
    }
}

async fn no_receipt_on_402(ctx: &Ctx) -> Verdict {
    match first_402(ctx).await {
        Ok(e) => Verdict::check(
            !e.headers.contains_key("payment-receipt"),
            "no Payment-Receipt",
            e.describe(),
        ),
        Err(v) => v,
    }
}

// ---- credentials to refuse

async fn malformed_with(ctx: &Ctx, value: &str) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    match ctx.pay_with(&c, value).await {
        Ok(e) => refused_as(&e, ProblemType::MalformedCredential),
        Err(e) => unreachable(e),
    }
}

async fn malformed_base64(ctx: &Ctx) -> Verdict {
    malformed_with(ctx, "Payment !!not*base64url!!").await
}

async fn malformed_json(ctx: &Ctx) -> Verdict {
    malformed_with(ctx, &format!("Payment {}", base64::encode(b"[1,2,3]"))).await
}

async fn bad_proof(ctx: &Ctx) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    // A proof of the right shape that cannot verify: the wrong preimage when the
    // suite knows the method, else an empty payload (which some servers may call
    // malformed instead: not conclusive).
    let known = ctx.can_pay(&c);
    let result = send_edited(ctx, &c, |cred| {
        if known {
            cred.payload
                .insert("preimage".into(), "not-the-preimage".into());
        }
    })
    .await;
    match result {
        Ok(e) if known => refused_as(&e, ProblemType::VerificationFailed),
        Ok(e) => match e.problem_type() {
            Some(ProblemType::MalformedCredential) if refused(&e) == Verdict::Pass => {
                Verdict::NotApplicable(format!(
                    "an empty payload was called malformed ({}); run with --pay for a conclusive proof",
                    e.describe()
                ))
            }
            _ => refused_as(&e, ProblemType::VerificationFailed),
        },
        Err(v) => v,
    }
}

async fn unknown_id(ctx: &Ctx) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    match send_edited(ctx, &c, |cred| {
        let forged = format!("{}x", cred.challenge.id.as_str().trim_end_matches('x'));
        if let Ok(id) = mpp_core::value::ChallengeId::from_string(forged) {
            cred.challenge.id = id;
        }
    })
    .await
    {
        Ok(e) => refused_as(&e, ProblemType::InvalidChallenge),
        Err(v) => v,
    }
}

async fn tamper(ctx: &Ctx, edit: impl FnOnce(&mut Credential)) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    match send_edited(ctx, &c, edit).await {
        Ok(e) => refused_tampered(ctx, &c, &e),
        Err(v) => v,
    }
}

async fn tampered_realm(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        if let Ok(realm) = Realm::from_string(format!("{}.evil", cred.challenge.realm)) {
            cred.challenge.realm = realm;
        }
    })
    .await
}

async fn tampered_method(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        let other = if cred.challenge.method == "tempo" {
            "stripe"
        } else {
            "tempo"
        };
        if let Ok(m) = MethodName::from_string(other.into()) {
            cred.challenge.method = m;
        }
    })
    .await
}

async fn tampered_intent(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        let other = if cred.challenge.intent == "session" {
            "charge"
        } else {
            "session"
        };
        if let Ok(i) = IntentName::from_string(other.into()) {
            cred.challenge.intent = i;
        }
    })
    .await
}

async fn tampered_amount(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        edit_request(cred, |r| {
            r.insert("amount".into(), "1".into());
        })
    })
    .await
}

async fn tampered_currency(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        edit_request(cred, |r| {
            let other = if r.get("currency").and_then(Value::as_str) == Some("eur") {
                "usd"
            } else {
                "eur"
            };
            r.insert("currency".into(), other.into());
        })
    })
    .await
}

async fn tampered_recipient(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        edit_request(cred, |r| {
            r.insert("recipient".into(), "acct_attacker".into());
        })
    })
    .await
}

async fn tampered_expires(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        let later = cred
            .challenge
            .expires
            .as_ref()
            .map_or(now().secs(), |t| t.unix().secs())
            + 86_400;
        cred.challenge.expires = Timestamp::from_unix(UnixTime::from_secs(later));
    })
    .await
}

async fn dropped_expires(ctx: &Ctx) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    if c.expires.is_none() {
        return Verdict::NotApplicable("the challenge has no `expires` to drop".into());
    }
    match send_edited(ctx, &c, |cred| cred.challenge.expires = None).await {
        Ok(e) => refused_tampered(ctx, &c, &e),
        Err(v) => v,
    }
}

async fn tampered_opaque(ctx: &Ctx) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    if c.opaque.is_none() {
        return Verdict::NotApplicable("the challenge has no `opaque`".into());
    }
    let dropped = match send_edited(ctx, &c, |cred| cred.challenge.opaque = None).await {
        Ok(e) => refused_tampered(ctx, &c, &e),
        Err(v) => return v,
    };
    if dropped != Verdict::Pass {
        return dropped;
    }
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    match send_edited(ctx, &c, |cred| {
        cred.challenge.opaque = Some(mpp_core::value::Opaque::encode([("tampered", "1")]));
    })
    .await
    {
        Ok(e) => refused_tampered(ctx, &c, &e),
        Err(v) => v,
    }
}

async fn expired_echo(ctx: &Ctx) -> Verdict {
    tamper(ctx, |cred| {
        cred.challenge.expires = Timestamp::from_unix(UnixTime::from_secs(now().secs() - 3600));
    })
    .await
}

async fn several_credentials(ctx: &Ctx) -> Verdict {
    let (a, b) = match (challenge(ctx).await, challenge(ctx).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    // Both in the field the challenges select: whether one in each field counts as
    // "several" is left open by the draft (spec-notes §6, 29).
    let (ca, cb) = (
        ctx.credential(&a).to_header(),
        ctx.credential(&b).to_header(),
    );
    let field = Ctx::field(&a);
    match ctx.get(&[(field, &ca), (field, &cb)]).await {
        Ok(e) => Verdict::check(e.status == 400, "400", e.describe()),
        Err(e) => unreachable(e),
    }
}

async fn large_credential(ctx: &Ctx) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    match send_edited(ctx, &c, |cred| {
        cred.payload
            .insert("padding".into(), "p".repeat(5000).into());
    })
    .await
    {
        Ok(e) if e.status == 431 || e.status == 413 || e.status >= 500 => {
            Verdict::fail("a credential over 4 KiB to be processed", e.describe())
        }
        Ok(_) => Verdict::Pass,
        Err(v) => v,
    }
}

// ---- Accept-Payment

/// The two first distinct methods offered, if there are two.
async fn two_methods(ctx: &Ctx) -> Result<(String, String), Verdict> {
    let e = first_402(ctx).await?;
    let mut methods: Vec<String> = Vec::new();
    for c in e.valid_challenges() {
        if !methods.contains(&c.method.to_string()) {
            methods.push(c.method.to_string());
        }
    }
    match methods.as_slice() {
        [a, b, ..] => Ok((a.clone(), b.clone())),
        _ => Err(Verdict::NotApplicable(
            "the target offers one method only".into(),
        )),
    }
}

async fn accept_q0(ctx: &Ctx) -> Verdict {
    let (first, _) = match two_methods(ctx).await {
        Ok(m) => m,
        Err(v) => return v,
    };
    let header = format!("{first}/*;q=0, */*");
    match ctx.get(&[("accept-payment", &header)]).await {
        Ok(e) => {
            let offered: Vec<String> = e
                .valid_challenges()
                .iter()
                .map(|c| c.method.to_string())
                .collect();
            Verdict::check(
                !offered.contains(&first) && !offered.is_empty(),
                format!("no {first} challenge for Accept-Payment: {header}"),
                format!("offered {offered:?}"),
            )
        }
        Err(e) => unreachable(e),
    }
}

async fn accept_order(ctx: &Ctx) -> Verdict {
    let (first, second) = match two_methods(ctx).await {
        Ok(m) => m,
        Err(v) => return v,
    };
    let header = format!("{second}/*, {first}/*;q=0.5");
    match ctx.get(&[("accept-payment", &header)]).await {
        Ok(e) => {
            let offered: Vec<String> = e
                .valid_challenges()
                .iter()
                .map(|c| c.method.to_string())
                .collect();
            Verdict::check(
                offered.first() == Some(&second),
                format!("{second} first for Accept-Payment: {header}"),
                format!("offered {offered:?}"),
            )
        }
        Err(e) => unreachable(e),
    }
}

// ---- the paid path

async fn payable(ctx: &Ctx) -> Result<Challenge<'static>, Verdict> {
    let c = challenge(ctx).await?;
    if ctx.can_pay(&c) {
        Ok(c)
    } else {
        Err(Verdict::NotApplicable(format!(
            "the target offers no challenge the suite can pay (first: {})",
            c.method
        )))
    }
}

async fn pay_once(ctx: &Ctx) -> Result<(Challenge<'static>, String, Exchange), Verdict> {
    let c = payable(ctx).await?;
    let credential = ctx.credential(&c).to_header();
    let e = ctx.pay_with(&c, &credential).await.map_err(unreachable)?;
    Ok((c, credential, e))
}

async fn paid_granted(ctx: &Ctx) -> Verdict {
    match pay_once(ctx).await {
        Ok((_, _, e)) => Verdict::check(e.status / 100 == 2, "2xx", e.describe()),
        Err(v) => v,
    }
}

/// A paid response, or a verdict when paying did not succeed.
async fn paid_response(ctx: &Ctx) -> Result<(Challenge<'static>, Exchange), Verdict> {
    let (c, _, e) = pay_once(ctx).await?;
    if e.status / 100 != 2 {
        return Err(Verdict::NotApplicable(format!(
            "the payment was not accepted ({})",
            e.describe()
        )));
    }
    Ok((c, e))
}

async fn paid_receipt(ctx: &Ctx) -> Verdict {
    match paid_response(ctx).await {
        Ok((_, e)) => Verdict::check(
            e.headers.contains_key("payment-receipt"),
            "a Payment-Receipt",
            e.describe(),
        ),
        Err(v) => v,
    }
}

async fn paid_receipt_valid(ctx: &Ctx) -> Verdict {
    let (c, e) = match paid_response(ctx).await {
        Ok(x) => x,
        Err(v) => return v,
    };
    let Some(raw) = e.headers.get("payment-receipt") else {
        return Verdict::NotApplicable("the paid response has no receipt".into());
    };
    match Receipt::parse(raw.as_bytes()) {
        Ok(r) => Verdict::check(
            r.method == c.method,
            format!("a receipt for method {}", c.method),
            format!("a receipt for method {}", r.method),
        ),
        Err(err) => Verdict::fail("a valid receipt with status success", err.to_string()),
    }
}

async fn paid_private(ctx: &Ctx) -> Verdict {
    let (_, e) = match paid_response(ctx).await {
        Ok(x) => x,
        Err(v) => return v,
    };
    if !e.headers.contains_key("payment-receipt") {
        return Verdict::NotApplicable(format!(
            "the paid response has no receipt ({})",
            e.describe()
        ));
    }
    Verdict::check(
        cache_control_has(&e, &["private"]),
        "Cache-Control: private",
        e.describe(),
    )
}

async fn paid_other_field(ctx: &Ctx) -> Verdict {
    let c = match payable(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    if c.credential_field != CredentialField::PaymentAuthorization {
        return Verdict::NotApplicable("the challenge selects Authorization".into());
    }
    match ctx.pay_with(&c, &ctx.credential(&c).to_header()).await {
        Ok(e) => Verdict::check(
            cache_control_has(&e, &["private", "no-store"]),
            "Cache-Control: private or no-store",
            e.describe(),
        ),
        Err(e) => unreachable(e),
    }
}

fn cache_control_has(e: &Exchange, any_of: &[&str]) -> bool {
    e.headers
        .get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| {
            any_of
                .iter()
                .any(|want| d.trim().eq_ignore_ascii_case(want))
        })
}

/// Pays, then sends the same credential again; the second answer.
async fn replayed(ctx: &Ctx) -> Result<Exchange, Verdict> {
    let (c, credential, first) = pay_once(ctx).await?;
    if first.status / 100 != 2 {
        return Err(Verdict::NotApplicable(format!(
            "the first payment failed ({})",
            first.describe()
        )));
    }
    ctx.pay_with(&c, &credential).await.map_err(unreachable)
}

async fn paid_replay(ctx: &Ctx) -> Verdict {
    match replayed(ctx).await {
        Ok(e) => Verdict::check(
            e.status / 100 != 2 && !e.headers.contains_key("payment-receipt"),
            "the second use refused, without a receipt",
            e.describe(),
        ),
        Err(v) => v,
    }
}

async fn replay_problem(ctx: &Ctx) -> Verdict {
    match replayed(ctx).await {
        Ok(e) => refused_as(&e, ProblemType::InvalidChallenge),
        Err(v) => v,
    }
}

async fn paid_concurrent(ctx: &Ctx) -> Verdict {
    let c = match payable(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    let credential = ctx.credential(&c).to_header();
    let field = Ctx::field(&c);
    let headers = [(field, credential.as_str())];
    let sends = (0..20).map(|_| ctx.get(&headers));
    let results = futures_join_all(sends).await;
    let served = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|e| e.status / 100 == 2))
        .count();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if !errors.is_empty() {
        return unreachable(errors[0].clone());
    }
    Verdict::check(
        served == 1,
        "exactly one request served",
        format!("{served} of 20 served"),
    )
}

/// Runs futures concurrently (every request starts before any is awaited) and
/// collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

async fn wrong_field(ctx: &Ctx) -> Verdict {
    let c = match challenge(ctx).await {
        Ok(c) => c,
        Err(v) => return v,
    };
    let credential = ctx.credential(&c).to_header();
    let other = match c.credential_field {
        CredentialField::Authorization => "payment-authorization",
        CredentialField::PaymentAuthorization => "authorization",
    };
    let expected = format!(
        "a credential in {other} not to pay (the challenge selects {})",
        Ctx::field(&c)
    );
    match ctx.get(&[(other, credential.as_str())]).await {
        Ok(e) if e.status / 100 == 2 => Verdict::fail(expected, e.describe()),
        // Without a valid proof nothing would pay anyway: only a server that looked at
        // the credential (a problem other than payment-required) shows the mistake.
        Ok(e) if !ctx.can_pay(&c) => match e.problem_type() {
            Some(ProblemType::PaymentRequired) | None => refused(&e),
            Some(_) => Verdict::fail(
                expected,
                format!("the credential was examined: {}", e.describe()),
            ),
        },
        Ok(e) => refused(&e),
        Err(e) => unreachable(e),
    }
}

async fn post_challenge(
    ctx: &Ctx,
    body: &'static [u8],
) -> Result<(reqwest::Url, Challenge<'static>), Verdict> {
    let Some(url) = ctx.post_target().await else {
        return Err(Verdict::NotApplicable(
            "no paid POST route in the target's /openapi.json".into(),
        ));
    };
    let c = ctx
        .fresh_challenge_at(Method::POST, &url, Some(Bytes::from_static(body)))
        .await
        .map_err(|e| Verdict::NotApplicable(format!("no challenge for POST {url}: {e}")))?;
    Ok((url, c))
}

async fn digest_present(ctx: &Ctx) -> Verdict {
    match post_challenge(ctx, b"{\"q\":\"conformance\"}").await {
        Ok((url, c)) => Verdict::check(
            c.digest.is_some(),
            format!("`digest` on the challenge for POST {url}"),
            "no digest",
        ),
        Err(v) => v,
    }
}

async fn digest_enforced(ctx: &Ctx) -> Verdict {
    let (url, c) = match post_challenge(ctx, b"{\"q\":\"original\"}").await {
        Ok(x) => x,
        Err(v) => return v,
    };
    if !ctx.can_pay(&c) {
        return Verdict::NotApplicable(
            "the POST route offers no challenge the suite can pay".into(),
        );
    }
    if c.digest.is_none() {
        return Verdict::NotApplicable("the POST challenge has no `digest`".into());
    }
    let credential = ctx.credential(&c).to_header();
    let field = Ctx::field(&c);
    let other = ctx
        .send(
            Method::POST,
            &url,
            &[(field, &credential)],
            Some(Bytes::from_static(b"{\"q\":\"changed\"}")),
        )
        .await;
    match other {
        Ok(e) if e.status / 100 == 2 => {
            Verdict::fail("the credential not to pay for another body", e.describe())
        }
        Ok(_) => {
            // The same credential with the original body may have been used up by the
            // refusal; a fresh one must pay.
            let (url, c) = match post_challenge(ctx, b"{\"q\":\"original\"}").await {
                Ok(x) => x,
                Err(v) => return v,
            };
            let credential = ctx.credential(&c).to_header();
            match ctx
                .send(
                    Method::POST,
                    &url,
                    &[(Ctx::field(&c), &credential)],
                    Some(Bytes::from_static(b"{\"q\":\"original\"}")),
                )
                .await
            {
                Ok(e) => Verdict::check(
                    e.status / 100 == 2,
                    "the same body to pay (2xx)",
                    e.describe(),
                ),
                Err(e) => unreachable(e),
            }
        }
        Err(e) => unreachable(e),
    }
}

async fn every_402_challenged(ctx: &Ctx) -> Verdict {
    let seen = ctx.bare_402s();
    Verdict::check(
        seen.is_empty(),
        "every 402 with a valid Payment challenge",
        format!("{} 402(s) without one: {}", seen.len(), seen.join("; ")),
    )
}
