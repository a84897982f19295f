//! The reference server's MCP tools and JSON-RPC methods, priced with the same
//! paywall as its HTTP routes: `/mcp` (MCP over Streamable HTTP, or stdio with
//! `mpp-server --mcp-stdio`) and `/rpc` (plain JSON-RPC 2.0 over HTTP POST).
//!
//! | tool or method | price | what it does |
//! |---|---|---|
//! | `echo` | free | returns `text` |
//! | `paid_echo` | `preimage/charge`, 1000 usd | returns `text` |
//! | `paid_weather` | `preimage/charge` or `token/charge`, 1000 usd; the arguments are bound | returns a made-up forecast for `city` |
//! | `paid_fail` | `preimage/charge`, 1000 usd | fails (`isError: true`) after the payment, with its receipt |
//! | `/rpc` method `echo` / `paid_echo` | free / 1000 usd | return `params` |
//!
//! Every paid tool or method that runs adds one to `/stats`' `paidHandlerRuns`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mpp_server::guard::JsonRpcGuard;
use mpp_server::jsonrpc::{JsonRpcPaywall, RpcCall, RpcResult, method_not_found};
use mpp_server::mcp::McpPaywall;
use mpp_server::{ChargeOffer, JsonRpcGuardLayer, JsonRpcService, PricedCall};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tower_layer::Layer;

/// The priced tools and methods, for the paywall builder.
pub fn priced_calls(preimage: impl Fn() -> ChargeOffer, token: ChargeOffer) -> Vec<PricedCall> {
    vec![
        PricedCall::tool("paid_echo")
            .offer(preimage())
            .description("A paid MCP tool (preimage test method)"),
        PricedCall::tool("paid_weather")
            .offer(preimage())
            .offer(token)
            .bind_arguments()
            .description("A paid MCP tool whose arguments are bound"),
        PricedCall::tool("paid_fail")
            .offer(preimage())
            .description("A paid MCP tool that fails after the payment"),
        PricedCall::method("paid_echo")
            .offer(preimage())
            .description("A paid JSON-RPC method"),
    ]
}

/// The MCP server: its tools behind the paywall.
#[derive(Debug, Clone)]
pub struct ReferenceTools {
    paywall: McpPaywall,
    runs: Arc<AtomicU64>,
}

impl ReferenceTools {
    /// The tools, priced by `paywall`, counting paid runs in `runs`.
    pub fn new(paywall: JsonRpcPaywall, runs: Arc<AtomicU64>) -> ReferenceTools {
        ReferenceTools {
            paywall: McpPaywall::new(paywall),
            runs,
        }
    }

    fn tools() -> Vec<Tool> {
        let text = json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
        });
        let city = json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        });
        let schema = |v: &Value| Arc::new(v.as_object().cloned().unwrap_or_default());
        vec![
            Tool::new("echo", "Returns `text` (free)", schema(&text)),
            Tool::new("paid_echo", "Returns `text` (1000 usd)", schema(&text)),
            Tool::new(
                "paid_weather",
                "A made-up forecast for `city` (1000 usd; the challenge pays for this city only)",
                schema(&city),
            ),
            Tool::new(
                "paid_fail",
                "Takes the payment, then fails (1000 usd)",
                schema(&text),
            ),
        ]
    }

    /// Serves the tools over MCP's Streamable HTTP transport, for `/mcp`, behind
    /// the guard that answers bad JSON-RPC with its errors and reads a root `_meta`.
    pub fn streamable_http(
        self,
    ) -> JsonRpcGuard<StreamableHttpService<ReferenceTools, LocalSessionManager>> {
        JsonRpcGuardLayer::default().layer(StreamableHttpService::new(
            move || Ok(self.clone()),
            Arc::new(LocalSessionManager::default()),
            // Any Host: the binary decides where it listens.
            StreamableHttpServerConfig::default().disable_allowed_hosts(),
        ))
    }
}

fn text_argument(request: &CallToolRequestParams, name: &str) -> String {
    request
        .arguments
        .as_ref()
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl ServerHandler for ReferenceTools {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mpp-reference-server",
                env!("CARGO_PKG_VERSION"),
            ));
        self.paywall.advertise(&mut info);
        info
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut list = ListToolsResult::with_all_items(Self::tools());
        self.paywall.price(&mut list);
        Ok(list)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let paid = match self.paywall.admit(&request, &context).await {
            Ok(paid) => paid,
            Err(stop) => return stop.into(),
        };
        if paid.is_some() {
            self.runs.fetch_add(1, Ordering::SeqCst);
        }
        let result = match request.name.as_ref() {
            "echo" | "paid_echo" => {
                CallToolResult::success(vec![ContentBlock::text(text_argument(&request, "text"))])
            }
            "paid_weather" => {
                let city = text_argument(&request, "city");
                CallToolResult::success(vec![ContentBlock::text(format!("{city}: sunny, 21 °C"))])
            }
            "paid_fail" => CallToolResult::error(vec![ContentBlock::text(
                "the tool failed after the payment was taken; the receipt says what was paid",
            )]),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool `{other}`"),
                    None,
                ));
            }
        };
        Ok(McpPaywall::receipt(paid.as_ref(), result).into())
    }
}

/// `/rpc`: plain JSON-RPC 2.0 over HTTP POST, `echo` free and `paid_echo` priced.
pub fn json_rpc(
    paywall: &JsonRpcPaywall,
    runs: Arc<AtomicU64>,
) -> JsonRpcService<impl mpp_server::jsonrpc::JsonRpcHandler> {
    paywall.service(move |call: RpcCall| {
        let runs = runs.clone();
        async move {
            let result: RpcResult = match call.method.as_str() {
                "echo" => Ok(call.params.unwrap_or(Value::Null)),
                "paid_echo" => {
                    if call.payment.is_some() {
                        runs.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(strip_meta(call.params.unwrap_or(Value::Null)))
                }
                other => Err(method_not_found(other)),
            };
            result
        }
    })
}

/// The params without the payment's `_meta`, for echoing.
fn strip_meta(mut params: Value) -> Value {
    if let Value::Object(object) = &mut params {
        object.remove("_meta");
    }
    params
}
