//! Recurrente's webhook catalogue as it is today: every webhook JSON shape the provider facts
//! quote (the unified `intent.*` bodies, the wrapped `{event_type|type, data}` envelope, the
//! card-update guide's `setup_intent.succeeded` named by `type`, bank transfer references) and
//! the events with no captured payload (reactivate, update, unpause, refund), each signed,
//! verified and normalized through both `RecurrenteWebhookVerifier` and the gateway.

// Test code: helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use paycycle_core::{
    CancelledBy, Currency, EventKind, FixedClock, Money, PaymentStatus, RecurringGateway, SubscriptionStatus,
    WebhookEvent,
};
use paycycle_recurrente::webhook::{BankTransferDetails, bank_transfer_details, live_mode, signed_headers};
use paycycle_recurrente::{RecurrenteConfig, RecurrenteGateway, RecurrenteWebhookVerifier};
use serde_json::Value;
use support::WEBHOOK_SECRET;

const NOW: i64 = 1_760_363_967;

fn money(cents: i64, currency: Currency) -> Money {
    Money::from_minor_units(cents, currency).unwrap()
}

/// Signs `text` as Svix would under `msg_id`, then verifies and normalizes it twice: with the
/// bare verifier and with the gateway (its `RecurringGateway::verify_webhook`). Both must agree.
fn deliver(msg_id: &str, text: &str) -> WebhookEvent {
    let body = text.as_bytes();
    let headers = signed_headers(WEBHOOK_SECRET, msg_id, NOW - 5, body).unwrap();
    let clock = Arc::new(FixedClock(Utc.timestamp_opt(NOW, 0).unwrap()));
    let verifier = RecurrenteWebhookVerifier::new([WEBHOOK_SECRET])
        .unwrap()
        .with_clock(clock.clone());
    let by_verifier = verifier.verify_event(&headers, body).unwrap();
    let config = RecurrenteConfig::builder()
        .secret_key("sk_test_secret")
        .webhook_secret(WEBHOOK_SECRET)
        .build()
        .unwrap();
    let gateway = RecurrenteGateway::with_clock(&config, clock).unwrap();
    let by_gateway = gateway.verify_webhook(&headers, body).unwrap();
    assert_eq!(by_verifier, by_gateway);
    assert_eq!(by_verifier.id.as_str(), msg_id);
    assert_eq!(by_verifier.raw.json(), text.trim(), "the raw JSON is kept as sent");
    // Tampering is still caught for every shape.
    let mut tampered = body.to_vec();
    tampered.push(b' ');
    assert!(verifier.verify_event(&headers, &tampered).is_err());
    by_verifier
}

fn event(text: &str) -> WebhookEvent {
    deliver("msg_2fy6I9KODnHzw7Zf0ZGmMs8gEN9", text)
}

#[test]
fn unified_intent_succeeded() {
    let e = event(fixture!("event_intent_succeeded"));
    assert_eq!(e.kind, EventKind::PaymentSucceeded);
    assert_eq!(
        e.provider_type, "intent.succeeded",
        "`type` is the payment kind, not the name"
    );
    assert_eq!(e.subscription_id.as_ref().unwrap().as_str(), "su_id123");
    assert_eq!(e.checkout_id.as_ref().unwrap().as_str(), "ch_id123");
    assert_eq!(e.subscription_status, None, "payments imply no subscription status");
    let p = e.payment.as_ref().unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(
        p.id.as_ref().unwrap().as_str(),
        "pa_id123",
        "the payment record, not `in_…`"
    );
    assert_eq!(p.amount, Some(money(10000, Currency::GTQ)));
    assert_eq!(live_mode(&e.raw), Some(true));
}

