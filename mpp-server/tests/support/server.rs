//! The reference server as a real process: started on a free loopback port, killed
//! (SIGKILL) on demand or on drop.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `mpp-server`.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl ServerProcess {
    /// Starts `mpp-server --listen 127.0.0.1:0 ARGS…` and waits for its address.
    pub fn start(args: &[&str]) -> ServerProcess {
        ServerProcess::start_on("127.0.0.1:0", args)
    }

    /// Starts `mpp-server --listen LISTEN ARGS…` (a server restarted at the origin it
    /// had, say) and waits for its address.
    pub fn start_on(listen: &str, args: &[&str]) -> ServerProcess {
        let bin = env!("CARGO_BIN_EXE_mpp-server");
        let mut child = Command::new(bin)
            .args(["--listen", listen])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let mut server = ServerProcess {
            child,
            base: String::new(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("mpp-server {args:?} did not start"));
        server.base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        server
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

/// A fresh path for a SQLite file named after `name` in the test target's scratch
/// folder, with any file of an earlier run (and its WAL) removed.
pub fn state_file(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}-{}.sqlite3", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}
