//! Webhook delivery: one queue, one worker, in order, with retries in real time; optionally, per
//! endpoint, with chaos ([`DeliveryMode`]).
//!
//! Only loopback URLs are dialed (`127.0.0.0/8`, `::1`, `localhost`): any other callback URL is
//! logged as refused and never contacted, so the simulator cannot reach the network.
//!
//! # Delivery modes
//! By default every webhook is delivered once, in the order it was queued, each delivery (with
//! its retries) finished before the next starts. [`Simulator::set_delivery_mode`] (or
//! `PUT /__sim/delivery`) changes that for the webhooks whose URL starts with a prefix (`None`:
//! every URL; the longest matching prefix wins), to test that a receiver copes with what real
//! providers do under load:
//!
//! - `copies: N`: each webhook is delivered N times, each copy a full delivery with its own
//!   retries and its own [`DeliveryRecord`] (`copy` 1..=N, `copy_of` the first copy's id).
//!   Copies are identical as a redelivery is: Recurrente's keep the same `svix-id` (the
//!   signature is made again with each attempt's time), Cryptomus' are byte-identical bodies.
//! - `concurrent: true`: deliveries start without waiting for the previous one to finish (at
//!   most [`MAX_CONCURRENT_DELIVERIES`] at a time), so copies and consecutive webhooks race each
//!   other at the receiver.
//! - `shuffle_window: W` (W ≥ 2): up to W consecutive webhooks matched by the same rule are
//!   held and then delivered in a random order. A window that is not full is released after
//!   [`SHUFFLE_IDLE`] without a new webhook for it, or at once by
//!   [`Simulator::flush_webhooks`], so nothing is held forever.
//! - `drop_per_mille: P` (0..=1000): P webhooks in a thousand are dropped: never sent, logged
//!   with [`DeliveryOutcome::Dropped`].
//! - `seed`: drops and shuffles are drawn from a small PRNG (splitmix64) seeded with it when the
//!   mode is set, in the order webhooks are queued: the same seed and the same webhooks give
//!   the same drops and the same order.
//!
//! A mode applies to the webhooks queued after it is set. [`Simulator::flush_webhooks`] still
//! waits for everything (held windows, concurrent deliveries and every copy), and
//! [`Simulator::pending_webhooks`] counts each copy.
//!
//! [`Simulator::set_delivery_mode`]: crate::Simulator::set_delivery_mode
//! [`Simulator::flush_webhooks`]: crate::Simulator::flush_webhooks
//! [`Simulator::pending_webhooks`]: crate::Simulator::pending_webhooks

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use paycycle_core::GatewayId;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::{Host, Url};

use crate::SimError;

/// Most deliveries in flight at once in [`DeliveryMode::concurrent`] mode (over every endpoint).
pub const MAX_CONCURRENT_DELIVERIES: usize = 16;

/// How long a shuffle window that is not full waits for another webhook before it is delivered.
pub const SHUFFLE_IDLE: StdDuration = StdDuration::from_millis(20);

/// Most copies [`DeliveryMode::copies`] accepts.
pub const MAX_COPIES: u32 = 1000;

/// How deliveries are retried. Waits are in real time, not simulated time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryPolicy {
    /// Attempts in all, the first included (default 6).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles after each (default 100 ms).
    pub initial_backoff: StdDuration,
    /// Longest wait between two attempts (default 10 s).
    pub max_backoff: StdDuration,
    /// Time allowed for one attempt (default 10 s).
    pub timeout: StdDuration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 6,
            initial_backoff: StdDuration::from_millis(100),
            max_backoff: StdDuration::from_secs(10),
            timeout: StdDuration::from_secs(10),
        }
    }
}

