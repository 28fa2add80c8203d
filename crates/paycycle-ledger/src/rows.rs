//! Records to rows and back. Money is decimal text beside its currency code; a value that does
//! not read back is [`LedgerError::Corrupt`], never a default.

use std::str::FromStr;

use paycycle_core::rust_decimal::Decimal;
use paycycle_core::{
    CheckoutId, Currency, EventId, Interval, Money, PaymentId, PaymentStatus, SubscriptionId, SubscriptionStatus,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::error::LedgerError;
use crate::model::{PaymentRecord, SubscriptionRecord};
use crate::store::{from_micros, micros, opt_from_micros};

pub(crate) const SUB_COLUMNS: &str = "gateway, subscription_id, merchant_reference, customer, checkout_id, status, \
     amount, currency, billing_interval, current_period_start, current_period_end, last_paid_at, status_since, last_event_at, synced_at, \
     synced_mark, applied_mark, version, updated_at";

pub(crate) const PAYMENT_COLUMNS: &str = "gateway, payment_id, subscription_id, merchant_reference, status, amount, \
     currency, paid_amount, paid_currency, failure_reason, event_id, occurred_at, recorded_at";

/// A column of a row, or [`LedgerError::Corrupt`] naming it.
pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, LedgerError>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(column)
        .map_err(|e| LedgerError::corrupt(column, e.to_string()))
}

pub(crate) fn money_from(
    amount_col: &str,
    amount: Option<String>,
    currency: Option<String>,
) -> Result<Option<Money>, LedgerError> {
    match (amount, currency) {
        (Some(a), Some(c)) => {
            let amount = Decimal::from_str(&a).map_err(|e| LedgerError::corrupt(amount_col, format!("`{a}`: {e}")))?;
            let currency =
                Currency::from_wire(&c).map_err(|e| LedgerError::corrupt(amount_col, format!("`{c}`: {e}")))?;
            Ok(Some(Money::new(amount, currency)))
        }
        (None, None) => Ok(None),
        _ => Err(LedgerError::corrupt(
            amount_col,
            "an amount without its currency, or the reverse",
        )),
    }
}

pub(crate) fn money_to(m: Option<&Money>) -> (Option<String>, Option<String>) {
    match m {
        Some(m) => (Some(m.amount.to_string()), Some(m.currency.code().to_owned())),
        None => (None, None),
    }
}

pub(crate) fn status_json(s: &SubscriptionStatus) -> Result<String, LedgerError> {
    serde_json::to_string(s).map_err(|e| LedgerError::corrupt("status", e.to_string()))
}

pub(crate) fn status_label(s: &SubscriptionStatus) -> &'static str {
    match s {
        SubscriptionStatus::Pending => "pending",
        SubscriptionStatus::Active => "active",
        SubscriptionStatus::PastDue => "past_due",
        SubscriptionStatus::Paused => "paused",
        SubscriptionStatus::Cancelled { .. } => "cancelled",
        SubscriptionStatus::Failed => "failed",
        _ => "unknown",
    }
}

/// The subscription row's bookkeeping beside the record: the inbox high-water mark when it was
/// last read from the gateway (`synced`: every event received up to it is reflected), and the
/// highest inbox row whose payload was applied to it (`applied`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Marks {
    pub(crate) synced: Option<i64>,
    pub(crate) applied: Option<i64>,
}

pub(crate) fn subscription_from_row(row: &AnyRow) -> Result<(SubscriptionRecord, Marks), LedgerError> {
    let status: String = get(row, "status")?;
    let status: SubscriptionStatus =
        serde_json::from_str(&status).map_err(|e| LedgerError::corrupt("status", format!("`{status}`: {e}")))?;
    let interval: Option<String> = get(row, "billing_interval")?;
    let interval: Option<Interval> = interval
        .map(|i| serde_json::from_str(&i).map_err(|e| LedgerError::corrupt("billing_interval", format!("`{i}`: {e}"))))
        .transpose()?;
    let record = SubscriptionRecord {
        gateway: get(row, "gateway")?,
        id: SubscriptionId::new(get::<String>(row, "subscription_id")?),
        merchant_reference: get(row, "merchant_reference")?,
        customer: get(row, "customer")?,
        checkout_id: get::<Option<String>>(row, "checkout_id")?.map(CheckoutId::new),
        status,
        price: money_from("amount", get(row, "amount")?, get(row, "currency")?)?,
        interval,
        current_period_start: opt_from_micros("current_period_start", get(row, "current_period_start")?)?,
        current_period_end: opt_from_micros("current_period_end", get(row, "current_period_end")?)?,
        last_paid_at: opt_from_micros("last_paid_at", get(row, "last_paid_at")?)?,
        status_since: opt_from_micros("status_since", get(row, "status_since")?)?,
        last_event_at: opt_from_micros("last_event_at", get(row, "last_event_at")?)?,
        synced_at: opt_from_micros("synced_at", get(row, "synced_at")?)?,
        version: get(row, "version")?,
        updated_at: from_micros("updated_at", get(row, "updated_at")?)?,
    };
    let marks = Marks {
        synced: get(row, "synced_mark")?,
        applied: get(row, "applied_mark")?,
    };
    Ok((record, marks))
}

