//! A tower layer in front of an MCP server's HTTP endpoint that answers what is not
//! JSON-RPC 2.0 with JSON-RPC's own errors, and moves a credential sent in the
//! message's root `_meta` into `params._meta`, where MCP servers look (E41).
//!
//! MCP SDK servers refuse a message that is not JSON-RPC in their own way (rmcp:
//! HTTP 415 with a text body), and drop the root `_meta` before a handler sees it.
//! [`JsonRpcGuardLayer`] runs first: a POST body that is not JSON gets 400 with
//! -32700; a message with a request that is not JSON-RPC 2.0 (or an empty batch)
//! gets 400 with -32600 for each; a credential in both `_meta` places with different
//! values gets -32602. What passes reaches the inner service unchanged, or with the
//! credential moved. Other methods (GET, DELETE) pass untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, CREDENTIAL_KEY, JsonRpcError, META, Placement};
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{BoxError, PaywallBody, box_response, full};
use crate::builder::DEFAULT_MAX_BODY;
use crate::jsonrpc::{InvalidRequest, check_request};
use crate::service::call;

/// The layer: see the [module documentation](self).
#[derive(Debug, Clone, Copy)]
pub struct JsonRpcGuardLayer {
    max_body: usize,
}

impl Default for JsonRpcGuardLayer {
    fn default() -> Self {
        JsonRpcGuardLayer {
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl JsonRpcGuardLayer {
    /// A guard reading bodies up to `max_body` bytes (413 beyond).
    pub fn new(max_body: usize) -> JsonRpcGuardLayer {
        JsonRpcGuardLayer { max_body }
    }
}

impl<S> Layer<S> for JsonRpcGuardLayer {
    type Service = JsonRpcGuard<S>;

    fn layer(&self, inner: S) -> JsonRpcGuard<S> {
        JsonRpcGuard {
            inner,
            max_body: self.max_body,
        }
    }
}

/// The service [`JsonRpcGuardLayer`] makes.
#[derive(Debug, Clone)]
pub struct JsonRpcGuard<S> {
    inner: S,
    max_body: usize,
}

impl<S, B, ResBody> Service<Request<B>> for JsonRpcGuard<S>
where
    S: Service<Request<PaywallBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<PaywallBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let max_body = self.max_body;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if parts.method != http::Method::POST {
                let request = Request::from_parts(parts, crate::body::boxed(body));
                return call(&mut inner, request).await.map(box_response);
            }
            let bytes = match Limited::new(body, max_body).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<LengthLimitError>() => {
                    let error = JsonRpcError::MessageTooLarge { limit: max_body };
                    return Ok(answer(StatusCode::PAYLOAD_TOO_LARGE, error_message(&error)));
                }
                Err(_) => {
                    let error = JsonRpcError::InvalidMessage("the body cannot be read");
                    return Ok(answer(StatusCode::BAD_REQUEST, error_message(&error)));
                }
            };
            let body = match inspect(&bytes, max_body) {
                Verdict::Pass => bytes,
                Verdict::Rewritten(text) => {
                    parts.headers.remove(http::header::CONTENT_LENGTH);
                    Bytes::from(text)
                }
                Verdict::Answer(status, message) => return Ok(answer(status, message)),
            };
            call(&mut inner, Request::from_parts(parts, full(body)))
                .await
                .map(box_response)
        })
    }
}

/// What to do with a POST body.
#[derive(Debug)]
enum Verdict {
    Pass,
    /// Pass this text instead: a root credential moved into `params._meta`.
    Rewritten(String),
    /// Answer now with this status and JSON-RPC message (or batch of them).
    Answer(StatusCode, Value),
}

fn inspect(bytes: &[u8], max_body: usize) -> Verdict {
    let mut message = match jsonrpc::parse_message(bytes, max_body) {
        Ok(m) => m,
        Err(e) => return Verdict::Answer(StatusCode::BAD_REQUEST, error_message(&e)),
    };
    let items: Vec<&mut Value> = match &mut message {
        Value::Array(batch) if batch.is_empty() => {
            let invalid = InvalidRequest {
                id: Value::Null,
                detail: "an empty batch",
            };
            return Verdict::Answer(
                StatusCode::BAD_REQUEST,
                Value::Object(invalid.to_response()),
            );
        }
        Value::Array(batch) => batch.iter_mut().collect(),
        one => vec![one],
    };
    let mut invalid = Vec::new();
    let mut conflicts = Vec::new();
    let mut moved = false;
    for item in items {
        // Responses and errors the client sends to the server's own requests pass.
        let is_response = item
            .as_object()
            .is_some_and(|o| !o.contains_key("method") && o.contains_key("id"));
        if is_response {
            continue;
        }
        let request = match check_request(item) {
            Ok(r) => r,
            Err(e) => {
                invalid.push(Value::Object(e.to_response()));
                continue;
            }
        };
        match jsonrpc::find_credential(request) {
            Ok(Some((_, Placement::Root))) => {
                if let Value::Object(request) = item {
                    moved |= move_to_params(request);
                }
            }
            Ok(_) => {}
            Err(e) => {
                let id = request.get("id").cloned().unwrap_or(Value::Null);
                conflicts.push(Value::Object(jsonrpc::error_response(
                    id,
                    e.to_error_object(),
                )));
            }
        }
    }
    let batch = matches!(message, Value::Array(_));
    let one_or_batch = |mut answers: Vec<Value>| {
        if batch || answers.len() != 1 {
            Value::Array(answers)
        } else {
            answers.remove(0)
        }
    };
    if !invalid.is_empty() {
        return Verdict::Answer(StatusCode::BAD_REQUEST, one_or_batch(invalid));
    }
    if !conflicts.is_empty() {
        return Verdict::Answer(StatusCode::OK, one_or_batch(conflicts));
    }
    if moved {
        Verdict::Rewritten(message.to_string())
    } else {
        Verdict::Pass
    }
}

/// Moves the root `_meta`'s credential into `params._meta` when `params` is an
/// object or absent (a root `_meta` left empty goes); whether it moved.
fn move_to_params(request: &mut JsonObject) -> bool {
    if !matches!(request.get("params"), None | Some(Value::Object(_))) {
        return false;
    }
    let Some(Value::Object(root)) = request.get_mut(META) else {
        return false;
    };
    let Some(credential) = root.remove(CREDENTIAL_KEY) else {
        return false;
    };
    if root.is_empty() {
        request.remove(META);
    }
    let params = request
        .entry("params")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    if let Value::Object(params) = params {
        if let Value::Object(meta) = params
            .entry(META)
            .or_insert_with(|| Value::Object(JsonObject::new()))
        {
            meta.insert(CREDENTIAL_KEY.into(), credential);
            return true;
        }
    }
    false
}

fn error_message(error: &JsonRpcError) -> Value {
    Value::Object(jsonrpc::error_response(
        Value::Null,
        error.to_error_object(),
    ))
}

fn answer(status: StatusCode, message: Value) -> Response<PaywallBody> {
    let mut response = Response::new(full(message.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
