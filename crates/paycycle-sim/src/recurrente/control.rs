//! Recurrente's control routes: the payer, the bank and the merchant's dashboard, as JSON
//! routes (bodies JSON or form-encoded).
//!
//! | route | does |
//! |---|---|
//! | `POST /__sim/recurrente/checkouts/{id}/pay` `{"outcome": "card_success" \| "card_declined" \| "bank_transfer_pending"}` | the payer pays, has the card declined, or starts a bank transfer (optional `"email"`, `"full_name"`: who pays; `"sender_comment"`: the transfer's comment); a way of paying the checkout's items do not allow is refused (409) |
//! | `POST /__sim/recurrente/bank_transfers/{ba_ or pa_ id}/settle` `{"succeeded": true \| false}` | the bank settles a pending transfer (optional `"sender_comment"`, replacing the payer's); a settled one gets its `bank_reference` |
//! | `POST /__sim/recurrente/subscriptions/{id}/fail_next_charge` `{"count": N}` (optional, default 1) | the next N charges fail |
//! | `POST /__sim/recurrente/subscriptions/{id}/pause`, `…/resume` | pause or resume (as from Recurrente's dashboard) |
//! | `POST /__sim/recurrente/subscriptions/{id}/reactivate` | brings a cancelled subscription back and sends `subscription.reactivate` (**unofficial**: Recurrente documents no reactivation endpoint, only the event; billing picks up at the next scheduled period) |
//! | `POST /__sim/recurrente/payment_methods/{id}/fail_next_charge` `{"count": N}` | the next N one-time payments with this card are declined |
//! | `POST /__sim/recurrente/webhook_endpoints/{id}/disable`, `…/enable` | stop or resume deliveries to an endpoint |
//! | `PUT /__sim/recurrente/payment_events` `{"events": "legacy" \| "unified" \| "both"}`, `GET` | which forms of payment events are sent from now on; answers `{"events": …}` |
//!
//! The payer routes answer the ids made, `checkout`, `subscription` and `transitions`, or, with
//! `?redirect=page` (what the payer page's buttons send), `303 See Other` back to the page.
//! Errors are `{"error": "<code>", "message": "…"}` with 404 (unknown object), 409 (not in a
//! state that allows it) or 422 (a malformed request).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::flow::{self, Attempt, Outcome, Payer};
use super::pages::page_path;
use super::{Frontend, Sim, input};
use crate::RecurrentePaymentEvents;
use crate::web::{back_to, invalid, sim_error, text, wants_redirect};

pub(super) fn routes() -> Router<Frontend> {
    Router::new()
        .route("/__sim/recurrente/checkouts/{id}/pay", post(pay))
        .route("/__sim/recurrente/bank_transfers/{id}/settle", post(settle))
        .route(
            "/__sim/recurrente/subscriptions/{id}/fail_next_charge",
            post(fail_next_charge),
        )
        .route("/__sim/recurrente/subscriptions/{id}/pause", post(pause))
        .route("/__sim/recurrente/subscriptions/{id}/resume", post(resume))
        .route("/__sim/recurrente/subscriptions/{id}/reactivate", post(reactivate))
        .route(
            "/__sim/recurrente/payment_methods/{id}/fail_next_charge",
            post(fail_method),
        )
        .route(
            "/__sim/recurrente/webhook_endpoints/{id}/disable",
            post(disable_endpoint),
        )
        .route("/__sim/recurrente/webhook_endpoints/{id}/enable", post(enable_endpoint))
        .route(
            "/__sim/recurrente/payment_events",
            get(payment_events).put(set_payment_events),
        )
}

/// A control request's body (JSON or form-encoded) as an object.
fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, String> {
    input::body_map(headers, body).map_err(|r| r.message)
}

/// The `count` of a JSON or form body (`{"count": N}`, N ≥ 1, default 1), or what is wrong
/// with it.
fn count_in(headers: &HeaderMap, body: &[u8]) -> Result<u32, String> {
    let body = read_body(headers, body)?;
    count(&body).map_err(str::to_owned)
}

fn count(body: &Map<String, Value>) -> Result<u32, &'static str> {
    const MSG: &str = "`count` must be a positive integer";
    match text(body, "count") {
        None if !body.contains_key("count") => Ok(1),
        Some(n) => n.parse::<u32>().ok().filter(|n| *n >= 1).ok_or(MSG),
        None => Err(MSG),
    }
}

/// The control API's view of a payer action's result.
fn attempt_json(s: &Sim<'_>, a: &Attempt) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        m.insert(
            "checkout".into(),
            flow::checkout_value(s, &a.checkout_id).unwrap_or_default(),
        );
        if let Some(su) = &a.subscription_id {
            m.insert(
                "subscription".into(),
                flow::subscription_value(s, su).unwrap_or_default(),
            );
        }
    }
    v
}

