//! The [`Simulator`] handle: configuration, the HTTP server, and the state every frontend shares.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::VirtualClock;
use crate::delivery::{Delivery, DeliveryMode, DeliveryPolicy, DeliveryRecord};
use crate::engine::{Engine, IdGen, Transition};
use crate::recurrente::{self, Attempt as RecurrenteAttempt, Outcome as RecurrenteOutcome};
use crate::{SimError, control, cryptomus, pages};

/// The Cryptomus merchant id used when `CRYPTOMUS_MERCHANT_ID` is not set.
pub const DEFAULT_CRYPTOMUS_MERCHANT_ID: &str = "5c0ffee0-0000-4000-8000-00000000c0de";

/// The Cryptomus payment key used when `CRYPTOMUS_PAYMENT_KEY` is not set.
pub const DEFAULT_CRYPTOMUS_PAYMENT_KEY: &str = "paycycle-sim-cryptomus-payment-key-not-a-secret";

/// The Recurrente public key (`X-PUBLIC-KEY`) used when `RECURRENTE_PUBLIC_KEY` is not set.
pub const DEFAULT_RECURRENTE_PUBLIC_KEY: &str = "pk_test_paycycle_sim";

/// The Recurrente secret key (`X-SECRET-KEY`) used when `RECURRENTE_SECRET_KEY` is not set.
pub const DEFAULT_RECURRENTE_SECRET_KEY: &str = "sk_test_paycycle_sim";

/// The secret that signs Recurrente webhooks sent to [`SimConfig::recurrente_webhook_url`] when
/// `RECURRENTE_WEBHOOK_SECRET` is not set: `whsec_` + base64 of the 24 bytes
/// `paycycle-sim-not-secret!`.
pub const DEFAULT_RECURRENTE_WEBHOOK_SECRET: &str = "whsec_cGF5Y3ljbGUtc2ltLW5vdC1zZWNyZXQh";

/// The account name `GET /api/test` greets (`{"message":"Hello paycycle-sim"}`).
pub const DEFAULT_RECURRENTE_ACCOUNT_NAME: &str = "paycycle-sim";

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
    /// The Recurrente `X-PUBLIC-KEY` every `/api/...` request must carry.
    pub recurrente_public_key: String,
    /// The Recurrente `X-SECRET-KEY` every `/api/...` request must carry.
    pub recurrente_secret_key: String,
    /// A URL that receives every Recurrente event (as the endpoint configured in Recurrente's
    /// dashboard would), besides the endpoints created with `POST /api/webhook_endpoints`.
    pub recurrente_webhook_url: Option<String>,
    /// The `whsec_…` secret the events sent to `recurrente_webhook_url` are signed with.
    pub recurrente_webhook_secret: String,
    /// The account name `GET /api/test` answers with.
    pub recurrente_account_name: String,
    /// Pausing a Recurrente subscription sends the legacy `subscription.paused` (the seed
    /// reference's, and the official plugin's) instead of today's `subscription.pause`.
    /// Default `false`.
    pub recurrente_legacy_pause_event: bool,
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
            recurrente_public_key: DEFAULT_RECURRENTE_PUBLIC_KEY.to_owned(),
            recurrente_secret_key: DEFAULT_RECURRENTE_SECRET_KEY.to_owned(),
            recurrente_webhook_url: None,
            recurrente_webhook_secret: DEFAULT_RECURRENTE_WEBHOOK_SECRET.to_owned(),
            recurrente_account_name: DEFAULT_RECURRENTE_ACCOUNT_NAME.to_owned(),
            recurrente_legacy_pause_event: false,
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
            .field("recurrente_public_key", &self.recurrente_public_key)
            .field("recurrente_secret_key", &"[redacted]")
            .field("recurrente_webhook_url", &self.recurrente_webhook_url)
            .field("recurrente_webhook_secret", &"[redacted]")
            .field("recurrente_account_name", &self.recurrente_account_name)
            .field("recurrente_legacy_pause_event", &self.recurrente_legacy_pause_event)
            .field("delivery", &self.delivery)
            .field("deterministic_ids", &self.deterministic_ids)
            .finish()
    }
}

