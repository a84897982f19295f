//! The reference binary taking Lightning payments on a real node's REST API: started
//! with `--lnd-url/--lnd-macaroon-file/--lnd-cert-file` (or `--cln-url/--cln-rune-file`)
//! against the stand-ins of LND's and Core Lightning's APIs, its `/paid-lightning` is
//! paid by a `PayingClient` whose wallet is a node of the other kind; the test network
//! is then not served.

mod support;

use std::sync::Arc;

use mpp_client::PayingClient;
use mpp_core::client::{SpendingPolicy, Wallet};
use mpp_core::time::UnixTime;
use mpp_methods::lightning::{
    ClnNode, InvoiceBuilder, LightningPayer, LightningWallet, LndNode, Network, NodeKey,
    PaymentHash,
};
use mpp_test_support::cln::ClnStandIn;
use mpp_test_support::lightning::{InvoiceSpec, Ledger, Signer};
use mpp_test_support::lnd::LndStandIn;
use mpp_test_support::process::ServerProcess;
use support::server;

/// A stand-in's identity: a regtest node signing with mpp-methods' own BOLT11 code.
fn signer(key: u8) -> Signer {
    let node_key = NodeKey::from_bytes([key; 32]).unwrap();
    Signer {
        node_id: node_key.node_id().to_string(),
        network: "regtest".into(),
        sign: Arc::new(move |spec: &InvoiceSpec| {
            let mut builder = InvoiceBuilder::new(Network::Regtest)
                .timestamp(UnixTime::from_secs(spec.timestamp as i64))
                .payment_hash(PaymentHash::from_bytes(spec.payment_hash))
                .payment_secret(spec.payment_secret)
                .description(spec.description.clone())
                .expiry_secs(spec.expiry_secs)
                .include_payee();
            if let Some(msat) = spec.amount_msat {
                builder = builder.amount_msat(msat);
            }
            builder
                .sign(&node_key)
                .map(|i| i.as_str().to_string())
                .map_err(|e| e.to_string())
        }),
    }
}

fn reference(node_flags: &[&str]) -> ServerProcess {
    let mut args = vec![
        "--secret",
        "a-reference-secret-of-at-least-32-bytes",
        "--preimage",
        "unused",
    ];
    let db = server::state_file("lightning-nodes");
    let db = db.to_str().unwrap().to_owned();
    args.extend_from_slice(&["--sqlite", &db]);
    args.extend_from_slice(node_flags);
    server::start_on("127.0.0.1:0", &args)
}

/// `wallet` pays `/paid-lightning` of `server` once; a replay is refused.
async fn pays_once(server: &ServerProcess, wallet: Arc<dyn LightningWallet>) {
    let payer = LightningPayer::new(wallet, Network::Regtest);
    let policy = SpendingPolicy {
        max_per_request: vec![("sat".into(), 100)],
        ..SpendingPolicy::default()
    };
    let client = PayingClient::new(Wallet::new(policy).with_method(Arc::new(payer), 1000)).unwrap();
    let url = server.url("/paid-lightning");
    let response = client.get(&url).await.unwrap();
    assert_eq!(
        response.status,
        200,
        "{}\n--- server ---\n{}",
        String::from_utf8_lossy(&response.body),
        server.stderr()
    );
    let status = reqwest::Client::new()
        .get(&url)
        .header("authorization", &response.payments[0].credential)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 402, "a replay");
    // The test network is not served next to a real node.
    let testnet = reqwest::get(server.url("/testnet/info")).await.unwrap();
    assert_eq!(testnet.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_server_is_paid_on_an_lnd_node_by_a_core_lightning_wallet() {
    let ledger = Ledger::new();
    let lnd = LndStandIn::start(signer(7), ledger.clone());
    let cln = ClnStandIn::start(signer(8), ledger);
    let (macaroon, cert) = (
        lnd.macaroon_path().to_str().unwrap().to_owned(),
        lnd.cert_path().to_str().unwrap().to_owned(),
    );
    let url = lnd.url();
    let server = reference(&[
        "--lnd-url",
        &url,
        "--lnd-macaroon-file",
        &macaroon,
        "--lnd-cert-file",
        &cert,
    ]);
    let wallet = ClnNode::connect(&cln.url(), cln.rune()).await.unwrap();
    pays_once(&server, Arc::new(wallet)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_server_is_paid_on_a_core_lightning_node_by_an_lnd_wallet() {
    let ledger = Ledger::new();
    let cln = ClnStandIn::start(signer(9), ledger.clone());
    let lnd = LndStandIn::start(signer(10), ledger);
    let rune = server::state_file("cln-rune");
    std::fs::write(&rune, cln.rune()).unwrap();
    let url = cln.url();
    let server = reference(&["--cln-url", &url, "--cln-rune-file", rune.to_str().unwrap()]);
    let wallet = LndNode::connect(&lnd.url(), lnd.macaroon_path(), lnd.cert_path())
        .await
        .unwrap();
    pays_once(&server, Arc::new(wallet)).await;
}

#[test]
fn a_node_that_refuses_the_macaroon_stops_the_server_at_start() {
    let lnd = LndStandIn::start(signer(11), Ledger::new());
    let wrong = server::state_file("wrong-macaroon");
    std::fs::write(&wrong, b"not the macaroon").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mpp-server"))
        .args([
            "--secret",
            "a-reference-secret-of-at-least-32-bytes",
            "--preimage",
            "x",
        ])
        .args(["--listen", "127.0.0.1:0", "--lnd-url", &lnd.url()])
        .args(["--lnd-macaroon-file", wrong.to_str().unwrap()])
        .args(["--lnd-cert-file", lnd.cert_path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--lnd-url"), "{stderr}");
    assert!(!stderr.contains("not the macaroon"), "{stderr}");
}
