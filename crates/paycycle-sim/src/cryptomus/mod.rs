//! The Cryptomus frontend: its API (`/v1/recurrence/{create,info,list,cancel}`, signed like the
//! real one), its control routes (`/__sim/cryptomus/...`: the payer accepts or cancels), its
//! payer page (`/pay/cryptomus/{uuid}`) and its webhooks, rendered from engine transitions.
//!
//! - [`api`]: the API routes, their checks and answers.
//! - [`control`] and [`pages`]: the payer's side.
//! - [`webhook`]: the webhooks of engine transitions.
//! - Here: what Cryptomus keeps of a recurrence, its JSON, the fixed rate table, and the payer's
//!   operations the control routes, the page and the [`Simulator`](crate::Simulator) share.

mod api;
mod control;
mod pages;
mod webhook;

use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, FixedOffset, Offset as _, SecondsFormat, Utc};
use paycycle_core::{CancelledBy, GatewayId, Interval};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::Value;

use crate::SimError;
use crate::engine::{State as SubState, Subscription, Transition};
use crate::state::{Renderer, Shared};

pub(crate) use api::seed;
pub(crate) use pages::page_path;

/// The gateway id of Cryptomus subscriptions in the engine.
pub(crate) const GATEWAY: GatewayId = GatewayId::CRYPTOMUS;

/// Fixed exchange rates: US dollars per unit. `BTC` is chosen so that 15 USD is `0.00051495`
/// BTC, as in the reference document's example.
const USD_PER_UNIT: &[(&str, &str)] = &[
    // crypto
    ("ADA", "0.4"),
    ("ARB", "1"),
    ("AVAX", "30"),
    ("BCH", "400"),
    ("BNB", "500"),
    ("BTC", "29129"),
    ("BUSD", "1"),
    ("CGPT", "0.1"),
    ("DAI", "1"),
    ("DASH", "30"),
    ("DOGE", "0.1"),
    ("DOGS", "0.0005"),
    ("DOT", "6"),
    ("ETH", "2000"),
    ("HMSTR", "0.004"),
    ("LTC", "80"),
    ("MATIC", "0.5"),
    ("NOT", "0.008"),
    ("OP", "2"),
    ("POL", "0.5"),
    ("SHIB", "0.00001"),
    ("SOL", "150"),
    ("TON", "5"),
    ("TRX", "0.125"),
    ("USDC", "1"),
    ("USDT", "1"),
    ("VERSE", "0.0002"),
    ("XMR", "160"),
    ("XRP", "0.5"),
    // fiat
    ("AED", "0.27"),
    ("ARS", "0.001"),
    ("AUD", "0.66"),
    ("BRL", "0.2"),
    ("CAD", "0.74"),
    ("CHF", "1.12"),
    ("CNY", "0.14"),
    ("EUR", "1.08"),
    ("GBP", "1.27"),
    ("GTQ", "0.13"),
    ("INR", "0.012"),
    ("JPY", "0.0067"),
    ("KZT", "0.0021"),
    ("MXN", "0.055"),
    ("PLN", "0.25"),
    ("RUB", "0.011"),
    ("TRY", "0.031"),
    ("UAH", "0.025"),
    ("USD", "1"),
];

/// US dollars per unit of `code`, from the simulator's fixed table.
pub(crate) fn usd_rate(code: &str) -> Option<Decimal> {
    USD_PER_UNIT
        .iter()
        .find(|(c, _)| *c == code)
        .and_then(|(_, r)| Decimal::from_str(r).ok())
}

/// `amount` of `from` in `to`, by the fixed table.
fn convert(amount: Decimal, from: &str, to: &str) -> Option<Decimal> {
    amount.checked_mul(usd_rate(from)?)?.checked_div(usd_rate(to)?)
}

/// `x` rounded half away from zero to exactly `dp` decimals.
pub(crate) fn fixed(x: Decimal, dp: u32) -> String {
    let mut r = x.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r.to_string()
}

