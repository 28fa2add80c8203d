//! Catching up with a gateway: every subscription it lists is compared with the local row, and
//! every difference is repaired and announced with cause [`Cause::Reconciled`].

use futures::StreamExt;
use paycycle_core::RecurringGatewayExt;

use crate::error::{LedgerError, Result};
use crate::ledger::{Ledger, access_of};
use crate::merge::Snapshot;
use crate::model::{Cause, ChangeKind, ReconcileReport};

impl Ledger {
    /// Streams every subscription of the gateway named `gateway` and repairs each local row that
    /// differs (status, terms, period, reference), recording each repair as a change with cause
    /// `Reconciled`. Run it from a scheduler after an outage, or every few hours.
    ///
    /// Idempotent, and safe on every instance at once: each row is compared under its lock, so
    /// a difference is repaired (and announced) once. A snapshot older than what a row already
    /// reflects (a webhook received after the reconcile started and already applied) is not
    /// written over it.
    ///
    /// # Errors
    /// [`LedgerError::UnknownGateway`]; [`LedgerError::Gateway`] when listing fails (rows
    /// repaired before the failure stay repaired); [`LedgerError::Store`].
    pub async fn reconcile(&self, gateway: &str) -> Result<ReconcileReport> {
        let entry = self.entry(gateway)?;
        // Everything received up to here is reflected in what the listing returns.
        let mark = self.inbox_high_water().await?;
        let mut report = ReconcileReport {
            gateway: gateway.to_owned(),
            ..ReconcileReport::default()
        };
        let mut stream = entry.gateway.all_subscriptions();
        while let Some(sub) = stream.next().await {
            let sub = sub.map_err(LedgerError::Gateway)?;
            report.seen += 1;
            let now = self.now();
            let mut tx = self.inner.store.begin_write().await?;
            let reference = sub.merchant_reference.clone();
            if let Some(r) = &reference {
                self.inner.store.lock_reference(&mut tx, gateway, r).await?;
            }
            let access_before = match &reference {
                Some(r) => Some(access_of(&mut tx.tx, &self.inner.policy, r, now).await?),
                None => None,
            };
            let result = self
                .write_merged(
                    &mut tx,
                    gateway,
                    &sub.id,
                    Some(Snapshot { sub: &sub, mark }),
                    None,
                    now,
                    &Cause::Reconciled,
                )
                .await?;
            let Some((change, reference)) = result.change else {
                // Nothing an app acts on differed (bookkeeping may have been refreshed).
                tx.commit().await?;
                continue;
            };
            let mut changes = Vec::new();
            if let ChangeKind::SubscriptionChanged { before, after, .. } = &change {
                match before {
                    None => report.created += 1,
                    Some(_) => report.repaired += 1,
                }
                report
                    .repairs
                    .push((before.as_deref().cloned(), after.as_ref().clone()));
            }
            changes.push((change, Some(sub.id.as_str().to_owned()), reference.clone()));
            if let Some(r) = &reference {
                let sub_id = Some(sub.id.as_str().to_owned());
                changes.extend(
                    self.access_change(&mut tx, r, access_before, now, &Cause::Reconciled, sub_id)
                        .await?,
                );
            }
            self.write_changes(&mut tx, gateway, changes, now).await?;
            tx.commit().await?;
            self.inner.changes_ready.notify_waiters();
        }
        tracing::info!(
            gateway,
            seen = report.seen,
            created = report.created,
            repaired = report.repaired,
            "reconciled"
        );
        Ok(report)
    }
}
