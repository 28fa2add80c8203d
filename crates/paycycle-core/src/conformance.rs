//! The behaviour every backend must show through the shared API (feature `conformance`).
//!
//! One suite, run against every gateway: the in-memory fake, Cryptomus over the simulator,
//! Recurrente over the simulator, or your own backend. A [`Harness`] supplies what the trait
//! cannot: acting as the payer, moving time, and the webhooks the app received. Differences
//! between gateways are read from [`Capabilities`](crate::Capabilities), never by skipping a
//! backend: an option a gateway lacks must be refused as `Unsupported`, and one it has must work.
//!
//! Each check returns `Err(Failure)` with a message instead of panicking, so it can run from
//! any test harness:
//!
//! ```text
//! #[tokio::test]
//! async fn my_gateway_conforms() {
//!     let h = MyHarness::start().await;
//!     paycycle_core::conformance::run_all(&h).await.unwrap();
//! }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use crate::{
    Checkout, CheckoutRequest, Currency, Customer, Error, EventKind, Interval, IntervalUnit, Money, RecurringGateway,
    RecurringGatewayExt, RecurringPlan, SubscriptionId, SubscriptionStatus, WebhookEvent,
};

/// A failed conformance check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(format!("unexpected error: {e}"))
    }
}

fn fail<T>(msg: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(msg.into()))
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return fail(format!($($msg)+));
        }
    };
}

/// A webhook as the app received it: headers and the exact body bytes.
#[derive(Debug, Clone)]
pub struct RawWebhook {
    /// The request headers.
    pub headers: http::HeaderMap,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// What the suite needs besides the gateway.
#[async_trait]
pub trait Harness: Send + Sync + fmt::Debug {
    /// The gateway under test.
    fn gateway(&self) -> Arc<dyn RecurringGateway>;
    /// The currency plans are priced in on this backend.
    fn currency(&self) -> Currency;
    /// Adds what every request to this backend needs (e.g. the webhook callback URL).
    fn prepare(&self, request: CheckoutRequest) -> CheckoutRequest;
    /// The payer completes the checkout successfully (accepts, pays the first time).
    async fn complete_checkout(&self, checkout: &Checkout) -> Result<(), Failure>;
    /// Moves the gateway's time forward to `to` and processes what falls due.
    async fn advance_to(&self, to: DateTime<Utc>) -> Result<(), Failure>;
    /// The gateway's current time.
    fn now(&self) -> DateTime<Utc>;
    /// Delivers everything due, then returns every webhook the app received so far, in order,
    /// exactly as received (the suite verifies each with the gateway).
    async fn received(&self) -> Vec<RawWebhook>;
}

/// The suite's view of what a story produced: per step, the subscription's status and the
/// sorted kinds of the events that step caused. Equal across backends for the same story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// `(step, status, event kinds)`.
    pub steps: Vec<(String, String, Vec<String>)>,
}

