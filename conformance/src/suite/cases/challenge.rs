//! The 402 and its challenges, without any credential: status, grammar, `request`
//! encoding, charge terms, expiry and fresh ids.

use std::time::SystemTime;

use mpp_core::base64;
use mpp_core::json::Value;
use mpp_core::time::UnixTime;

use super::{Outcome, case, first_402, unreachable};
use crate::suite::context::{Ctx, Exchange};
use crate::suite::{Case, Verdict};

const SECTION: &str = "Challenges";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[
    STATUS_402,
    HAS_CHALLENGE,
    CHALLENGES_VALID,
    REQUEST_UNPADDED,
    REQUEST_CANONICAL,
    NO_BWS,
    CHALLENGE_SIZE,
    CHARGE_REQUEST,
    CHARGE_NO_EXPIRY,
    EXPIRES_PRESENT,
    EXPIRES_FUTURE,
    FRESH_IDS,
];

const STATUS_402: Case = case! {
    id: "challenge.status-402",
    requirement: "core.errors.402.payment-required",
    level: Must,
    title: "an unpaid request to a paid resource is answered 402",
    run: status_402,
};
async fn status_402(ctx: &Ctx) -> Verdict {
    match ctx.get(&[]).await {
        Ok(e) => Verdict::check(e.status == 402, "402", e.describe()),
        Err(e) => unreachable(e),
    }
}

const HAS_CHALLENGE: Case = case! {
    id: "challenge.present",
    requirement: "core.errors.402.with-challenge",
    level: MustNot,
    title: "the 402 carries at least one Payment challenge",
    run: has_challenge,
};
async fn has_challenge(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    Ok(Verdict::check(
        !e.valid_challenges().is_empty(),
        "at least one valid Payment challenge",
        e.describe(),
    ))
}

const CHALLENGES_VALID: Case = case! {
    id: "challenge.well-formed",
    requirement: "core.challenge.required-params",
    level: Must,
    title: "every Payment challenge has a non-empty id, realm, method, intent and request, in the grammar",
    run: challenges_valid,
};
async fn challenges_valid(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    let errors: Vec<String> = e
        .challenges()
        .into_iter()
        .filter_map(Result::err)
        .map(|e| e.to_string())
        .collect();
    Ok(Verdict::check(
        errors.is_empty(),
        "every Payment challenge valid",
        format!("invalid: {}", errors.join("; ")),
    ))
}

const REQUEST_UNPADDED: Case = case! {
    id: "challenge.request-unpadded",
    requirement: "core.challenge.request.no-padding",
    level: MustNot,
    title: "`request` is base64url without `=` padding",
    run: request_unpadded,
};
async fn request_unpadded(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
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
    Ok(match padded {
        Some(v) => Verdict::fail("no `=` padding in `request`", v.to_string()),
        None => Verdict::Pass,
    })
}

const REQUEST_CANONICAL: Case = case! {
    id: "challenge.request-jcs",
    requirement: "core.challenge.request.jcs",
    level: Must,
    title: "`request` encodes RFC 8785 canonical JSON",
    run: request_canonical,
};
async fn request_canonical(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    for c in e.valid_challenges() {
        // Compared as JSON text, so that padding (its own case) does not count here.
        let sent = base64::decode_utf8(c.request.as_str()).unwrap_or_default();
        match c.request.canonical() {
            Ok(canonical) => {
                let canonical = base64::decode_utf8(&canonical).unwrap_or_default();
                if canonical != sent {
                    return Ok(Verdict::fail(
                        format!("the canonical form {canonical}"),
                        sent.to_string(),
                    ));
                }
            }
            Err(err) => return Ok(Verdict::fail("a JSON object", err.to_string())),
        }
    }
    Ok(Verdict::Pass)
}

const NO_BWS: Case = case! {
    id: "challenge.no-bws",
    requirement: "core.grammar.param.no-bws",
    level: MustNot,
    title: "no whitespace around the `=` of challenge parameters",
    run: no_bws,
};
async fn no_bws(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    let offending = e
        .headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.to_ascii_lowercase().contains("payment") && has_bws(v));
    Ok(match offending {
        Some(v) => Verdict::fail("`name=value` without whitespace around `=`", v.to_string()),
        None => Verdict::Pass,
    })
}