async fn pay(
    State(f): State<Frontend>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = &f.sim();
    let page = page_path(&id);
    let redirect = wants_redirect(q.as_deref());
    let body = match read_body(&headers, &body) {
        Ok(b) => b,
        Err(msg) if redirect => return back_to(&page, Err(msg)),
        Err(msg) => return invalid(&msg),
    };
    let Some(outcome) = text(&body, "outcome").and_then(|o| Outcome::parse(&o)) else {
        let msg = r#"give "outcome": "card_success", "card_declined" or "bank_transfer_pending""#;
        return if redirect {
            back_to(&page, Err(msg.to_owned()))
        } else {
            invalid(msg)
        };
    };
    let payer = Payer {
        email: text(&body, "email").filter(|e| !e.is_empty()),
        full_name: text(&body, "full_name").filter(|n| !n.is_empty()),
        sender_comment: text(&body, "sender_comment").filter(|c| !c.is_empty()),
    };
    let result = flow::pay(s, &id, outcome, &payer);
    if redirect {
        return back_to(&page, result.map(|_| ()).map_err(|e| e.to_string()));
    }
    match result {
        Ok(a) => axum::Json(attempt_json(s, &a)).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn settle(
    State(f): State<Frontend>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = &f.sim();
    let redirect = wants_redirect(q.as_deref());
    let body = match read_body(&headers, &body) {
        Ok(b) => b,
        Err(msg) => return invalid(&msg),
    };
    let succeeded = match text(&body, "succeeded").as_deref() {
        Some("true" | "1") => true,
        Some("false" | "0") => false,
        _ => return invalid(r#"give "succeeded": true or false"#),
    };
    let comment = text(&body, "sender_comment").filter(|c| !c.is_empty());
    let result = flow::settle(s, &id, succeeded, comment.as_deref());
    if redirect {
        let page = match &result {
            Ok(a) => page_path(&a.checkout_id),
            Err(_) => flow::checkout_of_payment(s, &id)
                .map(|c| page_path(&c))
                .unwrap_or_else(|| "/".to_owned()),
        };
        return back_to(&page, result.map(|_| ()).map_err(|e| e.to_string()));
    }
    match result {
        Ok(a) => axum::Json(attempt_json(s, &a)).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn fail_next_charge(
    State(f): State<Frontend>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = &f.sim();
    let n = match count_in(&headers, &body) {
        Ok(n) => n,
        Err(msg) => return invalid(&msg),
    };
    match flow::fail_next_charge(s, &id, n) {
        Ok(pending) => axum::Json(json!({
            "subscription": flow::subscription_value(s, &id),
            "failures_pending": pending,
        }))
        .into_response(),
        Err(e) => sim_error(&e),
    }
}

/// A subscription operation's answer: the subscription and the transitions.
fn subscription_op(
    s: &Sim<'_>,
    id: &str,
    op: fn(&Sim<'_>, &str) -> Result<Vec<crate::engine::Transition>, crate::SimError>,
) -> Response {
    match op(s, id) {
        Ok(transitions) => axum::Json(json!({
            "subscription": flow::subscription_value(s, id),
            "transitions": transitions,
        }))
        .into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn pause(State(f): State<Frontend>, Path(id): Path<String>) -> Response {
    subscription_op(&f.sim(), &id, |s, id| flow::set_paused(s, id, true))
}

async fn resume(State(f): State<Frontend>, Path(id): Path<String>) -> Response {
    subscription_op(&f.sim(), &id, |s, id| flow::set_paused(s, id, false))
}

async fn reactivate(State(f): State<Frontend>, Path(id): Path<String>) -> Response {
    subscription_op(&f.sim(), &id, flow::reactivate)
}

async fn fail_method(State(f): State<Frontend>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let n = match count_in(&headers, &body) {
        Ok(n) => n,
        Err(msg) => return invalid(&msg),
    };
    match flow::fail_next_method_charge(&f.sim(), &id, n) {
        Ok(pending) => axum::Json(json!({ "payment_method_id": id, "failures_pending": pending })).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn disable_endpoint(State(f): State<Frontend>, Path(id): Path<String>) -> Response {
    match flow::set_endpoint_disabled(&f.sim(), &id, true) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn enable_endpoint(State(f): State<Frontend>, Path(id): Path<String>) -> Response {
    match flow::set_endpoint_disabled(&f.sim(), &id, false) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => sim_error(&e),
    }
}

fn payment_events_json(s: &Sim<'_>) -> Response {
    let events = flow::payment_events(s, &s.recurrente.lock());
    axum::Json(json!({ "events": events.as_str() })).into_response()
}

async fn payment_events(State(f): State<Frontend>) -> Response {
    payment_events_json(&f.sim())
}

async fn set_payment_events(State(f): State<Frontend>, headers: HeaderMap, body: Bytes) -> Response {
    let s = &f.sim();
    let body = match read_body(&headers, &body) {
        Ok(b) => b,
        Err(msg) => return invalid(&msg),
    };
    let Some(events) = text(&body, "events").and_then(|e| RecurrentePaymentEvents::parse(&e)) else {
        return invalid(r#"give "events": "legacy", "unified" or "both""#);
    };
    flow::set_payment_events(s, events);
    payment_events_json(s)
}
