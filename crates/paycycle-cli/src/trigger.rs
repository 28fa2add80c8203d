//! `paycycle trigger`: one realistic sample event of a normalized kind, signed and sent exactly
//! as the provider would send it, to any URL. For testing an app's receiver without a whole flow.

use chrono::{SecondsFormat, Utc};
use paycycle_core::EventKind;
use serde_json::{Value, json};

use crate::Gateway;

/// The kinds each gateway can announce, in the order `--help` lists them.
pub(crate) const RECURRENTE_KINDS: &[&str] = &[
    "payment_succeeded",
    "payment_failed",
    "payment_pending",
    "payment_refunded",
    "subscription_started",
    "subscription_past_due",
    "subscription_paused",
    "subscription_resumed",
    "subscription_cancelled",
    "subscription_reactivated",
    "subscription_updated",
    "dispute_opened",
    "dispute_updated",
    "setup_succeeded",
    "setup_failed",
];

/// Cryptomus sends webhooks only for payments and for a recurrence's status.
pub(crate) const CRYPTOMUS_KINDS: &[&str] = &[
    "payment_succeeded",
    "payment_failed",
    "payment_pending",
    "payment_refunded",
    "subscription_started",
    "subscription_cancelled",
];

/// Reads a kind in snake case (`payment_succeeded`).
pub(crate) fn parse_kind(text: &str) -> Option<EventKind> {
    match serde_json::from_value::<EventKind>(Value::String(text.to_owned())) {
        Ok(EventKind::Unknown(_)) | Err(_) => None,
        Ok(kind) => Some(kind),
    }
}

/// A short id of `len` lowercase letters and digits, from the clock (samples need not be random,
/// only distinct from one run to the next).
fn suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = Utc::now().timestamp_nanos_opt().unwrap_or_default().unsigned_abs();
    (0..len)
        .map(|_| {
            let c = ALPHABET[(n % 36) as usize];
            n /= 36;
            char::from(c)
        })
        .collect()
}

/// The unsigned body of a sample event of `kind` from `gateway`, with `reference` as the
/// merchant reference; `None` when that gateway never sends such an event.
pub(crate) fn sample(gateway: Gateway, kind: &EventKind, reference: &str) -> Option<Value> {
    match gateway {
        Gateway::Recurrente => recurrente(kind, reference),
        Gateway::Cryptomus => cryptomus(kind, reference),
    }
}

