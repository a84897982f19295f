//! The command line: clap definitions and the parsers of its values.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use http::{HeaderName, HeaderValue, Method};
use mpp_client::explain::Kind;

/// The exit statuses, shown by `--help` and documented in the README.
pub(crate) const EXIT_CODES: &str = "\
Exit status:
  0   success: a 2xx response, paid or free
  2   nothing was paid: the spending policy refused every challenge, no challenge
      was payable (unknown method, expired, malformed), or the method could not pay
  3   the server rejected the payment (a 4xx after paying, including a second 402)
  4   network error (connect, TLS, timeout, reading the response, redirects; the
      Lightning test network, the Tempo node or Stripe's API unreachable)
  5   the payment's outcome is unknown: a 5xx, or a network failure, after the
      credential was sent (it is never resent: check with the server), or a Tempo
      transaction broadcast in push mode whose outcome is unknown (its hash is shown)
  6   a non-2xx response without payment (e.g. 404)
  64  usage error (bad option or value, a method without its secret, an unreadable
      --data-file, --tempo-key-file or --stripe-key-file, an unknown token name)
`mpp decode` exits 0 when the value is valid and 1 when it is not; `mpp mcp call`'s
statuses are in `mpp mcp call --help`.";

const ABOUT: &str = "A curl-like client that pays for HTTP resources with the \"Payment\" \
authentication scheme (402 Payment Required), within the limits you give it.";

const MAIN_HELP: &str = "\
Examples:
  mpp get https://api.example.com/paid --method preimage --preimage s3cret --max-amount 1000:usd
  mpp inspect https://api.example.com/paid
  mpp mcp call https://tools.example.com/mcp paid_echo --args '{\"text\":\"hi\"}' --preimage s3cret --max-amount 1000:usd
  mpp decode 'Payment id=\"…\", realm=\"…\", method=\"…\", intent=\"charge\", request=\"…\"'

";

const GET_HELP: &str = "\
Nothing is paid unless --max-amount allows the challenge's currency and amount.
At most one payment is made per command; a 402 after paying is an error, never a
second payment. Credentials are sent only to the origin that asked for them.

Examples:
  # Pay at most 1000 base units of usd with the preimage test method:
  mpp get https://api.example.com/paid --method preimage --preimage s3cret --max-amount 1000:usd

  # POST a JSON body (sent again, identical, with the credential):
  mpp get https://api.example.com/items -d '{\"item\":1}' -H 'Content-Type: application/json' \\
      --method token --token \"$TOKEN\" --max-amount 500:usd

  # The secrets can come from MPP_PREIMAGE and MPP_TOKEN instead (kept out of `ps`):
  MPP_PREIMAGE=s3cret mpp get http://127.0.0.1:8402/paid --method preimage --max-amount 1000:usd -v

  # A machine-readable result (status, headers, body, receipt, payment, error):
  mpp get https://api.example.com/paid --preimage s3cret --max-amount 1000:usd --json

  # Lightning on the reference server's test network (test money, at most 100 sat):
  mpp get http://127.0.0.1:8402/paid-lightning --lightning-testnet http://127.0.0.1:8402 \\
      --max-amount 100:sat

  # Tempo: at most 0.01 pathUSD (10000 base units), from the key in a file only you
  # can read, through a Tempo node; push mode broadcasts the transaction itself:
  mpp get https://api.example.com/paid --tempo-key-file ~/.config/mpp/tempo.key \\
      --tempo-rpc https://rpc.testnet.tempo.xyz --max-amount 10000:pathUSD [--tempo-mode push]

  # Stripe: at most 5.00 usd (500 cents) by card, through a Shared Payment Token
  # minted from your payment method with the secret key in a file only you can read
  # (or the key itself in MPP_STRIPE_KEY); a test-mode key (sk_test_) moves no money:
  mpp get https://api.example.com/paid --stripe-key-file ~/.config/mpp/stripe.key \
      --stripe-payment-method pm_card_visa --max-amount 500:usd

";

const INSPECT_HELP: &str = "\
Sends the request once, without any credential, and decodes every challenge of
its WWW-Authenticate fields (other schemes are listed too). Nothing is paid.

Exit status: 0 a 2xx (free) or a 402 with at least one valid Payment challenge;
2 a 402 without a valid Payment challenge; 4 network error; 6 another non-2xx;
64 usage error.

Examples:
  mpp inspect https://api.example.com/paid
  mpp inspect -X POST -d '{\"item\":1}' https://api.example.com/items --json

";

/// The exit statuses of `mpp mcp call`.
pub(crate) const MCP_EXIT_CODES: &str = "\
Exit status:
  0   the tool ran and succeeded, paid or free (its result is on stdout)
  2   nothing was paid: the spending policy refused every challenge, no challenge
      was payable (unknown method, expired, malformed), or the method could not pay
  3   the server rejected the payment (a second payment request, -32043 or -32602
      after paying; it is never paid twice)
  4   network error, or an answer that is not MCP (not JSON, another request's id,
      not JSON-RPC 2.0, too large, an HTTP error status), before anything was paid
  5   the payment's outcome is unknown: no usable answer after the credential was
      sent (it is resent once, identical, when no answer came), -32603, another
      JSON-RPC error after paying, or a result with isError: true and no receipt
      after paying (how mppx's server refuses a credential)
  6   the tool failed (a result with isError: true, printed on stdout, with its
      receipt on stderr when paid), or the server answered a JSON-RPC error to an
      unpaid call (an unknown tool, bad arguments)
  64  usage error (bad option or value, --args that is not a JSON object, a method
      without its secret)";

const MCP_HELP: &str = "\
Tools reached through MCP's Streamable HTTP transport (JSON-RPC over HTTP POST).
A tool that answers \"payment required\" (-32042) is paid like `mpp get` pays a 402:
within --max-amount, once, with the credential in the call's _meta.

Examples:
  mpp mcp tools https://tools.example.com/mcp
  mpp mcp call https://tools.example.com/mcp paid_echo --args '{\"text\":\"hi\"}' \\
      --method preimage --preimage s3cret --max-amount 1000:usd

";

const MCP_CALL_HELP: &str = "\
Opens an MCP session (initialize, advertising the payment methods given), calls
the tool, and prints its result (the CallToolResult JSON) on stdout; what was paid
and the receipt go to stderr. Nothing is paid unless --max-amount allows the
challenge's currency and amount, and at most once.

Examples:
  mpp mcp call https://tools.example.com/mcp paid_echo --args '{\"text\":\"hi\"}' \\
      --method preimage --preimage s3cret --max-amount 1000:usd
  MPP_PREIMAGE=s3cret mpp mcp call http://127.0.0.1:8402/mcp paid_echo --method preimage \\
      --max-amount 1000:usd --json

";

const MCP_TOOLS_HELP: &str = "\
Lists the server's tools, each with its description and the prices it lists
(the server's _meta[\"org.paymentauth/offers\"]; a call pays the challenge it gets,
within your limits). Nothing is paid.

Exit status: 0 listed; 4 network error or an answer that is not MCP; 6 the server
answered a JSON-RPC error; 64 usage error.

Examples:
  mpp mcp tools https://tools.example.com/mcp
  mpp mcp tools http://127.0.0.1:8402/mcp --json

";

const DECODE_HELP: &str = "\
Examples:
  mpp decode 'Payment id=\"abc\", realm=\"api.example.com\", method=\"tempo\", intent=\"charge\", request=\"eyJhbW91bnQiOiIxMDAwIn0\"'
  mpp decode \"$(pbpaste)\" --reveal
  echo 'Payment-Receipt: eyJ…' | mpp decode -

A leading field name (WWW-Authenticate:, Authorization:, Payment-Authorization:,
Payment-Receipt:) is accepted and says what the value is.

Exit status: 0 the value is valid, 1 it is not, 64 usage error.";

/// `mpp`: fetch HTTP resources, paying 402s within limits.
#[derive(Debug, Parser)]
#[command(
    name = "mpp",
    version,
    about = ABOUT,
    after_help = format!("{MAIN_HELP}{EXIT_CODES}"),
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Fetch a URL, paying a 402 within your limits.
    #[command(after_help = format!("{GET_HELP}{EXIT_CODES}"))]
    Get(Box<GetArgs>),
    /// Show every challenge a URL offers, decoded, without paying.
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Decode a challenge (WWW-Authenticate), credential (Authorization) or receipt
    /// (Payment-Receipt) value.
    #[command(after_help = DECODE_HELP)]
    Decode(DecodeArgs),
    /// Call MCP tools over HTTP, paying for them within your limits.
    #[command(after_help = MCP_HELP)]
    Mcp(McpArgs),
}

/// `mpp mcp`.
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    #[command(subcommand)]
    pub(crate) command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum McpCommand {
    /// Call a tool, paying a payment request within your limits.
    #[command(after_help = format!("{MCP_CALL_HELP}{MCP_EXIT_CODES}"))]
    Call(Box<McpCallArgs>),
    /// List the tools with their prices, without paying.
    #[command(after_help = MCP_TOOLS_HELP)]
    Tools(McpToolsArgs),
}

/// `mpp mcp call`.
#[derive(Debug, Args)]
pub(crate) struct McpCallArgs {
    /// The MCP endpoint's URL (http or https), e.g. <https://tools.example.com/mcp>.
    pub(crate) url: String,
    /// The tool's name.
    pub(crate) tool: String,
    /// The tool's arguments, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub(crate) args: Option<String>,
    /// The longest each round trip may take, in seconds [default: 30].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    #[command(flatten)]
    pub(crate) wallet: WalletArgs,
    /// Show on stderr the challenge chosen and the receipt; -vv adds the client's
    /// log events. The credential is never shown.
    #[arg(short, long, action = ArgAction::Count, help_heading = "Output")]
    pub(crate) verbose: u8,
    /// Print one JSON object on stdout: result, isError, receipt, payment, error,
    /// exitCode.
    #[arg(long, help_heading = "Output")]
    pub(crate) json: bool,
}

/// `mpp mcp tools`.
#[derive(Debug, Args)]
pub(crate) struct McpToolsArgs {
    /// The MCP endpoint's URL (http or https).
    pub(crate) url: String,
    /// The longest each round trip may take, in seconds [default: 30].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    /// Print a JSON array: name, description, inputSchema, offers.
    #[arg(long)]
    pub(crate) json: bool,
}

/// What `mpp get` sends and how it pays.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The URL (http or https).
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) request: RequestArgs,
    #[command(flatten)]
    pub(crate) wallet: WalletArgs,
    /// Show on stderr the challenges offered and the one chosen, the credential sent
    /// and the receipt, decoded, with payloads, payers and receipt references
    /// redacted (the secrets are never shown). On GET and HEAD the offers come from
    /// one extra unpaid request. -vv adds the client's log events.
    #[arg(short, long, action = ArgAction::Count, help_heading = "Output")]
    pub(crate) verbose: u8,
    /// Print one JSON object on stdout: url, status, headers, body (text, or base64
    /// with "bodyEncoding": "base64"), receipt, payment, error, exitCode.
    #[arg(long, help_heading = "Output")]
    pub(crate) json: bool,
}

