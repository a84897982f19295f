//! A stand-in for the part of Stripe's API that `stripe/charge` uses, served on a
//! loopback port: creating and confirming PaymentIntents with Shared Payment Tokens,
//! and minting those tokens (the issued-token endpoint and its test-mode helper).
//!
//! It follows Stripe's documented wire format: form-encoded bodies with nested
//! `a[b]=c` keys, Bearer (or Basic) authentication with a secret key, JSON error
//! objects `{"error": {type, code, decline_code?, message, param?, payment_intent?}}`
//! with Stripe's statuses (400 bad request, 401 bad key, 402 card declined, 404 no
//! such URL or object, 409 an idempotency key still in use, 429 rate limited, 500),
//! and idempotency: the first answer to an `Idempotency-Key` is stored, the same key
//! with the same parameters gets it again with `Idempotent-Replayed: true`, the same
//! key with other parameters gets a 400 `idempotency_error`.
//!
//! Tokens are granted from Stripe's test payment methods: `pm_card_visa` succeeds,
//! `pm_card_chargeDeclined` (and `…InsufficientFunds`) is declined with a 402
//! `card_error`, `pm_card_authenticationRequired` leaves the PaymentIntent in
//! `requires_action`. A token is spent by its first PaymentIntent, and is refused for
//! an amount above its `max_amount`, another currency, or after its `expires_at`.
//!
//! Faults can be injected for the next requests ([`Fault`]), and every request is
//! logged ([`StripeStandIn::requests`]) without its credentials.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The test payment method that succeeds.
pub const PM_SUCCEEDS: &str = "pm_card_visa";
/// The test payment method whose charges are declined (`generic_decline`).
pub const PM_DECLINED: &str = "pm_card_chargeDeclined";
/// The test payment method declined for `insufficient_funds`.
pub const PM_INSUFFICIENT_FUNDS: &str = "pm_card_chargeDeclinedInsufficientFunds";
/// The test payment method that asks for authentication (3-D Secure).
pub const PM_AUTHENTICATION_REQUIRED: &str = "pm_card_authenticationRequired";

/// The stand-in's error `code` for a token that already paid a PaymentIntent.
/// Stripe's public reference names no code for the token's limits; these are the
/// stand-in's, and the server half only reads the status and `type`.
pub const CODE_TOKEN_USED: &str = "shared_payment_granted_token_used";
/// The stand-in's `code` for a token past its `expires_at`.
pub const CODE_TOKEN_EXPIRED: &str = "shared_payment_granted_token_expired";
/// The stand-in's `code` for an amount or currency outside the token's limits.
pub const CODE_TOKEN_LIMITS: &str = "shared_payment_granted_token_usage_limits_exceeded";

/// The largest body the stand-in reads.
const MAX_BODY: usize = 1 << 20;

/// A fault the stand-in applies to one request, in place of its normal handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 500 `api_error` before doing anything (nothing is created, and the
    /// idempotency key stays unused, as when Stripe fails before the endpoint runs).
    ServerError,
    /// Answer 429 `rate_limit` before doing anything.
    RateLimited,
    /// Handle the request, then wait this long before answering: a client with a
    /// shorter timeout never sees the answer, though the work was done. While it
    /// waits, its idempotency key is in use (another request with it gets 409).
    Delay(Duration),
}

/// One request the stand-in received, as the tests may read it: never the API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The `Stripe-Version` header.
    pub stripe_version: Option<String>,
    /// The `Stripe-Account` header.
    pub stripe_account: Option<String>,
    /// The decoded form parameters, in the order sent.
    pub params: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
    /// Whether the answer was a stored one (`Idempotent-Replayed: true`).
    pub replayed: bool,
}

