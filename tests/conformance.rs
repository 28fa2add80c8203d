//! The conformance suite of paycycle-core, run on every backend: the same behaviour tests,
//! differences expressed only through each gateway's Capabilities.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use paycycle_core::conformance::{self, Harness, Transcript};
use paycycle_examples::{FakeHarness, SimHarness};
use paycycle_sim::fake::Mimic;
use paycycle_sim::{SimConfig, Simulator};

async fn sim() -> Arc<Simulator> {
    Arc::new(Simulator::start(SimConfig::default()).await.unwrap())
}

async fn run(h: &dyn Harness) -> Transcript {
    match conformance::run_all(h).await {
        Ok(t) => t,
        Err(f) => panic!("{} does not conform: {f}", h.gateway().id()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cryptomus_on_the_simulator_conforms() {
    let h = SimHarness::cryptomus(sim().await).await.unwrap();
    run(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurrente_on_the_simulator_conforms() {
    let h = SimHarness::recurrente(sim().await).await.unwrap();
    run(&h).await;
}

#[tokio::test]
async fn the_fake_conforms_mimicking_each_provider() {
    for mimic in [Mimic::Cryptomus, Mimic::Recurrente, Mimic::All] {
        run(&FakeHarness::new(mimic)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_story_reads_the_same_on_every_backend() {
    let crypto = SimHarness::cryptomus(sim().await).await.unwrap();
    let cards = SimHarness::recurrente(sim().await).await.unwrap();
    let a = conformance::story(&crypto).await.unwrap();
    let b = conformance::story(&cards).await.unwrap();
    assert_eq!(a, b, "cryptomus and recurrente tell the same story differently");
    let c = conformance::story(&FakeHarness::new(Mimic::Recurrente)).await.unwrap();
    assert_eq!(a, c, "the fake tells the story differently from the real adapters");
    assert_eq!(a.steps.len(), 5);
    assert_eq!(a.steps[1].1, "active");
    assert_eq!(a.steps[1].2, ["PaymentSucceeded", "SubscriptionStarted"]);
}

/// The fake's mimicked capabilities are the real adapters' own, so an app tested on the fake meets
/// the same Unsupported errors it would meet in production.
#[tokio::test]
async fn the_fake_mimics_the_real_capabilities_exactly() {
    let crypto = SimHarness::cryptomus(sim().await).await.unwrap();
    let cards = SimHarness::recurrente(sim().await).await.unwrap();
    assert_eq!(&Mimic::Cryptomus.capabilities(), crypto.gateway().capabilities());
    assert_eq!(&Mimic::Recurrente.capabilities(), cards.gateway().capabilities());
}
