//! The payment flow of one JSON-RPC call, whatever carries the messages (this
//! crate's Streamable HTTP client, an rmcp peer): send; on a payment-required
//! answer let the wallet choose and pay once; resend with the credential; read
//! the receipt, and class what went wrong after paying.

use std::future::Future;

use mpp_core::ParseOptions;
use mpp_core::client::{Choice, Declined, Origin, Passed, Skipped, Wallet};
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{
    self, INTERNAL_ERROR, INVALID_PARAMS, JsonRpcError, PAYMENT_REQUIRED, PaidReceipt, Placement,
    VERIFICATION_FAILED,
};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{BadAnswer, McpError, McpPayment};
use crate::pay;
use crate::paying::PaymentKind;

/// Why one exchange brought no usable response.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing usable came back (a connection, TLS or timeout error, a 5xx): the
    /// request may or may not have arrived.
    Transport(String),
    /// The server answered with an HTTP status that carries no JSON-RPC message.
    Status { status: u16, detail: String },
    /// The server answered something that is not a usable JSON-RPC response.
    BadAnswer(BadAnswer),
}

/// One request/response exchange: `message` holds `method` and `params` (and a
/// root `_meta` when present); the carrier adds `jsonrpc` and a fresh `id`, and
/// hands back the response object, checked to hold `result` or `error`.
pub(crate) trait Exchange {
    fn exchange(&self, message: JsonObject) -> impl Future<Output = Result<JsonObject, Failure>>;
}

/// A response, with the payment made for it and its receipt.
#[derive(Debug)]
pub(crate) struct Exchanged {
    /// Holds `result`, or an `error` that is not a payment error.
    pub(crate) response: JsonObject,
    pub(crate) payment: Option<McpPayment>,
    pub(crate) receipt: Option<PaidReceipt>,
}

/// Where the wallet is, and what the challenges are checked against.
pub(crate) struct Payer<'a> {
    pub(crate) wallet: &'a Mutex<Wallet>,
    /// Where the server is, for the spending policy (TLS or loopback, allowed
    /// origins) and the log.
    pub(crate) origin: &'a Origin,
}

const PARSE: ParseOptions = ParseOptions::STRICT;

