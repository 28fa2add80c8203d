//! The Recurrente client and gateway against the simulator, over real HTTP on loopback: every
//! client method with the values it sends and reads back, the shared gateway trait through a
//! whole subscription, Svix webhooks delivered to a receiver and verified, and every error shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use futures::TryStreamExt;
use paycycle_core::chrono::{DateTime, Duration, Utc};
use paycycle_core::rust_decimal::Decimal;
use paycycle_core::{
    CancelledBy, CheckoutRequest, Currency, Customer, Error, EventKind, FixedClock, Interval, IntervalUnit, Money,
    PageRequest, PaymentStatus, RecurringGateway, RecurringGatewayExt, RecurringPlan, SubscriptionId,
    SubscriptionStatus, WebhookError, WebhookEvent,
};
use paycycle_recurrente::wire::{
    BillingInterval, ChargeType, CheckoutStatus, CouponDiscount, CouponDuration, CreateCheckout, CreateCoupon,
    CreateOneTimePayment, CreateProduct, CreateTransfer, CreateUser, CreateWebhookEndpoint, CustomItem, LineItem,
    ListCheckouts, ListParams, Metadata, NewPrice, OneTimePaymentStatus, PaymentMethodSettings, PaymentMethodType,
    PaymentableType, PriceChange, ProductDetails, RecordStatus, RecurringTerms, RefundStatus, Requirement,
    SubscriptionState, TransferSetup, TransferStatus, UpdateCheckout, UpdateCoupon, UpdatePaymentIntent, UpdateProduct,
};
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway, RecurrenteWebhookVerifier};
use paycycle_sim::{DeliveryOutcome, RecurrenteOutcome, SimConfig, Simulator, TransitionKind};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use url::Url;

/// The simulator's virtual start: fixed, so that periods and event times are exact.
const START: &str = "2026-01-10T09:00:00Z";

fn start() -> DateTime<Utc> {
    START.parse().unwrap()
}

fn config() -> SimConfig {
    // These tests follow the reference's legacy events one by one; the unified `intent.*` copies
    // the simulator also sends by default are covered in tests/recurrente_today.rs.
    SimConfig::default()
        .start(start())
        .recurrente_payment_events(paycycle_sim::RecurrentePaymentEvents::Legacy)
}

async fn sim() -> Simulator {
    Simulator::start(config()).await.unwrap()
}

/// A simulator that also sends every event to `url` (the dashboard's endpoint), signed with
/// [`Simulator::recurrente_webhook_secret`].
async fn sim_with_hook(url: &Url) -> Simulator {
    Simulator::start(config().recurrente_webhook_url(url.as_str()))
        .await
        .unwrap()
}

fn client_config(sim: &Simulator, public_key: &str, secret_key: &str) -> RecurrenteConfig {
    RecurrenteConfig::builder()
        .public_key(public_key)
        .secret_key(secret_key)
        .webhook_secret(sim.recurrente_webhook_secret())
        .base_url(sim.base_url())
        .max_retries(0)
        .build()
        .unwrap()
}

fn client(sim: &Simulator) -> RecurrenteClient {
    RecurrenteClient::new(&client_config(
        sim,
        sim.recurrente_public_key(),
        sim.recurrente_secret_key(),
    ))
    .unwrap()
}

fn gateway(sim: &Simulator) -> RecurrenteGateway {
    RecurrenteGateway::new(&client_config(
        sim,
        sim.recurrente_public_key(),
        sim.recurrente_secret_key(),
    ))
    .unwrap()
}

fn gtq(s: &str) -> Money {
    Money::parse(s, Currency::GTQ).unwrap()
}

