//! The JSON Recurrente answers with and sends in webhooks, in the shapes of the reference's
//! examples (key order aside: `serde_json` sorts keys; JSON objects are unordered).

use chrono::{DateTime, FixedOffset, Offset as _, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::store::{
    Checkout, CheckoutStatus, Coupon, Customer, Endpoint, MethodKind, PayMethod, PayStatus, Payment, Price, Product,
    Refund, State, SubInfo, User,
};
use crate::engine::{State as SubState, Subscription};
use crate::state::Shared;

/// The `api_version` of every event (the reference's most frequent one).
pub(crate) const API_VERSION: &str = "2024-04-24";

/// The card every simulated card payment uses (the reference's test card).
pub(crate) const CARD_LAST4: &str = "4242";
/// Its network.
pub(crate) const CARD_NETWORK: &str = "visa";

/// What renderers need besides the state.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) base_url: &'a str,
    pub(crate) account_slug: String,
    pub(crate) now: DateTime<Utc>,
    /// `live_mode`: whether the public key is a live one (`pk_live_…`).
    pub(crate) live: bool,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(s: &'a Shared) -> Ctx<'a> {
        Ctx {
            base_url: &s.base_url,
            account_slug: slug(&s.config.recurrente_account_name),
            now: s.clock.now(),
            live: s.config.recurrente_public_key.starts_with("pk_live_"),
        }
    }
}

/// `el-nombre-de-tu-producto` from `El nombre de tu producto`.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' | 'Á' => 'a',
            'é' | 'è' | 'ë' | 'ê' | 'É' => 'e',
            'í' | 'ì' | 'ï' | 'î' | 'Í' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'Ó' => 'o',
            'ú' | 'ù' | 'ü' | 'û' | 'Ú' => 'u',
            'ñ' | 'Ñ' => 'n',
            c => c.to_ascii_lowercase(),
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "producto".to_owned() } else { out }
}

/// `2025-05-15T13:45:30Z` (checkouts).
pub(crate) fn utc_secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2024-02-16T03:01:13.260Z` (most events' `created_at`).
pub(crate) fn utc_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2024-05-03T18:28:07.673413Z` (webhook endpoints).
pub(crate) fn utc_micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn guatemala() -> FixedOffset {
    FixedOffset::west_opt(6 * 3600).unwrap_or_else(|| Utc.fix())
}

/// `2024-03-01T03:52:12.636-06:00` (subscriptions, payments, refunds, setup intents).
pub(crate) fn gt_millis(t: DateTime<Utc>) -> String {
    t.with_timezone(&guatemala())
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

pub(crate) fn price(p: &Price) -> Value {
    let (interval, count, trial, trial_count, end) = match &p.recurring {
        Some(r) => (
            r.unit.as_str(),
            r.count,
            r.trial.map(|(u, _)| u.as_str()).unwrap_or(""),
            r.trial.map(|(_, c)| c).unwrap_or(0),
            r.end_after,
        ),
        None => ("", 0, "", 0, None),
    };
    json!({
        "id": p.id,
        "amount_in_cents": p.amount_cents,
        "currency": p.currency.as_str(),
        "billing_interval_count": count,
        "billing_interval": interval,
        "charge_type": if p.recurring.is_some() { "recurring" } else { "one_time" },
        "periods_before_automatic_cancellation": end,
        "free_trial_interval_count": trial_count,
        "free_trial_interval": trial,
    })
}

/// A product; `in_event` adds `has_dynamic_pricing` (as in `subscription.*` events).
pub(crate) fn product(p: &Product, cx: &Ctx<'_>, in_event: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "status": if p.deleted { "deleted" } else { "active" },
        "name": p.name,
        "description": p.description,
        "success_url": p.success_url,
        "cancel_url": p.cancel_url,
        "custom_terms_and_conditions": p.custom_terms_and_conditions,
        "phone_requirement": p.phone_requirement,
        "address_requirement": p.address_requirement,
        "billing_info_requirement": p.billing_info_requirement,
        "prices": p.prices.iter().map(price).collect::<Vec<_>>(),
        "storefront_link": format!("{}/s/{}/{}", cx.base_url, cx.account_slug, p.slug),
        "metadata": p.metadata,
    });
    if in_event {
        insert(&mut v, "has_dynamic_pricing", json!(p.has_dynamic_pricing));
    }
    v
}

