//! The provider-neutral lifecycle engine: subscriptions, their billing schedule, and the
//! transitions that frontends turn into webhooks.
//!
//! No HTTP here. The HTTP frontends ([`crate::Simulator`]) and an in-memory fake gateway drive
//! the same [`Engine`].
//!
//! # Billing rules
//! - The first period starts when the payer accepts ([`Engine::accept`]); the first charge is
//!   taken then. With a trial, the first period (and the first charge) starts when the trial ends.
//! - Charge `n` (0-based) is due at `interval.add_to(anchor, n)`, calendar months included
//!   (Jan 31 → Feb 28 → Mar 31).
//! - Intro offer `(amount, days)`: a charge due at `t` costs the intro amount iff
//!   `t < accepted_at + days` (Cryptomus' `discount_days`/`discount_amount`).
//! - [`Engine::advance_to`] processes every due event of every subscription **in time order**
//!   (ties by creation order), several periods if the clock jumped several.
//! - A failed renewal (see [`Engine::fail_next_charges`]) makes the subscription `PastDue` and is
//!   retried at the offsets of [`Terms::retry_after`] (measured from the failed charge's due
//!   time); when they are exhausted (or there are none) the gateway cancels it. A failed first
//!   charge at acceptance makes it `Failed` (never started). A failure at the end of a trial is
//!   treated as a failed renewal (the payment method exists).
//! - With `end_after_periods = N`, the subscription ends (cancelled by the gateway) when charge
//!   `N` would fall due, i.e. at the end of the N-th paid period.
//! - Paused subscriptions are not charged; periods that fall due while paused are skipped.
//!   The same holds for a cancelled subscription brought back by [`Engine::reactivate`].

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use paycycle_core::{CancelledBy, Clock, GatewayId, Interval, SubscriptionStatus};
use rust_decimal::Decimal;
use serde::Serialize;

/// Makes identifiers: random uuid v4, or sequential uuid-shaped ones for reproducible output.
#[derive(Debug)]
pub struct IdGen {
    sequential: bool,
    next: AtomicU64,
}

impl IdGen {
    /// Random uuid v4 (the default).
    pub fn random() -> IdGen {
        IdGen {
            sequential: false,
            next: AtomicU64::new(1),
        }
    }

    /// `00000000-0000-4000-8000-000000000001`, `…002`, …: valid uuid v4 shapes, predictable.
    pub fn sequential() -> IdGen {
        IdGen {
            sequential: true,
            next: AtomicU64::new(1),
        }
    }

    /// The next identifier.
    pub fn next_uuid(&self) -> String {
        if self.sequential {
            let n = self.next.fetch_add(1, Ordering::Relaxed) % 1_000_000_000_000;
            format!("00000000-0000-4000-8000-{n:012}")
        } else {
            uuid::Uuid::new_v4().to_string()
        }
    }
}

/// A reduced price for the first days (Cryptomus: `discount_amount` for `discount_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intro {
    /// The price of a charge falling due within the first `days` days.
    pub amount: Decimal,
    /// Days from acceptance.
    pub days: u32,
}

/// What a subscription bills, independent of any provider.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Terms {
    /// The price of one period.
    pub amount: Decimal,
    /// The price's currency code, as the frontend understands it (`USD`, `USDT`, `GTQ`).
    pub currency: String,
    /// How often.
    pub interval: Interval,
    /// A free trial before the first period.
    pub trial: Option<Interval>,
    /// A reduced price at the start.
    pub intro: Option<Intro>,
    /// Ends (cancelled by the gateway) after this many paid periods.
    pub end_after_periods: Option<NonZeroU32>,
    /// When a renewal fails, retry at these offsets from its due time; then the gateway cancels.
    /// Empty (the default): the first failed renewal cancels.
    pub retry_after: Vec<Duration>,
}

impl Terms {
    /// `amount` of `currency` every `interval`, nothing else.
    pub fn new(amount: Decimal, currency: impl Into<String>, interval: Interval) -> Terms {
        Terms {
            amount,
            currency: currency.into(),
            interval,
            trial: None,
            intro: None,
            end_after_periods: None,
            retry_after: Vec::new(),
        }
    }

    /// Adds a free trial.
    #[must_use]
    pub fn with_trial(mut self, trial: Interval) -> Terms {
        self.trial = Some(trial);
        self
    }

    /// Adds an intro price for the first `days` days.
    #[must_use]
    pub fn with_intro(mut self, amount: Decimal, days: u32) -> Terms {
        self.intro = Some(Intro { amount, days });
        self
    }

    /// Ends after `periods` paid periods.
    #[must_use]
    pub fn with_end_after_periods(mut self, periods: NonZeroU32) -> Terms {
        self.end_after_periods = Some(periods);
        self
    }

    /// Sets the retry offsets of failed renewals (Recurrente: 3 and 5 days).
    #[must_use]
    pub fn with_retries(mut self, retry_after: Vec<Duration>) -> Terms {
        self.retry_after = retry_after;
        self
    }
}

/// Provider-specific data a frontend keeps with a subscription (the wire request as sent, say).
/// The engine never looks inside.
#[derive(Clone, Default)]
pub struct Extension(Option<Arc<dyn Any + Send + Sync>>);

impl Extension {
    /// Wraps a value.
    pub fn new<T: Any + Send + Sync>(value: T) -> Extension {
        Extension(Some(Arc::new(value)))
    }

    /// The value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|v| v.downcast_ref::<T>())
    }
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Extension(..)"
        } else {
            "Extension(none)"
        })
    }
}

/// Where a subscription is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Created, waiting for the payer.
    Pending,
    /// Accepted, in its free trial; the first charge is at the trial's end.
    Trialing,
    /// Paid up.
    Active,
    /// A renewal failed; retries are scheduled.
    PastDue,
    /// Not billing until resumed.
    Paused,
    /// Ended; nothing more is charged unless [`Engine::reactivate`]d.
    Cancelled {
        /// Who ended it.
        by: CancelledBy,
    },
    /// Never started (declined, or the first charge failed).
    Failed,
}

