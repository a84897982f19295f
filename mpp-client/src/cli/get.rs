//! `mpp get`: fetches a URL with [`PayingClient`], paying a 402 within the command
//! line's limits, and reports the result as the body, as JSON, or (with `-v`) as a
//! decoded transcript on stderr.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use mpp_client::explain::{self, Kind};
use mpp_client::terms::{amount_text, human_amount};
use mpp_client::testnet::TestnetWallet;
use mpp_client::{ClientOptions, PaidRequest, PayingClient, PayingError, PaymentMade};
use mpp_core::challenge::Challenge;
use mpp_core::client::{
    Choice, Declined, Origin, PayError, PayMethod, Payment, PolicyError, Skipped, SpendingPolicy,
    Wallet,
};
use mpp_core::method::BoxFuture;
use mpp_core::receipt::Receipt;
use mpp_methods::lightning::{LightningNode, LightningPayer, LightningWallet, Network};
use mpp_methods::preimage::PreimagePayer;
use mpp_methods::stripe::{StripeApi, StripePayer, StripeSecretKey};
use mpp_methods::tempo::{Address, HttpRpc, Mode, PrivateKey, TempoPayer, TempoRpc, Token};
use mpp_methods::token::TokenPayer;
use serde_json::{Value, json};

use super::args::{GetArgs, PayWith, TempoMode, WalletArgs};
use super::request::{self, status_line};
use super::{Usage, exit};

pub(crate) async fn run(args: GetArgs) -> u8 {
    let request = match request::build(&args.url, &args.request) {
        Ok(r) => r,
        Err(usage) => return usage.report(),
    };
    let log = Log(args.verbose > 0);
    if args.verbose >= 2 {
        init_tracing();
    }
    let recorder = Arc::new(Recorder {
        log,
        attempt: Mutex::new(None),
    });
    let wallet = match build_wallet(&args.wallet, &recorder, request::timeout(&args.request)).await
    {
        Ok(w) => w,
        Err(code) => return code,
    };
    log.policy(wallet.policy(), &wallet);
    let accept = wallet.accept_payment();
    let options = ClientOptions {
        timeout: request::timeout(&args.request),
        ..ClientOptions::default()
    };
    let timeout = options.timeout;
    let client = match PayingClient::with_options(wallet, options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mpp: cannot set up the HTTP client: {e}");
            return exit::NETWORK;
        }
    };
    log.line(&format!("{} {}", request.method, request.url));
    if log.0 {
        probe(&request, accept, timeout, log).await;
    }
    let result = client.send(request.clone()).await;
    let attempt = recorder.attempt.lock().map(|a| a.clone()).unwrap_or(None);
    let outcome = Outcome::new(&request, result, attempt);
    if log.0 {
        outcome.transcript(log);
    }
    outcome.report(args.json)
}

/// The wallet the command line describes, or the exit status after saying why
/// there is none (shared by `mpp get` and `mpp mcp call`).
pub(crate) async fn build_wallet(
    args: &WalletArgs,
    recorder: &Arc<Recorder>,
    timeout: std::time::Duration,
) -> Result<Wallet, u8> {
    match wallet(args, recorder, timeout).await {
        Ok(w) => Ok(w),
        Err(WalletError::Usage(usage)) => Err(usage.report()),
        Err(WalletError::Testnet(e)) => {
            eprintln!("mpp: cannot reach the Lightning test network: {e}");
            Err(exit::NETWORK)
        }
        Err(WalletError::LightningNode(e)) => {
            eprintln!("mpp: cannot use the Lightning node: {e}");
            Err(exit::NETWORK)
        }
        Err(WalletError::TempoNode(e)) => {
            eprintln!("mpp: cannot reach the Tempo node (--tempo-rpc): {e}");
            Err(exit::NETWORK)
        }
    }
}

/// The wallet the command line describes: its methods (wrapped so the command knows
/// what was chosen and whether it was paid) and its spending policy.
enum WalletError {
    Usage(Usage),
    Testnet(mpp_methods::lightning::NodeError),
    LightningNode(mpp_methods::lightning::NodeError),
    TempoNode(mpp_methods::tempo::RpcError),
}

impl From<Usage> for WalletError {
    fn from(usage: Usage) -> WalletError {
        WalletError::Usage(usage)
    }
}

