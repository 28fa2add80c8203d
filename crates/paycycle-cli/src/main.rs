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
//! Against a running simulator (`--sim URL`, default `http://127.0.0.1:8787`) or any receiver:
//!
//! ```text
//! paycycle clock [--sim URL] [--json] [show | advance 30d | set 2026-03-01]
//! paycycle seed --gateway cryptomus|recurrente --count N [--status active] [--sim URL] [--json]
//! paycycle subscriptions [--gateway G] [--sim URL] [--json]
//! paycycle trigger payment_succeeded --gateway recurrente --to http://127.0.0.1:3000/webhooks [--secret whsec_…]
//! ```
//!
//! Exit codes: 0 success; 1 a failure explained in one line on stderr (a rejected webhook, an
//! unreachable simulator, a receiver that did not answer 2xx); 2 bad usage or unreadable input.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use url::Url;

mod remote;
mod trigger;

use remote::{ClockAction, DEFAULT_SIM};

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
    /// Show or move a running simulator's virtual clock (it only moves forward).
    #[command(
        after_help = "Examples:\n  paycycle clock\n  paycycle clock --sim http://127.0.0.1:8787 advance 30d\n  paycycle clock set 2026-03-01 --json"
    )]
    Clock {
        /// The simulator's base URL.
        #[arg(long, default_value = DEFAULT_SIM, global = true)]
        sim: Url,
        /// Print JSON (`{"now": …, "transitions": N}`).
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: Option<ClockCommand>,
    },
    /// Send one realistic sample event of a normalized kind, signed exactly as the provider
    /// signs it, to any URL; print the receiver's answer.
    #[command(
        after_help = "EVENT is an EventKind in snake case: payment_succeeded, payment_failed, payment_pending, \
payment_refunded, subscription_started, subscription_past_due, subscription_paused, subscription_resumed, \
subscription_cancelled, subscription_reactivated, subscription_updated, dispute_opened, dispute_updated, \
setup_succeeded, setup_failed (Cryptomus sends only the payment kinds, subscription_started and \
subscription_cancelled).\n\nExample:\n  paycycle trigger payment_succeeded --gateway recurrente --to http://127.0.0.1:3000/webhooks/recurrente --secret whsec_…"
    )]
    Trigger {
        /// The normalized kind, e.g. `payment_succeeded`.
        event: String,
        /// Which provider's payload and signature.
        #[arg(long, value_enum)]
        gateway: Gateway,
        /// Where to POST it.
        #[arg(long)]
        to: Url,
        /// Recurrente: the endpoint's signing secret (default: the simulator's).
        #[arg(long, env = "RECURRENTE_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Cryptomus: the payment key (default: the simulator's).
        #[arg(long, env = "CRYPTOMUS_PAYMENT_KEY", hide_env_values = true)]
        key: Option<String>,
        /// The merchant reference the event carries.
        #[arg(long, default_value = "order-trigger")]
        reference: String,
        /// Print JSON (`{"status": …, "body": …, "event": …}`).
        #[arg(long)]
        json: bool,
    },
    /// Fill a running simulator with N subscriptions in a given state (bulk, no webhooks).
    #[command(after_help = "Example:\n  paycycle seed --gateway recurrente --count 1000 --status active")]
    Seed {
        /// Which provider.
        #[arg(long, value_enum)]
        gateway: Gateway,
        /// How many.
        #[arg(long)]
        count: u32,
        /// Their state (e.g. `active`, `pending`, `cancelled`; the simulator says which it knows).
        #[arg(long)]
        status: Option<String>,
        /// The simulator's base URL.
        #[arg(long, default_value = DEFAULT_SIM)]
        sim: Url,
        /// Print the simulator's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// List what a running simulator holds (read through the providers' own APIs).
    #[command(after_help = "Examples:\n  paycycle subscriptions\n  paycycle subscriptions --gateway cryptomus --json")]
    Subscriptions {
        /// Only this provider's.
        #[arg(long, value_enum)]
        gateway: Option<Gateway>,
        /// The simulator's base URL.
        #[arg(long, default_value = DEFAULT_SIM)]
        sim: Url,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ClockCommand {
    /// Print the simulator's time (the default).
    Show,
    /// Move the clock forward by a duration (`30d`, `12h`, `90m`, `45s`, `2w`), running every
    /// renewal that falls due in order.
    Advance {
        /// How far.
        by: String,
    },
    /// Move the clock forward to a date (`2026-03-01`, midnight UTC) or an RFC 3339 time.
    Set {
        /// When.
        at: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

fn failed(message: impl Into<String>) -> Failure {
    rejected(message)
}

impl Gateway {
    fn name(self) -> &'static str {
        match self {
            Gateway::Cryptomus => "cryptomus",
            Gateway::Recurrente => "recurrente",
        }
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

/// Runs a command that talks over HTTP and prints what it answers.
fn remote(command: &Command) -> Result<(), Failure> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| usage(format!("cannot start the async runtime: {e}")))?;
    let out = rt.block_on(async {
        match command {
            Command::Clock { sim, json, action } => {
                let action = match action {
                    None | Some(ClockCommand::Show) => ClockAction::Show,
                    Some(ClockCommand::Advance { by }) => ClockAction::Advance(remote::parse_duration(by)?),
                    Some(ClockCommand::Set { at }) => ClockAction::Set(remote::parse_time(at)?),
                };
                remote::clock(sim, action, *json).await
            }
            Command::Seed {
                gateway,
                count,
                status,
                sim,
                json,
            } => remote::seed(sim, *gateway, *count, status.as_deref(), *json).await,
            Command::Subscriptions { gateway, sim, json } => remote::subscriptions(sim, *gateway, *json).await,
            Command::Trigger {
                event,
                gateway,
                to,
                secret,
                key,
                reference,
                json,
            } => trigger_one(event, *gateway, to, secret.as_deref(), key.as_deref(), reference, *json).await,
            _ => Err(usage("not a remote command")),
        }
    })?;
    write_stdout(&format!("{out}\n"))
}

async fn trigger_one(
    event: &str,
    gateway: Gateway,
    to: &Url,
    secret: Option<&str>,
    key: Option<&str>,
    reference: &str,
    as_json: bool,
) -> Result<String, Failure> {
    let kinds = match gateway {
        Gateway::Recurrente => trigger::RECURRENTE_KINDS,
        Gateway::Cryptomus => trigger::CRYPTOMUS_KINDS,
    };
    let kind = trigger::parse_kind(event)
        .ok_or_else(|| usage(format!("unknown event `{event}`: one of {}", kinds.join(", "))))?;
    let body = trigger::sample(gateway, &kind, reference).ok_or_else(|| {
        usage(format!(
            "{} sends no `{event}` event: one of {}",
            gateway.name(),
            kinds.join(", ")
        ))
    })?;
    let credential = match gateway {
        Gateway::Recurrente => secret.unwrap_or(paycycle_sim::DEFAULT_RECURRENTE_WEBHOOK_SECRET),
        Gateway::Cryptomus => key.unwrap_or(paycycle_sim::DEFAULT_CRYPTOMUS_PAYMENT_KEY),
    };
    let (status, answer) = remote::send_webhook(gateway, to, &body, credential).await?;
    let out = if as_json {
        serde_json::json!({ "status": status, "body": answer, "event": body }).to_string()
    } else {
        format!("HTTP {status} {}", answer.trim())
    };
    if (200..300).contains(&status) {
        Ok(out)
    } else {
        let _ = writeln!(std::io::stdout(), "{out}");
        Err(failed(format!("the receiver answered HTTP {status}")))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        c
        @ (Command::Clock { .. } | Command::Seed { .. } | Command::Subscriptions { .. } | Command::Trigger { .. }) => {
            remote(c)
        }
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
