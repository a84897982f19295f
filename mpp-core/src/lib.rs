//! Sans-I/O core of the "Payment" HTTP authentication scheme: grammar, typed values, challenge binding and decision engines.
//!
//! `mpp-core` implements draft-httpauth-payment-01 without doing any I/O, reading any
//! clock or drawing any randomness: time and secrets are passed in. It is `no_std`
//! (with `alloc`) and builds for `wasm32-unknown-unknown`.
//!
//! The types most users need are re-exported here at the root; the modules hold the
//! rest (iterators, limits, the `intent` state machines, a refusal's details).
//!
//! | Module | What it does |
//! |---|---|
//! | [`challenge`] | `WWW-Authenticate: Payment …` challenges: parse (borrowing), format |
//! | [`credential`] | `Authorization: Payment …` credentials, and finding every one in a request |
//! | [`receipt`] | `Payment-Receipt` values |
//! | [`binding`] | HMAC-SHA256 challenge ids, several secrets for rotation |
//! | [`digest`] | RFC 9530 `Content-Digest` for binding a request body |
//! | [`accept`] | `Accept-Payment` preferences and ranking a server's offers |
//! | [`problem`] | the eleven problem types and RFC 9457 bodies |
//! | [`jsonrpc`] | the same messages over JSON-RPC 2.0 and MCP, and the conversions |
//! | [`server`] | the server engine: 402, verify, or reject, decided without I/O |
//! | [`client`] | the client engine: which challenge to pay, under a spending policy |
//! | [`method`] | what a payment method implements (charge and session intents) |
//! | [`intent`] | the charge and session state machines |
//! | [`base64`], [`jcs`], [`json`] | the encodings the scheme is built on |
//! | [`value`], [`time`] | validated identifiers, amounts and RFC 3339 timestamps |
//!
//! # Layers
//!
//! Modules import only from the layers below them (and, inside a layer, without a
//! cycle); `tests/layering.rs` holds the same table and fails on an upward import.
//!
//! 1. Foundation: `scan` (byte classes), `problem_type`, `error`. Errors sit
//!    this low because every parser above returns them.
//! 2. Encodings: `base64`, `json`, `jcs`, `grammar` (RFC 9110 auth syntax).
//! 3. Vocabulary: `options` ([`ParseOptions`]), `time`, `value`.
//! 4. Bindings: `digest` (body digests), `binding` (the HMAC over a challenge's
//!    slots, which issuing a challenge needs, so it sits below the messages).
//! 5. Messages: `challenge` (with [`challenge::CredentialField`]), `credential`, `receipt`,
//!    `accept`, `problem` (bodies and [`problem::SpecificProblem`]), and `jsonrpc`
//!    (the same messages in JSON-RPC's form, built on the others).
//! 6. Checks: `verify`, the stateless echo check.
//! 7. Intents and methods: `intent`, `method`.
//! 8. Engines: `server`, `client`.
//!
//! Parsing is strict by default (decision D4 of the project's design): every
//! leniency is a named switch in [`ParseOptions`], off unless asked for. Every
//! malformed input gets a [`ParseError`] naming what is wrong and at which byte, in
//! time linear in the input.
//!
//! ```
//! use mpp_core::Challenge;
//!
//! let header = br#"Payment id="x7Tg2pLq", realm="api.example.com", method="tempo", intent="charge", request="eyJhbW91bnQiOiIxMDAwIn0""#;
//! let challenge = Challenge::parse(header).unwrap();
//! assert_eq!(challenge.method, "tempo");
//! assert_eq!(challenge.request.decode().unwrap()["amount"], "1000");
//! ```
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// Foundation.
mod error;
mod problem_type;
mod scan;

// Encodings.
pub mod base64;
#[doc(hidden)] // The generic RFC 9110 reader; public only for mpp-client's `explain`.
pub mod grammar;
pub mod jcs;
pub mod json;

// Vocabulary.
mod options;
pub mod time;
pub mod value;

// Bindings.
pub mod binding;
pub mod digest;

// Messages.
pub mod accept;
pub mod challenge;
pub mod credential;
pub mod jsonrpc;
pub mod problem;
pub mod receipt;

// Checks.
#[doc(hidden)] // Run by the server engine; public only for the conformance adapter.
pub mod verify;

// Intents and methods.
pub mod intent;
pub mod method;

// Engines.
pub mod client;
pub mod server;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use accept::{AcceptPayment, PaymentRange, Weight};
pub use binding::{BindingInput, ChallengeBinder, ComputedId, MIN_SECRET_LEN, Secret};
pub use challenge::{Challenge, ChallengeBuilder, Challenges, CredentialField, SCHEME};
pub use client::{Choice, Declined, Origin, PayError, PayMethod, Payment, SpendingPolicy, Wallet};
pub use credential::{Credential, FoundCredential, find_credentials};
pub use digest::{ContentDigest, DigestAlgorithm};
pub use error::{BindingError, Fault, FormatError, Param, ParseError, ParseErrorKind};
pub use json::JsonObject;
pub use method::{BoxFuture, Charge, ChargeMethod, MethodError, SessionMethod, Settlement, Terms};
pub use options::ParseOptions;
pub use problem::{Problem, ProblemType, SpecificProblem};
pub use receipt::Receipt;
pub use server::{Evaluation, PaymentRequest, Paywall, Pending, Reply, Route, RouteOffer};
#[cfg(feature = "std")]
pub use time::system_clock;
pub use time::{Clock, ManualClock, Timestamp, UnixTime};
pub use value::{Amount, Base64Json, ChallengeId, IntentName, MethodName, Opaque, Realm};
