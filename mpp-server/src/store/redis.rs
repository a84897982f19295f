//! The Redis store: claims, replayable responses, session accounts and sets shared
//! by every server instance, through the `redis` crate's multiplexed connections
//! (concurrent requests pipelined on a few connections, `rediss://` over rustls,
//! ACL user and password from the URL).
//!
//! A command is sent at most once unless it cannot have run or running it again
//! changes nothing. A connection known to be closed (the crate reports the
//! disconnection, even while idle) is replaced before anything is sent on it. A
//! write on a connection that then fails may have run: it is never resent; the
//! store reads the key back on a fresh connection and answers from what it finds,
//! as the [`Store`] contract says (an error when that cannot tell). Sending it
//! again would turn a claim won into "already used" and a swap done into a refusal,
//! and the session ledger would then apply the event twice. A read may go again.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mpp_core::method::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, IntoConnectionInfo, ProtocolVersion,
    PushInfo, PushKind, RedisConnectionInfo, RedisError, ServerErrorKind, TlsCertificates, Value,
    cmd,
};
use tokio::time::timeout;

use super::read_back::{self, unknown};
use super::{Store, StoreError, check_member};

/// The largest value stored.
const MAX_VALUE: usize = 16 * 1024 * 1024;
/// Members asked for per SSCAN round trip...
const SCAN_COUNT: usize = 1000;
/// ...and the most round trips one listing makes (a server whose cursor never comes
/// back to 0 gets an error, not a loop).
const MAX_SCAN_ROUNDS: usize = 1 << 20;
/// The longest time to live sent (Redis refuses expiries past the year 292 million).
const MAX_TTL_MS: u128 = 1_000_000_000_000_000;
const DEFAULT_PORT: u16 = 6379;

/// Swaps, or finds the swap already done (the value is `new`: left as it is). A
/// script runs atomically on the server, so nothing comes between the read and the
/// write, and the whole swap is one round trip.
const SWAP_SCRIPT: &str = "local v = redis.call('GET', KEYS[1]) \
if v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 \
elseif v == ARGV[2] then return 1 else return 0 end";

/// How a [`RedisStore`] spreads its requests and how long it waits.
///
/// An operation waits at most `connect_timeout` for a connection (a new one: TCP,
/// TLS, `HELLO` with the login, `SELECT`), then at most `command_timeout` for the
/// reply, and never longer than the two together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    /// How many connections requests are spread over (at least 1). Each one carries
    /// any number of concurrent requests, pipelined; more than a few rarely helps.
    pub pool_size: usize,
    /// The longest wait for a connection.
    pub connect_timeout: Duration,
    /// The longest wait for a reply to a command.
    pub command_timeout: Duration,
}

impl Default for RedisOptions {
    /// 4 connections, 2 s to connect, 1 s per command.
    fn default() -> Self {
        RedisOptions {
            pool_size: 4,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(1),
        }
    }
}

/// A store in Redis, shared by every server instance that uses the same server and
/// database: claims are `SET key value NX PX ttl`, so Redis decides atomically which
/// of concurrent claims wins, and expires entries itself; a compare-and-swap is one
/// server-side script (`EVALSHA`, falling back to `EVAL` when the server does not
/// have it yet). Sets are Redis sets, listed a thousand members per round trip.
///
/// Connections are made lazily and replaced when they close or fail, so the store
/// recovers by itself once Redis is back. Every command, and the read that settles
/// a write whose reply was lost, is bounded by the [`RedisOptions`] timeouts: a
/// stopped or hung Redis yields a [`StoreError`], never a hang. Speaks RESP3
/// (Redis 6 or later, or a server compatible with it). Needs a Tokio runtime with
/// I/O and time drivers (as `#[tokio::main]` gives). Cluster mode is not supported:
/// point it at one primary.
pub struct RedisStore {
    target: Target,
    client: Client,
    options: RedisOptions,
    slots: Box<[Slot]>,
    next: AtomicUsize,
    swap: redis::Script,
}

