//! Stripe's REST API as the two halves use it: form-encoded POSTs with the secret
//! key as a Bearer token, optional `Idempotency-Key`, `Stripe-Version` and
//! `Stripe-Account` headers, JSON answers, and Stripe's error objects read into
//! [`StripeError`] without ever echoing the key.

use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use mpp_core::json::Value;

use super::key::StripeSecretKey;

/// Where Stripe's API is, unless configured otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// The `Stripe-Version` sent unless configured otherwise: a preview version, which
/// Shared Payment Tokens need while they are in preview (the one mppx 0.11 sends).
pub const DEFAULT_STRIPE_VERSION: &str = "2026-07-29.preview";

/// How long one request may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of an answer read: a PaymentIntent is a few KiB.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The most of Stripe's own message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// An error object Stripe answered with.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status (400, 401, 402, 404, 409, 429, 5xx).
    pub status: u16,
    /// `type`: `card_error`, `invalid_request_error`, `idempotency_error`,
    /// `api_error`, …
    pub kind: String,
    /// `code`, when given (`card_declined`, `resource_missing`, `rate_limit`, …).
    pub code: Option<String>,
    /// `decline_code`, for a declined card.
    pub decline_code: Option<String>,
    /// Stripe's message (cut short; left out for an authentication failure, whose
    /// message shows part of the key).
    pub message: String,
    /// `param`: the parameter at fault, when given.
    pub param: Option<String>,
    /// `payment_intent`: the PaymentIntent the failure left, when given.
    pub payment_intent: Option<Value>,
}

/// Why a Stripe request gave no usable result. Messages never contain the key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StripeError {
    /// Stripe answered with an error object.
    Api(Box<ApiError>),
    /// No usable answer: Stripe could not be reached, timed out, or answered
    /// something that is not Stripe's JSON. Whether the request took effect is
    /// unknown.
    Unavailable(String),
    /// The configuration is unusable (an API base that is not an http(s) URL).
    Config(String),
}

impl StripeError {
    /// Whether asking again, with the same idempotency key, may succeed: no answer,
    /// a rate limit (429), a key still in use (409) or a failure on Stripe's side
    /// (5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            StripeError::Unavailable(_) => true,
            StripeError::Api(e) => matches!(e.status, 409 | 429) || e.status >= 500,
            StripeError::Config(_) => false,
        }
    }
}

impl core::fmt::Display for StripeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StripeError::Api(e) => {
                write!(f, "Stripe answered {} {}", e.status, e.kind)?;
                if let Some(code) = &e.code {
                    write!(f, " ({code}")?;
                    if let Some(decline) = &e.decline_code {
                        write!(f, ", {decline}")?;
                    }
                    f.write_str(")")?;
                }
                if !e.message.is_empty() {
                    write!(f, ": {}", e.message)?;
                }
                Ok(())
            }
            StripeError::Unavailable(m) => write!(f, "Stripe is unavailable: {m}"),
            StripeError::Config(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StripeError {}

/// A JSON answer. Whether Stripe replayed it for an idempotency key already used
/// (`Idempotent-Replayed: true`) does not matter to the halves: a replay is the
/// stored answer of the same request, so it means what the first answer meant.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) body: Value,
}

/// A connection to Stripe's API with one account's secret key: where the API is,
/// which `Stripe-Version` to send, and how long to wait. Both halves take one.
#[derive(Clone)]
pub struct StripeApi {
    client: reqwest::Client,
    base: reqwest::Url,
    key: StripeSecretKey,
    version: String,
}

impl core::fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StripeApi")
            .field("host", &self.base.host_str())
            .field("version", &self.version)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl StripeApi {
    /// Stripe's API at [`DEFAULT_API_BASE`] with `key`, sending
    /// [`DEFAULT_STRIPE_VERSION`] and waiting [`DEFAULT_TIMEOUT`] at most.
    pub fn new(key: StripeSecretKey) -> Result<StripeApi, StripeError> {
        StripeApi::with_base(key, DEFAULT_API_BASE, DEFAULT_TIMEOUT)
    }

    /// The API at `base` (`http://127.0.0.1:PORT` for a stand-in), waiting at most
    /// `timeout` for each answer.
    pub fn with_base(
        key: StripeSecretKey,
        base: &str,
        timeout: Duration,
    ) -> Result<StripeApi, StripeError> {
        let base = reqwest::Url::parse(base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                StripeError::Config("the Stripe API base is not an http(s) URL".into())
            })?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StripeError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(StripeApi {
            client,
            base,
            key,
            version: DEFAULT_STRIPE_VERSION.into(),
        })
    }

    /// Sends `version` as `Stripe-Version` instead of [`DEFAULT_STRIPE_VERSION`].
    pub fn stripe_version(mut self, version: impl Into<String>) -> StripeApi {
        self.version = version.into();
        self
    }

    /// Whether the key is a test-mode key.
    pub fn is_test_mode(&self) -> bool {
        self.key.is_test_mode()
    }

    /// POSTs `params`, form-encoded, to `path` (`/v1/…`).
    pub(crate) async fn post(
        &self,
        path: &str,
        params: &[(String, String)],
        idempotency_key: Option<&str>,
        account: Option<&str>,
    ) -> Result<Answer, StripeError> {
        let url = self
            .base
            .join(path)
            .map_err(|_| StripeError::Config(format!("cannot join {path} to the API base")))?;
        let mut request = self
            .client
            .post(url)
            .bearer_auth(self.key.expose())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("stripe-version", &self.version)
            .body(encode_form(params));
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        if let Some(account) = account {
            request = request.header("stripe-account", account);
        }
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(StripeError::Unavailable(format!(
                    "an answer of more than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return match body {
                Some(body @ Value::Object(_)) => Ok(Answer { body }),
                _ => Err(StripeError::Unavailable(format!(
                    "HTTP {status} without a JSON object"
                ))),
            };
        }
        Err(read_error(status, body.as_ref()))
    }
}

