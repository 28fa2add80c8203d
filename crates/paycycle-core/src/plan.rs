//! What is sold: [`RecurringPlan`] with its price, [`Interval`], trial, intro offer and sign-up
//! fee.

use std::fmt;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::money::{Currency, Money};

/// The unit of a billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntervalUnit {
    /// A day: exactly 24 hours (UTC has no daylight saving time, so the same time of day).
    Day,
    /// Seven days.
    Week,
    /// A calendar month (the same day next month, clamped to the month's last day).
    Month,
    /// A calendar year.
    Year,
}

impl IntervalUnit {
    /// The unit's name as providers spell it on the wire and in serde: `day`, `week`, `month`,
    /// `year`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Day => "day",
            IntervalUnit::Week => "week",
            IntervalUnit::Month => "month",
            IntervalUnit::Year => "year",
        }
    }
}

impl fmt::Display for IntervalUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A billing interval: `count` × `unit`, e.g. every 3 months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    /// The unit.
    pub unit: IntervalUnit,
    /// How many units; at least 1.
    pub count: NonZeroU32,
}

impl Interval {
    /// `count` × `unit`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `count` is zero.
    pub fn new(unit: IntervalUnit, count: u32) -> Result<Interval, Error> {
        let count = NonZeroU32::new(count).ok_or_else(|| Error::invalid("interval.count", "must be at least 1"))?;
        Ok(Interval { unit, count })
    }

    const fn one(unit: IntervalUnit) -> Interval {
        Interval {
            unit,
            count: NonZeroU32::MIN,
        }
    }

    /// Every day.
    pub const fn daily() -> Interval {
        Interval::one(IntervalUnit::Day)
    }

    /// Every `n` days (exact days, e.g. a 14-day trial).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `n` is zero.
    pub fn days(n: u32) -> Result<Interval, Error> {
        Interval::new(IntervalUnit::Day, n)
    }

    /// Every week.
    pub const fn weekly() -> Interval {
        Interval::one(IntervalUnit::Week)
    }

    /// Every month.
    pub const fn monthly() -> Interval {
        Interval::one(IntervalUnit::Month)
    }

    /// Every year.
    pub const fn yearly() -> Interval {
        Interval::one(IntervalUnit::Year)
    }

    /// Every `n` months.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `n` is zero.
    pub fn months(n: u32) -> Result<Interval, Error> {
        Interval::new(IntervalUnit::Month, n)
    }

    /// Adds this interval `times` times to an instant: days and weeks as exact durations,
    /// months and years as calendar months. `None` on overflow.
    pub fn add_to(&self, at: chrono::DateTime<chrono::Utc>, times: u32) -> Option<chrono::DateTime<chrono::Utc>> {
        let n = self.count.get().checked_mul(times)?;
        match self.unit {
            IntervalUnit::Day => at.checked_add_signed(chrono::Duration::try_days(i64::from(n))?),
            IntervalUnit::Week => at.checked_add_signed(chrono::Duration::weeks(i64::from(n))),
            IntervalUnit::Month => at.checked_add_months(chrono::Months::new(n)),
            IntervalUnit::Year => at.checked_add_months(chrono::Months::new(n.checked_mul(12)?)),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self.unit.as_str();
        match self.count.get() {
            1 => write!(f, "every {unit}"),
            n => write!(f, "every {n} {unit}s"),
        }
    }
}

/// A reduced price for the first days of a subscription (Cryptomus' `discount_days`/`discount_amount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntroOffer {
    /// The price charged while the offer lasts; same currency as the plan's price.
    pub price: Money,
    /// How many days from the start the offer lasts.
    pub days: NonZeroU32,
}