async fn wallet(
    args: &WalletArgs,
    recorder: &Arc<Recorder>,
    timeout: std::time::Duration,
) -> Result<Wallet, WalletError> {
    let mut methods: Vec<PayWith> = Vec::new();
    if args.methods.is_empty() {
        // The secrets given on the command line say which methods to use.
        if args.preimage.is_some() {
            methods.push(PayWith::Preimage);
        }
        if args.token.is_some() {
            methods.push(PayWith::Token);
        }
        if lightning_flag(args).is_some() {
            methods.push(PayWith::Lightning);
        }
        if tempo_flag(args).is_some() {
            methods.push(PayWith::Tempo);
        }
        if stripe_flag(args).is_some() {
            methods.push(PayWith::Stripe);
        }
    } else {
        for m in &args.methods {
            if !methods.contains(m) {
                methods.push(*m);
            }
        }
        for (given, method) in [
            (args.preimage.is_some(), PayWith::Preimage),
            (args.token.is_some(), PayWith::Token),
            (lightning_flag(args).is_some(), PayWith::Lightning),
            (tempo_flag(args).is_some(), PayWith::Tempo),
            (stripe_flag(args).is_some(), PayWith::Stripe),
        ] {
            if given && !methods.contains(&method) {
                let m = method.name();
                let flag = match method {
                    PayWith::Tempo => tempo_flag(args).unwrap_or("tempo-key-file"),
                    PayWith::Stripe => stripe_flag(args).unwrap_or("stripe-key-file"),
                    PayWith::Lightning => lightning_flag(args).unwrap_or("lightning-testnet"),
                    _ => method.secret_flag(),
                };
                return Err(Usage(format!(
                    "--{flag} is given but --method {m} is not: add --method {m}, or drop --{flag}"
                ))
                .into());
            }
        }
    }
    let secret = |flag: &Option<String>, method: PayWith, var: &str| {
        let m = method.name();
        let f = method.secret_flag();
        let value = flag
            .clone()
            .or_else(|| std::env::var(var).ok())
            .ok_or_else(|| {
                Usage(format!(
                    "--method {m} needs its secret: --{f} VALUE (or {var} in the environment)"
                ))
            })?;
        if value.is_empty() {
            return Err(Usage(format!("the {m} secret is empty")));
        }
        Ok(value)
    };

    // A Tempo token's name stands for its address: what a challenge's `currency`
    // names, and so what the spending policy compares.
    let max_amount = tempo_currencies(&args.max_amount);
    let budget = tempo_currencies(&args.budget);
    for (flag, list) in [("--max-amount", &max_amount), ("--budget", &budget)] {
        for (i, (currency, _)) in list.iter().enumerate() {
            if list[..i]
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(currency))
            {
                return Err(
                    Usage(format!("{flag} is given twice for currency {currency:?}")).into(),
                );
            }
        }
    }
    for (currency, _) in &budget {
        if !max_amount
            .iter()
            .any(|(c, _)| c.eq_ignore_ascii_case(currency))
        {
            return Err(Usage(format!(
                "--budget for {currency:?} without --max-amount AMOUNT:{currency}: nothing in \
                 {currency} can be paid without a per-request cap"
            ))
            .into());
        }
    }
    let policy = SpendingPolicy {
        max_per_request: max_amount,
        budget,
        allowed_origins: args.allow_origin.clone(),
        allowed_realms: args.allow_realm.clone(),
        allowed_recipients: args.allow_recipient.clone(),
        allow_insecure: args.insecure_http,
        max_validity_secs: args.max_validity,
    };
    let policy_currencies: Vec<String> = policy
        .max_per_request
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    let mut wallet = Wallet::new(policy);
    for (rank, method) in methods.into_iter().enumerate() {
        let inner: Arc<dyn PayMethod> = match method {
            PayWith::Preimage => Arc::new(PreimagePayer::new(secret(
                &args.preimage,
                method,
                "MPP_PREIMAGE",
            )?)),
            PayWith::Token => Arc::new(TokenPayer::new(secret(&args.token, method, "MPP_TOKEN")?)),
            PayWith::Lightning => match lightning_node(args).await? {
                Some((wallet, network)) => Arc::new(LightningPayer::new(wallet, network)),
                None => {
                    let base = secret(&args.lightning_testnet, method, "MPP_LIGHTNING_TESTNET")?;
                    let node = TestnetWallet::connect(&base)
                        .await
                        .map_err(WalletError::Testnet)?;
                    let network = node.network();
                    Arc::new(LightningPayer::new(Arc::new(node), network))
                }
            },
            PayWith::Tempo => Arc::new(tempo_payer(args, &policy_currencies).await?),
            PayWith::Stripe => Arc::new(stripe_payer(args, timeout)?),
        };
        // The first method is preferred: weights 1, 0.9, 0.8 …
        let weight = 1000u16.saturating_sub(100 * rank as u16).max(100);
        wallet = wallet.with_method(
            Arc::new(Recorded {
                inner,
                recorder: recorder.clone(),
            }),
            weight,
        );
    }
    Ok(wallet)
}

