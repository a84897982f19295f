//! The mppx interop harness of `conformance/interop/mppx` (see its README), driven
//! from Rust tests: its offline mppx server (`server.mjs`) as a child process, and
//! one-shot `node` runs of its client and checker scripts (`pay.mjs`,
//! `validate.mjs`).
//!
//! Its dependencies are installed by `conformance/interop/mppx/setup`. Without
//! `node` on PATH or without them, [`harness_or_skip`] skips the test with a notice,
//! unless `CI` is set: then it fails, so CI never skips an interop test silently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{Drain, ServerProcess};

/// How long `server.mjs` may take to print its address.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one [`node`] run may take before it is killed.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(180);

/// The harness directory, `conformance/interop/mppx`.
pub fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/mppx")
}

/// Whether the harness in `dir` can run; `Err` says why not.
pub fn harness_ready(dir: &Path) -> Result<(), String> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Err(format!("`node --version` failed: {}", out.status)),
        Err(e) => return Err(format!("`node` is not on PATH ({e})")),
    }
    if !dir.join("node_modules/mppx/package.json").is_file() {
        return Err(format!(
            "the harness's dependencies are not installed ({} has no node_modules/mppx; \
             run conformance/interop/mppx/setup)",
            dir.canonicalize()
                .unwrap_or_else(|_| dir.to_owned())
                .display()
        ));
    }
    Ok(())
}

/// The harness directory when the harness can run. When it cannot, `test` (its
/// name) is skipped: `None`, after a notice on stderr; under CI this panics instead.
pub fn harness_or_skip(test: &str) -> Option<PathBuf> {
    let dir = harness_dir();
    let Err(why) = harness_ready(&dir) else {
        return Some(dir);
    };
    if crate::in_ci() {
        panic!(
            "{test}: the mppx interop test cannot run, and CI is set, so it fails instead \
             of skipping: {why}. CI must run conformance/interop/mppx/setup before \
             `cargo test`."
        );
    }
    // Straight to stderr: the test harness captures `eprintln!` of a passing test,
    // and the notice would never be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test} (it would fail if CI were set): {why}"
    );
    None
}

/// Starts the harness's mppx server (`node server.mjs`, on a free port) with `env`
/// added to its environment (`MPP_PREIMAGE`, `MPP_TOKEN`, `MPP_HEADER`, …; see the
/// harness's README).
pub fn start_server(dir: &Path, env: &[(&str, &str)]) -> ServerProcess {
    let mut command = Command::new("node");
    command
        .arg("server.mjs")
        .current_dir(dir)
        // Port 0: the server picks a free port and prints it.
        .env("PORT", "0")
        .envs(env.iter().copied());
    ServerProcess::start(command, STARTUP_TIMEOUT)
}

/// What a [`node`] run left behind.
#[derive(Debug)]
pub struct Run {
    /// `node ARGS…`.
    pub what: String,
    /// Its exit status, or why it has none.
    pub status: String,
    /// Whether it exited with success.
    pub success: bool,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Run {
    /// The command, its status and both outputs, for an assertion's message.
    pub fn report(&self) -> String {
        format!(
            "`{}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `node ARGS` in `dir` with `env` added, killing it after [`NODE_TIMEOUT`].
///
/// # Panics
///
/// When `node` cannot be started or waited for.
pub fn node(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let what = format!("node {}", args.join(" "));
    let mut child = Command::new("node")
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{what}`: {e}"));
    let (stdout, stderr) = (Drain::default(), Drain::default());
    let mut readers = Vec::new();
    if let Some(pipe) = child.stdout.take() {
        readers.push(stdout.clone().spawn(pipe));
    }
    if let Some(pipe) = child.stderr.take() {
        readers.push(stderr.clone().spawn(pipe));
    }
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("no exit: killed after {NODE_TIMEOUT:?}"));
            }
            Err(e) => panic!("waiting for `{what}`: {e}"),
        }
    };
    for reader in readers {
        let _ = reader.join();
    }
    let (success, status) = match status {
        Ok(s) => (s.success(), s.to_string()),
        Err(e) => (false, e),
    };
    Run {
        what,
        status,
        success,
        stdout: stdout.text(),
        stderr: stderr.text(),
    }
}