fn usd(s: &str) -> Money {
    Money::parse(s, Currency::USD).unwrap()
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn url(s: &str) -> Url {
    s.parse().unwrap()
}

fn months(at: DateTime<Utc>, n: u32) -> DateTime<Utc> {
    Interval::monthly().add_to(at, n).unwrap()
}

fn assert_prefix(id: &str, prefix: &str) {
    assert!(
        id.starts_with(prefix) && id.len() > prefix.len(),
        "`{id}` should be a `{prefix}…` id"
    );
}

/// The field an [`Error::InvalidInput`] names.
fn invalid_field<T: std::fmt::Debug>(r: paycycle_core::Result<T>) -> String {
    match r {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

/// Every checkout the simulator holds, through the client.
async fn all_checkouts(c: &RecurrenteClient) -> Vec<paycycle_recurrente::wire::Checkout> {
    c.all_checkouts(ListCheckouts::new()).try_collect().await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// A webhook receiver: records each request's path, headers and raw body, answers 200.

#[derive(Debug, Clone)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> String {
        self.headers.get(name).unwrap().to_str().unwrap().to_owned()
    }
}

#[derive(Debug, Clone)]
struct Inbox {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn record(State(hits): State<Arc<Mutex<Vec<Hit>>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    hits.lock().unwrap().push(Hit {
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
    StatusCode::OK
}

async fn inbox() -> Inbox {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/hooks/{name}", axum::routing::post(record))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Inbox {
        base: format!("http://{addr}"),
        hits,
    }
}

impl Inbox {
    fn url(&self, name: &str) -> Url {
        url(&format!("{}/hooks/{name}", self.base))
    }

    /// The requests delivered to `/hooks/{name}`, in order.
    fn at(&self, name: &str) -> Vec<Hit> {
        let path = format!("/hooks/{name}");
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    fn types(&self, name: &str) -> Vec<String> {
        self.at(name)
            .iter()
            .map(|h| h.json()["event_type"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Verifies every request delivered to `name` with the gateway.
fn verify_all(g: &RecurrenteGateway, inbox: &Inbox, name: &str) -> Vec<WebhookEvent> {
    inbox
        .at(name)
        .iter()
        .map(|h| g.verify_webhook(&h.headers, &h.body).unwrap())
        .collect()
}

fn webhook_reason<T: std::fmt::Debug>(r: paycycle_core::Result<T>) -> WebhookError {
    match r {
        Err(Error::Webhook { reason, .. }) => reason,
        other => panic!("expected a webhook error, got {other:?}"),
    }
}

/// A request to the simulator's API with its keys, bypassing the client (for parity checks).
async fn raw_post(sim: &Simulator, path: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .header("X-PUBLIC-KEY", sim.recurrente_public_key())
        .header("X-SECRET-KEY", sim.recurrente_secret_key())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------------
// Authentication

#[tokio::test]
async fn test_authentication_names_the_account_and_wrong_keys_are_refused() {
    let sim = sim().await;
    let c = client(&sim);
    let hello = c.test_authentication().await.unwrap();
    assert_eq!(hello.message.as_deref(), Some("Hello paycycle-sim"));
    assert_eq!(c.base_url().as_str(), format!("{}/", sim.base_url()));

    let pk = sim.recurrente_public_key().to_owned();
    let sk = sim.recurrente_secret_key().to_owned();
    for (public, secret) in [
        (pk.as_str(), "sk_test_wrong"),
        ("pk_test_wrong", sk.as_str()),
        ("pk_test_wrong", "sk_test_wrong"),
    ] {
        let bad = RecurrenteClient::new(&client_config(&sim, public, secret)).unwrap();
        match bad.test_authentication().await {
            Err(Error::Authentication { status, message, .. }) => {
                assert_eq!(status, Some(401));
                assert_eq!(message, "Autenticación Errónea 👀");
                assert!(!message.contains("wrong"));
            }
            other => panic!("({public}, {secret}): expected Authentication, got {other:?}"),
        }
        // A write with bad keys is refused too, and creates nothing.
        let req = CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]);
        assert!(matches!(
            bad.create_checkout(&req).await,
            Err(Error::Authentication { status: Some(401), .. })
        ));
        assert!(
            !format!("{bad:?}").contains(secret),
            "the client's Debug hides the keys"
        );
    }
    assert!(all_checkouts(&c).await.is_empty(), "nothing was created with bad keys");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Checkouts

#[tokio::test]
async fn one_time_checkout_with_item_details_is_created_read_and_paid() {
    let sim = sim().await;
    let c = client(&sim);
    let banana = CustomItem::new("One Ripe Banana", gtq("30.00"))
        .quantity(2)
        .description("Ripe, from Escuintla")
        .image_url(url("https://img.example.com/banana.png"))
        .terms("No returns")
        .metadata("sku", "B-1");
    let wrap = CustomItem::new("Gift wrap", gtq("5.25"));
    let req = CreateCheckout::new([banana.into(), wrap.into()])
        .success_url(url("https://shop.example.com/ok"))
        .cancel_url(url("https://shop.example.com/cancel"))
        .metadata("order", "42")
        .metadata("channel", "web");
    let created = c.create_checkout(&req).await.unwrap();
    assert_prefix(&created.id, "ch_");
    assert_eq!(
        created.checkout_url.as_deref(),
        Some(c.checkout_page_url(&created.id).unwrap().as_str())
    );
    assert_eq!(
        created.checkout_url.unwrap(),
        format!("{}/checkout-session/{}", sim.base_url(), created.id)
    );

    let got = c.get_checkout(&created.id).await.unwrap();
    assert_eq!(got.id, created.id);
    assert_eq!(got.status, Some(CheckoutStatus::Unpaid));
    assert_eq!(got.total_in_cents, Some(2 * 3000 + 525));
    assert_eq!(got.currency, Some(Currency::GTQ));
    assert_eq!(got.total(), Some(gtq("65.25")));
    assert_eq!(got.metadata_str("order"), Some("42"));
    assert_eq!(got.metadata_str("channel"), Some("web"));
    assert_eq!(got.metadata.len(), 2);
    assert_eq!(got.success_url.as_deref(), Some("https://shop.example.com/ok"));
    assert_eq!(got.cancel_url.as_deref(), Some("https://shop.example.com/cancel"));
    assert_eq!(got.created_at, Some(start()));
    assert_eq!(got.expires_at, None);
    assert_eq!(got.live_mode, Some(false), "test keys make test checkouts");
    assert_eq!(got.payment, None);
    assert_eq!(got.payment_method, None);
    assert!(got.transfer_setups.is_empty());

    let paid = sim.recurrente_pay(&created.id, RecurrenteOutcome::CardSuccess).unwrap();
    let got = c.get_checkout(&created.id).await.unwrap();
    assert_eq!(got.status, Some(CheckoutStatus::Paid));
    let payment = got.payment.clone().unwrap();
    assert_prefix(&payment.id, "pa_");
    assert_eq!(payment.id, paid.payment_intent_id);
    let paymentable = payment.paymentable.clone().unwrap();
    assert_eq!(paymentable.kind, Some(PaymentableType::OneTimePayment));
    assert_prefix(&paymentable.id, "on_");
    assert_eq!(Some(paymentable.id.as_str()), paid.one_time_payment_id.as_deref());
    assert_eq!(
        got.subscription_id(),
        None,
        "a one-time checkout starts no subscription"
    );
    let method = got.payment_method.clone().unwrap();
    assert_prefix(&method.id, "pay_m_");
    assert_eq!(method.kind, Some(PaymentMethodType::Card));
    let card = method.card.unwrap();
    assert_eq!(
        (card.last4.as_deref(), card.network.as_deref()),
        (Some("4242"), Some("visa"))
    );
    assert_eq!(got.latest_intent.unwrap().kind.as_deref(), Some("PaymentIntent"));

    // What the payment paid for: the item details became the products of the payment.
    let intent = c
        .update_payment_intent(
            &payment.id,
            &UpdatePaymentIntent::new(url("https://facturas.example.com/f/1")),
        )
        .await
        .unwrap();
    let names: Vec<_> = intent.products.iter().filter_map(|p| p.name.as_deref()).collect();
    assert_eq!(names, ["One Ripe Banana", "Gift wrap"]);
    assert_eq!(intent.products[0].description.as_deref(), Some("Ripe, from Escuintla"));
    assert_eq!(intent.products[0].prices[0].amount(), Some(gtq("30.00")));
    assert_eq!(
        intent.products[0].metadata.get("sku"),
        Some(&json!("B-1")),
        "item metadata"
    );
    assert_eq!(intent.amount(), Some(gtq("65.25")));
    sim.shutdown().await;
}

#[tokio::test]
async fn recurring_checkout_with_a_trial_and_an_automatic_end() {
    let inbox = inbox().await;
    let sim = sim_with_hook(&inbox.url("config")).await;
    let c = client(&sim);
    let g = gateway(&sim);
    let two_weeks = Interval::new(IntervalUnit::Week, 2).unwrap();
    let terms = RecurringTerms::new(Interval::monthly())
        .trial(two_weeks)
        .end_after_periods(3);
    let item = CustomItem::new("Membresía Gold", gtq("50.00")).recurring(terms);
    let created = c
        .create_checkout(&CreateCheckout::new([item.into()]).metadata("plan", "gold"))
        .await
        .unwrap();
    let got = c.get_checkout(&created.id).await.unwrap();
    assert_eq!(got.total(), Some(gtq("50.00")));
    assert_eq!(got.status, Some(CheckoutStatus::Unpaid));

    let paid = sim.recurrente_pay(&created.id, RecurrenteOutcome::CardSuccess).unwrap();
    let su = paid.subscription_id.clone().unwrap();
    assert_prefix(&su, "su_");
    let got = c.get_checkout(&created.id).await.unwrap();
    assert_eq!(got.subscription_id(), Some(su.as_str()));
    assert_eq!(
        got.latest_intent.unwrap().kind.as_deref(),
        Some("SetupIntent"),
        "a trial saves the card without a charge"
    );

    let sub = c.get_subscription(&su).await.unwrap();
    assert_eq!(sub.status, Some(SubscriptionState::Active), "active in its trial");
    assert_eq!(sub.description.as_deref(), Some("Membresía Gold"));
    assert_eq!(sub.checkout.unwrap().id, created.id);
    assert_eq!(sub.current_period_start, Some(start()));
    assert_eq!(sub.current_period_end, Some(start() + days(14)), "the trial");
    // Today's fields: the first charge is due when the trial ends; the saved card is the default.
    assert_eq!(sub.next_payment_attempt_at, Some(start() + days(14)));
    assert_eq!(sub.payment_retries, Some(0));
    assert_eq!(sub.resumes_on, None);
    assert_eq!(
        sub.default_payment_method.and_then(|m| m.kind),
        Some(paycycle_recurrente::wire::PaymentMethodType::Card)
    );

    // The terms the client sent, as the simulator stored them on the item's product.
    let product_id = sub.product.unwrap().id;
    assert_prefix(&product_id, "prod_");
    let product = c.get_product(&product_id).await.unwrap();
    assert_eq!(product.name.as_deref(), Some("Membresía Gold"));
    let price = &product.prices[0];
    assert_prefix(&price.id, "price_");
    assert_eq!(price.charge_type, Some(ChargeType::Recurring));
    assert_eq!(price.amount_in_cents, Some(5000));
    assert_eq!(price.interval(), Some(Interval::monthly()));
    assert_eq!(price.trial(), Some(two_weeks));
    assert_eq!(price.periods_before_automatic_cancellation, Some(3));

    // Three paid periods after the trial, then the automatic end.
    let advanced = sim.advance(days(200)).unwrap();
    let charged = advanced
        .transitions
        .iter()
        .filter(|t| matches!(t.kind, TransitionKind::Charged { .. }))
        .count();
    assert_eq!(charged, 3);
    let sub = c.get_subscription(&su).await.unwrap();
    assert_eq!(sub.status, Some(SubscriptionState::Cancelled));
    sim.flush_webhooks().await;
    assert_eq!(
        inbox.types("config"),
        [
            "setup_intent.succeeded",
            "subscription.create",
            "payment_intent.succeeded",
            "payment_intent.succeeded",
            "payment_intent.succeeded",
            "subscription.cancel"
        ]
    );
    let events = verify_all(&g, &inbox, "config");
    let trial_end = start() + days(14);
    let charges: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::PaymentSucceeded)
        .collect();
    assert_eq!(
        charges.iter().map(|e| e.occurred_at.unwrap()).collect::<Vec<_>>(),
        [trial_end, months(trial_end, 1), months(trial_end, 2)]
    );
    for e in &charges {
        assert_eq!(e.payment.as_ref().unwrap().amount, Some(gtq("50.00")));
        assert_eq!(e.subscription_id.as_ref().unwrap().as_str(), su);
    }
    assert_eq!(events[0].kind, EventKind::SetupSucceeded);
    assert_eq!(
        events[0].subscription_id.as_ref().unwrap().as_str(),
        su,
        "read from the reference's `suscription` key"
    );
    assert_eq!(events[5].kind, EventKind::SubscriptionCancelled);
    assert_eq!(events[5].occurred_at, Some(months(trial_end, 3)));
    sim.shutdown().await;
}

#[tokio::test]
async fn product_id_checkout_charges_the_products_price_times_the_quantity() {
    let sim = sim().await;
    let c = client(&sim);
    let product = c
        .create_product(&CreateProduct::new(
            "Café de Huehuetenango",
            NewPrice::one_time(gtq("5.00")),
        ))
        .await
        .unwrap();
    let created = c
        .create_checkout(&CreateCheckout::new([LineItem::product_times(&product.id, 3)]))
        .await
        .unwrap();
    let got = c.get_checkout(&created.id).await.unwrap();
    assert_eq!(got.total_in_cents, Some(1500));
    assert_eq!(got.currency, Some(Currency::GTQ));
    let single = c
        .create_checkout(&CreateCheckout::new([LineItem::product(&product.id)]))
        .await
        .unwrap();
    assert_eq!(c.get_checkout(&single.id).await.unwrap().total(), Some(gtq("5.00")));
    // The payment names the product.
    let paid = sim.recurrente_pay(&created.id, RecurrenteOutcome::CardSuccess).unwrap();
    let intent = c
        .update_payment_intent(
            &paid.payment_intent_id,
            &UpdatePaymentIntent::new(url("https://facturas.example.com/cafe")),
        )
        .await
        .unwrap();
    assert_eq!(intent.product.unwrap().id, product.id);
    assert_eq!(intent.amount_in_cents, Some(1500));
    sim.shutdown().await;
}

#[tokio::test]
async fn connected_account_checkout_keeps_its_transfer_setups_and_its_events_say_so() {
    let inbox = inbox().await;
    let sim = sim_with_hook(&inbox.url("config")).await;
    let c = client(&sim);
    let g = gateway(&sim);
    let req = CreateCheckout::new([CustomItem::new("Clase de surf", gtq("30.00")).into()])
        .custom_account_id("ac_123456")
        .transfer_setup(TransferSetup::new(gtq("1.00"), None))
        .transfer_setup(TransferSetup::new(gtq("2.50"), Some("ac_999999".into())));
    let created = c.create_checkout(&req).await.unwrap();
    let got = c.get_checkout(&created.id).await.unwrap();
    // What was sent comes back, with the newer fields (DOCS list-checkouts): an id, a status, a currency.
    let sent: Vec<_> = got
        .transfer_setups
        .iter()
        .map(|t| (t["amount_in_cents"].clone(), t["recipient_id"].clone()))
        .collect();
    assert_eq!(sent, [(json!(100), json!(null)), (json!(250), json!("ac_999999"))]);
    for t in &got.transfer_setups {
        assert!(t["id"].as_str().is_some_and(|id| id.starts_with("ts_")), "{t}");
        assert_eq!(t["status"], "pending", "{t}");
        assert_eq!(t["currency"], "GTQ", "{t}");
    }
    assert_eq!(got.total_in_cents, Some(3000));

    // The reference's own connected-account example has an item without a name: it goes through,
    // while a blank name is refused before sending.
    let unnamed = CreateCheckout::new([CustomItem::unnamed(gtq("30.00")).into()]).custom_account_id("ac_123456");
    let unnamed_checkout = c.create_checkout(&unnamed).await.unwrap();
    assert_eq!(
        c.get_checkout(&unnamed_checkout.id).await.unwrap().total_in_cents,
        Some(3000)
    );
    let blank = CreateCheckout::new([CustomItem::new(" ", gtq("30.00")).into()]);
    assert_eq!(invalid_field(c.create_checkout(&blank).await), "items[0].name");

    // A transfer in another currency is refused before sending; more than the total by the
    // simulator.
    let mixed = CreateCheckout::new([CustomItem::new("x", gtq("30.00")).into()])
        .transfer_setup(TransferSetup::new(usd("1.00"), None));
    assert_eq!(
        invalid_field(c.create_checkout(&mixed).await),
        "transfer_setups[0].amount_in_cents"
    );
    let too_much = CreateCheckout::new([CustomItem::new("x", gtq("30.00")).into()])
        .transfer_setup(TransferSetup::new(gtq("30.01"), None));
    match c.create_checkout(&too_much).await {
        Err(Error::Rejected {
            status: 400,
            message: Some(m),
            field_errors,
            ..
        }) => {
            assert!(m.starts_with("transfer_setups"), "{m}");
            assert!(field_errors.contains_key("transfer_setups"), "{field_errors:?}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert_eq!(
        all_checkouts(&c).await.len(),
        2,
        "the first and the unnamed one; nothing refused was created"
    );

    sim.recurrente_pay(&created.id, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    let events = verify_all(&g, &inbox, "config");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::PaymentSucceeded);
    assert_eq!(events[0].connected_account.as_deref(), Some("ac_123456"));
    assert_eq!(events[0].checkout_id.as_ref().unwrap().as_str(), created.id);
    sim.shutdown().await;
}

#[tokio::test]
async fn checkouts_are_updated_until_paid_and_expire() {
    let sim = sim().await;
    let c = client(&sim);
    let g = gateway(&sim);
    let tomorrow = start() + days(1);
    let req = CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()])
        .metadata("old", "1")
        .expires_at(tomorrow);
    let a = c.create_checkout(&req).await.unwrap();
    assert_eq!(c.get_checkout(&a.id).await.unwrap().expires_at, Some(tomorrow));

    let next_week = start() + days(7);
    let update = UpdateCheckout::new()
        .success_url(url("https://shop.example.com/thanks"))
        .cancel_url(url("https://shop.example.com/back"))
        .metadata(Metadata::from([("new".to_owned(), "2".to_owned())]))
        .expires_at(next_week);
    let updated = c.update_checkout(&a.id, &update).await.unwrap();
    assert_eq!(updated.id, a.id);
    assert_eq!(updated.success_url.as_deref(), Some("https://shop.example.com/thanks"));
    let got = c.get_checkout(&a.id).await.unwrap();
    assert_eq!(got.success_url.as_deref(), Some("https://shop.example.com/thanks"));
    assert_eq!(got.cancel_url.as_deref(), Some("https://shop.example.com/back"));
    assert_eq!(got.metadata.get("new"), Some(&json!("2")));
    assert_eq!(got.metadata.get("old"), None, "metadata is replaced");
    assert_eq!(got.expires_at, Some(next_week));
    assert_eq!(got.status, Some(CheckoutStatus::Unpaid));

    // Past its expiry: `expired`, which the gateway reads as Failed, and it cannot be paid.
    sim.advance(days(8)).unwrap();
    let got = c.get_checkout(&a.id).await.unwrap();
    assert_eq!(got.status, Some(CheckoutStatus::Expired));
    assert_eq!(
        g.checkout(&paycycle_core::CheckoutId::new(&a.id)).await.unwrap().status,
        SubscriptionStatus::Failed
    );
    assert!(sim.recurrente_pay(&a.id, RecurrenteOutcome::CardSuccess).is_err());

    // A past expiry given in an update expires it at once.
    let b = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]))
        .await
        .unwrap();
    let expired = c
        .update_checkout(&b.id, &UpdateCheckout::new().expires_at(start()))
        .await
        .unwrap();
    assert_eq!(expired.status, Some(CheckoutStatus::Expired));

    // A paid checkout cannot change; an empty update is refused before sending.
    let d = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]))
        .await
        .unwrap();
    sim.recurrente_pay(&d.id, RecurrenteOutcome::CardSuccess).unwrap();
    match c
        .update_checkout(&d.id, &UpdateCheckout::new().metadata(Metadata::new()))
        .await
    {
        Err(Error::Rejected {
            status: 422,
            message: Some(m),
            ..
        }) => assert!(m.contains("paid"), "{m}"),
        other => panic!("updating a paid checkout: {other:?}"),
    }
    assert_eq!(
        invalid_field(c.update_checkout(&d.id, &UpdateCheckout::new()).await),
        "checkout"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn checkouts_are_listed_by_time_user_and_page_and_streamed() {
    let sim = sim().await;
    let c = client(&sim);
    let user = c
        .create_user(&CreateUser::new("juan@example.com", Some("Juan Pérez".into())))
        .await
        .unwrap();
    let item = || CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]);
    // Five checkouts, a day apart; the third for the user.
    let mut created = Vec::new();
    let mut times = Vec::new();
    for i in 0..5 {
        let req = if i == 2 { item().user_id(&user.id) } else { item() };
        times.push(sim.now());
        created.push(c.create_checkout(&req).await.unwrap().id);
        sim.advance(days(1)).unwrap();
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let page = c.list_checkouts(&ListCheckouts::new()).await.unwrap();
    assert_eq!(
        page.items.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
        newest_first
    );
    assert_eq!(page.next_cursor, None, "5 < the default page size of 10");

    let in_time = c
        .list_checkouts(&ListCheckouts::new().from_time(times[1]).until_time(times[3]))
        .await
        .unwrap();
    assert_eq!(
        in_time.items.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        [&created[3], &created[2], &created[1]]
    );
    let since = c
        .list_checkouts(&ListCheckouts::new().from_time(times[4]))
        .await
        .unwrap();
    assert_eq!(since.items.len(), 1);
    assert_eq!(since.items[0].id, created[4]);
    let until = c
        .list_checkouts(&ListCheckouts::new().until_time(times[0]))
        .await
        .unwrap();
    assert_eq!(until.items.len(), 1);
    assert_eq!(until.items[0].id, created[0]);

    let mine = c.list_checkouts(&ListCheckouts::new().user_id(&user.id)).await.unwrap();
    assert_eq!(mine.items.len(), 1);
    assert_eq!(mine.items[0].id, created[2]);

    let p1 = c
        .list_checkouts(&ListCheckouts::new().paging(ListParams::new().items(2)))
        .await
        .unwrap();
    assert_eq!(
        p1.items.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        [&created[4], &created[3]]
    );
    assert_eq!(p1.next_cursor.as_deref(), Some("2"));
    let p3 = c
        .list_checkouts(&ListCheckouts::new().paging(ListParams::new().page(3).items(2)))
        .await
        .unwrap();
    assert_eq!(
        p3.items.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        [&created[0]]
    );
    assert_eq!(p3.next_cursor, None);

    // The stream walks every page of 2, once each, newest first; from page 2 it skips two.
    let all: Vec<_> = c
        .all_checkouts(ListCheckouts::new().paging(ListParams::new().items(2)))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.iter().map(|x| x.id.clone()).collect::<Vec<_>>(), newest_first);
    let from_2: Vec<_> = c
        .all_checkouts(ListCheckouts::new().paging(ListParams::new().page(2).items(2)))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        from_2.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
        newest_first[2..]
    );
    let filtered: Vec<_> = c
        .all_checkouts(
            ListCheckouts::new()
                .from_time(times[1])
                .paging(ListParams::new().items(1)),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filtered.len(), 4);

    // Filters the client refuses before sending.
    assert_eq!(
        invalid_field(
            c.list_checkouts(&ListCheckouts::new().from_time(times[3]).until_time(times[1]))
                .await
        ),
        "from_time"
    );
    assert_eq!(
        invalid_field(
            c.list_checkouts(&ListCheckouts::new().paging(ListParams::new().page(0)))
                .await
        ),
        "page"
    );
    assert_eq!(
        invalid_field(
            c.list_checkouts(&ListCheckouts::new().paging(ListParams::new().items(0)))
                .await
        ),
        "items"
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Payment intents and refunds

#[tokio::test]
async fn update_payment_intent_attaches_the_invoice_url() {
    let sim = sim().await;
    let c = client(&sim);
    let ch = c
        .create_checkout(&CreateCheckout::new([
            CustomItem::new("One Ripe Banana", gtq("30.00")).into()
        ]))
        .await
        .unwrap();
    sim.recurrente_pay(&ch.id, RecurrenteOutcome::CardSuccess).unwrap();
    let pa = c.get_checkout(&ch.id).await.unwrap().payment.unwrap().id;
    let invoice = url("https://www.example.com/factura123");
    let intent = c
        .update_payment_intent(&pa, &UpdatePaymentIntent::new(invoice.clone()))
        .await
        .unwrap();
    assert_eq!(intent.id, pa);
    assert_eq!(intent.tax_invoice_url.as_deref(), Some(invoice.as_str()));
    assert_eq!(intent.checkout.as_ref().unwrap().id, ch.id);
    assert_eq!(intent.amount(), Some(gtq("30.00")));
    assert_eq!(intent.fee(), Some(gtq("1.35")), "4.5 %");
    assert_eq!(intent.vat_withheld, Some(0));
    assert_eq!(intent.created_at, Some(start()));
    assert_eq!(intent.api_version.as_deref(), Some("2024-04-24"));
    let paymentable = intent.payment.unwrap().paymentable.unwrap();
    assert_eq!(paymentable.kind, Some(PaymentableType::OneTimePayment));
    assert_prefix(&paymentable.id, "on_");
    assert_eq!(intent.customer.unwrap().email.as_deref(), Some("payer@example.com"));
    // Another invoice replaces it.
    let again = c
        .update_payment_intent(
            &pa,
            &UpdatePaymentIntent::new(url("https://www.example.com/factura124")),
        )
        .await
        .unwrap();
    assert_eq!(
        again.tax_invoice_url.as_deref(),
        Some("https://www.example.com/factura124")
    );
    match c
        .update_payment_intent("pa_nope", &UpdatePaymentIntent::new(invoice))
        .await
    {
        Err(Error::NotFound { resource, id, .. }) => {
            assert_eq!((resource.as_str(), id.as_str()), ("payment intent", "pa_nope"))
        }
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_paid_payment_intent_is_refunded_once_and_the_refund_read_back() {
    let sim = sim().await;
    let c = client(&sim);
    let user = c
        .create_user(&CreateUser::new("borges@example.com", Some("Jorge Luis Borges".into())))
        .await
        .unwrap();
    let ch = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Juan's order", gtq("25.00")).into()]).user_id(&user.id))
        .await
        .unwrap();
    // An unpaid checkout has nothing to refund; a declined attempt neither.
    sim.recurrente_pay(&ch.id, RecurrenteOutcome::CardDeclined).unwrap();
    let declined = c.get_checkout(&ch.id).await.unwrap().latest_intent.unwrap().id;
    assert!(matches!(
        c.create_refund(&declined).await,
        Err(Error::Rejected { status: 422, .. })
    ));
    sim.recurrente_pay(&ch.id, RecurrenteOutcome::CardSuccess).unwrap();
    let pa = c.get_checkout(&ch.id).await.unwrap().payment.unwrap().id;
    assert_prefix(&pa, "pa_");

    let refund = c.create_refund(&pa).await.unwrap();
    assert_prefix(&refund.id, "re_");
    assert_eq!(refund.status, Some(RefundStatus::Succeeded));
    assert_eq!(
        refund.customer_refunded(),
        Some(gtq("25.00")),
        "the payer gets everything back"
    );
    assert_eq!(
        refund.account_refunded_amount_in_cents,
        Some(2500 - 113),
        "the account returns the amount less the 4.5 % fee"
    );
    assert_eq!(refund.currency, Some(Currency::GTQ));
    assert_eq!(refund.created_at, Some(start()));
    let customer = refund.customer.clone().unwrap();
    assert_eq!(customer.id, user.id);
    assert_eq!(customer.full_name.as_deref(), Some("Jorge Luis Borges"));

    let read = c.get_refund(&refund.id).await.unwrap();
    assert_eq!(read, refund);
    match c.create_refund(&pa).await {
        Err(Error::Rejected {
            status: 422,
            message: Some(m),
            field_errors,
            ..
        }) => {
            assert!(m.contains("already refunded"), "{m}");
            assert!(field_errors.contains_key("payment_intent_id"));
        }
        other => panic!("refunding twice: {other:?}"),
    }
    assert!(matches!(
        c.create_refund("pa_nope").await,
        Err(Error::Rejected { status: 400, .. })
    ));
    assert!(matches!(c.get_refund("re_nope").await, Err(Error::NotFound { .. })));
    assert_eq!(invalid_field(c.create_refund(" ").await), "payment_intent_id");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Products

#[tokio::test]
async fn products_are_created_read_listed_updated_and_deleted() {
    let sim = sim().await;
    let c = client(&sim);
    let mut details = ProductDetails::default();
    details.description = Some("La descripción es opcional".into());
    details.image_url = Some(url("https://img.example.com/banana.png"));
    details.success_url = Some(url("https://shop.example.com/ok"));
    details.cancel_url = Some(url("https://shop.example.com/cancel"));
    details.custom_terms_and_conditions = Some("El texto que tú quieras añadir.".into());
    details.phone_requirement = Some(Requirement::Required);
    details.address_requirement = Some(Requirement::Optional);
    details.billing_info_requirement = Some(Requirement::None);
    details.adjustable_quantity = Some(false);
    details.inventory_quantity = Some(10);
    let one_time = c
        .create_product(
            &CreateProduct::new("El nombre de tu producto", NewPrice::one_time(gtq("5.00")))
                .details(details)
                .metadata("sku", "B-1"),
        )
        .await
        .unwrap();
    assert_prefix(&one_time.id, "prod_");
    assert_eq!(one_time.status, Some(RecordStatus::Active));
    assert_eq!(one_time.name.as_deref(), Some("El nombre de tu producto"));
    assert_eq!(one_time.description.as_deref(), Some("La descripción es opcional"));
    assert_eq!(one_time.success_url.as_deref(), Some("https://shop.example.com/ok"));
    assert_eq!(one_time.cancel_url.as_deref(), Some("https://shop.example.com/cancel"));
    assert_eq!(
        one_time.custom_terms_and_conditions.as_deref(),
        Some("El texto que tú quieras añadir.")
    );
    assert_eq!(one_time.phone_requirement, Some(Requirement::Required));
    assert_eq!(one_time.address_requirement, Some(Requirement::Optional));
    assert_eq!(one_time.billing_info_requirement, Some(Requirement::None));
    assert_eq!(one_time.metadata.get("sku"), Some(&json!("B-1")));
    assert_eq!(
        one_time.storefront_link.as_deref(),
        Some(format!("{}/s/paycycle-sim/el-nombre-de-tu-producto", sim.base_url()).as_str())
    );
    let price = &one_time.prices[0];
    assert_prefix(&price.id, "price_");
    assert_eq!(price.amount(), Some(gtq("5.00")));
    assert_eq!(price.charge_type, Some(ChargeType::OneTime));
    assert_eq!(price.billing_interval, None, "one-time prices send \"\"");
    assert_eq!(price.interval(), None);
    assert_eq!(price.trial(), None);

    let terms = RecurringTerms::new(Interval::monthly())
        .trial(Interval::monthly())
        .end_after_periods(12)
        .cancellable_after_periods(3);
    let subscription = c
        .create_product(
            &CreateProduct::new("Membresía Gold", NewPrice::recurring(gtq("100.00"), terms)).price(
                NewPrice::recurring(usd("15.00"), RecurringTerms::new(Interval::yearly())),
            ),
        )
        .await
        .unwrap();
    assert_eq!(subscription.prices.len(), 2);
    let monthly = &subscription.prices[0];
    assert_eq!(monthly.charge_type, Some(ChargeType::Recurring));
    assert_eq!(monthly.amount(), Some(gtq("100.00")));
    assert_eq!(monthly.billing_interval, Some(BillingInterval::Month));
    assert_eq!(monthly.billing_interval_count, Some(1));
    assert_eq!(monthly.trial(), Some(Interval::monthly()));
    assert_eq!(monthly.periods_before_automatic_cancellation, Some(12));
    let yearly = &subscription.prices[1];
    assert_eq!(yearly.amount(), Some(usd("15.00")));
    assert_eq!(yearly.interval(), Some(Interval::yearly()));
    assert_eq!(yearly.trial(), None);
    assert_eq!(yearly.periods_before_automatic_cancellation, None);

    let read = c.get_product(&one_time.id).await.unwrap();
    assert_eq!(read, one_time);

    // Lists: newest first, pages, and the stream.
    let extra = c
        .create_product(&CreateProduct::new("Tercero", NewPrice::one_time(usd("1.00"))))
        .await
        .unwrap();
    let page = c.list_products(&ListParams::new()).await.unwrap();
    assert_eq!(
        page.items.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        [extra.id.clone(), subscription.id.clone(), one_time.id.clone()]
    );
    let p2 = c.list_products(&ListParams::new().page(2).items(2)).await.unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_eq!(p2.items[0].id, one_time.id);
    assert_eq!(p2.next_cursor, None);
    let streamed: Vec<_> = c.all_products(ListParams::new().items(1)).try_collect().await.unwrap();
    assert_eq!(streamed, page.items);

    // Update: rename, change a price by id, add one; then remove the first with `_destroy`.
    let first_price = one_time.prices[0].id.clone();
    let updated = c
        .update_product(
            &one_time.id,
            &UpdateProduct::new()
                .name("El nuevo nombre del producto")
                .price(PriceChange::set_amount(&first_price, gtq("15.00")))
                .price(PriceChange::Add(NewPrice::one_time(usd("7.00")))),
        )
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("El nuevo nombre del producto"));
    assert_eq!(updated.prices.len(), 2);
    assert_eq!(updated.prices[0].id, first_price, "changed in place");
    assert_eq!(updated.prices[0].amount(), Some(gtq("15.00")));
    assert_eq!(updated.prices[1].amount(), Some(usd("7.00")));
    assert_eq!(
        updated.description.as_deref(),
        Some("La descripción es opcional"),
        "fields not sent are kept"
    );
    let added = updated.prices[1].id.clone();
    let removed = c
        .update_product(
            &one_time.id,
            &UpdateProduct::new().price(PriceChange::remove(&first_price)),
        )
        .await
        .unwrap();
    assert_eq!(
        removed.prices.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        [added.as_str()]
    );
    let read = c.get_product(&one_time.id).await.unwrap();
    assert_eq!(read.prices.len(), 1);
    assert_eq!(read.prices[0].amount(), Some(usd("7.00")));
    assert_eq!(read.name.as_deref(), Some("El nuevo nombre del producto"));
    // A price of another product is a simulator-side 422 naming the field.
    match c
        .update_product(
            &one_time.id,
            &UpdateProduct::new().price(PriceChange::set_amount(&subscription.prices[0].id, gtq("1"))),
        )
        .await
    {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(
            field_errors.contains_key("product.prices_attributes[0].id"),
            "{field_errors:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        invalid_field(c.update_product(&one_time.id, &UpdateProduct::new()).await),
        "product"
    );

    // Delete.
    let deleted = c.delete_product(&one_time.id).await.unwrap();
    assert_eq!(deleted.id, one_time.id);
    assert_eq!(deleted.status, Some(RecordStatus::Deleted));
    assert!(matches!(c.get_product(&one_time.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(
        c.delete_product(&one_time.id).await,
        Err(Error::NotFound { .. })
    ));
    let left: Vec<_> = c.all_products(ListParams::new()).try_collect().await.unwrap();
    assert_eq!(
        left.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        [extra.id.clone(), subscription.id.clone()]
    );
    sim.shutdown().await;
}

/// Asking for pages larger than the simulator serves (100 items at most) must not lose items.
/// The client clamps `items` to `MAX_PAGE_SIZE` (100), so "a page shorter than asked" stays a true
/// last page (this test found the bug: the stream used to stop after 100 of 105).
#[tokio::test]
async fn streams_with_pages_larger_than_the_simulator_serves_lose_nothing() {
    let sim = sim().await;
    let c = client(&sim);
    for i in 0..105 {
        c.create_product(&CreateProduct::new(format!("P{i:03}"), NewPrice::one_time(gtq("1.00"))))
            .await
            .unwrap();
    }
    let first = c.list_products(&ListParams::new().items(150)).await.unwrap();
    assert_eq!(first.items.len(), 100, "the simulator's largest page");
    assert!(first.next_cursor.is_some(), "5 more products are on page 2");
    let all: Vec<_> = c
        .all_products(ListParams::new().items(150))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 105);
    sim.shutdown().await;
}

#[tokio::test]
async fn product_payment_method_settings_reach_the_checkout() {
    let sim = sim().await;
    let c = client(&sim);
    let mut details = ProductDetails::default();
    details.payment_methods = Some(PaymentMethodSettings::new(true, false).installments([3, 6, 12]));
    let card_only = c
        .create_product(&CreateProduct::new("Solo tarjeta", NewPrice::one_time(gtq("100.00"))).details(details))
        .await
        .unwrap();
    let ch = c
        .create_checkout(&CreateCheckout::new([LineItem::product_times(&card_only.id, 2)]))
        .await
        .unwrap();
    assert_eq!(c.get_checkout(&ch.id).await.unwrap().total_in_cents, Some(20_000));
    let err = sim
        .recurrente_pay(&ch.id, RecurrenteOutcome::BankTransferPending)
        .unwrap_err();
    assert!(err.to_string().contains("bank transfer"), "{err}");
    sim.recurrente_pay(&ch.id, RecurrenteOutcome::CardSuccess).unwrap();
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Coupons

#[tokio::test]
async fn coupons_are_created_read_listed_updated_and_deleted() {
    let sim = sim().await;
    let c = client(&sim);
    let amount = c
        .create_coupon(
            &CreateCoupon::new("NEWCOUPON", CouponDiscount::AmountOff(gtq("15.00"))).duration(CouponDuration::Once),
        )
        .await
        .unwrap();
    assert_prefix(&amount.id, "coup_");
    assert_eq!(amount.name.as_deref(), Some("NEWCOUPON"));
    assert_eq!(amount.amount_off_in_cents, Some(1500));
    assert_eq!(amount.currency, Some(Currency::GTQ));
    assert_eq!(amount.percent_off, None);
    assert_eq!(amount.discount(), Some(CouponDiscount::AmountOff(gtq("15.00"))));
    assert_eq!(amount.duration, Some(CouponDuration::Once));
    assert_eq!(amount.status, Some(RecordStatus::Active));

    let half = Decimal::from_str("12.5").unwrap();
    let percent = c
        .create_coupon(&CreateCoupon::new("VERANO", CouponDiscount::PercentOff(half)).duration(CouponDuration::Forever))
        .await
        .unwrap();
    assert_eq!(percent.percent_off, Some(half));
    assert_eq!(percent.discount(), Some(CouponDiscount::PercentOff(half)));
    assert_eq!(percent.amount_off_in_cents, None);
    assert_eq!(percent.currency, None);
    assert_eq!(percent.duration, Some(CouponDuration::Forever));

    assert_eq!(c.get_coupon(&amount.id).await.unwrap(), amount);
    let page = c.list_coupons(&ListParams::new()).await.unwrap();
    assert_eq!(
        page.items.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
        [percent.id.clone(), amount.id.clone()]
    );
    let p2 = c.list_coupons(&ListParams::new().page(2).items(1)).await.unwrap();
    assert_eq!(p2.items, std::slice::from_ref(&amount));
    let streamed: Vec<_> = c.all_coupons(ListParams::new().items(1)).try_collect().await.unwrap();
    assert_eq!(streamed, page.items);

    // From an amount to a percentage, renamed; then back to an amount in USD.
    let updated = c
        .update_coupon(
            &amount.id,
            &UpdateCoupon::new()
                .name("QUINCE")
                .discount(CouponDiscount::PercentOff(Decimal::from(15))),
        )
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("QUINCE"));
    assert_eq!(updated.percent_off, Some(Decimal::from(15)));
    assert_eq!(updated.amount_off_in_cents, None);
    assert_eq!(updated.currency, None);
    assert_eq!(updated.duration, Some(CouponDuration::Once), "kept");
    let back = c
        .update_coupon(
            &amount.id,
            &UpdateCoupon::new()
                .discount(CouponDiscount::AmountOff(usd("2.50")))
                .duration(CouponDuration::Forever),
        )
        .await
        .unwrap();
    assert_eq!(back.discount(), Some(CouponDiscount::AmountOff(usd("2.50"))));
    assert_eq!(back.duration, Some(CouponDuration::Forever));
    assert_eq!(c.get_coupon(&amount.id).await.unwrap(), back);
    assert_eq!(
        invalid_field(c.update_coupon(&amount.id, &UpdateCoupon::new()).await),
        "coupon"
    );
    assert_eq!(
        invalid_field(
            c.create_coupon(&CreateCoupon::new("X", CouponDiscount::PercentOff(Decimal::from(101))))
                .await
        ),
        "coupon.percent_off"
    );
    assert_eq!(
        invalid_field(
            c.create_coupon(&CreateCoupon::new(
                "X",
                CouponDiscount::AmountOff(Money::parse("1", Currency::EUR).unwrap())
            ))
            .await
        ),
        "coupon.currency"
    );

    let deleted = c.delete_coupon(&amount.id).await.unwrap();
    assert_eq!(
        (deleted.id.as_str(), deleted.status),
        (amount.id.as_str(), Some(RecordStatus::Deleted))
    );
    assert!(matches!(c.get_coupon(&amount.id).await, Err(Error::NotFound { .. })));
    assert!(matches!(c.delete_coupon(&amount.id).await, Err(Error::NotFound { .. })));
    let left = c.list_coupons(&ListParams::new()).await.unwrap();
    assert_eq!(left.items, [percent]);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions, users, transfers

/// Creates and pays a monthly subscription checkout; returns (checkout, subscription).
async fn subscribe(sim: &Simulator, c: &RecurrenteClient, name: &str, price: Money) -> (String, String) {
    let item = CustomItem::new(name, price).recurring(RecurringTerms::new(Interval::monthly()));
    let ch = c.create_checkout(&CreateCheckout::new([item.into()])).await.unwrap().id;
    let su = sim
        .recurrente_pay(&ch, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    (ch, su)
}

#[tokio::test]
async fn subscriptions_are_read_listed_streamed_and_cancelled() {
    let sim = sim().await;
    let c = client(&sim);
    let (ch_a, su_a) = subscribe(&sim, &c, "Gold", gtq("50.00")).await;
    let (_, su_b) = subscribe(&sim, &c, "Silver", gtq("25.00")).await;
    let (_, su_c) = subscribe(&sim, &c, "Bronze", usd("5.00")).await;

    let a = c.get_subscription(&su_a).await.unwrap();
    assert_prefix(&a.id, "su_");
    assert_eq!(a.id, su_a);
    assert_eq!(a.status, Some(SubscriptionState::Active));
    assert_eq!(a.description.as_deref(), Some("Gold"));
    assert_eq!(a.checkout.unwrap().id, ch_a);
    assert_prefix(&a.product.unwrap().id, "prod_");
    assert_eq!(a.created_at, Some(start()));
    assert_eq!(a.current_period_start, Some(start()));
    assert_eq!(a.current_period_end, Some(months(start(), 1)));
    let subscriber = a.subscriber.unwrap();
    assert_prefix(&subscriber.id, "us_");
    assert_eq!(subscriber.email.as_deref(), Some("payer@example.com"));
    assert_eq!(subscriber.first_name.as_deref(), Some("Test"));
    assert_eq!(subscriber.last_name.as_deref(), Some("Payer"));

    let page = c.list_subscriptions(&ListParams::new()).await.unwrap();
    assert_eq!(
        page.items.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        [su_c.clone(), su_b.clone(), su_a.clone()]
    );
    let p1 = c.list_subscriptions(&ListParams::new().items(2)).await.unwrap();
    assert_eq!(p1.items.len(), 2);
    assert_eq!(p1.next_cursor.as_deref(), Some("2"));
    let streamed: Vec<_> = c
        .all_subscriptions(ListParams::new().items(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, page.items);

    let cancelled = c.cancel_subscription(&su_b).await.unwrap();
    assert_eq!(cancelled.message.as_deref(), Some("Suscripción cancelada"));
    assert_eq!(
        c.get_subscription(&su_b).await.unwrap().status,
        Some(SubscriptionState::Cancelled)
    );
    match c.cancel_subscription(&su_b).await {
        Err(Error::Rejected {
            status: 422,
            message: Some(m),
            ..
        }) => assert_eq!(m, "La suscripción ya está cancelada"),
        other => panic!("cancelling twice: {other:?}"),
    }
    // Renewals go on for the others only.
    let advanced = sim.advance(days(31)).unwrap();
    assert_eq!(advanced.transitions.len(), 2);
    let statuses: Vec<_> = c
        .all_subscriptions(ListParams::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.status.unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            SubscriptionState::Active,
            SubscriptionState::Cancelled,
            SubscriptionState::Active
        ]
    );
    assert_eq!(
        c.get_subscription(&su_a).await.unwrap().current_period_end,
        Some(months(start(), 2))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn users_prefill_checkouts_and_transfers_complete() {
    let sim = sim().await;
    let c = client(&sim);
    let user = c
        .create_user(&CreateUser::new("me@example.com", Some("Fela Kuti".into())))
        .await
        .unwrap();
    assert_prefix(&user.id, "us_");
    assert_eq!(user.email.as_deref(), Some("me@example.com"));
    let again = c.create_user(&CreateUser::new("me@example.com", None)).await.unwrap();
    assert_eq!(again.id, user.id, "one user per e-mail address");
    let other = c.create_user(&CreateUser::new("you@example.com", None)).await.unwrap();
    assert_ne!(other.id, user.id);
    assert_eq!(
        invalid_field(c.create_user(&CreateUser::new("nope", None)).await),
        "email"
    );
    // The simulator is stricter about the domain than the client: a 400 naming `email`.
    match c.create_user(&CreateUser::new("me@localhost", None)).await {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(field_errors.contains_key("email")),
        other => panic!("{other:?}"),
    }

    // The user pays their checkout: the subscriber is that user.
    let item = CustomItem::new("Gold", gtq("50")).recurring(RecurringTerms::new(Interval::monthly()));
    let ch = c
        .create_checkout(&CreateCheckout::new([item.into()]).user_id(&user.id))
        .await
        .unwrap();
    let su = sim
        .recurrente_pay(&ch.id, RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    let subscriber = c.get_subscription(&su).await.unwrap().subscriber.unwrap();
    assert_eq!(subscriber.id, user.id);
    assert_eq!(subscriber.email.as_deref(), Some("me@example.com"));
    assert_eq!(subscriber.full_name.as_deref(), Some("Fela Kuti"));

    let transfer = c
        .create_transfer(&CreateTransfer::new(gtq("123.45"), "@surf-office"))
        .await
        .unwrap();
    assert_prefix(&transfer.id, "tr_");
    assert_eq!(transfer.status, Some(TransferStatus::Completed));
    let second = c
        .create_transfer(&CreateTransfer::new(usd("0.01"), "@surf-office"))
        .await
        .unwrap();
    assert_ne!(second.id, transfer.id);
    assert_eq!(
        invalid_field(
            c.create_transfer(&CreateTransfer::new(Money::parse("1", Currency::EUR).unwrap(), "@x"))
                .await
        ),
        "currency"
    );
    assert_eq!(
        invalid_field(c.create_transfer(&CreateTransfer::new(gtq("0"), "@x")).await),
        "amount_in_cents"
    );
    assert_eq!(
        invalid_field(c.create_transfer(&CreateTransfer::new(gtq("1"), " ")).await),
        "recipient_id"
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Webhook endpoints and one-time payments

#[tokio::test]
async fn webhook_endpoint_secrets_verify_what_is_delivered_to_their_urls() {
    let inbox = inbox().await;
    let sim = sim().await;
    let c = client(&sim);
    let a = c
        .create_webhook_endpoint(
            &CreateWebhookEndpoint::new(inbox.url("a"))
                .description("orders")
                .metadata("team", "billing"),
        )
        .await
        .unwrap();
    assert_prefix(&a.id, "ep_");
    assert_eq!(a.url.as_deref(), Some(inbox.url("a").as_str()));
    assert_eq!(a.description.as_deref(), Some("orders"));
    assert_eq!(a.metadata.get("team"), Some(&json!("billing")));
    assert_eq!(a.disabled, Some(false));
    assert_eq!(a.created_at, Some(start()));
    let secret_a = a.signing_secret.clone().unwrap();
    assert!(secret_a.expose_secret().starts_with("whsec_"));
    assert!(
        !format!("{a:?}").contains(secret_a.expose_secret()),
        "Debug hides the secret"
    );
    let b = c
        .create_webhook_endpoint(&CreateWebhookEndpoint::new(inbox.url("b")))
        .await
        .unwrap();
    let secret_b = b.signing_secret.clone().unwrap();
    assert_ne!(secret_a.expose_secret(), secret_b.expose_secret());

    let listed = c.list_webhook_endpoints().await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        [b.id.clone(), a.id.clone()]
    );
    assert!(
        listed.iter().all(|e| e.signing_secret.is_none()),
        "the secret is shown once"
    );

    let ch = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]).metadata("order", "7"))
        .await
        .unwrap();
    sim.recurrente_pay(&ch.id, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;
    let (hits_a, hits_b) = (inbox.at("a"), inbox.at("b"));
    assert_eq!((hits_a.len(), hits_b.len()), (1, 1));
    let verifier_a = RecurrenteWebhookVerifier::new([secret_a.expose_secret()]).unwrap();
    let verifier_b = RecurrenteWebhookVerifier::new([secret_b.expose_secret()]).unwrap();
    let event = verifier_a.verify_event(&hits_a[0].headers, &hits_a[0].body).unwrap();
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(event.checkout_id.as_ref().unwrap().as_str(), ch.id);
    assert_eq!(event.id.as_str(), hits_a[0].header("svix-id"));
    assert_prefix(event.id.as_str(), "msg_");
    let payment = event.payment.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.amount, Some(gtq("30.00")));
    assert_eq!(hits_a[0].json()["checkout"]["metadata"], json!({"order": "7"}));
    verifier_b.verify(&hits_b[0].headers, &hits_b[0].body).unwrap();
    // Each endpoint's secret verifies its own deliveries only.
    assert_eq!(
        webhook_reason(verifier_b.verify(&hits_a[0].headers, &hits_a[0].body)),
        WebhookError::BadSignature
    );
    // The same message, the same id, at every endpoint.
    assert_eq!(hits_a[0].header("svix-id"), hits_b[0].header("svix-id"));
    assert_eq!(hits_a[0].body, hits_b[0].body);

    // Deleted: gone from the list, and no more deliveries.
    let deleted = c.delete_webhook_endpoint(&b.id).await.unwrap();
    assert_eq!(deleted.id, b.id);
    assert_eq!(deleted.url.as_deref(), Some(inbox.url("b").as_str()));
    let listed = c.list_webhook_endpoints().await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [a.id.as_str()]
    );
    assert!(matches!(
        c.delete_webhook_endpoint(&b.id).await,
        Err(Error::NotFound { .. })
    ));
    let ch = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]))
        .await
        .unwrap();
    sim.recurrente_pay(&ch.id, RecurrenteOutcome::CardDeclined).unwrap();
    sim.flush_webhooks().await;
    assert_eq!(inbox.types("a"), ["payment_intent.succeeded", "payment_intent.failed"]);
    assert_eq!(inbox.at("b").len(), 1);
    let failed = verifier_a
        .verify_event(&inbox.at("a")[1].headers, &inbox.at("a")[1].body)
        .unwrap();
    assert_eq!(failed.kind, EventKind::PaymentFailed);
    assert!(failed.payment.unwrap().failure_reason.unwrap().contains("rechazado"));
    assert!(
        sim.deliveries()
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Delivered { status: 200 })
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn one_time_payments_charge_the_card_a_paid_checkout_saved() {
    let inbox = inbox().await;
    let sim = sim_with_hook(&inbox.url("config")).await;
    let c = client(&sim);
    let g = gateway(&sim);
    let ch = c
        .create_checkout(&CreateCheckout::new([CustomItem::new("Banana", gtq("30")).into()]))
        .await
        .unwrap();
    let paid = sim.recurrente_pay(&ch.id, RecurrenteOutcome::CardSuccess).unwrap();
    let pm = c.get_checkout(&ch.id).await.unwrap().payment_method.unwrap().id;
    assert_prefix(&pm, "pay_m_");
    assert_eq!(Some(pm.as_str()), paid.payment_method_id.as_deref());

    // By amount: an unnamed item, twice.
    let by_amount = c
        .create_one_time_payment(&CreateOneTimePayment::new(
            &pm,
            [CustomItem::unnamed(gtq("12.34")).quantity(2).into()],
        ))
        .await
        .unwrap();
    assert_prefix(&by_amount.id, "on_");
    assert_eq!(by_amount.status, Some(OneTimePaymentStatus::Paid));

    // By product, three times.
    let product = c
        .create_product(&CreateProduct::new("Café", NewPrice::one_time(gtq("5.00"))))
        .await
        .unwrap();
    let by_product = c
        .create_one_time_payment(&CreateOneTimePayment::new(
            &pm,
            [LineItem::product_times(&product.id, 3)],
        ))
        .await
        .unwrap();
    assert_prefix(&by_product.id, "on_");
    assert_ne!(by_product.id, by_amount.id);
    assert_eq!(by_product.status, Some(OneTimePaymentStatus::Paid));

    // What was charged, as the payment webhooks tell it.
    sim.flush_webhooks().await;
    let events = verify_all(&g, &inbox, "config");
    assert_eq!(events.len(), 3);
    let hits = inbox.at("config");
    for (event, hit, id, cents) in [
        (&events[1], &hits[1], &by_amount.id, 2468),
        (&events[2], &hits[2], &by_product.id, 1500),
    ] {
        assert_eq!(event.kind, EventKind::PaymentSucceeded);
        assert_eq!(
            event.payment.as_ref().unwrap().amount,
            Some(Money::from_minor_units(cents, Currency::GTQ).unwrap())
        );
        let body = hit.json();
        assert_eq!(body["payment"]["paymentable"]["type"], "OneTimePayment");
        assert_eq!(body["payment"]["paymentable"]["id"], json!(id));
    }
    assert_eq!(hits[2].json()["product"]["id"], json!(product.id));

    // A declined charge is a 422 with the bank's reason, and the card works again after it.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/__sim/recurrente/payment_methods/{pm}/fail_next_charge",
            sim.base_url()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let req = CreateOneTimePayment::new(&pm, [CustomItem::unnamed(gtq("1.00")).into()]);
    match c.create_one_time_payment(&req).await {
        Err(Error::Rejected {
            status: 422,
            message: Some(m),
            ..
        }) => assert!(m.contains("rechazado"), "{m}"),
        other => panic!("a declined card: {other:?}"),
    }
    assert_eq!(
        c.create_one_time_payment(&req).await.unwrap().status,
        Some(OneTimePaymentStatus::Paid)
    );

    // Refused before sending: a subscription item; refused by the simulator: an unknown card.
    let recurring = CustomItem::new("Gold", gtq("50")).recurring(RecurringTerms::new(Interval::monthly()));
    assert_eq!(
        invalid_field(
            c.create_one_time_payment(&CreateOneTimePayment::new(&pm, [recurring.into()]))
                .await
        ),
        "items[0].charge_type"
    );
    match c
        .create_one_time_payment(&CreateOneTimePayment::new(
            "pay_m_nope",
            [CustomItem::unnamed(gtq("1")).into()],
        ))
        .await
    {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(field_errors.contains_key("payment_method_id"), "{field_errors:?}"),
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The gateway (the shared trait)

fn gold_plan() -> RecurringPlan {
    RecurringPlan::builder("Membresía Gold", gtq("50.00"), Interval::monthly())
        .build()
        .unwrap()
}

#[tokio::test]
async fn gateway_checkout_is_pending_then_active_renews_and_is_cancelled_by_the_merchant() {
    let inbox = inbox().await;
    let sim = sim_with_hook(&inbox.url("config")).await;
    let g = gateway(&sim);
    assert_eq!(g.id(), paycycle_core::GatewayId::RECURRENTE);
    let request = CheckoutRequest::new(gold_plan())
        .merchant_reference("order-42")
        .metadata("plan", "gold")
        .success_url(url("https://shop.example.com/ok"));
    let co = g.create_checkout(&request).await.unwrap();
    assert_prefix(co.id.as_str(), "ch_");
    assert_eq!(co.status, SubscriptionStatus::Pending);
    assert_eq!(co.subscription_id, None);
    assert_eq!(co.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(co.url, g.client().checkout_page_url(co.id.as_str()).unwrap());

    // What was sent: one recurring item, the reference in the metadata beside the app's.
    let wire = g.client().get_checkout(co.id.as_str()).await.unwrap();
    assert_eq!(wire.total(), Some(gtq("50.00")));
    assert_eq!(wire.metadata_str("paycycle_reference"), Some("order-42"));
    assert_eq!(wire.metadata_str("plan"), Some("gold"));
    assert_eq!(wire.success_url.as_deref(), Some("https://shop.example.com/ok"));

    let read = g.checkout(&co.id).await.unwrap();
    assert_eq!(read.status, SubscriptionStatus::Pending);
    assert_eq!(read.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(read.url, co.url);

    let paid = sim
        .recurrente_pay(co.id.as_str(), RecurrenteOutcome::CardSuccess)
        .unwrap();
    let read = g.checkout(&co.id).await.unwrap();
    assert_eq!(read.status, SubscriptionStatus::Active);
    let su = read.subscription_id.clone().unwrap();
    assert_prefix(su.as_str(), "su_");
    assert_eq!(Some(su.as_str()), paid.subscription_id.as_deref());

    let sub = g.subscription(&su).await.unwrap();
    assert_eq!(sub.id, su);
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(sub.checkout_id.as_ref(), Some(&co.id));
    assert_eq!(sub.created_at, Some(start()));
    assert_eq!(sub.current_period_end, Some(months(start(), 1)));
    let found = g.subscription_for_checkout(&co.id).await.unwrap().unwrap();
    assert_eq!(found.id, su);

    // Two renewals on the virtual clock.
    for (i, n) in [(1u32, 31), (2, 31)] {
        let advanced = sim.advance(days(n)).unwrap();
        assert_eq!(advanced.transitions.len(), 1, "renewal {i}");
        assert!(matches!(advanced.transitions[0].kind, TransitionKind::Charged { .. }));
        let sub = g.subscription(&su).await.unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Active);
        assert_eq!(sub.current_period_end, Some(months(start(), i + 1)));
    }

    let cancelled = g.cancel_subscription(&su).await.unwrap();
    assert_eq!(
        cancelled.status,
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Merchant
        }
    );
    assert_eq!(cancelled.merchant_reference.as_deref(), Some("order-42"));
    assert_eq!(
        g.subscription(&su).await.unwrap().status,
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Unknown
        },
        "read later, Recurrente does not say who cancelled"
    );
    assert!(
        sim.advance(days(100)).unwrap().transitions.is_empty(),
        "no more renewals"
    );
    assert!(matches!(
        g.cancel_subscription(&su).await,
        Err(Error::Rejected { status: 422, .. })
    ));

    // Every webhook verifies with the gateway and tells the same story.
    sim.flush_webhooks().await;
    let events = verify_all(&g, &inbox, "config");
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        [
            EventKind::PaymentSucceeded,
            EventKind::SubscriptionStarted,
            EventKind::PaymentSucceeded,
            EventKind::PaymentSucceeded,
            EventKind::SubscriptionCancelled
        ]
    );
    for e in &events {
        assert_eq!(e.gateway, paycycle_core::GatewayId::RECURRENTE);
        assert_eq!(e.subscription_id.as_ref(), Some(&su));
        assert_eq!(e.merchant_reference.as_deref(), Some("order-42"), "{:?}", e.kind);
        assert_eq!(e.checkout_id.as_ref(), Some(&co.id));
    }
    let payments: Vec<_> = events.iter().filter_map(|e| e.payment.clone()).collect();
    assert_eq!(payments.len(), 3);
    let payment_ids: HashSet<_> = payments.iter().map(|p| p.id.clone().unwrap()).collect();
    assert_eq!(payment_ids.len(), 3, "a new payment each period");
    assert!(payments.iter().all(|p| p.amount == Some(gtq("50.00"))));
    assert_eq!(
        events.iter().map(|e| e.occurred_at.unwrap()).collect::<Vec<_>>()[2..4],
        [months(start(), 1), months(start(), 2)]
    );
    assert_eq!(events[1].subscription_status, Some(SubscriptionStatus::Active));
    let event_ids: HashSet<_> = events.iter().map(|e| e.id.as_str().to_owned()).collect();
    assert_eq!(event_ids.len(), 5, "one svix-id per event");
    sim.shutdown().await;
}

#[tokio::test]
async fn gateway_subscriptions_are_paged_with_the_limit() {
    let sim = sim().await;
    let g = gateway(&sim);
    let mut created = Vec::new();
    for i in 0..5 {
        let co = g
            .create_checkout(&CheckoutRequest::new(gold_plan()).merchant_reference(format!("order-{i}")))
            .await
            .unwrap();
        let su = sim
            .recurrente_pay(co.id.as_str(), RecurrenteOutcome::CardSuccess)
            .unwrap()
            .subscription_id
            .unwrap();
        created.push((co.id, su));
    }
    let newest_first: Vec<String> = created.iter().rev().map(|(_, su)| su.clone()).collect();

    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = g
            .subscriptions(PageRequest {
                cursor: cursor.clone(),
                limit: Some(2),
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        pages.push(page.items.iter().map(|s| s.id.as_str().to_owned()).collect::<Vec<_>>());
        for s in &page.items {
            assert_eq!(s.status, SubscriptionStatus::Active);
            let (ch, _) = created.iter().find(|(_, su)| su == s.id.as_str()).unwrap();
            assert_eq!(s.checkout_id.as_ref(), Some(ch));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 10, "the cursor must end");
    }
    assert_eq!(
        pages,
        [
            newest_first[0..2].to_vec(),
            newest_first[2..4].to_vec(),
            newest_first[4..].to_vec()
        ]
    );
    let first = g
        .subscriptions(PageRequest {
            cursor: None,
            limit: Some(2),
        })
        .await
        .unwrap();
    assert_eq!(first.next_cursor.as_deref(), Some("2"));
    let all: Vec<_> = g.all_subscriptions().try_collect().await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str().to_owned()).collect::<Vec<_>>(),
        newest_first
    );
    assert!(matches!(
        g.subscriptions(PageRequest {
            cursor: Some("next".into()),
            limit: None,
        })
        .await,
        Err(Error::InvalidInput { .. })
    ));
    // The reference is read from each subscription's checkout when one is asked for by id.
    let one = g.subscription(&SubscriptionId::new(&newest_first[0])).await.unwrap();
    assert_eq!(one.merchant_reference.as_deref(), Some("order-4"));
    sim.shutdown().await;
}

#[tokio::test]
async fn gateway_webhooks_refuse_tampered_bodies_stale_timestamps_and_wrong_secrets() {
    let inbox = inbox().await;
    let sim = sim_with_hook(&inbox.url("config")).await;
    let g = gateway(&sim);
    let co = g
        .create_checkout(&CheckoutRequest::new(gold_plan()).merchant_reference("order-9"))
        .await
        .unwrap();
    sim.recurrente_pay(co.id.as_str(), RecurrenteOutcome::CardSuccess)
        .unwrap();
    sim.flush_webhooks().await;
    let hits = inbox.at("config");
    assert_eq!(hits.len(), 2);
    let hit = &hits[0];
    let event = g.verify_webhook(&hit.headers, &hit.body).unwrap();
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(event.provider_type, "payment_intent.succeeded");
    assert_eq!(event.merchant_reference.as_deref(), Some("order-9"));
    assert_eq!(event.raw.json().as_bytes(), &hit.body[..], "the body as delivered");

    // One changed byte anywhere in the body.
    for i in [0, hit.body.len() / 2, hit.body.len() - 1] {
        let mut tampered = hit.body.clone();
        tampered[i] ^= 0x01;
        assert_eq!(
            webhook_reason(g.verify_webhook(&hit.headers, &tampered)),
            WebhookError::BadSignature,
            "byte {i}"
        );
    }
    // Another body under the same headers.
    assert_eq!(
        webhook_reason(g.verify_webhook(&hit.headers, &hits[1].body)),
        WebhookError::BadSignature
    );

    // A verifier whose clock is 10 minutes ahead sees a stale message.
    let ahead = Arc::new(FixedClock(Utc::now() + Duration::minutes(10)));
    let late = RecurrenteWebhookVerifier::new([sim.recurrente_webhook_secret()])
        .unwrap()
        .with_clock(ahead);
    match webhook_reason(late.verify(&hit.headers, &hit.body)) {
        WebhookError::StaleTimestamp {
            age_secs,
            tolerance_secs,
        } => {
            assert_eq!(tolerance_secs, 300);
            assert!((590..=620).contains(&age_secs), "{age_secs}");
        }
        other => panic!("{other:?}"),
    }
    let behind = RecurrenteWebhookVerifier::new([sim.recurrente_webhook_secret()])
        .unwrap()
        .with_clock(Arc::new(FixedClock(Utc::now() - Duration::minutes(10))));
    assert!(matches!(
        webhook_reason(behind.verify(&hit.headers, &hit.body)),
        WebhookError::FutureTimestamp { .. }
    ));

    // A gateway with another secret, and one with none.
    let other_config = RecurrenteConfig::builder()
        .public_key(sim.recurrente_public_key())
        .secret_key(sim.recurrente_secret_key())
        .webhook_secret("whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXk=")
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let other = RecurrenteGateway::new(&other_config).unwrap();
    assert_eq!(
        webhook_reason(other.verify_webhook(&hit.headers, &hit.body)),
        WebhookError::BadSignature
    );
    let no_secret = RecurrenteConfig::builder()
        .public_key(sim.recurrente_public_key())
        .secret_key(sim.recurrente_secret_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    assert!(matches!(
        RecurrenteGateway::new(&no_secret)
            .unwrap()
            .verify_webhook(&hit.headers, &hit.body),
        Err(Error::Config { .. })
    ));
    // Without the signature header.
    let mut unsigned = hit.headers.clone();
    unsigned.remove("svix-signature");
    assert!(matches!(
        webhook_reason(g.verify_webhook(&unsigned, &hit.body)),
        WebhookError::MissingHeader(_)
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn gateway_follows_bank_transfers_and_failed_renewals() {
    let inbox = inbox().await;
    let sim = sim_with_hook(&inbox.url("config")).await;
    let g = gateway(&sim);
    let co = g
        .create_checkout(&CheckoutRequest::new(gold_plan()).merchant_reference("bank-1"))
        .await
        .unwrap();
    let pending = sim
        .recurrente_pay(co.id.as_str(), RecurrenteOutcome::BankTransferPending)
        .unwrap();
    assert_eq!(pending.checkout_status, "payment_in_progress");
    let read = g.checkout(&co.id).await.unwrap();
    assert_eq!(read.status, SubscriptionStatus::Pending, "the transfer is on its way");
    assert_eq!(read.subscription_id, None);
    let wire = g.client().get_checkout(co.id.as_str()).await.unwrap();
    assert_eq!(wire.status, Some(CheckoutStatus::PaymentInProgress));

    let bank = pending.bank_transfer_intent_id.unwrap();
    assert_prefix(&bank, "ba_");
    sim.recurrente_settle_bank_transfer(&bank, true).unwrap();
    let read = g.checkout(&co.id).await.unwrap();
    assert_eq!(read.status, SubscriptionStatus::Active);
    let su = read.subscription_id.unwrap();
    let method = g
        .client()
        .get_checkout(co.id.as_str())
        .await
        .unwrap()
        .payment_method
        .unwrap();
    assert_eq!(method.kind, Some(PaymentMethodType::BankTransferReceiver));

    // The next renewal fails: past due; the retry 3 days later succeeds.
    sim.recurrente_fail_next_charge(su.as_str(), 1).unwrap();
    sim.advance(days(31)).unwrap();
    assert_eq!(g.subscription(&su).await.unwrap().status, SubscriptionStatus::PastDue);
    sim.advance(days(3)).unwrap();
    assert_eq!(g.subscription(&su).await.unwrap().status, SubscriptionStatus::Active);

    sim.flush_webhooks().await;
    let events = verify_all(&g, &inbox, "config");
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        [
            EventKind::PaymentPending,
            EventKind::PaymentSucceeded,
            EventKind::SubscriptionStarted,
            EventKind::PaymentFailed,
            EventKind::SubscriptionPastDue,
            EventKind::PaymentSucceeded
        ]
    );
    assert_eq!(events[4].subscription_status, Some(SubscriptionStatus::PastDue));
    assert!(events[3].payment.as_ref().unwrap().failure_reason.is_some());
    assert!(events.iter().all(|e| e.merchant_reference.as_deref() == Some("bank-1")));
    sim.shutdown().await;
}

#[tokio::test]
async fn gateway_creates_the_customer_as_a_user_and_refuses_what_it_cannot_do_before_sending() {
    let sim = sim().await;
    let g = gateway(&sim);
    let trial = RecurringPlan::builder("Gold", gtq("50.00"), Interval::monthly())
        .trial(Interval::weekly())
        .end_after_periods(6)
        .build()
        .unwrap();
    let customer = Customer {
        email: Some("ana@example.com".into()),
        name: Some("Ana López".into()),
    };
    let co = g
        .create_checkout(&CheckoutRequest::new(trial).customer(customer))
        .await
        .unwrap();
    let reference = co.merchant_reference.clone().unwrap();
    assert!(reference.starts_with("pc_"), "a generated reference: {reference}");
    let mine = g
        .client()
        .create_user(&CreateUser::new("ana@example.com", None))
        .await
        .unwrap();
    let listed = g
        .client()
        .list_checkouts(&ListCheckouts::new().user_id(&mine.id))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "the checkout is the user's");
    assert_eq!(listed.items[0].id, co.id.as_str());
    assert_eq!(
        listed.items[0].metadata_str("paycycle_reference"),
        Some(reference.as_str())
    );
    let su = sim
        .recurrente_pay(co.id.as_str(), RecurrenteOutcome::CardSuccess)
        .unwrap()
        .subscription_id
        .unwrap();
    let wire = g.client().get_subscription(&su).await.unwrap();
    assert_eq!(wire.subscriber.unwrap().full_name.as_deref(), Some("Ana López"));
    assert_eq!(wire.current_period_end, Some(start() + days(7)), "the trial");
    let price = g.client().get_product(&wire.product.unwrap().id).await.unwrap().prices[0].clone();
    assert_eq!(price.trial(), Some(Interval::weekly()));
    assert_eq!(price.periods_before_automatic_cancellation, Some(6));

    // Refused before anything is sent.
    let before = all_checkouts(g.client()).await.len();
    let eur = RecurringPlan::builder("Gold", Money::parse("50", Currency::EUR).unwrap(), Interval::monthly())
        .build()
        .unwrap();
    assert!(matches!(
        g.create_checkout(&CheckoutRequest::new(eur)).await,
        Err(Error::Unsupported { .. })
    ));
    let intro = RecurringPlan::builder("Gold", gtq("50"), Interval::monthly())
        .intro_offer(gtq("10"), 30)
        .build()
        .unwrap();
    assert!(matches!(
        g.create_checkout(&CheckoutRequest::new(intro)).await,
        Err(Error::Unsupported { .. })
    ));
    let nameless = Customer {
        email: None,
        name: Some("Sin correo".into()),
    };
    assert_eq!(
        invalid_field(
            g.create_checkout(&CheckoutRequest::new(gold_plan()).customer(nameless))
                .await
        ),
        "customer.email"
    );
    assert_eq!(
        invalid_field(
            g.create_checkout(
                &CheckoutRequest::new(gold_plan())
                    .merchant_reference("a")
                    .metadata("paycycle_reference", "b")
            )
            .await
        ),
        "metadata.paycycle_reference"
    );
    assert_eq!(all_checkouts(g.client()).await.len(), before, "nothing was sent");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Error shapes

#[tokio::test]
async fn unknown_ids_are_not_found_and_simulator_refusals_are_rejected_with_the_message() {
    let sim = sim().await;
    let c = client(&sim);
    let g = gateway(&sim);
    let not_found = |r: paycycle_core::Result<()>, resource: &str, id: &str| match r {
        Err(Error::NotFound {
            resource: res, id: i, ..
        }) => assert_eq!((res.as_str(), i.as_str()), (resource, id)),
        other => panic!("{resource} {id}: expected NotFound, got {other:?}"),
    };
    not_found(c.get_checkout("ch_nope").await.map(drop), "checkout", "ch_nope");
    not_found(
        c.update_checkout("ch_nope", &UpdateCheckout::new().metadata(Metadata::new()))
            .await
            .map(drop),
        "checkout",
        "ch_nope",
    );
    not_found(c.get_product("prod_nope").await.map(drop), "product", "prod_nope");
    not_found(
        c.update_product("prod_nope", &UpdateProduct::new().name("x"))
            .await
            .map(drop),
        "product",
        "prod_nope",
    );
    not_found(c.delete_product("prod_nope").await.map(drop), "product", "prod_nope");
    not_found(c.get_coupon("coup_nope").await.map(drop), "coupon", "coup_nope");
    not_found(c.delete_coupon("coup_nope").await.map(drop), "coupon", "coup_nope");
    not_found(c.get_subscription("su_nope").await.map(drop), "subscription", "su_nope");
    not_found(
        c.cancel_subscription("su_nope").await.map(drop),
        "subscription",
        "su_nope",
    );
    not_found(c.get_refund("re_nope").await.map(drop), "refund", "re_nope");
    not_found(
        c.delete_webhook_endpoint("ep_nope").await.map(drop),
        "webhook endpoint",
        "ep_nope",
    );
    assert!(matches!(
        g.checkout(&paycycle_core::CheckoutId::new("ch_nope")).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        g.subscription(&SubscriptionId::new("su_nope")).await,
        Err(Error::NotFound { .. })
    ));

    // A 400 from the simulator: an unknown product in a checkout.
    let req = CreateCheckout::new([LineItem::product("prod_nope")]);
    match c.create_checkout(&req).await {
        Err(e @ Error::Rejected { .. }) => {
            assert!(!e.is_retryable());
            let Error::Rejected {
                status,
                message,
                field_errors,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!(status, 400);
            assert_eq!(
                message.as_deref(),
                Some("items[0].product_id `prod_nope` is not an existing product")
            );
            assert_eq!(
                field_errors.get("items[0].product_id"),
                Some(&vec!["`prod_nope` is not an existing product".to_owned()])
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    // An unknown user, another body id.
    match c
        .create_checkout(&CreateCheckout::new([CustomItem::new("x", gtq("5")).into()]).user_id("us_nobody"))
        .await
    {
        Err(Error::Rejected {
            status: 400,
            message: Some(m),
            ..
        }) => assert!(m.starts_with("user_id"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Recurring items of one checkout share one schedule (a sign-up fee beside them is fine:
    // see the simulator's own tests); two intervals are refused, naming the item.
    let gold = CustomItem::new("Gold", gtq("50")).recurring(RecurringTerms::new(Interval::monthly()));
    let weekly = CustomItem::new("Extra", gtq("10")).recurring(RecurringTerms::new(Interval::weekly()));
    match c
        .create_checkout(&CreateCheckout::new([gold.into(), weekly.into()]))
        .await
    {
        Err(Error::Rejected {
            status: 400,
            field_errors,
            ..
        }) => assert!(field_errors.keys().any(|k| k.starts_with("items")), "{field_errors:?}"),
        other => panic!("{other:?}"),
    }
    assert!(all_checkouts(&c).await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn client_validation_names_the_field_sends_nothing_and_matches_the_simulator() {
    let sim = sim().await;
    let c = client(&sim);
    let banana = || CustomItem::new("Banana", gtq("30"));
    let many: Metadata = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let raw_item = || json!({"name": "Banana", "currency": "GTQ", "amount_in_cents": 3000});
    let raw_many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases: Vec<(&str, CreateCheckout, Value)> = vec![
        (
            "items[0].quantity",
            CreateCheckout::new([banana().quantity(10).into()]),
            json!({"items": [{"name": "Banana", "currency": "GTQ", "amount_in_cents": 3000, "quantity": 10}]}),
        ),
        (
            "metadata",
            {
                let mut r = CreateCheckout::new([banana().into()]);
                r.metadata = many;
                r
            },
            json!({"items": [raw_item()], "metadata": raw_many}),
        ),
        (
            "items[0].currency",
            CreateCheckout::new([CustomItem::new("Banana", Money::parse("30", Currency::EUR).unwrap()).into()]),
            json!({"items": [{"name": "Banana", "currency": "EUR", "amount_in_cents": 3000}]}),
        ),
        (
            "items[0].amount_in_cents",
            CreateCheckout::new([CustomItem::new("Banana", gtq("0.005")).into()]),
            json!({"items": [{"name": "Banana", "currency": "GTQ", "amount_in_cents": 0.5}]}),
        ),
        (
            "items[0].metadata.k",
            CreateCheckout::new([banana().metadata("k", "x".repeat(501)).into()]),
            json!({"items": [{"name": "Banana", "currency": "GTQ", "amount_in_cents": 3000,
                              "metadata": {"k": "x".repeat(501)}}]}),
        ),
        (
            "items[1].currency",
            CreateCheckout::new([banana().into(), CustomItem::new("B", usd("1")).into()]),
            json!({"items": [raw_item(), {"name": "B", "currency": "USD", "amount_in_cents": 100}]}),
        ),
    ];
    for (field, req, wire) in cases {
        match c.create_checkout(&req).await {
            Err(Error::InvalidInput { field: f, reason }) => {
                assert_eq!(f, field, "client: {reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("the client should refuse {field}: {other:?}"),
        }
        // The simulator refuses the same request when it is sent anyway, naming the same field.
        let (status, body) = raw_post(&sim, "/api/checkouts", &wire).await;
        assert_eq!(status, 400, "simulator, {wire}: {body}");
        assert!(
            body["errors"].as_object().unwrap().contains_key(field),
            "the simulator names {field}: {body}"
        );
    }
    assert_eq!(
        invalid_field(c.create_checkout(&CreateCheckout::new([])).await),
        "items"
    );
    assert_eq!(
        invalid_field(
            c.create_checkout(&CreateCheckout::new([banana().quantity(0).into()]))
                .await
        ),
        "items[0].quantity"
    );
    assert!(
        c.list_checkouts(&ListCheckouts::new()).await.unwrap().items.is_empty(),
        "nothing reached the simulator"
    );
    // Path ids are checked too.
    assert_eq!(invalid_field(c.get_checkout("").await), "id");
    assert_eq!(invalid_field(c.get_product("..").await), "id");
    assert_eq!(invalid_field(c.get_subscription(" su_1").await), "id");
    sim.shutdown().await;
}
