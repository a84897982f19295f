//! A stand-in for Core Lightning's REST API (`clnrest`, with
//! `clnrest-protocol=http`) on a loopback port: each command is `POST /v1/{command}`
//! with its parameters as a JSON object and a rune in the `Rune` header. It serves
//! the commands `ClnNode` sends, in Core Lightning's documented shapes:
//!
//! - `getinfo`: `id`, `alias`, `network`;
//! - `invoice` (`amount_msat` or `"any"`, `label`, `description`, `expiry`):
//!   `payment_hash`, `expires_at`, `bolt11`, `payment_secret`, `created_index`;
//!   a label used before is refused (900);
//! - `listinvoices` (`payment_hash`): `invoices`, each with `status` (`unpaid`,
//!   `paid`, `expired`), `amount_msat`, `amount_received_msat`, `paid_at`, …;
//! - `pay` (`bolt11`, `amount_msat`, `maxfee`, `retry_for`): `status: "complete"`,
//!   `payment_preimage`, `amount_msat`, `amount_sent_msat`, …; or an error object:
//!   205 (no route), 207 (expired), 201 (paid by another), 200 (a payment of this
//!   hash already in progress), 210 (a failure injected by the test).
//!
//! Success is HTTP 201, as clnrest answers; an error object `{code, message}` comes
//! with HTTP 500; a missing rune is 401, a wrong one 401 with `checkrune`'s 1502.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hyper::Response;
use serde_json::{Value, json};

use crate::lightning::{
    Body, Call, Fault, Handler, Ledger, NodeState, PayResult, Server, Signer, hex, int, json,
    now_secs, serve,
};

/// A running CLN stand-in; stopped when dropped.
#[derive(Debug)]
pub struct ClnStandIn {
    server: Server,
    state: Arc<NodeState>,
    rune: String,
}

impl ClnStandIn {
    /// Starts a stand-in for the node `signer`, on `ledger`, with a random rune.
    pub fn start(signer: Signer, ledger: Ledger) -> ClnStandIn {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).unwrap_or_else(|e| panic!("no randomness: {e}"));
        // Runes are base64url; hex is a subset of that alphabet.
        let rune = format!("{}-_=", hex(&random));
        let state = Arc::new(NodeState {
            signer,
            ledger,
            fault: Mutex::default(),
            payments_started: AtomicU64::new(0),
        });
        let expected = rune.clone();
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |call| {
            let state = handler_state.clone();
            let expected = expected.clone();
            Box::pin(async move { answer(&state, &expected, call).await })
        });
        let server = serve(None, handler);
        ClnStandIn {
            server,
            state,
            rune,
        }
    }

    /// The REST API's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Its rune.
    pub fn rune(&self) -> &str {
        &self.rune
    }

    /// Its node id, hex.
    pub fn node_id(&self) -> &str {
        &self.state.signer.node_id
    }

    /// Injects `fault` into every answer from now on.
    pub fn set_fault(&self, fault: Fault) {
        *self
            .state
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fault;
    }

    /// How many payments it started (a refused second payment of a hash in flight
    /// is not one).
    pub fn payments_started(&self) -> u64 {
        self.state.payments_started.load(Ordering::Relaxed)
    }

    /// How many HTTP requests it received.
    pub fn requests(&self) -> u64 {
        self.server.calls.load(Ordering::Relaxed)
    }
}

/// Core Lightning's error object, as clnrest answers it.
fn error(code: i64, message: &str) -> Response<Body> {
    json(500, &json!({"code": code, "message": message}))
}

