//! Running vectors through an adapter and reporting the results.
//!
//! Each vector becomes one request line (`{"schema":1,"op":…,"input":…,"context":…}`)
//! and gets one response line. The comparison:
//!
//! - `ok` must be equal;
//! - for `ok: true`, the value must be equal as JSON, numbers compared as numbers
//!   (integers exactly, anything else as doubles); for `challenge.parse-all`, each
//!   element of `challenges` is itself compared as a response;
//! - for `ok: false`, the error `type` must be equal, and `class`, `parameter` and
//!   `field` must be equal when both the vector and the adapter give them (an adapter
//!   may leave them out; `message` is never compared).
//!
//! A response `{"ok":false,"error":{"type":"unsupported_operation"}}` marks the vector
//! *skipped*, not failed. A spawned adapter that hangs past the timeout is killed; one
//! that crashes, prints nothing, prints something other than JSON or exits with a
//! non-zero status fails that vector with a message saying so.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use mpp_core::time::UnixTime;

use serde_json::{Map, Value, json};

use super::{CATEGORIES, DRAFT, Vector, VectorFile};
use crate::Status;

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Adapter {
    /// This implementation's adapter, called in-process ([`crate::adapter::handle`]).
    InProcess,
    /// A command started once per vector, request on stdin, one line read from stdout.
    Command(Vec<String>),
}

impl Adapter {
    /// How the report names the adapter.
    pub fn label(&self) -> String {
        match self {
            Adapter::InProcess => "the built-in adapter (in-process)".into(),
            Adapter::Command(argv) => format!("`{}`", argv.join(" ")),
        }
    }
}

/// What to run, and how.
#[derive(Debug, Clone)]
pub struct VectorOptions {
    /// The adapter.
    pub adapter: Adapter,
    /// The longest a spawned adapter may take for one vector.
    pub timeout: Duration,
    /// Categories, vector ids or id prefixes (whole dot-separated segments) to run;
    /// empty for all.
    pub only: Vec<String>,
}

/// One vector's result, with what was expected and what came back.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The vector id.
    pub id: String,
    /// Its category.
    pub category: String,
    /// Its description.
    pub description: String,
    /// Its decision, if it follows one.
    pub decision: Option<String>,
    /// The result.
    pub status: Status,
    /// The expected response.
    pub expected: Value,
    /// The adapter's response, when it gave one that is JSON.
    pub actual: Option<Value>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
}

/// The results of a run.
#[derive(Debug, Clone)]
pub struct VectorReport {
    /// How the adapter is named.
    pub adapter: String,
    /// One outcome per vector run, in file order.
    pub outcomes: Vec<Outcome>,
    /// How long the run took.
    pub elapsed: Duration,
}

impl VectorReport {
    /// Whether any vector failed.
    pub fn failed(&self) -> bool {
        self.outcomes.iter().any(|o| o.status == Status::Failed)
    }

    fn count(&self, category: Option<&str>, status: Status) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.status == status && category.is_none_or(|c| o.category == c))
            .count()
    }

    fn categories(&self) -> Vec<String> {
        let mut names: Vec<String> = CATEGORIES.iter().map(|c| c.name.to_owned()).collect();
        for o in &self.outcomes {
            if !names.contains(&o.category) {
                names.push(o.category.clone());
            }
        }
        names.retain(|n| self.outcomes.iter().any(|o| &o.category == n));
        names
    }

    /// The text report: counts per category, then each failure with what was expected
    /// and what came back; with `verbose`, every vector and each skip's reason.
    pub fn to_text(&self, verbose: bool) -> String {
        let mut out = format!("Vectors of {DRAFT}, run against {}\n\n", self.adapter);
        for category in self.categories() {
            let counts = [Status::Passed, Status::Failed, Status::Skipped]
                .into_iter()
                .map(|s| (self.count(Some(&category), s), s.as_str()))
                .filter(|(n, s)| *n > 0 || *s == "passed")
                .map(|(n, s)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!("  {category:<20} {counts}\n"));
            if verbose {
                for o in self.outcomes.iter().filter(|o| o.category == category) {
                    let mark = o.status.mark();
                    out.push_str(&format!("    {mark} {} {}\n", o.id, o.description));
                    if let (Status::Skipped, Some(reason)) = (o.status, &o.reason) {
                        out.push_str(&format!("        {reason}\n"));
                    }
                }
            }
        }
        let failures: Vec<&Outcome> = self
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Failed)
            .collect();
        if !failures.is_empty() {
            out.push_str("\nFailures:\n");
            for o in failures {
                let decision = o
                    .decision
                    .as_ref()
                    .map(|d| format!(" [decision {d}]"))
                    .unwrap_or_default();
                out.push_str(&format!("  × {}{decision}: {}\n", o.id, o.description));
                out.push_str(&format!(
                    "      Expected: {}\n",
                    clip(&o.expected.to_string())
                ));
                match &o.actual {
                    Some(actual) => {
                        out.push_str(&format!("        Actual: {}\n", clip(&actual.to_string())))
                    }
                    None => out.push_str("        Actual: no response\n"),
                }
                if let Some(reason) = &o.reason {
                    out.push_str(&format!("        Reason: {reason}\n"));
                }
            }
        }
        out.push_str(&format!(
            "\n{} vectors: {} passed, {} failed, {} skipped ({:.2} s)\n",
            self.outcomes.len(),
            self.count(None, Status::Passed),
            self.count(None, Status::Failed),
            self.count(None, Status::Skipped),
            self.elapsed.as_secs_f64()
        ));
        out
    }

    /// The JSON report: `{"draft", "adapter", "summary", "categories", "vectors"}`.
    pub fn to_json(&self) -> Value {
        let categories: Vec<Value> = self
            .categories()
            .iter()
            .map(|c| {
                json!({
                    "category": c,
                    "passed": self.count(Some(c), Status::Passed),
                    "failed": self.count(Some(c), Status::Failed),
                    "skipped": self.count(Some(c), Status::Skipped),
                })
            })
            .collect();
        let vectors: Vec<Value> = self
            .outcomes
            .iter()
            .map(|o| {
                let mut v = Map::new();
                v.insert("id".into(), o.id.clone().into());
                v.insert("category".into(), o.category.clone().into());
                v.insert("status".into(), o.status.as_str().into());
                if let Some(d) = &o.decision {
                    v.insert("decision".into(), d.clone().into());
                }
                if o.status != Status::Passed {
                    v.insert("expected".into(), o.expected.clone());
                    if let Some(a) = &o.actual {
                        v.insert("actual".into(), a.clone());
                    }
                    if let Some(r) = &o.reason {
                        v.insert("reason".into(), r.clone().into());
                    }
                }
                Value::Object(v)
            })
            .collect();
        json!({
            "draft": DRAFT,
            "adapter": self.adapter,
            "summary": {
                "total": self.outcomes.len(),
                "passed": self.count(None, Status::Passed),
                "failed": self.count(None, Status::Failed),
                "skipped": self.count(None, Status::Skipped),
                "seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            },
            "categories": categories,
            "vectors": vectors,
        })
    }
}

