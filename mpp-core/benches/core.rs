//! Side-by-side benchmarks of mpp-core and the crates.io `mpp` SDK on the same inputs.
//!
//! Run with `cargo bench -p mpp-core`. Each group has an `mpp-core` and an `mpp` (or
//! bare HMAC) line, so their ratio is measured in one run on one machine.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use mpp_core::binding::{BindingInput, ChallengeBinder, Secret};
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use sha2::Sha256;

#[path = "../tests/common/mod.rs"]
mod common;

const SECRET: &str = "a-benchmark-secret-of-at-least-32-bytes";

fn challenge(c: &mut Criterion) {
    let header = common::typical_challenge();
    assert_eq!(header.len(), 424);
    let ours = Challenge::parse(header.as_bytes()).unwrap();
    let theirs = mpp::protocol::core::parse_www_authenticate(&header).unwrap();

    let mut g = c.benchmark_group("parse challenge (424 B)");
    g.bench_function("mpp-core", |b| {
        b.iter(|| Challenge::parse(black_box(header.as_bytes())).unwrap())
    });
    g.bench_function("mpp", |b| {
        b.iter(|| mpp::protocol::core::parse_www_authenticate(black_box(&header)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("format challenge (424 B)");
    g.bench_function("mpp-core", |b| {
        b.iter(|| black_box(&ours).to_header().unwrap())
    });
    g.bench_function("mpp", |b| {
        b.iter(|| mpp::protocol::core::format_www_authenticate(black_box(&theirs)).unwrap())
    });
    g.finish();
}

fn challenge_id(c: &mut Criterion) {
    let challenge = Challenge::parse(common::typical_challenge().as_bytes())
        .unwrap()
        .into_owned();
    let input = BindingInput {
        realm: &challenge.realm,
        method: &challenge.method,
        intent: &challenge.intent,
        request: challenge.request.as_str(),
        expires: challenge.expires.as_ref().map(|e| e.as_str()),
        digest: None,
        header: None,
        opaque: None,
    };
    let binder = ChallengeBinder::new(Secret::new(SECRET).unwrap());
    let joined = format!(
        "{}|{}|{}|{}|{}||",
        input.realm,
        input.method,
        input.intent,
        input.request,
        input.expires.unwrap()
    );
    assert_eq!(
        binder.id_for(&input).unwrap().as_str(),
        mpp_core::base64::encode(&bare_hmac(joined.as_bytes()))
    );

    let mut g = c.benchmark_group("challenge id");
    g.bench_function("mpp-core", |b| {
        b.iter(|| binder.id_for(black_box(&input)).unwrap())
    });
    g.bench_function("bare HMAC-SHA256 of the input bytes", |b| {
        b.iter(|| bare_hmac(black_box(joined.as_bytes())))
    });
    g.bench_function("mpp", |b| {
        b.iter(|| {
            mpp::protocol::core::compute_challenge_id(
                black_box(SECRET),
                input.realm,
                input.method,
                input.intent,
                input.request,
                input.expires,
                None,
                None,
            )
        })
    });
    g.finish();
}

fn bare_hmac(input: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().into()
}

fn credential(c: &mut Criterion) {
    let typical = common::typical_challenge();
    let challenge = Challenge::parse(typical.as_bytes()).unwrap();
    let mut payload = JsonObject::new();
    payload.insert("type".into(), "transaction".into());
    payload.insert("signature".into(), format!("0x{}", "ab".repeat(65)).into());
    let header = Credential::answer(
        &challenge,
        payload,
        Some("did:pkh:eip155:4217:0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00".into()),
    )
    .to_header();
    mpp::protocol::core::parse_authorization(&header).unwrap();

    let mut g = c.benchmark_group("parse credential");
    g.bench_function("mpp-core", |b| {
        b.iter(|| Credential::parse(black_box(header.as_bytes())).unwrap())
    });
    g.bench_function("mpp", |b| {
        b.iter(|| mpp::protocol::core::parse_authorization(black_box(&header)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, challenge, challenge_id, credential);
criterion_main!(benches);
