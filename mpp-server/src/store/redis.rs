//! The Redis store: claims shared by every server instance, over a minimal RESP2
//! client of its own (`SET … NX PX`, `GET`, `SET … PX`, a compare-and-swap script,
//! `SADD`/`SREM`/`SSCAN`/`SISMEMBER` for sets, and `AUTH`/`SELECT` at connection
//! set-up) rather than a Redis crate, to keep the dependency tree lean.
//!
//! A command is sent at most once unless it cannot have run or running it again
//! changes nothing. One whose write failed never reached Redis whole, so it may go
//! again on a fresh connection; a read may go again too. A write that went out whole
//! and lost its reply (the connection closed or reset before the reply came) may
//! have run: it is never resent; the broken connection is dropped (with the idle
//! ones), and the store reads the key back on another connection and answers from
//! what it finds, as the [`Store`] contract says (an error when that cannot tell). Sending it again would turn a claim won into "already
//! used" and a swap done into a refusal, and the session ledger would then apply the
//! event twice. The same rule holds for any Redis client the project uses later.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mpp_core::method::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::{Store, StoreError, check_member};

/// The largest bulk string accepted in a reply, and so the largest value stored.
const MAX_BULK: usize = 16 * 1024 * 1024;
/// The longest status, error, integer or length line accepted in a reply.
const MAX_LINE: usize = 64 * 1024;
/// The largest reply accepted, all its elements together.
const MAX_REPLY: usize = MAX_BULK + MAX_LINE;
/// The most elements accepted in one array of a reply.
const MAX_ELEMENTS: usize = 1 << 20;
/// How deep arrays may nest in a reply: SSCAN's is an array holding an array.
const MAX_DEPTH: usize = 2;
/// Members asked for per SSCAN round trip...
const SCAN_COUNT: &[u8] = b"1000";
/// ...and the most round trips one listing makes (a server whose cursor never comes
/// back to 0 gets an error, not a loop).
const MAX_SCAN_ROUNDS: usize = 1 << 20;
/// A connection's read buffer above this size is not kept in the pool.
const KEEP_BUFFER: usize = 64 * 1024;
/// The longest time to live sent (Redis refuses expiries past the year 292 million).
const MAX_TTL_MS: u128 = 1_000_000_000_000_000;
const DEFAULT_PORT: u16 = 6379;

/// How a [`RedisStore`] pools connections and how long it waits.
///
/// An operation waits at most `connect_timeout` for a free connection or a new one
/// (TCP connect, `AUTH` and `SELECT` included), then at most `command_timeout` for
/// the reply, and never longer than the two together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    /// The most connections open at once (at least 1); callers beyond wait for one.
    pub pool_size: usize,
    /// The longest wait for a connection.
    pub connect_timeout: Duration,
    /// The longest wait for a reply to a command.
    pub command_timeout: Duration,
}

impl Default for RedisOptions {
    /// 16 connections, 2 s to connect, 1 s per command.
    fn default() -> Self {
        RedisOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(1),
        }
    }
}

/// A store in Redis, shared by every server instance that uses the same server and
/// database: claims are `SET key value NX PX ttl`, so Redis decides atomically which
/// of concurrent claims wins, and expires entries itself. Sets are Redis sets, listed
/// a thousand members per round trip.
///
/// Connections are made lazily and pooled; one that fails or times out is dropped
/// (with the idle ones, likely broken alike), so the store recovers by itself once
/// Redis is back. Every command, and the read that settles a write whose reply was
/// lost, is bounded by the [`RedisOptions`] timeouts: a stopped or hung Redis
/// yields a [`StoreError`], never a hang. Needs a Tokio
/// runtime with I/O and time drivers (as `#[tokio::main]` gives). Plain TCP only:
/// for TLS, run a local TLS proxy.
pub struct RedisStore {
    target: Target,
    options: RedisOptions,
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
}

