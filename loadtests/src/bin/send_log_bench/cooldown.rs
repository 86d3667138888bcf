//! The cooldown gate at scale: `rows` recipients with one pair each (so 2 × rows history rows),
//! 1% opted out, 0.5% undeliverable, 1,000 DNC phones and 100 DNC ranges, generated in SQL with
//! generate_series. Then, in the same run: latency of a bare primary-key probe on
//! `pair_history` (the floor), of `sender::send_log::cooldown` and of `send_verdict(...)` for one
//! recipient; and one query screening many recipients at once through `send_verdict` over
//! UNNEST arrays (the campaign preview's shape). The screening also runs 0007's original
//! `send_verdict` (installed as `send_verdict_0007`), so a later migration's gain is a ratio
//! measured in the same run.

use std::time::Instant;

use chrono::Utc;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use switchboard_sender::E164;
use switchboard_sender::send_log::{self, RetextPolicy};

#[derive(clap::Args)]
pub struct Args {
    /// Recipients (each with one pair-history and one recipient-history row).
    #[arg(long, default_value_t = 10_000_000)]
    rows: i64,
    /// Single-recipient probes per kind.
    #[arg(long, default_value_t = 20_000)]
    probes: usize,
    /// Recipients screened by one query.
    #[arg(long, default_value_t = 100_000)]
    screen: usize,
}

/// Area codes of the generated recipients: 8M numbers each (exchanges 200–999).
const AREAS: [u32; 13] = [212, 213, 305, 312, 404, 415, 512, 617, 702, 713, 718, 773, 801];

fn their(i: i64) -> String {
    format!("+1{}{:03}{:04}", AREAS[(i / 8_000_000) as usize], 200 + (i / 10_000) % 800, i % 10_000)
}

fn ours(i: i64) -> String {
    format!("+120155501{:02}", i % 50)
}

const THEIR_SQL: &str = "'+1' || (ARRAY[212,213,305,312,404,415,512,617,702,713,718,773,801])[i / 8000000 + 1] \
                         || (200 + (i / 10000) % 800) || lpad((i % 10000)::text, 4, '0')";
const OURS_SQL: &str = "'+120155501' || lpad((i % 50)::text, 2, '0')";
/// A send time spread over the last 120 days, a pure function of i.
const LAST_SQL: &str = "now() - make_interval(secs => (i * 2654435761) % 10368000)";

