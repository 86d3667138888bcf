//! Pacing (invariant 3): every send takes tokens from its number's and its account's bucket
//! before it is claimed. One GCRA (generic cell rate algorithm) with no burst: a request of
//! `cost` tokens is granted when every bucket's theoretical arrival time (TAT) has come, and
//! pushes each TAT `cost` intervals ahead, so a number at 1 MPS that sent a 3-segment message
//! waits 3 s before the next. All buckets of a send are taken together or not at all.
//!
//! A request may also be granted up to `ahead` before the TATs come: it is then granted *at*
//! the latest TAT (`Take::Granted(after)`), and the caller sends no earlier than that. Grants
//! stay exactly an interval apart either way; what asking ahead saves is the sender's own
//! lateness. Asked only once a TAT has passed, a sender that wakes a millisecond late (a timer's
//! tick) is granted a millisecond late and that millisecond is lost for good: ~4% of a 500 MPS
//! number sending 13 at a time, ~7% of a 75 MPS one sending one at a time.
//!
//! The same arithmetic runs in two stores:
//! - in-process (`LocalPacer`), for a single instance;
//! - in Redis (`RedisPacer`), a Lua script on Redis's own clock, so the caps hold summed over
//!   every instance sharing the Redis.
//!
//! (governor, used for failed-login limiting, is not used here: its burst capacity cannot
//! express "cost n, no burst" nor take from two buckets atomically, and the local and
//! distributed pacers must agree exactly.)
//!
//! A token is one segment: MPS counts segments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One rate limit a send must respect, e.g. `number:+14155550100` at 1/s.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub key: String,
    /// Tokens per second (> 0; fractional allowed, e.g. 0.5 = one every 2 s).
    pub per_second: f64,
}

impl Bucket {
    pub fn new(key: impl Into<String>, per_second: f64) -> Self {
        Self { key: key.into(), per_second }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second.max(1e-6))
    }
}

/// The answer to a request for tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// Granted at this long from now (zero: now); the send must not leave before.
    Granted(Duration),
    /// Not granted; ask again after this long.
    Wait(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum PacingError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Pacing in-process or across instances through Redis.
#[derive(Clone)]
pub enum Pacer {
    Local(LocalPacer),
    Redis(RedisPacer),
}

impl Pacer {
    /// Takes `cost` tokens from every bucket for the moment they are all due, when that is at
    /// most `ahead` from now; or none, and says how long to wait before asking again.
    pub async fn take(&self, buckets: &[Bucket], cost: u32, ahead: Duration) -> Result<Take, PacingError> {
        match self {
            Pacer::Local(p) => Ok(p.take(buckets, cost, ahead)),
            Pacer::Redis(p) => p.take(buckets, cost, ahead).await,
        }
    }

    /// Grants nothing from `bucket` before `for_` from now (a later pending grant stays). For a
    /// send that reached the carrier late: the sends after it keep their spacing from it.
    pub async fn hold(&self, bucket: &Bucket, for_: Duration) -> Result<(), PacingError> {
        match self {
            Pacer::Local(p) => {
                p.hold(bucket, for_);
                Ok(())
            }
            Pacer::Redis(p) => p.hold(bucket, for_).await,
        }
    }
}

/// In-process GCRA: the TAT of each bucket, behind one short-held lock.
#[derive(Clone)]
pub struct LocalPacer {
    epoch: Instant,
    tats: Arc<Mutex<HashMap<String, Duration>>>,
}

impl Default for LocalPacer {
    fn default() -> Self {
        Self { epoch: Instant::now(), tats: Arc::default() }
    }
}

impl LocalPacer {
    pub fn take(&self, buckets: &[Bucket], cost: u32, ahead: Duration) -> Take {
        let cost = cost.max(1);
        let now = self.epoch.elapsed();
        let mut tats = self.tats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // The moment every bucket is due: the latest TAT, or now.
        let due = buckets.iter().filter_map(|b| tats.get(&b.key).copied()).fold(now, Duration::max);
        let after = due - now;
        if after > ahead {
            return Take::Wait(after - ahead);
        }
        for bucket in buckets {
            tats.insert(bucket.key.clone(), due + bucket.interval() * cost);
        }
        Take::Granted(after)
    }

    pub fn hold(&self, bucket: &Bucket, for_: Duration) {
        let until = self.epoch.elapsed() + for_;
        let mut tats = self.tats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tat = tats.entry(bucket.key.clone()).or_insert(until);
        *tat = (*tat).max(until);
    }
}

/// GCRA in Redis, shared by every instance using the same Redis and key prefix.
#[derive(Clone)]
pub struct RedisPacer {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    script: Arc<redis::Script>,
}

/// KEYS: bucket keys. ARGV[1]: cost; ARGV[2]: how far ahead a grant may be, in microseconds;
/// ARGV[i+2]: the i-th bucket's interval in microseconds. Returns {1, microseconds from now to
/// the grant} when granted, {0, microseconds to wait before asking again} when not; the same
/// arithmetic as `LocalPacer::take`. Time comes from Redis itself.
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local ahead = tonumber(ARGV[2])
-- No burst: granted at the moment every bucket's theoretical arrival time has come.
local due = now
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or now)
  if tat > due then due = tat end
