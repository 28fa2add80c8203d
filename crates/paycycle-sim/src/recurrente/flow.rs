//! The lifecycle: the payer's actions on checkouts, engine transitions applied to Recurrente's
//! objects, and the events they send to every webhook endpoint.

use std::num::NonZeroU32;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::GATEWAY;
use super::Sim;
use super::json::{self, Ctx};
use super::store::{
    Checkout, CheckoutStatus, LatestIntent, Line, MethodKind, PayMethod, PayStatus, Payment, PaymentMethod,
    Paymentable, Recurring, Start, State, SubInfo, User,
};
use crate::engine::{EngineError, NewSubscription, Outcome as EngineOutcome, Terms, Transition, TransitionKind};
use crate::state::delivery::{Signer, Webhook};
pub(crate) use crate::state::ids::{new_id, new_secret, new_svix_id};
use crate::{RecurrentePaymentEvents, SimError};

/// Failed renewals are retried this many days after their due time (then the subscription is
/// cancelled).
pub(crate) const RETRY_AFTER_DAYS: [i64; 2] = [3, 5];

/// The `failure_reason` of a declined card (the reference's example).
pub(crate) const DECLINE_REASON: &str =
    "Tu banco ha rechazado la transacción. Llama a tu banco y pide que autoricen esta transacción.";

/// The `failure_reason` kept on a failed bank transfer (its events have no such field).
const TRANSFER_FAILED_REASON: &str = "No se recibieron los fondos de la transferencia bancaria.";

/// The payer when the checkout names no user and the control request no e-mail.
pub(crate) const DEFAULT_PAYER_EMAIL: &str = "payer@example.com";
/// Their name.
pub(crate) const DEFAULT_PAYER_NAME: &str = "Test Payer";

/// What the payer does on a Recurrente checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Pays with the test card 4242 (a free trial: saves it).
    CardSuccess,
    /// The card is declined; the checkout stays `unpaid` and can be paid again.
    CardDeclined,
    /// Starts a bank transfer; the checkout is `payment_in_progress` until the bank settles it.
    BankTransferPending,
}

impl Outcome {
    /// `card_success`, `card_declined`, `bank_transfer_pending`.
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "card_success" => Some(Outcome::CardSuccess),
            "card_declined" => Some(Outcome::CardDeclined),
            "bank_transfer_pending" => Some(Outcome::BankTransferPending),
            _ => None,
        }
    }

    /// The name [`Outcome::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::CardSuccess => "card_success",
            Outcome::CardDeclined => "card_declined",
            Outcome::BankTransferPending => "bank_transfer_pending",
        }
    }
}

/// Who pays, when the control request says.
#[derive(Debug, Clone, Default)]
pub(crate) struct Payer {
    pub(crate) email: Option<String>,
    pub(crate) full_name: Option<String>,
    /// The comment written on a bank transfer (shown once it settles).
    pub(crate) sender_comment: Option<String>,
}

/// What a payer or bank action did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Attempt {
    /// The checkout (`ch_…`).
    pub checkout_id: String,
    /// Its status after the action (`paid`, `unpaid`, `payment_in_progress`).
    pub checkout_status: String,
    /// The payment intent (`pa_…`).
    pub payment_intent_id: String,
    /// The bank transfer intent (`ba_…`) of a bank transfer.
    pub bank_transfer_intent_id: Option<String>,
    /// The subscription (`su_…`) of a recurring checkout (also when it could not start).
    pub subscription_id: Option<String>,
    /// The one-time payment (`on_…`) of a one-time checkout.
    pub one_time_payment_id: Option<String>,
    /// The saved payment method (`pay_m_…`), once the payment succeeded.
    pub payment_method_id: Option<String>,
    /// The engine's transitions, the ones that fell due before included.
    pub transitions: Vec<Transition>,
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// One event for every enabled endpoint (oldest first) and the configured URL, each signed with
/// its own secret under one `svix-id`.
pub(crate) fn emit(s: &Sim<'_>, st: &State, event_type: &str, body: &Value) -> Vec<Webhook> {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "paycycle-sim could not serialize a Recurrente event");
            return Vec::new();
        }
    };
    let mut targets: Vec<(&str, &str, Option<_>)> = st
        .endpoints
        .iter()
        .filter(|e| !e.disabled)
        .map(|e| (e.url.as_str(), e.secret.as_str(), Some(e.revoked.clone())))
        .collect();
    if let Some(url) = &s.config.recurrente_webhook_url {
        targets.push((url, &s.config.recurrente_webhook_secret, None));
    }
    if targets.is_empty() {
        return Vec::new();
    }
    let msg_id = new_svix_id(s, "msg_");
    targets
        .into_iter()
        .map(|(url, secret, revoked)| {
            Webhook::new(GATEWAY, event_type, url, bytes.clone()).signed(Signer::Svix {
                msg_id: msg_id.clone(),
                secret: secret.to_owned(),
                revoked,
            })
        })
        .collect()
}

