//! Recurrente's lifecycle over real HTTP: the payer's actions, renewals on the virtual clock,
//! failed charges and retries, trials, auto-cancel, merchant cancel, and Svix-signed webhooks
//! verified with the Recurrente client's verifier.
//!
//! These follow the reference's (legacy) events and their shapes, so the simulators here send
//! the legacy payment events only; the unified `intent.*` events sent beside them by default
//! are tested in `recurrente_today_sim.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use common::recurrente::*;
use paycycle_core::{EventKind, SubscriptionStatus, WebhookError};
use paycycle_recurrente::webhook::RecurrenteWebhookVerifier;
use paycycle_sim::{DeliveryOutcome, DeliveryPolicy, RecurrenteOutcome, Simulator};
use serde_json::{Value, json};

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

async fn pay(sim: &Simulator, checkout_id: &str, outcome: &str) -> Answer {
    control(
        sim,
        &format!("/__sim/recurrente/checkouts/{checkout_id}/pay"),
        json!({ "outcome": outcome }),
    )
    .await
}

async fn setup() -> (Simulator, Hooks) {
    let hook = hooks(0).await;
    let sim = legacy_sim_with_hook(&hook.url).await;
    (sim, hook)
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["event_type"].as_str().unwrap()).collect()
}

/// Extras the simulator adds to the reference's event examples: `checkout` (with its
/// metadata, for correlation) on subscription and setup events; the full checkout on failed
/// payments; `live_mode` (test-mode events carry `live_mode: false`) on every event.
const EVENT_EXTRAS: &[&str] = &[
    "checkout",
    "live_mode",
    "status",
    "payment",
    "payment_method",
    "transfer_setups",
    "metadata",
];

/// Extras on `bank_transfer_intent.*` beyond the reference's examples: `live_mode`, and the
/// newer `bank_reference` and `sender_comment` (null until the transfer settles).
const BANK_EXTRAS: &[&str] = &["live_mode", "bank_reference", "sender_comment"];

#[tokio::test]
async fn card_payment_starts_a_subscription_that_renews_every_month() {
    let (sim, hook) = setup().await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let r = pay(&sim, &ch, "card_success").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let su = r.json["subscription_id"].as_str().unwrap().to_owned();
    assert!(su.starts_with("su_"));
    assert_eq!(r.json["checkout_status"], "paid");
    assert_eq!(r.json["checkout"]["status"], "paid");
    assert_eq!(r.json["subscription"]["status"], "active");
    assert_eq!(
        r.json["checkout"]["payment"]["paymentable"],
        json!({"type": "Subscription", "id": su, "tax_name": null, "tax_id": null})
    );
    let pm = r.json["payment_method_id"].as_str().unwrap();
    assert!(pm.starts_with("pay_m_"));
    assert_eq!(
        r.json["checkout"]["payment_method"],
        json!({"id": pm, "type": "card", "card": {"last4": "4242", "network": "visa"}})
    );
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(types(&events), ["payment_intent.succeeded", "subscription.create"]);

    let paid = &events[0];
    assert_shape(paid, &fixture("event_payment_intent_succeeded.json"), &["live_mode"]);
    assert_eq!(paid["amount_in_cents"], 5000);
    assert_eq!(paid["currency"], "GTQ");
    assert_eq!(paid["fee"], 225);
    assert_eq!(paid["created_at"], "2026-01-10T09:00:00.000Z");
    assert_eq!(paid["api_version"], "2024-04-24");
    assert_eq!(paid["checkout"]["id"], ch);
    assert_eq!(paid["checkout"]["status"], "paid");
    assert_eq!(
        paid["checkout"]["metadata"],
        json!({"paycycle_reference": "order-42", "plan": "gold"})
    );
    assert_eq!(paid["payment"]["paymentable"]["type"], "Subscription");
    assert_eq!(paid["payment"]["paymentable"]["id"], su);
    assert_eq!(paid["customer"]["email"], "payer@example.com");
    assert!(paid["invoice"]["id"].as_str().unwrap().starts_with("inv_"));
    let created = &events[1];
    assert_shape(
        created,
        &fixture("event_subscription_create.json"),
        &["checkout", "live_mode"],
    );
    assert_eq!(created["id"], su);
    assert_eq!(created["customer_email"], "payer@example.com");
    assert_eq!(created["customer_name"], "Test Payer");
    assert_eq!(created["product"]["prices"][0]["amount_in_cents"], 5000);
    assert_eq!(created["payment"]["id"], paid["id"]);
    assert_eq!(created["checkout"]["metadata"]["paycycle_reference"], "order-42");

    // The Recurrente client's verifier accepts them and maps them.
    let verified = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(verified[0].kind, EventKind::PaymentSucceeded);
    assert_eq!(verified[0].merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(verified[0].subscription_id.as_ref().unwrap().as_str(), su);
    assert_eq!(
        verified[0].payment.as_ref().unwrap().amount.unwrap().to_string(),
        "50.00 GTQ"
    );
    assert_eq!(verified[1].kind, EventKind::SubscriptionStarted);
    assert_eq!(verified[1].subscription_status, Some(SubscriptionStatus::Active));

    // Three renewals, on calendar months, with their amounts.
    for d in [31, 28, 31] {
        sim.advance(days(d)).unwrap();
    }
    sim.flush_webhooks().await;
    let events = hook.events();
    let renewals = &events[2..];
    assert_eq!(types(renewals), ["payment_intent.succeeded"; 3]);
    let times: Vec<_> = renewals.iter().map(|e| e["created_at"].clone()).collect();
    assert_eq!(
        times,
        [
            json!("2026-02-10T09:00:00.000Z"),
            json!("2026-03-10T09:00:00.000Z"),
            json!("2026-04-10T09:00:00.000Z")
        ]
    );
    let mut ids = HashSet::new();
    for e in renewals {
        assert_eq!(e["amount_in_cents"], 5000);
        assert_eq!(e["payment"]["paymentable"]["id"], su);
        assert_eq!(
            e["checkout"]["payment"]["id"], events[0]["id"],
            "the checkout keeps its first payment"
        );
        assert!(ids.insert(e["id"].as_str().unwrap().to_owned()), "one payment each");
    }
    let sub = get(&sim, &format!("/api/subscriptions/{su}")).await.json;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["current_period_start"], "2026-04-10T03:00:00.000-06:00");
    assert_eq!(sub["current_period_end"], "2026-05-10T03:00:00.000-06:00");
    assert_eq!(sub["updated_at"], "2026-04-10T03:00:00.000-06:00");
    // The renewal payments take invoices too.
    let last = renewals[2]["id"].as_str().unwrap();
    let r = patch(
        &sim,
        &format!("/api/payment_intents/{last}"),
        json!({"payment_intent": {"tax_invoice_url": "https://example.com/f/3"}}),
    )
    .await;
    assert_eq!(r.json["payment"]["paymentable"]["id"], su);
    sim.shutdown().await;
}

