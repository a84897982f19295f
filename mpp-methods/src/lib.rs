//! Payment methods implementing mpp-core's method traits, one feature-gated module each.
//!
//! | feature | method | what it is |
//! |---|---|---|
//! | `preimage` | `preimage` | A **test method**, not a payment: the payer reveals a preimage whose SHA-256 the challenge names. Interoperates with the offline mppx kit. |
//! | `token` | `token` | A **test method**, not a payment: the payer presents a shared token. Interoperates with the offline mppx kit. |
//! | `lightning` | `lightning` | `lightning/charge` (draft-lightning-charge-00) and `lightning/session` (draft-lightning-session-00: deposit, bearer use, top-up, close with a refund): real BOLT11 invoices, paid on the Lightning Network through a [`LightningNode`](lightning::LightningNode); an in-process test node. Needs `std`. |
//! | `lightning-nodes` | `lightning` | The same against a real node: `LndNode` (LND's REST API, macaroon, the node's certificate pinned) and `ClnNode` (Core Lightning's `clnrest`, rune). Adds an HTTP client (reqwest with rustls). |
//! | `tempo` | `tempo` | `tempo/charge` (draft-tempo-charge-00): TIP-20 stablecoin payments on a Tempo chain over JSON-RPC, push, pull, fee-sponsored and zero-amount proofs; server ([`TempoCharge`](tempo::TempoCharge)) and client ([`TempoPayer`](tempo::TempoPayer)). Needs `std`. |
//! | `stripe` | `stripe` | `stripe/charge` (draft-stripe-charge-00): card payments through Stripe with Shared Payment Tokens; server ([`StripeCharge`](stripe::StripeCharge), one PaymentIntent per challenge at most) and client ([`StripePayer`](stripe::StripePayer)). Needs `std`. |
#![no_std]

extern crate alloc;
#[cfg(any(feature = "lightning", feature = "tempo", feature = "stripe"))]
extern crate std;

#[cfg(any(feature = "preimage", feature = "lightning", feature = "tempo"))]
mod hex;
#[cfg(feature = "lightning")]
pub mod lightning;
#[cfg(feature = "preimage")]
pub mod preimage;
#[cfg(feature = "stripe")]
pub mod stripe;
#[cfg(feature = "tempo")]
pub mod tempo;
#[cfg(any(feature = "lightning", feature = "tempo", feature = "stripe"))]
mod terms;
#[cfg(any(feature = "lightning", feature = "tempo", feature = "stripe"))]
pub use terms::TermsError;
#[cfg(feature = "token")]
pub mod token;
