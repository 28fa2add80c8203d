//! What happened to each subscription, for the dashboard's timelines: every transition the
//! dispatcher handled, with the ids of the webhook deliveries it queued, and the webhooks sent
//! again on request.
//!
//! The engine keeps only each subscription's current state; [`Shared::dispatch`] sees every
//! transition once, in engine order, and records it here. Subscriptions made by bulk seeding
//! have no transitions, so no history.
//!
//! [`Shared::dispatch`]: super::Shared::dispatch

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use super::engine::{State, Transition, TransitionKind};

/// One entry of a subscription's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// When (simulated time).
    pub(crate) at: DateTime<Utc>,
    /// What happened.
    pub(crate) what: What,
    /// The subscription's state right after.
    pub(crate) state: State,
    /// The ids of the (first copies of the) webhook deliveries it queued.
    pub(crate) deliveries: Vec<u64>,
}

/// What an [`Event`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum What {
    /// An engine transition.
    Transition(TransitionKind),
    /// The webhook of delivery `of` was sent again on request.
    Redelivered {
        /// The delivery sent again.
        of: u64,
    },
}

#[derive(Debug, Default)]
struct Inner {
    by_subscription: HashMap<String, Vec<Event>>,
    /// The subscription each delivery is about.
    subject: HashMap<u64, String>,
}

/// Every subscription's history. Thread-safe.
#[derive(Debug, Default)]
pub(crate) struct History {
    inner: Mutex<Inner>,
}

impl History {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Updates are plain inserts and pushes: the maps stay usable after a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `t` and the deliveries its webhooks got.
    pub(crate) fn record(&self, t: &Transition, deliveries: Vec<u64>) {
        let mut inner = self.lock();
        for id in &deliveries {
            inner.subject.insert(*id, t.subscription.id.clone());
        }
        inner
            .by_subscription
            .entry(t.subscription.id.clone())
            .or_default()
            .push(Event {
                at: t.at,
                what: What::Transition(t.kind.clone()),
                state: t.subscription.state,
                deliveries,
            });
    }

    /// Records that delivery `of` was sent again as delivery `new`, at `at`, when `of` is about
    /// a subscription (its state is taken from the last event).
    pub(crate) fn redelivered(&self, of: u64, new: u64, at: DateTime<Utc>) {
        let mut inner = self.lock();
        let Some(sub) = inner.subject.get(&of).cloned() else {
            return;
        };
        inner.subject.insert(new, sub.clone());
        let events = inner.by_subscription.entry(sub).or_default();
        let state = events.last().map_or(State::Pending, |e| e.state);
        events.push(Event {
            at,
            what: What::Redelivered { of },
            state,
            deliveries: vec![new],
        });
    }

    /// A subscription's history, oldest first.
    pub(crate) fn of(&self, subscription_id: &str) -> Vec<Event> {
        self.lock()
            .by_subscription
            .get(subscription_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The subscription a delivery is about, if any.
    pub(crate) fn subject(&self, delivery: u64) -> Option<String> {
        self.lock().subject.get(&delivery).cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use paycycle_core::{GatewayId, Interval};
    use rust_decimal::Decimal;

    use super::*;
    use crate::state::clock::VirtualClock;
    use crate::state::engine::{Engine, IdGen, NewSubscription, Terms};

    #[test]
    fn records_transitions_and_redeliveries_per_subscription() {
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let engine = Engine::new(Arc::new(VirtualClock::new(start)), Arc::new(IdGen::sequential()));
        let terms = Terms::new(Decimal::new(15, 0), "USD", Interval::monthly());
        let sub = engine
            .create(NewSubscription::new(GatewayId::CRYPTOMUS, "Gold", terms))
            .result
            .unwrap();
        let accepted = engine.accept(&sub.id);
        let h = History::default();
        for (i, t) in accepted.transitions.iter().enumerate() {
            h.record(t, vec![i as u64 + 1]);
        }
        let events = h.of(&sub.id);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].what, What::Transition(TransitionKind::Activated));
        assert_eq!(events[1].state, State::Active);
        assert_eq!(h.subject(2).as_deref(), Some(sub.id.as_str()));

        h.redelivered(2, 7, start);
        h.redelivered(99, 8, start); // about no subscription: ignored
        let events = h.of(&sub.id);
        assert_eq!(events.len(), 3);
        assert_eq!(events[2].what, What::Redelivered { of: 2 });
        assert_eq!(events[2].deliveries, [7]);
        assert_eq!(h.subject(7).as_deref(), Some(sub.id.as_str()));
        assert!(h.of("unknown").is_empty());
    }
}