#[tokio::test]
async fn one_time_checkouts_make_one_time_payments() {
    let (sim, hook) = setup().await;
    let ch = checkout(&sim, items_example()).await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let on = a.one_time_payment_id.clone().unwrap();
    assert!(on.starts_with("on_"));
    assert!(a.subscription_id.is_none());
    assert_eq!(a.checkout_status, "paid");
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(types(&events), ["payment_intent.succeeded"]);
    assert_shape(
        &events[0],
        &fixture("event_payment_intent_succeeded.json"),
        &["live_mode"],
    );
    assert_eq!(events[0]["payment"]["paymentable"]["type"], "OneTimePayment");
    assert_eq!(events[0]["payment"]["paymentable"]["id"], on);
    assert_eq!(events[0]["amount_in_cents"], 3000);
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[0].subscription_id, None);
    assert_eq!(v[0].checkout_id.as_ref().unwrap().as_str(), ch);
    // Nothing renews.
    assert!(sim.advance(days(400)).unwrap().transitions.is_empty());
    assert_eq!(get(&sim, "/api/subscriptions").await.json, json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_declined_card_leaves_the_checkout_unpaid_and_the_payer_can_try_again() {
    let (sim, hook) = setup().await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let r = pay(&sim, &ch, "card_declined").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["checkout_status"], "unpaid");
    assert_eq!(r.json["payment_method_id"], Value::Null);
    let failed_su = r.json["subscription_id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["subscription"]["status"], "unable_to_start");
    let c = get(&sim, &format!("/api/checkouts/{ch}")).await.json;
    assert_eq!(c["status"], "unpaid");
    assert_eq!(c["payment"], Value::Null);
    assert_eq!(c["latest_intent"]["type"], "PaymentIntent");
    assert!(c["latest_intent"]["data"]["failure_reason"].is_string());

    let r = pay(&sim, &ch, "card_success").await;
    assert_eq!(r.json["checkout_status"], "paid");
    let su = r.json["subscription_id"].as_str().unwrap().to_owned();
    assert_ne!(su, failed_su);
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(
        types(&events),
        [
            "payment_intent.failed",
            "payment_intent.succeeded",
            "subscription.create"
        ]
    );
    let failed = &events[0];
    assert_shape(failed, &fixture("event_payment_intent_failed.json"), EVENT_EXTRAS);
    assert_eq!(
        failed["failure_reason"],
        "Tu banco ha rechazado la transacción. Llama a tu banco y pide que autoricen esta transacción."
    );
    assert_eq!(failed["fee"], 0);
    assert_eq!(failed["checkout"]["status"], "unpaid");
    assert_eq!(failed["payment"]["paymentable"]["id"], failed_su);
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[0].kind, EventKind::PaymentFailed);
    assert!(v[0].payment.as_ref().unwrap().failure_reason.is_some());
    let list = get(&sim, "/api/subscriptions").await.json;
    let statuses: Vec<_> = list.as_array().unwrap().iter().map(|s| s["status"].clone()).collect();
    assert_eq!(statuses, [json!("active"), json!("unable_to_start")]);
    sim.shutdown().await;
}

