//! The in-memory fake gateway (feature `fake`): the simulator's lifecycle engine and virtual
//! clock behind [`RecurringGateway`], with no HTTP.
//!
//! Use it to test an app without a network or a server: create checkouts through the trait as
//! the app does, then act as the payer ([`FakeGateway::pay`], [`FakeGateway::decline`]), move
//! time ([`FakeGateway::advance`]) and read what the app would receive
//! ([`FakeGateway::webhooks`], [`FakeGateway::events`]). Webhooks are really signed (HMAC-SHA256
//! over `{id}.{timestamp}.{body}`, compared in constant time), so an app's tamper handling is
//! exercised too. Ids are sequential (`fake_ch_000001`, `fake_su_000001`) and the clock starts
//! at a fixed instant, so a test's output is the same on every run.
//!
//! Its [`Capabilities`] mimic one real provider ([`Mimic::Cryptomus`], [`Mimic::Recurrente`]) or
//! allow everything ([`Mimic::All`]), so an app's handling of `Unsupported` can be tested too.
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use paycycle_core::*;
//! use paycycle_sim::fake::{FakeGateway, Mimic};
//!
//! let fake = FakeGateway::new(Mimic::Recurrente);
//! let plan = RecurringPlan::builder("Gold", Money::parse("50", Currency::GTQ)?, Interval::monthly()).build()?;
//! let checkout = fake.create_checkout(&CheckoutRequest::new(plan).merchant_reference("order-1")).await?;
//! fake.pay(&checkout.id)?;
//! let kinds: Vec<EventKind> = fake.events()?.into_iter().map(|e| e.kind).collect();
//! assert!(kinds.contains(&EventKind::SubscriptionStarted));
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use paycycle_core::{
    CancelledBy, Capabilities, Checkout, CheckoutId, CheckoutRequest, Currency, CurrencySupport, Error, EventId,
    EventKind, GatewayId, Interval, IntervalSupport, IntervalUnit, Money, Page, PageRequest, Payment, PaymentId,
    PaymentStatus, RawPayload, RecurringGateway, Result, Subscription, SubscriptionId, SubscriptionStatus,
    WebhookError, WebhookEvent,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::Url;

use crate::clock::VirtualClock;
use crate::engine::{self, Engine, IdGen, NewSubscription, Terms, Transition, TransitionKind};

const GATEWAY: GatewayId = GatewayId::FAKE;
const ID_HEADER: &str = "fake-webhook-id";
const TIMESTAMP_HEADER: &str = "fake-webhook-timestamp";
const SIGNATURE_HEADER: &str = "fake-webhook-signature";

/// Which provider's capabilities the fake mimics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mimic {
    /// Cryptomus: weekly, monthly, every 3 months; intro offer, payer currency, callback URL;
    /// no trials, no sign-up fee, no automatic end, no return URLs. Failed renewals cancel at
    /// once.
    Cryptomus,
    /// Recurrente: any count of days, weeks, months, years; GTQ and USD; trials, sign-up fees
    /// (added to the first charge), automatic end, return URLs; no intro offer, no payer
    /// currency, no per-checkout callback URL. Failed renewals go past due and are retried 3
    /// and 5 days later.
    Recurrente,
    /// Everything supported.
    #[default]
    All,
}

impl std::str::FromStr for Mimic {
    type Err = String;

    /// `recurrente`, `cryptomus`, `all`, or empty for `all` (surrounding spaces ignored), as
    /// `PAYCYCLE_FAKE_MIMIC` and the facade's `mimic` setting spell it.
    fn from_str(s: &str) -> std::result::Result<Mimic, String> {
        match s.trim() {
            "" | "all" => Ok(Mimic::All),
            "cryptomus" => Ok(Mimic::Cryptomus),
            "recurrente" => Ok(Mimic::Recurrente),
            other => Err(format!("`{other}` is not one of `recurrente`, `cryptomus`, `all`")),
        }
    }
}

