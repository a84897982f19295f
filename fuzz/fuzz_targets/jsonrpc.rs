//! JSON-RPC payment messages (draft-payment-transport-mcp-00). Oracles: a credential
//! read from either `_meta` writes back to JSON that reads to the same credential,
//! and is found again where it was attached; each challenge read from a
//! payment-required answer round-trips through its JSON form; a receipt read from a
//! response round-trips through its JSON form. Nothing panics on any message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpp_core::ParseOptions;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, PaidReceipt};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = jsonrpc::parse_message(data, 1 << 20) else {
        return;
    };
    let one = |value: &Value| {
        let Value::Object(object) = value else {
            return;
        };
        check(object);
    };
    match &message {
        Value::Array(batch) => batch.iter().for_each(one),
        other => one(other),
    }
});

fn check(object: &JsonObject) {
    let options = ParseOptions::STRICT;
    if let Ok(Some((credential, placement))) = jsonrpc::read_credential(object, &options) {
        let json = jsonrpc::credential_to_json(&credential).expect("a read credential writes");
        let again = jsonrpc::credential_from_json(&Value::Object(json), &options)
            .expect("a written credential reads");
        assert_eq!(again, credential);
        let mut request = JsonObject::new();
        jsonrpc::attach_credential(&mut request, &credential, placement).expect("attaches");
        let (found, at) = jsonrpc::read_credential(&request, &options)
            .expect("reads")
            .expect("found where attached");
        assert_eq!((found, at), (credential, placement));
    }
    if let Ok(Some(required)) = jsonrpc::read_payment_required(object, &options) {
        for challenge in &required.challenges {
            let json = jsonrpc::challenge_to_json(challenge).expect("a read challenge writes");
            let again =
                jsonrpc::challenge_from_json(&json, &options).expect("a written challenge reads");
            assert_eq!(&again, challenge);
        }
    }
    if let Ok(Some((receipt, _))) = jsonrpc::read_receipt(object) {
        let again = PaidReceipt::from_json(&Value::Object(receipt.to_json()))
            .expect("a written receipt reads");
        assert_eq!(again, receipt);
    }
}