impl LoggedRequest {
    /// The value of parameter `name`, if sent.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A Shared Payment Token the stand-in granted.
#[derive(Debug, Clone)]
struct Token {
    payment_method: String,
    currency: String,
    max_amount: u64,
    expires_at: i64,
    used_by: Option<String>,
}

/// What an idempotency key holds: the request it was first used with, and the
/// answer (none while that request is still being answered).
#[derive(Debug, Clone)]
struct Stored {
    fingerprint: String,
    answer: Option<Answer>,
}

#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Value,
    /// Whether the endpoint ran (rather than refusing the parameters first): Stripe
    /// keeps such an answer under the idempotency key.
    ran: bool,
}

#[derive(Debug, Default)]
struct State {
    tokens: HashMap<String, Token>,
    intents: Vec<Value>,
    idempotency: HashMap<String, Stored>,
    faults: VecDeque<Fault>,
    log: Vec<LoggedRequest>,
    clock_offset: i64,
    next_id: u64,
}

impl State {
    fn now(&self) -> i64 {
        unix_now() + self.clock_offset
    }

    fn id(&mut self, prefix: &str, salt: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{salt}{:06}", self.next_id)
    }
}

/// The running stand-in. Dropping it stops it.
pub struct StripeStandIn {
    port: u16,
    key: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for StripeStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeStandIn")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

struct Shared {
    key: String,
    basic: String,
    salt: String,
    state: Arc<Mutex<State>>,
}

impl StripeStandIn {
    /// Starts a stand-in on a free loopback port, with a fresh test secret key.
    pub fn start() -> StripeStandIn {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port for Stripe");
        let port = listener.local_addr().expect("local address").port();
        let salt = random_token(10);
        let key = format!("sk_test_standin{}", random_token(24));
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            basic: format!("Basic {}", base64(format!("{key}:").as_bytes())),
            key: key.clone(),
            salt,
            state: state.clone(),
        });
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        StripeStandIn {
            port,
            key,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: what the halves take as their API base.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The secret key it accepts (`sk_test_…`).
    pub fn secret_key(&self) -> &str {
        &self.key
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `fault` to each of the next `times` requests.
    pub fn inject(&self, fault: Fault, times: usize) {
        let mut state = self.state();
        state.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().log.clone()
    }

    /// The requests received for `path`.
    pub fn requests_to(&self, path: &str) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Every PaymentIntent created, as Stripe would show it.
    pub fn payment_intents(&self) -> Vec<Value> {
        self.state().intents.clone()
    }

    /// How many PaymentIntents succeeded: the charges made.
    pub fn charges(&self) -> usize {
        self.state()
            .intents
            .iter()
            .filter(|pi| pi["status"] == "succeeded")
            .count()
    }

    /// Grants a token directly (what the test helper endpoint does), for tests of
    /// the server half alone: `payment_method` may pay up to `max_amount` of
    /// `currency` until `expires_at` (Unix seconds of the stand-in's clock).
    pub fn grant_token(
        &self,
        payment_method: &str,
        currency: &str,
        max_amount: u64,
        expires_at: i64,
    ) -> String {
        let shared_salt = random_token(6);
        let mut state = self.state();
        let id = state.id("spt_test_", &shared_salt);
        state.tokens.insert(
            id.clone(),
            Token {
                payment_method: payment_method.into(),
                currency: currency.into(),
                max_amount,
                expires_at,
                used_by: None,
            },
        );
        id
    }

    /// The stand-in's clock, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.state().now()
    }

    /// Moves the stand-in's clock by `secs` (tokens expire by it).
    pub fn advance_clock(&self, secs: i64) {
        self.state().clock_offset += secs;
    }
}

impl Drop for StripeStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A request as read off the connection.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let path = target.split('?').next().unwrap_or(target).to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    let (answer, replayed, delay, key) = handle(&request, shared);
    if let Some(delay) = delay {
        std::thread::sleep(delay);
        if let Some(key) = key {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(stored) = state.idempotency.get_mut(&key) {
                stored.answer.get_or_insert(answer.clone());
            }
        }
    }
    let body = answer.body.to_string();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nrequest-id: req_standin\r\n",
        answer.status,
        reason(answer.status),
        body.len()
    );
    if replayed {
        head.push_str("idempotent-replayed: true\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Request Failed",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        _ => "Server Error",
    }
}

