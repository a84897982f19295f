//! [`PayingClient`]: sends a request, pays a 402, and returns the final response with
//! its receipt and every payment made for it.
//!
//! For each request it:
//!
//! 1. sends it, announcing the wallet's methods in `Accept-Payment`;
//! 2. on a 402, asks the wallet ([`Wallet::choose`]) for a challenge its spending
//!    policy allows, at what the method says paying it costs (a charge its amount, a
//!    session the deposit that opens it, or nothing when paid from the session open
//!    at that origin); has the method pay it; and sends the request again, with the
//!    same body (so a `digest` binding holds) and the credential in the field the
//!    challenge selects;
//! 3. returns the response with its parsed `Payment-Receipt`.
//!
//! It pays once per request: a 402 after paying is an error carrying the server's
//! problem details, never a second charge. The exception is a session method
//! ([`PayMethod::top_up`](mpp_core::client::PayMethod::top_up)): when the server
//! answers a payment from an open session with the session intent's "insufficient
//! value", the client tops the session up with a fresh challenge of that 402
//! ([`Wallet::choose_top_up`], within the budget and the per-request cap) and pays
//! from it again; when the server says the session is closed or unknown, it opens a
//! new one (logged as a warning). Either happens at most once per request, and never
//! for a session that has not served a request since it was opened or last topped
//! up: a server that takes a deposit and drops or drains the session at once would
//! otherwise be paid deposit after deposit ([`PayingError::SessionNeverServed`]).
//! Every payment made for the request is listed in [`PaidResponse::payments`].
//!
//! A 5xx after paying is an unknown outcome and not retried, except a `500` or `503`
//! whose `Retry-After` asks to wait at most five seconds: the very same credential
//! is sent once more after that delay (a credential pays at most once, so the retry
//! cannot pay twice).
//!
//! It follows redirects itself and never sends a credential to another origin than
//! the one whose 402 it answers. Its tracing events name methods, amounts and
//! origins, never credentials, payloads or receipts.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, LOCATION};
use http::{Method, StatusCode};
use mpp_core::challenge::Challenge;
use mpp_core::client::{Choice, Declined, Origin, PayError, Wallet};
use mpp_core::problem::Problem;
use mpp_core::receipt::Receipt;
use reqwest::Url;
use tokio::sync::Mutex;

use crate::pay;

/// Limits of a [`PayingClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The longest a request (each of its round trips) may take.
    pub timeout: Duration,
    /// How many redirects are followed.
    pub max_redirects: usize,
    /// The largest response body read.
    pub max_body: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            max_redirects: 5,
            max_body: 16 * 1024 * 1024,
        }
    }
}

/// A request to send: method, URL, header fields and a body kept whole so it can be
/// sent again, identical, with the credential.
#[derive(Debug, Clone)]
pub struct PaidRequest {
    /// The HTTP method.
    pub method: Method,
    /// The URL.
    pub url: Url,
    /// Header fields.
    pub headers: HeaderMap,
    /// The body, if any.
    pub body: Option<Bytes>,
}

impl PaidRequest {
    /// A request without header fields or body.
    pub fn new(method: Method, url: Url) -> PaidRequest {
        PaidRequest {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// Adds a header field.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> PaidRequest {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> PaidRequest {
        self.body = Some(body.into());
        self
    }
}

/// What a payment made for a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentKind {
    /// A payment of the challenge's amount (intent `charge`, or another intent
    /// without sessions).
    Charge,
    /// A session payment that took something from the wallet: the deposit of a new
    /// session, also when it replaces one the server dropped.
    SessionOpen,
    /// A payment from the session open at the origin: nothing taken from the wallet.
    SessionUse,
    /// More deposit for the session open at the origin, after the server said it
    /// ran dry.
    TopUp,
}

impl PaymentKind {
    pub(crate) fn of(choice: &Choice, top_up: bool) -> PaymentKind {
        match (top_up, choice.challenge.intent.as_str(), choice.cost) {
            (true, _, _) => PaymentKind::TopUp,
            (false, "session", 0) => PaymentKind::SessionUse,
            (false, "session", _) => PaymentKind::SessionOpen,
            _ => PaymentKind::Charge,
        }
    }
}