#[test]
fn unified_bank_transfer_pending_then_succeeded() {
    let pending = event(fixture!("event_intent_pending_bank_transfer"));
    assert_eq!(pending.kind, EventKind::PaymentPending);
    assert_eq!(
        pending.subscription_id, None,
        "a one-time payment concerns no subscription"
    );
    let p = pending.payment.as_ref().unwrap();
    assert_eq!(p.status, PaymentStatus::Pending);
    assert_eq!(p.id.as_ref().unwrap().as_str(), "pa_123");
    assert_eq!(p.amount, Some(money(10000, Currency::GTQ)));
    assert_eq!(
        bank_transfer_details(&pending.raw),
        BankTransferDetails::default(),
        "both null while pending"
    );
    assert_eq!(live_mode(&pending.raw), None, "live_mode is never required");

    let done = event(fixture!("event_intent_succeeded_bank_transfer"));
    assert_eq!(done.kind, EventKind::PaymentSucceeded);
    assert_eq!(done.checkout_id.as_ref().unwrap().as_str(), "ch_5wlclm4jqpg3fe09");
    let p = done.payment.as_ref().unwrap();
    assert_eq!(p.id.as_ref().unwrap().as_str(), "pa_123");
    let d = bank_transfer_details(&done.raw);
    assert_eq!(d.bank_reference.as_deref(), Some("20240304GT0000123456"));
    assert_eq!(d.sender_comment.as_deref(), Some("Pago factura marzo"));
}

#[test]
fn unified_intent_failed_canceled_and_paid() {
    let e = event(fixture!("event_intent_failed"));
    assert_eq!(e.kind, EventKind::PaymentFailed);
    assert_eq!(e.subscription_id.as_ref().unwrap().as_str(), "su_id123");
    assert_eq!(e.merchant_reference.as_deref(), Some("order-1001"));
    let p = e.payment.as_ref().unwrap();
    assert_eq!(p.status, PaymentStatus::Failed);
    assert_eq!(p.id.as_ref().unwrap().as_str(), "pa_f41l3d00");
    assert!(p.failure_reason.as_deref().unwrap().starts_with("Tu banco"));

    // Canceled (one l, as unified statuses spell it): the charge will not complete. Without a
    // `payment` object the intent's own id stands in.
    let e = event(fixture!("event_intent_canceled"));
    assert_eq!(e.kind, EventKind::PaymentFailed);
    assert_eq!(e.provider_type, "intent.canceled");
    let p = e.payment.as_ref().unwrap();
    assert_eq!(p.id.as_ref().unwrap().as_str(), "in_2b8d0a77");
    assert_eq!(p.amount, Some(money(2500, Currency::USD)));
    assert_eq!(e.raw.value().unwrap()["raw_status"], "expired");

    // Paid: delivered to the account that paid with its balance: money out, kept as unknown.
    let e = event(fixture!("event_intent_paid"));
    assert_eq!(e.kind, EventKind::Unknown("intent.paid".into()));
    assert!(e.payment.is_none());
    assert_eq!(e.raw.value().unwrap()["type"], "balance");
}

#[test]
fn legacy_and_unified_deliveries_of_one_payment_have_one_payment_id() {
    let pairs = [
        (
            fixture!("event_payment_intent_succeeded"),
            fixture!("event_intent_succeeded"),
            "pa_id123",
        ),
        (
            fixture!("event_bank_transfer_intent_succeeded"),
            fixture!("event_intent_succeeded_bank_transfer"),
            "pa_123",
        ),
    ];
    for (legacy, unified, payment_id) in pairs {
        // Separate Svix messages, so separate event ids: dedupe on `svix-id` cannot catch this.
        let a = deliver("msg_legacy", legacy);
        let b = deliver("msg_unified", unified);
        assert_ne!(a.id, b.id);
        assert_ne!(
            a.raw.value().unwrap()["id"],
            b.raw.value().unwrap()["id"],
            "the bodies' own ids differ (pa_/ba_ vs in_)"
        );
        assert_eq!(a.kind, b.kind);
        let (pa, pb) = (a.payment.unwrap(), b.payment.unwrap());
        assert_eq!(pa.id, pb.id);
        assert_eq!(pa.id.unwrap().as_str(), payment_id);
        assert_eq!(pa.amount, pb.amount);
        assert_eq!(pa.status, pb.status);
        assert_eq!(a.subscription_id, b.subscription_id);
        assert_eq!(a.checkout_id, b.checkout_id);
    }
}