impl State {
    /// A short snake_case name (`past_due`).
    pub fn name(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Trialing => "trialing",
            State::Active => "active",
            State::PastDue => "past_due",
            State::Paused => "paused",
            State::Cancelled { .. } => "cancelled",
            State::Failed => "failed",
        }
    }

    /// The shared status (a trial counts as `Active`: the subscription is running).
    pub fn status(&self) -> SubscriptionStatus {
        match *self {
            State::Pending => SubscriptionStatus::Pending,
            State::Trialing | State::Active => SubscriptionStatus::Active,
            State::PastDue => SubscriptionStatus::PastDue,
            State::Paused => SubscriptionStatus::Paused,
            State::Cancelled { by } => SubscriptionStatus::Cancelled { by },
            State::Failed => SubscriptionStatus::Failed,
        }
    }

    /// True once nothing more can happen.
    pub fn is_terminal(&self) -> bool {
        matches!(self, State::Cancelled { .. } | State::Failed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed renewal being retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dunning {
    /// The period whose charge failed.
    pub period_index: u32,
    /// When that charge was due.
    pub due_at: DateTime<Utc>,
    /// Attempts made so far (the first failure counts).
    pub attempts: u32,
    /// The next retry.
    pub next_retry_at: DateTime<Utc>,
}

/// A subscription as the engine holds it (returned as a snapshot).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Subscription {
    /// Its id (uuid-shaped unless the frontend chose one).
    pub id: String,
    /// Creation order, from 1.
    pub seq: u64,
    /// The provider frontend that owns it.
    pub gateway: GatewayId,
    /// Shown to the payer.
    pub name: String,
    /// The merchant's reference (Cryptomus `order_id`).
    pub reference: Option<String>,
    /// What it bills.
    pub terms: Terms,
    /// Where it is.
    pub state: State,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the payer accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When it first became active (first successful charge).
    pub activated_at: Option<DateTime<Utc>>,
    /// Start of the first period (acceptance, or the end of the trial).
    pub anchor: Option<DateTime<Utc>>,
    /// Index of the next scheduled charge.
    pub next_period_index: u32,
    /// When the next scheduled charge falls due (trialing, active, paused).
    pub next_charge_at: Option<DateTime<Utc>>,
    /// Successful charges so far.
    pub periods_paid: u32,
    /// The last successful charge.
    pub last_paid_at: Option<DateTime<Utc>>,
    /// The failed renewal being retried, while past due.
    pub dunning: Option<Dunning>,
    /// When it was cancelled, ended or failed.
    pub ended_at: Option<DateTime<Utc>>,
    /// Charge attempts still to fail on purpose ([`Engine::fail_next_charges`]).
    pub failures_pending: u32,
    /// Time of the last event processed for it (events never go back in time).
    pub last_event_at: DateTime<Utc>,
    /// The frontend's own data.
    pub extension: Extension,
}

impl Subscription {
    /// The price of a charge due at `due`: the intro amount within the intro days, else the full amount.
    pub fn price_at(&self, due: DateTime<Utc>) -> Decimal {
        match (&self.terms.intro, self.accepted_at) {
            (Some(intro), Some(start)) if due < start + Duration::days(i64::from(intro.days)) => intro.amount,
            _ => self.terms.amount,
        }
    }

    /// When the intro price stops applying: acceptance (or, before it, creation) plus the intro days.
    pub fn intro_ends_at(&self) -> Option<DateTime<Utc>> {
        let intro = self.terms.intro.as_ref()?;
        let start = self.accepted_at.unwrap_or(self.created_at);
        start.checked_add_signed(Duration::days(i64::from(intro.days)))
    }

    fn scheduled(&self, index: u32) -> Option<DateTime<Utc>> {
        self.terms.interval.add_to(self.anchor?, index)
    }

    /// The next event's time and kind, if any.
    fn next_event(&self) -> Option<(DateTime<Utc>, Due)> {
        let (at, due) = match self.state {
            State::Trialing | State::Active => {
                let at = self.next_charge_at?;
                match self.terms.end_after_periods {
                    Some(n) if self.periods_paid >= n.get() => (at, Due::End),
                    _ => (at, Due::Charge),
                }
            }
            State::PastDue => (self.dunning.as_ref()?.next_retry_at, Due::Retry),
            _ => return None,
        };
        Some((at.max(self.last_event_at), due))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Charge,
    Retry,
    End,
}

/// What changed, in order. Frontends render webhooks from these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransitionKind {
    /// The payer accepted and a free trial began.
    TrialStarted {
        /// When the trial ends (and the first charge is due).
        ends_at: DateTime<Utc>,
    },
    /// The subscription became active for the first time (its first charge succeeded).
    Activated,
    /// A charge succeeded.
    Charged {
        /// Which period (0 = the first).
        period_index: u32,
        /// The amount, in the terms' currency.
        amount: Decimal,
        /// The payment's id.
        payment_id: String,
        /// 1 for the scheduled attempt, 2+ for retries.
        attempt: u32,
    },
    /// A charge failed.
    ChargeFailed {
        /// Which period.
        period_index: u32,
        /// The amount asked.
        amount: Decimal,
        /// The failed payment's id.
        payment_id: String,
        /// 1 for the scheduled attempt, 2+ for retries.
        attempt: u32,
    },
    /// A renewal failed; the subscription is past due until a retry succeeds.
    PastDue {
        /// The first retry.
        next_retry_at: DateTime<Utc>,
    },
    /// A retry succeeded; the subscription is active again.
    Recovered,
    /// Paused.
    Paused,
    /// Resumed.
    Resumed,
    /// A cancelled subscription was reactivated.
    Reactivated,
    /// The payer declined before starting.
    Declined,
    /// The first charge failed; the subscription never started.
    StartFailed,
    /// Cancelled (by the merchant, the payer, or the gateway after failed retries).
    Cancelled {
        /// Who.
        by: CancelledBy,
    },
    /// Reached its agreed number of periods and ended (the state is cancelled by the gateway).
    Ended {
        /// Periods paid.
        periods_paid: u32,
    },
}

/// One transition of one subscription, with the subscription as it was right after.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Transition {
    /// When it happened (simulated time).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: TransitionKind,
    /// The subscription right after it.
    pub subscription: Subscription,
}

impl Transition {
    /// The subscription's id.
    pub fn subscription_id(&self) -> &str {
        &self.subscription.id
    }

    /// The frontend that owns the subscription.
    pub fn gateway(&self) -> &GatewayId {
        &self.subscription.gateway
    }
}

impl Serialize for Transition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            subscription_id: &'a str,
            gateway: &'a str,
            at: String,
            #[serde(flatten)]
            kind: &'a TransitionKind,
            status: &'static str,
            currency: &'a str,
        }
        View {
            subscription_id: &self.subscription.id,
            gateway: self.subscription.gateway.as_str(),
            at: crate::rfc3339(self.at),
            kind: &self.kind,
            status: self.subscription.state.name(),
            currency: &self.subscription.terms.currency,
        }
        .serialize(s)
    }
}

/// Why the engine refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No subscription has this id.
    #[error("no subscription `{id}`")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// Another subscription of the same gateway has this reference.
    #[error("the reference `{reference}` is already used")]
    DuplicateReference {
        /// The reference.
        reference: String,
    },
    /// Another subscription has this id.
    #[error("the id `{id}` is already used")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// It was already cancelled.
    #[error("subscription `{id}` is already cancelled")]
    AlreadyCancelled {
        /// The id.
        id: String,
    },
    /// The operation does not apply in the current state.
    #[error("cannot {action} subscription `{id}`: it is {state}")]
    InvalidState {
        /// The id.
        id: String,
        /// Its state.
        state: State,
        /// What was attempted.
        action: &'static str,
    },
}

/// The result of an engine operation, with every transition that happened during it.
///
/// Operations first process what fell due up to the clock's time, so `transitions` may hold
/// transitions of other subscriptions, and it is filled even when `result` is an error: always
/// hand them to the delivery side.
#[derive(Debug)]
#[must_use = "the transitions must be delivered even when the result is an error"]
pub struct Outcome<T> {
    /// What the operation returned.
    pub result: Result<T, EngineError>,
    /// Everything that happened, in time order.
    pub transitions: Vec<Transition>,
}

/// What to create.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewSubscription {
    /// The frontend that owns it.
    pub gateway: GatewayId,
    /// The id to use; a fresh uuid when `None`.
    pub id: Option<String>,
    /// Shown to the payer.
    pub name: String,
    /// What it bills.
    pub terms: Terms,
    /// The merchant's reference.
    pub reference: Option<String>,
    /// Refuse a reference already used by a subscription of the same gateway.
    pub unique_reference: bool,
    /// The frontend's own data.
    pub extension: Extension,
}

impl NewSubscription {
    /// A subscription of `gateway` named `name` billing `terms`.
    pub fn new(gateway: GatewayId, name: impl Into<String>, terms: Terms) -> NewSubscription {
        NewSubscription {
            gateway,
            id: None,
            name: name.into(),
            terms,
            reference: None,
            unique_reference: false,
            extension: Extension::default(),
        }
    }

    /// Uses this id instead of a fresh uuid.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> NewSubscription {
        self.id = Some(id.into());
        self
    }

    /// Sets the merchant's reference; `unique` refuses one already used in the same gateway.
    #[must_use]
    pub fn with_reference(mut self, reference: Option<String>, unique: bool) -> NewSubscription {
        self.reference = reference;
        self.unique_reference = unique;
        self
    }

    /// Attaches the frontend's data.
    #[must_use]
    pub fn with_extension(mut self, extension: Extension) -> NewSubscription {
        self.extension = extension;
        self
    }
}

/// How [`Engine::seed`] leaves the subscriptions it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedState {
    /// Created, never accepted.
    Pending,
    /// Accepted now, the first period paid.
    Active,
    /// Accepted now, the first charge failed and is being retried (at the first retry offset,
    /// else in three days).
    PastDue,
    /// Accepted now, the first period paid, then paused.
    Paused,
    /// Accepted now, the first period paid, then cancelled by the merchant.
    Cancelled,
}

impl SeedState {
    /// Reads `pending`, `active`, `past_due`, `paused`, `cancelled`.
    pub fn parse(s: &str) -> Option<SeedState> {
        Some(match s {
            "pending" => SeedState::Pending,
            "active" => SeedState::Active,
            "past_due" => SeedState::PastDue,
            "paused" => SeedState::Paused,
            "cancelled" | "canceled" => SeedState::Cancelled,
            _ => return None,
        })
    }
}

/// A Fenwick tree of counts over positions 1..=n, growing at the end: prefix sums and the
/// k-th counted position in O(log n).
#[derive(Debug)]
struct Fenwick {
    /// `tree[0]` is unused.
    tree: Vec<i64>,
}

impl Default for Fenwick {
    fn default() -> Fenwick {
        Fenwick { tree: vec![0] }
    }
}

impl Fenwick {
    fn len(&self) -> usize {
        self.tree.len() - 1
    }