/// A product as `/api/products` answers it: also its `image_url` (payments and events keep
/// the seed's product shape).
pub(crate) fn product_object(p: &Product, cx: &Ctx<'_>) -> Value {
    let mut v = product(p, cx, false);
    insert(&mut v, "image_url", json!(p.image_url));
    v
}

fn insert(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(m) = v {
        m.insert(key.to_owned(), value);
    }
}

/// `{"id":…,"status":"deleted"}`.
pub(crate) fn deleted(id: &str) -> Value {
    json!({ "id": id, "status": "deleted" })
}

/// A whole percentage as a JSON number, a fractional one as a decimal string (as Rails writes
/// decimals; no float ever holds it).
fn percent(p: Decimal) -> Value {
    match (p.fract().is_zero(), p.to_i64()) {
        (true, Some(n)) => json!(n),
        _ => json!(p.to_string()),
    }
}

pub(crate) fn coupon(c: &Coupon) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "amount_off_in_cents": c.amount_off_cents,
        "percent_off": c.percent_off.map(percent),
        "max_redemptions": c.max_redemptions,
        "currency": c.currency.map(|c| c.as_str()),
        "duration": c.duration,
        "expires_at": c.expires_at.map(gt_millis),
        "status": if c.deleted { "deleted" } else { "active" },
    })
}

pub(crate) fn user(u: &User) -> Value {
    json!({ "email": u.email, "id": u.id })
}

/// A customer, as `/api/customers` answers it.
pub(crate) fn customer_object(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "user_id": c.user_id,
        "email": c.email,
        "name": c.name,
        "phone": c.phone,
        "address": c.address,
        "nit": c.nit,
        "metadata": c.metadata,
    })
}

fn customer(st: &State, user_id: &str) -> Value {
    match st.users.get(user_id) {
        Some(u) => json!({ "email": u.email, "full_name": u.full_name, "id": u.id }),
        None => json!({ "email": null, "full_name": null, "id": user_id }),
    }
}

pub(crate) fn refund(st: &State, r: &Refund) -> Value {
    json!({
        "id": r.id,
        "status": "succeeded",
        "customer": customer(st, &r.user_id),
        "account_refunded_amount_in_cents": r.account_cents,
        "customer_refunded_amount_in_cents": r.customer_cents,
        "currency": r.currency.as_str(),
        "created_at": gt_millis(r.created_at),
    })
}

/// `refund.create`. No source documents its payload: the refund as `POST /api/refunds` answers
/// it, with `event_type`, `api_version`, the refunded payment as `payment_intent {id}`,
/// `amount_in_cents` (what the customer gets back) and, as on subscription events, the
/// payment's `checkout` (with its `metadata`) so apps can correlate.
pub(crate) fn refund_event(st: &State, cx: &Ctx<'_>, r: &Refund, p: &Payment) -> Value {
    let mut v = refund(st, r);
    insert(&mut v, "event_type", json!("refund.create"));
    insert(&mut v, "api_version", json!(API_VERSION));
    insert(&mut v, "created_at", json!(utc_millis(r.created_at)));
    insert(&mut v, "payment_intent", json!({ "id": p.id }));
    insert(&mut v, "amount_in_cents", json!(r.customer_cents));
    insert(&mut v, "checkout", event_checkout(st, p.checkout_id.as_deref(), cx));
    insert(&mut v, "live_mode", json!(cx.live));
    connected(st, p.checkout_id.as_deref(), &mut v);
    v
}

/// An endpoint; `signingSecret` only in the answer that creates it.
pub(crate) fn endpoint(e: &Endpoint, with_secret: bool) -> Value {
    let mut v = json!({
        "description": e.description,
        "url": e.url,
        "disabled": e.disabled,
        "createdAt": utc_micros(e.created_at),
        "updatedAt": utc_micros(e.updated_at),
        "id": e.id,
        "metadata": e.metadata,
    });
    if with_secret {
        insert(&mut v, "signingSecret", json!(e.secret));
    }
    v
}

