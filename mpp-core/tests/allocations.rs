//! Parsing a typical challenge borrows from the header: no allocation at all (the
//! target is at most one; a `request` too large for the stack buffer takes one).
//!
//! This binary holds a single test because the allocation counter is process-wide.

mod common;

use std::alloc::System;

use mpp_core::challenge::Challenge;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn parsing_a_typical_challenge_does_not_allocate() {
    let header = common::typical_challenge();
    assert_eq!(header.len(), 424);
    let region = Region::new(GLOBAL);
    let challenge = Challenge::parse(header.as_bytes()).unwrap();
    let stats = region.change();
    assert_eq!(challenge.method, "tempo");
    assert_eq!(stats.allocations + stats.reallocations, 0, "{stats:?}");

    // Multi-challenge iteration is allocation-free per challenge too.
    let line = format!("{header}, Bearer realm=\"x\", {header}");
    let region = Region::new(GLOBAL);
    let count = Challenge::parse_all(line.as_bytes())
        .filter(Result::is_ok)
        .count();
    let stats = region.change();
    assert_eq!(count, 2);
    assert_eq!(stats.allocations + stats.reallocations, 0, "{stats:?}");

    // A request beyond the stack buffer costs exactly one allocation.
    let big = mpp_core::base64::encode(format!(r#"{{"pad":"{}"}}"#, "x".repeat(2000)).as_bytes());
    let line = header.replace(
        &header[header.find("request=\"").unwrap() + 9..header.find("\", expires").unwrap()],
        &big,
    );
    let region = Region::new(GLOBAL);
    let challenge = Challenge::parse(line.as_bytes()).unwrap();
    let stats = region.change();
    assert_eq!(challenge.request.as_str(), big);
    assert_eq!(stats.allocations + stats.reallocations, 1, "{stats:?}");
}
