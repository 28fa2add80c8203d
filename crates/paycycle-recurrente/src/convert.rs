//! Recurrente ⇄ core: the status table, the event table, and the object mappings.

use paycycle_core::{
    CancelledBy, Checkout, CheckoutId, Error, EventKind, GatewayId, Result, Subscription, SubscriptionId,
    SubscriptionStatus,
};
use serde_json::Value;
use url::Url;

use crate::webhook::REFERENCE_KEY;
use crate::wire;

/// The one status table, for subscription statuses and the checkout statuses that need no
/// lookup:
///
/// | Recurrente | normalized |
/// |---|---|
/// | `active` | `Active` |
/// | `past_due` | `PastDue` |
/// | `paused` | `Paused` |
/// | `cancelled` | `Cancelled { by: Unknown }` (the API does not say who) |
/// | `unable_to_start` | `Failed` |
/// | checkout `unpaid` | `Pending` |
/// | checkout `payment_in_progress` | `Pending` (a bank transfer is on its way) |
/// | checkout `expired` | `Failed` (it can no longer start a subscription) |
/// | anything else | `Unknown(raw)` |
///
/// A `paid` checkout is not in the table: its status is its subscription's (see
/// [`crate::RecurrenteGateway`]'s `checkout`).
pub fn status(raw: &str) -> SubscriptionStatus {
    match raw {
        "active" => SubscriptionStatus::Active,
        "past_due" => SubscriptionStatus::PastDue,
        "paused" => SubscriptionStatus::Paused,
        "cancelled" => SubscriptionStatus::Cancelled {
            by: CancelledBy::Unknown,
        },
        "unable_to_start" => SubscriptionStatus::Failed,
        "unpaid" | "payment_in_progress" => SubscriptionStatus::Pending,
        "expired" => SubscriptionStatus::Failed,
        other => SubscriptionStatus::Unknown(other.to_owned()),
    }
}

/// The event table: Recurrente's event name → normalized kind, for the whole catalogue the
/// sources name (legacy per-method payment events, the unified `intent.*` events that are sent
/// alongside them, subscriptions, refunds, disputes, setup intents):
///
/// | event name | kind | implied subscription status |
/// |---|---|---|
/// | `payment_intent.succeeded`, `bank_transfer_intent.succeeded`, `balance_intent.succeeded`, `cash_intent.succeeded`, `intent.succeeded` | `PaymentSucceeded` | — |
/// | `payment_intent.failed`, `bank_transfer_intent.failed`, `intent.failed` | `PaymentFailed` | — |
/// | `intent.canceled` (also `intent.cancelled`) | `PaymentFailed` (the charge will not complete) | — |
/// | `bank_transfer_intent.pending`, `intent.pending` | `PaymentPending` | — |
/// | `refund.create` | `PaymentRefunded` | — |
/// | `subscription.create` | `SubscriptionStarted` | `Active` |
/// | `subscription.past_due` | `SubscriptionPastDue` | `PastDue` |
/// | `subscription.paused`, `subscription.pause` | `SubscriptionPaused` | `Paused` |
/// | `subscription.unpause` | `SubscriptionResumed` | `Active` |
/// | `subscription.reactivate` | `SubscriptionReactivated` | `Active` |
/// | `subscription.update`, `.item_added`, `.item_removed`, `.invoice_item_added` | `SubscriptionUpdated` | — (read the subscription) |
/// | `subscription.cancel` | `SubscriptionCancelled` | `Cancelled { by: Unknown }` |
/// | `setup_intent.succeeded` | `SetupSucceeded` | `Active` (with a subscription) |
/// | `setup_intent.cancelled` (also `.canceled`) | `SetupFailed` | `Failed` (with a subscription) |
/// | `dispute.create` | `DisputeOpened` | — |
/// | `dispute.update` | `DisputeUpdated` | — |
/// | anything else | `Unknown(name)` | — |
///
/// Deliberately `Unknown`: `intent.paid` and `balance_intent.paid` (delivered to the account that
/// *paid* with its balance: money out, not a charge received), the unnamed `crypto_intent.*`
/// members (their unified `intent.*` twins carry the same payments), and money movement and
/// account events (`transfer.*`, `withdrawal.*`, `swap.*`, `account_connection.create`,
/// `partner_commission_invoice.*`). Their raw JSON is kept on the event.
pub fn event_kind(event_type: &str) -> EventKind {
    match event_type {
        "payment_intent.succeeded"
        | "bank_transfer_intent.succeeded"
        | "balance_intent.succeeded"
        | "cash_intent.succeeded"
        | "intent.succeeded" => EventKind::PaymentSucceeded,
        "payment_intent.failed"
        | "bank_transfer_intent.failed"
        | "intent.failed"
        | "intent.canceled"
        | "intent.cancelled" => EventKind::PaymentFailed,
        "bank_transfer_intent.pending" | "intent.pending" => EventKind::PaymentPending,
        "refund.create" => EventKind::PaymentRefunded,
        "subscription.create" => EventKind::SubscriptionStarted,
        "subscription.past_due" => EventKind::SubscriptionPastDue,
        "subscription.paused" | "subscription.pause" => EventKind::SubscriptionPaused,
        "subscription.unpause" => EventKind::SubscriptionResumed,
        "subscription.reactivate" => EventKind::SubscriptionReactivated,
        "subscription.update"
        | "subscription.item_added"
        | "subscription.item_removed"
        | "subscription.invoice_item_added" => EventKind::SubscriptionUpdated,
        "subscription.cancel" => EventKind::SubscriptionCancelled,
        "setup_intent.succeeded" => EventKind::SetupSucceeded,
        "setup_intent.cancelled" | "setup_intent.canceled" => EventKind::SetupFailed,
        "dispute.create" => EventKind::DisputeOpened,
        "dispute.update" => EventKind::DisputeUpdated,
        other => EventKind::Unknown(other.to_owned()),
    }
}

