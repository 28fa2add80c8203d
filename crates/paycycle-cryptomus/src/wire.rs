//! Cryptomus' recurrence API as it is on the wire: requests, responses, enums.
//!
//! Responses are read tolerantly: every field but `uuid` may be missing or `null`, unknown
//! fields are ignored (and kept in [`Recurrence::raw`]), and unknown `status` and `period`
//! values are kept as `Unknown(raw)`. Quirks handled:
//! - amounts come as `"15"`, `"15.00"`, `"15.00000000"` (and are also accepted as JSON numbers);
//!   they are exact [`Decimal`]s, never floats;
//! - `discount_days` is sent as an integer but comes back as a string (`"30"`); both are read;
//! - `end_of_discount` is ISO 8601 with `+03:00`;
//! - `last_pay_off` is documented as UTC+3 without a format: it is kept as written, with a
//!   best-effort parse (see [`LastPayOff`]).

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use paycycle_core::rust_decimal::Decimal;
use paycycle_core::{Currency, Error, Money, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// How often a recurrence charges the payer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Period {
    /// `weekly`.
    Weekly,
    /// `monthly`.
    Monthly,
    /// `three_month`: every three months.
    ThreeMonth,
    /// A value this version does not know, as Cryptomus spelled it.
    Unknown(String),
}

impl Period {
    /// Reads a wire value; anything not documented becomes [`Period::Unknown`].
    pub fn from_wire(s: &str) -> Period {
        match s {
            "weekly" => Period::Weekly,
            "monthly" => Period::Monthly,
            "three_month" => Period::ThreeMonth,
            other => Period::Unknown(other.to_owned()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::ThreeMonth => "three_month",
            Period::Unknown(s) => s,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a recurrence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecurrenceStatus {
    /// `wait_accept`: created, waiting for the payer to accept and pay the first time.
    WaitAccept,
    /// `active`: accepted; payments run on schedule.
    Active,
    /// `cancel_by_merchant`: cancelled by the merchant (e.g. `/v1/recurrence/cancel`).
    CancelByMerchant,
    /// `cancel_by_user`: cancelled by the payer.
    CancelByUser,
    /// A value this version does not know, as Cryptomus spelled it.
    Unknown(String),
}

impl RecurrenceStatus {
    /// Reads a wire value; anything not documented becomes [`RecurrenceStatus::Unknown`].
    pub fn from_wire(s: &str) -> RecurrenceStatus {
        match s {
            "wait_accept" => RecurrenceStatus::WaitAccept,
            "active" => RecurrenceStatus::Active,
            "cancel_by_merchant" => RecurrenceStatus::CancelByMerchant,
            "cancel_by_user" => RecurrenceStatus::CancelByUser,
            other => RecurrenceStatus::Unknown(other.to_owned()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            RecurrenceStatus::WaitAccept => "wait_accept",
            RecurrenceStatus::Active => "active",
            RecurrenceStatus::CancelByMerchant => "cancel_by_merchant",
            RecurrenceStatus::CancelByUser => "cancel_by_user",
            RecurrenceStatus::Unknown(s) => s,
        }
    }
}

impl fmt::Display for RecurrenceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! string_enum_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(<$t>::from_wire(&s))
            }
        }
    };
}

string_enum_serde!(Period);
string_enum_serde!(RecurrenceStatus);

/// Which recurrence `/v1/recurrence/info` and `/v1/recurrence/cancel` act on.
///
/// Serializes as the request body: `{"uuid":"…"}` or `{"order_id":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurrenceRef {
    /// By Cryptomus' uuid.
    Uuid(String),
    /// By your `order_id`.
    OrderId(String),
}

impl RecurrenceRef {
    /// By Cryptomus' uuid.
    pub fn uuid(uuid: impl Into<String>) -> Self {
        RecurrenceRef::Uuid(uuid.into())
    }

    /// By your `order_id`.
    pub fn order_id(order_id: impl Into<String>) -> Self {
        RecurrenceRef::OrderId(order_id.into())
    }

    /// The uuid or order id.
    pub fn id(&self) -> &str {
        match self {
            RecurrenceRef::Uuid(s) | RecurrenceRef::OrderId(s) => s,
        }
    }

