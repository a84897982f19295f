//! `/mcp` behind the JSON-RPC guard: what is not JSON-RPC 2.0 gets JSON-RPC's own
//! error codes (not the MCP SDK's HTTP 415), and a credential in the root `_meta`
//! pays as one in `params._meta` does.

use mpp_core::ParseOptions;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, Placement};
use mpp_reference_server::{ReferenceConfig, spawn};
use serde_json::{Value, json};

const PREIMAGE: &str = "mcp-guard-test-preimage";

/// An MCP session with the reference server, spoken by hand.
struct Session {
    http: reqwest::Client,
    url: String,
    id: String,
}

impl Session {
    async fn open(url: String) -> Session {
        let http = reqwest::Client::new();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "guard-test", "version": "1"}}});
        let response = post(&http, &url, None, &init.to_string()).await;
        let id = response
            .headers()
            .get("mcp-session-id")
            .expect("a session id")
            .to_str()
            .unwrap()
            .to_owned();
        let mut session = Session { http, url, id };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        session.raw(&initialized.to_string()).await;
        session
    }

    /// POSTs `body` in the session: the status and the JSON-RPC answer (from a JSON
    /// body or the first event of a stream), `Null` when there is none.
    async fn raw(&mut self, body: &str) -> (u16, Value) {
        let response = post(&self.http, &self.url, Some(&self.id), body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let is_json = |t: &&str| t.starts_with('{') || t.starts_with('[');
        let json = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .find(is_json)
            .or(Some(text.trim()).filter(is_json));
        let value = json.map_or(Value::Null, |j| serde_json::from_str(j).expect("JSON"));
        (status, value)
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned());
    if let Some(id) = session {
        request = request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    request.send().await.expect("the server answers")
}

fn tool_call(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "paid_echo", "arguments": {"text": "root"}}})
}

#[tokio::test]
async fn bad_json_rpc_gets_its_error_codes_and_a_root_credential_pays() {
    // req: mcp.credential.both-placements
    let config = ReferenceConfig::new("mcp-guard-test-secret-0123456789abcdef!", PREIMAGE);
    let server = spawn(&config).await.expect("the reference server");
    let mut session = Session::open(server.url("/mcp")).await;

    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    for (body, code, id) in [
        ("{\"jsonrpc\": ", jsonrpc::PARSE_ERROR, Value::Null),
        (deep.as_str(), jsonrpc::PARSE_ERROR, Value::Null),
        ("[]", jsonrpc::INVALID_REQUEST, Value::Null),
        (
            r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#,
            jsonrpc::INVALID_REQUEST,
            json!(7),
        ),
        (
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            jsonrpc::INVALID_REQUEST,
            Value::Null,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":"x"}"#,
            jsonrpc::INVALID_REQUEST,
            json!(3),
        ),
    ] {
        let (status, answer) = session.raw(body).await;
        assert_eq!(status, 400, "{body:.40}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body:.40}: {answer}");
        assert_eq!(answer["id"], id);
    }

    // Unpaid, then paid with the credential at the message's root.
    let (_, unpaid) = session.raw(&tool_call(1).to_string()).await;
    let required =
        jsonrpc::read_payment_required(unpaid.as_object().unwrap(), &ParseOptions::STRICT)
            .unwrap()
            .expect("payment required");
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), PREIMAGE.into());
    let credential = Credential::answer(&required.challenges[0], payload, None);
    let mut message = tool_call(2).as_object().unwrap().clone();
    jsonrpc::attach_credential(&mut message, &credential, Placement::Root).unwrap();
    let (status, paid) = session
        .raw(&Value::Object(message.clone()).to_string())
        .await;
    assert_eq!(status, 200);
    assert_eq!(paid["result"]["content"][0]["text"], "root", "{paid}");
    let receipt = &paid["result"]["_meta"]["org.paymentauth/receipt"];
    assert_eq!(receipt["challengeId"], required.challenges[0].id.as_str());

    // Two different credentials, one in each place: -32602, nothing served.
    let other = Credential::answer(&required.challenges[0], JsonObject::new(), None);
    jsonrpc::attach_credential(&mut message, &other, Placement::Nested).unwrap();
    let (_, conflict) = session.raw(&Value::Object(message).to_string()).await;
    assert_eq!(
        conflict["error"]["code"],
        jsonrpc::INVALID_PARAMS,
        "{conflict}"
    );
}
