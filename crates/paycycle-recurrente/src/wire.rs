//! Recurrente's requests and responses, as its API reference documents them.
//!
//! **Requests** are typed: amounts are [`Money`] (sent as `amount_in_cents` + `currency`, exactly,
//! or refused), URLs are [`Url`], times are [`DateTime<Utc>`], intervals are core [`Interval`]s.
//! Each is checked against the documented limits before anything is sent (see the client's
//! methods for the errors).
//!
//! **Responses** are tolerant: every field is optional or defaulted, unknown fields are ignored,
//! and an enum value this crate does not know is kept as `Unknown(raw)`. The documented quirks are
//! absorbed here: `total_in_cents` arrives as a string (`"500"`) in checkouts and as a number
//! elsewhere; one-time prices carry `billing_interval: ""` and counts of `0`;
//! `periods_before_automatic_cancellation` may be `""` or `null`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use paycycle_core::{Currency, Interval, IntervalUnit, Money};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// Metadata sent with a request: up to 50 keys of at most 40 characters, values of at most
/// 500 characters.
pub type Metadata = BTreeMap<String, String>;

/// Metadata as returned: any JSON values (the reference shows numbers too).
pub type MetadataMap = serde_json::Map<String, serde_json::Value>;

/// Tolerant deserializers for the provider's loosely typed fields.
pub(crate) mod de {
    use std::fmt;
    use std::str::FromStr;

    use chrono::{DateTime, Utc};
    use paycycle_core::Currency;
    use rust_decimal::Decimal;
    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};

    /// An integer sent as a number, a numeric string, `""` or `null`. A fraction is an error
    /// (a cent amount that is not whole must never be rounded silently).
    pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer, a string holding one, an empty string or null")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(Some)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Only whole values are accepted; the text form is exact for those.
                let text = v.to_string();
                text.parse::<i64>()
                    .map(Some)
                    .map_err(|_| E::custom(format!("{text} is not a whole number")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                t.parse::<i64>()
                    .map(Some)
                    .map_err(|_| E::custom(format!("{v:?} is not a whole number")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(V)
    }

    /// A count: as [`opt_i64`], and within `u32`.
    pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match opt_i64(d)? {
            None => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("{v} is not a count"))),
        }
    }

    /// A decimal sent as a number or a string (`percent_off`). Numbers are read through their
    /// shortest text form, which is the JSON text for any value a provider writes.
    pub(crate) fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Option<Decimal>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number or a string holding one")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(Decimal::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(Decimal::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                Decimal::from_str_exact(t)
                    .or_else(|_| Decimal::from_scientific(t))
                    .map(Some)
                    .map_err(|_| E::custom(format!("{v:?} is not a decimal number")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(V)
    }

    /// A boolean sent as `true`/`false` or `"true"`/`"false"`.
    pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Option<bool>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v.trim() {
                    "true" => Ok(Some(true)),
                    "false" => Ok(Some(false)),
                    "" => Ok(None),
                    _ => Err(E::custom(format!("{v:?} is not a boolean"))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(V)
    }

    /// Text, also when the provider sends a number or a boolean (tax ids, phone numbers).
    pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Option<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(V)
    }

    /// An identifier: as [`opt_string`], empty when absent or null.
    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(opt_string(d)?.unwrap_or_default())
    }

    /// An ISO 8601 time. `""`, `null` and text that is not a time give `None` (the raw JSON
    /// keeps what was sent); times with an offset are converted to UTC.
    pub(crate) fn opt_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(opt_string(d)?.and_then(|s| parse_datetime(&s)))
    }

    pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
        let t = s.trim();
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| d.with_timezone(&Utc))
            .or_else(|| DateTime::<Utc>::from_str(t).ok())
    }

    /// A currency code; `""`/`null` give `None`, and a malformed code is an error.
    pub(crate) fn opt_currency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Currency>, D::Error> {
        match opt_string(d)? {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => Currency::from_wire(&s).map(Some).map_err(de::Error::custom),
        }
    }

    /// An enum with an `Unknown(raw)` variant; `""` and `null` give `None`.
    pub(crate) fn opt_enum<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: for<'a> From<&'a str>,
    {
        Ok(opt_string(d)?.filter(|s| !s.is_empty()).map(|s| T::from(s.as_str())))
    }

    /// A list of enum values; `null` gives `None`, and an entry that is not text is kept as
    /// `Unknown` with its JSON text (a response never fails on it).
    pub(crate) fn opt_enum_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: for<'a> From<&'a str>,
    {
        let Some(list) = Option::<Vec<serde_json::Value>>::deserialize(d)? else {
            return Ok(None);
        };
        Ok(Some(
            list.iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => T::from(s.as_str()),
                    other => T::from(other.to_string().as_str()),
                })
                .collect(),
        ))
    }

    /// A JSON object; `null` gives an empty map.
    pub(crate) fn map<'de, D: Deserializer<'de>>(d: D) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
        Ok(Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default())
    }

    /// A list; `null` gives an empty list.
    pub(crate) fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        ///
        /// A value this crate does not know is kept as `Unknown(raw)`, never an error.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this crate does not know, as the provider spelled it.
            Unknown(String),
        }

        impl $name {
            /// The value as the provider spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Unknown(raw) => raw,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Ok(Self::from(raw.as_str()))
            }
        }
    };
}

wire_enum!(
    /// A checkout's `status`.
    CheckoutStatus {
        /// Not paid yet.
        Unpaid = "unpaid",
        /// A bank transfer was started and has not arrived.
        PaymentInProgress = "payment_in_progress",
        /// Paid.
        Paid = "paid",
        /// Past its `expires_at` (not in the reference's examples; accepted by name).
        Expired = "expired",
    }
);

wire_enum!(
    /// A subscription's `status`.
    SubscriptionState {
        /// Running, payments up to date.
        Active = "active",
        /// Paused by the merchant or the payer; not billed until active again.
        Paused = "paused",
        /// A renewal failed; retried 3 and 5 days later, then cancelled.
        PastDue = "past_due",
        /// Cancelled; no more charges.
        Cancelled = "cancelled",
        /// The first payment failed; the subscription never started.
        UnableToStart = "unable_to_start",
    }
);

wire_enum!(
    /// A price's `charge_type`.
    ChargeType {
        /// Charged once.
        OneTime = "one_time",
        /// A subscription.
        Recurring = "recurring",
    }
);

wire_enum!(
    /// `billing_interval` and `free_trial_interval` (one-time prices send `""`, read as absent).
    /// The reference lists week, month and year; Recurrente's official plugin sends `day` too
    /// (its trials are always in days, and it passes a daily billing period through).
    BillingInterval {
        /// Days.
        Day = "day",
        /// Weeks.
        Week = "week",
        /// Months.
        Month = "month",
        /// Years.
        Year = "year",
    }
);

wire_enum!(
    /// Whether the checkout asks for a phone number, an address or billing details (NIT/passport).
    Requirement {
        /// Asked and required.
        Required = "required",
        /// Asked, optional.
        Optional = "optional",
        /// Not asked.
        None = "none",
    }
);

wire_enum!(
    /// The `status` of a product or a coupon, and of a deleted object.
    RecordStatus {
        /// Usable.
        Active = "active",
        /// Deleted.
        Deleted = "deleted",
    }
);

wire_enum!(
    /// For a subscription, whether a coupon applies to the first payment only or to all of them.
    CouponDuration {
        /// The first payment only.
        Once = "once",
        /// Every payment.
        Forever = "forever",
    }
);

wire_enum!(
    /// What a payment paid for (`payment.paymentable.type`).
    PaymentableType {
        /// A subscription (`su_…`).
        Subscription = "Subscription",
        /// A one-time payment (`on_…`).
        OneTimePayment = "OneTimePayment",
    }
);

wire_enum!(
    /// A payment method's `type`.
    PaymentMethodType {
        /// A credit or debit card.
        Card = "card",
        /// A bank transfer.
        BankTransferReceiver = "bank_transfer_receiver",
    }
);

