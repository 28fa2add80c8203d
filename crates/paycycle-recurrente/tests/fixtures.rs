//! Every JSON example of Recurrente's API reference parses, into the type the client returns for
//! it, with the values the reference shows. Webhook examples are signed, verified and mapped.

// Test code: helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use paycycle_core::{
    CancelledBy, Currency, EventKind, FixedClock, Money, PaymentStatus, SubscriptionStatus, WebhookEvent,
};
use paycycle_recurrente::RecurrenteWebhookVerifier;
use paycycle_recurrente::webhook::signed_headers;
use paycycle_recurrente::wire::{
    BillingInterval, ChargeType, Checkout, CheckoutCreated, CheckoutStatus, Coupon, CouponDiscount, CouponDuration,
    Deleted, Message, OneTimePayment, OneTimePaymentStatus, PaymentIntent, PaymentMethodType, PaymentableType, Product,
    RecordStatus, Refund, RefundStatus, Requirement, Subscription, SubscriptionState, Transfer, TransferStatus, User,
    WebhookEndpoint,
};
use serde::de::DeserializeOwned;
use support::WEBHOOK_SECRET;

fn parse<T: DeserializeOwned>(text: &str) -> T {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).unwrap_or_else(|e| panic!("at {}: {}", e.path(), e.inner()))
}

fn gtq(cents: i64) -> Money {
    Money::from_minor_units(cents, Currency::GTQ).unwrap()
}

#[test]
fn authentication_test() {
    let body: serde_json::Value = parse(fixture!("test_request"));
    assert_eq!(body, serde_json::json!({}));
    let m: Message = parse(fixture!("test_response"));
    assert_eq!(m.message.as_deref(), Some("Hello La Surf Office 🌎"));
}

#[test]
fn created_checkouts() {
    for text in [
        fixture!("checkout_created_items"),
        fixture!("checkout_created_subscription"),
        fixture!("checkout_created_product"),
    ] {
        let c: CheckoutCreated = parse(text);
        assert_eq!(c.id, "ch_eegw9j5zgqoae3ms");
        assert_eq!(
            c.checkout_url.as_deref(),
            Some("https://app.recurrente.com/checkout-session/ch_eegw9j5zgqoae3ms")
        );
    }
    let c: CheckoutCreated = parse(fixture!("checkout_created_connected_account"));
    assert_eq!(c.id, "ch_672wumotzeuqqyzf");
}

#[test]
fn checkouts() {
    let c: Checkout = parse(fixture!("checkout_updated"));
    assert_eq!(c.status, Some(CheckoutStatus::Unpaid));
    assert_eq!(
        c.total_in_cents,
        Some(500),
        "total_in_cents comes as the string \"500\""
    );
    assert_eq!(c.total(), Some(gtq(500)));
    assert_eq!(c.metadata["internalID"], 123);
    assert_eq!(
        c.expires_at,
        Some(Utc.with_ymd_and_hms(2050, 5, 15, 13, 45, 30).unwrap())
    );
    let intent = c.latest_intent.unwrap();
    assert_eq!(intent.kind.as_deref(), Some("PaymentIntent"));
    assert_eq!(intent.data["auth_code"], "123456");
    assert!(c.payment.is_none() && c.payment_method.is_none());

    let c: Checkout = parse(fixture!("checkout_get"));
    assert_eq!(c.id, "ch_eegw9j5zgqoae3ms");
    assert_eq!(c.status, Some(CheckoutStatus::Unpaid));
    assert_eq!(c.currency, None, "the printed example is cut before `currency`");

    let list: Vec<Checkout> = parse(fixture!("checkouts_list"));
    assert_eq!(list.len(), 1);
    let paid = &list[0];
    assert_eq!(paid.status, Some(CheckoutStatus::Paid));
    assert_eq!(paid.subscription_id(), Some("su_nehndm7j"));
    let method = paid.payment_method.as_ref().unwrap();
    assert_eq!(method.id, "pay_m_ru4ztzg3");
    assert_eq!(method.kind, Some(PaymentMethodType::Card));
    assert_eq!(method.card.as_ref().unwrap().last4.as_deref(), Some("4242"));
}

