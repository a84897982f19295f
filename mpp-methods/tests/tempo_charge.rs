//! `TempoCharge`, the server half of `tempo/charge`, against a real Tempo chain on
//! loopback: what pays, and every malformed or wrong payment refused with its own
//! error and problem type, before anything is broadcast or recorded.

use std::sync::{Arc, Mutex};

use mpp_core::challenge::Challenge;
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{BoxFuture, Charge, MethodError, UsedReferences};
use mpp_core::problem::ProblemType;
use mpp_core::value::Base64Json;
use mpp_methods::tempo::{
    Address, Call, HttpRpc, Leg, Memo, Mismatch, Mode, PrivateKey, RpcError, SecretKey,
    SponsorPolicy, SponsorRule, TempoCharge, TempoChargeError, TempoRpc, TempoTerms,
    TempoTransaction, U256, transfer_calldata,
};
use mpp_test_support::tempo::{self, DEV_KEYS, PATH_USD, TempoChain};
use serde_json::json;

const CHAIN_ID: u64 = 42431;
const REALM: &str = "api.example.com";
const PRICE: u128 = 10_000;

/// The node, with every method called recorded: so a test can tell that nothing
/// was broadcast.
struct Recording {
    node: HttpRpc,
    calls: Mutex<Vec<String>>,
    /// Answer `eth_sendRawTransactionSync` as a node that does not have it.
    without_sync_send: bool,
    /// Answer every receipt request with the receipt of this transaction instead.
    lie_with: Mutex<Option<String>>,
}

impl Recording {
    fn broadcasts(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.starts_with("eth_sendRaw"))
            .count()
    }
}

impl TempoRpc for Recording {
    fn call<'a>(
        &'a self,
        method: &'a str,
        params: Value,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        self.calls.lock().unwrap().push(method.into());
        if self.without_sync_send && method == "eth_sendRawTransactionSync" {
            let missing = RpcError::Rejected {
                code: -32601,
                message: "method not found".into(),
            };
            return Box::pin(std::future::ready(Err(missing)));
        }
        let lie = self.lie_with.lock().unwrap().clone();
        match lie {
            Some(other) if method == "eth_getTransactionReceipt" => {
                self.node.call(method, json!([other]))
            }
            _ => self.node.call(method, params),
        }
    }
}

/// Spent hashes, kept in a map the test can fill.
#[derive(Default)]
struct References(Mutex<std::collections::HashMap<String, String>>);

impl UsedReferences for References {
    fn claim<'a>(
        &'a self,
        reference: &'a str,
        challenge: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        let mut map = self.0.lock().unwrap();
        let holder = map
            .entry(reference.into())
            .or_insert_with(|| challenge.into());
        let mine = holder == challenge;
        Box::pin(std::future::ready(Ok(mine)))
    }
}

struct Fixture {
    chain: TempoChain,
    rpc: Arc<Recording>,
    references: Arc<References>,
    charge: TempoCharge,
}

fn address(text: &str) -> Address {
    Address::from_hex(text).unwrap()
}

fn key(i: usize) -> SecretKey {
    *PrivateKey::from_hex(DEV_KEYS[i].1).unwrap().as_secret_key()
}

fn fixture() -> Option<Fixture> {
    fixture_with(false)
}

fn fixture_with(without_sync_send: bool) -> Option<Fixture> {
    let anvil = tempo::anvil_or_skip("tempo_charge")?;
    let chain = TempoChain::start(&anvil, CHAIN_ID);
    let rpc = Arc::new(Recording {
        node: HttpRpc::new(&chain.rpc_url()).unwrap(),
        calls: Mutex::default(),
        without_sync_send,
        lie_with: Mutex::default(),
    });
    let references = Arc::new(References::default());
    let charge = TempoCharge::new(rpc.clone(), CHAIN_ID)
        .used_references(references.clone())
        .receipt_wait(
            std::time::Duration::from_secs(2),
            std::time::Duration::from_secs(20),
        )
        .fee_payer(
            PrivateKey::from_hex(DEV_KEYS[2].1).unwrap(),
            SponsorPolicy::new(address(PATH_USD)),
        );
    Some(Fixture {
        chain,
        rpc,
        references,
        charge,
    })
}

