//! What cases share: the target, an HTTP client with limits, and ways to get fresh
//! challenges and to answer them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use mpp_core::challenge::Challenge;
use mpp_core::client::{Choice, PayMethod, Payment};
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::json::JsonObject;
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::receipt::Receipt;
use mpp_methods::stripe::{StripeApi, StripePayer, StripeSecretKey};
use mpp_methods::tempo::{HttpRpc, PrivateKey, TempoPayer, node_chain_id};
use reqwest::Url;
use tokio::sync::OnceCell;

/// How the suite pays, when it may.
#[derive(Clone)]
pub enum Payer {
    /// The `preimage` test method, with this preimage.
    Preimage(String),
    /// `tempo/charge`, paid on a Tempo chain from a local key (pull mode where the
    /// terms offer it: the server broadcasts).
    Tempo(Arc<TempoPayer>),
    /// `stripe/charge`, paid by card through a Shared Payment Token minted from a
    /// payment method of the Stripe account whose secret key the payer holds.
    Stripe(Arc<StripePayer>),
}

impl std::fmt::Debug for Payer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Payer::Preimage(_) => f.write_str("Payer::Preimage(<redacted>)"),
            // TempoPayer shows the account, never the key.
            Payer::Tempo(payer) => write!(f, "Payer::Tempo({payer:?})"),
            // StripePayer shows the key's mode, never the key.
            Payer::Stripe(payer) => write!(f, "Payer::Stripe({payer:?})"),
        }
    }
}

impl Payer {
    /// Parses `preimage=SECRET`.
    pub fn parse(text: &str) -> Result<Payer, String> {
        match text.split_once('=') {
            Some(("preimage", secret)) if !secret.is_empty() => Ok(Payer::Preimage(secret.into())),
            _ => Err(format!(
                "--pay {text:?}: expected preimage=SECRET (or tempo=KEYFILE with --rpc, or \
                 stripe=KEYFILE:pm_…)"
            )),
        }
    }

    /// Pays `tempo/charge` from `key` through the node at `rpc_url`, on the chain the
    /// node serves, in the predeployed stablecoins, to any recipient.
    pub async fn tempo(key: PrivateKey, rpc_url: &str) -> Result<Payer, String> {
        let rpc = HttpRpc::new(rpc_url).map_err(|e| format!("--rpc {rpc_url}: {e}"))?;
        let chain_id = node_chain_id(&rpc)
            .await
            .map_err(|e| format!("--rpc {rpc_url}: {e}"))?;
        let payer = TempoPayer::new(key, Arc::new(rpc), chain_id)
            .tokens(mpp_methods::tempo::Token::predeployed());
        Ok(Payer::Tempo(Arc::new(payer)))
    }

    /// Pays `stripe/charge` by card from `payment_method` (`pm_…`) of the account of
    /// `key`, minting tokens through the API at `api_base` (Stripe's is
    /// [`mpp_methods::stripe::DEFAULT_API_BASE`]), waiting at most `timeout` for each
    /// answer. Nothing is asked of Stripe until a case pays.
    pub fn stripe(
        key: StripeSecretKey,
        payment_method: &str,
        api_base: &str,
        timeout: Duration,
    ) -> Result<Payer, String> {
        let api = StripeApi::with_base(key, api_base, timeout)
            .map_err(|e| format!("--stripe-api {api_base}: {e}"))?;
        let payer = StripePayer::new(api, payment_method)
            .map_err(|e| format!("the payment method {payment_method:?}: {e}"))?;
        Ok(Payer::Stripe(Arc::new(payer)))
    }

    fn method(&self) -> &'static str {
        match self {
            Payer::Preimage(_) => "preimage",
            Payer::Tempo(_) => mpp_methods::tempo::NAME,
            Payer::Stripe(_) => mpp_methods::stripe::NAME,
        }
    }

    /// A valid payment for `challenge`, sent from `origin`.
    async fn pay(
        &self,
        challenge: &Challenge<'static>,
        origin: mpp_core::client::Origin,
    ) -> Result<Payment, String> {
        let payer: &dyn PayMethod = match self {
            Payer::Preimage(secret) => {
                let mut payload = JsonObject::new();
                payload.insert("preimage".into(), secret.as_str().into());
                return Ok(Payment {
                    payload,
                    source: None,
                });
            }
            Payer::Tempo(payer) => payer.as_ref(),
            Payer::Stripe(payer) => payer.as_ref(),
        };
        let request = challenge
            .request
            .decode()
            .map_err(|e| format!("the challenge's request: {e}"))?;
        pay_with(payer, challenge, request, origin).await
    }

    /// A Stripe payload of the right shape that pays nothing for `challenge`: a
    /// real token, minted from the same payment method until the challenge
    /// expires, but limited to another currency than the challenge's, which Stripe
    /// refuses for its PaymentIntent. (Tokens are not bound to a challenge, so one
    /// minted for another challenge of the same price would pay this one.)
    async fn stripe_wrong_payload(
        payer: &StripePayer,
        challenge: &Challenge<'static>,
        origin: mpp_core::client::Origin,
    ) -> Result<JsonObject, String> {
        let mut request = challenge
            .request
            .decode()
            .map_err(|e| format!("the challenge's request: {e}"))?;
        let other = match request.get("currency").and_then(serde_json::Value::as_str) {
            Some("eur") => "usd",
            _ => "eur",
        };
        request.insert("currency".into(), other.into());
        Ok(pay_with(payer, challenge, request, origin).await?.payload)
    }
}

