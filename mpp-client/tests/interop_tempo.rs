//! Interop with mppx, the TypeScript reference SDK, on a local Tempo chain: our
//! `PayingClient` with a `TempoPayer` pays mppx 0.11.0's own `tempo` server
//! (`conformance/interop/mppx/tempo-server.mjs`) in every mode, and a replayed
//! credential pays nothing.
#![cfg(feature = "tempo")]

use std::sync::Arc;

use mpp_client::PayingClient;
use mpp_core::client::{SpendingPolicy, Wallet};
use mpp_core::credential::Credential;
use mpp_methods::tempo::{
    Address, DecodedTransaction, HttpRpc, Mode, PrivateKey, TempoPayer, TempoTransaction,
};
use mpp_test_support::mppx;
use mpp_test_support::process::ServerProcess;
use mpp_test_support::tempo::{self, DEV_KEYS, PATH_USD, TempoChain};

const CHAIN_ID: u64 = 42431;
const PRICE: u128 = 10_000;

fn mppx_server(chain: &TempoChain, recipient: &str) -> ServerProcess {
    let mut command = std::process::Command::new("node");
    command
        .arg("tempo-server.mjs")
        .current_dir(mppx::harness_dir())
        .env("PORT", "0")
        .env("RPC_URL", chain.rpc_url())
        .env("CHAIN_ID", chain.chain_id.to_string())
        .env("RECIPIENT", recipient)
        .env("FEE_PAYER_KEY", DEV_KEYS[2].1);
    ServerProcess::start(command, mppx::STARTUP_TIMEOUT)
}

fn client(chain: &TempoChain, mode: Option<Mode>) -> PayingClient {
    let rpc = Arc::new(HttpRpc::new(&chain.rpc_url()).unwrap());
    let mut payer = TempoPayer::new(
        PrivateKey::from_hex(DEV_KEYS[1].1).unwrap(),
        rpc,
        chain.chain_id,
    );
    if let Some(mode) = mode {
        payer = payer.mode(mode);
    }
    let policy = SpendingPolicy {
        max_per_request: vec![(PATH_USD.into(), PRICE)],
        ..SpendingPolicy::default()
    };
    PayingClient::new(Wallet::new(policy).with_method(Arc::new(payer), 1000)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn our_client_pays_an_mppx_tempo_server_in_every_mode() {
    // req: tempo-charge.modes.client-choose, tempo-charge.proof.zero-amount-only
    // req: tempo-charge.fee-payer.client-placeholder, tempo-charge.fee-payer.client-fee-token
    let Some(anvil) = tempo::anvil_or_skip("our_client_pays_an_mppx_tempo_server") else {
        return;
    };
    if mppx::harness_or_skip("our_client_pays_an_mppx_tempo_server").is_none() {
        return;
    }
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let recipient = "0x00000000000000000000000000000000000c0001";
    let server = mppx_server(&chain, recipient);
    let balance = || chain.token_balance(PATH_USD, recipient).unwrap();
    let mut paid = 0;
    for (path, mode, payload_type) in [
        ("/paid", None, "transaction"),
        ("/push", None, "hash"),
        ("/paid", Some(Mode::Push), "hash"),
        ("/pull", Some(Mode::Pull), "transaction"),
        ("/sponsored", None, "transaction"),
        ("/proof", None, "proof"),
    ] {
        let url = server.url(path);
        let client = client(&chain, mode);
        let response = client
            .get(&url)
            .await
            .unwrap_or_else(|e| panic!("{path} {mode:?}: {e}\n--- mppx ---\n{}", server.stderr()));
        assert_eq!(
            response.status,
            200,
            "{path} {mode:?}: {}\n--- mppx ---\n{}",
            String::from_utf8_lossy(&response.body),
            server.stderr()
        );
        let receipt = response.receipt.as_ref().expect("a receipt");
        assert_eq!(receipt.method.as_str(), "tempo");
        let [payment] = &response.payments[..] else {
            panic!("{path}: one payment, not {:?}", response.payments)
        };
        let credential = Credential::parse(payment.credential.as_bytes()).unwrap();
        assert_eq!(credential.payload["type"], payload_type, "{path} {mode:?}");
        // The payer names its fee token (the price's token) unless the server pays.
        if let Some(signature) = credential.payload.get("signature").and_then(|s| s.as_str()) {
            if payload_type == "transaction" {
                let bytes = hex_bytes(signature);
                let (tx, sponsored) = match TempoTransaction::decode(&bytes).unwrap() {
                    DecodedTransaction::Signed(signed) => (signed.tx, false),
                    DecodedTransaction::FeePayerEnvelope(envelope) => (envelope.tx, true),
                };
                assert_eq!(sponsored, path == "/sponsored", "{path}");
                let expected = (!sponsored).then(|| Address::from_hex(PATH_USD).unwrap());
                assert_eq!(tx.fee_token, expected, "{path}");
            }
        }
        if path != "/proof" {
            paid += PRICE;
            let reference = &receipt.reference;
            let on_chain = chain
                .rpc("eth_getTransactionReceipt", serde_json::json!([reference]))
                .unwrap();
            assert_eq!(on_chain["status"], "0x1", "{path}: {on_chain}");
        }
        assert_eq!(
            balance(),
            paid,
            "{path} {mode:?}: the recipient got the price once"
        );
        // The same credential again pays nothing.
        let replayed = reqwest::Client::new()
            .get(&url)
            .header("authorization", &payment.credential)
            .send()
            .await
            .unwrap();
        assert_eq!(replayed.status(), 402, "{path}: a replay");
        assert_eq!(balance(), paid, "{path}: a replay");
    }
}

fn hex_bytes(text: &str) -> Vec<u8> {
    let digits = text.trim_start_matches("0x");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}
