//! The ledger against the simulator of both providers, over real HTTP on loopback: the chaos
//! test (PostgreSQL), missed webhooks repaired by reconcile, and late events after a cancel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use paycycle_core::chrono;
use paycycle_core::url::Url;
use paycycle_core::{
    CheckoutRequest, Currency, EventId, GatewayId, Interval, Money, PaymentId, RecurringGateway, RecurringGatewayExt,
    RecurringPlan, SubscriptionId, SubscriptionStatus,
};
use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
use paycycle_ledger::{BeforeCommit, ChangeKind, Ledger, LedgerBuilder};
use paycycle_recurrente::wire::CreateWebhookEndpoint;
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway};
use paycycle_sim::{DeliveryMode, DeliveryPolicy, RecurrenteOutcome, SimConfig, Simulator};
use secrecy::ExposeSecret;
use support::{Db, Place};

on_both!(
    missed_webhooks_are_repaired_by_reconcile,
    late_events_never_reopen_a_cancelled_subscription
);

/// One app instance: a ledger, its webhook routes on a loopback port, and its gateways.
struct App {
    ledger: Ledger,
    base: Url,
    cryptomus: Arc<dyn RecurringGateway>,
    recurrente: Arc<dyn RecurringGateway>,
}

fn cryptomus_gateway(sim: &Simulator) -> Arc<dyn RecurringGateway> {
    let config = CryptomusConfig::builder()
        .merchant_id(sim.cryptomus_merchant_id())
        .payment_key(sim.cryptomus_payment_key().to_owned())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    Arc::new(CryptomusGateway::new(config).unwrap())
}

fn recurrente_keys(sim: &Simulator) -> paycycle_recurrente::RecurrenteConfigBuilder {
    RecurrenteConfig::builder()
        .public_key(sim.recurrente_public_key())
        .secret_key(sim.recurrente_secret_key())
        .base_url(sim.base_url())
}

async fn serve(ledger: Ledger) -> Url {
    let app: axum::Router = paycycle_ledger::router(ledger);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Url::parse(&format!("http://{addr}/webhooks/")).unwrap()
}

/// Starts an instance on `builder`: serves its routes, registers its own Recurrente webhook
/// endpoint (with its own signing secret), as a deployed app does once.
async fn app(sim: &Simulator, builder: LedgerBuilder) -> App {
    let cryptomus = cryptomus_gateway(sim);
    let ledger = builder.gateway("cryptomus", cryptomus.clone()).connect().await.unwrap();
    let base = serve(ledger.clone()).await;
    let client = RecurrenteClient::new(&recurrente_keys(sim).build().unwrap()).unwrap();
    let endpoint = client
        .create_webhook_endpoint(&CreateWebhookEndpoint::new(base.join("recurrente").unwrap()))
        .await
        .unwrap();
    let secret = endpoint.signing_secret.unwrap();
    let config = recurrente_keys(sim)
        .webhook_secret(secret.expose_secret())
        .build()
        .unwrap();
    let recurrente: Arc<dyn RecurringGateway> = Arc::new(RecurrenteGateway::new(&config).unwrap());
    ledger.add_gateway("recurrente", recurrente.clone());
    App {
        ledger,
        base,
        cryptomus,
        recurrente,
    }
}

async fn start_sim() -> Simulator {
    let start = "2026-01-01T09:00:00Z".parse().unwrap();
    Simulator::start(
        SimConfig::default()
            .start(start)
            .delivery(DeliveryPolicy::default().initial_backoff(Duration::from_millis(20))),
    )
    .await
    .unwrap()
}

fn plan(currency: Currency, amount: &str) -> RecurringPlan {
    RecurringPlan::builder("Pro", Money::parse(amount, currency).unwrap(), Interval::monthly())
        .build()
        .unwrap()
}

