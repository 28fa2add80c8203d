//! The quickstart's story, asserted: the same app code the example prints, run on the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use paycycle_core::chrono::{TimeZone, Utc};
use paycycle_core::{CancelledBy, Currency, EventKind, Money, SubscriptionStatus};
use paycycle_examples::{SimHarness, sell_monthly_plan};
use paycycle_sim::{SimConfig, Simulator};

#[tokio::test]
async fn cryptomus_story_bills_intro_then_full_price_and_cancels() {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
    let sim = Arc::new(Simulator::start(SimConfig::default().start(start)).await.unwrap());
    let h = SimHarness::cryptomus(sim.clone()).await.unwrap();

    let story = sell_monthly_plan(&h, 3).await.unwrap();

    assert_eq!(
        story.statuses,
        vec![
            SubscriptionStatus::Pending,
            SubscriptionStatus::Active,
            SubscriptionStatus::Active,
            SubscriptionStatus::Active,
            SubscriptionStatus::Active,
            SubscriptionStatus::Cancelled {
                by: CancelledBy::Merchant
            },
        ]
    );
    let kinds: Vec<EventKind> = story.events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::SubscriptionStarted,
            EventKind::PaymentSucceeded,
            EventKind::PaymentSucceeded,
            EventKind::PaymentSucceeded,
            EventKind::PaymentSucceeded,
            EventKind::SubscriptionCancelled,
        ]
    );
    let amounts: Vec<Money> = story
        .events
        .iter()
        .filter_map(|e| e.payment.as_ref().and_then(|p| p.amount))
        .collect();
    let usdt = |s| Money::parse(s, Currency::USDT).unwrap();
    assert_eq!(
        amounts,
        vec![usdt("1"), usdt("15"), usdt("15"), usdt("15")],
        "intro price first, then full price"
    );
    assert!(
        story
            .events
            .iter()
            .all(|e| e.merchant_reference.as_deref() == Some("order-cryptomus"))
    );
    assert_all_accepted(&h);
    assert_ledger_followed(&h, &story, "cryptomus").await;
    let rendered = story.timeline.render("t");
    assert!(
        rendered.contains("renewal 3") && rendered.contains("day  90"),
        "{rendered}"
    );
}

#[tokio::test]
async fn recurrente_story_registers_its_endpoint_bills_each_period_and_cancels() {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
    let sim = Arc::new(Simulator::start(SimConfig::default().start(start)).await.unwrap());
    let h = SimHarness::recurrente(sim.clone()).await.unwrap();

    let story = sell_monthly_plan(&h, 3).await.unwrap();

    assert_eq!(story.statuses.first(), Some(&SubscriptionStatus::Pending));
    assert_eq!(
        story.statuses[1..5],
        [
            SubscriptionStatus::Active,
            SubscriptionStatus::Active,
            SubscriptionStatus::Active,
            SubscriptionStatus::Active
        ]
    );
    assert_eq!(
        story.statuses.last(),
        Some(&SubscriptionStatus::Cancelled {
            by: CancelledBy::Merchant
        })
    );
    assert!(
        story.subscription_id.as_str().starts_with("su_"),
        "{}",
        story.subscription_id
    );
    assert!(story.checkout.id.as_str().starts_with("ch_"));
    let gtq = |s| Money::parse(s, Currency::GTQ).unwrap();
    let amounts: Vec<Money> = story
        .events
        .iter()
        .filter_map(|e| e.payment.as_ref().and_then(|p| p.amount))
        .collect();
    assert_eq!(
        amounts,
        vec![gtq("15"); 4],
        "no intro offer on Recurrente: full price from the start"
    );
    let kinds: Vec<EventKind> = story.events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::SubscriptionStarted).count(),
        1
    );
    assert_eq!(kinds.last(), Some(&EventKind::SubscriptionCancelled));
    // Svix ids are the event ids; every delivery verified with the secret the API returned.
    assert!(
        story.events.iter().all(|e| e.id.as_str().starts_with("msg_")),
        "{:?}",
        story.events[0].id
    );
    assert_all_accepted(&h);
    assert_ledger_followed(&h, &story, "recurrente").await;
    let table = paycycle_examples::side_by_side(&[("R", &story)]);
    assert!(
        table.contains("renewal 3") && table.contains("paid 15.00 GTQ"),
        "{table}"
    );
}

/// Every webhook the simulator sent was accepted by the app's ledger route (2xx).
fn assert_all_accepted(h: &paycycle_examples::SimHarness) {
    let refused: Vec<_> = h
        .sim()
        .deliveries()
        .into_iter()
        .filter(|d| !matches!(d.outcome, paycycle_sim::DeliveryOutcome::Delivered { status } if (200..300).contains(&status)))
        .map(|d| (d.event, d.outcome))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

/// The ledger behind the endpoint followed the story: the subscription as the gateway says, one
/// payment per charge, no access left once the cancelled period is over.
async fn assert_ledger_followed(
    h: &paycycle_examples::SimHarness,
    story: &paycycle_examples::StoryOutcome,
    gateway: &str,
) {
    let ledger = h.ledger();
    let local = ledger
        .subscription(gateway, &story.subscription_id)
        .await
        .unwrap()
        .expect("the ledger has the subscription");
    let remote = h.sim_gateway().subscription(&story.subscription_id).await.unwrap();
    assert_eq!(local.status, remote.status);
    assert!(local.status.is_terminal());
    let charges = story
        .events
        .iter()
        .filter(|e| e.kind == paycycle_core::EventKind::PaymentSucceeded)
        .count();
    assert_eq!(ledger.payments(Some(gateway)).await.unwrap().len(), charges);
    let reference = format!("order-{gateway}");
    let later = h.sim().now() + paycycle_core::chrono::Duration::days(62);
    assert!(!ledger.access(&reference, later).await.unwrap().granted);
    assert!(ledger.parked().await.unwrap().is_empty());
}
