//! The route data a paywall is configured with: paid routes and priced JSON-RPC
//! calls, their offers and prices, and each as the paywall serves it, its offers in
//! the engine's order.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mpp_core::credential::CredentialField;
use mpp_core::json::JsonObject;
use mpp_core::method::{ChargeMethod, IssuedTerms, MethodError, SessionMethod, Terms};
use mpp_core::server;
use mpp_core::time::UnixTime;
use mpp_core::value::IntentName;

/// One way to pay for a route: a method and its terms.
#[derive(Clone)]
pub struct ChargeOffer {
    /// The method that verifies and settles.
    pub method: Arc<dyn ChargeMethod>,
    /// The intent.
    pub intent: IntentName<'static>,
    /// The terms (amount, currency, recipient, method details).
    pub request: JsonObject,
}

impl fmt::Debug for ChargeOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChargeOffer")
            .field("method", &self.method.name())
            .field("intent", &self.intent.as_str())
            .field("request", &self.request)
            .finish()
    }
}

impl ChargeOffer {
    /// A `charge` offer: pay `request` with `method`.
    pub fn new(method: Arc<dyn ChargeMethod>, request: JsonObject) -> ChargeOffer {
        ChargeOffer {
            method,
            intent: IntentName::new("charge")
                .unwrap_or_else(|_| unreachable!())
                .into_owned(),
            request,
        }
    }
}

/// A way to pay for a route with a session (intent `session`): the method, and the
/// terms of its challenges, whose `amount` is the price of one unit (one request, or
/// one chunk of a stream).
#[derive(Clone)]
pub struct SessionOffer {
    /// The method that verifies deposits, ownership and refunds.
    pub method: Arc<dyn SessionMethod>,
    /// The terms: `amount` per unit, `currency`, the method's own members.
    pub request: JsonObject,
    /// How long a session may stay unused before the server closes it (default five
    /// minutes, the RECOMMENDED value of the lightning session draft).
    pub idle_timeout: Duration,
    /// Whether the handler bills per chunk of a stream ([`MeteredSession::sse`])
    /// instead of the paywall debiting one unit per request.
    ///
    /// [`MeteredSession::sse`]: crate::session::MeteredSession::sse
    pub streaming: bool,
    /// How long a stream waits for a top-up before giving up (default 60 s, as the
    /// lightning session draft recommends).
    pub hold_timeout: Duration,
}

impl fmt::Debug for SessionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionOffer")
            .field("method", &self.method.name())
            .field("request", &self.request)
            .field("idle_timeout", &self.idle_timeout)
            .field("streaming", &self.streaming)
            .field("hold_timeout", &self.hold_timeout)
            .finish()
    }
}

impl SessionOffer {
    /// Sessions paid with `method`, a unit priced by `request`'s `amount`.
    pub fn new(method: Arc<dyn SessionMethod>, request: JsonObject) -> SessionOffer {
        SessionOffer {
            method,
            request,
            idle_timeout: Duration::from_secs(300),
            streaming: false,
            hold_timeout: Duration::from_secs(60),
        }
    }

    /// Sets how long a session may stay unused.
    pub fn idle_timeout(mut self, idle: Duration) -> SessionOffer {
        self.idle_timeout = idle;
        self
    }

    /// Bills per chunk of a stream: a request is admitted when the session can pay
    /// for one unit, and the handler streams through
    /// [`MeteredSession::sse`](crate::session::MeteredSession::sse).
    pub fn streaming(mut self) -> SessionOffer {
        self.streaming = true;
        self
    }

    /// Sets how long a stream waits for a top-up.
    pub fn hold_timeout(mut self, hold: Duration) -> SessionOffer {
        self.hold_timeout = hold;
        self
    }

    /// The currency of its amounts, from the terms' `currency` (empty if missing,
    /// which the builder refuses).
    pub(crate) fn currency(&self) -> &str {
        self.request
            .get("currency")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
    }

    /// The price of one unit, from the terms' `amount`.
    pub(crate) fn unit_price(&self) -> Option<u128> {
        self.request
            .get("amount")
            .and_then(|a| a.as_str())
            .and_then(|a| mpp_core::value::Amount::new(a).ok())
            .and_then(|a| a.to_u128())
            .filter(|&unit| unit > 0)
    }
}