/// A payment made for a request.
#[derive(Clone)]
pub struct PaymentMade {
    /// The challenge answered.
    pub challenge: Challenge<'static>,
    /// What it was.
    pub kind: PaymentKind,
    /// The challenge's amount (for a session, the price of a unit), in base units.
    pub amount: u128,
    /// What it took from the wallet, in base units: the amount of a charge, the
    /// deposit of a session or a top-up, nothing for a use of an open session.
    pub cost: u128,
    /// The currency.
    pub currency: String,
    /// The origin paid.
    pub origin: String,
    /// The credential sent (sensitive: `Debug` does not show it).
    pub credential: String,
}

impl fmt::Debug for PaymentMade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentMade")
            .field("challenge_id", &self.challenge.id.as_str())
            .field("method", &self.challenge.method.as_str())
            .field("kind", &self.kind)
            .field("amount", &self.amount)
            .field("cost", &self.cost)
            .field("currency", &self.currency)
            .field("origin", &self.origin)
            .field("credential", &"<redacted>")
            .finish()
    }
}

/// The final response.
#[derive(Debug)]
pub struct PaidResponse {
    /// Its status.
    pub status: StatusCode,
    /// Its header fields.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
    /// The URL that answered (after redirects).
    pub url: Url,
    /// The parsed `Payment-Receipt`, when the response carries one.
    pub receipt: Option<Receipt>,
    /// Every payment made for the request, in order; the last one was answered with
    /// this response. Empty when nothing was paid.
    pub payments: Vec<PaymentMade>,
}

/// Why a request did not end with a response.
#[derive(Debug)]
#[non_exhaustive]
pub enum PayingError {
    /// The request could not be sent or its response not read.
    Network(String),
    /// The server asked for payment and nothing could be paid: no challenge was
    /// payable, or the spending policy refused every one. (After a session payment,
    /// the top-up or the new session that could have mended it.)
    Declined(Declined),
    /// The method could not pay the chosen challenge; nothing was spent on it.
    Method(PayError),
    /// The server refused the payment (a 402 or another 4xx after paying), with its
    /// problem details when it sent them. Nothing more is paid for this request.
    Rejected {
        /// The status after paying.
        status: StatusCode,
        /// The problem details, if the body had them.
        problem: Option<Box<Problem>>,
        /// The payments made for the request, the refused one last.
        payments: Vec<PaymentMade>,
    },
    /// The server refused a session (closed, unknown, or out of balance) that has
    /// not served a request since this client opened it or last topped it up: it is
    /// not topped up or reopened, since a server that takes deposits without serving
    /// would be paid again and again. A closed or unknown session is forgotten.
    SessionNeverServed {
        /// The server's problem details.
        problem: Box<Problem>,
        /// The payments made for the request, the refused one last.
        payments: Vec<PaymentMade>,
    },
    /// Something failed after the credential was sent (a 5xx, or no response at all:
    /// a timeout, a reset, an unusable redirect): whether the payment settled is
    /// unknown, so it is not retried.
    UnknownOutcome {
        /// The status after paying; `None` when no response came.
        status: Option<StatusCode>,
        /// What went wrong.
        detail: String,
        /// The payments made for the request, the one in doubt last.
        payments: Vec<PaymentMade>,
    },
    /// Too many redirects, a redirect without a usable `Location`, or a 402 that a
    /// redirect to another origin led to (never paid).
    Redirect(String),
}

impl fmt::Display for PayingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayingError::Network(e) => write!(f, "network error: {e}"),
            PayingError::Declined(r) => write!(f, "payment refused: {r}"),
            PayingError::Method(e) => write!(f, "the payment method failed: {e}"),
            PayingError::Rejected {
                status, problem, ..
            } => {
                write!(f, "the server rejected the payment ({status})")?;
                if let Some(p) = problem {
                    write!(f, ": {}", p.type_uri)?;
                    if let Some(d) = &p.detail {
                        write!(f, " ({d})")?;
                    }
                }
                Ok(())
            }
            PayingError::SessionNeverServed { problem, .. } => write!(
                f,
                "the server refused a session before it served a request ({}); it is not \
                 paid again",
                problem.type_uri
            ),
            PayingError::UnknownOutcome { detail, .. } => write!(
                f,
                "{detail} after the credential was sent; the payment may have settled"
            ),
            PayingError::Redirect(e) => write!(f, "redirect: {e}"),
        }
    }
}