/// One connection of the pool, made when first needed and made again when lost.
#[derive(Default)]
struct Slot {
    live: Mutex<Option<Live>>,
    /// Held while connecting, so that concurrent callers wait for one connection
    /// rather than each open their own.
    dialing: tokio::sync::Mutex<()>,
}

/// A connection and whether it is known to be closed.
#[derive(Clone)]
struct Live {
    conn: MultiplexedConnection,
    closed: Arc<AtomicBool>,
}

/// Where to connect and how to log in, from the URL.
#[derive(Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    db: u32,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("db", &self.db)
            .finish()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for the Redis at `url`,
    /// `redis[s]://[[user]:password@]host[:port][/db]` (port 6379 and database 0
    /// by default; user, password and host percent-decoded; an IPv6 host in
    /// brackets). `rediss://` connects over TLS and trusts the system's root
    /// certificates (see [`RedisStore::connect_with_ca`] for a private authority).
    /// Connects lazily: this only reads the URL; see [`RedisStore::ping`] to check
    /// that Redis answers.
    pub fn connect(url: &str, options: RedisOptions) -> Result<RedisStore, StoreError> {
        RedisStore::open(url, options, None)
    }

    /// [`RedisStore::connect`] for a `rediss://` URL whose server certificate is
    /// signed by one of the PEM certificates in `ca_pem` (a private authority, or
    /// the server's own self-signed certificate): only these are trusted.
    pub fn connect_with_ca(
        url: &str,
        options: RedisOptions,
        ca_pem: &[u8],
    ) -> Result<RedisStore, StoreError> {
        RedisStore::open(url, options, Some(ca_pem))
    }

    fn open(
        url: &str,
        options: RedisOptions,
        ca_pem: Option<&[u8]>,
    ) -> Result<RedisStore, StoreError> {
        let target = parse_url(url)?;
        let addr = if target.tls {
            // rustls needs a process-wide crypto provider when more than one is
            // compiled in; ring is the one this workspace builds. One already
            // chosen by the application is kept.
            let _ = rustls::crypto::ring::default_provider().install_default();
            ConnectionAddr::TcpTls {
                host: target.host.clone(),
                port: target.port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(target.host.clone(), target.port)
        };
        let mut settings = RedisConnectionInfo::default()
            .set_db(i64::from(target.db))
            // RESP3, for the crate to report a connection closed while idle.
            .set_protocol(ProtocolVersion::RESP3)
            .set_skip_set_lib_name();
        if let Some(user) = &target.user {
            settings = settings.set_username(user);
        }
        if let Some(password) = &target.password {
            settings = settings.set_password(password);
        }
        let info = addr
            .into_connection_info()
            .map_err(|e| url_error(&e.to_string()))?
            .set_redis_settings(settings);
        let client = match ca_pem {
            None => Client::open(info).map_err(|e| url_error(&e.to_string()))?,
            Some(_) if !target.tls => {
                return Err(url_error("a certificate authority needs a rediss:// URL"));
            }
            Some(pem) => Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            )
            .map_err(|e| {
                StoreError::Invalid(format!("redis: unusable certificate authority: {e}"))
            })?,
        };
        let slots = options.pool_size.clamp(1, 1024);
        Ok(RedisStore {
            target,
            client,
            options,
            slots: (0..slots).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            swap: redis::Script::new(SWAP_SCRIPT),
        })
    }

    /// Checks that Redis answers (`PING`), e.g. at start-up or for a health check,
    /// and hands it the compare-and-swap script, so that the first swap is one
    /// round trip too.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self.execute(&cmd("PING"), Kind::Read).await? {
            Ok(Value::SimpleString(s)) if s == "PONG" => {}
            other => return Err(unexpected(other)),
        }
        let mut load = cmd("SCRIPT");
        load.arg("LOAD").arg(SWAP_SCRIPT);
        match self.execute(&load, Kind::Read).await? {
            Ok(Value::BulkString(hash)) if hash == self.swap.get_hash().as_bytes() => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Runs one command within the timeouts: its reply, or the server's error
    /// reply.
    async fn execute(&self, command: &Cmd, kind: Kind) -> Result<Reply, NoReply> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NoReply::Failed(StoreError::Unavailable(
                "the Redis store needs a Tokio runtime".into(),
            )));
        }
        let budget = self
            .options
            .connect_timeout
            .saturating_add(self.options.command_timeout);
        match timeout(budget, self.execute_in_time(command, kind)).await {
            Ok(result) => result,
            Err(_) => Err(NoReply::Failed(StoreError::Timeout(
                "redis: timed out".into(),
            ))),
        }
    }

    async fn execute_in_time(&self, command: &Cmd, kind: Kind) -> Result<Reply, NoReply> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let mut sent_again = false;
        loop {
            let live = match timeout(self.options.connect_timeout, self.live(slot)).await {
                Ok(result) => result.map_err(NoReply::Failed)?,
                Err(_) => {
                    return Err(NoReply::Failed(StoreError::Timeout(
                        "redis: connect timed out".into(),
                    )));
                }
            };
            let mut conn = live.conn.clone();
            let error = match timeout(
                self.options.command_timeout,
                conn.send_packed_command(command),
            )
            .await
            {
                Ok(Ok(Value::ServerError(e))) => return Ok(Err(e.into())),
                Ok(Ok(value)) => return Ok(Ok(value)),
                Ok(Err(e)) if matches!(e.kind(), redis::ErrorKind::Server(_)) => {
                    return Ok(Err(e));
                }
                Ok(Err(e)) => e,
                // Whether it ran is unknown, and a server too slow to answer this
                // would not answer a read-back either. The connection is replaced:
                // a server that hung may never answer on it again.
                Err(_) => {
                    forget(slot, &live);
                    return Err(NoReply::Failed(StoreError::Timeout(
                        "redis: command timed out".into(),
                    )));
                }
            };
            forget(slot, &live);
            let failed = StoreError::Unavailable(format!("redis: connection failed: {error}"));
            if kind == Kind::Read && !sent_again {
                sent_again = true;
                continue;
            }
            return Err(if kind == Kind::Write {
                NoReply::Lost(failed)
            } else {
                NoReply::Failed(failed)
            });
        }
    }

    /// The slot's connection, made now if it has none or its own closed.
    async fn live(&self, slot: &Slot) -> Result<Live, StoreError> {
        if let Some(live) = current(slot) {
            return Ok(live);
        }
        let _dialing = slot.dialing.lock().await;
        // Another caller may have connected while this one waited.
        if let Some(live) = current(slot) {
            return Ok(live);
        }
        let closed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&closed);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.options.connect_timeout))
            .set_response_timeout(Some(self.options.command_timeout))
            .set_push_sender(move |info: PushInfo| {
                if info.kind == PushKind::Disconnection {
                    flag.store(true, Ordering::Release);
                }
                Ok::<(), std::convert::Infallible>(())
            });
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| StoreError::Unavailable(format!("redis: cannot connect: {e}")))?;
        let live = Live { conn, closed };
        *slot.live.lock().unwrap_or_else(PoisonError::into_inner) = Some(live.clone());
        Ok(live)
    }
}

