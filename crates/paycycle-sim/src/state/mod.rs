//! The state every frontend shares, below them all: the [`Engine`](engine::Engine), the
//! [`VirtualClock`](clock::VirtualClock), the webhook delivery queue, the configuration, ids and
//! pending faults. Frontends (each provider's API, control routes and payer pages, and the
//! shared control routes) depend on this module; nothing here names a frontend. A frontend
//! that renders its subscriptions' transitions as webhooks registers a [`Renderer`] for its
//! gateway when the simulator starts.

pub(crate) mod clock;
pub mod engine;

#[cfg(feature = "server")]
mod config;
#[cfg(feature = "server")]
pub(crate) mod delivery;
#[cfg(feature = "server")]
pub(crate) mod faults;
#[cfg(feature = "server")]
pub(crate) mod history;
#[cfg(feature = "server")]
pub(crate) mod ids;

#[cfg(feature = "server")]
pub use config::{
    DEFAULT_CRYPTOMUS_MERCHANT_ID, DEFAULT_CRYPTOMUS_PAYMENT_KEY, DEFAULT_RECURRENTE_ACCOUNT_NAME,
    DEFAULT_RECURRENTE_PUBLIC_KEY, DEFAULT_RECURRENTE_SECRET_KEY, DEFAULT_RECURRENTE_WEBHOOK_SECRET,
    RecurrentePaymentEvents, SimConfig,
};
#[cfg(feature = "server")]
pub use shared::Advanced;
#[cfg(feature = "server")]
pub(crate) use shared::{Renderer, Shared};

/// [`Shared`] and what it is made of, with the HTTP server only (the in-memory fake needs just
/// the engine and the clock).
#[cfg(feature = "server")]
mod shared {
    use std::fmt;
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

    use chrono::{DateTime, Utc};
    use paycycle_core::GatewayId;

    use super::SimConfig;
    use super::clock::VirtualClock;
    use super::delivery::{Delivery, Webhook};
    use super::engine::{self, Engine, EngineError, IdGen, Transition};
    use super::faults::Faults;
    use super::history::History;
    use crate::SimError;

    /// What [`Simulator::advance`](crate::Simulator::advance) did.
    #[derive(Debug, Clone)]
    #[non_exhaustive]
    pub struct Advanced {
        /// The new simulated time.
        pub now: DateTime<Utc>,
        /// Every transition that fell due, in time order (their webhooks are queued).
        pub transitions: Vec<Transition>,
    }

    /// A frontend's part in dispatching: what one transition of its gateway's subscriptions does
    /// to the frontend's own objects, and the webhooks it sends. Called once per transition, in
    /// engine order, under [`Shared::serial`] when the operation took it.
    pub(crate) trait Renderer: Send + Sync + fmt::Debug {
        /// The webhooks of `t` (none is fine).
        fn render(&self, shared: &Shared, t: &Transition) -> Vec<Webhook>;
    }

    /// The state every frontend shares: one engine, one clock, one delivery queue.
    #[derive(Debug)]
    pub(crate) struct Shared {
        pub(crate) engine: Engine,
        pub(crate) clock: Arc<VirtualClock>,
        pub(crate) delivery: Delivery,
        pub(crate) base_url: String,
        pub(crate) config: SimConfig,
        /// Canned answers waiting to be served (by the shared control routes' middleware).
        pub(crate) faults: Faults,
        /// Every subscription's transitions and the deliveries they queued (the dashboard's
        /// timelines).
        pub(crate) history: History,
        /// Who renders the transitions of each gateway's subscriptions.
        renderers: Vec<(GatewayId, Arc<dyn Renderer>)>,
        /// Held across "engine operation + dispatch of its transitions" by the operations that
        /// need their webhooks rendered in engine order (Recurrente's, the clock's), so two of them
        /// never interleave their dispatches.
        serial: Mutex<()>,
    }

    impl Shared {
        /// The shared state of a simulator listening at `base_url`.
        pub(crate) fn new(
            config: SimConfig,
            base_url: String,
            clock: Arc<VirtualClock>,
            delivery: Delivery,
            renderers: Vec<(GatewayId, Arc<dyn Renderer>)>,
        ) -> Shared {
            let ids = Arc::new(if config.deterministic_ids {
                IdGen::sequential()
            } else {
                IdGen::random()
            });
            Shared {
                engine: Engine::new(clock.clone(), ids),
                clock,
                delivery,
                base_url,
                config,
                faults: Faults::default(),
                history: History::default(),
                renderers,
                serial: Mutex::new(()),
            }
        }

        /// Takes the lock that serializes engine operations with their dispatch. Not reentrant:
        /// under it, use [`Shared::sync_held`], never [`Shared::sync`] or [`Shared::advance`].
        pub(crate) fn serial(&self) -> MutexGuard<'_, ()> {
            self.serial.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// Queues the webhooks of `transitions`, each rendered by the frontend owning its
        /// gateway, and records each transition with its deliveries in [`Shared::history`].
        /// Subscriptions of other gateways (an in-memory fake driving the engine) send none.
        pub(crate) fn dispatch(&self, transitions: &[Transition]) {
            for t in transitions {
                let deliveries = match self.renderers.iter().find(|(g, _)| g == t.gateway()) {
                    Some((_, r)) => r
                        .render(self, t)
                        .into_iter()
                        .map(|w| self.delivery.enqueue(w))
                        .collect(),
                    None => Vec::new(),
                };
                self.history.record(t, deliveries);
            }
        }

        /// Sends the webhook of delivery `id` again (same body, signed again with the same
        /// message id); returns the new delivery's id, `None` for an unknown id. The redelivery
        /// joins the history of the subscription the webhook is about.
        pub(crate) fn redeliver(&self, id: u64) -> Option<u64> {
            let new = self.delivery.redeliver(id)?;
            self.history.redelivered(id, new, self.clock.now());
            Some(new)
        }

        /// Queues webhooks a frontend rendered itself (events no transition causes).
        pub(crate) fn enqueue(&self, webhooks: Vec<Webhook>) {
            for w in webhooks {
                self.delivery.enqueue(w);
            }
        }

        /// Delivers an engine outcome's transitions and returns its result.
        pub(crate) fn run<T>(&self, outcome: engine::Outcome<T>) -> Result<T, EngineError> {
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
}
