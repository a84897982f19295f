//! A Lightning wallet on the reference server's test network (`/testnet` routes of
//! `mpp-server`): pays that server's invoices and issues invoices it can pay, so that
//! a client in another process can use `lightning` against it. Test money only.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mpp_client::testnet::TestnetWallet;
//! use mpp_methods::lightning::{LightningPayer, Network};
//!
//! # async fn run() -> Result<(), mpp_methods::lightning::NodeError> {
//! let wallet = TestnetWallet::connect("http://127.0.0.1:8402").await?;
//! let payer = LightningPayer::new(Arc::new(wallet), Network::Regtest);
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use mpp_core::method::BoxFuture;
use mpp_methods::lightning::{
    Invoice, InvoiceRequest, InvoiceState, InvoiceStatus, LightningNode, Network, NodeError,
    NodeId, PayOptions, PaymentHash, PaymentOutcome, PaymentPreimage,
};
use serde_json::{Value, json};

/// How long one call to the test network may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A wallet node of a reference server's test network, reached over HTTP.
#[derive(Clone)]
pub struct TestnetWallet {
    http: reqwest::Client,
    base: String,
    node_id: NodeId,
    network: Network,
}

impl std::fmt::Debug for TestnetWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestnetWallet")
            .field("base", &self.base)
            .field("node_id", &self.node_id)
            .field("network", &self.network)
            .finish()
    }
}

impl TestnetWallet {
    /// The wallet of the server at `base` (`http://host:port`), after asking it who
    /// it is.
    pub async fn connect(base: &str) -> Result<TestnetWallet, NodeError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| NodeError::Unavailable(e.to_string()))?;
        let base = base.trim_end_matches('/').to_string();
        let info = call(http.get(format!("{base}/testnet"))).await?;
        let node_id = info["nodeId"]
            .as_str()
            .and_then(node_id_from_hex)
            .ok_or_else(|| unavailable("the test network named no valid node id"))?;
        let network = info["network"]
            .as_str()
            .and_then(Network::from_draft_name)
            .ok_or_else(|| unavailable("the test network named no known network"))?;
        Ok(TestnetWallet {
            http,
            base,
            node_id,
            network,
        })
    }
}

impl LightningNode for TestnetWallet {
    fn node_id(&self) -> NodeId {
        self.node_id
    }

    fn network(&self) -> Network {
        self.network
    }

    fn create_invoice<'a>(
        &'a self,
        request: &'a InvoiceRequest,
    ) -> BoxFuture<'a, Result<Invoice, NodeError>> {
        Box::pin(async move {
            let body = json!({
                "amountMsat": request.amount_msat,
                "description": request.description,
                "expirySecs": request.expiry_secs,
            });
            let answer = call(post(
                &self.http,
                format!("{}/testnet/invoices", self.base),
                &body,
            ))
            .await?;
            answer["invoice"]
                .as_str()
                .and_then(|i| Invoice::decode(i).ok())
                .ok_or_else(|| unavailable("the test network returned no valid invoice"))
        })
    }

    fn lookup_invoice<'a>(
        &'a self,
        payment_hash: &'a PaymentHash,
    ) -> BoxFuture<'a, Result<Option<InvoiceStatus>, NodeError>> {
        // The test network reports the state, not the invoice itself.
        let _ = payment_hash;
        Box::pin(async {
            Err(NodeError::InvalidRequest(
                "the test network wallet does not look up invoices; use TestnetWallet::invoice_state".into(),
            ))
        })
    }

    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a Invoice,
        options: PayOptions,
    ) -> BoxFuture<'a, Result<PaymentOutcome, NodeError>> {
        Box::pin(async move {
            let body = json!({ "invoice": invoice.as_str(), "amountMsat": options.amount_msat });
            let answer = call(post(
                &self.http,
                format!("{}/testnet/payments", self.base),
                &body,
            ))
            .await?;
            let preimage = answer["preimage"]
                .as_str()
                .and_then(PaymentPreimage::from_hex)
                .ok_or_else(|| unavailable("the test network returned no preimage"))?;
            Ok(PaymentOutcome {
                preimage,
                amount_msat: answer["amountMsat"].as_u64().unwrap_or(0),
                fee_msat: answer["feeMsat"].as_u64().unwrap_or(0),
            })
        })
    }
}

impl TestnetWallet {
    /// Where one of the wallet's invoices stands, and how much it received (in
    /// millisatoshis): how a test sees that a refund arrived.
    pub async fn invoice_state(
        &self,
        payment_hash: &PaymentHash,
    ) -> Result<(InvoiceState, u64), NodeError> {
        let answer = call(self.http.get(format!(
            "{}/testnet/invoices/{}",
            self.base,
            payment_hash.to_hex()
        )))
        .await?;
        let state = match answer["state"].as_str() {
            Some("open") => InvoiceState::Open,
            Some("settled") => InvoiceState::Settled,
            Some("expired") => InvoiceState::Expired,
            _ => InvoiceState::Cancelled,
        };
        Ok((state, answer["amountReceivedMsat"].as_u64().unwrap_or(0)))
    }
}

/// Sends a call and reads its JSON answer; the test network's errors map back onto
/// [`NodeError`].
async fn call(request: reqwest::RequestBuilder) -> Result<Value, NodeError> {
    let response = request
        .send()
        .await
        .map_err(|e| unavailable(&format!("cannot reach the test network: {e}")))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| unavailable(&format!("the test network's answer broke off: {e}")))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| unavailable(&format!("the test network answered no JSON: {e}")))?;
    if status.is_success() {
        return Ok(body);
    }
    let message = body["message"].as_str().unwrap_or("no message").to_string();
    Err(match body["error"].as_str() {
        Some("invalid-request") | Some("not-found") => NodeError::InvalidRequest(message),
        Some("payment-failed") => NodeError::PaymentFailed(message),
        _ => NodeError::Unavailable(message),
    })
}

fn post(http: &reqwest::Client, url: String, body: &Value) -> reqwest::RequestBuilder {
    http.post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

fn unavailable(message: &str) -> NodeError {
    NodeError::Unavailable(message.into())
}

fn node_id_from_hex(text: &str) -> Option<NodeId> {
    if text.len() != 66 {
        return None;
    }
    let mut bytes = [0u8; 33];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    NodeId::from_bytes(bytes)
}