wire_enum!(
    /// A payment method a checkout item accepts (`payment_method_types`, per item, as the
    /// official plugin sends it). Without the list, the account's defaults apply.
    AllowedPaymentMethod {
        /// Credit or debit cards (installments are paid by card).
        Card = "card",
        /// Bank transfers.
        BankTransfer = "bank_transfer",
        /// The payer's Recurrente balance.
        Balance = "balance",
        /// Stablecoins.
        Stablecoins = "stablecoins",
    }
);

wire_enum!(
    /// A checkout's `mode`.
    CheckoutMode {
        /// Saves (tokenizes) the payer's card without charging it: the card-update flow, whose
        /// saved `pay_m_…` is then put on a subscription.
        Setup = "setup",
    }
);

wire_enum!(
    /// A transfer's `status`.
    TransferStatus {
        /// Done.
        Completed = "completed",
    }
);

wire_enum!(
    /// A refund's `status`.
    RefundStatus {
        /// Refunded.
        Succeeded = "succeeded",
    }
);

wire_enum!(
    /// A one-time payment's `status`.
    OneTimePaymentStatus {
        /// Charged.
        Paid = "paid",
    }
);

impl BillingInterval {
    /// The core unit.
    pub fn unit(&self) -> Option<IntervalUnit> {
        match self {
            BillingInterval::Day => Some(IntervalUnit::Day),
            BillingInterval::Week => Some(IntervalUnit::Week),
            BillingInterval::Month => Some(IntervalUnit::Month),
            BillingInterval::Year => Some(IntervalUnit::Year),
            BillingInterval::Unknown(_) => None,
        }
    }

    /// The wire value of a core unit.
    pub fn from_unit(unit: IntervalUnit) -> BillingInterval {
        match unit {
            IntervalUnit::Day => BillingInterval::Day,
            IntervalUnit::Week => BillingInterval::Week,
            IntervalUnit::Month => BillingInterval::Month,
            IntervalUnit::Year => BillingInterval::Year,
            // IntervalUnit is non-exhaustive; a unit added later is refused by validation.
            other => BillingInterval::Unknown(format!("{other:?}").to_lowercase()),
        }
    }
}

fn money(cents: Option<i64>, currency: Option<Currency>) -> Option<Money> {
    Money::from_minor_units(cents?, currency?).ok()
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// The recurrence of an item or a price: every `interval`, with an optional free trial and end.
/// Intervals and trials may be counted in days, weeks, months or years (`Interval::days(14)` is
/// sent as `"day"` × 14, as the official plugin sends its trials).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecurringTerms {
    /// Billed every `interval` (`billing_interval` + `billing_interval_count`).
    pub interval: Interval,
    /// A free trial first (`free_trial_interval` + `free_trial_interval_count`).
    pub trial: Option<Interval>,
    /// Cancelled automatically after this many periods (`periods_before_automatic_cancellation`).
    pub periods_before_automatic_cancellation: Option<u32>,
    /// The payer may cancel only after this many periods (`periods_before_allowed_to_cancel`;
    /// documented for product prices only).
    pub periods_before_allowed_to_cancel: Option<u32>,
}

impl RecurringTerms {
    /// Billed every `interval`, indefinitely, no trial.
    pub fn new(interval: Interval) -> Self {
        RecurringTerms {
            interval,
            trial: None,
            periods_before_automatic_cancellation: None,
            periods_before_allowed_to_cancel: None,
        }
    }

    /// A free trial before the first charge.
    #[must_use]
    pub fn trial(mut self, trial: Interval) -> Self {
        self.trial = Some(trial);
        self
    }

    /// Cancel automatically after `periods` periods (at least 1).
    #[must_use]
    pub fn end_after_periods(mut self, periods: u32) -> Self {
        self.periods_before_automatic_cancellation = Some(periods);
        self
    }

    /// Let the payer cancel only after `periods` periods (at least 1; product prices only).
    #[must_use]
    pub fn cancellable_after_periods(mut self, periods: u32) -> Self {
        self.periods_before_allowed_to_cancel = Some(periods);
        self
    }
}

/// An item described in the request (name, price, optional recurrence).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CustomItem {
    /// Shown to the payer. Optional (the reference's connected-account example has none); when
    /// given, not blank.
    pub name: Option<String>,
    /// The unit price (`amount_in_cents` + `currency`): GTQ or USD, whole cents, positive.
    pub price: Money,
    /// 1 to 9 (default 1).
    pub quantity: Option<u32>,
    /// A description.
    pub description: Option<String>,
    /// A picture of the product.
    pub image_url: Option<Url>,
    /// The price becomes the net amount the merchant receives; one-time items only.
    pub has_dynamic_pricing: Option<bool>,
    /// Terms shown to the payer.
    pub custom_terms_and_conditions: Option<String>,
    /// Set for a subscription (`charge_type: recurring`); one-time otherwise.
    pub recurring: Option<RecurringTerms>,
    /// The payment methods the payer may use (`payment_method_types`); empty: the account's
    /// defaults (nothing is sent).
    pub payment_method_types: Vec<AllowedPaymentMethod>,
    /// Monthly installments the payer may choose (`available_installments`): among 3, 6, 12
    /// and 18, one-time items in GTQ only, paid by card. Empty: the account's defaults
    /// (nothing is sent).
    pub available_installments: Vec<u32>,
    /// Your data on the item.
    pub metadata: Metadata,
}

impl CustomItem {
    /// An item with a name and a unit price.
    pub fn new(name: impl Into<String>, price: Money) -> Self {
        CustomItem {
            name: Some(name.into()),
            ..CustomItem::unnamed(price)
        }
    }

    /// An item with only a price (one-time payments do not need a name).
    pub fn unnamed(price: Money) -> Self {
        CustomItem {
            name: None,
            price,
            quantity: None,
            description: None,
            image_url: None,
            has_dynamic_pricing: None,
            custom_terms_and_conditions: None,
            recurring: None,
            payment_method_types: Vec::new(),
            available_installments: Vec::new(),
            metadata: Metadata::new(),
        }
    }

    /// Sets the quantity (1 to 9).
    #[must_use]
    pub fn quantity(mut self, quantity: u32) -> Self {
        self.quantity = Some(quantity);
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the picture.
    #[must_use]
    pub fn image_url(mut self, url: Url) -> Self {
        self.image_url = Some(url);
        self
    }

    /// Turns dynamic pricing on or off (one-time items only).
    #[must_use]
    pub fn dynamic_pricing(mut self, on: bool) -> Self {
        self.has_dynamic_pricing = Some(on);
        self
    }

    /// Sets the terms and conditions.
    #[must_use]
    pub fn terms(mut self, terms: impl Into<String>) -> Self {
        self.custom_terms_and_conditions = Some(terms.into());
        self
    }

    /// Makes it a subscription.
    #[must_use]
    pub fn recurring(mut self, terms: RecurringTerms) -> Self {
        self.recurring = Some(terms);
        self
    }

    /// Accepts only these payment methods for this item (`payment_method_types`).
    #[must_use]
    pub fn payment_method_types(mut self, methods: impl IntoIterator<Item = AllowedPaymentMethod>) -> Self {
        self.payment_method_types = methods.into_iter().collect();
        self
    }

    /// Offers paying in these monthly installments (`available_installments`): among 3, 6, 12
    /// and 18; one-time items in GTQ only.
    #[must_use]
    pub fn installments(mut self, months: impl IntoIterator<Item = u32>) -> Self {
        self.available_installments = months.into_iter().collect();
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// An item given by a catalogue price (`price_id`, `price_…`): the way Recurrente's guides
/// and help articles check out a product's price.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriceItem {
    /// The price (`price_…`).
    pub price_id: String,
    /// 1 to 9 (default 1).
    pub quantity: Option<u32>,
}

/// An item given by the id of a product created before (`product_id`). Prefer [`PriceItem`]:
/// a product with several prices is ambiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProductItem {
    /// The product (`prod_…`).
    pub product_id: String,
    /// 1 to 9 (default 1).
    pub quantity: Option<u32>,
}

/// One item of a checkout or a one-time payment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LineItem {
    /// Described in the request.
    Custom(Box<CustomItem>),
    /// An existing product.
    Product(ProductItem),
    /// A price of an existing product (preferred over [`LineItem::Product`]).
    Price(PriceItem),
}

