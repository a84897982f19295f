//! A paying HTTP client over mpp-core's client engine, and the `mpp` CLI.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mpp_core::client::{SpendingPolicy, Wallet};
//! use mpp_client::PayingClient;
//! use mpp_methods::preimage::PreimagePayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = SpendingPolicy {
//!     max_per_request: vec![("usd".into(), 1000)],
//!     budget: vec![("usd".into(), 10_000)],
//!     ..SpendingPolicy::default()
//! };
//! let wallet = Wallet::new(policy).with_method(Arc::new(PreimagePayer::new("s3cret")), 1000);
//! let client = PayingClient::new(wallet)?;
//! let response = client.get("https://api.example.com/paid").await?;
//! if let Some(receipt) = &response.receipt {
//!     println!("paid with {} at {}", receipt.method, receipt.timestamp);
//! }
//! # Ok(())
//! # }
//! ```

pub mod explain;
#[cfg(feature = "mcp")]
pub mod mcp;
mod pay;
mod paying;
pub mod terms;
#[cfg(feature = "lightning")]
pub mod testnet;

/// The workspace README's quick starts, compiled as doc tests (this crate sees both the
/// server and the client).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub use paying::{
    ClientOptions, PaidRequest, PaidResponse, PayingClient, PayingError, PaymentKind, PaymentMade,
    origin_of,
};
