//! The partitioned send log against real PostgreSQL: partitions made ahead and idempotently,
//! rows routed to their day, old days detached and archived as gzip CSV, and cooldowns answered
//! from the pair history, where a recipient's history is its pair rows (invariant 4's data;
//! migration 0020 folded the recipient table into them).

mod common;

use std::io::Read;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::TestDb;
use switchboard_sender::send_log::{
    Attempt, AttemptResult, Cooldown, RetextPolicy, archive_partition, cooldown, detach_before, ensure_partitions,
    partition_name, record_attempt, record_attempts, record_results,
};
use switchboard_sender::{E164, WorkspaceId};
use uuid::Uuid;

async fn workspace(pool: &sqlx::PgPool) -> WorkspaceId {
    let id = WorkspaceId::new();
    sqlx::query("INSERT INTO workspaces (id, slug, name) VALUES ($1, 'alpha', 'Alpha')")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    id
}

fn attempt(at: DateTime<Utc>, to: &str, from: &str) -> Attempt {
    Attempt {
        id: Uuid::now_v7(),
        at,
        outbox_id: None,
        campaign_id: None,
        step: Some(0),
        to: E164::parse(to).unwrap(),
        from: E164::parse(from).unwrap(),
        account_id: None,
        segments: 1,
    }
}

