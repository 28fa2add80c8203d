//! One app function run on whichever backend configuration names: the `swap_provider` example.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use paycycle::{ENV_GATEWAY, GatewayConfig};
use paycycle_core::chrono::{DateTime, Utc};
use paycycle_core::conformance::{Failure, Harness, RawWebhook};
use paycycle_core::{
    Checkout, CheckoutRequest, Currency, Interval, Money, RecurringGateway, RecurringPlan, SubscriptionId,
    SubscriptionStatus,
};
use paycycle_sim::fake::Mimic;
use paycycle_sim::{SimConfig, Simulator};

use crate::story::BoxError;
use crate::{FakeHarness, SimHarness};

/// What [`sell_wait_cancel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapReport {
    /// The gateway that ran it.
    pub gateway: String,
    /// The payer's URL.
    pub checkout_url: String,
    /// The subscription started.
    pub subscription_id: SubscriptionId,
    /// Status after creating, after activation, after cancelling.
    pub statuses: Vec<SubscriptionStatus>,
}

/// The app: sell a monthly plan, wait until the payer has activated it, cancel it. It knows only
/// the shared API; `h` says who the payer is (the simulator, the fake, or a person).
///
/// # Errors
/// Gateway errors; activation not seen within `wait`.
pub async fn sell_wait_cancel(h: &dyn Harness, wait: StdDuration) -> Result<SwapReport, BoxError> {
    let gateway = h.gateway();
    let plan = RecurringPlan::builder("Starter", Money::parse("9", h.currency())?, Interval::monthly()).build()?;
    let request = h.prepare(CheckoutRequest::new(plan).merchant_reference(format!("swap-{}", gateway.id())));
    let checkout = gateway.create_checkout(&request).await?;
    let mut statuses = vec![checkout.status.clone()];
    h.complete_checkout(&checkout).await?;
    let active = wait_until_active(gateway.as_ref(), &checkout, wait).await?;
    statuses.push(SubscriptionStatus::Active);
    let cancelled = gateway.cancel_subscription(&active).await?;
    statuses.push(cancelled.status);
    Ok(SwapReport {
        gateway: gateway.id().to_string(),
        checkout_url: checkout.url.to_string(),
        subscription_id: active,
        statuses,
    })
}

/// Polls the checkout until its subscription is active, every second, for at most `wait`.
async fn wait_until_active(
    gateway: &dyn RecurringGateway,
    checkout: &Checkout,
    wait: StdDuration,
) -> Result<SubscriptionId, BoxError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let c = gateway.checkout(&checkout.id).await?;
        match (&c.status, c.subscription_id) {
            (SubscriptionStatus::Active, Some(id)) => return Ok(id),
            (status, _) if status.is_terminal() => return Err(format!("the checkout ended as {status}").into()),
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("not activated within {wait:?}; is the payer done?").into());
        }
        tokio::time::sleep(StdDuration::from_secs(1)).await;
    }
}

/// A real provider: the payer is a person who opens the checkout URL.
#[derive(Debug)]
pub struct HumanPayer {
    gateway: Arc<dyn RecurringGateway>,
}

#[async_trait]
impl Harness for HumanPayer {
    fn gateway(&self) -> Arc<dyn RecurringGateway> {
        self.gateway.clone()
    }

    fn currency(&self) -> Currency {
        match self.gateway.id().as_str() {
            "cryptomus" => Currency::USDT,
            _ => Currency::GTQ,
        }
    }

    fn prepare(&self, request: CheckoutRequest) -> CheckoutRequest {
        request
    }

    async fn complete_checkout(&self, checkout: &Checkout) -> Result<(), Failure> {
        println!(
            "Open {} and pay; waiting for the subscription to become active…",
            checkout.url
        );
        Ok(())
    }

    async fn advance_to(&self, _to: DateTime<Utc>) -> Result<(), Failure> {
        Err(Failure("a real provider's clock cannot be moved".into()))
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn received(&self) -> Vec<RawWebhook> {
        Vec::new()
    }
}

/// The backend `PAYCYCLE_GATEWAY` names (default `cryptomus`), read through `lookup`:
/// - `fake`: the in-memory fake (`PAYCYCLE_FAKE_MIMIC` = `recurrente`, `cryptomus` or `all`);
/// - `cryptomus` / `recurrente` with that provider's keys set: the real provider, built by
///   [`GatewayConfig`], the payer being a person;
/// - `cryptomus` / `recurrente` without keys: that provider on an in-process simulator, so the
///   example runs with no keys and no network.
///
/// Returns the harness and a line saying which backend it is.
///
/// # Errors
/// A malformed setting (naming the variable), or a simulator that cannot start.
pub async fn harness_from_env(
    lookup: impl Fn(&str) -> Option<String> + Clone,
) -> Result<(Box<dyn Harness>, String), BoxError> {
    let name = lookup(ENV_GATEWAY)
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "cryptomus".into());
    let has = |k: &str| lookup(k).is_some_and(|v| !v.trim().is_empty());
    match name.as_str() {
        "fake" => {
            let mimic: Mimic = lookup("PAYCYCLE_FAKE_MIMIC")
                .unwrap_or_default()
                .parse()
                .map_err(|e| format!("PAYCYCLE_FAKE_MIMIC: {e}"))?;
            Ok((
                Box::new(FakeHarness::new(mimic)),
                format!("the in-memory fake (mimicking {mimic:?})"),
            ))
        }
        "cryptomus" if !has("CRYPTOMUS_MERCHANT_ID") => {
            let sim = Arc::new(Simulator::start(SimConfig::default()).await?);
            Ok((
                Box::new(SimHarness::cryptomus(sim).await?),
                "Cryptomus on the built-in simulator (no keys set)".into(),
            ))
        }
        "recurrente" if !has("RECURRENTE_SECRET_KEY") => {
            let sim = Arc::new(Simulator::start(SimConfig::default()).await?);
            Ok((
                Box::new(SimHarness::recurrente(sim).await?),
                "Recurrente on the built-in simulator (no keys set)".into(),
            ))
        }
        _ => {
            let vars = |k: &str| {
                if k == ENV_GATEWAY {
                    Some(name.clone())
                } else {
                    lookup(k)
                }
            };
            let gateway = GatewayConfig::from_vars(vars)?.build()?;
            let line = format!("{} (the real provider; a person pays)", gateway.id());
            Ok((Box::new(HumanPayer { gateway }), line))
        }
    }
}
