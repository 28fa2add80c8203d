//! What the ledger holds and hands to the app: subscriptions, payments, changes.

use chrono::{DateTime, Utc};
use paycycle_core::{
    CheckoutId, EventId, EventKind, Interval, Money, PaymentId, PaymentStatus, SubscriptionId, SubscriptionStatus,
};
use serde::{Deserialize, Serialize};

use crate::access::Access;

/// A subscription as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubscriptionRecord {
    /// The gateway's name in this ledger (the `{gateway}` of the webhook route).
    pub gateway: String,
    /// The provider's id.
    pub id: SubscriptionId,
    /// Your reference (Cryptomus `order_id`, Recurrente checkout metadata).
    pub merchant_reference: Option<String>,
    /// The payer, when the gateway reports one (an email or a customer id).
    pub customer: Option<String>,
    /// The checkout that started it, when known.
    pub checkout_id: Option<CheckoutId>,
    /// Its state.
    pub status: SubscriptionStatus,
    /// The amount charged each period, when known.
    pub price: Option<Money>,
    /// The billing interval, when known.
    pub interval: Option<Interval>,
    /// Start of the current billing period, when the gateway reports it.
    pub current_period_start: Option<DateTime<Utc>>,
    /// End of the current billing period, when the gateway reports it (it may have moved forward
    /// with a renewal that was not paid: see [`SubscriptionRecord::paid_through`]).
    pub current_period_end: Option<DateTime<Utc>>,
    /// The last successful charge, when known.
    pub last_paid_at: Option<DateTime<Utc>>,
    /// When it entered its current status (provider time when an event says, else ledger time).
    pub status_since: Option<DateTime<Utc>>,
    /// The provider time of the newest event applied to it.
    pub last_event_at: Option<DateTime<Utc>>,
    /// When it was last read from the gateway (ledger time).
    pub synced_at: Option<DateTime<Utc>>,
    /// Bumped on every change.
    pub version: i64,
    /// When the ledger last changed it (ledger time).
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionRecord {
    /// Where the period already paid for ends.
    ///
    /// - With the gateway's billing period (start and end): its end when a payment is known from
    ///   the current period (within a day before its start, as renewals are charged at the
    ///   boundary), else its start: a renewal that was not paid is not paid for.
    /// - Else one interval after the last payment (Cryptomus reports only the last payment),
    ///   capped by the gateway's period end when that is earlier.
    /// - Else the gateway's period end, when it reports one.
    pub fn paid_through(&self) -> Option<DateTime<Utc>> {
        if let (Some(start), Some(end)) = (self.current_period_start, self.current_period_end) {
            let paid_this_period = self
                .last_paid_at
                .is_some_and(|paid| paid + chrono::Duration::days(1) >= start);
            return Some(if paid_this_period { end } else { start });
        }
        let by_payment = match (self.last_paid_at, self.interval) {
            (Some(paid), Some(interval)) => interval.add_to(paid, 1),
            _ => None,
        };
        match (by_payment, self.current_period_end) {
            (Some(p), Some(c)) => Some(p.min(c)),
            (p, c) => p.or(c),
        }
    }

    /// True when the fields an app acts on are equal (status, terms, period, reference).
    pub fn same_state(&self, other: &SubscriptionRecord) -> bool {
        self.status == other.status
            && self.price == other.price
            && self.interval == other.interval
            && self.current_period_start == other.current_period_start
            && self.current_period_end == other.current_period_end
            && self.last_paid_at == other.last_paid_at
            && self.merchant_reference == other.merchant_reference
            && self.customer == other.customer
            && self.checkout_id == other.checkout_id
    }
}

/// A payment, recorded once per (gateway, payment id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentRecord {
    /// The gateway's name in this ledger.
    pub gateway: String,
    /// The provider's payment id (`event:{event id}` when the provider gives none).
    pub id: PaymentId,
    /// The subscription it pays, when known.
    pub subscription_id: Option<SubscriptionId>,
    /// Your reference, when the event carries it.
    pub merchant_reference: Option<String>,
    /// Its latest state (pending → succeeded or failed → refunded; never backwards).
    pub status: PaymentStatus,
    /// The amount charged.
    pub amount: Option<Money>,
    /// What the payer paid in their currency, when different.
    pub paid: Option<Money>,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// The event that last changed it.
    pub event_id: EventId,
    /// Provider time of that event, when it says.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When the ledger first recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// Why something changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// Applying a webhook (with, where the gateway's payload is not enough, a re-fetch of the
    /// subscription).
    Webhook {
        /// The gateway's name.
        gateway: String,
        /// The event.
        event_id: EventId,
        /// Its normalized kind.
        kind: EventKind,
    },
    /// A repair made by [`crate::Ledger::reconcile`].
    Reconciled,
}

