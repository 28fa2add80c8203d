//! Load through one gateway instance: 1,000 concurrent `subscription(id)` calls against the
//! simulator finish without an error, and connections are reused (counted by the simulator's
//! `/__sim/stats`): 1,000 calls eight at a time open at most 32 on a fresh gateway (8 to 14 measured), and none
//! once a burst has filled its pool.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use paycycle_core::{CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan, SubscriptionId};
use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
use paycycle_recurrente::{RecurrenteConfig, RecurrenteGateway};
use paycycle_sim::{SimConfig, Simulator};

/// The simulator's count of accepted TCP connections, read through `stats`, a client of its own
/// that keeps its one connection (so reading the count does not move it).
async fn connections(stats: &reqwest::Client, sim: &Simulator) -> u64 {
    let stats: serde_json::Value = stats
        .get(format!("{}/__sim/stats", sim.base_url().trim_end_matches('/')))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["connections_accepted"]
        .as_u64()
        .unwrap_or_else(|| panic!("no connection counter: {stats}"))
}

/// The count once connections still being set up have landed: hyper keeps a connect that lost
/// the race to a pooled connection, and finishes it in the background.
async fn settled_connections(stats: &reqwest::Client, sim: &Simulator) -> u64 {
    let mut last = connections(stats, sim).await;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = connections(stats, sim).await;
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// `calls` calls of `subscription(sid)`, `at_once` at a time; every one must return `sid`.
async fn read_many(gateway: &Arc<dyn RecurringGateway>, sid: &SubscriptionId, calls: usize, at_once: usize) {
    let results: Vec<_> = futures::stream::iter(0..calls)
        .map(|_| {
            let g = gateway.clone();
            let sid = sid.clone();
            // Spawned, so that the calls run on both worker threads as an app's would.
            async move { tokio::spawn(async move { g.subscription(&sid).await }).await }
        })
        .buffer_unordered(at_once)
        .collect()
        .await;
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|r| match r {
            Ok(Ok(s)) if &s.id == sid => None,
            other => Some(format!("{other:?}")),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {calls} calls ({at_once} at a time) failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

/// One subscription through `gateway`, then three phases against it, each counted by the
/// simulator. `requests_per_call` is what one `subscription()` sends.
async fn hammer(
    sim: &Simulator,
    gateway: impl Fn() -> Arc<dyn RecurringGateway>,
    currency: Currency,
    requests_per_call: u64,
    complete: impl Fn(&str),
) {
    let stats = reqwest::Client::new();
    let first = gateway();
    let plan = RecurringPlan::builder("Load plan", Money::parse("15", currency).unwrap(), Interval::monthly())
        .build()
        .unwrap();
    let checkout = first
        .create_checkout(&CheckoutRequest::new(plan).merchant_reference("order-load"))
        .await
        .unwrap();
    complete(checkout.id.as_str());
    let sid = first.checkout(&checkout.id).await.unwrap().subscription_id.unwrap();

    // 1. A fresh gateway, 1,000 calls eight at a time: a pooled client needs about eight
    //    connections; one that does not reuse them opens 1,000 (or 2,000).
    let cold = gateway();
    let before = settled_connections(&stats, sim).await;
    read_many(&cold, &sid, 1000, 8).await;
    let opened = settled_connections(&stats, sim).await - before;
    assert!(
        (1..=32).contains(&opened),
        "{opened} connections for 1,000 calls eight at a time (at most 32 expected: four times the concurrency)"
    );

    // 2. 1,000 calls at once through one gateway: all succeed. HTTP/1.1 needs a connection per
    //    request in flight, so this opens up to one per request.
    let before = settled_connections(&stats, sim).await;
    read_many(&cold, &sid, 1000, 1000).await;
    let burst = settled_connections(&stats, sim).await - before;
    assert!(
        (1..=1000 * requests_per_call).contains(&burst),
        "{burst} connections for 1,000 calls at once"
    );

    // 3. The burst's connections are pooled: 1,000 more calls eight at a time open none.
    let before = settled_connections(&stats, sim).await;
    read_many(&cold, &sid, 1000, 8).await;
    let reopened = settled_connections(&stats, sim).await - before;
    assert_eq!(
        reopened, 0,
        "1,000 calls eight at a time after the burst opened {reopened} new connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_reads_through_one_gateway_reuse_connections() {
    let sim = Arc::new(Simulator::start(SimConfig::default()).await.unwrap());
    let config = CryptomusConfig::builder()
        .merchant_id(sim.cryptomus_merchant_id())
        .payment_key(sim.cryptomus_payment_key().to_owned())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let cryptomus = move || -> Arc<dyn RecurringGateway> { Arc::new(CryptomusGateway::new(config.clone()).unwrap()) };
    let s = sim.clone();
    hammer(&sim, cryptomus, Currency::USD, 1, move |id| {
        s.cryptomus_accept(id).unwrap();
    })
    .await;

    let config = RecurrenteConfig::builder()
        .secret_key(sim.recurrente_secret_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let recurrente = move || -> Arc<dyn RecurringGateway> { Arc::new(RecurrenteGateway::new(&config).unwrap()) };
    let s = sim.clone();
    // `subscription()` reads the subscription, then its checkout for the merchant reference.
    hammer(&sim, recurrente, Currency::GTQ, 2, move |id| {
        s.recurrente_pay(id, paycycle_sim::RecurrenteOutcome::CardSuccess)
            .unwrap();
    })
    .await;
}