/// Where to connect and how to log in, from the URL.
#[derive(Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    db: u32,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
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
    /// A store for the Redis at `url`, `redis://[[user]:password@]host[:port][/db]`
    /// (port 6379 and database 0 by default; user, password and host
    /// percent-decoded; an IPv6 host in brackets). Connects lazily: this only reads
    /// the URL; see [`RedisStore::ping`] to check that Redis answers.
    pub fn connect(url: &str, options: RedisOptions) -> Result<RedisStore, StoreError> {
        let target = parse_url(url)?;
        let permits = options.pool_size.clamp(1, Semaphore::MAX_PERMITS);
        Ok(RedisStore {
            target,
            options,
            permits: Semaphore::new(permits),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Checks that Redis answers (`PING`), e.g. at start-up or for a health check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self.execute(&[b"PING"], Kind::Read).await? {
            Reply::Simple(s) if s == "PONG" => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Runs one command on a pooled connection, within the timeouts.
    async fn execute(&self, args: &[&[u8]], kind: Kind) -> Result<Reply, NoReply> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NoReply::Failed(StoreError::Unavailable(
                "the Redis store needs a Tokio runtime".into(),
            )));
        }
        let budget = self
            .options
            .connect_timeout
            .saturating_add(self.options.command_timeout);
        match timeout(budget, self.execute_in_time(args, kind)).await {
            Ok(result) => result,
            Err(_) => {
                self.drop_idle();
                Err(NoReply::Failed(StoreError::Timeout(
                    "redis: timed out".into(),
                )))
            }
        }
    }

    async fn execute_in_time(&self, args: &[&[u8]], kind: Kind) -> Result<Reply, NoReply> {
        let _permit = match timeout(self.options.connect_timeout, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => {
                return Err(NoReply::Failed(StoreError::Unavailable(
                    "redis: the pool is closed".into(),
                )));
            }
            Err(_) => {
                return Err(NoReply::Failed(StoreError::Timeout(
                    "redis: timed out waiting for a connection".into(),
                )));
            }
        };
        let mut conn = match self.take_idle() {
            Some(conn) => conn,
            None => self.dial().await.map_err(NoReply::Failed)?,
        };
        let mut sent_again = false;
        loop {
            let failure = match timeout(self.options.command_timeout, conn.call(args)).await {
                Ok(Ok(reply)) => {
                    self.give_back(conn);
                    return Ok(reply);
                }
                Ok(Err(failure)) => failure,
                // Whether it ran is unknown, and a server too slow to answer this
                // would not answer a read-back either.
                Err(_) => {
                    self.drop_idle();
                    return Err(NoReply::Failed(StoreError::Timeout(
                        "redis: command timed out".into(),
                    )));
                }
            };
            drop(conn);
            // The idle connections likely lead to the same dead or restarted server.
            self.drop_idle();
            let again = !sent_again
                && match failure {
                    // It never reached the server whole (typically a pooled connection
                    // the server had closed: it restarted, or timed the client out).
                    Failure::NotSent(_) => true,
                    Failure::Lost(_) => kind == Kind::Read,
                    Failure::Protocol(_) => false,
                };
            if !again {
                let lost = matches!(failure, Failure::Lost(_)) && kind == Kind::Write;
                let error = failure.into_store_error();
                return Err(if lost {
                    NoReply::Lost(error)
                } else {
                    NoReply::Failed(error)
                });
            }
            conn = self.dial().await.map_err(NoReply::Failed)?;
            sent_again = true;
        }
    }

    async fn dial(&self) -> Result<Connection, StoreError> {
        match timeout(self.options.connect_timeout, Connection::open(&self.target)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout("redis: connect timed out".into())),
        }
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(conn) = idle.pop() {
            if conn.looks_open() {
                return Some(conn);
            }
        }
        None
    }

    fn give_back(&self, mut conn: Connection) {
        if conn.buf.capacity() > KEEP_BUFFER {
            conn.buf = Vec::new();
        }
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// Closes the idle connections: after one failed, the others likely lead to the
    /// same dead or restarted server.
    fn drop_idle(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        drop(idle);
    }
}

