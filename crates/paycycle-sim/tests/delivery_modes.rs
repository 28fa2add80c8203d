//! Delivery modes: copies, concurrent deliveries, shuffled windows and drops, through the Rust
//! API and the `/__sim/delivery` control route, against loopback receivers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::recurrente::{recurring_item, subscription_checkout};
use common::{create, sim, uuid_of};
use paycycle_cryptomus::sign::verify_webhook_sign;
use paycycle_sim::{DeliveryMode, DeliveryOutcome, DeliveryRecord, RecurrenteOutcome, SimError, Simulator};
use serde_json::{Value, json};

/// A receiver that keeps every request in arrival order and the most requests it had in flight.
#[derive(Clone)]
struct Receiver {
    /// `http://127.0.0.1:PORT/`: the prefix of every URL of this receiver.
    base: String,
    state: Recv,
}

/// One request received: its headers and body.
type Hit = (HeaderMap, Vec<u8>);

#[derive(Clone, Default)]
struct Recv {
    hits: Arc<Mutex<Vec<Hit>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    delay: Duration,
}

async fn hook(State(s): State<Recv>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if !s.delay.is_zero() {
        tokio::time::sleep(s.delay).await;
    }
    s.hits.lock().unwrap().push((headers, body.to_vec()));
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    StatusCode::OK
}

async fn receiver(delay: Duration) -> Receiver {
    let state = Recv {
        delay,
        ..Recv::default()
    };
    let app = Router::new().route("/hook", post(hook)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        base: format!("http://{addr}/"),
        state,
    }
}

impl Receiver {
    fn url(&self) -> String {
        format!("{}hook", self.base)
    }

    /// The bodies received, in arrival order.
    fn bodies(&self) -> Vec<String> {
        self.state
            .hits
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
            .collect()
    }

    fn headers(&self) -> Vec<HeaderMap> {
        self.state.hits.lock().unwrap().iter().map(|(h, _)| h.clone()).collect()
    }

    fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

/// A weekly Cryptomus recurrence calling back `url`, accepted: two webhooks (the recurrence,
/// the first payment), then one payment webhook a week.
async fn weekly_recurrence(sim: &Simulator, url: &str, order: &str) -> String {
    let body = json!({"amount": "5", "currency": "USD", "name": "Weekly", "period": "weekly",
                      "order_id": order, "url_callback": url});
    let uuid = uuid_of(&create(sim, body).await);
    sim.cryptomus_accept(&uuid).unwrap();
    uuid
}

fn weeks(n: i64) -> chrono::Duration {
    chrono::Duration::weeks(n)
}

fn to<'a>(records: &'a [DeliveryRecord], url: &str) -> Vec<&'a DeliveryRecord> {
    records.iter().filter(|r| r.url == url).collect()
}

fn counts(bodies: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for b in bodies {
        *m.entry(b).or_insert(0) += 1;
    }
    m
}

