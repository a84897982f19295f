//! A stand-in MCP server on loopback for the paying MCP client's tests: MCP's
//! Streamable HTTP transport with a free tool (`echo`) and a paid one
//! (`paid_echo`, `preimage/charge` 1000 usd), plain JSON-RPC methods (`sum` free,
//! `paid_sum` paid), real HMAC-bound challenges, and switchable misbehaviour for
//! the paths an honest server never takes. It records every message it receives.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, Failure, PaidReceipt, Placement};
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::{ChallengeBuilder, MethodName, Opaque, ParseOptions};
use mpp_methods::preimage::Preimage;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub const SECRET: &[u8] = b"mcp-client-test-secret-of-32+bytes!!";
pub const REALM: &str = "tools.example.test";
pub const PREIMAGE: &str = "the-mcp-client-test-preimage";
pub const TOKEN: &str = "the-mcp-client-test-token";
pub const SESSION: &str = "session-4f1c9a";
pub const PRICE: u128 = 1000;

/// How the stand-in misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As the draft says, answering with JSON bodies.
    Honest,
    /// Honest, but every answer in an event stream, after a notification, a
    /// request of the server's own and a response to another id.
    Sse,
    /// Refuses every credential with -32043, fresh challenges and `failure`.
    RefuseDraft,
    /// Refuses every credential as the SDKs do: -32042 with a problem.
    RefuseSdk,
    /// Asks for payment in the tool result's `_meta`, as mppx's server may.
    ResultMeta,
    /// Challenges without `request`, or with a broken `expires`.
    MalformedChallenges,
    /// Payment data whose `challenges` is not an array.
    NoChallenges,
    /// Challenges that expired a minute ago.
    Expired,
    /// HTTP 503 to the first N paid messages, then honest.
    Unavailable(usize),
    /// Answers free calls with 8 MiB of JSON.
    Huge,
    /// Answers free calls with text that is not JSON.
    NotJson,
    /// Answers free calls with the id of another request.
    WrongId,
    /// Answers free calls with `jsonrpc: "1.0"`.
    NotTwoPointZero,
    /// The paid tool fails after settling: `isError: true`, with the receipt.
    ToolErrorAfterPay,
    /// -32603 to a paid message.
    InternalErrorAfterPay,
    /// Refuses every credential as mppx's SDK server does by default: a result
    /// with `isError: true`, the error's text, no challenges, no receipt.
    RefuseAsToolError,
    /// Text that is not JSON to a paid message.
    GarbageAfterPay,
}

/// A message the stand-in received, with its header fields.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub message: Value,
}

impl Received {
    pub fn method(&self) -> &str {
        self.message["method"].as_str().unwrap_or_default()
    }

    pub fn tool(&self) -> &str {
        self.message["params"]["name"].as_str().unwrap_or_default()
    }

    /// The credentials it carries, in `params._meta` and in the root `_meta`.
    pub fn credentials(&self) -> Vec<(Placement, Value)> {
        let mut found = Vec::new();
        if let Some(c) = self.message["params"]["_meta"].get(jsonrpc::CREDENTIAL_KEY) {
            found.push((Placement::Nested, c.clone()));
        }
        if let Some(c) = self.message["_meta"].get(jsonrpc::CREDENTIAL_KEY) {
            found.push((Placement::Root, c.clone()));
        }
        found
    }
}

pub struct Stand {
    pub mode: Mutex<Mode>,
    /// Whether `initialize` advertises `experimental.payment`.
    pub advertise: bool,
    pub log: Mutex<Vec<Received>>,
    /// The challenges issued, as sent.
    pub issued: Mutex<Vec<JsonObject>>,
    used: Mutex<HashSet<String>>,
    issued_count: AtomicUsize,
    /// Paid messages answered with 503 so far.
    unavailable: AtomicUsize,
    /// Paid tools and methods that ran.
    pub paid_runs: AtomicUsize,
    binder: ChallengeBinder,
}

