//! The payment flow of [`PayingMcpClient`](super::PayingMcpClient) on an rmcp
//! client peer: for tools reached through any rmcp transport (stdio, a child
//! process, in-process pipes), paid from a [`Wallet`].
//!
//! ```no_run
//! # async fn run(peer: rmcp::service::Peer<rmcp::RoleClient>, wallet: mpp_core::client::Wallet) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use mpp_client::mcp::rmcp::PayingPeer;
//! use mpp_core::client::Origin;
//! use rmcp::model::CallToolRequestParams;
//!
//! // A child process over stdio: process isolation protects the credential.
//! let paying = PayingPeer::new(peer, Arc::new(tokio::sync::Mutex::new(wallet)), Origin::new("stdio", "localhost", 0));
//! let call = paying.call_tool(CallToolRequestParams::new("paid_echo")).await?;
//! println!("{:?} {:?}", call.result, call.receipt);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use mpp_core::client::{Origin, Wallet};
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::Placement;
use rmcp::RoleClient;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{Peer, ServiceError};
use serde_json::Value;
use tokio::sync::Mutex;

use super::flow::{Exchange, Failure, Payer};
use super::{BadAnswer, McpError, ToolResult};

/// An rmcp client peer whose tool calls pay a payment request once, as
/// [`PayingMcpClient::call_tool`](super::PayingMcpClient::call_tool) does.
#[derive(Clone)]
pub struct PayingPeer {
    peer: Peer<RoleClient>,
    wallet: Arc<Mutex<Wallet>>,
    origin: Origin,
}

impl fmt::Debug for PayingPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayingPeer")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl PayingPeer {
    /// Pays from `wallet` for tools of `peer`. `origin` is what the spending
    /// policy sees as the server: for a network transport, its URL's origin (plain
    /// HTTP is paid only on loopback); for stdio or in-process pipes, which the
    /// operating system isolates, a loopback name such as
    /// `Origin::new("stdio", "localhost", 0)`.
    pub fn new(peer: Peer<RoleClient>, wallet: Arc<Mutex<Wallet>>, origin: Origin) -> PayingPeer {
        PayingPeer {
            peer,
            wallet,
            origin,
        }
    }

    /// The peer, for everything that is not a paid tool call.
    pub fn peer(&self) -> &Peer<RoleClient> {
        &self.peer
    }

    /// The wallet.
    pub fn wallet(&self) -> &Arc<Mutex<Wallet>> {
        &self.wallet
    }

    /// `tools/call`, paying a payment request (an rmcp `McpError` -32042 with
    /// challenges, or mppx's result `_meta`) once, with the credential in
    /// `params._meta`.
    pub async fn call_tool(&self, params: CallToolRequestParams) -> Result<ToolResult, McpError> {
        let params = serde_json::to_value(&params)
            .map_err(|e| McpError::Invalid(format!("the call's parameters: {e}")))?;
        let mut message = JsonObject::new();
        message.insert("method".into(), "tools/call".into());
        message.insert("params".into(), params);
        let payer = Payer {
            wallet: &self.wallet,
            origin: &self.origin,
        };
        let exchanged = payer
            .call(&PeerCarrier(&self.peer), message, Placement::Nested)
            .await?;
        super::tool_result(exchanged)
    }
}

/// One `tools/call` through the peer, its answer in the JSON-RPC response form the
/// flow reads.
struct PeerCarrier<'a>(&'a Peer<RoleClient>);

impl Exchange for PeerCarrier<'_> {
    async fn exchange(&self, message: JsonObject) -> Result<JsonObject, Failure> {
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let params: CallToolRequestParams = serde_json::from_value(params).map_err(|e| {
            Failure::BadAnswer(BadAnswer::Protocol(format!(
                "the call cannot be put in rmcp's form: {e}"
            )))
        })?;
        let mut response = JsonObject::new();
        response.insert("jsonrpc".into(), "2.0".into());
        match self.0.call_tool(params).await {
            Ok(result) => {
                let result = serde_json::to_value(&result).map_err(|e| {
                    Failure::BadAnswer(BadAnswer::Protocol(format!("the tool result: {e}")))
                })?;
                response.insert("result".into(), result);
            }
            Err(ServiceError::McpError(error)) => {
                let mut object = JsonObject::new();
                object.insert("code".into(), i64::from(error.code.0).into());
                object.insert("message".into(), error.message.as_ref().into());
                if let Some(data) = error.data {
                    object.insert("data".into(), data);
                }
                response.insert("error".into(), Value::Object(object));
            }
            Err(ServiceError::UnexpectedResponse) => {
                return Err(Failure::BadAnswer(BadAnswer::Protocol(
                    "the server answered `tools/call` with something other than a result".into(),
                )));
            }
            Err(other) => return Err(Failure::Transport(other.to_string())),
        }
        Ok(response)
    }
}