#[tokio::test]
async fn bank_transfer_settled_starts_the_subscription() {
    let (sim, hook) = setup().await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 10_000, "month")).await;
    let r = pay(&sim, &ch, "bank_transfer_pending").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["checkout_status"], "payment_in_progress");
    let ba = r.json["bank_transfer_intent_id"].as_str().unwrap().to_owned();
    let su = r.json["subscription_id"].as_str().unwrap().to_owned();
    assert!(ba.starts_with("ba_"));
    // Not a subscription until the money arrives.
    assert_eq!(get(&sim, &format!("/api/subscriptions/{su}")).await.status, 404);
    assert_eq!(r.json["subscription"], Value::Null);
    // Paying again while the transfer is pending is refused.
    assert_eq!(pay(&sim, &ch, "card_success").await.status, 409);

    let r = control(
        &sim,
        &format!("/__sim/recurrente/bank_transfers/{ba}/settle"),
        json!({"succeeded": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["checkout_status"], "paid");
    assert_eq!(r.json["subscription"]["status"], "active");
    assert_eq!(r.json["checkout"]["payment_method"]["type"], "bank_transfer_receiver");
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(
        types(&events),
        [
            "bank_transfer_intent.pending",
            "bank_transfer_intent.succeeded",
            "subscription.create"
        ]
    );
    assert_shape(
        &events[0],
        &fixture("event_bank_transfer_intent_pending.json"),
        BANK_EXTRAS,
    );
    assert_shape(
        &events[1],
        &fixture("event_bank_transfer_intent_succeeded.json"),
        BANK_EXTRAS,
    );
    assert_eq!(events[0]["id"], ba);
    assert_eq!(events[0]["bank_reference"], Value::Null, "pending: no reference yet");
    assert_eq!(events[0]["sender_comment"], Value::Null);
    assert!(events[1]["bank_reference"].as_str().is_some_and(|r| r.len() == 9));
    assert_eq!(events[0]["checkout"]["status"], "payment_in_progress");
    assert_eq!(events[0]["payment"]["paymentable"]["id"], su);
    assert_eq!(events[1]["checkout"]["status"], "paid");
    assert_eq!(
        events[1]["checkout"]["payment_method"]["bank_transfer_receiver"],
        json!({})
    );
    assert_eq!(events[1]["amount_in_cents"], 10_000);
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[0].kind, EventKind::PaymentPending);
    assert_eq!(v[1].kind, EventKind::PaymentSucceeded);
    // Settling twice is refused.
    let again = control(
        &sim,
        &format!("/__sim/recurrente/bank_transfers/{ba}/settle"),
        json!({"succeeded": true}),
    )
    .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json["error"], "refused");
    // Renewals are card-like payment intents.
    sim.advance(days(31)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(hook.types().last().unwrap(), "payment_intent.succeeded");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_bank_transfer_returns_the_checkout_to_unpaid() {
    let (sim, hook) = setup().await;
    let ch = checkout(&sim, items_example()).await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).unwrap();
    assert_eq!(a.checkout_status, "payment_in_progress");
    let c = sim.recurrente_checkout(&ch).unwrap();
    assert_eq!(c["latest_intent"]["type"], "BankTransferIntent");
    // Settled by its payment id this time.
    let s = sim
        .recurrente_settle_bank_transfer(&a.payment_intent_id, false)
        .unwrap();
    assert_eq!(s.checkout_status, "unpaid");
    let c = sim.recurrente_checkout(&ch).unwrap();
    assert_eq!(
        (c["status"].clone(), c["payment"].clone()),
        (json!("unpaid"), Value::Null)
    );
    assert!(sim.recurrente_settle_bank_transfer(&a.payment_intent_id, true).is_err());
    // The payer pays by card instead.
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(
        types(&events),
        [
            "bank_transfer_intent.pending",
            "bank_transfer_intent.failed",
            "payment_intent.succeeded"
        ]
    );
    assert_shape(
        &events[1],
        &fixture("event_bank_transfer_intent_failed.json"),
        BANK_EXTRAS,
    );
    assert_eq!(events[1]["checkout"]["status"], "unpaid");
    assert_eq!(
        events[1]["bank_reference"],
        Value::Null,
        "a failed transfer has no reference"
    );
    assert_eq!(events[1]["payment"]["paymentable"]["type"], "OneTimePayment");
    assert_eq!(
        hook.verify(sim.recurrente_webhook_secret())[1].kind,
        EventKind::PaymentFailed
    );

    // A recurring checkout whose transfer fails never starts its subscription.
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).unwrap();
    let bank = a.bank_transfer_intent_id.clone().unwrap();
    sim.recurrente_settle_bank_transfer(&bank, false).unwrap();
    let su = a.subscription_id.unwrap();
    assert_eq!(sim.recurrente_subscription(&su).unwrap()["status"], "unable_to_start");
    assert_eq!(sim.recurrente_checkout(&ch).unwrap()["status"], "unpaid");

    // The engine-level `fail_next_charges` on a transfer's subscription fails the transfer too.
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).unwrap();
    let su = a.subscription_id.unwrap();
    sim.fail_next_charges(&su, 1).unwrap();
    let s = sim.recurrente_settle_bank_transfer(&a.payment_intent_id, true).unwrap();
    assert_eq!(s.checkout_status, "unpaid");
    assert_eq!(sim.recurrente_subscription(&su).unwrap()["status"], "unable_to_start");
    sim.flush_webhooks().await;
    assert_eq!(hook.types().last().unwrap(), "bank_transfer_intent.failed");
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_renewal_goes_past_due_and_recovers_on_the_first_retry() {
    let (sim, hook) = setup().await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    let r = control(
        &sim,
        &format!("/__sim/recurrente/subscriptions/{su}/fail_next_charge"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["failures_pending"], 1);

    sim.advance(days(31)).unwrap();
    assert_eq!(sim.recurrente_subscription(&su).unwrap()["status"], "past_due");
    let sub = get(&sim, &format!("/api/subscriptions/{su}")).await.json;
    assert_eq!(
        sub["current_period_start"], "2026-02-10T03:00:00.000-06:00",
        "the unpaid period"
    );
    sim.advance(days(2)).unwrap();
    sim.flush_webhooks().await;
    let before_retry = hook.types().len();
    sim.advance(days(1)).unwrap(); // 3 days after the due time
    assert_eq!(sim.recurrente_subscription(&su).unwrap()["status"], "active");
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(before_retry, 4, "nothing between the failure and the retry");
    assert_eq!(
        types(&events[2..]),
        [
            "payment_intent.failed",
            "subscription.past_due",
            "payment_intent.succeeded"
        ]
    );
    assert_eq!(events[2]["created_at"], "2026-02-10T09:00:00.000Z");
    assert_eq!(events[4]["created_at"], "2026-02-13T09:00:00.000Z");
    assert_eq!(events[4]["amount_in_cents"], 5000);
    assert_ne!(events[2]["id"], events[4]["id"]);
    assert_shape(
        &events[3],
        &fixture("event_subscription_past_due.json"),
        &["checkout", "live_mode"],
    );
    assert_eq!(events[3]["payment"]["id"], events[2]["id"], "the failed payment");
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[3].kind, EventKind::SubscriptionPastDue);
    assert_eq!(v[3].subscription_status, Some(SubscriptionStatus::PastDue));
    // The next period is anchored on the schedule, not on the retry.
    let sub = get(&sim, &format!("/api/subscriptions/{su}")).await.json;
    assert_eq!(sub["current_period_end"], "2026-03-10T03:00:00.000-06:00");
    sim.shutdown().await;
}

