//! [`RecurrenteGateway`]: Recurrente behind the common [`RecurringGateway`] trait.

use std::sync::Arc;

use async_trait::async_trait;
use paycycle_core::{
    CancelledBy, Capabilities, Checkout, CheckoutId, CheckoutRequest, Clock, Currency, CurrencySupport, Error,
    GatewayId, IntervalSupport, IntervalUnit, Page, PageRequest, RecurringGateway, Result, Subscription,
    SubscriptionId, SubscriptionStatus, WebhookEvent,
};

use crate::client::RecurrenteClient;
use crate::config::{ENV_WEBHOOK_SECRET, RecurrenteConfig};
use crate::convert;
use crate::validate;
use crate::webhook::{REFERENCE_KEY, RecurrenteWebhookVerifier};
use crate::wire::{self, CreateCheckout, CreateCustomer, CreateUser, CustomItem, ListParams, RecurringTerms};

/// What Recurrente can do through this crate:
///
/// | capability | | why |
/// |---|---|---|
/// | intervals | day, week, month, year × any count | `billing_interval` + `billing_interval_count` (`day` as the official plugin sends it) |
/// | currencies | GTQ, USD | the only ones Recurrente charges in |
/// | trial | yes, in any of those units | `free_trial_interval` + count |
/// | intro offer | **no** | a checkout item has one price; the reference has no way to apply a coupon or a first-period price to a checkout |
/// | setup fee | yes | a `one_time` item ([`SETUP_FEE_ITEM_NAME`]) after the recurring one, charged once with the first payment, as the official plugin sends a sign-up fee |
/// | end after N periods | yes | `periods_before_automatic_cancellation` |
/// | payer currency | **no** | Recurrente charges in the price's currency |
/// | callback URL | **no** | webhooks go to endpoints registered once (`create_webhook_endpoint`) |
/// | return URLs | yes | `success_url`, `cancel_url` |
/// | customer | yes | found or created by e-mail first (`POST /api/customers`) and passed as `customer_id` |
/// | pause | **no** | no documented endpoint |
/// | list, cancel | yes | |
pub fn capabilities() -> Capabilities {
    let mut caps = Capabilities::none();
    caps.intervals = IntervalSupport::AnyCount(vec![
        IntervalUnit::Day,
        IntervalUnit::Week,
        IntervalUnit::Month,
        IntervalUnit::Year,
    ]);
    caps.currencies = CurrencySupport::Only(vec![Currency::GTQ, Currency::USD]);
    caps.trial = true;
    caps.setup_fee = true;
    caps.end_after_periods = true;
    caps.return_urls = true;
    caps.customer = true;
    caps.list_subscriptions = true;
    caps.cancel = true;
    caps
}

/// The name of the one-time item that carries a plan's sign-up fee
/// ([`RecurringPlan::setup_fee`](paycycle_core::RecurringPlan::setup_fee)), shown to the payer
/// on Recurrente's (Spanish) checkout page; the official WooCommerce plugin names it so.
pub const SETUP_FEE_ITEM_NAME: &str = "Cuota de inscripción";

/// Recurrente as a [`RecurringGateway`]: recurring checkouts, subscriptions, Svix webhooks.
///
/// - `create_checkout` sends a checkout with one recurring item (followed by a one-time item
///   named [`SETUP_FEE_ITEM_NAME`] when the plan has a sign-up fee) and stores your merchant
///   reference (given, or generated as `pc_<uuid>`) in the checkout's metadata under
///   `paycycle_reference`, next to your metadata. With a customer, it first finds or creates
///   the customer by e-mail address (`POST /api/customers`, so a repeat buyer keeps one
///   record) and passes it as `customer_id` to pre-fill the page (where `/api/customers`
///   answers 404, it creates a user with `POST /api/users` instead and passes `user_id`). Intro offers,
///   payer currencies and per-checkout callback URLs are [`Error::Unsupported`].
/// - `checkout` reads the checkout: `unpaid` and `payment_in_progress` are `Pending`; `paid`
///   follows `payment.paymentable` to the subscription (`su_…`) and takes its status (a paid
///   checkout without one is `Unknown("paid")`); `expired` is `Failed`; others `Unknown(raw)`.
/// - `subscription` and `cancel_subscription` also read the subscription's checkout to fill
///   `merchant_reference`; `subscriptions` (pages of `limit` items, cursor = page number) does
///   not, to spare a request per item.
/// - `cancel_subscription` sends `DELETE` (whose answer is only a message) and returns the
///   subscription as read right after.
/// - `verify_webhook` checks the Svix signature with the configured secrets; see
///   [`crate::webhook`].
#[derive(Debug, Clone)]
pub struct RecurrenteGateway {
    client: RecurrenteClient,
    verifier: Option<RecurrenteWebhookVerifier>,
    capabilities: Capabilities,
}

