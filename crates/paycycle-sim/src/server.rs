//! The [`Simulator`] handle: configuration, the HTTP server, and the state every frontend shares.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::VirtualClock;
use crate::delivery::{Delivery, DeliveryPolicy, DeliveryRecord};
use crate::engine::{Engine, IdGen, Transition};
use crate::{SimError, control, cryptomus, pages};

/// The Cryptomus merchant id used when `CRYPTOMUS_MERCHANT_ID` is not set.
pub const DEFAULT_CRYPTOMUS_MERCHANT_ID: &str = "5c0ffee0-0000-4000-8000-00000000c0de";

/// The Cryptomus payment key used when `CRYPTOMUS_PAYMENT_KEY` is not set.
pub const DEFAULT_CRYPTOMUS_PAYMENT_KEY: &str = "paycycle-sim-cryptomus-payment-key-not-a-secret";

/// How to run a [`Simulator`].
#[derive(Clone)]
#[non_exhaustive]
pub struct SimConfig {
    /// Where to listen; must be a loopback address. Default `127.0.0.1:0` (any free port).
    pub addr: SocketAddr,
    /// The virtual clock's start; `None` (the default) is the real time, truncated to the second.
    pub start: Option<DateTime<Utc>>,
    /// The Cryptomus merchant id the `merchant` header must carry.
    pub cryptomus_merchant_id: String,
    /// The Cryptomus payment key requests and webhooks are signed with.
    pub cryptomus_payment_key: String,
    /// Webhook retries.
    pub delivery: DeliveryPolicy,
    /// Sequential uuid-shaped ids (`00000000-0000-4000-8000-000000000001`…) for reproducible output.
    pub deterministic_ids: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            start: None,
            cryptomus_merchant_id: DEFAULT_CRYPTOMUS_MERCHANT_ID.to_owned(),
            cryptomus_payment_key: DEFAULT_CRYPTOMUS_PAYMENT_KEY.to_owned(),
            delivery: DeliveryPolicy::default(),
            deterministic_ids: false,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("addr", &self.addr)
            .field("start", &self.start)
            .field("cryptomus_merchant_id", &self.cryptomus_merchant_id)
            .field("cryptomus_payment_key", &"[redacted]")
            .field("delivery", &self.delivery)
            .field("deterministic_ids", &self.deterministic_ids)
            .finish()
    }
}

impl SimConfig {
    /// The defaults, with the Cryptomus credentials from `CRYPTOMUS_MERCHANT_ID` and
    /// `CRYPTOMUS_PAYMENT_KEY` when they are set and not empty.
    pub fn from_env() -> SimConfig {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut c = SimConfig::default();
        if let Some(m) = var("CRYPTOMUS_MERCHANT_ID") {
            c.cryptomus_merchant_id = m;
        }
        if let Some(k) = var("CRYPTOMUS_PAYMENT_KEY") {
            c.cryptomus_payment_key = k;
        }
        c
    }

    /// Sets the listening address (loopback only).
    #[must_use]
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Starts the virtual clock at `start`.
    #[must_use]
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// Sets the Cryptomus credentials.
    #[must_use]
    pub fn cryptomus_credentials(mut self, merchant_id: impl Into<String>, payment_key: impl Into<String>) -> Self {
        self.cryptomus_merchant_id = merchant_id.into();
        self.cryptomus_payment_key = payment_key.into();
        self
    }

    /// Sets the webhook retry policy.
    #[must_use]
    pub fn delivery(mut self, policy: DeliveryPolicy) -> Self {
        self.delivery = policy;
        self
    }

    /// Makes ids sequential and reproducible.
    #[must_use]
    pub fn deterministic_ids(mut self, yes: bool) -> Self {
        self.deterministic_ids = yes;
        self
    }
}

/// What [`Simulator::advance`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Advanced {
    /// The new simulated time.
    pub now: DateTime<Utc>,
    /// Every transition that fell due, in time order (their webhooks are queued).
    pub transitions: Vec<Transition>,
}

/// The state every frontend shares: one engine, one clock, one delivery queue.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) clock: Arc<VirtualClock>,
    pub(crate) delivery: Delivery,
    pub(crate) base_url: String,
    pub(crate) config: SimConfig,
}

impl Shared {
    /// Queues the webhooks of `transitions`, each rendered by the frontend owning its subscription.
    pub(crate) fn dispatch(&self, transitions: &[Transition]) {
        for t in transitions {
            let webhooks = if *t.gateway() == cryptomus::GATEWAY {
                cryptomus::render(self, t)
            } else {
                // Recurrente: add its renderer here. Subscriptions of other gateways (an
                // in-memory fake driving the engine) send no webhooks.
                Vec::new()
            };
            for w in webhooks {
                self.delivery.enqueue(w);
            }
        }
    }

    /// Delivers an engine outcome's transitions and returns its result.
    pub(crate) fn run<T>(&self, outcome: crate::engine::Outcome<T>) -> Result<T, crate::engine::EngineError> {
        self.dispatch(&outcome.transitions);
        outcome.result
    }

    /// Processes what fell due up to the clock's time and queues its webhooks.
    pub(crate) fn sync(&self) -> Vec<Transition> {
        let t = self.engine.catch_up();
        self.dispatch(&t);
        t
    }

    /// Moves the clock and processes what fell due.
    pub(crate) fn advance(&self, by: chrono::Duration) -> Result<Advanced, SimError> {
        let now = self.clock.advance(by)?;
        let transitions = self.engine.advance_to(now);
        self.dispatch(&transitions);
        Ok(Advanced { now, transitions })
    }
}

