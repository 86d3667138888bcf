//! Planning a campaign's messages: one function ([`Setting::plan`]) decides, per lead, the
//! from-number (sticky, then area-code routing), the body (a template variant chosen by lead,
//! opt-out language on a first contact), segments, time zone, window and per-24 h limit. It feeds
//! both [`materialize`] (outbox rows, on start) and [`preview::preview`] (a dry run evaluated with
//! the engine's own gate, [`screen`]), so what the preview says is what the engine does.

pub mod preview;
pub mod screen;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use rand::Rng;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::campaigns::{self, Campaign};
use crate::leads::{Lead, LineType};
pub use crate::phone::key_of;
use crate::templates::Template;
use crate::twilio::segments::{self, Encoding};
use crate::windows::LocalWindow;
use crate::{E164, WorkspaceId, area_codes, crusades, stats};

/// Leads planned and rows inserted per round trip.
pub const BATCH: i64 = 5_000;

/// Why a lead gets no message from planning (rows `skipped` with this reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// The phone is not a valid number.
    Invalid,
    /// The lead's line type is landline.
    Landline,
    /// No active SMS number in the pool.
    NoNumber,
    /// A variable with no value and no fallback (or no such step).
    Template,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Invalid => "invalid",
            Skip::Landline => "landline",
            Skip::NoNumber => "no_number",
            Skip::Template => "template",
        }
    }
}

/// A number of the campaign's pool.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PoolNumber {
    pub e164: String,
    pub area_code: Option<String>,
    pub state: Option<String>,
    pub account_id: Uuid,
}

/// The campaign's pool: its `number_pool` (or every number of the workspace when empty),
/// active SMS numbers only, ordered by E.164.
pub async fn pool_of(conn: &mut PgConnection, ws: WorkspaceId, campaign: &Campaign) -> sqlx::Result<Vec<PoolNumber>> {
    sqlx::query_as(
        "SELECT e164, area_code, state, account_id FROM phone_numbers \
         WHERE workspace_id = $1 AND status = 'active' AND sms AND (cardinality($2::uuid[]) = 0 OR id = ANY($2)) \
         ORDER BY e164",
    )
    .bind(ws)
    .bind(&campaign.number_pool)
    .fetch_all(conn)
    .await
}

/// A rendered body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub body: String,
    pub encoding: Encoding,
    pub segments: i16,
}

impl Rendered {
    fn of(body: String) -> Self {
        let count = segments::count(&body);
        Self { body, encoding: count.encoding, segments: i16::try_from(count.segments).unwrap_or(i16::MAX) }
    }
}

/// A stable number from a lead id and a salt, so choices spread evenly and never change.
fn spread(lead: Uuid, salt: u64, n: usize) -> usize {
    let mut x = (lead.as_u128() as u64) ^ ((lead.as_u128() >> 64) as u64) ^ salt;
    // splitmix64 finalizer
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x % n.max(1) as u64) as usize
}

/// Renders step `step` of `campaign` for `lead`: the template variant chosen by lead, without
/// opt-out language (follow-ups continue a conversation). The engine calls this for steps > 0.
pub fn render_step(campaign: &Campaign, step: usize, lead: &Lead) -> Result<Rendered, Skip> {
    let variants = &campaign.steps.0.get(step).ok_or(Skip::Template)?.templates;
    if variants.is_empty() {
        return Err(Skip::Template);
    }
    let source = &variants[spread(lead.id, 0x7e57, variants.len())];
    let template = Template::parse(source).map_err(|_| Skip::Template)?;
    template.render(&lead.values()).map(Rendered::of).map_err(|_| Skip::Template)
}

/// One planned message.
#[derive(Clone, Debug)]
pub struct Message {
    pub to: E164,
    pub from: PoolNumber,
    pub rendered: Rendered,
    pub zone: Tz,
    pub window: LocalWindow,
    pub max_per_24h: Option<i16>,
    pub not_before: DateTime<Utc>,
}

/// The plan for one lead: a message, or why none.
#[derive(Clone, Debug)]
pub struct Plan {
    pub lead_id: Uuid,
    pub phone: String,
    pub zone: Tz,
    pub outcome: Result<Message, Skip>,
}