/// The slot's connection unless it is known to be closed.
fn current(slot: &Slot) -> Option<Live> {
    let live = slot.live.lock().unwrap_or_else(PoisonError::into_inner);
    live.as_ref()
        .filter(|live| !live.closed.load(Ordering::Acquire))
        .cloned()
}

/// Takes a failed connection out of its slot (unless it was replaced already).
fn forget(slot: &Slot, failed: &Live) {
    failed.closed.store(true, Ordering::Release);
    let mut live = slot.live.lock().unwrap_or_else(PoisonError::into_inner);
    if live
        .as_ref()
        .is_some_and(|live| Arc::ptr_eq(&live.closed, &failed.closed))
    {
        *live = None;
    }
}

/// A reply from the server: a value, or its error reply.
type Reply = Result<Value, RedisError>;

/// Whether a command may be sent again after its reply was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Changes nothing: running it twice is harmless.
    Read,
    /// Changes something: once sent, never sent again.
    Write,
}

/// Why a command has no reply to interpret.
#[derive(Debug)]
enum NoReply {
    /// Not run, or not knowable from here (a timeout): the error stands.
    Failed(StoreError),
    /// A write was sent and the connection failed before its reply: it may have
    /// run, and only reading back can tell.
    Lost(StoreError),
}

impl From<NoReply> for StoreError {
    fn from(no_reply: NoReply) -> StoreError {
        match no_reply {
            NoReply::Failed(e) | NoReply::Lost(e) => e,
        }
    }
}

