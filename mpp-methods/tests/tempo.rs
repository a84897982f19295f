//! `tempo` against mppx 0.11.0, the TypeScript reference SDK (the same challenges give
//! the same attribution memos and zero-amount proof digests, byte for byte; the same
//! fields give the same signed transactions as viem), and against a real Tempo chain
//! on loopback (receipts of transfers made on it, transactions signed here and
//! broadcast there).

use std::time::{Duration, Instant};

use mpp_methods::tempo::{
    AccessListItem, Address, Call, DecodedTransaction, ExpectedPayment, FeePayer, FeePayerEnvelope,
    MAX_TRANSACTION_BYTES, Memo, Mismatch, ProofError, RlpError, SecretKey, SenderSignature,
    Signature, SignatureKind, SignedTransaction, TempoTerms, TempoTransaction, TxError, U256,
    address_of, cosign_as_fee_payer, keccak256, proof_digest, verify_proof, verify_receipt,
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

/// The chain's second development account's key (public too) and its account.
const DEV_KEY_2: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const DEV_ACCOUNT_2: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
/// The third development account: paid, never paying.
const DEV_ACCOUNT_3: &str = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
/// AlphaUSD, the chain's second TIP-20 token.
const ALPHA_USD: &str = "0x20c0000000000000000000000000000000000001";

fn secret(hex: &str) -> SecretKey {
    let bytes = hex_bytes(hex);
    SecretKey::from_byte_array(bytes.try_into().expect("32 bytes")).expect("a valid key")
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    let digits = hex.strip_prefix("0x").unwrap_or(hex);
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex"))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn address(hex: &str) -> Address {
    Address::from_hex(hex).expect("an address")
}

/// The calldata of pathUSD's `transferWithMemo(to, amount, memo)` (selector
/// 0x95777d59).
fn transfer_with_memo(to: &str, amount: u128, memo: &Memo) -> Vec<u8> {
    let data = format!(
        "{}{}{amount:064x}{}",
        selector("transferWithMemo(address,uint256,bytes32)"),
        word(to),
        &memo.to_hex()[2..]
    );
    assert!(data.starts_with("95777d59"));
    hex_bytes(&data)
}

/// `tx` as `tempo-tx.mjs` reads it.
fn case_json(tx: &TempoTransaction) -> Value {
    let calls: Vec<Value> = tx
        .calls
        .iter()
        .map(|c| {
            let mut call = json!({ "value": c.value.to_string(), "data": to_hex(&c.input) });
            if let Some(to) = c.to {
                call["to"] = json!(to.to_hex());
            }
            call
        })
        .collect();
    let access_list: Vec<Value> = tx
        .access_list
        .iter()
        .map(|a| {
            let keys: Vec<String> = a.storage_keys.iter().map(|k| to_hex(k)).collect();
            json!({ "address": a.address.to_hex(), "storageKeys": keys })
        })
        .collect();
    let nonce_key = tx.nonce_key.to_be_bytes();
    let mut case = json!({
        "chainId": tx.chain_id,
        "calls": calls,
        "accessList": access_list,
        "maxFeePerGas": tx.max_fee_per_gas.to_string(),
        "maxPriorityFeePerGas": tx.max_priority_fee_per_gas.to_string(),
        "gas": tx.gas.to_string(),
        // viem reads a `0x` string as a bigint too.
        "nonceKey": to_hex(&nonce_key),
        "nonce": tx.nonce,
    });
    if let Some(t) = tx.valid_before {
        case["validBefore"] = json!(t);
    }
    if let Some(t) = tx.valid_after {
        case["validAfter"] = json!(t);
    }
    if let Some(token) = tx.fee_token {
        case["feeToken"] = json!(token.to_hex());
    }
    case
}

/// A payment as mppx's client builds it: one `transferWithMemo` call, an expiring
/// nonce (key 2^256 - 1, nonce 0) bounded by `valid_before`.
fn payment(chain_id: u64, to: &str, amount: u128, valid_before: u64) -> TempoTransaction {
    TempoTransaction {
        chain_id,
        max_priority_fee_per_gas: 0,
        max_fee_per_gas: 40_000_000_000,
        gas: 1_000_000,
        calls: vec![Call {
            to: Some(address(PATH_USD)),
            value: 0,
            input: transfer_with_memo(
                to,
                amount,
                &Memo::attribution("ch_1", "api.example.com", None),
            ),
        }],
        access_list: Vec::new(),
        nonce_key: U256::MAX,
        nonce: 0,
        valid_before: Some(valid_before),
        valid_after: None,
        fee_token: Some(address(PATH_USD)),
        authorization_list: Vec::new(),
        key_authorization: None,
    }
}

/// The `0x76` transaction of `bytes`.
fn signed(bytes: &[u8]) -> SignedTransaction {
    match TempoTransaction::decode(bytes) {
        Ok(DecodedTransaction::Signed(s)) => s,
        other => panic!("not a signed 0x76 transaction: {other:?}"),
    }
}

/// The `0x78` envelope of `bytes`.
fn envelope(bytes: &[u8]) -> FeePayerEnvelope {
    match TempoTransaction::decode(bytes) {
        Ok(DecodedTransaction::FeePayerEnvelope(e)) => e,
        other => panic!("not a 0x78 envelope: {other:?}"),
    }
}

#[test]
fn tempo_transactions_match_viem_byte_for_byte() {
    let Some(dir) = mppx::harness_or_skip("tempo_transactions_match_viem_byte_for_byte") else {
        return;
    };
    let plain = payment(42431, DEV_ACCOUNT_3, 10_000, 1_800_000_000);
    // Every field set: several calls (one a contract creation with a value), an
    // access list, both time bounds, a small nonce key, no fee token.
    let full = TempoTransaction {
        chain_id: 4217,
        max_priority_fee_per_gas: 1_500_000_000,
        max_fee_per_gas: u128::from(u64::MAX) + 1,
        gas: 21_000,
        calls: vec![
            Call {
                to: Some(address(DEV_ACCOUNT_2)),
                value: 0,
                input: Vec::new(),
            },
            Call {
                to: None,
                value: u128::MAX,
                input: vec![0x60; 300],
            },
        ],
        access_list: vec![
            AccessListItem {
                address: address(PATH_USD),
                storage_keys: vec![[0; 32], [0xab; 32]],
            },
            AccessListItem {
                address: address(ALPHA_USD),
                storage_keys: Vec::new(),
            },
        ],
        nonce_key: U256::from_u128(7),
        nonce: 300,
        valid_before: Some(1_800_000_100),
        valid_after: Some(1_700_000_000),
        fee_token: None,
        authorization_list: Vec::new(),
        key_authorization: None,
    };
    let sponsored = TempoTransaction {
        fee_token: None,
        ..payment(42431, DEV_ACCOUNT_3, 25, 1_800_000_000)
    };
    let mut cases = Vec::new();
    for tx in [&plain, &full] {
        let mut case = case_json(tx);
        case["privateKey"] = json!(DEV_KEY);
        cases.push(case);
    }
    let mut case = case_json(&sponsored);
    case["privateKey"] = json!(DEV_KEY_2);
    case["feePayerKey"] = json!(DEV_KEY);
    case["sponsorFeeToken"] = json!(ALPHA_USD);
    cases.push(case);

    let run = mppx::node(&dir, &["tempo-tx.mjs", &json!(cases).to_string()], &[]);
    assert!(run.success, "{}", run.report());
    let theirs: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(theirs.len(), 3, "{}", run.report());
    let bytes_of = |v: &Value| hex_bytes(v.as_str().expect("hex"));

    for (tx, theirs) in [&plain, &full].into_iter().zip(&theirs) {
        let ours = tx.sign_as_sender(&secret(DEV_KEY));
        let their_bytes = bytes_of(&theirs["signed"]);
        assert_eq!(to_hex(&ours.encode()), to_hex(&their_bytes), "{tx:?}");
        assert_eq!(json!(ours.hash().to_hex()), theirs["hash"]);
        // Their bytes decode to the same fields, and encode back to themselves.
        let decoded = signed(&their_bytes);
        assert_eq!(decoded, ours);
        assert_eq!(decoded.encode(), their_bytes);
        assert_eq!(decoded.recover_sender(), Ok(address(DEV_ACCOUNT)));
    }

    // Sponsored: the payer's envelope, then the sponsor's co-signed transaction.
    let theirs = &theirs[2];
    let their_envelope = bytes_of(&theirs["envelope"]);
    let ours = sponsored.sign_as_sponsored_sender(&secret(DEV_KEY_2));
    assert_eq!(ours.sender, address(DEV_ACCOUNT_2));
    assert_eq!(to_hex(&ours.encode()), to_hex(&their_envelope));
    let decoded = envelope(&their_envelope);
    assert_eq!(decoded, ours);
    assert_eq!(decoded.recover_sender(), Ok(address(DEV_ACCOUNT_2)));
    let final_bytes =
        cosign_as_fee_payer(&their_envelope, &secret(DEV_KEY), Some(address(ALPHA_USD))).unwrap();
    assert_eq!(to_hex(&final_bytes), theirs["signed"].as_str().unwrap());
    let cosigned = signed(&final_bytes);
    assert_eq!(json!(cosigned.hash().to_hex()), theirs["hash"]);
    assert_eq!(cosigned.tx.fee_token, Some(address(ALPHA_USD)));
    assert!(matches!(cosigned.fee_payer, FeePayer::Signed(_)));
    assert_eq!(cosigned.recover_sender(), Ok(address(DEV_ACCOUNT_2)));
    assert_eq!(cosigned.recover_fee_payer(), Ok(Some(address(DEV_ACCOUNT))));
}

/// The latest block's timestamp.
fn latest_timestamp(chain: &TempoChain) -> u64 {
    let block = chain
        .rpc("eth_getBlockByNumber", json!(["latest", false]))
        .unwrap();
    let hex = block["timestamp"].as_str().expect("a timestamp");
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("a hex timestamp")
}

fn balance(chain: &TempoChain, token: &str, holder: &str) -> u128 {
    chain.token_balance(token, holder).unwrap()
}

#[test]
fn transactions_signed_here_pay_on_a_real_chain() {
    let Some(anvil) = tempo::anvil_or_skip("transactions_signed_here_pay_on_a_real_chain") else {
        return;
    };
    let chain = TempoChain::start(&anvil, 42431);
    let terms = |amount| TempoTerms::new(amount, address(PATH_USD), address(DEV_ACCOUNT_3), 42431);
    let expected = |terms: &'static TempoTerms, payer| ExpectedPayment {
        terms,
        challenge_id: "ch_1",
        realm: "api.example.com",
        payer: Some(address(payer)),
    };

    // The sender pays its own fees, in pathUSD.
    let before = (
        balance(&chain, PATH_USD, DEV_ACCOUNT),
        balance(&chain, PATH_USD, DEV_ACCOUNT_3),
    );
    let tx = payment(42431, DEV_ACCOUNT_3, 10_000, latest_timestamp(&chain) + 25);
    let paid = tx.sign_as_sender(&secret(DEV_KEY));
    let raw = to_hex(&paid.encode());
    let receipt = chain
        .rpc("eth_sendRawTransactionSync", json!([raw]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["transactionHash"], json!(paid.hash().to_hex()));
    assert_eq!(
        verify_receipt(
            &receipt,
            &expected(Box::leak(Box::new(terms(10_000))), DEV_ACCOUNT)
        ),
        Ok(paid.hash())
    );
    assert_eq!(balance(&chain, PATH_USD, DEV_ACCOUNT_3), before.1 + 10_000);
    let spent = before.0 - balance(&chain, PATH_USD, DEV_ACCOUNT);
    assert!(spent > 10_000, "the sender paid the fees too: {spent}");
    // The same bytes again are the same transaction: the node answers with its
    // receipt (or an error), and does not pay twice.
    if let Ok(again) = chain.rpc("eth_sendRawTransactionSync", json!([raw])) {
        assert_eq!(again["transactionHash"], receipt["transactionHash"]);
    }
    assert_eq!(balance(&chain, PATH_USD, DEV_ACCOUNT_3), before.1 + 10_000);

    // Sponsored: the second account pays the amount, the first one the fees.
    let before = (
        balance(&chain, PATH_USD, DEV_ACCOUNT_2),
        balance(&chain, ALPHA_USD, DEV_ACCOUNT),
        balance(&chain, PATH_USD, DEV_ACCOUNT_3),
    );
    let payer_alpha = balance(&chain, ALPHA_USD, DEV_ACCOUNT_2);
    let tx = payment(42431, DEV_ACCOUNT_3, 25, latest_timestamp(&chain) + 25);
    let handed_over = tx.sign_as_sponsored_sender(&secret(DEV_KEY_2)).encode();
    let final_bytes =
        cosign_as_fee_payer(&handed_over, &secret(DEV_KEY), Some(address(ALPHA_USD))).unwrap();
    let sponsored = signed(&final_bytes);
    let receipt = chain
        .rpc("eth_sendRawTransactionSync", json!([to_hex(&final_bytes)]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["transactionHash"], json!(sponsored.hash().to_hex()));
    assert!(
        verify_receipt(
            &receipt,
            &expected(Box::leak(Box::new(terms(25))), DEV_ACCOUNT_2)
        )
        .is_ok()
    );
    assert_eq!(receipt["from"], DEV_ACCOUNT_2);
    // The balances tell who paid the fees: anvil's receipt names the sender in its
    // `feePayer` member even when a sponsor paid, so that member proves nothing.
    assert_eq!(
        balance(&chain, PATH_USD, DEV_ACCOUNT_2),
        before.0 - 25,
        "the payer paid the amount and no fee"
    );
    assert!(
        balance(&chain, ALPHA_USD, DEV_ACCOUNT) < before.1,
        "the sponsor paid the fees in its token"
    );
    assert_eq!(
        balance(&chain, ALPHA_USD, DEV_ACCOUNT_2),
        payer_alpha,
        "the payer paid no fee in the sponsor's token"
    );
    assert_eq!(balance(&chain, PATH_USD, DEV_ACCOUNT_3), before.2 + 25);
}

/// RLP built by hand, to write what the codec must refuse.
enum R {
    S(Vec<u8>),
    L(Vec<R>),
}

impl R {
    fn encode(&self) -> Vec<u8> {
        let (base, payload) = match self {
            R::S(b) if b.len() == 1 && b[0] < 0x80 => return b.clone(),
            R::S(b) => (0x80u8, b.clone()),
            R::L(items) => (0xc0, items.iter().flat_map(R::encode).collect()),
        };
        let mut out = if payload.len() < 56 {
            vec![base + payload.len() as u8]
        } else {
            let len = payload.len().to_be_bytes();
            let skip = len.iter().take_while(|b| **b == 0).count();
            let mut head = vec![base + 55 + (len.len() - skip) as u8];
            head.extend(&len[skip..]);
            head
        };
        out.extend(payload);
        out
    }

    /// Type byte `ty` and this list.
    fn typed(&self, ty: u8) -> Vec<u8> {
        let mut out = vec![ty];
        out.extend(self.encode());
        out
    }
}

fn s(bytes: &[u8]) -> R {
    R::S(bytes.to_vec())
}

/// The fields of a valid, signed `0x76` transaction, to spoil one at a time.
fn valid_fields() -> Vec<R> {
    let signature = payment(42431, DEV_ACCOUNT_3, 1, 1_800_000_000)
        .sign_as_sender(&secret(DEV_KEY))
        .signature
        .to_bytes();
    vec![
        s(&[0xa5, 0xbf]),                   // chainId
        s(&[]),                             // maxPriorityFeePerGas
        s(&[0x04, 0xa8, 0x17, 0xc8, 0x00]), // maxFeePerGas
        s(&[0x0f, 0x42, 0x40]),             // gas
        R::L(vec![R::L(vec![
            s(&hex_bytes(PATH_USD)),
            s(&[]),
            s(&[0x95, 0x77]),
        ])]), // calls
        R::L(vec![]),                       // accessList
        s(&[0xff; 32]),                     // nonceKey
        s(&[]),                             // nonce
        s(&[0x6b, 0x49, 0xd2, 0x00]),       // validBefore
        s(&[]),                             // validAfter
        s(&[]),                             // feeToken
        s(&[]),                             // fee payer slot
        R::L(vec![]),                       // authorizationList
        s(&signature),                      // signature
    ]
}

fn with(index: usize, item: R) -> Vec<u8> {
    let mut fields = valid_fields();
    fields[index] = item;
    R::L(fields).typed(0x76)
}

fn refusal(bytes: &[u8]) -> TxError {
    TempoTransaction::decode(bytes).expect_err("must be refused")
}

#[test]
fn every_malformed_transaction_is_refused_with_its_reason() {
    // The base case is valid, so each refusal below is the spoiled field's.
    let valid = R::L(valid_fields()).typed(0x76);
    assert!(matches!(
        TempoTransaction::decode(&valid),
        Ok(DecodedTransaction::Signed(_))
    ));
    let fields_then = |extra: Vec<R>| {
        let mut f = valid_fields();
        f.pop();
        f.extend(extra);
        R::L(f).typed(0x76)
    };
    let call = |parts: Vec<R>| R::L(vec![R::L(parts)]);
    let to = || s(&hex_bytes(PATH_USD));
    let sig = |mutate: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = valid_fields()[13].encode();
        // The 65 bytes follow the 2-byte header `b8 41`.
        let mut raw = bytes.split_off(2);
        mutate(&mut raw);
        with(13, R::S(raw))
    };
    let cases: Vec<(Vec<u8>, TxError)> = vec![
        (Vec::new(), TxError::Empty),
        (
            vec![0x76; MAX_TRANSACTION_BYTES + 1],
            TxError::TooLarge(MAX_TRANSACTION_BYTES + 1),
        ),
        (R::L(valid_fields()).typed(0x02), TxError::WrongType(0x02)),
        (
            vec![0x76, 0x81, 0x05],
            TxError::Rlp(RlpError::SingleByteWrapped),
        ),
        (
            [valid.clone(), vec![0]].concat(),
            TxError::Rlp(RlpError::TrailingBytes),
        ),
        (
            s(b"not a list").typed(0x76),
            TxError::NotAList("transaction"),
        ),
        (
            R::L(valid_fields()[..12].iter().map(|_| s(&[])).collect()).typed(0x76),
            TxError::ItemCount(12),
        ),
        (
            fields_then(vec![R::L(vec![]), s(&[1]), s(&[2])]),
            TxError::ItemCount(16),
        ),
        (with(0, R::L(vec![])), TxError::NotAString("chainId")),
        (with(4, s(&[])), TxError::NotAList("calls")),
        (
            with(0, s(&[0x00, 0x01])),
            TxError::NonCanonicalInteger("chainId"),
        ),
        (with(7, s(&[1; 9])), TxError::Overflow("nonce")),
        (with(6, s(&[1; 33])), TxError::Overflow("nonceKey")),
        (with(2, s(&[1; 17])), TxError::Overflow("maxFeePerGas")),
        (with(4, R::L(vec![])), TxError::NoCalls),
        (
            with(4, call(vec![to(), s(&[])])),
            TxError::Arity {
                field: "call",
                expected: 3,
                found: 2,
            },
        ),
        (
            with(4, call(vec![to(), s(&[1; 17]), s(&[])])),
            TxError::CallValueTooLarge,
        ),
        (
            with(4, call(vec![s(&[1; 19]), s(&[]), s(&[])])),
            TxError::AddressLength {
                field: "to",
                length: 19,
            },
        ),
        (
            with(10, s(&[1; 21])),
            TxError::AddressLength {
                field: "feeToken",
                length: 21,
            },
        ),
        (
            with(5, R::L(vec![R::L(vec![to(), R::L(vec![s(&[1; 31])])])])),
            TxError::StorageKeyLength(31),
        ),
        (
            with(5, R::L(vec![R::L(vec![to()])])),
            TxError::Arity {
                field: "accessList entry",
                expected: 2,
                found: 1,
            },
        ),
        // In a 0x76 transaction, the slot holds no address.
        (with(11, to()), TxError::FeePayerSlot),
        (with(11, s(&[1])), TxError::FeePayerSlot),
        (
            with(11, R::L(vec![s(&[]), s(&[1])])),
            TxError::Arity {
                field: "feePayerSignature",
                expected: 3,
                found: 2,
            },
        ),
        (
            with(11, R::L(vec![s(&[2]), s(&[1]), s(&[1])])),
            TxError::BadSignature("yParity is not 0 or 1"),
        ),
        (
            with(11, R::L(vec![s(&[]), s(&[]), s(&[1])])),
            TxError::BadSignature("r or s is zero"),
        ),
        (fields_then(vec![]), TxError::MissingSignature),
        (fields_then(vec![R::L(vec![])]), TxError::MissingSignature),
        (
            fields_then(vec![s(&[1]), s(&[2])]),
            TxError::NotAList("keyAuthorization"),
        ),
        (
            fields_then(vec![R::L(vec![]), R::L(vec![])]),
            TxError::NotAString("signature"),
        ),
        (
            with(13, s(&[0x09; 40])),
            TxError::UnsupportedSignature {
                type_byte: Some(0x09),
                length: 40,
            },
        ),
        (
            with(13, s(&[])),
            TxError::UnsupportedSignature {
                type_byte: None,
                length: 0,
            },
        ),
        (
            sig(&|raw| raw[64] = 1),
            TxError::BadSignature("v is not 27 or 28"),
        ),
        (
            sig(&|raw| raw[32] = 0xff),
            TxError::BadSignature("s is in the upper half of the group order"),
        ),
        (
            sig(&|raw| raw[..32].fill(0xff)),
            TxError::BadSignature("r is not below the group order"),
        ),
    ];
    for (bytes, expected) in cases {
        let refused = refusal(&bytes);
        assert_eq!(
            refused,
            expected,
            "{}",
            to_hex(&bytes[..bytes.len().min(64)])
        );
        assert!(!refused.to_string().is_empty());
    }

    // A 0x78 envelope names its sender with a 20-byte address, nothing else.
    let mut fields = valid_fields();
    fields[11] = s(&[]);
    assert_eq!(
        refusal(&R::L(fields).typed(0x78)),
        TxError::AddressLength {
            field: "sender",
            length: 0
        }
    );
}

#[test]
fn signatures_of_other_kinds_are_read_but_not_verified() {
    let p256 = [vec![0x01], vec![0x11; 129]].concat();
    let DecodedTransaction::Signed(tx) = TempoTransaction::decode(&with(13, s(&p256))).unwrap()
    else {
        panic!("a 0x76 transaction");
    };
    assert_eq!(tx.signature.kind(), SignatureKind::P256);
    assert_eq!(tx.signature.to_bytes(), p256);
    assert_eq!(
        tx.recover_sender(),
        Err(TxError::Unverifiable(SignatureKind::P256))
    );
    for (byte, kind) in [
        (0x02, SignatureKind::WebAuthn),
        (0x03, SignatureKind::Keychain),
        (0x04, SignatureKind::KeychainV2),
        (0x05, SignatureKind::Multisig),
    ] {
        let bytes = [vec![byte], vec![0x22; 40]].concat();
        assert!(matches!(
            SenderSignature::from_bytes(&bytes),
            Ok(SenderSignature::Other { kind: k, .. }) if k == kind
        ));
    }
    // Key authorizations and authorizations are carried unread, and written back
    // as they came.
    let mut fields = valid_fields();
    let signature = fields.pop().unwrap();
    fields[12] = R::L(vec![R::L(vec![s(&[1]), s(b"opaque")])]);
    fields.push(R::L(vec![s(b"key"), R::L(vec![])]));
    fields.push(signature);
    let bytes = R::L(fields).typed(0x76);
    let tx = signed(&bytes);
    assert_eq!(tx.tx.authorization_list.len(), 1);
    assert!(tx.tx.key_authorization.is_some());
    assert_eq!(tx.encode(), bytes);

    // A co-signer refuses an envelope whose signature it cannot check, and a
    // forged sender.
    let handed_over = payment(42431, DEV_ACCOUNT_3, 1, 1_800_000_000)
        .sign_as_sponsored_sender(&secret(DEV_KEY_2));
    let mut other_kind = handed_over.clone();
    other_kind.signature = SenderSignature::from_bytes(&p256).unwrap();
    assert_eq!(
        cosign_as_fee_payer(&other_kind.encode(), &secret(DEV_KEY), None),
        Err(TxError::Unverifiable(SignatureKind::P256))
    );
    let mut forged = handed_over.clone();
    forged.sender = address(DEV_ACCOUNT_3);
    assert!(matches!(
        cosign_as_fee_payer(&forged.encode(), &secret(DEV_KEY), None),
        Err(TxError::SenderMismatch { .. })
    ));
    let plain = payment(42431, DEV_ACCOUNT_3, 1, 1_800_000_000).sign_as_sender(&secret(DEV_KEY));
    assert_eq!(
        cosign_as_fee_payer(&plain.encode(), &secret(DEV_KEY), None),
        Err(TxError::NotAFeePayerEnvelope)
    );
    // A valid fee-payer signature with a sender: the fields of Signature are its own.
    let cosigned = handed_over.cosign(&secret(DEV_KEY), None).unwrap();
    let FeePayer::Signed(fee_payer) = cosigned.fee_payer else {
        panic!("co-signed");
    };
    assert_eq!(Signature::from_bytes(&fee_payer.to_bytes()), Ok(fee_payer));
    assert_eq!(address_of(&secret(DEV_KEY)), address(DEV_ACCOUNT));
}
