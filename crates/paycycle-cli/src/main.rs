//! `paycycle`: run the simulator, and sign or verify webhooks by hand.
//!
//! ```text
//! paycycle sim [--addr 127.0.0.1:8787]
//! paycycle webhook verify --gateway cryptomus  --key KEY [--file body.json]
//! paycycle webhook sign   --gateway cryptomus  --key KEY [--file body.json]
//! paycycle webhook verify --gateway recurrente --secret whsec_… [--secret whsec_…] \
//!     --header 'svix-id: msg_…' --header 'svix-timestamp: 1700000000' --header 'svix-signature: v1,…'
//! paycycle webhook sign   --gateway recurrente --secret whsec_… [--id msg_…] [--timestamp N]
//! ```
//! Bodies are read from `--file` or standard input. Keys and secrets may come from the
//! environment (`CRYPTOMUS_PAYMENT_KEY`, `RECURRENTE_WEBHOOK_SECRET`) instead of the command
//! line, where other users of the machine could see them.
//!
//! Exit codes: 0 success; 1 the webhook was rejected (one line on stderr says why); 2 bad usage
//! or unreadable input.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

#[derive(Debug, Parser)]
#[command(
    name = "paycycle",
    version,
    about = "paycycle: recurring payments over Recurrente and Cryptomus"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local simulator of the providers' APIs until interrupted (Ctrl-C).
    Sim {
        /// Address to listen on (loopback only).
        #[arg(long, default_value = "127.0.0.1:8787")]
        addr: std::net::SocketAddr,
    },
    /// Sign or verify webhook bodies.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Gateway {
    /// Cryptomus: md5 `sign` inside the JSON body.
    Cryptomus,
    /// Recurrente: Svix HMAC-SHA256 in `svix-*` headers.
    Recurrente,
}

#[derive(Debug, clap::Args)]
struct WebhookArgs {
    /// Which provider's scheme.
    #[arg(long, value_enum)]
    gateway: Gateway,
    /// Cryptomus payment API key.
    #[arg(long, env = "CRYPTOMUS_PAYMENT_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Recurrente webhook signing secret (`whsec_…`); repeat it during a rotation: any one
    /// matching is enough. Several in the environment are separated by commas.
    #[arg(
        long = "secret",
        env = "RECURRENTE_WEBHOOK_SECRET",
        hide_env_values = true,
        value_delimiter = ','
    )]
    secrets: Vec<String>,
    /// A received header, `name: value` (Recurrente: the three `svix-*` or `webhook-*` headers).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Verify as of this Unix time instead of now (for a webhook captured earlier; Recurrente
    /// refuses timestamps more than 5 minutes away).
    #[arg(long)]
    at: Option<i64>,
    /// Recurrente signing: the message id (default: a new `msg_…`).
    #[arg(long)]
    id: Option<String>,
    /// Recurrente signing: the Unix timestamp (default: now).
    #[arg(long)]
    timestamp: Option<i64>,
    /// Read the body from this file instead of standard input.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum WebhookAction {
    /// Verify a received body; print the normalized event as JSON.
    Verify(WebhookArgs),
    /// Sign an unsigned body; print it as the provider would send it.
    Sign(WebhookArgs),
}

/// A failure and its exit code.
struct Failure {
    code: u8,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn rejected(message: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: message.into(),
    }
}

fn read_body(file: Option<&PathBuf>) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    match file {
        Some(path) => {
            body = std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| usage(format!("cannot read standard input: {e}")))?;
        }
    }
    Ok(body)
}

fn cryptomus_key(args: &WebhookArgs) -> Result<String, Failure> {
    args.key
        .clone()
        .ok_or_else(|| usage("--key (or CRYPTOMUS_PAYMENT_KEY) is required for --gateway cryptomus"))
}

fn recurrente_secrets(args: &WebhookArgs) -> Result<Vec<String>, Failure> {
    let secrets: Vec<String> = args
        .secrets
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_owned)
        .collect();
    if secrets.is_empty() {
        return Err(usage(
            "--secret (or RECURRENTE_WEBHOOK_SECRET) is required for --gateway recurrente",
        ));
    }
    Ok(secrets)
}

fn header_map(lines: &[String]) -> Result<http::HeaderMap, Failure> {
    let mut map = http::HeaderMap::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| usage(format!("--header `{line}` is not `name: value`")))?;
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| usage(format!("--header `{line}`: invalid header name")))?;
        let value = http::HeaderValue::from_str(value.trim())
            .map_err(|_| usage(format!("--header `{line}`: invalid header value")))?;
        map.append(name, value);
    }
    Ok(map)
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| usage(format!("cannot write standard output: {e}")))
}

