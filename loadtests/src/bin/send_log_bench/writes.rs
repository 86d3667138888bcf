//! Send-log write throughput: `record_attempts` (the engine's path: "calling" rows plus the pair
//! history, one transaction per batch), its send-log half alone (`insert_calling_rows`: the
//! same rows by INSERT over UNNEST, no pair history) and a binary COPY of the same rows
//! into the same partitioned `send_log` (one COPY and one commit per batch, the same batch size
//! and writers), alternating, with the tables emptied before each round.

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use switchboard_sender::send_log::{self, Attempt};
use switchboard_sender::{E164, WorkspaceId};
use uuid::Uuid;

#[derive(clap::Args)]
pub struct Args {
    /// Rows per round.
    #[arg(long, default_value_t = 400_000)]
    rows: usize,
    /// Rows per batch (one transaction each).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Concurrent writers (one connection each).
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Distinct recipients the rows are drawn from.
    #[arg(long, default_value_t = 200_000)]
    recipients: usize,
    /// Rounds of each method, alternating.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

type Batch = Vec<(WorkspaceId, Attempt)>;

/// `rows` attempts over two UTC days (two daily partitions), split per writer into batches.
fn generate(ws: WorkspaceId, args: &Args) -> Vec<Vec<Batch>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let recipients: Vec<E164> = (0..args.recipients)
        .map(|i| E164::parse(&format!("+1415{:03}{:04}", 200 + (i / 10_000) % 800, i % 10_000)).unwrap())
        .collect();
    let ours: Vec<E164> = (0..50).map(|i| E164::parse(&format!("+120155501{i:02}")).unwrap()).collect();
    let day0: DateTime<Utc> = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let per_writer = args.rows / args.writers;
    (0..args.writers)
        .map(|_| {
            (0..per_writer)
                .map(|_| {
                    let r = rng.random_range(0..recipients.len());
                    let attempt = Attempt {
                        id: Uuid::now_v7(),
                        at: day0 + Duration::milliseconds(rng.random_range(0..2 * 86_400_000)),
                        outbox_id: Some(rng.random_range(1..i64::MAX)),
                        campaign_id: Some(Uuid::from_u128(1)),
                        step: Some(0),
                        to: recipients[r].clone(),
                        from: ours[r % ours.len()].clone(),
                        account_id: Some(Uuid::from_u128(2)),
                        segments: 1,
                    };
                    (ws, attempt)
                })
                .collect::<Vec<_>>()
                .chunks(args.batch)
                .map(<[_]>::to_vec)
                .collect()
        })
        .collect()
}

pub async fn run(pool: &PgPool, args: &Args) -> anyhow::Result<()> {
    let ws = crate::workspace(pool).await?;
    let mut conn = pool.acquire().await?;
    send_log::ensure_partitions(&mut conn, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), 2).await?;
    drop(conn);
    let t = Instant::now();
    let work = generate(ws, args);
    let total: usize = work.iter().flatten().map(Vec::len).sum();
    println!(
        "generated {total} attempts ({} writers x batches of {}) in {:.1} s",
        args.writers,
        args.batch,
        t.elapsed().as_secs_f64()
    );
    let (mut best_batch, mut best_rows, mut best_copy) = (0f64, 0f64, 0f64);
    for round in 1..=args.rounds {
        for method in ["record_attempts", "log_rows", "copy"] {
            sqlx::query("TRUNCATE send_log, pair_history").execute(pool).await?;
            sqlx::query("CHECKPOINT").execute(pool).await?;
            let t = Instant::now();
            let mut tasks = Vec::new();
            for batches in work.clone() {
                let pool = pool.clone();
                tasks.push(tokio::spawn(async move {
                    let mut conn = pool.acquire().await?;
                    for batch in &batches {
                        if method == "copy" {
                            copy_batch(&mut conn, batch).await?;
                            continue;
                        }
                        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                        if method == "log_rows" {
                            send_log::insert_calling_rows(&mut tx, batch).await?;
                        } else {
                            send_log::record_attempts(&mut tx, batch).await?;
                        }
                        tx.commit().await?;
                    }
                    anyhow::Ok(())
                }));
            }
            for task in tasks {
                task.await??;
            }
            let secs = t.elapsed().as_secs_f64();
            let rate = total as f64 / secs;
            let (rows, pairs): (i64, i64) =
                sqlx::query_as("SELECT (SELECT count(*) FROM send_log), (SELECT count(*) FROM pair_history)")
                    .fetch_one(pool)
                    .await?;
            anyhow::ensure!(rows as usize == total, "{method}: {rows} rows written, expected {total}");
            println!("round {round} {method}: {total} rows in {secs:.2} s = {rate:.0} rows/s (pairs {pairs})");
            let best = match method {
                "copy" => &mut best_copy,
                "log_rows" => &mut best_rows,
                _ => &mut best_batch,
            };
            *best = best.max(rate);
        }
    }
    println!(
        "RESULT record_attempts_rows_per_s={best_batch:.0} log_rows_per_s={best_rows:.0} copy_rows_per_s={best_copy:.0} \
         ratio={:.2} log_ratio={:.2}",
        best_batch / best_copy,
        best_rows / best_copy
    );
    Ok(())
}

const COPY: &str = "COPY send_log (workspace_id, attempted_at, id, outbox_id, campaign_id, step, to_phone, from_number, \
                    account_id, segments, state) FROM STDIN (FORMAT binary)";

/// One batch as PostgreSQL's binary COPY format, in its own transaction.
async fn copy_batch(conn: &mut sqlx::PgConnection, batch: &Batch) -> anyhow::Result<()> {
    let mut buf = Vec::with_capacity(batch.len() * 200);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    let pg_epoch_micros = 946_684_800_000_000i64;
    for (ws, a) in batch {
        buf.extend_from_slice(&11i16.to_be_bytes());
        field(&mut buf, ws.0.as_bytes());
        field(&mut buf, &(a.at.timestamp_micros() - pg_epoch_micros).to_be_bytes());
        field(&mut buf, a.id.as_bytes());
        optional(&mut buf, a.outbox_id.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
        optional(&mut buf, a.campaign_id.as_ref().map(|u| &u.as_bytes()[..]));
        optional(&mut buf, a.step.map(i16::to_be_bytes).as_ref().map(|b| &b[..]));
        field(&mut buf, a.to.as_str().as_bytes());
        field(&mut buf, a.from.as_str().as_bytes());
        optional(&mut buf, a.account_id.as_ref().map(|u| &u.as_bytes()[..]));
        field(&mut buf, &a.segments.to_be_bytes());
        field(&mut buf, b"calling");
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mut copy = tx.copy_in_raw(COPY).await?;
    copy.send(buf).await?;
    copy.finish().await?;
    tx.commit().await?;
    Ok(())
}

fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn optional(buf: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => field(buf, b),
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}
