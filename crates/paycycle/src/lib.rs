//! paycycle: one API for recurring payments over several gateways.
//!
//! An app describes what it sells once ([`RecurringPlan`] with exact [`Money`]), sends the payer
//! to a [`Checkout`], and receives verified, normalized [`WebhookEvent`]s, whichever
//! [`RecurringGateway`] is behind it. Which one is a configuration choice:
//!
//! ```no_run
//! # fn main() -> Result<(), paycycle::Error> {
//! // PAYCYCLE_GATEWAY=cryptomus CRYPTOMUS_MERCHANT_ID=… CRYPTOMUS_PAYMENT_KEY=…
//! let gateway = paycycle::GatewayConfig::from_env()?.build()?;
//! # Ok(()) }
//! ```
//!
//! | cargo feature | what it adds |
//! |---|---|
//! | `recurrente` (default) | [`recurrente`]: Recurrente (cards, bank transfer; GTQ, USD) |
//! | `cryptomus` (default) | [`cryptomus`]: Cryptomus crypto recurrence |
//! | `sim` | [`sim`]: the local simulator of both providers' HTTP APIs |
//! | `fake` | [`fake`]: the in-memory fake gateway, for testing apps without HTTP |
//! | `ledger` | `ledger`: the production side (durable webhook inbox, subscriptions applied exactly once, changes, reconcile, access) on SQLite |
//! | `ledger-postgres` | `ledger` on PostgreSQL, for many instances sharing one database |
//! | `axum` | `ledger::router`: the webhook routes for an axum app (turns `ledger` on) |
//!
//! Everything of [`paycycle_core`] is re-exported here.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::missing_errors_doc
)]

mod config;
mod registry;

pub use config::{ENV_GATEWAY, GatewayConfig};
pub use paycycle_core::*;
pub use registry::Gateways;

/// Recurrente backend (feature `recurrente`).
#[cfg(feature = "recurrente")]
pub use paycycle_recurrente as recurrente;

/// Cryptomus backend (feature `cryptomus`).
#[cfg(feature = "cryptomus")]
pub use paycycle_cryptomus as cryptomus;

/// The local simulator (feature `sim`).
#[cfg(feature = "sim")]
pub use paycycle_sim as sim;

/// The in-memory fake gateway (feature `fake`).
#[cfg(feature = "fake")]
pub use paycycle_sim::fake;

/// The production ledger (features `ledger`, `ledger-postgres`): a durable webhook inbox,
/// subscriptions and payments applied exactly once, an outbox of changes, reconciliation and
/// access.
#[cfg(any(feature = "ledger", feature = "ledger-postgres"))]
pub use paycycle_ledger as ledger;
