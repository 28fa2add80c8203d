//! The rest of "Recurrente today" in the simulator, over raw HTTP: unified `intent.*` events
//! beside the legacy ones (one payment identity through `payment.id`), bank transfer
//! references and comments, per-item options, setup (card-saving) checkouts and the
//! card-update guide, and `day` intervals counted in exact days.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::recurrente::*;
use paycycle_core::EventKind;
use paycycle_recurrente::webhook::bank_transfer_details;
use paycycle_sim::{RecurrenteOutcome, RecurrentePaymentEvents, Simulator};
use reqwest::Method;
use serde_json::{Value, json};

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn item(name: &str, cents: i64) -> Value {
    json!({"name": name, "currency": "GTQ", "amount_in_cents": cents})
}

/// A 400 naming `field` in its message and in `errors`.
fn assert_invalid(r: &Answer, field: &str) {
    assert_eq!(r.status, 400, "{field}: {}", r.text);
    let msg = r.json["message"].as_str().unwrap();
    assert!(msg.contains(field), "`{msg}` should name {field}");
    let errors = r.json["errors"].as_object().unwrap();
    assert!(errors.keys().any(|k| k.starts_with(field)), "{}", r.text);
}

async fn pay(sim: &Simulator, checkout_id: &str, body: Value) -> Answer {
    control(sim, &format!("/__sim/recurrente/checkouts/{checkout_id}/pay"), body).await
}

