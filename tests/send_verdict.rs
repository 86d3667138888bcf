//! The gate's equivalences, each over every combination of suppression, history, step, daily
//! limit and window the gate distinguishes — the claim and the preview depend on them
//! (docs/engine.md): `send_verdict` (today's `judge_send`, migration 0020) against 0007's
//! original, installed beside it under another name and reading the recipient history through
//! the `recipient_history` view of the pair rows; and `screen_sends` (0015, the preview's set-based screening) against
//! `judge_send` (0011, the claim's gate), message by message.

mod common;

use common::TestDb;
use sqlx::PgPool;
use switchboard_sender::WorkspaceId;
use switchboard_sender::plan::key_of;
use switchboard_sender::plan::screen::{self, Rules, Screening};
use switchboard_sender::windows::LocalWindow;

/// Workspace a's phones +1415555010N for N = 0..9 in various states; workspace b has one range.
async fn suppressions_and_history(pool: &PgPool) {
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
         -- History is pair rows; a recipient's is the union of its pairs (the recipient_history
         -- view, which 0007's original reads). +12015550109 is a number the cases never send
         -- from: its rows are the recipient's history with another number.
         INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, recent_sends) VALUES
             ('00000000-0000-0000-0000-00000000000a', '+14155550105', '+12015550100', '2026-06-01T12:00:00Z',
              ARRAY['2026-06-01T12:00:00Z'::timestamptz]),
             ('00000000-0000-0000-0000-00000000000a', '+14155550106', '+12015550100', '2026-03-01T12:00:00Z',
              ARRAY['2026-03-01T12:00:00Z'::timestamptz]),
             ('00000000-0000-0000-0000-00000000000a', '+14155550106', '+12015550109', '2026-06-09T12:00:00Z',
              ARRAY['2026-06-09T12:00:00Z', '2026-06-09T08:00:00Z', '2026-06-08T20:00:00Z']::timestamptz[]),
             ('00000000-0000-0000-0000-00000000000a', '+14155550107', '+12015550109', '2026-04-01T12:00:00Z',
              ARRAY['2026-04-01T12:00:00Z'::timestamptz]),
             -- Three sends inside 24 hours split over two pairs.
             ('00000000-0000-0000-0000-00000000000a', '+14155550108', '+12015550101', '2026-06-09T10:00:00Z',
              ARRAY['2026-06-09T10:00:00Z', '2026-06-09T06:00:00Z']::timestamptz[]),
             ('00000000-0000-0000-0000-00000000000a', '+14155550108', '+12015550109', '2026-06-09T09:00:00Z',
              ARRAY['2026-06-09T09:00:00Z'::timestamptz]);",
    )
    .execute(pool)
    .await
    .unwrap();
}

const EVERY_REASON: &str =
    "daily_limit,dnc,invalid,landline,opted_out,outside_hours,pair_cooldown,recipient_cooldown,send";

#[tokio::test]
async fn send_verdict_answers_exactly_as_0007_did() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    let file = include_str!("../migrations/0007_campaigns.sql");
    let start = file.find("CREATE FUNCTION send_verdict(").unwrap();
    let end = file[start..].rfind("$$;").unwrap() + 3;
    let original = file[start..start + end].replacen("send_verdict(", "send_verdict_0007(", 1);
    sqlx::raw_sql(sqlx::AssertSqlSafe(original)).execute(&pool).await.unwrap();
    suppressions_and_history(&pool).await;
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
    assert_eq!(differ, 0, "send_verdict answers like 0007's");
    assert_eq!(seen, EVERY_REASON, "every reason is exercised");
    assert_eq!(kinds, 9);
}

