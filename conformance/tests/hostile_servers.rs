//! The suite against servers that misbehave at the HTTP level: each one becomes
//! failed cases with a clear message, within the timeout, never a panic or a hang.

use std::time::{Duration, Instant};

use conformance::Status;
use conformance::suite::{self, Ctx, Payer, Selection, SuiteOptions, SuiteReport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts a raw TCP server answering each connection with `answer`.
async fn raw_server<F, Fut>(answer: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream));
        }
    });
    format!("http://{addr}/paid")
}

/// Reads the request head, so the client is not cut off while sending.
async fn read_head(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = Vec::new();
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
    }
}

async fn run_against(url: &str, timeout: Duration) -> (SuiteReport, Duration) {
    let options = SuiteOptions {
        timeout,
        payer: Some(Payer::Preimage("any".into())),
        ..SuiteOptions::default()
    };
    let ctx = Ctx::new(url.parse().unwrap(), options).unwrap();
    let started = Instant::now();
    let report = suite::run(
        &ctx,
        &Selection {
            only: Vec::new(),
            strict: true,
        },
    )
    .await;
    (report, started.elapsed())
}

/// Every case failed, each saying what went wrong in words containing `needle`.
fn assert_all_failed(report: &SuiteReport, needle: &str) {
    assert_eq!(report.cases.len(), suite::cases().len());
    for case in &report.cases {
        assert_eq!(case.status, Status::Failed, "{}: {:?}", case.id, case);
        assert!(
            case.actual.to_lowercase().contains(needle),
            "{}: {:?} does not mention {needle:?}",
            case.id,
            case.actual
        );
    }
}

#[tokio::test]
async fn a_server_that_never_answers() {
    let url = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let (report, elapsed) = run_against(&url, Duration::from_millis(500)).await;
    assert_all_failed(&report, "timed out");
    // One probe waits out the timeout; the cases do not each wait again.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn a_server_sending_ten_megabytes_of_headers() {
    let url = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 402 Payment Required\r\nX-Filler: ")
            .await;
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..160 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"\r\n\r\n").await;
    })
    .await;
    let (report, _) = run_against(&url, Duration::from_secs(5)).await;
    assert_all_failed(&report, "request failed");
    assert!(
        report.cases[0].actual.contains("too large"),
        "{:?}",
        report.cases[0].actual
    );
}

#[tokio::test]
async fn a_server_that_closes_every_connection() {
    let url = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        drop(stream);
    })
    .await;
    let (report, _) = run_against(&url, Duration::from_secs(5)).await;
    assert_all_failed(&report, "closed");
}

#[tokio::test]
async fn a_server_answering_garbage() {
    let url = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"\x00\xffthis is not HTTP\r\n\r\n").await;
    })
    .await;
    let (report, _) = run_against(&url, Duration::from_secs(5)).await;
    assert_all_failed(&report, "invalid");
}

#[tokio::test]
async fn nothing_listening() {
    // Bind then drop: the port is very likely free for the moment.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (report, _) = run_against(&format!("http://{addr}/paid"), Duration::from_secs(5)).await;
    assert_all_failed(&report, "cannot connect");
}

#[tokio::test]
async fn a_server_that_hangs_once_a_credential_is_sent() {
    // A well-formed 402 for requests without a credential; silence for the others.
    let url = raw_server(|mut stream| async move {
        let mut head = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let Ok(n) = stream.read(&mut buf).await else { return };
            if n == 0 {
                return;
            }
            head.extend_from_slice(&buf[..n]);
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        if text.contains("\r\nauthorization:") || text.contains("\r\npayment-authorization:") {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        let challenge = "Payment id=\"x1\", realm=\"hostile.localhost\", method=\"preimage\", \
                         intent=\"charge\", request=\"eyJhbW91bnQiOiIxMDAwIiwiY3VycmVuY3kiOiJ1c2QifQ\"";
        let response = format!(
            "HTTP/1.1 402 Payment Required\r\nWWW-Authenticate: {challenge}\r\n\
             Cache-Control: no-store\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.write_all(response.as_bytes()).await;
    })
    .await;
    let (report, _) = run_against(&url, Duration::from_millis(300)).await;
    let failed: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    assert!(failed.iter().any(|c| c.id == "credential.malformed-base64"));
    assert!(failed.iter().any(|c| c.id == "replay.concurrent-once"));
    for case in &failed {
        assert!(
            !case.expected.is_empty() && !case.actual.is_empty(),
            "{case:?}"
        );
    }
    // Unpaid checks still pass.
    let passed = |id: &str| {
        report
            .cases
            .iter()
            .any(|c| c.id == id && c.status == Status::Passed)
    };
    assert!(passed("challenge.status-402"), "{}", report.to_text(true));
    assert!(passed("caching.402-no-store"), "{}", report.to_text(true));
    let timed_out = failed
        .iter()
        .filter(|c| c.actual.contains("timed out"))
        .count();
    assert!(timed_out >= 10, "{}", report.to_text(true));
}
