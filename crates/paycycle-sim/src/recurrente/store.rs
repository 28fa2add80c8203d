//! Recurrente's objects beyond the engine's subscriptions: checkouts, products and prices,
//! coupons, users and customers, payments (payment intents), payment methods, refunds, transfers, webhook
//! endpoints, and what the frontend keeps about each subscription.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use paycycle_core::{Interval, IntervalUnit};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Rows in creation order with an index by id.
#[derive(Debug)]
pub(crate) struct Table<T> {
    rows: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }
}

/// Something with an id.
pub(crate) trait Row {
    fn id(&self) -> &str;
}

impl<T: Row> Table<T> {
    pub(crate) fn insert(&mut self, row: T) {
        self.index.insert(row.id().to_owned(), self.rows.len());
        self.rows.push(row);
    }

    pub(crate) fn get(&self, id: &str) -> Option<&T> {
        self.index.get(id).and_then(|i| self.rows.get(*i))
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let i = *self.index.get(id)?;
        self.rows.get_mut(i)
    }

    /// Newest first.
    pub(crate) fn newest_first(&self) -> impl Iterator<Item = &T> {
        self.rows.iter().rev()
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.rows.iter()
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<T> {
        let i = self.index.remove(id)?;
        if i >= self.rows.len() {
            return None;
        }
        let row = self.rows.remove(i);
        for v in self.index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        Some(row)
    }
}

macro_rules! rows {
    ($($t:ty),*) => {$(
        impl Row for $t {
            fn id(&self) -> &str {
                &self.id
            }
        }
    )*};
}

rows!(
    Checkout,
    Product,
    Coupon,
    User,
    Customer,
    Payment,
    PaymentMethod,
    Refund,
    Transfer,
    Endpoint
);

/// The payment methods an item may state (`payment_method_types`), in their canonical order.
pub(crate) const PAYMENT_METHOD_TYPES: &[&str] = &["card", "bank_transfer", "balance", "stablecoins"];

/// The two currencies Recurrente charges in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cur {
    Gtq,
    Usd,
}

impl Cur {
    pub(crate) fn parse(s: &str) -> Option<Cur> {
        match s {
            "GTQ" => Some(Cur::Gtq),
            "USD" => Some(Cur::Usd),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Cur::Gtq => "GTQ",
            Cur::Usd => "USD",
        }
    }
}

/// A billing or trial interval unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// `day`: what the official plugin sends (its trials are always in days).
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    pub(crate) fn parse(s: &str) -> Option<Unit> {
        match s {
            "day" => Some(Unit::Day),
            "week" => Some(Unit::Week),
            "month" => Some(Unit::Month),
            "year" => Some(Unit::Year),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }

    /// `count` of this unit (`None` for 0): days exactly (a 10-day trial is 10 days).
    pub(crate) fn times(self, count: u32) -> Option<Interval> {
        let unit = match self {
            Unit::Day => IntervalUnit::Day,
            Unit::Week => IntervalUnit::Week,
            Unit::Month => IntervalUnit::Month,
            Unit::Year => IntervalUnit::Year,
        };
        Interval::new(unit, count).ok()
    }
}

/// The recurrence of a price or checkout item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recurring {
    pub(crate) unit: Unit,
    pub(crate) count: u32,
    /// Unit and count (at least 1) of a free trial.
    pub(crate) trial: Option<(Unit, u32)>,
    pub(crate) end_after: Option<u32>,
    pub(crate) allowed_to_cancel_after: Option<u32>,
}

/// A price of a product.
#[derive(Debug, Clone)]
pub(crate) struct Price {
    pub(crate) id: String,
    pub(crate) amount_cents: i64,
    pub(crate) currency: Cur,
    /// `None`: one-time.
    pub(crate) recurring: Option<Recurring>,
}

/// A product. Checkout items given by their details become unlisted products.
#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub(crate) id: String,
    /// Shown by `GET /api/products` (false for the products made for checkout items).
    pub(crate) listed: bool,
    pub(crate) deleted: bool,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) image_url: Option<String>,
    pub(crate) success_url: Option<String>,
    pub(crate) cancel_url: Option<String>,
    pub(crate) custom_terms_and_conditions: Option<String>,
    pub(crate) phone_requirement: &'static str,
    pub(crate) address_requirement: &'static str,
    pub(crate) billing_info_requirement: &'static str,
    pub(crate) adjustable_quantity: bool,
    pub(crate) inventory_quantity: Option<i64>,
    pub(crate) has_dynamic_pricing: bool,
    pub(crate) card_payments_enabled: bool,
    pub(crate) bank_transfer_payments_enabled: bool,
    pub(crate) available_installments: Vec<i64>,
    pub(crate) prices: Vec<Price>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) slug: String,
}

