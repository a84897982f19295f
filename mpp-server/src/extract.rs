//! The axum integration: a paid handler takes the settled payment as an argument.

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::service::VerifiedPayment;

/// The rejection when a handler asks for a payment on a route the paywall does not
/// guard: a configuration mistake, so a 500.
#[derive(Debug, Clone, Copy)]
pub struct NotBehindPaywall;

impl IntoResponse for NotBehindPaywall {
    fn into_response(self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "this route is not behind the paywall",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedPayment {
    type Rejection = NotBehindPaywall;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedPayment>()
            .cloned()
            .ok_or(NotBehindPaywall)
    }
}
