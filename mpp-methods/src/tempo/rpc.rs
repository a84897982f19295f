//! What the tempo method needs from a Tempo node: Ethereum JSON-RPC calls, through
//! an object-safe trait ([`TempoRpc`]) so that a server can hold any transport, and
//! [`HttpRpc`], the trait over HTTP(S).
//!
//! | call | used by |
//! |---|---|
//! | `eth_chainId` | checking, at start, that the node serves the configured chain |
//! | `eth_getTransactionReceipt` | push mode; a retried pull |
//! | `eth_getBlockByNumber("latest")` | the validity window of a pull transaction |
//! | `eth_sendRawTransactionSync` | pull mode and fee sponsoring: broadcast and wait in one call |
//! | `eth_sendRawTransaction` | the same, on nodes without the synchronous call, then polling the receipt |

use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::vec::Vec;

use mpp_core::json::Value;
use mpp_core::method::BoxFuture;
use serde_json::json;

use super::hex;
use super::receipt::{Address, TxHash};
use super::tx::TempoTransaction;

/// Why a JSON-RPC call gave no result. Messages never contain the node's URL (it
/// often carries an API key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcError {
    /// The node answered with a JSON-RPC error: it refused the call (for a
    /// transaction: it was not accepted).
    Rejected {
        /// The JSON-RPC error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// No usable answer: the node could not be reached, timed out, answered with
    /// an HTTP error or with something that is not JSON-RPC. For a broadcast,
    /// whether the transaction went out is unknown.
    Unavailable(String),
}

impl RpcError {
    /// Whether the node said it does not know the method (JSON-RPC -32601).
    pub fn is_method_not_found(&self) -> bool {
        matches!(self, RpcError::Rejected { code: -32601, .. })
    }
}

impl core::fmt::Display for RpcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RpcError::Rejected { code, message } => {
                write!(f, "the node refused the call ({code}): {message}")
            }
            RpcError::Unavailable(m) => write!(f, "the node is unavailable: {m}"),
        }
    }
}

impl std::error::Error for RpcError {}

/// A Tempo node's JSON-RPC interface: one call, its `result` or why not.
pub trait TempoRpc: Send + Sync {
    /// Calls `method` with `params` (a JSON array) and returns the `result`.
    fn call<'a>(&'a self, method: &'a str, params: Value)
    -> BoxFuture<'a, Result<Value, RpcError>>;
}

/// The most of an answer [`HttpRpc`] reads: receipts and blocks without their
/// transactions are a few KiB; anything near this is not an answer to our calls.
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// How long [`HttpRpc`] waits for an answer unless told otherwise: long enough for
/// `eth_sendRawTransactionSync` to see a block or two.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// [`TempoRpc`] over HTTP or HTTPS (rustls with the web PKI roots).
pub struct HttpRpc {
    client: reqwest::Client,
    url: reqwest::Url,
    next_id: AtomicU64,
}

impl core::fmt::Debug for HttpRpc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The URL may hold an API key: only the host is shown.
        f.debug_struct("HttpRpc")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl HttpRpc {
    /// A client of the node at `url` (`http://` or `https://`), waiting at most
    /// [`DEFAULT_RPC_TIMEOUT`] for each answer.
    pub fn new(url: &str) -> Result<HttpRpc, RpcError> {
        HttpRpc::with_timeout(url, DEFAULT_RPC_TIMEOUT)
    }

    /// The same, waiting at most `timeout` for each answer.
    pub fn with_timeout(url: &str, timeout: Duration) -> Result<HttpRpc, RpcError> {
        let url = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| RpcError::Unavailable("the RPC URL is not an http(s) URL".into()))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RpcError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpRpc {
            client,
            url,
            next_id: AtomicU64::new(1),
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        if !response.status().is_success() {
            return Err(format!("HTTP status {}", response.status().as_u16()));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!("an answer of more than {MAX_ANSWER_BYTES} bytes"));
            }
            answer.extend_from_slice(&chunk);
        }
        Ok(answer)
    }
}

/// What went wrong with an HTTP exchange, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "HTTP exchange failed"
    };
    kind.to_string()
}

