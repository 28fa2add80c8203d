//! Cryptomus ⇄ paycycle core: status tables, periods, and the objects built from a recurrence.
//!
//! Every table is one `match`, tested row by row.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use paycycle_core::{
    CancelledBy, Capabilities, Checkout, CheckoutId, CheckoutRequest, Customer, Error, EventKind, GatewayId, Interval,
    IntervalUnit, PaymentStatus, Result, Subscription, SubscriptionId, SubscriptionStatus,
};
use serde::Serialize;

use crate::wire::{CreateRecurrence, Period, Recurrence, RecurrenceStatus};

const GATEWAY: GatewayId = GatewayId::CRYPTOMUS;
const THREE: NonZeroU32 = NonZeroU32::MIN.saturating_add(2);

/// The subscription status of a recurrence status.
///
/// | Cryptomus | paycycle |
/// |---|---|
/// | `wait_accept` | `Pending` |
/// | `active` | `Active` |
/// | `cancel_by_merchant` | `Cancelled { by: Merchant }` |
/// | `cancel_by_user` | `Cancelled { by: Payer }` |
/// | anything else | `Unknown(raw)` |
impl From<&RecurrenceStatus> for SubscriptionStatus {
    fn from(status: &RecurrenceStatus) -> Self {
        match status {
            RecurrenceStatus::WaitAccept => SubscriptionStatus::Pending,
            RecurrenceStatus::Active => SubscriptionStatus::Active,
            RecurrenceStatus::CancelByMerchant => SubscriptionStatus::Cancelled {
                by: CancelledBy::Merchant,
            },
            RecurrenceStatus::CancelByUser => SubscriptionStatus::Cancelled { by: CancelledBy::Payer },
            RecurrenceStatus::Unknown(raw) => SubscriptionStatus::Unknown(raw.clone()),
        }
    }
}

impl Period {
    /// The billing interval: weekly, monthly, every 3 months; `None` for an unknown period.
    pub fn interval(&self) -> Option<Interval> {
        match self {
            Period::Weekly => Some(Interval::weekly()),
            Period::Monthly => Some(Interval::monthly()),
            Period::ThreeMonth => Some(Interval {
                unit: IntervalUnit::Month,
                count: THREE,
            }),
            Period::Unknown(_) => None,
        }
    }

    /// The period of a billing interval; `None` for the intervals Cryptomus cannot bill.
    pub fn from_interval(interval: &Interval) -> Option<Period> {
        match (interval.unit, interval.count.get()) {
            (IntervalUnit::Week, 1) => Some(Period::Weekly),
            (IntervalUnit::Month, 1) => Some(Period::Monthly),
            (IntervalUnit::Month, 3) => Some(Period::ThreeMonth),
            _ => None,
        }
    }
}

/// What a payment webhook's `status` means.
///
/// | Cryptomus `status` | event | payment |
/// |---|---|---|
/// | `paid`, `paid_over` | `PaymentSucceeded` | `Succeeded` |
/// | `fail`, `wrong_amount`, `cancel`, `system_fail` | `PaymentFailed` | `Failed` |
/// | `confirm_check`, `check`, `process` | `PaymentPending` | `Pending` |
/// | `refund_paid` | `PaymentRefunded` | `Refunded` |
/// | anything else (`refund_process`, `refund_fail`, `locked`…) | `Unknown(raw)` | `Unknown(raw)` |
pub(crate) fn payment_event(status: &str) -> (EventKind, PaymentStatus) {
    match status {
        "paid" | "paid_over" => (EventKind::PaymentSucceeded, PaymentStatus::Succeeded),
        "fail" | "wrong_amount" | "cancel" | "system_fail" => (EventKind::PaymentFailed, PaymentStatus::Failed),
        "confirm_check" | "check" | "process" => (EventKind::PaymentPending, PaymentStatus::Pending),
        "refund_paid" => (EventKind::PaymentRefunded, PaymentStatus::Refunded),
        other => (
            EventKind::Unknown(other.to_owned()),
            PaymentStatus::Unknown(other.to_owned()),
        ),
    }
}

