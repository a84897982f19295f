//! Explains a Payment header value in plain words: every challenge of a
//! `WWW-Authenticate` value (of any scheme), a credential, or a receipt, decoded,
//! with each error shown at its byte.
//!
//! Credential payloads, payers (`source`) and receipt references are redacted unless
//! `reveal` is set. [`challenges_json`] gives the same decoding of challenges as JSON.
//! Used by `mpp decode`, `mpp inspect`, `mpp get -v` and `mpp-conformance explain`.

use std::fmt::Write as _;

use mpp_core::ParseError;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::grammar::{AuthBody, AuthChallenges};
use mpp_core::json::JsonObject;
use mpp_core::receipt::Receipt;
use mpp_core::time::UnixTime;
use serde_json::Value;

/// What kind of header value to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Kind {
    /// Guess: a credential if it is one, else a receipt, else challenges.
    Auto,
    /// A `WWW-Authenticate` value.
    Challenge,
    /// An `Authorization` or `Payment-Authorization` value.
    Credential,
    /// A `Payment-Receipt` value.
    Receipt,
}

/// The explanation of `value`, and whether everything in it is valid.
pub fn explain(value: &str, kind: Kind, now: UnixTime, reveal: bool) -> (String, bool) {
    let bytes = value.as_bytes();
    let mut out = String::new();
    let ok = match kind {
        Kind::Credential => credential(&mut out, bytes, reveal),
        Kind::Receipt => receipt(&mut out, bytes, reveal),
        Kind::Challenge => challenges(&mut out, bytes, now),
        Kind::Auto => {
            if let Ok(c) = Credential::parse(bytes) {
                show_credential(&mut out, &c, reveal);
                true
            } else if let Ok(r) = Receipt::parse(bytes) {
                show_receipt(&mut out, &r, reveal);
                true
            } else {
                challenges(&mut out, bytes, now)
            }
        }
    };
    (out, ok)
}

fn credential(out: &mut String, bytes: &[u8], reveal: bool) -> bool {
    match Credential::parse(bytes) {
        Ok(c) => {
            show_credential(out, &c, reveal);
            true
        }
        Err(e) => {
            show_error(out, "credential", bytes, &e);
            false
        }
    }
}

fn receipt(out: &mut String, bytes: &[u8], reveal: bool) -> bool {
    match Receipt::parse(bytes) {
        Ok(r) => {
            show_receipt(out, &r, reveal);
            true
        }
        Err(e) => {
            show_error(out, "receipt", bytes, &e);
            false
        }
    }
}

fn challenges(out: &mut String, bytes: &[u8], now: UnixTime) -> bool {
    let mut ok = true;
    let mut payment = 0;
    for (n, item) in AuthChallenges::new(bytes).enumerate() {
        let n = n + 1;
        let found = match item {
            Err(e) => {
                show_error(out, &format!("[{n}] challenge"), bytes, &e);
                ok = false;
                continue;
            }
            Ok(found) => found,
        };
        if !found.scheme.eq_ignore_ascii_case("Payment") {
            let what = match found.body {
                AuthBody::None => "no parameters".to_owned(),
                AuthBody::Token68(_) => "a token68".to_owned(),
                AuthBody::Params(p) => match p.count() {
                    1 => "1 parameter".to_owned(),
                    n => format!("{n} parameters"),
                },
            };
            let _ = writeln!(
                out,
                "[{n}] {} challenge with {what} (not Payment; ignored)",
                found.scheme
            );
            continue;
        }
        payment += 1;
        let span = found.span.clone();
        match Challenge::parse(&bytes[span.clone()]) {
            Ok(c) => {
                let _ = writeln!(out, "[{n}] Payment challenge: valid");
                show_challenge(out, &c, Some(now), "    ");
            }
            Err(e) => {
                ok = false;
                let e_at = e.offset() + span.start;
                let _ = writeln!(out, "[{n}] Payment challenge: invalid: {e}");
                caret(out, bytes, e_at);
            }
        }
    }
    if payment == 0 {
        let _ = writeln!(out, "no Payment challenge found");
        ok = false;
    }
    ok
}

