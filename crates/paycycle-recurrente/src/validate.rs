//! Checks every request against the documented limits and builds the exact JSON body sent.
//!
//! A body can only be made here, so nothing unchecked reaches the provider. Each failure is
//! [`Error::InvalidInput`] naming the field as the provider does (`items[0].quantity`).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use paycycle_core::{Currency, Error, Interval, Money, Result};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::Value;

use crate::wire::{
    AllowedPaymentMethod, BillingInterval, CheckoutMode, CouponDiscount, CreateCheckout, CreateCoupon, CreateCustomer,
    CreateOneTimePayment, CreateProduct, CreateTransfer, CreateUser, CreateWebhookEndpoint, CustomItem, LineItem,
    ListCheckouts, ListParams, Metadata, NewPrice, PriceChange, ProductDetails, RecurringTerms, Requirement,
    UpdateCheckout, UpdateCoupon, UpdateCustomer, UpdatePaymentIntent, UpdateProduct, UpdateSubscription,
};

/// At most this many metadata keys.
pub const METADATA_MAX_KEYS: usize = 50;
/// Metadata key names are at most this many characters.
pub const METADATA_KEY_MAX_CHARS: usize = 40;
/// Metadata values are at most this many characters.
pub const METADATA_VALUE_MAX_CHARS: usize = 500;
/// Item quantities are within this range.
pub const QUANTITY_RANGE: std::ops::RangeInclusive<u32> = 1..=9;

/// The currencies Recurrente charges in.
pub const CURRENCIES: [Currency; 2] = [Currency::GTQ, Currency::USD];

/// The installment counts (months) an item may offer (`available_installments`).
pub const INSTALLMENT_MONTHS: [u32; 4] = [3, 6, 12, 18];

/// The smallest unit price of an item described in a checkout (`amount_in_cents`): 5.00 GTQ,
/// 1.00 USD (Recurrente's current docs); `None` for a currency Recurrente does not charge in.
/// A setup checkout's one-time items may be 0.
pub fn checkout_item_minimum(currency: Currency) -> Option<Money> {
    let cents = if currency == Currency::GTQ {
        500
    } else if currency == Currency::USD {
        100
    } else {
        return None;
    };
    Money::from_minor_units(cents, currency).ok()
}

/// Checks metadata limits; `field` prefixes the error (`metadata`, `items[0].metadata`).
///
/// # Errors
/// [`Error::InvalidInput`] naming the offending key.
pub fn check_metadata(field: &str, metadata: &BTreeMap<String, String>) -> Result<()> {
    if metadata.len() > METADATA_MAX_KEYS {
        return Err(Error::invalid(
            field,
            format!("has {} keys; at most {METADATA_MAX_KEYS} are allowed", metadata.len()),
        ));
    }
    for (key, value) in metadata {
        if key.is_empty() {
            return Err(Error::invalid(field, "has an empty key"));
        }
        let key_chars = key.chars().count();
        if key_chars > METADATA_KEY_MAX_CHARS {
            return Err(Error::invalid(
                format!("{field}.{}", shorten(key)),
                format!("key has {key_chars} characters; at most {METADATA_KEY_MAX_CHARS} are allowed"),
            ));
        }
        let value_chars = value.chars().count();
        if value_chars > METADATA_VALUE_MAX_CHARS {
            return Err(Error::invalid(
                format!("{field}.{key}"),
                format!("value has {value_chars} characters; at most {METADATA_VALUE_MAX_CHARS} are allowed"),
            ));
        }
    }
    Ok(())
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(METADATA_KEY_MAX_CHARS).collect();
    out.push('…');
    out
}

/// Checks a price: GTQ or USD, whole cents, positive; returns the cents.
fn cents(field: &str, money: &Money) -> Result<i64> {
    if !CURRENCIES.contains(&money.currency) {
        return Err(Error::invalid(
            format!("{field}currency"),
            format!("Recurrente charges in GTQ or USD, not {}", money.currency),
        ));
    }
    let cents = money
        .to_minor_units()
        .map_err(|e| Error::invalid(format!("{field}amount_in_cents"), e))?;
    if cents <= 0 {
        return Err(Error::invalid(
            format!("{field}amount_in_cents"),
            format!("must be positive, got {money}"),
        ));
    }
    Ok(cents)
}

fn non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

/// Checks an id used in a URL path.
///
/// # Errors
/// [`Error::InvalidInput`] when empty, padded, or `.`/`..`.
pub(crate) fn path_id(field: &str, id: &str) -> Result<()> {
    non_empty(field, id)?;
    if id.trim() != id || id.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must not contain whitespace or control characters",
        ));
    }
    // URL paths drop these segments, which would address another resource.
    if id == "." || id == ".." {
        return Err(Error::invalid(field, "is not an id"));
    }
    Ok(())
}

fn quantity(field: &str, q: Option<u32>) -> Result<Option<u32>> {
    if let Some(q) = q {
        if !QUANTITY_RANGE.contains(&q) {
            return Err(Error::invalid(field, format!("must be 1 to 9, got {q}")));
        }
    }
    Ok(q)
}

fn at_least_one(field: &str, v: Option<u32>) -> Result<Option<u32>> {
    if v == Some(0) {
        return Err(Error::invalid(field, "must be at least 1"));
    }
    Ok(v)
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn unit(field: &str, interval: &Interval) -> Result<&'static str> {
    match BillingInterval::from_unit(interval.unit) {
        BillingInterval::Day => Ok("day"),
        BillingInterval::Week => Ok("week"),
        BillingInterval::Month => Ok("month"),
        BillingInterval::Year => Ok("year"),
        other => Err(Error::invalid(
            field,
            format!("Recurrente counts in days, weeks, months or years, not {other}"),
        )),
    }
}

fn requirement(r: &Option<Requirement>) -> Option<String> {
    r.as_ref().map(|r| r.as_str().to_owned())
}

/// The recurrence fields shared by checkout items and product prices.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct RecurrenceBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    charge_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_interval: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_interval_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    free_trial_interval: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    free_trial_interval_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    periods_before_automatic_cancellation: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    periods_before_allowed_to_cancel: Option<u32>,
}

fn recurrence(field: &str, terms: &RecurringTerms) -> Result<RecurrenceBody> {
    let mut body = RecurrenceBody {
        charge_type: Some("recurring"),
        billing_interval: Some(unit(&format!("{field}billing_interval"), &terms.interval)?),
        billing_interval_count: Some(terms.interval.count.get()),
        ..RecurrenceBody::default()
    };
    if let Some(trial) = &terms.trial {
        body.free_trial_interval = Some(unit(&format!("{field}free_trial_interval"), trial)?);
        body.free_trial_interval_count = Some(trial.count.get());
    }
    body.periods_before_automatic_cancellation = at_least_one(
        &format!("{field}periods_before_automatic_cancellation"),
        terms.periods_before_automatic_cancellation,
    )?;
    body.periods_before_allowed_to_cancel = at_least_one(
        &format!("{field}periods_before_allowed_to_cancel"),
        terms.periods_before_allowed_to_cancel,
    )?;
    Ok(body)
}

/// One item of a checkout or a one-time payment.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct ItemBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    price_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_in_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_dynamic_pricing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_terms_and_conditions: Option<String>,
    #[serde(flatten)]
    recurrence: RecurrenceBody,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    payment_method_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    available_installments: Vec<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: Metadata,
}

