//! The outbox claim against real PostgreSQL: the STOP fence under concurrent claims and opt-outs
//! (invariant 1), DNC and cooldowns excluded in the claim itself, SKIP LOCKED workers never
//! sharing a row, and crash recovery that never resends a row that may have reached Twilio.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, Utc};
use common::TestDb;
use sqlx::PgPool;
use switchboard_sender::compliance::suppression::{ConsentContext, OptOutSource, phone_key, record_opt_out};
use switchboard_sender::inbound::{CallbackTarget, StatusCallback, receive_status};
use switchboard_sender::outbox::{
    RowEnd, Scope, claim, claim_round, forget_finished_claims, heartbeat, record_ends, recover_stale_claims,
};
use switchboard_sender::send_log::{Attempt, AttemptResult, ensure_partitions, record_attempt, record_results};
use switchboard_sender::twilio::resource::MessageStatus;
use switchboard_sender::{E164, WorkspaceId};
use uuid::Uuid;

/// A running campaign with `n` queued recipients (+1 415 55x xxxx); returns (workspace, campaign).
async fn campaign_with(pool: &PgPool, n: usize) -> (WorkspaceId, Uuid) {
    let ws = WorkspaceId::new();
    sqlx::query("INSERT INTO workspaces (id, slug, name) VALUES ($1, 'alpha', 'Alpha')")
        .bind(ws)
        .execute(pool)
        .await
        .unwrap();
    let campaign = Uuid::now_v7();
    sqlx::query("INSERT INTO campaigns (workspace_id, id, name, status) VALUES ($1, $2, 'Spring', 'running')")
        .bind(ws)
        .bind(campaign)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "WITH l AS ( \
           INSERT INTO leads (workspace_id, id, phone) \
           SELECT $1, gen_random_uuid(), '+1415' || lpad((5500000 + g)::text, 7, '0') FROM generate_series(1, $3) g \
           RETURNING id, phone) \
         INSERT INTO outbox (workspace_id, campaign_id, lead_id, to_phone, to_key, from_number, body, \
                             window_start, window_end) \
         SELECT $1, $2, l.id, l.phone, substr(l.phone, 2)::bigint, '+12015550100', 'Hi', '00:00', '24:00' FROM l",
    )
    .bind(ws)
    .bind(campaign)
    .bind(n as i32)
    .execute(pool)
    .await
    .unwrap();
    (ws, campaign)
}

/// A fresh database whose pool has one connection, and a running campaign of `n` queued rows: the
/// plan tests below need every statement to run on the same session, where a prepared statement
/// keeps the plan it made first.
async fn one_connection_campaign(n: usize) -> (TestDb, PgPool, WorkspaceId, Uuid) {
    let db = TestDb::fresh().await;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
    let (ws, campaign) = campaign_with(&pool, n).await;
    (db, pool, ws, campaign)
}

