//! The simulator's configuration: accounts and their numbers, recipients' properties, pacing,
//! and the runtime-changeable behaviour (callback outcomes, replies, faults). Read from a TOML or
//! JSON file and/or command-line flags; everything has a default, and no accounts means one demo
//! account derived from the seed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ids;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("parsing {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Everything the simulator needs to start.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    pub bind: SocketAddr,
    /// Seeds ids, the demo account's credentials, outcomes and faults.
    pub seed: u64,
    /// Empty: one demo account (see [`SimConfig::demo_account`]).
    pub accounts: Vec<AccountConfig>,
    /// Segments per second a number sends when it names no `mps` of its own.
    pub default_mps: f64,
    /// A create that would leave more than this many seconds queued on its From gets 21611.
    pub max_queue_seconds: f64,
    /// Concurrent in-flight API requests per account above which Twilio answers 429/20429.
    pub max_concurrent_requests: usize,
    /// Recipients that are landlines or otherwise not mobile (21614).
    pub non_mobile: Vec<String>,
    /// E.164 prefixes the accounts have no geo permission for (21408), e.g. "+44".
    pub geo_blocked_prefixes: Vec<String>,
    /// More than `pair_limit` messages between the same two numbers within `pair_window_seconds`
    /// fail with 14107.
    pub pair_limit: usize,
    pub pair_window_seconds: u64,
    #[serde(flatten)]
    pub behaviour: Behaviour,
}

/// The part of the configuration that `POST /sim/config` and `SimHandle::set_behaviour` change
/// while the simulator runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    pub callbacks: CallbackConfig,
    pub replies: ReplyConfig,
    pub faults: Faults,
}

/// A partial [`Behaviour`]: the sections present replace the running ones.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BehaviourUpdate {
    pub callbacks: Option<CallbackConfig>,
    pub replies: Option<ReplyConfig>,
    pub faults: Option<Faults>,
}

/// Status callbacks: whether they are sent, how late, and how messages end.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackConfig {
    /// Off: no status callbacks at all (the messages still progress for GET).
    pub enabled: bool,
    /// From leaving the queue to the "sent" callback.
    pub sent_delay_ms: u64,
    /// From "sent" to the final status.
    pub delivery_delay_ms: u64,
    /// Probability that one of a message's callbacks is posted twice.
    pub duplicate_rate: f64,
    /// Probability that the final callback is posted before "sent".
    pub reorder_rate: f64,
    /// Error code → probability of a message ending with it (30003–30008 undelivered, 30034
    /// failed, ...). The rest are delivered. Keys are written as strings in TOML and JSON.
    #[serde(deserialize_with = "error_code_keys")]
    pub error_rates: BTreeMap<u16, f64>,
    /// Callback POSTs in flight at once, over all messages.
    pub max_in_flight: usize,
    pub timeout_ms: u64,
}

/// Reads `{"30003": 0.01}`: map keys arrive as strings (always in TOML, and in JSON once
/// flattened into `SimConfig`).
fn error_code_keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<u16, f64>, D::Error> {
    let raw = BTreeMap::<String, f64>::deserialize(d)?;
    raw.into_iter()
        .map(|(code, rate)| match code.trim().parse::<u16>() {
            Ok(code) => Ok((code, rate)),
            Err(_) => Err(serde::de::Error::custom(format!("{code:?} is not a Twilio error code"))),
        })
        .collect()
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sent_delay_ms: 50,
            delivery_delay_ms: 200,
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            error_rates: BTreeMap::new(),
            max_in_flight: 32,
            timeout_ms: 5_000,
        }
    }
}

/// Simulated recipients who answer a delivered message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReplyConfig {
    pub stop_rate: f64,
    pub start_rate: f64,
    pub help_rate: f64,
    pub text_rate: f64,
    /// From delivery to the reply.
    pub delay_ms: u64,
    /// Where inbound webhooks go when neither the number nor the account names a URL.
    pub inbound_url: Option<String>,
    /// Probability that an inbound webhook (a reply, or one from `/sim/inbound`) is posted twice,
    /// as Twilio retries a webhook it believes failed: same parameters, same signature.
    pub duplicate_rate: f64,
}

impl Default for ReplyConfig {
    fn default() -> Self {
        Self {
            stop_rate: 0.0,
            start_rate: 0.0,
            help_rate: 0.0,
            text_rate: 0.0,
            delay_ms: 100,
            inbound_url: None,
            duplicate_rate: 0.0,
        }
    }
}

/// Injected faults on the Messages API (never on `/sim/*`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Every API answer waits this long ...
    pub latency_ms: u64,
    /// ... plus a uniform random extra up to this.
    pub latency_jitter_ms: u64,
    /// Probability of a 500 (code 20500), a 503 (code 20503), an injected 429 (code 20429).
    pub error_500_rate: f64,
    pub error_503_rate: f64,
    pub error_429_rate: f64,
    /// Probability that a request is never answered (held until the client gives up).
    pub hang_rate: f64,
}