impl LineItem {
    /// A catalogue price (`price_…`), quantity 1: `{"price_id": …}`.
    pub fn price(price_id: impl Into<String>) -> Self {
        LineItem::Price(PriceItem {
            price_id: price_id.into(),
            quantity: None,
        })
    }

    /// A catalogue price, `quantity` times (1 to 9).
    pub fn price_times(price_id: impl Into<String>, quantity: u32) -> Self {
        LineItem::Price(PriceItem {
            price_id: price_id.into(),
            quantity: Some(quantity),
        })
    }

    /// An existing product, quantity 1.
    pub fn product(product_id: impl Into<String>) -> Self {
        LineItem::Product(ProductItem {
            product_id: product_id.into(),
            quantity: None,
        })
    }

    /// An existing product, `quantity` times (1 to 9).
    pub fn product_times(product_id: impl Into<String>, quantity: u32) -> Self {
        LineItem::Product(ProductItem {
            product_id: product_id.into(),
            quantity: Some(quantity),
        })
    }
}

impl From<CustomItem> for LineItem {
    fn from(item: CustomItem) -> Self {
        LineItem::Custom(Box::new(item))
    }
}

impl From<ProductItem> for LineItem {
    fn from(item: ProductItem) -> Self {
        LineItem::Product(item)
    }
}

impl From<PriceItem> for LineItem {
    fn from(item: PriceItem) -> Self {
        LineItem::Price(item)
    }
}

/// Part of a connected-account checkout's payment sent on to another account after payment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferSetup {
    /// The amount sent on (`amount_in_cents`); must be in the checkout's currency.
    pub amount: Money,
    /// The receiving account; your own account when absent.
    pub recipient_id: Option<String>,
}

impl TransferSetup {
    /// Sends `amount` to `recipient_id` (or to your account when `None`) after a payment.
    pub fn new(amount: Money, recipient_id: Option<String>) -> Self {
        TransferSetup { amount, recipient_id }
    }
}

/// `POST /api/checkouts`: a checkout for items described here or existing prices or products.
///
/// Items may mix: one-time items next to recurring ones (a sign-up fee, charged once with the
/// first payment), several recurring items (one order of several subscriptions). Custom
/// items' unit prices are at least 5.00 GTQ or 1.00 USD (0 only in a setup checkout, see
/// [`CreateCheckout::setup`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateCheckout {
    /// At least one; custom items must share one currency.
    pub items: Vec<LineItem>,
    /// `setup`: save the card without charging it (see [`CreateCheckout::setup`]).
    pub mode: Option<CheckoutMode>,
    /// Where the payer goes after paying.
    pub success_url: Option<Url>,
    /// Where the payer goes after abandoning.
    pub cancel_url: Option<Url>,
    /// Pre-fills the payer's details (`us_…`).
    pub user_id: Option<String>,
    /// Pre-fills the payer's details from a customer (`cus_…`, from
    /// [`RecurrenteClient::create_customer`](crate::RecurrenteClient::create_customer)).
    pub customer_id: Option<String>,
    /// Your data (at most 50 keys, keys ≤ 40 characters, values ≤ 500).
    pub metadata: Metadata,
    /// When the checkout stops accepting payment (a past time expires it at once).
    pub expires_at: Option<DateTime<Utc>>,
    /// Create it on behalf of this connected (child) account (`ac_…`).
    pub custom_account_id: Option<String>,
    /// Amounts sent on to other accounts after payment.
    pub transfer_setups: Vec<TransferSetup>,
}

impl CreateCheckout {
    /// A checkout for these items.
    pub fn new(items: impl IntoIterator<Item = LineItem>) -> Self {
        CreateCheckout {
            items: items.into_iter().collect(),
            mode: None,
            success_url: None,
            cancel_url: None,
            user_id: None,
            customer_id: None,
            metadata: Metadata::new(),
            expires_at: None,
            custom_account_id: None,
            transfer_setups: Vec::new(),
        }
    }

    /// A setup (tokenize-only) checkout: the payer saves a card and is charged nothing.
    /// Sends `mode: "setup"` with one unnamed one-time item of 0.00 GTQ, which covers both
    /// forms Recurrente's card-update guide has shown; once paid, the checkout's
    /// [`payment_method`](Checkout::payment_method) (or the `setup_intent.succeeded` webhook)
    /// names the saved `pay_m_…`, for
    /// [`UpdateSubscription::payment_method`]. For USD, replace the item with one of 0.00 USD.
    pub fn setup() -> Self {
        let zero = Money::new(Decimal::ZERO, Currency::GTQ);
        CreateCheckout::new([CustomItem::unnamed(zero).into()]).mode(CheckoutMode::Setup)
    }

    /// Adds an item.
    #[must_use]
    pub fn item(mut self, item: impl Into<LineItem>) -> Self {
        self.items.push(item.into());
        self
    }

    /// Sets the mode (`setup`: save the card without charging it).
    #[must_use]
    pub fn mode(mut self, mode: CheckoutMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Sets the success URL.
    #[must_use]
    pub fn success_url(mut self, url: Url) -> Self {
        self.success_url = Some(url);
        self
    }

    /// Sets the cancel URL.
    #[must_use]
    pub fn cancel_url(mut self, url: Url) -> Self {
        self.cancel_url = Some(url);
        self
    }

    /// Sets the user.
    #[must_use]
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the customer (`cus_…`).
    #[must_use]
    pub fn customer_id(mut self, customer_id: impl Into<String>) -> Self {
        self.customer_id = Some(customer_id.into());
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Creates it for a connected account.
    #[must_use]
    pub fn custom_account_id(mut self, account_id: impl Into<String>) -> Self {
        self.custom_account_id = Some(account_id.into());
        self
    }

    /// Adds a transfer setup.
    #[must_use]
    pub fn transfer_setup(mut self, setup: TransferSetup) -> Self {
        self.transfer_setups.push(setup);
        self
    }
}

/// `PATCH /api/checkouts/{id}`: only unpaid checkouts can be changed, only these fields.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UpdateCheckout {
    /// A new success URL.
    pub success_url: Option<Url>,
    /// A new cancel URL.
    pub cancel_url: Option<Url>,
    /// New metadata (replaces the old).
    pub metadata: Option<Metadata>,
    /// A new expiry (a past time expires it at once).
    pub expires_at: Option<DateTime<Utc>>,
}

impl UpdateCheckout {
    /// A change of nothing yet.
    pub fn new() -> Self {
        UpdateCheckout::default()
    }

    /// Sets the success URL.
    #[must_use]
    pub fn success_url(mut self, url: Url) -> Self {
        self.success_url = Some(url);
        self
    }

    /// Sets the cancel URL.
    #[must_use]
    pub fn cancel_url(mut self, url: Url) -> Self {
        self.cancel_url = Some(url);
        self
    }

    /// Replaces the metadata.
    #[must_use]
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }
}

/// Page and page size of a list (`page` is 1-based; `items` defaults to 10 on the provider).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListParams {
    /// The page, from 1.
    pub page: Option<u32>,
    /// Items per page, at least 1; at most [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE) are asked
    /// for (larger values are clamped, so a capped server cannot end a stream early).
    pub items: Option<u32>,
}

impl ListParams {
    /// The first page at the provider's default size.
    pub fn new() -> Self {
        ListParams::default()
    }

    /// Sets the page (from 1).
    #[must_use]
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn items(mut self, items: u32) -> Self {
        self.items = Some(items);
        self
    }
}

/// `GET /api/checkouts`: filters and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListCheckouts {
    /// Created at or after.
    pub from_time: Option<DateTime<Utc>>,
    /// Created at or before.
    pub until_time: Option<DateTime<Utc>>,
    /// Of this user.
    pub user_id: Option<String>,
    /// Paging.
    pub paging: ListParams,
}

impl ListCheckouts {
    /// All checkouts, first page.
    pub fn new() -> Self {
        ListCheckouts::default()
    }

    /// Created at or after `t`.
    #[must_use]
    pub fn from_time(mut self, t: DateTime<Utc>) -> Self {
        self.from_time = Some(t);
        self
    }