/// Every challenge of a `WWW-Authenticate` value as a JSON array, in order: each
/// Payment challenge decoded (`"valid": true`, its parameters, the decoded `request`
/// with its `amount` and `currency`, the method's `terms` in people's units when
/// [`crate::terms::describe`] knows the method (or `termsError`), whether it has
/// `expired` at `now`) or its error
/// and byte offset (`"valid": false`); challenges of other schemes as
/// `{"index", "scheme", "payment": false}`. Several field lines can be passed joined
/// with `", "`.
pub fn challenges_json(value: &str, now: UnixTime) -> Value {
    let bytes = value.as_bytes();
    let mut list = Vec::new();
    for (n, item) in AuthChallenges::new(bytes).enumerate() {
        let mut entry = serde_json::Map::new();
        entry.insert("index".into(), (n + 1).into());
        let found = match item {
            Err(e) => {
                entry.insert("scheme".into(), Value::Null);
                entry.insert("payment".into(), Value::Null);
                entry.insert("valid".into(), false.into());
                entry.insert("error".into(), e.to_string().into());
                entry.insert("at".into(), e.offset().into());
                list.push(Value::Object(entry));
                continue;
            }
            Ok(found) => found,
        };
        entry.insert("scheme".into(), found.scheme.into());
        let payment = found.scheme.eq_ignore_ascii_case("Payment");
        entry.insert("payment".into(), payment.into());
        if payment {
            let span = found.span.clone();
            match Challenge::parse(&bytes[span.clone()]) {
                Ok(c) => {
                    entry.insert("valid".into(), true.into());
                    challenge_fields(&mut entry, &c, now);
                }
                Err(e) => {
                    entry.insert("valid".into(), false.into());
                    entry.insert("error".into(), e.to_string().into());
                    entry.insert("at".into(), (e.offset() + span.start).into());
                }
            }
        }
        list.push(Value::Object(entry));
    }
    Value::Array(list)
}

fn challenge_fields(entry: &mut serde_json::Map<String, Value>, c: &Challenge<'_>, now: UnixTime) {
    entry.insert("id".into(), c.id.as_str().into());
    entry.insert("realm".into(), c.realm.as_str().into());
    entry.insert("method".into(), c.method.as_str().into());
    entry.insert("intent".into(), c.intent.as_str().into());
    match c.request.decode() {
        Ok(request) => {
            for key in ["amount", "currency"] {
                let v = request.get(key).cloned().unwrap_or(Value::Null);
                entry.insert(key.into(), v);
            }
            match crate::terms::describe(c.method.as_str(), &request) {
                Some(Ok(d)) => {
                    entry.insert("terms".into(), d.json);
                }
                Some(Err(e)) => {
                    entry.insert("termsError".into(), e.into());
                }
                None => {}
            }
            entry.insert("request".into(), Value::Object(request));
        }
        Err(e) => {
            entry.insert("request".into(), Value::Null);
            entry.insert("requestError".into(), e.to_string().into());
        }
    }
    match &c.expires {
        Some(t) => {
            entry.insert("expires".into(), t.as_str().into());
            entry.insert("expired".into(), t.is_expired_at(now).into());
        }
        None => {
            entry.insert("expires".into(), Value::Null);
            entry.insert("expired".into(), Value::Null);
        }
    }
    let text = |v: Option<&str>| v.map_or(Value::Null, Value::from);
    entry.insert("digest".into(), text(c.digest.as_ref().map(|d| d.as_str())));
    entry.insert("description".into(), text(c.description.as_deref()));
    entry.insert(
        "opaque".into(),
        match &c.opaque {
            Some(o) => o.decode().map_or(Value::Null, Value::Object),
            None => Value::Null,
        },
    );
    entry.insert("credentialField".into(), c.credential_field.name().into());
    entry.insert(
        "extensions".into(),
        Value::Object(
            c.extensions
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(v.as_ref())))
                .collect(),
        ),
    );
}

