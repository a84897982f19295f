//! `mpp mcp call` and `mpp mcp tools`: MCP tools over Streamable HTTP with
//! [`PayingMcpClient`], paid within the command line's limits, reported as the
//! tool's result on stdout and the payment on stderr (or one JSON object).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mpp_client::mcp::{McpError, McpOptions, McpPayment, PayingMcpClient, Tool, ToolResult};
use mpp_core::client::{PayError, SpendingPolicy, Wallet};
use mpp_core::jsonrpc::PaidReceipt;
use serde_json::{Value, json};

use super::args::{McpCallArgs, McpToolsArgs};
use super::get::{self, Log, Recorder};
use super::{Usage, exit};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn options(timeout: Option<Duration>) -> McpOptions {
    McpOptions {
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
        client_name: "mpp".into(),
        ..McpOptions::default()
    }
}

/// `mpp mcp call`.
pub(crate) async fn call(args: McpCallArgs) -> u8 {
    let arguments = match &args.args {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => Some(object),
            Ok(_) => {
                return Usage("--args must be a JSON object, e.g. '{\"text\":\"hi\"}'".into())
                    .report();
            }
            Err(e) => return Usage(format!("--args is not JSON: {e}")).report(),
        },
    };
    let url = match reqwest::Url::parse(&args.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => url,
        _ => {
            return Usage(format!("{:?} is not an http or https URL", args.url)).report();
        }
    };
    let log = Log(args.verbose > 0);
    if args.verbose >= 2 {
        get::init_tracing();
    }
    let recorder = Arc::new(Recorder {
        log,
        attempt: Mutex::new(None),
    });
    let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let wallet = match get::build_wallet(&args.wallet, &recorder, timeout).await {
        Ok(w) => w,
        Err(code) => return code,
    };
    log.policy(wallet.policy(), &wallet);
    log.line(&format!("tools/call {} at {url}", args.tool));
    let result = match PayingMcpClient::connect(url.as_str(), wallet, options(args.timeout)).await {
        Ok(client) => {
            let result = client.call_tool(&args.tool, arguments).await;
            client.close().await;
            result
        }
        Err(e) => Err(e),
    };
    let attempt = recorder.attempt.lock().map(|a| a.clone()).unwrap_or(None);
    let report = Report::new(result, attempt.as_ref(), &url);
    report.write(args.json, log)
}

/// Everything `mpp mcp call` reports.
struct Report {
    result: Option<ToolResult>,
    payment: Option<McpPayment>,
    error: Option<(&'static str, String)>,
    hints: Vec<String>,
    problem: Option<Value>,
    exit: u8,
}

impl Report {
    fn new(
        result: Result<ToolResult, McpError>,
        attempt: Option<&get::Attempt>,
        url: &reqwest::Url,
    ) -> Report {
        let mut report = Report {
            result: None,
            payment: None,
            error: None,
            hints: Vec::new(),
            problem: None,
            exit: exit::OK,
        };
        let error = match result {
            Ok(result) => {
                report.payment = result.payment.clone();
                if result.is_error && report.payment.is_some() && result.receipt.is_none() {
                    // mppx's SDK server answers a refused credential this way (E41):
                    // nothing says whether the payment was taken.
                    report.exit = exit::UNKNOWN_OUTCOME;
                    report.error = Some((
                        "unknown-outcome",
                        "the call failed (isError: true) after the credential was sent, with no \
                         receipt: whether the payment was taken is unknown"
                            .into(),
                    ));
                } else if result.is_error {
                    report.exit = exit::HTTP_STATUS;
                    report.error = Some(("tool-error", "the tool failed (isError: true)".into()));
                } else if report.payment.is_some() && result.receipt.is_none() {
                    eprintln!("mpp: warning: the server sent no receipt for the paid call");
                }
                report.result = Some(result);
                return report;
            }
            Err(e) => e,
        };
        report.payment = error.payment().cloned();
        let (exit, kind) = match &error {
            McpError::Invalid(_) => (exit::USAGE, "usage"),
            McpError::Network(_) | McpError::Status { .. } | McpError::BadAnswer(_) => {
                (exit::NETWORK, "network")
            }
            McpError::Rpc { payment: None, .. } => (exit::HTTP_STATUS, "rpc-error"),
            McpError::Rpc { .. } | McpError::UnknownOutcome { .. } => {
                (exit::UNKNOWN_OUTCOME, "unknown-outcome")
            }
            McpError::Declined(declined) => {
                report.hints = get::hints(declined, url);
                (exit::REFUSED, "refused")
            }
            McpError::Method(e) if get::stripe_unreachable(attempt, e) => {
                (exit::NETWORK, "network")
            }
            McpError::Method(PayError::OutcomeUnknown(_)) => {
                (exit::UNKNOWN_OUTCOME, "unknown-outcome")
            }
            McpError::Method(_) => (exit::REFUSED, "method-failed"),
            McpError::Rejected { problem, .. } => {
                report.problem = problem
                    .as_ref()
                    .and_then(|p| serde_json::from_str(&p.to_json()).ok());
                (exit::REJECTED, "rejected")
            }
            _ => (exit::NETWORK, "network"),
        };
        let mut message = error.to_string();
        match exit {
            exit::REFUSED if kind == "method-failed" => {
                message = format!("nothing was paid: {message}");
            }
            exit::UNKNOWN_OUTCOME if matches!(error, McpError::Rpc { .. }) => {
                message = format!(
                    "{message}, after the credential was sent, with no receipt; the payment \
                     may have settled"
                );
            }
            _ => {}
        }
        if let McpError::Rpc {
            data: Some(data), ..
        } = &error
        {
            report.problem = Some(data.clone());
        }
        report.exit = exit;
        report.error = Some((kind, message));
        report
    }

