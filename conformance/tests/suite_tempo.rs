//! The suite paying with `tempo/charge` on a local Tempo chain: against the
//! reference server's `/paid-tempo`, every case that pays passes, both through the
//! library and through `mpp-conformance server --pay tempo=KEYFILE --rpc URL`, whose
//! key never shows in its output.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

use conformance::Status;
use conformance::suite::{self, Ctx, Payer, Selection, SuiteOptions};
use mpp_methods::tempo::{Address, HttpRpc, PrivateKey};
use mpp_reference_server::tempo::{PATH_USD, TempoConfig};
use mpp_reference_server::{ReferenceConfig, spawn};
use mpp_test_support::tempo::{self, DEV_KEYS, TempoChain};

const CHAIN_ID: u64 = 42431;
const RECIPIENT: &str = "0x00000000000000000000000000000000000c0002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_with_tempo_the_reference_server_passes_every_paid_case() {
    let Some(anvil) = tempo::anvil_or_skip("suite_pays_with_tempo") else {
        return;
    };
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let mut config = ReferenceConfig::new("a-suite-tempo-secret-of-at-least-32-bytes", "s3cret");
    config.realm = "conformance.localhost".into();
    config.tempo = Some(TempoConfig {
        rpc: Arc::new(HttpRpc::new(&chain.rpc_url()).unwrap()),
        chain_id: CHAIN_ID,
        recipient: Address::from_hex(RECIPIENT).unwrap(),
        currency: Address::from_hex(PATH_USD).unwrap(),
        fee_payer: None,
    });
    let server = spawn(&config).await.unwrap();
    let url = server.url("/paid-tempo");
    let (_, key) = DEV_KEYS[1];

    let before = chain.token_balance(PATH_USD, RECIPIENT).unwrap();
    let payer = Payer::tempo(PrivateKey::from_hex(key).unwrap(), &chain.rpc_url())
        .await
        .unwrap();
    assert!(!format!("{payer:?}").contains(&key[2..]));
    let options = SuiteOptions {
        payer: Some(payer),
        ..SuiteOptions::default()
    };
    let ctx = Ctx::new(url.parse().unwrap(), options).unwrap();
    let selection = Selection {
        only: Vec::new(),
        strict: true,
    };
    let report = suite::run(&ctx, &selection).await;
    assert!(!report.failed(), "{}", report.to_text(true));
    assert_eq!(
        report
            .cases
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .count(),
        0,
        "{}",
        report.to_text(true)
    );
    let paid: BTreeSet<&str> = suite::cases()
        .into_iter()
        .filter(|c| c.pays)
        .map(|c| c.id)
        .collect();
    let not_run: Vec<_> = report
        .cases
        .iter()
        .filter(|c| paid.contains(c.id.as_str()) && c.status != Status::Passed)
        .map(|c| (c.id.clone(), c.status))
        .collect();
    // Only what the server does not offer in tempo: the Payment-Authorization
    // field, and a paid POST route (its `/paid-post` takes the preimage method).
    assert_eq!(
        not_run,
        vec![
            (
                "paid.other-field-not-shared".to_owned(),
                Status::NotApplicable
            ),
            (
                "digest.other-body-refused".to_owned(),
                Status::NotApplicable
            ),
        ],
        "{}",
        report.to_text(true)
    );
    let earned = chain.token_balance(PATH_USD, RECIPIENT).unwrap() - before;
    assert!(
        earned > 0 && earned % 10_000 == 0,
        "paid for real: {earned}"
    );

    // The same through the binary, the key read from a file.
    let dir = std::env::temp_dir().join(format!("suite-tempo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("payer.key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let bin = env!("CARGO_BIN_EXE_mpp-conformance");
    let pay = format!("tempo={}", key_file.display());
    let rpc = chain.rpc_url();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || Command::new(bin).args(&args).output().unwrap())
    };
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["server".into(), url.clone(), "--pay".into(), pay.clone()];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let out = run(args(&["--rpc", &rpc, "--only", "paid,replay"]))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains(&key[2..]) && !stderr.contains(&key[2..]));
    assert!(!stdout.contains("FAIL"), "{stdout}");

    // Tempo needs --rpc; a key file without a key is refused without showing it.
    let out = run(args(&[])).await.unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rpc"));
    std::fs::write(&key_file, "not-a-key-at-all\n").unwrap();
    let out = run(args(&["--rpc", &rpc])).await.unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("not-a-key-at-all"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
