//! `mcp::rmcp::PayingPeer`: an rmcp client (the official Rust MCP SDK) pays the
//! stand-in MCP server's paid tool. The rmcp client runs over an in-process
//! channel pair whose other end relays each message to the stand-in on loopback
//! over HTTP, so the server is the same real one the HTTP client is tested on.
#![cfg(feature = "rmcp")]

mod mcp_support;

use std::sync::Arc;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use mcp_support::{Mode, PREIMAGE, PRICE, StandServer, start};
use mpp_client::mcp::McpError;
use mpp_client::mcp::rmcp::PayingPeer;
use mpp_core::client::{Origin, SpendingPolicy, Wallet};
use mpp_core::jsonrpc::{self, Placement};
use mpp_methods::preimage::PreimagePayer;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RunningService;
use serde_json::json;
use tokio::sync::Mutex;

/// An rmcp client whose messages the stand-in answers.
async fn rmcp_client(server: &StandServer) -> RunningService<rmcp::RoleClient, ()> {
    let (to_server, mut from_client) = mpsc::channel::<ClientJsonRpcMessage>(16);
    let (mut to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(16);
    let url = server.url();
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut session = None;
        while let Some(message) = from_client.next().await {
            let body = serde_json::to_vec(&message).unwrap();
            let mut request = http
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(body);
            if let Some(s) = &session {
                request = request.header("mcp-session-id", s);
            }
            let Ok(response) = request.send().await else {
                return;
            };
            if let Some(s) = response.headers().get("mcp-session-id") {
                session = Some(s.clone());
            }
            let Ok(bytes) = response.bytes().await else {
                return;
            };
            if bytes.is_empty() {
                continue; // a notification's 202
            }
            let answer: ServerJsonRpcMessage = serde_json::from_slice(&bytes).unwrap();
            if to_client.send(answer).await.is_err() {
                return;
            }
        }
    });
    ().serve((to_server, from_server)).await.unwrap()
}

fn paying(client: &RunningService<rmcp::RoleClient, ()>) -> PayingPeer {
    let policy = SpendingPolicy {
        max_per_request: vec![("usd".into(), PRICE)],
        ..SpendingPolicy::default()
    };
    let wallet = Wallet::new(policy).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000);
    PayingPeer::new(
        client.peer().clone(),
        Arc::new(Mutex::new(wallet)),
        Origin::new("stdio", "localhost", 0),
    )
}

fn call(tool: &str) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = json!({"text": "via rmcp"}).as_object().cloned();
    params
}

async fn spent(peer: &PayingPeer) -> Vec<(String, u128)> {
    peer.wallet().lock().await.spent().to_vec()
}

// req: mcp.client.one-challenge mcp.credential.members
#[tokio::test]
async fn an_rmcp_peer_pays_a_paid_tool_once() {
    let server = start(Mode::Honest).await;
    let client = rmcp_client(&server).await;
    let peer = paying(&client);

    let free = peer.call_tool(call("echo")).await.unwrap();
    assert!(free.payment.is_none() && free.receipt.is_none());

    let paid = peer.call_tool(call("paid_echo")).await.unwrap();
    assert_eq!(paid.result["content"][0]["text"], "via rmcp");
    let payment = paid.payment.as_ref().unwrap();
    assert_eq!(payment.amount, PRICE);
    assert_eq!(
        paid.receipt.as_ref().unwrap().challenge_id,
        payment.challenge.id
    );
    assert_eq!(spent(&peer).await, [("usd".to_owned(), PRICE)]);

    let calls = server.stand.calls("tools/call", Some("paid_echo"));
    assert_eq!(calls.len(), 2);
    let [(placement, credential)] = &calls[1].credentials()[..] else {
        panic!("{:?}", calls[1].message)
    };
    assert_eq!(*placement, Placement::Nested);
    assert!(credential["challenge"]["request"].is_object());
    assert_eq!(calls[1].message["params"]["arguments"]["text"], "via rmcp");
}

#[tokio::test]
async fn an_rmcp_peer_takes_a_refusal_after_paying_as_final() {
    let server = start(Mode::RefuseDraft).await;
    let client = rmcp_client(&server).await;
    let peer = paying(&client);
    let error = peer.call_tool(call("paid_echo")).await.unwrap_err();
    assert!(
        matches!(&error, McpError::Rejected { code, .. } if *code == jsonrpc::VERIFICATION_FAILED),
        "{error:?}"
    );
    assert_eq!(server.stand.calls("tools/call", None).len(), 2);
    assert_eq!(spent(&peer).await, [("usd".to_owned(), PRICE)]);
}
