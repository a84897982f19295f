//! Paying: the receipt of a paid call, and a credential that pays once, for one call.

use mpp_core::time::Timestamp;
use serde_json::Value;

use super::{
    Outcome, case, challenge_for, credential, passed, payable, refused_verification, served,
    unreachable,
};
use crate::mcp::McpCase;
use crate::mcp::wire::{McpCtx, Reply, Transport};
use crate::suite::Verdict;

const SECTION: &str = "Paid calls";

/// The section's cases, in running order.
pub(super) const CASES: &[McpCase] = &[RECEIPT, REPLAY, OTHER_TOOL, CONCURRENT];

/// Pays a fresh challenge once: the challenge id, the credential and the answer.
async fn pay_once(ctx: &McpCtx) -> Result<(String, Value, Reply), Verdict> {
    let c = payable(ctx).await?;
    let value = credential(ctx, &c)?;
    let reply = ctx
        .call(&ctx.options().priced, Some(value.clone()))
        .await
        .map_err(unreachable)?;
    Ok((c.id.to_string(), value, reply))
}

/// [`pay_once`], not applicable unless the payment went through.
async fn paid(ctx: &McpCtx) -> Result<(String, Value, Reply), Verdict> {
    let (id, value, reply) = pay_once(ctx).await?;
    if !served(&reply) {
        return Err(Verdict::NotApplicable(format!(
            "the payment itself was refused ({})",
            reply.describe()
        )));
    }
    Ok((id, value, reply))
}

const RECEIPT: McpCase = case! {
    id: "paid.receipt",
    requirements: ["mcp.receipt.paid", "mcp.receipt.members"],
    level: Must,
    pays: true,
    title: "a paid call succeeds with a receipt in result._meta: status success, method, timestamp, challengeId of the paid challenge",
    run: receipt,
};
async fn receipt(ctx: &McpCtx) -> Outcome {
    let (id, _, reply) = pay_once(ctx).await?;
    passed(Verdict::check(served(&reply), "a result", reply.describe()))?;
    let Some((receipt, place)) = reply.receipt() else {
        return Ok(Verdict::fail(
            "org.paymentauth/receipt in result._meta",
            reply.describe(),
        ));
    };
    // MCP results are objects and carry it there; a plain JSON-RPC result may be
    // anything, so its receipt may sit in the root _meta.
    if ctx.transport() == Transport::Mcp && place != "result._meta" {
        return Ok(Verdict::fail(
            "the receipt in result._meta",
            format!("the receipt in {place}"),
        ));
    }
    let text = |name: &str| receipt.get(name).and_then(Value::as_str);
    let timestamp_ok = text("timestamp").is_some_and(|t| Timestamp::new(t).is_ok());
    let checks = [
        (text("status") == Some("success"), "status \"success\""),
        (
            text("method") == Some("preimage"),
            "method \"preimage\" (the method paid)",
        ),
        (timestamp_ok, "timestamp, an RFC 3339 instant"),
        (
            text("challengeId") == Some(id.as_str()),
            "challengeId, the id of the challenge paid",
        ),
    ];
    for (ok, what) in checks {
        if !ok {
            return Ok(Verdict::fail(
                format!("a receipt with {what}"),
                format!(
                    "status {:?}, method {:?}, timestamp {:?}, challengeId {}",
                    text("status"),
                    text("method"),
                    text("timestamp"),
                    match text("challengeId") {
                        None => "absent",
                        Some(c) if c == id => "the paid id",
                        Some(_) => "another id",
                    }
                ),
            ));
        }
    }
    Ok(Verdict::Pass)
}

const REPLAY: McpCase = case! {
    id: "paid.replay",
    requirements: ["mcp.replay.used"],
    level: Must,
    pays: true,
    title: "a credential used once is refused the second time: -32043 with fresh challenges",
    run: replay,
};
async fn replay(ctx: &McpCtx) -> Outcome {
    let (id, value, _) = paid(ctx).await?;
    let again = ctx
        .call(&ctx.options().priced, Some(value))
        .await
        .map_err(unreachable)?;
    Ok(refused_verification(&again, &id))
}

const OTHER_TOOL: McpCase = case! {
    id: "paid.other-tool",
    requirements: ["mcp.binding.operation"],
    level: Should,
    pays: true,
    title: "a credential for one priced tool is refused by another priced tool",
    run: other_tool,
};
async fn other_tool(ctx: &McpCtx) -> Outcome {
    if ctx.transport() == Transport::Rpc {
        return Err(Verdict::NotApplicable(
            "plain JSON-RPC has no tools/list to find a second priced method".into(),
        ));
    }
    let priced = ctx.options().priced.clone();
    let free = ctx.options().free.clone();
    let mut other = None;
    for name in ctx.tool_names().await {
        if name == priced || Some(&name) == free.as_ref() {
            continue;
        }
        if challenge_for(ctx, &name).await.is_ok() {
            other = Some(name);
            break;
        }
    }
    let Some(other) = other else {
        return Err(Verdict::NotApplicable(
            "tools/list names no second priced tool".into(),
        ));
    };
    let c = payable(ctx).await?;
    let value = credential(ctx, &c)?;
    let reply = ctx.call(&other, Some(value)).await.map_err(unreachable)?;
    Ok(refused_verification(&reply, c.id.as_str()))
}

const CONCURRENT: McpCase = case! {
    id: "paid.concurrent",
    requirements: ["mcp.replay.atomic"],
    level: Must,
    pays: true,
    title: "two simultaneous calls with one credential: exactly one succeeds",
    run: concurrent,
};
async fn concurrent(ctx: &McpCtx) -> Outcome {
    let c = payable(ctx).await?;
    let value = credential(ctx, &c)?;
    let name = ctx.options().priced.clone();
    let (a, b) = tokio::join!(
        ctx.call(&name, Some(value.clone())),
        ctx.call(&name, Some(value))
    );
    let a = a.map_err(unreachable)?;
    let b = b.map_err(unreachable)?;
    let served = [&a, &b].iter().filter(|r| served(r)).count();
    Ok(Verdict::check(
        served == 1,
        "exactly one of the two served",
        format!("{served} served: {}; {}", a.describe(), b.describe()),
    ))
}
