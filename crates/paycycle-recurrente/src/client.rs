//! The HTTP client: one typed method for every endpoint of Recurrente's API reference.
//!
//! Every call sends `X-SECRET-KEY`, plus `X-PUBLIC-KEY` when one is configured (both marked
//! sensitive, never logged; never an `Authorization: Bearer`), `Content-Type: application/json`,
//! and a JSON body made once from a checked request.
//! Answers map to [`Error`]: 401 is [`Error::Authentication`], 404 [`Error::NotFound`],
//! 429 [`Error::RateLimited`], any other non-2xx (400 for bad parameters, 422 for what cannot be
//! done) [`Error::Rejected`] with the provider's `message` or `error` (or its raw text) and the
//! field errors of its `errors` map; an undecodable 2xx is [`Error::Decode`] with the JSON path.
//! Only `GET`s are retried (transport errors and 5xx, with a short backoff): a retried `POST`
//! could create or charge twice. A checkout created with `metadata.paycycle_reference` (the
//! gateway always sets it) is reconciled instead after an unknown outcome: found among the recent
//! checkouts by that reference, and created again only when it is not there.
//! Redirects are never followed, and a 3xx is [`Error::Rejected`] naming its `Location`.

use std::fmt;
use std::time::Duration;

use futures::stream::BoxStream;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use paycycle_core::{Error, GatewayId, Page, Result, paginate};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::config::RecurrenteConfig;
use crate::validate;
use crate::webhook::REFERENCE_KEY;
use crate::wire::{
    Checkout, CheckoutCreated, Coupon, CreateCheckout, CreateCoupon, CreateCustomer, CreateOneTimePayment,
    CreateProduct, CreateTransfer, CreateUser, CreateWebhookEndpoint, CustomerProfile, Deleted, ListCheckouts,
    ListParams, Message, OneTimePayment, PaymentIntent, Product, Refund, Subscription, Transfer, UpdateCheckout,
    UpdateCoupon, UpdateCustomer, UpdatePaymentIntent, UpdateProduct, UpdateSubscription, User, WebhookEndpoint,
};

const GATEWAY: GatewayId = GatewayId::RECURRENTE;
const USER_AGENT: &str = concat!("paycycle-recurrente/", env!("CARGO_PKG_VERSION"));
/// The provider's page size when `items` is not sent.
pub const DEFAULT_PAGE_SIZE: u32 = 10;
/// The largest page size the client asks for; larger requests are clamped to it.
///
/// A server that caps pages (the simulator serves at most 100) answers a larger request with a
/// full-for-it page shorter than asked, which would read as the last page and end a stream
/// early. Asking for at most what is served keeps "shorter than asked" a true end.
pub const MAX_PAGE_SIZE: u32 = 100;
const EXCERPT_CHARS: usize = 200;
const MESSAGE_CHARS: usize = 1000;
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// How far before the first attempt the search for a checkout of unknown outcome starts
/// (tolerates a skew between this host's clock and Recurrente's).
const RECONCILE_SKEW: chrono::Duration = chrono::Duration::minutes(10);
/// How many pages of recent checkouts that search reads at most.
const RECONCILE_PAGES: u32 = 10;
/// Answers larger than this are refused rather than read into memory.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// A typed client of Recurrente's API. Cheap to clone (one shared connection pool).
#[derive(Clone)]
pub struct RecurrenteClient {
    http: reqwest::Client,
    base_url: Url,
    public_key: Option<HeaderValue>,
    secret_key: HeaderValue,
    max_retries: u32,
}

impl fmt::Debug for RecurrenteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecurrenteClient")
            .field("base_url", &self.base_url.as_str())
            .field("keys", &"[redacted]")
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// One request, described before it is sent.
struct Call<'a> {
    method: Method,
    path: &'a [&'a str],
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    /// What is addressed, for [`Error::NotFound`].
    resource: &'static str,
    id: &'a str,
    /// The answer may hold a secret: never quote it in errors.
    secret_answer: bool,
}

impl<'a> Call<'a> {
    fn new(method: Method, path: &'a [&'a str], resource: &'static str, id: &'a str) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            resource,
            id,
            secret_answer: false,
        }
    }

    fn get(path: &'a [&'a str], resource: &'static str, id: &'a str) -> Self {
        Call::new(Method::GET, path, resource, id)
    }

    fn json(mut self, body: &impl Serialize) -> Result<Self> {
        // The body types are plain structs of strings and numbers; this cannot fail in practice.
        let bytes = serde_json::to_vec(body).map_err(|e| Error::invalid("body", e))?;
        self.body = Some(bytes);
        Ok(self)
    }

    fn query(mut self, query: Vec<(&'static str, String)>) -> Self {
        self.query = query;
        self
    }
}

