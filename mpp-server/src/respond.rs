//! The responses the paywall writes itself: engine replies (402, 400, 500), plain
//! problems (413, 429), the discovery document, a session's JSON answer, and the
//! headers that go on every paid response.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::server::Reply;

use crate::body::{PaywallBody, full};

/// Adds the receipt and `Cache-Control: private` to a paid response.
pub(crate) fn add_paid_headers(
    response: &mut Response<PaywallBody>,
    headers: Vec<(&'static str, String)>,
) {
    for (name, value) in headers {
        if let Ok(mut value) = HeaderValue::try_from(value) {
            // Receipts are sensitive (D10): keep them out of header logging.
            value.set_sensitive(name == "payment-receipt");
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
}

/// The HTTP response for an engine reply (402, 400 or 500, always `no-store`).
pub(crate) fn reply(reply: Reply) -> Response<PaywallBody> {
    let mut response = Response::new(full(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.reserve(reply.headers.len());
    for (name, value) in reply.headers {
        let value = match value {
            std::borrow::Cow::Borrowed(v) => Ok(HeaderValue::from_static(v)),
            std::borrow::Cow::Owned(v) => HeaderValue::try_from(v),
        };
        if let Ok(value) = value {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    response
}

/// A problem that is not about payment (`about:blank`), never cached.
pub(crate) fn plain_problem(
    status: StatusCode,
    title: &str,
    detail: &str,
) -> Response<PaywallBody> {
    let mut problem = Problem::new(ProblemType::BadRequest).with_detail(detail);
    problem.type_uri = "about:blank".into();
    problem.title = title.into();
    problem.status = status.as_u16();
    let mut response = Response::new(full(problem.to_json()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 429: too many challenges whose terms cost something to make; try again in
/// `wait` seconds.
pub(crate) fn too_many(wait: u64) -> Response<PaywallBody> {
    let mut response = plain_problem(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "too many payment challenges were asked for; try again later",
    );
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// The discovery document (`GET /openapi.json`).
pub(crate) fn discovery(document: Bytes) -> Response<PaywallBody> {
    let mut response = Response::new(full(document));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    response
}

/// 200 with a JSON body: a session's answer to a top-up or a close.
pub(crate) fn json(body: String) -> Response<PaywallBody> {
    let mut response = Response::new(full(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
