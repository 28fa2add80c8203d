//! The quickstart's story, asserted: the same app code the example prints, run on the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use paycycle_core::chrono::{TimeZone, Utc};
use paycycle_core::{CancelledBy, Currency, EventKind, Money, RecurringGateway, SubscriptionStatus};
use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
use paycycle_examples::{CryptomusSimDriver, WebhookInbox, sell_monthly_plan};
use paycycle_sim::{SimConfig, Simulator};

#[tokio::test]
async fn cryptomus_story_bills_intro_then_full_price_and_cancels() {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
    let sim = Arc::new(Simulator::start(SimConfig::default().start(start)).await.unwrap());
    let config = CryptomusConfig::builder()
        .merchant_id(sim.cryptomus_merchant_id())
        .payment_key(sim.cryptomus_payment_key().to_owned())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let gw: Arc<dyn RecurringGateway> = Arc::new(CryptomusGateway::new(config).unwrap());
    let inbox = WebhookInbox::start([gw.clone()]).await.unwrap();
    let driver = CryptomusSimDriver { sim: sim.clone() };

    let story = sell_monthly_plan(&gw, &driver, &inbox, 3).await.unwrap();

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
    assert!(inbox.rejected().is_empty(), "{:?}", inbox.rejected());
    let rendered = story.timeline.render("t");
    assert!(
        rendered.contains("renewal 3") && rendered.contains("day  90"),
        "{rendered}"
    );
}
