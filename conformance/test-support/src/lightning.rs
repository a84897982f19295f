//! What the Lightning node stand-ins ([`crate::lnd`], [`crate::cln`]) share: the
//! ledger of invoices the stand-ins issued (their whole "network": a stand-in pays
//! only invoices of a stand-in on the same ledger), the signer through which they
//! make real BOLT11 invoices, the faults a test can inject, and the HTTP/1.1 server
//! on loopback (with TLS for LND) that each runs on a thread of its own.
//!
//! **Why the test signs the invoices.** mpp-methods dev-depends on this package, so
//! this package may not depend on mpp-methods (D18: no cycle, even through
//! dev-dependencies), and it has no BOLT11 code of its own. A test hands each
//! stand-in a [`Signer`] (a node id and a function that writes and signs an invoice
//! from an [`InvoiceSpec`]), which it builds from mpp-methods' `InvoiceBuilder`. The
//! stand-in draws the preimage and payment secret, keeps the preimage, and releases
//! it only to a payer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

/// What a stand-in asks its [`Signer`] to write into an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceSpec {
    /// The payment hash (`p`).
    pub payment_hash: [u8; 32],
    /// The payment secret (`s`).
    pub payment_secret: [u8; 32],
    /// The amount (none for an invoice the payer fills in).
    pub amount_msat: Option<u64>,
    /// The description (`d`).
    pub description: String,
    /// Seconds from `timestamp` until it expires (`x`).
    pub expiry_secs: u64,
    /// Its creation time, in Unix seconds.
    pub timestamp: u64,
}

/// Writes and signs a BOLT11 invoice, as one node; `Err` with a message when the
/// spec cannot be an invoice (a description too long, say).
pub type SignFn = dyn Fn(&InvoiceSpec) -> Result<String, String> + Send + Sync;

/// A stand-in node's identity: its id (33-byte compressed key, lowercase hex), the
/// network its invoices are for (as the node's API names it: `regtest`, …) and its
/// signing function.
#[derive(Clone)]
pub struct Signer {
    /// The node id, 66 lowercase hex digits.
    pub node_id: String,
    /// The network's name in the node's API (`regtest` for both LND and CLN).
    pub network: String,
    /// Writes and signs an invoice as this node.
    pub sign: Arc<SignFn>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("node_id", &self.node_id)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// A fault a stand-in injects into its answers, until changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// None: the node answers as documented.
    #[default]
    None,
    /// Every call is answered with HTTP 500 (and the node's error object).
    ServerError,
    /// Every call is answered only after this long.
    Delay(Duration),
    /// A payment starts, and stays in flight for ever (no final status).
    PaymentInFlight,
    /// A payment fails, with this reason in the node's words (LND: a
    /// `failure_reason` such as `FAILURE_REASON_NO_ROUTE`; CLN: the message of a
    /// `pay` error 210).
    PaymentFails(String),
}

/// An invoice a stand-in issued.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) payee: String,
    pub(crate) label: String,
    pub(crate) bolt11: String,
    pub(crate) payment_hash: [u8; 32],
    pub(crate) payment_secret: [u8; 32],
    pub(crate) preimage: [u8; 32],
    pub(crate) amount_msat: Option<u64>,
    pub(crate) description: String,
    pub(crate) created_at: u64,
    pub(crate) expiry_secs: u64,
    pub(crate) add_index: u64,
    pub(crate) paid_msat: u64,
    pub(crate) settled_at: Option<u64>,
}

impl Entry {
    pub(crate) fn expires_at(&self) -> u64 {
        self.created_at.saturating_add(self.expiry_secs)
    }
}

/// Where one payer's payment of one hash stands.
#[derive(Debug, Clone)]
pub(crate) enum Attempt {
    InFlight,
    Succeeded {
        amount_msat: u64,
        preimage: [u8; 32],
    },
}

