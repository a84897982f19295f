//! Invalid JSON-RPC: each message names the priced call (with a valid credential
//! when the suite can pay) but breaks a rule of JSON-RPC 2.0; the answer is the
//! error code JSON-RPC 2.0 names for it, and nothing is charged or run.
//!
//! Over MCP's Streamable HTTP, a server that cannot accept a message "MUST return
//! an HTTP error status code" and MAY add a JSON-RPC error without an id; so there
//! a 4xx with no JSON-RPC answer also passes, and a JSON-RPC error, when sent, must
//! still carry the code named here.

use bytes::Bytes;
use mpp_core::jsonrpc::{INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR};
use serde_json::{Value, json};

use super::{Outcome, case, credential, no_run_since, runs, unreachable};
use crate::mcp::McpCase;
use crate::mcp::wire::{McpCtx, Transport, credential_meta};
use crate::suite::Verdict;

const SECTION: &str = "Invalid JSON-RPC";

/// The section's cases, in running order.
pub(super) const CASES: &[McpCase] = &[VERSION, ID_TYPE, PARSE, EMPTY_BATCH, DEEP];

/// The priced call, with the suite's credential for a fresh challenge when there
/// is one.
async fn priced_call(ctx: &McpCtx) -> Value {
    let meta = match super::challenge(ctx).await {
        Ok(c) => credential(ctx, &c).ok().map(credential_meta),
        Err(_) => None,
    };
    ctx.call_message(&ctx.options().priced, meta, Some(ctx.id()))
}

/// Sends `body` and checks the answer is an error with one of `codes`, with no
/// result or receipt, and that no paid handler ran.
async fn expect_error(ctx: &McpCtx, body: Bytes, codes: &[i64], what: &str) -> Outcome {
    let before = runs(ctx).await;
    let reply = ctx
        .post(body, Some(&Value::Null))
        .await
        .map_err(unreachable)?;
    no_run_since(ctx, before).await?;
    let code = reply.code();
    let charged = reply.responses().iter().any(|r| r.contains_key("result"))
        || reply.receipt_place().is_some();
    let http_refusal = ctx.transport() == Transport::Mcp
        && (400..500).contains(&reply.status)
        && reply.responses().is_empty();
    let ok = !charged && (http_refusal || code.is_some_and(|c| codes.contains(&c)));
    let what = match ctx.transport() {
        Transport::Mcp => format!("{what} (or an HTTP 4xx without a JSON-RPC answer)"),
        Transport::Rpc => what.to_owned(),
    };
    Ok(Verdict::check(ok, what, reply.describe()))
}

const VERSION: McpCase = case! {
    id: "jsonrpc.version",
    requirements: [],
    reference: "JSON-RPC 2.0 §4, §5.1 (-32600)",
    level: Must,
    title: "a priced call with \"jsonrpc\": \"1.0\" gets -32600 Invalid Request, never a charge",
    run: version,
};
async fn version(ctx: &McpCtx) -> Outcome {
    let mut message = priced_call(ctx).await;
    message["jsonrpc"] = json!("1.0");
    let body = Bytes::from(message.to_string());
    expect_error(ctx, body, &[INVALID_REQUEST], "error -32600, no result").await
}

const ID_TYPE: McpCase = case! {
    id: "jsonrpc.id-type",
    requirements: [],
    reference: "JSON-RPC 2.0 §4, §5.1 (-32600)",
    level: Must,
    title: "a priced call whose id is an object gets -32600 Invalid Request, never a charge",
    run: id_type,
};
async fn id_type(ctx: &McpCtx) -> Outcome {
    let mut message = priced_call(ctx).await;
    message["id"] = json!({"not": "an id"});
    let body = Bytes::from(message.to_string());
    expect_error(ctx, body, &[INVALID_REQUEST], "error -32600, no result").await
}

const PARSE: McpCase = case! {
    id: "jsonrpc.parse-error",
    requirements: [],
    reference: "JSON-RPC 2.0 §5.1 (-32700)",
    level: Must,
    title: "a priced call cut off in the middle (invalid JSON) gets -32700 Parse error",
    run: parse,
};
async fn parse(ctx: &McpCtx) -> Outcome {
    let text = priced_call(ctx).await.to_string();
    let body = Bytes::from(text[..text.len() / 2].to_owned());
    expect_error(ctx, body, &[PARSE_ERROR], "error -32700, no result").await
}

const EMPTY_BATCH: McpCase = case! {
    id: "jsonrpc.empty-batch",
    requirements: [],
    reference: "JSON-RPC 2.0 §6 (-32600)",
    level: Must,
    title: "an empty batch [] gets -32600 Invalid Request",
    run: empty_batch,
};
async fn empty_batch(ctx: &McpCtx) -> Outcome {
    expect_error(
        ctx,
        Bytes::from_static(b"[]"),
        &[INVALID_REQUEST],
        "error -32600",
    )
    .await
}

/// Deeper than any JSON reader of a server should follow: JSON-RPC 2.0 sets no
/// limit, so refusing it is a SHOULD, for a server's own safety (D11).
const DEPTH: usize = 10_000;

const DEEP: McpCase = case! {
    id: "jsonrpc.deep-nesting",
    requirements: [],
    reference: "JSON-RPC 2.0 §5.1 (-32700, -32600 or -32602); nesting limits, D11",
    level: Should,
    title: "a priced call whose params nest 10,000 arrays deep gets an error (-32700, -32600 or -32602), never a charge",
    run: deep,
};
async fn deep(ctx: &McpCtx) -> Outcome {
    let text = priced_call(ctx).await.to_string();
    // `"params":{` opens the params object; the nesting goes in as its first member.
    let Some(at) = text.find("\"params\":{") else {
        return Err(Verdict::fail("the suite to build the message", "no params"));
    };
    let at = at + "\"params\":{".len();
    let nested = format!("\"deep\":{}{},", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let body = format!("{}{nested}{}", &text[..at], &text[at..]);
    expect_error(
        ctx,
        Bytes::from(body),
        &[PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS],
        "error -32700, -32600 or -32602, no result",
    )
    .await
}
