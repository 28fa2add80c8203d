//! [`CryptomusGateway`]: Cryptomus behind paycycle's [`RecurringGateway`] trait.
//!
//! On Cryptomus one object, the recurrence, is both the checkout (its `url` is the payment page)
//! and the subscription, so checkout ids and subscription ids are the same recurrence uuid.

use async_trait::async_trait;
use paycycle_core::{
    Capabilities, Checkout, CheckoutId, CheckoutRequest, CurrencySupport, Error, GatewayId, Interval, IntervalSupport,
    Page, PageRequest, RecurringGateway, Result, Subscription, SubscriptionId, WebhookEvent,
};

use crate::client::CryptomusClient;
use crate::config::CryptomusConfig;
use crate::convert;
use crate::webhook::CryptomusWebhookVerifier;
use crate::wire::RecurrenceRef;

/// What Cryptomus' recurrence API can do.
///
/// Intervals: weekly, monthly, every 3 months (its fixed `period`s; nothing counted in days, not
/// even 7 of them). Prices in any currency. No trials, no sign-up fee (a recurrence has one
/// amount), no automatic end, no pause, no return URLs (the recurrence API has none). An intro offer
/// (`discount_days`/`discount_amount`), a payer currency (`to_currency`, crypto only), a
/// per-recurrence callback URL, customer details (stored in `additional_data`), listing and
/// cancelling are supported.
///
/// # Errors
/// Never in practice: building `months(3)` cannot fail.
pub(crate) fn cryptomus_capabilities() -> Result<Capabilities> {
    let mut caps = Capabilities::none();
    caps.intervals = IntervalSupport::Only(vec![Interval::weekly(), Interval::monthly(), Interval::months(3)?]);
    caps.currencies = CurrencySupport::Any;
    caps.intro_offer = true;
    caps.payer_currency = true;
    caps.callback_url = true;
    caps.customer = true;
    caps.list_subscriptions = true;
    caps.cancel = true;
    Ok(caps)
}

/// Cryptomus as a [`RecurringGateway`].
///
/// - `create_checkout` creates a recurrence (`/v1/recurrence/create`): interval → `period`,
///   intro offer → `discount_days`/`discount_amount`, payer currency → `to_currency` (crypto
///   only), merchant reference → `order_id` (generated as `pc_<uuid>` when absent, so webhooks
///   always correlate, and a create of unknown outcome is resolved by it instead of making a
///   second recurrence: see [`CryptomusClient::create_recurrence`]), callback URL →
///   `url_callback`, customer and metadata → `additional_data` as the compact JSON
///   `{"customer":{"email":…,"name":…},"metadata":{…}}` (each member only when present;
///   nothing is sent when neither is). Unsupported options (trials, other
///   intervals, sign-up fees, automatic end, return URLs) are refused with
///   [`Error::Unsupported`].
/// - `checkout` and `subscription` read the recurrence by uuid (`/v1/recurrence/info`);
///   `subscriptions` lists with Cryptomus' cursor (`PageRequest::limit` is ignored: Cryptomus
///   chooses the page size); `cancel_subscription` cancels (`/v1/recurrence/cancel`).
/// - `verify_webhook` ignores the headers: Cryptomus signs inside the body (see
///   [`CryptomusWebhookVerifier`]).
///
/// ```no_run
/// use paycycle_core::*;
/// use paycycle_cryptomus::CryptomusGateway;
/// # async fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
/// let gateway = CryptomusGateway::from_env()?;
/// let plan = RecurringPlan::builder("Gold plan", Money::parse("15", Currency::USD)?, Interval::monthly())
///     .payer_currency(Currency::USDT)
///     .build()?;
/// let request = CheckoutRequest::new(plan).callback_url("https://shop.example/hooks/cryptomus".parse()?);
/// let checkout = gateway.create_checkout(&request).await?;
/// println!("pay at {}", checkout.url);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CryptomusGateway {
    client: CryptomusClient,
    verifier: CryptomusWebhookVerifier,
    capabilities: Capabilities,
}

impl CryptomusGateway {
    /// A gateway with its own HTTP client.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(config: CryptomusConfig) -> Result<CryptomusGateway> {
        Self::with_client(CryptomusClient::new(config)?)
    }

    /// A gateway over an existing client; webhooks are verified with its payment key.
    ///
    /// # Errors
    /// Never in practice (see [`CryptomusGateway::capabilities`]).
    pub fn with_client(client: CryptomusClient) -> Result<CryptomusGateway> {
        let verifier = CryptomusWebhookVerifier::new(client.config().payment_key().clone());
        Ok(CryptomusGateway {
            client,
            verifier,
            capabilities: cryptomus_capabilities()?,
        })
    }

    /// A gateway configured from the environment (see [`CryptomusConfig::from_env`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed variable.
    pub fn from_env() -> Result<CryptomusGateway> {
        Self::new(CryptomusConfig::from_env()?)
    }

    /// The Cryptomus client, for what the trait does not cover (lookups by `order_id`, the
    /// typed [`Recurrence`](crate::Recurrence)).
    pub fn client(&self) -> &CryptomusClient {
        &self.client
    }

    /// The webhook verifier.
    pub fn verifier(&self) -> &CryptomusWebhookVerifier {
        &self.verifier
    }
}

