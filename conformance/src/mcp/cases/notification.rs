//! Notifications: a priced call without an id is never run, charged or answered.

use super::{Outcome, case, credential, no_run_since, payable, runs, served, unreachable};
use crate::mcp::McpCase;
use crate::mcp::wire::{McpCtx, Reply, credential_meta};
use crate::suite::Verdict;

const SECTION: &str = "Notifications";

/// The section's cases, in running order.
pub(super) const CASES: &[McpCase] = &[NO_ANSWER, NOT_CHARGED, NOT_RUN];

/// Sends the priced call as a notification, with `credential` in `params._meta`.
async fn notify(ctx: &McpCtx, credential: Option<serde_json::Value>) -> Result<Reply, Verdict> {
    let message = ctx.call_message(&ctx.options().priced, credential.map(credential_meta), None);
    ctx.send(&message).await.map_err(unreachable)
}

const NO_ANSWER: McpCase = case! {
    id: "notification.no-answer",
    requirements: ["mcp.notifications.drop"],
    level: Should,
    title: "a priced call sent as a notification gets no JSON-RPC answer (HTTP 202, empty)",
    run: no_answer,
};
async fn no_answer(ctx: &McpCtx) -> Outcome {
    let reply = notify(ctx, None).await?;
    Ok(Verdict::check(
        reply.responses().is_empty() && reply.junk.is_none(),
        "no JSON-RPC response (202 with an empty body)",
        reply.describe(),
    ))
}

const NOT_CHARGED: McpCase = case! {
    id: "notification.not-charged",
    requirements: ["mcp.notifications.not-processed"],
    level: MustNot,
    pays: true,
    title: "a priced notification carrying a valid credential does not use it up: the same credential then pays a call",
    run: not_charged,
};
async fn not_charged(ctx: &McpCtx) -> Outcome {
    let c = payable(ctx).await?;
    let value = credential(ctx, &c)?;
    notify(ctx, Some(value.clone())).await?;
    let reply = ctx
        .call(&ctx.options().priced, Some(value))
        .await
        .map_err(unreachable)?;
    Ok(Verdict::check(
        served(&reply),
        "the credential still pays (the notification charged nothing)",
        reply.describe(),
    ))
}

const NOT_RUN: McpCase = case! {
    id: "notification.not-run",
    requirements: ["mcp.notifications.not-processed"],
    level: MustNot,
    pays: true,
    title: "a priced notification carrying a valid credential runs nothing (the server's /stats counts paid runs)",
    run: not_run,
};
async fn not_run(ctx: &McpCtx) -> Outcome {
    let Some(before) = runs(ctx).await else {
        return Err(Verdict::NotApplicable(
            "the server has no /stats with paidHandlerRuns to show what ran".into(),
        ));
    };
    let c = payable(ctx).await?;
    let value = credential(ctx, &c)?;
    notify(ctx, Some(value)).await?;
    // The notification is answered before anything it started may finish.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    no_run_since(ctx, Some(before)).await?;
    Ok(Verdict::Pass)
}
