//! A local simulator of the payment providers paycycle supports, for tests and examples.
//!
//! [`Simulator::start`] runs a real HTTP server on loopback that speaks the providers' wire
//! protocols at their real paths, checks credentials and signatures as they do, validates with
//! the documented limits and error shapes, and keeps state. Subscriptions live on a
//! [`VirtualClock`] that moves only when you advance it; every renewal that falls due is charged
//! in time order and announced by a webhook signed like the provider's, delivered to loopback
//! with retries. Nothing ever leaves the machine: the server binds loopback only, and webhooks to
//! any host other than `127.0.0.0/8`, `::1` or `localhost` are refused (logged, never dialed).
//!
//! ```
//! use paycycle_sim::{SimConfig, Simulator};
//! use paycycle_cryptomus::sign::request_sign;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimConfig::default()).await?;
//! let body = br#"{"amount":"15","currency":"USD","name":"Gold plan","period":"monthly"}"#;
//! let created: serde_json::Value = reqwest::Client::new()
//!     .post(format!("{}/v1/recurrence/create", sim.base_url()))
//!     .header("merchant", sim.cryptomus_merchant_id())
//!     .header("sign", request_sign(body, sim.cryptomus_payment_key()))
//!     .header("content-type", "application/json")
//!     .body(&body[..])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let uuid = created["result"]["uuid"].as_str().unwrap_or_default();
//! assert_eq!(created["result"]["status"], "wait_accept");
//!
//! sim.cryptomus_accept(uuid)?; // the payer accepts and pays the first month
//! let advanced = sim.advance(chrono::Duration::days(62))?; // two renewals, in order
//! assert_eq!(advanced.transitions.len(), 2);
//! assert_eq!(sim.cryptomus_recurrence(uuid).unwrap_or_default()["status"], "active");
//! sim.flush_webhooks().await; // every webhook delivered (or refused, or given up)
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Cryptomus
//! - Routes (all `POST`, all signed): `/v1/recurrence/create`, `/v1/recurrence/info`,
//!   `/v1/recurrence/list` (cursor in the query string: `?cursor=`), `/v1/recurrence/cancel`.
//! - Authentication: the `merchant` header must be the configured merchant id and `sign` must be
//!   `md5(base64(raw body) + payment key)` over the **bytes received**. Otherwise HTTP 401
//!   `{"message":"Invalid Sign."}`, the same for a wrong merchant and a wrong sign.
//! - Success: HTTP 200 `{"state":0,"result":…}`; validation: HTTP 422
//!   `{"state":1,"errors":{"field":["validation.<rule>"]}}` (Laravel rule keys; one rule per
//!   field, the first that fails); not found: HTTP 404 `{"state":1,"message":"Recurrence not found"}`;
//!   cancelling twice: HTTP 422 `{"state":1,"message":"Already canceled"}`.
//! - Validation: `amount` required, a plain decimal (`validation.numeric`), above 0
//!   (`validation.gt.numeric`); `currency` required, a code the simulator has a rate for
//!   (`validation.in`); `name` 3..60 characters; `period` one of `weekly`, `monthly`,
//!   `three_month`; `to_currency` a crypto code (`validation.in` for fiat or unknown codes);
//!   `order_id` 1..100 characters and unique (`validation.unique`); `url_callback` an http(s)
//!   URL; `discount_days` an integer 1..365 (`validation.between.numeric`) and `discount_amount`
//!   a decimal above 0, each `validation.required_with` the other; `additional_data` at most 255
//!   characters (the invoice API's limit). Strings are trimmed and empty ones count as absent,
//!   as Laravel does; a body that is not a JSON object reads as no input.
//! - Recurrence objects follow the reference document's field order; `amount` and
//!   `discount_amount` are echoed as sent, `discount_days` as a string, `end_of_discount` in ISO
//!   8601 with `+03:00` (acceptance, or creation before it, plus the discount days) and
//!   `last_pay_off` as `YYYY-MM-DD HH:MM:SS` in UTC+3. `url` is `{base_url}/pay/cryptomus/{uuid}`.
//! - Statuses: `wait_accept` until accepted, `active`, then `cancel_by_user` (payer cancel or
//!   decline) or `cancel_by_merchant` (the API's cancel).
//! - Payer amounts use a fixed rate table (US dollars per unit; e.g. BTC 29129, so 15 USD is
//!   `0.00051495` BTC as in the reference; ETH 2000; USDT, USDC, DAI 1; EUR 1.08; GTQ 0.13),
//!   rounded half away from zero to 8 decimals (`payer_amount_usd` to 2).
//! - List: newest first, 15 per page, `paginate` as Laravel's cursor paginator (`count` is the
//!   number of items on the page; cursors are Laravel's base64url JSON
//!   `{"id":N,"_pointsToNextItems":bool}`; an unreadable cursor shows the first page).
//! - Webhooks go to `url_callback` (none without it), the `sign` inside the body as Cryptomus
//!   does it ([`paycycle_cryptomus::sign::sign_webhook`]: PHP-encoded, `/` as `\/`):
//!   on acceptance the recurrence object (status `active`) then a payment for the first charge;
//!   a payment for each renewal; the recurrence object on cancellation (`cancel_by_user`,
//!   `cancel_by_merchant`). **The payload of a recurring charge is not public**: the payment
//!   webhook here follows the one public integration that handles it (`type: payment`,
//!   `status: paid`, correlated by `order_id`), with the fields of Cryptomus' documented payment
//!   webhook: a new payment `uuid`, `amount` (8 decimals for crypto prices, 2 for fiat),
//!   `payment_amount` in the payer currency (`to_currency`, else the crypto price currency, else
//!   USDT), `merchant_amount` minus a 2 % `commission`, `network`, `txid` (64 hex).
//!
//! # Control API, payer pages
//! `GET /pay/cryptomus/{uuid}` is a small HTML page with Accept and Decline buttons. The
//! `/__sim/...` JSON routes act as the payer and move the clock: see the `control` module table
//! (`POST /__sim/cryptomus/recurrences/{uuid}/accept`, `…/cancel-by-user`,
//! `POST /__sim/clock/advance` with `{"days": N}` or `{"seconds": N}`, `GET /__sim/clock`,
//! `GET /__sim/webhooks`). The [`Simulator`] handle has in-process equivalents.
//!
//! # The engine
//! [`Engine`] is the provider-neutral lifecycle (pending → active → renewals; past due and
//! retries; trials; intro prices; ending after N periods; pause), with no HTTP: frontends and
//! in-memory fakes drive it and render what it returns ([`Transition`]s) as webhooks.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::missing_errors_doc
)]

mod clock;
mod control;
mod cryptomus;
mod delivery;
pub mod engine;
mod pages;
mod server;

use std::net::SocketAddr;

use chrono::{DateTime, SecondsFormat, Utc};

pub use clock::{ClockError, VirtualClock};
pub use delivery::{Attempt, DeliveryOutcome, DeliveryPolicy, DeliveryRecord};
pub use engine::{Engine, EngineError, Transition, TransitionKind};
pub use server::{Advanced, DEFAULT_CRYPTOMUS_MERCHANT_ID, DEFAULT_CRYPTOMUS_PAYMENT_KEY, SimConfig, Simulator};

/// What went wrong in the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listening address is not loopback: the simulator never listens on the network.
    #[error("{addr} is not a loopback address; the simulator only listens on 127.0.0.0/8 or ::1")]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No such object.
    #[error("no {what} `{id}`")]
    NotFound {
        /// What was looked up.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The engine refused the operation.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The clock refused to move.
    #[error(transparent)]
    Clock(#[from] ClockError),
}

/// RFC 3339 in UTC with whole seconds (`2026-01-01T00:00:00Z`).
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
