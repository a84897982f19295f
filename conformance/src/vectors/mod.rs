//! Language-neutral conformance vectors: JSON files, one per category, that any SDK
//! runs through its own adapter (`mpp-conformance vectors --adapter 'CMD'`).
//!
//! The files live in `spec/vectors/draft-01/` and follow `spec/vectors/schema.json`.
//! Each vector names an adapter operation, its input, and the expected response:
//! `{"ok":true,"value":…}` or `{"ok":false,"error":{"type":…,"class":…}}`. They are
//! written by the generator in `conformance/vectors-gen` (not part of this tool):
//! hand-written cases (RFC examples, every way a header can be malformed) and cases
//! built by a seeded generator whose expected values come from `mpp-core`. The same
//! seed gives the same bytes on every machine; a test there fails when the committed
//! files differ.
//!
//! [`run`] checks an adapter against them: in-process ([`crate::adapter::handle`]) or
//! a command spawned once per vector. The files are compiled into the binary
//! ([`embedded`]), so the runner needs no checkout.

pub mod run;
pub mod shell;

use std::path::Path;

use serde_json::{Map, Value};

/// The version of the vector file format (the `schema` member).
pub const FORMAT: u64 = 1;

/// The draft the vectors check (the `draft` member).
pub const DRAFT: &str = "draft-httpauth-payment-01";

/// The directory, under `spec/vectors/`, holding the vectors of [`DRAFT`].
pub const DRAFT_DIR: &str = "draft-01";

/// One category of vectors: one file.
#[derive(Debug, Clone, Copy)]
pub struct Category {
    /// The category name (`challenge-parse`), also the first segment of its vector ids.
    pub name: &'static str,
    /// What the vectors of the category check.
    pub description: &'static str,
    /// The seed of the category's generator.
    pub seed: u64,
}

impl Category {
    /// The file name: `<name>.json`.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.name)
    }
}

/// Every category, in the order the runner reports them.
pub const CATEGORIES: [Category; 12] = [
    Category {
        name: "base64url",
        description: "Base64url without padding (RFC 4648 section 5), the encoding of request, opaque, credentials and receipts: the RFC's examples, generated text, and what a strict decoder refuses.",
        seed: 20_260_901,
    },
    Category {
        name: "jcs",
        description: "RFC 8785 JSON canonicalization, applied to request and opaque before they are encoded: the RFC's examples and number table, generated values, and texts that are not I-JSON. Input is JSON text, so numbers reach the canonicalizer unparsed.",
        seed: 20_260_902,
    },
    Category {
        name: "challenge-parse",
        description: "Reading WWW-Authenticate values: the first Payment challenge (challenge.parse) or all of them (challenge.parse-all), in generated layouts among other schemes, and each way a Payment challenge can be malformed, with its error class.",
        seed: 20_260_903,
    },
    Category {
        name: "challenge-format",
        description: "Writing a challenge. The expected headers are this implementation's exact bytes: parameters in a fixed order, every value quoted, only quote and backslash escaped, non-ASCII as \\uXXXX (decision D5, erratum E7). Also what cannot be written.",
        seed: 20_260_904,
    },
    Category {
        name: "credential",
        description: "Reading Authorization: Payment credentials (generated layouts, every malformation with its class) and writing them; this implementation writes base64url of the JCS form of the credential.",
        seed: 20_260_905,
    },
    Category {
        name: "receipt",
        description: "Reading Payment-Receipt values (generated members and layouts, every malformation with its class) and writing them; this implementation writes base64url of the JCS form of the receipt.",
        seed: 20_260_906,
    },
    Category {
        name: "challenge-id",
        description: "The HMAC-SHA256 challenge id of decision D2: slots joined by |, request in canonical form, the header slot before opaque (erratum E1), and the inputs that cannot be bound.",
        seed: 20_260_907,
    },
    Category {
        name: "digest",
        description: "RFC 9530 body digests for the digest parameter: computing them over binary bodies (given as base64url) and checking an echoed digest against a body.",
        seed: 20_260_908,
    },
    Category {
        name: "accept-payment",
        description: "Accept-Payment: which of a server's offers a client's ranges keep, best first, and malformed values.",
        seed: 20_260_909,
    },
    Category {
        name: "problem-types",
        description: "The problem types of draft -01: each slug's type URI, title and HTTP status.",
        seed: 20_260_910,
    },
    Category {
        name: "charge-transitions",
        description: "A server's verdicts on the credentials presented for one charge challenge: granted, malformed_credential, invalid_challenge, payment_expired or verification_failed, with single use (decision D9) and expiry at now >= expires (decision D8).",
        seed: 20_260_911,
    },
    Category {
        name: "jsonrpc",
        description: "The Payment scheme over JSON-RPC and MCP (draft-payment-transport-mcp-00, on top of draft-httpauth-payment-01): challenges, credentials and receipts converted between their HTTP forms and the JSON forms messages carry, request as a JSON object whose JCS form the id binds whatever its member order or number spelling (erratum E40), where a server finds a credential, and what a client reads from -32042, -32043 and mppx's tool-result form.",
        seed: 20_260_912,
    },
];