end
if due - now > ahead then return {0, due - now - ahead} end
for i, key in ipairs(KEYS) do
  local tat = due + cost * tonumber(ARGV[i + 2])
  redis.call('SET', key, tat, 'PX', math.ceil((tat - now) / 1000) + 1000)
end
return {1, due - now}
"#;

/// KEYS[1]: a bucket key; ARGV[1]: microseconds from now before which it grants nothing.
const HOLD_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < until_ then
  redis.call('SET', KEYS[1], until_, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
"#;

impl RedisPacer {
    pub async fn hold(&self, bucket: &Bucket, for_: Duration) -> Result<(), PacingError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::Script::new(HOLD_LUA)
            .key(format!("{}:pace:{}", self.prefix, bucket.key))
            .arg(for_.as_micros() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    pub fn new(conn: redis::aio::ConnectionManager, prefix: impl Into<String>) -> Self {
        Self { conn, prefix: prefix.into(), script: Arc::new(redis::Script::new(GCRA_LUA)) }
    }

    pub async fn take(&self, buckets: &[Bucket], cost: u32, ahead: Duration) -> Result<Take, PacingError> {
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(cost.max(1));
        invocation.arg(ahead.as_micros() as u64);
        for bucket in buckets {
            invocation.key(format!("{}:pace:{}", self.prefix, bucket.key));
            invocation.arg(bucket.interval().as_micros() as u64);
        }
        let mut conn = self.conn.clone();
        let (granted, micros): (u8, u64) = invocation.invoke_async(&mut conn).await?;
        let after = Duration::from_micros(micros);
        Ok(if granted == 1 { Take::Granted(after) } else { Take::Wait(after) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::ZERO;

    #[test]
    fn no_burst_and_multi_segment_costs_push_the_next_send() {
        let pacer = LocalPacer::default();
        let number = [Bucket::new("number:a", 10.0)];
        assert_eq!(pacer.take(&number, 1, NOW), Take::Granted(Duration::ZERO));
        assert!(matches!(pacer.take(&number, 1, NOW), Take::Wait(w) if w <= Duration::from_millis(100)));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(pacer.take(&number, 3, NOW), Take::Granted(Duration::ZERO));
        assert!(matches!(pacer.take(&number, 1, NOW), Take::Wait(w) if w > Duration::from_millis(250)));
    }

    #[test]
    fn a_grant_ahead_is_for_the_moment_the_tokens_are_due_never_sooner() {
        let pacer = LocalPacer::default();
        let number = [Bucket::new("number:a", 10.0)];
        assert_eq!(pacer.take(&number, 1, NOW), Take::Granted(Duration::ZERO));
        // Due in 100 ms: asked 200 ms ahead, granted for then, not now.
        let Take::Granted(after) = pacer.take(&number, 1, Duration::from_millis(200)) else {
            panic!("due within 200 ms")
        };
        assert!(after > Duration::from_millis(90) && after <= Duration::from_millis(100), "{after:?}");
        // The next is due 200 ms after the first: asked 50 ms ahead, not yet (and nothing taken).
        let Take::Wait(wait) = pacer.take(&number, 1, Duration::from_millis(50)) else { panic!("due in ~200 ms") };
        assert!(wait > Duration::from_millis(140) && wait <= Duration::from_millis(150), "{wait:?}");
        let Take::Granted(after) = pacer.take(&number, 1, Duration::from_millis(250)) else { panic!("due in 200 ms") };
        assert!(after > Duration::from_millis(190) && after <= Duration::from_millis(200), "{after:?}");
    }

    /// Sends for `run` as a number's loop does: asks, sleeps until its grant (or as told) and
    /// wakes `late` after it, as a timer does. Returns the moments it was granted for.
    fn send_for(
        pacer: &LocalPacer,
        bucket: &[Bucket],
        ahead: Duration,
        late: Duration,
        run: Duration,
    ) -> Vec<Duration> {
        let start = Instant::now();
        let mut grants = Vec::new();
        while start.elapsed() < run {
            match pacer.take(bucket, 1, ahead) {
                Take::Granted(after) => {
                    // The moment granted, on the pacer's clock: the bucket's TAT less one interval.
                    let tat = pacer.tats.lock().unwrap()[&bucket[0].key];
                    grants.push(tat - bucket[0].interval());
                    std::thread::sleep(after + late);
                }
                Take::Wait(wait) => std::thread::sleep(wait + late),
            }
        }
        grants
    }

    #[test]
    fn a_sender_waking_late_loses_nothing_when_it_asks_ahead_and_still_never_bursts() {
        let pacer = LocalPacer::default();
        let (late, run) = (Duration::from_millis(5), Duration::from_millis(400));
        let on_time = send_for(&pacer, &[Bucket::new("number:a", 100.0)], NOW, late, run);
        let ahead = send_for(&pacer, &[Bucket::new("number:b", 100.0)], Duration::from_millis(20), late, run);
        // 100/s: asked only when due, each grant comes 5 ms late and the next is due 10 ms after
        // it (one in 15 ms); asked ahead, each is granted for the moment it is due (one in 10 ms).
        assert!(ahead.len() > on_time.len(), "ahead {}, when due {}", ahead.len(), on_time.len());
        for pair in ahead.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(10), "grants closer than 10 ms: {pair:?}");
        }
    }

    #[test]
    fn a_hold_delays_the_next_grant_and_never_brings_one_forward() {
        let pacer = LocalPacer::default();
        let number = Bucket::new("number:a", 1.0);
        assert_eq!(pacer.take(std::slice::from_ref(&number), 1, NOW), Take::Granted(Duration::ZERO));
        pacer.hold(&number, Duration::from_millis(300));
        assert!(
            matches!(pacer.take(std::slice::from_ref(&number), 1, NOW), Take::Wait(w) if w > Duration::from_millis(900))
        );
        pacer.hold(&number, Duration::from_secs(2));
        assert!(
            matches!(pacer.take(std::slice::from_ref(&number), 1, NOW), Take::Wait(w) if w > Duration::from_millis(1900))
        );
        let idle = Bucket::new("number:idle", 10.0);
        pacer.hold(&idle, Duration::from_millis(200));
        assert!(matches!(pacer.take(&[idle], 1, NOW), Take::Wait(w) if w > Duration::from_millis(150)));
    }

    #[test]
    fn all_buckets_or_none() {
        let pacer = LocalPacer::default();
        let account = Bucket::new("account:x", 1.0);
        assert_eq!(
            pacer.take(&[Bucket::new("number:a", 100.0), account.clone()], 1, NOW),
            Take::Granted(Duration::ZERO)
        );
        // The account is spent; number b must not lose a token to the refused request.
        assert!(matches!(pacer.take(&[Bucket::new("number:b", 1.0), account], 1, NOW), Take::Wait(_)));
        assert_eq!(pacer.take(&[Bucket::new("number:b", 1.0)], 1, NOW), Take::Granted(Duration::ZERO));
    }
}
