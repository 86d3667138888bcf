//! Account rotation: first messages queued on a number whose account is tripped (its circuit
//! breaker open on the leader, or marked failing after bad credentials) move to a number of a
//! healthy account in the campaign's pool, same area code first. Only rows that never touched
//! the recipient move: step 0, nothing sent (or possibly sent) and no conversation between that
//! number and the recipient — the sticky sender is never broken once a recipient has heard
//! from a number. (Attempts the carrier refused, like a 401, sent nothing and do not pin.)
//! "Heard" is asked of the pair's history: its most recent attempts (`recent_sends`, found in
//! the send log by the key's prefix, as `follow_up::on_reply` does), accepted, unknown or still
//! calling.

use sqlx::PgConnection;
use uuid::Uuid;

use super::Shared;

/// Moves up to 5,000 rows per call; returns how many moved.
pub(super) async fn reroute_tripped(shared: &Shared, conn: &mut PgConnection) -> sqlx::Result<u64> {
    let tripped: Vec<Uuid> = shared.breakers.tripped();
    // Nothing to move while every account is healthy: skip the search over queued rows.
    let failing: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM carrier_accounts WHERE status = 'failing')")
        .fetch_one(&mut *conn)
        .await?;
    if tripped.is_empty() && !failing {
        return Ok(0);
    }
    let moved = sqlx::query(
        "WITH candidates AS ( \
           SELECT n.workspace_id, n.id, n.e164, n.account_id, n.area_code FROM phone_numbers n \
           JOIN carrier_accounts a ON a.workspace_id = n.workspace_id AND a.id = n.account_id \
           WHERE a.status = 'active' AND n.status = 'active' AND n.sms AND n.health <> 'blocked' \
             AND NOT (n.account_id = ANY ($1))), \
         movable AS ( \
           SELECT o.workspace_id, o.id, o.to_phone, c.number_pool FROM outbox o \
           JOIN campaigns c ON c.workspace_id = o.workspace_id AND c.id = o.campaign_id \
           JOIN phone_numbers n ON n.workspace_id = o.workspace_id AND n.e164 = o.from_number \
           JOIN carrier_accounts a ON a.workspace_id = n.workspace_id AND a.id = n.account_id \
           WHERE o.state = 'queued' AND o.claimed_at IS NULL AND o.step = 0 AND (n.account_id = ANY ($1) OR a.status = 'failing') \
             AND NOT EXISTS (SELECT 1 FROM pair_history p CROSS JOIN LATERAL unnest(p.recent_sends) AS t(at) \
                             JOIN send_log s ON s.workspace_id = p.workspace_id AND s.attempted_at = t.at \
                               AND s.to_phone = p.their_number AND s.from_number = p.our_number \
                             WHERE p.workspace_id = o.workspace_id AND p.their_key = o.to_key \
                               AND p.our_number = o.from_number AND s.state <> 'failed') \
             AND NOT EXISTS (SELECT 1 FROM conversations v WHERE v.workspace_id = o.workspace_id \
                             AND v.their_number = o.to_phone AND v.our_number = o.from_number) \
           LIMIT 5000 FOR UPDATE OF o SKIP LOCKED) \
         UPDATE outbox o SET from_number = pick.e164, account_id = pick.account_id, \
           not_before = least(o.not_before, now()), updated_at = now() \
         FROM movable m CROSS JOIN LATERAL ( \
           SELECT k.e164, k.account_id FROM candidates k \
           WHERE k.workspace_id = m.workspace_id AND (m.number_pool = '{}' OR k.id = ANY (m.number_pool)) \
           ORDER BY (k.area_code = substr(m.to_phone, 3, 3)) DESC NULLS LAST, hashtext(m.to_phone || k.e164) \
           LIMIT 1) pick \
         WHERE o.workspace_id = m.workspace_id AND o.id = m.id",
    )
    .bind(&tripped)
    .execute(conn)
    .await?
    .rows_affected();
    if moved > 0 {
        tracing::info!(moved, ?tripped, "engine: rerouted first messages away from tripped accounts");
        metrics::counter!("switchboard_engine_rerouted_total").increment(moved);
    }
    Ok(moved)
}
