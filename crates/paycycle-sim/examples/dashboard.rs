//! Starts a simulator holding a few subscriptions of both providers, with their webhooks
//! delivered to a small receiver, and prints the dashboard's address. It runs until stopped
//! (Ctrl-C).
//!
//! ```text
//! cargo run -p paycycle-sim --example dashboard            # http://127.0.0.1:8790/
//! cargo run -p paycycle-sim --example dashboard -- 127.0.0.1:9000
//! ```
//!
//! The screenshots in `docs/dashboard-*.png` are of this simulator.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use paycycle_core::GatewayId;
use paycycle_cryptomus::sign::request_sign;
use paycycle_sim::{DeliveryPolicy, RecurrenteOutcome, Seed, SeedState, SimConfig, Simulator};
use serde_json::{Value, json};

/// A receiver on loopback that answers 500 to its first request and 200 to the others (so the
/// log shows a retry).
async fn receiver() -> Result<String, Box<dyn Error>> {
    let seen = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route(
        "/{*path}",
        post(move || {
            let seen = seen.clone();
            async move {
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Creates a Cryptomus recurrence through the API; returns its uuid.
async fn cryptomus(sim: &Simulator, http: &reqwest::Client, body: Value) -> Result<String, Box<dyn Error>> {
    let body = body.to_string();
    let answer: Value = http
        .post(format!("{}/v1/recurrence/create", sim.base_url()))
        .header("merchant", sim.cryptomus_merchant_id())
        .header("sign", request_sign(body.as_bytes(), sim.cryptomus_payment_key()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .json()
        .await?;
    answer["result"]["uuid"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("unexpected answer: {answer}").into())
}

/// Creates a Recurrente checkout for one monthly item through the API, with the merchant's
/// reference in its metadata; returns its id.
async fn recurrente(
    sim: &Simulator,
    http: &reqwest::Client,
    name: &str,
    cents: i64,
    reference: &str,
) -> Result<String, Box<dyn Error>> {
    let item = json!({"name": name, "currency": "GTQ", "amount_in_cents": cents,
                      "charge_type": "recurring", "billing_interval": "month"});
    let answer: Value = http
        .post(format!("{}/api/checkouts", sim.base_url()))
        .header("X-PUBLIC-KEY", sim.recurrente_public_key())
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .json(&json!({ "items": [item], "metadata": {"paycycle_reference": reference} }))
        .send()
        .await?
        .json()
        .await?;
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("unexpected answer: {answer}").into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8790".to_owned())
        .parse()?;
    let hooks = receiver().await?;
    let config = SimConfig::default()
        .addr(addr)
        .start("2026-01-10T09:00:00Z".parse()?)
        .recurrente_webhook_url(format!("{hooks}/recurrente"))
        .delivery(DeliveryPolicy::default().initial_backoff(Duration::from_millis(50)));
    let sim = Simulator::start(config).await?;
    let http = reqwest::Client::new();

    // Many made at once (no history), then a few through the APIs (newest, so first in the list).
    sim.seed(&Seed::new(GatewayId::CRYPTOMUS, 150).state(SeedState::Active))?;
    sim.seed(&Seed::new(GatewayId::RECURRENTE, 50).state(SeedState::Active))?;
    let callback = format!("{hooks}/cryptomus");
    let gold = cryptomus(
        &sim,
        &http,
        json!({"amount": "15", "currency": "USD", "name": "Gold plan",
        "period": "monthly", "order_id": "order-1001", "url_callback": callback}),
    )
    .await?;
    let silver = cryptomus(
        &sim,
        &http,
        json!({"amount": "7.50", "currency": "USD", "name": "Silver plan",
        "period": "weekly", "order_id": "order-1002", "url_callback": callback}),
    )
    .await?;
    cryptomus(
        &sim,
        &http,
        json!({"amount": "0.0005", "currency": "BTC", "name": "Bitcoin club",
        "period": "monthly", "order_id": "order-1003", "url_callback": callback}),
    )
    .await?;
    sim.cryptomus_accept(&gold)?;
    sim.cryptomus_accept(&silver)?;
    let pro = recurrente(&sim, &http, "Pro plan", 25_000, "order-2001").await?;
    sim.recurrente_pay(&pro, RecurrenteOutcome::CardSuccess)?;
    let team = recurrente(&sim, &http, "Team plan", 90_000, "order-2002").await?;
    let team = sim.recurrente_pay(&team, RecurrenteOutcome::CardSuccess)?;
    recurrente(&sim, &http, "Starter plan", 5_000, "order-2003").await?;

    // A month later: renewals, one of them failing.
    if let Some(team) = &team.subscription_id {
        sim.recurrente_fail_next_charge(team, 1)?;
    }
    sim.advance(chrono::Duration::days(31))?;
    sim.flush_webhooks().await;

    println!("paycycle-sim dashboard: {}/", sim.base_url());
    println!(
        "Cryptomus \"Gold plan\": {}/subscriptions/cryptomus/{gold}",
        sim.base_url()
    );
    println!("Stop with Ctrl-C.");
    std::future::pending::<()>().await;
    Ok(())
}
