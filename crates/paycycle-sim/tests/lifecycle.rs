//! Billing, webhooks, delivery, the control API and the payer page, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use paycycle_core::WebhookError;
use paycycle_cryptomus::sign::verify_webhook_sign;
use paycycle_sim::{DeliveryOutcome, SimConfig, SimError, Simulator, TransitionKind};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn plan(callback: &str) -> Value {
    json!({"amount": "15", "currency": "USD", "name": "Gold plan", "period": "monthly",
           "order_id": "order-7", "url_callback": callback, "additional_data": "user=42"})
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

async fn control(sim: &Simulator, path: &str, body: Option<Value>) -> Resp {
    let mut req = reqwest::Client::new().post(format!("{}{path}", sim.base_url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

async fn get(sim: &Simulator, path: &str) -> Resp {
    send(reqwest::Client::new().get(format!("{}{path}", sim.base_url()))).await
}

#[tokio::test]
async fn webhooks_are_signed_like_cryptomus_and_come_in_order() {
    let sim = sim().await;
    let hook = receiver(0).await;
    let mut body = plan(&hook.url);
    body["discount_days"] = json!(30);
    body["discount_amount"] = json!("1");
    let rec = create(&sim, body).await;
    let uuid = uuid_of(&rec);

    let r = control(&sim, &format!("/__sim/cryptomus/recurrences/{uuid}/accept"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["recurrence"]["status"], "active");
    assert_eq!(r.json["recurrence"]["last_pay_off"], "2026-01-10 12:00:00");
    let kinds: Vec<_> = r.json["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].clone())
        .collect();
    assert_eq!(kinds, [json!("activated"), json!("charged")]);

    let r = control(&sim, "/__sim/clock/advance", Some(json!({"days": 31}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["now"], "2026-02-10T09:00:00Z");
    assert_eq!(r.json["transitions"][0]["type"], "charged");
    assert_eq!(r.json["transitions"][0]["amount"], "15");
    sim.advance(chrono::Duration::days(28)).unwrap();
    let r = signed(&sim, "/v1/recurrence/cancel", r#"{"order_id":"order-7"}"#).await;
    assert_eq!(r.status, 200);
    sim.flush_webhooks().await;

    let raw = hook.raw();
    let got = hook.json();
    assert_eq!(got.len(), 5, "{got:#?}");
    for body in &raw {
        verify_webhook_sign(body, sim.cryptomus_payment_key()).unwrap();
        assert_eq!(
            verify_webhook_sign(body, "another key"),
            Err(WebhookError::BadSignature)
        );
    }
    // Slashes are escaped as PHP does, and the sign is the last member.
    let first = String::from_utf8(raw[0].clone()).unwrap();
    assert!(first.contains(r#""url":"http:\/\/127.0.0.1"#), "{first}");
    let sign_pos = first.find(r#","sign":""#).unwrap();
    assert_eq!(first.len() - sign_pos, r#","sign":""}"#.len() + 32);

    // 1: the recurrence, active.
    assert_eq!(got[0]["uuid"], uuid.as_str());
    assert_eq!(got[0]["status"], "active");
    assert_eq!(got[0]["order_id"], "order-7");
    assert_eq!(got[0]["period"], "monthly");
    assert!(got[0].get("type").is_none());
    // 2-4: payments: discounted first, then full price.
    let amounts: Vec<_> = got[1..4].iter().map(|p| p["amount"].clone()).collect();
    assert_eq!(amounts, [json!("1.00"), json!("15.00"), json!("15.00")]);
    let mut payment_ids = Vec::new();
    for p in &got[1..4] {
        assert_eq!(p["type"], "payment");
        assert_eq!(p["status"], "paid");
        assert_eq!(p["is_final"], true);
        assert_eq!(p["order_id"], "order-7");
        assert_eq!(p["currency"], "USD");
        assert_eq!(p["payer_currency"], "USDT");
        assert_eq!(p["network"], "tron");
        assert_eq!(p["additional_data"], "user=42");
        assert_eq!(p["convert"], Value::Null);
        let txid = p["txid"].as_str().unwrap();
        assert_eq!(txid.len(), 64);
        assert!(txid.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            dec(&p["merchant_amount"]) + dec(&p["commission"]),
            dec(&p["payment_amount"])
        );
        payment_ids.push(p["uuid"].as_str().unwrap().to_owned());
        assert_ne!(p["uuid"], uuid.as_str());
    }
    assert_eq!(got[1]["payment_amount"], "1.00000000");
    assert_eq!(got[1]["merchant_amount"], "0.98000000");
    assert_eq!(got[1]["commission"], "0.02000000");
    assert_eq!(got[2]["payment_amount_usd"], "15.00");
    payment_ids.dedup();
    assert_eq!(payment_ids.len(), 3, "each payment has its own uuid");
    // 5: the recurrence, cancelled by the merchant.
    assert_eq!(got[4]["status"], "cancel_by_merchant");
    assert_eq!(got[4]["last_pay_off"], "2026-03-10 12:00:00");

    // info shows the last payment too.
    let r = signed(&sim, "/v1/recurrence/info", &json!({"uuid": uuid}).to_string()).await;
    assert_eq!(r.json["result"]["last_pay_off"], "2026-03-10 12:00:00");
    // The webhook log is readable over HTTP.
    let log = get(&sim, "/__sim/webhooks").await;
    assert_eq!(log.json["pending"], 0);
    let deliveries = log.json["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 5);
    assert!(
        deliveries
            .iter()
            .all(|d| d["outcome"]["state"] == "delivered" && d["url"] == hook.url.as_str())
    );
    assert_eq!(deliveries[1]["event"], "payment paid");
    assert_eq!(deliveries[1]["body"].as_str().unwrap().as_bytes(), raw[1].as_slice());
    sim.shutdown().await;
}

#[tokio::test]
async fn payer_cancel_sends_cancel_by_user() {
    let sim = sim().await;
    let hook = receiver(0).await;
    let uuid = uuid_of(&create(&sim, plan(&hook.url)).await);
    sim.cryptomus_accept(&uuid).unwrap();
    let r = control(
        &sim,
        &format!("/__sim/cryptomus/recurrences/{uuid}/cancel-by-user"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["recurrence"]["status"], "cancel_by_user");
    sim.flush_webhooks().await;
    let statuses: Vec<_> = hook.json().iter().map(|b| b["status"].clone()).collect();
    assert_eq!(statuses, [json!("active"), json!("paid"), json!("cancel_by_user")]);
    // Nothing is charged after a cancel.
    let a = sim.advance(chrono::Duration::days(100)).unwrap();
    assert!(a.transitions.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn weekly_plan_over_three_weeks_and_a_jump_of_several_periods() {
    let sim = sim().await;
    let hook = receiver(0).await;
    let mut weekly = plan(&hook.url);
    weekly["period"] = json!("weekly");
    weekly["amount"] = json!("5");
    weekly["currency"] = json!("USDT");
    let w = uuid_of(&create(&sim, weekly).await);
    sim.cryptomus_accept(&w).unwrap();
    let mut charged_at = Vec::new();
    for _ in 0..21 {
        let a = sim.advance(chrono::Duration::days(1)).unwrap();
        charged_at.extend(a.transitions.iter().map(|t| (t.at.to_rfc3339(), t.kind.clone())));
    }
    let times: Vec<_> = charged_at.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        times,
        [
            "2026-01-17T09:00:00+00:00",
            "2026-01-24T09:00:00+00:00",
            "2026-01-31T09:00:00+00:00"
        ]
    );
    assert!(
        charged_at
            .iter()
            .all(|(_, k)| matches!(k, TransitionKind::Charged { .. }))
    );

    // A monthly one accepted on Jan 31 and a jump of 100 days: each period billed, in time
    // order, with calendar months (Feb 28, Mar 31, Apr 30).
    let mut monthly = plan(&hook.url);
    monthly["order_id"] = json!("m-1");
    let m = uuid_of(&create(&sim, monthly).await);
    sim.cryptomus_accept(&m).unwrap();
    let a = sim.advance(chrono::Duration::days(100)).unwrap();
    let monthly_charges: Vec<_> = a
        .transitions
        .iter()
        .filter(|t| t.subscription_id() == m)
        .map(|t| match &t.kind {
            TransitionKind::Charged { period_index, .. } => (*period_index, t.at.to_rfc3339()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        monthly_charges,
        [
            (1, "2026-02-28T09:00:00+00:00".to_owned()),
            (2, "2026-03-31T09:00:00+00:00".to_owned()),
            (3, "2026-04-30T09:00:00+00:00".to_owned()),
        ]
    );
    let ats: Vec<_> = a.transitions.iter().map(|t| t.at).collect();
    let mut sorted = ats.clone();
    sorted.sort();
    assert_eq!(ats, sorted, "both subscriptions' charges interleave in time order");
    assert_eq!(a.transitions.len(), 3 + 14, "3 monthly + 14 weekly renewals");

    sim.flush_webhooks().await;
    let got = hook.json();
    // The webhooks follow the same order: the last 17 are the jump's payments, in order.
    let jump: Vec<_> = got[got.len() - 17..]
        .iter()
        .map(|b| b["amount"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<_> = a
        .transitions
        .iter()
        .map(|t| {
            if t.subscription_id() == m {
                "15.00".to_owned()
            } else {
                "5.00000000".to_owned()
            }
        })
        .collect();
    assert_eq!(jump, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_body_on_the_third_attempt() {
    let sim = sim().await;
    let hook = receiver(2).await;
    let uuid = uuid_of(&create(&sim, plan(&hook.url)).await);
    sim.cryptomus_accept(&uuid).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(
        hook.attempts.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "3 for the first, 1 for the second"
    );
    let got = hook.json();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["status"], "active", "in order: the retried one first");
    assert_eq!(got[1]["status"], "paid");
    let d = sim.deliveries();
    let statuses: Vec<_> = d[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(d[0].outcome, DeliveryOutcome::Delivered { status: 200 });
    assert_eq!(d[1].attempts.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn deliveries_give_up_after_the_last_attempt() {
    let sim = sim().await;
    let hook = receiver(usize::MAX).await;
    let uuid = uuid_of(&create(&sim, plan(&hook.url)).await);
    sim.cryptomus_accept(&uuid).unwrap();
    sim.flush_webhooks().await;
    let d = sim.deliveries();
    assert_eq!(d.len(), 2);
    for r in &d {
        assert_eq!(r.outcome, DeliveryOutcome::GaveUp);
        assert_eq!(r.attempts.len(), 4, "the configured max_attempts");
    }
    // A closed port: connection errors are retried and logged too.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let mut b = plan(&dead);
    b["order_id"] = json!("dead");
    let uuid = uuid_of(&create(&sim, b).await);
    sim.cryptomus_accept(&uuid).unwrap();
    sim.flush_webhooks().await;
    let d = sim.deliveries();
    assert_eq!(d[2].outcome, DeliveryOutcome::GaveUp);
    assert!(d[2].attempts.iter().all(|a| a.status.is_none() && a.error.is_some()));
    sim.shutdown().await;
}

#[tokio::test]
async fn flush_waits_for_slow_receivers() {
    let sim = sim().await;
    let hook = receiver_with_delay(0, Duration::from_millis(300)).await;
    let uuid = uuid_of(&create(&sim, plan(&hook.url)).await);
    sim.cryptomus_accept(&uuid).unwrap();
    assert_eq!(sim.pending_webhooks(), 2);
    assert!(hook.raw().is_empty(), "not delivered yet: the receiver takes 300 ms");
    sim.flush_webhooks().await;
    assert_eq!(hook.raw().len(), 2);
    assert_eq!(sim.pending_webhooks(), 0);
    // Flushing an empty queue returns at once.
    tokio::time::timeout(Duration::from_secs(1), sim.flush_webhooks())
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn callbacks_off_loopback_are_refused_never_dialed() {
    let sim = sim().await;
    for (i, url) in [
        "http://example.com/hook",
        "http://10.1.2.3/hook",
        "https://192.168.0.1:8443/x",
        "http://[::ffff:8.8.8.8]/x",
    ]
    .iter()
    .enumerate()
    {
        let mut b = plan(url);
        b["order_id"] = json!(format!("o-{i}"));
        let rec = create(&sim, b).await;
        assert_eq!(rec["url_callback"], *url, "accepted at creation, like the real API");
        sim.cryptomus_accept(&uuid_of(&rec)).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(2), sim.flush_webhooks())
        .await
        .unwrap();
    let d = sim.deliveries();
    assert_eq!(d.len(), 8);
    for r in d {
        assert!(
            matches!(&r.outcome, DeliveryOutcome::Refused { reason } if reason.contains("not loopback")),
            "{r:?}"
        );
        assert!(r.attempts.is_empty());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn control_api_moves_the_clock_and_reports_errors() {
    let sim = sim().await;
    let r = get(&sim, "/__sim/clock").await;
    assert_eq!(r.json, json!({"now": "2026-01-10T09:00:00Z"}));
    let r = control(&sim, "/__sim/clock/advance", Some(json!({"seconds": 90}))).await;
    assert_eq!(r.json, json!({"now": "2026-01-10T09:01:30Z", "transitions": []}));
    assert_eq!(sim.now().to_rfc3339(), "2026-01-10T09:01:30+00:00");
    for bad in [json!({"days": -1}), json!({"weeks": 1}), json!({}), json!([1])] {
        let r = control(&sim, "/__sim/clock/advance", Some(bad.clone())).await;
        assert_eq!(r.status, 422, "{bad}");
        assert_eq!(r.json["error"], "invalid_request");
        assert!(r.json["message"].as_str().unwrap().len() > 10);
    }
    assert_eq!(
        get(&sim, "/__sim/clock").await.json["now"],
        "2026-01-10T09:01:30Z",
        "unchanged by bad requests"
    );

    let r = control(&sim, "/__sim/cryptomus/recurrences/nope/accept", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error"], "not_found");
    let uuid = uuid_of(
        &create(
            &sim,
            json!({"amount": "3", "currency": "TRX", "name": "Tron", "period": "weekly"}),
        )
        .await,
    );
    let accept = format!("/__sim/cryptomus/recurrences/{uuid}/accept");
    assert_eq!(control(&sim, &accept, None).await.status, 200);
    let r = control(&sim, &accept, None).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json["error"], "invalid_state");
    let cancel = format!("/__sim/cryptomus/recurrences/{uuid}/cancel-by-user");
    assert_eq!(control(&sim, &cancel, None).await.status, 200);
    let r = control(&sim, &cancel, None).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json["error"], "already_cancelled");

    // In-process equivalents.
    assert!(matches!(sim.cryptomus_accept("nope"), Err(SimError::NotFound { .. })));
    assert!(matches!(
        sim.advance(chrono::Duration::seconds(-1)),
        Err(SimError::Clock(_))
    ));
    assert_eq!(sim.cryptomus_recurrence(&uuid).unwrap()["status"], "cancel_by_user");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_payer_page_renders_and_its_buttons_work() {
    let sim = sim().await;
    let rec = create(
        &sim,
        json!({"amount": "15", "currency": "USD", "name": "<b>Gold & \"Co\"</b>", "period": "monthly",
               "discount_days": 30, "discount_amount": "1"}),
    )
    .await;
    let uuid = uuid_of(&rec);
    let page_url = rec["url"].as_str().unwrap().to_owned();
    assert_eq!(page_url, format!("{}/pay/cryptomus/{uuid}", sim.base_url()));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("&lt;b&gt;Gold &amp; &quot;Co&quot;&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>Gold"), "values are escaped");
    assert!(html.contains("15 USD"));
    assert!(html.contains("monthly"));
    assert!(html.contains("1 USD for the first 30 days"));
    assert!(html.contains("wait_accept"));
    assert!(
        !html.contains("src=") && !html.contains("href=\"http"),
        "no external assets"
    );
    let accept_action = format!("/__sim/cryptomus/recurrences/{uuid}/accept?redirect=page");
    assert!(html.contains(&format!("action=\"{accept_action}\"")));

    // Clicking Accept: a form POST, 303 back to the page, which now shows it active.
    let r = client
        .post(format!("{}{accept_action}", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("/pay/cryptomus/{uuid}").as_str());
    let html = client.get(&page_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("active"));
    assert!(html.contains("2026-01-10 12:00:00"), "the last payment, in UTC+3");
    assert!(!html.contains(&accept_action), "no Accept button once active");
    // Accepting again shows a notice instead of failing.
    let r = client
        .post(format!("{}{accept_action}", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("/pay/cryptomus/{uuid}?notice=")));
    let html = client
        .get(format!("{}{location}", sim.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("role=\"alert\""));

    // Decline on another one.
    let other = uuid_of(
        &create(
            &sim,
            json!({"amount": "2", "currency": "USDT", "name": "Other", "period": "weekly"}),
        )
        .await,
    );
    let r = client
        .post(format!(
            "{}/__sim/cryptomus/recurrences/{other}/cancel-by-user?redirect=page",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = client
        .get(format!("{}/pay/cryptomus/{other}", sim.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("cancel_by_user"));
    let info = signed(&sim, "/v1/recurrence/info", &json!({"uuid": other}).to_string()).await;
    assert_eq!(info.json["result"]["status"], "cancel_by_user");

    let missing = client
        .get(format!("{}/pay/cryptomus/%3Cscript%3E", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let html = missing.text().await.unwrap();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
    sim.shutdown().await;
}

#[tokio::test]
async fn start_refuses_non_loopback_and_shutdown_stops_serving() {
    let err = Simulator::start(SimConfig::default().addr("0.0.0.0:0".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, SimError::NotLoopback { .. }));

    let sim = sim().await;
    let base = sim.base_url().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(format!("{:?}", config()).contains("[redacted]"));
    assert!(!format!("{:?}", config()).contains(paycycle_sim::DEFAULT_CRYPTOMUS_PAYMENT_KEY));
    assert_eq!(get(&sim, "/__sim/clock").await.status, 200);
    sim.shutdown().await;
    let after = reqwest::Client::new().get(format!("{base}/__sim/clock")).send().await;
    assert!(after.is_err(), "nothing listens after shutdown");
}

#[tokio::test]
async fn random_ids_by_default_and_the_real_time_as_start() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let rec = create(
        &sim,
        json!({"amount": "1", "currency": "USDT", "name": "Abc", "period": "weekly"}),
    )
    .await;
    let id = uuid::Uuid::parse_str(rec["uuid"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 4);
    assert_ne!(rec["uuid"], "00000000-0000-4000-8000-000000000001");
    assert!((chrono::Utc::now() - sim.now()).num_seconds().abs() < 5);
    assert_eq!(sim.now().timestamp_subsec_nanos(), 0);
    assert_eq!(sim.cryptomus_merchant_id(), paycycle_sim::DEFAULT_CRYPTOMUS_MERCHANT_ID);
    sim.shutdown().await;
}

#[tokio::test]
async fn any_request_catches_up_with_a_clock_moved_directly() {
    let sim = sim().await;
    let hook = receiver(0).await;
    let uuid = uuid_of(&create(&sim, plan(&hook.url)).await);
    sim.cryptomus_accept(&uuid).unwrap();
    // Moving the shared clock alone charges nothing yet...
    sim.clock().advance(chrono::Duration::days(31)).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(hook.raw().len(), 2);
    // ...the next request processes what fell due first, and its webhook goes out.
    let r = signed(&sim, "/v1/recurrence/info", &json!({"uuid": uuid}).to_string()).await;
    assert_eq!(r.json["result"]["last_pay_off"], "2026-02-10 12:00:00");
    sim.flush_webhooks().await;
    let got = hook.json();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2]["type"], "payment");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_cryptomus_charge_sends_a_failed_payment_and_cancels() {
    let sim = sim().await;
    let hook = receiver(0).await;
    let uuid = uuid_of(&create(&sim, plan(&hook.url)).await);
    sim.cryptomus_accept(&uuid).unwrap();
    sim.fail_next_charges(&uuid, 1).unwrap();
    let a = sim.advance(chrono::Duration::days(31)).unwrap();
    assert!(matches!(a.transitions[0].kind, TransitionKind::ChargeFailed { .. }));
    sim.flush_webhooks().await;
    let got = hook.json();
    let statuses: Vec<_> = got.iter().map(|b| b["status"].clone()).collect();
    assert_eq!(
        statuses,
        [
            json!("active"),
            json!("paid"),
            json!("fail"),
            json!("cancel_by_merchant")
        ]
    );
    assert_eq!(got[2]["txid"], Value::Null);
    assert!(matches!(sim.fail_next_charges(&uuid, 1), Err(SimError::Engine(_))));
    sim.shutdown().await;
}