impl DeliveryPolicy {
    /// Sets the number of attempts (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the first backoff.
    #[must_use]
    pub fn initial_backoff(mut self, d: StdDuration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn timeout(mut self, d: StdDuration) -> Self {
        self.timeout = d;
        self
    }

    fn backoff(&self, retry: u32) -> StdDuration {
        let factor = 2u32.checked_pow(retry).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// How a webhook is signed on each attempt.
#[derive(Clone)]
pub(crate) enum Signer {
    /// Recurrente's Svix scheme: `svix-id` (the same on every attempt), `svix-timestamp` (the
    /// attempt's **real** unix time: receivers check it against their own clock) and
    /// `svix-signature`, made again for each attempt.
    Svix {
        /// `msg_…`, stable across attempts and endpoints.
        msg_id: String,
        /// The endpoint's `whsec_…` secret.
        secret: String,
        /// Set when the endpoint is deleted: what is still queued for it is not sent, and its
        /// secret signs nothing more (`None` for the configured URL, which cannot be deleted).
        revoked: Option<Arc<AtomicBool>>,
    },
}

impl Signer {
    /// Whether the endpoint this signs for was deleted.
    fn is_revoked(&self) -> bool {
        match self {
            Signer::Svix { revoked, .. } => revoked.as_ref().is_some_and(|r| r.load(Ordering::SeqCst)),
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Svix { msg_id, .. } => f
                .debug_struct("Svix")
                .field("msg_id", msg_id)
                .field("secret", &"[redacted]")
                .finish(),
        }
    }
}

impl Signer {
    /// The headers of an attempt made at `unix_time`.
    fn headers(&self, unix_time: i64, body: &[u8]) -> Result<Vec<(String, String)>, String> {
        match self {
            Signer::Svix { msg_id, secret, .. } => {
                let map = paycycle_recurrente::webhook::signed_headers(secret, msg_id, unix_time, body)
                    .map_err(|e| format!("cannot sign: {e}"))?;
                Ok(map
                    .iter()
                    .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
                    .collect())
            }
        }
    }
}

/// One webhook to send.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    /// The gateway whose webhook this is.
    pub(crate) gateway: GatewayId,
    /// A short description (`payment paid`, `recurrence cancel_by_user`).
    pub(crate) event: String,
    /// Where to POST it.
    pub(crate) url: String,
    /// Headers besides `content-type: application/json` (Recurrente's `svix-*`).
    pub(crate) headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub(crate) body: Vec<u8>,
    /// Signs each attempt (adds its headers), if the provider signs with headers.
    pub(crate) signer: Option<Signer>,
}

impl Webhook {
    /// A JSON webhook.
    pub(crate) fn new(gateway: GatewayId, event: impl Into<String>, url: impl Into<String>, body: Vec<u8>) -> Webhook {
        Webhook {
            gateway,
            event: event.into(),
            url: url.into(),
            headers: Vec::new(),
            body,
            signer: None,
        }
    }

    /// Signs every attempt with `signer`.
    #[must_use]
    pub(crate) fn signed(mut self, signer: Signer) -> Webhook {
        self.signer = Some(signer);
        self
    }

    /// The headers of an attempt at `unix_time`: the fixed ones, then the signature's.
    fn headers_at(&self, unix_time: i64) -> Result<Vec<(String, String)>, String> {
        let mut headers = self.headers.clone();
        if let Some(signer) = &self.signer {
            headers.extend(signer.headers(unix_time, &self.body)?);
        }
        Ok(headers)
    }
}

/// How the webhooks to some endpoints are delivered: copies, concurrency, reordering, drops.
///
/// The default is the simulator's ordinary behaviour: once each, in order, nothing dropped. Set
/// it with [`Simulator::set_delivery_mode`](crate::Simulator::set_delivery_mode); see
/// [the crate documentation](crate#webhook-delivery-modes) for what each setting does.
///
/// ```
/// use paycycle_sim::DeliveryMode;
///
/// let chaos = DeliveryMode::default()
///     .copies(3)
///     .concurrent(true)
///     .shuffle_window(5)
///     .drop_per_mille(300)
///     .seed(7);
/// assert_eq!(chaos.copies, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryMode {
    /// Deliveries of each webhook (1..=[`MAX_COPIES`]; default 1).
    pub copies: u32,
    /// Deliver without waiting for the previous delivery to finish (default false).
    pub concurrent: bool,
    /// Reorder up to this many consecutive webhooks at random (0 or 1, the default: no reordering).
    pub shuffle_window: u32,
    /// Webhooks dropped per thousand (0..=1000; default 0).
    pub drop_per_mille: u16,
    /// Seeds the drops and the shuffles (default 0).
    pub seed: u64,
}

impl Default for DeliveryMode {
    fn default() -> Self {
        DeliveryMode {
            copies: 1,
            concurrent: false,
            shuffle_window: 0,
            drop_per_mille: 0,
            seed: 0,
        }
    }
}

impl DeliveryMode {
    /// Delivers every webhook `n` times (1..=[`MAX_COPIES`], checked when the mode is set).
    #[must_use]
    pub fn copies(mut self, n: u32) -> Self {
        self.copies = n;
        self
    }

    /// Starts each delivery without waiting for the previous one.
    #[must_use]
    pub fn concurrent(mut self, yes: bool) -> Self {
        self.concurrent = yes;
        self
    }

    /// Delivers up to `n` consecutive webhooks in a random order (0 or 1: in order).
    #[must_use]
    pub fn shuffle_window(mut self, n: u32) -> Self {
        self.shuffle_window = n;
        self
    }

