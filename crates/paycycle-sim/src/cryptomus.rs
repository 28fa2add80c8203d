//! The Cryptomus frontend: `/v1/recurrence/{create,info,list,cancel}`, signed like the real API,
//! and Cryptomus-style webhooks rendered from engine transitions.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, FixedOffset, Offset as _, SecondsFormat, Utc};
use paycycle_core::{CancelledBy, Currency, GatewayId, Interval};
use paycycle_cryptomus::sign::{request_sign, sign_webhook, signatures_match};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::delivery::Webhook;
use crate::engine::{
    EngineError, Extension, NewSubscription, State as SubState, Subscription, Terms, Transition, TransitionKind,
};
use crate::server::Shared;
use crate::{SimError, constant_time_eq};

/// The gateway id of Cryptomus subscriptions in the engine.
pub(crate) const GATEWAY: GatewayId = GatewayId::CRYPTOMUS;

/// Items per page of `/v1/recurrence/list`.
pub(crate) const PER_PAGE: usize = 15;

/// The merchant's commission taken from each payment, in percent (shown in `merchant_amount`).
const COMMISSION_PERCENT: u32 = 2;

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

/// The network shown in payment webhooks for each payer currency (others: the code, lower-cased).
const NETWORKS: &[(&str, &str)] = &[
    ("BNB", "bsc"),
    ("BUSD", "bsc"),
    ("CGPT", "bsc"),
    ("DAI", "eth"),
    ("DOGS", "ton"),
    ("HMSTR", "ton"),
    ("MATIC", "polygon"),
    ("NOT", "ton"),
    ("POL", "polygon"),
    ("SHIB", "eth"),
    ("TRX", "tron"),
    ("USDC", "eth"),
    ("USDT", "tron"),
    ("VERSE", "eth"),
    ("ARB", "arbitrum"),
    ("OP", "optimism"),
    ("AVAX", "avalanche"),
];

/// The currency a simulated payer pays a fiat-priced recurrence in when no `to_currency` was set
/// (on the real payment page the payer picks one).
const DEFAULT_PAYER_CURRENCY: &str = "USDT";

/// US dollars per unit of `code`, from the simulator's fixed table.
pub(crate) fn usd_rate(code: &str) -> Option<Decimal> {
    USD_PER_UNIT
        .iter()
        .find(|(c, _)| *c == code)
        .and_then(|(_, r)| Decimal::from_str(r).ok())
}

fn network(code: &str) -> String {
    NETWORKS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| code.to_ascii_lowercase())
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
// Responses

#[derive(Serialize)]
struct Ok<T: Serialize> {
    state: u8,
    result: T,
}

fn ok<T: Serialize>(result: T) -> Response {
    json_response(StatusCode::OK, &Ok { state: 0, result })
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(http::header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "paycycle-sim could not serialize a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn message(status: StatusCode, msg: &str) -> Response {
    #[derive(Serialize)]
    struct Msg<'a> {
        state: u8,
        message: &'a str,
    }
    json_response(status, &Msg { state: 1, message: msg })
}

fn invalid_sign() -> Response {
    #[derive(Serialize)]
    struct Msg {
        message: &'static str,
    }
    json_response(
        StatusCode::UNAUTHORIZED,
        &Msg {
            message: "Invalid Sign.",
        },
    )
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Recurrence not found")
}

/// Laravel-style validation errors, in rule order.
#[derive(Debug, Default)]
struct Errors(Vec<(&'static str, &'static str)>);

impl Errors {
    fn add(&mut self, field: &'static str, rule: &'static str) {
        if !self.0.iter().any(|(f, _)| *f == field) {
            self.0.push((field, rule));
        }
    }