/// The first Tempo flag given on the command line, which asks for paying with
/// Tempo.
/// The first Lightning flag given, if any.
fn lightning_flag(args: &WalletArgs) -> Option<&'static str> {
    [
        (args.lightning_testnet.is_some(), "lightning-testnet"),
        (args.lnd_url.is_some(), "lnd-url"),
        (args.cln_url.is_some(), "cln-url"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// The LND or Core Lightning node the flags name, connected (it is asked who it
/// is, so wrong credentials fail here, before anything is paid).
async fn lightning_node(
    args: &WalletArgs,
) -> Result<Option<(Arc<dyn LightningWallet>, Network)>, WalletError> {
    use mpp_methods::lightning::{ClnNode, LndNode};
    if let (Some(url), Some(macaroon), Some(cert)) =
        (&args.lnd_url, &args.lnd_macaroon_file, &args.lnd_cert_file)
    {
        let node = LndNode::connect(url, macaroon, cert)
            .await
            .map_err(WalletError::LightningNode)?;
        let network = node.network();
        return Ok(Some((Arc::new(node), network)));
    }
    if let (Some(url), Some(rune)) = (&args.cln_url, &args.cln_rune_file) {
        let rune = rune.to_string_lossy();
        let node = match &args.cln_cert_file {
            Some(cert) => ClnNode::connect_pinned(url, &rune, cert).await,
            None => ClnNode::connect(url, &rune).await,
        }
        .map_err(WalletError::LightningNode)?;
        let network = node.network();
        return Ok(Some((Arc::new(node), network)));
    }
    Ok(None)
}

fn tempo_flag(args: &WalletArgs) -> Option<&'static str> {
    [
        (args.tempo_key_file.is_some(), "tempo-key-file"),
        (args.tempo_rpc.is_some(), "tempo-rpc"),
        (args.tempo_mode.is_some(), "tempo-mode"),
        (!args.tempo_token.is_empty(), "tempo-token"),
        (!args.tempo_recipient.is_empty(), "tempo-recipient"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// The limits with every predeployed Tempo token's name (`pathUSD`, any case)
/// replaced by its address.
fn tempo_currencies(limits: &[(String, u128)]) -> Vec<(String, u128)> {
    limits
        .iter()
        .map(|(currency, amount)| {
            let currency = match Token::find(currency) {
                Some(token) if token.symbol.eq_ignore_ascii_case(currency) => {
                    token.address.to_hex()
                }
                _ => currency.clone(),
            };
            (currency, *amount)
        })
        .collect()
}

/// A token `--tempo-token` names, or that a `--max-amount` currency is: a
/// predeployed one by name or address, or any address (its decimals unknown).
fn tempo_token(text: &str) -> Option<Token> {
    Token::find(text).or_else(|| {
        Address::from_hex(text).map(|address| Token {
            address,
            symbol: address.to_hex(),
            decimals: 0,
        })
    })
}

/// The most a key file may hold: a hex key and some whitespace, with room to spare.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The Tempo key: from `--tempo-key-file`, else `MPP_TEMPO_KEY`. The errors never
/// show the file's content.
fn tempo_key(args: &WalletArgs) -> Result<PrivateKey, Usage> {
    let Some(path) = &args.tempo_key_file else {
        let text = std::env::var("MPP_TEMPO_KEY").map_err(|_| {
            Usage(
                "--method tempo needs its key: --tempo-key-file FILE (or the key in \
                 MPP_TEMPO_KEY in the environment); never on the command line"
                    .into(),
            )
        })?;
        return PrivateKey::from_hex(&text).map_err(|e| Usage(format!("MPP_TEMPO_KEY: {e}")));
    };
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| Usage(format!("cannot read --tempo-key-file {shown}: {e}")))?;
    #[cfg(unix)]
    if let Ok(meta) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "mpp: warning: --tempo-key-file {shown} can be read or changed by other \
                 users (chmod 600 {shown})"
            );
        }
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_KEY_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| Usage(format!("cannot read --tempo-key-file {shown}: {e}")))?;
    let key = (bytes.len() as u64 <= MAX_KEY_FILE_BYTES)
        .then(|| std::str::from_utf8(&bytes).ok())
        .flatten()
        .and_then(|text| PrivateKey::from_hex(text).ok());
    key.ok_or_else(|| {
        Usage(format!(
            "--tempo-key-file {shown} does not hold a private key (64 hex digits, with or \
             without 0x)"
        ))
    })
}

