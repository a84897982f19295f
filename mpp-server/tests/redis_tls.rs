//! `rediss://`: the store against a real redis-server that speaks TLS only, with a
//! self-signed certificate made for the test. The store trusts that certificate
//! and no other, logs in over TLS, and recovers when the server restarts.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::Duration;

use mpp_server::store::{RedisOptions, RedisStore, Store};
use mpp_test_support::redis::{RedisServer, redis_server_available};

const LONG: Duration = Duration::from_secs(300);

fn quick() -> RedisOptions {
    RedisOptions {
        pool_size: 2,
        connect_timeout: Duration::from_millis(1000),
        command_timeout: Duration::from_millis(1000),
    }
}

fn store(server: &RedisServer, url: &str) -> RedisStore {
    let ca = server.certificate_pem().expect("a TLS server");
    RedisStore::connect_with_ca(url, quick(), ca.as_bytes()).expect("url")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_swaps_and_sets_work_over_tls() {
    // req: charge.replay.id-single-use
    if !redis_server_available("claims_swaps_and_sets_work_over_tls") {
        return;
    }
    let server = RedisServer::start_tls(&[]);
    let a = Arc::new(store(&server, &server.tls_url()));
    let b = Arc::new(store(&server, &server.tls_url()));
    a.ping().await.expect("ping over TLS");
    // Concurrent claims of one id from two instances: exactly one wins.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
            tokio::spawn(async move {
                store
                    .put_if_absent("mpp:claim:tls", format!("claimed:{i}").as_bytes(), LONG)
                    .await
                    .expect("claim")
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.expect("task"));
    }
    assert_eq!(wins, 1);
    a.put("mpp:session:t", b"v1", LONG).await.expect("put");
    assert_eq!(
        b.compare_and_swap("mpp:session:t", b"v1", b"v2", LONG)
            .await,
        Ok(true)
    );
    assert_eq!(
        a.compare_and_swap("mpp:session:t", b"v1", b"v3", LONG)
            .await,
        Ok(false)
    );
    assert_eq!(a.get("mpp:session:t").await, Ok(Some(b"v2".to_vec())));
    assert_eq!(a.add_member("mpp:sessions:open", "s1").await, Ok(true));
    assert_eq!(
        b.members("mpp:sessions:open").await,
        Ok(vec!["s1".to_owned()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_not_trusted_is_refused() {
    if !redis_server_available("a_certificate_not_trusted_is_refused") {
        return;
    }
    let server = RedisServer::start_tls(&[]);
    // Another server's certificate, and the system's roots: neither signed this one.
    let other = RedisServer::start_tls(&[]);
    let wrong = other.certificate_pem().expect("a TLS server");
    let pinned_elsewhere =
        RedisStore::connect_with_ca(&server.tls_url(), quick(), wrong.as_bytes()).expect("url");
    let e = pinned_elsewhere
        .put_if_absent("mpp:claim:x", b"claimed:a", LONG)
        .await
        .expect_err("an untrusted certificate");
    assert!(e.to_string().contains("cannot connect"), "{e}");
    let system_roots = RedisStore::connect(&server.tls_url(), quick()).expect("url");
    assert!(system_roots.ping().await.is_err());
    // Plain TCP to a TLS port gets no answer it can use.
    let plain =
        RedisStore::connect(&server.tls_url().replace("rediss", "redis"), quick()).expect("url");
    assert!(plain.ping().await.is_err());
    // Nothing was claimed by the refused attempts.
    assert_eq!(
        store(&server, &server.tls_url()).get("mpp:claim:x").await,
        Ok(None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_and_password_go_over_tls_and_never_show() {
    if !redis_server_available("acl_user_and_password_go_over_tls_and_never_show") {
        return;
    }
    let server = RedisServer::start_tls(&[
        "--user",
        "default",
        "off",
        "--user",
        "alice",
        "on",
        ">wonder land",
        "~*",
        "&*",
        "+@all",
    ]);
    let port = server.port();
    let good = store(
        &server,
        &format!("rediss://alice:wonder%20land@127.0.0.1:{port}/3"),
    );
    assert_eq!(
        good.put_if_absent("mpp:claim:acl", b"claimed:a", LONG)
            .await,
        Ok(true)
    );
    let debug = format!("{good:?}");
    assert!(
        debug.contains("alice") && !debug.contains("wonder"),
        "{debug}"
    );
    for bad in [
        format!("rediss://alice:hunter2@127.0.0.1:{port}/3"),
        format!("rediss://127.0.0.1:{port}/3"),
    ] {
        let store = store(&server, &bad);
        let e = store.get("mpp:claim:acl").await.expect_err(&bad);
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_tls_server_is_reconnected_to() {
    if !redis_server_available("a_restarted_tls_server_is_reconnected_to") {
        return;
    }
    let mut server = RedisServer::start_tls(&[]);
    let store = store(&server, &server.tls_url());
    assert_eq!(
        store
            .put_if_absent("mpp:claim:r1", b"claimed:a", LONG)
            .await,
        Ok(true)
    );
    server.stop();
    assert!(
        store
            .put_if_absent("mpp:claim:r2", b"claimed:a", LONG)
            .await
            .is_err()
    );
    server.restart();
    // The first call after the restart already works: the closed connections
    // were noticed and replaced before anything was sent on them.
    assert_eq!(
        store
            .put_if_absent("mpp:claim:r2", b"claimed:a", LONG)
            .await,
        Ok(true)
    );
}
