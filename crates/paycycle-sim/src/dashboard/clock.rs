//! The clock's buttons: advance an hour, a day or a calendar month, or set a later date. Each
//! runs what fell due (renewals of both providers, their webhooks queued) through
//! [`Shared::advance`](crate::state::Shared::advance), as `POST /__sim/clock/advance` does.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Duration, Months, NaiveDate, NaiveDateTime, Utc};

use super::{Dashboard, fields, local_back, see_other};

/// How far `by` (`hour`, `day`, `month`) moves the clock from `now`; a month is one calendar
/// month (Jan 31 → Feb 28, Mar 15 → Apr 15), as monthly subscriptions renew.
fn step(by: &str, now: DateTime<Utc>) -> Result<Duration, String> {
    match by {
        "hour" => Ok(Duration::hours(1)),
        "day" => Ok(Duration::days(1)),
        "month" => now
            .checked_add_months(Months::new(1))
            .map(|t| t - now)
            .ok_or_else(|| "the clock cannot go a month further".to_owned()),
        other => Err(format!("`by` must be hour, day or month, not `{other}`")),
    }
}

/// A date (`2026-03-01`, midnight UTC) or a date and time (`2026-03-01T12:30`, UTC, as a
/// `datetime-local` field sends it, or RFC 3339).
fn parse_date(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`date` must be a date like 2026-03-01, not `{s}`"))
}

/// `POST /clock/advance` (`by=hour|day|month`, `back`).
pub(super) async fn advance(State(d): State<Dashboard>, body: Bytes) -> Response {
    let f = fields(&body);
    let Some(by) = f.get("by") else {
        return d.bad_request("give `by`: hour, day or month");
    };
    let by = match step(by, d.shared.clock.now()) {
        Ok(by) => by,
        Err(reason) => return d.bad_request(&reason),
    };
    match d.shared.advance(by) {
        Ok(_) => see_other(&local_back(&f, "/"), None),
        Err(e) => d.bad_request(&e.to_string()),
    }
}

/// `POST /clock/set` (`date`, `back`): only forward.
pub(super) async fn set(State(d): State<Dashboard>, body: Bytes) -> Response {
    let f = fields(&body);
    let to = match f.get("date").map(|s| parse_date(s)) {
        Some(Ok(t)) => t,
        Some(Err(reason)) => return d.bad_request(&reason),
        None => return d.bad_request("give `date`, e.g. 2026-03-01"),
    };
    let now = d.shared.clock.now();
    if to < now {
        return d.bad_request(&format!(
            "the clock cannot go back: it shows {}, and {} is before that",
            super::html::time(now),
            super::html::time(to)
        ));
    }
    match d.shared.advance(to - now) {
        Ok(_) => see_other(&local_back(&f, "/"), None),
        Err(e) => d.bad_request(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_dates() {
        let jan31: DateTime<Utc> = "2026-01-31T10:00:00Z".parse().unwrap();
        assert_eq!(step("hour", jan31).unwrap(), Duration::hours(1));
        assert_eq!(step("day", jan31).unwrap(), Duration::days(1));
        assert_eq!(
            jan31 + step("month", jan31).unwrap(),
            "2026-02-28T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(step("week", jan31).unwrap_err().contains("`week`"));
        assert!(step("month", DateTime::<Utc>::MAX_UTC).is_err());
        assert_eq!(
            parse_date("2026-03-01").unwrap(),
            "2026-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_date("2026-03-01T12:30").unwrap(),
            "2026-03-01T12:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(parse_date("2026-03-01T12:30:00+02:00").is_ok());
        assert!(parse_date("tomorrow").unwrap_err().contains("tomorrow"));
        assert!(parse_date("2026-02-30").is_err());
    }
}
