//! What the node connectors ([`LndNode`](super::LndNode), [`ClnNode`](super::ClnNode))
//! share: an HTTP client that trusts exactly one certificate (the node's own),
//! bounded reading of answers, error messages that carry neither the node's URL nor
//! the credential sent with each request, and the checks of what a node answers.

use std::format;
use std::string::{String, ToString};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use std::vec::Vec;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::NodeError;

/// The most of one answer the connectors read. A node's answers to the calls they make
/// are a few KiB; anything near this is not one of them.
pub(super) const MAX_ANSWER_BYTES: usize = 1 << 20;

/// How long a connector waits for a node's answer to anything but a payment, unless
/// told otherwise.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a connector lets a payment take, unless told otherwise: the node is
/// asked to give up a little earlier, so that a payment still unsettled by then is
/// one whose outcome the node itself does not know.
pub const DEFAULT_PAYMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts the one certificate it was given, byte for byte, whatever its issuer,
/// validity dates or names.
///
/// Why not webpki with the certificate as the only root: LND's self-signed
/// certificate is a CA certificate (`IsCA`), which webpki refuses as a server's own
/// (`CaUsedAsEndEntity`). Comparing the whole certificate is also stricter than a
/// chain check: only the holder of that certificate's key can finish the handshake
/// (the handshake signature is still verified against it), so the host name in the
/// URL is not matched against the certificate's names; an expired node certificate
/// is accepted for the same reason, as LND's own clients do.
#[derive(Debug)]
struct PinnedCert {
    der: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
    /// Set when a server showed another certificate, to name that in the error
    /// (reqwest reports only that the connection failed).
    mismatch: Arc<AtomicBool>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            self.mismatch.store(true, Ordering::Relaxed);
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// An HTTP client of one node.
pub(super) struct RestClient {
    client: reqwest::Client,
    base: reqwest::Url,
    mismatch: Option<Arc<AtomicBool>>,
}

impl RestClient {
    /// A client of the node at `base` that trusts only `cert_pem` (the node's
    /// certificate, PEM) when given one, and the web PKI roots otherwise.
    pub(super) fn new(
        base: &str,
        cert_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<RestClient, NodeError> {
        let base = reqwest::Url::parse(base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                NodeError::InvalidRequest("the node's URL is not an http(s) URL".into())
            })?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        let mut mismatch = None;
        if let Some(pem) = cert_pem {
            if base.scheme() != "https" {
                return Err(NodeError::InvalidRequest(
                    "a pinned certificate needs an https:// URL".into(),
                ));
            }
            let der = CertificateDer::from_pem_slice(pem).map_err(|_| {
                NodeError::InvalidRequest(
                    "the certificate file holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                        .into(),
                )
            })?;
            let provider = rustls::crypto::ring::default_provider();
            let flag = Arc::new(AtomicBool::new(false));
            let verifier = PinnedCert {
                der: der.as_ref().to_vec(),
                algorithms: provider.signature_verification_algorithms,
                mismatch: flag.clone(),
            };
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                .with_safe_default_protocol_versions()
                .map_err(|e| NodeError::Unavailable(format!("cannot set up TLS: {e}")))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            builder = builder.use_preconfigured_tls(config);
            mismatch = Some(flag);
        }
        let client = builder
            .build()
            .map_err(|e| NodeError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(RestClient {
            client,
            base,
            mismatch,
        })
    }

    /// The host, for `Debug`: the URL may carry credentials in its query or path.
    pub(super) fn host(&self) -> Option<&str> {
        self.base.host_str()
    }

    /// A request to `path` (absolute, from the node's root) with the credential
    /// header, marked sensitive.
    pub(super) fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        credential: (&'static str, &reqwest::header::HeaderValue),
    ) -> Result<reqwest::RequestBuilder, NodeError> {
        let url = self
            .base
            .join(path)
            .map_err(|_| NodeError::InvalidRequest("cannot build the request URL".into()))?;
        Ok(self
            .client
            .request(method, url)
            .header(credential.0, credential.1.clone()))
    }

    /// Sends `request`, and reads the whole answer (at most [`MAX_ANSWER_BYTES`]).
    pub(super) async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut response = self.send(request).await?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk(&mut response).await? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!("an answer of more than {MAX_ANSWER_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    /// Sends `request`; the answer's body is left to read.
    pub(super) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String> {
        request.send().await.map_err(|e| self.describe(&e))
    }

    /// The next piece of an answer's body.
    pub(super) async fn chunk(
        &self,
        response: &mut reqwest::Response,
    ) -> Result<Option<Vec<u8>>, String> {
        let chunk = response.chunk().await.map_err(|e| self.describe(&e))?;
        Ok(chunk.map(|c| c.to_vec()))
    }

    /// What went wrong with an HTTP exchange, without the URL.
    fn describe(&self, e: &reqwest::Error) -> String {
        if e.is_connect()
            && self
                .mismatch
                .as_ref()
                .is_some_and(|m| m.swap(false, Ordering::Relaxed))
        {
            return "the node showed a TLS certificate other than the pinned one".into();
        }
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "the HTTP exchange failed"
        };
        kind.to_string()
    }
}

/// At most 300 characters of a node's message, for an error.
pub(super) fn short(message: &str) -> String {
    message.chars().take(300).collect()
}

/// Reads a credential file whole; the error names the file's role, not its content.
pub(super) fn read_secret_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, NodeError> {
    std::fs::read(path).map_err(|e| {
        NodeError::InvalidRequest(format!(
            "cannot read the {what} file {}: {}",
            path.display(),
            e.kind()
        ))
    })
}

/// A JSON integer the way the node APIs write them: LND writes 64-bit integers as
/// strings (proto3's JSON mapping), Core Lightning as numbers.
pub(super) fn json_u64(value: Option<&serde_json::Value>) -> Option<u64> {
    match value? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// The invoice a node says it created for `request`, checked: a valid BOLT11
/// invoice of this node, on its network, for the amount asked, and with the payment
/// hash the node reported. A node that answers otherwise is not one to take
/// payments through.
pub(super) fn check_issued(
    text: &str,
    request: &super::InvoiceRequest,
    node_id: &super::NodeId,
    network: super::Network,
    reported_hash: Option<&super::PaymentHash>,
) -> Result<super::Invoice, NodeError> {
    let bad = |what: &str| NodeError::Unavailable(format!("the node issued {what}"));
    let invoice = super::Invoice::decode(text)
        .map_err(|e| bad(&format!("an invoice that does not decode ({e})")))?;
    if invoice.payee() != node_id {
        return Err(bad("an invoice of another node"));
    }
    if invoice.network() != network {
        return Err(bad("an invoice for another network"));
    }
    if invoice.amount_msat() != request.amount_msat {
        return Err(bad("an invoice for another amount"));
    }
    if reported_hash.is_some_and(|h| h != invoice.payment_hash()) {
        return Err(bad(
            "an invoice whose payment hash is not the one it reported",
        ));
    }
    Ok(invoice)
}

/// What an invoice's lookup says it stands at, given the node's word and the clock:
/// an unpaid invoice past its expiry is expired whatever the node calls it.
pub(super) fn open_or_expired(
    invoice: &super::Invoice,
    now: mpp_core::time::UnixTime,
) -> super::InvoiceState {
    if invoice.is_expired_at(now) {
        super::InvoiceState::Expired
    } else {
        super::InvoiceState::Open
    }
}

/// Whether `outcome`'s preimage is the invoice's: a node that hands back another one
/// did not give proof of this payment.
pub(super) fn check_preimage(
    invoice: &super::Invoice,
    preimage: &super::PaymentPreimage,
) -> Result<(), NodeError> {
    if &preimage.payment_hash() == invoice.payment_hash() {
        Ok(())
    } else {
        Err(NodeError::Unavailable(format!(
            "the node reported payment {} complete with a preimage that is not its own; \
             its outcome is unknown",
            invoice.payment_hash()
        )))
    }
}
