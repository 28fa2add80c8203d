//! The client against a local HTTP server: signing, bodies, paging, error shapes, retries.
// Test code: helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use futures::TryStreamExt;
use paycycle_core::{Currency, Error, Money};
use paycycle_cryptomus::{CreateRecurrence, CryptomusClient, Period, RecurrenceRef, RecurrenceStatus, sign};
use serde_json::json;
use support::{Canned, KEY, MERCHANT, MockServer, result_of};

const DISCOUNT_RESPONSE: &str = include_str!("fixtures/create_response_discount.json");

fn request() -> CreateRecurrence {
    CreateRecurrence::new(
        Money::parse("15", Currency::USD).unwrap(),
        "Recurring payment",
        Period::Monthly,
    )
    .url_callback("https://your.site/callback?x=1&y=a/b".parse().unwrap())
    .order_id("order/42-ñ")
    .discount(30, "1".parse().unwrap())
    .additional_data(r#"{"note":"Suscripción ☃ / año"}"#)
}

#[tokio::test]
async fn create_signs_exactly_the_bytes_it_sends() {
    let server = MockServer::start(vec![Canned::new(200, DISCOUNT_RESPONSE)]).await;
    let req = request();
    let rec = server.client().create_recurrence(&req).await.unwrap();

    let got = server.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/recurrence/create");
    assert_eq!(r.query, None);
    assert_eq!(r.header("merchant"), Some(MERCHANT));
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The sign is over the received bytes (the server checked too, or it would have answered 401)...
    assert_eq!(r.header("sign"), Some(sign::request_sign(&r.body, KEY).as_str()));
    // ...and those bytes are one serialization, with `/` not escaped and UTF-8 raw.
    assert_eq!(r.body, serde_json::to_vec(&req).unwrap());
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        text.contains(r#""url_callback":"https://your.site/callback?x=1&y=a/b""#),
        "{text}"
    );
    assert!(text.contains("order/42-ñ"), "{text}");
    assert_eq!(
        r.json(),
        json!({
            "amount": "15", "currency": "USD", "name": "Recurring payment", "period": "monthly",
            "order_id": "order/42-ñ", "url_callback": "https://your.site/callback?x=1&y=a/b",
            "discount_days": 30, "discount_amount": "1",
            "additional_data": r#"{"note":"Suscripción ☃ / año"}"#
        })
    );

    assert_eq!(rec.uuid, "1ee00fbd-42e7-4653-b316-1ab12f8a447b");
    assert_eq!(rec.status, Some(RecurrenceStatus::WaitAccept));
    assert_eq!(rec.discount_days, Some(30));
    assert_eq!(rec.raw, result_of(DISCOUNT_RESPONSE), "raw is the result as received");
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error_and_never_shown() {
    let server = MockServer::start(vec![Canned::new(200, DISCOUNT_RESPONSE)]).await;
    let secret = "not-the-key-SECRET-4242";
    let client = CryptomusClient::new(server.config().payment_key(secret).build().unwrap()).unwrap();
    let err = client.create_recurrence(&request()).await.unwrap_err();
    match &err {
        Error::Authentication { status, message, .. } => {
            assert_eq!(*status, Some(401));
            assert_eq!(message, "Invalid Sign.");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    let shown = format!("{err} {err:?} {client:?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("[redacted]"));
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = MockServer::start(vec![Canned::new(200, DISCOUNT_RESPONSE)]).await;
    let client = server.client();
    let mut bad = request();
    bad.name = "ab".into();
    assert!(matches!(client.create_recurrence(&bad).await, Err(Error::InvalidInput { field, .. }) if field == "name"));
    let bad = request().to_currency(Currency::EUR);
    assert!(
        matches!(client.create_recurrence(&bad).await, Err(Error::InvalidInput { field, .. }) if field == "to_currency")
    );
    assert!(
        matches!(client.recurrence(RecurrenceRef::uuid("")).await, Err(Error::InvalidInput { field, .. }) if field == "uuid")
    );
    assert!(server.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn info_and_cancel_send_uuid_or_order_id() {
    let rec = result_of(DISCOUNT_RESPONSE);
    let mut cancelled = rec.clone();
    cancelled["status"] = json!("cancel_by_merchant");
    let server = MockServer::start(vec![Canned::ok(rec.clone()), Canned::ok(rec), Canned::ok(cancelled)]).await;
    let client = server.client();

    let a = client
        .recurrence(RecurrenceRef::uuid("1ee00fbd-42e7-4653-b316-1ab12f8a447b"))
        .await
        .unwrap();
    let b = client.recurrence(RecurrenceRef::order_id("order/42")).await.unwrap();
    assert_eq!(a.uuid, b.uuid);
    let c = client.cancel_recurrence(RecurrenceRef::uuid(&a.uuid)).await.unwrap();
    assert_eq!(c.status, Some(RecurrenceStatus::CancelByMerchant));

    let got = server.received();
    assert_eq!(got[0].path, "/v1/recurrence/info");
    assert_eq!(got[0].body, br#"{"uuid":"1ee00fbd-42e7-4653-b316-1ab12f8a447b"}"#);
    assert_eq!(got[1].body, br#"{"order_id":"order/42"}"#);
    assert_eq!(got[2].path, "/v1/recurrence/cancel");
    assert_eq!(got[2].json(), json!({"uuid": "1ee00fbd-42e7-4653-b316-1ab12f8a447b"}));
    for r in &got {
        assert_eq!(r.header("sign"), Some(sign::request_sign(&r.body, KEY).as_str()));
    }
}

fn page(uuids: &[&str], next: Option<&str>) -> Canned {
    let items: Vec<_> = uuids
        .iter()
        .map(|u| json!({"uuid": u, "amount": "15", "currency": "USD", "status": "active", "period": "weekly"}))
        .collect();
    Canned::ok(json!({
        "items": items,
        "paginate": {"count": uuids.len(), "hasPages": next.is_some(), "nextCursor": next, "previousCursor": null, "perPage": 2}
    }))
}

#[tokio::test]
async fn list_signs_an_empty_object_and_puts_the_cursor_in_the_query() {
    let server = MockServer::start(vec![page(&["a", "b"], Some("c+2/=")), page(&["c"], None)]).await;
    let client = server.client();
    let first = client.list_recurrences(None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.items[0].raw["uuid"], "a", "each item keeps its raw JSON");
    let second = client.list_recurrences(first.next_cursor()).await.unwrap();
    assert_eq!(second.next_cursor(), None);

    let got = server.received();
    assert_eq!(got[0].path, "/v1/recurrence/list");
    assert_eq!(got[0].body, b"{}");
    assert_eq!(got[0].header("sign"), Some(sign::request_sign(b"{}", KEY).as_str()));
    assert_eq!(got[0].query, None);
    assert_eq!(got[1].query.as_deref(), Some("cursor=c%2B2%2F%3D"));
    assert_eq!(got[1].body, b"{}", "the cursor is not in the body");
}

#[tokio::test]
async fn recurrences_streams_every_page() {
    let server = MockServer::start(vec![
        page(&["a", "b"], Some("p2")),
        page(&["c", "d"], Some("p3")),
        page(&["e"], None),
    ])
    .await;
    let all: Vec<_> = server.client().recurrences().try_collect().await.unwrap();
    let uuids: Vec<_> = all.iter().map(|r| r.uuid.as_str()).collect();
    assert_eq!(uuids, ["a", "b", "c", "d", "e"]);
    let queries: Vec<_> = server.received().into_iter().map(|r| r.query).collect();
    assert_eq!(queries, [None, Some("cursor=p2".into()), Some("cursor=p3".into())]);
}

async fn info_error(answer: Canned) -> Error {
    let server = MockServer::start(vec![answer]).await;
    let client = CryptomusClient::new(server.config().max_retries(0).build().unwrap()).unwrap();
    client.recurrence(RecurrenceRef::uuid("u-1")).await.unwrap_err()
}

#[tokio::test]
async fn each_error_shape_is_its_own_error() {
    match info_error(Canned::new(422, include_str!("fixtures/error_validation_422.json"))).await {
        Error::Rejected {
            status: 422,
            field_errors,
            ..
        } => {
            assert_eq!(field_errors["uuid"], ["validation.required_without"]);
            assert_eq!(field_errors["order_id"], ["validation.required_without"]);
        }
        other => panic!("{other:?}"),
    }
    match info_error(Canned::new(400, r#"{"state":1,"message":"Already canceled"}"#)).await {
        Error::Rejected {
            status: 400, message, ..
        } => assert_eq!(message.as_deref(), Some("Already canceled")),
        other => panic!("{other:?}"),
    }
    for answer in [
        Canned::new(404, r#"{"state":1,"message":"Not found"}"#),
        Canned::new(400, r#"{"state":1,"message":"Recurrence not found"}"#),
    ] {
        match info_error(answer).await {
            Error::NotFound { resource, id, .. } => assert_eq!((resource.as_str(), id.as_str()), ("recurrence", "u-1")),
            other => panic!("{other:?}"),
        }
    }
    for answer in [
        Canned::new(200, include_str!("fixtures/error_invalid_sign.json")),
        Canned::new(403, "<html><body>Access denied</body></html>"),
    ] {
        assert!(matches!(info_error(answer).await, Error::Authentication { .. }));
    }
    match info_error(Canned::new(429, "slow down").header("retry-after", "3")).await {
        e @ Error::RateLimited { .. } => {
            assert!(e.is_retryable());
            assert!(matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3)));
        }
        other => panic!("{other:?}"),
    }
    let cdn_page = format!(
        "<!DOCTYPE html><html><head><title>Just a moment...</title></head>{}</html>",
        "x".repeat(1000)
    );
    match info_error(Canned::new(200, cdn_page)).await {
        Error::Decode {
            status, path, excerpt, ..
        } => {
            assert_eq!((status, path.as_str()), (200, "."));
            assert!(excerpt.starts_with("<!DOCTYPE html>"));
            assert!(excerpt.chars().count() <= 200);
        }
        other => panic!("{other:?}"),
    }
    match info_error(Canned::ok(json!({"uuid": "u-1", "discount_days": "thirty"}))).await {
        Error::Decode { path, .. } => assert_eq!(path, "result.discount_days"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reads_are_retried_on_5xx() {
    let ok = Canned::new(200, DISCOUNT_RESPONSE);
    let server = MockServer::start(vec![Canned::new(503, "<html>busy</html>"), Canned::new(502, "{}"), ok]).await;
    let rec = server.client().recurrence(RecurrenceRef::uuid("u")).await.unwrap();
    assert_eq!(rec.uuid, "1ee00fbd-42e7-4653-b316-1ab12f8a447b");
    assert_eq!(server.received().len(), 3);

    // Always failing: 1 try + 2 retries, then the last error.
    let server = MockServer::start(vec![Canned::new(500, r#"{"state":1,"message":"Server Error"}"#)]).await;
    let err = server.client().list_recurrences(None).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { status: 500, .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(server.received().len(), 3);
}

/// The request without an `order_id`: nothing to find it by, so it is never sent twice.
fn request_without_order_id() -> CreateRecurrence {
    let mut r = request();
    r.order_id = None;
    r
}

#[tokio::test]
async fn creates_and_cancels_are_not_retried_once_sent() {
    let server = MockServer::start(vec![
        Canned::new(503, "<html>busy</html>"),
        Canned::new(200, DISCOUNT_RESPONSE),
    ])
    .await;
    let err = server
        .client()
        .create_recurrence(&request_without_order_id())
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent(), "{err:?}");
    assert_eq!(
        server.received().len(),
        1,
        "a create without an order_id is never repeated after it reached the server"
    );

    // With an order_id, the same create is sent again: Cryptomus refuses a second one with
    // that order_id, so it cannot create twice.
    let server = MockServer::start(vec![
        Canned::new(503, "<html>busy</html>"),
        Canned::new(200, DISCOUNT_RESPONSE),
    ])
    .await;
    let rec = server.client().create_recurrence(&request()).await.unwrap();
    assert_eq!(rec.uuid, "1ee00fbd-42e7-4653-b316-1ab12f8a447b");
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body, "the same body, the same order_id");

    let server = MockServer::start(vec![
        Canned::new(502, "bad gateway"),
        Canned::new(200, DISCOUNT_RESPONSE),
    ])
    .await;
    assert!(
        server
            .client()
            .cancel_recurrence(RecurrenceRef::uuid("u"))
            .await
            .is_err()
    );
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn timeouts_may_have_been_sent_and_only_reads_retry_them() {
    let slow = Canned::new(200, DISCOUNT_RESPONSE).delay(Duration::from_secs(2));
    let server = MockServer::start(vec![slow]).await;
    let client = CryptomusClient::new(server.config().timeout(Duration::from_millis(200)).build().unwrap()).unwrap();

    match client.create_recurrence(&request_without_order_id()).await.unwrap_err() {
        e @ Error::Transport { .. } => assert!(e.may_have_been_sent()),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received().len(), 1);

    assert!(matches!(
        client.recurrence(RecurrenceRef::uuid("u")).await,
        Err(Error::Transport {
            may_have_been_sent: true,
            ..
        })
    ));
    assert_eq!(server.received().len(), 1 + 3);

    // With an order_id: 1 + 2 creates, then `info` by order_id (1 + 2), then the last error.
    match client.create_recurrence(&request()).await.unwrap_err() {
        e @ Error::Transport { .. } => assert!(e.may_have_been_sent()),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received().len(), 4 + 3 + 3);
}

#[tokio::test]
async fn connection_refused_was_not_sent_and_is_retried_even_for_create() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = paycycle_cryptomus::CryptomusConfig::builder()
        .merchant_id(MERCHANT)
        .payment_key(KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry_backoff(Duration::from_millis(50))
        .build()
        .unwrap();
    let client = CryptomusClient::new(config).unwrap();
    let started = std::time::Instant::now();
    let err = client.create_recurrence(&request()).await.unwrap_err();
    match &err {
        Error::Transport {
            may_have_been_sent: false,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    assert!(!err.may_have_been_sent());
    assert!(
        started.elapsed() >= Duration::from_millis(50 + 100),
        "two retries with backoff happened: {:?}",
        started.elapsed()
    );
    assert!(!format!("{err:?}").contains(KEY));
}

#[tokio::test]
async fn a_base_url_path_prefix_is_kept() {
    let server = MockServer::start(vec![Canned::new(200, DISCOUNT_RESPONSE)]).await;
    let client = CryptomusClient::new(
        server
            .config()
            .base_url(format!("{}/cryptomus", server.base_url))
            .build()
            .unwrap(),
    )
    .unwrap();
    client.recurrence(RecurrenceRef::uuid("u")).await.unwrap();
    assert_eq!(server.received()[0].path, "/cryptomus/v1/recurrence/info");
}
