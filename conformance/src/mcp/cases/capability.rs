//! The payment capability an MCP server advertises in `initialize`.

use serde_json::Value;

use super::{Outcome, case};
use crate::mcp::McpCase;
use crate::mcp::wire::{McpCtx, Transport};
use crate::suite::Verdict;

const SECTION: &str = "Capability";

/// The section's cases, in running order.
pub(super) const CASES: &[McpCase] = &[ADVERTISED, INTENTS];

/// `capabilities.experimental.payment` of the `initialize` result.
async fn capability(ctx: &McpCtx) -> Result<Option<Value>, Verdict> {
    if ctx.transport() == Transport::Rpc {
        return Err(Verdict::NotApplicable(
            "plain JSON-RPC has no initialize".into(),
        ));
    }
    let result = ctx
        .initialize_result()
        .await
        .map_err(|e| Verdict::fail("the server to answer initialize", e))?;
    Ok(result
        .pointer("/capabilities/experimental/payment")
        .cloned())
}

const ADVERTISED: McpCase = case! {
    id: "capability.advertised",
    requirements: ["mcp.capability.advertise"],
    level: Should,
    title: "initialize advertises capabilities.experimental.payment",
    run: advertised,
};
async fn advertised(ctx: &McpCtx) -> Outcome {
    let payment = capability(ctx).await?;
    Ok(Verdict::check(
        payment.is_some(),
        "capabilities.experimental.payment",
        "absent",
    ))
}

const INTENTS: McpCase = case! {
    id: "capability.intents",
    requirements: ["mcp.capability.intents"],
    level: Must,
    title: "every method of the advertised capability lists its intents",
    run: intents,
};
async fn intents(ctx: &McpCtx) -> Outcome {
    let Some(payment) = capability(ctx).await? else {
        return Err(Verdict::NotApplicable(
            "no payment capability advertised".into(),
        ));
    };
    let Some(methods) = payment.get("methods").and_then(Value::as_object) else {
        return Ok(Verdict::fail(
            "payment.methods: an object of methods",
            format!("payment: {payment}"),
        ));
    };
    if methods.is_empty() {
        return Ok(Verdict::fail(
            "one or more methods",
            "payment.methods is empty",
        ));
    }
    for (method, entry) in methods {
        let ok = entry
            .get("intents")
            .and_then(Value::as_array)
            .is_some_and(|list| !list.is_empty() && list.iter().all(Value::is_string));
        if !ok {
            return Ok(Verdict::fail(
                "each method's intents: a non-empty array of names",
                format!("payment.methods.{method}: {entry}"),
            ));
        }
    }
    Ok(Verdict::Pass)
}