async fn answer(state: &NodeState, rune: &str, call: Call) -> Response<Body> {
    let fault = state.fault();
    if let Fault::Delay(d) = fault {
        tokio::time::sleep(d).await;
    }
    match call.headers.get("rune") {
        None => {
            return json(
                401,
                &json!({"code": 401, "message": "Not authorized: Missing rune"}),
            );
        }
        Some(v) if v.as_bytes() != rune.as_bytes() => {
            return json(
                401,
                &json!({"code": 1502, "message": "Not authorized: Not derived from master"}),
            );
        }
        Some(_) => {}
    }
    if fault == Fault::ServerError {
        return json(500, &json!({"message": "injected failure"}));
    }
    if call.method != "POST" {
        return json(405, &json!({"message": "Method Not Allowed"}));
    }
    let me = &state.signer;
    let p = &call.body;
    match call.path.as_str() {
        "/v1/getinfo" => json(
            201,
            &json!({
                "id": me.node_id,
                "alias": "cln-standin",
                "version": "v24.11 (stand-in)",
                "network": me.network,
                "num_active_channels": 1,
                "blockheight": 101,
            }),
        ),
        "/v1/invoice" => {
            let amount = match p.get("amount_msat") {
                Some(Value::String(s)) if s == "any" => None,
                v => match int(v) {
                    Some(a) if a > 0 => Some(a),
                    _ => {
                        return error(
                            -32602,
                            "amount_msat: should be a positive msat amount or \"any\"",
                        );
                    }
                },
            };
            let (Some(label), Some(description)) = (
                p.get("label").and_then(Value::as_str),
                p.get("description").and_then(Value::as_str),
            ) else {
                return error(-32602, "label and description are required");
            };
            let expiry = int(p.get("expiry")).unwrap_or(604_800);
            if state
                .ledger
                .book()
                .invoices
                .values()
                .any(|e| e.label == label && e.payee == me.node_id)
            {
                return error(900, "Duplicate label");
            }
            match state.ledger.issue(
                me,
                label.to_string(),
                amount,
                description.to_string(),
                expiry,
            ) {
                Ok(e) => json(
                    201,
                    &json!({
                        "payment_hash": hex(&e.payment_hash),
                        "expires_at": e.expires_at(),
                        "bolt11": e.bolt11,
                        "payment_secret": hex(&e.payment_secret),
                        "created_index": e.add_index,
                    }),
                ),
                Err(m) => error(-32602, &m),
            }
        }
        "/v1/listinvoices" => {
            let wanted = p.get("payment_hash").and_then(Value::as_str);
            let now = now_secs();
            let book = state.ledger.book();
            let invoices: Vec<Value> = book
                .invoices
                .values()
                .filter(|e| {
                    e.payee == me.node_id && wanted.is_none_or(|w| w == hex(&e.payment_hash))
                })
                .map(|e| {
                    let status = match e.settled_at {
                        Some(_) => "paid",
                        None if now >= e.expires_at() => "expired",
                        None => "unpaid",
                    };
                    let mut v = json!({
                        "label": e.label,
                        "bolt11": e.bolt11,
                        "payment_hash": hex(&e.payment_hash),
                        "status": status,
                        "description": e.description,
                        "expires_at": e.expires_at(),
                        "created_index": e.add_index,
                    });
                    if let Some(a) = e.amount_msat {
                        v["amount_msat"] = a.into();
                    }
                    if let Some(at) = e.settled_at {
                        v["amount_received_msat"] = e.paid_msat.into();
                        v["paid_at"] = at.into();
                        v["payment_preimage"] = hex(&e.preimage).into();
                    }
                    v
                })
                .collect();
            json(201, &json!({"invoices": invoices}))
        }
        "/v1/pay" => pay(state, p, fault).await,
        _ => error(-32601, "Unknown command"),
    }
}

async fn pay(state: &NodeState, p: &Value, fault: Fault) -> Response<Body> {
    let Some(bolt11) = p.get("bolt11").and_then(Value::as_str) else {
        return error(-32602, "bolt11: required");
    };
    if let Fault::PaymentFails(reason) = fault {
        state.payments_started.fetch_add(1, Ordering::Relaxed);
        return error(210, &reason);
    }
    let amount = int(p.get("amount_msat"));
    let in_flight = fault == Fault::PaymentInFlight;
    match state
        .ledger
        .pay(&state.signer.node_id, bolt11, amount, in_flight)
    {
        PayResult::AlreadyInFlight => error(200, "There is a payment already in progress"),
        PayResult::LeftInFlight { .. } => {
            state.payments_started.fetch_add(1, Ordering::Relaxed);
            // `pay` does not return while a part is in flight.
            std::future::pending::<()>().await;
            error(200, "unreachable")
        }
        PayResult::Paid {
            amount_msat,
            preimage,
            payment_hash,
            again,
        } => {
            // `pay` answers a payment it completed before with that payment.
            if !again {
                state.payments_started.fetch_add(1, Ordering::Relaxed);
            }
            json(
                201,
                &json!({
                    "payment_hash": hex(&payment_hash),
                    "created_at": now_secs(),
                    "parts": 1,
                    "amount_msat": amount_msat,
                    "amount_sent_msat": amount_msat,
                    "payment_preimage": hex(&preimage),
                    "status": "complete",
                }),
            )
        }
        PayResult::Refused { why, .. } => {
            state.payments_started.fetch_add(1, Ordering::Relaxed);
            match why {
                "no route" => error(205, "Could not find a route"),
                "expired" => error(207, "Invoice expired"),
                "already paid" => error(
                    201,
                    "Already paid with this hash using different amount or destination",
                ),
                _ => error(-32602, "amount_msat: wrong or missing for this invoice"),
            }
        }
    }
}
