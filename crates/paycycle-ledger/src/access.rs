//! "Does this customer have access now?": one policy for every gateway.
//!
//! | status | access | until | reason |
//! |---|---|---|---|
//! | `Active`, a payment recorded | yes | end of the paid period | `Active` |
//! | `Active`, no payment yet (a trial, or the first charge not yet reported) | `trial_access` (default yes) | end of the period | `Trial` |
//! | `PastDue` | yes until `past_due_grace` (default 3 days) after it became past due, then no | that instant | `PastDueGrace` / `PastDueExpired` |
//! | `Paused` | `paused_access` (default no) | — | `Paused` |
//! | `Cancelled` | `UntilPeriodEnd` (default): yes until the paid period ends; `Immediately`: no | the period's end | `CancelledPaidThrough` / `Cancelled` |
//! | `Pending` (not paid yet) | no | — | `NotStarted` |
//! | `Failed` (never started) | no | — | `Failed` |
//! | `Unknown(raw)` | no (fail closed) | — | `UnknownStatus` |
//! | no subscription for the reference | no | — | `NoSubscription` |
//!
//! "The paid period" is [`SubscriptionRecord::paid_through`]: the gateway's current period when
//! a payment falls in it, else the period before it; one interval after the last payment where
//! the gateway reports no period. A gateway may move its period end forward when it attempts a
//! renewal, paid or not, so a subscription cancelled after failed retries keeps no unpaid month. Where nothing is known, a cancelled subscription has no access,
//! and a past-due one counts its grace from the end of the paid period.
//! When a reference has several subscriptions, a granted one wins (the latest `until`).

use chrono::{DateTime, Duration, Utc};
use paycycle_core::SubscriptionStatus;
use serde::{Deserialize, Serialize};

use crate::model::SubscriptionRecord;

/// What a cancelled subscription leaves the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CancelledAccess {
    /// Access until the end of the period already paid for.
    UntilPeriodEnd,
    /// No access from the moment of cancellation.
    Immediately,
}

/// The access rules. The same for every gateway; see the [module docs](self) for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessPolicy {
    /// How long a past-due subscription keeps access after its paid period ended.
    pub past_due_grace: Duration,
    /// Whether a paused subscription has access.
    pub paused_access: bool,
    /// What cancelling leaves.
    pub cancelled: CancelledAccess,
    /// Whether an active subscription with no payment yet (a trial) has access.
    pub trial_access: bool,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            past_due_grace: Duration::days(3),
            paused_access: false,
            cancelled: CancelledAccess::UntilPeriodEnd,
            trial_access: true,
        }
    }
}

impl AccessPolicy {
    /// Sets the grace for past-due subscriptions, in days.
    #[must_use]
    pub fn past_due_grace_days(mut self, days: u32) -> Self {
        self.past_due_grace = Duration::days(i64::from(days));
        self
    }

    /// Sets whether paused subscriptions have access.
    #[must_use]
    pub fn paused_access(mut self, yes: bool) -> Self {
        self.paused_access = yes;
        self
    }

    /// Sets what cancelling leaves.
    #[must_use]
    pub fn cancelled(mut self, c: CancelledAccess) -> Self {
        self.cancelled = c;
        self
    }

    /// Sets whether a trial has access.
    #[must_use]
    pub fn trial_access(mut self, yes: bool) -> Self {
        self.trial_access = yes;
        self
    }

