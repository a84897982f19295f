//! [`LndNode`]: the lightning method's [`LightningNode`] (and so
//! [`LightningWallet`](super::LightningWallet)) over LND's REST API.
//!
//! | operation | LND call |
//! |---|---|
//! | [`LndNode::connect`] | `GET /v1/getinfo`: `identity_pubkey`, `chains[0].network` |
//! | [`LightningNode::create_invoice`] | `POST /v1/invoices` (`memo`, `value_msat`, `expiry`) → `r_hash` (base64), `payment_request` |
//! | [`LightningNode::lookup_invoice`] | `GET /v1/invoice/{r_hash_str}` (hex) → `state`, `amt_paid_msat`, `settle_date` |
//! | [`LightningNode::pay_invoice`] | `POST /v2/router/send` (`SendPaymentV2`), a stream of `{"result": Payment}` lines |
//!
//! **Paying through `/v2/router/send`.** LND documents the router's `SendPaymentV2` as
//! the way to pay and marks the older `SendPaymentSync` (`POST
//! /v1/channels/transactions`) deprecated. It is also the call whose answer says what
//! happened: each update is a `Payment` whose `status` is `IN_FLIGHT`, `SUCCEEDED` or
//! `FAILED` (with a `failure_reason`), where the old call has only a free-text
//! `payment_error`.
//!
//! **Outcomes.** `SUCCEEDED` gives the preimage (checked against the invoice), the
//! amount and the fee. Only `FAILED` is [`NodeError::PaymentFailed`]. Everything
//! else that leaves a payment unresolved is [`NodeError::Unavailable`], the outcome
//! unknown: no final update before the deadline (a payment still `IN_FLIGHT`), a
//! stream that ends early, a timeout, a refused connection, an HTTP 5xx, an error
//! object instead of an update (LND answers a second payment of one hash with one).
//! Nothing is retried: a payment is sent once per call, and LND itself refuses a
//! second payment of a hash that is in flight or paid.
//!
//! **Credentials.** The macaroon file's bytes go hex-encoded in
//! `Grpc-Metadata-macaroon`, a header marked sensitive, and appear in no `Debug` or
//! error. TLS trusts only the node's own certificate (`tls.cert`), compared byte for
//! byte (see [`LndNode::connect`]).

use std::boxed::Box;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use mpp_core::method::BoxFuture;
use mpp_core::time::{Clock, UnixTime, system_clock};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use super::rest::{self, DEFAULT_NODE_TIMEOUT, DEFAULT_PAYMENT_TIMEOUT, RestClient, json_u64};
use super::{
    Invoice, InvoiceRequest, InvoiceState, InvoiceStatus, LightningNode, Network, NodeError,
    NodeId, PayOptions, PaymentHash, PaymentOutcome, PaymentPreimage,
};

/// The header LND reads the macaroon from (gRPC metadata through its REST gateway).
const MACAROON_HEADER: &str = "grpc-metadata-macaroon";

/// The HTTP client, the macaroon, and the deadline of calls other than payments.
struct Api {
    rest: RestClient,
    macaroon: HeaderValue,
    timeout: Duration,
}

impl Api {
    fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder, NodeError> {
        self.rest
            .request(method, path, (MACAROON_HEADER, &self.macaroon))
    }

    /// One call whose answer is a single JSON object.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, NodeError> {
        let mut request = self.request(method, path)?.timeout(self.timeout);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let (status, answer) = self
            .rest
            .exchange(request)
            .await
            .map_err(|m| NodeError::Unavailable(format!("{path}: {m}")))?;
        if status != 200 {
            return Err(lnd_error(path, status, &answer));
        }
        serde_json::from_slice(&answer)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| {
                NodeError::Unavailable(format!("{path}: the answer is not a JSON object"))
            })
    }
}

/// A [`LightningNode`] reached through LND's REST API.
pub struct LndNode {
    api: Api,
    node_id: NodeId,
    network: Network,
    payment_timeout: Duration,
    clock: Clock,
}

