//! Replies that come back at once: the simulator answers each message the moment it is
//! delivered, with no delivery delay, so most replies reach our webhook before the engine has
//! written their message's result (the outbox row is still `claimed`, the send-log row
//! `calling`). Each still counts for the campaign that texted them, and stops its sequence: no
//! follow-up is queued for anyone who replied, however the reply and the result interleave.

use super::*;

#[tokio::test]
async fn instant_replies_count_for_their_campaign_and_stop_the_follow_ups() {
    let mut config = sim_config(50.0);
    // Delivered as soon as created: the reply is posted while our create call is still answering.
    config.behaviour.callbacks = CallbackConfig {
        enabled: false,
        sent_delay_ms: 0,
        delivery_delay_ms: 0,
        max_in_flight: 64,
        ..Default::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    let app = TestApp::spawn_engine(|c| c.engine.status_callbacks = false).await;
    let (ws, numbers, inbound) = carrier(&app, &sim, 50.0, app.base()).await;
    // Everyone answers at once: a fifth STOP, the rest free text.
    sim.set_behaviour(BehaviourUpdate {
        replies: Some(ReplyConfig {
            stop_rate: 0.2,
            text_rate: 0.8,
            delay_ms: 0,
            inbound_url: Some(inbound),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let steps = serde_json::json!([
        {"after_days": 0, "templates": ["Hi"]},
        {"after_days": 2, "templates": ["Still there?"]},
    ]);
    let n = 200;
    let campaign = campaign_with_steps(&app.pool, ws, &numbers, n, steps).await;

    // Every step-0 row is sent and every reply stored.
    let start = Instant::now();
    loop {
        let sent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE campaign_id = $1 AND step = 0 AND state = 'sent'")
                .bind(campaign)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let stats = sim.stats();
        if sent == n as i64 && stored == n as i64 {
            assert_eq!((stats.inbound_posted, stats.inbound_failed), (n as u64, 0));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{sent} sent, {stored} replies stored: {stats:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The race was run: many replies were stored before their message's result was written.
    let early: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox o JOIN conversations c ON c.workspace_id = o.workspace_id \
           AND c.their_number = o.to_phone AND c.our_number = o.from_number \
         JOIN messages m ON m.workspace_id = c.workspace_id AND m.conversation_id = c.id \
         WHERE o.campaign_id = $1 AND o.step = 0 AND m.created_at < o.sent_at",
    )
    .bind(campaign)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // How many win the race depends on the box (14 to 60+ of 200 seen; fewer since the engine
    // runs on its own threads): one is enough for the checks below to fail if it were mishandled,
    // since each early reply must still count and stop its follow-up.
    assert!(early >= 1, "no reply beat its message's result; the race was not exercised");

    // Every reply counts for this campaign, STOPs as opt-outs.
    let replies = sim.replies();
    assert_eq!(replies.len(), n);
    let stops = replies.iter().filter(|r| r.opt_out_type == Some("STOP")).count() as i64;
    assert!(stops > 0);
    let mut conn = app.pool.acquire().await.unwrap();
    let counters =
        switchboard_sender::stats::counters(&mut conn, ws, &[campaign]).await.unwrap().remove(&campaign).unwrap();
    assert_eq!((counters.replies, counters.opt_outs), (n as i64 - stops, stops), "{counters:?}");

    // No follow-up waits for anyone: each step-1 row was canceled because its recipient replied,
    // and counted as the cancel of a queued follow-up is.
    let follow_ups: BTreeMap<(String, Option<String>), i64> = sqlx::query_as::<_, (String, Option<String>, i64)>(
        "SELECT state, skip_reason, count(*) FROM outbox WHERE campaign_id = $1 AND step = 1 GROUP BY 1, 2",
    )
    .bind(campaign)
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(state, reason, count)| ((state, reason), count))
    .collect();
    assert_eq!(follow_ups, BTreeMap::from([(("canceled".to_owned(), Some("replied".to_owned())), n as i64)]));
    assert_eq!(
        (counters.materialized, counters.sent, counters.canceled, counters.queued),
        (2 * n as i64, n as i64, n as i64, 0),
        "{counters:?}"
    );

    // Two days pass: nothing more is sent, the campaign completes with one message per recipient.
    advance_follow_ups(&app.pool, campaign).await;
    let record = sim.record();
    let by = creates_by_recipient(&record);
    assert_eq!(record.len(), n, "step 0 only");
    assert!(by.values().all(|c| *c == 1), "nobody got a follow-up after replying");
    sim.stop().await;
}

/// Which campaign a reply counts for, step by step: the most recent attempt to the phone that
/// the carrier may have received. One still `calling` (its result not written yet: the fast
/// reply's case) counts; a `failed` one (refused, or never called) is passed over for the one
/// before it.
#[tokio::test]
async fn a_reply_counts_for_the_latest_attempt_the_carrier_may_have_received() {
    use switchboard_sender::E164;
    use switchboard_sender::inbound::{InboundMessage, receive_message};
    use switchboard_sender::send_log::{Attempt, AttemptResult, record_attempts, record_results};

    let app = TestApp::spawn().await;
    let ws = WorkspaceId(app.workspace_id("demo").await.parse().unwrap());
    let (them, ours) = (E164::parse("+14155550123").unwrap(), E164::parse("+12015550100").unwrap());
    let mut campaigns = Vec::new();
    for name in ["accepted", "failed", "calling"] {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO campaigns (workspace_id, id, name, status, steps) VALUES ($1, $2, $3, 'running', '[]')",
        )
        .bind(ws)
        .bind(id)
        .bind(name)
        .execute(&app.pool)
        .await
        .unwrap();
        campaigns.push(id);
    }
    // Three attempts a minute apart, newest last.
    let t0 = chrono::Utc::now() - chrono::Duration::minutes(3);
    let attempts: Vec<(WorkspaceId, Attempt)> = campaigns
        .iter()
        .enumerate()
        .map(|(i, campaign)| {
            let attempt = Attempt {
                id: Uuid::now_v7(),
                at: t0 + chrono::Duration::minutes(i as i64),
                outbox_id: None,
                campaign_id: Some(*campaign),
                step: Some(0),
                to: them.clone(),
                from: ours.clone(),
                account_id: None,
                segments: 1,
            };
            (ws, attempt)
        })
        .collect();
    let result = |i: usize, state: &'static str| AttemptResult {
        workspace: ws,
        attempted_at: attempts[i].1.at,
        id: attempts[i].1.id,
        state,
        sid: None,
        status: None,
        error_code: None,
    };
    let mut conn = app.pool.acquire().await.unwrap();
    record_attempts(&mut conn, &attempts).await.unwrap();
    record_results(&mut conn, &[result(0, "accepted"), result(1, "failed")]).await.unwrap();

    let reply = |sid: &str| InboundMessage {
        sid: sid.to_owned(),
        from: them.clone(),
        to: ours.clone(),
        body: "Who is this?".to_owned(),
        media: vec![],
        account_id: Uuid::now_v7(),
        received_at: chrono::Utc::now(),
    };
    // The newest attempt is still calling: the reply is about it.
    let mut tx = app.pool.begin().await.unwrap();
    receive_message(&mut tx, ws, &reply("SM00000000000000000000000000000001")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(replies_by_campaign(&app.pool, ws, &campaigns).await, [0, 0, 1]);
    // It failed after all: the next reply passes over both failed attempts.
    record_results(&mut conn, &[result(2, "failed")]).await.unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    receive_message(&mut tx, ws, &reply("SM00000000000000000000000000000002")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(replies_by_campaign(&app.pool, ws, &campaigns).await, [1, 0, 1]);
}

async fn replies_by_campaign(pool: &PgPool, ws: WorkspaceId, campaigns: &[Uuid]) -> Vec<i64> {
    let mut conn = pool.acquire().await.unwrap();
    let counters = switchboard_sender::stats::counters(&mut conn, ws, campaigns).await.unwrap();
    campaigns.iter().map(|c| counters.get(c).map_or(0, |c| c.replies)).collect()
}