impl RecurrenteClient {
    /// A client with its own connection pool, configured from `config`.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built or a key cannot be sent as a header.
    pub fn new(config: &RecurrenteConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            // Redirects are never followed: reqwest would carry X-SECRET-KEY to the new host.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout())
            .connect_timeout(config.connect_timeout())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| Error::config("http_client", e))?;
        Self::with_http_client(config, http)
    }

    /// A client sharing an existing `reqwest::Client` (its timeouts apply, not the config's).
    ///
    /// Build that client with `redirect(reqwest::redirect::Policy::none())`: reqwest keeps
    /// custom headers such as `X-SECRET-KEY` when it follows a redirect to another host.
    ///
    /// # Errors
    /// [`Error::Config`] when a key cannot be sent as a header.
    pub fn with_http_client(config: &RecurrenteConfig, http: reqwest::Client) -> Result<Self> {
        Ok(RecurrenteClient {
            http,
            base_url: config.base_url().clone(),
            public_key: config
                .public_key()
                .map(|k| secret_header("public_key", k.expose_secret()))
                .transpose()?,
            secret_key: secret_header("secret_key", config.secret_key().expose_secret())?,
            max_retries: config.max_retries(),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The payer's page of a checkout, `{base}/checkout-session/{id}`, for answers that do not
    /// include `checkout_url`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty id.
    pub fn checkout_page_url(&self, id: &str) -> Result<Url> {
        validate::path_id("id", id)?;
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::config("base_url", "cannot be a base URL"))?
            .pop_if_empty()
            .extend(["checkout-session", id]);
        Ok(url)
    }

    // -- authentication ------------------------------------------------------------------------

    /// `GET /api/test`: checks the keys; the answer names the account (`Hello <account>`).
    ///
    /// # Errors
    /// [`Error::Authentication`] for bad keys; transport and provider errors.
    pub async fn test_authentication(&self) -> Result<Message> {
        self.value(Call::get(&["test"], "test", "")).await
    }

    // -- checkouts -----------------------------------------------------------------------------

    /// `POST /api/checkouts`: a checkout for items (one-time and recurring, mixed), catalogue
    /// prices or products, a connected account, or a setup checkout that only saves a card
    /// ([`CreateCheckout::setup`]).
    ///
    /// With `metadata.paycycle_reference` set (your own unique reference), a create whose
    /// outcome is unknown is reconciled instead of repeated blindly: the recent checkouts are
    /// searched for that reference and the one found is returned; only when none is found is the
    /// create sent once more. Without it, the call is sent once and an error with
    /// [`Error::may_have_been_sent`] means a checkout may exist.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending (see [`CreateCheckout`]'s limits: item minimums,
    /// installments, payment method types, quantities, metadata); provider errors.
    pub async fn create_checkout(&self, req: &CreateCheckout) -> Result<CheckoutCreated> {
        let body = validate::checkout(req)?;
        match req.metadata.get(REFERENCE_KEY).filter(|r| !r.trim().is_empty()) {
            Some(reference) => Ok(self.create_checkout_reconciled(&body, reference).await?.0),
            None => Ok(self.create_checkout_body(&body).await?.0),
        }
    }

    pub(crate) async fn create_checkout_body(&self, body: &validate::CheckoutBody) -> Result<(CheckoutCreated, Value)> {
        self.send(Call::new(Method::POST, &["checkouts"], "checkout", "").json(body)?)
            .await
    }

    /// `POST /api/checkouts` that never creates two checkouts for one `reference` (the value of
    /// `metadata.paycycle_reference` in `body`). Recurrente has no idempotency keys, so after an
    /// unknown outcome ([`Error::may_have_been_sent`]: a timeout, a reset, a 5xx, an unreadable
    /// answer) the checkouts created since just before the first attempt
    /// (`GET /api/checkouts?from_time=…`) are searched for that reference; the one found is
    /// returned, else the create is sent once more (and searched for again if that outcome is
    /// unknown too). A failed search returns the original error.
    pub(crate) async fn create_checkout_reconciled(
        &self,
        body: &validate::CheckoutBody,
        reference: &str,
    ) -> Result<(CheckoutCreated, Value)> {
        let since = chrono::Utc::now() - RECONCILE_SKEW;
        let first = match self.create_checkout_body(body).await {
            Err(e) if e.may_have_been_sent() => e,
            other => return other,
        };
        tracing::warn!(error = %first, "recurrente: checkout outcome unknown; looking for it by reference");
        match self.find_checkout(reference, since).await {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "recurrente: the search for the checkout failed");
                return Err(first);
            }
        }
        match self.create_checkout_body(body).await {
            Err(e) if e.may_have_been_sent() => match self.find_checkout(reference, since).await {
                Ok(Some(found)) => Ok(found),
                _ => Err(e),
            },
            other => other,
        }
    }

    /// The checkout created at or after `since` whose `metadata.paycycle_reference` is
    /// `reference` (at most [`RECONCILE_PAGES`] pages of [`MAX_PAGE_SIZE`] are read).
    async fn find_checkout(
        &self,
        reference: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<(CheckoutCreated, Value)>> {
        let mut params = ListCheckouts::new().from_time(since);
        params.paging.items = Some(MAX_PAGE_SIZE);
        let mut page = 1;
        for _ in 0..RECONCILE_PAGES {
            params.paging.page = Some(page);
            let query = validate::list_checkouts(&params)?;
            let found: Page<(Checkout, Value)> = self.page(&["checkouts"], "checkout", query, &params.paging).await?;
            for (checkout, raw) in found.items {
                if checkout.metadata_str(REFERENCE_KEY) == Some(reference) {
                    let created = CheckoutCreated {
                        id: checkout.id,
                        checkout_url: checkout.checkout_url,
                    };
                    return Ok(Some((created, raw)));
                }
            }
            match found.next_cursor.as_deref().map(str::parse::<u32>) {
                Some(Ok(next)) if next > page => page = next,
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// `PATCH /api/checkouts/{id}`: changes an unpaid checkout's URLs, metadata or expiry.
    ///
    /// # Errors
    /// [`Error::InvalidInput`]; [`Error::NotFound`]; [`Error::Rejected`] for a paid checkout.
    pub async fn update_checkout(&self, id: &str, req: &UpdateCheckout) -> Result<Checkout> {
        validate::path_id("id", id)?;
        let body = validate::update_checkout(req)?;
        self.value(Call::new(Method::PATCH, &["checkouts", id], "checkout", id).json(&body)?)
            .await
    }

    /// `GET /api/checkouts/{id}`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn get_checkout(&self, id: &str) -> Result<Checkout> {
        validate::path_id("id", id)?;
        self.value(Call::get(&["checkouts", id], "checkout", id)).await
    }

    pub(crate) async fn get_checkout_raw(&self, id: &str) -> Result<(Checkout, Value)> {
        validate::path_id("id", id)?;
        self.send(Call::get(&["checkouts", id], "checkout", id)).await
    }

    /// `GET /api/checkouts`: one page, filtered by time and user.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad filters; transport and provider errors.
    pub async fn list_checkouts(&self, params: &ListCheckouts) -> Result<Page<Checkout>> {
        let query = validate::list_checkouts(params)?;
        self.page(&["checkouts"], "checkout", query, &params.paging)
            .await
            .map(strip)
    }

    /// Every checkout matching the filters, page after page (from `params.paging.page`, or 1).
    pub fn all_checkouts(&self, params: ListCheckouts) -> BoxStream<'_, Result<Checkout>> {
        paginate(move |cursor| {
            let mut params = params.clone();
            async move {
                params.paging.page = Some(page_from_cursor(cursor.as_deref(), params.paging.page)?);
                self.list_checkouts(&params).await
            }
        })
    }

    // -- payment intents -----------------------------------------------------------------------

    /// `PATCH /api/payment_intents/{id}`: attaches the electronic invoice URL to a payment.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn update_payment_intent(&self, id: &str, req: &UpdatePaymentIntent) -> Result<PaymentIntent> {
        validate::path_id("id", id)?;
        let body = validate::update_payment_intent(req);
        self.value(Call::new(Method::PATCH, &["payment_intents", id], "payment intent", id).json(&body)?)
            .await
    }

    // -- products ------------------------------------------------------------------------------

    /// `POST /api/products`: a one-time or subscription product.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; provider errors.
    pub async fn create_product(&self, req: &CreateProduct) -> Result<Product> {
        let body = validate::create_product(req)?;
        self.value(Call::new(Method::POST, &["products"], "product", "").json(&body)?)
            .await
    }

    /// `GET /api/products/{id}`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn get_product(&self, id: &str) -> Result<Product> {
        validate::path_id("id", id)?;
        self.value(Call::get(&["products", id], "product", id)).await
    }

    /// `GET /api/products`: one page (newest first).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a page or size of 0; transport and provider errors.
    pub async fn list_products(&self, params: &ListParams) -> Result<Page<Product>> {
        let query = validate::paging(params)?;
        self.page(&["products"], "product", query, params).await.map(strip)
    }

    /// Every product, page after page.
    pub fn all_products(&self, params: ListParams) -> BoxStream<'_, Result<Product>> {
        paginate(move |cursor| async move {
            let params = ListParams {
                page: Some(page_from_cursor(cursor.as_deref(), params.page)?),
                ..params
            };
            self.list_products(&params).await
        })
    }

    /// `PATCH /api/products/{id}`: changes fields, and adds, changes or removes (`_destroy`)
    /// prices by id.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; [`Error::NotFound`]; provider errors.
    pub async fn update_product(&self, id: &str, req: &UpdateProduct) -> Result<Product> {
        validate::path_id("id", id)?;
        let body = validate::update_product(req)?;
        self.value(Call::new(Method::PATCH, &["products", id], "product", id).json(&body)?)
            .await
    }

    /// `DELETE /api/products/{id}`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn delete_product(&self, id: &str) -> Result<Deleted> {
        validate::path_id("id", id)?;
        self.value(Call::new(Method::DELETE, &["products", id], "product", id))
            .await
    }

    // -- coupons -------------------------------------------------------------------------------

    /// `POST /api/coupons`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; provider errors.
    pub async fn create_coupon(&self, req: &CreateCoupon) -> Result<Coupon> {
        let body = validate::create_coupon(req)?;
        self.value(Call::new(Method::POST, &["coupons"], "coupon", "").json(&body)?)
            .await
    }

    /// `GET /api/coupons/{id}`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn get_coupon(&self, id: &str) -> Result<Coupon> {
        validate::path_id("id", id)?;
        self.value(Call::get(&["coupons", id], "coupon", id)).await
    }

    /// `GET /api/coupons`: one page.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a page or size of 0; transport and provider errors.
    pub async fn list_coupons(&self, params: &ListParams) -> Result<Page<Coupon>> {
        let query = validate::paging(params)?;
        self.page(&["coupons"], "coupon", query, params).await.map(strip)
    }

    /// Every coupon, page after page.
    pub fn all_coupons(&self, params: ListParams) -> BoxStream<'_, Result<Coupon>> {
        paginate(move |cursor| async move {
            let params = ListParams {
                page: Some(page_from_cursor(cursor.as_deref(), params.page)?),
                ..params
            };
            self.list_coupons(&params).await
        })
    }

    /// `PATCH /api/coupons/{id}`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; [`Error::NotFound`]; provider errors.
    pub async fn update_coupon(&self, id: &str, req: &UpdateCoupon) -> Result<Coupon> {
        validate::path_id("id", id)?;
        let body = validate::update_coupon(req)?;
        self.value(Call::new(Method::PATCH, &["coupons", id], "coupon", id).json(&body)?)
            .await
    }

    /// `DELETE /api/coupons/{id}`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn delete_coupon(&self, id: &str) -> Result<Deleted> {
        validate::path_id("id", id)?;
        self.value(Call::new(Method::DELETE, &["coupons", id], "coupon", id))
            .await
    }

    // -- subscriptions -------------------------------------------------------------------------

    /// `GET /api/subscriptions/{id}`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn get_subscription(&self, id: &str) -> Result<Subscription> {
        validate::path_id("id", id)?;
        self.value(Call::get(&["subscriptions", id], "subscription", id)).await
    }

    pub(crate) async fn get_subscription_raw(&self, id: &str) -> Result<(Subscription, Value)> {
        validate::path_id("id", id)?;
        self.send(Call::get(&["subscriptions", id], "subscription", id)).await
    }

    /// `GET /api/subscriptions`: one page (newest first).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a page or size of 0; transport and provider errors.
    pub async fn list_subscriptions(&self, params: &ListParams) -> Result<Page<Subscription>> {
        self.list_subscriptions_raw(params).await.map(strip)
    }

    pub(crate) async fn list_subscriptions_raw(&self, params: &ListParams) -> Result<Page<(Subscription, Value)>> {
        let query = validate::paging(params)?;
        self.page(&["subscriptions"], "subscription", query, params).await
    }

    /// Every subscription, page after page: [`MAX_PAGE_SIZE`] a page unless `params` chose a
    /// size (the fewest requests).
    pub fn all_subscriptions(&self, params: ListParams) -> BoxStream<'_, Result<Subscription>> {
        paginate(move |cursor| async move {
            let params = ListParams {
                page: Some(page_from_cursor(cursor.as_deref(), params.page)?),
                items: params.items.or(Some(MAX_PAGE_SIZE)),
            };
            self.list_subscriptions(&params).await
        })
    }

    /// `DELETE /api/subscriptions/{id}`: cancels it. The answer is only a message
    /// (`Suscripción cancelada`); get the subscription to see its new state.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Rejected`] (e.g. already cancelled); transport errors.
    pub async fn cancel_subscription(&self, id: &str) -> Result<Message> {
        validate::path_id("id", id)?;
        self.value(Call::new(Method::DELETE, &["subscriptions", id], "subscription", id))
            .await
    }

    /// `PUT /api/subscriptions/{id}`: puts a new saved card on it (see [`UpdateSubscription`]);
    /// answers the subscription.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; [`Error::NotFound`]; [`Error::Rejected`] (an
    /// unknown or unusable payment method, a cancelled subscription); transport errors.
    pub async fn update_subscription(&self, id: &str, req: &UpdateSubscription) -> Result<Subscription> {
        validate::path_id("id", id)?;
        let body = validate::update_subscription(req)?;
        self.value(Call::new(Method::PUT, &["subscriptions", id], "subscription", id).json(&body)?)
            .await
    }

    // -- users, transfers, refunds -------------------------------------------------------------

    /// `POST /api/users`: a user to pre-fill checkouts with (`user_id`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed e-mail address; provider errors.
    pub async fn create_user(&self, req: &CreateUser) -> Result<User> {
        let body = validate::create_user(req)?;
        self.value(Call::new(Method::POST, &["users"], "user", "").json(&body)?)
            .await
    }

    // -- customers -------------------------------------------------------------------------------

    /// `POST /api/customers`: the customer (`cus_…`) with this e-mail address, found or created
    /// (with its user when there is none). Pass its id as [`CreateCheckout::customer_id`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed e-mail address or blank field; provider errors.
    pub async fn create_customer(&self, req: &CreateCustomer) -> Result<CustomerProfile> {
        let body = validate::create_customer(req)?;
        self.value(Call::new(Method::POST, &["customers"], "customer", "").json(&body)?)
            .await
    }

    /// `GET /api/customers/{id}` (a `cus_…` id).
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn get_customer(&self, id: &str) -> Result<CustomerProfile> {
        validate::path_id("id", id)?;
        self.value(Call::get(&["customers", id], "customer", id)).await
    }

    /// The customer of a user (`us_…`): `GET /api/customers/{user_id}?user_id={user_id}` (the
    /// reference looks up by the `user_id` parameter on the customer path).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the user has no customer; transport and provider errors.
    pub async fn get_customer_by_user(&self, user_id: &str) -> Result<CustomerProfile> {
        validate::path_id("user_id", user_id)?;
        self.value(Call::get(&["customers", user_id], "customer", user_id).query(vec![("user_id", user_id.to_owned())]))
            .await
    }

    /// `GET /api/customers`: one page (newest first; the rows come wrapped in `customers`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a page or size of 0; transport and provider errors.
    pub async fn list_customers(&self, params: &ListParams) -> Result<Page<CustomerProfile>> {
        let query = validate::paging(params)?;
        self.page_in(&["customers"], "customer", query, params, Some("customers"))
            .await
            .map(strip)
    }

    /// Every customer, page after page.
    pub fn all_customers(&self, params: ListParams) -> BoxStream<'_, Result<CustomerProfile>> {
        paginate(move |cursor| async move {
            let params = ListParams {
                page: Some(page_from_cursor(cursor.as_deref(), params.page)?),
                ..params
            };
            self.list_customers(&params).await
        })
    }

    /// `PUT /api/customers/{id}`: changes the fields given; metadata is merged (a `None` value
    /// deletes its key).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; [`Error::NotFound`]; provider errors.
    pub async fn update_customer(&self, id: &str, req: &UpdateCustomer) -> Result<CustomerProfile> {
        validate::path_id("id", id)?;
        let body = validate::update_customer(req)?;
        self.value(Call::new(Method::PUT, &["customers", id], "customer", id).json(&body)?)
            .await
    }

    /// `POST /api/transfers`: sends money to another Recurrente account.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; provider errors.
    pub async fn create_transfer(&self, req: &CreateTransfer) -> Result<Transfer> {
        let body = validate::create_transfer(req)?;
        self.value(Call::new(Method::POST, &["transfers"], "transfer", "").json(&body)?)
            .await
    }

    /// `POST /api/refunds`: refunds a payment (`pa_…`) in full.
    ///
    /// Sent once. After an error with [`Error::may_have_been_sent`] the refund may exist; no
    /// endpoint lists a payment's refunds, so it is not looked up here. A refund is always of
    /// the whole payment and Recurrente refuses a second one (422 "already refunded"), so
    /// calling again is safe: that refusal means the first one went through.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty id; provider errors.
    pub async fn create_refund(&self, payment_intent_id: &str) -> Result<Refund> {
        let body = validate::create_refund(payment_intent_id)?;
        self.value(Call::new(Method::POST, &["refunds"], "payment intent", payment_intent_id).json(&body)?)
            .await
    }

    /// `GET /api/refunds/{id}`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn get_refund(&self, id: &str) -> Result<Refund> {
        validate::path_id("id", id)?;
        self.value(Call::get(&["refunds", id], "refund", id)).await
    }

    // -- webhook endpoints ---------------------------------------------------------------------

    /// `POST /api/webhook_endpoints`. The answer's `signingSecret`, when present, is kept in a
    /// [`secrecy::SecretString`]; errors never quote this answer.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; provider errors.
    pub async fn create_webhook_endpoint(&self, req: &CreateWebhookEndpoint) -> Result<WebhookEndpoint> {
        let body = validate::create_webhook_endpoint(req)?;
        let mut call = Call::new(Method::POST, &["webhook_endpoints"], "webhook endpoint", "").json(&body)?;
        call.secret_answer = true;
        self.value(call).await
    }

    /// `GET /api/webhook_endpoints` (not paginated).
    ///
    /// # Errors
    /// Transport and provider errors.
    pub async fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        self.value(Call::get(&["webhook_endpoints"], "webhook endpoint", ""))
            .await
    }

    /// `DELETE /api/webhook_endpoints/{id}`: returns the deleted endpoint (or, per another
    /// example of the reference, only its `id`).
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport and provider errors.
    pub async fn delete_webhook_endpoint(&self, id: &str) -> Result<WebhookEndpoint> {
        validate::path_id("id", id)?;
        self.value(Call::new(
            Method::DELETE,
            &["webhook_endpoints", id],
            "webhook endpoint",
            id,
        ))
        .await
    }

    // -- tokenized payments --------------------------------------------------------------------

    /// `POST /api/one_time_payments`: charges a saved payment method (`pay_m_…`) for items given
    /// by amount or by product.
    ///
    /// Sent once, never retried, never reconciled: a one-time payment carries no reference of
    /// yours that could be searched for. After an error with [`Error::may_have_been_sent`] the
    /// card may have been charged: check the payment's webhooks before charging again.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; provider errors (a declined card is
    /// [`Error::Rejected`]).
    pub async fn create_one_time_payment(&self, req: &CreateOneTimePayment) -> Result<OneTimePayment> {
        let body = validate::create_one_time_payment(req)?;
        self.value(
            Call::new(
                Method::POST,
                &["one_time_payments"],
                "payment method",
                &req.payment_method_id,
            )
            .json(&body)?,
        )
        .await
    }

    // -- plumbing ------------------------------------------------------------------------------

    /// As [`Self::send`] without the raw JSON: the answer is read straight into `T`; one that
    /// does not read so is read as `send` reads it (through its JSON value), so the outcome
    /// and the error are the same.
    async fn value<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        let secret = call.secret_answer;
        let (status, _, body) = self.send_bytes(&call).await?;
        if let Ok(value) = serde_json::from_slice::<T>(&body) {
            return Ok(value);
        }
        typed(decode_value(status, &body, secret)?, status, secret).map(|(value, _)| value)
    }

    /// One page of a bare-array list: the items with their raw JSON, and the next page.
    async fn page<T: DeserializeOwned>(
        &self,
        path: &[&str],
        resource: &'static str,
        query: Vec<(&'static str, String)>,
        params: &ListParams,
    ) -> Result<Page<(T, Value)>> {
        self.page_in(path, resource, query, params, None).await
    }

    /// One page of a list whose rows are a bare array or, with `key`, the array under that key
    /// (`{"customers": [...]}`; a bare array is accepted there too). The next page is the one
    /// the `Link` header's `rel="next"` names, else the next while `Current-Page < Total-Pages`;
    /// with neither header, the next when this page is as long as asked. An empty page is
    /// always the last.
    async fn page_in<T: DeserializeOwned>(
        &self,
        path: &[&str],
        resource: &'static str,
        query: Vec<(&'static str, String)>,
        params: &ListParams,
        key: Option<&'static str>,
    ) -> Result<Page<(T, Value)>> {
        let (raw, headers, status): (Value, HeaderMap, StatusCode) =
            self.send_full(Call::get(path, resource, "").query(query)).await?;
        let (rows, at) = match (raw, key) {
            (Value::Array(a), _) => (a, String::new()),
            (Value::Object(mut o), Some(k)) => match o.remove(k) {
                Some(Value::Array(a)) => (a, format!(".{k}")),
                Some(Value::Null) | None => (Vec::new(), String::new()),
                Some(other) => {
                    return Err(Error::Decode {
                        gateway: GATEWAY,
                        status: status.as_u16(),
                        path: format!(".{k}"),
                        excerpt: excerpt(other.to_string().as_bytes(), false),
                        source: "expected an array".into(),
                    });
                }
            },
            (other, _) => {
                return Err(Error::Decode {
                    gateway: GATEWAY,
                    status: status.as_u16(),
                    path: ".".into(),
                    excerpt: excerpt(other.to_string().as_bytes(), false),
                    source: "expected an array".into(),
                });
            }
        };
        let mut items = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let item: T = serde_path_to_error::deserialize(&row).map_err(|e| Error::Decode {
                gateway: GATEWAY,
                status: status.as_u16(),
                path: format!("{at}[{i}].{}", e.path()),
                excerpt: excerpt(row.to_string().as_bytes(), false),
                source: Box::new(e.into_inner()),
            })?;
            items.push((item, row));
        }
        let page = params.page.unwrap_or(1);
        let asked = params.items.unwrap_or(DEFAULT_PAGE_SIZE).min(MAX_PAGE_SIZE);
        let next = if items.is_empty() {
            None
        } else {
            next_page(&headers, page, items.len(), asked)
        };
        Ok(Page {
            next_cursor: next.map(|p| p.to_string()),
            items,
        })
    }

    /// Sends a call (retrying `GET`s) and decodes a 2xx answer; returns it with its raw JSON.
    async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<(T, Value)> {
        let secret = call.secret_answer;
        let (raw, _, status): (Value, HeaderMap, StatusCode) = self.send_full(call).await?;
        typed(raw, status, secret)
    }

    /// Sends a call (retrying `GET`s); returns a 2xx answer's JSON, headers and status.
    async fn send_full(&self, call: Call<'_>) -> Result<(Value, HeaderMap, StatusCode)> {
        let (status, headers, body) = self.send_bytes(&call).await?;
        let raw = decode_value(status, &body, call.secret_answer)?;
        Ok((raw, headers, status))
    }

    /// Sends a call (retrying `GET`s); returns a 2xx answer's body, headers and status.
    async fn send_bytes(&self, call: &Call<'_>) -> Result<Answer> {
        let url = self.url(call.path, &call.query)?;
        let attempts = if call.method == Method::GET {
            self.max_retries.saturating_add(1)
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= attempts;
            let outcome = self.send_once(call, &url).await;
            match outcome {
                Ok((status, _, _)) if status.is_server_error() && !last => {
                    tracing::debug!(method = %call.method, path = url.path(), %status, attempt, "retrying");
                }
                Ok((status, headers, body)) => {
                    tracing::debug!(method = %call.method, path = url.path(), %status, "answered");
                    return if status.is_success() {
                        Ok((status, headers, body))
                    } else {
                        Err(error_for(status, &headers, &body, call))
                    };
                }
                Err(Failure::Transport(e)) if !last => {
                    tracing::debug!(method = %call.method, path = url.path(), error = %e, attempt, "retrying");
                }
                Err(Failure::Transport(e)) => return Err(transport(e)),
                Err(Failure::TooLarge(status)) => {
                    return Err(Error::Decode {
                        gateway: GATEWAY,
                        status: status.as_u16(),
                        path: ".".into(),
                        excerpt: String::new(),
                        source: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes").into(),
                    });
                }
            }
            let factor = 1u32 << (attempt - 1).min(5);
            tokio::time::sleep(BACKOFF_BASE * factor).await;
        }
    }

    async fn send_once(&self, call: &Call<'_>, url: &Url) -> std::result::Result<Answer, Failure> {
        let mut request = self.http.request(call.method.clone(), url.clone());
        if let Some(public_key) = &self.public_key {
            request = request.header("X-PUBLIC-KEY", public_key.clone());
        }
        request = request
            .header("X-SECRET-KEY", self.secret_key.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, USER_AGENT);
        if let Some(body) = &call.body {
            request = request.body(body.clone());
        }
        let mut response = request.send().await.map_err(Failure::Transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            return Err(Failure::TooLarge(status));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Failure::Transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure::TooLarge(status));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body))
    }

    fn url(&self, path: &[&str], query: &[(&'static str, String)]) -> Result<Url> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::config("base_url", "cannot be a base URL"))?
            .pop_if_empty()
            .push("api")
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }
}

type Answer = (StatusCode, HeaderMap, Vec<u8>);

/// Why no answer could be read.
enum Failure {
    Transport(reqwest::Error),
    TooLarge(StatusCode),
}

fn secret_header(name: &str, value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| Error::config(name, "cannot be sent in an HTTP header"))?;
    v.set_sensitive(true);
    Ok(v)
}

