//! The reference server as a real process (the `mpp-server` binary): started on a
//! free loopback port, killed (SIGKILL) on demand or on drop.

#![allow(dead_code, unreachable_pub)]

use std::process::Command;
use std::time::Duration;

pub use mpp_test_support::process::ServerProcess;

/// Starts `mpp-server --listen 127.0.0.1:0 ARGS…` and waits for its address.
pub fn start(args: &[&str]) -> ServerProcess {
    start_on("127.0.0.1:0", args)
}

/// Starts `mpp-server --listen LISTEN ARGS…` (a server restarted at the origin it
/// had, say) and waits for its address.
pub fn start_on(listen: &str, args: &[&str]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpp-server"));
    command.args(["--listen", listen]).args(args);
    ServerProcess::start(command, Duration::from_secs(30))
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
