//! Sending a payer to pay: [`CheckoutRequest`] in, [`Checkout`] out.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::ids::{CheckoutId, GatewayId, SubscriptionId};
use crate::plan::RecurringPlan;
use crate::subscription::SubscriptionStatus;

/// Who is paying, when the app knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// E-mail address.
    pub email: Option<String>,
    /// Full name.
    pub name: Option<String>,
}

/// Everything needed to start a subscription.
///
/// ```
/// use paycycle_core::*;
/// let plan = RecurringPlan::builder("Gold", Money::parse("15", Currency::USD)?, Interval::monthly()).build()?;
/// let req = CheckoutRequest::new(plan)
///     .merchant_reference("order-42")
///     .callback_url("https://shop.example/hooks/cryptomus".parse()?);
/// assert_eq!(req.merchant_reference.as_deref(), Some("order-42"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckoutRequest {
    /// What is sold.
    pub plan: RecurringPlan,
    /// Your reference, echoed in webhooks so they correlate. Generated when absent.
    pub merchant_reference: Option<String>,
    /// The payer, when known.
    pub customer: Option<Customer>,
    /// Where the payer goes after paying.
    pub success_url: Option<Url>,
    /// Where the payer goes after abandoning.
    pub cancel_url: Option<Url>,
    /// Where the gateway sends this subscription's webhooks (gateways with per-checkout callbacks).
    pub callback_url: Option<Url>,
    /// Your key/value data, kept with the checkout.
    pub metadata: BTreeMap<String, String>,
}

impl CheckoutRequest {
    /// A request for a plan, with nothing else set.
    pub fn new(plan: RecurringPlan) -> Self {
        CheckoutRequest {
            plan,
            merchant_reference: None,
            customer: None,
            success_url: None,
            cancel_url: None,
            callback_url: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Sets your reference.
    #[must_use]
    pub fn merchant_reference(mut self, reference: impl Into<String>) -> Self {
        self.merchant_reference = Some(reference.into());
        self
    }

    /// Sets the payer.
    #[must_use]
    pub fn customer(mut self, customer: Customer) -> Self {
        self.customer = Some(customer);
        self
    }

    /// Sets the success URL.
    #[must_use]
    pub fn success_url(mut self, url: Url) -> Self {
        self.success_url = Some(url);
        self
    }

    /// Sets the cancel URL.
    #[must_use]
    pub fn cancel_url(mut self, url: Url) -> Self {
        self.cancel_url = Some(url);
        self
    }

    /// Sets the webhook URL.
    #[must_use]
    pub fn callback_url(mut self, url: Url) -> Self {
        self.callback_url = Some(url);
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// A checkout: the page the payer must open, and what it has led to so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkout {
    /// The gateway.
    pub gateway: GatewayId,
    /// Its id.
    pub id: CheckoutId,
    /// Send the payer here.
    pub url: Url,
    /// Your reference (the one you gave, or the one generated). `None` for a checkout made
    /// outside paycycle without one.
    pub merchant_reference: Option<String>,
    /// The state of the subscription this checkout starts: `Pending` until the payer completes it.
    pub status: SubscriptionStatus,
    /// The subscription it started (or, on gateways where the two are one object, will start).
    pub subscription_id: Option<SubscriptionId>,
    /// When the page stops accepting payment, when set.
    pub expires_at: Option<DateTime<Utc>>,
    /// The provider's object, untouched.
    pub raw: serde_json::Value,
}

impl Checkout {
    /// A checkout with the required fields; the rest start empty.
    pub fn new(
        gateway: GatewayId,
        id: CheckoutId,
        url: Url,
        merchant_reference: Option<String>,
        raw: serde_json::Value,
    ) -> Self {
        Checkout {
            gateway,
            id,
            url,
            merchant_reference,
            status: SubscriptionStatus::Pending,
            subscription_id: None,
            expires_at: None,
            raw,
        }
    }
}