/// Whether a command may be sent again after its reply was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Changes nothing: running it twice is harmless.
    Read,
    /// Changes something: once sent whole, never sent again.
    Write,
}

/// Why a command has no reply to interpret.
#[derive(Debug)]
enum NoReply {
    /// Not run, or not knowable from here (a timeout): the error stands.
    Failed(StoreError),
    /// A write went out whole and the connection failed before its reply: it may
    /// have run, and only reading back can tell.
    Lost(StoreError),
}

impl From<NoReply> for StoreError {
    fn from(no_reply: NoReply) -> StoreError {
        match no_reply {
            NoReply::Failed(e) | NoReply::Lost(e) => e,
        }
    }
}

/// The error for a write whose reply was lost and whose outcome a read-back could
/// not settle.
fn unknown(lost: StoreError) -> StoreError {
    StoreError::OutcomeUnknown(lost.detail().to_owned())
}

/// A Redis time to live in milliseconds: rounded up, at least 1 (Redis refuses 0).
fn ttl_ms(ttl: Duration) -> Vec<u8> {
    let ms = ttl.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS);
    ms.to_string().into_bytes()
}

fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_BULK {
        return Err(StoreError::Invalid(format!(
            "redis: values are limited to {MAX_BULK} bytes"
        )));
    }
    Ok(())
}

fn unexpected(reply: &Reply) -> StoreError {
    match reply {
        Reply::Error(e) => StoreError::backend(format!("redis: {e}")),
        _ => StoreError::Corrupt("redis: unexpected reply".into()),
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
            let ms = ttl_ms(ttl);
            let command: [&[u8]; 6] = [b"SET", key.as_bytes(), value, b"NX", b"PX", &ms];
            match self.execute(&command, Kind::Write).await {
                Ok(Reply::Simple(s)) if s == "OK" => Ok(true),
                Ok(Reply::Nil) => Ok(false),
                Ok(other) => Err(unexpected(&other)),
                Err(NoReply::Failed(e)) => Err(e),
                // Values are unique per writer: the one found tells whose claim it is.
                Err(NoReply::Lost(e)) => match self.get(key).await {
                    Ok(Some(found)) if found == value => Ok(true),
                    Ok(Some(_)) => Ok(false),
                    Ok(None) | Err(_) => Err(unknown(e)),
                },
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            match self.execute(&[b"GET", key.as_bytes()], Kind::Read).await? {
                Reply::Bulk(value) => Ok(Some(value)),
                Reply::Nil => Ok(None),
                other => Err(unexpected(&other)),
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
            let ms = ttl_ms(ttl);
            let command: [&[u8]; 5] = [b"SET", key.as_bytes(), value, b"PX", &ms];
            match self.execute(&command, Kind::Write).await {
                Ok(Reply::Simple(s)) if s == "OK" => Ok(()),
                Ok(other) => Err(unexpected(&other)),
                Err(NoReply::Failed(e)) => Err(e),
                Err(NoReply::Lost(e)) => match self.get(key).await {
                    Ok(Some(found)) if found == value => Ok(()),
                    _ => Err(unknown(e)),
                },
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
            // A script runs atomically on the server: nothing comes between the read
            // and the write.
            let command: [&[u8]; 7] = [
                b"EVAL",
                SWAP_SCRIPT.as_bytes(),
                b"1",
                key.as_bytes(),
                expected,
                new,
                &ms,
            ];
            match self.execute(&command, Kind::Write).await {
                Ok(Reply::Integer(1)) => Ok(true),
                Ok(Reply::Integer(0)) => Ok(false),
                Ok(other) => Err(unexpected(&other)),
                Err(NoReply::Failed(e)) => Err(e),
                // `new` is unique to this write: finding it means the swap ran.
                Err(NoReply::Lost(e)) => match self.get(key).await {
                    Ok(Some(found)) if found == new => Ok(true),
                    _ => Err(unknown(e)),
                },
            }
        })
    }

    fn add_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.change_member(b"SADD", set, member, true))
    }

    fn remove_member<'a>(
        &'a self,
        set: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.change_member(b"SREM", set, member, false))
    }

    fn members<'a>(&'a self, set: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            // A scan in pages, so that no single reply grows with the set (SMEMBERS's
            // would); it may return a member twice.
            let mut members = HashSet::new();
            let mut cursor = b"0".to_vec();
            for _ in 0..MAX_SCAN_ROUNDS {
                let command: [&[u8]; 5] = [b"SSCAN", set.as_bytes(), &cursor, b"COUNT", SCAN_COUNT];
                let reply = self.execute(&command, Kind::Read).await?;
                let Reply::Array(parts) = reply else {
                    return Err(unexpected(&reply));
                };
                let Ok([Reply::Bulk(next), Reply::Array(page)]) = <[Reply; 2]>::try_from(parts)
                else {
                    return Err(StoreError::Corrupt(
                        "redis: unexpected reply to SSCAN".into(),
                    ));
                };
                for item in page {
                    let Reply::Bulk(member) = item else {
                        return Err(StoreError::Corrupt(
                            "redis: unexpected reply to SSCAN".into(),
                        ));
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
        command: &[u8],
        set: &str,
        member: &str,
        present: bool,
    ) -> Result<bool, StoreError> {
        check_member(member)?;
        let args: [&[u8]; 3] = [command, set.as_bytes(), member.as_bytes()];
        match self.execute(&args, Kind::Write).await {
            Ok(Reply::Integer(n)) => Ok(n == 1),
            Ok(other) => Err(unexpected(&other)),
            Err(NoReply::Failed(e)) => Err(e),
            Err(NoReply::Lost(e)) => match self.is_member(set, member).await {
                Ok(found) if found == present => Ok(true),
                _ => Err(unknown(e)),
            },
        }
    }

    /// Whether `member` is in `set`: what settles a set change whose reply was lost.
    async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        let command: [&[u8]; 3] = [b"SISMEMBER", set.as_bytes(), member.as_bytes()];
        match self.execute(&command, Kind::Read).await? {
            Reply::Integer(n) => Ok(n == 1),
            other => Err(unexpected(&other)),
        }
    }
}

