//! The Recurrente frontend over raw HTTP: authentication, every endpoint's status code and
//! shape (compared with the reference's examples), validation errors, pagination.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::recurrente::*;
use common::sim;
use paycycle_sim::{RecurrenteOutcome, SimConfig, Simulator};
use reqwest::Method;
use serde_json::{Value, json};

fn id_of(v: &Value, prefix: &str) -> String {
    let id = v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}"));
    assert!(id.starts_with(prefix), "{id} should start with {prefix}");
    id.to_owned()
}

/// A 400 (a bad parameter) whose `message` names `field` (and `errors` has it).
fn assert_invalid(r: &Answer, field: &str) {
    assert_field_error(r, 400, field);
}

/// A 422 (understood, but the object's state does not allow it) naming `field`.
fn assert_conflict(r: &Answer, field: &str) {
    assert_field_error(r, 422, field);
}

fn assert_field_error(r: &Answer, status: u16, field: &str) {
    assert_eq!(r.status, status, "{field}: {}", r.text);
    let msg = r.json["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message key: {}", r.text));
    assert!(msg.contains(field), "`{msg}` should name {field}");
    let errors = r.json["errors"].as_object().unwrap();
    assert!(
        errors.keys().any(|k| k.starts_with(field)),
        "errors should hold {field}: {}",
        r.text
    );
}

/// Fields of today's subscription object beyond the seed's example.
const TODAYS_SUBSCRIPTION_FIELDS: &[&str] = &[
    "next_payment_attempt_at",
    "payment_retries",
    "resumes_on",
    "default_payment_method",
];

