//! `mpp-conformance`: checks implementations of the Payment HTTP authentication scheme.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand, ValueEnum};
use conformance::adapter;
use conformance::mcp::{self, McpCtx, McpOptions};
use conformance::suite::{self, Ctx, Payer, Selection, SuiteOptions};
use conformance::vectors::{self, run as vector_run};
use mpp_client::explain;
use mpp_core::credential::CredentialField;
use mpp_core::time::UnixTime;
use mpp_methods::stripe::{DEFAULT_API_BASE, StripeSecretKey};
use mpp_methods::tempo::PrivateKey;

/// Exit status of `server` when its arguments are unusable.
const USAGE: u8 = 64;

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
    /// Check a server that speaks the Payment scheme, black-box, case by case.
    ///
    /// Exit status: 0 when no case failed, 1 when one did, 64 on a usage error.
    #[command(after_help = SERVER_HELP)]
    Server(Box<ServerArgs>),
    /// Run the language-neutral conformance vectors against an adapter (this
    /// implementation's, in-process, by default).
    ///
    /// Exit status: 0 when no vector failed, 1 when one did, 64 on a usage error.
    #[command(after_help = VECTORS_HELP)]
    Vectors(Box<VectorsArgs>),
    /// Check an MCP server (Streamable HTTP) or, with --rpc, a plain JSON-RPC 2.0
    /// server that prices tools or methods with the Payment scheme, black-box.
    ///
    /// Exit status: 0 when no MUST case failed (no case at all with --strict), 1
    /// otherwise, 64 on a usage error.
    #[command(after_help = MCP_HELP)]
    Mcp(Box<McpArgs>),
}

const MCP_HELP: &str = "\
The suite opens an MCP session (initialize, notifications/initialized, then
Mcp-Session-Id on every request) and reads answers sent as JSON or as an SSE stream.
Each case cites the requirements it checks (spec/requirements.json, ids mcp.*), or
the rule of JSON-RPC 2.0 it checks, and its level. Every case runs, SHOULDs too; a
failed SHOULD shows in the report but sets the exit status only with --strict.
Skipped cases need a payment (--pay); not-applicable ones test something the target
does not offer: the root _meta outside --rpc, a second priced tool, /stats (the
reference server's count of paid runs, read at the URL's origin).

Examples:
  mpp-conformance mcp http://127.0.0.1:8402/mcp --pay preimage=mppx-interop-preimage
  mpp-conformance mcp http://127.0.0.1:8402/rpc --rpc --pay preimage=mppx-interop-preimage
  mpp-conformance mcp https://tools.example.com/mcp --tool weather --free-tool ping --json report.json
  mpp-conformance mcp --list";

#[derive(Debug, clap::Args)]
struct McpArgs {
    /// The MCP endpoint (or, with --rpc, the JSON-RPC endpoint).
    #[arg(required_unless_present = "list")]
    url: Option<String>,
    /// Plain JSON-RPC 2.0 over HTTP POST instead of MCP: priced calls are methods.
    #[arg(long)]
    rpc: bool,
    /// The priced tool (or, with --rpc, method).
    #[arg(
        long,
        visible_alias = "method",
        default_value = "paid_echo",
        value_name = "NAME"
    )]
    tool: String,
    /// A free tool (or, with --rpc, method), for the case that sends it a
    /// credential.
    #[arg(
        long,
        visible_alias = "free-method",
        default_value = "echo",
        value_name = "NAME"
    )]
    free_tool: String,
    /// Pay where a case needs it: `preimage=SECRET` (the preimage test method).
    /// The secret is never printed.
    #[arg(long, value_name = "preimage=SECRET")]
    pay: Option<String>,
    /// Count failed SHOULD cases in the exit status.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    run: RunArgs,
}

const VECTORS_HELP: &str = "\
Each vector sends one request to the adapter ({\"schema\":1,\"op\":…,\"input\":…,
\"context\":…} on stdin) and compares the one JSON line it prints. Operations the
adapter answers with unsupported_operation are skipped, not failed. The vector files
and the adapter ABI: spec/vectors/README.md and conformance/adapter.json.

