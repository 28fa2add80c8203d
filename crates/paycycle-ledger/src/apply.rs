//! Workers: claim pending inbox rows and apply each exactly once, in one transaction per event
//! (subscription, payment, outbox, inbox row marked done).
//!
//! PostgreSQL: the claim is `SELECT … FOR UPDATE SKIP LOCKED` inside the apply transaction, so
//! any number of workers on any number of instances share the queue, and a worker that dies
//! mid-transaction releases its row at once (the transaction rolls back). SQLite: one writer;
//! workers of one process take distinct rows, read the gateway outside the write lock, and
//! re-check the row inside it.

use std::future::Future;

use chrono::{DateTime, Utc};
use paycycle_core::{EventKind, Payment, PaymentId, RecurringGateway, Subscription, SubscriptionId, WebhookEvent};
use sqlx::any::AnyRow;
use tokio::task::JoinHandle;

use crate::error::{LedgerError, Result};
use crate::ledger::{Ledger, Refetch, access_of};
use crate::merge::{Payload, Snapshot, merge};
use crate::model::{ApplyReport, Cause, ChangeKind, Outcome, PaymentRecord};
use crate::rows::{
    PAYMENT_COLUMNS, SUB_COLUMNS, get, money_to, payment_from_row, payment_rank, payment_status_str,
    subscription_from_row, write_subscription,
};
use crate::store::{Backend, WriteTx, micros};

const INBOX_COLUMNS: &str = "id, gateway, event_id, event, subscription_id, merchant_reference, attempts";

/// A claimed inbox row.
#[derive(Debug)]
struct Claimed {
    id: i64,
    gateway: String,
    event_json: String,
    attempts: i64,
}

fn claimed_from(row: &AnyRow) -> Result<Claimed> {
    Ok(Claimed {
        id: get(row, "id")?,
        gateway: get(row, "gateway")?,
        event_json: get(row, "event")?,
        attempts: get(row, "attempts")?,
    })
}

/// Removes a row from this process's in-flight set when the worker is done with it (or dies).
struct InFlight<'a> {
    ledger: &'a Ledger,
    id: i64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut set = self.ledger.inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.id);
    }
}

/// One outbox row: the change, the subscription and the merchant reference it concerns.
pub(crate) type Outgoing = (ChangeKind, Option<String>, Option<String>);

