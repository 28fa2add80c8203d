//! The [`Ledger`]: configuration, receiving webhooks, and reading what it holds.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use paycycle_core::{Clock, EventId, GatewayId, RecurringGateway, SubscriptionId, SystemClock};
use tokio::sync::Notify;

use crate::access::{Access, AccessPolicy};
use crate::error::{LedgerError, Result};
use crate::model::{InboxEntry, InboxState, ParkedDelivery, PaymentRecord, Receipt, SubscriptionRecord};
use crate::rows::{PAYMENT_COLUMNS, SUB_COLUMNS, get, payment_from_row, subscription_from_row};
use crate::store::{Backend, Store, StoreOptions, from_micros, micros};

/// When applying an event re-reads the subscription from its gateway.
///
/// Defaults, by the gateway's id: `cryptomus` → [`Refetch::Always`] (its webhooks carry no event
/// time, so their order cannot be judged from the payload); every other gateway →
/// [`Refetch::WhenNeeded`] (Recurrente's payloads carry `created_at` and imply the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refetch {
    /// On every event that names (or leads to) a subscription.
    Always,
    /// When the payload is not enough: the ledger has no row for the subscription yet, the event
    /// has no provider time or implies no status, it is a payment (the paid period moved), or it
    /// is a reactivation (leaving a terminal state needs the gateway's word).
    WhenNeeded,
    /// Never: payloads only (reconcile still reads the gateway).
    Never,
}

/// A hook called inside the apply transaction, just before it commits. For fault-injection
/// tests (a worker that dies mid-transaction); production code has no use for it.
pub trait BeforeCommit: Send + Sync + fmt::Debug {
    /// Called with the gateway name and event id being applied. The transaction stays open
    /// until the returned future completes.
    fn before_commit<'a>(&'a self, gateway: &'a str, event_id: &'a EventId) -> BoxFuture<'a, ()>;
}

#[derive(Clone)]
pub(crate) struct GatewayEntry {
    pub(crate) gateway: Arc<dyn RecurringGateway>,
    pub(crate) refetch: Refetch,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) gateways: RwLock<BTreeMap<String, GatewayEntry>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: AccessPolicy,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) lease: Duration,
    pub(crate) wake: Notify,
    pub(crate) changes_ready: Notify,
    pub(crate) in_flight: std::sync::Mutex<std::collections::HashSet<i64>>,
    pub(crate) before_commit: Option<Arc<dyn BeforeCommit>>,
}