const CHALLENGE_SIZE: Case = case! {
    id: "challenge.size",
    requirement: "core.size.challenge",
    level: Should,
    title: "each challenge is under 8 KB",
    run: challenge_size,
};
async fn challenge_size(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    for c in e.valid_challenges() {
        let len = c.to_header().map(|h| h.len()).unwrap_or(0);
        if len >= 8 * 1024 {
            return Ok(Verdict::fail(
                "each challenge under 8 KB",
                format!("a {}-byte challenge ({})", len, c.method),
            ));
        }
    }
    Ok(Verdict::Pass)
}

const CHARGE_REQUEST: Case = case! {
    id: "challenge.charge-request",
    requirement: "charge.request.shared-fields",
    level: Must,
    title: "a charge request has `amount` (a base-unit integer string) and `currency`",
    run: charge_request,
};
async fn charge_request(ctx: &Ctx) -> Outcome {
    let requests = charge_requests(ctx).await?;
    for (method, r) in requests {
        let amount = r.get("amount").and_then(Value::as_str);
        let amount_ok =
            amount.is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
        let currency_ok = r
            .get("currency")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty());
        if !(amount_ok && currency_ok) {
            return Ok(Verdict::fail(
                "`amount` as a string of digits and a non-empty `currency`",
                format!(
                    "{method}: amount {:?}, currency {:?}",
                    r.get("amount"),
                    r.get("currency")
                ),
            ));
        }
    }
    Ok(Verdict::Pass)
}

const CHARGE_NO_EXPIRY: Case = case! {
    id: "challenge.charge-no-expires-member",
    requirement: "charge.request.no-expiry",
    level: MustNot,
    title: "a charge request has no `expires` member (expiry travels in the parameter)",
    run: charge_no_expiry,
};
async fn charge_no_expiry(ctx: &Ctx) -> Outcome {
    let requests = charge_requests(ctx).await?;
    Ok(
        match requests.iter().find(|(_, r)| r.contains_key("expires")) {
            Some((method, r)) => Verdict::fail(
                "no `expires` member in the request",
                format!("{method}: expires {:?}", r.get("expires")),
            ),
            None => Verdict::Pass,
        },
    )
}

const EXPIRES_PRESENT: Case = case! {
    id: "challenge.expires-present",
    requirement: "core.challenge.expires.include",
    level: Should,
    title: "each challenge carries `expires`",
    run: expires_present,
};
async fn expires_present(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    let missing = e
        .valid_challenges()
        .iter()
        .filter(|c| c.expires.is_none())
        .count();
    Ok(Verdict::check(
        missing == 0,
        "`expires` on every challenge",
        format!("{missing} challenge(s) without it"),
    ))
}

const EXPIRES_FUTURE: Case = case! {
    id: "challenge.expires-future",
    requirement: "core.grammar.expires.rfc3339",
    level: Must,
    title: "`expires` is an RFC 3339 instant in the future",
    run: expires_future,
};
async fn expires_future(ctx: &Ctx) -> Outcome {
    let e = first_402(ctx).await?;
    let now = UnixTime::from(SystemTime::now());
    for c in e.valid_challenges() {
        if let Some(t) = &c.expires {
            if t.is_expired_at(now) {
                return Ok(Verdict::fail(
                    "an `expires` in the future",
                    format!("{} (already past)", t.as_str()),
                ));
            }
        }
    }
    Ok(Verdict::Pass)
}

const FRESH_IDS: Case = case! {
    id: "challenge.fresh-ids",
    requirement: "core.caching.challenge-fresh",
    level: MustNot,
    title: "two 402s for the same resource carry different challenge ids",
    run: fresh_ids,
};
async fn fresh_ids(ctx: &Ctx) -> Outcome {
    let (a, b) = (first_402(ctx).await, first_402(ctx).await);
    let (a, b) = (a?, b?);
    let ids = |e: &Exchange| {
        e.valid_challenges()
            .into_iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>()
    };
    let (a, b) = (ids(&a), ids(&b));
    Ok(Verdict::check(
        a.iter().all(|id| !b.contains(id)),
        "different ids",
        format!("ids repeated: {a:?} then {b:?}"),
    ))
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