/// What went wrong with an HTTP exchange, without the URL or headers.
fn describe(e: &reqwest::Error) -> StripeError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the HTTP exchange failed"
    };
    StripeError::Unavailable(kind.to_string())
}

/// Reads Stripe's `{"error": {…}}` object for a non-2xx `status`; an answer without
/// one (a proxy's page, say) is `Unavailable` for 5xx and 429, and an `Api` error
/// of unknown type otherwise.
fn read_error(status: u16, body: Option<&Value>) -> StripeError {
    let Some(error) = body.and_then(|b| b.get("error")).and_then(Value::as_object) else {
        if status >= 500 || status == 429 {
            return StripeError::Unavailable(format!("HTTP {status} without an error object"));
        }
        return StripeError::Api(Box::new(ApiError {
            status,
            kind: "unknown".into(),
            code: None,
            decline_code: None,
            message: format!("HTTP {status} without an error object"),
            param: None,
            payment_intent: None,
        }));
    };
    let text = |name: &str| {
        error
            .get(name)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_MESSAGE_CHARS).collect::<String>())
    };
    // Stripe's message for a bad key repeats part of it.
    let message = if matches!(status, 401 | 403) {
        String::from("the API key was refused")
    } else {
        text("message").unwrap_or_default()
    };
    StripeError::Api(Box::new(ApiError {
        status,
        kind: text("type").unwrap_or_else(|| "unknown".into()),
        code: text("code"),
        decline_code: text("decline_code"),
        message,
        param: text("param"),
        payment_intent: error.get("payment_intent").cloned(),
    }))
}

/// `application/x-www-form-urlencoded`, as Stripe reads it: nested keys are written
/// `a[b]`, and everything but letters, digits and `-._*` is percent-encoded.
pub(crate) fn encode_form(params: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape_into(&mut out, name);
        out.push('=');
        escape_into(&mut out, value);
    }
    out
}

fn escape_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_escape_nested_keys_and_reserved_characters() {
        let params = [
            ("metadata[order id]".to_string(), "a&b=c/é".to_string()),
            ("amount".to_string(), "500".to_string()),
        ];
        assert_eq!(
            encode_form(&params),
            "metadata%5Border+id%5D=a%26b%3Dc%2F%C3%A9&amount=500"
        );
    }

    #[test]
    fn error_objects_are_read_and_a_bad_keys_message_is_dropped() {
        let declined = read_error(
            402,
            Some(
                &json!({"error": {"type": "card_error", "code": "card_declined",
                "decline_code": "generic_decline", "message": "Your card was declined."}}),
            ),
        );
        let StripeError::Api(e) = &declined else {
            panic!("{declined:?}")
        };
        assert_eq!(
            (
                e.kind.as_str(),
                e.code.as_deref(),
                e.decline_code.as_deref()
            ),
            ("card_error", Some("card_declined"), Some("generic_decline"))
        );
        assert!(!declined.is_transient());
        let bad_key = read_error(
            401,
            Some(&json!({"error": {"type": "invalid_request_error",
                "message": "Invalid API Key provided: sk_test_****WXYZ"}})),
        );
        assert!(!bad_key.to_string().contains("WXYZ"), "{bad_key}");
        assert!(read_error(502, None).is_transient());
        assert!(
            read_error(
                429,
                Some(&json!({"error": {"type": "invalid_request_error", "code": "rate_limit"}}))
            )
            .is_transient()
        );
        assert!(!read_error(404, None).is_transient());
    }

    #[test]
    fn bases_other_than_http_are_refused() {
        let key = StripeSecretKey::new("sk_test_abc").unwrap();
        assert!(StripeApi::with_base(key.clone(), "ftp://x", DEFAULT_TIMEOUT).is_err());
        assert!(StripeApi::with_base(key.clone(), "not a url", DEFAULT_TIMEOUT).is_err());
        let api = StripeApi::with_base(key, "http://127.0.0.1:1", DEFAULT_TIMEOUT).unwrap();
        assert!(!format!("{api:?}").contains("sk_test_abc"));
    }
}