/// Swaps, or finds the swap already done (the value is `new`: left as it is).
const SWAP_SCRIPT: &str = "local v = redis.call('GET', KEYS[1]) \
if v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 \
elseif v == ARGV[2] then return 1 else return 0 end";

/// Why a connection failed; the connection is dropped after any of them.
#[derive(Debug)]
enum Failure {
    /// Writing the command failed: it never reached the server whole, so it did
    /// not run.
    NotSent(io::Error),
    /// The command went out whole, then the connection closed or failed before the
    /// whole reply came: it may have run.
    Lost(Option<io::Error>),
    Protocol(&'static str),
}

impl Failure {
    fn into_store_error(self) -> StoreError {
        match self {
            Failure::NotSent(e) => StoreError::Unavailable(format!("redis: cannot send: {e}")),
            Failure::Lost(None) => {
                StoreError::Unavailable("redis: connection closed before the reply".into())
            }
            Failure::Lost(Some(e)) => StoreError::Unavailable(format!("redis: reply lost: {e}")),
            Failure::Protocol(what) => {
                StoreError::Corrupt(format!("redis: malformed reply: {what}"))
            }
        }
    }
}

/// One connection, already logged in and on its database.
struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet parsed.
    buf: Vec<u8>,
}

impl Connection {
    async fn open(target: &Target) -> Result<Connection, StoreError> {
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| StoreError::Unavailable(format!("redis: cannot connect: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| StoreError::Unavailable(format!("redis: {e}")))?;
        let mut conn = Connection {
            stream,
            buf: Vec::with_capacity(512),
        };
        if let Some(password) = &target.password {
            let password = password.as_bytes();
            let reply = match &target.user {
                Some(user) => conn.call(&[b"AUTH", user.as_bytes(), password]).await,
                None => conn.call(&[b"AUTH", password]).await,
            };
            conn.expect_ok(reply, "AUTH")?;
        }
        if target.db != 0 {
            let db = target.db.to_string();
            let reply = conn.call(&[b"SELECT", db.as_bytes()]).await;
            conn.expect_ok(reply, "SELECT")?;
        }
        Ok(conn)
    }

    fn expect_ok(&self, reply: Result<Reply, Failure>, what: &str) -> Result<(), StoreError> {
        match reply.map_err(Failure::into_store_error)? {
            Reply::Simple(s) if s == "OK" => Ok(()),
            // A refused login or database: the store cannot be used as configured.
            Reply::Error(e) => Err(StoreError::Unavailable(format!(
                "redis: {what} failed: {e}"
            ))),
            _ => Err(StoreError::Corrupt(format!(
                "redis: unexpected reply to {what}"
            ))),
        }
    }

    /// Whether the server has not closed this idle connection (nor sent anything
    /// unasked, which would put it out of step).
    fn looks_open(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    async fn call(&mut self, args: &[&[u8]]) -> Result<Reply, Failure> {
        let command = encode(args);
        // A failed write handed its last bytes to nobody: Redis runs a command only
        // once it has all of it.
        self.stream
            .write_all(&command)
            .await
            .map_err(Failure::NotSent)?;
        self.read_reply().await
    }

    async fn read_reply(&mut self) -> Result<Reply, Failure> {
        // Resumed after each read, so a long reply is framed in linear time.
        let mut framer = Framer::default();
        loop {
            if let Some(end) = framer.advance(&self.buf)? {
                if end != self.buf.len() {
                    return Err(Failure::Protocol("data after the reply"));
                }
                let (reply, _) = build(&self.buf, 0, 0)?;
                self.buf.clear();
                return Ok(reply);
            }
            if self.buf.len() > MAX_REPLY {
                return Err(Failure::Protocol("reply too large"));
            }
            self.buf.reserve(16 * 1024);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Err(Failure::Lost(None)),
                Ok(_) => {}
                Err(e) => return Err(Failure::Lost(Some(e))),
            }
        }
    }
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[&[u8]]) -> Vec<u8> {
    let size = args.iter().map(|a| a.len() + 24).sum::<usize>() + 24;
    let mut out = Vec::with_capacity(size);
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A RESP2 reply of the kinds these commands get.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    /// SSCAN's reply: a cursor, and an array of members.
    Array(Vec<Reply>),
    Nil,
}

/// Parses one reply at the start of `buf`: the reply and the bytes it took, `None`
/// if more bytes are needed, or an error for anything malformed or too large.
#[cfg(test)]
fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, Failure> {
    match Framer::default().advance(buf)? {
        None => Ok(None),
        Some(end) => Ok(Some((build(&buf[..end], 0, 0)?.0, end))),
    }
}

/// Finds where a reply ends, checking its shape, as its bytes arrive. It keeps its
/// place between calls: each element is looked at once, however many reads the
/// reply takes (only a line or a bulk string still incomplete is looked at again).
#[derive(Debug, Default)]
struct Framer {
    /// Where the next element starts.
    pos: usize,
    /// For each array open around `pos`, how many of its elements are still to come.
    open: Vec<usize>,
}

impl Framer {
    /// Moves over the whole elements in `buf`, which holds what was given before
    /// and more: where the reply ends once it is whole, `None` until then.
    fn advance(&mut self, buf: &[u8]) -> Result<Option<usize>, Failure> {
        loop {
            let Some(Header { kind, line, after }) = header(buf, self.pos)? else {
                return Ok(None);
            };
            let end = match kind {
                b'+' | b'-' => after,
                b':' => {
                    parse_integer(line)?;
                    after
                }
                b'$' => match bulk_len(line)? {
                    None => after,
                    Some(len) => {
                        let end = after + len;
                        if buf.len() < end + 2 {
                            return Ok(None);
                        }
                        if &buf[end..end + 2] != b"\r\n" {
                            return Err(Failure::Protocol("bulk string not ended by CRLF"));
                        }
                        end + 2
                    }
                },
                _ => match array_len(line)? {
                    Some(len) if len > 0 => {
                        if self.open.len() >= MAX_DEPTH {
                            return Err(Failure::Protocol("arrays nested too deep"));
                        }
                        self.open.push(len);
                        self.pos = after;
                        continue;
                    }
                    // Nil or empty: whole already.
                    _ => after,
                },
            };
            self.pos = end;
            // This element is whole, and so is every array it was the last of.
            loop {
                let Some(left) = self.open.last_mut() else {
                    return Ok(Some(self.pos));
                };
                *left -= 1;
                if *left > 0 {
                    break;
                }
                self.open.pop();
            }
        }
    }
}

/// The line that starts an element.
struct Header<'a> {
    /// The type byte.
    kind: u8,
    /// The text between the type byte and the CRLF.
    line: &'a [u8],
    /// Where what follows the line starts.
    after: usize,
}

/// The line starting an element at `pos`; `None` if it is not all there yet.
fn header(buf: &[u8], pos: usize) -> Result<Option<Header<'_>>, Failure> {
    let rest = buf.get(pos..).unwrap_or_default();
    let Some(&kind) = rest.first() else {
        return Ok(None);
    };
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(Failure::Protocol("unknown reply type"));
    }
    let window = &rest[..rest.len().min(MAX_LINE + 3)];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        if window.len() > MAX_LINE + 2 {
            return Err(Failure::Protocol("reply line too long"));
        }
        return Ok(None);
    };
    if newline < 2 || rest[newline - 1] != b'\r' {
        return Err(Failure::Protocol("line not ended by CRLF"));
    }
    let line = &rest[1..newline - 1];
    if line.contains(&b'\r') {
        return Err(Failure::Protocol("stray CR in a line"));
    }
    Ok(Some(Header {
        kind,
        line,
        after: pos + newline + 1,
    }))
}

