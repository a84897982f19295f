//! Priced tools in an `rmcp` server (feature `mcp`): [`McpPaywall`] puts a
//! [`JsonRpcPaywall`] in front of a `ServerHandler`'s tools, over any rmcp transport
//! (Streamable HTTP, stdio).
//!
//! A few lines in the handler do it: [`McpPaywall::admit`] at the top of
//! `call_tool` (return its [`Stop`], or go on with the payment), [`McpPaywall::receipt`]
//! on the result, [`McpPaywall::price`] on `list_tools`, and
//! [`McpPaywall::advertise`] on `get_info`:
//!
//! ```no_run
//! use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ServerCapabilities};
//! use rmcp::model::{ListToolsResult, PaginatedRequestParams, ServerConfig};
//! use rmcp::service::RequestContext;
//! use rmcp::{ErrorData, RoleServer, ServerHandler};
//! use mpp_server::mcp::McpPaywall;
//!
//! struct Weather { paywall: McpPaywall }
//!
//! impl ServerHandler for Weather {
//!     fn get_info(&self) -> ServerConfig {
//!         let mut info = ServerConfig::default();
//!         info.capabilities = ServerCapabilities::builder().enable_tools().build();
//!         self.paywall.advertise(&mut info);
//!         info
//!     }
//!
//!     async fn list_tools(
//!         &self,
//!         _: Option<PaginatedRequestParams>,
//!         _: RequestContext<RoleServer>,
//!     ) -> Result<ListToolsResult, ErrorData> {
//!         let mut list = ListToolsResult::default(); // the tools, as usual
//!         self.paywall.price(&mut list);
//!         Ok(list)
//!     }
//!
//!     async fn call_tool(
//!         &self,
//!         request: CallToolRequestParams,
//!         context: RequestContext<RoleServer>,
//!     ) -> Result<CallToolResponse, ErrorData> {
//!         let paid = match self.paywall.admit(&request, &context).await {
//!             Ok(paid) => paid,
//!             Err(stop) => return stop.into(),
//!         };
//!         let result = CallToolResult::success(vec![ContentBlock::text("sunny")]);
//!         Ok(McpPaywall::receipt(paid.as_ref(), result).into())
//!     }
//! }
//! ```
//!
//! MCP nests the credential in `params._meta`, where rmcp hands it over; the root
//! `_meta` of generic JSON-RPC is not part of an MCP message, and rmcp drops it
//! before a handler could see it. Over HTTP, [`JsonRpcGuardLayer`](crate::JsonRpcGuardLayer)
//! in front of rmcp's service moves it into `params._meta` (E41).

use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, OFFERS_KEY, RECEIPT_KEY};
use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorCode, ListToolsResult,
    MetaObject, ServerConfig,
};
use rmcp::service::RequestContext;
use serde_json::Value;

use crate::jsonrpc::{Admission, JsonRpcPaywall, PaidCall};

/// Why a priced tool does not run: what `call_tool` returns instead
/// (`return stop.into()`).
#[derive(Debug)]
pub enum Stop {
    /// Refused: -32042 with challenges, -32043, -32602 or -32603.
    Refused(ErrorData),
    /// A session's top-up or close, answered by the paywall with its receipt.
    Answered(CallToolResult),
}

impl From<Stop> for Result<CallToolResponse, ErrorData> {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Refused(error) => Err(error),
            Stop::Answered(result) => Ok(result.into()),
        }
    }
}

/// A [`JsonRpcPaywall`] as an rmcp server handler uses it.
#[derive(Debug, Clone)]
pub struct McpPaywall {
    paywall: JsonRpcPaywall,
}

impl From<JsonRpcPaywall> for McpPaywall {
    fn from(paywall: JsonRpcPaywall) -> McpPaywall {
        McpPaywall { paywall }
    }
}

impl McpPaywall {
    /// The paywall for the tools priced in `paywall`.
    pub fn new(paywall: JsonRpcPaywall) -> McpPaywall {
        McpPaywall { paywall }
    }

