//! What a paywall is configured with: secrets, realm, paid routes and their offers.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::credential::CredentialField;
use mpp_core::json::JsonObject;
use mpp_core::method::{ChargeMethod, SessionMethod, Terms};
use mpp_core::server::{self, RouteOffer};
use mpp_core::time::UnixTime;
use mpp_core::value::{IntentName, MethodName, Realm};
use mpp_core::{BindingError, ParseError};

use crate::layer::PaywallLayer;
use crate::mint::{MintLimit, Minting};
use crate::openapi::{self, ServiceInfo};
use crate::session::SessionLedger;
use crate::store::{MemoryStore, Store};

/// The default limit on a buffered request body (D11 and peer-lessons §2.5).
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// One way to pay for a route: a method and its terms.
#[derive(Clone)]
pub struct Offer {
    /// The method that verifies and settles.
    pub method: Arc<dyn ChargeMethod>,
    /// The intent.
    pub intent: IntentName<'static>,
    /// The terms (amount, currency, recipient, method details).
    pub request: JsonObject,
}

impl fmt::Debug for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offer")
            .field("method", &self.method.name())
            .field("intent", &self.intent.as_str())
            .field("request", &self.request)
            .finish()
    }
}

impl Offer {
    /// A `charge` offer: pay `request` with `method`.
    pub fn charge(method: Arc<dyn ChargeMethod>, request: JsonObject) -> Offer {
        Offer {
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
    pub offers: Vec<Offer>,
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
    pub fn offer(mut self, offer: Offer) -> PaidRoute {
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

    fn engine_route(&self) -> Result<server::Route, ConfigError> {
        if self.offers.is_empty() && self.sessions.is_empty() {
            return Err(ConfigError::Route(format!(
                "{} {} has no offer",
                self.http_method, self.path
            )));
        }
        if let Some(bad) = self.sessions.iter().find(|o| o.unit_price().is_none()) {
            return Err(ConfigError::Route(format!(
                "{} {}: the {} session offer needs `amount`, the price of a unit, as a positive base-10 integer string",
                self.http_method,
                self.path,
                bad.method.name()
            )));
        }
        if let Some(bad) = self.sessions.iter().find(|o| o.currency().is_empty()) {
            return Err(ConfigError::Route(format!(
                "{} {}: the {} session offer needs `currency`, which its accounts are kept in",
                self.http_method,
                self.path,
                bad.method.name()
            )));
        }
        let control = |c: char| c.is_control() && c != '\t';
        if self
            .description
            .as_deref()
            .is_some_and(|d| d.chars().any(control))
        {
            return Err(ConfigError::Route(format!(
                "{} {}: the description has a control character, which no header can carry",
                self.http_method, self.path
            )));
        }
        let session = IntentName::new("session")
            .unwrap_or_else(|_| unreachable!())
            .into_owned();
        let charges = self.offers.iter().map(|o| {
            (
                o.method.name(),
                o.intent.clone(),
                &o.request,
                o.method.terms(),
            )
        });
        let sessions = self.sessions.iter().map(|o| {
            (
                o.method.name(),
                session.clone(),
                &o.request,
                o.method.terms(),
            )
        });
        let offers = charges
            .chain(sessions)
            .map(|(name, intent, request, terms)| {
                let method = MethodName::from_string(name.to_owned())
                    .map_err(|e| ConfigError::Route(format!("method {name:?}: {e}")))?;
                Ok(match terms {
                    Terms::Fixed => RouteOffer::new(method, intent, request.clone()),
                    Terms::PerChallenge { pinned } => {
                        RouteOffer::per_challenge(method, intent, request.clone(), pinned)
                    }
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(server::Route {
            offers,
            description: self.description.clone(),
            ttl_secs: self.ttl.as_secs(),
            credential_field: self.credential_field,
            bind_query: self.bind_query,
            realm: self
                .realm
                .clone()
                .map(Realm::from_string)
                .transpose()
                .map_err(ConfigError::Realm)?,
        })
    }
}

/// Why a paywall cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A secret is unusable (shorter than 32 bytes).
    Secret(BindingError),
    /// The realm is not a valid realm.
    Realm(ParseError),
    /// A route has no offer, or an offer's method name is invalid.
    Route(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Secret(e) => write!(f, "paywall secret: {e}"),
            ConfigError::Realm(e) => write!(f, "paywall realm: {e}"),
            ConfigError::Route(e) => write!(f, "paid route: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A route as the layer uses it: the configuration and the engine's view of it.
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    pub(crate) paid: PaidRoute,
    pub(crate) engine: server::Route,
    /// Whether its 402s mint terms per challenge (which [`MintLimit`] bounds).
    pub(crate) mints: bool,
}

/// Where the paywall reads the time.
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> UnixTime {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixTime::new(
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_nanos(),
    )
    .unwrap_or(UnixTime::from_secs(0))
}

/// Everything a paywall layer shares between requests.
pub(crate) struct Shared {
    pub(crate) engine: server::Paywall,
    pub(crate) clock: Clock,
    pub(crate) routes: Vec<CompiledRoute>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ledger: SessionLedger,
    pub(crate) max_body: usize,
    pub(crate) minting: Minting,
    /// The serialised discovery document, when `/openapi.json` is served.
    pub(crate) openapi: Option<bytes::Bytes>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("realm", &self.engine.realm().as_str())
            .field("routes", &self.routes.len())
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The session method named `name`, as the first session offer of that name
    /// has it: what refunds the sessions it opened.
    pub(crate) fn session_method(&self, name: &str) -> Option<&dyn SessionMethod> {
        self.routes
            .iter()
            .flat_map(|r| &r.paid.sessions)
            .find(|o| o.method.name() == name)
            .map(|o| o.method.as_ref())
    }

    /// The paid route for a request. HEAD is guarded by the GET route of its path,
    /// because frameworks (axum among them) answer HEAD with the GET handler.
    pub(crate) fn route(&self, method: &http::Method, path: &str) -> Option<&CompiledRoute> {
        let find = |m: &http::Method| {
            self.routes
                .iter()
                .find(|r| r.paid.http_method == *m && r.paid.path == path)
        };
        find(method).or_else(|| {
            (*method == http::Method::HEAD)
                .then(|| find(&http::Method::GET))
                .flatten()
        })
    }
}

/// Builds a [`PaywallLayer`].
///
/// ```
/// use std::sync::Arc;
/// use mpp_methods::preimage::Preimage;
/// use mpp_server::{Offer, PaidRoute, Paywall};
///
/// let layer = Paywall::builder(b"a 32-byte secret from your vault!", "api.example.com")
///     .unwrap()
///     .route(
///         PaidRoute::new(http::Method::GET, "/paid")
///             .offer(Offer::charge(Arc::new(Preimage), Preimage::request("1000", "usd", "acct_1", "s3cret")))
///             .description("One paid call"),
///     )
///     .build()
///     .unwrap();
/// # let _ = layer;
/// ```
pub struct PaywallBuilder {
    binder: ChallengeBinder,
    realm: Realm<'static>,
    routes: Vec<PaidRoute>,
    store: Arc<dyn Store>,
    max_body: usize,
    discovery: Option<ServiceInfo>,
    clock: Clock,
    mint_limit: MintLimit,
}

impl fmt::Debug for PaywallBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaywallBuilder")
            .field("realm", &self.realm.as_str())
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

/// Entry point of the configuration.
#[derive(Debug)]
pub struct Paywall;

impl Paywall {
    /// A paywall for `realm` whose challenges are bound with `secret` (at least 32
    /// bytes; keep it in a vault, never log it).
    pub fn builder(secret: impl AsRef<[u8]>, realm: &str) -> Result<PaywallBuilder, ConfigError> {
        let secret = Secret::new(secret).map_err(ConfigError::Secret)?;
        let realm = Realm::new(realm).map_err(ConfigError::Realm)?.into_owned();
        Ok(PaywallBuilder {
            binder: ChallengeBinder::new(secret),
            realm,
            routes: Vec::new(),
            store: Arc::new(MemoryStore::default()),
            max_body: DEFAULT_MAX_BODY,
            discovery: None,
            clock: Arc::new(system_clock),
            mint_limit: MintLimit::default(),
        })
    }
}

impl PaywallBuilder {
    /// Keeps verifying challenges issued under a previous secret (rotation).
    pub fn previous_secret(
        mut self,
        secret: impl AsRef<[u8]>,
    ) -> Result<PaywallBuilder, ConfigError> {
        let secret = Secret::new(secret).map_err(ConfigError::Secret)?;
        self.binder = self.binder.with_previous(secret);
        Ok(self)
    }

    /// Adds a paid route.
    pub fn route(mut self, route: PaidRoute) -> PaywallBuilder {
        self.routes.push(route);
        self
    }

    /// Uses `store` for claims and idempotent responses (default: a [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> PaywallBuilder {
        self.store = store;
        self
    }

    /// The largest request body buffered for digest binding; larger bodies get 413.
    pub fn max_body_bytes(mut self, max: usize) -> PaywallBuilder {
        self.max_body = max;
        self
    }

    /// Serves `GET /openapi.json`, generated from the routes, with this service info.
    pub fn discovery(mut self, info: ServiceInfo) -> PaywallBuilder {
        self.discovery = Some(info);
        self
    }

    /// Bounds how many 402s mint terms per challenge (a fresh invoice each), in all
    /// and per client (default: [`MintLimit::default`]); beyond it, 429.
    pub fn mint_limit(mut self, limit: MintLimit) -> PaywallBuilder {
        self.mint_limit = limit;
        self
    }

    /// Reads the time from `clock` instead of the system clock (for tests).
    pub fn clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> PaywallBuilder {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(self) -> Result<PaywallLayer, ConfigError> {
        let openapi = self.discovery.as_ref().map(|info| {
            let document = openapi::document(info, &self.routes);
            bytes::Bytes::from(serde_json::to_vec(&document).unwrap_or_default())
        });
        let routes = self
            .routes
            .into_iter()
            .map(|paid| {
                let engine = paid.engine_route()?;
                Ok(CompiledRoute {
                    mints: engine.offers.iter().any(|o| o.is_per_challenge()),
                    engine,
                    paid,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(PaywallLayer::new(Arc::new(Shared {
            engine: server::Paywall::new(self.binder, self.realm),
            clock: self.clock,
            routes,
            ledger: SessionLedger::new(self.store.clone()),
            store: self.store,
            max_body: self.max_body,
            minting: Minting::new(self.mint_limit),
            openapi,
        })))
    }
}
