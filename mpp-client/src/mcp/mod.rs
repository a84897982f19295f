//! A paying MCP client (and plain JSON-RPC client) over MCP's Streamable HTTP
//! transport: tool calls that answer "payment required" (-32042) are paid from a
//! [`Wallet`] within its spending policy, once, and resent with the credential in
//! `_meta` (draft-payment-transport-mcp-00).
//!
//! ```no_run
//! use std::sync::Arc;
//! use mpp_core::client::{SpendingPolicy, Wallet};
//! use mpp_client::mcp::{McpOptions, PayingMcpClient};
//! use mpp_methods::preimage::PreimagePayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = SpendingPolicy {
//!     max_per_request: vec![("usd".into(), 1000)],
//!     ..SpendingPolicy::default()
//! };
//! let wallet = Wallet::new(policy).with_method(Arc::new(PreimagePayer::new("s3cret")), 1000);
//! let client = PayingMcpClient::connect("https://tools.example.com/mcp", wallet, McpOptions::default()).await?;
//! for tool in client.list_tools().await? {
//!     println!("{} costs {:?}", tool.name, tool.offers);
//! }
//! let call = client.call_tool("paid_echo", Some(serde_json::json!({"text": "hi"}).as_object().unwrap().clone())).await?;
//! if let Some(receipt) = &call.receipt {
//!     println!("paid; receipt for challenge {}", receipt.challenge_id.as_str());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What it holds to, for every call:
//!
//! - **One payment at most.** The wallet chooses one challenge among those offered
//!   (the challenges decide, never the server's advertised capability); a second
//!   payment request or a -32043 after paying is [`McpError::Rejected`], with the
//!   server's problem and failure, never a second payment.
//! - **The same credential, at most twice.** When no answer comes after paying (a
//!   connection error, a timeout, an HTTP 5xx), the very same message is sent once
//!   more (a credential settles at most once); after that the outcome is
//!   [`McpError::UnknownOutcome`], and the budget stays counted.
//! - **The receipt surfaced**, also on a tool result with `isError: true`.
//! - **TLS or loopback only**: the wallet's policy refuses to pay a plain-HTTP
//!   origin that is not this machine, as it does for [`crate::PayingClient`].
//! - **Credentials are not kept** once sent, and never logged or shown by `Debug`.
//! - **Bounded answers**: a body or event stream longer than
//!   [`McpOptions::max_body`] is an error, as is anything that is not the JSON-RPC
//!   2.0 response to the request sent.
//!
//! Session methods are paid like charges (from the open session, or by opening
//! one), but a session that ran dry is not topped up here: that would be a second
//! payment for the call.

mod flow;
mod http;
#[cfg(feature = "rmcp")]
pub mod rmcp;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mpp_core::challenge::Challenge;
use mpp_core::client::{Declined, Origin, PayError, Wallet};
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{
    self, Failure, JsonRpcError, PaidReceipt, PaymentCapability, Placement, ToolOffer,
};
use mpp_core::problem::Problem;
use reqwest::Url;
use serde_json::Value;
use tokio::sync::Mutex;

pub use crate::paying::PaymentKind;

use self::flow::{Exchange, Payer};
use self::http::HttpCarrier;

/// The protocol version asked for in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// The protocol versions accepted in the server's answer to `initialize`.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The most pages of `tools/list` followed.
const MAX_PAGES: usize = 100;

/// Limits and identity of a [`PayingMcpClient`].
#[derive(Debug, Clone)]
pub struct McpOptions {
    /// The longest each round trip may take.
    pub timeout: Duration,
    /// The largest answer read: a JSON body, or all of an event stream up to the
    /// response.
    pub max_body: usize,
    /// `clientInfo.name` in `initialize`.
    pub client_name: String,
    /// `clientInfo.version` in `initialize`.
    pub client_version: String,
}