    /// Appends position `len + 1` with value `v`.
    fn push(&mut self, v: i64) {
        let i = self.tree.len();
        let low = i & i.wrapping_neg();
        let node = v + self.prefix(i - 1) - self.prefix(i - low);
        self.tree.push(node);
    }

    /// Adds `d` at position `i` (from 1).
    fn add(&mut self, mut i: usize, d: i64) {
        while i < self.tree.len() {
            if let Some(x) = self.tree.get_mut(i) {
                *x += d;
            }
            i += i & i.wrapping_neg();
        }
    }

    /// The sum over positions 1..=i.
    fn prefix(&self, mut i: usize) -> i64 {
        let mut sum = 0;
        while i > 0 {
            sum += self.tree.get(i).copied().unwrap_or(0);
            i -= i & i.wrapping_neg();
        }
        sum
    }

    /// The smallest position whose prefix sum reaches `k` (from 1), if any.
    fn find(&self, k: i64) -> Option<usize> {
        let n = self.len();
        if k < 1 || k > self.prefix(n) {
            return None;
        }
        let mut pos = 0;
        let mut rem = k;
        let mut step = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        while step > 0 {
            let next = pos + step;
            if next <= n {
                let v = self.tree.get(next).copied().unwrap_or(0);
                if v < rem {
                    pos = next;
                    rem -= v;
                }
            }
            step >>= 1;
        }
        Some(pos + 1)
    }
}

/// One gateway's subscriptions in creation order, and which of them have started (left
/// `Pending`).
#[derive(Debug, Default)]
struct GatewayIndex {
    /// Indices into [`EngineState::subs`], oldest first (so `seq`s ascending).
    subs: Vec<usize>,
    /// 1 at each position (from 1) whose subscription is no longer pending.
    started: Fenwick,
}

/// Where each subscription sits in the indexes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Its position (from 1) in its gateway's [`GatewayIndex`].
    position: usize,
    /// Counted as started in its gateway's index.
    started: bool,
    /// Its key in [`EngineState::due`].
    due: Option<DateTime<Utc>>,
}

/// Subscriptions, with indexes that make every operation O(log n) in their number: by id, by
/// gateway in creation order (with started counts for pages that hide pending ones), by
/// reference, and by the time of their next event.
#[derive(Debug, Default)]
struct EngineState {
    subs: Vec<Subscription>,
    slots: Vec<Slot>,
    by_id: HashMap<String, usize>,
    by_gateway: HashMap<GatewayId, GatewayIndex>,
    /// Indices of the subscriptions with each (gateway, reference), oldest first.
    by_reference: HashMap<(GatewayId, String), Vec<usize>>,
    /// `(next event time, seq)` of every subscription with an event to come.
    due: BTreeSet<(DateTime<Utc>, u64)>,
    /// Subscriptions changed since their index entries were last brought up to date.
    touched: Vec<usize>,
}

/// The lifecycle engine. Thread-safe; every method takes `&self`.
#[derive(Debug)]
pub struct Engine {
    clock: Arc<dyn Clock>,
    ids: Arc<IdGen>,
    state: Mutex<EngineState>,
}

