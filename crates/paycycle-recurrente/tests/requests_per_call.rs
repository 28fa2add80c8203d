//! How many requests `RecurrenteGateway::checkout` and `::subscription` send: one wherever the
//! provider's answer carries everything, two only where the documented answers do not.

// Test code: helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use paycycle_core::{CheckoutId, RecurringGateway, SubscriptionId, SubscriptionStatus};
use paycycle_recurrente::RecurrenteGateway;
use serde_json::{Value, json};
use support::{MockServer, Recorded, Reply};

/// The documented answers: a checkout in `checkout_status` (paid: it started `su_nehndm7j`),
/// and that subscription, whose `checkout` is `subscription_checkout`.
fn recurrente(checkout_status: &'static str, subscription_checkout: Value) -> impl Fn(&Recorded) -> Reply {
    move |r| match (r.method.as_str(), r.path.as_str()) {
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
            let mut s: Value = serde_json::from_str(fixture!("subscription_get")).unwrap();
            s["checkout"] = subscription_checkout.clone();
            Reply::json(200, s.to_string())
        }
        _ => Reply::json(404, r#"{"error":"Not found"}"#),
    }
}

fn paths(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn an_unpaid_checkout_is_one_request() {
    for status in ["unpaid", "payment_in_progress", "expired"] {
        let server = MockServer::start(recurrente(status, json!({"id": "ch_lmgbvesmihkqzma3"}))).await;
        let g = RecurrenteGateway::new(&server.config()).unwrap();
        let c = g.checkout(&CheckoutId::new("ch_lmgbvesmihkqzma3")).await.unwrap();
        assert_eq!(c.merchant_reference.as_deref(), Some("order-42"));
        assert_eq!(paths(&server), ["GET /api/checkouts/ch_lmgbvesmihkqzma3"], "{status}");
    }
}

#[tokio::test]
async fn a_paid_checkout_reads_its_subscriptions_status_second() {
    let server = MockServer::start(recurrente("paid", json!({"id": "ch_lmgbvesmihkqzma3"}))).await;
    let g = RecurrenteGateway::new(&server.config()).unwrap();
    let c = g.checkout(&CheckoutId::new("ch_lmgbvesmihkqzma3")).await.unwrap();
    assert_eq!(c.status, SubscriptionStatus::Active);
    assert_eq!(c.subscription_id.unwrap().as_str(), "su_nehndm7j");
    // The checkout names the subscription, not its status: that takes the second request.
    assert_eq!(
        paths(&server),
        [
            "GET /api/checkouts/ch_lmgbvesmihkqzma3",
            "GET /api/subscriptions/su_nehndm7j"
        ]
    );
}

#[tokio::test]
async fn a_subscription_reads_its_checkout_only_for_the_reference() {
    // Documented: `checkout: {"id"}` only, so the reference takes a second request.
    let server = MockServer::start(recurrente("paid", json!({"id": "ch_lmgbvesmihkqzma3"}))).await;
    let g = RecurrenteGateway::new(&server.config()).unwrap();
    let s = g.subscription(&SubscriptionId::new("su_nehndm7j")).await.unwrap();
    assert_eq!(s.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(
        paths(&server),
        [
            "GET /api/subscriptions/su_nehndm7j",
            "GET /api/checkouts/ch_lmgbvesmihkqzma3"
        ]
    );

    // An answer that carries the checkout's metadata is enough on its own.
    let embedded = json!({"id": "ch_lmgbvesmihkqzma3", "metadata": {"paycycle_reference": "order-7"}});
    let server = MockServer::start(recurrente("paid", embedded)).await;
    let g = RecurrenteGateway::new(&server.config()).unwrap();
    let s = g.subscription(&SubscriptionId::new("su_nehndm7j")).await.unwrap();
    assert_eq!(s.merchant_reference.as_deref(), Some("order-7"));
    assert_eq!(s.checkout_id.unwrap().as_str(), "ch_lmgbvesmihkqzma3");
    assert_eq!(paths(&server), ["GET /api/subscriptions/su_nehndm7j"]);

    // So is one without a checkout (nothing to read the reference from).
    let server = MockServer::start(recurrente("paid", Value::Null)).await;
    let g = RecurrenteGateway::new(&server.config()).unwrap();
    let s = g.subscription(&SubscriptionId::new("su_nehndm7j")).await.unwrap();
    assert_eq!(s.merchant_reference, None);
    assert_eq!(paths(&server), ["GET /api/subscriptions/su_nehndm7j"]);
}
