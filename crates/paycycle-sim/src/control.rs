//! The shared `/__sim` control routes: move the clock, read the webhook log, set delivery
//! modes, inject faults. Each provider's own control routes (the payer, the bank) are in its
//! frontend (`cryptomus::control`, `recurrente::control`).
//!
//! | route | does |
//! |---|---|
//! | `POST /__sim/clock/advance` `{"days": N}` or `{"seconds": N}` | moves the clock, runs what fell due (renewals of both providers) |
//! | `GET /__sim/clock` | `{"now": "…"}` (RFC 3339) |
//! | `GET /__sim/webhooks` | `{"pending": N, "deliveries": [...]}` |
//! | `PUT /__sim/delivery` `{"url_prefix": "http://127.0.0.1:1234/webhooks/", "copies": 10, "concurrent": true, "shuffle_window": 5, "drop_per_mille": 300, "seed": 7}` | sets a [`DeliveryMode`] for the URLs with that prefix (absent or `null`: every URL; the other fields default to the ordinary behaviour); answers `{"modes": [...]}` |
//! | `GET /__sim/delivery` | `{"modes": [{"url_prefix": …, "copies": …, "concurrent": …, "shuffle_window": …, "drop_per_mille": …, "seed": …}]}` |
//! | `DELETE /__sim/delivery` | removes every delivery mode; answers `{"modes": []}` |
//! | `POST /__sim/seed` `{"gateway": "cryptomus" \| "recurrente", "count": N, "status": "active", "amount": "10", "currency": "USDT"}` | creates N subscriptions at once, without webhooks ([`Seed`](crate::Seed); `status` `pending`, `active` (the default), `past_due`, `paused` or `cancelled`); 201 `{"created": N, "first_id": …, "last_id": …}` (routes in `seed.rs`) |
//! | `GET /__sim/stats` | `{"connections_accepted": n, "subscriptions": {"cryptomus": n, "recurrente": n}, "webhooks_queued": n}` ([`Stats`](crate::Stats)) |
//! | `POST /__sim/faults` [`Fault`] (201) | the next `times` requests to a path meet a fault of its [`FaultKind`](crate::FaultKind): a canned answer (`respond`, the default), a wait (`delay`), a closed connection (`reset`), a cut JSON (`truncate`), a body over the clients' limits (`oversize`), a 3xx (`redirect`), or the real route run and its answer lost (`apply_then_respond`, `apply_then_reset`, `apply_then_delay`) |
//! | `GET /__sim/faults` | `{"pending": [...], "requests": {"/v1/recurrence/create": 3}}`: the faults still waiting and how many requests each API path received |
//! | `DELETE /__sim/faults` (204) | removes the pending faults and resets the request counts |
//!
//! Errors are `{"error": "<code>", "message": "…"}`: 422 for a malformed request;
//! `PUT /__sim/delivery` answers 400 `invalid_delivery_mode` to a body that is not such an
//! object (unknown fields included) or to a value out of range (`copies` 0 or above 1000,
//! `drop_per_mille` above 1000).
//!
//! Fault injection lets a client's handling of what real providers sometimes send be tested
//! against the simulator: a CDN's HTML error page (Cryptomus sits behind one), a 429 with
//! `Retry-After`, a 503. [`inject_faults`] is the middleware that serves them, in front of every
//! route; [`Simulator::inject_fault`](crate::Simulator::inject_fault) adds one in-process.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::state::Shared;
use crate::state::delivery::{DeliveryMode, DeliveryRecord};
use crate::state::faults::{DEFAULT_OVERSIZE, Fault, FaultKind, MAX_OVERSIZE};
use crate::web::{error, invalid, sim_error};
use crate::{SimError, rfc3339};

/// The shared control routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__sim/clock/advance", post(advance))
        .route("/__sim/clock", get(clock))
        .route("/__sim/webhooks", get(webhooks))
        .route(
            "/__sim/delivery",
            get(delivery_modes).put(set_delivery_mode).delete(clear_delivery_modes),
        )
        .route("/__sim/faults", get(faults).post(add_fault).delete(clear_faults))
        .with_state(shared)
}

