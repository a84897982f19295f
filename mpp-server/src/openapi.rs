//! Discovery (draft-payment-discovery): the OpenAPI 3.1 document served at
//! `GET /openapi.json`, generated from the paid routes.
//!
//! The document holds:
//!
//! - `openapi: "3.1.0"` and `info` (`title` and `version`, never empty: they default
//!   to `"Payment-protected API"` and `"1.0.0"`);
//! - `x-service-info` when the [`ServiceInfo`] has anything to say: `categories`
//!   and `docs` (`homepage`, `apiReference`, `llms`), each member only when set;
//! - `paths`: one operation per paid route, keyed by path and lowercase HTTP method.
//!   Each operation carries
//!   - `summary`: the route's description, if any;
//!   - `x-payment-info` in the multi-offer form, `{"offers": [...]}`, one entry per
//!     offer in the route's order of preference, each with exactly `intent`,
//!     `method`, `amount` (the request's integer string, or `null` for dynamic
//!     pricing), and `currency` and `description` when known;
//!   - `requestBody` for `POST`, `PUT` and `PATCH`;
//!   - `responses`: `200`, and `402` with its `WWW-Authenticate` challenges and an
//!     `application/problem+json` body;
//! - `components.schemas.PaymentProblem`, the problem details body the `402`
//!   responses refer to (only when there is at least one operation).
//!
//! Discovery is advisory. The `402` challenge a paid route answers with is
//! authoritative for every payment term (method, intent, amount, currency,
//! recipient, expiry). Clients must not rely on this document alone, nor cache it in
//! place of processing the challenge: where the two differ, the challenge wins.
//!
//! The output is deterministic: the same routes and service info give the same
//! value, and the same bytes once serialised. Paths are emitted in sorted order,
//! whatever the order of the routes, and objects are built in a fixed order (with
//! serde_json's default features, objects keep their keys sorted anyway).
//!
//! Routes that cannot be described in a valid document are left out:
//!
//! - a route with no offer (the builder refuses those anyway);
//! - a route whose HTTP method has no OpenAPI operation (`CONNECT` and extension
//!   methods: OpenAPI 3.1 path items know only `get`, `put`, `post`, `delete`,
//!   `options`, `head`, `patch` and `trace`);
//! - a route whose path does not start with `/` (no request path can match it);
//! - a second route with the same method and path as an earlier one: the paywall
//!   answers with the first, so the document describes the first.
//!
//! With no describable route, `paths` is an empty object. The discovery draft asks
//! for at least one path, but there is then nothing to discover; serving an empty
//! catalogue is more honest than inventing an operation.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::route::PaidRoute;
use mpp_core::json::JsonObject;

/// `info.title` when [`ServiceInfo::title`] is empty.
const DEFAULT_TITLE: &str = "Payment-protected API";
/// `info.version` when [`ServiceInfo::version`] is empty.
const DEFAULT_VERSION: &str = "1.0.0";
/// The name of the problem details schema under `components.schemas`.
const PROBLEM_SCHEMA: &str = "PaymentProblem";

/// What the discovery document says about the service, beyond its routes.
///
/// Empty strings count as absent: an empty `title` or `version` is replaced by a
/// default, and an empty link is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceInfo {
    /// `info.title`: the service's name (default `"Payment-protected API"`).
    pub title: String,
    /// `info.version`: the API's version (default `"1.0.0"`).
    pub version: String,
    /// `x-service-info.categories`, in this order (at most five are recommended;
    /// suggested values: communication, compute, data, developer-tools, media,
    /// search, social, storage, travel). Omitted when empty.
    pub categories: Vec<String>,
    /// `x-service-info.docs.homepage`: the main documentation or landing page.
    pub homepage: Option<String>,
    /// `x-service-info.docs.apiReference`: the API reference.
    pub api_reference: Option<String>,
    /// `x-service-info.docs.llms`: LLM-friendly documentation (`llms.txt`).
    pub llms: Option<String>,
}