/// The Tempo payer the command line describes; the chain id is the node's.
async fn tempo_payer(args: &WalletArgs, policy: &[String]) -> Result<TempoPayer, WalletError> {
    let tokens: Vec<Token> = if args.tempo_token.is_empty() {
        policy.iter().filter_map(|c| tempo_token(c)).collect()
    } else {
        let mut tokens = Vec::new();
        for name in &args.tempo_token {
            let token = tempo_token(name).ok_or_else(|| {
                Usage(format!(
                    "--tempo-token {name:?} is not a token mpp knows: give an address, or \
                     one of {}",
                    Token::predeployed()
                        .iter()
                        .map(|t| t.symbol.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            tokens.push(token);
        }
        tokens
    };
    if tokens.is_empty() {
        return Err(Usage(
            "--method tempo needs --max-amount AMOUNT:TOKEN for the token it may pay in, \
             e.g. --max-amount 10000:pathUSD (0.01 pathUSD)"
                .into(),
        )
        .into());
    }
    let mut recipients = Vec::new();
    for text in &args.tempo_recipient {
        recipients.push(Address::from_hex(text).ok_or_else(|| {
            Usage(format!(
                "--tempo-recipient {text:?} is not an address (0x and 40 hex digits)"
            ))
        })?);
    }
    let key = tempo_key(args)?;
    let url = match &args.tempo_rpc {
        Some(url) => url.clone(),
        None => std::env::var("MPP_TEMPO_RPC").map_err(|_| {
            Usage("--method tempo needs a node: --tempo-rpc URL (or MPP_TEMPO_RPC)".into())
        })?,
    };
    let rpc =
        HttpRpc::new(&url).map_err(|_| Usage("--tempo-rpc: not an http or https URL".into()))?;
    let chain_id = mpp_methods::tempo::node_chain_id(&rpc)
        .await
        .map_err(WalletError::TempoNode)?;
    let rpc: Arc<dyn TempoRpc> = Arc::new(rpc);
    let mut payer = TempoPayer::new(key, rpc, chain_id).tokens(tokens);
    if !recipients.is_empty() {
        payer = payer.recipients(recipients);
    }
    if let Some(mode) = args.tempo_mode {
        payer = payer.mode(match mode {
            TempoMode::Pull => Mode::Pull,
            TempoMode::Push => Mode::Push,
        });
    }
    Ok(payer)
}

/// The first Stripe flag given on the command line, which asks for paying with
/// Stripe.
fn stripe_flag(args: &WalletArgs) -> Option<&'static str> {
    [
        (args.stripe_key_file.is_some(), "stripe-key-file"),
        (
            args.stripe_payment_method.is_some(),
            "stripe-payment-method",
        ),
        (args.stripe_api.is_some(), "stripe-api"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// The Stripe secret key: from `--stripe-key-file`, else `MPP_STRIPE_KEY`. The
/// errors name the file, never its content.
fn stripe_key(args: &WalletArgs) -> Result<StripeSecretKey, Usage> {
    let Some(path) = &args.stripe_key_file else {
        if std::env::var_os("MPP_STRIPE_KEY").is_none() {
            return Err(Usage(
                "--method stripe needs its secret key: --stripe-key-file FILE (or the key \
                 in MPP_STRIPE_KEY in the environment); never on the command line"
                    .into(),
            ));
        }
        return StripeSecretKey::from_env("MPP_STRIPE_KEY").map_err(|e| Usage(e.to_string()));
    };
    let shown = path.display();
    let text = read_key_file(path, "--stripe-key-file")
        .map_err(|e| Usage(format!("cannot read --stripe-key-file {shown}: {e}")))?;
    let text = text.ok_or_else(|| {
        Usage(format!(
            "--stripe-key-file {shown} does not hold a Stripe secret key (sk_… or rk_…)"
        ))
    })?;
    StripeSecretKey::new(&text).map_err(|e| {
        Usage(format!(
            "--stripe-key-file {shown} does not hold a Stripe secret key: {e}"
        ))
    })
}

/// The text of the key file `flag` names, at most [`MAX_KEY_FILE_BYTES`] long
/// (`None` when it is longer or not UTF-8), warning when other users may read or
/// change it.
fn read_key_file(path: &std::path::Path, flag: &str) -> std::io::Result<Option<String>> {
    let file = std::fs::File::open(path)?;
    #[cfg(unix)]
    if let Ok(meta) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            let shown = path.display();
            eprintln!(
                "mpp: warning: {flag} {shown} can be read or changed by other users \
                 (chmod 600 {shown})"
            );
        }
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_KEY_FILE_BYTES + 1),
        &mut bytes,
    )?;
    Ok((bytes.len() as u64 <= MAX_KEY_FILE_BYTES)
        .then(|| String::from_utf8(bytes).ok())
        .flatten())
}

/// The Stripe payer the command line describes. Nothing is asked of Stripe until a
/// challenge is paid: minting the token is the first request.
fn stripe_payer(args: &WalletArgs, timeout: std::time::Duration) -> Result<StripePayer, Usage> {
    let payment_method = args.stripe_payment_method.as_deref().ok_or_else(|| {
        Usage(
            "--method stripe needs the payment method to pay from: --stripe-payment-method \
             pm_… (pm_card_visa in test mode)"
                .into(),
        )
    })?;
    let key = stripe_key(args)?;
    let (base, from) = match (&args.stripe_api, std::env::var("MPP_STRIPE_API")) {
        (Some(url), _) => (url.clone(), "--stripe-api"),
        (None, Ok(url)) => (url, "MPP_STRIPE_API"),
        (None, Err(_)) => (
            mpp_methods::stripe::DEFAULT_API_BASE.to_owned(),
            "the default Stripe API",
        ),
    };
    let api = StripeApi::with_base(key, &base, timeout)
        .map_err(|e| Usage(format!("{from} {base:?}: {e}")))?;
    StripePayer::new(api, payment_method)
        .map_err(|e| Usage(format!("--stripe-payment-method {payment_method:?}: {e}")))
}

/// Whether a method failed because its backend (Stripe's API) could not be reached
/// before anything was sent: a network error, reported as one.
pub(crate) fn stripe_unreachable(attempt: Option<&Attempt>, e: &PayError) -> bool {
    attempt.is_some_and(|a| a.challenge.method == mpp_methods::stripe::NAME)
        && matches!(e, PayError::Unreachable(_))
}

/// The challenge a method was asked to pay, and whether it produced a credential.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) challenge: Challenge<'static>,
    pub(crate) amount: String,
    pub(crate) currency: String,
    /// The method paid: the credential may have been sent from then on.
    pub(crate) paid: bool,
}

impl Attempt {
    /// `10000 (0.01 pathUSD)` or `1000 usd`.
    fn price(&self) -> String {
        price(&self.amount, &self.currency)
    }
}

/// `amount` (base units, as text) of `currency`, with its human form when known.
pub(crate) fn price(amount: &str, currency: &str) -> String {
    match amount.parse::<u128>() {
        Ok(a) => amount_text(currency, a),
        Err(_) => format!("{amount} {currency}"),
    }
}

#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) log: Log,
    pub(crate) attempt: Mutex<Option<Attempt>>,
}

/// A method that tells the [`Recorder`] what it pays. (`PayingClient` does not say
/// which challenge it chose when the request fails afterwards, nor whether the
/// credential was sent when the network fails.)
struct Recorded {
    inner: Arc<dyn PayMethod>,
    recorder: Arc<Recorder>,
}

impl PayMethod for Recorded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn supports_intent(&self, intent: &str) -> bool {
        self.inner.supports_intent(intent)
    }

    fn cost(&self, choice: &Choice) -> Result<u128, PayError> {
        self.inner.cost(choice)
    }

    fn pay<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(async move {
            let attempt = Attempt {
                challenge: choice.challenge.clone(),
                amount: choice.amount.to_string(),
                currency: choice.currency.clone(),
                paid: false,
            };
            self.recorder.log.chosen(&attempt);
            if let Ok(mut slot) = self.recorder.attempt.lock() {
                *slot = Some(attempt);
            }
            let result = self.inner.pay(choice).await;
            if result.is_ok() {
                if let Ok(mut slot) = self.recorder.attempt.lock() {
                    if let Some(a) = slot.as_mut() {
                        a.paid = true;
                    }
                }
            }
            result
        })
    }

    fn top_up_cost(&self, choice: &Choice) -> Option<Result<u128, PayError>> {
        self.inner.top_up_cost(choice)
    }

    fn top_up<'a>(
        &'a self,
        choice: &'a Choice,
    ) -> Option<BoxFuture<'a, Result<Payment, PayError>>> {
        self.inner.top_up(choice)
    }

    fn forget_session(&self, origin: &Origin) -> bool {
        self.inner.forget_session(origin)
    }
}