impl Mimic {
    /// The capabilities of the provider mimicked (kept equal to the real adapters' by a test in
    /// the workspace's conformance suite).
    pub fn capabilities(self) -> Capabilities {
        let mut c = Capabilities::none();
        c.list_subscriptions = true;
        c.cancel = true;
        match self {
            Mimic::Cryptomus => {
                c.intervals = IntervalSupport::Only(vec![
                    Interval::weekly(),
                    Interval::monthly(),
                    Interval {
                        unit: IntervalUnit::Month,
                        count: std::num::NonZeroU32::MIN.saturating_add(2),
                    },
                ]);
                c.currencies = CurrencySupport::Any;
                c.intro_offer = true;
                c.payer_currency = true;
                c.callback_url = true;
                c.customer = true;
            }
            Mimic::Recurrente => {
                c.intervals = IntervalSupport::AnyCount(vec![
                    IntervalUnit::Day,
                    IntervalUnit::Week,
                    IntervalUnit::Month,
                    IntervalUnit::Year,
                ]);
                c.currencies = CurrencySupport::Only(vec![Currency::GTQ, Currency::USD]);
                c.trial = true;
                c.setup_fee = true;
                c.end_after_periods = true;
                c.return_urls = true;
                c.customer = true;
            }
            Mimic::All => {
                c.intervals = IntervalSupport::AnyCount(vec![
                    IntervalUnit::Day,
                    IntervalUnit::Week,
                    IntervalUnit::Month,
                    IntervalUnit::Year,
                ]);
                c.currencies = CurrencySupport::Any;
                c.trial = true;
                c.setup_fee = true;
                c.intro_offer = true;
                c.end_after_periods = true;
                c.payer_currency = true;
                c.callback_url = true;
                c.return_urls = true;
                c.customer = true;
                c.pause = true;
            }
        }
        c
    }

    fn retries(self) -> Vec<Duration> {
        match self {
            Mimic::Cryptomus => Vec::new(),
            Mimic::Recurrente | Mimic::All => vec![Duration::days(3), Duration::days(5)],
        }
    }
}

/// A webhook as the fake "sends" it: headers and exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeWebhook {
    /// `fake-webhook-id`, `fake-webhook-timestamp`, `fake-webhook-signature`.
    pub headers: http::HeaderMap,
    /// The JSON body.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
struct FakeCheckout {
    id: String,
    subscription: String,
    reference: String,
    url: Url,
}

#[derive(Debug, Default)]
struct State {
    checkouts: BTreeMap<String, FakeCheckout>,
    by_subscription: BTreeMap<String, String>,
    outbox: Vec<FakeWebhook>,
    /// Sign-up fees by subscription id, added to the first charge.
    setup_fees: BTreeMap<String, rust_decimal::Decimal>,
    seq: u64,
    events: u64,
}

/// The body of a fake webhook.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: DateTime<Utc>,
    subscription_id: String,
    checkout_id: Option<String>,
    reference: Option<String>,
    status: SubscriptionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment: Option<Payment>,
}

/// An in-memory [`RecurringGateway`] on the simulator's engine. See the [module docs](self).
pub struct FakeGateway {
    mimic: Mimic,
    capabilities: Capabilities,
    clock: Arc<VirtualClock>,
    engine: Engine,
    secret: Vec<u8>,
    state: Mutex<State>,
}

impl std::fmt::Debug for FakeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGateway")
            .field("mimic", &self.mimic)
            .field("now", &self.clock.now())
            .finish_non_exhaustive()
    }
}

/// The fake's default start: 2026-01-01T00:00:00Z.
pub fn default_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn fake_error(e: impl std::fmt::Display) -> Error {
    Error::Rejected {
        gateway: GATEWAY,
        status: 409,
        message: Some(e.to_string()),
        field_errors: BTreeMap::new(),
    }
}

fn not_found(resource: &str, id: &str) -> Error {
    Error::NotFound {
        gateway: GATEWAY,
        resource: resource.to_owned(),
        id: id.to_owned(),
    }
}

