//! Talking to the target: MCP over Streamable HTTP (the `initialize` handshake, the
//! session header, answers as JSON or as an SSE stream) or plain JSON-RPC 2.0 over
//! HTTP POST, with the request shapes the cases send and the readings they make of
//! the answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use mpp_core::ParseOptions;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, PaymentRequired, RECEIPT_KEY};
use reqwest::Url;
use serde_json::{Value, json};

use crate::suite::describe_error;
use tokio::sync::OnceCell;

/// The MCP protocol revision the suite asks for in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// The largest answer the suite reads.
const MAX_BODY: usize = 1024 * 1024;

/// The argument every call sends: tools of the reference server and of mppx's
/// harness take `text`, and a paywall judges the call before the arguments anyway.
const TEXT: &str = "mpp-conformance";

/// How the target is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// MCP over Streamable HTTP: priced calls are `tools/call` of a tool.
    Mcp,
    /// Plain JSON-RPC 2.0 over HTTP POST: priced calls are methods.
    Rpc,
}

/// The suite's settings. `Debug` leaves the preimage out.
#[derive(Clone)]
pub struct McpOptions {
    /// MCP or plain JSON-RPC.
    pub transport: Transport,
    /// The priced tool (MCP) or method (JSON-RPC).
    pub priced: String,
    /// A free tool or method, for the case that sends it a credential.
    pub free: Option<String>,
    /// The longest one request may take.
    pub timeout: Duration,
    /// Header fields added to every request.
    pub headers: Vec<(String, String)>,
    /// The preimage the suite pays `preimage/charge` challenges with, when it may.
    pub preimage: Option<String>,
}

impl McpOptions {
    /// Settings for `priced` over `transport`, with the defaults for the rest.
    pub fn new(transport: Transport, priced: &str) -> McpOptions {
        McpOptions {
            transport,
            priced: priced.to_owned(),
            free: None,
            timeout: Duration::from_secs(10),
            headers: Vec::new(),
            preimage: None,
        }
    }
}

impl std::fmt::Debug for McpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpOptions")
            .field("transport", &self.transport)
            .field("priced", &self.priced)
            .field("free", &self.free)
            .field("timeout", &self.timeout)
            .field("headers", &self.headers.len())
            .field("pays", &self.preimage.is_some())
            .finish()
    }
}

/// What an HTTP POST brought back: its status and the JSON-RPC messages in its body
/// (one JSON document, or the `data` of each SSE event).
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Every JSON value the body held, in order.
    pub messages: Vec<Value>,
    /// Body bytes that were not JSON, when there were any (shortened).
    pub junk: Option<String>,
}