#[tokio::test]
async fn two_failed_retries_cancel_the_subscription() {
    let (sim, hook) = setup().await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    sim.recurrente_fail_next_charge(&su, 3).unwrap();
    sim.advance(days(40)).unwrap();
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(
        types(&events[2..]),
        [
            "payment_intent.failed",
            "subscription.past_due",
            "payment_intent.failed",
            "payment_intent.failed",
            "subscription.cancel"
        ]
    );
    let at: Vec<_> = events[2..].iter().map(|e| e["created_at"].clone()).collect();
    assert_eq!(
        at,
        [
            json!("2026-02-10T09:00:00.000Z"),
            json!("2026-02-10T09:00:00.000Z"),
            json!("2026-02-13T09:00:00.000Z"),
            json!("2026-02-15T09:00:00.000Z"),
            json!("2026-02-15T09:00:00.000Z")
        ]
    );
    assert_shape(
        &events[6],
        &fixture("event_subscription_cancel.json"),
        &["checkout", "live_mode"],
    );
    assert_eq!(sim.recurrente_subscription(&su).unwrap()["status"], "cancelled");
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[6].kind, EventKind::SubscriptionCancelled);
    assert!(sim.advance(days(100)).unwrap().transitions.is_empty(), "nothing after");
    assert!(sim.recurrente_fail_next_charge(&su, 1).is_err(), "it has ended");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_free_trial_saves_the_card_and_charges_when_it_ends() {
    let (sim, hook) = setup().await;
    let mut item = recurring_item("Gold", 5000, "month");
    item["free_trial_interval"] = json!("week");
    item["free_trial_interval_count"] = json!(1);
    let ch = subscription_checkout(&sim, item.clone()).await;
    // A trial cannot start with a bank transfer.
    let r = pay(&sim, &ch, "bank_transfer_pending").await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = pay(&sim, &ch, "card_success").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let su = r.json["subscription_id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["checkout_status"], "paid");
    assert_eq!(r.json["subscription"]["status"], "active", "active in its trial");
    assert_eq!(
        r.json["subscription"]["current_period_end"],
        "2026-01-17T03:00:00.000-06:00"
    );
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(types(&events), ["setup_intent.succeeded", "subscription.create"]);
    assert_shape(
        &events[0],
        &fixture("event_setup_intent_succeeded.json"),
        &["checkout", "live_mode"],
    );
    assert_eq!(events[0]["suscription"], json!({"id": su}), "the reference's spelling");
    assert_eq!(events[0]["status"], "succeeded");
    assert_eq!(events[0]["created_at"], "2026-01-10T03:00:00.000-06:00");
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[0].kind, EventKind::SetupSucceeded);
    assert_eq!(v[0].subscription_id.as_ref().unwrap().as_str(), su);

    assert!(sim.advance(days(6)).unwrap().transitions.is_empty());
    sim.advance(days(1)).unwrap();
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(types(&events[2..]), ["payment_intent.succeeded"]);
    assert_eq!(events[2]["amount_in_cents"], 5000);
    assert_eq!(events[2]["created_at"], "2026-01-17T09:00:00.000Z");
    let sub = sim.recurrente_subscription(&su).unwrap();
    assert_eq!(sub["current_period_start"], "2026-01-17T03:00:00.000-06:00");
    assert_eq!(sub["current_period_end"], "2026-02-17T03:00:00.000-06:00");

    // A declined card at the start of a trial: the setup is cancelled, nothing starts.
    let ch = subscription_checkout(&sim, item).await;
    let r = pay(&sim, &ch, "card_declined").await;
    assert_eq!(r.json["checkout_status"], "unpaid");
    assert_eq!(r.json["subscription"]["status"], "unable_to_start");
    sim.flush_webhooks().await;
    let events = hook.events();
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "setup_intent.cancelled");
    assert_shape(
        last,
        &fixture("event_setup_intent_cancelled.json"),
        &["checkout", "live_mode"],
    );
    assert_eq!(last["status"], "cancelled");
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v.last().unwrap().kind, EventKind::SetupFailed);
    assert_eq!(v.last().unwrap().subscription_status, Some(SubscriptionStatus::Failed));
    sim.shutdown().await;
}