/// Where items are used: checkouts allow subscriptions and have minimum amounts (but for 0 in a
/// setup checkout); one-time payments (a saved card charged) have neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemUse {
    Checkout { setup: bool },
    OneTimePayment,
}

fn currency_code(c: Currency) -> &'static str {
    if c == Currency::USD { "USD" } else { "GTQ" }
}

/// Checks items; returns their bodies and the one currency of the custom items, if any.
fn items(items: &[LineItem], use_: ItemUse) -> Result<(Vec<ItemBody>, Option<Currency>)> {
    if items.is_empty() {
        return Err(Error::invalid("items", "at least one item is required"));
    }
    let mut currency: Option<(usize, Currency)> = None;
    let mut bodies = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("items[{i}].");
        let body = match item {
            LineItem::Price(p) => {
                path_id(&format!("{field}price_id"), &p.price_id)?;
                ItemBody {
                    price_id: Some(p.price_id.clone()),
                    quantity: quantity(&format!("{field}quantity"), p.quantity)?,
                    ..ItemBody::default()
                }
            }
            LineItem::Product(p) => {
                non_empty(&format!("{field}product_id"), &p.product_id)?;
                ItemBody {
                    product_id: Some(p.product_id.clone()),
                    quantity: quantity(&format!("{field}quantity"), p.quantity)?,
                    ..ItemBody::default()
                }
            }
            LineItem::Custom(c) => {
                let body = custom_item(&field, c, use_)?;
                match currency {
                    Some((first, cur)) if cur != c.price.currency => {
                        return Err(Error::invalid(
                            format!("{field}currency"),
                            format!(
                                "is {}, but items[{first}] is in {cur}: a checkout has one currency",
                                c.price.currency
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => currency = Some((i, c.price.currency)),
                }
                body
            }
        };
        bodies.push(body);
    }
    Ok((bodies, currency.map(|(_, c)| c)))
}

fn custom_item(field: &str, c: &CustomItem, use_: ItemUse) -> Result<ItemBody> {
    // A name is optional: the reference's own connected-account checkout sends items with only
    // a currency and an amount. One that is given must not be blank.
    if let Some(name) = &c.name {
        non_empty(&format!("{field}name"), name)?;
    }
    let amount_in_cents = item_cents(field, c, use_)?;
    let recurrence = match (&c.recurring, use_) {
        (None, _) => RecurrenceBody::default(),
        (Some(_), ItemUse::OneTimePayment) => {
            return Err(Error::invalid(
                format!("{field}charge_type"),
                "a one-time payment cannot start a subscription",
            ));
        }
        (Some(terms), ItemUse::Checkout { .. }) => {
            if terms.periods_before_allowed_to_cancel.is_some() {
                return Err(Error::invalid(
                    format!("{field}periods_before_allowed_to_cancel"),
                    "is documented for product prices only; create a product and check out its id",
                ));
            }
            if c.has_dynamic_pricing == Some(true) {
                return Err(Error::invalid(
                    format!("{field}has_dynamic_pricing"),
                    "is available for one-time items only",
                ));
            }
            recurrence(field, terms)?
        }
    };
    let payment_method_types = payment_methods(field, &c.payment_method_types)?;
    installments(field, c)?;
    check_metadata(&format!("{field}metadata"), &c.metadata)?;
    Ok(ItemBody {
        price_id: None,
        product_id: None,
        name: c.name.clone(),
        description: c.description.clone(),
        currency: Some(currency_code(c.price.currency)),
        amount_in_cents: Some(amount_in_cents),
        image_url: c.image_url.as_ref().map(|u| u.to_string()),
        quantity: quantity(&format!("{field}quantity"), c.quantity)?,
        has_dynamic_pricing: c.has_dynamic_pricing,
        custom_terms_and_conditions: c.custom_terms_and_conditions.clone(),
        recurrence,
        payment_method_types,
        available_installments: c.available_installments.clone(),
        metadata: c.metadata.clone(),
    })
}

/// An item's unit price in cents: as [`cents`], and in a checkout at least the minimum, except
/// 0 for a one-time item of a setup checkout.
fn item_cents(field: &str, c: &CustomItem, use_: ItemUse) -> Result<i64> {
    let ItemUse::Checkout { setup } = use_ else {
        return cents(field, &c.price);
    };
    if setup && c.recurring.is_none() && c.price.amount.is_zero() && CURRENCIES.contains(&c.price.currency) {
        return Ok(0);
    }
    let amount_in_cents = cents(field, &c.price).map_err(|e| match e {
        Error::InvalidInput { field, reason } if setup && reason.starts_with("must be positive") => {
            Error::InvalidInput {
                field,
                reason: format!("{reason} (0 is allowed for a setup checkout's one-time items)"),
            }
        }
        other => other,
    })?;
    if let Some(min) = checkout_item_minimum(c.price.currency) {
        if c.price.amount < min.amount {
            return Err(Error::invalid(
                format!("{field}amount_in_cents"),
                format!("must be at least {min} in a checkout, got {}", c.price),
            ));
        }
    }
    Ok(amount_in_cents)
}

/// An item's `payment_method_types`, as sent (a value this crate does not know passes through).
fn payment_methods(field: &str, methods: &[AllowedPaymentMethod]) -> Result<Vec<String>> {
    methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let text = m.as_str();
            if text.trim().is_empty() || text.trim() != text {
                return Err(Error::invalid(
                    format!("{field}payment_method_types[{i}]"),
                    format!("{text:?} is not a payment method type"),
                ));
            }
            Ok(text.to_owned())
        })
        .collect()
}

/// An item's `available_installments`: one-time items in GTQ, paid by card, among 3/6/12/18.
fn installments(field: &str, c: &CustomItem) -> Result<()> {
    if c.available_installments.is_empty() {
        return Ok(());
    }
    let f = format!("{field}available_installments");
    if c.recurring.is_some() {
        return Err(Error::invalid(f, "are available for one-time items only"));
    }
    if c.price.currency != Currency::GTQ {
        return Err(Error::invalid(
            f,
            format!("are available in GTQ only, not {}", c.price.currency),
        ));
    }
    if let Some(bad) = c
        .available_installments
        .iter()
        .find(|m| !INSTALLMENT_MONTHS.contains(m))
    {
        return Err(Error::invalid(
            f,
            format!("must be among 3, 6, 12 and 18 months, got {bad}"),
        ));
    }
    if !c.payment_method_types.is_empty() && !c.payment_method_types.contains(&AllowedPaymentMethod::Card) {
        return Err(Error::invalid(
            f,
            "are paid by card, but payment_method_types leaves cards out",
        ));
    }
    Ok(())
}

#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct TransferSetupBody {
    amount_in_cents: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_id: Option<String>,
}

/// The body of `POST /api/checkouts`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct CheckoutBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    items: Vec<ItemBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_account_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transfer_setups: Vec<TransferSetupBody>,
}

impl CheckoutBody {
    /// Sets the user after the rest was checked (the gateway creates the user last).
    pub(crate) fn set_user_id(&mut self, user_id: String) {
        self.user_id = Some(user_id);
    }

