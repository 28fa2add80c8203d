//! "Recurrente as it is today" (`../shared/docs/provider-facts.md`, section "Recurrente today"):
//! authentication by the secret key alone or the pair, the documented error bodies and
//! statuses, `/api/customers` (find-or-create by e-mail, wrapped list, update with merged
//! metadata, `customer_id` on checkouts), the pagination headers, and checkout items as the
//! official plugin sends them (catalogue prices, day trials, payment method types per item, a
//! sign-up fee beside the plan, through the typed client and through the gateway's
//! `RecurringPlan::setup_fee`). Each through the typed client against the simulator, and over
//! raw HTTP where the client does not send that form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use futures::TryStreamExt;
use paycycle_core::chrono::{DateTime, Utc};
use paycycle_core::{CheckoutRequest, Currency, Customer, Error, Interval, Money, RecurringGateway, RecurringPlan};
use paycycle_recurrente::wire::{
    CreateCheckout, CreateCustomer, CreateUser, CustomItem, ListCheckouts, ListParams, UpdateCustomer,
};
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway};
use paycycle_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

const AUTH_BODY: &str = r#"{"message":"Autenticación Errónea 👀","errors":{"authentication":["Las llaves de API son inválidas o no coinciden."]}}"#;

fn start() -> DateTime<Utc> {
    "2026-01-10T09:00:00Z".parse().unwrap()
}

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default().start(start())).await.unwrap()
}

fn gtq(s: &str) -> Money {
    Money::parse(s, Currency::GTQ).unwrap()
}

/// A client with the secret key only (no public key configured).
fn secret_only(sim: &Simulator) -> RecurrenteClient {
    let config = RecurrenteConfig::builder()
        .secret_key(sim.recurrente_secret_key())
        .base_url(sim.base_url())
        .max_retries(0)
        .build()
        .unwrap();
    assert!(config.public_key().is_none());
    RecurrenteClient::new(&config).unwrap()
}

/// A client with both keys.
fn pair(sim: &Simulator) -> RecurrenteClient {
    let config = RecurrenteConfig::builder()
        .public_key(sim.recurrente_public_key())
        .secret_key(sim.recurrente_secret_key())
        .webhook_secret(sim.recurrente_webhook_secret())
        .base_url(sim.base_url())
        .max_retries(0)
        .build()
        .unwrap();
    RecurrenteClient::new(&config).unwrap()
}

/// A raw request with the given headers; the status, headers and JSON body (`Null` if none).
async fn raw(
    sim: &Simulator,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", sim.base_url()));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn keys(sim: &Simulator) -> [(&'static str, String); 2] {
    [
        ("X-PUBLIC-KEY", sim.recurrente_public_key().to_owned()),
        ("X-SECRET-KEY", sim.recurrente_secret_key().to_owned()),
    ]
}

fn secret(sim: &Simulator) -> Vec<(&'static str, String)> {
    vec![("X-SECRET-KEY", sim.recurrente_secret_key().to_owned())]
}

fn refs<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    h.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn item() -> Value {
    json!({"items": [{"name": "Banana", "currency": "GTQ", "amount_in_cents": 3000}]})
}

// ---------------------------------------------------------------------------------------------
// 1. Authentication

#[tokio::test]
async fn the_secret_key_alone_authenticates_the_typed_client() {
    let sim = sim().await;
    let c = secret_only(&sim);
    assert_eq!(
        c.test_authentication().await.unwrap().message.as_deref(),
        Some("Hello paycycle-sim")
    );
    let created = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]))
        .await
        .unwrap();
    assert_eq!(c.get_checkout(&created.id).await.unwrap().id, created.id);
    // The pair works as before.
    assert!(pair(&sim).test_authentication().await.is_ok());
    sim.shutdown().await;
}

