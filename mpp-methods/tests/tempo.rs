//! `tempo` against mppx 0.11.0, the TypeScript reference SDK (the same challenges give
//! the same attribution memos and zero-amount proof digests, byte for byte), and
//! against a real Tempo chain on loopback (receipts of transfers made on it).

use std::time::{Duration, Instant};

use mpp_methods::tempo::{
    Address, ExpectedPayment, Memo, Mismatch, ProofError, TempoTerms, keccak256, proof_digest,
    verify_proof, verify_receipt,
};
use mpp_test_support::mppx;
use mpp_test_support::tempo::{self, DEV_ACCOUNT, PATH_USD, TempoChain};
use serde_json::{Value, json};

#[test]
fn attribution_memos_match_mppx() {
    let Some(dir) = mppx::harness_or_skip("attribution_memos_match_mppx") else {
        return;
    };
    // Realms and ids as deployed servers write them, a client id, and non-ASCII text
    // (hashed as its UTF-8 bytes on both sides).
    let cases = [
        ("ch_1", "api.example.com", None),
        ("ch_1", "api.example.com", Some("agent-7")),
        ("x7Tg2pLqR4vW9zYb3nKdHs", "mpp-reference.test", None),
        (
            "hmac-id_-AbC",
            "café.example",
            Some("did:pkh:eip155:42431:0xf39Fd6e5"),
        ),
        ("", "", Some("")),
    ];
    let input: Vec<_> = cases
        .iter()
        .map(|(id, realm, client)| match client {
            Some(c) => json!({ "challengeId": id, "serverId": realm, "clientId": c }),
            None => json!({ "challengeId": id, "serverId": realm }),
        })
        .collect();
    let run = mppx::node(&dir, &["attribution.mjs", &json!(input).to_string()], &[]);
    assert!(run.success, "{}", run.report());
    let theirs: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(theirs.len(), cases.len(), "{}", run.report());
    for ((id, realm, client), theirs) in cases.iter().zip(theirs) {
        let ours = Memo::attribution(id, realm, *client);
        assert_eq!(ours.to_hex(), theirs, "{id:?} {realm:?} {client:?}");
        assert!(Memo::from_hex(theirs).is_some_and(|m| m.binds(id, realm)));
    }
}

#[test]
fn zero_amount_proof_digests_match_mppx() {
    let Some(dir) = mppx::harness_or_skip("zero_amount_proof_digests_match_mppx") else {
        return;
    };
    let cases = [
        (42431u64, DEV_ACCOUNT, "ch_1", "api.example.com"),
        (
            4217,
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "x7Tg2pLqR4vW9zYb3nKdHs",
            "café.example",
        ),
        (31337, "0x0000000000000000000000000000000000000001", "", ""),
    ];
    let input: Vec<_> = cases
        .iter()
        .map(|(chain, account, id, realm)| {
            json!({ "chainId": chain, "account": account, "challengeId": id, "realm": realm })
        })
        .collect();
    let run = mppx::node(&dir, &["proof.mjs", &json!(input).to_string()], &[]);
    assert!(run.success, "{}", run.report());
    let theirs: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(theirs.len(), cases.len(), "{}", run.report());
    for ((chain, account, id, realm), theirs) in cases.iter().zip(theirs) {
        let account = Address::from_hex(account).unwrap();
        let ours = proof_digest(*chain, &account, id, realm);
        let ours: String = ours.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(format!("0x{ours}"), theirs, "{chain} {id:?} {realm:?}");
    }
}

/// The chain's first development account's key: public, it must never hold anything.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

#[test]
fn zero_amount_proofs_signed_by_viem_verify_for_their_challenge_only() {
    let Some(dir) = mppx::harness_or_skip("zero_amount_proofs_signed_by_viem") else {
        return;
    };
    let case = json!([{
        "chainId": 42431, "account": DEV_ACCOUNT, "challengeId": "ch_1",
        "realm": "api.example.com", "privateKey": DEV_KEY,
    }]);
    let run = mppx::node(&dir, &["proof.mjs", &case.to_string()], &[]);
    assert!(run.success, "{}", run.report());
    let signature = run.stdout.split_whitespace().nth(1).expect("a signature");
    let source = format!("did:pkh:eip155:42431:{DEV_ACCOUNT}");
    let signer = verify_proof(42431, "ch_1", "api.example.com", Some(&source), signature);
    assert_eq!(signer, Ok(Address::from_hex(DEV_ACCOUNT).unwrap()));
    // The same signature proves nothing for another challenge, realm or account, and
    // a source on another chain is refused before the signature is looked at.
    let other = "did:pkh:eip155:42431:0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    for (id, realm, source, refused) in [
        (
            "ch_2",
            "api.example.com",
            source.as_str(),
            ProofError::Signer,
        ),
        (
            "ch_1",
            "evil.example.com",
            source.as_str(),
            ProofError::Signer,
        ),
        ("ch_1", "api.example.com", other, ProofError::Signer),
        (
            "ch_1",
            "api.example.com",
            &format!("did:pkh:eip155:4217:{DEV_ACCOUNT}"),
            ProofError::ChainId,
        ),
    ] {
        assert_eq!(
            verify_proof(42431, id, realm, Some(source), signature),
            Err(refused),
            "{id} {realm} {source}"
        );
    }
}

