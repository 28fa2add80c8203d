//! Core of paycycle: the shared domain of recurring payments and the gateway trait.
//!
//! An app describes what it sells once ([`RecurringPlan`] with exact [`Money`] and an
//! [`Interval`]), asks a gateway for a [`Checkout`] to send the payer to, and receives verified,
//! normalized [`WebhookEvent`]s, whichever [`RecurringGateway`] is behind it. Statuses of every
//! gateway map into one [`SubscriptionStatus`]; what a gateway cannot do is stated in its
//! [`Capabilities`] and refused as [`Error::Unsupported`], never silently dropped.
//!
//! This crate has no HTTP; the backends (`paycycle-cryptomus`, `paycycle-recurrente`) and the
//! simulator (`paycycle-sim`) build on it.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::missing_errors_doc
)]

mod capabilities;
mod checkout;
mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod gateway;
mod ids;
mod members;
mod money;
mod plan;
mod subscription;
mod webhook;

pub use capabilities::{Capabilities, CurrencySupport, IntervalSupport};
pub use checkout::{Checkout, CheckoutRequest, Customer};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{BoxError, Error, Result, WebhookError, retry_after};
pub use gateway::{Page, PageRequest, RecurringGateway, RecurringGatewayExt, paginate};
pub use ids::{CheckoutId, EventId, GatewayId, PaymentId, SubscriptionId};
pub use members::{Keep, read_members};
pub use money::{Currency, CurrencyKind, Money, MoneyError};
pub use plan::{Interval, IntervalUnit, IntroOffer, RecurringPlan, RecurringPlanBuilder};
pub use subscription::{CancelledBy, Payment, PaymentStatus, Subscription, SubscriptionStatus};
pub use webhook::{EventKind, RawPayload, WebhookEvent};

/// Re-exported so users need not depend on these crates for the types in paycycle's API.
pub use {chrono, http, rust_decimal, url};
