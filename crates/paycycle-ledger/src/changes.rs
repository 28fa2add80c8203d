//! The outbox: changes for the app, consumed at least once by named consumers.
//!
//! Each consumer has a cursor (`acked_through`: every change up to it is acknowledged) and, past
//! it, a lease per change handed out. [`Ledger::next_changes`] leases the oldest changes that are
//! neither acknowledged nor leased to someone else, so several instances of one consumer share
//! the stream without handling a change twice; a change whose handler died is handed out again
//! when its lease runs out. [`Ledger::ack`] acknowledges and moves the cursor over every
//! change acknowledged without a gap.
//!
//! Outbox rows become visible in sequence order: SQLite has one writer, and on PostgreSQL
//! every transaction that writes the outbox takes one advisory lock just before (see
//! `Store::lock_outbox`), so the cursor never passes a change that commits late.

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use tokio::task::JoinHandle;

use crate::error::{LedgerError, Result};
use crate::ledger::Ledger;
use crate::model::Change;
use crate::rows::get;
use crate::store::{WriteTx, from_micros, micros};

/// A consumer started by [`Ledger::on_change`]. Dropping it stops the consumer after the
/// change it is handling.
#[derive(Debug)]
pub struct ChangeConsumer {
    handle: Option<JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl ChangeConsumer {
    /// Stops after the change being handled, and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for ChangeConsumer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn valid_consumer(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 200 {
        return Err(LedgerError::Config(
            "a consumer name must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

impl Ledger {
    pub(crate) async fn write_changes(
        &self,
        tx: &mut WriteTx<'_>,
        gateway: &str,
        changes: Vec<crate::apply::Outgoing>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.inner.store.lock_outbox(tx).await?;
        for (change, subscription_id, reference) in changes {
            let payload =
                serde_json::to_string(&change).map_err(|e| LedgerError::corrupt("outbox.payload", e.to_string()))?;
            sqlx::query(
                "INSERT INTO paycycle_outbox (created_at, kind, gateway, subscription_id, merchant_reference, payload) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(micros(now))
            .bind(change.label())
            .bind(gateway)
            .bind(subscription_id)
            .bind(reference)
            .bind(payload)
            .execute(&mut *tx.tx)
            .await
            .map_err(LedgerError::store)?;
        }
        Ok(())
    }

    /// Creates the consumer's row if needed and locks it for this transaction: every lease and
    /// acknowledgement of one consumer is serialized (across instances on PostgreSQL; SQLite has
    /// one writer anyway), so a change acknowledged and swept by one instance can never be
    /// leased again by another that looked before the sweep. Returns the cursor.
    async fn lock_consumer(&self, tx: &mut WriteTx<'_>, consumer: &str) -> Result<i64> {
        sqlx::query(
            "INSERT INTO paycycle_consumers (consumer, acked_through) VALUES ($1, 0) ON CONFLICT (consumer) DO NOTHING",
        )
        .bind(consumer)
        .execute(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;
        let sql = format!(
            "SELECT acked_through FROM paycycle_consumers WHERE consumer = $1{}",
            self.inner.store.backend.for_update()
        );
        sqlx::query_scalar(&sql)
            .bind(consumer)
            .fetch_one(&mut *tx.tx)
            .await
            .map_err(LedgerError::store)
    }

    /// Leases up to `limit` of the oldest changes that `consumer` has neither acknowledged nor
    /// been handed within its lease, in sequence order. Acknowledge each with [`Ledger::ack`]
    /// once handled; an unacknowledged change comes back after the lease (at least once).
    ///
    /// # Errors
    /// [`LedgerError::Config`] for an empty name; [`LedgerError::Store`];
    /// [`LedgerError::Corrupt`].
    pub async fn next_changes(&self, consumer: &str, limit: u32) -> Result<Vec<Change>> {
        valid_consumer(consumer)?;
        let now = self.now();
        let lease_until = now + chrono::Duration::from_std(self.inner.lease).unwrap_or(chrono::Duration::seconds(30));
        let mut tx = self.inner.store.begin_write().await?;
        let cursor = self.lock_consumer(&mut tx, consumer).await?;
        let seqs: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO paycycle_change_leases (consumer, seq, leased_until, acked) \
             SELECT $1, o.seq, $2, 0 FROM paycycle_outbox o \
             WHERE o.seq > $5 \
               AND NOT EXISTS (SELECT 1 FROM paycycle_change_leases l WHERE l.consumer = $1 AND l.seq = o.seq \
                               AND (l.acked = 1 OR l.leased_until > $3)) \
             ORDER BY o.seq LIMIT $4 \
             ON CONFLICT (consumer, seq) DO UPDATE SET leased_until = excluded.leased_until \
               WHERE paycycle_change_leases.acked = 0 AND paycycle_change_leases.leased_until <= $3 \
             RETURNING seq",
        )
        .bind(consumer)
        .bind(micros(lease_until))
        .bind(micros(now))
        .bind(i64::from(limit.max(1)))
        .bind(cursor)
        .fetch_all(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;
        let changes = if seqs.is_empty() {
            Vec::new()
        } else {
            let placeholders: Vec<String> = (1..=seqs.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT seq, created_at, payload FROM paycycle_outbox WHERE seq IN ({}) ORDER BY seq",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for s in &seqs {
                q = q.bind(*s);
            }
            let rows = q.fetch_all(&mut *tx.tx).await.map_err(LedgerError::store)?;
            rows.iter().map(change_from_row).collect::<Result<Vec<_>>>()?
        };
        tx.commit().await?;
        Ok(changes)
    }

    /// Acknowledges changes handled by `consumer`, and moves its cursor over every change
    /// acknowledged without a gap. Acknowledging twice is harmless.
    ///
    /// # Errors
    /// [`LedgerError::Config`] for an empty name; [`LedgerError::Store`].
    pub async fn ack(&self, consumer: &str, seqs: &[i64]) -> Result<()> {
        valid_consumer(consumer)?;
        if seqs.is_empty() {
            return Ok(());
        }
        let mut tx = self.inner.store.begin_write().await?;
        let current = self.lock_consumer(&mut tx, consumer).await?;
        for chunk in seqs.chunks(500) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "UPDATE paycycle_change_leases SET acked = 1 WHERE consumer = $1 AND seq IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(consumer);
            for s in chunk {
                q = q.bind(*s);
            }
            q.execute(&mut *tx.tx).await.map_err(LedgerError::store)?;
        }
        // The cursor: just before the first change past it that is not acknowledged, or the
        // newest change when all are. Both are read in ONE statement, so from one snapshot: on
        // PostgreSQL each statement of a READ COMMITTED transaction sees a new snapshot, and a
        // newest-seq read after the first one could include changes that committed in between,
        // never leased, and move the cursor past them (the chaos test caught this).
        let (first_open, newest): (Option<i64>, i64) = sqlx::query_as(
            "SELECT (SELECT MIN(o.seq) FROM paycycle_outbox o WHERE o.seq > $2 AND NOT EXISTS \
             (SELECT 1 FROM paycycle_change_leases l WHERE l.consumer = $1 AND l.seq = o.seq AND l.acked = 1)), \
             (SELECT COALESCE(MAX(seq), 0) FROM paycycle_outbox)",
        )
        .bind(consumer)
        .bind(current)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(LedgerError::store)?;
        let through = first_open.map_or(newest, |s| s - 1);
        if through > current {
            sqlx::query("UPDATE paycycle_consumers SET acked_through = $2 WHERE consumer = $1")
                .bind(consumer)
                .bind(through)
                .execute(&mut *tx.tx)
                .await
                .map_err(LedgerError::store)?;
            sqlx::query("DELETE FROM paycycle_change_leases WHERE consumer = $1 AND seq <= $2")
                .bind(consumer)
                .bind(through)
                .execute(&mut *tx.tx)
                .await
                .map_err(LedgerError::store)?;
        }
        tx.commit().await
    }

    /// Starts an in-process consumer: calls `handler` for every change, in order, and
    /// acknowledges each one the handler returns `Ok` for. A change whose handler fails is
    /// handed out again after the lease (at least once: make handlers idempotent, e.g. by
    /// `change.seq`). Several processes may run the same consumer name; they share the stream.
    ///
    /// # Errors
    /// [`LedgerError::Config`] for an empty name.
    pub fn on_change<F, Fut, E>(&self, consumer: &str, handler: F) -> Result<ChangeConsumer>
    where
        F: Fn(Change) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send,
        E: std::fmt::Display + Send,
    {
        valid_consumer(consumer)?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let ledger = self.clone();
        let consumer = consumer.to_owned();
        let handle = tokio::spawn(async move {
            loop {
                if *stopped.borrow() {
                    return;
                }
                let ready = ledger.inner.changes_ready.notified();
                let batch = match ledger.next_changes(&consumer, 100).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(consumer = %consumer, error = %e, "change consumer: store unavailable");
                        Vec::new()
                    }
                };
                let got = !batch.is_empty();
                for change in batch {
                    let seq = change.seq;
                    match handler(change).await {
                        Ok(()) => {
                            if let Err(e) = ledger.ack(&consumer, &[seq]).await {
                                tracing::warn!(consumer = %consumer, seq, error = %e, "change consumer: ack failed");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(consumer = %consumer, seq, error = %e, "change handler failed; retried after the lease");
                        }
                    }
                    if *stopped.borrow() {
                        return;
                    }
                }
                if got {
                    continue;
                }
                tokio::select! {
                    _ = stopped.changed() => return,
                    () = ready => {}
                    () = tokio::time::sleep(ledger.inner.poll_interval) => {}
                }
            }
        });
        Ok(ChangeConsumer {
            handle: Some(handle),
            stop,
        })
    }

    /// Changes since `after_seq` without leasing or acknowledging anything: for inspection and
    /// tests, not for consumers.
    ///
    /// # Errors
    /// [`LedgerError::Store`], [`LedgerError::Corrupt`].
    pub async fn changes_since(&self, after_seq: i64, limit: u32) -> Result<Vec<Change>> {
        let rows =
            sqlx::query("SELECT seq, created_at, payload FROM paycycle_outbox WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.inner.store.pool)
                .await
                .map_err(LedgerError::store)?;
        rows.iter().map(change_from_row).collect()
    }
}

fn change_from_row(r: &AnyRow) -> Result<Change> {
    let seq: i64 = get(r, "seq")?;
    let at: i64 = get(r, "created_at")?;
    let payload: String = get(r, "payload")?;
    Ok(Change {
        seq,
        at: from_micros("created_at", at)?,
        kind: serde_json::from_str(&payload)
            .map_err(|e| LedgerError::corrupt("outbox.payload", format!("change {seq}: {e}")))?,
    })
}