    /// Evaluates one subscription at `at`. `paid` says whether a successful payment is known.
    pub fn evaluate(&self, sub: &SubscriptionRecord, paid: bool, at: DateTime<Utc>) -> Access {
        let paid_through = sub.paid_through();
        let deny = |reason| Access {
            granted: false,
            reason,
            until: None,
        };
        match &sub.status {
            SubscriptionStatus::Active if paid || sub.last_paid_at.is_some() => Access {
                granted: true,
                reason: AccessReason::Active,
                until: paid_through,
            },
            SubscriptionStatus::Active => Access {
                granted: self.trial_access,
                reason: AccessReason::Trial,
                until: sub.current_period_end.or(paid_through).filter(|_| self.trial_access),
            },
            SubscriptionStatus::PastDue => {
                let base = sub.status_since.or(paid_through);
                match base.and_then(|b| b.checked_add_signed(self.past_due_grace)) {
                    Some(until) if at < until => Access {
                        granted: true,
                        reason: AccessReason::PastDueGrace,
                        until: Some(until),
                    },
                    _ => deny(AccessReason::PastDueExpired),
                }
            }
            SubscriptionStatus::Paused => Access {
                granted: self.paused_access,
                reason: AccessReason::Paused,
                until: None,
            },
            SubscriptionStatus::Cancelled { .. } => match (self.cancelled, paid_through) {
                (CancelledAccess::UntilPeriodEnd, Some(end)) if at < end => Access {
                    granted: true,
                    reason: AccessReason::CancelledPaidThrough,
                    until: Some(end),
                },
                _ => deny(AccessReason::Cancelled),
            },
            SubscriptionStatus::Pending => deny(AccessReason::NotStarted),
            SubscriptionStatus::Failed => deny(AccessReason::Failed),
            _ => deny(AccessReason::UnknownStatus),
        }
    }

    /// Evaluates every subscription of one reference: a granted one wins (latest `until`, open
    /// ended first); else the denial of the most recently updated one.
    pub fn evaluate_all<'a>(
        &self,
        subs: impl IntoIterator<Item = (&'a SubscriptionRecord, bool)>,
        at: DateTime<Utc>,
    ) -> Access {
        let mut best: Option<(Access, DateTime<Utc>)> = None;
        for (sub, paid) in subs {
            let a = self.evaluate(sub, paid, at);
            best = Some(match best {
                None => (a, sub.updated_at),
                Some((b, b_updated)) => {
                    let a_wins = match (a.granted, b.granted) {
                        (true, false) => true,
                        (false, true) => false,
                        (true, true) => match (a.until, b.until) {
                            (None, Some(_)) => true,
                            (Some(_), None) => false,
                            (x, y) => x > y,
                        },
                        (false, false) => sub.updated_at > b_updated,
                    };
                    if a_wins { (a, sub.updated_at) } else { (b, b_updated) }
                }
            });
        }
        best.map_or(
            Access {
                granted: false,
                reason: AccessReason::NoSubscription,
                until: None,
            },
            |(a, _)| a,
        )
    }
}

/// The answer to "does this customer have access now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Access {
    /// Whether to let them in.
    pub granted: bool,
    /// Why.
    pub reason: AccessReason,
    /// When a granted access ends, when known.
    pub until: Option<DateTime<Utc>>,
}

/// Why access is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccessReason {
    /// Active and paid.
    Active,
    /// Active with no payment yet.
    Trial,
    /// Past due, inside the grace period.
    PastDueGrace,
    /// Past due beyond the grace period.
    PastDueExpired,
    /// Paused.
    Paused,
    /// Cancelled, inside the period already paid for.
    CancelledPaidThrough,
    /// Cancelled, and the paid period is over (or the policy ends access at once).
    Cancelled,
    /// Not paid yet.
    NotStarted,
    /// Never started.
    Failed,
    /// A status paycycle does not know: no access until it is understood.
    UnknownStatus,
    /// The ledger has no subscription for this reference.
    NoSubscription,
}

#[cfg(test)]
mod tests {
    use super::*;
    use paycycle_core::{CancelledBy, Interval, SubscriptionId};

    fn t(month: u32, day: u32) -> DateTime<Utc> {
        format!("2026-{month:02}-{day:02}T00:00:00Z")
            .parse()
            .unwrap_or_default()
    }

    fn sub(status: SubscriptionStatus) -> SubscriptionRecord {
        SubscriptionRecord {
            gateway: "g".into(),
            id: SubscriptionId::new("s"),
            merchant_reference: Some("r".into()),
            customer: None,
            checkout_id: None,
            status,
            price: None,
            interval: Some(Interval::monthly()),
            current_period_start: Some(t(3, 1)),
            current_period_end: Some(t(4, 1)),
            last_paid_at: Some(t(3, 1)),
            status_since: Some(t(3, 10)),
            last_event_at: None,
            synced_at: None,
            version: 1,
            updated_at: t(3, 10),
        }
    }

