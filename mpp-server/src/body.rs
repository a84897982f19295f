//! The body type the paywall speaks on both sides of the inner service, and the
//! conversions into it.

use std::convert::Infallible;

use bytes::Bytes;
use http::Response;
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;

/// The error type of bodies the paywall hands on.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The body type of the requests the inner service receives and of the responses
/// the paywall returns.
pub type PaywallBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body of known bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> PaywallBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// Any body, boxed.
pub(crate) fn boxed<B>(body: B) -> PaywallBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(|e| -> BoxError { e.into() }).boxed_unsync()
}

/// Any response, with its body boxed.
pub(crate) fn box_response<B>(response: Response<B>) -> Response<PaywallBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(boxed)
}