/// The subscription's state an event implies, when it concerns a subscription:
/// started, resumed, reactivated (a cancelled subscription came back) and a successful trial
/// setup → `Active`; past due → `PastDue`; paused → `Paused`; cancelled →
/// `Cancelled { by: Unknown }` (the payload does not say who; the reference describes the event
/// after failed retries, but nothing in it tells that case apart); a failed trial setup (the
/// first charge failed) → `Failed`. Payment events imply nothing (a failed renewal is announced
/// separately as `subscription.past_due`), and neither does `SubscriptionUpdated`: no captured
/// `subscription.*` payload carries the subscription's status, so read it again.
pub fn event_subscription_status(kind: &EventKind, has_subscription: bool) -> Option<SubscriptionStatus> {
    if !has_subscription {
        return None;
    }
    match kind {
        EventKind::SubscriptionStarted
        | EventKind::SubscriptionResumed
        | EventKind::SubscriptionReactivated
        | EventKind::SetupSucceeded => Some(status("active")),
        EventKind::SubscriptionPastDue => Some(status("past_due")),
        EventKind::SubscriptionPaused => Some(status("paused")),
        EventKind::SubscriptionCancelled => Some(status("cancelled")),
        EventKind::SetupFailed => Some(status("unable_to_start")),
        _ => None,
    }
}

fn missing(path: &str, raw: &Value) -> Error {
    let mut excerpt: String = raw.to_string().chars().take(200).collect();
    if excerpt.is_empty() {
        excerpt.push('-');
    }
    Error::Decode {
        gateway: GatewayId::RECURRENTE,
        status: 200,
        path: path.to_owned(),
        excerpt,
        source: format!("the answer has no `{path}`").into(),
    }
}

/// A subscription, normalized. `merchant_reference` comes from its checkout's metadata, which
/// the caller fills when it has fetched the checkout.
///
/// # Errors
/// [`Error::Decode`] when the subscription has no id.
pub fn subscription(s: &wire::Subscription, raw: Value) -> Result<Subscription> {
    if s.id.is_empty() {
        return Err(missing("id", &raw));
    }
    let st = s
        .status
        .as_ref()
        .map_or_else(|| SubscriptionStatus::Unknown(String::new()), |st| status(st.as_str()));
    let mut out = Subscription::new(GatewayId::RECURRENTE, SubscriptionId::new(&s.id), st, raw);
    out.checkout_id = s
        .checkout
        .as_ref()
        .filter(|c| !c.id.is_empty())
        .map(|c| CheckoutId::new(&c.id));
    out.created_at = s.created_at;
    out.current_period_start = s.current_period_start;
    out.current_period_end = s.current_period_end;
    Ok(out)
}

