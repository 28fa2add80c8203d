//! `CryptomusGateway` through the `RecurringGateway` trait, against a local HTTP server.
// Test code: helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use futures::TryStreamExt;
use paycycle_core::{
    CancelledBy, CheckoutId, CheckoutRequest, Currency, Customer, Error, EventKind, Interval, Money, PageRequest,
    RecurringGateway, RecurringGatewayExt, RecurringPlan, SubscriptionId, SubscriptionStatus,
};
use paycycle_cryptomus::CryptomusGateway;
use serde_json::json;
use support::{Canned, MockServer, result_of};

const DISCOUNT_RESPONSE: &str = include_str!("fixtures/create_response_discount.json");
const UUID: &str = "1ee00fbd-42e7-4653-b316-1ab12f8a447b";

fn gateway(server: &MockServer) -> Arc<dyn RecurringGateway> {
    Arc::new(CryptomusGateway::new(server.config().build().unwrap()).unwrap())
}

fn usd(s: &str) -> Money {
    Money::parse(s, Currency::USD).unwrap()
}

fn plan() -> paycycle_core::RecurringPlanBuilder {
    RecurringPlan::builder("Recurring payment", usd("15"), Interval::monthly())
}

#[tokio::test]
async fn create_checkout_maps_the_request_and_the_answer() {
    let server = MockServer::start(vec![Canned::new(200, DISCOUNT_RESPONSE)]).await;
    let req = CheckoutRequest::new(
        plan()
            .intro_offer(usd("1"), 30)
            .payer_currency(Currency::USDT)
            .build()
            .unwrap(),
    )
    .merchant_reference("order-42")
    .callback_url("https://your.site/callback".parse().unwrap())
    .customer(Customer {
        email: Some("ana@example.com".into()),
        name: None,
    })
    .metadata("tier", "gold");
    let checkout = gateway(&server).create_checkout(&req).await.unwrap();

    let sent = server.received()[0].json();
    assert_eq!(
        sent,
        json!({
            "amount": "15", "currency": "USD", "name": "Recurring payment", "period": "monthly",
            "to_currency": "USDT", "order_id": "order-42", "url_callback": "https://your.site/callback",
            "discount_days": 30, "discount_amount": "1",
            "additional_data": r#"{"customer":{"email":"ana@example.com","name":null},"metadata":{"tier":"gold"}}"#
        })
    );
    assert_eq!(checkout.id.as_str(), UUID);
    assert_eq!(
        checkout.url.as_str(),
        format!("https://pay.cryptomus.com/recurring/{UUID}")
    );
    assert_eq!(checkout.status, SubscriptionStatus::Pending);
    assert_eq!(
        checkout.subscription_id.as_ref().map(SubscriptionId::as_str),
        Some(UUID)
    );
    assert_eq!(
        checkout.merchant_reference.as_deref(),
        Some("order-42"),
        "the response's order_id is null: ours is kept"
    );
    assert_eq!(checkout.raw, result_of(DISCOUNT_RESPONSE));
}

#[tokio::test]
async fn a_reference_is_generated_when_absent() {
    let server = MockServer::start(vec![Canned::new(200, DISCOUNT_RESPONSE)]).await;
    let checkout = gateway(&server)
        .create_checkout(&CheckoutRequest::new(plan().build().unwrap()))
        .await
        .unwrap();
    let sent = server.received()[0].json();
    let order_id = sent["order_id"].as_str().unwrap();
    assert!(order_id.starts_with("pc_") && order_id.len() == 35, "{order_id}");
    assert_eq!(checkout.merchant_reference.as_deref(), Some(order_id));
    assert!(
        sent.get("additional_data").is_none(),
        "no customer, no metadata: nothing sent"
    );
}