impl TempoRpc for HttpRpc {
    fn call<'a>(
        &'a self,
        method: &'a str,
        params: Value,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        Box::pin(async move {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            let answer = self
                .post(body.to_string().into_bytes())
                .await
                .map_err(|m| RpcError::Unavailable(format!("{method}: {m}")))?;
            read_answer(&answer, id).map_err(|e| match e {
                RpcError::Unavailable(m) => RpcError::Unavailable(format!("{method}: {m}")),
                e => e,
            })
        })
    }
}

/// The `result` of a JSON-RPC answer to call `id`.
fn read_answer(answer: &[u8], id: u64) -> Result<Value, RpcError> {
    let malformed = |what: &str| RpcError::Unavailable(format!("not a JSON-RPC answer: {what}"));
    let mut answer: Value = serde_json::from_slice(answer).map_err(|_| malformed("not JSON"))?;
    let object = answer
        .as_object_mut()
        .ok_or_else(|| malformed("not an object"))?;
    if object.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(malformed("another id"));
    }
    if let Some(error) = object.get("error") {
        let code = error
            .get("code")
            .and_then(Value::as_i64)
            .ok_or_else(|| malformed("an error without a code"))?;
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        return Err(RpcError::Rejected { code, message });
    }
    object
        .remove("result")
        .ok_or_else(|| malformed("neither result nor error"))
}