impl Default for McpOptions {
    fn default() -> Self {
        McpOptions {
            timeout: Duration::from_secs(30),
            max_body: 4 * 1024 * 1024,
            client_name: "mpp-client".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What the server said of itself in its answer to `initialize`.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// `serverInfo.name`.
    pub name: Option<String>,
    /// `serverInfo.version`.
    pub version: Option<String>,
    /// `capabilities`, as sent.
    pub capabilities: JsonObject,
    /// `capabilities.experimental.payment`, when advertised and well-formed. For
    /// display: what is paid is decided by each call's challenges.
    pub payment: Option<PaymentCapability>,
}

/// A tool the server lists.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// `inputSchema`.
    pub input_schema: Value,
    /// The prices it lists under `_meta["org.paymentauth/offers"]`; empty for a
    /// free tool or a server that does not say. Display only: a call pays its
    /// challenge, within the wallet's policy.
    pub offers: Vec<ToolOffer>,
    /// Why the listed prices could not be read, when they could not.
    pub offers_error: Option<JsonRpcError>,
}

/// A payment made for a call. The credential itself is not kept.
#[derive(Debug, Clone)]
pub struct McpPayment {
    /// The challenge answered.
    pub challenge: Challenge<'static>,
    /// What it was.
    pub kind: PaymentKind,
    /// The challenge's amount (for a session, the price of a unit), in base units.
    pub amount: u128,
    /// What it took from the wallet, in base units.
    pub cost: u128,
    /// The currency.
    pub currency: String,
    /// The origin paid (`scheme://host:port`).
    pub origin: String,
}

/// The answer to `tools/call`.
#[derive(Debug, Clone)]
pub struct ToolResult {
    /// The `CallToolResult` (`content`, `structuredContent`, `isError`, `_meta`).
    pub result: JsonObject,
    /// `isError`: the tool ran and failed. When paid, the receipt is still here.
    pub is_error: bool,
    /// The receipt, when the server sent one (on every paid success).
    pub receipt: Option<PaidReceipt>,
    /// The payment made for the call, if any.
    pub payment: Option<McpPayment>,
}

/// The answer to a plain JSON-RPC call.
#[derive(Debug, Clone)]
pub struct RpcResult {
    /// `result`.
    pub result: Value,
    /// The receipt, from `result._meta` or the root `_meta`.
    pub receipt: Option<PaidReceipt>,
    /// The payment made for the call, if any.
    pub payment: Option<McpPayment>,
}

/// A server answer this client cannot use, by what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BadAnswer {
    /// Not JSON (or nested too deep, or with a member twice).
    NotJson(String),
    /// Longer than [`McpOptions::max_body`].
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// JSON, but not a JSON-RPC 2.0 response: names what is wrong.
    NotJsonRpc(&'static str),
    /// The response to another request.
    WrongId {
        /// The id sent.
        expected: String,
        /// The id answered (`none` when absent).
        got: String,
    },
    /// The body, or the event stream, ended without a response.
    NoResponse,
    /// A `Content-Type` that is neither JSON nor an event stream.
    ContentType(String),
    /// Payment-required data that cannot be read (no challenges, a malformed
    /// `problem` or `failure`).
    Payment(JsonRpcError),
    /// A result that does not have MCP's shape (an `initialize` answer without a
    /// protocol version, a version not supported, a tool list that is not one).
    Protocol(String),
}

impl fmt::Display for BadAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadAnswer::NotJson(e) => write!(f, "the server's answer is not JSON: {e}"),
            BadAnswer::TooLarge { limit } => {
                write!(f, "the server's answer is longer than {limit} bytes")
            }
            BadAnswer::NotJsonRpc(what) => {
                write!(
                    f,
                    "the server's answer is not a JSON-RPC 2.0 response: {what}"
                )
            }
            BadAnswer::WrongId { expected, got } => write!(
                f,
                "the server answered request id {got}, not the id {expected} sent"
            ),
            BadAnswer::NoResponse => f.write_str("the server's answer ended without a response"),
            BadAnswer::ContentType(t) => write!(
                f,
                "the server answered with Content-Type {t:?}, neither application/json nor \
                 text/event-stream"
            ),
            BadAnswer::Payment(e) => write!(f, "the server's payment request is unreadable: {e}"),
            BadAnswer::Protocol(what) => write!(f, "not an MCP answer: {what}"),
        }
    }
}

