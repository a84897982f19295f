//! Our paying MCP client (`mpp_client::mcp`) against our server's `/mcp` and `/rpc`:
//! tools listed with their prices, one payment per paid call with its receipt, a
//! free call paid nothing, the plain JSON-RPC method paid with the credential in
//! the root `_meta`, and the budget counted exactly.

use std::sync::Arc;

use mpp_client::mcp::{McpOptions, PayingMcpClient};
use mpp_core::client::{SpendingPolicy, Wallet};
use mpp_methods::preimage::PreimagePayer;
use mpp_reference_server::{ReferenceConfig, spawn};
use serde_json::{Value, json};

const PREIMAGE: &str = "mcp-client-test-preimage";

fn wallet() -> Wallet {
    let policy = SpendingPolicy {
        max_per_request: vec![("usd".into(), 1000)],
        budget: vec![("usd".into(), 10_000)],
        ..SpendingPolicy::default()
    };
    Wallet::new(policy).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000)
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

#[tokio::test]
async fn our_client_pays_our_tools_and_methods_once_each() {
    // req: mcp.receipt.paid mcp.client.one-challenge
    let config = ReferenceConfig::new("mcp-client-test-secret-0123456789abcdef", PREIMAGE);
    let server = spawn(&config).await.expect("the reference server");

    let client = PayingMcpClient::connect(&server.url("/mcp"), wallet(), McpOptions::default())
        .await
        .expect("MCP handshake");
    let tools = client.list_tools().await.expect("tools/list");
    let weather = tools
        .iter()
        .find(|t| t.name == "paid_weather")
        .expect("paid_weather");
    assert_eq!(weather.offers.len(), 2);
    assert!(
        tools
            .iter()
            .find(|t| t.name == "echo")
            .expect("echo")
            .offers
            .is_empty()
    );

    let free = client
        .call_tool("echo", Some(object(json!({"text": "free"}))))
        .await
        .expect("free call");
    assert!(free.payment.is_none() && free.receipt.is_none());

    let paid = client
        .call_tool("paid_weather", Some(object(json!({"city": "Porto"}))))
        .await
        .expect("paid call");
    assert!(!paid.is_error);
    assert_eq!(paid.result["content"][0]["text"], "Porto: sunny, 21 °C");
    let payment = paid.payment.expect("a payment");
    let receipt = paid.receipt.expect("a receipt");
    assert_eq!(receipt.challenge_id, payment.challenge.id);

    // A tool that fails after payment: its result, with the receipt.
    let failed = client
        .call_tool("paid_fail", Some(object(json!({}))))
        .await
        .expect("an answer");
    assert!(failed.is_error);
    assert!(failed.receipt.is_some() && failed.payment.is_some());
    assert_eq!(
        client.wallet().lock().await.spent(),
        [("usd".to_owned(), 2000)]
    );
    client.close().await;

    // Plain JSON-RPC: array params, the credential at the root.
    let rpc = PayingMcpClient::plain(&server.url("/rpc"), wallet(), McpOptions::default())
        .expect("a JSON-RPC client");
    let answer = rpc
        .call("paid_echo", Some(json!(["a", 1])))
        .await
        .expect("paid method");
    assert_eq!(answer.result, json!(["a", 1]));
    let receipt = answer.receipt.expect("a receipt");
    assert_eq!(
        receipt.challenge_id,
        answer.payment.expect("paid").challenge.id
    );
    assert_eq!(
        rpc.wallet().lock().await.spent(),
        [("usd".to_owned(), 1000)]
    );
}