    /// Created at or before `t`.
    #[must_use]
    pub fn until_time(mut self, t: DateTime<Utc>) -> Self {
        self.until_time = Some(t);
        self
    }

    /// Of this user.
    #[must_use]
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the paging.
    #[must_use]
    pub fn paging(mut self, paging: ListParams) -> Self {
        self.paging = paging;
        self
    }
}

/// `PATCH /api/payment_intents/{id}`: attach the electronic invoice (factura) to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdatePaymentIntent {
    /// The invoice's URL.
    pub tax_invoice_url: Url,
}

impl UpdatePaymentIntent {
    /// Sets the invoice URL.
    pub fn new(tax_invoice_url: Url) -> Self {
        UpdatePaymentIntent { tax_invoice_url }
    }
}

/// A new price of a product: one-time, or recurring with [`RecurringTerms`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPrice {
    /// The price: GTQ or USD, whole cents, positive.
    pub price: Money,
    /// Set for a subscription price.
    pub recurring: Option<RecurringTerms>,
}

impl NewPrice {
    /// A one-time price.
    pub fn one_time(price: Money) -> Self {
        NewPrice { price, recurring: None }
    }

    /// A subscription price.
    pub fn recurring(price: Money, terms: RecurringTerms) -> Self {
        NewPrice {
            price,
            recurring: Some(terms),
        }
    }
}

/// A change to an existing price of a product (by its `price_…` id).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriceUpdate {
    /// The price (`price_…`).
    pub id: String,
    /// A new amount.
    pub price: Option<Money>,
    /// New recurrence terms.
    pub recurring: Option<RecurringTerms>,
}

/// One change to a product's prices in [`UpdateProduct`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PriceChange {
    /// Adds a price.
    Add(NewPrice),
    /// Changes a price.
    Update(PriceUpdate),
    /// Removes a price (`_destroy`).
    Remove {
        /// The price (`price_…`).
        id: String,
    },
}

impl PriceChange {
    /// Sets a price's amount.
    pub fn set_amount(id: impl Into<String>, price: Money) -> Self {
        PriceChange::Update(PriceUpdate {
            id: id.into(),
            price: Some(price),
            recurring: None,
        })
    }

    /// Removes a price.
    pub fn remove(id: impl Into<String>) -> Self {
        PriceChange::Remove { id: id.into() }
    }
}

/// Which payment methods a product offers, instead of the account's defaults
/// (`custom_payment_method_settings: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaymentMethodSettings {
    /// Cards.
    pub card_payments_enabled: bool,
    /// Bank transfers.
    pub bank_transfer_payments_enabled: bool,
    /// Installment counts offered (e.g. 3, 6, 12, 18); empty for none.
    pub available_installments: Vec<u32>,
}

impl PaymentMethodSettings {
    /// Chooses cards and bank transfers; no installments.
    pub fn new(cards: bool, bank_transfers: bool) -> Self {
        PaymentMethodSettings {
            card_payments_enabled: cards,
            bank_transfer_payments_enabled: bank_transfers,
            available_installments: Vec::new(),
        }
    }

    /// Offers these installment counts.
    #[must_use]
    pub fn installments(mut self, counts: impl IntoIterator<Item = u32>) -> Self {
        self.available_installments = counts.into_iter().collect();
        self
    }
}

/// The fields of a product that can be set on creation and changed later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProductDetails {
    /// The description.
    pub description: Option<String>,
    /// A picture.
    pub image_url: Option<Url>,
    /// Where the payer goes after paying.
    pub success_url: Option<Url>,
    /// Where the payer goes after abandoning.
    pub cancel_url: Option<Url>,
    /// Terms shown to the payer.
    pub custom_terms_and_conditions: Option<String>,
    /// Ask for a phone number.
    pub phone_requirement: Option<Requirement>,
    /// Ask for a delivery address.
    pub address_requirement: Option<Requirement>,
    /// Ask for billing details (NIT or passport).
    pub billing_info_requirement: Option<Requirement>,
    /// Whether the payer may change the quantity (provider default: true).
    pub adjustable_quantity: Option<bool>,
    /// Units in stock; the product is disabled when it reaches 0.
    pub inventory_quantity: Option<u32>,
    /// The price becomes the net amount received; one-time prices only.
    pub has_dynamic_pricing: Option<bool>,
    /// Payment methods instead of the account's defaults.
    pub payment_methods: Option<PaymentMethodSettings>,
}

/// `POST /api/products`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateProduct {
    /// The name.
    pub name: String,
    /// At least one price.
    pub prices: Vec<NewPrice>,
    /// Everything else.
    pub details: ProductDetails,
    /// Your data.
    pub metadata: Metadata,
}

impl CreateProduct {
    /// A product with a name and one price.
    pub fn new(name: impl Into<String>, price: NewPrice) -> Self {
        CreateProduct {
            name: name.into(),
            prices: vec![price],
            details: ProductDetails::default(),
            metadata: Metadata::new(),
        }
    }

    /// Adds a price.
    #[must_use]
    pub fn price(mut self, price: NewPrice) -> Self {
        self.prices.push(price);
        self
    }

    /// Sets the other fields.
    #[must_use]
    pub fn details(mut self, details: ProductDetails) -> Self {
        self.details = details;
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// `PATCH /api/products/{id}`: any field of [`CreateProduct`], and price changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateProduct {
    /// A new name.
    pub name: Option<String>,
    /// Prices to add, change or remove.
    pub prices: Vec<PriceChange>,
    /// Other fields to change (unset ones are left as they are).
    pub details: ProductDetails,
    /// New metadata (replaces the old).
    pub metadata: Option<Metadata>,
}

impl UpdateProduct {
    /// A change of nothing yet.
    pub fn new() -> Self {
        UpdateProduct::default()
    }

    /// Renames it.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a price change.
    #[must_use]
    pub fn price(mut self, change: PriceChange) -> Self {
        self.prices.push(change);
        self
    }

    /// Sets the other fields to change.
    #[must_use]
    pub fn details(mut self, details: ProductDetails) -> Self {
        self.details = details;
        self
    }

    /// Replaces the metadata.
    #[must_use]
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// What a coupon takes off: an amount or a percentage, never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CouponDiscount {
    /// A fixed amount (`amount_off_in_cents` + `currency`).
    AmountOff(Money),
    /// A percentage in (0, 100] (`percent_off`).
    PercentOff(Decimal),
}

/// `POST /api/coupons`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateCoupon {
    /// The code the payer types (e.g. `VERANO25`).
    pub name: String,
    /// What it takes off.
    pub discount: CouponDiscount,
    /// For subscriptions: first payment only, or all.
    pub duration: Option<CouponDuration>,
}

impl CreateCoupon {
    /// A coupon.
    pub fn new(name: impl Into<String>, discount: CouponDiscount) -> Self {
        CreateCoupon {
            name: name.into(),
            discount,
            duration: None,
        }
    }

    /// Sets the duration.
    #[must_use]
    pub fn duration(mut self, duration: CouponDuration) -> Self {
        self.duration = Some(duration);
        self
    }
}

/// `PATCH /api/coupons/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateCoupon {
    /// A new code.
    pub name: Option<String>,
    /// A new discount.
    pub discount: Option<CouponDiscount>,
    /// A new duration.
    pub duration: Option<CouponDuration>,
}

impl UpdateCoupon {
    /// A change of nothing yet.
    pub fn new() -> Self {
        UpdateCoupon::default()
    }

    /// Renames it.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Changes the discount.
    #[must_use]
    pub fn discount(mut self, discount: CouponDiscount) -> Self {
        self.discount = Some(discount);
        self
    }

    /// Changes the duration.
    #[must_use]
    pub fn duration(mut self, duration: CouponDuration) -> Self {
        self.duration = Some(duration);
        self
    }
}

/// `POST /api/users`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateUser {
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub full_name: Option<String>,
}

impl CreateUser {
    /// A user with an e-mail address and an optional full name.
    pub fn new(email: impl Into<String>, full_name: Option<String>) -> Self {
        CreateUser {
            email: email.into(),
            full_name,
        }
    }
}

