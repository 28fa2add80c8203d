//! paycycle-ledger: the app's side of subscription billing, in production.
//!
//! [`paycycle_core`] hands an app a verified, normalized [`paycycle_core::WebhookEvent`]. This
//! crate does what every app then has to get right by hand:
//!
//! 1. **Receive** ([`Ledger::receive`], or the axum [`router`]): verify with the gateway, store the
//!    delivery once per `(gateway, event id)` (`ON CONFLICT DO NOTHING`), commit durably, then
//!    answer. A redelivery is a success that changes nothing; a refused webhook stores nothing.
//! 2. **Apply** ([`Ledger::spawn_workers`], [`Ledger::apply_pending`]): workers claim pending rows
//!    (`FOR UPDATE SKIP LOCKED` on PostgreSQL; one writer on SQLite) and apply each exactly once,
//!    in one transaction: the subscription, the payment, the outbox, the row marked done. An
//!    event older than what a subscription already reflects never changes its status, a terminal
//!    state is never left because of an event, and a payment is recorded once whatever the order.
//!    Where a payload is not enough, the subscription is re-read from the gateway ([`Refetch`]).
//!    A row that keeps failing is retried with backoff and parked after N attempts
//!    ([`Ledger::parked`]).
//! 3. **Tell the app** ([`Ledger::on_change`], [`Ledger::next_changes`] / [`Ledger::ack`]): an
//!    outbox of [`ChangeKind::SubscriptionChanged`], [`ChangeKind::PaymentRecorded`] and
//!    [`ChangeKind::AccessChanged`], consumed at least once by named consumers.
//! 4. **Catch up** ([`Ledger::reconcile`]): compare every subscription the gateway lists with the
//!    local row and repair differences (missed webhooks).
//! 5. **Answer access** ([`Ledger::access`]): one [`AccessPolicy`] for every gateway.
//!
//! SQLite (feature `sqlite`, default) for one process; PostgreSQL (feature `postgres`) for many
//! instances sharing one database. Money is stored as exact decimal text, never a float.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::missing_errors_doc
)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("paycycle-ledger needs a store: enable the `sqlite` or `postgres` feature");

pub mod access;
mod apply;
mod changes;
mod error;
#[cfg(feature = "axum")]
pub mod http;
mod ledger;
mod merge;
mod model;
mod reconcile;
mod rows;
mod store;

pub use access::{Access, AccessPolicy, AccessReason, CancelledAccess};
pub use apply::Workers;
pub use changes::ChangeConsumer;
pub use error::{LedgerError, Result};
#[cfg(feature = "axum")]
pub use http::router;
pub use ledger::{BeforeCommit, Ledger, LedgerBuilder, Refetch};
pub use model::{
    ApplyReport, Cause, Change, ChangeKind, InboxEntry, InboxState, Outcome, ParkedDelivery, PaymentRecord, Receipt,
    ReconcileReport, SubscriptionRecord,
};
pub use store::Backend;
