//! `mpp-server`: the reference server of the Payment HTTP authentication scheme, which
//! the conformance suite and the interop tests run against.
//!
//! Its routes are those of [`mpp_reference_server::app`].

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mpp_core::credential::CredentialField;
use mpp_reference_server::{self as reference, ReferenceConfig};
use mpp_server::{
    MemoryStore, PostgresOptions, PostgresStore, RedisOptions, RedisStore, SqliteStore, Store,
    StoreError,
};

/// The reference server of the "Payment" HTTP authentication scheme.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "The reference server of the \"Payment\" HTTP authentication scheme. Its payment methods are test methods, and its Lightning network a test network: no real payments, unless --tempo-rpc names a Tempo node, whose chain the /paid-tempo routes are paid on.",
    after_help = "Example:\n  mpp-server --listen 127.0.0.1:8402 --secret \"$(openssl rand -hex 32)\" --preimage s3cret\n\nIt prints `listening on http://ADDRESS` once it accepts connections."
)]
struct Args {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8402")]
    listen: SocketAddr,
    /// The challenge-binding secret, at least 32 bytes (or set MPP_SECRET).
    #[arg(long, env = "MPP_SECRET", hide_env_values = true)]
    secret: String,
    /// The preimage whose SHA-256 the `preimage/charge` offers ask for.
    #[arg(long)]
    preimage: String,
    /// The token the `token/charge` offer of /paid-multi accepts.
    #[arg(long, default_value = "mppx-interop-token", hide_default_value = true)]
    token: String,
    /// The realm of every challenge.
    #[arg(long, default_value = "mpp-reference.test")]
    realm: String,
    /// How long each challenge stays payable, in seconds.
    #[arg(long, default_value_t = 300)]
    ttl: u64,
    /// How long a session may stay unused before it is closed and refunded, in seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    session_idle: u64,
    /// Which header field credentials must arrive in.
    #[arg(long, value_enum, default_value_t = Header::Authorization)]
    header: Header,
    /// The SQLite file that records used challenges and session accounts, so a restart
    /// forgets none.
    #[arg(long, default_value = "mpp-server.sqlite3")]
    sqlite: std::path::PathBuf,
    /// Record used challenges and session accounts in Redis instead (`redis://[[user]:password@]host[:port][/db]`,
    /// or `rediss://` for TLS with the system's root certificates),
    /// to share them between server instances. Overrides --sqlite.
    #[arg(long, env = "MPP_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
    /// Record used challenges and session accounts in PostgreSQL instead
    /// (`postgres://user:password@host:port/db`; tables `mpp_store_entries` and
    /// `mpp_store_members`, created when missing), to share them between server
    /// instances. Overrides --sqlite.
    #[arg(
        long,
        env = "MPP_POSTGRES_URL",
        hide_env_values = true,
        conflicts_with = "redis"
    )]
    postgres: Option<String>,
    /// Record used challenges and session accounts in this process's memory only
    /// (forgotten on restart; for load tests and trials). Overrides --sqlite.
    #[arg(long, conflicts_with_all = ["redis", "postgres"])]
    memory: bool,
    /// Serve the Tempo routes (/paid-tempo, /paid-tempo-sponsored), paid on the chain
    /// of the node at this JSON-RPC URL (real payments on a real chain).
    #[arg(
        long,
        env = "MPP_TEMPO_RPC",
        hide_env_values = true,
        requires = "tempo_recipient"
    )]
    tempo_rpc: Option<String>,
    /// Who the Tempo routes pay (an address).
    #[arg(long, requires = "tempo_rpc")]
    tempo_recipient: Option<String>,
    /// The TIP-20 token the Tempo routes ask for (default pathUSD, 0x20c0…0000).
    #[arg(long, requires = "tempo_rpc")]
    tempo_currency: Option<String>,
    /// A file holding the private key (hex) that pays the fees of
    /// /paid-tempo-sponsored; without it that route is not served.
    #[arg(long, requires = "tempo_rpc")]
    tempo_fee_payer_key_file: Option<std::path::PathBuf>,
    /// Serve /paid-stripe (5.00 usd), settled with the Stripe secret key in this file
    /// (or in MPP_STRIPE_KEY with --stripe). A test key (`sk_test_…`) moves no money.
    #[arg(long)]
    stripe_key_file: Option<std::path::PathBuf>,
    /// Serve /paid-stripe with the secret key in MPP_STRIPE_KEY.
    #[arg(long)]
    stripe: bool,
    /// The Stripe API base (default https://api.stripe.com), e.g. a stand-in's.
    #[arg(long, value_name = "URL")]
    stripe_api: Option<String>,
    /// The seller's network id in /paid-stripe's terms.
    #[arg(long, value_name = "ID")]
    stripe_network: Option<String>,
    /// Take Lightning payments (/paid-lightning and the session routes) on this LND
    /// node (its REST URL) instead of the in-process test network.
    #[arg(long, value_name = "URL", requires_all = ["lnd_macaroon_file", "lnd_cert_file"], conflicts_with = "cln_url")]
    lnd_url: Option<String>,
    /// The LND macaroon file (e.g. invoice.macaroon; paying refunds needs more).
    #[arg(long, value_name = "FILE", requires = "lnd_url")]
    lnd_macaroon_file: Option<std::path::PathBuf>,
    /// LND's tls.cert, the only certificate the connection trusts.
    #[arg(long, value_name = "FILE", requires = "lnd_url")]
    lnd_cert_file: Option<std::path::PathBuf>,
    /// Take Lightning payments on this Core Lightning node (its clnrest URL) instead.
    #[arg(long, value_name = "URL", requires = "cln_rune_file")]
    cln_url: Option<String>,
    /// The file holding the rune clnrest checks.
    #[arg(long, value_name = "FILE", requires = "cln_url")]
    cln_rune_file: Option<std::path::PathBuf>,
    /// clnrest's certificate (server.pem), pinned, for an https:// --cln-url.
    #[arg(long, value_name = "FILE", requires = "cln_url")]
    cln_cert_file: Option<std::path::PathBuf>,
    /// Serve the MCP tools of `/mcp` over stdin and stdout (MCP's stdio transport)
    /// instead of listening: for MCP hosts that start servers as subprocesses.
    #[arg(long)]
    mcp_stdio: bool,
}