/// The recipient's last send and three newest sends, from the `recipient_history` view of the
/// pair rows.
async fn recipient_history(pool: &sqlx::PgPool, ws: WorkspaceId, their: &str) -> (DateTime<Utc>, Vec<DateTime<Utc>>) {
    sqlx::query_as(
        "SELECT last_sent_at, recent_sends FROM recipient_history WHERE workspace_id = $1 AND their_number = $2",
    )
    .bind(ws)
    .bind(their)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn partitions_are_made_ahead_rows_route_by_day_and_old_days_archive() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let ws = workspace(&pool).await;
    let mut conn = pool.acquire().await.unwrap();

    let created = ensure_partitions(&mut conn, day("2026-11-20"), 3).await.unwrap();
    assert_eq!(created, ["send_log_20261120", "send_log_20261121", "send_log_20261122"]);
    assert!(ensure_partitions(&mut conn, day("2026-11-20"), 3).await.unwrap().is_empty(), "idempotent");

    for (when, to) in [
        ("2026-11-20T10:00:00Z", "+14155550101"),
        ("2026-11-20T23:59:59Z", "+14155550102"),
        ("2026-11-21T00:00:00Z", "+14155550103"),
    ] {
        let mut tx = pool.begin().await.unwrap();
        record_attempt(&mut tx, ws, &attempt(at(when), to, "+12015550100")).await.unwrap();
        tx.commit().await.unwrap();
    }
    let placed: Vec<(String, i64)> =
        sqlx::query_as("SELECT tableoid::regclass::text, count(*) FROM send_log GROUP BY 1 ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(placed, [("send_log_20261120".to_string(), 2), ("send_log_20261121".to_string(), 1)]);

    // A day nobody prepared is an error, not a silent catch-all.
    let mut tx = pool.begin().await.unwrap();
    assert!(
        record_attempt(&mut tx, ws, &attempt(at("2027-01-01T00:00:00Z"), "+14155550104", "+12015550100"))
            .await
            .is_err()
    );
    drop(tx);

    let detached = detach_before(&mut conn, day("2026-11-21")).await.unwrap();
    assert_eq!(detached, [partition_name(day("2026-11-20"))]);
    let mut archive = Vec::new();
    let rows = archive_partition(&mut conn, &detached[0], &mut archive).await.unwrap();
    assert_eq!(rows, 2);
    let mut csv = String::new();
    flate2::read::GzDecoder::new(&archive[..]).read_to_string(&mut csv).unwrap();
    assert_eq!(csv.lines().count(), 3, "header and two rows: {csv}");
    assert!(csv.contains("+14155550101") && csv.contains("calling"));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM send_log").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 1);
    let gone: bool =
        sqlx::query_scalar("SELECT to_regclass('send_log_20261120') IS NULL").fetch_one(&pool).await.unwrap();
    assert!(gone);
    assert!(archive_partition(&mut conn, "users; DROP TABLE users", &mut Vec::new()).await.is_err());
}

#[tokio::test]
async fn invariant_4_windows_pair_and_recipient_cooldowns_and_florida_limits() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let ws = workspace(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    ensure_partitions(&mut conn, day("2026-06-01"), 200).await.unwrap();
    let (ours, other, them) = ("+12015550100", "+12015550101", "+14155550123");
    let sent = at("2026-06-01T15:00:00Z");
    let mut tx = pool.begin().await.unwrap();
    record_attempt(&mut tx, ws, &attempt(sent, them, ours)).await.unwrap();
    tx.commit().await.unwrap();
    let (to, from, from2) = (E164::parse(them).unwrap(), E164::parse(ours).unwrap(), E164::parse(other).unwrap());
    let policy = RetextPolicy::default();

    let c = cooldown(&mut conn, ws, &to, &from, policy, sent + Duration::days(10)).await.unwrap();
    assert_eq!(c, Some(Cooldown::Pair { until: sent + Duration::days(90) }));
    let c = cooldown(&mut conn, ws, &to, &from2, policy, sent + Duration::days(10)).await.unwrap();
    assert_eq!(
        c,
        Some(Cooldown::Recipient { until: sent + Duration::days(30) }),
        "another number waits for the recipient cooldown"
    );
    assert_eq!(cooldown(&mut conn, ws, &to, &from2, policy, sent + Duration::days(31)).await.unwrap(), None);
    assert!(cooldown(&mut conn, ws, &to, &from, policy, sent + Duration::days(89)).await.unwrap().is_some());
    assert_eq!(cooldown(&mut conn, ws, &to, &from, policy, sent + Duration::days(91)).await.unwrap(), None);

    // Florida: no cooldown days, but at most 3 per 24 h, counted over all our numbers: the
    // sends alternate between two, so no pair row alone holds three.
    let fl = RetextPolicy { recipient_days: 0, pair_days: 0, ..policy }.for_state(Some("FL"));
    let miami = E164::parse("+13055550100").unwrap();
    let t0 = at("2026-07-01T13:00:00Z");
    for (h, number) in [(0, ours), (1, other), (2, ours)] {
        assert_eq!(cooldown(&mut conn, ws, &miami, &from, fl, t0 + Duration::hours(h)).await.unwrap(), None);
        let mut tx = pool.begin().await.unwrap();
        record_attempt(&mut tx, ws, &attempt(t0 + Duration::hours(h), "+13055550100", number)).await.unwrap();
        tx.commit().await.unwrap();
    }
    for number in [&from, &from2] {
        let c = cooldown(&mut conn, ws, &miami, number, fl, t0 + Duration::hours(5)).await.unwrap();
        assert_eq!(c, Some(Cooldown::DailyLimit { until: t0 + Duration::hours(24) }));
    }
    assert_eq!(cooldown(&mut conn, ws, &miami, &from, fl, t0 + Duration::hours(24)).await.unwrap(), None);
    // The claim's gate counts the same way.
    let gate: Option<String> = sqlx::query_scalar(
        "SELECT verdict FROM judge_send($1, '+13055550100', 13055550100, $2, 0::smallint, 'America/New_York', \
                127::smallint, '00:00', '23:59', 3::smallint, 0, 0, $3)",
    )
    .bind(ws)
    .bind(other)
    .bind(t0 + Duration::hours(5))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(gate.as_deref(), Some("daily_limit"));
    let texas = fl.for_state(Some("TX"));
    assert_eq!(texas.max_per_24h, Some(3), "for_state only adds limits");
}

#[tokio::test]
async fn a_batch_folds_repeated_pairs_and_recipients_and_results_land_by_key() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let ws = workspace(&pool).await;
    let other = WorkspaceId::new();
    sqlx::query("INSERT INTO workspaces (id, slug, name) VALUES ($1, 'beta', 'Beta')")
        .bind(other)
        .execute(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    ensure_partitions(&mut conn, day("2026-11-20"), 3).await.unwrap();
    let (ours, ours2, them) = ("+12015550100", "+12015550101", "+14155550123");
    // History from before the batch: one send of the pair the day before.
    let mut tx = pool.begin().await.unwrap();
    record_attempt(&mut tx, ws, &attempt(at("2026-11-20T09:00:00Z"), them, ours)).await.unwrap();
    tx.commit().await.unwrap();

    // The same pair three times, the same recipient from another number, the same recipient in
    // another workspace, and an unrelated recipient: across two days' partitions.
    let batch = vec![
        (ws, attempt(at("2026-11-21T10:00:00Z"), them, ours)),
        (ws, attempt(at("2026-11-21T12:00:00Z"), them, ours)),
        (ws, attempt(at("2026-11-21T11:00:00Z"), them, ours)),
        (ws, attempt(at("2026-11-22T08:00:00Z"), them, ours2)),
        (other, attempt(at("2026-11-21T10:00:00Z"), them, ours)),
        (ws, attempt(at("2026-11-21T10:30:00Z"), "+14155550999", ours)),
    ];
    let mut tx = pool.begin().await.unwrap();
    record_attempts(&mut tx, &batch).await.unwrap();
    tx.commit().await.unwrap();

    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM send_log WHERE state = 'calling'").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 7);
    let pairs: Vec<(String, String, DateTime<Utc>, i32)> = sqlx::query_as(
        "SELECT their_number, our_number, last_sent_at, sends FROM pair_history WHERE workspace_id = $1 ORDER BY 1, 2",
    )
    .bind(ws)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        pairs,
        [
            (them.into(), ours.into(), at("2026-11-21T12:00:00Z"), 4),
            (them.into(), ours2.into(), at("2026-11-22T08:00:00Z"), 1),
            ("+14155550999".into(), ours.into(), at("2026-11-21T10:30:00Z"), 1),
        ]
    );
    let (last, recent) = recipient_history(&pool, ws, them).await;
    assert_eq!(last, at("2026-11-22T08:00:00Z"));
    assert_eq!(
        recent,
        [at("2026-11-22T08:00:00Z"), at("2026-11-21T12:00:00Z"), at("2026-11-21T11:00:00Z")],
        "the three newest of the five sends, newest first"
    );
    let pair_recent = |their: &'static str, our: &'static str| {
        sqlx::query_scalar::<_, Vec<DateTime<Utc>>>(
            "SELECT recent_sends FROM pair_history WHERE workspace_id = $1 AND their_number = $2 AND our_number = $3",
        )
        .bind(ws)
        .bind(their)
        .bind(our)
        .fetch_one(&pool)
    };
    assert_eq!(
        pair_recent(them, ours).await.unwrap(),
        [at("2026-11-21T12:00:00Z"), at("2026-11-21T11:00:00Z"), at("2026-11-21T10:00:00Z")],
        "the pair keeps its own three newest"
    );
    // A send recorded late, older than what the pair holds, is merged in order.
    let mut tx = pool.begin().await.unwrap();
    record_attempt(&mut tx, ws, &attempt(at("2026-11-21T11:30:00Z"), them, ours)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        pair_recent(them, ours).await.unwrap(),
        [at("2026-11-21T12:00:00Z"), at("2026-11-21T11:30:00Z"), at("2026-11-21T11:00:00Z")]
    );
    let (other_sends, other_recent): (i32, Vec<DateTime<Utc>>) = sqlx::query_as(
        "SELECT p.sends, r.recent_sends FROM pair_history p JOIN recipient_history r USING (workspace_id, their_number) \
         WHERE p.workspace_id = $1",
    )
    .bind(other)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((other_sends, other_recent), (1, vec![at("2026-11-21T10:00:00Z")]), "workspaces fold apart");

    // The carrier's answers, by primary key, in one statement.
    let result =
        |(w, a): &(WorkspaceId, Attempt), state: &'static str, sid: Option<&str>, code: Option<i32>| AttemptResult {
            workspace: *w,
            attempted_at: a.at,
            id: a.id,
            state,
            sid: sid.map(str::to_owned),
            status: sid.map(|_| "queued".to_owned()),
            error_code: code,
        };
    let results = [
        result(&batch[0], "accepted", Some("SM0"), None),
        result(&batch[3], "failed", None, Some(21610)),
        result(&batch[4], "unknown", None, None),
    ];
    record_results(&mut conn, &results).await.unwrap();
    record_results(&mut conn, &[]).await.unwrap();
    type Row = (Uuid, String, Option<String>, Option<String>, Option<i32>);
    let states: Vec<Row> =
        sqlx::query_as("SELECT id, state, sid, status, error_code FROM send_log ORDER BY attempted_at, id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let state_of = |id: Uuid| states.iter().find(|s| s.0 == id).unwrap().clone();
    assert_eq!(state_of(batch[0].1.id).1, "accepted");
    assert_eq!(state_of(batch[0].1.id).2.as_deref(), Some("SM0"));
    assert_eq!(state_of(batch[0].1.id).3.as_deref(), Some("queued"));
    assert_eq!(state_of(batch[3].1.id).1, "failed");
    assert_eq!(state_of(batch[3].1.id).4, Some(21610));
    assert_eq!(state_of(batch[4].1.id).1, "unknown");
    assert_eq!(states.iter().filter(|s| s.1 == "calling").count(), 5, "the rest (and the late send) still calling");
}

