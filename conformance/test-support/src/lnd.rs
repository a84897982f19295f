//! A stand-in for LND's REST API on a loopback port, over HTTPS with a self-signed
//! certificate made at start (a CA certificate naming `localhost` and `127.0.0.1`,
//! as LND's `tls.cert` is), checking the macaroon in `Grpc-Metadata-macaroon` as LND
//! does. It serves the calls `LndNode` makes, in LND's documented shapes:
//!
//! - `GET /v1/getinfo`: `identity_pubkey`, `chains: [{chain, network}]`;
//! - `POST /v1/invoices` (`memo`, `value_msat` or `value`, `expiry`): `r_hash` and
//!   `payment_addr` in base64, `payment_request`, `add_index`;
//! - `GET /v1/invoice/{r_hash_str}`: the invoice (`state` `OPEN`, `SETTLED` or
//!   `CANCELED` once expired, `amt_paid_msat`, `settle_date`, …), or gRPC NotFound;
//! - `POST /v2/router/send` (`payment_request`, `amt_msat`, `timeout_seconds`,
//!   `fee_limit_msat`): newline-delimited `{"result": Payment}` updates, `IN_FLIGHT`
//!   then `SUCCEEDED` (with `payment_preimage` in hex) or `FAILED` (with
//!   `failure_reason`); a second payment of a hash in flight gets an error line
//!   (`payment is in transition`), as LND's does.
//!
//! Errors are gRPC statuses through the REST gateway: `{"code", "message",
//! "details"}` with the HTTP status the gateway maps the code to; a bad or missing
//! macaroon is gRPC Unknown (HTTP 500) with LND's message.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use hyper::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::lightning::{
    Body, Call, Entry, Fault, Handler, Ledger, NodeState, PayResult, Server, Signer, base64, hex,
    int, json, now_secs, serve,
};

/// A running LND stand-in; stopped when dropped.
#[derive(Debug)]
pub struct LndStandIn {
    server: Server,
    state: Arc<NodeState>,
    macaroon: Vec<u8>,
    cert_pem: String,
    dir: PathBuf,
}

