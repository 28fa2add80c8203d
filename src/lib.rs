//! Code shared by paycycle's examples and cross-crate tests: what a small app around paycycle
//! looks like.
//!
//! - [`LedgerEndpoint`]: the app's webhook endpoint: a `paycycle-ledger` ledger serving its
//!   routes on loopback, as an app mounts them in production.
//! - [`Timeline`]: a readable, aligned log of what happened to a subscription.
#![forbid(unsafe_code)]

mod harness;
mod story;
mod swap;
pub use harness::{FakeHarness, SimHarness};
pub use story::{BoxError, Step, StoryOutcome, sell_monthly_plan, side_by_side};
pub use swap::{HumanPayer, SwapReport, harness_from_env, sell_wait_cancel};

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use paycycle_core::chrono::{DateTime, Utc};
use paycycle_core::conformance::RawWebhook;
use paycycle_core::url::Url;
use paycycle_core::{Clock, RecurringGateway, WebhookEvent};
use paycycle_ledger::Ledger;
use tokio::sync::oneshot;

/// The app's webhook endpoint in the examples and tests: a [`Ledger`] (SQLite in memory, on the
/// simulator's virtual clock) serving its routes (`POST {url}/{gateway}`) on a free loopback
/// port, exactly as an app mounts them in production.
#[derive(Debug)]
pub struct LedgerEndpoint {
    ledger: Ledger,
    base: Url,
    stop: Option<oneshot::Sender<()>>,
}

impl LedgerEndpoint {
    /// Starts an in-memory ledger with `gateways` (named by their ids) and serves its routes.
    ///
    /// # Errors
    /// When the ledger cannot start or the port cannot be bound.
    pub async fn start(
        clock: Arc<dyn Clock>,
        gateways: impl IntoIterator<Item = Arc<dyn RecurringGateway>>,
    ) -> Result<Self, BoxError> {
        let mut builder = Ledger::builder("sqlite::memory:").clock(clock);
        for g in gateways {
            builder = builder.gateway(g.id().to_string(), g);
        }
        let ledger = builder.connect().await?;
        let app: axum::Router = paycycle_ledger::router(ledger.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr: SocketAddr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/webhooks/"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(LedgerEndpoint {
            ledger,
            base,
            stop: Some(stop),
        })
    }

    /// The ledger behind the endpoint.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The URL to give a gateway for `gateway_id`'s webhooks.
    ///
    /// # Errors
    /// When `gateway_id` cannot be a path segment.
    pub fn url_for(&self, gateway_id: &str) -> Result<Url, paycycle_core::url::ParseError> {
        self.base.join(gateway_id)
    }

    /// Every webhook the ledger stored (once per event), as received.
    ///
    /// # Errors
    /// When the ledger's store fails.
    pub async fn raw(&self) -> Result<Vec<RawWebhook>, BoxError> {
        Ok(self
            .ledger
            .inbox(0, u32::MAX)
            .await?
            .into_iter()
            .map(|e| RawWebhook {
                headers: e.headers,
                body: e.body,
            })
            .collect())
    }
}

impl Drop for LedgerEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
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