Examples:
  mpp-conformance vectors
  mpp-conformance vectors --adapter 'node my-adapter.js' --json report.json
  mpp-conformance vectors --adapter './adapter' --only challenge-parse,jcs.rfc8785 -v";

#[derive(Debug, clap::Args)]
struct VectorsArgs {
    /// Read the vector files (every *.json) from this directory instead of the
    /// compiled-in draft-01 set.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The adapter command, started once per vector; split like a shell command
    /// line, without a shell. Default: this implementation's adapter, in-process.
    #[arg(long, value_name = "CMD")]
    adapter: Option<String>,
    /// Only these categories, vector ids or id prefixes (whole dot-separated
    /// segments); repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_name = "CATEGORY|ID-PREFIX")]
    only: Vec<String>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The longest a spawned adapter may take for one vector, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,
    /// List every vector with its result, and why skipped ones were skipped.
    #[arg(long, short)]
    verbose: bool,
}

const SERVER_HELP: &str = "\
Each case cites the requirement it checks (spec/requirements.json) and, when it
fails, prints what was Expected and what was Actual. Skipped cases are SHOULDs
(without --strict) or need a payment (without --pay); not-applicable cases test
something the target does not offer (a second method, a paid POST route). With
--pay tempo=KEYFILE each paid case signs a real payment on the chain of --rpc
(pull mode where offered: the server broadcasts it). With --pay
stripe=KEYFILE:PAYMENT_METHOD each paid case mints a Shared Payment Token for its
challenge from that payment method (pm_…) of the Stripe account whose secret key is
in KEYFILE, and the server charges it: use a test-mode key (sk_test_…) and
pm_card_visa unless real money may move. The split is at the last ':', so KEYFILE
may hold one; the key is never printed.

Examples:
  mpp-conformance server --embedded
  mpp-conformance server https://api.example.com/paid --pay preimage=s3cret --strict
  mpp-conformance server http://127.0.0.1:8402/paid-tempo --pay tempo=payer.key --rpc http://127.0.0.1:8545
  mpp-conformance server https://api.example.com/paid --pay stripe=stripe.key:pm_card_visa
  mpp-conformance server https://api.example.com/paid --only binding,caching --junit report.xml
  mpp-conformance server --list";

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// The URL of a paid resource (a GET answered 402).
    #[arg(required_unless_present_any = ["embedded", "list"], conflicts_with = "embedded")]
    url: Option<String>,
    /// Start the reference server in-process and check it (its `/paid-multi`); needs
    /// a build with the `embedded` feature.
    #[arg(long)]
    embedded: bool,
    /// With --embedded: ask for credentials in Payment-Authorization.
    #[arg(long, requires = "embedded")]
    payment_authorization: bool,
    /// Pay where a case needs it: `preimage=SECRET` (the preimage test method),
    /// `tempo=KEYFILE` (tempo/charge, from the private key in KEYFILE, through the
    /// node of --rpc) or `stripe=KEYFILE:pm_…` (stripe/charge, by card from that
    /// payment method of the account whose secret key is in KEYFILE). Keys are
    /// never printed.
    #[arg(long, value_name = "preimage=SECRET|tempo=KEYFILE|stripe=KEYFILE:PM")]
    pay: Option<String>,
    /// With --pay tempo=KEYFILE: the Tempo node's JSON-RPC URL (the chain it serves
    /// is the one paid on).
    #[arg(long, value_name = "URL")]
    rpc: Option<String>,
    /// With --pay stripe=…: Stripe's API base URL, e.g. a local stand-in's
    /// [default: <https://api.stripe.com>].
    #[arg(long, value_name = "URL")]
    stripe_api: Option<String>,
    /// Run the SHOULD cases too.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// What both suites take: which cases, how long a request may take, what to add
/// to each, and where the report goes.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Only these cases or sections (ids, id prefixes such as `paid`, or section
    /// names); repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the report as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// The longest one request may take, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,
    /// A header field to add to every request, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Show why each skipped or not-applicable case did not run.
    #[arg(long, short)]
    verbose: bool,
}

