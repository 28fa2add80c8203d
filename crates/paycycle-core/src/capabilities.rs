//! What each gateway can do, so differences are data, not surprises.

use serde::{Deserialize, Serialize};

use crate::checkout::CheckoutRequest;
use crate::error::{Error, Result};
use crate::ids::GatewayId;
use crate::money::Currency;
use crate::plan::{Interval, IntervalUnit};

/// Which billing intervals a gateway takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntervalSupport {
    /// Any count of these units (Recurrente: day, week, month, year × any count).
    AnyCount(Vec<IntervalUnit>),
    /// Exactly these intervals (Cryptomus: weekly, monthly, every 3 months).
    Only(Vec<Interval>),
}

impl IntervalSupport {
    /// True when the interval is accepted.
    pub fn supports(&self, interval: &Interval) -> bool {
        match self {
            IntervalSupport::AnyCount(units) => units.contains(&interval.unit),
            IntervalSupport::Only(list) => list.contains(interval),
        }
    }

    /// True when some supported interval is counted in `unit`: the units a gateway can state
    /// a free trial in. (Cryptomus' fixed periods have no day unit, so no day can be counted.)
    pub fn supports_unit(&self, unit: IntervalUnit) -> bool {
        match self {
            IntervalSupport::AnyCount(units) => units.contains(&unit),
            IntervalSupport::Only(list) => list.iter().any(|i| i.unit == unit),
        }
    }
}

/// Which price currencies a gateway takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CurrencySupport {
    /// Only these (Recurrente: GTQ, USD).
    Only(Vec<Currency>),
    /// Any fiat or crypto code (Cryptomus prices in either and converts).
    Any,
}

impl CurrencySupport {
    /// True when the currency is accepted.
    pub fn supports(&self, c: &Currency) -> bool {
        match self {
            CurrencySupport::Only(list) => list.contains(c),
            CurrencySupport::Any => true,
        }
    }
}

/// What a gateway can do. [`Capabilities::check`] refuses a request that asks for more, with
/// [`Error::Unsupported`], before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Billing intervals.
    pub intervals: IntervalSupport,
    /// Price currencies.
    pub currencies: CurrencySupport,
    /// Free trials.
    pub trial: bool,
    /// A reduced price for the first days.
    pub intro_offer: bool,
    /// A sign-up fee charged once with the first payment ([`RecurringPlan::setup_fee`](crate::RecurringPlan::setup_fee)).
    #[serde(default)]
    pub setup_fee: bool,
    /// Automatic end after N periods.
    pub end_after_periods: bool,
    /// Paying in another currency than the price's, converted by the gateway.
    pub payer_currency: bool,
    /// A webhook URL per checkout (else webhooks go to endpoints registered with the gateway).
    pub callback_url: bool,
    /// Success and cancel URLs for the payer.
    pub return_urls: bool,
    /// Pre-filling the payer's details.
    pub customer: bool,
    /// Pausing and resuming.
    pub pause: bool,
    /// Listing subscriptions.
    pub list_subscriptions: bool,
    /// Cancelling by the merchant.
    pub cancel: bool,
}

impl Capabilities {
    /// Nothing supported: no interval, no currency, every option off. Backends start here and
    /// switch on what they can do (the struct is `#[non_exhaustive]`, so this is how crates
    /// outside the core build one).
    ///
    /// ```
    /// use paycycle_core::{Capabilities, Currency, CurrencySupport, Interval, IntervalSupport};
    /// let mut caps = Capabilities::none();
    /// caps.intervals = IntervalSupport::Only(vec![Interval::monthly()]);
    /// caps.currencies = CurrencySupport::Only(vec![Currency::USD]);
    /// caps.cancel = true;
    /// assert!(!caps.trial);
    /// ```
    pub fn none() -> Capabilities {
        Capabilities {
            intervals: IntervalSupport::Only(Vec::new()),
            currencies: CurrencySupport::Only(Vec::new()),
            trial: false,
            intro_offer: false,
            setup_fee: false,
            end_after_periods: false,
            payer_currency: false,
            callback_url: false,
            return_urls: false,
            customer: false,
            pause: false,
            list_subscriptions: false,
            cancel: false,
        }
    }

