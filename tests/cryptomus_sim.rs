//! The Cryptomus client against the simulator, over real HTTP on loopback: every endpoint, every
//! validation limit, every error shape, and webhooks verified in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;

use futures::TryStreamExt;
use paycycle_core::rust_decimal::Decimal;
use paycycle_core::{Currency, Error, Money};
use paycycle_cryptomus::sign::{request_sign, sign_webhook};
use paycycle_cryptomus::{
    CreateRecurrence, CryptomusClient, CryptomusConfig, CryptomusWebhookVerifier, Period, RecurrenceRef,
    RecurrenceStatus,
};
use paycycle_sim::{Fault, SimConfig, Simulator};
use secrecy::SecretString;

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default()).await.unwrap()
}

fn client_with(sim: &Simulator, merchant: &str, key: &str) -> CryptomusClient {
    let config = CryptomusConfig::builder()
        .merchant_id(merchant)
        .payment_key(key.to_owned())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    CryptomusClient::new(config).unwrap()
}

fn client(sim: &Simulator) -> CryptomusClient {
    client_with(sim, sim.cryptomus_merchant_id(), sim.cryptomus_payment_key())
}

fn usd(s: &str) -> Money {
    Money::parse(s, Currency::USD).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Sends a body as-is (signed correctly), bypassing the client's validation.
async fn raw(sim: &Simulator, path: &str, body: &str) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .header("merchant", sim.cryptomus_merchant_id())
        .header("sign", request_sign(body.as_bytes(), sim.cryptomus_payment_key()))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

async fn count(c: &CryptomusClient) -> usize {
    c.recurrences().try_collect::<Vec<_>>().await.unwrap().len()
}

#[tokio::test]
async fn create_with_every_parameter_then_info_by_uuid_and_order_id() {
    let sim = sim().await;
    let c = client(&sim);
    let req = CreateRecurrence::new(usd("15"), "Recurring payment", Period::Monthly)
        .to_currency(Currency::BTC)
        .order_id("order/42")
        .url_callback("http://127.0.0.1:9/hooks/cryptomus?x=1".parse().unwrap())
        .discount(30, dec("1"))
        .additional_data("{\"plan\":\"pro\"}");
    let r = c.create_recurrence(&req).await.unwrap();
    assert_eq!(r.status, Some(RecurrenceStatus::WaitAccept));
    assert_eq!(r.price(), Some(usd("15")));
    assert_eq!(r.payer_currency, Some(Currency::BTC));
    assert_eq!(r.payer_amount, Some(dec("0.00051495")), "the seed's 15 USD in BTC");
    assert_eq!(r.discount_days, Some(30));
    assert_eq!(r.discount_amount, Some(dec("1")));
    assert!(r.end_of_discount.is_some());
    assert_eq!(r.order_id.as_deref(), Some("order/42"));
    assert_eq!(r.additional_data.as_deref(), Some("{\"plan\":\"pro\"}"));
    assert_eq!(
        r.raw["discount_days"], "30",
        "Cryptomus answers discount_days as a string"
    );
    let url = r.url.clone().unwrap();
    assert!(url.as_str().ends_with(&format!("/pay/cryptomus/{}", r.uuid)));

    let by_uuid = c.recurrence(RecurrenceRef::uuid(&r.uuid)).await.unwrap();
    let by_order = c.recurrence(RecurrenceRef::order_id("order/42")).await.unwrap();
    assert_eq!(by_uuid.uuid, r.uuid);
    assert_eq!(by_order.uuid, r.uuid);
    assert_eq!(by_uuid.raw, by_order.raw);
}

#[tokio::test]
async fn list_streams_every_recurrence_once_across_pages() {
    let sim = sim().await;
    let c = client(&sim);
    for i in 0..40 {
        let req = CreateRecurrence::new(usd("5"), format!("plan {i:02}"), Period::Weekly).order_id(format!("o-{i}"));
        c.create_recurrence(&req).await.unwrap();
    }
    let first = c.list_recurrences(None).await.unwrap();
    assert!(first.items.len() < 40, "the list is paged");
    assert!(first.next_cursor().is_some());
    let all: Vec<_> = c.recurrences().try_collect().await.unwrap();
    let mut orders: Vec<String> = all.iter().filter_map(|r| r.order_id.clone()).collect();
    orders.sort();
    orders.dedup();
    assert_eq!(orders.len(), 40);
    assert_eq!(all.len(), 40);
}

#[tokio::test]
async fn cancel_by_uuid_and_by_order_id_and_twice() {
    let sim = sim().await;
    let c = client(&sim);
    let a = c
        .create_recurrence(&CreateRecurrence::new(usd("5"), "plan a", Period::Weekly))
        .await
        .unwrap();
    let b = c
        .create_recurrence(&CreateRecurrence::new(usd("5"), "plan b", Period::ThreeMonth).order_id("b-1"))
        .await
        .unwrap();
    let ca = c.cancel_recurrence(RecurrenceRef::uuid(&a.uuid)).await.unwrap();
    assert_eq!(ca.status, Some(RecurrenceStatus::CancelByMerchant));
    let cb = c.cancel_recurrence(RecurrenceRef::order_id("b-1")).await.unwrap();
    assert_eq!(
        (cb.uuid.as_str(), cb.status),
        (b.uuid.as_str(), Some(RecurrenceStatus::CancelByMerchant))
    );
    match c.cancel_recurrence(RecurrenceRef::uuid(&a.uuid)).await {
        Err(Error::Rejected {
            status: 422,
            message: Some(m),
            ..
        }) => assert_eq!(m, "Already canceled"),
        other => panic!("cancelling twice: {other:?}"),
    }
}

/// Each documented limit: the client refuses before sending (the simulator saw nothing), and the
/// simulator refuses the same request when it is sent anyway.
#[tokio::test]
async fn every_validation_limit_is_enforced_by_client_and_simulator() {
    let sim = sim().await;
    let c = client(&sim);
    let base = || CreateRecurrence::new(usd("15"), "Recurring payment", Period::Monthly);
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, CreateRecurrence, String)> = vec![
        ("name", { let mut r = base(); r.name = "ab".into(); r }, r#"{"amount":"15","currency":"USD","name":"ab","period":"monthly"}"#.into()),
        ("name", { let mut r = base(); r.name = long(61); r }, format!(r#"{{"amount":"15","currency":"USD","name":"{}","period":"monthly"}}"#, long(61))),
        ("order_id", base().order_id(long(101)), format!(r#"{{"amount":"15","currency":"USD","name":"abc","period":"monthly","order_id":"{}"}}"#, long(101))),
        ("discount_days", base().discount(0, dec("1")), r#"{"amount":"15","currency":"USD","name":"abc","period":"monthly","discount_days":0,"discount_amount":"1"}"#.into()),
        ("discount_days", base().discount(366, dec("1")), r#"{"amount":"15","currency":"USD","name":"abc","period":"monthly","discount_days":366,"discount_amount":"1"}"#.into()),
        ("discount_amount", { let mut r = base(); r.discount_days = Some(30); r }, r#"{"amount":"15","currency":"USD","name":"abc","period":"monthly","discount_days":30}"#.into()),
        ("discount_days", { let mut r = base(); r.discount_amount = Some(dec("1")); r }, r#"{"amount":"15","currency":"USD","name":"abc","period":"monthly","discount_amount":"1"}"#.into()),
        ("to_currency", { let mut r = base(); r.to_currency = Some(Currency::EUR); r }, r#"{"amount":"15","currency":"USD","name":"abc","period":"monthly","to_currency":"EUR"}"#.into()),
        ("period", { let mut r = base(); r.period = Period::Unknown("daily".into()); r }, r#"{"amount":"15","currency":"USD","name":"abc","period":"daily"}"#.into()),
        ("amount", { let mut r = base(); r.amount = dec("0"); r }, r#"{"amount":"0","currency":"USD","name":"abc","period":"monthly"}"#.into()),
        ("discount_amount", base().discount(30, dec("-1")), r#"{"amount":"15","currency":"USD","name":"abc","period":"monthly","discount_days":30,"discount_amount":"-1"}"#.into()),
    ];
    for (field, req, wire) in cases {
        match c.create_recurrence(&req).await {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field, "client, {wire}"),
            other => panic!("client should refuse {field}: {other:?}"),
        }
        let (status, body) = raw(&sim, "/v1/recurrence/create", &wire).await;
        assert_eq!(status, 422, "simulator, {wire}: {body}");
        assert_eq!(body["state"], 1);
        assert!(body["errors"][field].is_array(), "simulator names {field}: {body}");
    }
    assert_eq!(count(&c).await, 0, "nothing the client refused was sent");
}

#[tokio::test]
async fn each_error_shape_is_a_distinct_typed_error() {
    let sim = sim().await;
    let c = client(&sim);
    // A reused order_id (the simulator answers 422 `validation.unique`): read back by order_id,
    // it is the existing recurrence when the terms match, and a conflict when they differ.
    let req = CreateRecurrence::new(usd("5"), "plan", Period::Weekly).order_id("dup");
    let first = c.create_recurrence(&req).await.unwrap();
    assert_eq!(c.create_recurrence(&req).await.unwrap().uuid, first.uuid);
    let other = CreateRecurrence::new(usd("6"), "plan", Period::Weekly).order_id("dup");
    match c.create_recurrence(&other).await {
        Err(e @ Error::Conflict { .. }) => assert!(!e.is_retryable() && !e.may_have_been_sent()),
        other => panic!("duplicate order_id with other terms: {other:?}"),
    }
    // Not found.
    assert!(matches!(
        c.recurrence(RecurrenceRef::uuid("00000000-0000-4000-8000-00000000ffff"))
            .await,
        Err(Error::NotFound { .. })
    ));
    // Invalid Sign.: a wrong key, and an unknown merchant.
    for bad in [
        client_with(&sim, sim.cryptomus_merchant_id(), "wrong-key"),
        client_with(&sim, "unknown-merchant", sim.cryptomus_payment_key()),
    ] {
        match bad.list_recurrences(None).await {
            Err(Error::Authentication { message, .. }) => {
                assert!(message.contains("Invalid Sign"), "{message}");
                assert!(!message.contains("wrong-key"));
            }
            other => panic!("expected authentication error: {other:?}"),
        }
    }
}

/// What Cryptomus' CDN sometimes answers, injected into the simulator: HTML error pages, 503s,
/// rate limits. Read-only calls are retried; creates are not.
#[tokio::test]
async fn cdn_pages_outages_and_rate_limits_are_typed_and_retried_only_when_safe() {
    let sim = sim().await;
    let no_retry = {
        let config = CryptomusConfig::builder()
            .merchant_id(sim.cryptomus_merchant_id())
            .payment_key(sim.cryptomus_payment_key().to_owned())
            .base_url(sim.base_url())
            .max_retries(0)
            .build()
            .unwrap();
        CryptomusClient::new(config).unwrap()
    };
    // An HTML 502: a decode error with an excerpt of the page; retryable, and it may have acted.
    sim.inject_fault(Fault::html("/v1/recurrence/list", 502));
    match no_retry.list_recurrences(None).await {
        Err(e @ Error::Decode { .. }) => {
            let Error::Decode { status, excerpt, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*status, 502);
            assert!(
                excerpt.starts_with("<html>") && excerpt.chars().count() <= 200,
                "{excerpt}"
            );
            assert!(e.is_retryable() && e.may_have_been_sent());
        }
        other => panic!("an HTML page must be a Decode error: {other:?}"),
    }
    // The fault is spent: the same call works.
    assert!(no_retry.list_recurrences(None).await.is_ok());

    // info is read-only: a 503 once is retried and the caller never sees it.
    let c = client(&sim);
    let r = c
        .create_recurrence(&CreateRecurrence::new(usd("5"), "plan", Period::Weekly))
        .await
        .unwrap();
    sim.inject_fault(Fault::html("/v1/recurrence/info", 503));
    assert_eq!(c.recurrence(RecurrenceRef::uuid(&r.uuid)).await.unwrap().uuid, r.uuid);

    // create without an order_id is not retried on a 5xx (a retry could create twice): the
    // error reaches the caller, and since the fault answered instead of the API, nothing was
    // created. With an order_id it is sent again with the same order_id (tests/never_twice.rs).
    sim.inject_fault(Fault::html("/v1/recurrence/create", 502));
    let err = c
        .create_recurrence(&CreateRecurrence::new(usd("5"), "plan", Period::Weekly))
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent(), "{err}");
    sim.inject_fault(Fault::html("/v1/recurrence/create", 502));
    let req = CreateRecurrence::new(usd("5"), "plan", Period::Weekly).order_id("once");
    assert!(
        c.create_recurrence(&req).await.is_ok(),
        "retried with the same order_id"
    );

    // A rate limit with Retry-After, injected over the control API as a test in another language would.
    let fault = serde_json::json!({"path": "/v1/recurrence/list", "status": 429, "content_type": "application/json",
        "body": "{\"message\":\"Too Many Attempts.\"}", "headers": {"Retry-After": "7"}});
    let res = reqwest::Client::new()
        .post(format!("{}/__sim/faults", sim.base_url()))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    match no_retry.list_recurrences(None).await {
        Err(Error::RateLimited { retry_after, .. }) => assert_eq!(retry_after, Some(std::time::Duration::from_secs(7))),
        other => panic!("429 must be RateLimited: {other:?}"),
    }
}

#[tokio::test]
async fn simulator_webhooks_verify_and_match_what_the_client_side_signs() {
    let sim = sim().await;
    let c = client(&sim);
    // A receiver is not needed: deliveries to a closed port are retried and logged with their body.
    let r = c
        .create_recurrence(
            &CreateRecurrence::new(usd("15"), "Recurring payment", Period::Monthly)
                .order_id("wh-1")
                .url_callback("http://127.0.0.1:9/hooks".parse().unwrap()),
        )
        .await
        .unwrap();
    sim.cryptomus_accept(&r.uuid).unwrap();
    let bodies: Vec<String> = sim.deliveries().into_iter().map(|d| d.body).collect();
    assert_eq!(bodies.len(), 2, "recurrence active + first payment");
    let verifier = CryptomusWebhookVerifier::new(SecretString::from(sim.cryptomus_payment_key().to_owned()));
    for body in &bodies {
        let event = verifier.verify(body.as_bytes()).unwrap();
        assert_eq!(event.merchant_reference.as_deref(), Some("wh-1"));
        // Vice versa: signing the same payload on the client side gives the simulator's exact bytes.
        let resigned = sign_webhook(body.as_bytes(), sim.cryptomus_payment_key()).unwrap();
        assert_eq!(&resigned, body);
        // And a changed byte anywhere fails.
        for i in 0..body.len() {
            for flip in [0x01, 0x20] {
                let mut t = body.as_bytes().to_vec();
                t[i] ^= flip;
                assert!(verifier.verify(&t).is_err(), "byte {i} ^ {flip:#x} must fail");
            }
        }
    }
    let other = CryptomusWebhookVerifier::new(SecretString::from("another-key".to_owned()));
    assert!(other.verify(bodies[0].as_bytes()).is_err());
}
