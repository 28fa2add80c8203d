//! Creates that never charge twice: the simulator applies a create and then loses its answer
//! (a 502, a reset, a delay past the client's timeout); the call still returns the one object
//! that exists, and exactly one exists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::TryStreamExt;
use paycycle_core::{CheckoutRequest, Currency, Error, Interval, Money, RecurringGateway, RecurringPlan};
use paycycle_cryptomus::{CreateRecurrence, CryptomusClient, CryptomusConfig, CryptomusGateway, Period};
use paycycle_recurrente::wire::{CreateCheckout, CustomItem, ListCheckouts};
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway};
use paycycle_sim::{Fault, SimConfig, Simulator};

const TIMEOUT: Duration = Duration::from_millis(400);
const SLOW: Duration = Duration::from_millis(1500);

/// The ways an applied request loses its answer.
fn lost_answers(path: &str) -> [(&'static str, Fault); 4] {
    [
        ("502 after applying", Fault::apply_then_502(path)),
        ("JSON cut in half after applying", Fault::truncate(path)),
        ("reset after applying", Fault::apply_then_reset(path)),
        (
            "delay past the timeout after applying",
            Fault::apply_then_delay(path, SLOW),
        ),
    ]
}

// -------------------------------------------------------------------------------------------
// Cryptomus

const CREATE: &str = "/v1/recurrence/create";
const INFO: &str = "/v1/recurrence/info";

fn cryptomus_config(sim: &Simulator) -> CryptomusConfig {
    CryptomusConfig::builder()
        .merchant_id(sim.cryptomus_merchant_id())
        .payment_key(sim.cryptomus_payment_key().to_owned())
        .base_url(sim.base_url())
        .timeout(TIMEOUT)
        .retry_backoff(Duration::from_millis(10))
        .build()
        .unwrap()
}

fn usd(s: &str) -> Money {
    Money::parse(s, Currency::USD).unwrap()
}

async fn recurrences_with(c: &CryptomusClient, order_id: &str) -> usize {
    let all: Vec<_> = c.recurrences().try_collect().await.unwrap();
    all.iter().filter(|r| r.order_id.as_deref() == Some(order_id)).count()
}

#[tokio::test]
async fn cryptomus_create_with_a_lost_answer_returns_the_one_recurrence() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = CryptomusClient::new(cryptomus_config(&sim)).unwrap();
    for (i, (what, fault)) in lost_answers(CREATE).into_iter().enumerate() {
        let order_id = format!("never-twice-{i}");
        sim.clear_faults();
        sim.inject_fault(fault);
        let req = CreateRecurrence::new(usd("15"), "Gold plan", Period::Monthly).order_id(&order_id);
        let rec = c
            .create_recurrence(&req)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(rec.order_id.as_deref(), Some(order_id.as_str()), "{what}");
        assert_eq!(
            recurrences_with(&c, &order_id).await,
            1,
            "{what}: exactly one recurrence"
        );
        assert_eq!(
            (sim.requests_to(CREATE), sim.requests_to(INFO)),
            (2, 1),
            "{what}: the create was sent again with the same order_id, then read by it"
        );
    }
}

#[tokio::test]
async fn cryptomus_gateway_checkout_with_a_lost_answer_is_created_once() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let g = CryptomusGateway::new(cryptomus_config(&sim)).unwrap();
    let c = CryptomusClient::new(cryptomus_config(&sim)).unwrap();
    let plan = RecurringPlan::builder("Gold plan", usd("15"), Interval::monthly())
        .build()
        .unwrap();
    sim.inject_fault(Fault::apply_then_502(CREATE));
    let checkout = g
        .create_checkout(&CheckoutRequest::new(plan).merchant_reference("order-77"))
        .await
        .unwrap();
    assert_eq!(checkout.merchant_reference.as_deref(), Some("order-77"));
    assert_eq!(recurrences_with(&c, "order-77").await, 1);
}

#[tokio::test]
async fn cryptomus_duplicate_order_with_the_same_terms_is_the_existing_recurrence() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = CryptomusClient::new(cryptomus_config(&sim)).unwrap();
    let req = CreateRecurrence::new(usd("15"), "Gold plan", Period::Monthly).order_id("dup-1");
    let first = c.create_recurrence(&req).await.unwrap();
    // The caller repeats the create (after an error of its own, a restart...): same answer.
    let again = c
        .create_recurrence(&CreateRecurrence::new(usd("15.00"), "Gold plan", Period::Monthly).order_id("dup-1"))
        .await
        .unwrap();
    assert_eq!(again.uuid, first.uuid);
    assert_eq!(recurrences_with(&c, "dup-1").await, 1);
}

