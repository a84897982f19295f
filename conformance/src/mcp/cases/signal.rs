//! Payment required: the error a priced call without a credential gets.

use std::collections::BTreeSet;
use std::time::SystemTime;

use mpp_core::ParseOptions;
use mpp_core::jsonrpc::{self, PAYMENT_REQUIRED};
use mpp_core::time::{Timestamp, UnixTime};
use serde_json::Value;

use super::{Outcome, case, unpaid};
use crate::mcp::McpCase;
use crate::mcp::wire::{McpCtx, Reply};
use crate::suite::Verdict;

const SECTION: &str = "Payment required";

/// The section's cases, in running order.
pub(super) const CASES: &[McpCase] = &[
    CODE,
    LIST,
    MEMBERS,
    REQUEST_OBJECT,
    HTTP_STATUS,
    FRESH_IDS,
    NO_RECEIPT,
];

const CODE: McpCase = case! {
    id: "signal.code",
    requirements: ["mcp.challenge.code"],
    level: Must,
    title: "a priced call without a credential gets error -32042, not a result",
    run: code,
};
async fn code(ctx: &McpCtx) -> Outcome {
    let reply = unpaid(ctx).await?;
    Ok(Verdict::check(
        reply.code() == Some(PAYMENT_REQUIRED) && reply.result().is_none(),
        "error -32042",
        reply.describe(),
    ))
}

