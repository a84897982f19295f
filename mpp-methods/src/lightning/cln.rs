//! [`ClnNode`]: the lightning method's [`LightningNode`] (and so
//! [`LightningWallet`](super::LightningWallet)) over Core Lightning's REST API
//! (`clnrest`), where each JSON-RPC command is `POST /v1/{command}` with its
//! parameters as a JSON object and a rune in the `Rune` header.
//!
//! | operation | command |
//! |---|---|
//! | [`ClnNode::connect`] | `getinfo`: `id`, `network` |
//! | [`LightningNode::create_invoice`] | `invoice` (`amount_msat` or `"any"`, a random `label`, `description`, `expiry`) → `bolt11`, `payment_hash` |
//! | [`LightningNode::lookup_invoice`] | `listinvoices` by `payment_hash` → `status` (`unpaid`, `paid`, `expired`), `amount_received_msat`, `paid_at` |
//! | [`LightningNode::pay_invoice`] | `pay` (`bolt11`, `amount_msat` for an invoice without one, `maxfee`, `retry_for`) → `status`, `payment_preimage`, `amount_msat`, `amount_sent_msat` |
//!
//! **Outcomes.** `pay` answering `complete` gives the preimage (checked against the
//! invoice), the amount and the fee (`amount_sent_msat - amount_msat`).
//! [`NodeError::PaymentFailed`] only when Core Lightning says the payment failed:
//! `status: "failed"`, or an error object whose `code` is one `pay` documents as a
//! payment that ended without paying: 203 (permanent failure at the destination),
//! 205 (no route), 206 (routes too expensive), 207 (invoice expired), 210 (stopped
//! retrying with no part in flight). Any other error object (clnrest answers them
//! with HTTP 500), `pending`, a timeout, a refused connection or another HTTP error
//! is [`NodeError::Unavailable`], the outcome unknown; a bad parameter (-32602) is
//! [`NodeError::InvalidRequest`]. Nothing is retried, and Core Lightning refuses a
//! second payment of a hash in flight or paid (200, 201).
//!
//! **Credentials.** The rune goes in the `Rune` header, marked sensitive, and
//! appears in no `Debug` or error. clnrest serves HTTPS with its own certificate
//! authority by default: [`ClnNode::connect_pinned`] trusts only its server
//! certificate, as [`LndNode`](super::LndNode) does; [`ClnNode::connect`] takes
//! `http://` (clnrest's `clnrest-protocol=http`, behind a proxy or on loopback) or
//! `https://` with the web PKI roots.

use std::boxed::Box;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::time::Duration;

use mpp_core::method::BoxFuture;
use mpp_core::time::{Clock, UnixTime, system_clock};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use super::lnd::{amount_to_send, default_fee_limit_msat};
use super::rest::{self, DEFAULT_NODE_TIMEOUT, DEFAULT_PAYMENT_TIMEOUT, RestClient, json_u64};
use super::{
    Invoice, InvoiceRequest, InvoiceState, InvoiceStatus, LightningNode, Network, NodeError,
    NodeId, PayOptions, PaymentHash, PaymentOutcome, PaymentPreimage,
};

/// `pay`'s error codes for a payment that ended without paying.
const DEFINITE_PAY_FAILURES: [i64; 5] = [203, 205, 206, 207, 210];

/// The HTTP client, the rune, and the deadline of calls other than payments.
struct Api {
    rest: RestClient,
    rune: HeaderValue,
    timeout: Duration,
}

/// What a call returned: the command's result, or Core Lightning's error object.
enum Answer {
    Result(Value),
    Error { code: i64, message: String },
}