impl RunArgs {
    /// `--timeout`, checked, and the `--header` fields, parsed.
    fn limits(&self) -> Result<(Duration, Vec<(String, String)>), String> {
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 3600.0) {
            return Err(format!(
                "--timeout {}: expected seconds in (0, 3600]",
                self.timeout
            ));
        }
        Ok((
            Duration::from_secs_f64(self.timeout),
            parse_headers(&self.headers)?,
        ))
    }
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
            let (text, ok) = explain::explain(
                &value,
                kind.into(),
                UnixTime::from(SystemTime::now()),
                reveal,
            );
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Adapter => {
            let mut request = String::new();
            let line = match std::io::stdin().read_to_string(&mut request) {
                Ok(_) => adapter::handle(&request, UnixTime::from(SystemTime::now())),
                Err(e) => {
                    adapter::failure_line("invalid_request", &format!("cannot read stdin: {e}"))
                }
            };
            let mut stdout = std::io::stdout().lock();
            // The harness reads exactly one line; a closed pipe leaves nothing to report.
            let _ = writeln!(stdout, "{line}");
            ExitCode::SUCCESS
        }
        Command::Server(args) => ExitCode::from(server(*args)),
        Command::Vectors(args) => ExitCode::from(run_vectors(*args)),
        Command::Mcp(args) => ExitCode::from(run_mcp(*args)),
    }
}

fn run_mcp(args: McpArgs) -> u8 {
    let usage = |message: &str| {
        eprintln!("mpp-conformance mcp: {message}");
        eprintln!("Try 'mpp-conformance mcp --help' for more information.");
        USAGE
    };
    if args.run.list {
        let mut out = std::io::stdout().lock();
        for case in mcp::cases() {
            let _ = writeln!(
                out,
                "{:<30} {:<6} {:<48} {}{}",
                case.id,
                case.strength(),
                case.cites(),
                case.title,
                if case.pays { " (pays)" } else { "" }
            );
        }
        return 0;
    }
    let (timeout, headers) = match args.run.limits() {
        Ok(limits) => limits,
        Err(e) => return usage(&e),
    };
    for only in &args.run.only {
        if !mcp::cases()
            .iter()
            .any(|c| mcp::selects(std::slice::from_ref(only), c))
        {
            return usage(&format!(
                "--only {only:?}: no such case or section (see --list)"
            ));
        }
    }
    let preimage = match args.pay.as_deref().map(Payer::parse) {
        None => None,
        Some(Ok(Payer::Preimage(secret))) => Some(secret),
        Some(Ok(_)) => return usage("--pay: the MCP suite pays with preimage=SECRET only"),
        Some(Err(e)) => return usage(&e),
    };
    let url = args.url.clone().unwrap_or_default();
    let target = match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            return usage(&format!(
                "{url}: the scheme {:?} is not http or https",
                u.scheme()
            ));
        }
        Err(e) => return usage(&format!("{url}: {e}")),
    };
    let transport = if args.rpc {
        mcp::Transport::Rpc
    } else {
        mcp::Transport::Mcp
    };
    let options = McpOptions {
        free: Some(args.free_tool.clone()),
        timeout,
        headers,
        preimage,
        ..McpOptions::new(transport, &args.tool)
    };
    let ctx = match McpCtx::new(target, options) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("mpp-conformance: {e}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mpp-conformance: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let report = runtime.block_on(mcp::run(&ctx, &args.run.only));
    let _ = std::io::stdout()
        .lock()
        .write_all(report.to_text(args.run.verbose).as_bytes());
    let mut written = true;
    if let Some(path) = &args.run.json {
        written &= write_report(path, &format!("{:#}\n", report.to_json()));
    }
    if let Some(path) = &args.run.junit {
        written &= write_report(path, &report.to_junit());
    }
    u8::from(mcp::failed(&report, args.strict) || !written)
}

/// `Name: value` header arguments, checked.
fn parse_headers(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for header in args {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("--header {header:?}: expected `Name: value`"))?;
        let (name, value) = (name.trim(), value.trim());
        http::HeaderName::try_from(name)
            .map_err(|_| format!("--header {header:?}: {name:?} is not a field name"))?;
        http::HeaderValue::try_from(value)
            .map_err(|_| format!("--header {header:?}: the value is not a valid field value"))?;
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(headers)
}