    /// Refuses a request that needs something this gateway cannot do.
    ///
    /// # Errors
    /// [`Error::Unsupported`] naming the first unsupported option.
    pub fn check(&self, gateway: &GatewayId, req: &CheckoutRequest) -> Result<()> {
        let plan = &req.plan;
        let no = |feature: String| Err(Error::unsupported(gateway.clone(), feature));
        if !self.intervals.supports(&plan.interval) {
            return no(format!("billing {}", plan.interval));
        }
        if !self.currencies.supports(&plan.price.currency) {
            return no(format!("prices in {}", plan.price.currency));
        }
        if let Some(trial) = &plan.trial {
            if !self.trial {
                return no("free trials".into());
            }
            if !self.intervals.supports_unit(trial.unit) {
                return no(format!("free trials counted in {}s", trial.unit));
            }
        }
        if plan.intro.is_some() && !self.intro_offer {
            return no("intro offers".into());
        }
        if plan.setup_fee.is_some() && !self.setup_fee {
            return no("a sign-up fee charged with the first payment".into());
        }
        if plan.end_after_periods.is_some() && !self.end_after_periods {
            return no("ending after a number of periods".into());
        }
        if plan.payer_currency.is_some() && !self.payer_currency {
            return no("a payer currency different from the price's".into());
        }
        if req.callback_url.is_some() && !self.callback_url {
            return no("a per-checkout callback URL (register a webhook endpoint instead)".into());
        }
        if (req.success_url.is_some() || req.cancel_url.is_some()) && !self.return_urls {
            return no("success and cancel URLs".into());
        }
        if req.customer.is_some() && !self.customer {
            return no("pre-filled customer details".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use crate::plan::RecurringPlan;

    fn caps() -> Capabilities {
        Capabilities {
            intervals: IntervalSupport::Only(vec![Interval::weekly(), Interval::monthly()]),
            currencies: CurrencySupport::Only(vec![Currency::USD]),
            trial: false,
            intro_offer: true,
            setup_fee: false,
            end_after_periods: false,
            payer_currency: false,
            callback_url: true,
            return_urls: false,
            customer: false,
            pause: false,
            list_subscriptions: true,
            cancel: true,
        }
    }

    fn req(interval: Interval) -> CheckoutRequest {
        let plan = RecurringPlan::builder("P", Money::parse("5", Currency::USD).unwrap(), interval)
            .build()
            .unwrap();
        CheckoutRequest::new(plan)
    }

    #[test]
    fn unsupported_options_are_refused_by_name() {
        let g = GatewayId::new("test");
        assert!(caps().check(&g, &req(Interval::monthly())).is_ok());
        let err = caps().check(&g, &req(Interval::yearly())).unwrap_err();
        assert_eq!(err.to_string(), "test does not support billing every year");
        let mut r = req(Interval::monthly());
        r.plan.trial = Some(Interval::weekly());
        assert!(matches!(caps().check(&g, &r), Err(Error::Unsupported { feature, .. }) if feature == "free trials"));
        let r = req(Interval::monthly()).success_url("https://a.example/ok".parse().unwrap());
        assert!(caps().check(&g, &r).is_err());
        let mut r = req(Interval::monthly());
        r.plan.price = Money::parse("5", Currency::GTQ).unwrap();
        assert!(caps().check(&g, &r).is_err());
    }

    fn unsupported(caps: &Capabilities, r: &CheckoutRequest) -> String {
        match caps.check(&GatewayId::new("test"), r) {
            Err(Error::Unsupported { feature, .. }) => feature,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn days_need_a_day_unit_for_billing_and_for_trials() {
        // Fixed periods (Cryptomus-like): no interval counted in days, so neither billing every
        // 7 days (not "weekly", though as long) nor a trial in days.
        assert_eq!(
            unsupported(&caps(), &req(Interval::days(7).unwrap())),
            "billing every 7 days"
        );
        let mut with_trials = caps();
        with_trials.trial = true;
        let mut r = req(Interval::monthly());
        r.plan.trial = Some(Interval::days(14).unwrap());
        assert_eq!(unsupported(&with_trials, &r), "free trials counted in days");
        // A trial in a unit it bills in is fine.
        r.plan.trial = Some(Interval::new(IntervalUnit::Week, 2).unwrap());
        assert!(with_trials.check(&GatewayId::new("test"), &r).is_ok());
        // Any count of days where the unit is supported.
        let mut any = with_trials.clone();
        any.intervals = IntervalSupport::AnyCount(vec![IntervalUnit::Day, IntervalUnit::Month]);
        assert!(
            any.check(&GatewayId::new("test"), &req(Interval::days(10).unwrap()))
                .is_ok()
        );
        r.plan.trial = Some(Interval::days(14).unwrap());
        assert!(any.check(&GatewayId::new("test"), &r).is_ok());
        assert!(!any.intervals.supports(&Interval::weekly()));
        assert!(any.intervals.supports_unit(IntervalUnit::Day));
        assert!(!caps().intervals.supports_unit(IntervalUnit::Day));
        assert!(caps().intervals.supports_unit(IntervalUnit::Month));
    }

    #[test]
    fn a_setup_fee_needs_the_flag() {
        let mut r = req(Interval::monthly());
        r.plan.setup_fee = Some(Money::parse("10", Currency::USD).unwrap());
        assert_eq!(unsupported(&caps(), &r), "a sign-up fee charged with the first payment");
        let mut yes = caps();
        yes.setup_fee = true;
        assert!(yes.check(&GatewayId::new("test"), &r).is_ok());
        assert!(!Capabilities::none().setup_fee);
        // Capabilities serialized before the flag existed read as "no".
        let mut json = serde_json::to_value(&yes).unwrap();
        assert_eq!(json["setup_fee"], true);
        json.as_object_mut().unwrap().remove("setup_fee");
        let old: Capabilities = serde_json::from_value(json).unwrap();
        assert!(!old.setup_fee);
    }
}