/// `{"type":…,"id":…,"tax_name":null,"tax_id":null}`, and in events also `address` and
/// `phone_number`.
fn paymentable(p: &Payment, full: bool) -> Value {
    let mut v = json!({
        "type": p.paymentable.kind(),
        "id": p.paymentable.id(),
        "tax_name": null,
        "tax_id": null,
    });
    if full {
        insert(&mut v, "address", Value::Null);
        insert(&mut v, "phone_number", Value::Null);
    }
    v
}

/// `{"id":"pa_…","paymentable":{…}}`, or null.
fn payment_ref(st: &State, payment_id: Option<&str>, full: bool) -> Value {
    match payment_id.and_then(|id| st.payments.get(id)) {
        Some(p) => json!({ "id": p.id, "paymentable": paymentable(p, full) }),
        None => Value::Null,
    }
}

fn payment_method(st: &State, id: Option<&str>) -> Value {
    match id.and_then(|id| st.payment_methods.get(id)) {
        Some(m) => match m.kind {
            MethodKind::Card => json!({
                "id": m.id,
                "type": "card",
                "card": { "last4": CARD_LAST4, "network": CARD_NETWORK },
            }),
            MethodKind::BankTransferReceiver => json!({
                "id": m.id,
                "type": "bank_transfer_receiver",
                "bank_transfer_receiver": {},
            }),
        },
        None => Value::Null,
    }
}

/// The checkout's transfer setups: `pending` until the checkout is paid, then `completed` (as
/// `POST /api/transfers` answers), in the checkout's currency.
fn transfer_setups(co: &Checkout) -> Value {
    let status = if co.status == CheckoutStatus::Paid {
        "completed"
    } else {
        "pending"
    };
    Value::Array(
        co.transfer_setups
            .iter()
            .map(|t| {
                json!({
                    "id": t.id,
                    "status": status,
                    "amount_in_cents": t.amount_cents,
                    "currency": co.currency.as_str(),
                    "recipient_id": t.recipient_id,
                })
            })
            .collect(),
    )
}

/// The checkout's items with their options, as they were given.
fn items(co: &Checkout) -> Value {
    Value::Array(
        co.lines
            .iter()
            .map(|l| {
                json!({
                    "product_id": l.product_id,
                    "price_id": l.price_id,
                    "name": l.name,
                    "amount_in_cents": l.unit_cents,
                    "currency": l.currency.as_str(),
                    "quantity": l.quantity,
                    "charge_type": if l.recurring.is_some() { "recurring" } else { "one_time" },
                    "payment_method_types": l.payment_method_types,
                    "available_installments": l.available_installments,
                    "has_dynamic_pricing": l.has_dynamic_pricing,
                })
            })
            .collect(),
    )
}

/// A checkout as `GET /api/checkouts/{id}` answers it.
pub(crate) fn checkout(st: &State, co: &Checkout, cx: &Ctx<'_>) -> Value {
    let latest_intent = match &co.latest_intent {
        Some(i) => json!({
            "id": i.id,
            "created_at": utc_secs(i.created_at),
            "type": i.kind,
            "data": i.data,
        }),
        None => Value::Null,
    };
    json!({
        "id": co.id,
        "status": co.status_name(cx.now),
        "payment": payment_ref(st, co.payment_id.as_deref(), false),
        "payment_method": payment_method(st, co.payment_method_id.as_deref()),
        "transfer_setups": transfer_setups(co),
        "metadata": co.metadata,
        "expires_at": co.expires_at.map(utc_secs),
        "success_url": co.success_url,
        "cancel_url": co.cancel_url,
        "created_at": utc_secs(co.created_at),
        "total_in_cents": co.total_cents.to_string(),
        "currency": co.currency.as_str(),
        "latest_intent": latest_intent,
        "live_mode": cx.live,
        // Newer fields of the reference: no coupon is applied to a checkout here, so the
        // subtotal is the total and `discount` is null; no custom fields are collected.
        "subtotal_in_cents": co.total_cents,
        "discount": null,
        "custom_fields": [],
        "payment_method_types": co.stated_methods(),
        "items": items(co),
    })
}

