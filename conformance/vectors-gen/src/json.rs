//! Writing vector files: pretty-printed JSON whose layout depends only on the content.
//!
//! - The file's members, its `vectors` array and each vector's members (the
//!   [`Doc::Object`] and [`Doc::Array`] levels) go one per line, indented by two
//!   spaces, unless the whole container fits on one line of [`WIDTH`] characters.
//! - Every value below that ([`Doc::Value`]: an input, an expected value) is written
//!   on one line, with the members of each object sorted by name (UTF-8 byte order),
//!   so the output never depends on how a map iterates, and a change to a vector is
//!   a change to few lines.
//! - Strings escape `"`, `\` and the characters a reviewer could not see (C0 and C1
//!   controls, DEL, U+2028, U+2029, U+FEFF); all other text is written as is.
//! - Numbers are written as serde_json writes them (the shortest form that reads
//!   back as the same double); the file ends with a newline.

use std::fmt::Write as _;

use serde_json::Value;

/// The widest line a container is folded into.
pub(crate) const WIDTH: usize = 120;

/// A JSON value laid out by level: objects with members in a given order, and
/// values written on one line.
#[derive(Debug, Clone)]
pub(crate) enum Doc {
    /// Any value, written on one line with sorted members.
    Value(Value),
    /// An object with members in this order.
    Object(Vec<(String, Doc)>),
    /// An array.
    Array(Vec<Doc>),
}

impl Doc {
    pub(crate) fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Doc)>) -> Doc {
        Doc::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

/// The file text of `doc`, ending with a newline.
pub(crate) fn to_text(doc: &Doc) -> String {
    let mut out = String::new();
    write(doc, 0, 0, &mut out);
    out.push('\n');
    out
}

/// Writes `doc` at `indent`, the current line already holding `used` characters.
fn write(doc: &Doc, indent: usize, used: usize, out: &mut String) {
    let compact = compact(doc);
    let folds = matches!(doc, Doc::Object(m) if !m.is_empty())
        || matches!(doc, Doc::Array(a) if !a.is_empty());
    if !folds || used + compact.chars().count() <= WIDTH {
        out.push_str(&compact);
        return;
    }
    let pad = " ".repeat(indent + 2);
    match doc {
        Doc::Object(members) => {
            out.push_str("{\n");
            for (i, (name, value)) in members.iter().enumerate() {
                out.push_str(&pad);
                let key = format!("{}: ", string(name));
                out.push_str(&key);
                write(value, indent + 2, indent + 2 + key.chars().count(), out);
                out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
        Doc::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad);
                write(item, indent + 2, indent + 2, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        Doc::Value(_) => out.push_str(&compact),
    }
}

/// The one-line form: `{"a": 1, "b": [2, 3]}`.
fn compact(doc: &Doc) -> String {
    match doc {
        Doc::Value(v) => value(v),
        Doc::Object(members) => {
            let inner: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}: {}", string(k), compact(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Doc::Array(items) => {
            let inner: Vec<String> = items.iter().map(compact).collect();
            format!("[{}]", inner.join(", "))
        }
    }
}

/// A value on one line, object members sorted by name.
fn value(v: &Value) -> String {
    match v {
        Value::String(s) => string(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(value).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}: {}", string(k), value(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

/// A JSON string literal, escaping only what must be or cannot be seen.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn levels_fold_and_values_stay_on_one_line() {
        let long = "x".repeat(WIDTH);
        let doc = Doc::object([
            ("z", Doc::Value(json!(1))),
            ("a", Doc::Value(json!({"b": [1, 2], "a": "x\u{7f}\n"}))),
            ("v", Doc::Array(vec![Doc::Value(json!({"k": long}))])),
        ]);
        assert_eq!(
            to_text(&doc),
            format!(
                "{{\n  \"z\": 1,\n  \"a\": {{\"a\": \"x\\u007f\\n\", \"b\": [1, 2]}},\n  \"v\": [\n    {{\"k\": \"{long}\"}}\n  ]\n}}\n"
            )
        );
        let short = Doc::object([("ok", Doc::Value(json!(true)))]);
        assert_eq!(to_text(&short), "{\"ok\": true}\n");
    }

    #[test]
    fn written_text_reads_back_as_the_same_value() {
        let value =
            json!({"s": "é \u{2028} \u{1} \"q\" \\", "n": [0.1, -5, 1e21, 1e-7], "t": true});
        let back: Value = serde_json::from_str(&to_text(&Doc::Value(value.clone()))).unwrap();
        assert_eq!(back, value);
    }
}
