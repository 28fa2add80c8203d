//! The main job: a subscription's whole life on Cryptomus, against the built-in simulator.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! No keys, no network: the simulator speaks Cryptomus' API on 127.0.0.1, with its virtual clock
//! and signed webhooks. The app code (`paycycle_examples::sell_monthly_plan`) only sees an
//! `Arc<dyn RecurringGateway>`: it creates a monthly plan with an intro discount, lets the payer
//! accept, lives through three renewals, verifies every webhook it receives, and cancels.

use std::sync::Arc;

use paycycle_core::RecurringGateway;
use paycycle_core::chrono::{TimeZone, Utc};
use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
use paycycle_examples::{BoxError, CryptomusSimDriver, WebhookInbox, sell_monthly_plan};
use paycycle_sim::{SimConfig, Simulator};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // The simulator, in-process, on a free loopback port; a fixed start date and sequential ids
    // make the output the same on every run.
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .single()
        .ok_or("bad start date")?;
    let sim = Arc::new(Simulator::start(SimConfig::default().start(start).deterministic_ids(true)).await?);

    // The app's gateway, configured as in production except for the base URL.
    let config = CryptomusConfig::builder()
        .merchant_id(sim.cryptomus_merchant_id())
        .payment_key(sim.cryptomus_payment_key().to_owned())
        .base_url(sim.base_url())
        .build()?;
    let cryptomus: Arc<dyn RecurringGateway> = Arc::new(CryptomusGateway::new(config)?);

    // The app's webhook endpoint: verifies every delivery with the gateway, drops duplicates.
    let inbox = WebhookInbox::start([cryptomus.clone()]).await?;

    let driver = CryptomusSimDriver { sim: sim.clone() };
    let story = sell_monthly_plan(&cryptomus, &driver, &inbox, 3).await?;

    println!("{}", story.timeline.render("Cryptomus (crypto), simulated"));
    println!(
        "{} webhooks received and verified, {} duplicate deliveries dropped, {} rejected.",
        story.events.len(),
        inbox.duplicates(),
        inbox.rejected().len()
    );
    println!(
        "To click through a checkout yourself, run `cargo run -p paycycle-cli -- sim` and open the `url` \
         of a checkout created against it (its payer page has Accept and Decline buttons)."
    );
    Ok(())
}
