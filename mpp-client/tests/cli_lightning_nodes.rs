//! The `mpp` binary paying `lightning/charge` through a node of the user's: a paywall
//! served in this process takes payments on a Core Lightning stand-in, and `mpp get
//! --lnd-url …` pays it through an LND stand-in (the two settle on a shared ledger).
//! Wrong credentials stop it before anything is paid, and they never show.
#![cfg(feature = "cli")]

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use mpp_core::time::UnixTime;
use mpp_methods::lightning::{
    ClnNode, InvoiceBuilder, LightningCharge, Network, NodeKey, PaymentHash,
};
use mpp_server::{ChargeOffer, PaidRoute, PaywallLayer, VerifiedPayment};
use mpp_test_support::cln::ClnStandIn;
use mpp_test_support::lightning::{InvoiceSpec, Ledger, Signer};
use mpp_test_support::lnd::LndStandIn;

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

/// A paywall asking 50 sat on `payee`, served on a loopback port by its own runtime.
fn paywall(payee: &ClnStandIn) -> String {
    let (url, rune) = (payee.url(), payee.rune().to_owned());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let node = ClnNode::connect(&url, &rune).await.unwrap();
            let offer = ChargeOffer::new(
                Arc::new(LightningCharge::new(Arc::new(node))),
                LightningCharge::template(50, Some("a paid GET")),
            );
            let paywall =
                PaywallLayer::builder(b"mpp-cli-lightning-nodes-secret-32+bytes", "ln.test")
                    .unwrap()
                    .route(PaidRoute::new(http::Method::GET, "/paid").offer(offer))
                    .build()
                    .unwrap();
            let app = Router::new()
                .route(
                    "/paid",
                    get(|_: VerifiedPayment| async { "paid on lightning" }),
                )
                .layer(paywall);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr: SocketAddr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    format!("http://{addr}/paid")
}

fn mpp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpp"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn mpp_get_pays_through_an_lnd_node_and_refuses_a_wrong_macaroon() {
    let ledger = Ledger::new();
    let payee = ClnStandIn::start(signer(21), ledger.clone());
    let payer = LndStandIn::start(signer(22), ledger);
    let url = paywall(&payee);
    let (macaroon, cert) = (
        payer.macaroon_path().to_str().unwrap().to_owned(),
        payer.cert_path().to_str().unwrap().to_owned(),
    );
    let lnd_url = payer.url();
    let flags = |macaroon: &str| {
        vec![
            "get".to_owned(),
            url.clone(),
            "--lnd-url".into(),
            lnd_url.clone(),
            "--lnd-macaroon-file".into(),
            macaroon.into(),
            "--lnd-cert-file".into(),
            cert.clone(),
            "--max-amount".into(),
            "50:sat".into(),
        ]
    };
    let args = flags(&macaroon);
    let out = mpp(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("paid on lightning"), "{stdout}");
    assert_eq!(payer.payments_started(), 1);

    // Over the cap: nothing is paid.
    let mut over = flags(&macaroon);
    over[9] = "49:sat".into();
    let out = mpp(&over.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(payer.payments_started(), 1);

    // A wrong macaroon: the node refuses at connection, before anything is paid, and
    // the file's content is never shown.
    let wrong = std::env::temp_dir().join(format!("wrong-macaroon-{}", std::process::id()));
    std::fs::write(&wrong, b"deadbeef-not-the-macaroon").unwrap();
    let args = flags(wrong.to_str().unwrap());
    let out = mpp(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("Lightning node"), "{stderr}");
    assert!(!stderr.contains("deadbeef"), "{stderr}");
    assert_eq!(payer.payments_started(), 1);
}
