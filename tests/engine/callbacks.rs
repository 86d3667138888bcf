//! Invariant 5 end to end: the engine sends a campaign through the simulator with status
//! callbacks on, and the simulator retries every webhook — each message's status callbacks with
//! one of them posted twice, "sent" after the final status for about half the messages, and every
//! reply posted twice, the moment its message is delivered. Account A is registered as it is;
//! account B with a valid API key (so its sends go through) but a stale auth token, so every
//! webhook about B is badly signed.
//! `tests/webhooks.rs` covers hand-made bad signatures (wrong token, tampered, another URL, none).

use std::collections::{BTreeMap, BTreeSet};

use switchboard_sender::accounts::{self, AccountChange, ApiKeySid};
use switchboard_sender::secretbox::Secret;
use switchboard_sender::twilio::resource::MessagePage;

use super::*;

/// Each message's status at the simulator, by sid (all accounts): the one its last callback told.
async fn final_statuses(sim: &SimHandle) -> BTreeMap<String, String> {
    let mut statuses = BTreeMap::new();
    for (i, account) in sim.accounts.iter().enumerate() {
        let page: MessagePage = reqwest::Client::new()
            .get(format!("{}?PageSize=1000", sim.messages_url(i)))
            .basic_auth(&account.sid, Some(&account.auth_token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(page.next_page_uri.is_none(), "one page holds them all");
        statuses.extend(page.messages.into_iter().map(|m| (m.sid, m.status)));
    }
    statuses
}

fn is_final(status: &str) -> bool {
    matches!(status, "delivered" | "undelivered" | "failed")
}

#[tokio::test]
async fn invariant_5_retried_and_reordered_webhooks_from_the_simulator_are_stored_and_counted_once() {
    let b_numbers: Vec<String> = (0..5).map(|i| format!("+1202555030{i}")).collect();
    let mut config = sim_config(50.0);
    config.accounts = vec![SimConfig::demo_account(1), other_account('d', &b_numbers)];
    config.behaviour.callbacks = CallbackConfig {
        sent_delay_ms: 10,
        delivery_delay_ms: 50,
        duplicate_rate: 1.0,
        reorder_rate: 0.5,
        error_rates: [(30003, 0.15), (30034, 0.1)].into(),
        max_in_flight: 64,
        ..Default::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    let app = TestApp::spawn_engine(|_| {}).await;
    let (ws, a_numbers, inbound) = carrier(&app, &sim, 50.0, app.base()).await;
    // B sends with its API key; the auth token webhooks are checked against is an old one.
    let (b, _) = register(&app, &sim, 1, app.base()).await;
    let key = &sim.accounts[1].api_keys[0];
    let stale = AccountChange {
        auth_token: Some(Secret::new("0".repeat(32))),
        api_key: Some(Some((ApiKeySid::parse(&key.sid).unwrap(), Secret::new(key.secret.clone())))),
        ..Default::default()
    };
    let mut conn = app.pool.acquire().await.unwrap();
    accounts::update(&mut conn, ws, &app.secret_key.0, b, &stale).await.unwrap().unwrap();
    sqlx::query("UPDATE phone_numbers SET mps = 50").execute(&app.pool).await.unwrap();
    // Every delivered message gets a reply (a fifth of them STOP), each posted twice. Replies to
    // B's numbers go to A's webhook signed with B's token: badly signed too. They come the moment
    // the message is delivered, often before the engine has written its result: each still counts
    // once, for this campaign (tests/engine/replies.rs is about that race).
    sim.set_behaviour(BehaviourUpdate {
        replies: Some(ReplyConfig {
            stop_rate: 0.2,
            text_rate: 0.8,
            delay_ms: 0,
            inbound_url: Some(inbound),
            duplicate_rate: 1.0,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let all_numbers: Vec<String> = a_numbers.iter().chain(&b_numbers).cloned().collect();
    let n = 300; // 200 through A's ten numbers, 100 through B's five
    let campaign = campaign(&app.pool, ws, &all_numbers, n).await;
    wait_completed(&app.pool, campaign, Duration::from_secs(60)).await;

    // Wait until the simulator has posted everything it will: each message's callbacks (two, or
    // one for a failed message, plus the duplicate) and each delivered message's reply, twice.
    let record = sim.record();
    assert_eq!(record.len(), n, "one create per row");
    let account_of: HashMap<&str, &str> = record.iter().map(|r| (r.sid.as_str(), r.account.as_str())).collect();
    let a_sid = sim.accounts[0].sid.as_str();
    let start = Instant::now();
    let statuses = loop {
        let statuses = final_statuses(&sim).await;
        let finals: BTreeMap<String, String> = statuses
            .into_iter()
            .filter(|(sid, status)| account_of.contains_key(sid.as_str()) && is_final(status))
            .collect();
        if finals.len() == n {
            let callbacks: u64 = finals.values().map(|s| if s == "failed" { 2 } else { 3 }).sum();
            let delivered = finals.values().filter(|s| *s == "delivered").count() as u64;
            let st = sim.stats();
            if st.callbacks_posted + st.callbacks_failed == callbacks
                && st.inbound_posted + st.inbound_failed == 2 * delivered
            {
                break finals;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "webhooks still coming: {:?}", sim.stats());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (a_final, b_final): (Vec<_>, Vec<_>) = statuses.iter().partition(|(sid, _)| account_of[sid.as_str()] == a_sid);
    let posts =
        |finals: &[(&String, &String)]| -> u64 { finals.iter().map(|(_, s)| if *s == "failed" { 2 } else { 3 }).sum() };
    let stats = sim.stats();
    // Every callback about A was answered 2xx, duplicates included; every one about B refused.
    assert_eq!((stats.callbacks_posted, stats.callbacks_failed), (posts(&a_final), posts(&b_final)), "{stats:?}");

    // Stored once per (sid, status), exactly the statuses the simulator told; nothing about B.
    let stored: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT sid, status, count(*) FROM status_callbacks GROUP BY sid, status")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(stored.iter().all(|(.., count)| *count == 1));
    let stored: BTreeSet<(String, String)> = stored.into_iter().map(|(sid, status, _)| (sid, status)).collect();
    let told: BTreeSet<(String, String)> = a_final
        .iter()
        .flat_map(|(sid, status)| {
            let sent = (status.as_str() != "failed").then(|| ((*sid).clone(), "sent".to_owned()));
            sent.into_iter().chain([((*sid).clone(), (*status).clone())])
        })
        .collect();
    assert_eq!(stored, told);

    // Statuses only moved forward: each A row ends at its final status, including the ~half whose
    // "sent" came last; B's rows stay as the create answered.
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT o.sid, o.status, s.status FROM outbox o \
         JOIN send_log s ON s.workspace_id = o.workspace_id AND s.sid = o.sid WHERE o.campaign_id = $1",
    )
    .bind(campaign)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), n);
    for (sid, outbox_status, log_status) in &rows {
        let want = if account_of[sid.as_str()] == a_sid { statuses[sid].as_str() } else { "queued" };
        assert_eq!((outbox_status.as_deref(), log_status.as_deref()), (Some(want), Some(want)), "{sid}");
    }
    let sent_last: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM status_callbacks s JOIN status_callbacks f ON f.sid = s.sid AND f.status <> 'sent' \
         WHERE s.status = 'sent' AND s.received_at > f.received_at",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(sent_last >= 20, "only {sent_last} messages had \"sent\" arrive after their final status");

    // Counted once: delivered and undelivered (failed included) per A message, nothing for B.
    let a_count = |status: &str| a_final.iter().filter(|(_, s)| s.as_str() == status).count() as i64;
    let counters =
        switchboard_sender::stats::counters(&mut conn, ws, &[campaign]).await.unwrap().remove(&campaign).unwrap();
    assert_eq!(counters.sent, n as i64);
    assert_eq!(
        (counters.delivered, counters.undelivered),
        (a_count("delivered"), a_count("undelivered") + a_count("failed"))
    );

    // Replies: A's stored once each (by MessageSid), counted once as a reply or an opt-out; B's
    // (badly signed) stored nowhere.
    let replies = sim.replies();
    let (a_replies, b_replies): (Vec<_>, Vec<_>) = replies.iter().partition(|r| r.account == a_sid);
    assert_eq!(a_replies.len() as i64, a_count("delivered"));
    assert_eq!((stats.inbound_posted, stats.inbound_failed), (2 * a_replies.len() as u64, 2 * b_replies.len() as u64));
    let messages: Vec<(String, i64)> =
        sqlx::query_as("SELECT sid, count(*) FROM messages GROUP BY sid").fetch_all(&app.pool).await.unwrap();
    let a_sids: BTreeSet<String> = a_replies.iter().map(|r| r.sid.clone()).collect();
    assert_eq!(messages.iter().map(|m| m.0.clone()).collect::<BTreeSet<_>>(), a_sids);
    assert!(messages.iter().all(|m| m.1 == 1));
    let stops: BTreeSet<String> =
        a_replies.iter().filter(|r| r.opt_out_type == Some("STOP")).map(|r| r.from.clone()).collect();
    assert!(!stops.is_empty());
    let opted_out: BTreeSet<String> =
        sqlx::query_scalar("SELECT phone FROM opt_outs").fetch_all(&app.pool).await.unwrap().into_iter().collect();
    assert_eq!(opted_out, stops, "A's STOPs opted out, once each; B's changed nothing");
    let consent: i64 = sqlx::query_scalar("SELECT count(*) FROM consent_events").fetch_one(&app.pool).await.unwrap();
    assert_eq!(consent, stops.len() as i64);
    assert_eq!(
        (counters.replies, counters.opt_outs),
        (a_replies.len() as i64 - stops.len() as i64, stops.len() as i64)
    );

    // The refusals were 403s for bad signatures: the app counted each one (no other test of this
    // binary sends a badly signed webhook, so the process-wide counter is this test's).
    let rejected = metric(&app, "switchboard_webhooks_rejected_total").await;
    assert_eq!(rejected as u64, stats.callbacks_failed + stats.inbound_failed);
    sim.stop().await;
}