#[tokio::test]
async fn cryptomus_duplicate_order_with_other_terms_is_a_conflict() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = CryptomusClient::new(cryptomus_config(&sim)).unwrap();
    c.create_recurrence(&CreateRecurrence::new(usd("15"), "Gold plan", Period::Monthly).order_id("dup-2"))
        .await
        .unwrap();
    let other = CreateRecurrence::new(usd("20"), "Gold plan", Period::Weekly).order_id("dup-2");
    match c.create_recurrence(&other).await {
        Err(e @ Error::Conflict { .. }) => {
            assert!(!e.is_retryable() && !e.may_have_been_sent(), "{e}");
            let text = e.to_string();
            assert!(
                text.contains("dup-2") && text.contains("amount") && text.contains("period"),
                "{text}"
            );
        }
        other => panic!("expected a conflict: {other:?}"),
    }
    assert_eq!(recurrences_with(&c, "dup-2").await, 1);
}

#[tokio::test]
async fn cryptomus_create_without_order_id_is_never_sent_twice() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = CryptomusClient::new(cryptomus_config(&sim)).unwrap();
    sim.inject_fault(Fault::apply_then_502(CREATE));
    let err = c
        .create_recurrence(&CreateRecurrence::new(usd("15"), "Gold plan", Period::Monthly))
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent() && err.is_retryable(), "{err}");
    assert_eq!(sim.requests_to(CREATE), 1, "no reference, no retry");
}

// -------------------------------------------------------------------------------------------
// Recurrente

const POST_CHECKOUTS: &str = "POST /api/checkouts";
const LIST_CHECKOUTS: &str = "GET /api/checkouts";
const REFERENCE_KEY: &str = "paycycle_reference";

fn recurrente_config(sim: &Simulator) -> RecurrenteConfig {
    RecurrenteConfig::builder()
        .public_key(sim.recurrente_public_key())
        .secret_key(sim.recurrente_secret_key())
        .base_url(sim.base_url())
        .timeout(TIMEOUT)
        .build()
        .unwrap()
}

fn gtq(s: &str) -> Money {
    Money::parse(s, Currency::GTQ).unwrap()
}

async fn checkouts_with(c: &RecurrenteClient, reference: &str) -> Vec<String> {
    let all: Vec<_> = c.all_checkouts(ListCheckouts::new()).try_collect().await.unwrap();
    all.into_iter()
        .filter(|co| co.metadata_str(REFERENCE_KEY) == Some(reference))
        .map(|co| co.id)
        .collect()
}

#[tokio::test]
async fn recurrente_gateway_checkout_with_a_lost_answer_is_found_by_its_reference() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let g = RecurrenteGateway::new(&recurrente_config(&sim)).unwrap();
    let c = RecurrenteClient::new(&recurrente_config(&sim)).unwrap();
    let plan = RecurringPlan::builder("Membresía Gold", gtq("50.00"), Interval::monthly())
        .build()
        .unwrap();
    for (i, (what, fault)) in lost_answers("/api/checkouts").into_iter().enumerate() {
        let reference = format!("order-{i}");
        sim.clear_faults();
        sim.inject_fault(fault);
        let checkout = g
            .create_checkout(&CheckoutRequest::new(plan.clone()).merchant_reference(&reference))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(sim.requests_to(POST_CHECKOUTS), 1, "{what}: found, not created again");
        assert_eq!(
            sim.requests_to(LIST_CHECKOUTS),
            1,
            "{what}: one page of recent checkouts read"
        );
        assert_eq!(
            checkouts_with(&c, &reference).await,
            [checkout.id.as_str().to_owned()],
            "{what}: exactly one checkout, the one returned"
        );
    }
}

#[tokio::test]
async fn recurrente_checkout_that_never_arrived_is_created_once_more() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = RecurrenteClient::new(&recurrente_config(&sim)).unwrap();
    let item = CustomItem::new("Banana", gtq("10"));
    for (i, (what, fault)) in [
        ("reset before any byte", Fault::reset("/api/checkouts")),
        ("slow answer past the timeout", Fault::delay("/api/checkouts", SLOW)),
        ("502 without applying", Fault::html("/api/checkouts", 502)),
    ]
    .into_iter()
    .enumerate()
    {
        let reference = format!("ref-{i}");
        sim.clear_faults();
        sim.inject_fault(fault);
        let req = CreateCheckout::new([item.clone().into()]).metadata(REFERENCE_KEY, &reference);
        let created = c.create_checkout(&req).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(checkouts_with(&c, &reference).await, [created.id], "{what}");
        assert_eq!(
            sim.requests_to(POST_CHECKOUTS),
            2,
            "{what}: not found, so created once more"
        );
    }
}

#[tokio::test]
async fn recurrente_checkout_without_a_reference_is_sent_once() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = RecurrenteClient::new(&recurrente_config(&sim)).unwrap();
    sim.inject_fault(Fault::apply_then_reset("/api/checkouts"));
    let item = CustomItem::new("Banana", gtq("10"));
    let err = c
        .create_checkout(&CreateCheckout::new([item.into()]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                may_have_been_sent: true,
                ..
            }
        ),
        "the typed 'may have been sent' error: {err:?}"
    );
    assert_eq!(sim.requests_to(POST_CHECKOUTS), 1);
    assert_eq!(sim.requests_to(LIST_CHECKOUTS), 0);
}