impl Engine {
    /// An engine reading time from `clock` and making ids with `ids`.
    pub fn new(clock: Arc<dyn Clock>, ids: Arc<IdGen>) -> Engine {
        Engine {
            clock,
            ids,
            state: Mutex::new(EngineState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, EngineState> {
        // Nothing under this lock panics by design; if something ever did, the state is still
        // structurally valid (every update is a plain field write), so keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The engine's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A fresh id from the engine's generator.
    pub fn next_id(&self) -> String {
        self.ids.next_uuid()
    }

    /// Runs `op` after catching up to the clock's time, under one lock.
    fn with_state<T>(
        &self,
        op: impl FnOnce(&mut EngineState, DateTime<Utc>, &mut Vec<Transition>) -> Result<T, EngineError>,
    ) -> Outcome<T> {
        let now = self.clock.now();
        let mut st = self.lock();
        let mut transitions = st.advance_to(now, &self.ids);
        let result = op(&mut st, now, &mut transitions);
        st.reindex_touched();
        Outcome { result, transitions }
    }

    /// Processes every event due up to `until`, in time order, and returns the transitions.
    pub fn advance_to(&self, until: DateTime<Utc>) -> Vec<Transition> {
        self.lock().advance_to(until, &self.ids)
    }

    /// [`Engine::advance_to`] the clock's time.
    pub fn catch_up(&self) -> Vec<Transition> {
        self.advance_to(self.clock.now())
    }

    /// Creates a pending subscription.
    pub fn create(&self, new: NewSubscription) -> Outcome<Subscription> {
        self.with_state(|st, now, _| {
            let sub = st.insert(new, now, &self.ids)?;
            Ok(sub.clone())
        })
    }

    /// Creates `count` subscriptions at once, in `state`, under one lock, with no transitions of
    /// their own (nothing is announced; the outcome's transitions are those of other
    /// subscriptions that fell due first): for tests and benchmarks that need many. `make(i)`
    /// describes the `i`-th (from 0). Stops at the first refused one (a duplicate id or
    /// reference); those created before it stay.
    pub fn seed(
        &self,
        count: usize,
        state: SeedState,
        mut make: impl FnMut(usize) -> NewSubscription,
    ) -> Outcome<Vec<Subscription>> {
        self.with_state(|st, now, _| {
            let mut created = Vec::with_capacity(count);
            for i in 0..count {
                let sub = st.insert(make(i), now, &self.ids)?;
                seed_state(sub, state, now);
                created.push(sub.clone());
            }
            Ok(created)
        })
    }

    /// The payer accepts: the first charge now, or the trial starts.
    pub fn accept(&self, id: &str) -> Outcome<Subscription> {
        self.with_state(|st, now, out| {
            let sub = st.get_mut(id)?;
            if sub.state != State::Pending {
                return Err(invalid(sub, "accept"));
            }
            sub.accepted_at = Some(now);
            sub.last_event_at = now;
            if let Some(trial) = sub.terms.trial {
                let ends_at = trial.add_to(now, 1).unwrap_or(DateTime::<Utc>::MAX_UTC);
                sub.state = State::Trialing;
                sub.anchor = Some(ends_at);
                sub.next_period_index = 0;
                sub.next_charge_at = Some(ends_at);
                push(out, now, TransitionKind::TrialStarted { ends_at }, sub);
                return Ok(sub.clone());
            }
            sub.anchor = Some(now);
            let amount = sub.price_at(now);
            let payment_id = self.ids.next_uuid();
            if sub.failures_pending > 0 {
                sub.failures_pending -= 1;
                sub.state = State::Failed;
                sub.ended_at = Some(now);
                let kind = TransitionKind::ChargeFailed {
                    period_index: 0,
                    amount,
                    payment_id,
                    attempt: 1,
                };
                push(out, now, kind, sub);
                push(out, now, TransitionKind::StartFailed, sub);
                return Ok(sub.clone());
            }
            paid(sub, 0, now);
            sub.state = State::Active;
            sub.activated_at = Some(now);
            push(out, now, TransitionKind::Activated, sub);
            let kind = TransitionKind::Charged {
                period_index: 0,
                amount,
                payment_id,
                attempt: 1,
            };
            push(out, now, kind, sub);
            Ok(sub.clone())
        })
    }

    /// The payer declines before starting: the subscription fails (never started).
    pub fn decline(&self, id: &str) -> Outcome<Subscription> {
        self.with_state(|st, now, out| {
            let sub = st.get_mut(id)?;
            if sub.state != State::Pending {
                return Err(invalid(sub, "decline"));
            }
            sub.state = State::Failed;
            sub.ended_at = Some(now);
            sub.last_event_at = now;
            push(out, now, TransitionKind::Declined, sub);
            Ok(sub.clone())
        })
    }

    /// Cancels, by whoever: no more charges.
    ///
    /// Errors: [`EngineError::AlreadyCancelled`] when cancelled before,
    /// [`EngineError::InvalidState`] when it failed to start.
    pub fn cancel(&self, id: &str, by: CancelledBy) -> Outcome<Subscription> {
        self.with_state(|st, now, out| {
            let sub = st.get_mut(id)?;
            match sub.state {
                State::Cancelled { .. } => return Err(EngineError::AlreadyCancelled { id: sub.id.clone() }),
                State::Failed => return Err(invalid(sub, "cancel")),
                _ => {}
            }
            sub.state = State::Cancelled { by };
            sub.ended_at = Some(now);
            sub.dunning = None;
            sub.next_charge_at = None;
            sub.last_event_at = now;
            push(out, now, TransitionKind::Cancelled { by }, sub);
            Ok(sub.clone())
        })
    }

    /// Pauses an active (or trialing) subscription: nothing is charged until resumed.
    pub fn pause(&self, id: &str) -> Outcome<Subscription> {
        self.with_state(|st, now, out| {
            let sub = st.get_mut(id)?;
            if !matches!(sub.state, State::Active | State::Trialing) {
                return Err(invalid(sub, "pause"));
            }
            sub.state = State::Paused;
            sub.last_event_at = now;
            push(out, now, TransitionKind::Paused, sub);
            Ok(sub.clone())
        })
    }

    /// Resumes a paused subscription; periods that fell due while paused are skipped (not charged).
    pub fn resume(&self, id: &str) -> Outcome<Subscription> {
        self.with_state(|st, now, out| {
            let sub = st.get_mut(id)?;
            if sub.state != State::Paused {
                return Err(invalid(sub, "resume"));
            }
            restart(sub, now);
            push(out, now, TransitionKind::Resumed, sub);
            Ok(sub.clone())
        })
    }

    /// Reactivates a cancelled subscription (Recurrente's `subscription.reactivate`: cancelled
    /// is not final there): billing picks up at the next scheduled period from now, as after
    /// [`Engine::resume`]; nothing is charged for the time it was cancelled.
    ///
    /// Errors: [`EngineError::InvalidState`] unless it is cancelled after it started (never
    /// accepted, or ended after its agreed number of periods).
    pub fn reactivate(&self, id: &str) -> Outcome<Subscription> {
        self.with_state(|st, now, out| {
            let sub = st.get_mut(id)?;
            let ended = sub.terms.end_after_periods.is_some_and(|n| sub.periods_paid >= n.get());
            if !matches!(sub.state, State::Cancelled { .. }) || ended || sub.anchor.is_none() {
                return Err(invalid(sub, "reactivate"));
            }
            sub.dunning = None;
            sub.ended_at = None;
            restart(sub, now);
            push(out, now, TransitionKind::Reactivated, sub);
            Ok(sub.clone())
        })
    }

    /// Retries a past-due subscription's failed charge now (a new payment method was set);
    /// returns the subscription after the retry. Anything else is left as it is.
    pub fn retry_now(&self, id: &str) -> Outcome<Subscription> {
        self.with_state(|st, now, out| {
            let sub = st.get_mut(id)?;
            if let (State::PastDue, Some(d)) = (sub.state, sub.dunning.as_mut()) {
                d.next_retry_at = now;
                out.extend(st.advance_to(now, &self.ids));
            }
            st.get_mut(id).map(|sub| sub.clone())
        })
    }

    /// Makes the next `n` charge attempts of this subscription fail (first charge, renewals or retries).
    pub fn fail_next_charges(&self, id: &str, n: u32) -> Outcome<Subscription> {
        self.with_state(|st, _, _| {
            let sub = st.get_mut(id)?;
            if sub.state.is_terminal() {
                return Err(invalid(sub, "fail charges of"));
            }
            sub.failures_pending = sub.failures_pending.saturating_add(n);
            Ok(sub.clone())
        })
    }

    /// A snapshot of one subscription.
    pub fn get(&self, id: &str) -> Option<Subscription> {
        let st = self.lock();
        st.by_id.get(id).and_then(|i| st.subs.get(*i)).cloned()
    }

    /// The subscription of `gateway` with this reference (the latest if several).
    pub fn find_by_reference(&self, gateway: &GatewayId, reference: &str) -> Option<Subscription> {
        let st = self.lock();
        let key = (gateway.clone(), reference.to_owned());
        let i = *st.by_reference.get(&key)?.last()?;
        st.subs.get(i).cloned()
    }

    /// Every subscription of `gateway`, oldest first (O(n): prefer the paged methods).
    pub fn list(&self, gateway: &GatewayId) -> Vec<Subscription> {
        let st = self.lock();
        st.gateway_subs(gateway)
            .iter()
            .filter_map(|i| st.subs.get(*i))
            .cloned()
            .collect()
    }

    /// How many subscriptions `gateway` has.
    pub fn count(&self, gateway: &GatewayId) -> usize {
        self.lock().gateway_subs(gateway).len()
    }

    /// How many subscriptions of `gateway` have started (are no longer pending).
    pub fn count_started(&self, gateway: &GatewayId) -> usize {
        let st = self.lock();
        st.by_gateway
            .get(gateway)
            .map_or(0, |g| usize::try_from(g.started.prefix(g.started.len())).unwrap_or(0))
    }

    /// Up to `take` subscriptions of `gateway`, newest first, after skipping the `skip` newest.
    pub fn newest(&self, gateway: &GatewayId, skip: usize, take: usize) -> Vec<Subscription> {
        let st = self.lock();
        let subs = st.gateway_subs(gateway);
        let end = subs.len().saturating_sub(skip);
        let start = end.saturating_sub(take);
        subs.get(start..end)
            .unwrap_or_default()
            .iter()
            .rev()
            .filter_map(|i| st.subs.get(*i))
            .cloned()
            .collect()
    }

    /// As [`Engine::newest`], counting only the subscriptions that have started (pending ones
    /// are left out, as Recurrente's list leaves them out).
    pub fn newest_started(&self, gateway: &GatewayId, skip: usize, take: usize) -> Vec<Subscription> {
        let st = self.lock();
        let Some(g) = st.by_gateway.get(gateway) else {
            return Vec::new();
        };
        let total = g.started.prefix(g.started.len());
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        let take = i64::try_from(take).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        // The j-th newest started one is the (total - j)-th oldest started one.
        let mut k = total.saturating_sub(skip);
        while k >= 1 && total.saturating_sub(k) < skip.saturating_add(take) {
            let Some(pos) = g.started.find(k) else { break };
            if let Some(sub) = pos
                .checked_sub(1)
                .and_then(|p| g.subs.get(p))
                .and_then(|i| st.subs.get(*i))
            {
                out.push(sub.clone());
            }
            k -= 1;
        }
        out
    }

    /// Up to `take` subscriptions of `gateway` created before the one with `seq`, newest first.
    pub fn before(&self, gateway: &GatewayId, seq: u64, take: usize) -> Vec<Subscription> {
        let st = self.lock();
        let subs = st.gateway_subs(gateway);
        let end = subs.partition_point(|i| st.subs.get(*i).is_some_and(|s| s.seq < seq));
        let start = end.saturating_sub(take);
        subs.get(start..end)
            .unwrap_or_default()
            .iter()
            .rev()
            .filter_map(|i| st.subs.get(*i))
            .cloned()
            .collect()
    }

    #[cfg(feature = "server")]
    /// Up to `take` subscriptions of any gateway that `keep` accepts, newest first, among those
    /// created before the one with `before` (every one for `None`), and whether an older one is
    /// accepted too. For the dashboard's pages: O(`take`) when most are accepted; a rare match
    /// scans, under the lock and without copying, the older subscriptions.
    pub(crate) fn newest_matching(
        &self,
        before: Option<u64>,
        take: usize,
        keep: impl Fn(&Subscription) -> bool,
    ) -> (Vec<Subscription>, bool) {
        let st = self.lock();
        // `seq` is the position in `subs` plus one.
        let end = before.map_or(st.subs.len(), |b| {
            usize::try_from(b.saturating_sub(1)).map_or(st.subs.len(), |b| b.min(st.subs.len()))
        });
        let mut matching = st.subs.get(..end).unwrap_or_default().iter().rev().filter(|s| keep(s));
        let page: Vec<Subscription> = matching.by_ref().take(take).cloned().collect();
        let more = matching.next().is_some();
        (page, more)
    }

    #[cfg(feature = "server")]
    /// As [`Engine::newest_matching`], the other way: up to `take` accepted subscriptions
    /// created after the one with `after`, oldest first, and whether a newer one is accepted too.
    pub(crate) fn oldest_matching(
        &self,
        after: u64,
        take: usize,
        keep: impl Fn(&Subscription) -> bool,
    ) -> (Vec<Subscription>, bool) {
        let st = self.lock();
        let start = usize::try_from(after).map_or(st.subs.len(), |a| a.min(st.subs.len()));
        let mut matching = st.subs.get(start..).unwrap_or_default().iter().filter(|s| keep(s));
        let page: Vec<Subscription> = matching.by_ref().take(take).cloned().collect();
        let more = matching.next().is_some();
        (page, more)
    }

    /// Up to `take` subscriptions of `gateway` created after the one with `seq`, oldest first.
    pub fn after(&self, gateway: &GatewayId, seq: u64, take: usize) -> Vec<Subscription> {
        let st = self.lock();
        let subs = st.gateway_subs(gateway);
        let start = subs.partition_point(|i| st.subs.get(*i).is_some_and(|s| s.seq <= seq));
        subs.iter()
            .skip(start)
            .take(take)
            .filter_map(|i| st.subs.get(*i))
            .cloned()
            .collect()
    }
}

/// Puts a freshly created (pending) subscription in `state`, as if it had happened now,
/// without transitions.
fn seed_state(sub: &mut Subscription, state: SeedState, now: DateTime<Utc>) {
    if state == SeedState::Pending {
        return;
    }
    sub.accepted_at = Some(now);
    sub.activated_at = Some(now);
    sub.anchor = Some(now);
    sub.last_event_at = now;
    sub.state = State::Active;
    if state == SeedState::PastDue {
        let next_retry_at = sub
            .terms
            .retry_after
            .first()
            .copied()
            .unwrap_or_else(|| Duration::days(3));
        let next_retry_at = now.checked_add_signed(next_retry_at).unwrap_or(now);
        sub.state = State::PastDue;
        sub.dunning = Some(Dunning {
            period_index: 0,
            due_at: now,
            attempts: 1,
            next_retry_at,
        });
        return;
    }
    paid(sub, 0, now);
    match state {
        SeedState::Paused => sub.state = State::Paused,
        SeedState::Cancelled => {
            sub.state = State::Cancelled {
                by: CancelledBy::Merchant,
            };
            sub.ended_at = Some(now);
            sub.next_charge_at = None;
        }
        _ => {}
    }
}

fn invalid(sub: &Subscription, action: &'static str) -> EngineError {
    EngineError::InvalidState {
        id: sub.id.clone(),
        state: sub.state,
        action,
    }
}

fn push(out: &mut Vec<Transition>, at: DateTime<Utc>, kind: TransitionKind, sub: &Subscription) {
    out.push(Transition {
        at,
        kind,
        subscription: sub.clone(),
    });
}

/// Runs again from `now` (after a pause or a cancellation): the next charge is the first
/// scheduled period not before `now`; the periods in between are skipped, not charged.
fn restart(sub: &mut Subscription, now: DateTime<Utc>) {
    let mut index = sub.next_period_index;
    while let Some(at) = sub.scheduled(index) {
        if at >= now {
            break;
        }
        index = index.saturating_add(1);
        if index == u32::MAX {
            break;
        }
    }
    sub.next_period_index = index;
    sub.next_charge_at = sub.scheduled(index);
    sub.state = if sub.activated_at.is_some() {
        State::Active
    } else {
        State::Trialing
    };
    sub.last_event_at = now;
}

/// Records a successful charge of period `index` at `at` and schedules the next one.
fn paid(sub: &mut Subscription, index: u32, at: DateTime<Utc>) {
    sub.periods_paid = sub.periods_paid.saturating_add(1);
    sub.last_paid_at = Some(at);
    sub.next_period_index = index.saturating_add(1);
    sub.next_charge_at = sub.scheduled(sub.next_period_index);
    sub.dunning = None;
}

impl EngineState {
    /// A subscription to change: its index entries are brought up to date by
    /// [`EngineState::reindex_touched`] (which every operation calls before it returns).
    fn get_mut(&mut self, id: &str) -> Result<&mut Subscription, EngineError> {
        let not_found = || EngineError::NotFound { id: id.to_owned() };
        let i = *self.by_id.get(id).ok_or_else(not_found)?;
        self.touched.push(i);
        self.subs.get_mut(i).ok_or_else(not_found)
    }

    /// The indices of `gateway`'s subscriptions, oldest first.
    fn gateway_subs(&self, gateway: &GatewayId) -> &[usize] {
        self.by_gateway.get(gateway).map_or(&[], |g| g.subs.as_slice())
    }

    /// Adds a pending subscription (refusing a taken id, or a taken reference when it must be
    /// unique); returns it for changes (indexed when the operation ends).
    fn insert(
        &mut self,
        new: NewSubscription,
        now: DateTime<Utc>,
        ids: &IdGen,
    ) -> Result<&mut Subscription, EngineError> {
        let ref_key = new.reference.clone().map(|r| (new.gateway.clone(), r));
        if new.unique_reference {
            if let Some(key) = &ref_key {
                if self.by_reference.get(key).is_some_and(|v| !v.is_empty()) {
                    return Err(EngineError::DuplicateReference {
                        reference: key.1.clone(),
                    });
                }
            }
        }
        let id = new.id.unwrap_or_else(|| ids.next_uuid());
        if self.by_id.contains_key(&id) {
            return Err(EngineError::DuplicateId { id });
        }
        let i = self.subs.len();
        let seq = i as u64 + 1;
        let g = self.by_gateway.entry(new.gateway.clone()).or_default();
        g.subs.push(i);
        g.started.push(0);
        let position = g.subs.len();
        self.slots.push(Slot {
            position,
            started: false,
            due: None,
        });
        if let Some(key) = ref_key {
            self.by_reference.entry(key).or_default().push(i);
        }
        self.by_id.insert(id.clone(), i);
        self.touched.push(i);
        self.subs.push(Subscription {
            id,
            seq,
            gateway: new.gateway,
            name: new.name,
            reference: new.reference,
            terms: new.terms,
            state: State::Pending,
            created_at: now,
            accepted_at: None,
            activated_at: None,
            anchor: None,
            next_period_index: 0,
            next_charge_at: None,
            periods_paid: 0,
            last_paid_at: None,
            dunning: None,
            ended_at: None,
            failures_pending: 0,
            last_event_at: now,
            extension: new.extension,
        });
        let not_found = EngineError::NotFound { id: String::new() };
        self.subs.last_mut().ok_or(not_found)
    }

    /// Brings the index entries of subscription `i` up to date: its next event's time, and
    /// whether it counts as started.
    fn reindex(&mut self, i: usize) {
        let (Some(sub), Some(slot)) = (self.subs.get(i), self.slots.get_mut(i)) else {
            return;
        };
        let due = sub.next_event().map(|(at, _)| at);
        if slot.due != due {
            if let Some(old) = slot.due {
                self.due.remove(&(old, sub.seq));
            }
            if let Some(new) = due {
                self.due.insert((new, sub.seq));
            }
            slot.due = due;
        }
        let started = sub.state != State::Pending;
        if slot.started != started {
            slot.started = started;
            let position = slot.position;
            if let Some(g) = self.by_gateway.get_mut(&sub.gateway) {
                g.started.add(position, if started { 1 } else { -1 });
            }
        }
    }

    fn reindex_touched(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        for i in &touched {
            self.reindex(*i);
        }
        // Keep the buffer's allocation.
        self.touched = touched;
        self.touched.clear();
    }

    fn advance_to(&mut self, until: DateTime<Utc>, ids: &IdGen) -> Vec<Transition> {
        self.reindex_touched();
        let mut out = Vec::new();
        // The earliest due event over all subscriptions; ties go to the older subscription.
        while let Some(&(at, seq)) = self.due.first() {
            if at > until {
                break;
            }
            let Some(i) = usize::try_from(seq).ok().and_then(|s| s.checked_sub(1)) else {
                break;
            };
            let Some((at, due)) = self.subs.get(i).and_then(Subscription::next_event) else {
                // Stale (cannot happen: entries follow every change); drop it.
                self.due.remove(&(at, seq));
                if let Some(slot) = self.slots.get_mut(i) {
                    slot.due = None;
                }
                continue;
            };
            let Some(sub) = self.subs.get_mut(i) else { break };
            process(sub, at, due, ids, &mut out);
            self.reindex(i);
        }
        out
    }
}

fn process(sub: &mut Subscription, at: DateTime<Utc>, due: Due, ids: &IdGen, out: &mut Vec<Transition>) {
    sub.last_event_at = at;
    match due {
        Due::End => {
            sub.state = State::Cancelled {
                by: CancelledBy::Gateway,
            };
            sub.ended_at = Some(at);
            sub.next_charge_at = None;
            let periods_paid = sub.periods_paid;
            push(out, at, TransitionKind::Ended { periods_paid }, sub);
        }
        Due::Charge => {
            let index = sub.next_period_index;
            let due_at = sub.next_charge_at.unwrap_or(at);
            let amount = sub.price_at(due_at);
            let payment_id = ids.next_uuid();
            if sub.failures_pending > 0 {
                sub.failures_pending -= 1;
                let kind = TransitionKind::ChargeFailed {
                    period_index: index,
                    amount,
                    payment_id,
                    attempt: 1,
                };
                push(out, at, kind, sub);
                start_dunning(sub, index, due_at, at, out);
                return;
            }
            paid(sub, index, at);
            let first = sub.activated_at.is_none();
            sub.state = State::Active;
            if first {
                sub.activated_at = Some(at);
                push(out, at, TransitionKind::Activated, sub);
            }
            let kind = TransitionKind::Charged {
                period_index: index,
                amount,
                payment_id,
                attempt: 1,
            };
            push(out, at, kind, sub);
        }
        Due::Retry => {
            let Some(d) = sub.dunning.clone() else { return };
            let amount = sub.price_at(d.due_at);
            let payment_id = ids.next_uuid();
            let attempt = d.attempts.saturating_add(1);
            if sub.failures_pending > 0 {
                sub.failures_pending -= 1;
                let kind = TransitionKind::ChargeFailed {
                    period_index: d.period_index,
                    amount,
                    payment_id,
                    attempt,
                };
                push(out, at, kind, sub);
                // Retries so far = attempt - 1; the next offset, if any, is at that index.
                let next = usize::try_from(attempt.saturating_sub(1))
                    .ok()
                    .and_then(|k| sub.terms.retry_after.get(k))
                    .and_then(|off| d.due_at.checked_add_signed(*off));
                match next {
                    Some(next_retry_at) => {
                        sub.dunning = Some(Dunning {
                            attempts: attempt,
                            next_retry_at,
                            ..d
                        });
                    }
                    None => gateway_cancel(sub, at, out),
                }
                return;
            }
            paid(sub, d.period_index, at);
            let first = sub.activated_at.is_none();
            sub.state = State::Active;
            if first {
                sub.activated_at = Some(at);
                push(out, at, TransitionKind::Activated, sub);
            }
            let kind = TransitionKind::Charged {
                period_index: d.period_index,
                amount,
                payment_id,
                attempt,
            };
            push(out, at, kind, sub);
            push(out, at, TransitionKind::Recovered, sub);
        }
    }
}

fn start_dunning(
    sub: &mut Subscription,
    index: u32,
    due_at: DateTime<Utc>,
    at: DateTime<Utc>,
    out: &mut Vec<Transition>,
) {
    let first_retry = sub
        .terms
        .retry_after
        .first()
        .and_then(|off| due_at.checked_add_signed(*off));
    match first_retry {
        Some(next_retry_at) => {
            sub.state = State::PastDue;
            sub.dunning = Some(Dunning {
                period_index: index,
                due_at,
                attempts: 1,
                next_retry_at,
            });
            push(out, at, TransitionKind::PastDue { next_retry_at }, sub);
        }
        None => gateway_cancel(sub, at, out),
    }
}

fn gateway_cancel(sub: &mut Subscription, at: DateTime<Utc>, out: &mut Vec<Transition>) {
    let by = CancelledBy::Gateway;
    sub.state = State::Cancelled { by };
    sub.ended_at = Some(at);
    sub.dunning = None;
    sub.next_charge_at = None;
    push(out, at, TransitionKind::Cancelled { by }, sub);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VirtualClock;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn setup(start: &str) -> (Arc<VirtualClock>, Engine) {
        let clock = Arc::new(VirtualClock::new(t(start)));
        let engine = Engine::new(clock.clone(), Arc::new(IdGen::sequential()));
        (clock, engine)
    }

    fn create(e: &Engine, terms: Terms) -> String {
        let o = e.create(NewSubscription::new(GatewayId::FAKE, "Plan", terms));
        assert!(o.transitions.is_empty());
        o.result.unwrap().id
    }

    fn charges(ts: &[Transition]) -> Vec<(u32, Decimal, DateTime<Utc>)> {
        ts.iter()
            .filter_map(|tr| match &tr.kind {
                TransitionKind::Charged {
                    period_index, amount, ..
                } => Some((*period_index, *amount, tr.at)),
                _ => None,
            })
            .collect()
    }

    fn kinds(ts: &[Transition]) -> Vec<&'static str> {
        ts.iter()
            .map(|tr| match tr.kind {
                TransitionKind::TrialStarted { .. } => "trial_started",
                TransitionKind::Activated => "activated",
                TransitionKind::Charged { .. } => "charged",
                TransitionKind::ChargeFailed { .. } => "charge_failed",
                TransitionKind::PastDue { .. } => "past_due",
                TransitionKind::Recovered => "recovered",
                TransitionKind::Paused => "paused",
                TransitionKind::Resumed => "resumed",
                TransitionKind::Reactivated => "reactivated",
                TransitionKind::Declined => "declined",
                TransitionKind::StartFailed => "start_failed",
                TransitionKind::Cancelled { .. } => "cancelled",
                TransitionKind::Ended { .. } => "ended",
            })
            .collect()
    }

    #[test]
    fn sequential_ids_are_uuid_shaped() {
        let ids = IdGen::sequential();
        assert_eq!(ids.next_uuid(), "00000000-0000-4000-8000-000000000001");
        assert_eq!(ids.next_uuid(), "00000000-0000-4000-8000-000000000002");
        let r = IdGen::random().next_uuid();
        assert_eq!(uuid::Uuid::parse_str(&r).unwrap().get_version_num(), 4);
    }

    #[test]
    fn monthly_with_30_day_discount_charges_discount_first_then_full_price() {
        let (clock, e) = setup("2026-01-10T09:00:00Z");
        let id = create(
            &e,
            Terms::new(d("15"), "USD", Interval::monthly()).with_intro(d("1"), 30),
        );
        let o = e.accept(&id);
        let sub = o.result.unwrap();
        assert_eq!(kinds(&o.transitions), ["activated", "charged"]);
        assert_eq!(charges(&o.transitions), [(0, d("1"), t("2026-01-10T09:00:00Z"))]);
        assert_eq!(sub.intro_ends_at(), Some(t("2026-02-09T09:00:00Z")));
        clock.advance(Duration::days(31)).unwrap();
        let a = e.catch_up();
        assert_eq!(charges(&a), [(1, d("15"), t("2026-02-10T09:00:00Z"))]);
        clock.advance(Duration::days(28)).unwrap();
        let b = e.catch_up();
        assert_eq!(charges(&b), [(2, d("15"), t("2026-03-10T09:00:00Z"))]);
        let sub = e.get(&id).unwrap();
        assert_eq!(sub.periods_paid, 3);
        assert_eq!(sub.last_paid_at, Some(t("2026-03-10T09:00:00Z")));
        assert_eq!(sub.next_charge_at, Some(t("2026-04-10T09:00:00Z")));
    }

    #[test]
    fn weekly_plan_over_three_weeks() {
        let (clock, e) = setup("2026-05-01T00:00:00Z");
        let id = create(&e, Terms::new(d("5"), "USDT", Interval::weekly()));
        let _ = e.accept(&id).result.unwrap();
        let mut all = Vec::new();
        for _ in 0..21 {
            clock.advance(Duration::days(1)).unwrap();
            all.extend(e.catch_up());
        }
        assert_eq!(
            charges(&all),
            [
                (1, d("5"), t("2026-05-08T00:00:00Z")),
                (2, d("5"), t("2026-05-15T00:00:00Z")),
                (3, d("5"), t("2026-05-22T00:00:00Z")),
            ]
        );
    }

    #[test]
    fn a_jump_bills_every_period_in_time_order_across_subscriptions() {
        let (clock, e) = setup("2026-01-31T12:00:00Z");
        let monthly = create(&e, Terms::new(d("10"), "USD", Interval::monthly()));
        let _ = e.accept(&monthly).result.unwrap();
        clock.advance(Duration::days(1)).unwrap();
        let weekly = create(&e, Terms::new(d("3"), "USD", Interval::weekly()));
        let _ = e.accept(&weekly).result.unwrap();
        clock.advance(Duration::days(70)).unwrap();
        let ts = e.catch_up();
        let times: Vec<_> = ts.iter().map(|tr| tr.at).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "transitions come in time order");
        let monthly_charges: Vec<_> = ts
            .iter()
            .filter(|tr| tr.subscription_id() == monthly)
            .map(|tr| tr.at)
            .collect();
        // Calendar months from Jan 31: Feb 28, Mar 31 (then Apr 30 is past the jump).
        assert_eq!(monthly_charges, [t("2026-02-28T12:00:00Z"), t("2026-03-31T12:00:00Z")]);
        assert_eq!(ts.iter().filter(|tr| tr.subscription_id() == weekly).count(), 10);
    }

    #[test]
    fn failed_renewal_goes_past_due_and_recovers_on_retry() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let terms =
            Terms::new(d("50"), "GTQ", Interval::monthly()).with_retries(vec![Duration::days(3), Duration::days(5)]);
        let id = create(&e, terms);
        let _ = e.accept(&id).result.unwrap();
        let _ = e.fail_next_charges(&id, 2).result.unwrap();
        clock.advance(Duration::days(31)).unwrap();
        let ts = e.catch_up();
        assert_eq!(kinds(&ts), ["charge_failed", "past_due"]);
        assert_eq!(e.get(&id).unwrap().state, State::PastDue);
        clock.advance(Duration::days(3)).unwrap();
        assert_eq!(kinds(&e.catch_up()), ["charge_failed"]);
        clock.advance(Duration::days(2)).unwrap();
        let ts = e.catch_up();
        assert_eq!(kinds(&ts), ["charged", "recovered"]);
        assert!(matches!(
            ts[0].kind,
            TransitionKind::Charged {
                attempt: 3,
                period_index: 1,
                ..
            }
        ));
        let sub = e.get(&id).unwrap();
        assert_eq!(sub.state, State::Active);
        assert_eq!(sub.next_charge_at, Some(t("2026-03-01T00:00:00Z")));
    }

    #[test]
    fn retry_now_retries_a_past_due_charge_at_once_and_leaves_others_alone() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let terms =
            Terms::new(d("50"), "GTQ", Interval::monthly()).with_retries(vec![Duration::days(3), Duration::days(5)]);
        let id = create(&e, terms);
        let _ = e.accept(&id).result.unwrap();
        let o = e.retry_now(&id);
        assert!(o.transitions.is_empty());
        assert_eq!(o.result.unwrap().state, State::Active);
        let _ = e.fail_next_charges(&id, 1).result.unwrap();
        clock.advance(Duration::days(31)).unwrap();
        assert_eq!(kinds(&e.catch_up()), ["charge_failed", "past_due"]);
        clock.advance(Duration::days(1)).unwrap();
        let o = e.retry_now(&id);
        assert_eq!(kinds(&o.transitions), ["charged", "recovered"]);
        assert_eq!(o.transitions[0].at, t("2026-02-02T00:00:00Z"));
        assert_eq!(o.result.unwrap().state, State::Active);
        assert_eq!(
            e.retry_now("nope").result.unwrap_err(),
            EngineError::NotFound { id: "nope".into() }
        );
    }

