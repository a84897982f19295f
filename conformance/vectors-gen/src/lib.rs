//! The generator of the language-neutral vectors in `spec/vectors/draft-01/`: per
//! category, hand-written cases (RFC examples, each way an input can be malformed) and
//! cases drawn from a seeded PRNG, whose expected values are computed with `mpp-core`
//! directly (not through the adapter, which the vectors then check). It is a tool of
//! this repository, not of the shipped `mpp-conformance` binary, which only reads the
//! files.
//!
//! Regenerate the committed files (from the workspace root) with
//!
//! ```text
//! cargo run -p vectors-gen
//! ```
//!
//! or write them elsewhere with `cargo run -p vectors-gen -- --out DIR`. The package's
//! tests fail when the committed files differ from what [`generate`] writes.
//!
//! Nothing here may depend on the iteration order of a JSON map: serde_json's
//! `preserve_order` feature is on in some builds of the workspace (a dev-dependency
//! turns it on) and off in others. JSON text is written with JCS or with sorted keys.

/// One [`Case`], on one line: named fields (`op` alone for `op: op`),
/// converted with `Into`, the ones not named left at their default.
macro_rules! case {
    ($($name:ident $(: $value:expr)?),+ $(,)?) => {
        $crate::Case {
            $($name: ::core::convert::Into::into(case!(@value $name $($value)?)),)+
            ..$crate::Case::default()
        }
    };
    (@value $name:ident) => { $name };
    (@value $name:ident $value:expr) => { $value };
}

mod challenge;
mod credential;
mod encoding;
mod json;
mod jsonrpc;
mod rng;
mod server;
mod values;

use std::path::{Path, PathBuf};

use conformance::vectors::{
    CATEGORIES, Category, DRAFT, DRAFT_DIR, Expect, ExpectedError, FORMAT, Vector, VectorFile,
};
use serde_json::Value;

use json::Doc;
use rng::Rng;

/// How to regenerate the files, as recorded in each of them.
pub const GENERATE_COMMAND: &str = "cargo run -p vectors-gen";

/// Generates every vector file: `(file name, text)`, in [`CATEGORIES`] order.
/// Deterministic: the same program gives the same bytes on every machine.
pub fn generate() -> Vec<(String, String)> {
    CATEGORIES
        .iter()
        .map(|category| {
            let file = VectorFile {
                category: category.name.into(),
                description: category.description.into(),
                seed: category.seed,
                vectors: self::category(category),
            };
            (category.file_name(), file_text(&file))
        })
        .collect()
}

/// The directory the generator writes to by default: this checkout's
/// `spec/vectors/draft-01`.
pub fn default_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors");
    dir.canonicalize().unwrap_or(dir).join(DRAFT_DIR)
}

/// The text of a vector file: pretty-printed, members in a stable order, a trailing
/// newline.
pub fn file_text(file: &VectorFile) -> String {
    let doc = Doc::object([
        ("schema", Doc::Value(Value::from(FORMAT))),
        ("draft", Doc::Value(DRAFT.into())),
        ("category", Doc::Value(file.category.clone().into())),
        ("description", Doc::Value(file.description.clone().into())),
        (
            "generator",
            Doc::object([
                ("seed", Doc::Value(Value::from(file.seed))),
                ("command", Doc::Value(GENERATE_COMMAND.into())),
            ]),
        ),
        (
            "vectors",
            Doc::Array(file.vectors.iter().map(vector_doc).collect()),
        ),
    ]);
    json::to_text(&doc)
}

fn vector_doc(v: &Vector) -> Doc {
    let mut members = vec![
        ("id", Doc::Value(v.id.clone().into())),
        ("description", Doc::Value(v.description.clone().into())),
        (
            "requirements",
            Doc::Value(Value::from(v.requirements.clone())),
        ),
    ];
    if let Some(d) = &v.decision {
        members.push(("decision", Doc::Value(d.clone().into())));
    }
    members.push(("op", Doc::Value(v.op.clone().into())));
    members.push(("input", Doc::Value(v.input.clone())));
    if let Some(c) = &v.context {
        members.push(("context", Doc::Value(c.clone())));
    }
    members.push(("expect", expect_doc(&v.expect)));
    Doc::object(members)
}