/// What a recurrence webhook's `status` means.
///
/// | Cryptomus `status` | event |
/// |---|---|
/// | `active` | `SubscriptionStarted` |
/// | `cancel_by_merchant`, `cancel_by_user` | `SubscriptionCancelled` |
/// | anything else (`wait_accept`…) | `Unknown(raw)` |
pub(crate) fn recurrence_event(status: &RecurrenceStatus) -> EventKind {
    match status {
        RecurrenceStatus::Active => EventKind::SubscriptionStarted,
        RecurrenceStatus::CancelByMerchant | RecurrenceStatus::CancelByUser => EventKind::SubscriptionCancelled,
        RecurrenceStatus::WaitAccept | RecurrenceStatus::Unknown(_) => EventKind::Unknown(status.as_str().to_owned()),
    }
}

fn status_of(rec: &Recurrence) -> SubscriptionStatus {
    rec.status
        .as_ref()
        .map_or_else(|| SubscriptionStatus::Unknown(String::new()), SubscriptionStatus::from)
}

fn raw_of(rec: &Recurrence) -> serde_json::Value {
    if rec.raw.is_null() {
        serde_json::to_value(rec).unwrap_or(serde_json::Value::Null)
    } else {
        rec.raw.clone()
    }
}

/// A recurrence as a [`Subscription`] (on Cryptomus the recurrence is the subscription).
pub(crate) fn subscription(rec: &Recurrence) -> Subscription {
    let mut s = Subscription::new(GATEWAY, SubscriptionId::new(&rec.uuid), status_of(rec), raw_of(rec));
    s.price = rec.price();
    s.interval = rec.period.as_ref().and_then(Period::interval);
    s.merchant_reference = rec.order_id.clone();
    s.checkout_id = Some(CheckoutId::new(&rec.uuid));
    s.last_paid_at = rec.last_pay_off.as_ref().and_then(|p| p.at);
    s
}

/// A recurrence as a [`Checkout`] (on Cryptomus the recurrence is also the checkout).
///
/// `reference` is used when the recurrence carries no `order_id`.
///
/// # Errors
/// [`Error::Decode`] (at `result.url`) when the recurrence has no payment page URL.
pub(crate) fn checkout(rec: &Recurrence, reference: Option<&str>) -> Result<Checkout> {
    let raw = raw_of(rec);
    let Some(url) = rec.url.clone() else {
        return Err(Error::Decode {
            gateway: GATEWAY,
            status: 200,
            path: "result.url".into(),
            excerpt: crate::client::excerpt(raw.to_string().as_bytes()),
            source: "the recurrence has no payment page `url`".into(),
        });
    };
    let merchant_reference = rec.order_id.as_deref().or(reference).map(str::to_owned);
    let mut c = Checkout::new(GATEWAY, CheckoutId::new(&rec.uuid), url, merchant_reference, raw);
    c.status = status_of(rec);
    c.subscription_id = Some(SubscriptionId::new(&rec.uuid));
    Ok(c)
}

/// `additional_data` of a checkout: `{"customer":{…},"metadata":{…}}`, each member only when set.
#[derive(Serialize)]
struct AdditionalData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<&'a Customer>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: &'a BTreeMap<String, String>,
}

/// A new merchant reference: `pc_` and a random uuid, so that webhooks always correlate.
pub(crate) fn generate_reference() -> String {
    format!("pc_{}", uuid::Uuid::new_v4().simple())
}

