//! The main job: the same app code sells a monthly plan on Cryptomus (crypto) and on Recurrente
//! (cards), against the built-in simulator, and prints both stories side by side.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! No keys, no network: the simulator speaks both providers' APIs on 127.0.0.1, with a virtual
//! clock and signed webhooks. The app code (`paycycle_examples::sell_monthly_plan`) only sees an
//! `Arc<dyn RecurringGateway>` and its webhook inbox: it creates a monthly plan (with an intro
//! price where the gateway offers one), lets the payer pay, lives through three renewals,
//! verifies every webhook it receives, and cancels.

use std::sync::Arc;

use paycycle_core::chrono::{TimeZone, Utc};
use paycycle_examples::{BoxError, SimHarness, sell_monthly_plan, side_by_side};
use paycycle_sim::{SimConfig, Simulator};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // One simulator for both providers, in-process, on a free loopback port; a fixed start date
    // and sequential ids make the output the same on every run.
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .single()
        .ok_or("bad start date")?;
    let sim = Arc::new(Simulator::start(SimConfig::default().start(start).deterministic_ids(true)).await?);

    // Each gateway configured as in production except for its base URL, with the app's webhook
    // endpoint (Recurrente's registered through its API, as an app does once).
    let cryptomus = SimHarness::cryptomus(sim.clone()).await?;
    let recurrente = SimHarness::recurrente(sim.clone()).await?;

    let crypto_story = sell_monthly_plan(&cryptomus, 3).await?;
    let cards_story = sell_monthly_plan(&recurrente, 3).await?;

    println!("The same app code on two gateways (simulated; statuses and what the app heard):\n");
    println!(
        "{}",
        side_by_side(&[("Cryptomus (USDT)", &crypto_story), ("Recurrente (GTQ)", &cards_story)])
    );
    println!("{}", crypto_story.timeline.render("Cryptomus in detail"));
    println!("{}", cards_story.timeline.render("Recurrente in detail"));
    for (name, h, story) in [
        ("Cryptomus", &cryptomus, &crypto_story),
        ("Recurrente", &recurrente, &cards_story),
    ] {
        println!(
            "{name}: {} webhooks received and verified, {} duplicate deliveries dropped, {} rejected.",
            story.events.len(),
            h.inbox().duplicates(),
            h.inbox().rejected().len()
        );
    }
    println!(
        "\nRecurrente has no intro offer, so its plan is the same minus the discount (see Capabilities).\n\
         To click through a checkout yourself, run `cargo run -p paycycle-cli -- sim` and open the `url` \
         of a checkout created against it."
    );
    Ok(())
}