/// On GET and HEAD with `-v`, sends the request once unpaid to list every challenge
/// offered: `PayingClient` does not expose the 402 it answered.
async fn probe(
    request: &PaidRequest,
    accept: Option<String>,
    timeout: std::time::Duration,
    log: Log,
) {
    if !matches!(request.method, Method::GET | Method::HEAD) {
        log.line(&format!(
            "offers: not listed for {} (only GET and HEAD are sent an extra time to list \
             them; `mpp inspect -X {}` shows them)",
            request.method, request.method
        ));
        return;
    }
    let mut probe = request.clone();
    let offered_to = match &accept {
        Some(a) => format!("offered for Accept-Payment: {a}"),
        None => "offered".to_owned(),
    };
    if let Some(value) = accept.and_then(|a| HeaderValue::try_from(a).ok()) {
        probe
            .headers
            .entry(HeaderName::from_static("accept-payment"))
            .or_insert(value);
    }
    match request::send_unpaid(&probe, timeout, 64 * 1024).await {
        Ok(r) if r.status == StatusCode::PAYMENT_REQUIRED => {
            log.line(&format!(
                "challenges {offered_to} (by an unpaid probe; the request that pays gets \
                 fresh challenge ids):"
            ));
            let value = r.www_authenticate().unwrap_or_default();
            let (text, _) = explain::explain(&value, Kind::Challenge, request::now(), false);
            log.block(&text);
        }
        Ok(r) => log.line(&format!(
            "probe: {}: no payment asked",
            status_line(r.status)
        )),
        Err(e) => log.line(&format!("probe failed: {e}")),
    }
}

/// What was paid, for the report.
#[derive(Debug)]
struct Paid {
    method: String,
    intent: String,
    amount: String,
    currency: String,
    challenge_id: String,
    realm: String,
    origin: Option<String>,
    /// The credential's field and value (sensitive: shown only decoded and redacted).
    credential: Option<(&'static str, String)>,
}

impl Paid {
    fn from_made(made: &PaymentMade) -> Paid {
        Paid {
            method: made.challenge.method.to_string(),
            intent: made.challenge.intent.to_string(),
            amount: made.amount.to_string(),
            currency: made.currency.clone(),
            challenge_id: made.challenge.id.to_string(),
            realm: made.challenge.realm.to_string(),
            origin: Some(made.origin.clone()),
            credential: Some((
                made.challenge.credential_field.name(),
                made.credential.clone(),
            )),
        }
    }

    fn from_attempt(a: &Attempt) -> Paid {
        Paid {
            method: a.challenge.method.to_string(),
            intent: a.challenge.intent.to_string(),
            amount: a.amount.clone(),
            currency: a.currency.clone(),
            challenge_id: a.challenge.id.to_string(),
            realm: a.challenge.realm.to_string(),
            origin: None,
            credential: None,
        }
    }