/// The request itself.
#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The HTTP method [default: GET, or POST when a body is given].
    #[arg(short = 'X', long = "request", value_name = "METHOD", value_parser = parse_method, help_heading = "Request")]
    pub(crate) method: Option<Method>,
    /// A request header field, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header, help_heading = "Request")]
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// The request body, sent as is (no Content-Type is added).
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        conflicts_with = "data_file",
        help_heading = "Request"
    )]
    pub(crate) data: Option<String>,
    /// Read the request body from a file ('-' for stdin).
    #[arg(long, value_name = "PATH", help_heading = "Request")]
    pub(crate) data_file: Option<PathBuf>,
    /// The longest each round trip may take, in seconds [default: 30].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout, help_heading = "Request")]
    pub(crate) timeout: Option<Duration>,
}

/// The wallet: methods, secrets and spending policy.
#[derive(Debug, Args)]
pub(crate) struct WalletArgs {
    /// A payment method to pay with (repeatable; the first is preferred). Each needs
    /// its secret. Optional when the secrets say which methods to use.
    #[arg(
        long = "method",
        value_enum,
        value_name = "METHOD",
        help_heading = "Paying"
    )]
    pub(crate) methods: Vec<PayWith>,
    /// The preimage the preimage test method reveals [or MPP_PREIMAGE].
    #[arg(long, value_name = "VALUE", help_heading = "Paying")]
    pub(crate) preimage: Option<String>,
    /// The token the token test method presents [or MPP_TOKEN].
    #[arg(long, value_name = "VALUE", help_heading = "Paying")]
    pub(crate) token: Option<String>,
    /// Pay `lightning` invoices from the wallet of this reference server's test
    /// network, e.g. <http://127.0.0.1:8402> [or MPP_LIGHTNING_TESTNET]. Test money only.
    #[arg(long, value_name = "URL", help_heading = "Paying")]
    pub(crate) lightning_testnet: Option<String>,
    /// Pay `lightning` invoices through this LND node (its REST URL, e.g.
    /// <https://127.0.0.1:8080>), with --lnd-macaroon-file and --lnd-cert-file.
    #[arg(long, value_name = "URL", help_heading = "Paying with a Lightning node", requires_all = ["lnd_macaroon_file", "lnd_cert_file"], conflicts_with_all = ["cln_url", "lightning_testnet"])]
    pub(crate) lnd_url: Option<String>,
    /// The macaroon file LND checks (one that may pay: admin.macaroon or a baked one).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Paying with a Lightning node",
        requires = "lnd_url"
    )]
    pub(crate) lnd_macaroon_file: Option<PathBuf>,
    /// LND's tls.cert: the only certificate the connection trusts.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Paying with a Lightning node",
        requires = "lnd_url"
    )]
    pub(crate) lnd_cert_file: Option<PathBuf>,
    /// Pay `lightning` invoices through this Core Lightning node (its clnrest URL),
    /// with --cln-rune-file.
    #[arg(
        long,
        value_name = "URL",
        help_heading = "Paying with a Lightning node",
        requires = "cln_rune_file",
        conflicts_with = "lightning_testnet"
    )]
    pub(crate) cln_url: Option<String>,
    /// The file holding the rune clnrest checks.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Paying with a Lightning node",
        requires = "cln_url"
    )]
    pub(crate) cln_rune_file: Option<PathBuf>,
    /// clnrest's certificate (server.pem), pinned, for an https:// --cln-url.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Paying with a Lightning node",
        requires = "cln_url"
    )]
    pub(crate) cln_cert_file: Option<PathBuf>,
    /// Pay `tempo` challenges from the account of the private key (hex) in this file
    /// [or the key itself in MPP_TEMPO_KEY]. Never give the key on the command line;
    /// keep the file readable by you only.
    #[arg(long, value_name = "FILE", help_heading = "Paying with Tempo")]
    pub(crate) tempo_key_file: Option<PathBuf>,
    /// The Tempo node's JSON-RPC URL; the chain id is asked from it [or
    /// MPP_TEMPO_RPC].
    #[arg(long, value_name = "URL", help_heading = "Paying with Tempo")]
    pub(crate) tempo_rpc: Option<String>,
    /// Submit Tempo payments in this mode: pull (the server broadcasts the signed
    /// transaction) or push (mpp broadcasts it and sends its hash) [default: pull
    /// where offered].
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        help_heading = "Paying with Tempo"
    )]
    pub(crate) tempo_mode: Option<TempoMode>,
    /// Pay in this token only: a predeployed token's name (pathUSD, AlphaUSD, BetaUSD,
    /// ThetaUSD) or an address (repeatable) [default: the tokens named in
    /// --max-amount].
    #[arg(
        long,
        value_name = "NAME_OR_ADDRESS",
        help_heading = "Paying with Tempo"
    )]
    pub(crate) tempo_token: Vec<String>,
    /// Pay only this recipient address, the primary one and every split's
    /// (repeatable) [default: any].
    #[arg(long, value_name = "ADDRESS", help_heading = "Paying with Tempo")]
    pub(crate) tempo_recipient: Vec<String>,
    /// Pay `stripe` challenges with the Stripe secret key (sk_… or rk_…) in this file
    /// [or the key itself in MPP_STRIPE_KEY]. Never give the key on the command
    /// line; keep the file readable by you only. A test-mode key (sk_test_…) moves
    /// no real money.
    #[arg(long, value_name = "FILE", help_heading = "Paying with Stripe")]
    pub(crate) stripe_key_file: Option<PathBuf>,
    /// The payment method (pm_…) of that Stripe account to pay from: each payment
    /// mints a Shared Payment Token from it, limited to the challenge's amount,
    /// currency, seller and expiry (pm_card_visa in test mode).
    #[arg(long, value_name = "PM_ID", help_heading = "Paying with Stripe")]
    pub(crate) stripe_payment_method: Option<String>,
    /// Stripe's API base URL [or MPP_STRIPE_API; default: <https://api.stripe.com>].
    #[arg(long, value_name = "URL", help_heading = "Paying with Stripe")]
    pub(crate) stripe_api: Option<String>,
    /// The most this request may cost in CURRENCY, in base units (an integer), e.g.
    /// 1000:usd (repeatable, one per currency). Nothing is paid in a currency
    /// without one. For Tempo, CURRENCY may be a token's name, e.g. 10000:pathUSD
    /// (0.01 pathUSD: pathUSD has 6 decimals).
    #[arg(long, value_name = "AMOUNT:CURRENCY", value_parser = parse_limit, allow_hyphen_values = true, help_heading = "Paying")]
    pub(crate) max_amount: Vec<(String, u128)>,
    /// The most all of this command's payments may cost in CURRENCY, in base units
    /// (repeatable, one per currency).
    #[arg(long, value_name = "AMOUNT:CURRENCY", value_parser = parse_limit, allow_hyphen_values = true, help_heading = "Paying")]
    pub(crate) budget: Vec<(String, u128)>,
    /// Pay only challenges of this realm (repeatable).
    #[arg(long, value_name = "REALM", help_heading = "Paying")]
    pub(crate) allow_realm: Vec<String>,
    /// Pay only challenges naming this recipient (repeatable).
    #[arg(long, value_name = "RECIPIENT", help_heading = "Paying")]
    pub(crate) allow_recipient: Vec<String>,
    /// Pay only this origin, e.g. <https://api.example.com> (repeatable).
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin, help_heading = "Paying")]
    pub(crate) allow_origin: Vec<String>,
    /// Allow paying over plain HTTP to an origin that is not loopback (the
    /// credential can then be read by anyone on the path).
    #[arg(long, help_heading = "Paying")]
    pub(crate) insecure_http: bool,
    /// Pay only challenges that expire within this many seconds (default 3600).
    #[arg(long, value_name = "SECONDS", help_heading = "Paying")]
    pub(crate) max_validity: Option<u64>,
}