impl Stand {
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The messages of `method` (and of tool `tool`, when given).
    pub fn calls(&self, method: &str, tool: Option<&str>) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method() == method && tool.is_none_or(|t| r.tool() == t))
            .collect()
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap()
    }

    /// A `preimage/charge` challenge for 1000 usd, in the JSON form, recorded.
    pub fn challenge(&self, expires_in: i64) -> JsonObject {
        self.challenge_of("preimage", expires_in)
    }

    fn challenge_of(&self, method: &str, expires_in: i64) -> JsonObject {
        let request = Preimage::request("1000", "usd", "acct_1", PREIMAGE);
        let expires = Timestamp::from_unix(UnixTime::from_secs(now() + expires_in)).unwrap();
        let challenge = ChallengeBuilder::new(REALM, method, "charge", &request)
            .unwrap()
            .expires(expires)
            .description("one paid echo")
            // Unique ids: the same terms in the same second would bind alike.
            .opaque(Opaque::encode([(
                "n",
                self.issued_count.fetch_add(1, Ordering::SeqCst).to_string(),
            )]))
            .issue(&self.binder)
            .unwrap();
        let json = jsonrpc::challenge_to_json(&challenge).unwrap();
        self.issued.lock().unwrap().push(json.clone());
        json
    }

    /// The offers: the preimage challenge, and a token one the tests' wallets
    /// cannot pay, so the client has to choose.
    fn challenges(&self, expires_in: i64) -> Vec<JsonObject> {
        vec![
            self.challenge_of("token", expires_in),
            self.challenge(expires_in),
        ]
    }
}

pub struct StandServer {
    pub addr: SocketAddr,
    pub stand: Arc<Stand>,
    task: JoinHandle<()>,
}

impl StandServer {
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

impl Drop for StandServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(mode: Mode) -> StandServer {
    start_with(mode, true).await
}

pub async fn start_with(mode: Mode, advertise: bool) -> StandServer {
    let stand = Arc::new(Stand {
        mode: Mutex::new(mode),
        advertise,
        log: Mutex::default(),
        issued: Mutex::default(),
        used: Mutex::default(),
        issued_count: AtomicUsize::new(0),
        unavailable: AtomicUsize::new(0),
        paid_runs: AtomicUsize::new(0),
        binder: ChallengeBinder::new(Secret::new(SECRET).unwrap()),
    });
    let app = Router::new()
        .route("/mcp", post(handle))
        .with_state(stand.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    StandServer { addr, stand, task }
}

pub fn now() -> i64 {
    UnixTime::from(SystemTime::now()).secs()
}

async fn handle(State(stand): State<Arc<Stand>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    stand.log.lock().unwrap().push(Received {
        headers,
        message: message.clone(),
    });
    let Value::Object(message) = message else {
        return (StatusCode::BAD_REQUEST, "not an object").into_response();
    };
    let Some(id) = message.get("id").cloned() else {
        // A notification: accepted, never answered.
        return StatusCode::ACCEPTED.into_response();
    };
    let method = message["method"].as_str().unwrap_or_default().to_owned();
    let mode = stand.mode();
    let answer = match method.as_str() {
        "initialize" => {
            let mut capabilities = json!({"tools": {}});
            if stand.advertise {
                capabilities["experimental"] = json!({"payment": {"methods": {
                    "preimage": {"intents": ["charge"]}}}});
            }
            let result = json!({
                "protocolVersion": "2025-06-18",
                "capabilities": capabilities,
                "serverInfo": {"name": "stand-in", "version": "0.0.1"},
            });
            let mut response = respond(mode, jsonrpc::result_response(id, result));
            response
                .headers_mut()
                .insert("mcp-session-id", SESSION.parse().unwrap());
            return response;
        }
        "tools/list" => {
            let mut paid = json!({
                "name": "paid_echo",
                "description": "Echoes its text, for 1000 usd",
                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
            });
            jsonrpc::attach_tool_offers(
                paid.as_object_mut().unwrap(),
                &[jsonrpc::ToolOffer {
                    method: "preimage".into(),
                    intent: "charge".into(),
                    amount: Some("1000".into()),
                    currency: Some("usd".into()),
                }],
            )
            .unwrap();
            let tools = json!({"tools": [
                {"name": "echo", "description": "Echoes its text", "inputSchema": {"type": "object"}},
                paid,
            ]});
            jsonrpc::result_response(id, tools)
        }
        "tools/call" => {
            let name = message["params"]["name"].as_str().unwrap_or_default();
            let text = message["params"]["arguments"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let result = json!({"content": [{"type": "text", "text": text}]});
            match name {
                "echo" => match free_misbehaviour(mode, &id) {
                    Some(response) => return response,
                    None => jsonrpc::result_response(id, result),
                },
                "paid_echo" => {
                    match paid(
                        &stand,
                        &message,
                        mode,
                        id.clone(),
                        Placement::Nested,
                        result,
                    ) {
                        Ok(answer) => answer,
                        Err(response) => return response,
                    }
                }
                _ => jsonrpc::error_response(
                    id,
                    json!({"code": -32602, "message": "Unknown tool"})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            }
        }
        "sum" | "paid_sum" => {
            let total: i64 = message["params"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).sum())
                .unwrap_or_default();
            if method == "sum" {
                jsonrpc::result_response(id, total.into())
            } else {
                match paid(&stand, &message, mode, id, Placement::Root, total.into()) {
                    Ok(answer) => answer,
                    Err(response) => return response,
                }
            }
        }
        _ => jsonrpc::error_response(
            id,
            json!({"code": -32601, "message": "Method not found"})
                .as_object()
                .unwrap()
                .clone(),
        ),
    };
    respond(mode, answer)
}

/// The answer of a misbehaving server to a free call, if it misbehaves there.
fn free_misbehaviour(mode: Mode, id: &Value) -> Option<Response> {
    let json = |body: String| Some(([(CONTENT_TYPE, "application/json")], body).into_response());
    match mode {
        Mode::Huge => {
            let text = "x".repeat(8 * 1024 * 1024);
            json(json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}}).to_string())
        }
        Mode::NotJson => json("<html>oops</html>".into()),
        Mode::WrongId => json(json!({"jsonrpc": "2.0", "id": 424242, "result": {}}).to_string()),
        Mode::NotTwoPointZero => {
            json(json!({"jsonrpc": "1.0", "id": id, "result": {}}).to_string())
        }
        _ => None,
    }
}

