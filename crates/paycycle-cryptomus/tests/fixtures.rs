//! Every JSON example of the seed document parses, and the webhook fixtures signed by PHP verify.
// Test code: helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycycle_core::rust_decimal::Decimal;
use paycycle_core::{CancelledBy, Currency, EventKind, Money, PaymentStatus, SubscriptionStatus};
use paycycle_cryptomus::{
    CreateRecurrence, CryptomusWebhookVerifier, Period, Recurrence, RecurrencePage, RecurrenceStatus,
};
use serde_json::Value;

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

/// Parses a seed response and checks that its `result` serializes back to the same JSON.
fn response(fixture: &str) -> Recurrence {
    let envelope: Value = serde_json::from_str(fixture).unwrap();
    assert_eq!(envelope["state"], 0);
    let result = envelope["result"].clone();
    let rec: Recurrence = serde_json::from_value(result.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&rec).unwrap(),
        result,
        "serializes back to what Cryptomus sent"
    );
    rec
}

/// Parses a seed request into `CreateRecurrence`, validates it, and checks that it serializes
/// back to the same fields.
fn request(fixture: &str) -> CreateRecurrence {
    let json: Value = serde_json::from_str(fixture).unwrap();
    let req: CreateRecurrence = serde_json::from_value(json.clone()).unwrap();
    req.validate().unwrap();
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json,
        "the same fields, the same types"
    );
    req
}

#[test]
fn request_examples_round_trip_through_create_recurrence() {
    let minimal = request(include_str!("fixtures/create_request_minimal.json"));
    assert_eq!(minimal.price(), Money::parse("15", Currency::USDT).unwrap());
    assert_eq!(minimal.period, Period::Monthly);
    assert_eq!(minimal.url_callback, None);

    let usd = request(include_str!("fixtures/create_request_usd.json"));
    assert_eq!(usd.currency, Currency::USD);
    assert_eq!(
        usd.url_callback.as_ref().map(|u| u.as_str()),
        Some("https://your.site/callback")
    );

    let usdt = request(include_str!("fixtures/create_request_usdt.json"));
    assert_eq!(usdt.currency, Currency::USDT);

    let btc = request(include_str!("fixtures/create_request_usd_to_btc.json"));
    assert_eq!(btc.to_currency, Some(Currency::BTC));

    let discount = request(include_str!("fixtures/create_request_discount.json"));
    assert_eq!(discount.discount_days, Some(30));
    assert_eq!(discount.discount_amount, Some(dec("1")));
}

#[test]
fn response_examples_parse_exactly() {
    let r = response(include_str!("fixtures/create_response_minimal.json"));
    assert_eq!(r.uuid, "afd050e8-35ea-4129-bbdd-73f510dce556");
    assert_eq!(r.price(), Some(Money::parse("15", Currency::USDT).unwrap()));
    assert_eq!(r.payer_amount_usd, Some(dec("15.00")));
    assert_eq!(r.payer_amount.map(|d| d.to_string()).as_deref(), Some("15.00000000"));
    assert_eq!(r.status, Some(RecurrenceStatus::WaitAccept));
    assert_eq!(r.period, Some(Period::Monthly));
    assert_eq!(r.order_id, None);
    assert_eq!(r.last_pay_off, None);
    assert_eq!(
        r.url.as_ref().map(|u| u.as_str()),
        Some("https://pay.cryptomus.com/recurring/afd050e8-35ea-4129-bbdd-73f510dce556")
    );

    let r = response(include_str!("fixtures/create_response_usd.json"));
    assert_eq!(r.currency, Some(Currency::USD));
    assert_eq!(r.payer_currency, None);
    assert_eq!(r.payer_amount, None);
    assert_eq!(r.payer_amount_usd, Some(dec("0.00")));

    let r = response(include_str!("fixtures/create_response_usdt.json"));
    assert_eq!(r.payer_price(), Some(Money::parse("15", Currency::USDT).unwrap()));

    let r = response(include_str!("fixtures/create_response_usd_to_btc.json"));
    assert_eq!(
        r.payer_price(),
        Some(Money::parse("0.00051495", Currency::BTC).unwrap())
    );
    assert_eq!(r.price(), Some(Money::parse("15", Currency::USD).unwrap()));

    let r = response(include_str!("fixtures/create_response_discount.json"));
    assert_eq!(r.discount_days, Some(30), "sent as a string, read as a number");
    assert_eq!(r.discount_price(), Some(Money::parse("1", Currency::USD).unwrap()));
    let end = r.end_of_discount.unwrap();
    assert_eq!(end.to_rfc3339(), "2023-07-11T20:23:52+03:00");
    assert_eq!(end.naive_utc().to_string(), "2023-07-11 17:23:52");
}

