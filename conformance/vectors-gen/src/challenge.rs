//! `challenge-parse`, `challenge-format` and `challenge-id`.

use mpp_core::base64;
use mpp_core::binding::{BindingInput, ChallengeBinder, Secret};
use mpp_core::challenge::{Challenge, ChallengeBuilder};
use mpp_core::digest::ContentDigest;
use mpp_core::json::JsonObject;
use mpp_core::time::Timestamp;
use mpp_core::value::{Base64Json, Opaque};
use serde_json::{Value, json};

use super::values::{self, UNICODE};
use super::{Cases, Mark};
use crate::rng::Rng;

/// The secret of the hand-written cases (33 bytes).
pub(crate) const SECRET: &str = "minimum-32-byte-secret-for-tests!";

/// A generated challenge, and what a reader of it must find.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) id: String,
    pub(crate) realm: String,
    pub(crate) method: String,
    pub(crate) intent: String,
    /// The terms as built (what a format or id input holds).
    pub(crate) request: JsonObject,
    /// The text of the `request` parameter.
    pub(crate) request_wire: String,
    pub(crate) expires: Option<String>,
    pub(crate) digest: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) opaque: Option<String>,
    pub(crate) header: bool,
    /// The erratum or decision the model depends on, if any.
    pub(crate) decision: Option<&'static str>,
}

/// One departure from the plainest challenge, at most one per model, so that each
/// vector follows at most one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quirk {
    None,
    /// A method outside `1*LOWERALPHA` (E3).
    WideMethod,
    /// `request` with `=` padding (E4).
    PaddedRequest,
    /// Non-ASCII text in the header (E7).
    Unicode,
    /// A digest without colons (E8).
    BareDigest,
}

impl Quirk {
    pub(crate) fn random(rng: &mut Rng, padding: bool) -> Quirk {
        match rng.below(10) {
            0 => Quirk::WideMethod,
            1 if padding => Quirk::PaddedRequest,
            2 => Quirk::Unicode,
            3 => Quirk::BareDigest,
            _ => Quirk::None,
        }
    }
}

impl Model {
    pub(crate) fn random(rng: &mut Rng, quirk: Quirk) -> Model {
        let unicode = quirk == Quirk::Unicode;
        let realm = values::realm(rng, unicode);
        let method = values::method(rng, quirk == Quirk::WideMethod);
        let intent = values::intent(rng);
        let request = values::request(rng);
        let expires = rng.chance(85).then(|| values::random_timestamp(rng));
        let digest = (quirk == Quirk::BareDigest || rng.chance(25))
            .then(|| values::digest(rng, quirk == Quirk::BareDigest));
        let description = (unicode || rng.chance(40)).then(|| {
            let text = values::description(rng, unicode);
            if unicode {
                format!("{text} {}", rng.pick(&UNICODE))
            } else {
                text
            }
        });
        let opaque = rng.chance(20).then(|| values::opaque(rng));
        let header = rng.chance(20);
        let secret = Secret::new(rng.bytes(32)).unwrap_or_else(|e| unreachable!("{e}"));
        let mut model = Model::issue(
            &ChallengeBinder::new(secret),
            Parts {
                realm,
                method,
                intent,
                request,
                expires,
                digest,
                description,
                opaque,
                header,
            },
        );
        model.decision = match quirk {
            Quirk::None => None,
            Quirk::WideMethod => Some("E3"),
            Quirk::Unicode => Some("E7"),
            Quirk::BareDigest => Some("E8"),
            Quirk::PaddedRequest => {
                let pad = (4 - model.request_wire.len() % 4) % 4;
                model.request_wire.push_str(&"=".repeat(pad));
                (pad > 0).then_some("E4")
            }
        };
        model
    }

    /// Issues a challenge with these parts (its id bound with `binder`).
    pub(crate) fn issue(binder: &ChallengeBinder, p: Parts) -> Model {
        let challenge = p.challenge(binder);
        Model {
            id: challenge.id.to_string(),
            request_wire: challenge.request.as_str().to_owned(),
            realm: p.realm,
            method: p.method,
            intent: p.intent,
            request: p.request,
            expires: p.expires,
            digest: p.digest,
            description: p.description,
            opaque: p.opaque,
            header: p.header,
            decision: None,
        }
    }

    /// The challenge as mpp-core holds it (canonical `request`).
    pub(crate) fn challenge(&self) -> Challenge<'static> {
        let mut c = Parts {
            realm: self.realm.clone(),
            method: self.method.clone(),
            intent: self.intent.clone(),
            request: self.request.clone(),
            expires: self.expires.clone(),
            digest: self.digest.clone(),
            description: self.description.clone(),
            opaque: self.opaque.clone(),
            header: self.header,
        }
        .challenge(&ChallengeBinder::new(
            Secret::new(SECRET).unwrap_or_else(|e| unreachable!("{e}")),
        ));
        c.id = mpp_core::value::ChallengeId::from_string(self.id.clone())
            .unwrap_or_else(|e| unreachable!("{e}"));
        c
    }

    /// The ABI's challenge object: what `challenge.parse` returns and
    /// `challenge.format` takes. `request` is `terms` (the built object, or what a
    /// reader finds).
    pub(crate) fn abi(&self, with_description: bool, terms: &JsonObject) -> Value {
        let mut out = JsonObject::new();
        out.insert("id".into(), self.id.clone().into());
        out.insert("realm".into(), self.realm.clone().into());
        out.insert("method".into(), self.method.clone().into());
        out.insert("intent".into(), self.intent.clone().into());
        out.insert("request".into(), Value::Object(terms.clone()));
        let optional = [
            ("expires", &self.expires),
            ("digest", &self.digest),
            ("opaque", &self.opaque),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                out.insert(name.into(), v.clone().into());
            }
        }
        if let (true, Some(d)) = (with_description, &self.description) {
            out.insert("description".into(), d.clone().into());
        }
        if self.header {
            out.insert("header".into(), "Payment-Authorization".into());
        }
        Value::Object(out)
    }

    /// What `challenge.parse` must return.
    pub(crate) fn parsed(&self) -> Value {
        self.abi(true, &values::canonical_reading(&self.request))
    }

    /// The parameters on the wire, in the order this implementation writes them.
    pub(crate) fn params(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("id".to_owned(), self.id.clone()),
            ("realm".into(), self.realm.clone()),
            ("method".into(), self.method.clone()),
            ("intent".into(), self.intent.clone()),
            ("request".into(), self.request_wire.clone()),
        ];
        let optional = [
            ("expires", &self.expires),
            ("digest", &self.digest),
            ("description", &self.description),
            ("opaque", &self.opaque),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                out.push((name.into(), v.clone()));
            }
        }
        if self.header {
            out.push(("header".into(), "Payment-Authorization".into()));
        }
        out
    }
}

/// What a challenge is built from.
#[derive(Debug, Clone)]
pub(crate) struct Parts {
    pub(crate) realm: String,
    pub(crate) method: String,
    pub(crate) intent: String,
    pub(crate) request: JsonObject,
    pub(crate) expires: Option<String>,
    pub(crate) digest: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) opaque: Option<String>,
    pub(crate) header: bool,
}

impl Parts {
    fn challenge(&self, binder: &ChallengeBinder) -> Challenge<'static> {
        let invalid = |e: &dyn std::fmt::Display| -> ! { unreachable!("generated value: {e}") };
        let mut b = ChallengeBuilder::new(&self.realm, &self.method, &self.intent, &self.request)
            .unwrap_or_else(|e| invalid(&e));
        if let Some(t) = &self.expires {
            b = b.expires(Timestamp::new(t).unwrap_or_else(|e| invalid(&e)));
        }
        if let Some(d) = &self.digest {
            b = b.digest(ContentDigest::new(d).unwrap_or_else(|e| invalid(&e)));
        }
        if let Some(d) = &self.description {
            b = b.description(d.as_str());
        }
        if let Some(o) = &self.opaque {
            b = b.opaque(Opaque::new(o).unwrap_or_else(|e| invalid(&e)));
        }
        if self.header {
            b = b.payment_authorization();
        }
        b.issue(binder).unwrap_or_else(|e| invalid(&e)).into_owned()
    }
}