#[tokio::test]
async fn copies_deliver_every_webhook_n_times_and_only_under_the_prefix() {
    let sim = sim().await;
    let chaotic = receiver(Duration::ZERO).await;
    let plain = receiver(Duration::ZERO).await;
    sim.set_delivery_mode(Some(&chaotic.base), DeliveryMode::default().copies(3))
        .unwrap();
    weekly_recurrence(&sim, &chaotic.url(), "order-a").await;
    weekly_recurrence(&sim, &plain.url(), "order-b").await;
    sim.advance(weeks(2)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(sim.pending_webhooks(), 0);

    let log = sim.deliveries();
    let sent_a = to(&log, &chaotic.url());
    let sent_b = to(&log, &plain.url());
    // 2 at acceptance + 2 renewals, three records each.
    assert_eq!(sent_a.len(), 4 * 3, "{sent_a:#?}");
    assert_eq!(sent_b.len(), 4);
    for r in &log {
        assert_eq!(r.outcome, DeliveryOutcome::Delivered { status: 200 }, "{r:#?}");
        assert_eq!(r.attempts.len(), 1);
    }
    // Copies follow their first: consecutive ids, numbered, the same body.
    for group in sent_a.chunks(3) {
        let first = group[0];
        assert_eq!((first.copy, first.copy_of), (1, None));
        for (k, r) in group.iter().enumerate().skip(1) {
            assert_eq!(r.id, first.id + k as u64);
            assert_eq!(r.copy, k as u32 + 1);
            assert_eq!(r.copy_of, Some(first.id));
            assert_eq!(r.body, first.body);
        }
    }
    for r in &sent_b {
        assert_eq!((r.copy, r.copy_of), (1, None));
    }

    // Byte-identical, validly signed copies: each webhook exactly three times.
    let got = counts(chaotic.bodies());
    assert_eq!(got.len(), 4);
    assert!(got.values().all(|n| *n == 3), "{got:#?}");
    for body in got.keys() {
        verify_webhook_sign(body.as_bytes(), sim.cryptomus_payment_key()).unwrap();
    }
    let got = counts(plain.bodies());
    assert_eq!(got.len(), 4);
    assert!(got.values().all(|n| *n == 1), "{got:#?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn recurrente_copies_keep_the_svix_id_and_verify() {
    let hooks = receiver(Duration::ZERO).await;
    let sim = common::recurrente::sim_with_hook(&hooks.url()).await;
    sim.set_delivery_mode(None, DeliveryMode::default().copies(2)).unwrap();
    let ch = subscription_checkout(&sim, recurring_item("Gold", 5000, "month")).await;
    sim.recurrente_pay(&ch, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;

    let verifier =
        paycycle_recurrente::webhook::RecurrenteWebhookVerifier::new([sim.recurrente_webhook_secret()]).unwrap();
    let bodies = hooks.bodies();
    let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
    for (headers, body) in hooks.headers().iter().zip(&bodies) {
        verifier.verify_event(headers, body.as_bytes()).unwrap();
        let id = headers.get("svix-id").unwrap().to_str().unwrap().to_owned();
        by_id.entry(id).or_default().push(body.clone());
    }
    // payment_intent.succeeded, its unified intent.succeeded (a message of its own) and
    // subscription.create, twice each under one svix-id.
    assert_eq!(by_id.len(), 3, "{by_id:#?}");
    for copies in by_id.values() {
        assert_eq!(copies.len(), 2);
        assert_eq!(copies[0], copies[1]);
    }
    let mut names: Vec<String> = by_id
        .values()
        .map(|copies| serde_json::from_str::<serde_json::Value>(&copies[0]).unwrap()["event_type"].to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            r#""intent.succeeded""#,
            r#""payment_intent.succeeded""#,
            r#""subscription.create""#
        ]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_copies_race_at_the_receiver_and_flush_waits_for_them() {
    let sim = sim().await;
    let slow = receiver(Duration::from_millis(50)).await;
    sim.set_delivery_mode(None, DeliveryMode::default().copies(3).concurrent(true))
        .unwrap();
    weekly_recurrence(&sim, &slow.url(), "order-c").await;
    sim.flush_webhooks().await;
    assert_eq!(sim.pending_webhooks(), 0);
    assert_eq!(slow.bodies().len(), 6, "flush returned before every copy arrived");
    assert!(slow.max_in_flight() > 1, "deliveries did not overlap");
    let got = counts(slow.bodies());
    assert_eq!(got.len(), 2);
    assert!(got.values().all(|n| *n == 3));
    assert!(
        sim.deliveries()
            .iter()
            .all(|r| r.outcome == DeliveryOutcome::Delivered { status: 200 })
    );

    // In order (the default), one at a time even with copies.
    let ordered = receiver(Duration::from_millis(20)).await;
    sim.set_delivery_mode(None, DeliveryMode::default().copies(2)).unwrap();
    weekly_recurrence(&sim, &ordered.url(), "order-d").await;
    sim.flush_webhooks().await;
    assert_eq!(ordered.bodies().len(), 4);
    assert_eq!(ordered.max_in_flight(), 1);
    sim.shutdown().await;
}

/// Runs a shuffled delivery of 2 + 20 webhooks; returns the positions (in the order sent) of the
/// webhooks as received, and how many were sent before the first flush.
async fn shuffled_run(seed: u64) -> (Vec<usize>, usize) {
    let sim = sim().await;
    let hooks = receiver(Duration::ZERO).await;
    sim.set_delivery_mode(Some(&hooks.base), DeliveryMode::default().shuffle_window(5).seed(seed))
        .unwrap();
    weekly_recurrence(&sim, &hooks.url(), "order-s").await;
    sim.flush_webhooks().await; // releases the partial window of 2
    let first = sim.deliveries().len();
    sim.advance(weeks(20)).unwrap();
    sim.flush_webhooks().await;

    let sent: Vec<String> = sim.deliveries().into_iter().map(|r| r.body).collect();
    let received = hooks.bodies();
    assert_eq!(
        counts(sent.clone()),
        counts(received.clone()),
        "the same webhooks, once each"
    );
    let positions: Vec<usize> = received
        .iter()
        .map(|b| sent.iter().position(|s| s == b).unwrap())
        .collect();
    sim.shutdown().await;
    (positions, first)
}

#[tokio::test]
async fn shuffle_windows_reorder_within_windows_reproducibly() {
    let (order, first) = shuffled_run(7).await;
    assert_eq!(first, 2);
    assert_eq!(order.len(), 22);
    let sorted: Vec<usize> = (0..22).collect();
    assert_ne!(order, sorted, "seed 7 should reorder");
    // Each window holds the webhooks sent in it: the first 2 (released by the flush), then 5s.
    let mut start = 0;
    for len in [2, 5, 5, 5, 5] {
        let mut window = order[start..start + len].to_vec();
        window.sort_unstable();
        assert_eq!(window, (start..start + len).collect::<Vec<_>>(), "{order:?}");
        start += len;
    }
    // The same seed gives the same order; another seed another.
    assert_eq!(shuffled_run(7).await.0, order);
    assert_ne!(shuffled_run(8).await.0, order);
}

#[tokio::test]
async fn a_partial_window_is_released_when_the_queue_goes_idle() {
    let sim = sim().await;
    let hooks = receiver(Duration::ZERO).await;
    sim.set_delivery_mode(None, DeliveryMode::default().shuffle_window(50).seed(1))
        .unwrap();
    weekly_recurrence(&sim, &hooks.url(), "order-i").await;
    assert_eq!(sim.pending_webhooks(), 2);
    // No flush: the window of 50 is not full, and the idle timer releases it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while hooks.bodies().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the partial window was held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.flush_webhooks().await;
    assert_eq!(sim.pending_webhooks(), 0);
    sim.shutdown().await;
}

/// 2 + 198 webhooks with 300 ‰ dropped; returns the dropped ones' positions.
async fn dropping_run(seed: u64) -> Vec<usize> {
    let sim = sim().await;
    let hooks = receiver(Duration::ZERO).await;
    sim.set_delivery_mode(None, DeliveryMode::default().drop_per_mille(300).seed(seed))
        .unwrap();
    weekly_recurrence(&sim, &hooks.url(), "order-x").await;
    sim.advance(weeks(198)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(sim.pending_webhooks(), 0);

    let log = sim.deliveries();
    assert_eq!(log.len(), 200);
    let received = counts(hooks.bodies());
    let mut dropped = Vec::new();
    for (i, r) in log.iter().enumerate() {
        match &r.outcome {
            DeliveryOutcome::Dropped => {
                assert!(r.attempts.is_empty());
                assert!(!received.contains_key(&r.body), "a dropped webhook arrived");
                dropped.push(i);
            }
            DeliveryOutcome::Delivered { status: 200 } => assert_eq!(received.get(&r.body), Some(&1)),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(hooks.bodies().len(), 200 - dropped.len());
    // The log over the control API shows them too.
    let r: Value = reqwest::get(format!("{}/__sim/webhooks", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let states = r["deliveries"].as_array().unwrap();
    let n = states.iter().filter(|d| d["outcome"]["state"] == "dropped").count();
    assert_eq!(n, dropped.len());
    sim.shutdown().await;
    dropped
}

#[tokio::test]
async fn drop_per_mille_drops_about_that_share_reproducibly() {
    let dropped = dropping_run(42).await;
    assert!((30..=90).contains(&dropped.len()), "{} of 200 dropped", dropped.len());
    assert_eq!(dropping_run(42).await, dropped, "the same seed drops the same webhooks");
}

async fn delivery_route(sim: &Simulator, method: reqwest::Method, body: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}/__sim/delivery", sim.base_url()));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_owned());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn the_control_route_sets_lists_clears_and_refuses_bad_modes() {
    use reqwest::Method;
    let sim = sim().await;
    let hooks = receiver(Duration::ZERO).await;

    let (status, v) = delivery_route(&sim, Method::GET, None).await;
    assert_eq!((status, v), (200, json!({"modes": []})));

    let body = json!({"url_prefix": hooks.base, "copies": 2, "concurrent": true, "shuffle_window": 1,
                      "drop_per_mille": 0, "seed": 7});
    let (status, v) = delivery_route(&sim, Method::PUT, Some(&body.to_string())).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"modes": [body]}));
    let (status, v) = delivery_route(&sim, Method::PUT, Some(r#"{"drop_per_mille": 1000}"#)).await;
    assert_eq!(status, 200, "{v}");
    let (_, v) = delivery_route(&sim, Method::GET, None).await;
    assert_eq!(v["modes"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["modes"][1],
        json!({"url_prefix": null, "copies": 1, "concurrent": false, "shuffle_window": 0,
               "drop_per_mille": 1000, "seed": 0})
    );
    assert_eq!(
        sim.delivery_modes()[1],
        (None, DeliveryMode::default().drop_per_mille(1000))
    );

    // The longest prefix wins: the receiver's webhooks come twice; others are all dropped.
    let other = receiver(Duration::ZERO).await;
    weekly_recurrence(&sim, &hooks.url(), "order-p").await;
    weekly_recurrence(&sim, &other.url(), "order-q").await;
    sim.flush_webhooks().await;
    assert_eq!(hooks.bodies().len(), 4);
    assert!(other.bodies().is_empty());

    for bad in [
        r#"{"copies": 0}"#,
        r#"{"copies": 1001}"#,
        r#"{"drop_per_mille": 1001}"#,
        r#"{"drop_per_mille": -1}"#,
        r#"{"copies": "two"}"#,
        r#"{"copy": 2}"#,
        r#"[]"#,
        "not json",
    ] {
        let (status, v) = delivery_route(&sim, Method::PUT, Some(bad)).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert_eq!(v["error"], "invalid_delivery_mode", "{bad}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{bad}");
    }
    let (_, v) = delivery_route(&sim, Method::GET, None).await;
    assert_eq!(
        v["modes"].as_array().unwrap().len(),
        2,
        "a refused mode changes nothing"
    );

    let (status, v) = delivery_route(&sim, Method::DELETE, None).await;
    assert_eq!((status, v), (200, json!({"modes": []})));
    assert!(sim.delivery_modes().is_empty());

    // The Rust API refuses the same values.
    for bad in [
        DeliveryMode::default().copies(0),
        DeliveryMode::default().drop_per_mille(1001),
    ] {
        assert!(matches!(
            sim.set_delivery_mode(None, bad),
            Err(SimError::InvalidConfig { .. })
        ));
    }
    sim.shutdown().await;
}
