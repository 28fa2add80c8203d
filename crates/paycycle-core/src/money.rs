//! Exact money: a [`rust_decimal::Decimal`] amount and a validated [`Currency`].
//!
//! Nothing here passes through a float. Converting to a provider's integer minor
//! units (Recurrente's `amount_in_cents`) is exact or an error.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a money value or currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The code is not 2 to 10 ASCII letters or digits.
    #[error("`{0}` is not a currency code (2 to 10 ASCII letters or digits)")]
    InvalidCode(String),
    /// A well-formed code that is neither an ISO 4217 currency nor a known crypto asset.
    #[error("unknown currency `{0}` (use Currency::crypto for a crypto asset paycycle does not list)")]
    UnknownCurrency(String),
    /// The text is not a plain decimal number.
    #[error("`{0}` is not a decimal amount")]
    NotDecimal(String),
    /// Converting to minor units would drop digits.
    #[error("{amount} {currency} is not a whole number of minor units ({minor_units} decimals)")]
    InexactMinorUnits {
        /// The amount refused.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
        /// The decimals the currency allows.
        minor_units: u32,
    },
    /// The currency has no minor units (a crypto asset).
    #[error("{0} is a crypto asset and has no fiat minor units")]
    NoMinorUnits(Currency),
    /// The value does not fit the target integer or decimal.
    #[error("amount out of range")]
    Overflow,
    /// Two amounts of different currencies were combined.
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// Whether a currency is fiat (with ISO 4217 minor units) or a crypto asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CurrencyKind {
    /// A fiat currency; `minor_units` is the number of decimals (2 for GTQ and USD, 0 for JPY).
    Fiat {
        /// Decimals of the minor unit.
        minor_units: u8,
    },
    /// A crypto asset; `decimals` is its on-chain precision when paycycle knows it.
    Crypto {
        /// On-chain decimals, if known.
        decimals: Option<u8>,
    },
}

const CODE_MAX: usize = 10;

/// A validated currency code that knows whether it is fiat or crypto.
///
/// ```
/// use paycycle_core::{Currency, CurrencyKind};
/// let gtq: Currency = "GTQ".parse()?;
/// assert_eq!(gtq.kind(), CurrencyKind::Fiat { minor_units: 2 });
/// assert!("USDT".parse::<Currency>()?.is_crypto());
/// assert!("UDS".parse::<Currency>().is_err()); // a typo is not a currency
/// # Ok::<(), paycycle_core::MoneyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; CODE_MAX],
    len: u8,
    kind: CurrencyKind,
}

/// ISO 4217 codes whose minor unit is not 2 decimals.
const FIAT_NOT_TWO: &[(&str, u8)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// ISO 4217 codes with 2 decimals.
const FIAT_TWO: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
    "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON",
    "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD",
    "YER", "ZAR", "ZMW", "ZWL",
];

/// Crypto assets paycycle knows, with their on-chain decimals (Cryptomus' list and the usual ones).
const CRYPTO: &[(&str, u8)] = &[
    ("BTC", 8),
    ("ETH", 18),
    ("USDT", 6),
    ("USDC", 6),
    ("LTC", 8),
    ("TRX", 6),
    ("BNB", 18),
    ("DOGE", 8),
    ("TON", 9),
    ("SOL", 9),
    ("XMR", 12),
    ("DAI", 18),
    ("BCH", 8),
    ("DASH", 8),
    ("MATIC", 18),
    ("POL", 18),
    ("SHIB", 18),
    ("AVAX", 18),
    ("CGPT", 18),
    ("VERSE", 18),
    ("BUSD", 18),
    ("XRP", 6),
    ("ADA", 6),
    ("DOT", 10),
    ("ARB", 18),
    ("OP", 18),
    ("HMSTR", 9),
    ("NOT", 9),
    ("DOGS", 9),
];

impl Currency {
    /// Guatemalan quetzal.
    pub const GTQ: Currency = Currency::fiat_const(*b"GTQ", 2);
    /// US dollar.
    pub const USD: Currency = Currency::fiat_const(*b"USD", 2);
    /// Euro.
    pub const EUR: Currency = Currency::fiat_const(*b"EUR", 2);
    /// Tether.
    pub const USDT: Currency = Currency::crypto_const(*b"USDT", 6);
    /// Bitcoin.
    pub const BTC: Currency = Currency::crypto_const(*b"BTC", 8);

    const fn fiat_const<const N: usize>(code: [u8; N], minor_units: u8) -> Currency {
        Currency::from_bytes_const(code, CurrencyKind::Fiat { minor_units })
    }