/// What the database knows about one batch's recipients.
#[derive(Debug, Default)]
pub struct History {
    /// Phone → our number already talking to it: a conversation first, else the pair we texted
    /// last (`pair_history`), else a row still queued for it in another campaign.
    pub sticky: HashMap<String, String>,
    /// Phones we have texted before (a `pair_history` row from any of our numbers): no opt-out
    /// language for them.
    pub texted: HashSet<String>,
}

impl History {
    pub async fn load(
        conn: &mut PgConnection,
        ws: WorkspaceId,
        phones: &[String],
        pool: &[PoolNumber],
    ) -> sqlx::Result<Self> {
        let ours: Vec<&str> = pool.iter().map(|n| n.e164.as_str()).collect();
        // The pair key leads with the phone as a number. No text check beside it: the answers are
        // keyed by the pair's own `their_number`, so a phone written another way with the same
        // digits finds nothing, as by text (and a check against the whole batch, 5,000 phones, for
        // every row found would cost more than the lookup).
        let keys: Vec<i64> = phones.iter().map(|p| key_of(p)).collect();
        let sticky: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT ON (their) their, ours FROM ( \
               SELECT their_number AS their, our_number AS ours, 0 AS rank, last_message_at AS at FROM conversations \
               WHERE workspace_id = $1 AND their_number = ANY($2) AND our_number = ANY($3) \
               UNION ALL \
               SELECT their_number, our_number, 1, last_sent_at FROM pair_history \
               WHERE workspace_id = $1 AND their_key = ANY($4) AND our_number = ANY($3) \
               UNION ALL \
               SELECT to_phone, from_number, 2, updated_at FROM outbox \
               WHERE workspace_id = $1 AND to_phone = ANY($2) AND from_number = ANY($3) AND state = 'queued') s \
             ORDER BY their, rank, at DESC",
        )
        .bind(ws)
        .bind(phones)
        .bind(&ours)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?;
        let texted: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT their_number FROM pair_history WHERE workspace_id = $1 AND their_key = ANY($2)",
        )
        .bind(ws)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Self { sticky: sticky.into_iter().collect(), texted: texted.into_iter().collect() })
    }
}

/// Everything fixed for one campaign's planning: the pool indexed for routing, the crusade's
/// window and jitter, the clock.
pub struct Setting<'c> {
    pub campaign: &'c Campaign,
    pool: Vec<PoolNumber>,
    by_e164: HashMap<String, usize>,
    by_area_code: HashMap<String, Vec<usize>>,
    by_state: HashMap<String, Vec<usize>>,
    window: LocalWindow,
    jitter_seconds: i64,
    now: DateTime<Utc>,
}

fn all_day() -> LocalWindow {
    LocalWindow::every_day(NaiveTime::MIN, NaiveTime::from_hms_opt(23, 59, 59).expect("valid time"))
}

impl<'c> Setting<'c> {
    pub fn new(
        campaign: &'c Campaign,
        pool: Vec<PoolNumber>,
        crusade: Option<&crusades::Crusade>,
        now: DateTime<Utc>,
    ) -> Self {
        let (mut by_e164, mut by_area_code, mut by_state) = (HashMap::new(), HashMap::new(), HashMap::new());
        for (i, n) in pool.iter().enumerate() {
            by_e164.insert(n.e164.clone(), i);
            if let Some(a) = &n.area_code {
                by_area_code.entry(a.clone()).or_insert_with(Vec::new).push(i);
            }
            if let Some(s) = &n.state {
                by_state.entry(s.clone()).or_insert_with(Vec::new).push(i);
            }
        }
        Self {
            campaign,
            pool,
            by_e164,
            by_area_code,
            by_state,
            window: crusade.map_or_else(all_day, |c| c.window()),
            jitter_seconds: crusade.map_or(0, |c| i64::from(c.jitter_seconds)),
            now,
        }
    }

    /// Loads the pool and the crusade of `campaign`.
    pub async fn load(
        conn: &mut PgConnection,
        ws: WorkspaceId,
        campaign: &'c Campaign,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Self> {
        let pool = pool_of(conn, ws, campaign).await?;
        let crusade = match campaign.crusade_id {
            Some(id) => crusades::get(conn, ws, id).await?,
            None => None,
        };
        Ok(Self::new(campaign, pool, crusade.as_ref(), now))
    }

