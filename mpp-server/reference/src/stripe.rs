//! The Stripe route, served when the reference server is given a Stripe secret key:
//! `GET /paid-stripe`, 5.00 usd (500 cents) in `stripe/charge`, settled as a
//! PaymentIntent through the configured API (Stripe's, or a stand-in's). A test key
//! moves no real money.

use std::path::Path;
use std::sync::Arc;

use mpp_methods::stripe::{
    DEFAULT_API_BASE, DEFAULT_TIMEOUT, StripeApi, StripeCharge, StripeSecretKey, StripeTerms,
    stripe_minimum_amount,
};
use mpp_server::{ChargeOffer, PaidRoute};

/// The price of `/paid-stripe`, in cents.
pub const STRIPE_PRICE_CENTS: u128 = 500;

/// The network id the route's terms name unless configured otherwise.
pub const DEFAULT_NETWORK_ID: &str = "net_mpp_reference";

/// Where the Stripe route is paid.
#[derive(Clone, Debug)]
pub struct StripeConfig {
    /// Stripe, with the server's secret key.
    pub api: StripeApi,
    /// The seller's network id, in the terms (`methodDetails.networkId`).
    pub network_id: String,
}

impl StripeConfig {
    /// The route paid with the secret key in `key_file` (or, without one, in
    /// `MPP_STRIPE_KEY`), through the API at `api_base` (default Stripe's). The
    /// errors name the flag, never the key.
    pub fn from_flags(
        key_file: Option<&Path>,
        api_base: Option<&str>,
        network_id: Option<&str>,
    ) -> Result<StripeConfig, String> {
        let key = match key_file {
            Some(path) => {
                StripeSecretKey::from_file(path).map_err(|e| format!("--stripe-key-file: {e}"))?
            }
            None => StripeSecretKey::from_env("MPP_STRIPE_KEY")
                .map_err(|e| format!("MPP_STRIPE_KEY: {e}"))?,
        };
        let api = StripeApi::with_base(key, api_base.unwrap_or(DEFAULT_API_BASE), DEFAULT_TIMEOUT)
            .map_err(|e| format!("--stripe-api: {e}"))?;
        Ok(StripeConfig {
            api,
            network_id: network_id.unwrap_or(DEFAULT_NETWORK_ID).into(),
        })
    }
}

/// The paid route of `config`. Its terms are above Stripe's minimum for usd
/// ([`stripe_minimum_amount`], which the charge also enforces on every credential).
pub(crate) fn paid_route(config: &StripeConfig, route: impl Fn(&str) -> PaidRoute) -> PaidRoute {
    let charge = StripeCharge::new(config.api.clone()).minimum_amounts(stripe_minimum_amount);
    let terms = StripeTerms::new(STRIPE_PRICE_CENTS, "usd", &config.network_id);
    route("/paid-stripe")
        .offer(ChargeOffer::new(Arc::new(charge), terms.to_request()))
        .description("A paid GET (stripe, 5.00 usd)")
}