/// The app's side of subscription billing, durable: an inbox of verified webhooks, a
/// subscription and payment ledger applied exactly once, an outbox of changes for the app,
/// reconciliation with each gateway, and access answers.
///
/// Cheap to clone (an `Arc` inside); share one per process. Several processes may share one
/// PostgreSQL database; SQLite is for one process.
///
/// ```no_run
/// # async fn demo(gateway: std::sync::Arc<dyn paycycle_core::RecurringGateway>) -> Result<(), paycycle_ledger::LedgerError> {
/// use paycycle_ledger::Ledger;
/// let ledger = Ledger::builder("sqlite://billing.db?mode=rwc")
///     .gateway("cryptomus", gateway)
///     .connect()
///     .await?;
/// let _workers = ledger.spawn_workers(1);
/// // In the webhook route: ledger.receive("cryptomus", &headers, &body).await?
/// let access = ledger.access("order-1001", chrono::Utc::now()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Ledger {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.gateway_names();
        f.debug_struct("Ledger")
            .field("backend", &self.inner.store.backend)
            .field("gateways", &names)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Ledger`]; see [`Ledger::builder`].
pub struct LedgerBuilder {
    url: String,
    gateways: BTreeMap<String, GatewayEntry>,
    clock: Arc<dyn Clock>,
    policy: AccessPolicy,
    options: StoreOptions,
    max_attempts: u32,
    backoff: Duration,
    poll_interval: Duration,
    lease: Duration,
    before_commit: Option<Arc<dyn BeforeCommit>>,
}

impl fmt::Debug for LedgerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: never printed.
        f.debug_struct("LedgerBuilder")
            .field("gateways", &self.gateways.keys().collect::<Vec<_>>())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl LedgerBuilder {
    /// Adds a gateway under a name: the `{gateway}` of `POST /webhooks/{gateway}` and the
    /// `gateway` of every record. Keep names stable: they are stored.
    #[must_use]
    pub fn gateway(mut self, name: impl Into<String>, gateway: Arc<dyn RecurringGateway>) -> Self {
        let refetch = default_refetch(&gateway.id());
        self.gateways.insert(name.into(), GatewayEntry { gateway, refetch });
        self
    }

    /// Adds several gateways by name (e.g. every gateway of `paycycle::Gateways::iter`).
    #[must_use]
    pub fn gateways<N: Into<String>>(
        mut self,
        gateways: impl IntoIterator<Item = (N, Arc<dyn RecurringGateway>)>,
    ) -> Self {
        for (name, gateway) in gateways {
            self = self.gateway(name, gateway);
        }
        self
    }

    /// Overrides when applying re-reads subscriptions from the gateway named `name` (added
    /// before).
    #[must_use]
    pub fn refetch(mut self, name: &str, refetch: Refetch) -> Self {
        if let Some(g) = self.gateways.get_mut(name) {
            g.refetch = refetch;
        }
        self
    }

    /// The clock for receipt times, retries and access evaluated at apply time (default: the
    /// system's). Tests against the simulator pass its virtual clock.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The access policy (default [`AccessPolicy::default`]).
    #[must_use]
    pub fn policy(mut self, policy: AccessPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Attempts before a failing inbox row is parked (default 8).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The first retry's wait; it doubles with each attempt, up to an hour (default 1 s).
    #[must_use]
    pub fn backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// How often idle workers and change consumers look for work that another process added
    /// (default 200 ms; work added in this process wakes them at once).
    #[must_use]
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// How long a change handed to a consumer stays reserved for it before another instance
    /// may take it (default 30 s).
    #[must_use]
    pub fn lease(mut self, d: Duration) -> Self {
        self.lease = d;
        self
    }

    /// Connections in the pool (default 8; an in-memory SQLite database always has one). Each
    /// worker and each change consumer holds at most one at a time; leave a few more for
    /// `receive` and queries.
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.options.max_connections = n;
        self
    }

    /// How long to wait for a connection before the store counts as unavailable (default 5 s).
    #[must_use]
    pub fn acquire_timeout(mut self, d: Duration) -> Self {
        self.options.acquire_timeout = d;
        self
    }

    /// PostgreSQL: keep the ledger's tables in this schema (created if missing).
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.options.schema = Some(schema.into());
        self
    }

    /// Calls `hook` inside every apply transaction before it commits (fault-injection tests).
    #[must_use]
    pub fn before_commit(mut self, hook: Arc<dyn BeforeCommit>) -> Self {
        self.before_commit = Some(hook);
        self
    }

    /// Connects, and creates or migrates the schema.
    ///
    /// # Errors
    /// [`LedgerError::Config`] for a bad URL or a backend whose feature is off;
    /// [`LedgerError::Store`] when the database cannot be reached or migrated.
    pub async fn connect(self) -> Result<Ledger> {
        let store = Store::connect(&self.url, &self.options).await?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                store,
                gateways: RwLock::new(self.gateways),
                clock: self.clock,
                policy: self.policy,
                max_attempts: self.max_attempts,
                backoff: self.backoff,
                poll_interval: self.poll_interval,
                lease: self.lease,
                wake: Notify::new(),
                changes_ready: Notify::new(),
                in_flight: std::sync::Mutex::default(),
                before_commit: self.before_commit,
            }),
        })
    }
}

fn default_refetch(id: &GatewayId) -> Refetch {
    if *id == GatewayId::CRYPTOMUS {
        Refetch::Always
    } else {
        Refetch::WhenNeeded
    }
}

impl Ledger {
    /// Starts configuring a ledger on a database URL: `sqlite://path/to/file.db?mode=rwc`,
    /// `sqlite::memory:` (tests), or `postgres://user@host/db`.
    pub fn builder(url: impl Into<String>) -> LedgerBuilder {
        LedgerBuilder {
            url: url.into(),
            gateways: BTreeMap::new(),
            clock: Arc::new(SystemClock),
            policy: AccessPolicy::default(),
            options: StoreOptions {
                max_connections: 8,
                acquire_timeout: Duration::from_secs(5),
                schema: None,
            },
            max_attempts: 8,
            backoff: Duration::from_secs(1),
            poll_interval: Duration::from_millis(200),
            lease: Duration::from_secs(30),
            before_commit: None,
        }
    }

    /// Which database this ledger runs on.
    pub fn backend(&self) -> Backend {
        self.inner.store.backend
    }

    /// Adds (or replaces) a gateway after connecting: e.g. Recurrente, whose webhook secret is
    /// known only once the app's endpoint is registered.
    pub fn add_gateway(&self, name: impl Into<String>, gateway: Arc<dyn RecurringGateway>) {
        let refetch = default_refetch(&gateway.id());
        let mut g = self.inner.gateways.write().unwrap_or_else(|p| p.into_inner());
        g.insert(name.into(), GatewayEntry { gateway, refetch });
    }

    /// The configured gateway names.
    pub fn gateway_names(&self) -> Vec<String> {
        let g = self.inner.gateways.read().unwrap_or_else(|p| p.into_inner());
        g.keys().cloned().collect()
    }

    pub(crate) fn entry(&self, name: &str) -> Result<GatewayEntry> {
        let g = self.inner.gateways.read().unwrap_or_else(|p| p.into_inner());
        g.get(name)
            .cloned()
            .ok_or_else(|| LedgerError::UnknownGateway(name.to_owned()))
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Receives one webhook: verifies it with the gateway named `gateway`, stores it in the
    /// inbox once per event id (a redelivery is a success that changes nothing), and returns
    /// only after the row is committed durably. Applying it is the workers' job.
    ///
    /// # Errors
    /// [`LedgerError::UnknownGateway`], [`LedgerError::Rejected`] (nothing is stored),
    /// [`LedgerError::Store`] (nothing is acknowledged: answer 503).
    pub async fn receive(&self, gateway: &str, headers: &http::HeaderMap, body: &[u8]) -> Result<Receipt> {
        let entry = self.entry(gateway)?;
        let mut event = entry
            .gateway
            .verify_webhook(headers, body)
            .map_err(LedgerError::Rejected)?;
        // The raw payload is the stored body; the normalized event is stored without it.
        let raw = std::mem::take(&mut event.raw);
        let event_json = serde_json::to_string(&event).map_err(|e| LedgerError::corrupt("event", e.to_string()));
        event.raw = raw;
        let event_json = event_json?;
        let header_pairs: Vec<(&str, String)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let headers_json =
            serde_json::to_string(&header_pairs).map_err(|e| LedgerError::corrupt("headers", e.to_string()))?;
        let kind = serde_json::to_string(&event.kind).map_err(|e| LedgerError::corrupt("kind", e.to_string()))?;
        let now = micros(self.now());
        let mut tx = self.inner.store.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO paycycle_inbox (gateway, event_id, received_at, headers, body, kind, provider_type, \
             subscription_id, merchant_reference, occurred_at, event, state, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', 0, $3) \
             ON CONFLICT (gateway, event_id) DO NOTHING",
        )
        .bind(gateway)
        .bind(event.id.as_str())
        .bind(now)
        .bind(headers_json)
        .bind(body.to_vec())
        .bind(kind)
        .bind(&event.provider_type)
        .bind(event.subscription_id.as_ref().map(SubscriptionId::as_str))
        .bind(event.merchant_reference.as_deref())
        .bind(event.occurred_at.map(micros))
        .bind(event_json)
        .execute(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;
        tx.commit().await?;
        let duplicate = done.rows_affected() == 0;
        if !duplicate {
            self.inner.wake.notify_waiters();
        }
        tracing::debug!(gateway, event_id = %event.id, duplicate, "webhook received");
        Ok(Receipt {
            event_id: event.id,
            kind: event.kind,
            duplicate,
        })
    }

    /// Whether the customer behind `merchant_reference` has access at `at`, by the ledger's
    /// [`AccessPolicy`], over every gateway.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn access(&self, merchant_reference: &str, at: DateTime<Utc>) -> Result<Access> {
        let mut conn = self.inner.store.pool.acquire().await.map_err(LedgerError::store)?;
        access_of(&mut conn, &self.inner.policy, merchant_reference, at).await
    }

    /// The access policy in force.
    pub fn policy(&self) -> &AccessPolicy {
        &self.inner.policy
    }

    /// One subscription.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn subscription(&self, gateway: &str, id: &SubscriptionId) -> Result<Option<SubscriptionRecord>> {
        let sql =
            format!("SELECT {SUB_COLUMNS} FROM paycycle_subscriptions WHERE gateway = $1 AND subscription_id = $2");
        let row = sqlx::query(&sql)
            .bind(gateway)
            .bind(id.as_str())
            .fetch_optional(&self.inner.store.pool)
            .await
            .map_err(LedgerError::store)?;
        row.map(|r| subscription_from_row(&r).map(|(s, _)| s)).transpose()
    }

    /// Every subscription of a gateway (all gateways for `None`), ordered by gateway and id.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn subscriptions(&self, gateway: Option<&str>) -> Result<Vec<SubscriptionRecord>> {
        let sql = format!(
            "SELECT {SUB_COLUMNS} FROM paycycle_subscriptions WHERE ($1 IS NULL OR gateway = $1) \
             ORDER BY gateway, subscription_id"
        );
        let rows = sqlx::query(&sql)
            .bind(gateway)
            .fetch_all(&self.inner.store.pool)
            .await
            .map_err(LedgerError::store)?;
        rows.iter().map(|r| subscription_from_row(r).map(|(s, _)| s)).collect()
    }

    /// The subscriptions of one merchant reference.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn subscriptions_for(&self, merchant_reference: &str) -> Result<Vec<SubscriptionRecord>> {
        let mut conn = self.inner.store.pool.acquire().await.map_err(LedgerError::store)?;
        Ok(subscriptions_of(&mut conn, merchant_reference)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect())
    }

    /// Every payment of a gateway (all for `None`), in the order recorded.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn payments(&self, gateway: Option<&str>) -> Result<Vec<PaymentRecord>> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM paycycle_payments WHERE ($1 IS NULL OR gateway = $1) \
             ORDER BY recorded_at, gateway, payment_id"
        );
        let rows = sqlx::query(&sql)
            .bind(gateway)
            .fetch_all(&self.inner.store.pool)
            .await
            .map_err(LedgerError::store)?;
        rows.iter().map(payment_from_row).collect()
    }

    /// Inbox rows after `after_id`, oldest first: the raw deliveries (headers and body bytes, as
    /// received) and where each stands. For audits, replays and tests.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn inbox(&self, after_id: i64, limit: u32) -> Result<Vec<InboxEntry>> {
        let rows = sqlx::query(
            "SELECT id, gateway, event_id, received_at, headers, body, state, outcome, attempts FROM paycycle_inbox \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.inner.store.pool)
        .await
        .map_err(LedgerError::store)?;
        rows.iter().map(inbox_entry).collect()
    }

    /// Inbox rows parked after too many failed attempts, oldest first.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn parked(&self) -> Result<Vec<ParkedDelivery>> {
        let rows = sqlx::query(
            "SELECT id, gateway, event_id, kind, attempts, last_error, received_at FROM paycycle_inbox \
             WHERE state = 'parked' ORDER BY id",
        )
        .fetch_all(&self.inner.store.pool)
        .await
        .map_err(LedgerError::store)?;
        rows.iter()
            .map(|r| {
                Ok(ParkedDelivery {
                    inbox_id: get(r, "id")?,
                    gateway: get(r, "gateway")?,
                    event_id: EventId::new(get::<String>(r, "event_id")?),
                    kind: get(r, "kind")?,
                    attempts: get(r, "attempts")?,
                    last_error: get(r, "last_error")?,
                    received_at: from_micros("received_at", get(r, "received_at")?)?,
                })
            })
            .collect()
    }

    /// Puts a parked row back in the queue, with its attempts reset. Returns false when no
    /// parked row has this id.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub async fn requeue(&self, inbox_id: i64) -> Result<bool> {
        let mut tx = self.inner.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE paycycle_inbox SET state = 'pending', attempts = 0, next_attempt_at = $2 \
             WHERE id = $1 AND state = 'parked'",
        )
        .bind(inbox_id)
        .bind(micros(self.now()))
        .execute(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;
        tx.commit().await?;
        self.inner.wake.notify_waiters();
        Ok(done.rows_affected() == 1)
    }

    /// Inbox rows by state: `(pending, done, parked)`.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub async fn inbox_counts(&self) -> Result<(i64, i64, i64)> {
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
               COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0) AS done, \
               COALESCE(SUM(CASE WHEN state = 'parked' THEN 1 ELSE 0 END), 0) AS parked \
             FROM paycycle_inbox",
        )
        .fetch_one(&self.inner.store.pool)
        .await
        .map_err(LedgerError::store)?;
        Ok((get(&row, "pending")?, get(&row, "done")?, get(&row, "parked")?))
    }

    /// Waits until no inbox row is pending (every received webhook applied, parked, or waiting
    /// for a backoff that is not due). Returns false when `timeout` passes first. For examples,
    /// tests and graceful shutdowns; workers must be running (or call [`Ledger::apply_pending`]).
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub async fn wait_until_applied(&self, timeout: Duration) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let due: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM paycycle_inbox WHERE state = 'pending' AND next_attempt_at <= $1",
            )
            .bind(micros(self.now()))
            .fetch_one(&self.inner.store.pool)
            .await
            .map_err(LedgerError::store)?;
            if due == 0 {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Closes the pool (waits for connections in use to come back).
    pub async fn close(&self) {
        self.inner.store.pool.close().await;
    }
}