    /// Judges a `tools/call`: `Ok(None)` for a free tool, `Ok(Some(paid))` once a
    /// priced one is paid for, or why the tool must not run ([`Stop`]: the error
    /// to answer, or a session's top-up or close already answered).
    pub async fn admit(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<PaidCall>, Stop> {
        let view = request_view(request, context);
        match self.paywall.admit(&view).await {
            Admission::Free | Admission::Drop => Ok(None),
            Admission::Paid(paid) => Ok(Some(paid)),
            Admission::Refused(error) => Err(Stop::Refused(error_data(error))),
            Admission::Answered { result, paid } => {
                let mut done = CallToolResult::structured(result);
                done = McpPaywall::receipt(Some(&paid), done);
                Err(Stop::Answered(done))
            }
        }
    }

    /// `result` with the receipt of `paid` in its `_meta` (unchanged when `None`).
    /// Put it on every answer to a paid call, `isError` ones too: the payment
    /// was taken either way.
    pub fn receipt(paid: Option<&PaidCall>, mut result: CallToolResult) -> CallToolResult {
        if let Some(paid) = paid {
            let meta = result.meta.get_or_insert_with(MetaObject::default);
            meta.0
                .insert(RECEIPT_KEY.into(), Value::Object(paid.receipt().to_json()));
        }
        result
    }

    /// `error` with the receipt of `paid` in `data._meta`: for a paid call whose
    /// handler fails with a protocol error after the payment was taken.
    pub fn receipt_on_error(paid: Option<&PaidCall>, mut error: ErrorData) -> ErrorData {
        if let Some(paid) = paid {
            let mut data = match error.data.take() {
                Some(Value::Object(data)) => data,
                Some(other) => {
                    let mut data = JsonObject::new();
                    data.insert("detail".into(), other);
                    data
                }
                None => JsonObject::new(),
            };
            let mut meta = JsonObject::new();
            meta.insert(RECEIPT_KEY.into(), Value::Object(paid.receipt().to_json()));
            data.insert(jsonrpc::META.into(), Value::Object(meta));
            error.data = Some(Value::Object(data));
        }
        error
    }

    /// Lists each priced tool's offers in its `_meta` (D21), so that clients can
    /// show prices before calling.
    pub fn price(&self, list: &mut ListToolsResult) {
        for tool in &mut list.tools {
            let offers = self.paywall.tool_offers(&tool.name);
            if offers.is_empty() {
                continue;
            }
            let entries = offers.iter().map(|o| Value::Object(o.to_json())).collect();
            tool.meta
                .get_or_insert_with(MetaObject::default)
                .0
                .insert(OFFERS_KEY.into(), Value::Array(entries));
        }
    }

    /// Advertises the accepted methods and intents in
    /// `capabilities.experimental.payment`.
    pub fn advertise(&self, info: &mut ServerConfig) {
        let capability = self.paywall.capability();
        if capability.methods.is_empty() {
            return;
        }
        info.capabilities
            .experimental
            .get_or_insert_with(Default::default)
            .insert(jsonrpc::CAPABILITY.into(), capability.to_json());
    }
}

/// The request as JSON-RPC sent it, for the paywall: rmcp moves `params._meta`
/// into the context, so it is put back.
fn request_view(
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> JsonObject {
    let mut params = JsonObject::new();
    params.insert("name".into(), Value::String(request.name.to_string()));
    if let Some(arguments) = &request.arguments {
        params.insert("arguments".into(), Value::Object(arguments.clone()));
    }
    let mut meta = context.meta.0.0.clone();
    if let Some(own) = &request.meta {
        for (k, v) in own.0.0.iter() {
            meta.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if !meta.is_empty() {
        params.insert(jsonrpc::META.into(), Value::Object(meta));
    }
    let mut view = JsonObject::new();
    view.insert("jsonrpc".into(), "2.0".into());
    view.insert(
        "id".into(),
        serde_json::to_value(&context.id).unwrap_or(Value::Null),
    );
    view.insert("method".into(), "tools/call".into());
    view.insert("params".into(), Value::Object(params));
    view
}

/// An `error` object as rmcp's error type.
fn error_data(error: JsonObject) -> ErrorData {
    let code = error
        .get("code")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(jsonrpc::INTERNAL_ERROR as i32);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("Internal error")
        .to_owned();
    ErrorData::new(ErrorCode(code), message, error.get("data").cloned())
}