/// Handles one request: the answer, whether it is a replay, how long to hold it,
/// and the idempotency key whose stored answer waits for it.
fn handle(request: &Request, shared: &Shared) -> (Answer, bool, Option<Duration>, Option<String>) {
    let params = decode_form(&request.body);
    let idempotency_key = request.header("idempotency-key").map(str::to_string);
    let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    let mut entry = LoggedRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        idempotency_key: idempotency_key.clone(),
        stripe_version: request.header("stripe-version").map(str::to_string),
        stripe_account: request.header("stripe-account").map(str::to_string),
        params: params.clone().unwrap_or_default(),
        status: 0,
        replayed: false,
    };
    let fault = state.faults.pop_front();
    let fingerprint = format!(
        "{} {} {}",
        request.method,
        request.path,
        sorted(params.as_deref().unwrap_or_default())
    );
    let outcome = (|| {
        match fault {
            Some(Fault::ServerError) => {
                return Outcome::plain(error(
                    500,
                    "api_error",
                    None,
                    "An unknown error occurred (injected).",
                ));
            }
            Some(Fault::RateLimited) => {
                return Outcome::plain(error(
                    429,
                    "invalid_request_error",
                    Some("rate_limit"),
                    "Too many requests hit the API too quickly (injected).",
                ));
            }
            _ => {}
        }
        let authorized = request
            .header("authorization")
            .is_some_and(|a| a == format!("Bearer {}", shared.key) || a == shared.basic);
        if !authorized {
            return Outcome::plain(error(
                401,
                "invalid_request_error",
                None,
                "Invalid API Key provided.",
            ));
        }
        let Some(params) = &params else {
            return Outcome::plain(error(
                400,
                "invalid_request_error",
                Some("parameter_invalid_string"),
                "The request body is not valid form encoding.",
            ));
        };
        let route = match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/v1/payment_intents") => Route::PaymentIntent,
            ("POST", "/v1/shared_payment/issued_tokens") => Route::IssuedToken,
            ("POST", "/v1/test_helpers/shared_payment/granted_tokens") => Route::GrantedToken,
            (method, path) => {
                return Outcome::plain(error(
                    404,
                    "invalid_request_error",
                    None,
                    &format!("Unrecognized request URL ({method}: {path})."),
                ));
            }
        };
        if let Some(key) = &idempotency_key {
            match state.idempotency.get(key) {
                Some(stored) if stored.fingerprint != fingerprint => {
                    return Outcome::plain(error(
                        400,
                        "idempotency_error",
                        None,
                        &format!(
                            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                        ),
                    ));
                }
                Some(Stored { answer: None, .. }) => {
                    return Outcome::plain(error(
                        409,
                        "invalid_request_error",
                        Some("idempotency_key_in_use"),
                        "There is currently another in-progress request using this Stripe-Idempotency-Key.",
                    ));
                }
                Some(Stored {
                    answer: Some(answer),
                    ..
                }) => {
                    return Outcome {
                        answer: answer.clone(),
                        replayed: true,
                        store: false,
                    };
                }
                None => {}
            }
        }
        let answer = match route {
            Route::PaymentIntent => {
                create_intent(&mut state, params, &entry.stripe_account, &shared.salt)
            }
            Route::IssuedToken => create_token(&mut state, params, true, &shared.salt),
            Route::GrantedToken => create_token(&mut state, params, false, &shared.salt),
        };
        // Stripe keeps the answer of a request that ran, not of one refused before
        // it started (bad parameters): those may be sent again with the same key.
        Outcome {
            store: answer.ran,
            answer,
            replayed: false,
        }
    })();
    let delay = match fault {
        Some(Fault::Delay(d)) => Some(d),
        _ => None,
    };
    let mut pending_key = None;
    if let (true, Some(key)) = (outcome.store, &idempotency_key) {
        let answer = if delay.is_some() {
            pending_key = Some(key.clone());
            None
        } else {
            Some(outcome.answer.clone())
        };
        state.idempotency.insert(
            key.clone(),
            Stored {
                fingerprint,
                answer,
            },
        );
    }
    entry.status = outcome.answer.status;
    entry.replayed = outcome.replayed;
    state.log.push(entry);
    (outcome.answer, outcome.replayed, delay, pending_key)
}

