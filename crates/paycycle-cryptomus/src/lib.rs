//! Cryptomus recurring payments (crypto) for paycycle.
//!
//! Three layers, use the one you need:
//! - [`CryptomusGateway`]: Cryptomus behind paycycle's provider-neutral
//!   [`RecurringGateway`](paycycle_core::RecurringGateway) trait. Swap it for another gateway
//!   without touching the app.
//! - [`CryptomusClient`]: the typed recurrence API (`/v1/recurrence/create`, `info`, `list`,
//!   `cancel`), with [`CreateRecurrence`], [`Recurrence`] and lookups by uuid or your `order_id`
//!   ([`RecurrenceRef`]).
//! - [`CryptomusWebhookVerifier`], [`sign`] and [`php_json`]: Cryptomus' md5 signatures of
//!   requests and webhooks.
//!
//! What to know about Cryptomus:
//! - Requests are signed with `md5(base64(body) + payment_key)` over the exact bytes sent; the
//!   client serializes once, signs those bytes and sends them.
//! - Webhooks carry their `sign` inside the JSON body, computed over the body re-encoded as
//!   PHP's `json_encode` does (slashes escaped, non-ASCII raw). Verify the raw bytes you
//!   received; no header is involved.
//! - A recurrence is both the checkout and the subscription: both ids are its uuid.
//! - Billing is weekly, monthly or every three months; trials, pausing and automatic ends do not
//!   exist, and asking for them is an [`Error::Unsupported`](paycycle_core::Error::Unsupported).
//! - Money is exact ([`Decimal`](paycycle_core::rust_decimal::Decimal)); amounts
//!   travel as JSON strings.
//!
//! Configuration comes from a builder or from `CRYPTOMUS_MERCHANT_ID`,
//! `CRYPTOMUS_PAYMENT_KEY` and the optional `CRYPTOMUS_BASE_URL` (e.g. a local simulator).
//! The payment key is kept in a [`secrecy::SecretString`] and never printed.
//!
//! ```no_run
//! use paycycle_core::*;
//! use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
//!
//! # async fn run(webhook_body: &[u8]) -> std::result::Result<(), Box<dyn std::error::Error>> {
//! let config = CryptomusConfig::builder()
//!     .merchant_id("8b03432e-385b-4670-8d06-064591096795")
//!     .payment_key(std::env::var("CRYPTOMUS_PAYMENT_KEY")?)
//!     .build()?;
//! let gateway = CryptomusGateway::new(config)?;
//!
//! // Sell a monthly plan of 15 USD, paid in USDT, 1 USD the first 30 days.
//! let plan = RecurringPlan::builder("Gold plan", Money::parse("15", Currency::USD)?, Interval::monthly())
//!     .intro_offer(Money::parse("1", Currency::USD)?, 30)
//!     .payer_currency(Currency::USDT)
//!     .build()?;
//! let request = CheckoutRequest::new(plan)
//!     .merchant_reference("order-42")
//!     .callback_url("https://shop.example/hooks/cryptomus".parse()?);
//! let checkout = gateway.create_checkout(&request).await?;
//! println!("send the payer to {}", checkout.url);
//!
//! // Later, in the webhook handler: the raw body, exactly as received.
//! let event = gateway.verify_webhook(&http::HeaderMap::new(), webhook_body)?;
//! if event.kind == EventKind::PaymentSucceeded {
//!     println!("order {:?} paid", event.merchant_reference);
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::missing_errors_doc
)]

mod client;
mod config;
mod convert;
mod gateway;
pub mod php_json;
pub mod sign;
mod webhook;
pub mod wire;

pub use client::CryptomusClient;
#[doc(hidden)]
pub use client::fuzzing;
pub use config::{
    CryptomusConfig, CryptomusConfigBuilder, DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BACKOFF,
    DEFAULT_TIMEOUT, env,
};
pub use gateway::CryptomusGateway;
pub use webhook::CryptomusWebhookVerifier;
pub use wire::{
    CreateRecurrence, LastPayOff, Paginate, PaymentWebhook, Period, Recurrence, RecurrencePage, RecurrenceRef,
    RecurrenceStatus,
};
