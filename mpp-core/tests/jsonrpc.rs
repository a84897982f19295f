//! The JSON-RPC / MCP wire model: round trips with the HTTP forms, the challenge id
//! across transports, every error, and the forms deployed SDKs send.

use mpp_core::ParseOptions;
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::{Challenge, ChallengeBuilder};
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{
    self, Failure, JsonRpcError, PaidReceipt, PaymentCapability, Placement, Signal,
};
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{ChallengeId, MethodName, Opaque};
use mpp_core::{Fault, ParseErrorKind};
use serde_json::{Value, json};

const STRICT: ParseOptions = ParseOptions::STRICT;

fn obj(value: Value) -> JsonObject {
    match value {
        Value::Object(o) => o,
        other => panic!("not an object: {other}"),
    }
}

fn binder() -> ChallengeBinder {
    ChallengeBinder::new(Secret::new([7u8; 32]).unwrap())
}

/// A challenge issued over HTTP, with every bound parameter set.
fn issued() -> Challenge<'static> {
    let request = obj(json!({
        "amount": "1000",
        "currency": "usd",
        "recipient": "0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00",
        "methodDetails": {"chainId": 42431, "fee": 1.5}
    }));
    let expires = Timestamp::from_unix(UnixTime::from_secs(1_800_000_000)).unwrap();
    ChallengeBuilder::new("api.example.com", "tempo", "charge", &request)
        .unwrap()
        .expires(expires)
        .description("One tool call")
        .opaque(Opaque::encode([("route", "tools/call:search")]))
        .issue(&binder())
        .unwrap()
        .into_owned()
}

fn credential() -> Credential {
    Credential::answer(
        &issued(),
        obj(json!({"type": "transaction", "signature": "0xabc"})),
        Some("did:pkh:eip155:42431:0x01".into()),
    )
}

fn receipt() -> PaidReceipt {
    PaidReceipt {
        receipt: Receipt::new(
            MethodName::new("tempo").unwrap().into_owned(),
            Timestamp::from_unix(UnixTime::from_secs(1_800_000_010))
                .unwrap()
                .into_owned(),
            "0xtxhash",
        ),
        challenge_id: issued().id,
    }
}

// --- challenges and the id check ---------------------------------------------

// req: mcp.challenge.request-jcs.server mcp.challenge.request-jcs.client
#[test]
fn an_http_id_verifies_after_a_round_trip_through_the_json_form() {
    let challenge = issued();
    assert!(binder().verify_challenge(&challenge).unwrap());
    let json_form = jsonrpc::challenge_to_json(&challenge).unwrap();
    assert!(
        json_form["request"].is_object(),
        "request travels as an object"
    );
    assert_eq!(json_form["request"]["methodDetails"]["chainId"], 42431);
    let back = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap();
    assert_eq!(back, challenge);
    assert!(binder().verify_challenge(&back).unwrap());
}

#[test]
fn the_id_binds_the_json_request_whatever_its_member_order_or_spacing() {
    // A peer that serialises members in another order still sends the same terms.
    let mut json_form = jsonrpc::challenge_to_json(&issued()).unwrap();
    let text = r#"{ "recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00",
        "methodDetails":{"fee":1.50,"chainId":42431.0}, "currency":"usd","amount":"1000" }"#;
    json_form.insert(
        "request".into(),
        mpp_core::json::parse_value(text.as_bytes()).unwrap(),
    );
    let back = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap();
    assert!(binder().verify_challenge(&back).unwrap());
}

// req: mcp.challenge.id-binding
#[test]
fn a_request_altered_in_the_json_form_fails_the_id_check() {
    let mut json_form = jsonrpc::challenge_to_json(&issued()).unwrap();
    json_form["request"]["amount"] = json!("1");
    let altered = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap();
    assert!(!binder().verify_challenge(&altered).unwrap());

    let mut json_form = jsonrpc::challenge_to_json(&issued()).unwrap();
    json_form["request"]["extra"] = json!(true);
    let altered = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap();
    assert!(!binder().verify_challenge(&altered).unwrap());
}