fn recurrente(kind: &EventKind, reference: &str) -> Option<Value> {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let s = suffix(8);
    let (sub, pay, checkout, user) = (
        format!("su_{s}"),
        format!("pa_{s}"),
        format!("ch_{s}"),
        format!("us_{s}"),
    );
    let checkout_obj = json!({"id": checkout, "status": "paid", "metadata": {"paycycle_reference": reference}});
    let payment = json!({"id": pay, "paymentable": {"type": "Subscription", "id": sub}});
    let customer = json!({"id": user, "email": "payer@example.com", "full_name": "Ana Pagadora"});
    let payment_event = |event: &str, failure: Value| {
        json!({
            "id": pay, "event_type": event, "api_version": "2024-04-24", "checkout": checkout_obj,
            "created_at": now, "failure_reason": failure, "amount_in_cents": 15000, "currency": "GTQ",
            "fee": 675, "vat_withheld": 0, "vat_withheld_currency": "GTQ", "customer": customer,
            "payment": payment, "product": {"id": format!("prod_{s}")}, "invoice": {"id": format!("inv_{s}"), "tax_invoice_url": null},
            "live_mode": false
        })
    };
    let subscription_event = |event: &str| {
        json!({
            "id": sub, "event_type": event, "api_version": "2024-04-24", "created_at": now,
            "customer_email": "payer@example.com", "customer_id": user, "customer_name": "Ana Pagadora",
            "payment": payment, "checkout": {"id": checkout, "metadata": {"paycycle_reference": reference}},
            "product": {"id": format!("prod_{s}"), "name": "Plan mensual"}, "live_mode": false
        })
    };
    let body = match kind {
        EventKind::PaymentSucceeded => payment_event("payment_intent.succeeded", Value::Null),
        EventKind::PaymentFailed => payment_event("payment_intent.failed", json!("Tarjeta declinada")),
        EventKind::PaymentPending => {
            let mut b = payment_event("bank_transfer_intent.pending", Value::Null);
            b["id"] = json!(format!("ba_{s}"));
            b["bank_reference"] = Value::Null;
            b["sender_comment"] = Value::Null;
            b
        }
        EventKind::PaymentRefunded => json!({
            "event_type": "refund.create", "api_version": "2024-04-24", "id": format!("re_{s}"),
            "status": "succeeded", "customer": customer, "account_refunded_amount_in_cents": 14325,
            "customer_refunded_amount_in_cents": 15000, "currency": "GTQ", "created_at": now,
            "payment_intent": {"id": pay}, "checkout": {"id": checkout, "metadata": {"paycycle_reference": reference}},
            "live_mode": false
        }),
        EventKind::SubscriptionStarted => subscription_event("subscription.create"),
        EventKind::SubscriptionPastDue => subscription_event("subscription.past_due"),
        EventKind::SubscriptionPaused => subscription_event("subscription.pause"),
        EventKind::SubscriptionResumed => subscription_event("subscription.unpause"),
        EventKind::SubscriptionCancelled => subscription_event("subscription.cancel"),
        EventKind::SubscriptionReactivated => subscription_event("subscription.reactivate"),
        EventKind::SubscriptionUpdated => subscription_event("subscription.update"),
        EventKind::DisputeOpened | EventKind::DisputeUpdated => {
            let event = if *kind == EventKind::DisputeOpened {
                "dispute.create"
            } else {
                "dispute.update"
            };
            json!({
                "id": format!("dp_{s}"), "event_type": event, "api_version": "2024-04-24", "created_at": now,
                "status": "needs_response", "amount_in_cents": 15000, "currency": "GTQ",
                "payment_intent": {"id": pay}, "checkout": {"id": checkout, "metadata": {"paycycle_reference": reference}},
                "live_mode": false
            })
        }
        EventKind::SetupSucceeded | EventKind::SetupFailed => {
            let (event, status) = if *kind == EventKind::SetupSucceeded {
                ("setup_intent.succeeded", "succeeded")
            } else {
                ("setup_intent.cancelled", "cancelled")
            };
            json!({
                "id": format!("pa_{s}"), "event_type": event, "api_version": "2024-04-24", "created_at": now,
                "status": status, "suscription": {"id": sub},
                "payment_method": {"id": format!("pay_m_{s}"), "type": "card", "card": {"last4": "4242", "network": "visa"}},
                "checkout": {"id": checkout, "metadata": {"paycycle_reference": reference}}, "live_mode": false
            })
        }
        _ => return None,
    };
    Some(body)
}

fn cryptomus(kind: &EventKind, reference: &str) -> Option<Value> {
    let s = suffix(12);
    let uuid = format!("{}-{}-4{}-8{}-{}", &s[..8], &s[8..12], "000", "000", "0000c0ffee00");
    let payment = |status: &str| {
        json!({
            "type": "payment", "uuid": uuid, "order_id": reference, "amount": "15.00000000",
            "payment_amount": "15.00000000", "payment_amount_usd": "15.00", "merchant_amount": "14.70000000",
            "commission": "0.30000000", "is_final": status != "process", "status": status,
            "from": "THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH", "wallet_address_uuid": null, "network": "tron",
            "currency": "USDT", "payer_currency": "USDT", "additional_data": null, "convert": null,
            "txid": "6f0d9c8374db57cac0d806251473de754f361c83a03cd805f74aa9da3193486b"
        })
    };
    let recurrence = |status: &str| {
        json!({
            "uuid": uuid, "name": "Plan mensual", "order_id": reference, "amount": "15", "currency": "USD",
            "payer_currency": "USDT", "payer_amount_usd": "15.00", "payer_amount": "15.00000000",
            "url_callback": null, "period": "monthly", "status": status,
            "url": format!("https://pay.cryptomus.com/recurring/{uuid}"), "last_pay_off": null,
            "additional_data": null
        })
    };
    Some(match kind {
        EventKind::PaymentSucceeded => payment("paid"),
        EventKind::PaymentFailed => payment("fail"),
        EventKind::PaymentPending => payment("process"),
        EventKind::PaymentRefunded => payment("refund_paid"),
        EventKind::SubscriptionStarted => recurrence("active"),
        EventKind::SubscriptionCancelled => recurrence("cancel_by_merchant"),
        _ => return None,
    })
}