fn run_vectors(args: VectorsArgs) -> u8 {
    let usage = |message: &str| {
        eprintln!("mpp-conformance vectors: {message}");
        eprintln!("Try 'mpp-conformance vectors --help' for more information.");
        USAGE
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 3600.0) {
        return usage(&format!(
            "--timeout {}: expected seconds in (0, 3600]",
            args.timeout
        ));
    }
    let adapter = match &args.adapter {
        None => vector_run::Adapter::InProcess,
        Some(line) => match vectors::shell::split(line) {
            Ok(argv) => vector_run::Adapter::Command(argv),
            Err(e) => return usage(&format!("--adapter {line:?}: {e}")),
        },
    };
    let files = match &args.dir {
        Some(dir) => vectors::load_dir(dir),
        None => vectors::load_embedded(),
    };
    let files = match files {
        Ok(files) => files,
        Err(e) => return usage(&e),
    };
    let options = vector_run::VectorOptions {
        adapter,
        timeout: Duration::from_secs_f64(args.timeout),
        only: args.only.clone(),
    };
    let report = match vector_run::run(&files, &options) {
        Ok(report) => report,
        Err(e) => return usage(&e),
    };
    let _ = std::io::stdout()
        .lock()
        .write_all(report.to_text(args.verbose).as_bytes());
    let written = match &args.json {
        Some(path) => write_report(path, &format!("{:#}\n", report.to_json())),
        None => true,
    };
    u8::from(report.failed() || !written)
}

fn server(args: ServerArgs) -> u8 {
    if args.run.list {
        let mut out = std::io::stdout().lock();
        for case in suite::cases() {
            // A closed pipe (`| head`) ends the listing quietly.
            let _ = writeln!(
                out,
                "{:<34} {:<6} {:<44} {}{}",
                case.id,
                case.strength(),
                case.requirement,
                case.title,
                if case.pays { " (pays)" } else { "" }
            );
        }
        return 0;
    }
    let (options, tempo_key) = match options(&args) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mpp-conformance: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(run_server(args, options, tempo_key))
}

async fn run_server(
    args: ServerArgs,
    mut options: SuiteOptions,
    tempo_key: Option<PrivateKey>,
) -> u8 {
    if let (Some(key), Some(rpc)) = (tempo_key, &args.rpc) {
        match Payer::tempo(key, rpc).await {
            Ok(payer) => options.payer = Some(payer),
            Err(e) => {
                eprintln!("mpp-conformance: {e}");
                return 1;
            }
        }
    }
    let mut _embedded = None;
    let url = if args.embedded {
        let field = if args.payment_authorization {
            CredentialField::PaymentAuthorization
        } else {
            CredentialField::Authorization
        };
        match start_embedded(field, &mut options).await {
            Ok((server, url)) => {
                _embedded = Some(server);
                url
            }
            Err(status) => return status,
        }
    } else {
        args.url.clone().unwrap_or_default()
    };
    let target = match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            return usage(&format!(
                "{url}: the scheme {:?} is not http or https",
                u.scheme()
            ));
        }
        Err(e) => return usage(&format!("{url}: {e}")),
    };
    let ctx = match Ctx::new(target, options) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("mpp-conformance: {e}");
            return 1;
        }
    };
    let selection = Selection {
        only: args.run.only.clone(),
        strict: args.strict,
    };
    let report = suite::run(&ctx, &selection).await;
    let _ = std::io::stdout()
        .lock()
        .write_all(report.to_text(args.run.verbose).as_bytes());
    let mut written = true;
    if let Some(path) = &args.run.json {
        let text = format!("{:#}\n", report.to_json());
        written &= write_report(path, &text);
    }
    if let Some(path) = &args.run.junit {
        written &= write_report(path, &report.to_junit());
    }
    u8::from(report.failed() || !written)
}