fn strip<T>(page: Page<(T, Value)>) -> Page<T> {
    Page {
        items: page.items.into_iter().map(|(t, _)| t).collect(),
        next_cursor: page.next_cursor,
    }
}

/// The page a cursor names: `None` is the first page (`start`, or 1).
fn page_from_cursor(cursor: Option<&str>, start: Option<u32>) -> Result<u32> {
    match cursor {
        None => Ok(start.unwrap_or(1).max(1)),
        Some(c) => match c.parse::<u32>() {
            Ok(p) if p >= 1 => Ok(p),
            _ => Err(Error::invalid("cursor", format!("`{c}` is not a page number"))),
        },
    }
}

/// A cursor for [`paycycle_core::RecurringGateway::subscriptions`]: the page number.
pub(crate) fn parse_cursor(cursor: Option<&str>) -> Result<u32> {
    page_from_cursor(cursor, None)
}

/// The page after `page` by the pagination headers (names matched case-insensitively):
/// `Link` with `rel="next"` (its `page` parameter, else `page + 1`) or, when there is a `Link`
/// without it, none; else `Current-Page < Total-Pages`; else (no headers) whether `rows` filled
/// the `asked` size.
fn next_page(headers: &HeaderMap, page: u32, rows: usize, asked: u32) -> Option<u32> {
    let text = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let link = text("link");
    if !link.trim().is_empty() {
        return next_link(&link).map(|target| {
            Url::parse(&target)
                .ok()
                .and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "page")
                        .and_then(|(_, v)| v.parse::<u32>().ok())
                })
                .filter(|p| *p > page)
                .or_else(|| page.checked_add(1))
        })?;
    }
    let number = |name: &str| text(name).trim().parse::<u32>().ok();
    if let Some(total) = number("total-pages") {
        let current = number("current-page").unwrap_or(page);
        // A `Current-Page` behind the page asked for never sends the listing back: only a
        // page after this one continues it (else a broken header could make it loop).
        return (current < total)
            .then(|| current.checked_add(1))
            .flatten()
            .filter(|next| *next > page);
    }
    let full = rows >= usize::try_from(asked).unwrap_or(usize::MAX);
    full.then(|| page.checked_add(1)).flatten()
}