    /// The wire field: `uuid` or `order_id`.
    pub fn field(&self) -> &'static str {
        match self {
            RecurrenceRef::Uuid(_) => "uuid",
            RecurrenceRef::OrderId(_) => "order_id",
        }
    }

    /// Checks the documented limits (non-empty; `order_id` at most 100 characters).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `uuid` or `order_id`.
    pub fn validate(&self) -> Result<()> {
        let n = self.id().trim().chars().count();
        if n == 0 {
            return Err(Error::invalid(self.field(), "must not be empty"));
        }
        if matches!(self, RecurrenceRef::OrderId(_)) && n > 100 {
            return Err(Error::invalid(
                "order_id",
                format!("must be at most 100 characters, got {n}"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for RecurrenceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.field(), self.id())
    }
}

/// The body of `POST /v1/recurrence/create`, every documented parameter.
///
/// Amounts are exact and sent as JSON strings; `discount_days` as an integer. Call
/// [`CreateRecurrence::validate`] (the client does) to check the documented limits before
/// sending.
///
/// ```
/// use paycycle_core::{Currency, Money};
/// use paycycle_cryptomus::{CreateRecurrence, Period};
/// let req = CreateRecurrence::new(Money::parse("15", Currency::USD)?, "Recurring payment", Period::Monthly)
///     .to_currency(Currency::BTC)
///     .order_id("order-42")
///     .discount(30, "1".parse()?);
/// req.validate()?;
/// assert_eq!(
///     serde_json::to_string(&req)?,
///     r#"{"amount":"15","currency":"USD","name":"Recurring payment","period":"monthly","to_currency":"BTC","order_id":"order-42","discount_days":30,"discount_amount":"1"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateRecurrence {
    /// The amount charged each period, in `currency`.
    #[serde(serialize_with = "ser::decimal", deserialize_with = "de::decimal")]
    pub amount: Decimal,
    /// The price's currency (fiat or crypto).
    pub currency: Currency,
    /// Shown to the payer; 3 to 60 characters.
    pub name: String,
    /// `weekly`, `monthly` or `three_month`.
    pub period: Period,
    /// The crypto asset the payer must pay in (converted at Cryptomus' rate). Never fiat.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::opt_currency"
    )]
    pub to_currency: Option<Currency>,
    /// Your reference: 1 to 100 characters, unique across your invoices, wallets and recurrences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Where Cryptomus sends this recurrence's webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de::opt_url")]
    pub url_callback: Option<Url>,
    /// Length of the discounted first period, in days (1 to 365); requires `discount_amount`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de::opt_u32")]
    pub discount_days: Option<u32>,
    /// The price of the discounted first period, in `currency`; requires `discount_days`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_decimal",
        deserialize_with = "de::opt_decimal"
    )]
    pub discount_amount: Option<Decimal>,
    /// Free text kept with the recurrence.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de::opt_text")]
    pub additional_data: Option<String>,
}

impl CreateRecurrence {
    /// A request with the four required parameters.
    pub fn new(price: Money, name: impl Into<String>, period: Period) -> Self {
        CreateRecurrence {
            amount: price.amount,
            currency: price.currency,
            name: name.into(),
            period,
            to_currency: None,
            order_id: None,
            url_callback: None,
            discount_days: None,
            discount_amount: None,
            additional_data: None,
        }
    }

    /// The payer pays in this crypto asset.
    #[must_use]
    pub fn to_currency(mut self, currency: Currency) -> Self {
        self.to_currency = Some(currency);
        self
    }

    /// Your reference.
    #[must_use]
    pub fn order_id(mut self, order_id: impl Into<String>) -> Self {
        self.order_id = Some(order_id.into());
        self
    }

    /// The webhook URL.
    #[must_use]
    pub fn url_callback(mut self, url: Url) -> Self {
        self.url_callback = Some(url);
        self
    }

    /// The first `days` days cost `amount` (in the price's currency).
    #[must_use]
    pub fn discount(mut self, days: u32, amount: Decimal) -> Self {
        self.discount_days = Some(days);
        self.discount_amount = Some(amount);
        self
    }

    /// Free text kept with the recurrence.
    #[must_use]
    pub fn additional_data(mut self, data: impl Into<String>) -> Self {
        self.additional_data = Some(data.into());
        self
    }

    /// The price as [`Money`].
    pub fn price(&self) -> Money {
        Money::new(self.amount, self.currency)
    }

