//! The `mpp` command-line client: `get` (fetch, paying within limits), `inspect`
//! (list the challenges offered), `decode` (explain a header value) and `mcp`
//! (call MCP tools, paying within limits).

mod args;
mod get;
mod inspect;
mod mcp;
mod request;

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::Parser;
use mpp_client::explain::{self, Kind};

use args::{Cli, Command, DecodeArgs, McpCommand};

/// Exit statuses (see [`args::EXIT_CODES`]).
pub(crate) mod exit {
    pub(crate) const OK: u8 = 0;
    /// `mpp decode`: the value is not valid.
    pub(crate) const INVALID: u8 = 1;
    pub(crate) const REFUSED: u8 = 2;
    pub(crate) const REJECTED: u8 = 3;
    pub(crate) const NETWORK: u8 = 4;
    pub(crate) const UNKNOWN_OUTCOME: u8 = 5;
    pub(crate) const HTTP_STATUS: u8 = 6;
    pub(crate) const USAGE: u8 = 64;
}

/// A usage error found after parsing (exit 64).
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl Usage {
    /// Reports it on stderr and gives the exit status.
    pub(crate) fn report(&self) -> u8 {
        eprintln!("mpp: {}", self.0);
        eprintln!("Try 'mpp --help' for more information.");
        exit::USAGE
    }
}

pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version go to stdout and succeed; everything else is a
            // usage error.
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Decode(args) => decode(&args),
        Command::Get(args) => match runtime() {
            Ok(rt) => rt.block_on(get::run(*args)),
            Err(code) => code,
        },
        Command::Inspect(args) => match runtime() {
            Ok(rt) => rt.block_on(inspect::run(args)),
            Err(code) => code,
        },
        Command::Mcp(args) => match runtime() {
            Ok(rt) => match args.command {
                McpCommand::Call(args) => rt.block_on(mcp::call(*args)),
                McpCommand::Tools(args) => rt.block_on(mcp::tools(args)),
            },
            Err(code) => code,
        },
    };
    ExitCode::from(code)
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("mpp: cannot start the async runtime: {e}");
            exit::NETWORK
        })
}

/// `mpp decode`.
fn decode(args: &DecodeArgs) -> u8 {
    let mut value = args.header.clone();
    if value == "-" {
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!("mpp: reading the header value from stdin (end with Ctrl-D)");
        }
        value.clear();
        if let Err(e) = stdin.read_to_string(&mut value) {
            return Usage(format!("cannot read stdin: {e}")).report();
        }
    }
    let (kind, value) = strip_field_name(value.trim(), args.kind);
    let (text, ok) = explain::explain(value, kind, request::now(), args.reveal);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    if ok { exit::OK } else { exit::INVALID }
}

/// Accepts a whole header line (`WWW-Authenticate: Payment …`): the field name is
/// removed and, with `--kind auto`, says what the value is.
fn strip_field_name(value: &str, kind: Kind) -> (Kind, &str) {
    const FIELDS: [(&str, Kind); 4] = [
        ("www-authenticate", Kind::Challenge),
        ("authorization", Kind::Credential),
        ("payment-authorization", Kind::Credential),
        ("payment-receipt", Kind::Receipt),
    ];
    if let Some((name, rest)) = value.split_once(':') {
        let name = name.trim();
        for (field, field_kind) in FIELDS {
            if name.eq_ignore_ascii_case(field) {
                let kind = if kind == Kind::Auto { field_kind } else { kind };
                return (kind, rest.trim());
            }
        }
    }
    (kind, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_stripped() {
        assert_eq!(
            strip_field_name("Payment-Receipt: abc", Kind::Auto),
            (Kind::Receipt, "abc")
        );
        assert_eq!(
            strip_field_name("authorization:Payment x", Kind::Auto),
            (Kind::Credential, "Payment x")
        );
        let challenge = r#"Payment id="a", expires="2030-01-01T00:00:00Z""#;
        assert_eq!(
            strip_field_name(challenge, Kind::Auto),
            (Kind::Auto, challenge)
        );
    }
}
