//! Cryptomus' API: `/v1/recurrence/{create,info,list,cancel}`, authenticated by the `sign` over
//! the raw body, validated with Laravel's rule keys, paginated with Laravel cursors.

use std::collections::HashMap;
#[cfg(test)]
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
use paycycle_core::{CancelledBy, Currency};
use paycycle_cryptomus::sign::{request_sign, signatures_match};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};

use super::{GATEWAY, Period, Recurrence, RecurrenceJson, convert, ext, fixed, recurrence_json, usd_rate};
use crate::engine::{EngineError, Extension, NewSubscription, SeedState, Subscription, Terms};
use crate::state::Shared;
use crate::{SimError, constant_time_eq};

/// Items per page of `/v1/recurrence/list`.
pub(crate) const PER_PAGE: usize = 15;

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

/// One page of Cryptomus recurrences, newest first, Laravel cursor-paginator style: reads
/// `PER_PAGE + 1` rows from the engine's index (seeking to the cursor), never the whole list.
pub(crate) fn paginate(s: &Shared, cursor: Option<Cursor>) -> (Vec<Subscription>, Paginate) {
    let mut page = match cursor {
        None => s.engine.newest(&GATEWAY, 0, PER_PAGE + 1),
        Some(c) if c.next => s.engine.before(&GATEWAY, c.id, PER_PAGE + 1),
        Some(c) => s.engine.after(&GATEWAY, c.id, PER_PAGE + 1),
    };
    let has_more = page.len() > PER_PAGE;
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
    let (page, paginate) = paginate(&s, cursor);
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

/// Creates `count` recurrences at once in `state`, as `/v1/recurrence/create` would with
/// `amount` of `currency` (default 10 USDT), monthly, without `order_id` or `url_callback`, and
/// no webhooks. Returns the first and last uuid.
///
/// # Errors
/// [`SimError::Refused`] for a currency without a rate or an amount not above 0.
pub(crate) fn seed(
    s: &Shared,
    count: usize,
    state: SeedState,
    amount: Option<Decimal>,
    currency: Option<&str>,
) -> Result<(usize, Option<String>, Option<String>), SimError> {
    let refused = |reason: String| SimError::Refused { reason };
    let amount = amount.unwrap_or(Decimal::TEN);
    if amount <= Decimal::ZERO {
        return Err(refused(format!("the amount {amount} is not above 0")));
    }
    let currency = Currency::parse(currency.unwrap_or("USDT"))
        .ok()
        .filter(|c| usd_rate(c.code()).is_some())
        .ok_or_else(|| refused("Cryptomus has no rate for this currency".to_owned()))?;
    let code = currency.code();
    let usd = usd_rate(code)
        .and_then(|r| amount.checked_mul(r))
        .map_or_else(|| "0.00".to_owned(), |u| fixed(u, 2));
    let crypto = currency.is_crypto();
    let period = Period::Monthly;
    let rec = Recurrence {
        amount_raw: amount.to_string(),
        currency: code.to_owned(),
        to_currency: None,
        url_callback: None,
        discount_days: None,
        discount_amount_raw: None,
        period,
        additional_data: None,
        payer_currency: crypto.then(|| code.to_owned()),
        payer_amount_usd: if crypto { usd } else { "0.00".to_owned() },
        payer_amount: crypto.then(|| fixed(amount, 8)),
    };
    let terms = Terms::new(amount, code, period.interval());
    let ext = Extension::new(rec);
    let outcome = s.engine.seed(count, state, |_| {
        NewSubscription::new(GATEWAY, "Seeded plan", terms.clone()).with_extension(ext.clone())
    });
    let created = s.run(outcome)?;
    Ok((
        created.len(),
        created.first().map(|c| c.id.clone()),
        created.last().map(|c| c.id.clone()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