/// Names the object the caller asked for in a not-found error.
fn renamed(resource: &str) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        Error::NotFound { gateway, id, .. } => Error::NotFound {
            gateway,
            resource: resource.to_owned(),
            id,
        },
        other => other,
    }
}

#[async_trait]
impl RecurringGateway for CryptomusGateway {
    fn id(&self) -> GatewayId {
        GatewayId::CRYPTOMUS
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout> {
        let reference = request
            .merchant_reference
            .clone()
            .unwrap_or_else(convert::generate_reference);
        let create = convert::create_request(&self.capabilities, request, reference.clone())?;
        let rec = self.client.create_recurrence(&create).await?;
        convert::checkout(&rec, Some(&reference))
    }

    async fn checkout(&self, id: &CheckoutId) -> Result<Checkout> {
        let rec = self
            .client
            .recurrence(RecurrenceRef::uuid(id.as_str()))
            .await
            .map_err(renamed("checkout"))?;
        convert::checkout(&rec, None)
    }

    async fn subscription(&self, id: &SubscriptionId) -> Result<Subscription> {
        let rec = self
            .client
            .recurrence(RecurrenceRef::uuid(id.as_str()))
            .await
            .map_err(renamed("subscription"))?;
        Ok(convert::subscription(&rec))
    }

    async fn subscriptions(&self, page: PageRequest) -> Result<Page<Subscription>> {
        let list = self.client.list_recurrences(page.cursor.as_deref()).await?;
        Ok(Page {
            items: list.items.iter().map(convert::subscription).collect(),
            next_cursor: list.paginate.next_cursor,
        })
    }

    async fn cancel_subscription(&self, id: &SubscriptionId) -> Result<Subscription> {
        let rec = self
            .client
            .cancel_recurrence(RecurrenceRef::uuid(id.as_str()))
            .await
            .map_err(renamed("subscription"))?;
        Ok(convert::subscription(&rec))
    }

    /// Verifies the body's `sign`; `headers` are not used, because Cryptomus signs inside the
    /// body. Restricting the source IP (`91.227.144.54`) is optional defence in depth, never a
    /// substitute for this check.
    fn verify_webhook(&self, _headers: &http::HeaderMap, body: &[u8]) -> Result<WebhookEvent> {
        self.verifier.verify(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paycycle_core::{Currency, IntervalUnit};

    fn gateway() -> CryptomusGateway {
        let config = CryptomusConfig::builder()
            .merchant_id("m-1")
            .payment_key("gw-secret-9f8e")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        CryptomusGateway::new(config).unwrap()
    }

    #[test]
    fn capabilities_are_as_documented() {
        let g = gateway();
        assert_eq!(g.id(), GatewayId::CRYPTOMUS);
        let c = g.capabilities();
        assert_eq!(
            c.intervals,
            IntervalSupport::Only(vec![
                Interval::weekly(),
                Interval::monthly(),
                Interval::months(3).unwrap()
            ])
        );
        assert!(!c.intervals.supports(&Interval::yearly()));
        assert!(!c.intervals.supports(&Interval::new(IntervalUnit::Month, 2).unwrap()));
        assert_eq!(c.currencies, CurrencySupport::Any);
        assert!(c.currencies.supports(&Currency::GTQ));
        assert_eq!(
            (c.trial, c.intro_offer, c.end_after_periods, c.payer_currency),
            (false, true, false, true)
        );
        assert_eq!((c.callback_url, c.return_urls, c.customer), (true, false, true));
        assert_eq!((c.pause, c.list_subscriptions, c.cancel), (false, true, true));
        assert!(!c.setup_fee);
    }

    fn unsupported(r: &CheckoutRequest) -> String {
        match gateway().capabilities().check(&GatewayId::CRYPTOMUS, r) {
            Err(Error::Unsupported { feature, .. }) => feature,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn days_and_sign_up_fees_are_unsupported() {
        let usd = |s: &str| paycycle_core::Money::parse(s, Currency::USD).unwrap();
        let plan = |interval| {
            paycycle_core::RecurringPlan::builder("P", usd("15"), interval)
                .build()
                .unwrap()
        };
        // Billing in days, even 7 of them (Cryptomus' `weekly` is another interval).
        for days in [1, 7, 14, 30] {
            let r = CheckoutRequest::new(plan(Interval::days(days).unwrap()));
            assert_eq!(unsupported(&r), format!("billing {}", Interval::days(days).unwrap()));
        }
        // A trial in days (no trials at all).
        let mut r = CheckoutRequest::new(plan(Interval::monthly()));
        r.plan.trial = Some(Interval::days(14).unwrap());
        assert_eq!(unsupported(&r), "free trials");
        // A sign-up fee.
        let mut r = CheckoutRequest::new(plan(Interval::monthly()));
        r.plan.setup_fee = Some(usd("5"));
        assert_eq!(unsupported(&r), "a sign-up fee charged with the first payment");
        // The same plan without them is fine.
        assert!(
            gateway()
                .capabilities()
                .check(&GatewayId::CRYPTOMUS, &CheckoutRequest::new(plan(Interval::monthly())))
                .is_ok()
        );
    }

    #[test]
    fn the_gateway_is_usable_as_a_trait_object_and_hides_the_key() {
        let g: std::sync::Arc<dyn RecurringGateway> = std::sync::Arc::new(gateway());
        assert_eq!(g.id(), GatewayId::CRYPTOMUS);
        let shown = format!("{g:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains("gw-secret-9f8e"), "{shown}");
    }
}