    fn into_response(self) -> Response {
        struct Fields(Vec<(&'static str, &'static str)>);
        impl Serialize for Fields {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (f, rule) in &self.0 {
                    m.serialize_entry(f, &[format!("validation.{rule}")])?;
                }
                m.end()
            }
        }
        #[derive(Serialize)]
        struct Body {
            state: u8,
            errors: Fields,
        }
        json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Body {
                state: 1,
                errors: Fields(self.0),
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Request reading

/// Checks `merchant` and `sign` against the raw body, in constant time, without saying which
/// was wrong.
fn authenticate(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(), Box<Response>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = request_sign(body, &s.config.cryptomus_payment_key);
    let sign_ok = signatures_match(&expected, header("sign"));
    let merchant_ok = constant_time_eq(header("merchant").as_bytes(), s.config.cryptomus_merchant_id.as_bytes());
    if sign_ok & merchant_ok {
        Ok(())
    } else {
        Err(Box::new(invalid_sign()))
    }
}

/// The body's JSON object; anything else reads as no input (as Laravel does).
fn input(body: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A field as Laravel sees it after trimming strings and turning empty ones into null.
enum Field<'a> {
    Absent,
    /// A string that was empty after trimming.
    Empty,
    Str(&'a str),
    Num(&'a serde_json::Number),
    Other,
}

fn field<'a>(input: &'a Map<String, Value>, key: &str) -> Field<'a> {
    match input.get(key) {
        None | Some(Value::Null) => Field::Absent,
        Some(Value::String(s)) if s.trim().is_empty() => Field::Empty,
        Some(Value::String(s)) => Field::Str(s.trim()),
        Some(Value::Number(n)) => Field::Num(n),
        Some(_) => Field::Other,
    }
}

/// Parses a plain decimal (`15`, `15.50`, `.5`, `-2`); no exponent.
fn parse_decimal(s: &str) -> Option<Decimal> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    if !plain {
        return None;
    }
    Decimal::from_str_exact(s).ok()
}

/// A numeric field: its text (as sent) and value.
fn numeric(f: &Field<'_>) -> Option<(String, Decimal)> {
    let text = match f {
        Field::Str(s) => (*s).to_owned(),
        Field::Num(n) => n.to_string(),
        _ => return None,
    };
    let value = parse_decimal(&text)?;
    Some((text, value))
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

// ---------------------------------------------------------------------------------------------
// Handlers

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/recurrence/create", post(create))
        .route("/v1/recurrence/info", post(info))
        .route("/v1/recurrence/list", post(list))
        .route("/v1/recurrence/cancel", post(cancel))
}

struct Validated {
    name: String,
    amount: Decimal,
    currency: Currency,
    period: Period,
    order_id: Option<String>,
    discount: Option<(u32, Decimal, String)>,
    rec: Recurrence,
}

fn validate(s: &Shared, input: &Map<String, Value>) -> Result<Validated, Errors> {
    let mut e = Errors::default();

    let amount = match field(input, "amount") {
        Field::Absent | Field::Empty => {
            e.add("amount", "required");
            None
        }
        f => match numeric(&f) {
            None => {
                e.add("amount", "numeric");
                None
            }
            Some((_, v)) if v <= Decimal::ZERO => {
                e.add("amount", "gt.numeric");
                None
            }
            Some(x) => Some(x),
        },
    };

    let currency = match field(input, "currency") {
        Field::Absent | Field::Empty => {
            e.add("currency", "required");
            None
        }
        Field::Str(code) => match Currency::parse(code) {
            Ok(c) if usd_rate(c.code()).is_some() => Some(c),
            _ => {
                e.add("currency", "in");
                None
            }
        },
        _ => {
            e.add("currency", "string");
            None
        }
    };

    let name = match field(input, "name") {
        Field::Absent | Field::Empty => {
            e.add("name", "required");
            None
        }
        Field::Str(n) if chars(n) < 3 => {
            e.add("name", "min.string");
            None
        }
        Field::Str(n) if chars(n) > 60 => {
            e.add("name", "max.string");
            None
        }
        Field::Str(n) => Some(n.to_owned()),
        _ => {
            e.add("name", "string");
            None
        }
    };

    let period = match field(input, "period") {
        Field::Absent | Field::Empty => {
            e.add("period", "required");
            None
        }
        Field::Str(p) => {
            let p = Period::parse(p);
            if p.is_none() {
                e.add("period", "in");
            }
            p
        }
        _ => {
            e.add("period", "in");
            None
        }
    };

    let to_currency = match field(input, "to_currency") {
        Field::Absent | Field::Empty => None,
        Field::Str(code) => match Currency::parse(code) {
            Ok(c) if c.is_crypto() && usd_rate(c.code()).is_some() => Some(c),
            _ => {
                e.add("to_currency", "in");
                None
            }
        },
        _ => {
            e.add("to_currency", "string");
            None
        }
    };

    let order_id = match field(input, "order_id") {
        Field::Absent => None,
        Field::Empty => {
            e.add("order_id", "min.string");
            None
        }
        Field::Str(o) if chars(o) > 100 => {
            e.add("order_id", "max.string");
            None
        }
        Field::Str(o) => {
            if s.engine.find_by_reference(&GATEWAY, o).is_some() {
                e.add("order_id", "unique");
            }
            Some(o.to_owned())
        }
        _ => {
            e.add("order_id", "string");
            None
        }
    };

    let url_callback = match field(input, "url_callback") {
        Field::Absent | Field::Empty => None,
        Field::Str(u) => match url::Url::parse(u) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => Some(u.to_owned()),
            _ => {
                e.add("url_callback", "url");
                None
            }
        },
        _ => {
            e.add("url_callback", "url");
            None
        }
    };

