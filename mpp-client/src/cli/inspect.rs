//! `mpp inspect`: sends the request once, without paying, and decodes every
//! challenge it is offered.

use std::io::Write;

use mpp_client::explain::{self, Kind};
use mpp_core::problem::Problem;
use serde_json::{Value, json};

use super::args::InspectArgs;
use super::exit;
use super::request::{self, status_line};

pub(crate) async fn run(args: InspectArgs) -> u8 {
    let request = match request::build(&args.url, &args.request) {
        Ok(r) => r,
        Err(usage) => return usage.report(),
    };
    let timeout = request::timeout(&args.request);
    let response = match request::send_unpaid(&request, timeout, 256 * 1024).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mpp: network error: {e}");
            if args.json {
                let line = json!({
                    "url": request.url.as_str(),
                    "status": null,
                    "paymentRequired": null,
                    "challenges": [],
                    "error": { "kind": "network", "message": e },
                    "exitCode": exit::NETWORK,
                });
                println!("{line}");
            }
            return exit::NETWORK;
        }
    };
    let now = request::now();
    let header = response.www_authenticate();
    let challenges = header.as_deref().map_or(Value::Array(Vec::new()), |h| {
        explain::challenges_json(h, now)
    });
    let list = challenges.as_array().map_or(&[][..], Vec::as_slice);
    let valid_payment = list
        .iter()
        .filter(|c| c["payment"] == true && c["valid"] == true)
        .count();
    let payment_required = response.status == http::StatusCode::PAYMENT_REQUIRED;
    let code = if response.status.is_success() {
        exit::OK
    } else if payment_required {
        if valid_payment > 0 {
            exit::OK
        } else {
            exit::REFUSED
        }
    } else {
        exit::HTTP_STATUS
    };
    // A 402's problem details say why (for instance after a bad credential).
    let problem = (!response.status.is_success())
        .then(|| Problem::parse(&response.body).ok())
        .flatten();

    let mut out = std::io::stdout().lock();
    if args.json {
        let line = json!({
            "url": response.url.as_str(),
            "status": response.status.as_u16(),
            "paymentRequired": payment_required,
            "challenges": challenges,
            "problem": problem.as_ref().and_then(|p| serde_json::from_str::<Value>(&p.to_json()).ok()),
            "exitCode": code,
        });
        let _ = writeln!(out, "{line}");
        return code;
    }
    let _ = writeln!(
        out,
        "{} {} -> {}",
        request.method,
        response.url,
        status_line(response.status)
    );
    match &header {
        None if payment_required => {
            let _ = writeln!(out, "402 without any WWW-Authenticate challenge");
        }
        None => {
            let _ = writeln!(out, "no challenge offered: nothing to pay");
        }
        Some(value) => {
            let payments = list.iter().filter(|c| c["payment"] == true).count();
            let others = list.len() - payments;
            let mut summary = format!(
                "{} challenge{} offered: {payments} Payment ({valid_payment} valid)",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            );
            if others > 0 {
                summary.push_str(&format!(", {others} of other schemes"));
            }
            let _ = writeln!(out, "{summary}; nothing was paid");
            for c in list
                .iter()
                .filter(|c| c["payment"] == true && c["valid"] == true)
            {
                let amount = c["amount"].as_str().unwrap_or("?");
                // A method's terms in people's units, when explain knows them.
                let price = match c["terms"]["display"].as_str() {
                    Some(human) => format!("{amount} ({human})"),
                    None => format!("{amount} {}", c["currency"].as_str().unwrap_or("?")),
                };
                let _ = writeln!(
                    out,
                    "  [{}] {}/{}: {price}{}",
                    c["index"],
                    c["method"].as_str().unwrap_or("?"),
                    c["intent"].as_str().unwrap_or("?"),
                    if c["expired"] == true {
                        " (expired)"
                    } else {
                        ""
                    }
                );
            }
            let _ = writeln!(out);
            let (text, _) = explain::explain(value, Kind::Challenge, now, false);
            let _ = write!(out, "{text}");
        }
    }
    if let Some(p) = &problem {
        let _ = write!(out, "problem: {} ({})", p.title, p.type_uri);
        if let Some(d) = &p.detail {
            let _ = write!(out, ": {d}");
        }
        let _ = writeln!(out);
    }
    let _ = out.flush();
    code
}
