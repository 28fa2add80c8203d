//! Code shared by paycycle's examples and cross-crate tests: what a small app around paycycle
//! looks like.
//!
//! - [`WebhookInbox`]: an HTTP endpoint on loopback that hands each incoming webhook (raw headers
//!   and body bytes) to its gateway's `verify_webhook`, drops duplicates by event id, and keeps
//!   the verified events in arrival order.
//! - [`Timeline`]: a readable, aligned log of what happened to a subscription.
#![forbid(unsafe_code)]

mod harness;
mod story;
mod swap;
pub use harness::{FakeHarness, SimHarness};
pub use story::{BoxError, Step, StoryOutcome, sell_monthly_plan, side_by_side};
pub use swap::{HumanPayer, SwapReport, harness_from_env, sell_wait_cancel};

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use paycycle_core::chrono::{DateTime, Utc};
use paycycle_core::conformance::RawWebhook;
use paycycle_core::url::Url;
use paycycle_core::{RecurringGateway, WebhookEvent};
use tokio::sync::{Notify, oneshot};

#[derive(Debug, Default)]
struct Received {
    events: Vec<WebhookEvent>,
    raw: Vec<RawWebhook>,
    seen: HashSet<(String, String)>,
    duplicates: usize,
    rejected: Vec<String>,
}

#[derive(Debug)]
struct Shared {
    gateways: Mutex<BTreeMap<String, Arc<dyn RecurringGateway>>>,
    received: Mutex<Received>,
    arrived: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A webhook endpoint on 127.0.0.1 for one or more gateways: `POST {url}/{gateway id}`.
///
/// Answers 204 to a verified event (also to a duplicate, which it records only once), 400 to
/// one that fails verification (the provider will retry), 404 to an unknown gateway.
#[derive(Debug)]
pub struct WebhookInbox {
    base: Url,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl WebhookInbox {
    /// Starts the endpoint on a free loopback port.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(gateways: impl IntoIterator<Item = Arc<dyn RecurringGateway>>) -> std::io::Result<Self> {
        let gateways: BTreeMap<String, Arc<dyn RecurringGateway>> =
            gateways.into_iter().map(|g| (g.id().to_string(), g)).collect();
        let shared = Arc::new(Shared {
            gateways: Mutex::new(gateways),
            received: Mutex::default(),
            arrived: Notify::new(),
        });
        let app = Router::new()
            .route("/webhooks/{gateway}", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr: SocketAddr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/webhooks/")).map_err(std::io::Error::other)?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(WebhookInbox {
            base,
            shared,
            stop: Some(stop),
        })
    }

    /// Starts verifying webhooks for one more gateway (for gateways whose webhook secret is only
    /// known once this inbox's URL has been registered with the provider).
    pub fn add_gateway(&self, gateway: Arc<dyn RecurringGateway>) {
        let mut gateways = self.shared.gateways.lock().unwrap_or_else(|p| p.into_inner());
        gateways.insert(gateway.id().to_string(), gateway);
    }

    /// The URL to give a gateway for `gateway_id`'s webhooks.
    ///
    /// # Errors
    /// When `gateway_id` cannot be a path segment.
    pub fn url_for(&self, gateway_id: &str) -> Result<Url, paycycle_core::url::ParseError> {
        self.base.join(gateway_id)
    }

    /// Verified events so far, in arrival order, without duplicates.
    pub fn events(&self) -> Vec<WebhookEvent> {
        self.shared.lock().events.clone()
    }

    /// Every delivery that verified, duplicates included, exactly as received.
    pub fn raw(&self) -> Vec<RawWebhook> {
        self.shared.lock().raw.clone()
    }

    /// How many duplicate deliveries were dropped.
    pub fn duplicates(&self) -> usize {
        self.shared.lock().duplicates
    }

    /// Why each rejected delivery was rejected.
    pub fn rejected(&self) -> Vec<String> {
        self.shared.lock().rejected.clone()
    }

    /// Waits until at least `n` distinct events have arrived, or `timeout` passes.
    /// Returns how many there are.
    pub async fn wait_for(&self, n: usize, timeout: std::time::Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            let have = self.shared.lock().events.len();
            if have >= n {
                return have;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.shared.lock().events.len();
            }
        }
    }
}

impl Drop for WebhookInbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(gateway): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let gw = shared
        .gateways
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&gateway)
        .cloned();
    let Some(gw) = gw else {
        return StatusCode::NOT_FOUND;
    };
    match gw.verify_webhook(&headers, &body) {
        Ok(event) => {
            let mut r = shared.lock();
            r.raw.push(RawWebhook {
                headers: headers.clone(),
                body: body.to_vec(),
            });
            if r.seen.insert((event.gateway.to_string(), event.id.to_string())) {
                r.events.push(event);
                drop(r);
                shared.arrived.notify_waiters();
            } else {
                r.duplicates += 1;
            }
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            shared.lock().rejected.push(e.to_string());
            StatusCode::BAD_REQUEST
        }
    }
}

/// A readable log of a subscription's life: one aligned line per step.
#[derive(Debug, Default, Clone)]
pub struct Timeline {
    rows: Vec<(Option<DateTime<Utc>>, String, String)>,
}

impl Timeline {
    /// Adds a line: when (simulated time), what, details.
    pub fn push(&mut self, at: Option<DateTime<Utc>>, what: impl Into<String>, details: impl Into<String>) {
        self.rows.push((at, what.into(), details.into()));
    }

    /// Adds a line for a verified webhook event; `fallback` dates events whose payload has no time.
    pub fn push_event(&mut self, e: &WebhookEvent, fallback: DateTime<Utc>) {
        let mut details = String::new();
        if let Some(p) = &e.payment {
            if let Some(a) = &p.amount {
                let _ = write!(details, "{a} ");
            }
        }
        if let Some(s) = &e.subscription_status {
            let _ = write!(details, "status {s} ");
        }
        if let Some(r) = &e.merchant_reference {
            let _ = write!(details, "ref {r} ");
        }
        let _ = write!(details, "[{}]", e.provider_type);
        let at = e.occurred_at.unwrap_or(fallback);
        self.push(
            Some(at),
            format!("  webhook {:?}", e.kind),
            details.trim_end().to_owned(),
        );
    }

    /// The rows, for tests.
    pub fn rows(&self) -> &[(Option<DateTime<Utc>>, String, String)] {
        &self.rows
    }

    /// Renders the timeline, days counted from the first dated row.
    pub fn render(&self, title: &str) -> String {
        let start = self.rows.iter().find_map(|(at, _, _)| *at);
        let width = self.rows.iter().map(|(_, w, _)| w.chars().count()).max().unwrap_or(0);
        let mut out = format!("{title}\n");
        for (at, what, details) in &self.rows {
            let when = match (at, start) {
                (Some(at), Some(s)) => format!("day {:>3}  {}", (*at - s).num_days(), at.format("%Y-%m-%d")),
                _ => format!("{:18}", ""),
            };
            let _ = writeln!(out, "  {when}  {what:width$}  {details}");
        }
        out
    }
}