    let days_field = field(input, "discount_days");
    let amount_field = field(input, "discount_amount");
    let given = |f: &Field<'_>| !matches!(f, Field::Absent | Field::Empty);
    let discount_days = if given(&days_field) {
        let n = match &days_field {
            Field::Num(n) => n.as_i64(),
            Field::Str(s) => s.parse::<i64>().ok(),
            _ => None,
        };
        match n {
            None => {
                e.add("discount_days", "integer");
                None
            }
            Some(n) if !(1..=365).contains(&n) => {
                e.add("discount_days", "between.numeric");
                None
            }
            Some(n) => u32::try_from(n).ok(),
        }
    } else {
        if given(&amount_field) {
            e.add("discount_days", "required_with");
        }
        None
    };
    let discount_amount = if given(&amount_field) {
        match numeric(&amount_field) {
            None => {
                e.add("discount_amount", "numeric");
                None
            }
            Some((_, v)) if v <= Decimal::ZERO => {
                e.add("discount_amount", "gt.numeric");
                None
            }
            Some(x) => Some(x),
        }
    } else {
        if given(&days_field) {
            e.add("discount_amount", "required_with");
        }
        None
    };

    let additional_data = match field(input, "additional_data") {
        Field::Absent | Field::Empty => None,
        Field::Str(a) if chars(a) > 255 => {
            e.add("additional_data", "max.string");
            None
        }
        Field::Str(a) => Some(a.to_owned()),
        _ => {
            e.add("additional_data", "string");
            None
        }
    };

    let (Some((amount_raw, amount)), Some(currency), Some(name), Some(period)) = (amount, currency, name, period)
    else {
        return Err(e);
    };
    if !e.0.is_empty() {
        return Err(e);
    }
    let discount = match (discount_days, discount_amount) {
        (Some(d), Some((raw, v))) => Some((d, v, raw)),
        _ => None,
    };

    // What the payer pays, at the fixed rates.
    let code = currency.code();
    let usd = |x: Decimal| usd_rate(code).and_then(|r| x.checked_mul(r)).map(|u| fixed(u, 2));
    let (payer_currency, payer_amount_usd, payer_amount) = match (to_currency, currency.is_crypto()) {
        (Some(to), _) => (
            Some(to.code().to_owned()),
            usd(amount).unwrap_or_else(|| "0.00".into()),
            convert(amount, code, to.code()).map(|x| fixed(x, 8)),
        ),
        (None, true) => (
            Some(code.to_owned()),
            usd(amount).unwrap_or_else(|| "0.00".into()),
            Some(fixed(amount, 8)),
        ),
        (None, false) => (None, "0.00".to_owned(), None),
    };