impl Api {
    async fn call(
        &self,
        command: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Answer, NodeError> {
        let path = format!("/v1/{command}");
        let request = self
            .rest
            .request(Method::POST, &path, ("rune", &self.rune))?
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(params.to_string());
        let (status, body) = self
            .rest
            .exchange(request)
            .await
            .map_err(|m| NodeError::Unavailable(format!("{command}: {m}")))?;
        let object: Option<Value> = serde_json::from_slice(&body).ok().filter(Value::is_object);
        if (200..300).contains(&status) {
            return object.map(Answer::Result).ok_or_else(|| {
                NodeError::Unavailable(format!("{command}: the answer is not a JSON object"))
            });
        }
        let code = object
            .as_ref()
            .and_then(|o| o.get("code"))
            .and_then(Value::as_i64);
        let message = object
            .as_ref()
            .and_then(|o| o.get("message"))
            .and_then(Value::as_str)
            .map(rest::short)
            .unwrap_or_default();
        // clnrest refuses a missing or bad rune with 401/403, and `checkrune`'s
        // codes are 1501-1504 ("Not authorized: ...").
        if matches!(status, 401 | 403)
            || code.is_some_and(|c| (1501..=1504).contains(&c))
            || message.starts_with("Not authorized")
        {
            return Err(NodeError::Unavailable(format!(
                "{command}: the node refused the rune (HTTP {status}): {message}"
            )));
        }
        match code {
            Some(code) if status == 500 => Ok(Answer::Error { code, message }),
            _ => Err(NodeError::Unavailable(format!(
                "{command}: HTTP {status}: {message}"
            ))),
        }
    }

    /// A call whose error objects are all a failure of the node or of the request.
    async fn result(&self, command: &str, params: Value) -> Result<Value, NodeError> {
        match self.call(command, params, self.timeout).await? {
            Answer::Result(value) => Ok(value),
            Answer::Error {
                code: -32602,
                message,
            } => Err(NodeError::InvalidRequest(format!("{command}: {message}"))),
            Answer::Error { code, message } => Err(NodeError::Unavailable(format!(
                "{command}: error {code}: {message}"
            ))),
        }
    }
}

/// A [`LightningNode`] reached through Core Lightning's REST API.
pub struct ClnNode {
    api: Api,
    node_id: NodeId,
    network: Network,
    payment_timeout: Duration,
    clock: Clock,
}

impl core::fmt::Debug for ClnNode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClnNode")
            .field("host", &self.api.rest.host())
            .field("node_id", &self.node_id)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl ClnNode {
    /// Connects to the clnrest server at `url` (`http://` or `https://` with the web
    /// PKI roots) with a rune: `rune_or_path` is the path of a file holding it (the
    /// file's text, trimmed), or else the rune itself. A rune restricted to
    /// `getinfo`, `invoice` and `listinvoices` suffices for a server that only takes
    /// payments; paying needs `pay` too. Asks the node who it is (`getinfo`), so a
    /// wrong URL or rune fails here.
    pub async fn connect(url: &str, rune_or_path: &str) -> Result<ClnNode, NodeError> {
        ClnNode::open(url, rune_or_path, None).await
    }

    /// The same over `https://`, trusting only the certificate at `cert_path` (PEM:
    /// clnrest's `server.pem`), compared whole with the one the node shows; the URL's
    /// host name is not matched against its names (see
    /// [`LndNode::connect`](super::LndNode::connect)).
    pub async fn connect_pinned(
        url: &str,
        rune_or_path: &str,
        cert_path: impl AsRef<Path>,
    ) -> Result<ClnNode, NodeError> {
        let cert = rest::read_secret_file(cert_path.as_ref(), "TLS certificate")?;
        ClnNode::open(url, rune_or_path, Some(&cert)).await
    }

    async fn open(
        url: &str,
        rune_or_path: &str,
        cert: Option<&[u8]>,
    ) -> Result<ClnNode, NodeError> {
        let mut rune = HeaderValue::from_str(&read_rune(rune_or_path)?)
            .map_err(|_| NodeError::InvalidRequest("the rune cannot be sent".into()))?;
        rune.set_sensitive(true);
        let api = Api {
            rest: RestClient::new(url, cert, Duration::from_secs(24 * 3600))?,
            rune,
            timeout: DEFAULT_NODE_TIMEOUT,
        };
        let info = api.result("getinfo", json!({})).await?;
        let node_id = info
            .get("id")
            .and_then(Value::as_str)
            .and_then(|h| crate::hex::decode::<33>(h, true))
            .and_then(NodeId::from_bytes)
            .ok_or_else(|| NodeError::Unavailable("getinfo: no valid id".into()))?;
        let network = match info.get("network").and_then(Value::as_str) {
            Some("bitcoin") => Network::Mainnet,
            Some("testnet" | "testnet4") => Network::Testnet,
            Some("signet") => Network::Signet,
            Some("regtest") => Network::Regtest,
            other => {
                return Err(NodeError::Unavailable(format!(
                    "getinfo: the node runs on {}, which BOLT11 invoices cannot name",
                    rest::short(other.unwrap_or("(no network)"))
                )));
            }
        };
        Ok(ClnNode {
            api,
            node_id,
            network,
            payment_timeout: DEFAULT_PAYMENT_TIMEOUT,
            clock: system_clock(),
        })
    }

    /// The same node, waiting at most `timeout` for each answer other than a
    /// payment's (default [`DEFAULT_NODE_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> ClnNode {
        self.api.timeout = timeout;
        self
    }

