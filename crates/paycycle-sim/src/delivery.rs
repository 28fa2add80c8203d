//! Webhook delivery: one queue, one worker, in order, with retries in real time.
//!
//! Only loopback URLs are dialed (`127.0.0.0/8`, `::1`, `localhost`): any other callback URL is
//! logged as refused and never contacted, so the simulator cannot reach the network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use paycycle_core::GatewayId;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use url::{Host, Url};

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
    },
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
            Signer::Svix { msg_id, secret } => {
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

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Queued or being attempted.
    Pending,
    /// A 2xx answer.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Every attempt failed.
    GaveUp,
    /// Not attempted: the URL is not on loopback (or not an http URL), or it could not be signed.
    Refused {
        /// Why.
        reason: String,
    },
    /// The simulator shut down before it was delivered.
    Abandoned,
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

/// The log entry of one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// Order of enqueuing, from 1.
    pub id: u64,
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
}

#[derive(Debug)]
struct Job {
    id: u64,
    webhook: Webhook,
}

#[derive(Debug, Default)]
struct Log {
    records: Vec<DeliveryRecord>,
}

/// The delivery queue. Cheap to clone; all clones feed the same worker.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    tx: mpsc::UnboundedSender<Job>,
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
            delivery: d.clone(),
            policy,
            client: loopback_client(),
        };
        let handle = tokio::spawn(worker.run(rx, shutdown));
        (d, handle)
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a webhook; returns its record id.
    pub(crate) fn enqueue(&self, webhook: Webhook) -> u64 {
        let id = {
            let mut log = self.lock();
            let id = log.records.len() as u64 + 1;
            log.records.push(DeliveryRecord {
                id,
                gateway: webhook.gateway.to_string(),
                event: webhook.event.clone(),
                url: webhook.url.clone(),
                headers: webhook.headers_at(Utc::now().timestamp()).unwrap_or_default(),
                body: String::from_utf8_lossy(&webhook.body).into_owned(),
                attempts: Vec::new(),
                outcome: DeliveryOutcome::Pending,
            });
            id
        };
        self.outstanding.send_modify(|n| *n += 1);
        if let Err(mpsc::error::SendError(job)) = self.tx.send(Job { id, webhook }) {
            // The worker is gone (shut down): record it and do not count it as outstanding.
            self.finish(job.id, DeliveryOutcome::Abandoned);
        }
        id
    }

    fn record_attempt(&self, id: u64, attempt: Attempt, headers: &[(String, String)]) {
        if let Some(r) = self.lock().records.iter_mut().find(|r| r.id == id) {
            r.attempts.push(attempt);
            if r.headers.as_slice() != headers {
                r.headers = headers.to_vec();
            }
        }
    }

    fn finish(&self, id: u64, outcome: DeliveryOutcome) {
        if let Some(r) = self.lock().records.iter_mut().find(|r| r.id == id) {
            r.outcome = outcome;
        }
        self.outstanding.send_modify(|n| *n = n.saturating_sub(1));
    }

    /// Every delivery so far, oldest first.
    pub(crate) fn records(&self) -> Vec<DeliveryRecord> {
        self.lock().records.clone()
    }

    /// Deliveries queued or in flight.
    pub(crate) fn outstanding(&self) -> u64 {
        *self.outstanding.borrow()
    }

    /// Waits until the queue is empty and nothing is in flight.
    pub(crate) async fn flush(&self) {
        let mut rx = self.outstanding.subscribe();
        // `wait_for` fails only when the sender is dropped, and `self` holds it.
        let _ = rx.wait_for(|n| *n == 0).await;
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

struct Worker {
    delivery: Delivery,
    policy: DeliveryPolicy,
    client: reqwest::Client,
}

impl Worker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Job>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let job = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                job = rx.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
            };
            let id = job.id;
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {
                    self.delivery.finish(id, DeliveryOutcome::Abandoned);
                    break;
                }
                () = self.deliver(job) => {}
            }
        }
        rx.close();
        while let Ok(job) = rx.try_recv() {
            self.delivery.finish(job.id, DeliveryOutcome::Abandoned);
        }
    }

    async fn deliver(&self, job: Job) {
        let Job { id, webhook } = job;
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
    fn backoff_doubles_and_is_capped() {
        let p = DeliveryPolicy::default();
        assert_eq!(p.backoff(0), StdDuration::from_millis(100));
        assert_eq!(p.backoff(1), StdDuration::from_millis(200));
        assert_eq!(p.backoff(3), StdDuration::from_millis(800));
        assert_eq!(p.backoff(40), StdDuration::from_secs(10));
        assert_eq!(DeliveryPolicy::default().max_attempts(0).max_attempts, 1);
    }
}