async fn generate(pool: &PgPool, ws: switchboard_sender::WorkspaceId, rows: i64) -> anyhow::Result<()> {
    anyhow::ensure!(rows <= 8_000_000 * AREAS.len() as i64, "at most {} rows", 8_000_000 * AREAS.len());
    let chunk = 2_000_000i64;
    let t = Instant::now();
    let mut start = 0;
    while start < rows {
        let end = (start + chunk).min(rows) - 1;
        let mut conn = pool.acquire().await?;
        sqlx::query("SET synchronous_commit = off").execute(&mut *conn).await?;
        for sql in [
            format!(
                "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, sends) \
                 SELECT $1, {THEIR_SQL}, {OURS_SQL}, {LAST_SQL}, 1 FROM generate_series($2::bigint, $3::bigint) i"
            ),
            format!(
                "INSERT INTO recipient_history (workspace_id, their_number, last_sent_at, recent_sends) \
                 SELECT $1, {THEIR_SQL}, {LAST_SQL}, ARRAY[{LAST_SQL}] FROM generate_series($2::bigint, $3::bigint) i"
            ),
            format!(
                "INSERT INTO opt_outs (workspace_id, phone, source) \
                 SELECT $1, {THEIR_SQL}, 'import' FROM generate_series($2::bigint, $3::bigint) i WHERE i % 100 = 7"
            ),
            format!(
                "INSERT INTO undeliverable_numbers (workspace_id, phone, reason) \
                 SELECT $1, {THEIR_SQL}, 'invalid' FROM generate_series($2::bigint, $3::bigint) i WHERE i % 200 = 13"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(start).bind(end).execute(&mut *conn).await?;
        }
        start = end + 1;
        println!("  generated {start} recipients ({:.0} s)", t.elapsed().as_secs_f64());
    }
    // DNC: 1,000 single phones and 100 ranges of 100 numbers spread over the recipients.
    let dnc = format!(
        "INSERT INTO dnc_entries (workspace_id, id, lo, hi) \
         SELECT $1, gen_random_uuid(), k, k + CASE WHEN n % 10 = 0 THEN 99 ELSE 0 END \
         FROM (SELECT n, substr({THEIR_SQL}, 2)::bigint AS k FROM generate_series(0, 1099) n, \
               LATERAL (SELECT (n * ($2::bigint / 1100)) AS i) x) d"
    );
    sqlx::query(sqlx::AssertSqlSafe(dnc)).bind(ws).bind(rows).execute(pool).await?;
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    let size: String = sqlx::query_scalar(
        "SELECT pg_size_pretty(pg_total_relation_size('pair_history') + pg_total_relation_size('recipient_history'))",
    )
    .fetch_one(pool)
    .await?;
    println!("generated {rows} recipients in {:.0} s; history tables with indexes: {size}", t.elapsed().as_secs_f64());
    Ok(())
}

/// Installs 0007's `send_verdict` under another name, for a before/after in the same run.
async fn install_original(pool: &PgPool) -> anyhow::Result<()> {
    let file = include_str!("../../../../migrations/0007_campaigns.sql");
    let start = file.find("CREATE FUNCTION send_verdict(").expect("0007 defines send_verdict");
    let body = &file[start..];
    let end = body.rfind("$$;").expect("the function ends") + 3;
    let sql = body[..end].replacen("send_verdict(", "send_verdict_0007(", 1);
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    Ok(())
}

const VERDICT_ARGS: &str = "0::smallint, 'America/New_York', 127::smallint, '08:00'::time, '21:00'::time, \
                            NULL::smallint, 30, 90, now()";

pub async fn run(pool: &PgPool, args: &Args) -> anyhow::Result<()> {
    let ws = crate::workspace(pool).await?;
    println!("==> generating {} recipients", args.rows);
    generate(pool, ws, args.rows).await?;
    install_original(pool).await?;

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let probes: Vec<(i64, E164, E164)> = (0..args.probes)
        .map(|_| {
            let i = rng.random_range(0..args.rows);
            (i, E164::parse(&their(i)).unwrap(), E164::parse(&ours(i)).unwrap())
        })
        .collect();
    let mut conn = pool.acquire().await?;
    let policy = RetextPolicy::default();
    for kind in ["pk_probe", "cooldown", "send_verdict"] {
        // Warm the plan caches and the buffer cache for this kind first.
        let mut samples = Vec::with_capacity(probes.len());
        for (n, (i, to, from)) in probes.iter().enumerate() {
            let t = Instant::now();
            match kind {
                "pk_probe" => {
                    let _: Option<chrono::DateTime<Utc>> = sqlx::query_scalar(
                        "SELECT last_sent_at FROM pair_history WHERE workspace_id = $1 AND their_number = $2 AND our_number = $3",
                    )
                    .bind(ws)
                    .bind(to.as_str())
                    .bind(from.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                }
                "cooldown" => {
                    send_log::cooldown(&mut conn, ws, to, from, policy, Utc::now()).await?;
                }
                _ => {
                    let _: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT send_verdict($1, $2, $3, $4, {VERDICT_ARGS})"
                    )))
                    .bind(ws)
                    .bind(to.as_str())
                    .bind(their(*i)[1..].parse::<i64>()?)
                    .bind(from.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
                }
            }
            if n >= probes.len() / 10 {
                samples.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "RESULT probe={kind} n={} p50_us={:.0} p99_us={:.0} max_us={:.0}",
            samples.len(),
            crate::pct(&samples, 0.5),
            crate::pct(&samples, 0.99),
            samples.last().copied().unwrap_or_default()
        );
    }

    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < args.screen.min(args.rows as usize) {
        picked.insert(rng.random_range(0..args.rows));
    }
    let phones: Vec<String> = picked.iter().map(|i| their(*i)).collect();
    let keys: Vec<i64> = phones.iter().map(|p| p[1..].parse().unwrap()).collect();
    let froms: Vec<String> = picked.iter().map(|i| ours(*i)).collect();
    // `judge_send` is how the claim and the preview ask (migration 0011): a table function in
    // FROM, inlined into the statement; the scalar forms start an executor per recipient.
    for function in
        ["send_verdict_0007", "send_verdict", "judge_send", "send_verdict_0007", "send_verdict", "judge_send"]
    {
        let (verdict, lateral) = match function {
            "judge_send" => {
                ("j.verdict".to_owned(), format!("CROSS JOIN LATERAL judge_send($1, p, k, f, {VERDICT_ARGS}) j"))
            }
            scalar => (format!("{scalar}($1, p, k, f, {VERDICT_ARGS})"), String::new()),
        };
        let sql = format!(
            "SELECT COALESCE(v, 'send'), count(*) FROM (SELECT {verdict} v \
             FROM unnest($2::text[], $3::bigint[], $4::text[]) AS u(p, k, f) {lateral}) s GROUP BY 1 ORDER BY 1"
        );
        let t = Instant::now();
        let counts: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(ws)
            .bind(&phones)
            .bind(&keys)
            .bind(&froms)
            .fetch_all(&mut *conn)
            .await?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!("RESULT screen function={function} recipients={} ms={ms:.0} verdicts={counts:?}", phones.len());
    }
    Ok(())
}