    const fn crypto_const<const N: usize>(code: [u8; N], decimals: u8) -> Currency {
        Currency::from_bytes_const(
            code,
            CurrencyKind::Crypto {
                decimals: Some(decimals),
            },
        )
    }

    const fn from_bytes_const<const N: usize>(code: [u8; N], kind: CurrencyKind) -> Currency {
        let mut buf = [0u8; CODE_MAX];
        let mut i = 0;
        while i < N && i < CODE_MAX {
            buf[i] = code[i];
            i += 1;
        }
        Currency {
            code: buf,
            len: i as u8,
            kind,
        }
    }

    fn normalize(code: &str) -> Result<([u8; CODE_MAX], u8), MoneyError> {
        let code = code.trim();
        if !(2..=CODE_MAX).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MoneyError::InvalidCode(code.to_owned()));
        }
        let mut buf = [0u8; CODE_MAX];
        for (slot, b) in buf.iter_mut().zip(code.bytes()) {
            *slot = b.to_ascii_uppercase();
        }
        // The length was checked to be at most CODE_MAX (10), so it fits a u8.
        Ok((buf, code.len() as u8))
    }

    fn lookup(code: &str) -> Option<CurrencyKind> {
        if FIAT_TWO.binary_search(&code).is_ok() {
            return Some(CurrencyKind::Fiat { minor_units: 2 });
        }
        if let Some((_, mu)) = FIAT_NOT_TWO.iter().find(|(c, _)| *c == code) {
            return Some(CurrencyKind::Fiat { minor_units: *mu });
        }
        CRYPTO
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| CurrencyKind::Crypto { decimals: Some(*d) })
    }

    /// Parses a known code: an ISO 4217 currency or a listed crypto asset. Case-insensitive.
    ///
    /// # Errors
    /// [`MoneyError::InvalidCode`] for a malformed code, [`MoneyError::UnknownCurrency`] for one paycycle does not know.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let (buf, len) = Self::normalize(code)?;
        let mut c = Currency {
            code: buf,
            len,
            kind: CurrencyKind::Crypto { decimals: None },
        };
        c.kind = Self::lookup(c.code()).ok_or_else(|| MoneyError::UnknownCurrency(c.code().to_owned()))?;
        Ok(c)
    }

    /// A crypto asset by code, listed or not (decimals are known only for listed ones).
    ///
    /// # Errors
    /// [`MoneyError::InvalidCode`] for a malformed code or for an ISO 4217 fiat code.
    pub fn crypto(code: &str) -> Result<Currency, MoneyError> {
        let (buf, len) = Self::normalize(code)?;
        let mut c = Currency {
            code: buf,
            len,
            kind: CurrencyKind::Crypto { decimals: None },
        };
        match Self::lookup(c.code()) {
            Some(CurrencyKind::Fiat { .. }) => Err(MoneyError::InvalidCode(c.code().to_owned())),
            Some(kind) => {
                c.kind = kind;
                Ok(c)
            }
            None => Ok(c),
        }
    }

    /// Reads a code a provider sent: known codes as [`Currency::parse`], any other well-formed
    /// code as a crypto asset of unknown decimals (a provider's new coin must not break parsing).
    ///
    /// # Errors
    /// [`MoneyError::InvalidCode`] for a malformed code.
    pub fn from_wire(code: &str) -> Result<Currency, MoneyError> {
        match Self::parse(code) {
            Err(MoneyError::UnknownCurrency(_)) => Self::crypto(code),
            other => other,
        }
    }

    /// The upper-case code, e.g. `"GTQ"`.
    pub fn code(&self) -> &str {
        // Only ASCII alphanumerics are ever stored, so this cannot fail.
        std::str::from_utf8(&self.code[..usize::from(self.len)]).unwrap_or("")
    }

    /// Fiat or crypto.
    pub fn kind(&self) -> CurrencyKind {
        self.kind
    }

    /// True for crypto assets.
    pub fn is_crypto(&self) -> bool {
        matches!(self.kind, CurrencyKind::Crypto { .. })
    }

    /// True for fiat currencies.
    pub fn is_fiat(&self) -> bool {
        !self.is_crypto()
    }

    /// Decimals of the smallest unit, when known (fiat minor units or crypto decimals).
    pub fn precision(&self) -> Option<u32> {
        match self.kind {
            CurrencyKind::Fiat { minor_units } => Some(u32::from(minor_units)),
            CurrencyKind::Crypto { decimals } => decimals.map(u32::from),
        }
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::from_wire(&s).map_err(serde::de::Error::custom)
    }
}

