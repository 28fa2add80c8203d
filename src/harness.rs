//! A [`Harness`] over the in-process simulator: a gateway configured as in production but for
//! its base URL, the app's [`LedgerEndpoint`], and the simulator's control calls standing in for
//! the payer and the calendar.

use std::sync::Arc;

use async_trait::async_trait;
use paycycle_core::chrono::{DateTime, Duration, Utc};
use paycycle_core::conformance::{Failure, Harness, RawWebhook};
use paycycle_core::{Checkout, CheckoutRequest, Currency, RecurringGateway};
use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
use paycycle_recurrente::wire::CreateWebhookEndpoint;
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig, RecurrenteGateway};
use paycycle_sim::{RecurrenteOutcome, Simulator};
use secrecy::ExposeSecret;

use crate::LedgerEndpoint;
use crate::story::BoxError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Cryptomus,
    Recurrente,
}

/// One backend on the simulator, with the app's webhook endpoint (a ledger).
#[derive(Debug)]
pub struct SimHarness {
    sim: Arc<Simulator>,
    gateway: Arc<dyn RecurringGateway>,
    endpoint: LedgerEndpoint,
    backend: Backend,
}

impl SimHarness {
    /// Cryptomus on `sim`: the merchant's credentials are the simulator's; each checkout sends
    /// its webhooks to the inbox (`url_callback`).
    ///
    /// # Errors
    /// When the configuration is refused or the inbox cannot bind.
    pub async fn cryptomus(sim: Arc<Simulator>) -> Result<Self, BoxError> {
        let config = CryptomusConfig::builder()
            .merchant_id(sim.cryptomus_merchant_id())
            .payment_key(sim.cryptomus_payment_key().to_owned())
            .base_url(sim.base_url())
            .build()?;
        let gateway: Arc<dyn RecurringGateway> = Arc::new(CryptomusGateway::new(config)?);
        let endpoint = LedgerEndpoint::start(sim.clock(), [gateway.clone()]).await?;
        Ok(SimHarness {
            sim,
            gateway,
            endpoint,
            backend: Backend::Cryptomus,
        })
    }

    /// Recurrente on `sim`, set up as an app would be: the inbox's URL is registered as a webhook
    /// endpoint through the API (`POST /api/webhook_endpoints`), and the gateway verifies with
    /// the `signingSecret` that call returned.
    ///
    /// # Errors
    /// When the configuration is refused, the inbox cannot bind, or the registration fails.
    pub async fn recurrente(sim: Arc<Simulator>) -> Result<Self, BoxError> {
        let keys = || {
            RecurrenteConfig::builder()
                .public_key(sim.recurrente_public_key())
                .secret_key(sim.recurrente_secret_key())
                .base_url(sim.base_url())
        };
        let endpoint = LedgerEndpoint::start(sim.clock(), []).await?;
        let client = RecurrenteClient::new(&keys().build()?)?;
        let registered = client
            .create_webhook_endpoint(&CreateWebhookEndpoint::new(endpoint.url_for("recurrente")?))
            .await?;
        let secret = registered
            .signing_secret
            .ok_or("the webhook endpoint came back without its signingSecret")?;
        let config = keys().webhook_secret(secret.expose_secret()).build()?;
        let gateway: Arc<dyn RecurringGateway> = Arc::new(RecurrenteGateway::new(&config)?);
        endpoint.ledger().add_gateway("recurrente", gateway.clone());
        Ok(SimHarness {
            sim,
            gateway,
            endpoint,
            backend: Backend::Recurrente,
        })
    }

    /// The simulator.
    pub fn sim(&self) -> &Arc<Simulator> {
        &self.sim
    }

    /// The gateway, configured against the simulator.
    pub fn sim_gateway(&self) -> &Arc<dyn RecurringGateway> {
        &self.gateway
    }

    /// The app's webhook endpoint.
    pub fn endpoint(&self) -> &LedgerEndpoint {
        &self.endpoint
    }

    /// The app's ledger (webhooks received through the endpoint, applied by [`Harness::received`]
    /// and the other steps).
    pub fn ledger(&self) -> &paycycle_ledger::Ledger {
        self.endpoint.ledger()
    }