enum Route {
    PaymentIntent,
    IssuedToken,
    GrantedToken,
}

struct Outcome {
    answer: Answer,
    replayed: bool,
    store: bool,
}

impl Outcome {
    fn plain(answer: Answer) -> Outcome {
        Outcome {
            answer,
            replayed: false,
            store: false,
        }
    }
}

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Answer {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = code.into();
    }
    Answer {
        status,
        body: json!({ "error": error }),
        ran: false,
    }
}

fn param_error(code: &str, param: &str, message: &str) -> Answer {
    let mut answer = error(400, "invalid_request_error", Some(code), message);
    answer.body["error"]["param"] = param.into();
    answer
}

/// A 400 for a request that ran: its answer is kept under the idempotency key.
fn ran(mut answer: Answer) -> Answer {
    answer.ran = true;
    answer
}

fn sorted(params: &[(String, String)]) -> String {
    let mut params = params.to_vec();
    params.sort();
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Stripe's minimum charge amounts, for the currencies the tests use.
fn minimum(currency: &str) -> u64 {
    match currency {
        "usd" | "eur" => 50,
        "gbp" => 30,
        _ => 1,
    }
}

fn is_currency(text: &str) -> bool {
    text.len() == 3 && text.bytes().all(|b| b.is_ascii_lowercase())
}

const INTENT_PARAMS: &[&str] = &[
    "amount",
    "currency",
    "confirm",
    "shared_payment_granted_token",
    "automatic_payment_methods[enabled]",
    "automatic_payment_methods[allow_redirects]",
    "application_fee_amount",
    "on_behalf_of",
    "transfer_data[destination]",
    "transfer_data[amount]",
    "transfer_group",
    "description",
];

fn create_intent(
    state: &mut State,
    params: &[(String, String)],
    stripe_account: &Option<String>,
    salt: &str,
) -> Answer {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut metadata = serde_json::Map::new();
    for (name, value) in params {
        if let Some(key) = name
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            if key.is_empty() || key.len() > 40 || value.len() > 500 {
                return param_error(
                    "parameter_invalid_string",
                    name,
                    "Metadata keys are at most 40 characters and values at most 500.",
                );
            }
            metadata.insert(key.into(), value.as_str().into());
        } else if !INTENT_PARAMS.contains(&name.as_str()) {
            return param_error(
                "parameter_unknown",
                name,
                &format!("Received unknown parameter: {name}"),
            );
        }
    }
    if metadata.len() > 50 {
        return param_error(
            "parameter_invalid_string",
            "metadata",
            "Metadata holds at most 50 keys.",
        );
    }
    let Some(amount) = get("amount").and_then(|a| a.parse::<u64>().ok()) else {
        return param_error(
            "parameter_invalid_integer",
            "amount",
            "Invalid integer: amount",
        );
    };
    let Some(currency) = get("currency").filter(|c| is_currency(c)) else {
        return param_error(
            "parameter_invalid_string",
            "currency",
            "Invalid currency: a three-letter ISO code in lowercase.",
        );
    };
    if amount < minimum(currency) {
        return param_error(
            "amount_too_small",
            "amount",
            "Amount must be at least the currency's minimum charge amount.",
        );
    }
    if get("confirm") != Some("true") {
        return param_error(
            "parameter_missing",
            "confirm",
            "The stand-in confirms on creation only: confirm=true.",
        );
    }
    for name in ["application_fee_amount", "transfer_data[amount]"] {
        if let Some(value) = get(name) {
            match value.parse::<u64>() {
                Ok(v) if v <= amount => {}
                _ => {
                    return param_error(
                        "parameter_invalid_integer",
                        name,
                        &format!("{name} must be an integer no greater than amount."),
                    );
                }
            }
        }
    }
    if get("transfer_data[amount]").is_some() && get("transfer_data[destination]").is_none() {
        return param_error(
            "parameter_missing",
            "transfer_data[destination]",
            "Missing required param: transfer_data[destination].",
        );
    }
    let Some(spt) = get("shared_payment_granted_token") else {
        return param_error(
            "parameter_missing",
            "shared_payment_granted_token",
            "Missing required param: shared_payment_granted_token.",
        );
    };
    let now = state.now();
    let Some(token) = state.tokens.get(spt).cloned() else {
        return param_error(
            "resource_missing",
            "shared_payment_granted_token",
            &format!("No such shared_payment_granted_token: '{spt}'"),
        );
    };
    if token.used_by.is_some() {
        return ran(param_error(
            CODE_TOKEN_USED,
            "shared_payment_granted_token",
            "This shared payment token has already been used.",
        ));
    }
    if now >= token.expires_at {
        return ran(param_error(
            CODE_TOKEN_EXPIRED,
            "shared_payment_granted_token",
            "This shared payment token has expired.",
        ));
    }
    if currency != token.currency || amount > token.max_amount {
        return ran(param_error(
            CODE_TOKEN_LIMITS,
            "shared_payment_granted_token",
            "The amount or currency is outside this shared payment token's usage limits.",
        ));
    }
    let id = state.id("pi_", salt);
    if let Some(t) = state.tokens.get_mut(spt) {
        t.used_by = Some(id.clone());
    }
    let transfer_data = get("transfer_data[destination]").map(|d| {
        json!({
            "destination": d,
            "amount": get("transfer_data[amount]").and_then(|a| a.parse::<u64>().ok()),
        })
    });
    let mut intent = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "currency": currency,
        "created": now,
        "livemode": false,
        "metadata": metadata,
        "payment_method": token.payment_method,
        "shared_payment_granted_token": spt,
        "application_fee_amount": get("application_fee_amount").and_then(|a| a.parse::<u64>().ok()),
        "on_behalf_of": get("on_behalf_of"),
        "transfer_data": transfer_data,
        "transfer_group": get("transfer_group"),
        "stripe_account": stripe_account,
        "latest_charge": null,
        "next_action": null,
        "last_payment_error": null,
    });
    let declined = match token.payment_method.as_str() {
        PM_DECLINED => Some("generic_decline"),
        PM_INSUFFICIENT_FUNDS => Some("insufficient_funds"),
        _ => None,
    };
    if let Some(decline_code) = declined {
        let failure = json!({
            "type": "card_error",
            "code": "card_declined",
            "decline_code": decline_code,
            "message": "Your card was declined.",
        });
        intent["status"] = "requires_payment_method".into();
        intent["last_payment_error"] = failure.clone();
        state.intents.push(intent.clone());
        let mut error = failure;
        error["payment_intent"] = intent;
        return Answer {
            status: 402,
            body: json!({ "error": error }),
            ran: true,
        };
    }
    if token.payment_method == PM_AUTHENTICATION_REQUIRED {
        intent["status"] = "requires_action".into();
        intent["next_action"] = json!({"type": "use_stripe_sdk", "use_stripe_sdk": {}});
    } else {
        intent["status"] = "succeeded".into();
        intent["amount_received"] = amount.into();
        intent["latest_charge"] = state.id("ch_", salt).into();
    }
    state.intents.push(intent.clone());
    Answer {
        status: 200,
        body: intent,
        ran: true,
    }
}

