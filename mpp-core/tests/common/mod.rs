//! Shared test inputs.
#![allow(dead_code, unreachable_pub)]

use mpp_core::base64;

/// `{"amount":"1000","currency":"usd","recipient":"acct_123"}`, base64url.
pub fn request_b64() -> String {
    base64::encode(br#"{"amount":"1000","currency":"usd","recipient":"acct_123"}"#)
}

/// A valid challenge's parameters, without the scheme.
pub fn params() -> String {
    format!(
        r#"id="x7Tg2pLqR9mKvNwY3hBcZa", realm="api.example.com", method="tempo", intent="charge", request="{}""#,
        request_b64()
    )
}

/// A valid challenge with one extra parameter text appended.
pub fn challenge_with(extra: &str) -> String {
    format!("Payment {}{extra}", params())
}

/// A valid challenge.
pub fn challenge() -> String {
    challenge_with("")
}

/// A typical full challenge of 424 bytes, as a server of this project
/// emits it (the benchmark input).
pub fn typical_challenge() -> String {
    let request = base64::encode(
        br#"{"amount":"1000","currency":"0x20c0000000000000000000000000000000000001","methodDetails":{"chainId":4217},"recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00"}"#,
    );
    format!(
        r#"Payment id="qB3wErT5yU7iO9pA1sD3fG5hJ7kL9zX1cV3bN5mQ7wE", realm="api.example.com", method="tempo", intent="charge", request="{request}", expires="2026-01-29T12:05:00Z", description="Premium search API, one request.""#
    )
}