    fn json(&self) -> Value {
        let mut paid = json!({
            "method": self.method,
            "intent": self.intent,
            "amount": self.amount,
            "currency": self.currency,
            "challengeId": self.challenge_id,
            "realm": self.realm,
            "origin": self.origin,
        });
        if let Some(human) = self
            .amount
            .parse()
            .ok()
            .and_then(|a| human_amount(&self.currency, a))
        {
            paid["display"] = human.into();
        }
        paid
    }
}

/// Why the command did not end with a 2xx.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    message: String,
    problem: Option<Value>,
    passed: Vec<Value>,
    hints: Vec<String>,
}

impl Failure {
    fn new(kind: &'static str, message: String) -> Failure {
        Failure {
            kind,
            message,
            problem: None,
            passed: Vec::new(),
            hints: Vec::new(),
        }
    }
}

/// Everything the command reports.
#[derive(Debug)]
struct Outcome {
    url: String,
    status: Option<StatusCode>,
    headers: Option<HeaderMap>,
    body: Option<Bytes>,
    receipt: Option<Receipt>,
    payment: Option<Paid>,
    error: Option<Failure>,
    warnings: Vec<String>,
    exit: u8,
}

impl Outcome {
    fn new(
        request: &PaidRequest,
        result: Result<mpp_client::PaidResponse, PayingError>,
        attempt: Option<Attempt>,
    ) -> Outcome {
        let mut outcome = Outcome {
            url: request.url.to_string(),
            status: None,
            headers: None,
            body: None,
            receipt: None,
            payment: None,
            error: None,
            warnings: Vec::new(),
            exit: exit::OK,
        };
        let sent = attempt.as_ref().filter(|a| a.paid);
        match result {
            Ok(response) => {
                outcome.url = response.url.to_string();
                outcome.status = Some(response.status);
                outcome.payment = response.payments.last().map(Paid::from_made);
                let success = response.status.is_success();
                if success && outcome.payment.is_some() && response.receipt.is_none() {
                    outcome.warnings.push(
                        if response.headers.contains_key("payment-receipt") {
                            "the server's Payment-Receipt does not parse"
                        } else {
                            "the server sent no Payment-Receipt"
                        }
                        .into(),
                    );
                }
                match (success, &outcome.payment) {
                    (true, _) => {}
                    (false, Some(_)) => {
                        outcome.exit = exit::UNKNOWN_OUTCOME;
                        outcome.error = Some(Failure::new(
                            "unknown-outcome",
                            format!(
                                "the server answered {} after the credential was sent; the \
                                 payment may have settled",
                                status_line(response.status)
                            ),
                        ));
                    }
                    (false, None) => {
                        outcome.exit = exit::HTTP_STATUS;
                        outcome.error = Some(Failure::new(
                            "http-status",
                            format!("the server answered {}", status_line(response.status)),
                        ));
                    }
                }
                outcome.receipt = response.receipt;
                outcome.headers = Some(response.headers);
                outcome.body = Some(response.body);
            }
            Err(PayingError::Declined(refusal)) => {
                outcome.status = Some(StatusCode::PAYMENT_REQUIRED);
                outcome.exit = exit::REFUSED;
                let mut failure = Failure::new("refused", format!("nothing was paid: {refusal}"));
                failure.passed = refusal
                    .passed
                    .iter()
                    .map(|p| json!({ "offer": p.offer, "reason": p.reason.to_string() }))
                    .collect();
                failure.hints = hints(&refusal, &request.url);
                outcome.error = Some(failure);
            }
            Err(PayingError::Method(e)) => {
                outcome.status = Some(StatusCode::PAYMENT_REQUIRED);
                let which = attempt.as_ref().map_or_else(String::new, |a| {
                    format!(
                        " for {}/{} ({})",
                        a.challenge.method,
                        a.challenge.intent,
                        a.price()
                    )
                });
                outcome.error = Some(if stripe_unreachable(attempt.as_ref(), &e) {
                    outcome.exit = exit::NETWORK;
                    Failure::new(
                        "network",
                        format!(
                            "cannot reach Stripe's API (--stripe-api){which}: {e}; nothing was \
                             paid"
                        ),
                    )
                } else if sent_unknown(&e) {
                    outcome.exit = exit::UNKNOWN_OUTCOME;
                    outcome.payment = attempt.as_ref().map(Paid::from_attempt);
                    Failure::new(
                        "unknown-outcome",
                        format!(
                            "the payment method failed{which} after sending the payment: {e}; \
                             it may have settled (look the transaction up before trying again)"
                        ),
                    )
                } else {
                    outcome.exit = exit::REFUSED;
                    Failure::new(
                        "method-failed",
                        format!("nothing was paid: the payment method failed{which}: {e}"),
                    )
                });
            }
            Err(PayingError::Rejected {
                status,
                problem,
                payments,
            }) => {
                outcome.status = Some(status);
                outcome.exit = exit::REJECTED;
                outcome.payment = payments.last().map(Paid::from_made);
                let mut message =
                    format!("the server rejected the payment ({})", status_line(status));
                if let Some(p) = &problem {
                    message.push_str(&format!(": {}", p.title));
                    if let Some(d) = &p.detail {
                        message.push_str(&format!(" ({d})"));
                    }
                }
                let mut failure = Failure::new("rejected", message);
                failure.problem = problem.and_then(|p| serde_json::from_str(&p.to_json()).ok());
                outcome.error = Some(failure);
            }
            Err(PayingError::UnknownOutcome {
                status,
                detail,
                payments,
            }) => {
                outcome.status = status;
                outcome.exit = exit::UNKNOWN_OUTCOME;
                outcome.payment = payments.last().map(Paid::from_made);
                let what = match status {
                    Some(status) => format!("the server failed ({})", status_line(status)),
                    None => detail,
                };
                outcome.error = Some(Failure::new(
                    "unknown-outcome",
                    format!(
                        "{what} after the credential was sent; the payment may have settled \
                         (it is not resent)"
                    ),
                ));
            }
            Err(e) => {
                let (kind, detail) = match &e {
                    PayingError::Network(detail) => ("network", format!("network error: {detail}")),
                    PayingError::Redirect(detail) => ("redirect", format!("redirect: {detail}")),
                    other => ("network", other.to_string()),
                };
                match sent {
                    // The method paid, so the credential may have reached the server.
                    Some(a) => {
                        outcome.exit = exit::UNKNOWN_OUTCOME;
                        outcome.payment = Some(Paid::from_attempt(a));
                        outcome.error = Some(Failure::new(
                            "unknown-outcome",
                            format!(
                                "{detail}, after the credential was sent: the payment may have \
                                 settled (it is not resent)"
                            ),
                        ));
                    }
                    None => {
                        outcome.exit = exit::NETWORK;
                        outcome.error = Some(Failure::new(kind, detail));
                    }
                }
            }
        }
        outcome
    }

