//! A throwaway PostgreSQL cluster for one test: `initdb` into a temporary
//! directory, `postgres` on a free loopback port, stopped and removed on drop.
//!
//! PostgreSQL refuses to run as root, and CI runs the tests as root: then both
//! programs run as the `postgres` system user (through `setpriv`, which execs in
//! place, so the child's pid is the server's), in a directory that user owns.
//! The cluster trusts every local connection and runs with `fsync=off`: its data
//! need not survive a crash of the machine, and tests do not wait on the disk.
//! A stop is a fast shutdown, so the data on disk survives a stop and a start.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where the PostgreSQL programs are: the directory of `initdb` on `PATH`, else
/// the newest of Debian's `/usr/lib/postgresql/<version>/bin` (the `postgresql`
/// package does not put them on `PATH`).
fn bin_dir() -> Option<PathBuf> {
    // A link on PATH (as in /usr/local/bin) is followed to the installation it
    // points into, where the other programs (psql) are too.
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
            .and_then(|dir| std::fs::canonicalize(dir.join("initdb")).ok())
            .and_then(|initdb| initdb.parent().map(PathBuf::from))
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether PostgreSQL (`initdb` and `postgres`) is installed. When it is not,
/// under CI (`CI` set) this panics, since CI must never skip the PostgreSQL tests;
/// elsewhere it prints a notice (once) and says `false`, and the test returns
/// early.
pub fn postgres_available(test: &str) -> bool {
    if bin_dir().is_some() {
        return true;
    }
    if crate::in_ci() {
        panic!(
            "{test}: PostgreSQL (initdb, postgres) is not installed and CI is set; CI must \
             run the PostgreSQL store tests: install it (e.g. `apt-get install -y postgresql`)"
        );
    }
    // Once per test binary, straight to stderr: `eprintln!` in a passing test is
    // captured by the test harness, and the notice would never be seen.
    static NOTICE: std::sync::Once = std::sync::Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "notice: PostgreSQL (initdb, postgres) is not installed: skipping the \
             PostgreSQL store tests (first: {test}); install postgresql to run them"
        );
    });
    false
}

/// A running PostgreSQL cluster of this test's own.
#[derive(Debug)]
pub struct PostgresServer {
    port: u16,
    bin: PathBuf,
    dir: PathBuf,
    /// The system user the programs run as, when the tests run as root.
    run_as: Option<String>,
    child: Option<Child>,
}

impl PostgresServer {
    /// Creates a cluster and starts it.
    pub fn start() -> PostgresServer {
        let bin = bin_dir().expect("PostgreSQL is installed (see postgres_available)");
        let dir =
            std::env::temp_dir().join(format!("mpp-postgres-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("create the PostgreSQL directory");
        let run_as = running_as_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&dir)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown the PostgreSQL directory to {user}");
        }
        let mut server = PostgresServer {
            port: 0,
            bin,
            dir,
            run_as,
            child: None,
        };
        let output = server
            .command("initdb")
            .arg("-D")
            .arg(server.data())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // A port found free may be taken before the server binds it: try another.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("could not start postgres");
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (a fast shutdown: clients are disconnected, the data
    /// stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT is PostgreSQL's fast shutdown; a SIGKILL would leave its
            // backends and shared memory behind and delay the next start.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let waited = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(50));
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !waited {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// Starts it again on the same port, with the data it had.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..50 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("could not restart postgres on port {}", self.port);
    }

    /// Runs `sql` with `psql` in the `postgres` database and returns its output,
    /// unaligned and without headers (e.g. `"3"` for a count), trimmed.
    pub fn query(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let output = self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A PostgreSQL program, run as the `postgres` user when the tests run as root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={user}"))
                    .arg(format!("--regid={user}"))
                    .arg("--init-groups")
                    .arg("--")
                    .arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// Spawns the server and waits until it accepts connections; false if it
    /// exited (e.g. the port was taken).
    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-h", "127.0.0.1", "-p", &port, "-k"])
            .arg(&self.dir)
            .args([
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                "log_min_messages=log",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn postgres");
        // Its log says when it is ready; reading it (rather than probing the port)
        // cannot mistake another process's server for this one.
        let stderr = child.stderr.take().expect("piped stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("ready to accept connections") {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(()) => {
                self.child = Some(child);
                true
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                false
            }
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether this process runs as root (`id -u` says 0), where PostgreSQL would
/// refuse to start.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn unique() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    nanos + u128::from(NEXT.fetch_add(1, Ordering::Relaxed))
}
