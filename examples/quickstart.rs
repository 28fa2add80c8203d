//! The main job: the same app code sells a monthly plan on Cryptomus (crypto) and on Recurrente
//! (cards), against the built-in simulator, and prints both stories side by side.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! No keys, no network: the simulator speaks both providers' APIs on 127.0.0.1, with a virtual
//! clock and signed webhooks. The app code (`paycycle_examples::sell_monthly_plan`) only sees an
//! `Arc<dyn RecurringGateway>` and its webhook endpoint, a `paycycle-ledger` ledger: it creates a monthly plan (with an intro
//! price where the gateway offers one), lets the payer pay, lives through three renewals,
//! verifies every webhook it receives, and cancels.

use std::sync::Arc;

use paycycle_core::chrono::{TimeZone, Utc};
use paycycle_core::conformance::Harness as _;
use paycycle_examples::{BoxError, SimHarness, sell_monthly_plan, side_by_side};
use paycycle_sim::{SimConfig, Simulator};

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

async fn run() -> Result<(), BoxError> {
    // The simulator, in-process, on free loopback ports: one per story so that each has its own
    // virtual clock (one simulator serves both providers, as `paycycle sim` does). A fixed start
    // date and sequential ids make the output the same on every run.
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .single()
        .ok_or("bad start date")?;
    let simulator = || Simulator::start(SimConfig::default().start(start).deterministic_ids(true));

    // Each gateway configured as in production except for its base URL, with the app's webhook
    // endpoint (Recurrente's registered through its API, as an app does once).
    let cryptomus = SimHarness::cryptomus(Arc::new(simulator().await?)).await?;
    let recurrente = SimHarness::recurrente(Arc::new(simulator().await?)).await?;

    let crypto_story = sell_monthly_plan(&cryptomus, 3).await?;
    let cards_story = sell_monthly_plan(&recurrente, 3).await?;

    println!("The same app code on two gateways (simulated; statuses and what the app heard):\n");
    println!(
        "{}",
        side_by_side(&[("Cryptomus (USDT)", &crypto_story), ("Recurrente (GTQ)", &cards_story)])
    );
    println!("{}", crypto_story.timeline.render("Cryptomus in detail"));
    println!("{}", cards_story.timeline.render("Recurrente in detail"));
    // What the app's ledger made of it: every webhook stored once and applied, the
    // subscription as the gateway has it, each payment once, and the access answer.
    for (name, h, story) in [
        ("Cryptomus", &cryptomus, &crypto_story),
        ("Recurrente", &recurrente, &cards_story),
    ] {
        let ledger = h.ledger();
        let gateway = h.sim_gateway().id().to_string();
        let received = ledger.inbox(0, u32::MAX).await?.len();
        let payments = ledger.payments(Some(&gateway)).await?.len();
        let status = ledger
            .subscription(&gateway, &story.subscription_id)
            .await?
            .map_or_else(|| "missing".to_owned(), |s| s.status.to_string());
        let reference = format!("order-{gateway}");
        let now = ledger.access(&reference, h.now()).await?;
        let until = now
            .until
            .map(|u| format!(" until {}", u.format("%Y-%m-%d")))
            .unwrap_or_default();
        println!(
            "{name}: the ledger stored {received} webhooks once each and applied them; subscription {status}; \
             {payments} payments recorded; access for {reference} now: {} ({:?}{until}).",
            if now.granted { "yes" } else { "no" },
            now.reason,
        );
    }
    println!(
        "\nRecurrente has no intro offer, so its plan is the same minus the discount (see Capabilities).\n\
         To click through a checkout yourself, run `cargo run -p paycycle-cli -- sim` and open the `url` \
         of a checkout created against it."
    );
    Ok(())
}
