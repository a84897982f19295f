//! The reference server's MCP tools over stdio (`mpp-server --mcp-stdio`), the
//! transport MCP hosts use for local servers: the same paywall as `/mcp`, one
//! JSON-RPC message per line.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mpp_core::ParseOptions;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, Placement};
use serde_json::{Value, json};

const SECRET: &str = "mcp-stdio-test-secret-0123456789abcdef!!";
const PREIMAGE: &str = "mcp-stdio-preimage";

/// The server process, its stdin, and its stdout lines.
struct StdioServer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl StdioServer {
    fn start() -> StdioServer {
        let state = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("mcp-stdio-{}.sqlite3", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mpp-server"))
            .args(["--mcp-stdio", "--secret", SECRET, "--preimage", PREIMAGE])
            .arg("--sqlite")
            .arg(&state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mpp-server --mcp-stdio");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        StdioServer {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write");
        self.stdin.flush().expect("flush");
    }

    /// The next message from the server.
    fn next(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("an answer within 30 s");
        serde_json::from_str(&line).expect("one JSON message per line")
    }

    fn call(&mut self, message: &Value) -> Value {
        self.send(message);
        self.next()
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool_call(id: i64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
}

fn paid(message: &Value, answer: &Value) -> Value {
    let required =
        jsonrpc::read_payment_required(answer.as_object().unwrap(), &ParseOptions::STRICT)
            .expect("readable")
            .expect("payment required");
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), PREIMAGE.into());
    let credential = Credential::answer(&required.challenges[0], payload, None);
    let mut object = message.as_object().unwrap().clone();
    jsonrpc::attach_credential(&mut object, &credential, Placement::Nested).unwrap();
    Value::Object(object)
}

#[test]
fn priced_tools_are_paid_over_stdio_once_each() {
    // req: mcp.challenge.code mcp.receipt.paid mcp.replay.used mcp.notifications.not-processed
    let mut server = StdioServer::start();
    let init = server.call(
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "stdio-test", "version": "1"}}}),
    );
    assert_eq!(
        init["result"]["capabilities"]["experimental"]["payment"]["methods"]["preimage"]["intents"],
        json!(["charge"]),
        "{init}"
    );
    server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    let message = tool_call(1, "paid_echo", json!({"text": "over stdio"}));
    let unpaid = server.call(&message);
    assert_eq!(
        unpaid["error"]["code"],
        jsonrpc::PAYMENT_REQUIRED,
        "{unpaid}"
    );
    let with_credential = paid(&message, &unpaid);

    // The same paid call as a notification: dropped, so the ping is answered next
    // and the credential stays unused.
    let mut notification = with_credential.clone();
    notification.as_object_mut().unwrap().remove("id");
    server.send(&notification);
    let pong = server.call(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}));
    assert_eq!(pong["id"], 2, "nothing answers a notification: {pong}");

    let answer = server.call(&with_credential);
    assert_eq!(
        answer["result"]["content"][0]["text"], "over stdio",
        "{answer}"
    );
    let receipt = &answer["result"]["_meta"]["org.paymentauth/receipt"];
    assert_eq!(receipt["status"], "success");
    assert_eq!(
        receipt["challengeId"],
        with_credential["params"]["_meta"]["org.paymentauth/credential"]["challenge"]["id"]
    );

    let replay = server.call(&with_credential);
    assert_eq!(
        replay["error"]["code"],
        jsonrpc::VERIFICATION_FAILED,
        "{replay}"
    );
    assert!(replay["error"]["data"]["challenges"][0]["id"].is_string());
}