/// Florida's 3 per 24 h in the claim: a recipient with four sends inside 24 hours, split over two
/// of our numbers, is not claimed; its row stays queued and waits until fewer than three of those
/// sends are inside the window: the third newest's 24th hour, not the oldest's.
#[tokio::test]
async fn a_daily_limit_defers_the_row_until_the_third_newest_send_is_a_day_old() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let (ws, campaign) = campaign_with(&pool, 1).await;
    sqlx::query("UPDATE campaigns SET retext_recipient_days = 0, retext_pair_days = 0 WHERE id = $1")
        .bind(campaign)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET max_per_24h = 3").execute(&pool).await.unwrap();
    // PostgreSQL keeps microseconds.
    let now = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
    let ago = |h: i64| now - Duration::hours(h);
    for (ours, recent) in [("+12015550100", vec![ago(1), ago(5), ago(7)]), ("+12015550101", vec![ago(3), ago(30)])] {
        sqlx::query(
            "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, sends, recent_sends) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ws)
        .bind(phone(1))
        .bind(ours)
        .bind(recent[0])
        .bind(recent.len() as i32)
        .bind(&recent)
        .execute(&pool)
        .await
        .unwrap();
    }
    let mut conn = pool.acquire().await.unwrap();
    assert!(claim(&mut conn, "w", 10, now).await.unwrap().is_empty(), "over the limit: not claimed");
    let (state, skip, not_before): (String, Option<String>, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT state, skip_reason, not_before FROM outbox").fetch_one(&pool).await.unwrap();
    assert_eq!((state.as_str(), skip), ("queued", None), "deferred, not skipped");
    assert_eq!(not_before, ago(5) + Duration::hours(24), "the third newest of the four sends, a day later");
    // Then, a day after the third newest send, it goes.
    assert_eq!(claim(&mut conn, "w", 10, not_before).await.unwrap().len(), 1);
}

/// When a claim statement was sent, and the phones it returned.
type ClaimRound = (std::time::Duration, Vec<String>);

fn phone(i: usize) -> String {
    format!("+1415{:07}", 5_500_000 + i)
}

#[tokio::test]
async fn invariant_1_stop_fence_nothing_claimed_after_an_opt_out_commits() {
    let db = TestDb::fresh().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    let (ws, _) = campaign_with(&pool, 3000).await;
    let start = Instant::now();
    // (phone → when its opt-out committed), and every claim with the moment its statement was sent.
    let committed: Arc<Mutex<HashMap<String, std::time::Duration>>> = Arc::default();
    let claims: Arc<Mutex<Vec<ClaimRound>>> = Arc::default();

    // Workers start once the first 20 STOPs have committed (so the fence is certainly
    // exercised); the rest race the claims.
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for w in 0..4 {
        let (pool, claims, mut go) = (pool.clone(), claims.clone(), go_rx.clone());
        workers.push(tokio::spawn(async move {
            go.wait_for(|started| *started).await.unwrap();
            loop {
                let mut conn = pool.acquire().await.unwrap();
                let sent_at = start.elapsed();
                let rows = claim(&mut conn, &format!("w{w}"), 10, Utc::now()).await.unwrap();
                if rows.is_empty() {
                    break;
                }
                claims.lock().unwrap().push((sent_at, rows.into_iter().map(|r| r.to_phone).collect()));
                // Pace the workers (as the engine's token buckets do) so STOPs land mid-campaign.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }));
    }
    let opt_outs = {
        let (pool, committed) = (pool.clone(), committed.clone());
        tokio::spawn(async move {
            // Every 7th recipient texts STOP while the campaign is being claimed, from the end
            // of the list (claimed last) so many STOPs race rows not yet claimed.
            for i in (1..=3000).rev().step_by(7) {
                let p = E164::parse(&phone(i)).unwrap();
                let mut tx = pool.begin().await.unwrap();
                record_opt_out(&mut tx, ws, &p, OptOutSource::Keyword, &ConsentContext::default()).await.unwrap();
                tx.commit().await.unwrap();
                committed.lock().unwrap().insert(p.to_string(), start.elapsed());
                if committed.lock().unwrap().len() == 20 {
                    go_tx.send_replace(true);
                }
            }
        })
    };
    for w in workers {
        w.await.unwrap();
    }
    opt_outs.await.unwrap();

    let committed = committed.lock().unwrap().clone();
    let claims = claims.lock().unwrap().clone();
    let mut violations = Vec::new();
    let mut claimed_total = 0;
    for (sent_at, phones) in claims.iter() {
        claimed_total += phones.len();
        for p in phones {
            if let Some(at) = committed.get(p)
                && *sent_at > *at
            {
                violations.push(p.clone());
            }
        }
    }
    assert!(violations.is_empty(), "claimed after the opt-out committed: {violations:?}");
    assert!(claimed_total > 0);
    // Everyone not opted out was claimed (claimed rows stay `queued` with `claimed_at` set);
    // opted-out rows that were not claimed before their STOP were judged and skipped (or never
    // reached), never claimed.
    let still_queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox o WHERE o.state IN ('queued', 'skipped') AND o.claimed_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM opt_outs x WHERE x.workspace_id = o.workspace_id AND x.phone = o.to_phone)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(still_queued, 0, "everyone not opted out was claimed");
    // The fence was exercised: some STOPs beat their row's claim, and those rows were skipped.
    let fenced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox o WHERE o.state IN ('queued', 'skipped') AND o.claimed_at IS NULL AND EXISTS \
         (SELECT 1 FROM opt_outs x WHERE x.workspace_id = o.workspace_id AND x.phone = o.to_phone)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(fenced >= 20, "only {fenced} STOPs arrived before their row was claimed; the race was not exercised");
}

#[tokio::test]
async fn invariant_2_once_per_campaign_skip_locked_claims_and_recovery_never_resends() {
    let db = TestDb::fresh().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    let (ws, _) = campaign_with(&pool, 50).await;
    let mut conn = pool.acquire().await.unwrap();
    ensure_partitions(&mut conn, Utc::now().date_naive() - Duration::days(1), 3).await.unwrap();

    // DNC covers recipients 1–5; recipient 6 was texted from our number 10 days ago.
    let (lo, hi) = (E164::parse(&phone(1)).unwrap(), E164::parse(&phone(5)).unwrap());
    sqlx::query("INSERT INTO dnc_entries (workspace_id, id, lo, hi) VALUES ($1, gen_random_uuid(), $2, $3)")
        .bind(ws)
        .bind(phone_key(&lo))
        .bind(phone_key(&hi))
        .execute(&pool)
        .await
        .unwrap();
    let earlier = Attempt {
        id: Uuid::now_v7(),
        at: Utc::now() - Duration::hours(1),
        outbox_id: None,
        campaign_id: None,
        step: None,
        to: E164::parse(&phone(6)).unwrap(),
        from: E164::parse("+12015550100").unwrap(),
        account_id: None,
        segments: 1,
    };
    let mut tx = pool.begin().await.unwrap();
    record_attempt(&mut tx, ws, &earlier).await.unwrap();
    tx.commit().await.unwrap();

    // Two workers at once never share a row.
    let (mut a, mut b) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    let (first, second) = tokio::join!(claim(&mut a, "a", 30, Utc::now()), claim(&mut b, "b", 30, Utc::now()));
    let (first, second) = (first.unwrap(), second.unwrap());
    let ids: HashSet<i64> = first.iter().chain(&second).map(|r| r.id).collect();
    assert_eq!(ids.len(), first.len() + second.len(), "no row claimed twice");
    let phones: HashSet<String> = first.iter().chain(&second).map(|r| r.to_phone.clone()).collect();
    assert_eq!(phones.len(), 44, "50 less 5 on the DNC list less 1 in cooldown");
    for excluded in 1..=6 {
        assert!(!phones.contains(&phone(excluded)), "{}", phone(excluded));
    }

    // A crash. The engine records each claimed row's attempt in the claim's own transaction, so
    // every claimed row may have reached Twilio: recovery marks them all unknown, and none is
    // ever claimed again.
    let called = &first[0];
    let mut tx = pool.begin().await.unwrap();
    let attempt = Attempt { id: Uuid::now_v7(), at: Utc::now(), outbox_id: Some(called.id), ..earlier.clone() };
    record_attempt(&mut tx, ws, &Attempt { to: E164::parse(&called.to_phone).unwrap(), ..attempt }).await.unwrap();
    tx.commit().await.unwrap();
    // Rounds whose rows are still claimed are kept, however old: recovery reads them.
    assert_eq!(forget_finished_claims(&mut conn, Utc::now() + Duration::seconds(1)).await.unwrap(), 0);
    // Not before the claimers count as dead.
    assert_eq!(recover_stale_claims(&mut conn, Utc::now() - Duration::seconds(60)).await.unwrap(), 0);
    let unknown = recover_stale_claims(&mut conn, Utc::now() + Duration::seconds(1)).await.unwrap();
    assert_eq!(unknown as usize, ids.len());
    let rounds: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_claims").fetch_one(&pool).await.unwrap();
    assert_eq!(rounds, 0, "a dead worker's rounds go with its rows");
    let counted: i64 = sqlx::query_scalar("SELECT sum(n)::bigint FROM campaign_stats WHERE metric = 'unknown'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(counted as usize, ids.len(), "counted for the campaign");
    let again = claim(&mut conn, "c", 100, Utc::now()).await.unwrap();
    assert!(again.is_empty(), "a possibly-sent row is never claimed again: {again:?}");
}

/// A live worker's claim round is kept while any of its rows is still claimed and forgotten once
/// all of them moved on; a row claimed again later belongs to a new round.
#[tokio::test]
async fn a_claim_round_is_forgotten_once_all_its_rows_moved_on() {
    let db = TestDb::fresh().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    campaign_with(&pool, 10).await;
    let mut conn = pool.acquire().await.unwrap();
    heartbeat(&mut conn, "live").await.unwrap();
    let rows = claim(&mut conn, "live", 100, Utc::now()).await.unwrap();
    assert_eq!(rows.len(), 10);
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let later = Utc::now() + Duration::seconds(1);
    let (answered, requeued) = ids.split_at(6);
    sqlx::query("UPDATE outbox SET state = 'sent' WHERE id = ANY($1)").bind(answered).execute(&pool).await.unwrap();
    assert_eq!(forget_finished_claims(&mut conn, later).await.unwrap(), 0, "four rows are still claimed");
    sqlx::query("UPDATE outbox SET claimed_at = NULL WHERE id = ANY($1)").bind(requeued).execute(&pool).await.unwrap();
    assert_eq!(forget_finished_claims(&mut conn, Utc::now() - Duration::seconds(60)).await.unwrap(), 0, "too young");
    assert_eq!(forget_finished_claims(&mut conn, later).await.unwrap(), 1);

    let again = claim(&mut conn, "live", 100, Utc::now()).await.unwrap();
    assert_eq!(again.iter().map(|r| r.id).collect::<HashSet<_>>(), requeued.iter().copied().collect());
    let rounds: Vec<Vec<i64>> = sqlx::query_scalar("SELECT ids FROM outbox_claims").fetch_all(&pool).await.unwrap();
    assert_eq!(rounds.len(), 1);
    assert_eq!(rounds[0].iter().copied().collect::<HashSet<_>>(), requeued.iter().copied().collect());
}

/// Adds `n` rows in `state` to the campaign, from another number (+1 201 555 0101), to recipients
/// +1 212 2xx xxxx; a `sent` row gets the sid `SM` + its 1-based position plus 1,000,000, padded
/// to 32 digits.
async fn add_rows(conn: &mut sqlx::PgConnection, ws: WorkspaceId, campaign: Uuid, state: &str, n: i32) {
    sqlx::query(
        "INSERT INTO outbox (workspace_id, campaign_id, lead_id, to_phone, to_key, from_number, body, \
                             window_start, window_end, state, sid) \
         SELECT $1, $2, gen_random_uuid(), '+1212' || (2000000 + g)::text, 12122000000 + g, '+12015550101', 'Hi', \
                '00:00', '24:00', $3, CASE WHEN $3 = 'sent' THEN 'SM' || lpad((1000000 + g)::text, 32, '0') END \
         FROM generate_series(1, $4) g",
    )
    .bind(ws)
    .bind(campaign)
    .bind(state)
    .bind(n)
    .execute(conn)
    .await
    .unwrap();
}

/// Rows (or index entries) the open transaction on `conn` has read from `relation` by scans so
/// far, as PostgreSQL counts them.
async fn rows_read(conn: &mut sqlx::PgConnection, relation: &str) -> i64 {
    sqlx::query_scalar("SELECT pg_stat_get_xact_tuples_returned($1::regclass)")
        .bind(relation)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Statements that check listed rows' claims read them by primary key, whatever plan they kept
/// from when the queue was small (`outbox::by_key`): a prepared statement keeps its generic plan,
/// and one made while the due-rows index held a handful of rows read that whole index per probe
/// once a campaign had queued 150k rows (the pacing benchmark's 75 MPS phase ran at 9%). Here the
/// session asks for generic plans, and the statements first run with four rows queued; then
/// 20,000 more are queued and the same statements run again, in a transaction whose reads
/// PostgreSQL counts. (Before, they scanned the table: 120k rows read for four probes.)
#[tokio::test]
async fn claim_checks_probe_by_primary_key_after_the_queue_grows() {
    let (_db, pool, ws, campaign) = one_connection_campaign(4).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET plan_cache_mode = force_generic_plan").execute(&mut *conn).await.unwrap();
    sqlx::query("ANALYZE outbox").execute(&mut *conn).await.unwrap();
    heartbeat(&mut conn, "live").await.unwrap();
    let now = Utc::now();
    let live = claim(&mut conn, "live", 2, now).await.unwrap();
    let dead = claim(&mut conn, "dead", 2, now).await.unwrap();
    assert_eq!((live.len(), dead.len()), (2, 2));
    let sent = |row: &switchboard_sender::outbox::Claimed| RowEnd {
        workspace: ws,
        id: row.id,
        state: "sent",
        sid: Some(format!("SM{:032}", row.id)),
        error_code: None,
        not_before: now,
        account: None,
        attempt: None,
        attempted_at: now,
    };
    // Each statement's plan is made now, with four rows queued.
    assert_eq!(record_ends(&mut conn, "live", now, &[sent(&live[0])]).await.unwrap(), 1);
    assert_eq!(forget_finished_claims(&mut conn, now - Duration::minutes(1)).await.unwrap(), 0);
    assert_eq!(recover_stale_claims(&mut conn, now - Duration::minutes(1)).await.unwrap(), 0);

    add_rows(&mut conn, ws, campaign, "queued", 20_000).await;

    // "live" stays alive past the moment "dead" counts as dead from.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    heartbeat(&mut conn, "live").await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    assert_eq!(record_ends(&mut tx, "live", now, &[sent(&live[1])]).await.unwrap(), 1);
    assert_eq!(recover_stale_claims(&mut tx, now + Duration::milliseconds(10)).await.unwrap(), 2);
    assert_eq!(forget_finished_claims(&mut tx, Utc::now() + Duration::seconds(1)).await.unwrap(), 1);
    // This transaction's reads so far, by relation.
    let probes: i64 = sqlx::query_scalar("SELECT pg_stat_get_xact_numscans('outbox_pkey'::regclass)")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let due_index_reads = rows_read(&mut tx, "outbox_number_due_idx").await;
    let table_reads = rows_read(&mut tx, "outbox").await;
    assert_eq!(due_index_reads, 0, "no claim check read the due-rows index");
    assert!(table_reads < 100, "no claim check scanned the table ({table_reads} rows read by scans)");
    assert!(probes >= 4, "the checks probed the primary key ({probes} scans)");
}

/// The per-number claim runs on its generic plan (`outbox::claim_round`: a custom plan cost more
/// to make than a small claim costs to run), so that plan must hold whatever the outbox held when
/// it was made. It is made here with four rows queued (analyzed); then 20,000 rows are queued for
/// another number and that number's claim must take its two rows through the due-rows index alone:
/// no table scan, no read through another index. (Joined on `workspace_id, id`, the claim's update
/// was planned on a small outbox as a read of the workspace's rows through the
/// `(workspace_id, campaign_id, step, lead_id)` key.)
#[tokio::test]
async fn per_number_claims_keep_their_plan_as_the_queue_grows() {
    let (_db, pool, ws, campaign) = one_connection_campaign(4).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("ANALYZE outbox").execute(&mut *conn).await.unwrap();
    let number = |from_number| Scope::Number { workspace: ws, from_number };
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    let first = claim_round(&mut tx, "w", number("+12015550100"), 2, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(first.claimed.len(), 2);

    add_rows(&mut conn, ws, campaign, "queued", 20_000).await;

    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    let round = claim_round(&mut tx, "w", number("+12015550101"), 2, Utc::now()).await.unwrap();
    assert_eq!(round.claimed.len(), 2);
    // This transaction's reads, by relation.
    let table_reads = rows_read(&mut tx, "outbox").await;
    let other_key_reads = rows_read(&mut tx, "outbox_workspace_id_campaign_id_step_lead_id_key").await;
    let due_reads = rows_read(&mut tx, "outbox_number_due_idx").await;
    assert_eq!((table_reads, other_key_reads), (0, 0), "the claim read no outbox row but through the due-rows index");
    assert!(due_reads <= 10, "the claim read its rows off the due-rows index ({due_reads} entries)");
    tx.commit().await.unwrap();
    // Both claims ran on the one generic plan: none was planned for its values.
    let (generic, custom): (i64, i64) = sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH due AS%'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!((generic, custom), (2, 0));
}

/// A campaign message's status callback names its outbox row and attempt (`CallbackTarget`, from
/// its URL) and lands by primary key whatever the outbox held when its statements first ran
/// (planned at every execution, like the claim checks above): the session asks for generic
/// plans, a callback is applied with one row in the outbox, 20,000 sent rows are added, and the
/// next callback's transaction must read no row by scanning the outbox. (Before, with the plans
/// kept: two scans, 40,006 rows read for one callback.)
#[tokio::test]
async fn status_callbacks_find_outbox_rows_by_key_after_the_outbox_grows() {
    let (_db, pool, ws, campaign) = one_connection_campaign(1).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET plan_cache_mode = force_generic_plan").execute(&mut *conn).await.unwrap();
    sqlx::query("UPDATE outbox SET state = 'sent', sid = 'SM' || lpad(id::text, 32, '0')")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("ANALYZE outbox").execute(&mut *conn).await.unwrap();
    let first: i64 = sqlx::query_scalar("SELECT last_value FROM outbox_id_seq").fetch_one(&mut *conn).await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    assert!(receive_status(&mut tx, ws, &delivered(first, Uuid::now_v7(), Utc::now())).await.unwrap());
    tx.commit().await.unwrap();

    add_rows(&mut conn, ws, campaign, "sent", 20_000).await;

    // The newest row, read off its sequence (a scan here would count against the callback).
    let later: i64 = sqlx::query_scalar("SELECT last_value FROM outbox_id_seq").fetch_one(&mut *conn).await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    assert!(receive_status(&mut tx, ws, &delivered(later, Uuid::now_v7(), Utc::now())).await.unwrap());
    let table_reads = rows_read(&mut tx, "outbox").await;
    tx.commit().await.unwrap();
    assert!(table_reads < 100, "the callback scanned the outbox ({table_reads} rows read by scans)");
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1").bind(later).fetch_one(&mut *conn).await.unwrap();
    assert_eq!(status.as_deref(), Some("delivered"));
}

/// A "delivered" callback for outbox row `outbox_id`'s attempt (`attempt`, at `at`), sid
/// `SM` + the row id.
fn delivered(outbox_id: i64, attempt_id: Uuid, attempted_at: chrono::DateTime<Utc>) -> StatusCallback {
    StatusCallback {
        sid: format!("SM{outbox_id:032}"),
        status: MessageStatus::Delivered,
        error_code: None,
        raw_dlr_done: None,
        target: Some(CallbackTarget { outbox_id, attempt_id, attempted_at }),
    }
}

/// The carrier can call back before the engine has written down its answer. The callback finds
/// the claimed row by the key its URL names and moves its status, and its attempt's send-log
/// row's; the engine's record that follows (the row's end and the attempt's result, "queued" as
/// the create answered) keeps "delivered"; a late "sent" moves nothing back; delivered counts
/// once.
#[tokio::test]
async fn a_callback_before_the_engines_record_is_kept_by_it() {
    let db = TestDb::fresh().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    let (ws, campaign) = campaign_with(&pool, 1).await;
    let mut conn = pool.acquire().await.unwrap();
    ensure_partitions(&mut conn, Utc::now().date_naive() - Duration::days(1), 3).await.unwrap();
    let row = claim(&mut conn, "w", 10, Utc::now()).await.unwrap().remove(0);
    let attempt = row.attempt(None, Utc::now()).unwrap();
    let mut tx = pool.begin().await.unwrap();
    record_attempt(&mut tx, ws, &attempt).await.unwrap();
    tx.commit().await.unwrap();

    // The callback: stored, and applied to a row the engine still holds.
    let early = delivered(row.id, attempt.id, attempt.at);
    let mut tx = pool.begin().await.unwrap();
    assert!(receive_status(&mut tx, ws, &early).await.unwrap());
    tx.commit().await.unwrap();
    let read = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_as::<_, (String, Option<String>)>(sql).fetch_one(&pool).await.unwrap() }
    };
    let outbox = "SELECT state, status FROM outbox";
    let log = "SELECT state, status FROM send_log";
    assert_eq!(read(outbox).await, ("queued".into(), Some("delivered".into())), "moved while claimed");
    assert_eq!(read(log).await, ("calling".into(), Some("delivered".into())));

    // The engine's record of the create's answer, as the recorder writes it.
    let mut tx = pool.begin().await.unwrap();
    let end = RowEnd {
        workspace: ws,
        id: row.id,
        state: "sent",
        sid: Some(early.sid.clone()),
        error_code: None,
        not_before: Utc::now(),
        account: None,
        attempt: Some(attempt.id),
        attempted_at: attempt.at,
    };
    assert_eq!(record_ends(&mut tx, "w", Utc::now(), &[end]).await.unwrap(), 1);
    let result = AttemptResult {
        workspace: ws,
        attempted_at: attempt.at,
        id: attempt.id,
        state: "accepted",
        sid: Some(early.sid.clone()),
        status: Some("queued".into()),
        error_code: None,
    };
    record_results(&mut tx, &[result]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(read(outbox).await, ("sent".into(), Some("delivered".into())));
    assert_eq!(read(log).await, ("accepted".into(), Some("delivered".into())));

    let sent = StatusCallback { status: MessageStatus::Sent, ..early.clone() };
    let mut tx = pool.begin().await.unwrap();
    assert!(receive_status(&mut tx, ws, &sent).await.unwrap(), "a new status, stored");
    assert!(!receive_status(&mut tx, ws, &early).await.unwrap(), "a retry, not stored again");
    tx.commit().await.unwrap();
    assert_eq!(read(outbox).await, ("sent".into(), Some("delivered".into())), "never moved back");
    let counted: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(n), 0)::bigint FROM campaign_stats WHERE campaign_id = $1 AND metric = 'delivered'",
    )
    .bind(campaign)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(counted, 1);
}
