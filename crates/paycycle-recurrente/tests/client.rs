//! The client against a local HTTP server: headers, paths, bodies, status mapping, retries,
//! pagination. The server answers each endpoint with the reference's example.

// Test code: helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use futures::TryStreamExt;
use paycycle_core::{Currency, Error, Interval, Money};
use paycycle_recurrente::wire::{
    CouponDiscount, CreateCheckout, CreateCoupon, CreateOneTimePayment, CreateProduct, CreateTransfer, CreateUser,
    CreateWebhookEndpoint, CustomItem, LineItem, ListCheckouts, ListParams, NewPrice, PaymentMethodSettings,
    PriceChange, ProductDetails, RecurringTerms, Requirement, TransferSetup, UpdateCheckout, UpdateCoupon,
    UpdatePaymentIntent, UpdateProduct,
};
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use support::{MockServer, Recorded, Reply, normalize};
use url::Url;

fn gtq(s: &str) -> Money {
    Money::parse(s, Currency::GTQ).unwrap()
}

fn url(s: &str) -> Url {
    s.parse().unwrap()
}

/// Answers every endpoint with the reference's example.
fn documented(r: &Recorded) -> Reply {
    let p = r.path.as_str();
    let under = |prefix: &str| p.starts_with(prefix) && p.len() > prefix.len();
    match r.method.as_str() {
        "GET" if p == "/api/test" => Reply::json(200, fixture!("test_response")),
        "POST" if p == "/api/checkouts" => Reply::json(201, fixture!("checkout_created_items")),
        "PATCH" if under("/api/checkouts/") => Reply::json(200, fixture!("checkout_updated")),
        "GET" if under("/api/checkouts/") => Reply::json(200, fixture!("checkout_get")),
        "GET" if p == "/api/checkouts" => Reply::json(200, fixture!("checkouts_list")),
        "PATCH" if under("/api/payment_intents/") => Reply::json(200, fixture!("payment_intent_updated")),
        "POST" if p == "/api/products" => Reply::json(201, fixture!("product_created_subscription")),
        "GET" if p == "/api/products" => Reply::json(200, fixture!("products_list")),
        "GET" if under("/api/products/") => Reply::json(200, fixture!("product_get")),
        "PATCH" if under("/api/products/") => Reply::json(200, fixture!("product_updated")),
        "DELETE" if under("/api/products/") => Reply::json(200, fixture!("product_deleted")),
        "POST" if p == "/api/coupons" => Reply::json(201, fixture!("coupon_created")),
        "GET" if p == "/api/coupons" => Reply::json(200, fixture!("coupons_list")),
        "GET" if under("/api/coupons/") => Reply::json(200, fixture!("coupon_get")),
        "PATCH" if under("/api/coupons/") => Reply::json(201, fixture!("coupon_updated")),
        "DELETE" if under("/api/coupons/") => Reply::json(200, fixture!("coupon_deleted")),
        "GET" if p == "/api/subscriptions" => Reply::json(200, fixture!("subscriptions_list")),
        "GET" if under("/api/subscriptions/") => Reply::json(200, fixture!("subscription_get")),
        "DELETE" if under("/api/subscriptions/") => Reply::json(200, fixture!("subscription_cancelled")),
        "POST" if p == "/api/users" => Reply::json(200, fixture!("user_created")),
        "POST" if p == "/api/transfers" => Reply::json(200, fixture!("transfer_created")),
        "POST" if p == "/api/refunds" => Reply::json(200, fixture!("refund_created")),
        "GET" if under("/api/refunds/") => Reply::json(200, fixture!("refund_get")),
        "POST" if p == "/api/webhook_endpoints" => {
            let with_secret = fixture!("webhook_endpoint_created").replacen(
                '{',
                r#"{"signingSecret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","#,
                1,
            );
            Reply::json(200, with_secret)
        }
        "GET" if p == "/api/webhook_endpoints" => Reply::json(200, fixture!("webhook_endpoints_list")),
        "DELETE" if under("/api/webhook_endpoints/") => Reply::json(200, fixture!("webhook_endpoint_deleted")),
        "POST" if p == "/api/one_time_payments" => Reply::json(201, fixture!("one_time_payment_created_amount")),
        _ => Reply::json(404, r#"{"error":"Not found"}"#),
    }
}

fn assert_body(sent: &Recorded, expected: &Value) {
    assert_eq!(
        normalize(&sent.json()),
        normalize(expected),
        "\nsent:     {}\nexpected: {}",
        sent.json(),
        expected
    );
}

fn fixture_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn every_call_carries_both_keys_and_json_headers() {
    let server = MockServer::start(documented).await;
    let m = server.client().test_authentication().await.unwrap();
    assert_eq!(m.message.as_deref(), Some("Hello La Surf Office 🌎"));
    let seen = &server.requests()[0];
    assert_eq!(seen.line(), "GET /api/test");
    assert_eq!(seen.header("x-public-key"), Some("pk_test_public"));
    assert_eq!(seen.header("x-secret-key"), Some("sk_test_secret"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert!(seen.header("user-agent").unwrap().starts_with("paycycle-recurrente/"));
    assert!(seen.body.is_empty());
}

#[tokio::test]
async fn checkout_endpoints_send_the_documented_bodies() {
    let server = MockServer::start(documented).await;
    let client = server.client();

    let banana = CustomItem::new("One Ripe Banana", gtq("30"))
        .image_url(url("https://source.unsplash.com/400x400/?banana"))
        .quantity(1);
    let created = client
        .create_checkout(
            &CreateCheckout::new([banana.into()])
                .success_url(url("https://www.google.com"))
                .cancel_url(url("https://www.amazon.com"))
                .user_id("us_123456"),
        )
        .await
        .unwrap();
    assert_eq!(created.id, "ch_eegw9j5zgqoae3ms");

    let gold = CustomItem::new("Membresia Gold", gtq("50"))
        .description("Suscripción con un mes de prueba")
        .image_url(url("https://source.unsplash.com/400x400/?banana"))
        .terms("Terminos y condiciones")
        .recurring(
            RecurringTerms::new(Interval::monthly())
                .trial(Interval::monthly())
                .end_after_periods(12),
        );
    client
        .create_checkout(
            &CreateCheckout::new([gold.into()])
                .success_url(url("https://www.google.com"))
                .cancel_url(url("https://www.amazon.com")),
        )
        .await
        .unwrap();
    client
        .create_checkout(&CreateCheckout::new([LineItem::product("prod_123456")]))
        .await
        .unwrap();
    // Connected account: the reference shows it as form data only.
    client
        .create_checkout(
            &CreateCheckout::new([CustomItem::new("Servicio", gtq("30")).into()])
                .custom_account_id("ac_123456")
                .transfer_setup(TransferSetup::new(gtq("1"), None)),
        )
        .await
        .unwrap();

    let updated = client
        .update_checkout(
            "ch_eegw9j5zgqoae3ms",
            &UpdateCheckout::new()
                .metadata([("internalID".to_owned(), "123".to_owned())].into())
                .expires_at("2050-05-15T13:45:30Z".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(updated.total_in_cents, Some(500));
    let got = client.get_checkout("ch_eegw9j5zgqoae3ms").await.unwrap();
    assert_eq!(got.id, "ch_eegw9j5zgqoae3ms");
    let list = client
        .list_checkouts(
            &ListCheckouts::new()
                .from_time("2024-05-15T13:45:30Z".parse().unwrap())
                .until_time("2050-05-15T13:45:30Z".parse().unwrap())
                .user_id("us_123")
                .paging(ListParams::new().page(1).items(20)),
        )
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.next_cursor, None, "one item of 20 asked: the last page");

    let seen = server.requests();
    assert_body(&seen[0], &fixture_json(fixture!("requests/checkout_items")));
    assert_body(&seen[1], &fixture_json(fixture!("requests/checkout_subscription")));
    assert_body(&seen[2], &fixture_json(fixture!("requests/checkout_product")));
    assert_eq!(
        seen[3].json(),
        json!({
            "items": [{"name": "Servicio", "currency": "GTQ", "amount_in_cents": 3000}],
            "custom_account_id": "ac_123456",
            "transfer_setups": [{"amount_in_cents": 100}]
        })
    );
    assert_eq!(seen[4].line(), "PATCH /api/checkouts/ch_eegw9j5zgqoae3ms");
    assert_eq!(
        seen[4].json(),
        json!({"metadata": {"internalID": "123"}, "expires_at": "2050-05-15T13:45:30Z"})
    );
    assert_eq!(seen[5].line(), "GET /api/checkouts/ch_eegw9j5zgqoae3ms");
    assert_eq!(
        seen[6].line(),
        "GET /api/checkouts?from_time=2024-05-15T13%3A45%3A30Z&until_time=2050-05-15T13%3A45%3A30Z&user_id=us_123&page=1&items=20"
    );
    assert!(seen[..4].iter().all(|r| r.line() == "POST /api/checkouts"));
}

#[tokio::test]
async fn product_and_coupon_endpoints() {
    let server = MockServer::start(documented).await;
    let client = server.client();

    let mut details = ProductDetails::default();
    details.description = Some("La descripción es opcional".into());
    details.image_url = Some(url("https://source.unsplash.com/400x400/?banana"));
    details.cancel_url = Some(url("https://www.amazon.com/"));
    details.success_url = Some(url("https://www.google.com/"));
    details.custom_terms_and_conditions = Some("El texto que tú quieras añadir.".into());
    details.phone_requirement = Some(Requirement::None);
    details.address_requirement = Some(Requirement::None);
    details.billing_info_requirement = Some(Requirement::None);
    details.adjustable_quantity = Some(true);
    client
        .create_product(&CreateProduct::new("El nombre de tu producto", NewPrice::one_time(gtq("5"))).details(details))
        .await
        .unwrap();

    let mut details = ProductDetails::default();
    details.description = Some("Descripción del producto".into());
    details.success_url = Some(url("https://www.google.com/"));
    details.cancel_url = Some(url("https://www.amazon.com/"));
    details.custom_terms_and_conditions = Some("Términos y condiciones".into());
    details.phone_requirement = Some(Requirement::None);
    details.address_requirement = Some(Requirement::None);
    details.billing_info_requirement = Some(Requirement::None);
    let price = NewPrice::recurring(
        gtq("10"),
        RecurringTerms::new(Interval::monthly()).trial(Interval::monthly()),
    );
    let product = client
        .create_product(&CreateProduct::new("El nombre de tu producto", price).details(details))
        .await
        .unwrap();
    assert_eq!(product.id, "prod_vsyjzsqf");

    let mut details = ProductDetails::default();
    details.payment_methods = Some(PaymentMethodSettings::new(true, true).installments([3, 6, 12, 18]));
    client
        .create_product(&CreateProduct::new("El nombre del producto", NewPrice::one_time(gtq("100"))).details(details))
        .await
        .unwrap();

    client.get_product("prod_9lstwgbr").await.unwrap();
    let page = client.list_products(&ListParams::new().page(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_cursor, None, "2 of the default 10: the last page");
    let updated = client
        .update_product(
            "prod_wt1snpxg",
            &UpdateProduct::new()
                .name("El nuevo nombre del producto")
                .price(PriceChange::set_amount("price_mirvwr9y", gtq("15"))),
        )
        .await
        .unwrap();
    assert_eq!(updated.prices[0].amount_in_cents, Some(1500));
    client
        .update_product(
            "prod_wt1snpxg",
            &UpdateProduct::new().price(PriceChange::remove("price_mirvwr9y")),
        )
        .await
        .unwrap();
    let deleted = client.delete_product("prod_m7vzucwi").await.unwrap();
    assert_eq!(deleted.id, "prod_m7vzucwi");

    let coupon = CreateCoupon::new("NEWCOUPON", CouponDiscount::AmountOff(gtq("15")));
    assert_eq!(client.create_coupon(&coupon).await.unwrap().id, "coup_ugwoxcp4");
    client.get_coupon("coup_ugwoxcp4").await.unwrap();
    client.list_coupons(&ListParams::new()).await.unwrap();
    client
        .update_coupon(
            "coup_ugwoxcp4",
            &UpdateCoupon::new()
                .name("NEWCOUPON")
                .discount(CouponDiscount::AmountOff(gtq("15"))),
        )
        .await
        .unwrap();
    client.delete_coupon("coup_eug4euns").await.unwrap();

    let seen = server.requests();
    assert_body(&seen[0], &fixture_json(fixture!("requests/product_one_time")));
    assert_body(&seen[1], &fixture_json(fixture!("requests/product_subscription")));
    assert_body(
        &seen[2],
        &fixture_json(fixture!("product_custom_payment_methods_request")),
    );
    assert_eq!(seen[3].line(), "GET /api/products/prod_9lstwgbr");
    assert_eq!(seen[4].line(), "GET /api/products?page=2");
    assert_eq!(seen[5].line(), "PATCH /api/products/prod_wt1snpxg");
    // paycycle sends the price's currency with its amount (the reference's example leaves it out).
    let mut expected = fixture_json(fixture!("requests/product_update"));
    expected["product"]["prices_attributes"][0]["currency"] = json!("GTQ");
    assert_body(&seen[5], &expected);
    assert_eq!(
        seen[6].json(),
        json!({"product": {"prices_attributes": [{"id": "price_mirvwr9y", "_destroy": true}]}})
    );
    assert_eq!(seen[7].line(), "DELETE /api/products/prod_m7vzucwi");
    assert_body(&seen[8], &fixture_json(fixture!("requests/coupon_create")));
    assert_eq!(seen[9].line(), "GET /api/coupons/coup_ugwoxcp4");
    assert_eq!(seen[10].line(), "GET /api/coupons");
    assert_eq!(seen[11].line(), "PATCH /api/coupons/coup_ugwoxcp4");
    assert_body(&seen[11], &fixture_json(fixture!("requests/coupon_create")));
    assert_eq!(seen[12].line(), "DELETE /api/coupons/coup_eug4euns");
}

#[tokio::test]
async fn the_other_endpoints() {
    let server = MockServer::start(documented).await;
    let client = server.client();

    let intent = client
        .update_payment_intent(
            "pa_123",
            &UpdatePaymentIntent::new(url("https://www.example.com/factura123")),
        )
        .await
        .unwrap();
    assert_eq!(
        intent.tax_invoice_url.as_deref(),
        Some("https://www.example.com/factura123")
    );
    let sub = client.get_subscription("su_nehndm7j").await.unwrap();
    assert_eq!(sub.id, "su_nehndm7j");
    client.list_subscriptions(&ListParams::new()).await.unwrap();
    let cancelled = client.cancel_subscription("su_nehndm7j").await.unwrap();
    assert_eq!(cancelled.message.as_deref(), Some("Suscripción cancelada"));
    let user = client
        .create_user(&CreateUser::new("me@example.com", Some("Jorge Luis Borges".into())))
        .await
        .unwrap();
    assert_eq!(user.id, "us_y6fxiihb");
    client
        .create_transfer(&CreateTransfer::new(gtq("1"), "recurrente"))
        .await
        .unwrap();
    client.create_refund("pa_e6kc6vx2").await.unwrap();
    client.get_refund("re_3jfrywsf").await.unwrap();
    let endpoint = client
        .create_webhook_endpoint(
            &CreateWebhookEndpoint::new(url("https://example.com/webhook"))
                .description("Optional description of the endpoint"),
        )
        .await
        .unwrap();
    assert_eq!(
        endpoint
            .signing_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .as_deref(),
        Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    );
    assert_eq!(client.list_webhook_endpoints().await.unwrap().len(), 1);
    client
        .delete_webhook_endpoint("ep_2fy6I9KODnHzw7Zf0ZGmMs8gEN9")
        .await
        .unwrap();
    let banana = CustomItem::new("One Ripe Banana", gtq("30"))
        .image_url(url("https://source.unsplash.com/400x400/?banana"))
        .quantity(1);
    let paid = client
        .create_one_time_payment(&CreateOneTimePayment::new("pay_m_l1aqgfoq", [banana.into()]))
        .await
        .unwrap();
    assert_eq!(paid.id, "on_123456789");
    client
        .create_one_time_payment(&CreateOneTimePayment::new(
            "pay_m_l1aqgfoq",
            [LineItem::product("prod_123456")],
        ))
        .await
        .unwrap();

    let seen = server.requests();
    let lines: Vec<String> = seen.iter().map(Recorded::line).collect();
    assert_eq!(
        lines,
        [
            "PATCH /api/payment_intents/pa_123",
            "GET /api/subscriptions/su_nehndm7j",
            "GET /api/subscriptions",
            "DELETE /api/subscriptions/su_nehndm7j",
            "POST /api/users",
            "POST /api/transfers",
            "POST /api/refunds",
            "GET /api/refunds/re_3jfrywsf",
            "POST /api/webhook_endpoints",
            "GET /api/webhook_endpoints",
            "DELETE /api/webhook_endpoints/ep_2fy6I9KODnHzw7Zf0ZGmMs8gEN9",
            "POST /api/one_time_payments",
            "POST /api/one_time_payments",
        ]
    );
    assert_body(&seen[0], &fixture_json(fixture!("requests/payment_intent_update")));
    assert_body(&seen[4], &fixture_json(fixture!("requests/user_create")));
    assert_body(&seen[5], &fixture_json(fixture!("requests/transfer_create")));
    assert_body(&seen[6], &fixture_json(fixture!("requests/refund_create")));
    assert_body(&seen[8], &fixture_json(fixture!("requests/webhook_endpoint_create")));
    assert_body(&seen[11], &fixture_json(fixture!("requests/one_time_payment_amount")));
    assert_body(&seen[12], &fixture_json(fixture!("requests/one_time_payment_product")));
}

fn fixed(status: u16, body: &'static str) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    move |_| Reply::json(status, body)
}

#[tokio::test]
async fn statuses_map_to_errors() {
    let server = MockServer::start(fixed(401, r#"{"error":"Invalid API keys"}"#)).await;
    match server.client().test_authentication().await.unwrap_err() {
        Error::Authentication { status, message, .. } => {
            assert_eq!(status, Some(401));
            assert_eq!(message, "Invalid API keys");
        }
        other => panic!("{other:?}"),
    }

    let server = MockServer::start(fixed(404, r#"{"error":"Not found"}"#)).await;
    match server.client().get_subscription("su_missing").await.unwrap_err() {
        Error::NotFound { resource, id, .. } => {
            assert_eq!((resource.as_str(), id.as_str()), ("subscription", "su_missing"))
        }
        other => panic!("{other:?}"),
    }

    let server = MockServer::start(fixed(422, r#"{"error":"El monto es muy bajo"}"#)).await;
    let err = server
        .client()
        .create_checkout(&CreateCheckout::new([CustomItem::new("x", gtq("5")).into()]))
        .await
        .unwrap_err();
    assert!(!err.is_retryable() && !err.may_have_been_sent());
    match err {
        Error::Rejected { status, message, .. } => {
            assert_eq!(status, 422);
            assert_eq!(message.as_deref(), Some("El monto es muy bajo"));
        }
        other => panic!("{other:?}"),
    }

    let server = MockServer::start(fixed(422, r#"{"message":"Suscripción ya cancelada"}"#)).await;
    match server.client().cancel_subscription("su_1").await.unwrap_err() {
        Error::Rejected { message, .. } => assert_eq!(message.as_deref(), Some("Suscripción ya cancelada")),
        other => panic!("{other:?}"),
    }

    let server = MockServer::start(|_| Reply::json(429, "{}").header("retry-after", "12")).await;
    match server.client().get_product("prod_1").await.unwrap_err() {
        Error::RateLimited { retry_after, .. } => assert_eq!(retry_after, Some(Duration::from_secs(12))),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1, "429 is not retried blindly");
}

#[tokio::test]
async fn plain_text_5xx_is_kept_and_gets_are_retried_posts_are_not() {
    let server = MockServer::start(|_| Reply::text(500, "Internal Server Error")).await;
    let client = server.client();
    let err = client.get_checkout("ch_1").await.unwrap_err();
    assert!(err.is_retryable());
    match &err {
        Error::Rejected { status, message, .. } => {
            assert_eq!(*status, 500);
            assert_eq!(message.as_deref(), Some("Internal Server Error"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 3, "a GET is tried 1 + 2 times");

    let err = client
        .create_user(&CreateUser::new("me@example.com", None))
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent());
    assert_eq!(server.requests().len(), 4, "a POST is never retried");
}

#[tokio::test]
async fn a_get_that_recovers_after_a_5xx_succeeds() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let server = MockServer::start(move |_| {
        if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::text(503, "busy")
        } else {
            Reply::json(200, fixture!("subscription_get"))
        }
    })
    .await;
    let sub = server.client().get_subscription("su_nehndm7j").await.unwrap();
    assert_eq!(sub.id, "su_nehndm7j");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn undecodable_2xx_is_a_decode_error_with_a_path() {
    let server = MockServer::start(|_| Reply::text(200, "<html>maintenance</html>")).await;
    match server.client().get_checkout("ch_1").await.unwrap_err() {
        Error::Decode {
            status, path, excerpt, ..
        } => {
            assert_eq!(status, 200);
            assert_eq!(path, ".");
            assert_eq!(excerpt, "<html>maintenance</html>");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1, "a 200 is not retried");

    let server = MockServer::start(fixed(200, r#"[{"id":"su_1"},{"id":"su_2","checkout":"ch_1"}]"#)).await;
    match server
        .client()
        .list_subscriptions(&ListParams::new())
        .await
        .unwrap_err()
    {
        Error::Decode { path, .. } => assert_eq!(path, "[1].checkout"),
        other => panic!("{other:?}"),
    }

    // A signing secret in an undecodable answer is never quoted.
    let server = MockServer::start(fixed(201, r#"{"signingSecret":"whsec_abc","createdAt":7}"#)).await;
    let err = server
        .client()
        .create_webhook_endpoint(&CreateWebhookEndpoint::new(url("https://example.com/hook")))
        .await;
    // `createdAt: 7` is tolerated (an unreadable time is absent), so this decodes.
    assert!(err.is_ok());
    let server = MockServer::start(fixed(201, r#"{"signingSecret":"whsec_abc","disabled":"maybe"}"#)).await;
    match server
        .client()
        .create_webhook_endpoint(&CreateWebhookEndpoint::new(url("https://example.com/hook")))
        .await
        .unwrap_err()
    {
        e @ Error::Decode { .. } => assert!(!format!("{e:?} {e}").contains("whsec_abc")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn transport_errors_say_whether_the_request_may_have_been_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = RecurrenteConfig::builder()
        .public_key("pk_test")
        .secret_key("sk_test")
        .base_url(format!("http://{addr}"))
        .max_retries(0)
        .build()
        .unwrap();
    let err = RecurrenteClient::new(&config)
        .unwrap()
        .create_user(&CreateUser::new("me@example.com", None))
        .await
        .unwrap_err();
    match &err {
        Error::Transport { may_have_been_sent, .. } => assert!(!may_have_been_sent, "connection refused: never sent"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());

    let server = MockServer::start(|_| Reply::json(200, "{}").after(Duration::from_secs(5))).await;
    let config = RecurrenteConfig::builder()
        .public_key("pk_test")
        .secret_key("sk_test")
        .base_url(server.url())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = RecurrenteClient::new(&config)
        .unwrap()
        .create_user(&CreateUser::new("me@example.com", None))
        .await
        .unwrap_err();
    match err {
        Error::Transport { may_have_been_sent, .. } => assert!(may_have_been_sent, "a timeout may have been acted on"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_requests_send_nothing() {
    let server = MockServer::start(documented).await;
    let client = server.client();
    let err = client
        .create_checkout(&CreateCheckout::new([CustomItem::new("x", gtq("30"))
            .quantity(10)
            .into()]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "items[0].quantity"),
        "{err:?}"
    );
    let usd_cents = Money::parse("0.001", Currency::USD).unwrap();
    let err = client
        .create_transfer(&CreateTransfer::new(usd_cents, "recurrente"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "amount_in_cents"));
    assert!(client.get_checkout("").await.is_err());
    assert!(client.delete_product("..").await.is_err());
    assert!(server.requests().is_empty());
}

fn paged(sizes: &'static [usize]) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    move |r| {
        let page: usize = r
            .query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("page="))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let n = sizes.get(page - 1).copied().unwrap_or(0);
        let items: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("su_{page}_{i}"), "status": "active"}))
            .collect();
        Reply::json(200, Value::Array(items).to_string())
    }
}

#[tokio::test]
async fn streams_walk_pages_until_a_short_or_empty_page() {
    let server = MockServer::start(paged(&[2, 2, 1])).await;
    let client = server.client();
    let all: Vec<_> = client
        .all_subscriptions(ListParams::new().items(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[4].id, "su_3_0");
    assert_eq!(
        server.lines(),
        [
            "GET /api/subscriptions?page=1&items=2",
            "GET /api/subscriptions?page=2&items=2",
            "GET /api/subscriptions?page=3&items=2"
        ]
    );

    let server = MockServer::start(paged(&[2, 2])).await;
    let all: Vec<_> = server
        .client()
        .all_subscriptions(ListParams::new().items(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        server.requests().len(),
        3,
        "the third page is empty and ends the stream"
    );

    // Without `items`, the provider's default of 10 decides.
    let server = MockServer::start(paged(&[10, 3])).await;
    let page = server.client().list_subscriptions(&ListParams::new()).await.unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("2"));
    // The stream asks for the largest page the provider allows (100) when the caller did not choose.
    let server = MockServer::start(paged(&[100, 3])).await;
    let all: Vec<_> = server
        .client()
        .all_subscriptions(ListParams::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 103);
    assert_eq!(server.requests()[0].query.as_deref(), Some("page=1&items=100"));

    // The same for the other lists.
    let server = MockServer::start(|r| {
        if r.query.as_deref() == Some("page=1&items=1") {
            Reply::json(200, fixture!("coupons_list"))
        } else {
            Reply::json(200, "[]")
        }
    })
    .await;
    let coupons: Vec<_> = server
        .client()
        .all_coupons(ListParams::new().items(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(coupons.len(), 1);
    let products: Vec<_> = server
        .client()
        .all_products(ListParams::new())
        .try_collect()
        .await
        .unwrap();
    assert!(products.is_empty());
    let checkouts: Vec<_> = server
        .client()
        .all_checkouts(ListCheckouts::new().user_id("us_1"))
        .try_collect()
        .await
        .unwrap();
    assert!(checkouts.is_empty());
    assert_eq!(
        server.lines(),
        [
            "GET /api/coupons?page=1&items=1",
            "GET /api/coupons?page=2&items=1",
            "GET /api/products?page=1",
            "GET /api/checkouts?user_id=us_1&page=1"
        ]
    );
}

#[tokio::test]
async fn base_url_path_prefixes_are_kept() {
    let server = MockServer::start(documented).await;
    let config = RecurrenteConfig::builder()
        .public_key("pk_test")
        .secret_key("sk_test")
        .base_url(format!("{}/recurrente", server.url()))
        .build()
        .unwrap();
    let _ = RecurrenteClient::new(&config).unwrap().test_authentication().await;
    assert_eq!(server.lines(), ["GET /recurrente/api/test"]);
}

#[tokio::test]
async fn redirects_are_not_followed_so_keys_never_leave_for_another_host() {
    let elsewhere = MockServer::start(documented).await;
    let target = format!("{}/api/test", elsewhere.url());
    let server = MockServer::start(move |_| Reply::json(302, "").header("location", target.clone())).await;
    match server.client().test_authentication().await.unwrap_err() {
        Error::Rejected { status, .. } => assert_eq!(status, 302),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "the secret key was carried to another host"
    );
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let huge = format!(
        "[{}]",
        vec!["1"; paycycle_recurrente::MAX_ANSWER_BYTES / 2 + 1].join(",")
    );
    let server = MockServer::start(move |_| Reply::json(200, huge.clone())).await;
    let config = RecurrenteConfig::builder()
        .public_key("pk_test")
        .secret_key("sk_test")
        .base_url(server.url())
        .max_retries(0)
        .build()
        .unwrap();
    match RecurrenteClient::new(&config)
        .unwrap()
        .list_webhook_endpoints()
        .await
        .unwrap_err()
    {
        Error::Decode { path, source, .. } => {
            assert_eq!(path, ".");
            assert!(source.to_string().contains("larger than"));
        }
        other => panic!("{other:?}"),
    }
}
