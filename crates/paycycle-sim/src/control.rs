//! The `/__sim` control API: act as the payer, move the clock, read the webhook log.
//!
//! | route | does |
//! |---|---|
//! | `POST /__sim/cryptomus/recurrences/{uuid}/accept` | the payer accepts and pays the first period |
//! | `POST /__sim/cryptomus/recurrences/{uuid}/cancel-by-user` | the payer cancels |
//! | `POST /__sim/clock/advance` `{"days": N}` or `{"seconds": N}` | moves the clock, runs what fell due |
//! | `GET /__sim/clock` | `{"now": "…"}` (RFC 3339) |
//! | `GET /__sim/webhooks` | `{"pending": N, "deliveries": [...]}` |
//! | `POST /__sim/recurrente/checkouts/{id}/pay` `{"outcome": "card_success" \| "card_declined" \| "bank_transfer_pending"}` | the payer pays, has the card declined, or starts a bank transfer (optional `"email"`, `"full_name"`: who pays) |
//! | `POST /__sim/recurrente/bank_transfers/{ba_ or pa_ id}/settle` `{"succeeded": true \| false}` | the bank settles a pending transfer |
//! | `POST /__sim/recurrente/subscriptions/{id}/fail_next_charge` `{"count": N}` (optional, default 1) | the next N charges fail |
//! | `POST /__sim/recurrente/subscriptions/{id}/pause`, `…/resume` | pause or resume (as from Recurrente's dashboard) |
//! | `POST /__sim/recurrente/subscriptions/{id}/reactivate` | brings a cancelled subscription back and sends `subscription.reactivate` (**unofficial**: Recurrente documents no reactivation endpoint, only the event; billing picks up at the next scheduled period) |
//! | `POST /__sim/recurrente/payment_methods/{id}/fail_next_charge` `{"count": N}` | the next N one-time payments with this card are declined |
//! | `POST /__sim/recurrente/webhook_endpoints/{id}/disable`, `…/enable` | stop or resume deliveries to an endpoint |
//! | `PUT /__sim/delivery` `{"url_prefix": "http://127.0.0.1:1234/webhooks/", "copies": 10, "concurrent": true, "shuffle_window": 5, "drop_per_mille": 300, "seed": 7}` | sets a [`DeliveryMode`](crate::DeliveryMode) for the URLs with that prefix (absent or `null`: every URL; the other fields default to the ordinary behaviour); answers `{"modes": [...]}` |
//! | `GET /__sim/delivery` | `{"modes": [{"url_prefix": …, "copies": …, "concurrent": …, "shuffle_window": …, "drop_per_mille": …, "seed": …}]}` |
//! | `DELETE /__sim/delivery` | removes every delivery mode; answers `{"modes": []}` |
//!
//! The payer routes answer JSON (Cryptomus: `{"recurrence": …, "transitions": […]}`;
//! Recurrente: the ids made, `checkout`, `subscription` and `transitions`), or, with
//! `?redirect=page` (what the payer pages' buttons send), `303 See Other` back to the page.
//! Bodies are JSON or form-encoded. Errors are `{"error": "<code>", "message": "…"}` with 404
//! (unknown object), 409 (not in a state that allows it) or 422 (a malformed request);
//! `PUT /__sim/delivery` answers 400 `invalid_delivery_mode` to a body that is not such an
//! object (unknown fields included) or to a value out of range (`copies` 0 or above 1000,
//! `drop_per_mille` above 1000).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::{EngineError, Transition};
use crate::server::Shared;
use crate::{DeliveryMode, SimError, cryptomus, recurrente, rfc3339};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sim/cryptomus/recurrences/{uuid}/accept", post(accept))
        .route(
            "/__sim/cryptomus/recurrences/{uuid}/cancel-by-user",
            post(cancel_by_user),
        )
        .route("/__sim/recurrente/checkouts/{id}/pay", post(recurrente_pay))
        .route("/__sim/recurrente/bank_transfers/{id}/settle", post(recurrente_settle))
        .route(
            "/__sim/recurrente/subscriptions/{id}/fail_next_charge",
            post(recurrente_fail_next_charge),
        )
        .route("/__sim/recurrente/subscriptions/{id}/pause", post(recurrente_pause))
        .route("/__sim/recurrente/subscriptions/{id}/resume", post(recurrente_resume))
        .route(
            "/__sim/recurrente/subscriptions/{id}/reactivate",
            post(recurrente_reactivate),
        )
        .route(
            "/__sim/recurrente/payment_methods/{id}/fail_next_charge",
            post(recurrente_fail_method),
        )
        .route(
            "/__sim/recurrente/webhook_endpoints/{id}/disable",
            post(recurrente_disable_endpoint),
        )
        .route(
            "/__sim/recurrente/webhook_endpoints/{id}/enable",
            post(recurrente_enable_endpoint),
        )
        .route("/__sim/clock/advance", post(advance))
        .route("/__sim/clock", get(clock))
        .route("/__sim/webhooks", get(webhooks))
        .route(
            "/__sim/delivery",
            get(delivery_modes).put(set_delivery_mode).delete(clear_delivery_modes),
        )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error": code, "message": message }))).into_response()
}