/// One item of a checkout: a price of a product, times a quantity.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) product_id: String,
    pub(crate) price_id: String,
    pub(crate) name: String,
    pub(crate) unit_cents: i64,
    pub(crate) quantity: i64,
    pub(crate) currency: Cur,
    pub(crate) recurring: Option<Recurring>,
    /// The item's `payment_method_types` (`None`: the account's defaults).
    pub(crate) payment_method_types: Option<Vec<&'static str>>,
    /// The item's `available_installments` (months among 3, 6, 12, 18; one-time GTQ items only).
    pub(crate) available_installments: Option<Vec<u32>>,
    /// The item's `has_dynamic_pricing` (one-time items only).
    pub(crate) has_dynamic_pricing: bool,
    /// Given by its details (`amount_in_cents`…), not by a catalogue price.
    pub(crate) inline: bool,
}

/// Where a checkout stands (`expired` is derived from `expires_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckoutStatus {
    Unpaid,
    /// A bank transfer is pending.
    InProgress,
    Paid,
}

/// A transfer set up on a checkout (`transfer_setups[]`).
#[derive(Debug, Clone)]
pub(crate) struct TransferSetup {
    pub(crate) id: String,
    pub(crate) amount_cents: i64,
    pub(crate) recipient_id: Option<String>,
}

/// The latest payment attempt of a checkout.
#[derive(Debug, Clone)]
pub(crate) struct LatestIntent {
    pub(crate) id: String,
    pub(crate) created_at: DateTime<Utc>,
    /// `PaymentIntent`, `BankTransferIntent` or `SetupIntent`.
    pub(crate) kind: &'static str,
    pub(crate) data: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Checkout {
    pub(crate) id: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) lines: Vec<Line>,
    pub(crate) currency: Cur,
    pub(crate) total_cents: i64,
    pub(crate) success_url: Option<String>,
    pub(crate) cancel_url: Option<String>,
    /// The user given at creation, else the payer once someone paid.
    pub(crate) user_id: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) custom_account_id: Option<String>,
    /// Money sent on to other accounts once the checkout is paid.
    pub(crate) transfer_setups: Vec<TransferSetup>,
    /// A setup (card-saving) checkout: `mode: "setup"`, or a single one-time item of 0. Paying
    /// it charges nothing and saves the card.
    pub(crate) setup: bool,
    pub(crate) status: CheckoutStatus,
    pub(crate) payment_id: Option<String>,
    pub(crate) payment_method_id: Option<String>,
    pub(crate) latest_intent: Option<LatestIntent>,
    pub(crate) card_payments_enabled: bool,
    pub(crate) bank_transfer_payments_enabled: bool,
}

impl Checkout {
    /// What the subscription this checkout starts bills each period: its recurring item, or
    /// its recurring items (which share one recurrence) as one line of their summed amount.
    pub(crate) fn recurring_line(&self) -> Option<(Line, Recurring)> {
        let mut recurring = self.lines.iter().filter_map(|l| l.recurring.as_ref().map(|r| (l, r)));
        let (first, rec) = recurring.next()?;
        let rest: Vec<&Line> = recurring.map(|(l, _)| l).collect();
        if rest.is_empty() {
            return Some((first.clone(), rec.clone()));
        }
        let mut line = first.clone();
        line.unit_cents = std::iter::once(first)
            .chain(rest.iter().copied())
            .try_fold(0i64, |acc, l| acc.checked_add(l.unit_cents.checked_mul(l.quantity)?))?;
        line.quantity = 1;
        line.name = std::iter::once(first)
            .chain(rest)
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        Some((line, rec.clone()))
    }