/// `POST /api/customers`: finds the customer with this e-mail address, or creates it (and its
/// user when there is none). Repeat buyers keep one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateCustomer {
    /// E-mail address (the key a customer is found by).
    pub email: String,
    /// Full name.
    pub full_name: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Tax id (NIT).
    pub nit: Option<String>,
    /// Your data (string → string, the limits of [`Metadata`]).
    pub metadata: Metadata,
}

impl CreateCustomer {
    /// A customer with an e-mail address.
    pub fn new(email: impl Into<String>) -> Self {
        CreateCustomer {
            email: email.into(),
            ..CreateCustomer::default()
        }
    }

    /// Sets the full name.
    #[must_use]
    pub fn full_name(mut self, v: impl Into<String>) -> Self {
        self.full_name = Some(v.into());
        self
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, v: impl Into<String>) -> Self {
        self.name = Some(v.into());
        self
    }

    /// Sets the phone number.
    #[must_use]
    pub fn phone(mut self, v: impl Into<String>) -> Self {
        self.phone = Some(v.into());
        self
    }

    /// Sets the address.
    #[must_use]
    pub fn address(mut self, v: impl Into<String>) -> Self {
        self.address = Some(v.into());
        self
    }

    /// Sets the tax id (NIT).
    #[must_use]
    pub fn nit(mut self, v: impl Into<String>) -> Self {
        self.nit = Some(v.into());
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// `PUT /api/customers/{id}`: changes the fields given (the e-mail address cannot change).
/// Metadata is merged into the customer's: a key set to `None` is deleted, others are set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateCustomer {
    /// Name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Tax id (NIT).
    pub nit: Option<String>,
    /// Metadata changes: `Some(value)` sets a key, `None` deletes it (sent as `null`).
    pub metadata: BTreeMap<String, Option<String>>,
}

impl UpdateCustomer {
    /// An update changing nothing yet.
    pub fn new() -> Self {
        UpdateCustomer::default()
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, v: impl Into<String>) -> Self {
        self.name = Some(v.into());
        self
    }

    /// Sets the phone number.
    #[must_use]
    pub fn phone(mut self, v: impl Into<String>) -> Self {
        self.phone = Some(v.into());
        self
    }

    /// Sets the address.
    #[must_use]
    pub fn address(mut self, v: impl Into<String>) -> Self {
        self.address = Some(v.into());
        self
    }

    /// Sets the tax id (NIT).
    #[must_use]
    pub fn nit(mut self, v: impl Into<String>) -> Self {
        self.nit = Some(v.into());
        self
    }

    /// Sets a metadata entry (merged into the customer's).
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), Some(value.into()));
        self
    }

    /// Deletes a metadata entry.
    #[must_use]
    pub fn remove_metadata(mut self, key: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), None);
        self
    }
}

/// `POST /api/transfers`: send money to another Recurrente account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateTransfer {
    /// The amount: GTQ or USD, whole cents, positive.
    pub amount: Money,
    /// The receiving account's handle (its `@`).
    pub recipient_id: String,
}

impl CreateTransfer {
    /// A transfer.
    pub fn new(amount: Money, recipient_id: impl Into<String>) -> Self {
        CreateTransfer {
            amount,
            recipient_id: recipient_id.into(),
        }
    }
}

/// `POST /api/webhook_endpoints`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateWebhookEndpoint {
    /// Where events are delivered.
    pub url: Url,
    /// A description.
    pub description: Option<String>,
    /// Your data.
    pub metadata: Metadata,
}

impl CreateWebhookEndpoint {
    /// An endpoint at `url`.
    pub fn new(url: Url) -> Self {
        CreateWebhookEndpoint {
            url,
            description: None,
            metadata: Metadata::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// `POST /api/one_time_payments`: charge a saved payment method (`pay_m_…`, found in a paid
/// checkout or a payment webhook) without the payer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateOneTimePayment {
    /// The saved payment method.
    pub payment_method_id: String,
    /// At least one; custom items must be one-time and share one currency.
    pub items: Vec<LineItem>,
}

impl CreateOneTimePayment {
    /// A charge of these items to a saved payment method.
    pub fn new(payment_method_id: impl Into<String>, items: impl IntoIterator<Item = LineItem>) -> Self {
        CreateOneTimePayment {
            payment_method_id: payment_method_id.into(),
            items: items.into_iter().collect(),
        }
    }
}

/// `PUT /api/subscriptions/{id}`: the saved card (`pay_m_…`, from `setup_intent.succeeded` or a
/// paid tokenize-only checkout) that later charges use; a pending failed charge is retried with
/// it at once. The body `{"payment_method_id": …}` is inferred from Recurrente's card-update
/// guide (the reference's update body was not captured).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UpdateSubscription {
    /// The new payment method.
    pub payment_method_id: String,
}

impl UpdateSubscription {
    /// Puts this saved payment method on the subscription.
    pub fn payment_method(payment_method_id: impl Into<String>) -> Self {
        UpdateSubscription {
            payment_method_id: payment_method_id.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// `{"id": …}`: a reference to another object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdRef {
    /// Its id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
}

/// `{"message": …}`: the answer of `GET /api/test` and of cancelling a subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    /// The text (`Hello <account>`, `Suscripción cancelada`).
    #[serde(deserialize_with = "de::opt_string")]
    pub message: Option<String>,
}

/// The answer of creating a checkout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckoutCreated {
    /// `ch_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Send the payer here.
    #[serde(deserialize_with = "de::opt_string")]
    pub checkout_url: Option<String>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// Line 1.
    #[serde(deserialize_with = "de::opt_string")]
    pub address_line_1: Option<String>,
    /// Line 2.
    #[serde(deserialize_with = "de::opt_string")]
    pub address_line_2: Option<String>,
    /// City.
    #[serde(deserialize_with = "de::opt_string")]
    pub city: Option<String>,
    /// Country.
    #[serde(deserialize_with = "de::opt_string")]
    pub country: Option<String>,
    /// Postal code.
    #[serde(deserialize_with = "de::opt_string")]
    pub zip_code: Option<String>,
}

/// What a payment paid for, with the payer's billing details.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Paymentable {
    /// `Subscription` or `OneTimePayment`.
    #[serde(rename = "type", deserialize_with = "de::opt_enum")]
    pub kind: Option<PaymentableType>,
    /// `su_…` or `on_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Billing name.
    #[serde(deserialize_with = "de::opt_string")]
    pub tax_name: Option<String>,
    /// Billing id (NIT).
    #[serde(deserialize_with = "de::opt_string")]
    pub tax_id: Option<String>,
    /// Address, when asked.
    pub address: Option<Address>,
    /// Phone number, when asked.
    #[serde(deserialize_with = "de::opt_string")]
    pub phone_number: Option<String>,
}

/// A payment (`pa_…`) and what it paid for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentRef {
    /// `pa_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// What it paid for.
    pub paymentable: Option<Paymentable>,
}

impl PaymentRef {
    /// The subscription it paid for, when it paid for one.
    pub fn subscription_id(&self) -> Option<&str> {
        self.paymentable
            .as_ref()
            .filter(|p| p.kind == Some(PaymentableType::Subscription) && !p.id.is_empty())
            .map(|p| p.id.as_str())
    }
}

/// A card's public details.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Card {
    /// Last four digits.
    #[serde(deserialize_with = "de::opt_string")]
    pub last4: Option<String>,
    /// `visa`, `mastercard`…
    #[serde(deserialize_with = "de::opt_string")]
    pub network: Option<String>,
}

/// A saved payment method (`pay_m_…`): usable for one-time payments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentMethod {
    /// `pay_m_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// `card` or `bank_transfer_receiver`.
    #[serde(rename = "type", deserialize_with = "de::opt_enum")]
    pub kind: Option<PaymentMethodType>,
    /// For cards.
    pub card: Option<Card>,
}

/// The last payment attempt of a checkout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatestIntent {
    /// `pa_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// When it was made.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    /// `PaymentIntent`, …
    #[serde(rename = "type", deserialize_with = "de::opt_string")]
    pub kind: Option<String>,
    /// Details (e.g. `auth_code`).
    pub data: serde_json::Value,
}