/// The target of the `rel="next"` entry of a `Link` header (`<url>; rel="next", <url>; rel=…`).
fn next_link(link: &str) -> Option<String> {
    let mut rest = link;
    while let Some(open) = rest.find('<') {
        let after = rest.get(open + 1..)?;
        let close = after.find('>')?;
        let target = after.get(..close)?;
        let params_and_more = after.get(close + 1..)?;
        let params = params_and_more.split('<').next().unwrap_or("");
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = params_and_more;
    }
    None
}

fn transport(e: reqwest::Error) -> Error {
    Error::Transport {
        gateway: GATEWAY,
        // A refused connection or a request that could not be built never reached Recurrente;
        // anything later (a timeout, a reset) may have.
        may_have_been_sent: !(e.is_connect() || e.is_builder()),
        source: Box::new(e),
    }
}

fn excerpt(body: &[u8], secret: bool) -> String {
    if secret {
        return "[withheld: the answer may hold a signing secret]".to_owned();
    }
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if out.len() < body.len() {
        out.push('…');
    }
    out
}

fn decode<T: DeserializeOwned>(status: StatusCode, body: &[u8], secret: bool) -> Result<(T, Value)> {
    let raw = decode_value(status, body, secret)?;
    let value = serde_path_to_error::deserialize(&raw).map_err(|e| Error::Decode {
        gateway: GATEWAY,
        status: status.as_u16(),
        path: e.path().to_string(),
        excerpt: excerpt(body, secret),
        source: Box::new(e.into_inner()),
    })?;
    Ok((value, raw))
}