/// Every combination above, and per-message zones, day sets and a missing from-number besides,
/// screened by `screen_sends` in one call per (workspace, step, cooldowns, moment) — 72 calls of
/// 576 messages each, phones repeated, in a scrambled order — and compared row by row with
/// `judge_send` for the same inputs; a message is found again by its position (`ord`).
#[tokio::test]
async fn set_screening_answers_exactly_as_judge_send() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    suppressions_and_history(&pool).await;
    let compare = "WITH cases AS ( \
            SELECT ws, k, f, s, m, rd, pd, at, tz, d, row_number() OVER ( \
                       PARTITION BY ws, s, rd, pd, at ORDER BY md5(concat_ws(' ', k, f, m, tz, d))) AS n \
            FROM unnest(ARRAY['00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b', \
                              '00000000-0000-0000-0000-00000000000c']::uuid[]) ws, \
                 generate_series(14155550099, 14155550110) k, \
                 unnest(ARRAY['+12015550100', '+12015550101', NULL]) f, \
                 unnest(ARRAY[0, 1]::smallint[]) s, \
                 unnest(ARRAY[NULL, 0, 2, 3]::smallint[]) m, \
                 unnest(ARRAY[0, 30]) rd, unnest(ARRAY[0, 90]) pd, \
                 unnest(ARRAY['2026-06-09T16:00:00Z', '2026-06-10T03:00:00Z', '2026-09-01T16:00:00Z']::timestamptz[]) at, \
                 unnest(ARRAY['America/New_York', 'Asia/Tokyo']) tz, \
                 unnest(ARRAY[127, 31]::smallint[]) d), \
        judged AS ( \
            SELECT c.*, j.verdict FROM cases c \
            CROSS JOIN LATERAL judge_send(c.ws, '+' || c.k, c.k, c.f, c.s, c.tz, c.d, '08:00', '21:00', c.m, \
                                          c.rd, c.pd, c.at) j), \
        calls AS ( \
            SELECT ws, s, rd, pd, at, array_agg('+' || k ORDER BY n) phones, array_agg(k ORDER BY n) keys, \
                   array_agg(f ORDER BY n) froms, array_agg(tz ORDER BY n) tzs, array_agg(d ORDER BY n) days, \
                   array_agg('08:00'::time ORDER BY n) starts, array_agg('21:00'::time ORDER BY n) ends, \
                   array_agg(m ORDER BY n) limits \
            FROM cases GROUP BY ws, s, rd, pd, at), \
        screened AS ( \
            SELECT c.ws, c.s, c.rd, c.pd, c.at, x.ord, x.verdict FROM calls c \
            CROSS JOIN LATERAL screen_sends(c.ws, c.phones, c.keys, c.froms, c.tzs, c.days, c.starts, c.ends, \
                                            c.limits, c.s, c.rd, c.pd, c.at) x) \
        SELECT count(*), count(*) FILTER (WHERE j.n IS NULL OR x.ord IS NULL OR j.verdict IS DISTINCT FROM x.verdict), \
               string_agg(DISTINCT coalesce(x.verdict, 'send'), ',') \
        FROM judged j FULL JOIN screened x ON (x.ws, x.s, x.rd, x.pd, x.at, x.ord) = (j.ws, j.s, j.rd, j.pd, j.at, j.n)";
    let (rows, differ, seen): (i64, i64, String) = sqlx::query_as(compare).fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 3 * 12 * 3 * 2 * 4 * 2 * 2 * 3 * 2 * 2, "one row per message, none lost or doubled");
    assert_eq!(differ, 0, "screen_sends answers each message as judge_send does");
    assert_eq!(seen, EVERY_REASON, "every reason is exercised");
}

/// A list long enough to be screened in parts, concurrently on several connections (the
/// preview's `plan::screen::screen`), gets exactly the verdicts, in the same order, that one
/// statement gives it (`screen_on`): fails if a part is lost, doubled or put back out of place.
#[tokio::test]
async fn a_list_screened_in_parts_answers_as_one_statement() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    suppressions_and_history(&pool).await;
    let ws = WorkspaceId("00000000-0000-0000-0000-00000000000a".parse().unwrap());
    let mut messages = Screening::default();
    // The fixture's 12 phones (stepped by 7, so neighbours differ), two senders and three daily
    // limits: the verdicts vary from message to message, so a part out of place would show.
    // 35,011 messages make three parts of unequal length.
    for i in 0..35_011_i64 {
        let to = format!("+{}", 14155550099 + (i * 7) % 12);
        let from = ["+12015550100", "+12015550101"][(i % 2) as usize];
        let window = LocalWindow { days: 127, start: "08:00".parse().unwrap(), end: "21:00".parse().unwrap() };
        messages.push(&to, key_of(&to), from, "America/New_York", window, [None, Some(2), Some(3)][(i % 3) as usize]);
    }
    let rules = Rules { step: 0, recipient_days: 30, pair_days: 90, at: "2026-06-09T16:00:00Z".parse().unwrap() };
    let in_parts = screen::screen(&pool, ws, &messages, rules).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let in_one = screen::screen_on(&mut conn, ws, &messages, rules).await.unwrap();
    assert_eq!(in_parts.len(), messages.len());
    assert!(in_parts == in_one, "the parts' verdicts differ from one statement's");
    let kinds: std::collections::BTreeSet<_> = in_one.iter().collect();
    assert!(kinds.len() >= 6, "the list exercises the reasons: {kinds:?}");
}