/// A bulk string's length, `None` for nil.
fn bulk_len(line: &[u8]) -> Result<Option<usize>, Failure> {
    match parse_integer(line)? {
        -1 => Ok(None),
        len => {
            let len = usize::try_from(len).map_err(|_| Failure::Protocol("negative length"))?;
            if len > MAX_BULK {
                return Err(Failure::Protocol("bulk string too large"));
            }
            Ok(Some(len))
        }
    }
}

/// An array's length, `None` for nil.
fn array_len(line: &[u8]) -> Result<Option<usize>, Failure> {
    match parse_integer(line)? {
        -1 => Ok(None),
        len => {
            let len = usize::try_from(len).map_err(|_| Failure::Protocol("negative length"))?;
            if len > MAX_ELEMENTS {
                return Err(Failure::Protocol("array too long"));
            }
            Ok(Some(len))
        }
    }
}

/// Builds the element at `pos` of a reply the [`Framer`] found whole: the element
/// and where the next one starts.
fn build(buf: &[u8], pos: usize, depth: usize) -> Result<(Reply, usize), Failure> {
    let truncated = Failure::Protocol("truncated reply");
    let Some(Header { kind, line, after }) = header(buf, pos)? else {
        return Err(truncated);
    };
    let text = || String::from_utf8_lossy(line).into_owned();
    Ok(match kind {
        b'+' => (Reply::Simple(text()), after),
        b'-' => (Reply::Error(text()), after),
        b':' => (Reply::Integer(parse_integer(line)?), after),
        b'$' => match bulk_len(line)? {
            None => (Reply::Nil, after),
            Some(len) => {
                let value = buf.get(after..after + len).ok_or(truncated)?;
                (Reply::Bulk(value.to_vec()), after + len + 2)
            }
        },
        _ => match array_len(line)? {
            None => (Reply::Nil, after),
            Some(len) => {
                if depth >= MAX_DEPTH {
                    return Err(Failure::Protocol("arrays nested too deep"));
                }
                let mut items = Vec::with_capacity(len.min(1024));
                let mut next = after;
                for _ in 0..len {
                    let (item, after_item) = build(buf, next, depth + 1)?;
                    items.push(item);
                    next = after_item;
                }
                (Reply::Array(items), next)
            }
        },
    })
}

