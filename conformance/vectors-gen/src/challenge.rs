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
use super::{Case, Cases, Mark};
use crate::rng::Rng;

/// The secret of the hand-written cases (33 bytes).
pub(crate) const SECRET: &str = "minimum-32-byte-secret-for-tests!";

/// A generated challenge, and what a reader of it must find: the parts it was built
/// from (reached through `Deref`), with the id and the wire text they gave.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) id: String,
    pub(crate) parts: Parts,
    /// The text of the `request` parameter.
    pub(crate) request_wire: String,
    /// The erratum or decision the model depends on, if any.
    pub(crate) decision: Option<&'static str>,
}

impl std::ops::Deref for Model {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.parts
    }
}

impl std::ops::DerefMut for Model {
    fn deref_mut(&mut self) -> &mut Parts {
        &mut self.parts
    }
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
            parts: p,
            decision: None,
        }
    }

    /// The challenge as mpp-core holds it (canonical `request`).
    pub(crate) fn challenge(&self) -> Challenge<'static> {
        let mut c = self.parts.challenge(&ChallengeBinder::new(
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
        request_wire: Base64Json::encode(&request).as_str().to_owned(),
        parts: Parts {
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
        let v = cases.add(case! { id: format!("generated.{n:03}"), description, reqs, op: "challenge.parse", input: json!({ "header": header }), value: model.parsed() });
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
        let v = cases.add(case! { id: format!("all.generated.{n:03}"), description, reqs, op: "challenge.parse-all", input: json!({ "header": header }), value: json!({ "challenges": expected }) });
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

    cases.add(case! { id: "valid.base", description: "the plain form: Payment, one space, quoted parameters in the usual order", reqs: &["core.challenge.required-params", "core.grammar.param.quoted-string"], op, input: json!({ "header": header }), value: parsed.clone() });
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
    cases.add(case! { id: "valid.token-values", description: "every value that is a token written without quotes", reqs: &["core.grammar.param.value-forms"], op, input: json!({ "header": format!("Payment {}", tokens.join(", ")) }), value: parsed.clone() });
    cases.add(case! { id: "valid.case-insensitive-names", description: "scheme and parameter names in upper case; values are kept as sent", reqs: &["core.grammar.scheme.case-insensitive", "core.grammar.param.name-case"], op, input: json!({ "header": header.replacen("Payment", "PAYMENT", 1).replace("id=", "ID=").replace("realm=", "Realm=").replace("request=", "REQUEST=") }), value: parsed.clone() });
    cases.add(case! { id: "valid.whitespace", description: "several spaces after the scheme, whitespace around = and around commas, empty list elements", reqs: &["core.grammar.scheme.space", "core.grammar.param.whitespace"], op, input: json!({ "header": header.replacen("Payment ", "Payment   ", 1).replace("\", ", "\" ,\t , ").replacen("realm=", "realm = ", 1).replacen("method=", "method=\t", 1) }), value: parsed.clone() });
    cases.add(case! { id: "valid.reordered", description: "parameters in another order", reqs: &["core.challenge.required-params"], op, input: json!({ "header": plain_header(&params.iter().rev().cloned().collect::<Vec<_>>()) }), value: parsed.clone() });
    cases.add(case! { id: "valid.unknown-parameters", description: "unknown parameters, one of them upper case, are ignored", reqs: &["core.challenge.unknown-params", "core.versioning.ignore-unknown"], op, input: json!({ "header": format!("{header}, region=\"eu\", X-Trace=abc123, future=\"a, b\"") }), value: parsed.clone() });
    cases.add(case! { id: "valid.after-other-schemes", description: "after a Bearer challenge whose quoted text contains a Payment challenge, and a Basic token68", reqs: &["core.grammar.challenge.list"], op, input: json!({ "header": format!("Bearer realm=\"x\", error_description=\"use Payment id=\\\"abc\\\" instead\", Basic dG9rZW4=, {header}") }), value: parsed.clone(), decision: "D4" });
    cases.add(case! { id: "valid.before-bare-scheme", description: "followed by a scheme without parameters (NTLM), which starts the next challenge", reqs: &["core.grammar.challenge.list"], op, input: json!({ "header": format!("{header}, NTLM") }), value: parsed.clone(), decision: "D4" });
    cases.add(case! { id: "valid.first-of-two", description: "of two Payment challenges, challenge.parse reads the first", reqs: &["core.grammar.challenge.list"], op, input: json!({ "header": format!("{header}, {}", plain_header(&with(&params, "method", "stripe"))) }), value: parsed.clone() });
    cases.add(case! { id: "valid.quoted-pairs", description: "a quoted-pair stands for the character after the backslash", reqs: &["core.grammar.param.quoted-string"], op, input: json!({ "header": header.replacen("realm=\"api.example.com\"", r#"realm="\a\p\i.example.com""#, 1) }), value: parsed.clone() });
    let mut described = base.clone();
    described.description = Some("Say \"hi\" \\ twice, then pay".into());
    cases.add(case! { id: "valid.description-escapes", description: "a description with escaped quotes and backslashes", reqs: &["core.grammar.param.quoted-string"], op, input: json!({ "header": plain_header(&described.params()) }), value: described.parsed() });
    let mut emoji = base.clone();
    emoji.description = Some("Grinning 😀 costs 1 €".into());
    cases.add(case! { id: "valid.unicode-escapes", description: "\\uXXXX escapes, with a surrogate pair, stand for the character they encode", reqs: &["core.grammar.param.quoted-string"], op, input: json!({ "header": format!("{header}, description=\"Grinning \\ud83d\\ude00 costs 1 \\u20AC\"") }), value: emoji.parsed(), decision: "E7" });
    cases.add(case! { id: "valid.raw-utf8", description: "raw UTF-8 in a quoted value is read as UTF-8", reqs: &["core.grammar.param.quoted-string"], op, input: json!({ "header": format!("{header}, description=\"Grinning 😀 costs 1 €\"") }), value: emoji.parsed(), decision: "E7" });
    let mut empty_request = base.clone();
    empty_request.request = JsonObject::new();
    empty_request.request_wire = "e30".into();
    cases.add(case! { id: "valid.empty-request-object", description: "request may be an empty object (e30)", reqs: &["core.challenge.request.json"], op, input: json!({ "header": plain_header(&with(&params, "request", "e30")) }), value: empty_request.parsed() });
    let unpadded = b64(br#"{"amount":"1000","currency":"usd","recipient":"acct_12"}"#);
    let padded = format!("{unpadded}{}", "=".repeat((4 - unpadded.len() % 4) % 4));
    assert_ne!(padded, unpadded);
    let mut padded_model = base.clone();
    padded_model
        .request
        .insert("recipient".into(), "acct_12".into());
    cases.add(case! { id: "valid.padded-request", description: "request with = padding is accepted on input", reqs: &["core.challenge.request.json"], op, input: json!({ "header": plain_header(&with(&params, "request", &padded)) }), value: padded_model.parsed(), decision: "E4" });
    let reordered = b64(br#"{ "recipient": "acct_123", "currency": "usd", "amount": "1000" }"#);
    cases.add(case! { id: "valid.non-canonical-request", description: "a request that is not in JCS form is read all the same", reqs: &["core.challenge.request.json"], op, input: json!({ "header": plain_header(&with(&params, "request", &reordered)) }), value: parsed.clone() });
    for (name, intent, decision) in [
        ("valid.unregistered-intent", "authorize", "E9"),
        ("valid.intent-case-kept", "Charge", "E9"),
    ] {
        let mut m = base.clone();
        m.intent = intent.into();
        cases.add(case! { id: name, description: format!("intent {intent:?} is read as sent, not checked against a registry"), reqs: &["core.grammar.intent.token"], op, input: json!({ "header": plain_header(&with(&params, "intent", intent)) }), value: m.parsed(), decision });
    }
    let mut wide = base.clone();
    wide.method = "vendor:pay-v2".into();
    cases.add(case! { id: "valid.wide-method", description: "a method with digits, colon and hyphen after a first letter", reqs: &["core.challenge.method.case-sensitive"], op, input: json!({ "header": plain_header(&with(&params, "method", "vendor:pay-v2")) }), value: wide.parsed(), decision: "E3" });
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
        let v = cases.add(case! { id: name, description: format!("expires with {what} is kept as sent"), reqs: &["core.grammar.expires.rfc3339"], op, input: json!({ "header": plain_header(&with(&params, "expires", text)) }), value: m.parsed() });
        if what == "a leap second" {
            v.decision("E14");
        }
    }
    let mut with_header = base.clone();
    with_header.header = true;
    cases.add(case! { id: "valid.header-parameter", description: "header=\"Payment-Authorization\" selects that field", reqs: &["core.credential.field.payment-authorization"], op, input: json!({ "header": plain_header(&with_header.params()) }), value: with_header.parsed() });
    let mut full = base.clone();
    full.digest = Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".into());
    full.opaque = Some(b64(br#"{"nonce":"n-1","route":"POST /paid"}"#));
    full.description = Some("One call".into());
    cases.add(case! { id: "valid.all-parameters", description: "every optional parameter present", reqs: &["core.challenge.required-params"], op, input: json!({ "header": plain_header(&full.params()) }), value: full.parsed() });

    // parse-all
    let all = "challenge.parse-all";
    let broken = plain_header(&with(&params, "id", ""));
    let second = with(&params, "method", "stripe");
    let mut second_model = base.clone();
    second_model.method = "stripe".into();
    cases.add(case! { id: "all.malformed-then-valid", description: "a malformed Payment challenge does not hide the valid one after it", reqs: &["core.grammar.challenge.list", "core.challenge.id.reject-empty"], op: all, input: json!({ "header": format!("{broken}, {}", plain_header(&second)) }), value: json!({ "challenges": [{ "ok": false, "error": { "type": "parse_error", "class": "empty-parameter", "parameter": "id", "field": "id" } }, { "ok": true, "value": second_model.parsed() }] }), decision: "D4" });
    cases.add(case! { id: "all.syntax-error-then-valid", description: "after a syntax error the next challenge is still read", reqs: &["core.grammar.challenge.list"], op: all, input: json!({ "header": format!("Payment id=\"a\" realm=\"b\", {header}") }), value: json!({ "challenges": [{ "ok": false, "error": { "type": "parse_error", "class": "expected-comma" } }, { "ok": true, "value": parsed.clone() }] }), decision: "D4" });
    cases.add(case! { id: "all.none", description: "a value with only other schemes holds no Payment challenge", reqs: &["core.grammar.challenge.list"], op: all, input: json!({ "header": "Bearer realm=\"api\", Basic realm=\"x\"" }), value: json!({ "challenges": [] }) });
    cases.add(case! { id: "all.three", description: "three Payment challenges among other schemes, in order", reqs: &["core.grammar.challenge.list"], op: all, input: json!({ "header": format!("Basic realm=\"x\", {header}, Negotiate, {}, Bearer realm=\"y\", {header}", plain_header(&second)) }), value: json!({ "challenges": [{ "ok": true, "value": parsed.clone() }, { "ok": true, "value": second_model.parsed() }, { "ok": true, "value": parsed.clone() }] }) });
}

fn hand_parse_errors(cases: &mut Cases) {
    let base = small_model();
    let params = base.params();
    let header = plain_header(&params);
    let op = "challenge.parse";
    let perr = "parse_error";

    let h = |header: String| json!({ "header": header });
    let request = |request: String| h(plain_header(&with(&params, "request", &request)));
    let mut list = vec![
        case! { id: "error.empty-value", description: "an empty field value holds no Payment challenge", input: h(String::new()), class: "no-payment-challenge", reqs: &["core.grammar.challenge.list"] },
        case! { id: "error.only-other-schemes", description: "only other schemes: no Payment challenge", input: h("Bearer realm=\"api\", Basic dG9rZW4=".into()), class: "no-payment-challenge", reqs: &["core.grammar.challenge.list"] },
        case! { id: "error.no-parameters", description: "the scheme alone", input: h("Payment".into()), class: "no-parameters", reqs: &["core.challenge.required-params"] },
        case! { id: "error.no-parameters-in-list", description: "the scheme alone, followed by another challenge", input: h("Payment, Bearer realm=\"api\"".into()), class: "no-parameters", reqs: &["core.challenge.required-params"] },
        case! { id: "error.token68", description: "a token68 where parameters are required", input: h("Payment eyJpZCI6ImFiYyJ9".into()), class: "token68-not-allowed", reqs: &["core.challenge.required-params"] },
        case! { id: "error.expected-scheme", description: "a list element that starts with a quoted-string", input: h(format!("\"Payment\" {}", &header["Payment ".len()..])), class: "expected-scheme" },
        case! { id: "error.tab-after-scheme", description: "a tab instead of a space after the scheme", input: h(header.replacen("Payment ", "Payment\t", 1)), class: "expected-space", reqs: &["core.grammar.scheme.space"], decision: "E12" },
        case! { id: "error.expected-parameter-name", description: "an equals sign where a parameter name should be", input: h(header.replacen(", realm=", ", =\"orphan\", realm=", 1)), class: "expected-parameter-name" },
        case! { id: "error.expected-equals", description: "a parameter name followed by a value without =", input: h(header.replacen("id=", "id ", 1)), class: "expected-equals" },
        case! { id: "error.expected-value", description: "= followed by nothing: an empty value must be written \"\"", input: h(header.replacen(", realm=", ", trace=, realm=", 1)), class: "expected-value", reqs: &["core.grammar.param.value-forms"], decision: "E12" },
        case! { id: "error.missing-comma", description: "two parameters without a comma between them", input: h(header.replacen("\", realm=", "\" realm=", 1)), class: "expected-comma", decision: "D4" },
        case! { id: "error.parameter-outside-challenge", description: "a parameter right after the scheme's =", input: h("Payment =abc".into()), class: "parameter-outside-challenge" },
        case! { id: "error.unterminated-quoted-string", description: "a quoted-string that is never closed", input: h(format!("{header}, description=\"never closed")), class: "unterminated-quoted-string", reqs: &["core.grammar.param.quoted-string"], decision: "D4" },
        case! { id: "error.unterminated-extension", description: "an unclosed quoted extension parameter followed by backslashes", input: h(format!("{header}, ext=\"abc{}", "\\".repeat(200))), class: "unterminated-quoted-string", reqs: &["core.grammar.param.quoted-string"], decision: "E5" },
        case! { id: "error.invalid-quoted-pair", description: "a backslash before DEL", input: h(format!("{header}, description=\"bad \\\u{7f} pair\"")), class: "invalid-quoted-pair", reqs: &["core.grammar.param.quoted-string"] },
        case! { id: "error.raw-control-character", description: "a raw control character in a quoted value", input: h(format!("{header}, description=\"a\u{1}b\"")), class: "control-character", decision: "D4" },
        case! { id: "error.escaped-control-character", description: "a line feed written as \\u000a", input: h(format!("{header}, description=\"line\\u000abreak\"")), class: "control-character", field: "description", decision: "E7" },
        case! { id: "error.lone-surrogate", description: "a \\u escape of an unpaired surrogate", input: h(format!("{header}, description=\"half \\ud83d pair\"")), class: "invalid-unicode-escape", field: "description", decision: "E7" },
        case! { id: "error.duplicate-id", description: "id twice, names differing in case", input: h(format!("{header}, ID=\"other\"")), class: "duplicate-parameter", parameter: "id", reqs: &["core.grammar.param.unique"] },
        case! { id: "error.duplicate-same-value", description: "realm twice with the same value", input: h(format!("{header}, realm=\"api.example.com\"")), class: "duplicate-parameter", parameter: "realm", reqs: &["core.grammar.param.unique"] },
        case! { id: "error.duplicate-extension", description: "an unknown parameter twice", input: h(format!("{header}, ext=\"1\", Ext=\"2\"")), class: "duplicate-parameter", reqs: &["core.grammar.param.unique"] },
        case! { id: "error.too-many-parameters", description: "33 unknown parameters, one more than this implementation keeps", input: h(format!("{header}, {}", (0..33).map(|i| format!("x{i}=\"{i}\"")).collect::<Vec<_>>().join(", "))), class: "too-many-parameters", decision: "D11" },
        case! { id: "error.empty-id", description: "id=\"\"", input: h(plain_header(&with(&params, "id", ""))), class: "empty-parameter", parameter: "id", field: "id", reqs: &["core.challenge.id.reject-empty"] },
        case! { id: "error.empty-realm", description: "realm=\"\"", input: h(plain_header(&with(&params, "realm", ""))), class: "empty-parameter", parameter: "realm", field: "realm", reqs: &["core.challenge.required-params"] },
        case! { id: "error.empty-method", description: "method=\"\"", input: h(plain_header(&with(&params, "method", ""))), class: "empty-parameter", parameter: "method", field: "method", reqs: &["core.challenge.required-params"] },
        case! { id: "error.empty-intent", description: "intent=\"\"", input: h(plain_header(&with(&params, "intent", ""))), class: "empty-parameter", parameter: "intent", field: "intent", reqs: &["core.challenge.required-params"] },
        case! { id: "error.empty-request", description: "request=\"\"", input: h(plain_header(&with(&params, "request", ""))), class: "empty-parameter", parameter: "request", field: "request", reqs: &["core.challenge.required-params", "core.challenge.request.json"] },
        case! { id: "error.uppercase-method", description: "method=\"Tempo\": methods are lower case, compared exactly", input: h(plain_header(&with(&params, "method", "Tempo"))), class: "invalid-method", field: "method", reqs: &["core.challenge.method.case-sensitive"] },
        case! { id: "error.method-digit-first", description: "a method that starts with a digit", input: h(plain_header(&with(&params, "method", "1tempo"))), class: "invalid-method", field: "method", reqs: &["core.challenge.method.case-sensitive"], decision: "E3" },
        case! { id: "error.intent-space", description: "an intent with a space", input: h(plain_header(&with(&params, "intent", "char ge"))), class: "invalid-intent", field: "intent", reqs: &["core.grammar.intent.token"] },
        case! { id: "error.pipe-in-realm", description: "a realm with |, the separator of the id's HMAC input", input: h(plain_header(&with(&params, "realm", "api|example.com"))), class: "pipe-in-bound-field", parameter: "realm", field: "realm", reqs: &["core.binding.hmac.recipe"], decision: "D2" },
        case! { id: "error.control-in-realm", description: "a realm with an escaped NUL", input: h(header.replacen("api.example.com", "api\\u0000example.com", 1)), class: "control-character", field: "realm", decision: "E7" },
        case! { id: "error.header-authorization", description: "header=\"Authorization\": only Payment-Authorization may be named", input: h(plain_header(&with(&params, "header", "Authorization"))), class: "unsupported-header", field: "header", reqs: &["core.challenge.header.unrecognised"] },
        case! { id: "error.expires-month-13", description: "expires in month 13", input: h(plain_header(&with(&params, "expires", "2026-13-01T00:00:00Z"))), class: "invalid-timestamp", field: "expires", reqs: &["core.grammar.expires.rfc3339"] },
        case! { id: "error.expires-space", description: "expires with a space instead of T", input: h(plain_header(&with(&params, "expires", "2026-01-29 12:05:00Z"))), class: "invalid-timestamp", field: "expires", reqs: &["core.grammar.expires.rfc3339"] },
        case! { id: "error.expires-no-offset", description: "expires without Z or an offset", input: h(plain_header(&with(&params, "expires", "2026-01-29T12:05:00"))), class: "invalid-timestamp", field: "expires", reqs: &["core.grammar.expires.rfc3339"] },
        case! { id: "error.expires-colonless-offset", description: "expires with +0000 instead of +00:00", input: h(plain_header(&with(&params, "expires", "2026-01-29T12:05:00+0000"))), class: "invalid-timestamp", field: "expires", reqs: &["core.grammar.expires.rfc3339"] },
        case! { id: "error.expires-unix", description: "expires as Unix seconds", input: h(plain_header(&with(&params, "expires", "1769688300"))), class: "invalid-timestamp", field: "expires", reqs: &["core.grammar.expires.rfc3339"] },
        case! { id: "error.digest-short", description: "a digest of the wrong length", input: h(plain_header(&with(&params, "digest", "sha-256=:AAAA:"))), class: "invalid-digest", field: "digest" },
        case! { id: "error.digest-md5", description: "a digest with a deprecated algorithm", input: h(plain_header(&with(&params, "digest", "md5=:HUXZLQLMuI/KZ5KDcJPcOA==:"))), class: "unsupported-digest-algorithm", field: "digest", decision: "E8" },
        case! { id: "error.opaque-not-strings", description: "opaque whose member is a number", input: h(plain_header(&with(&params, "opaque", &b64(br#"{"n":1}"#)))), class: "expected-string-map", field: "opaque", reqs: &["core.challenge.opaque.string-map"] },
        case! { id: "error.opaque-raw-text", description: "opaque that is not base64url JSON", input: h(plain_header(&with(&params, "opaque", "trace-123"))), class: "non-canonical-base64", field: "opaque", reqs: &["core.challenge.opaque.string-map"], decision: "D4" },
        case! { id: "error.request-bad-character", description: "request with characters outside base64url", input: request("not-valid!!!".into()), class: "invalid-base64", field: "request", reqs: &["core.challenge.request.json"] },
        case! { id: "error.request-standard-alphabet", description: "request in the standard base64 alphabet (+ and /)", input: request(b64(br#"{"amount":"1000","memo":"???>>>"}"#).replace('-', "+").replace('_', "/")), class: "invalid-base64", field: "request", reqs: &["core.challenge.request.json"], decision: "E4" },
        case! { id: "error.request-trailing-bits", description: "request whose last character has non-zero unused bits", input: request("e31".into()), class: "non-canonical-base64", field: "request", reqs: &["core.challenge.request.json"], decision: "E4" },
        case! { id: "error.request-length", description: "request of an impossible base64 length", input: request("e30xe".into()), class: "non-canonical-base64", field: "request", reqs: &["core.challenge.request.json"] },
        case! { id: "error.request-not-utf8", description: "request that decodes to bytes that are not UTF-8", input: request(b64(b"{\"a\":\"\xff\"}")), class: "invalid-utf8", field: "request", reqs: &["core.challenge.request.json"] },
        case! { id: "error.request-not-json", description: "request that decodes to text that is not JSON (a trailing comma)", input: request(b64(br#"{"amount":"1000",}"#)), class: "invalid-json", field: "request", reqs: &["core.challenge.request.json"] },
        case! { id: "error.request-array", description: "request that decodes to an array", input: request("W10".into()), class: "expected-json-object", field: "request", reqs: &["core.challenge.request.json"] },
        case! { id: "error.request-string", description: "request that decodes to a string", input: request(b64(b"\"1000\"")), class: "expected-json-object", field: "request", reqs: &["core.challenge.request.json"] },
        case! { id: "error.request-duplicate-member", description: "request with the same member twice", input: request(b64(br#"{"amount":"1","amount":"1000"}"#)), class: "duplicate-json-key", field: "request", reqs: &["core.challenge.request.json"], decision: "E11" },
        case! { id: "error.request-number-range", description: "request with a number beyond a double", input: request(b64(br#"{"amount":1e400}"#)), class: "json-number-out-of-range", field: "request", reqs: &["core.challenge.request.json"] },
        case! { id: "error.request-too-deep", description: "request nested 65 levels deep", input: request(b64(format!("{{\"a\":{}1{}}}", "[".repeat(64), "]".repeat(64)).as_bytes())), class: "json-too-deep", field: "request", reqs: &["core.challenge.request.json"], decision: "D11" },
        case! { id: "error.first-is-malformed", description: "challenge.parse reads only the first Payment challenge, even when it is malformed and a later one is valid", input: h(format!("{}, {header}", plain_header(&with(&params, "id", "")))), class: "empty-parameter", parameter: "id", field: "id", reqs: &["core.challenge.id.reject-empty"], decision: "D4" },
    ];
    for name in ["id", "realm", "method", "intent", "request"] {
        let id_too = (name == "id").then_some("core.challenge.id.reject-empty");
        list.push(Case {
            reqs: id_too.into_iter().chain(["core.challenge.required-params"]).collect(),
            ..case! { id: format!("error.missing-{name}"), description: format!("no {name} parameter"), input: h(plain_header(&without(&params, name))), class: "missing-parameter", parameter: name }
        });
    }
    for case in list {
        cases.add(Case {
            op,
            error: perr,
            ..case
        });
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
        cases.add(case! { id: format!("generated.{n:03}"), description: format!("generated challenge {n}: the exact header this implementation writes"), reqs: r, op, input: model.abi(true, &model.request), value: json!({ "header": header }), decision });
    }

    let base = base_model();
    let input = base.abi(true, &base.request);
    let expected = |m: &Model| json!({ "header": m.challenge().to_header().unwrap_or_else(|e| unreachable!("{e}")) });
    cases.add(case! { id: "valid.base", description: "the hand-written charge of 1000 usd", reqs: &reqs, op, input: input.clone(), value: expected(&base), decision: "D5" });
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
        cases.add(case! { id: name, description: format!("description: {what}"), reqs: &reqs, op, input: m.abi(true, &m.request), value: expected(&m), decision });
    }
    let mut full = base.clone();
    full.digest = Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".into());
    full.opaque = Some(b64(br#"{"nonce":"n-1","route":"POST /paid"}"#));
    full.description = Some("One call".into());
    full.header = true;
    cases.add(case! { id: "valid.all-parameters", description: "every optional parameter, in the order id, realm, method, intent, request, expires, digest, description, opaque, header", reqs: &["core.grammar.param.no-bws", "core.challenge.header.value"], op, input: full.abi(true, &full.request), value: expected(&full), decision: "D5" });
    let mut noncanonical = base.abi(true, &base.request);
    noncanonical["request"] = json!({ "recipient": "acct_123", "amount": "1000", "currency": "usd", "n": 1.0, "big": 1e21 });
    let mut m = base.clone();
    m.request = noncanonical["request"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    cases.add(case! { id: "valid.request-canonicalised", description: "request written in JCS form: members sorted, 1.0 as 1, 1e21 as 1e+21", reqs: &["core.challenge.request.jcs", "core.challenge.request.no-padding"], op, input: noncanonical, value: expected(&m), decision: "D5" });

    let ferr = "format_error";
    let edit = |name: &str, value: Value| {
        let mut i = input.clone();
        i[name] = value;
        i
    };
    let errors = [
        case! { id: "error.crlf-in-description", description: "a description with CR LF (header injection)", input: edit("description", "a\r\nX-Injected: 1".into()), class: "control-character", parameter: "description", field: "description", decision: "D5" },
        case! { id: "error.uppercase-method", description: "method Tempo", input: edit("method", "Tempo".into()), class: "invalid-method", field: "method", reqs: &["core.challenge.method.lowercase"] },
        case! { id: "error.header-authorization", description: "header other than Payment-Authorization", input: edit("header", "Authorization".into()), class: "unsupported-header", field: "header", reqs: &["core.challenge.header.value"] },
        case! { id: "error.pipe-in-realm", description: "a realm with |", input: edit("realm", "api|example.com".into()), class: "pipe-in-bound-field", parameter: "realm", field: "realm", reqs: &["core.binding.hmac.recipe"] },
        case! { id: "error.newline-in-realm", description: "a realm with a line feed", input: edit("realm", "api\nexample.com".into()), class: "control-character", field: "realm", decision: "D5" },
        case! { id: "error.empty-id", description: "an empty id", input: edit("id", "".into()), class: "empty-parameter", parameter: "id", field: "id", reqs: &["core.challenge.id.non-empty"] },
        case! { id: "error.bad-expires", description: "expires that is not RFC 3339", input: edit("expires", "in five minutes".into()), class: "invalid-timestamp", field: "expires" },
        case! { id: "error.opaque-not-strings", description: "opaque whose member is a number", input: edit("opaque", b64(br#"{"n":1}"#).into()), class: "expected-string-map", field: "opaque", reqs: &["core.challenge.opaque.string-map"] },
        case! { id: "error.request-not-object", description: "request given as base64url text instead of an object", input: edit("request", "e30".into()), class: "invalid-field", field: "request" },
    ];
    for case in errors {
        cases.add(Case {
            op,
            error: ferr,
            ..case
        });
    }
    let mut missing = input.clone();
    if let Some(o) = missing.as_object_mut() {
        o.remove("request");
    }
    cases.add(case! { id: "error.request-missing", description: "no request", op, input: missing, error: ferr, class: "missing-field", field: "request" });
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
        let v = cases.add(case! { id: format!("generated.{n:03}"), description, reqs, op, input, value: json!({ "id": expected.as_str() }) });
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
    cases.add(case! { id: "hand.base", description: "the hand-written charge: realm|method|intent|request|expires||", reqs: &reqs, op, input: input.clone(), value: json!({ "id": id_of(&input) }), decision: "D2" });
    // Each variant changes some slots of the base; Null removes one.
    let slots = |edits: &[(&str, Value)]| {
        let mut i = input.clone();
        for (name, value) in edits {
            match value {
                Value::Null => {
                    if let Some(o) = i.as_object_mut() {
                        o.remove(*name);
                    }
                }
                v => i[*name] = v.clone(),
            }
        }
        i
    };
    let variants = [
        case! { id: "hand.no-expires", description: "without expires: the slot is empty, not dropped", input: slots(&[("expires", Value::Null)]), decision: "D2" },
        case! { id: "hand.other-amount", description: "amount 1001 instead of 1000", input: slots(&[("request", json!({"amount": "1001", "currency": "usd", "recipient": "acct_123"}))]), reqs: &["charge.verify.amount"], decision: "D2" },
        case! { id: "hand.key-order", description: "the same terms in another member order give the same id (request is canonicalised)", input: slots(&[("request", json!({"recipient": "acct_123", "currency": "usd", "amount": "1000"}))]), reqs: &["core.challenge.request.jcs"], decision: "D2" },
        case! { id: "hand.digest", description: "with a body digest", input: slots(&[("digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".into())]), reqs: &["core.digest.include"], decision: "D2" },
        case! { id: "hand.opaque", description: "with opaque, bound as its wire text", input: slots(&[("opaque", b64(br#"{"nonce":"n-1","route":"GET /paid"}"#).into())]), reqs: &["core.binding.opaque.bound"], decision: "D2" },
        case! { id: "hand.opaque-raw", description: "with opaque text that is not base64url JSON, bound as given", input: slots(&[("opaque", "trace-123".into())]), reqs: &["core.binding.opaque.bound"], decision: "D2" },
        case! { id: "hand.header", description: "with header=Payment-Authorization: a slot before opaque", input: slots(&[("header", "Payment-Authorization".into())]), reqs: &["core.binding.header.bound", "core.binding.hmac.header-slot"], decision: "E1" },
        case! { id: "hand.other-realm", description: "realm api.example.org", input: slots(&[("realm", "api.example.org".into())]), decision: "D2" },
        case! { id: "hand.unicode", description: "non-ASCII in realm and request, bound as UTF-8 (no \\u escapes in the JCS form)", input: slots(&[("request", json!({"amount": "1000", "currency": "usd", "memo": "café 😀 <&>"})), ("realm", "bücher.example".into())]), reqs: &["core.challenge.request.jcs"], decision: "D2" },
    ];
    for case in variants {
        let mut r = reqs.to_vec();
        r.extend(&case.reqs);
        let expected = id_of(&case.input);
        cases.add(Case {
            reqs: r,
            op,
            value: Some(json!({ "id": expected })),
            ..case
        });
    }
    let mut both = input.clone();
    both["header"] = "Payment-Authorization".into();
    both["opaque"] = b64(br#"{"nonce":"n-1"}"#).into();
    let expected = id_of(&both);
    cases.add(case! { id: "hand.header-and-opaque", description: "header and opaque: ...|digest|Payment-Authorization|opaque, as deployed SDKs order them", reqs: &["core.binding.hmac.header-slot", "core.binding.header.bound", "core.binding.opaque.bound"], op, input: both, value: json!({ "id": expected }), decision: "E1" });

    let gerr = "generation_error";
    let edit = |name: &str, value: Value| {
        let mut i = input.clone();
        i[name] = value;
        i
    };
    let errors = [
        case! { id: "error.short-secret", description: "a 31-byte secret is refused", input: edit("secretKey", "a-secret-of-thirty-one-bytes!!!".into()), class: "weak-secret", field: "secretKey", decision: "D2" },
        case! { id: "error.pipe-in-realm", description: "| in realm would let bytes move between slots", input: edit("realm", "api|example.com".into()), class: "pipe-in-bound-field", parameter: "realm", field: "realm", decision: "D2" },
        case! { id: "error.pipe-in-opaque", description: "| in opaque", input: edit("opaque", "a|b".into()), class: "pipe-in-bound-field", parameter: "opaque", field: "opaque", decision: "D2" },
        case! { id: "error.pipe-in-expires", description: "| in expires", input: edit("expires", "2026|01".into()), class: "pipe-in-bound-field", parameter: "expires", field: "expires", decision: "D2" },
        case! { id: "error.header-cookie", description: "header other than Payment-Authorization", input: edit("header", "Cookie".into()), class: "unsupported-header", field: "header", decision: "D2" },
    ];
    for case in errors {
        cases.add(Case {
            reqs: vec!["core.binding.hmac.recipe"],
            op,
            error: gerr,
            ..case
        });
    }
}