#[derive(Debug, Default)]
pub(crate) struct Book {
    /// Every invoice, by payment hash.
    pub(crate) invoices: HashMap<[u8; 32], Entry>,
    /// Each payer's payments, by (payer node id, payment hash).
    pub(crate) attempts: HashMap<(String, [u8; 32]), Attempt>,
    next_index: u64,
}

/// The invoices of the stand-ins that share it, and their payments: two stand-ins
/// on one ledger can pay each other.
#[derive(Debug, Clone, Default)]
pub struct Ledger(Arc<Mutex<Book>>);

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    pub(crate) fn book(&self) -> MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues an invoice as `signer`: a fresh preimage and secret, signed.
    pub(crate) fn issue(
        &self,
        signer: &Signer,
        label: String,
        amount_msat: Option<u64>,
        description: String,
        expiry_secs: u64,
    ) -> Result<Entry, String> {
        let mut random = [0u8; 64];
        getrandom::fill(&mut random).map_err(|e| format!("no randomness: {e}"))?;
        let mut preimage = [0u8; 32];
        let mut payment_secret = [0u8; 32];
        preimage.copy_from_slice(&random[..32]);
        payment_secret.copy_from_slice(&random[32..]);
        let payment_hash: [u8; 32] = Sha256::digest(preimage).into();
        let spec = InvoiceSpec {
            payment_hash,
            payment_secret,
            amount_msat,
            description: description.clone(),
            expiry_secs,
            timestamp: now_secs(),
        };
        let bolt11 = (signer.sign)(&spec)?;
        let mut book = self.book();
        book.next_index += 1;
        let entry = Entry {
            payee: signer.node_id.clone(),
            label,
            bolt11,
            payment_hash,
            payment_secret,
            preimage,
            amount_msat,
            description,
            created_at: spec.timestamp,
            expiry_secs,
            add_index: book.next_index,
            paid_msat: 0,
            settled_at: None,
        };
        book.invoices.insert(payment_hash, entry.clone());
        Ok(entry)
    }
}

/// What a payment asked of the ledger came to.
#[derive(Debug, Clone)]
pub(crate) enum PayResult {
    /// Paid now, or (`again`) earlier by the same payer.
    Paid {
        amount_msat: u64,
        preimage: [u8; 32],
        payment_hash: [u8; 32],
        again: bool,
    },
    /// This payer already has a payment of this hash in flight.
    AlreadyInFlight,
    /// Started, and left in flight (the fault asked so).
    LeftInFlight { payment_hash: [u8; 32] },
    /// Definitely not paid: no such invoice on the ledger, expired, paid by another,
    /// an amount missing or wrong.
    Refused {
        payment_hash: Option<[u8; 32]>,
        why: &'static str,
    },
}

impl Ledger {
    /// Pays `bolt11` as `payer`: the ledger's rules for a payment.
    pub(crate) fn pay(
        &self,
        payer: &str,
        bolt11: &str,
        amount_msat: Option<u64>,
        stay_in_flight: bool,
    ) -> PayResult {
        let mut book = self.book();
        let Some(entry) = book.invoices.values().find(|e| e.bolt11 == bolt11).cloned() else {
            return PayResult::Refused {
                payment_hash: None,
                why: "no route",
            };
        };
        let hash = entry.payment_hash;
        let key = (payer.to_string(), hash);
        match book.attempts.get(&key) {
            Some(Attempt::InFlight) => return PayResult::AlreadyInFlight,
            Some(Attempt::Succeeded {
                amount_msat,
                preimage,
            }) => {
                return PayResult::Paid {
                    amount_msat: *amount_msat,
                    preimage: *preimage,
                    payment_hash: hash,
                    again: true,
                };
            }
            None => {}
        }
        let amount = match (entry.amount_msat, amount_msat) {
            (Some(a), None) => a,
            (Some(a), Some(b)) if a == b => a,
            (None, Some(b)) if b > 0 => b,
            _ => {
                return PayResult::Refused {
                    payment_hash: Some(hash),
                    why: "amount",
                };
            }
        };
        if entry.settled_at.is_some() {
            return PayResult::Refused {
                payment_hash: Some(hash),
                why: "already paid",
            };
        }
        if now_secs() >= entry.expires_at() {
            return PayResult::Refused {
                payment_hash: Some(hash),
                why: "expired",
            };
        }
        if stay_in_flight {
            book.attempts.insert(key, Attempt::InFlight);
            return PayResult::LeftInFlight { payment_hash: hash };
        }
        if let Some(e) = book.invoices.get_mut(&hash) {
            e.paid_msat = amount;
            e.settled_at = Some(now_secs());
        }
        book.attempts.insert(
            key,
            Attempt::Succeeded {
                amount_msat: amount,
                preimage: entry.preimage,
            },
        );
        PayResult::Paid {
            amount_msat: amount,
            preimage: entry.preimage,
            payment_hash: hash,
            again: false,
        }
    }
}

