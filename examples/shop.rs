//! A small shop in production shape, on the facade: an axum app that sells a monthly plan on
//! Cryptomus and on Recurrente, receives their webhooks through the ledger's routes, applies them
//! with background workers, consumes the ledger's changes, and asks the ledger "does this customer
//! have access now?" at each turn of a subscription's life.
//!
//! ```sh
//! cargo run --example shop
//! ```
//!
//! Against the in-process simulator (no keys, no network), with the ledger in SQLite in memory.
//! In production, the same code takes `GatewayConfig::from_env()` and a database URL.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;
use paycycle::chrono::{DateTime, Utc};
use paycycle::cryptomus::{CryptomusConfig, CryptomusGateway};
use paycycle::ledger::{Access, ChangeKind, Ledger};
use paycycle::recurrente::wire::CreateWebhookEndpoint;
use paycycle::recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway};
use paycycle::sim::{RecurrenteOutcome, SimConfig, Simulator};
use paycycle::{CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan, SubscriptionId};
use secrecy::ExposeSecret;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The shop's own route: `GET /access/{reference}` answers from the ledger, at the ledger's now.
async fn access(State(ledger): State<Ledger>, Path(reference): Path<String>) -> Json<serde_json::Value> {
    match ledger.access(&reference, now_of(&ledger)).await {
        Ok(a) => {
            Json(serde_json::json!({ "granted": a.granted, "reason": format!("{:?}", a.reason), "until": a.until }))
        }
        Err(e) => Json(serde_json::json!({ "error": e.to_string() })),
    }
}

/// The shop follows the simulator's virtual calendar; in production this is `Utc::now()`.
static CLOCK: std::sync::OnceLock<Arc<paycycle::sim::VirtualClock>> = std::sync::OnceLock::new();

fn now_of(_ledger: &Ledger) -> DateTime<Utc> {
    CLOCK.get().map_or_else(Utc::now, |c| c.now())
}

struct Shop {
    sim: Simulator,
    ledger: Ledger,
    http: reqwest::Client,
    base: String,
    cryptomus: Arc<dyn RecurringGateway>,
    recurrente: Arc<dyn RecurringGateway>,
}

impl Shop {
    /// Asks the shop's own HTTP route, as the app's frontend would.
    async fn access(&self, reference: &str) -> Result<String, BoxError> {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/access/{reference}", self.base))
            .send()
            .await?
            .json()
            .await?;
        let until = v["until"]
            .as_str()
            .and_then(|u| u.parse::<DateTime<Utc>>().ok())
            .map(|u| format!(" until {}", u.format("%Y-%m-%d")))
            .unwrap_or_default();
        let granted = if v["granted"].as_bool() == Some(true) {
            "yes"
        } else {
            "no "
        };
        Ok(format!("{granted} {}{until}", v["reason"].as_str().unwrap_or("?")))
    }

    /// Lets the simulator deliver what it has queued and the workers apply it.
    async fn settle(&self) -> Result<(), BoxError> {
        self.sim.flush_webhooks().await;
        if !self.ledger.wait_until_applied(Duration::from_secs(10)).await? {
            return Err("the ledger did not apply its webhooks in time".into());
        }
        Ok(())
    }

    async fn line(&self, gateway: &str, reference: &str, step: &str) -> Result<(), BoxError> {
        let day = self.sim.now().format("%Y-%m-%d");
        println!(
            "  {gateway:10}  {day}  {step:34}  access: {}",
            self.access(reference).await?
        );
        Ok(())
    }

    async fn advance_days(&self, days: i64) -> Result<(), BoxError> {
        self.sim.advance(paycycle::chrono::Duration::days(days))?;
        self.settle().await
    }
}

