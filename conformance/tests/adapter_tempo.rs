//! The adapter's `tempo.*` operations: receipts and transactions of real transfers
//! on a local Tempo chain verified (and each way of not paying refused with its
//! class), the zero-amount proof's typed data as mppx writes it, and a sponsor's
//! co-signature refused rule by rule.

use conformance::adapter;
use mpp_core::time::UnixTime;
use mpp_methods::tempo::{
    Address, Call, Leg, Memo, SecretKey, TempoTerms, TempoTransaction, U256, transfer_calldata,
};
use mpp_test_support::mppx;
use mpp_test_support::tempo::{self, DEV_KEYS, PATH_USD, TempoChain};
use serde_json::{Value, json};

const NOW: i64 = 1_769_688_000; // 2026-01-29T12:00:00Z
const CHAIN_ID: u64 = 42431;
const RECIPIENT: &str = "0x00000000000000000000000000000000000c0001";
const REALM: &str = "api.example.com";
const CHALLENGE_ID: &str = "ch_adapter_1";
const AMOUNT: u128 = 10_000;

fn call(op: &str, input: Value) -> Value {
    let request = json!({ "schema": 1, "op": op, "input": input });
    let line = adapter::handle(&request.to_string(), UnixTime::from_secs(NOW));
    assert!(!line.contains("null"), "never emits null: {line}");
    serde_json::from_str(&line).unwrap()
}

fn ok(op: &str, input: Value) -> Value {
    let out = call(op, input);
    assert_eq!(out["ok"], true, "{op}: {out}");
    out["value"].clone()
}

/// The error's `(type, class)`.
fn refusal(op: &str, input: Value) -> (String, String) {
    let out = call(op, input);
    assert_eq!(out["ok"], false, "{op}: {out}");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (text(&out["error"]["type"]), text(&out["error"]["class"]))
}

fn refused(class: &str) -> (String, String) {
    ("verification_error".into(), class.into())
}

fn address(hex: &str) -> Address {
    Address::from_hex(hex).unwrap()
}

fn secret(hex: &str) -> SecretKey {
    let digits = hex.trim_start_matches("0x");
    let bytes: Vec<u8> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect();
    SecretKey::from_byte_array(bytes.try_into().unwrap()).unwrap()
}

fn to_hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn terms(amount: u128, currency: &str, recipient: &str, chain_id: u64) -> Value {
    let terms = TempoTerms::new(amount, address(currency), address(recipient), chain_id);
    Value::Object(terms.to_request())
}

/// A credential in the ABI's form for a challenge with `request`.
fn credential(request: Value, id: &str, payload: Value, source: Option<&str>) -> Value {
    let mut credential = json!({
        "challenge": {
            "id": id, "realm": REALM, "method": "tempo", "intent": "charge",
            "request": request, "expires": "2026-01-29T12:05:00Z",
        },
        "payload": payload,
    });
    if let Some(source) = source {
        credential["source"] = source.into();
    }
    credential
}

fn source(account: &str) -> String {
    format!("did:pkh:eip155:{CHAIN_ID}:{account}")
}

/// The calls paying `amount` to `to`, attributed to `id`.
fn pay_calls(to: &str, amount: u128, id: &str) -> Vec<Call> {
    let leg = Leg {
        recipient: address(to),
        amount,
        memo: Some(Memo::attribution(id, REALM, None)),
    };
    vec![Call {
        to: Some(address(PATH_USD)),
        value: 0,
        input: transfer_calldata(&leg),
    }]
}

fn latest_timestamp(chain: &TempoChain) -> u64 {
    let block = chain
        .rpc("eth_getBlockByNumber", json!(["latest", false]))
        .unwrap();
    let hex = block["timestamp"].as_str().unwrap();
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap()
}