/// The retext cooldowns are answered from the pair key alone (migration 0022): the key carries
/// `last_sent_at`, and the cooldown read names no other column, so with the pages all-visible the
/// history is read by an index-only scan — no heap page per screened recipient. Fails if the key
/// loses `last_sent_at` or the cooldown read starts needing `recent_sends`. The daily count
/// (the scan that reads `recent_sends`), asked only for a message with a limit, reads the heap.
/// Both descend the key by the recipient's number (`their_key`, migration 0024), never by the
/// text, which the key no longer leads with (a read by text is a walk of the whole key).
#[tokio::test]
async fn the_cooldowns_are_answered_from_the_pair_key() {
    let db = TestDb::fresh().await;
    let pool = db.pool().await;
    suppressions_and_history(&pool).await;
    sqlx::query("VACUUM (ANALYZE) pair_history").execute(&pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    // A handful of test rows would be read by a sequential scan; the plan's shape is the question.
    sqlx::raw_sql("SET enable_seqscan = off; SET enable_bitmapscan = off").execute(&mut *conn).await.unwrap();
    let forms = [
        (
            "screen_sends",
            "SELECT * FROM screen_sends('00000000-0000-0000-0000-00000000000a', ARRAY['+14155550106'], \
             ARRAY[14155550106], ARRAY['+12015550100'], ARRAY['America/New_York'], ARRAY[127::smallint], \
             ARRAY['08:00'::time], ARRAY['21:00'::time], ARRAY[3::smallint], 0::smallint, 30, 90, now())",
        ),
        (
            "judge_send",
            "SELECT * FROM judge_send('00000000-0000-0000-0000-00000000000a', '+14155550106', 14155550106, \
             '+12015550100', 0::smallint, 'America/New_York', 127::smallint, '08:00', '21:00', 3::smallint, \
             30, 90, now())",
        ),
    ];
    for (form, sql) in forms {
        let plan: serde_json::Value =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN (VERBOSE, FORMAT JSON) {sql}")))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        let mut scans = Vec::new();
        pair_history_scans(&plan, &mut scans);
        for (_, _, cond) in &scans {
            assert!(cond.contains("their_key = "), "{form} looks the pairs up by number, not {cond}: {plan:#}");
        }
        let (daily, cooldowns): (Vec<_>, Vec<_>) = scans.into_iter().partition(|(_, reads_recent, _)| *reads_recent);
        assert_eq!(daily.len(), 1, "{form} reads recent_sends once, for the daily count: {plan:#}");
        assert_eq!(cooldowns.len(), 1, "{form} reads the pair rows once for the cooldowns: {plan:#}");
        assert_eq!(cooldowns[0].0, "Index Only Scan", "{form} answers the cooldowns from the pair key: {plan:#}");
    }
}

/// Every scan of pair_history in an EXPLAIN (VERBOSE, FORMAT JSON) plan: its node type, whether
/// it reads `recent_sends`, and its index condition.
fn pair_history_scans(node: &serde_json::Value, scans: &mut Vec<(String, bool, String)>) {
    match node {
        serde_json::Value::Object(map) => {
            if map.get("Relation Name").and_then(|r| r.as_str()) == Some("pair_history") {
                let reads_recent = map["Output"].to_string().contains("recent_sends");
                let cond = map.get("Index Cond").and_then(|c| c.as_str()).unwrap_or_default().to_owned();
                scans.push((map["Node Type"].as_str().unwrap_or_default().to_owned(), reads_recent, cond));
            }
            map.values().for_each(|v| pair_history_scans(v, scans));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| pair_history_scans(v, scans)),
        _ => {}
    }
}