#[tokio::test]
async fn subscriptions_end_after_their_periods() {
    let (sim, hook) = setup().await;
    let mut item = recurring_item("Six weeks", 700, "week");
    item["periods_before_automatic_cancellation"] = json!(2);
    let ch = subscription_checkout(&sim, item).await;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    sim.advance(days(30)).unwrap();
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(
        types(&events),
        [
            "payment_intent.succeeded",
            "subscription.create",
            "payment_intent.succeeded",
            "subscription.cancel"
        ]
    );
    assert_eq!(events[2]["created_at"], "2026-01-17T09:00:00.000Z");
    assert_eq!(events[3]["created_at"], "2026-01-24T09:00:00.000Z");
    assert_eq!(sim.recurrente_subscription(&su).unwrap()["status"], "cancelled");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_merchant_cancels_with_delete() {
    let (sim, hook) = setup().await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    sim.advance(days(3)).unwrap();
    let r = delete(&sim, &format!("/api/subscriptions/{su}")).await;
    assert_eq!(r.json, json!({"message": "Suscripción cancelada"}));
    assert!(sim.advance(days(100)).unwrap().transitions.is_empty());
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(
        types(&events),
        ["payment_intent.succeeded", "subscription.create", "subscription.cancel"]
    );
    assert_eq!(events[2]["created_at"], "2026-01-13T09:00:00.000Z");
    assert_eq!(events[2]["id"], su);
    sim.shutdown().await;
}

#[tokio::test]
async fn pause_and_resume() {
    // The legacy spelling, as the reference's example has it (today's default is
    // `subscription.pause`: see recurrente_today_sim.rs).
    let hook = hooks(0).await;
    let sim = Simulator::start(
        legacy_config()
            .recurrente_webhook_url(&hook.url)
            .recurrente_legacy_pause_event(true),
    )
    .await
    .unwrap();
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    let r = control(&sim, &format!("/__sim/recurrente/subscriptions/{su}/pause"), json!({})).await;
    assert_eq!(r.json["subscription"]["status"], "paused");
    assert!(sim.advance(days(45)).unwrap().transitions.is_empty());
    let r = control(&sim, &format!("/__sim/recurrente/subscriptions/{su}/resume"), json!({})).await;
    assert_eq!(r.json["subscription"]["status"], "active");
    sim.flush_webhooks().await;
    let events = hook.events();
    assert_eq!(types(&events[2..]), ["subscription.paused", "subscription.unpause"]);
    assert_shape(
        &events[2],
        &fixture("event_subscription_paused.json"),
        &["checkout", "live_mode"],
    );
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[2].kind, EventKind::SubscriptionPaused);
    assert_eq!(v[3].kind, EventKind::SubscriptionResumed);
    sim.shutdown().await;
}