/// The JSON of a 2xx answer (an empty 204 reads as `{}`).
fn decode_value(status: StatusCode, body: &[u8], secret: bool) -> Result<Value> {
    let fail = |path: String, source: paycycle_core::BoxError| Error::Decode {
        gateway: GATEWAY,
        status: status.as_u16(),
        path,
        excerpt: excerpt(body, secret),
        source,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        // A 204 reads as an empty object; any other empty answer is not one Recurrente sends
        // (a proxy that lost the body): the call's outcome is unknown.
        if status != StatusCode::NO_CONTENT {
            return Err(fail(".".to_owned(), "the answer is empty".into()));
        }
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| fail(".".to_owned(), Box::new(e)))
}

/// `raw` read as `T`, with it. Read directly; only an answer that does not read is read again
/// to find the member's path (the same reading, so the same outcome).
fn typed<T: DeserializeOwned>(raw: Value, status: StatusCode, secret: bool) -> Result<(T, Value)> {
    let value = T::deserialize(&raw).or_else(|_| {
        serde_path_to_error::deserialize(&raw).map_err(|e| Error::Decode {
            gateway: GATEWAY,
            status: status.as_u16(),
            path: e.path().to_string(),
            excerpt: excerpt(raw.to_string().as_bytes(), secret),
            source: Box::new(e.into_inner()),
        })
    })?;
    Ok((value, raw))
}