    /// Delivers what the simulator has queued and applies it to the ledger.
    async fn sync(&self) -> Result<(), Failure> {
        self.sim.flush_webhooks().await;
        self.endpoint
            .ledger()
            .apply_pending(usize::MAX)
            .await
            .map_err(failure)?;
        Ok(())
    }
}

fn failure(e: impl std::fmt::Display) -> Failure {
    Failure(e.to_string())
}

#[async_trait]
impl Harness for SimHarness {
    fn gateway(&self) -> Arc<dyn RecurringGateway> {
        self.gateway.clone()
    }

    fn currency(&self) -> Currency {
        match self.backend {
            Backend::Cryptomus => Currency::USDT,
            Backend::Recurrente => Currency::GTQ,
        }
    }

    fn prepare(&self, request: CheckoutRequest) -> CheckoutRequest {
        match self.endpoint.url_for(self.gateway.id().as_str()) {
            Ok(url) if self.gateway.capabilities().callback_url => request.callback_url(url),
            _ => request,
        }
    }

    async fn complete_checkout(&self, checkout: &Checkout) -> Result<(), Failure> {
        match self.backend {
            Backend::Cryptomus => self
                .sim
                .cryptomus_accept(checkout.id.as_str())
                .map(drop)
                .map_err(failure)?,
            Backend::Recurrente => self
                .sim
                .recurrente_pay(checkout.id.as_str(), RecurrenteOutcome::CardSuccess)
                .map(drop)
                .map_err(failure)?,
        }
        self.sync().await
    }

    async fn advance_to(&self, to: DateTime<Utc>) -> Result<(), Failure> {
        let by = to - self.sim.now();
        if by > Duration::zero() {
            self.sim.advance(by).map_err(failure)?;
        }
        self.sync().await
    }

    fn now(&self) -> DateTime<Utc> {
        self.sim.now()
    }

    async fn received(&self) -> Vec<RawWebhook> {
        // The trait has no error here: a failure shows as webhooks missing from the story.
        let _ = self.sync().await;
        self.endpoint.raw().await.unwrap_or_default()
    }
}

/// The in-memory fake as a [`Harness`]: no HTTP, the payer and the clock are method calls.
#[derive(Debug, Clone)]
pub struct FakeHarness {
    fake: Arc<paycycle_sim::fake::FakeGateway>,
    currency: Currency,
}

impl FakeHarness {
    /// A fake mimicking `mimic`, pricing plans in the mimicked provider's usual currency.
    pub fn new(mimic: paycycle_sim::fake::Mimic) -> Self {
        let currency = match mimic {
            paycycle_sim::fake::Mimic::Cryptomus => Currency::USDT,
            _ => Currency::GTQ,
        };
        FakeHarness {
            fake: Arc::new(paycycle_sim::fake::FakeGateway::new(mimic)),
            currency,
        }
    }

    /// The fake itself (to pay, decline, fail charges, read its webhooks).
    pub fn fake(&self) -> &Arc<paycycle_sim::fake::FakeGateway> {
        &self.fake
    }
}

#[async_trait]
impl Harness for FakeHarness {
    fn gateway(&self) -> Arc<dyn RecurringGateway> {
        self.fake.clone()
    }

    fn currency(&self) -> Currency {
        self.currency
    }

    fn prepare(&self, request: CheckoutRequest) -> CheckoutRequest {
        request
    }

    async fn complete_checkout(&self, checkout: &Checkout) -> Result<(), Failure> {
        self.fake.pay(&checkout.id).map_err(failure)
    }

    async fn advance_to(&self, to: DateTime<Utc>) -> Result<(), Failure> {
        let by = to - self.fake.now();
        if by > Duration::zero() {
            self.fake.advance(by).map_err(failure)?;
        }
        Ok(())
    }

    fn now(&self) -> DateTime<Utc> {
        self.fake.now()
    }

    async fn received(&self) -> Vec<RawWebhook> {
        self.fake
            .webhooks()
            .into_iter()
            .map(|w| RawWebhook {
                headers: w.headers,
                body: w.body,
            })
            .collect()
    }
}