/// `error.data.challenges` of a -32042 answer; not applicable without -32042.
async fn challenges(ctx: &McpCtx) -> Result<(Reply, Vec<Value>), Verdict> {
    let reply = unpaid(ctx).await?;
    if reply.code() != Some(PAYMENT_REQUIRED) {
        return Err(Verdict::NotApplicable(format!(
            "no -32042 answer ({})",
            reply.describe()
        )));
    }
    let list = reply
        .data()
        .and_then(|d| d.get("challenges"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok((reply, list))
}

const LIST: McpCase = case! {
    id: "signal.challenges",
    requirements: ["mcp.challenge.list"],
    level: Must,
    title: "error.data.challenges is a non-empty array of objects",
    run: list,
};
async fn list(ctx: &McpCtx) -> Outcome {
    let (reply, list) = challenges(ctx).await?;
    Ok(Verdict::check(
        !list.is_empty() && list.iter().all(Value::is_object),
        "data.challenges: one or more objects",
        format!(
            "{}; data.challenges: {}",
            reply.describe(),
            shape(reply.data().and_then(|d| d.get("challenges")))
        ),
    ))
}

fn shape(value: Option<&Value>) -> String {
    match value {
        None => "absent".into(),
        Some(Value::Array(items)) => {
            let objects = items.iter().filter(|i| i.is_object()).count();
            format!("an array of {} ({objects} objects)", items.len())
        }
        Some(Value::Object(_)) => "an object".into(),
        Some(Value::String(_)) => "a string".into(),
        Some(other) => format!("{other}"),
    }
}

const MEMBERS: McpCase = case! {
    id: "signal.members",
    requirements: ["mcp.challenge.members"],
    level: Must,
    title: "every challenge has id, realm, method, intent and request, reads as a challenge, and has not expired",
    run: members,
};
async fn members(ctx: &McpCtx) -> Outcome {
    let (_, list) = challenges(ctx).await?;
    if list.is_empty() {
        return Err(Verdict::NotApplicable("no challenges".into()));
    }
    let now = UnixTime::from(SystemTime::now());
    for (i, entry) in list.iter().enumerate() {
        let Value::Object(object) = entry else {
            return Ok(Verdict::fail(
                "challenge objects",
                format!("challenge {i} is not an object"),
            ));
        };
        for name in ["id", "realm", "method", "intent"] {
            let text = object.get(name).and_then(Value::as_str);
            if text.is_none_or(str::is_empty) {
                return Ok(Verdict::fail(
                    "id, realm, method, intent: non-empty strings",
                    format!("challenge {i}: `{name}` is {}", shape(object.get(name))),
                ));
            }
        }
        if !object.contains_key("request") {
            return Ok(Verdict::fail(
                "a request member",
                format!("challenge {i} has no `request`"),
            ));
        }
        // What a client reads: a challenge it cannot parse is one it cannot pay.
        if object.get("request").is_some_and(Value::is_object) {
            if let Err(e) = jsonrpc::challenge_from_json(object, &ParseOptions::STRICT) {
                return Ok(Verdict::fail(
                    "challenges a client can read",
                    format!("challenge {i}: {e}"),
                ));
            }
        }
        if let Some(expires) = object.get("expires") {
            let ok = expires
                .as_str()
                .and_then(|t| Timestamp::new(t).ok())
                .is_some_and(|t| !t.is_expired_at(now));
            if !ok {
                return Ok(Verdict::fail(
                    "expires, when present, an RFC 3339 instant in the future",
                    format!("challenge {i}: expires {expires}"),
                ));
            }
        }
    }
    Ok(Verdict::Pass)
}

const REQUEST_OBJECT: McpCase = case! {
    id: "signal.request-object",
    requirements: ["mcp.challenge.request-object"],
    level: MustNot,
    title: "a challenge's request is a JSON object, never base64url text",
    run: request_object,
};
async fn request_object(ctx: &McpCtx) -> Outcome {
    let (_, list) = challenges(ctx).await?;
    if list.is_empty() {
        return Err(Verdict::NotApplicable("no challenges".into()));
    }
    for (i, entry) in list.iter().enumerate() {
        let request = entry.get("request");
        if !request.is_some_and(Value::is_object) {
            return Ok(Verdict::fail(
                "request: a JSON object",
                format!("challenge {i}: request is {}", shape(request)),
            ));
        }
    }
    Ok(Verdict::Pass)
}

const HTTP_STATUS: McpCase = case! {
    id: "signal.http-status",
    requirements: ["mcp.challenge.http-status"],
    level: Should,
    title: "error.data.httpStatus is 402",
    run: http_status,
};
async fn http_status(ctx: &McpCtx) -> Outcome {
    let (reply, _) = challenges(ctx).await?;
    let status = reply.data().and_then(|d| d.get("httpStatus")).cloned();
    Ok(Verdict::check(
        status.as_ref().and_then(Value::as_u64) == Some(402),
        "data.httpStatus: 402",
        format!("data.httpStatus: {}", shape(status.as_ref())),
    ))
}

const FRESH_IDS: McpCase = case! {
    id: "signal.fresh-ids",
    requirements: ["core.caching.challenge-fresh"],
    level: MustNot,
    title: "two unpaid calls get challenges with different ids",
    run: fresh_ids,
};
async fn fresh_ids(ctx: &McpCtx) -> Outcome {
    let ids = |reply: &Reply| -> BTreeSet<String> {
        reply
            .challenges()
            .iter()
            .map(|c| c.id.to_string())
            .collect()
    };
    let first = ids(&unpaid(ctx).await?);
    let second = ids(&unpaid(ctx).await?);
    if first.is_empty() || second.is_empty() {
        return Err(Verdict::NotApplicable("no valid challenges".into()));
    }
    let shared = first.intersection(&second).count();
    Ok(Verdict::check(
        shared == 0,
        "no challenge id issued twice",
        format!("{shared} id(s) came in both answers"),
    ))
}

const NO_RECEIPT: McpCase = case! {
    id: "signal.no-receipt",
    requirements: ["mcp.receipt.unpaid"],
    level: MustNot,
    title: "the answer to an unpaid call carries no receipt",
    run: no_receipt,
};
async fn no_receipt(ctx: &McpCtx) -> Outcome {
    let reply = unpaid(ctx).await?;
    Ok(Verdict::check(
        reply.receipt_place().is_none(),
        "no org.paymentauth/receipt anywhere",
        reply.describe(),
    ))
}
