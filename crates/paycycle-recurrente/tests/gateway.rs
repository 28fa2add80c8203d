//! `RecurrenteGateway` through the common trait, against a local HTTP server.

// Test code: helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use paycycle_core::{
    CancelledBy, CheckoutId, CheckoutRequest, Currency, Customer, Error, EventKind, FixedClock, GatewayId, Interval,
    IntervalUnit, Money, PageRequest, RecurringGateway, RecurringGatewayExt, RecurringPlan, SubscriptionId,
    SubscriptionStatus,
};
use paycycle_recurrente::RecurrenteGateway;
use paycycle_recurrente::webhook::signed_headers;
use serde_json::{Value, json};
use support::{MockServer, Recorded, Reply, WEBHOOK_SECRET};

fn gtq(s: &str) -> Money {
    Money::parse(s, Currency::GTQ).unwrap()
}

fn plan() -> RecurringPlan {
    RecurringPlan::builder(
        "Membresía Gold",
        gtq("50"),
        Interval::new(IntervalUnit::Month, 3).unwrap(),
    )
    .trial(Interval::weekly())
    .end_after_periods(12)
    .build()
    .unwrap()
}

fn gateway(server: &MockServer) -> RecurrenteGateway {
    RecurrenteGateway::new(&server.config()).unwrap()
}