    /// The module's table, row by row: (status, evaluated at, granted, reason, until).
    #[test]
    fn the_policy_table_row_by_row() {
        let p = AccessPolicy::default();
        let cancelled = SubscriptionStatus::Cancelled { by: CancelledBy::Payer };
        let rows = [
            (
                SubscriptionStatus::Active,
                t(3, 15),
                true,
                AccessReason::Active,
                Some(t(4, 1)),
            ),
            (
                SubscriptionStatus::PastDue,
                t(3, 12),
                true,
                AccessReason::PastDueGrace,
                Some(t(3, 13)),
            ),
            (
                SubscriptionStatus::PastDue,
                t(3, 13),
                false,
                AccessReason::PastDueExpired,
                None,
            ),
            (SubscriptionStatus::Paused, t(3, 15), false, AccessReason::Paused, None),
            (
                cancelled.clone(),
                t(3, 31),
                true,
                AccessReason::CancelledPaidThrough,
                Some(t(4, 1)),
            ),
            (cancelled.clone(), t(4, 1), false, AccessReason::Cancelled, None),
            (
                SubscriptionStatus::Pending,
                t(3, 15),
                false,
                AccessReason::NotStarted,
                None,
            ),
            (SubscriptionStatus::Failed, t(3, 15), false, AccessReason::Failed, None),
            (
                SubscriptionStatus::Unknown("odd".into()),
                t(3, 15),
                false,
                AccessReason::UnknownStatus,
                None,
            ),
        ];
        for (status, at, granted, reason, until) in rows {
            let a = p.evaluate(&sub(status.clone()), true, at);
            assert_eq!(
                (a.granted, a.reason, a.until),
                (granted, reason, until),
                "{status} at {at}"
            );
        }
        // A trial: active, nothing paid, access to the period's end.
        let mut trial = sub(SubscriptionStatus::Active);
        trial.last_paid_at = None;
        let a = p.evaluate(&trial, false, t(3, 5));
        assert_eq!(
            (a.granted, a.reason, a.until),
            (true, AccessReason::Trial, Some(t(4, 1)))
        );
        assert!(!p.trial_access(false).evaluate(&trial, false, t(3, 5)).granted);
        // The other policy settings.
        assert!(
            p.paused_access(true)
                .evaluate(&sub(SubscriptionStatus::Paused), true, t(3, 15))
                .granted
        );
        let now = p
            .cancelled(CancelledAccess::Immediately)
            .evaluate(&sub(cancelled), true, t(3, 15));
        assert_eq!((now.granted, now.reason), (false, AccessReason::Cancelled));
        let long = p
            .past_due_grace_days(10)
            .evaluate(&sub(SubscriptionStatus::PastDue), true, t(3, 19));
        assert!(long.granted);
    }

    #[test]
    fn an_unpaid_renewal_is_not_paid_for() {
        // The gateway moved its period forward when it tried the April renewal; nothing was paid.
        let mut s = sub(SubscriptionStatus::Cancelled {
            by: CancelledBy::Gateway,
        });
        s.current_period_start = Some(t(4, 1));
        s.current_period_end = Some(t(5, 1));
        assert_eq!(s.paid_through(), Some(t(4, 1)));
        assert!(!AccessPolicy::default().evaluate(&s, true, t(4, 10)).granted);
        // Without a period (Cryptomus): one interval after the last payment.
        s.current_period_start = None;
        s.current_period_end = None;
        assert_eq!(s.paid_through(), Some(t(4, 1)));
    }

    #[test]
    fn a_granted_subscription_wins_among_several() {
        let p = AccessPolicy::default();
        let old = sub(SubscriptionStatus::Cancelled { by: CancelledBy::Payer });
        let mut new = sub(SubscriptionStatus::Active);
        new.current_period_end = Some(t(5, 1));
        new.current_period_start = Some(t(4, 1));
        new.last_paid_at = Some(t(4, 1));
        let a = p.evaluate_all([(&old, true), (&new, true)], t(4, 15));
        assert_eq!((a.granted, a.reason), (true, AccessReason::Active));
        let none = p.evaluate_all(std::iter::empty(), t(4, 15));
        assert_eq!(none.reason, AccessReason::NoSubscription);
    }
}
