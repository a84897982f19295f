//! `stripe/charge` (draft-stripe-charge-00): card payments through Stripe with
//! Shared Payment Tokens (SPTs), server and client halves, over Stripe's REST API.
//!
//! - [`StripeCharge`], the server half: turns a credential's token into one
//!   confirmed PaymentIntent, at most once per challenge (its idempotency key is the
//!   challenge id's), with optional Connect parameters from the server's
//!   configuration ([`StripeConnect`]) and minimum amounts.
//! - [`StripePayer`], the client half: mints a token limited to the challenge's
//!   amount, currency, seller and expiry from the user's payment method.
//!
//! Both reach Stripe through a [`StripeApi`]: the secret key ([`StripeSecretKey`],
//! from the environment or a file, never shown), the API base (Stripe's, or a
//! stand-in's), the `Stripe-Version` and a timeout.

mod api;
mod charge;
mod key;
mod payer;
mod terms;

/// The method's identifier.
pub const NAME: &str = "stripe";

pub use api::{
    ApiError, DEFAULT_API_BASE, DEFAULT_STRIPE_VERSION, DEFAULT_TIMEOUT, StripeApi, StripeError,
};
pub use charge::{
    StripeCharge, StripeChargeError, StripeConnect, read_payload, stripe_minimum_amount,
};
pub use key::{KeyError, StripeSecretKey};
pub use payer::{SptEndpoint, StripePayer};
pub use terms::{StripeTerms, TermsError};
