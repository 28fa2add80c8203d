//! The webhook routes for an axum app (feature `axum`).
//!
//! `POST /webhooks/{gateway}` for every gateway of the ledger. It answers:
//!
//! | answer | when |
//! |---|---|
//! | `200 OK` | the delivery is committed (also for a redelivery: nothing changes) |
//! | `400 Bad Request` | a malformed body or header |
//! | `401 Unauthorized` | a missing or wrong signature, or a timestamp outside the window |
//! | `404 Not Found` | no gateway by that name |
//! | `413 Payload Too Large` | a body over the limit (default 1 MiB) |
//! | `500 Internal Server Error` | the gateway's webhook secret is configured wrongly (the provider retries) |
//! | `503 Service Unavailable` | the store cannot be reached: nothing is acknowledged, the provider retries |
//!
//! Every refusal is one line of plain text naming what was wrong, never an internal detail.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use paycycle_core::WebhookError;

use crate::error::LedgerError;
use crate::ledger::Ledger;

/// The largest webhook body accepted by [`router`] (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// `POST /webhooks/{gateway}` over `ledger`, with a 1 MiB body limit. Mount it into your app
/// with `Router::merge`, or under a prefix with `Router::nest`.
pub fn router<S: Clone + Send + Sync + 'static>(ledger: Ledger) -> Router<S> {
    router_with_limit(ledger, DEFAULT_BODY_LIMIT)
}

/// [`router`] with another body limit, in bytes.
pub fn router_with_limit<S: Clone + Send + Sync + 'static>(ledger: Ledger, max_body_bytes: usize) -> Router<S> {
    Router::new()
        .route("/webhooks/{gateway}", post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(ledger)
}

async fn receive(
    State(ledger): State<Ledger>,
    Path(gateway): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match ledger.receive(&gateway, &headers, &body).await {
        Ok(r) if r.duplicate => (StatusCode::OK, "duplicate: already received\n").into_response(),
        Ok(_) => (StatusCode::OK, "received\n").into_response(),
        Err(e) => refusal(&e).into_response(),
    }
}

/// The status and one-line text for a refused webhook.
fn refusal(e: &LedgerError) -> (StatusCode, String) {
    match e {
        LedgerError::UnknownGateway(name) => (StatusCode::NOT_FOUND, format!("no webhook route for `{name}`\n")),
        LedgerError::Rejected(_) if matches!(e.webhook_error(), Some(WebhookError::InvalidSecret(_))) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the receiver's webhook secret is misconfigured; retry later\n".to_owned(),
        ),
        LedgerError::Rejected(inner) => {
            let status = match e.webhook_error() {
                Some(
                    WebhookError::BadSignature
                    | WebhookError::MissingSignature
                    | WebhookError::StaleTimestamp { .. }
                    | WebhookError::FutureTimestamp { .. },
                ) => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            let reason = match e.webhook_error() {
                Some(w) => w.to_string(),
                None => inner.to_string(),
            };
            (status, format!("webhook refused: {}\n", one_line(&reason)))
        }
        LedgerError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily unavailable; retry later\n".to_owned(),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the webhook could not be stored; retry later\n".to_owned(),
        ),
    }
}

fn one_line(s: &str) -> String {
    let line: String = s.chars().filter(|c| !c.is_control()).take(200).collect();
    line
}
