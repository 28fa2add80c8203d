//! The ledger's behaviour suite, run on SQLite and on PostgreSQL (when
//! `PAYCYCLE_TEST_POSTGRES_URL` is set; otherwise the PostgreSQL half prints that it was skipped).
//! The gateway is the in-memory fake: real signed webhooks, a virtual clock, the simulator's
//! lifecycle engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use paycycle_core::chrono::{self, DateTime, Utc};
use paycycle_core::{
    CancelledBy, CheckoutRequest, Currency, Interval, Money, PaymentStatus, RecurringGateway, RecurringGatewayExt,
    RecurringPlan, SubscriptionId, SubscriptionStatus,
};
use paycycle_ledger::{
    AccessPolicy, AccessReason, ApplyReport, CancelledAccess, ChangeKind, Ledger, LedgerError, Outcome, Refetch,
};
use paycycle_sim::fake::{FakeGateway, FakeWebhook, Mimic};
use support::{Db, FakeClock, Place};

on_both!(
    rejected_webhooks_store_nothing_and_redeliveries_change_nothing,
    a_whole_life_is_applied_once_with_its_changes,
    redelivered_and_reversed_webhooks_end_in_the_same_state,
    a_late_event_never_reopens_a_cancelled_subscription,
    reconcile_repairs_what_missed_webhooks_left_behind,
    access_follows_the_policy_row_by_row,
    consumers_share_the_stream_and_see_each_change_once,
    a_row_that_keeps_failing_is_parked_and_can_be_requeued,
);

async fn setup(db: Db, test: &str, mimic: Mimic, policy: AccessPolicy) -> Option<(Arc<FakeGateway>, Ledger)> {
    let place = Place::new(db, test).await?;
    let fake = Arc::new(FakeGateway::new(mimic));
    let ledger = place
        .builder()
        .gateway("fake", fake.clone())
        .clock(Arc::new(FakeClock(fake.clone())))
        .policy(policy)
        .connect()
        .await
        .expect("connect");
    Some((fake, ledger))
}

fn plan() -> RecurringPlan {
    RecurringPlan::builder(
        "Pro",
        Money::parse("15.00", Currency::USD).unwrap(),
        Interval::monthly(),
    )
    .build()
    .unwrap()
}

/// Sells a monthly plan to `reference` and lets the payer pay. Returns the subscription id.
async fn sell(fake: &FakeGateway, reference: &str) -> SubscriptionId {
    let checkout = fake
        .create_checkout(&CheckoutRequest::new(plan()).merchant_reference(reference))
        .await
        .unwrap();
    fake.pay(&checkout.id).unwrap();
    fake.checkout(&checkout.id).await.unwrap().subscription_id.unwrap()
}

async fn deliver(ledger: &Ledger, hooks: &[FakeWebhook]) {
    for w in hooks {
        ledger.receive("fake", &w.headers, &w.body).await.expect("receive");
    }
}

fn month() -> chrono::Duration {
    chrono::Duration::days(31)
}

async fn rejected_webhooks_store_nothing_and_redeliveries_change_nothing(db: Db) {
    let Some((fake, ledger)) = setup(db, "rejected", Mimic::All, AccessPolicy::default()).await else {
        return;
    };
    sell(&fake, "r-1").await;
    let hooks = fake.webhooks();
    let w = &hooks[0];

    let mut tampered = w.body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    let err = ledger.receive("fake", &w.headers, &tampered).await.unwrap_err();
    assert!(matches!(err, LedgerError::Rejected(_)), "{err}");
    assert!(err.webhook_error().is_some());
    let err = ledger.receive("nope", &w.headers, &w.body).await.unwrap_err();
    assert!(matches!(err, LedgerError::UnknownGateway(ref n) if n == "nope"));
    assert_eq!(ledger.inbox_counts().await.unwrap(), (0, 0, 0), "nothing stored");

    let first = ledger.receive("fake", &w.headers, &w.body).await.unwrap();
    assert!(!first.duplicate);
    for _ in 0..3 {
        let again = ledger.receive("fake", &w.headers, &w.body).await.unwrap();
        assert!(again.duplicate);
        assert_eq!(again.event_id, first.event_id);
    }
    assert_eq!(
        ledger.inbox_counts().await.unwrap(),
        (1, 0, 0),
        "one row for four deliveries"
    );
}