impl FakeGateway {
    /// A fake mimicking `mimic`, its clock at [`default_start`].
    pub fn new(mimic: Mimic) -> FakeGateway {
        FakeGateway::starting_at(mimic, default_start())
    }

    /// A fake mimicking `mimic`, its clock at `start`.
    pub fn starting_at(mimic: Mimic, start: DateTime<Utc>) -> FakeGateway {
        let clock = Arc::new(VirtualClock::new(start));
        let engine = Engine::new(clock.clone(), Arc::new(IdGen::sequential()));
        FakeGateway {
            mimic,
            capabilities: mimic.capabilities(),
            clock,
            engine,
            secret: b"paycycle-fake-webhook-secret".to_vec(),
            state: Mutex::new(State::default()),
        }
    }

    /// Replaces the capabilities (e.g. to test how an app handles a gateway that lacks one).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> FakeGateway {
        self.capabilities = capabilities;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fake's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn subscription_of(&self, checkout: &CheckoutId) -> Result<String> {
        self.lock()
            .checkouts
            .get(checkout.as_str())
            .map(|c| c.subscription.clone())
            .ok_or_else(|| not_found("checkout", checkout.as_str()))
    }

    /// The payer pays (accepts) the checkout: the first charge, or the trial starts.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown checkout; [`Error::Rejected`] when it is not pending.
    pub fn pay(&self, checkout: &CheckoutId) -> Result<()> {
        let sub = self.subscription_of(checkout)?;
        let outcome = self.engine.accept(&sub);
        self.emit(&outcome.transitions);
        outcome.result.map(drop).map_err(fake_error)
    }

    /// The payer declines the checkout.
    ///
    /// # Errors
    /// As [`FakeGateway::pay`].
    pub fn decline(&self, checkout: &CheckoutId) -> Result<()> {
        let sub = self.subscription_of(checkout)?;
        let outcome = self.engine.decline(&sub);
        self.emit(&outcome.transitions);
        outcome.result.map(drop).map_err(fake_error)
    }

    /// The next `n` charges of a subscription (or of a checkout not paid yet) fail.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown subscription.
    pub fn fail_next_charges(&self, subscription: &SubscriptionId, n: u32) -> Result<()> {
        let outcome = self.engine.fail_next_charges(subscription.as_str(), n);
        self.emit(&outcome.transitions);
        outcome.result.map(drop).map_err(|e| self.engine_error(e, subscription))
    }

    /// Pauses a subscription (no charges until resumed), as a payer or merchant could on the
    /// providers' dashboards.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Rejected`] when it is not active.
    pub fn pause(&self, subscription: &SubscriptionId) -> Result<()> {
        let outcome = self.engine.pause(subscription.as_str());
        self.emit(&outcome.transitions);
        outcome.result.map(drop).map_err(|e| self.engine_error(e, subscription))
    }

    /// Resumes a paused subscription.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Rejected`] when it is not paused.
    pub fn resume(&self, subscription: &SubscriptionId) -> Result<()> {
        let outcome = self.engine.resume(subscription.as_str());
        self.emit(&outcome.transitions);
        outcome.result.map(drop).map_err(|e| self.engine_error(e, subscription))
    }

    fn engine_error(&self, e: engine::EngineError, id: &SubscriptionId) -> Error {
        match e {
            engine::EngineError::NotFound { .. } => not_found("subscription", id.as_str()),
            other => fake_error(other),
        }
    }

    /// Moves the clock forward and bills everything that falls due, in time order.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a negative duration.
    pub fn advance(&self, by: Duration) -> Result<DateTime<Utc>> {
        let now = self.clock.advance(by).map_err(|e| Error::invalid("by", e))?;
        let transitions = self.engine.advance_to(now);
        self.emit(&transitions);
        Ok(now)
    }

    /// Every webhook sent so far, in order, exactly as an app would receive it.
    pub fn webhooks(&self) -> Vec<FakeWebhook> {
        self.lock().outbox.clone()
    }

    /// Every webhook sent so far, verified and normalized, as the app would see them.
    ///
    /// # Errors
    /// Never for webhooks the fake itself signed.
    pub fn events(&self) -> Result<Vec<WebhookEvent>> {
        self.webhooks()
            .iter()
            .map(|w| self.verify_webhook(&w.headers, &w.body))
            .collect()
    }

    fn emit(&self, transitions: &[Transition]) {
        for t in transitions {
            if t.gateway() != &GATEWAY {
                continue;
            }
            let Some((kind, payment)) = self.render(t) else {
                continue;
            };
            let mut st = self.lock();
            st.events += 1;
            let id = format!("evt_{:06}", st.events);
            let checkout = st.by_subscription.get(t.subscription_id()).cloned();
            let reference = t.subscription.reference.clone();
            let body = Body {
                id: id.clone(),
                kind: kind.to_owned(),
                occurred_at: t.at,
                subscription_id: t.subscription_id().to_owned(),
                checkout_id: checkout,
                reference,
                status: t.subscription.state.status(),
                payment,
            };
            let Ok(bytes) = serde_json::to_vec(&body) else { continue };
            let timestamp = t.at.timestamp();
            let signature = self.sign(&id, timestamp, &bytes);
            let mut headers = http::HeaderMap::new();
            for (name, value) in [
                (ID_HEADER, id),
                (TIMESTAMP_HEADER, timestamp.to_string()),
                (SIGNATURE_HEADER, signature),
            ] {
                if let Ok(v) = http::HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            }
            st.outbox.push(FakeWebhook { headers, body: bytes });
        }
    }

    fn render(&self, t: &Transition) -> Option<(&'static str, Option<Payment>)> {
        let money = |amount| {
            Currency::from_wire(&t.subscription.terms.currency)
                .ok()
                .map(|c| Money::new(amount, c))
        };
        let payment = |status, amount, id: &str| {
            let mut p = Payment::new(status);
            p.id = Some(PaymentId::new(id));
            p.amount = money(amount);
            Some(p)
        };
        Some(match &t.kind {
            TransitionKind::Activated => ("subscription.started", None),
            TransitionKind::TrialStarted { .. } => ("setup.succeeded", None),
            TransitionKind::Charged {
                amount,
                payment_id,
                period_index,
                attempt,
                ..
            } => (
                "payment.succeeded",
                payment(
                    PaymentStatus::Succeeded,
                    self.with_setup_fee(t, *period_index, *attempt, *amount),
                    payment_id,
                ),
            ),
            TransitionKind::ChargeFailed {
                amount,
                payment_id,
                period_index,
                attempt,
                ..
            } => (
                "payment.failed",
                payment(
                    PaymentStatus::Failed,
                    self.with_setup_fee(t, *period_index, *attempt, *amount),
                    payment_id,
                ),
            ),
            TransitionKind::PastDue { .. } => ("subscription.past_due", None),
            TransitionKind::Paused => ("subscription.paused", None),
            TransitionKind::Resumed => ("subscription.resumed", None),
            TransitionKind::StartFailed => ("setup.failed", None),
            TransitionKind::Declined | TransitionKind::Cancelled { .. } | TransitionKind::Ended { .. } => {
                ("subscription.cancelled", None)
            }
            // A recovery is told by its successful charge.
            _ => return None,
        })
    }

    /// A charge's amount, with the plan's sign-up fee added to the first charge (period 0,
    /// first attempt; after a free trial, the first charge after it).
    fn with_setup_fee(
        &self,
        t: &Transition,
        period_index: u32,
        attempt: u32,
        amount: rust_decimal::Decimal,
    ) -> rust_decimal::Decimal {
        if period_index != 0 || attempt != 1 {
            return amount;
        }
        match self.lock().setup_fees.get(t.subscription_id()) {
            Some(fee) => amount.checked_add(*fee).unwrap_or(amount),
            None => amount,
        }
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).ok()?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Some(mac)
    }

    fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        match self.mac(id, timestamp, body) {
            Some(m) => format!("v1,{}", STANDARD.encode(m.finalize().into_bytes())),
            None => String::new(),
        }
    }

    fn checkout_view(&self, c: &FakeCheckout) -> Result<Checkout> {
        let sub = self
            .engine
            .get(&c.subscription)
            .ok_or_else(|| not_found("checkout", &c.id))?;
        let raw = serde_json::json!({ "id": c.id, "subscription": c.subscription, "state": sub.state.name() });
        let mut out = Checkout::new(
            GATEWAY,
            CheckoutId::new(&c.id),
            c.url.clone(),
            Some(c.reference.clone()),
            raw,
        );
        out.status = sub.state.status();
        out.subscription_id = sub.accepted_at.map(|_| SubscriptionId::new(&sub.id));
        Ok(out)
    }

    fn subscription_view(&self, sub: &engine::Subscription) -> Subscription {
        let checkout = self.lock().by_subscription.get(&sub.id).cloned();
        let raw = serde_json::json!({ "id": sub.id, "state": sub.state.name(), "periods_paid": sub.periods_paid });
        let mut s = Subscription::new(GATEWAY, SubscriptionId::new(&sub.id), sub.state.status(), raw);
        s.price = Currency::from_wire(&sub.terms.currency)
            .ok()
            .map(|c| Money::new(sub.terms.amount, c));
        s.interval = Some(sub.terms.interval);
        s.merchant_reference = sub.reference.clone();
        s.checkout_id = checkout.map(CheckoutId::new);
        s.created_at = Some(sub.created_at);
        s.current_period_end = sub.next_charge_at;
        s.last_paid_at = sub.last_paid_at;
        s
    }
}