fn truncate(s: &str) -> String {
    let mut out: String = s.chars().take(MESSAGE_CHARS).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The provider's explanation: `message`, then `error` (strings; Recurrente's errors page
/// documents `message`, its introduction `error`), the `errors` map of field → list of strings
/// (also a single string), or the raw text.
fn explanation(body: &[u8]) -> (Option<String>, std::collections::BTreeMap<String, Vec<String>>) {
    let mut fields = std::collections::BTreeMap::new();
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return (None, fields);
    }
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(trimmed) else {
        return (Some(truncate(trimmed)), fields);
    };
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let mut message = obj
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| obj.get("error").and_then(Value::as_str))
        .map(str::to_owned);
    match obj.get("errors") {
        Some(Value::Object(errors)) => {
            for (field, v) in errors {
                let list = match v {
                    Value::Array(items) => items.iter().filter_map(as_text).collect(),
                    other => as_text(other).into_iter().collect(),
                };
                fields.insert(field.clone(), list);
            }
        }
        Some(Value::Array(items)) if message.is_none() => {
            let all: Vec<String> = items.iter().filter_map(as_text).collect();
            message = Some(all.join("; "));
        }
        _ => {}
    }
    if message.is_none() {
        message = obj.get("error").and_then(as_text);
    }
    if message.is_none() && fields.is_empty() {
        message = Some(trimmed.to_owned());
    }
    (message.map(|m| truncate(&m)), fields)
}

