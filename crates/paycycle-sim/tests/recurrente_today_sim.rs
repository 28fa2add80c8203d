//! The Recurrente frontend against what newer official sources add ("Recurrente today" in
//! the provider facts), over raw HTTP: bodies wrapped under the resource's name, webhook
//! endpoints (201, a secret shown once, deletion stops deliveries), checkout items by price,
//! product or details, mixed and several recurring items, `day` intervals, payment method
//! types, minimum amounts, the checkout's newer fields, exact `amount_as_decimal`, images,
//! and `GET /api/intents/{id}`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::recurrente::*;
use paycycle_sim::{DeliveryOutcome, DeliveryPolicy, RecurrenteOutcome, Simulator};
use reqwest::Method;
use serde_json::{Value, json};

async fn sim() -> Simulator {
    common::sim().await
}

fn id_of(v: &Value, prefix: &str) -> String {
    let id = v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}"));
    assert!(id.starts_with(prefix), "{id} should start with {prefix}");
    id.to_owned()
}

/// A 400 naming `field` in its message and in `errors`.
fn assert_invalid(r: &Answer, field: &str) {
    assert_eq!(r.status, 400, "{field}: {}", r.text);
    let msg = r.json["message"].as_str().unwrap();
    assert!(msg.contains(field), "`{msg}` should name {field}");
    let errors = r.json["errors"].as_object().unwrap();
    assert!(errors.keys().any(|k| k.starts_with(field)), "{}", r.text);
}

async fn put(sim: &Simulator, path: &str, body: Value) -> Answer {
    api(sim, Method::PUT, path, Some(body)).await
}

fn item(name: &str, cents: i64) -> Value {
    json!({"name": name, "currency": "GTQ", "amount_in_cents": cents})
}