    /// The `-v` part that follows the exchange: credential, response, receipt.
    fn transcript(&self, log: Log) {
        if let Some(paid) = &self.payment {
            if let Some((field, credential)) = &paid.credential {
                log.line(&format!("credential sent in {field}:"));
                let (text, _) =
                    explain::explain(credential, Kind::Credential, request::now(), false);
                log.block(&text);
            }
        }
        if let (Some(status), Some(headers)) = (self.status, &self.headers) {
            log.line(&format!(
                "response: {} from {}",
                status_line(status),
                self.url
            ));
            let mut err = std::io::stderr().lock();
            for (name, value) in headers {
                let shown = if name == "payment-receipt" {
                    "(decoded below)".into()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                let _ = writeln!(err, "< {name}: {shown}");
            }
            drop(err);
            if let Some(value) =
                request::join_lines(headers, HeaderName::from_static("payment-receipt"))
            {
                log.line("receipt:");
                let (text, _) = explain::explain(&value, Kind::Receipt, request::now(), false);
                log.block(&text);
            }
        }
        if let Some(failure) = &self.error {
            if let Some(problem) = &failure.problem {
                log.line(&format!("problem details: {problem}"));
            }
        }
    }

    /// Writes the result and gives the exit status.
    fn report(self, as_json: bool) -> u8 {
        let mut err = std::io::stderr().lock();
        for w in &self.warnings {
            let _ = writeln!(err, "mpp: warning: {w}");
        }
        if let Some(failure) = &self.error {
            let _ = writeln!(err, "mpp: {}", failure.message);
            for hint in &failure.hints {
                let _ = writeln!(err, "mpp: hint: {hint}");
            }
        } else if let Some(paid) = &self.payment {
            if err.is_terminal() && !as_json {
                let _ = writeln!(
                    err,
                    "mpp: paid {} ({}/{})",
                    price(&paid.amount, &paid.currency),
                    paid.method,
                    paid.intent
                );
            }
        }
        drop(err);
        let mut out = std::io::stdout().lock();
        let written = if as_json {
            let mut line = self.json().to_string();
            line.push('\n');
            out.write_all(line.as_bytes())
        } else {
            match &self.body {
                Some(body) => out.write_all(body),
                None => Ok(()),
            }
        };
        // A closed pipe (`mpp get … | head`) is not an error of the request.
        let _ = written.and_then(|()| out.flush());
        self.exit
    }

    fn json(&self) -> Value {
        let headers = self.headers.as_ref().map(|headers| {
            let mut map = serde_json::Map::new();
            for (name, value) in headers {
                let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
                match map
                    .entry(name.as_str())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(values) => values.push(text.into()),
                    _ => unreachable!("every entry is an array"),
                }
            }
            Value::Object(map)
        });
        let (body, encoding) = match &self.body {
            None => (Value::Null, Value::Null),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => (text.into(), "utf-8".into()),
                Err(_) => (
                    mpp_core::base64::encode_standard(bytes).into(),
                    "base64".into(),
                ),
            },
        };
        let error = self.error.as_ref().map(|f| {
            let mut e = json!({ "kind": f.kind, "message": f.message });
            if let Some(p) = &f.problem {
                e["problem"] = p.clone();
            }
            if !f.passed.is_empty() {
                e["passed"] = Value::Array(f.passed.clone());
            }
            if !f.hints.is_empty() {
                e["hints"] = f.hints.clone().into();
            }
            e
        });
        json!({
            "url": self.url,
            "status": self.status.map(|s| s.as_u16()),
            "headers": headers,
            "body": body,
            "bodyEncoding": encoding,
            "receipt": self.receipt.as_ref().map(|r| Value::Object(r.to_json())),
            "payment": self.payment.as_ref().map(Paid::json),
            "error": error,
            "exitCode": self.exit,
        })
    }
}