impl std::error::Error for PayingError {}

/// The longest `Retry-After` a failed paid request is retried after.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// An HTTP client that pays for what it fetches, within its wallet's policy.
///
/// Cheap to clone; clones share the wallet, so the budget holds across tasks.
#[derive(Clone)]
pub struct PayingClient {
    http: reqwest::Client,
    wallet: Arc<Mutex<Wallet>>,
    /// The sessions (method index, origin) paid into, opened or topped up, that have
    /// not served a request since.
    unserved: Arc<std::sync::Mutex<HashSet<(usize, Origin)>>>,
    options: ClientOptions,
}

impl fmt::Debug for PayingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayingClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl PayingClient {
    /// A client paying from `wallet`, with the default options.
    pub fn new(wallet: Wallet) -> Result<PayingClient, PayingError> {
        PayingClient::with_options(wallet, ClientOptions::default())
    }

    /// A client paying from `wallet`.
    pub fn with_options(
        wallet: Wallet,
        options: ClientOptions,
    ) -> Result<PayingClient, PayingError> {
        let http = reqwest::Client::builder()
            // Redirects are followed here, where credentials can be kept to their origin.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .build()
            .map_err(network)?;
        Ok(PayingClient {
            http,
            wallet: Arc::new(Mutex::new(wallet)),
            unserved: Arc::default(),
            options,
        })
    }

