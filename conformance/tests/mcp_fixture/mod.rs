//! A small JSON-RPC/MCP server written without mpp-server, from mpp-core's JSON-RPC
//! functions, whose safeguards can be switched off one at a time: what the MCP
//! suite's self-test breaks on purpose.
//!
//! `POST /mcp` and `POST /rpc` take the same messages (answered as JSON, no
//! session): `initialize`, `tools/list`, `tools/call` of `echo` (free) and
//! `paid_echo`, `paid_other` (`preimage/charge`, 1000 usd), and the plain methods
//! `echo` and `paid_echo`. `GET /stats` counts paid runs, as the reference server's.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Response;
use axum::routing::{get, post};
use mpp_core::ParseOptions;
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::{Challenge, ChallengeBuilder};
use mpp_core::json::{JsonObject, Value};
use mpp_core::jsonrpc::{self, Failure, PaidReceipt, Placement};
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{Base64Json, IntentName, MethodName, Realm};
use mpp_methods::preimage::{Preimage, hash_hex};
use serde_json::json;

/// The preimage the fixture's offers ask for.
pub(crate) const PREIMAGE: &str = "mcp-fixture-preimage";
const REALM: &str = "mcp-fixture.localhost";

/// What the fixture gets right; each field set the other way is one flaw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flaws {
    /// Each challenge pays once.
    pub(crate) replay_protection: bool,
    /// `request` travels as an object (else as base64url text, as on HTTP).
    pub(crate) request_object: bool,
    /// The -32042 answer carries a receipt in the root `_meta`.
    pub(crate) receipt_on_unpaid: bool,
    /// A priced notification is handled as a call with a null id, and answered.
    pub(crate) answers_notifications: bool,
    /// A refused credential gets -32043 (else -32042, as the SDKs answer).
    pub(crate) draft_codes: bool,
}

impl Default for Flaws {
    fn default() -> Self {
        Flaws {
            replay_protection: true,
            request_object: true,
            receipt_on_unpaid: false,
            answers_notifications: false,
            draft_codes: true,
        }
    }
}