#[test]
fn legacy_bank_transfer_references_at_the_top_level() {
    let e = event(fixture!("event_bank_transfer_intent_succeeded_references"));
    assert_eq!(e.kind, EventKind::PaymentSucceeded);
    assert_eq!(e.payment.as_ref().unwrap().id.as_ref().unwrap().as_str(), "pa_123");
    let d = bank_transfer_details(&e.raw);
    assert_eq!(d.bank_reference.as_deref(), Some("20240304GT0000123456"));
    assert_eq!(d.sender_comment.as_deref(), Some("Pago factura marzo"));
    assert_eq!(live_mode(&e.raw), Some(true));
    // The seed's bodies have neither.
    let e = event(fixture!("event_bank_transfer_intent_pending"));
    assert_eq!(bank_transfer_details(&e.raw), BankTransferDetails::default());
}

#[test]
fn wrapped_envelope_as_printed() {
    // The help site's sample: `event_type` and `created_at` outside, the resource in `data`.
    let e = event(fixture!("event_wrapped_payment_intent_succeeded"));
    assert_eq!(e.kind, EventKind::PaymentSucceeded);
    assert_eq!(
        e.occurred_at.unwrap(),
        Utc.with_ymd_and_hms(2025, 3, 15, 14, 32, 0).unwrap()
    );
    assert_eq!(e.checkout_id.as_ref().unwrap().as_str(), "ch_xxxxxxxxxxxxxxxx");
    let p = e.payment.as_ref().unwrap();
    assert_eq!(p.id.as_ref().unwrap().as_str(), "pi_xxxxxxxxxxxxxxxx");
    // `amount` (not `amount_in_cents`) has no documented unit: not guessed, kept in `raw`.
    assert_eq!(p.amount, None);
    assert_eq!(e.raw.value().unwrap()["data"]["amount"], 15000);
}

/// Wraps a flat body as `{<name key>: name, "data": body without its name}`.
fn wrap(flat: &str, name_key: &str) -> String {
    let mut body: serde_json::Map<String, Value> = serde_json::from_str(flat).unwrap();
    let name = body.remove("event_type").unwrap();
    let created_at = body.remove("created_at");
    let mut outer = serde_json::Map::new();
    outer.insert(name_key.to_owned(), name);
    if let Some(at) = created_at {
        outer.insert("created_at".to_owned(), at);
    }
    outer.insert("data".to_owned(), Value::Object(body));
    Value::Object(outer).to_string()
}

#[test]
fn wrapped_and_flat_normalize_the_same() {
    for flat in [
        fixture!("event_payment_intent_succeeded"),
        fixture!("event_intent_succeeded_bank_transfer"),
        fixture!("event_subscription_reactivate"),
        fixture!("event_subscription_cancel"),
        fixture!("event_refund_create"),
        fixture!("event_setup_intent_succeeded"),
    ] {
        let expected = event(flat);
        for key in ["type", "event_type"] {
            let mut e = event(&wrap(flat, key));
            assert_ne!(e.raw, expected.raw);
            e.raw = expected.raw.clone();
            assert_eq!(e, expected, "wrapped under `{key}`: {flat}");
        }
    }
}

#[test]
fn setup_intent_named_by_type() {
    // The card-update guide's shape: the name under `type`, no `suscription` key.
    let e = event(fixture!("event_setup_intent_succeeded_typed"));
    assert_eq!(e.kind, EventKind::SetupSucceeded);
    assert_eq!(e.provider_type, "setup_intent.succeeded");
    assert_eq!(e.subscription_id, None);
    assert_eq!(e.subscription_status, None, "a card saved without a subscription");
    assert!(e.payment.is_none());
    assert_eq!(e.raw.value().unwrap()["payment_method"]["id"], "pay_m_w8r4t1zc");
}