fn clip(text: &str) -> String {
    const MAX: usize = 2000;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text.to_owned(),
    }
}

/// The vectors `only` selects (all when it is empty), with their category. An item
/// matches a category name, a vector id, or an id prefix made of whole segments
/// (`challenge-parse.error`). An item that matches nothing is an error.
pub fn select<'f>(
    files: &'f [VectorFile],
    only: &[String],
) -> Result<Vec<(&'f str, &'f Vector)>, String> {
    let matches = |item: &str, category: &str, id: &str| {
        item == category
            || id == item
            || id
                .strip_prefix(item)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    for item in only {
        let found = files
            .iter()
            .any(|f| f.vectors.iter().any(|v| matches(item, &f.category, &v.id)));
        if !found {
            return Err(format!(
                "--only {item:?}: no such category, vector id or id prefix"
            ));
        }
    }
    Ok(files
        .iter()
        .flat_map(|f| f.vectors.iter().map(move |v| (f.category.as_str(), v)))
        .filter(|(category, v)| {
            only.is_empty() || only.iter().any(|item| matches(item, category, &v.id))
        })
        .collect())
}

/// Runs the selected vectors. Fails (a usage error) only when `only` selects nothing.
pub fn run(files: &[VectorFile], options: &VectorOptions) -> Result<VectorReport, String> {
    let selected = select(files, &options.only)?;
    let started = Instant::now();
    let outcomes = selected
        .into_iter()
        .map(|(category, vector)| {
            let response = match &options.adapter {
                Adapter::InProcess => Ok(crate::adapter::handle(
                    &vector.request(),
                    UnixTime::from(SystemTime::now()),
                )),
                Adapter::Command(argv) => call(argv, &vector.request(), options.timeout),
            };
            let (status, actual, reason) = match response {
                Ok(line) => check(vector, &line),
                Err(reason) => (Status::Failed, None, Some(reason)),
            };
            Outcome {
                id: vector.id.clone(),
                category: category.to_owned(),
                description: vector.description.clone(),
                decision: vector.decision.clone(),
                status,
                expected: vector.expect.to_json(),
                actual,
                reason,
            }
        })
        .collect();
    Ok(VectorReport {
        adapter: options.adapter.label(),
        outcomes,
        elapsed: started.elapsed(),
    })
}

/// Judges one response line against a vector.
pub fn check(vector: &Vector, line: &str) -> (Status, Option<Value>, Option<String>) {
    let actual: Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(e) => {
            return (
                Status::Failed,
                None,
                Some(format!("the response is not JSON ({e}): {}", clip(line))),
            );
        }
    };
    let expected = vector.expect.to_json();
    let unsupported = actual.get("ok") == Some(&Value::Bool(false))
        && actual.pointer("/error/type") == Some(&Value::from("unsupported_operation"));
    if unsupported && expected.pointer("/error/type") != Some(&Value::from("unsupported_operation"))
    {
        let reason = format!("the adapter does not support {}", vector.op);
        return (Status::Skipped, Some(actual), Some(reason));
    }
    match compare_response(&expected, &actual, &vector.op) {
        Ok(()) => (Status::Passed, Some(actual), None),
        Err(reason) => (Status::Failed, Some(actual), Some(reason)),
    }
}