/// A checkout (`GET /api/checkouts/{id}`, list, update).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Checkout {
    /// `ch_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// `unpaid`, `payment_in_progress`, `paid`…
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<CheckoutStatus>,
    /// The payer's page, when the response includes it.
    #[serde(deserialize_with = "de::opt_string")]
    pub checkout_url: Option<String>,
    /// The payment, once paid; `paymentable` is the subscription for subscription checkouts.
    pub payment: Option<PaymentRef>,
    /// The payment method used (the card saved, for a setup checkout), once paid.
    pub payment_method: Option<PaymentMethod>,
    /// The payment methods the checkout's items allow, when they state any.
    #[serde(deserialize_with = "de::opt_enum_list")]
    pub payment_method_types: Option<Vec<AllowedPaymentMethod>>,
    /// `setup` for a tokenize-only checkout, when the answer says.
    #[serde(deserialize_with = "de::opt_enum")]
    pub mode: Option<CheckoutMode>,
    /// Transfers to other accounts after payment.
    #[serde(deserialize_with = "de::vec")]
    pub transfer_setups: Vec<serde_json::Value>,
    /// Your data.
    #[serde(deserialize_with = "de::map")]
    pub metadata: MetadataMap,
    /// When it expires.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Success URL.
    #[serde(deserialize_with = "de::opt_string")]
    pub success_url: Option<String>,
    /// Cancel URL.
    #[serde(deserialize_with = "de::opt_string")]
    pub cancel_url: Option<String>,
    /// When it was created.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    /// The total, in cents (sent as a string).
    #[serde(deserialize_with = "de::opt_i64")]
    pub total_in_cents: Option<i64>,
    /// The currency.
    #[serde(deserialize_with = "de::opt_currency")]
    pub currency: Option<Currency>,
    /// The last payment attempt.
    pub latest_intent: Option<LatestIntent>,
    /// False for checkouts made with TEST keys.
    #[serde(deserialize_with = "de::opt_bool")]
    pub live_mode: Option<bool>,
}

impl Checkout {
    /// The total as money.
    pub fn total(&self) -> Option<Money> {
        money(self.total_in_cents, self.currency)
    }

    /// The subscription this checkout started, once paid.
    pub fn subscription_id(&self) -> Option<&str> {
        self.payment.as_ref().and_then(PaymentRef::subscription_id)
    }

    /// A metadata value that is a string.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(serde_json::Value::as_str)
    }
}

/// A customer as embedded in payments and refunds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Customer {
    /// `us_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// E-mail address.
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// Full name.
    #[serde(deserialize_with = "de::opt_string")]
    pub full_name: Option<String>,
}

/// A price of a product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Price {
    /// `price_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Amount in cents.
    #[serde(deserialize_with = "de::opt_i64")]
    pub amount_in_cents: Option<i64>,
    /// Currency.
    #[serde(deserialize_with = "de::opt_currency")]
    pub currency: Option<Currency>,
    /// `one_time` or `recurring`.
    #[serde(deserialize_with = "de::opt_enum")]
    pub charge_type: Option<ChargeType>,
    /// Unit of the billing interval (`""` for one-time prices, read as `None`).
    #[serde(deserialize_with = "de::opt_enum")]
    pub billing_interval: Option<BillingInterval>,
    /// Count of the billing interval (`0` for one-time prices).
    #[serde(deserialize_with = "de::opt_u32")]
    pub billing_interval_count: Option<u32>,
    /// Unit of the free trial.
    #[serde(deserialize_with = "de::opt_enum")]
    pub free_trial_interval: Option<BillingInterval>,
    /// Count of the free trial (`0` for none).
    #[serde(deserialize_with = "de::opt_u32")]
    pub free_trial_interval_count: Option<u32>,
    /// Cancelled after this many periods (`""` or `null` for never).
    #[serde(deserialize_with = "de::opt_u32")]
    pub periods_before_automatic_cancellation: Option<u32>,
    /// The payer may cancel only after this many periods.
    #[serde(deserialize_with = "de::opt_u32")]
    pub periods_before_allowed_to_cancel: Option<u32>,
}

impl Price {
    /// The amount as money.
    pub fn amount(&self) -> Option<Money> {
        money(self.amount_in_cents, self.currency)
    }

    /// The billing interval of a recurring price.
    pub fn interval(&self) -> Option<Interval> {
        interval(self.billing_interval.as_ref(), self.billing_interval_count)
    }

    /// The free trial, when there is one.
    pub fn trial(&self) -> Option<Interval> {
        interval(self.free_trial_interval.as_ref(), self.free_trial_interval_count)
    }
}

fn interval(unit: Option<&BillingInterval>, count: Option<u32>) -> Option<Interval> {
    Interval::new(unit?.unit()?, count?).ok()
}

/// A product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Product {
    /// `prod_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// `active`, `deleted`…
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<RecordStatus>,
    /// Name.
    #[serde(deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Description.
    #[serde(deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// Success URL.
    #[serde(deserialize_with = "de::opt_string")]
    pub success_url: Option<String>,
    /// Cancel URL.
    #[serde(deserialize_with = "de::opt_string")]
    pub cancel_url: Option<String>,
    /// Terms.
    #[serde(deserialize_with = "de::opt_string")]
    pub custom_terms_and_conditions: Option<String>,
    /// Phone number asked?
    #[serde(deserialize_with = "de::opt_enum")]
    pub phone_requirement: Option<Requirement>,
    /// Address asked?
    #[serde(deserialize_with = "de::opt_enum")]
    pub address_requirement: Option<Requirement>,
    /// Billing details asked?
    #[serde(deserialize_with = "de::opt_enum")]
    pub billing_info_requirement: Option<Requirement>,
    /// Dynamic pricing.
    #[serde(deserialize_with = "de::opt_bool")]
    pub has_dynamic_pricing: Option<bool>,
    /// Prices.
    #[serde(deserialize_with = "de::vec")]
    pub prices: Vec<Price>,
    /// Public store page.
    #[serde(deserialize_with = "de::opt_string")]
    pub storefront_link: Option<String>,
    /// Your data.
    #[serde(deserialize_with = "de::map")]
    pub metadata: MetadataMap,
}

/// The answer of deleting a product or a coupon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deleted {
    /// The id.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// `deleted`.
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<RecordStatus>,
}

/// A payment (`pa_…`), as returned when updating its invoice URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentIntent {
    /// `pa_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Its checkout.
    pub checkout: Option<IdRef>,
    /// API version of the object.
    #[serde(deserialize_with = "de::opt_string")]
    pub api_version: Option<String>,
    /// When it was made.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    /// Why it failed.
    #[serde(deserialize_with = "de::opt_string")]
    pub failure_reason: Option<String>,
    /// The payer (`us_…`).
    #[serde(deserialize_with = "de::opt_string")]
    pub customer_id: Option<String>,
    /// Amount in cents.
    #[serde(deserialize_with = "de::opt_i64")]
    pub amount_in_cents: Option<i64>,
    /// Currency.
    #[serde(deserialize_with = "de::opt_currency")]
    pub currency: Option<Currency>,
    /// Recurrente's fee, in cents of `currency`.
    #[serde(deserialize_with = "de::opt_i64")]
    pub fee: Option<i64>,
    /// VAT withheld, in cents.
    #[serde(deserialize_with = "de::opt_i64")]
    pub vat_withheld: Option<i64>,
    /// Currency of the VAT withheld.
    #[serde(deserialize_with = "de::opt_currency")]
    pub vat_withheld_currency: Option<Currency>,
    /// The product.
    pub product: Option<IdRef>,
    /// The products, in full.
    #[serde(deserialize_with = "de::vec")]
    pub products: Vec<Product>,
    /// The payer.
    pub customer: Option<Customer>,
    /// What it paid for.
    pub payment: Option<PaymentRef>,
    /// The electronic invoice.
    #[serde(deserialize_with = "de::opt_string")]
    pub tax_invoice_url: Option<String>,
}

