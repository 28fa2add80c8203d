//! The [`Simulator`] handle: starts and stops the HTTP server, composes the frontends' routers
//! over the shared state, and offers in-process equivalents of the control routes.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::serve::ListenerExt as _;
use chrono::{DateTime, Utc};
use paycycle_core::GatewayId;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::Transition;
use crate::recurrente::{self, Attempt as RecurrenteAttempt, Outcome as RecurrenteOutcome};
use crate::seed::{Seed, Seeded, Stats};
use crate::state::clock::VirtualClock;
use crate::state::delivery::{Delivery, DeliveryMode, DeliveryRecord};
use crate::state::faults::Fault;
use crate::state::{Advanced, RecurrentePaymentEvents, Renderer, Shared, SimConfig};
use crate::{SimError, control, cryptomus, dashboard, seed};

/// Every route: each provider's API, control routes and payer pages, the shared `/__sim`
/// control routes, and in front of them all the fault injection.
fn router(shared: Arc<Shared>, recurrente: recurrente::Frontend, counted: seed::Counted) -> Router {
    Router::new()
        .merge(cryptomus::router(shared.clone()))
        .merge(dashboard::router(shared.clone(), recurrente.clone()))
        .merge(recurrente::router(recurrente))
        .merge(control::router(shared.clone()))
        .merge(seed::router(counted))
        .layer(axum::middleware::from_fn_with_state(shared, control::inject_faults))
}

/// The state and routes of one simulator, before any socket.
struct Assembled {
    shared: Arc<Shared>,
    recurrente: recurrente::Frontend,
    counted: seed::Counted,
    app: Router,
    shutdown: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
    worker: JoinHandle<()>,
}

