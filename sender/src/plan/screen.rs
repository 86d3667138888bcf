//! Screening many messages at once: the engine's gate (`judge_send`, which the claim asks per
//! row) answered for a whole list in one statement by `screen_sends` (migration 0015), which
//! joins the list to the suppression tables as sets and probes the histories in phone order.
//! The campaign preview screens every planned message so; `tests/send_verdict.rs` proves the
//! two functions give the same verdict for every combination of inputs.

use std::ops::Range;

use chrono::{DateTime, NaiveTime, Utc};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::Semaphore;

use crate::WorkspaceId;
use crate::windows::LocalWindow;

/// The messages to screen: `judge_send`'s per-message arguments, one column each, one element
/// per message.
#[derive(Clone, Debug, Default)]
pub struct Screening {
    pub to_phones: Vec<String>,
    pub to_keys: Vec<i64>,
    pub from_numbers: Vec<String>,
    pub time_zones: Vec<String>,
    pub window_days: Vec<i16>,
    pub window_starts: Vec<NaiveTime>,
    pub window_ends: Vec<NaiveTime>,
    pub max_per_24h: Vec<Option<i16>>,
}

impl Screening {
    /// Adds one message; `to_key` is the phone's digits as a number (`plan::key_of`).
    pub fn push(&mut self, to: &str, to_key: i64, from: &str, zone: &str, window: LocalWindow, max: Option<i16>) {
        self.to_phones.push(to.to_owned());
        self.to_keys.push(to_key);
        self.from_numbers.push(from.to_owned());
        self.time_zones.push(zone.to_owned());
        self.window_days.push(i16::from(window.days));
        self.window_starts.push(window.start);
        self.window_ends.push(window.end);
        self.max_per_24h.push(max);
    }

    pub fn len(&self) -> usize {
        self.to_phones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.to_phones.is_empty()
    }
}

/// What every screened message shares: its campaign step (follow-ups skip the cooldowns), the
/// retext cooldowns in days, and the moment asked about.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub step: i16,
    pub recipient_days: i32,
    pub pair_days: i32,
    pub at: DateTime<Utc>,
}

/// Lists of at least this many messages are screened in parts, each on its own connection, at
/// most [`MAX_PARTS`] at once: one statement runs on one PostgreSQL core, and a list's verdicts
/// are independent of each other.
const MIN_PART: usize = 10_000;
const MAX_PARTS: usize = 4;

/// Connections all screenings in this process hold at once, at most: a few large previews
/// together take no more than this from the web pool (`server::db::WEB_POOL`, 20), which
/// webhooks share. A part waits for a slot before it takes a connection.
static SCREENING_SLOTS: Semaphore = Semaphore::const_new(8);

/// The gate's verdict for each message, in the order given: a reason, or `None` to send.
///
/// A long list is cut into parts screened concurrently ([`MIN_PART`]). Each part is one
/// statement in its own transaction, so its own snapshot: a suppression committed meanwhile may
/// show in some parts only, as it would a moment later in all. Three planner settings, all
/// measured on 100k messages against 10M recipients' history (docs/benchmarks.md, "Cooldown
/// gate"): JIT off, because compiling the statement took ~0.5 s and its time goes to index
/// probes, not expressions; the prepared statement's generic plan, because a custom plan
/// re-plans around the arrays' values on every call (the generic plan is safe here: the
/// histories are probed per message whatever the planner guesses, and the suppression joins are
/// hashed or probed by the tables' sizes); and 64 MB of sort memory, because the two sorts of
/// 100k messages (by phone key, then back into order) spilled to disk at the default 4 MB,
/// ~0.1 s.
pub async fn screen(
    db: &PgPool,
    ws: WorkspaceId,
    messages: &Screening,
    rules: Rules,
) -> sqlx::Result<Vec<Option<String>>> {
    let parts = (messages.len() / MIN_PART).clamp(1, MAX_PARTS);
    let part_len = messages.len().div_ceil(parts).max(1);
    let screened = (0..messages.len()).step_by(part_len).map(|start| async move {
        let _slot = SCREENING_SLOTS.acquire().await.expect("the screening semaphore is never closed");
        let mut conn = db.acquire().await?;
        screen_part(&mut conn, ws, messages, start..(start + part_len).min(messages.len()), rules).await
    });
    Ok(futures_util::future::try_join_all(screened).await?.into_iter().flatten().collect())
}

/// [`screen`] in one statement on `conn`, however long the list.
pub async fn screen_on(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    messages: &Screening,
    rules: Rules,
) -> sqlx::Result<Vec<Option<String>>> {
    screen_part(conn, ws, messages, 0..messages.len(), rules).await
}

/// The verdicts of `messages[part]`, in one statement.
async fn screen_part(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    messages: &Screening,
    part: Range<usize>,
    rules: Rules,
) -> sqlx::Result<Vec<Option<String>>> {
    if part.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = conn.begin().await?;
    sqlx::query(
        "SELECT set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true), \
                set_config('work_mem', '64MB', true)",
    )
    .execute(&mut *tx)
    .await?;
    let verdicts = sqlx::query_scalar(
        "SELECT s.verdict FROM screen_sends($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) s ORDER BY s.ord",
    )
    .bind(ws)
    .bind(&messages.to_phones[part.clone()])
    .bind(&messages.to_keys[part.clone()])
    .bind(&messages.from_numbers[part.clone()])
    .bind(&messages.time_zones[part.clone()])
    .bind(&messages.window_days[part.clone()])
    .bind(&messages.window_starts[part.clone()])
    .bind(&messages.window_ends[part.clone()])
    .bind(&messages.max_per_24h[part])
    .bind(rules.step)
    .bind(rules.recipient_days)
    .bind(rules.pair_days)
    .bind(rules.at)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(verdicts)
}