fn inbox_entry(r: &sqlx::any::AnyRow) -> Result<InboxEntry> {
    let headers_json: String = get(r, "headers")?;
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&headers_json).map_err(|e| LedgerError::corrupt("headers", e.to_string()))?;
    let mut headers = http::HeaderMap::new();
    for (k, v) in pairs {
        let name =
            http::HeaderName::try_from(k.as_str()).map_err(|e| LedgerError::corrupt("headers", e.to_string()))?;
        let value =
            http::HeaderValue::try_from(v.as_str()).map_err(|e| LedgerError::corrupt("headers", e.to_string()))?;
        headers.append(name, value);
    }
    let state: String = get(r, "state")?;
    let state = match state.as_str() {
        "pending" => InboxState::Pending,
        "done" => InboxState::Done,
        "parked" => InboxState::Parked,
        other => return Err(LedgerError::corrupt("state", format!("`{other}`"))),
    };
    let outcome: Option<String> = get(r, "outcome")?;
    Ok(InboxEntry {
        id: get(r, "id")?,
        gateway: get(r, "gateway")?,
        event_id: EventId::new(get::<String>(r, "event_id")?),
        received_at: from_micros("received_at", get(r, "received_at")?)?,
        headers,
        body: get(r, "body")?,
        state,
        outcome: outcome.as_deref().and_then(crate::model::Outcome::parse),
        attempts: get(r, "attempts")?,
    })
}

