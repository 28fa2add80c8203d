//! The Recurrente frontend: every endpoint of Recurrente's API reference under `/api/...`
//! (with `/api/customers`), authenticated by the secret key alone or both key headers, with Recurrente's objects kept beside the engine's
//! subscriptions and Svix-signed events sent to every webhook endpoint.
//!
//! - [`api`]: the HTTP routes. [`parse`] and [`input`]: reading and checking requests.
//! - [`flow`]: the payer's actions, engine transitions applied to Recurrente's objects, events.
//! - [`store`]: the objects. [`json`]: their shapes, and the events'.

mod api;
mod flow;
mod input;
mod json;
mod parse;
mod store;

use axum::Router;
use paycycle_core::GatewayId;
use std::sync::Arc;

pub use flow::{Attempt, Outcome};
pub(crate) use flow::{
    Payer, apply, checkout_value, fail_next_charge, fail_next_method_charge, pay, reactivate, set_endpoint_disabled,
    settle, subscription_value,
};
pub(crate) use store::Store;

use crate::SimError;
use crate::server::{Shared, SimConfig};

/// The gateway id of Recurrente subscriptions in the engine.
pub(crate) const GATEWAY: GatewayId = GatewayId::RECURRENTE;

/// The `/api/...` routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    api::routes()
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

/// A control request's body (JSON or form-encoded) as an object.
pub(crate) fn read_body(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    input::body_map(headers, body).map_err(|r| r.message)
}

/// The checkout a payment (`pa_…`, `ba_…`) belongs to.
pub(crate) fn checkout_of_payment(s: &Shared, id: &str) -> Option<String> {
    s.recurrente.lock().payment_by_any_id(id)?.checkout_id.clone()
}

/// The payer page's path of a checkout.
pub(crate) fn page_path(checkout_id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(checkout_id.as_bytes()).collect();
    format!("/pay/recurrente/{encoded}")
}

/// What the payer page shows of a checkout.
#[derive(Debug)]
pub(crate) struct PageView {
    pub(crate) title: String,
    pub(crate) status: &'static str,
    pub(crate) total: String,
    pub(crate) lines: Vec<String>,
    pub(crate) recurring: Option<String>,
    pub(crate) success_url: Option<String>,
    pub(crate) bank_transfer_intent: Option<String>,
    pub(crate) card_enabled: bool,
    pub(crate) bank_enabled: bool,
    pub(crate) trial: bool,
    pub(crate) subscription: Option<(String, &'static str)>,
}

fn money(cents: i64, currency: store::Cur) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02} {}", c / 100, c % 100, currency.as_str())
}

/// The checkout as the payer page shows it.
pub(crate) fn page_view(s: &Shared, checkout_id: &str) -> Option<PageView> {
    s.sync();
    let now = s.clock.now();
    let st = s.recurrente.lock();
    let co = st.checkouts.get(checkout_id)?;
    let recurring = co.recurring_line().map(|(_, r)| {
        let every = if r.count == 1 {
            format!("every {}", r.unit.as_str())
        } else {
            format!("every {} {}s", r.count, r.unit.as_str())
        };
        let trial = r
            .trial
            .map(|(u, c)| format!(", free trial of {c} {}{}", u.as_str(), if c == 1 { "" } else { "s" }))
            .unwrap_or_default();
        let end = r
            .end_after
            .map(|n| format!(", ends after {n} period{}", if n == 1 { "" } else { "s" }))
            .unwrap_or_default();
        format!("{every}{trial}{end}")
    });
    let payment = co.payment_id.as_deref().and_then(|id| st.payments.get(id));
    let bank_transfer_intent = match (co.status, payment.map(|p| &p.method)) {
        (store::CheckoutStatus::InProgress, Some(store::PayMethod::BankTransfer { intent_id })) => {
            Some(intent_id.clone())
        }
        _ => None,
    };
    let subscription_id = payment.and_then(|p| match &p.paymentable {
        store::Paymentable::Subscription(su) => Some(su.clone()),
        store::Paymentable::OneTimePayment(_) => None,
    });
    let view = PageView {
        title: co.title().to_owned(),
        status: co.status_name(now),
        total: money(co.total_cents, co.currency),
        lines: co
            .lines
            .iter()
            .map(|l| format!("{} × {} — {}", l.quantity, l.name, money(l.unit_cents, l.currency)))
            .collect(),
        recurring,
        success_url: co.success_url.clone(),
        bank_transfer_intent,
        card_enabled: co.card_payments_enabled,
        bank_enabled: co.bank_transfer_payments_enabled,
        trial: co.recurring_line().is_some_and(|(_, r)| r.trial.is_some()),
        subscription: None,
    };
    drop(st);
    // The engine is read after the store's lock is released (lock order).
    let subscription = subscription_id.and_then(|su| {
        let status = json::status(s.engine.get(&su)?.state)?;
        Some((su, status))
    });
    Some(PageView { subscription, ..view })
}

/// The control API's view of a payer action's result.
pub(crate) fn attempt_json(s: &Shared, a: &Attempt) -> serde_json::Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("checkout".into(), checkout_value(s, &a.checkout_id).unwrap_or_default());
        if let Some(su) = &a.subscription_id {
            m.insert("subscription".into(), subscription_value(s, su).unwrap_or_default());
        }
    }
    v
}

/// Pauses or resumes a subscription (no documented endpoint: merchants do it in the dashboard).
pub(crate) fn set_paused(s: &Shared, id: &str, paused: bool) -> Result<Vec<crate::engine::Transition>, SimError> {
    flow::on_subscription(s, id, |e| if paused { e.pause(id) } else { e.resume(id) }).map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_printed_from_cents() {
        assert_eq!(money(5000, store::Cur::Gtq), "50.00 GTQ");
        assert_eq!(money(5, store::Cur::Usd), "0.05 USD");
        assert_eq!(money(-101, store::Cur::Usd), "-1.01 USD");
    }

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