pub(crate) fn sim_error(e: &SimError) -> Response {
    let (status, code) = match e {
        SimError::NotFound { .. } | SimError::Engine(EngineError::NotFound { .. }) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        SimError::Engine(EngineError::AlreadyCancelled { .. }) => (StatusCode::CONFLICT, "already_cancelled"),
        SimError::Engine(_) => (StatusCode::CONFLICT, "invalid_state"),
        SimError::Refused { .. } => (StatusCode::CONFLICT, "refused"),
        SimError::Clock(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    error(status, code, &e.to_string())
}

fn wants_redirect(query: Option<&str>) -> bool {
    query.is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "redirect" && v == "page"))
}

fn payer_action(
    s: &Shared,
    uuid: &str,
    query: Option<&str>,
    op: fn(&Shared, &str) -> Result<cryptomus::Applied, SimError>,
) -> Response {
    let result = op(s, uuid);
    if wants_redirect(query) {
        let page = crate::pages::page_path(uuid);
        return match result {
            Ok(_) => Redirect::to(&page).into_response(),
            Err(e) => {
                let notice: String = url::form_urlencoded::byte_serialize(e.to_string().as_bytes()).collect();
                Redirect::to(&format!("{page}?notice={notice}")).into_response()
            }
        };
    }
    match result {
        Ok((sub, transitions)) => {
            #[derive(Serialize)]
            struct Body<'a> {
                recurrence: Option<cryptomus::RecurrenceJson<'a>>,
                transitions: Vec<Transition>,
            }
            let recurrence = cryptomus::recurrence_json(&sub, &s.base_url);
            axum::Json(Body {
                recurrence,
                transitions,
            })
            .into_response()
        }
        Err(e) => sim_error(&e),
    }
}

async fn accept(State(s): State<Arc<Shared>>, Path(uuid): Path<String>, RawQuery(q): RawQuery) -> Response {
    payer_action(&s, &uuid, q.as_deref(), cryptomus::accept)
}

async fn cancel_by_user(State(s): State<Arc<Shared>>, Path(uuid): Path<String>, RawQuery(q): RawQuery) -> Response {
    payer_action(&s, &uuid, q.as_deref(), cryptomus::cancel_by_user)
}

/// Redirects to `page`, with the error as a notice.
fn back_to(page: &str, result: Result<(), String>) -> Response {
    match result {
        Ok(()) => Redirect::to(page).into_response(),
        Err(e) => {
            let notice: String = url::form_urlencoded::byte_serialize(e.as_bytes()).collect();
            Redirect::to(&format!("{page}?notice={notice}")).into_response()
        }
    }
}

fn invalid(msg: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", msg)
}