#[test]
fn payment_intent() {
    let p: PaymentIntent = parse(fixture!("payment_intent_updated"));
    assert_eq!(p.id, "pa_123");
    assert_eq!(p.amount(), Some(gtq(500)));
    assert_eq!(p.fee(), Some(gtq(223)));
    assert_eq!(p.tax_invoice_url.as_deref(), Some("https://www.example.com/factura123"));
    assert_eq!(p.customer.as_ref().unwrap().full_name.as_deref(), Some("Mario Bros"));
    let paymentable = p.payment.as_ref().unwrap().paymentable.as_ref().unwrap();
    assert_eq!(paymentable.kind, Some(PaymentableType::OneTimePayment));
    assert_eq!(paymentable.tax_name.as_deref(), Some(""));
    let price = &p.products[0].prices[0];
    assert_eq!(price.charge_type, Some(ChargeType::OneTime));
    assert_eq!(
        price.billing_interval, None,
        "one-time prices send billing_interval \"\""
    );
    assert_eq!(price.interval(), None);
    assert_eq!(p.products[0].billing_info_requirement, Some(Requirement::Optional));
}

#[test]
fn products() {
    let p: Product = parse(fixture!("product_created_subscription"));
    assert_eq!(p.id, "prod_vsyjzsqf");
    assert_eq!(p.status, Some(RecordStatus::Active));
    let price = &p.prices[0];
    assert_eq!(price.amount(), Some(gtq(1000)));
    assert_eq!(price.charge_type, Some(ChargeType::Recurring));
    assert_eq!(price.interval(), Some(paycycle_core::Interval::monthly()));
    assert_eq!(price.trial(), Some(paycycle_core::Interval::monthly()));
    assert_eq!(price.periods_before_automatic_cancellation, None);

    for text in [fixture!("product_created_one_time"), fixture!("product_get")] {
        let p: Product = parse(text);
        assert_eq!(p.id, "prod_9lstwgbr");
        assert_eq!(p.phone_requirement, Some(Requirement::None));
        assert!(p.prices.is_empty(), "the printed examples are cut at `prices`");
    }

    let list: Vec<Product> = parse(fixture!("products_list"));
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].name.as_deref(), Some("El nombre de tu producto 2"));
    assert_eq!(list[1].prices[0].billing_interval_count, Some(0));

    let p: Product = parse(fixture!("product_updated"));
    assert_eq!(p.prices[0].id, "price_mirvwr9y");
    assert_eq!(p.prices[0].amount_in_cents, Some(1500));
    assert_eq!(p.prices[0].billing_interval, Some(BillingInterval::Month));

    let d: Deleted = parse(fixture!("product_deleted"));
    assert_eq!(
        (d.id.as_str(), d.status),
        ("prod_m7vzucwi", Some(RecordStatus::Deleted))
    );
}

#[test]
fn coupons() {
    for text in [
        fixture!("coupon_created"),
        fixture!("coupon_get"),
        fixture!("coupon_updated"),
    ] {
        let c: Coupon = parse(text);
        assert_eq!(c.id, "coup_ugwoxcp4");
        assert_eq!(c.discount(), Some(CouponDiscount::AmountOff(gtq(1500))));
        assert_eq!(c.duration, Some(CouponDuration::Once));
        assert_eq!(c.percent_off, None);
        assert_eq!(c.status, Some(RecordStatus::Active));
    }
    let list: Vec<Coupon> = parse(fixture!("coupons_list"));
    assert_eq!(list[0].name.as_deref(), Some("NEWCOUPON"));
    let d: Deleted = parse(fixture!("coupon_deleted"));
    assert_eq!(d.id, "coup_eug4euns");
}

#[test]
fn subscriptions() {
    let s: Subscription = parse(fixture!("subscription_get"));
    assert_eq!(s.id, "su_nehndm7j");
    assert_eq!(s.status, Some(SubscriptionState::Active));
    assert_eq!(
        s.current_period_end,
        Some(Utc.with_ymd_and_hms(2024, 3, 2, 9, 52, 12).unwrap() + chrono::Duration::milliseconds(636))
    );
    assert_eq!(s.subscriber.as_ref().unwrap().email.as_deref(), Some("test@user.com"));
    assert_eq!(s.checkout.as_ref().unwrap().id, "ch_lmgbvesmihkqzma3");
    let list: Vec<Subscription> = parse(fixture!("subscriptions_list"));
    assert_eq!(list, vec![s]);
    let m: Message = parse(fixture!("subscription_cancelled"));
    assert_eq!(m.message.as_deref(), Some("Suscripción cancelada"));
}

#[test]
fn users_transfers_refunds_and_one_time_payments() {
    let u: User = parse(fixture!("user_created"));
    assert_eq!(
        (u.id.as_str(), u.email.as_deref()),
        ("us_y6fxiihb", Some("me@example.com"))
    );
    let t: Transfer = parse(fixture!("transfer_created"));
    assert_eq!(
        (t.id.as_str(), t.status),
        ("tr_nr4yplup", Some(TransferStatus::Completed))
    );
    for text in [fixture!("refund_created"), fixture!("refund_get")] {
        let r: Refund = parse(text);
        assert_eq!(r.id, "re_3jfrywsf");
        assert_eq!(r.status, Some(RefundStatus::Succeeded));
        assert_eq!(r.customer_refunded(), Some(gtq(2500)));
        assert_eq!(r.account_refunded(), Some(gtq(2187)));
    }
    for text in [
        fixture!("one_time_payment_created_amount"),
        fixture!("one_time_payment_created_product"),
    ] {
        let p: OneTimePayment = parse(text);
        assert_eq!(
            (p.id.as_str(), p.status),
            ("on_123456789", Some(OneTimePaymentStatus::Paid))
        );
    }
}

