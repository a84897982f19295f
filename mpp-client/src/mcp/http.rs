//! MCP's Streamable HTTP transport, client side, over reqwest: each message is a
//! POST, and its response comes back as a JSON body or in a server-sent event
//! stream, beside which the server may send its own notifications and requests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc;
use reqwest::Url;
use serde_json::Value;

use super::BadAnswer;
use super::flow::{Exchange, Failure};

/// The header that names the session, from the `initialize` answer on.
const SESSION_ID: &str = "mcp-session-id";
/// The header that names the negotiated protocol version, after `initialize`.
const PROTOCOL_VERSION: &str = "mcp-protocol-version";

/// One server endpoint, with the session it gave.
pub(crate) struct HttpCarrier {
    http: reqwest::Client,
    url: Url,
    max_body: usize,
    next_id: AtomicU64,
    /// `Mcp-Session-Id` (sensitive: it may be all that identifies the session).
    session: Mutex<Option<HeaderValue>>,
    version: Mutex<Option<HeaderValue>>,
}

impl HttpCarrier {
    pub(crate) fn new(http: reqwest::Client, url: Url, max_body: usize) -> HttpCarrier {
        HttpCarrier {
            http,
            url,
            max_body,
            next_id: AtomicU64::new(1),
            session: Mutex::new(None),
            version: Mutex::new(None),
        }
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// From now on, messages carry `MCP-Protocol-Version: version`.
    pub(crate) fn set_version(&self, version: &str) -> Result<(), BadAnswer> {
        let value = HeaderValue::from_str(version).map_err(|_| {
            BadAnswer::Protocol("the negotiated protocol version is not a header value".into())
        })?;
        *lock(&self.version) = Some(value);
        Ok(())
    }

    /// Sends a notification: no id, and no response is expected (202).
    pub(crate) async fn notify(&self, mut message: JsonObject) -> Result<(), Failure> {
        message.insert("jsonrpc".into(), "2.0".into());
        let response = self.post(&message).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_failure(status));
        }
        Ok(())
    }

    /// Asks the server to end the session (`DELETE`); its answer does not matter.
    pub(crate) async fn end_session(&self) {
        let Some(session) = lock(&self.session).clone() else {
            return;
        };
        let _ = self
            .http
            .delete(self.url.clone())
            .header(SESSION_ID, session)
            .send()
            .await;
    }

    async fn post(&self, message: &JsonObject) -> Result<reqwest::Response, Failure> {
        let body = serde_json::to_vec(message)
            .map_err(|e| Failure::Transport(format!("cannot write the message: {e}")))?;
        let mut request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(body);
        if let Some(session) = lock(&self.session).clone() {
            request = request.header(SESSION_ID, session);
        }
        if let Some(version) = lock(&self.version).clone() {
            request = request.header(PROTOCOL_VERSION, version);
        }
        request
            .send()
            .await
            .map_err(|e| Failure::Transport(crate::paying::network_text(&e)))
    }

    /// The response to `id`, from a JSON body or an event stream.
    async fn read(&self, response: reqwest::Response, id: &Value) -> Result<JsonObject, Failure> {
        let status = response.status();
        if !status.is_success() {
            return Err(status_failure(status));
        }
        if let Some(session) = response.headers().get(SESSION_ID) {
            // The spec allows visible ASCII only; anything else cannot be sent back.
            if session.is_empty() || !session.as_bytes().iter().all(|b| (0x21..=0x7e).contains(b)) {
                return Err(Failure::BadAnswer(BadAnswer::Protocol(
                    "the Mcp-Session-Id has characters other than visible ASCII".into(),
                )));
            }
            let mut session = session.clone();
            session.set_sensitive(true);
            *lock(&self.session) = Some(session);
        }
        let kind = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        match kind.as_str() {
            "text/event-stream" => self.read_stream(response, id).await,
            "application/json" | "" => {
                let body = read_capped(response, self.max_body).await?;
                if body.is_empty() {
                    return Err(Failure::BadAnswer(BadAnswer::NoResponse));
                }
                let message = parse(&body, self.max_body)?;
                check_response(message, id)
            }
            other => Err(Failure::BadAnswer(BadAnswer::ContentType(other.to_owned()))),
        }
    }

    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        id: &Value,
    ) -> Result<JsonObject, Failure> {
        let mut events = EventStream::default();
        let mut read = 0usize;
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| Failure::Transport(crate::paying::network_text(&e)))?;
            let Some(chunk) = chunk else {
                return Err(Failure::BadAnswer(BadAnswer::NoResponse));
            };
            read += chunk.len();
            if read > self.max_body {
                return Err(Failure::BadAnswer(BadAnswer::TooLarge {
                    limit: self.max_body,
                }));
            }
            for data in events.feed(&chunk) {
                let message = parse(data.as_bytes(), self.max_body)?;
                // The server's own requests and notifications (progress, logging,
                // pings) are not answers: none of them is acted on.
                if message.get("method").is_some() {
                    continue;
                }
                if message.get("id") == Some(id) {
                    return check_response(message, id);
                }
            }
        }
    }
}