fn error_for(status: StatusCode, headers: &HeaderMap, body: &[u8], call: &Call<'_>) -> Error {
    let (message, field_errors) = explanation(body);
    match status {
        StatusCode::UNAUTHORIZED => Error::Authentication {
            gateway: GATEWAY,
            status: Some(status.as_u16()),
            message: message.unwrap_or_else(|| "missing or invalid API keys".to_owned()),
        },
        StatusCode::NOT_FOUND => Error::NotFound {
            gateway: GATEWAY,
            resource: call.resource.to_owned(),
            id: call.id.to_owned(),
        },
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
            gateway: GATEWAY,
            retry_after: paycycle_core::retry_after(headers),
        },
        s if s.is_redirection() => {
            // Never followed (the client is built with `Policy::none()`): the keys stay here.
            let to = headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "nowhere".to_owned(), |l| excerpt(l.as_bytes(), false));
            Error::Rejected {
                gateway: GATEWAY,
                status: status.as_u16(),
                message: Some(format!("redirected to {to}; redirects are not followed")),
                field_errors,
            }
        }
        _ => Error::Rejected {
            gateway: GATEWAY,
            status: status.as_u16(),
            message,
            field_errors,
        },
    }
}

/// Entry points for the fuzz targets (`crates/paycycle-fuzz`): the client's private answer
/// decoding and pagination headers, reachable without a network. Not part of the stable API.
#[doc(hidden)]
pub mod fuzzing {
    use super::{Call, decode, error_for, next_page, parse_cursor};
    use crate::wire::{Checkout, Message, Subscription};
    use paycycle_core::Error;
    use reqwest::header::HeaderMap;
    use reqwest::{Method, StatusCode};

    /// Interprets one answer exactly as the client does: a success decodes into the type
    /// selected by `which % 4` (checkout, subscription, a list of checkouts, a message), any
    /// other status becomes the error it means. `None` for a status code HTTP cannot carry.
    pub fn answer(which: u8, status: u16, headers: &HeaderMap, body: &[u8], secret: bool) -> Option<Result<(), Error>> {
        let status = StatusCode::from_u16(status).ok()?;
        if !status.is_success() {
            let call = Call {
                method: Method::GET,
                path: &["checkouts", "ch_fuzz"],
                query: Vec::new(),
                body: None,
                resource: "checkout",
                id: "ch_fuzz",
                secret_answer: secret,
            };
            return Some(Err(error_for(status, headers, body, &call)));
        }
        Some(match which % 4 {
            0 => decode::<Checkout>(status, body, secret).map(drop),
            1 => decode::<Subscription>(status, body, secret).map(drop),
            2 => decode::<Vec<Checkout>>(status, body, secret).map(drop),
            _ => decode::<Message>(status, body, secret).map(drop),
        })
    }

    /// The page after `page`, read from the pagination headers as the client's list calls do.
    pub fn next(headers: &HeaderMap, page: u32, rows: usize, asked: u32) -> Option<u32> {
        next_page(headers, page, rows, asked)
    }

