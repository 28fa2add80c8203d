//! One subscription's life, written once as app code and run on any backend through a [`Driver`].

use std::sync::Arc;

use async_trait::async_trait;
use paycycle_core::chrono::{DateTime, Utc};
use paycycle_core::{
    Checkout, CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan, SubscriptionId,
    SubscriptionStatus, WebhookEvent,
};

use crate::{Timeline, WebhookInbox};

/// What a story needs besides the gateway: acting as the payer and as time. On the simulator the
/// payer's click and the passing months are control calls; against a real provider they would be
/// a person and a calendar.
#[async_trait]
pub trait Driver: Send + Sync {
    /// The payer completes the checkout successfully (accepts the plan, pays the first time).
    async fn complete_checkout(&self, checkout: &Checkout) -> Result<(), BoxError>;
    /// Moves the gateway's time forward to `to`.
    async fn advance_to(&self, to: DateTime<Utc>) -> Result<(), BoxError>;
    /// The gateway's current time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits until every webhook the gateway has to send so far has been delivered.
    async fn flush(&self);
    /// The currency plans are priced in on this backend.
    fn currency(&self) -> Currency;
}

/// A boxed error for the examples.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What [`sell_monthly_plan`] observed.
#[derive(Debug)]
pub struct StoryOutcome {
    /// The readable log.
    pub timeline: Timeline,
    /// The checkout created.
    pub checkout: Checkout,
    /// The subscription it started.
    pub subscription_id: SubscriptionId,
    /// Every verified event, in arrival order.
    pub events: Vec<WebhookEvent>,
    /// The subscription's status after each step: created, paid, each renewal, cancelled.
    pub statuses: Vec<SubscriptionStatus>,
}

/// The app's story: sell a monthly plan (with an intro price where the gateway offers one), let
/// the payer complete the checkout, live through `periods` renewals, cancel, and record it all.
///
/// # Errors
/// Any gateway error, or a step the backend's driver cannot perform.
pub async fn sell_monthly_plan(
    gateway: &Arc<dyn RecurringGateway>,
    driver: &dyn Driver,
    inbox: &WebhookInbox,
    periods: u32,
) -> Result<StoryOutcome, BoxError> {
    let mut t = Timeline::default();
    let mut statuses = Vec::new();
    let cur = driver.currency();
    let caps = gateway.capabilities();

    let mut plan = RecurringPlan::builder("Pro plan", Money::parse("15", cur)?, Interval::monthly());
    if caps.intro_offer {
        plan = plan.intro_offer(Money::parse("1", cur)?, 30);
    }
    let plan = plan.build()?;
    let mut request = CheckoutRequest::new(plan.clone()).merchant_reference(format!("order-{}", gateway.id()));
    if caps.callback_url {
        request = request.callback_url(inbox.url_for(gateway.id().as_str())?);
    }
    let intro = match &plan.intro {
        Some(i) => format!(", {} for the first {} days", i.price, i.days),
        None => String::new(),
    };
    t.push(
        Some(driver.now()),
        "plan",
        format!("{} {} {}{intro}", plan.name, plan.price, plan.interval),
    );

    let checkout = gateway.create_checkout(&request).await?;
    t.push(
        Some(driver.now()),
        "checkout created",
        format!("{} -> {}", checkout.status, checkout.url),
    );
    statuses.push(gateway.checkout(&checkout.id).await?.status);

    driver.complete_checkout(&checkout).await?;
    driver.flush().await;
    let after_payment = gateway.checkout(&checkout.id).await?;
    let subscription_id = after_payment
        .subscription_id
        .clone()
        .ok_or("the paid checkout names no subscription")?;
    let started = driver.now();
    t.push(
        Some(started),
        "payer completed the checkout",
        format!("subscription {subscription_id}"),
    );
    let mut seen = 0;
    seen = log_new_events(&mut t, inbox, seen, started);
    statuses.push(gateway.subscription(&subscription_id).await?.status);

    for n in 1..=periods {
        let due = plan.interval.add_to(started, n).ok_or("date out of range")?;
        driver.advance_to(due).await?;
        driver.flush().await;
        t.push(Some(due), format!("renewal {n}"), "");
        seen = log_new_events(&mut t, inbox, seen, due);
        statuses.push(gateway.subscription(&subscription_id).await?.status);
    }

    let cancelled = gateway.cancel_subscription(&subscription_id).await?;
    driver.flush().await;
    t.push(Some(driver.now()), "merchant cancelled", cancelled.status.to_string());
    log_new_events(&mut t, inbox, seen, driver.now());
    statuses.push(cancelled.status);

    Ok(StoryOutcome {
        timeline: t,
        checkout,
        subscription_id,
        events: inbox.events(),
        statuses,
    })
}

fn log_new_events(t: &mut Timeline, inbox: &WebhookInbox, seen: usize, at: DateTime<Utc>) -> usize {
    let events = inbox.events();
    for e in events.iter().skip(seen) {
        t.push_event(e, at);
    }
    events.len()
}
