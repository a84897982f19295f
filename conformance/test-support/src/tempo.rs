//! A real Tempo chain on loopback for tests: Foundry's `anvil` with `--network tempo`
//! (TIP-20 precompiles, Tempo transactions), from the harness's npm packages
//! (`conformance/interop/mppx/setup` installs it), and a minimal JSON-RPC client.
//!
//! Two flags are not optional: `--hardfork t4`, because the default hardfork has no
//! expiring nonces and drops every payment after an account's first one, and
//! `--block-time 1`, because with blocks mined only on demand the latest block goes
//! stale and a transaction's validity window (checked against it) soon excludes
//! "now".

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::Drain;

/// How long the chain may take to answer its first request.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest one JSON-RPC exchange may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// pathUSD, the first TIP-20 token of the chain.
pub const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";

/// The first funded development account (anvil's well-known test mnemonic), funded
/// in every TIP-20 token. Its key is public: it must never hold anything real.
pub const DEV_ACCOUNT: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// The first three development accounts and their private keys, all funded in
/// every TIP-20 token. The keys are public (anvil's test mnemonic): they must never
/// hold anything real.
pub const DEV_KEYS: [(&str, &str); 3] = [
    (
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    (
        "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    (
        "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
];

/// The anvil binary the harness installs.
pub fn anvil_path() -> PathBuf {
    crate::mppx::harness_dir().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}

/// The anvil binary when it is installed. When it is not, `test` is skipped with a
/// notice on stderr; under CI this panics instead, so CI never skips a chain test.
pub fn anvil_or_skip(test: &str) -> Option<PathBuf> {
    let path = anvil_path();
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{} is missing: run conformance/interop/mppx/setup",
        path.display()
    );
    if crate::in_ci() {
        panic!("{test}: the Tempo chain cannot start, and CI is set: {why}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test} (it would fail if CI were set): {why}"
    );
    None
}

/// A Tempo chain running on a free loopback port; killed when dropped.
#[derive(Debug)]
pub struct TempoChain {
    child: Child,
    output: Drain,
    port: u16,
    /// The chain id it was started with.
    pub chain_id: u64,
}

impl TempoChain {
    /// Starts `anvil` (from [`anvil_or_skip`]) as chain `chain_id` and waits until it
    /// answers `eth_chainId`.
    ///
    /// # Panics
    ///
    /// When it cannot start or does not answer within [`STARTUP_TIMEOUT`]; the message
    /// has its output.
    pub fn start(anvil: &std::path::Path, chain_id: u64) -> TempoChain {
        // Ask the system for a free port, then hand it to anvil (which does not say
        // which port it got when given 0 until after a long banner).
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let mut child = Command::new(anvil)
            .args([
                "--network",
                "tempo",
                "--hardfork",
                "t4",
                "--block-time",
                "1",
            ])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &chain_id.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", anvil.display()));
        let output = Drain::default();
        if let Some(pipe) = child.stdout.take() {
            output.clone().spawn(pipe);
        }
        if let Some(pipe) = child.stderr.take() {
            output.clone().spawn(pipe);
        }
        let chain = TempoChain {
            child,
            output,
            port,
            chain_id,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match chain.rpc("eth_chainId", json!([])) {
                Ok(id) if id == json!(format!("{chain_id:#x}")) => return chain,
                Ok(other) => panic!("the chain answers chain id {other}, not {chain_id}"),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!(
                    "the Tempo chain did not answer within {STARTUP_TIMEOUT:?} ({e}); its \
                     output:\n{}",
                    chain.output.text()
                ),
            }
        }
    }

    /// Its JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One JSON-RPC call: the `result`, or why there is none (the `error` member, a
    /// connection failure, an unreadable answer).
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let body =
            json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(RPC_TIMEOUT))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .map_err(|e| format!("send: {e}"))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .map_err(|e| format!("read: {e}"))?;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("not an HTTP answer: {answer:?}"))?;
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            return Err(format!(
                "a chunked answer, which this client does not read: {head}"
            ));
        }
        let reply: Value =
            serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {body:?}"))?;
        match (reply.get("result"), reply.get("error")) {
            (Some(result), None) => Ok(result.clone()),
            (_, Some(error)) => Err(format!("{method}: {error}")),
            _ => Err(format!("{method}: neither result nor error: {reply}")),
        }
    }

    /// The `holder`'s balance of the TIP-20 token at `token`, in base units.
    pub fn token_balance(&self, token: &str, holder: &str) -> Result<u128, String> {
        // balanceOf(address): selector 0x70a08231, the address padded to 32 bytes.
        let holder = holder.trim_start_matches("0x").to_ascii_lowercase();
        let data = format!("0x70a08231{holder:0>64}");
        let result = self.rpc("eth_call", json!([{ "to": token, "data": data }, "latest"]))?;
        let hex = result
            .as_str()
            .ok_or_else(|| format!("eth_call returned {result}"))?
            .trim_start_matches("0x");
        let digits = hex.trim_start_matches('0');
        if digits.len() > 32 {
            return Err(format!("a balance wider than 128 bits: 0x{hex}"));
        }
        u128::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
            .map_err(|e| format!("balance 0x{hex}: {e}"))
    }
}

impl Drop for TempoChain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tempo_chain_starts_on_a_free_port_with_funded_tip20_accounts() {
        let Some(anvil) = anvil_or_skip("a_tempo_chain_starts_on_a_free_port") else {
            return;
        };
        let chain = TempoChain::start(&anvil, 42431);
        assert!(chain.rpc_url().starts_with("http://127.0.0.1:"));
        let balance = chain.token_balance(PATH_USD, DEV_ACCOUNT).unwrap();
        assert!(balance > 0, "the dev account holds no pathUSD");
        // An address nobody funded holds nothing: the call reads real state.
        let empty = chain
            .token_balance(PATH_USD, "0x000000000000000000000000000000000000dEaD")
            .unwrap();
        assert_eq!(empty, 0);
        // The Tempo transaction RPC the pull mode needs is there: a malformed
        // transaction is refused by the method, not reported as an unknown method.
        let refused = chain
            .rpc("eth_sendRawTransactionSync", json!(["0x76"]))
            .unwrap_err();
        assert!(!refused.contains("-32601"), "{refused}");
    }

    #[test]
    fn two_chains_run_side_by_side() {
        let Some(anvil) = anvil_or_skip("two_chains_run_side_by_side") else {
            return;
        };
        let (a, b) = (
            TempoChain::start(&anvil, 4217),
            TempoChain::start(&anvil, 31337),
        );
        assert_ne!(a.rpc_url(), b.rpc_url());
        assert_eq!(b.rpc("eth_chainId", json!([])).unwrap(), json!("0x7a69"));
    }
}