    /// Sets the customer after the rest was checked (the gateway finds or creates it last).
    pub(crate) fn set_customer_id(&mut self, customer_id: String) {
        self.customer_id = Some(customer_id);
    }
}

/// Checks a checkout.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn checkout(req: &CreateCheckout) -> Result<CheckoutBody> {
    let mode = match &req.mode {
        None => None,
        Some(m) if m.as_str().trim().is_empty() || m.as_str().trim() != m.as_str() => {
            return Err(Error::invalid(
                "mode",
                format!("{:?} is not a checkout mode", m.as_str()),
            ));
        }
        Some(m) => Some(m.as_str().to_owned()),
    };
    let setup = req.mode == Some(CheckoutMode::Setup);
    let (items, currency) = items(&req.items, ItemUse::Checkout { setup })?;
    check_metadata("metadata", &req.metadata)?;
    if let Some(user) = &req.user_id {
        non_empty("user_id", user)?;
    }
    if let Some(customer) = &req.customer_id {
        non_empty("customer_id", customer)?;
    }
    if let Some(account) = &req.custom_account_id {
        non_empty("custom_account_id", account)?;
    }
    let mut transfer_setups = Vec::with_capacity(req.transfer_setups.len());
    for (i, setup) in req.transfer_setups.iter().enumerate() {
        let field = format!("transfer_setups[{i}].");
        let amount_in_cents = cents(&field, &setup.amount)?;
        if let Some(cur) = currency.filter(|c| *c != setup.amount.currency) {
            return Err(Error::invalid(
                format!("{field}amount_in_cents"),
                format!("is in {}, but the checkout is in {cur}", setup.amount.currency),
            ));
        }
        if let Some(r) = &setup.recipient_id {
            non_empty(&format!("{field}recipient_id"), r)?;
        }
        transfer_setups.push(TransferSetupBody {
            amount_in_cents,
            recipient_id: setup.recipient_id.clone(),
        });
    }
    Ok(CheckoutBody {
        mode,
        items,
        success_url: req.success_url.as_ref().map(|u| u.to_string()),
        cancel_url: req.cancel_url.as_ref().map(|u| u.to_string()),
        user_id: req.user_id.clone(),
        customer_id: req.customer_id.clone(),
        metadata: req.metadata.clone(),
        expires_at: req.expires_at.as_ref().map(time),
        custom_account_id: req.custom_account_id.clone(),
        transfer_setups,
    })
}

/// The body of `PATCH /api/checkouts/{id}`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct UpdateCheckoutBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    success_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

/// Checks a checkout update.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn update_checkout(req: &UpdateCheckout) -> Result<UpdateCheckoutBody> {
    if let Some(m) = &req.metadata {
        check_metadata("metadata", m)?;
    }
    if req == &UpdateCheckout::default() {
        return Err(Error::invalid("checkout", "nothing to update"));
    }
    Ok(UpdateCheckoutBody {
        success_url: req.success_url.as_ref().map(|u| u.to_string()),
        cancel_url: req.cancel_url.as_ref().map(|u| u.to_string()),
        metadata: req.metadata.clone(),
        expires_at: req.expires_at.as_ref().map(time),
    })
}

/// Checks paging and returns the query pairs.
///
/// # Errors
/// [`Error::InvalidInput`] for a page or size of 0.
pub(crate) fn paging(p: &ListParams) -> Result<Vec<(&'static str, String)>> {
    let mut q = Vec::new();
    if let Some(page) = at_least_one("page", p.page)? {
        q.push(("page", page.to_string()));
    }
    if let Some(items) = at_least_one("items", p.items)? {
        q.push(("items", items.min(crate::client::MAX_PAGE_SIZE).to_string()));
    }
    Ok(q)
}

/// Checks checkout list filters and returns the query pairs.
///
/// # Errors
/// [`Error::InvalidInput`] naming the parameter.
pub(crate) fn list_checkouts(p: &ListCheckouts) -> Result<Vec<(&'static str, String)>> {
    if let (Some(from), Some(until)) = (p.from_time, p.until_time) {
        if from > until {
            return Err(Error::invalid("from_time", "is after until_time"));
        }
    }
    let mut q = Vec::new();
    if let Some(t) = &p.from_time {
        q.push(("from_time", time(t)));
    }
    if let Some(t) = &p.until_time {
        q.push(("until_time", time(t)));
    }
    if let Some(u) = &p.user_id {
        non_empty("user_id", u)?;
        q.push(("user_id", u.clone()));
    }
    q.extend(paging(&p.paging)?);
    Ok(q)
}

#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct PaymentIntentFields {
    tax_invoice_url: String,
}

/// The body of `PATCH /api/payment_intents/{id}`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct UpdatePaymentIntentBody {
    payment_intent: PaymentIntentFields,
}

pub(crate) fn update_payment_intent(req: &UpdatePaymentIntent) -> UpdatePaymentIntentBody {
    UpdatePaymentIntentBody {
        payment_intent: PaymentIntentFields {
            tax_invoice_url: req.tax_invoice_url.to_string(),
        },
    }
}

/// One entry of `prices_attributes`.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct PriceBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_in_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    #[serde(flatten)]
    recurrence: RecurrenceBody,
    #[serde(rename = "_destroy", skip_serializing_if = "Option::is_none")]
    destroy: Option<bool>,
}

fn new_price(field: &str, p: &NewPrice, dynamic_pricing: bool) -> Result<PriceBody> {
    let amount_in_cents = cents(field, &p.price)?;
    let recurrence = match &p.recurring {
        None => RecurrenceBody {
            charge_type: Some("one_time"),
            ..RecurrenceBody::default()
        },
        Some(_) if dynamic_pricing => {
            return Err(Error::invalid(
                "product.has_dynamic_pricing",
                "is available for one-time prices only",
            ));
        }
        Some(terms) => recurrence(field, terms)?,
    };
    Ok(PriceBody {
        id: None,
        amount_in_cents: Some(amount_in_cents),
        currency: Some(currency_code(p.price.currency)),
        recurrence,
        destroy: None,
    })
}

/// The fields inside `product`.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct ProductFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    prices_attributes: Vec<PriceBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_terms_and_conditions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_requirement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address_requirement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_info_requirement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adjustable_quantity: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inventory_quantity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_dynamic_pricing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_payment_method_settings: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_payments_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bank_transfer_payments_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_installments: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
}

/// The body of `POST /api/products` and `PATCH /api/products/{id}`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct ProductBody {
    product: ProductFields,
}

fn details(d: &ProductDetails, fields: &mut ProductFields) {
    if let Some(methods) = &d.payment_methods {
        fields.custom_payment_method_settings = Some(true);
        fields.card_payments_enabled = Some(methods.card_payments_enabled);
        fields.bank_transfer_payments_enabled = Some(methods.bank_transfer_payments_enabled);
        fields.available_installments = Some(methods.available_installments.clone());
    }
    fields.description = d.description.clone();
    fields.image_url = d.image_url.as_ref().map(|u| u.to_string());
    fields.success_url = d.success_url.as_ref().map(|u| u.to_string());
    fields.cancel_url = d.cancel_url.as_ref().map(|u| u.to_string());
    fields.custom_terms_and_conditions = d.custom_terms_and_conditions.clone();
    fields.phone_requirement = requirement(&d.phone_requirement);
    fields.address_requirement = requirement(&d.address_requirement);
    fields.billing_info_requirement = requirement(&d.billing_info_requirement);
    fields.adjustable_quantity = d.adjustable_quantity;
    fields.inventory_quantity = d.inventory_quantity;
    fields.has_dynamic_pricing = d.has_dynamic_pricing;
}

