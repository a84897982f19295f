//! Credentials the server must refuse: malformed, with a bad proof, several at
//! once, in the wrong header field; and a large one it must process.

use mpp_core::base64;
use mpp_core::credential::CredentialField;
use mpp_core::problem::ProblemType;

use super::{Outcome, case, challenge, refused, refused_as, send_edited, unpaid, unreachable};
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Credentials";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[
    MALFORMED_BASE64,
    MALFORMED_JSON,
    BAD_PROOF,
    SEVERAL_CREDENTIALS,
    LARGE_CREDENTIAL,
    WRONG_FIELD,
];

const MALFORMED_BASE64: Case = case! {
    id: "credential.malformed-base64",
    requirement: "core.errors.malformed-credential",
    level: Must,
    title: "a credential that is not base64url: 402, a fresh challenge, malformed-credential",
    run: malformed_base64,
};
async fn malformed_base64(ctx: &Ctx) -> Outcome {
    malformed_with(ctx, "Payment !!not*base64url!!").await
}

const MALFORMED_JSON: Case = case! {
    id: "credential.malformed-json",
    requirement: "core.errors.malformed-credential",
    level: Must,
    title: "a credential that is not a JSON object: 402, a fresh challenge, malformed-credential",
    run: malformed_json,
};
async fn malformed_json(ctx: &Ctx) -> Outcome {
    malformed_with(ctx, &format!("Payment {}", base64::encode(b"[1,2,3]"))).await
}

const BAD_PROOF: Case = case! {
    id: "credential.bad-proof",
    requirement: "core.errors.verification-failed",
    level: Must,
    title: "an intact echo with a proof that does not verify: 402, a fresh challenge, verification-failed",
    run: bad_proof,
};
async fn bad_proof(ctx: &Ctx) -> Outcome {
    let c = challenge(ctx).await?;
    // A proof of the right shape that cannot verify when the suite knows the
    // method, else an empty payload (which some servers may call malformed instead:
    // not conclusive).
    let known = ctx.can_pay(&c);
    let wrong = match known {
        true => Some(ctx.wrong_payload().await.map_err(unpaid)?),
        false => None,
    };
    let e = send_edited(ctx, &c, |cred| {
        if let Some(wrong) = wrong {
            cred.payload = wrong;
        }
    })
    .await?;
    if known {
        return Ok(refused_as(&e, ProblemType::VerificationFailed));
    }
    Ok(match e.problem_type() {
        Some(ProblemType::MalformedCredential) if refused(&e) == Verdict::Pass => {
            Verdict::NotApplicable(format!(
                "an empty payload was called malformed ({}); run with --pay for a conclusive proof",
                e.describe()
            ))
        }
        _ => refused_as(&e, ProblemType::VerificationFailed),
    })
}

const SEVERAL_CREDENTIALS: Case = case! {
    id: "credential.several",
    requirement: "core.credential.several.reject",
    level: Should,
    title: "a request with two Payment credentials (in the selected field) is answered 400",
    run: several_credentials,
};
async fn several_credentials(ctx: &Ctx) -> Outcome {
    let (a, b) = (challenge(ctx).await, challenge(ctx).await);
    let (a, b) = (a?, b?);
    // Both in the field the challenges select: whether one in each field counts as
    // "several" is left open by the draft (decision D14).
    let (ca, cb) = (
        ctx.credential(&a).await.map_err(unpaid)?.to_header(),
        ctx.credential(&b).await.map_err(unpaid)?.to_header(),
    );
    let field = Ctx::field(&a);
    let e = ctx
        .get(&[(field, &ca), (field, &cb)])
        .await
        .map_err(unreachable)?;
    Ok(Verdict::check(e.status == 400, "400", e.describe()))
}

const LARGE_CREDENTIAL: Case = case! {
    id: "credential.large",
    requirement: "core.size.server-credential",
    level: Must,
    title: "a credential over 4 KiB is processed, not refused for its size",
    run: large_credential,
};
async fn large_credential(ctx: &Ctx) -> Outcome {
    let c = challenge(ctx).await?;
    let e = send_edited(ctx, &c, |cred| {
        cred.payload
            .insert("padding".into(), "p".repeat(5000).into());
    })
    .await?;
    Ok(Verdict::check(
        !(e.status == 431 || e.status == 413 || e.status >= 500),
        "a credential over 4 KiB to be processed",
        e.describe(),
    ))
}

const WRONG_FIELD: Case = case! {
    id: "credential.wrong-field",
    requirement: "core.credential.field.server-selected",
    level: Must,
    title: "a credential in another header field than the one the challenge selects does not pay",
    run: wrong_field,
};
async fn wrong_field(ctx: &Ctx) -> Outcome {
    let c = challenge(ctx).await?;
    let credential = ctx.credential(&c).await.map_err(unpaid)?.to_header();
    let other = match c.credential_field {
        CredentialField::Authorization => "payment-authorization",
        CredentialField::PaymentAuthorization => "authorization",
    };
    let expected = format!(
        "a credential in {other} not to pay (the challenge selects {})",
        Ctx::field(&c)
    );
    let e = ctx
        .get(&[(other, credential.as_str())])
        .await
        .map_err(unreachable)?;
    if e.status / 100 == 2 {
        return Ok(Verdict::fail(expected, e.describe()));
    }
    Ok(match e.problem_type() {
        // Without a valid proof nothing would pay anyway: only a server that looked at
        // the credential (a problem other than payment-required) shows the mistake.
        Some(p) if !ctx.can_pay(&c) && p != ProblemType::PaymentRequired => Verdict::fail(
            expected,
            format!("the credential was examined: {}", e.describe()),
        ),
        _ => refused(&e),
    })
}

async fn malformed_with(ctx: &Ctx, value: &str) -> Outcome {
    let c = challenge(ctx).await?;
    let e = ctx.pay_with(&c, value).await.map_err(unreachable)?;
    Ok(refused_as(&e, ProblemType::MalformedCredential))
}
