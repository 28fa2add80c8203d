//! Many subscriptions and many clients: bulk seeding through `POST /__sim/seed` listed back over
//! raw HTTP, concurrent creates of both providers, the connection counter of `GET /__sim/stats`.
//! No timing assertions here: the times are measured by `benches/list_scaling.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::*;
use paycycle_core::GatewayId;
use paycycle_cryptomus::sign::request_sign;
use paycycle_sim::{Seed, SeedState, SimConfig, Simulator};
use serde_json::{Value, json};

async fn post_json(client: &reqwest::Client, url: String, body: Value) -> Resp {
    send(client.post(url).json(&body)).await
}

/// Every Cryptomus recurrence, newest first, following `nextCursor` page by page.
async fn cryptomus_all(client: &reqwest::Client, sim: &Simulator) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/recurrence/list?cursor={c}"),
            None => "/v1/recurrence/list".to_owned(),
        };
        let body = "{}";
        let r = send(
            client
                .post(format!("{}{path}", sim.base_url()))
                .header("merchant", sim.cryptomus_merchant_id())
                .header("sign", request_sign(body.as_bytes(), sim.cryptomus_payment_key()))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let result = &r.json["result"];
        for item in result["items"].as_array().unwrap() {
            ids.push(item["uuid"].as_str().unwrap().to_owned());
        }
        match result["paginate"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

/// Every Recurrente subscription, newest first, 100 a page; checks `Total-Count`.
async fn recurrente_all(client: &reqwest::Client, sim: &Simulator) -> Vec<String> {
    let mut ids = Vec::new();
    for page in 1.. {
        let r = client
            .get(format!("{}/api/subscriptions?page={page}&items=100", sim.base_url()))
            .header("X-SECRET-KEY", sim.recurrente_secret_key())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let total: usize = r.headers()["total-count"].to_str().unwrap().parse().unwrap();
        let pages: usize = r.headers()["total-pages"].to_str().unwrap().parse().unwrap();
        assert_eq!(r.headers()["page-items"], "100");
        let items: Vec<Value> = r.json().await.unwrap();
        ids.extend(items.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        if page >= pages {
            assert_eq!(ids.len(), total);
            break;
        }
    }
    ids
}

fn distinct(ids: &[String]) -> usize {
    ids.iter().collect::<HashSet<_>>().len()
}

#[tokio::test]
async fn seeded_subscriptions_are_listed_and_read_over_the_api() {
    let sim = sim().await;
    let client = reqwest::Client::new();
    let seed = |body: Value| post_json(&client, format!("{}/__sim/seed", sim.base_url()), body);

    let r =
        seed(json!({"gateway": "cryptomus", "count": 1000, "status": "active", "amount": "15", "currency": "USDT"}))
            .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json["created"], 1000);
    let newest = r.json["last_id"].as_str().unwrap().to_owned();
    let r = seed(json!({"gateway": "cryptomus", "count": 7, "status": "pending"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ids = cryptomus_all(&client, &sim).await;
    assert_eq!(ids.len(), 1007);
    assert_eq!(distinct(&ids), 1007);
    assert_eq!(ids[7], newest, "newest first");
    let info = signed(&sim, "/v1/recurrence/info", &json!({ "uuid": newest }).to_string()).await;
    assert_eq!(info.json["result"]["status"], "active");
    assert_eq!(info.json["result"]["amount"], "15");

    let r = seed(json!({"gateway": "recurrente", "count": 1234})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let newest = r.json["last_id"].as_str().unwrap().to_owned();
    // Pending ones (a bank transfer not settled) are not listed, as by Recurrente.
    let r = seed(json!({"gateway": "recurrente", "count": 5, "status": "pending"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r =
        seed(json!({"gateway": "recurrente", "count": 3, "status": "paused", "amount": 12.5, "currency": "USD"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let paused = r.json["first_id"].as_str().unwrap().to_owned();
    let ids = recurrente_all(&client, &sim).await;
    assert_eq!(ids.len(), 1237);
    assert_eq!(distinct(&ids), 1237);
    assert_eq!(ids[3], newest);
    let sub = common::recurrente::get(&sim, &format!("/api/subscriptions/{paused}")).await;
    assert_eq!(sub.status, 200, "{}", sub.text);
    assert_eq!(sub.json["status"], "paused");
    let checkout = sub.json["checkout"]["id"].as_str().unwrap().to_owned();
    let co = common::recurrente::get(&sim, &format!("/api/checkouts/{checkout}")).await;
    assert_eq!(co.status, 200, "{}", co.text);

    // The counts, and the seeding sent no webhook.
    let stats: Value = client
        .get(format!("{}/__sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["subscriptions"], json!({"cryptomus": 1007, "recurrente": 1242}));
    assert_eq!(stats["webhooks_queued"], 0);
    assert!(sim.deliveries().is_empty());

    // Renewals of seeded subscriptions fall due like any others.
    let advanced = sim.advance(chrono::Duration::days(31)).unwrap();
    assert_eq!(advanced.transitions.len(), 1000 + 1234);

    // Bad requests.
    for body in [
        json!({"gateway": "fake", "count": 1}),
        json!({"gateway": "cryptomus"}),
        json!({"gateway": "cryptomus", "count": 1, "status": "gone"}),
        json!({"gateway": "cryptomus", "count": 1, "currency": "XYZ"}),
        json!({"gateway": "recurrente", "count": 1, "currency": "EUR"}),
        json!({"gateway": "recurrente", "count": 1, "amount": "0.001"}),
        json!({"gateway": "recurrente", "count": 2_000_000}),
    ] {
        let r = seed(body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert_eq!(r.json["error"], "invalid_request", "{body}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn seeding_in_process() {
    let sim = sim().await;
    let seeded = sim
        .seed(&Seed::new(GatewayId::RECURRENTE, 300).state(SeedState::Cancelled))
        .unwrap();
    assert_eq!(seeded.created, 300);
    let last = seeded.last_id.unwrap();
    assert_eq!(sim.recurrente_subscription(&last).unwrap()["status"], "cancelled");
    let seeded = sim
        .seed(&Seed::new(GatewayId::CRYPTOMUS, 20).state(SeedState::PastDue))
        .unwrap();
    let first = seeded.first_id.unwrap();
    assert_eq!(sim.cryptomus_recurrence(&first).unwrap()["status"], "active");
    assert!(sim.seed(&Seed::new(GatewayId::FAKE, 1)).is_err());
    let stats = sim.stats();
    assert_eq!(
        (stats.subscriptions.cryptomus, stats.subscriptions.recurrente),
        (20, 300)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_creates_of_each_provider_all_succeed_with_unique_ids() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let base = sim.base_url().to_owned();

    let cryptomus = (0..200).map(|i| {
        let client = client.clone();
        let base = base.clone();
        let merchant = sim.cryptomus_merchant_id().to_owned();
        let key = sim.cryptomus_payment_key().to_owned();
        tokio::spawn(async move {
            let body = json!({"amount": "15", "currency": "USDT", "name": format!("Plan {i}"),
                              "period": "monthly", "order_id": format!("order-{i}")})
            .to_string();
            let r = send(
                client
                    .post(format!("{base}/v1/recurrence/create"))
                    .header("merchant", merchant)
                    .header("sign", request_sign(body.as_bytes(), &key))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json["result"]["uuid"].as_str().unwrap().to_owned()
        })
    });
    let recurrente = (0..200).map(|i| {
        let client = client.clone();
        let base = base.clone();
        let sk = sim.recurrente_secret_key().to_owned();
        tokio::spawn(async move {
            let item = json!({"name": format!("Plan {i}"), "currency": "GTQ", "amount_in_cents": 5000,
                              "charge_type": "recurring", "billing_interval": "month"});
            let r = send(
                client
                    .post(format!("{base}/api/checkouts"))
                    .header("X-SECRET-KEY", sk)
                    .json(&json!({ "items": [item] })),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
            let checkout = r.json["id"].as_str().unwrap().to_owned();
            let r = send(
                client
                    .post(format!("{base}/__sim/recurrente/checkouts/{checkout}/pay"))
                    .json(&json!({"outcome": "card_success"})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            (checkout, r.json["subscription"]["id"].as_str().unwrap().to_owned())
        })
    });
    let (c, r) = futures::future::join(
        futures::future::join_all(cryptomus),
        futures::future::join_all(recurrente),
    )
    .await;
    let uuids: Vec<String> = c.into_iter().map(|h| h.unwrap()).collect();
    let (checkouts, subs): (Vec<String>, Vec<String>) = r.into_iter().map(|h| h.unwrap()).unzip();
    assert_eq!(distinct(&uuids), 200);
    assert_eq!(distinct(&checkouts), 200);
    assert_eq!(distinct(&subs), 200);
    let stats = sim.stats();
    assert_eq!(
        (stats.subscriptions.cryptomus, stats.subscriptions.recurrente),
        (200, 200)
    );
    // And every one is listed once.
    let listed = cryptomus_all(&client, &sim).await;
    assert_eq!(
        listed.iter().collect::<HashSet<_>>(),
        uuids.iter().collect::<HashSet<_>>()
    );
    let listed = recurrente_all(&client, &sim).await;
    assert_eq!(
        listed.iter().collect::<HashSet<_>>(),
        subs.iter().collect::<HashSet<_>>()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn stats_count_accepted_connections() {
    let sim = sim().await;
    let client = reqwest::Client::new();
    for _ in 0..50 {
        let r = client
            .get(format!("{}/__sim/clock", sim.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    let stats: Value = client
        .get(format!("{}/__sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = stats["connections_accepted"].as_u64().unwrap();
    assert!((1..=4).contains(&n), "one client reusing its connection: {n}");
    // A new client is a new connection.
    reqwest::Client::new()
        .get(format!("{}/__sim/clock", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(sim.stats().connections_accepted > n);
    assert_eq!(stats["subscriptions"], json!({"cryptomus": 0, "recurrente": 0}));
    sim.shutdown().await;
}