    let rec = Recurrence {
        amount_raw,
        currency: code.to_owned(),
        to_currency: to_currency.map(|c| c.code().to_owned()),
        url_callback,
        discount_days: discount.as_ref().map(|(d, ..)| *d),
        discount_amount_raw: discount.as_ref().map(|(.., raw)| raw.clone()),
        period,
        additional_data,
        payer_currency,
        payer_amount_usd,
        payer_amount,
    };
    Ok(Validated {
        name,
        amount,
        currency,
        period,
        order_id,
        discount,
        rec,
    })
}

async fn create(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authenticate(&s, &headers, &body) {
        return *r;
    }
    s.sync();
    let input = input(&body);
    let v = match validate(&s, &input) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let mut terms = Terms::new(v.amount, v.currency.code(), v.period.interval());
    if let Some((days, amount, _)) = &v.discount {
        terms = terms.with_intro(*amount, *days);
    }
    let new = NewSubscription::new(GATEWAY, v.name, terms)
        .with_reference(v.order_id, true)
        .with_extension(Extension::new(v.rec));
    match s.run(s.engine.create(new)) {
        Ok(sub) => match recurrence_json(&sub, &s.base_url) {
            Some(r) => ok(r),
            None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(EngineError::DuplicateReference { .. }) => {
            let mut e = Errors::default();
            e.add("order_id", "unique");
            e.into_response()
        }
        Err(err) => message(StatusCode::UNPROCESSABLE_ENTITY, &err.to_string()),
    }
}

/// Finds the recurrence named by `order_id` (which wins) or `uuid`.
fn lookup(s: &Shared, input: &Map<String, Value>) -> Result<Subscription, Box<Response>> {
    let text = |f: Field<'_>| match f {
        Field::Str(x) => Some(x.to_owned()),
        Field::Num(n) => Some(n.to_string()),
        _ => None,
    };
    let order_id = text(field(input, "order_id"));
    let uuid = text(field(input, "uuid"));
    let found = match (order_id, uuid) {
        (Some(o), _) => s.engine.find_by_reference(&GATEWAY, &o),
        (None, Some(u)) => s.engine.get(&u).filter(|sub| sub.gateway == GATEWAY),
        (None, None) => {
            let mut e = Errors::default();
            e.add("uuid", "required_without");
            e.add("order_id", "required_without");
            return Err(Box::new(e.into_response()));
        }
    };
    found.ok_or_else(|| Box::new(not_found()))
}

async fn info(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authenticate(&s, &headers, &body) {
        return *r;
    }
    s.sync();
    match lookup(&s, &input(&body)) {
        Ok(sub) => match recurrence_json(&sub, &s.base_url) {
            Some(r) => ok(r),
            None => not_found(),
        },
        Err(r) => *r,
    }
}

async fn cancel(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authenticate(&s, &headers, &body) {
        return *r;
    }
    s.sync();
    let sub = match lookup(&s, &input(&body)) {
        Ok(sub) => sub,
        Err(r) => return *r,
    };
    match s.run(s.engine.cancel(&sub.id, CancelledBy::Merchant)) {
        Ok(sub) => match recurrence_json(&sub, &s.base_url) {
            Some(r) => ok(r),
            None => not_found(),
        },
        Err(EngineError::NotFound { .. }) => not_found(),
        Err(EngineError::AlreadyCancelled { .. }) => message(StatusCode::UNPROCESSABLE_ENTITY, "Already canceled"),
        Err(_) => message(StatusCode::UNPROCESSABLE_ENTITY, "Recurrence cannot be canceled"),
    }
}

/// A Laravel cursor: `base64url(json({"id":N,"_pointsToNextItems":bool}))`, unpadded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) id: u64,
    pub(crate) next: bool,
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        let json = format!(r#"{{"id":{},"_pointsToNextItems":{}}}"#, self.id, self.next);
        URL_SAFE_NO_PAD.encode(json)
    }

    /// `None` for anything unreadable (Laravel then shows the first page).
    pub(crate) fn decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        let id = match v.get("id")? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) => s.parse().ok()?,
            _ => return None,
        };
        let next = v.get("_pointsToNextItems")?.as_bool()?;
        Some(Cursor { id, next })
    }
}