/// What is sold: a price charged every interval, with optional trial, intro offer, sign-up fee
/// and end.
///
/// Build one with [`RecurringPlan::builder`]; `build()` checks what can be checked without
/// knowing the gateway (what a gateway cannot honour is refused by it as
/// [`Error::Unsupported`], never dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurringPlan {
    /// Shown to the payer.
    pub name: String,
    /// Charged every interval.
    pub price: Money,
    /// How often.
    pub interval: Interval,
    /// A free trial before the first charge.
    pub trial: Option<Interval>,
    /// A reduced price at the start.
    pub intro: Option<IntroOffer>,
    /// Cancel automatically after this many paid periods.
    pub end_after_periods: Option<NonZeroU32>,
    /// The currency the payer pays in when it differs from the price's (Cryptomus' `to_currency`).
    pub payer_currency: Option<Currency>,
    /// A sign-up fee: charged once, with the first payment, on top of the price; never with
    /// renewals. Same currency as the price, positive. With a free trial, when the fee is
    /// charged is the gateway's (Recurrente charges its one-time items at checkout). Needs
    /// [`Capabilities::setup_fee`](crate::Capabilities::setup_fee).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_fee: Option<Money>,
}

impl RecurringPlan {
    /// Starts a plan: a name, a price and an interval.
    pub fn builder(name: impl Into<String>, price: Money, interval: Interval) -> RecurringPlanBuilder {
        RecurringPlanBuilder {
            plan: RecurringPlan {
                name: name.into(),
                price,
                interval,
                trial: None,
                intro: None,
                end_after_periods: None,
                payer_currency: None,
                setup_fee: None,
            },
            error: None,
        }
    }

    /// Checks the plan's own consistency (the builder calls this).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("plan.name", "must not be empty"));
        }
        if !self.price.is_positive() {
            return Err(Error::invalid(
                "plan.price",
                format!("must be positive, got {}", self.price),
            ));
        }
        if let Some(intro) = &self.intro {
            if intro.price.currency != self.price.currency {
                return Err(Error::invalid(
                    "plan.intro.price",
                    format!(
                        "must be in the plan's currency {}, got {}",
                        self.price.currency, intro.price.currency
                    ),
                ));
            }
            if !intro.price.is_positive() {
                return Err(Error::invalid(
                    "plan.intro.price",
                    format!("must be positive, got {}", intro.price),
                ));
            }
            if intro.price.amount >= self.price.amount {
                return Err(Error::invalid(
                    "plan.intro.price",
                    format!("must be below the plan's price {}, got {}", self.price, intro.price),
                ));
            }
        }
        if let Some(fee) = &self.setup_fee {
            if fee.currency != self.price.currency {
                return Err(Error::invalid(
                    "plan.setup_fee",
                    format!(
                        "must be in the plan's currency {}, got {}",
                        self.price.currency, fee.currency
                    ),
                ));
            }
            if !fee.is_positive() {
                return Err(Error::invalid("plan.setup_fee", format!("must be positive, got {fee}")));
            }
        }
        if let Some(pc) = self.payer_currency {
            if pc == self.price.currency {
                return Err(Error::invalid(
                    "plan.payer_currency",
                    "is the price's own currency; leave it unset",
                ));
            }
        }
        Ok(())
    }
}

/// Builds a [`RecurringPlan`].
#[derive(Debug)]
#[must_use]
pub struct RecurringPlanBuilder {
    plan: RecurringPlan,
    error: Option<Error>,
}

impl RecurringPlanBuilder {
    fn fail(mut self, e: Error) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// A free trial of this length before the first charge.
    pub fn trial(mut self, trial: Interval) -> Self {
        self.plan.trial = Some(trial);
        self
    }

    /// Charges `price` instead of the plan's price during the first `days` days.
    pub fn intro_offer(mut self, price: Money, days: u32) -> Self {
        match NonZeroU32::new(days) {
            Some(days) => {
                self.plan.intro = Some(IntroOffer { price, days });
                self
            }
            None => self.fail(Error::invalid("plan.intro.days", "must be at least 1")),
        }
    }

    /// Cancels automatically after `periods` paid periods.
    pub fn end_after_periods(mut self, periods: u32) -> Self {
        match NonZeroU32::new(periods) {
            Some(p) => {
                self.plan.end_after_periods = Some(p);
                self
            }
            None => self.fail(Error::invalid("plan.end_after_periods", "must be at least 1")),
        }
    }