    /// The same node, letting a payment take at most `timeout` (default
    /// [`DEFAULT_PAYMENT_TIMEOUT`]): `pay` is asked to stop retrying after three
    /// quarters of it (`retry_for`, at least 1 s), and a payment with no answer by
    /// the end is reported as [`NodeError::Unavailable`], its outcome unknown.
    pub fn with_payment_timeout(mut self, timeout: Duration) -> ClnNode {
        self.payment_timeout = timeout;
        self
    }

    /// The same node reading the time from `clock` (whether an unpaid invoice has
    /// expired).
    pub fn with_clock(mut self, clock: Clock) -> ClnNode {
        self.clock = clock;
        self
    }

    async fn create(&self, request: &InvoiceRequest) -> Result<Invoice, NodeError> {
        if request.amount_msat == Some(0) {
            return Err(NodeError::InvalidRequest("the amount is zero".into()));
        }
        // Labels must be unique on the node; a random one never collides with the
        // node's other users.
        let mut label = [0u8; 16];
        getrandom::fill(&mut label)
            .map_err(|e| NodeError::Unavailable(format!("no randomness for a label: {e}")))?;
        let amount = match request.amount_msat {
            Some(msat) => json!(msat),
            None => json!("any"),
        };
        let answer = self
            .api
            .result(
                "invoice",
                json!({
                    "amount_msat": amount,
                    "label": format!("mpp-{}", crate::hex::encode(&label)),
                    "description": request.description,
                    "expiry": request.expiry_secs,
                }),
            )
            .await?;
        let hash = answer
            .get("payment_hash")
            .and_then(Value::as_str)
            .and_then(|h| crate::hex::decode::<32>(h, true))
            .map(PaymentHash::from_bytes)
            .ok_or_else(|| NodeError::Unavailable("invoice: no payment_hash".into()))?;
        let text = answer
            .get("bolt11")
            .and_then(Value::as_str)
            .ok_or_else(|| NodeError::Unavailable("invoice: no bolt11".into()))?;
        rest::check_issued(text, request, &self.node_id, self.network, Some(&hash))
    }

