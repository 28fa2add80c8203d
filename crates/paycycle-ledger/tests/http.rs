//! The axum webhook route over real HTTP on loopback: every answer it documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use paycycle_core::{CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan};
use paycycle_ledger::Ledger;
use paycycle_sim::fake::{FakeGateway, Mimic};
use support::{Db, FakeClock, Place};

on_both!(every_answer_of_the_webhook_route);

async fn serve(ledger: Ledger, limit: usize) -> String {
    let app: axum::Router = paycycle_ledger::http::router_with_limit(ledger, limit);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn every_answer_of_the_webhook_route(db: Db) {
    let Some(place) = Place::new(db, "http").await else {
        return;
    };
    let fake = Arc::new(FakeGateway::new(Mimic::All));
    let ledger = place
        .builder()
        .gateway("fake", fake.clone())
        .clock(Arc::new(FakeClock(fake.clone())))
        .connect()
        .await
        .unwrap();
    let plan = RecurringPlan::builder("Pro", Money::parse("15", Currency::USD).unwrap(), Interval::monthly())
        .build()
        .unwrap();
    let checkout = fake
        .create_checkout(&CheckoutRequest::new(plan).merchant_reference("h-1"))
        .await
        .unwrap();
    fake.pay(&checkout.id).unwrap();
    let hook = fake.webhooks().remove(0);
    let base = serve(ledger.clone(), 4096).await;
    let client = reqwest::Client::new();
    let post = |path: &str, headers: &http::HeaderMap, body: Vec<u8>| {
        let mut req = client.post(format!("{base}{path}")).body(body);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_bytes());
        }
        req.send()
    };

    // Committed: 200, and 200 again for the redelivery, with one row stored.
    let r = post("/webhooks/fake", &hook.headers, hook.body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "received\n");
    let r = post("/webhooks/fake", &hook.headers, hook.body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("duplicate"));
    assert_eq!(ledger.inbox_counts().await.unwrap(), (1, 0, 0));

    // A bad signature: 401, one line, nothing stored.
    let mut tampered = hook.body.clone();
    tampered[3] ^= 1;
    let r = post("/webhooks/fake", &hook.headers, tampered).await.unwrap();
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(text.contains("signature"), "{text}");

    // A malformed request (no signature headers): 400.
    let r = post("/webhooks/fake", &http::HeaderMap::new(), hook.body.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("missing header"));

    // An unknown gateway: 404.
    let r = post("/webhooks/stripe", &hook.headers, hook.body.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Over the body limit: 413.
    let r = post("/webhooks/fake", &hook.headers, vec![b' '; 5000]).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        ledger.inbox_counts().await.unwrap(),
        (1, 0, 0),
        "refusals stored nothing"
    );

    // The store unavailable: 503 (the provider retries), no internals in the answer.
    let second = fake.webhooks().remove(1);
    ledger.close().await;
    let r = post("/webhooks/fake", &second.headers, second.body.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let text = r.text().await.unwrap();
    assert!(
        !text.to_lowercase().contains("pool") && !text.contains("sqlx"),
        "{text}"
    );
}
