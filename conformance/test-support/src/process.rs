//! A server run as a child process: started, found by the first line it prints on
//! stdout (`listening on URL`, as the reference server and the mppx harness's
//! server print it), and killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

/// Collects everything a child writes to one of its pipes, in a thread, so the child
/// never blocks on a full pipe and a failing test can show what it said.
#[derive(Clone, Debug, Default)]
pub struct Drain(Arc<Mutex<String>>);

impl Drain {
    /// Reads `pipe` to its end in a new thread.
    pub fn spawn(self, pipe: impl Read + Send + 'static) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&line);
                line.clear();
            }
        })
    }

    /// What was read so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A running server process, killed (SIGKILL on Unix) when dropped, also when the
/// test panics.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// The address it printed, without a trailing `/`: `http://127.0.0.1:PORT`.
    pub base: String,
    stderr: Drain,
}

impl ServerProcess {
    /// Spawns `command` (stdin closed, stdout and stderr piped) and waits at most
    /// `timeout` for its first stdout line, `listening on URL`. The rest of stdout
    /// is read and dropped; stderr is kept for [`ServerProcess::stderr`].
    ///
    /// # Panics
    ///
    /// When the process cannot start, prints something else first, or prints
    /// nothing in time; the message has the process's stderr.
    pub fn start(mut command: Command, timeout: Duration) -> ServerProcess {
        let what = describe(&command);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let stderr = Drain::default();
        if let Some(pipe) = child.stderr.take() {
            stderr.clone().spawn(pipe);
        }
        let stdout = child.stdout.take();
        // The guard exists before the first line is awaited, so a panic below kills it.
        let mut server = ServerProcess {
            child,
            base: String::new(),
            stderr,
        };
        let Some(stdout) = stdout else {
            panic!("`{what}`: stdout is not piped")
        };
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let _ = tx.send(reader.read_line(&mut first).map(|_| first));
            let mut rest = String::new();
            while matches!(reader.read_line(&mut rest), Ok(n) if n > 0) {
                rest.clear();
            }
        });
        let first = match rx.recv_timeout(timeout) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => panic!("reading the stdout of `{what}`: {e}"),
            Err(_) => panic!(
                "`{what}` printed no address within {timeout:?}; stderr:\n{}",
                server.stderr()
            ),
        };
        let Some(base) = first.trim().strip_prefix("listening on ") else {
            // Give a crashing process a moment to finish its message.
            thread::sleep(Duration::from_millis(200));
            panic!(
                "the first stdout line of `{what}` is {first:?}, not `listening on URL` \
                 (exit: {:?}); stderr:\n{}",
                server.child.try_wait(),
                server.stderr()
            );
        };
        server.base = base.trim_end_matches('/').to_owned();
        server
    }

    /// `base` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Kills the process at once (SIGKILL on Unix): no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `PROGRAM ARG…`, for messages.
fn describe(command: &Command) -> String {
    let mut out = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        out.push(' ');
        out.push_str(&arg.to_string_lossy());
    }
    out
}
