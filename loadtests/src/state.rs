//! The simulator's memory: accounts (fixed at start), messages, per-sender queues, pair windows,
//! opt-outs, replies and counters. Everything on the create path is sharded (DashMap) or atomic;
//! there is no global lock a create waits on.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use switchboard_sender::E164;

use crate::config::{AccountConfig, Behaviour, SimConfig};
use crate::dispatch::Dispatcher;
use crate::message::Message;

/// One account as the simulator serves it.
#[derive(Debug)]
pub struct Account {
    pub sid: String,
    pub auth_token: String,
    pub api_keys: Vec<(String, String)>,
    pub numbers: HashMap<String, Number>,
    pub services: HashMap<String, Vec<String>>,
    pub inbound_url: Option<String>,
    pub max_concurrent: usize,
    pub in_flight: AtomicUsize,
}

#[derive(Debug)]
pub struct Number {
    pub mps: f64,
    pub daily_cap: Option<u32>,
    pub inbound_url: Option<String>,
}

/// A From number's queue: when it is next free, and how much it sent today.
#[derive(Debug, Default)]
pub struct SenderQueue {
    pub next_free_ms: f64,
    pub day: i64,
    pub sent_today: u32,
}

/// A reply a simulated recipient sent (or `/sim/inbound` injected).
#[derive(Clone, Debug, Serialize)]
pub struct ReplyEntry {
    pub sid: String,
    pub account: String,
    /// The recipient who replied.
    pub from: String,
    /// Our number they replied to.
    pub to: String,
    pub body: String,
    pub opt_out_type: Option<&'static str>,
    pub at_ms: i64,
}

/// Counters over the simulator's life (since the last reset).
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    pub callbacks_posted: AtomicU64,
    pub callbacks_failed: AtomicU64,
    pub inbound_posted: AtomicU64,
    pub inbound_failed: AtomicU64,
    pub webhooks_sunk: AtomicU64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Stats {
    pub accepted: u64,
    pub rejected: BTreeMap<i64, u64>,
    pub callbacks_posted: u64,
    pub callbacks_failed: u64,
    pub inbound_posted: u64,
    pub inbound_failed: u64,
    /// Webhooks this simulator received at its sink (`POST /webhooks/...`).
    pub webhooks_sunk: u64,
    pub opt_outs: usize,
}

/// DashMaps hashed with foldhash: SipHash showed up in profiles of the create path.
pub type FastMap<K, V> = dashmap::DashMap<K, V, foldhash::fast::RandomState>;

fn fast_map<K: Eq + std::hash::Hash, V>() -> FastMap<K, V> {
    FastMap::with_hasher(foldhash::fast::RandomState::default())
}

/// How many distinct raw recipient strings keep their parse result (see `SimState::parse_to`).
const PARSED_RECIPIENTS_KEPT: usize = 200_000;

pub struct SimState {
    pub seed: u64,
    pub accounts: HashMap<String, Account>,
    pub default_mps: f64,
    pub max_queue_ms: f64,
    pub pair_limit: usize,
    pub pair_window_ms: i64,
    pub non_mobile: HashSet<String>,
    pub geo_blocked_prefixes: Vec<String>,
    behaviour: RwLock<Arc<Behaviour>>,
    pub messages: FastMap<String, Arc<Message>>,
    pub senders: FastMap<String, SenderQueue>,
    pub pairs: FastMap<u64, VecDeque<i64>>,
    /// (our number, recipient) pairs that texted STOP.
    pub opt_outs: FastMap<u64, ()>,
    /// Raw `To` → its E.164 form (None: invalid). phonenumber's parse dominated the create
    /// path's profile; results are exact, kept for up to `PARSED_RECIPIENTS_KEPT` strings.
    parsed_recipients: FastMap<String, Option<String>>,
    pub replies: Mutex<Vec<ReplyEntry>>,
    pub rejections: FastMap<i64, AtomicU64>,
    pub counters: Counters,
    pub message_seq: AtomicU64,
    pub request_seq: AtomicU64,
    pub dispatcher: Dispatcher,
}

/// A 64-bit key for an ordered pair of numbers (fixed seed: the same in every run).
pub fn pair_key(a: &str, b: &str) -> u64 {
    foldhash::quality::FixedState::with_seed(0x5041_4952).hash_one((a, b))
}