    #[test]
    fn a_cancelled_subscription_is_reactivated_from_the_next_period() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let id = create(&e, Terms::new(d("20"), "USD", Interval::weekly()));
        assert!(matches!(
            e.reactivate(&id).result,
            Err(EngineError::InvalidState {
                action: "reactivate",
                ..
            })
        ));
        let _ = e.accept(&id).result.unwrap();
        let _ = e.cancel(&id, CancelledBy::Merchant).result.unwrap();
        clock.advance(Duration::days(10)).unwrap();
        assert!(e.catch_up().is_empty());
        let o = e.reactivate(&id);
        assert_eq!(kinds(&o.transitions), ["reactivated"]);
        let sub = o.result.unwrap();
        assert_eq!(sub.state, State::Active);
        assert_eq!(sub.ended_at, None);
        assert_eq!(sub.next_charge_at, Some(t("2026-01-15T00:00:00Z")));
        assert!(matches!(
            e.reactivate(&id).result,
            Err(EngineError::InvalidState {
                action: "reactivate",
                ..
            })
        ));
        clock.advance(Duration::days(5)).unwrap();
        assert_eq!(kinds(&e.catch_up()), ["charged"]);

        // Ended after its agreed periods: not reactivated.
        let terms = Terms::new(d("20"), "USD", Interval::weekly()).with_end_after_periods(NonZeroU32::MIN);
        let ended = create(&e, terms);
        let _ = e.accept(&ended).result.unwrap();
        clock.advance(Duration::days(8)).unwrap();
        assert!(kinds(&e.catch_up()).contains(&"ended"));
        assert!(matches!(
            e.reactivate(&ended).result,
            Err(EngineError::InvalidState {
                action: "reactivate",
                ..
            })
        ));
    }

    #[test]
    fn exhausted_retries_cancel_by_gateway() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let terms =
            Terms::new(d("50"), "GTQ", Interval::monthly()).with_retries(vec![Duration::days(3), Duration::days(5)]);
        let id = create(&e, terms);
        let _ = e.accept(&id).result.unwrap();
        let _ = e.fail_next_charges(&id, 3).result.unwrap();
        clock.advance(Duration::days(60)).unwrap();
        let ts = e.catch_up();
        assert_eq!(
            kinds(&ts),
            [
                "charge_failed",
                "past_due",
                "charge_failed",
                "charge_failed",
                "cancelled"
            ]
        );
        assert_eq!(ts[4].at, t("2026-02-06T00:00:00Z"));
        assert_eq!(
            e.get(&id).unwrap().state,
            State::Cancelled {
                by: CancelledBy::Gateway
            }
        );
    }

    #[test]
    fn first_charge_failure_means_never_started() {
        let (_, e) = setup("2026-01-01T00:00:00Z");
        let id = create(&e, Terms::new(d("5"), "USD", Interval::monthly()));
        let _ = e.fail_next_charges(&id, 1).result.unwrap();
        let o = e.accept(&id);
        assert_eq!(kinds(&o.transitions), ["charge_failed", "start_failed"]);
        assert_eq!(o.result.unwrap().state, State::Failed);
        assert!(matches!(
            e.cancel(&id, CancelledBy::Merchant).result,
            Err(EngineError::InvalidState { .. })
        ));
    }

    #[test]
    fn trial_charges_first_at_its_end() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let id = create(
            &e,
            Terms::new(d("20"), "USD", Interval::monthly()).with_trial(Interval::weekly()),
        );
        let o = e.accept(&id);
        assert_eq!(kinds(&o.transitions), ["trial_started"]);
        assert_eq!(o.result.unwrap().state, State::Trialing);
        clock.advance(Duration::days(6)).unwrap();
        assert!(e.catch_up().is_empty());
        clock.advance(Duration::days(1)).unwrap();
        let ts = e.catch_up();
        assert_eq!(kinds(&ts), ["activated", "charged"]);
        assert_eq!(charges(&ts), [(0, d("20"), t("2026-01-08T00:00:00Z"))]);
        assert_eq!(e.get(&id).unwrap().next_charge_at, Some(t("2026-02-08T00:00:00Z")));
    }

    #[test]
    fn ends_after_n_periods() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let terms =
            Terms::new(d("20"), "USD", Interval::weekly()).with_end_after_periods(NonZeroU32::MIN.saturating_add(1));
        let id = create(&e, terms);
        let _ = e.accept(&id).result.unwrap();
        clock.advance(Duration::days(30)).unwrap();
        let ts = e.catch_up();
        assert_eq!(kinds(&ts), ["charged", "ended"]);
        assert_eq!(ts[1].at, t("2026-01-15T00:00:00Z"));
        assert_eq!(
            e.get(&id).unwrap().state,
            State::Cancelled {
                by: CancelledBy::Gateway
            }
        );
    }

    #[test]
    fn cancel_decline_pause_and_errors() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let a = create(&e, Terms::new(d("20"), "USD", Interval::weekly()));
        let o = e.cancel(&a, CancelledBy::Payer);
        assert_eq!(kinds(&o.transitions), ["cancelled"]);
        assert_eq!(
            e.cancel(&a, CancelledBy::Merchant).result.unwrap_err(),
            EngineError::AlreadyCancelled { id: a.clone() }
        );
        assert!(matches!(
            e.accept(&a).result,
            Err(EngineError::InvalidState { action: "accept", .. })
        ));
        assert_eq!(
            e.accept("nope").result.unwrap_err(),
            EngineError::NotFound { id: "nope".into() }
        );

        let b = create(&e, Terms::new(d("20"), "USD", Interval::weekly()));
        assert_eq!(kinds(&e.decline(&b).transitions), ["declined"]);
        assert_eq!(e.get(&b).unwrap().state, State::Failed);

        let c = create(&e, Terms::new(d("20"), "USD", Interval::weekly()));
        let _ = e.accept(&c).result.unwrap();
        assert_eq!(kinds(&e.pause(&c).transitions), ["paused"]);
        clock.advance(Duration::days(15)).unwrap();
        assert!(e.catch_up().is_empty(), "paused subscriptions are not charged");
        let o = e.resume(&c);
        assert_eq!(kinds(&o.transitions), ["resumed"]);
        assert_eq!(o.result.unwrap().next_charge_at, Some(t("2026-01-22T00:00:00Z")));
    }

    #[test]
    fn operations_catch_up_first_and_keep_transitions_on_error() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let a = create(&e, Terms::new(d("1"), "USD", Interval::weekly()));
        let _ = e.accept(&a).result.unwrap();
        clock.advance(Duration::days(7)).unwrap();
        let o = e.cancel("unknown", CancelledBy::Merchant);
        assert!(o.result.is_err());
        assert_eq!(kinds(&o.transitions), ["charged"]);
        // A cancel after the due time comes after the charge.
        clock.advance(Duration::days(7)).unwrap();
        let o = e.cancel(&a, CancelledBy::Merchant);
        assert_eq!(kinds(&o.transitions), ["charged", "cancelled"]);
    }

    #[test]
    fn references_can_be_unique_per_gateway() {
        let (_, e) = setup("2026-01-01T00:00:00Z");
        let new = |r: &str| {
            NewSubscription::new(GatewayId::CRYPTOMUS, "P", Terms::new(d("1"), "USD", Interval::weekly()))
                .with_reference(Some(r.to_owned()), true)
        };
        let first = e.create(new("o-1")).result.unwrap();
        assert_eq!(
            e.create(new("o-1")).result.unwrap_err(),
            EngineError::DuplicateReference {
                reference: "o-1".into()
            }
        );
        let other_gateway = NewSubscription::new(GatewayId::FAKE, "P", Terms::new(d("1"), "USD", Interval::weekly()))
            .with_reference(Some("o-1".into()), true);
        assert!(e.create(other_gateway).result.is_ok());
        assert_eq!(e.find_by_reference(&GatewayId::CRYPTOMUS, "o-1").unwrap().id, first.id);
        assert_eq!(e.list(&GatewayId::CRYPTOMUS).len(), 1);
    }

    #[test]
    fn fenwick_counts_and_finds() {
        let mut f = Fenwick::default();
        assert_eq!(f.find(1), None);
        let bits = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1];
        for b in bits {
            f.push(b);
        }
        let ones: Vec<usize> = (1..=bits.len()).filter(|p| bits[p - 1] == 1).collect();
        for (k, p) in ones.iter().enumerate() {
            assert_eq!(f.find(k as i64 + 1), Some(*p));
            assert_eq!(f.prefix(*p), k as i64 + 1);
        }
        assert_eq!(f.find(ones.len() as i64 + 1), None);
        f.add(2, 1);
        assert_eq!(f.find(2), Some(2));
        f.add(1, -1);
        assert_eq!(f.find(1), Some(2));
    }

    #[test]
    fn pages_seek_by_position_and_skip_pending_ones_when_asked() {
        let (_, e) = setup("2026-01-01T00:00:00Z");
        let ids: Vec<String> = (0..25)
            .map(|_| create(&e, Terms::new(d("1"), "USD", Interval::weekly())))
            .collect();
        // Every third one starts.
        for id in ids.iter().step_by(3) {
            let _ = e.accept(id).result.unwrap();
        }
        let names = |v: Vec<Subscription>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let newest: Vec<String> = ids.iter().rev().cloned().collect();
        assert_eq!(e.count(&GatewayId::FAKE), 25);
        assert_eq!(names(e.newest(&GatewayId::FAKE, 0, 10)), newest[..10]);
        assert_eq!(names(e.newest(&GatewayId::FAKE, 20, 10)), newest[20..]);
        assert!(e.newest(&GatewayId::FAKE, 30, 10).is_empty());
        assert_eq!(names(e.before(&GatewayId::FAKE, 11, 4)), newest[15..19]);
        assert_eq!(names(e.after(&GatewayId::FAKE, 11, 4)), ids[11..15]);
        let started: Vec<String> = newest
            .iter()
            .filter(|id| e.get(id).unwrap().state != State::Pending)
            .cloned()
            .collect();
        assert_eq!(e.count_started(&GatewayId::FAKE), started.len());
        assert_eq!(names(e.newest_started(&GatewayId::FAKE, 0, 3)), started[..3]);
        assert_eq!(names(e.newest_started(&GatewayId::FAKE, 3, 100)), started[3..]);
        assert!(e.newest_started(&GatewayId::CRYPTOMUS, 0, 3).is_empty());
    }

    #[cfg(feature = "server")]
    #[test]
    fn matching_pages_go_both_ways_across_gateways() {
        let (_, e) = setup("2026-01-01T00:00:00Z");
        let ids: Vec<String> = (0..10)
            .map(|i| {
                let g = if i % 2 == 0 {
                    GatewayId::FAKE
                } else {
                    GatewayId::CRYPTOMUS
                };
                let new = NewSubscription::new(g, "P", Terms::new(d("1"), "USD", Interval::weekly()));
                e.create(new).result.unwrap().id
            })
            .collect();
        let names = |v: &[Subscription]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        let (page, more) = e.newest_matching(None, 3, |_| true);
        assert_eq!(names(&page), [ids[9].clone(), ids[8].clone(), ids[7].clone()]);
        assert!(more);
        let fake = |s: &Subscription| s.gateway == GatewayId::FAKE;
        let (page, more) = e.newest_matching(Some(page[2].seq), 10, fake);
        assert_eq!(
            names(&page),
            [ids[6].clone(), ids[4].clone(), ids[2].clone(), ids[0].clone()]
        );
        assert!(!more);
        let (page, more) = e.oldest_matching(page[1].seq, 1, fake);
        assert_eq!(names(&page), [ids[6].clone()]);
        assert!(more);
        assert!(e.newest_matching(Some(1), 5, |_| true).0.is_empty());
        assert!(e.oldest_matching(u64::MAX, 5, |_| true).0.is_empty());
        assert_eq!(e.newest_matching(Some(u64::MAX), 1, |_| true).0[0].id, ids[9]);
    }

    #[test]
    fn seeded_subscriptions_are_indexed_and_renew() {
        let (clock, e) = setup("2026-01-01T00:00:00Z");
        let o = e.seed(1000, SeedState::Active, |i| {
            NewSubscription::new(GatewayId::FAKE, "P", Terms::new(d("2"), "USD", Interval::monthly()))
                .with_reference(Some(format!("r-{i}")), true)
        });
        assert!(o.transitions.is_empty());
        let subs = o.result.unwrap();
        assert_eq!(subs.len(), 1000);
        assert_eq!(subs[0].state, State::Active);
        assert_eq!(e.count_started(&GatewayId::FAKE), 1000);
        assert_eq!(e.find_by_reference(&GatewayId::FAKE, "r-7").unwrap().id, subs[7].id);
        let dup = NewSubscription::new(GatewayId::FAKE, "P", Terms::new(d("2"), "USD", Interval::monthly()))
            .with_reference(Some("r-7".into()), true);
        assert!(matches!(
            e.create(dup).result,
            Err(EngineError::DuplicateReference { .. })
        ));
        clock.advance(Duration::days(31)).unwrap();
        let renewals = e.catch_up();
        assert_eq!(kinds(&renewals).iter().filter(|k| **k == "charged").count(), 1000);
        let states = [
            (SeedState::Pending, "pending"),
            (SeedState::PastDue, "past_due"),
            (SeedState::Paused, "paused"),
            (SeedState::Cancelled, "cancelled"),
        ];
        for (state, name) in states {
            let o = e.seed(1, state, |_| {
                NewSubscription::new(GatewayId::FAKE, "P", Terms::new(d("2"), "USD", Interval::monthly()))
            });
            assert_eq!(o.result.unwrap()[0].state.name(), name);
        }
        assert_eq!(e.count_started(&GatewayId::FAKE), 1003);
    }

    #[test]
    fn transitions_serialize_for_the_control_api() {
        let (_, e) = setup("2026-01-01T00:00:00Z");
        let a = create(&e, Terms::new(d("1.50"), "USD", Interval::weekly()));
        let o = e.accept(&a);
        let v = serde_json::to_value(&o.transitions).unwrap();
        assert_eq!(v[1]["type"], "charged");
        assert_eq!(v[1]["amount"], "1.50");
        assert_eq!(v[1]["status"], "active");
        assert_eq!(v[1]["at"], "2026-01-01T00:00:00Z");
        assert_eq!(v[0]["subscription_id"], a.as_str());
    }
}
