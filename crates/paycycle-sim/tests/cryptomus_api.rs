//! The Cryptomus frontend over raw HTTP: signing, shapes, validation, lookups, pagination.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use paycycle_cryptomus::sign::request_sign;
use serde_json::{Value, json};

const ID1: &str = "00000000-0000-4000-8000-000000000001";

fn assert_key_order(text: &str, keys: &[&str]) {
    let mut last = 0;
    for k in keys {
        let pos = text
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("missing key {k} in {text}"));
        assert!(pos >= last, "key {k} out of order in {text}");
        last = pos;
    }
}

#[tokio::test]
async fn create_answers_the_reference_shapes() {
    let sim = sim().await;
    let base = sim.base_url().to_owned();

    // 15 USDT: paid in USDT.
    let r = signed(
        &sim,
        "/v1/recurrence/create",
        r#"{"amount": "15", "currency": "USDT", "name": "Recurring payment", "period": "monthly"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json,
        json!({"state": 0, "result": {
            "uuid": ID1, "name": "Recurring payment", "order_id": null, "amount": "15", "currency": "USDT",
            "payer_currency": "USDT", "payer_amount_usd": "15.00", "payer_amount": "15.00000000",
            "url_callback": null, "period": "monthly", "status": "wait_accept",
            "url": format!("{base}/pay/cryptomus/{ID1}"), "last_pay_off": null, "additional_data": null
        }})
    );
    assert_key_order(
        &r.text,
        &[
            "state",
            "result",
            "uuid",
            "name",
            "order_id",
            "amount",
            "currency",
            "payer_currency",
            "payer_amount_usd",
            "payer_amount",
            "url_callback",
            "period",
            "status",
            "url",
            "last_pay_off",
            "additional_data",
        ],
    );
    assert!(!r.text.contains("discount"), "no discount fields without a discount");

    // 15 USD, payer picks later.
    let usd = create(
        &sim,
        json!({"amount": "15", "currency": "USD", "name": "Recurring payment", "period": "monthly", "url_callback": "https://your.site/callback"}),
    )
    .await;
    assert_eq!(usd["payer_currency"], Value::Null);
    assert_eq!(usd["payer_amount_usd"], "0.00");
    assert_eq!(usd["payer_amount"], Value::Null);
    assert_eq!(usd["url_callback"], "https://your.site/callback");

    // 15 USD paid in BTC.
    let btc = create(
        &sim,
        json!({"amount": "15", "currency": "USD", "to_currency": "BTC", "name": "Recurring payment", "period": "monthly"}),
    )
    .await;
    assert_eq!(btc["payer_currency"], "BTC");
    assert_eq!(btc["payer_amount_usd"], "15.00");
    assert_eq!(btc["payer_amount"], "0.00051495");

    // 15 USD, the first 30 days 1 USD.
    let r = signed(
        &sim,
        "/v1/recurrence/create",
        &json!({"amount": "15", "currency": "USD", "name": "Recurring payment", "period": "monthly",
                "discount_days": 30, "discount_amount": "1", "url_callback": "https://your.site/callback"})
        .to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = &r.json["result"];
    assert_eq!(d["discount_days"], "30", "discount_days comes back as a string");
    assert_eq!(d["discount_amount"], "1");
    // Created 2026-01-10T09:00:00Z; +30 days, shown in UTC+3.
    assert_eq!(d["end_of_discount"], "2026-02-09T12:00:00+03:00");
    assert_key_order(
        &r.text,
        &[
            "url_callback",
            "discount_days",
            "discount_amount",
            "end_of_discount",
            "period",
            "status",
            "url",
            "last_pay_off",
        ],
    );

    // Amounts are echoed as sent; a crypto price in ETH pays in ETH.
    let eth = create(
        &sim,
        json!({"amount": "0.0100", "currency": "eth", "name": "Tiny", "period": "three_month", "additional_data": "x/y"}),
    )
    .await;
    assert_eq!(eth["amount"], "0.0100");
    assert_eq!(eth["currency"], "ETH");
    assert_eq!(eth["payer_currency"], "ETH");
    assert_eq!(eth["payer_amount"], "0.01000000");
    assert_eq!(eth["payer_amount_usd"], "20.00");
    assert_eq!(eth["period"], "three_month");
    assert_eq!(eth["additional_data"], "x/y");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_sign_is_checked_over_the_raw_bytes() {
    let sim = sim().await;
    let url = format!("{}/v1/recurrence/create", sim.base_url());
    let compact = r#"{"amount":"15","currency":"USDT","name":"Plan","period":"weekly"}"#;
    let spaced = r#"{ "amount": "15", "currency": "USDT", "name": "Plan", "period": "weekly" }"#;
    let key = sim.cryptomus_payment_key().to_owned();
    let merchant = sim.cryptomus_merchant_id().to_owned();
    let post = |body: &str, merchant: &str, sign: &str| {
        reqwest::Client::new()
            .post(&url)
            .header("merchant", merchant)
            .header("sign", sign)
            .body(body.to_owned())
    };

    // The same JSON with other whitespace, with the compact text's sign: refused.
    let r = send(post(spaced, &merchant, &request_sign(compact.as_bytes(), &key))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.text, r#"{"message":"Invalid Sign."}"#);
    // Signed over exactly what is sent: accepted, whatever the whitespace.
    let r = send(post(spaced, &merchant, &request_sign(spaced.as_bytes(), &key))).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A bad sign, another key, an unknown merchant, missing headers: all the same 401.
    let bad = [
        send(post(compact, &merchant, "0123456789abcdef0123456789abcdef")).await,
        send(post(
            compact,
            &merchant,
            &request_sign(compact.as_bytes(), "another-key"),
        ))
        .await,
        send(post(
            compact,
            "11111111-2222-4333-8444-555555555555",
            &request_sign(compact.as_bytes(), &key),
        ))
        .await,
        send(reqwest::Client::new().post(&url).body(compact.to_owned())).await,
    ];
    for r in bad {
        assert_eq!(r.status, 401);
        assert_eq!(r.text, r#"{"message":"Invalid Sign."}"#);
    }

    // PHP-style escaped slashes are fine as long as what is signed is what is sent.
    let escaped = r#"{"amount":"15","currency":"USDT","name":"Plan","period":"weekly","url_callback":"https:\/\/shop.example\/hook"}"#;
    let r = send(post(escaped, &merchant, &request_sign(escaped.as_bytes(), &key))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["result"]["url_callback"], "https://shop.example/hook");

    // Every route checks the sign, list included (the cursor is not signed: it is in the query).
    for path in ["/v1/recurrence/info", "/v1/recurrence/list", "/v1/recurrence/cancel"] {
        let r = send(
            reqwest::Client::new()
                .post(format!("{}{path}", sim.base_url()))
                .header("merchant", &merchant)
                .header("sign", request_sign(b"{}", "wrong"))
                .body("{}"),
        )
        .await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json["message"], "Invalid Sign.");
    }
    sim.shutdown().await;
}

fn valid() -> Value {
    json!({"amount": "15", "currency": "USD", "name": "Gold plan", "period": "monthly"})
}

#[tokio::test]
async fn every_validation_limit_answers_422_with_field_and_rule() {
    let sim = sim().await;
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("no amount", json!({"amount": null}), "amount", "validation.required"),
        ("empty amount", json!({"amount": "  "}), "amount", "validation.required"),
        ("text amount", json!({"amount": "abc"}), "amount", "validation.numeric"),
        (
            "exponent amount",
            json!({"amount": "1e3"}),
            "amount",
            "validation.numeric",
        ),
        ("zero amount", json!({"amount": "0"}), "amount", "validation.gt.numeric"),
        (
            "negative amount",
            json!({"amount": "-5"}),
            "amount",
            "validation.gt.numeric",
        ),
        (
            "no currency",
            json!({"currency": null}),
            "currency",
            "validation.required",
        ),
        (
            "unknown currency",
            json!({"currency": "XYZ"}),
            "currency",
            "validation.in",
        ),
        (
            "numeric currency",
            json!({"currency": 840}),
            "currency",
            "validation.string",
        ),
        ("no name", json!({"name": null}), "name", "validation.required"),
        ("short name", json!({"name": "ab"}), "name", "validation.min.string"),
        ("long name", json!({"name": long(61)}), "name", "validation.max.string"),
        ("no period", json!({"period": null}), "period", "validation.required"),
        ("bad period", json!({"period": "daily"}), "period", "validation.in"),
        ("yearly period", json!({"period": "yearly"}), "period", "validation.in"),
        (
            "fiat to_currency",
            json!({"to_currency": "EUR"}),
            "to_currency",
            "validation.in",
        ),
        (
            "unknown to_currency",
            json!({"to_currency": "NOPE"}),
            "to_currency",
            "validation.in",
        ),
        (
            "empty order_id",
            json!({"order_id": ""}),
            "order_id",
            "validation.min.string",
        ),
        (
            "long order_id",
            json!({"order_id": long(101)}),
            "order_id",
            "validation.max.string",
        ),
        (
            "numeric order_id",
            json!({"order_id": 42}),
            "order_id",
            "validation.string",
        ),
        (
            "bad url",
            json!({"url_callback": "not a url"}),
            "url_callback",
            "validation.url",
        ),
        (
            "ftp url",
            json!({"url_callback": "ftp://127.0.0.1/x"}),
            "url_callback",
            "validation.url",
        ),
        (
            "days without amount",
            json!({"discount_days": 30}),
            "discount_amount",
            "validation.required_with",
        ),
        (
            "amount without days",
            json!({"discount_amount": "1"}),
            "discount_days",
            "validation.required_with",
        ),
        (
            "zero days",
            json!({"discount_days": 0, "discount_amount": "1"}),
            "discount_days",
            "validation.between.numeric",
        ),
        (
            "366 days",
            json!({"discount_days": 366, "discount_amount": "1"}),
            "discount_days",
            "validation.between.numeric",
        ),
        (
            "3650 days",
            json!({"discount_days": 3650, "discount_amount": "1"}),
            "discount_days",
            "validation.between.numeric",
        ),
        (
            "text days",
            json!({"discount_days": "abc", "discount_amount": "1"}),
            "discount_days",
            "validation.integer",
        ),
        (
            "fractional days",
            json!({"discount_days": 1.5, "discount_amount": "1"}),
            "discount_days",
            "validation.integer",
        ),
        (
            "text discount",
            json!({"discount_days": 30, "discount_amount": "one"}),
            "discount_amount",
            "validation.numeric",
        ),
        (
            "long additional_data",
            json!({"additional_data": long(256)}),
            "additional_data",
            "validation.max.string",
        ),
    ];
    for (what, patch, field, rule) in cases {
        let mut body = valid();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = signed(&sim, "/v1/recurrence/create", &body.to_string()).await;
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert_eq!(r.json, json!({"state": 1, "errors": {field: [rule]}}), "{what}");
    }

    // The limits themselves pass.
    let ok_cases = [
        json!({"name": "abc"}),
        json!({"name": long(60)}),
        json!({"name": "ñandú"}),
        json!({"order_id": "a"}),
        json!({"order_id": long(100)}),
        json!({"discount_days": 1, "discount_amount": "0.5"}),
        json!({"discount_days": "365", "discount_amount": 1}),
        json!({"to_currency": "btc"}),
        json!({"amount": 15}),
        json!({"additional_data": long(255)}),
        json!({"url_callback": "http://127.0.0.1:9/x"}),
    ];
    for patch in ok_cases {
        let mut body = valid();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = signed(&sim, "/v1/recurrence/create", &body.to_string()).await;
        assert_eq!(r.status, 200, "{patch}: {}", r.text);
    }

    // Several errors at once, in rule order; a body that is not JSON reads as no input.
    let r = signed(&sim, "/v1/recurrence/create", "this is not json").await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json["errors"],
        json!({"amount": ["validation.required"], "currency": ["validation.required"],
               "name": ["validation.required"], "period": ["validation.required"]})
    );
    assert_key_order(&r.text, &["amount", "currency", "name", "period"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn order_ids_are_unique() {
    let sim = sim().await;
    let mut body = valid();
    body["order_id"] = json!("order-1");
    let first = create(&sim, body.clone()).await;
    assert_eq!(first["order_id"], "order-1");
    let r = signed(&sim, "/v1/recurrence/create", &body.to_string()).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json,
        json!({"state": 1, "errors": {"order_id": ["validation.unique"]}})
    );
    // Still unique after the first is cancelled.
    let r = signed(&sim, "/v1/recurrence/cancel", r#"{"order_id":"order-1"}"#).await;
    assert_eq!(r.status, 200);
    let r = signed(&sim, "/v1/recurrence/create", &body.to_string()).await;
    assert_eq!(r.status, 422);
    body["order_id"] = json!("order-2");
    create(&sim, body).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn info_and_cancel_find_by_uuid_or_order_id() {
    let sim = sim().await;
    let mut a = valid();
    a["order_id"] = json!("A");
    let a = create(&sim, a).await;
    let mut b = valid();
    b["order_id"] = json!("B");
    b["name"] = json!("Plan B");
    let b = create(&sim, b).await;

    let r = signed(&sim, "/v1/recurrence/info", &json!({"uuid": uuid_of(&a)}).to_string()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["result"], a);
    let r = signed(&sim, "/v1/recurrence/info", r#"{"order_id":"B"}"#).await;
    assert_eq!(r.json["result"]["uuid"], b["uuid"]);
    // order_id wins over uuid.
    let both = json!({"uuid": uuid_of(&a), "order_id": "B"}).to_string();
    let r = signed(&sim, "/v1/recurrence/info", &both).await;
    assert_eq!(r.json["result"]["name"], "Plan B");
    let r = signed(
        &sim,
        "/v1/recurrence/info",
        &json!({"uuid": uuid_of(&a), "order_id": "nope"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 404);

    // Not found, and neither key.
    for path in ["/v1/recurrence/info", "/v1/recurrence/cancel"] {
        let r = signed(&sim, path, r#"{"uuid":"99999999-9999-4999-8999-999999999999"}"#).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.text, r#"{"state":1,"message":"Recurrence not found"}"#);
        let r = signed(&sim, path, "{}").await;
        assert_eq!(r.status, 422, "{path}");
        assert_eq!(
            r.json,
            json!({"state": 1, "errors": {"uuid": ["validation.required_without"], "order_id": ["validation.required_without"]}})
        );
    }

    // Cancel by order_id (which wins), then again.
    let r = signed(&sim, "/v1/recurrence/cancel", &both).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["result"]["uuid"], b["uuid"]);
    assert_eq!(r.json["result"]["status"], "cancel_by_merchant");
    let r = signed(&sim, "/v1/recurrence/cancel", r#"{"order_id":"B"}"#).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.text, r#"{"state":1,"message":"Already canceled"}"#);
    // A is untouched.
    let r = signed(&sim, "/v1/recurrence/info", r#"{"order_id":"A"}"#).await;
    assert_eq!(r.json["result"]["status"], "wait_accept");
    // A payer-cancelled one is already cancelled too.
    sim.cryptomus_cancel_by_user(&uuid_of(&a)).unwrap();
    let r = signed(&sim, "/v1/recurrence/cancel", r#"{"order_id":"A"}"#).await;
    assert_eq!(r.json["message"], "Already canceled");
    let r = signed(&sim, "/v1/recurrence/info", r#"{"order_id":"A"}"#).await;
    assert_eq!(r.json["result"]["status"], "cancel_by_user");
    sim.shutdown().await;
}

async fn list(sim: &paycycle_sim::Simulator, cursor: Option<&str>) -> Value {
    let path = match cursor {
        Some(c) => format!("/v1/recurrence/list?cursor={c}"),
        None => "/v1/recurrence/list".to_owned(),
    };
    let r = signed(sim, &path, "{}").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["state"], 0);
    r.json["result"].clone()
}

#[tokio::test]
async fn list_pages_through_everything_newest_first() {
    let sim = sim().await;
    let empty = list(&sim, None).await;
    assert_eq!(
        empty,
        json!({"items": [], "paginate": {"count": 0, "hasPages": false, "nextCursor": null, "previousCursor": null, "perPage": 15}})
    );

    for i in 1..=40 {
        let mut b = valid();
        b["order_id"] = json!(format!("o-{i:02}"));
        create(&sim, b).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = list(&sim, cursor.as_deref()).await;
        let p = &page["paginate"];
        assert_eq!(p["perPage"], 15);
        assert_eq!(p["count"], page["items"].as_array().unwrap().len());
        assert_eq!(p["hasPages"], true);
        for item in page["items"].as_array().unwrap() {
            seen.push(item["order_id"].as_str().unwrap().to_owned());
        }
        pages.push(page.clone());
        match p["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=40).rev().map(|i| format!("o-{i:02}")).collect();
    assert_eq!(seen, expected, "every recurrence once, newest first");
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0]["paginate"]["previousCursor"], Value::Null);
    assert_eq!(pages[2]["paginate"]["count"], 10);
    assert!(pages[2]["paginate"]["previousCursor"].is_string());

    // Going back from page 3 gives page 2.
    let back = list(&sim, pages[2]["paginate"]["previousCursor"].as_str()).await;
    assert_eq!(back["items"], pages[1]["items"]);
    assert!(back["paginate"]["nextCursor"].is_string());
    // And back from page 2 gives page 1, which has no previous page.
    let first = list(&sim, pages[1]["paginate"]["previousCursor"].as_str()).await;
    assert_eq!(first["items"], pages[0]["items"]);
    assert_eq!(first["paginate"]["previousCursor"], Value::Null);

    // An unreadable cursor shows the first page, as Laravel does.
    let garbage = list(&sim, Some("not-a-cursor")).await;
    assert_eq!(garbage["items"], pages[0]["items"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_with_one_order_id_make_one_recurrence() {
    let sim = std::sync::Arc::new(sim().await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let sim = sim.clone();
        tasks.push(tokio::spawn(async move {
            let mut b = valid();
            b["order_id"] = json!("same");
            signed(&sim, "/v1/recurrence/create", &b.to_string()).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 422, 422, 422, 422, 422, 422, 422]);
    let page = list(&sim, None).await;
    assert_eq!(page["paginate"]["count"], 1);
}

#[tokio::test]
async fn list_accepts_an_empty_signed_body() {
    let sim = sim().await;
    create(&sim, valid()).await;
    let r = signed(&sim, "/v1/recurrence/list", "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["result"]["items"][0]["name"], "Gold plan");
    sim.shutdown().await;
}