/// The discovery document for `routes`, described by `info`.
///
/// See the [module documentation](self) for its contents and for the routes it
/// leaves out.
pub fn document(info: &ServiceInfo, routes: &[PaidRoute]) -> Value {
    // Sorted maps throughout, so the output does not depend on the order routes were
    // added, nor on whether serde_json's `preserve_order` feature is on.
    let mut paths: BTreeMap<&str, BTreeMap<&'static str, Value>> = BTreeMap::new();
    for route in routes {
        let Some(key) = operation_key(&route.http_method) else {
            continue;
        };
        if (route.offers.is_empty() && route.sessions.is_empty()) || !route.path.starts_with('/') {
            continue;
        }
        let item = paths.entry(route.path.as_str()).or_default();
        item.entry(key).or_insert_with(|| operation(route, key));
    }
    let any_operation = !paths.is_empty();

    let mut doc = Map::new();
    doc.insert("openapi".into(), json!("3.1.0"));
    doc.insert(
        "info".into(),
        json!({
            "title": non_empty(&info.title).unwrap_or(DEFAULT_TITLE),
            "version": non_empty(&info.version).unwrap_or(DEFAULT_VERSION),
        }),
    );
    if let Some(service) = service_info(info) {
        doc.insert("x-service-info".into(), Value::Object(service));
    }
    doc.insert(
        "paths".into(),
        Value::Object(
            paths
                .into_iter()
                .map(|(path, item)| {
                    let item = item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                    (path.to_owned(), Value::Object(item))
                })
                .collect(),
        ),
    );
    if any_operation {
        doc.insert(
            "components".into(),
            json!({ "schemas": { PROBLEM_SCHEMA: problem_schema() } }),
        );
    }
    Value::Object(doc)
}

/// The path item key for `method`, if OpenAPI 3.1 has one.
fn operation_key(method: &http::Method) -> Option<&'static str> {
    // Extension methods are case-sensitive: only the uppercase standard names match.
    Some(match method.as_str() {
        "GET" => "get",
        "PUT" => "put",
        "POST" => "post",
        "DELETE" => "delete",
        "OPTIONS" => "options",
        "HEAD" => "head",
        "PATCH" => "patch",
        "TRACE" => "trace",
        _ => return None,
    })
}