/// The payment events Recurrente sends now: chosen while running, else configured.
pub(crate) fn payment_events(s: &Sim<'_>, st: &State) -> RecurrentePaymentEvents {
    st.payment_events.unwrap_or(s.config.recurrente_payment_events)
}

/// The events of one payment: the legacy `legacy_event` (`payment_intent.*`, or
/// `bank_transfer_intent.*` for a bank transfer's payment) and its unified `intent.*`, as
/// [`payment_events`] chooses, each its own Svix message, legacy first.
pub(crate) fn payment_webhooks(
    s: &Sim<'_>,
    st: &State,
    legacy_event: &str,
    p: &Payment,
    at: DateTime<Utc>,
) -> Vec<Webhook> {
    let cx = Ctx::new(s);
    let events = payment_events(s, st);
    let mut out = Vec::new();
    if events.legacy() {
        let body = match &p.method {
            PayMethod::BankTransfer { intent_id } => json::bank_event(st, &cx, legacy_event, p, intent_id, at),
            _ => json::payment_event(st, &cx, legacy_event, p, at),
        };
        out.extend(emit(s, st, legacy_event, &body));
    }
    if events.unified() {
        if let Some(name) = json::unified_name(legacy_event) {
            if let Some(body) = json::unified_event(st, &cx, name, p, at) {
                out.extend(emit(s, st, name, &body));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Transitions → Recurrente objects and events

fn cents_of(amount: Decimal) -> i64 {
    (amount * Decimal::ONE_HUNDRED).round().to_i64().unwrap_or(0)
}

/// The engine terms of a recurring item: its total per period, 3- and 5-day retries.
pub(crate) fn terms(line: &Line, rec: &Recurring) -> Option<Terms> {
    let total = line.unit_cents.checked_mul(line.quantity)?;
    let mut t = Terms::new(
        Decimal::new(total, 2),
        line.currency.as_str(),
        rec.unit.times(rec.count)?,
    )
    .with_retries(RETRY_AFTER_DAYS.iter().map(|d| Duration::days(*d)).collect());
    if let Some((unit, count)) = rec.trial {
        t = t.with_trial(unit.times(count)?);
    }
    if let Some(n) = rec.end_after.and_then(NonZeroU32::new) {
        t = t.with_end_after_periods(n);
    }
    Some(t)
}

/// Marks the checkout of `info` paid by its first payment.
fn checkout_paid(st: &mut State, info: &SubInfo) {
    if let Some(co) = st.checkouts.get_mut(&info.checkout_id) {
        co.status = CheckoutStatus::Paid;
        co.payment_id = Some(info.first_payment_id.clone());
        co.payment_method_id.clone_from(&info.payment_method_id);
        co.user_id.get_or_insert_with(|| info.user_id.clone());
        if let Some(intent) = &mut co.latest_intent {
            intent.data = json!({ "auth_code": auth_code(&info.first_payment_id) });
        }
    }
}

/// A failed bank transfer: the checkout of `info` can be paid again.
fn back_to_unpaid(st: &mut State, info: &SubInfo) {
    if let Some(co) = st.checkouts.get_mut(&info.checkout_id) {
        co.status = CheckoutStatus::Unpaid;
        co.payment_id = None;
    }
}

/// A six-digit authorization code derived from the payment id.
fn auth_code(payment_id: &str) -> String {
    let d = Sha256::digest(payment_id.as_bytes());
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 1_000_000;
    format!("{n:06}")
}

/// A nine-digit interbank reference derived from the payment id (what the bank gives a settled
/// transfer).
fn bank_reference(payment_id: &str) -> String {
    let d = Sha256::digest(format!("bank reference {payment_id}").as_bytes());
    let n = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) % 1_000_000_000;
    format!("{n:09}")
}

fn set_payment(st: &mut State, id: &str, status: PayStatus, cents: Option<i64>, reason: Option<&str>) {
    if let Some(p) = st.payments.get_mut(id) {
        p.status = status;
        if let Some(c) = cents {
            p.amount_cents = c;
        }
        p.failure_reason = reason.map(str::to_owned);
    }
}

/// A new payment of a subscription (renewals, retries, the charge at a trial's end).
fn renewal_payment(
    s: &Sim<'_>,
    st: &mut State,
    sub_id: &str,
    info: &SubInfo,
    at: DateTime<Utc>,
    cents: i64,
    ok: bool,
) -> String {
    let id = new_id(s, "pa_", 8);
    let invoice_id = new_id(s, "inv_", 8);
    st.invoices.insert(invoice_id.clone(), id.clone());
    st.payments.insert(Payment {
        id: id.clone(),
        invoice_id,
        created_at: at,
        method: PayMethod::Card,
        status: if ok { PayStatus::Succeeded } else { PayStatus::Failed },
        failure_reason: (!ok).then(|| DECLINE_REASON.to_owned()),
        amount_cents: cents,
        currency: info.line.currency,
        checkout_id: Some(info.checkout_id.clone()),
        paymentable: Paymentable::Subscription(sub_id.to_owned()),
        user_id: info.user_id.clone(),
        product_ids: vec![info.line.product_id.clone()],
        tax_invoice_url: None,
        refund_id: None,
        bank_reference: None,
        sender_comment: None,
    });
    id
}

/// The event a pause sends: today's `subscription.pause`, or the legacy `subscription.paused`
/// with [`crate::SimConfig::recurrente_legacy_pause_event`].
fn pause_event(s: &Sim<'_>) -> &'static str {
    if s.config.recurrente_legacy_pause_event {
        "subscription.paused"
    } else {
        "subscription.pause"
    }
}

/// What a transition of a Recurrente subscription does to Recurrente's objects, and the events
/// it sends (called by the dispatcher, once per transition, in order).
pub(crate) fn apply(s: &Sim<'_>, t: &Transition) -> Vec<Webhook> {
    let sub_id = t.subscription_id();
    let mut st = s.recurrente.lock();
    let Some(mut info) = st.subs.get(sub_id).cloned() else {
        return Vec::new();
    };
    let trial = t.subscription.terms.trial.is_some();
    let at = t.at;
    // (event type, which payload, the payment it is about)
    let mut events: Vec<(&'static str, Option<String>)> = Vec::new();
    match &t.kind {
        TransitionKind::TrialStarted { .. } => {
            set_payment(
                &mut st,
                &info.first_payment_id,
                PayStatus::Succeeded,
                Some(info.signup_cents),
                None,
            );
            checkout_paid(&mut st, &info);
            events.push(("setup_intent.succeeded", None));
            events.push(("subscription.create", None));
        }
        TransitionKind::Charged {
            period_index,
            amount,
            attempt,
            ..
        } => {
            let cents = cents_of(*amount);
            let first = *period_index == 0 && *attempt == 1 && !trial;
            let payment_id = if first {
                let cents = cents.saturating_add(info.signup_cents);
                set_payment(&mut st, &info.first_payment_id, PayStatus::Succeeded, Some(cents), None);
                checkout_paid(&mut st, &info);
                info.first_payment_id.clone()
            } else {
                renewal_payment(s, &mut st, sub_id, &info, at, cents, true)
            };
            info.last_payment_id = Some(payment_id.clone());
            if first && info.start == Start::BankTransfer {
                events.push(("bank_transfer_intent.succeeded", Some(payment_id)));
            } else {
                events.push(("payment_intent.succeeded", Some(payment_id)));
            }
            if first {
                events.push(("subscription.create", None));
            }
        }
        TransitionKind::ChargeFailed {
            period_index,
            amount,
            attempt,
            ..
        } => {
            let cents = cents_of(*amount);
            let first = *period_index == 0 && *attempt == 1 && !trial;
            let bank = first && info.start == Start::BankTransfer;
            let payment_id = if first {
                let cents = cents.saturating_add(info.signup_cents);
                let reason = if bank { TRANSFER_FAILED_REASON } else { DECLINE_REASON };
                set_payment(
                    &mut st,
                    &info.first_payment_id,
                    PayStatus::Failed,
                    Some(cents),
                    Some(reason),
                );
                info.first_payment_id.clone()
            } else {
                renewal_payment(s, &mut st, sub_id, &info, at, cents, false)
            };
            info.last_payment_id = Some(payment_id.clone());
            if bank {
                // Only through `fail_next_charges` before the settlement: the transfer failed.
                back_to_unpaid(&mut st, &info);
                events.push(("bank_transfer_intent.failed", Some(payment_id)));
            } else {
                events.push(("payment_intent.failed", Some(payment_id)));
            }
        }
        TransitionKind::PastDue { .. } => events.push(("subscription.past_due", None)),
        TransitionKind::Paused => events.push((pause_event(s), None)),
        TransitionKind::Resumed => events.push(("subscription.unpause", None)),
        TransitionKind::Reactivated => events.push(("subscription.reactivate", None)),
        TransitionKind::Declined => {
            if info.start == Start::BankTransfer {
                set_payment(
                    &mut st,
                    &info.first_payment_id,
                    PayStatus::Failed,
                    None,
                    Some(TRANSFER_FAILED_REASON),
                );
                back_to_unpaid(&mut st, &info);
                events.push(("bank_transfer_intent.failed", Some(info.first_payment_id.clone())));
            } else {
                set_payment(
                    &mut st,
                    &info.first_payment_id,
                    PayStatus::Failed,
                    Some(0),
                    Some(DECLINE_REASON),
                );
                events.push(("setup_intent.cancelled", None));
            }
        }
        TransitionKind::Cancelled { .. } | TransitionKind::Ended { .. } => events.push(("subscription.cancel", None)),
        _ => {}
    }
    st.subs.insert(sub_id.to_owned(), info.clone());

    let cx = Ctx::new(s);
    let mut out = Vec::new();
    for (event_type, payment_id) in events {
        match payment_id.as_deref().and_then(|id| st.payments.get(id)) {
            Some(p) => out.extend(payment_webhooks(s, &st, event_type, p, at)),
            None => {
                let body = if event_type.starts_with("setup_intent.") {
                    json::setup_event(&st, &cx, event_type, sub_id, &info, at)
                } else {
                    json::subscription_event(&st, &cx, event_type, sub_id, &info, at)
                };
                out.extend(emit(s, &st, event_type, &body));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Payer actions

/// The user paying: the one the request names by e-mail, else the checkout's, else the default.
fn payer_user(s: &Sim<'_>, st: &mut State, checkout_user: Option<&str>, payer: &Payer) -> String {
    if payer.email.is_none() {
        if let Some(u) = checkout_user.and_then(|id| st.users.get(id)) {
            return u.id.clone();
        }
    }
    let email = payer.email.as_deref().unwrap_or(DEFAULT_PAYER_EMAIL);
    if let Some(u) = st.user_by_email(email) {
        return u.id.clone();
    }
    let full_name = payer
        .full_name
        .clone()
        .or_else(|| payer.email.is_none().then(|| DEFAULT_PAYER_NAME.to_owned()));
    let id = new_id(s, "us_", 8);
    st.users.insert(User {
        id: id.clone(),
        email: email.to_owned(),
        full_name,
    });
    id
}

/// Saves a payment method for `user_id`.
pub(crate) fn new_payment_method(s: &Sim<'_>, st: &mut State, user_id: &str, kind: MethodKind) -> String {
    let id = new_id(s, "pay_m_", 8);
    st.payment_methods.insert(PaymentMethod {
        id: id.clone(),
        kind,
        user_id: user_id.to_owned(),
        fail_next: 0,
    });
    id
}

fn refused(reason: impl Into<String>) -> SimError {
    SimError::Refused { reason: reason.into() }
}

/// Runs an engine operation under the caller's serial lock, keeping its transitions.
fn run<T>(s: &Sim<'_>, outcome: EngineOutcome<T>, all: &mut Vec<Transition>) -> Result<T, EngineError> {
    all.extend(outcome.transitions.iter().cloned());
    s.run(outcome)
}

/// Whether the checkout's items (and their products) let the payer pay this way.
fn check_method(co: &Checkout, bank: bool) -> Result<(), SimError> {
    let (allowed, name, label) = if bank {
        (co.bank_transfer_payments_enabled, "bank_transfer", "bank transfer")
    } else {
        (co.card_payments_enabled, "card", "card")
    };
    if allowed {
        return Ok(());
    }
    Err(refused(match co.stated_methods() {
        Some(m) if !m.contains(&name) => {
            let list = if m.is_empty() { "none".to_owned() } else { m.join(", ") };
            format!("`{name}` is not among this checkout's payment_method_types ({list})")
        }
        _ => format!("{label} payments are disabled for this checkout's products"),
    }))
}

/// The payer acts on a setup (card-saving) checkout; nothing is charged. A card saves a
/// payment method (`pay_m_…`): the checkout is `paid` with it as its `payment_method`, and
/// `setup_intent.succeeded` is sent. A declined card sends `setup_intent.cancelled` and the
/// checkout stays unpaid. A bank transfer saves no card: refused.
fn save_card(
    s: &Sim<'_>,
    st: &mut State,
    co: &Checkout,
    outcome: Outcome,
    payer: &Payer,
    now: DateTime<Utc>,
    attempt: &mut Attempt,
) -> Result<(), SimError> {
    if outcome == Outcome::BankTransferPending {
        return Err(refused(
            "a setup checkout saves a card: it cannot be paid by bank transfer",
        ));
    }
    let user_id = payer_user(s, st, co.user_id.as_deref(), payer);
    let intent_id = new_id(s, "pa_", 8);
    let saved = outcome == Outcome::CardSuccess;
    let method = saved.then(|| new_payment_method(s, st, &user_id, MethodKind::Card));
    let Some(c) = st.checkouts.get_mut(&co.id) else {
        return Err(SimError::NotFound {
            what: "Recurrente checkout",
            id: co.id.clone(),
        });
    };
    c.latest_intent = Some(LatestIntent {
        id: intent_id.clone(),
        created_at: now,
        kind: "SetupIntent",
        data: if saved {
            json!({})
        } else {
            json!({ "failure_reason": DECLINE_REASON })
        },
    });
    c.user_id.get_or_insert_with(|| user_id.clone());
    if saved {
        c.status = CheckoutStatus::Paid;
        c.payment_method_id.clone_from(&method);
    }
    let c = c.clone();
    let event = if saved {
        "setup_intent.succeeded"
    } else {
        "setup_intent.cancelled"
    };
    let body = json::checkout_setup_event(st, &Ctx::new(s), event, &intent_id, &c, now);
    s.enqueue(emit(s, st, event, &body));
    attempt.payment_intent_id = intent_id;
    attempt.payment_method_id = method;
    attempt.checkout_status = c.status_name(now).to_owned();
    Ok(())
}

/// What is left to do after the store was prepared.
enum Next {
    /// A subscription to create and then start, decline or leave pending.
    Subscription {
        id: String,
        name: String,
        terms: Terms,
        trial: bool,
    },
    /// Done (one-time checkouts need no engine).
    Done,
}

/// The payer acts on a checkout.
pub(crate) fn pay(s: &Sim<'_>, checkout_id: &str, outcome: Outcome, payer: &Payer) -> Result<Attempt, SimError> {
    let _serial = s.serial();
    let mut transitions = s.sync_held();
    let now = s.clock.now();
    let mut attempt = Attempt {
        checkout_id: checkout_id.to_owned(),
        checkout_status: String::new(),
        payment_intent_id: String::new(),
        bank_transfer_intent_id: None,
        subscription_id: None,
        one_time_payment_id: None,
        payment_method_id: None,
        transitions: Vec::new(),
    };
    let next = {
        let mut st = s.recurrente.lock();
        let co = st
            .checkouts
            .get(checkout_id)
            .cloned()
            .ok_or_else(|| SimError::NotFound {
                what: "Recurrente checkout",
                id: checkout_id.to_owned(),
            })?;
        match co.status {
            CheckoutStatus::Paid => return Err(refused(format!("checkout `{checkout_id}` is already paid"))),
            CheckoutStatus::InProgress => {
                return Err(refused(format!(
                    "checkout `{checkout_id}` has a bank transfer pending: settle it first"
                )));
            }
            CheckoutStatus::Unpaid if co.is_expired(now) => {
                return Err(refused(format!("checkout `{checkout_id}` has expired")));
            }
            CheckoutStatus::Unpaid => {}
        }
        let bank = outcome == Outcome::BankTransferPending;
        check_method(&co, bank)?;
        if co.setup {
            save_card(s, &mut st, &co, outcome, payer, now, &mut attempt)?;
            attempt.transitions = transitions;
            return Ok(attempt);
        }
        let recurring = co.recurring_line();
        if bank && recurring.as_ref().is_some_and(|(_, r)| r.trial.is_some()) {
            return Err(refused(
                "a free trial saves a card for its first charge: a bank transfer cannot start it",
            ));
        }
        let user_id = payer_user(s, &mut st, co.user_id.as_deref(), payer);
        let payment_id = new_id(s, "pa_", 8);
        let invoice_id = new_id(s, "inv_", 8);
        let intent_id = bank.then(|| new_id(s, "ba_", 8));
        let trial = recurring.as_ref().is_some_and(|(_, r)| r.trial.is_some());
        let method = match &intent_id {
            Some(ba) => PayMethod::BankTransfer { intent_id: ba.clone() },
            None if trial => PayMethod::Setup,
            None => PayMethod::Card,
        };
        let paymentable = match &recurring {
            Some(_) => Paymentable::Subscription(new_id(s, "su_", 8)),
            None => Paymentable::OneTimePayment(new_id(s, "on_", 8)),
        };
        let payment_method_id =
            (outcome == Outcome::CardSuccess).then(|| new_payment_method(s, &mut st, &user_id, MethodKind::Card));
        st.invoices.insert(invoice_id.clone(), payment_id.clone());
        if let Some(ba) = &intent_id {
            st.bank_intents.insert(ba.clone(), payment_id.clone());
        }
        let one_time_ok = recurring.is_none() && outcome == Outcome::CardSuccess;
        st.payments.insert(Payment {
            id: payment_id.clone(),
            invoice_id,
            created_at: now,
            method,
            status: match (recurring.is_some(), outcome) {
                (false, Outcome::CardSuccess) => PayStatus::Succeeded,
                (false, Outcome::CardDeclined) => PayStatus::Failed,
                _ => PayStatus::Pending,
            },
            failure_reason: (recurring.is_none() && outcome == Outcome::CardDeclined)
                .then(|| DECLINE_REASON.to_owned()),
            amount_cents: if trial { co.one_time_cents() } else { co.total_cents },
            currency: co.currency,
            checkout_id: Some(co.id.clone()),
            paymentable: paymentable.clone(),
            user_id: user_id.clone(),
            product_ids: co.lines.iter().map(|l| l.product_id.clone()).collect(),
            tax_invoice_url: None,
            refund_id: None,
            bank_reference: None,
            sender_comment: if bank { payer.sender_comment.clone() } else { None },
        });
        if let Some(c) = st.checkouts.get_mut(checkout_id) {
            let (intent, kind) = match (&intent_id, trial) {
                (Some(ba), _) => (ba.clone(), "BankTransferIntent"),
                (None, true) => (payment_id.clone(), "SetupIntent"),
                (None, false) => (payment_id.clone(), "PaymentIntent"),
            };
            let data = match outcome {
                Outcome::CardDeclined => json!({ "failure_reason": DECLINE_REASON }),
                _ => json!({}),
            };
            c.latest_intent = Some(LatestIntent {
                id: intent,
                created_at: now,
                kind,
                data,
            });
            if bank {
                c.status = CheckoutStatus::InProgress;
                c.payment_id = Some(payment_id.clone());
                c.user_id.get_or_insert_with(|| user_id.clone());
            }
            if one_time_ok {
                c.status = CheckoutStatus::Paid;
                c.payment_id = Some(payment_id.clone());
                c.payment_method_id.clone_from(&payment_method_id);
                c.user_id.get_or_insert_with(|| user_id.clone());
                if let Some(i) = c.latest_intent.as_mut() {
                    i.data = json!({ "auth_code": auth_code(&payment_id) });
                }
            }
        }
        attempt.payment_intent_id = payment_id.clone();
        attempt.bank_transfer_intent_id = intent_id.clone();
        attempt.payment_method_id = payment_method_id.clone();
        match (recurring, paymentable) {
            (Some((line, rec)), Paymentable::Subscription(su)) => {
                let terms = terms(&line, &rec).ok_or_else(|| refused("the recurring item's terms are out of range"))?;
                st.subs.insert(
                    su.clone(),
                    SubInfo {
                        checkout_id: co.id.clone(),
                        line: line.clone(),
                        user_id,
                        payment_method_id,
                        first_payment_id: payment_id.clone(),
                        start: if bank { Start::BankTransfer } else { Start::Card },
                        last_payment_id: None,
                        signup_cents: co.one_time_cents(),
                    },
                );
                attempt.subscription_id = Some(su.clone());
                if bank {
                    if let Some(p) = st.payments.get(&payment_id) {
                        s.enqueue(payment_webhooks(s, &st, "bank_transfer_intent.pending", p, now));
                    }
                }
                Next::Subscription {
                    id: su,
                    name: line.name,
                    terms,
                    trial,
                }
            }
            (_, paymentable) => {
                attempt.one_time_payment_id = Some(paymentable.id().to_owned());
                if let Some(p) = st.payments.get(&payment_id) {
                    let event = match outcome {
                        Outcome::BankTransferPending => "bank_transfer_intent.pending",
                        Outcome::CardSuccess => "payment_intent.succeeded",
                        Outcome::CardDeclined => "payment_intent.failed",
                    };
                    s.enqueue(payment_webhooks(s, &st, event, p, now));
                }
                Next::Done
            }
        }
    };

    if let Next::Subscription { id, name, terms, trial } = next {
        let new = NewSubscription::new(GATEWAY, name, terms).with_id(id.clone());
        run(s, s.engine.create(new), &mut transitions)?;
        match outcome {
            Outcome::CardSuccess => {
                run(s, s.engine.accept(&id), &mut transitions)?;
            }
            Outcome::CardDeclined if trial => {
                run(s, s.engine.decline(&id), &mut transitions)?;
            }
            Outcome::CardDeclined => {
                run(s, s.engine.fail_next_charges(&id, 1), &mut transitions)?;
                run(s, s.engine.accept(&id), &mut transitions)?;
            }
            Outcome::BankTransferPending => {}
        }
    }
    attempt.checkout_status = checkout_status(s, checkout_id);
    attempt.transitions = transitions;
    Ok(attempt)
}

fn checkout_status(s: &Sim<'_>, checkout_id: &str) -> String {
    let now = s.clock.now();
    s.recurrente
        .lock()
        .checkouts
        .get(checkout_id)
        .map(|co| co.status_name(now).to_owned())
        .unwrap_or_default()
}

/// The bank settles a pending transfer, named by its `ba_…` or `pa_…` id.
/// On success the bank gives the transfer its `bank_reference`, and `sender_comment` (when
/// given) replaces the comment the payer wrote when starting it; both show from then on.
pub(crate) fn settle(
    s: &Sim<'_>,
    id: &str,
    succeeded: bool,
    sender_comment: Option<&str>,
) -> Result<Attempt, SimError> {
    let _serial = s.serial();
    let mut transitions = s.sync_held();
    let now = s.clock.now();
    let (checkout_id, payment_id, intent_id, paymentable, payment_method_id) = {
        let mut st = s.recurrente.lock();
        let p = st.payment_by_any_id(id).cloned().ok_or_else(|| SimError::NotFound {
            what: "Recurrente bank transfer",
            id: id.to_owned(),
        })?;
        let PayMethod::BankTransfer { intent_id } = p.method.clone() else {
            return Err(refused(format!("`{id}` is not a bank transfer")));
        };
        if p.status != PayStatus::Pending {
            return Err(refused(format!("bank transfer `{intent_id}` is already settled")));
        }
        let checkout_id = p.checkout_id.clone().unwrap_or_default();
        if succeeded {
            if let Some(pay) = st.payments.get_mut(&p.id) {
                pay.bank_reference = Some(bank_reference(&p.id));
                if let Some(c) = sender_comment {
                    pay.sender_comment = Some(c.to_owned());
                }
            }
        }
        let pm = succeeded.then(|| new_payment_method(s, &mut st, &p.user_id, MethodKind::BankTransferReceiver));
        match &p.paymentable {
            Paymentable::Subscription(su) => {
                if let Some(info) = st.subs.get_mut(su) {
                    info.payment_method_id.clone_from(&pm);
                }
            }
            Paymentable::OneTimePayment(_) => {
                if succeeded {
                    set_payment(&mut st, &p.id, PayStatus::Succeeded, None, None);
                } else {
                    set_payment(&mut st, &p.id, PayStatus::Failed, None, Some(TRANSFER_FAILED_REASON));
                }
                if let Some(co) = st.checkouts.get_mut(&checkout_id) {
                    if succeeded {
                        co.status = CheckoutStatus::Paid;
                        co.payment_method_id.clone_from(&pm);
                    } else {
                        co.status = CheckoutStatus::Unpaid;
                        co.payment_id = None;
                    }
                }
                let event = if succeeded {
                    "bank_transfer_intent.succeeded"
                } else {
                    "bank_transfer_intent.failed"
                };
                if let Some(p) = st.payments.get(&p.id) {
                    s.enqueue(payment_webhooks(s, &st, event, p, now));
                }
            }
        }
        (checkout_id, p.id, intent_id, p.paymentable, pm)
    };
    let mut attempt = Attempt {
        checkout_id: checkout_id.clone(),
        checkout_status: String::new(),
        payment_intent_id: payment_id,
        bank_transfer_intent_id: Some(intent_id),
        subscription_id: None,
        one_time_payment_id: None,
        payment_method_id,
        transitions: Vec::new(),
    };
    match paymentable {
        Paymentable::Subscription(su) => {
            if succeeded {
                run(s, s.engine.accept(&su), &mut transitions)?;
            } else {
                run(s, s.engine.decline(&su), &mut transitions)?;
            }
            attempt.subscription_id = Some(su);
        }
        Paymentable::OneTimePayment(on) => attempt.one_time_payment_id = Some(on),
    }
    attempt.checkout_status = checkout_status(s, &checkout_id);
    attempt.transitions = transitions;
    Ok(attempt)
}

/// Whether `id` is a Recurrente subscription the API shows (it started, or failed to).
pub(crate) fn visible(s: &Sim<'_>, id: &str) -> bool {
    let known = s.recurrente.lock().subs.contains_key(id);
    known
        && s.engine
            .get(id)
            .is_some_and(|sub| sub.gateway == GATEWAY && json::status(sub.state).is_some())
}

fn not_found_sub(id: &str) -> SimError {
    SimError::NotFound {
        what: "Recurrente subscription",
        id: id.to_owned(),
    }
}

/// An engine operation on a visible subscription, serialized with its dispatch.
pub(crate) fn on_subscription<T>(
    s: &Sim<'_>,
    id: &str,
    op: impl FnOnce(&crate::engine::Engine) -> EngineOutcome<T>,
) -> Result<(T, Vec<Transition>), SimError> {
    let _serial = s.serial();
    let mut transitions = s.sync_held();
    if !visible(s, id) {
        return Err(not_found_sub(id));
    }
    let result = run(s, op(&s.engine), &mut transitions)?;
    Ok((result, transitions))
}

/// Brings a cancelled subscription back (`subscription.reactivate`; no documented endpoint,
/// so only the simulator's control route does it).
pub(crate) fn reactivate(s: &Sim<'_>, id: &str) -> Result<Vec<Transition>, SimError> {
    on_subscription(s, id, |e| e.reactivate(id)).map(|(_, t)| t)
}

/// Pauses or resumes a subscription (no documented endpoint: merchants do it in the dashboard).
pub(crate) fn set_paused(s: &Sim<'_>, id: &str, paused: bool) -> Result<Vec<Transition>, SimError> {
    on_subscription(s, id, |e| if paused { e.pause(id) } else { e.resume(id) }).map(|(_, t)| t)
}

/// The checkout a payment (`pa_…`, `ba_…`) belongs to.
pub(crate) fn checkout_of_payment(s: &Sim<'_>, id: &str) -> Option<String> {
    s.recurrente.lock().payment_by_any_id(id)?.checkout_id.clone()
}

/// Chooses the payment events sent from now on (legacy, unified `intent.*`, or both).
pub(crate) fn set_payment_events(s: &Sim<'_>, events: RecurrentePaymentEvents) {
    s.recurrente.lock().payment_events = Some(events);
}

/// Makes the next `count` charges of a subscription fail; returns how many will.
pub(crate) fn fail_next_charge(s: &Sim<'_>, id: &str, count: u32) -> Result<u32, SimError> {
    on_subscription(s, id, |e| e.fail_next_charges(id, count)).map(|(sub, _)| sub.failures_pending)
}

/// Makes the next `count` one-time payments with a saved payment method fail; returns how many
/// will.
pub(crate) fn fail_next_method_charge(s: &Sim<'_>, id: &str, count: u32) -> Result<u32, SimError> {
    let mut st = s.recurrente.lock();
    let pm = st.payment_methods.get_mut(id).ok_or_else(|| SimError::NotFound {
        what: "Recurrente payment method",
        id: id.to_owned(),
    })?;
    pm.fail_next = pm.fail_next.saturating_add(count);
    Ok(pm.fail_next)
}

/// Turns a webhook endpoint off or on.
pub(crate) fn set_endpoint_disabled(s: &Sim<'_>, id: &str, disabled: bool) -> Result<Value, SimError> {
    let now = s.clock.now();
    let mut st = s.recurrente.lock();
    let e = st.endpoints.get_mut(id).ok_or_else(|| SimError::NotFound {
        what: "Recurrente webhook endpoint",
        id: id.to_owned(),
    })?;
    e.disabled = disabled;
    e.updated_at = now;
    Ok(json::endpoint(e, false))
}

/// The checkout as the API shows it.
pub(crate) fn checkout_value(s: &Sim<'_>, id: &str) -> Option<Value> {
    s.sync();
    let st = s.recurrente.lock();
    st.checkouts.get(id).map(|co| json::checkout(&st, co, &Ctx::new(s)))
}

/// The subscription as the API shows it.
pub(crate) fn subscription_value(s: &Sim<'_>, id: &str) -> Option<Value> {
    s.sync();
    let sub = s.engine.get(id).filter(|sub| sub.gateway == GATEWAY)?;
    let st = s.recurrente.lock();
    let info = st.subs.get(id)?;
    json::subscription(&st, &sub, info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrente::store::{Cur, Unit};

    #[test]
    fn outcomes_parse_and_print() {
        for o in [
            Outcome::CardSuccess,
            Outcome::CardDeclined,
            Outcome::BankTransferPending,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("cash"), None);
    }

    #[test]
    fn terms_of_a_recurring_item() {
        let line = Line {
            product_id: "prod_1".into(),
            price_id: "price_1".into(),
            name: "Gold".into(),
            unit_cents: 5000,
            quantity: 2,
            currency: Cur::Gtq,
            recurring: None,
            payment_method_types: None,
            available_installments: None,
            has_dynamic_pricing: false,
            inline: true,
        };
        let rec = Recurring {
            unit: Unit::Month,
            count: 1,
            trial: Some((Unit::Week, 2)),
            end_after: Some(12),
            allowed_to_cancel_after: None,
        };
        let t = terms(&line, &rec).unwrap();
        assert_eq!(t.amount, Decimal::new(10_000, 2));
        assert_eq!(t.currency, "GTQ");
        assert_eq!(t.retry_after, vec![Duration::days(3), Duration::days(5)]);
        assert_eq!(t.end_after_periods.map(NonZeroU32::get), Some(12));
        assert!(t.trial.is_some());
        assert_eq!(cents_of(t.amount), 10_000);
        assert_eq!(auth_code("pa_1").len(), 6);
        assert_eq!(bank_reference("pa_1").len(), 9);
        assert_eq!(bank_reference("pa_1"), bank_reference("pa_1"));
        assert_ne!(bank_reference("pa_1"), bank_reference("pa_2"));
    }
}
