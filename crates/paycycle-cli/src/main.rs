//! `paycycle`: run the simulator, and sign or verify webhooks by hand.
//!
//! ```text
//! paycycle sim [--addr 127.0.0.1:8787]
//! paycycle webhook verify --gateway cryptomus --key KEY [--file body.json]
//! paycycle webhook sign   --gateway cryptomus --key KEY [--file body.json]
//! ```
//! Bodies are read from `--file` or standard input. Keys may come from the environment
//! (`CRYPTOMUS_PAYMENT_KEY`) instead of the command line, where other users could see them.
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
}

#[derive(Debug, clap::Args)]
struct WebhookArgs {
    /// Which provider's scheme.
    #[arg(long, value_enum)]
    gateway: Gateway,
    /// Cryptomus payment API key.
    #[arg(long, env = "CRYPTOMUS_PAYMENT_KEY", hide_env_values = true)]
    key: Option<String>,
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
         Control    GET {base}/__sim/clock, POST {base}/__sim/clock/advance {{\"days\": N}}, GET {base}/__sim/webhooks\n\
         \n\
         These are simulator credentials, not secrets. Ctrl-C stops.",
        base = sim.base_url(),
        merchant = sim.cryptomus_merchant_id(),
        key = sim.cryptomus_payment_key(),
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