#[tokio::test]
async fn unsupported_options_are_refused_before_sending() {
    let server = MockServer::start(vec![Canned::new(200, DISCOUNT_RESPONSE)]).await;
    let g = gateway(&server);
    let cases = [
        CheckoutRequest::new(plan().trial(Interval::weekly()).build().unwrap()),
        CheckoutRequest::new(
            RecurringPlan::builder("Recurring payment", usd("15"), Interval::yearly())
                .build()
                .unwrap(),
        ),
        CheckoutRequest::new(plan().end_after_periods(12).build().unwrap()),
        CheckoutRequest::new(plan().build().unwrap()).cancel_url("https://a.example/back".parse().unwrap()),
    ];
    for req in &cases {
        let err = g.create_checkout(req).await.unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    }
    let fiat_payer = CheckoutRequest::new(plan().payer_currency(Currency::EUR).build().unwrap());
    assert!(
        matches!(g.create_checkout(&fiat_payer).await, Err(Error::InvalidInput { field, .. }) if field == "plan.payer_currency")
    );
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn subscriptions_are_read_listed_and_cancelled() {
    let mut active = result_of(DISCOUNT_RESPONSE);
    active["status"] = json!("active");
    active["order_id"] = json!("order-42");
    active["last_pay_off"] = json!("2023-06-11 20:23:52");
    let mut cancelled = active.clone();
    cancelled["status"] = json!("cancel_by_merchant");
    let list = json!({
        "items": [active.clone()],
        "paginate": {"count": 1, "hasPages": true, "nextCursor": "n2", "previousCursor": null, "perPage": 1}
    });
    let server = MockServer::start(vec![
        Canned::ok(active.clone()),
        Canned::ok(active.clone()),
        Canned::ok(list),
        Canned::ok(cancelled),
    ])
    .await;
    let g = gateway(&server);

    let s = g.subscription(&SubscriptionId::new(UUID)).await.unwrap();
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.price, Some(usd("15")));
    assert_eq!(s.interval, Some(Interval::monthly()));
    assert_eq!(s.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(
        s.last_paid_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2023-06-11T17:23:52+00:00"),
        "UTC+3 on the wire"
    );
    assert_eq!(s.raw, active);

    let c = g.checkout(&CheckoutId::new(UUID)).await.unwrap();
    assert_eq!(c.status, SubscriptionStatus::Active);

    let page = g
        .subscriptions(PageRequest {
            cursor: Some("n1".into()),
            limit: Some(50),
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next_cursor.as_deref(), Some("n2"));

    let s = g.cancel_subscription(&SubscriptionId::new(UUID)).await.unwrap();
    assert_eq!(
        s.status,
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Merchant
        }
    );

    let got = server.received();
    assert_eq!(got[0].path, "/v1/recurrence/info");
    assert_eq!(got[0].json(), json!({"uuid": UUID}));
    assert_eq!(got[2].path, "/v1/recurrence/list");
    assert_eq!(got[2].query.as_deref(), Some("cursor=n1"));
    assert_eq!(got[3].path, "/v1/recurrence/cancel");
    assert_eq!(got[3].json(), json!({"uuid": UUID}));
}

#[tokio::test]
async fn all_subscriptions_follows_the_cursor() {
    let item = |u: &str| json!({"uuid": u, "status": "wait_accept", "period": "three_month"});
    let server = MockServer::start(vec![
        Canned::ok(json!({"items": [item("a")], "paginate": {"nextCursor": "2"}})),
        Canned::ok(json!({"items": [item("b")], "paginate": {"nextCursor": null}})),
    ])
    .await;
    let g = gateway(&server);
    let all: Vec<_> = g.all_subscriptions().try_collect().await.unwrap();
    assert_eq!(all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(all[0].interval, Some(Interval::months(3).unwrap()));
    assert_eq!(all[0].status, SubscriptionStatus::Pending);
}

#[tokio::test]
async fn not_found_names_what_was_asked_for() {
    let server = MockServer::start(vec![Canned::new(404, r#"{"state":1,"message":"Not found"}"#)]).await;
    let g = gateway(&server);
    match g.subscription(&SubscriptionId::new("nope")).await {
        Err(Error::NotFound { resource, id, .. }) => {
            assert_eq!((resource.as_str(), id.as_str()), ("subscription", "nope"))
        }
        other => panic!("{other:?}"),
    }
    match g.checkout(&CheckoutId::new("nope")).await {
        Err(Error::NotFound { resource, .. }) => assert_eq!(resource, "checkout"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn webhooks_are_verified_with_the_payment_key_and_headers_ignored() {
    let server = MockServer::start(vec![]).await;
    let g = gateway(&server);
    let body = paycycle_cryptomus::sign::sign_webhook(
        br#"{"type":"payment","uuid":"p-1","order_id":"order-42","amount":"15","currency":"USD","payment_amount":"15","payer_currency":"USDT","status":"paid","url":"https://a.example/x/y"}"#,
        support::KEY,
    )
    .unwrap();
    let event = g.verify_webhook(&http::HeaderMap::new(), body.as_bytes()).unwrap();
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(event.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(event.raw.json(), body, "the body is kept as sent");

    let tampered = body.replace("\"15\"", "\"1\"");
    assert!(matches!(
        g.verify_webhook(&http::HeaderMap::new(), tampered.as_bytes()),
        Err(Error::Webhook { .. })
    ));
}