fn terms(recipient: &str) -> TempoTerms {
    TempoTerms::new(PRICE, address(PATH_USD), address(recipient), CHAIN_ID)
}

fn challenge(id: &str, request: &JsonObject) -> Challenge<'static> {
    let header = format!(
        r#"Payment id="{id}", realm="{REALM}", method="tempo", intent="charge", request="{}", expires="2099-01-01T00:00:00Z""#,
        Base64Json::encode(request)
    );
    Challenge::parse(header.as_bytes()).unwrap().into_owned()
}

fn payload(kind: &str, member: &str, value: &str) -> JsonObject {
    let mut payload = JsonObject::new();
    payload.insert("type".into(), kind.into());
    payload.insert(member.into(), value.into());
    payload
}

/// What `charge` says of `payload` for challenge `id` of `terms`.
async fn settle(
    f: &Fixture,
    id: &str,
    terms: &TempoTerms,
    payload: &JsonObject,
    source: Option<&str>,
) -> Result<String, TempoChargeError> {
    let request = terms.to_request();
    let challenge = challenge(id, &request);
    let charge = Charge {
        challenge: &challenge,
        request: &request,
        payload,
        source,
    };
    f.charge.verify(charge).await.map(|s| s.reference)
}

/// A transaction from `from` paying `legs` (the first with `memo`), valid for 20 s of
/// chain time.
fn payment(f: &Fixture, legs: &[Leg], fee_token: Option<Address>) -> TempoTransaction {
    let block = f
        .chain
        .rpc("eth_getBlockByNumber", json!(["latest", false]))
        .unwrap();
    let now = u64::from_str_radix(
        block["timestamp"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    TempoTransaction {
        chain_id: CHAIN_ID,
        max_priority_fee_per_gas: 1_000_000_000,
        max_fee_per_gas: 40_000_000_000,
        gas: 1_000_000,
        calls: legs
            .iter()
            .map(|leg| Call {
                to: Some(address(PATH_USD)),
                value: 0,
                input: transfer_calldata(leg),
            })
            .collect(),
        access_list: Vec::new(),
        nonce_key: U256::MAX,
        nonce: 0,
        valid_before: Some(now + 20),
        valid_after: None,
        fee_token,
        authorization_list: Vec::new(),
        key_authorization: None,
    }
}

fn leg(recipient: &str, amount: u128, memo: Option<Memo>) -> Leg {
    Leg {
        recipient: address(recipient),
        amount,
        memo,
    }
}

fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn balance(f: &Fixture, holder: &str) -> u128 {
    f.chain.token_balance(PATH_USD, holder).unwrap()
}

/// A refusal case: what it is, the payload, what it is refused as.
type Case = (
    &'static str,
    JsonObject,
    fn(&TempoChargeError) -> bool,
    ProblemType,
);

/// The core problem type a server answers `error` with.
fn problem(error: TempoChargeError) -> ProblemType {
    MethodError::from(error).problem_type()
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_payments_pay_once_and_malformed_ones_are_refused_before_broadcast() {
    // req: tempo-charge.transaction.verify-calls, tempo-charge.transaction.mode-offered
    let Some(f) = fixture() else { return };
    let to = "0x00000000000000000000000000000000000a0001";
    let terms = terms(to);
    let memo = |id: &str| Memo::attribution(id, REALM, None);
    let pull = |tx: &TempoTransaction, signer: usize| {
        payload(
            "transaction",
            "signature",
            &hex(&tx.sign_as_sender(&key(signer)).encode()),
        )
    };
    let fee = Some(address(PATH_USD));

    // Each refusal, with what it is refused as; none broadcasts.
    let other_chain = TempoTransaction {
        chain_id: 1,
        ..payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee)
    };
    let mut extra = payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee);
    extra.calls.push(Call {
        to: Some(address(PATH_USD)),
        value: 0,
        input: transfer_calldata(&leg(to, 1, None)),
    });
    let mut padded = payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee);
    padded.calls[0].input.push(0);
    let mut huge = payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee);
    huge.calls[0].input[36] = 1;
    let expired = TempoTransaction {
        valid_before: Some(1_000),
        ..payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee)
    };
    let wrong_type = {
        let mut bytes = payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee)
            .sign_as_sender(&key(0))
            .encode();
        bytes[0] = 0x02;
        hex(&bytes)
    };
    let cases: Vec<Case> = vec![
        (
            "bad hex",
            payload("transaction", "signature", "0x76zz"),
            |e| matches!(e, TempoChargeError::MalformedPayload(_)),
            ProblemType::InvalidPayload,
        ),
        (
            "no signature",
            payload("transaction", "hash", "0x76"),
            |e| matches!(e, TempoChargeError::MalformedPayload(_)),
            ProblemType::InvalidPayload,
        ),
        (
            "unknown type",
            payload("cheque", "signature", "0x76"),
            |e| matches!(e, TempoChargeError::MalformedPayload(_)),
            ProblemType::InvalidPayload,
        ),
        (
            "wrong transaction type",
            payload("transaction", "signature", &wrong_type),
            |e| matches!(e, TempoChargeError::MalformedPayload(_)),
            ProblemType::InvalidPayload,
        ),
        (
            "another chain",
            pull(&other_chain, 0),
            |e| matches!(e, TempoChargeError::Refused(m) if m.contains("chain 1")),
            ProblemType::VerificationFailed,
        ),
        (
            "an extra call",
            pull(&extra, 0),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Malformed),
            ProblemType::VerificationFailed,
        ),
        (
            "padded calldata",
            pull(&padded, 0),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Malformed),
            ProblemType::VerificationFailed,
        ),
        (
            "an amount beyond 128 bits",
            pull(&huge, 0),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Amount),
            ProblemType::VerificationFailed,
        ),
        (
            "the wrong recipient",
            pull(
                &payment(
                    &f,
                    &[leg(
                        "0x00000000000000000000000000000000000a0002",
                        PRICE,
                        Some(memo("a")),
                    )],
                    fee,
                ),
                0,
            ),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Recipient),
            ProblemType::VerificationFailed,
        ),
        (
            "too little",
            pull(&payment(&f, &[leg(to, PRICE - 1, Some(memo("a")))], fee), 0),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Amount),
            ProblemType::VerificationFailed,
        ),
        (
            "another challenge's memo",
            pull(&payment(&f, &[leg(to, PRICE, Some(memo("b")))], fee), 0),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Memo),
            ProblemType::VerificationFailed,
        ),
        (
            "no memo",
            pull(&payment(&f, &[leg(to, PRICE, None)], fee), 0),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Memo),
            ProblemType::VerificationFailed,
        ),
        (
            "expired",
            pull(&expired, 0),
            |e| matches!(e, TempoChargeError::Refused(m) if m.contains("expired")),
            ProblemType::VerificationFailed,
        ),
        (
            "signed by another account than the source",
            pull(&payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee), 1),
            |e| matches!(e, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Payer),
            ProblemType::VerificationFailed,
        ),
        (
            "a fee-payer envelope for terms without one",
            payload(
                "transaction",
                "signature",
                &hex(&payment(&f, &[leg(to, PRICE, Some(memo("a")))], None)
                    .sign_as_sponsored_sender(&key(0))
                    .encode()),
            ),
            |e| matches!(e, TempoChargeError::Refused(_)),
            ProblemType::VerificationFailed,
        ),
        (
            "a proof for a non-zero amount",
            payload("proof", "signature", "0x00"),
            |e| matches!(e, TempoChargeError::ModeNotOffered(_)),
            ProblemType::VerificationFailed,
        ),
    ];
    let source = tempo_source(0);
    for (what, payload, is, problem_type) in cases {
        let error = settle(&f, "a", &terms, &payload, Some(&source))
            .await
            .unwrap_err();
        assert!(is(&error), "{what}: {error:?}");
        assert_eq!(problem(error), problem_type, "{what}");
    }
    let mut push_only = terms.clone();
    push_only.supported_modes = Some(vec![Mode::Push]);
    let right = pull(&payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee), 0);
    let error = settle(&f, "a", &push_only, &right, Some(&source))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TempoChargeError::ModeNotOffered(_)),
        "{error:?}"
    );
    assert_eq!(f.rpc.broadcasts(), 0, "nothing refused was broadcast");
    assert!(
        f.references.0.lock().unwrap().is_empty(),
        "nothing refused was recorded"
    );
    assert_eq!(balance(&f, to), 0);

    // The right transaction pays, once; the same credential again (a retry) finds
    // it already paid and grants without a second transfer.
    let right = pull(&payment(&f, &[leg(to, PRICE, Some(memo("a")))], fee), 0);
    let hash = settle(&f, "a", &terms, &right, Some(&source))
        .await
        .unwrap();
    assert_eq!(balance(&f, to), PRICE);
    assert_eq!(
        settle(&f, "a", &terms, &right, Some(&source))
            .await
            .unwrap(),
        hash
    );
    assert_eq!(balance(&f, to), PRICE);
    // Presented for another challenge: its memo names challenge `a`.
    let error = settle(&f, "b", &terms, &right, Some(&source))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Memo),
        "{error:?}"
    );
    assert_eq!(balance(&f, to), PRICE);
}