/// Whether a method's failure came after it sent the payment, whose outcome is
/// unknown: a Tempo transaction broadcast in push mode without a receipt (the
/// message names the transaction).
fn sent_unknown(e: &PayError) -> bool {
    matches!(e, PayError::OutcomeUnknown(_))
}

/// What the user can change to get a refused challenge paid.
pub(crate) fn hints(refusal: &Declined, url: &reqwest::Url) -> Vec<String> {
    let mut hints: Vec<String> = Vec::new();
    for p in &refusal.passed {
        let offer = &p.offer;
        let hint = match &p.reason {
            Skipped::UnknownMethod(m) if m == "preimage" || m == "token" => {
                Some(format!("the {offer} offer needs --method {m} --{m} VALUE"))
            }
            Skipped::UnknownMethod(m) if m == "tempo" => Some(format!(
                "the {offer} offer needs --tempo-key-file FILE --tempo-rpc URL"
            )),
            Skipped::UnknownMethod(m) if m == "stripe" => Some(format!(
                "the {offer} offer needs --stripe-key-file FILE --stripe-payment-method pm_…"
            )),
            Skipped::UnknownMethod(m) if m == "lightning" => Some(format!(
                "the {offer} offer needs --lightning-testnet URL (test networks only)"
            )),
            Skipped::UnknownMethod(m) => Some(format!(
                "mpp cannot pay with method {m:?} (it knows preimage, token, lightning, \
                 tempo and stripe)"
            )),
            Skipped::Policy(PolicyError::CurrencyNotAllowed(c)) => {
                // A Tempo token is better named than written as an address.
                let name = Address::from_hex(c)
                    .and_then(|a| Token::find(&a.to_hex()))
                    .map_or_else(|| c.clone(), |t| t.symbol);
                Some(format!(
                    "add --max-amount AMOUNT:{name} to allow paying in {name} (AMOUNT in base \
                     units)"
                ))
            }
            Skipped::Policy(PolicyError::OverRequestCap { amount, cap }) => Some(format!(
                "the {offer} offer asks {amount}, above your --max-amount of {cap}"
            )),
            Skipped::Policy(PolicyError::OverBudget { amount, left }) => Some(format!(
                "the {offer} offer asks {amount}; {left} is left of your --budget"
            )),
            Skipped::Policy(PolicyError::InsecureOrigin) => Some(format!(
                "{} uses plain HTTP: --insecure-http allows paying it (anyone on the path \
                 can then read the credential)",
                mpp_client::origin_of(url)
            )),
            Skipped::Policy(PolicyError::OriginNotAllowed) => Some(format!(
                "{} is not among your --allow-origin",
                mpp_client::origin_of(url)
            )),
            Skipped::Policy(PolicyError::ValidityTooLong { secs, max }) => Some(format!(
                "the {offer} offer stays payable for {secs} s: --max-validity {secs} allows it \
                 (now {max})"
            )),
            Skipped::Policy(PolicyError::RealmNotAllowed) => {
                Some("the realm is not among your --allow-realm".into())
            }
            Skipped::Policy(PolicyError::RecipientNotAllowed) => {
                Some("the recipient is not among your --allow-recipient".into())
            }
            _ => None,
        };
        if let Some(hint) = hint {
            if !hints.contains(&hint) {
                hints.push(hint);
            }
        }
    }
    hints
}

/// `-v` output on stderr: `* ` lines, and indented decoded blocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Log(pub(crate) bool);

impl Log {
    pub(crate) fn line(self, text: &str) {
        if self.0 {
            eprintln!("* {text}");
        }
    }

    pub(crate) fn block(self, text: &str) {
        if self.0 {
            let mut err = std::io::stderr().lock();
            for line in text.lines() {
                let _ = writeln!(err, "    {line}");
            }
        }
    }

    pub(crate) fn policy(self, policy: &SpendingPolicy, wallet: &Wallet) {
        if !self.0 {
            return;
        }
        let methods: Vec<&str> = wallet.methods().iter().map(|m| m.name()).collect();
        let list = |l: &[(String, u128)]| {
            l.iter()
                .map(|(c, a)| amount_text(c, *a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.line(&format!(
            "methods: {}; per request at most: {}{}",
            if methods.is_empty() {
                "none".to_owned()
            } else {
                methods.join(", ")
            },
            if policy.max_per_request.is_empty() {
                "nothing (no --max-amount)".to_owned()
            } else {
                list(&policy.max_per_request)
            },
            if policy.budget.is_empty() {
                String::new()
            } else {
                format!("; budget: {}", list(&policy.budget))
            }
        ));
    }

    fn chosen(self, attempt: &Attempt) {
        let c = &attempt.challenge;
        self.line(&format!(
            "chosen: {}/{} for {} (challenge {}, realm {})",
            c.method,
            c.intent,
            attempt.price(),
            c.id,
            c.realm
        ));
    }
}

pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("mpp=debug"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}