/// `text`, unless it is empty or only whitespace.
fn non_empty(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

/// `x-service-info`, or `None` when it would be empty.
fn service_info(info: &ServiceInfo) -> Option<Map<String, Value>> {
    let mut docs = Map::new();
    let links = [
        ("homepage", &info.homepage),
        ("apiReference", &info.api_reference),
        ("llms", &info.llms),
    ];
    for (name, link) in links {
        if let Some(link) = link.as_deref().and_then(non_empty) {
            docs.insert(name.into(), json!(link));
        }
    }
    let mut service = Map::new();
    if !info.categories.is_empty() {
        service.insert("categories".into(), json!(info.categories));
    }
    if !docs.is_empty() {
        service.insert("docs".into(), Value::Object(docs));
    }
    (!service.is_empty()).then_some(service)
}

/// The operation describing `route`, found under the path item key `key`.
fn operation(route: &PaidRoute, key: &str) -> Value {
    let description = route.description.as_deref().and_then(non_empty);
    let mut op = Map::new();
    if let Some(summary) = description {
        op.insert("summary".into(), json!(summary));
    }
    let charges = route.offers.iter().map(|offer| {
        payment_offer(
            offer.intent.as_str(),
            offer.method.name(),
            &offer.request,
            description,
        )
    });
    // A session offer's amount is the price of one unit.
    let sessions = route
        .sessions
        .iter()
        .map(|offer| payment_offer("session", offer.method.name(), &offer.request, description));
    let offers: Vec<Value> = charges.chain(sessions).collect();
    op.insert("x-payment-info".into(), json!({ "offers": offers }));
    if matches!(key, "post" | "put" | "patch") {
        // The paywall does not read the body: it buffers whatever is sent and binds
        // it to the challenge (its digest), so any body is accepted. The schema is
        // deliberately permissive (`{}` accepts every JSON value); the application
        // behind the paywall is the one that knows its input.
        op.insert(
            "requestBody".into(),
            json!({
                "description": "The request body. The paywall accepts any body (up to its \
                    size limit) and binds the bytes sent to the payment; the application \
                    defines what it expects.",
                "required": false,
                "content": { "application/json": { "schema": {} } },
            }),
        );
    }
    op.insert("responses".into(), responses());
    Value::Object(op)
}

/// One entry of `x-payment-info.offers`: exactly `intent`, `method`, `amount`, and
/// `currency` and `description` when known (the offer schema allows nothing else,
/// so `recipient` and `methodDetails` stay in the challenge).
fn payment_offer(
    intent: &str,
    method: &str,
    request: &JsonObject,
    route_description: Option<&str>,
) -> Value {
    let text = |name: &str| request.get(name).and_then(Value::as_str);

    let mut entry = Map::new();
    entry.insert("intent".into(), json!(intent));
    entry.insert("method".into(), json!(method));
    // A price that is not a base-unit integer string cannot be advertised: `null`
    // says "dynamic pricing", and the 402 states the actual amount.
    let amount = text("amount").filter(|a| is_amount(a));
    entry.insert("amount".into(), json!(amount));
    if let Some(currency) = text("currency") {
        entry.insert("currency".into(), json!(currency));
    }
    if let Some(description) = text("description").or(route_description) {
        entry.insert("description".into(), json!(description));
    }
    Value::Object(entry)
}

/// Whether `amount` matches `^(0|[1-9][0-9]*)$`.
fn is_amount(amount: &str) -> bool {
    match amount.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// The responses of a paid operation.
fn responses() -> Value {
    json!({
        "200": { "description": "Successful response" },
        "402": {
            "description": "Payment Required",
            "headers": {
                "WWW-Authenticate": {
                    "description": "The Payment challenges, one per offer. They, not this \
                        document, are authoritative for the payment terms.",
                    "schema": { "type": "string" },
                },
            },
            "content": {
                "application/problem+json": {
                    "schema": { "$ref": format!("#/components/schemas/{PROBLEM_SCHEMA}") },
                },
            },
        },
    })
}

/// The RFC 9457 problem details body of a `402` (`components.schemas.PaymentProblem`).
fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details, as sent with the Payment challenges.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri",
                "description": "The problem type, e.g. \
                    https://paymentauth.org/problems/payment-required.",
            },
            "title": { "type": "string", "description": "A short summary of the problem type." },
            "status": { "type": "integer", "description": "The HTTP status code." },
            "detail": { "type": "string", "description": "What went wrong this time." },
            "challengeId": {
                "type": "string",
                "description": "The id of the fresh challenge sent with this response.",
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mpp_core::json::JsonObject;
    use mpp_core::method::{BoxFuture, Charge, ChargeMethod, MethodError, Settlement};
    use mpp_core::value::IntentName;
    use serde_json::{Value, json};

    use super::{ServiceInfo, document};
    use crate::route::{ChargeOffer, PaidRoute};

    /// A method that settles everything; only its name matters here.
    struct Fake(&'static str);

    impl ChargeMethod for Fake {
        fn name(&self) -> &str {
            self.0
        }

        fn settle<'a>(
            &'a self,
            _charge: Charge<'a>,
        ) -> BoxFuture<'a, Result<Settlement, MethodError>> {
            Box::pin(async { Ok(Settlement::new("x")) })
        }
    }

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn charge(method: &'static str, request: Value) -> ChargeOffer {
        ChargeOffer::new(Arc::new(Fake(method)), object(request))
    }

    fn offers_of(doc: &Value, path: &str, method: &str) -> Vec<Value> {
        doc["paths"][path][method]["x-payment-info"]["offers"]
            .as_array()
            .unwrap_or_else(|| panic!("no offers at {method} {path}: {doc}"))
            .clone()
    }

    /// The 402 response every paid operation carries.
    fn payment_required() -> Value {
        json!({
            "description": "Payment Required",
            "headers": {
                "WWW-Authenticate": {
                    "description": "The Payment challenges, one per offer. They, not this document, are authoritative for the payment terms.",
                    "schema": { "type": "string" },
                },
            },
            "content": {
                "application/problem+json": {
                    "schema": { "$ref": "#/components/schemas/PaymentProblem" },
                },
            },
        })
    }

    /// Structural checks of the discovery draft (and of OpenAPI where the draft
    /// leans on it). Returns every violation found.
    fn discovery_errors(doc: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let mut fail = |path: &str, message: &str| errors.push(format!("{path}: {message}"));

        if !doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")) {
            fail("openapi", "must be a 3.x version string");
        }
        for field in ["title", "version"] {
            if doc["info"][field].as_str().is_none_or(str::is_empty) {
                fail("info", &format!("{field} must be a non-empty string"));
            }
        }

        if let Some(service) = doc.get("x-service-info") {
            match service.as_object() {
                None => fail("x-service-info", "must be an object"),
                Some(service) => {
                    if let Some(categories) = service.get("categories") {
                        let strings = categories
                            .as_array()
                            .is_some_and(|c| c.iter().all(Value::is_string));
                        if !strings {
                            fail("x-service-info.categories", "must be an array of strings");
                        }
                    }
                    if let Some(docs) = service.get("docs") {
                        match docs.as_object() {
                            None => fail("x-service-info.docs", "must be an object"),
                            Some(docs) => {
                                for (name, link) in docs {
                                    if !["homepage", "apiReference", "llms"]
                                        .contains(&name.as_str())
                                    {
                                        fail(
                                            "x-service-info.docs",
                                            &format!("unknown member {name}"),
                                        );
                                    }
                                    if link.as_str().is_none_or(str::is_empty) {
                                        fail(
                                            "x-service-info.docs",
                                            &format!("{name} must be a URI"),
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        let Some(paths) = doc["paths"].as_object() else {
            fail("paths", "must be an object");
            return errors;
        };
        if paths.is_empty() {
            fail("paths", "must hold at least one path");
        }
        let operations = [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ];
        for (path, item) in paths {
            if !path.starts_with('/') {
                fail(path, "paths must start with /");
            }
            let Some(item) = item.as_object() else {
                fail(path, "path item must be an object");
                continue;
            };
            for (method, op) in item {
                let at = format!("paths.{path}.{method}");
                if !operations.contains(&method.as_str()) {
                    fail(&at, "not an OpenAPI 3.1 operation");
                }
                let Some(info) = op.get("x-payment-info") else {
                    fail(&at, "paid operation without x-payment-info");
                    continue;
                };
                let form = info.as_object().map(|o| o.keys().collect::<Vec<_>>());
                if form != Some(vec![&"offers".to_owned()]) {
                    fail(&at, "x-payment-info must be exactly {offers}");
                }
                match info["offers"].as_array() {
                    Some(offers) if !offers.is_empty() => {
                        for (i, offer) in offers.iter().enumerate() {
                            offer_errors(
                                offer,
                                &format!("{at}.x-payment-info.offers.{i}"),
                                &mut fail,
                            );
                        }
                    }
                    _ => fail(&at, "offers must be a non-empty array"),
                }
                let responses = &op["responses"];
                if !responses["402"]["description"].is_string() {
                    fail(&at, "paid operation must declare a 402 response");
                }
                if !responses["200"]["description"].is_string() {
                    fail(&at, "operation must declare a 200 response");
                }
                if matches!(method.as_str(), "post" | "put" | "patch")
                    && !op["requestBody"].is_object()
                {
                    fail(&at, "POST/PUT/PATCH should declare a requestBody");
                }
                if let Some(reference) =
                    responses["402"]["content"]["application/problem+json"]["schema"]["$ref"]
                        .as_str()
                {
                    let pointer = reference.strip_prefix('#').unwrap_or("!");
                    if doc.pointer(pointer).is_none() {
                        fail(&at, &format!("dangling $ref {reference}"));
                    }
                }
            }
        }
        errors
    }

    fn offer_errors(offer: &Value, at: &str, fail: &mut impl FnMut(&str, &str)) {
        let Some(offer) = offer.as_object() else {
            fail(at, "offer must be an object");
            return;
        };
        for key in ["intent", "method", "amount"] {
            if !offer.contains_key(key) {
                fail(at, &format!("missing {key}"));
            }
        }
        for (key, value) in offer {
            match key.as_str() {
                "intent" | "method" | "currency" | "description" => {
                    if !value.is_string() {
                        fail(at, &format!("{key} must be a string"));
                    }
                }
                "amount" => {
                    let valid = match value {
                        Value::Null => true,
                        Value::String(s) => {
                            !s.is_empty()
                                && s.chars().all(|c| c.is_ascii_digit())
                                && (s == "0" || !s.starts_with('0'))
                        }
                        _ => false,
                    };
                    if !valid {
                        fail(at, "amount must be null or match ^(0|[1-9][0-9]*)$");
                    }
                }
                other => fail(at, &format!("member {other} is not allowed")),
            }
        }
    }

    #[test]
    fn get_route_with_one_offer() {
        let route = PaidRoute::new(http::Method::GET, "/paid")
            .offer(charge(
                "preimage",
                json!({
                    "amount": "1000",
                    "currency": "usd",
                    "recipient": "acct_1",
                    "methodDetails": { "hash": "ab" },
                }),
            ))
            .description("One paid call");
        let info = ServiceInfo {
            title: "Example".into(),
            version: "2.0.0".into(),
            ..ServiceInfo::default()
        };
        let doc = document(&info, &[route]);
        assert_eq!(
            doc,
            json!({
                "openapi": "3.1.0",
                "info": { "title": "Example", "version": "2.0.0" },
                "paths": {
                    "/paid": {
                        "get": {
                            "summary": "One paid call",
                            "x-payment-info": {
                                "offers": [{
                                    "intent": "charge",
                                    "method": "preimage",
                                    "amount": "1000",
                                    "currency": "usd",
                                    "description": "One paid call",
                                }],
                            },
                            "responses": {
                                "200": { "description": "Successful response" },
                                "402": payment_required(),
                            },
                        },
                    },
                },
                "components": {
                    "schemas": {
                        "PaymentProblem": {
                            "type": "object",
                            "description": "RFC 9457 problem details, as sent with the Payment challenges.",
                            "required": ["type", "title", "status"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "format": "uri",
                                    "description": "The problem type, e.g. https://paymentauth.org/problems/payment-required.",
                                },
                                "title": { "type": "string", "description": "A short summary of the problem type." },
                                "status": { "type": "integer", "description": "The HTTP status code." },
                                "detail": { "type": "string", "description": "What went wrong this time." },
                                "challengeId": {
                                    "type": "string",
                                    "description": "The id of the fresh challenge sent with this response.",
                                },
                            },
                        },
                    },
                },
            })
        );
        assert_eq!(discovery_errors(&doc), Vec::<String>::new());
    }

    fn chat_routes() -> Vec<PaidRoute> {
        vec![
            PaidRoute::new(http::Method::POST, "/v1/chat")
                .offer(charge(
                    "tempo",
                    json!({ "amount": "500", "currency": "0x20c0", "recipient": "0xabc" }),
                ))
                .offer(charge(
                    "stripe",
                    json!({
                        "amount": "5",
                        "currency": "usd",
                        "description": "Card payment",
                        "methodDetails": { "networkId": "n" },
                    }),
                ))
                .description("Chat completions"),
            PaidRoute::new(http::Method::GET, "/v1/chat").offer(charge(
                "tempo",
                json!({ "amount": "1", "currency": "0x20c0" }),
            )),
        ]
    }

    #[test]
    fn post_route_with_two_offers_shares_its_path() {
        let doc = document(&ServiceInfo::default(), &chat_routes());
        let item = doc["paths"]["/v1/chat"].as_object().unwrap();
        assert_eq!(item.keys().collect::<Vec<_>>(), ["get", "post"]);
        assert_eq!(doc["paths"].as_object().unwrap().len(), 1);

        assert_eq!(
            doc["paths"]["/v1/chat"]["post"],
            json!({
                "summary": "Chat completions",
                "x-payment-info": {
                    "offers": [
                        {
                            "intent": "charge",
                            "method": "tempo",
                            "amount": "500",
                            "currency": "0x20c0",
                            "description": "Chat completions",
                        },
                        {
                            "intent": "charge",
                            "method": "stripe",
                            "amount": "5",
                            "currency": "usd",
                            "description": "Card payment",
                        },
                    ],
                },
                "requestBody": {
                    "description": "The request body. The paywall accepts any body (up to its size limit) and binds the bytes sent to the payment; the application defines what it expects.",
                    "required": false,
                    "content": { "application/json": { "schema": {} } },
                },
                "responses": {
                    "200": { "description": "Successful response" },
                    "402": payment_required(),
                },
            })
        );
        // No description anywhere: no summary, and offers without description.
        assert_eq!(
            doc["paths"]["/v1/chat"]["get"],
            json!({
                "x-payment-info": {
                    "offers": [{ "intent": "charge", "method": "tempo", "amount": "1", "currency": "0x20c0" }],
                },
                "responses": {
                    "200": { "description": "Successful response" },
                    "402": payment_required(),
                },
            })
        );
        assert_eq!(discovery_errors(&doc), Vec::<String>::new());
    }

    #[test]
    fn request_body_only_for_post_put_patch() {
        let methods = [
            (http::Method::GET, false),
            (http::Method::HEAD, false),
            (http::Method::DELETE, false),
            (http::Method::OPTIONS, false),
            (http::Method::TRACE, false),
            (http::Method::POST, true),
            (http::Method::PUT, true),
            (http::Method::PATCH, true),
        ];
        let routes: Vec<PaidRoute> = methods
            .iter()
            .map(|(m, _)| {
                PaidRoute::new(m.clone(), "/r").offer(charge("m", json!({ "amount": "1" })))
            })
            .collect();
        let doc = document(&ServiceInfo::default(), &routes);
        for (method, has_body) in methods {
            let key = method.as_str().to_ascii_lowercase();
            let op = &doc["paths"]["/r"][&key];
            assert!(op.is_object(), "{key} missing");
            assert_eq!(op.get("requestBody").is_some(), has_body, "{key}");
        }
        assert_eq!(discovery_errors(&doc), Vec::<String>::new());
    }

    #[test]
    fn amounts_that_are_not_integer_strings_are_dynamic() {
        let cases = [
            (json!({ "currency": "usd" }), Value::Null),
            (json!({ "amount": null }), Value::Null),
            (json!({ "amount": 100 }), Value::Null),
            (json!({ "amount": "" }), Value::Null),
            (json!({ "amount": "01" }), Value::Null),
            (json!({ "amount": "-1" }), Value::Null),
            (json!({ "amount": "+1" }), Value::Null),
            (json!({ "amount": "1.5" }), Value::Null),
            (json!({ "amount": "1e3" }), Value::Null),
            (json!({ "amount": " 1" }), Value::Null),
            (json!({ "amount": "١" }), Value::Null),
            (json!({ "amount": "0" }), json!("0")),
            (json!({ "amount": "10" }), json!("10")),
            (
                json!({ "amount": "123456789012345678901234567890" }),
                json!("123456789012345678901234567890"),
            ),
        ];
        for (request, expected) in cases {
            let route = PaidRoute::new(http::Method::GET, "/p").offer(charge("m", request.clone()));
            let doc = document(&ServiceInfo::default(), &[route]);
            let offers = offers_of(&doc, "/p", "get");
            let offer = offers[0].as_object().unwrap();
            assert!(
                offer.contains_key("amount"),
                "amount must be present for {request}"
            );
            assert_eq!(offer["amount"], expected, "for {request}");
            assert_eq!(
                discovery_errors(&doc),
                Vec::<String>::new(),
                "for {request}"
            );
        }
    }

    #[test]
    fn offers_carry_only_the_schema_members() {
        let route = PaidRoute::new(http::Method::GET, "/p")
            .offer(charge(
                "a",
                json!({
                    "amount": "7",
                    "currency": 840,
                    "description": 3,
                    "recipient": "r",
                    "methodDetails": {},
                    "extra": "x",
                }),
            ))
            .offer(charge("b", json!({ "amount": "7", "description": "own" })))
            .description("route");
        let doc = document(&ServiceInfo::default(), &[route]);
        assert_eq!(
            offers_of(&doc, "/p", "get"),
            [
                // A non-string currency is left out; a non-string description falls
                // back to the route's.
                json!({ "intent": "charge", "method": "a", "amount": "7", "description": "route" }),
                json!({ "intent": "charge", "method": "b", "amount": "7", "description": "own" }),
            ]
        );
    }

    #[test]
    fn other_intents_are_reported_as_configured() {
        let offer = ChargeOffer {
            method: Arc::new(Fake("tempo")),
            intent: IntentName::new("session").unwrap().into_owned(),
            request: object(json!({ "amount": "25", "currency": "0x1" })),
        };
        let doc = document(
            &ServiceInfo::default(),
            &[PaidRoute::new(http::Method::GET, "/s").offer(offer)],
        );
        assert_eq!(
            offers_of(&doc, "/s", "get"),
            [json!({ "intent": "session", "method": "tempo", "amount": "25", "currency": "0x1" })]
        );
    }

    #[test]
    fn info_defaults_when_empty() {
        let route =
            || PaidRoute::new(http::Method::GET, "/p").offer(charge("m", json!({ "amount": "1" })));
        let doc = document(&ServiceInfo::default(), &[route()]);
        assert_eq!(
            doc["info"],
            json!({ "title": "Payment-protected API", "version": "1.0.0" })
        );

        let blank = ServiceInfo {
            title: "  ".into(),
            version: "\t".into(),
            ..ServiceInfo::default()
        };
        let doc = document(&blank, &[route()]);
        assert_eq!(
            doc["info"],
            json!({ "title": "Payment-protected API", "version": "1.0.0" })
        );
    }

    #[test]
    fn service_info_members_only_when_present() {
        let route =
            || PaidRoute::new(http::Method::GET, "/p").offer(charge("m", json!({ "amount": "1" })));
        let service =
            |info: ServiceInfo| document(&info, &[route()]).get("x-service-info").cloned();

        // Nothing to say: no x-service-info at all.
        assert_eq!(service(ServiceInfo::default()), None);
        // Empty links count as absent.
        let empty_links = ServiceInfo {
            homepage: Some(String::new()),
            api_reference: Some(" ".into()),
            llms: None,
            ..ServiceInfo::default()
        };
        assert_eq!(service(empty_links), None);

        // Categories only: no docs.
        let categories = ServiceInfo {
            categories: vec!["compute".into(), "data".into()],
            ..ServiceInfo::default()
        };
        assert_eq!(
            service(categories),
            Some(json!({ "categories": ["compute", "data"] }))
        );

        // Docs only, partial: no categories, only the links given.
        let partial = ServiceInfo {
            api_reference: Some("https://api.example.com/reference".into()),
            ..ServiceInfo::default()
        };
        assert_eq!(
            service(partial),
            Some(json!({ "docs": { "apiReference": "https://api.example.com/reference" } }))
        );

        // Everything.
        let full = ServiceInfo {
            title: "Example".into(),
            version: "1".into(),
            categories: vec!["search".into()],
            homepage: Some("https://example.com/".into()),
            api_reference: Some("https://example.com/ref".into()),
            llms: Some("https://example.com/llms.txt".into()),
        };
        let doc = document(&full, &[route()]);
        assert_eq!(
            doc["x-service-info"],
            json!({
                "categories": ["search"],
                "docs": {
                    "homepage": "https://example.com/",
                    "apiReference": "https://example.com/ref",
                    "llms": "https://example.com/llms.txt",
                },
            })
        );
        assert_eq!(discovery_errors(&doc), Vec::<String>::new());
    }

    #[test]
    fn output_is_deterministic() {
        let info = ServiceInfo {
            categories: vec!["compute".into()],
            homepage: Some("https://example.com/".into()),
            ..ServiceInfo::default()
        };
        let mut routes = chat_routes();
        routes.push(
            PaidRoute::new(http::Method::PUT, "/a").offer(charge("m", json!({ "amount": "3" }))),
        );
        let first = serde_json::to_string(&document(&info, &routes)).unwrap();
        let second = serde_json::to_string(&document(&info, &routes)).unwrap();
        assert_eq!(first, second);

        // Different paths, or different methods on one path, in another order: same
        // bytes.
        routes.reverse();
        let reversed = serde_json::to_string(&document(&info, &routes)).unwrap();
        assert_eq!(first, reversed);
        assert!(first.find("\"/a\"").unwrap() < first.find("\"/v1/chat\"").unwrap());
    }

    #[test]
    fn undescribable_routes_are_left_out() {
        let offer = || charge("m", json!({ "amount": "1" }));
        let routes = [
            PaidRoute::new(http::Method::GET, "/no-offer"),
            PaidRoute::new(http::Method::CONNECT, "/connect").offer(offer()),
            PaidRoute::new(http::Method::from_bytes(b"QUERY").unwrap(), "/query").offer(offer()),
            PaidRoute::new(http::Method::from_bytes(b"get").unwrap(), "/lower").offer(offer()),
            PaidRoute::new(http::Method::GET, "relative").offer(offer()),
            PaidRoute::new(http::Method::GET, "").offer(offer()),
        ];
        let doc = document(&ServiceInfo::default(), &routes);
        assert_eq!(doc["paths"], json!({}));
        // No operation refers to the problem schema, so there are no components.
        assert_eq!(doc.get("components"), None);
    }

    #[test]
    fn no_routes_gives_an_empty_catalogue() {
        let doc = document(&ServiceInfo::default(), &[]);
        assert_eq!(
            doc,
            json!({
                "openapi": "3.1.0",
                "info": { "title": "Payment-protected API", "version": "1.0.0" },
                "paths": {},
            })
        );
        // The only rule it breaks is the draft's "at least one path".
        assert_eq!(
            discovery_errors(&doc),
            ["paths: must hold at least one path"]
        );
    }

    #[test]
    fn the_first_of_two_identical_routes_is_described() {
        let routes = [
            PaidRoute::new(http::Method::GET, "/p")
                .offer(charge("first", json!({ "amount": "1" })))
                .description("first"),
            PaidRoute::new(http::Method::GET, "/p")
                .offer(charge("second", json!({ "amount": "2" })))
                .description("second"),
        ];
        let doc = document(&ServiceInfo::default(), &routes);
        assert_eq!(doc["paths"]["/p"]["get"]["summary"], "first");
        assert_eq!(offers_of(&doc, "/p", "get")[0]["method"], "first");
    }

    #[test]
    fn a_full_document_validates() {
        let info = ServiceInfo {
            title: "Example AI API".into(),
            version: "1.2.3".into(),
            categories: vec!["compute".into(), "developer-tools".into()],
            homepage: Some("https://example.com/".into()),
            api_reference: Some("https://example.com/ref".into()),
            llms: Some("https://example.com/llms.txt".into()),
        };
        let mut routes = chat_routes();
        routes.extend([
            PaidRoute::new(http::Method::POST, "/v1/embeddings")
                .offer(charge("tempo", json!({ "currency": "0x20c0" })))
                .description("Embeddings; price varies"),
            PaidRoute::new(http::Method::DELETE, "/v1/files/x").offer(charge(
                "stripe",
                json!({ "amount": "0", "currency": "usd" }),
            )),
        ]);
        let doc = document(&info, &routes);
        assert_eq!(discovery_errors(&doc), Vec::<String>::new());
        // Serialised and read back, it is the same document.
        let text = serde_json::to_vec(&doc).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&text).unwrap(), doc);
    }

    #[test]
    fn the_checker_catches_violations() {
        let route =
            PaidRoute::new(http::Method::POST, "/p").offer(charge("m", json!({ "amount": "1" })));
        let good = document(&ServiceInfo::default(), &[route]);
        assert_eq!(discovery_errors(&good), Vec::<String>::new());

        let broken = |edit: &dyn Fn(&mut Value)| {
            let mut doc = good.clone();
            edit(&mut doc);
            discovery_errors(&doc)
        };
        const OP: &str = "/paths/~1p/post";
        type Edit = dyn Fn(&mut Value);
        let cases: [(&str, &Edit); 8] = [
            ("no 402", &|d| {
                d.pointer_mut(&format!("{OP}/responses"))
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("402");
            }),
            ("no x-payment-info", &|d| {
                d.pointer_mut(OP)
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("x-payment-info");
            }),
            ("no amount", &|d| {
                d.pointer_mut(&format!("{OP}/x-payment-info/offers/0"))
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("amount");
            }),
            ("no intent", &|d| {
                d.pointer_mut(&format!("{OP}/x-payment-info/offers/0"))
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("intent");
            }),
            ("extra member", &|d| {
                let offer = d
                    .pointer_mut(&format!("{OP}/x-payment-info/offers/0"))
                    .unwrap();
                offer
                    .as_object_mut()
                    .unwrap()
                    .insert("recipient".into(), json!("r"));
            }),
            ("bad amount", &|d| {
                *d.pointer_mut(&format!("{OP}/x-payment-info/offers/0/amount"))
                    .unwrap() = json!("01");
            }),
            ("empty offers", &|d| {
                *d.pointer_mut(&format!("{OP}/x-payment-info/offers"))
                    .unwrap() = json!([]);
            }),
            ("no requestBody", &|d| {
                d.pointer_mut(OP)
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("requestBody");
            }),
        ];
        for (name, edit) in cases {
            assert!(!broken(edit).is_empty(), "{name} went unnoticed");
        }
    }
}