/// A route that must be paid for.
#[derive(Debug, Clone)]
pub struct PaidRoute {
    /// The HTTP method it answers.
    pub http_method: http::Method,
    /// The exact path.
    pub path: String,
    /// The offers, in the server's order of preference.
    pub offers: Vec<ChargeOffer>,
    /// The session offers, offered after the others.
    pub sessions: Vec<SessionOffer>,
    /// A description put in challenges and in the discovery document.
    pub description: Option<String>,
    /// How long a challenge stays payable.
    pub ttl: Duration,
    /// Where credentials must arrive (D12).
    pub credential_field: CredentialField,
    /// Whether the query string is part of the resource paid for (D7).
    pub bind_query: bool,
    /// The route's realm, when it is not the paywall's.
    pub realm: Option<String>,
}

impl PaidRoute {
    /// `http_method path`, with no offer yet, a five-minute expiry, credentials in
    /// `Authorization`.
    pub fn new(http_method: http::Method, path: impl Into<String>) -> PaidRoute {
        PaidRoute {
            http_method,
            path: path.into(),
            offers: Vec::new(),
            sessions: Vec::new(),
            description: None,
            ttl: Duration::from_secs(server::DEFAULT_TTL_SECS),
            credential_field: CredentialField::Authorization,
            bind_query: false,
            realm: None,
        }
    }

    /// Puts the route in its own protection space (`realm`).
    pub fn realm(mut self, realm: impl Into<String>) -> PaidRoute {
        self.realm = Some(realm.into());
        self
    }

    /// Adds an offer.
    pub fn offer(mut self, offer: ChargeOffer) -> PaidRoute {
        self.offers.push(offer);
        self
    }

    /// Adds a session offer: each request is paid from a session, one unit at a time.
    pub fn session(mut self, offer: SessionOffer) -> PaidRoute {
        self.sessions.push(offer);
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> PaidRoute {
        self.description = Some(description.into());
        self
    }

    /// Sets how long challenges stay payable.
    pub fn ttl(mut self, ttl: Duration) -> PaidRoute {
        self.ttl = ttl;
        self
    }

    /// Asks for credentials in `Payment-Authorization`, for routes whose
    /// `Authorization` carries other credentials.
    pub fn payment_authorization(mut self) -> PaidRoute {
        self.credential_field = CredentialField::PaymentAuthorization;
        self
    }

    /// Binds the query string too: `GET /a?x=1` and `GET /a?x=2` are different purchases.
    pub fn bind_query(mut self) -> PaidRoute {
        self.bind_query = true;
        self
    }
}

/// What a priced JSON-RPC call is: an MCP tool, or a plain JSON-RPC method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `tools/call` with `params.name` equal to this.
    Tool(String),
    /// A JSON-RPC method of this name (not `tools/call`).
    Method(String),
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Tool(name) => write!(f, "tool `{name}`"),
            Operation::Method(name) => write!(f, "method `{name}`"),
        }
    }
}

impl Operation {
    /// The resource its challenges bind (D21): `tools/call/<name>` or the method.
    pub(crate) fn resource(&self) -> String {
        match self {
            Operation::Tool(name) => format!("tools/call/{name}"),
            Operation::Method(name) => name.clone(),
        }
    }
}

/// A JSON-RPC method or MCP tool that must be paid for, each call once: what a
/// [`PaidRoute`] is to HTTP. Served by [`JsonRpcPaywall`](crate::JsonRpcPaywall).
#[derive(Debug, Clone)]
pub struct PricedCall {
    /// The tool or method.
    pub operation: Operation,
    /// The offers, in the server's order of preference.
    pub offers: Vec<ChargeOffer>,
    /// The session offers, offered after the others: each call is one unit.
    pub sessions: Vec<SessionOffer>,
    /// A description put in challenges.
    pub description: Option<String>,
    /// How long a challenge stays payable.
    pub ttl: Duration,
    /// Whether a challenge pays only for the arguments it was issued for (D21).
    pub bind_arguments: bool,
    /// The call's realm, when it is not the paywall's.
    pub realm: Option<String>,
}

impl PricedCall {
    /// The MCP tool `name`, with no offer yet and a five-minute expiry.
    pub fn tool(name: impl Into<String>) -> PricedCall {
        PricedCall::new(Operation::Tool(name.into()))
    }

    /// The JSON-RPC method `name`, with no offer yet and a five-minute expiry.
    pub fn method(name: impl Into<String>) -> PricedCall {
        PricedCall::new(Operation::Method(name.into()))
    }

    fn new(operation: Operation) -> PricedCall {
        PricedCall {
            operation,
            offers: Vec::new(),
            sessions: Vec::new(),
            description: None,
            ttl: Duration::from_secs(server::DEFAULT_TTL_SECS),
            bind_arguments: false,
            realm: None,
        }
    }

    /// Adds an offer.
    pub fn offer(mut self, offer: ChargeOffer) -> PricedCall {
        self.offers.push(offer);
        self
    }