/// Checks a new product.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn create_product(req: &CreateProduct) -> Result<ProductBody> {
    non_empty("product.name", &req.name)?;
    if req.prices.is_empty() {
        return Err(Error::invalid(
            "product.prices_attributes",
            "at least one price is required",
        ));
    }
    let dynamic = req.details.has_dynamic_pricing == Some(true);
    let prices = req
        .prices
        .iter()
        .enumerate()
        .map(|(i, p)| new_price(&format!("product.prices_attributes[{i}]."), p, dynamic))
        .collect::<Result<Vec<_>>>()?;
    check_metadata("product.metadata", &req.metadata)?;
    let mut fields = ProductFields {
        name: Some(req.name.clone()),
        prices_attributes: prices,
        metadata: (!req.metadata.is_empty()).then(|| req.metadata.clone()),
        ..ProductFields::default()
    };
    details(&req.details, &mut fields);
    Ok(ProductBody { product: fields })
}

/// Checks a product update.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn update_product(req: &UpdateProduct) -> Result<ProductBody> {
    if let Some(name) = &req.name {
        non_empty("product.name", name)?;
    }
    let dynamic = req.details.has_dynamic_pricing == Some(true);
    let mut prices = Vec::with_capacity(req.prices.len());
    for (i, change) in req.prices.iter().enumerate() {
        let field = format!("product.prices_attributes[{i}].");
        let body = match change {
            PriceChange::Add(p) => new_price(&field, p, dynamic)?,
            PriceChange::Update(u) => {
                path_id(&format!("{field}id"), &u.id)?;
                let mut body = PriceBody {
                    id: Some(u.id.clone()),
                    ..PriceBody::default()
                };
                if let Some(price) = &u.price {
                    body.amount_in_cents = Some(cents(&field, price)?);
                    body.currency = Some(currency_code(price.currency));
                }
                if let Some(terms) = &u.recurring {
                    body.recurrence = recurrence(&field, terms)?;
                }
                if body.amount_in_cents.is_none() && u.recurring.is_none() {
                    return Err(Error::invalid(format!("{field}id"), "the price update changes nothing"));
                }
                body
            }
            PriceChange::Remove { id } => {
                path_id(&format!("{field}id"), id)?;
                PriceBody {
                    id: Some(id.clone()),
                    destroy: Some(true),
                    ..PriceBody::default()
                }
            }
        };
        prices.push(body);
    }
    if let Some(m) = &req.metadata {
        check_metadata("product.metadata", m)?;
    }
    let mut fields = ProductFields {
        name: req.name.clone(),
        prices_attributes: prices,
        metadata: req.metadata.clone(),
        ..ProductFields::default()
    };
    details(&req.details, &mut fields);
    if fields == ProductFields::default() {
        return Err(Error::invalid("product", "nothing to update"));
    }
    Ok(ProductBody { product: fields })
}

/// The fields inside `coupon`.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct CouponFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_off_in_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    percent_off: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
}

/// The body of `POST /api/coupons` and `PATCH /api/coupons/{id}`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct CouponBody {
    coupon: CouponFields,
}

fn discount(d: &CouponDiscount, fields: &mut CouponFields) -> Result<()> {
    match d {
        CouponDiscount::AmountOff(m) => {
            fields.amount_off_in_cents = Some(cents("coupon.", m).map_err(|e| match e {
                Error::InvalidInput { field, reason } => Error::InvalidInput {
                    field: field.replace("coupon.amount_in_cents", "coupon.amount_off_in_cents"),
                    reason,
                },
                other => other,
            })?);
            fields.currency = Some(currency_code(m.currency));
        }
        CouponDiscount::PercentOff(p) => fields.percent_off = Some(percent(*p)?),
    }
    Ok(())
}

/// A percentage in (0, 100], sent as a JSON number when whole and as exact text otherwise (JSON
/// numbers with decimals would pass through a float).
fn percent(p: Decimal) -> Result<Value> {
    if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED {
        return Err(Error::invalid(
            "coupon.percent_off",
            format!("must be in (0, 100], got {p}"),
        ));
    }
    let p = p.normalize();
    if p.fract().is_zero() {
        if let Some(n) = p.to_u64() {
            return Ok(Value::from(n));
        }
    }
    Ok(Value::String(p.to_string()))
}

/// Checks a new coupon.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn create_coupon(req: &CreateCoupon) -> Result<CouponBody> {
    non_empty("coupon.name", &req.name)?;
    let mut fields = CouponFields {
        name: Some(req.name.clone()),
        duration: req.duration.as_ref().map(|d| d.as_str().to_owned()),
        ..CouponFields::default()
    };
    discount(&req.discount, &mut fields)?;
    Ok(CouponBody { coupon: fields })
}

/// Checks a coupon update.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn update_coupon(req: &UpdateCoupon) -> Result<CouponBody> {
    if let Some(name) = &req.name {
        non_empty("coupon.name", name)?;
    }
    let mut fields = CouponFields {
        name: req.name.clone(),
        duration: req.duration.as_ref().map(|d| d.as_str().to_owned()),
        ..CouponFields::default()
    };
    if let Some(d) = &req.discount {
        discount(d, &mut fields)?;
    }
    if fields == CouponFields::default() {
        return Err(Error::invalid("coupon", "nothing to update"));
    }
    Ok(CouponBody { coupon: fields })
}

/// The body of `POST /api/users`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct UserBody {
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_name: Option<String>,
}

/// Checks a new user.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn create_user(req: &CreateUser) -> Result<UserBody> {
    let email = req.email.trim();
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace) => {}
        _ => return Err(Error::invalid("email", "is not an e-mail address")),
    }
    if let Some(name) = &req.full_name {
        non_empty("full_name", name)?;
    }
    Ok(UserBody {
        email: email.to_owned(),
        full_name: req.full_name.clone(),
    })
}

/// The body of `POST /api/customers`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct CustomerBody {
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nit: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: Metadata,
}

/// Checks a new customer (the e-mail address as for users; optional fields not blank).
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn create_customer(req: &CreateCustomer) -> Result<CustomerBody> {
    let user = create_user(&CreateUser::new(req.email.clone(), req.full_name.clone()))?;
    for (field, v) in [
        ("name", &req.name),
        ("phone", &req.phone),
        ("address", &req.address),
        ("nit", &req.nit),
    ] {
        if let Some(v) = v {
            non_empty(field, v)?;
        }
    }
    check_metadata("metadata", &req.metadata)?;
    Ok(CustomerBody {
        email: user.email,
        full_name: user.full_name,
        name: req.name.clone(),
        phone: req.phone.clone(),
        address: req.address.clone(),
        nit: req.nit.clone(),
        metadata: req.metadata.clone(),
    })
}

/// The body of `PUT /api/customers/{id}`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct UpdateCustomerBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nit: Option<String>,
    /// `null` values delete keys.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, Option<String>>,
}