/// Why a call did not end with a result.
#[derive(Debug)]
#[non_exhaustive]
pub enum McpError {
    /// The URL or an argument is unusable.
    Invalid(String),
    /// No answer came (connect, TLS, timeout, an HTTP 5xx) before anything was paid.
    Network(String),
    /// The server answered with an HTTP status that carries no JSON-RPC answer
    /// (404 for an ended session, 401, …), before anything was paid.
    Status {
        /// The HTTP status.
        status: u16,
        /// What it means here.
        detail: String,
    },
    /// The server's answer is unusable; nothing was paid.
    BadAnswer(BadAnswer),
    /// A JSON-RPC error that is not about payment (an unknown tool, bad
    /// arguments). After paying it comes with the payment, and no receipt.
    Rpc {
        /// `error.code`.
        code: i64,
        /// `error.message`.
        message: String,
        /// `error.data`.
        data: Option<Value>,
        /// The payment made for the call, if any.
        payment: Option<Box<McpPayment>>,
    },
    /// Nothing was paid: no challenge was payable, or the spending policy refused
    /// every one.
    Declined(Declined),
    /// The method could not pay the chosen challenge.
    Method(PayError),
    /// The server refused the payment: a second payment request, -32043 or -32602
    /// after paying. Nothing more is paid for this call.
    Rejected {
        /// The error code (-32042, -32043 or -32602).
        code: i64,
        /// `error.message`.
        message: String,
        /// The server's problem details, when sent.
        problem: Option<Box<Problem>>,
        /// The draft's `failure {reason, detail}`, when sent.
        failure: Option<Failure>,
        /// The payment refused.
        payment: Box<McpPayment>,
    },
    /// Something failed after the credential was sent (and sent once more when no
    /// answer came): whether the payment settled is unknown.
    UnknownOutcome {
        /// What went wrong.
        detail: String,
        /// The payment in doubt.
        payment: Box<McpPayment>,
    },
}

impl fmt::Display for McpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            McpError::Invalid(e) => f.write_str(e),
            McpError::Network(e) => write!(f, "network error: {e}"),
            McpError::Status { status, detail } => {
                write!(f, "the server answered HTTP {status}: {detail}")
            }
            McpError::BadAnswer(e) => e.fmt(f),
            McpError::Rpc { code, message, .. } => {
                write!(f, "the server answered error {code}: {message}")
            }
            McpError::Declined(d) => write!(f, "payment refused: {d}"),
            McpError::Method(e) => write!(f, "the payment method failed: {e}"),
            McpError::Rejected {
                code,
                message,
                problem,
                failure,
                ..
            } => {
                write!(f, "the server rejected the payment ({code} {message})")?;
                if let Some(p) = problem {
                    write!(f, ": {}", p.type_uri)?;
                    if let Some(d) = &p.detail {
                        write!(f, " ({d})")?;
                    }
                }
                if let Some(reason) = failure.as_ref().and_then(|x| x.reason.as_ref()) {
                    write!(f, "; reason: {reason}")?;
                }
                Ok(())
            }
            McpError::UnknownOutcome { detail, .. } => write!(
                f,
                "{detail}, after the credential was sent; the payment may have settled"
            ),
        }
    }
}

impl std::error::Error for McpError {}

impl McpError {
    /// The payment made for the call, when one was.
    pub fn payment(&self) -> Option<&McpPayment> {
        match self {
            McpError::Rpc { payment, .. } => payment.as_deref(),
            McpError::Rejected { payment, .. } | McpError::UnknownOutcome { payment, .. } => {
                Some(payment)
            }
            _ => None,
        }
    }
}

/// A client of one MCP (or plain JSON-RPC) endpoint over HTTP that pays for
/// calls from its wallet.
pub struct PayingMcpClient {
    carrier: HttpCarrier,
    wallet: Arc<Mutex<Wallet>>,
    origin: Origin,
    server: Option<ServerInfo>,
}

