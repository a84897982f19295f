//! `mpp`: a curl-like client that pays for HTTP resources with the "Payment"
//! authentication scheme, within the limits given on its command line.
//!
//! `mpp get URL` fetches (paying a 402 once, within `--max-amount` and `--budget`),
//! `mpp inspect URL` lists the challenges offered without paying, and
//! `mpp decode VALUE` explains a challenge, credential or receipt. `mpp --help`
//! documents the exit statuses.

#[path = "../cli/mod.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