impl core::fmt::Debug for LndNode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LndNode")
            .field("host", &self.api.rest.host())
            .field("node_id", &self.node_id)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl LndNode {
    /// Connects to the LND node whose REST API is at `url` (`https://host:8080`,
    /// LND's `restlisten`), with the macaroon file at `macaroon_path` (an
    /// `invoice.macaroon` suffices for a server that only takes payments; paying needs
    /// `admin.macaroon` or one baked with the router's permissions) and the node's TLS
    /// certificate at `cert_path` (`tls.cert`, PEM). Asks the node who it is
    /// (`GET /v1/getinfo`), so a wrong URL, macaroon or certificate fails here.
    ///
    /// The certificate is the only one trusted, compared whole with the one the node
    /// shows; no other root is. The URL's host name is not matched against the
    /// certificate's names (LND's names `localhost` and the machine's own names,
    /// rarely the name a remote client uses): the handshake proves the node holds the
    /// pinned certificate's key, which no other server does. Replace the file when
    /// LND renews its certificate.
    pub async fn connect(
        url: &str,
        macaroon_path: impl AsRef<Path>,
        cert_path: impl AsRef<Path>,
    ) -> Result<LndNode, NodeError> {
        let macaroon = rest::read_secret_file(macaroon_path.as_ref(), "macaroon")?;
        let cert = rest::read_secret_file(cert_path.as_ref(), "TLS certificate")?;
        LndNode::connect_with(url, &macaroon, &cert).await
    }

    /// [`connect`](Self::connect) with the macaroon's bytes and the certificate's PEM
    /// text rather than their files.
    pub async fn connect_with(
        url: &str,
        macaroon: &[u8],
        cert_pem: &[u8],
    ) -> Result<LndNode, NodeError> {
        if macaroon.is_empty() {
            return Err(NodeError::InvalidRequest("the macaroon is empty".into()));
        }
        let mut header = HeaderValue::from_str(&crate::hex::encode(macaroon))
            .map_err(|_| NodeError::InvalidRequest("the macaroon cannot be sent".into()))?;
        header.set_sensitive(true);
        // The client's own deadline is per request (see `timeout`).
        let rest = RestClient::new(url, Some(cert_pem), Duration::from_secs(24 * 3600))?;
        let api = Api {
            rest,
            macaroon: header,
            timeout: DEFAULT_NODE_TIMEOUT,
        };
        let info = api.call(Method::GET, "/v1/getinfo", None).await?;
        Ok(LndNode {
            api,
            node_id: read_node_id(&info)?,
            network: read_network(&info)?,
            payment_timeout: DEFAULT_PAYMENT_TIMEOUT,
            clock: system_clock(),
        })
    }

    /// The same node, waiting at most `timeout` for each answer other than a
    /// payment's (default [`DEFAULT_NODE_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> LndNode {
        self.api.timeout = timeout;
        self
    }

    /// The same node, letting a payment take at most `timeout` (default
    /// [`DEFAULT_PAYMENT_TIMEOUT`]): LND is asked to stop trying routes after three
    /// quarters of it (`timeout_seconds`, at least 1), and a payment with no final
    /// status by the end is reported as [`NodeError::Unavailable`], its outcome
    /// unknown.
    pub fn with_payment_timeout(mut self, timeout: Duration) -> LndNode {
        self.payment_timeout = timeout;
        self
    }

    /// The same node reading the time from `clock` (whether an open invoice has
    /// expired).
    pub fn with_clock(mut self, clock: Clock) -> LndNode {
        self.clock = clock;
        self
    }

    async fn create(&self, request: &InvoiceRequest) -> Result<Invoice, NodeError> {
        if request.amount_msat == Some(0) {
            return Err(NodeError::InvalidRequest("the amount is zero".into()));
        }
        let mut body = json!({
            "memo": request.description,
            "expiry": request.expiry_secs.to_string(),
        });
        if let Some(msat) = request.amount_msat {
            body["value_msat"] = msat.to_string().into();
        }
        let answer = self
            .api
            .call(Method::POST, "/v1/invoices", Some(body))
            .await?;
        let hash = answer
            .get("r_hash")
            .and_then(Value::as_str)
            .and_then(base64_32)
            .map(PaymentHash::from_bytes)
            .ok_or_else(|| NodeError::Unavailable("the node's invoice has no r_hash".into()))?;
        let text = answer
            .get("payment_request")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                NodeError::Unavailable("the node's invoice has no payment_request".into())
            })?;
        rest::check_issued(text, request, &self.node_id, self.network, Some(&hash))
    }

    async fn lookup(&self, hash: &PaymentHash) -> Result<Option<InvoiceStatus>, NodeError> {
        let path = format!("/v1/invoice/{}", hash.to_hex());
        let answer = match self.api.call(Method::GET, &path, None).await {
            Ok(answer) => answer,
            Err(NodeError::InvalidRequest(m)) if m.starts_with(NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(invoice) = answer
            .get("payment_request")
            .and_then(Value::as_str)
            .and_then(|t| Invoice::decode(t).ok())
            .filter(|i| i.payee() == &self.node_id && i.payment_hash() == hash)
        else {
            // Not a BOLT11 invoice of this node for this hash (a keysend record, say):
            // nothing the lightning method issued.
            return Ok(None);
        };
        let state = match answer.get("state").and_then(Value::as_str) {
            Some("SETTLED") => InvoiceState::Settled,
            Some("CANCELED") if invoice.is_expired_at((self.clock)()) => InvoiceState::Expired,
            Some("CANCELED") => InvoiceState::Cancelled,
            // ACCEPTED: a hold invoice's payment arrived but is not settled, the
            // preimage not released; not paid yet.
            Some("OPEN" | "ACCEPTED") => rest::open_or_expired(&invoice, (self.clock)()),
            other => {
                return Err(NodeError::Unavailable(format!(
                    "the node reports an invoice state this client does not know: {}",
                    rest::short(other.unwrap_or("(none)"))
                )));
            }
        };
        let settled = state == InvoiceState::Settled;
        Ok(Some(InvoiceStatus {
            amount_received_msat: if settled {
                json_u64(answer.get("amt_paid_msat")).unwrap_or(0)
            } else {
                0
            },
            settled_at: json_u64(answer.get("settle_date"))
                .filter(|&s| settled && s > 0)
                .and_then(|s| i64::try_from(s).ok())
                .map(UnixTime::from_secs),
            invoice,
            state,
        }))
    }

    async fn pay(
        &self,
        invoice: &Invoice,
        options: PayOptions,
    ) -> Result<PaymentOutcome, NodeError> {
        let amount_msat = amount_to_send(invoice, options)?;
        if invoice.network() != self.network {
            return Err(NodeError::InvalidRequest(format!(
                "the invoice is for {}, this node runs on {}",
                invoice.network(),
                self.network
            )));
        }
        let give_up_secs = (self.payment_timeout.as_secs() * 3 / 4).max(1);
        // LND's v2 call reads an unset fee limit as "zero-fee routes only".
        let fee_limit = options
            .max_fee_msat
            .unwrap_or_else(|| default_fee_limit_msat(amount_msat));
        let mut body = json!({
            "payment_request": invoice.as_str(),
            "timeout_seconds": give_up_secs,
            "fee_limit_msat": fee_limit.to_string(),
        });
        if invoice.amount_msat().is_none() {
            body["amt_msat"] = amount_msat.to_string().into();
        }
        let hash = invoice.payment_hash();
        let unknown = |why: &str| {
            NodeError::Unavailable(format!(
                "payment {hash}: {why}; its outcome is unknown (look it up on the node)"
            ))
        };
        let request = self
            .api
            .request(Method::POST, "/v2/router/send")?
            .timeout(self.payment_timeout)
            .header("content-type", "application/json")
            .body(body.to_string());
        let mut response = self.api.rest.send(request).await.map_err(|m| unknown(&m))?;
        let status = response.status().as_u16();
        if status != 200 {
            let mut answer = Vec::new();
            while let Ok(Some(chunk)) = self.api.rest.chunk(&mut response).await {
                if answer.len() + chunk.len() > rest::MAX_ANSWER_BYTES {
                    break;
                }
                answer.extend_from_slice(&chunk);
            }
            return Err(match lnd_error("/v2/router/send", status, &answer) {
                e @ NodeError::InvalidRequest(_) => e,
                e => unknown(&e.to_string()),
            });
        }
        let mut pending = Vec::new();
        let mut last = "no update";
        loop {
            let chunk = match self.api.rest.chunk(&mut response).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Err(unknown(&format!("the node stopped reporting ({last})"))),
                Err(m) => return Err(unknown(&format!("{m} ({last})"))),
            };
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match read_update(&line, invoice)? {
                    Update::InFlight => last = "last reported in flight",
                    Update::Done(outcome) => return Ok(outcome),
                }
            }
            if pending.len() > rest::MAX_ANSWER_BYTES {
                return Err(unknown("an update of more than 1 MiB"));
            }
        }
    }
}

