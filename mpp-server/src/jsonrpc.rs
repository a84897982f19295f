//! The paywall for JSON-RPC 2.0 and MCP (draft-payment-transport-mcp-00): priced
//! methods and tools ([`PricedCall`](crate::PricedCall)) judged by the same engine,
//! claims, store and methods as HTTP routes, answered with the draft's errors
//! instead of 402s.
//!
//! [`JsonRpcPaywall::admit`] judges one request object, whatever carries it (HTTP,
//! stdio, an MCP SDK): it finds the credential in `params._meta` or the root
//! `_meta`, lets the engine check binding, pinning (to the tool or method and, with
//! [`PricedCall::bind_arguments`](crate::PricedCall::bind_arguments), to the
//! arguments) and expiry, claims the challenge once, and settles. What is not
//! priced passes untouched, credential or not; a priced notification is dropped,
//! never charged. [`JsonRpcService`] serves a [`JsonRpcHandler`] over HTTP POST with
//! batches and notifications; the `mcp` module puts the same paywall in front of an
//! `rmcp` server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use mpp_core::ParseOptions;
use mpp_core::credential::{CredentialField, FoundCredential};
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{
    self, Failure, JsonRpcError, PaidReceipt, PaymentCapability, Placement, ToolOffer,
};
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::server::{Evaluation, PaymentRequest, Refusal};
use serde_json::Value;
use tower_service::Service;

use crate::body::{BoxError, PaywallBody, full};
use crate::route::{CompiledCall, Operation, PaidOffer, json_rpc_method};
use crate::service::{self, Shared, VerifiedPayment};
use crate::session::serve::{self, Admitted};

/// The most requests one batch may hold; a longer batch is refused whole
/// (-32600), so that one HTTP request cannot make a server mint or settle without
/// bound.
pub const MAX_BATCH: usize = 64;

/// What the paywall makes of one JSON-RPC request.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Admission {
    /// Not priced: serve it as usual (a credential it carries is ignored).
    Free,
    /// A priced call sent as a notification: drop it, answer nothing, charge nothing.
    Drop,
    /// Refused: answer with this `error` object (-32042, -32043, -32602 or -32603).
    Refused(JsonObject),
    /// Paid for: serve it, then put the receipt on the answer ([`PaidCall::attach`]).
    /// From a session, [`VerifiedPayment::session`] bills further units.
    Paid(PaidCall),
    /// A session's top-up or close, answered by the paywall: send `result` with the
    /// receipt ([`PaidCall::attach`]) and do not run the call.
    Answered {
        /// The result: the session's state after the action.
        result: Value,
        /// The payment, for its receipt.
        paid: PaidCall,
    },
}

/// A settled call: the payment, for the handler, and its receipt, for the answer.
#[derive(Debug, Clone)]
pub struct PaidCall {
    /// The payment (receipt, challenge, payer).
    pub payment: VerifiedPayment,
    /// Where the credential was: the receipt goes to the same kind of place.
    pub placement: Placement,
}

impl PaidCall {
    /// The receipt as JSON-RPC carries it, with the challenge id it settles.
    pub fn receipt(&self) -> PaidReceipt {
        PaidReceipt {
            receipt: self.payment.receipt.clone(),
            challenge_id: self.payment.challenge.id.clone(),
        }
    }

    /// Puts the receipt on `response` where the credential came from (D21): in
    /// `result._meta` for one sent in `params._meta` (MCP's place) when the result
    /// is an object; in the root `_meta` otherwise, which also carries it on an
    /// error answered after payment.
    pub fn attach(&self, response: &mut JsonObject) {
        let placement = match (self.placement, response.get("result")) {
            (Placement::Nested, Some(Value::Object(_))) => Placement::Nested,
            _ => Placement::Root,
        };
        // Nested needs an object result and Root always succeeds: cannot fail here.
        let _ = jsonrpc::attach_receipt(response, &self.receipt(), placement);
    }
}

/// The JSON-RPC side of a paywall: the priced calls added with
/// [`PaywallBuilder::call`](crate::PaywallBuilder::call), sharing the engine,
/// store and limits of the [`PaywallLayer`](crate::PaywallLayer) it came from.
#[derive(Clone)]
pub struct JsonRpcPaywall {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for JsonRpcPaywall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonRpcPaywall")
            .field("calls", &self.shared.calls.len())
            .finish_non_exhaustive()
    }
}