/// A checkout, normalized, with the status and subscription the caller worked out.
///
/// `url` is `checkout_url` when the answer has one, else `fallback_url` (the documented page
/// `{base}/checkout-session/{id}`). `merchant_reference` is the `paycycle_reference` metadata,
/// or `None` for checkouts not made by paycycle.
///
/// # Errors
/// [`Error::Decode`] when the checkout has no id or its `checkout_url` is not a URL.
pub fn checkout(
    c: &wire::Checkout,
    raw: Value,
    status: SubscriptionStatus,
    subscription_id: Option<SubscriptionId>,
    fallback_url: impl FnOnce(&str) -> Result<Url>,
) -> Result<Checkout> {
    if c.id.is_empty() {
        return Err(missing("id", &raw));
    }
    let url = match c.checkout_url.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => Url::parse(u).map_err(|e| Error::Decode {
            gateway: GatewayId::RECURRENTE,
            status: 200,
            path: "checkout_url".into(),
            excerpt: u.chars().take(200).collect(),
            source: Box::new(e),
        })?,
        None => fallback_url(&c.id)?,
    };
    let reference = c.metadata_str(REFERENCE_KEY).map(str::to_owned);
    let mut out = Checkout::new(GatewayId::RECURRENTE, CheckoutId::new(&c.id), url, reference, raw);
    out.status = status;
    out.subscription_id = subscription_id;
    out.expires_at = c.expires_at;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn status_table_row_by_row() {
        let rows = [
            ("active", SubscriptionStatus::Active),
            ("past_due", SubscriptionStatus::PastDue),
            ("paused", SubscriptionStatus::Paused),
            (
                "cancelled",
                SubscriptionStatus::Cancelled {
                    by: CancelledBy::Unknown,
                },
            ),
            ("unable_to_start", SubscriptionStatus::Failed),
            ("unpaid", SubscriptionStatus::Pending),
            ("payment_in_progress", SubscriptionStatus::Pending),
            ("expired", SubscriptionStatus::Failed),
            ("trialing", SubscriptionStatus::Unknown("trialing".into())),
            ("Active", SubscriptionStatus::Unknown("Active".into())),
            ("paid", SubscriptionStatus::Unknown("paid".into())),
            ("", SubscriptionStatus::Unknown(String::new())),
        ];
        for (raw, expected) in rows {
            assert_eq!(status(raw), expected, "{raw:?}");
        }
        // Every wire subscription status has a known row.
        for s in ["active", "paused", "past_due", "cancelled", "unable_to_start"] {
            assert!(!matches!(
                status(wire::SubscriptionState::from(s).as_str()),
                SubscriptionStatus::Unknown(_)
            ));
        }
    }

    #[test]
    fn event_table_row_by_row() {
        let rows = [
            ("payment_intent.succeeded", EventKind::PaymentSucceeded),
            ("payment_intent.failed", EventKind::PaymentFailed),
            ("bank_transfer_intent.pending", EventKind::PaymentPending),
            ("bank_transfer_intent.succeeded", EventKind::PaymentSucceeded),
            ("bank_transfer_intent.failed", EventKind::PaymentFailed),
            ("refund.create", EventKind::PaymentRefunded),
            ("subscription.create", EventKind::SubscriptionStarted),
            ("subscription.past_due", EventKind::SubscriptionPastDue),
            ("subscription.paused", EventKind::SubscriptionPaused),
            ("subscription.pause", EventKind::SubscriptionPaused),
            ("subscription.unpause", EventKind::SubscriptionResumed),
            ("subscription.cancel", EventKind::SubscriptionCancelled),
            ("setup_intent.succeeded", EventKind::SetupSucceeded),
            ("setup_intent.cancelled", EventKind::SetupFailed),
            ("balance_intent.succeeded", EventKind::PaymentSucceeded),
            ("cash_intent.succeeded", EventKind::PaymentSucceeded),
            ("intent.succeeded", EventKind::PaymentSucceeded),
            ("intent.pending", EventKind::PaymentPending),
            ("intent.failed", EventKind::PaymentFailed),
            ("intent.canceled", EventKind::PaymentFailed),
            ("intent.cancelled", EventKind::PaymentFailed),
            ("setup_intent.canceled", EventKind::SetupFailed),
            ("subscription.reactivate", EventKind::SubscriptionReactivated),
            ("subscription.update", EventKind::SubscriptionUpdated),
            ("subscription.item_added", EventKind::SubscriptionUpdated),
            ("subscription.item_removed", EventKind::SubscriptionUpdated),
            ("subscription.invoice_item_added", EventKind::SubscriptionUpdated),
            ("dispute.create", EventKind::DisputeOpened),
            ("dispute.update", EventKind::DisputeUpdated),
        ];
        for (raw, expected) in rows {
            assert_eq!(event_kind(raw), expected, "{raw}");
        }
        // Named in the catalogue, deliberately unknown (money out, or not about subscriptions).
        for raw in [
            "intent.paid",
            "balance_intent.paid",
            "crypto_intent.succeeded",
            "transfer.sent",
            "transfer.received",
            "withdrawal.create",
            "withdrawal.update",
            "swap.create",
            "swap.update",
            "account_connection.create",
            "partner_commission_invoice.issued",
            "partner_commission_invoice.failed",
            "intent.created",
            "Intent.Succeeded",
        ] {
            assert_eq!(event_kind(raw), EventKind::Unknown(raw.into()), "{raw}");
        }
    }

    #[test]
    fn a_reactivation_is_active_and_an_update_implies_nothing() {
        assert_eq!(
            event_subscription_status(&EventKind::SubscriptionReactivated, true),
            Some(SubscriptionStatus::Active)
        );
        assert_eq!(event_subscription_status(&EventKind::SubscriptionUpdated, true), None);
        assert_eq!(event_subscription_status(&EventKind::DisputeOpened, true), None);
    }

    #[test]
    fn events_imply_statuses_only_for_subscriptions() {
        assert_eq!(
            event_subscription_status(&EventKind::SubscriptionStarted, true),
            Some(SubscriptionStatus::Active)
        );
        assert_eq!(
            event_subscription_status(&EventKind::SubscriptionCancelled, true),
            Some(SubscriptionStatus::Cancelled {
                by: CancelledBy::Unknown
            })
        );
        assert_eq!(event_subscription_status(&EventKind::SubscriptionStarted, false), None);
        assert_eq!(event_subscription_status(&EventKind::PaymentFailed, true), None);
        assert_eq!(
            event_subscription_status(&EventKind::SetupFailed, true),
            Some(SubscriptionStatus::Failed)
        );
    }

    #[test]
    fn objects_without_ids_are_decode_errors() {
        let err = subscription(&wire::Subscription::default(), json!({})).unwrap_err();
        assert!(matches!(err, Error::Decode { ref path, .. } if path == "id"), "{err:?}");
        let fallback = |_: &str| -> Result<Url> { Ok(Url::parse("https://x.example/").unwrap()) };
        let err = checkout(
            &wire::Checkout::default(),
            json!({}),
            SubscriptionStatus::Pending,
            None,
            fallback,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Decode { ref path, .. } if path == "id"));
        let bad = wire::Checkout {
            id: "ch_1".into(),
            checkout_url: Some("not a url".into()),
            ..wire::Checkout::default()
        };
        let err = checkout(&bad, json!({}), SubscriptionStatus::Pending, None, fallback).unwrap_err();
        assert!(matches!(err, Error::Decode { ref path, .. } if path == "checkout_url"));
    }

    #[test]
    fn a_subscription_without_status_is_unknown_not_an_error() {
        let s = wire::Subscription {
            id: "su_1".into(),
            ..wire::Subscription::default()
        };
        let out = subscription(&s, json!({"id": "su_1"})).unwrap();
        assert_eq!(out.status, SubscriptionStatus::Unknown(String::new()));
        assert_eq!(out.raw, json!({"id": "su_1"}));
    }
}