/// What was sold: (gateway name, subscription id).
type Sold = Vec<(&'static str, SubscriptionId)>;

/// Sells `n` subscriptions on each gateway, pays them, and lives through `months` months in
/// which some renewals fail, some are cancelled by the merchant and some by the payer.
async fn story(sim: &Simulator, apps: &[&App], n: usize, months: u32) -> Sold {
    let mut sold = Vec::new();
    for i in 0..n {
        let app = apps[i % apps.len()];
        let request = CheckoutRequest::new(plan(Currency::USDT, "10"))
            .merchant_reference(format!("crypto-{i}"))
            .callback_url(app.base.join("cryptomus").unwrap());
        let checkout = app.cryptomus.create_checkout(&request).await.unwrap();
        sim.cryptomus_accept(checkout.id.as_str()).unwrap();
        sold.push(("cryptomus", SubscriptionId::new(checkout.id.as_str())));

        let request = CheckoutRequest::new(plan(Currency::GTQ, "15")).merchant_reference(format!("cards-{i}"));
        let checkout = app.recurrente.create_checkout(&request).await.unwrap();
        sim.recurrente_pay(checkout.id.as_str(), RecurrenteOutcome::CardSuccess)
            .unwrap();
        let sub = app
            .recurrente
            .checkout(&checkout.id)
            .await
            .unwrap()
            .subscription_id
            .unwrap();
        sold.push(("recurrente", sub));
    }
    for month in 0..months {
        for (k, (gateway, id)) in sold.iter().enumerate() {
            match (k + month as usize) % 7 {
                3 => {
                    let _ = sim.fail_next_charges(id.as_str(), 1);
                }
                5 if month + 1 == months => {
                    let g = if *gateway == "cryptomus" {
                        &apps[0].cryptomus
                    } else {
                        &apps[0].recurrente
                    };
                    let _ = g.cancel_subscription(id).await;
                }
                6 if *gateway == "cryptomus" && month == 1 => {
                    let _ = sim.cryptomus_cancel_by_user(id.as_str());
                }
                _ => {}
            }
        }
        sim.advance(chrono::Duration::days(31)).unwrap();
    }
    sold
}

async fn settle(sim: &Simulator, ledger: &Ledger) {
    sim.flush_webhooks().await;
    for _ in 0..600 {
        let (pending, _, _) = ledger.inbox_counts().await.unwrap();
        if pending == 0 && sim.pending_webhooks() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the ledger did not drain its inbox");
}

/// The ledger's subscriptions equal the simulator's, as each gateway reports them.
async fn assert_matches_gateways(ledger: &Ledger, app: &App, sold: &Sold) {
    for (gateway, id) in sold {
        let g = if *gateway == "cryptomus" {
            &app.cryptomus
        } else {
            &app.recurrente
        };
        let remote = g.subscription(id).await.unwrap();
        let local = ledger
            .subscription(gateway, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{gateway} {id} is not in the ledger"));
        assert_eq!(local.status, remote.status, "{gateway} {id}");
        assert_eq!(local.price, remote.price, "{gateway} {id}");
        if remote.current_period_end.is_some() {
            assert_eq!(local.current_period_end, remote.current_period_end, "{gateway} {id}");
        }
        assert_eq!(local.merchant_reference, remote.merchant_reference, "{gateway} {id}");
    }
}

/// The payments the simulator announced: each first delivery verified by the instance it went
/// to, keyed as the ledger keys them.
fn announced_payments(sim: &Simulator, apps: &[&App]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for d in sim.deliveries() {
        if d.copy > 1 {
            continue;
        }
        let Some(app) = apps.iter().find(|a| d.url.starts_with(a.base.as_str())) else {
            continue;
        };
        let (name, g) = if d.gateway == GatewayId::CRYPTOMUS.as_str() {
            ("cryptomus", &app.cryptomus)
        } else {
            ("recurrente", &app.recurrente)
        };
        let mut headers = http::HeaderMap::new();
        for (k, v) in &d.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::try_from(k.as_str()),
                http::HeaderValue::try_from(v.as_str()),
            ) {
                headers.insert(k, v);
            }
        }
        let Ok(event) = g.verify_webhook(&headers, d.body.as_bytes()) else {
            continue;
        };
        if let Some(p) = &event.payment {
            let id =
                p.id.clone()
                    .unwrap_or_else(|| PaymentId::new(format!("event:{}", event.id)));
            out.insert((name.to_owned(), id.to_string()));
        }
    }
    out
}

/// Blocks the first apply transaction it sees until the test aborts the worker, and says so.
#[derive(Debug)]
struct HangOnce {
    reached: tokio::sync::Notify,
    hit: Mutex<Option<EventId>>,
}

impl BeforeCommit for HangOnce {
    fn before_commit<'a>(&'a self, _gateway: &'a str, event_id: &'a EventId) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            *self.hit.lock().unwrap() = Some(event_id.clone());
            self.reached.notify_one();
            futures::future::pending::<()>().await;
        })
    }
}