/// Pays `challenge` on the terms `request` (its decoded request, or terms made
/// from it) with `payer`, reserving their `amount`.
async fn pay_with(
    payer: &dyn PayMethod,
    challenge: &Challenge<'static>,
    request: JsonObject,
    origin: mpp_core::client::Origin,
) -> Result<Payment, String> {
    let amount = request
        .get("amount")
        .and_then(serde_json::Value::as_str)
        .and_then(|a| a.parse::<u128>().ok())
        .ok_or("the challenge's request has no decimal `amount`")?;
    let currency = request
        .get("currency")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let choice = Choice {
        challenge: challenge.clone(),
        request,
        amount,
        currency,
        method: 0,
        origin,
        cost: amount,
    };
    payer
        .pay(&choice)
        .await
        .map_err(|e| format!("the {} payer could not pay: {e}", payer.name()))
}

/// The suite's settings.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The longest one request may take.
    pub timeout: Duration,
    /// Header fields added to every request (e.g. a Bearer token).
    pub headers: Vec<(String, String)>,
    /// How to pay, when the suite may.
    pub payer: Option<Payer>,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        SuiteOptions {
            timeout: Duration::from_secs(10),
            headers: Vec::new(),
            payer: None,
        }
    }
}

impl SuiteOptions {
    /// The longest one case may take: it sends a few requests.
    pub fn case_timeout(&self) -> Duration {
        self.timeout * 8
    }
}