/// The start of the message of an [`NodeError::InvalidRequest`] for an HTTP 404.
const NOT_FOUND: &str = "not found";

/// LND's error object (`{"code", "message", "details"}`, gRPC's status through the
/// REST gateway) as a [`NodeError`]: the request refused (400, or gRPC
/// `InvalidArgument`), not found (404), and otherwise unavailable.
fn lnd_error(path: &str, status: u16, answer: &[u8]) -> NodeError {
    let object: Option<Value> = serde_json::from_slice(answer).ok();
    let object = object.as_ref().map(|o| o.get("error").unwrap_or(o));
    let message = object
        .and_then(|o| o.get("message"))
        .and_then(Value::as_str)
        .map(rest::short)
        .unwrap_or_default();
    let code = object.and_then(|o| o.get("code").or_else(|| o.get("grpc_code")));
    let code = code.and_then(Value::as_u64);
    // LND refuses a bad macaroon with gRPC Unknown (HTTP 500) and a message of its
    // own: say so, so that the operator looks at the right file.
    if message.contains("macaroon")
        || message.starts_with("verification failed")
        || matches!(status, 401 | 403)
    {
        return NodeError::Unavailable(format!(
            "{path}: the node refused the macaroon (HTTP {status}): {message}"
        ));
    }
    if status == 404 || code == Some(5) || message.contains("unable to locate invoice") {
        return NodeError::InvalidRequest(format!("{NOT_FOUND}: {path}: {message}"));
    }
    if status == 400 || code == Some(3) {
        return NodeError::InvalidRequest(format!("{path}: {message}"));
    }
    NodeError::Unavailable(format!("{path}: HTTP {status}: {message}"))
}