    /// Checks the documented limits.
    ///
    /// Lengths are counted in characters (not bytes) after trimming surrounding whitespace,
    /// as Cryptomus' (Laravel) validation does.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the wire field: `amount`, `name`, `period`, `to_currency`,
    /// `order_id`, `url_callback`, `discount_days` or `discount_amount`.
    pub fn validate(&self) -> Result<()> {
        if self.amount <= Decimal::ZERO {
            return Err(Error::invalid(
                "amount",
                format!("must be positive, got {}", self.amount),
            ));
        }
        let n = self.name.trim().chars().count();
        if !(3..=60).contains(&n) {
            return Err(Error::invalid("name", format!("must be 3 to 60 characters, got {n}")));
        }
        if let Period::Unknown(p) = &self.period {
            return Err(Error::invalid(
                "period",
                format!("must be weekly, monthly or three_month, got `{p}`"),
            ));
        }
        if let Some(c) = &self.to_currency {
            if !c.is_crypto() {
                return Err(Error::invalid(
                    "to_currency",
                    format!("must be a crypto asset, not the fiat currency {c}"),
                ));
            }
        }
        if let Some(o) = &self.order_id {
            let n = o.trim().chars().count();
            if !(1..=100).contains(&n) {
                return Err(Error::invalid(
                    "order_id",
                    format!("must be 1 to 100 characters, got {n}"),
                ));
            }
        }
        if let Some(u) = &self.url_callback {
            if !matches!(u.scheme(), "http" | "https") {
                return Err(Error::invalid("url_callback", "must be an http or https URL"));
            }
        }
        match (self.discount_days, self.discount_amount) {
            (Some(days), Some(amount)) => {
                if !(1..=365).contains(&days) {
                    return Err(Error::invalid(
                        "discount_days",
                        format!("must be 1 to 365 days, got {days}"),
                    ));
                }
                if amount <= Decimal::ZERO {
                    return Err(Error::invalid(
                        "discount_amount",
                        format!("must be positive, got {amount}"),
                    ));
                }
            }
            (Some(_), None) => return Err(Error::invalid("discount_amount", "is required with discount_days")),
            (None, Some(_)) => return Err(Error::invalid("discount_days", "is required with discount_amount")),
            (None, None) => {}
        }
        Ok(())
    }
}

/// A recurrence as Cryptomus returns it (from create, info, list and cancel, and as the body
/// of recurrence-shaped webhooks).
///
/// Serializing writes Cryptomus' own shape (amounts and `discount_days` as strings, `null`s
/// where Cryptomus writes them), so a parsed response serializes back to the same JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recurrence {
    /// Cryptomus' id.
    pub uuid: String,
    /// The name shown to the payer.
    #[serde(default)]
    pub name: Option<String>,
    /// Your reference.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The amount charged each period, in `currency`.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub amount: Option<Decimal>,
    /// The price's currency.
    #[serde(default, deserialize_with = "de::opt_currency")]
    pub currency: Option<Currency>,
    /// The currency the payer pays in, once known.
    #[serde(default, deserialize_with = "de::opt_currency")]
    pub payer_currency: Option<Currency>,
    /// The USD value of `payer_amount`.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub payer_amount_usd: Option<Decimal>,
    /// What the payer pays each period, in `payer_currency`.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub payer_amount: Option<Decimal>,
    /// Where webhooks go.
    #[serde(default, deserialize_with = "de::opt_url")]
    pub url_callback: Option<Url>,
    /// Length of the discounted first period, in days (Cryptomus returns it as a string).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_u32_string",
        deserialize_with = "de::opt_u32"
    )]
    pub discount_days: Option<u32>,
    /// The price of the discounted first period, in `currency`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_decimal",
        deserialize_with = "de::opt_decimal"
    )]
    pub discount_amount: Option<Decimal>,
    /// When the discounted period ends (Cryptomus writes `+03:00`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_datetime",
        deserialize_with = "de::opt_datetime"
    )]
    pub end_of_discount: Option<DateTime<FixedOffset>>,
    /// How often it charges.
    #[serde(default)]
    pub period: Option<Period>,
    /// Its state.
    #[serde(default)]
    pub status: Option<RecurrenceStatus>,
    /// The payment page to send the payer to.
    #[serde(default, deserialize_with = "de::opt_url")]
    pub url: Option<Url>,
    /// The last payment; `None` when nothing was paid yet.
    #[serde(default, deserialize_with = "de::opt_last_pay_off")]
    pub last_pay_off: Option<LastPayOff>,
    /// Your free text.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de::opt_text")]
    pub additional_data: Option<String>,
    /// The JSON object as received. Filled by [`crate::CryptomusClient`] and the webhook
    /// verifier; `Null` when a `Recurrence` is deserialized directly.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

impl Recurrence {
    /// The price as [`Money`], when both amount and currency are present.
    pub fn price(&self) -> Option<Money> {
        Some(Money::new(self.amount?, self.currency?))
    }

    /// What the payer pays each period, as [`Money`] in the payer's currency, when known.
    pub fn payer_price(&self) -> Option<Money> {
        Some(Money::new(self.payer_amount?, self.payer_currency?))
    }

    /// The discounted first-period price as [`Money`], when there is one.
    pub fn discount_price(&self) -> Option<Money> {
        Some(Money::new(self.discount_amount?, self.currency?))
    }
}