impl RecurrenteGateway {
    /// A gateway with the system clock.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(config: &RecurrenteConfig) -> Result<Self> {
        let verifier = match config.webhook_secrets() {
            [] => None,
            secrets => Some(RecurrenteWebhookVerifier::from_secrets(secrets.to_vec())?),
        };
        Ok(RecurrenteGateway {
            client: RecurrenteClient::new(config)?,
            verifier,
            capabilities: capabilities(),
        })
    }

    /// A gateway whose webhook verification reads "now" from `clock` (tests, simulators).
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn with_clock(config: &RecurrenteConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let mut gateway = Self::new(config)?;
        gateway.verifier = gateway.verifier.map(|v| v.with_clock(clock));
        Ok(gateway)
    }

    /// A gateway configured from the environment (see [`RecurrenteConfig::from_env`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed variable.
    pub fn from_env() -> Result<Self> {
        Self::new(&RecurrenteConfig::from_env()?)
    }

    /// The typed client, for everything beyond the common trait (products, coupons, refunds…).
    pub fn client(&self) -> &RecurrenteClient {
        &self.client
    }

    /// The checkout request Recurrente is sent for a core request, with its reference.
    fn checkout_request(&self, request: &CheckoutRequest) -> Result<(CreateCheckout, String)> {
        let plan = &request.plan;
        let reference = match &request.merchant_reference {
            Some(r) => r.clone(),
            None => format!("pc_{}", uuid::Uuid::new_v4().simple()),
        };
        if reference.trim().is_empty() {
            return Err(Error::invalid("merchant_reference", "must not be empty"));
        }
        let mut metadata = request.metadata.clone();
        match metadata.get(REFERENCE_KEY) {
            Some(v) if *v != reference => {
                return Err(Error::invalid(
                    format!("metadata.{REFERENCE_KEY}"),
                    "is reserved for the merchant reference; set merchant_reference instead",
                ));
            }
            _ => {
                metadata.insert(REFERENCE_KEY.to_owned(), reference.clone());
            }
        }
        let mut terms = RecurringTerms::new(plan.interval);
        if let Some(trial) = plan.trial {
            terms = terms.trial(trial);
        }
        if let Some(n) = plan.end_after_periods {
            terms = terms.end_after_periods(n.get());
        }
        let mut req = CreateCheckout::new([CustomItem::new(&plan.name, plan.price).recurring(terms).into()]);
        if let Some(fee) = plan.setup_fee {
            // Recurrente charges one-time items once, with the first payment.
            req = req.item(CustomItem::new(SETUP_FEE_ITEM_NAME, fee));
        }
        req.metadata = metadata;
        req.success_url = request.success_url.clone();
        req.cancel_url = request.cancel_url.clone();
        Ok((req, reference))
    }

    /// The subscription with its checkout's merchant reference, when the checkout can be read.
    ///
    /// One request when the subscription's answer carries its checkout's `metadata` (or has no
    /// checkout); two otherwise, which is the documented shape: `GET /api/subscriptions/{id}`
    /// names its checkout by `{"id"}` alone, subscriptions have no metadata of their own, and
    /// the reference lives only in the checkout's `metadata`, so it takes
    /// `GET /api/checkouts/{id}` to read it.
    async fn subscription_with_reference(&self, id: &str) -> Result<Subscription> {
        let (wire, raw) = self.client.get_subscription_raw(id).await?;
        let mut sub = convert::subscription(&wire, raw)?;
        if let Some(metadata) = sub
            .raw
            .get("checkout")
            .and_then(|c| c.get("metadata"))
            .filter(|m| m.is_object())
        {
            sub.merchant_reference = metadata.get(REFERENCE_KEY).and_then(|r| r.as_str()).map(str::to_owned);
            return Ok(sub);
        }
        if let Some(checkout_id) = sub.checkout_id.clone() {
            match self.client.get_checkout_raw(checkout_id.as_str()).await {
                Ok((checkout, _)) => sub.merchant_reference = checkout.metadata_str(REFERENCE_KEY).map(str::to_owned),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(sub)
    }
}

#[async_trait]
impl RecurringGateway for RecurrenteGateway {
    fn id(&self) -> GatewayId {
        GatewayId::RECURRENTE
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout> {
        self.capabilities.check(&GatewayId::RECURRENTE, request)?;
        request.plan.validate()?;
        let (req, reference) = self.checkout_request(request)?;
        // Everything is checked before the first request (the user) is sent.
        let mut body = validate::checkout(&req)?;
        let customer = match &request.customer {
            Some(customer) => {
                let email = customer.email.clone().filter(|e| !e.trim().is_empty()).ok_or_else(|| {
                    Error::invalid(
                        "customer.email",
                        "Recurrente needs an e-mail address to pre-fill the payer's details",
                    )
                })?;
                let mut c = CreateCustomer::new(email);
                if let Some(name) = customer.name.clone().filter(|n| !n.trim().is_empty()) {
                    c = c.full_name(name);
                }
                validate::create_customer(&c)?;
                Some(c)
            }
            None => None,
        };
        if let Some(customer) = customer {
            // Find-or-create by e-mail address: a repeat buyer keeps one customer. An account
            // without `/api/customers` (404) falls back to creating the user, as before.
            let no_id = |what: &str| Error::Decode {
                gateway: GatewayId::RECURRENTE,
                status: 200,
                path: "id".into(),
                excerpt: "-".into(),
                source: format!("the {what} has no id").into(),
            };
            match self.client.create_customer(&customer).await {
                Ok(found) if found.id.is_empty() => return Err(no_id("customer")),
                Ok(found) => body.set_customer_id(found.id),
                Err(Error::NotFound { .. }) => {
                    let user = CreateUser::new(customer.email.clone(), customer.full_name.clone());
                    let created = self.client.create_user(&user).await?;
                    if created.id.is_empty() {
                        return Err(no_id("created user"));
                    }
                    body.set_user_id(created.id);
                }
                Err(e) => return Err(e),
            }
        }
        // Never twice: an unknown outcome is reconciled by the reference in the metadata.
        let (created, raw) = self.client.create_checkout_reconciled(&body, &reference).await?;
        let checkout = wire::Checkout {
            id: created.id.clone(),
            checkout_url: created.checkout_url.clone(),
            ..wire::Checkout::default()
        };
        let mut out = convert::checkout(&checkout, raw, SubscriptionStatus::Pending, None, |id| {
            self.client.checkout_page_url(id)
        })?;
        out.merchant_reference = Some(reference);
        Ok(out)
    }

    /// One request (`GET /api/checkouts/{id}`) while the checkout is unpaid, in progress or
    /// expired: its status is the answer. Two once it is paid: the answer names the subscription
    /// it started (`payment.paymentable`, type and id only) but not that subscription's status,
    /// which may have moved on since (past due, paused, cancelled) and which only
    /// `GET /api/subscriptions/{id}` gives.
    async fn checkout(&self, id: &CheckoutId) -> Result<Checkout> {
        let (checkout, raw) = self.client.get_checkout_raw(id.as_str()).await?;
        let (status, subscription_id) = match checkout.status.as_ref() {
            Some(wire::CheckoutStatus::Paid) => match checkout.subscription_id() {
                Some(sid) => {
                    let (sub, _) = self.client.get_subscription_raw(sid).await?;
                    let status = sub.status.as_ref().map_or_else(
                        || SubscriptionStatus::Unknown(String::new()),
                        |s| convert::status(s.as_str()),
                    );
                    (status, Some(SubscriptionId::new(sid)))
                }
                None => (SubscriptionStatus::Unknown("paid".into()), None),
            },
            Some(other) => (convert::status(other.as_str()), None),
            None => (SubscriptionStatus::Unknown(String::new()), None),
        };
        convert::checkout(&checkout, raw, status, subscription_id, |id| {
            self.client.checkout_page_url(id)
        })
    }

    /// `GET /api/subscriptions/{id}`, then `GET /api/checkouts/{id}` for the merchant reference
    /// unless the first answer carries it (see `subscription_with_reference`).
    async fn subscription(&self, id: &SubscriptionId) -> Result<Subscription> {
        self.subscription_with_reference(id.as_str()).await
    }

    async fn subscriptions(&self, page: PageRequest) -> Result<Page<Subscription>> {
        let number = crate::client::parse_cursor(page.cursor.as_deref())?;
        let params = ListParams {
            page: Some(number),
            // No size chosen (as `all_subscriptions` streams): the largest page, fewest requests.
            items: page.limit.or(Some(crate::MAX_PAGE_SIZE)),
        };
        let listed = self.client.list_subscriptions_raw(&params).await?;
        let items = listed
            .items
            .into_iter()
            .map(|(s, raw)| convert::subscription(&s, raw))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_cursor: listed.next_cursor,
        })
    }

    async fn cancel_subscription(&self, id: &SubscriptionId) -> Result<Subscription> {
        self.client.cancel_subscription(id.as_str()).await?;
        let mut sub = self.subscription_with_reference(id.as_str()).await?;
        // Recurrente's `cancelled` does not say who cancelled; here we know: the merchant did.
        if sub.status
            == (SubscriptionStatus::Cancelled {
                by: CancelledBy::Unknown,
            })
        {
            sub.status = SubscriptionStatus::Cancelled {
                by: CancelledBy::Merchant,
            };
        }
        Ok(sub)
    }

    fn verify_webhook(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<WebhookEvent> {
        match &self.verifier {
            Some(v) => v.verify_event(headers, body),
            None => Err(Error::config(
                ENV_WEBHOOK_SECRET,
                "no webhook signing secret is configured (`webhook_secret` in the builder)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use paycycle_core::{Interval, Money, RecurringPlan};

    use super::*;

    #[test]
    fn capabilities_are_as_documented() {
        let c = capabilities();
        assert_eq!(
            c.intervals,
            IntervalSupport::AnyCount(vec![
                IntervalUnit::Day,
                IntervalUnit::Week,
                IntervalUnit::Month,
                IntervalUnit::Year
            ])
        );
        assert!(c.intervals.supports(&Interval::days(14).unwrap()));
        assert_eq!(c.currencies, CurrencySupport::Only(vec![Currency::GTQ, Currency::USD]));
        assert!(c.trial && c.end_after_periods && c.return_urls && c.customer && c.list_subscriptions && c.cancel);
        assert!(c.setup_fee);
        assert!(!c.intro_offer && !c.payer_currency && !c.callback_url && !c.pause);
    }

    fn gateway() -> RecurrenteGateway {
        let config = RecurrenteConfig::builder()
            .public_key("pk_test")
            .secret_key("sk_test")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        RecurrenteGateway::new(&config).unwrap()
    }

    #[test]
    fn the_reference_is_kept_in_metadata_and_reserved() {
        let plan = RecurringPlan::builder("Gold", Money::parse("50", Currency::GTQ).unwrap(), Interval::monthly())
            .build()
            .unwrap();
        let g = gateway();
        let (req, reference) = g.checkout_request(&CheckoutRequest::new(plan.clone())).unwrap();
        assert!(reference.starts_with("pc_") && reference.len() == 35, "{reference}");
        assert_eq!(req.metadata[REFERENCE_KEY], reference);

        let r = CheckoutRequest::new(plan.clone())
            .merchant_reference("order-1")
            .metadata(REFERENCE_KEY, "order-2");
        assert!(
            matches!(g.checkout_request(&r), Err(Error::InvalidInput { field, .. }) if field == "metadata.paycycle_reference")
        );
        let r = CheckoutRequest::new(plan).merchant_reference("   ");
        assert!(g.checkout_request(&r).is_err());
    }

    #[test]
    fn a_setup_fee_is_a_one_time_item_after_the_recurring_one() {
        let gtq = |s: &str| Money::parse(s, Currency::GTQ).unwrap();
        let plan = RecurringPlan::builder("Plan", gtq("99"), Interval::monthly())
            .trial(Interval::days(14).unwrap())
            .setup_fee(gtq("50"))
            .build()
            .unwrap();
        let g = gateway();
        let request = CheckoutRequest::new(plan).merchant_reference("order-7");
        g.capabilities().check(&GatewayId::RECURRENTE, &request).unwrap();
        let (req, _) = g.checkout_request(&request).unwrap();
        let body = serde_json::to_value(validate::checkout(&req).unwrap()).unwrap();
        assert_eq!(
            body["items"],
            serde_json::json!([
                {"name": "Plan", "currency": "GTQ", "amount_in_cents": 9900, "charge_type": "recurring",
                 "billing_interval": "month", "billing_interval_count": 1,
                 "free_trial_interval": "day", "free_trial_interval_count": 14},
                {"name": "Cuota de inscripción", "currency": "GTQ", "amount_in_cents": 5000}
            ])
        );
        // Without a fee, one item.
        let plain = RecurringPlan::builder("Plan", gtq("99"), Interval::days(30).unwrap())
            .build()
            .unwrap();
        let (req, _) = g.checkout_request(&CheckoutRequest::new(plain)).unwrap();
        let body = serde_json::to_value(validate::checkout(&req).unwrap()).unwrap();
        assert_eq!(body["items"].as_array().unwrap().len(), 1);
        assert_eq!(body["items"][0]["billing_interval"], "day");
        assert_eq!(body["items"][0]["billing_interval_count"], 30);
    }

    #[tokio::test]
    async fn a_fee_below_the_minimum_names_its_item_before_anything_is_sent() {
        let gtq = |s: &str| Money::parse(s, Currency::GTQ).unwrap();
        let plan = RecurringPlan::builder("Plan", gtq("99"), Interval::monthly())
            .setup_fee(gtq("4.99"))
            .build()
            .unwrap();
        // The base URL is a closed port: reaching the network would be a transport error.
        match gateway().create_checkout(&CheckoutRequest::new(plan)).await {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "items[1].amount_in_cents"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn verify_webhook_without_a_secret_is_a_config_error() {
        let err = gateway().verify_webhook(&http::HeaderMap::new(), b"{}").unwrap_err();
        assert!(
            matches!(err, Error::Config { ref key, .. } if key == ENV_WEBHOOK_SECRET),
            "{err:?}"
        );
    }
}