    /// Sticky number if it is still in the pool; else same area code, same state, any: the
    /// first non-empty tier, spread by lead.
    fn route(&self, lead: Uuid, to: &E164, state: Option<&str>, history: &History) -> Option<&PoolNumber> {
        if let Some(&i) = history.sticky.get(to.as_str()).and_then(|ours| self.by_e164.get(ours)) {
            return Some(&self.pool[i]);
        }
        let area = area_codes::area_code(to).and_then(|a| self.by_area_code.get(a));
        let same_state = state.and_then(|s| self.by_state.get(s));
        if let Some(tier) = area.or(same_state) {
            return Some(&self.pool[tier[spread(lead, 0xa5ea, tier.len())]]);
        }
        (!self.pool.is_empty()).then(|| &self.pool[spread(lead, 0xa5ea, self.pool.len())])
    }

    fn not_before(&self) -> DateTime<Utc> {
        let jitter = if self.jitter_seconds > 0 { rand::rng().random_range(0..=self.jitter_seconds) } else { 0 };
        self.now + Duration::seconds(jitter)
    }

    /// Plans step 0 for `lead`.
    pub fn plan(&self, lead: &Lead, history: &History) -> Plan {
        let zone = lead.zone();
        let outcome = self.message(lead, zone, history);
        Plan { lead_id: lead.id, phone: lead.phone.clone(), zone, outcome }
    }

    fn message(&self, lead: &Lead, zone: Tz, history: &History) -> Result<Message, Skip> {
        let to = E164::parse(&lead.phone).map_err(|_| Skip::Invalid)?;
        if lead.line_type == LineType::Landline {
            return Err(Skip::Landline);
        }
        let state = lead.region();
        let from = self.route(lead.id, &to, state.as_deref(), history).ok_or(Skip::NoNumber)?.clone();
        let mut rendered = render_step(self.campaign, 0, lead)?;
        let language = self.campaign.opt_out_language.trim();
        if !language.is_empty() && !history.texted.contains(to.as_str()) {
            rendered = Rendered::of(format!("{}\n{language}", rendered.body));
        }
        Ok(Message {
            to,
            from,
            rendered,
            zone,
            window: LocalWindow::legal(state.as_deref()).intersect(self.window),
            max_per_24h: matches!(state.as_deref(), Some("FL" | "OK")).then_some(3),
            not_before: self.not_before(),
        })
    }
}

/// What one materialization inserted (rows already there are not counted again).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Materialized {
    pub queued: i64,
    pub skipped: BTreeMap<&'static str, i64>,
}