#[test]
fn mppx_meta_stands_in_for_a_missing_opaque() {
    let challenge = issued();
    let mut json_form = jsonrpc::challenge_to_json(&challenge).unwrap();
    json_form.remove("opaque");
    json_form.insert("meta".into(), json!({"route": "tools/call:search"}));
    let back = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap();
    assert!(binder().verify_challenge(&back).unwrap());

    // With both, the bound text wins and `meta` is ignored.
    let mut both = jsonrpc::challenge_to_json(&challenge).unwrap();
    both.insert("meta".into(), json!({"route": "other"}));
    let back = jsonrpc::challenge_from_json(&both, &STRICT).unwrap();
    assert_eq!(back.opaque, challenge.opaque);

    let mut bad = jsonrpc::challenge_to_json(&challenge).unwrap();
    bad.remove("opaque");
    bad.insert("meta".into(), json!({"n": 1}));
    let e = jsonrpc::challenge_from_json(&bad, &STRICT).unwrap_err();
    assert_eq!(e.field(), Some("challenge.meta"));
}

#[test]
fn a_json_challenge_needs_an_object_request_within_the_limits() {
    let mut json_form = jsonrpc::challenge_to_json(&issued()).unwrap();
    json_form["request"] = json!("eyJhbW91bnQiOiIxIn0");
    let e = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ParseErrorKind::InvalidField, Some("challenge.request"))
    );

    json_form.remove("request");
    let e = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ParseErrorKind::MissingField, Some("challenge.request"))
    );

    let mut huge = jsonrpc::challenge_to_json(&issued()).unwrap();
    huge["request"]["memo"] = json!("x".repeat(STRICT.max_request_len));
    let e = jsonrpc::challenge_from_json(&huge, &STRICT).unwrap_err();
    assert!(
        matches!(e.kind(), ParseErrorKind::RequestTooLarge { .. }),
        "{e}"
    );

    let mut deep = json!("leaf");
    for _ in 0..mpp_core::json::MAX_DEPTH {
        deep = json!([deep]);
    }
    let mut nested = jsonrpc::challenge_to_json(&issued()).unwrap();
    nested["request"]["deep"] = deep;
    let e = jsonrpc::challenge_from_json(&nested, &STRICT).unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::JsonTooDeep);
}

// --- credentials -------------------------------------------------------------

#[test]
fn a_credential_round_trips_and_its_echo_still_verifies() {
    let credential = credential();
    let json_form = jsonrpc::credential_to_json(&credential).unwrap();
    assert!(json_form["challenge"]["request"].is_object());
    let back = jsonrpc::credential_from_json(&Value::Object(json_form), &STRICT).unwrap();
    assert_eq!(back, credential);
    assert!(binder().verify_challenge(&back.challenge).unwrap());
    // The HTTP header built from it is the one built from the original.
    assert_eq!(back.to_header(), credential.to_header());
}

#[test]
fn a_credential_is_read_from_params_meta_or_the_root_meta() {
    let credential = credential();
    for placement in [Placement::Nested, Placement::Root] {
        let mut request = obj(json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "search", "_meta": {"progressToken": 7}}
        }));
        jsonrpc::attach_credential(&mut request, &credential, placement).unwrap();
        let (read, at) = jsonrpc::read_credential(&request, &STRICT)
            .unwrap()
            .unwrap();
        assert_eq!((read, at), (credential.clone(), placement));
        assert_eq!(
            request["params"]["_meta"]["progressToken"], 7,
            "other _meta kept"
        );
    }
    // Plain JSON-RPC with array params: the root place.
    let mut request =
        obj(json!({"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber", "params": []}));
    jsonrpc::attach_credential(&mut request, &credential, Placement::Root).unwrap();
    assert!(
        jsonrpc::read_credential(&request, &STRICT)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        jsonrpc::attach_credential(&mut request, &credential, Placement::Nested),
        Err(JsonRpcError::NotAnObject("params"))
    );
    // No credential anywhere.
    let plain = obj(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}));
    assert_eq!(jsonrpc::read_credential(&plain, &STRICT).unwrap(), None);
}