/// The Lightning node the flags name, connected (its identity asked), if any.
async fn lightning_node(
    args: &Args,
) -> Result<Option<Arc<dyn mpp_methods::lightning::LightningNode>>, String> {
    use mpp_methods::lightning::{ClnNode, LndNode};
    if let (Some(url), Some(macaroon), Some(cert)) =
        (&args.lnd_url, &args.lnd_macaroon_file, &args.lnd_cert_file)
    {
        let node = LndNode::connect(url, macaroon, cert)
            .await
            .map_err(|e| format!("--lnd-url: {e}"))?;
        return Ok(Some(Arc::new(node)));
    }
    if let (Some(url), Some(rune)) = (&args.cln_url, &args.cln_rune_file) {
        let rune = rune.to_string_lossy();
        let node = match &args.cln_cert_file {
            Some(cert) => ClnNode::connect_pinned(url, &rune, cert).await,
            None => ClnNode::connect(url, &rune).await,
        }
        .map_err(|e| format!("--cln-url: {e}"))?;
        return Ok(Some(Arc::new(node)));
    }
    Ok(None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Header {
    Authorization,
    PaymentAuthorization,
}

fn store(args: &Args) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match (&args.redis, &args.postgres) {
        (Some(url), _) => Arc::new(RedisStore::connect(url, RedisOptions::default())?),
        (None, Some(url)) => Arc::new(PostgresStore::connect(url, PostgresOptions::default())?),
        (None, None) if args.memory => Arc::new(MemoryStore::new(1_000_000)),
        (None, None) => Arc::new(SqliteStore::open(&args.sqlite)?),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "mpp=info".into()),
        )
        .init();
    let args = Args::parse();
    let store = match store(&args) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("mpp-server: cannot open the store: {e}");
            return ExitCode::from(2);
        }
    };
    let tempo = match (&args.tempo_rpc, &args.tempo_recipient) {
        (Some(url), Some(recipient)) => match reference::tempo::TempoConfig::connect(
            url,
            recipient,
            args.tempo_currency.as_deref(),
            args.tempo_fee_payer_key_file.as_deref(),
        )
        .await
        {
            Ok(tempo) => Some(tempo),
            Err(e) => {
                eprintln!("mpp-server: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let stripe = if args.stripe || args.stripe_key_file.is_some() {
        match reference::stripe::StripeConfig::from_flags(
            args.stripe_key_file.as_deref(),
            args.stripe_api.as_deref(),
            args.stripe_network.as_deref(),
        ) {
            Ok(stripe) => Some(stripe),
            Err(e) => {
                eprintln!("mpp-server: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let lightning_node = match lightning_node(&args).await {
        Ok(node) => node,
        Err(e) => {
            eprintln!("mpp-server: {e}");
            return ExitCode::from(2);
        }
    };
    let config = ReferenceConfig {
        secret: args.secret.clone(),
        preimage: args.preimage.clone(),
        token: args.token.clone(),
        realm: args.realm.clone(),
        ttl: Duration::from_secs(args.ttl),
        credential_field: match args.header {
            Header::Authorization => CredentialField::Authorization,
            Header::PaymentAuthorization => CredentialField::PaymentAuthorization,
        },
        store,
        session_idle: Duration::from_secs(args.session_idle),
        tempo,
        stripe,
        lightning_node,
    };
    let (app, tools) = match reference::app_and_tools(&config) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("mpp-server: {e}");
            return ExitCode::from(2);
        }
    };
    if args.mcp_stdio {
        return serve_stdio(tools).await;
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mpp-server: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    let address = listener.local_addr().unwrap_or(args.listen);
    // The one line tools wait for.
    println!("listening on http://{address}");
    let _ = std::io::stdout().flush();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // The peer's address tells clients apart for the limit on minting invoices.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpp-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// Serves the MCP tools over stdio until the client closes stdin.
async fn serve_stdio(tools: reference::mcp::ReferenceTools) -> ExitCode {
    use rmcp::ServiceExt;
    let running = match tools.serve(rmcp::transport::stdio()).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("mpp-server: MCP over stdio: {e}");
            return ExitCode::from(1);
        }
    };
    match running.waiting().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpp-server: MCP over stdio: {e}");
            ExitCode::from(1)
        }
    }
}