    /// Drops `n` webhooks in a thousand (0..=1000, checked when the mode is set).
    #[must_use]
    pub fn drop_per_mille(mut self, n: u16) -> Self {
        self.drop_per_mille = n;
        self
    }

    /// Seeds the drops and the shuffles.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// `Ok` when every setting is in range.
    pub(crate) fn check(&self) -> Result<(), SimError> {
        if !(1..=MAX_COPIES).contains(&self.copies) {
            return Err(SimError::InvalidConfig {
                field: "copies",
                reason: format!("must be 1..={MAX_COPIES}, not {}", self.copies),
            });
        }
        if self.drop_per_mille > 1000 {
            return Err(SimError::InvalidConfig {
                field: "drop_per_mille",
                reason: format!("must be 0..=1000, not {}", self.drop_per_mille),
            });
        }
        Ok(())
    }
}

/// splitmix64: a tiny seeded PRNG, enough to make drops and shuffles reproducible.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One `set_delivery_mode`: a prefix, its mode and the mode's random streams.
#[derive(Debug)]
struct Rule {
    /// Distinguishes the windows of rules set at different times.
    serial: u64,
    prefix: Option<String>,
    mode: DeliveryMode,
    drops: SplitMix64,
    shuffles: SplitMix64,
}

/// What the rule matching a webhook decided for it.
struct Plan {
    copies: u32,
    dropped: bool,
    route: Route,
}

/// How the worker sends a job.
#[derive(Debug, Clone, Copy)]
struct Route {
    concurrent: bool,
    /// The shuffle window (≥ 2) and its rule's serial, if held.
    window: Option<(u32, u64)>,
    /// Where the job goes in its window: windows are delivered sorted by it.
    shuffle_key: u64,
}

impl Route {
    const ORDERED: Route = Route {
        concurrent: false,
        window: None,
        shuffle_key: 0,
    };
}

#[derive(Debug, Default)]
struct Rules {
    rules: Vec<Rule>,
    next_serial: u64,
}

impl Rules {
    fn set(&mut self, prefix: Option<String>, mode: DeliveryMode) {
        self.next_serial += 1;
        let rule = Rule {
            serial: self.next_serial,
            drops: SplitMix64(mode.seed),
            shuffles: SplitMix64(mode.seed ^ 0x5348_5546_464C_4521),
            prefix,
            mode,
        };
        match self.rules.iter_mut().find(|r| r.prefix == rule.prefix) {
            Some(r) => *r = rule,
            None => self.rules.push(rule),
        }
    }

    /// The rule with the longest prefix of `url`.
    fn matching(&mut self, url: &str) -> Option<&mut Rule> {
        self.rules
            .iter_mut()
            .filter(|r| r.prefix.as_deref().is_none_or(|p| url.starts_with(p)))
            .max_by_key(|r| r.prefix.as_deref().map_or(0, |p| p.len() + 1))
    }