#[test]
fn the_same_credential_in_both_places_counts_once_and_different_ones_are_refused() {
    let credential = credential();
    let mut request =
        obj(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x"}}));
    jsonrpc::attach_credential(&mut request, &credential, Placement::Nested).unwrap();
    jsonrpc::attach_credential(&mut request, &credential, Placement::Root).unwrap();
    let (_, at) = jsonrpc::read_credential(&request, &STRICT)
        .unwrap()
        .unwrap();
    assert_eq!(at, Placement::Nested);

    request["_meta"][jsonrpc::CREDENTIAL_KEY]["payload"]["signature"] = json!("0xdef");
    let e = jsonrpc::read_credential(&request, &STRICT).unwrap_err();
    assert_eq!(e, JsonRpcError::ConflictingCredentials);
    assert_eq!(e.code(), jsonrpc::INVALID_PARAMS);
}

#[test]
fn a_meta_that_is_not_an_object_is_refused_in_either_place() {
    let nested = obj(json!({"jsonrpc": "2.0", "id": 1, "method": "m", "params": {"_meta": "x"}}));
    let e = jsonrpc::read_credential(&nested, &STRICT).unwrap_err();
    assert_eq!(e, JsonRpcError::MetaNotObject(Placement::Nested));
    assert_eq!(e.code(), jsonrpc::INVALID_PARAMS);
    let root = obj(json!({"jsonrpc": "2.0", "id": 1, "method": "m", "_meta": [1]}));
    let e = jsonrpc::read_credential(&root, &STRICT).unwrap_err();
    assert_eq!(e, JsonRpcError::MetaNotObject(Placement::Root));
    let mut writable = root.clone();
    assert_eq!(
        jsonrpc::attach_credential(&mut writable, &credential(), Placement::Root),
        Err(JsonRpcError::MetaNotObject(Placement::Root))
    );
}

#[test]
fn malformed_credentials_are_invalid_params_naming_the_field() {
    let good = Value::Object(jsonrpc::credential_to_json(&credential()).unwrap());
    let e = jsonrpc::credential_from_json(&json!("Payment abc"), &STRICT).unwrap_err();
    assert_eq!(e, JsonRpcError::CredentialNotObject);

    let mut no_id = good.clone();
    no_id["challenge"].as_object_mut().unwrap().remove("id");
    match jsonrpc::credential_from_json(&no_id, &STRICT).unwrap_err() {
        JsonRpcError::InvalidCredential(p) => {
            assert_eq!(
                (p.kind(), p.field()),
                (ParseErrorKind::MissingField, Some("challenge.id"))
            )
        }
        other => panic!("{other:?}"),
    }
    let mut string_request = good.clone();
    string_request["challenge"]["request"] = json!("e30");
    match jsonrpc::credential_from_json(&string_request, &STRICT).unwrap_err() {
        JsonRpcError::InvalidCredential(p) => assert_eq!(p.field(), Some("challenge.request")),
        other => panic!("{other:?}"),
    }
    let mut no_challenge = good.clone();
    no_challenge.as_object_mut().unwrap().remove("challenge");
    let e = jsonrpc::credential_from_json(&no_challenge, &STRICT).unwrap_err();
    assert!(matches!(&e, JsonRpcError::InvalidCredential(p) if p.field() == Some("challenge")));
    let mut bad_challenge = good.clone();
    bad_challenge["challenge"] = json!([]);
    let e = jsonrpc::credential_from_json(&bad_challenge, &STRICT).unwrap_err();
    assert!(matches!(&e, JsonRpcError::InvalidCredential(p) if p.field() == Some("challenge")));
    let mut no_payload = good.clone();
    no_payload.as_object_mut().unwrap().remove("payload");
    let e = jsonrpc::credential_from_json(&no_payload, &STRICT).unwrap_err();
    assert!(matches!(&e, JsonRpcError::InvalidCredential(p) if p.field() == Some("payload")));
    assert_eq!(e.code(), jsonrpc::INVALID_PARAMS);
    assert_eq!(e.fault(), Fault::Malformed);
    // The answer a server sends names the field and not the payload.
    let answer = e.to_error_object();
    assert_eq!(answer["code"], -32602);
    assert_eq!(answer["message"], "Invalid params");
    assert!(
        answer["data"]["detail"]
            .as_str()
            .unwrap()
            .contains("payload")
    );

    let mut huge = good.clone();
    huge["payload"]["blob"] = json!("x".repeat(STRICT.max_field_len));
    let e = jsonrpc::credential_from_json(&huge, &STRICT).unwrap_err();
    assert_eq!(
        e,
        JsonRpcError::CredentialTooLarge {
            limit: STRICT.max_field_len
        }
    );
    assert_eq!(e.code(), jsonrpc::INVALID_PARAMS);
}

#[test]
fn errors_never_show_the_payload() {
    let mut value = Value::Object(jsonrpc::credential_to_json(&credential()).unwrap());
    value["payload"]["signature"] = json!("0xSECRETSIG");
    value["challenge"]["expires"] = json!("not a time");
    let e = jsonrpc::credential_from_json(&value, &STRICT).unwrap_err();
    let shown = format!("{e} {e:?} {:?}", e.to_error_object());
    assert!(!shown.contains("SECRETSIG"), "{shown}");
    assert!(shown.contains("challenge.expires"), "{shown}");
}

// --- receipts ----------------------------------------------------------------

#[test]
fn a_receipt_goes_into_result_meta_with_its_challenge_id_and_back() {
    let receipt = receipt();
    let mut response =
        jsonrpc::result_response(json!(2), json!({"content": [], "_meta": {"k": 1}}));
    jsonrpc::attach_receipt(&mut response, &receipt, Placement::Nested).unwrap();
    let written = &response["result"]["_meta"][jsonrpc::RECEIPT_KEY];
    assert_eq!(written["challengeId"], issued().id.as_str());
    assert_eq!(written["status"], "success");
    assert_eq!(response["result"]["_meta"]["k"], 1);
    let (back, at) = jsonrpc::read_receipt(&response).unwrap().unwrap();
    assert_eq!((back, at), (receipt.clone(), Placement::Nested));

    // Plain JSON-RPC: root `_meta`, whatever the result is.
    let mut response = jsonrpc::result_response(json!(3), json!("0x1348c9"));
    assert_eq!(
        jsonrpc::attach_receipt(&mut response, &receipt, Placement::Nested),
        Err(JsonRpcError::NotAnObject("result"))
    );
    jsonrpc::attach_receipt(&mut response, &receipt, Placement::Root).unwrap();
    let (back, at) = jsonrpc::read_receipt(&response).unwrap().unwrap();
    assert_eq!((back, at), (receipt, Placement::Root));

    let unpaid = jsonrpc::result_response(json!(4), json!({"content": []}));
    assert_eq!(jsonrpc::read_receipt(&unpaid).unwrap(), None);
}

#[test]
fn malformed_receipts_are_named() {
    let good = Value::Object(receipt().to_json());
    let mut no_id = good.clone();
    no_id.as_object_mut().unwrap().remove("challengeId");
    let e = PaidReceipt::from_json(&no_id).unwrap_err();
    assert!(matches!(&e, JsonRpcError::InvalidReceipt(p) if p.field() == Some("challengeId")));
    let mut failed = good.clone();
    failed["status"] = json!("failed");
    let e = PaidReceipt::from_json(&failed).unwrap_err();
    assert!(
        matches!(&e, JsonRpcError::InvalidReceipt(p) if p.kind() == ParseErrorKind::ReceiptStatus)
    );
    assert!(matches!(
        PaidReceipt::from_json(&json!(1)),
        Err(JsonRpcError::InvalidReceipt(_))
    ));
    let bad_meta = obj(json!({"jsonrpc": "2.0", "id": 1, "result": {"_meta": 5}}));
    assert!(matches!(
        jsonrpc::read_receipt(&bad_meta),
        Err(JsonRpcError::InvalidReceipt(_))
    ));
}

// --- payment-required and the other errors -------------------------------------

// req: mcp.challenge.request-object
#[test]
fn payment_required_has_the_drafts_shape_and_reads_back() {
    let challenge = issued();
    let problem =
        Problem::new(ProblemType::PaymentRequired).with_challenge_id(challenge.id.as_str());
    let error =
        jsonrpc::payment_required(std::slice::from_ref(&challenge), Some(&problem)).unwrap();
    assert_eq!(error["code"], -32042);
    assert_eq!(error["message"], "Payment Required");
    assert_eq!(error["data"]["httpStatus"], 402);
    assert!(error["data"]["challenges"][0]["request"].is_object());
    assert_eq!(
        error["data"]["problem"]["type"],
        "https://paymentauth.org/problems/payment-required"
    );
    let response = jsonrpc::error_response(json!(1), error);
    assert_eq!(response["jsonrpc"], "2.0");
    let read = jsonrpc::read_payment_required(&response, &STRICT)
        .unwrap()
        .unwrap();
    assert_eq!(read.signal, Signal::Error(jsonrpc::PAYMENT_REQUIRED));
    assert_eq!(read.challenges, vec![challenge]);
    assert_eq!(read.problem, Some(problem));
    assert!(!read.refused());
    assert!(binder().verify_challenge(&read.challenges[0]).unwrap());
}

#[test]
fn verification_failed_carries_fresh_challenges_and_the_failure() {
    let failure = Failure {
        reason: Some("signature-invalid".into()),
        detail: Some("Signature verification failed".into()),
    };
    let error = jsonrpc::verification_failed(&[issued()], &failure, None).unwrap();
    assert_eq!(error["code"], -32043);
    assert_eq!(error["message"], "Payment Verification Failed");
    assert_eq!(error["data"]["failure"]["reason"], "signature-invalid");
    let read = jsonrpc::read_payment_error(&error, &STRICT)
        .unwrap()
        .unwrap();
    assert_eq!(read.signal, Signal::Error(jsonrpc::VERIFICATION_FAILED));
    assert_eq!(read.failure, Some(failure));
    assert!(read.refused());
}

#[test]
fn the_protocol_errors_have_their_codes() {
    let e = jsonrpc::invalid_params("Missing required field: challenge.id");
    assert_eq!(
        (e["code"].as_i64(), e["message"].as_str()),
        (Some(-32602), Some("Invalid params"))
    );
    assert_eq!(e["data"]["detail"], "Missing required field: challenge.id");
    let e = jsonrpc::internal_error("processor unavailable");
    assert_eq!(
        (e["code"].as_i64(), e["message"].as_str()),
        (Some(-32603), Some("Internal error"))
    );
}

#[test]
fn the_sdks_refusal_as_32042_with_a_problem_is_read_as_a_refusal() {
    // mppx and mpp-rs answer a refused credential with -32042 and a problem.
    let problem = Problem::new(ProblemType::VerificationFailed).with_detail("bad signature");
    let error = jsonrpc::payment_required(&[issued()], Some(&problem)).unwrap();
    let read = jsonrpc::read_payment_error(&error, &STRICT)
        .unwrap()
        .unwrap();
    assert_eq!(read.signal, Signal::Error(jsonrpc::PAYMENT_REQUIRED));
    assert!(read.refused());
}

#[test]
fn mppx_challenges_in_a_tool_results_meta_are_read() {
    let data = jsonrpc::payment_required(&[issued()], None).unwrap()["data"].clone();
    let response = obj(json!({
        "jsonrpc": "2.0", "id": 5,
        "result": {"content": [], "isError": true, "_meta": {jsonrpc::PAYMENT_REQUIRED_KEY: data}}
    }));
    let read = jsonrpc::read_payment_required(&response, &STRICT)
        .unwrap()
        .unwrap();
    assert_eq!(read.signal, Signal::ResultMeta);
    assert_eq!(read.challenges, vec![issued()]);
}

#[test]
fn other_errors_and_mcp_url_elicitation_are_not_payment() {
    let elicitation = obj(json!({"jsonrpc": "2.0", "id": 1,
        "error": {"code": -32042, "message": "URL elicitation required", "data": {"elicitations": []}}}));
    assert_eq!(
        jsonrpc::read_payment_required(&elicitation, &STRICT).unwrap(),
        None
    );
    let other = obj(json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}}));
    assert_eq!(
        jsonrpc::read_payment_required(&other, &STRICT).unwrap(),
        None
    );
    let ok = obj(json!({"jsonrpc": "2.0", "id": 1, "result": {"content": []}}));
    assert_eq!(jsonrpc::read_payment_required(&ok, &STRICT).unwrap(), None);
}