#[async_trait]
impl RecurringGateway for FakeGateway {
    fn id(&self) -> GatewayId {
        GATEWAY
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout> {
        self.capabilities.check(&GATEWAY, request)?;
        request.plan.validate()?;
        let plan = &request.plan;
        let mut terms =
            Terms::new(plan.price.amount, plan.price.currency.code(), plan.interval).with_retries(self.mimic.retries());
        if let Some(trial) = plan.trial {
            terms = terms.with_trial(trial);
        }
        if let Some(intro) = plan.intro {
            terms = terms.with_intro(intro.price.amount, intro.days.get());
        }
        if let Some(n) = plan.end_after_periods {
            terms = terms.with_end_after_periods(n);
        }
        let (n, reference) = {
            let mut st = self.lock();
            st.seq += 1;
            let reference = request
                .merchant_reference
                .clone()
                .unwrap_or_else(|| format!("fake_ref_{:06}", st.seq));
            if let Some(fee) = plan.setup_fee {
                let sub_id = format!("fake_su_{:06}", st.seq);
                st.setup_fees.insert(sub_id, fee.amount);
            }
            (st.seq, reference)
        };
        let checkout_id = format!("fake_ch_{n:06}");
        let sub_id = format!("fake_su_{n:06}");
        let url = Url::parse(&format!("https://fake.paycycle.invalid/checkout/{checkout_id}"))
            .map_err(|e| Error::invalid("checkout url", e))?;
        let new = NewSubscription::new(GATEWAY, plan.name.clone(), terms)
            .with_id(sub_id.clone())
            .with_reference(Some(reference.clone()), false);
        let outcome = self.engine.create(new);
        self.emit(&outcome.transitions);
        outcome.result.map_err(fake_error)?;
        let c = FakeCheckout {
            id: checkout_id.clone(),
            subscription: sub_id.clone(),
            reference,
            url,
        };
        {
            let mut st = self.lock();
            st.by_subscription.insert(sub_id, checkout_id.clone());
            st.checkouts.insert(checkout_id, c.clone());
        }
        self.checkout_view(&c)
    }

    async fn checkout(&self, id: &CheckoutId) -> Result<Checkout> {
        let c = self
            .lock()
            .checkouts
            .get(id.as_str())
            .cloned()
            .ok_or_else(|| not_found("checkout", id.as_str()))?;
        self.checkout_view(&c)
    }

    async fn subscription(&self, id: &SubscriptionId) -> Result<Subscription> {
        let sub = self
            .engine
            .get(id.as_str())
            .ok_or_else(|| not_found("subscription", id.as_str()))?;
        Ok(self.subscription_view(&sub))
    }

    async fn subscriptions(&self, page: PageRequest) -> Result<Page<Subscription>> {
        let offset: usize = match page.cursor.as_deref() {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| Error::invalid("cursor", "not a cursor of this gateway"))?,
        };
        let size = page.limit.map_or(100, |l| l.clamp(1, 1000)) as usize;
        let started: Vec<engine::Subscription> = self
            .engine
            .list(&GATEWAY)
            .into_iter()
            .filter(|s| s.accepted_at.is_some())
            .collect();
        let items: Vec<Subscription> = started
            .iter()
            .skip(offset)
            .take(size)
            .map(|s| self.subscription_view(s))
            .collect();
        let next = offset + items.len();
        Ok(Page {
            next_cursor: (next < started.len()).then(|| next.to_string()),
            items,
        })
    }

