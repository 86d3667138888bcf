//! Daily caps (invariant 3): a number's cap (its own, lowered by its warm-up step) and its
//! account's, counted per UTC day in `send_quota`. A worker takes its share *before* claiming,
//! with one conditional UPDATE per scope, so the caps hold summed over every instance; what it
//! could not use it gives back.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::ids::WorkspaceId;

/// One capped scope for today: `number:<e164>` or `account:<uuid>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cap {
    pub scope: String,
    pub per_day: i32,
}

/// Takes up to `want` sends from `cap` for `day`; returns how many were granted.
async fn take_one(conn: &mut PgConnection, ws: WorkspaceId, cap: &Cap, day: NaiveDate, want: i32) -> sqlx::Result<i32> {
    sqlx::query(
        "INSERT INTO send_quota (workspace_id, scope, day, used) VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
    )
    .bind(ws)
    .bind(&cap.scope)
    .bind(day)
    .execute(&mut *conn)
    .await?;
    let granted: Option<i32> = sqlx::query_scalar(
        "WITH old AS (SELECT used FROM send_quota WHERE workspace_id = $1 AND scope = $2 AND day = $3 FOR UPDATE) \
         UPDATE send_quota q SET used = LEAST(old.used + $4, $5) FROM old \
         WHERE q.workspace_id = $1 AND q.scope = $2 AND q.day = $3 RETURNING q.used - old.used",
    )
    .bind(ws)
    .bind(&cap.scope)
    .bind(day)
    .bind(want)
    .bind(cap.per_day)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(granted.unwrap_or(0).max(0))
}

/// Gives back `n` unused sends.
async fn give_back_one(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    scope: &str,
    day: NaiveDate,
    n: i32,
) -> sqlx::Result<()> {
    if n > 0 {
        sqlx::query(
            "UPDATE send_quota SET used = GREATEST(used - $4, 0) WHERE workspace_id = $1 AND scope = $2 AND day = $3",
        )
        .bind(ws)
        .bind(scope)
        .bind(day)
        .bind(n)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Takes up to `want` from every cap (all or the smallest grant), giving back the excess.
pub async fn take(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    caps: &[Cap],
    now: DateTime<Utc>,
    want: i32,
) -> sqlx::Result<i32> {
    let day = now.date_naive();
    let mut granted = want;
    let mut taken: Vec<(&Cap, i32)> = Vec::new();
    for cap in caps {
        let got = take_one(conn, ws, cap, day, granted).await?;
        taken.push((cap, got));
        granted = granted.min(got);
    }
    for (cap, got) in taken {
        give_back_one(conn, ws, &cap.scope, day, got - granted).await?;
    }
    Ok(granted)
}

/// Gives `n` unused sends back to every cap.
pub async fn give_back(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    caps: &[Cap],
    now: DateTime<Utc>,
    n: i32,
) -> sqlx::Result<()> {
    for cap in caps {
        give_back_one(conn, ws, &cap.scope, now.date_naive(), n).await?;
    }
    Ok(())
}