/// The priced call a request names, and the operation's name.
fn operation_of(request: &JsonObject) -> Option<(bool, &str)> {
    let method = request.get("method")?.as_str()?;
    if method == "tools/call" {
        let name = request.get("params")?.get("name")?.as_str()?;
        Some((true, name))
    } else {
        Some((false, method))
    }
}

impl JsonRpcPaywall {
    pub(crate) fn new(shared: Arc<Shared>) -> JsonRpcPaywall {
        JsonRpcPaywall { shared }
    }

    fn call_for(&self, request: &JsonObject) -> Option<&CompiledCall> {
        let (tool, name) = operation_of(request)?;
        self.shared.calls.iter().find(|c| match &c.operation {
            Operation::Tool(t) => tool && t == name,
            Operation::Method(m) => !tool && m == name,
        })
    }

    /// Whether `request` (a JSON-RPC request object) names a priced call.
    pub fn is_priced(&self, request: &JsonObject) -> bool {
        self.call_for(request).is_some()
    }

    /// What the MCP tool `name` costs, for its `tools/list` entry
    /// ([`jsonrpc::attach_tool_offers`]); empty for a free tool.
    pub fn tool_offers(&self, name: &str) -> Vec<ToolOffer> {
        let Some(call) = self
            .shared
            .calls
            .iter()
            .find(|c| c.operation == Operation::Tool(name.to_owned()))
        else {
            return Vec::new();
        };
        call.route
            .offers
            .iter()
            .map(|offer| {
                let text = |name: &str| {
                    offer
                        .request()
                        .get(name)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                ToolOffer {
                    method: offer.method_name().to_owned(),
                    intent: offer.intent().as_str().to_owned(),
                    amount: text("amount"),
                    currency: text("currency"),
                }
            })
            .collect()
    }

    /// Every method and intent the priced calls accept: the `experimental.payment`
    /// capability of an MCP server.
    pub fn capability(&self) -> PaymentCapability {
        self.shared
            .calls
            .iter()
            .flat_map(|c| c.route.offers.iter())
            .fold(PaymentCapability::default(), |cap, offer| {
                cap.with(offer.method_name(), offer.intent().as_str())
            })
    }

    /// Judges one request object. `request` must already be a valid JSON-RPC 2.0
    /// request or notification ([`check_request`]).
    pub async fn admit(&self, request: &JsonObject) -> Admission {
        self.admit_from(request, None).await
    }

    /// [`admit`](Self::admit), for a request from `client` (the key the paywall's
    /// [`MintLimit`](crate::MintLimit) counts per client).
    pub async fn admit_from(&self, request: &JsonObject, client: Option<&str>) -> Admission {
        let Some(call) = self.call_for(request) else {
            return Admission::Free;
        };
        let path = call.route.path.as_str();
        if !request.contains_key("id") {
            // The draft: never processed; JSON-RPC: never answered.
            tracing::debug!(target: "mpp::server", route = %path, "priced notification dropped");
            return Admission::Drop;
        }
        let found = match jsonrpc::find_credential(request) {
            Ok(found) => found,
            Err(e) => return Admission::Refused(refused_early(path, &e)),
        };
        let placement = found.map_or(Placement::Root, |(_, p)| p);
        let credential = match found {
            None => None,
            Some((value, _)) => match jsonrpc::credential_from_json(value, &ParseOptions::STRICT) {
                Ok(c) => Some(c.to_header()),
                Err(e) => return Admission::Refused(refused_early(path, &e)),
            },
        };
        let arguments = call.bind_arguments.then(|| bound_arguments(request));
        let method = json_rpc_method();
        let payment = PaymentRequest {
            http_method: method.as_str(),
            path,
            query: None,
            credentials: credential
                .iter()
                .map(|c| FoundCredential {
                    field: CredentialField::Authorization,
                    value: c.as_bytes(),
                })
                .collect(),
            accept_payment: None,
            idempotency_key: None,
            body: arguments.as_deref().map(str::as_bytes),
        };
        let shared = &self.shared;
        let route = &call.route;
        let pending = match shared
            .engine
            .evaluate(&route.engine, &payment, (shared.clock)())
        {
            Evaluation::Refuse(refusal) => {
                service::log_refusal(route, &refusal);
                return Admission::Refused(self.refuse(call, &payment, &refusal, client).await);
            }
            Evaluation::Verify(pending) => pending,
        };
        let paid = |pending, receipt| PaidCall {
            payment: VerifiedPayment::new(pending, receipt),
            placement,
        };
        let admitted = match route.offer(pending.offer) {
            Some(PaidOffer::Charge(offer)) => {
                service::settle_charge(shared, route, offer, &pending)
                    .await
                    .map(|receipt| Admission::Paid(paid(pending, receipt)))
            }
            Some(PaidOffer::Session(offer)) => serve::admit(&shared.sessions, offer, &pending)
                .await
                .map(|admitted| match admitted {
                    Admitted::Answer { body, receipt } => Admission::Answered {
                        result: serde_json::from_str(&body).unwrap_or(Value::String(body)),
                        paid: paid(pending, receipt),
                    },
                    Admitted::Serve { receipt, meter } => {
                        let mut call = paid(pending, *receipt);
                        call.payment.session = Some(meter);
                        Admission::Paid(call)
                    }
                }),
            None => Err(Refusal::new(
                ProblemType::InternalPaymentError,
                "the credential answers no offer of this call",
            )),
        };
        match admitted {
            Ok(admission) => admission,
            Err(refusal) => {
                tracing::info!(target: "mpp::server", route = %path, problem = %refusal.problem, "payment refused");
                Admission::Refused(self.refuse(call, &payment, &refusal, client).await)
            }
        }
    }

    /// The `error` object for `refusal`: the draft's code, with fresh challenges
    /// when it carries them.
    async fn refuse(
        &self,
        call: &CompiledCall,
        payment: &PaymentRequest<'_>,
        refusal: &Refusal,
        client: Option<&str>,
    ) -> JsonObject {
        let (shared, route) = (&self.shared, &call.route);
        match refusal.problem {
            ProblemType::MalformedCredential | ProblemType::BadRequest => {
                return jsonrpc::invalid_params(&refusal.detail);
            }
            p if !p.carries_challenge() => return internal_error(refusal),
            _ => {}
        }
        let now = (shared.clock)();
        if route.mints {
            if let Err(wait) = shared.minting.take(client, now) {
                tracing::info!(target: "mpp::server", route = %route.path, "too many challenges minted");
                let mut error = jsonrpc::internal_error(&format!(
                    "too many payment challenges were asked for; retry in {wait} s"
                ));
                if let Some(Value::Object(data)) = error.get_mut("data") {
                    data.insert("retryAfter".into(), wait.into());
                }
                return error;
            }
        }
        let terms = service::issue_terms(route, now).await;
        let nonce = service::nonce().unwrap_or_default();
        let challenges = match shared
            .engine
            .challenges(&route.engine, payment, now, &nonce, &terms)
        {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => {
                return internal_error(&Refusal::new(
                    ProblemType::InternalPaymentError,
                    "the call offers no way to pay",
                ));
            }
            Err(e) => {
                return internal_error(&Refusal::new(
                    ProblemType::InternalPaymentError,
                    format!("cannot issue a challenge: {e}"),
                ));
            }
        };
        let mut problem = Problem::new(refusal.problem).with_detail(refusal.detail.clone());
        if let Some(specific) = &refusal.specific {
            problem.type_uri.clone_from(&specific.type_uri);
            problem.title.clone_from(&specific.title);
            problem.extensions.clone_from(&specific.extensions);
        }
        problem.challenge_id = challenges.first().map(|c| c.id.to_string());
        let written = if refusal.problem == ProblemType::PaymentRequired {
            jsonrpc::payment_required(&challenges, Some(&problem))
        } else {
            let failure = Failure {
                reason: Some(refusal.problem.slug().to_owned()),
                detail: Some(refusal.detail.clone()),
            };
            jsonrpc::verification_failed(&challenges, &failure, Some(&problem))
        };
        written.unwrap_or_else(|e| jsonrpc::internal_error(&e.to_string()))
    }

    /// Serves `handler` over HTTP with this paywall in front of it.
    pub fn service<H: JsonRpcHandler>(&self, handler: H) -> JsonRpcService<H> {
        JsonRpcService {
            paywall: self.clone(),
            handler: Arc::new(handler),
        }
    }
}

/// The text whose digest binds the arguments: the JCS form of a tool's
/// `arguments` (absent counts as `{}`) or of a method's `params` (absent: `[]`).
fn bound_arguments(request: &JsonObject) -> String {
    let params = request.get("params");
    if request.get("method").and_then(Value::as_str) == Some("tools/call") {
        match params.and_then(|p| p.get("arguments")) {
            Some(arguments) => mpp_core::jcs::to_string(arguments),
            None => "{}".to_owned(),
        }
    } else {
        match params {
            Some(params) => mpp_core::jcs::to_string(params),
            None => "[]".to_owned(),
        }
    }
}

/// A credential that cannot be read: -32602, logged without its content.
fn refused_early(path: &str, error: &JsonRpcError) -> JsonObject {
    tracing::info!(target: "mpp::server", route = %path, "malformed credential: -32602");
    error.to_error_object()
}

/// -32603, with `retryable` when the same credential may be sent again.
fn internal_error(refusal: &Refusal) -> JsonObject {
    let mut error = jsonrpc::internal_error(&refusal.detail);
    if refusal.problem == ProblemType::InternalPaymentError && refusal.retryable {
        if let Some(Value::Object(data)) = error.get_mut("data") {
            data.insert("retryable".into(), true.into());
        }
    }
    error
}

/// A message that is JSON but not a JSON-RPC 2.0 request: answered -32600.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRequest {
    /// The id the answer carries: null when the id itself is unusable.
    pub id: Value,
    /// What is wrong.
    pub detail: &'static str,
}