/// A Recurrente holding one checkout (in `status`) that, once paid, started `su_nehndm7j`.
fn recurrente(checkout_status: &'static str, subscription_status: &'static str) -> impl Fn(&Recorded) -> Reply {
    move |r| {
        let p = r.path.as_str();
        match (r.method.as_str(), p) {
            ("POST", "/api/users") => Reply::json(200, r#"{"email":"ana@example.com","id":"us_ana"}"#),
            ("POST", "/api/customers") => Reply::json(
                201,
                r#"{"id":"cus_ana","user_id":"us_ana","email":"ana@example.com","name":"Ana Pérez","phone":null,"address":null,"nit":null,"metadata":{}}"#,
            ),
            ("POST", "/api/checkouts") => Reply::json(201, fixture!("checkout_created_items")),
            ("GET", "/api/checkouts/ch_lmgbvesmihkqzma3") => {
                let mut c: Value = serde_json::from_str(fixture!("checkouts_list")).unwrap();
                let mut c = c[0].take();
                c["status"] = json!(checkout_status);
                c["metadata"] = json!({"paycycle_reference": "order-42"});
                if checkout_status != "paid" {
                    c["payment"] = Value::Null;
                }
                Reply::json(200, c.to_string())
            }
            ("GET", "/api/subscriptions/su_nehndm7j") => {
                let s = fixture!("subscription_get").replace(
                    r#""status": "active""#,
                    &format!(r#""status": "{subscription_status}""#),
                );
                Reply::json(200, s)
            }
            ("DELETE", "/api/subscriptions/su_nehndm7j") => Reply::json(200, fixture!("subscription_cancelled")),
            ("GET", "/api/subscriptions") => Reply::json(200, fixture!("subscriptions_list")),
            _ => Reply::json(404, r#"{"error":"Not found"}"#),
        }
    }
}

#[tokio::test]
async fn create_checkout_sends_one_recurring_item_and_finds_or_creates_the_customer_first() {
    let server = MockServer::start(recurrente("unpaid", "active")).await;
    let g = gateway(&server);
    let request = CheckoutRequest::new(plan())
        .merchant_reference("order-42")
        .customer(Customer {
            email: Some("ana@example.com".into()),
            name: Some("Ana Pérez".into()),
        })
        .success_url("https://shop.example/ok".parse().unwrap())
        .cancel_url("https://shop.example/cancel".parse().unwrap())
        .metadata("plan", "gold");
    let checkout = g.create_checkout(&request).await.unwrap();
    assert_eq!(checkout.gateway, GatewayId::RECURRENTE);
    assert_eq!(checkout.id.as_str(), "ch_eegw9j5zgqoae3ms");
    assert_eq!(
        checkout.url.as_str(),
        "https://app.recurrente.com/checkout-session/ch_eegw9j5zgqoae3ms"
    );
    assert_eq!(checkout.status, SubscriptionStatus::Pending);
    assert_eq!(checkout.subscription_id, None);
    assert_eq!(checkout.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(checkout.raw["id"], "ch_eegw9j5zgqoae3ms");

    let seen = server.requests();
    assert_eq!(server.lines(), ["POST /api/customers", "POST /api/checkouts"]);
    assert_eq!(
        seen[0].json(),
        json!({"email": "ana@example.com", "full_name": "Ana Pérez"})
    );
    assert_eq!(
        seen[1].json(),
        json!({
            "items": [{
                "name": "Membresía Gold",
                "currency": "GTQ",
                "amount_in_cents": 5000,
                "charge_type": "recurring",
                "billing_interval": "month",
                "billing_interval_count": 3,
                "free_trial_interval": "week",
                "free_trial_interval_count": 1,
                "periods_before_automatic_cancellation": 12
            }],
            "success_url": "https://shop.example/ok",
            "cancel_url": "https://shop.example/cancel",
            "customer_id": "cus_ana",
            "metadata": {"plan": "gold", "paycycle_reference": "order-42"}
        })
    );
}

#[tokio::test]
async fn without_a_customers_api_the_gateway_creates_a_user() {
    let inner = recurrente("unpaid", "active");
    let server = MockServer::start(move |r: &Recorded| {
        if r.path == "/api/customers" {
            Reply::json(404, r#"{"message":"Not found"}"#)
        } else {
            inner(r)
        }
    })
    .await;
    let request = CheckoutRequest::new(plan()).customer(Customer {
        email: Some("ana@example.com".into()),
        name: Some("Ana Pérez".into()),
    });
    gateway(&server).create_checkout(&request).await.unwrap();
    assert_eq!(
        server.lines(),
        ["POST /api/customers", "POST /api/users", "POST /api/checkouts"]
    );
    let seen = server.requests();
    assert_eq!(
        seen[1].json(),
        json!({"email": "ana@example.com", "full_name": "Ana Pérez"})
    );
    assert_eq!(seen[2].json()["user_id"], "us_ana");
    assert!(seen[2].json().get("customer_id").is_none());
}

#[tokio::test]
async fn a_generated_reference_and_no_customer() {
    let server = MockServer::start(recurrente("unpaid", "active")).await;
    let plan = RecurringPlan::builder(
        "Basic",
        Money::parse("9.99", Currency::USD).unwrap(),
        Interval::yearly(),
    )
    .build()
    .unwrap();
    let checkout = gateway(&server)
        .create_checkout(&CheckoutRequest::new(plan))
        .await
        .unwrap();
    let reference = checkout.merchant_reference.clone().unwrap();
    assert!(reference.starts_with("pc_"));
    let sent = server.requests()[0].json();
    assert_eq!(server.lines(), ["POST /api/checkouts"]);
    assert_eq!(sent["metadata"]["paycycle_reference"], reference.as_str());
    assert_eq!(sent["items"][0]["amount_in_cents"], 999);
    assert_eq!(sent["items"][0]["currency"], "USD");
    assert_eq!(sent["items"][0]["billing_interval"], "year");
    assert!(sent.get("user_id").is_none());
}

#[tokio::test]
async fn what_recurrente_cannot_do_is_refused_before_sending() {
    let server = MockServer::start(recurrente("unpaid", "active")).await;
    let g = gateway(&server);
    let unsupported = |r: Result<paycycle_core::Checkout, Error>| match r {
        Err(Error::Unsupported { gateway, feature }) => {
            assert_eq!(gateway, GatewayId::RECURRENTE);
            feature
        }
        other => panic!("expected unsupported, got {other:?}"),
    };
    let intro = RecurringPlan::builder("G", gtq("50"), Interval::monthly())
        .intro_offer(gtq("10"), 30)
        .build()
        .unwrap();
    assert_eq!(
        unsupported(g.create_checkout(&CheckoutRequest::new(intro)).await),
        "intro offers"
    );
    let payer = RecurringPlan::builder("G", gtq("50"), Interval::monthly())
        .payer_currency(Currency::USD)
        .build()
        .unwrap();
    assert!(unsupported(g.create_checkout(&CheckoutRequest::new(payer)).await).contains("payer currency"));
    let callback = CheckoutRequest::new(plan()).callback_url("https://shop.example/hook".parse().unwrap());
    assert!(unsupported(g.create_checkout(&callback).await).contains("callback"));
    let eur = RecurringPlan::builder("G", Money::parse("5", Currency::EUR).unwrap(), Interval::monthly())
        .build()
        .unwrap();
    assert_eq!(
        unsupported(g.create_checkout(&CheckoutRequest::new(eur)).await),
        "prices in EUR"
    );

    let nameless = CheckoutRequest::new(plan()).customer(Customer {
        email: None,
        name: Some("Ana".into()),
    });
    let err = g.create_checkout(&nameless).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "customer.email"),
        "{err:?}"
    );
    let fraction = RecurringPlan::builder("G", gtq("10.001"), Interval::monthly())
        .build()
        .unwrap();
    let err = g.create_checkout(&CheckoutRequest::new(fraction)).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "items[0].amount_in_cents"),
        "{err:?}"
    );
    let mut crowded = CheckoutRequest::new(plan());
    for i in 0..50 {
        crowded = crowded.metadata(format!("k{i}"), "v");
    }
    let err = g.create_checkout(&crowded).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "metadata"),
        "50 keys plus paycycle_reference is one too many: {err:?}"
    );
    // An invalid checkout must not leave a user behind: nothing at all was sent.
    let bad_email = CheckoutRequest::new(plan()).customer(Customer {
        email: Some("not-an-email".into()),
        name: None,
    });
    assert!(g.create_checkout(&bad_email).await.is_err());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn checkout_status_follows_the_subscription_once_paid() {
    let id = CheckoutId::new("ch_lmgbvesmihkqzma3");
    let rows = [
        ("unpaid", "active", SubscriptionStatus::Pending, None),
        ("payment_in_progress", "active", SubscriptionStatus::Pending, None),
        ("expired", "active", SubscriptionStatus::Failed, None),
        ("paid", "active", SubscriptionStatus::Active, Some("su_nehndm7j")),
        (
            "paid",
            "unable_to_start",
            SubscriptionStatus::Failed,
            Some("su_nehndm7j"),
        ),
        (
            "refunded",
            "active",
            SubscriptionStatus::Unknown("refunded".into()),
            None,
        ),
    ];
    for (checkout_status, sub_status, expected, sub) in rows {
        let server = MockServer::start(recurrente(checkout_status, sub_status)).await;
        let c = gateway(&server).checkout(&id).await.unwrap();
        assert_eq!(c.status, expected, "{checkout_status}/{sub_status}");
        assert_eq!(c.subscription_id.as_ref().map(SubscriptionId::as_str), sub);
        assert_eq!(c.merchant_reference.as_deref(), Some("order-42"));
        assert_eq!(
            c.expires_at,
            Some(Utc.with_ymd_and_hms(2050, 5, 15, 13, 45, 30).unwrap())
        );
        assert_eq!(
            c.url.as_str(),
            format!("{}/checkout-session/ch_lmgbvesmihkqzma3", server.url())
        );
        let expected_lines: Vec<&str> = if checkout_status == "paid" {
            vec![
                "GET /api/checkouts/ch_lmgbvesmihkqzma3",
                "GET /api/subscriptions/su_nehndm7j",
            ]
        } else {
            vec!["GET /api/checkouts/ch_lmgbvesmihkqzma3"]
        };
        assert_eq!(server.lines(), expected_lines);
    }
    let server = MockServer::start(recurrente("unpaid", "active")).await;
    let err = gateway(&server)
        .checkout(&CheckoutId::new("ch_nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { ref id, .. } if id == "ch_nope"));
}

#[tokio::test]
async fn subscriptions_carry_the_reference_of_their_checkout() {
    let server = MockServer::start(recurrente("paid", "past_due")).await;
    let g = gateway(&server);
    let s = g.subscription(&SubscriptionId::new("su_nehndm7j")).await.unwrap();
    assert_eq!(s.status, SubscriptionStatus::PastDue);
    assert_eq!(s.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(s.checkout_id.unwrap().as_str(), "ch_lmgbvesmihkqzma3");
    assert_eq!(s.created_at.unwrap().to_rfc3339(), "2024-03-01T09:52:12.636+00:00");
    assert_eq!(s.raw["subscriber"]["full_name"], "Fela Kuti");
    assert_eq!(
        server.lines(),
        [
            "GET /api/subscriptions/su_nehndm7j",
            "GET /api/checkouts/ch_lmgbvesmihkqzma3"
        ]
    );

    // The via-checkout convenience of the core works on top.
    let server = MockServer::start(recurrente("paid", "active")).await;
    let s = gateway(&server)
        .subscription_for_checkout(&CheckoutId::new("ch_lmgbvesmihkqzma3"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.id.as_str(), "su_nehndm7j");
}

#[tokio::test]
async fn subscription_pages_use_page_numbers_as_cursors() {
    let server = MockServer::start(recurrente("paid", "active")).await;
    let g = gateway(&server);
    let page = g
        .subscriptions(PageRequest {
            cursor: Some("2".into()),
            limit: Some(1),
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].status, SubscriptionStatus::Active);
    assert_eq!(
        page.next_cursor.as_deref(),
        Some("3"),
        "a full page may have a successor"
    );
    let page = g.subscriptions(PageRequest::default()).await.unwrap();
    assert_eq!(page.next_cursor, None, "1 of a page of 100");
    assert_eq!(
        server.lines(),
        [
            "GET /api/subscriptions?page=2&items=1",
            "GET /api/subscriptions?page=1&items=100"
        ]
    );
    let all: Vec<_> = g.all_subscriptions().try_collect().await.unwrap();
    assert_eq!(all.len(), 1);
    let err = g
        .subscriptions(PageRequest {
            cursor: Some("abc".into()),
            limit: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "cursor"));
}

#[tokio::test]
async fn cancel_deletes_then_reads_the_subscription_back() {
    let server = MockServer::start(recurrente("paid", "cancelled")).await;
    let s = gateway(&server)
        .cancel_subscription(&SubscriptionId::new("su_nehndm7j"))
        .await
        .unwrap();
    // The GET says only `cancelled`; the gateway knows the merchant just cancelled it.
    assert_eq!(
        s.status,
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Merchant
        }
    );
    assert_eq!(s.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(
        server.lines(),
        [
            "DELETE /api/subscriptions/su_nehndm7j",
            "GET /api/subscriptions/su_nehndm7j",
            "GET /api/checkouts/ch_lmgbvesmihkqzma3"
        ]
    );
    let err = gateway(&server)
        .cancel_subscription(&SubscriptionId::new("su_gone"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { ref resource, .. } if resource == "subscription"));
}

#[tokio::test]
async fn webhooks_are_verified_with_the_configured_secret_and_clock() {
    let server = MockServer::start(recurrente("unpaid", "active")).await;
    let now = 1_760_363_967;
    let clock = Arc::new(FixedClock(Utc.timestamp_opt(now, 0).unwrap()));
    let g = RecurrenteGateway::with_clock(&server.config(), clock).unwrap();
    let body = fixture!("event_subscription_create").as_bytes();
    let headers = signed_headers(WEBHOOK_SECRET, "msg_1", now - 60, body).unwrap();
    let event = g.verify_webhook(&headers, body).unwrap();
    assert_eq!(event.kind, EventKind::SubscriptionStarted);
    assert_eq!(event.id.as_str(), "msg_1");
    assert_eq!(event.gateway, GatewayId::RECURRENTE);

    let stale = signed_headers(WEBHOOK_SECRET, "msg_1", now - 3600, body).unwrap();
    assert!(matches!(g.verify_webhook(&stale, body), Err(Error::Webhook { .. })));
    assert!(server.requests().is_empty(), "verification is pure CPU");

    // With the system clock, a message signed at that fixed instant is far outside 5 minutes.
    let g = RecurrenteGateway::new(&server.config()).unwrap();
    assert!(g.verify_webhook(&headers, body).is_err());
}

#[tokio::test]
async fn the_gateway_is_usable_as_a_trait_object() {
    let server = MockServer::start(recurrente("unpaid", "active")).await;
    let g: Arc<dyn RecurringGateway> = Arc::new(gateway(&server));
    assert_eq!(g.id(), GatewayId::RECURRENTE);
    assert!(g.capabilities().trial);
    assert!(!g.capabilities().pause);
    let c = g.checkout(&CheckoutId::new("ch_lmgbvesmihkqzma3")).await.unwrap();
    assert_eq!(c.status, SubscriptionStatus::Pending);
}