/// An exact amount of a currency.
///
/// ```
/// use paycycle_core::{Currency, Money};
/// let price = Money::parse("49.90", Currency::GTQ)?;
/// assert_eq!(price.to_minor_units()?, 4990);
/// assert_eq!(price.to_string(), "49.90 GTQ");
/// assert!(Money::parse("0.005", Currency::USD)?.to_minor_units().is_err()); // half a cent
/// # Ok::<(), paycycle_core::MoneyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount, exact. Serialized as a string.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount of a currency.
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// Parses a plain decimal (`"15"`, `"15.00"`, `"0.00051495"`); no exponent, no thousands separators.
    ///
    /// # Errors
    /// [`MoneyError::NotDecimal`] when the text is not a plain decimal number.
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let t = amount.trim();
        let plain = !t.is_empty()
            && t.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && b == b'-'))
            && t.bytes().filter(|b| *b == b'.').count() <= 1
            && t.bytes().any(|b| b.is_ascii_digit());
        if !plain {
            return Err(MoneyError::NotDecimal(amount.to_owned()));
        }
        let d = Decimal::from_str_exact(t).map_err(|_| MoneyError::NotDecimal(amount.to_owned()))?;
        Ok(Money::new(d, currency))
    }

    /// From integer minor units of a fiat currency (e.g. cents).
    ///
    /// # Errors
    /// [`MoneyError::NoMinorUnits`] for a crypto currency.
    pub fn from_minor_units(units: i64, currency: Currency) -> Result<Money, MoneyError> {
        match currency.kind {
            CurrencyKind::Fiat { minor_units } => Ok(Money::new(Decimal::new(units, u32::from(minor_units)), currency)),
            CurrencyKind::Crypto { .. } => Err(MoneyError::NoMinorUnits(currency)),
        }
    }

    /// To integer minor units of a fiat currency, exactly.
    ///
    /// # Errors
    /// [`MoneyError::InexactMinorUnits`] when digits would be dropped, [`MoneyError::Overflow`]
    /// when the result does not fit an `i64`, [`MoneyError::NoMinorUnits`] for crypto.
    pub fn to_minor_units(&self) -> Result<i64, MoneyError> {
        let CurrencyKind::Fiat { minor_units } = self.currency.kind else {
            return Err(MoneyError::NoMinorUnits(self.currency));
        };
        let mu = u32::from(minor_units);
        let scale = Decimal::from(10i64.pow(mu));
        let scaled = self.amount.checked_mul(scale).ok_or(MoneyError::Overflow)?;
        if scaled.fract() != Decimal::ZERO {
            return Err(MoneyError::InexactMinorUnits {
                amount: self.amount,
                currency: self.currency,
                minor_units: mu,
            });
        }
        i64::try_from(scaled.trunc()).map_err(|_| MoneyError::Overflow)
    }

    /// True when the amount is greater than zero.
    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }

    /// The amount as text, padded to the currency's minor units for fiat (`15` GTQ → `"15.00"`)
    /// and without trailing zeros for crypto (`15.00000000` USDT → `"15"`).
    pub fn amount_string(&self) -> String {
        let mut a = self.amount.normalize();
        if let CurrencyKind::Fiat { minor_units } = self.currency.kind {
            if a.scale() < u32::from(minor_units) {
                a.rescale(u32::from(minor_units));
            }
        }
        a.to_string()
    }

    /// Sum of two amounts of the same currency.
    ///
    /// # Errors
    /// [`MoneyError::CurrencyMismatch`] or [`MoneyError::Overflow`].
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let amount = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    /// Parses `"15.00 GTQ"`, the form [`Display`](fmt::Display) writes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (amount, code) = s
            .trim()
            .rsplit_once(' ')
            .ok_or_else(|| MoneyError::NotDecimal(s.to_owned()))?;
        Money::parse(amount, Currency::from_wire(code)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fiat_table_is_sorted_for_binary_search() {
        let mut sorted = FIAT_TWO.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, FIAT_TWO);
    }

    #[test]
    fn codes_are_validated_and_classified() {
        assert_eq!(Currency::parse("gtq").unwrap(), Currency::GTQ);
        assert_eq!(Currency::parse("JPY").unwrap().precision(), Some(0));
        assert_eq!(Currency::parse("KWD").unwrap().precision(), Some(3));
        assert_eq!(Currency::parse("BTC").unwrap(), Currency::BTC);
        assert!(matches!(Currency::parse("UDS"), Err(MoneyError::UnknownCurrency(_))));
        assert!(matches!(Currency::parse("U$D"), Err(MoneyError::InvalidCode(_))));
        assert!(matches!(Currency::parse(""), Err(MoneyError::InvalidCode(_))));
        assert!(matches!(Currency::crypto("USD"), Err(MoneyError::InvalidCode(_))));
        let new_coin = Currency::from_wire("NEWCOIN").unwrap();
        assert!(new_coin.is_crypto());
        assert_eq!(new_coin.precision(), None);
        assert_eq!(new_coin.code(), "NEWCOIN");
    }

    #[test]
    fn minor_units_are_exact_or_an_error() {
        let m = Money::parse("30.00", Currency::GTQ).unwrap();
        assert_eq!(m.to_minor_units().unwrap(), 3000);
        assert_eq!(Money::from_minor_units(3000, Currency::GTQ).unwrap(), m);
        assert!(matches!(
            Money::parse("10.005", Currency::GTQ).unwrap().to_minor_units(),
            Err(MoneyError::InexactMinorUnits { .. })
        ));
        assert_eq!(
            Money::parse("7", Currency::parse("JPY").unwrap())
                .unwrap()
                .to_minor_units()
                .unwrap(),
            7
        );
        assert!(matches!(
            Money::parse("1", Currency::BTC).unwrap().to_minor_units(),
            Err(MoneyError::NoMinorUnits(_))
        ));
        let huge = Money::new(Decimal::MAX, Currency::USD);
        assert!(matches!(huge.to_minor_units(), Err(MoneyError::Overflow)));
    }

    #[test]
    fn parse_rejects_non_plain_numbers() {
        for bad in ["", "1e3", "1,000.00", "abc", "1.2.3", "--1", ".", " "] {
            assert!(Money::parse(bad, Currency::USD).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            Money::parse("0.00051495", Currency::BTC).unwrap().amount.to_string(),
            "0.00051495"
        );
    }

    #[test]
    fn display_pads_fiat_and_trims_crypto() {
        assert_eq!(Money::parse("15", Currency::USD).unwrap().to_string(), "15.00 USD");
        assert_eq!(
            Money::parse("15.00000000", Currency::USDT).unwrap().to_string(),
            "15 USDT"
        );
        assert_eq!(Money::parse("0.1", Currency::GTQ).unwrap().to_string(), "0.10 GTQ");
    }

    #[test]
    fn serde_keeps_amount_as_string() {
        let m = Money::parse("15.50", Currency::USD).unwrap();
        let v = serde_json::to_value(m).unwrap();
        assert_eq!(v, serde_json::json!({"amount": "15.50", "currency": "USD"}));
        let back: Money = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    fn currencies() -> impl Strategy<Value = Currency> {
        prop_oneof![
            Just(Currency::GTQ),
            Just(Currency::USD),
            Just(Currency::parse("JPY").unwrap()),
            Just(Currency::parse("KWD").unwrap()),
            Just(Currency::BTC),
            Just(Currency::USDT),
        ]
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(units in -1_000_000_000_000i64..1_000_000_000_000, scale in 0u32..12, cur in currencies()) {
            let m = Money::new(Decimal::new(units, scale), cur);
            let back: Money = m.to_string().parse().unwrap();
            prop_assert_eq!(back, m);
        }

        #[test]
        fn minor_units_round_trip_exactly(units in -1_000_000_000_000i64..1_000_000_000_000, cur in currencies()) {
            prop_assume!(cur.is_fiat());
            let m = Money::from_minor_units(units, cur).unwrap();
            prop_assert_eq!(m.to_minor_units().unwrap(), units);
        }

        #[test]
        fn minor_unit_conversion_is_exact_or_an_error(units in -1_000_000_000i64..1_000_000_000, scale in 0u32..8, cur in currencies()) {
            let m = Money::new(Decimal::new(units, scale), cur);
            match m.to_minor_units() {
                // When it succeeds, converting back gives the same amount: nothing was dropped.
                Ok(minor) => prop_assert_eq!(Money::from_minor_units(minor, cur).unwrap(), m),
                Err(MoneyError::InexactMinorUnits { .. }) => {
                    let mu = cur.precision().unwrap();
                    prop_assert!(m.amount.normalize().scale() > mu);
                }
                Err(MoneyError::NoMinorUnits(_)) => prop_assert!(cur.is_crypto()),
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }
}
