//! The `/__sim` control API: act as the payer, move the clock, read the webhook log.
//!
//! | route | does |
//! |---|---|
//! | `POST /__sim/cryptomus/recurrences/{uuid}/accept` | the payer accepts and pays the first period |
//! | `POST /__sim/cryptomus/recurrences/{uuid}/cancel-by-user` | the payer cancels |
//! | `POST /__sim/clock/advance` `{"days": N}` or `{"seconds": N}` | moves the clock, runs what fell due |
//! | `GET /__sim/clock` | `{"now": "…"}` (RFC 3339) |
//! | `GET /__sim/webhooks` | `{"pending": N, "deliveries": [...]}` |
//!
//! The two payer routes answer JSON (`{"recurrence": …, "transitions": […]}`), or, with
//! `?redirect=page` (what the payer page's buttons send), `303 See Other` back to the page.
//! Errors are `{"error": "<code>", "message": "…"}` with 404 (unknown recurrence), 409 (not in
//! a state that allows it) or 422 (a malformed request).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::{EngineError, Transition};
use crate::server::Shared;
use crate::{SimError, cryptomus, rfc3339};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sim/cryptomus/recurrences/{uuid}/accept", post(accept))
        .route(
            "/__sim/cryptomus/recurrences/{uuid}/cancel-by-user",
            post(cancel_by_user),
        )
        .route("/__sim/clock/advance", post(advance))
        .route("/__sim/clock", get(clock))
        .route("/__sim/webhooks", get(webhooks))
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
    fn redirect_only_when_asked() {
        assert!(wants_redirect(Some("redirect=page")));
        assert!(!wants_redirect(Some("redirect=https://evil.example")));
        assert!(!wants_redirect(None));
    }
}
