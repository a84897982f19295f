//! Credentials the server must refuse, or look for, or ignore.

use mpp_core::jsonrpc::{self, VERIFICATION_FAILED};
use serde_json::{Value, json};

use super::{
    Outcome, case, challenge, credential, passed, payable, refused, refused_verification,
    unreachable,
};
use crate::mcp::McpCase;
use crate::mcp::wire::{McpCtx, Reply, Transport, credential_meta};
use crate::suite::Verdict;

const SECTION: &str = "Credentials";

/// The section's cases, in running order.
pub(super) const CASES: &[McpCase] = &[
    NOT_OBJECT,
    NO_CHALLENGE,
    PAYLOAD_NOT_OBJECT,
    WRONG_PROOF,
    ALTERED_ID,
    ALTERED_REQUEST,
    ROOT_META,
    CONFLICTING_META,
    FREE_IGNORED,
];

/// Sends the suite's credential for a fresh challenge after `edit`; the answer and
/// the challenge id it answered.
async fn send_edited(
    ctx: &McpCtx,
    edit: impl FnOnce(&mut Value),
) -> Result<(Reply, String), Verdict> {
    let c = challenge(ctx).await?;
    let mut value = credential(ctx, &c)?;
    edit(&mut value);
    let reply = ctx
        .call(&ctx.options().priced, Some(value))
        .await
        .map_err(unreachable)?;
    Ok((reply, c.id.to_string()))
}

const NOT_OBJECT: McpCase = case! {
    id: "credential.not-object",
    requirements: ["mcp.errors.codes"],
    level: Must,
    title: "a credential that is not an object is refused (-32602, or -32043 with fresh challenges)",
    run: not_object,
};
async fn not_object(ctx: &McpCtx) -> Outcome {
    let (reply, sent) = send_edited(ctx, |v| *v = json!("Payment not-a-credential")).await?;
    Ok(refused(&reply, &sent))
}

const NO_CHALLENGE: McpCase = case! {
    id: "credential.no-challenge",
    requirements: ["mcp.errors.codes"],
    level: Must,
    title: "a credential without its challenge is refused",
    run: no_challenge,
};
async fn no_challenge(ctx: &McpCtx) -> Outcome {
    let (reply, sent) = send_edited(ctx, |v| {
        if let Value::Object(o) = v {
            o.remove("challenge");
        }
    })
    .await?;
    Ok(refused(&reply, &sent))
}

const PAYLOAD_NOT_OBJECT: McpCase = case! {
    id: "credential.payload-not-object",
    requirements: ["mcp.errors.codes"],
    level: Must,
    title: "a credential whose payload is not an object is refused",
    run: payload_not_object,
};
async fn payload_not_object(ctx: &McpCtx) -> Outcome {
    let (reply, sent) = send_edited(ctx, |v| {
        if let Value::Object(o) = v {
            o.insert("payload".into(), json!("not-a-payload"));
        }
    })
    .await?;
    Ok(refused(&reply, &sent))
}

const WRONG_PROOF: McpCase = case! {
    id: "credential.wrong-proof",
    requirements: ["mcp.errors.verification-failed"],
    level: Must,
    title: "a well-formed credential whose proof is wrong gets -32043 with fresh challenges and a failure object",
    run: wrong_proof,
};
async fn wrong_proof(ctx: &McpCtx) -> Outcome {
    let (reply, sent) = send_edited(ctx, |v| {
        // A proof of the right shape for the preimage method; an empty one otherwise,
        // which no method accepts either.
        let payload = match v.pointer("/challenge/method").and_then(Value::as_str) {
            Some("preimage") => json!({"preimage": "not-the-preimage"}),
            _ => json!({}),
        };
        if let Value::Object(o) = v {
            o.insert("payload".into(), payload);
        }
    })
    .await?;
    passed(refused_verification(&reply, &sent))?;
    let failure = reply.data().and_then(|d| d.get("failure"));
    Ok(Verdict::check(
        failure.is_some_and(Value::is_object),
        "data.failure: an object (reason, detail)",
        format!("{}; data.failure: {}", reply.describe(), present(failure)),
    ))
}

fn present(value: Option<&Value>) -> &'static str {
    match value {
        None => "absent",
        Some(Value::Object(_)) => "an object",
        Some(_) => "not an object",
    }
}

const ALTERED_ID: McpCase = case! {
    id: "credential.altered-id",
    requirements: ["mcp.replay.unknown"],
    level: Must,
    title: "a credential whose challenge id was altered is refused, even with a valid proof",
    run: altered_id,
};
async fn altered_id(ctx: &McpCtx) -> Outcome {
    let (reply, sent) = send_edited(ctx, |v| {
        if let Some(Value::String(id)) = v.pointer_mut("/challenge/id") {
            // Same length and alphabet: only the value is wrong.
            let flipped: String = id
                .chars()
                .enumerate()
                .map(|(i, ch)| match (i, ch) {
                    (0, 'A') => 'B',
                    (0, _) => 'A',
                    (_, ch) => ch,
                })
                .collect();
            *id = flipped;
        }
    })
    .await?;
    Ok(refused(&reply, &sent))
}