/// Writes a subscription: insert when `insert`, else update the row at `record.version - 1`.
/// Returns false when the row was not in the expected state (a concurrent writer got there
/// first): the caller retries.
pub(crate) async fn write_subscription(
    conn: &mut sqlx::AnyConnection,
    record: &SubscriptionRecord,
    marks: Marks,
    insert: bool,
) -> Result<bool, LedgerError> {
    let (amount, currency) = money_to(record.price.as_ref());
    let interval = record
        .interval
        .map(|i| serde_json::to_string(&i))
        .transpose()
        .map_err(|e| LedgerError::corrupt("billing_interval", e.to_string()))?;
    let sql = if insert {
        "INSERT INTO paycycle_subscriptions (gateway, subscription_id, merchant_reference, customer, checkout_id, \
         status, status_label, amount, currency, billing_interval, current_period_end, last_paid_at, status_since, \
         last_event_at, synced_at, synced_mark, applied_mark, version, updated_at, created_at, current_period_start) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20) \
         ON CONFLICT (gateway, subscription_id) DO NOTHING"
    } else {
        "UPDATE paycycle_subscriptions SET merchant_reference = $3, customer = $4, checkout_id = $5, status = $6, \
         status_label = $7, amount = $8, currency = $9, billing_interval = $10, current_period_end = $11, \
         last_paid_at = $12, status_since = $13, last_event_at = $14, synced_at = $15, synced_mark = $16, \
         applied_mark = $17, version = $18, updated_at = $19, current_period_start = $20 \
         WHERE gateway = $1 AND subscription_id = $2 AND version = $18 - 1"
    };
    let done = sqlx::query(sql)
        .bind(&record.gateway)
        .bind(record.id.as_str())
        .bind(record.merchant_reference.as_deref())
        .bind(record.customer.as_deref())
        .bind(record.checkout_id.as_ref().map(CheckoutId::as_str))
        .bind(status_json(&record.status)?)
        .bind(status_label(&record.status))
        .bind(amount)
        .bind(currency)
        .bind(interval)
        .bind(record.current_period_end.map(micros))
        .bind(record.last_paid_at.map(micros))
        .bind(record.status_since.map(micros))
        .bind(record.last_event_at.map(micros))
        .bind(record.synced_at.map(micros))
        .bind(marks.synced)
        .bind(marks.applied)
        .bind(record.version)
        .bind(micros(record.updated_at))
        .bind(record.current_period_start.map(micros))
        .execute(conn)
        .await
        .map_err(LedgerError::store)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) fn payment_status_str(s: &PaymentStatus) -> String {
    match s {
        PaymentStatus::Succeeded => "succeeded".into(),
        PaymentStatus::Pending => "pending".into(),
        PaymentStatus::Failed => "failed".into(),
        PaymentStatus::Refunded => "refunded".into(),
        PaymentStatus::Unknown(raw) => format!("unknown:{raw}"),
        other => format!("unknown:{other:?}"),
    }
}

pub(crate) fn payment_status_from(s: &str) -> PaymentStatus {
    match s {
        "succeeded" => PaymentStatus::Succeeded,
        "pending" => PaymentStatus::Pending,
        "failed" => PaymentStatus::Failed,
        "refunded" => PaymentStatus::Refunded,
        other => PaymentStatus::Unknown(other.strip_prefix("unknown:").unwrap_or(other).to_owned()),
    }
}

/// How far along a payment is: a status only ever moves to a higher rank.
pub(crate) fn payment_rank(s: &PaymentStatus) -> u8 {
    match s {
        PaymentStatus::Pending => 1,
        PaymentStatus::Succeeded | PaymentStatus::Failed => 2,
        PaymentStatus::Refunded => 3,
        _ => 0,
    }
}

pub(crate) fn payment_from_row(row: &AnyRow) -> Result<PaymentRecord, LedgerError> {
    Ok(PaymentRecord {
        gateway: get(row, "gateway")?,
        id: PaymentId::new(get::<String>(row, "payment_id")?),
        subscription_id: get::<Option<String>>(row, "subscription_id")?.map(SubscriptionId::new),
        merchant_reference: get(row, "merchant_reference")?,
        status: payment_status_from(&get::<String>(row, "status")?),
        amount: money_from("amount", get(row, "amount")?, get(row, "currency")?)?,
        paid: money_from("paid_amount", get(row, "paid_amount")?, get(row, "paid_currency")?)?,
        failure_reason: get(row, "failure_reason")?,
        event_id: EventId::new(get::<String>(row, "event_id")?),
        occurred_at: opt_from_micros("occurred_at", get(row, "occurred_at")?)?,
        recorded_at: from_micros("recorded_at", get(row, "recorded_at")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_exactly() {
        let m = Money::parse("15.000000001", Currency::from_wire("USDT").unwrap_or(Currency::USDT));
        let Ok(m) = m else { return };
        let (a, c) = money_to(Some(&m));
        let back = money_from("amount", a, c).ok().flatten();
        assert_eq!(back, Some(m));
        assert!(money_from("amount", Some("1.0".into()), None).is_err());
        assert!(money_from("amount", Some("abc".into()), Some("USD".into())).is_err());
    }

    #[test]
    fn payment_statuses_round_trip_and_rank() {
        for s in [
            PaymentStatus::Succeeded,
            PaymentStatus::Pending,
            PaymentStatus::Failed,
            PaymentStatus::Refunded,
            PaymentStatus::Unknown("odd".into()),
        ] {
            assert_eq!(payment_status_from(&payment_status_str(&s)), s);
        }
        assert!(payment_rank(&PaymentStatus::Refunded) > payment_rank(&PaymentStatus::Succeeded));
        assert!(payment_rank(&PaymentStatus::Succeeded) > payment_rank(&PaymentStatus::Pending));
    }
}
