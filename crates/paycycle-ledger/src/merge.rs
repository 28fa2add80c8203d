//! How one event, and possibly a fresh read of the subscription from the gateway, change a
//! subscription row. Pure: no I/O, tested on its own.
//!
//! Two kinds of input:
//! - **a snapshot**: the subscription as the gateway returned it, read after every event up to
//!   the inbox row `mark` had been received. It is the provider's current truth: it replaces
//!   the status and terms, unless the row already reflects a later snapshot or a payload
//!   received after it (then it is older than what the row knows, and is dropped).
//! - **a payload**: the status an event implies, at the provider time the event says. It is
//!   applied only when it is newer than everything applied so far: never when it is older than
//!   the last applied event, never when a snapshot read after it already covers it, and never to
//!   leave a terminal state (cancelled, failed): only a snapshot can do that.

use chrono::{DateTime, Utc};
use paycycle_core::{EventKind, Subscription, SubscriptionStatus, WebhookEvent};

use crate::model::SubscriptionRecord;
use crate::rows::Marks;

/// The gateway's subscription, read after every inbox row up to `mark` had been received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot<'a> {
    pub(crate) sub: &'a Subscription,
    pub(crate) mark: i64,
}

/// A webhook event and its inbox row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Payload<'a> {
    pub(crate) event: &'a WebhookEvent,
    pub(crate) inbox_id: i64,
}

/// What merging decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merged {
    /// The row to write, when anything (state or bookkeeping) differs.
    pub(crate) write: Option<(SubscriptionRecord, Marks)>,
    /// True when the state an app acts on changed.
    pub(crate) changed: bool,
    /// True when the event's status was refused as older than the row.
    pub(crate) stale: bool,
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn new_record(
    gateway: &str,
    id: &paycycle_core::SubscriptionId,
    status: SubscriptionStatus,
    now: DateTime<Utc>,
) -> SubscriptionRecord {
    SubscriptionRecord {
        gateway: gateway.to_owned(),
        id: id.clone(),
        merchant_reference: None,
        customer: None,
        checkout_id: None,
        status,
        price: None,
        interval: None,
        current_period_start: None,
        current_period_end: None,
        last_paid_at: None,
        status_since: Some(now),
        last_event_at: None,
        synced_at: None,
        version: 0,
        updated_at: now,
    }
}

/// The payer of a subscription as the provider's object names it, when it does.
pub(crate) fn customer_of(raw: &serde_json::Value) -> Option<String> {
    for (obj, key) in [
        ("subscriber", "email"),
        ("customer", "email"),
        ("user", "email"),
        ("customer", "id"),
        ("subscriber", "id"),
    ] {
        if let Some(v) = raw.get(obj).and_then(|o| o.get(key)).and_then(|v| v.as_str()) {
            if !v.is_empty() {
                return Some(v.to_owned());
            }
        }
    }
    None
}