#[test]
fn malformed_payment_required_data_is_named_and_bad_entries_are_skipped() {
    let read = |v: Value| jsonrpc::read_payment_error(&obj(v), &STRICT);
    assert_eq!(
        read(json!({"code": -32043, "message": "x"})),
        Err(JsonRpcError::InvalidPaymentRequired("data"))
    );
    assert_eq!(
        read(json!({"code": -32042, "message": "x", "data": {"challenges": []}})),
        Err(JsonRpcError::InvalidPaymentRequired("challenges"))
    );
    assert_eq!(
        read(json!({"code": -32042, "message": "x", "data": {"challenges": {}}})),
        Err(JsonRpcError::InvalidPaymentRequired("challenges"))
    );
    let good = Value::Object(jsonrpc::challenge_to_json(&issued()).unwrap());
    assert_eq!(
        read(json!({"code": -32042, "message": "x", "data": {"challenges": [good], "problem": 1}})),
        Err(JsonRpcError::InvalidPaymentRequired("problem"))
    );
    assert_eq!(
        read(
            json!({"code": -32043, "message": "x", "data": {"challenges": [good], "failure": {"reason": 3}}})
        ),
        Err(JsonRpcError::InvalidPaymentRequired("reason"))
    );
    let mixed = read(json!({"code": -32042, "message": "x",
        "data": {"challenges": [7, {"id": "a"}, good]}}))
    .unwrap()
    .unwrap();
    assert_eq!(mixed.challenges.len(), 1);
    assert_eq!(mixed.skipped.len(), 2);
    assert!(matches!(
        mixed.skipped[0],
        JsonRpcError::InvalidChallenge { index: 0, .. }
    ));
    assert!(matches!(
        mixed.skipped[1],
        JsonRpcError::InvalidChallenge { index: 1, .. }
    ));
    assert_eq!(mixed.skipped[1].code(), jsonrpc::INTERNAL_ERROR);
    let not_object = obj(json!({"jsonrpc": "2.0", "id": 1, "error": "boom"}));
    assert!(matches!(
        jsonrpc::read_payment_required(&not_object, &STRICT),
        Err(JsonRpcError::InvalidMessage(_))
    ));
}