#[tokio::test]
async fn test_endpoint_and_authentication() {
    let sim = sim().await;
    let r = get(&sim, "/api/test").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json, json!({"message": "Hello paycycle-sim"}));
    assert_shape(&r.json, &fixture("test_response.json"), &[]);
    assert_eq!(
        get(&sim, "/api/test/").await.status,
        200,
        "the trailing slash of the reference's URLs"
    );

    let (pk, sk) = (
        sim.recurrente_public_key().to_owned(),
        sim.recurrente_secret_key().to_owned(),
    );
    assert_eq!(pk, "pk_test_paycycle_sim");
    assert_eq!(sk, "sk_test_paycycle_sim");
    let routes: &[(Method, &str)] = &[
        (Method::GET, "/api/test"),
        (Method::POST, "/api/checkouts"),
        (Method::GET, "/api/checkouts"),
        (Method::GET, "/api/checkouts/ch_x"),
        (Method::PATCH, "/api/checkouts/ch_x"),
        (Method::PATCH, "/api/payment_intents/pa_x"),
        (Method::POST, "/api/products"),
        (Method::GET, "/api/products"),
        (Method::GET, "/api/products/prod_x"),
        (Method::PATCH, "/api/products/prod_x"),
        (Method::DELETE, "/api/products/prod_x"),
        (Method::POST, "/api/coupons"),
        (Method::GET, "/api/coupons"),
        (Method::DELETE, "/api/coupons/coup_x"),
        (Method::GET, "/api/subscriptions"),
        (Method::GET, "/api/subscriptions/su_x"),
        (Method::DELETE, "/api/subscriptions/su_x"),
        (Method::POST, "/api/users"),
        (Method::POST, "/api/transfers"),
        (Method::POST, "/api/refunds"),
        (Method::GET, "/api/refunds/re_x"),
        (Method::POST, "/api/webhook_endpoints"),
        (Method::GET, "/api/webhook_endpoints"),
        (Method::DELETE, "/api/webhook_endpoints/ep_x"),
        (Method::POST, "/api/one_time_payments"),
        (Method::GET, "/api/no_such_thing"),
    ];
    let body = json!({});
    for (method, path) in routes {
        for keys in [
            None,
            Some((pk.as_str(), "sk_test_wrong")),
            Some(("pk_test_wrong", sk.as_str())),
            Some(("", "")),
        ] {
            let r = request(&sim, method.clone(), path, keys, Some(&body)).await;
            assert_eq!(r.status, 401, "{method} {path} with {keys:?}");
            assert_eq!(
                r.json,
                json!({"message": "Autenticación Errónea 👀",
                       "errors": {"authentication": ["Las llaves de API son inválidas o no coinciden."]}})
            );
        }
    }
    // The public key alone is not enough (except to create a checkout: see recurrente_today).
    let r = reqwest::Client::new()
        .get(format!("{}/api/test", sim.base_url()))
        .header("X-PUBLIC-KEY", &pk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The secret key alone is.
    let r = reqwest::Client::new()
        .get(format!("{}/api/test", sim.base_url()))
        .header("X-SECRET-KEY", &sk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // With the keys, an unknown route is a JSON 404.
    let r = get(&sim, "/api/no_such_thing").await;
    assert_eq!((r.status, r.json.clone()), (404, json!({"message": "Not found"})));
    sim.shutdown().await;
}

#[tokio::test]
async fn keys_come_from_the_config() {
    let sim = Simulator::start(
        common::config()
            .recurrente_keys("pk_live_abc", "sk_live_def")
            .recurrente_account_name("La Surf Office 🌎"),
    )
    .await
    .unwrap();
    assert_eq!(sim.recurrente_public_key(), "pk_live_abc");
    let r = get(&sim, "/api/test").await;
    assert_eq!(r.json["message"], "Hello La Surf Office 🌎");
    let r = request(
        &sim,
        Method::GET,
        "/api/test",
        Some(("pk_test_paycycle_sim", "sk_test_paycycle_sim")),
        None,
    )
    .await;
    assert_eq!(r.status, 401, "the default keys no longer work");
    // Live keys make live checkouts.
    let id = checkout(&sim, items_example()).await;
    assert_eq!(get(&sim, &format!("/api/checkouts/{id}")).await.json["live_mode"], true);
    sim.shutdown().await;

    let bad = SimConfig::default().recurrente_webhook_secret("not-base64-$$$");
    assert!(matches!(
        Simulator::start(bad).await,
        Err(paycycle_sim::SimError::InvalidConfig { .. })
    ));
}

#[tokio::test]
async fn checkouts_are_created_read_updated_and_listed_in_the_reference_shapes() {
    let sim = sim().await;
    let base = sim.base_url().to_owned();
    let created_example = fixture("checkout_created_items.json");

    // The reference's three request examples (the product one needs a product first).
    let r = post(&sim, "/api/checkouts", items_example()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &created_example, &[]);
    let one_time = id_of(&r.json, "ch_");
    assert_eq!(one_time.len(), "ch_eegw9j5zgqoae3ms".len());
    assert_eq!(r.json["checkout_url"], format!("{base}/checkout-session/{one_time}"));
    // The user of the example does not exist here.
    assert_invalid(
        &post(&sim, "/api/checkouts", fixture("requests/checkout_items.json")).await,
        "user_id",
    );

    let r = post(&sim, "/api/checkouts", fixture("requests/checkout_subscription.json")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &created_example, &[]);
    let recurring = id_of(&r.json, "ch_");

    let prod = post(&sim, "/api/products", fixture("requests/product_one_time.json")).await;
    let prod_id = id_of(&prod.json, "prod_");
    let mut by_product = fixture("requests/checkout_product.json");
    by_product["items"][0]["product_id"] = json!(prod_id);
    let r = post(&sim, "/api/checkouts/", by_product).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &created_example, &[]);
    let from_product = id_of(&r.json, "ch_");

    // GET: the list example's shape (the fullest), plus `live_mode` from the reference's text.
    let list_example = fixture("checkouts_list.json")[0].clone();
    let r = get(&sim, &format!("/api/checkouts/{one_time}")).await;
    assert_eq!(r.status, 200);
    assert_shape(
        &r.json,
        &list_example,
        &[
            "live_mode",
            "subtotal_in_cents",
            "discount",
            "custom_fields",
            "payment_method_types",
            "items",
        ],
    );
    assert_eq!(r.json["status"], "unpaid");
    assert_eq!(r.json["payment"], Value::Null);
    assert_eq!(r.json["payment_method"], Value::Null);
    assert_eq!(r.json["latest_intent"], Value::Null);
    assert_eq!(r.json["total_in_cents"], "3000", "a string, as printed");
    assert_eq!(r.json["currency"], "GTQ");
    assert_eq!(r.json["success_url"], "https://www.google.com");
    assert_eq!(r.json["created_at"], "2026-01-10T09:00:00Z");
    assert_eq!(r.json["expires_at"], Value::Null);
    assert_eq!(r.json["live_mode"], false);
    let r = get(&sim, &format!("/api/checkouts/{recurring}")).await;
    assert_eq!(r.json["total_in_cents"], "5000");
    let r = get(&sim, &format!("/api/checkouts/{from_product}")).await;
    assert_eq!(r.json["total_in_cents"], "500");
    assert_eq!(get(&sim, "/api/checkouts/ch_nope").await.status, 404);

    // PATCH: URLs, metadata (replaced), expiry; the update example's shape.
    let r = patch(
        &sim,
        &format!("/api/checkouts/{one_time}"),
        json!({"success_url": "https://shop.test/ok", "metadata": {"internalID": 123},
               "expires_at": "2050-05-15T13:45:30Z", "items": [{"ignored": true}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(
        &r.json,
        &fixture("checkout_updated.json"),
        &[
            "live_mode",
            "subtotal_in_cents",
            "discount",
            "custom_fields",
            "payment_method_types",
            "items",
        ],
    );
    assert_eq!(r.json["metadata"], json!({"internalID": 123}));
    assert_eq!(r.json["expires_at"], "2050-05-15T13:45:30Z");
    assert_eq!(r.json["success_url"], "https://shop.test/ok");
    assert_eq!(r.json["cancel_url"], "https://www.amazon.com", "not given, not changed");
    assert_invalid(
        &patch(
            &sim,
            &format!("/api/checkouts/{one_time}"),
            json!({"cancel_url": "nope"}),
        )
        .await,
        "cancel_url",
    );
    assert_eq!(patch(&sim, "/api/checkouts/ch_nope", json!({})).await.status, 404);
    // A past expiry expires it at once.
    let r = patch(
        &sim,
        &format!("/api/checkouts/{from_product}"),
        json!({"expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(r.json["status"], "expired");
    // Only unpaid checkouts can change.
    sim.recurrente_pay(&recurring, RecurrenteOutcome::CardSuccess).unwrap();
    let r = patch(&sim, &format!("/api/checkouts/{recurring}"), json!({"metadata": {}})).await;
    assert_eq!(r.status, 422);
    assert!(r.json["message"].as_str().unwrap().contains("paid"));

    // List: newest first, bare array, filters.
    let r = get(&sim, "/api/checkouts").await;
    assert_eq!(r.status, 200);
    let ids: Vec<_> = r.json.as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    assert_eq!(ids, [json!(from_product), json!(recurring), json!(one_time)]);
    for c in r.json.as_array().unwrap() {
        assert_shape(
            c,
            &list_example,
            &[
                "live_mode",
                "subtotal_in_cents",
                "discount",
                "custom_fields",
                "payment_method_types",
                "items",
            ],
        );
    }
    let paid = &r.json[1];
    assert_eq!(paid["status"], "paid");
    assert!(paid["payment"]["id"].as_str().unwrap().starts_with("pa_"));
    assert_eq!(paid["payment"]["paymentable"]["type"], "Subscription");
    assert_eq!(
        paid["payment_method"],
        json!({"id": paid["payment_method"]["id"], "type": "card", "card": {"last4": "4242", "network": "visa"}})
    );
    assert_eq!(
        paid["latest_intent"]["type"], "SetupIntent",
        "the example has a month of free trial"
    );
    assert_eq!(paid["latest_intent"]["data"]["auth_code"].as_str().unwrap().len(), 6);
    let user = paid_user(&sim, &recurring).await;
    let r = get(&sim, &format!("/api/checkouts?user_id={user}")).await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = get(&sim, "/api/checkouts?from_time=2026-01-11T00:00:00Z").await;
    assert_eq!(r.json, json!([]));
    let r = get(
        &sim,
        "/api/checkouts?from_time=2026-01-10T00:00:00Z&until_time=2050-05-15T13:45:30Z",
    )
    .await;
    assert_eq!(r.json.as_array().unwrap().len(), 3);
    assert_invalid(&get(&sim, "/api/checkouts?from_time=yesterday").await, "from_time");
    sim.shutdown().await;
}

async fn paid_user(sim: &Simulator, checkout_id: &str) -> String {
    let subs = get(sim, "/api/subscriptions").await;
    subs.json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["checkout"]["id"] == checkout_id)
        .map(|s| s["subscriber"]["id"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn checkout_validation_names_the_field() {
    let sim = sim().await;
    let item = || json!({"name": "Banana", "currency": "GTQ", "amount_in_cents": 3000});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = json!({"items": [item()]});
        f(&mut body);
        body
    };
    let long_meta: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "items"),
        (json!({"items": []}), "items"),
        (json!({"items": "x"}), "items"),
        (json!({"items": [7]}), "items[0]"),
        (with(&|b| b["items"][0]["currency"] = json!("EUR")), "items[0].currency"),
        (with(&|b| b["items"][0]["currency"] = json!(null)), "items[0].currency"),
        // 0 is a setup checkout's amount only (one one-time item): not on a recurring item,
        // nor beside another item.
        (
            with(&|b| {
                b["items"][0]["amount_in_cents"] = json!(0);
                b["items"][0]["charge_type"] = json!("recurring");
                b["items"][0]["billing_interval"] = json!("month");
            }),
            "items[0].amount_in_cents",
        ),
        (
            with(&|b| {
                let free = json!({"name": "Free", "currency": "GTQ", "amount_in_cents": 0});
                b["items"].as_array_mut().unwrap().push(free);
            }),
            "items[1].amount_in_cents",
        ),
        (
            with(&|b| b["items"][0]["amount_in_cents"] = json!(-5)),
            "items[0].amount_in_cents",
        ),
        (
            with(&|b| b["items"][0]["amount_in_cents"] = json!(30.5)),
            "items[0].amount_in_cents",
        ),
        (
            with(&|b| b["items"][0]["amount_in_cents"] = json!("30.5")),
            "items[0].amount_in_cents",
        ),
        (
            with(&|b| b["items"][0]["amount_in_cents"] = json!("abc")),
            "items[0].amount_in_cents",
        ),
        (
            with(&|b| b["items"][0]["amount_in_cents"] = json!(null)),
            "items[0].amount_in_cents",
        ),
        (with(&|b| b["items"][0]["quantity"] = json!(0)), "items[0].quantity"),
        (with(&|b| b["items"][0]["quantity"] = json!(10)), "items[0].quantity"),
        (with(&|b| b["items"][0]["quantity"] = json!("2.5")), "items[0].quantity"),
        (
            with(&|b| b["items"][0]["image_url"] = json!("not a url")),
            "items[0].image_url",
        ),
        (with(&|b| b["success_url"] = json!("ftp://x.test/")), "success_url"),
        (with(&|b| b["cancel_url"] = json!("nope")), "cancel_url"),
        (with(&|b| b["metadata"] = Value::Object(long_meta.clone())), "metadata"),
        (with(&|b| b["metadata"] = json!({"k".repeat(41): "v"})), "metadata"),
        (with(&|b| b["metadata"] = json!({"k": "v".repeat(501)})), "metadata.k"),
        (with(&|b| b["metadata"] = json!([1])), "metadata"),
        (
            with(&|b| b["items"][0]["metadata"] = json!({"k": "v".repeat(501)})),
            "items[0].metadata.k",
        ),
        (with(&|b| b["expires_at"] = json!("soon")), "expires_at"),
        (with(&|b| b["user_id"] = json!("us_nobody")), "user_id"),
        (
            with(&|b| b["items"][0]["product_id"] = json!("prod_nothing")),
            "items[0].product_id",
        ),
        (
            with(&|b| b["items"][0]["charge_type"] = json!("sometimes")),
            "items[0].charge_type",
        ),
        (
            with(&|b| b["items"][0]["charge_type"] = json!("recurring")),
            "items[0].billing_interval",
        ),
        (
            json!({"items": [recurring_item("Gold", 5000, "fortnight")]}),
            "items[0].billing_interval",
        ),
        (
            json!({"items": [{"name": "Gold", "currency": "GTQ", "amount_in_cents": 5000, "billing_interval": "month", "billing_interval_count": 0}]}),
            "items[0].billing_interval_count",
        ),
        (
            json!({"items": [{"name": "Gold", "currency": "GTQ", "amount_in_cents": 5000, "billing_interval": "month", "free_trial_interval": "fortnight"}]}),
            "items[0].free_trial_interval",
        ),
        (
            json!({"items": [{"name": "Gold", "currency": "GTQ", "amount_in_cents": 5000, "billing_interval": "month", "free_trial_interval_count": 2}]}),
            "items[0].free_trial_interval",
        ),
        (
            json!({"items": [{"name": "Gold", "currency": "GTQ", "amount_in_cents": 5000, "billing_interval": "month", "periods_before_automatic_cancellation": 0}]}),
            "items[0].periods_before_automatic_cancellation",
        ),
        (
            json!({"items": [{"name": "Gold", "currency": "GTQ", "amount_in_cents": 5000, "billing_interval": "month", "has_dynamic_pricing": true}]}),
            "items[0].has_dynamic_pricing",
        ),
        (
            json!({"items": [item(), {"name": "B", "currency": "USD", "amount_in_cents": 1}]}),
            "items[1].currency",
        ),
        (
            json!({"items": [recurring_item("Gold", 5000, "month"), recurring_item("Silver", 5000, "year")]}),
            "items[1]",
        ),
        (
            with(&|b| b["transfer_setups"] = json!([{"amount_in_cents": 3001}])),
            "transfer_setups",
        ),
        (
            with(&|b| b["transfer_setups"] = json!([{"amount_in_cents": 0}])),
            "transfer_setups[0].amount_in_cents",
        ),
    ];
    for (body, field) in cases {
        let r = post(&sim, "/api/checkouts", body.clone()).await;
        assert_invalid(&r, field);
    }
    // Nothing was created by the failed requests.
    assert_eq!(get(&sim, "/api/checkouts").await.json, json!([]));

    // Amounts as numbers or numeric strings, as the reference's own examples send both.
    let id = checkout(
        &sim,
        json!({"items": [{"name": "A", "currency": "USD", "amount_in_cents": "1500", "quantity": "2"}]}),
    )
    .await;
    assert_eq!(
        get(&sim, &format!("/api/checkouts/{id}")).await.json["total_in_cents"],
        "3000"
    );
    // Not JSON at all: a 400 with an error key.
    let r = reqwest::Client::new()
        .post(format!("{}/api/checkouts", sim.base_url()))
        .header("X-PUBLIC-KEY", sim.recurrente_public_key())
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("JSON"));
    sim.shutdown().await;
}

#[tokio::test]
async fn form_encoded_bodies_read_like_rails_parameters() {
    let sim = sim().await;
    let form = "items[][name]=One+Ripe+Banana&items[][currency]=GTQ&items[][amount_in_cents]=3000&items[][quantity]=2\
&items[][name]=Gold&items[][currency]=GTQ&items[][amount_in_cents]=500\
&metadata[order]=42&success_url=https%3A%2F%2Fwww.google.com";
    let r = reqwest::Client::new()
        .post(format!("{}/api/checkouts", sim.base_url()))
        .header("X-PUBLIC-KEY", sim.recurrente_public_key())
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let c = get(&sim, &format!("/api/checkouts/{}", created["id"].as_str().unwrap())).await;
    assert_eq!(c.json["total_in_cents"], "6500");
    assert_eq!(c.json["metadata"], json!({"order": "42"}));
    // Multipart is refused with a clear message.
    let r = reqwest::Client::new()
        .post(format!("{}/api/checkouts", sim.base_url()))
        .header("X-PUBLIC-KEY", sim.recurrente_public_key())
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    sim.shutdown().await;
}

#[tokio::test]
async fn connected_account_checkouts_keep_their_transfer_setups() {
    let sim = sim().await;
    let id = checkout(
        &sim,
        json!({"items": [{"currency": "GTQ", "amount_in_cents": "3000"}], "custom_account_id": "ac_123456",
               "transfer_setups": [{"amount_in_cents": "100", "recipient_id": ""}]}),
    )
    .await;
    let c = get(&sim, &format!("/api/checkouts/{id}")).await;
    let setup_id = c.json["transfer_setups"][0]["id"].as_str().unwrap().to_owned();
    assert!(setup_id.starts_with("ts_"), "{setup_id}");
    assert_eq!(
        c.json["transfer_setups"],
        json!([{"id": setup_id, "status": "pending", "amount_in_cents": 100, "currency": "GTQ",
                "recipient_id": null}])
    );
    // Paid: the transfer goes out.
    sim.recurrente_pay(&id, RecurrenteOutcome::CardSuccess).unwrap();
    let c = get(&sim, &format!("/api/checkouts/{id}")).await;
    assert_eq!(c.json["transfer_setups"][0]["status"], "completed");
    assert_eq!(c.json["transfer_setups"][0]["id"], setup_id.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn products_crud_with_prices() {
    let sim = sim().await;
    let example = fixture("product_created_subscription.json");

    let r = post(&sim, "/api/products", fixture("requests/product_subscription.json")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &example, &["image_url"]);
    let sub_id = id_of(&r.json, "prod_");
    let price = &r.json["prices"][0];
    assert!(price["id"].as_str().unwrap().starts_with("price_"));
    assert_eq!(price["charge_type"], "recurring");
    assert_eq!(price["billing_interval"], "month");
    assert_eq!(
        price["periods_before_automatic_cancellation"],
        Value::Null,
        "sent as \"\""
    );
    assert_eq!(price["free_trial_interval_count"], 1);
    assert_eq!(r.json["status"], "active");
    assert_eq!(
        r.json["storefront_link"],
        format!("{}/s/paycycle-sim/el-nombre-de-tu-producto", sim.base_url())
    );

    // The one-time example as printed: adjustable_quantity, inventory_quantity and metadata
    // beside `product`.
    let printed = json!({
        "product": {"name": "El nombre de tu producto", "description": "La descripción es opcional",
            "image_url": "https://source.unsplash.com/400x400/?banana",
            "prices_attributes": [{"currency": "GTQ", "charge_type": "one_time", "amount_in_cents": 500}],
            "cancel_url": "https://www.amazon.com/", "success_url": "https://www.google.com/",
            "custom_terms_and_conditions": "El texto que tú quieras añadir.",
            "phone_requirement": "none", "address_requirement": "none", "billing_info_requirement": "none"},
        "adjustable_quantity": true, "inventory_quantity": null, "metadata": {"sku": "B-1"}
    });
    let r = post(&sim, "/api/products/", printed).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &example, &["image_url"]);
    let one_id = id_of(&r.json, "prod_");
    assert_eq!(r.json["metadata"], json!({"sku": "B-1"}));
    assert_eq!(
        r.json["prices"][0],
        json!({"id": r.json["prices"][0]["id"], "amount_in_cents": 500, "currency": "GTQ",
               "billing_interval_count": 0, "billing_interval": "", "charge_type": "one_time",
               "periods_before_automatic_cancellation": null, "free_trial_interval_count": 0,
               "free_trial_interval": ""})
    );
    assert_ne!(
        r.json["storefront_link"],
        json!(format!("{}/s/paycycle-sim/el-nombre-de-tu-producto", sim.base_url())),
        "slugs are unique"
    );

    let r = get(&sim, &format!("/api/products/{one_id}")).await;
    assert_eq!(r.status, 200);
    assert_shape(&r.json, &example, &["image_url"]);
    let r = get(&sim, "/api/products").await;
    let list_example = fixture("products_list.json");
    assert_shape(&r.json, &list_example, &["image_url"]);
    let ids: Vec<_> = r.json.as_array().unwrap().iter().map(|p| p["id"].clone()).collect();
    assert_eq!(ids, [json!(one_id), json!(sub_id)], "newest first");

    // Update: the name and a price by id (amount as a string), add a price, remove one.
    let price_id = get(&sim, &format!("/api/products/{one_id}")).await.json["prices"][0]["id"].clone();
    let r = patch(
        &sim,
        &format!("/api/products/{one_id}"),
        json!({"product": {"name": "El nuevo nombre del producto",
            "prices_attributes": [{"id": price_id, "amount_in_cents": "1500"},
                                  {"currency": "USD", "amount_in_cents": 700}]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(&r.json, &fixture("product_updated.json"), &["image_url"]);
    assert_eq!(r.json["name"], "El nuevo nombre del producto");
    assert_eq!(r.json["prices"][0]["amount_in_cents"], 1500);
    assert_eq!(r.json["prices"][0]["id"], price_id);
    assert_eq!(r.json["prices"][1]["currency"], "USD");
    assert_eq!(r.json["description"], "La descripción es opcional", "kept");
    // `_destroy`, indexed the way Rails forms send it.
    let r = patch(
        &sim,
        &format!("/api/products/{one_id}"),
        json!({"product": {"prices_attributes": {"0": {"id": price_id, "_destroy": "1"}}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["prices"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["prices"][0]["currency"], "USD");
    assert_invalid(
        &patch(
            &sim,
            &format!("/api/products/{one_id}"),
            json!({"product": {"prices_attributes": [{"id": "price_other", "amount_in_cents": 1}]}}),
        )
        .await,
        "product.prices_attributes[0].id",
    );
    assert_eq!(
        patch(&sim, "/api/products/prod_nope", json!({"product": {}}))
            .await
            .status,
        404
    );

    // Validation.
    let p = |product: Value| json!({ "product": product });
    let price = || json!({"currency": "GTQ", "amount_in_cents": 100});
    for (body, field) in [
        (json!({}), "product"),
        (p(json!({"prices_attributes": [price()]})), "product.name"),
        (p(json!({"name": "X"})), "product.prices_attributes"),
        (
            p(json!({"name": "X", "prices_attributes": [{"currency": "EUR", "amount_in_cents": 1}]})),
            "product.prices_attributes[0].currency",
        ),
        (
            p(json!({"name": "X", "prices_attributes": [{"currency": "GTQ", "amount_in_cents": "1.5"}]})),
            "product.prices_attributes[0].amount_in_cents",
        ),
        (
            p(
                json!({"name": "X", "prices_attributes": [{"currency": "GTQ", "amount_in_cents": 1, "charge_type": "recurring"}]}),
            ),
            "product.prices_attributes[0].billing_interval",
        ),
        (
            p(json!({"name": "X", "phone_requirement": "maybe", "prices_attributes": [price()]})),
            "product.phone_requirement",
        ),
        (
            p(json!({"name": "X", "success_url": "x", "prices_attributes": [price()]})),
            "product.success_url",
        ),
        (
            p(json!({"name": "X", "metadata": {"k": "v".repeat(501)}, "prices_attributes": [price()]})),
            "product.metadata.k",
        ),
    ] {
        assert_invalid(&post(&sim, "/api/products", body).await, field);
    }

    // Delete: the reference's answer; then it is gone.
    let r = delete(&sim, &format!("/api/products/{one_id}")).await;
    assert_eq!(r.status, 200);
    assert_shape(&r.json, &fixture("product_deleted.json"), &["image_url"]);
    assert_eq!(r.json, json!({"id": one_id, "status": "deleted"}));
    assert_eq!(get(&sim, &format!("/api/products/{one_id}")).await.status, 404);
    assert_eq!(delete(&sim, &format!("/api/products/{one_id}")).await.status, 404);
    assert_eq!(get(&sim, "/api/products").await.json.as_array().unwrap().len(), 1);
    assert_invalid(
        &post(&sim, "/api/checkouts", json!({"items": [{"product_id": one_id}]})).await,
        "items[0].product_id",
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn products_with_custom_payment_methods() {
    let sim = sim().await;
    let body = json!({"product": {"name": "Solo tarjeta", "custom_payment_method_settings": "true",
        "card_payments_enabled": "true", "bank_transfer_payments_enabled": "false",
        "available_installments": [3, 6, 12, 18],
        "prices_attributes": [{"amount_in_cents": "10000", "charge_type": "one_time", "currency": "GTQ"}]}});
    let r = post(&sim, "/api/products", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let prod = id_of(&r.json, "prod_");
    let ch = checkout(&sim, json!({"items": [{"product_id": prod, "quantity": 2}]})).await;
    assert_eq!(
        get(&sim, &format!("/api/checkouts/{ch}")).await.json["total_in_cents"],
        "20000"
    );
    let err = sim
        .recurrente_pay(&ch, RecurrenteOutcome::BankTransferPending)
        .unwrap_err();
    assert!(err.to_string().contains("bank transfer"), "{err}");
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn coupons_crud() {
    let sim = sim().await;
    let example = fixture("coupon_created.json");
    let r = post(&sim, "/api/coupons", fixture("requests/coupon_create.json")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &example, &[]);
    let id = id_of(&r.json, "coup_");
    let mut expected = example.clone();
    expected["id"] = json!(id);
    assert_eq!(r.json, expected, "the reference's answer, field for field");

    let r = post(
        &sim,
        "/api/coupons",
        json!({"coupon": {"name": "VERANO25", "percent_off": "10", "duration": "forever"}}),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json["percent_off"], 10);
    assert_eq!(r.json["amount_off_in_cents"], Value::Null);
    assert_eq!(r.json["currency"], Value::Null);
    assert_eq!(r.json["duration"], "forever");
    let percent = id_of(&r.json, "coup_");

    for (coupon, field) in [
        (json!({"amount_off_in_cents": 1500, "currency": "GTQ"}), "coupon.name"),
        (json!({"name": "X"}), "coupon.amount_off_in_cents"),
        (json!({"name": "X", "amount_off_in_cents": 1500}), "coupon.currency"),
        (
            json!({"name": "X", "amount_off_in_cents": 1500, "currency": "EUR"}),
            "coupon.currency",
        ),
        (
            json!({"name": "X", "amount_off_in_cents": 1500, "currency": "GTQ", "percent_off": 10}),
            "coupon.percent_off",
        ),
        (json!({"name": "X", "percent_off": 101}), "coupon.percent_off"),
        (json!({"name": "X", "percent_off": 0}), "coupon.percent_off"),
        (json!({"name": "X", "percent_off": "ten"}), "coupon.percent_off"),
        (json!({"name": "X", "percent_off": "100.01"}), "coupon.percent_off"),
        (
            json!({"name": "X", "percent_off": 5, "duration": "repeating"}),
            "coupon.duration",
        ),
        (
            json!({"name": "X", "amount_off_in_cents": -1, "currency": "GTQ"}),
            "coupon.amount_off_in_cents",
        ),
    ] {
        assert_invalid(&post(&sim, "/api/coupons", json!({ "coupon": coupon })).await, field);
    }

    let r = get(&sim, &format!("/api/coupons/{id}")).await;
    assert_eq!(r.status, 200);
    assert_shape(&r.json, &example, &[]);
    let r = get(&sim, "/api/coupons").await;
    assert_shape(&r.json, &fixture("coupons_list.json"), &[]);
    let ids: Vec<_> = r.json.as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    assert_eq!(ids, [json!(percent), json!(id)]);

    let r = patch(
        &sim,
        &format!("/api/coupons/{id}"),
        json!({"coupon": {"percent_off": 15}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(&r.json, &example, &[]);
    assert_eq!(
        (r.json["percent_off"].clone(), r.json["amount_off_in_cents"].clone()),
        (json!(15), Value::Null)
    );
    assert_eq!(r.json["name"], "NEWCOUPON");
    let r = patch(
        &sim,
        &format!("/api/coupons/{id}"),
        json!({"coupon": {"percent_off": "12.50"}}),
    )
    .await;
    assert_eq!(
        r.json["percent_off"], "12.5",
        "a fractional percentage is a decimal string"
    );
    let r = patch(
        &sim,
        &format!("/api/coupons/{id}"),
        json!({"coupon": {"amount_off_in_cents": 500}}),
    )
    .await;
    assert_invalid(&r, "coupon.currency");

    let r = delete(&sim, &format!("/api/coupons/{id}")).await;
    assert_eq!(r.status, 200);
    assert_shape(&r.json, &fixture("coupon_deleted.json"), &[]);
    assert_eq!(r.json["status"], "deleted");
    assert_eq!(get(&sim, &format!("/api/coupons/{id}")).await.status, 404);
    assert_eq!(get(&sim, "/api/coupons").await.json.as_array().unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn users_transfers_and_refunds() {
    let sim = sim().await;
    let r = post(&sim, "/api/users", fixture("requests/user_create.json")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(&r.json, &fixture("user_created.json"), &[]);
    let user = id_of(&r.json, "us_");
    assert_eq!(r.json["email"], "me@example.com");
    // One user per address.
    let again = post(&sim, "/api/users/", json!({"email": "ME@example.com"})).await;
    assert_eq!(again.json["id"], user);
    assert_invalid(&post(&sim, "/api/users", json!({"email": "nope"})).await, "email");
    assert_invalid(&post(&sim, "/api/users", json!({})).await, "email");

    let r = post(&sim, "/api/transfers", fixture("requests/transfer_create.json")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(&r.json, &fixture("transfer_created.json"), &[]);
    id_of(&r.json, "tr_");
    assert_eq!(r.json["status"], "completed");
    for (body, field) in [
        (json!({"amount_in_cents": 100, "recipient_id": "x"}), "currency"),
        (
            json!({"currency": "GTQ", "amount_in_cents": 0, "recipient_id": "x"}),
            "amount_in_cents",
        ),
        (json!({"currency": "GTQ", "amount_in_cents": 100}), "recipient_id"),
    ] {
        assert_invalid(&post(&sim, "/api/transfers", body).await, field);
    }

    // A paid checkout for the user, then its refund.
    let ch = checkout(
        &sim,
        json!({"items": [{"name": "Juan's order", "currency": "GTQ", "amount_in_cents": 2500}], "user_id": user}),
    )
    .await;
    let paid = sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let pa = paid.payment_intent_id.clone();
    let r = post(&sim, "/api/refunds", json!({"payment_intent_id": pa})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(&r.json, &fixture("refund_created.json"), &[]);
    let re = id_of(&r.json, "re_");
    assert_eq!(r.json["customer"]["id"], user);
    assert_eq!(r.json["customer"]["full_name"], "Jorge Luis Borges");
    assert_eq!(r.json["customer_refunded_amount_in_cents"], 2500);
    assert_eq!(
        r.json["account_refunded_amount_in_cents"],
        2500 - 113,
        "less the 4.5 % fee"
    );
    assert_eq!(r.json["created_at"], "2026-01-10T03:00:00.000-06:00");
    let got = get(&sim, &format!("/api/refunds/{re}")).await;
    assert_eq!((got.status, &got.json), (200, &r.json));
    // Refunding twice is understood but cannot be done: 422.
    assert_conflict(
        &post(&sim, "/api/refunds", json!({"payment_intent_id": pa})).await,
        "payment_intent_id",
    );
    assert_invalid(
        &post(&sim, "/api/refunds", json!({"payment_intent_id": "pa_nope"})).await,
        "payment_intent_id",
    );
    assert_invalid(&post(&sim, "/api/refunds", json!({})).await, "payment_intent_id");
    assert_eq!(get(&sim, "/api/refunds/re_nope").await.status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn payment_intents_take_the_invoice_url() {
    let sim = sim().await;
    let ch = checkout(&sim, items_example()).await;
    let pa = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .payment_intent_id;
    let r = patch(
        &sim,
        &format!("/api/payment_intents/{pa}"),
        fixture("requests/payment_intent_update.json"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(&r.json, &fixture("payment_intent_updated.json"), &[]);
    assert_eq!(r.json["id"], pa);
    assert_eq!(r.json["checkout"]["id"], ch);
    assert_eq!(r.json["amount_in_cents"], 3000);
    assert_eq!(r.json["fee"], 135);
    assert_eq!(r.json["payment"]["paymentable"]["type"], "OneTimePayment");
    assert!(
        r.json["payment"]["paymentable"]["id"]
            .as_str()
            .unwrap()
            .starts_with("on_")
    );
    assert_eq!(r.json["tax_invoice_url"], "https://www.example.com/factura123");
    assert_eq!(r.json["products"][0]["name"], "One Ripe Banana");
    assert_eq!(r.json["created_at"], "2026-01-10T03:00:00.000-06:00");
    assert_invalid(
        &patch(
            &sim,
            &format!("/api/payment_intents/{pa}"),
            json!({"payment_intent": {"tax_invoice_url": "factura"}}),
        )
        .await,
        "payment_intent.tax_invoice_url",
    );
    assert_invalid(
        &patch(
            &sim,
            &format!("/api/payment_intents/{pa}"),
            json!({"payment_intent": {}}),
        )
        .await,
        "payment_intent.tax_invoice_url",
    );
    assert_eq!(
        patch(
            &sim,
            "/api/payment_intents/pa_nope",
            fixture("requests/payment_intent_update.json")
        )
        .await
        .status,
        404
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn webhook_endpoints_have_their_own_secret() {
    let sim = sim().await;
    let r = post(
        &sim,
        "/api/webhook_endpoints",
        fixture("requests/webhook_endpoint_create.json"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &fixture("webhook_endpoint_created.json"), &["signingSecret"]);
    let ep = id_of(&r.json, "ep_");
    assert_eq!(ep.len(), "ep_2fy6I9KODnHzw7Zf0ZGmMs8gEN9".len());
    let secret = r.json["signingSecret"].as_str().unwrap();
    let key = secret.strip_prefix("whsec_").unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(key).unwrap();
    assert_eq!(bytes.len(), 24);
    assert_eq!(r.json["disabled"], false);
    assert_eq!(r.json["createdAt"], "2026-01-10T09:00:00.000000Z");
    assert_eq!(r.json["url"], "https://example.com/webhook");

    let second = post(
        &sim,
        "/api/webhook_endpoints/",
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    assert_ne!(second.json["signingSecret"], r.json["signingSecret"]);
    let list = get(&sim, "/api/webhook_endpoints").await;
    assert_eq!(list.status, 200);
    assert_shape(&list.json, &fixture("webhook_endpoints_list.json"), &[]);
    assert_eq!(list.json.as_array().unwrap().len(), 2);
    assert!(!list.text.contains("signingSecret"), "the secret is shown once");
    assert_eq!(list.json[1]["id"], ep);

    assert_invalid(&post(&sim, "/api/webhook_endpoints", json!({})).await, "url");
    assert_invalid(
        &post(&sim, "/api/webhook_endpoints", json!({"url": "nope"})).await,
        "url",
    );

    let r = delete(&sim, &format!("/api/webhook_endpoints/{ep}")).await;
    assert_eq!(r.status, 200);
    assert_shape(&r.json, &fixture("webhook_endpoint_created.json"), &[]);
    assert_eq!(r.json["id"], ep);
    assert_eq!(delete(&sim, &format!("/api/webhook_endpoints/{ep}")).await.status, 404);
    assert_eq!(
        get(&sim, "/api/webhook_endpoints").await.json.as_array().unwrap().len(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn subscriptions_are_read_listed_and_cancelled() {
    let sim = sim().await;
    let ch = subscription_checkout(&sim, recurring_item("One Free-Testable Banana", 5000, "month")).await;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    assert!(su.starts_with("su_"));
    let example = fixture("subscription_get.json");
    let r = get(&sim, &format!("/api/subscriptions/{su}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_shape(&r.json, &example, TODAYS_SUBSCRIPTION_FIELDS);
    assert_eq!(r.json["status"], "active");
    assert_eq!(r.json["description"], "One Free-Testable Banana");
    assert_eq!(r.json["checkout"], json!({"id": ch}));
    assert!(r.json["product"]["id"].as_str().unwrap().starts_with("prod_"));
    assert_eq!(r.json["created_at"], "2026-01-10T03:00:00.000-06:00");
    assert_eq!(r.json["current_period_start"], "2026-01-10T03:00:00.000-06:00");
    assert_eq!(r.json["current_period_end"], "2026-02-10T03:00:00.000-06:00");
    assert_eq!(r.json["subscriber"]["email"], "payer@example.com");
    assert_eq!(r.json["subscriber"]["first_name"], "Test");
    assert_eq!(r.json["subscriber"]["last_name"], "Payer");
    // The product made for the item is readable, not listed.
    let prod = get(
        &sim,
        &format!("/api/products/{}", r.json["product"]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(prod.json["prices"][0]["amount_in_cents"], 5000);
    assert_eq!(get(&sim, "/api/products").await.json, json!([]));

    let list = get(&sim, "/api/subscriptions").await;
    // The seed's shape plus the newer fields of today's API.
    assert_shape(
        &list.json,
        &fixture("subscriptions_list.json"),
        &[
            "next_payment_attempt_at",
            "payment_retries",
            "resumes_on",
            "default_payment_method",
        ],
    );
    assert_eq!(list.json[0]["payment_retries"], 0);
    assert!(list.json[0]["next_payment_attempt_at"].is_string(), "{}", list.json[0]);
    assert_eq!(list.json[0]["default_payment_method"]["type"], "card");
    assert_eq!(list.json.as_array().unwrap().len(), 1);

    let r = delete(&sim, &format!("/api/subscriptions/{su}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json, fixture("subscription_cancelled.json"));
    assert_eq!(r.json, json!({"message": "Suscripción cancelada"}));
    assert_eq!(
        get(&sim, &format!("/api/subscriptions/{su}")).await.json["status"],
        "cancelled"
    );
    let again = delete(&sim, &format!("/api/subscriptions/{su}")).await;
    assert_eq!(again.status, 422);
    assert!(again.json["message"].is_string());
    assert_eq!(delete(&sim, "/api/subscriptions/su_nope").await.status, 404);
    assert_eq!(get(&sim, "/api/subscriptions/su_nope").await.status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn one_time_payments_charge_a_saved_card() {
    let sim = sim().await;
    let ch = checkout(&sim, items_example()).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    let pm = get(&sim, &format!("/api/checkouts/{ch}")).await.json["payment_method"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(pm.starts_with("pay_m_"));

    let mut body = fixture("requests/one_time_payment_amount.json");
    body["payment_method_id"] = json!(pm);
    let r = post(&sim, "/api/one_time_payments", body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(&r.json, &fixture("one_time_payment_created_amount.json"), &[]);
    id_of(&r.json, "on_");
    assert_eq!(r.json["status"], "paid");

    let prod = post(&sim, "/api/products", fixture("requests/product_one_time.json")).await;
    let mut by_product = fixture("requests/one_time_payment_product.json");
    by_product["payment_method_id"] = json!(pm);
    by_product["items"][0]["product_id"] = prod.json["id"].clone();
    let r = post(&sim, "/api/one_time_payments/", by_product).await;
    assert_eq!(r.status, 201, "{}", r.text);

    assert_invalid(
        &post(
            &sim,
            "/api/one_time_payments",
            fixture("requests/one_time_payment_amount.json"),
        )
        .await,
        "payment_method_id",
    );
    let mut recurring = body.clone();
    recurring["items"] = json!([recurring_item("Gold", 100, "month")]);
    assert_invalid(&post(&sim, "/api/one_time_payments", recurring).await, "items[0]");
    let mut bad_qty = body.clone();
    bad_qty["items"][0]["quantity"] = json!(10);
    assert_invalid(
        &post(&sim, "/api/one_time_payments", bad_qty).await,
        "items[0].quantity",
    );

    // A declined charge: 422 with the bank's reason.
    let r = control(
        &sim,
        &format!("/__sim/recurrente/payment_methods/{pm}/fail_next_charge"),
        json!({}),
    )
    .await;
    assert_eq!((r.status, r.json["failures_pending"].clone()), (200, json!(1)));
    let r = post(&sim, "/api/one_time_payments", body.clone()).await;
    assert_eq!(r.status, 422);
    assert!(r.json["message"].as_str().unwrap().contains("rechazado"));
    assert_eq!(
        post(&sim, "/api/one_time_payments", body).await.status,
        201,
        "one failure only"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn lists_are_paginated_newest_first() {
    let sim = sim().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let r = post(
            &sim,
            "/api/products",
            json!({"product": {"name": format!("P{i}"), "prices_attributes": [{"currency": "GTQ", "amount_in_cents": 100 + i}]}}),
        )
        .await;
        ids.push(r.json["id"].clone());
    }
    ids.reverse();
    let r = get(&sim, "/api/products").await;
    let page1: Vec<_> = r.json.as_array().unwrap().iter().map(|p| p["id"].clone()).collect();
    assert_eq!(page1, ids[..10], "default: the 10 newest");
    assert_eq!(r.headers["total-count"], "25");
    assert_eq!(r.headers["page-items"], "10");
    let link = r.headers["link"].to_str().unwrap();
    assert!(link.contains("page=2&items=10>; rel=\"next\""), "{link}");
    let r = get(&sim, "/api/products?page=3").await;
    let page3: Vec<_> = r.json.as_array().unwrap().iter().map(|p| p["id"].clone()).collect();
    assert_eq!(page3, ids[20..]);
    assert!(!r.headers["link"].to_str().unwrap().contains("next"));
    let r = get(&sim, "/api/products?page=2&items=20").await;
    assert_eq!(r.json.as_array().unwrap().len(), 5);
    assert_eq!(r.json[0]["id"], ids[20]);
    let r = get(&sim, "/api/products?page=4").await;
    assert_eq!(r.json, json!([]));
    let r = get(&sim, "/api/products?items=1000").await;
    assert_eq!(r.json.as_array().unwrap().len(), 25);
    sim.shutdown().await;
}