const TOKEN_PARAMS: &[&str] = &[
    "payment_method",
    "usage_limits[currency]",
    "usage_limits[max_amount]",
    "usage_limits[expires_at]",
];

fn create_token(
    state: &mut State,
    params: &[(String, String)],
    issued: bool,
    salt: &str,
) -> Answer {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let seller = if issued {
        "seller_details[network_business_profile]"
    } else {
        "seller_details[network_id]"
    };
    for (name, _) in params {
        let known = TOKEN_PARAMS.contains(&name.as_str())
            || name == seller
            || (name.starts_with("metadata[") && name.ends_with(']'));
        if !known {
            return param_error(
                "parameter_unknown",
                name,
                &format!("Received unknown parameter: {name}"),
            );
        }
    }
    let payment_method = match get("payment_method") {
        Some(pm) => pm,
        None => {
            return param_error(
                "parameter_missing",
                "payment_method",
                "Missing required param: payment_method.",
            );
        }
    };
    let known_methods = [
        PM_SUCCEEDS,
        PM_DECLINED,
        PM_INSUFFICIENT_FUNDS,
        PM_AUTHENTICATION_REQUIRED,
    ];
    if !known_methods.contains(&payment_method) {
        return param_error(
            "resource_missing",
            "payment_method",
            &format!("No such PaymentMethod: '{payment_method}'"),
        );
    }
    let Some(currency) = get("usage_limits[currency]").filter(|c| is_currency(c)) else {
        return param_error(
            "parameter_invalid_string",
            "usage_limits[currency]",
            "Invalid currency: a three-letter ISO code in lowercase.",
        );
    };
    let Some(max_amount) = get("usage_limits[max_amount]")
        .and_then(|a| a.parse::<u64>().ok())
        .filter(|&a| a > 0)
    else {
        return param_error(
            "parameter_invalid_integer",
            "usage_limits[max_amount]",
            "Invalid positive integer: usage_limits[max_amount]",
        );
    };
    let now = state.now();
    let Some(expires_at) = get("usage_limits[expires_at]")
        .and_then(|a| a.parse::<i64>().ok())
        .filter(|&t| t > now)
    else {
        return param_error(
            "parameter_invalid_integer",
            "usage_limits[expires_at]",
            "usage_limits[expires_at] must be a Unix timestamp in the future.",
        );
    };
    if issued && get(seller).is_none() {
        return param_error(
            "parameter_missing",
            seller,
            "Missing required param: seller_details[network_business_profile].",
        );
    }
    let id = state.id("spt_test_", salt);
    state.tokens.insert(
        id.clone(),
        Token {
            payment_method: payment_method.into(),
            currency: currency.into(),
            max_amount,
            expires_at,
            used_by: None,
        },
    );
    let object = if issued {
        "shared_payment.issued_token"
    } else {
        "shared_payment.granted_token"
    };
    Answer {
        status: 200,
        body: json!({
            "id": id,
            "object": object,
            "created": now,
            "livemode": false,
            "payment_method": payment_method,
            "usage_limits": {
                "currency": currency,
                "max_amount": max_amount,
                "expires_at": expires_at,
            },
            "seller_details": get(seller).map(|s| json!({ seller.trim_start_matches("seller_details[").trim_end_matches(']'): s })),
        }),
        ran: true,
    }
}