struct Server {
    flaws: Flaws,
    binder: ChallengeBinder,
    /// Issued challenges by id, with the operation each was issued for.
    issued: Mutex<HashMap<String, (Challenge<'static>, String)>>,
    used: Mutex<HashSet<String>>,
    runs: AtomicU64,
    serial: AtomicU64,
}

/// A running fixture; stopped when dropped.
pub(crate) struct Fixture {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Fixture {
    pub(crate) async fn start(flaws: Flaws) -> Fixture {
        let server = Arc::new(Server {
            flaws,
            binder: ChallengeBinder::new(Secret::new([9u8; 32]).unwrap()),
            issued: Mutex::new(HashMap::new()),
            used: Mutex::new(HashSet::new()),
            runs: AtomicU64::new(0),
            serial: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/mcp", post(handle))
            .route("/rpc", post(handle))
            .route("/stats", get(stats))
            .with_state(server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fixture { addr, task }
    }

    /// The endpoint at `path` (`/mcp` or `/rpc`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn stats(State(server): State<Arc<Server>>) -> Response<Body> {
    let body = json!({"paidHandlerRuns": server.runs.load(Ordering::SeqCst)});
    json_response(200, &body)
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

async fn handle(State(server): State<Arc<Server>>, body: Bytes) -> Response<Body> {
    let message = match jsonrpc::parse_message(&body, 1 << 20) {
        Ok(m) => m,
        Err(e) => {
            let answer = Value::Object(jsonrpc::error_response(Value::Null, e.to_error_object()));
            return json_response(200, &answer);
        }
    };
    let answer = match message {
        Value::Array(batch) if batch.is_empty() => Some(error(
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            "Invalid Request",
        )),
        Value::Array(batch) => {
            let answers: Vec<Value> = batch.iter().filter_map(|m| server.one(m)).collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        one => server.one(&one),
    };
    match answer {
        Some(a) => json_response(200, &a),
        None => Response::builder().status(202).body(Body::empty()).unwrap(),
    }
}

fn now() -> UnixTime {
    UnixTime::from(SystemTime::now())
}

impl Server {
    /// The answer to one message, `None` for a notification.
    fn one(&self, message: &Value) -> Option<Value> {
        let Value::Object(request) = message else {
            return Some(error(
                Value::Null,
                jsonrpc::INVALID_REQUEST,
                "Invalid Request",
            ));
        };
        let id = match request.get("id") {
            None => None,
            Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(id.clone()),
            Some(_) => {
                return Some(error(
                    Value::Null,
                    jsonrpc::INVALID_REQUEST,
                    "Invalid Request",
                ));
            }
        };
        let method = request.get("method").and_then(Value::as_str);
        if request.get("jsonrpc").and_then(Value::as_str) != Some("2.0") || method.is_none() {
            return Some(error(
                id.unwrap_or(Value::Null),
                jsonrpc::INVALID_REQUEST,
                "Invalid Request",
            ));
        }
        let method = method.unwrap_or_default();
        let (operation, tool) = if method == "tools/call" {
            let name = request
                .get("params")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            (name.to_owned(), true)
        } else {
            (method.to_owned(), false)
        };
        let priced = matches!(operation.as_str(), "paid_echo" | "paid_other");
        let id = match id {
            Some(id) => id,
            None if priced && self.flaws.answers_notifications => Value::Null,
            None => return None,
        };
        let result = match method {
            "initialize" => json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {
                    "tools": {},
                    "experimental": {"payment": {"methods": {"preimage": {"intents": ["charge"]}}}},
                },
                "serverInfo": {"name": "mcp-fixture", "version": "0"},
            }),
            "tools/list" => json!({"tools": [
                {"name": "echo", "inputSchema": {"type": "object"}},
                {"name": "paid_echo", "inputSchema": {"type": "object"}},
                {"name": "paid_other", "inputSchema": {"type": "object"}},
            ]}),
            _ if !priced && (tool && operation == "echo" || method == "echo") => {
                text_result("free")
            }
            _ if priced => return Some(self.priced(request, id, &operation)),
            _ => return Some(error(id, -32601, "Method not found")),
        };
        Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }

    /// A priced call: payment required, refused, or paid with its receipt.
    fn priced(&self, request: &JsonObject, id: Value, operation: &str) -> Value {
        let found = match jsonrpc::find_credential(request) {
            Ok(found) => found,
            Err(e) => return Value::Object(jsonrpc::error_response(id, e.to_error_object())),
        };
        let Some((value, _)) = found else {
            return self.payment_required(id, operation);
        };
        let credential = match jsonrpc::credential_from_json(value, &ParseOptions::STRICT) {
            Ok(c) => c,
            Err(e) => return Value::Object(jsonrpc::error_response(id, e.to_error_object())),
        };
        let echo = &credential.challenge;
        let issued = self.issued.lock().unwrap().get(echo.id.as_str()).cloned();
        let Some((issued, issued_for)) = issued else {
            return self.refuse(id, operation, "invalid-challenge");
        };
        let same = echo.realm == issued.realm
            && echo.method == issued.method
            && echo.intent == issued.intent
            && echo.request == issued.request
            && echo.expires == issued.expires
            && issued_for == operation;
        if !same {
            return self.refuse(id, operation, "invalid-challenge");
        }
        if issued
            .expires
            .as_ref()
            .is_some_and(|t| t.is_expired_at(now()))
        {
            return self.refuse(id, operation, "payment-expired");
        }
        let want = hash_hex(PREIMAGE);
        let paid = credential
            .payload
            .get("preimage")
            .and_then(Value::as_str)
            .is_some_and(|p| hash_hex(p) == want);
        if !paid {
            return self.refuse(id, operation, "verification-failed");
        }
        if self.flaws.replay_protection && !self.used.lock().unwrap().insert(echo.id.to_string()) {
            return self.refuse(id, operation, "invalid-challenge");
        }
        self.runs.fetch_add(1, Ordering::SeqCst);
        let mut response = jsonrpc::result_response(id, text_result("paid"));
        let receipt = PaidReceipt {
            receipt: receipt(),
            challenge_id: issued.id.clone(),
        };
        jsonrpc::attach_receipt(&mut response, &receipt, Placement::Nested).unwrap();
        Value::Object(response)
    }

    fn challenge(&self, operation: &str) -> Challenge<'static> {
        // The id is an HMAC of the parameters: a distinct instant keeps it fresh.
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) as u32 % 1000 + 1;
        let later = now().checked_add_secs(300).unwrap();
        let expires =
            Timestamp::from_unix(UnixTime::new(later.secs(), serial * 1000).unwrap()).unwrap();
        let request = Preimage::request("1000", "usd", "acct_mcp_fixture", PREIMAGE);
        let challenge = ChallengeBuilder::from_parts(
            Realm::new(REALM).unwrap(),
            MethodName::new("preimage").unwrap(),
            IntentName::new("charge").unwrap(),
            Base64Json::encode(&request),
        )
        .expires(expires)
        .issue(&self.binder)
        .unwrap()
        .into_owned();
        self.issued.lock().unwrap().insert(
            challenge.id.to_string(),
            (challenge.clone(), operation.to_owned()),
        );
        challenge
    }

    /// `error` with the challenges' `request` as the flaw has it.
    fn with_request_form(&self, mut error: JsonObject) -> JsonObject {
        if !self.flaws.request_object {
            if let Some(Value::Array(list)) =
                error.get_mut("data").and_then(|d| d.get_mut("challenges"))
            {
                for c in list {
                    if let Some(Value::Object(request)) = c.get("request") {
                        let text = Base64Json::encode(request).as_str().to_owned();
                        c["request"] = Value::String(text);
                    }
                }
            }
        }
        error
    }

    fn payment_required(&self, id: Value, operation: &str) -> Value {
        let error = jsonrpc::payment_required(&[self.challenge(operation)], None).unwrap();
        let mut response = jsonrpc::error_response(id, self.with_request_form(error));
        if self.flaws.receipt_on_unpaid {
            let receipt = PaidReceipt {
                receipt: receipt(),
                challenge_id: self.challenge(operation).id,
            };
            jsonrpc::attach_receipt(&mut response, &receipt, Placement::Root).unwrap();
        }
        Value::Object(response)
    }

    fn refuse(&self, id: Value, operation: &str, reason: &str) -> Value {
        let challenges = [self.challenge(operation)];
        let error = if self.flaws.draft_codes {
            let failure = Failure {
                reason: Some(reason.to_owned()),
                detail: Some(format!("refused: {reason}")),
            };
            jsonrpc::verification_failed(&challenges, &failure, None).unwrap()
        } else {
            jsonrpc::payment_required(&challenges, None).unwrap()
        };
        Value::Object(jsonrpc::error_response(id, self.with_request_form(error)))
    }
}

fn text_result(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}]})
}

fn receipt() -> Receipt {
    Receipt::new(
        MethodName::new("preimage").unwrap(),
        Timestamp::from_unix(UnixTime::from_secs(now().secs())).unwrap(),
        "mcp-fixture-reference",
    )
}
