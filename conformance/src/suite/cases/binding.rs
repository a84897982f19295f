//! The binding of the echo to the challenge: a never-issued id and every bound
//! field tampered with, dropped or expired.

use std::time::SystemTime;

use mpp_core::credential::Credential;
use mpp_core::json::Value;
use mpp_core::problem::ProblemType;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{IntentName, MethodName, Realm};

use super::{Outcome, case, challenge, edit_request, refused_as, refused_tampered, send_edited};
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Binding";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[
    UNKNOWN_ID,
    TAMPERED_REALM,
    TAMPERED_METHOD,
    TAMPERED_INTENT,
    TAMPERED_AMOUNT,
    TAMPERED_CURRENCY,
    TAMPERED_RECIPIENT,
    TAMPERED_EXPIRES,
    DROPPED_EXPIRES,
    TAMPERED_OPAQUE,
    EXPIRED_ECHO,
];

const UNKNOWN_ID: Case = case! {
    id: "binding.unknown-id",
    requirement: "core.errors.invalid-challenge",
    level: Must,
    title: "a credential for a challenge id never issued: 402, a fresh challenge, invalid-challenge",
    run: unknown_id,
};
async fn unknown_id(ctx: &Ctx) -> Outcome {
    let c = challenge(ctx).await?;
    let e = send_edited(ctx, &c, |cred| {
        let forged = format!("{}x", cred.challenge.id.as_str().trim_end_matches('x'));
        if let Ok(id) = mpp_core::value::ChallengeId::from_string(forged) {
            cred.challenge.id = id;
        }
    })
    .await?;
    Ok(refused_as(&e, ProblemType::InvalidChallenge))
}

const TAMPERED_REALM: Case = case! {
    id: "binding.tampered-realm",
    requirement: "core.binding.echo-mismatch",
    level: Must,
    title: "an echo with another realm is refused",
    run: tampered_realm,
};
async fn tampered_realm(ctx: &Ctx) -> Outcome {
    tamper(ctx, |cred| {
        if let Ok(realm) = Realm::from_string(format!("{}.evil", cred.challenge.realm)) {
            cred.challenge.realm = realm;
        }
    })
    .await
}

const TAMPERED_METHOD: Case = case! {
    id: "binding.tampered-method",
    requirement: "core.binding.echo-mismatch",
    level: Must,
    title: "an echo with another method is refused",
    run: tampered_method,
};
async fn tampered_method(ctx: &Ctx) -> Outcome {
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

const TAMPERED_INTENT: Case = case! {
    id: "binding.tampered-intent",
    requirement: "core.binding.echo-mismatch",
    level: Must,
    title: "an echo with another intent is refused",
    run: tampered_intent,
};
async fn tampered_intent(ctx: &Ctx) -> Outcome {
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

const TAMPERED_AMOUNT: Case = case! {
    id: "binding.tampered-amount",
    requirement: "charge.verify.amount",
    level: Must,
    title: "an echo with a lower amount is refused",
    run: tampered_amount,
};
async fn tampered_amount(ctx: &Ctx) -> Outcome {
    tamper(ctx, |cred| {
        edit_request(cred, |r| {
            r.insert("amount".into(), "1".into());
        })
    })
    .await
}

const TAMPERED_CURRENCY: Case = case! {
    id: "binding.tampered-currency",
    requirement: "core.binding.echo-mismatch",
    level: Must,
    title: "an echo with another currency is refused",
    run: tampered_currency,
};
async fn tampered_currency(ctx: &Ctx) -> Outcome {
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

const TAMPERED_RECIPIENT: Case = case! {
    id: "binding.tampered-recipient",
    requirement: "charge.verify.recipient",
    level: Must,
    title: "an echo with another recipient is refused",
    run: tampered_recipient,
};
async fn tampered_recipient(ctx: &Ctx) -> Outcome {
    tamper(ctx, |cred| {
        edit_request(cred, |r| {
            r.insert("recipient".into(), "acct_attacker".into());
        })
    })
    .await
}

const TAMPERED_EXPIRES: Case = case! {
    id: "binding.tampered-expires",
    requirement: "core.binding.id.bound",
    level: Must,
    title: "an echo whose `expires` was moved later is refused",
    run: tampered_expires,
};
async fn tampered_expires(ctx: &Ctx) -> Outcome {
    tamper(ctx, |cred| {
        let later = cred
            .challenge
            .expires
            .as_ref()
            .map_or(UnixTime::from(SystemTime::now()).secs(), |t| {
                t.unix().secs()
            })
            + 86_400;
        cred.challenge.expires = Timestamp::from_unix(UnixTime::from_secs(later));
    })
    .await
}

const DROPPED_EXPIRES: Case = case! {
    id: "binding.dropped-expires",
    requirement: "core.binding.id.bound",
    level: Must,
    title: "an echo without its `expires` is refused",
    run: dropped_expires,
};
async fn dropped_expires(ctx: &Ctx) -> Outcome {
    let c = challenge(ctx).await?;
    if c.expires.is_none() {
        return Ok(Verdict::NotApplicable(
            "the challenge has no `expires` to drop".into(),
        ));
    }
    let e = send_edited(ctx, &c, |cred| cred.challenge.expires = None).await?;
    Ok(refused_tampered(ctx, &c, &e))
}

const TAMPERED_OPAQUE: Case = case! {
    id: "binding.tampered-opaque",
    requirement: "core.binding.opaque.bound",
    level: Must,
    title: "an echo with `opaque` changed or dropped is refused",
    run: tampered_opaque,
};
async fn tampered_opaque(ctx: &Ctx) -> Outcome {
    let c = challenge(ctx).await?;
    if c.opaque.is_none() {
        return Ok(Verdict::NotApplicable(
            "the challenge has no `opaque`".into(),
        ));
    }
    let e = send_edited(ctx, &c, |cred| cred.challenge.opaque = None).await?;
    refused_tampered(ctx, &c, &e).passed()?;
    let c = challenge(ctx).await?;
    let e = send_edited(ctx, &c, |cred| {
        cred.challenge.opaque = Some(mpp_core::value::Opaque::encode([("tampered", "1")]));
    })
    .await?;
    Ok(refused_tampered(ctx, &c, &e))
}

const EXPIRED_ECHO: Case = case! {
    id: "binding.expired-echo",
    requirement: "charge.verify.expiry",
    level: Must,
    title: "an echo whose `expires` is in the past is refused",
    run: expired_echo,
};
async fn expired_echo(ctx: &Ctx) -> Outcome {
    tamper(ctx, |cred| {
        cred.challenge.expires = Timestamp::from_unix(UnixTime::from_secs(
            UnixTime::from(SystemTime::now()).secs() - 3600,
        ));
    })
    .await
}

async fn tamper(ctx: &Ctx, edit: impl FnOnce(&mut Credential)) -> Outcome {
    let c = challenge(ctx).await?;
    let e = send_edited(ctx, &c, edit).await?;
    Ok(refused_tampered(ctx, &c, &e))
}
