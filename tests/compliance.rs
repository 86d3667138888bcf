//! Suppression lists against real PostgreSQL: opt-outs with their consent history, and DNC
//! numbers and ranges.

mod common;

use common::TestDb;
use switchboard_sender::compliance::suppression::{
    ConsentContext, OptOutSource, Suppressed, phone_key, record_opt_in, record_opt_out, suppression_of,
};
use switchboard_sender::{E164, WorkspaceId};

async fn workspace(pool: &sqlx::PgPool, slug: &str) -> WorkspaceId {
    let id = WorkspaceId::new();
    sqlx::query("INSERT INTO workspaces (id, slug, name) VALUES ($1, $2, $2)")
        .bind(id)
        .bind(slug)
        .execute(pool)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn opt_out_then_opt_in_keeps_the_whole_history_and_is_per_workspace() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let (a, b) = (workspace(&pool, "alpha").await, workspace(&pool, "beta").await);
    let phone = E164::parse("+14155550123").unwrap();
    let ctx = ConsentContext {
        via_number: Some(E164::parse("+12015550100").unwrap()),
        message_sid: Some("SM1".into()),
        ..Default::default()
    };
    let mut conn = pool.acquire().await.unwrap();

    assert!(record_opt_out(&mut conn, a, &phone, OptOutSource::Keyword, &ctx).await.unwrap());
    assert!(!record_opt_out(&mut conn, a, &phone, OptOutSource::Keyword, &ctx).await.unwrap(), "already out");
    assert_eq!(suppression_of(&mut conn, a, &phone).await.unwrap(), Some(Suppressed::OptedOut));
    assert_eq!(suppression_of(&mut conn, b, &phone).await.unwrap(), None, "workspaces are apart");

    assert!(record_opt_in(&mut conn, a, &phone, "keyword", &ctx).await.unwrap());
    assert_eq!(suppression_of(&mut conn, a, &phone).await.unwrap(), None);
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM consent_events WHERE workspace_id = $1 ORDER BY id")
        .bind(a)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["opt_out", "opt_out", "opt_in"]);

    record_opt_out(&mut conn, a, &phone, OptOutSource::Phrase, &ConsentContext::default()).await.unwrap();
    let review: bool = sqlx::query_scalar("SELECT needs_review FROM opt_outs WHERE workspace_id = $1")
        .bind(a)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(review, "plain-language revocations are flagged for review");
}

#[tokio::test]
async fn dnc_covers_single_numbers_and_ranges() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let ws = workspace(&pool, "alpha").await;
    let lo = E164::parse("+14155550100").unwrap();
    let hi = E164::parse("+14155550199").unwrap();
    sqlx::query("INSERT INTO dnc_entries (workspace_id, id, lo, hi) VALUES ($1, gen_random_uuid(), $2, $3)")
        .bind(ws)
        .bind(phone_key(&lo))
        .bind(phone_key(&hi))
        .execute(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    for (raw, expected) in
        [("+14155550100", true), ("+14155550150", true), ("+14155550199", true), ("+14155550200", false)]
    {
        let phone = E164::parse(raw).unwrap();
        let got = suppression_of(&mut conn, ws, &phone).await.unwrap();
        assert_eq!(got == Some(Suppressed::Dnc), expected, "{raw}");
    }
}
