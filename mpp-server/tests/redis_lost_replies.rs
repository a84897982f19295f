//! Redis replies lost in transit: a command reaches a real redis-server and runs,
//! then the connection drops before its reply gets back. The store must not send
//! such a command again (a claim won would come back "already used", a swap done
//! would come back refused and the session ledger would apply the event twice): it
//! reads back what it wrote and reports what happened, exactly once.
//!
//! A small proxy written here sits between the store and the server, and loses
//! either the reply to one chosen command or the command itself.
#![cfg(feature = "redis")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mpp_core::intent::session::{Funding, Session, SessionError, SessionEvent, SessionOutput};
use mpp_core::time::UnixTime;
use mpp_server::session::{Account, SessionLedger};
use mpp_server::store::{RedisOptions, RedisStore, Store};
use mpp_test_support::redis::{RedisServer, redis_server_available};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LONG: Duration = Duration::from_secs(300);

/// What the proxy does to the next command that contains a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forwards it, waits for the server's reply, then drops the client's
    /// connection without passing the reply on: the command ran, unknown to the
    /// client.
    LoseReply,
    /// Drops the client's connection instead of forwarding it: the client's write
    /// went out whole, but the command never ran.
    LoseCommand,
}

#[derive(Debug, Default)]
struct Plan {
    /// The fault armed, and the bytes that trigger it.
    armed: Option<(Vec<u8>, Fault)>,
    /// Every chunk the client sent, forwarded or not.
    sent: Vec<Vec<u8>>,
}

/// A TCP proxy to a redis-server on loopback.
struct Proxy {
    port: u16,
    plan: Arc<Mutex<Plan>>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let plan = Arc::new(Mutex::new(Plan::default()));
        let shared = Arc::clone(&plan);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, Arc::clone(&shared)));
            }
        });
        Proxy { port, plan }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Applies `fault` to the next command containing `marker`.
    fn arm(&self, marker: &[u8], fault: Fault) {
        self.plan.lock().expect("plan").armed = Some((marker.to_vec(), fault));
    }

    /// Whether the armed fault has struck.
    fn struck(&self) -> bool {
        self.plan.lock().expect("plan").armed.is_none()
    }

    /// How many commands containing `marker` the client sent.
    fn sent(&self, marker: &[u8]) -> usize {
        let plan = self.plan.lock().expect("plan");
        plan.sent.iter().filter(|c| contains(c, marker)).count()
    }
}