/// The running workers of [`Ledger::spawn_workers`]. Dropping it stops them at their next
/// pause; [`Workers::shutdown`] waits for them.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Workers {
    /// Asks every worker to stop after the row it is applying, and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for h in self.handles.drain(..) {
            let _ = h.await;
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Ledger {
    /// Starts `n` workers on the current tokio runtime.
    pub fn spawn_workers(&self, n: usize) -> Workers {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handles = (0..n.max(1))
            .map(|_| {
                let ledger = self.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    ledger
                        .run_worker(async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        })
                        .await;
                })
            })
            .collect();
        Workers { handles, stop }
    }

    /// Runs one worker until `stop` completes: applies due rows, waits for new ones (woken at
    /// once by this process's `receive`, else every poll interval).
    pub async fn run_worker(&self, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        loop {
            let notified = self.inner.wake.notified();
            let worked = match self.apply_one().await {
                Ok(Some(_)) => true,
                Ok(None) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "ledger worker: store unavailable");
                    false
                }
            };
            if worked {
                // Let a stop request through between rows.
                if futures::poll!(&mut stop).is_ready() {
                    return;
                }
                continue;
            }
            tokio::select! {
                () = &mut stop => return,
                () = notified => {}
                () = tokio::time::sleep(self.inner.poll_interval) => {}
            }
        }
    }

    /// Applies due inbox rows until none is left or `max` were processed, in this task.
    ///
    /// # Errors
    /// [`LedgerError::Store`] when the store is unavailable (failures of single rows are
    /// retried later and counted, not returned).
    pub async fn apply_pending(&self, max: usize) -> Result<ApplyReport> {
        let mut report = ApplyReport::default();
        while report.total() < max {
            match self.apply_one().await? {
                Some(o) => report.count(o),
                None => break,
            }
        }
        Ok(report)
    }

    /// Claims and applies one due inbox row; `None` when none is due.
    ///
    /// # Errors
    /// [`LedgerError::Store`] when the store is unavailable.
    pub async fn apply_one(&self) -> Result<Option<Outcome>> {
        let now = self.now();
        match self.inner.store.backend {
            Backend::Postgres => {
                let mut tx = self.inner.store.begin_write().await?;
                let sql = format!(
                    "SELECT {INBOX_COLUMNS} FROM paycycle_inbox WHERE state = 'pending' AND next_attempt_at <= $1 \
                     ORDER BY id LIMIT 1{}",
                    self.inner.store.backend.skip_locked()
                );
                let row = sqlx::query(&sql)
                    .bind(micros(now))
                    .fetch_optional(&mut *tx.tx)
                    .await
                    .map_err(LedgerError::store)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let claimed = claimed_from(&row)?;
                self.process(claimed, Some(tx), now).await.map(Some)
            }
            Backend::Sqlite => {
                let row = {
                    let skip: Vec<i64> = {
                        let set = self.inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                        set.iter().copied().collect()
                    };
                    let not_in = if skip.is_empty() {
                        String::new()
                    } else {
                        let ids: Vec<String> = skip.iter().map(i64::to_string).collect();
                        format!(" AND id NOT IN ({})", ids.join(","))
                    };
                    let sql = format!(
                        "SELECT {INBOX_COLUMNS} FROM paycycle_inbox WHERE state = 'pending' AND next_attempt_at <= $1{not_in} \
                         ORDER BY id LIMIT 1"
                    );
                    sqlx::query(&sql)
                        .bind(micros(now))
                        .fetch_optional(&self.inner.store.pool)
                        .await
                        .map_err(LedgerError::store)?
                };
                let Some(row) = row else {
                    return Ok(None);
                };
                let claimed = claimed_from(&row)?;
                {
                    let mut set = self.inner.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                    if !set.insert(claimed.id) {
                        // Another worker of this process took it between the read and now.
                        return Ok(Some(Outcome::Ignored));
                    }
                }
                let _in_flight = InFlight {
                    ledger: self,
                    id: claimed.id,
                };
                self.process(claimed, None, now).await.map(Some)
            }
        }
    }

    async fn process(&self, row: Claimed, tx: Option<WriteTx<'_>>, now: DateTime<Utc>) -> Result<Outcome> {
        let attempt = self.try_apply(&row, tx, now).await;
        match attempt {
            Ok(outcome) => Ok(outcome),
            // Nothing was applied (the transaction rolled back). Counted as an attempt; if even
            // that cannot be written, the store is down and the row simply stays due.
            Err(e) => self.record_failure(&row, &e, now).await,
        }
    }

    async fn try_apply(&self, row: &Claimed, tx: Option<WriteTx<'_>>, now: DateTime<Utc>) -> Result<Outcome> {
        let mut event: WebhookEvent =
            serde_json::from_str(&row.event_json).map_err(|e| LedgerError::corrupt("event", e.to_string()))?;
        event.raw = paycycle_core::RawPayload::default();
        let entry = self.entry(&row.gateway)?;

        // Which subscription, and whether to read it from the gateway first.
        let mut tx = tx;
        let (sub_id, has_row) = match &mut tx {
            Some(t) => self.locate(&mut t.tx, &row.gateway, &event).await?,
            None => {
                let mut conn = self.inner.store.pool.acquire().await.map_err(LedgerError::store)?;
                self.locate(&mut conn, &row.gateway, &event).await?
            }
        };
        let fetch = sub_id.is_some()
            && match entry.refetch {
                Refetch::Always => true,
                Refetch::Never => false,
                Refetch::WhenNeeded => {
                    !has_row
                        || event.subscription_status.is_none()
                        || event.occurred_at.is_none()
                        // A payment moves the paid period; a reactivation leaves a terminal
                        // state, which only the gateway's own answer may do.
                        || matches!(
                            event.kind,
                            EventKind::PaymentSucceeded | EventKind::PaymentFailed | EventKind::SubscriptionReactivated
                        )
                }
            };
        let snapshot = match (&sub_id, fetch) {
            (Some(id), true) => {
                // Everything received up to this inbox row is reflected in what we read next.
                // (Read on the transaction's own connection: a worker never holds two.)
                let mark = match &mut tx {
                    Some(t) => inbox_high_water(&mut t.tx).await?,
                    None => {
                        let mut conn = self.inner.store.pool.acquire().await.map_err(LedgerError::store)?;
                        inbox_high_water(&mut conn).await?
                    }
                };
                let sub = fetch_subscription(entry.gateway.as_ref(), id).await?;
                Some((sub, mark))
            }
            _ => None,
        };

        let mut tx = match tx {
            Some(t) => t,
            None => {
                let mut t = self.inner.store.begin_write().await?;
                let state: Option<String> = sqlx::query_scalar("SELECT state FROM paycycle_inbox WHERE id = $1")
                    .bind(row.id)
                    .fetch_optional(&mut *t.tx)
                    .await
                    .map_err(LedgerError::store)?;
                if state.as_deref() != Some("pending") {
                    return Ok(Outcome::Ignored);
                }
                t
            }
        };

        // A payment that names only its order, and the creation of that order's subscription,
        // are serialized; then the subscription is looked for again, under the lock.
        let mut sub_id = sub_id;
        if let Some(reference) = &event.merchant_reference {
            self.inner
                .store
                .lock_reference(&mut tx, &row.gateway, reference)
                .await?;
            if sub_id.is_none() {
                sub_id = self.locate(&mut tx.tx, &row.gateway, &event).await?.0;
            }
        }

        let cause = Cause::Webhook {
            gateway: row.gateway.clone(),
            event_id: event.id.clone(),
            kind: event.kind.clone(),
        };
        let mut changes: Vec<Outgoing> = Vec::new();
        let mut outcome = Outcome::Ignored;
        let access_ref = event.merchant_reference.clone();
        let access_before = match &access_ref {
            Some(r) => Some(access_of(&mut tx.tx, &self.inner.policy, r, now).await?),
            None => None,
        };

        // The subscription.
        let mut sub_ref = None;
        if let Some(id) = &sub_id {
            let snap = snapshot.as_ref().map(|(sub, mark)| Snapshot { sub, mark: *mark });
            let payload = Payload {
                event: &event,
                inbox_id: row.id,
            };
            let r = self
                .write_merged(&mut tx, &row.gateway, id, snap, Some(payload), now, &cause)
                .await?;
            if let Some((change, reference)) = r.change {
                sub_ref = reference;
                changes.push((change, Some(id.as_str().to_owned()), sub_ref.clone()));
                outcome = Outcome::Applied;
            } else if r.stale {
                outcome = Outcome::Stale;
            }
        }

        // The payment.
        if let Some(payment) = &event.payment {
            if let Some(change) = self
                .record_payment(&mut tx, &row.gateway, &event, payment, sub_id.as_ref(), now, &cause)
                .await?
            {
                let reference = event.merchant_reference.clone().or_else(|| sub_ref.clone());
                changes.push((change, sub_id.as_ref().map(|s| s.as_str().to_owned()), reference));
                outcome = Outcome::Applied;
            }
        }

        // Access, when a state change moved it.
        let access_ref = access_ref.or(sub_ref);
        if let (Some(reference), true) = (&access_ref, outcome == Outcome::Applied) {
            let sub = sub_id.as_ref().map(|s| s.as_str().to_owned());
            changes.extend(
                self.access_change(&mut tx, reference, access_before, now, &cause, sub)
                    .await?,
            );
        }

        sqlx::query(
            "UPDATE paycycle_inbox SET state = 'done', outcome = $2, applied_at = $3, attempts = attempts + 1, \
             last_error = NULL WHERE id = $1",
        )
        .bind(row.id)
        .bind(outcome.as_str())
        .bind(micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;

        self.write_changes(&mut tx, &row.gateway, changes, now).await?;
        if let Some(hook) = &self.inner.before_commit {
            hook.before_commit(&row.gateway, &event.id).await;
        }
        tx.commit().await?;
        self.inner.changes_ready.notify_waiters();
        tracing::debug!(gateway = %row.gateway, event_id = %event.id, outcome = outcome.as_str(), "event applied");
        Ok(outcome)
    }

    /// The subscription an event concerns: its own id, else the one started by its checkout,
    /// else the newest one with its merchant reference. Also says whether the ledger has a row.
    async fn locate(
        &self,
        conn: &mut sqlx::AnyConnection,
        gateway: &str,
        event: &WebhookEvent,
    ) -> Result<(Option<SubscriptionId>, bool)> {
        if let Some(id) = &event.subscription_id {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM paycycle_subscriptions WHERE gateway = $1 AND subscription_id = $2",
            )
            .bind(gateway)
            .bind(id.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(LedgerError::store)?;
            return Ok((Some(id.clone()), n > 0));
        }
        let by = match (&event.checkout_id, &event.merchant_reference) {
            (Some(c), _) => Some(("checkout_id", c.as_str())),
            (None, Some(r)) => Some(("merchant_reference", r.as_str())),
            (None, None) => None,
        };
        let Some((column, value)) = by else {
            return Ok((None, false));
        };
        let sql = format!(
            "SELECT subscription_id FROM paycycle_subscriptions WHERE gateway = $1 AND {column} = $2 \
             ORDER BY updated_at DESC LIMIT 1"
        );
        let found: Option<String> = sqlx::query_scalar(&sql)
            .bind(gateway)
            .bind(value)
            .fetch_optional(&mut *conn)
            .await
            .map_err(LedgerError::store)?;
        Ok(match found {
            Some(id) => (Some(SubscriptionId::new(id)), true),
            None => (None, false),
        })
    }

    pub(crate) async fn inbox_high_water(&self) -> Result<i64> {
        let mut conn = self.inner.store.pool.acquire().await.map_err(LedgerError::store)?;
        inbox_high_water(&mut conn).await
    }

    /// Locks the subscription row, merges, writes. Returns the change to announce, if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn write_merged(
        &self,
        tx: &mut WriteTx<'_>,
        gateway: &str,
        id: &SubscriptionId,
        snapshot: Option<Snapshot<'_>>,
        payload: Option<Payload<'_>>,
        now: DateTime<Utc>,
        cause: &Cause,
    ) -> Result<WriteResult> {
        let sql = format!(
            "SELECT {SUB_COLUMNS} FROM paycycle_subscriptions WHERE gateway = $1 AND subscription_id = $2{}",
            self.inner.store.backend.for_update()
        );
        for _ in 0..3 {
            let current = sqlx::query(&sql)
                .bind(gateway)
                .bind(id.as_str())
                .fetch_optional(&mut *tx.tx)
                .await
                .map_err(LedgerError::store)?
                .map(|r| subscription_from_row(&r))
                .transpose()?;
            let merged = merge(gateway, id, current.as_ref(), snapshot, payload, now);
            let Some((record, marks)) = merged.write else {
                return Ok(WriteResult {
                    change: None,
                    stale: merged.stale,
                });
            };
            if !write_subscription(&mut tx.tx, &record, marks, current.is_none()).await? {
                // Inserted by a concurrent transaction since our read: read it again (now
                // locked) and merge into it.
                continue;
            }
            if let (None, Some(reference)) = (&current, &record.merchant_reference) {
                // Payments that arrived before the ledger knew their subscription (Cryptomus
                // payment webhooks name only the order) are linked to it now.
                sqlx::query(
                    "UPDATE paycycle_payments SET subscription_id = $2 \
                     WHERE gateway = $1 AND subscription_id IS NULL AND merchant_reference = $3",
                )
                .bind(gateway)
                .bind(id.as_str())
                .bind(reference)
                .execute(&mut *tx.tx)
                .await
                .map_err(LedgerError::store)?;
            }
            let change = merged.changed.then(|| {
                let reference = record.merchant_reference.clone();
                (
                    ChangeKind::SubscriptionChanged {
                        before: current.map(|(r, _)| Box::new(r)),
                        after: Box::new(record),
                        cause: cause.clone(),
                    },
                    reference,
                )
            });
            return Ok(WriteResult {
                change,
                stale: merged.stale,
            });
        }
        Err(LedgerError::Store(format!(
            "subscription {gateway}/{id} kept changing under a concurrent writer"
        )))
    }

    /// Records a payment once; moves its status forward only.
    #[allow(clippy::too_many_arguments)]
    async fn record_payment(
        &self,
        tx: &mut WriteTx<'_>,
        gateway: &str,
        event: &WebhookEvent,
        payment: &Payment,
        sub_id: Option<&SubscriptionId>,
        now: DateTime<Utc>,
        cause: &Cause,
    ) -> Result<Option<ChangeKind>> {
        let pid = payment
            .id
            .clone()
            .unwrap_or_else(|| PaymentId::new(format!("event:{}", event.id)));
        let (amount, currency) = money_to(payment.amount.as_ref());
        let (paid_amount, paid_currency) = money_to(payment.paid.as_ref());
        let inserted = sqlx::query(
            "INSERT INTO paycycle_payments (gateway, payment_id, subscription_id, merchant_reference, status, amount, \
             currency, paid_amount, paid_currency, failure_reason, event_id, occurred_at, recorded_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
             ON CONFLICT (gateway, payment_id) DO NOTHING",
        )
        .bind(gateway)
        .bind(pid.as_str())
        .bind(sub_id.map(SubscriptionId::as_str))
        .bind(event.merchant_reference.as_deref())
        .bind(payment_status_str(&payment.status))
        .bind(amount)
        .bind(currency)
        .bind(paid_amount)
        .bind(paid_currency)
        .bind(payment.failure_reason.as_deref())
        .bind(event.id.as_str())
        .bind(event.occurred_at.map(micros))
        .bind(micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?
        .rows_affected()
            == 1;
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM paycycle_payments WHERE gateway = $1 AND payment_id = $2{}",
            self.inner.store.backend.for_update()
        );
        let current: PaymentRecord = load_payment(&mut tx.tx, &sql, gateway, &pid).await?;
        if inserted {
            return Ok(Some(ChangeKind::PaymentRecorded {
                payment: Box::new(current),
                previous: None,
                cause: cause.clone(),
            }));
        }
        if payment_rank(&payment.status) <= payment_rank(&current.status) {
            // A redelivered or older state of a payment already recorded.
            return Ok(None);
        }
        sqlx::query(
            "UPDATE paycycle_payments SET status = $3, event_id = $4, occurred_at = $5, updated_at = $6, \
             failure_reason = COALESCE($7, failure_reason), subscription_id = COALESCE(subscription_id, $8), \
             amount = COALESCE(amount, $9), currency = COALESCE(currency, $10) \
             WHERE gateway = $1 AND payment_id = $2",
        )
        .bind(gateway)
        .bind(pid.as_str())
        .bind(payment_status_str(&payment.status))
        .bind(event.id.as_str())
        .bind(event.occurred_at.map(micros))
        .bind(micros(now))
        .bind(payment.failure_reason.as_deref())
        .bind(sub_id.map(SubscriptionId::as_str))
        .bind(money_to(payment.amount.as_ref()).0)
        .bind(money_to(payment.amount.as_ref()).1)
        .execute(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;
        let after = load_payment(&mut tx.tx, &sql, gateway, &pid).await?;
        Ok(Some(ChangeKind::PaymentRecorded {
            payment: Box::new(after),
            previous: Some(current.status),
            cause: cause.clone(),
        }))
    }

    /// The `AccessChanged` for `reference` when the transaction's changes moved its access.
    /// `before` is access as evaluated before them (`None`: the reference had no subscription).
    pub(crate) async fn access_change(
        &self,
        tx: &mut WriteTx<'_>,
        reference: &str,
        before: Option<crate::access::Access>,
        now: DateTime<Utc>,
        cause: &Cause,
        subscription_id: Option<String>,
    ) -> Result<Option<Outgoing>> {
        let before = before.unwrap_or(crate::access::Access {
            granted: false,
            reason: crate::access::AccessReason::NoSubscription,
            until: None,
        });
        let after = access_of(&mut tx.tx, &self.inner.policy, reference, now).await?;
        if before.granted == after.granted && before.reason == after.reason {
            return Ok(None);
        }
        Ok(Some((
            ChangeKind::AccessChanged {
                merchant_reference: reference.to_owned(),
                before,
                after,
                cause: cause.clone(),
            },
            subscription_id,
            Some(reference.to_owned()),
        )))
    }

    /// A failed attempt: retried after a backoff, parked after `max_attempts`.
    async fn record_failure(&self, row: &Claimed, error: &LedgerError, now: DateTime<Utc>) -> Result<Outcome> {
        let attempts = row.attempts + 1;
        let parked = attempts >= i64::from(self.inner.max_attempts);
        let exp = u32::try_from(attempts - 1).unwrap_or(u32::MAX).min(20);
        let wait = self
            .inner
            .backoff
            .saturating_mul(2u32.saturating_pow(exp))
            .min(std::time::Duration::from_secs(3600));
        let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
        let state = if parked { "parked" } else { "pending" };
        let outcome = if parked { Outcome::Parked } else { Outcome::Retrying };
        let mut tx = self.inner.store.begin_write().await?;
        sqlx::query(
            "UPDATE paycycle_inbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, state = $4, \
             outcome = $5 WHERE id = $1 AND state = 'pending'",
        )
        .bind(row.id)
        .bind(error.to_string())
        .bind(micros(next))
        .bind(state)
        .bind(outcome.as_str())
        .execute(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;
        tx.commit().await?;
        tracing::warn!(inbox_id = row.id, attempts, parked, error = %error, "applying a webhook failed");
        Ok(outcome)
    }
}

pub(crate) struct WriteResult {
    pub(crate) change: Option<(ChangeKind, Option<String>)>,
    pub(crate) stale: bool,
}

async fn inbox_high_water(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM paycycle_inbox")
        .fetch_one(conn)
        .await
        .map_err(LedgerError::store)
}

async fn load_payment(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    gateway: &str,
    id: &PaymentId,
) -> Result<PaymentRecord> {
    let row = sqlx::query(sql)
        .bind(gateway)
        .bind(id.as_str())
        .fetch_one(conn)
        .await
        .map_err(LedgerError::store)?;
    payment_from_row(&row)
}

async fn fetch_subscription(gateway: &dyn RecurringGateway, id: &SubscriptionId) -> Result<Subscription> {
    gateway.subscription(id).await.map_err(LedgerError::Gateway)
}