/// A Redis time to live in milliseconds: rounded up, at least 1 (Redis refuses 0).
fn ttl_ms(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE {
        return Err(StoreError::Invalid(format!(
            "redis: values are limited to {MAX_VALUE} bytes"
        )));
    }
    Ok(())
}

/// The error for a reply the operation has no use for.
fn unexpected(reply: Reply) -> StoreError {
    match reply {
        Err(e) => StoreError::Backend {
            detail: format!("redis: {e}"),
            source: Some(Arc::new(e)),
        },
        Ok(_) => StoreError::Corrupt("redis: unexpected reply".into()),
    }
}

impl Store for RedisStore {
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            check_value(value)?;
            let mut set = cmd("SET");
            set.arg(key).arg(value).arg("NX").arg("PX").arg(ttl_ms(ttl));
            match self.execute(&set, Kind::Write).await {
                Ok(Ok(Value::Okay)) => Ok(true),
                Ok(Ok(Value::Nil)) => Ok(false),
                Ok(other) => Err(unexpected(other)),
                Err(NoReply::Failed(e)) => Err(e),
                // Values are unique per writer: the one found tells whose claim it is.
                Err(NoReply::Lost(e)) => read_back::claim(self.get(key).await, value, e),
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let mut get = cmd("GET");
            get.arg(key);
            match self.execute(&get, Kind::Read).await? {
                Ok(Value::BulkString(value)) => Ok(Some(value)),
                Ok(Value::Nil) => Ok(None),
                other => Err(unexpected(other)),
            }
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            check_value(value)?;
            let mut set = cmd("SET");
            set.arg(key).arg(value).arg("PX").arg(ttl_ms(ttl));
            match self.execute(&set, Kind::Write).await {
                Ok(Ok(Value::Okay)) => Ok(()),
                Ok(other) => Err(unexpected(other)),
                Err(NoReply::Failed(e)) => Err(e),
                Err(NoReply::Lost(e)) => read_back::holds(self.get(key).await, value, e),
            }
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            check_value(new)?;
            let ms = ttl_ms(ttl);
            let mut swap = cmd("EVALSHA");
            swap.arg(self.swap.get_hash())
                .arg(1)
                .arg(key)
                .arg(expected)
                .arg(new)
                .arg(ms);
            let mut reply = self.execute(&swap, Kind::Write).await;
            if let Ok(Err(e)) = &reply {
                if e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) {
                    // Not run: the server lost its scripts (a restart). EVAL runs
                    // the script and keeps it for the next EVALSHA.
                    let mut eval = cmd("EVAL");
                    eval.arg(SWAP_SCRIPT)
                        .arg(1)
                        .arg(key)
                        .arg(expected)
                        .arg(new)
                        .arg(ms);
                    reply = self.execute(&eval, Kind::Write).await;
                }
            }
            match reply {
                Ok(Ok(Value::Int(1))) => Ok(true),
                Ok(Ok(Value::Int(0))) => Ok(false),
                Ok(other) => Err(unexpected(other)),
                Err(NoReply::Failed(e)) => Err(e),
                // `new` is unique to this write: finding it means the swap ran.
                Err(NoReply::Lost(e)) => {
                    read_back::holds(self.get(key).await, new, e).map(|()| true)
                }
            }
        })
    }

    fn add_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.change_member("SADD", set, member, true))
    }

    fn remove_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.change_member("SREM", set, member, false))
    }

    fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            // A scan in pages, so that no single reply grows with the set (SMEMBERS's
            // would); it may return a member twice.
            let corrupt = || StoreError::Corrupt("redis: unexpected reply to SSCAN".into());
            let mut members = HashSet::new();
            let mut cursor = b"0".to_vec();
            for _ in 0..MAX_SCAN_ROUNDS {
                let mut scan = cmd("SSCAN");
                scan.arg(set).arg(&cursor).arg("COUNT").arg(SCAN_COUNT);
                let parts = match self.execute(&scan, Kind::Read).await? {
                    Ok(Value::Array(parts)) => parts,
                    other => return Err(unexpected(other)),
                };
                let Ok([Value::BulkString(next), page]) = <[Value; 2]>::try_from(parts) else {
                    return Err(corrupt());
                };
                let (Value::Array(page) | Value::Set(page)) = page else {
                    return Err(corrupt());
                };
                for item in page {
                    let Value::BulkString(member) = item else {
                        return Err(corrupt());
                    };
                    let member = String::from_utf8(member).map_err(|_| {
                        StoreError::Corrupt("redis: a set member is not UTF-8".into())
                    })?;
                    members.insert(member);
                }
                if next == b"0" {
                    return Ok(members.into_iter().collect());
                }
                cursor = next;
            }
            Err(StoreError::backend("redis: SSCAN did not finish"))
        })
    }
}