impl PaymentIntent {
    /// The amount as money.
    pub fn amount(&self) -> Option<Money> {
        money(self.amount_in_cents, self.currency)
    }

    /// The fee as money (in the payment's currency).
    pub fn fee(&self) -> Option<Money> {
        money(self.fee, self.currency)
    }
}

/// A coupon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Coupon {
    /// `coup_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// The code.
    #[serde(deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Amount off in cents.
    #[serde(deserialize_with = "de::opt_i64")]
    pub amount_off_in_cents: Option<i64>,
    /// Percent off.
    #[serde(deserialize_with = "de::opt_decimal")]
    pub percent_off: Option<Decimal>,
    /// Maximum uses.
    #[serde(deserialize_with = "de::opt_u32")]
    pub max_redemptions: Option<u32>,
    /// Currency of the amount off.
    #[serde(deserialize_with = "de::opt_currency")]
    pub currency: Option<Currency>,
    /// `once` or `forever`.
    #[serde(deserialize_with = "de::opt_enum")]
    pub duration: Option<CouponDuration>,
    /// When it stops being usable.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub expires_at: Option<DateTime<Utc>>,
    /// `active`, `deleted`…
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<RecordStatus>,
}

impl Coupon {
    /// The discount, when the coupon states exactly one.
    pub fn discount(&self) -> Option<CouponDiscount> {
        match (money(self.amount_off_in_cents, self.currency), self.percent_off) {
            (Some(m), None) => Some(CouponDiscount::AmountOff(m)),
            (None, Some(p)) => Some(CouponDiscount::PercentOff(p)),
            _ => None,
        }
    }
}

/// The payer of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscriber {
    /// `us_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// First name.
    #[serde(deserialize_with = "de::opt_string")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(deserialize_with = "de::opt_string")]
    pub last_name: Option<String>,
    /// Full name.
    #[serde(deserialize_with = "de::opt_string")]
    pub full_name: Option<String>,
    /// E-mail address.
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(deserialize_with = "de::opt_string")]
    pub phone_number: Option<String>,
}

/// A subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscription {
    /// `su_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// What is subscribed to.
    #[serde(deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// `active`, `paused`, `past_due`, `cancelled`, `unable_to_start`.
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<SubscriptionState>,
    /// Created.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last changed.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Start of the current period.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub current_period_start: Option<DateTime<Utc>>,
    /// End of the current period.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub current_period_end: Option<DateTime<Utc>>,
    /// Billing name.
    #[serde(deserialize_with = "de::opt_string")]
    pub tax_name: Option<String>,
    /// Billing id.
    #[serde(deserialize_with = "de::opt_string")]
    pub tax_id: Option<String>,
    /// The payer.
    pub subscriber: Option<Subscriber>,
    /// The checkout that started it.
    pub checkout: Option<IdRef>,
    /// The product.
    pub product: Option<IdRef>,
    /// The next charge, or while past due the next retry (today's API).
    #[serde(deserialize_with = "de::opt_datetime")]
    pub next_payment_attempt_at: Option<DateTime<Utc>>,
    /// Retries made after a failed charge (today's API).
    #[serde(deserialize_with = "de::opt_u32")]
    pub payment_retries: Option<u32>,
    /// When a pause ends, when it has an end (today's API).
    #[serde(deserialize_with = "de::opt_datetime")]
    pub resumes_on: Option<DateTime<Utc>>,
    /// The card or account charged (today's API), as the provider sends it.
    pub default_payment_method: Option<PaymentMethod>,
}

/// A user (`us_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// `us_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// E-mail address.
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// Full name, when returned.
    #[serde(deserialize_with = "de::opt_string")]
    pub full_name: Option<String>,
}

/// A customer of `/api/customers` (`cus_…`): the merchant's profile of a user. Both ids are
/// kept; never tell them apart by prefix (`us_…` and `usr_…` both occur for users).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerProfile {
    /// `cus_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// The user (`us_…` / `usr_…`).
    #[serde(deserialize_with = "de::opt_string")]
    pub user_id: Option<String>,
    /// E-mail address.
    #[serde(deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// Name.
    #[serde(deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Phone number.
    #[serde(deserialize_with = "de::opt_string")]
    pub phone: Option<String>,
    /// Address.
    #[serde(deserialize_with = "de::opt_string")]
    pub address: Option<String>,
    /// Tax id (NIT).
    #[serde(deserialize_with = "de::opt_string")]
    pub nit: Option<String>,
    /// Your data.
    #[serde(deserialize_with = "de::map")]
    pub metadata: MetadataMap,
}

/// A transfer (`tr_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Transfer {
    /// `tr_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// `completed`…
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<TransferStatus>,
}

/// A refund (`re_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Refund {
    /// `re_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// `succeeded`…
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<RefundStatus>,
    /// The payer.
    pub customer: Option<Customer>,
    /// Taken from your balance, in cents.
    #[serde(deserialize_with = "de::opt_i64")]
    pub account_refunded_amount_in_cents: Option<i64>,
    /// Returned to the payer, in cents.
    #[serde(deserialize_with = "de::opt_i64")]
    pub customer_refunded_amount_in_cents: Option<i64>,
    /// Currency.
    #[serde(deserialize_with = "de::opt_currency")]
    pub currency: Option<Currency>,
    /// When.
    #[serde(deserialize_with = "de::opt_datetime")]
    pub created_at: Option<DateTime<Utc>>,
}

impl Refund {
    /// What the payer got back.
    pub fn customer_refunded(&self) -> Option<Money> {
        money(self.customer_refunded_amount_in_cents, self.currency)
    }

    /// What left your balance.
    pub fn account_refunded(&self) -> Option<Money> {
        money(self.account_refunded_amount_in_cents, self.currency)
    }
}

/// A webhook endpoint (a Svix endpoint, `ep_…`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookEndpoint {
    /// `ep_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// Where events go.
    #[serde(deserialize_with = "de::opt_string")]
    pub url: Option<String>,
    /// Description.
    #[serde(deserialize_with = "de::opt_string")]
    pub description: Option<String>,
    /// Disabled by Svix after repeated failures, or by hand.
    #[serde(deserialize_with = "de::opt_bool")]
    pub disabled: Option<bool>,
    /// Created.
    #[serde(rename = "createdAt", deserialize_with = "de::opt_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last changed.
    #[serde(rename = "updatedAt", deserialize_with = "de::opt_datetime")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Your data.
    #[serde(deserialize_with = "de::map")]
    pub metadata: MetadataMap,
    /// The signing secret (`whsec_…`), when the creation response carries it (only then).
    /// Never serialized back.
    #[serde(rename = "signingSecret", deserialize_with = "de_secret", skip_serializing)]
    pub signing_secret: Option<SecretString>,
}

fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(de::opt_string(d)?.filter(|s| !s.is_empty()).map(SecretString::from))
}