async fn run() -> Result<(), BoxError> {
    let start = "2026-01-01T09:00:00Z".parse::<DateTime<Utc>>()?;
    let sim = Simulator::start(SimConfig::default().start(start).deterministic_ids(true)).await?;
    let _ = CLOCK.set(sim.clock());

    // The gateways, configured as in production except for their base URL.
    let cryptomus: Arc<dyn RecurringGateway> = Arc::new(CryptomusGateway::new(
        CryptomusConfig::builder()
            .merchant_id(sim.cryptomus_merchant_id())
            .payment_key(sim.cryptomus_payment_key().to_owned())
            .base_url(sim.base_url())
            .build()?,
    )?);

    // The ledger, with the shop's clock, and its workers.
    let ledger = Ledger::builder("sqlite::memory:")
        .gateway("cryptomus", cryptomus.clone())
        .clock(sim.clock())
        .connect()
        .await?;
    let workers = ledger.spawn_workers(2);
    // A consumer of changes: where the shop would send emails or update its own tables.
    let emails = ledger.on_change("emails", |change| async move {
        if let ChangeKind::AccessChanged {
            merchant_reference,
            after,
            ..
        } = &change.kind
        {
            println!(
                "  {:10}  {:10}  -> change #{}: access for {merchant_reference} is now {}",
                "",
                "",
                change.seq,
                describe(after)
            );
        }
        Ok::<(), std::convert::Infallible>(())
    })?;

    // The shop: its own routes plus the ledger's webhook routes, on loopback.
    let app = axum::Router::new()
        .route("/access/{reference}", get(access))
        .with_state(ledger.clone())
        .merge(paycycle::ledger::router(ledger.clone()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // Recurrente: the shop registers its webhook route once, and verifies with the secret returned.
    let keys = || {
        RecurrenteConfig::builder()
            .public_key(sim.recurrente_public_key())
            .secret_key(sim.recurrente_secret_key())
            .base_url(sim.base_url())
    };
    let endpoint = RecurrenteClient::new(&keys().build()?)?
        .create_webhook_endpoint(&CreateWebhookEndpoint::new(
            format!("{base}/webhooks/recurrente").parse()?,
        ))
        .await?;
    let secret = endpoint.signing_secret.ok_or("no signing secret")?;
    let recurrente: Arc<dyn RecurringGateway> = Arc::new(RecurrenteGateway::new(
        &keys().webhook_secret(secret.expose_secret()).build()?,
    )?);
    ledger.add_gateway("recurrente", recurrente.clone());

    let shop = Shop {
        sim,
        ledger: ledger.clone(),
        http: reqwest::Client::new(),
        base,
        cryptomus,
        recurrente,
    };
    println!("A shop on paycycle: access answers from its ledger, day by day (simulated).\n");
    cards(&shop).await?;
    println!();
    crypto(&shop).await?;

    emails.shutdown().await;
    workers.shutdown().await;
    let payments = ledger.payments(None).await?;
    let (pending, done, parked) = ledger.inbox_counts().await?;
    println!(
        "\nThe ledger: {done} webhooks applied ({pending} pending, {parked} parked), {} payments recorded once each, {} changes for the app.",
        payments.len(),
        ledger.changes_since(0, u32::MAX).await?.len()
    );
    Ok(())
}

fn describe(a: &Access) -> String {
    let until = a
        .until
        .map(|u| format!(" until {}", u.format("%Y-%m-%d")))
        .unwrap_or_default();
    format!(
        "{} ({:?}{until})",
        if a.granted { "granted" } else { "denied" },
        a.reason
    )
}

fn plan(amount: &str, currency: Currency) -> Result<RecurringPlan, BoxError> {
    Ok(RecurringPlan::builder("Pro", Money::parse(amount, currency)?, Interval::monthly()).build()?)
}

/// Cards on Recurrente: pay, renew, then a renewal that keeps failing: past due and its grace,
/// the grace over, and the gateway cancelling after its retries (3 and 5 days later) fail.
async fn cards(shop: &Shop) -> Result<(), BoxError> {
    let r = "cards-ana";
    let checkout = shop
        .recurrente
        .create_checkout(&CheckoutRequest::new(plan("15", Currency::GTQ)?).merchant_reference(r))
        .await?;
    shop.line("recurrente", r, "checkout created, not paid").await?;
    shop.sim
        .recurrente_pay(checkout.id.as_str(), RecurrenteOutcome::CardSuccess)?;
    shop.settle().await?;
    shop.line("recurrente", r, "paid").await?;
    let sub: SubscriptionId = shop
        .recurrente
        .checkout(&checkout.id)
        .await?
        .subscription_id
        .ok_or("no subscription")?;
    shop.advance_days(31).await?;
    shop.line("recurrente", r, "renewed").await?;
    shop.sim.fail_next_charges(sub.as_str(), 3)?;
    shop.advance_days(28).await?;
    shop.line("recurrente", r, "renewal failed: past due").await?;
    shop.advance_days(2).await?;
    shop.line("recurrente", r, "past due, day 2 of 3 of grace").await?;
    shop.advance_days(2).await?;
    shop.line("recurrente", r, "retry failed, grace over").await?;
    shop.advance_days(2).await?;
    shop.line("recurrente", r, "last retry failed: cancelled").await?;
    Ok(())
}

/// Crypto on Cryptomus: accept (intro price), renew, cancel inside a paid month, period ends.
async fn crypto(shop: &Shop) -> Result<(), BoxError> {
    let r = "crypto-bo";
    let plan = RecurringPlan::builder("Pro", Money::parse("15", Currency::USDT)?, Interval::monthly())
        .intro_offer(Money::parse("1", Currency::USDT)?, 30)
        .build()?;
    let request = CheckoutRequest::new(plan)
        .merchant_reference(r)
        .callback_url(format!("{}/webhooks/cryptomus", shop.base).parse()?);
    let checkout = shop.cryptomus.create_checkout(&request).await?;
    shop.line("cryptomus", r, "recurrence created, not accepted").await?;
    shop.sim.cryptomus_accept(checkout.id.as_str())?;
    shop.settle().await?;
    shop.line("cryptomus", r, "accepted, 1 USDT intro paid").await?;
    shop.advance_days(31).await?;
    shop.line("cryptomus", r, "renewed at 15 USDT").await?;
    shop.advance_days(10).await?;
    shop.cryptomus
        .cancel_subscription(&SubscriptionId::new(checkout.id.as_str()))
        .await?;
    shop.settle().await?;
    shop.line("cryptomus", r, "cancelled by the shop, month paid").await?;
    shop.advance_days(25).await?;
    shop.line("cryptomus", r, "the paid month is over").await?;
    Ok(())
}