/// The methods `mpp` can pay with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PayWith {
    /// The preimage test method (reveals --preimage); not a real payment.
    Preimage,
    /// The token test method (presents --token); not a real payment.
    Token,
    /// Lightning charge (BOLT11), paid from a reference server's test network
    /// (--lightning-testnet).
    Lightning,
    /// Tempo charge (TIP-20 stablecoins), paid from a local key (--tempo-key-file)
    /// through a Tempo node (--tempo-rpc). Real money on a real chain.
    Tempo,
    /// Stripe charge (cards, through Shared Payment Tokens), paid from a payment
    /// method (--stripe-payment-method) of the account whose secret key is in
    /// --stripe-key-file. Real money with a live key.
    Stripe,
}

/// `--tempo-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TempoMode {
    /// The server broadcasts the signed transaction.
    Pull,
    /// mpp broadcasts the transaction and sends its hash.
    Push,
}

impl PayWith {
    pub(crate) fn name(self) -> &'static str {
        match self {
            PayWith::Preimage => "preimage",
            PayWith::Token => "token",
            PayWith::Lightning => "lightning",
            PayWith::Tempo => "tempo",
            PayWith::Stripe => "stripe",
        }
    }

    /// The flag that gives its secret.
    pub(crate) fn secret_flag(self) -> &'static str {
        match self {
            PayWith::Lightning => "lightning-testnet",
            PayWith::Tempo => "tempo-key-file",
            PayWith::Stripe => "stripe-key-file",
            other => other.name(),
        }
    }
}