fn tempo_source(i: usize) -> String {
    format!("did:pkh:eip155:{CHAIN_ID}:{}", DEV_KEYS[i].0)
}

#[tokio::test(flavor = "multi_thread")]
async fn push_payments_are_checked_on_their_receipt_and_hashes_pay_once() {
    // req: tempo-charge.hash.verify-receipt, tempo-charge.hash.mode-offered
    // req: tempo-charge.hash.refuse-with-fee-payer
    let Some(f) = fixture() else { return };
    let to = "0x00000000000000000000000000000000000b0001";
    let terms = terms(to);
    let fee = Some(address(PATH_USD));
    let broadcast = |tx: &TempoTransaction| {
        let signed = tx.sign_as_sender(&key(0));
        let receipt = f
            .chain
            .rpc("eth_sendRawTransactionSync", json!([hex(&signed.encode())]))
            .unwrap();
        (signed.hash().to_hex(), receipt)
    };
    let memo = |id: &str| Some(Memo::attribution(id, REALM, None));
    let source = tempo_source(0);

    let (paid, _) = broadcast(&payment(&f, &[leg(to, PRICE, memo("a"))], fee));
    let hash = |h: &str| payload("hash", "hash", h);
    assert_eq!(
        settle(&f, "a", &terms, &hash(&paid), Some(&source))
            .await
            .unwrap(),
        paid
    );
    // A retry of the same credential is granted again (nothing moves); another
    // challenge cannot use it (its memo names `a`).
    assert_eq!(
        settle(&f, "a", &terms, &hash(&paid), Some(&source))
            .await
            .unwrap(),
        paid
    );
    let error = settle(&f, "b", &terms, &hash(&paid), Some(&source))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Memo),
        "{error:?}"
    );
    // A hash another challenge already spent (recorded by any instance) is refused.
    let (spent, _) = broadcast(&payment(&f, &[leg(to, PRICE, memo("c"))], fee));
    f.references
        .0
        .lock()
        .unwrap()
        .insert(spent.clone(), "elsewhere".into());
    let error = settle(&f, "c", &terms, &hash(&spent), Some(&source))
        .await
        .unwrap_err();
    assert_eq!(error, TempoChargeError::AlreadyUsed);
    assert_eq!(problem(error), ProblemType::VerificationFailed);
    // The right amount to the wrong recipient.
    let (elsewhere, _) = broadcast(&payment(
        &f,
        &[leg(
            "0x00000000000000000000000000000000000b0002",
            PRICE,
            memo("d"),
        )],
        fee,
    ));
    let error = settle(&f, "d", &terms, &hash(&elsewhere), Some(&source))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Recipient),
        "{error:?}"
    );
    // Another payer than the source.
    let error = settle(&f, "a", &terms, &hash(&paid), Some(&tempo_source(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Payer),
        "{error:?}"
    );
    // A transfer that reverted (more than the payer has) pays nothing.
    let too_much = u128::from(u64::MAX) * 4;
    let (reverted, receipt) = broadcast(&payment(&f, &[leg(to, too_much, memo("e"))], fee));
    assert_eq!(receipt["status"], "0x0", "{receipt}");
    let big = TempoTerms::new(too_much, address(PATH_USD), address(to), CHAIN_ID);
    let error = settle(&f, "e", &big, &hash(&reverted), Some(&source))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Mismatch(r) if r.mismatch == Mismatch::Status),
        "{error:?}"
    );
    // A hash no transaction has, and malformed hashes.
    let error = settle(
        &f,
        "f",
        &terms,
        &hash(&format!("0x{}", "ab".repeat(32))),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(error, TempoChargeError::UnknownTransaction);
    for bad in [
        "0x12",
        "ab".repeat(32).as_str(),
        &format!("0x{}", "zz".repeat(32)),
    ] {
        let error = settle(&f, "f", &terms, &hash(bad), None).await.unwrap_err();
        assert_eq!(problem(error), ProblemType::InvalidPayload, "{bad}");
    }
    // Push where the terms offer pull only, or where the server pays the fees.
    let mut pull_only = terms.clone();
    pull_only.supported_modes = Some(vec![Mode::Pull]);
    let error = settle(&f, "a", &pull_only, &hash(&paid), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, TempoChargeError::ModeNotOffered(_)),
        "{error:?}"
    );
    let mut sponsored = terms.clone();
    sponsored.fee_payer = true;
    let error = settle(&f, "a", &sponsored, &hash(&paid), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, TempoChargeError::ModeNotOffered(_)),
        "{error:?}"
    );
    assert_eq!(
        balance(&f, to),
        PRICE * 2,
        "the two transfers to `to` that succeeded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_sponsors_fees_only_within_its_policy() {
    let Some(f) = fixture() else { return };
    let to = "0x00000000000000000000000000000000000c0001";
    let mut terms = terms(to);
    terms.fee_payer = true;
    terms.supported_modes = Some(vec![Mode::Pull]);
    let memo = Some(Memo::attribution("a", REALM, None));
    let envelope = |tx: &TempoTransaction| {
        payload(
            "transaction",
            "signature",
            &hex(&tx.sign_as_sponsored_sender(&key(1)).encode()),
        )
    };
    let source = tempo_source(1);
    let base = || payment(&f, &[leg(to, PRICE, memo)], None);
    for (tx, rule) in [
        (
            TempoTransaction {
                gas: 3_000_000,
                ..base()
            },
            SponsorRule::GasLimit,
        ),
        (
            TempoTransaction {
                max_fee_per_gas: 200_000_000_000,
                ..base()
            },
            SponsorRule::FeeCaps,
        ),
        (
            TempoTransaction {
                nonce_key: U256::from_u128(1),
                ..base()
            },
            SponsorRule::NonceKey,
        ),
        (
            TempoTransaction {
                valid_before: base().valid_before.map(|b| b + 3600),
                ..base()
            },
            SponsorRule::ValidityWindow,
        ),
    ] {
        let error = settle(&f, "a", &terms, &envelope(&tx), Some(&source))
            .await
            .unwrap_err();
        let TempoChargeError::Refused(message) = &error else {
            panic!("{rule:?}: {error:?}")
        };
        assert!(message.contains(rule.as_str()), "{rule:?}: {message}");
    }
    // A fee token the sponsor does not pay in (the payer's signature leaves the
    // token to the sponsor, so the envelope may name one).
    let mut alpha = base().sign_as_sponsored_sender(&key(1));
    alpha.tx.fee_token = Some(address("0x20c0000000000000000000000000000000000001"));
    let named = payload("transaction", "signature", &hex(&alpha.encode()));
    let error = settle(&f, "a", &terms, &named, Some(&source))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Refused(m) if m.contains(SponsorRule::FeeToken.as_str())),
        "{error:?}"
    );
    // A 0x76 that names its own fee payment, for terms where the server pays.
    let own = base().sign_as_sender(&key(1));
    let error = settle(
        &f,
        "a",
        &terms,
        &payload("transaction", "signature", &hex(&own.encode())),
        Some(&source),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, TempoChargeError::Refused(_)), "{error:?}");
    assert_eq!(f.rpc.broadcasts(), 0);

    // Within the policy: the sponsor pays the fees, the payer exactly the price.
    let payer_before = balance(&f, DEV_KEYS[1].0);
    let sponsor_before = balance(&f, DEV_KEYS[2].0);
    settle(&f, "a", &terms, &envelope(&base()), Some(&source))
        .await
        .unwrap();
    assert_eq!(balance(&f, to), PRICE);
    assert_eq!(payer_before - balance(&f, DEV_KEYS[1].0), PRICE);
    assert!(
        balance(&f, DEV_KEYS[2].0) < sponsor_before,
        "the sponsor paid the fees"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_amounts_take_a_proof_and_an_unreachable_node_is_an_internal_error() {
    // req: tempo-charge.proof.verify
    let Some(f) = fixture() else { return };
    let mut free = terms("0x00000000000000000000000000000000000d0001");
    free.amount = 0;
    let signer = PrivateKey::from_hex(DEV_KEYS[0].1).unwrap();
    let digest = mpp_methods::tempo::proof_digest(CHAIN_ID, &signer.address(), "z", REALM);
    let signature = mpp_methods::tempo::Signature::sign(digest, signer.as_secret_key());
    let proof = payload("proof", "signature", &hex(&signature.to_bytes()));
    assert_eq!(
        settle(&f, "z", &free, &proof, Some(&tempo_source(0)))
            .await
            .unwrap(),
        "z"
    );
    let error = settle(&f, "z", &free, &proof, Some(&tempo_source(1)))
        .await
        .unwrap_err();
    assert!(matches!(error, TempoChargeError::Proof(_)), "{error:?}");
    let hash = payload("hash", "hash", &format!("0x{}", "ab".repeat(32)));
    let error = settle(&f, "z", &free, &hash, None).await.unwrap_err();
    assert!(
        matches!(error, TempoChargeError::ModeNotOffered(_)),
        "{error:?}"
    );

    // Nobody listens there: the verdict is unknown, the credential may be retried.
    let down = TempoCharge::new(
        Arc::new(HttpRpc::new("http://127.0.0.1:9").unwrap()),
        CHAIN_ID,
    );
    let request = terms("0x00000000000000000000000000000000000d0002").to_request();
    let challenge = challenge("y", &request);
    let error = down
        .verify(Charge {
            challenge: &challenge,
            request: &request,
            payload: &hash,
            source: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, TempoChargeError::Unavailable(_)),
        "{error:?}"
    );
    assert_eq!(problem(error), ProblemType::InternalPaymentError);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sponsor_simulates_first_and_never_pays_for_a_failing_transfer() {
    let Some(f) = fixture() else { return };
    let to = "0x00000000000000000000000000000000000f0001";
    let memo = Some(Memo::attribution("a", REALM, None));
    // A payer holding exactly the price, nothing for fees: the sponsor pays them.
    let payer = PrivateKey::from_hex(&"11".repeat(32)).unwrap();
    let fund = payment(
        &f,
        &[leg(&payer.address().to_hex(), PRICE, None)],
        Some(address(PATH_USD)),
    );
    let funded = f
        .chain
        .rpc(
            "eth_sendRawTransactionSync",
            json!([hex(&fund.sign_as_sender(&key(0)).encode())]),
        )
        .unwrap();
    assert_eq!(funded["status"], "0x1");
    let mut terms = terms(to);
    terms.fee_payer = true;
    let source = format!("did:pkh:eip155:{CHAIN_ID}:{}", payer.address().to_hex());
    let envelope = |amount| {
        let tx = payment(&f, &[leg(to, amount, memo)], None);
        payload(
            "transaction",
            "signature",
            &hex(&tx.sign_as_sponsored_sender(payer.as_secret_key()).encode()),
        )
    };
    // More than the payer holds: the simulation fails, nothing is signed or sent.
    let mut dear = terms.clone();
    dear.amount = PRICE * 2;
    let error = settle(&f, "a", &dear, &envelope(PRICE * 2), Some(&source))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Refused(m) if m.contains("would fail")),
        "{error:?}"
    );
    assert_eq!(f.rpc.broadcasts(), 0);
    // Exactly what it holds: paid, fees on the sponsor.
    settle(&f, "a", &terms, &envelope(PRICE), Some(&source))
        .await
        .unwrap();
    assert_eq!(balance(&f, to), PRICE);
    assert_eq!(balance(&f, &payer.address().to_hex()), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_without_the_synchronous_send_is_polled() {
    let Some(f) = fixture_with(true) else { return };
    let to = "0x00000000000000000000000000000000000f0002";
    let tx = payment(
        &f,
        &[leg(to, PRICE, Some(Memo::attribution("a", REALM, None)))],
        Some(address(PATH_USD)),
    );
    let signed = payload(
        "transaction",
        "signature",
        &hex(&tx.sign_as_sender(&key(0)).encode()),
    );
    settle(&f, "a", &terms(to), &signed, None).await.unwrap();
    assert_eq!(balance(&f, to), PRICE);
    let calls = f.rpc.calls.lock().unwrap().clone();
    assert!(
        calls.contains(&"eth_sendRawTransaction".to_owned()),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_of_another_transaction_grants_nothing() {
    let Some(f) = fixture() else { return };
    let to = "0x00000000000000000000000000000000000f0003";
    let memo = |id: &str| Some(Memo::attribution(id, REALM, None));
    let send = |tx: &TempoTransaction| {
        let signed = tx.sign_as_sender(&key(0));
        f.chain
            .rpc("eth_sendRawTransactionSync", json!([hex(&signed.encode())]))
            .unwrap();
        signed.hash().to_hex()
    };
    let fee = Some(address(PATH_USD));
    let real = send(&payment(&f, &[leg(to, PRICE, memo("a"))], fee));
    let other = send(&payment(&f, &[leg(to, PRICE, memo("b"))], fee));
    // The node answers with the receipt of `real` (which pays challenge `a`) when
    // asked for `other`'s.
    *f.rpc.lie_with.lock().unwrap() = Some(real);
    let error = settle(&f, "a", &terms(to), &payload("hash", "hash", &other), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Unavailable(m) if m.contains("receipt of")),
        "{error:?}"
    );
    assert_eq!(problem(error), ProblemType::InternalPaymentError);
    assert!(f.references.0.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_payment_waits_for_its_confirmations() {
    let Some(f) = fixture() else { return };
    let to = "0x00000000000000000000000000000000000f0004";
    let tx = payment(
        &f,
        &[leg(to, PRICE, Some(Memo::attribution("a", REALM, None)))],
        Some(address(PATH_USD)),
    );
    let signed = tx.sign_as_sender(&key(0));
    let receipt = f
        .chain
        .rpc("eth_sendRawTransactionSync", json!([hex(&signed.encode())]))
        .unwrap();
    let included = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let hash = payload("hash", "hash", &signed.hash().to_hex());
    let request = terms(to).to_request();
    let challenge = challenge("a", &request);
    let charge = Charge {
        challenge: &challenge,
        request: &request,
        payload: &hash,
        source: None,
    };
    // More confirmations than come within the wait: not yet, the credential may come
    // back, and nothing is recorded.
    let impatient = TempoCharge::new(f.rpc.clone(), CHAIN_ID)
        .used_references(f.references.clone())
        .confirmations(1_000)
        .receipt_wait(
            std::time::Duration::from_millis(600),
            std::time::Duration::from_secs(5),
        );
    let error = impatient.verify(charge).await.unwrap_err();
    assert!(
        matches!(&error, TempoChargeError::Unavailable(m) if m.contains("confirmations")),
        "{error:?}"
    );
    assert!(f.references.0.lock().unwrap().is_empty());
    // Two blocks on top (a block a second): granted once they are there.
    let patient = TempoCharge::new(f.rpc.clone(), CHAIN_ID)
        .used_references(f.references.clone())
        .confirmations(2)
        .receipt_wait(
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(5),
        );
    patient.verify(charge).await.unwrap();
    let latest = f.chain.rpc("eth_blockNumber", json!([])).unwrap();
    let latest =
        u64::from_str_radix(latest.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!(
        latest >= included + 2,
        "granted at block {latest}, included in {included}"
    );
}