    fn plan(&mut self, url: &str) -> Plan {
        let Some(rule) = self.matching(url) else {
            return Plan {
                copies: 1,
                dropped: false,
                route: Route::ORDERED,
            };
        };
        let dropped = rule.mode.drop_per_mille > 0 && rule.drops.next() % 1000 < u64::from(rule.mode.drop_per_mille);
        let window = (rule.mode.shuffle_window >= 2).then_some((rule.mode.shuffle_window, rule.serial));
        Plan {
            copies: rule.mode.copies.max(1),
            dropped,
            route: Route {
                concurrent: rule.mode.concurrent,
                window,
                shuffle_key: if window.is_some() { rule.shuffles.next() } else { 0 },
            },
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Queued, held in a shuffle window, or being attempted.
    Pending,
    /// A 2xx answer.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Every attempt failed.
    GaveUp,
    /// Not attempted: the URL is not on loopback (or not an http URL), it could not be signed, or
    /// (Recurrente) its webhook endpoint was deleted before it went out.
    Refused {
        /// Why.
        reason: String,
    },
    /// The simulator shut down before it was delivered.
    Abandoned,
    /// Dropped on purpose by a [`DeliveryMode::drop_per_mille`]: never sent.
    Dropped,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Attempt {
    /// When (real time).
    pub at: DateTime<Utc>,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// The connection error, if any.
    pub error: Option<String>,
}

/// The log entry of one delivery: one webhook, or one copy of a webhook sent several times
/// ([`DeliveryMode::copies`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// Order of enqueuing, from 1 (the copies of a webhook have consecutive ids).
    pub id: u64,
    /// Which copy this is, from 1 (1 for a webhook sent once).
    pub copy: u32,
    /// For copies after the first, the `id` of the first copy's record.
    pub copy_of: Option<u64>,
    /// The gateway.
    pub gateway: String,
    /// What it is.
    pub event: String,
    /// Where it goes.
    pub url: String,
    /// The headers sent besides `content-type` (a signed webhook's as of its latest attempt:
    /// Recurrente's are signed again with each attempt's real time).
    pub headers: Vec<(String, String)>,
    /// The body, as text (it is JSON).
    pub body: String,
    /// The attempts so far.
    pub attempts: Vec<Attempt>,
    /// The result.
    pub outcome: DeliveryOutcome,
    /// For a webhook sent again on request (the dashboard's Redeliver button), the `id` of the
    /// record it was sent again from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redelivery_of: Option<u64>,
}

/// One webhook to deliver, with a record per copy.
#[derive(Debug)]
struct Job {
    ids: Vec<u64>,
    webhook: Arc<Webhook>,
    route: Route,
}

#[derive(Debug)]
enum Msg {
    Job(Job),
    /// Deliver every held shuffle window now.
    Release,
}

#[derive(Debug, Default)]
struct Log {
    records: Vec<DeliveryRecord>,
    /// The webhook of each record (same positions), kept to send it again.
    sources: Vec<Arc<Webhook>>,
    rules: Rules,
}

impl Log {
    fn record_mut(&mut self, id: u64) -> Option<&mut DeliveryRecord> {
        // Ids are positions from 1; the search is a fallback that never runs.
        let i = usize::try_from(id).ok()?.checked_sub(1)?;
        match self.records.get(i) {
            Some(r) if r.id == id => self.records.get_mut(i),
            _ => self.records.iter_mut().find(|r| r.id == id),
        }
    }
}

/// The delivery queue. Cheap to clone; all clones feed the same worker.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    tx: mpsc::UnboundedSender<Msg>,
    log: Arc<Mutex<Log>>,
    outstanding: watch::Sender<u64>,
}

impl Delivery {
    /// Starts the worker on the current tokio runtime. It stops when `shutdown` turns true.
    pub(crate) fn start(
        policy: DeliveryPolicy,
        shutdown: watch::Receiver<bool>,
    ) -> (Delivery, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Log::default()));
        let (outstanding, _) = watch::channel(0u64);
        let d = Delivery { tx, log, outstanding };
        let worker = Worker {
            sender: Sender {
                delivery: d.clone(),
                policy: Arc::new(policy),
                client: Arc::new(OnceLock::new()),
            },
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_DELIVERIES)),
        };
        let handle = tokio::spawn(worker.run(rx, shutdown));
        (d, handle)
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets how the webhooks to URLs starting with `prefix` (every URL for `None` or `""`) are
    /// delivered, replacing the mode set for that prefix before.
    pub(crate) fn set_mode(&self, prefix: Option<&str>, mode: DeliveryMode) -> Result<(), SimError> {
        mode.check()?;
        let prefix = prefix.filter(|p| !p.is_empty()).map(str::to_owned);
        self.lock().rules.set(prefix, mode);
        Ok(())
    }

    /// Forgets every delivery mode (webhooks already queued keep theirs).
    pub(crate) fn clear_modes(&self) {
        self.lock().rules.rules.clear();
    }

    /// The modes set, in the order they were first set.
    pub(crate) fn modes(&self) -> Vec<(Option<String>, DeliveryMode)> {
        self.lock()
            .rules
            .rules
            .iter()
            .map(|r| (r.prefix.clone(), r.mode.clone()))
            .collect()
    }

    /// Queues a webhook (as many copies as its delivery mode says, or none when the mode drops
    /// it); returns the id of its (first) record.
    pub(crate) fn enqueue(&self, webhook: Webhook) -> u64 {
        self.enqueue_shared(Arc::new(webhook), None)
    }

    /// Sends the webhook of record `id` again, as it was queued (the same body; a signed one is
    /// signed again at each attempt, with the same message id), under the delivery mode of now.
    /// Returns the id of the new (first) record, `None` for an unknown id.
    pub(crate) fn redeliver(&self, id: u64) -> Option<u64> {
        let source = {
            let log = self.lock();
            let i = usize::try_from(id).ok()?.checked_sub(1)?;
            log.sources.get(i)?.clone()
        };
        Some(self.enqueue_shared(source, Some(id)))
    }

    /// [`Delivery::enqueue`] of a webhook already shared, noting what it is sent again from.
    fn enqueue_shared(&self, webhook: Arc<Webhook>, redelivery_of: Option<u64>) -> u64 {
        let headers = webhook.headers_at(Utc::now().timestamp()).unwrap_or_default();
        let body = String::from_utf8_lossy(&webhook.body).into_owned();
        // One lock for the plan, the records and the send: ids, random draws and the queue
        // agree on the order.
        let mut log = self.lock();
        let plan = log.rules.plan(&webhook.url);
        let first = log.records.len() as u64 + 1;
        let copies = if plan.dropped { 1 } else { plan.copies };
        for copy in 1..=copies {
            log.records.push(DeliveryRecord {
                id: first + u64::from(copy) - 1,
                copy,
                copy_of: (copy > 1).then_some(first),
                gateway: webhook.gateway.to_string(),
                event: webhook.event.clone(),
                url: webhook.url.clone(),
                headers: headers.clone(),
                body: body.clone(),
                attempts: Vec::new(),
                outcome: if plan.dropped {
                    DeliveryOutcome::Dropped
                } else {
                    DeliveryOutcome::Pending
                },
                redelivery_of,
            });
            log.sources.push(webhook.clone());
        }
        if plan.dropped {
            tracing::debug!(url = %webhook.url, event = %webhook.event, "paycycle-sim dropped a webhook");
            return first;
        }
        let ids: Vec<u64> = (first..first + u64::from(copies)).collect();
        self.outstanding.send_modify(|n| *n += u64::from(copies));
        let job = Job {
            ids,
            webhook,
            route: plan.route,
        };
        if let Err(mpsc::error::SendError(Msg::Job(job))) = self.tx.send(Msg::Job(job)) {
            // The worker is gone (shut down): record it and do not count it as outstanding.
            for id in job.ids {
                finish_locked(&mut log, &self.outstanding, id, DeliveryOutcome::Abandoned);
            }
        }
        first
    }

    fn record_attempt(&self, id: u64, attempt: Attempt, headers: &[(String, String)]) {
        if let Some(r) = self.lock().record_mut(id) {
            r.attempts.push(attempt);
            if r.headers.as_slice() != headers {
                r.headers = headers.to_vec();
            }
        }
    }

    /// Settles a pending delivery (once: a settled one is left as it is).
    fn finish(&self, id: u64, outcome: DeliveryOutcome) {
        finish_locked(&mut self.lock(), &self.outstanding, id, outcome);
    }

    /// Settles every pending delivery as abandoned.
    fn abandon_pending(&self) {
        let mut log = self.lock();
        let mut n = 0u64;
        for r in log.records.iter_mut().filter(|r| r.outcome == DeliveryOutcome::Pending) {
            r.outcome = DeliveryOutcome::Abandoned;
            n += 1;
        }
        self.outstanding.send_modify(|o| *o = o.saturating_sub(n));
    }

    /// Every delivery so far, oldest first.
    pub(crate) fn records(&self) -> Vec<DeliveryRecord> {
        self.lock().records.clone()
    }

    /// How many records the log holds (the newest one's id).
    pub(crate) fn count(&self) -> u64 {
        self.lock().records.len() as u64
    }

    /// One record.
    pub(crate) fn record(&self, id: u64) -> Option<DeliveryRecord> {
        self.lock().record_mut(id).map(|r| r.clone())
    }

    /// Up to `take` records with an id below `before` (every id for `None`), newest first.
    pub(crate) fn newest(&self, before: Option<u64>, take: usize) -> Vec<DeliveryRecord> {
        let log = self.lock();
        let end = before
            .and_then(|b| usize::try_from(b.saturating_sub(1)).ok())
            .map_or(log.records.len(), |b| b.min(log.records.len()));
        let start = end.saturating_sub(take);
        log.records
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .rev()
            .cloned()
            .collect()
    }

    /// The record `first` and the copies made with it ([`DeliveryMode::copies`]).
    pub(crate) fn with_copies(&self, first: u64) -> Vec<DeliveryRecord> {
        let log = self.lock();
        let Some(i) = usize::try_from(first).ok().and_then(|i| i.checked_sub(1)) else {
            return Vec::new();
        };
        log.records
            .iter()
            .skip(i)
            .take_while(|r| r.id == first || r.copy_of == Some(first))
            .cloned()
            .collect()
    }

    /// Deliveries (copies included) queued, held or in flight.
    pub(crate) fn outstanding(&self) -> u64 {
        *self.outstanding.borrow()
    }

    /// Releases the held shuffle windows and waits until the queue is empty and nothing is in
    /// flight.
    pub(crate) async fn flush(&self) {
        // Fails only when the worker is gone, and then nothing is outstanding.
        let _ = self.tx.send(Msg::Release);
        let mut rx = self.outstanding.subscribe();
        // `wait_for` fails only when the sender is dropped, and `self` holds it.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

fn finish_locked(log: &mut Log, outstanding: &watch::Sender<u64>, id: u64, outcome: DeliveryOutcome) {
    if let Some(r) = log.record_mut(id)
        && r.outcome == DeliveryOutcome::Pending
    {
        r.outcome = outcome;
        outstanding.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A client that never uses a proxy, never follows redirects, and resolves `localhost` to
/// loopback itself (so neither the environment nor DNS can send a webhook off the machine).
fn loopback_client() -> reqwest::Client {
    let loopback = [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
    ];
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs("localhost", &loopback)
        .user_agent(concat!("paycycle-sim/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// `Ok` when `url` is an http(s) URL on loopback; else why not.
pub(crate) fn check_loopback(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not http or https", parsed.scheme()));
    }
    let ok = match parsed.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") || d.eq_ignore_ascii_case("localhost."),
        None => false,
    };
    if ok {
        Ok(parsed)
    } else {
        Err(format!(
            "host `{}` is not loopback (127.0.0.0/8, ::1 or localhost): the simulator never dials the network",
            parsed.host_str().unwrap_or("")
        ))
    }
}

/// Sends one delivery (with its retries). Cheap to clone into a concurrent task.
#[derive(Clone)]
struct Sender {
    delivery: Delivery,
    policy: Arc<DeliveryPolicy>,
    /// Built on the first delivery: building one (TLS roots) costs milliseconds, and many
    /// simulators (a test's, the fuzz target's per input) never send a webhook.
    client: Arc<OnceLock<reqwest::Client>>,
}

/// Shuffle windows being filled, one per rule.
#[derive(Debug)]
struct Held {
    rule: u64,
    jobs: Vec<Job>,
    /// When the window is released if it does not fill.
    deadline: Instant,
}

struct Worker {
    sender: Sender,
    permits: Arc<Semaphore>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Msg>, mut shutdown: watch::Receiver<bool>) {
        let mut held: Vec<Held> = Vec::new();
        let mut tasks: JoinSet<()> = JoinSet::new();
        'run: loop {
            while tasks.try_join_next().is_some() {}
            let deadline = held.iter().map(|h| h.deadline).min();
            let msg = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                () = until(deadline) => None,
                msg = rx.recv() => match msg {
                    Some(msg) => Some(msg),
                    None => break,
                },
            };
            let ready = match msg {
                Some(Msg::Job(job)) => hold(&mut held, job),
                Some(Msg::Release) => release(&mut held, |_| true),
                None => {
                    let now = Instant::now();
                    release(&mut held, |h| h.deadline <= now)
                }
            };
            for job in ready {
                if job.route.concurrent {
                    self.spawn(&mut tasks, job);
                    continue;
                }
                tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|stop| *stop) => break 'run,
                    () = self.sender.deliver_in_turn(&job) => {}
                }
            }
        }
        rx.close();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        // Whatever is still queued, held or was cut short.
        while rx.try_recv().is_ok() {}
        self.sender.delivery.abandon_pending();
    }

    /// Starts every copy of `job` as its own task (bounded by the permits).
    fn spawn(&self, tasks: &mut JoinSet<()>, job: Job) {
        for id in job.ids {
            let sender = self.sender.clone();
            let webhook = job.webhook.clone();
            let permits = self.permits.clone();
            tasks.spawn(async move {
                // The semaphore is never closed; if it were, the shutdown settles the delivery.
                if let Ok(_permit) = permits.acquire_owned().await {
                    sender.deliver(id, &webhook).await;
                }
            });
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Holds `job` in its rule's shuffle window; returns what is ready to deliver: the job itself
/// when it is not shuffled, the shuffled window when it is full.
fn hold(held: &mut Vec<Held>, job: Job) -> Vec<Job> {
    let Some((size, rule)) = job.route.window else {
        return vec![job];
    };
    let deadline = Instant::now() + SHUFFLE_IDLE;
    let i = match held.iter().position(|h| h.rule == rule) {
        Some(i) => i,
        None => {
            held.push(Held {
                rule,
                jobs: Vec::new(),
                deadline,
            });
            held.len() - 1
        }
    };
    let Some(window) = held.get_mut(i) else {
        return vec![job];
    };
    window.jobs.push(job);
    window.deadline = deadline;
    if window.jobs.len() < size as usize {
        return Vec::new();
    }
    release(held, |h| h.rule == rule)
}

/// Takes the windows `which` selects, each in its shuffled order.
fn release(held: &mut Vec<Held>, which: impl Fn(&Held) -> bool) -> Vec<Job> {
    let mut out = Vec::new();
    let mut kept = Vec::with_capacity(held.len());
    for mut h in held.drain(..) {
        if which(&h) {
            // Sorting by independent random keys is a uniform shuffle (stable on a tie).
            h.jobs.sort_by_key(|j| j.route.shuffle_key);
            out.extend(h.jobs);
        } else {
            kept.push(h);
        }
    }
    *held = kept;
    out
}

impl Sender {
    /// Delivers the copies of `job` one after the other.
    async fn deliver_in_turn(&self, job: &Job) {
        for &id in &job.ids {
            self.deliver(id, &job.webhook).await;
        }
    }

    /// Delivers one copy, with retries, and settles its record.
    async fn deliver(&self, id: u64, webhook: &Webhook) {
        let url = match check_loopback(&webhook.url) {
            Ok(url) => url,
            Err(reason) => {
                tracing::warn!(url = %webhook.url, %reason, "paycycle-sim refused a webhook");
                self.delivery.finish(id, DeliveryOutcome::Refused { reason });
                return;
            }
        };
        for attempt in 0..self.policy.max_attempts {
            if attempt > 0 {
                tokio::time::sleep(self.policy.backoff(attempt - 1)).await;
            }
            if webhook.signer.as_ref().is_some_and(Signer::is_revoked) {
                let reason = "the webhook endpoint was deleted".to_owned();
                self.delivery.finish(id, DeliveryOutcome::Refused { reason });
                return;
            }
            let at = Utc::now();
            let headers = match webhook.headers_at(at.timestamp()) {
                Ok(h) => h,
                Err(reason) => {
                    tracing::error!(url = %webhook.url, %reason, "paycycle-sim could not sign a webhook");
                    self.delivery.finish(id, DeliveryOutcome::Refused { reason });
                    return;
                }
            };
            let mut req = self
                .client
                .get_or_init(loopback_client)
                .post(url.clone())
                .timeout(self.policy.timeout)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(webhook.body.clone());
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    // Read the answer so the connection can be reused; its content is not used.
                    let _ = resp.bytes().await;
                    self.delivery.record_attempt(
                        id,
                        Attempt {
                            at,
                            status: Some(status.as_u16()),
                            error: None,
                        },
                        &headers,
                    );
                    if status.is_success() {
                        self.delivery.finish(
                            id,
                            DeliveryOutcome::Delivered {
                                status: status.as_u16(),
                            },
                        );
                        return;
                    }
                }
                Err(e) => {
                    self.delivery.record_attempt(
                        id,
                        Attempt {
                            at,
                            status: None,
                            error: Some(error_chain(&e)),
                        },
                        &headers,
                    );
                }
            }
        }
        tracing::warn!(url = %webhook.url, attempts = self.policy.max_attempts, "paycycle-sim gave up a webhook");
        self.delivery.finish(id, DeliveryOutcome::GaveUp);
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_pass() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "http://127.9.8.7/x",
            "https://localhost/x",
            "http://LOCALHOST:1/x",
            "http://[::1]:9/x",
        ] {
            assert!(check_loopback(ok).is_ok(), "{ok} should pass");
        }
        for bad in [
            "http://example.com/hook",
            "http://10.0.0.1/x",
            "http://192.168.1.1/x",
            "http://0.0.0.0/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://localhost.example.com/x",
            "http://127.0.0.1.nip.io/x",
            "ftp://127.0.0.1/x",
            "not a url",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let mut rules = Rules::default();
        rules.set(None, DeliveryMode::default().copies(2));
        rules.set(Some("http://127.0.0.1:1/".into()), DeliveryMode::default().copies(3));
        rules.set(Some("http://127.0.0.1:1/a/".into()), DeliveryMode::default().copies(4));
        assert_eq!(rules.plan("http://127.0.0.1:1/a/hook").copies, 4);
        assert_eq!(rules.plan("http://127.0.0.1:1/b/hook").copies, 3);
        assert_eq!(rules.plan("http://127.0.0.1:2/a/hook").copies, 2);
        // Setting a prefix again replaces its mode.
        rules.set(None, DeliveryMode::default().copies(5));
        assert_eq!(rules.rules.len(), 3);
        assert_eq!(rules.plan("http://localhost/").copies, 5);
        assert_eq!(Rules::default().plan("http://localhost/").copies, 1);
    }

    #[test]
    fn drops_are_seeded() {
        let draw = |seed: u64, per_mille: u16| {
            let mut rules = Rules::default();
            rules.set(None, DeliveryMode::default().drop_per_mille(per_mille).seed(seed));
            (0..1000)
                .map(|_| rules.plan("http://127.0.0.1/").dropped)
                .collect::<Vec<_>>()
        };
        let a = draw(3, 250);
        assert_eq!(a, draw(3, 250));
        assert_ne!(a, draw(4, 250));
        let n = a.iter().filter(|d| **d).count();
        assert!((180..=320).contains(&n), "{n}");
        assert!(draw(3, 0).iter().all(|d| !d));
        assert!(draw(3, 1000).iter().all(|d| *d));
    }

    #[test]
    fn modes_are_checked() {
        assert!(DeliveryMode::default().check().is_ok());
        assert!(
            DeliveryMode::default()
                .copies(MAX_COPIES)
                .drop_per_mille(1000)
                .check()
                .is_ok()
        );
        assert!(DeliveryMode::default().copies(0).check().is_err());
        assert!(DeliveryMode::default().copies(MAX_COPIES + 1).check().is_err());
        assert!(DeliveryMode::default().drop_per_mille(1001).check().is_err());
    }

    #[tokio::test]
    async fn shutdown_abandons_what_is_held_queued_or_in_flight() {
        use tokio::net::TcpListener;
        // A receiver that accepts connections and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                open.push(conn);
            }
        });
        let (stop, stop_rx) = watch::channel(false);
        let (d, worker) = Delivery::start(DeliveryPolicy::default(), stop_rx);
        let concurrent = format!("http://{addr}/concurrent");
        let held = format!("http://{addr}/held");
        d.set_mode(Some(&concurrent), DeliveryMode::default().copies(3).concurrent(true))
            .unwrap();
        d.set_mode(Some(&held), DeliveryMode::default().shuffle_window(100))
            .unwrap();
        let hook = |url: &str| Webhook::new(GatewayId::CRYPTOMUS, "test", url, b"{}".to_vec());
        d.enqueue(hook(&concurrent));
        d.enqueue(hook(&held));
        d.enqueue(hook(&format!("http://{addr}/ordered")));
        d.enqueue(hook(&format!("http://{addr}/ordered")));
        assert_eq!(d.outstanding(), 6);
        tokio::time::sleep(StdDuration::from_millis(50)).await;
        stop.send(true).unwrap();
        worker.await.unwrap();
        assert_eq!(d.outstanding(), 0);
        let records = d.records();
        assert_eq!(records.len(), 6);
        assert!(
            records.iter().all(|r| r.outcome == DeliveryOutcome::Abandoned),
            "{records:#?}"
        );
        // Queued after the shutdown: abandoned at once.
        d.enqueue(hook(&concurrent));
        assert_eq!(d.outstanding(), 0);
        assert_eq!(d.records().len(), 9);
    }

    #[tokio::test]
    async fn redeliver_sends_the_same_body_again_as_a_new_record() {
        use axum::routing::post;
        let got = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let seen = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |body: axum::body::Bytes| async move {
                seen.lock().unwrap().push(body.to_vec());
                "ok"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = tokio::spawn(async move { axum::serve(listener, app).await });
        let (_stop, stop_rx) = watch::channel(false);
        let (d, _worker) = Delivery::start(DeliveryPolicy::default(), stop_rx);
        let url = format!("http://{addr}/hook");
        let first = d.enqueue(Webhook::new(
            GatewayId::CRYPTOMUS,
            "payment paid",
            &url,
            b"{\"a\":1}".to_vec(),
        ));
        d.flush().await;
        assert_eq!(d.redeliver(99), None);
        let again = d.redeliver(first).unwrap();
        d.flush().await;
        assert_eq!(again, 2);
        assert_eq!(d.count(), 2);
        let r = d.record(again).unwrap();
        assert_eq!(r.redelivery_of, Some(first));
        assert_eq!(r.event, "payment paid");
        assert_eq!(r.outcome, DeliveryOutcome::Delivered { status: 200 });
        assert_eq!(d.record(first).unwrap().redelivery_of, None);
        assert_eq!(*got.lock().unwrap(), [b"{\"a\":1}".to_vec(), b"{\"a\":1}".to_vec()]);
        // The log pages newest first.
        let ids: Vec<u64> = d.newest(None, 10).iter().map(|r| r.id).collect();
        assert_eq!(ids, [2, 1]);
        assert_eq!(d.newest(Some(2), 10).len(), 1);
        assert_eq!(d.with_copies(1).len(), 1);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = DeliveryPolicy::default();
        assert_eq!(p.backoff(0), StdDuration::from_millis(100));
        assert_eq!(p.backoff(1), StdDuration::from_millis(200));
        assert_eq!(p.backoff(3), StdDuration::from_millis(800));
        assert_eq!(p.backoff(40), StdDuration::from_secs(10));
        assert_eq!(DeliveryPolicy::default().max_attempts(0).max_attempts, 1);
    }
}
