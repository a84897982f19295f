//! `mpp-conformance`: checks implementations of the Payment HTTP authentication scheme.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use conformance::{adapter, system_now};
use mpp_client::explain;

/// Conformance tools for the "Payment" HTTP authentication scheme.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Explain a header value: every challenge of a WWW-Authenticate value, a
    /// credential, or a receipt, decoded, with errors shown at their byte.
    ///
    /// Exit status: 0 when everything in the value is valid, 1 otherwise.
    #[command(
        after_help = "Example:\n  mpp-conformance explain 'Payment id=\"abc\", realm=\"api.example.com\", method=\"tempo\", intent=\"charge\", request=\"eyJhbW91bnQiOiIxMDAwIn0\"'"
    )]
    Explain {
        /// The header value (without the field name).
        value: String,
        /// What the value is.
        #[arg(long, value_enum, default_value_t = Kind::Auto)]
        kind: Kind,
        /// Show credential payloads, payers and receipt references instead of
        /// redacting them.
        #[arg(long)]
        reveal: bool,
    },
    /// Speak the cross-SDK conformance-harness ABI: read one JSON request from
    /// stdin, print one JSON line, exit 0.
    Adapter,
}

/// What kind of header value to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Guess: a credential if it is one, else a receipt, else challenges.
    Auto,
    /// A `WWW-Authenticate` value.
    Challenge,
    /// An `Authorization` or `Payment-Authorization` value.
    Credential,
    /// A `Payment-Receipt` value.
    Receipt,
}

impl From<Kind> for explain::Kind {
    fn from(kind: Kind) -> explain::Kind {
        match kind {
            Kind::Auto => explain::Kind::Auto,
            Kind::Challenge => explain::Kind::Challenge,
            Kind::Credential => explain::Kind::Credential,
            Kind::Receipt => explain::Kind::Receipt,
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Explain {
            value,
            kind,
            reveal,
        } => {
            let (text, ok) = explain::explain(&value, kind.into(), system_now(), reveal);
            print!("{text}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Adapter => {
            let mut request = String::new();
            let line = match std::io::stdin().read_to_string(&mut request) {
                Ok(_) => adapter::handle(&request, system_now()),
                Err(e) => {
                    adapter::failure_line("invalid_request", &format!("cannot read stdin: {e}"))
                }
            };
            let mut stdout = std::io::stdout().lock();
            // The harness reads exactly one line; a closed pipe leaves nothing to report.
            let _ = writeln!(stdout, "{line}");
            ExitCode::SUCCESS
        }
    }
}
