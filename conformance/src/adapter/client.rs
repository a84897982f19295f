//! The adapter's client-flow operation, `http.payment_request`: one HTTP request
//! sent by this implementation's client, which handles the server's 402 itself, and
//! the final response.
//!
//! | mode | what the client does |
//! |---|---|
//! | `plain` | sends the request, pays nothing |
//! | `payment` | `mpp_client::PayingClient`, whose wallet answers the challenge it chooses with the given payload and source |
//! | `invalid_payload` | answers the first Payment challenge with the payload `{}` (no method accepts an empty proof) and no source |
//! | `mismatched_request` | answers it with the given payload, the echoed `request`'s `amount` one more (`"1"` when it has no decimal amount) |
//! | `invalid_challenge_id` | answers it with the given payload, the echoed `id`'s last character changed |
//!
//! `PayingClient` echoes challenges faithfully, so the corrupting modes build the
//! credential with mpp-core and send it with reqwest. In `payment` mode the wallet
//! must name the method and cap the currency before it sees a challenge: a first
//! request, sent plain, reads them from the 402's first Payment challenge, then
//! `PayingClient` sends the request afresh and pays. When the server refuses the
//! payment, `PayingClient` keeps only its status and problem details: `headers` then
//! holds just `content-type`.
//!
//! No redirect is followed with a credential to another origin (`PayingClient`
//! follows same-origin ones; the corrupting modes follow none, and a redirect in
//! answer to a credential is an `http_error`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mpp_client::{PaidRequest, PayingClient, PayingError};
use mpp_core::challenge::Challenge;
use mpp_core::client::{Choice, PayError, PayMethod, Payment, SpendingPolicy, Wallet};
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::json::JsonObject;
use mpp_core::method::BoxFuture;
use mpp_core::value::{Base64Json, ChallengeId};
use reqwest::Url;
use serde_json::{Value, json};

use super::{Failure, OpResult, member_failure, object, optional, string};

const KIND: &str = "invalid_request";
const HTTP: &str = "http_error";

/// The longest each round trip may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body read.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// How the client answers the 402.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Payment,
    InvalidPayload,
    MismatchedRequest,
    InvalidChallengeId,
}

/// What the client sends, and what it answers a challenge with.
struct Job {
    request: PaidRequest,
    payment: Payment,
    mode: Mode,
}

fn read_job(input: &Value) -> Result<Job, Failure> {
    let url = string(input, "url", KIND)?;
    let url = Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| Failure::new(KIND, "`url` must be an http or https URL").in_field("url"))?;
    let method = optional(input, "method", KIND)?.unwrap_or("GET");
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| Failure::new(KIND, "`method` must be an HTTP method").in_field("method"))?;
    let mut request = PaidRequest::new(method, url);
    if let Some(headers) = input.get("headers").filter(|h| !h.is_null()) {
        let headers = headers
            .as_object()
            .ok_or_else(|| member_failure(input, "headers", KIND, "a JSON object"))?;
        for (name, value) in headers {
            let field = format!("headers.{name}");
            let name = HeaderName::try_from(name.as_str())
                .map_err(|_| Failure::new(KIND, "not a header field name").in_field(&*field))?;
            let value = value
                .as_str()
                .and_then(|v| HeaderValue::try_from(v).ok())
                .ok_or_else(|| {
                    Failure::new(KIND, "not a header field value (a string)").in_field(&*field)
                })?;
            request = request.header(name, value);
        }
    }
    if let Some(body) = optional(input, "body", KIND)? {
        request = request.body(Bytes::from(body.to_owned()));
    }
    let mode = match string(input, "mode", KIND)? {
        "plain" => Mode::Plain,
        "payment" => Mode::Payment,
        "invalid_payload" => Mode::InvalidPayload,
        "mismatched_request" => Mode::MismatchedRequest,
        "invalid_challenge_id" => Mode::InvalidChallengeId,
        _ => {
            return Err(Failure::new(
                KIND,
                "`mode` must be payment, plain, invalid_payload, mismatched_request or \
                 invalid_challenge_id",
            )
            .in_field("mode"));
        }
    };
    let payment = match input.get("payment") {
        None | Some(Value::Null) if mode == Mode::Plain => Payment {
            payload: JsonObject::new(),
            source: None,
        },
        _ => {
            let payment = input
                .get("payment")
                .ok_or_else(|| member_failure(input, "payment", KIND, "a JSON object"))?;
            Payment {
                payload: object(payment, "payload", KIND)
                    .map_err(|f| f.in_field("payment.payload"))?
                    .clone(),
                source: optional(payment, "source", KIND)
                    .map_err(|f| f.in_field("payment.source"))?
                    .map(str::to_owned),
            }
        }
    };
    Ok(Job {
        request,
        payment,
        mode,
    })
}

/// `http.payment_request`. The adapter answers synchronously, maybe inside another
/// runtime: the request runs on its own thread, with its own runtime.
pub(super) fn payment_request(input: &Value) -> OpResult {
    let job = read_job(input)?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Failure::new(HTTP, format!("cannot start a runtime: {e}")))?;
                runtime.block_on(run(job))
            })
            .join()
            .unwrap_or_else(|_| Err(Failure::new(HTTP, "the request's thread failed")))
    })
}