    /// The one-time items' total: charged once, with the first payment (a sign-up fee).
    pub(crate) fn one_time_cents(&self) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.recurring.is_none())
            .map(|l| l.unit_cents.saturating_mul(l.quantity))
            .fold(0i64, i64::saturating_add)
    }

    pub(crate) fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.status == CheckoutStatus::Unpaid && self.expires_at.is_some_and(|e| e <= now)
    }

    /// `unpaid`, `payment_in_progress`, `paid` or `expired`.
    pub(crate) fn status_name(&self, now: DateTime<Utc>) -> &'static str {
        if self.is_expired(now) {
            return "expired";
        }
        match self.status {
            CheckoutStatus::Unpaid => "unpaid",
            CheckoutStatus::InProgress => "payment_in_progress",
            CheckoutStatus::Paid => "paid",
        }
    }

    /// A name for the payer page and subscriptions: the first item's.
    pub(crate) fn title(&self) -> &str {
        self.lines.first().map(|l| l.name.as_str()).unwrap_or("Checkout")
    }

    /// The payment methods the items allow: those stated on every item that states any, in
    /// canonical order; `None` when no item states them (the account's defaults).
    pub(crate) fn stated_methods(&self) -> Option<Vec<&'static str>> {
        let stated: Vec<&Vec<&'static str>> = self
            .lines
            .iter()
            .filter_map(|l| l.payment_method_types.as_ref())
            .collect();
        if stated.is_empty() {
            return None;
        }
        Some(
            PAYMENT_METHOD_TYPES
                .iter()
                .copied()
                .filter(|m| stated.iter().all(|s| s.contains(m)))
                .collect(),
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) full_name: Option<String>,
}

/// A customer (`cus_…`): the merchant's profile of a user (`us_…`), one per e-mail address.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) email: String,
    pub(crate) name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) nit: Option<String>,
    pub(crate) metadata: Map<String, Value>,
}

impl User {
    /// First name and the rest, split at the first space.
    pub(crate) fn names(&self) -> (Option<String>, Option<String>) {
        match self.full_name.as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some(full) => match full.split_once(' ') {
                Some((first, last)) => (Some(first.to_owned()), Some(last.trim().to_owned())),
                None => (Some(full.to_owned()), None),
            },
        }
    }
}

/// What a payment paid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Paymentable {
    Subscription(String),
    OneTimePayment(String),
}