#[test]
fn errors_of_the_callers_own_values_are_internal_and_the_callers_fault() {
    // A validated `Base64Json` always decodes, so `Undecodable` only guards the
    // conversion; its code and fault are what a server would answer with.
    let e = JsonRpcError::Undecodable(mpp_core::json::parse_object(b"[]").unwrap_err());
    assert_eq!(
        (e.code(), e.fault()),
        (jsonrpc::INTERNAL_ERROR, Fault::Caller)
    );
    let e = JsonRpcError::NotAnObject("result");
    assert_eq!(
        (e.code(), e.fault(), e.message()),
        (jsonrpc::INTERNAL_ERROR, Fault::Caller, "Internal error")
    );
}

// --- messages ------------------------------------------------------------------

#[test]
fn messages_are_parsed_strictly_within_limits() {
    let v =
        jsonrpc::parse_message(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, 1024).unwrap();
    assert_eq!(v["method"], "tools/list");
    let e = jsonrpc::parse_message(&[b' '; 2048], 1024).unwrap_err();
    assert_eq!(e, JsonRpcError::MessageTooLarge { limit: 1024 });
    assert_eq!(e.code(), jsonrpc::INVALID_REQUEST);
    let e = jsonrpc::parse_message(br#"{"id":1,"id":2}"#, 1024).unwrap_err();
    assert!(
        matches!(&e, JsonRpcError::InvalidJson(p) if p.kind() == ParseErrorKind::DuplicateJsonKey)
    );
    assert_eq!(e.code(), jsonrpc::PARSE_ERROR);
    let deep =
        "[".repeat(mpp_core::json::MAX_DEPTH + 1) + &"]".repeat(mpp_core::json::MAX_DEPTH + 1);
    let e = jsonrpc::parse_message(deep.as_bytes(), 1 << 20).unwrap_err();
    assert!(matches!(&e, JsonRpcError::InvalidJson(p) if p.kind() == ParseErrorKind::JsonTooDeep));
    assert_eq!(
        JsonRpcError::InvalidMessage("x").message(),
        "Invalid Request"
    );
}

// --- capability ----------------------------------------------------------------

// req: mcp.capability.intents
#[test]
fn the_capability_is_written_in_the_drafts_shape_and_read_in_every_deployed_one() {
    let capability = PaymentCapability::default()
        .with("tempo", "charge")
        .with("tempo", "session")
        .with("stripe", "charge");
    let experimental = jsonrpc::experimental_capability(&capability);
    assert_eq!(
        Value::Object(experimental.clone()),
        json!({"payment": {"methods": {
            "stripe": {"intents": ["charge"]},
            "tempo": {"intents": ["charge", "session"]}
        }}})
    );
    let capabilities = obj(json!({"tools": {}, "experimental": experimental}));
    assert_eq!(
        jsonrpc::read_capability(&capabilities).unwrap(),
        Some(capability)
    );

    // pympp: flat lists, every intent for every method.
    let pympp = obj(
        json!({"experimental": {"payment": {"methods": ["tempo", "stripe"], "intents": ["charge"]}}}),
    );
    let read = jsonrpc::read_capability(&pympp).unwrap().unwrap();
    assert!(read.supports("tempo", "charge") && read.supports("stripe", "charge"));
    assert!(!read.supports("tempo", "session"));

    assert_eq!(
        jsonrpc::read_capability(&obj(json!({"tools": {}}))).unwrap(),
        None
    );
    for (bad, what) in [
        (json!(1), "payment"),
        (json!({}), "methods"),
        (json!({"methods": {"tempo": {}}}), "methods.*.intents"),
        (
            json!({"methods": {"tempo": {"intents": [1]}}}),
            "methods.*.intents",
        ),
        (json!({"methods": ["tempo"]}), "intents"),
        (json!({"methods": [1], "intents": []}), "methods"),
    ] {
        assert_eq!(
            PaymentCapability::from_json(&bad),
            Err(JsonRpcError::InvalidCapability(what)),
            "{bad}"
        );
    }
}

// --- a fixture from mppx's own tests ---------------------------------------------

/// mppx 0.11's `Transport.mcp()` answer for a tempo charge, as its test snapshot
/// records it (src/server/Transport.test.ts), with the secret that test uses. Our
/// reader must take it and our binder must find its id valid: the JSON form binds
/// the same bytes in both implementations.
#[test]
fn an_mppx_challenge_and_credential_verify_under_our_binder() {
    let response = obj(json!({
        "error": {
            "code": -32042,
            "data": {
                "challenges": [{
                    "expires": "2025-01-01T00:00:00.000Z",
                    "id": "ITdnfSy5EVxmsDHMll-mcEbGENBvnz3jfySVS8uFS7Y",
                    "intent": "charge",
                    "method": "tempo",
                    "realm": "api.example.com",
                    "request": {
                        "amount": "1000000000",
                        "currency": "0x20c0000000000000000000000000000000000001",
                        "recipient": "0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00"
                    }
                }],
                "httpStatus": 402
            },
            "message": "Payment Required"
        },
        "id": 1,
        "jsonrpc": "2.0"
    }));
    let binder = ChallengeBinder::new(Secret::new("test-secret-key-test-secret-key-32").unwrap());
    let read = jsonrpc::read_payment_required(&response, &STRICT)
        .unwrap()
        .unwrap();
    assert!(read.skipped.is_empty());
    assert!(binder.verify_challenge(&read.challenges[0]).unwrap());

    // Our writer gives back the same JSON value.
    let ours = jsonrpc::error_response(
        json!(1),
        jsonrpc::payment_required(&read.challenges, None).unwrap(),
    );
    assert_eq!(ours, response);

    // mppx's credential for it, as `getCredential` returns it.
    let request = obj(json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "test-tool", "_meta": {"org.paymentauth/credential": {
            "challenge": response["error"]["data"]["challenges"][0].clone(),
            "payload": {"signature": "0xabc123", "type": "transaction"}
        }}}
    }));
    let (credential, at) = jsonrpc::read_credential(&request, &STRICT)
        .unwrap()
        .unwrap();
    assert_eq!(at, Placement::Nested);
    assert!(binder.verify_challenge(&credential.challenge).unwrap());
    assert_eq!(
        credential.challenge.id,
        ChallengeId::new("ITdnfSy5EVxmsDHMll-mcEbGENBvnz3jfySVS8uFS7Y").unwrap()
    );

    // And its receipt.
    let paid = obj(
        json!({"id": 1, "jsonrpc": "2.0", "result": {"_meta": {"org.paymentauth/receipt": {
        "challengeId": "ITdnfSy5EVxmsDHMll-mcEbGENBvnz3jfySVS8uFS7Y",
        "method": "tempo", "reference": "0xtxhash", "status": "success",
        "timestamp": "2025-01-01T00:00:00.000Z"
    }}, "content": []}}),
    );
    let (receipt, _) = jsonrpc::read_receipt(&paid).unwrap().unwrap();
    assert_eq!(receipt.challenge_id, credential.challenge.id);
    let mut rewritten = jsonrpc::result_response(json!(1), json!({"content": []}));
    jsonrpc::attach_receipt(&mut rewritten, &receipt, Placement::Nested).unwrap();
    assert_eq!(rewritten, paid);
}

