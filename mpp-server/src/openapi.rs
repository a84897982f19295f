//! Discovery (draft-payment-discovery): `GET /openapi.json`, an OpenAPI 3.1 document
//! generated from the paid routes.

use crate::config::PaidRoute;

/// What the discovery document says about the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceInfo {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// `x-service-info.categories` (at most five are recommended).
    pub categories: Vec<String>,
    /// `x-service-info.docs.homepage`.
    pub homepage: Option<String>,
    /// `x-service-info.docs.apiReference`.
    pub api_reference: Option<String>,
    /// `x-service-info.docs.llms`.
    pub llms: Option<String>,
}

/// The discovery document for `routes`.
pub fn document(info: &ServiceInfo, routes: &[PaidRoute]) -> serde_json::Value {
    let _ = (info, routes);
    serde_json::json!({})
}