/// The create request for a checkout request.
///
/// Refuses what Cryptomus cannot do ([`Capabilities::check`]) before anything else; then maps
/// interval → `period`, intro offer → `discount_days`/`discount_amount`, payer currency →
/// `to_currency`, merchant reference → `order_id` (`reference` must be that, or a generated one),
/// callback URL → `url_callback`, customer and metadata → `additional_data`.
///
/// # Errors
/// [`Error::Unsupported`], then [`Error::InvalidInput`].
pub(crate) fn create_request(
    caps: &Capabilities,
    req: &CheckoutRequest,
    reference: String,
) -> Result<CreateRecurrence> {
    caps.check(&GATEWAY, req)?;
    let plan = &req.plan;
    plan.validate()?;
    let period = Period::from_interval(&plan.interval)
        .ok_or_else(|| Error::unsupported(GATEWAY, format!("billing {}", plan.interval)))?;
    let mut out = CreateRecurrence::new(plan.price, plan.name.clone(), period).order_id(reference);
    if let Some(intro) = &plan.intro {
        out = out.discount(intro.days.get(), intro.price.amount);
    }
    if let Some(c) = plan.payer_currency {
        if !c.is_crypto() {
            return Err(Error::invalid(
                "plan.payer_currency",
                format!("Cryptomus' to_currency must be a crypto asset, not the fiat currency {c}"),
            ));
        }
        out = out.to_currency(c);
    }
    if let Some(url) = &req.callback_url {
        out = out.url_callback(url.clone());
    }
    if req.customer.is_some() || !req.metadata.is_empty() {
        let data = AdditionalData {
            customer: req.customer.as_ref(),
            metadata: &req.metadata,
        };
        out = out.additional_data(serde_json::to_string(&data).map_err(|e| Error::invalid("additional_data", e))?);
    }
    out.validate()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::LastPayOff;
    use paycycle_core::{Currency, Money, RecurringPlan};
    use serde_json::json;

    #[test]
    fn subscription_status_table_row_by_row() {
        let rows = [
            ("wait_accept", SubscriptionStatus::Pending),
            ("active", SubscriptionStatus::Active),
            (
                "cancel_by_merchant",
                SubscriptionStatus::Cancelled {
                    by: CancelledBy::Merchant,
                },
            ),
            (
                "cancel_by_user",
                SubscriptionStatus::Cancelled { by: CancelledBy::Payer },
            ),
            ("expired", SubscriptionStatus::Unknown("expired".into())),
            ("", SubscriptionStatus::Unknown(String::new())),
        ];
        for (wire, expected) in rows {
            assert_eq!(
                SubscriptionStatus::from(&RecurrenceStatus::from_wire(wire)),
                expected,
                "{wire}"
            );
        }
    }

    #[test]
    fn payment_status_table_row_by_row() {
        use EventKind as K;
        use PaymentStatus as P;
        let rows: [(&str, K, P); 14] = [
            ("paid", K::PaymentSucceeded, P::Succeeded),
            ("paid_over", K::PaymentSucceeded, P::Succeeded),
            ("fail", K::PaymentFailed, P::Failed),
            ("wrong_amount", K::PaymentFailed, P::Failed),
            ("cancel", K::PaymentFailed, P::Failed),
            ("system_fail", K::PaymentFailed, P::Failed),
            ("confirm_check", K::PaymentPending, P::Pending),
            ("check", K::PaymentPending, P::Pending),
            ("process", K::PaymentPending, P::Pending),
            ("refund_paid", K::PaymentRefunded, P::Refunded),
            (
                "refund_process",
                K::Unknown("refund_process".into()),
                P::Unknown("refund_process".into()),
            ),
            (
                "refund_fail",
                K::Unknown("refund_fail".into()),
                P::Unknown("refund_fail".into()),
            ),
            ("locked", K::Unknown("locked".into()), P::Unknown("locked".into())),
            (
                "wrong_amount_waiting",
                K::Unknown("wrong_amount_waiting".into()),
                P::Unknown("wrong_amount_waiting".into()),
            ),
        ];
        for (wire, kind, status) in rows {
            assert_eq!(payment_event(wire), (kind, status), "{wire}");
        }
    }

    #[test]
    fn recurrence_event_table_row_by_row() {
        let rows = [
            ("active", EventKind::SubscriptionStarted),
            ("cancel_by_merchant", EventKind::SubscriptionCancelled),
            ("cancel_by_user", EventKind::SubscriptionCancelled),
            ("wait_accept", EventKind::Unknown("wait_accept".into())),
            ("suspended", EventKind::Unknown("suspended".into())),
        ];
        for (wire, kind) in rows {
            assert_eq!(recurrence_event(&RecurrenceStatus::from_wire(wire)), kind, "{wire}");
        }
    }

    #[test]
    fn periods_and_intervals_map_both_ways() {
        let three = Interval::months(3).unwrap();
        for (p, i) in [
            (Period::Weekly, Interval::weekly()),
            (Period::Monthly, Interval::monthly()),
            (Period::ThreeMonth, three),
        ] {
            assert_eq!(p.interval(), Some(i));
            assert_eq!(Period::from_interval(&i), Some(p));
        }
        assert_eq!(Period::Unknown("daily".into()).interval(), None);
        for i in [
            Interval::yearly(),
            Interval::months(2).unwrap(),
            Interval::new(IntervalUnit::Week, 2).unwrap(),
        ] {
            assert_eq!(Period::from_interval(&i), None, "{i}");
        }
    }

    fn recurrence(v: serde_json::Value) -> Recurrence {
        let mut r: Recurrence = serde_json::from_value(v.clone()).unwrap();
        r.raw = v;
        r
    }

    #[test]
    fn recurrences_become_subscriptions_and_checkouts() {
        let r = recurrence(json!({
            "uuid": "u-1", "order_id": "o-1", "amount": "15.00", "currency": "USD", "period": "three_month",
            "status": "active", "url": "https://pay.cryptomus.com/recurring/u-1", "last_pay_off": "2024-05-01 12:00:00"
        }));
        let s = subscription(&r);
        assert_eq!(s.id.as_str(), "u-1");
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(s.price, Some(Money::parse("15", Currency::USD).unwrap()));
        assert_eq!(s.interval, Some(Interval::months(3).unwrap()));
        assert_eq!(s.merchant_reference.as_deref(), Some("o-1"));
        assert_eq!(s.checkout_id.as_ref().map(CheckoutId::as_str), Some("u-1"));
        assert_eq!(s.last_paid_at, LastPayOff::parse("2024-05-01 12:00:00").at);
        assert_eq!(s.raw["last_pay_off"], "2024-05-01 12:00:00");

        let c = checkout(&r, Some("ignored")).unwrap();
        assert_eq!(c.id.as_str(), "u-1");
        assert_eq!(c.url.as_str(), "https://pay.cryptomus.com/recurring/u-1");
        assert_eq!(c.merchant_reference.as_deref(), Some("o-1"));
        assert_eq!(c.subscription_id.as_ref().map(SubscriptionId::as_str), Some("u-1"));
        assert_eq!(c.status, SubscriptionStatus::Active);

        let bare = recurrence(json!({"uuid": "u-2", "url": "https://pay.example/x"}));
        let c = checkout(&bare, Some("mine")).unwrap();
        assert_eq!(c.merchant_reference.as_deref(), Some("mine"));
        assert_eq!(c.status, SubscriptionStatus::Unknown(String::new()));
        let s = subscription(&bare);
        assert_eq!((s.price, s.interval, s.last_paid_at), (None, None, None));

        let no_url = recurrence(json!({"uuid": "u-3"}));
        match checkout(&no_url, None) {
            Err(e @ Error::Decode { .. }) => {
                assert!(
                    e.may_have_been_sent(),
                    "the recurrence exists: look it up, do not create another"
                );
                assert!(matches!(e, Error::Decode { ref path, .. } if path == "result.url"));
            }
            other => panic!("{other:?}"),
        }
    }

    fn caps() -> Capabilities {
        crate::gateway::cryptomus_capabilities().unwrap()
    }

    fn plan() -> paycycle_core::RecurringPlanBuilder {
        RecurringPlan::builder(
            "Gold plan",
            Money::parse("15", Currency::USD).unwrap(),
            Interval::monthly(),
        )
    }

    #[test]
    fn checkout_requests_map_every_option() {
        let req = CheckoutRequest::new(
            plan()
                .intro_offer(Money::parse("1", Currency::USD).unwrap(), 30)
                .payer_currency(Currency::BTC)
                .build()
                .unwrap(),
        )
        .merchant_reference("order-7")
        .callback_url("https://shop.example/hooks/cryptomus".parse().unwrap())
        .customer(Customer {
            email: Some("ana@example.com".into()),
            name: Some("Ana Ñúñez".into()),
        })
        .metadata("plan", "gold")
        .metadata("a/b", "c");
        let out = create_request(&caps(), &req, "order-7".into()).unwrap();
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({
                "amount": "15", "currency": "USD", "name": "Gold plan", "period": "monthly",
                "to_currency": "BTC", "order_id": "order-7",
                "url_callback": "https://shop.example/hooks/cryptomus",
                "discount_days": 30, "discount_amount": "1",
                "additional_data": r#"{"customer":{"email":"ana@example.com","name":"Ana Ñúñez"},"metadata":{"a/b":"c","plan":"gold"}}"#
            })
        );
        // Neither customer nor metadata: no additional_data at all; only metadata: only it.
        let out = create_request(&caps(), &CheckoutRequest::new(plan().build().unwrap()), "r".into()).unwrap();
        assert_eq!(out.additional_data, None);
        let out = create_request(
            &caps(),
            &CheckoutRequest::new(plan().build().unwrap()).metadata("k", "v"),
            "r".into(),
        )
        .unwrap();
        assert_eq!(out.additional_data.as_deref(), Some(r#"{"metadata":{"k":"v"}}"#));
    }

    #[test]
    fn unsupported_options_are_refused_not_dropped() {
        let unsupported = |req: CheckoutRequest| match create_request(&caps(), &req, "r".into()) {
            Err(Error::Unsupported { feature, .. }) => feature,
            other => panic!("{other:?}"),
        };
        let yearly = RecurringPlan::builder(
            "Gold plan",
            Money::parse("15", Currency::USD).unwrap(),
            Interval::yearly(),
        );
        assert!(unsupported(CheckoutRequest::new(yearly.build().unwrap())).contains("year"));
        assert!(unsupported(CheckoutRequest::new(plan().trial(Interval::weekly()).build().unwrap())).contains("trial"));
        assert!(unsupported(CheckoutRequest::new(plan().end_after_periods(3).build().unwrap())).contains("periods"));
        assert!(
            unsupported(
                CheckoutRequest::new(plan().build().unwrap()).success_url("https://a.example/ok".parse().unwrap())
            )
            .contains("URLs")
        );
    }

    #[test]
    fn invalid_options_name_the_field() {
        let invalid = |req: CheckoutRequest| match create_request(&caps(), &req, "r".into()) {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            invalid(CheckoutRequest::new(
                plan().payer_currency(Currency::EUR).build().unwrap()
            )),
            "plan.payer_currency"
        );
        let short = RecurringPlan::builder("Go", Money::parse("15", Currency::USD).unwrap(), Interval::monthly());
        assert_eq!(invalid(CheckoutRequest::new(short.build().unwrap())), "name");
        let long_intro = plan().intro_offer(Money::parse("1", Currency::USD).unwrap(), 400);
        assert_eq!(
            invalid(CheckoutRequest::new(long_intro.build().unwrap())),
            "discount_days"
        );
        let mut req = CheckoutRequest::new(plan().build().unwrap());
        req.plan.price = Money::parse("0", Currency::USD).unwrap();
        assert_eq!(invalid(req), "plan.price");
    }

    #[test]
    fn generated_references_are_prefixed_and_unique() {
        let a = generate_reference();
        assert!(a.starts_with("pc_"));
        assert_eq!(a.len(), 3 + 32);
        assert!(a[3..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, generate_reference());
    }
}