/// A one-time payment (`on_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OneTimePayment {
    /// `on_…`.
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// `paid`…
    #[serde(deserialize_with = "de::opt_enum")]
    pub status: Option<OneTimePaymentStatus>,
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::*;

    #[test]
    fn cents_accept_numbers_and_numeric_strings_never_fractions() {
        let p: Price = serde_json::from_value(json!({"amount_in_cents": "1500", "currency": "GTQ"})).unwrap();
        assert_eq!(p.amount_in_cents, Some(1500));
        assert_eq!(p.amount().unwrap().to_string(), "15.00 GTQ");
        let p: Price = serde_json::from_value(json!({"amount_in_cents": 1500})).unwrap();
        assert_eq!(p.amount_in_cents, Some(1500));
        let p: Price = serde_json::from_value(json!({"amount_in_cents": 1500.0})).unwrap();
        assert_eq!(p.amount_in_cents, Some(1500));
        for v in [json!(""), json!(null)] {
            let p: Price = serde_json::from_value(json!({ "amount_in_cents": v })).unwrap();
            assert_eq!(p.amount_in_cents, None);
        }
        for bad in [json!(15.5), json!("15.5"), json!("abc"), json!(u64::MAX)] {
            let r: Result<Price, _> = serde_json::from_value(json!({ "amount_in_cents": bad }));
            assert!(r.is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn one_time_prices_have_no_interval() {
        let p: Price = serde_json::from_value(json!({
            "billing_interval": "", "billing_interval_count": 0, "charge_type": "one_time",
            "periods_before_automatic_cancellation": "", "free_trial_interval": "", "free_trial_interval_count": 0
        }))
        .unwrap();
        assert_eq!(p.billing_interval, None);
        assert_eq!(p.interval(), None);
        assert_eq!(p.trial(), None);
        assert_eq!(p.periods_before_automatic_cancellation, None);
        assert_eq!(p.charge_type, Some(ChargeType::OneTime));

        let p: Price =
            serde_json::from_value(json!({"billing_interval": "month", "billing_interval_count": 2})).unwrap();
        assert_eq!(p.interval(), Some(Interval::months(2).unwrap()));
    }

    #[test]
    fn unknown_enum_values_keep_their_text() {
        let s: Subscription = serde_json::from_value(json!({"id": "su_1", "status": "trialing"})).unwrap();
        assert_eq!(s.status, Some(SubscriptionState::Unknown("trialing".into())));
        assert_eq!(s.status.unwrap().as_str(), "trialing");
        assert_eq!(SubscriptionState::from("past_due"), SubscriptionState::PastDue);
        assert_eq!(
            serde_json::to_value(CheckoutStatus::PaymentInProgress).unwrap(),
            json!("payment_in_progress")
        );
        assert_eq!(BillingInterval::from("fortnight").unit(), None);
        assert_eq!(BillingInterval::from_unit(IntervalUnit::Year), BillingInterval::Year);
    }

    #[test]
    fn missing_and_unknown_fields_are_tolerated() {
        let c: Checkout = serde_json::from_value(json!({"brand_new_field": [1, 2], "metadata": null})).unwrap();
        assert_eq!(c, Checkout::default());
        let c: Checkout = serde_json::from_value(json!({"id": 42, "live_mode": "false"})).unwrap();
        assert_eq!(c.id, "42");
        assert_eq!(c.live_mode, Some(false));
    }

    #[test]
    fn times_with_offsets_become_utc_and_garbage_is_absent() {
        let s: Subscription = serde_json::from_value(json!({
            "created_at": "2024-03-01T03:52:12.636-06:00", "updated_at": "yesterday", "current_period_end": ""
        }))
        .unwrap();
        assert_eq!(
            s.created_at
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "2024-03-01T09:52:12.636Z"
        );
        assert_eq!(s.updated_at, None);
        assert_eq!(s.current_period_end, None);
    }

    #[test]
    fn coupon_discount_reads_exactly_one_kind() {
        let c: Coupon = serde_json::from_value(json!({"amount_off_in_cents": 1500, "currency": "GTQ"})).unwrap();
        assert_eq!(
            c.discount(),
            Some(CouponDiscount::AmountOff(
                Money::from_minor_units(1500, Currency::GTQ).unwrap()
            ))
        );
        let c: Coupon = serde_json::from_value(json!({"percent_off": "12.5"})).unwrap();
        assert_eq!(c.discount(), Some(CouponDiscount::PercentOff(Decimal::new(125, 1))));
        let c: Coupon = serde_json::from_value(json!({"percent_off": 12.5})).unwrap();
        assert_eq!(c.percent_off, Some(Decimal::new(125, 1)));
        let c: Coupon = serde_json::from_value(json!({})).unwrap();
        assert_eq!(c.discount(), None);
    }

    #[test]
    fn signing_secret_is_kept_secret_and_never_serialized() {
        let e: WebhookEndpoint = serde_json::from_value(
            json!({"id": "ep_1", "signingSecret": "whsec_abc", "createdAt": "2024-05-03T18:28:07.673413Z"}),
        )
        .unwrap();
        assert_eq!(e.signing_secret.as_ref().unwrap().expose_secret(), "whsec_abc");
        assert!(!format!("{e:?}").contains("whsec_abc"));
        let back = serde_json::to_string(&e).unwrap();
        assert!(!back.contains("whsec_abc") && !back.contains("signingSecret"), "{back}");
        assert!(back.contains("createdAt"));
    }

    #[test]
    fn subscription_id_needs_a_subscription_paymentable() {
        let c: Checkout = serde_json::from_value(json!({
            "payment": {"id": "pa_1", "paymentable": {"type": "Subscription", "id": "su_1"}}
        }))
        .unwrap();
        assert_eq!(c.subscription_id(), Some("su_1"));
        let c: Checkout = serde_json::from_value(json!({
            "payment": {"id": "pa_1", "paymentable": {"type": "OneTimePayment", "id": "on_1"}}
        }))
        .unwrap();
        assert_eq!(c.subscription_id(), None);
    }
    #[test]
    fn day_intervals_read_and_write_as_day() {
        assert_eq!(BillingInterval::from("day"), BillingInterval::Day);
        assert_eq!(BillingInterval::Day.unit(), Some(IntervalUnit::Day));
        assert_eq!(BillingInterval::from_unit(IntervalUnit::Day), BillingInterval::Day);
        assert_eq!(serde_json::to_value(BillingInterval::Day).unwrap(), json!("day"));
        for u in [
            IntervalUnit::Day,
            IntervalUnit::Week,
            IntervalUnit::Month,
            IntervalUnit::Year,
        ] {
            assert_eq!(BillingInterval::from_unit(u).unit(), Some(u));
            assert_eq!(BillingInterval::from_unit(u).as_str(), u.as_str());
        }
        // A price billed every 30 days with a 14-day trial (the official plugin's trials are in days).
        let p: Price = serde_json::from_value(json!({
            "billing_interval": "day", "billing_interval_count": 30,
            "free_trial_interval": "day", "free_trial_interval_count": 14
        }))
        .unwrap();
        assert_eq!(p.interval(), Some(Interval::days(30).unwrap()));
        assert_eq!(p.trial(), Some(Interval::days(14).unwrap()));
    }

    #[test]
    fn checkouts_read_payment_method_types_mode_and_the_saved_card() {
        let c: Checkout = serde_json::from_value(json!({
            "id": "ch_1", "status": "paid", "mode": "setup",
            "payment_method_types": ["card", "bank_transfer", "balance", "stablecoins", "cash", 7],
            "payment_method": {"id": "pay_m_1", "type": "card", "card": {"last4": "4242", "network": "visa"}},
            "total_in_cents": "0", "currency": "GTQ"
        }))
        .unwrap();
        assert_eq!(c.mode, Some(CheckoutMode::Setup));
        assert_eq!(
            c.payment_method_types,
            Some(vec![
                AllowedPaymentMethod::Card,
                AllowedPaymentMethod::BankTransfer,
                AllowedPaymentMethod::Balance,
                AllowedPaymentMethod::Stablecoins,
                AllowedPaymentMethod::Unknown("cash".into()),
                AllowedPaymentMethod::Unknown("7".into()),
            ])
        );
        assert_eq!(c.total(), Some(Money::from_minor_units(0, Currency::GTQ).unwrap()));
        let pm = c.payment_method.unwrap();
        assert_eq!((pm.id.as_str(), pm.kind), ("pay_m_1", Some(PaymentMethodType::Card)));
        assert_eq!(pm.card.unwrap().last4.as_deref(), Some("4242"));
        // Absent or null: none stated (the account's defaults).
        let c: Checkout = serde_json::from_value(json!({"payment_method_types": null, "mode": ""})).unwrap();
        assert_eq!((c.payment_method_types, c.mode), (None, None));
        let c: Checkout = serde_json::from_value(json!({"payment_method_types": []})).unwrap();
        assert_eq!(c.payment_method_types, Some(Vec::new()));
    }

    #[test]
    fn a_setup_checkout_is_one_free_item_in_setup_mode() {
        let s = CreateCheckout::setup();
        assert_eq!(s.mode, Some(CheckoutMode::Setup));
        assert_eq!(s.items.len(), 1);
        match &s.items[0] {
            LineItem::Custom(c) => {
                assert!(c.price.amount.is_zero() && c.price.currency == Currency::GTQ);
                assert!(c.recurring.is_none() && c.name.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(CreateCheckout::new([]).mode, None);
    }
}
