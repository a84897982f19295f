//! `tempo` against mppx 0.11.0, the TypeScript reference SDK: the same challenges give
//! the same attribution memos, byte for byte.

use mpp_methods::tempo::Memo;
use mpp_test_support::mppx;
use serde_json::json;

#[test]
fn attribution_memos_match_mppx() {
    let Some(dir) = mppx::harness_or_skip("attribution_memos_match_mppx") else {
        return;
    };
    // Realms and ids as deployed servers write them, a client id, and non-ASCII text
    // (hashed as its UTF-8 bytes on both sides).
    let cases = [
        ("ch_1", "api.example.com", None),
        ("ch_1", "api.example.com", Some("agent-7")),
        ("x7Tg2pLqR4vW9zYb3nKdHs", "mpp-reference.test", None),
        (
            "hmac-id_-AbC",
            "café.example",
            Some("did:pkh:eip155:42431:0xf39Fd6e5"),
        ),
        ("", "", Some("")),
    ];
    let input: Vec<_> = cases
        .iter()
        .map(|(id, realm, client)| match client {
            Some(c) => json!({ "challengeId": id, "serverId": realm, "clientId": c }),
            None => json!({ "challengeId": id, "serverId": realm }),
        })
        .collect();
    let run = mppx::node(&dir, &["attribution.mjs", &json!(input).to_string()], &[]);
    assert!(run.success, "{}", run.report());
    let theirs: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(theirs.len(), cases.len(), "{}", run.report());
    for ((id, realm, client), theirs) in cases.iter().zip(theirs) {
        let ours = Memo::attribution(id, realm, *client);
        assert_eq!(ours.to_hex(), theirs, "{id:?} {realm:?} {client:?}");
        assert!(Memo::from_hex(theirs).is_some_and(|m| m.binds(id, realm)));
    }
}