impl SimState {
    pub fn new(config: &SimConfig) -> Self {
        let accounts = config.effective_accounts().into_iter().map(|a| (a.sid.clone(), account(a, config))).collect();
        Self {
            seed: config.seed,
            accounts,
            default_mps: config.default_mps,
            max_queue_ms: config.max_queue_seconds * 1000.0,
            pair_limit: config.pair_limit,
            pair_window_ms: i64::try_from(config.pair_window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            non_mobile: config.non_mobile.iter().cloned().collect(),
            geo_blocked_prefixes: config.geo_blocked_prefixes.clone(),
            dispatcher: Dispatcher::new(&config.behaviour.callbacks),
            behaviour: RwLock::new(Arc::new(config.behaviour.clone())),
            messages: fast_map(),
            senders: fast_map(),
            pairs: fast_map(),
            opt_outs: fast_map(),
            parsed_recipients: fast_map(),
            replies: Mutex::new(Vec::new()),
            rejections: fast_map(),
            counters: Counters::default(),
            message_seq: AtomicU64::new(0),
            request_seq: AtomicU64::new(0),
        }
    }

    pub fn behaviour(&self) -> Arc<Behaviour> {
        match self.behaviour.read() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let mut slot = match self.behaviour.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(behaviour);
    }

    pub fn next_message_seq(&self) -> u64 {
        self.message_seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn count_rejection(&self, code: i64) {
        if let Some(n) = self.rejections.get(&code) {
            n.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.rejections.entry(code).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// `raw` in E.164, or None when phonenumber finds it invalid.
    pub fn parse_to(&self, raw: &str) -> Option<String> {
        if let Some(known) = self.parsed_recipients.get(raw) {
            return known.clone();
        }
        let parsed = E164::parse(raw).ok().map(|e| e.as_str().to_owned());
        if self.parsed_recipients.len() < PARSED_RECIPIENTS_KEPT {
            self.parsed_recipients.insert(raw.to_owned(), parsed.clone());
        }
        parsed
    }

    pub fn is_opted_out(&self, our_number: &str, recipient: &str) -> bool {
        self.opt_outs.contains_key(&pair_key(our_number, recipient))
    }

    pub fn set_opt_out(&self, our_number: &str, recipient: &str, opted_out: bool) {
        let key = pair_key(our_number, recipient);
        if opted_out {
            self.opt_outs.insert(key, ());
        } else {
            self.opt_outs.remove(&key);
        }
    }

    /// The webhook for messages to `our_number`: the number's, the account's, or the global one.
    pub fn inbound_url(&self, account: &Account, our_number: &str) -> Option<String> {
        account
            .numbers
            .get(our_number)
            .and_then(|n| n.inbound_url.clone())
            .or_else(|| account.inbound_url.clone())
            .or_else(|| self.behaviour().replies.inbound_url.clone())
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            accepted: c.accepted.load(Ordering::Relaxed),
            rejected: self.rejections.iter().map(|e| (*e.key(), e.value().load(Ordering::Relaxed))).collect(),
            callbacks_posted: c.callbacks_posted.load(Ordering::Relaxed),
            callbacks_failed: c.callbacks_failed.load(Ordering::Relaxed),
            inbound_posted: c.inbound_posted.load(Ordering::Relaxed),
            inbound_failed: c.inbound_failed.load(Ordering::Relaxed),
            webhooks_sunk: c.webhooks_sunk.load(Ordering::Relaxed),
            opt_outs: self.opt_outs.len(),
        }
    }

    /// Forgets every message, queue, window, opt-out, reply and counter. Sequence numbers go on,
    /// so sids never repeat within one run.
    pub fn reset(&self) {
        self.messages.clear();
        self.senders.clear();
        self.pairs.clear();
        self.opt_outs.clear();
        self.rejections.clear();
        match self.replies.lock() {
            Ok(mut r) => r.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
        let c = &self.counters;
        for n in [
            &c.accepted,
            &c.callbacks_posted,
            &c.callbacks_failed,
            &c.inbound_posted,
            &c.inbound_failed,
            &c.webhooks_sunk,
        ] {
            n.store(0, Ordering::Relaxed);
        }
    }

    pub fn push_reply(&self, reply: ReplyEntry) {
        match self.replies.lock() {
            Ok(mut r) => r.push(reply),
            Err(poisoned) => poisoned.into_inner().push(reply),
        }
    }

    pub fn replies(&self) -> Vec<ReplyEntry> {
        match self.replies.lock() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn account(a: AccountConfig, config: &SimConfig) -> Account {
    Account {
        numbers: a
            .numbers
            .iter()
            .map(|n| {
                let number = Number {
                    mps: n.mps.unwrap_or(config.default_mps),
                    daily_cap: n.daily_cap,
                    inbound_url: n.inbound_url.clone(),
                };
                (n.number.clone(), number)
            })
            .collect(),
        services: a.messaging_services.iter().map(|s| (s.sid.clone(), s.numbers.clone())).collect(),
        api_keys: a.api_keys.iter().map(|k| (k.sid.clone(), k.secret.clone())).collect(),
        max_concurrent: a.max_concurrent_requests.unwrap_or(config.max_concurrent_requests),
        in_flight: AtomicUsize::new(0),
        inbound_url: a.inbound_url,
        sid: a.sid,
        auth_token: a.auth_token,
    }
}