/// One page of `items` (oldest first in, newest first out), Laravel cursor-paginator style.
pub(crate) fn paginate(all: &[Subscription], cursor: Option<Cursor>) -> (Vec<&Subscription>, Paginate) {
    let newest_first = all.iter().rev();
    let (mut page, has_more): (Vec<&Subscription>, bool) = match cursor {
        None => {
            let v: Vec<_> = newest_first.take(PER_PAGE + 1).collect();
            (v, false)
        }
        Some(c) if c.next => {
            let v: Vec<_> = newest_first.filter(|s| s.seq < c.id).take(PER_PAGE + 1).collect();
            (v, false)
        }
        Some(c) => {
            let v: Vec<_> = all.iter().filter(|s| s.seq > c.id).take(PER_PAGE + 1).collect();
            (v, false)
        }
    };
    let has_more = has_more || page.len() > PER_PAGE;
    page.truncate(PER_PAGE);
    if matches!(cursor, Some(Cursor { next: false, .. })) {
        page.reverse();
    }
    let points_next = cursor.map(|c| c.next);
    let next_cursor = match (points_next, has_more) {
        (None, false) | (Some(true), false) => None,
        _ => page.last().map(|s| Cursor { id: s.seq, next: true }.encode()),
    };
    let previous_cursor = match (points_next, has_more) {
        (None, _) | (Some(false), false) => None,
        _ => page.first().map(|s| Cursor { id: s.seq, next: false }.encode()),
    };
    let paginate = Paginate {
        count: page.len(),
        has_pages: next_cursor.is_some() || previous_cursor.is_some(),
        next_cursor,
        previous_cursor,
        per_page: PER_PAGE,
    };
    (page, paginate)
}

/// The `paginate` object of a list.
#[derive(Debug, Serialize)]
pub(crate) struct Paginate {
    count: usize,
    #[serde(rename = "hasPages")]
    has_pages: bool,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
    #[serde(rename = "previousCursor")]
    previous_cursor: Option<String>,
    #[serde(rename = "perPage")]
    per_page: usize,
}

async fn list(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authenticate(&s, &headers, &body) {
        return *r;
    }
    s.sync();
    let params: HashMap<String, String> = query
        .as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let cursor = params.get("cursor").and_then(|c| Cursor::decode(c));
    let all = s.engine.list(&GATEWAY);
    let (page, paginate) = paginate(&all, cursor);
    let items: Vec<RecurrenceJson<'_>> = page
        .iter()
        .filter_map(|sub| ext(sub).map(|rec| RecurrenceJson::new(sub, rec, &s.base_url)))
        .collect();
    #[derive(Serialize)]
    struct ListResult<'a> {
        items: Vec<RecurrenceJson<'a>>,
        paginate: Paginate,
    }
    ok(ListResult { items, paginate })
}

// ---------------------------------------------------------------------------------------------
// Control operations (shared by the control API, the payer page and the Simulator handle)

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

// ---------------------------------------------------------------------------------------------
// Webhooks

/// The payment-shaped webhook of a charge.
#[derive(Debug, Serialize)]
struct PaymentWebhook<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    uuid: &'a str,
    order_id: Option<&'a str>,
    amount: String,
    payment_amount: String,
    payment_amount_usd: String,
    merchant_amount: String,
    commission: String,
    is_final: bool,
    status: &'static str,
    from: Option<&'a str>,
    wallet_address_uuid: Option<&'a str>,
    network: String,
    currency: &'a str,
    payer_currency: &'a str,
    additional_data: Option<&'a str>,
    convert: Option<&'a str>,
    txid: Option<String>,
}