/// Verifies every received webhook with the gateway, dropping duplicates as an app must: by event
/// id (a redelivery), and a payment event by its payment identity (`(kind, payment id)`), because
/// a provider may announce one payment in two forms as separate messages (Recurrente sends each
/// payment as a legacy `payment_intent.*` and as a unified `intent.*`).
///
/// # Errors
/// A [`Failure`] when a genuine webhook does not verify.
pub async fn verified_events(h: &dyn Harness) -> Result<Vec<WebhookEvent>, Failure> {
    let gw = h.gateway();
    let mut seen = BTreeSet::new();
    let mut payments = BTreeSet::new();
    let mut out = Vec::new();
    for w in h.received().await {
        let e = gw
            .verify_webhook(&w.headers, &w.body)
            .map_err(|e| Failure(format!("a genuine webhook failed: {e}")))?;
        if !seen.insert(e.id.clone()) {
            continue;
        }
        let payment = e.payment.as_ref().and_then(|p| p.id.as_ref());
        if let Some(pid) = payment {
            if !payments.insert((format!("{:?}", e.kind), pid.as_str().to_owned())) {
                continue;
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// The verified events that carry `reference`: the suite's way to follow one subscription while
/// others live on the same backend (every backend must echo the merchant reference).
///
/// # Errors
/// As [`verified_events`].
pub async fn events_for(h: &dyn Harness, reference: &str) -> Result<Vec<WebhookEvent>, Failure> {
    Ok(verified_events(h)
        .await?
        .into_iter()
        .filter(|e| e.merchant_reference.as_deref() == Some(reference))
        .collect())
}

fn plan(h: &dyn Harness, name: &str) -> Result<RecurringPlan, Failure> {
    let price = Money::parse("15", h.currency()).map_err(|e| Failure(e.to_string()))?;
    Ok(RecurringPlan::builder(name, price, Interval::monthly()).build()?)
}

async fn start(h: &dyn Harness, reference: &str) -> Result<(Checkout, SubscriptionId), Failure> {
    let gw = h.gateway();
    let req = h.prepare(CheckoutRequest::new(plan(h, "Conformance plan")?).merchant_reference(reference));
    let checkout = gw.create_checkout(&req).await?;
    h.complete_checkout(&checkout).await?;
    let after = gw.checkout(&checkout.id).await?;
    let sid = after
        .subscription_id
        .ok_or_else(|| Failure("a completed checkout names its subscription".into()))?;
    Ok((checkout, sid))
}

fn kinds(events: &[WebhookEvent]) -> Vec<String> {
    let mut k: Vec<String> = events.iter().map(|e| format!("{:?}", e.kind)).collect();
    k.sort();
    k
}

fn status_name(s: &SubscriptionStatus) -> String {
    match s {
        // Who cancelled is compared separately: some providers do not say.
        SubscriptionStatus::Cancelled { .. } => "cancelled".into(),
        other => other.to_string(),
    }
}

/// A new checkout is pending, names the reference given, and the payer has a URL to open.
///
/// # Errors
/// A [`Failure`] describing what differs.
pub async fn checkout_starts_pending(h: &dyn Harness) -> Result<(), Failure> {
    let gw = h.gateway();
    let req = h.prepare(CheckoutRequest::new(plan(h, "Pending plan")?).merchant_reference("conf-pending"));
    let c = gw.create_checkout(&req).await?;
    ensure!(
        c.status == SubscriptionStatus::Pending,
        "new checkout is {}, not pending",
        c.status
    );
    ensure!(
        c.merchant_reference.as_deref() == Some("conf-pending"),
        "reference {:?}",
        c.merchant_reference
    );
    ensure!(matches!(c.url.scheme(), "http" | "https"), "payer URL {}", c.url);
    let again = gw.checkout(&c.id).await?;
    ensure!(
        again.status == SubscriptionStatus::Pending,
        "re-read checkout is {}",
        again.status
    );
    Ok(())
}

/// The payer completes the checkout: the subscription is active, and the app hears that it
/// started and that the first payment succeeded, with the plan's price and the reference.
///
/// # Errors
/// A [`Failure`] describing what differs.
pub async fn completion_activates_with_events(h: &dyn Harness) -> Result<(), Failure> {
    let (_c, sid) = start(h, "conf-activate").await?;
    let sub = h.gateway().subscription(&sid).await?;
    ensure!(
        sub.status == SubscriptionStatus::Active,
        "after payment the subscription is {}",
        sub.status
    );
    let events = events_for(h, "conf-activate").await?;
    let k = kinds(&events);
    ensure!(
        k.contains(&"SubscriptionStarted".to_owned()),
        "no SubscriptionStarted event: {k:?}"
    );
    ensure!(
        k.contains(&"PaymentSucceeded".to_owned()),
        "no PaymentSucceeded event: {k:?}"
    );
    let paid = events
        .iter()
        .find(|e| e.kind == EventKind::PaymentSucceeded)
        .and_then(|e| e.payment.as_ref());
    let price = Money::parse("15", h.currency()).map_err(|e| Failure(e.to_string()))?;
    ensure!(
        paid.and_then(|p| p.amount) == Some(price),
        "first payment {:?}, plan price {price}",
        paid.map(|p| p.amount)
    );
    Ok(())
}

/// Each period bills once, at the plan's price, in order, and the subscription stays active.
///
/// # Errors
/// A [`Failure`] describing what differs.
pub async fn renewals_bill_each_period(h: &dyn Harness, periods: u32) -> Result<(), Failure> {
    let (_c, sid) = start(h, "conf-renew").await?;
    let started = h.now();
    let before = events_for(h, "conf-renew").await?.len();
    for n in 1..=periods {
        let due = Interval::monthly()
            .add_to(started, n)
            .ok_or_else(|| Failure("date overflow".into()))?;
        h.advance_to(due).await?;
    }
    let price = Money::parse("15", h.currency()).map_err(|e| Failure(e.to_string()))?;
    let paid: Vec<Option<Money>> = events_for(h, "conf-renew")
        .await?
        .into_iter()
        .skip(before)
        .filter(|e| e.kind == EventKind::PaymentSucceeded)
        .map(|e| e.payment.and_then(|p| p.amount))
        .collect();
    ensure!(
        paid.len() == periods as usize,
        "{} renewal payments for {periods} periods",
        paid.len()
    );
    ensure!(
        paid.iter().all(|a| *a == Some(price)),
        "renewals billed {paid:?}, plan price {price}"
    );
    let sub = h.gateway().subscription(&sid).await?;
    ensure!(
        sub.status == SubscriptionStatus::Active,
        "after renewals the subscription is {}",
        sub.status
    );
    Ok(())
}

/// Cancelling as the merchant returns the subscription cancelled by the merchant, stays
/// cancelled, and the app hears about it.
///
/// # Errors
/// A [`Failure`] describing what differs.
pub async fn merchant_cancel_ends_with_events(h: &dyn Harness) -> Result<(), Failure> {
    let (_c, sid) = start(h, "conf-cancel").await?;
    let before = events_for(h, "conf-cancel").await?.len();
    let gw = h.gateway();
    let s = gw.cancel_subscription(&sid).await?;
    ensure!(
        s.status
            == SubscriptionStatus::Cancelled {
                by: crate::CancelledBy::Merchant
            },
        "cancel returned {}",
        s.status
    );
    let again = gw.subscription(&sid).await?;
    ensure!(
        matches!(again.status, SubscriptionStatus::Cancelled { .. }),
        "re-read after cancel: {}",
        again.status
    );
    let k = kinds(
        &events_for(h, "conf-cancel")
            .await?
            .into_iter()
            .skip(before)
            .collect::<Vec<_>>(),
    );
    ensure!(k == ["SubscriptionCancelled"], "events after cancel: {k:?}");
    Ok(())
}

/// Every option: refused as `Unsupported` where the capabilities say no, accepted where they
/// say yes. Never silently ignored.
///
/// # Errors
/// A [`Failure`] naming the option.
pub async fn options_follow_capabilities(h: &dyn Harness) -> Result<(), Failure> {
    let gw = h.gateway();
    let caps = gw.capabilities().clone();
    let cur = h.currency();
    let base = plan(h, "Options plan")?;
    let other_currency = if cur.is_crypto() { Currency::GTQ } else { Currency::USDT };
    let mut cases: Vec<(String, bool, CheckoutRequest)> = Vec::new();
    let mut add = |name: &str, supported: bool, req: CheckoutRequest| cases.push((name.to_owned(), supported, req));
    for (unit, count) in [
        (IntervalUnit::Day, 14),
        (IntervalUnit::Week, 1),
        (IntervalUnit::Week, 2),
        (IntervalUnit::Month, 3),
        (IntervalUnit::Year, 1),
    ] {
        let interval = Interval::new(unit, count)?;
        let mut p = base.clone();
        p.interval = interval;
        add(
            &format!("interval {interval}"),
            caps.intervals.supports(&interval),
            CheckoutRequest::new(p),
        );
    }
    let mut p = base.clone();
    p.trial = Some(Interval::weekly());
    add("trial", caps.trial, CheckoutRequest::new(p));
    let mut p = base.clone();
    p.trial = Some(Interval::new(IntervalUnit::Day, 14)?);
    add(
        "trial of 14 days",
        caps.trial && caps.intervals.supports_unit(IntervalUnit::Day),
        CheckoutRequest::new(p),
    );
    let mut p = base.clone();
    p.setup_fee = Some(Money::parse("5", cur).map_err(|e| Failure(e.to_string()))?);
    add("setup fee", caps.setup_fee, CheckoutRequest::new(p));
    let mut p = base.clone();
    p.intro = Some(crate::IntroOffer {
        price: Money::parse("1", cur).map_err(|e| Failure(e.to_string()))?,
        days: std::num::NonZeroU32::MIN.saturating_add(29),
    });
    add("intro offer", caps.intro_offer, CheckoutRequest::new(p));
    let mut p = base.clone();
    p.end_after_periods = Some(std::num::NonZeroU32::MIN.saturating_add(11));
    add("end after periods", caps.end_after_periods, CheckoutRequest::new(p));
    let mut p = base.clone();
    p.payer_currency = Some(if cur == Currency::BTC {
        Currency::USDT
    } else {
        Currency::BTC
    });
    add("payer currency", caps.payer_currency, CheckoutRequest::new(p));
    let mut p = base.clone();
    p.price = Money::parse("15", other_currency).map_err(|e| Failure(e.to_string()))?;
    add(
        &format!("price in {other_currency}"),
        caps.currencies.supports(&other_currency),
        CheckoutRequest::new(p),
    );
    let url: url::Url = "http://127.0.0.1:9/return"
        .parse()
        .map_err(|e: url::ParseError| Failure(e.to_string()))?;
    add(
        "return URLs",
        caps.return_urls,
        CheckoutRequest::new(base.clone()).success_url(url.clone()),
    );
    add(
        "callback URL",
        caps.callback_url,
        CheckoutRequest::new(base.clone()).callback_url(url),
    );
    let customer = Customer {
        email: Some("payer@example.com".into()),
        name: Some("Ana Payer".into()),
    };
    add(
        "customer",
        caps.customer,
        CheckoutRequest::new(base.clone()).customer(customer),
    );

    for (name, supported, req) in cases {
        // The harness's own additions (a callback URL) are applied only where supported, so
        // that they do not mask the option under test.
        let req = if name == "callback URL" { req } else { h.prepare(req) };
        match (supported, gw.create_checkout(&req).await) {
            (true, Ok(_)) => {}
            (false, Err(Error::Unsupported { .. })) => {}
            (true, Err(e)) => return fail(format!("{name} is in the capabilities but failed: {e}")),
            (false, Ok(_)) => return fail(format!("{name} is not in the capabilities but was accepted")),
            (false, Err(e)) => return fail(format!("{name}: expected Unsupported, got {e}")),
        }
    }
    Ok(())
}

/// A plan with a sign-up fee: refused as `Unsupported` where the capabilities say no; where
/// they say yes, the first payment is the price plus the fee and the next renewal the price
/// alone (the fee is charged once).
///
/// # Errors
/// A [`Failure`] with the amounts charged.
pub async fn setup_fee_is_charged_once(h: &dyn Harness) -> Result<(), Failure> {
    let gw = h.gateway();
    let cur = h.currency();
    let money = |s: &str| Money::parse(s, cur).map_err(|e| Failure(e.to_string()));
    let mut p = plan(h, "Sign-up fee plan")?;
    p.setup_fee = Some(money("5")?);
    let req = h.prepare(CheckoutRequest::new(p).merchant_reference("conf-setup-fee"));
    if !gw.capabilities().setup_fee {
        return match gw.create_checkout(&req).await {
            Err(Error::Unsupported { .. }) => Ok(()),
            Ok(_) => fail("a setup fee is not in the capabilities but was accepted"),
            Err(e) => fail(format!("a setup fee: expected Unsupported, got {e}")),
        };
    }
    let checkout = gw.create_checkout(&req).await?;
    h.complete_checkout(&checkout).await?;
    let started = h.now();
    let due = Interval::monthly()
        .add_to(started, 1)
        .ok_or_else(|| Failure("date overflow".into()))?;
    h.advance_to(due).await?;
    // One entry per payment: a provider may announce a payment twice (Recurrente's legacy and
    // unified events), under one payment id.
    let mut ids = BTreeSet::new();
    let paid: Vec<Option<Money>> = events_for(h, "conf-setup-fee")
        .await?
        .into_iter()
        .filter(|e| e.kind == EventKind::PaymentSucceeded)
        .map(|e| e.payment)
        .filter(|p| {
            p.as_ref()
                .and_then(|p| p.id.as_ref())
                .is_none_or(|id| ids.insert(id.clone()))
        })
        .map(|p| p.and_then(|p| p.amount))
        .collect();
    let expected = vec![Some(money("20")?), Some(money("15")?)];
    ensure!(
        paid == expected,
        "a 15 plan with a 5 sign-up fee charged {paid:?} over its first two periods, expected {expected:?}"
    );
    Ok(())
}

/// The `all_subscriptions` stream returns each of `n` new subscriptions exactly once.
///
/// # Errors
/// A [`Failure`] with the counts.
pub async fn pagination_streams_every_subscription(h: &dyn Harness, n: usize) -> Result<(), Failure> {
    let gw = h.gateway();
    let mut ids = BTreeSet::new();
    for i in 0..n {
        let (_c, sid) = start(h, &format!("conf-page-{i}")).await?;
        ids.insert(sid);
    }
    let listed: Vec<SubscriptionId> = gw.all_subscriptions().map_ok(|s| s.id).try_collect().await?;
    let unique: BTreeSet<&SubscriptionId> = listed.iter().collect();
    ensure!(
        unique.len() == listed.len(),
        "the stream repeated subscriptions ({} listed, {} unique)",
        listed.len(),
        unique.len()
    );
    let missing = ids.iter().filter(|id| !unique.contains(id)).count();
    ensure!(missing == 0, "{missing} of {n} subscriptions missing from the stream");
    Ok(())
}

/// A genuine webhook verifies; the same with any byte of its body changed, or with no headers,
/// does not.
///
/// # Errors
/// A [`Failure`] naming the tampering that was accepted.
pub async fn tampered_webhooks_are_rejected(h: &dyn Harness) -> Result<(), Failure> {
    start(h, "conf-tamper").await?;
    let received = h.received().await;
    let w = received
        .last()
        .ok_or_else(|| Failure("no webhook was received".into()))?;
    let gw = h.gateway();
    gw.verify_webhook(&w.headers, &w.body)
        .map_err(|e| Failure(format!("the genuine webhook failed: {e}")))?;
    for i in 0..w.body.len() {
        let mut body = w.body.clone();
        body[i] ^= 0x01;
        if let Ok(e) = gw.verify_webhook(&w.headers, &body) {
            return fail(format!(
                "body byte {i} changed and the webhook still verified as {:?}",
                e.kind
            ));
        }
    }
    // Where the signature travels in headers (Svix, the fake), a webhook without them fails.
    let mut stripped = w.headers.clone();
    let signature_headers: Vec<http::HeaderName> = w
        .headers
        .keys()
        .filter(|k| k.as_str().contains("signature"))
        .cloned()
        .collect();
    for name in &signature_headers {
        stripped.remove(name);
    }
    if !signature_headers.is_empty() && gw.verify_webhook(&stripped, &w.body).is_ok() {
        return fail("the webhook verified without its signature header");
    }

    Ok(())
}

/// The same story on any backend: create, pay, two renewals, cancel. Compare transcripts
/// across backends: they must be equal.
///
/// # Errors
/// A [`Failure`] when a step fails.
pub async fn story(h: &dyn Harness) -> Result<Transcript, Failure> {
    let gw = h.gateway();
    let mut steps = Vec::new();
    let mut seen = events_for(h, "conf-story").await?.len();
    let mut step = |name: &str, status: &SubscriptionStatus, all: &[WebhookEvent]| {
        steps.push((name.to_owned(), status_name(status), kinds(&all[seen..])));
        seen = all.len();
    };
    let req = h.prepare(CheckoutRequest::new(plan(h, "Story plan")?).merchant_reference("conf-story"));
    let checkout = gw.create_checkout(&req).await?;
    step("created", &checkout.status, &events_for(h, "conf-story").await?);
    h.complete_checkout(&checkout).await?;
    let paid = gw.checkout(&checkout.id).await?;
    step("paid", &paid.status, &events_for(h, "conf-story").await?);
    let sid = paid
        .subscription_id
        .ok_or_else(|| Failure("the paid checkout names no subscription".into()))?;
    let started = h.now();
    for n in 1..=2 {
        let due = Interval::monthly()
            .add_to(started, n)
            .ok_or_else(|| Failure("date overflow".into()))?;
        h.advance_to(due).await?;
        let s = gw.subscription(&sid).await?;
        step(&format!("renewal {n}"), &s.status, &events_for(h, "conf-story").await?);
    }
    let cancelled = gw.cancel_subscription(&sid).await?;
    step("cancelled", &cancelled.status, &events_for(h, "conf-story").await?);
    Ok(Transcript { steps })
}

/// Every check above, in order, with `periods` = 3 and `n` = 250 for pagination.
///
/// # Errors
/// The first [`Failure`], prefixed with the check's name.
pub async fn run_all(h: &dyn Harness) -> Result<Transcript, Failure> {
    let named = |name: &'static str| move |f: Failure| Failure(format!("{name}: {f}"));
    checkout_starts_pending(h)
        .await
        .map_err(named("checkout_starts_pending"))?;
    completion_activates_with_events(h)
        .await
        .map_err(named("completion_activates_with_events"))?;
    renewals_bill_each_period(h, 3)
        .await
        .map_err(named("renewals_bill_each_period"))?;
    merchant_cancel_ends_with_events(h)
        .await
        .map_err(named("merchant_cancel_ends_with_events"))?;
    options_follow_capabilities(h)
        .await
        .map_err(named("options_follow_capabilities"))?;
    setup_fee_is_charged_once(h)
        .await
        .map_err(named("setup_fee_is_charged_once"))?;
    tampered_webhooks_are_rejected(h)
        .await
        .map_err(named("tampered_webhooks_are_rejected"))?;
    pagination_streams_every_subscription(h, 250)
        .await
        .map_err(named("pagination_streams_every_subscription"))?;
    story(h).await.map_err(named("story"))
}
