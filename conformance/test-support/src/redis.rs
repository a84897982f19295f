//! A throwaway `redis-server` for one test: on a free loopback port, without
//! persistence, in a temporary directory, killed on drop; plain TCP, or TLS only
//! with a self-signed certificate made for it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Whether `redis-server` is on `PATH`. When it is not, under CI (`CI` set) this
/// panics, since CI must never skip the Redis tests; elsewhere it prints a notice
/// (once) and says `false`, and the test returns early.
pub fn redis_server_available(test: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("redis-server").is_file())
    });
    if found {
        return true;
    }
    if crate::in_ci() {
        panic!(
            "{test}: redis-server is not on PATH and CI is set; CI must run the Redis \
             store tests: install it (e.g. `apt-get install -y redis-server`)"
        );
    }
    // Once per test binary, straight to stderr: `eprintln!` in a passing test is
    // captured by the test harness, and the notice would never be seen.
    static NOTICE: std::sync::Once = std::sync::Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "notice: redis-server is not on PATH: skipping the Redis store tests \
             (first: {test}); install redis-server to run them"
        );
    });
    false
}

/// A running `redis-server` of this test's own.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
    /// The certificate (PEM) of a server that speaks TLS only.
    tls_cert: Option<String>,
}

impl RedisServer {
    /// Starts a server with `extra` configuration arguments (e.g. `--requirepass x`).
    pub fn start(extra: &[&str]) -> RedisServer {
        RedisServer::start_with(extra, false)
    }

    /// Starts a server that speaks TLS only (no plain TCP port), with a fresh
    /// self-signed certificate for `127.0.0.1` and `localhost`: see
    /// [`RedisServer::tls_url`] and [`RedisServer::certificate_pem`].
    pub fn start_tls(extra: &[&str]) -> RedisServer {
        RedisServer::start_with(extra, true)
    }

    fn start_with(extra: &[&str], tls: bool) -> RedisServer {
        let dir =
            std::env::temp_dir().join(format!("mpp-redis-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("create the redis-server directory");
        let mut server = RedisServer {
            port: 0,
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
            dir,
            child: None,
            tls_cert: None,
        };
        if tls {
            server.make_certificate();
        }
        // A port found free may be taken before the server binds it: try another.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("could not start redis-server");
    }

    /// Writes a self-signed certificate and its key where the server reads them.
    fn make_certificate(&mut self) {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("cannot make a key: {e}"));
        let cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .and_then(|params| params.self_signed(&key))
                .unwrap_or_else(|e| panic!("cannot make the certificate: {e}"));
        let pem = cert.pem();
        std::fs::write(self.dir.join("cert.pem"), &pem).expect("write the certificate");
        std::fs::write(self.dir.join("key.pem"), key.serialize_pem()).expect("write the key");
        self.tls_cert = Some(pem);
    }

    /// The certificate (PEM) a TLS server presents, for clients to trust; `None`
    /// for a plain one.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.tls_cert.as_deref()
    }

    /// `rediss://127.0.0.1:PORT`, for a server started with
    /// [`RedisServer::start_tls`].
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (127.0.0.1; its TLS port for a TLS server).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its data is gone: it has no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..50 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("could not restart redis-server on port {}", self.port);
    }

    /// Spawns the server and waits until it accepts connections; false if it exited
    /// (e.g. the port was taken).
    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        if self.tls_cert.is_some() {
            let (cert, key) = (self.dir.join("cert.pem"), self.dir.join("key.pem"));
            command
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(&cert)
                .arg("--tls-key-file")
                .arg(&key)
                .arg("--tls-ca-cert-file")
                .arg(&cert);
        } else {
            command.args(["--port", &port]);
        }
        let mut child = command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        // Its log says when it is ready; reading it (rather than probing the port)
        // cannot mistake another process's server for this one.
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Ready to accept connections") {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
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

    /// A field of `INFO` (e.g. `connected_clients`), asked over a connection of its
    /// own (which counts among the connected clients), logging in with `password`.
    /// Plain TCP only: not for a server started with [`RedisServer::start_tls`].
    pub fn info_field(&self, password: Option<&str>, field: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut request = Vec::new();
        if let Some(password) = password {
            request.extend(format!("AUTH {password}\r\n").bytes());
        }
        request.extend(b"INFO\r\nQUIT\r\n");
        stream.write_all(&request).expect("write");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read");
        reply
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in INFO"))
            .trim()
            .to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