/// The checkout inside an event (`payment_intent.succeeded`'s shape).
fn checkout_in_event(st: &State, co: &Checkout, cx: &Ctx<'_>) -> Value {
    json!({
        "id": co.id,
        "status": co.status_name(cx.now),
        "payment": payment_ref(st, co.payment_id.as_deref(), true),
        "payment_method": payment_method(st, co.payment_method_id.as_deref()),
        "transfer_setups": transfer_setups(co),
        "metadata": co.metadata,
    })
}

fn event_checkout(st: &State, checkout_id: Option<&str>, cx: &Ctx<'_>) -> Value {
    match checkout_id.and_then(|id| st.checkouts.get(id)) {
        Some(co) => checkout_in_event(st, co, cx),
        None => Value::Null,
    }
}

/// Adds `connected: true` and `account_id` to events of a connected account's checkout.
fn connected(st: &State, checkout_id: Option<&str>, v: &mut Value) {
    if let Some(account) = checkout_id
        .and_then(|id| st.checkouts.get(id))
        .and_then(|co| co.custom_account_id.as_deref())
    {
        insert(v, "connected", json!(true));
        insert(v, "account_id", json!(account));
    }
}

/// A payment intent as `PATCH /api/payment_intents/{id}` answers it.
pub(crate) fn payment_intent(st: &State, p: &Payment, cx: &Ctx<'_>) -> Value {
    let products: Vec<Value> = p
        .product_ids
        .iter()
        .filter_map(|id| st.products.get(id))
        .map(|prod| product(prod, cx, false))
        .collect();
    json!({
        "id": p.id,
        "checkout": p.checkout_id.as_ref().map(|id| json!({ "id": id })),
        "api_version": API_VERSION,
        "created_at": gt_millis(p.created_at),
        "failure_reason": p.failure_reason,
        "customer_id": p.user_id,
        "amount_in_cents": p.amount_cents,
        "currency": p.currency.as_str(),
        "fee": p.fee(),
        "vat_withheld": 0,
        "vat_withheld_currency": p.currency.as_str(),
        "product": p.product_ids.first().map(|id| json!({ "id": id })),
        "products": products,
        "customer": customer(st, &p.user_id),
        "payment": { "id": p.id, "paymentable": paymentable(p, true) },
        "tax_invoice_url": p.tax_invoice_url,
    })
}

/// The Recurrente status of an engine state (`None`: not visible through the API yet).
pub(crate) fn status(state: SubState) -> Option<&'static str> {
    Some(match state {
        SubState::Pending => return None,
        SubState::Trialing | SubState::Active => "active",
        SubState::PastDue => "past_due",
        SubState::Paused => "paused",
        SubState::Cancelled { .. } => "cancelled",
        SubState::Failed => "unable_to_start",
    })
}

/// The current period: the trial while trialing, the unpaid period while past due, else the
/// last paid period.
fn period(sub: &Subscription) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = sub.accepted_at.unwrap_or(sub.created_at);
    let anchor = sub.anchor.unwrap_or(start);
    let at = |i: u32| sub.terms.interval.add_to(anchor, i).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let index = match (&sub.state, &sub.dunning) {
        (SubState::PastDue, Some(d)) => Some(d.period_index),
        (SubState::Pending | SubState::Failed, _) => return (start, start),
        _ if sub.periods_paid == 0 => return (start, anchor),
        _ => sub.next_period_index.checked_sub(1),
    };
    match index {
        Some(i) => (at(i), at(i.saturating_add(1))),
        None => (start, anchor),
    }
}

