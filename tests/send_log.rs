//! The partitioned send log against real PostgreSQL: partitions made ahead and idempotently,
//! rows routed to their day, old days detached and archived as gzip CSV, and cooldowns answered
//! from the pair and recipient histories (invariant 4's data).

mod common;

use std::io::Read;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::TestDb;
use switchboard_sender::send_log::{
    Attempt, Cooldown, RetextPolicy, archive_partition, cooldown, detach_before, ensure_partitions, partition_name,
    record_attempt,
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

    // Florida: no cooldown days, but at most 3 per 24 h.
    let fl = RetextPolicy { recipient_days: 0, pair_days: 0, ..policy }.for_state(Some("FL"));
    let miami = E164::parse("+13055550100").unwrap();
    let t0 = at("2026-07-01T13:00:00Z");
    for h in 0..3 {
        assert_eq!(cooldown(&mut conn, ws, &miami, &from, fl, t0 + Duration::hours(h)).await.unwrap(), None);
        let mut tx = pool.begin().await.unwrap();
        record_attempt(&mut tx, ws, &attempt(t0 + Duration::hours(h), "+13055550100", ours)).await.unwrap();
        tx.commit().await.unwrap();
    }
    let c = cooldown(&mut conn, ws, &miami, &from, fl, t0 + Duration::hours(5)).await.unwrap();
    assert_eq!(c, Some(Cooldown::DailyLimit { until: t0 + Duration::hours(24) }));
    assert_eq!(cooldown(&mut conn, ws, &miami, &from, fl, t0 + Duration::hours(24)).await.unwrap(), None);
    let texas = fl.for_state(Some("TX"));
    assert_eq!(texas.max_per_24h, Some(3), "for_state only adds limits");
}