/// A RESP integer: an optional minus sign and decimal digits, within `i64`.
fn parse_integer(line: &[u8]) -> Result<i64, Failure> {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Failure::Protocol("bad integer"));
    }
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Failure::Protocol("integer out of range"))
}

fn url_error(what: &str) -> StoreError {
    // Never echo the URL: it may hold the password.
    StoreError::Invalid(format!("invalid Redis URL: {what}"))
}

/// Parses `redis://[[user]:password@]host[:port][/db]`.
fn parse_url(url: &str) -> Result<Target, StoreError> {
    let Some(rest) = url.strip_prefix("redis://") else {
        return Err(url_error(
            "expected redis://[[user]:password@]host[:port][/db] (TLS is not supported)",
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

    fn parsed(bytes: &[u8]) -> Result<Option<(Reply, usize)>, String> {
        parse(bytes).map_err(|f| f.into_store_error().detail().to_owned())
    }

    #[test]
    fn replies_parse() {
        assert_eq!(
            parsed(b"+OK\r\n"),
            Ok(Some((Reply::Simple("OK".into()), 5)))
        );
        assert_eq!(
            parsed(b"-ERR wrong\r\n"),
            Ok(Some((Reply::Error("ERR wrong".into()), 12)))
        );
        assert_eq!(parsed(b":-42\r\n"), Ok(Some((Reply::Integer(-42), 6))));
        assert_eq!(parsed(b"$-1\r\n"), Ok(Some((Reply::Nil, 5))));
        assert_eq!(parsed(b"*-1\r\n"), Ok(Some((Reply::Nil, 5))));
        assert_eq!(parsed(b"$0\r\n\r\n"), Ok(Some((Reply::Bulk(vec![]), 6))));
        assert_eq!(
            parsed(b"$4\r\na\r\nb\r\n"),
            Ok(Some((Reply::Bulk(b"a\r\nb".to_vec()), 10)))
        );
        assert_eq!(parsed(b"*0\r\n"), Ok(Some((Reply::Array(vec![]), 4))));
        assert_eq!(
            parsed(b"*2\r\n$1\r\na\r\n$-1\r\n"),
            Ok(Some((
                Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Nil]),
                16
            )))
        );
        // SSCAN's reply: a cursor and a page of members.
        let scan = b"*2\r\n$2\r\n17\r\n*2\r\n$2\r\ns1\r\n$2\r\ns2\r\n";
        assert_eq!(
            parsed(scan),
            Ok(Some((
                Reply::Array(vec![
                    Reply::Bulk(b"17".to_vec()),
                    Reply::Array(vec![
                        Reply::Bulk(b"s1".to_vec()),
                        Reply::Bulk(b"s2".to_vec())
                    ])
                ]),
                scan.len()
            )))
        );
        assert_eq!(
            parsed(b"*2\r\n$1\r\n0\r\n*0\r\n"),
            Ok(Some((
                Reply::Array(vec![Reply::Bulk(b"0".to_vec()), Reply::Array(vec![])]),
                15
            )))
        );
    }

    #[test]
    fn partial_replies_ask_for_more() {
        for partial in [
            &b""[..],
            b"+OK",
            b"+OK\r",
            b"$5\r\nhel",
            b"$5\r\nhello",
            b"$5\r\nhello\r",
            b"$",
            b":12",
            b"*1\r\n",
            b"*2\r\n:1\r\n",
            b"*2\r\n$1\r\n0\r\n*2\r\n$2\r\ns1\r\n",
            b"*2\r\n$1\r\n0\r\n*2\r\n$2\r\ns1\r\n$2\r\ns",
        ] {
            assert_eq!(parsed(partial), Ok(None), "{partial:?}");
        }
    }

    #[test]
    fn a_reply_read_in_pieces_is_framed_from_where_it_stopped() {
        // A page of 10,000 members arriving in small reads: each read moves the
        // framer on from where it was, never back to the start.
        let mut reply = b"*2\r\n$1\r\n0\r\n*10000\r\n".to_vec();
        for i in 0..10_000 {
            let member = format!("session-{i:05}");
            reply.extend_from_slice(format!("${}\r\n{member}\r\n", member.len()).as_bytes());
        }
        let mut framer = Framer::default();
        let mut last = 0;
        for end in (1..reply.len()).step_by(7) {
            assert_eq!(framer.advance(&reply[..end]).map_err(|_| ()), Ok(None));
            assert!(framer.pos >= last, "the framer went back");
            last = framer.pos;
            assert!(
                end - framer.pos < 24,
                "{} bytes behind at {end}",
                end - framer.pos
            );
        }
        assert_eq!(
            framer.advance(&reply).map_err(|_| ()),
            Ok(Some(reply.len()))
        );
        let (built, used) = build(&reply, 0, 0).map_err(|_| ()).expect("whole");
        assert_eq!(used, reply.len());
        let Reply::Array(parts) = built else {
            panic!("an array")
        };
        assert!(matches!(&parts[1], Reply::Array(page) if page.len() == 10_000));
    }

    #[test]
    fn malformed_replies_are_errors() {
        for bad in [
            &b"?\r\n"[..],
            b"OK\r\n",
            b"+OK\n",
            b"\n",
            b"+O\rK\r\n",
            b":\r\n",
            b":+1\r\n",
            b":1a\r\n",
            b":99999999999999999999\r\n",
            b"$-2\r\n",
            b"$abc\r\n",
            b"$ 1\r\n",
            b"$3\r\nabcXY",
            b"*-2\r\n",
            b"*x\r\n",
            b"*1\r\n?\r\n",
            b"*2\r\n$1\r\na\r\n$1\r\nbc\r\n",
            // Three levels of arrays: refused as soon as the third opens.
            b"*1\r\n*1\r\n*1\r\n:1\r\n",
            b"*1\r\n*1\r\n*1\r\n",
            b"%1\r\n",
            b"_\r\n",
        ] {
            assert!(parsed(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn replies_are_bounded() {
        let too_big = format!("${}\r\n", MAX_BULK + 1);
        assert!(parsed(too_big.as_bytes()).is_err());
        let huge = format!("${}\r\n", u64::MAX);
        assert!(parsed(huge.as_bytes()).is_err());
        let too_many = format!("*{}\r\n", MAX_ELEMENTS + 1);
        assert!(parsed(too_many.as_bytes()).is_err());
        let nested_too_many = format!("*2\r\n$1\r\n0\r\n*{}\r\n", MAX_ELEMENTS + 1);
        assert!(parsed(nested_too_many.as_bytes()).is_err());
        let many = format!("*{MAX_ELEMENTS}\r\n");
        assert_eq!(parsed(many.as_bytes()), Ok(None), "allowed, and incomplete");
        let mut long_line = b"+".to_vec();
        long_line.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        assert!(parsed(&long_line).is_err(), "a line without end is refused");
        assert_eq!(parsed(&long_line[..MAX_LINE]), Ok(None));
    }

    #[test]
    fn commands_encode_as_bulk_arrays() {
        assert_eq!(
            encode(&[b"SET", b"k", b"a\r\nb", b"NX"]),
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$2\r\nNX\r\n"
        );
    }

    #[test]
    fn ttls_round_up_to_at_least_one_millisecond() {
        assert_eq!(ttl_ms(Duration::ZERO), b"1");
        assert_eq!(ttl_ms(Duration::from_micros(1500)), b"2");
        assert_eq!(ttl_ms(Duration::from_secs(300)), b"300000");
        assert_eq!(ttl_ms(Duration::MAX), MAX_TTL_MS.to_string().as_bytes());
    }

    fn target(
        host: &str,
        port: u16,
        user: Option<&str>,
        password: Option<&str>,
        db: u32,
    ) -> Target {
        Target {
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
            "rediss://h",
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