/// A subscription as `GET /api/subscriptions/{id}` answers it.
pub(crate) fn subscription(st: &State, sub: &Subscription, info: &SubInfo) -> Option<Value> {
    let status = status(sub.state)?;
    let (start, end) = period(sub);
    let subscriber = match st.users.get(&info.user_id) {
        Some(u) => {
            let (first, last) = u.names();
            json!({
                "id": u.id,
                "first_name": first,
                "last_name": last,
                "full_name": u.full_name,
                "email": u.email,
                "phone_number": null,
            })
        }
        None => json!({ "id": info.user_id, "first_name": null, "last_name": null, "full_name": null,
                        "email": null, "phone_number": null }),
    };
    Some(json!({
        "id": sub.id,
        "description": info.line.name,
        "status": status,
        "created_at": gt_millis(sub.created_at),
        "updated_at": gt_millis(sub.last_event_at),
        "current_period_start": gt_millis(start),
        "current_period_end": gt_millis(end),
        "tax_name": null,
        "tax_id": null,
        "subscriber": subscriber,
        "checkout": { "id": info.checkout_id },
        "product": { "id": info.line.product_id },
        // The newer fields: the next charge (or, past due, the next retry), retries made after
        // the failed charge, the date a pause ends (the engine's pauses have none), the card.
        "next_payment_attempt_at": sub.dunning.as_ref().map(|d| d.next_retry_at).or(sub.next_charge_at).map(gt_millis),
        "payment_retries": sub.dunning.as_ref().map_or(0, |d| d.attempts.saturating_sub(1)),
        "resumes_on": null,
        "default_payment_method": payment_method(st, info.payment_method_id.as_deref()),
    }))
}

/// A payment's unified intent id: `in_` and the payment's own suffix (`pa_x7k2m9q4` →
/// `in_x7k2m9q4`).
pub(crate) fn intent_id(p: &Payment) -> String {
    let suffix = p.id.split_once('_').map_or(p.id.as_str(), |(_, rest)| rest);
    format!("in_{suffix}")
}

/// A bank transfer's `bank_reference` and `sender_comment`: both null until the transfer
/// settled (and on a failed one).
fn bank_details(p: &Payment) -> (Value, Value) {
    if p.status == PayStatus::Succeeded {
        (json!(p.bank_reference), json!(p.sender_comment))
    } else {
        (Value::Null, Value::Null)
    }
}

/// A payment as `GET /api/intents/{id}` answers it: the unified `intent.*` shape (`type`,
/// `status`, `raw_status`, `amount_in_cents`, `currency`, `customer {id, email, nit}`,
/// `product {id}`, `checkout`, per-type `details`) and `payment {id, paymentable}`, the same
/// payment object as the legacy events'; `None` for a trial's card setup, which is no payment.
pub(crate) fn unified_intent(st: &State, p: &Payment, cx: &Ctx<'_>) -> Option<Value> {
    let (kind, details) = match &p.method {
        PayMethod::Card => (
            "payment",
            json!({ "payment_intent_id": p.id, "card": { "last4": CARD_LAST4, "network": CARD_NETWORK } }),
        ),
        PayMethod::BankTransfer { intent_id } => {
            let (reference, comment) = bank_details(p);
            (
                "bank_transfer",
                json!({ "bank_transfer_intent_id": intent_id, "bank_reference": reference,
                        "sender_comment": comment }),
            )
        }
        PayMethod::Setup => return None,
    };
    let (status, raw_status) = match p.status {
        PayStatus::Pending => (
            "pending",
            if kind == "bank_transfer" {
                "pending"
            } else {
                "processing"
            },
        ),
        PayStatus::Succeeded => ("succeeded", "succeeded"),
        PayStatus::Failed => ("failed", "failed"),
    };
    let user = st.users.get(&p.user_id);
    let customer = st.customer_of_user(&p.user_id);
    Some(json!({
        "id": intent_id(p),
        "type": kind,
        "status": status,
        "raw_status": raw_status,
        "amount_in_cents": p.amount_cents,
        "currency": p.currency.as_str(),
        "created_at": utc_millis(p.created_at),
        "failure_reason": p.failure_reason,
        "customer": {
            // The merchant's customer (`cus_…`) when there is one, else the user.
            "id": customer.map_or(p.user_id.as_str(), |c| c.id.as_str()),
            "user_id": p.user_id,
            "email": customer.map(|c| c.email.as_str()).or(user.map(|u| u.email.as_str())),
            "nit": customer.and_then(|c| c.nit.as_deref()),
        },
        "product": { "id": p.product_ids.first() },
        "checkout": event_checkout(st, p.checkout_id.as_deref(), cx),
        "payment": { "id": p.id, "paymentable": paymentable(p, true) },
        "details": details,
        "live_mode": cx.live,
    }))
}