#[test]
fn constructed_list_and_error_shapes_parse() {
    let envelope: Value = serde_json::from_str(include_str!("fixtures/list_response.json")).unwrap();
    let page: RecurrencePage = serde_json::from_value(envelope["result"].clone()).unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(
        page.next_cursor(),
        Some("eyJpZCI6MTIsIl9wb2ludHNUb05leHRJdGVtcyI6dHJ1ZX0")
    );
    assert_eq!(page.paginate.has_pages, Some(true));
    assert_eq!(page.items[0].status, Some(RecurrenceStatus::Active));
    assert!(page.items[0].last_pay_off.as_ref().unwrap().at.is_some());
    assert_eq!(page.items[1].period, Some(Period::ThreeMonth));

    let e: Value = serde_json::from_str(include_str!("fixtures/error_validation_422.json")).unwrap();
    assert_eq!(e["errors"]["uuid"][0], "validation.required_without");
    let e: Value = serde_json::from_str(include_str!("fixtures/error_invalid_sign.json")).unwrap();
    assert_eq!(e["message"], "Invalid Sign.");
}

fn verifier() -> CryptomusWebhookVerifier {
    CryptomusWebhookVerifier::new("test-payment-key".into())
}

#[test]
fn php_signed_payment_webhook_verifies_with_escaped_slashes_and_unicode() {
    let body = include_bytes!("fixtures/webhook_payment_paid.json");
    assert!(
        body.windows(2).any(|w| w == b"\\/"),
        "the fixture carries `\\/` on the wire"
    );
    assert!(body.windows(6).any(|w| w == b"\\u00d1"), "and \\u escapes");
    let e = verifier().verify(body).unwrap();
    assert_eq!(e.kind, EventKind::PaymentSucceeded);
    assert_eq!(
        e.merchant_reference.as_deref(),
        Some("pc_2f1d0c3b9a8e4f7d8c6b5a4e3d2c1b0a")
    );
    let p = e.payment.unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.amount, Some(Money::parse("15.00", Currency::USD).unwrap()));
    assert_eq!(p.paid, Some(Money::parse("15.00000000", Currency::USDT).unwrap()));
    let data: Value = serde_json::from_str(e.raw.value().unwrap()["additional_data"].as_str().unwrap()).unwrap();
    assert_eq!(data["customer"]["name"], "Ana Ñúñez");
    assert_eq!(data["metadata"]["plan"], "gold/annual");

    assert!(CryptomusWebhookVerifier::new("wrong".into()).verify(body).is_err());
}

#[test]
fn php_signed_recurrence_webhook_verifies_with_raw_utf8() {
    let body = include_bytes!("fixtures/webhook_recurrence_cancel_by_user.json");
    assert!(std::str::from_utf8(body).unwrap().contains("Suscripción ☃"));
    let e = verifier().verify(body).unwrap();
    assert_eq!(e.kind, EventKind::SubscriptionCancelled);
    assert_eq!(
        e.subscription_status,
        Some(SubscriptionStatus::Cancelled { by: CancelledBy::Payer })
    );
    assert_eq!(
        e.subscription_id.as_ref().map(|s| s.as_str()),
        Some("1ee00fbd-42e7-4653-b316-1ab12f8a447b")
    );
    assert_eq!(e.merchant_reference.as_deref(), Some("order-42"));
    // One changed character of the name: refused.
    let tampered = std::str::from_utf8(body).unwrap().replace("Suscripción", "Suscripcion");
    assert!(verifier().verify(tampered.as_bytes()).is_err());
}