impl InvalidRequest {
    /// The whole answer: `{"jsonrpc": "2.0", "id": …, "error": {-32600 …}}`.
    pub fn to_response(&self) -> JsonObject {
        jsonrpc::error_response(self.id.clone(), invalid_request_error(self.detail))
    }
}

/// Checks that `message` is a JSON-RPC 2.0 request or notification: an object with
/// `jsonrpc: "2.0"`, a string `method`, `params` (if any) an object or array, and
/// an `id` (if any) a string, a number or null.
pub fn check_request(message: &Value) -> Result<&JsonObject, InvalidRequest> {
    let invalid = |id: Value, detail: &'static str| Err(InvalidRequest { id, detail });
    let Value::Object(request) = message else {
        return invalid(Value::Null, "not an object");
    };
    let id = match request.get("id") {
        None => Value::Null,
        Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => id.clone(),
        Some(_) => return invalid(Value::Null, "`id` must be a string, a number or null"),
    };
    if request.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(id, "`jsonrpc` must be \"2.0\"");
    }
    if !matches!(request.get("method"), Some(Value::String(_))) {
        return invalid(id, "`method` must be a string");
    }
    if !matches!(
        request.get("params"),
        None | Some(Value::Object(_) | Value::Array(_))
    ) {
        return invalid(id, "`params` must be an object or an array");
    }
    Ok(request)
}