#[test]
fn webhook_endpoints() {
    for text in [
        fixture!("webhook_endpoint_created"),
        fixture!("webhook_endpoint_deleted"),
    ] {
        let e: WebhookEndpoint = parse(text);
        assert_eq!(e.id, "ep_2fy6I9KODnHzw7Zf0ZGmMs8gEN9");
        assert_eq!(e.disabled, Some(false));
        assert!(e.created_at.is_some());
        assert!(
            e.signing_secret.is_none(),
            "the reference's example carries no signingSecret"
        );
    }
    let list: Vec<WebhookEndpoint> = parse(fixture!("webhook_endpoints_list"));
    assert_eq!(list[0].url.as_deref(), Some("https://example.com/webhook"));
    // The DELETE section also prints a create request (with string metadata) and a short answer.
    let req: serde_json::Value = parse(fixture!("webhook_endpoint_doc_request"));
    assert_eq!(req["metadata"], "Optional metadata");
    let e: WebhookEndpoint = parse(fixture!("webhook_endpoint_doc_response"));
    assert_eq!(e.id, "webhook_endpoint_id");
}

// ---- webhook events ---------------------------------------------------------------------------

const NOW: i64 = 1_714_760_887;

fn event(text: &str) -> WebhookEvent {
    let body = text.as_bytes();
    let headers = signed_headers(WEBHOOK_SECRET, "msg_2fy6I9KODnHzw7Zf0ZGmMs8gEN9", NOW, body).unwrap();
    let verifier = RecurrenteWebhookVerifier::new([WEBHOOK_SECRET])
        .unwrap()
        .with_clock(Arc::new(FixedClock(Utc.timestamp_opt(NOW + 30, 0).unwrap())));
    let event = verifier.verify_event(&headers, body).unwrap();
    assert_eq!(event.id.as_str(), "msg_2fy6I9KODnHzw7Zf0ZGmMs8gEN9");
    assert_eq!(event.raw.json(), text.trim(), "the raw JSON is kept as sent");
    event
}

#[test]
fn payment_intent_events() {
    let e = event(fixture!("event_payment_intent_succeeded"));
    assert_eq!(e.kind, EventKind::PaymentSucceeded);
    assert_eq!(e.provider_type, "payment_intent.succeeded");
    assert_eq!(e.subscription_id.unwrap().as_str(), "su_id123");
    assert_eq!(e.checkout_id.unwrap().as_str(), "ch_id123");
    assert_eq!(e.occurred_at.unwrap().to_rfc3339(), "2024-02-16T03:01:13.260+00:00");
    assert_eq!(e.subscription_status, None);
    assert_eq!(e.merchant_reference, None);
    let p = e.payment.unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.amount, Some(gtq(10000)));
    assert_eq!(p.id.unwrap().as_str(), "pa_id123");
    assert_eq!(p.failure_reason, None);

    let e = event(fixture!("event_payment_intent_failed"));
    assert_eq!(e.kind, EventKind::PaymentFailed);
    let p = e.payment.unwrap();
    assert_eq!(p.status, PaymentStatus::Failed);
    assert!(p.failure_reason.unwrap().starts_with("Tu banco ha rechazado"));
    assert_eq!(e.subscription_id.unwrap().as_str(), "su_id123");
}

#[test]
fn subscription_events() {
    let rows = [
        (
            fixture!("event_subscription_create"),
            EventKind::SubscriptionStarted,
            SubscriptionStatus::Active,
        ),
        (
            fixture!("event_subscription_past_due"),
            EventKind::SubscriptionPastDue,
            SubscriptionStatus::PastDue,
        ),
        (
            fixture!("event_subscription_paused"),
            EventKind::SubscriptionPaused,
            SubscriptionStatus::Paused,
        ),
        (
            fixture!("event_subscription_cancel"),
            EventKind::SubscriptionCancelled,
            SubscriptionStatus::Cancelled {
                by: CancelledBy::Unknown,
            },
        ),
    ];
    for (text, kind, status) in rows {
        let e = event(text);
        assert_eq!(e.kind, kind);
        assert_eq!(e.subscription_id.unwrap().as_str(), "su_123");
        assert_eq!(e.subscription_status, Some(status));
        assert_eq!(
            e.occurred_at.unwrap(),
            Utc.with_ymd_and_hms(2025, 10, 13, 13, 59, 27).unwrap() + chrono::Duration::milliseconds(931)
        );
        assert!(e.payment.is_none());
        assert!(e.checkout_id.is_none());
    }
    // The newer spellings map the same way.
    let paused = fixture!("event_subscription_paused").replace("subscription.paused", "subscription.pause");
    assert_eq!(event(&paused).kind, EventKind::SubscriptionPaused);
    let resumed = fixture!("event_subscription_paused").replace("subscription.paused", "subscription.unpause");
    let e = event(&resumed);
    assert_eq!(e.kind, EventKind::SubscriptionResumed);
    assert_eq!(e.subscription_status, Some(SubscriptionStatus::Active));
}