/// Signs a payment of `amount` to the recipient for `id` with `key`, broadcasts it
/// and returns the signed bytes and the receipt.
fn pay(chain: &TempoChain, key: &str, amount: u128, id: &str) -> (String, Value) {
    let tx = TempoTransaction {
        chain_id: CHAIN_ID,
        max_priority_fee_per_gas: 0,
        max_fee_per_gas: 40_000_000_000,
        gas: 1_000_000,
        calls: pay_calls(RECIPIENT, amount, id),
        access_list: Vec::new(),
        nonce_key: U256::MAX,
        nonce: 0,
        valid_before: Some(latest_timestamp(chain) + 25),
        valid_after: None,
        fee_token: Some(address(PATH_USD)),
        authorization_list: Vec::new(),
        key_authorization: None,
    };
    let raw = to_hex(&tx.sign_as_sender(&secret(key)).encode());
    let receipt = chain
        .rpc("eth_sendRawTransactionSync", json!([raw]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    (raw, receipt)
}

#[test]
fn receipts_and_transactions_of_a_real_chain_are_verified_and_refused_by_class() {
    let Some(anvil) = tempo::anvil_or_skip("adapter_receipts_and_transactions") else {
        return;
    };
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let (payer, key) = DEV_KEYS[1];
    let (raw, receipt) = pay(&chain, key, AMOUNT, CHALLENGE_ID);
    let hash = receipt["transactionHash"].as_str().unwrap().to_owned();
    let (_, other_receipt) = pay(&chain, key, AMOUNT, "ch_adapter_2");
    let request = terms(AMOUNT, PATH_USD, RECIPIENT, CHAIN_ID);
    let by_hash = |request: &Value, id: &str, hash: &str, source: Option<&str>| {
        credential(
            request.clone(),
            id,
            json!({ "type": "hash", "hash": hash }),
            source,
        )
    };
    let verify = |credential: Value, receipt: &Value| json!({ "credential": credential, "receipt": receipt });

    // Push: the receipt of the payload's hash shows the payment.
    let payer_source = source(payer);
    let paid = ok(
        "tempo.receipt.verify",
        verify(
            by_hash(&request, CHALLENGE_ID, &hash, Some(&payer_source)),
            &receipt,
        ),
    );
    assert_eq!(paid, json!({ "status": "success", "reference": hash }));
    let op = "tempo.receipt.verify";
    let cases = [
        // The memo attributes the transfer to another challenge.
        (by_hash(&request, "ch_other", &hash, None), &receipt, "memo"),
        (
            by_hash(
                &terms(AMOUNT + 1, PATH_USD, RECIPIENT, CHAIN_ID),
                CHALLENGE_ID,
                &hash,
                None,
            ),
            &receipt,
            "amount",
        ),
        (
            by_hash(
                &terms(AMOUNT, PATH_USD, DEV_KEYS[2].0, CHAIN_ID),
                CHALLENGE_ID,
                &hash,
                None,
            ),
            &receipt,
            "recipient",
        ),
        (
            by_hash(
                &terms(
                    AMOUNT,
                    "0x20c0000000000000000000000000000000000001",
                    RECIPIENT,
                    CHAIN_ID,
                ),
                CHALLENGE_ID,
                &hash,
                None,
            ),
            &receipt,
            "token",
        ),
        (
            by_hash(&request, CHALLENGE_ID, &hash, Some(&source(DEV_KEYS[2].0))),
            &receipt,
            "payer",
        ),
        // The receipt of another transaction than the payload names.
        (
            by_hash(&request, CHALLENGE_ID, &hash, None),
            &other_receipt,
            "reference",
        ),
        (
            by_hash(&request, CHALLENGE_ID, "0x1234", None),
            &receipt,
            "malformed",
        ),
        (
            by_hash(&request, CHALLENGE_ID, &hash, Some("did:web:example.com")),
            &receipt,
            "malformed",
        ),
    ];
    for (credential, receipt, class) in cases {
        assert_eq!(
            refusal(op, verify(credential.clone(), receipt)),
            refused(class),
            "{credential}"
        );
    }
    // The same receipt, reverted, or stripped of its logs.
    let mut reverted = receipt.clone();
    reverted["status"] = "0x0".into();
    let mut no_logs = receipt.clone();
    no_logs.as_object_mut().unwrap().remove("logs");
    for (edited, class) in [(reverted, "status"), (no_logs, "malformed")] {
        let input = verify(by_hash(&request, CHALLENGE_ID, &hash, None), &edited);
        assert_eq!(refusal(op, input), refused(class), "{class}");
    }
    // Unusable input is not a verdict.
    let pull_payload = json!({ "type": "transaction", "signature": raw });
    let not_hash = credential(request.clone(), CHALLENGE_ID, pull_payload.clone(), None);
    assert_eq!(refusal(op, verify(not_hash, &receipt)).0, "invalid_request");
    let not_tempo = by_hash(&json!({ "amount": "1" }), CHALLENGE_ID, &hash, None);
    assert_eq!(
        refusal(op, verify(not_tempo, &receipt)).0,
        "invalid_request"
    );

    // Pull: the transaction pays the terms, and the receipt is its broadcast's.
    let op = "tempo.transaction.verify";
    let by_tx = |request: &Value, id: &str, signature: &str, source: Option<&str>| {
        credential(
            request.clone(),
            id,
            json!({ "type": "transaction", "signature": signature }),
            source,
        )
    };
    let paid = ok(
        op,
        verify(
            by_tx(&request, CHALLENGE_ID, &raw, Some(&payer_source)),
            &receipt,
        ),
    );
    assert_eq!(paid, json!({ "status": "success", "reference": hash }));
    let cases = [
        (by_tx(&request, "ch_other", &raw, None), &receipt, "memo"),
        (
            by_tx(
                &terms(AMOUNT * 2, PATH_USD, RECIPIENT, CHAIN_ID),
                CHALLENGE_ID,
                &raw,
                None,
            ),
            &receipt,
            "amount",
        ),
        (
            by_tx(
                &terms(AMOUNT, PATH_USD, RECIPIENT, 4217),
                CHALLENGE_ID,
                &raw,
                None,
            ),
            &receipt,
            "chain",
        ),
        (
            by_tx(&request, CHALLENGE_ID, &raw, Some(&source(DEV_KEYS[0].0))),
            &receipt,
            "payer",
        ),
        (
            by_tx(&request, CHALLENGE_ID, &raw, None),
            &other_receipt,
            "reference",
        ),
        (
            by_tx(&request, CHALLENGE_ID, "0x76c0", None),
            &receipt,
            "malformed",
        ),
    ];
    for (credential, receipt, class) in cases {
        assert_eq!(
            refusal(op, verify(credential.clone(), receipt)),
            refused(class),
            "{credential}"
        );
    }
    let mut reverted = receipt.clone();
    reverted["status"] = "0x0".into();
    assert_eq!(
        refusal(
            op,
            verify(by_tx(&request, CHALLENGE_ID, &raw, None), &reverted)
        ),
        refused("status")
    );
}

#[test]
fn proof_typed_data_is_mppx_s_for_an_account_and_version_2_without() {
    let input = json!({ "chainId": 42431, "account": DEV_KEYS[0].0, "challengeId": "ch_1", "realm": REALM });
    let ours = ok("tempo.proof.typed_data", input.clone());
    assert_eq!(ours["domain"]["version"], "3");
    assert!(ours["types"].get("EIP712Domain").is_none());
    let without = ok(
        "tempo.proof.typed_data",
        json!({ "chainId": "42431", "challengeId": "ch_1", "realm": REALM }),
    );
    assert_eq!(
        without,
        json!({
            "domain": { "name": "MPP", "version": "2", "chainId": 42431 },
            "types": { "Proof": [
                { "name": "challengeId", "type": "string" },
                { "name": "realm", "type": "string" },
            ]},
            "primaryType": "Proof",
            "message": { "challengeId": "ch_1", "realm": REALM },
        })
    );
    for bad in [
        json!({ "chainId": 42431, "account": "0x12", "challengeId": "ch_1", "realm": REALM }),
        json!({ "chainId": -1, "challengeId": "ch_1", "realm": REALM }),
        json!({ "chainId": 42431, "realm": REALM }),
    ] {
        assert_eq!(
            refusal("tempo.proof.typed_data", bad.clone()).0,
            "invalid_request",
            "{bad}"
        );
    }
    let Some(dir) = mppx::harness_or_skip("proof_typed_data_is_mppx_s") else {
        return;
    };
    let run = mppx::node(&dir, &["proof-typed-data.mjs", &input.to_string()], &[]);
    assert!(run.success, "{}", run.report());
    let theirs: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(ours, theirs);
}

/// A sponsored payment of the terms for `CHALLENGE_ID`, as the cosign op reads it.
fn sponsored_input() -> Value {
    let calls: Vec<Value> = pay_calls(RECIPIENT, AMOUNT, CHALLENGE_ID)
        .iter()
        .map(|c| json!({ "to": PATH_USD, "value": 0, "data": to_hex(&c.input) }))
        .collect();
    json!({
        "payerPrivateKey": DEV_KEYS[1].1,
        "feePayerPrivateKey": DEV_KEYS[2].1,
        "feeToken": PATH_USD,
        "request": terms(AMOUNT, PATH_USD, RECIPIENT, CHAIN_ID),
        "transaction": {
            "chainId": CHAIN_ID,
            "maxFeePerGas": "40000000000",
            "maxPriorityFeePerGas": "0x0",
            "gasLimit": 1_000_000,
            "calls": calls,
            "accessList": [{ "address": PATH_USD, "storageKeys": [format!("0x{:064x}", 1)] }],
            "nonceKey": "max",
            "nonce": 0,
            "validBefore": "now+25",
        },
        "challenge": {
            "id": CHALLENGE_ID, "realm": REALM, "method": "tempo", "intent": "charge",
            "request": terms(AMOUNT, PATH_USD, RECIPIENT, CHAIN_ID),
            "expires": "2026-01-29T12:05:00Z",
        },
    })
}

#[test]
fn a_sponsor_cosigns_within_its_policy_and_names_the_rule_it_refuses() {
    let op = "tempo.fee_payer.cosign";
    let expected = json!({
        "type": "0x76",
        "feeToken": PATH_USD,
        "feePayerSignaturePresent": true,
        "accessListLength": 1,
        "callCount": 1,
    });
    assert_eq!(ok(op, sponsored_input()), expected);
    // Without a challenge, only the policy is checked: any calls are sponsored.
    let mut input = sponsored_input();
    input.as_object_mut().unwrap().remove("challenge");
    input["transaction"]["calls"] = json!([{ "to": RECIPIENT, "data": "0x" }]);
    assert_eq!(ok(op, input)["callCount"], 1);

    let edit = |member: &str, value: Value| {
        let mut input = sponsored_input();
        input["transaction"][member] = value;
        input
    };
    let cases = [
        (edit("gasLimit", json!(0)), "gas-limit"),
        (edit("gasLimit", json!(3_000_000)), "gas-limit"),
        (edit("maxFeePerGas", json!(0)), "fee-caps"),
        (
            edit("maxPriorityFeePerGas", json!("50000000000")),
            "fee-caps",
        ),
        (
            {
                let mut input = edit("gasLimit", json!(2_000_000));
                input["transaction"]["maxFeePerGas"] = json!("100000000000");
                input
            },
            "total-fee",
        ),
        (edit("nonceKey", json!(0)), "nonce-key"),
        (edit("validBefore", Value::Null), "validity-window"),
        (edit("validBefore", json!("now+3600")), "validity-window"),
        (edit("validBefore", json!(NOW - 1)), "validity-window"),
        (
            edit(
                "feeToken",
                json!("0x20c0000000000000000000000000000000000001"),
            ),
            "fee-token",
        ),
        (
            edit(
                "calls",
                json!([{ "to": PATH_USD, "data": to_hex(&pay_calls(RECIPIENT, 1, CHALLENGE_ID)[0].input) }]),
            ),
            "calls",
        ),
        (
            edit(
                "calls",
                json!([{ "to": PATH_USD, "data": to_hex(&pay_calls(RECIPIENT, AMOUNT, "ch_other")[0].input) }]),
            ),
            "calls",
        ),
        (edit("chainId", json!(4217)), "calls"),
    ];
    for (input, class) in cases {
        let out = call(op, input.clone());
        assert_eq!(out["error"]["type"], "verification_error", "{class}: {out}");
        assert_eq!(out["error"]["class"], class, "{out}");
        let message = out["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&class.replace('-', " ")),
            "the message names the rule: {message}"
        );
    }
    // A key that is not one is refused without being repeated.
    let mut input = sponsored_input();
    input["payerPrivateKey"] = "0xnot-a-key-zzzz".into();
    let out = call(op, input);
    assert_eq!(out["error"]["type"], "invalid_request");
    assert!(!out.to_string().contains("not-a-key"), "{out}");
    // The well-formed key never appears in any answer either.
    let out = call(op, edit("gasLimit", json!(0)));
    let digits = &DEV_KEYS[1].1[2..];
    assert!(!out.to_string().contains(digits));
    for bad in [
        edit("nonceKey", json!("maximum")),
        edit("calls", json!("none")),
        edit("validBefore", json!("now+soon")),
    ] {
        assert_eq!(call(op, bad)["error"]["type"], "invalid_request");
    }
}