/// Checks a customer update: something to change, no blank field, metadata within the limits.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn update_customer(req: &UpdateCustomer) -> Result<UpdateCustomerBody> {
    for (field, v) in [
        ("name", &req.name),
        ("phone", &req.phone),
        ("address", &req.address),
        ("nit", &req.nit),
    ] {
        if let Some(v) = v {
            non_empty(field, v)?;
        }
    }
    // Keys are checked as metadata (deleted ones with an empty value).
    let as_set: Metadata = req
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    check_metadata("metadata", &as_set)?;
    let body = UpdateCustomerBody {
        name: req.name.clone(),
        phone: req.phone.clone(),
        address: req.address.clone(),
        nit: req.nit.clone(),
        metadata: req.metadata.clone(),
    };
    if body.name.is_none()
        && body.phone.is_none()
        && body.address.is_none()
        && body.nit.is_none()
        && body.metadata.is_empty()
    {
        return Err(Error::invalid("customer", "nothing to update"));
    }
    Ok(body)
}

/// The body of `POST /api/transfers`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct TransferBody {
    currency: &'static str,
    amount_in_cents: i64,
    recipient_id: String,
}

/// Checks a transfer.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn create_transfer(req: &CreateTransfer) -> Result<TransferBody> {
    let amount_in_cents = cents("", &req.amount)?;
    non_empty("recipient_id", &req.recipient_id)?;
    Ok(TransferBody {
        currency: currency_code(req.amount.currency),
        amount_in_cents,
        recipient_id: req.recipient_id.clone(),
    })
}

/// The body of `POST /api/refunds`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct RefundBody {
    payment_intent_id: String,
}

/// Checks a refund.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty id.
pub(crate) fn create_refund(payment_intent_id: &str) -> Result<RefundBody> {
    path_id("payment_intent_id", payment_intent_id)?;
    Ok(RefundBody {
        payment_intent_id: payment_intent_id.to_owned(),
    })
}

/// The body of `PUT /api/subscriptions/{id}`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct UpdateSubscriptionBody {
    payment_method_id: String,
}

/// Checks a subscription update.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty payment method id.
pub(crate) fn update_subscription(req: &UpdateSubscription) -> Result<UpdateSubscriptionBody> {
    path_id("payment_method_id", &req.payment_method_id)?;
    Ok(UpdateSubscriptionBody {
        payment_method_id: req.payment_method_id.clone(),
    })
}

/// The body of `POST /api/webhook_endpoints`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct WebhookEndpointBody {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: Metadata,
}

/// Checks a webhook endpoint.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn create_webhook_endpoint(req: &CreateWebhookEndpoint) -> Result<WebhookEndpointBody> {
    if !matches!(req.url.scheme(), "http" | "https") {
        return Err(Error::invalid("url", "must be an http or https URL"));
    }
    check_metadata("metadata", &req.metadata)?;
    Ok(WebhookEndpointBody {
        url: req.url.to_string(),
        description: req.description.clone(),
        metadata: req.metadata.clone(),
    })
}

/// The body of `POST /api/one_time_payments`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct OneTimePaymentBody {
    payment_method_id: String,
    items: Vec<ItemBody>,
}

/// Checks a one-time payment.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub(crate) fn create_one_time_payment(req: &CreateOneTimePayment) -> Result<OneTimePaymentBody> {
    path_id("payment_method_id", &req.payment_method_id)?;
    let (items, _) = items(&req.items, ItemUse::OneTimePayment)?;
    Ok(OneTimePaymentBody {
        payment_method_id: req.payment_method_id.clone(),
        items,
    })
}

#[cfg(test)]
mod tests {
    use paycycle_core::{Interval, IntervalUnit};
    use serde_json::json;

    use super::*;
    use crate::wire::{CouponDuration, PaymentMethodSettings, PriceItem, TransferSetup};

    fn gtq(s: &str) -> Money {
        Money::parse(s, Currency::GTQ).unwrap()
    }

    fn field<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn banana() -> CustomItem {
        CustomItem::new("One Ripe Banana", gtq("30"))
    }

    #[test]
    fn items_are_checked_by_index() {
        let req = CreateCheckout::new([banana().into(), banana().quantity(10).into()]);
        assert_eq!(field(checkout(&req)), "items[1].quantity");
        let req = CreateCheckout::new([banana().quantity(0).into()]);
        assert_eq!(field(checkout(&req)), "items[0].quantity");
        assert!(checkout(&CreateCheckout::new([banana().quantity(9).into()])).is_ok());

        let eur = Money::parse("3", Currency::EUR).unwrap();
        assert_eq!(
            field(checkout(&CreateCheckout::new([CustomItem::new("x", eur).into()]))),
            "items[0].currency"
        );
        let half_cent = gtq("0.005");
        assert_eq!(
            field(checkout(&CreateCheckout::new([CustomItem::new("x", half_cent).into()]))),
            "items[0].amount_in_cents"
        );
        for zero_or_less in ["0", "-1"] {
            assert_eq!(
                field(checkout(&CreateCheckout::new([CustomItem::new(
                    "x",
                    gtq(zero_or_less)
                )
                .into()]))),
                "items[0].amount_in_cents"
            );
        }
        assert_eq!(field(checkout(&CreateCheckout::new([]))), "items");
        assert_eq!(
            field(checkout(&CreateCheckout::new([LineItem::product(" ")]))),
            "items[0].product_id"
        );
        // No name is fine (the reference's connected-account example has none); a blank one is not.
        assert!(checkout(&CreateCheckout::new([CustomItem::unnamed(gtq("5")).into()])).is_ok());
        assert_eq!(
            field(checkout(&CreateCheckout::new([CustomItem::new("  ", gtq("5")).into()]))),
            "items[0].name"
        );
        let usd = Money::parse("1", Currency::USD).unwrap();
        let mixed = CreateCheckout::new([
            banana().into(),
            LineItem::product("prod_1"),
            CustomItem::new("y", usd).into(),
        ]);
        assert_eq!(field(checkout(&mixed)), "items[2].currency");
    }

    #[test]
    fn metadata_limits() {
        let mut m = Metadata::new();
        for i in 0..50 {
            m.insert(format!("k{i}"), "v".into());
        }
        assert!(check_metadata("metadata", &m).is_ok());
        m.insert("one_too_many".into(), "v".into());
        assert_eq!(field(check_metadata("metadata", &m)), "metadata");

        let long_key = "ñ".repeat(41);
        let m = Metadata::from([(long_key, "v".to_owned())]);
        assert!(field(check_metadata("metadata", &m)).starts_with("metadata.ññ"));
        // Characters, not bytes: 40 two-byte characters are fine.
        let m = Metadata::from([("ñ".repeat(40), "é".repeat(500))]);
        assert!(check_metadata("metadata", &m).is_ok());
        let m = Metadata::from([("k".to_owned(), "x".repeat(501))]);
        assert_eq!(field(check_metadata("items[0].metadata", &m)), "items[0].metadata.k");
        let m = Metadata::from([(String::new(), "x".to_owned())]);
        assert_eq!(field(check_metadata("metadata", &m)), "metadata");

        let req = CreateCheckout::new([banana().metadata("k", "x".repeat(501)).into()]);
        assert_eq!(field(checkout(&req)), "items[0].metadata.k");
    }