impl RedisStore {
    /// `SADD` (which leaves `member` in `set`: `present`) or `SREM`: whether it
    /// changed the set. After a lost reply, finding the member where the change puts
    /// it means done.
    async fn change_member(
        &self,
        command: &str,
        set: &str,
        member: &str,
        present: bool,
    ) -> Result<bool, StoreError> {
        check_member(member)?;
        let mut change = cmd(command);
        change.arg(set).arg(member);
        match self.execute(&change, Kind::Write).await {
            Ok(Ok(Value::Int(n))) => Ok(n == 1),
            Ok(other) => Err(unexpected(other)),
            Err(NoReply::Failed(e)) => Err(e),
            Err(NoReply::Lost(e)) => match self.is_member(set, member).await {
                Ok(found) if found == present => Ok(true),
                _ => Err(unknown(e)),
            },
        }
    }

    /// Whether `member` is in `set`: what settles a set change whose reply was lost.
    async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        let mut ask = cmd("SISMEMBER");
        ask.arg(set).arg(member);
        match self.execute(&ask, Kind::Read).await? {
            Ok(Value::Int(n)) => Ok(n == 1),
            Ok(Value::Boolean(b)) => Ok(b),
            other => Err(unexpected(other)),
        }
    }
}

fn url_error(what: &str) -> StoreError {
    // Never echo the URL: it may hold the password.
    StoreError::Invalid(format!("invalid Redis URL: {what}"))
}

