//! paycycle: one API for recurring payments over several gateways.
//!
//! This facade re-exports [`paycycle_core`] (the shared domain types and the
//! [`RecurringGateway`] trait) and, behind cargo features, each backend:
//!
//! | feature | what it adds |
//! |---|---|
//! | `cryptomus` (default) | [`cryptomus`]: Cryptomus crypto recurrence |
//! | `sim` | [`sim`]: the local simulator of the providers' HTTP APIs |
#![forbid(unsafe_code)]

pub use paycycle_core::*;

/// Cryptomus backend (feature `cryptomus`).
#[cfg(feature = "cryptomus")]
pub use paycycle_cryptomus as cryptomus;

/// The local simulator (feature `sim`).
#[cfg(feature = "sim")]
pub use paycycle_sim as sim;