#[test]
fn subscription_reactivate_update_and_unpause() {
    let rows = [
        (
            fixture!("event_subscription_reactivate"),
            EventKind::SubscriptionReactivated,
            Some(SubscriptionStatus::Active),
        ),
        (
            fixture!("event_subscription_unpause"),
            EventKind::SubscriptionResumed,
            Some(SubscriptionStatus::Active),
        ),
        (
            fixture!("event_subscription_update"),
            EventKind::SubscriptionUpdated,
            None,
        ),
    ];
    for (text, kind, status) in rows {
        let e = event(text);
        assert_eq!(e.kind, kind);
        assert_eq!(e.subscription_id.as_ref().unwrap().as_str(), "su_123");
        assert_eq!(e.subscription_status, status);
        assert_eq!(e.checkout_id.as_ref().unwrap().as_str(), "ch_sub123");
        assert_eq!(e.merchant_reference.as_deref(), Some("order-42"));
        assert!(e.payment.is_none());
    }
    // The other subscription changes of the catalogue read as updates too.
    for name in [
        "subscription.item_added",
        "subscription.item_removed",
        "subscription.invoice_item_added",
    ] {
        let text = fixture!("event_subscription_update").replace("subscription.update", name);
        let e = event(&text);
        assert_eq!(e.kind, EventKind::SubscriptionUpdated, "{name}");
        assert_eq!(e.subscription_status, None);
    }
    // And cancel still reads as cancelled, pause in both spellings as paused.
    let cancel = fixture!("event_subscription_reactivate").replace("subscription.reactivate", "subscription.cancel");
    assert_eq!(
        event(&cancel).subscription_status,
        Some(SubscriptionStatus::Cancelled {
            by: CancelledBy::Unknown
        })
    );
    for name in ["subscription.pause", "subscription.paused"] {
        let text = fixture!("event_subscription_reactivate").replace("subscription.reactivate", name);
        assert_eq!(event(&text).subscription_status, Some(SubscriptionStatus::Paused));
    }
}

#[test]
fn refund_create() {
    let e = event(fixture!("event_refund_create"));
    assert_eq!(e.kind, EventKind::PaymentRefunded);
    assert_eq!(e.checkout_id.as_ref().unwrap().as_str(), "ch_id123");
    assert_eq!(e.merchant_reference.as_deref(), Some("order-1001"));
    let p = e.payment.as_ref().unwrap();
    assert_eq!(p.status, PaymentStatus::Refunded);
    assert_eq!(
        p.id.as_ref().unwrap().as_str(),
        "pa_id123",
        "the refunded payment's record, the one the payment events named"
    );
    assert_eq!(p.amount, Some(money(2500, Currency::GTQ)), "what the customer got back");
}

#[test]
fn disputes_and_the_rest_of_the_catalogue() {
    // No captured payload for `dispute.*`: the name alone decides; the body stays raw.
    for (name, kind) in [
        ("dispute.create", EventKind::DisputeOpened),
        ("dispute.update", EventKind::DisputeUpdated),
    ] {
        let text = format!(r#"{{"event_type":"{name}","id":"dp_1","payment":{{"id":"pa_id123"}}}}"#);
        let e = event(&text);
        assert_eq!(e.kind, kind);
        assert!(e.payment.is_none());
        assert_eq!(e.subscription_status, None);
        assert_eq!(e.raw.value().unwrap()["payment"]["id"], "pa_id123");
    }
    for name in [
        "balance_intent.succeeded",
        "cash_intent.succeeded",
        "payment_intent.succeeded",
    ] {
        let text = fixture!("event_payment_intent_succeeded").replace("payment_intent.succeeded", name);
        let e = event(&text);
        assert_eq!(e.kind, EventKind::PaymentSucceeded, "{name}");
        assert_eq!(e.payment.unwrap().id.unwrap().as_str(), "pa_id123");
    }
    for name in [
        "balance_intent.paid",
        "crypto_intent.succeeded",
        "transfer.sent",
        "transfer.received",
        "withdrawal.create",
        "withdrawal.update",
        "swap.create",
        "swap.update",
        "account_connection.create",
        "partner_commission_invoice.issued",
        "partner_commission_invoice.failed",
    ] {
        let text = format!(r#"{{"event_type":"{name}","id":"x_1","amount_in_cents":100,"currency":"USD"}}"#);
        let e = event(&text);
        assert_eq!(e.kind, EventKind::Unknown(name.into()));
        assert_eq!(e.provider_type, name);
        assert!(e.payment.is_none());
        assert_eq!(e.raw.value().unwrap()["amount_in_cents"], 100);
    }
}