#[tokio::test]
async fn every_endpoint_gets_every_event_signed_with_its_own_secret() {
    let (sim, config_hook) = setup().await;
    let (a, b) = (hooks(0).await, hooks(0).await);
    let ea = post(&sim, "/api/webhook_endpoints", json!({"url": a.url})).await.json;
    let eb = post(
        &sim,
        "/api/webhook_endpoints",
        json!({"url": b.url, "description": "b"}),
    )
    .await
    .json;
    let (sa, sb) = (
        ea["signingSecret"].as_str().unwrap().to_owned(),
        eb["signingSecret"].as_str().unwrap().to_owned(),
    );
    let ch = checkout(&sim, items_example()).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    for h in [&a, &b, &config_hook] {
        assert_eq!(h.types(), ["payment_intent.succeeded"]);
    }
    assert_eq!(a.verify(&sa).len(), 1);
    assert_eq!(b.verify(&sb).len(), 1);
    assert_eq!(config_hook.verify(sim.recurrente_webhook_secret()).len(), 1);
    let hit = &a.delivered()[0];
    let with_b = RecurrenteWebhookVerifier::new([&sb])
        .unwrap()
        .verify(&hit.headers, &hit.body);
    assert!(
        matches!(
            with_b,
            Err(paycycle_core::Error::Webhook {
                reason: WebhookError::BadSignature,
                ..
            })
        ),
        "{with_b:?}"
    );
    // One message id per event, the same at every endpoint.
    let id = hit.header("svix-id");
    assert!(id.starts_with("msg_"));
    assert_eq!(b.delivered()[0].header("svix-id"), id);
    assert_eq!(config_hook.delivered()[0].header("svix-id"), id);
    assert_eq!(a.delivered()[0].body, b.delivered()[0].body);

    // A disabled endpoint gets nothing until enabled again; a deleted one nothing at all.
    let ep_a = ea["id"].as_str().unwrap();
    let r = control(
        &sim,
        &format!("/__sim/recurrente/webhook_endpoints/{ep_a}/disable"),
        json!({}),
    )
    .await;
    assert_eq!(r.json["disabled"], true);
    assert_eq!(get(&sim, "/api/webhook_endpoints").await.json[1]["disabled"], true);
    delete(&sim, &format!("/api/webhook_endpoints/{}", eb["id"].as_str().unwrap())).await;
    let ch = checkout(&sim, items_example()).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardDeclined).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(a.types().len(), 1);
    assert_eq!(b.types().len(), 1);
    assert_eq!(config_hook.types().len(), 2);
    control(
        &sim,
        &format!("/__sim/recurrente/webhook_endpoints/{ep_a}/enable"),
        json!({}),
    )
    .await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(a.types().len(), 2);
    let ids: HashSet<_> = config_hook.delivered().iter().map(|h| h.header("svix-id")).collect();
    assert_eq!(ids.len(), 3, "every event has its own id");
    sim.shutdown().await;
}

