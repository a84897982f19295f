//! Building a paywall: [`PaywallLayer::builder`] takes the secrets, the realm and the
//! paid routes, checks them, and makes the [`PaywallLayer`].

use std::fmt;
use std::sync::Arc;

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::method::{SessionMethod, Terms};
use mpp_core::server::{self, RouteOffer};
use mpp_core::time::{Clock, system_clock};
use mpp_core::value::{MethodName, Realm};
use mpp_core::{BindingError, ParseError};

use crate::layer::PaywallLayer;
use crate::mint::{MintLimit, Minting};
use crate::openapi::{self, ServiceInfo};
use crate::route::{CompiledCall, CompiledRoute, PaidOffer, PaidRoute, PricedCall};
use crate::service::Shared;
use crate::session::{SessionContext, SessionLedger};
use crate::store::{MemoryStore, Store};

/// The default limit on a buffered request body (D11).
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

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

/// Builds a [`PaywallLayer`].
///
/// ```
/// use std::sync::Arc;
/// use mpp_methods::preimage::Preimage;
/// use mpp_server::{ChargeOffer, PaidRoute, PaywallLayer};
///
/// let layer = PaywallLayer::builder(b"a 32-byte secret from your vault!", "api.example.com")
///     .unwrap()
///     .route(
///         PaidRoute::new(http::Method::GET, "/paid")
///             .offer(ChargeOffer::new(Arc::new(Preimage), Preimage::request("1000", "usd", "acct_1", "s3cret")))
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
    calls: Vec<PricedCall>,
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

impl PaywallLayer {
    /// The builder of a paywall for `realm` whose challenges are bound with `secret` (at least 32
    /// bytes; keep it in a vault, never log it).
    pub fn builder(secret: impl AsRef<[u8]>, realm: &str) -> Result<PaywallBuilder, ConfigError> {
        let secret = Secret::new(secret).map_err(ConfigError::Secret)?;
        let realm = Realm::new(realm).map_err(ConfigError::Realm)?.into_owned();
        Ok(PaywallBuilder {
            binder: ChallengeBinder::new(secret),
            realm,
            routes: Vec::new(),
            calls: Vec::new(),
            store: Arc::new(MemoryStore::default()),
            max_body: DEFAULT_MAX_BODY,
            discovery: None,
            clock: system_clock(),
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

    /// Adds a priced JSON-RPC method or MCP tool, served by
    /// [`PaywallLayer::jsonrpc`].
    pub fn call(mut self, call: PricedCall) -> PaywallBuilder {
        self.calls.push(call);
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

    /// Reads the time from `clock` instead of the system clock (for tests: a
    /// [`ManualClock`](mpp_core::time::ManualClock)'s `clock()`, say).
    pub fn clock(mut self, clock: Clock) -> PaywallBuilder {
        self.clock = clock;
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
            .map(compile)
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let mut calls: Vec<CompiledCall> = Vec::with_capacity(self.calls.len());
        for call in self.calls {
            let (operation, bind_arguments, route) = call.into_route();
            if calls.iter().any(|c| c.operation == operation) {
                return Err(ConfigError::Route(format!(
                    "the {operation} is priced twice"
                )));
            }
            if route.sessions.iter().any(|o| o.streaming) {
                return Err(ConfigError::Route(format!(
                    "the {operation} has a streaming session offer; JSON-RPC calls are billed one unit each"
                )));
            }
            if operation == crate::route::Operation::Method("tools/call".into()) {
                return Err(ConfigError::Route(
                    "price MCP tools with `PricedCall::tool`, not the method `tools/call`".into(),
                ));
            }
            calls.push(CompiledCall {
                operation,
                bind_arguments,
                route: compile(route)?,
            });
        }
        let sessions = SessionContext {
            ledger: SessionLedger::new(self.store.clone()),
            store: self.store.clone(),
            clock: self.clock.clone(),
            methods: session_methods(routes.iter().chain(calls.iter().map(|c| &c.route))),
        };
        Ok(PaywallLayer::new(Arc::new(Shared {
            engine: server::Paywall::new(self.binder, self.realm),
            clock: self.clock,
            routes,
            calls,
            store: self.store,
            sessions,
            max_body: self.max_body,
            minting: Minting::new(self.mint_limit),
            openapi,
        })))
    }
}

/// The first session offer's method of each name, in route order (the paid routes,
/// then the priced calls): what refunds the
/// sessions that method opened.
fn session_methods<'a>(
    routes: impl Iterator<Item = &'a CompiledRoute>,
) -> Vec<Arc<dyn SessionMethod>> {
    let mut methods: Vec<Arc<dyn SessionMethod>> = Vec::new();
    for offer in routes.flat_map(CompiledRoute::sessions) {
        if !methods.iter().any(|m| m.name() == offer.method.name()) {
            methods.push(offer.method.clone());
        }
    }
    methods
}

/// Checks `paid` and makes the route the paywall serves: its offers in one list,
/// the charge offers then the session offers, which the engine numbers the same.
fn compile(paid: PaidRoute) -> Result<CompiledRoute, ConfigError> {
    let route =
        |detail: String| ConfigError::Route(format!("{} {}{detail}", paid.http_method, paid.path));
    if paid.offers.is_empty() && paid.sessions.is_empty() {
        return Err(route(" has no offer".into()));
    }
    if let Some(bad) = paid.sessions.iter().find(|o| o.unit_price().is_none()) {
        return Err(route(format!(
            ": the {} session offer needs `amount`, the price of a unit, as a positive base-10 integer string",
            bad.method.name()
        )));
    }
    if let Some(bad) = paid.sessions.iter().find(|o| o.currency().is_empty()) {
        return Err(route(format!(
            ": the {} session offer needs `currency`, which its accounts are kept in",
            bad.method.name()
        )));
    }
    let control = |c: char| c.is_control() && c != '\t';
    if paid
        .description
        .as_deref()
        .is_some_and(|d| d.chars().any(control))
    {
        return Err(route(
            ": the description has a control character, which no header can carry".into(),
        ));
    }
    let PaidRoute {
        http_method,
        path,
        offers,
        sessions,
        description,
        ttl,
        credential_field,
        bind_query,
        realm,
    } = paid;
    let offers: Vec<PaidOffer> = offers
        .into_iter()
        .map(PaidOffer::Charge)
        .chain(sessions.into_iter().map(PaidOffer::Session))
        .collect();
    let engine_offers = offers
        .iter()
        .map(|offer| {
            let name = offer.method_name();
            let method = MethodName::from_string(name.to_owned())
                .map_err(|e| ConfigError::Route(format!("method {name:?}: {e}")))?;
            let (intent, request) = (offer.intent(), offer.request().clone());
            Ok(match offer.terms() {
                Terms::Fixed => RouteOffer::new(method, intent, request),
                Terms::PerChallenge { pinned } => {
                    RouteOffer::per_challenge(method, intent, request, pinned)
                }
            })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let engine = server::Route {
        offers: engine_offers,
        description,
        ttl_secs: ttl.as_secs(),
        credential_field,
        bind_query,
        realm: realm
            .map(Realm::from_string)
            .transpose()
            .map_err(ConfigError::Realm)?,
    };
    Ok(CompiledRoute {
        mints: engine.offers.iter().any(|o| o.is_per_challenge()),
        engine,
        http_method,
        path,
        offers,
    })
}