/// The suite's settings, and the Tempo key when the suite pays with tempo (its
/// payer needs the node, asked once the runtime runs).
fn options(args: &ServerArgs) -> Result<(SuiteOptions, Option<PrivateKey>), String> {
    let (timeout, headers) = args.run.limits()?;
    let known: Vec<_> = suite::cases()
        .into_iter()
        .map(|c| (c.id, c.section))
        .collect();
    for only in &args.run.only {
        let found = known.iter().any(|(id, section)| {
            id == only || id.starts_with(&format!("{only}.")) || section == only
        });
        if !found {
            return Err(format!(
                "--only {only:?}: no such case or section (see --list)"
            ));
        }
    }
    let (payer, tempo_key) = match args.pay.as_deref() {
        Some(pay) if pay.starts_with("tempo=") => {
            let path = &pay["tempo=".len()..];
            if args.rpc.is_none() {
                return Err(format!("--pay {pay}: needs --rpc URL, the Tempo node"));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--pay {pay}: cannot read the key file: {e}"))?;
            let key = PrivateKey::from_hex(&text).map_err(|e| format!("--pay {pay}: {e}"))?;
            (None, Some(key))
        }
        Some(pay) if pay.starts_with("stripe=") => (Some(stripe_payer(pay, args)?), None),
        Some(pay) => (Some(Payer::parse(pay)?), None),
        None => (None, None),
    };
    if args.rpc.is_some() && tempo_key.is_none() {
        return Err("--rpc is used only with --pay tempo=KEYFILE".into());
    }
    if args.stripe_api.is_some() && !matches!(payer, Some(Payer::Stripe(_))) {
        return Err("--stripe-api is used only with --pay stripe=KEYFILE:pm_…".into());
    }
    let options = SuiteOptions {
        timeout,
        headers,
        payer,
    };
    Ok((options, tempo_key))
}

/// The payer of `--pay stripe=KEYFILE:pm_…`, through `--stripe-api` or Stripe's
/// API. The errors name the file, never its content.
fn stripe_payer(pay: &str, args: &ServerArgs) -> Result<Payer, String> {
    let spec = &pay["stripe=".len()..];
    let (path, payment_method) = spec
        .rsplit_once(':')
        .filter(|(path, pm)| !path.is_empty() && pm.starts_with("pm_"))
        .ok_or_else(|| {
            format!(
                "--pay {pay}: expected stripe=KEYFILE:PAYMENT_METHOD, e.g. \
                 stripe=stripe.key:pm_card_visa"
            )
        })?;
    let key =
        StripeSecretKey::from_file(Path::new(path)).map_err(|e| format!("--pay stripe=…: {e}"))?;
    let base = args.stripe_api.as_deref().unwrap_or(DEFAULT_API_BASE);
    Payer::stripe(
        key,
        payment_method,
        base,
        Duration::from_secs_f64(args.run.timeout),
    )
    .map_err(|e| format!("--pay stripe=…: {e}"))
}

fn write_report(path: &PathBuf, text: &str) -> bool {
    match std::fs::write(path, text) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("mpp-conformance: cannot write {}: {e}", path.display());
            false
        }
    }
}

/// Starts the embedded reference server and pays it with its preimage unless told
/// otherwise: the server (which stops when dropped) and the URL to check, or the
/// exit status.
#[cfg(feature = "embedded")]
async fn start_embedded(
    field: CredentialField,
    options: &mut SuiteOptions,
) -> Result<(mpp_reference_server::Spawned, String), u8> {
    use conformance::embedded;
    let server = match embedded::start(field).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mpp-conformance: cannot start the embedded server: {e}");
            return Err(1);
        }
    };
    if options.payer.is_none() {
        options.payer = Some(Payer::Preimage(embedded::PREIMAGE.into()));
    }
    let url = server.url("/paid-multi");
    Ok((server, url))
}

/// Without the `embedded` feature there is no reference server to start.
#[cfg(not(feature = "embedded"))]
async fn start_embedded(_: CredentialField, _: &mut SuiteOptions) -> Result<((), String), u8> {
    Err(usage(
        "--embedded needs the reference server, which this build leaves out: build \
         mpp-conformance with the `embedded` feature (`cargo run -p conformance \
         --features embedded -- server --embedded`, or `cargo install ... --features \
         embedded`)",
    ))
}

fn usage(message: &str) -> u8 {
    eprintln!("mpp-conformance server: {message}");
    eprintln!("Try 'mpp-conformance server --help' for more information.");
    USAGE
}
