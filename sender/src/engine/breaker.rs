//! The circuit breaker per carrier account. It opens on a failure *rate*: when at least
//! `threshold` of the account's recent calls failed (429s, 5xx, transport errors, bad
//! credentials) and they are at least [`OPEN_PERCENT`]% of its last [`WINDOW`] calls. Then the
//! account is *open* — nothing is sent through it — for `cool_off`; then *half-open*: one probe
//! send goes through; its success closes the breaker (with a fresh window), its failure opens it
//! again for twice as long (up to `max_cool_off`). While an account is open the engine routes
//! first messages to other accounts' numbers (see `rotation.rs`).
//!
//! A rate, not a run of consecutive failures: an account that sheds a third of its calls with
//! 429s is slow, not down, and retries with backoff serve it better than a stop. Counting runs,
//! such an account drew five failures in a row every ~200 calls, and every time stopped sending
//! for 10–20 s (the faults test took ~140 s for 500 messages). An outage (every call failing)
//! still opens it at the `threshold`-th call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The breaker's state as the metrics and logs name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// Calls the failure rate is taken over.
pub const WINDOW: u32 = 20;
/// The share of failures among the window's calls that opens the breaker, in percent.
pub const OPEN_PERCENT: u32 = 80;

/// The last calls' outcomes, newest in bit 0 (1 = failed).
#[derive(Clone, Copy, Debug, Default)]
struct Recent {
    bits: u32,
    calls: u32,
}

impl Recent {
    fn push(self, failed: bool) -> Self {
        let mask = (1u32 << WINDOW) - 1;
        Self { bits: ((self.bits << 1) | u32::from(failed)) & mask, calls: (self.calls + 1).min(WINDOW) }
    }

    fn failures(&self) -> u32 {
        self.bits.count_ones()
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    Closed { recent: Recent },
    Open { until: Instant, cool_off: Duration },
    HalfOpen { probing: bool, cool_off: Duration },
}

/// One account's breaker. Pure: the caller passes the clock.
#[derive(Clone, Copy, Debug)]
pub struct Breaker {
    state: State,
    threshold: u32,
    cool_off: Duration,
    max_cool_off: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, cool_off: Duration, max_cool_off: Duration) -> Self {
        Self { state: State::Closed { recent: Recent::default() }, threshold: threshold.max(1), cool_off, max_cool_off }
    }

    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether the breaker is open and still cooling off at `now` (no send will be allowed
    /// before it ends). Unlike [`Self::allow`], asking changes nothing.
    pub fn cooling(&self, now: Instant) -> bool {
        matches!(self.state, State::Open { until, .. } if now < until)
    }

    /// Whether a send may go through now. In half-open, the first caller becomes the probe and
    /// everyone else waits for its answer.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { until, cool_off } if now >= until => {
                self.state = State::HalfOpen { probing: true, cool_off };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probing: false, cool_off } => {
                self.state = State::HalfOpen { probing: true, cool_off };
                true
            }
            State::HalfOpen { probing: true, .. } => false,
        }
    }

    /// A send through the account succeeded (or failed for reasons not the account's): counts
    /// in the window, and closes the breaker when it was the half-open probe. While open, a late
    /// answer to a call made before it opened changes nothing: only the probe after the cool-off
    /// may close it.
    pub fn success(&mut self) {
        match self.state {
            State::Closed { recent } => self.state = State::Closed { recent: recent.push(false) },
            State::HalfOpen { .. } => self.state = State::Closed { recent: Recent::default() },
            State::Open { .. } => {}
        }
    }

    /// A send failed because of the account or the carrier. Returns true when this opened it.
    pub fn failure(&mut self, now: Instant) -> bool {
        match self.state {
            State::Closed { recent } => {
                let recent = recent.push(true);
                let failures = recent.failures();
                if failures >= self.threshold && failures * 100 >= OPEN_PERCENT * recent.calls {
                    self.state = State::Open { until: now + self.cool_off, cool_off: self.cool_off };
                    true
                } else {
                    self.state = State::Closed { recent };
                    false
                }
            }
            State::HalfOpen { cool_off, .. } => {
                let cool_off = (cool_off * 2).min(self.max_cool_off);
                self.state = State::Open { until: now + cool_off, cool_off };
                true
            }
            State::Open { .. } => false,
        }
    }
}