async fn a_whole_life_is_applied_once_with_its_changes(db: Db) {
    let Some((fake, ledger)) = setup(db, "whole_life", Mimic::Recurrente, AccessPolicy::default()).await else {
        return;
    };
    // Webhooks arrive as the story goes, and are applied as they arrive.
    let mut delivered = 0;
    let mut total = ApplyReport::default();
    let sub = sell(&fake, "order-7").await;
    for step in 0..=4 {
        match step {
            0 => {}
            4 => {
                fake.cancel_subscription(&sub).await.unwrap();
            }
            _ => {
                fake.advance(month()).unwrap();
            }
        }
        let hooks = fake.webhooks();
        deliver(&ledger, &hooks[delivered..]).await;
        delivered = hooks.len();
        let r = ledger.apply_pending(usize::MAX).await.unwrap();
        total.applied += r.applied;
        assert_eq!(r.parked + r.retrying, 0, "{r:?}");
    }
    assert_eq!(total.applied, delivered, "every event changed something");
    assert_eq!(ledger.apply_pending(10).await.unwrap().total(), 0, "nothing left");

    let local = ledger.subscription("fake", &sub).await.unwrap().expect("recorded");
    let remote = fake.subscription(&sub).await.unwrap();
    assert_eq!(local.status, remote.status);
    assert!(matches!(
        local.status,
        SubscriptionStatus::Cancelled {
            by: CancelledBy::Merchant
        }
    ));
    assert_eq!(local.price, remote.price);
    assert_eq!(local.merchant_reference.as_deref(), Some("order-7"));
    assert_eq!(local.last_paid_at, remote.last_paid_at);

    let payments = ledger.payments(Some("fake")).await.unwrap();
    assert_eq!(payments.len(), 4, "the first charge and three renewals: {payments:?}");
    assert!(payments.iter().all(|p| p.status == PaymentStatus::Succeeded));
    assert!(
        payments
            .iter()
            .all(|p| p.amount == Some(Money::parse("15.00", Currency::USD).unwrap()))
    );
    let ids: BTreeSet<_> = payments.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids.len(), 4);

    let changes = ledger.changes_since(0, 1000).await.unwrap();
    let seqs: Vec<i64> = changes.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in sequence order");
    let paid = changes
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::PaymentRecorded { .. }))
        .count();
    assert_eq!(paid, 4);
    let statuses: Vec<SubscriptionStatus> = changes
        .iter()
        .filter_map(|c| match &c.kind {
            ChangeKind::SubscriptionChanged { before, after, .. }
                if before.as_ref().map(|b| &b.status) != Some(&after.status) =>
            {
                Some(after.status.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(statuses.first(), Some(&SubscriptionStatus::Active));
    assert!(matches!(statuses.last(), Some(SubscriptionStatus::Cancelled { .. })));
    let access: Vec<(bool, AccessReason)> = changes
        .iter()
        .filter_map(|c| match &c.kind {
            ChangeKind::AccessChanged {
                after,
                merchant_reference,
                ..
            } => {
                assert_eq!(merchant_reference, "order-7");
                Some((after.granted, after.reason))
            }
            _ => None,
        })
        .collect();
    assert_eq!(access.first(), Some(&(true, AccessReason::Active)), "{access:?}");
    assert_eq!(
        access.last(),
        Some(&(true, AccessReason::CancelledPaidThrough)),
        "cancelled inside a paid month: {access:?}"
    );
}

async fn redelivered_and_reversed_webhooks_end_in_the_same_state(db: Db) {
    let Some((fake, ledger)) = setup(db, "reversed", Mimic::Recurrente, AccessPolicy::default()).await else {
        return;
    };
    let subs = [sell(&fake, "a").await, sell(&fake, "b").await];
    fake.fail_next_charges(&subs[0], 1).unwrap();
    for _ in 0..2 {
        fake.advance(month()).unwrap();
    }
    fake.cancel_subscription(&subs[1]).await.unwrap();
    let hooks = fake.webhooks();
    // Every webhook three times, newest first.
    let mut chaos: Vec<FakeWebhook> = hooks.iter().rev().cloned().collect();
    chaos.extend(chaos.clone());
    chaos.extend(hooks.iter().cloned());
    deliver(&ledger, &chaos).await;
    let (pending, _, _) = ledger.inbox_counts().await.unwrap();
    assert_eq!(pending as usize, hooks.len(), "one row per event");
    ledger.apply_pending(usize::MAX).await.unwrap();

    for id in &subs {
        let local = ledger.subscription("fake", id).await.unwrap().expect("recorded");
        let remote = fake.subscription(id).await.unwrap();
        assert_eq!(local.status, remote.status, "{id}");
        assert_eq!(local.last_paid_at, remote.last_paid_at, "{id}");
    }
    let remote_charges = fake.events().unwrap().iter().filter(|e| e.payment.is_some()).count();
    assert_eq!(
        ledger.payments(None).await.unwrap().len(),
        remote_charges,
        "each payment once"
    );
}

async fn a_late_event_never_reopens_a_cancelled_subscription(db: Db) {
    for refetch in [Refetch::Never, Refetch::WhenNeeded] {
        let name = format!("late_{refetch:?}");
        let Some(place) = Place::new(db, &name).await else {
            return;
        };
        let fake = Arc::new(FakeGateway::new(Mimic::Recurrente));
        let ledger = place
            .builder()
            .gateway("fake", fake.clone())
            .refetch("fake", refetch)
            .clock(Arc::new(FakeClock(fake.clone())))
            .connect()
            .await
            .unwrap();
        let sub = sell(&fake, "late").await;
        fake.fail_next_charges(&sub, 1).unwrap();
        fake.advance(month()).unwrap(); // past due
        let before_cancel = fake.webhooks().len();
        fake.cancel_subscription(&sub).await.unwrap();
        let hooks = fake.webhooks();
        let (early, cancel) = hooks.split_at(before_cancel);
        assert!(
            early
                .iter()
                .any(|w| String::from_utf8_lossy(&w.body).contains("past_due")),
            "the story has a past_due event"
        );
        // The cancellation is applied first; then the active and past_due events arrive late.
        deliver(&ledger, cancel).await;
        ledger.apply_pending(usize::MAX).await.unwrap();
        deliver(&ledger, early).await;
        let report = ledger.apply_pending(usize::MAX).await.unwrap();
        let local = ledger.subscription("fake", &sub).await.unwrap().unwrap();
        assert!(
            matches!(local.status, SubscriptionStatus::Cancelled { .. }),
            "{refetch:?}: {:?}",
            local.status
        );
        if refetch == Refetch::Never {
            assert!(report.stale >= 2, "started and past_due refused as stale: {report:?}");
        }
        let reopened = ledger
            .changes_since(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .any(|c| match c.kind {
                ChangeKind::SubscriptionChanged {
                    before: Some(b), after, ..
                } => b.status.is_terminal() && !after.status.is_terminal(),
                _ => false,
            });
        assert!(!reopened, "{refetch:?}: no change ever left the terminal state");
    }
}

async fn reconcile_repairs_what_missed_webhooks_left_behind(db: Db) {
    let Some(place) = Place::new(db, "reconcile").await else {
        return;
    };
    let fake = Arc::new(FakeGateway::new(Mimic::Recurrente));
    // Payloads only, so that what was missed stays missed until reconcile.
    let ledger = place
        .builder()
        .gateway("fake", fake.clone())
        .refetch("fake", Refetch::Never)
        .clock(Arc::new(FakeClock(fake.clone())))
        .connect()
        .await
        .unwrap();
    let mut subs = Vec::new();
    for i in 0..12 {
        subs.push(sell(&fake, &format!("ref-{i}")).await);
    }
    fake.fail_next_charges(&subs[0], 5).unwrap();
    fake.cancel_subscription(&subs[1]).await.unwrap();
    fake.advance(month()).unwrap();
    fake.pause(&subs[2]).unwrap();
    // Deliver only every third webhook (the rest are "lost").
    let hooks = fake.webhooks();
    let kept: Vec<FakeWebhook> = hooks.iter().step_by(3).cloned().collect();
    deliver(&ledger, &kept).await;
    ledger.apply_pending(usize::MAX).await.unwrap();
    // Three more whose every webhook is lost.
    for i in 12..15 {
        subs.push(sell(&fake, &format!("ref-{i}")).await);
    }

    let report = ledger.reconcile("fake").await.unwrap();
    assert_eq!(report.seen, 15);
    assert_eq!(
        report.created, 3,
        "created {} repaired {}",
        report.created, report.repaired
    );
    assert!(report.repaired > 0, "repaired {}", report.repaired);
    let remote: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(fake.all_subscriptions())
        .await
        .unwrap();
    for r in &remote {
        let local = ledger
            .subscription("fake", &r.id)
            .await
            .unwrap()
            .expect("every subscription is local");
        assert_eq!(local.status, r.status, "{}", r.id);
        assert_eq!(local.current_period_end, r.current_period_end, "{}", r.id);
        assert_eq!(local.price, r.price, "{}", r.id);
        assert_eq!(local.merchant_reference, r.merchant_reference, "{}", r.id);
    }
    let reconciled = ledger
        .changes_since(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| {
            matches!(
                &c.kind,
                ChangeKind::SubscriptionChanged {
                    cause: paycycle_ledger::Cause::Reconciled,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        reconciled,
        report.created + report.repaired,
        "each repair is one change"
    );

    // Idempotent: a second run repairs nothing and announces nothing.
    let before = ledger.changes_since(0, 10_000).await.unwrap().len();
    let again = ledger.reconcile("fake").await.unwrap();
    assert_eq!((again.created, again.repaired), (0, 0), "{again:?}");
    assert_eq!(ledger.changes_since(0, 10_000).await.unwrap().len(), before);
}

async fn access_follows_the_policy_row_by_row(db: Db) {
    let Some((fake, ledger)) = setup(db, "access", Mimic::Recurrente, AccessPolicy::default()).await else {
        return;
    };
    let at = |d: i64| fake.now() + chrono::Duration::days(d);
    let check = |reference: &'static str, when: DateTime<Utc>| {
        let ledger = ledger.clone();
        async move { ledger.access(reference, when).await.unwrap() }
    };
    // No subscription.
    let a = check("nobody", at(0)).await;
    assert_eq!((a.granted, a.reason), (false, AccessReason::NoSubscription));

    // Pending: a checkout not paid yet has no row (the fake sends nothing until paid).
    let active = sell(&fake, "active").await;
    let past_due = sell(&fake, "past-due").await;
    let paused = sell(&fake, "paused").await;
    let cancelled = sell(&fake, "cancelled").await;
    let _ = active;
    fake.fail_next_charges(&past_due, 3).unwrap();
    fake.pause(&paused).unwrap();
    fake.cancel_subscription(&cancelled).await.unwrap();
    let sync = |ledger: Ledger, fake: Arc<FakeGateway>| async move {
        let seen = ledger.inbox_counts().await.unwrap();
        let all = fake.webhooks();
        let start = (seen.0 + seen.1 + seen.2) as usize;
        deliver(&ledger, &all[start.min(all.len())..]).await;
        ledger.apply_pending(usize::MAX).await.unwrap();
    };
    sync(ledger.clone(), fake.clone()).await;

    let a = check("active", at(1)).await;
    assert_eq!((a.granted, a.reason), (true, AccessReason::Active));
    let period_end = a.until.expect("an active paid subscription has a period end");
    let a = check("paused", at(1)).await;
    assert_eq!((a.granted, a.reason), (false, AccessReason::Paused));
    let a = check("cancelled", at(1)).await;
    assert_eq!(
        (a.granted, a.reason),
        (true, AccessReason::CancelledPaidThrough),
        "inside the paid month"
    );
    let a = check("cancelled", period_end + chrono::Duration::seconds(1)).await;
    assert_eq!(
        (a.granted, a.reason),
        (false, AccessReason::Cancelled),
        "after the paid month"
    );

    // The renewal fails: past due, with 3 days of grace after the paid period.
    fake.advance(month()).unwrap();
    sync(ledger.clone(), fake.clone()).await;
    let sub = ledger.subscription("fake", &past_due).await.unwrap().unwrap();
    assert_eq!(sub.status, SubscriptionStatus::PastDue);
    let end = sub.status_since.expect("when it became past due");
    let a = check("past-due", end + chrono::Duration::days(2)).await;
    assert_eq!((a.granted, a.reason), (true, AccessReason::PastDueGrace));
    assert_eq!(a.until, Some(end + chrono::Duration::days(3)));
    let a = check("past-due", end + chrono::Duration::days(3)).await;
    assert_eq!((a.granted, a.reason), (false, AccessReason::PastDueExpired));
    let a = check("active", fake.now()).await;
    assert_eq!((a.granted, a.reason), (true, AccessReason::Active), "renewed");

    // The same records under a stricter policy.
    let strict = AccessPolicy::default()
        .cancelled(CancelledAccess::Immediately)
        .paused_access(true)
        .past_due_grace_days(0);
    let subs = ledger.subscriptions_for("cancelled").await.unwrap();
    assert_eq!(strict.evaluate(&subs[0], true, at(-20)).reason, AccessReason::Cancelled);
    let subs = ledger.subscriptions_for("paused").await.unwrap();
    assert!(strict.evaluate(&subs[0], true, at(0)).granted);
    let subs = ledger.subscriptions_for("past-due").await.unwrap();
    assert!(
        !strict
            .evaluate(&subs[0], true, end + chrono::Duration::seconds(1))
            .granted
    );

    // A trial: active, nothing paid.
    let trial_plan = RecurringPlan::builder("Trial", Money::parse("9", Currency::USD).unwrap(), Interval::monthly())
        .trial(Interval::weekly())
        .build()
        .unwrap();
    let checkout = fake
        .create_checkout(&CheckoutRequest::new(trial_plan).merchant_reference("trial"))
        .await
        .unwrap();
    fake.pay(&checkout.id).unwrap();
    sync(ledger.clone(), fake.clone()).await;
    let a = check("trial", fake.now()).await;
    assert_eq!((a.granted, a.reason), (true, AccessReason::Trial), "{a:?}");
    let subs = ledger.subscriptions_for("trial").await.unwrap();
    assert!(
        !AccessPolicy::default()
            .trial_access(false)
            .evaluate(&subs[0], false, fake.now())
            .granted
    );
}

async fn consumers_share_the_stream_and_see_each_change_once(db: Db) {
    let Some(place) = Place::new(db, "consumers").await else {
        return;
    };
    let fake = Arc::new(FakeGateway::new(Mimic::Recurrente));
    // The system clock: leases run out in real time here.
    let ledger = place
        .builder()
        .gateway("fake", fake.clone())
        .lease(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    for i in 0..5 {
        sell(&fake, &format!("c-{i}")).await;
    }
    fake.advance(month()).unwrap();
    deliver(&ledger, &fake.webhooks()).await;
    ledger.apply_pending(usize::MAX).await.unwrap();
    let all: Vec<i64> = ledger
        .changes_since(0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert!(all.len() >= 15, "{}", all.len());

    // Two instances of one consumer pull in turns: disjoint batches, together everything.
    let mut seen = Vec::new();
    loop {
        let a = ledger.next_changes("billing-emails", 4).await.unwrap();
        let b = ledger.next_changes("billing-emails", 4).await.unwrap();
        if a.is_empty() && b.is_empty() {
            break;
        }
        for c in a.iter().chain(&b) {
            seen.push(c.seq);
        }
        let seqs: Vec<i64> = a.iter().chain(&b).map(|c| c.seq).collect();
        ledger.ack("billing-emails", &seqs).await.unwrap();
    }
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no change handed out twice");
    assert_eq!(unique.into_iter().collect::<Vec<_>>(), all, "every change, once");

    // Another consumer is independent; an unacknowledged change comes back after its lease.
    let first = ledger.next_changes("analytics", 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].seq, all[0]);
    let next = ledger.next_changes("analytics", 1).await.unwrap();
    assert_eq!(next[0].seq, all[1], "the leased change is skipped meanwhile");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = ledger.next_changes("analytics", 1).await.unwrap();
    assert_eq!(again[0].seq, all[0], "redelivered after the lease");

    // The in-process handler: every change once, acknowledged.
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    let consumer = ledger
        .on_change("handler", move |c| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(c.seq);
                Ok::<(), std::convert::Infallible>(())
            }
        })
        .unwrap();
    for _ in 0..1500 {
        if got.lock().unwrap().len() >= all.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.shutdown().await;
    assert_eq!(*got.lock().unwrap(), all);
    assert!(
        ledger.next_changes("handler", 100).await.unwrap().is_empty(),
        "all acknowledged"
    );
    assert!(ledger.next_changes("", 1).await.is_err());
}

/// A gateway whose reads always fail: applying must retry, then park.
#[derive(Debug)]
struct Broken(Arc<FakeGateway>);

#[async_trait::async_trait]
impl RecurringGateway for Broken {
    fn id(&self) -> paycycle_core::GatewayId {
        self.0.id()
    }
    fn capabilities(&self) -> &paycycle_core::Capabilities {
        self.0.capabilities()
    }
    async fn create_checkout(&self, r: &CheckoutRequest) -> paycycle_core::Result<paycycle_core::Checkout> {
        self.0.create_checkout(r).await
    }
    async fn checkout(&self, id: &paycycle_core::CheckoutId) -> paycycle_core::Result<paycycle_core::Checkout> {
        self.0.checkout(id).await
    }
    async fn subscription(&self, _id: &SubscriptionId) -> paycycle_core::Result<paycycle_core::Subscription> {
        Err(paycycle_core::Error::RateLimited {
            gateway: self.0.id(),
            retry_after: None,
        })
    }
    async fn subscriptions(
        &self,
        p: paycycle_core::PageRequest,
    ) -> paycycle_core::Result<paycycle_core::Page<paycycle_core::Subscription>> {
        self.0.subscriptions(p).await
    }
    async fn cancel_subscription(&self, id: &SubscriptionId) -> paycycle_core::Result<paycycle_core::Subscription> {
        self.0.cancel_subscription(id).await
    }
    fn verify_webhook(&self, h: &http::HeaderMap, b: &[u8]) -> paycycle_core::Result<paycycle_core::WebhookEvent> {
        self.0.verify_webhook(h, b)
    }
}

async fn a_row_that_keeps_failing_is_parked_and_can_be_requeued(db: Db) {
    let Some(place) = Place::new(db, "parked").await else {
        return;
    };
    let fake = Arc::new(FakeGateway::new(Mimic::Recurrente));
    let ledger = place
        .builder()
        .gateway("fake", Arc::new(Broken(fake.clone())))
        .refetch("fake", Refetch::Always)
        .clock(Arc::new(FakeClock(fake.clone())))
        .max_attempts(3)
        .backoff(Duration::ZERO)
        .connect()
        .await
        .unwrap();
    sell(&fake, "p").await;
    let hooks = fake.webhooks();
    deliver(&ledger, &hooks[..1]).await;
    let mut outcomes = Vec::new();
    while let Some(o) = ledger.apply_one().await.unwrap() {
        outcomes.push(o);
    }
    assert_eq!(outcomes, vec![Outcome::Retrying, Outcome::Retrying, Outcome::Parked]);
    let parked = ledger.parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].attempts, 3);
    assert!(
        parked[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("gateway call failed"),
        "{parked:?}"
    );
    assert!(ledger.subscriptions(None).await.unwrap().is_empty(), "nothing applied");

    // Fixed (here: payloads only), a person requeues it.
    let fixed = place
        .builder()
        .gateway("fake", fake.clone())
        .clock(Arc::new(FakeClock(fake.clone())))
        .connect()
        .await;
    // SQLite in memory is one database per ledger: requeue on the same ledger there.
    let ledger = match (db, fixed) {
        (Db::Postgres, Ok(l)) => l,
        _ => {
            ledger.add_gateway("fake", fake.clone());
            ledger
        }
    };
    assert!(ledger.requeue(parked[0].inbox_id).await.unwrap());
    assert!(!ledger.requeue(parked[0].inbox_id).await.unwrap(), "no longer parked");
    let report = ledger.apply_pending(10).await.unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert!(ledger.parked().await.unwrap().is_empty());
    let by_status: BTreeMap<String, usize> =
        ledger
            .subscriptions(None)
            .await
            .unwrap()
            .iter()
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s.status.to_string()).or_default() += 1;
                m
            });
    assert_eq!(by_status.get("active"), Some(&1));
}
