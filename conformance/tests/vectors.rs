//! The language-neutral vectors: the committed files follow `spec/vectors/schema.json`,
//! cite known requirements and decisions, and this implementation's adapter passes
//! every one of them, in-process and as a spawned command; broken adapters are
//! reported, never waited on forever. (That the files are exactly what the generator
//! writes is checked by the generator's package, `conformance/vectors-gen`.)

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use conformance::Status;
use conformance::adapter::OPERATIONS;
use conformance::vectors::run::{self, Adapter, VectorOptions, VectorReport};
use conformance::vectors::{self, CATEGORIES, Expect, ExpectedError, Vector, VectorFile};
use serde_json::{Value, json};
use spec::{Registry, workspace_root};

const BIN: &str = env!("CARGO_BIN_EXE_mpp-conformance");

fn vector_dir() -> PathBuf {
    workspace_root()
        .join("spec/vectors")
        .join(vectors::DRAFT_DIR)
}

fn committed() -> Vec<VectorFile> {
    vectors::load_dir(&vector_dir()).unwrap()
}

/// The committed files' text, in [`CATEGORIES`] order (the generator package checks
/// that they are exactly what it writes).
fn texts() -> Vec<(String, String)> {
    CATEGORIES
        .iter()
        .map(|c| {
            let path = vector_dir().join(c.file_name());
            (c.file_name(), std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

#[test]
fn the_files_are_compiled_in() {
    let on_disk = committed();
    let embedded = vectors::load_embedded().unwrap();
    assert_eq!(embedded.len(), on_disk.len());
    for file in &embedded {
        let same = on_disk.iter().find(|f| f.category == file.category);
        assert!(
            same == Some(file),
            "the compiled-in {} differs from the file",
            file.category
        );
    }
}

#[test]
fn files_stay_reviewable() {
    let files = committed();
    let total: usize = texts().iter().map(|(_, t)| t.len()).sum();
    let count: usize = files.iter().map(|f| f.vectors.len()).sum();
    assert!(total <= 400 * 1024, "{total} bytes of vectors");
    assert!((300..=700).contains(&count), "{count} vectors");
}

// -- schema --------------------------------------------------------------------

/// A validator for the JSON Schema keywords `spec/vectors/schema.json` uses, and only
/// those: any other keyword fails the test rather than being ignored.
struct Schema<'s> {
    root: &'s Value,
}

impl Schema<'_> {
    fn check(&self, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.validate(self.root, value, "$", &mut errors);
        errors
    }

    fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return errors.push(format!("{at}: nothing is allowed")),
            Value::Object(schema) => schema,
            other => panic!("not a schema: {other}"),
        };
        for (keyword, arg) in schema {
            match keyword.as_str() {
                "$schema" | "$id" | "title" | "description" | "$comment" | "$defs" => {}
                "$ref" => {
                    let name = arg
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/$defs/"))
                        .unwrap_or_else(|| panic!("only #/$defs/ references: {arg}"));
                    let target = &self.root["$defs"][name];
                    assert!(!target.is_null(), "no $defs/{name}");
                    self.validate(target, value, at, errors);
                }
                "type" => {
                    let ok = match arg.as_str().expect("one type name") {
                        "object" => value.is_object(),
                        "array" => value.is_array(),
                        "string" => value.is_string(),
                        "integer" => value.is_i64() || value.is_u64(),
                        "number" => value.is_number(),
                        "boolean" => value.is_boolean(),
                        "null" => value.is_null(),
                        other => panic!("unknown type {other}"),
                    };
                    if !ok {
                        errors.push(format!("{at}: not of type {arg}"));
                    }
                }
                "properties" => {
                    if let Some(object) = value.as_object() {
                        for (name, sub) in arg.as_object().unwrap() {
                            if let Some(member) = object.get(name) {
                                self.validate(sub, member, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = value.as_object() {
                        let known = schema.get("properties").and_then(Value::as_object);
                        for (name, member) in object {
                            if known.is_none_or(|k| !k.contains_key(name)) {
                                self.validate(arg, member, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "required" => {
                    if let Some(object) = value.as_object() {
                        for name in arg.as_array().unwrap() {
                            let name = name.as_str().unwrap();
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: `{name}` is required"));
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (i, item) in items.iter().enumerate() {
                            self.validate(arg, item, &format!("{at}[{i}]"), errors);
                        }
                    }
                }
                "minItems" => {
                    if value.as_array().is_some_and(|a| a.len() < as_len(arg)) {
                        errors.push(format!("{at}: fewer than {arg} items"));
                    }
                }
                "minLength" => {
                    if value
                        .as_str()
                        .is_some_and(|s| s.chars().count() < as_len(arg))
                    {
                        errors.push(format!("{at}: shorter than {arg}"));
                    }
                }
                "enum" => {
                    if !arg.as_array().unwrap().contains(value) {
                        errors.push(format!("{at}: {value} is not one of {arg}"));
                    }
                }
                "const" => {
                    if arg != value {
                        errors.push(format!("{at}: {value} is not {arg}"));
                    }
                }
                "oneOf" => {
                    let passing = arg
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|sub| {
                            let mut e = Vec::new();
                            self.validate(sub, value, at, &mut e);
                            e.is_empty()
                        })
                        .count();
                    if passing != 1 {
                        errors.push(format!("{at}: matches {passing} of oneOf, not 1"));
                    }
                }
                other => panic!("the test's validator does not implement `{other}`"),
            }
        }
    }
}

fn as_len(v: &Value) -> usize {
    usize::try_from(v.as_u64().unwrap()).unwrap()
}

fn schema_text() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("spec/vectors/schema.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn every_file_follows_the_schema() {
    let schema = schema_text();
    let validator = Schema { root: &schema };
    for (name, text) in &texts() {
        let value: Value = serde_json::from_str(text).unwrap();
        let errors = validator.check(&value);
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
    }
    // The schema's enums name exactly the categories and the operations vectors use.
    let categories: Vec<&str> = schema["properties"]["category"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        CATEGORIES.iter().map(|c| c.name).collect::<Vec<_>>()
    );
    for op in schema["$defs"]["vector"]["properties"]["op"]["enum"]
        .as_array()
        .unwrap()
    {
        assert!(OPERATIONS.contains(&op.as_str().unwrap()), "{op}");
    }
}

#[test]
fn the_schema_validator_rejects_what_it_should() {
    let schema = schema_text();
    let validator = Schema { root: &schema };
    let (_, text) = &texts()[0];
    let good: Value = serde_json::from_str(text).unwrap();
    assert!(validator.check(&good).is_empty());
    type Edit = fn(&mut Value);
    let broken: [(&str, Edit); 7] = [
        ("wrong schema", |v| v["schema"] = json!(2)),
        ("unknown member", |v| v["extra"] = json!(1)),
        ("unknown category", |v| v["category"] = json!("nope")),
        ("no vectors", |v| v["vectors"] = json!([])),
        ("vector without id", |v| {
            v["vectors"][0].as_object_mut().unwrap().remove("id");
        }),
        ("bad expect", |v| {
            v["vectors"][0]["expect"] = json!({"ok": false, "value": 1})
        }),
        ("bad error type", |v| {
            v["vectors"][0]["expect"] = json!({"ok": false, "error": {"type": "oops"}})
        }),
    ];
    for (what, edit) in broken {
        let mut value = good.clone();
        edit(&mut value);
        assert!(!validator.check(&value).is_empty(), "{what}");
    }
}

// -- what the vectors cite ------------------------------------------------------

#[test]
fn ids_are_unique_well_formed_and_in_their_category() {
    let segment = |s: &str| {
        !s.is_empty()
            && s.split('-').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    };
    let mut seen = BTreeSet::new();
    let files = committed();
    assert_eq!(files.len(), CATEGORIES.len());
    for file in &files {
        assert!(vectors::category(&file.category).is_some());
        for v in &file.vectors {
            assert!(seen.insert(v.id.clone()), "duplicate id {}", v.id);
            let segments: Vec<&str> = v.id.split('.').collect();
            assert!(segments.len() >= 2, "{}", v.id);
            assert_eq!(segments[0], file.category, "{}", v.id);
            assert!(segments.iter().all(|s| segment(s)), "{}", v.id);
            assert!(OPERATIONS.contains(&v.op.as_str()), "{}: {}", v.id, v.op);
            assert!(!v.description.contains('\n'), "{}", v.id);
        }
    }
}

#[test]
fn cited_requirements_and_decisions_exist() {
    let registry = Registry::load(&workspace_root()).unwrap_or_else(|e| panic!("{e}"));
    let errata = std::fs::read_to_string(workspace_root().join("spec/ERRATA.md")).unwrap();
    let decisions = std::fs::read_to_string(workspace_root().join("spec/DECISIONS.md")).unwrap();
    let mut cited = BTreeSet::new();
    for file in committed() {
        for v in &file.vectors {
            for r in &v.requirements {
                assert!(
                    registry.get(r).is_some(),
                    "{}: unknown requirement {r}",
                    v.id
                );
                cited.insert(r.clone());
            }
            if let Some(d) = &v.decision {
                // An anchor of spec/DECISIONS.md (D…) or spec/ERRATA.md (E…).
                let heading = format!("\n## {d}. ");
                let known = match d.chars().next() {
                    Some('D') => decisions.contains(&heading),
                    Some('E') => errata.contains(&heading),
                    _ => false,
                };
                assert!(known, "{}: unknown decision {d}", v.id);
            }
        }
    }
    assert!(cited.len() >= 60, "only {} requirements cited", cited.len());
}

// -- running in-process ---------------------------------------------------------

fn run_in_process(only: &[&str]) -> VectorReport {
    let options = VectorOptions {
        adapter: Adapter::InProcess,
        timeout: Duration::from_secs(10),
        only: only.iter().map(|s| (*s).to_owned()).collect(),
    };
    let report = run::run(&committed(), &options).unwrap();
    assert!(!report.failed(), "{}", report.to_text(false));
    assert!(
        report.outcomes.iter().all(|o| o.status == Status::Passed),
        "{}",
        report.to_text(true)
    );
    report
}

#[test]
fn the_built_in_adapter_passes_every_vector() {
    let started = Instant::now();
    let report = run_in_process(&[]);
    let count: usize = committed().iter().map(|f| f.vectors.len()).sum();
    assert_eq!(report.outcomes.len(), count);
    eprintln!(
        "{count} vectors in-process in {:.3} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn vectors_base64url_and_jcs() {
    // req: core.challenge.request.no-padding core.challenge.request.jcs
    run_in_process(&["base64url", "jcs"]);
}

#[test]
fn vectors_challenge_parse() {
    // req: core.grammar.challenge.list core.grammar.scheme.case-insensitive core.grammar.scheme.space
    // req: core.grammar.param.name-case core.grammar.param.value-forms core.grammar.param.whitespace
    // req: core.grammar.param.quoted-string core.grammar.param.unique core.grammar.expires.rfc3339
    // req: core.grammar.intent.token core.challenge.required-params core.challenge.id.reject-empty
    // req: core.challenge.unknown-params core.challenge.request.json core.challenge.method.case-sensitive
    // req: core.versioning.ignore-unknown
    run_in_process(&["challenge-parse"]);
}

#[test]
fn vectors_challenge_format_and_id() {
    // req: core.grammar.param.no-bws core.challenge.request.jcs core.challenge.request.no-padding
    // req: core.challenge.header.value core.challenge.id.non-empty core.binding.hmac.recipe
    // req: core.binding.id.bound core.binding.header.bound core.binding.hmac.header-slot
    // req: core.binding.opaque.bound
    run_in_process(&["challenge-format", "challenge-id"]);
}

#[test]
fn vectors_credential_and_receipt() {
    // req: core.credential.structure core.grammar.credential.form core.grammar.receipt.form
    // req: core.receipt.status-success core.versioning.ignore-unknown
    run_in_process(&["credential", "receipt"]);
}

#[test]
fn vectors_digest_accept_payment_and_problem_types() {
    // req: core.digest.verify core.grammar.accept-payment core.accept-payment.filter
    // req: core.accept-payment.order core.accept-payment.ties core.accept-payment.specific
    // req: core.errors.problem-type
    run_in_process(&["digest", "accept-payment", "problem-types"]);
}

#[test]
fn vectors_charge_transitions() {
    // req: core.replay.single-use-proof charge.replay.id-single-use charge.replay.credential-once
    // req: charge.verify.expiry charge.verify.amount charge.verify.recipient core.binding.echo-mismatch
    // req: core.binding.verify core.challenge.description.not-verified
    run_in_process(&["charge-transitions"]);
}

#[test]
fn vectors_jsonrpc() {
    // req: mcp.challenge.request-object mcp.challenge.members mcp.challenge.request-jcs.client
    // req: mcp.challenge.request-jcs.server mcp.challenge.id-binding mcp.credential.members
    // req: mcp.credential.both-placements mcp.errors.codes mcp.receipt.members mcp.challenge.code
    // req: mcp.challenge.list mcp.errors.verification-failed mcp.errors.retry.client
    run_in_process(&["jsonrpc"]);
}

// -- comparison -----------------------------------------------------------------

fn vector(op: &str, expect: Expect) -> Vector {
    Vector {
        id: "test.vector".into(),
        description: "a test".into(),
        requirements: vec![],
        decision: None,
        op: op.into(),
        input: json!({}),
        context: None,
        expect,
    }
}

fn parse_error(class: Option<&str>, parameter: Option<&str>) -> Expect {
    Expect::Error(ExpectedError {
        kind: "parse_error".into(),
        class: class.map(str::to_owned),
        parameter: parameter.map(str::to_owned),
        field: None,
    })
}

#[test]
fn comparison_rules() {
    let status = |v: &Vector, line: &str| run::check(v, line).0;
    let value = vector("x.op", Expect::Value(json!({"n": 1, "a": [1.5]})));
    assert_eq!(
        status(&value, r#"{"ok":true,"value":{"a":[1.5],"n":1.0}}"#),
        Status::Passed
    );
    assert_eq!(
        status(&value, r#"{"ok":true,"value":{"a":[1.5],"n":2}}"#),
        Status::Failed
    );
    assert_eq!(
        status(&value, r#"{"ok":false,"error":{"type":"parse_error"}}"#),
        Status::Failed
    );
    assert_eq!(status(&value, "not json"), Status::Failed);
    assert_eq!(
        status(
            &value,
            r#"{"ok":false,"error":{"type":"unsupported_operation"}}"#
        ),
        Status::Skipped
    );

    let error = vector(
        "x.op",
        parse_error(Some("missing-parameter"), Some("realm")),
    );
    for (line, expected) in [
        (
            r#"{"ok":false,"error":{"type":"parse_error"}}"#,
            Status::Passed,
        ),
        (
            r#"{"ok":false,"error":{"type":"parse_error","class":"missing-parameter","message":"any"}}"#,
            Status::Passed,
        ),
        (
            r#"{"ok":false,"error":{"type":"parse_error","class":"empty-parameter"}}"#,
            Status::Failed,
        ),
        (
            r#"{"ok":false,"error":{"type":"parse_error","parameter":"id"}}"#,
            Status::Failed,
        ),
        (
            r#"{"ok":false,"error":{"type":"format_error"}}"#,
            Status::Failed,
        ),
    ] {
        assert_eq!(status(&error, line), expected, "{line}");
    }

    let all = vector(
        "challenge.parse-all",
        Expect::Value(json!({"challenges": [
            {"ok": false, "error": {"type": "parse_error", "class": "missing-parameter"}},
            {"ok": true, "value": {"id": "a"}},
        ]})),
    );
    assert_eq!(
        status(
            &all,
            r#"{"ok":true,"value":{"challenges":[{"ok":false,"error":{"type":"parse_error","message":"m"}},{"ok":true,"value":{"id":"a"}}]}}"#
        ),
        Status::Passed
    );
    assert_eq!(
        status(
            &all,
            r#"{"ok":true,"value":{"challenges":[{"ok":false,"error":{"type":"parse_error","class":"other"}},{"ok":true,"value":{"id":"a"}}]}}"#
        ),
        Status::Failed
    );
    assert_eq!(
        status(
            &all,
            r#"{"ok":true,"value":{"challenges":[{"ok":true,"value":{"id":"a"}}]}}"#
        ),
        Status::Failed
    );
}

// -- the CLI and spawned adapters ----------------------------------------------

/// `CMD` as one shell-quoted word.
fn quoted(path: &str) -> String {
    format!("'{}'", path.replace('\'', r"'\''"))
}

fn cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("vectors")
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_adapter_binary_passes_every_vector_when_spawned() {
    let report = std::env::temp_dir().join(format!("mpp-vectors-{}.json", std::process::id()));
    let adapter = format!("{} adapter", quoted(BIN));
    let started = Instant::now();
    let out = cli(&["--adapter", &adapter, "--json", report.to_str().unwrap()]);
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 failed, 0 skipped"), "{stdout}");
    for c in CATEGORIES {
        assert!(stdout.contains(c.name), "{stdout}");
    }
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let _ = std::fs::remove_file(&report);
    let count: usize = committed().iter().map(|f| f.vectors.len()).sum();
    assert_eq!(json["summary"]["total"], count);
    assert_eq!(json["summary"]["passed"], count);
    assert_eq!(
        json["categories"].as_array().unwrap().len(),
        CATEGORIES.len()
    );
    eprintln!(
        "{count} vectors through `mpp-conformance adapter` in {:.2} s",
        elapsed.as_secs_f64()
    );
}

#[test]
fn the_default_run_uses_the_compiled_in_vectors_and_only_selects() {
    let out = cli(&["--only", "problem-types,jcs.rfc8785", "-v"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("problem-types        14 passed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("jcs                  26 passed"),
        "{stdout}"
    );
    assert!(stdout.contains("✔ jcs.rfc8785.section-3-2-2"), "{stdout}");
    assert!(!stdout.contains("base64url"), "{stdout}");
    let dir = vector_dir();
    let out = cli(&[
        "--dir",
        dir.to_str().unwrap(),
        "--only",
        "digest.verify.error",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("9 passed"));
}

/// Runs one vector against a fake adapter written in sh.
fn broken(script: &str, extra: &[&str]) -> (Output, Duration) {
    let adapter = format!("sh -c {}", quoted(script));
    let mut args = vec![
        "--adapter",
        adapter.as_str(),
        "--only",
        "base64url.rfc4648.encode-foo",
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = cli(&args);
    (out, started.elapsed())
}

#[test]
fn a_wrong_answer_fails_with_expected_and_actual() {
    let (out, _) = broken(
        r#"cat >/dev/null; echo '{"ok":true,"value":{"text":"wrong"}}'"#,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("× base64url.rfc4648.encode-foo"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"Expected: {"ok":true,"value":{"text":"Zm9v"}}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"Actual: {"ok":true,"value":{"text":"wrong"}}"#),
        "{stdout}"
    );
    assert!(stdout.contains("Reason: the value differs"), "{stdout}");
    assert!(stdout.contains("1 failed"), "{stdout}");
}

#[test]
fn a_hung_adapter_is_killed_at_the_timeout() {
    let (out, elapsed) = broken("sleep 30", &["--timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the adapter gave no answer within 0.5 s and was killed"),
        "{stdout}"
    );
}

#[test]
fn an_adapter_that_answers_but_hangs_is_killed_too() {
    let (out, elapsed) = broken(
        r#"echo '{"ok":true,"value":{"text":"Zm9v"}}'; sleep 30"#,
        &["--timeout", "0.5"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("had not exited after 0.5 s"),
        "{}",
        text(&out)
    );
}

#[test]
fn silent_crashing_and_garbled_adapters_fail_clearly() {
    let (out, _) = broken("exit 3", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("the adapter exited (exit status: 3) without printing a response"),
        "{}",
        text(&out)
    );

    let (out, _) = broken("echo 'thread main panicked' >&2; exit 101", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("exit status: 101"), "{stdout}");
    assert!(stdout.contains("stderr: thread main panicked"), "{stdout}");

    let (out, _) = broken("echo not json", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the response is not JSON"),
        "{}",
        text(&out)
    );

    let out = cli(&[
        "--adapter",
        "/nonexistent/adapter",
        "--only",
        "base64url.rfc4648.encode-foo",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cannot start the adapter"),
        "{}",
        text(&out)
    );
}

#[test]
fn unsupported_operations_are_skipped_not_failed() {
    let (out, _) = broken(
        r#"echo '{"ok":false,"error":{"type":"unsupported_operation","message":"no"}}'"#,
        &["-v"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 skipped"), "{stdout}");
    assert!(
        stdout.contains("the adapter does not support base64url.encode"),
        "{stdout}"
    );
}

#[test]
fn usage_errors_exit_64() {
    for args in [
        &["--only", "no-such-category"][..],
        &["--only", "challenge-parse.err"],
        &["--adapter", "'unterminated"],
        &["--adapter", "node a.js | tee log"],
        &["--dir", "/nonexistent/vectors"],
        &["--timeout", "0"],
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("mpp-conformance vectors:"),
            "{args:?}"
        );
    }
}
