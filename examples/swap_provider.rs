//! One app function, any backend: which one is configuration, not code.
//!
//! ```sh
//! cargo run --example swap_provider                               # Cryptomus on the simulator
//! PAYCYCLE_GATEWAY=recurrente cargo run --example swap_provider   # Recurrente on the simulator
//! PAYCYCLE_GATEWAY=fake cargo run --example swap_provider         # the in-memory fake
//! PAYCYCLE_GATEWAY=cryptomus CRYPTOMUS_MERCHANT_ID=… CRYPTOMUS_PAYMENT_KEY=… \
//!     cargo run --example swap_provider                           # the real Cryptomus; you pay
//! ```
//!
//! The app (`paycycle_examples::sell_wait_cancel`) sells a plan, waits for the subscription to
//! become active, and cancels it, through `Arc<dyn RecurringGateway>` only.

use std::time::Duration;

use paycycle_examples::{BoxError, harness_from_env, sell_wait_cancel};

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
    let (harness, backend) = harness_from_env(|k| std::env::var(k).ok()).await?;
    println!("backend: {backend}");
    let report = sell_wait_cancel(harness.as_ref(), Duration::from_secs(15 * 60)).await?;
    println!("gateway: {}", report.gateway);
    println!("checkout: {}", report.checkout_url);
    println!("subscription: {}", report.subscription_id);
    let statuses: Vec<String> = report.statuses.iter().map(ToString::to_string).collect();
    println!("statuses: {}", statuses.join(" -> "));
    Ok(())
}