/// Decodes an `application/x-www-form-urlencoded` body; `None` when it is not
/// valid (a bad escape, not UTF-8).
pub fn decode_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    if body.is_empty() {
        return Some(Vec::new());
    }
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = unescape(halves.next().unwrap_or_default())?;
            let value = unescape(halves.next().unwrap_or_default())?;
            Some((name, value))
        })
        .collect()
}

fn unescape(text: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(text.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Random letters and digits, from the standard library's randomly keyed hasher.
fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(out.len());
        let mut word = hasher.finish();
        for _ in 0..8 {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[(word % 62) as usize]));
            word /= 62;
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Stripe's form encoding of nested parameters, for tests that call the stand-in
/// by hand: `("metadata[a]", "b")` pairs, percent-encoded.
pub fn encode_form(params: &[(&str, &str)]) -> String {
    let escape = |text: &str| {
        let mut out = String::new();
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl StripeStandIn {
    /// The usage limits of token `id`: `(payment_method, currency, max_amount,
    /// expires_at)`.
    pub fn token_limits(&self, id: &str) -> Option<(String, String, u64, i64)> {
        self.state().tokens.get(id).map(|t| {
            (
                t.payment_method.clone(),
                t.currency.clone(),
                t.max_amount,
                t.expires_at,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_with_nested_keys() {
        let body = encode_form(&[("metadata[order id]", "a&b=c"), ("amount", "500")]);
        assert_eq!(body, "metadata%5Border+id%5D=a%26b%3Dc&amount=500");
        assert_eq!(
            decode_form(body.as_bytes()).unwrap(),
            vec![
                ("metadata[order id]".to_string(), "a&b=c".to_string()),
                ("amount".to_string(), "500".to_string())
            ]
        );
        assert!(decode_form(b"a=%zz").is_none());
    }

    /// One raw HTTP exchange: the status line, headers and body.
    fn post(stripe: &StripeStandIn, path: &str, auth: &str, key: &str, body: &str) -> String {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, stripe.port)).unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\nidempotency-key: {key}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn the_wire_follows_stripes_auth_idempotency_and_error_rules() {
        let stripe = StripeStandIn::start();
        let bearer = format!("Bearer {}", stripe.secret_key());
        let grant = |amount: &str| {
            encode_form(&[
                ("payment_method", PM_SUCCEEDS),
                ("usage_limits[currency]", "usd"),
                ("usage_limits[max_amount]", amount),
                ("usage_limits[expires_at]", &(stripe.now() + 60).to_string()),
            ])
        };
        let path = "/v1/test_helpers/shared_payment/granted_tokens";
        let bad_key = post(&stripe, path, "Bearer sk_test_nope", "k0", &grant("500"));
        assert!(bad_key.starts_with("HTTP/1.1 401"), "{bad_key}");
        let first = post(&stripe, path, &bearer, "k1", &grant("500"));
        assert!(first.starts_with("HTTP/1.1 200") && !first.contains("idempotent-replayed"));
        let again = post(&stripe, path, &bearer, "k1", &grant("500"));
        assert!(again.contains("idempotent-replayed: true"), "{again}");
        assert_eq!(
            first.split("\r\n\r\n").nth(1),
            again.split("\r\n\r\n").nth(1)
        );
        let other = post(&stripe, path, &bearer, "k1", &grant("600"));
        assert!(other.starts_with("HTTP/1.1 400") && other.contains("idempotency_error"));
        let basic = format!(
            "Basic {}",
            base64(format!("{}:", stripe.secret_key()).as_bytes())
        );
        let missing = post(&stripe, "/v1/charges", &basic, "k2", "");
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        stripe.inject(Fault::ServerError, 1);
        let failed = post(&stripe, path, &bearer, "k3", &grant("500"));
        assert!(failed.starts_with("HTTP/1.1 500") && failed.contains("api_error"));
        // The failure ran nothing, so the key is still free.
        let retried = post(&stripe, path, &bearer, "k3", &grant("500"));
        assert!(retried.starts_with("HTTP/1.1 200") && !retried.contains("idempotent-replayed"));
        assert_eq!(stripe.requests().len(), 7);
        assert!(!format!("{:?}", stripe.requests()).contains(stripe.secret_key()));
    }

    #[test]
    fn basic_credentials_are_standard_base64() {
        assert_eq!(base64(b"sk_test_x:"), "c2tfdGVzdF94Og==");
    }
}
