//! Secrets proven absent: every config, gateway, client, verifier and error built with known
//! secret values is printed (`Debug`, `Display`), serialized where it can be, and exercised in a
//! failing call, a retried call and a rejected webhook under a tracing subscriber that records
//! every event and span field. None of the secrets may appear anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use http::HeaderMap;
use paycycle::GatewayConfig;
use paycycle_core::{Currency, Money, RecurringGateway, SubscriptionId};
use paycycle_cryptomus::{CryptomusClient, CryptomusConfig, CryptomusGateway, CryptomusWebhookVerifier};
use paycycle_ledger::Ledger;
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway, RecurrenteWebhookVerifier};
use paycycle_sim::{Fault, SimConfig, Simulator};
use secrecy::SecretString;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const PAYMENT_KEY: &str = "cm-SECRET-payment-key-5d1e";
const SECRET_KEY: &str = "sk_test_SECRET_secret_key_8c2d";
const PUBLIC_KEY: &str = "pk_test_SECRET_public_key_77aa";
const WEBHOOK_KEY: &[u8] = b"SECRET-webhook-signing-key-0042";
const DB_PASSWORD: &str = "dbSECRETpassword9";

fn webhook_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(WEBHOOK_KEY)
    )
}

/// Every spelling of a secret that would count as a leak.
fn needles() -> Vec<String> {
    let whsec = webhook_secret();
    vec![
        PAYMENT_KEY.to_owned(),
        SECRET_KEY.to_owned(),
        PUBLIC_KEY.to_owned(),
        whsec.trim_start_matches("whsec_").to_owned(),
        String::from_utf8_lossy(WEBHOOK_KEY).into_owned(),
        DB_PASSWORD.to_owned(),
        "SECRET".to_owned(), // every value above carries it: catches partial copies, too
    ]
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for needle in needles() {
        assert!(!text.contains(&needle), "{what} leaks a secret ({needle}): {text}");
    }
}

#[track_caller]
fn debug_clean(what: &str, value: &dyn std::fmt::Debug) {
    let text = format!("{value:?} {value:#?}");
    assert!(!text.is_empty());
    assert_clean(what, &text);
}

#[track_caller]
fn error_clean(what: &str, e: &(dyn std::error::Error + 'static)) {
    let mut text = format!("{e} {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, " | {s} {s:?}");
        source = s.source();
    }
    assert_clean(what, &text);
}

// ---- a tracing subscriber that records everything ----------------------------------------

#[derive(Default)]
struct Recorder {
    text: Mutex<String>,
    next_id: Mutex<u64>,
}

struct Collect<'a>(&'a mut String);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl Recorder {
    fn push(&self, f: impl FnOnce(&mut String)) {
        let mut text = self.text.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut text);
        text.push('\n');
    }
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.push(|t| {
            t.push_str(span.metadata().name());
            span.record(&mut Collect(t));
        });
        let mut id = self.next_id.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *id += 1;
        Id::from_u64(*id)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        self.push(|t| values.record(&mut Collect(t)));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        self.push(|t| {
            t.push_str(event.metadata().target());
            event.record(&mut Collect(t));
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::default());
        tracing::subscriber::set_global_default(r).expect("one global subscriber per test binary");
        r
    })
}

// ---- the simulator and clients, all on the known secrets -----------------------------------

async fn sim() -> Simulator {
    let mut config = SimConfig::default();
    config.cryptomus_payment_key = PAYMENT_KEY.into();
    config.recurrente_secret_key = SECRET_KEY.into();
    config.recurrente_public_key = PUBLIC_KEY.into();
    config.recurrente_webhook_secret = webhook_secret();
    Simulator::start(config).await.unwrap()
}

fn cryptomus_config(sim: &Simulator, key: &str) -> CryptomusConfig {
    CryptomusConfig::builder()
        .merchant_id(sim.cryptomus_merchant_id())
        .payment_key(key.to_owned())
        .base_url(sim.base_url())
        .max_retries(2)
        .retry_backoff(std::time::Duration::from_millis(1))
        .build()
        .unwrap()
}