/// A Cryptomus period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    Weekly,
    Monthly,
    ThreeMonth,
}

impl Period {
    fn parse(s: &str) -> Option<Period> {
        match s {
            "weekly" => Some(Period::Weekly),
            "monthly" => Some(Period::Monthly),
            "three_month" => Some(Period::ThreeMonth),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::ThreeMonth => "three_month",
        }
    }

    fn interval(self) -> Interval {
        match self {
            Period::Weekly => Interval::weekly(),
            Period::Monthly => Interval::monthly(),
            Period::ThreeMonth => Interval::months(3).unwrap_or(Interval::monthly()),
        }
    }
}

/// What Cryptomus keeps of a recurrence beyond the engine's terms: the request as sent.
#[derive(Debug, Clone)]
pub(crate) struct Recurrence {
    pub(crate) amount_raw: String,
    pub(crate) currency: String,
    pub(crate) to_currency: Option<String>,
    pub(crate) url_callback: Option<String>,
    pub(crate) discount_days: Option<u32>,
    pub(crate) discount_amount_raw: Option<String>,
    pub(crate) period: Period,
    pub(crate) additional_data: Option<String>,
    payer_currency: Option<String>,
    payer_amount_usd: String,
    payer_amount: Option<String>,
}

fn ext(sub: &Subscription) -> Option<&Recurrence> {
    sub.extension.get::<Recurrence>()
}

/// The Cryptomus status of an engine state.
pub(crate) fn status(state: SubState) -> &'static str {
    match state {
        SubState::Pending => "wait_accept",
        SubState::Trialing | SubState::Active | SubState::PastDue | SubState::Paused => "active",
        SubState::Cancelled { by: CancelledBy::Payer } | SubState::Failed => "cancel_by_user",
        SubState::Cancelled { .. } => "cancel_by_merchant",
    }
}

fn utc3() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| Utc.fix())
}

/// `last_pay_off`: `YYYY-MM-DD HH:MM:SS` in UTC+3.
pub(crate) fn utc3_plain(t: DateTime<Utc>) -> String {
    t.with_timezone(&utc3()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `end_of_discount`: ISO 8601 with `+03:00`.
fn utc3_iso(t: DateTime<Utc>) -> String {
    t.with_timezone(&utc3()).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The recurrence object, in the documented field order.
#[derive(Debug, Serialize)]
pub(crate) struct RecurrenceJson<'a> {
    uuid: &'a str,
    name: &'a str,
    order_id: Option<&'a str>,
    amount: &'a str,
    currency: &'a str,
    payer_currency: Option<&'a str>,
    payer_amount_usd: &'a str,
    payer_amount: Option<&'a str>,
    url_callback: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discount_days: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discount_amount: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_of_discount: Option<String>,
    period: &'a str,
    status: &'a str,
    url: String,
    last_pay_off: Option<String>,
    additional_data: Option<&'a str>,
}

impl<'a> RecurrenceJson<'a> {
    pub(crate) fn new(sub: &'a Subscription, rec: &'a Recurrence, base_url: &str) -> RecurrenceJson<'a> {
        let discounted = rec.discount_days.is_some();
        RecurrenceJson {
            uuid: &sub.id,
            name: &sub.name,
            order_id: sub.reference.as_deref(),
            amount: &rec.amount_raw,
            currency: &rec.currency,
            payer_currency: rec.payer_currency.as_deref(),
            payer_amount_usd: &rec.payer_amount_usd,
            payer_amount: rec.payer_amount.as_deref(),
            url_callback: rec.url_callback.as_deref(),
            discount_days: rec.discount_days.map(|d| d.to_string()),
            discount_amount: rec.discount_amount_raw.as_deref(),
            end_of_discount: if discounted {
                sub.intro_ends_at().map(utc3_iso)
            } else {
                None
            },
            period: rec.period.as_str(),
            status: status(sub.state),
            url: format!("{base_url}/pay/cryptomus/{}", sub.id),
            last_pay_off: sub.last_paid_at.map(utc3_plain),
            additional_data: rec.additional_data.as_deref(),
        }
    }
}

/// The recurrence object of `sub`, when it is a Cryptomus recurrence (serialize it directly:
/// a `serde_json::Value` would lose the field order).
pub(crate) fn recurrence_json<'a>(sub: &'a Subscription, base_url: &str) -> Option<RecurrenceJson<'a>> {
    Some(RecurrenceJson::new(sub, ext(sub)?, base_url))
}