/// The hand-written cases' challenge: a charge of 1000 usd, 5 minutes from
/// 2026-01-29T12:00:00Z.
pub(crate) fn base_model() -> Model {
    let mut request = JsonObject::new();
    request.insert("amount".into(), "1000".into());
    request.insert("currency".into(), "usd".into());
    request.insert("recipient".into(), "acct_123".into());
    Model::issue(
        &ChallengeBinder::new(Secret::new(SECRET).unwrap_or_else(|e| unreachable!("{e}"))),
        Parts {
            realm: "api.example.com".into(),
            method: "tempo".into(),
            intent: "charge".into(),
            request,
            expires: Some("2026-01-29T12:05:00Z".into()),
            digest: None,
            description: None,
            opaque: None,
            header: false,
        },
    )
}

/// A short challenge for the hand-written error cases (its id is not an HMAC: a
/// parser does not check ids).
pub(crate) fn small_model() -> Model {
    let mut request = JsonObject::new();
    request.insert("amount".into(), "1000".into());
    request.insert("currency".into(), "usd".into());
    Model {
        id: "kM9xPqWvT2nJ".into(),
        realm: "api.example.com".into(),
        method: "tempo".into(),
        intent: "charge".into(),
        request_wire: Base64Json::encode(&request).as_str().to_owned(),
        request,
        expires: Some("2026-01-29T12:05:00Z".into()),
        digest: None,
        description: None,
        opaque: None,
        header: false,
        decision: None,
    }
}

/// `Payment name="value", …`, every value quoted with only `"` and `\` escaped.
pub(crate) fn plain_header(params: &[(String, String)]) -> String {
    let list: Vec<String> = params
        .iter()
        .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("Payment {}", list.join(", "))
}

fn with(params: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out = params.to_vec();
    match out.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_owned(),
        None => out.push((name.to_owned(), value.to_owned())),
    }
    out
}

fn without(params: &[(String, String)], name: &str) -> Vec<(String, String)> {
    params.iter().filter(|(n, _)| n != name).cloned().collect()
}

/// Base64url of `text` (for hand-written request values).
fn b64(text: &[u8]) -> String {
    base64::encode(text)
}

/// Requirement ids a generated layout exercises.
#[derive(Debug, Default)]
struct Layout {
    reqs: Vec<&'static str>,
}

impl Layout {
    fn note(&mut self, id: &'static str) {
        if !self.reqs.contains(&id) {
            self.reqs.push(id);
        }
    }
}

fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A quoted-string for `value`: `"` and `\` escaped, sometimes other characters as
/// quoted-pairs, non-ASCII raw or (when `escapes`) as `\uXXXX`.
fn quoted(rng: &mut Rng, value: &str, escapes: bool, layout: &mut Layout) -> String {
    let mut out = String::from('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
                layout.note("core.grammar.param.quoted-string");
            }
            c if !c.is_ascii() && escapes && rng.chance(50) => {
                let upper = rng.chance(30);
                for unit in c.encode_utf16(&mut [0; 2]) {
                    if upper {
                        out.push_str(&format!("\\u{unit:04X}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            // `\u` could read as an escape: never written as a quoted-pair.
            c if c.is_ascii_graphic() && c != 'u' && rng.chance(5) => {
                out.push('\\');
                out.push(c);
                layout.note("core.grammar.param.quoted-string");
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn name_case(rng: &mut Rng, name: &str, layout: &mut Layout) -> String {
    let out = match rng.below(12) {
        0 => name.to_ascii_uppercase(),
        1 => {
            let mut chars = name.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
        2 => name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
        _ => name.to_owned(),
    };
    if out != name {
        layout.note("core.grammar.param.name-case");
    }
    out
}

const EXTENSIONS: [&str; 8] = [
    "nonce",
    "trace",
    "x-request-id",
    "region",
    "version",
    "ext",
    "Foo",
    "X-Custom",
];

/// One Payment challenge in a random layout.
fn render(
    rng: &mut Rng,
    params: &[(String, String)],
    escapes: bool,
    layout: &mut Layout,
) -> String {
    let mut params = params.to_vec();
    if rng.chance(30) {
        for _ in 0..rng.range(1, 2) {
            let name = rng.pick(&EXTENSIONS);
            if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                continue;
            }
            let value = match rng.below(3) {
                0 => values::word(rng, b"abcdef0123456789", 8, 8),
                1 => "Payment id=\"not-a-challenge\"".to_owned(),
                _ => values::text(rng, 0, 10, "\"\\,=;", false),
            };
            params.push((name.to_owned(), value));
            layout.note("core.challenge.unknown-params");
            layout.note("core.versioning.ignore-unknown");
        }
    }
    if rng.chance(40) {
        rng.shuffle(&mut params);
    }
    let scheme = match rng.below(10) {
        0 => "payment",
        1 => "PAYMENT",
        2 => "pAyMeNt",
        _ => "Payment",
    };
    if scheme != "Payment" {
        layout.note("core.grammar.scheme.case-insensitive");
    }
    let spaces = if rng.chance(80) {
        1
    } else {
        rng.range(2, 3) as usize
    };
    if spaces > 1 {
        layout.note("core.grammar.scheme.space");
    }
    let mut out = format!("{scheme}{}", " ".repeat(spaces));
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            let sep = rng.pick(&[", ", ", ", ", ", ",", " ,", " , ", ",\t", ", , "]);
            if sep != ", " {
                layout.note("core.grammar.param.whitespace");
            }
            out.push_str(sep);
        }
        out.push_str(&name_case(rng, name, layout));
        let equals = if rng.chance(90) {
            "="
        } else {
            layout.note("core.grammar.param.whitespace");
            rng.pick(&[" =", "= ", " = ", "\t=\t"])
        };
        out.push_str(equals);
        if is_token(value) && rng.chance(40) {
            out.push_str(value);
            layout.note("core.grammar.param.value-forms");
        } else {
            out.push_str(&quoted(rng, value, escapes, layout));
        }
    }
    out
}

/// Challenges of other schemes, as servers send them beside Payment.
const OTHERS: [&str; 9] = [
    "Bearer realm=\"api\", error=\"invalid_token\"",
    "Bearer error_description=\"Payment id=\\\"x\\\", realm=\\\"y\\\" is not a challenge\"",
    "Basic realm=\"simple\", charset=\"UTF-8\"",
    "Basic dG9rZW4=",
    "Digest realm=\"files\", qop=\"auth\", nonce=\"dcd98b7102dd\"",
    "Negotiate",
    "NTLM",
    "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\"",
    "Negotiate YIIBhQYGKwYBBQUCoIIBeTCCAXWgMDAu==",
];

fn join(rng: &mut Rng, parts: &[String], layout: &mut Layout) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            let sep = rng.pick(&[", ", ", ", ",", " , ", ", , "]);
            out.push_str(sep);
        }
        out.push_str(part);
    }
    if parts.len() > 1 {
        layout.note("core.grammar.challenge.list");
    }
    out
}

/// Other schemes to put before or after: up to two.
fn others(rng: &mut Rng) -> Vec<String> {
    (0..rng.below(2))
        .map(|_| rng.pick(&OTHERS).to_owned())
        .collect()
}

/// Ways to break one Payment challenge of a list without breaking the lexing of the
/// ones after it: the changed params and the error each gives.
fn breakage(
    rng: &mut Rng,
    params: &[(String, String)],
) -> (Vec<(String, String)>, Value, &'static str) {
    let error = |class: &str, parameter: Option<&str>, field: Option<&str>| {
        let mut e = json!({ "type": "parse_error", "class": class });
        if let Some(p) = parameter {
            e["parameter"] = p.into();
        }
        if let Some(f) = field {
            e["field"] = f.into();
        }
        json!({ "ok": false, "error": e })
    };
    match rng.below(8) {
        0 => {
            let p = rng.pick(&["id", "realm", "method", "intent", "request"]);
            (
                without(params, p),
                error("missing-parameter", Some(p), None),
                "core.challenge.required-params",
            )
        }
        1 => (
            with(params, "id", ""),
            error("empty-parameter", Some("id"), Some("id")),
            "core.challenge.id.reject-empty",
        ),
        2 => (
            with(params, "method", "Tempo"),
            error("invalid-method", None, Some("method")),
            "core.challenge.method.case-sensitive",
        ),
        3 => {
            let p = rng.pick(&["id", "realm", "method"]);
            let mut out = params.to_vec();
            let at = rng.below(out.len() + 1);
            out.insert(at, (p.to_ascii_uppercase(), "again".into()));
            (
                out,
                error("duplicate-parameter", Some(p), None),
                "core.grammar.param.unique",
            )
        }
        4 => (
            with(params, "request", "W10"),
            error("expected-json-object", None, Some("request")),
            "core.challenge.request.json",
        ),
        5 => (
            with(params, "expires", "2026-02-30T00:00:00Z"),
            error("invalid-timestamp", None, Some("expires")),
            "core.grammar.expires.rfc3339",
        ),
        6 => (
            with(params, "header", "Authorization"),
            error("unsupported-header", None, Some("header")),
            "core.challenge.header.unrecognised",
        ),
        _ => (
            with(params, "realm", "api|example.com"),
            error("pipe-in-bound-field", Some("realm"), Some("realm")),
            "core.challenge.required-params",
        ),
    }
}

/// `challenge-parse`.
pub(crate) fn parse(cases: &mut Cases, rng: &mut Rng) {
    generated_parse(cases, rng);
    generated_parse_all(cases, rng);
    hand_parse(cases);
    hand_parse_errors(cases);
}

fn generated_parse(cases: &mut Cases, rng: &mut Rng) {
    for n in 1..=16 {
        let model = {
            let quirk = Quirk::random(rng, true);
            Model::random(rng, quirk)
        };
        let mut layout = Layout::default();
        let escapes = model.decision == Some("E7");
        let mut parts = others(rng);
        parts.push(render(rng, &model.params(), escapes, &mut layout));
        if rng.chance(25) {
            let second = Model::random(rng, Quirk::None);
            parts.push(render(rng, &second.params(), false, &mut layout));
        }
        parts.extend(others(rng));
        let header = join(rng, &parts, &mut layout);
        let mut reqs = vec!["core.challenge.required-params"];
        reqs.extend(layout.reqs.iter().copied());
        let what = match model.decision {
            Some("E3") => " (a method with digits or punctuation)",
            Some("E4") => " (request with = padding)",
            Some("E7") => " (non-ASCII text, raw UTF-8 or \\u escapes)",
            Some("E8") => " (a digest without colons)",
            _ => "",
        };
        let description = format!(
            "generated challenge {n} in a random layout{what}: the first Payment challenge is read"
        );
        let v = cases.ok(
            &format!("generated.{n:03}"),
            &description,
            &reqs,
            "challenge.parse",
            json!({ "header": header }),
            model.parsed(),
        );
        if let Some(d) = model.decision {
            v.decision(d);
        }
    }
}

fn generated_parse_all(cases: &mut Cases, rng: &mut Rng) {
    for n in 1..=6 {
        let mut layout = Layout::default();
        let mut reqs = vec!["core.grammar.challenge.list"];
        let mut parts = others(rng);
        let mut expected = Vec::new();
        let mut broken = 0;
        for _ in 0..rng.range(1, 3) {
            let model = Model::random(rng, Quirk::None);
            if rng.chance(40) {
                let (params, error, req) = breakage(rng, &model.params());
                parts.push(render(rng, &params, false, &mut layout));
                expected.push(error);
                reqs.push(req);
                broken += 1;
            } else {
                parts.push(render(rng, &model.params(), false, &mut layout));
                expected.push(json!({ "ok": true, "value": model.parsed() }));
            }
            parts.extend(others(rng));
        }
        let header = join(rng, &parts, &mut layout);
        reqs.extend(layout.reqs.iter().copied());
        let description = format!(
            "generated list {n}: {} Payment challenge(s), {broken} malformed, among other schemes; each is read on its own",
            expected.len()
        );
        let v = cases.ok(
            &format!("all.generated.{n:03}"),
            &description,
            &reqs,
            "challenge.parse-all",
            json!({ "header": header }),
            json!({ "challenges": expected }),
        );
        if broken > 0 {
            v.decision("D4");
        }
    }
}

fn hand_parse(cases: &mut Cases) {
    let base = base_model();
    let params = base.params();
    let header = plain_header(&params);
    let parsed = base.parsed();
    let op = "challenge.parse";

    cases.ok(
        "valid.base",
        "the plain form: Payment, one space, quoted parameters in the usual order",
        &[
            "core.challenge.required-params",
            "core.grammar.param.quoted-string",
        ],
        op,
        json!({ "header": header }),
        parsed.clone(),
    );
    let tokens: Vec<String> = params
        .iter()
        .map(|(n, v)| {
            if is_token(v) {
                format!("{n}={v}")
            } else {
                format!("{n}=\"{v}\"")
            }
        })
        .collect();
    cases.ok(
        "valid.token-values",
        "every value that is a token written without quotes",
        &["core.grammar.param.value-forms"],
        op,
        json!({ "header": format!("Payment {}", tokens.join(", ")) }),
        parsed.clone(),
    );
    cases.ok(
        "valid.case-insensitive-names",
        "scheme and parameter names in upper case; values are kept as sent",
        &[
            "core.grammar.scheme.case-insensitive",
            "core.grammar.param.name-case",
        ],
        op,
        json!({ "header": header.replacen("Payment", "PAYMENT", 1)
            .replace("id=", "ID=").replace("realm=", "Realm=").replace("request=", "REQUEST=") }),
        parsed.clone(),
    );
    cases.ok(
        "valid.whitespace",
        "several spaces after the scheme, whitespace around = and around commas, empty list elements",
        &["core.grammar.scheme.space", "core.grammar.param.whitespace"],
        op,
        json!({ "header": header.replacen("Payment ", "Payment   ", 1)
            .replace("\", ", "\" ,\t , ").replacen("realm=", "realm = ", 1).replacen("method=", "method=\t", 1) }),
        parsed.clone(),
    );
    cases.ok(
        "valid.reordered",
        "parameters in another order",
        &["core.challenge.required-params"],
        op,
        json!({ "header": plain_header(&params.iter().rev().cloned().collect::<Vec<_>>()) }),
        parsed.clone(),
    );
    cases.ok(
        "valid.unknown-parameters",
        "unknown parameters, one of them upper case, are ignored",
        &[
            "core.challenge.unknown-params",
            "core.versioning.ignore-unknown",
        ],
        op,
        json!({ "header": format!("{header}, region=\"eu\", X-Trace=abc123, future=\"a, b\"") }),
        parsed.clone(),
    );
    cases.ok(
        "valid.after-other-schemes",
        "after a Bearer challenge whose quoted text contains a Payment challenge, and a Basic token68",
        &["core.grammar.challenge.list"],
        op,
        json!({ "header": format!("Bearer realm=\"x\", error_description=\"use Payment id=\\\"abc\\\" instead\", Basic dG9rZW4=, {header}") }),
        parsed.clone(),
    )
    .decision("D4");
    cases
        .ok(
            "valid.before-bare-scheme",
            "followed by a scheme without parameters (NTLM), which starts the next challenge",
            &["core.grammar.challenge.list"],
            op,
            json!({ "header": format!("{header}, NTLM") }),
            parsed.clone(),
        )
        .decision("D4");
    cases.ok(
        "valid.first-of-two",
        "of two Payment challenges, challenge.parse reads the first",
        &["core.grammar.challenge.list"],
        op,
        json!({ "header": format!("{header}, {}", plain_header(&with(&params, "method", "stripe"))) }),
        parsed.clone(),
    );
    cases.ok(
        "valid.quoted-pairs",
        "a quoted-pair stands for the character after the backslash",
        &["core.grammar.param.quoted-string"],
        op,
        json!({ "header": header.replacen("realm=\"api.example.com\"", r#"realm="\a\p\i.example.com""#, 1) }),
        parsed.clone(),
    );
    let mut described = base.clone();
    described.description = Some("Say \"hi\" \\ twice, then pay".into());
    cases.ok(
        "valid.description-escapes",
        "a description with escaped quotes and backslashes",
        &["core.grammar.param.quoted-string"],
        op,
        json!({ "header": plain_header(&described.params()) }),
        described.parsed(),
    );
    let mut emoji = base.clone();
    emoji.description = Some("Grinning 😀 costs 1 €".into());
    cases.ok(
        "valid.unicode-escapes",
        "\\uXXXX escapes, with a surrogate pair, stand for the character they encode",
        &["core.grammar.param.quoted-string"],
        op,
        json!({ "header": format!("{header}, description=\"Grinning \\ud83d\\ude00 costs 1 \\u20AC\"") }),
        emoji.parsed(),
    )
    .decision("E7");
    cases
        .ok(
            "valid.raw-utf8",
            "raw UTF-8 in a quoted value is read as UTF-8",
            &["core.grammar.param.quoted-string"],
            op,
            json!({ "header": format!("{header}, description=\"Grinning 😀 costs 1 €\"") }),
            emoji.parsed(),
        )
        .decision("E7");
    let mut empty_request = base.clone();
    empty_request.request = JsonObject::new();
    empty_request.request_wire = "e30".into();
    cases.ok(
        "valid.empty-request-object",
        "request may be an empty object (e30)",
        &["core.challenge.request.json"],
        op,
        json!({ "header": plain_header(&with(&params, "request", "e30")) }),
        empty_request.parsed(),
    );
    let unpadded = b64(br#"{"amount":"1000","currency":"usd","recipient":"acct_12"}"#);
    let padded = format!("{unpadded}{}", "=".repeat((4 - unpadded.len() % 4) % 4));
    assert_ne!(padded, unpadded);
    let mut padded_model = base.clone();
    padded_model
        .request
        .insert("recipient".into(), "acct_12".into());
    cases
        .ok(
            "valid.padded-request",
            "request with = padding is accepted on input",
            &["core.challenge.request.json"],
            op,
            json!({ "header": plain_header(&with(&params, "request", &padded)) }),
            padded_model.parsed(),
        )
        .decision("E4");
    let reordered = b64(br#"{ "recipient": "acct_123", "currency": "usd", "amount": "1000" }"#);
    cases.ok(
        "valid.non-canonical-request",
        "a request that is not in JCS form is read all the same",
        &["core.challenge.request.json"],
        op,
        json!({ "header": plain_header(&with(&params, "request", &reordered)) }),
        parsed.clone(),
    );
    for (name, intent, decision) in [
        ("valid.unregistered-intent", "authorize", "E9"),
        ("valid.intent-case-kept", "Charge", "E9"),
    ] {
        let mut m = base.clone();
        m.intent = intent.into();
        cases
            .ok(
                name,
                &format!("intent {intent:?} is read as sent, not checked against a registry"),
                &["core.grammar.intent.token"],
                op,
                json!({ "header": plain_header(&with(&params, "intent", intent)) }),
                m.parsed(),
            )
            .decision(decision);
    }
    let mut wide = base.clone();
    wide.method = "vendor:pay-v2".into();
    cases
        .ok(
            "valid.wide-method",
            "a method with digits, colon and hyphen after a first letter",
            &["core.challenge.method.case-sensitive"],
            op,
            json!({ "header": plain_header(&with(&params, "method", "vendor:pay-v2")) }),
            wide.parsed(),
        )
        .decision("E3");
    for (name, text, what) in [
        (
            "valid.expires-offset",
            "2026-01-29T17:35:00+05:30",
            "an offset",
        ),
        (
            "valid.expires-fraction",
            "2026-01-29T12:05:00.250Z",
            "a fraction",
        ),
        (
            "valid.expires-leap-second",
            "2026-12-31T23:59:60Z",
            "a leap second",
        ),
    ] {
        let mut m = base.clone();
        m.expires = Some(text.into());
        let v = cases.ok(
            name,
            &format!("expires with {what} is kept as sent"),
            &["core.grammar.expires.rfc3339"],
            op,
            json!({ "header": plain_header(&with(&params, "expires", text)) }),
            m.parsed(),
        );
        if what == "a leap second" {
            v.decision("E14");
        }
    }
    let mut with_header = base.clone();
    with_header.header = true;
    cases.ok(
        "valid.header-parameter",
        "header=\"Payment-Authorization\" selects that field",
        &["core.credential.field.payment-authorization"],
        op,
        json!({ "header": plain_header(&with_header.params()) }),
        with_header.parsed(),
    );
    let mut full = base.clone();
    full.digest = Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".into());
    full.opaque = Some(b64(br#"{"nonce":"n-1","route":"POST /paid"}"#));
    full.description = Some("One call".into());
    cases.ok(
        "valid.all-parameters",
        "every optional parameter present",
        &["core.challenge.required-params"],
        op,
        json!({ "header": plain_header(&full.params()) }),
        full.parsed(),
    );

    // parse-all
    let all = "challenge.parse-all";
    let broken = plain_header(&with(&params, "id", ""));
    let second = with(&params, "method", "stripe");
    let mut second_model = base.clone();
    second_model.method = "stripe".into();
    cases.ok(
        "all.malformed-then-valid",
        "a malformed Payment challenge does not hide the valid one after it",
        &["core.grammar.challenge.list", "core.challenge.id.reject-empty"],
        all,
        json!({ "header": format!("{broken}, {}", plain_header(&second)) }),
        json!({ "challenges": [
            { "ok": false, "error": { "type": "parse_error", "class": "empty-parameter", "parameter": "id", "field": "id" } },
            { "ok": true, "value": second_model.parsed() },
        ] }),
    )
    .decision("D4");
    cases
        .ok(
            "all.syntax-error-then-valid",
            "after a syntax error the next challenge is still read",
            &["core.grammar.challenge.list"],
            all,
            json!({ "header": format!("Payment id=\"a\" realm=\"b\", {header}") }),
            json!({ "challenges": [
            { "ok": false, "error": { "type": "parse_error", "class": "expected-comma" } },
            { "ok": true, "value": parsed.clone() },
        ] }),
        )
        .decision("D4");
    cases.ok(
        "all.none",
        "a value with only other schemes holds no Payment challenge",
        &["core.grammar.challenge.list"],
        all,
        json!({ "header": "Bearer realm=\"api\", Basic realm=\"x\"" }),
        json!({ "challenges": [] }),
    );
    cases.ok(
        "all.three",
        "three Payment challenges among other schemes, in order",
        &["core.grammar.challenge.list"],
        all,
        json!({ "header": format!("Basic realm=\"x\", {header}, Negotiate, {}, Bearer realm=\"y\", {header}", plain_header(&second)) }),
        json!({ "challenges": [
            { "ok": true, "value": parsed.clone() },
            { "ok": true, "value": second_model.parsed() },
            { "ok": true, "value": parsed.clone() },
        ] }),
    );
}

fn hand_parse_errors(cases: &mut Cases) {
    let base = small_model();
    let params = base.params();
    let header = plain_header(&params);
    let op = "challenge.parse";
    let perr = "parse_error";

    struct E {
        id: &'static str,
        description: &'static str,
        header: String,
        class: &'static str,
        parameter: Option<&'static str>,
        field: Option<&'static str>,
        reqs: &'static [&'static str],
        decision: Option<&'static str>,
    }
    let e = |id: &'static str,
             description: &'static str,
             header: String,
             class: &'static str,
             reqs: &'static [&'static str]| E {
        id,
        description,
        header,
        class,
        parameter: None,
        field: None,
        reqs,
        decision: None,
    };
    let request_error = |id: &'static str,
                         description: &'static str,
                         request: String,
                         class: &'static str,
                         reqs: &'static [&'static str]| E {
        field: Some("request"),
        ..e(
            id,
            description,
            plain_header(&with(&params, "request", &request)),
            class,
            reqs,
        )
    };
    let mut list = vec![
        e(
            "error.empty-value",
            "an empty field value holds no Payment challenge",
            String::new(),
            "no-payment-challenge",
            &["core.grammar.challenge.list"],
        ),
        e(
            "error.only-other-schemes",
            "only other schemes: no Payment challenge",
            "Bearer realm=\"api\", Basic dG9rZW4=".into(),
            "no-payment-challenge",
            &["core.grammar.challenge.list"],
        ),
        e(
            "error.no-parameters",
            "the scheme alone",
            "Payment".into(),
            "no-parameters",
            &["core.challenge.required-params"],
        ),
        e(
            "error.no-parameters-in-list",
            "the scheme alone, followed by another challenge",
            "Payment, Bearer realm=\"api\"".into(),
            "no-parameters",
            &["core.challenge.required-params"],
        ),
        e(
            "error.token68",
            "a token68 where parameters are required",
            "Payment eyJpZCI6ImFiYyJ9".into(),
            "token68-not-allowed",
            &["core.challenge.required-params"],
        ),
        e(
            "error.expected-scheme",
            "a list element that starts with a quoted-string",
            format!("\"Payment\" {}", &header["Payment ".len()..]),
            "expected-scheme",
            &[],
        ),
        E {
            decision: Some("E12"),
            ..e(
                "error.tab-after-scheme",
                "a tab instead of a space after the scheme",
                header.replacen("Payment ", "Payment\t", 1),
                "expected-space",
                &["core.grammar.scheme.space"],
            )
        },
        e(
            "error.expected-parameter-name",
            "an equals sign where a parameter name should be",
            header.replacen(", realm=", ", =\"orphan\", realm=", 1),
            "expected-parameter-name",
            &[],
        ),
        e(
            "error.expected-equals",
            "a parameter name followed by a value without =",
            header.replacen("id=", "id ", 1),
            "expected-equals",
            &[],
        ),
        E {
            decision: Some("E12"),
            ..e(
                "error.expected-value",
                "= followed by nothing: an empty value must be written \"\"",
                header.replacen(", realm=", ", trace=, realm=", 1),
                "expected-value",
                &["core.grammar.param.value-forms"],
            )
        },
        E {
            decision: Some("D4"),
            ..e(
                "error.missing-comma",
                "two parameters without a comma between them",
                header.replacen("\", realm=", "\" realm=", 1),
                "expected-comma",
                &[],
            )
        },
        e(
            "error.parameter-outside-challenge",
            "a parameter right after the scheme's =",
            "Payment =abc".into(),
            "parameter-outside-challenge",
            &[],
        ),
        E {
            decision: Some("D4"),
            ..e(
                "error.unterminated-quoted-string",
                "a quoted-string that is never closed",
                format!("{header}, description=\"never closed"),
                "unterminated-quoted-string",
                &["core.grammar.param.quoted-string"],
            )
        },
        E {
            decision: Some("E5"),
            ..e(
                "error.unterminated-extension",
                "an unclosed quoted extension parameter followed by backslashes",
                format!("{header}, ext=\"abc{}", "\\".repeat(200)),
                "unterminated-quoted-string",
                &["core.grammar.param.quoted-string"],
            )
        },
        e(
            "error.invalid-quoted-pair",
            "a backslash before DEL",
            format!("{header}, description=\"bad \\\u{7f} pair\""),
            "invalid-quoted-pair",
            &["core.grammar.param.quoted-string"],
        ),
        E {
            decision: Some("D4"),
            ..e(
                "error.raw-control-character",
                "a raw control character in a quoted value",
                format!("{header}, description=\"a\u{1}b\""),
                "control-character",
                &[],
            )
        },
        E {
            decision: Some("E7"),
            field: Some("description"),
            ..e(
                "error.escaped-control-character",
                "a line feed written as \\u000a",
                format!("{header}, description=\"line\\u000abreak\""),
                "control-character",
                &[],
            )
        },
        E {
            decision: Some("E7"),
            field: Some("description"),
            ..e(
                "error.lone-surrogate",
                "a \\u escape of an unpaired surrogate",
                format!("{header}, description=\"half \\ud83d pair\""),
                "invalid-unicode-escape",
                &[],
            )
        },
        E {
            parameter: Some("id"),
            ..e(
                "error.duplicate-id",
                "id twice, names differing in case",
                format!("{header}, ID=\"other\""),
                "duplicate-parameter",
                &["core.grammar.param.unique"],
            )
        },
        E {
            parameter: Some("realm"),
            ..e(
                "error.duplicate-same-value",
                "realm twice with the same value",
                format!("{header}, realm=\"api.example.com\""),
                "duplicate-parameter",
                &["core.grammar.param.unique"],
            )
        },
        e(
            "error.duplicate-extension",
            "an unknown parameter twice",
            format!("{header}, ext=\"1\", Ext=\"2\""),
            "duplicate-parameter",
            &["core.grammar.param.unique"],
        ),
        E {
            decision: Some("D11"),
            ..e(
                "error.too-many-parameters",
                "33 unknown parameters, one more than this implementation keeps",
                format!(
                    "{header}, {}",
                    (0..33)
                        .map(|i| format!("x{i}=\"{i}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "too-many-parameters",
                &[],
            )
        },
        E {
            parameter: Some("id"),
            field: Some("id"),
            ..e(
                "error.empty-id",
                "id=\"\"",
                plain_header(&with(&params, "id", "")),
                "empty-parameter",
                &["core.challenge.id.reject-empty"],
            )
        },
        E {
            parameter: Some("realm"),
            field: Some("realm"),
            ..e(
                "error.empty-realm",
                "realm=\"\"",
                plain_header(&with(&params, "realm", "")),
                "empty-parameter",
                &["core.challenge.required-params"],
            )
        },
        E {
            parameter: Some("method"),
            field: Some("method"),
            ..e(
                "error.empty-method",
                "method=\"\"",
                plain_header(&with(&params, "method", "")),
                "empty-parameter",
                &["core.challenge.required-params"],
            )
        },
        E {
            parameter: Some("intent"),
            field: Some("intent"),
            ..e(
                "error.empty-intent",
                "intent=\"\"",
                plain_header(&with(&params, "intent", "")),
                "empty-parameter",
                &["core.challenge.required-params"],
            )
        },
        E {
            parameter: Some("request"),
            field: Some("request"),
            ..e(
                "error.empty-request",
                "request=\"\"",
                plain_header(&with(&params, "request", "")),
                "empty-parameter",
                &[
                    "core.challenge.required-params",
                    "core.challenge.request.json",
                ],
            )
        },
        E {
            field: Some("method"),
            ..e(
                "error.uppercase-method",
                "method=\"Tempo\": methods are lower case, compared exactly",
                plain_header(&with(&params, "method", "Tempo")),
                "invalid-method",
                &["core.challenge.method.case-sensitive"],
            )
        },
        E {
            field: Some("method"),
            decision: Some("E3"),
            ..e(
                "error.method-digit-first",
                "a method that starts with a digit",
                plain_header(&with(&params, "method", "1tempo")),
                "invalid-method",
                &["core.challenge.method.case-sensitive"],
            )
        },
        E {
            field: Some("intent"),
            ..e(
                "error.intent-space",
                "an intent with a space",
                plain_header(&with(&params, "intent", "char ge")),
                "invalid-intent",
                &["core.grammar.intent.token"],
            )
        },
        E {
            parameter: Some("realm"),
            field: Some("realm"),
            decision: Some("D2"),
            ..e(
                "error.pipe-in-realm",
                "a realm with |, the separator of the id's HMAC input",
                plain_header(&with(&params, "realm", "api|example.com")),
                "pipe-in-bound-field",
                &["core.binding.hmac.recipe"],
            )
        },
        E {
            field: Some("realm"),
            decision: Some("E7"),
            ..e(
                "error.control-in-realm",
                "a realm with an escaped NUL",
                header.replacen("api.example.com", "api\\u0000example.com", 1),
                "control-character",
                &[],
            )
        },
        E {
            field: Some("header"),
            ..e(
                "error.header-authorization",
                "header=\"Authorization\": only Payment-Authorization may be named",
                plain_header(&with(&params, "header", "Authorization")),
                "unsupported-header",
                &["core.challenge.header.unrecognised"],
            )
        },
        E {
            field: Some("expires"),
            ..e(
                "error.expires-month-13",
                "expires in month 13",
                plain_header(&with(&params, "expires", "2026-13-01T00:00:00Z")),
                "invalid-timestamp",
                &["core.grammar.expires.rfc3339"],
            )
        },
        E {
            field: Some("expires"),
            ..e(
                "error.expires-space",
                "expires with a space instead of T",
                plain_header(&with(&params, "expires", "2026-01-29 12:05:00Z")),
                "invalid-timestamp",
                &["core.grammar.expires.rfc3339"],
            )
        },
        E {
            field: Some("expires"),
            ..e(
                "error.expires-no-offset",
                "expires without Z or an offset",
                plain_header(&with(&params, "expires", "2026-01-29T12:05:00")),
                "invalid-timestamp",
                &["core.grammar.expires.rfc3339"],
            )
        },
        E {
            field: Some("expires"),
            ..e(
                "error.expires-colonless-offset",
                "expires with +0000 instead of +00:00",
                plain_header(&with(&params, "expires", "2026-01-29T12:05:00+0000")),
                "invalid-timestamp",
                &["core.grammar.expires.rfc3339"],
            )
        },
        E {
            field: Some("expires"),
            ..e(
                "error.expires-unix",
                "expires as Unix seconds",
                plain_header(&with(&params, "expires", "1769688300")),
                "invalid-timestamp",
                &["core.grammar.expires.rfc3339"],
            )
        },
        E {
            field: Some("digest"),
            ..e(
                "error.digest-short",
                "a digest of the wrong length",
                plain_header(&with(&params, "digest", "sha-256=:AAAA:")),
                "invalid-digest",
                &[],
            )
        },
        E {
            field: Some("digest"),
            decision: Some("E8"),
            ..e(
                "error.digest-md5",
                "a digest with a deprecated algorithm",
                plain_header(&with(&params, "digest", "md5=:HUXZLQLMuI/KZ5KDcJPcOA==:")),
                "unsupported-digest-algorithm",
                &[],
            )
        },
        E {
            field: Some("opaque"),
            ..e(
                "error.opaque-not-strings",
                "opaque whose member is a number",
                plain_header(&with(&params, "opaque", &b64(br#"{"n":1}"#))),
                "expected-string-map",
                &["core.challenge.opaque.string-map"],
            )
        },
        E {
            field: Some("opaque"),
            decision: Some("D4"),
            ..e(
                "error.opaque-raw-text",
                "opaque that is not base64url JSON",
                plain_header(&with(&params, "opaque", "trace-123")),
                "non-canonical-base64",
                &["core.challenge.opaque.string-map"],
            )
        },
        request_error(
            "error.request-bad-character",
            "request with characters outside base64url",
            "not-valid!!!".into(),
            "invalid-base64",
            &["core.challenge.request.json"],
        ),
        E {
            decision: Some("E4"),
            ..request_error(
                "error.request-standard-alphabet",
                "request in the standard base64 alphabet (+ and /)",
                b64(br#"{"amount":"1000","memo":"???>>>"}"#)
                    .replace('-', "+")
                    .replace('_', "/"),
                "invalid-base64",
                &["core.challenge.request.json"],
            )
        },
        E {
            decision: Some("E4"),
            ..request_error(
                "error.request-trailing-bits",
                "request whose last character has non-zero unused bits",
                "e31".into(),
                "non-canonical-base64",
                &["core.challenge.request.json"],
            )
        },
        request_error(
            "error.request-length",
            "request of an impossible base64 length",
            "e30xe".into(),
            "non-canonical-base64",
            &["core.challenge.request.json"],
        ),
        request_error(
            "error.request-not-utf8",
            "request that decodes to bytes that are not UTF-8",
            b64(b"{\"a\":\"\xff\"}"),
            "invalid-utf8",
            &["core.challenge.request.json"],
        ),
        request_error(
            "error.request-not-json",
            "request that decodes to text that is not JSON (a trailing comma)",
            b64(br#"{"amount":"1000",}"#),
            "invalid-json",
            &["core.challenge.request.json"],
        ),
        request_error(
            "error.request-array",
            "request that decodes to an array",
            "W10".into(),
            "expected-json-object",
            &["core.challenge.request.json"],
        ),
        request_error(
            "error.request-string",
            "request that decodes to a string",
            b64(b"\"1000\""),
            "expected-json-object",
            &["core.challenge.request.json"],
        ),
        E {
            decision: Some("E11"),
            ..request_error(
                "error.request-duplicate-member",
                "request with the same member twice",
                b64(br#"{"amount":"1","amount":"1000"}"#),
                "duplicate-json-key",
                &["core.challenge.request.json"],
            )
        },
        request_error(
            "error.request-number-range",
            "request with a number beyond a double",
            b64(br#"{"amount":1e400}"#),
            "json-number-out-of-range",
            &["core.challenge.request.json"],
        ),
        E {
            decision: Some("D11"),
            ..request_error(
                "error.request-too-deep",
                "request nested 65 levels deep",
                b64(format!("{{\"a\":{}1{}}}", "[".repeat(64), "]".repeat(64)).as_bytes()),
                "json-too-deep",
                &["core.challenge.request.json"],
            )
        },
        E {
            decision: Some("D4"),
            parameter: Some("id"),
            field: Some("id"),
            ..e(
                "error.first-is-malformed",
                "challenge.parse reads only the first Payment challenge, even when it is malformed and a later one is valid",
                format!("{}, {header}", plain_header(&with(&params, "id", ""))),
                "empty-parameter",
                &["core.challenge.id.reject-empty"],
            )
        },
    ];
    for name in ["id", "realm", "method", "intent", "request"] {
        list.push(E {
            parameter: Some(name),
            ..e(
                match name {
                    "id" => "error.missing-id",
                    "realm" => "error.missing-realm",
                    "method" => "error.missing-method",
                    "intent" => "error.missing-intent",
                    _ => "error.missing-request",
                },
                match name {
                    "id" => "no id parameter",
                    "realm" => "no realm parameter",
                    "method" => "no method parameter",
                    "intent" => "no intent parameter",
                    _ => "no request parameter",
                },
                plain_header(&without(&params, name)),
                "missing-parameter",
                if name == "id" {
                    &[
                        "core.challenge.id.reject-empty",
                        "core.challenge.required-params",
                    ]
                } else {
                    &["core.challenge.required-params"]
                },
            )
        });
    }
    for case in list {
        let v = cases.error(
            case.id,
            case.description,
            case.reqs,
            op,
            json!({ "header": case.header }),
            perr,
            Some(case.class),
        );
        if let Some(p) = case.parameter {
            v.parameter(p);
        }
        if let Some(f) = case.field {
            v.field(f);
        }
        if let Some(d) = case.decision {
            v.decision(d);
        }
    }
}

/// `challenge-format`.
pub(crate) fn format(cases: &mut Cases, rng: &mut Rng) {
    let op = "challenge.format";
    let reqs = [
        "core.grammar.param.no-bws",
        "core.challenge.request.jcs",
        "core.challenge.request.no-padding",
    ];
    for n in 1..=8 {
        let model = {
            let quirk = Quirk::random(rng, false);
            Model::random(rng, quirk)
        };
        let header = model
            .challenge()
            .to_header()
            .unwrap_or_else(|e| unreachable!("{e}"));
        let decision = if model.decision == Some("E7") {
            "E7"
        } else {
            "D5"
        };
        let mut r = reqs.to_vec();
        if model.header {
            r.push("core.challenge.header.value");
        }
        cases
            .ok(
                &format!("generated.{n:03}"),
                &format!("generated challenge {n}: the exact header this implementation writes"),
                &r,
                op,
                model.abi(true, &model.request),
                json!({ "header": header }),
            )
            .decision(decision);
    }

    let base = base_model();
    let input = base.abi(true, &base.request);
    let expected = |m: &Model| json!({ "header": m.challenge().to_header().unwrap_or_else(|e| unreachable!("{e}")) });
    cases
        .ok(
            "valid.base",
            "the hand-written charge of 1000 usd",
            &reqs,
            op,
            input.clone(),
            expected(&base),
        )
        .decision("D5");
    for (name, text, decision, what) in [
        (
            "valid.description-escapes",
            "Say \"hi\" \\ twice",
            "D5",
            "quotes and backslashes escaped, nothing else",
        ),
        (
            "valid.description-latin1",
            "Café crème, 5 €",
            "E7",
            "every non-ASCII character as \\uXXXX, even those below U+0100",
        ),
        (
            "valid.description-astral",
            "Grinning 😀",
            "E7",
            "a character beyond U+FFFF as its UTF-16 surrogate pair",
        ),
        (
            "valid.description-tab",
            "tab\there",
            "D5",
            "a tab kept as is",
        ),
    ] {
        let mut m = base.clone();
        m.description = Some(text.into());
        cases
            .ok(
                name,
                &format!("description: {what}"),
                &reqs,
                op,
                m.abi(true, &m.request),
                expected(&m),
            )
            .decision(decision);
    }
    let mut full = base.clone();
    full.digest = Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".into());
    full.opaque = Some(b64(br#"{"nonce":"n-1","route":"POST /paid"}"#));
    full.description = Some("One call".into());
    full.header = true;
    cases
        .ok(
            "valid.all-parameters",
            "every optional parameter, in the order id, realm, method, intent, request, expires, digest, description, opaque, header",
            &["core.grammar.param.no-bws", "core.challenge.header.value"],
            op,
            full.abi(true, &full.request),
            expected(&full),
        )
        .decision("D5");
    let mut noncanonical = base.abi(true, &base.request);
    noncanonical["request"] = json!({ "recipient": "acct_123", "amount": "1000", "currency": "usd", "n": 1.0, "big": 1e21 });
    let mut m = base.clone();
    m.request = noncanonical["request"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    cases
        .ok(
            "valid.request-canonicalised",
            "request written in JCS form: members sorted, 1.0 as 1, 1e21 as 1e+21",
            &[
                "core.challenge.request.jcs",
                "core.challenge.request.no-padding",
            ],
            op,
            noncanonical,
            expected(&m),
        )
        .decision("D5");

    let ferr = "format_error";
    let edit = |name: &str, value: Value| {
        let mut i = input.clone();
        i[name] = value;
        i
    };
    #[allow(clippy::type_complexity)]
    let errors: Vec<(&str, &str, Value, &str, Option<&str>, &str, &[&str])> = vec![
        (
            "error.crlf-in-description",
            "a description with CR LF (header injection)",
            edit("description", "a\r\nX-Injected: 1".into()),
            "control-character",
            Some("description"),
            "description",
            &[],
        ),
        (
            "error.uppercase-method",
            "method Tempo",
            edit("method", "Tempo".into()),
            "invalid-method",
            None,
            "method",
            &["core.challenge.method.lowercase"],
        ),
        (
            "error.header-authorization",
            "header other than Payment-Authorization",
            edit("header", "Authorization".into()),
            "unsupported-header",
            None,
            "header",
            &["core.challenge.header.value"],
        ),
        (
            "error.pipe-in-realm",
            "a realm with |",
            edit("realm", "api|example.com".into()),
            "pipe-in-bound-field",
            Some("realm"),
            "realm",
            &["core.binding.hmac.recipe"],
        ),
        (
            "error.newline-in-realm",
            "a realm with a line feed",
            edit("realm", "api\nexample.com".into()),
            "control-character",
            None,
            "realm",
            &[],
        ),
        (
            "error.empty-id",
            "an empty id",
            edit("id", "".into()),
            "empty-parameter",
            Some("id"),
            "id",
            &["core.challenge.id.non-empty"],
        ),
        (
            "error.bad-expires",
            "expires that is not RFC 3339",
            edit("expires", "in five minutes".into()),
            "invalid-timestamp",
            None,
            "expires",
            &[],
        ),
        (
            "error.opaque-not-strings",
            "opaque whose member is a number",
            edit("opaque", b64(br#"{"n":1}"#).into()),
            "expected-string-map",
            None,
            "opaque",
            &["core.challenge.opaque.string-map"],
        ),
        (
            "error.request-not-object",
            "request given as base64url text instead of an object",
            edit("request", "e30".into()),
            "invalid-field",
            None,
            "request",
            &[],
        ),
    ];
    for (id, description, input, class, parameter, field, reqs) in errors {
        let v = cases.error(id, description, reqs, op, input, ferr, Some(class));
        v.field(field);
        if let Some(p) = parameter {
            v.parameter(p);
        }
        if id.ends_with("crlf-in-description") || id.ends_with("newline-in-realm") {
            v.decision("D5");
        }
    }
    let mut missing = input.clone();
    if let Some(o) = missing.as_object_mut() {
        o.remove("request");
    }
    cases
        .error(
            "error.request-missing",
            "no request",
            &[],
            op,
            missing,
            ferr,
            Some("missing-field"),
        )
        .field("request");
}

/// `challenge-id`.
pub(crate) fn id(cases: &mut Cases, rng: &mut Rng) {
    let op = "challenge.id";
    for n in 1..=12 {
        let unicode = rng.chance(20);
        let secret = values::text(rng, 32, 48, "!#$%&*+-./:;<=>?@^_~", unicode);
        let quirk = if rng.chance(15) {
            Quirk::BareDigest
        } else {
            Quirk::None
        };
        let model = Model::random(rng, quirk);
        let raw_opaque = model.opaque.is_none() && rng.chance(15);
        let opaque = if raw_opaque {
            Some(format!(
                "trace-{}",
                values::word(rng, b"abcdefghijklmnopqrstuvwxyz0123456789", 6, 6)
            ))
        } else {
            model.opaque.clone()
        };
        let request = Base64Json::encode(&model.request);
        let binder =
            ChallengeBinder::new(Secret::new(&secret).unwrap_or_else(|e| unreachable!("{e}")));
        let expected = binder
            .id_for(&BindingInput {
                realm: &model.realm,
                method: &model.method,
                intent: &model.intent,
                request: request.as_str(),
                expires: model.expires.as_deref(),
                digest: model.digest.as_deref(),
                header: model.header.then_some("Payment-Authorization"),
                opaque: opaque.as_deref(),
            })
            .unwrap_or_else(|e| unreachable!("{e}"));
        let mut input = json!({
            "secretKey": secret,
            "realm": model.realm,
            "method": model.method,
            "intent": model.intent,
            "request": Value::Object(model.request.clone()),
        });
        let mut reqs = vec![
            "core.binding.hmac.recipe",
            "core.binding.id.bound",
            "core.challenge.request.jcs",
        ];
        for (name, value) in [
            ("expires", &model.expires),
            ("digest", &model.digest),
            ("opaque", &opaque),
        ] {
            if let Some(v) = value {
                input[name] = v.clone().into();
            }
        }
        if opaque.is_some() {
            reqs.push("core.binding.opaque.bound");
        }
        if model.header {
            input["header"] = "Payment-Authorization".into();
            reqs.push("core.binding.header.bound");
            reqs.push("core.binding.hmac.header-slot");
        }
        let slots = ["expires", "digest", "opaque", "header"]
            .iter()
            .filter(|s| input.get(**s).is_some())
            .copied()
            .collect::<Vec<_>>();
        let description = if slots.is_empty() {
            format!("generated terms {n}, required slots only")
        } else {
            format!(
                "generated terms {n}, with {}{}",
                slots.join(", "),
                if raw_opaque {
                    " (opaque bound as raw text)"
                } else {
                    ""
                }
            )
        };
        let v = cases.ok(
            &format!("generated.{n:03}"),
            &description,
            &reqs,
            op,
            input,
            json!({ "id": expected.as_str() }),
        );
        v.decision(if model.header { "E1" } else { "D2" });
    }

    // Hand-written: one slot changed at a time.
    let base = base_model();
    let input = json!({
        "secretKey": SECRET,
        "realm": base.realm,
        "method": base.method,
        "intent": base.intent,
        "request": Value::Object(base.request.clone()),
        "expires": base.expires,
    });
    let id_of = |i: &Value| {
        let request = Base64Json::encode(i["request"].as_object().unwrap_or(&JsonObject::new()));
        let s = |k: &str| i.get(k).and_then(Value::as_str);
        let binder = ChallengeBinder::new(
            Secret::new(s("secretKey").unwrap_or(SECRET)).unwrap_or_else(|e| unreachable!("{e}")),
        );
        binder
            .id_for(&BindingInput {
                realm: s("realm").unwrap_or_default(),
                method: s("method").unwrap_or_default(),
                intent: s("intent").unwrap_or_default(),
                request: request.as_str(),
                expires: s("expires"),
                digest: s("digest"),
                header: s("header"),
                opaque: s("opaque"),
            })
            .unwrap_or_else(|e| unreachable!("{e}"))
            .as_str()
            .to_owned()
    };
    let reqs = ["core.binding.hmac.recipe", "core.binding.id.bound"];
    cases
        .ok(
            "hand.base",
            "the hand-written charge: realm|method|intent|request|expires||",
            &reqs,
            op,
            input.clone(),
            json!({ "id": id_of(&input) }),
        )
        .decision("D2");
    #[allow(clippy::type_complexity)]
    let variants: Vec<(&str, &str, &str, Value, &[&str], &str)> = vec![
        (
            "hand.no-expires",
            "without expires: the slot is empty, not dropped",
            "expires",
            Value::Null,
            &[],
            "D2",
        ),
        (
            "hand.other-amount",
            "amount 1001 instead of 1000",
            "request",
            json!({"amount": "1001", "currency": "usd", "recipient": "acct_123"}),
            &["charge.verify.amount"],
            "D2",
        ),
        (
            "hand.key-order",
            "the same terms in another member order give the same id (request is canonicalised)",
            "request",
            json!({"recipient": "acct_123", "currency": "usd", "amount": "1000"}),
            &["core.challenge.request.jcs"],
            "D2",
        ),
        (
            "hand.digest",
            "with a body digest",
            "digest",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".into(),
            &["core.digest.include"],
            "D2",
        ),
        (
            "hand.opaque",
            "with opaque, bound as its wire text",
            "opaque",
            b64(br#"{"nonce":"n-1","route":"GET /paid"}"#).into(),
            &["core.binding.opaque.bound"],
            "D2",
        ),
        (
            "hand.opaque-raw",
            "with opaque text that is not base64url JSON, bound as given",
            "opaque",
            "trace-123".into(),
            &["core.binding.opaque.bound"],
            "D2",
        ),
        (
            "hand.header",
            "with header=Payment-Authorization: a slot before opaque",
            "header",
            "Payment-Authorization".into(),
            &["core.binding.header.bound", "core.binding.hmac.header-slot"],
            "E1",
        ),
        (
            "hand.other-realm",
            "realm api.example.org",
            "realm",
            "api.example.org".into(),
            &[],
            "D2",
        ),
        (
            "hand.unicode",
            "non-ASCII in realm and request, bound as UTF-8 (no \\u escapes in the JCS form)",
            "request",
            json!({"amount": "1000", "currency": "usd", "memo": "café 😀 <&>"}),
            &["core.challenge.request.jcs"],
            "D2",
        ),
    ];
    for (id, description, slot, value, extra, decision) in variants {
        let mut i = input.clone();
        if value.is_null() {
            if let Some(o) = i.as_object_mut() {
                o.remove(slot);
            }
        } else {
            i[slot] = value;
        }
        if id == "hand.unicode" {
            i["realm"] = "bücher.example".into();
        }
        let mut r = reqs.to_vec();
        r.extend_from_slice(extra);
        let expected = id_of(&i);
        cases
            .ok(id, description, &r, op, i, json!({ "id": expected }))
            .decision(decision);
    }
    let mut both = input.clone();
    both["header"] = "Payment-Authorization".into();
    both["opaque"] = b64(br#"{"nonce":"n-1"}"#).into();
    let expected = id_of(&both);
    cases
        .ok("hand.header-and-opaque", "header and opaque: ...|digest|Payment-Authorization|opaque, as deployed SDKs order them", &["core.binding.hmac.header-slot", "core.binding.header.bound", "core.binding.opaque.bound"], op, both, json!({ "id": expected }))
        .decision("E1");

    let gerr = "generation_error";
    let edit = |name: &str, value: Value| {
        let mut i = input.clone();
        i[name] = value;
        i
    };
    #[allow(clippy::type_complexity)]
    let errors: Vec<(&str, &str, Value, &str, Option<&str>, Option<&str>, &str)> = vec![
        (
            "error.short-secret",
            "a 31-byte secret is refused",
            edit("secretKey", "a-secret-of-thirty-one-bytes!!!".into()),
            "weak-secret",
            None,
            Some("secretKey"),
            "D2",
        ),
        (
            "error.pipe-in-realm",
            "| in realm would let bytes move between slots",
            edit("realm", "api|example.com".into()),
            "pipe-in-bound-field",
            Some("realm"),
            Some("realm"),
            "D2",
        ),
        (
            "error.pipe-in-opaque",
            "| in opaque",
            edit("opaque", "a|b".into()),
            "pipe-in-bound-field",
            Some("opaque"),
            Some("opaque"),
            "D2",
        ),
        (
            "error.pipe-in-expires",
            "| in expires",
            edit("expires", "2026|01".into()),
            "pipe-in-bound-field",
            Some("expires"),
            Some("expires"),
            "D2",
        ),
        (
            "error.header-cookie",
            "header other than Payment-Authorization",
            edit("header", "Cookie".into()),
            "unsupported-header",
            None,
            Some("header"),
            "D2",
        ),
    ];
    for (id, description, input, class, parameter, field, decision) in errors {
        let v = cases.error(
            id,
            description,
            &["core.binding.hmac.recipe"],
            op,
            input,
            gerr,
            Some(class),
        );
        if let Some(p) = parameter {
            v.parameter(p);
        }
        if let Some(f) = field {
            v.field(f);
        }
        v.decision(decision);
    }
}
