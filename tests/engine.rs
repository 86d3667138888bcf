//! The sender engine end to end: real PostgreSQL (and Redis where two instances share caps), the
//! Twilio simulator over HTTP, the engine inside the app or the `switchboard` binary. Each test
//! checks the simulator's own record of what it was asked to send.

#[path = "engine/breaker.rs"]
mod breaker;
#[path = "engine/callbacks.rs"]
mod callbacks;
mod common;
#[path = "hub/process.rs"]
mod process;
#[path = "engine/replies.rs"]
mod replies;
#[path = "engine/windows.rs"]
mod windows;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::TestApp;
use common::engine::sim_config;
use sqlx::PgPool;
use switchboard_loadtests::config::{AccountConfig, ApiKeyConfig, NumberConfig};
use switchboard_loadtests::{
    BehaviourUpdate, CallbackConfig, Faults, RecordEntry, ReplyConfig, SimConfig, SimHandle, Simulator,
};
use switchboard_sender::send_log::{Attempt, AttemptResult, ensure_partitions, record_attempt, record_results};
use switchboard_sender::{E164, WorkspaceId};
use switchboard_server::commands::{DemoCarrier, seed_demo_carrier};
use uuid::Uuid;

async fn simulator(numbers_mps: f64, callbacks: bool) -> SimHandle {
    let mut config = sim_config(numbers_mps);
    config.behaviour.callbacks = CallbackConfig {
        enabled: callbacks,
        sent_delay_ms: 10,
        delivery_delay_ms: 50,
        max_in_flight: 64,
        ..Default::default()
    };
    Simulator::start(config).await.unwrap()
}

/// Registers the simulator's demo account (ten numbers) in the demo workspace, each number at
/// `mps`; returns the workspace, the numbers and the account's inbound webhook URL.
async fn carrier(app: &TestApp, sim: &SimHandle, mps: f64, public_url: &str) -> (WorkspaceId, Vec<String>, String) {
    let numbers: Vec<String> = sim.accounts[0].numbers.iter().map(|n| n.number.clone()).collect();
    let (_, inbound) = register(app, sim, 0, public_url).await;
    sqlx::query("UPDATE phone_numbers SET mps = $1").bind(mps).execute(&app.pool).await.unwrap();
    let ws = WorkspaceId(app.workspace_id("demo").await.parse().unwrap());
    (ws, numbers, inbound)
}