/// `last_pay_off`: documented as "UTC+3" with no stated format, so it is kept exactly as sent
/// ([`LastPayOff::raw`]) with a best-effort instant ([`LastPayOff::at`]).
///
/// Read formats: RFC 3339 (with its own offset), and `YYYY-MM-DD HH:MM:SS` or
/// `YYYY-MM-DDTHH:MM:SS` (optionally with fractional seconds) taken as `+03:00`. Anything else
/// leaves `at` empty; it never fails the response.
///
/// ```
/// use paycycle_cryptomus::LastPayOff;
/// let p = LastPayOff::parse("2024-05-01 12:00:00");
/// assert_eq!(p.at.map(|t| t.to_rfc3339()).as_deref(), Some("2024-05-01T09:00:00+00:00"));
/// assert_eq!(LastPayOff::parse("yesterday").at, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastPayOff {
    /// The value as Cryptomus wrote it.
    pub raw: String,
    /// The instant, when the format was recognized.
    pub at: Option<DateTime<Utc>>,
}

impl LastPayOff {
    /// Keeps `raw` and parses what it can.
    pub fn parse(raw: impl Into<String>) -> LastPayOff {
        let raw = raw.into();
        let at = parse_provider_time(&raw).map(|t| t.with_timezone(&Utc));
        LastPayOff { raw, at }
    }
}

impl Serialize for LastPayOff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

/// Cryptomus' time zone, UTC+3.
fn utc_plus_3() -> Option<FixedOffset> {
    FixedOffset::east_opt(3 * 3600)
}

/// RFC 3339, or a naive `YYYY-MM-DD[ T]HH:MM:SS[.fff]` taken as UTC+3.
fn parse_provider_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .and_then(|naive| naive.and_local_timezone(utc_plus_3()?).single())
}

/// The `paginate` member of a list response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Paginate {
    /// Items on this page.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub count: Option<u64>,
    /// Whether there is more than one page.
    #[serde(default)]
    pub has_pages: Option<bool>,
    /// The cursor of the next page; `None` on the last.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub next_cursor: Option<String>,
    /// The cursor of the previous page.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub previous_cursor: Option<String>,
    /// Page size.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub per_page: Option<u64>,
}

/// One page of `POST /v1/recurrence/list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecurrencePage {
    /// The recurrences.
    #[serde(default)]
    pub items: Vec<Recurrence>,
    /// Paging information.
    #[serde(default)]
    pub paginate: Paginate,
}

impl RecurrencePage {
    /// The cursor of the next page, `None` on the last page.
    pub fn next_cursor(&self) -> Option<&str> {
        self.paginate.next_cursor.as_deref()
    }
}

/// The body of a payment webhook (`type` = `payment` or `wallet`), as documented for invoices
/// and, as far as is known, sent for each charge of a recurrence (correlate by `order_id`).
///
/// Every field is optional and unknown fields are ignored; the whole body is kept in
/// [`paycycle_core::WebhookEvent::raw`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentWebhook {
    /// `payment` (an invoice) or `wallet` (a static wallet).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The payment's uuid.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Your reference.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub order_id: Option<String>,
    /// The amount asked, in `currency`.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub amount: Option<Decimal>,
    /// What the payer paid, in `payer_currency`.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub payment_amount: Option<Decimal>,
    /// The USD value of `payment_amount`.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub payment_amount_usd: Option<Decimal>,
    /// What the merchant receives after commission.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub merchant_amount: Option<Decimal>,
    /// Cryptomus' commission.
    #[serde(default, serialize_with = "ser::opt_decimal", deserialize_with = "de::opt_decimal")]
    pub commission: Option<Decimal>,
    /// True when the status will not change any more.
    #[serde(default)]
    pub is_final: Option<bool>,
    /// The payment status (`paid`, `paid_over`, `fail`, `wrong_amount`, `process`…), as sent.
    #[serde(default)]
    pub status: Option<String>,
    /// The payer's address.
    #[serde(default)]
    pub from: Option<String>,
    /// The static wallet's uuid (`wallet` webhooks).
    #[serde(default)]
    pub wallet_address_uuid: Option<String>,
    /// The blockchain network.
    #[serde(default)]
    pub network: Option<String>,
    /// The currency of `amount`.
    #[serde(default, deserialize_with = "de::opt_currency")]
    pub currency: Option<Currency>,
    /// The currency the payer paid in.
    #[serde(default, deserialize_with = "de::opt_currency")]
    pub payer_currency: Option<Currency>,
    /// Your free text.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub additional_data: Option<String>,
    /// Conversion details, when the payment was converted (kept as JSON).
    #[serde(default)]
    pub convert: Option<serde_json::Value>,
    /// The blockchain transaction id.
    #[serde(default)]
    pub txid: Option<String>,
}

