//! Recurrente for paycycle: recurring card and bank-transfer payments in Guatemala (GTQ, USD).
//!
//! Three layers, use the one you need:
//!
//! - [`RecurrenteGateway`] implements paycycle's [`RecurringGateway`]: recurring checkouts,
//!   subscriptions, cancellation and verified webhooks, swappable with any other backend.
//! - [`RecurrenteClient`] is a typed client for **every** endpoint of Recurrente's API reference:
//!   checkouts (item details, recurring and one-time items together, catalogue prices and
//!   product ids, payment methods and installments per item, setup checkouts that only save a
//!   card, connected accounts), payment
//!   intents, products and prices, coupons, subscriptions, users and customers
//!   (`/api/customers`, found or created by e-mail), transfers, refunds, webhook endpoints and
//!   one-time payments with a saved card. It authenticates with the secret key alone, or with
//!   both keys when a public key is configured. Request and response types are in
//!   [`wire`]; requests are checked against the documented limits before anything is sent.
//! - [`webhook`] verifies (and makes) Recurrente's Svix signatures and maps every documented
//!   event type to a [`paycycle_core::WebhookEvent`].
//!
//! ```no_run
//! use paycycle_core::{CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan};
//! use paycycle_recurrente::RecurrenteGateway;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // RECURRENTE_SECRET_KEY, RECURRENTE_PUBLIC_KEY (optional), RECURRENTE_WEBHOOK_SECRET (optional),
//! // RECURRENTE_BASE_URL (optional: the simulator's address in tests).
//! let gateway = RecurrenteGateway::from_env()?;
//!
//! let plan = RecurringPlan::builder("Membresía Gold", Money::parse("50.00", Currency::GTQ)?, Interval::monthly())
//!     .trial(Interval::weekly())
//!     .build()?;
//! let checkout = gateway
//!     .create_checkout(&CheckoutRequest::new(plan).merchant_reference("order-42"))
//!     .await?;
//! println!("send the payer to {}", checkout.url);
//!
//! // Later, in the webhook handler, with the raw body bytes:
//! # let (headers, body) = (paycycle_core::http::HeaderMap::new(), Vec::<u8>::new());
//! let event = gateway.verify_webhook(&headers, &body)?;
//! println!("{:?} for {:?} (dedupe on {})", event.kind, event.subscription_id, event.id);
//!
//! // Anything beyond the common trait, through the typed client:
//! let products = gateway.client().list_products(&Default::default()).await?;
//! # let _ = products;
//! # Ok(())
//! # }
//! ```
//!
//! What is not mapped: Recurrente has no documented endpoint to pause or resume a subscription
//! (so [`paycycle_core::Capabilities::pause`] is false), no way to give a checkout an intro
//! price or a coupon, and no per-checkout webhook URL. The embedded checkout (an iframe posting
//! browser messages) is a front-end library; the server-side truth is the webhooks and
//! [`RecurrenteClient::get_checkout`].
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::missing_errors_doc
)]

mod client;
mod config;
pub mod convert;
mod gateway;
mod validate;
pub mod webhook;
pub mod wire;

#[doc(hidden)]
pub use client::fuzzing;
pub use client::{DEFAULT_PAGE_SIZE, MAX_ANSWER_BYTES, MAX_PAGE_SIZE, RecurrenteClient};
pub use config::{
    DEFAULT_BASE_URL, ENV_BASE_URL, ENV_PUBLIC_KEY, ENV_SECRET_KEY, ENV_WEBHOOK_SECRET, RecurrenteConfig,
    RecurrenteConfigBuilder,
};
pub use gateway::{RecurrenteGateway, SETUP_FEE_ITEM_NAME, capabilities};
pub use validate::{
    CURRENCIES, INSTALLMENT_MONTHS, METADATA_KEY_MAX_CHARS, METADATA_MAX_KEYS, METADATA_VALUE_MAX_CHARS,
    QUANTITY_RANGE, check_metadata, checkout_item_minimum,
};
pub use webhook::{RecurrenteWebhookVerifier, WebhookSecret, sign};

/// The core crate, re-exported so its types need no separate dependency.
pub use paycycle_core;
#[doc(no_inline)]
pub use paycycle_core::RecurringGateway;
