//! Invariant 4 end to end with a controllable clock. Campaigns are started (materialized) through
//! `campaigns::transition`, the lifecycle the API runs, at chosen instants; due rows are claimed by
//! the engine's claim statement (`outbox::claim_round`, which takes `now`); every claimed row is
//! recorded and finished by the engine's own `Recorder` at the claim's instant, so the pair and
//! recipient histories the gate reads are the ones the engine writes. The engine itself is off.
//! Expected local hours come from chrono-tz here, not from the code under test.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::America::{Chicago, Los_Angeles, New_York};
use chrono_tz::Tz;
use reqwest::StatusCode;
use switchboard_sender::campaigns::{self, Action};
use switchboard_sender::engine::classify::Disposition;
use switchboard_sender::engine::recorder::{Finished, Recorder};
use switchboard_sender::outbox::{ClaimRound, Scope, claim_round};
use switchboard_sender::send_log::{Attempt, ensure_partitions, record_attempts};
use switchboard_sender::{WorkspaceId, stats};

use super::*;

const WORKER: &str = "invariant-4-clock";

/// The recipients' places: area code, state, the zone covering most of the state, and whether
/// the state allows only 08:00–20:00 and 3 messages per 24 h (Florida, Oklahoma).
const PLACES: [(&str, &str, Tz, bool); 6] = [
    ("212", "NY", New_York, false),
    ("312", "IL", Chicago, false),
    ("214", "TX", Chicago, false),
    ("213", "CA", Los_Angeles, false),
    ("305", "FL", New_York, true),
    ("405", "OK", Chicago, true),
];

/// (zone, limited) of a test phone, by its area code.
fn place(phone: &str) -> (Tz, bool) {
    let p = PLACES.iter().find(|p| phone.starts_with(&format!("+1{}", p.0))).expect("a test phone");
    (p.2, p.3)
}

/// Whether `at` is inside the recipient's legal hours: [08:00, 21:00), FL and OK [08:00, 20:00).
fn is_legal(at: DateTime<Utc>, phone: &str) -> bool {
    let (zone, limited) = place(phone);
    let end = if limited { 20 } else { 21 };
    (8..end).contains(&at.with_timezone(&zone).hour())
}

