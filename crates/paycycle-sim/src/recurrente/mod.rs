//! The Recurrente frontend: every endpoint of Recurrente's API reference under `/api/...`
//! (with `/api/customers`), authenticated by the secret key alone or both key headers, its
//! control routes (`/__sim/recurrente/...`), its payer pages (`/checkout-session/{id}`), with
//! Recurrente's objects kept beside the engine's subscriptions and Svix-signed events sent to
//! every webhook endpoint.
//!
//! - [`api`]: the API routes. [`parse`] and [`input`]: reading and checking requests.
//! - [`control`] and [`pages`]: the payer's (and the bank's, and the dashboard's) side.
//! - [`flow`]: the payer's actions, engine transitions applied to Recurrente's objects, events.
//! - [`store`]: the objects. [`json`]: their shapes, and the events'.

mod api;
mod control;
mod flow;
mod input;
mod json;
mod pages;
mod parse;
mod store;

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use paycycle_core::GatewayId;

pub(crate) use api::seed;
pub use flow::{Attempt, Outcome};
pub(crate) use flow::{Payer, checkout_value, fail_next_charge, pay, set_payment_events, settle, subscription_value};
// The dashboard's buttons and status column.
pub(crate) use flow::set_paused;
pub(crate) use json::status;

use crate::SimError;
use crate::engine::Transition;
use crate::state::delivery::Webhook;
use crate::state::{Renderer, Shared, SimConfig};
pub(crate) use store::Store;

/// The gateway id of Recurrente subscriptions in the engine.
pub(crate) const GATEWAY: GatewayId = GatewayId::RECURRENTE;

/// The Recurrente frontend's state: the shared state and Recurrente's own objects (the routes'
/// state, and the [`Simulator`](crate::Simulator)'s handle on them).
#[derive(Debug, Clone)]
pub(crate) struct Frontend {
    shared: Arc<Shared>,
    store: Arc<Store>,
}

impl Frontend {
    /// The frontend over `shared`, with Recurrente's objects (registered with `shared` as the
    /// [`Renderer`] of [`GATEWAY`]).
    pub(crate) fn new(shared: Arc<Shared>, store: Arc<Store>) -> Frontend {
        Frontend { shared, store }
    }

    /// What the frontend's code works on.
    pub(crate) fn sim(&self) -> Sim<'_> {
        Sim {
            shared: &self.shared,
            recurrente: &self.store,
        }
    }
}

/// The simulator as Recurrente's code sees it: the shared state (through `Deref`: `s.engine`,
/// `s.clock`, `s.sync()`…) and Recurrente's objects (`s.recurrente`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sim<'a> {
    shared: &'a Shared,
    /// Recurrente's objects. Lock order: never take the engine's lock or
    /// [`Shared::serial`] while holding this one.
    pub(crate) recurrente: &'a Store,
}

impl Deref for Sim<'_> {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        self.shared
    }
}

/// The dispatcher's entry: what a transition does to Recurrente's objects, and its events.
impl Renderer for Store {
    fn render(&self, shared: &Shared, t: &Transition) -> Vec<Webhook> {
        flow::apply(
            &Sim {
                shared,
                recurrente: self,
            },
            t,
        )
    }
}

/// Every Recurrente route: the API, the control routes, the payer pages.
pub(crate) fn router(frontend: Frontend) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(control::routes())
        .merge(pages::routes())
        .with_state(frontend)
}

/// Checks the Recurrente settings before the simulator starts.
pub(crate) fn check_config(c: &SimConfig) -> Result<(), SimError> {
    let invalid = |field: &'static str, reason: &str| SimError::InvalidConfig {
        field,
        reason: reason.to_owned(),
    };
    if c.recurrente_public_key.is_empty() {
        return Err(invalid("recurrente_public_key", "must not be empty"));
    }
    if c.recurrente_secret_key.is_empty() {
        return Err(invalid("recurrente_secret_key", "must not be empty"));
    }
    if paycycle_recurrente::webhook::WebhookSecret::parse(&c.recurrente_webhook_secret).is_err() {
        return Err(invalid(
            "recurrente_webhook_secret",
            "must be `whsec_` followed by base64",
        ));
    }
    if let Some(u) = &c.recurrente_webhook_url {
        if url::Url::parse(u).is_err() {
            return Err(invalid("recurrente_webhook_url", "is not a URL"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked() {
        assert!(check_config(&SimConfig::default()).is_ok());
        let bad = SimConfig::default().recurrente_webhook_secret("whsec_***");
        assert!(matches!(
            check_config(&bad),
            Err(SimError::InvalidConfig {
                field: "recurrente_webhook_secret",
                ..
            })
        ));
        let empty = SimConfig::default().recurrente_keys("", "sk");
        assert!(check_config(&empty).is_err());
        let url = SimConfig::default().recurrente_webhook_url("not a url");
        assert!(check_config(&url).is_err());
    }
}