    async fn lookup(&self, hash: &PaymentHash) -> Result<Option<InvoiceStatus>, NodeError> {
        let answer = self
            .api
            .result("listinvoices", json!({"payment_hash": hash.to_hex()}))
            .await?;
        let Some(found) = answer
            .get("invoices")
            .and_then(Value::as_array)
            .and_then(|list| list.first())
        else {
            return Ok(None);
        };
        let Some(invoice) = found
            .get("bolt11")
            .and_then(Value::as_str)
            .and_then(|t| Invoice::decode(t).ok())
            .filter(|i| i.payee() == &self.node_id && i.payment_hash() == hash)
        else {
            // A BOLT12 invoice, or not this node's: nothing the method issued.
            return Ok(None);
        };
        let state = match found.get("status").and_then(Value::as_str) {
            Some("paid") => InvoiceState::Settled,
            Some("expired") => InvoiceState::Expired,
            Some("unpaid") => rest::open_or_expired(&invoice, (self.clock)()),
            other => {
                return Err(NodeError::Unavailable(format!(
                    "listinvoices: an invoice status this client does not know: {}",
                    rest::short(other.unwrap_or("(none)"))
                )));
            }
        };
        let settled = state == InvoiceState::Settled;
        Ok(Some(InvoiceStatus {
            amount_received_msat: if settled {
                json_u64(found.get("amount_received_msat")).unwrap_or(0)
            } else {
                0
            },
            settled_at: json_u64(found.get("paid_at"))
                .filter(|_| settled)
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
        let hash = invoice.payment_hash();
        let unknown = |why: &str| {
            NodeError::Unavailable(format!(
                "payment {hash}: {why}; its outcome is unknown (look it up on the node)"
            ))
        };
        let mut params = json!({
            "bolt11": invoice.as_str(),
            "retry_for": (self.payment_timeout.as_secs() * 3 / 4).max(1),
            "maxfee": options
                .max_fee_msat
                .unwrap_or_else(|| default_fee_limit_msat(amount_msat)),
        });
        if invoice.amount_msat().is_none() {
            params["amount_msat"] = amount_msat.into();
        }
        let answer = match self.api.call("pay", params, self.payment_timeout).await {
            Ok(answer) => answer,
            Err(NodeError::Unavailable(m)) => return Err(unknown(&m)),
            Err(e) => return Err(e),
        };
        let result = match answer {
            Answer::Result(result) => result,
            Answer::Error { code, message } if DEFINITE_PAY_FAILURES.contains(&code) => {
                return Err(NodeError::PaymentFailed(format!(
                    "payment {hash}: {message} ({code})"
                )));
            }
            Answer::Error {
                code: -32602,
                message,
            } => {
                return Err(NodeError::InvalidRequest(format!("pay: {message}")));
            }
            Answer::Error { code, message } => {
                return Err(unknown(&format!("error {code}: {message}")));
            }
        };
        match result.get("status").and_then(Value::as_str) {
            Some("complete") => {}
            Some("failed") => {
                return Err(NodeError::PaymentFailed(format!(
                    "payment {hash}: the node reports it failed"
                )));
            }
            Some("pending") => return Err(unknown("still pending")),
            other => {
                return Err(unknown(&format!(
                    "a payment status this client does not know: {}",
                    rest::short(other.unwrap_or("(none)"))
                )));
            }
        }
        let preimage = result
            .get("payment_preimage")
            .and_then(Value::as_str)
            .and_then(PaymentPreimage::from_hex)
            .ok_or_else(|| unknown("a completed payment without a readable preimage"))?;
        rest::check_preimage(invoice, &preimage)?;
        let amount = json_u64(result.get("amount_msat")).unwrap_or(amount_msat);
        let sent = json_u64(result.get("amount_sent_msat")).unwrap_or(amount);
        Ok(PaymentOutcome {
            preimage,
            amount_msat: amount,
            fee_msat: sent.saturating_sub(amount),
        })
    }
}

/// The rune: the trimmed text of the file at `rune_or_path` if there is one, else
/// the argument itself, which must then look like a rune (base64url).
fn read_rune(rune_or_path: &str) -> Result<String, NodeError> {
    let path = Path::new(rune_or_path);
    let rune = if path.is_file() {
        let bytes = rest::read_secret_file(path, "rune")?;
        String::from_utf8(bytes)
            .map_err(|_| NodeError::InvalidRequest("the rune file is not text".into()))?
            .trim()
            .to_string()
    } else {
        rune_or_path.trim().to_string()
    };
    let looks_like_a_rune = !rune.is_empty()
        && rune
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
    if !looks_like_a_rune {
        return Err(NodeError::InvalidRequest(
            "the rune is neither a readable file nor a rune (base64url text)".into(),
        ));
    }
    Ok(rune)
}

impl LightningNode for ClnNode {
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
    fn a_rune_is_a_file_or_base64url_text() {
        assert_eq!(read_rune(" abc-_09= ").unwrap(), "abc-_09=");
        for bad in ["", "not a rune", "/no/such/file", "a\u{e9}"] {
            assert!(
                matches!(read_rune(bad), Err(NodeError::InvalidRequest(_))),
                "{bad}"
            );
        }
    }
}