// --- properties ------------------------------------------------------------------

use proptest::prelude::*;

proptest! {
    /// Whatever the terms, an id issued over HTTP verifies after the JSON form, and
    /// the credential answering it converts back to the same header.
    #[test]
    fn any_request_keeps_its_id_across_the_forms(
        request in mpp_test_support::strategies::json_object_within(3, 4),
    ) {
        let challenge = ChallengeBuilder::new("api.example.com", "tempo", "charge", &request)
            .unwrap()
            .issue(&binder())
            .unwrap();
        let json_form = jsonrpc::challenge_to_json(&challenge).unwrap();
        let back = jsonrpc::challenge_from_json(&json_form, &STRICT).unwrap();
        prop_assert!(binder().verify_challenge(&back).unwrap());
        let credential = Credential::answer(&challenge, JsonObject::new(), None);
        let value = Value::Object(jsonrpc::credential_to_json(&credential).unwrap());
        let read = jsonrpc::credential_from_json(&value, &STRICT).unwrap();
        prop_assert_eq!(read.to_header(), credential.to_header());
    }
}

#[test]
fn tool_offers_round_trip_through_a_tool_definition_and_bad_ones_are_named() {
    use mpp_core::jsonrpc::{ToolOffer, attach_tool_offers, read_tool_offers};
    let offers = vec![
        ToolOffer {
            method: "tempo".into(),
            intent: "charge".into(),
            amount: Some("1000".into()),
            currency: Some("0x20c0".into()),
        },
        ToolOffer {
            method: "lightning".into(),
            intent: "charge".into(),
            amount: None,
            currency: None,
        },
    ];
    let mut tool = obj(json!({"name": "weather", "_meta": {"other": 1}}));
    attach_tool_offers(&mut tool, &offers).unwrap();
    assert_eq!(tool["_meta"]["other"], 1);
    assert_eq!(read_tool_offers(&tool).unwrap(), offers);
    assert!(
        read_tool_offers(&obj(json!({"name": "free"})))
            .unwrap()
            .is_empty()
    );
    for bad in [
        json!({"_meta": []}),
        json!({"_meta": {"org.paymentauth/offers": {}}}),
        json!({"_meta": {"org.paymentauth/offers": [{"intent": "charge"}]}}),
        json!({"_meta": {"org.paymentauth/offers": [{"method": "x", "intent": "charge", "amount": 5}]}}),
    ] {
        let err = read_tool_offers(&obj(bad.clone())).unwrap_err();
        assert_eq!(err.code(), -32603, "{bad}");
        assert!(err.to_string().contains("org.paymentauth/offers"), "{err}");
    }
}