impl PaymentWebhook {
    /// The amount asked, as [`Money`] in `currency`.
    pub fn amount_money(&self) -> Option<Money> {
        Some(Money::new(self.amount?, self.currency?))
    }

    /// What the payer paid, as [`Money`] in `payer_currency`.
    pub fn paid_money(&self) -> Option<Money> {
        Some(Money::new(self.payment_amount?, self.payer_currency?))
    }
}

/// Serializers for Cryptomus' string forms.
mod ser {
    use super::*;

    pub(super) fn decimal<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub(super) fn opt_decimal<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(d),
            None => s.serialize_none(),
        }
    }

    pub(super) fn opt_u32_string<S: Serializer>(n: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match n {
            Some(n) => s.collect_str(n),
            None => s.serialize_none(),
        }
    }

    pub(super) fn opt_datetime<S: Serializer>(t: &Option<DateTime<FixedOffset>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&t.format("%Y-%m-%dT%H:%M:%S%:z")),
            None => s.serialize_none(),
        }
    }
}

/// Tolerant deserializers: strings or numbers, `null` or `""` as absent, never through a float
/// where the text is available.
pub(crate) mod de {
    use super::*;
    use paycycle_core::rust_decimal::prelude::FromPrimitive;
    use serde::de::{self, MapAccess, Visitor};