fn payment_body(
    sub: &Subscription,
    rec: &Recurrence,
    payment_id: &str,
    amount: Decimal,
    paid: bool,
) -> Option<Vec<u8>> {
    let currency = rec.currency.as_str();
    let crypto_priced = Currency::parse(currency).is_ok_and(|c| c.is_crypto());
    // The payer pays in `to_currency`, else in the price's crypto, else (fiat price, payer's
    // choice on the real page) in USDT.
    let payer = match (rec.to_currency.as_deref(), crypto_priced) {
        (Some(to), _) => to,
        (None, true) => currency,
        (None, false) => DEFAULT_PAYER_CURRENCY,
    };
    let payment_amount =
        convert(amount, currency, payer)?.round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero);
    let merchant_amount = (payment_amount * Decimal::from(100 - COMMISSION_PERCENT) / Decimal::from(100))
        .round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero);
    let commission = payment_amount - merchant_amount;
    let usd = amount.checked_mul(usd_rate(currency)?)?;
    let txid = paid.then(|| {
        let digest = Sha256::digest(payment_id.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    });
    let body = PaymentWebhook {
        kind: "payment",
        uuid: payment_id,
        order_id: sub.reference.as_deref(),
        amount: fixed(amount, if crypto_priced { 8 } else { 2 }),
        payment_amount: fixed(payment_amount, 8),
        payment_amount_usd: fixed(usd, 2),
        merchant_amount: fixed(merchant_amount, 8),
        commission: fixed(commission, 8),
        is_final: true,
        status: if paid { "paid" } else { "fail" },
        from: None,
        wallet_address_uuid: None,
        network: network(payer),
        currency,
        payer_currency: payer,
        additional_data: rec.additional_data.as_deref(),
        convert: None,
        txid,
    };
    serde_json::to_vec(&body).ok()
}

/// The webhooks Cryptomus would send for one transition (none without `url_callback`).
pub(crate) fn render(s: &Shared, t: &Transition) -> Vec<Webhook> {
    let sub = &t.subscription;
    let Some(rec) = ext(sub) else { return Vec::new() };
    let Some(url) = rec.url_callback.as_deref() else {
        return Vec::new();
    };
    let (event, body) = match &t.kind {
        TransitionKind::Activated | TransitionKind::Cancelled { .. } | TransitionKind::Ended { .. } => {
            let body = serde_json::to_vec(&RecurrenceJson::new(sub, rec, &s.base_url)).ok();
            (format!("recurrence {}", status(sub.state)), body)
        }
        TransitionKind::Charged { amount, payment_id, .. } => (
            "payment paid".to_owned(),
            payment_body(sub, rec, payment_id, *amount, true),
        ),
        TransitionKind::ChargeFailed { amount, payment_id, .. } => (
            "payment fail".to_owned(),
            payment_body(sub, rec, payment_id, *amount, false),
        ),
        _ => return Vec::new(),
    };
    let Some(body) = body else {
        tracing::error!(uuid = %sub.id, "paycycle-sim could not render a Cryptomus webhook");
        return Vec::new();
    };
    match sign_webhook(&body, &s.config.cryptomus_payment_key) {
        Ok(signed) => vec![Webhook::new(GATEWAY, event, url, signed.into_bytes())],
        Err(e) => {
            tracing::error!(error = %e, "paycycle-sim could not sign a Cryptomus webhook");
            Vec::new()
        }
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

    #[test]
    fn cursors_round_trip_in_laravel_format() {
        let c = Cursor { id: 214, next: true };
        assert_eq!(c.encode(), "eyJpZCI6MjE0LCJfcG9pbnRzVG9OZXh0SXRlbXMiOnRydWV9");
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("garbage!"), None);
        assert_eq!(Cursor::decode(""), None);
    }

    #[test]
    fn plain_decimals_only() {
        assert_eq!(parse_decimal("15"), Some(Decimal::from(15)));
        assert_eq!(parse_decimal("0.5"), Some(Decimal::from_str("0.5").unwrap()));
        for bad in ["", "-", "1e3", "1,5", "abc", "1.2.3", "."] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }
}
