//! The cases, one file per section. Each case is an `async fn(&McpCtx) -> Outcome`
//! with its id, requirements and level declared beside it ([`case!`]); [`all`] lists
//! the sections in running order.

mod capability;
mod credential;
mod jsonrpc;
mod notification;
mod paid;
mod signal;

use mpp_core::challenge::Challenge;
use mpp_core::jsonrpc::{INVALID_PARAMS, VERIFICATION_FAILED};

use super::McpCase;
use super::wire::{McpCtx, Reply};
use crate::suite::Verdict;

/// Declares a case beside its body: its id, the registry ids it checks (or, for a
/// rule of JSON-RPC 2.0 itself, `reference`), their level (a [`spec::Level`]
/// variant), `pays: true` when it needs a payment, its title, and `run`, the body.
/// The section is the `SECTION` of the file it is declared in.
macro_rules! case {
    (
        id: $id:literal,
        requirements: [$($requirement:literal),* $(,)?],
        $(reference: $reference:literal,)?
        level: $level:ident,
        $(pays: $pays:literal,)?
        title: $title:literal,
        run: $run:ident $(,)?
    ) => {
        $crate::mcp::McpCase {
            id: $id,
            section: SECTION,
            requirements: &[$($requirement),*],
            reference: case!(@reference $($reference)?),
            level: spec::Level::$level,
            pays: case!(@pays $($pays)?),
            title: $title,
            run: |ctx| Box::pin(async move { $run(ctx).await.unwrap_or_else(|early| early) }),
        }
    };
    (@pays) => { false };
    (@pays $pays:literal) => { $pays };
    (@reference) => { "" };
    (@reference $reference:literal) => { $reference };
}
use case;

/// What a case body returns: `Err` holds the verdict it stopped with early
/// (through `?`), `Ok` the one it reached at the end.
type Outcome = Result<Verdict, Verdict>;

/// Every case, in running order.
pub(super) fn all() -> Vec<McpCase> {
    [
        capability::CASES,
        signal::CASES,
        credential::CASES,
        paid::CASES,
        notification::CASES,
        jsonrpc::CASES,
    ]
    .concat()
}

/// `Ok(())` on a pass; otherwise the verdict, for `?` to return.
fn passed(verdict: Verdict) -> Result<(), Verdict> {
    match verdict {
        Verdict::Pass => Ok(()),
        other => Err(other),
    }
}

fn unreachable(e: String) -> Verdict {
    Verdict::fail("the server to answer", e)
}

/// The answer to a call of the priced tool or method without a credential.
async fn unpaid(ctx: &McpCtx) -> Result<Reply, Verdict> {
    ctx.call(&ctx.options().priced, None)
        .await
        .map_err(unreachable)
}

/// A fresh challenge for the priced call: the first the suite can pay, else the
/// first valid one; not applicable when the answer has none.
async fn challenge(ctx: &McpCtx) -> Result<Challenge<'static>, Verdict> {
    challenge_for(ctx, &ctx.options().priced).await
}

async fn challenge_for(ctx: &McpCtx, name: &str) -> Result<Challenge<'static>, Verdict> {
    let reply = ctx.call(name, None).await.map_err(unreachable)?;
    let challenges = reply.challenges();
    challenges
        .iter()
        .find(|c| ctx.can_pay(c))
        .or_else(|| challenges.first())
        .cloned()
        .ok_or_else(|| {
            Verdict::NotApplicable(format!(
                "no valid challenge for `{name}` ({})",
                reply.describe()
            ))
        })
}

/// A fresh challenge the suite can pay.
async fn payable(ctx: &McpCtx) -> Result<Challenge<'static>, Verdict> {
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

/// The suite's credential for `challenge`, as JSON.
fn credential(ctx: &McpCtx, challenge: &Challenge<'_>) -> Result<serde_json::Value, Verdict> {
    ctx.credential(challenge)
        .map(serde_json::Value::Object)
        .map_err(|e| Verdict::fail("the suite to write a credential", e))
}

/// What every refusal must be: -32602 (a malformed credential), or -32043 with
/// fresh valid challenges (not the one `sent`); never a result, never a receipt.
fn refused(reply: &Reply, sent: &str) -> Verdict {
    match reply.code() {
        Some(INVALID_PARAMS) => no_receipt(reply),
        _ => refused_verification(reply, sent),
    }
}

/// A refusal of a well-formed credential: -32043 with fresh valid challenges and no
/// receipt.
fn refused_verification(reply: &Reply, sent: &str) -> Verdict {
    let challenges = reply.challenges();
    let fresh = !challenges.is_empty() && challenges.iter().all(|c| c.id.as_str() != sent);
    if reply.code() == Some(VERIFICATION_FAILED) && fresh {
        no_receipt(reply)
    } else {
        Verdict::fail(
            "error -32043 with fresh challenges (or -32602 for a malformed credential), no result",
            reply.describe(),
        )
    }
}

fn no_receipt(reply: &Reply) -> Verdict {
    Verdict::check(
        reply.receipt_place().is_none(),
        "no receipt on a refusal",
        reply.describe(),
    )
}

/// Whether the answer is a successful, paid-for call.
fn served(reply: &Reply) -> bool {
    reply.result().is_some() && !reply.is_tool_error()
}

/// The paid handler runs `/stats` reports now, or `None` without `/stats`.
async fn runs(ctx: &McpCtx) -> Option<u64> {
    ctx.paid_runs().await
}

/// Fails when `/stats` shows a paid handler ran since `before`.
async fn no_run_since(ctx: &McpCtx, before: Option<u64>) -> Result<(), Verdict> {
    if let (Some(before), Some(after)) = (before, runs(ctx).await) {
        if after != before {
            return Err(Verdict::fail(
                "no paid handler to run",
                format!("/stats: paidHandlerRuns went from {before} to {after}"),
            ));
        }
    }
    Ok(())
}