/// A field read as text (JSON strings, numbers and booleans; form values are text).
fn text(body: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        v @ (Value::Bool(_) | Value::Number(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// `{"count": N}`, N ≥ 1, default 1.
/// The `count` of a JSON or form body (default 1), or what is wrong with it.
fn count_in(headers: &HeaderMap, body: &[u8]) -> Result<u32, String> {
    let body = recurrente::read_body(headers, body)?;
    count(&body).map_err(str::to_owned)
}

fn count(body: &serde_json::Map<String, Value>) -> Result<u32, &'static str> {
    const MSG: &str = "`count` must be a positive integer";
    match text(body, "count") {
        None if !body.contains_key("count") => Ok(1),
        Some(n) => n.parse::<u32>().ok().filter(|n| *n >= 1).ok_or(MSG),
        None => Err(MSG),
    }
}

async fn recurrente_pay(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let page = recurrente::page_path(&id);
    let redirect = wants_redirect(q.as_deref());
    let body = match recurrente::read_body(&headers, &body) {
        Ok(b) => b,
        Err(msg) if redirect => return back_to(&page, Err(msg)),
        Err(msg) => return invalid(&msg),
    };
    let Some(outcome) = text(&body, "outcome").and_then(|o| recurrente::Outcome::parse(&o)) else {
        let msg = r#"give "outcome": "card_success", "card_declined" or "bank_transfer_pending""#;
        return if redirect {
            back_to(&page, Err(msg.to_owned()))
        } else {
            invalid(msg)
        };
    };
    let payer = recurrente::Payer {
        email: text(&body, "email").filter(|e| !e.is_empty()),
        full_name: text(&body, "full_name").filter(|n| !n.is_empty()),
    };
    let result = recurrente::pay(&s, &id, outcome, &payer);
    if redirect {
        return back_to(&page, result.map(|_| ()).map_err(|e| e.to_string()));
    }
    match result {
        Ok(a) => axum::Json(recurrente::attempt_json(&s, &a)).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn recurrente_settle(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let redirect = wants_redirect(q.as_deref());
    let body = match recurrente::read_body(&headers, &body) {
        Ok(b) => b,
        Err(msg) => return invalid(&msg),
    };
    let succeeded = match text(&body, "succeeded").as_deref() {
        Some("true" | "1") => true,
        Some("false" | "0") => false,
        _ => return invalid(r#"give "succeeded": true or false"#),
    };
    let result = recurrente::settle(&s, &id, succeeded);
    if redirect {
        let page = match &result {
            Ok(a) => recurrente::page_path(&a.checkout_id),
            Err(_) => recurrente::checkout_of_payment(&s, &id)
                .map(|c| recurrente::page_path(&c))
                .unwrap_or_else(|| "/".to_owned()),
        };
        return back_to(&page, result.map(|_| ()).map_err(|e| e.to_string()));
    }
    match result {
        Ok(a) => axum::Json(recurrente::attempt_json(&s, &a)).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn recurrente_fail_next_charge(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = match count_in(&headers, &body) {
        Ok(n) => n,
        Err(msg) => return invalid(&msg),
    };
    match recurrente::fail_next_charge(&s, &id, n) {
        Ok(pending) => axum::Json(json!({
            "subscription": recurrente::subscription_value(&s, &id),
            "failures_pending": pending,
        }))
        .into_response(),
        Err(e) => sim_error(&e),
    }
}

fn pause_or_resume(s: &Shared, id: &str, paused: bool) -> Response {
    match recurrente::set_paused(s, id, paused) {
        Ok(transitions) => axum::Json(json!({
            "subscription": recurrente::subscription_value(s, id),
            "transitions": transitions,
        }))
        .into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn recurrente_pause(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    pause_or_resume(&s, &id, true)
}

async fn recurrente_resume(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    pause_or_resume(&s, &id, false)
}

async fn recurrente_reactivate(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match recurrente::reactivate(&s, &id) {
        Ok(transitions) => axum::Json(json!({
            "subscription": recurrente::subscription_value(&s, &id),
            "transitions": transitions,
        }))
        .into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn recurrente_fail_method(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = match count_in(&headers, &body) {
        Ok(n) => n,
        Err(msg) => return invalid(&msg),
    };
    match recurrente::fail_next_method_charge(&s, &id, n) {
        Ok(pending) => axum::Json(json!({ "payment_method_id": id, "failures_pending": pending })).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn recurrente_disable_endpoint(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match recurrente::set_endpoint_disabled(&s, &id, true) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn recurrente_enable_endpoint(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match recurrente::set_endpoint_disabled(&s, &id, false) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => sim_error(&e),
    }
}

/// Reads `{"days": N}` / `{"seconds": N}` (both may be given; they add up).
fn parse_advance(body: &[u8]) -> Result<chrono::Duration, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("the body must be JSON: {e}"))?;
    let Value::Object(m) = v else {
        return Err(r#"the body must be an object like {"days": 30} or {"seconds": 60}"#.into());
    };
    if m.is_empty() {
        return Err(r#"give "days" or "seconds", e.g. {"days": 30}"#.into());
    }
    let mut total = chrono::Duration::zero();
    for (k, v) in &m {
        let n = v
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("`{k}` must be a non-negative integer"))?;
        let d = match k.as_str() {
            "days" => chrono::Duration::try_days(n),
            "seconds" => chrono::Duration::try_seconds(n),
            other => return Err(format!("unknown field `{other}`: use \"days\" or \"seconds\"")),
        }
        .ok_or_else(|| format!("`{k}` is too large"))?;
        total = total.checked_add(&d).ok_or("the duration is too large")?;
    }
    Ok(total)
}

async fn advance(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let by = match parse_advance(&body) {
        Ok(d) => d,
        Err(msg) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", &msg),
    };
    match s.advance(by) {
        Ok(a) => axum::Json(json!({ "now": rfc3339(a.now), "transitions": a.transitions })).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn clock(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!({ "now": rfc3339(s.clock.now()) })).into_response()
}

async fn webhooks(State(s): State<Arc<Shared>>) -> Response {
    #[derive(Serialize)]
    struct Log {
        pending: u64,
        deliveries: Vec<crate::DeliveryRecord>,
    }
    axum::Json(Log {
        pending: s.delivery.outstanding(),
        deliveries: s.delivery.records(),
    })
    .into_response()
}

/// The body of `PUT /__sim/delivery`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    url_prefix: Option<String>,
    copies: Option<u32>,
    concurrent: Option<bool>,
    shuffle_window: Option<u32>,
    drop_per_mille: Option<u16>,
    seed: Option<u64>,
}

/// Reads a `PUT /__sim/delivery` body: the prefix and the mode (not yet range-checked).
fn parse_mode(body: &[u8]) -> Result<(Option<String>, DeliveryMode), String> {
    let b: ModeBody =
        serde_json::from_slice(body).map_err(|e| format!("the body must be a JSON object like {EXAMPLE}: {e}"))?;
    let d = DeliveryMode::default();
    let mode = DeliveryMode::default()
        .copies(b.copies.unwrap_or(d.copies))
        .concurrent(b.concurrent.unwrap_or(d.concurrent))
        .shuffle_window(b.shuffle_window.unwrap_or(d.shuffle_window))
        .drop_per_mille(b.drop_per_mille.unwrap_or(d.drop_per_mille))
        .seed(b.seed.unwrap_or(d.seed));
    Ok((b.url_prefix, mode))
}

const EXAMPLE: &str = concat!(
    r#"{"url_prefix": "http://127.0.0.1:1234/webhooks/", "copies": 2, "concurrent": true, "#,
    r#""shuffle_window": 5, "drop_per_mille": 300, "seed": 7}"#
);

fn modes_json(s: &Shared) -> Response {
    let modes: Vec<Value> = s
        .delivery
        .modes()
        .into_iter()
        .map(|(prefix, m)| {
            json!({
                "url_prefix": prefix,
                "copies": m.copies,
                "concurrent": m.concurrent,
                "shuffle_window": m.shuffle_window,
                "drop_per_mille": m.drop_per_mille,
                "seed": m.seed,
            })
        })
        .collect();
    axum::Json(json!({ "modes": modes })).into_response()
}

async fn delivery_modes(State(s): State<Arc<Shared>>) -> Response {
    modes_json(&s)
}

async fn set_delivery_mode(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    const CODE: &str = "invalid_delivery_mode";
    let (prefix, mode) = match parse_mode(&body) {
        Ok(p) => p,
        Err(msg) => return error(StatusCode::BAD_REQUEST, CODE, &msg),
    };
    match s.delivery.set_mode(prefix.as_deref(), mode) {
        Ok(()) => modes_json(&s),
        Err(SimError::InvalidConfig { field, reason }) => {
            error(StatusCode::BAD_REQUEST, CODE, &format!("`{field}` {reason}"))
        }
        Err(e) => sim_error(&e),
    }
}

async fn clear_delivery_modes(State(s): State<Arc<Shared>>) -> Response {
    s.delivery.clear_modes();
    modes_json(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_bodies() {
        assert_eq!(parse_advance(br#"{"days": 2}"#).unwrap(), chrono::Duration::days(2));
        assert_eq!(
            parse_advance(br#"{"seconds": 61}"#).unwrap(),
            chrono::Duration::seconds(61)
        );
        assert_eq!(
            parse_advance(br#"{"days": 1, "seconds": 1}"#).unwrap(),
            chrono::Duration::seconds(86_401)
        );
        assert!(
            parse_advance(br#"{"day": 2}"#)
                .unwrap_err()
                .contains("unknown field `day`")
        );
        assert!(parse_advance(br#"{"days": -1}"#).is_err());
        assert!(parse_advance(br#"{"days": 1.5}"#).is_err());
        assert!(parse_advance(br#"{}"#).is_err());
        assert!(parse_advance(b"nope").is_err());
        assert!(parse_advance(br#"{"days": 9223372036854775807}"#).is_err());
    }

    #[test]
    fn delivery_mode_bodies() {
        let (prefix, mode) = parse_mode(br#"{"url_prefix": "http://127.0.0.1:1/h", "copies": 3, "seed": 9}"#).unwrap();
        assert_eq!(prefix.as_deref(), Some("http://127.0.0.1:1/h"));
        assert_eq!(mode, DeliveryMode::default().copies(3).seed(9));
        let (prefix, mode) = parse_mode(b"{}").unwrap();
        assert_eq!((prefix, mode), (None, DeliveryMode::default()));
        assert!(
            parse_mode(br#"{"copy": 2}"#)
                .unwrap_err()
                .contains("unknown field `copy`")
        );
        assert!(parse_mode(br#"{"copies": -1}"#).is_err());
        assert!(parse_mode(br#"{"drop_per_mille": 0.5}"#).is_err());
        assert!(parse_mode(br#"{"concurrent": "yes"}"#).is_err());
        assert!(parse_mode(b"[]").is_err());
        assert!(parse_mode(b"").is_err());
    }

    #[test]
    fn redirect_only_when_asked() {
        assert!(wants_redirect(Some("redirect=page")));
        assert!(!wants_redirect(Some("redirect=https://evil.example")));
        assert!(!wants_redirect(None));
    }
}