/// What a [`JsonRpcHandler`] is asked to do.
#[derive(Debug, Clone)]
pub struct RpcCall {
    /// The method.
    pub method: String,
    /// The params, if any (the payment's `_meta` stays in them).
    pub params: Option<Value>,
    /// The settled payment, when the call is priced.
    pub payment: Option<VerifiedPayment>,
    /// Whether no answer is expected (a notification; never a priced one).
    pub notification: bool,
}

/// The answer to a call: its `result`, or an `error` object.
pub type RpcResult = Result<Value, JsonObject>;

/// A JSON-RPC method table behind a [`JsonRpcService`].
pub trait JsonRpcHandler: Send + Sync + 'static {
    /// Answers one call.
    fn call(&self, call: RpcCall) -> Pin<Box<dyn Future<Output = RpcResult> + Send + '_>>;
}

impl<F, Fut> JsonRpcHandler for F
where
    F: Fn(RpcCall) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = RpcResult> + Send + 'static,
{
    fn call(&self, call: RpcCall) -> Pin<Box<dyn Future<Output = RpcResult> + Send + '_>> {
        Box::pin(self(call))
    }
}

/// `{code: -32601, message: "Method not found"}`, for handlers.
pub fn method_not_found(method: &str) -> JsonObject {
    error_object(-32601, "Method not found", &format!("no method `{method}`"))
}

/// -32600, saying what is wrong with the request.
fn invalid_request_error(what: &str) -> JsonObject {
    error_object(
        jsonrpc::INVALID_REQUEST,
        "Invalid Request",
        &format!("not a JSON-RPC 2.0 request: {what}"),
    )
}

fn error_object(code: i64, message: &str, detail: &str) -> JsonObject {
    let mut data = JsonObject::new();
    data.insert("detail".into(), detail.into());
    let mut error = JsonObject::new();
    error.insert("code".into(), code.into());
    error.insert("message".into(), message.into());
    error.insert("data".into(), Value::Object(data));
    error
}

/// JSON-RPC 2.0 over HTTP POST, paywall first: each request of a message (or
/// batch) is admitted, then handled; the answer is `application/json` (200), or
/// 202 with no body when the message held only notifications.
pub struct JsonRpcService<H> {
    paywall: JsonRpcPaywall,
    handler: Arc<H>,
}