/// Compares a response (or one element of `challenge.parse-all`) with its expectation.
fn compare_response(expected: &Value, actual: &Value, op: &str) -> Result<(), String> {
    let Some(ok) = actual.get("ok").and_then(Value::as_bool) else {
        return Err("the response has no boolean `ok`".into());
    };
    let expected_ok = expected.get("ok").and_then(Value::as_bool).unwrap_or(false);
    if ok != expected_ok {
        return Err(format!("expected ok={expected_ok}, got ok={ok}"));
    }
    if ok {
        let (want, got) = (
            &expected["value"],
            actual.get("value").unwrap_or(&Value::Null),
        );
        if op == "challenge.parse-all" {
            return compare_each(want, got);
        }
        return if json_eq(want, got) {
            Ok(())
        } else {
            Err("the value differs".into())
        };
    }
    let want = &expected["error"];
    let got = actual.get("error").unwrap_or(&Value::Null);
    let kind = got.get("type").and_then(Value::as_str);
    if kind != want["type"].as_str() {
        return Err(format!(
            "expected error type {}, got {}",
            want["type"],
            kind.map_or("none".into(), |k| format!("{k:?}"))
        ));
    }
    for name in ["class", "parameter", "field"] {
        if let (Some(w), Some(g)) = (want.get(name), got.get(name)) {
            if w != g {
                return Err(format!("expected error {name} {w}, got {g}"));
            }
        }
    }
    Ok(())
}

/// `challenge.parse-all`: the same number of challenges, each compared as a response.
fn compare_each(want: &Value, got: &Value) -> Result<(), String> {
    let (Some(want), Some(got)) = (
        want.get("challenges").and_then(Value::as_array),
        got.get("challenges").and_then(Value::as_array),
    ) else {
        return Err("the value has no `challenges` array".into());
    };
    if want.len() != got.len() {
        return Err(format!(
            "expected {} challenges, got {}",
            want.len(),
            got.len()
        ));
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        compare_response(w, g, "").map_err(|e| format!("challenge {i}: {e}"))?;
    }
    Ok(())
}

/// JSON equality with numbers compared as numbers: integers exactly, any other pair
/// as doubles (`1` equals `1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Runs `argv` once: writes `request` and a newline to its stdin, reads the first
/// line of its stdout, and waits for it to exit, all within `timeout`.
fn call(argv: &[String], request: &str, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        // Its own process group, so a timeout also ends what it started.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the adapter {:?}: {e}", argv[0]))?;

    // The pipes are served by threads, so a silent or stuck adapter cannot block us.
    if let Some(mut stdin) = child.stdin.take() {
        let request = format!("{request}\n");
        thread::spawn(move || {
            // An adapter that does not read its input is judged by its output.
            let _ = stdin.write_all(request.as_bytes());
        });
    }
    let (line_tx, line_rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            let read = reader.read_until(b'\n', &mut line).map(|_| line);
            let _ = line_tx.send(read);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
    }
    let (err_tx, err_rx) = mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        thread::spawn(move || {
            let mut stderr = stderr;
            let mut text = Vec::new();
            let _ = (&mut stderr).take(4096).read_to_end(&mut text);
            let _ = err_tx.send(text);
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        });
    }
    let stderr_text = |rx: &mpsc::Receiver<Vec<u8>>| {
        let text = rx
            .recv_timeout(Duration::from_millis(200))
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&text).trim().to_owned();
        if text.is_empty() {
            String::new()
        } else {
            format!("; stderr: {}", clip(&text))
        }
    };
    let seconds = timeout.as_secs_f64();

    let line = match line_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            kill(&mut child);
            return Err(format!("cannot read the adapter's output: {e}"));
        }
        Err(_) => {
            kill(&mut child);
            return Err(format!(
                "the adapter gave no answer within {seconds} s and was killed"
            ));
        }
    };
    let Some(status) = wait_until(&mut child, deadline) else {
        kill(&mut child);
        return Err(format!(
            "the adapter answered but had not exited after {seconds} s and was killed"
        ));
    };
    let line = String::from_utf8_lossy(&line).trim_end().to_owned();
    if line.is_empty() {
        return Err(format!(
            "the adapter exited ({status}) without printing a response{}",
            stderr_text(&err_rx)
        ));
    }
    if !status.success() {
        return Err(format!(
            "the adapter exited with {status} after printing {}{}",
            clip(&line),
            stderr_text(&err_rx)
        ));
    }
    Ok(line)
}

/// Waits for `child` to exit, until `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let mut pause = Duration::from_micros(100);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Kills the adapter and everything in its process group, and reaps it.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        // std cannot signal a process group; kill(1) can. It only targets the group
        // this runner created for the adapter.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_as_numbers() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(json_eq(&json!({"a": [1.5, 2]}), &json!({"a": [1.5, 2.0]})));
        assert!(!json_eq(
            &json!(9007199254740993u64),
            &json!(9007199254740992u64)
        ));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_eq(&json!("1"), &json!(1)));
    }
}