#[test]
fn bank_transfer_events() {
    let rows = [
        (
            fixture!("event_bank_transfer_intent_pending"),
            EventKind::PaymentPending,
            PaymentStatus::Pending,
        ),
        (
            fixture!("event_bank_transfer_intent_succeeded"),
            EventKind::PaymentSucceeded,
            PaymentStatus::Succeeded,
        ),
        (
            fixture!("event_bank_transfer_intent_failed"),
            EventKind::PaymentFailed,
            PaymentStatus::Failed,
        ),
    ];
    for (text, kind, status) in rows {
        let e = event(text);
        assert_eq!(e.kind, kind);
        assert_eq!(e.checkout_id.as_ref().unwrap().as_str(), "ch_5wlclm4jqpg3fe09");
        assert_eq!(e.subscription_id, None, "a one-time payment concerns no subscription");
        let p = e.payment.unwrap();
        assert_eq!(p.status, status);
        assert_eq!(p.amount, Some(gtq(10000)));
        assert_eq!(p.id.unwrap().as_str(), "pa_123");
    }
}

#[test]
fn setup_intent_events() {
    let e = event(fixture!("event_setup_intent_succeeded"));
    assert_eq!(e.kind, EventKind::SetupSucceeded);
    assert_eq!(
        e.subscription_id.unwrap().as_str(),
        "su_vh8v33ac",
        "read from `suscription` (sic)"
    );
    assert_eq!(e.subscription_status, Some(SubscriptionStatus::Active));
    assert_eq!(
        e.occurred_at.unwrap(),
        Utc.with_ymd_and_hms(2024, 4, 10, 16, 31, 45).unwrap() + chrono::Duration::milliseconds(806)
    );

    let e = event(fixture!("event_setup_intent_cancelled"));
    assert_eq!(e.kind, EventKind::SetupFailed);
    assert_eq!(e.subscription_id.unwrap().as_str(), "su_vh8v33ac");
    assert_eq!(e.subscription_status, Some(SubscriptionStatus::Failed));
}

#[test]
fn refund_event_and_unknown_events() {
    // `refund.create` has no example in the reference; this is the refund object as an event.
    let body = fixture!("refund_created").replacen(
        '{',
        r#"{"event_type":"refund.create","payment_intent":{"id":"pa_e6kc6vx2"},"#,
        1,
    );
    let e = event(&body);
    assert_eq!(e.kind, EventKind::PaymentRefunded);
    let p = e.payment.unwrap();
    assert_eq!(p.status, PaymentStatus::Refunded);
    assert_eq!(p.amount, Some(gtq(2500)));
    assert_eq!(p.id.unwrap().as_str(), "pa_e6kc6vx2");

    let body = fixture!("event_subscription_create").replace("subscription.create", "intent.something_new");
    let e = event(&body);
    assert_eq!(e.kind, EventKind::Unknown("intent.something_new".into()));
    assert_eq!(e.raw.value().unwrap()["product"]["name"], "Plan de Prueba");
}

#[test]
fn request_examples_parse() {
    // Compared with what the client sends in tests/client.rs; here they only have to be JSON.
    for text in [
        fixture!("product_custom_payment_methods_request"),
        fixture!("requests/checkout_items"),
        fixture!("requests/checkout_subscription"),
        fixture!("requests/checkout_product"),
        fixture!("requests/payment_intent_update"),
        fixture!("requests/product_one_time"),
        fixture!("requests/product_subscription"),
        fixture!("requests/product_update"),
        fixture!("requests/coupon_create"),
        fixture!("requests/user_create"),
        fixture!("requests/transfer_create"),
        fixture!("requests/refund_create"),
        fixture!("requests/webhook_endpoint_create"),
        fixture!("requests/one_time_payment_amount"),
        fixture!("requests/one_time_payment_product"),
    ] {
        let v: serde_json::Value = parse(text);
        assert!(v.is_object());
    }
}