async fn run(job: Job) -> OpResult {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| Failure::new(HTTP, format!("cannot build the HTTP client: {e}")))?;
    let first = send(&http, &job.request, None).await?;
    if job.mode == Mode::Plain || first.status != 402 {
        return Ok(first.to_json());
    }
    let challenge = first
        .headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .flat_map(|line| {
            Challenge::parse_all(line.as_bytes())
                .filter_map(Result::ok)
                .map(Challenge::into_owned)
                .collect::<Vec<_>>()
        })
        .next()
        .ok_or_else(|| Failure::new(HTTP, "a 402 without a valid Payment challenge"))?;
    if job.mode == Mode::Payment {
        return pay(&job, &challenge).await;
    }
    let credential = corrupt(job.mode, &challenge, job.payment);
    let field = match challenge.credential_field {
        CredentialField::Authorization => "authorization",
        CredentialField::PaymentAuthorization => "payment-authorization",
    };
    let answer = send(&http, &job.request, Some((field, credential.to_header()))).await?;
    if (300..400).contains(&answer.status) && answer.status != 304 {
        return Err(Failure::new(
            HTTP,
            format!(
                "the server answered the credential with a redirect ({}): not followed, \
                 the credential goes nowhere else",
                answer.status
            ),
        ));
    }
    Ok(answer.to_json())
}

/// The credential a corrupting mode sends for `challenge`.
fn corrupt(mode: Mode, challenge: &Challenge<'static>, payment: Payment) -> Credential {
    if mode == Mode::InvalidPayload {
        return Credential::answer(challenge, JsonObject::new(), None);
    }
    let mut credential = Credential::answer(challenge, payment.payload, payment.source);
    match mode {
        Mode::MismatchedRequest => {
            let mut request = credential.challenge.request.decode().unwrap_or_default();
            let amount = request
                .get("amount")
                .and_then(Value::as_str)
                .and_then(|a| a.parse::<u128>().ok())
                .map_or_else(|| "1".to_owned(), |a| a.wrapping_add(1).to_string());
            request.insert("amount".into(), amount.into());
            credential.challenge.request = Base64Json::encode(&request);
        }
        Mode::InvalidChallengeId => {
            let mut changed: String = credential.challenge.id.as_str().to_owned();
            let last = if changed.pop() == Some('A') { 'B' } else { 'A' };
            changed.push(last);
            if let Ok(changed) = ChallengeId::from_string(changed) {
                credential.challenge.id = changed;
            }
        }
        _ => {}
    }
    credential
}

/// A method answering every challenge with the same, given payment.
struct Given {
    name: String,
    payment: Payment,
}

impl PayMethod for Given {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports_intent(&self, _: &str) -> bool {
        true
    }

    fn pay<'a>(&'a self, _: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(std::future::ready(Ok(self.payment.clone())))
    }
}

/// `payment` mode: `PayingClient`, its wallet taking `challenge`'s method and
/// currency (no caps beyond them: what is paid is the given payload).
async fn pay(job: &Job, challenge: &Challenge<'static>) -> OpResult {
    let currency = challenge
        .request
        .decode()
        .ok()
        .and_then(|r| r.get("currency").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let policy = SpendingPolicy {
        max_per_request: vec![(currency, u128::MAX)],
        allow_insecure: true,
        max_validity_secs: Some(u64::MAX),
        ..SpendingPolicy::default()
    };
    let method = Given {
        name: challenge.method.as_str().to_owned(),
        payment: job.payment.clone(),
    };
    let wallet = Wallet::new(policy).with_method(Arc::new(method), 1000);
    let options = mpp_client::ClientOptions {
        timeout: TIMEOUT,
        max_body: MAX_BODY,
        ..mpp_client::ClientOptions::default()
    };
    let client = PayingClient::with_options(wallet, options)
        .map_err(|e| Failure::new(HTTP, e.to_string()))?;
    match client.send(job.request.clone()).await {
        Ok(response) => Ok(Response {
            status: response.status.as_u16(),
            headers: response.headers,
            body: response.body,
        }
        .to_json()),
        Err(PayingError::Rejected {
            status, problem, ..
        }) => {
            let mut headers = HeaderMap::new();
            let body = match problem {
                Some(problem) => {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/problem+json"),
                    );
                    Bytes::from(problem.to_json())
                }
                None => Bytes::new(),
            };
            Ok(Response {
                status: status.as_u16(),
                headers,
                body,
            }
            .to_json())
        }
        Err(e) => Err(Failure::new(HTTP, e.to_string())),
    }
}

/// A response, read whole.
struct Response {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    /// `{status, headers, body}`: header names in lower case, repeated fields joined
    /// with `, `, the body as UTF-8 text (invalid sequences replaced).
    fn to_json(&self) -> Value {
        let mut headers = JsonObject::new();
        for name in self.headers.keys() {
            let values: Vec<String> = self
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            headers.insert(name.as_str().into(), values.join(", ").into());
        }
        json!({
            "status": self.status,
            "headers": headers,
            "body": String::from_utf8_lossy(&self.body),
        })
    }
}

/// Sends `request`, with a credential in `field` when given, following no redirect.
async fn send(
    http: &reqwest::Client,
    request: &PaidRequest,
    credential: Option<(&str, String)>,
) -> Result<Response, Failure> {
    let failed = |e: reqwest::Error| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Failure::new(HTTP, text)
    };
    let mut builder = http
        .request(request.method.clone(), request.url.clone())
        .headers(request.headers.clone());
    if let Some((field, value)) = credential {
        let mut value = HeaderValue::try_from(value)
            .map_err(|e| Failure::new(HTTP, format!("the credential header: {e}")))?;
        value.set_sensitive(true);
        builder = builder.header(field, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let mut response = builder.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Failure::new(
                HTTP,
                format!("the response body exceeds {MAX_BODY} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body: body.into(),
    })
}