/// The breakers of every account this instance sends through.
pub struct Breakers {
    accounts: Mutex<HashMap<Uuid, Breaker>>,
    template: Breaker,
}

impl Breakers {
    pub fn new(threshold: u32, cool_off: Duration) -> Self {
        Self { accounts: Mutex::default(), template: Breaker::new(threshold, cool_off, cool_off * 16) }
    }

    fn with<T>(&self, account: Uuid, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        f(accounts.entry(account).or_insert(self.template))
    }

    pub fn allow(&self, account: Uuid) -> bool {
        self.with(account, |b| b.allow(Instant::now()))
    }

    /// Whether the account's breaker is open and cooling off now (asking changes nothing).
    pub fn cooling(&self, account: Uuid) -> bool {
        self.with(account, |b| b.cooling(Instant::now()))
    }

    pub fn success(&self, account: Uuid) {
        self.with(account, |b| b.success())
    }

    /// Returns true when this failure opened the account's breaker.
    pub fn failure(&self, account: Uuid) -> bool {
        self.with(account, |b| b.failure(Instant::now()))
    }

    pub fn state(&self, account: Uuid) -> BreakerState {
        self.with(account, |b| b.state())
    }

    /// Accounts whose breaker is open or half-open now.
    pub fn tripped(&self) -> Vec<Uuid> {
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.iter().filter(|(_, b)| b.state() != BreakerState::Closed).map(|(id, _)| *id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_once_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(10), Duration::from_secs(60));
        assert!(!b.failure(t0));
        assert!(!b.failure(t0));
        assert!(b.allow(t0), "still closed after two failures");
        assert!(b.failure(t0), "the third failure in three calls opens it");
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow(t0 + Duration::from_secs(9)));
        assert!(b.cooling(t0 + Duration::from_secs(9)) && !b.cooling(t0 + Duration::from_secs(10)));
        assert!(b.allow(t0 + Duration::from_secs(10)), "the first caller after the cool-off is the probe");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allow(t0 + Duration::from_secs(10)), "one probe at a time");
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow(t0 + Duration::from_secs(11)));
    }

    #[test]
    fn a_late_success_while_open_does_not_close_it() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, Duration::from_secs(10), Duration::from_secs(60));
        assert!(b.failure(t0));
        b.success();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow(t0 + Duration::from_secs(5)), "still cooling off");
    }

    #[test]
    fn a_failed_probe_reopens_for_longer() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(10), Duration::from_secs(15));
        assert!(!b.failure(t0));
        assert!(b.failure(t0));
        assert!(b.allow(t0 + Duration::from_secs(10)));
        assert!(b.failure(t0 + Duration::from_secs(10)), "the failed probe reopens it");
        assert!(!b.allow(t0 + Duration::from_secs(24)), "for twice the cool-off, capped at 15 s");
        assert!(b.allow(t0 + Duration::from_secs(25)));
    }

    #[test]
    fn an_account_that_sheds_a_third_of_its_calls_stays_closed_an_outage_opens_it() {
        let t0 = Instant::now();
        let mut b = Breaker::new(5, Duration::from_secs(10), Duration::from_secs(60));
        // 15 calls, every third failed (5 failures: the threshold, at 38%).
        for i in 0..15 {
            if i % 3 == 0 {
                assert!(!b.failure(t0));
            } else {
                b.success();
            }
        }
        // Then every call fails. Six in a row leave 10 failures among the last 20 calls: closed,
        // where a breaker counting runs of five would have opened at the fifth.
        let mut run = 0;
        while !b.failure(t0) {
            run += 1;
            assert!(run < WINDOW, "still closed after {run} failures in a row");
        }
        run += 1;
        // It opens once 16 of the last 20 calls failed (80%): the 14th failure in a row, as the
        // window still holds two of the earlier failures.
        assert_eq!(run, 14);
        assert_eq!(b.state(), BreakerState::Open);
    }
}