fn expect_doc(expect: &Expect) -> Doc {
    match expect {
        Expect::Value(v) => Doc::object([
            ("ok", Doc::Value(Value::Bool(true))),
            ("value", Doc::Value(v.clone())),
        ]),
        Expect::Error(e) => {
            let mut error = vec![("type", Doc::Value(e.kind.clone().into()))];
            for (name, value) in [
                ("class", &e.class),
                ("parameter", &e.parameter),
                ("field", &e.field),
            ] {
                if let Some(v) = value {
                    error.push((name, Doc::Value(v.clone().into())));
                }
            }
            Doc::object([
                ("ok", Doc::Value(Value::Bool(false))),
                ("error", Doc::object(error)),
            ])
        }
    }
}

/// The vectors of one category, in file order.
fn category(category: &Category) -> Vec<Vector> {
    let mut rng = Rng::new(category.seed);
    let mut cases = Cases {
        category: category.name,
        vectors: Vec::new(),
    };
    match category.name {
        "base64url" => encoding::base64url(&mut cases, &mut rng),
        "jcs" => encoding::jcs(&mut cases, &mut rng),
        "digest" => encoding::digest(&mut cases, &mut rng),
        "challenge-parse" => challenge::parse(&mut cases, &mut rng),
        "challenge-format" => challenge::format(&mut cases, &mut rng),
        "challenge-id" => challenge::id(&mut cases, &mut rng),
        "credential" => credential::credential(&mut cases, &mut rng),
        "receipt" => credential::receipt(&mut cases, &mut rng),
        "accept-payment" => server::accept_payment(&mut cases, &mut rng),
        "problem-types" => server::problem_types(&mut cases),
        "charge-transitions" => server::charge_transitions(&mut cases, &mut rng),
        "jsonrpc" => jsonrpc::jsonrpc(&mut cases, &mut rng),
        other => unreachable!("no generator for category {other}"),
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in &cases.vectors {
        assert!(seen.insert(v.id.clone()), "duplicate vector id {}", v.id);
    }
    cases.vectors
}

/// One vector, as the generator states it (see [`case!`]). It expects `value` when
/// that is set, and otherwise an error of type `error` with the class, parameter and
/// field given.
#[derive(Debug, Default)]
pub(crate) struct Case {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) reqs: Vec<&'static str>,
    pub(crate) decision: Option<&'static str>,
    pub(crate) op: &'static str,
    pub(crate) input: Value,
    pub(crate) value: Option<Value>,
    pub(crate) error: &'static str,
    pub(crate) class: Option<&'static str>,
    pub(crate) parameter: Option<&'static str>,
    pub(crate) field: Option<&'static str>,
}

/// The vectors of one category being built.
pub(crate) struct Cases {
    category: &'static str,
    vectors: Vec<Vector>,
}

impl Cases {
    /// Adds the vector of `case` (its id prefixed with the category, its
    /// requirements without repeats).
    pub(crate) fn add(&mut self, case: Case) -> &mut Vector {
        let expect = match case.value {
            Some(value) => Expect::Value(value),
            None => {
                assert!(!case.error.is_empty(), "{} expects nothing", case.id);
                Expect::Error(ExpectedError {
                    kind: case.error.to_owned(),
                    class: case.class.map(str::to_owned),
                    parameter: case.parameter.map(str::to_owned),
                    field: case.field.map(str::to_owned),
                })
            }
        };
        let mut requirements: Vec<String> = Vec::new();
        for r in case.reqs {
            if !requirements.iter().any(|x| x == r) {
                requirements.push(r.to_owned());
            }
        }
        self.vectors.push(Vector {
            id: format!("{}.{}", self.category, case.id),
            description: case.description,
            requirements,
            decision: case.decision.map(str::to_owned),
            op: case.op.to_owned(),
            input: case.input,
            context: None,
            expect,
        });
        self.vectors.last_mut().unwrap_or_else(|| unreachable!())
    }
}

/// What a case adds to its vector after it is pushed.
pub(crate) trait Mark {
    /// Marks the project decision or erratum the expected result follows.
    fn decision(&mut self, decision: &str) -> &mut Self;
}

impl Mark for Vector {
    fn decision(&mut self, decision: &str) -> &mut Self {
        self.decision = Some(decision.to_owned());
        self
    }
}