async fn sim_sending(events: RecurrentePaymentEvents, url: &str) -> Simulator {
    Simulator::start(config().recurrente_payment_events(events).recurrente_webhook_url(url))
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Unified `intent.*` events beside the legacy ones

#[tokio::test]
async fn every_payment_goes_out_legacy_and_unified_with_one_payment_identity() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    let cus = post(&sim, "/api/customers", json!({"email": "ana@example.com", "nit": "CF"})).await;
    let cus_id = cus.json["id"].as_str().unwrap().to_owned();
    let mut plan = recurring_item("Gold", 5000, "month");
    plan["quantity"] = json!(1);
    let ch = checkout(
        &sim,
        json!({"customer_id": cus_id, "items": [plan], "metadata": {"paycycle_reference": "order-42"}}),
    )
    .await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let su = a.subscription_id.clone().unwrap();
    sim.flush_webhooks().await;

    // Legacy first, then its unified twin, as separate Svix messages.
    assert_eq!(
        hooks.types(),
        ["payment_intent.succeeded", "intent.succeeded", "subscription.create"]
    );
    let hits = hooks.delivered();
    let ids: HashSet<String> = hits.iter().map(|h| h.header("svix-id")).collect();
    assert_eq!(ids.len(), 3, "each event is its own message");
    let events = hooks.events();
    let (legacy, unified) = (&events[0], &events[1]);

    // The unified body, per the migration guide.
    let in_id = format!("in_{}", a.payment_intent_id.strip_prefix("pa_").unwrap());
    assert_eq!(unified["event_type"], "intent.succeeded");
    assert_eq!(unified["type"], "payment");
    assert_eq!(unified["id"], in_id);
    assert_eq!(unified["status"], "succeeded");
    assert_eq!(unified["raw_status"], "succeeded");
    assert_eq!(unified["amount_in_cents"], 5000);
    assert_eq!(unified["currency"], "GTQ");
    assert_eq!(unified["customer"]["id"], cus_id);
    assert_eq!(unified["customer"]["email"], "ana@example.com");
    assert_eq!(unified["customer"]["nit"], "CF");
    assert_eq!(unified["product"]["id"], legacy["product"]["id"]);
    assert_eq!(unified["checkout"]["id"], ch);
    assert_eq!(unified["checkout"]["metadata"]["paycycle_reference"], "order-42");
    assert_eq!(unified["details"]["card"]["last4"], "4242");
    assert_eq!(unified["live_mode"], false);
    // The same payment object as the legacy event's.
    assert_eq!(unified["payment"], legacy["payment"]);
    assert_eq!(unified["payment"]["id"], a.payment_intent_id);
    assert_eq!(unified["payment"]["paymentable"]["id"], su);
    // GET /api/intents/{id} serves the same intent.
    let got = get(&sim, &format!("/api/intents/{in_id}")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    for key in [
        "id",
        "type",
        "status",
        "raw_status",
        "amount_in_cents",
        "customer",
        "payment",
        "details",
    ] {
        assert_eq!(got.json[key], unified[key], "{key}");
    }

    // The client reads both as one payment of one subscription, under two event ids.
    let verified = hooks.verify(sim.recurrente_webhook_secret());
    let (l, u) = (&verified[0], &verified[1]);
    assert_eq!(l.kind, EventKind::PaymentSucceeded);
    assert_eq!(u.kind, EventKind::PaymentSucceeded);
    assert_ne!(l.id, u.id);
    let pid = |e: &paycycle_core::WebhookEvent| e.payment.as_ref().and_then(|p| p.id.clone());
    assert_eq!(pid(l), pid(u));
    assert_eq!(pid(u).unwrap().as_str(), a.payment_intent_id);
    assert_eq!(l.subscription_id, u.subscription_id);
    assert_eq!(u.subscription_id.as_ref().unwrap().as_str(), su);
    assert_eq!(l.checkout_id, u.checkout_id);
    assert_eq!(u.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(l.payment.as_ref().unwrap().amount, u.payment.as_ref().unwrap().amount);

    // A renewal: a new payment, twice again, one identity.
    sim.advance(days(31)).unwrap();
    sim.flush_webhooks().await;
    let verified = hooks.verify(sim.recurrente_webhook_secret());
    let renewal: Vec<_> = verified[3..].iter().collect();
    assert_eq!(
        renewal.iter().map(|e| e.provider_type.as_str()).collect::<Vec<_>>(),
        ["payment_intent.succeeded", "intent.succeeded"]
    );
    assert_eq!(pid(renewal[0]), pid(renewal[1]));
    assert_ne!(pid(renewal[0]), pid(l), "a renewal is a new payment");

    // A declined card on a one-time checkout: failed, in both forms.
    let one = checkout(&sim, json!({"items": [item("Banana", 3000)]})).await;
    sim.recurrente_pay(&one, RecurrenteOutcome::CardDeclined).unwrap();
    sim.flush_webhooks().await;
    let types = hooks.types();
    assert_eq!(&types[types.len() - 2..], ["payment_intent.failed", "intent.failed"]);
    let failed = hooks.events().pop().unwrap();
    assert_eq!(failed["status"], "failed");
    assert!(failed["failure_reason"].as_str().is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_payment_events_switch_chooses_legacy_unified_or_both() {
    // Legacy: today's events exactly.
    let hooks_legacy = hooks(0).await;
    let sim = sim_sending(RecurrentePaymentEvents::Legacy, &hooks_legacy.url).await;
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(
        hooks_legacy.types(),
        ["payment_intent.succeeded", "subscription.create"]
    );
    sim.shutdown().await;

    // Unified only.
    let hooks_unified = hooks(0).await;
    let sim = sim_sending(RecurrentePaymentEvents::Unified, &hooks_unified.url).await;
    let ch = checkout(&sim, json!({"items": [item("Transfer", 4000)]})).await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).unwrap();
    sim.recurrente_settle_bank_transfer(&a.payment_intent_id, true).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(hooks_unified.types(), ["intent.pending", "intent.succeeded"]);
    let verified = hooks_unified.verify(sim.recurrente_webhook_secret());
    assert_eq!(verified[0].kind, EventKind::PaymentPending);
    assert_eq!(verified[1].kind, EventKind::PaymentSucceeded);
    assert_eq!(hooks_unified.events()[0]["type"], "bank_transfer");

    // Changed while running, through the control API.
    let path = "/__sim/recurrente/payment_events";
    let r = request(&sim, Method::GET, path, None, None).await;
    assert_eq!(r.json, json!({"events": "unified"}));
    let r = request(&sim, Method::PUT, path, None, Some(&json!({"events": "legacy"}))).await;
    assert_eq!((r.status, &r.json), (200, &json!({"events": "legacy"})), "{}", r.text);
    let ch = checkout(&sim, json!({"items": [item("Banana", 3000)]})).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(hooks_unified.types().last().unwrap(), "payment_intent.succeeded");
    assert_eq!(hooks_unified.types().len(), 3);
    let r = request(&sim, Method::PUT, path, None, Some(&json!({"events": "some"}))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_request");
    assert!(r.json["message"].as_str().unwrap().contains("legacy"));
    // And in-process.
    sim.set_recurrente_payment_events(RecurrentePaymentEvents::Both);
    let r = request(&sim, Method::GET, path, None, None).await;
    assert_eq!(r.json, json!({"events": "both"}));
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Bank transfer reference and sender comment

#[tokio::test]
async fn bank_transfers_carry_a_reference_and_the_senders_comment_once_settled() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    let ch = checkout(&sim, json!({"items": [item("Transfer", 4000)]})).await;
    let r = pay(
        &sim,
        &ch,
        json!({"outcome": "bank_transfer_pending", "sender_comment": "factura 7"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ba = r.json["bank_transfer_intent_id"].as_str().unwrap().to_owned();
    let pa = r.json["payment_intent_id"].as_str().unwrap().to_owned();
    sim.flush_webhooks().await;
    assert_eq!(hooks.types(), ["bank_transfer_intent.pending", "intent.pending"]);
    // Pending: both null, top level (legacy) and in `details` (unified, GET /api/intents).
    let events = hooks.events();
    for key in ["bank_reference", "sender_comment"] {
        assert!(events[0].get(key).is_some_and(Value::is_null), "{key}: {}", events[0]);
        assert!(events[1]["details"].get(key).is_some_and(Value::is_null), "{key}");
    }
    assert_eq!(events[1]["details"]["bank_transfer_intent_id"], ba);
    let intent = get(&sim, &format!("/api/intents/{ba}")).await;
    assert_eq!(intent.json["details"]["bank_reference"], Value::Null);
    assert_eq!(intent.json["details"]["sender_comment"], Value::Null);

    // The bank settles: a reference; the payer's comment shows.
    let r = control(
        &sim,
        &format!("/__sim/recurrente/bank_transfers/{ba}/settle"),
        json!({"succeeded": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    sim.flush_webhooks().await;
    let events = hooks.events();
    let (legacy, unified) = (&events[2], &events[3]);
    assert_eq!(legacy["event_type"], "bank_transfer_intent.succeeded");
    assert_eq!(unified["event_type"], "intent.succeeded");
    let reference = legacy["bank_reference"].as_str().unwrap().to_owned();
    assert_eq!(reference.len(), 9);
    assert!(reference.bytes().all(|b| b.is_ascii_digit()), "{reference}");
    assert_eq!(legacy["sender_comment"], "factura 7");
    assert_eq!(unified["details"]["bank_reference"], reference.as_str());
    assert_eq!(unified["details"]["sender_comment"], "factura 7");
    assert!(unified.get("bank_reference").is_none(), "inside `details` only");
    let intent = get(&sim, &format!("/api/intents/{pa}")).await;
    assert_eq!(intent.json["details"]["bank_reference"], reference.as_str());
    assert_eq!(intent.json["details"]["sender_comment"], "factura 7");
    // The client reads them from either form.
    let verified = hooks.verify(sim.recurrente_webhook_secret());
    for e in &verified[2..] {
        let d = bank_transfer_details(&e.raw);
        assert_eq!(d.bank_reference.as_deref(), Some(reference.as_str()));
        assert_eq!(d.sender_comment.as_deref(), Some("factura 7"));
        assert_eq!(e.payment.as_ref().unwrap().id.as_ref().unwrap().as_str(), pa);
    }

    // A comment given at settlement replaces the payer's; a failed transfer has neither.
    let ch = checkout(&sim, json!({"items": [item("Second", 4000)]})).await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending).unwrap();
    let ba2 = a.bank_transfer_intent_id.unwrap();
    control(
        &sim,
        &format!("/__sim/recurrente/bank_transfers/{ba2}/settle"),
        json!({"succeeded": "true", "sender_comment": "pedido 12"}),
    )
    .await;
    let intent = get(&sim, &format!("/api/intents/{ba2}")).await;
    assert_eq!(intent.json["details"]["sender_comment"], "pedido 12");
    assert_ne!(intent.json["details"]["bank_reference"], reference.as_str());
    let ch = checkout(&sim, json!({"items": [item("Third", 4000)]})).await;
    let r = pay(
        &sim,
        &ch,
        json!({"outcome": "bank_transfer_pending", "sender_comment": "nunca"}),
    )
    .await;
    let ba3 = r.json["bank_transfer_intent_id"].as_str().unwrap().to_owned();
    sim.recurrente_settle_bank_transfer(&ba3, false).unwrap();
    let intent = get(&sim, &format!("/api/intents/{ba3}")).await;
    assert_eq!(intent.json["status"], "failed");
    assert_eq!(intent.json["details"]["bank_reference"], Value::Null);
    assert_eq!(intent.json["details"]["sender_comment"], Value::Null);

    // The payer page lets the payer write the comment.
    let page = reqwest::get(format!("{}/checkout-session/{}", sim.base_url(), ch_unpaid(&sim).await))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"sender_comment\""), "{page}");
    sim.shutdown().await;
}

async fn ch_unpaid(sim: &Simulator) -> String {
    checkout(sim, json!({"items": [item("Page", 4000)]})).await
}

// ---------------------------------------------------------------------------------------------
// 3. Per-item options

#[tokio::test]
async fn per_item_options_are_checked_echoed_and_enforced() {
    let sim = common::sim().await;
    // Echoed on the checkout's items.
    let ch = checkout(
        &sim,
        json!({"items": [
            {"name": "Sofa", "amount_in_cents": 90000, "currency": "GTQ", "charge_type": "one_time",
             "payment_method_types": ["card"], "available_installments": [3, 6, 12, 18],
             "has_dynamic_pricing": true},
            {"name": "Plain", "amount_in_cents": 1000, "currency": "GTQ"}]}),
    )
    .await;
    let co = get(&sim, &format!("/api/checkouts/{ch}")).await.json;
    let items = co["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["payment_method_types"], json!(["card"]));
    assert_eq!(items[0]["available_installments"], json!([3, 6, 12, 18]));
    assert_eq!(items[0]["has_dynamic_pricing"], true);
    assert_eq!(items[0]["charge_type"], "one_time");
    assert_eq!(items[0]["amount_in_cents"], 90000);
    assert!(items[0]["price_id"].as_str().unwrap().starts_with("price_"));
    assert_eq!(items[1]["payment_method_types"], Value::Null);
    assert_eq!(items[1]["available_installments"], Value::Null);
    assert_eq!(items[1]["has_dynamic_pricing"], false);
    assert_eq!(co["payment_method_types"], json!(["card"]));

    // Card only: a bank transfer is refused with a clear JSON error, by the control route and
    // by the page's form (back to the page with a notice).
    let r = pay(&sim, &ch, json!({"outcome": "bank_transfer_pending"})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json["error"], "refused");
    let msg = r.json["message"].as_str().unwrap();
    assert!(
        msg.contains("bank_transfer") && msg.contains("payment_method_types") && msg.contains("card"),
        "{msg}"
    );
    let page = reqwest::get(format!("{}/checkout-session/{ch}", sim.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("bank_transfer_pending"), "no transfer button: {page}");
    assert!(page.contains("card_success"));
    let r = pay(&sim, &ch, json!({"outcome": "card_success"})).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Bank transfer only: the card is refused.
    let ch = checkout(
        &sim,
        json!({"items": [{"name": "T", "amount_in_cents": 1000, "currency": "GTQ",
                          "payment_method_types": ["bank_transfer"]}]}),
    )
    .await;
    let r = pay(&sim, &ch, json!({"outcome": "card_success"})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.json["message"].as_str().unwrap().contains("`card`"));

    // Catalogue items take the options too.
    let prod = post(
        &sim,
        "/api/products",
        json!({"product": {"name": "Chair", "prices_attributes": [{"currency": "GTQ", "amount_in_cents": 50000}]}}),
    )
    .await;
    let price = prod.json["prices"][0]["id"].as_str().unwrap().to_owned();
    let ch = checkout(
        &sim,
        json!({"items": [{"price_id": price, "available_installments": ["6"], "payment_method_types": ["card", "balance"]}]}),
    )
    .await;
    let co = get(&sim, &format!("/api/checkouts/{ch}")).await.json;
    assert_eq!(co["items"][0]["price_id"], price.as_str());
    assert_eq!(co["items"][0]["available_installments"], json!([6]));
    assert_eq!(co["items"][0]["payment_method_types"], json!(["card", "balance"]));

    // Refusals, 400 naming the field.
    let one_time = |extra: Value| {
        let mut it = json!({"name": "X", "amount_in_cents": 1000, "currency": "GTQ", "charge_type": "one_time"});
        for (k, v) in extra.as_object().unwrap() {
            it[k] = v.clone();
        }
        json!({"items": [it]})
    };
    let cases = [
        (
            one_time(json!({"payment_method_types": ["card", "cash"]})),
            "items[0].payment_method_types[1]",
        ),
        (
            one_time(json!({"payment_method_types": []})),
            "items[0].payment_method_types",
        ),
        (
            one_time(json!({"available_installments": [5]})),
            "items[0].available_installments",
        ),
        (
            one_time(json!({"available_installments": "3"})),
            "items[0].available_installments",
        ),
        (
            one_time(json!({"available_installments": [3], "currency": "USD"})),
            "items[0].available_installments",
        ),
        (
            json!({"items": [{"name": "R", "amount_in_cents": 1000, "currency": "GTQ", "charge_type": "recurring",
                              "billing_interval": "month", "available_installments": [3]}]}),
            "items[0].available_installments",
        ),
        (
            json!({"items": [{"name": "R", "amount_in_cents": 1000, "currency": "GTQ", "charge_type": "recurring",
                              "billing_interval": "month", "has_dynamic_pricing": true}]}),
            "items[0].has_dynamic_pricing",
        ),
        (
            json!({"items": [item("A", 1000), {"price_id": price, "available_installments": [7]}]}),
            "items[1].available_installments",
        ),
    ];
    for (body, field) in cases {
        assert_invalid(&post(&sim, "/api/checkouts", body).await, field);
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Setup (card-saving) checkouts and the card-update guide

#[tokio::test]
async fn the_card_update_guide_works_end_to_end() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    // A subscriber, whose next renewal fails: past due.
    let cus = post(&sim, "/api/customers", json!({"email": "ana@example.com"})).await;
    let cus_id = cus.json["id"].as_str().unwrap().to_owned();
    let ch = checkout(
        &sim,
        json!({"customer_id": cus_id, "items": [recurring_item("Gold", 5000, "month")]}),
    )
    .await;
    let a = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let su = a.subscription_id.unwrap();
    let old_card = a.payment_method_id.unwrap();
    sim.recurrente_fail_next_charge(&su, 1).unwrap();
    sim.advance(days(31)).unwrap();
    let sub_path = format!("/api/subscriptions/{su}");
    assert_eq!(get(&sim, &sub_path).await.json["status"], "past_due");
    sim.flush_webhooks().await;
    let before = hooks.events().len();

    // 1. A tokenize-only checkout: one one-time item of 0 for the same customer.
    let setup = checkout(
        &sim,
        json!({"customer_id": cus_id, "metadata": {"purpose": "card_update"},
               "items": [{"name": "Actualizar tarjeta", "amount_in_cents": 0, "currency": "GTQ",
                          "charge_type": "one_time"}]}),
    )
    .await;
    let co = get(&sim, &format!("/api/checkouts/{setup}")).await.json;
    assert_eq!(co["total_in_cents"], "0");
    assert_eq!(co["status"], "unpaid");
    // A bank transfer saves no card.
    let r = pay(&sim, &setup, json!({"outcome": "bank_transfer_pending"})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    // 2. The payer enters the new card.
    let r = pay(&sim, &setup, json!({"outcome": "card_success"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_card = r.json["payment_method_id"].as_str().unwrap().to_owned();
    assert!(new_card.starts_with("pay_m_"));
    assert_ne!(new_card, old_card);
    sim.flush_webhooks().await;

    // 3. setup_intent.succeeded carries it; nothing was charged.
    let events: Vec<Value> = hooks.events()[before..].to_vec();
    let types: Vec<&str> = events.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["setup_intent.succeeded"]);
    let e = &events[0];
    assert_eq!(e["status"], "succeeded");
    assert_eq!(
        e["payment_method"],
        json!({"id": new_card, "type": "card", "card": {"last4": "4242", "network": "visa"}})
    );
    assert_eq!(e["checkout"]["id"], setup);
    assert_eq!(e["checkout"]["metadata"], json!({"purpose": "card_update"}));
    assert!(e["id"].as_str().unwrap().starts_with("pa_"));
    let verified = hooks.verify(sim.recurrente_webhook_secret());
    assert_eq!(verified.last().unwrap().kind, EventKind::SetupSucceeded);
    assert!(verified.last().unwrap().payment.is_none(), "no payment");
    // …and GET /api/checkouts/{id} shows it too.
    let co = get(&sim, &format!("/api/checkouts/{setup}")).await.json;
    assert_eq!(co["status"], "paid");
    assert_eq!(co["payment_method"]["id"], new_card.as_str());
    assert_eq!(co["payment"], Value::Null);
    assert_eq!(co["latest_intent"]["type"], "SetupIntent");

    // 4. Put it on the subscription: the past-due charge is retried with it at once.
    let r = api(
        &sim,
        Method::PUT,
        &sub_path,
        Some(json!({"payment_method_id": new_card})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["default_payment_method"]["id"], new_card.as_str());
    assert_eq!(r.json["status"], "active");
    sim.flush_webhooks().await;
    assert!(
        hooks.types().contains(&"payment_intent.succeeded".to_owned()),
        "the retried charge"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn setup_checkouts_by_mode_and_their_limits() {
    let hooks = hooks(0).await;
    let sim = sim_with_hook(&hooks.url).await;
    // `mode: "setup"` needs no items.
    let r = post(&sim, "/api/checkouts", json!({"mode": "setup", "metadata": {"k": "v"}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ch = r.json["id"].as_str().unwrap().to_owned();
    let co = get(&sim, &format!("/api/checkouts/{ch}")).await.json;
    assert_eq!(
        (co["total_in_cents"].clone(), co["items"].clone()),
        (json!("0"), json!([]))
    );
    let page = reqwest::get(format!("{}/checkout-session/{ch}", sim.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Save card 4242"), "{page}");
    assert!(!page.contains("bank_transfer_pending"));
    // A declined card: setup_intent.cancelled, still unpaid, and the payer may try again.
    let r = pay(&sim, &ch, json!({"outcome": "card_declined"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["checkout_status"], "unpaid");
    assert_eq!(r.json["payment_method_id"], Value::Null);
    let r = pay(&sim, &ch, json!({"outcome": "card_success"})).await;
    assert_eq!(r.json["checkout_status"], "paid");
    sim.flush_webhooks().await;
    assert_eq!(hooks.types(), ["setup_intent.cancelled", "setup_intent.succeeded"]);
    assert_eq!(hooks.events()[0]["payment_method"], Value::Null);
    let r = pay(&sim, &ch, json!({"outcome": "card_success"})).await;
    assert_eq!(r.status, 409, "paid once: {}", r.text);

    // Limits: a setup checkout charges nothing; 0 is allowed nowhere else.
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"mode": "setup", "items": [item("Not free", 1000)]}),
        )
        .await,
        "items[0].amount_in_cents",
    );
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"items": [item("Fee", 1000), item("Free", 0)]}),
        )
        .await,
        "items[1].amount_in_cents",
    );
    assert_invalid(
        &post(
            &sim,
            "/api/checkouts",
            json!({"mode": "tokenize", "items": [item("A", 1000)]}),
        )
        .await,
        "mode",
    );
    // A one-time payment of 0 with the saved card is no setup.
    let card = get(&sim, &format!("/api/checkouts/{ch}")).await.json["payment_method"]["id"].clone();
    assert!(card.as_str().unwrap().starts_with("pay_m_"));
    assert_invalid(
        &post(
            &sim,
            "/api/one_time_payments",
            json!({"payment_method_id": card, "items": [item("Free", 0)]}),
        )
        .await,
        "items[0].amount_in_cents",
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 5. `day` intervals: exact days

#[tokio::test]
async fn day_intervals_are_exact_days() {
    let hooks = hooks(0).await;
    let sim = Simulator::start(
        config()
            .recurrente_payment_events(RecurrentePaymentEvents::Legacy)
            .recurrente_webhook_url(&hooks.url),
    )
    .await
    .unwrap();
    // A monthly plan with a 10-day trial (not a whole number of weeks).
    let plan = json!({"name": "Gold", "amount_in_cents": 5000, "currency": "GTQ", "charge_type": "recurring",
                      "billing_interval": "month", "free_trial_interval": "day", "free_trial_interval_count": 10});
    let ch = checkout(&sim, json!({"items": [plan]})).await;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    let charges = |h: &Hooks| {
        h.events()
            .iter()
            .filter(|e| e["event_type"] == "payment_intent.succeeded")
            .count()
    };
    sim.advance(days(9)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(charges(&hooks), 0, "still in the trial on day 9");
    let sub = get(&sim, &format!("/api/subscriptions/{su}")).await.json;
    let start = sim.now() - days(9);
    let trial_end = chrono::DateTime::parse_from_rfc3339(sub["current_period_end"].as_str().unwrap()).unwrap();
    assert_eq!(trial_end.with_timezone(&chrono::Utc), start + days(10));
    sim.advance(days(1)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(charges(&hooks), 1, "charged on day 10");

    // Billing every 10 days: day 0, 10, 20.
    let every = json!({"name": "Ten", "amount_in_cents": 900, "currency": "GTQ", "charge_type": "recurring",
                       "billing_interval": "day", "billing_interval_count": 10});
    let ch = checkout(&sim, json!({"items": [every]})).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let nine_hundred = |h: &Hooks| {
        h.events()
            .iter()
            .filter(|e| e["event_type"] == "payment_intent.succeeded" && e["amount_in_cents"] == 900)
            .count()
    };
    sim.advance(days(19)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(nine_hundred(&hooks), 2);
    sim.advance(days(1)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(nine_hundred(&hooks), 3);
    sim.shutdown().await;
}
