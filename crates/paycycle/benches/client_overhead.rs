//! Client overhead: each typed client call beside a hand-written `reqwest` call doing the same
//! request, against the in-process simulator (loopback, HTTP/1.1), one reused client each.
//!
//! - Cryptomus: [`CryptomusClient::recurrence`] (`POST /v1/recurrence/info` by uuid) vs a
//!   `reqwest::Client` POST of the same JSON body with `merchant` and `sign =
//!   md5(base64(body) + payment_key)` computed by hand, read into the same typed
//!   [`Recurrence`] (the `result` of the answer);
//! - Recurrente: [`RecurrenteClient::get_checkout`] and [`RecurrenteClient::get_subscription`]
//!   vs a `reqwest::Client` GET with `X-PUBLIC-KEY` / `X-SECRET-KEY`, read into the same typed
//!   [`Checkout`] / [`Subscription`].
//!
//! The hand-written clients are built once like the typed ones: redirects off, a 30 s timeout.
//! `hand_reqwest_with_raw` is the Cryptomus call read as the typed client reads it (the answer
//! as a `Value`, `result` into a [`Recurrence`] keeping its JSON in `raw`): the same output.
//!
//! Printed before criterion's groups:
//! - connections the simulator accepted for 1,000 calls eight at a time through each client,
//!   and for tests/load.rs's two phases through fresh gateways (connection reuse);
//! - `paired`: rounds of 200 calls of each variant in turn, the median round and the ratio.
//!   With another build on the machine, criterion's groups (measured one after the other) can
//!   drift apart by more than the overhead measured; the paired ratios do not.
//!
//! ```sh
//! cargo bench -p paycycle --features sim --bench client_overhead
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;
use md5::{Digest, Md5};
use paycycle::cryptomus::CryptomusGateway;
use paycycle::cryptomus::{CreateRecurrence, CryptomusClient, CryptomusConfig, Period, Recurrence, RecurrenceRef};
use paycycle::recurrente::wire::{Checkout, Subscription};
use paycycle::recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway};
use paycycle::sim::{RecurrenteOutcome, SimConfig, Simulator};
use paycycle::{CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan, SubscriptionId};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::runtime::Runtime;

const TIMEOUT: Duration = Duration::from_secs(30);

fn hand_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .unwrap()
}

/// What the hand-written Cryptomus call reads: the answer's `result`.
#[derive(serde::Deserialize)]
struct CryptomusAnswer {
    result: Recurrence,
}

struct HandCryptomus {
    http: reqwest::Client,
    url: String,
    merchant: String,
    key: String,
}