async fn product(sim: &Simulator, body: Value) -> Value {
    let r = post(sim, "/api/products", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json
}

// ---------------------------------------------------------------------------------------------
// 1. Bodies wrapped under the resource's name

#[tokio::test]
async fn wrapped_and_unwrapped_bodies_read_the_same_on_every_route() {
    let sim = sim().await;
    // Checkouts: create and update (PATCH and PUT), wrapped or not.
    let body = json!({"items": [item("Banana", 3000)], "metadata": {"k": "v"}});
    let flat = post(&sim, "/api/checkouts", body.clone()).await;
    let wrapped = post(&sim, "/api/checkouts", json!({ "checkout": body })).await;
    assert_eq!((flat.status, wrapped.status), (201, 201), "{}", wrapped.text);
    let ch = id_of(&wrapped.json, "ch_");
    let got = get(&sim, &format!("/api/checkouts/{ch}")).await;
    assert_eq!(got.json["total_in_cents"], "3000");
    assert_eq!(got.json["metadata"], json!({"k": "v"}));
    let r = patch(
        &sim,
        &format!("/api/checkouts/{ch}"),
        json!({"checkout": {"success_url": "https://shop.test/ok"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["success_url"], "https://shop.test/ok");
    let r = put(
        &sim,
        &format!("/api/checkouts/{ch}"),
        json!({"checkout": {"cancel_url": "https://shop.test/back"}}),
    )
    .await;
    assert_eq!(r.json["cancel_url"], "https://shop.test/back");
    // Errors name the wrapped field.
    assert_invalid(
        &post(&sim, "/api/checkouts", json!({"checkout": {"items": []}})).await,
        "checkout.items",
    );
    assert_invalid(&post(&sim, "/api/checkouts", json!({"checkout": 7})).await, "checkout");

    // Products: the reference wraps; flat bodies are read too.
    let price = json!([{"currency": "GTQ", "amount_in_cents": 900}]);
    let wrapped = product(
        &sim,
        json!({"product": {"name": "Wrapped", "prices_attributes": price}}),
    )
    .await;
    let flat = product(&sim, json!({"name": "Flat", "prices_attributes": price})).await;
    assert_eq!(flat["name"], "Flat");
    assert_eq!(flat["prices"][0]["amount_in_cents"], 900);
    let prod = id_of(&flat, "prod_");
    let r = patch(&sim, &format!("/api/products/{prod}"), json!({"name": "Flat 2"})).await;
    assert_eq!(r.json["name"], "Flat 2", "{}", r.text);
    let r = patch(
        &sim,
        &format!("/api/products/{}", id_of(&wrapped, "prod_")),
        json!({"product": {"name": "Wrapped 2"}}),
    )
    .await;
    assert_eq!(r.json["name"], "Wrapped 2");
    assert_invalid(
        &post(&sim, "/api/products", json!({"prices_attributes": price})).await,
        "name",
    );
    assert_invalid(&post(&sim, "/api/products", json!({})).await, "product");

    // Coupons.
    let r = post(&sim, "/api/coupons", json!({"name": "Ten", "percent_off": 10})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let coup = id_of(&r.json, "coup_");
    let r = patch(
        &sim,
        &format!("/api/coupons/{coup}"),
        json!({"coupon": {"name": "Eleven"}}),
    )
    .await;
    assert_eq!(r.json["name"], "Eleven");

    // Users, customers, webhook endpoints, transfers.
    let r = post(
        &sim,
        "/api/users",
        json!({"user": {"email": "w@example.com", "full_name": "W"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id_of(&r.json, "us_");
    let r = post(&sim, "/api/customers", json!({"customer": {"email": "c@example.com"}})).await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    id_of(&r.json, "cus_");
    let r = post(
        &sim,
        "/api/webhook_endpoints",
        json!({"webhook_endpoint": {"url": "http://127.0.0.1:9/hook", "description": "d"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["description"], "d");
    assert_invalid(
        &post(&sim, "/api/webhook_endpoints", json!({"webhook_endpoint": {}})).await,
        "webhook_endpoint.url",
    );
    let r = post(
        &sim,
        "/api/transfers",
        json!({"transfer": {"currency": "GTQ", "amount_in_cents": 100, "recipient_id": "ac_1"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Refunds and one-time payments, wrapped.
    let pay = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let r = post(
        &sim,
        "/api/refunds",
        json!({"refund": {"payment_intent_id": pay.payment_intent_id}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post(
        &sim,
        "/api/one_time_payments",
        json!({"one_time_payment": {"payment_method_id": pay.payment_method_id.unwrap(),
               "items": [item("Extra", 700)]}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Webhook endpoints

#[tokio::test]
async fn endpoints_answer_201_with_the_secret_once() {
    let sim = sim().await;
    let r = post(
        &sim,
        "/api/webhook_endpoints",
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json["signingSecret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let ep = id_of(&r.json, "ep_");
    let list = get(&sim, "/api/webhook_endpoints").await;
    assert_eq!(list.json[0]["id"], ep);
    assert!(!list.text.contains("signingSecret"));
    let del = delete(&sim, &format!("/api/webhook_endpoints/{ep}")).await;
    assert_eq!(del.status, 200);
    assert!(!del.text.contains("signingSecret"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deleted_endpoint_gets_nothing_more_and_its_secret_signs_nothing() {
    let sim = sim().await;
    let hooks = hooks(0).await;
    // The official plugin's registrar: create for the URL, then delete the older endpoint.
    let old = post(&sim, "/api/webhook_endpoints", json!({"url": hooks.url})).await;
    let new = post(&sim, "/api/webhook_endpoints", json!({"url": hooks.url})).await;
    let old_secret = old.json["signingSecret"].as_str().unwrap().to_owned();
    let new_secret = new.json["signingSecret"].as_str().unwrap().to_owned();
    let old_id = id_of(&old.json, "ep_");
    assert_eq!(
        delete(&sim, &format!("/api/webhook_endpoints/{old_id}")).await.status,
        200
    );

    let ch = checkout(&sim, json!({"items": [item("Banana", 3000)]})).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    // One endpoint left: the payment's two events (legacy and unified), once each.
    let delivered = hooks.delivered();
    assert_eq!(hooks.types(), ["payment_intent.succeeded", "intent.succeeded"]);
    assert_eq!(hooks.verify(&new_secret).len(), 2);
    let v = paycycle_recurrente::webhook::RecurrenteWebhookVerifier::new([old_secret.as_str()]).unwrap();
    for d in &delivered {
        assert!(
            v.verify_event(&d.headers, &d.body).is_err(),
            "the deleted endpoint's secret signs nothing"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn deliveries_queued_for_a_deleted_endpoint_are_not_sent() {
    // Slow retries, and a receiver that keeps failing: the first event stays queued.
    let config = common::recurrente::config().delivery(
        DeliveryPolicy::default()
            .max_attempts(6)
            .initial_backoff(Duration::from_millis(300))
            .timeout(Duration::from_secs(5)),
    );
    let sim = Simulator::start(config).await.unwrap();
    let hooks = hooks(usize::MAX).await;
    let r = post(&sim, "/api/webhook_endpoints", json!({"url": hooks.url})).await;
    let ep = id_of(&r.json, "ep_");
    let ch = checkout(&sim, json!({"items": [item("Banana", 3000)]})).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    // Wait for the first attempt (answered 500), then delete while the retry is queued.
    for _ in 0..100 {
        if !hooks.hits().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(delete(&sim, &format!("/api/webhook_endpoints/{ep}")).await.status, 200);
    let attempts_then = hooks.hits().len();
    sim.flush_webhooks().await;
    assert_eq!(hooks.hits().len(), attempts_then, "no attempt after the deletion");
    // The payment's legacy event (retrying) and its unified one (queued behind it).
    let records: Vec<_> = sim.deliveries().into_iter().filter(|d| d.url == hooks.url).collect();
    assert_eq!(records.len(), 2);
    for r in &records {
        match &r.outcome {
            DeliveryOutcome::Refused { reason } => assert!(reason.contains("deleted"), "{reason}"),
            other => panic!("expected Refused, got {other:?}"),
        }
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Checkouts

#[tokio::test]
async fn items_by_price_by_product_or_inline() {
    let sim = sim().await;
    let one = product(
        &sim,
        json!({"product": {"name": "One", "prices_attributes": [{"currency": "GTQ", "amount_in_cents": 1500}]}}),
    )
    .await;
    let two = product(
        &sim,
        json!({"product": {"name": "Two", "prices_attributes": [
            {"currency": "GTQ", "amount_in_cents": 2000},
            {"currency": "GTQ", "amount_in_cents": 5000, "charge_type": "recurring", "billing_interval": "month"}]}}),
    )
    .await;
    let (one_id, two_id) = (id_of(&one, "prod_"), id_of(&two, "prod_"));
    let monthly = two["prices"][1]["id"].as_str().unwrap().to_owned();

    let ch = checkout(&sim, json!({"items": [{"price_id": monthly}]})).await;
    assert_eq!(
        get(&sim, &format!("/api/checkouts/{ch}")).await.json["total_in_cents"],
        "5000"
    );
    let ch = checkout(&sim, json!({"items": [{"product_id": one_id, "quantity": 2}]})).await;
    assert_eq!(
        get(&sim, &format!("/api/checkouts/{ch}")).await.json["total_in_cents"],
        "3000"
    );
    let ch = checkout(
        &sim,
        json!({"items": [{"product_id": two_id, "price_id": monthly}, item("Inline", 600)]}),
    )
    .await;
    assert_eq!(
        get(&sim, &format!("/api/checkouts/{ch}")).await.json["total_in_cents"],
        "5600"
    );

    // A product with several prices is ambiguous; a price of another product is refused.
    assert_invalid(
        &post(&sim, "/api/checkouts", json!({"items": [{"product_id": two_id}]})).await,
        "items[0].product_id",
    );
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [{"product_id": one_id, "price_id": monthly}]}),
        )
        .await,
        "items[0].product_id",
    );
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [{"price_id": "price_nothing"}]}),
        )
        .await,
        "items[0].price_id",
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_sign_up_fee_is_charged_once_with_the_first_payment() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    // The official plugin's shape: the plan, then "Cuota de inscripción".
    let ch = checkout(
        &sim,
        json!({"items": [
            {"name": "Plan", "amount_in_cents": 9900, "currency": "GTQ", "quantity": 1, "charge_type": "recurring",
             "billing_interval": "month", "billing_interval_count": 1},
            {"name": "Cuota de inscripción", "amount_in_cents": 5000, "currency": "GTQ", "quantity": 1,
             "charge_type": "one_time"}]}),
    )
    .await;
    assert_eq!(
        get(&sim, &format!("/api/checkouts/{ch}")).await.json["total_in_cents"],
        "14900"
    );
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let su = a.subscription_id.unwrap();
    sim.advance(chrono::Duration::days(31)).unwrap();
    sim.flush_webhooks().await;
    let paid: Vec<i64> = hooks
        .events()
        .iter()
        .filter(|e| e["event_type"] == "payment_intent.succeeded")
        .map(|e| e["amount_in_cents"].as_i64().unwrap())
        .collect();
    assert_eq!(paid, vec![14900, 9900], "fee once, then the plan alone");
    assert_eq!(
        get(&sim, &format!("/api/subscriptions/{su}")).await.json["status"],
        "active"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn several_recurring_items_bill_together_and_day_trials_work() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    let plan = |name: &str, cents: i64| {
        json!({"name": name, "amount_in_cents": cents, "currency": "GTQ", "charge_type": "recurring",
               "billing_interval": "month", "billing_interval_count": 1,
               "free_trial_interval": "day", "free_trial_interval_count": 14})
    };
    let ch = checkout(
        &sim,
        json!({"items": [plan("A", 1000), plan("B", 2000),
                         {"name": "Fee", "amount_in_cents": 500, "currency": "GTQ", "charge_type": "one_time"}]}),
    )
    .await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let su = a.subscription_id.unwrap();
    sim.flush_webhooks().await;
    // During the trial: only the fee was charged.
    let first = sim.recurrente_checkout(&ch).unwrap();
    assert_eq!(first["status"], "paid");
    let intent = get(&sim, &format!("/api/intents/{}", a.payment_intent_id)).await;
    assert_eq!(
        intent.status, 404,
        "a trial's setup is no payment intent: {}",
        intent.text
    );
    sim.advance(chrono::Duration::days(13)).unwrap();
    sim.flush_webhooks().await;
    assert!(!hooks.types().contains(&"payment_intent.succeeded".to_owned()));
    // Day 14: the two plans together.
    sim.advance(chrono::Duration::days(1)).unwrap();
    sim.flush_webhooks().await;
    let charged: Vec<i64> = hooks
        .events()
        .iter()
        .filter(|e| e["event_type"] == "payment_intent.succeeded")
        .map(|e| e["amount_in_cents"].as_i64().unwrap())
        .collect();
    assert_eq!(charged, vec![3000]);
    assert_eq!(
        get(&sim, &format!("/api/subscriptions/{su}")).await.json["status"],
        "active"
    );

    // `day` as a billing interval, any number of days (see `day_intervals_are_exact_days`).
    checkout(
        &sim,
        json!({"items": [{"name": "Every ten days", "amount_in_cents": 900, "currency": "GTQ", "charge_type": "recurring",
                          "billing_interval": "day", "billing_interval_count": 10}]}),
    )
    .await;
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [{"name": "X", "amount_in_cents": 900, "currency": "GTQ", "charge_type": "recurring",
                              "billing_interval": "day", "billing_interval_count": 0}]}),
        )
        .await,
        "items[0].billing_interval_count",
    );
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [plan("A", 1000), {"name": "Y", "amount_in_cents": 900, "currency": "GTQ",
                              "charge_type": "recurring", "billing_interval": "year"}]}),
        )
        .await,
        "items[1]",
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn payment_method_types_minimums_and_newer_checkout_fields() {
    let sim = sim().await;
    let ch = checkout(
        &sim,
        json!({"items": [{"name": "A", "amount_in_cents": 500, "currency": "GTQ",
                          "payment_method_types": ["card", "stablecoins"]},
                         {"name": "B", "amount_in_cents": 700, "currency": "GTQ",
                          "payment_method_types": ["stablecoins", "card", "bank_transfer"]}]}),
    )
    .await;
    let r = get(&sim, &format!("/api/checkouts/{ch}")).await;
    assert_eq!(r.json["payment_method_types"], json!(["card", "stablecoins"]));
    assert_eq!(r.json["subtotal_in_cents"], 1200);
    assert_eq!(r.json["discount"], Value::Null);
    assert_eq!(r.json["custom_fields"], json!([]));
    assert_eq!(r.json["transfer_setups"], json!([]));
    assert_eq!(r.json["live_mode"], false);
    // Bank transfer is not among the methods: the payer cannot use it.
    assert!(sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).is_err());
    let plain = checkout(&sim, json!({"items": [item("C", 500)]})).await;
    assert_eq!(
        get(&sim, &format!("/api/checkouts/{plain}")).await.json["payment_method_types"],
        Value::Null
    );
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [{"name": "A", "amount_in_cents": 500, "currency": "GTQ", "payment_method_types": ["cash"]}]}),
        )
        .await,
        "items[0].payment_method_types[0]",
    );

    // Minimums: 500 GTQ cents, 100 USD cents, on inline items.
    assert_invalid(
        &post(&sim, "/api/checkouts", json!({"items": [item("Low", 499)]})).await,
        "items[0].amount_in_cents",
    );
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [{"name": "Low", "currency": "USD", "amount_in_cents": 99}]}),
        )
        .await,
        "items[0].amount_in_cents",
    );
    checkout(
        &sim,
        json!({"items": [{"name": "Ok", "currency": "USD", "amount_in_cents": 100}]}),
    )
    .await;

    // Images: `image_url`, `image`, `images`.
    for (key, value) in [
        ("image_url", json!("https://img.test/a.png")),
        ("image", json!("https://img.test/a.png")),
        ("images", json!(["https://img.test/a.png", "https://img.test/b.png"])),
    ] {
        let mut it = item("Pic", 600);
        it[key] = value;
        checkout(&sim, json!({"items": [it]})).await;
    }
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [{"name": "Pic", "currency": "GTQ", "amount_in_cents": 600, "images": ["nope"]}]}),
        )
        .await,
        "items[0].images[0]",
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Products

#[tokio::test]
async fn amount_as_decimal_is_read_exactly_and_images_are_echoed() {
    let sim = sim().await;
    let p = product(
        &sim,
        json!({"product": {"name": "Dec", "image_url": "https://img.test/p.png", "prices_attributes": [
            {"currency": "GTQ", "amount_as_decimal": "5.99"},
            {"currency": "USD", "amount_as_decimal": "0.1"},
            {"currency": "GTQ", "amount_as_decimal": 12},
            {"currency": "GTQ", "amount_as_decimal": "1234567.89", "amount_in_cents": 123456789}]}}),
    )
    .await;
    let cents: Vec<i64> = p["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["amount_in_cents"].as_i64().unwrap())
        .collect();
    assert_eq!(cents, vec![599, 10, 1200, 123_456_789]);
    assert_eq!(p["image_url"], "https://img.test/p.png");
    let id = id_of(&p, "prod_");
    assert_eq!(
        get(&sim, &format!("/api/products/{id}")).await.json["image_url"],
        "https://img.test/p.png"
    );
    let r = patch(
        &sim,
        &format!("/api/products/{id}"),
        json!({"product": {"images": ["https://img.test/q.png"],
                "prices_attributes": [{"id": p["prices"][0]["id"], "amount_as_decimal": "6.50"}]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["image_url"], "https://img.test/q.png");
    assert_eq!(r.json["prices"][0]["amount_in_cents"], 650);

    let bad = |d: Value| json!({"product": {"name": "X", "prices_attributes": [{"currency": "GTQ", "amount_as_decimal": d}]}});
    for d in [
        json!("5.999"),
        json!("abc"),
        json!("-1"),
        json!("0"),
        json!(5.99),
        json!(true),
    ] {
        assert_invalid(
            &post(&sim, "/api/products", bad(d.clone())).await,
            "product.prices_attributes[0].amount_as_decimal",
        );
    }
    assert_invalid(
        &post(
            &sim,
            "/api/products",
            json!({"product": {"name": "X", "prices_attributes": [
                {"currency": "GTQ", "amount_as_decimal": "5.99", "amount_in_cents": 600}]}}),
        )
        .await,
        "product.prices_attributes[0].amount_in_cents",
    );
    assert_invalid(
        &post(
            &sim,
            "/api/products",
            json!({"product": {"name": "X", "prices_attributes": [{"currency": "GTQ"}]}}),
        )
        .await,
        "product.prices_attributes[0].amount_in_cents",
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Intents

#[tokio::test]
async fn intents_are_read_in_the_unified_shape() {
    let sim = sim().await;
    let cus = post(
        &sim,
        "/api/customers",
        json!({"email": "buyer@example.com", "nit": "1234567"}),
    )
    .await;
    let cus_id = id_of(&cus.json, "cus_");
    let ch = checkout(
        &sim,
        json!({"customer_id": cus_id, "items": [item("Banana", 3000)], "metadata": {"o": "1"}}),
    )
    .await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let in_id = format!("in_{}", a.payment_intent_id.strip_prefix("pa_").unwrap());
    let r = get(&sim, &format!("/api/intents/{in_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], in_id);
    assert_eq!(r.json["type"], "payment");
    assert_eq!(r.json["status"], "succeeded");
    assert_eq!(r.json["raw_status"], "succeeded");
    assert_eq!(r.json["amount_in_cents"], 3000);
    assert_eq!(r.json["currency"], "GTQ");
    assert_eq!(r.json["customer"]["id"], cus_id);
    assert_eq!(r.json["customer"]["email"], "buyer@example.com");
    assert_eq!(r.json["customer"]["nit"], "1234567");
    assert!(r.json["product"]["id"].as_str().unwrap().starts_with("prod_"));
    assert_eq!(r.json["checkout"]["id"], ch);
    assert_eq!(r.json["checkout"]["metadata"], json!({"o": "1"}));
    assert_eq!(r.json["live_mode"], false);
    // The legacy id of the same payment reads it too.
    assert_eq!(
        get(&sim, &format!("/api/intents/{}", a.payment_intent_id)).await.json["id"],
        in_id
    );

    // A pending bank transfer: details with null bank reference and comment.
    let ch = checkout(&sim, json!({"items": [item("Transfer", 4000)]})).await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).unwrap();
    let r = get(&sim, &format!("/api/intents/{}", a.bank_transfer_intent_id.unwrap())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["type"], "bank_transfer");
    assert_eq!(r.json["status"], "pending");
    assert_eq!(r.json["details"]["bank_reference"], Value::Null);
    assert_eq!(r.json["details"]["sender_comment"], Value::Null);

    assert_eq!(get(&sim, "/api/intents/in_nothing").await.status, 404);
    let r = api(&sim, Method::POST, "/api/intents/in_nothing", Some(json!({}))).await;
    assert_eq!(r.status, 405);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions: `PUT /api/subscriptions/{id}` (a new card), reactivation, pause hooks

/// Pays a new subscription checkout by card (as `email` if given); returns the subscription
/// and its saved card.
async fn paid_subscription(sim: &Simulator, email: Option<&str>) -> (String, String) {
    let ch = subscription_checkout(sim, recurring_item("Plan", 5000, "month")).await;
    let mut body = json!({"outcome": "card_success"});
    if let Some(e) = email {
        body["email"] = json!(e);
    }
    let r = control(sim, &format!("/__sim/recurrente/checkouts/{ch}/pay"), body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let su = id_of(&json!({"id": r.json["subscription_id"]}), "su_");
    let pm = id_of(&json!({"id": r.json["payment_method_id"]}), "pay_m_");
    (su, pm)
}

/// A JSON error body with a `message`.
fn assert_json_error(r: &Answer, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(r.json["message"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn a_new_card_is_put_on_a_subscription_and_retries_a_past_due_charge() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    let (su, _old) = paid_subscription(&sim, None).await;
    // The same payer saves a second card (another checkout).
    let (_, card) = paid_subscription(&sim, None).await;
    let (_, foreign) = paid_subscription(&sim, Some("someone.else@shop.test")).await;
    let path = format!("/api/subscriptions/{su}");

    // Bad input: 400 naming the field, nothing changes.
    assert_invalid(&put(&sim, &path, json!({})).await, "payment_method_id");
    assert_invalid(
        &put(&sim, &path, json!({"payment_method_id": ""})).await,
        "payment_method_id",
    );
    assert_invalid(
        &put(&sim, &path, json!({"payment_method_id": ["x"]})).await,
        "payment_method_id",
    );
    assert_invalid(
        &put(&sim, &path, json!({"payment_method_id": "pay_m_nope"})).await,
        "payment_method_id",
    );
    assert_invalid(
        &put(&sim, &path, json!({"payment_method_id": foreign})).await,
        "payment_method_id",
    );
    assert_invalid(
        &put(&sim, &path, json!({"subscription": {"payment_method_id": 7}})).await,
        "subscription.payment_method_id",
    );
    assert_invalid(&put(&sim, &path, json!({"subscription": "x"})).await, "subscription");
    let r = request(
        &sim,
        Method::PUT,
        &path,
        None,
        Some(&json!({"payment_method_id": card})),
    )
    .await;
    assert_json_error(&r, 401);
    // An unknown subscription: 404 JSON.
    let r = put(
        &sim,
        "/api/subscriptions/su_nothere",
        json!({"payment_method_id": card}),
    )
    .await;
    assert_json_error(&r, 404);

    // A renewal fails: past due. The new card (wrapped body) retries it at once.
    let r = control(
        &sim,
        &format!("/__sim/recurrente/subscriptions/{su}/fail_next_charge"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    sim.advance(chrono::Duration::days(31)).unwrap();
    assert_eq!(get(&sim, &path).await.json["status"], "past_due");
    let r = put(&sim, &path, json!({"subscription": {"payment_method_id": card}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], su.as_str());
    assert_eq!(r.json["status"], "active", "{}", r.text);
    sim.flush_webhooks().await;
    let mine: Vec<String> = hooks
        .events()
        .iter()
        .filter(|e| e["payment"]["paymentable"]["id"] == su.as_str() || e["id"] == su.as_str())
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    let failed = mine
        .iter()
        .position(|t| t == "payment_intent.failed")
        .expect("a failed renewal");
    assert!(
        mine[failed..].iter().any(|t| t == "payment_intent.succeeded"),
        "the retry succeeded after the failure: {mine:?}"
    );
    // An active subscription takes a new card without a charge.
    let before = hooks.events().len();
    let r = put(&sim, &path, json!({"payment_method_id": card})).await;
    assert_eq!(
        (r.status, r.json["status"].clone()),
        (200, json!("active")),
        "{}",
        r.text
    );
    sim.flush_webhooks().await;
    assert_eq!(hooks.events().len(), before);

    // A cancelled subscription: 422.
    assert_eq!(delete(&sim, &path).await.status, 200);
    let r = put(&sim, &path, json!({"payment_method_id": card})).await;
    assert_json_error(&r, 422);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_subscription_is_reactivated_by_the_unofficial_hook() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    let (su, _) = paid_subscription(&sim, None).await;
    let path = format!("/api/subscriptions/{su}");
    let hook = format!("/__sim/recurrente/subscriptions/{su}/reactivate");
    // Not cancelled: 409, as JSON.
    let r = control(&sim, &hook, json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_state");
    // Unknown: 404, as JSON.
    let r = control(&sim, "/__sim/recurrente/subscriptions/su_nothere/reactivate", json!({})).await;
    assert_eq!(
        (r.status, r.json["error"].clone()),
        (404, json!("not_found")),
        "{}",
        r.text
    );

    assert_eq!(delete(&sim, &path).await.status, 200);
    sim.advance(chrono::Duration::days(10)).unwrap();
    let r = control(&sim, &hook, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(r.json["subscription"]["status"], "active");
    assert_eq!(r.json["transitions"][0]["type"], "reactivated", "{}", r.text);
    assert_eq!(get(&sim, &path).await.json["status"], "active");
    sim.flush_webhooks().await;
    let types = hooks.types();
    let cancel = types.iter().position(|t| t == "subscription.cancel").unwrap();
    let back = types.iter().position(|t| t == "subscription.reactivate").unwrap();
    assert!(cancel < back, "{types:?}");
    let event = &hooks.events()[back];
    assert_eq!(event["id"], su.as_str());
    // Billing picks up at the next scheduled period: nothing for the time it was cancelled.
    let paid = |hooks: &Hooks| {
        hooks
            .types()
            .iter()
            .filter(|t| *t == "payment_intent.succeeded")
            .count()
    };
    assert_eq!(paid(&hooks), 1);
    sim.advance(chrono::Duration::days(21)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(paid(&hooks), 2, "{:?}", hooks.types());
    assert_eq!(get(&sim, &path).await.json["status"], "active");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_pause_and_resume_hooks_answer_json() {
    let sim = sim().await;
    let (su, _) = paid_subscription(&sim, None).await;
    let is_json = |r: &Answer| {
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    };
    let pause = format!("/__sim/recurrente/subscriptions/{su}/pause");
    let resume = format!("/__sim/recurrente/subscriptions/{su}/resume");
    let r = control(&sim, &pause, json!({})).await;
    assert!(r.status == 200 && is_json(&r), "{}", r.text);
    assert_eq!(r.json["subscription"]["status"], "paused");
    assert_eq!(r.json["transitions"][0]["type"], "paused");
    let r = control(&sim, &pause, json!({})).await;
    assert!(r.status == 409 && is_json(&r), "{}", r.text);
    assert_eq!(r.json["error"], "invalid_state");
    let r = control(&sim, &resume, json!({})).await;
    assert!(r.status == 200 && is_json(&r), "{}", r.text);
    assert_eq!(r.json["subscription"]["status"], "active");
    let r = control(&sim, &resume, json!({})).await;
    assert!(r.status == 409 && is_json(&r), "{}", r.text);
    let r = control(&sim, "/__sim/recurrente/subscriptions/su_nothere/pause", json!({})).await;
    assert!(r.status == 404 && is_json(&r), "{}", r.text);
    assert_eq!(r.json["error"], "not_found");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Event names and bodies: `subscription.pause` (legacy `.paused` behind a switch),
// `refund.create`, `live_mode: false`

/// Pauses and resumes a new subscription; returns it with the delivered events.
async fn pause_and_resume(sim: &Simulator, hooks: &Hooks) -> (String, Vec<Value>) {
    let (su, _) = paid_subscription(sim, None).await;
    for step in ["pause", "resume"] {
        let r = control(sim, &format!("/__sim/recurrente/subscriptions/{su}/{step}"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    sim.flush_webhooks().await;
    let mine = hooks.events().into_iter().filter(|e| e["id"] == su.as_str()).collect();
    (su, mine)
}

fn event_types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["event_type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_pause_sends_todays_subscription_pause_by_default() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    let (su, events) = pause_and_resume(&sim, &hooks).await;
    assert_eq!(
        event_types(&events),
        ["subscription.create", "subscription.pause", "subscription.unpause"]
    );
    assert!(!hooks.types().iter().any(|t| t == "subscription.paused"));
    let verified = hooks.verify(sim.recurrente_webhook_secret());
    let paused = verified
        .iter()
        .find(|e| e.provider_type == "subscription.pause")
        .unwrap();
    assert_eq!(paused.kind, paycycle_core::EventKind::SubscriptionPaused);
    assert_eq!(paused.subscription_id.as_ref().unwrap().as_str(), su);
    assert_eq!(
        paused.subscription_status,
        Some(paycycle_core::SubscriptionStatus::Paused)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_legacy_switch_sends_subscription_paused() {
    let hooks = hooks(0).await;
    let sim = Simulator::start(
        config()
            .recurrente_webhook_url(&hooks.url)
            .recurrente_legacy_pause_event(true),
    )
    .await
    .unwrap();
    let (_, events) = pause_and_resume(&sim, &hooks).await;
    assert_eq!(
        event_types(&events),
        ["subscription.create", "subscription.paused", "subscription.unpause"]
    );
    assert!(!hooks.types().iter().any(|t| t == "subscription.pause"));
    let verified = hooks.verify(sim.recurrente_webhook_secret());
    let paused = verified
        .iter()
        .find(|e| e.provider_type == "subscription.paused")
        .unwrap();
    assert_eq!(paused.kind, paycycle_core::EventKind::SubscriptionPaused);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refund_sends_a_signed_refund_create_that_normalizes_to_payment_refunded() {
    let config_hook = hooks(0).await;
    let sim = sim_with_hook(&config_hook.url).await;
    // An endpoint created through the API gets it too, signed with its own secret.
    let endpoint_hook = hooks(0).await;
    let ep = post(&sim, "/api/webhook_endpoints", json!({"url": endpoint_hook.url})).await;
    assert_eq!(ep.status, 201, "{}", ep.text);
    let secret = ep.json["signingSecret"].as_str().unwrap().to_owned();

    let ch = checkout(
        &sim,
        json!({"items": [item("Banana", 2500)], "metadata": {"order": "o-7"}}),
    )
    .await;
    let paid = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let pa = paid.payment_intent_id.clone();
    sim.flush_webhooks().await;
    let before = config_hook.events().len();
    let r = post(&sim, "/api/refunds", json!({"refund": {"payment_intent_id": pa}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let re = id_of(&r.json, "re_");
    sim.flush_webhooks().await;

    let events = config_hook.events();
    assert_eq!(events.len(), before + 1, "{:?}", config_hook.types());
    let body = &events[before];
    assert_eq!(body["event_type"], "refund.create");
    assert_eq!(body["id"], re.as_str());
    assert_eq!(body["payment_intent"]["id"], pa.as_str());
    assert_eq!(body["amount_in_cents"], 2500);
    assert_eq!(body["customer_refunded_amount_in_cents"], 2500);
    assert_eq!(body["currency"], "GTQ");
    assert_eq!(body["created_at"], "2026-01-10T09:00:00.000Z");
    assert_eq!(body["checkout"]["id"], ch.as_str());
    assert_eq!(body["checkout"]["metadata"], json!({"order": "o-7"}));
    assert_eq!(body["live_mode"], false);

    // The real verifier, with each target's secret.
    for (hook, secret) in [
        (&config_hook, sim.recurrente_webhook_secret().to_owned()),
        (&endpoint_hook, secret),
    ] {
        let verified = hook.verify(&secret);
        let refund = verified.iter().find(|e| e.provider_type == "refund.create").unwrap();
        assert_eq!(refund.kind, paycycle_core::EventKind::PaymentRefunded);
        let payment = refund.payment.as_ref().unwrap();
        assert_eq!(payment.id.as_ref().unwrap().as_str(), pa);
        assert_eq!(payment.status, paycycle_core::PaymentStatus::Refunded);
        assert_eq!(
            payment.amount,
            Some(paycycle_core::Money::from_minor_units(2500, paycycle_core::Currency::GTQ).unwrap())
        );
        assert_eq!(refund.checkout_id.as_ref().unwrap().as_str(), ch);
    }

    // A second refund of the same payment is refused and sends nothing.
    let again = post(&sim, "/api/refunds", json!({"payment_intent_id": pa})).await;
    assert_eq!(again.status, 422, "{}", again.text);
    sim.flush_webhooks().await;
    assert_eq!(config_hook.events().len(), before + 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn every_event_says_live_mode_false() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    // Subscriptions by card (create, pause, unpause, renewals, a failed charge, past due,
    // cancel), a trial's setup, a bank transfer, a one-time payment and its refund.
    let (su, _) = paid_subscription(&sim, None).await;
    for step in ["pause", "resume", "fail_next_charge"] {
        control(&sim, &format!("/__sim/recurrente/subscriptions/{su}/{step}"), json!({})).await;
    }
    sim.advance(chrono::Duration::days(31)).unwrap();
    assert_eq!(delete(&sim, &format!("/api/subscriptions/{su}")).await.status, 200);
    let mut trial = recurring_item("Trial", 5000, "month");
    trial["free_trial_interval"] = json!("month");
    trial["free_trial_interval_count"] = json!(1);
    let ch = subscription_checkout(&sim, trial).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let ch = subscription_checkout(&sim, recurring_item("Bank", 5000, "month")).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).unwrap();
    let ch = checkout(&sim, json!({"items": [item("Banana", 2500)]})).await;
    let pa = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .payment_intent_id;
    let r = post(&sim, "/api/refunds", json!({"payment_intent_id": pa})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    sim.flush_webhooks().await;

    let events = hooks.events();
    let types: std::collections::BTreeSet<&str> = event_types(&events).into_iter().collect();
    for t in [
        "payment_intent.succeeded",
        "payment_intent.failed",
        "subscription.create",
        "subscription.pause",
        "subscription.unpause",
        "subscription.past_due",
        "subscription.cancel",
        "setup_intent.succeeded",
        "bank_transfer_intent.pending",
        "refund.create",
    ] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }
    for e in &events {
        assert_eq!(e["live_mode"], false, "{e:#}");
    }
    for e in hooks.verify(sim.recurrente_webhook_secret()) {
        assert_eq!(paycycle_recurrente::webhook::live_mode(&e.raw), Some(false));
    }
    sim.shutdown().await;
}