/// One update of `SendPaymentV2`'s stream.
enum Update {
    InFlight,
    Done(PaymentOutcome),
}

/// Reads one line of `SendPaymentV2`'s stream: `{"result": Payment}` or
/// `{"error": {...}}`.
fn read_update(line: &[u8], invoice: &Invoice) -> Result<Update, NodeError> {
    let hash = invoice.payment_hash();
    let unknown = |why: String| {
        NodeError::Unavailable(format!(
            "payment {hash}: {why}; its outcome is unknown (look it up on the node)"
        ))
    };
    let line: Value =
        serde_json::from_slice(line).map_err(|_| unknown("an update that is not JSON".into()))?;
    if let Some(error) = line.get("error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map(rest::short)
            .unwrap_or_default();
        return Err(unknown(format!(
            "the node answered with an error: {message}"
        )));
    }
    let payment = line
        .get("result")
        .ok_or_else(|| unknown("an update without a result".into()))?;
    match payment.get("status").and_then(Value::as_str) {
        Some("SUCCEEDED") => {
            let preimage = payment
                .get("payment_preimage")
                .and_then(Value::as_str)
                .and_then(PaymentPreimage::from_hex)
                .ok_or_else(|| unknown("a success without a readable preimage".into()))?;
            rest::check_preimage(invoice, &preimage)?;
            let amount_msat = json_u64(payment.get("value_msat"))
                .ok_or_else(|| unknown("a success without value_msat".into()))?;
            let fee_msat = json_u64(payment.get("fee_msat")).unwrap_or(0);
            Ok(Update::Done(PaymentOutcome {
                preimage,
                amount_msat,
                fee_msat,
            }))
        }
        Some("FAILED") => {
            let reason = payment
                .get("failure_reason")
                .and_then(Value::as_str)
                .unwrap_or("FAILURE_REASON_NONE");
            Err(NodeError::PaymentFailed(format!(
                "payment {hash}: {}",
                failure_reason(reason)
            )))
        }
        Some("IN_FLIGHT" | "INITIATED" | "UNKNOWN") => Ok(Update::InFlight),
        other => Err(unknown(format!(
            "a payment status this client does not know: {}",
            rest::short(other.unwrap_or("(none)"))
        ))),
    }
}

/// LND's `PaymentFailureReason`, in words.
fn failure_reason(reason: &str) -> String {
    let words = match reason {
        "FAILURE_REASON_TIMEOUT" => "no route succeeded before the payment timeout",
        "FAILURE_REASON_NO_ROUTE" => "no route to the payee",
        "FAILURE_REASON_ERROR" => "a non-recoverable error on the way",
        "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS" => {
            "the payee refused it (unknown payment hash, wrong amount or expired)"
        }
        "FAILURE_REASON_INSUFFICIENT_BALANCE" => "not enough balance in the node's channels",
        "FAILURE_REASON_CANCELED" => "cancelled",
        other => return format!("failed ({})", rest::short(other)),
    };
    words.to_string()
}