impl Payer<'_> {
    /// Sends `message`, paying at most once, with the credential in `placement`.
    pub(crate) async fn call<E: Exchange>(
        &self,
        carrier: &E,
        message: JsonObject,
        placement: Placement,
    ) -> Result<Exchanged, McpError> {
        let first = carrier
            .exchange(message.clone())
            .await
            .map_err(unpaid_failure)?;
        let required = jsonrpc::read_payment_required(&first, &PARSE)
            .map_err(|e| McpError::BadAnswer(BadAnswer::Payment(e)))?;
        let Some(required) = required else {
            return Ok(Exchanged {
                receipt: receipt_of(&first),
                response: first,
                payment: None,
            });
        };
        let choice = self.choose(&required).await?;
        tracing::info!(
            target: "mpp::client",
            origin = %self.origin,
            method = %choice.challenge.method,
            amount = choice.amount,
            cost = choice.cost,
            currency = %choice.currency,
            "paying"
        );
        let payment = pay::pay(self.wallet, &choice, false)
            .await
            .map_err(McpError::Method)?;
        let made = McpPayment::of(&choice);
        let credential = Credential::answer(&choice.challenge, payment.payload, payment.source);
        let mut paid = message;
        jsonrpc::attach_credential(&mut paid, &credential, placement).map_err(|e| {
            // Our own message cannot hold `_meta` (`params` is not an object): the
            // caller's fault, found after paying.
            McpError::UnknownOutcome {
                detail: format!("the credential cannot be attached: {e}"),
                payment: Box::new(made.clone()),
            }
        })?;
        drop(credential);
        self.send_paid(carrier, paid, made).await
    }

    /// The wallet's choice among the challenges; the malformed ones are listed
    /// among those passed over when nothing is chosen.
    async fn choose(&self, required: &jsonrpc::PaymentRequired) -> Result<Choice, McpError> {
        let mut lines = Vec::with_capacity(required.challenges.len());
        for challenge in &required.challenges {
            match challenge.to_header() {
                Ok(line) => lines.push(line),
                Err(e) => {
                    tracing::info!(target: "mpp::client", origin = %self.origin, "a challenge cannot be written as a header, passed over: {e}");
                }
            }
        }
        let origin = self.origin;
        pay::choose(self.wallet, origin, |wallet| {
            wallet.choose(&lines, origin, pay::now())
        })
        .await
        .map_err(|mut declined: Declined| {
            let malformed = required.skipped.iter().filter_map(|e| match e {
                JsonRpcError::InvalidChallenge { error, .. } => Some(Passed {
                    offer: "?".into(),
                    reason: Skipped::Malformed(*error),
                }),
                _ => None,
            });
            let mut passed: Vec<Passed> = malformed.collect();
            passed.append(&mut declined.passed);
            declined.passed = passed;
            McpError::Declined(declined)
        })
    }

    /// Sends the paid message; a transport failure sends the very same credential
    /// once more (it pays at most once, so this cannot pay twice), and then the
    /// outcome is unknown.
    async fn send_paid<E: Exchange>(
        &self,
        carrier: &E,
        paid: JsonObject,
        made: McpPayment,
    ) -> Result<Exchanged, McpError> {
        let mut resent = false;
        loop {
            let failure = match carrier.exchange(paid.clone()).await {
                Ok(response) => return self.after_paying(response, made, resent),
                Err(failure) => failure,
            };
            let detail = match failure {
                Failure::Transport(detail) if !resent => {
                    tracing::warn!(target: "mpp::client", origin = %self.origin, "no answer after paying ({detail}): sending the same credential once more");
                    resent = true;
                    continue;
                }
                Failure::Transport(detail) => detail,
                Failure::Status { status, detail } => {
                    format!("the server answered HTTP {status}: {detail}")
                }
                Failure::BadAnswer(bad) => bad.to_string(),
            };
            tracing::warn!(target: "mpp::client", origin = %self.origin, "unknown outcome after paying: {detail}");
            return Err(McpError::UnknownOutcome {
                detail,
                payment: Box::new(made),
            });
        }
    }

    /// Classes the answer to a paid message. A refusal is final: nothing more is
    /// paid for this call.
    fn after_paying(
        &self,
        response: JsonObject,
        made: McpPayment,
        resent: bool,
    ) -> Result<Exchanged, McpError> {
        let error = response.get("error").and_then(Value::as_object);
        let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
        match code {
            Some(PAYMENT_REQUIRED | VERIFICATION_FAILED | INVALID_PARAMS) | None => {}
            Some(INTERNAL_ERROR) => {
                return Err(McpError::UnknownOutcome {
                    detail: format!(
                        "the server failed while settling (-32603: {})",
                        error_message(error)
                    ),
                    payment: Box::new(made),
                });
            }
            Some(_) => {
                return Ok(Exchanged {
                    response,
                    payment: Some(made),
                    receipt: None,
                });
            }
        }
        // A second payment request (as an error, or mppx's in a result) after paying.
        let required = jsonrpc::read_payment_required(&response, &PARSE);
        let refusal = match (&required, code) {
            (Ok(Some(r)), _) => Some((
                match r.signal {
                    jsonrpc::Signal::Error(code) => code,
                    jsonrpc::Signal::ResultMeta => PAYMENT_REQUIRED,
                },
                r.problem.clone(),
                r.failure.clone(),
            )),
            (_, Some(code)) => Some((code, None, None)),
            (Err(_), None) | (Ok(None), None) => None,
        };
        if let Some((code, problem, failure)) = refusal {
            if resent {
                // The lost first answer may have settled the credential that the
                // server now refuses as used.
                return Err(McpError::UnknownOutcome {
                    detail: format!(
                        "the credential was sent twice after no answer came, and the second \
                         time the server refused it ({code}); the first may have settled"
                    ),
                    payment: Box::new(made),
                });
            }
            tracing::info!(target: "mpp::client", origin = %self.origin, code, "payment rejected");
            return Err(McpError::Rejected {
                code,
                message: error_message(error),
                problem: problem.map(Box::new),
                failure,
                payment: Box::new(made),
            });
        }
        tracing::info!(target: "mpp::client", origin = %self.origin, "paid");
        Ok(Exchanged {
            receipt: receipt_of(&response),
            response,
            payment: Some(made),
        })
    }
}

fn error_message(error: Option<&JsonObject>) -> String {
    error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The receipt of a response; a malformed one is logged and not surfaced (the
/// call's result is still the server's answer).
fn receipt_of(response: &JsonObject) -> Option<PaidReceipt> {
    match jsonrpc::read_receipt(response) {
        Ok(found) => found.map(|(receipt, _)| receipt),
        Err(e) => {
            tracing::warn!(target: "mpp::client", "the receipt does not parse: {e}");
            None
        }
    }
}

/// A failure before anything was paid.
fn unpaid_failure(failure: Failure) -> McpError {
    match failure {
        Failure::Transport(detail) => McpError::Network(detail),
        Failure::Status { status, detail } => McpError::Status { status, detail },
        Failure::BadAnswer(bad) => McpError::BadAnswer(bad),
    }
}

impl McpPayment {
    fn of(choice: &Choice) -> McpPayment {
        McpPayment {
            challenge: choice.challenge.clone(),
            kind: PaymentKind::of(choice, false),
            amount: choice.amount,
            cost: choice.cost,
            currency: choice.currency.clone(),
            origin: choice.origin.to_string(),
        }
    }
}