/// Parses `redis[s]://[[user]:password@]host[:port][/db]`.
fn parse_url(url: &str) -> Result<Target, StoreError> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("redis://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("rediss://") {
        (true, rest)
    } else {
        return Err(url_error(
            "expected redis://[[user]:password@]host[:port][/db], or rediss:// for TLS",
        ));
    };
    if rest.contains(['?', '#']) {
        return Err(url_error("query strings and fragments are not supported"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let Some((user, password)) = info.split_once(':') else {
                return Err(url_error("a user needs a password (user:password@)"));
            };
            let user = percent_decode(user)?;
            let password = percent_decode(password)?;
            match (user.is_empty(), password.is_empty()) {
                (true, true) => (None, None),
                (true, false) => (None, Some(password)),
                (false, _) => (Some(user), Some(password)),
            }
        }
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(url_error("unclosed [ in the host"));
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(url_error("bad text after the IPv6 host")),
            },
        };
        (host.to_owned(), port)
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (percent_decode(host)?, Some(port)),
            None => (percent_decode(hostport)?, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(url_error("bad host"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => parse_number::<u16>(port)
            .filter(|&p| p != 0)
            .ok_or_else(|| url_error("bad port"))?,
    };
    let db = match path {
        "" => 0,
        db => parse_number::<u32>(db).ok_or_else(|| url_error("bad database number"))?,
    };
    Ok(Target {
        tls,
        host,
        port,
        user,
        password,
        db,
    })
}

fn parse_number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn percent_decode(s: &str) -> Result<String, StoreError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| url_error("bad percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| url_error("percent-encoding is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_at_least_one_millisecond() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_ms(Duration::from_secs(300)), 300_000);
        assert_eq!(u128::from(ttl_ms(Duration::MAX)), MAX_TTL_MS);
    }

    fn target(
        host: &str,
        port: u16,
        user: Option<&str>,
        password: Option<&str>,
        db: u32,
    ) -> Target {
        Target {
            tls: false,
            host: host.into(),
            port,
            user: user.map(Into::into),
            password: password.map(Into::into),
            db,
        }
    }

    #[test]
    fn urls_parse() {
        let cases = [
            (
                "redis://localhost",
                target("localhost", 6379, None, None, 0),
            ),
            (
                "redis://localhost/",
                target("localhost", 6379, None, None, 0),
            ),
            (
                "redis://10.0.0.1:6380/3",
                target("10.0.0.1", 6380, None, None, 3),
            ),
            (
                "redis://:s3cret@h",
                target("h", 6379, None, Some("s3cret"), 0),
            ),
            (
                "redis://alice:pw@h:1/15",
                target("h", 1, Some("alice"), Some("pw"), 15),
            ),
            (
                "redis://a%40b:p%3A%2F%40@h",
                target("h", 6379, Some("a@b"), Some("p:/@"), 0),
            ),
            (
                "redis://u:p@ss@h",
                target("h", 6379, Some("u"), Some("p@ss"), 0),
            ),
            ("redis://[::1]:7000/2", target("::1", 7000, None, None, 2)),
            ("redis://[::1]", target("::1", 6379, None, None, 0)),
            (
                "rediss://alice:pw@cache.example:6380/1",
                Target {
                    tls: true,
                    ..target("cache.example", 6380, Some("alice"), Some("pw"), 1)
                },
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(parse_url(url), Ok(expected), "{url}");
        }
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_the_password() {
        for url in [
            "",
            "localhost:6379",
            "redis+unix:///tmp/redis.sock",
            "rediss://",
            "http://h",
            "redis://",
            "redis://:pw@",
            "redis://h:",
            "redis://h:0",
            "redis://h:65536",
            "redis://h:+1",
            "redis://h/x",
            "redis://h/1/2",
            "redis://h/-1",
            "redis://h?db=1",
            "redis://user@h",
            "redis://[::1",
            "redis://[::1]x",
            "redis://h%zz",
            "redis://h o",
            "redis://u:hunter2%@h",
        ] {
            let e = parse_url(url).expect_err(url);
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn a_certificate_authority_needs_tls_and_valid_pem() {
        let e = RedisStore::connect_with_ca("redis://h", RedisOptions::default(), b"")
            .expect_err("plain TCP");
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
        let e = RedisStore::connect_with_ca(
            "rediss://:hunter2@h",
            RedisOptions::default(),
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
        )
        .expect_err("bad PEM");
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn debug_shows_no_password() {
        let store =
            RedisStore::connect("redis://alice:hunter2@localhost/1", RedisOptions::default())
                .expect("url");
        let debug = format!("{store:?}");
        assert!(
            debug.contains("alice") && debug.contains("<redacted>"),
            "{debug}"
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