    /// A sign-up fee charged once, with the first payment (see [`RecurringPlan::setup_fee`]).
    pub fn setup_fee(mut self, fee: Money) -> Self {
        self.plan.setup_fee = Some(fee);
        self
    }

    /// The payer pays in this currency (converted by the gateway at its rate).
    pub fn payer_currency(mut self, currency: Currency) -> Self {
        self.plan.payer_currency = Some(currency);
        self
    }

    /// Checks and returns the plan.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first field found wrong.
    pub fn build(self) -> Result<RecurringPlan, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.plan.validate()?;
        Ok(self.plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn gtq(s: &str) -> Money {
        Money::parse(s, Currency::GTQ).unwrap()
    }

    #[test]
    fn builder_validates_fields() {
        let ok = RecurringPlan::builder("Gold", gtq("50"), Interval::monthly())
            .trial(Interval::weekly())
            .intro_offer(gtq("10"), 30)
            .end_after_periods(12)
            .build()
            .unwrap();
        assert_eq!(ok.intro.unwrap().days.get(), 30);

        let field = |r: Result<RecurringPlan, Error>| match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        };
        assert_eq!(
            field(RecurringPlan::builder(" ", gtq("50"), Interval::monthly()).build()),
            "plan.name"
        );
        assert_eq!(
            field(RecurringPlan::builder("G", gtq("0"), Interval::monthly()).build()),
            "plan.price"
        );
        assert_eq!(
            field(
                RecurringPlan::builder("G", gtq("5"), Interval::monthly())
                    .intro_offer(gtq("5"), 3)
                    .build()
            ),
            "plan.intro.price"
        );
        assert_eq!(
            field(
                RecurringPlan::builder("G", gtq("5"), Interval::monthly())
                    .intro_offer(gtq("1"), 0)
                    .build()
            ),
            "plan.intro.days"
        );
        let usd = Money::parse("1", Currency::USD).unwrap();
        assert_eq!(
            field(
                RecurringPlan::builder("G", gtq("5"), Interval::monthly())
                    .intro_offer(usd, 3)
                    .build()
            ),
            "plan.intro.price"
        );
        assert_eq!(
            field(
                RecurringPlan::builder("G", gtq("5"), Interval::monthly())
                    .end_after_periods(0)
                    .build()
            ),
            "plan.end_after_periods"
        );
        assert!(Interval::new(IntervalUnit::Week, 0).is_err());
    }

    #[test]
    fn intervals_add_calendar_months() {
        let jan31 = chrono::Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap();
        let feb = Interval::monthly().add_to(jan31, 1).unwrap();
        assert_eq!(feb, chrono::Utc.with_ymd_and_hms(2026, 2, 28, 12, 0, 0).unwrap());
        let q = Interval::months(3).unwrap().add_to(jan31, 2).unwrap();
        assert_eq!(q, chrono::Utc.with_ymd_and_hms(2026, 7, 31, 12, 0, 0).unwrap());
        assert_eq!(
            Interval::weekly().add_to(jan31, 2).unwrap() - jan31,
            chrono::Duration::days(14)
        );
        assert_eq!(Interval::yearly().to_string(), "every year");
        assert_eq!(Interval::months(3).unwrap().to_string(), "every 3 months");
    }