    #[test]
    fn recurring_items_serialize_every_term() {
        let terms = RecurringTerms::new(Interval::monthly())
            .trial(Interval::new(IntervalUnit::Week, 2).unwrap())
            .end_after_periods(12);
        let req = CreateCheckout::new([CustomItem::new("Gold", gtq("50")).recurring(terms).into()])
            .expires_at("2050-05-15T13:45:30Z".parse().unwrap())
            .custom_account_id("ac_123456")
            .transfer_setup(TransferSetup::new(gtq("1"), None));
        let body = serde_json::to_value(checkout(&req).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "items": [{
                    "name": "Gold", "currency": "GTQ", "amount_in_cents": 5000, "charge_type": "recurring",
                    "billing_interval": "month", "billing_interval_count": 1,
                    "free_trial_interval": "week", "free_trial_interval_count": 2,
                    "periods_before_automatic_cancellation": 12
                }],
                "expires_at": "2050-05-15T13:45:30Z",
                "custom_account_id": "ac_123456",
                "transfer_setups": [{"amount_in_cents": 100}]
            })
        );
    }

    #[test]
    fn recurring_item_rules() {
        let terms = RecurringTerms::new(Interval::monthly());
        let zero_end = CustomItem::new("G", gtq("5")).recurring(terms.clone().end_after_periods(0));
        assert_eq!(
            field(checkout(&CreateCheckout::new([zero_end.into()]))),
            "items[0].periods_before_automatic_cancellation"
        );
        let not_for_checkouts = CustomItem::new("G", gtq("5")).recurring(terms.clone().cancellable_after_periods(3));
        assert_eq!(
            field(checkout(&CreateCheckout::new([not_for_checkouts.into()]))),
            "items[0].periods_before_allowed_to_cancel"
        );
        let dynamic = CustomItem::new("G", gtq("5"))
            .recurring(terms.clone())
            .dynamic_pricing(true);
        assert_eq!(
            field(checkout(&CreateCheckout::new([dynamic.into()]))),
            "items[0].has_dynamic_pricing"
        );
        let one_time = CreateOneTimePayment::new("pay_m_1", [CustomItem::unnamed(gtq("5")).recurring(terms).into()]);
        assert_eq!(field(create_one_time_payment(&one_time)), "items[0].charge_type");
    }

    #[test]
    fn transfer_setups_are_in_the_checkout_currency() {
        let usd = Money::parse("1", Currency::USD).unwrap();
        let req = CreateCheckout::new([banana().into()]).transfer_setup(TransferSetup::new(usd, Some("acme".into())));
        assert_eq!(field(checkout(&req)), "transfer_setups[0].amount_in_cents");
        let req = CreateCheckout::new([banana().into()]).transfer_setup(TransferSetup::new(gtq("0"), None));
        assert_eq!(field(checkout(&req)), "transfer_setups[0].amount_in_cents");
    }

    #[test]
    fn coupons_have_one_valid_discount() {
        let ok = create_coupon(&CreateCoupon::new("NEWCOUPON", CouponDiscount::AmountOff(gtq("15")))).unwrap();
        assert_eq!(
            serde_json::to_value(ok).unwrap(),
            json!({"coupon": {"name": "NEWCOUPON", "amount_off_in_cents": 1500, "currency": "GTQ"}})
        );
        let pct = |s: &str| CouponDiscount::PercentOff(s.parse().unwrap());
        let body = create_coupon(&CreateCoupon::new("P", pct("10.00")).duration(CouponDuration::Forever)).unwrap();
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            json!({"coupon": {"name": "P", "percent_off": 10, "duration": "forever"}})
        );
        let body = create_coupon(&CreateCoupon::new("P", pct("12.5"))).unwrap();
        assert_eq!(
            serde_json::to_value(body).unwrap()["coupon"]["percent_off"],
            json!("12.5")
        );
        assert!(create_coupon(&CreateCoupon::new("P", pct("100"))).is_ok());
        for bad in ["0", "-5", "100.01"] {
            assert_eq!(
                field(create_coupon(&CreateCoupon::new("P", pct(bad)))),
                "coupon.percent_off",
                "{bad}"
            );
        }
        let eur = Money::parse("1", Currency::EUR).unwrap();
        assert_eq!(
            field(create_coupon(&CreateCoupon::new("P", CouponDiscount::AmountOff(eur)))),
            "coupon.currency"
        );
        assert_eq!(
            field(create_coupon(&CreateCoupon::new(
                "P",
                CouponDiscount::AmountOff(gtq("0"))
            ))),
            "coupon.amount_off_in_cents"
        );
        assert_eq!(field(create_coupon(&CreateCoupon::new(" ", pct("5")))), "coupon.name");
        assert_eq!(field(update_coupon(&UpdateCoupon::new())), "coupon");
    }

    #[test]
    fn product_updates_change_and_destroy_prices() {
        let req = UpdateProduct::new()
            .name("El nuevo nombre del producto")
            .price(PriceChange::set_amount("price_mirvwr9y", gtq("15")))
            .price(PriceChange::remove("price_old"));
        assert_eq!(
            serde_json::to_value(update_product(&req).unwrap()).unwrap(),
            json!({"product": {
                "name": "El nuevo nombre del producto",
                "prices_attributes": [
                    {"id": "price_mirvwr9y", "amount_in_cents": 1500, "currency": "GTQ"},
                    {"id": "price_old", "_destroy": true}
                ]
            }})
        );
        assert_eq!(field(update_product(&UpdateProduct::new())), "product");
        assert_eq!(
            field(update_product(&UpdateProduct::new().price(PriceChange::remove("")))),
            "product.prices_attributes[0].id"
        );
    }

    #[test]
    fn product_payment_methods_and_prices() {
        let details = ProductDetails {
            payment_methods: Some(PaymentMethodSettings::new(true, true).installments([3, 6, 12, 18])),
            ..ProductDetails::default()
        };
        let req = CreateProduct::new("El nombre del producto", NewPrice::one_time(gtq("100"))).details(details);
        assert_eq!(
            serde_json::to_value(create_product(&req).unwrap()).unwrap(),
            json!({"product": {
                "name": "El nombre del producto",
                "custom_payment_method_settings": true,
                "card_payments_enabled": true,
                "bank_transfer_payments_enabled": true,
                "available_installments": [3, 6, 12, 18],
                "prices_attributes": [{"amount_in_cents": 10000, "charge_type": "one_time", "currency": "GTQ"}]
            }})
        );
        let dynamic = ProductDetails {
            has_dynamic_pricing: Some(true),
            ..ProductDetails::default()
        };
        let req = CreateProduct::new(
            "X",
            NewPrice::recurring(gtq("1"), RecurringTerms::new(Interval::monthly())),
        )
        .details(dynamic);
        assert_eq!(field(create_product(&req)), "product.has_dynamic_pricing");
        let mut req = CreateProduct::new("X", NewPrice::one_time(gtq("1")));
        req.prices.clear();
        assert_eq!(field(create_product(&req)), "product.prices_attributes");
    }

    #[test]
    fn small_bodies() {
        assert_eq!(field(create_user(&CreateUser::new("not-an-email", None))), "email");
        assert_eq!(field(create_user(&CreateUser::new("a b@c.d", None))), "email");
        assert!(create_user(&CreateUser::new(" me@example.com ", None)).is_ok());
        assert_eq!(
            field(create_transfer(&CreateTransfer::new(gtq("1"), ""))),
            "recipient_id"
        );
        assert_eq!(
            field(create_transfer(&CreateTransfer::new(gtq("0.001"), "x"))),
            "amount_in_cents"
        );
        assert_eq!(field(create_refund("")), "payment_intent_id");
        assert_eq!(field(paging(&ListParams::new().page(0))), "page");
        assert_eq!(field(paging(&ListParams::new().items(0))), "items");
        let backwards = ListCheckouts::new()
            .from_time("2050-01-02T00:00:00Z".parse().unwrap())
            .until_time("2050-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(field(list_checkouts(&backwards)), "from_time");
        assert_eq!(field(update_checkout(&UpdateCheckout::new())), "checkout");
        assert_eq!(field(path_id("id", "ch_1 ")), "id");
        assert_eq!(field(path_id("id", "..")), "id");
        assert!(
            path_id("id", "ch_1/2").is_ok(),
            "a slash is percent-encoded in the path, not refused"
        );
        assert_eq!(
            field(create_one_time_payment(&CreateOneTimePayment::new("pay_m_1", []))),
            "items"
        );
    }
    fn usd(s: &str) -> Money {
        Money::parse(s, Currency::USD).unwrap()
    }

    fn body(req: &CreateCheckout) -> Value {
        serde_json::to_value(checkout(req).unwrap()).unwrap()
    }

    fn reason<T: std::fmt::Debug>(r: Result<T>) -> (String, String) {
        match r {
            Err(Error::InvalidInput { field, reason }) => (field, reason),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn catalogue_prices_send_their_price_id() {
        let req = CreateCheckout::new([
            LineItem::price("price_mirvwr9y"),
            LineItem::price_times("price_2", 3),
            LineItem::product("prod_1"),
        ]);
        assert_eq!(
            body(&req),
            json!({"items": [
                {"price_id": "price_mirvwr9y"},
                {"price_id": "price_2", "quantity": 3},
                {"product_id": "prod_1"}
            ]})
        );
        let from_struct: LineItem = PriceItem {
            price_id: "price_3".into(),
            quantity: None,
        }
        .into();
        assert_eq!(from_struct, LineItem::price("price_3"));
        for bad in ["", " ", " price_1", "price_1\n"] {
            assert_eq!(
                field(checkout(&CreateCheckout::new([LineItem::price(bad)]))),
                "items[0].price_id",
                "{bad:?}"
            );
        }
        assert_eq!(
            field(checkout(&CreateCheckout::new([
                banana().into(),
                LineItem::price_times("price_1", 10)
            ]))),
            "items[1].quantity"
        );
        assert_eq!(
            field(checkout(&CreateCheckout::new([LineItem::price_times("price_1", 0)]))),
            "items[0].quantity"
        );
        // One-time payments take catalogue prices too.
        let otp = create_one_time_payment(&CreateOneTimePayment::new("pay_m_1", [LineItem::price("price_1")])).unwrap();
        assert_eq!(
            serde_json::to_value(otp).unwrap(),
            json!({"payment_method_id": "pay_m_1", "items": [{"price_id": "price_1"}]})
        );
    }

    #[test]
    fn day_intervals_and_trials_are_sent_in_days() {
        let terms = RecurringTerms::new(Interval::days(30).unwrap()).trial(Interval::days(14).unwrap());
        let req = CreateCheckout::new([CustomItem::new("Plan", gtq("99")).recurring(terms).into()]);
        assert_eq!(
            body(&req),
            json!({"items": [{
                "name": "Plan", "currency": "GTQ", "amount_in_cents": 9900, "charge_type": "recurring",
                "billing_interval": "day", "billing_interval_count": 30,
                "free_trial_interval": "day", "free_trial_interval_count": 14
            }]})
        );
        // Product prices too.
        let product = CreateProduct::new(
            "P",
            NewPrice::recurring(gtq("10"), RecurringTerms::new(Interval::daily())),
        );
        assert_eq!(
            serde_json::to_value(create_product(&product).unwrap()).unwrap()["product"]["prices_attributes"][0]["billing_interval"],
            "day"
        );
    }

    #[test]
    fn a_sign_up_fee_and_several_subscriptions_in_one_checkout() {
        // The official plugin's shape: the plan, then a one-time "Cuota de inscripción".
        let plan = CustomItem::new("Plan", gtq("99"))
            .quantity(1)
            .recurring(RecurringTerms::new(Interval::monthly()).trial(Interval::days(14).unwrap()));
        let fee = CustomItem::new("Cuota de inscripción", gtq("50")).quantity(1);
        assert_eq!(
            body(&CreateCheckout::new([plan.clone().into(), fee.clone().into()])),
            json!({"items": [
                {"name": "Plan", "amount_in_cents": 9900, "currency": "GTQ", "quantity": 1, "charge_type": "recurring",
                 "billing_interval": "month", "billing_interval_count": 1,
                 "free_trial_interval": "day", "free_trial_interval_count": 14},
                {"name": "Cuota de inscripción", "amount_in_cents": 5000, "currency": "GTQ", "quantity": 1}
            ]})
        );
        // Several subscriptions, each with its fee; and a catalogue price beside them.
        let other = CustomItem::new("Extra", gtq("20")).recurring(RecurringTerms::new(Interval::weekly()));
        let req = CreateCheckout::new([plan.into(), fee.clone().into(), other.into(), fee.into()])
            .item(LineItem::price("price_1"));
        let b = body(&req);
        let kinds: Vec<_> = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["charge_type"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(kinds, ["recurring", "-", "recurring", "-", "-"]);
    }

    #[test]
    fn payment_method_types_are_sent_per_item() {
        let item = banana().payment_method_types([
            AllowedPaymentMethod::Card,
            AllowedPaymentMethod::BankTransfer,
            AllowedPaymentMethod::Balance,
            AllowedPaymentMethod::Stablecoins,
        ]);
        let plan = CustomItem::new("Plan", gtq("50"))
            .recurring(RecurringTerms::new(Interval::monthly()))
            .payment_method_types([AllowedPaymentMethod::Card]);
        assert_eq!(
            body(&CreateCheckout::new([item.into(), plan.into(), banana().into()])),
            json!({"items": [
                {"name": "One Ripe Banana", "currency": "GTQ", "amount_in_cents": 3000,
                 "payment_method_types": ["card", "bank_transfer", "balance", "stablecoins"]},
                {"name": "Plan", "currency": "GTQ", "amount_in_cents": 5000, "charge_type": "recurring",
                 "billing_interval": "month", "billing_interval_count": 1, "payment_method_types": ["card"]},
                {"name": "One Ripe Banana", "currency": "GTQ", "amount_in_cents": 3000}
            ]})
        );
        // A method this crate does not know passes through; a blank one is refused.
        let newer = banana().payment_method_types([AllowedPaymentMethod::from("cash")]);
        assert_eq!(
            body(&CreateCheckout::new([newer.into()]))["items"][0]["payment_method_types"],
            json!(["cash"])
        );
        for bad in ["", " card"] {
            let item = banana().payment_method_types([AllowedPaymentMethod::Card, AllowedPaymentMethod::from(bad)]);
            assert_eq!(
                field(checkout(&CreateCheckout::new([banana().into(), item.into()]))),
                "items[1].payment_method_types[1]",
                "{bad:?}"
            );
        }
        assert_eq!(
            AllowedPaymentMethod::from("bank_transfer"),
            AllowedPaymentMethod::BankTransfer
        );
    }

    #[test]
    fn installments_are_one_time_gtq_card_and_3_6_12_18() {
        let tv = || CustomItem::new("TV", gtq("3000"));
        assert_eq!(
            body(&CreateCheckout::new([tv().installments([3, 6, 12, 18]).into()])),
            json!({"items": [{"name": "TV", "currency": "GTQ", "amount_in_cents": 300000,
                              "available_installments": [3, 6, 12, 18]}]})
        );
        // With cards among the methods, fine.
        let card_and_transfer = tv()
            .installments([3])
            .payment_method_types([AllowedPaymentMethod::BankTransfer, AllowedPaymentMethod::Card]);
        assert!(checkout(&CreateCheckout::new([card_and_transfer.into()])).is_ok());

        let f = "items[1].available_installments";
        for months in [vec![1], vec![3, 4], vec![0], vec![24], vec![6, 36]] {
            let (got, why) = reason(checkout(&CreateCheckout::new([
                banana().into(),
                tv().installments(months.clone()).into(),
            ])));
            assert_eq!(got, f, "{months:?}");
            assert!(why.contains("3, 6, 12 and 18"), "{why}");
        }
        let (got, why) = reason(checkout(&CreateCheckout::new([
            banana().into(),
            tv().recurring(RecurringTerms::new(Interval::monthly()))
                .installments([3])
                .into(),
        ])));
        assert_eq!(got, f);
        assert!(why.contains("one-time"), "{why}");
        let (got, why) = reason(checkout(&CreateCheckout::new([
            CustomItem::new("A", usd("10")).into(),
            CustomItem::new("TV", usd("300")).installments([3]).into(),
        ])));
        assert_eq!(got, f);
        assert!(why.contains("GTQ"), "{why}");
        let no_cards = tv()
            .installments([6])
            .payment_method_types([AllowedPaymentMethod::BankTransfer]);
        assert_eq!(
            field(checkout(&CreateCheckout::new([banana().into(), no_cards.into()]))),
            f
        );
    }

    #[test]
    fn checkout_items_have_minimum_amounts() {
        // 5.00 GTQ and 1.00 USD are the smallest unit prices.
        assert!(checkout(&CreateCheckout::new([CustomItem::new("x", gtq("5.00")).into()])).is_ok());
        assert!(checkout(&CreateCheckout::new([CustomItem::new("x", usd("1.00")).into()])).is_ok());
        let (f, why) = reason(checkout(&CreateCheckout::new([
            CustomItem::new("x", gtq("4.99")).into()
        ])));
        assert_eq!(f, "items[0].amount_in_cents");
        assert!(why.contains("5.00 GTQ"), "{why}");
        let (f, why) = reason(checkout(&CreateCheckout::new([
            CustomItem::new("x", usd("1")).into(),
            CustomItem::new("y", usd("0.99")).into(),
        ])));
        assert_eq!(f, "items[1].amount_in_cents");
        assert!(why.contains("1.00 USD"), "{why}");
        // The minimum is per unit, whatever the quantity; recurring items too.
        assert_eq!(
            field(checkout(&CreateCheckout::new([CustomItem::new("x", gtq("2.50"))
                .quantity(2)
                .into()]))),
            "items[0].amount_in_cents"
        );
        let cheap_plan = CustomItem::new("x", gtq("4")).recurring(RecurringTerms::new(Interval::monthly()));
        assert_eq!(
            field(checkout(&CreateCheckout::new([cheap_plan.into()]))),
            "items[0].amount_in_cents"
        );
        // 0 only in a setup checkout.
        let zero = || CustomItem::unnamed(gtq("0"));
        assert_eq!(
            field(checkout(&CreateCheckout::new([zero().into()]))),
            "items[0].amount_in_cents"
        );
        // Not for one-time payments (a saved card charged) or transfer setups.
        assert!(
            create_one_time_payment(&CreateOneTimePayment::new(
                "pay_m_1",
                [CustomItem::unnamed(gtq("1")).into()]
            ))
            .is_ok()
        );
        let req = CreateCheckout::new([banana().into()]).transfer_setup(TransferSetup::new(gtq("1"), None));
        assert!(checkout(&req).is_ok());
        assert_eq!(checkout_item_minimum(Currency::GTQ), Some(gtq("5")));
        assert_eq!(checkout_item_minimum(Currency::USD), Some(usd("1")));
        assert_eq!(checkout_item_minimum(Currency::EUR), None);
    }

    #[test]
    fn setup_checkouts_save_a_card_for_nothing() {
        assert_eq!(
            body(&CreateCheckout::setup()),
            json!({"mode": "setup", "items": [{"currency": "GTQ", "amount_in_cents": 0}]})
        );
        // In USD, or with a name and a return URL.
        let usd_setup = CreateCheckout::new([CustomItem::new("Tarjeta", usd("0")).into()])
            .mode(CheckoutMode::Setup)
            .success_url("https://shop.example/card-saved".parse().unwrap());
        assert_eq!(
            body(&usd_setup),
            json!({"mode": "setup", "items": [{"name": "Tarjeta", "currency": "USD", "amount_in_cents": 0}],
                   "success_url": "https://shop.example/card-saved"})
        );
        // Still no negative amounts, no zero recurring item, and non-zero amounts keep the minimum.
        let (f, why) = reason(checkout(
            &CreateCheckout::new([CustomItem::unnamed(gtq("-1")).into()]).mode(CheckoutMode::Setup),
        ));
        assert_eq!(f, "items[0].amount_in_cents");
        assert!(why.contains("setup"), "{why}");
        let zero_plan = CustomItem::unnamed(gtq("0")).recurring(RecurringTerms::new(Interval::monthly()));
        assert_eq!(
            field(checkout(
                &CreateCheckout::new([zero_plan.into()]).mode(CheckoutMode::Setup)
            )),
            "items[0].amount_in_cents"
        );
        assert_eq!(
            field(checkout(
                &CreateCheckout::new([CustomItem::unnamed(gtq("1")).into()]).mode(CheckoutMode::Setup)
            )),
            "items[0].amount_in_cents"
        );
        let eur = Money::parse("0", Currency::EUR).unwrap();
        assert_eq!(
            field(checkout(
                &CreateCheckout::new([CustomItem::unnamed(eur).into()]).mode(CheckoutMode::Setup)
            )),
            "items[0].currency"
        );
        // A mode this crate does not know passes through; a blank one is refused.
        let other = CreateCheckout::new([banana().into()]).mode(CheckoutMode::from("payment"));
        assert_eq!(body(&other)["mode"], "payment");
        assert_eq!(
            field(checkout(
                &CreateCheckout::new([banana().into()]).mode(CheckoutMode::from(" "))
            )),
            "mode"
        );
        // Without a mode, nothing is sent.
        assert!(body(&CreateCheckout::new([banana().into()])).get("mode").is_none());
    }
}
