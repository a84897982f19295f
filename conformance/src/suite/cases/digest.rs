//! The body digest of a paid POST: offered on the challenge, enforced on payment.

use bytes::Bytes;
use http::Method;
use mpp_core::challenge::Challenge;

use super::{Outcome, case, unpaid, unreachable};
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Body digest";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[DIGEST_PRESENT, DIGEST_ENFORCED];

const DIGEST_PRESENT: Case = case! {
    id: "digest.challenge-has-digest",
    requirement: "core.digest.include",
    level: Should,
    title: "a challenge for a request with a body carries `digest`",
    run: digest_present,
};
async fn digest_present(ctx: &Ctx) -> Outcome {
    let (url, c) = post_challenge(ctx, b"{\"q\":\"conformance\"}").await?;
    Ok(Verdict::check(
        c.digest.is_some(),
        format!("`digest` on the challenge for POST {url}"),
        "no digest",
    ))
}

const DIGEST_ENFORCED: Case = case! {
    id: "digest.other-body-refused",
    requirement: "core.digest.verify",
    level: Must,
    pays: true,
    title: "a credential for one body does not pay for another",
    run: digest_enforced,
};
async fn digest_enforced(ctx: &Ctx) -> Outcome {
    let (url, c) = post_challenge(ctx, b"{\"q\":\"original\"}").await?;
    if !ctx.can_pay(&c) {
        return Ok(Verdict::NotApplicable(
            "the POST route offers no challenge the suite can pay".into(),
        ));
    }
    if c.digest.is_none() {
        return Ok(Verdict::NotApplicable(
            "the POST challenge has no `digest`".into(),
        ));
    }
    let credential = ctx.credential(&c).await.map_err(unpaid)?.to_header();
    let field = Ctx::field(&c);
    let e = ctx
        .send(
            Method::POST,
            &url,
            &[(field, &credential)],
            Some(Bytes::from_static(b"{\"q\":\"changed\"}")),
        )
        .await
        .map_err(unreachable)?;
    if e.status / 100 == 2 {
        return Ok(Verdict::fail(
            "the credential not to pay for another body",
            e.describe(),
        ));
    }
    // The same credential with the original body may have been used up by the
    // refusal; a fresh one must pay.
    let (url, c) = post_challenge(ctx, b"{\"q\":\"original\"}").await?;
    let credential = ctx.credential(&c).await.map_err(unpaid)?.to_header();
    let e = ctx
        .send(
            Method::POST,
            &url,
            &[(Ctx::field(&c), &credential)],
            Some(Bytes::from_static(b"{\"q\":\"original\"}")),
        )
        .await
        .map_err(unreachable)?;
    Ok(Verdict::check(
        e.status / 100 == 2,
        "the same body to pay (2xx)",
        e.describe(),
    ))
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