    /// An exact decimal from its text: `"15"`, `"15.00"`, `"0.00051495"` (an exponent is
    /// accepted only for the rare JSON number written that way).
    pub(crate) fn decimal_from_text(text: &str) -> Result<Decimal, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("an empty amount".to_owned());
        }
        let parsed = if t.contains(['e', 'E']) {
            Decimal::from_scientific(t)
        } else {
            Decimal::from_str_exact(t)
        };
        parsed.map_err(|e| format!("`{}` is not an exact decimal amount: {e}", excerpt(t)))
    }

    fn excerpt(t: &str) -> String {
        t.chars().take(40).collect()
    }

    /// Reads a decimal or nothing. JSON numbers (Cryptomus sends strings) are read from their
    /// text: integers exactly; a fractional number has already been parsed by `serde_json` as a
    /// float, and is read from its shortest round-trip text, which is what PHP (the sender,
    /// `serialize_precision = -1`) writes. With `serde_json/arbitrary_precision` the literal
    /// text is used.
    struct OptDecimal;

    impl<'de> Visitor<'de> for OptDecimal {
        type Value = Option<Decimal>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal amount as a string or a number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            decimal_from_text(v).map(Some).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(v)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(v)))
        }

        // Not `Decimal::from`: it panics beyond 96 bits.
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
            <Decimal as FromPrimitive>::from_u128(v)
                .map(Some)
                .ok_or_else(|| E::custom(format!("{v} is too large for an amount")))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
            <Decimal as FromPrimitive>::from_i128(v)
                .map(Some)
                .ok_or_else(|| E::custom(format!("{v} is too large for an amount")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            let n = serde_json::Number::from_f64(v).ok_or_else(|| E::custom("a non-finite amount"))?;
            decimal_from_text(&n.to_string()).map(Some).map_err(E::custom)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            // serde_json's `arbitrary_precision` hands numbers over as a one-entry map.
            let n = serde_json::Number::deserialize(de::value::MapAccessDeserializer::new(map))?;
            decimal_from_text(&n.to_string()).map(Some).map_err(de::Error::custom)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(OptDecimal)
        }
    }

    pub(crate) fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        d.deserialize_any(OptDecimal)
    }

    pub(crate) fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        opt_decimal(d)?.ok_or_else(|| de::Error::custom("a required amount is missing"))
    }

    /// A non-negative integer as a number or a string (`30` or `"30"`).
    struct OptU64;

    impl<'de> Visitor<'de> for OptU64 {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer as a number or a string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<u64>()
                .map(Some)
                .map_err(|_| E::custom(format!("`{}` is not a non-negative integer", excerpt(t))))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} is negative")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // `30.0`: only whole numbers are accepted, through their text (no float cast).
            let n = serde_json::Number::from_f64(v).ok_or_else(|| E::custom("a non-finite number"))?;
            let text = n.to_string();
            let d = decimal_from_text(&text).map_err(E::custom)?;
            if d.fract() != Decimal::ZERO || d < Decimal::ZERO {
                return Err(E::custom(format!("{text} is not a non-negative integer")));
            }
            u64::try_from(d.trunc()).map(Some).map_err(E::custom)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let n = serde_json::Number::deserialize(de::value::MapAccessDeserializer::new(map))?;
            self.visit_str(&n.to_string())
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(OptU64)
        }
    }

    pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_any(OptU64)
    }

    pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match opt_u64(d)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("{n} is too large"))),
        }
    }

    /// A string; `null` is absent; any other JSON value is kept as its compact JSON text.
    pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        })
    }

    fn opt_nonempty_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.filter(|s| !s.trim().is_empty()))
    }

    pub(crate) fn opt_currency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Currency>, D::Error> {
        match opt_nonempty_string(d)? {
            None => Ok(None),
            Some(code) => Currency::from_wire(&code).map(Some).map_err(de::Error::custom),
        }
    }

    pub(crate) fn opt_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
        match opt_nonempty_string(d)? {
            None => Ok(None),
            Some(u) => Url::parse(u.trim())
                .map(Some)
                .map_err(|e| de::Error::custom(format!("`{}` is not a URL: {e}", excerpt(&u)))),
        }
    }

    pub(crate) fn opt_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        match opt_nonempty_string(d)? {
            None => Ok(None),
            Some(s) => parse_provider_time(&s)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("`{}` is not an ISO 8601 date and time", excerpt(&s)))),
        }
    }

    pub(crate) fn opt_last_pay_off<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LastPayOff>, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
            Some(serde_json::Value::String(s)) => Some(LastPayOff::parse(s)),
            // An unknown format (a number?): kept as written, with no instant guessed.
            Some(other) => Some(LastPayOff {
                raw: other.to_string(),
                at: None,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn usd(s: &str) -> Money {
        Money::parse(s, Currency::USD).unwrap()
    }

    fn valid() -> CreateRecurrence {
        CreateRecurrence::new(usd("15"), "Recurring payment", Period::Monthly)
    }

    fn invalid_field(r: &CreateRecurrence) -> String {
        match r.validate() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn enums_keep_unknown_values() {
        for (s, p) in [
            ("weekly", Period::Weekly),
            ("monthly", Period::Monthly),
            ("three_month", Period::ThreeMonth),
            ("yearly", Period::Unknown("yearly".into())),
        ] {
            assert_eq!(Period::from_wire(s), p);
            assert_eq!(serde_json::to_value(&p).unwrap(), json!(s));
            assert_eq!(serde_json::from_value::<Period>(json!(s)).unwrap(), p);
        }
        for (s, st) in [
            ("wait_accept", RecurrenceStatus::WaitAccept),
            ("active", RecurrenceStatus::Active),
            ("cancel_by_merchant", RecurrenceStatus::CancelByMerchant),
            ("cancel_by_user", RecurrenceStatus::CancelByUser),
            ("paused_by_moon", RecurrenceStatus::Unknown("paused_by_moon".into())),
        ] {
            assert_eq!(RecurrenceStatus::from_wire(s), st);
            assert_eq!(st.to_string(), s);
            assert_eq!(serde_json::from_value::<RecurrenceStatus>(json!(s)).unwrap(), st);
        }
    }

    #[test]
    fn create_serializes_amounts_as_strings_in_documented_order() {
        let r = valid()
            .to_currency(Currency::BTC)
            .order_id("o-1")
            .url_callback("https://your.site/callback".parse().unwrap())
            .discount(30, dec("1.50"))
            .additional_data("note");
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"amount":"15","currency":"USD","name":"Recurring payment","period":"monthly","to_currency":"BTC","order_id":"o-1","url_callback":"https://your.site/callback","discount_days":30,"discount_amount":"1.50","additional_data":"note"}"#
        );
        assert_eq!(
            serde_json::to_string(&valid()).unwrap(),
            r#"{"amount":"15","currency":"USD","name":"Recurring payment","period":"monthly"}"#
        );
        // The amount keeps the scale the caller gave.
        let r = CreateRecurrence::new(
            Money::parse("0.00051495", Currency::BTC).unwrap(),
            "abc",
            Period::Weekly,
        );
        assert!(serde_json::to_string(&r).unwrap().contains(r#""amount":"0.00051495""#));
    }

    #[test]
    fn validation_names_the_wire_field() {
        assert!(valid().validate().is_ok());
        let mut r = valid();
        r.amount = Decimal::ZERO;
        assert_eq!(invalid_field(&r), "amount");
        r.amount = dec("-1");
        assert_eq!(invalid_field(&r), "amount");

        let mut r = valid();
        r.name = "ab".into();
        assert_eq!(invalid_field(&r), "name");
        r.name = "  ab  ".into();
        assert_eq!(invalid_field(&r), "name", "surrounding spaces do not count");
        r.name = "ñño".into(); // 3 chars, 5 bytes
        assert!(r.validate().is_ok());
        r.name = "é".repeat(60); // 60 chars, 120 bytes
        assert!(r.validate().is_ok());
        r.name = "é".repeat(61);
        assert_eq!(invalid_field(&r), "name");

        let mut r = valid();
        r.period = Period::Unknown("yearly".into());
        assert_eq!(invalid_field(&r), "period");

        assert_eq!(invalid_field(&valid().to_currency(Currency::EUR)), "to_currency");
        assert!(valid().to_currency(Currency::USDT).validate().is_ok());
        assert!(
            valid()
                .to_currency(Currency::from_wire("NEWCOIN").unwrap())
                .validate()
                .is_ok()
        );

        assert_eq!(invalid_field(&valid().order_id("")), "order_id");
        assert_eq!(invalid_field(&valid().order_id("   ")), "order_id");
        assert!(valid().order_id("x".repeat(100)).validate().is_ok());
        assert!(valid().order_id("ü".repeat(100)).validate().is_ok());
        assert_eq!(invalid_field(&valid().order_id("x".repeat(101))), "order_id");

        assert_eq!(
            invalid_field(&valid().url_callback("ftp://a.example/x".parse().unwrap())),
            "url_callback"
        );

        assert!(valid().discount(1, dec("1")).validate().is_ok());
        assert!(valid().discount(365, dec("1")).validate().is_ok());
        assert_eq!(invalid_field(&valid().discount(0, dec("1"))), "discount_days");
        assert_eq!(invalid_field(&valid().discount(366, dec("1"))), "discount_days");
        assert_eq!(invalid_field(&valid().discount(30, dec("0"))), "discount_amount");
        let mut r = valid();
        r.discount_days = Some(30);
        assert_eq!(invalid_field(&r), "discount_amount");
        let mut r = valid();
        r.discount_amount = Some(dec("1"));
        assert_eq!(invalid_field(&r), "discount_days");
    }

    #[test]
    fn refs_serialize_as_the_request_body_and_validate() {
        assert_eq!(
            serde_json::to_string(&RecurrenceRef::uuid("u-1")).unwrap(),
            r#"{"uuid":"u-1"}"#
        );
        assert_eq!(
            serde_json::to_string(&RecurrenceRef::order_id("o/1")).unwrap(),
            r#"{"order_id":"o/1"}"#
        );
        assert!(RecurrenceRef::uuid("u").validate().is_ok());
        assert!(
            matches!(RecurrenceRef::uuid(" ").validate(), Err(Error::InvalidInput { field, .. }) if field == "uuid")
        );
        assert!(
            matches!(RecurrenceRef::order_id("x".repeat(101)).validate(), Err(Error::InvalidInput { field, .. }) if field == "order_id")
        );
    }

    fn rec(v: serde_json::Value) -> Result<Recurrence, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn amounts_are_exact_in_every_spelling() {
        for (input, expected) in [
            (json!("15"), "15"),
            (json!("15.00"), "15.00"),
            (json!("15.00000000"), "15.00000000"),
            (json!("0.00051495"), "0.00051495"),
            (json!(15), "15"),
            (json!(15.5), "15.5"),
            (json!(0.1), "0.1"),
        ] {
            let r = rec(json!({"uuid": "u", "amount": input})).unwrap();
            assert_eq!(r.amount.unwrap().to_string(), expected, "input {input}");
        }
        // A fractional JSON number is read from its shortest round-trip text, as PHP writes it.
        let r: Recurrence = serde_json::from_str(r#"{"uuid":"u","amount":0.30000000000000004}"#).unwrap();
        assert_eq!(r.amount.unwrap().to_string(), "0.30000000000000004");
        for absent in [json!(null), json!("")] {
            assert_eq!(rec(json!({"uuid": "u", "amount": absent})).unwrap().amount, None);
        }
        assert_eq!(rec(json!({"uuid": "u"})).unwrap().amount, None);
        // Beyond Decimal's 96 bits: an error, never a panic.
        for huge in [
            r#""100000000000000000000000000000000""#,
            "100000000000000000000000000000000",
            "1e40",
        ] {
            let body = format!(r#"{{"uuid":"u","amount":{huge}}}"#);
            assert!(serde_json::from_str::<Recurrence>(&body).is_err(), "{huge}");
        }
        for bad in [json!("abc"), json!("1,5"), json!(true), json!([1])] {
            assert!(
                rec(json!({"uuid": "u", "amount": bad})).is_err(),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn discount_days_as_string_or_number() {
        for v in [json!("30"), json!(30), json!(" 30 "), json!(30.0)] {
            assert_eq!(
                rec(json!({"uuid": "u", "discount_days": v})).unwrap().discount_days,
                Some(30)
            );
        }
        for v in [json!(null), json!("")] {
            assert_eq!(
                rec(json!({"uuid": "u", "discount_days": v})).unwrap().discount_days,
                None
            );
        }
        for bad in [json!("thirty"), json!(-1), json!(1.5), json!(5_000_000_000u64)] {
            assert!(rec(json!({"uuid": "u", "discount_days": bad})).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_read_with_their_offset() {
        let r = rec(json!({"uuid": "u", "end_of_discount": "2023-07-11T20:23:52+03:00"})).unwrap();
        let t = r.end_of_discount.unwrap();
        assert_eq!(
            t.with_timezone(&Utc),
            Utc.with_ymd_and_hms(2023, 7, 11, 17, 23, 52).unwrap()
        );
        assert_eq!(t.offset().local_minus_utc(), 3 * 3600);
        let r = rec(json!({"uuid": "u", "end_of_discount": "2023-07-11 20:23:52"})).unwrap();
        assert_eq!(r.end_of_discount.unwrap(), t);
        assert!(rec(json!({"uuid": "u", "end_of_discount": "soon"})).is_err());
    }

    #[test]
    fn last_pay_off_is_kept_raw_and_parsed_best_effort() {
        let utc = |h, m, s| Some(Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap());
        for (raw, at) in [
            ("2024-05-01 12:00:00", utc(9, 0, 0)),
            ("2024-05-01T12:00:00", utc(9, 0, 0)),
            (
                "2024-05-01 12:00:00.5",
                Some(Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap() + chrono::Duration::milliseconds(500)),
            ),
            ("2024-05-01T12:00:00+03:00", utc(9, 0, 0)),
            ("2024-05-01T09:00:00Z", utc(9, 0, 0)),
            ("01.05.2024 12:00", None),
        ] {
            let r = rec(json!({"uuid": "u", "last_pay_off": raw})).unwrap();
            let p = r.last_pay_off.unwrap();
            assert_eq!(p.raw, raw);
            assert_eq!(p.at, at, "{raw}");
        }
        let r = rec(json!({"uuid": "u", "last_pay_off": 1714550400})).unwrap();
        assert_eq!(
            r.last_pay_off,
            Some(LastPayOff {
                raw: "1714550400".into(),
                at: None
            })
        );
        assert_eq!(
            rec(json!({"uuid": "u", "last_pay_off": null})).unwrap().last_pay_off,
            None
        );
    }

    #[test]
    fn unknown_fields_and_values_are_tolerated_missing_uuid_is_not() {
        let r = rec(json!({
            "uuid": "u", "status": "frozen", "period": "daily", "brand_new": {"x": 1},
            "payer_currency": "NEWCOIN", "url": "", "additional_data": {"k": "v"}
        }))
        .unwrap();
        assert_eq!(r.status, Some(RecurrenceStatus::Unknown("frozen".into())));
        assert_eq!(r.period, Some(Period::Unknown("daily".into())));
        assert_eq!(r.payer_currency.unwrap().code(), "NEWCOIN");
        assert_eq!(r.url, None);
        assert_eq!(r.additional_data.as_deref(), Some(r#"{"k":"v"}"#));
        assert!(rec(json!({"status": "active"})).is_err());
    }

    proptest::proptest! {
        #[test]
        fn amounts_survive_the_wire_exactly(units in -10_000_000_000_000i64..10_000_000_000_000, scale in 0u32..18) {
            let d = Decimal::new(units, scale);
            // As Cryptomus sends it (a string), and as a JSON number in the text.
            for body in [format!(r#"{{"uuid":"u","amount":"{d}"}}"#), format!(r#"{{"uuid":"u","amount":{d}}}"#)] {
                let r: Recurrence = serde_json::from_str(&body).unwrap();
                proptest::prop_assert_eq!(r.amount, Some(d), "{}", body);
            }
            let r: Recurrence = serde_json::from_str(&format!(r#"{{"uuid":"u","amount":"{d}"}}"#)).unwrap();
            proptest::prop_assert_eq!(r.amount.unwrap().to_string(), d.to_string(), "the scale is kept");
            let back = serde_json::to_value(&r).unwrap();
            proptest::prop_assert_eq!(&back["amount"], &serde_json::json!(d.to_string()));
        }
    }

    #[test]
    fn list_pages_read_camel_case_paging() {
        let p: RecurrencePage = serde_json::from_value(json!({
            "items": [{"uuid": "a"}, {"uuid": "b"}],
            "paginate": {"count": 2, "hasPages": true, "nextCursor": "c2", "previousCursor": null, "perPage": "15"}
        }))
        .unwrap();
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.next_cursor(), Some("c2"));
        assert_eq!(p.paginate.per_page, Some(15));
        let empty: RecurrencePage = serde_json::from_value(json!({})).unwrap();
        assert!(empty.items.is_empty());
        assert_eq!(empty.next_cursor(), None);
    }
}