// ---------------------------------------------------------------------------------------------
// Faults

/// The canned answer of a fault: its status, content type, headers and body.
fn answer(fault: &Fault, body: Body) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut res = (status, body).into_response();
    let ct = fault.content_type.as_deref().unwrap_or("text/html; charset=utf-8");
    if let Ok(v) = HeaderValue::from_str(ct) {
        res.headers_mut().insert(axum::http::header::CONTENT_TYPE, v);
    }
    for (k, v) in &fault.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            res.headers_mut().insert(k, v);
        }
    }
    res
}

/// An answer whose body fails at once: hyper aborts the connection, so the client gets no
/// complete answer (a connection reset, as far as it can tell).
fn reset() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: connection reset",
        ))
    });
    let mut res = Response::new(Body::from_stream(failing));
    // Promise a body that never comes, so no client can mistake the end for a complete answer.
    res.headers_mut()
        .insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from_static("1024"));
    res
}

/// A JSON body of exactly `size` bytes (at least 2).
fn oversize_body(size: usize) -> Vec<u8> {
    let size = size.clamp(16, MAX_OVERSIZE);
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(b"{\"pad\":\"");
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

/// The real route's answer with the first half of its body (at most 1 MiB is read).
async fn truncated(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(half))
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// Middleware: counts the request, then serves a pending fault for its path, else the real route.
pub(crate) async fn inject_faults(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if !path.starts_with("/__sim/") {
        shared.faults.count(req.method().as_str(), &path);
    }
    let Some(fault) = shared.faults.take(&path) else {
        return next.run(req).await;
    };
    tracing::debug!(path, kind = ?fault.kind, "serving an injected fault");
    match fault.kind {
        FaultKind::Respond => answer(&fault, Body::from(fault.body.clone())),
        FaultKind::Delay => {
            sleep_ms(fault.delay_ms).await;
            answer(&fault, Body::from(fault.body.clone()))
        }
        FaultKind::Reset => reset(),
        FaultKind::Oversize => {
            let mut res = answer(
                &fault,
                Body::from(oversize_body(fault.size.unwrap_or(DEFAULT_OVERSIZE))),
            );
            res.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res
        }
        FaultKind::Redirect => {
            let status = StatusCode::from_u16(fault.status)
                .ok()
                .filter(StatusCode::is_redirection)
                .unwrap_or(StatusCode::FOUND);
            let mut res = answer(&fault, Body::empty());
            *res.status_mut() = status;
            if let Some(v) = fault.location.as_deref().and_then(|l| HeaderValue::from_str(l).ok()) {
                res.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            res
        }
        FaultKind::Truncate => truncated(next.run(req).await).await,
        FaultKind::ApplyThenRespond => {
            drop(next.run(req).await);
            answer(&fault, Body::from(fault.body.clone()))
        }
        FaultKind::ApplyThenReset => {
            drop(next.run(req).await);
            reset()
        }
        FaultKind::ApplyThenDelay => {
            let res = next.run(req).await;
            sleep_ms(fault.delay_ms).await;
            res
        }
    }
}

/// `POST /__sim/faults`.
async fn add_fault(State(shared): State<Arc<Shared>>, axum::Json(fault): axum::Json<Fault>) -> StatusCode {
    shared.faults.add(fault);
    StatusCode::CREATED
}

/// `GET /__sim/faults`: `{"pending": [...], "requests": {"/path": N}}`.
async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(json!({"pending": shared.faults.pending(), "requests": shared.faults.requests()})).into_response()
}

/// `DELETE /__sim/faults`.
async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

// ---------------------------------------------------------------------------------------------
// Clock, webhook log, delivery modes

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
        Err(msg) => return invalid(&msg),
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
        deliveries: Vec<DeliveryRecord>,
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
}