    /// The wallet, shared by every clone of this client.
    pub fn wallet(&self) -> &Arc<Mutex<Wallet>> {
        &self.wallet
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<PaidResponse, PayingError> {
        let url = Url::parse(url).map_err(|e| PayingError::Network(format!("invalid URL: {e}")))?;
        self.send(PaidRequest::new(Method::GET, url)).await
    }

    /// Sends `request`, paying a 402 if the wallet allows.
    pub async fn send(&self, request: PaidRequest) -> Result<PaidResponse, PayingError> {
        let accept = self.wallet.lock().await.accept_payment();
        let mut request = request;
        if let Some(value) = accept.and_then(|a| HeaderValue::try_from(a).ok()) {
            request
                .headers
                .entry(HeaderName::from_static("accept-payment"))
                .or_insert(value);
        }
        let first = self.round_trip(&request, None).await?;
        if first.status != StatusCode::PAYMENT_REQUIRED {
            return Ok(first.into_paid(Vec::new()));
        }
        // Pay for the URL that answered 402 (after any redirect), at its origin, with
        // the method and body that reached it (a 303 turns a POST into a GET).
        let origin = origin_of(&first.url);
        if origin != origin_of(&request.url) {
            // Peer lesson §2.9 (83): a redirect must not hand the payment to an origin
            // the caller did not ask for.
            tracing::info!(target: "mpp::client", origin = %origin, "payment refused: 402 after a cross-origin redirect");
            return Err(PayingError::Redirect(format!(
                "a 402 from {origin} after a redirect from {} is not paid",
                origin_of(&request.url)
            )));
        }
        let mut paid_request = request.clone();
        paid_request.url = first.url.clone();
        paid_request.method = first.method.clone();
        paid_request.body = first.request_body.clone();
        let choice = self
            .choose(&first, |wallet, lines| {
                wallet.choose(lines, &origin, pay::now())
            })
            .await?;
        tracing::info!(
            target: "mpp::client",
            origin = %origin,
            method = %choice.challenge.method,
            amount = choice.amount,
            cost = choice.cost,
            currency = %choice.currency,
            "paying"
        );
        let mut payments = Vec::new();
        let mut response = self
            .pay_and_send(&paid_request, &choice, false, &mut payments)
            .await?;
        if response.status == StatusCode::PAYMENT_REQUIRED
            && choice.challenge.intent.as_str() == "session"
        {
            if let Some(recovered) = self
                .recover_session(&paid_request, &choice, &response, &mut payments)
                .await?
            {
                response = recovered;
            }
        }
        match response.status {
            s if s.is_success() => {
                self.unserved().remove(&(choice.method, origin.clone()));
                tracing::info!(target: "mpp::client", origin = %origin, status = s.as_u16(), "paid");
                Ok(response.into_paid(payments))
            }
            s if s.is_client_error() || s.is_server_error() => {
                Err(refused_after_paying(response, payments))
            }
            _ => Ok(response.into_paid(payments)),
        }
    }

    /// The wallet's choice among the challenges of a 402, by `choose`.
    async fn choose(
        &self,
        answer: &Fetched,
        choose: impl FnOnce(&mut Wallet, Vec<&[u8]>) -> Result<Choice, Declined>,
    ) -> Result<Choice, PayingError> {
        let lines: Vec<&[u8]> = answer
            .headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        pay::choose(&self.wallet, &origin_of(&answer.url), |wallet| {
            choose(wallet, lines)
        })
        .await
        .map_err(PayingError::Declined)
    }

    /// Has the method pay `choice` (as a top-up of its session, with `top_up`), and
    /// sends `request` with the credential; the payment joins `payments`. When the
    /// method fails, the wallet gets the reservation back.
    async fn pay_and_send(
        &self,
        request: &PaidRequest,
        choice: &Choice,
        top_up: bool,
        payments: &mut Vec<PaymentMade>,
    ) -> Result<Fetched, PayingError> {
        let payment = pay::pay(&self.wallet, choice, top_up)
            .await
            .map_err(PayingError::Method)?;
        let kind = PaymentKind::of(choice, top_up);
        if matches!(kind, PaymentKind::SessionOpen | PaymentKind::TopUp) {
            self.unserved()
                .insert((choice.method, choice.origin.clone()));
        }
        let made = PaymentMade {
            challenge: choice.challenge.clone(),
            kind,
            amount: choice.amount,
            cost: choice.cost,
            currency: choice.currency.clone(),
            origin: choice.origin.to_string(),
            credential: choice.credential(payment),
        };
        let mut credential = HeaderValue::try_from(made.credential.as_str())
            .map_err(|e| PayingError::Network(format!("credential header: {e}")))?;
        credential.set_sensitive(true);
        payments.push(made);
        self.send_paid(request, choice, credential, payments).await
    }

    /// Sends `request` with `credential`, the answer to `choice` (the last of
    /// `payments`). A failure to get an answer is an unknown outcome, since the
    /// credential may have arrived; a `500` or `503` asking to retry within
    /// [`MAX_RETRY_AFTER`] is sent the same credential once more.
    async fn send_paid(
        &self,
        request: &PaidRequest,
        choice: &Choice,
        credential: HeaderValue,
        payments: &mut Vec<PaymentMade>,
    ) -> Result<Fetched, PayingError> {
        let field = HeaderName::from_static(match choice.field() {
            mpp_core::credential::CredentialField::Authorization => "authorization",
            mpp_core::credential::CredentialField::PaymentAuthorization => "payment-authorization",
        });
        let origin = &choice.origin;
        let mut retried = false;
        loop {
            let sent = self
                .round_trip(request, Some((field.clone(), credential.clone(), origin)))
                .await;
            match sent {
                Ok(response) => match retry_after(&response).filter(|_| !retried) {
                    Some(delay) => {
                        tracing::warn!(target: "mpp::client", origin = %origin, status = response.status.as_u16(), delay_ms = delay.as_millis() as u64, "the server asks to retry: sending the same credential again");
                        tokio::time::sleep(delay).await;
                        retried = true;
                    }
                    None => return Ok(response),
                },
                Err(PayingError::Network(detail) | PayingError::Redirect(detail)) => {
                    tracing::warn!(target: "mpp::client", origin = %origin, "unknown outcome after paying: {detail}");
                    return Err(PayingError::UnknownOutcome {
                        status: None,
                        detail,
                        payments: std::mem::take(payments),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a payment from a session answered by a 402: if the session ran dry, tops
    /// it up with a fresh challenge of that 402 and pays from it again; if the server
    /// closed it or does not know it, opens a new one. Neither for a session that has
    /// not served a request since it was opened or last topped up
    /// ([`PayingError::SessionNeverServed`]). Once per request; `None` when the 402 is
    /// about something else.
    async fn recover_session(
        &self,
        request: &PaidRequest,
        paid: &Choice,
        response: &Fetched,
        payments: &mut Vec<PaymentMade>,
    ) -> Result<Option<Fetched>, PayingError> {
        let Some((trouble, problem)) = SessionTrouble::of(&response.body) else {
            return Ok(None);
        };
        let Some(method) = self.wallet.lock().await.methods().get(paid.method).cloned() else {
            return Ok(None);
        };
        let origin = &paid.origin;
        let name = &paid.challenge.method;
        let session = (paid.method, origin.clone());
        if self.unserved().contains(&session) {
            if trouble == SessionTrouble::Gone {
                method.forget_session(origin);
                self.unserved().remove(&session);
            }
            tracing::warn!(target: "mpp::client", origin = %origin, method = %name, problem = %problem.type_uri, "the server refused a session before it served a request: not paying it again");
            return Err(PayingError::SessionNeverServed {
                problem: Box::new(problem),
                payments: std::mem::take(payments),
            });
        }
        match trouble {
            SessionTrouble::Spent => {
                let choice = self
                    .choose(response, |wallet, lines| {
                        wallet.choose_top_up(lines, origin, pay::now(), paid.method)
                    })
                    .await?;
                tracing::info!(target: "mpp::client", origin = %origin, method = %name, cost = choice.cost, "topping up the session");
                let answer = self.pay_and_send(request, &choice, true, payments).await?;
                if !answer.status.is_success() {
                    return Err(refused_after_paying(answer, std::mem::take(payments)));
                }
                // Paid from the session again, echoing the top-up's challenge (E25).
                let from_session = Choice { cost: 0, ..choice };
                self.pay_and_send(request, &from_session, false, payments)
                    .await
                    .map(Some)
            }
            SessionTrouble::Gone => {
                if !method.forget_session(origin) {
                    return Ok(None);
                }
                let choice = self
                    .choose(response, |wallet, lines| {
                        wallet.choose(lines, origin, pay::now())
                    })
                    .await?;
                if choice.method != paid.method {
                    self.wallet.lock().await.release(&choice);
                    return Ok(None);
                }
                tracing::warn!(target: "mpp::client", origin = %origin, method = %name, cost = choice.cost, problem = %problem.type_uri, "the server dropped the session: opening a new one");
                self.pay_and_send(request, &choice, false, payments)
                    .await
                    .map(Some)
            }
        }
    }

    fn unserved(&self) -> std::sync::MutexGuard<'_, HashSet<(usize, Origin)>> {
        self.unserved.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends the request, following redirects; a credential goes only to `origin`.
    async fn round_trip(
        &self,
        request: &PaidRequest,
        credential: Option<(HeaderName, HeaderValue, &Origin)>,
    ) -> Result<Fetched, PayingError> {
        let mut url = request.url.clone();
        let mut method = request.method.clone();
        let mut body = request.body.clone();
        let mut headers = request.headers.clone();
        for _ in 0..=self.options.max_redirects {
            let mut hop_headers = headers.clone();
            if let Some((name, value, origin)) = &credential {
                if origin_of(&url) == **origin {
                    // Replaces a caller's own value of the field: a request carries one
                    // `Authorization`, and the challenge asked for this one.
                    hop_headers.insert(name.clone(), value.clone());
                }
            }
            let mut builder = self
                .http
                .request(method.clone(), url.clone())
                .headers(hop_headers);
            if let Some(b) = &body {
                builder = builder.body(b.clone());
            }
            let response = builder.send().await.map_err(network)?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| {
                        PayingError::Redirect(format!("{status} without a usable Location"))
                    })?;
                // 303, and 301/302 after a POST, turn into a GET without a body.
                if status == StatusCode::SEE_OTHER
                    || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                        && method == Method::POST)
                {
                    method = Method::GET;
                    body = None;
                }
                // The caller's own credentials stay with their origin too, as
                // reqwest's redirect policy (off here) would have ensured.
                if origin_of(&location) != origin_of(&url) {
                    for name in [
                        http::header::AUTHORIZATION,
                        http::header::COOKIE,
                        http::header::PROXY_AUTHORIZATION,
                        HeaderName::from_static("payment-authorization"),
                    ] {
                        headers.remove(name);
                    }
                }
                url = location;
                continue;
            }
            let response_headers = response.headers().clone();
            let response_body = read_body(response, self.options.max_body).await?;
            return Ok(Fetched {
                status,
                headers: response_headers,
                body: response_body,
                url,
                method,
                request_body: body,
            });
        }
        Err(PayingError::Redirect(format!(
            "more than {} redirects",
            self.options.max_redirects
        )))
    }
}

struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    url: Url,
    /// The method and body sent to `url` (after redirects).
    method: Method,
    request_body: Option<Bytes>,
}

impl Fetched {
    fn into_paid(self, payments: Vec<PaymentMade>) -> PaidResponse {
        let receipt = if self.status.is_success() {
            self.headers
                .get("payment-receipt")
                .and_then(|v| Receipt::parse(v.as_bytes()).ok())
        } else {
            None
        };
        PaidResponse {
            status: self.status,
            headers: self.headers,
            body: self.body,
            url: self.url,
            receipt,
            payments,
        }
    }
}

async fn read_body(mut response: reqwest::Response, max: usize) -> Result<Bytes, PayingError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        if body.len() + chunk.len() > max {
            return Err(PayingError::Network(format!(
                "the response body exceeds {max} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// The origin of a URL, with the scheme's default port made explicit.
pub fn origin_of(url: &Url) -> Origin {
    Origin::new(
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0),
    )
}

/// A network failure, with the causes reqwest keeps behind its one-line message.
fn network(e: reqwest::Error) -> PayingError {
    PayingError::Network(network_text(&e))
}

/// reqwest's message with its causes ("error sending request" says nothing of a
/// timeout or a refused connection).
pub(crate) fn network_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How long a `500` or `503` answer to a paid request asks to wait before the same
/// credential is sent again: its `Retry-After` in seconds, when at most
/// [`MAX_RETRY_AFTER`]. The server says so only when a retry can succeed.
fn retry_after(response: &Fetched) -> Option<Duration> {
    if !matches!(
        response.status,
        StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return None;
    }
    let secs: u64 = response
        .headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs)).filter(|delay| *delay <= MAX_RETRY_AFTER)
}

/// The error for a 4xx or 5xx answer to a paid request: a 5xx leaves the outcome
/// unknown; a 4xx is a rejection, with the server's problem details.
fn refused_after_paying(response: Fetched, payments: Vec<PaymentMade>) -> PayingError {
    let status = response.status;
    let origin = origin_of(&response.url);
    if status.is_server_error() {
        tracing::warn!(target: "mpp::client", origin = %origin, status = status.as_u16(), "unknown outcome after paying");
        return PayingError::UnknownOutcome {
            status: Some(status),
            detail: format!("the server failed ({status})"),
            payments,
        };
    }
    let problem = Problem::parse(&response.body).ok().map(Box::new);
    tracing::info!(target: "mpp::client", origin = %origin, status = status.as_u16(), "payment rejected");
    PayingError::Rejected {
        status,
        problem,
        payments,
    }
}

/// Why a session method's payment was refused, when a new payment can mend it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionTrouble {
    /// The session cannot pay for the request: a top-up can.
    Spent,
    /// The server closed the session or does not know it: a new session can.
    Gone,
}

impl SessionTrouble {
    /// Reads the problem type of a 402 body: the session intent's
    /// (`…/session/insufficient-value`, `…/session/closed`, `…/session/not-found`)
    /// or a method's counterpart (`…/lightning/insufficient-balance`,
    /// `…/lightning/session-closed`, `…/lightning/session-not-found`).
    fn of(body: &[u8]) -> Option<(SessionTrouble, Problem)> {
        let problem = Problem::parse(body).ok()?;
        let trouble = match problem.type_uri.rsplit('/').next()? {
            "insufficient-value" | "insufficient-balance" => SessionTrouble::Spent,
            "closed" | "not-found" | "session-closed" | "session-not-found" => SessionTrouble::Gone,
            _ => return None,
        };
        Some((trouble, problem))
    }
}
