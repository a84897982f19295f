//! The Tempo routes, served when the reference server is given a Tempo node: real
//! `tempo/charge` payments on whatever chain that node serves (a local one in the
//! tests).
//!
//! `GET /paid-tempo` sells for [`TEMPO_PRICE`] base units of the configured token,
//! in pull or push mode; `GET /paid-tempo-sponsored`, served when a fee payer key is
//! configured, sells the same in pull mode with the server paying the fees;
//! `GET /paid-tempo-proof` costs nothing, and is answered with a zero-amount proof of
//! the payer's account. Spent transaction hashes are recorded in the server's store.

use std::sync::Arc;

use mpp_methods::tempo::{
    Address, HttpRpc, Mode, PrivateKey, SponsorPolicy, TempoCharge, TempoRpc, TempoTerms,
    node_chain_id,
};
use mpp_server::{ChargeOffer, PaidRoute, Store, StoreReferences};

/// The price of the Tempo routes: 10,000 base units (0.01 of a 6-decimal token).
pub const TEMPO_PRICE: u128 = 10_000;

/// pathUSD, the token the Tempo routes ask for unless configured otherwise.
pub const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";

/// Where the Tempo routes are paid.
#[derive(Clone)]
pub struct TempoConfig {
    /// The node.
    pub rpc: Arc<dyn TempoRpc>,
    /// The chain it serves.
    pub chain_id: u64,
    /// Who is paid.
    pub recipient: Address,
    /// The TIP-20 token asked for.
    pub currency: Address,
    /// The key paying the fees of `/paid-tempo-sponsored`; without one that route
    /// is not served.
    pub fee_payer: Option<PrivateKey>,
}

impl std::fmt::Debug for TempoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempoConfig")
            .field("chain_id", &self.chain_id)
            .field("recipient", &self.recipient)
            .field("currency", &self.currency)
            .field("fee_payer", &self.fee_payer)
            .finish_non_exhaustive()
    }
}

impl TempoConfig {
    /// The routes paid through the node at `rpc_url`, on the chain it says it
    /// serves, to `recipient` in `currency` (default pathUSD), with fees paid by the
    /// key in `fee_payer_key_file` when one is given. The errors say which part is
    /// wrong, never showing a key or the URL.
    pub async fn connect(
        rpc_url: &str,
        recipient: &str,
        currency: Option<&str>,
        fee_payer_key_file: Option<&std::path::Path>,
    ) -> Result<TempoConfig, String> {
        let rpc: Arc<dyn TempoRpc> =
            Arc::new(HttpRpc::new(rpc_url).map_err(|e| format!("--tempo-rpc: {e}"))?);
        let chain_id = node_chain_id(rpc.as_ref())
            .await
            .map_err(|e| format!("--tempo-rpc: {e}"))?;
        let address = |text: &str, flag: &str| {
            Address::from_hex(text)
                .ok_or_else(|| format!("{flag}: not an address (0x and 40 hex digits)"))
        };
        let fee_payer = match fee_payer_key_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "--tempo-fee-payer-key-file: cannot read {}: {e}",
                        path.display()
                    )
                })?;
                Some(
                    PrivateKey::from_hex(&text)
                        .map_err(|e| format!("--tempo-fee-payer-key-file: {e}"))?,
                )
            }
        };
        Ok(TempoConfig {
            rpc,
            chain_id,
            recipient: address(recipient, "--tempo-recipient")?,
            currency: address(currency.unwrap_or(PATH_USD), "--tempo-currency")?,
            fee_payer,
        })
    }
}

/// The paid routes of `config` and their paths, with charges recording spent hashes
/// in `store`.
pub(crate) fn paid_routes(
    config: &TempoConfig,
    store: Arc<dyn Store>,
    route: impl Fn(&str) -> PaidRoute,
) -> Vec<(&'static str, PaidRoute)> {
    let charge = |sponsored: bool| {
        let mut charge = TempoCharge::new(config.rpc.clone(), config.chain_id)
            .used_references(Arc::new(StoreReferences::new(store.clone())));
        if let (true, Some(key)) = (sponsored, &config.fee_payer) {
            charge = charge.fee_payer(key.clone(), SponsorPolicy::new(config.currency));
        }
        Arc::new(charge)
    };
    let terms = TempoTerms::new(
        TEMPO_PRICE,
        config.currency,
        config.recipient,
        config.chain_id,
    );
    let mut routes = vec![(
        "/paid-tempo",
        route("/paid-tempo")
            .offer(ChargeOffer::new(charge(false), terms.to_request()))
            .description("A paid GET (tempo, pull or push)"),
    )];
    let mut free = terms.clone();
    free.amount = 0;
    routes.push((
        "/paid-tempo-proof",
        route("/paid-tempo-proof")
            .offer(ChargeOffer::new(charge(false), free.to_request()))
            .description("A GET for any Tempo account that proves itself (no payment)"),
    ));
    if config.fee_payer.is_some() {
        let mut sponsored = terms;
        sponsored.fee_payer = true;
        sponsored.supported_modes = Some(vec![Mode::Pull]);
        routes.push((
            "/paid-tempo-sponsored",
            route("/paid-tempo-sponsored")
                .offer(ChargeOffer::new(charge(true), sponsored.to_request()))
                .description("A paid GET (tempo, pull, the server paying the fees)"),
        ));
    }
    routes
}