#[tokio::test]
async fn retries_keep_the_message_id_and_sign_each_attempt_with_the_real_time() {
    let hook = hooks(2).await;
    let config = legacy_config().recurrente_webhook_url(&hook.url).delivery(
        DeliveryPolicy::default()
            .max_attempts(4)
            .initial_backoff(Duration::from_millis(600)),
    );
    let sim = Simulator::start(config).await.unwrap();
    // A year in the virtual future: the signature's timestamp is still the real time.
    sim.advance(days(365)).unwrap();
    let ch = checkout(&sim, items_example()).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    let hits = hook.hits();
    assert_eq!(hits.iter().map(|h| h.answered).collect::<Vec<_>>(), [500, 500, 200]);
    let ids: HashSet<_> = hits.iter().map(|h| h.header("svix-id")).collect();
    assert_eq!(ids.len(), 1, "the same svix-id on every attempt");
    let verifier = RecurrenteWebhookVerifier::new([sim.recurrente_webhook_secret()]).unwrap();
    let now = Utc::now().timestamp();
    let mut stamps = Vec::new();
    for h in &hits {
        let m = verifier.verify(&h.headers, &h.body).unwrap();
        assert!(
            (now - m.timestamp.timestamp()).abs() < 60,
            "real time, not the virtual clock"
        );
        stamps.push(m.timestamp.timestamp());
    }
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        stamps[2] > stamps[0],
        "re-signed: the third attempt is more than a second later"
    );
    assert_ne!(hits[0].header("svix-signature"), hits[2].header("svix-signature"));
    // The payload keeps the virtual time.
    assert_eq!(hits[2].json()["created_at"], "2027-01-10T09:00:00.000Z");
    // A verifier on the virtual clock would refuse it: that is why the real time is used.
    let virtual_verifier = RecurrenteWebhookVerifier::new([sim.recurrente_webhook_secret()])
        .unwrap()
        .with_clock(sim.clock());
    assert!(sim.clock().now().timestamp() - now > 300);
    assert!(virtual_verifier.verify(&hits[2].headers, &hits[2].body).is_err());

    let log = sim.deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].attempts.len(), 3);
    assert_eq!(log[0].outcome, DeliveryOutcome::Delivered { status: 200 });
    assert_eq!(log[0].event, "payment_intent.succeeded");
    assert!(
        log[0]
            .headers
            .iter()
            .any(|(k, v)| k == "svix-id" && *v == hits[0].header("svix-id"))
    );
    assert!(!format!("{log:?}").contains(sim.recurrente_webhook_secret()));
    sim.shutdown().await;
}