impl Reply {
    /// The response objects (those with `result` or `error`), batches flattened.
    pub fn responses(&self) -> Vec<&JsonObject> {
        let mut out = Vec::new();
        for message in &self.messages {
            let items: Vec<&Value> = match message {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            for item in items {
                if let Value::Object(o) = item {
                    if o.contains_key("result") || o.contains_key("error") {
                        out.push(o);
                    }
                }
            }
        }
        out
    }

    /// The first response object.
    pub fn response(&self) -> Option<&JsonObject> {
        self.responses().into_iter().next()
    }

    /// The `error` object of the response.
    pub fn error(&self) -> Option<&JsonObject> {
        self.response()?.get("error")?.as_object()
    }

    /// The error code of the response.
    pub fn code(&self) -> Option<i64> {
        self.error()?.get("code")?.as_i64()
    }

    /// `error.data`.
    pub fn data(&self) -> Option<&JsonObject> {
        self.error()?.get("data")?.as_object()
    }

    /// The `result` of the response.
    pub fn result(&self) -> Option<&Value> {
        self.response()?.get("result")
    }

    /// Whether the result is an MCP tool error (`isError: true`).
    pub fn is_tool_error(&self) -> bool {
        self.result()
            .and_then(|r| r.get("isError"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The challenges of a -32042 or -32043 answer, read as deployed clients read them.
    pub fn payment_required(&self) -> Option<PaymentRequired> {
        let error = self.error()?;
        jsonrpc::read_payment_error(error, &ParseOptions::STRICT)
            .ok()
            .flatten()
    }

    /// The valid challenges of the answer (empty when it has none).
    pub fn challenges(&self) -> Vec<Challenge<'static>> {
        self.payment_required()
            .map(|p| p.challenges)
            .unwrap_or_default()
    }

    /// Where the answer carries a receipt, if anywhere: `result._meta`, the root
    /// `_meta`, or `error.data._meta`.
    pub fn receipt_place(&self) -> Option<&'static str> {
        let response = self.response()?;
        let has = |holder: Option<&Value>| {
            holder
                .and_then(|h| h.get(jsonrpc::META))
                .and_then(|m| m.get(RECEIPT_KEY))
                .is_some()
        };
        if has(response.get("result")) {
            Some("result._meta")
        } else if response
            .get(jsonrpc::META)
            .and_then(|m| m.get(RECEIPT_KEY))
            .is_some()
        {
            Some("_meta")
        } else if has(self.error().and_then(|e| e.get("data"))) {
            Some("error.data._meta")
        } else {
            None
        }
    }

    /// The receipt object, from `result._meta` or the root `_meta`.
    pub fn receipt(&self) -> Option<(&JsonObject, &'static str)> {
        let response = self.response()?;
        let nested = response
            .get("result")
            .and_then(|r| r.get(jsonrpc::META))
            .and_then(|m| m.get(RECEIPT_KEY))
            .and_then(Value::as_object);
        if let Some(r) = nested {
            return Some((r, "result._meta"));
        }
        response
            .get(jsonrpc::META)
            .and_then(|m| m.get(RECEIPT_KEY))
            .and_then(Value::as_object)
            .map(|r| (r, "_meta"))
    }

    /// One line for "actual" texts: never a credential or receipt content.
    pub fn describe(&self) -> String {
        let mut text = format!("HTTP {}", self.status);
        match self.response() {
            None if self.messages.is_empty() => text.push_str(", no JSON-RPC message"),
            None => text.push_str(", no JSON-RPC response"),
            Some(r) => {
                if let Some(e) = r.get("error") {
                    let code = e.get("code").map(Value::to_string).unwrap_or_default();
                    text.push_str(&format!(", error {code}"));
                    if let Some(m) = e.get("message").and_then(Value::as_str) {
                        text.push_str(&format!(" {:?}", shorten(m)));
                    }
                    if let Some(d) = e
                        .get("data")
                        .and_then(|d| d.get("detail"))
                        .and_then(Value::as_str)
                    {
                        text.push_str(&format!(" ({})", shorten(d)));
                    }
                    let n = self.challenges().len();
                    if n > 0 {
                        text.push_str(&format!(", {n} valid challenge(s)"));
                    }
                } else if self.is_tool_error() {
                    text.push_str(", a tool result with isError");
                    let words = self
                        .result()
                        .and_then(|r| r.get("content"))
                        .and_then(|c| c.get(0))
                        .and_then(|c| c.get("text"))
                        .and_then(Value::as_str);
                    if let Some(w) = words {
                        text.push_str(&format!(" {:?}", shorten(w)));
                    }
                } else {
                    text.push_str(", a result");
                }
                if let Some(place) = self.receipt_place() {
                    text.push_str(&format!(", with a receipt in {place}"));
                }
            }
        }
        if let Some(junk) = &self.junk {
            text.push_str(&format!(", non-JSON body {junk:?}"));
        }
        text
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// What `initialize` established.
#[derive(Debug, Clone)]
struct Session {
    /// `Mcp-Session-Id`, when the server gave one.
    id: Option<String>,
    /// The `result` of `initialize`.
    result: Value,
}

/// Everything a case needs: the target, an HTTP client with limits, the MCP session.
pub struct McpCtx {
    client: reqwest::Client,
    target: Url,
    options: McpOptions,
    session: OnceCell<Result<Session, String>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for McpCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpCtx")
            .field("target", &self.target.as_str())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl McpCtx {
    /// A context for the endpoint at `target`.
    pub fn new(target: Url, options: McpOptions) -> Result<McpCtx, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(McpCtx {
            client,
            target,
            options,
            session: OnceCell::new(),
            next_id: AtomicU64::new(1),
        })
    }

    /// The endpoint under test.
    pub fn target(&self) -> &Url {
        &self.target
    }

    /// The settings.
    pub fn options(&self) -> &McpOptions {
        &self.options
    }

    /// MCP or plain JSON-RPC.
    pub fn transport(&self) -> Transport {
        self.options.transport
    }

    /// Whether the suite may pay.
    pub fn pays(&self) -> bool {
        self.options.preimage.is_some()
    }

    /// A fresh request id.
    pub fn id(&self) -> Value {
        self.next_id.fetch_add(1, Ordering::Relaxed).into()
    }

    /// Opens the session (MCP: `initialize`, then `notifications/initialized`) once;
    /// the error says why the target cannot be talked to.
    pub async fn connect(&self) -> Result<(), String> {
        self.session().await.map(|_| ())
    }

    /// The `result` of `initialize` (MCP only).
    pub async fn initialize_result(&self) -> Result<Value, String> {
        self.session().await.map(|s| s.result.clone())
    }

    async fn session(&self) -> Result<&Session, String> {
        self.session
            .get_or_init(|| self.handshake())
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn handshake(&self) -> Result<Session, String> {
        if self.options.transport == Transport::Rpc {
            return Ok(Session {
                id: None,
                result: Value::Null,
            });
        }
        let id = self.id();
        let request = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mpp-conformance", "version": env!("CARGO_PKG_VERSION")},
            },
        });
        let body = Bytes::from(request.to_string());
        let (reply, headers) = self.post_with(body, Some(&id), None).await?;
        let result = match reply.response() {
            Some(r) if r.contains_key("result") => r["result"].clone(),
            _ => {
                return Err(format!(
                    "`initialize` was not answered with a result ({})",
                    reply.describe()
                ));
            }
        };
        let session = headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (ack, _) = self
            .post_with(Bytes::from(note.to_string()), None, session.as_deref())
            .await?;
        if ack.status / 100 != 2 {
            return Err(format!(
                "`notifications/initialized` was refused ({})",
                ack.describe()
            ));
        }
        Ok(Session {
            id: session,
            result,
        })
    }

    /// POSTs `body` in the session; `id` is the request id whose answer ends an SSE
    /// stream (null: any answer; `None`: read to the end, a notification's answer).
    pub async fn post(&self, body: Bytes, id: Option<&Value>) -> Result<Reply, String> {
        let session = self.session().await?.id.clone();
        self.post_with(body, id, session.as_deref())
            .await
            .map(|(r, _)| r)
    }

    /// POSTs a message.
    pub async fn send(&self, message: &Value) -> Result<Reply, String> {
        let id = message.get("id").cloned();
        self.post(Bytes::from(message.to_string()), id.as_ref())
            .await
    }

    async fn post_with(
        &self,
        body: Bytes,
        id: Option<&Value>,
        session: Option<&str>,
    ) -> Result<(Reply, reqwest::header::HeaderMap), String> {
        let mut request = self
            .client
            .post(self.target.clone())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if self.options.transport == Transport::Mcp {
            if let Some(s) = session {
                request = request
                    .header("mcp-session-id", s)
                    .header("mcp-protocol-version", PROTOCOL_VERSION);
            }
        }
        for (name, value) in &self.options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| describe_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let sse = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
        let mut raw = Vec::new();
        let mut reply = Reply {
            status,
            messages: Vec::new(),
            junk: None,
        };
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                // A stream held open past the timeout after a notification: nothing
                // more is coming, which is the answer.
                Err(e) if e.is_timeout() && id.is_none() => break,
                Err(e) => return Err(describe_error(&e)),
            };
            if raw.len() + chunk.len() > MAX_BODY {
                return Err(format!("the answer exceeds {MAX_BODY} bytes"));
            }
            raw.extend_from_slice(&chunk);
            if sse {
                reply.messages = sse_messages(&raw);
                // The stream may stay open for later server messages; the answer
                // to the request is what the case waits for.
                if id.is_some_and(|id| answered(&reply.messages, id)) {
                    break;
                }
            }
        }
        if sse {
            reply.messages = sse_messages(&raw);
        } else if !raw.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(&raw) {
                Ok(v) => reply.messages.push(v),
                Err(_) => reply.junk = Some(shorten(&String::from_utf8_lossy(&raw))),
            }
        }
        Ok((reply, headers))
    }

    /// A call of `name` (a tool over MCP, a method over JSON-RPC) with `meta` as
    /// its `params._meta` when given.
    pub fn call_message(&self, name: &str, meta: Option<JsonObject>, id: Option<Value>) -> Value {
        let mut params = JsonObject::new();
        let mut message = JsonObject::new();
        message.insert("jsonrpc".into(), "2.0".into());
        if let Some(id) = id {
            message.insert("id".into(), id);
        }
        match self.options.transport {
            Transport::Mcp => {
                message.insert("method".into(), "tools/call".into());
                params.insert("name".into(), name.into());
                params.insert("arguments".into(), json!({ "text": TEXT }));
            }
            Transport::Rpc => {
                message.insert("method".into(), name.into());
                params.insert("text".into(), TEXT.into());
            }
        }
        if let Some(meta) = meta {
            params.insert(jsonrpc::META.into(), Value::Object(meta));
        }
        message.insert("params".into(), Value::Object(params));
        Value::Object(message)
    }

    /// Calls `name` with `credential` (the value of the credential key) in
    /// `params._meta`, or with none.
    pub async fn call(&self, name: &str, credential: Option<Value>) -> Result<Reply, String> {
        let message = self.call_message(name, credential.map(credential_meta), Some(self.id()));
        self.send(&message).await
    }

    /// The tool names `tools/list` gives (MCP only; empty when it fails).
    pub async fn tool_names(&self) -> Vec<String> {
        let message =
            json!({"jsonrpc": "2.0", "id": self.id(), "method": "tools/list", "params": {}});
        let Ok(reply) = self.send(&message).await else {
            return Vec::new();
        };
        reply
            .result()
            .and_then(|r| r.get("tools"))
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the suite can pay `challenge`.
    pub fn can_pay(&self, challenge: &Challenge<'_>) -> bool {
        self.options.preimage.is_some() && challenge.method == "preimage"
    }

    /// The JSON credential answering `challenge`: a valid payment when the suite
    /// can pay it, else an empty payload (which no method accepts).
    pub fn credential(&self, challenge: &Challenge<'_>) -> Result<JsonObject, String> {
        let mut payload = JsonObject::new();
        if let (true, Some(secret)) = (self.can_pay(challenge), &self.options.preimage) {
            payload.insert("preimage".into(), secret.as_str().into());
        }
        let credential = Credential::answer(challenge, payload, None);
        jsonrpc::credential_to_json(&credential).map_err(|e| e.to_string())
    }

    /// The number of paid handler runs the target's server reports at `/stats`
    /// (`paidHandlerRuns`), when it reports one.
    pub async fn paid_runs(&self) -> Option<u64> {
        let url = self.target.join("/stats").ok()?;
        let mut request = self.client.get(url);
        for (name, value) in &self.options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body = response.bytes().await.ok()?;
        let value: Value = serde_json::from_slice(&body).ok()?;
        value.get("paidHandlerRuns")?.as_u64()
    }
}