/// Every route: the providers' APIs, the payer pages and the `/__sim` control API.
///
/// Each provider contributes a `routes()` router over the same [`Shared`] state; Recurrente's
/// (`/api/...`, `/pay/recurrente/...`, `/__sim/recurrente/...`) merge here the same way.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(cryptomus::routes())
        .merge(pages::routes())
        .merge(control::routes())
        .with_state(shared)
}

/// A running simulator: an HTTP server on loopback speaking the providers' APIs, a virtual
/// clock, and a webhook delivery queue.
///
/// Stop it with [`Simulator::shutdown`]; dropping it also stops the server and the delivery
/// worker (without waiting).
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    worker: Option<JoinHandle<()>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.shared.base_url)
            .field("now", &self.shared.clock.now())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds `config.addr`, starts serving and the delivery worker on the current tokio runtime.
    ///
    /// # Errors
    /// [`SimError::NotLoopback`] for a non-loopback address, [`SimError::Bind`] when it cannot be bound.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        if !config.addr.ip().is_loopback() {
            return Err(SimError::NotLoopback { addr: config.addr });
        }
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.addr,
            source,
        })?;
        let base_url = match addr {
            SocketAddr::V4(a) => format!("http://{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
        };
        let clock = Arc::new(match config.start {
            Some(start) => VirtualClock::new(start),
            None => VirtualClock::starting_now(),
        });
        let ids = Arc::new(if config.deterministic_ids {
            IdGen::sequential()
        } else {
            IdGen::random()
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (delivery, worker) = Delivery::start(config.delivery.clone(), shutdown_rx.clone());
        let shared = Arc::new(Shared {
            engine: Engine::new(clock.clone(), ids),
            clock,
            delivery,
            base_url,
            config,
        });
        let app = router(shared.clone());
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            let graceful = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(graceful).await {
                tracing::error!(error = %e, "paycycle-sim server stopped");
            }
        });
        Ok(Simulator {
            shared,
            addr,
            shutdown,
            server: Some(server),
            worker: Some(worker),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: the base URL to give clients.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Cryptomus merchant id requests must carry.
    pub fn cryptomus_merchant_id(&self) -> &str {
        &self.shared.config.cryptomus_merchant_id
    }

    /// The Cryptomus payment key (signs requests and webhooks).
    pub fn cryptomus_payment_key(&self) -> &str {
        &self.shared.config.cryptomus_payment_key
    }

    /// The virtual clock (share it with webhook verifiers that check times).
    pub fn clock(&self) -> Arc<VirtualClock> {
        self.shared.clock.clone()
    }

    /// The simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Moves the clock forward and runs every charge that fell due, in time order; their
    /// webhooks are queued (see [`Simulator::flush_webhooks`]).
    ///
    /// # Errors
    /// [`SimError::Clock`] for a negative or overflowing duration.
    pub fn advance(&self, by: chrono::Duration) -> Result<Advanced, SimError> {
        self.shared.advance(by)
    }

    /// The payer accepts a Cryptomus recurrence and pays the first period (as the payer page's
    /// Accept button does). Returns the transitions, their webhooks queued.
    ///
    /// # Errors
    /// [`SimError::NotFound`] for an unknown uuid, [`SimError::Engine`] when it is not waiting
    /// for acceptance.
    pub fn cryptomus_accept(&self, uuid: &str) -> Result<Vec<Transition>, SimError> {
        cryptomus::accept(&self.shared, uuid).map(|(_, t)| t)
    }

    /// The payer cancels a Cryptomus recurrence (status `cancel_by_user`).
    ///
    /// # Errors
    /// [`SimError::NotFound`] for an unknown uuid, [`SimError::Engine`] when already cancelled.
    pub fn cryptomus_cancel_by_user(&self, uuid: &str) -> Result<Vec<Transition>, SimError> {
        cryptomus::cancel_by_user(&self.shared, uuid).map(|(_, t)| t)
    }

    /// The recurrence object of a Cryptomus recurrence, with the fields and values
    /// `/v1/recurrence/info` returns (as a `Value`, which does not keep the field order).
    pub fn cryptomus_recurrence(&self, uuid: &str) -> Option<serde_json::Value> {
        self.shared.sync();
        cryptomus::get(&self.shared, uuid).and_then(|s| cryptomus::recurrence_value(&s, &self.shared.base_url))
    }

    /// Makes the next `n` charge attempts of a subscription fail (the first charge at
    /// acceptance, renewals, retries).
    ///
    /// For Cryptomus, what happens after a failed recurring charge is not public: the simulator
    /// sends a payment webhook with status `fail` and cancels the recurrence (no retries; its
    /// status becomes `cancel_by_merchant`, or `cancel_by_user` when the first charge failed).
    ///
    /// # Errors
    /// [`SimError::Engine`] for an unknown or ended subscription.
    pub fn fail_next_charges(&self, id: &str, n: u32) -> Result<(), SimError> {
        self.shared.run(self.shared.engine.fail_next_charges(id, n))?;
        Ok(())
    }

    /// Waits until every queued webhook was delivered, refused or given up.
    pub async fn flush_webhooks(&self) {
        self.shared.delivery.flush().await;
    }

    /// The log of every webhook so far, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.delivery.records()
    }

    /// Webhooks queued or in flight.
    pub fn pending_webhooks(&self) -> u64 {
        self.shared.delivery.outstanding()
    }

    /// Stops accepting requests, finishes the ones in flight, and stops the delivery worker
    /// (webhooks still queued are logged as abandoned; call [`Simulator::flush_webhooks`] first
    /// to deliver them).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