/// The time now, in Unix seconds.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (how LND's JSON writes `bytes`).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An answer's body: whole, or a stream of pieces sent as they come (LND's payment
/// updates), which stays open as long as its sender lives.
pub(crate) enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::UnboundedReceiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|d| d.map(|d| Ok(Frame::data(d)))),
        }
    }
}

/// A JSON answer.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Full(Some(Bytes::from(value.to_string()))))
        .unwrap_or_else(|e| panic!("cannot build a response: {e}"))
}

/// A request as the stand-ins read it.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: serde_json::Value,
}

/// Handles one call.
pub(crate) type Handler = Arc<
    dyn Fn(Call) -> Pin<Box<dyn std::future::Future<Output = Response<Body>> + Send>> + Send + Sync,
>;

/// A server on a loopback port, on a thread of its own; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub(crate) calls: Arc<AtomicU64>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server answering with `handler`, over TLS when `tls` is given.
pub(crate) fn serve(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Server {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("cannot make the listener non-blocking: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)
                .unwrap_or_else(|e| panic!("cannot use the listener: {e}"));
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            let accept = async {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let handler = handler.clone();
                    let acceptor = acceptor.clone();
                    let counter = counter.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            counter.fetch_add(1, Ordering::Relaxed);
                            let handler = handler.clone();
                            async move { Ok::<_, Infallible>(handle(req, handler).await) }
                        });
                        let http = hyper::server::conn::http1::Builder::new();
                        match acceptor {
                            Some(acceptor) => {
                                // A client that refuses the certificate ends here.
                                if let Ok(tls) = acceptor.accept(stream).await {
                                    let io = hyper_util::rt::TokioIo::new(tls);
                                    let _ = http.serve_connection(io, service).await;
                                }
                            }
                            None => {
                                let io = hyper_util::rt::TokioIo::new(stream);
                                let _ = http.serve_connection(io, service).await;
                            }
                        }
                    });
                }
            };
            tokio::select! {
                _ = accept => {}
                _ = stopped => {}
            }
        });
    });
    Server {
        addr,
        stop: Some(stop),
        calls,
    }
}

async fn handle(req: Request<Incoming>, handler: Handler) -> Response<Body> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return json(400, &serde_json::json!({"message": "unreadable body"})),
    };
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(_) => {
                return json(
                    400,
                    &serde_json::json!({"code": 3, "message": "invalid JSON"}),
                );
            }
        }
    };
    handler(Call {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        body,
    })
    .await
}

/// The state a stand-in's handler reads: its identity, ledger and current fault.
#[derive(Debug)]
pub(crate) struct NodeState {
    pub(crate) signer: Signer,
    pub(crate) ledger: Ledger,
    pub(crate) fault: Mutex<Fault>,
    /// Payments this node started (refused duplicates not counted).
    pub(crate) payments_started: AtomicU64,
}

impl NodeState {
    pub(crate) fn fault(&self) -> Fault {
        self.fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A JSON integer written as a string (LND) or a number (CLN).
pub(crate) fn int(value: Option<&serde_json::Value>) -> Option<u64> {
    match value? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_is_standard_with_padding() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(&[0xfb, 0xff]), "+/8=");
    }
}