/// `{"org.paymentauth/credential": credential}`.
pub(crate) fn credential_meta(credential: Value) -> JsonObject {
    let mut meta = JsonObject::new();
    meta.insert(jsonrpc::CREDENTIAL_KEY.into(), credential);
    meta
}

/// Whether `messages` hold the answer to the request `id`; a null `id` waits for
/// any answer (that of a message whose id the server could not read).
fn answered(messages: &[Value], id: &Value) -> bool {
    messages.iter().any(|m| {
        (id.is_null() || m.get("id") == Some(id))
            && (m.get("result").is_some() || m.get("error").is_some())
    })
}

/// The JSON `data` of each complete SSE event of `raw` (events with no data, such as
/// a priming event, are skipped).
fn sse_messages(raw: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let mut out = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() {
            if !data.is_empty() {
                if let Ok(v) = serde_json::from_str(&data.join("\n")) {
                    out.push(v);
                }
                data.clear();
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            data.push(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_preimage_or_header_values() {
        let options = McpOptions {
            preimage: Some("the-secret-preimage".into()),
            headers: vec![("authorization".into(), "Bearer the-token".into())],
            ..McpOptions::new(Transport::Mcp, "paid_echo")
        };
        let ctx = McpCtx::new("http://127.0.0.1:1/mcp".parse().unwrap(), options).unwrap();
        let text = format!("{ctx:?}");
        assert!(text.contains("pays: true"), "{text}");
        assert!(
            !text.contains("the-secret-preimage") && !text.contains("the-token"),
            "{text}"
        );
    }

    #[test]
    fn sse_events_are_split_and_joined() {
        let raw = b"id: 0\ndata:\n\nevent: message\ndata: {\"a\":\ndata: 1}\n\r\ndata: {\"b\":2}\n\ndata: {\"partial\"";
        let messages = sse_messages(raw);
        assert_eq!(messages, vec![json!({"a": 1}), json!({"b": 2})]);
    }
}
