//! Bulk seeding and counters: `POST /__sim/seed` creates many subscriptions at once (for tests
//! and benchmarks), `GET /__sim/stats` counts accepted connections and subscriptions. Listed
//! with the other shared control routes (`control.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use paycycle_core::GatewayId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::SeedState;
use crate::state::Shared;
use crate::web::{invalid, sim_error};
use crate::{SimError, cryptomus, recurrente};

/// The most subscriptions one seed creates.
pub const MAX_SEED: usize = 1_000_000;

/// What to seed: `count` subscriptions of `gateway` at once, in `state` (`POST /__sim/seed`,
/// [`Simulator::seed`](crate::Simulator::seed)). They are real objects the API lists and gets
/// (Cryptomus recurrences; Recurrente subscriptions with their checkouts and one subscriber),
/// created now, monthly, and announced by no webhook. Recurrente's list does not show pending
/// ones, as it does not show subscriptions whose bank transfer is pending.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seed {
    /// `cryptomus` or `recurrente`.
    pub gateway: GatewayId,
    /// How many (at most [`MAX_SEED`]).
    pub count: usize,
    /// Their state (default [`SeedState::Active`]).
    pub state: SeedState,
    /// The price of a period (default Cryptomus 10, Recurrente 50.00).
    pub amount: Option<Decimal>,
    /// Its currency (default Cryptomus `USDT`, Recurrente `GTQ`).
    pub currency: Option<String>,
}

impl Seed {
    /// `count` active subscriptions of `gateway`, at the default price.
    pub fn new(gateway: GatewayId, count: usize) -> Seed {
        Seed {
            gateway,
            count,
            state: SeedState::Active,
            amount: None,
            currency: None,
        }
    }

    /// In this state.
    #[must_use]
    pub fn state(mut self, state: SeedState) -> Seed {
        self.state = state;
        self
    }

    /// At this price.
    #[must_use]
    pub fn price(mut self, amount: Decimal, currency: impl Into<String>) -> Seed {
        self.amount = Some(amount);
        self.currency = Some(currency.into());
        self
    }
}

/// What a seed created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Seeded {
    /// How many.
    pub created: usize,
    /// The first one's id (the oldest).
    pub first_id: Option<String>,
    /// The last one's id (the newest).
    pub last_id: Option<String>,
}

/// Counters of a running simulator (`GET /__sim/stats`, [`Simulator::stats`](crate::Simulator::stats)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// TCP connections accepted since the start (a client reusing its connections keeps it low).
    pub connections_accepted: u64,
    /// Subscriptions by provider (every state, pending ones included).
    pub subscriptions: SubscriptionCounts,
    /// Webhook deliveries queued, held or in flight.
    pub webhooks_queued: u64,
}

/// Subscriptions by provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SubscriptionCounts {
    /// Cryptomus recurrences.
    pub cryptomus: usize,
    /// Recurrente subscriptions.
    pub recurrente: usize,
}

/// What the seed and stats routes work on: the shared state, Recurrente's objects, the
/// connection counter.
#[derive(Debug, Clone)]
pub(crate) struct Counted {
    pub(crate) shared: Arc<Shared>,
    pub(crate) recurrente: recurrente::Frontend,
    pub(crate) connections: Arc<AtomicU64>,
}

/// Seeds in-process (the route's and [`Simulator::seed`](crate::Simulator::seed)'s work).
pub(crate) fn seed(c: &Counted, req: &Seed) -> Result<Seeded, SimError> {
    if req.count > MAX_SEED {
        return Err(SimError::Refused {
            reason: format!("at most {MAX_SEED} subscriptions per seed"),
        });
    }
    let (created, first_id, last_id) = if req.gateway == cryptomus::GATEWAY {
        cryptomus::seed(&c.shared, req.count, req.state, req.amount, req.currency.as_deref())?
    } else if req.gateway == recurrente::GATEWAY {
        recurrente::seed(
            &c.recurrente.sim(),
            req.count,
            req.state,
            req.amount,
            req.currency.as_deref(),
        )?
    } else {
        return Err(SimError::Refused {
            reason: format!("cannot seed `{}`: use cryptomus or recurrente", req.gateway.as_str()),
        });
    };
    Ok(Seeded {
        created,
        first_id,
        last_id,
    })
}

