//! A tower/axum paywall over mpp-core's server engine: it answers unpaid requests to
//! paid routes with 402 and a challenge, verifies and settles credentials once each
//! (claims kept in a [`Store`]: in memory, or with the `sqlite`, `redis` and
//! `postgres` features in SQLite, Redis or PostgreSQL), meters sessions, and serves discovery (`/openapi.json`).
//! The same paywall prices JSON-RPC methods and MCP tools ([`PricedCall`],
//! [`JsonRpcPaywall`]; in an rmcp server with the `mcp` feature).
//!
//! The reference server built on it is the workspace package `mpp-reference-server`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use mpp_methods::preimage::Preimage;
//! use mpp_server::{ChargeOffer, PaidRoute, PaywallLayer, VerifiedPayment};
//!
//! async fn paid(payment: VerifiedPayment) -> String {
//!     format!("paid with {}", payment.receipt.method)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let paywall = PaywallLayer::builder(b"a 32-byte secret from your vault!", "api.example.com")?
//!     .route(
//!         PaidRoute::new(http::Method::GET, "/paid")
//!             .offer(ChargeOffer::new(Arc::new(Preimage), Preimage::request("1000", "usd", "acct_1", "s3cret"))),
//!     )
//!     .build()?;
//! let app = Router::new().route("/paid", get(paid)).layer(paywall);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8402").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

//! # Layers
//!
//! The modules are stacked in tower's shape; each uses only its own layer or the ones
//! below it, without cycles (`tests/layering.rs` checks this):
//!
//! 1. `route`, `body`: the route data (paid routes, offers, prices) and
//!    the plain types everything speaks;
//! 2. `store`: where what outlives a request is kept;
//! 3. `claim`, `replay`, `mint`, `respond`: single-use claims, responses kept for
//!    retries, the minting limit, the responses the paywall writes itself;
//! 4. `openapi`, `session`: the discovery document and the session intent, each
//!    given only what it needs (routes; a `SessionContext`);
//! 5. `service`, `jsonrpc`: the tower service and the state it shares, one path per
//!    kind of offer (charge, session); the same paywall for JSON-RPC and MCP calls;
//! 6. `layer`, `mcp`: the tower layer, and the idle-session sweep; the paywall in
//!    an rmcp server;
//! 7. `builder`, `extract`, `guard`: building a paywall; the axum extractor; the
//!    JSON-RPC guard in front of an MCP server's endpoint.

mod body;
mod builder;
mod claim;
#[cfg(feature = "axum")]
mod extract;
pub mod guard;
pub mod jsonrpc;
pub mod layer;
#[cfg(feature = "mcp")]
pub mod mcp;
mod mint;
pub mod openapi;
mod replay;
mod respond;
mod route;
mod service;
pub mod session;
pub mod store;

pub use builder::{ConfigError, DEFAULT_MAX_BODY, PaywallBuilder};
pub use guard::JsonRpcGuardLayer;
pub use jsonrpc::{JsonRpcPaywall, JsonRpcService};
pub use layer::{PaywallBody, PaywallLayer, PaywallService, VerifiedPayment};
pub use mint::{ClientKey, MintLimit, MintRate};
pub use openapi::ServiceInfo;
pub use replay::MAX_REPLAY_BODY;
pub use route::{ChargeOffer, Operation, PaidRoute, PricedCall, SessionOffer};
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{MemoryStore, Store, StoreError, StoreReferences};
#[cfg(feature = "postgres")]
pub use store::{PostgresOptions, PostgresStore};
#[cfg(feature = "redis")]
pub use store::{RedisOptions, RedisStore};