impl<H> Clone for JsonRpcService<H> {
    fn clone(&self) -> Self {
        JsonRpcService {
            paywall: self.paywall.clone(),
            handler: self.handler.clone(),
        }
    }
}

impl<H> std::fmt::Debug for JsonRpcService<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonRpcService")
            .field("paywall", &self.paywall)
            .finish_non_exhaustive()
    }
}

impl<H, B> Service<Request<B>> for JsonRpcService<H>
where
    H: JsonRpcHandler,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<PaywallBody>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.serve(request).await) })
    }
}

impl<H: JsonRpcHandler> JsonRpcService<H> {
    async fn serve<B>(&self, request: Request<B>) -> Response<PaywallBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if request.method() != http::Method::POST {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "JSON-RPC over HTTP takes POST",
            );
        }
        let shared = &self.paywall.shared;
        let (parts, body) = request.into_parts();
        let client = shared.minting.client(&parts);
        let bytes = match Limited::new(body, shared.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                let limit = JsonRpcError::MessageTooLarge {
                    limit: shared.max_body,
                };
                return status(StatusCode::PAYLOAD_TOO_LARGE, &limit.to_string());
            }
            Err(_) => return status(StatusCode::BAD_REQUEST, "cannot read the request body"),
        };
        let message = match jsonrpc::parse_message(&bytes, shared.max_body) {
            Ok(m) => m,
            Err(e) => {
                return answer(Some(jsonrpc::error_response(
                    Value::Null,
                    e.to_error_object(),
                )));
            }
        };
        let answers = match message {
            Value::Array(batch) if batch.is_empty() => {
                return answer(Some(invalid_request("an empty batch")));
            }
            Value::Array(batch) if batch.len() > MAX_BATCH => {
                return answer(Some(invalid_request(&format!(
                    "a batch of more than {MAX_BATCH} requests"
                ))));
            }
            Value::Array(batch) => {
                let mut answers = Vec::with_capacity(batch.len());
                for one in &batch {
                    if let Some(a) = self.one(one, client.as_deref()).await {
                        answers.push(Value::Object(a));
                    }
                }
                if answers.is_empty() {
                    None
                } else {
                    Some(Value::Array(answers))
                }
            }
            one => self.one(&one, client.as_deref()).await.map(Value::Object),
        };
        answer(answers)
    }

    /// Admits and handles one request: its answer, or `None` for a notification.
    async fn one(&self, message: &Value, client: Option<&str>) -> Option<JsonObject> {
        let request = match check_request(message) {
            Ok(r) => r,
            Err(invalid) => return Some(invalid.to_response()),
        };
        let id = request.get("id").cloned();
        let admission = self.paywall.admit_from(request, client).await;
        let payment = match admission {
            Admission::Drop => return None,
            Admission::Refused(error) => {
                return id.map(|id| jsonrpc::error_response(id, error));
            }
            Admission::Free => None,
            Admission::Paid(paid) => Some(paid),
            Admission::Answered { result, paid } => {
                let mut response = jsonrpc::result_response(id?, result);
                paid.attach(&mut response);
                return Some(response);
            }
        };
        let call = RpcCall {
            method: request
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            params: request.get("params").cloned(),
            payment: payment.as_ref().map(|p| p.payment.clone()),
            notification: id.is_none(),
        };
        let outcome = self.handler.call(call).await;
        let id = id?;
        let mut response = match outcome {
            Ok(result) => jsonrpc::result_response(id, result),
            Err(error) => jsonrpc::error_response(id, error),
        };
        if let Some(paid) = &payment {
            paid.attach(&mut response);
        }
        Some(response)
    }
}

fn invalid_request(what: &str) -> JsonObject {
    jsonrpc::error_response(Value::Null, invalid_request_error(what))
}

/// 200 with the answer, or 202 with nothing when there is none.
fn answer<V: Into<Value>>(answer: Option<V>) -> Response<PaywallBody> {
    let Some(answer) = answer else {
        let mut response = Response::new(full(Bytes::new()));
        *response.status_mut() = StatusCode::ACCEPTED;
        return response;
    };
    let body = serde_json::to_vec(&answer.into()).unwrap_or_default();
    let mut response = Response::new(full(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// An HTTP-level failure, before any JSON-RPC message could be read: this status,
/// with an Invalid Request error for clients that only read JSON-RPC.
fn status(status: StatusCode, detail: &str) -> Response<PaywallBody> {
    let error = error_object(jsonrpc::INVALID_REQUEST, "Invalid Request", detail);
    let mut response = answer(Some(jsonrpc::error_response(Value::Null, error)));
    *response.status_mut() = status;
    response
}
