//! The ledger's throughput and latency, on SQLite (a file, WAL, synchronous=FULL) and on
//! PostgreSQL (when `PAYCYCLE_TEST_POSTGRES_URL` is set):
//!
//! - `apply/{backend}/{workers}w`: N fresh webhooks received (verified, stored durably) and
//!   applied (subscription, payment, outbox, in one transaction each) by 1 or 4 workers; the
//!   throughput is webhooks per second, end to end.
//! - `receive_http/{backend}`: first the p50 / p99 of 2 000 distinct webhooks POSTed one at a
//!   time to the axum route, each answered once committed (printed); then criterion's timing of
//!   the same route, which runs out of fresh webhooks and measures redeliveries (verified, found,
//!   answered 200) after the first 4 000.
//!
//! ```sh
//! PAYCYCLE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p paycycle-ledger --all-features --bench ledger
//! ```
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use paycycle_core::{CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan};
use paycycle_ledger::Ledger;
use paycycle_sim::fake::{FakeGateway, FakeWebhook, Mimic};
use support::{FakeClock, Place};

const N: usize = 400;

/// `n` fresh signed webhooks (a started + a payment per subscription) from a new fake.
fn webhooks(n: usize, rt: &tokio::runtime::Runtime) -> (Arc<FakeGateway>, Vec<FakeWebhook>) {
    let fake = Arc::new(FakeGateway::new(Mimic::All));
    let plan = RecurringPlan::builder("Pro", Money::parse("15", Currency::USD).unwrap(), Interval::monthly())
        .build()
        .unwrap();
    rt.block_on(async {
        let mut i = 0;
        while fake.webhooks().len() < n {
            let c = fake
                .create_checkout(&CheckoutRequest::new(plan.clone()).merchant_reference(format!("bench-{i}")))
                .await
                .unwrap();
            fake.pay(&c.id).unwrap();
            i += 1;
        }
    });
    let mut all = fake.webhooks();
    all.truncate(n);
    (fake, all)
}

fn places(test: &str) -> Vec<(&'static str, Place)> {
    let mut out = vec![("sqlite", Place::sqlite_file(test))];
    if let Ok(url) = std::env::var(support::PG_ENV) {
        if !url.is_empty() {
            out.push((
                "postgres",
                Place {
                    url,
                    schema: Some(support::unique_schema(test)),
                },
            ));
        }
    } else {
        eprintln!("postgres benches skipped: {} is not set", support::PG_ENV);
    }
    out
}

async fn fresh_ledger(place: &Place, fake: &Arc<FakeGateway>) -> Ledger {
    let place = match &place.schema {
        Some(_) => Place {
            url: place.url.clone(),
            schema: Some(support::unique_schema("bench")),
        },
        None => Place::sqlite_file("bench"),
    };
    place
        .builder()
        .gateway("fake", fake.clone())
        .clock(Arc::new(FakeClock(fake.clone())))
        .poll_interval(Duration::from_millis(5))
        .connect()
        .await
        .unwrap()
}

fn apply(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("apply");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    for (backend, place) in places("apply") {
        for workers in [1usize, 4] {
            g.bench_function(BenchmarkId::new(backend, format!("{workers}w")), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (fake, hooks) = webhooks(N, &rt);
                        total += rt.block_on(async {
                            let ledger = fresh_ledger(&place, &fake).await;
                            let start = Instant::now();
                            let running = ledger.spawn_workers(workers);
                            for w in &hooks {
                                ledger.receive("fake", &w.headers, &w.body).await.unwrap();
                            }
                            assert!(ledger.wait_until_applied(Duration::from_secs(120)).await.unwrap());
                            let took = start.elapsed();
                            running.shutdown().await;
                            assert_eq!(ledger.inbox_counts().await.unwrap().1 as usize, N);
                            ledger.close().await;
                            took
                        });
                    }
                    total
                });
            });
        }
    }
    g.finish();
}

fn receive_http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("receive_http");
    for (backend, place) in places("receive") {
        let (fake, hooks) = webhooks(6000, &rt);
        let (base, ledger) = rt.block_on(async {
            let ledger = fresh_ledger(&place, &fake).await;
            let app: axum::Router = paycycle_ledger::router(ledger.clone());
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            let addr = listener.local_addr().unwrap();
            rt.spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            (format!("http://{addr}/webhooks/fake"), ledger)
        });
        let client = reqwest::Client::new();
        let post = |w: &FakeWebhook| {
            let mut req = client.post(&base).body(w.body.clone());
            for (k, v) in &w.headers {
                req = req.header(k.as_str(), v.as_bytes());
            }
            async move {
                let r = req.send().await.unwrap();
                assert_eq!(r.status(), 200);
            }
        };
        // Percentiles over 2 000 distinct webhooks, one at a time.
        let mut latencies: Vec<Duration> = rt.block_on(async {
            let mut out = Vec::with_capacity(2000);
            for w in &hooks[..2000] {
                let t = Instant::now();
                post(w).await;
                out.push(t.elapsed());
            }
            out
        });
        latencies.sort_unstable();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        eprintln!(
            "receive_http/{backend}: p50 {:?}, p99 {:?}, max {:?} over {} requests",
            pct(0.50),
            pct(0.99),
            latencies[latencies.len() - 1],
            latencies.len()
        );
        let mut next = 2000;
        g.bench_function(backend, |b| {
            b.to_async(&rt).iter(|| {
                // Fresh webhooks while they last, then redeliveries (answered 200, nothing stored).
                let w = &hooks[next.min(hooks.len() - 1)];
                next += 1;
                post(w)
            });
        });
        rt.block_on(ledger.close());
    }
    g.finish();
}

criterion_group!(benches, apply, receive_http);
criterion_main!(benches);
