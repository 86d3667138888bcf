//! Pacing (invariant 3): every send takes tokens from its number's and its account's bucket
//! before it is claimed. One GCRA (generic cell rate algorithm) with no burst: a request of
//! `cost` tokens is granted when every bucket's theoretical arrival time (TAT) has come, and
//! pushes each TAT `cost` intervals ahead, so a number at 1 MPS that sent a 3-segment message
//! waits 3 s before the next. All buckets of a send are taken together or not at all.
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
    Granted,
    /// Not now; the earliest moment all buckets could grant, from now.
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
    /// Takes `cost` tokens from every bucket, or none and says how long to wait.
    pub async fn take(&self, buckets: &[Bucket], cost: u32) -> Result<Take, PacingError> {
        match self {
            Pacer::Local(p) => Ok(p.take(buckets, cost)),
            Pacer::Redis(p) => p.take(buckets, cost).await,
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
    pub fn take(&self, buckets: &[Bucket], cost: u32) -> Take {
        let cost = cost.max(1);
        let now = self.epoch.elapsed();
        let mut tats = self.tats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let wait = buckets
            .iter()
            .map(|b| tats.get(&b.key).copied().unwrap_or(now).saturating_sub(now))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            return Take::Wait(wait);
        }
        for bucket in buckets {
            let tat = tats.get(&bucket.key).copied().unwrap_or(now).max(now);
            tats.insert(bucket.key.clone(), tat + bucket.interval() * cost);
        }
        Take::Granted
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

/// KEYS: bucket keys. ARGV[1]: cost; ARGV[i+1]: the i-th bucket's interval in microseconds.
/// Returns 0 when granted, else microseconds to wait. Time comes from Redis itself.
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local wait = 0
local new_tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  -- No burst: granted only when the bucket's theoretical arrival time has come.
  if tat > now then
    local w = tat - now
    if w > wait then wait = w end
  end
  new_tats[i] = tat + cost * interval
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local ttl = math.ceil((new_tats[i] - now) / 1000) + 1000
  redis.call('SET', key, new_tats[i], 'PX', ttl)
end
return 0
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

    pub async fn take(&self, buckets: &[Bucket], cost: u32) -> Result<Take, PacingError> {
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(cost.max(1));
        for bucket in buckets {
            invocation.key(format!("{}:pace:{}", self.prefix, bucket.key));
            invocation.arg(bucket.interval().as_micros() as u64);
        }
        let mut conn = self.conn.clone();
        let wait_us: u64 = invocation.invoke_async(&mut conn).await?;
        Ok(if wait_us == 0 { Take::Granted } else { Take::Wait(Duration::from_micros(wait_us)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_burst_and_multi_segment_costs_push_the_next_send() {
        let pacer = LocalPacer::default();
        let number = [Bucket::new("number:a", 10.0)];
        assert_eq!(pacer.take(&number, 1), Take::Granted);
        assert!(matches!(pacer.take(&number, 1), Take::Wait(w) if w <= Duration::from_millis(100)));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(pacer.take(&number, 3), Take::Granted);
        assert!(matches!(pacer.take(&number, 1), Take::Wait(w) if w > Duration::from_millis(250)));
    }

    #[test]
    fn a_hold_delays_the_next_grant_and_never_brings_one_forward() {
        let pacer = LocalPacer::default();
        let number = Bucket::new("number:a", 1.0);
        assert_eq!(pacer.take(std::slice::from_ref(&number), 1), Take::Granted);
        pacer.hold(&number, Duration::from_millis(300));
        assert!(
            matches!(pacer.take(std::slice::from_ref(&number), 1), Take::Wait(w) if w > Duration::from_millis(900))
        );
        pacer.hold(&number, Duration::from_secs(2));
        assert!(
            matches!(pacer.take(std::slice::from_ref(&number), 1), Take::Wait(w) if w > Duration::from_millis(1900))
        );
        let idle = Bucket::new("number:idle", 10.0);
        pacer.hold(&idle, Duration::from_millis(200));
        assert!(matches!(pacer.take(&[idle], 1), Take::Wait(w) if w > Duration::from_millis(150)));
    }

    #[test]
    fn all_buckets_or_none() {
        let pacer = LocalPacer::default();
        let account = Bucket::new("account:x", 1.0);
        assert_eq!(pacer.take(&[Bucket::new("number:a", 100.0), account.clone()], 1), Take::Granted);
        // The account is spent; number b must not lose a token to the refused request.
        assert!(matches!(pacer.take(&[Bucket::new("number:b", 1.0), account], 1), Take::Wait(_)));
        assert_eq!(pacer.take(&[Bucket::new("number:b", 1.0)], 1), Take::Granted);
    }
}