/// The recurrence object as a JSON value (field order not kept).
pub(crate) fn recurrence_value(sub: &Subscription, base_url: &str) -> Option<Value> {
    serde_json::to_value(recurrence_json(sub, base_url)?).ok()
}

// ---------------------------------------------------------------------------------------------
// The payer's operations (shared by the control API, the payer page and the Simulator handle)

fn cryptomus_sub(s: &Shared, uuid: &str) -> Result<Subscription, SimError> {
    s.engine
        .get(uuid)
        .filter(|sub| sub.gateway == GATEWAY)
        .ok_or_else(|| SimError::NotFound {
            what: "Cryptomus recurrence",
            id: uuid.to_owned(),
        })
}

/// A subscription after an operation, with every transition that happened.
pub(crate) type Applied = (Subscription, Vec<Transition>);

/// The payer accepts (and pays the first period).
pub(crate) fn accept(s: &Shared, uuid: &str) -> Result<Applied, SimError> {
    let mut before = s.sync();
    cryptomus_sub(s, uuid)?;
    let outcome = s.engine.accept(uuid);
    before.extend(outcome.transitions.iter().cloned());
    let sub = s.run(outcome)?;
    Ok((sub, before))
}

/// The payer cancels.
pub(crate) fn cancel_by_user(s: &Shared, uuid: &str) -> Result<Applied, SimError> {
    let mut before = s.sync();
    cryptomus_sub(s, uuid)?;
    let outcome = s.engine.cancel(uuid, CancelledBy::Payer);
    before.extend(outcome.transitions.iter().cloned());
    let sub = s.run(outcome)?;
    Ok((sub, before))
}

/// The recurrence, for the payer page.
pub(crate) fn get(s: &Shared, uuid: &str) -> Option<Subscription> {
    cryptomus_sub(s, uuid).ok()
}

/// Every Cryptomus route: the API, the control routes, the payer page.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(control::routes())
        .merge(pages::routes())
        .with_state(shared)
}

/// Renders the transitions of Cryptomus recurrences as Cryptomus' webhooks.
#[derive(Debug, Default)]
pub(crate) struct Webhooks;

impl Renderer for Webhooks {
    fn render(&self, shared: &Shared, t: &Transition) -> Vec<crate::state::delivery::Webhook> {
        webhook::render(shared, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_reproduce_the_reference_example() {
        let btc = convert(Decimal::from(15), "USD", "BTC").unwrap();
        assert_eq!(fixed(btc, 8), "0.00051495");
        assert_eq!(fixed(Decimal::from(15), 8), "15.00000000");
        assert_eq!(fixed(Decimal::from_str("0.125").unwrap(), 2), "0.13");
        assert!(usd_rate("XYZ").is_none());
        // Every crypto code the core knows has a rate.
        for code in ["BTC", "ETH", "USDT", "USDC", "LTC", "TRX", "TON", "SOL", "DOGE", "BNB"] {
            assert!(usd_rate(code).is_some(), "{code}");
        }
    }

    #[test]
    fn times_are_shown_in_utc_plus_3() {
        let t: DateTime<Utc> = "2023-06-11T17:23:52Z".parse().unwrap();
        assert_eq!(utc3_plain(t), "2023-06-11 20:23:52");
        assert_eq!(utc3_iso(t), "2023-06-11T20:23:52+03:00");
    }
}