/// The largest response body the suite reads.
const MAX_BODY: usize = 1024 * 1024;

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The status.
    pub status: u16,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Exchange {
    /// Every Payment challenge of every `WWW-Authenticate` line, parsed.
    pub fn challenges(&self) -> Vec<Result<Challenge<'static>, mpp_core::ParseError>> {
        self.headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .flat_map(|v| {
                Challenge::parse_all(v.as_bytes())
                    .map(|r| r.map(Challenge::into_owned))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The valid Payment challenges.
    pub fn valid_challenges(&self) -> Vec<Challenge<'static>> {
        self.challenges()
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }

    /// The problem details of the body, when it has them.
    pub fn problem(&self) -> Option<Problem> {
        Problem::parse(&self.body).ok()
    }

    /// The Payment problem type of the body.
    pub fn problem_type(&self) -> Option<ProblemType> {
        self.problem().and_then(|p| p.problem_type())
    }

    /// The first value of a header field, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The receipt, when the response carries a valid one.
    pub fn receipt(&self) -> Option<Receipt> {
        self.headers
            .get("payment-receipt")
            .and_then(|v| Receipt::parse(v.as_bytes()).ok())
    }

    /// A one-line description for "actual" texts.
    pub fn describe(&self) -> String {
        let mut text = format!("{}", self.status);
        if self.status >= 400 {
            if let Some(p) = self.problem() {
                text.push_str(&format!(" {}", p.type_uri));
            }
        }
        let challenges = self.challenges();
        if !challenges.is_empty() {
            let valid = challenges.iter().filter(|c| c.is_ok()).count();
            text.push_str(&format!(", {valid} valid challenge(s)"));
            if valid != challenges.len() {
                text.push_str(&format!(" of {}", challenges.len()));
            }
        }
        if let Some(cc) = self.header("cache-control") {
            text.push_str(&format!(", Cache-Control: {cc}"));
        }
        if self.headers.contains_key("payment-receipt") {
            text.push_str(", with a Payment-Receipt");
        }
        text
    }
}

/// Everything a case needs.
#[derive(Debug)]
pub struct Ctx {
    client: reqwest::Client,
    target: Url,
    options: SuiteOptions,
    post_target: OnceCell<Option<Url>>,
    /// Every 402 of the run that came without a valid Payment challenge.
    bare_402s: std::sync::Mutex<Vec<String>>,
}

impl Ctx {
    /// A context for the paid resource at `target`.
    pub fn new(target: Url, options: SuiteOptions) -> Result<Ctx, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Ctx {
            client,
            target,
            options,
            post_target: OnceCell::new(),
            bare_402s: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The paid resource under test.
    pub fn target(&self) -> &Url {
        &self.target
    }

    /// The settings.
    pub fn options(&self) -> &SuiteOptions {
        &self.options
    }

    /// How the suite pays, if it may.
    pub fn payer(&self) -> Option<&Payer> {
        self.options.payer.as_ref()
    }

    /// Sends a request (with the configured extra header fields) and reads the
    /// response whole, within the limits.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<Exchange, String> {
        let mut request = self.client.request(method, url.clone());
        for (name, value) in &self.options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut response = request.send().await.map_err(|e| describe_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe_error(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("the response body exceeds {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let exchange = Exchange {
            status,
            headers,
            body: body.into(),
        };
        if status == 402 && exchange.valid_challenges().is_empty() {
            if let Ok(mut seen) = self.bare_402s.lock() {
                seen.push(format!(
                    "{} {url}: {}",
                    exchange.status,
                    exchange.describe()
                ));
            }
        }
        Ok(exchange)
    }

    /// The 402s of this run that came without a valid Payment challenge.
    pub fn bare_402s(&self) -> Vec<String> {
        self.bare_402s.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// `GET` the target with these header fields.
    pub async fn get(&self, headers: &[(&str, &str)]) -> Result<Exchange, String> {
        self.send(Method::GET, &self.target, headers, None).await
    }

    /// A fresh challenge for the target: the first one the suite can pay, else the
    /// first valid one.
    pub async fn fresh_challenge(&self) -> Result<Challenge<'static>, String> {
        self.fresh_challenge_at(Method::GET, &self.target.clone(), None)
            .await
    }

    /// A fresh challenge for `method url` with this body.
    pub async fn fresh_challenge_at(
        &self,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
    ) -> Result<Challenge<'static>, String> {
        let exchange = self.send(method, url, &[], body).await?;
        if exchange.status != 402 {
            return Err(format!("expected a 402, got {}", exchange.describe()));
        }
        let challenges = exchange.valid_challenges();
        let payable = self
            .payer()
            .and_then(|p| challenges.iter().find(|c| c.method == p.method()));
        payable
            .or_else(|| challenges.first())
            .cloned()
            .ok_or_else(|| format!("a 402 without a valid challenge: {}", exchange.describe()))
    }

    /// Whether the suite can pay `challenge`.
    pub fn can_pay(&self, challenge: &Challenge<'_>) -> bool {
        self.payer().is_some_and(|p| challenge.method == p.method())
    }

    /// The credential answering `challenge` (its echo unchanged): a valid payment
    /// when the suite can pay it (a Tempo payment is signed for this challenge, and
    /// pushed to the chain only in push mode), else an empty payload (which no
    /// method accepts). An error when the payer could not pay.
    pub async fn credential(&self, challenge: &Challenge<'static>) -> Result<Credential, String> {
        let payment = match self.payer() {
            Some(p) if self.can_pay(challenge) => {
                p.pay(challenge, mpp_client::origin_of(&self.target))
                    .await?
            }
            _ => Payment {
                payload: JsonObject::new(),
                source: None,
            },
        };
        Ok(Credential::answer(
            challenge,
            payment.payload,
            payment.source,
        ))
    }

    /// A payload of the right shape for the suite's method that proves nothing for
    /// any challenge but its own: the wrong preimage, a Tempo payment signed for
    /// another, fresh challenge (its memo names that one), or a Stripe token
    /// limited to another currency.
    pub async fn wrong_payload(&self) -> Result<JsonObject, String> {
        match self.payer() {
            None => Ok(JsonObject::new()),
            Some(Payer::Preimage(_)) => {
                let mut payload = JsonObject::new();
                payload.insert("preimage".into(), "not-the-preimage".into());
                Ok(payload)
            }
            Some(Payer::Tempo(_)) => {
                let other = self.fresh_challenge().await?;
                Ok(self.credential(&other).await?.payload)
            }
            Some(Payer::Stripe(payer)) => {
                let challenge = self.fresh_challenge().await?;
                Payer::stripe_wrong_payload(payer, &challenge, mpp_client::origin_of(&self.target))
                    .await
            }
        }
    }

    /// The header field name a credential for `challenge` goes in.
    pub fn field(challenge: &Challenge<'_>) -> &'static str {
        match challenge.credential_field {
            CredentialField::Authorization => "authorization",
            CredentialField::PaymentAuthorization => "payment-authorization",
        }
    }

    /// Sends `credential` (a header value) for `challenge`'s field to the target.
    pub async fn pay_with(
        &self,
        challenge: &Challenge<'_>,
        credential: &str,
    ) -> Result<Exchange, String> {
        self.get(&[(Ctx::field(challenge), credential)]).await
    }

    /// A paid POST route of the target's server, from its discovery document.
    pub async fn post_target(&self) -> Option<Url> {
        self.post_target
            .get_or_init(|| async {
                let url = self.target.join("/openapi.json").ok()?;
                let exchange = self.send(Method::GET, &url, &[], None).await.ok()?;
                let document: serde_json::Value = serde_json::from_slice(&exchange.body).ok()?;
                let paths = document.get("paths")?.as_object()?;
                paths.iter().find_map(|(path, item)| {
                    let operation = item.get("post")?;
                    operation.get("x-payment-info")?;
                    self.target.join(path).ok()
                })
            })
            .await
            .clone()
    }
}

/// A request error with its kind and every cause, for reports.
pub(crate) fn describe_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "unreadable body"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
