//! One subscription's life, written once as app code and run on any backend through a
//! [`Harness`] (on the simulator, the payer's click and the passing months are control calls).

use paycycle_core::chrono::{DateTime, Utc};
use paycycle_core::conformance::{Harness, verified_events};
use paycycle_core::{
    Checkout, CheckoutRequest, Interval, Money, RecurringPlan, SubscriptionId, SubscriptionStatus, WebhookEvent,
};

use crate::Timeline;

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
    /// Every verified event, in arrival order, without duplicates.
    pub events: Vec<WebhookEvent>,
    /// The subscription's status after each step: created, paid, each renewal, cancelled.
    pub statuses: Vec<SubscriptionStatus>,
    /// One line per step: its name, the status after it, and what the app heard.
    pub steps: Vec<Step>,
}

/// One step of the story, summarized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `checkout created`, `payer paid`, `renewal 1`, …
    pub name: String,
    /// The subscription's status after the step.
    pub status: SubscriptionStatus,
    /// The events it caused, shortly: `started`, `paid 15.00 GTQ`, `cancelled`.
    pub heard: Vec<String>,
}

fn short(e: &WebhookEvent) -> String {
    use paycycle_core::EventKind::*;
    let amount = e
        .payment
        .as_ref()
        .and_then(|p| p.amount)
        .map(|a| format!(" {a}"))
        .unwrap_or_default();
    match &e.kind {
        PaymentSucceeded => format!("paid{amount}"),
        PaymentFailed => format!("payment failed{amount}"),
        PaymentPending => format!("payment pending{amount}"),
        SubscriptionStarted => "started".into(),
        SubscriptionCancelled => "cancelled".into(),
        SubscriptionPastDue => "past due".into(),
        SetupSucceeded => "card saved".into(),
        other => format!("{other:?}"),
    }
}

/// Renders stories next to each other, one column per gateway, one row per step.
pub fn side_by_side(stories: &[(&str, &StoryOutcome)]) -> String {
    use std::fmt::Write as _;
    let cell = |s: &Step| {
        let heard = if s.heard.is_empty() {
            String::new()
        } else {
            format!(": {}", s.heard.join(", "))
        };
        format!("{}{heard}", s.status)
    };
    let rows = stories.iter().map(|(_, o)| o.steps.len()).max().unwrap_or(0);
    let name_w = stories
        .iter()
        .flat_map(|(_, o)| o.steps.iter().map(|s| s.name.len()))
        .max()
        .unwrap_or(4);
    let widths: Vec<usize> = stories
        .iter()
        .map(|(t, o)| {
            o.steps
                .iter()
                .map(|s| cell(s).chars().count())
                .max()
                .unwrap_or(0)
                .max(t.chars().count())
        })
        .collect();
    let mut out = format!("  {:name_w$}", "step");
    for ((title, _), w) in stories.iter().zip(&widths) {
        let _ = write!(out, "  | {title:w$}");
    }
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
    for i in 0..rows {
        let name = stories
            .iter()
            .find_map(|(_, o)| o.steps.get(i))
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let _ = write!(out, "  {name:name_w$}");
        for ((_, o), w) in stories.iter().zip(&widths) {
            let c = o.steps.get(i).map(cell).unwrap_or_default();
            let _ = write!(out, "  | {c:w$}");
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

/// The app's story: sell a monthly plan (with an intro price where the gateway offers one), let
/// the payer complete the checkout, live through `periods` renewals, cancel, and record it all.
///
/// # Errors
/// Any gateway error, or a step the harness cannot perform.
pub async fn sell_monthly_plan(h: &dyn Harness, periods: u32) -> Result<StoryOutcome, BoxError> {
    let gateway = h.gateway();
    let mut t = Timeline::default();
    let mut statuses = Vec::new();
    let mut steps = Vec::new();
    let cur = h.currency();

    let mut plan = RecurringPlan::builder("Pro plan", Money::parse("15", cur)?, Interval::monthly());
    if gateway.capabilities().intro_offer {
        plan = plan.intro_offer(Money::parse("1", cur)?, 30);
    }
    let plan = plan.build()?;
    let request = h.prepare(CheckoutRequest::new(plan.clone()).merchant_reference(format!("order-{}", gateway.id())));
    let intro = match &plan.intro {
        Some(i) => format!(", {} for the first {} days", i.price, i.days),
        None => String::new(),
    };
    t.push(
        Some(h.now()),
        "plan",
        format!("{} {} {}{intro}", plan.name, plan.price, plan.interval),
    );

    let checkout = gateway.create_checkout(&request).await?;
    t.push(
        Some(h.now()),
        "checkout created",
        format!("{} -> {}", checkout.status, checkout.url),
    );
    let status = gateway.checkout(&checkout.id).await?.status;
    steps.push(Step {
        name: "checkout created".into(),
        status: status.clone(),
        heard: Vec::new(),
    });
    statuses.push(status);

    h.complete_checkout(&checkout).await?;
    let after_payment = gateway.checkout(&checkout.id).await?;
    let subscription_id = after_payment
        .subscription_id
        .clone()
        .ok_or("the paid checkout names no subscription")?;
    let started = h.now();
    t.push(
        Some(started),
        "payer completed the checkout",
        format!("subscription {subscription_id}"),
    );
    let (mut seen, heard) = log_new_events(&mut t, h, 0, started).await?;
    let status = gateway.subscription(&subscription_id).await?.status;
    steps.push(Step {
        name: "payer paid".into(),
        status: status.clone(),
        heard,
    });
    statuses.push(status);

    for n in 1..=periods {
        let due = plan.interval.add_to(started, n).ok_or("date out of range")?;
        h.advance_to(due).await?;
        let status = gateway.subscription(&subscription_id).await?.status;
        t.push(Some(due), format!("renewal {n}"), status.to_string());
        let (now_seen, heard) = log_new_events(&mut t, h, seen, due).await?;
        seen = now_seen;
        steps.push(Step {
            name: format!("renewal {n}"),
            status: status.clone(),
            heard,
        });
        statuses.push(status);
    }

    let cancelled = gateway.cancel_subscription(&subscription_id).await?;
    t.push(Some(h.now()), "merchant cancelled", cancelled.status.to_string());
    let (_, heard) = log_new_events(&mut t, h, seen, h.now()).await?;
    steps.push(Step {
        name: "merchant cancels".into(),
        status: cancelled.status.clone(),
        heard,
    });
    statuses.push(cancelled.status);

    Ok(StoryOutcome {
        timeline: t,
        checkout,
        subscription_id,
        events: verified_events(h).await?,
        statuses,
        steps,
    })
}

async fn log_new_events(
    t: &mut Timeline,
    h: &dyn Harness,
    seen: usize,
    at: DateTime<Utc>,
) -> Result<(usize, Vec<String>), BoxError> {
    let events = verified_events(h).await?;
    let mut heard = Vec::new();
    for e in events.iter().skip(seen) {
        t.push_event(e, at);
        heard.push(short(e));
    }
    Ok((events.len(), heard))
}