impl SimConfig {
    /// The defaults, with the credentials the provider clients read when they are set and not
    /// empty: `CRYPTOMUS_MERCHANT_ID`, `CRYPTOMUS_PAYMENT_KEY`, `RECURRENTE_PUBLIC_KEY`,
    /// `RECURRENTE_SECRET_KEY` and `RECURRENTE_WEBHOOK_SECRET` (the first secret when it lists
    /// several, comma-separated, as the Recurrente client accepts during a rotation).
    pub fn from_env() -> SimConfig {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut c = SimConfig::default();
        if let Some(m) = var("CRYPTOMUS_MERCHANT_ID") {
            c.cryptomus_merchant_id = m;
        }
        if let Some(k) = var("CRYPTOMUS_PAYMENT_KEY") {
            c.cryptomus_payment_key = k;
        }
        if let Some(k) = var("RECURRENTE_PUBLIC_KEY") {
            c.recurrente_public_key = k;
        }
        if let Some(k) = var("RECURRENTE_SECRET_KEY") {
            c.recurrente_secret_key = k;
        }
        if let Some(first) = var("RECURRENTE_WEBHOOK_SECRET")
            .and_then(|v| v.split(',').map(str::trim).find(|s| !s.is_empty()).map(str::to_owned))
        {
            c.recurrente_webhook_secret = first;
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

    /// Sets the Recurrente API keys (`X-PUBLIC-KEY`, `X-SECRET-KEY`).
    #[must_use]
    pub fn recurrente_keys(mut self, public_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.recurrente_public_key = public_key.into();
        self.recurrente_secret_key = secret_key.into();
        self
    }

    /// Sends every Recurrente event to `url` too (loopback only), signed with
    /// [`SimConfig::recurrente_webhook_secret`].
    #[must_use]
    pub fn recurrente_webhook_url(mut self, url: impl Into<String>) -> Self {
        self.recurrente_webhook_url = Some(url.into());
        self
    }

    /// Sets the `whsec_…` secret of [`SimConfig::recurrente_webhook_url`].
    #[must_use]
    pub fn recurrente_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.recurrente_webhook_secret = secret.into();
        self
    }

    /// Sets the account name `GET /api/test` greets.
    #[must_use]
    pub fn recurrente_account_name(mut self, name: impl Into<String>) -> Self {
        self.recurrente_account_name = name.into();
        self
    }

    /// Sends the legacy `subscription.paused` when a Recurrente subscription is paused, instead
    /// of today's `subscription.pause` (the default).
    #[must_use]
    pub fn recurrente_legacy_pause_event(mut self, yes: bool) -> Self {
        self.recurrente_legacy_pause_event = yes;
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
    /// Recurrente's objects beyond the engine's subscriptions.
    pub(crate) recurrente: recurrente::Store,
    /// Canned answers waiting to be served (see [`crate::faults`]).
    pub(crate) faults: crate::faults::Faults,
    /// Held across "engine operation + dispatch of its transitions" by the operations that
    /// need their webhooks rendered in engine order (Recurrente's, the clock's), so two of them
    /// never interleave their dispatches.
    serial: Mutex<()>,
}

impl Shared {
    /// Takes the lock that serializes engine operations with their dispatch. Not reentrant:
    /// under it, use [`Shared::sync_held`], never [`Shared::sync`] or [`Shared::advance`].
    pub(crate) fn serial(&self) -> MutexGuard<'_, ()> {
        self.serial.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the webhooks of `transitions`, each rendered by the frontend owning its subscription.
    pub(crate) fn dispatch(&self, transitions: &[Transition]) {
        for t in transitions {
            let webhooks = if *t.gateway() == cryptomus::GATEWAY {
                cryptomus::render(self, t)
            } else if *t.gateway() == recurrente::GATEWAY {
                recurrente::apply(self, t)
            } else {
                // Subscriptions of other gateways (an in-memory fake driving the engine) send
                // no webhooks.
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
        let _serial = self.serial();
        self.sync_held()
    }

    /// [`Shared::sync`] for a caller holding [`Shared::serial`].
    pub(crate) fn sync_held(&self) -> Vec<Transition> {
        let t = self.engine.catch_up();
        self.dispatch(&t);
        t
    }

    /// Moves the clock and processes what fell due.
    pub(crate) fn advance(&self, by: chrono::Duration) -> Result<Advanced, SimError> {
        let _serial = self.serial();
        let now = self.clock.advance(by)?;
        let transitions = self.engine.advance_to(now);
        self.dispatch(&transitions);
        Ok(Advanced { now, transitions })
    }
}

/// Every route: the providers' APIs, the payer pages and the `/__sim` control API.
///
/// Each provider contributes a `routes()` router over the same [`Shared`] state.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(cryptomus::routes())
        .merge(recurrente::routes())
        .merge(pages::routes())
        .merge(control::routes())
        .route(
            "/__sim/faults",
            axum::routing::post(crate::faults::add).delete(crate::faults::clear),
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            crate::faults::inject,
        ))
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
    /// [`SimError::NotLoopback`] for a non-loopback address, [`SimError::Bind`] when it cannot be
    /// bound, [`SimError::InvalidConfig`] for a Recurrente webhook secret that is not
    /// `whsec_<base64>` or a webhook URL that is not a URL.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        if !config.addr.ip().is_loopback() {
            return Err(SimError::NotLoopback { addr: config.addr });
        }
        recurrente::check_config(&config)?;
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
            recurrente: recurrente::Store::default(),
            faults: crate::faults::Faults::default(),
            serial: Mutex::new(()),
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
        recurrente::pay(&self.shared, checkout_id, outcome, &recurrente::Payer::default())
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
        recurrente::settle(&self.shared, payment_id, succeeded)
    }

    /// Makes the next `count` charges of a Recurrente subscription fail: the next renewal goes
    /// `past_due` and is retried 3 and 5 days after its due time; when every attempt failed the
    /// subscription is `cancelled`.
    ///
    /// # Errors
    /// [`SimError::NotFound`] for an unknown subscription, [`SimError::Engine`] for an ended one.
    pub fn recurrente_fail_next_charge(&self, subscription_id: &str, count: u32) -> Result<(), SimError> {
        recurrente::fail_next_charge(&self.shared, subscription_id, count).map(|_| ())
    }

    /// A Recurrente checkout as `GET /api/checkouts/{id}` answers it.
    pub fn recurrente_checkout(&self, id: &str) -> Option<serde_json::Value> {
        recurrente::checkout_value(&self.shared, id)
    }

    /// A Recurrente subscription as `GET /api/subscriptions/{id}` answers it.
    pub fn recurrente_subscription(&self, id: &str) -> Option<serde_json::Value> {
        recurrente::subscription_value(&self.shared, id)
    }

    /// Makes the next requests to a path answer `fault` instead (a CDN's HTML page, a 429, …).
    pub fn inject_fault(&self, fault: crate::faults::Fault) {
        self.shared.faults.add(fault);
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