pub(crate) async fn subscriptions_of(
    conn: &mut sqlx::AnyConnection,
    merchant_reference: &str,
) -> Result<Vec<(SubscriptionRecord, bool)>> {
    let sql = format!(
        "SELECT {SUB_COLUMNS}, (SELECT COUNT(*) FROM paycycle_payments p WHERE p.gateway = s.gateway \
         AND p.subscription_id = s.subscription_id AND p.status IN ('succeeded', 'refunded')) AS paid_count \
         FROM paycycle_subscriptions s WHERE merchant_reference = $1 ORDER BY gateway, subscription_id"
    );
    let rows = sqlx::query(&sql)
        .bind(merchant_reference)
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::store)?;
    rows.iter()
        .map(|r| {
            let (s, _) = subscription_from_row(r)?;
            let paid: i64 = get(r, "paid_count")?;
            Ok((s, paid > 0))
        })
        .collect()
}

pub(crate) async fn access_of(
    conn: &mut sqlx::AnyConnection,
    policy: &AccessPolicy,
    merchant_reference: &str,
    at: DateTime<Utc>,
) -> Result<Access> {
    let subs = subscriptions_of(conn, merchant_reference).await?;
    Ok(policy.evaluate_all(subs.iter().map(|(s, p)| (s, *p)), at))
}
