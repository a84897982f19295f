//! Mints paid credentials for the reference server's `GET /paid` ahead of a load
//! test (`mpp-server/reference/load/run.sh paid`): each answers a challenge of its
//! own, issued with the server's secret exactly as its 402 would issue it, and pays
//! it with the preimage test method. Minting them offline keeps the load generator
//! measuring the paid path alone, not 402s.
//!
//!     cargo run --release -p mpp-reference-server --example mint_credentials -- \
//!         SECRET PREIMAGE COUNT > credentials.txt
//!
//! One `Payment …` value per line; each is accepted once. Test method only: no
//! money moves.

use std::io::{BufWriter, Write};

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::server::{self, PaymentRequest, Route, RouteOffer};
use mpp_core::time::UnixTime;
use mpp_core::value::{IntentName, MethodName, Realm};
use mpp_methods::preimage::Preimage;
use mpp_reference_server::{AMOUNT, CURRENCY, RECIPIENT};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [secret, preimage, count] = args.as_slice() else {
        return Err("usage: mint_credentials SECRET PREIMAGE COUNT".into());
    };
    let count: usize = count.parse()?;
    let engine = server::Paywall::new(
        ChallengeBinder::new(Secret::new(secret)?),
        Realm::new("mpp-reference.test")?.into_owned(),
    );
    let mut route = Route::new(vec![RouteOffer::new(
        MethodName::new("preimage")?.into_owned(),
        IntentName::new("charge")?.into_owned(),
        Preimage::request(AMOUNT, CURRENCY, RECIPIENT, preimage),
    )]);
    // As long as a load run may last, and the description the route sets.
    route.ttl_secs = 3600;
    route.description = Some("A paid GET (preimage test method)".into());
    let request =
        PaymentRequest::from_headers::<[(&str, &[u8]); 0], _, _>("GET", "/paid", None, [], None);
    let now = UnixTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64,
    );
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), preimage.as_str().into());
    let mut out = BufWriter::new(std::io::stdout().lock());
    for i in 0..count {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
        nonce[8..].copy_from_slice(&now.secs().to_be_bytes());
        let challenge = engine
            .challenges(&route, &request, now, &nonce, &[])?
            .remove(0);
        let credential = Credential::answer(&challenge, payload.clone(), None);
        writeln!(out, "{}", credential.to_header())?;
    }
    out.flush()?;
    Ok(())
}