    #[test]
    fn days_are_exact_days() {
        let jan31 = chrono::Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap();
        // 14 days from Jan 31 is Feb 14 (not a calendar month's clamping), at the same time.
        let trial = Interval::days(14).unwrap();
        assert_eq!(
            trial.add_to(jan31, 1).unwrap(),
            chrono::Utc.with_ymd_and_hms(2026, 2, 14, 12, 0, 0).unwrap()
        );
        // Across the end of February in a leap year: 30 days, not "a month".
        let feb15 = chrono::Utc.with_ymd_and_hms(2028, 2, 15, 0, 0, 0).unwrap();
        assert_eq!(
            Interval::days(30).unwrap().add_to(feb15, 1).unwrap(),
            chrono::Utc.with_ymd_and_hms(2028, 3, 16, 0, 0, 0).unwrap()
        );
        assert_eq!(
            Interval::daily().add_to(jan31, 3).unwrap() - jan31,
            chrono::Duration::days(3)
        );
        assert_eq!(
            Interval::days(7).unwrap().add_to(jan31, 2),
            Interval::weekly().add_to(jan31, 2)
        );
        assert_eq!(Interval::daily().add_to(jan31, 0), Some(jan31));
        // Overflow is None, never a panic.
        assert_eq!(Interval::days(u32::MAX).unwrap().add_to(jan31, u32::MAX), None);
        assert_eq!(Interval::days(u32::MAX).unwrap().add_to(jan31, 1), None);
        assert!(Interval::days(0).is_err());
        assert_eq!(Interval::daily().to_string(), "every day");
        assert_eq!(Interval::days(14).unwrap().to_string(), "every 14 days");
        // Seven days are not the same interval as a week (a gateway may take one only).
        assert_ne!(Interval::days(7).unwrap(), Interval::weekly());
    }

    #[test]
    fn units_serialize_as_the_wire_spells_them() {
        assert_eq!(
            serde_json::to_value(IntervalUnit::Day).unwrap(),
            serde_json::json!("day")
        );
        let back: IntervalUnit = serde_json::from_value(serde_json::json!("day")).unwrap();
        assert_eq!(back, IntervalUnit::Day);
        let i: Interval = serde_json::from_value(serde_json::json!({"unit": "day", "count": 14})).unwrap();
        assert_eq!(i, Interval::days(14).unwrap());
        assert!(serde_json::from_value::<Interval>(serde_json::json!({"unit": "day", "count": 0})).is_err());
        for u in [
            IntervalUnit::Day,
            IntervalUnit::Week,
            IntervalUnit::Month,
            IntervalUnit::Year,
        ] {
            assert_eq!(serde_json::to_value(u).unwrap(), serde_json::json!(u.as_str()));
            assert_eq!(u.to_string(), u.as_str());
        }
    }

    #[test]
    fn setup_fee_is_positive_in_the_price_currency() {
        let plan = RecurringPlan::builder("Gold", gtq("99"), Interval::monthly())
            .setup_fee(gtq("50"))
            .trial(Interval::days(14).unwrap())
            .build()
            .unwrap();
        assert_eq!(plan.setup_fee, Some(gtq("50")));
        // Serialized only when set, and read back.
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["setup_fee"]["amount"], "50");
        assert_eq!(serde_json::from_value::<RecurringPlan>(json).unwrap(), plan);
        let plain = RecurringPlan::builder("Gold", gtq("99"), Interval::monthly())
            .build()
            .unwrap();
        let json = serde_json::to_value(&plain).unwrap();
        assert!(json.get("setup_fee").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<RecurringPlan>(json).unwrap().setup_fee, None);

        let field = |r: Result<RecurringPlan, Error>| match r {
            Err(Error::InvalidInput { field, reason }) => (field, reason),
            other => panic!("expected invalid input, got {other:?}"),
        };
        let usd = Money::parse("5", Currency::USD).unwrap();
        let (f, reason) = field(
            RecurringPlan::builder("G", gtq("99"), Interval::monthly())
                .setup_fee(usd)
                .build(),
        );
        assert_eq!(f, "plan.setup_fee");
        assert!(reason.contains("GTQ"), "{reason}");
        for bad in ["0", "-1"] {
            let (f, _) = field(
                RecurringPlan::builder("G", gtq("99"), Interval::monthly())
                    .setup_fee(gtq(bad))
                    .build(),
            );
            assert_eq!(f, "plan.setup_fee", "{bad}");
        }
        // A fee may exceed the price (a large enrolment, a small monthly fee).
        assert!(
            RecurringPlan::builder("G", gtq("5"), Interval::monthly())
                .setup_fee(gtq("500"))
                .build()
                .is_ok()
        );
    }
}