/// The amount a payment sends, from the invoice and the options.
pub(super) fn amount_to_send(invoice: &Invoice, options: PayOptions) -> Result<u64, NodeError> {
    match (invoice.amount_msat(), options.amount_msat) {
        (Some(asked), None) => Ok(asked),
        (Some(asked), Some(given)) if asked == given => Ok(asked),
        (Some(_), Some(_)) => Err(NodeError::InvalidRequest(
            "the amount differs from the invoice's".into(),
        )),
        (None, Some(given)) if given > 0 => Ok(given),
        (None, _) => Err(NodeError::InvalidRequest(
            "an invoice without an amount needs one".into(),
        )),
    }
}

/// The routing fee allowed when the caller sets none: 1% of the amount plus one
/// satoshi, a common wallet default that lets small payments through.
pub(super) fn default_fee_limit_msat(amount_msat: u64) -> u64 {
    amount_msat / 100 + 1_000
}

/// 32 bytes of standard base64 (how LND's JSON writes `bytes` fields).
fn base64_32(text: &str) -> Option<[u8; 32]> {
    let mut out = Vec::new();
    mpp_core::base64::decode_into(
        text.as_bytes(),
        mpp_core::base64::Alphabet::UrlSafeOrStandard,
        &mut out,
    )
    .ok()?;
    out.try_into().ok()
}

fn read_node_id(info: &Value) -> Result<NodeId, NodeError> {
    info.get("identity_pubkey")
        .and_then(Value::as_str)
        .and_then(|h| crate::hex::decode::<33>(h, true))
        .and_then(NodeId::from_bytes)
        .ok_or_else(|| NodeError::Unavailable("getinfo: no valid identity_pubkey".into()))
}

fn read_network(info: &Value) -> Result<Network, NodeError> {
    let name = info
        .get("chains")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("network"))
        .and_then(Value::as_str)
        .ok_or_else(|| NodeError::Unavailable("getinfo: no chains[0].network".into()))?;
    match name {
        "mainnet" => Ok(Network::Mainnet),
        "testnet" | "testnet3" | "testnet4" => Ok(Network::Testnet),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        other => Err(NodeError::Unavailable(format!(
            "getinfo: the node runs on {}, which BOLT11 invoices cannot name",
            rest::short(other)
        ))),
    }
}

impl LightningNode for LndNode {
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
        Box::pin(self.create(request))
    }

    fn lookup_invoice<'a>(
        &'a self,
        payment_hash: &'a PaymentHash,
    ) -> BoxFuture<'a, Result<Option<InvoiceStatus>, NodeError>> {
        Box::pin(self.lookup(payment_hash))
    }

    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a Invoice,
        options: PayOptions,
    ) -> BoxFuture<'a, Result<PaymentOutcome, NodeError>> {
        Box::pin(self.pay(invoice, options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classed_by_what_lnd_says() {
        let body = br#"{"code":2,"message":"verification failed: signature mismatch after caveat verification","details":[]}"#;
        let e = lnd_error("/v1/getinfo", 500, body);
        assert!(
            matches!(&e, NodeError::Unavailable(m) if m.contains("refused the macaroon")),
            "{e}"
        );
        let e = lnd_error(
            "/v1/invoice/x",
            404,
            br#"{"code":5,"message":"there are no existing invoices"}"#,
        );
        assert!(
            matches!(&e, NodeError::InvalidRequest(m) if m.starts_with(NOT_FOUND)),
            "{e}"
        );
        let e = lnd_error(
            "/v1/invoices",
            400,
            br#"{"code":3,"message":"memo too long"}"#,
        );
        assert!(
            matches!(&e, NodeError::InvalidRequest(m) if m.contains("memo too long")),
            "{e}"
        );
        let e = lnd_error("/v1/invoices", 503, b"<html>");
        assert!(
            matches!(&e, NodeError::Unavailable(m) if m.contains("503")),
            "{e}"
        );
    }

    #[test]
    fn integers_are_read_as_strings_or_numbers() {
        assert_eq!(json_u64(Some(&json!("5000"))), Some(5000));
        assert_eq!(json_u64(Some(&json!(5000))), Some(5000));
        for bad in [json!("-1"), json!(""), json!("1e3"), json!(-1), json!(null)] {
            assert_eq!(json_u64(Some(&bad)), None, "{bad}");
        }
    }
}