    async fn cancel_subscription(&self, id: &SubscriptionId) -> Result<Subscription> {
        let outcome = self.engine.cancel(id.as_str(), CancelledBy::Merchant);
        self.emit(&outcome.transitions);
        let sub = outcome.result.map_err(|e| self.engine_error(e, id))?;
        Ok(self.subscription_view(&sub))
    }

    fn verify_webhook(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<WebhookEvent> {
        let reject = |reason| Error::webhook(GATEWAY, reason);
        let header = |name: &str| {
            headers
                .get(name)
                .ok_or_else(|| reject(WebhookError::MissingHeader(name.to_owned())))?
                .to_str()
                .map_err(|_| {
                    reject(WebhookError::MalformedHeader {
                        name: name.to_owned(),
                        reason: "not text".into(),
                    })
                })
        };
        let id = header(ID_HEADER)?;
        let timestamp: i64 = header(TIMESTAMP_HEADER)?.parse().map_err(|_| {
            reject(WebhookError::MalformedHeader {
                name: TIMESTAMP_HEADER.into(),
                reason: "not a number".into(),
            })
        })?;
        let signature = header(SIGNATURE_HEADER)?;
        let given = signature
            .strip_prefix("v1,")
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| reject(WebhookError::BadSignature))?;
        let mac = self
            .mac(id, timestamp, body)
            .ok_or_else(|| reject(WebhookError::BadSignature))?;
        mac.verify_slice(&given)
            .map_err(|_| reject(WebhookError::BadSignature))?;
        let malformed = |e: &dyn std::fmt::Display| reject(WebhookError::Malformed(e.to_string()));
        let text = std::str::from_utf8(body).map_err(|e| malformed(&e))?;
        let b: Body = serde_json::from_str(text).map_err(|e| malformed(&e))?;
        let raw = RawPayload::from_json(text.to_owned()).map_err(|e| malformed(&e))?;
        if b.id != id {
            return Err(reject(WebhookError::BadSignature));
        }
        let kind = match b.kind.as_str() {
            "subscription.started" => EventKind::SubscriptionStarted,
            "setup.succeeded" => EventKind::SetupSucceeded,
            "setup.failed" => EventKind::SetupFailed,
            "payment.succeeded" => EventKind::PaymentSucceeded,
            "payment.failed" => EventKind::PaymentFailed,
            "subscription.past_due" => EventKind::SubscriptionPastDue,
            "subscription.paused" => EventKind::SubscriptionPaused,
            "subscription.resumed" => EventKind::SubscriptionResumed,
            "subscription.cancelled" => EventKind::SubscriptionCancelled,
            other => EventKind::Unknown(other.to_owned()),
        };
        let mut e = WebhookEvent::new(GATEWAY, EventId::new(b.id), kind, b.kind, raw);
        e.occurred_at = Some(b.occurred_at);
        e.subscription_id = Some(SubscriptionId::new(b.subscription_id));
        e.checkout_id = b.checkout_id.map(CheckoutId::new);
        e.merchant_reference = b.reference;
        e.subscription_status = Some(b.status);
        e.payment = b.payment;
        Ok(e)
    }
}