/// Builds the shared state, starts the delivery worker (on the current tokio runtime) and
/// composes the routes. `base_url` is where the payer pages and webhooks say the simulator is.
fn assemble(config: SimConfig, base_url: String) -> Assembled {
    let clock = Arc::new(match config.start {
        Some(start) => VirtualClock::new(start),
        None => VirtualClock::starting_now(),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (delivery, worker) = Delivery::start(config.delivery.clone(), shutdown_rx.clone());
    // Each frontend that sends webhooks renders its own gateway's transitions; Recurrente's
    // objects are both its renderer and its routes' state.
    let recurrente_objects = Arc::new(recurrente::Store::default());
    let renderers: Vec<(GatewayId, Arc<dyn Renderer>)> = vec![
        (cryptomus::GATEWAY, Arc::new(cryptomus::Webhooks)),
        (recurrente::GATEWAY, recurrente_objects.clone()),
    ];
    let shared = Arc::new(Shared::new(config, base_url, clock, delivery, renderers));
    let recurrente = recurrente::Frontend::new(shared.clone(), recurrente_objects);
    let counted = seed::Counted {
        shared: shared.clone(),
        recurrente: recurrente.clone(),
        connections: Arc::new(AtomicU64::new(0)),
    };
    let app = router(shared.clone(), recurrente.clone(), counted.clone());
    Assembled {
        shared,
        recurrente,
        counted,
        app,
        shutdown,
        shutdown_rx,
        worker,
    }
}

/// The simulator's routes without a socket, for driving it in-process (the `sim_router` fuzz
/// target sends it arbitrary requests). Not part of the stable API.
///
/// Webhooks are queued and delivered as by a running [`Simulator`]; dropping the value stops
/// the delivery worker.
#[doc(hidden)]
pub struct InProcess {
    app: Router,
    shutdown: watch::Sender<bool>,
    worker: JoinHandle<()>,
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcess").finish_non_exhaustive()
    }
}

impl InProcess {
    /// Builds a simulator that answers as if it listened at `base_url`. Call it inside a tokio
    /// runtime.
    ///
    /// # Errors
    /// [`SimError::InvalidConfig`] as [`Simulator::start`].
    pub fn new(config: SimConfig, base_url: &str) -> Result<InProcess, SimError> {
        recurrente::check_config(&config)?;
        let Assembled {
            app, shutdown, worker, ..
        } = assemble(config, base_url.trim_end_matches('/').to_owned());
        Ok(InProcess { app, shutdown, worker })
    }

    /// The routes, with the fault injection in front of them (cheap to clone).
    pub fn router(&self) -> Router {
        self.app.clone()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.worker.abort();
    }
}

/// A running simulator: an HTTP server on loopback speaking the providers' APIs, a virtual
/// clock, and a webhook delivery queue.
///
/// Stop it with [`Simulator::shutdown`]; dropping it also stops the server and the delivery
/// worker (without waiting).
pub struct Simulator {
    shared: Arc<Shared>,
    recurrente: recurrente::Frontend,
    /// The seed and stats routes' state (with the count of accepted connections).
    counted: seed::Counted,
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

/// The accept queue's length. Tokio's `TcpListener::bind` asks for 1024: a burst of a thousand
/// clients connecting at once (a load test through one pooled client) overflows it, and the
/// kernel drops the extra SYNs, which the clients resend only a second or more later. Those late
/// connections then land in whatever the test does next and look like a client that does not
/// reuse its connections. The kernel caps this at `net.core.somaxconn` (4096 on current Linux).
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds `addr` with [`ACCEPT_BACKLOG`] (and `SO_REUSEADDR`, as `TcpListener::bind` sets).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

impl Simulator {
    /// Binds `config.addr`, starts serving and the delivery worker on the current tokio runtime.
    ///
    /// # Errors
    /// [`SimError::NotLoopback`] for a non-loopback address, [`SimError::Bind`] when it cannot be
    /// bound, [`SimError::InvalidConfig`] for a Recurrente webhook secret that is not
    /// `whsec_<base64>` or a webhook URL that is not a URL.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        if !config.addr.ip().is_loopback() {
            return Err(SimError::NotLoopback { addr: config.addr });
        }
        recurrente::check_config(&config)?;
        let listener = listen(config.addr).map_err(|source| SimError::Bind {
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
        let Assembled {
            shared,
            recurrente,
            counted,
            app,
            shutdown,
            shutdown_rx,
            worker,
        } = assemble(config, base_url);
        let connections = counted.connections.clone();
        // Counts every accepted TCP connection (`GET /__sim/stats`).
        let listener = listener.tap_io(move |_| {
            connections.fetch_add(1, Ordering::Relaxed);
        });
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
            recurrente,
            counted,
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

    /// The Recurrente `X-PUBLIC-KEY` requests must carry.
    pub fn recurrente_public_key(&self) -> &str {
        &self.shared.config.recurrente_public_key
    }

    /// The Recurrente `X-SECRET-KEY` requests must carry.
    pub fn recurrente_secret_key(&self) -> &str {
        &self.shared.config.recurrente_secret_key
    }

    /// The `whsec_…` secret of the webhooks sent to [`SimConfig::recurrente_webhook_url`]
    /// (endpoints created with `POST /api/webhook_endpoints` have their own, in the answer's
    /// `signingSecret`).
    pub fn recurrente_webhook_secret(&self) -> &str {
        &self.shared.config.recurrente_webhook_secret
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

    /// Creates many subscriptions at once, as `POST /__sim/seed` does: real objects the API
    /// lists and gets, announced by no webhook (100 000 take well under a second in release).
    ///
    /// ```
    /// use paycycle_core::GatewayId;
    /// use paycycle_sim::{Seed, SeedState, SimConfig, Simulator};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// let seeded = sim.seed(&Seed::new(GatewayId::CRYPTOMUS, 1000).state(SeedState::Active))?;
    /// assert_eq!(seeded.created, 1000);
    /// assert_eq!(sim.stats().subscriptions.cryptomus, 1000);
    /// sim.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SimError::Refused`] for a gateway other than Cryptomus and Recurrente, more than
    /// [`MAX_SEED`](crate::MAX_SEED), or a price the provider refuses.
    pub fn seed(&self, seed: &Seed) -> Result<Seeded, SimError> {
        seed::seed(&self.counted, seed)
    }

    /// Counters: TCP connections accepted, subscriptions by provider, webhooks queued (as
    /// `GET /__sim/stats`).
    pub fn stats(&self) -> Stats {
        seed::stats(&self.counted)
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
    /// For Recurrente, see [`Simulator::recurrente_fail_next_charge`] (which only accepts
    /// subscriptions the API shows).
    ///
    /// # Errors
    /// [`SimError::Engine`] for an unknown or ended subscription.
    pub fn fail_next_charges(&self, id: &str, n: u32) -> Result<(), SimError> {
        self.shared.run(self.shared.engine.fail_next_charges(id, n))?;
        Ok(())
    }

    /// The payer acts on a Recurrente checkout, as the payer page's buttons do: pays by card
    /// (`CardSuccess`), has the card declined (`CardDeclined`; the checkout stays `unpaid`) or
    /// starts a bank transfer (`BankTransferPending`; settle it with
    /// [`Simulator::recurrente_settle_bank_transfer`]). Returns what was created and the
    /// transitions; the webhooks are queued.
    ///
    /// # Errors
    /// [`SimError::NotFound`] for an unknown checkout; [`SimError::Refused`] when the checkout
    /// is paid, expired or has a transfer pending, when the product disallows the payment
    /// method, or for a bank transfer that would start a free trial.
    pub fn recurrente_pay(&self, checkout_id: &str, outcome: RecurrenteOutcome) -> Result<RecurrenteAttempt, SimError> {
        recurrente::pay(
            &self.recurrente.sim(),
            checkout_id,
            outcome,
            &recurrente::Payer::default(),
        )
    }

    /// The bank confirms (`succeeded`) or rejects a pending Recurrente bank transfer, named by
    /// its `ba_…` (bank transfer intent) or `pa_…` (payment) id.
    ///
    /// # Errors
    /// [`SimError::NotFound`] for an unknown id, [`SimError::Refused`] when it is not a pending
    /// bank transfer.
    pub fn recurrente_settle_bank_transfer(
        &self,
        payment_id: &str,
        succeeded: bool,
    ) -> Result<RecurrenteAttempt, SimError> {
        recurrente::settle(&self.recurrente.sim(), payment_id, succeeded, None)
    }

    /// Makes the next `count` charges of a Recurrente subscription fail: the next renewal goes
    /// `past_due` and is retried 3 and 5 days after its due time; when every attempt failed the
    /// subscription is `cancelled`.
    ///
    /// # Errors
    /// [`SimError::NotFound`] for an unknown subscription, [`SimError::Engine`] for an ended one.
    pub fn recurrente_fail_next_charge(&self, subscription_id: &str, count: u32) -> Result<(), SimError> {
        recurrente::fail_next_charge(&self.recurrente.sim(), subscription_id, count).map(|_| ())
    }

    /// Chooses which forms of Recurrente's payment events are sent from now on (see
    /// [`SimConfig::recurrente_payment_events`]); also `PUT /__sim/recurrente/payment_events`.
    pub fn set_recurrente_payment_events(&self, events: RecurrentePaymentEvents) {
        recurrente::set_payment_events(&self.recurrente.sim(), events);
    }

    /// A Recurrente checkout as `GET /api/checkouts/{id}` answers it.
    pub fn recurrente_checkout(&self, id: &str) -> Option<serde_json::Value> {
        recurrente::checkout_value(&self.recurrente.sim(), id)
    }

    /// A Recurrente subscription as `GET /api/subscriptions/{id}` answers it.
    pub fn recurrente_subscription(&self, id: &str) -> Option<serde_json::Value> {
        recurrente::subscription_value(&self.recurrente.sim(), id)
    }

    /// Makes the next requests to a path meet `fault` (a CDN's HTML page, a 429, a reset, a
    /// 502 after the request was applied, …; see [`FaultKind`](crate::FaultKind)).
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.faults.add(fault);
    }

    /// Removes every pending fault and resets the request counts.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// How many requests an API path (e.g. `/v1/recurrence/create`, any method) or a method and
    /// path (`"POST /api/checkouts"`) received since the start or the last
    /// [`Simulator::clear_faults`]: how many attempts a client made.
    pub fn requests_to(&self, path: &str) -> u64 {
        self.shared.faults.requests_to(path)
    }

    /// Waits until every queued webhook was delivered, refused or given up: held shuffle
    /// windows are released at once, and concurrent deliveries and every copy are waited for.
    pub async fn flush_webhooks(&self) {
        self.shared.delivery.flush().await;
    }

    /// Sets how webhooks to URLs starting with `url_prefix` are delivered (`None` or `""`: every
    /// URL; when several prefixes match, the longest wins), replacing the mode set before for
    /// the same prefix. It applies to webhooks queued from now on. See [`DeliveryMode`].
    ///
    /// ```
    /// use paycycle_sim::{DeliveryMode, SimConfig, Simulator};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// // Every webhook twice, racing, 10 % of them lost.
    /// sim.set_delivery_mode(None, DeliveryMode::default().copies(2).concurrent(true).drop_per_mille(100).seed(7))?;
    /// // But the ones to this receiver in a shuffled order, once each.
    /// sim.set_delivery_mode(Some("http://127.0.0.1:9000/hooks/"), DeliveryMode::default().shuffle_window(5))?;
    /// assert_eq!(sim.delivery_modes().len(), 2);
    /// sim.clear_delivery_modes();
    /// sim.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SimError::InvalidConfig`] naming `copies` (not 1..=[`MAX_COPIES`](crate::MAX_COPIES))
    /// or `drop_per_mille` (above 1000).
    pub fn set_delivery_mode(&self, url_prefix: Option<&str>, mode: DeliveryMode) -> Result<(), SimError> {
        self.shared.delivery.set_mode(url_prefix, mode)
    }

    /// Removes every delivery mode: webhooks queued from now on are delivered once each, in order.
    pub fn clear_delivery_modes(&self) {
        self.shared.delivery.clear_modes();
    }

    /// The delivery modes set, by URL prefix (`None`: every URL), in the order first set.
    pub fn delivery_modes(&self) -> Vec<(Option<String>, DeliveryMode)> {
        self.shared.delivery.modes()
    }

    /// The log of every webhook so far, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.delivery.records()
    }

    /// Deliveries queued, held in a shuffle window or in flight (each copy counts).
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