fn verify(args: &WebhookArgs) -> Result<(), Failure> {
    let body = read_body(args.file.as_ref())?;
    let event = match args.gateway {
        Gateway::Cryptomus => {
            let verifier = paycycle_cryptomus::CryptomusWebhookVerifier::new(SecretString::from(cryptomus_key(args)?));
            verifier
                .verify(&body)
                .map_err(|e| rejected(format!("invalid webhook: {e}")))?
        }
        Gateway::Recurrente => {
            let mut verifier = paycycle_recurrente::RecurrenteWebhookVerifier::new(recurrente_secrets(args)?)
                .map_err(|e| usage(e.to_string()))?;
            if let Some(at) = args.at {
                let at = paycycle_core::chrono::DateTime::from_timestamp(at, 0)
                    .ok_or_else(|| usage(format!("--at {at} is not a Unix time")))?;
                verifier = verifier.with_clock(std::sync::Arc::new(paycycle_core::FixedClock(at)));
            }
            let headers = header_map(&args.headers)?;
            verifier
                .verify_event(&headers, &body)
                .map_err(|e| rejected(format!("invalid webhook: {e}")))?
        }
    };
    let json = serde_json::to_string_pretty(&event).map_err(|e| usage(format!("cannot print the event: {e}")))?;
    write_stdout(&json)
}

fn sign(args: &WebhookArgs) -> Result<(), Failure> {
    let body = read_body(args.file.as_ref())?;
    match args.gateway {
        Gateway::Cryptomus => {
            let signed = paycycle_cryptomus::sign::sign_webhook(&body, &cryptomus_key(args)?)
                .map_err(|e| usage(format!("the body must be a JSON object: {e}")))?;
            write_stdout(&signed)
        }
        Gateway::Recurrente => {
            let secrets = recurrente_secrets(args)?;
            let secret = secrets.first().ok_or_else(|| usage("--secret is required"))?;
            let id = args
                .id
                .clone()
                .unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
            let timestamp = args
                .timestamp
                .unwrap_or_else(|| paycycle_core::chrono::Utc::now().timestamp());
            let headers = paycycle_recurrente::webhook::signed_headers(secret, &id, timestamp, &body)
                .map_err(|e| usage(e.to_string()))?;
            let lines: Vec<String> = headers
                .iter()
                .filter(|(name, _)| name.as_str().starts_with("svix-"))
                .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or_default()))
                .collect();
            write_stdout(&lines.join("\n"))
        }
    }
}

async fn sim(addr: std::net::SocketAddr) -> Result<(), Failure> {
    if !addr.ip().is_loopback() {
        return Err(usage(format!(
            "{addr} is not a loopback address; the simulator only listens on loopback"
        )));
    }
    let mut config = paycycle_sim::SimConfig::from_env();
    config.addr = addr;
    let sim = paycycle_sim::Simulator::start(config)
        .await
        .map_err(|e| usage(format!("cannot start: {e}")))?;
    write_stdout(&format!(
        "paycycle simulator listening on {base}\n\
         \n\
         Cryptomus  base URL  {base}  (POST /v1/recurrence/create|info|list|cancel)\n\
         \x20          CRYPTOMUS_MERCHANT_ID={merchant}\n\
         \x20          CRYPTOMUS_PAYMENT_KEY={key}\n\
         \x20          CRYPTOMUS_BASE_URL={base}\n\
         Recurrente base URL  {base}  (/api/checkouts, /api/subscriptions, …)\n\
         \x20          RECURRENTE_PUBLIC_KEY={public}\n\
         \x20          RECURRENTE_SECRET_KEY={secret}\n\
         \x20          RECURRENTE_WEBHOOK_SECRET={whsec}\n\
         \x20          RECURRENTE_BASE_URL={base}\n\
         Control    GET {base}/__sim/clock, POST {base}/__sim/clock/advance {{\"days\": N}}, GET {base}/__sim/webhooks\n\
         \n\
         These are simulator credentials, not secrets. Ctrl-C stops.",
        base = sim.base_url(),
        merchant = sim.cryptomus_merchant_id(),
        key = sim.cryptomus_payment_key(),
        public = sim.recurrente_public_key(),
        secret = sim.recurrente_secret_key(),
        whsec = sim.recurrente_webhook_secret(),
    ))?;
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Webhook {
            action: WebhookAction::Verify(args),
        } => verify(args),
        Command::Webhook {
            action: WebhookAction::Sign(args),
        } => sign(args),
        Command::Sim { addr } => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(sim(*addr)),
            Err(e) => Err(usage(format!("cannot start the async runtime: {e}"))),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "paycycle: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