/// One Twilio account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// `AC` + 32 hex.
    pub sid: String,
    /// 32 hex.
    pub auth_token: String,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    pub numbers: Vec<NumberConfig>,
    #[serde(default)]
    pub messaging_services: Vec<MessagingServiceConfig>,
    /// Inbound webhook for replies to this account's numbers.
    #[serde(default)]
    pub inbound_url: Option<String>,
    /// Overrides the global `max_concurrent_requests`.
    #[serde(default)]
    pub max_concurrent_requests: Option<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// `SK` + 32 hex.
    pub sid: String,
    pub secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberConfig {
    /// E.164.
    pub number: String,
    /// Segments per second; the global default when absent.
    #[serde(default)]
    pub mps: Option<f64>,
    /// Messages per UTC day; beyond it messages end undelivered with 30023.
    #[serde(default)]
    pub daily_cap: Option<u32>,
    #[serde(default)]
    pub inbound_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagingServiceConfig {
    /// `MG` + 32 hex.
    pub sid: String,
    /// Numbers of the account in this service's pool.
    pub numbers: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 4010)),
            seed: 1,
            accounts: Vec::new(),
            default_mps: 1.0,
            max_queue_seconds: 36_000.0,
            max_concurrent_requests: 100,
            non_mobile: Vec::new(),
            geo_blocked_prefixes: Vec::new(),
            pair_limit: 30,
            pair_window_seconds: 30,
            behaviour: Behaviour::default(),
        }
    }
}

impl SimConfig {
    /// Reads a `.toml` or `.json` file (by extension; anything else is tried as TOML).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let parsed = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|message| ConfigError::Parse { path: shown, message })
    }

    /// The demo account this seed yields: ten numbers (+1 201 555 0100–0109) and one messaging
    /// service holding them all.
    pub fn demo_account(seed: u64) -> AccountConfig {
        let numbers: Vec<String> = (0..10).map(|i| format!("+1201555010{i}")).collect();
        AccountConfig {
            sid: format!("AC{}", ids::hex128(seed, 0xAC)),
            auth_token: ids::hex128(seed, 0x70),
            api_keys: vec![ApiKeyConfig {
                sid: format!("SK{}", ids::hex128(seed, 0x5C)),
                secret: ids::hex128(seed, 0x5E),
            }],
            numbers: numbers
                .iter()
                .map(|n| NumberConfig { number: n.clone(), mps: None, daily_cap: None, inbound_url: None })
                .collect(),
            messaging_services: vec![MessagingServiceConfig { sid: format!("MG{}", ids::hex128(seed, 0x36)), numbers }],
            inbound_url: None,
            max_concurrent_requests: None,
        }
    }

    /// The accounts to serve: the configured ones, or the demo account.
    pub fn effective_accounts(&self) -> Vec<AccountConfig> {
        if self.accounts.is_empty() { vec![Self::demo_account(self.seed)] } else { self.accounts.clone() }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.default_mps.is_nan() || self.default_mps <= 0.0 {
            return bad("default_mps must be positive".into());
        }
        for a in &self.accounts {
            if !ids::is_sid(&a.sid, "AC") {
                return bad(format!("account sid {:?} is not AC + 32 hex", a.sid));
            }
            for n in &a.numbers {
                if n.mps.is_some_and(|m| m.is_nan() || m <= 0.0) {
                    return bad(format!("number {}: mps must be positive", n.number));
                }
            }
        }
        validate_behaviour(&self.behaviour)
    }
}

/// Every rate is a probability, and the rates that share one draw sum to at most 1.
pub fn validate_behaviour(b: &Behaviour) -> Result<(), ConfigError> {
    let (c, r, f) = (&b.callbacks, &b.replies, &b.faults);
    let single = [c.duplicate_rate, c.reorder_rate, r.duplicate_rate, f.hang_rate];
    let groups = [
        c.error_rates.values().sum::<f64>(),
        r.stop_rate + r.start_rate + r.help_rate + r.text_rate,
        f.error_500_rate + f.error_503_rate + f.error_429_rate,
    ];
    let all = single.iter().chain(&groups).chain(c.error_rates.values());
    let each =
        [r.stop_rate, r.start_rate, r.help_rate, r.text_rate, f.error_500_rate, f.error_503_rate, f.error_429_rate];
    if all.chain(&each).any(|p| !(0.0..=1.0).contains(p)) {
        return Err(ConfigError::Invalid(
            "rates are probabilities between 0 and 1, and each group sums to at most 1".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_validates() {
        let c: SimConfig = toml::from_str(include_str!("../sim.example.toml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.accounts[0].numbers[0].daily_cap, Some(2000));
        assert_eq!(c.behaviour.callbacks.error_rates.get(&30007), Some(&0.01));
        assert_eq!(c.behaviour.replies.stop_rate, 0.01);
        let json: SimConfig =
            serde_json::from_str(r#"{"seed": 3, "callbacks": {"error_rates": {"30003": 0.5}}}"#).unwrap();
        assert_eq!(json.behaviour.callbacks.error_rates.get(&30003), Some(&0.5));
        assert!(toml::from_str::<SimConfig>("sede = 3").is_err(), "unknown keys are refused");
        assert!(toml::from_str::<SimConfig>("[callbacks]\nerror_rates = { x = 0.1 }").is_err());
    }

    #[test]
    fn defaults_serve_a_demo_account_derived_from_the_seed() {
        let a = SimConfig::demo_account(1);
        assert!(ids::is_sid(&a.sid, "AC") && a.auth_token.len() == 32);
        assert_eq!(a.sid, SimConfig::demo_account(1).sid);
        assert_ne!(a.sid, SimConfig::demo_account(2).sid);
        assert_eq!(SimConfig::default().effective_accounts().len(), 1);
    }

    #[test]
    fn bad_rates_are_refused() {
        let mut c = SimConfig::default();
        c.behaviour.faults.error_500_rate = 0.7;
        c.behaviour.faults.error_503_rate = 0.7;
        assert!(c.validate().is_err());
        c.behaviour.faults = Faults::default();
        c.behaviour.callbacks.duplicate_rate = f64::NAN;
        assert!(c.validate().is_err());
        c.behaviour.callbacks.duplicate_rate = 0.0;
        c.behaviour.replies.duplicate_rate = 1.5;
        assert!(c.validate().is_err());
    }
}