impl HandCryptomus {
    async fn info(&self, uuid: &str) -> Recurrence {
        let body = format!(r#"{{"uuid":"{uuid}"}}"#);
        let mut h = Md5::new();
        h.update(STANDARD.encode(body.as_bytes()));
        h.update(self.key.as_bytes());
        let sign = format!("{:x}", h.finalize());
        let answer: CryptomusAnswer = self
            .http
            .post(&self.url)
            .header("merchant", &self.merchant)
            .header("sign", sign)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        answer.result
    }

    /// The same call read as the typed client reads it: the answer as a `Value`, `result`
    /// read into a [`Recurrence`] which keeps its JSON in `raw`.
    async fn info_with_raw(&self, uuid: &str) -> Recurrence {
        let body = format!(r#"{{"uuid":"{uuid}"}}"#);
        let mut h = Md5::new();
        h.update(STANDARD.encode(body.as_bytes()));
        h.update(self.key.as_bytes());
        let sign = format!("{:x}", h.finalize());
        let mut answer: serde_json::Value = self
            .http
            .post(&self.url)
            .header("merchant", &self.merchant)
            .header("sign", sign)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let result = answer["result"].take();
        let mut rec: Recurrence = serde::Deserialize::deserialize(&result).unwrap();
        rec.raw = result;
        rec
    }
}

struct HandRecurrente {
    http: reqwest::Client,
    base: String,
    public_key: String,
    secret_key: String,
}

impl HandRecurrente {
    async fn get<T: serde::de::DeserializeOwned>(&self, what: &str, id: &str) -> T {
        self.http
            .get(format!("{}/api/{what}/{id}", self.base))
            .header("X-PUBLIC-KEY", &self.public_key)
            .header("X-SECRET-KEY", &self.secret_key)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Waits until the simulator has accepted no connection for 300 ms; prints how many it
/// accepted meanwhile: connects that hyper started for requests of a burst (each request that
/// finds no idle connection starts one, and finishes it in the background for the pool even
/// when another connection served the request) and that the simulator accepted after the burst.
fn settle(rt: &Runtime, sim: &Simulator, name: &str) {
    let start = sim.stats().connections_accepted;
    let mut last = start;
    loop {
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
        let now = sim.stats().connections_accepted;
        if now == last {
            break;
        }
        last = now;
    }
    eprintln!(
        "{name}: {} more connections accepted after the burst ended",
        last - start
    );
}

/// Connections the simulator accepted while `calls` calls of `call` ran eight at a time.
fn reuse<F, Fut>(rt: &Runtime, sim: &Simulator, name: &str, calls: usize, call: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let before = sim.stats().connections_accepted;
    rt.block_on(futures::stream::iter(0..calls).for_each_concurrent(8, |_| call()));
    let opened = sim.stats().connections_accepted - before;
    eprintln!("{name}: {opened} connections opened for {calls} calls, 8 at a time");
}

type Call<'a> = &'a dyn Fn() -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Rounds of `CALLS` sequential calls of each variant in turn; prints each variant's median
/// time per call over the rounds, and the first variant's median over it.
fn paired(rt: &Runtime, group: &str, variants: &[(&str, Call<'_>)]) {
    const ROUNDS: usize = 60;
    const CALLS: u32 = 200;
    let mut times = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for round in 0..=ROUNDS {
        for (i, (_, call)) in variants.iter().enumerate() {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..CALLS {
                    call().await;
                }
            });
            if round > 0 {
                // (Round 0 warms up.)
                times[i].push(start.elapsed() / CALLS);
            }
        }
    }
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    for ((name, _), median) in variants.iter().zip(&medians) {
        eprintln!(
            "paired {group}/{name}: median {:.2} µs per call; {} / {name} = {:.3}",
            median.as_secs_f64() * 1e6,
            variants[0].0,
            medians[0].as_secs_f64() / median.as_secs_f64(),
        );
    }
}

fn client_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    let base = sim.base_url().trim_end_matches('/').to_owned();

    // Cryptomus: one recurrence.
    let cryptomus = CryptomusClient::new(
        CryptomusConfig::builder()
            .merchant_id(sim.cryptomus_merchant_id())
            .payment_key(sim.cryptomus_payment_key().to_owned())
            .base_url(&base)
            .build()
            .unwrap(),
    )
    .unwrap();
    let price = Money::parse("15", Currency::USD).unwrap();
    let rec = rt
        .block_on(
            cryptomus
                .create_recurrence(&CreateRecurrence::new(price, "Bench plan", Period::Monthly).order_id("bench-1")),
        )
        .unwrap();
    sim.cryptomus_accept(&rec.uuid).unwrap();
    let uuid = rec.uuid.clone();
    let hand_c = HandCryptomus {
        http: hand_client(),
        url: format!("{base}/v1/recurrence/info"),
        merchant: sim.cryptomus_merchant_id().to_owned(),
        key: sim.cryptomus_payment_key().to_owned(),
    };
    // The same body bytes as the typed client sends.
    assert_eq!(
        serde_json::to_string(&RecurrenceRef::uuid(&uuid)).unwrap(),
        format!(r#"{{"uuid":"{uuid}"}}"#)
    );
    let typed = rt.block_on(cryptomus.recurrence(RecurrenceRef::uuid(&uuid))).unwrap();
    let by_hand = rt.block_on(hand_c.info(&uuid));
    assert_eq!(
        (&typed.uuid, &typed.status, typed.amount),
        (&by_hand.uuid, &by_hand.status, by_hand.amount)
    );

    // Recurrente: one paid checkout and its subscription.
    let config = RecurrenteConfig::builder()
        .public_key(sim.recurrente_public_key())
        .secret_key(sim.recurrente_secret_key())
        .base_url(&base)
        .build()
        .unwrap();
    let recurrente = RecurrenteClient::new(&config).unwrap();
    let gateway = RecurrenteGateway::new(&config).unwrap();
    let plan = RecurringPlan::builder(
        "Bench plan",
        Money::parse("150", Currency::GTQ).unwrap(),
        Interval::monthly(),
    )
    .build()
    .unwrap();
    let checkout = rt
        .block_on(gateway.create_checkout(&CheckoutRequest::new(plan).merchant_reference("bench-1")))
        .unwrap();
    sim.recurrente_pay(checkout.id.as_str(), RecurrenteOutcome::CardSuccess)
        .unwrap();
    let checkout_id = checkout.id.as_str().to_owned();
    let subscription_id = rt
        .block_on(gateway.checkout(&checkout.id))
        .unwrap()
        .subscription_id
        .expect("a paid checkout has a subscription")
        .as_str()
        .to_owned();
    let hand_r = HandRecurrente {
        http: hand_client(),
        base: base.clone(),
        public_key: sim.recurrente_public_key().to_owned(),
        secret_key: sim.recurrente_secret_key().to_owned(),
    };
    let typed = rt.block_on(recurrente.get_checkout(&checkout_id)).unwrap();
    let by_hand: Checkout = rt.block_on(hand_r.get("checkouts", &checkout_id));
    assert_eq!(typed, by_hand);
    let typed = rt.block_on(recurrente.get_subscription(&subscription_id)).unwrap();
    let by_hand: Subscription = rt.block_on(hand_r.get("subscriptions", &subscription_id));
    assert_eq!(typed, by_hand);

    reuse(&rt, &sim, "cryptomus typed", 1000, || async {
        cryptomus.recurrence(RecurrenceRef::uuid(&uuid)).await.unwrap();
    });
    reuse(&rt, &sim, "cryptomus hand-written", 1000, || async {
        hand_c.info(&uuid).await;
    });
    // As tests/load.rs: 1,000 calls at once through one client, then 1,000 eight at a time.
    let before = sim.stats().connections_accepted;
    let burst = (0..1000).map(|_| {
        let client = cryptomus.clone();
        let uuid = uuid.clone();
        rt.spawn(async move { client.recurrence(RecurrenceRef::uuid(uuid)).await.map(drop) })
    });
    let results = rt.block_on(futures::future::join_all(burst.collect::<Vec<_>>()));
    let failed = results.iter().filter(|r| !matches!(r, Ok(Ok(())))).count();
    eprintln!(
        "cryptomus typed: {} connections opened for 1000 calls at once ({failed} failed)",
        sim.stats().connections_accepted - before
    );
    settle(&rt, &sim, "cryptomus typed");
    reuse(&rt, &sim, "cryptomus typed, after the burst", 1000, || async {
        cryptomus.recurrence(RecurrenceRef::uuid(&uuid)).await.unwrap();
    });
    // The same through a hand-written reqwest client.
    let hand_burst = Arc::new(HandCryptomus {
        http: hand_client(),
        url: hand_c.url.clone(),
        merchant: hand_c.merchant.clone(),
        key: hand_c.key.clone(),
    });
    let before = sim.stats().connections_accepted;
    let burst = (0..1000).map(|_| {
        let client = hand_burst.clone();
        let uuid = uuid.clone();
        rt.spawn(async move { client.info(&uuid).await })
    });
    rt.block_on(futures::future::join_all(burst.collect::<Vec<_>>()));
    eprintln!(
        "cryptomus hand-written: {} connections opened for 1000 calls at once",
        sim.stats().connections_accepted - before
    );
    settle(&rt, &sim, "cryptomus hand-written");
    reuse(&rt, &sim, "cryptomus hand-written, after the burst", 1000, || async {
        hand_burst.info(&uuid).await;
    });
    reuse(&rt, &sim, "recurrente typed", 1000, || async {
        recurrente.get_subscription(&subscription_id).await.unwrap();
    });
    reuse(&rt, &sim, "recurrente hand-written", 1000, || async {
        let _: Subscription = hand_r.get("subscriptions", &subscription_id).await;
    });

    // tests/load.rs's two phases through fresh gateways: `subscription()` 1,000 times at once,
    // then 1,000 times eight at a time.
    let cryptomus_gateway: Arc<dyn RecurringGateway> = Arc::new(
        CryptomusGateway::new(
            CryptomusConfig::builder()
                .merchant_id(sim.cryptomus_merchant_id())
                .payment_key(sim.cryptomus_payment_key().to_owned())
                .base_url(&base)
                .build()
                .unwrap(),
        )
        .unwrap(),
    );
    let recurrente_gateway: Arc<dyn RecurringGateway> = Arc::new(RecurrenteGateway::new(&config).unwrap());
    for (name, gateway, id) in [
        ("cryptomus gateway", cryptomus_gateway, SubscriptionId::new(&uuid)),
        (
            "recurrente gateway",
            recurrente_gateway,
            SubscriptionId::new(&subscription_id),
        ),
    ] {
        let before = sim.stats().connections_accepted;
        let burst: Vec<_> = (0..1000)
            .map(|_| {
                let gateway = gateway.clone();
                let id = id.clone();
                rt.spawn(async move { gateway.subscription(&id).await.map(drop) })
            })
            .collect();
        let results = rt.block_on(futures::future::join_all(burst));
        let failed = results.iter().filter(|r| !matches!(r, Ok(Ok(())))).count();
        eprintln!(
            "{name}: {} connections opened for 1000 subscription() at once ({failed} failed)",
            sim.stats().connections_accepted - before
        );
        settle(&rt, &sim, name);
        reuse(&rt, &sim, &format!("{name}, then"), 1000, || async {
            gateway.subscription(&id).await.unwrap();
        });
    }

    // Interleaved: rounds of 200 calls of each variant in turn, so that both see the same
    // machine (a build next door moves criterion's sequential groups apart); the median round.
    paired(
        &rt,
        "cryptomus_info",
        &[
            ("paycycle", &|| {
                Box::pin(async {
                    cryptomus.recurrence(RecurrenceRef::uuid(&uuid)).await.unwrap();
                })
            }),
            ("hand_reqwest", &|| {
                Box::pin(async {
                    hand_c.info(&uuid).await;
                })
            }),
            ("hand_reqwest_with_raw", &|| {
                Box::pin(async {
                    hand_c.info_with_raw(&uuid).await;
                })
            }),
        ],
    );
    paired(
        &rt,
        "recurrente_get/checkout",
        &[
            ("paycycle", &|| {
                Box::pin(async {
                    recurrente.get_checkout(&checkout_id).await.unwrap();
                })
            }),
            ("hand_reqwest", &|| {
                Box::pin(async {
                    let _: Checkout = hand_r.get("checkouts", &checkout_id).await;
                })
            }),
        ],
    );
    paired(
        &rt,
        "recurrente_get/subscription",
        &[
            ("paycycle", &|| {
                Box::pin(async {
                    recurrente.get_subscription(&subscription_id).await.unwrap();
                })
            }),
            ("hand_reqwest", &|| {
                Box::pin(async {
                    let _: Subscription = hand_r.get("subscriptions", &subscription_id).await;
                })
            }),
        ],
    );

    let mut g = c.benchmark_group("cryptomus_info");
    g.measurement_time(Duration::from_secs(5)).sample_size(50);
    g.bench_function("paycycle", |b| {
        b.iter(|| rt.block_on(cryptomus.recurrence(RecurrenceRef::uuid(&uuid))).unwrap())
    });
    g.bench_function("hand_reqwest", |b| b.iter(|| rt.block_on(hand_c.info(&uuid))));
    g.bench_function("hand_reqwest_with_raw", |b| {
        b.iter(|| rt.block_on(hand_c.info_with_raw(&uuid)))
    });
    g.finish();

    let mut g = c.benchmark_group("recurrente_get");
    g.measurement_time(Duration::from_secs(5)).sample_size(50);
    g.bench_function("paycycle/checkout", |b| {
        b.iter(|| rt.block_on(recurrente.get_checkout(&checkout_id)).unwrap())
    });
    g.bench_function("hand_reqwest/checkout", |b| {
        b.iter(|| rt.block_on(hand_r.get::<Checkout>("checkouts", &checkout_id)))
    });
    g.bench_function("paycycle/subscription", |b| {
        b.iter(|| rt.block_on(recurrente.get_subscription(&subscription_id)).unwrap())
    });
    g.bench_function("hand_reqwest/subscription", |b| {
        b.iter(|| rt.block_on(hand_r.get::<Subscription>("subscriptions", &subscription_id)))
    });
    g.finish();
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, client_overhead);
criterion_main!(benches);