/// Registers the simulator's account `index` (with its auth token) and its numbers in the demo
/// workspace; returns the account's id and inbound webhook URL.
async fn register(app: &TestApp, sim: &SimHandle, index: usize, public_url: &str) -> (Uuid, String) {
    let account = &sim.accounts[index];
    let carrier = DemoCarrier {
        account_sid: account.sid.clone(),
        auth_token: account.auth_token.clone(),
        base_url: sim.base_url.clone(),
        numbers: account.numbers.iter().map(|n| n.number.clone()).collect(),
    };
    let mut config = common::test_config(&app.db.url);
    config.public_url = public_url.parse().unwrap();
    config.secret_key = app.secret_key.clone();
    let inbound = seed_demo_carrier(&app.pool, &config, &carrier).await.unwrap();
    let id = sqlx::query_scalar("SELECT id FROM carrier_accounts WHERE account_sid = $1")
        .bind(&account.sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (id, inbound)
}

/// A simulated account besides the demo one: SID `AC` and API key `SK` + 32 × `letter`, auth
/// token 32 × `c`, key secret 32 × `k`, and `numbers`.
fn other_account(letter: char, numbers: &[String]) -> AccountConfig {
    let hex = letter.to_string().repeat(32);
    AccountConfig {
        sid: format!("AC{hex}"),
        auth_token: "c".repeat(32),
        api_keys: vec![ApiKeyConfig { sid: format!("SK{hex}"), secret: "k".repeat(32) }],
        numbers: numbers
            .iter()
            .map(|n| NumberConfig { number: n.clone(), mps: None, daily_cap: None, inbound_url: None })
            .collect(),
        messaging_services: vec![],
        inbound_url: None,
        max_concurrent_requests: None,
    }
}

fn recipient(i: usize) -> String {
    format!("+1415{:07}", 2_000_000 + i)
}

/// A running campaign of `n` recipients, spread over `numbers`, open all day in every zone.
async fn campaign(pool: &PgPool, ws: WorkspaceId, numbers: &[String], n: usize) -> Uuid {
    campaign_with_steps(pool, ws, numbers, n, serde_json::json!([{"after_days": 0, "templates": ["Hi"]}])).await
}

/// The same with the campaign's `steps` (step 0's text is still `Hi <phone>`).
async fn campaign_with_steps(
    pool: &PgPool,
    ws: WorkspaceId,
    numbers: &[String],
    n: usize,
    steps: serde_json::Value,
) -> Uuid {
    let campaign = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO campaigns (workspace_id, id, name, status, steps, started_at, materialized_at) \
         VALUES ($1, $2, 'Engine test', 'paused', $3, now(), now())",
    )
    .bind(ws)
    .bind(campaign)
    .bind(sqlx::types::Json(steps))
    .execute(pool)
    .await
    .unwrap();
    let phones: Vec<String> = (0..n).map(recipient).collect();
    let froms: Vec<String> = (0..n).map(|i| numbers[i % numbers.len()].clone()).collect();
    sqlx::query(
        "WITH l AS ( \
           INSERT INTO leads (workspace_id, id, phone) SELECT $1, gen_random_uuid(), p FROM unnest($3::text[]) p \
           RETURNING id, phone) \
         INSERT INTO outbox (workspace_id, campaign_id, lead_id, to_phone, to_key, from_number, body, window_start, window_end) \
         SELECT $1, $2, l.id, l.phone, substr(l.phone, 2)::bigint, f.from_number, 'Hi ' || l.phone, '00:00', '24:00' \
         FROM l JOIN unnest($3::text[], $4::text[]) AS f(phone, from_number) ON f.phone = l.phone",
    )
    .bind(ws)
    .bind(campaign)
    .bind(&phones)
    .bind(&froms)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO campaign_stats (workspace_id, campaign_id, metric, n) VALUES ($1, $2, 'materialized', $3)",
    )
    .bind(ws)
    .bind(campaign)
    .bind(n as i64)
    .execute(pool)
    .await
    .unwrap();
    // Running only once its rows are in: the leader completes a running campaign with none.
    sqlx::query("UPDATE campaigns SET status = 'running' WHERE id = $1").bind(campaign).execute(pool).await.unwrap();
    campaign
}

/// Time passes for a campaign's follow-ups: its queued second steps fall due now, and the
/// campaign is waited for until it completes (30 s at most).
async fn advance_follow_ups(pool: &PgPool, campaign: Uuid) {
    sqlx::query("UPDATE outbox SET not_before = now() WHERE campaign_id = $1 AND step = 1 AND state = 'queued'")
        .bind(campaign)
        .execute(pool)
        .await
        .unwrap();
    wait_completed(pool, campaign, Duration::from_secs(30)).await;
}