/// The marker of a command: its name as the first element of the request (so that
/// neither the swap script, which mentions GET and SET, nor a key matches).
fn command(name: &str) -> Vec<u8> {
    format!("${}\r\n{name}\r\n", name.len()).into_bytes()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Relays one connection. The store sends each command in one write and waits for
/// its reply, so each chunk read from the client is one command.
async fn relay(mut client: TcpStream, upstream: u16, plan: Arc<Mutex<Plan>>) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut from_client, mut from_server) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut lose_reply = false;
    loop {
        tokio::select! {
            read = client.read(&mut from_client) => {
                let Ok(n @ 1..) = read else { return };
                let chunk = &from_client[..n];
                let fault = {
                    let mut plan = plan.lock().expect("plan");
                    plan.sent.push(chunk.to_vec());
                    match &plan.armed {
                        Some((marker, _)) if contains(chunk, marker) => {
                            plan.armed.take().map(|(_, fault)| fault)
                        }
                        _ => None,
                    }
                };
                match fault {
                    // Both connections close as this returns.
                    Some(Fault::LoseCommand) => return,
                    Some(Fault::LoseReply) => lose_reply = true,
                    None => {}
                }
                if server.write_all(chunk).await.is_err() {
                    return;
                }
            }
            read = server.read(&mut from_server) => {
                let Ok(n @ 1..) = read else { return };
                if lose_reply {
                    // The reply is here, so the command ran: drop it, and the client.
                    return;
                }
                if client.write_all(&from_server[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A redis-server, a proxy to it, a store through the proxy (with a connection in
/// its pool and the swap script on the server, as in a server that has been
/// running) and one straight to the server.
struct Setup {
    _server: RedisServer,
    proxy: Proxy,
    store: Arc<RedisStore>,
    direct: Arc<RedisStore>,
}

async fn setup(test: &str) -> Option<Setup> {
    if !redis_server_available(test) {
        return None;
    }
    let server = RedisServer::start(&[]);
    let proxy = Proxy::start(server.port()).await;
    // One connection: every command of a test goes through the same proxied one.
    let options = RedisOptions {
        pool_size: 1,
        ..RedisOptions::default()
    };
    let store = Arc::new(RedisStore::connect(&proxy.url(), options).expect("url"));
    let direct =
        Arc::new(RedisStore::connect(&server.url(), RedisOptions::default()).expect("url"));
    store.ping().await.expect("ping through the proxy");
    Some(Setup {
        _server: server,
        proxy,
        store,
        direct,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_reply_is_lost_is_reported_as_ours() {
    // req: charge.replay.id-single-use
    let Some(s) = setup("a_claim_whose_reply_is_lost_is_reported_as_ours").await else {
        return;
    };
    s.proxy.arm(&command("SET"), Fault::LoseReply);
    assert_eq!(
        s.store
            .put_if_absent("mpp:claim:c1", b"claimed:token-a", LONG)
            .await,
        Ok(true),
        "the claim is ours: a paid credential must not be refused"
    );
    assert!(s.proxy.struck());
    assert_eq!(
        s.proxy.sent(&command("SET")),
        1,
        "the claim was not sent again"
    );
    assert_eq!(
        s.direct.get("mpp:claim:c1").await,
        Ok(Some(b"claimed:token-a".to_vec()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writers_claim_is_refused_when_the_reply_is_lost() {
    let Some(s) = setup("another_writers_claim_is_refused_when_the_reply_is_lost").await else {
        return;
    };
    assert_eq!(
        s.direct
            .put_if_absent("mpp:claim:c2", b"claimed:token-b", LONG)
            .await,
        Ok(true)
    );
    s.proxy.arm(&command("SET"), Fault::LoseReply);
    assert_eq!(
        s.store
            .put_if_absent("mpp:claim:c2", b"claimed:token-a", LONG)
            .await,
        Ok(false)
    );
    assert!(s.proxy.struck());
    assert_eq!(
        s.direct.get("mpp:claim:c2").await,
        Ok(Some(b"claimed:token-b".to_vec()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_lost_on_the_way_is_unknown_and_not_sent_again() {
    let Some(s) = setup("a_claim_lost_on_the_way_is_unknown_and_not_sent_again").await else {
        return;
    };
    s.proxy.arm(&command("SET"), Fault::LoseCommand);
    let result = s
        .store
        .put_if_absent("mpp:claim:c3", b"claimed:token-a", LONG)
        .await;
    // Never `false`: nobody else holds the claim. An error: the store cannot know
    // whether the command is still on its way.
    assert!(result.is_err(), "{result:?}");
    assert!(s.proxy.struck());
    assert_eq!(
        s.proxy.sent(&command("SET")),
        1,
        "the claim was not sent again"
    );
    assert_eq!(s.direct.get("mpp:claim:c3").await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_whose_reply_is_lost_is_reported_done_and_applied_once() {
    let Some(s) = setup("a_swap_whose_reply_is_lost_is_reported_done_and_applied_once").await
    else {
        return;
    };
    s.direct
        .put("mpp:session:k", b"v1", LONG)
        .await
        .expect("put");
    s.proxy.arm(&command("EVALSHA"), Fault::LoseReply);
    assert_eq!(
        s.store
            .compare_and_swap("mpp:session:k", b"v1", b"v2", LONG)
            .await,
        Ok(true)
    );
    assert!(s.proxy.struck());
    assert_eq!(
        s.proxy.sent(&command("EVALSHA")),
        1,
        "the swap was not sent again"
    );
    assert_eq!(
        s.direct.get("mpp:session:k").await,
        Ok(Some(b"v2".to_vec()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_lost_on_the_way_is_unknown_not_refused() {
    let Some(s) = setup("a_swap_lost_on_the_way_is_unknown_not_refused").await else {
        return;
    };
    s.direct
        .put("mpp:session:k", b"v1", LONG)
        .await
        .expect("put");
    s.proxy.arm(&command("EVALSHA"), Fault::LoseCommand);
    let result = s
        .store
        .compare_and_swap("mpp:session:k", b"v1", b"v2", LONG)
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(
        s.proxy.sent(&command("EVALSHA")),
        1,
        "the swap was not sent again"
    );
    assert_eq!(
        s.direct.get("mpp:session:k").await,
        Ok(Some(b"v1".to_vec()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_reply_is_lost_is_sent_again() {
    let Some(s) = setup("a_read_whose_reply_is_lost_is_sent_again").await else {
        return;
    };
    s.direct
        .put("mpp:idem:r", b"response", LONG)
        .await
        .expect("put");
    s.proxy.arm(&command("GET"), Fault::LoseReply);
    assert_eq!(
        s.store.get("mpp:idem:r").await,
        Ok(Some(b"response".to_vec()))
    );
    assert!(s.proxy.struck());
    assert_eq!(
        s.proxy.sent(&command("GET")),
        2,
        "a read is safe to send again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_changes_whose_replies_are_lost_are_reported_done() {
    let Some(s) = setup("set_changes_whose_replies_are_lost_are_reported_done").await else {
        return;
    };
    let set = "mpp:sessions:open";
    s.proxy.arm(&command("SADD"), Fault::LoseReply);
    assert_eq!(s.store.add_member(set, "s1").await, Ok(true));
    assert!(s.proxy.struck());
    assert_eq!(s.direct.members(set).await, Ok(vec!["s1".to_owned()]));
    s.proxy.arm(&command("SREM"), Fault::LoseReply);
    assert_eq!(s.store.remove_member(set, "s1").await, Ok(true));
    assert!(s.proxy.struck());
    assert_eq!(s.direct.members(set).await, Ok(vec![]));
    // Lost on the way: unknown, and not sent again.
    s.proxy.arm(&command("SADD"), Fault::LoseCommand);
    assert!(s.store.add_member(set, "s2").await.is_err());
    assert_eq!(s.proxy.sent(&command("SADD")), 2);
    assert_eq!(s.direct.members(set).await, Ok(vec![]));
}

fn now() -> UnixTime {
    UnixTime::from_secs(1_800_000_000)
}

/// A ledger through the proxy with a prepaid session of 100 open, and one reading
/// Redis directly.
async fn ledgers(s: &Setup, id: &str) -> (SessionLedger, SessionLedger) {
    let through_proxy = SessionLedger::new(Arc::clone(&s.store) as Arc<dyn Store>);
    let direct = SessionLedger::new(Arc::clone(&s.direct) as Arc<dyn Store>);
    let session = Session::open(Funding::Prepaid, 100, now(), 300).expect("session");
    assert_eq!(
        through_proxy
            .open(id, &Account::new(session, "m", "usd", "r"))
            .await,
        Ok(true)
    );
    (through_proxy, direct)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_top_up_whose_reply_is_lost_is_credited_once() {
    let Some(s) = setup("a_top_up_whose_reply_is_lost_is_credited_once").await else {
        return;
    };
    let (ledger, direct) = ledgers(&s, "s1").await;
    s.proxy.arm(&command("EVALSHA"), Fault::LoseReply);
    let (outcome, account) = ledger
        .apply("s1", SessionEvent::TopUp { amount: 50 }, now())
        .await
        .expect("the top-up is known to be done");
    assert!(
        matches!(outcome, Ok(SessionOutput::ToppedUp { .. })),
        "{outcome:?}"
    );
    assert!(s.proxy.struck());
    assert_eq!(account.session.deposit(), 150);
    let stored = direct.get("s1").await.expect("get").expect("account");
    assert_eq!(stored.session.deposit(), 150, "credited once, not twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_whose_reply_is_lost_still_refunds() {
    let Some(s) = setup("a_close_whose_reply_is_lost_still_refunds").await else {
        return;
    };
    let (ledger, direct) = ledgers(&s, "s2").await;
    ledger
        .apply("s2", SessionEvent::Use { cost: 30 }, now())
        .await
        .expect("use")
        .0
        .expect("debited");
    s.proxy.arm(&command("EVALSHA"), Fault::LoseReply);
    let (outcome, _) = ledger
        .apply("s2", SessionEvent::Close, now())
        .await
        .expect("the close is known to be done");
    // Not `Closed` (as if someone else had closed it): the refund is this caller's
    // to pay.
    assert_eq!(
        outcome,
        Ok(SessionOutput::Closed {
            captured: 30,
            refund: 70
        })
    );
    assert!(s.proxy.struck());
    let (again, stored) = direct
        .apply("s2", SessionEvent::Close, now())
        .await
        .expect("apply");
    assert_eq!(again, Err(SessionError::Closed));
    assert_eq!(
        stored.refunds.owed, 70,
        "recorded as owed, for whoever pays it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_and_a_swap_are_one_command_each() {
    let Some(s) = setup("a_claim_and_a_swap_are_one_command_each").await else {
        return;
    };
    let before = s.proxy.plan.lock().expect("plan").sent.len();
    assert_eq!(
        s.store
            .put_if_absent("mpp:claim:one", b"claimed:token-a", LONG)
            .await,
        Ok(true)
    );
    assert_eq!(
        s.store
            .compare_and_swap("mpp:claim:one", b"claimed:token-a", b"v2", LONG)
            .await,
        Ok(true)
    );
    let plan = s.proxy.plan.lock().expect("plan");
    let sent = &plan.sent[before..];
    assert_eq!(sent.len(), 2, "one round trip each: {sent:?}");
    assert!(contains(&sent[0], &command("SET")));
    assert!(contains(&sent[1], &command("EVALSHA")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_lost_its_scripts_still_swaps() {
    let Some(s) = setup("a_server_that_lost_its_scripts_still_swaps").await else {
        return;
    };
    s.direct
        .put("mpp:session:f", b"v1", LONG)
        .await
        .expect("put");
    // As after a restart: the script cache is empty.
    let mut raw = TcpStream::connect(("127.0.0.1", s._server.port()))
        .await
        .expect("connect");
    raw.write_all(b"SCRIPT FLUSH\r\n").await.expect("write");
    let mut reply = [0u8; 5];
    raw.read_exact(&mut reply).await.expect("read");
    assert_eq!(&reply, b"+OK\r\n");
    assert_eq!(
        s.store
            .compare_and_swap("mpp:session:f", b"v1", b"v2", LONG)
            .await,
        Ok(true)
    );
    assert_eq!(s.proxy.sent(&command("EVAL")), 1, "the script, sent once");
    assert_eq!(
        s.direct.get("mpp:session:f").await,
        Ok(Some(b"v2".to_vec()))
    );
    // And kept: the next swap is EVALSHA alone.
    assert_eq!(
        s.store
            .compare_and_swap("mpp:session:f", b"v2", b"v3", LONG)
            .await,
        Ok(true)
    );
    assert_eq!(s.proxy.sent(&command("EVAL")), 1);
}