/// Migration 0020 folds the recipient table into the pair rows: each pair gets its own last
/// day's sends from the send log (every attempt, failed ones too, as the recipient table counted
/// them), newest first and at most three; a pair with none keeps its last send.
#[tokio::test]
async fn the_one_table_migration_keeps_each_pairs_last_day_of_sends() {
    let db = TestDb::empty().await;
    let pool = db.pool().await;
    switchboard_server::db::MIGRATOR.run_to(19, &pool).await.unwrap();
    let ws = workspace(&pool).await;
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    ensure_partitions(&mut conn, (now - Duration::days(2)).date_naive(), 4).await.unwrap();
    let (them, ours, other) = ("+14155550123", "+12015550100", "+12015550101");
    let hours_ago = |h: i64| now - Duration::hours(h);
    for (h, from, state) in [
        (1, ours, "accepted"),
        (2, ours, "failed"),
        (3, ours, "accepted"),
        (4, ours, "accepted"),
        (5, other, "accepted"),
        (30, other, "accepted"),
    ] {
        sqlx::query(
            "INSERT INTO send_log (workspace_id, attempted_at, id, to_phone, from_number, state) \
             VALUES ($1, $2, gen_random_uuid(), $3, $4, $5)",
        )
        .bind(ws)
        .bind(hours_ago(h))
        .bind(them)
        .bind(from)
        .bind(state)
        .execute(&pool)
        .await
        .unwrap();
    }
    for (their, our, last) in
        [(them, ours, hours_ago(1)), (them, other, hours_ago(5)), ("+14155550999", ours, hours_ago(400))]
    {
        sqlx::query(
            "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, sends) VALUES ($1, $2, $3, $4, 1)",
        )
        .bind(ws)
        .bind(their)
        .bind(our)
        .bind(last)
        .execute(&pool)
        .await
        .unwrap();
    }
    switchboard_server::db::migrate(&pool).await.unwrap();
    let recent: Vec<(String, String, Vec<DateTime<Utc>>)> =
        sqlx::query_as("SELECT their_number, our_number, recent_sends FROM pair_history ORDER BY 1, 2")
            .fetch_all(&pool)
            .await
            .unwrap();
    // Microseconds: what PostgreSQL keeps of a timestamp.
    let micros = |t: DateTime<Utc>| DateTime::<Utc>::from_timestamp_micros(t.timestamp_micros()).unwrap();
    assert_eq!(
        recent,
        [
            (them.into(), ours.into(), vec![micros(hours_ago(1)), micros(hours_ago(2)), micros(hours_ago(3))]),
            (them.into(), other.into(), vec![micros(hours_ago(5))]),
            ("+14155550999".into(), ours.into(), vec![micros(hours_ago(400))]),
        ]
    );
    let recipient = recipient_history(&pool, ws, them).await;
    assert_eq!(recipient.0, micros(hours_ago(1)), "the view answers as the table did");
    assert_eq!(recipient.1.len(), 3);
    // The history and the status callbacks have no foreign key to workspaces (migration 0021:
    // its check cost a third of each upsert); a deleted workspace's rows go with it all the same.
    sqlx::query("INSERT INTO status_callbacks (workspace_id, sid, status) VALUES ($1, 'SM1', 'delivered')")
        .bind(ws)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(ws).execute(&pool).await.unwrap();
    let left: i64 =
        sqlx::query_scalar("SELECT (SELECT count(*) FROM pair_history) + (SELECT count(*) FROM status_callbacks)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
}