/// A paid call: the payment-required answer, a refusal, or the result with its
/// receipt. `Err` is an HTTP answer that is not JSON-RPC.
#[allow(clippy::result_large_err)]
fn paid(
    stand: &Stand,
    message: &JsonObject,
    mode: Mode,
    id: Value,
    placement: Placement,
    result: Value,
) -> Result<JsonObject, Response> {
    let credential = jsonrpc::read_credential(message, &ParseOptions::STRICT);
    let credential = match credential {
        Ok(Some((credential, _))) => credential,
        Ok(None) => return Ok(payment_required(stand, mode, id)),
        Err(e) => return Ok(jsonrpc::error_response(id, e.to_error_object())),
    };
    if let Mode::Unavailable(n) = mode {
        if stand.unavailable.fetch_add(1, Ordering::SeqCst) < n {
            return Err(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
    }
    let fresh = || {
        stand
            .challenges(300)
            .iter()
            .map(|c| mpp_core::jsonrpc::challenge_from_json(c, &ParseOptions::STRICT).unwrap())
            .collect::<Vec<_>>()
    };
    match mode {
        Mode::RefuseDraft => {
            let failure = Failure {
                reason: Some("signature-invalid".into()),
                detail: Some("the stand-in refuses every credential".into()),
            };
            let problem = Problem::new(ProblemType::VerificationFailed).with_detail("refused");
            let error = jsonrpc::verification_failed(&fresh(), &failure, Some(&problem)).unwrap();
            return Ok(jsonrpc::error_response(id, error));
        }
        Mode::RefuseSdk => {
            let problem = Problem::new(ProblemType::VerificationFailed).with_detail("refused");
            let error = jsonrpc::payment_required(&fresh(), Some(&problem)).unwrap();
            return Ok(jsonrpc::error_response(id, error));
        }
        Mode::InternalErrorAfterPay => {
            return Ok(jsonrpc::error_response(
                id,
                jsonrpc::internal_error("the processor is down"),
            ));
        }
        Mode::GarbageAfterPay => {
            return Err(([(CONTENT_TYPE, "application/json")], "{\"jsonrpc\":").into_response());
        }
        Mode::RefuseAsToolError => {
            let text = "MCP error -32043: Payment verification failed: credential already used.";
            let result = json!({"content": [{"type": "text", "text": text}], "isError": true});
            return Ok(jsonrpc::result_response(id, result));
        }
        _ => {}
    }
    let verified = stand.binder.verify_challenge(&credential.challenge) == Ok(true)
        && credential.payload.get("preimage").and_then(Value::as_str) == Some(PREIMAGE)
        && stand
            .used
            .lock()
            .unwrap()
            .insert(credential.challenge.id.to_string());
    if !verified {
        let failure = Failure {
            reason: Some("invalid".into()),
            detail: Some("unknown, used or unpaid challenge".into()),
        };
        let error = jsonrpc::verification_failed(&fresh(), &failure, None).unwrap();
        return Ok(jsonrpc::error_response(id, error));
    }
    stand.paid_runs.fetch_add(1, Ordering::SeqCst);
    let mut result = result;
    if mode == Mode::ToolErrorAfterPay {
        result = json!({"content": [{"type": "text", "text": "the tool failed"}], "isError": true});
    }
    let receipt = PaidReceipt {
        receipt: Receipt::new(
            MethodName::new("preimage").unwrap().into_owned(),
            Timestamp::from_unix(UnixTime::from_secs(now())).unwrap(),
            mpp_methods::preimage::hash_hex(PREIMAGE),
        ),
        challenge_id: credential.challenge.id.clone().into_owned(),
    };
    let mut response = jsonrpc::result_response(id, result);
    jsonrpc::attach_receipt(&mut response, &receipt, placement).unwrap();
    Ok(response)
}

fn payment_required(stand: &Stand, mode: Mode, id: Value) -> JsonObject {
    let data_of = |challenges: Vec<JsonObject>| {
        json!({
            "httpStatus": 402,
            "challenges": challenges,
        })
    };
    let error = |data: Value| {
        let mut error = JsonObject::new();
        error.insert("code".into(), jsonrpc::PAYMENT_REQUIRED.into());
        error.insert("message".into(), "Payment Required".into());
        error.insert("data".into(), data);
        jsonrpc::error_response(id.clone(), error)
    };
    match mode {
        Mode::Expired => error(data_of(stand.challenges(-60))),
        Mode::MalformedChallenges => {
            let mut no_request = stand.challenge(300);
            no_request.remove("request");
            let mut bad_expiry = stand.challenge(300);
            bad_expiry.insert("expires".into(), "tomorrow".into());
            error(data_of(vec![no_request, bad_expiry]))
        }
        Mode::NoChallenges => error(json!({"httpStatus": 402, "challenges": "none"})),
        Mode::ResultMeta => {
            let mut meta = JsonObject::new();
            meta.insert(
                jsonrpc::PAYMENT_REQUIRED_KEY.into(),
                data_of(stand.challenges(300)),
            );
            jsonrpc::result_response(
                id,
                json!({"content": [{"type": "text", "text": "payment required"}], "isError": true, "_meta": meta}),
            )
        }
        _ => error(data_of(stand.challenges(300))),
    }
}

/// The answer in the mode's framing: a JSON body, or an event stream.
fn respond(mode: Mode, answer: JsonObject) -> Response {
    let body = Value::Object(answer).to_string();
    if mode != Mode::Sse {
        return ([(CONTENT_TYPE, "application/json")], body).into_response();
    }
    let notification = json!({"jsonrpc": "2.0", "method": "notifications/message",
        "params": {"level": "info", "data": "working"}});
    let request = json!({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"});
    let other = json!({"jsonrpc": "2.0", "id": 987654, "result": {}});
    let stream = format!(
        "id: prime\ndata:\n\n: keep-alive\n\nevent: message\ndata: {notification}\n\n\
         data: {request}\r\n\r\ndata: {other}\n\nevent: message\nid: 2\ndata: {body}\n\n"
    );
    ([(CONTENT_TYPE, "text/event-stream")], stream).into_response()
}