    fn write(self, as_json: bool, log: Log) -> u8 {
        let mut err = std::io::stderr().lock();
        if let Some((_, message)) = &self.error {
            let _ = writeln!(err, "mpp: {message}");
            for hint in &self.hints {
                let _ = writeln!(err, "mpp: hint: {hint}");
            }
        }
        if let Some(paid) = &self.payment {
            let _ = writeln!(
                err,
                "mpp: paid {} ({}/{}) to {}",
                get::price(&paid.amount.to_string(), &paid.currency),
                paid.challenge.method,
                paid.challenge.intent,
                paid.origin
            );
        }
        let receipt = self.result.as_ref().and_then(|r| r.receipt.as_ref());
        if let Some(receipt) = receipt {
            let _ = writeln!(
                err,
                "mpp: receipt: {} at {} for challenge {}",
                receipt.receipt.method,
                receipt.receipt.timestamp.as_str(),
                receipt.challenge_id.as_str()
            );
        }
        if log.0 {
            if let Some(problem) = &self.problem {
                let _ = writeln!(err, "* error data: {problem}");
            }
        }
        drop(err);
        let mut out = std::io::stdout().lock();
        let text = if as_json {
            Some(self.json(receipt).to_string())
        } else {
            self.result
                .as_ref()
                .map(|r| Value::Object(r.result.clone()).to_string())
        };
        if let Some(mut text) = text {
            text.push('\n');
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
        self.exit
    }

    fn json(&self, receipt: Option<&PaidReceipt>) -> Value {
        let error = self.error.as_ref().map(|(kind, message)| {
            let mut e = json!({ "kind": kind, "message": message });
            if let Some(p) = &self.problem {
                e["data"] = p.clone();
            }
            if !self.hints.is_empty() {
                e["hints"] = self.hints.clone().into();
            }
            e
        });
        json!({
            "result": self.result.as_ref().map(|r| Value::Object(r.result.clone())),
            "isError": self.result.as_ref().map(|r| r.is_error),
            "receipt": receipt.map(|r| Value::Object(r.to_json())),
            "payment": self.payment.as_ref().map(payment_json),
            "error": error,
            "exitCode": self.exit,
        })
    }
}

fn payment_json(paid: &McpPayment) -> Value {
    let mut value = json!({
        "method": paid.challenge.method.as_str(),
        "intent": paid.challenge.intent.as_str(),
        "amount": paid.amount.to_string(),
        "currency": paid.currency,
        "challengeId": paid.challenge.id.as_str(),
        "realm": paid.challenge.realm.as_str(),
        "origin": paid.origin,
    });
    if let Some(human) = mpp_client::terms::human_amount(&paid.currency, paid.amount) {
        value["display"] = human.into();
    }
    value
}

/// `mpp mcp tools`.
pub(crate) async fn tools(args: McpToolsArgs) -> u8 {
    // A wallet that can pay nothing: listing tools is never paid.
    let wallet = Wallet::new(SpendingPolicy::default());
    let listed = match PayingMcpClient::connect(&args.url, wallet, options(args.timeout)).await {
        Ok(client) => {
            let listed = client.list_tools().await;
            client.close().await;
            listed
        }
        Err(e) => Err(e),
    };
    let tools = match listed {
        Ok(tools) => tools,
        Err(e) => {
            eprintln!("mpp: {e}");
            return match e {
                McpError::Invalid(_) => exit::USAGE,
                McpError::Rpc { .. } => exit::HTTP_STATUS,
                McpError::Declined(_) => exit::REFUSED,
                _ => exit::NETWORK,
            };
        }
    };
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        let list: Vec<Value> = tools.iter().map(tool_json).collect();
        format!("{}\n", Value::Array(list))
    } else {
        tools.iter().map(tool_text).collect()
    };
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    exit::OK
}

fn tool_json(tool: &Tool) -> Value {
    let offers: Vec<Value> = tool
        .offers
        .iter()
        .map(|o| Value::Object(o.to_json()))
        .collect();
    let mut value = json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "offers": offers,
    });
    if let Some(e) = &tool.offers_error {
        value["offersError"] = e.to_string().into();
    }
    value
}

/// `name — description`, then one line per listed price (or `free`).
fn tool_text(tool: &Tool) -> String {
    let mut text = tool.name.clone();
    if let Some(d) = &tool.description {
        text.push_str(" — ");
        text.push_str(d);
    }
    text.push('\n');
    if let Some(e) = &tool.offers_error {
        text.push_str(&format!("    prices unreadable: {e}\n"));
    } else if tool.offers.is_empty() {
        text.push_str("    no price listed\n");
    }
    for offer in &tool.offers {
        let price = match (&offer.amount, &offer.currency) {
            (Some(a), Some(c)) => get::price(a, c),
            (Some(a), None) => a.clone(),
            (None, _) => "amount set per call".into(),
        };
        text.push_str(&format!(
            "    {price} ({}/{})\n",
            offer.method, offer.intent
        ));
    }
    text
}