/// The 4-byte selector of a function signature.
fn selector(signature: &str) -> String {
    let hash = keccak256(signature.as_bytes());
    hash[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// A 32-byte ABI word holding `address` (`0x` and 40 hex digits).
fn word(address: &str) -> String {
    format!("{:0>64}", address.trim_start_matches("0x"))
}

/// Sends `data` to `token` from the chain's first development account (which the
/// chain signs for) and waits for the receipt.
fn send(chain: &TempoChain, token: &str, data: &str) -> Value {
    let hash = chain
        .rpc(
            "eth_sendTransaction",
            json!([{ "from": DEV_ACCOUNT, "to": token, "data": data }]),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let receipt = chain
            .rpc("eth_getTransactionReceipt", json!([hash]))
            .unwrap();
        if !receipt.is_null() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn receipts_from_a_real_chain_pay_only_with_the_challenges_memo() {
    let Some(anvil) = tempo::anvil_or_skip("receipts_from_a_real_chain") else {
        return;
    };
    let chain = TempoChain::start(&anvil, 42431);
    let recipient = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
    let other = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
    let alpha_usd = "0x20c0000000000000000000000000000000000001";
    let memo = Memo::attribution("ch_1", "api.example.com", None);
    let with_memo = |to: &str, amount: u128, memo: &Memo| {
        format!(
            "0x{}{}{amount:064x}{}",
            selector("transferWithMemo(address,uint256,bytes32)"),
            word(to),
            &memo.to_hex()[2..]
        )
    };
    let terms = TempoTerms::new(
        10_000,
        Address::from_hex(PATH_USD).unwrap(),
        Address::from_hex(recipient).unwrap(),
        42431,
    );
    let expected = ExpectedPayment {
        terms: &terms,
        challenge_id: "ch_1",
        realm: "api.example.com",
        payer: Address::from_hex(DEV_ACCOUNT),
    };

    let paid = send(&chain, PATH_USD, &with_memo(recipient, 10_000, &memo));
    let hash = verify_receipt(&paid, &expected).unwrap();
    assert_eq!(json!(hash.to_hex()), paid["transactionHash"]);

    let plain = format!(
        "0x{}{}{:064x}",
        selector("transfer(address,uint256)"),
        word(recipient),
        10_000
    );
    let other_challenge = Memo::attribution("ch_2", "api.example.com", None);
    let other_realm = Memo::attribution("ch_1", "evil.example.com", None);
    for (token, data, mismatch) in [
        (PATH_USD, plain, Mismatch::Memo),
        (
            PATH_USD,
            with_memo(recipient, 10_000, &other_challenge),
            Mismatch::Memo,
        ),
        (
            PATH_USD,
            with_memo(recipient, 10_000, &other_realm),
            Mismatch::Memo,
        ),
        (
            PATH_USD,
            with_memo(recipient, 9_999, &memo),
            Mismatch::Amount,
        ),
        (
            PATH_USD,
            with_memo(other, 10_000, &memo),
            Mismatch::Recipient,
        ),
        (
            alpha_usd,
            with_memo(recipient, 10_000, &memo),
            Mismatch::Token,
        ),
    ] {
        let receipt = send(&chain, token, &data);
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        let refused = verify_receipt(&receipt, &expected).unwrap_err();
        assert_eq!(refused.mismatch, mismatch, "{refused}");
    }
    // The right transfer, from someone other than the credential's source.
    let mut from_other = expected.clone();
    from_other.payer = Address::from_hex(other);
    assert_eq!(
        verify_receipt(&paid, &from_other).unwrap_err().mismatch,
        Mismatch::Payer
    );
}
