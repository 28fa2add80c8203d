//! The simulator's virtual clock: it moves only when told to.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, DurationRound, Utc};
use paycycle_core::Clock;

/// Why the clock refused to move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClockError {
    /// Time never goes backwards in the simulator (renewals already charged cannot be undone).
    #[error("the virtual clock cannot go backwards (now {now}, asked for {asked})")]
    Backwards {
        /// The clock's time.
        now: DateTime<Utc>,
        /// The time asked for.
        asked: DateTime<Utc>,
    },
    /// The new time is outside what `chrono` can represent.
    #[error("advancing the virtual clock overflowed")]
    Overflow,
}

/// A clock that stands still until advanced. Share it as `Arc<VirtualClock>`; it implements
/// [`paycycle_core::Clock`], so webhook verifiers and gateways can read the simulated time.
///
/// ```
/// use paycycle_sim::VirtualClock;
/// use paycycle_core::Clock;
/// let start = "2026-01-31T12:00:00Z".parse()?;
/// let clock = VirtualClock::new(start);
/// clock.advance(chrono::Duration::days(1))?;
/// assert_eq!(clock.now().to_rfc3339(), "2026-02-01T12:00:00+00:00");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct VirtualClock {
    now: Mutex<DateTime<Utc>>,
}

impl VirtualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> VirtualClock {
        VirtualClock { now: Mutex::new(start) }
    }

    /// A clock showing the real current time, truncated to the second.
    pub fn starting_now() -> VirtualClock {
        VirtualClock::new(truncated_now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A panic while holding this lock cannot leave the time half-written (it is `Copy`).
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }

    /// Moves the clock forward by `by` and returns the new time.
    ///
    /// Advancing the clock alone charges nothing: [`crate::Simulator::advance`] moves it and then
    /// runs every charge that fell due (any other simulator call also catches up first).
    ///
    /// # Errors
    /// [`ClockError::Backwards`] for a negative duration, [`ClockError::Overflow`].
    pub fn advance(&self, by: Duration) -> Result<DateTime<Utc>, ClockError> {
        let mut now = self.lock();
        let next = now.checked_add_signed(by).ok_or(ClockError::Overflow)?;
        if next < *now {
            return Err(ClockError::Backwards { now: *now, asked: next });
        }
        *now = next;
        Ok(next)
    }

    /// Sets the clock to `to`, which must not be before the current time.
    ///
    /// # Errors
    /// [`ClockError::Backwards`].
    pub fn set(&self, to: DateTime<Utc>) -> Result<(), ClockError> {
        let mut now = self.lock();
        if to < *now {
            return Err(ClockError::Backwards { now: *now, asked: to });
        }
        *now = to;
        Ok(())
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock::starting_now()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        VirtualClock::now(self)
    }
}

/// The real time, truncated to the second.
pub(crate) fn truncated_now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(Duration::seconds(1)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_forward_and_only_when_told() {
        let start: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
        let c = VirtualClock::new(start);
        assert_eq!(c.now(), start);
        assert_eq!(c.now(), start, "reading does not move it");
        let t = c.advance(Duration::seconds(90)).unwrap();
        assert_eq!(t, start + Duration::seconds(90));
        assert!(matches!(
            c.advance(Duration::seconds(-1)),
            Err(ClockError::Backwards { .. })
        ));
        assert!(matches!(c.set(start), Err(ClockError::Backwards { .. })));
        c.set(start + Duration::days(2)).unwrap();
        assert_eq!(Clock::now(&c), start + Duration::days(2));
        assert_eq!(c.advance(Duration::MAX), Err(ClockError::Overflow));
    }

    #[test]
    fn starting_now_is_whole_seconds() {
        let c = VirtualClock::starting_now();
        assert_eq!(c.now().timestamp_subsec_nanos(), 0);
        assert!((Utc::now() - c.now()).num_seconds() < 5);
    }
}
