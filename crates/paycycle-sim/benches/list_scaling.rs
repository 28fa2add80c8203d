//! How the simulator scales with the number of subscriptions: listing every one through raw
//! HTTP pages (Cryptomus: 15 a page, following the cursors; Recurrente: `items=100`), and one
//! create, with 1 000, 10 000 and 100 000 subscriptions seeded in-process. Linear listing means
//! the 100k/10k ratio is about 10; creating should not grow with the count.
//!
//! `cargo bench -p paycycle-sim --bench list_scaling`. Also prints, per size, how long seeding
//! took and the process' resident memory (`VmRSS`, and the peak `VmHWM` at the end).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use paycycle_core::GatewayId;
use paycycle_cryptomus::sign::request_sign;
use paycycle_sim::{Seed, SeedState, SimConfig, Simulator};
use serde_json::{Value, json};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// A field of `/proc/self/status`, in kB (0 where there is none).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn cryptomus_list_all(client: &reqwest::Client, sim: &Simulator) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{}/v1/recurrence/list?cursor={c}", sim.base_url()),
            None => format!("{}/v1/recurrence/list", sim.base_url()),
        };
        let body = "{}";
        let v: Value = client
            .post(url)
            .header("merchant", sim.cryptomus_merchant_id())
            .header("sign", request_sign(body.as_bytes(), sim.cryptomus_payment_key()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        count += v["result"]["items"].as_array().map_or(0, Vec::len);
        match v["result"]["paginate"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return count,
        }
    }
}

async fn recurrente_list_all(client: &reqwest::Client, sim: &Simulator) -> usize {
    let mut count = 0;
    for page in 1.. {
        let r = client
            .get(format!("{}/api/subscriptions?page={page}&items=100", sim.base_url()))
            .header("X-SECRET-KEY", sim.recurrente_secret_key())
            .send()
            .await
            .unwrap();
        let pages: usize = r.headers()["total-pages"].to_str().unwrap().parse().unwrap();
        let items: Vec<Value> = r.json().await.unwrap();
        count += items.len();
        if page >= pages {
            break;
        }
    }
    count
}

async fn cryptomus_create(client: &reqwest::Client, sim: &Simulator) {
    let body = json!({"amount": "15", "currency": "USDT", "name": "Bench plan", "period": "monthly"}).to_string();
    let r = client
        .post(format!("{}/v1/recurrence/create", sim.base_url()))
        .header("merchant", sim.cryptomus_merchant_id())
        .header("sign", request_sign(body.as_bytes(), sim.cryptomus_payment_key()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
}

/// A checkout, paid by card: the subscription exists after it.
async fn recurrente_create(client: &reqwest::Client, sim: &Simulator) {
    let item = json!({"name": "Bench plan", "currency": "GTQ", "amount_in_cents": 5000,
                      "charge_type": "recurring", "billing_interval": "month"});
    let created: Value = client
        .post(format!("{}/api/checkouts", sim.base_url()))
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .json(&json!({ "items": [item] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let r = client
        .post(format!("{}/__sim/recurrente/checkouts/{id}/pay", sim.base_url()))
        .json(&json!({"outcome": "card_success"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
}

fn list_scaling(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("sim");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for gateway in [GatewayId::CRYPTOMUS, GatewayId::RECURRENTE] {
        let name = gateway.as_str().to_owned();
        for n in SIZES {
            let before_kb = status_kb("VmRSS:");
            let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
            let client = reqwest::Client::new();
            let t = Instant::now();
            let seeded = sim
                .seed(&Seed::new(gateway.clone(), n).state(SeedState::Active))
                .unwrap();
            let seed_time = t.elapsed();
            assert_eq!(seeded.created, n);
            let seeded_kb = status_kb("VmRSS:");
            let listed = match name.as_str() {
                "cryptomus" => rt.block_on(cryptomus_list_all(&client, &sim)),
                _ => rt.block_on(recurrente_list_all(&client, &sim)),
            };
            assert_eq!(listed, n);
            eprintln!(
                "{name} {n}: seeded in {seed_time:?}; RSS {before_kb} kB before, {seeded_kb} kB seeded (+{} kB), {} kB after one full listing",
                seeded_kb.saturating_sub(before_kb),
                status_kb("VmRSS:"),
            );
            group.bench_with_input(BenchmarkId::new(format!("list_all/{name}"), n), &n, |b, _| {
                b.iter(|| match name.as_str() {
                    "cryptomus" => rt.block_on(cryptomus_list_all(&client, &sim)),
                    _ => rt.block_on(recurrente_list_all(&client, &sim)),
                });
            });
            group.bench_with_input(BenchmarkId::new(format!("create/{name}"), n), &n, |b, _| {
                b.iter(|| match name.as_str() {
                    "cryptomus" => rt.block_on(cryptomus_create(&client, &sim)),
                    _ => rt.block_on(recurrente_create(&client, &sim)),
                });
            });
            rt.block_on(sim.shutdown());
        }
    }
    group.finish();
    eprintln!("peak RSS (VmHWM): {} kB", status_kb("VmHWM:"));
}

criterion_group!(benches, list_scaling);
criterion_main!(benches);