/// `mpp inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The URL (http or https).
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) request: RequestArgs,
    /// Print a JSON object: url, status, paymentRequired and challenges (each
    /// decoded, or its error).
    #[arg(long, help_heading = "Output")]
    pub(crate) json: bool,
}

/// `mpp decode`.
#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// The header value ('-' reads it from stdin).
    pub(crate) header: String,
    /// What the value is.
    #[arg(long, value_enum, default_value_t = Kind::Auto)]
    pub(crate) kind: Kind,
    /// Show credential payloads, payers and receipt references instead of redacting
    /// them.
    #[arg(long)]
    pub(crate) reveal: bool,
}

fn parse_method(s: &str) -> Result<Method, String> {
    let upper = s.to_ascii_uppercase();
    Method::from_bytes(upper.as_bytes()).map_err(|_| format!("{s:?} is not an HTTP method"))
}

fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let Some((name, value)) = s.split_once(':') else {
        return Err("expected 'Name: value'".into());
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{:?} is not a header field name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| "the value has characters a header field cannot carry".to_owned())?;
    Ok((name, value))
}

/// `AMOUNT:CURRENCY`, the amount in base units: digits only.
pub(crate) fn parse_limit(s: &str) -> Result<(String, u128), String> {
    let Some((amount, currency)) = s.split_once(':') else {
        return Err("expected AMOUNT:CURRENCY, e.g. 1000:usd".into());
    };
    if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the amount {amount:?} is not an integer: amounts are in the currency's base \
             units (digits only: no sign, decimal point or exponent), e.g. 1000:usd"
        ));
    }
    let amount = amount
        .parse::<u128>()
        .map_err(|_| format!("the amount {amount} is too large"))?;
    let currency = currency.trim();
    if currency.is_empty() || currency.chars().any(char::is_whitespace) {
        return Err("expected a currency after ':', e.g. 1000:usd".into());
    }
    Ok((currency.to_owned(), amount))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("the timeout must be more than 0 seconds".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s} seconds is too long"))
}

/// An origin as the spending policy compares it: `scheme://host:port`.
fn parse_origin(s: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("{s:?} is not an origin: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{s:?} is not an http or https origin, e.g. https://api.example.com"
        ));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(format!(
            "{s:?} has a path: an origin is scheme://host[:port]"
        ));
    }
    Ok(mpp_client::origin_of(&url).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_integers_in_base_units() {
        assert_eq!(parse_limit("1000:usd"), Ok(("usd".into(), 1000)));
        assert_eq!(
            parse_limit("5:eip155:1/erc20:0xabc"),
            Ok(("eip155:1/erc20:0xabc".into(), 5))
        );
        for bad in [
            "10.5:usd", "-1:usd", "1e3:usd", ":usd", "1000", "1000:", "+1:usd",
        ] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
        assert!(parse_limit("340282366920938463463374607431768211456:usd").is_err());
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            parse_origin("https://API.example.com").unwrap(),
            "https://api.example.com:443"
        );
        assert!(parse_origin("https://api.example.com/x").is_err());
        assert!(parse_origin("ftp://x").is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