/// `at` when the recipient's legal window is open, else its next opening (08:00 local).
fn opening(at: DateTime<Utc>, phone: &str) -> DateTime<Utc> {
    if is_legal(at, phone) {
        return at;
    }
    let (zone, _) = place(phone);
    let local = at.with_timezone(&zone);
    let day = if local.hour() < 8 { local.date_naive() } else { local.date_naive() + Duration::days(1) };
    zone.from_local_datetime(&day.and_hms_opt(8, 0, 0).unwrap()).single().unwrap().with_timezone(&Utc)
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The app (engine off), its workspace, a manager, the ten demo numbers (`e164`, id), and the
/// engine's recorder writing as the claims' worker.
struct Clock {
    app: TestApp,
    ws: WorkspaceId,
    manager: common::Client,
    numbers: Vec<(String, Uuid)>,
    recorder: Option<(Recorder, tokio::task::JoinHandle<()>)>,
    next_phone: usize,
}

impl Clock {
    async fn new() -> Self {
        // The simulator only lends its account and numbers: nothing is called.
        let sim = simulator(1.0, false).await;
        let app = TestApp::spawn().await;
        let (ws, _, _) = carrier(&app, &sim, 1.0, "http://localhost:8080").await;
        sim.stop().await;
        let numbers = sqlx::query_as("SELECT e164, id FROM phone_numbers ORDER BY e164").fetch_all(&app.pool).await;
        let mut conn = app.pool.acquire().await.unwrap();
        ensure_partitions(&mut conn, NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(), 100).await.unwrap();
        let manager = app.signed_in("manager@demo.test").await;
        let recorder = Some(Recorder::start(app.pool.clone(), WORKER.to_owned()));
        Self { app, ws, manager, numbers: numbers.unwrap(), recorder, next_phone: 0 }
    }

    /// One new lead per area code in `areas`, tagged `tag`; returns their phones in that order.
    async fn leads(&mut self, tag: &str, areas: &[&str]) -> Vec<String> {
        let phones: Vec<String> = areas
            .iter()
            .map(|area| {
                self.next_phone += 1;
                format!("+1{area}2{:06}", self.next_phone)
            })
            .collect();
        sqlx::query(
            "INSERT INTO leads (workspace_id, id, phone, tags) SELECT $1, gen_random_uuid(), p, ARRAY[$3] \
             FROM unnest($2::text[]) p",
        )
        .bind(self.ws)
        .bind(&phones)
        .bind(tag)
        .execute(&self.app.pool)
        .await
        .unwrap();
        phones
    }

    /// Creates a campaign to the leads tagged `tag` (through the API) and starts it at `at`:
    /// materialized with `not_before` = `at` (no crusade, no jitter).
    async fn start(&self, tag: &str, retext: (i64, i64), pool: &[Uuid], at: DateTime<Utc>) -> Uuid {
        let (status, c) = self
            .manager
            .post(
                &format!("/api/workspaces/{}/campaigns", self.ws.0),
                serde_json::json!({"name": tag, "audience": {"tags": [tag]}, "number_pool": pool,
                    "retext_recipient_days": retext.0, "retext_pair_days": retext.1,
                    "steps": [{"after_days": 0, "templates": ["Hello from the windows test"]}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let id: Uuid = c["id"].as_str().unwrap().parse().unwrap();
        let mut tx = self.app.pool.begin().await.unwrap();
        campaigns::transition(&mut tx, self.ws, id, Action::Start, at).await.unwrap();
        tx.commit().await.unwrap();
        let skipped: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE campaign_id = $1 AND state <> 'queued'")
                .bind(id)
                .fetch_one(&self.app.pool)
                .await
                .unwrap();
        assert_eq!(skipped, 0, "{tag}: every lead materialized as a queued row");
        id
    }

    /// One claim at `at` as the engine makes it — the claim statement and each claimed row's
    /// attempt (the "calling" row and the histories) in one transaction — then every row
    /// finished sent.
    async fn claim(&self, at: DateTime<Utc>) -> ClaimRound {
        let mut tx = self.app.pool.begin().await.unwrap();
        let round = claim_round(&mut tx, WORKER, Scope::All, 10_000, at).await.unwrap();
        let attempts: Vec<(WorkspaceId, Attempt)> =
            round.claimed.iter().map(|row| (row.workspace_id, row.attempt(row.account_id, at).unwrap())).collect();
        record_attempts(&mut tx, &attempts).await.unwrap();
        tx.commit().await.unwrap();
        let (recorder, _) = self.recorder.as_ref().unwrap();
        for (row, (_, attempt)) in round.claimed.iter().zip(&attempts) {
            let disposition = Disposition::Sent { sid: format!("SM{:032x}", row.id), status: "queued".into() };
            let finished = Finished {
                row: row.clone(),
                account_id: row.account_id,
                attempt_id: attempt.id,
                attempted_at: at,
                disposition,
            };
            recorder.finish(finished).await;
        }
        round
    }

    /// Waits until every finished row has been written.
    async fn flush(&mut self) {
        let (recorder, done) = self.recorder.take().unwrap();
        drop(recorder);
        done.await.unwrap();
        self.recorder = Some(Recorder::start(self.app.pool.clone(), WORKER.to_owned()));
    }

    /// (to_phone, state, skip_reason, from_number, not_before) of a campaign's rows, by phone.
    async fn rows(&self, campaign: Uuid) -> Vec<(String, String, Option<String>, String, DateTime<Utc>)> {
        sqlx::query_as(
            "SELECT to_phone, state, skip_reason, from_number, not_before FROM outbox WHERE campaign_id = $1 \
             ORDER BY to_phone",
        )
        .bind(campaign)
        .fetch_all(&self.app.pool)
        .await
        .unwrap()
    }

    /// The gate's verdict for a campaign's row to `phone` at `at` (NULL: may go).
    async fn verdict(&self, campaign: Uuid, phone: &str, at: DateTime<Utc>) -> Option<String> {
        sqlx::query_scalar(
            "SELECT send_verdict(o.workspace_id, o.to_phone, o.to_key, o.from_number, o.step, o.time_zone, \
               o.window_days, o.window_start, o.window_end, o.max_per_24h, c.retext_recipient_days, \
               c.retext_pair_days, $3) \
             FROM outbox o JOIN campaigns c ON c.workspace_id = o.workspace_id AND c.id = o.campaign_id \
             WHERE o.campaign_id = $1 AND o.to_phone = $2",
        )
        .bind(campaign)
        .bind(phone)
        .bind(at)
        .fetch_one(&self.app.pool)
        .await
        .unwrap()
    }
}

fn claimed_phones(round: &ClaimRound) -> Vec<String> {
    let mut phones: Vec<String> = round.claimed.iter().map(|r| r.to_phone.clone()).collect();
    phones.sort();
    phones
}

fn sorted(phones: &[&String]) -> Vec<String> {
    let mut phones: Vec<String> = phones.iter().map(|p| (*p).clone()).collect();
    phones.sort();
    phones
}

#[tokio::test]
async fn invariant_4_windows_cooldowns_and_florida_limits_through_the_claim_with_a_controlled_clock() {
    let mut clock = Clock::new().await;
    windows_in_every_zone_across_a_dst_change(&mut clock).await;
    cooldowns_across_campaigns(&mut clock).await;
    florida_and_oklahoma_three_per_24_hours(&mut clock).await;
    clock.flush().await;

    // Over all of it: nothing was claimed outside its recipient's legal hours, and no FL or OK
    // recipient was claimed more than 3 times in any 24 h.
    let claims: Vec<(String, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT to_phone, claimed_at, state FROM outbox WHERE claimed_at IS NOT NULL ORDER BY to_phone, claimed_at",
    )
    .fetch_all(&clock.app.pool)
    .await
    .unwrap();
    assert!(claims.len() > 300, "{} claims", claims.len());
    let mut by_phone: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for (phone, at, state) in &claims {
        assert!(is_legal(*at, phone), "{phone} claimed at {at}: outside its legal hours");
        assert_eq!(state, "sent", "{phone}: a claimed row ends as the recorder wrote it");
        by_phone.entry(phone).or_default().push(*at);
    }
    for (phone, times) in by_phone.iter().filter(|(phone, _)| place(phone).1) {
        for (i, t) in times.iter().enumerate() {
            let within = times[i..].iter().take_while(|u| **u - *t < Duration::hours(24)).count();
            assert!(within <= 3, "{phone} claimed {within} times within 24 h of {t}: {times:?}");
        }
    }
}

/// 48 campaigns, one every 30 minutes from Saturday 2026-10-31 08:00 EDT (12:00 UTC), each to
/// one new recipient per place; the clock walks in 5-minute steps through the night daylight
/// saving time ends (Sunday 2026-11-01, 02:00 local: openings move an hour later in UTC). Each
/// row is claimed exactly at its opening — never before, never later — and a deferred row waits
/// with `not_before` = its next opening.
async fn windows_in_every_zone_across_a_dst_change(clock: &mut Clock) {
    let base = utc("2026-10-31T12:00:00Z");
    let areas: Vec<&str> = PLACES.iter().map(|p| p.0).collect();
    let mut expected: HashMap<String, DateTime<Utc>> = HashMap::new();
    let (mut starts, mut deferred, mut over_dst) = (Vec::new(), 0, 0);
    let mut t = base;
    while t <= base + Duration::hours(36) {
        if t < base + Duration::hours(24) && (t - base).num_minutes() % 30 == 0 {
            let tag = format!("w{}", starts.len());
            for phone in clock.leads(&tag, &areas).await {
                let due = opening(t, &phone);
                // Deferred from before the change (06:00–09:00 UTC) to an opening after it.
                over_dst += usize::from(t < utc("2026-11-01T06:00:00Z") && due > utc("2026-11-01T09:00:00Z"));
                expected.insert(phone, due);
            }
            clock.start(&tag, (30, 90), &[], t).await;
            starts.push(t);
        }
        let round = clock.claim(t).await;
        deferred += round.deferred;
        for row in &round.claimed {
            let due = expected.remove(&row.to_phone).expect("a window test row, claimed once");
            let local = t.with_timezone(&place(&row.to_phone).0);
            assert_eq!(t, due, "{} claimed at {t} ({local}), due at its opening {due}", row.to_phone);
        }
        assert!(round.skipped.is_empty(), "{:?}", round.skipped);
        // Every row still waiting (queued, not claimed) is deferred to exactly its next opening.
        let waiting: Vec<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT to_phone, not_before FROM outbox WHERE state = 'queued' AND claimed_at IS NULL")
                .fetch_all(&clock.app.pool)
                .await
                .unwrap();
        for (phone, not_before) in &waiting {
            assert_eq!(Some(not_before), expected.get(phone), "{phone} waits until {not_before}");
        }
        t += Duration::minutes(5);
    }
    assert!(expected.is_empty(), "never claimed: {expected:?}");
    assert_eq!(starts.len(), 48);
    // The walk met every kind of closed window: nights in each zone, deferrals over the change,
    // and Florida's and Oklahoma's 20:00 hour while New York and Texas were still open.
    assert!(deferred >= 100 && over_dst >= 20, "{deferred} rows deferred, {over_dst} over the DST change");
    let evening = |zone: Tz| starts.iter().filter(|s| s.with_timezone(&zone).hour() == 20).count();
    assert_eq!((evening(New_York), evening(Chicago)), (2, 2));
    // The oracle's own answers, written out: Saturday 20:30 EDT New York is open and Florida
    // closed until Sunday 08:00 EST — 13:00 UTC, where Saturday's opening was 12:00 UTC.
    let (ny, fl) = ("+12122000000", "+13052000000");
    assert_eq!(opening(utc("2026-11-01T00:30:00Z"), ny), utc("2026-11-01T00:30:00Z"));
    assert_eq!(opening(utc("2026-11-01T00:30:00Z"), fl), utc("2026-11-01T13:00:00Z"));
    assert_eq!(opening(utc("2026-10-31T05:00:00Z"), fl), utc("2026-10-31T12:00:00Z"));
}

/// A second campaign to the same recipients inside the retext cooldowns is skipped: from the same
/// number (sticky routing) with `pair_cooldown` (90 days), from another with `recipient_cooldown`
/// (30 days); each ends exactly when its days are over.
async fn cooldowns_across_campaigns(clock: &mut Clock) {
    let c0 = utc("2026-08-03T17:00:00Z"); // 13:00 EDT, 12:00 CDT, 10:00 PDT: open everywhere
    let phones = clock.leads("cool", &["212", "312", "214", "213"]).await;
    let all: Vec<Uuid> = clock.numbers.iter().map(|n| n.1).collect();
    let first = clock.start("cool", (30, 90), &all, c0).await;
    assert_eq!(claimed_phones(&clock.claim(c0).await), sorted(&phones.iter().collect::<Vec<_>>()));
    let used: HashMap<String, String> = clock.rows(first).await.into_iter().map(|r| (r.0, r.3)).collect();
    let others: Vec<Uuid> = clock.numbers.iter().filter(|n| !used.values().any(|u| *u == n.0)).map(|n| n.1).collect();
    let theirs: Vec<Uuid> = clock.numbers.iter().filter(|n| used.values().any(|u| *u == n.0)).map(|n| n.1).collect();

    // Ten days on, from the same numbers: the pair cooldown.
    let expect_skips = |round: &ClaimRound, campaign: Uuid, reason: &str| {
        assert!(round.claimed.is_empty(), "{reason}: claimed {:?}", claimed_phones(round));
        let want: Vec<(Uuid, String)> = phones.iter().map(|_| (campaign, reason.to_owned())).collect();
        assert_eq!(round.skipped, want);
    };
    let t = c0 + Duration::days(10);
    let again = clock.start("cool", (30, 90), &all, t).await;
    expect_skips(&clock.claim(t).await, again, "pair_cooldown");
    for (phone, state, reason, from, _) in clock.rows(again).await {
        assert_eq!((state.as_str(), reason.as_deref()), ("skipped", Some("pair_cooldown")), "{phone}");
        assert_eq!(from, used[&phone], "{phone}: sticky routing kept the number that texted it");
    }
    let mut conn = clock.app.pool.acquire().await.unwrap();
    let counters = stats::counters(&mut conn, clock.ws, &[again]).await.unwrap().remove(&again).unwrap();
    assert_eq!(counters.skipped.get("pair_cooldown"), Some(&(phones.len() as i64)));

    // A minute short of 30 days, from other numbers: the recipient cooldown; at 30 days it may go.
    let t = c0 + Duration::days(30) - Duration::minutes(1);
    let other = clock.start("cool", (30, 90), &others, t).await;
    expect_skips(&clock.claim(t).await, other, "recipient_cooldown");
    for (phone, _, _, from, _) in clock.rows(other).await {
        assert_ne!(from, used[&phone], "{phone}: another number");
    }
    let t = c0 + Duration::days(30);
    clock.start("cool", (30, 90), &others, t).await;
    assert_eq!(clock.claim(t).await.claimed.len(), phones.len(), "the recipient cooldown is over at 30 days");

    // The pair cooldown outlasts it: a minute short of 90 days the first numbers still wait.
    let t = c0 + Duration::days(90) - Duration::minutes(1);
    let late = clock.start("cool", (30, 90), &theirs, t).await;
    expect_skips(&clock.claim(t).await, late, "pair_cooldown");
    let t = c0 + Duration::days(90);
    let back = clock.start("cool", (30, 90), &theirs, t).await;
    assert_eq!(clock.claim(t).await.claimed.len(), phones.len(), "the pair cooldown is over at 90 days");
    for (phone, _, _, from, _) in clock.rows(back).await {
        assert_eq!(from, used[&phone], "{phone}: back on the number that texted it first");
    }
}

/// Five campaigns with the cooldowns off to one Florida, one Oklahoma and one Texas recipient.
/// Texas gets every message; Florida and Oklahoma get 3 in 24 h, the 4th deferred with
/// `daily_limit` to the moment the oldest of the three leaves the 24 h window.
async fn florida_and_oklahoma_three_per_24_hours(clock: &mut Clock) {
    let f0 = utc("2026-09-14T14:00:00Z"); // 10:00 EDT, 09:00 CDT
    let phones = clock.leads("daily", &["305", "405", "214"]).await;
    let (fl, ok, tx) = (&phones[0], &phones[1], &phones[2]);
    let everyone = sorted(&[fl, ok, tx]);
    for hours in [0, 2, 5] {
        let t = f0 + Duration::hours(hours);
        clock.start("daily", (0, 0), &[], t).await;
        assert_eq!(claimed_phones(&clock.claim(t).await), everyone, "message {} at +{hours} h", hours + 1);
    }

    // The 4th, six hours after the first: Texas goes; Florida and Oklahoma wait for f0 + 24 h.
    let t = f0 + Duration::hours(6);
    let fourth = clock.start("daily", (0, 0), &[], t).await;
    let round = clock.claim(t).await;
    assert_eq!((claimed_phones(&round), round.deferred), (vec![tx.clone()], 2));
    for phone in [fl, ok] {
        assert_eq!(clock.verdict(fourth, phone, t).await.as_deref(), Some("daily_limit"), "{phone}");
        let row = clock.rows(fourth).await.into_iter().find(|r| r.0 == *phone).unwrap();
        assert_eq!((row.1.as_str(), row.4), ("queued", f0 + Duration::hours(24)), "{phone} waits for the oldest");
        let just_before = f0 + Duration::hours(24) - Duration::minutes(1);
        assert_eq!(clock.verdict(fourth, phone, just_before).await.as_deref(), Some("daily_limit"));
    }
    assert!(clock.claim(f0 + Duration::hours(24) - Duration::minutes(1)).await.claimed.is_empty());
    let t = f0 + Duration::hours(24);
    assert_eq!(claimed_phones(&clock.claim(t).await), sorted(&[fl, ok]), "due once the first left the window");

    // The 5th, an hour later: the three newest are +2 h, +5 h and +24 h, so it waits for +26 h.
    let t = f0 + Duration::hours(25);
    let fifth = clock.start("daily", (0, 0), &[], t).await;
    let round = clock.claim(t).await;
    assert_eq!((claimed_phones(&round), round.deferred), (vec![tx.clone()], 2));
    for phone in [fl, ok] {
        let row = clock.rows(fifth).await.into_iter().find(|r| r.0 == *phone).unwrap();
        assert_eq!(row.4, f0 + Duration::hours(26), "{phone}: the oldest of the three is +2 h");
    }
    assert_eq!(claimed_phones(&clock.claim(f0 + Duration::hours(26)).await), sorted(&[fl, ok]));
}
