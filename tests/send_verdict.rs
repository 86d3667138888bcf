//! `send_verdict` (migration 0008) against 0007's original, installed beside it under another
//! name: the same reason for every combination of suppression, history, step, daily limit and
//! window the gate distinguishes — the claim and the preview depend on it (docs/engine.md).

mod common;

use common::TestDb;

#[tokio::test]
async fn send_verdict_answers_exactly_as_0007_did() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let file = include_str!("../migrations/0007_campaigns.sql");
    let start = file.find("CREATE FUNCTION send_verdict(").unwrap();
    let end = file[start..].rfind("$$;").unwrap() + 3;
    let original = file[start..start + end].replacen("send_verdict(", "send_verdict_0007(", 1);
    sqlx::raw_sql(sqlx::AssertSqlSafe(original)).execute(&pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO workspaces (id, slug, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'alpha', 'A'), \
                                                         ('00000000-0000-0000-0000-00000000000b', 'beta', 'B');
         -- Workspace a: phones +1415555010N for N = 0..9 in various states.
         INSERT INTO opt_outs (workspace_id, phone, source) VALUES ('00000000-0000-0000-0000-00000000000a', '+14155550100', 'keyword');
         INSERT INTO dnc_entries (workspace_id, id, lo, hi) VALUES
             ('00000000-0000-0000-0000-00000000000a', gen_random_uuid(), 14155550101, 14155550101),
             -- a wide range starting far below, and a narrow one inside it: overlapping entries.
             ('00000000-0000-0000-0000-00000000000a', gen_random_uuid(), 14150000000, 14155550102),
             ('00000000-0000-0000-0000-00000000000a', gen_random_uuid(), 14155550102, 14155550102),
             ('00000000-0000-0000-0000-00000000000b', gen_random_uuid(), 14155550103, 14155550109);
         INSERT INTO undeliverable_numbers (workspace_id, phone, reason) VALUES
             ('00000000-0000-0000-0000-00000000000a', '+14155550103', 'invalid'),
             ('00000000-0000-0000-0000-00000000000a', '+14155550104', 'landline'),
             ('00000000-0000-0000-0000-00000000000a', '+14155550100', 'invalid');
         INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at) VALUES
             ('00000000-0000-0000-0000-00000000000a', '+14155550105', '+12015550100', '2026-06-01T12:00:00Z'),
             ('00000000-0000-0000-0000-00000000000a', '+14155550106', '+12015550100', '2026-03-01T12:00:00Z');
         INSERT INTO recipient_history (workspace_id, their_number, last_sent_at, recent_sends) VALUES
             ('00000000-0000-0000-0000-00000000000a', '+14155550105', '2026-06-01T12:00:00Z', ARRAY['2026-06-01T12:00:00Z'::timestamptz]),
             ('00000000-0000-0000-0000-00000000000a', '+14155550106', '2026-06-09T12:00:00Z',
              ARRAY['2026-06-09T12:00:00Z', '2026-06-09T08:00:00Z', '2026-06-08T20:00:00Z']::timestamptz[]),
             ('00000000-0000-0000-0000-00000000000a', '+14155550107', '2026-04-01T12:00:00Z', ARRAY['2026-04-01T12:00:00Z'::timestamptz]);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let compare = "SELECT count(*) FILTER (WHERE v7 IS DISTINCT FROM v8), count(DISTINCT coalesce(v8, 'send')), \
                          string_agg(DISTINCT coalesce(v8, 'send'), ',') FROM ( \
        SELECT send_verdict_0007(ws, '+' || k, k, f, s, 'America/New_York', 127::smallint, '08:00', '21:00', m, rd, pd, at) v7, \
               send_verdict(ws, '+' || k, k, f, s, 'America/New_York', 127::smallint, '08:00', '21:00', m, rd, pd, at) v8 \
        FROM unnest(ARRAY['00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b',
                          '00000000-0000-0000-0000-00000000000c']::uuid[]) ws, \
             generate_series(14155550099, 14155550110) k, \
             unnest(ARRAY['+12015550100', '+12015550101']) f, \
             unnest(ARRAY[0, 1]::smallint[]) s, \
             unnest(ARRAY[NULL, 0, 2, 3]::smallint[]) m, \
             unnest(ARRAY[0, 30]) rd, unnest(ARRAY[0, 90]) pd, \
             unnest(ARRAY['2026-06-09T16:00:00Z', '2026-06-10T03:00:00Z', '2026-09-01T16:00:00Z']::timestamptz[]) at \
    ) cases";
    let (differ, kinds, seen): (i64, i64, String) = sqlx::query_as(compare).fetch_one(&pool).await.unwrap();
    assert_eq!(differ, 0, "0008's send_verdict answers like 0007's");
    assert_eq!(
        seen, "daily_limit,dnc,invalid,landline,opted_out,outside_hours,pair_cooldown,recipient_cooldown,send",
        "every reason is exercised"
    );
    assert_eq!(kinds, 9);
}
