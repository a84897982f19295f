//! Transport security of the target.

use super::case;
use crate::suite::context::Ctx;
use crate::suite::{Case, Verdict};

const SECTION: &str = "Security";

/// The section's cases, in running order.
pub(super) const CASES: &[Case] = &[TLS];

const TLS: Case = case! {
    id: "security.tls",
    requirement: "core.security.tls.server",
    level: MustNot,
    title: "challenges are issued over TLS (loopback targets excepted)",
    run: tls,
};
async fn tls(ctx: &Ctx) -> Verdict {
    let url = ctx.target();
    if url.scheme() == "https" {
        return Verdict::Pass;
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(|c| c == '[' || c == ']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Verdict::NotApplicable("a loopback target over plain HTTP (development)".into())
    } else {
        Verdict::fail(
            "challenges issued over https",
            format!("the target is {url}"),
        )
    }
}