/// The category with this name.
pub fn category(name: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.name == name)
}

/// The expected error of a vector. `class`, `parameter` and `field` are compared
/// only when the adapter reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedError {
    /// The ABI error type (`parse_error`, `format_error`, …).
    pub kind: String,
    /// The error class: a stable code such as `missing-parameter`.
    pub class: Option<String>,
    /// The challenge parameter the error names (`realm`).
    pub parameter: Option<String>,
    /// Where the error is (`request`, `challenge.id`, `status`).
    pub field: Option<String>,
}

/// What a vector expects of the adapter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// `{"ok": true, "value": …}`.
    Value(Value),
    /// `{"ok": false, "error": …}`.
    Error(ExpectedError),
}

impl Expect {
    /// The expected response as JSON.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        match self {
            Expect::Value(v) => {
                out.insert("ok".into(), Value::Bool(true));
                out.insert("value".into(), v.clone());
            }
            Expect::Error(e) => {
                out.insert("ok".into(), Value::Bool(false));
                let mut error = Map::new();
                error.insert("type".into(), e.kind.clone().into());
                for (name, value) in [
                    ("class", &e.class),
                    ("parameter", &e.parameter),
                    ("field", &e.field),
                ] {
                    if let Some(v) = value {
                        error.insert(name.into(), v.clone().into());
                    }
                }
                out.insert("error".into(), Value::Object(error));
            }
        }
        Value::Object(out)
    }

    fn from_json(value: &Value) -> Result<Expect, String> {
        let object = value.as_object().ok_or("`expect` is not an object")?;
        match object.get("ok") {
            Some(Value::Bool(true)) => {
                only(object, &["ok", "value"], "expect")?;
                let value = object.get("value").ok_or("`expect.value` is missing")?;
                Ok(Expect::Value(value.clone()))
            }
            Some(Value::Bool(false)) => {
                only(object, &["ok", "error"], "expect")?;
                let error = object
                    .get("error")
                    .and_then(Value::as_object)
                    .ok_or("`expect.error` is not an object")?;
                only(
                    error,
                    &["type", "class", "parameter", "field"],
                    "expect.error",
                )?;
                let text = |name: &str| -> Result<Option<String>, String> {
                    match error.get(name) {
                        None => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(_) => Err(format!("`expect.error.{name}` is not a string")),
                    }
                };
                Ok(Expect::Error(ExpectedError {
                    kind: text("type")?.ok_or("`expect.error.type` is missing")?,
                    class: text("class")?,
                    parameter: text("parameter")?,
                    field: text("field")?,
                }))
            }
            _ => Err("`expect.ok` is not a boolean".into()),
        }
    }
}

/// One vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Vector {
    /// A stable id, unique across every file, starting with the category name.
    pub id: String,
    /// One line saying what is checked.
    pub description: String,
    /// Ids of `spec/requirements.json` the vector checks (possibly none).
    pub requirements: Vec<String>,
    /// The project decision (`D9`) or erratum (`E3`) the expected result follows,
    /// where the draft is ambiguous.
    pub decision: Option<String>,
    /// The adapter operation.
    pub op: String,
    /// The operation's input.
    pub input: Value,
    /// The request context (`now`), when the vector needs one.
    pub context: Option<Value>,
    /// The expected response.
    pub expect: Expect,
}