const ALTERED_REQUEST: McpCase = case! {
    id: "credential.altered-request",
    requirements: ["mcp.challenge.id-binding"],
    level: Must,
    title: "a credential whose echoed request was altered (a lower amount) is refused, even with a valid proof",
    run: altered_request,
};
async fn altered_request(ctx: &McpCtx) -> Outcome {
    let (reply, sent) = send_edited(ctx, |v| {
        if let Some(Value::Object(request)) = v.pointer_mut("/challenge/request") {
            let lower = match request.get("amount").and_then(Value::as_str) {
                Some("1") => "2",
                _ => "1",
            };
            request.insert("amount".into(), lower.into());
        }
    })
    .await?;
    Ok(refused(&reply, &sent))
}

const ROOT_META: McpCase = case! {
    id: "credential.root-meta",
    requirements: ["mcp.credential.both-placements"],
    level: Must,
    pays: true,
    title: "plain JSON-RPC: a valid credential in the message's root _meta pays",
    run: root_meta,
};
async fn root_meta(ctx: &McpCtx) -> Outcome {
    rpc_only(ctx)?;
    let c = payable(ctx).await?;
    let value = credential(ctx, &c)?;
    let mut message = ctx.call_message(&ctx.options().priced, None, Some(ctx.id()));
    message[jsonrpc::META] = Value::Object(credential_meta(value));
    let reply = ctx.send(&message).await.map_err(unreachable)?;
    Ok(Verdict::check(
        super::served(&reply),
        "a result (the credential read from the root _meta)",
        reply.describe(),
    ))
}

/// Root `_meta` is plain JSON-RPC's: an MCP message has no place for it.
fn rpc_only(ctx: &McpCtx) -> Result<(), Verdict> {
    if ctx.transport() == Transport::Mcp {
        return Err(Verdict::NotApplicable(
            "MCP carries the credential in params._meta only; run with --rpc for plain JSON-RPC"
                .into(),
        ));
    }
    Ok(())
}

const CONFLICTING_META: McpCase = case! {
    id: "credential.conflicting-meta",
    requirements: ["mcp.credential.both-placements"],
    level: Must,
    title: "plain JSON-RPC: different credentials in params._meta and the root _meta are refused, not one of them picked",
    run: conflicting_meta,
};
async fn conflicting_meta(ctx: &McpCtx) -> Outcome {
    rpc_only(ctx)?;
    let c = challenge(ctx).await?;
    let good = credential(ctx, &c)?;
    let mut other = good.clone();
    other["payload"] = json!({"preimage": "another-proof"});
    let mut message = ctx.call_message(
        &ctx.options().priced,
        Some(credential_meta(good)),
        Some(ctx.id()),
    );
    message[jsonrpc::META] = Value::Object(credential_meta(other));
    let reply = ctx.send(&message).await.map_err(unreachable)?;
    let code = reply.code();
    Ok(Verdict::check(
        reply.result().is_none()
            && matches!(code, Some(jsonrpc::INVALID_PARAMS | VERIFICATION_FAILED))
            && reply.receipt_place().is_none(),
        "an error (-32602), no result",
        reply.describe(),
    ))
}

const FREE_IGNORED: McpCase = case! {
    id: "credential.free-ignored",
    requirements: ["mcp.credential.ignore-unpriced"],
    level: Must,
    title: "a credential sent to a free tool or method is ignored: the call works, without a receipt",
    run: free_ignored,
};
async fn free_ignored(ctx: &McpCtx) -> Outcome {
    let Some(free) = ctx.options().free.clone() else {
        return Err(Verdict::NotApplicable(
            "no free tool or method named (--free-tool / --free-method)".into(),
        ));
    };
    let plain = ctx.call(&free, None).await.map_err(unreachable)?;
    if !super::served(&plain) {
        return Err(Verdict::NotApplicable(format!(
            "`{free}` does not work without a credential either ({})",
            plain.describe()
        )));
    }
    // A credential for another call, with no valid proof: nothing the free call
    // should look at.
    let c = challenge(ctx).await?;
    let mut value = credential(ctx, &c)?;
    value["payload"] = json!({});
    let reply = ctx.call(&free, Some(value)).await.map_err(unreachable)?;
    Ok(Verdict::check(
        super::served(&reply) && reply.receipt_place().is_none(),
        "a result without a receipt",
        reply.describe(),
    ))
}