/// The unified event name of a legacy payment event: `intent.succeeded`, `intent.pending`,
/// `intent.failed` (`None` for anything else).
pub(crate) fn unified_name(legacy: &str) -> Option<&'static str> {
    let (family, outcome) = legacy.split_once('.')?;
    if !matches!(family, "payment_intent" | "bank_transfer_intent") {
        return None;
    }
    match outcome {
        "succeeded" => Some("intent.succeeded"),
        "pending" => Some("intent.pending"),
        "failed" => Some("intent.failed"),
        _ => None,
    }
}

/// `intent.succeeded` / `.pending` / `.failed`: the unified intent, with its `event_type`,
/// `api_version` and the event's `created_at`.
pub(crate) fn unified_event(
    st: &State,
    cx: &Ctx<'_>,
    event_type: &str,
    p: &Payment,
    at: DateTime<Utc>,
) -> Option<Value> {
    let mut v = unified_intent(st, p, cx)?;
    insert(&mut v, "event_type", json!(event_type));
    insert(&mut v, "api_version", json!(API_VERSION));
    insert(&mut v, "created_at", json!(utc_millis(at)));
    connected(st, p.checkout_id.as_deref(), &mut v);
    Some(v)
}

/// `payment_intent.succeeded` / `payment_intent.failed`.
pub(crate) fn payment_event(st: &State, cx: &Ctx<'_>, event_type: &str, p: &Payment, at: DateTime<Utc>) -> Value {
    let mut v = json!({
        "id": p.id,
        "event_type": event_type,
        "api_version": API_VERSION,
        "checkout": event_checkout(st, p.checkout_id.as_deref(), cx),
        "created_at": utc_millis(at),
        "failure_reason": p.failure_reason,
        "amount_in_cents": p.amount_cents,
        "currency": p.currency.as_str(),
        "fee": p.fee(),
        "vat_withheld": 0,
        "vat_withheld_currency": p.currency.as_str(),
        "customer": customer(st, &p.user_id),
        "payment": { "id": p.id, "paymentable": paymentable(p, true) },
        "product": p.product_ids.first().map(|id| json!({ "id": id })),
        "invoice": { "id": p.invoice_id, "tax_invoice_url": p.tax_invoice_url },
        "live_mode": cx.live,
    });
    connected(st, p.checkout_id.as_deref(), &mut v);
    v
}

/// `bank_transfer_intent.pending` / `.succeeded` / `.failed`, with the bank's `bank_reference`
/// and the payer's `sender_comment` at the top level (null while pending).
pub(crate) fn bank_event(
    st: &State,
    cx: &Ctx<'_>,
    event_type: &str,
    p: &Payment,
    intent_id: &str,
    at: DateTime<Utc>,
) -> Value {
    let mut v = json!({
        "id": intent_id,
        "event_type": event_type,
        "api_version": API_VERSION,
        "created_at": utc_millis(at),
        "customer_id": p.user_id,
        "customer": { "id": p.user_id },
        "amount_in_cents": p.amount_cents,
        "currency": p.currency.as_str(),
        "product": p.product_ids.first().map(|id| json!({ "id": id })),
        "checkout": event_checkout(st, p.checkout_id.as_deref(), cx),
        "payment": { "id": p.id, "paymentable": paymentable(p, true) },
        "tax_invoice_url": p.tax_invoice_url,
        "live_mode": cx.live,
    });
    let (reference, comment) = bank_details(p);
    insert(&mut v, "bank_reference", reference);
    insert(&mut v, "sender_comment", comment);
    connected(st, p.checkout_id.as_deref(), &mut v);
    v
}