/// Merges a snapshot and/or a payload into the current row of subscription `id`.
pub(crate) fn merge(
    gateway: &str,
    id: &paycycle_core::SubscriptionId,
    current: Option<&(SubscriptionRecord, Marks)>,
    snapshot: Option<Snapshot<'_>>,
    payload: Option<Payload<'_>>,
    now: DateTime<Utc>,
) -> Merged {
    let nothing = Merged {
        write: None,
        changed: false,
        stale: false,
    };
    let (mut rec, mut marks) = match (current, snapshot, payload) {
        (Some((r, m)), _, _) => (r.clone(), *m),
        (None, Some(s), _) => (new_record(gateway, id, s.sub.status.clone(), now), Marks::default()),
        (None, None, Some(p)) => match &p.event.subscription_status {
            Some(status) => (new_record(gateway, id, status.clone(), now), Marks::default()),
            // Nothing says what state it is in: do not invent one.
            None => return nothing,
        },
        (None, None, None) => return nothing,
    };
    let before = current.map(|(r, _)| r);
    let mut stale = false;

    if let Some(s) = snapshot {
        let newest_known = marks.synced.max(marks.applied);
        if newest_known.is_none_or(|known| s.mark >= known) {
            let sub = s.sub;
            if rec.status != sub.status {
                rec.status = sub.status.clone();
                rec.status_since = Some(now);
            }
            rec.price = sub.price.or(rec.price);
            rec.interval = sub.interval.or(rec.interval);
            rec.current_period_start = sub.current_period_start.or(rec.current_period_start);
            rec.current_period_end = sub.current_period_end.or(rec.current_period_end);
            rec.last_paid_at = later(rec.last_paid_at, sub.last_paid_at);
            if sub.merchant_reference.is_some() {
                rec.merchant_reference.clone_from(&sub.merchant_reference);
            }
            if sub.checkout_id.is_some() {
                rec.checkout_id.clone_from(&sub.checkout_id);
            }
            if let Some(c) = customer_of(&sub.raw) {
                rec.customer = Some(c);
            }
            rec.synced_at = Some(now);
            marks.synced = Some(s.mark);
        }
    }

    if let Some(p) = payload {
        let e = p.event;
        let covered = marks.synced.is_some_and(|m| p.inbox_id <= m);
        if let Some(status) = &e.subscription_status {
            if !covered {
                let older = matches!((e.occurred_at, rec.last_event_at), (Some(t), Some(last)) if t < last);
                let reopens = rec.status.is_terminal() && !status.is_terminal();
                if older || reopens {
                    stale = *status != rec.status;
                } else if rec.status != *status {
                    rec.status = status.clone();
                    rec.status_since = Some(e.occurred_at.unwrap_or(now));
                }
                marks.applied = Some(marks.applied.map_or(p.inbox_id, |a| a.max(p.inbox_id)));
            }
        }
        // A payment's time only ever moves `last_paid_at` forward, so it applies even where a
        // snapshot covers the event (some gateways' subscription objects omit the last payment).
        if e.kind == EventKind::PaymentSucceeded {
            rec.last_paid_at = later(rec.last_paid_at, Some(e.occurred_at.unwrap_or(now)));
        }
        rec.last_event_at = later(rec.last_event_at, e.occurred_at);
        if rec.merchant_reference.is_none() {
            rec.merchant_reference.clone_from(&e.merchant_reference);
        }
        if rec.checkout_id.is_none() {
            rec.checkout_id.clone_from(&e.checkout_id);
        }
    }

    let changed = before.is_none_or(|b| !b.same_state(&rec));
    let bookkeeping_changed = current
        .is_none_or(|(b, m)| *m != marks || b.last_event_at != rec.last_event_at || b.synced_at != rec.synced_at);
    if !changed && !bookkeeping_changed {
        return Merged {
            write: None,
            changed: false,
            stale,
        };
    }
    rec.version = before.map_or(1, |b| b.version + 1);
    rec.updated_at = now;
    Merged {
        write: Some((rec, marks)),
        changed,
        stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paycycle_core::{CancelledBy, EventId, GatewayId, SubscriptionId};

    fn t(day: u32) -> DateTime<Utc> {
        format!("2026-03-{day:02}T00:00:00Z").parse().unwrap_or_default()
    }

    fn event(status: SubscriptionStatus, at: DateTime<Utc>) -> WebhookEvent {
        let mut e = WebhookEvent::new(
            GatewayId::RECURRENTE,
            EventId::new(format!("msg_{at}")),
            EventKind::SubscriptionPastDue,
            "subscription.past_due",
            paycycle_core::RawPayload::default(),
        );
        e.subscription_status = Some(status);
        e.occurred_at = Some(at);
        e
    }

    fn cancelled() -> SubscriptionStatus {
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Merchant,
        }
    }

    fn apply(
        cur: Option<(SubscriptionRecord, Marks)>,
        e: &WebhookEvent,
        inbox_id: i64,
    ) -> (Option<(SubscriptionRecord, Marks)>, Merged) {
        let id = SubscriptionId::new("su_1");
        let m = merge(
            "recurrente",
            &id,
            cur.as_ref(),
            None,
            Some(Payload { event: e, inbox_id }),
            t(20),
        );
        let next = m.write.clone().or(cur);
        (next, m)
    }

    #[test]
    fn an_older_event_never_changes_the_status() {
        let (row, m) = apply(None, &event(SubscriptionStatus::PastDue, t(5)), 1);
        assert!(m.changed);
        let (row, m) = apply(row, &event(SubscriptionStatus::Active, t(3)), 2);
        assert!(m.stale, "active at day 3 is older than past_due at day 5");
        assert_eq!(row.map(|r| r.0.status), Some(SubscriptionStatus::PastDue));
    }

    #[test]
    fn a_terminal_state_is_never_left_because_of_an_event() {
        let (row, _) = apply(None, &event(cancelled(), t(5)), 1);
        // Even one that claims to be newer: only the gateway's own answer may reopen it.
        for (i, s) in [SubscriptionStatus::Active, SubscriptionStatus::PastDue]
            .into_iter()
            .enumerate()
        {
            let (r, m) = apply(row.clone(), &event(s, t(9)), 2 + i as i64);
            assert!(m.stale);
            assert!(!m.changed);
            assert_eq!(r.map(|r| r.0.status), Some(cancelled()));
        }
    }

    #[test]
    fn a_snapshot_is_the_truth_unless_the_row_knows_something_later() {
        let id = SubscriptionId::new("su_1");
        let mut sub = Subscription::new(
            GatewayId::RECURRENTE,
            id.clone(),
            SubscriptionStatus::Active,
            serde_json::Value::Null,
        );
        let (row, _) = apply(None, &event(cancelled(), t(5)), 7);
        // Read after inbox row 9: reopens (a reactivation the provider reports).
        let m = merge(
            "recurrente",
            &id,
            row.as_ref(),
            Some(Snapshot { sub: &sub, mark: 9 }),
            None,
            t(20),
        );
        assert_eq!(
            m.write.as_ref().map(|w| w.0.status.clone()),
            Some(SubscriptionStatus::Active)
        );
        // Read before inbox row 7 was received: older than the row, dropped.
        sub.status = SubscriptionStatus::PastDue;
        let m = merge(
            "recurrente",
            &id,
            row.as_ref(),
            Some(Snapshot { sub: &sub, mark: 6 }),
            None,
            t(20),
        );
        assert!(m.write.is_none());
    }

    #[test]
    fn a_payload_covered_by_a_later_snapshot_is_not_applied() {
        let id = SubscriptionId::new("su_1");
        let sub = Subscription::new(GatewayId::RECURRENTE, id.clone(), cancelled(), serde_json::Value::Null);
        let m = merge(
            "recurrente",
            &id,
            None,
            Some(Snapshot { sub: &sub, mark: 10 }),
            None,
            t(20),
        );
        let row = m.write;
        let mut e = event(SubscriptionStatus::PastDue, t(9));
        e.subscription_status = Some(SubscriptionStatus::PastDue);
        let (r, _) = apply(row, &e, 8);
        assert_eq!(r.map(|r| r.0.status), Some(cancelled()));
    }

    #[test]
    fn an_event_without_status_creates_nothing_and_redundant_events_write_nothing() {
        let mut e = event(SubscriptionStatus::Active, t(3));
        e.subscription_status = None;
        let (row, m) = apply(None, &e, 1);
        assert!(row.is_none() && m.write.is_none());
        let (row, _) = apply(None, &event(SubscriptionStatus::Active, t(3)), 1);
        let (_, m) = apply(row, &event(SubscriptionStatus::Active, t(3)), 1);
        assert!(m.write.is_none(), "the same event again changes nothing");
    }
}