fn recurrente_config(sim: &Simulator, secret_key: &str) -> RecurrenteConfig {
    RecurrenteConfig::builder()
        .public_key(PUBLIC_KEY)
        .secret_key(secret_key)
        .webhook_secret(webhook_secret())
        .base_url(sim.base_url())
        .max_retries(2)
        .build()
        .unwrap()
}

#[tokio::test]
async fn no_secret_reaches_debug_display_serde_or_logs() {
    let log = recorder();
    let sim = sim().await;

    // Configs, clients, gateways, verifiers.
    let c_config = cryptomus_config(&sim, PAYMENT_KEY);
    let r_config = recurrente_config(&sim, SECRET_KEY);
    debug_clean("CryptomusConfig", &c_config);
    debug_clean("RecurrenteConfig", &r_config);
    debug_clean("CryptomusClient", &CryptomusClient::new(c_config.clone()).unwrap());
    debug_clean("RecurrenteClient", &RecurrenteClient::new(&r_config).unwrap());
    let cryptomus = CryptomusGateway::new(c_config.clone()).unwrap();
    let recurrente = RecurrenteGateway::new(&r_config).unwrap();
    debug_clean("CryptomusGateway", &cryptomus);
    debug_clean("RecurrenteGateway", &recurrente);
    debug_clean(
        "CryptomusWebhookVerifier",
        &CryptomusWebhookVerifier::new(SecretString::from(PAYMENT_KEY)),
    );
    debug_clean(
        "RecurrenteWebhookVerifier",
        &RecurrenteWebhookVerifier::new([webhook_secret()]).unwrap(),
    );
    debug_clean("SimConfig", &{
        let mut c = SimConfig::default();
        c.cryptomus_payment_key = PAYMENT_KEY.into();
        c.recurrente_secret_key = SECRET_KEY.into();
        c.recurrente_webhook_secret = webhook_secret();
        c
    });

    // The facade's config, read from JSON as an app would.
    let json = serde_json::json!([
        {"gateway": "recurrente", "public_key": PUBLIC_KEY, "secret_key": SECRET_KEY,
         "webhook_secrets": [webhook_secret()], "base_url": sim.base_url().to_string()},
        {"gateway": "cryptomus", "merchant_id": sim.cryptomus_merchant_id(), "payment_key": PAYMENT_KEY,
         "base_url": sim.base_url().to_string()}
    ]);
    let configs: Vec<GatewayConfig> = serde_json::from_value(json).unwrap();
    for config in &configs {
        debug_clean("GatewayConfig", config);
        let gateway = config.build().unwrap();
        debug_clean("a built gateway", &gateway);
    }

    // A failing call: wrong keys (401), errors printed and serialized where they can be.
    let wrong_c = CryptomusGateway::new(cryptomus_config(&sim, "cm-SECRET-wrong-key")).unwrap();
    let e = wrong_c.subscription(&SubscriptionId::new("x")).await.unwrap_err();
    assert!(matches!(e, paycycle_core::Error::Authentication { .. }), "{e}");
    error_clean("a Cryptomus 401", &e);
    let wrong_r = RecurrenteGateway::new(&recurrente_config(&sim, "sk_test_SECRET_wrong")).unwrap();
    let e = wrong_r.subscription(&SubscriptionId::new("su_x")).await.unwrap_err();
    assert!(matches!(e, paycycle_core::Error::Authentication { .. }), "{e}");
    error_clean("a Recurrente 401", &e);

    // A retried call: a 503 then the real answer.
    let before = log.text.lock().unwrap().len();
    sim.inject_fault(Fault::html("/api/subscriptions", 503).times(1));
    let page = recurrente.subscriptions(paycycle_core::PageRequest::default()).await;
    assert!(page.is_ok(), "{page:?}");
    sim.inject_fault(Fault::html("/v1/recurrence/list", 503).times(1));
    let page = cryptomus.subscriptions(paycycle_core::PageRequest::default()).await;
    assert!(page.is_ok(), "{page:?}");
    let retried = log.text.lock().unwrap()[before..].to_owned();
    assert!(retried.contains("retr"), "the retries were logged: {retried}");

    // A checkout: its serde output and the gateway's answer carry no secret.
    let plan = paycycle_core::RecurringPlan::builder(
        "Gold",
        Money::parse("15.00", Currency::USD).unwrap(),
        paycycle_core::Interval::monthly(),
    )
    .build()
    .unwrap();
    let request = paycycle_core::CheckoutRequest::new(plan).merchant_reference("order-secrets-1");
    let checkout = cryptomus.create_checkout(&request).await.unwrap();
    assert_clean("a Checkout as JSON", &serde_json::to_string(&checkout).unwrap());
    debug_clean("a Checkout", &checkout);

    // Rejected webhooks: a wrong signature on both gateways.
    let mut headers = HeaderMap::new();
    headers.insert("svix-id", "msg_1".parse().unwrap());
    headers.insert("svix-timestamp", chrono::Utc::now().timestamp().into());
    headers.insert("svix-signature", "v1,AAAA".parse().unwrap());
    let e = recurrente
        .verify_webhook(&headers, br#"{"event_type":"x"}"#)
        .unwrap_err();
    error_clean("a rejected Recurrente webhook", &e);
    let e = cryptomus
        .verify_webhook(&HeaderMap::new(), br#"{"uuid":"u","status":"paid","sign":"00"}"#)
        .unwrap_err();
    error_clean("a rejected Cryptomus webhook", &e);
    // A valid one: the event (and its JSON) carries the payload, not the keys.
    let signed = paycycle_cryptomus::sign::sign_webhook(
        br#"{"type":"payment","uuid":"u1","order_id":"o1","amount":"1","currency":"USD","status":"paid"}"#,
        PAYMENT_KEY,
    )
    .unwrap();
    let event = cryptomus.verify_webhook(&HeaderMap::new(), signed.as_bytes()).unwrap();
    assert_clean("a WebhookEvent as JSON", &serde_json::to_string(&event).unwrap());

    // Config errors: a malformed webhook secret is not echoed back.
    let e = RecurrenteWebhookVerifier::new(["whsec_SECRET!!not base64"]).unwrap_err();
    error_clean("a bad webhook secret", &e);
    let e = RecurrenteConfig::builder()
        .secret_key(SECRET_KEY)
        .webhook_secret("whsec_SECRET!!not base64")
        .build();
    if let Err(e) = e {
        error_clean("a bad RecurrenteConfig", &e);
    }

    // The ledger: a database URL with a password, in Debug and in a connect error.
    let url = format!("postgres://app:{DB_PASSWORD}@127.0.0.1:1/paycycle");
    let builder = Ledger::builder(url.clone());
    debug_clean("LedgerBuilder", &builder);
    let e = Ledger::builder(url).connect().await.unwrap_err();
    error_clean("a ledger connect error", &e);
    let e = Ledger::builder(format!("postgres://app:{DB_PASSWORD}@[bad"))
        .connect()
        .await
        .unwrap_err();
    error_clean("a ledger URL error", &e);

    sim.flush_webhooks().await;
    sim.shutdown().await;
    let all = log.text.lock().unwrap().clone();
    assert!(all.lines().count() > 3, "the subscriber saw the calls: {all}");
    assert_clean("the tracing output", &all);
}

#[test]
fn signature_comparison_does_not_stop_at_the_first_difference() {
    // The compare is `subtle::ConstantTimeEq` (paycycle_cryptomus::sign::signatures_match and the
    // Svix verifier's `ct_eq`): equal-length inputs are compared in full. A short-circuiting
    // compare would answer a first-byte difference and a last-byte difference differently in
    // time, not in result, so this checks the contract the code relies on: the result depends
    // on every byte, and unequal lengths are refused without comparing.
    let a = "0123456789abcdef0123456789abcdef";
    assert!(paycycle_cryptomus::sign::signatures_match(a, a));
    for i in 0..a.len() {
        let mut b = a.as_bytes().to_vec();
        b[i] = b'x';
        let b = String::from_utf8(b).unwrap();
        assert!(
            !paycycle_cryptomus::sign::signatures_match(a, &b),
            "byte {i} was not compared"
        );
    }
    assert!(!paycycle_cryptomus::sign::signatures_match(a, &a[..31]));
}