/// The counters now.
pub(crate) fn stats(c: &Counted) -> Stats {
    Stats {
        connections_accepted: c.connections.load(Ordering::Relaxed),
        subscriptions: SubscriptionCounts {
            cryptomus: c.shared.engine.count(&cryptomus::GATEWAY),
            recurrente: c.shared.engine.count(&recurrente::GATEWAY),
        },
        webhooks_queued: c.shared.delivery.outstanding(),
    }
}

/// `POST /__sim/seed` and `GET /__sim/stats`.
pub(crate) fn router(c: Counted) -> Router {
    Router::new()
        .route("/__sim/seed", post(seed_route))
        .route("/__sim/stats", get(stats_route))
        .with_state(c)
}

/// The body of `POST /__sim/seed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBody {
    gateway: String,
    count: usize,
    status: Option<String>,
    amount: Option<Value>,
    currency: Option<String>,
}

fn parse_seed(body: &[u8]) -> Result<Seed, String> {
    let b: SeedBody = serde_json::from_slice(body).map_err(|e| {
        format!(r#"the body must be a JSON object like {{"gateway": "cryptomus", "count": 1000}}: {e}"#)
    })?;
    let gateway = match b.gateway.as_str() {
        "cryptomus" => cryptomus::GATEWAY,
        "recurrente" => recurrente::GATEWAY,
        other => return Err(format!("unknown gateway `{other}`: use cryptomus or recurrente")),
    };
    let state = match b.status.as_deref() {
        None => SeedState::Active,
        Some(s) => SeedState::parse(s)
            .ok_or_else(|| format!("unknown status `{s}`: use pending, active, past_due, paused or cancelled"))?,
    };
    let decimal = |s: &str| {
        s.trim()
            .parse::<Decimal>()
            .map_err(|_| "`amount` must be a decimal".to_owned())
    };
    let amount = match &b.amount {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(decimal(s)?),
        Some(Value::Number(n)) => Some(decimal(&n.to_string())?),
        Some(_) => return Err("`amount` must be a decimal".into()),
    };
    Ok(Seed {
        gateway,
        count: b.count,
        state,
        amount,
        currency: b.currency,
    })
}

async fn seed_route(State(c): State<Counted>, body: Bytes) -> Response {
    let req = match parse_seed(&body) {
        Ok(r) => r,
        Err(msg) => return invalid(&msg),
    };
    // Seeding many is CPU work under the engine's lock: off the async workers.
    match tokio::task::spawn_blocking(move || seed(&c, &req)).await {
        Ok(Ok(seeded)) => (StatusCode::CREATED, axum::Json(seeded)).into_response(),
        Ok(Err(SimError::Refused { reason })) => invalid(&reason),
        Ok(Err(e)) => sim_error(&e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn stats_route(State(c): State<Counted>) -> Response {
    axum::Json(stats(&c)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_bodies() {
        let s = parse_seed(
            br#"{"gateway": "recurrente", "count": 3, "status": "paused", "amount": "12.50", "currency": "USD"}"#,
        )
        .unwrap();
        assert_eq!(s.gateway, recurrente::GATEWAY);
        assert_eq!((s.count, s.state), (3, SeedState::Paused));
        assert_eq!(s.amount, Some(Decimal::new(1250, 2)));
        assert_eq!(s.currency.as_deref(), Some("USD"));
        let s = parse_seed(br#"{"gateway": "cryptomus", "count": 0, "amount": 7}"#).unwrap();
        assert_eq!((s.state, s.amount), (SeedState::Active, Some(Decimal::from(7))));
        assert!(parse_seed(br#"{"gateway": "fake", "count": 1}"#).is_err());
        assert!(parse_seed(br#"{"gateway": "cryptomus", "count": -1}"#).is_err());
        assert!(parse_seed(br#"{"gateway": "cryptomus", "count": 1, "status": "done"}"#).is_err());
        assert!(parse_seed(br#"{"gateway": "cryptomus", "count": 1, "extra": 1}"#).is_err());
        assert!(parse_seed(br#"{"gateway": "cryptomus", "count": 1, "amount": "x"}"#).is_err());
    }
}