/// Turns the campaign's audience into step-0 outbox rows in batches, in the caller's
/// transaction. Re-running never duplicates (`ON CONFLICT DO NOTHING` on the row's key) and
/// counts only what it inserted: `materialized` and `skipped:<reason>`.
pub async fn materialize(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Materialized> {
    let Some(campaign) = campaigns::get(conn, ws, id).await? else { return Ok(Materialized::default()) };
    let setting = Setting::load(conn, ws, &campaign, now).await?;
    let mut done = Materialized::default();
    let mut after = None;
    loop {
        let leads = campaign.audience.0.leads_page(conn, ws, after, BATCH).await?;
        let Some(last) = leads.last() else { break };
        after = Some(last.id);
        let phones: Vec<String> = leads.iter().map(|l| l.phone.clone()).collect();
        let history = History::load(conn, ws, &phones, &setting.pool).await?;
        let plans: Vec<Plan> = leads.iter().map(|l| setting.plan(l, &history)).collect();
        for reason in insert_rows(conn, ws, &campaign, &plans).await? {
            match reason.and_then(|r| {
                [Skip::Invalid, Skip::Landline, Skip::NoNumber, Skip::Template].into_iter().find(|s| s.as_str() == r)
            }) {
                Some(skip) => *done.skipped.entry(skip.as_str()).or_default() += 1,
                None => done.queued += 1,
            }
        }
    }
    let total = done.queued + done.skipped.values().sum::<i64>();
    let names: Vec<(String, i64)> = done.skipped.iter().map(|(r, n)| (stats::skipped(r), *n)).collect();
    let mut adds: Vec<(Uuid, &str, i64)> = vec![(id, stats::metric::MATERIALIZED, total)];
    adds.extend(names.iter().map(|(m, n)| (id, m.as_str(), *n)));
    adds.retain(|(_, _, n)| *n > 0);
    stats::add_many(conn, ws, &adds).await?;
    sqlx::query("UPDATE campaigns SET materialized_at = $3 WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done)
}

/// Inserts one batch of plans as step-0 rows (queued, or skipped with the reason); returns the
/// skip reason of each row actually inserted (None: queued).
async fn insert_rows(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    campaign: &Campaign,
    plans: &[Plan],
) -> sqlx::Result<Vec<Option<String>>> {
    let mut cols = Columns::default();
    for p in plans {
        cols.push(p);
    }
    sqlx::query_scalar(
        "INSERT INTO outbox (workspace_id, campaign_id, crusade_id, step, lead_id, to_phone, to_key, from_number, \
           account_id, body, segments, not_before, state, skip_reason, time_zone, window_days, window_start, \
           window_end, max_per_24h) \
         SELECT $1, $2, $3, 0, t.* FROM unnest($4::uuid[], $5::text[], $6::bigint[], $7::text[], $8::uuid[], \
           $9::text[], $10::smallint[], $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::smallint[], \
           $16::time[], $17::time[], $18::smallint[]) AS t \
         ON CONFLICT (workspace_id, campaign_id, step, lead_id) DO NOTHING RETURNING skip_reason",
    )
    .bind(ws)
    .bind(campaign.id)
    .bind(campaign.crusade_id)
    .bind(&cols.lead_id)
    .bind(&cols.to_phone)
    .bind(&cols.to_key)
    .bind(&cols.from_number)
    .bind(&cols.account_id)
    .bind(&cols.body)
    .bind(&cols.segments)
    .bind(&cols.not_before)
    .bind(&cols.state)
    .bind(&cols.skip_reason)
    .bind(&cols.time_zone)
    .bind(&cols.window_days)
    .bind(&cols.window_start)
    .bind(&cols.window_end)
    .bind(&cols.max_per_24h)
    .fetch_all(conn)
    .await
}

/// A batch of outbox rows as column arrays (for `unnest`).
#[derive(Default)]
struct Columns {
    lead_id: Vec<Uuid>,
    to_phone: Vec<String>,
    to_key: Vec<i64>,
    from_number: Vec<String>,
    account_id: Vec<Option<Uuid>>,
    body: Vec<String>,
    segments: Vec<i16>,
    not_before: Vec<DateTime<Utc>>,
    state: Vec<&'static str>,
    skip_reason: Vec<Option<&'static str>>,
    time_zone: Vec<String>,
    window_days: Vec<i16>,
    window_start: Vec<NaiveTime>,
    window_end: Vec<NaiveTime>,
    max_per_24h: Vec<Option<i16>>,
}

impl Columns {
    fn push(&mut self, p: &Plan) {
        self.lead_id.push(p.lead_id);
        self.to_phone.push(p.phone.clone());
        self.to_key.push(key_of(&p.phone));
        self.time_zone.push(p.zone.name().to_owned());
        match &p.outcome {
            Ok(m) => {
                self.from_number.push(m.from.e164.clone());
                self.account_id.push(Some(m.from.account_id));
                self.body.push(m.rendered.body.clone());
                self.segments.push(m.rendered.segments);
                self.not_before.push(m.not_before);
                self.state.push("queued");
                self.skip_reason.push(None);
                self.window_days.push(i16::from(m.window.days));
                self.window_start.push(m.window.start);
                self.window_end.push(m.window.end);
                self.max_per_24h.push(m.max_per_24h);
            }
            Err(skip) => {
                let legal = LocalWindow::legal(None);
                self.from_number.push(String::new());
                self.account_id.push(None);
                self.body.push(String::new());
                self.segments.push(0);
                self.not_before.push(Utc::now());
                self.state.push("skipped");
                self.skip_reason.push(Some(skip.as_str()));
                self.window_days.push(i16::from(legal.days));
                self.window_start.push(legal.start);
                self.window_end.push(legal.end);
                self.max_per_24h.push(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_stable_and_covers_every_choice() {
        let ids: Vec<Uuid> = (0..400).map(|_| Uuid::now_v7()).collect();
        let mut seen = [0usize; 4];
        for id in &ids {
            let pick = spread(*id, 1, 4);
            assert_eq!(pick, spread(*id, 1, 4));
            seen[pick] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
    }
}