impl fmt::Debug for PayingMcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayingMcpClient")
            .field("origin", &self.origin)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl PayingMcpClient {
    /// Opens an MCP session at `url`: `initialize` (advertising the wallet's
    /// methods in `capabilities.experimental.payment`), then
    /// `notifications/initialized`.
    pub async fn connect(
        url: &str,
        wallet: Wallet,
        options: McpOptions,
    ) -> Result<PayingMcpClient, McpError> {
        PayingMcpClient::connect_shared(url, Arc::new(Mutex::new(wallet)), options).await
    }

    /// [`connect`](Self::connect) with a wallet shared with other clients, so one
    /// budget holds across them.
    pub async fn connect_shared(
        url: &str,
        wallet: Arc<Mutex<Wallet>>,
        options: McpOptions,
    ) -> Result<PayingMcpClient, McpError> {
        let mut client = PayingMcpClient::plain_shared(url, wallet, &options)?;
        let capability = wallet_capability(&*client.wallet.lock().await);
        let mut capabilities = JsonObject::new();
        capabilities.insert(
            "experimental".into(),
            Value::Object(jsonrpc::experimental_capability(&capability)),
        );
        let params = serde_json::json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": capabilities,
            "clientInfo": {"name": options.client_name, "version": options.client_version},
        });
        let answer = client
            .carrier
            .exchange(request("initialize", Some(params)))
            .await
            .map_err(|f| match f {
                flow::Failure::Transport(d) => McpError::Network(d),
                flow::Failure::Status { status, detail } => McpError::Status { status, detail },
                flow::Failure::BadAnswer(b) => McpError::BadAnswer(b),
            })?;
        let result = result_object(answer, None)?;
        let server = server_info(&result)?;
        client
            .carrier
            .set_version(&server.protocol_version)
            .map_err(McpError::BadAnswer)?;
        client.server = Some(server);
        client
            .carrier
            .notify(request("notifications/initialized", None))
            .await
            .map_err(|f| match f {
                flow::Failure::Transport(d) => McpError::Network(d),
                flow::Failure::Status { status, detail } => McpError::Status { status, detail },
                flow::Failure::BadAnswer(b) => McpError::BadAnswer(b),
            })?;
        Ok(client)
    }

    /// A client of a plain JSON-RPC endpoint: no MCP handshake; use
    /// [`call`](Self::call).
    pub fn plain(
        url: &str,
        wallet: Wallet,
        options: McpOptions,
    ) -> Result<PayingMcpClient, McpError> {
        PayingMcpClient::plain_shared(url, Arc::new(Mutex::new(wallet)), &options)
    }

    fn plain_shared(
        url: &str,
        wallet: Arc<Mutex<Wallet>>,
        options: &McpOptions,
    ) -> Result<PayingMcpClient, McpError> {
        let url =
            Url::parse(url).map_err(|e| McpError::Invalid(format!("invalid URL {url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(McpError::Invalid(format!(
                "{url} is not an http or https URL"
            )));
        }
        let http = reqwest::Client::builder()
            // A credential must not follow a redirect to another origin; the
            // transport has no use for redirects.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .build()
            .map_err(|e| McpError::Network(crate::paying::network_text(&e)))?;
        Ok(PayingMcpClient {
            origin: crate::origin_of(&url),
            carrier: HttpCarrier::new(http, url, options.max_body),
            wallet,
            server: None,
        })
    }

    /// The wallet, shared with every client made with it.
    pub fn wallet(&self) -> &Arc<Mutex<Wallet>> {
        &self.wallet
    }

    /// What the server said in its answer to `initialize` (`None` for a plain
    /// JSON-RPC client).
    pub fn server(&self) -> Option<&ServerInfo> {
        self.server.as_ref()
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        self.carrier.url().as_str()
    }

    /// Every tool the server lists (all pages), with its listed prices.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor.take().map(|c| serde_json::json!({ "cursor": c }));
            let exchanged = self
                .payer()
                .call(
                    &self.carrier,
                    request("tools/list", params),
                    Placement::Nested,
                )
                .await?;
            let payment = exchanged.payment;
            let result = result_object(exchanged.response, payment.clone())?;
            let Some(Value::Array(list)) = result.get("tools") else {
                return Err(McpError::BadAnswer(BadAnswer::Protocol(
                    "`tools/list` has no `tools` array".into(),
                )));
            };
            for entry in list {
                tools.push(tool_of(entry)?);
            }
            match result.get("nextCursor") {
                Some(Value::String(next)) if !next.is_empty() => cursor = Some(next.clone()),
                _ => return Ok(tools),
            }
        }
        Err(McpError::BadAnswer(BadAnswer::Protocol(format!(
            "`tools/list` has more than {MAX_PAGES} pages"
        ))))
    }

    /// `tools/call` of `name` with `arguments`, paying a payment request once.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
    ) -> Result<ToolResult, McpError> {
        let mut params = JsonObject::new();
        params.insert("name".into(), name.into());
        if let Some(arguments) = arguments {
            params.insert("arguments".into(), Value::Object(arguments));
        }
        let exchanged = self
            .payer()
            .call(
                &self.carrier,
                request("tools/call", Some(Value::Object(params))),
                Placement::Nested,
            )
            .await?;
        tool_result(exchanged)
    }

    /// A plain JSON-RPC call of `method` (where `params` may be an array), paying a
    /// payment request once, with the credential in the message's root `_meta`.
    pub async fn call(&self, method: &str, params: Option<Value>) -> Result<RpcResult, McpError> {
        let exchanged = self
            .payer()
            .call(&self.carrier, request(method, params), Placement::Root)
            .await?;
        let payment = exchanged.payment;
        match exchanged.response.get("result") {
            Some(result) => Ok(RpcResult {
                result: result.clone(),
                receipt: exchanged.receipt,
                payment,
            }),
            None => Err(rpc_error(&exchanged.response, payment)),
        }
    }

    /// Ends the session (an HTTP `DELETE` with its id), when there is one.
    pub async fn close(self) {
        self.carrier.end_session().await;
    }

    fn payer(&self) -> Payer<'_> {
        Payer {
            wallet: &self.wallet,
            origin: &self.origin,
        }
    }
}