/// A JSON-RPC quantity (`0x` and hex digits) as a `u64`.
pub(super) fn quantity(value: &Value) -> Option<u64> {
    let digits = value.as_str()?.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// The chain the node serves (`eth_chainId`).
pub async fn node_chain_id(rpc: &dyn TempoRpc) -> Result<u64, RpcError> {
    let answer = rpc.call("eth_chainId", json!([])).await?;
    quantity(&answer).ok_or_else(|| RpcError::Unavailable("eth_chainId: not a quantity".into()))
}

/// The receipt of transaction `hash`, `None` while it is not in a block.
pub(super) async fn transaction_receipt(
    rpc: &dyn TempoRpc,
    hash: &TxHash,
) -> Result<Option<Value>, RpcError> {
    let answer = rpc
        .call("eth_getTransactionReceipt", json!([hash.to_hex()]))
        .await?;
    Ok((!answer.is_null()).then_some(answer))
}

/// The latest block's number and timestamp (seconds).
pub(super) async fn latest_block(rpc: &dyn TempoRpc) -> Result<(u64, u64), RpcError> {
    let block = rpc
        .call("eth_getBlockByNumber", json!(["latest", false]))
        .await?;
    let read = |name: &str| block.get(name).and_then(quantity);
    match (read("number"), read("timestamp")) {
        (Some(number), Some(timestamp)) => Ok((number, timestamp)),
        _ => Err(RpcError::Unavailable(
            "eth_getBlockByNumber: not a block".into(),
        )),
    }
}

/// The gas the node estimates `tx` needs when `from` sends it (`eth_estimateGas` with
/// the Tempo request form: `calls`, `nonceKey`, `validBefore`, `feeToken`). A
/// transaction that would revert is refused by the node: `Rejected`.
pub(super) async fn estimate_gas(
    rpc: &dyn TempoRpc,
    from: &Address,
    tx: &TempoTransaction,
) -> Result<u64, RpcError> {
    let calls: Vec<Value> = tx
        .calls
        .iter()
        .map(|c| json!({"to": c.to.map(|a| a.to_hex()), "data": hex::encode(&c.input)}))
        .collect();
    let mut request = json!({
        "type": "0x76",
        "from": from.to_hex(),
        "calls": calls,
        "nonceKey": hex::encode(&tx.nonce_key.to_be_bytes()),
    });
    if let Some(before) = tx.valid_before {
        request["validBefore"] = format!("{before:#x}").into();
    }
    if let Some(token) = tx.fee_token {
        request["feeToken"] = token.to_hex().into();
    }
    let estimate = rpc.call("eth_estimateGas", json!([request])).await?;
    quantity(&estimate)
        .ok_or_else(|| RpcError::Unavailable("eth_estimateGas: not a quantity".into()))
}

/// How much of TIP-20 `token` `holder` has (`balanceOf`, at the latest block).
pub(super) async fn token_balance(
    rpc: &dyn TempoRpc,
    token: &Address,
    holder: &Address,
) -> Result<u128, RpcError> {
    // balanceOf(address)
    let mut data = std::vec![0x70, 0xa0, 0x82, 0x31];
    data.extend_from_slice(&[0; 12]);
    data.extend_from_slice(holder.as_bytes());
    let call = json!({"to": token.to_hex(), "data": hex::encode(&data)});
    let answer = rpc.call("eth_call", json!([call, "latest"])).await?;
    let word: [u8; 32] = answer
        .as_str()
        .and_then(hex::decode)
        .ok_or_else(|| RpcError::Unavailable("balanceOf: not a 32-byte word".into()))?;
    // A balance beyond 128 bits is more than any amount this crate handles.
    if word[..16] != [0; 16] {
        return Ok(u128::MAX);
    }
    let mut low = [0u8; 16];
    low.copy_from_slice(&word[16..]);
    Ok(u128::from_be_bytes(low))
}

/// Broadcasts the signed transaction `raw` and returns its receipt once it is in a
/// block: with `eth_sendRawTransactionSync` where the node has it, otherwise with
/// `eth_sendRawTransaction` and then polling the receipt every `poll` until
/// `timeout`.
pub(super) async fn send_and_wait(
    rpc: &dyn TempoRpc,
    raw: &[u8],
    hash: &TxHash,
    poll: Duration,
    timeout: Duration,
) -> Result<Value, RpcError> {
    let raw = hex::encode(raw);
    match rpc.call("eth_sendRawTransactionSync", json!([raw])).await {
        Ok(receipt) if !receipt.is_null() => return Ok(receipt),
        Ok(_) => {}
        Err(e) if e.is_method_not_found() => {
            rpc.call("eth_sendRawTransaction", json!([raw])).await?;
        }
        Err(e) => return Err(e),
    }
    wait_for_receipt(rpc, hash, poll, timeout).await
}

/// Polls the receipt of `hash` every `poll` until it comes or `timeout` passes.
pub(super) async fn wait_for_receipt(
    rpc: &dyn TempoRpc,
    hash: &TxHash,
    poll: Duration,
    timeout: Duration,
) -> Result<Value, RpcError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(receipt) = transaction_receipt(rpc, hash).await? {
            return Ok(receipt);
        }
        if tokio::time::Instant::now() + poll > deadline {
            return Err(RpcError::Unavailable(format!(
                "no receipt for {} within {} ms",
                hash.to_hex(),
                timeout.as_millis()
            )));
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(
            read_answer(br#"{"jsonrpc":"2.0","id":7,"result":"0xa5bf"}"#, 7),
            Ok(json!("0xa5bf"))
        );
        assert_eq!(
            read_answer(
                br#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no such method"}}"#,
                7
            ),
            Err(RpcError::Rejected {
                code: -32601,
                message: "no such method".into()
            })
        );
        for bad in [
            &br#"{"jsonrpc":"2.0","id":8,"result":"0x1"}"#[..],
            br#"{"jsonrpc":"2.0","id":7}"#,
            br#"{"jsonrpc":"2.0","id":7,"error":{"message":"x"}}"#,
            br#"[]"#,
            b"<html>",
        ] {
            assert!(
                matches!(read_answer(bad, 7), Err(RpcError::Unavailable(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn quantities_are_hex_u64s() {
        assert_eq!(quantity(&json!("0x0")), Some(0));
        assert_eq!(quantity(&json!("0xa5bf")), Some(42431));
        assert_eq!(quantity(&json!("0xffffffffffffffff")), Some(u64::MAX));
        for bad in [
            json!("0x"),
            json!("a5bf"),
            json!("0x10000000000000000"),
            json!(1),
        ] {
            assert_eq!(quantity(&bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_other_than_http_are_refused_and_never_shown() {
        assert!(HttpRpc::new("ftp://node.example").is_err());
        assert!(HttpRpc::new("not a url").is_err());
        let rpc = HttpRpc::new("https://node.example/v1/SECRETKEY").unwrap();
        assert!(!format!("{rpc:?}").contains("SECRETKEY"));
    }
}