/// Two app instances (separate pools, one database), three workers each, every webhook delivered
/// ten times, concurrently and shuffled, to both; a worker of a third process dies holding a
/// transaction. The ledger must end equal to the simulator, with every payment recorded once,
/// and a consumer group split over both instances must see every change exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_on_postgres() {
    let Some(place) = Place::new(Db::Postgres, "chaos").await else {
        return;
    };
    let sim = start_sim().await;
    let builder = || {
        place
            .builder()
            .max_connections(6)
            .backoff(Duration::from_millis(20))
            .poll_interval(Duration::from_millis(50))
    };
    let a = app(&sim, builder()).await;
    let b = app(&sim, builder()).await;
    // The process whose worker dies: it claims a row, writes, and hangs before committing.
    let hang = Arc::new(HangOnce {
        reached: tokio::sync::Notify::new(),
        hit: Mutex::new(None),
    });
    let c = app(&sim, builder().before_commit(hang.clone())).await;
    sim.set_delivery_mode(
        None,
        DeliveryMode::default()
            .copies(10)
            .concurrent(true)
            .shuffle_window(8)
            .seed(2026),
    )
    .unwrap();

    let doomed = {
        let ledger = c.ledger.clone();
        tokio::spawn(async move { ledger.run_worker(futures::future::pending()).await })
    };
    let workers_a = a.ledger.spawn_workers(3);
    let workers_b = b.ledger.spawn_workers(3);
    let seen = Arc::new(Mutex::new(Vec::<i64>::new()));
    let consumer = |ledger: &Ledger| {
        let seen = seen.clone();
        ledger
            .on_change("chaos-group", move |change| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(change.seq);
                    Ok::<(), std::convert::Infallible>(())
                }
            })
            .unwrap()
    };
    let consumers = [consumer(&a.ledger), consumer(&b.ledger)];

    let sold = story(&sim, &[&a, &b], 6, 3).await;
    tokio::time::timeout(Duration::from_secs(30), hang.reached.notified())
        .await
        .expect("the doomed worker reached its transaction");
    doomed.abort();
    let _ = doomed.await;
    let hung = hang.hit.lock().unwrap().clone().unwrap();

    settle(&sim, &a.ledger).await;
    assert!(a.ledger.parked().await.unwrap().is_empty());
    assert_matches_gateways(&a.ledger, &a, &sold).await;

    // Every payment announced is recorded, once.
    let recorded: Vec<(String, String)> = a
        .ledger
        .payments(None)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.gateway, p.id.to_string()))
        .collect();
    let linked = a.ledger.payments(None).await.unwrap();
    assert!(
        linked.iter().all(|p| p.subscription_id.is_some()),
        "every payment is linked to its subscription, even one that arrived first: {:?}",
        linked
            .iter()
            .filter(|p| p.subscription_id.is_none())
            .map(|p| (&p.gateway, &p.merchant_reference, &p.status))
            .collect::<Vec<_>>()
    );
    let unique: BTreeSet<_> = recorded.iter().cloned().collect();
    assert_eq!(unique.len(), recorded.len());
    let announced = announced_payments(&sim, &[&a, &b]);
    assert!(announced.len() >= sold.len(), "{} payments", announced.len());
    assert_eq!(unique, announced);
    let payment_changes = a
        .ledger
        .changes_since(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| matches!(&c.kind, ChangeKind::PaymentRecorded { previous: None, .. }))
        .count();
    assert_eq!(payment_changes, recorded.len(), "one PaymentRecorded per payment");

    // The event the dead worker held was applied by another.
    let deliveries = sim.deliveries();
    assert!(deliveries.len() >= 10 * 2 * sold.len(), "every webhook ten times");
    let hung_row = a.ledger.inbox_counts().await.unwrap();
    assert_eq!(hung_row.0, 0, "nothing pending, {hung} included");

    eprintln!(
        "chaos: {} deliveries of {} subscriptions, {} payments, {} changes; the dead worker held {hung}",
        deliveries.len(),
        sold.len(),
        recorded.len(),
        a.ledger.changes_since(0, 100_000).await.unwrap().len()
    );

    // The consumer group saw every change exactly once.
    let all: Vec<i64> = a
        .ledger
        .changes_since(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    // Up to 30 s for the consumers to catch up (a loaded CI machine is slow; done at once here).
    for _ in 0..1200 {
        if seen.lock().unwrap().len() >= all.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for c in consumers {
        c.shutdown().await;
    }
    let mut got = seen.lock().unwrap().clone();
    got.sort_unstable();
    let counts = got.iter().fold(BTreeMap::<i64, usize>::new(), |mut m, s| {
        *m.entry(*s).or_default() += 1;
        m
    });
    assert!(counts.values().all(|n| *n == 1), "a change handled twice");
    assert_eq!(got, all, "every change handled");
    workers_a.shutdown().await;
    workers_b.shutdown().await;
    sim.shutdown().await;
}

async fn missed_webhooks_are_repaired_by_reconcile(db: Db) {
    let Some(place) = Place::new(db, "missed").await else {
        return;
    };
    let place = if db == Db::Sqlite {
        Place::sqlite_file("missed")
    } else {
        place
    };
    let sim = start_sim().await;
    let a = app(&sim, place.builder().backoff(Duration::from_millis(20))).await;
    sim.set_delivery_mode(None, DeliveryMode::default().drop_per_mille(300).seed(30))
        .unwrap();
    let workers = a.ledger.spawn_workers(2);
    let sold = story(&sim, &[&a], 8, 3).await;
    settle(&sim, &a.ledger).await;
    let dropped = sim
        .deliveries()
        .iter()
        .filter(|d| matches!(d.outcome, paycycle_sim::DeliveryOutcome::Dropped))
        .count();
    assert!(dropped > 0, "the simulator dropped some webhooks");

    let mut reports = Vec::new();
    for gateway in ["cryptomus", "recurrente"] {
        reports.push(a.ledger.reconcile(gateway).await.unwrap());
    }
    assert_eq!(reports.iter().map(|r| r.seen).sum::<usize>(), sold.len());
    let fixed: usize = reports.iter().map(|r| r.created + r.repaired).sum();
    eprintln!("missed ({db:?}): {dropped} webhooks dropped, reconcile repaired {fixed} subscriptions");
    assert!(fixed > 0, "the dropped webhooks had left something behind");
    assert_matches_gateways(&a.ledger, &a, &sold).await;
    // Nothing left to repair.
    for gateway in ["cryptomus", "recurrente"] {
        let again = a.ledger.reconcile(gateway).await.unwrap();
        assert_eq!((again.created, again.repaired), (0, 0), "{gateway}");
    }
    workers.shutdown().await;
    sim.shutdown().await;
}

async fn late_events_never_reopen_a_cancelled_subscription(db: Db) {
    let Some(place) = Place::new(db, "late_sim").await else {
        return;
    };
    let sim = start_sim().await;
    // The webhooks go to a receiver that only answers 200; the test hands them to the ledger
    // itself, in the worst order.
    let sink = {
        let app = axum::Router::new().route("/webhooks/{g}", axum::routing::post(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Url::parse(&format!("http://{addr}/webhooks/")).unwrap()
    };
    let cryptomus = cryptomus_gateway(&sim);
    let client = RecurrenteClient::new(&recurrente_keys(&sim).build().unwrap()).unwrap();
    let endpoint = client
        .create_webhook_endpoint(&CreateWebhookEndpoint::new(sink.join("recurrente").unwrap()))
        .await
        .unwrap();
    let config = recurrente_keys(&sim)
        .webhook_secret(endpoint.signing_secret.unwrap().expose_secret())
        .build()
        .unwrap();
    let recurrente: Arc<dyn RecurringGateway> = Arc::new(RecurrenteGateway::new(&config).unwrap());
    let ledger = place
        .builder()
        .gateway("cryptomus", cryptomus.clone())
        .gateway("recurrente", recurrente.clone())
        .connect()
        .await
        .unwrap();

    // Recurrente: paid, a renewal fails (past due), then the merchant cancels.
    let checkout = recurrente
        .create_checkout(&CheckoutRequest::new(plan(Currency::GTQ, "15")).merchant_reference("late-cards"))
        .await
        .unwrap();
    sim.recurrente_pay(checkout.id.as_str(), RecurrenteOutcome::CardSuccess)
        .unwrap();
    let card_sub = recurrente
        .checkout(&checkout.id)
        .await
        .unwrap()
        .subscription_id
        .unwrap();
    sim.fail_next_charges(card_sub.as_str(), 1).unwrap();
    sim.advance(chrono::Duration::days(31)).unwrap();
    recurrente.cancel_subscription(&card_sub).await.unwrap();
    // Cryptomus: accepted (active), then cancelled by the payer.
    let checkout = cryptomus
        .create_checkout(
            &CheckoutRequest::new(plan(Currency::USDT, "10"))
                .merchant_reference("late-crypto")
                .callback_url(sink.join("cryptomus").unwrap()),
        )
        .await
        .unwrap();
    sim.cryptomus_accept(checkout.id.as_str()).unwrap();
    sim.cryptomus_cancel_by_user(checkout.id.as_str()).unwrap();
    let crypto_sub = SubscriptionId::new(checkout.id.as_str());
    sim.flush_webhooks().await;

    let mut deliveries = sim.deliveries();
    assert!(
        deliveries.iter().any(|d| d.body.contains("past_due")),
        "the story has a past_due webhook"
    );
    deliveries.reverse(); // the cancellations first, then everything older
    for d in &deliveries {
        let name = if d.gateway == GatewayId::CRYPTOMUS.as_str() {
            "cryptomus"
        } else {
            "recurrente"
        };
        let mut headers = http::HeaderMap::new();
        for (k, v) in &d.headers {
            headers.insert(
                http::HeaderName::try_from(k.as_str()).unwrap(),
                http::HeaderValue::try_from(v.as_str()).unwrap(),
            );
        }
        ledger.receive(name, &headers, d.body.as_bytes()).await.unwrap();
        ledger.apply_pending(usize::MAX).await.unwrap();
        // At every step after the cancellations were applied, the subscriptions stay cancelled.
        for (g, id) in [("recurrente", &card_sub), ("cryptomus", &crypto_sub)] {
            if let Some(s) = ledger.subscription(g, id).await.unwrap() {
                assert!(
                    matches!(s.status, SubscriptionStatus::Cancelled { .. }),
                    "{g}: {:?}",
                    s.status
                );
            }
        }
    }
    for (g, id) in [("recurrente", &card_sub), ("cryptomus", &crypto_sub)] {
        assert!(ledger.subscription(g, id).await.unwrap().is_some(), "{g} recorded");
    }
    let reopened = ledger
        .changes_since(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .any(|c| match c.kind {
            ChangeKind::SubscriptionChanged {
                before: Some(b), after, ..
            } => b.status.is_terminal() && !after.status.is_terminal(),
            _ => false,
        });
    assert!(!reopened);
    let all = recurrente.all_subscriptions();
    let remote: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(all).await.unwrap();
    assert!(remote.iter().all(|s| s.status.is_terminal()));
    sim.shutdown().await;
}