/// `{"method": method, "params": params}`.
fn request(method: &str, params: Option<Value>) -> JsonObject {
    let mut message = JsonObject::new();
    message.insert("method".into(), method.into());
    if let Some(params) = params {
        message.insert("params".into(), params);
    }
    message
}

/// The payment capability of the wallet's methods.
pub(crate) fn wallet_capability(wallet: &Wallet) -> PaymentCapability {
    let mut capability = PaymentCapability::default();
    for method in wallet.methods() {
        for intent in ["charge", "session"] {
            if method.supports_intent(intent) {
                capability = capability.with(method.name(), intent);
            }
        }
    }
    capability
}

/// The error of a response as [`McpError::Rpc`].
fn rpc_error(response: &JsonObject, payment: Option<McpPayment>) -> McpError {
    let error = response.get("error").and_then(Value::as_object);
    McpError::Rpc {
        code: error
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64)
            .unwrap_or_default(),
        message: error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        data: error.and_then(|e| e.get("data")).cloned(),
        payment: payment.map(Box::new),
    }
}

/// The `result` object of a response; an error as [`McpError::Rpc`].
fn result_object(
    response: JsonObject,
    payment: Option<McpPayment>,
) -> Result<JsonObject, McpError> {
    match response.get("result") {
        Some(Value::Object(result)) => Ok(result.clone()),
        Some(_) => Err(not_an_object(payment)),
        None => Err(rpc_error(&response, payment)),
    }
}

fn not_an_object(payment: Option<McpPayment>) -> McpError {
    let detail = "the result is not an object".to_owned();
    match payment {
        Some(payment) => McpError::UnknownOutcome {
            detail,
            payment: Box::new(payment),
        },
        None => McpError::BadAnswer(BadAnswer::Protocol(detail)),
    }
}

pub(crate) fn tool_result(exchanged: flow::Exchanged) -> Result<ToolResult, McpError> {
    let payment = exchanged.payment;
    let result = result_object(exchanged.response, payment.clone())?;
    Ok(ToolResult {
        is_error: result.get("isError") == Some(&Value::Bool(true)),
        result,
        receipt: exchanged.receipt,
        payment,
    })
}

fn server_info(result: &JsonObject) -> Result<ServerInfo, McpError> {
    let bad = |what: &str| McpError::BadAnswer(BadAnswer::Protocol(what.to_owned()));
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("the `initialize` answer has no `protocolVersion`"))?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(bad(&format!(
            "the server speaks protocol version {version:?}; this client speaks {}",
            SUPPORTED_VERSIONS.join(", ")
        )));
    }
    let capabilities = match result.get("capabilities") {
        Some(Value::Object(c)) => c.clone(),
        None => JsonObject::new(),
        Some(_) => return Err(bad("`capabilities` is not an object")),
    };
    let payment = match jsonrpc::read_capability(&capabilities) {
        Ok(payment) => payment,
        Err(e) => {
            // Advertised capabilities never decide a payment: a broken one is
            // only logged.
            tracing::info!(target: "mpp::client", "the server's payment capability is unreadable: {e}");
            None
        }
    };
    let info = result.get("serverInfo");
    let text = |name: &str| {
        info.and_then(|i| i.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(ServerInfo {
        protocol_version: version.to_owned(),
        name: text("name"),
        version: text("version"),
        capabilities,
        payment,
    })
}

fn tool_of(entry: &Value) -> Result<Tool, McpError> {
    let bad = |what: &str| McpError::BadAnswer(BadAnswer::Protocol(what.to_owned()));
    let Value::Object(tool) = entry else {
        return Err(bad("a tool is not an object"));
    };
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a tool has no `name`"))?;
    let (offers, offers_error) = match jsonrpc::read_tool_offers(tool) {
        Ok(offers) => (offers, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    Ok(Tool {
        name: name.to_owned(),
        description: tool
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        input_schema: tool.get("inputSchema").cloned().unwrap_or(Value::Null),
        offers,
        offers_error,
    })
}