    /// A list cursor as the caller passes it.
    pub fn cursor(text: &str) -> Result<u32, Error> {
        parse_cursor(Some(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_prefer_message_then_error_then_text() {
        assert_eq!(
            explanation(br#"{"error":"bad","message":"other"}"#).0.as_deref(),
            Some("other")
        );
        assert_eq!(explanation(br#"{"error":"bad"}"#).0.as_deref(), Some("bad"));
        let (m, f) = explanation(
            r#"{"message":"Autenticación Errónea 👀","errors":{"authentication":["Las llaves de API son inválidas o no coinciden."]}}"#
                .as_bytes(),
        );
        assert_eq!(m.as_deref(), Some("Autenticación Errónea 👀"));
        assert_eq!(f["authentication"].len(), 1);
        assert_eq!(explanation(br#"{"message":"Invalid"}"#).0.as_deref(), Some("Invalid"));
        assert_eq!(
            explanation(b"Internal Server Error\n").0.as_deref(),
            Some("Internal Server Error")
        );
        assert_eq!(explanation(b"  ").0, None);
        let (m, f) = explanation(br#"{"errors":{"name":["can't be blank"],"currency":"is invalid"}}"#);
        assert_eq!(m, None);
        assert_eq!(f["name"], vec!["can't be blank".to_owned()]);
        assert_eq!(f["currency"], vec!["is invalid".to_owned()]);
        assert_eq!(explanation(br#"{"errors":["a","b"]}"#).0.as_deref(), Some("a; b"));
        assert_eq!(
            explanation(br#"{"error":{"code":7}}"#).0.as_deref(),
            Some(r#"{"code":7}"#)
        );
        assert_eq!(
            explanation(br#"{"unexpected":1}"#).0.as_deref(),
            Some(r#"{"unexpected":1}"#)
        );
        let long = "x".repeat(5000);
        assert!(explanation(long.as_bytes()).0.unwrap().chars().count() <= MESSAGE_CHARS + 1);
    }

    #[test]
    fn excerpts_are_short_and_withheld_for_secrets() {
        let body = "é".repeat(1000);
        let e = excerpt(body.as_bytes(), false);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(!excerpt(br#"{"signingSecret":"whsec_x"}"#, true).contains("whsec"));
    }

    #[test]
    fn decode_names_the_path() {
        let err = decode::<Vec<Subscription>>(
            StatusCode::OK,
            br#"[{"id":"su_1"},{"id":"su_2","subscriber":7}]"#,
            false,
        )
        .unwrap_err();
        match err {
            Error::Decode {
                path, status, excerpt, ..
            } => {
                assert_eq!(path, "[1].subscriber");
                assert_eq!(status, 200);
                assert!(excerpt.starts_with("[{"));
            }
            other => panic!("{other:?}"),
        }
        match decode::<Message>(StatusCode::OK, b"<html>oops</html>", false).unwrap_err() {
            Error::Decode { path, excerpt, .. } => {
                assert_eq!(path, ".");
                assert_eq!(excerpt, "<html>oops</html>");
            }
            other => panic!("{other:?}"),
        }
        let (m, raw) = decode::<Message>(StatusCode::NO_CONTENT, b"", false).unwrap();
        assert_eq!(m, Message::default());
        assert_eq!(raw, serde_json::json!({}));
    }

    #[test]
    fn next_pages_follow_link_then_total_pages_then_short_pages() {
        let h = |pairs: &[(&'static str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, HeaderValue::from_str(v).unwrap());
            }
            m
        };
        let link = r#"<http://x/api/customers?page=1&items=2>; rel="first", <http://x/api/customers?page=3&items=2>; rel="next", <http://x/api/customers?page=9&items=2>; rel="last""#;
        assert_eq!(
            next_page(&h(&[("Link", link)]), 2, 1, 2),
            Some(3),
            "a short page with a next link"
        );
        let last =
            r#"<http://x/a?page=1>; rel="first", <http://x/a?page=1>; rel="prev", <http://x/a?page=2>; rel="last""#;
        assert_eq!(
            next_page(&h(&[("link", last)]), 2, 2, 2),
            None,
            "a full page without one"
        );
        assert_eq!(
            next_page(&h(&[("link", r#"<http://x/a>; rel="next""#)]), 4, 2, 2),
            Some(5)
        );
        assert_eq!(
            next_page(&h(&[("Total-Pages", "5"), ("Current-Page", "2")]), 2, 1, 10),
            Some(3)
        );
        assert_eq!(
            next_page(&h(&[("total-pages", "2"), ("current-page", "2")]), 2, 10, 10),
            None
        );
        assert_eq!(next_page(&h(&[]), 1, 10, 10), Some(2));
        assert_eq!(next_page(&h(&[]), 1, 9, 10), None);
        // A `Current-Page` behind the page asked for would send the listing back to page 2
        // for ever: it ends it instead.
        assert_eq!(
            next_page(&h(&[("Total-Pages", "9"), ("Current-Page", "1")]), 5, 10, 10),
            None
        );
    }

    #[test]
    fn cursors_are_page_numbers() {
        assert_eq!(page_from_cursor(None, None).unwrap(), 1);
        assert_eq!(page_from_cursor(None, Some(3)).unwrap(), 3);
        assert_eq!(page_from_cursor(Some("4"), Some(3)).unwrap(), 4);
        assert!(page_from_cursor(Some("0"), None).is_err());
        assert!(page_from_cursor(Some("next"), None).is_err());
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_ids() {
        let config = RecurrenteConfig::builder()
            .public_key("pk")
            .secret_key("sk")
            .base_url("http://127.0.0.1:1/prefix/")
            .build()
            .unwrap();
        let client = RecurrenteClient::new(&config).unwrap();
        let url = client
            .url(&["checkouts", "ch_1/../x?y"], &[("page", "2".into())])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/prefix/api/checkouts/ch_1%2F..%2Fx%3Fy?page=2"
        );
        assert_eq!(
            client.checkout_page_url("ch_1").unwrap().as_str(),
            "http://127.0.0.1:1/prefix/checkout-session/ch_1"
        );
        assert!(!format!("{client:?}").contains("sk"));
    }
}