#[tokio::test]
async fn keys_of_another_account_or_mode_are_refused_with_the_documented_body() {
    let sim = sim().await;
    let expected: Value = serde_json::from_str(AUTH_BODY).unwrap();
    let sk = sim.recurrente_secret_key().to_owned();
    let pk = sim.recurrente_public_key().to_owned();
    for (what, headers) in [
        ("nothing", vec![]),
        (
            "a live secret key alone",
            vec![("X-SECRET-KEY", "sk_live_paycycle_sim")],
        ),
        (
            "another account's secret key",
            vec![("X-SECRET-KEY", "sk_test_other_account")],
        ),
        (
            "a live public key with the test secret key",
            vec![("X-PUBLIC-KEY", "pk_live_paycycle_sim"), ("X-SECRET-KEY", sk.as_str())],
        ),
        (
            "the public key with another secret key",
            vec![("X-PUBLIC-KEY", pk.as_str()), ("X-SECRET-KEY", "sk_test_other_account")],
        ),
        (
            "the public key alone, outside POST /api/checkouts",
            vec![("X-PUBLIC-KEY", pk.as_str())],
        ),
    ] {
        let (status, _, body) = raw(&sim, Method::GET, "/api/test", &headers, None).await;
        assert_eq!((status, &body), (401, &expected), "{what}");
    }
    // The typed client reads it as an authentication error with Recurrente's message.
    let config = RecurrenteConfig::builder()
        .public_key("pk_live_paycycle_sim")
        .secret_key(sim.recurrente_secret_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    match RecurrenteClient::new(&config).unwrap().test_authentication().await {
        Err(Error::Authentication { status, message, .. }) => {
            assert_eq!(status, Some(401));
            assert_eq!(message, "Autenticación Errónea 👀");
        }
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_public_key_alone_creates_checkouts_and_nothing_else() {
    let sim = sim().await;
    let pk = [("X-PUBLIC-KEY", sim.recurrente_public_key())];
    let (status, _, body) = raw(&sim, Method::POST, "/api/checkouts", &pk, Some(item())).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    // Reading it back needs the secret key.
    let (status, _, _) = raw(&sim, Method::GET, &format!("/api/checkouts/{id}"), &pk, None).await;
    assert_eq!(status, 401);
    let (status, _, body) = raw(&sim, Method::GET, "/api/checkouts", &pk, None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Autenticación Errónea 👀"))
    );
    let s = secret(&sim);
    let (status, _, got) = raw(&sim, Method::GET, &format!("/api/checkouts/{id}"), &refs(&s), None).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(id.as_str())));
    sim.shutdown().await;
}

/// Headers seen by a recording server that answers `/api/test` like Recurrente.
async fn recording_server() -> (String, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let s = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push(headers);
            axum::Json(json!({"message": "Hello"}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn the_client_sends_the_secret_key_and_the_public_key_only_when_configured_never_bearer() {
    let (url, seen) = recording_server().await;
    let only = RecurrenteConfig::builder()
        .secret_key("sk_test_s")
        .base_url(&url)
        .build()
        .unwrap();
    let both = RecurrenteConfig::builder()
        .public_key("pk_test_p")
        .secret_key("sk_test_s")
        .base_url(&url)
        .build()
        .unwrap();
    for secret in ["sk_test_s", "pk_test_p"] {
        assert!(!format!("{only:?} {both:?}").contains(secret), "Debug redacts the keys");
    }
    RecurrenteClient::new(&only)
        .unwrap()
        .test_authentication()
        .await
        .unwrap();
    RecurrenteClient::new(&both)
        .unwrap()
        .test_authentication()
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].get("x-secret-key").unwrap(), "sk_test_s");
    assert!(seen[0].get("x-public-key").is_none());
    assert_eq!(seen[1].get("x-secret-key").unwrap(), "sk_test_s");
    assert_eq!(seen[1].get("x-public-key").unwrap(), "pk_test_p");
    assert!(seen.iter().all(|h| h.get("authorization").is_none()), "never Bearer");
    // From the environment's names, the public key is optional too.
    let from_vars = RecurrenteConfig::from_vars(|name| {
        Ok((name == paycycle_recurrente::ENV_SECRET_KEY).then(|| "sk_test_s".to_owned()))
    })
    .unwrap();
    assert!(from_vars.public_key().is_none());
}

// ---------------------------------------------------------------------------------------------
// 2. Error bodies

#[tokio::test]
async fn validation_is_400_state_conflicts_422_both_with_message_and_field_errors() {
    let sim = sim().await;
    let c = pair(&sim);
    // 400: a bad parameter the client cannot know about (the simulator is stricter).
    match c.create_customer(&CreateCustomer::new("me@localhost")).await {
        Err(Error::Rejected {
            status: 400,
            message: Some(m),
            field_errors,
            ..
        }) => {
            assert!(m.starts_with("email"), "{m}");
            assert_eq!(field_errors["email"], vec!["must be an e-mail address".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    // 422: a paid checkout cannot change.
    let ch = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]))
        .await
        .unwrap();
    sim.recurrente_pay(&ch.id, paycycle_sim::RecurrenteOutcome::CardSuccess)
        .unwrap();
    let (status, _, body) = raw(
        &sim,
        Method::PATCH,
        &format!("/api/checkouts/{}", ch.id),
        &refs(&keys(&sim)),
        Some(json!({"metadata": {"a": "b"}})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(body["message"].is_string() && body.get("error").is_none(), "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn every_error_under_api_is_json_unknown_routes_wrong_methods_and_bad_bodies() {
    let sim = sim().await;
    let k = keys(&sim);
    let k = refs(&k);
    let cases: Vec<(Method, &str, u16)> = vec![
        (Method::GET, "/api/no_such_thing", 404),
        (Method::GET, "/api", 404),
        (Method::GET, "/api/checkouts/ch_nope", 404),
        (Method::DELETE, "/api/checkouts", 405),
        (Method::PUT, "/api/test", 405),
        (Method::POST, "/api/subscriptions/su_x", 405),
        (Method::DELETE, "/api/customers/cus_x", 405),
        (Method::GET, "/api/users/", 405),
    ];
    for (method, path, expected) in cases {
        let (status, headers, body) = raw(&sim, method.clone(), path, &k, None).await;
        assert_eq!(status, expected, "{method} {path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{method} {path}"
        );
        assert!(body["message"].is_string(), "{method} {path}: {body}");
        // Without keys, the same requests are 401 with the documented body.
        let (status, _, body) = raw(&sim, method.clone(), path, &[], None).await;
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(body, serde_json::from_str::<Value>(AUTH_BODY).unwrap());
    }
    // A body that is not JSON is 400 with a message.
    let r = reqwest::Client::new()
        .post(format!("{}/api/checkouts", sim.base_url()))
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("JSON"), "{v}");
    // A body over the server's limit: the extractor's plain-text refusal becomes JSON too.
    let r = reqwest::Client::new()
        .post(format!("{}/api/checkouts", sim.base_url()))
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].is_string(), "{v}");
    // The typed client reads a 404 under /api as NotFound.
    assert!(matches!(
        pair(&sim).get_customer("cus_nope").await,
        Err(Error::NotFound { .. })
    ));
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Customers

#[tokio::test]
async fn customers_are_found_or_created_by_email_read_updated_and_listed() {
    let sim = sim().await;
    let c = pair(&sim);
    let ana = c
        .create_customer(
            &CreateCustomer::new("ana@example.com")
                .full_name("Ana López")
                .phone("+502 5555 0000")
                .address("6a Avenida 1-23")
                .nit("1234567-8")
                .metadata("tier", "gold")
                .metadata("crm", "42"),
        )
        .await
        .unwrap();
    assert!(ana.id.starts_with("cus_"), "{}", ana.id);
    let user = ana.user_id.clone().unwrap();
    assert_eq!(ana.email.as_deref(), Some("ana@example.com"));
    assert_eq!(ana.name.as_deref(), Some("Ana López"));
    assert_eq!(ana.nit.as_deref(), Some("1234567-8"));
    assert_eq!(ana.metadata["tier"], "gold");
    // Found again by e-mail (whatever its case): the same customer, unchanged.
    let again = c
        .create_customer(&CreateCustomer::new("ANA@example.com").name("Someone else"))
        .await
        .unwrap();
    assert_eq!(again, ana);
    // The user behind it is the one /api/users knows.
    let u = c.create_user(&CreateUser::new("ana@example.com", None)).await.unwrap();
    assert_eq!(u.id, user);
    // A user created first gets the customer attached.
    let juan = c
        .create_user(&CreateUser::new("juan@example.com", Some("Juan Pérez".into())))
        .await
        .unwrap();
    let juan_c = c
        .create_customer(&CreateCustomer::new("juan@example.com"))
        .await
        .unwrap();
    assert_eq!(juan_c.user_id.as_deref(), Some(juan.id.as_str()));
    // Read by id and by user.
    assert_eq!(c.get_customer(&ana.id).await.unwrap(), ana);
    assert_eq!(c.get_customer_by_user(&user).await.unwrap(), ana);
    assert!(matches!(
        c.get_customer_by_user("us_nobody").await,
        Err(Error::NotFound { .. })
    ));
    // Update: fields given change; metadata is merged, a `None` deletes a key.
    let updated = c
        .update_customer(
            &ana.id,
            &UpdateCustomer::new()
                .phone("+502 5555 1111")
                .metadata("tier", "platinum")
                .metadata("since", "2026")
                .remove_metadata("crm"),
        )
        .await
        .unwrap();
    assert_eq!(updated.phone.as_deref(), Some("+502 5555 1111"));
    assert_eq!(updated.name.as_deref(), Some("Ana López"));
    assert_eq!(updated.email.as_deref(), Some("ana@example.com"));
    assert_eq!(
        Value::Object(updated.metadata.clone()),
        json!({"tier": "platinum", "since": "2026"})
    );
    assert!(matches!(
        c.update_customer(&ana.id, &UpdateCustomer::new()).await,
        Err(Error::InvalidInput { .. })
    ));
    // Listed newest first, wrapped in `customers`.
    let page = c.list_customers(&ListParams::new()).await.unwrap();
    let ids: Vec<_> = page.items.iter().map(|x| x.id.clone()).collect();
    assert_eq!(ids, [juan_c.id.clone(), ana.id.clone()]);
    assert_eq!(page.next_cursor, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn customers_over_raw_http_patch_alias_deep_merge_and_user_id_lookup() {
    let sim = sim().await;
    let k = keys(&sim);
    let k = refs(&k);
    let (status, _, created) = raw(
        &sim,
        Method::POST,
        "/api/customers",
        &k,
        Some(
            json!({"email": "eva@example.com", "name": "Eva", "metadata": {"a": "1", "nested": {"x": "1", "y": "2"}}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let user = created["user_id"].as_str().unwrap().to_owned();
    let mut keys_sorted: Vec<_> = created.as_object().unwrap().keys().cloned().collect();
    keys_sorted.sort();
    assert_eq!(
        keys_sorted,
        ["address", "email", "id", "metadata", "name", "nit", "phone", "user_id"]
    );
    // Found again: 200, same customer.
    let (status, _, found) = raw(
        &sim,
        Method::POST,
        "/api/customers",
        &k,
        Some(json!({"email": "eva@example.com"})),
    )
    .await;
    assert_eq!((status, &found), (200, &created));
    // PATCH is an alias of PUT; metadata is deep-merged, null deletes; email is not updated.
    let (status, _, patched) = raw(
        &sim,
        Method::PATCH,
        &format!("/api/customers/{id}"),
        &k,
        Some(json!({"email": "other@example.com", "nit": "CF", "metadata": {"a": null, "b": "2", "nested": {"y": null, "z": "3"}}})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["email"], "eva@example.com");
    assert_eq!(patched["nit"], "CF");
    assert_eq!(patched["metadata"], json!({"b": "2", "nested": {"x": "1", "z": "3"}}));
    // PUT by user: `?user_id=` on the customer path.
    let (status, _, put) = raw(
        &sim,
        Method::PUT,
        &format!("/api/customers/{user}?user_id={user}"),
        &k,
        Some(json!({"phone": "555"})),
    )
    .await;
    assert_eq!(
        (status, put["id"].as_str(), put["phone"].as_str()),
        (200, Some(id.as_str()), Some("555"))
    );
    let (status, _, got) = raw(&sim, Method::GET, &format!("/api/customers/_?user_id={user}"), &k, None).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(id.as_str())));
    // Bad input is 400 naming the field.
    let (status, _, bad) = raw(&sim, Method::POST, "/api/customers", &k, Some(json!({"name": "x"}))).await;
    assert_eq!(status, 400);
    assert!(bad["errors"]["email"].is_array(), "{bad}");

    // Checkouts take `customer_id` as well as `user_id`.
    let mut body = item();
    body["customer_id"] = json!(id);
    let (status, _, co) = raw(&sim, Method::POST, "/api/checkouts", &k, Some(body.clone())).await;
    assert_eq!(status, 201, "{co}");
    let listed = pair(&sim)
        .list_checkouts(&ListCheckouts::new().user_id(&user))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, co["id"].as_str().unwrap());
    body["customer_id"] = json!("cus_nope");
    let (status, _, e) = raw(&sim, Method::POST, "/api/checkouts", &k, Some(body.clone())).await;
    assert_eq!(status, 400);
    assert!(e["errors"]["customer_id"].is_array(), "{e}");
    let other = pair(&sim)
        .create_user(&CreateUser::new("other@example.com", None))
        .await
        .unwrap();
    body["customer_id"] = json!(id);
    body["user_id"] = json!(other.id);
    let (status, _, e) = raw(&sim, Method::POST, "/api/checkouts", &k, Some(body)).await;
    assert_eq!(status, 400, "a customer of another user: {e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_gateway_finds_the_customer_by_email_instead_of_making_one_per_checkout() {
    let sim = sim().await;
    let config = RecurrenteConfig::builder()
        .secret_key(sim.recurrente_secret_key())
        .webhook_secret(sim.recurrente_webhook_secret())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let g = RecurrenteGateway::new(&config).unwrap();
    let plan = RecurringPlan::builder("Gold", gtq("50.00"), Interval::monthly())
        .build()
        .unwrap();
    let customer = Customer {
        email: Some("ana@example.com".into()),
        name: Some("Ana López".into()),
    };
    let mut checkouts = Vec::new();
    for _ in 0..2 {
        let co = g
            .create_checkout(&CheckoutRequest::new(plan.clone()).customer(customer.clone()))
            .await
            .unwrap();
        checkouts.push(co.id.as_str().to_owned());
    }
    let customers: Vec<_> = g.client().all_customers(ListParams::new()).try_collect().await.unwrap();
    assert_eq!(customers.len(), 1, "one customer for a repeat buyer");
    assert_eq!(customers[0].name.as_deref(), Some("Ana López"));
    let user = customers[0].user_id.clone().unwrap();
    let listed = g
        .client()
        .list_checkouts(&ListCheckouts::new().user_id(&user))
        .await
        .unwrap();
    let mut ids: Vec<_> = listed.items.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    checkouts.sort();
    assert_eq!(ids, checkouts, "both checkouts pre-filled with the customer's user");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Pagination

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap()
}

#[tokio::test]
async fn the_simulator_sends_the_five_pagination_headers() {
    let sim = sim().await;
    let c = pair(&sim);
    for i in 0..5 {
        c.create_customer(&CreateCustomer::new(format!("p{i}@example.com")))
            .await
            .unwrap();
    }
    let k = keys(&sim);
    let k = refs(&k);
    let (status, h, body) = raw(&sim, Method::GET, "/api/customers?page=2&items=2", &k, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["customers"].as_array().unwrap().len(), 2);
    assert_eq!(header(&h, "current-page"), "2");
    assert_eq!(header(&h, "page-items"), "2");
    assert_eq!(header(&h, "total-pages"), "3");
    assert_eq!(header(&h, "total-count"), "5");
    let link = header(&h, "link");
    for rel in ["first", "prev", "next", "last"] {
        assert!(link.contains(&format!("rel=\"{rel}\"")), "{rel} in {link}");
    }
    assert!(link.contains("page=3&items=2>; rel=\"next\""), "{link}");
    // The last page: one row, `Page-Items` is still the page size, and no `next`.
    let (_, h, body) = raw(&sim, Method::GET, "/api/customers?page=3&items=2", &k, None).await;
    assert_eq!(body["customers"].as_array().unwrap().len(), 1);
    assert_eq!(header(&h, "page-items"), "2");
    assert_eq!(header(&h, "current-page"), "3");
    assert!(!header(&h, "link").contains("rel=\"next\""));
    // Bare-array lists carry them too.
    let (_, h, body) = raw(&sim, Method::GET, "/api/checkouts?items=3", &k, None).await;
    assert!(body.is_array());
    assert_eq!(
        (
            header(&h, "total-count"),
            header(&h, "total-pages"),
            header(&h, "current-page")
        ),
        ("0", "1", "1")
    );
    // The typed client pages through them.
    let page = c.list_customers(&ListParams::new().items(2)).await.unwrap();
    assert_eq!((page.items.len(), page.next_cursor.as_deref()), (2, Some("2")));
    let all: Vec<_> = c.all_customers(ListParams::new().items(2)).try_collect().await.unwrap();
    assert_eq!(all.len(), 5);
    sim.shutdown().await;
}

/// A server of 5 products that serves at most 2 per page whatever is asked, with the given
/// pagination headers (`link`, `total`) or none.
async fn capped_server(link: bool, total: bool) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let app = Router::new().fallback(move |uri: Uri| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push(uri.to_string());
            let page: usize = uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|p| p.strip_prefix("page="))
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let rows: Vec<Value> = (1..=5)
                .skip((page - 1) * 2)
                .take(2)
                .map(|i| json!({"id": format!("prod_{i}")}))
                .collect();
            let mut headers = HeaderMap::new();
            if link && page < 3 {
                let next = format!("<http://x/api/products?page={}&items=2>; rel=\"next\"", page + 1);
                headers.insert("Link", next.parse().unwrap());
            } else if link {
                headers.insert(
                    "Link",
                    "<http://x/api/products?page=1&items=2>; rel=\"first\"".parse().unwrap(),
                );
            }
            if total {
                headers.insert("Total-Pages", "3".parse().unwrap());
                headers.insert("Current-Page", page.to_string().parse().unwrap());
            }
            (headers, axum::Json(Value::Array(rows))).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn the_client_follows_link_then_total_pages_else_stops_on_a_short_page() {
    for (link, total, expected) in [(true, false, 5), (false, true, 5), (true, true, 5), (false, false, 2)] {
        let (url, seen) = capped_server(link, total).await;
        let config = RecurrenteConfig::builder()
            .secret_key("sk_test_s")
            .base_url(&url)
            .build()
            .unwrap();
        let c = RecurrenteClient::new(&config).unwrap();
        let all: Vec<_> = c.all_products(ListParams::new().items(10)).try_collect().await.unwrap();
        assert_eq!(
            all.len(),
            expected,
            "link {link}, total {total}: {:?}",
            seen.lock().unwrap()
        );
        let ids: Vec<_> = all.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids, ["prod_1", "prod_2", "prod_3", "prod_4", "prod_5"][..expected]);
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriptions: `PUT /api/subscriptions/{id}` puts a new card on it

/// A paid monthly subscription; returns its id and saved card.
async fn subscribed(sim: &Simulator, c: &RecurrenteClient) -> (String, String) {
    use paycycle_recurrente::wire::RecurringTerms;
    let item = CustomItem::new("Plan", gtq("50")).recurring(RecurringTerms::new(Interval::monthly()));
    let ch = c.create_checkout(&CreateCheckout::new([item.into()])).await.unwrap();
    let a = sim
        .recurrente_pay(&ch.id, paycycle_sim::RecurrenteOutcome::CardSuccess)
        .unwrap();
    (a.subscription_id.unwrap(), a.payment_method_id.unwrap())
}

#[tokio::test]
async fn the_typed_client_puts_a_new_card_on_a_subscription() {
    use paycycle_recurrente::wire::{SubscriptionState, UpdateSubscription};
    let sim = sim().await;
    let c = secret_only(&sim);
    let (su, _) = subscribed(&sim, &c).await;
    let (_, card) = subscribed(&sim, &c).await;

    // Checked before sending.
    for bad in ["", " pay_m_x", ".."] {
        match c
            .update_subscription(&su, &UpdateSubscription::payment_method(bad))
            .await
        {
            Err(Error::InvalidInput { .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Refused by the provider: 400 naming the field.
    match c
        .update_subscription(&su, &UpdateSubscription::payment_method("pay_m_nope"))
        .await
    {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(field_errors.contains_key("payment_method_id"), "{field_errors:?}"),
        other => panic!("{other:?}"),
    }
    match c
        .update_subscription("su_nothere", &UpdateSubscription::payment_method(&card))
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{other:?}"),
    }

    // Past due, then the new card retries the failed charge at once.
    sim.recurrente_fail_next_charge(&su, 1).unwrap();
    sim.advance(paycycle_core::chrono::Duration::days(31)).unwrap();
    assert_eq!(
        c.get_subscription(&su).await.unwrap().status,
        Some(SubscriptionState::PastDue)
    );
    let updated = c
        .update_subscription(&su, &UpdateSubscription::payment_method(&card))
        .await
        .unwrap();
    assert_eq!(updated.id, su);
    assert_eq!(updated.status, Some(SubscriptionState::Active));

    // A cancelled subscription: 422.
    c.cancel_subscription(&su).await.unwrap();
    match c
        .update_subscription(&su, &UpdateSubscription::payment_method(&card))
        .await
    {
        Err(Error::Rejected { status: 422, .. }) => {}
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Checkout items as the official plugin sends them

/// The requests a receiver got: headers and body bytes, in order.
type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A webhook receiver: keeps each request's headers and body, answers 200.
async fn receiver() -> (String, Received) {
    let seen: Received = Arc::default();
    let s = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push((headers, body.to_vec()));
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks"), seen)
}

/// A simulator that sends every Recurrente event to a receiver.
async fn hooked() -> (Simulator, Received) {
    let (url, seen) = receiver().await;
    let sim = Simulator::start(SimConfig::default().start(start()).recurrente_webhook_url(url))
        .await
        .unwrap();
    (sim, seen)
}

/// `amount_in_cents` of every `payment_intent.succeeded` received so far, in order.
async fn paid_cents(sim: &Simulator, seen: &Mutex<Vec<(HeaderMap, Vec<u8>)>>) -> Vec<i64> {
    sim.flush_webhooks().await;
    seen.lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap())
        .filter(|e| e["event_type"] == "payment_intent.succeeded")
        .map(|e| e["amount_in_cents"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn catalogue_prices_are_checked_out_by_price_id() {
    use paycycle_recurrente::wire::{CreateProduct, LineItem, NewPrice, RecurringTerms};
    let sim = sim().await;
    let c = secret_only(&sim);
    // A product with two prices: its id alone is ambiguous, a price id is not.
    let product = c
        .create_product(
            &CreateProduct::new(
                "Gimnasio",
                NewPrice::recurring(gtq("99"), RecurringTerms::new(Interval::monthly())),
            )
            .price(NewPrice::one_time(gtq("500"))),
        )
        .await
        .unwrap();
    assert_eq!(product.prices.len(), 2);
    let monthly = product.prices[0].id.clone();
    let yearly_once = product.prices[1].id.clone();
    assert!(monthly.starts_with("price_") && yearly_once.starts_with("price_"));

    let co = c
        .create_checkout(&CreateCheckout::new([LineItem::price_times(&yearly_once, 2)]))
        .await
        .unwrap();
    assert_eq!(c.get_checkout(&co.id).await.unwrap().total(), Some(gtq("1000")));
    let co = c
        .create_checkout(&CreateCheckout::new([LineItem::price(&monthly)]))
        .await
        .unwrap();
    let got = c.get_checkout(&co.id).await.unwrap();
    assert_eq!(got.total(), Some(gtq("99")));
    // Paid, the price's recurrence starts a subscription.
    let a = sim
        .recurrente_pay(&co.id, paycycle_sim::RecurrenteOutcome::CardSuccess)
        .unwrap();
    let su = a.subscription_id.expect("a recurring price starts a subscription");
    assert_eq!(
        c.get_checkout(&co.id).await.unwrap().subscription_id(),
        Some(su.as_str())
    );

    match c
        .create_checkout(&CreateCheckout::new([LineItem::product(&product.id)]))
        .await
    {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(field_errors.contains_key("items[0].product_id"), "{field_errors:?}"),
        other => panic!("a product with two prices: {other:?}"),
    }
    match c
        .create_checkout(&CreateCheckout::new([LineItem::price("price_nope")]))
        .await
    {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(field_errors.contains_key("items[0].price_id"), "{field_errors:?}"),
        other => panic!("an unknown price: {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_fourteen_day_trial_is_sent_in_days_and_the_first_charge_follows_it() {
    use paycycle_recurrente::wire::RecurringTerms;
    let (sim, seen) = hooked().await;
    let c = secret_only(&sim);
    let plan = CustomItem::new("Plan", gtq("99"))
        .recurring(RecurringTerms::new(Interval::monthly()).trial(Interval::days(14).unwrap()));
    let co = c.create_checkout(&CreateCheckout::new([plan.into()])).await.unwrap();
    let a = sim
        .recurrente_pay(&co.id, paycycle_sim::RecurrenteOutcome::CardSuccess)
        .unwrap();
    let su = a.subscription_id.unwrap();
    sim.advance(paycycle_core::chrono::Duration::days(13)).unwrap();
    assert_eq!(
        paid_cents(&sim, &seen).await,
        Vec::<i64>::new(),
        "nothing during the trial"
    );
    sim.advance(paycycle_core::chrono::Duration::days(1)).unwrap();
    assert_eq!(paid_cents(&sim, &seen).await, vec![9900], "the plan on day 14");
    assert_eq!(
        c.get_subscription(&su).await.unwrap().status,
        Some(paycycle_recurrente::wire::SubscriptionState::Active)
    );

    // The same through the gateway: a plan with a 14-day trial is a supported checkout.
    let g = RecurrenteGateway::new(
        &RecurrenteConfig::builder()
            .secret_key(sim.recurrente_secret_key())
            .base_url(sim.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let plan = RecurringPlan::builder("Plan", gtq("99"), Interval::monthly())
        .trial(Interval::days(14).unwrap())
        .build()
        .unwrap();
    let checkout = g.create_checkout(&CheckoutRequest::new(plan)).await.unwrap();
    assert_eq!(checkout.status, paycycle_core::SubscriptionStatus::Pending);
    sim.shutdown().await;
}

#[tokio::test]
async fn payment_method_types_are_sent_per_item_and_read_back() {
    use paycycle_recurrente::wire::AllowedPaymentMethod as M;
    let sim = sim().await;
    let c = secret_only(&sim);
    let co = c
        .create_checkout(&CreateCheckout::new([
            CustomItem::new("A", gtq("30"))
                .payment_method_types([M::Card, M::BankTransfer, M::Stablecoins])
                .into(),
            CustomItem::new("B", gtq("20"))
                .payment_method_types([M::Stablecoins, M::Card])
                .into(),
        ]))
        .await
        .unwrap();
    // The checkout allows what every item allows.
    assert_eq!(
        c.get_checkout(&co.id).await.unwrap().payment_method_types,
        Some(vec![M::Card, M::Stablecoins])
    );
    let plain = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("A", gtq("30")).into()]))
        .await
        .unwrap();
    assert_eq!(c.get_checkout(&plain.id).await.unwrap().payment_method_types, None);
    // A type the provider does not know is its to refuse (the client passes it through).
    match c
        .create_checkout(&CreateCheckout::new([CustomItem::new("A", gtq("30"))
            .payment_method_types([M::from("cheque")])
            .into()]))
        .await
    {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(
            field_errors
                .keys()
                .any(|k| k.starts_with("items[0].payment_method_types")),
            "{field_errors:?}"
        ),
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_sign_up_fee_item_is_charged_once_with_the_first_payment() {
    use paycycle_recurrente::wire::RecurringTerms;
    let (sim, seen) = hooked().await;
    let c = secret_only(&sim);
    // The official plugin's shape: the plan, then a one-time "Cuota de inscripción".
    let plan = CustomItem::new("Plan", gtq("99"))
        .quantity(1)
        .recurring(RecurringTerms::new(Interval::monthly()));
    let fee = CustomItem::new("Cuota de inscripción", gtq("50")).quantity(1);
    let co = c
        .create_checkout(&CreateCheckout::new([plan.into(), fee.into()]))
        .await
        .unwrap();
    assert_eq!(c.get_checkout(&co.id).await.unwrap().total(), Some(gtq("149")));
    sim.recurrente_pay(&co.id, paycycle_sim::RecurrenteOutcome::CardSuccess)
        .unwrap();
    sim.advance(paycycle_core::chrono::Duration::days(31)).unwrap();
    assert_eq!(
        paid_cents(&sim, &seen).await,
        vec![14900, 9900],
        "the fee once, then the plan alone"
    );
    // Below the checkout minimum, the fee is refused before sending.
    let cheap = CustomItem::new("Cuota", gtq("4.99"));
    let plan = CustomItem::new("Plan", gtq("99")).recurring(RecurringTerms::new(Interval::monthly()));
    match c
        .create_checkout(&CreateCheckout::new([plan.into(), cheap.into()]))
        .await
    {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "items[1].amount_in_cents"),
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

/// A gateway verifying with the simulator's dashboard secret.
fn gateway(sim: &Simulator) -> RecurrenteGateway {
    RecurrenteGateway::new(
        &RecurrenteConfig::builder()
            .secret_key(sim.recurrente_secret_key())
            .webhook_secret(sim.recurrente_webhook_secret())
            .base_url(sim.base_url())
            .max_retries(0)
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_gateway_charges_a_plans_setup_fee_once_on_recurrente() {
    use paycycle_core::{CheckoutId, EventKind, PaymentId, SubscriptionStatus};
    let (sim, seen) = hooked().await;
    let g = gateway(&sim);
    assert!(g.capabilities().setup_fee);
    let plan = RecurringPlan::builder("Gold", gtq("99"), Interval::monthly())
        .setup_fee(gtq("50"))
        .build()
        .unwrap();
    let checkout = g
        .create_checkout(&CheckoutRequest::new(plan).merchant_reference("order-fee"))
        .await
        .unwrap();
    assert_eq!(checkout.status, SubscriptionStatus::Pending);
    // Sent as the plan followed by a one-time item with the fee.
    let wire = g.client().get_checkout(checkout.id.as_str()).await.unwrap();
    assert_eq!(wire.total(), Some(gtq("149")));
    sim.recurrente_pay(checkout.id.as_str(), paycycle_sim::RecurrenteOutcome::CardSuccess)
        .unwrap();
    let paid = g.checkout(&CheckoutId::new(checkout.id.as_str())).await.unwrap();
    assert_eq!(paid.status, SubscriptionStatus::Active);
    let sid = paid.subscription_id.unwrap();
    sim.advance(paycycle_core::chrono::Duration::days(31)).unwrap();
    sim.advance(paycycle_core::chrono::Duration::days(28)).unwrap();
    sim.flush_webhooks().await;
    // Verified and normalized: one payment of plan + fee, then the plan alone each month.
    let mut payments: Vec<(PaymentId, Money)> = Vec::new();
    for (headers, body) in seen.lock().unwrap().iter() {
        let e = g.verify_webhook(headers, body).unwrap();
        if e.kind != EventKind::PaymentSucceeded {
            continue;
        }
        assert_eq!(e.merchant_reference.as_deref(), Some("order-fee"));
        let p = e.payment.unwrap();
        let id = p.id.unwrap();
        if payments.iter().all(|(seen, _)| *seen != id) {
            payments.push((id, p.amount.unwrap()));
        }
    }
    let amounts: Vec<Money> = payments.into_iter().map(|(_, m)| m).collect();
    assert_eq!(amounts, vec![gtq("149"), gtq("99"), gtq("99")]);
    assert_eq!(g.subscription(&sid).await.unwrap().status, SubscriptionStatus::Active);
    sim.shutdown().await;
}

#[tokio::test]
async fn cryptomus_refuses_a_setup_fee_and_days_as_unsupported() {
    use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
    let sim = sim().await;
    let g = CryptomusGateway::new(
        CryptomusConfig::builder()
            .merchant_id(sim.cryptomus_merchant_id())
            .payment_key(sim.cryptomus_payment_key().to_owned())
            .base_url(sim.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(!g.capabilities().setup_fee);
    let usdt = |s: &str| Money::parse(s, Currency::USDT).unwrap();
    let monthly = || RecurringPlan::builder("Gold", usdt("15"), Interval::monthly());
    let cases = [
        (
            "a sign-up fee charged with the first payment",
            monthly().setup_fee(usdt("5")).build().unwrap(),
        ),
        (
            "billing every 14 days",
            RecurringPlan::builder("Gold", usdt("15"), Interval::days(14).unwrap())
                .build()
                .unwrap(),
        ),
        (
            "billing every 7 days",
            RecurringPlan::builder("Gold", usdt("15"), Interval::days(7).unwrap())
                .build()
                .unwrap(),
        ),
        (
            "free trials",
            monthly().trial(Interval::days(14).unwrap()).build().unwrap(),
        ),
    ];
    for (feature, plan) in cases {
        match g.create_checkout(&CheckoutRequest::new(plan)).await {
            Err(Error::Unsupported { feature: f, .. }) => assert_eq!(f, feature),
            other => panic!("{feature}: {other:?}"),
        }
    }
    // Nothing reached the provider; the same plan without them does.
    assert!(
        g.subscriptions(paycycle_core::PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        g.create_checkout(&CheckoutRequest::new(monthly().build().unwrap()))
            .await
            .is_ok()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_fake_mimicking_recurrente_adds_the_fee_to_the_first_charge_only() {
    use paycycle_core::EventKind;
    use paycycle_sim::fake::{FakeGateway, Mimic};
    let fake = FakeGateway::new(Mimic::Recurrente);
    assert!(fake.capabilities().setup_fee);
    assert!(fake.capabilities().intervals.supports(&Interval::days(14).unwrap()));
    // With a 14-day trial: nothing is charged during it, then plan + fee, then the plan.
    let plan = RecurringPlan::builder("Gold", gtq("99"), Interval::monthly())
        .trial(Interval::days(14).unwrap())
        .setup_fee(gtq("50"))
        .build()
        .unwrap();
    let checkout = fake.create_checkout(&CheckoutRequest::new(plan)).await.unwrap();
    fake.pay(&checkout.id).unwrap();
    let paid = |fake: &FakeGateway| -> Vec<Money> {
        fake.events()
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EventKind::PaymentSucceeded)
            .map(|e| e.payment.unwrap().amount.unwrap())
            .collect()
    };
    fake.advance(paycycle_core::chrono::Duration::days(13)).unwrap();
    assert!(paid(&fake).is_empty());
    fake.advance(paycycle_core::chrono::Duration::days(1)).unwrap();
    assert_eq!(paid(&fake), vec![gtq("149")]);
    fake.advance(paycycle_core::chrono::Duration::days(31)).unwrap();
    assert_eq!(paid(&fake), vec![gtq("149"), gtq("99")]);
    // Refused where the mimicked provider cannot.
    let crypto = FakeGateway::new(Mimic::Cryptomus);
    let plan = RecurringPlan::builder("Gold", gtq("99"), Interval::monthly())
        .setup_fee(gtq("50"))
        .build()
        .unwrap();
    assert!(matches!(
        crypto.create_checkout(&CheckoutRequest::new(plan)).await,
        Err(Error::Unsupported { .. })
    ));
}

/// The conformance checks of the new options, on Recurrente over the simulator (day intervals
/// and trials, a sign-up fee: accepted, and the fee charged once) and on Cryptomus (refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_intervals_and_setup_fees_conform_on_both_providers() {
    use paycycle_core::conformance;
    use paycycle_examples::SimHarness;
    let cards = SimHarness::recurrente(Arc::new(sim().await)).await.unwrap();
    conformance::options_follow_capabilities(&cards).await.unwrap();
    conformance::setup_fee_is_charged_once(&cards).await.unwrap();
    let crypto = SimHarness::cryptomus(Arc::new(sim().await)).await.unwrap();
    conformance::options_follow_capabilities(&crypto).await.unwrap();
    conformance::setup_fee_is_charged_once(&crypto).await.unwrap();
}

#[tokio::test]
async fn installments_are_offered_on_one_time_gtq_items() {
    use paycycle_recurrente::wire::{AllowedPaymentMethod as M, RecurringTerms};
    let sim = sim().await;
    let c = secret_only(&sim);
    let tv = CustomItem::new("TV", gtq("3000"))
        .installments([3, 6, 12])
        .payment_method_types([M::Card]);
    let co = c
        .create_checkout(&CreateCheckout::new([
            tv.into(),
            CustomItem::new("Cable", gtq("50")).into(),
        ]))
        .await
        .unwrap();
    // The simulator keeps each item's options as given.
    let stored = sim.recurrente_checkout(&co.id).unwrap();
    assert_eq!(stored["items"][0]["available_installments"], json!([3, 6, 12]));
    assert_eq!(stored["items"][0]["payment_method_types"], json!(["card"]));
    assert_eq!(stored["items"][1]["available_installments"], Value::Null);
    assert_eq!(c.get_checkout(&co.id).await.unwrap().total(), Some(gtq("3050")));

    // Refused before sending: on a subscription, in USD, or an unoffered count.
    let plan = CustomItem::new("Plan", gtq("99"))
        .recurring(RecurringTerms::new(Interval::monthly()))
        .installments([3]);
    let usd = CustomItem::new("TV", Money::parse("300", Currency::USD).unwrap()).installments([3]);
    let nine = CustomItem::new("TV", gtq("3000")).installments([9]);
    for item in [plan, usd, nine] {
        match c.create_checkout(&CreateCheckout::new([item.into()])).await {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "items[0].available_installments"),
            other => panic!("{other:?}"),
        }
    }
    let listed = c.list_checkouts(&ListCheckouts::new()).await.unwrap();
    assert_eq!(listed.items.len(), 1, "only the valid checkout reached the simulator");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_setup_checkout_saves_a_card_that_a_subscription_then_uses() {
    use paycycle_recurrente::wire::{CheckoutStatus, PaymentMethodType, UpdateSubscription};
    let sim = sim().await;
    let c = secret_only(&sim);
    let (su, _) = subscribed(&sim, &c).await;
    // `mode: "setup"` with one free item: created although 0 is below the checkout minimum.
    let co = c.create_checkout(&CreateCheckout::setup()).await.unwrap();
    let before = c.get_checkout(&co.id).await.unwrap();
    assert_eq!(before.status, Some(CheckoutStatus::Unpaid));
    assert_eq!(before.payment_method, None);
    sim.recurrente_pay(&co.id, paycycle_sim::RecurrenteOutcome::CardSuccess)
        .unwrap();
    let after = c.get_checkout(&co.id).await.unwrap();
    assert_eq!(after.total(), Some(gtq("0")), "nothing was charged");
    assert_eq!(after.subscription_id(), None, "a setup starts no subscription");
    let card = after.payment_method.expect("the saved card");
    assert!(card.id.starts_with("pay_m_"), "{}", card.id);
    assert_eq!(card.kind, Some(PaymentMethodType::Card));
    // The saved card goes on the subscription.
    let updated = c
        .update_subscription(&su, &UpdateSubscription::payment_method(&card.id))
        .await
        .unwrap();
    assert_eq!(
        updated.default_payment_method.map(|m| m.id).as_deref(),
        Some(card.id.as_str())
    );
    sim.shutdown().await;
}