impl Exchange for HttpCarrier {
    async fn exchange(&self, mut message: JsonObject) -> Result<JsonObject, Failure> {
        let id = Value::from(self.next_id.fetch_add(1, Ordering::Relaxed));
        message.insert("jsonrpc".into(), "2.0".into());
        message.insert("id".into(), id.clone());
        let response = self.post(&message).await?;
        drop(message);
        self.read(response, &id).await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn status_failure(status: reqwest::StatusCode) -> Failure {
    if status.is_server_error() {
        return Failure::Transport(format!("the server failed (HTTP {status})"));
    }
    let detail = match status.as_u16() {
        404 => "no MCP endpoint here, or the session has ended".to_owned(),
        401 | 403 => "the endpoint asks for authorization this client does not have".to_owned(),
        _ => "not an answer MCP's Streamable HTTP transport gives".to_owned(),
    };
    Failure::Status {
        status: status.as_u16(),
        detail,
    }
}

async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Transport(crate::paying::network_text(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(Failure::BadAnswer(BadAnswer::TooLarge { limit: max }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn parse(bytes: &[u8], max: usize) -> Result<JsonObject, Failure> {
    match jsonrpc::parse_message(bytes, max) {
        Ok(Value::Object(message)) => Ok(message),
        Ok(Value::Array(_)) => Err(Failure::BadAnswer(BadAnswer::NotJsonRpc(
            "a batch answers a single request",
        ))),
        Ok(_) => Err(Failure::BadAnswer(BadAnswer::NotJsonRpc(
            "the message is not an object",
        ))),
        Err(jsonrpc::JsonRpcError::MessageTooLarge { limit }) => {
            Err(Failure::BadAnswer(BadAnswer::TooLarge { limit }))
        }
        Err(e) => Err(Failure::BadAnswer(BadAnswer::NotJson(e.to_string()))),
    }
}

/// Checks that `message` is the JSON-RPC 2.0 response to `id`.
pub(crate) fn check_response(message: JsonObject, id: &Value) -> Result<JsonObject, Failure> {
    let bad = |what| Err(Failure::BadAnswer(BadAnswer::NotJsonRpc(what)));
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return bad("`jsonrpc` is not \"2.0\"");
    }
    match (message.get("result"), message.get("error")) {
        (Some(_), Some(_)) => return bad("both `result` and `error`"),
        (None, None) => return bad("neither `result` nor `error`"),
        (None, Some(error)) if !error.is_object() => return bad("`error` is not an object"),
        _ => {}
    }
    match message.get("id") {
        Some(got) if got == id => Ok(message),
        // A server that could not read the request's id answers an error with
        // a null id.
        Some(Value::Null) if message.contains_key("error") => Ok(message),
        got => Err(Failure::BadAnswer(BadAnswer::WrongId {
            expected: id.to_string(),
            got: got.map_or_else(|| "none".to_owned(), Value::to_string),
        })),
    }
}

/// A server-sent event stream's parser (the WHATWG `text/event-stream` rules that
/// matter here): it gives the `data` of each `message` event, in order.
#[derive(Debug, Default)]
struct EventStream {
    line: Vec<u8>,
    /// The last byte fed was CR: an LF right after it ends no second line.
    after_cr: bool,
    data: Option<String>,
    other_event: bool,
}

impl EventStream {
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut done = Vec::new();
        for &b in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    let line = std::mem::take(&mut self.line);
                    if let Some(data) = self.line_done(&line) {
                        done.push(data);
                    }
                }
                _ => self.line.push(b),
            }
        }
        done
    }

    fn line_done(&mut self, line: &[u8]) -> Option<String> {
        if line.is_empty() {
            // An event without data (MCP's priming event, which only sets an id)
            // carries no message.
            let data = self.data.take().filter(|d| !d.is_empty());
            return if std::mem::take(&mut self.other_event) {
                None
            } else {
                data
            };
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.other_event = !value.is_empty() && value != "message",
            // Comments (an empty field name), `id` and `retry` carry nothing for us.
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::EventStream;

    #[test]
    fn events_split_across_chunks_and_line_ends() {
        let mut s = EventStream::default();
        assert!(s.feed(b": comment\r").is_empty());
        assert!(s.feed(b"\nid: 1\ndata: {\"a\"").is_empty());
        assert!(s.feed(b":\r\ndata: 1}\r").is_empty());
        assert_eq!(s.feed(b"\r\n"), ["{\"a\":\n1}"]);
        assert_eq!(
            s.feed(b"event: ping\ndata: x\n\ndata:y\n\n"),
            ["y"],
            "only message events are data"
        );
        assert!(s.feed(b"id: 7\n\n").is_empty(), "no data, no event");
        assert!(
            s.feed(b"id: 8\ndata:\n\n").is_empty(),
            "MCP's priming event"
        );
    }
}