/// One change for the app, in commit order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// Its position in the stream (increasing, with gaps).
    pub seq: i64,
    /// When it was committed (ledger time).
    pub at: DateTime<Utc>,
    /// What changed.
    pub kind: ChangeKind,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A subscription was created or changed.
    SubscriptionChanged {
        /// As it was (`None` when the ledger first saw it).
        before: Option<Box<SubscriptionRecord>>,
        /// As it is now.
        after: Box<SubscriptionRecord>,
        /// Why.
        cause: Cause,
    },
    /// A payment was recorded, or its status moved forward.
    PaymentRecorded {
        /// The payment as it is now.
        payment: Box<PaymentRecord>,
        /// Its status before, when it was already recorded.
        previous: Option<PaymentStatus>,
        /// Why.
        cause: Cause,
    },
    /// Whether a merchant reference has access changed because of a change in state.
    ///
    /// Access that ends by the passing of time alone (a grace period running out) is not an
    /// event: ask [`crate::Ledger::access`] at the time that matters.
    AccessChanged {
        /// The merchant reference.
        merchant_reference: String,
        /// Access before the change (evaluated at the change's time).
        before: Access,
        /// Access after it.
        after: Access,
        /// Why.
        cause: Cause,
    },
}

impl ChangeKind {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            ChangeKind::SubscriptionChanged { .. } => "subscription_changed",
            ChangeKind::PaymentRecorded { .. } => "payment_recorded",
            ChangeKind::AccessChanged { .. } => "access_changed",
        }
    }
}

/// What [`crate::Ledger::receive`] did with a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// The event's id (stable across redeliveries).
    pub event_id: EventId,
    /// Its normalized kind.
    pub kind: EventKind,
    /// True when it had been received before: nothing was stored this time.
    pub duplicate: bool,
}

/// How applying one inbox row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It changed the subscription or recorded a payment.
    Applied,
    /// It was older than what the ledger already knew: nothing changed.
    Stale,
    /// It concerned nothing the ledger tracks (an unknown event type, a checkout event): kept in
    /// the inbox, nothing changed.
    Ignored,
    /// Applying failed; it will be retried after a backoff.
    Retrying,
    /// Applying failed too often: parked (see [`crate::Ledger::parked`]).
    Parked,
}

impl Outcome {
    pub(crate) fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "applied" => Outcome::Applied,
            "stale" => Outcome::Stale,
            "ignored" => Outcome::Ignored,
            "retrying" => Outcome::Retrying,
            "parked" => Outcome::Parked,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Stale => "stale",
            Outcome::Ignored => "ignored",
            Outcome::Retrying => "retrying",
            Outcome::Parked => "parked",
        }
    }
}

/// Counts from [`crate::Ledger::apply_pending`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyReport {
    /// Rows applied.
    pub applied: usize,
    /// Rows that were older than the ledger's state.
    pub stale: usize,
    /// Rows about nothing the ledger tracks.
    pub ignored: usize,
    /// Rows that failed and will be retried.
    pub retrying: usize,
    /// Rows parked after too many failures.
    pub parked: usize,
}

impl ApplyReport {
    pub(crate) fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Applied => self.applied += 1,
            Outcome::Stale => self.stale += 1,
            Outcome::Ignored => self.ignored += 1,
            Outcome::Retrying => self.retrying += 1,
            Outcome::Parked => self.parked += 1,
        }
    }

    /// Rows processed in all.
    pub fn total(&self) -> usize {
        self.applied + self.stale + self.ignored + self.retrying + self.parked
    }
}

/// Where an inbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboxState {
    /// Waiting to be applied (or to be retried).
    Pending,
    /// Applied (or found stale or irrelevant): see its outcome.
    Done,
    /// Failed too often; waits for [`crate::Ledger::requeue`].
    Parked,
}

/// One webhook as the ledger received it: the raw delivery and where it stands.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InboxEntry {
    /// The row's id (increasing in order of receipt).
    pub id: i64,
    /// The gateway's name.
    pub gateway: String,
    /// The event's id.
    pub event_id: EventId,
    /// When it was received (ledger time).
    pub received_at: DateTime<Utc>,
    /// The request headers, as received.
    pub headers: http::HeaderMap,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// Where it stands.
    pub state: InboxState,
    /// How applying it ended, once it has.
    pub outcome: Option<Outcome>,
    /// Attempts so far.
    pub attempts: i64,
}

/// An inbox row that failed too often and waits for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkedDelivery {
    /// The inbox row (pass it to [`crate::Ledger::requeue`]).
    pub inbox_id: i64,
    /// The gateway's name.
    pub gateway: String,
    /// The event.
    pub event_id: EventId,
    /// Its normalized kind, as stored.
    pub kind: String,
    /// How many times applying it was tried.
    pub attempts: i64,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// What [`crate::Ledger::reconcile`] found and did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// The gateway's name.
    pub gateway: String,
    /// Subscriptions the gateway listed.
    pub seen: usize,
    /// Listed subscriptions the ledger did not have.
    pub created: usize,
    /// Subscriptions whose local state differed and was repaired.
    pub repaired: usize,
    /// Each repair: before (`None` for a created one) and after.
    pub repairs: Vec<(Option<SubscriptionRecord>, SubscriptionRecord)>,
}