/// `subscription.create`, `.past_due`, `.pause` (or the legacy `.paused`), `.unpause`,
/// `.reactivate`, `.cancel`. Beside the
/// reference's fields, `checkout` (with its `metadata`) so apps can correlate.
pub(crate) fn subscription_event(
    st: &State,
    cx: &Ctx<'_>,
    event_type: &str,
    sub_id: &str,
    info: &SubInfo,
    at: DateTime<Utc>,
) -> Value {
    let user = st.users.get(&info.user_id);
    let payment_id = info.last_payment_id.as_deref().unwrap_or(&info.first_payment_id);
    let payment = match st.payments.get(payment_id) {
        Some(p) => json!({ "id": p.id, "paymentable": paymentable(p, true) }),
        None => json!({ "id": payment_id, "paymentable": {
            "type": "Subscription", "id": sub_id, "tax_name": null, "tax_id": null,
            "address": null, "phone_number": null } }),
    };
    let mut v = json!({
        "api_version": API_VERSION,
        "created_at": utc_millis(at),
        "customer_email": user.map(|u| u.email.as_str()),
        "customer_id": info.user_id,
        "customer_name": user.and_then(|u| u.full_name.as_deref()),
        "event_type": event_type,
        "id": sub_id,
        "payment": payment,
        "product": st.products.get(&info.line.product_id).map(|p| product(p, cx, true)),
        "checkout": event_checkout(st, Some(&info.checkout_id), cx),
        "live_mode": cx.live,
    });
    connected(st, Some(&info.checkout_id), &mut v);
    v
}

/// `setup_intent.succeeded` / `.cancelled`, with the reference's `suscription` (sic) key, and
/// `checkout` so apps can correlate.
pub(crate) fn setup_event(
    st: &State,
    cx: &Ctx<'_>,
    event_type: &str,
    sub_id: &str,
    info: &SubInfo,
    at: DateTime<Utc>,
) -> Value {
    let status = if event_type.ends_with("succeeded") {
        "succeeded"
    } else {
        "cancelled"
    };
    let mut v = json!({
        "api_version": API_VERSION,
        "created_at": gt_millis(at),
        "event_type": event_type,
        "status": status,
        "suscription": { "id": sub_id },
        "checkout": event_checkout(st, Some(&info.checkout_id), cx),
        "live_mode": cx.live,
    });
    connected(st, Some(&info.checkout_id), &mut v);
    v
}

/// `setup_intent.succeeded` / `.cancelled` of a setup (card-saving) checkout: flat, the name
/// under `event_type`, the saved `payment_method {id, type, card {last4, network}}` (null when
/// cancelled) and `checkout {id, metadata}`, as the card-update guide describes it.
pub(crate) fn checkout_setup_event(
    st: &State,
    cx: &Ctx<'_>,
    event_type: &str,
    intent_id: &str,
    co: &Checkout,
    at: DateTime<Utc>,
) -> Value {
    let succeeded = event_type.ends_with("succeeded");
    let mut v = json!({
        "id": intent_id,
        "event_type": event_type,
        "api_version": API_VERSION,
        "created_at": gt_millis(at),
        "status": if succeeded { "succeeded" } else { "cancelled" },
        "payment_method": if succeeded { payment_method(st, co.payment_method_id.as_deref()) } else { Value::Null },
        "customer_id": co.user_id,
        "checkout": checkout_in_event(st, co, cx),
        "live_mode": cx.live,
    });
    connected(st, Some(&co.id), &mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats_follow_the_reference() {
        let t: DateTime<Utc> = "2024-03-01T09:52:12.636Z".parse().unwrap();
        assert_eq!(gt_millis(t), "2024-03-01T03:52:12.636-06:00");
        assert_eq!(utc_millis(t), "2024-03-01T09:52:12.636Z");
        assert_eq!(utc_secs(t), "2024-03-01T09:52:12Z");
        assert_eq!(utc_micros(t), "2024-03-01T09:52:12.636000Z");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("El nombre de tu producto"), "el-nombre-de-tu-producto");
        assert_eq!(slug("  Membresía Gold!! "), "membresia-gold");
        assert_eq!(slug("???"), "producto");
    }
}
