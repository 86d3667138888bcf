//! Failed sign-in limiting per account and per client IP (governor's GCRA).
//!
//! Only failures consume quota. Once a key runs out it is locked until governor says a new
//! attempt would conform; while locked, every attempt (even with the right password) gets 429,
//! so guessing cannot continue by watching for a 200.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Key {
    Account(String),
    Ip(IpAddr),
}

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    locked_until: DashMap<Key, Instant>,
}

/// Failures allowed in a burst before lockout, and the refill period of one more attempt.
const ACCOUNT_BURST: u32 = 5;
const ACCOUNT_REFILL: Duration = Duration::from_secs(60);
const IP_BURST: u32 = 20;
const IP_REFILL: Duration = Duration::from_secs(10);

impl Default for LoginLimiter {
    fn default() -> Self {
        let quota = |burst: u32, refill: Duration| {
            Quota::with_period(refill).expect("non-zero period").allow_burst(NonZeroU32::new(burst).expect("non-zero"))
        };
        Self {
            per_account: RateLimiter::keyed(quota(ACCOUNT_BURST, ACCOUNT_REFILL)),
            per_ip: RateLimiter::keyed(quota(IP_BURST, IP_REFILL)),
            locked_until: DashMap::new(),
        }
    }
}

impl LoginLimiter {
    /// `Err(wait)` when this account or IP is locked out.
    pub fn check(&self, account: &str, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let wait = [Key::Account(account.to_owned()), Key::Ip(ip)]
            .into_iter()
            .filter_map(|key| {
                let until = *self.locked_until.get(&key)?;
                if until > now {
                    Some(until - now)
                } else {
                    self.locked_until.remove(&key);
                    None
                }
            })
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Records a failed attempt; `Some(wait)` when it locked the account or IP.
    pub fn record_failure(&self, account: &str, ip: IpAddr) -> Option<Duration> {
        let clock = DefaultClock::default();
        let now = clock.now();
        let mut lock = None;
        if let Err(not_until) = self.per_account.check_key(&account.to_owned()) {
            lock = Some((Key::Account(account.to_owned()), not_until.wait_time_from(now)));
        }
        if let Err(not_until) = self.per_ip.check_key(&ip) {
            let wait = not_until.wait_time_from(now);
            if lock.as_ref().is_none_or(|(_, w)| wait > *w) {
                lock = Some((Key::Ip(ip), wait));
            }
        }
        let (key, wait) = lock?;
        self.locked_until.insert(key, Instant::now() + wait);
        Some(wait)
    }

    /// Forgets idle keys; called periodically so memory stays bounded under a spray of names.
    pub fn forget_idle(&self) {
        self.per_account.retain_recent();
        self.per_ip.retain_recent();
        let now = Instant::now();
        self.locked_until.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_of_failures_locks_the_account_even_for_right_password() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..ACCOUNT_BURST {
            assert!(limiter.check("a@x.test", ip).is_ok());
            assert!(limiter.record_failure("a@x.test", ip).is_none());
        }
        assert!(limiter.record_failure("a@x.test", ip).is_some());
        assert!(limiter.check("a@x.test", ip).is_err());
        // Another account from another address is unaffected.
        assert!(limiter.check("b@x.test", "10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn spraying_many_accounts_from_one_ip_locks_the_ip() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let locked = (0..=IP_BURST).filter_map(|i| limiter.record_failure(&format!("u{i}@x.test"), ip)).count();
        assert_eq!(locked, 1);
        assert!(limiter.check("fresh@x.test", ip).is_err());
    }
}