    /// Adds a session offer: each call is paid from a session, one unit at a time
    /// (not a streaming one: streams are HTTP's).
    pub fn session(mut self, offer: SessionOffer) -> PricedCall {
        self.sessions.push(offer);
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> PricedCall {
        self.description = Some(description.into());
        self
    }

    /// Sets how long challenges stay payable.
    pub fn ttl(mut self, ttl: Duration) -> PricedCall {
        self.ttl = ttl;
        self
    }

    /// Binds the arguments too (the digest of their JCS form): a challenge issued
    /// for `{"city": "Paris"}` does not pay for `{"city": "Oslo"}`.
    pub fn bind_arguments(mut self) -> PricedCall {
        self.bind_arguments = true;
        self
    }

    /// Puts the call in its own protection space (`realm`).
    pub fn realm(mut self, realm: impl Into<String>) -> PricedCall {
        self.realm = Some(realm.into());
        self
    }

    /// The route the engine sees: method `JSON-RPC`, the operation's resource as
    /// its path (no HTTP path starts without `/`, so the two never meet).
    pub(crate) fn into_route(self) -> (Operation, bool, PaidRoute) {
        let mut route = PaidRoute::new(json_rpc_method(), self.operation.resource());
        route.offers = self.offers;
        route.sessions = self.sessions;
        route.description = self.description;
        route.ttl = self.ttl;
        route.realm = self.realm;
        (self.operation, self.bind_arguments, route)
    }
}

/// The HTTP method token JSON-RPC resources are bound under.
pub(crate) fn json_rpc_method() -> http::Method {
    http::Method::from_bytes(b"JSON-RPC").unwrap_or(http::Method::POST)
}

/// A priced call as the paywall serves it.
#[derive(Debug)]
pub(crate) struct CompiledCall {
    pub(crate) operation: Operation,
    pub(crate) bind_arguments: bool,
    pub(crate) route: CompiledRoute,
}

/// One offer of a route, as a credential matches it: a charge, or a session.
#[derive(Debug)]
pub(crate) enum PaidOffer {
    /// Paid once per request (intent `charge`, or another one-shot intent).
    Charge(ChargeOffer),
    /// Paid from a session, one unit at a time.
    Session(SessionOffer),
}

impl PaidOffer {
    /// The method's name.
    pub(crate) fn method_name(&self) -> &str {
        match self {
            PaidOffer::Charge(o) => o.method.name(),
            PaidOffer::Session(o) => o.method.name(),
        }
    }

    /// The intent its challenges name.
    pub(crate) fn intent(&self) -> IntentName<'static> {
        match self {
            PaidOffer::Charge(o) => o.intent.clone(),
            PaidOffer::Session(_) => IntentName::new("session")
                .unwrap_or_else(|_| unreachable!())
                .into_owned(),
        }
    }

    /// The configured terms.
    pub(crate) fn request(&self) -> &JsonObject {
        match self {
            PaidOffer::Charge(o) => &o.request,
            PaidOffer::Session(o) => &o.request,
        }
    }

    /// How its challenges get their terms.
    pub(crate) fn terms(&self) -> Terms {
        match self {
            PaidOffer::Charge(o) => o.method.terms(),
            PaidOffer::Session(o) => o.method.terms(),
        }
    }

    /// The terms of one new challenge, from its method.
    pub(crate) async fn issue_terms(&self, now: UnixTime) -> Result<IssuedTerms, MethodError> {
        match self {
            PaidOffer::Charge(o) => o.method.issue_terms(&o.request, now).await,
            PaidOffer::Session(o) => o.method.issue_terms(&o.request, now).await,
        }
    }
}

/// A route as the paywall serves it: its offers in the order the engine numbers
/// them (the charge offers, then the session offers), and the engine's view of it.
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    /// The HTTP method it answers.
    pub(crate) http_method: http::Method,
    /// The exact path.
    pub(crate) path: String,
    /// The offers; the engine's offer `i` is `offers[i]`.
    pub(crate) offers: Vec<PaidOffer>,
    pub(crate) engine: server::Route,
    /// Whether its 402s mint terms per challenge (which
    /// [`MintLimit`](crate::MintLimit) bounds).
    pub(crate) mints: bool,
}

impl CompiledRoute {
    /// The offer the engine numbers `index`.
    pub(crate) fn offer(&self, index: usize) -> Option<&PaidOffer> {
        self.offers.get(index)
    }

    /// The session offers.
    pub(crate) fn sessions(&self) -> impl Iterator<Item = &SessionOffer> {
        self.offers.iter().filter_map(|o| match o {
            PaidOffer::Session(s) => Some(s),
            PaidOffer::Charge(_) => None,
        })
    }
}
