//! `tempo/charge` between mppx 0.11.0 (the TypeScript reference SDK) and this
//! project, paid for real on a local Tempo chain: mppx's own `tempo` client pays the
//! reference server's `/paid-tempo` routes in every mode, and nothing pays twice.

use std::sync::Arc;

use mpp_methods::tempo::{Address, HttpRpc, PrivateKey};
use mpp_reference_server::tempo::{PATH_USD, TEMPO_PRICE, TempoConfig};
use mpp_reference_server::{ReferenceConfig, Spawned, spawn};
use mpp_test_support::mppx;
use mpp_test_support::tempo::{self, DEV_KEYS, TempoChain};
use serde_json::Value;

const CHAIN_ID: u64 = 42431;

/// A chain, and the reference server paid on it, to `recipient`; the sponsored
/// route's fees are paid by the third development account.
async fn server_on(chain: &TempoChain, recipient: &str) -> Spawned {
    let mut config = ReferenceConfig::new("a-reference-secret-of-at-least-32-bytes", "s3cret");
    config.tempo = Some(TempoConfig {
        rpc: Arc::new(HttpRpc::new(&chain.rpc_url()).unwrap()),
        chain_id: chain.chain_id,
        recipient: Address::from_hex(recipient).unwrap(),
        currency: Address::from_hex(PATH_USD).unwrap(),
        fee_payer: Some(PrivateKey::from_hex(DEV_KEYS[2].1).unwrap()),
    });
    spawn(&config).await.unwrap()
}

/// What `tempo-pay.mjs` reported.
struct Paid {
    report: Value,
    run: String,
}

/// mppx pays `url` from `payer_key` in `mode` (`push` or `pull`).
async fn mppx_pays(
    chain: &TempoChain,
    url: String,
    mode: &'static str,
    payer_key: &'static str,
) -> Paid {
    let dir = mppx::harness_dir();
    let rpc = chain.rpc_url();
    let chain_id = chain.chain_id.to_string();
    tokio::task::spawn_blocking(move || {
        let run = mppx::node(
            &dir,
            &["tempo-pay.mjs", &url, mode],
            &[
                ("RPC_URL", &rpc),
                ("CHAIN_ID", &chain_id),
                ("PAYER_KEY", payer_key),
            ],
        );
        let report = serde_json::from_str(run.stdout.trim()).unwrap_or(Value::Null);
        Paid {
            report,
            run: run.report(),
        }
    })
    .await
    .unwrap()
}

/// Sends `authorization` again to `url`: a replayed credential.
async fn replay(url: &str, authorization: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn mppx_pays_in_mode(mode: &'static str, path: &str, recipient: &str) {
    let Some(anvil) = tempo::anvil_or_skip("mppx_pays_the_reference_server") else {
        return;
    };
    if mppx::harness_or_skip("mppx_pays_the_reference_server").is_none() {
        return;
    }
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let server = server_on(&chain, recipient).await;
    // pathUSD of the recipient; all four stablecoins of the payer and the sponsor,
    // since the chain takes fees in a token of its choosing when none is named.
    let all_tokens = |holder: &str| -> u128 {
        (0..4)
            .map(|i| {
                let token = format!("0x20c00000000000000000000000000000000000{i:02x}");
                chain.token_balance(&token, holder).unwrap()
            })
            .sum()
    };
    let balances = || {
        [
            chain.token_balance(PATH_USD, recipient).unwrap(),
            all_tokens(DEV_KEYS[0].0),
            all_tokens(DEV_KEYS[2].0),
        ]
    };
    let [before, payer_before, sponsor_before] = balances();
    let paid = mppx_pays(&chain, server.url(path), mode, DEV_KEYS[0].1).await;
    let report = &paid.report;
    assert_eq!(report["status"], 200, "{}", paid.run);
    let proof = path.ends_with("proof");
    let expected_type = match mode {
        _ if proof => "proof",
        "push" => "hash",
        _ => "transaction",
    };
    assert_eq!(report["payloadType"], expected_type, "{}", paid.run);
    // req: tempo-charge.receipt.reference
    let reference = report["receipt"]["reference"].as_str().unwrap().to_owned();
    let price = if proof { 0 } else { TEMPO_PRICE };
    if !proof {
        let receipt = chain
            .rpc("eth_getTransactionReceipt", serde_json::json!([reference]))
            .unwrap();
        assert_eq!(receipt["status"], "0x1", "{receipt}");
    }
    let [after, payer_after, sponsor_after] = balances();
    assert_eq!(after, before + price, "the recipient got the price, once");
    // Who paid the fees: the sponsor on the sponsored route, the payer elsewhere.
    let sponsored = path.ends_with("sponsored");
    assert_eq!(
        payer_before - payer_after == price,
        sponsored || proof,
        "payer: {payer_before} -> {payer_after}"
    );
    assert_eq!(
        sponsor_after < sponsor_before,
        sponsored,
        "sponsor: {sponsor_before} -> {sponsor_after}"
    );
    // The same credential again: refused, and nothing more is paid.
    let authorization = report["authorization"].as_str().unwrap();
    let (status, body) = replay(&server.url(path), authorization).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(
        chain.token_balance(PATH_USD, recipient).unwrap(),
        before + price
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_pays_in_push_mode() {
    mppx_pays_in_mode(
        "push",
        "/paid-tempo",
        "0x00000000000000000000000000000000000e0001",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_pays_in_pull_mode() {
    mppx_pays_in_mode(
        "pull",
        "/paid-tempo",
        "0x00000000000000000000000000000000000e0002",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_pays_with_the_server_paying_the_fees() {
    // req: tempo-charge.fee-payer.client-placeholder
    mppx_pays_in_mode(
        "pull",
        "/paid-tempo-sponsored",
        "0x00000000000000000000000000000000000e0003",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_proves_its_account_for_a_zero_amount() {
    mppx_pays_in_mode(
        "pull",
        "/paid-tempo-proof",
        "0x00000000000000000000000000000000000e0004",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_offering_one_mode_says_so() {
    // req: tempo-charge.modes.advertise-subset
    let Some(anvil) = tempo::anvil_or_skip("a_route_offering_one_mode_says_so") else {
        return;
    };
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let server = server_on(&chain, "0x00000000000000000000000000000000000e0005").await;
    for (path, modes) in [
        ("/paid-tempo", None),
        ("/paid-tempo-sponsored", Some(serde_json::json!(["pull"]))),
    ] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(response.status(), 402);
        let header = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        let challenge = mpp_core::challenge::Challenge::parse(header.as_bytes()).unwrap();
        let request = challenge.request.decode().unwrap();
        assert_eq!(
            request["methodDetails"].get("supportedModes").cloned(),
            modes,
            "{path}"
        );
    }
}