impl LndStandIn {
    /// Starts a stand-in for the node `signer`, on `ledger`, with a fresh
    /// certificate and a random macaroon (both written to a directory of its own,
    /// as LND writes `tls.cert` and `admin.macaroon`).
    pub fn start(signer: Signer, ledger: Ledger) -> LndStandIn {
        let key =
            rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("cannot make a TLS key: {e}"));
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap_or_else(|e| panic!("cannot make certificate parameters: {e}"));
        // LND's certificate is its own CA: a client must cope with that.
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("cannot sign the certificate: {e}"));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth().with_single_cert(
                    vec![cert.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
                )
            })
            .unwrap_or_else(|e| panic!("cannot set up TLS: {e}"));

        let mut macaroon = vec![0u8; 32];
        macaroon[..4].copy_from_slice(b"\x02\x01\x03l");
        getrandom::fill(&mut macaroon[4..]).unwrap_or_else(|e| panic!("no randomness: {e}"));
        let state = Arc::new(NodeState {
            signer,
            ledger,
            fault: Mutex::default(),
            payments_started: AtomicU64::new(0),
        });
        let expected = hex(&macaroon);
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |call| {
            let state = handler_state.clone();
            let expected = expected.clone();
            Box::pin(async move { answer(&state, &expected, call).await })
        });
        let server = serve(Some(Arc::new(tls)), handler);
        let dir = std::env::temp_dir().join(format!(
            "mpp-lnd-standin-{}-{}",
            std::process::id(),
            server.addr.port()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot make {dir:?}: {e}"));
        let cert_pem = cert.pem();
        std::fs::write(dir.join("tls.cert"), &cert_pem)
            .and_then(|()| std::fs::write(dir.join("admin.macaroon"), &macaroon))
            .unwrap_or_else(|e| panic!("cannot write into {dir:?}: {e}"));
        LndStandIn {
            server,
            state,
            macaroon,
            cert_pem,
            dir,
        }
    }

    /// The REST API's base URL, `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.server.addr.port())
    }

    /// The same at `127.0.0.1`.
    pub fn ip_url(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    /// The path of its certificate (PEM), LND's `tls.cert`.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("tls.cert")
    }

    /// Its certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The path of its macaroon, LND's `admin.macaroon`.
    pub fn macaroon_path(&self) -> PathBuf {
        self.dir.join("admin.macaroon")
    }

    /// Its macaroon's bytes.
    pub fn macaroon(&self) -> &[u8] {
        &self.macaroon
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

    /// The directory holding its certificate and macaroon.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for LndStandIn {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A gRPC status through the REST gateway.
fn status(http: u16, code: u32, message: &str) -> Response<Body> {
    json(
        http,
        &json!({"code": code, "message": message, "details": []}),
    )
}

async fn answer(state: &NodeState, macaroon: &str, call: Call) -> Response<Body> {
    let fault = state.fault();
    if let Fault::Delay(d) = fault {
        tokio::time::sleep(d).await;
    }
    match call.headers.get("grpc-metadata-macaroon") {
        None => return status(500, 2, "expected 1 macaroon, got 0"),
        Some(v) if v.as_bytes() != macaroon.as_bytes() => {
            return status(
                500,
                2,
                "verification failed: signature mismatch after caveat verification",
            );
        }
        Some(_) => {}
    }
    if fault == Fault::ServerError {
        return status(500, 2, "injected failure");
    }
    let me = &state.signer;
    match (call.method.as_str(), call.path.as_str()) {
        ("GET", "/v1/getinfo") => json(
            200,
            &json!({
                "version": "0.18.4-beta (stand-in)",
                "identity_pubkey": me.node_id,
                "alias": "lnd-standin",
                "num_active_channels": 1,
                "synced_to_chain": true,
                "chains": [{"chain": "bitcoin", "network": me.network}],
            }),
        ),
        ("POST", "/v1/invoices") => {
            let amount = int(call.body.get("value_msat"))
                .or_else(|| int(call.body.get("value")).map(|sat| sat * 1000))
                .filter(|&m| m > 0);
            let expiry = int(call.body.get("expiry"))
                .filter(|&e| e > 0)
                .unwrap_or(86_400);
            let memo = call
                .body
                .get("memo")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if memo.len() > 639 {
                return status(400, 3, "memo too large");
            }
            match state.ledger.issue(me, String::new(), amount, memo, expiry) {
                Ok(e) => json(
                    200,
                    &json!({
                        "r_hash": base64(&e.payment_hash),
                        "payment_request": e.bolt11,
                        "add_index": e.add_index.to_string(),
                        "payment_addr": base64(&e.payment_secret),
                    }),
                ),
                Err(m) => status(400, 3, &m),
            }
        }
        ("GET", path) if path.starts_with("/v1/invoice/") => {
            let hash = &path["/v1/invoice/".len()..];
            let book = state.ledger.book();
            match book
                .invoices
                .values()
                .find(|e| hex(&e.payment_hash) == hash && e.payee == me.node_id)
            {
                Some(e) => json(200, &invoice_json(e)),
                None => status(404, 5, "unable to locate invoice"),
            }
        }
        ("POST", "/v2/router/send") => send_payment(state, &call.body, fault),
        _ => status(404, 5, "Not Found"),
    }
}

/// An invoice in LND's shape.
fn invoice_json(e: &Entry) -> Value {
    let now = now_secs();
    let state = match e.settled_at {
        Some(_) => "SETTLED",
        // LND cancels an invoice once it expires.
        None if now >= e.expires_at() => "CANCELED",
        None => "OPEN",
    };
    json!({
        "memo": e.description,
        "r_preimage": if e.settled_at.is_some() { base64(&e.preimage) } else { String::new() },
        "r_hash": base64(&e.payment_hash),
        "value": (e.amount_msat.unwrap_or(0) / 1000).to_string(),
        "value_msat": e.amount_msat.unwrap_or(0).to_string(),
        "settled": e.settled_at.is_some(),
        "creation_date": e.created_at.to_string(),
        "settle_date": e.settled_at.unwrap_or(0).to_string(),
        "payment_request": e.bolt11,
        "expiry": e.expiry_secs.to_string(),
        "add_index": e.add_index.to_string(),
        "amt_paid": (e.paid_msat / 1000).to_string(),
        "amt_paid_sat": (e.paid_msat / 1000).to_string(),
        "amt_paid_msat": e.paid_msat.to_string(),
        "state": state,
        "payment_addr": base64(&e.payment_secret),
    })
}

/// A `Payment` update line.
fn update(hash: &[u8; 32], status: &str, extra: Value) -> Bytes {
    let mut payment = json!({
        "payment_hash": hex(hash),
        "status": status,
        "creation_time_ns": (now_secs() * 1_000_000_000).to_string(),
        "failure_reason": "FAILURE_REASON_NONE",
        "payment_preimage": "0".repeat(64),
        "fee_msat": "0",
        "htlcs": [],
    });
    if let (Some(p), Some(extra)) = (payment.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    Bytes::from(format!("{}\n", json!({"result": payment})))
}

fn send_payment(state: &NodeState, body: &Value, fault: Fault) -> Response<Body> {
    let Some(request) = body.get("payment_request").and_then(Value::as_str) else {
        return status(400, 3, "payment_request is required");
    };
    if int(body.get("timeout_seconds")).unwrap_or(0) == 0 {
        return status(400, 3, "timeout_seconds must be specified");
    }
    let amount = int(body.get("amt_msat")).filter(|&a| a > 0);
    let (tx, rx) = mpsc::unbounded_channel();
    let in_flight = fault == Fault::PaymentInFlight;
    let failing = match &fault {
        Fault::PaymentFails(reason) => Some(reason.clone()),
        _ => None,
    };
    let result = if failing.is_some() {
        PayResult::Refused {
            payment_hash: None,
            why: "injected",
        }
    } else {
        state
            .ledger
            .pay(&state.signer.node_id, request, amount, in_flight)
    };
    let zero = [0u8; 32];
    match result {
        PayResult::AlreadyInFlight => {
            let line =
                json!({"error": {"code": 2, "message": "payment is in transition", "details": []}});
            let _ = tx.send(Bytes::from(format!("{line}\n")));
            drop(tx);
        }
        PayResult::LeftInFlight { payment_hash } => {
            state.payments_started.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(update(&payment_hash, "IN_FLIGHT", json!({})));
            // Never a final update: the sender lives as long as the connection.
            tokio::spawn(async move {
                tx.closed().await;
            });
        }
        PayResult::Paid { again: true, .. } => {
            let line =
                json!({"error": {"code": 6, "message": "invoice is already paid", "details": []}});
            let _ = tx.send(Bytes::from(format!("{line}\n")));
            drop(tx);
        }
        PayResult::Paid {
            amount_msat,
            preimage,
            payment_hash,
            ..
        } => {
            state.payments_started.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(update(&payment_hash, "IN_FLIGHT", json!({})));
            let _ = tx.send(update(
                &payment_hash,
                "SUCCEEDED",
                json!({
                    "payment_preimage": hex(&preimage),
                    "value_msat": amount_msat.to_string(),
                    "value_sat": (amount_msat / 1000).to_string(),
                    "payment_request": request,
                }),
            ));
        }
        PayResult::Refused { payment_hash, why } => {
            state.payments_started.fetch_add(1, Ordering::Relaxed);
            let reason = failing.unwrap_or_else(|| {
                match why {
                    "no route" => "FAILURE_REASON_NO_ROUTE",
                    _ => "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS",
                }
                .to_string()
            });
            let hash = payment_hash.unwrap_or(zero);
            let _ = tx.send(update(&hash, "IN_FLIGHT", json!({})));
            let _ = tx.send(update(&hash, "FAILED", json!({"failure_reason": reason})));
        }
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Stream(rx))
        .unwrap_or_else(|e| panic!("cannot build a response: {e}"))
}
