//! Verified, normalized webhook events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CheckoutId, EventId, GatewayId, SubscriptionId};
use crate::subscription::{Payment, SubscriptionStatus};

/// What happened, the same for every gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A charge succeeded (first payment or renewal).
    PaymentSucceeded,
    /// A charge failed.
    PaymentFailed,
    /// A charge started and is not settled yet (bank transfer pending, crypto confirming).
    PaymentPending,
    /// A payment was refunded.
    PaymentRefunded,
    /// The subscription started (the payer accepted or paid the first time).
    SubscriptionStarted,
    /// A renewal failed; the gateway will retry.
    SubscriptionPastDue,
    /// The subscription was paused.
    SubscriptionPaused,
    /// The subscription was resumed.
    SubscriptionResumed,
    /// The subscription ended.
    SubscriptionCancelled,
    /// A cancelled subscription came back (it is active again): cancellation is not always
    /// final.
    SubscriptionReactivated,
    /// Something about the subscription changed other than its state (its payment method, its
    /// items, a one-off charge added to the next invoice). The event implies no status: read
    /// the subscription again for the details.
    SubscriptionUpdated,
    /// A payer disputed a charge (a chargeback was opened).
    DisputeOpened,
    /// A dispute changed. Deliberately not "closed": the provider's event names only an update,
    /// and no captured payload says whether, or how, the dispute ended; read the raw payload.
    DisputeUpdated,
    /// A payment method was saved without a charge (a trial started).
    SetupSucceeded,
    /// Saving a payment method failed.
    SetupFailed,
    /// An event paycycle does not know, as the provider named it. The raw payload is on the event.
    Unknown(String),
}

/// A verified webhook, normalized. Nothing the provider sent is lost: see [`WebhookEvent::raw`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The gateway that sent it.
    pub gateway: GatewayId,
    /// Stable across redeliveries of the same event: drop events whose `(gateway, id)` you have seen.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The provider's event or status name, as sent (`payment_intent.succeeded`, `paid`).
    pub provider_type: String,
    /// When it happened, when the provider says.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The subscription concerned, when known.
    pub subscription_id: Option<SubscriptionId>,
    /// The checkout concerned, when known.
    pub checkout_id: Option<CheckoutId>,
    /// Your reference, when the payload carries it.
    pub merchant_reference: Option<String>,
    /// The subscription's state after this event, when the payload says.
    pub subscription_status: Option<SubscriptionStatus>,
    /// The payment, for payment events.
    pub payment: Option<Payment>,
    /// For events of a connected (child) account: its id.
    pub connected_account: Option<String>,
    /// The payload as received.
    pub raw: serde_json::Value,
}

impl WebhookEvent {
    /// An event with the required fields; the rest start empty.
    pub fn new(
        gateway: GatewayId,
        id: EventId,
        kind: EventKind,
        provider_type: impl Into<String>,
        raw: serde_json::Value,
    ) -> Self {
        WebhookEvent {
            gateway,
            id,
            kind,
            provider_type: provider_type.into(),
            occurred_at: None,
            subscription_id: None,
            checkout_id: None,
            merchant_reference: None,
            subscription_status: None,
            payment: None,
            connected_account: None,
            raw,
        }
    }
}