async fn wait_completed(pool: &PgPool, campaign: Uuid, within: Duration) {
    let start = Instant::now();
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
            .bind(campaign)
            .fetch_one(pool)
            .await
            .unwrap();
        if status == "completed" {
            return;
        }
        let states: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM outbox WHERE campaign_id = $1 GROUP BY state")
                .bind(campaign)
                .fetch_all(pool)
                .await
                .unwrap();
        if start.elapsed() > within {
            type Stuck = (String, chrono::DateTime<chrono::Utc>, i32, Option<i32>, Option<String>);
            let stuck: Vec<Stuck> = sqlx::query_as(
                "SELECT from_number, not_before, attempts, error_code, claimed_by FROM outbox \
                 WHERE campaign_id = $1 AND state = 'queued' LIMIT 5",
            )
            .bind(campaign)
            .fetch_all(pool)
            .await
            .unwrap();
            panic!("campaign not completed after {within:?}: {states:?}; e.g. {stuck:?} (now {})", chrono::Utc::now());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn states(pool: &PgPool, campaign: Uuid) -> BTreeMap<String, i64> {
    sqlx::query_as("SELECT state, count(*) FROM outbox WHERE campaign_id = $1 GROUP BY state")
        .bind(campaign)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Creates the simulator accepted, by recipient.
fn creates_by_recipient(record: &[RecordEntry]) -> HashMap<String, usize> {
    let mut by = HashMap::new();
    for r in record {
        *by.entry(r.to.clone()).or_default() += 1;
    }
    by
}

#[tokio::test]
async fn engine_sends_every_row_once_and_callbacks_complete_the_counts() {
    let sim = simulator(50.0, true).await;
    let app = TestApp::spawn_engine(|_| {}).await;
    let (ws, numbers, _) = carrier(&app, &sim, 50.0, app.base()).await;
    let campaign = campaign(&app.pool, ws, &numbers, 300).await;
    wait_completed(&app.pool, campaign, Duration::from_secs(60)).await;

    let record = sim.record();
    let by = creates_by_recipient(&record);
    assert_eq!(record.len(), 300, "one create per recipient");
    assert!(by.values().all(|n| *n == 1), "nobody texted twice");
    assert_eq!(states(&app.pool, campaign).await, BTreeMap::from([("sent".to_owned(), 300)]));
    let accepted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM send_log WHERE state = 'accepted' AND campaign_id = $1")
            .bind(campaign)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(accepted, 300);
    // Status callbacks (signed, through our webhook) bring every message to delivered.
    let start = Instant::now();
    loop {
        let counters = switchboard_sender::stats::counters(&mut app.pool.acquire().await.unwrap(), ws, &[campaign])
            .await
            .unwrap()
            .remove(&campaign)
            .unwrap();
        if counters.delivered == 300 {
            assert_eq!((counters.sent, counters.queued, counters.failed), (300, 0, 0));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "delivered only {}", counters.delivered);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sim.stop().await;
}

#[tokio::test]
async fn invariant_1_stop_fence_at_full_rate_against_the_simulator() {
    let sim = simulator(40.0, false).await;
    let app = TestApp::spawn_engine(|c| c.engine.status_callbacks = false).await;
    let (ws, numbers, inbound) = carrier(&app, &sim, 40.0, app.base()).await;
    sim.set_behaviour(BehaviourUpdate {
        replies: Some(ReplyConfig { inbound_url: Some(inbound), ..Default::default() }),
        ..Default::default()
    })
    .unwrap();
    let n = 2000; // ~5 s at 10 numbers x 40 MPS
    let campaign = campaign(&app.pool, ws, &numbers, n).await;

    // While the campaign runs, every 4th recipient texts STOP, spread over the run from the
    // end of the list (sent last) so many STOPs race their row's claim. For each, the moment
    // our webhook had answered: the opt-out had committed by then.
    let http = reqwest::Client::new();
    let mut committed: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    for i in (0..n).rev().step_by(4) {
        let from = recipient(i);
        let to = numbers[i % numbers.len()].clone();
        let resp = http
            .post(format!("{}/sim/inbound", sim.base_url))
            .json(&serde_json::json!({"from": from, "to": to, "body": "STOP"}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        committed.insert(from, chrono::Utc::now());
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    wait_completed(&app.pool, campaign, Duration::from_secs(90)).await;

    // No row to an opted-out recipient was claimed after the opt-out committed.
    let claimed: Vec<(String, Option<chrono::DateTime<chrono::Utc>>, String)> =
        sqlx::query_as("SELECT to_phone, claimed_at, state FROM outbox WHERE campaign_id = $1")
            .bind(campaign)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut violations = Vec::new();
    let mut fenced = 0;
    for (phone, claimed_at, state) in &claimed {
        let Some(stop) = committed.get(phone) else { continue };
        match (state.as_str(), claimed_at) {
            ("skipped" | "canceled", _) => fenced += 1,
            (_, Some(at)) if at > stop => violations.push((phone.clone(), *at, *stop)),
            _ => {}
        }
    }
    assert!(violations.is_empty(), "claimed after the opt-out committed: {violations:?}");
    let record = sim.record();
    assert!(fenced >= 50, "only {fenced} STOPs beat their row; the race was not exercised");
    assert!(by_len(&record) == record.len(), "nobody texted twice");
    sim.stop().await;
}

#[tokio::test]
async fn follow_ups_go_after_their_delay_and_a_reply_cancels_them() {
    use sha2::Digest;
    let sim = simulator(50.0, false).await;
    let app = TestApp::spawn_engine(|c| c.engine.status_callbacks = false).await;
    let (ws, numbers, inbound) = carrier(&app, &sim, 50.0, app.base()).await;
    sim.set_behaviour(BehaviourUpdate {
        replies: Some(ReplyConfig { inbound_url: Some(inbound), ..Default::default() }),
        ..Default::default()
    })
    .unwrap();
    let steps = serde_json::json!([
        {"after_days": 0, "templates": ["Hi"]},
        {"after_days": 2, "templates": ["Still there, {{first_name|friend}}?"]},
    ]);
    let campaign = campaign_with_steps(&app.pool, ws, &numbers, 3, steps).await;
    sqlx::query("UPDATE leads SET first_name = 'Ada' WHERE phone = $1")
        .bind(recipient(1))
        .execute(&app.pool)
        .await
        .unwrap();

    // Step 0 goes; each accepted row queues its follow-up two days out, from the same number.
    let start = Instant::now();
    let follow_ups: Vec<(String, String, chrono::DateTime<chrono::Utc>)> = loop {
        let rows: Vec<(String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT f.to_phone, f.from_number, f.not_before FROM outbox f JOIN outbox s \
               ON s.campaign_id = f.campaign_id AND s.lead_id = f.lead_id AND s.step = 0 AND s.state = 'sent' \
             WHERE f.campaign_id = $1 AND f.step = 1 AND f.state = 'queued' AND f.from_number = s.from_number \
             ORDER BY f.to_phone",
        )
        .bind(campaign)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if rows.len() == 3 {
            break rows;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "follow-ups not queued: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (phone, _, due) in &follow_ups {
        let wait = *due - chrono::Utc::now();
        assert!(wait > chrono::Duration::hours(47), "{phone}'s follow-up is due in {wait}, not two days");
    }
    assert_eq!(sim.record().len(), 3, "nothing but step 0 went yet");

    // The first recipient writes back: their follow-up is canceled and the reply counted.
    let resp = reqwest::Client::new()
        .post(format!("{}/sim/inbound", sim.base_url))
        .json(&serde_json::json!({"from": recipient(0), "to": follow_ups[0].1, "body": "Who is this?"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let reason: Option<String> = sqlx::query_scalar(
        "SELECT skip_reason FROM outbox WHERE campaign_id = $1 AND step = 1 AND to_phone = $2 AND state = 'canceled'",
    )
    .bind(campaign)
    .bind(recipient(0))
    .fetch_optional(&app.pool)
    .await
    .unwrap()
    .flatten();
    assert_eq!(reason.as_deref(), Some("replied"));

    // Two days pass (the rows' due time moves to now): the other two follow-ups go.
    advance_follow_ups(&app.pool, campaign).await;
    let record = sim.record();
    let by = creates_by_recipient(&record);
    assert_eq!(by.get(&recipient(0)), Some(&1), "the one who replied got no follow-up");
    assert_eq!((by.get(&recipient(1)), by.get(&recipient(2))), (Some(&2), Some(&2)));
    let sha = |text: &str| hex::encode(sha2::Sha256::digest(text.as_bytes()));
    let last_body =
        |phone: String| record.iter().filter(|r| r.to == phone).max_by_key(|r| r.seq).unwrap().body_sha256.clone();
    assert_eq!(last_body(recipient(1)), sha("Still there, Ada?"));
    assert_eq!(last_body(recipient(2)), sha("Still there, friend?"));
    let counters = switchboard_sender::stats::counters(&mut app.pool.acquire().await.unwrap(), ws, &[campaign])
        .await
        .unwrap()
        .remove(&campaign)
        .unwrap();
    assert_eq!(counters.replies, 1);
    sim.stop().await;
}

fn by_len(record: &[RecordEntry]) -> usize {
    record.iter().map(|r| r.to.as_str()).collect::<HashSet<_>>().len()
}

/// The most messages any `window_ms` window holds, per key.
fn busiest_window(times: &mut [i64], window_ms: i64) -> usize {
    times.sort_unstable();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= window_ms {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

#[tokio::test]
async fn invariant_3_pacing_two_instances_keep_number_and_account_caps() {
    let sim = simulator(100.0, false).await;
    let app = TestApp::spawn_with(2, true, |c| {
        c.engine.enabled = true;
        c.engine.status_callbacks = false;
    })
    .await;
    let (ws, numbers, _) = carrier(&app, &sim, 4.0, "http://localhost:8080").await;
    // Ten numbers at 4 MPS would make 40/s; the account allows 25/s.
    sqlx::query("UPDATE carrier_accounts SET mps_cap = 25").execute(&app.pool).await.unwrap();
    let campaign = campaign(&app.pool, ws, &numbers, 250).await;
    wait_completed(&app.pool, campaign, Duration::from_secs(60)).await;

    let record = sim.record();
    assert_eq!(record.len(), 250);
    let mut per_number: HashMap<String, Vec<i64>> = HashMap::new();
    for r in &record {
        per_number.entry(r.from.clone()).or_default().push(r.accepted_at_ms);
    }
    for (number, times) in &mut per_number {
        let busiest = busiest_window(times, 1000);
        assert!(busiest <= 4, "{number} sent {busiest} in one second (cap 4): {times:?}");
    }
    let mut all: Vec<i64> = record.iter().map(|r| r.accepted_at_ms).collect();
    let busiest = busiest_window(&mut all, 1000);
    assert!(busiest <= 25, "the account sent {busiest} in one second (cap 25)");
    // Both instances sent: the caps held summed over them.
    let workers: i64 = sqlx::query_scalar("SELECT count(DISTINCT claimed_by) FROM outbox WHERE campaign_id = $1")
        .bind(campaign)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(workers, 2);
    sim.stop().await;
}

#[tokio::test]
async fn invariant_2_once_per_campaign_across_two_instances_and_a_kill_9() {
    let sim = simulator(100.0, false).await;
    let app = TestApp::spawn().await;
    let (ws, numbers, _) = carrier(&app, &sim, 40.0, "http://localhost:8080").await;
    let prefix = format!("sbtest:{}", Uuid::new_v4().simple());
    let key = hex::encode(app.secret_key.0);
    let env = [("SECRET_KEY", key.as_str()), ("ENGINE_STATUS_CALLBACKS", "false"), ("AUTO_MIGRATE", "true")];
    let mut a = process::Process::start(&app.db.url, &prefix, &env).await;
    let b = process::Process::start(&app.db.url, &prefix, &env).await;
    let n = 1600; // ~4 s at 10 numbers x 40 MPS
    let campaign = campaign(&app.pool, ws, &numbers, n).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.kill();
    let sent_at_kill = sim.record().len();
    assert!(sent_at_kill > 0 && sent_at_kill < n, "killed mid-campaign ({sent_at_kill} of {n} sent)");
    let c = process::Process::start(&app.db.url, &prefix, &env).await;
    wait_completed(&app.pool, campaign, Duration::from_secs(90)).await;

    let record = sim.record();
    let by = creates_by_recipient(&record);
    let twice: Vec<_> = by.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "texted twice: {twice:?}");
    // Every outbox row is accounted for: sent ones were created once; unknown ones (the killed
    // instance's calls in flight) at most once; nothing else was created.
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT to_phone, state FROM outbox WHERE campaign_id = $1")
        .bind(campaign)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), n);
    for (phone, state) in &rows {
        match state.as_str() {
            "sent" => assert_eq!(by.get(phone), Some(&1), "{phone} sent but not created"),
            "unknown" => assert!(by.get(phone).copied().unwrap_or(0) <= 1),
            other => panic!("{phone} ended {other}"),
        }
    }
    assert_eq!(record.len(), by.len());
    drop((b, c));
    sim.stop().await;
}

/// Two simulated accounts registered in the demo workspace, the demo one (ten numbers at 20
/// MPS) and a second one with five numbers (+1 202 555 020x), and an engine without status
/// callbacks; returns the simulator, the app, the workspace, the demo account's numbers and the
/// second account's.
async fn two_accounts() -> (SimHandle, TestApp, WorkspaceId, Vec<String>, Vec<String>) {
    let mut config = sim_config(100.0);
    config.behaviour.callbacks.enabled = false;
    let second: Vec<String> = (0..5).map(|i| format!("+1202555020{i}")).collect();
    config.accounts = vec![SimConfig::demo_account(1), other_account('b', &second)];
    let sim = Simulator::start(config).await.unwrap();
    let app = TestApp::spawn_with(1, false, |c| {
        c.engine.enabled = true;
        c.engine.status_callbacks = false;
    })
    .await;
    let (ws, numbers, _) = carrier(&app, &sim, 20.0, "http://localhost:8080").await;
    register(&app, &sim, 1, "http://localhost:8080").await;
    (sim, app, ws, numbers, second)
}

#[tokio::test]
async fn faults_and_a_failing_account_every_row_ends_and_accounts_rotate() {
    let (sim, app, ws, numbers, second) = two_accounts().await;
    sqlx::query("UPDATE phone_numbers SET mps = 20").execute(&app.pool).await.unwrap();
    // 30% 429 and 5% 5xx on every call.
    sim.set_faults(Faults { error_429_rate: 0.30, error_503_rate: 0.05, ..Default::default() }).unwrap();
    // The first account's token goes bad at the carrier: its calls answer 401 (20003).
    let demo_account: Uuid = sqlx::query_scalar("SELECT id FROM carrier_accounts WHERE account_sid = $1")
        .bind(&sim.accounts[0].sid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    switchboard_sender::accounts::update(
        &mut conn,
        ws,
        &app.secret_key.0,
        demo_account,
        &switchboard_sender::accounts::AccountChange {
            auth_token: Some(switchboard_sender::secretbox::Secret::new("0".repeat(32))),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let n = 500;
    let campaign = campaign(&app.pool, ws, &numbers, n).await;
    wait_completed(&app.pool, campaign, Duration::from_secs(180)).await;

    let record = sim.record();
    // Every row ends sent, except one whose every allowed attempt drew an injected fault (35% a
    // call, so a few in a thousand rows): failed only after MAX_ATTEMPTS calls (its send-log
    // rows: an attempt is recorded right before its call), never sooner.
    let ends: Vec<(String, i64)> = sqlx::query_as(
        "SELECT o.state, \
           (SELECT count(*) FROM send_log s WHERE s.workspace_id = o.workspace_id AND s.outbox_id = o.id) \
         FROM outbox o WHERE o.campaign_id = $1",
    )
    .bind(campaign)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let sent = ends.iter().filter(|(state, _)| state == "sent").count();
    for (state, calls) in &ends {
        match state.as_str() {
            "sent" => {}
            "failed" => {
                assert!(*calls >= i64::from(switchboard_sender::engine::classify::MAX_ATTEMPTS), "failed early")
            }
            other => panic!("a row ended {other}"),
        }
    }
    assert!(sent >= n - 4, "only {sent} of {n} sent: {:?}", states(&app.pool, campaign).await);
    assert_eq!(by_len(&record), sent, "everyone sent was texted once, nobody else");
    assert_eq!(record.len(), sent, "nobody texted twice");
    assert!(record.iter().all(|r| second.contains(&r.from)), "the failing account's rows moved to the healthy one");
    let status: String = sqlx::query_scalar("SELECT status FROM carrier_accounts WHERE id = $1")
        .bind(demo_account)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "failing");

    // Extra calls are bounded. Every call to the healthy account draws an injected fault with
    // p = 0.35, so a message takes 1 / (1 − 0.35) ≈ 1.54 calls on average; over 500 messages the
    // total's standard deviation is about 20 calls (2.6%), so 10% over the expectation is 3.8 of
    // them away.
    let stats = sim.stats();
    eprintln!("faults: {n} messages, simulator stats {stats:?}");
    let rejected = |code: i64| stats.rejected.get(&code).copied().unwrap_or(0);
    let healthy = stats.accepted + rejected(20429) + rejected(20503);
    let expected = n as f64 / (1.0 - 0.35);
    assert!(healthy as f64 <= 1.10 * expected, "{healthy} calls to the healthy account for {n} messages");
    // The failing account answers every call 401 (20003, checked before any injected fault). Its
    // breaker opens at its `breaker_threshold`-th call (every one failed), and from then on only a
    // half-open probe per cool-off may go through it (one at most: the account is marked failing
    // by its first 401 and its numbers stop within a second). Besides, only calls already on the
    // wire when it opened reach the carrier: at most one per number of the account (a number's
    // calls leave about 50 ms apart; the simulator answers a 401 in about a millisecond).
    assert!(
        metric(&app, &format!("switchboard_engine_breaker_opened_total{{account=\"{demo_account}\"}}")).await >= 1.0
    );
    let threshold = u64::from(switchboard_sender::engine::EngineConfig::new("test", [0; 32]).breaker_threshold);
    let bound = threshold + numbers.len() as u64 + 1;
    let failing = rejected(20003);
    assert!(
        failing <= bound,
        "{failing} calls through the failing account, whose breaker opens after {threshold} failures (bound {bound})"
    );
    assert!(healthy as f64 + failing as f64 <= 1.10 * expected + bound as f64);
    sim.stop().await;
}

/// Rerouting never breaks a sticky sender. First messages queued on a failing account's numbers
/// move to a healthy account's, except to a recipient who already heard from the number: the
/// pair's history names an accepted attempt. An attempt the carrier refused pins nothing.
#[tokio::test]
async fn rerouting_leaves_a_recipient_with_the_number_it_heard_from() {
    let (sim, app, ws, numbers, second) = two_accounts().await;
    sqlx::query("UPDATE carrier_accounts SET status = 'failing' WHERE account_sid = $1")
        .bind(&sim.accounts[0].sid)
        .execute(&app.pool)
        .await
        .unwrap();
    // An hour ago: recipient 0 was texted from our first number, recipient 1 refused from the second.
    let mut conn = app.pool.acquire().await.unwrap();
    ensure_partitions(&mut conn, chrono::Utc::now().date_naive() - chrono::Duration::days(1), 3).await.unwrap();
    for (i, state) in [(0, "accepted"), (1, "failed")] {
        let attempt = Attempt {
            id: Uuid::now_v7(),
            at: chrono::Utc::now() - chrono::Duration::hours(1),
            outbox_id: None,
            campaign_id: None,
            step: None,
            to: E164::parse(&recipient(i)).unwrap(),
            from: E164::parse(&numbers[i]).unwrap(),
            account_id: None,
            segments: 1,
        };
        let mut tx = app.pool.begin().await.unwrap();
        record_attempt(&mut tx, ws, &attempt).await.unwrap();
        let result = AttemptResult {
            workspace: ws,
            attempted_at: attempt.at,
            id: attempt.id,
            state,
            sid: None,
            status: None,
            error_code: None,
        };
        record_results(&mut tx, &[result]).await.unwrap();
        tx.commit().await.unwrap();
    }
    let n = 20;
    let campaign = campaign(&app.pool, ws, &numbers, n).await;
    // Every row but recipient 0's moves and ends: sent, or skipped (recipient 1's, moved to a
    // number that never texted it, meets the 30-day recipient cooldown).
    let start = Instant::now();
    while states(&app.pool, campaign).await.get("queued").copied().unwrap_or(0) > 1 {
        assert!(start.elapsed() < Duration::from_secs(60), "not rerouted: {:?}", states(&app.pool, campaign).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows: HashMap<String, (String, String)> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT to_phone, from_number, state FROM outbox WHERE campaign_id = $1",
    )
    .bind(campaign)
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(to, from, state)| (to, (from, state)))
    .collect();
    assert_eq!(rows[&recipient(0)], (numbers[0].clone(), "queued".to_owned()), "stays with the number it heard from");
    assert!(second.contains(&rows[&recipient(1)].0), "a refused attempt pins nothing: {:?}", rows[&recipient(1)]);
    let record = sim.record();
    assert_eq!(record.len(), n - 2, "everyone else texted once, from the healthy account");
    assert!(record.iter().all(|r| second.contains(&r.from) && r.to != recipient(0)));
    sim.stop().await;
}

/// One series of the app's `/metrics` (Prometheus text, e.g. `name{label="v"}`); 0 when absent.
/// The recorder is process-wide: label series with ids only this test uses.
async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", app.base())).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}
