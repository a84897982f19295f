//! Parsing a typical challenge borrows from the header: at most one allocation.
//!
//! This binary holds a single test because the allocation counter is process-wide.

mod common;

use std::alloc::System;

use mpp_core::challenge::Challenge;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn parsing_a_typical_challenge_allocates_at_most_once() {
    let header = common::typical_challenge();
    assert_eq!(header.len(), 424);
    let region = Region::new(GLOBAL);
    let challenge = Challenge::parse(header.as_bytes()).unwrap();
    let stats = region.change();
    assert_eq!(challenge.method, "tempo");
    assert!(stats.allocations <= 1, "{stats:?}");

    // Multi-challenge iteration is allocation-free per challenge too.
    let line = format!("{header}, Bearer realm=\"x\", {header}");
    let region = Region::new(GLOBAL);
    let count = Challenge::parse_all(line.as_bytes())
        .filter(Result::is_ok)
        .count();
    let stats = region.change();
    assert_eq!(count, 2);
    assert!(stats.allocations <= 2, "{stats:?}");
}