#[tokio::test]
async fn connected_account_events_say_so() {
    let (sim, hook) = setup().await;
    let ch = checkout(
        &sim,
        json!({"items": [{"currency": "GTQ", "amount_in_cents": 3000}], "custom_account_id": "ac_123456"}),
    )
    .await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    let e = &hook.events()[0];
    assert_eq!(
        (e["connected"].clone(), e["account_id"].clone()),
        (json!(true), json!("ac_123456"))
    );
    let v = hook.verify(sim.recurrente_webhook_secret());
    assert_eq!(v[0].connected_account.as_deref(), Some("ac_123456"));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_payer_page_renders_and_its_buttons_work() {
    let (sim, hook) = setup().await;
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = sim.base_url().to_owned();
    let ch = checkout(
        &sim,
        json!({"items": [{"name": "<b>\"Gold\" & co</b>", "currency": "GTQ", "amount_in_cents": 5000,
                          "billing_interval": "month"}],
               "success_url": "https://shop.test/ok?a=1&b=2"}),
    )
    .await;
    for path in [format!("/pay/recurrente/{ch}"), format!("/checkout-session/{ch}")] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(html.contains("&lt;b&gt;&quot;Gold&quot; &amp; co&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>\"Gold\""));
        assert!(html.contains("50.00 GTQ"));
        assert!(html.contains("every month"));
        for outcome in ["card_success", "card_declined", "bank_transfer_pending"] {
            assert!(html.contains(&format!("value=\"{outcome}\"")), "{outcome}");
        }
        assert!(html.contains(&format!("/__sim/recurrente/checkouts/{ch}/pay?redirect=page")));
    }

    // The bank transfer button, then the bank's.
    let pay_url = format!("{base}/__sim/recurrente/checkouts/{ch}/pay?redirect=page");
    let r = no_redirect
        .post(&pay_url)
        .form(&[("outcome", "bank_transfer_pending")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("/pay/recurrente/{ch}"));
    let html = reqwest::get(format!("{base}/pay/recurrente/{ch}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("payment_in_progress"));
    let start = html.find("/__sim/recurrente/bank_transfers/").unwrap();
    let settle = &html[start..start + html[start..].find('"').unwrap()];
    assert!(settle.ends_with("/settle?redirect=page"));
    let r = no_redirect
        .post(format!("{base}{settle}"))
        .form(&[("succeeded", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = reqwest::get(format!("{base}/pay/recurrente/{ch}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Paid"));
    assert!(html.contains("https://shop.test/ok?a=1&amp;b=2"));
    assert!(html.contains("(active)"));
    assert_eq!(sim.recurrente_checkout(&ch).unwrap()["status"], "paid");

    // Paying again: back to the page with the reason.
    let r = no_redirect
        .post(&pay_url)
        .form(&[("outcome", "card_success")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("notice="), "{location}");
    let html = reqwest::get(format!("{base}{location}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("already paid"));

    // The card buttons of a one-time checkout.
    let one = checkout(&sim, items_example()).await;
    let r = no_redirect
        .post(format!("{base}/__sim/recurrente/checkouts/{one}/pay?redirect=page"))
        .form(&[("outcome", "card_success")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(sim.recurrente_checkout(&one).unwrap()["status"], "paid");
    let r = reqwest::get(format!("{base}/pay/recurrente/ch_nope")).await.unwrap();
    assert_eq!(r.status(), 404);
    sim.flush_webhooks().await;
    assert_eq!(
        hook.types(),
        [
            "bank_transfer_intent.pending",
            "bank_transfer_intent.succeeded",
            "subscription.create",
            "payment_intent.succeeded"
        ]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn control_api_errors() {
    let (sim, _hook) = setup().await;
    let ch = checkout(&sim, items_example()).await;
    let r = pay(&sim, "ch_nope", "card_success").await;
    assert_eq!((r.status, r.json["error"].clone()), (404, json!("not_found")));
    let r = pay(&sim, &ch, "cash").await;
    assert_eq!((r.status, r.json["error"].clone()), (422, json!("invalid_request")));
    let r = control(&sim, &format!("/__sim/recurrente/checkouts/{ch}/pay"), json!({})).await;
    assert_eq!(r.status, 422);
    assert_eq!(pay(&sim, &ch, "card_success").await.status, 200);
    let r = pay(&sim, &ch, "card_success").await;
    assert_eq!((r.status, r.json["error"].clone()), (409, json!("refused")));
    assert!(r.json["message"].as_str().unwrap().contains("already paid"));
    let r = control(
        &sim,
        "/__sim/recurrente/bank_transfers/ba_nope/settle",
        json!({"succeeded": true}),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = control(
        &sim,
        "/__sim/recurrente/bank_transfers/ba_nope/settle",
        json!({"succeeded": "maybe"}),
    )
    .await;
    assert_eq!(r.status, 422);
    let r = control(
        &sim,
        "/__sim/recurrente/subscriptions/su_nope/fail_next_charge",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 404);
    let sub_ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let su = sim
        .recurrente_pay(&sub_ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    for bad in [json!({"count": 0}), json!({"count": -1}), json!({"count": "x"})] {
        let r = control(
            &sim,
            &format!("/__sim/recurrente/subscriptions/{su}/fail_next_charge"),
            bad,
        )
        .await;
        assert_eq!(r.status, 422);
    }
    let r = control(
        &sim,
        &format!("/__sim/recurrente/subscriptions/{su}/fail_next_charge"),
        json!({"count": 2}),
    )
    .await;
    assert_eq!(r.json["failures_pending"], 2);
    // An expired checkout cannot be paid.
    let expired = checkout(
        &sim,
        json!({"items": [{"name": "x", "currency": "USD", "amount_in_cents": 100}], "expires_at": "2026-01-11T00:00:00Z"}),
    )
    .await;
    sim.advance(days(2)).unwrap();
    assert_eq!(sim.recurrente_checkout(&expired).unwrap()["status"], "expired");
    assert_eq!(pay(&sim, &expired, "card_success").await.status, 409);
    let r = control(&sim, "/__sim/recurrente/webhook_endpoints/ep_nope/disable", json!({})).await;
    assert_eq!(r.status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_payer_can_be_named() {
    let (sim, _hook) = setup().await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    let r = control(
        &sim,
        &format!("/__sim/recurrente/checkouts/{ch}/pay"),
        json!({"outcome": "card_success", "email": "fela@example.com", "full_name": "Fela Kuti"}),
    )
    .await;
    let sub = &r.json["subscription"]["subscriber"];
    assert_eq!(sub["email"], "fela@example.com");
    assert_eq!(
        (sub["first_name"].clone(), sub["last_name"].clone()),
        (json!("Fela"), json!("Kuti"))
    );
    // The user exists for the API too.
    let u = post(&sim, "/api/users", json!({"email": "fela@example.com"})).await;
    assert_eq!(u.json["id"], sub["id"]);
    sim.shutdown().await;
}
