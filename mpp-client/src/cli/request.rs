//! Building the request from the command line, and sending it without paying.

use std::io::Read;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use mpp_client::{ClientOptions, PaidRequest};
use mpp_core::time::UnixTime;
use reqwest::Url;

use super::Usage;
use super::args::RequestArgs;

/// The request the command line describes.
pub(crate) fn build(url: &str, args: &RequestArgs) -> Result<PaidRequest, Usage> {
    let url = Url::parse(url).map_err(|e| Usage(format!("invalid URL {url:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Usage(format!(
            "unsupported URL scheme {:?}: use http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Usage(format!("the URL {url} has no host")));
    }
    let body = match (&args.data, &args.data_file) {
        (Some(data), _) => {
            if data.starts_with('@') {
                eprintln!(
                    "mpp: note: -d sends {data:?} as is; to send a file's content use --data-file"
                );
            }
            Some(Bytes::from(data.clone()))
        }
        (None, Some(path)) => Some(read_body_file(path)?),
        (None, None) => None,
    };
    let method = match &args.method {
        Some(m) => m.clone(),
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    let mut request = PaidRequest::new(method, url);
    for (name, value) in &args.headers {
        request.headers.append(name.clone(), value.clone());
    }
    request.body = body;
    Ok(request)
}

fn read_body_file(path: &std::path::Path) -> Result<Bytes, Usage> {
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    read.map_err(|e| Usage(format!("cannot read --data-file {}: {e}", path.display())))?;
    Ok(bytes.into())
}

/// The timeout of each round trip.
pub(crate) fn timeout(args: &RequestArgs) -> Duration {
    args.timeout
        .unwrap_or_else(|| ClientOptions::default().timeout)
}

/// The system clock.
pub(crate) fn now() -> UnixTime {
    UnixTime::from(SystemTime::now())
}

/// A response received without paying.
#[derive(Debug)]
pub(crate) struct Unpaid {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) url: Url,
}

impl Unpaid {
    /// Every `WWW-Authenticate` field line, joined as one list.
    pub(crate) fn www_authenticate(&self) -> Option<String> {
        join_lines(&self.headers, http::header::WWW_AUTHENTICATE)
    }
}

/// The lines of a header field joined with ", " (RFC 9110 §5.3), if any.
pub(crate) fn join_lines(headers: &HeaderMap, name: http::HeaderName) -> Option<String> {
    let lines: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// Sends `request` once, with no credential, following up to 5 redirects, and reads
/// at most `max_body` bytes of the body.
pub(crate) async fn send_unpaid(
    request: &PaidRequest,
    timeout: Duration,
    max_body: usize,
) -> Result<Unpaid, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let mut builder = client
        .request(request.method.clone(), request.url.clone())
        .headers(request.headers.clone());
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let mut response = builder.send().await.map_err(|e| error_chain(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let url = response.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
        let room = max_body.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= max_body {
            break;
        }
    }
    Ok(Unpaid {
        status,
        headers,
        body: body.into(),
        url,
    })
}

/// An error with its causes, `a: b: c`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `200 OK`.
pub(crate) fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}