/// The challenge's fields, one per line; expiry is judged against `now` when given.
fn show_challenge(out: &mut String, c: &Challenge<'_>, now: Option<UnixTime>, pad: &str) {
    let row = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(
            out,
            "{pad}{name:<12} {}",
            value.replace('\n', &format!("\n{pad}{:13}", ""))
        );
    };
    row(out, "id", &c.id);
    row(out, "realm", &c.realm);
    row(out, "method", &c.method);
    row(out, "intent", &c.intent);
    match c.request.decode() {
        Ok(request) => {
            row(out, "request", &pretty(&request));
            match crate::terms::describe(c.method.as_str(), &request) {
                Some(Ok(d)) => {
                    for (name, value) in &d.rows {
                        row(out, name, value);
                    }
                }
                Some(Err(e)) => row(out, "terms", &format!("invalid: {e}")),
                None => {}
            }
        }
        Err(e) => row(out, "request", &format!("cannot decode: {e}")),
    }
    match &c.expires {
        None => row(
            out,
            "expires",
            "(absent: servers of this project refuse such challenges)",
        ),
        Some(t) => match now {
            None => row(out, "expires", t.as_str()),
            Some(now) => {
                let delta = t.unix().secs() - now.secs();
                let when = if t.is_expired_at(now) {
                    format!("expired {} ago", duration(-delta))
                } else {
                    format!("in {}", duration(delta))
                };
                row(out, "expires", &format!("{} ({when})", t.as_str()));
            }
        },
    }
    if let Some(d) = &c.digest {
        row(out, "digest", d.as_str());
    }
    if let Some(d) = &c.description {
        row(out, "description", &format!("{d:?} (display only)"));
    }
    if let Some(o) = &c.opaque {
        match o.decode() {
            Ok(map) => row(
                out,
                "opaque",
                &format!("{} = {}", o.as_str(), Value::Object(map)),
            ),
            Err(e) => row(out, "opaque", &format!("cannot decode: {e}")),
        }
    }
    row(
        out,
        "credential",
        &format!("send in {}", c.credential_field.name()),
    );
    for (name, value) in &c.extensions {
        row(out, name, &format!("{value:?} (extension, ignored)"));
    }
}

fn show_credential(out: &mut String, c: &Credential, reveal: bool) {
    let _ = writeln!(out, "Payment credential: valid");
    let _ = writeln!(out, "  answers challenge:");
    show_challenge(out, &c.challenge, None, "      ");
    let payload = if reveal {
        pretty(&c.payload)
    } else {
        redacted(&c.payload)
    };
    let _ = writeln!(
        out,
        "  payload      {}",
        payload.replace('\n', "\n               ")
    );
    if let Some(source) = &c.source {
        let _ = writeln!(
            out,
            "  source       {}",
            if reveal { source } else { "<redacted>" }
        );
    }
}

fn show_receipt(out: &mut String, r: &Receipt, reveal: bool) {
    let _ = writeln!(out, "Payment receipt: valid");
    let _ = writeln!(out, "  status       success");
    let _ = writeln!(out, "  method       {}", r.method);
    let _ = writeln!(out, "  timestamp    {}", r.timestamp.as_str());
    let _ = writeln!(
        out,
        "  reference    {}",
        if reveal { &r.reference } else { "<redacted>" }
    );
    for (k, v) in &r.extra {
        let v = if reveal {
            v.to_string()
        } else {
            "<redacted>".into()
        };
        let _ = writeln!(out, "  {k:<12} {v}");
    }
}

fn show_error(out: &mut String, what: &str, bytes: &[u8], e: &ParseError) {
    let _ = writeln!(out, "{what}: invalid: {e}");
    caret(out, bytes, e.offset());
}

/// Shows the input around `at` with a caret under it.
fn caret(out: &mut String, bytes: &[u8], at: usize) {
    let start = at.saturating_sub(40);
    let end = (at + 40).min(bytes.len());
    let shown: String = bytes[start..end]
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let lead = if start > 0 { "…" } else { "" };
    let _ = writeln!(out, "    {lead}{shown}");
    let _ = writeln!(
        out,
        "    {}{}^ byte {at}",
        " ".repeat(lead.chars().count()),
        " ".repeat(at - start)
    );
}

fn pretty(object: &JsonObject) -> String {
    serde_json::to_string_pretty(object).unwrap_or_default()
}

/// The object's shape with every string and number replaced, for showing a proof
/// without revealing it.
fn redacted(object: &JsonObject) -> String {
    fn mask(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), mask(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
            Value::Null | Value::Bool(_) => v.clone(),
            _ => Value::String("<redacted>".into()),
        }
    }
    let masked: JsonObject = object.iter().map(|(k, v)| (k.clone(), mask(v))).collect();
    format!("{} (values redacted; --reveal shows them)", pretty(&masked))
}

fn duration(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m {}s", s / 60, s % 60),
        s if s < 172_800 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d", s / 86400),
    }
}
