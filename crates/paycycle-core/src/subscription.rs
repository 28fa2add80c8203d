//! Subscriptions and payments, with the one shared [`SubscriptionStatus`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CheckoutId, GatewayId, PaymentId, SubscriptionId};
use crate::money::Money;
use crate::plan::Interval;

/// Who ended a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CancelledBy {
    /// The merchant (your app) cancelled it.
    Merchant,
    /// The payer cancelled it.
    Payer,
    /// The gateway ended it (failed renewals, or the agreed number of periods was reached).
    Gateway,
    /// The provider does not say.
    Unknown,
}

/// The state of a subscription, the same for every gateway.
///
/// | normalized | Recurrente | Cryptomus |
/// |---|---|---|
/// | `Pending` (waiting for the payer) | checkout `unpaid` | `wait_accept` |
/// | `Active` | `active` | `active` |
/// | `PastDue` | `past_due` | — |
/// | `Paused` | `paused` | — |
/// | `Cancelled { by }` | `cancelled` (by `Unknown`; `Gateway` after failed retries) | `cancel_by_merchant` (by `Merchant`), `cancel_by_user` (by `Payer`) |
/// | `Failed` (never started) | `unable_to_start` | — |
/// | `Unknown(raw)` | anything else | anything else |
///
/// Each adapter has this table as one `match` and tests it row by row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SubscriptionStatus {
    /// Waiting for the payer to accept or pay the first time.
    Pending,
    /// Running, payments up to date.
    Active,
    /// A renewal failed; the gateway is retrying.
    PastDue,
    /// Not billing until resumed.
    Paused,
    /// Ended; no more charges.
    Cancelled {
        /// Who ended it.
        by: CancelledBy,
    },
    /// Never started (the first payment failed).
    Failed,
    /// A status paycycle does not know, as the provider spelled it.
    Unknown(String),
}

impl SubscriptionStatus {
    /// True for the states after which nothing more happens (cancelled, failed).
    pub fn is_terminal(&self) -> bool {
        matches!(self, SubscriptionStatus::Cancelled { .. } | SubscriptionStatus::Failed)
    }
}

impl std::fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubscriptionStatus::Pending => f.write_str("pending"),
            SubscriptionStatus::Active => f.write_str("active"),
            SubscriptionStatus::PastDue => f.write_str("past_due"),
            SubscriptionStatus::Paused => f.write_str("paused"),
            SubscriptionStatus::Cancelled { by } => {
                let by = match by {
                    CancelledBy::Merchant => "merchant",
                    CancelledBy::Payer => "payer",
                    CancelledBy::Gateway => "gateway",
                    CancelledBy::Unknown => "unknown",
                };
                write!(f, "cancelled (by {by})")
            }
            SubscriptionStatus::Failed => f.write_str("failed"),
            SubscriptionStatus::Unknown(raw) => write!(f, "unknown ({raw})"),
        }
    }
}

/// A subscription as a gateway reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subscription {
    /// The gateway.
    pub gateway: GatewayId,
    /// Its id.
    pub id: SubscriptionId,
    /// Its state.
    pub status: SubscriptionStatus,
    /// The amount charged each period, when the provider reports it.
    pub price: Option<Money>,
    /// The billing interval, when the provider reports it.
    pub interval: Option<Interval>,
    /// Your reference (Cryptomus `order_id`, Recurrente checkout metadata).
    pub merchant_reference: Option<String>,
    /// The checkout that started it, when known.
    pub checkout_id: Option<CheckoutId>,
    /// When it was created, when known.
    pub created_at: Option<DateTime<Utc>>,
    /// Start of the current billing period, when the provider reports it.
    pub current_period_start: Option<DateTime<Utc>>,
    /// End of the current billing period, when known. Some providers move it forward when they
    /// attempt a renewal, whether or not the charge succeeds: compare `last_paid_at` with
    /// `current_period_start` to know whether the current period is paid.
    pub current_period_end: Option<DateTime<Utc>>,
    /// The last successful charge, when known.
    pub last_paid_at: Option<DateTime<Utc>>,
    /// The provider's object, untouched.
    pub raw: serde_json::Value,
}

impl Subscription {
    /// A subscription with the required fields; the rest start empty.
    pub fn new(gateway: GatewayId, id: SubscriptionId, status: SubscriptionStatus, raw: serde_json::Value) -> Self {
        Subscription {
            gateway,
            id,
            status,
            price: None,
            interval: None,
            merchant_reference: None,
            checkout_id: None,
            created_at: None,
            current_period_start: None,
            current_period_end: None,
            last_paid_at: None,
            raw,
        }
    }
}

/// The state of one payment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentStatus {
    /// Money received.
    Succeeded,
    /// Started, not settled (bank transfer pending, crypto confirming).
    Pending,
    /// Declined or failed.
    Failed,
    /// Returned to the payer.
    Refunded,
    /// A status paycycle does not know, as the provider spelled it.
    Unknown(String),
}

/// One charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Payment {
    /// Its id, when the provider gives one.
    pub id: Option<PaymentId>,
    /// Its state.
    pub status: PaymentStatus,
    /// The amount charged, in the plan's currency.
    pub amount: Option<Money>,
    /// What the payer paid, in the payer's currency, when different.
    pub paid: Option<Money>,
    /// Why it failed, when it did and the provider says.
    pub failure_reason: Option<String>,
}

impl Payment {
    /// A payment with a status; the rest start empty.
    pub fn new(status: PaymentStatus) -> Self {
        Payment {
            id: None,
            status,
            amount: None,
            paid: None,
            failure_reason: None,
        }
    }
}
