//! The in-memory fake gateway through the shared trait, as an app's tests would use it.
#![cfg(feature = "fake")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Duration;
use futures::TryStreamExt;
use paycycle_core::*;
use paycycle_sim::fake::{FakeGateway, Mimic};

fn plan(cur: Currency) -> RecurringPlan {
    RecurringPlan::builder("Gold", Money::parse("50", cur).unwrap(), Interval::monthly())
        .build()
        .unwrap()
}

fn kinds(fake: &FakeGateway) -> Vec<EventKind> {
    fake.events().unwrap().into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn a_subscription_lives_pays_and_ends_with_deterministic_ids() {
    let fake = FakeGateway::new(Mimic::Recurrente);
    let c = fake
        .create_checkout(&CheckoutRequest::new(plan(Currency::GTQ)).merchant_reference("order-1"))
        .await
        .unwrap();
    assert_eq!(c.id.as_str(), "fake_ch_000001");
    assert_eq!(c.status, SubscriptionStatus::Pending);
    assert_eq!(c.subscription_id, None, "no subscription until the payer pays");
    assert!(fake.events().unwrap().is_empty());

    fake.pay(&c.id).unwrap();
    let c = fake.checkout(&c.id).await.unwrap();
    assert_eq!(c.status, SubscriptionStatus::Active);
    let sid = c.subscription_id.unwrap();
    assert_eq!(sid.as_str(), "fake_su_000001");
    assert_eq!(
        kinds(&fake),
        [EventKind::SubscriptionStarted, EventKind::PaymentSucceeded]
    );

    fake.advance(Duration::days(31 + 28 + 31)).unwrap();
    let events = fake.events().unwrap();
    let paid: Vec<Money> = events
        .iter()
        .filter(|e| e.kind == EventKind::PaymentSucceeded)
        .filter_map(|e| e.payment.as_ref().and_then(|p| p.amount))
        .collect();
    assert_eq!(
        paid,
        vec![Money::parse("50", Currency::GTQ).unwrap(); 4],
        "first charge + 3 renewals"
    );
    assert!(
        events
            .iter()
            .all(|e| e.merchant_reference.as_deref() == Some("order-1"))
    );
    assert!(
        events
            .iter()
            .all(|e| e.checkout_id.as_ref().map(CheckoutId::as_str) == Some("fake_ch_000001"))
    );
    assert_eq!(events[0].id.as_str(), "evt_000001");

    let s = fake.cancel_subscription(&sid).await.unwrap();
    assert_eq!(
        s.status,
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Merchant
        }
    );
    assert_eq!(kinds(&fake).last(), Some(&EventKind::SubscriptionCancelled));
    assert!(matches!(
        fake.cancel_subscription(&sid).await,
        Err(Error::Rejected { .. })
    ));
    assert!(matches!(
        fake.subscription(&SubscriptionId::new("nope")).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn capabilities_mimic_the_providers() {
    let with_trial = |cur| {
        let mut p = plan(cur);
        p.trial = Some(Interval::weekly());
        CheckoutRequest::new(p)
    };
    let with_intro = |cur| {
        let p = RecurringPlan::builder("Gold", Money::parse("50", cur).unwrap(), Interval::monthly())
            .intro_offer(Money::parse("1", cur).unwrap(), 30)
            .build()
            .unwrap();
        CheckoutRequest::new(p)
    };
    let crypto = FakeGateway::new(Mimic::Cryptomus);
    assert!(matches!(
        crypto.create_checkout(&with_trial(Currency::USDT)).await,
        Err(Error::Unsupported { .. })
    ));
    assert!(crypto.create_checkout(&with_intro(Currency::USDT)).await.is_ok());
    let cards = FakeGateway::new(Mimic::Recurrente);
    assert!(cards.create_checkout(&with_trial(Currency::GTQ)).await.is_ok());
    assert!(matches!(
        cards.create_checkout(&with_intro(Currency::GTQ)).await,
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        cards.create_checkout(&CheckoutRequest::new(plan(Currency::USDT))).await,
        Err(Error::Unsupported { .. })
    ));
    let all = FakeGateway::new(Mimic::All);
    assert!(all.create_checkout(&with_trial(Currency::GTQ)).await.is_ok());
    assert!(all.create_checkout(&with_intro(Currency::GTQ)).await.is_ok());
    let none = FakeGateway::new(Mimic::All).with_capabilities(Capabilities::none());
    assert!(matches!(
        none.create_checkout(&CheckoutRequest::new(plan(Currency::GTQ))).await,
        Err(Error::Unsupported { .. })
    ));
}

#[tokio::test]
async fn intro_price_then_full_price() {
    let fake = FakeGateway::new(Mimic::Cryptomus);
    let p = RecurringPlan::builder("Pro", Money::parse("15", Currency::USDT).unwrap(), Interval::monthly())
        .intro_offer(Money::parse("1", Currency::USDT).unwrap(), 30)
        .build()
        .unwrap();
    let c = fake.create_checkout(&CheckoutRequest::new(p)).await.unwrap();
    fake.pay(&c.id).unwrap();
    fake.advance(Duration::days(31)).unwrap();
    let paid: Vec<String> = fake
        .events()
        .unwrap()
        .into_iter()
        .filter_map(|e| e.payment.and_then(|p| p.amount))
        .map(|m| m.to_string())
        .collect();
    assert_eq!(paid, ["1 USDT", "15 USDT"]);
}

#[tokio::test]
async fn failed_renewals_go_past_due_then_cancel_like_recurrente() {
    let fake = FakeGateway::new(Mimic::Recurrente);
    let c = fake
        .create_checkout(&CheckoutRequest::new(plan(Currency::GTQ)))
        .await
        .unwrap();
    fake.pay(&c.id).unwrap();
    let sid = fake.checkout(&c.id).await.unwrap().subscription_id.unwrap();
    fake.fail_next_charges(&sid, 3).unwrap();
    fake.advance(Duration::days(31)).unwrap();
    assert_eq!(
        fake.subscription(&sid).await.unwrap().status,
        SubscriptionStatus::PastDue
    );
    fake.advance(Duration::days(10)).unwrap();
    let status = fake.subscription(&sid).await.unwrap().status;
    assert_eq!(
        status,
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Gateway
        }
    );
    let k = kinds(&fake);
    assert_eq!(k.iter().filter(|k| **k == EventKind::PaymentFailed).count(), 3, "{k:?}");
    assert!(k.contains(&EventKind::SubscriptionPastDue));
    assert_eq!(k.last(), Some(&EventKind::SubscriptionCancelled));
}

#[tokio::test]
async fn a_trial_saves_the_card_then_charges_when_it_ends() {
    let fake = FakeGateway::new(Mimic::Recurrente);
    let mut p = plan(Currency::GTQ);
    p.trial = Some(Interval::weekly());
    let c = fake.create_checkout(&CheckoutRequest::new(p)).await.unwrap();
    fake.pay(&c.id).unwrap();
    assert_eq!(kinds(&fake), [EventKind::SetupSucceeded]);
    fake.advance(Duration::days(7)).unwrap();
    assert!(kinds(&fake).contains(&EventKind::PaymentSucceeded));
}

#[tokio::test]
async fn declined_and_tampered() {
    let fake = FakeGateway::new(Mimic::All);
    let c = fake
        .create_checkout(&CheckoutRequest::new(plan(Currency::GTQ)))
        .await
        .unwrap();
    fake.decline(&c.id).unwrap();
    assert!(fake.checkout(&c.id).await.unwrap().status.is_terminal());
    assert!(fake.pay(&c.id).is_err(), "a declined checkout cannot be paid");

    let c = fake
        .create_checkout(&CheckoutRequest::new(plan(Currency::GTQ)))
        .await
        .unwrap();
    fake.pay(&c.id).unwrap();
    let w = fake.webhooks().pop().unwrap();
    fake.verify_webhook(&w.headers, &w.body).unwrap();
    for i in 0..w.body.len() {
        let mut body = w.body.clone();
        body[i] ^= 0x01;
        assert!(fake.verify_webhook(&w.headers, &body).is_err(), "byte {i}");
    }
    assert!(matches!(
        fake.verify_webhook(&http::HeaderMap::new(), &w.body),
        Err(Error::Webhook {
            reason: WebhookError::MissingHeader(_),
            ..
        })
    ));
}

#[tokio::test]
async fn the_stream_lists_every_started_subscription_once() {
    let fake = FakeGateway::new(Mimic::All);
    for _ in 0..250 {
        let c = fake
            .create_checkout(&CheckoutRequest::new(plan(Currency::GTQ)))
            .await
            .unwrap();
        fake.pay(&c.id).unwrap();
    }
    let first = fake.subscriptions(PageRequest::default()).await.unwrap();
    assert_eq!(first.items.len(), 100);
    let all: Vec<Subscription> = fake.all_subscriptions().try_collect().await.unwrap();
    assert_eq!(all.len(), 250);
    let mut ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 250);
}