impl Paymentable {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Paymentable::Subscription(_) => "Subscription",
            Paymentable::OneTimePayment(_) => "OneTimePayment",
        }
    }

    pub(crate) fn id(&self) -> &str {
        match self {
            Paymentable::Subscription(id) | Paymentable::OneTimePayment(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PayMethod {
    Card,
    /// Paid by bank transfer: the intent (`ba_…`) the bank settles.
    BankTransfer {
        intent_id: String,
    },
    /// A free trial's card setup (no money moves).
    Setup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A payment intent (`pa_…`).
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub(crate) id: String,
    pub(crate) invoice_id: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) method: PayMethod,
    pub(crate) status: PayStatus,
    pub(crate) failure_reason: Option<String>,
    pub(crate) amount_cents: i64,
    pub(crate) currency: Cur,
    pub(crate) checkout_id: Option<String>,
    pub(crate) paymentable: Paymentable,
    pub(crate) user_id: String,
    pub(crate) product_ids: Vec<String>,
    pub(crate) tax_invoice_url: Option<String>,
    pub(crate) refund_id: Option<String>,
    /// A bank transfer's reference, given by the bank when the transfer settles.
    pub(crate) bank_reference: Option<String>,
    /// A bank transfer's comment from the payer (shown once the transfer settles).
    pub(crate) sender_comment: Option<String>,
}

/// Recurrente's fee in this simulator: 4.5 % of a successful payment, rounded half up.
pub(crate) fn fee_cents(amount_cents: i64) -> i64 {
    amount_cents.saturating_mul(45).saturating_add(500) / 1000
}

impl Payment {
    pub(crate) fn fee(&self) -> i64 {
        if self.status == PayStatus::Succeeded {
            fee_cents(self.amount_cents)
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodKind {
    Card,
    BankTransferReceiver,
}

/// A saved payment method (`pay_m_…`).
#[derive(Debug, Clone)]
pub(crate) struct PaymentMethod {
    pub(crate) id: String,
    pub(crate) kind: MethodKind,
    pub(crate) user_id: String,
    /// Charges of one-time payments still to decline on purpose.
    pub(crate) fail_next: u32,
}

/// How a subscription's first payment is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Card,
    BankTransfer,
}

/// What the frontend keeps about an engine subscription (`su_…`).
#[derive(Debug, Clone)]
pub(crate) struct SubInfo {
    pub(crate) checkout_id: String,
    pub(crate) line: Line,
    pub(crate) user_id: String,
    pub(crate) payment_method_id: Option<String>,
    /// The payment made at the checkout (minted when the payer acts).
    pub(crate) first_payment_id: String,
    pub(crate) start: Start,
    /// The latest payment (succeeded or failed).
    pub(crate) last_payment_id: Option<String>,
    /// The checkout's one-time items (a sign-up fee), added to the first payment only.
    pub(crate) signup_cents: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) account_cents: i64,
    pub(crate) customer_cents: i64,
    pub(crate) currency: Cur,
    pub(crate) created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub(crate) id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Coupon {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) amount_off_cents: Option<i64>,
    pub(crate) percent_off: Option<Decimal>,
    pub(crate) currency: Option<Cur>,
    pub(crate) duration: &'static str,
    pub(crate) max_redemptions: Option<i64>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) deleted: bool,
}

/// A webhook endpoint (`ep_…`).
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) description: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) disabled: bool,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) secret: String,
    /// Set on deletion: deliveries still queued for this endpoint are not sent.
    pub(crate) revoked: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("disabled", &self.disabled)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Everything, under one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) checkouts: Table<Checkout>,
    pub(crate) products: Table<Product>,
    pub(crate) coupons: Table<Coupon>,
    pub(crate) users: Table<User>,
    pub(crate) customers: Table<Customer>,
    pub(crate) payments: Table<Payment>,
    pub(crate) payment_methods: Table<PaymentMethod>,
    pub(crate) refunds: Table<Refund>,
    pub(crate) transfers: Table<Transfer>,
    pub(crate) endpoints: Table<Endpoint>,
    pub(crate) subs: HashMap<String, SubInfo>,
    /// `ba_…` → `pa_…`.
    pub(crate) bank_intents: HashMap<String, String>,
    /// `inv_…` → `pa_…`.
    pub(crate) invoices: HashMap<String, String>,
    /// The payment events chosen while running (`None`: [`crate::SimConfig`]'s).
    pub(crate) payment_events: Option<crate::RecurrentePaymentEvents>,
}

impl State {
    pub(crate) fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// The customer of a user.
    pub(crate) fn customer_of_user(&self, user_id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.user_id == user_id)
    }

    /// A payment by its `pa_…`, `ba_…` or `inv_…` id.
    pub(crate) fn payment_by_any_id(&self, id: &str) -> Option<&Payment> {
        let pa = self
            .bank_intents
            .get(id)
            .or_else(|| self.invoices.get(id))
            .map(String::as_str)
            .unwrap_or(id);
        self.payments.get(pa)
    }
}

/// Recurrente's state. Lock order: never take the engine's lock or [`crate::state::Shared::serial`]
/// while holding this one.
#[derive(Default)]
pub(crate) struct Store {
    state: Mutex<State>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("recurrente::Store")
            .field("checkouts", &st.checkouts.rows.len())
            .field("products", &st.products.rows.len())
            .field("payments", &st.payments.rows.len())
            .field("endpoints", &st.endpoints.rows.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Updates under this lock are plain field writes: the state stays usable after a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keeps_order_and_index_after_removal() {
        let mut t = Table::<Transfer>::default();
        for id in ["a", "b", "c"] {
            t.insert(Transfer { id: id.into() });
        }
        assert_eq!(t.remove("b").map(|r| r.id), Some("b".to_owned()));
        assert!(t.get("b").is_none());
        assert_eq!(t.get("c").map(|r| r.id.as_str()), Some("c"));
        let order: Vec<_> = t.newest_first().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["c", "a"]);
        assert!(t.remove("zz").is_none());
    }

    #[test]
    fn fees_and_names() {
        assert_eq!(fee_cents(10_000), 450);
        assert_eq!(fee_cents(500), 23);
        assert!(fee_cents(i64::MAX) > 0);
        let u = User {
            id: "us_1".into(),
            email: "a@b.c".into(),
            full_name: Some("Fela Anikulapo Kuti".into()),
        };
        assert_eq!(u.names(), (Some("Fela".into()), Some("Anikulapo Kuti".into())));
    }
}