impl Vector {
    /// The request line sent to an adapter.
    pub fn request(&self) -> String {
        let mut request = Map::new();
        request.insert("schema".into(), Value::from(crate::adapter::SCHEMA));
        request.insert("op".into(), self.op.clone().into());
        request.insert("input".into(), self.input.clone());
        request.insert(
            "context".into(),
            self.context
                .clone()
                .unwrap_or_else(|| Value::Object(Map::new())),
        );
        Value::Object(request).to_string()
    }

    fn from_json(value: &Value) -> Result<Vector, String> {
        let object = value.as_object().ok_or("a vector is not an object")?;
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .ok_or("a vector has no string `id`")?
            .to_owned();
        let at = |e: String| format!("{id}: {e}");
        only(
            object,
            &[
                "id",
                "description",
                "requirements",
                "decision",
                "op",
                "input",
                "context",
                "expect",
            ],
            "vector",
        )
        .map_err(at)?;
        let text = |name: &str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| at(format!("`{name}` is not a string")))
        };
        let requirements = object
            .get("requirements")
            .and_then(Value::as_array)
            .ok_or_else(|| at("`requirements` is not an array".into()))?
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| at("`requirements` holds a non-string".into()))?;
        let decision = match object.get("decision") {
            None => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(_) => return Err(at("`decision` is not a string".into())),
        };
        Ok(Vector {
            description: text("description")?,
            requirements,
            decision,
            op: text("op")?,
            input: object
                .get("input")
                .cloned()
                .ok_or_else(|| at("`input` is missing".into()))?,
            context: object.get("context").cloned(),
            expect: Expect::from_json(object.get("expect").unwrap_or(&Value::Null)).map_err(at)?,
            id,
        })
    }
}

/// One vector file: the vectors of one category.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorFile {
    /// The category.
    pub category: String,
    /// What the category checks.
    pub description: String,
    /// The generator seed the file was made with.
    pub seed: u64,
    /// The vectors, in file order.
    pub vectors: Vec<Vector>,
}

impl VectorFile {
    /// Reads a vector file, checking its structure.
    pub fn parse(text: &str) -> Result<VectorFile, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let object = value.as_object().ok_or("the file is not a JSON object")?;
        only(
            object,
            &[
                "schema",
                "draft",
                "category",
                "description",
                "generator",
                "vectors",
            ],
            "file",
        )?;
        if object.get("schema").and_then(Value::as_u64) != Some(FORMAT) {
            return Err(format!("`schema` is not {FORMAT}"));
        }
        if object.get("draft").and_then(Value::as_str) != Some(DRAFT) {
            return Err(format!("`draft` is not {DRAFT:?}"));
        }
        let text = |name: &str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("`{name}` is not a string"))
        };
        let seed = object
            .get("generator")
            .and_then(|g| g.get("seed"))
            .and_then(Value::as_u64)
            .ok_or("`generator.seed` is not an integer")?;
        let vectors = object
            .get("vectors")
            .and_then(Value::as_array)
            .ok_or("`vectors` is not an array")?
            .iter()
            .map(Vector::from_json)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VectorFile {
            category: text("category")?,
            description: text("description")?,
            seed,
            vectors,
        })
    }
}

fn only(object: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown member `{k}` in {what}")),
        None => Ok(()),
    }
}

/// The committed vector files, compiled in: `(file name, text)`.
pub fn embedded() -> [(&'static str, &'static str); 12] {
    macro_rules! file {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../../spec/vectors/draft-01/", $name)),
            )
        };
    }
    [
        file!("base64url.json"),
        file!("jcs.json"),
        file!("challenge-parse.json"),
        file!("challenge-format.json"),
        file!("credential.json"),
        file!("receipt.json"),
        file!("challenge-id.json"),
        file!("digest.json"),
        file!("accept-payment.json"),
        file!("problem-types.json"),
        file!("charge-transitions.json"),
        file!("jsonrpc.json"),
    ]
}

/// The compiled-in vector files, parsed.
pub fn load_embedded() -> Result<Vec<VectorFile>, String> {
    embedded()
        .into_iter()
        .map(|(name, text)| VectorFile::parse(text).map_err(|e| format!("{name}: {e}")))
        .collect()
}

/// Every `*.json` file of `dir`, parsed, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<VectorFile>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if path.extension().is_some_and(|x| x == "json") {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(format!("{} holds no *.json vector file", dir.display()));
    }
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            VectorFile::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}
