//! The reference server's test Lightning network over HTTP: a wallet node that lives
//! on the same in-process ledger as the server's node, so that a client in another
//! process (the `mpp` CLI, an end-to-end test) can pay the server's invoices and
//! receive its refunds. Test money only: anyone who can reach these routes can spend
//! from the wallet.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /testnet` | | `{"nodeId", "network"}` of the wallet |
//! | `POST /testnet/invoices` | `{"amountMsat"?, "description"?, "expirySecs"?}` | `{"invoice"}`, issued by the wallet |
//! | `GET /testnet/invoices/{paymentHash}` | | `{"state", "amountReceivedMsat"}` of a wallet invoice |
//! | `POST /testnet/payments` | `{"invoice", "amountMsat"?}` | `{"preimage", "amountMsat", "feeMsat"}`, paid by the wallet |
//!
//! Errors are `{"error": "invalid-request" | "payment-failed" | "unavailable" | "not-found", "message"}`
//! with status 400, 409, 503 or 404.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use mpp_methods::lightning::{
    Invoice, InvoiceRequest, InvoiceState, LightningNode, NodeError, PayOptions, PaymentHash,
    TestNode,
};
use serde_json::{Value, json};

/// The key of the reference server's wallet node (published: test money only).
pub const WALLET_KEY: [u8; 32] = [0x42; 32];

/// The longest expiry a wallet invoice may ask for: a year (a session's return
/// invoice outlives the session).
const MAX_EXPIRY_SECS: u64 = 365 * 24 * 3600;

/// The `/testnet` routes over `wallet`.
pub fn routes(wallet: Arc<TestNode>) -> Router {
    Router::new()
        .route("/testnet", get(info))
        .route("/testnet/invoices", post(create))
        .route("/testnet/invoices/{hash}", get(lookup))
        .route("/testnet/payments", post(pay))
        .with_state(wallet)
}

async fn info(State(wallet): State<Arc<TestNode>>) -> Json<Value> {
    Json(json!({
        "nodeId": wallet.node_id().to_string(),
        "network": wallet.network().to_string(),
    }))
}

async fn create(State(wallet): State<Arc<TestNode>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(e) => return invalid(e),
    };
    let amount_msat = match optional_u64(&body, "amountMsat") {
        Ok(a) => a,
        Err(e) => return invalid(e),
    };
    let expiry_secs = match optional_u64(&body, "expirySecs") {
        Ok(e) => e.unwrap_or(3600).clamp(1, MAX_EXPIRY_SECS),
        Err(e) => return invalid(e),
    };
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("mpp testnet wallet")
        .to_string();
    let request = InvoiceRequest {
        amount_msat,
        description,
        expiry_secs,
    };
    match wallet.create_invoice(&request).await {
        Ok(invoice) => Json(json!({ "invoice": invoice.as_str() })).into_response(),
        Err(e) => node_error(e),
    }
}

async fn lookup(State(wallet): State<Arc<TestNode>>, Path(hash): Path<String>) -> Response {
    let Some(hash) = PaymentHash::from_hex(&hash) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "a payment hash is 64 hex digits",
        );
    };
    match wallet.lookup_invoice(&hash).await {
        Ok(Some(status)) => {
            let state = match status.state {
                InvoiceState::Open => "open",
                InvoiceState::Settled => "settled",
                InvoiceState::Expired => "expired",
                _ => "cancelled",
            };
            Json(json!({ "state": state, "amountReceivedMsat": status.amount_received_msat }))
                .into_response()
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not-found",
            "the wallet issued no such invoice",
        ),
        Err(e) => node_error(e),
    }
}

async fn pay(State(wallet): State<Arc<TestNode>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(e) => return invalid(e),
    };
    let Some(invoice) = body
        .get("invoice")
        .and_then(Value::as_str)
        .and_then(|i| Invoice::decode(i).ok())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "`invoice` must be a BOLT11 invoice",
        );
    };
    let amount_msat = match optional_u64(&body, "amountMsat") {
        Ok(a) => a,
        Err(e) => return invalid(e),
    };
    let options = PayOptions {
        amount_msat,
        max_fee_msat: None,
    };
    match wallet.pay_invoice(&invoice, options).await {
        Ok(outcome) => Json(json!({
            "preimage": outcome.preimage.to_hex(),
            "amountMsat": outcome.amount_msat,
            "feeMsat": outcome.fee_msat,
        }))
        .into_response(),
        Err(e) => node_error(e),
    }
}

/// A request the wallet refuses as it stands (400), and why.
struct Invalid(String);

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Invalid> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(Invalid("the body must be a JSON object".into())),
    }
}

fn optional_u64(body: &serde_json::Map<String, Value>, name: &str) -> Result<Option<u64>, Invalid> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| Invalid(format!("`{name}` must be a non-negative integer"))),
    }
}

fn invalid(e: Invalid) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid-request", &e.0)
}

fn node_error(e: NodeError) -> Response {
    let (status, kind) = match &e {
        NodeError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid-request"),
        NodeError::PaymentFailed(_) => (StatusCode::CONFLICT, "payment-failed"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    error(status, kind, &e.to_string())
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, Json(json!({ "error": kind, "message": message }))).into_response()
}
