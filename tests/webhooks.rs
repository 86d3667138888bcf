//! Twilio webhooks against the real server: signatures, exactly-once storage (invariant 5), a
//! rotated auth token in force at once, STOP/START/HELP handled first, status callbacks applied
//! out of order safely.

mod common;
#[path = "hub/ws.rs"]
#[allow(dead_code)] // the hub tests use the rest of this client
mod ws;

use common::twilio::{self, PUBLIC, SID, TOKEN, Webhook, inbound_params};
use common::{TestApp, assert_error};
use reqwest::StatusCode;
use serde_json::json;
use switchboard_sender::inbound::{STATUS_CALLBACK_RETENTION, prune_status_callbacks};
use switchboard_sender::twilio::signature;

/// The demo workspace's account's two webhook endpoints: inbound messages and status callbacks.
async fn hooks(app: &TestApp) -> (Webhook, Webhook) {
    let account = twilio::register_account(app).await;
    (account.inbound, account.status)
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn invariant_5_inbound_exactly_once_and_unsigned_stored_nowhere() {
    let app = TestApp::spawn().await;
    let (hook, status_hook) = hooks(&app).await;
    let params = inbound_params("SM00000000000000000000000000000001", "+14155550123", "Is the house still for sale?");

    // Badly signed: wrong token, tampered parameter, another URL, no header → 403, nothing stored.
    let (status, _) = hook.post(&params, "ffffffffffffffffffffffffffffffff").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let good = hook.sign(TOKEN, &params);
    let mut tampered = params.clone();
    tampered[2] = ("Body", "STOP");
    assert_eq!(hook.post_with_signature(&tampered, &good).await.0, StatusCode::FORBIDDEN);
    let elsewhere = signature::sign(TOKEN, &format!("{PUBLIC}/webhooks/other"), &params);
    assert_eq!(hook.post_with_signature(&params, &elsewhere).await.0, StatusCode::FORBIDDEN);
    assert_eq!(hook.post_with_signature(&params, "").await.0, StatusCode::FORBIDDEN);
    let bad_status = [("AccountSid", SID), ("MessageSid", "SMx"), ("MessageStatus", "delivered")];
    assert_eq!(status_hook.post(&bad_status, "ffffffffffffffffffffffffffffffff").await.0, StatusCode::FORBIDDEN);
    for table in ["messages", "conversations", "status_callbacks", "opt_outs"] {
        assert_eq!(count(&app, table).await, 0, "{table} after bad signatures");
    }

    // Signed, delivered three times (Twilio retries): stored once.
    for _ in 0..3 {
        let (status, twiml) = hook.post(&params, TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        assert!(twiml.contains("<Response></Response>"), "no reply to a plain message: {twiml}");
    }
    assert_eq!(count(&app, "messages").await, 1);
    let (unread, their): (i32, String) =
        sqlx::query_as("SELECT unread, their_number FROM conversations").fetch_one(&app.pool).await.unwrap();
    assert_eq!((unread, their.as_str()), (1, "+14155550123"));

    // Status callbacks: duplicates stored once; a late "sent" never moves "delivered" back.
    sqlx::query("UPDATE messages SET direction = 'outbound', status = 'queued'").execute(&app.pool).await.unwrap();
    let sid = "SM00000000000000000000000000000001";
    for (status_name, times) in [("delivered", 2), ("sent", 1)] {
        let cb = [("AccountSid", SID), ("MessageSid", sid), ("MessageStatus", status_name), ("SmsSid", sid)];
        for _ in 0..times {
            assert_eq!(status_hook.post(&cb, TOKEN).await.0, StatusCode::OK);
        }
    }
    assert_eq!(count(&app, "status_callbacks").await, 2);
    let now: String = sqlx::query_scalar("SELECT status FROM messages").fetch_one(&app.pool).await.unwrap();
    assert_eq!(now, "delivered");
}

/// Credentials are kept 30 s per instance (`WebhookKeys`); a signature that fails against the
/// kept token is checked again against a fresh read, so a rotation takes effect at once.
#[tokio::test]
async fn a_rotated_auth_token_is_accepted_at_once_and_the_old_one_refused() {
    let app = TestApp::spawn().await;
    let account = twilio::register_account(&app).await;
    let hook = &account.inbound;
    let phone = "+14155550123";
    // Accepted with the current token: its credentials are now kept.
    hook.ok(&inbound_params("SM000000000000000000000000000000c1", phone, "before the rotation")).await;

    let admin = app.signed_in("admin@demo.test").await;
    let rotated = "fedcba9876543210fedcba9876543210";
    let (status, view) = admin
        .patch(
            &format!("/api/workspaces/{}/accounts/{}", account.workspace_id, account.id),
            json!({"auth_token": rotated}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["auth_token_last4"], "3210");

    // At once, well within the 30 s the old credentials are kept: the new token is accepted...
    let (status, body) =
        hook.post(&inbound_params("SM000000000000000000000000000000c2", phone, "after the rotation"), rotated).await;
    assert_eq!(status, StatusCode::OK, "signed with the rotated token: {body}");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT sid FROM messages ORDER BY sid").fetch_all(&app.pool).await.unwrap();
    assert_eq!(stored, ["SM000000000000000000000000000000c1", "SM000000000000000000000000000000c2"]);

    // ...and the old one refused, its message stored nowhere.
    let old = inbound_params("SM000000000000000000000000000000c3", "+14155550199", "signed with the old token");
    assert_eq!(hook.post(&old, TOKEN).await.0, StatusCode::FORBIDDEN);
    assert_eq!(count(&app, "messages").await, 2);
    assert_eq!(count(&app, "conversations").await, 1, "no thread for the refused sender");
    assert_eq!(count(&app, "opt_outs").await, 0);
}

#[tokio::test]
async fn stop_start_and_help_are_handled_first_with_one_confirmation() {
    let app = TestApp::spawn().await;
    let (hook, _) = hooks(&app).await;
    let phone = "+14155550177";
    // An agent watching the inbox sees each message and the consent change live.
    let agent = app.signed_in("agent@demo.test").await;
    let mut inbox = ws::Ws::with_session(&agent).await;
    let ws_id = app.workspace_id("demo").await;
    assert_eq!(inbox.subscribe(&ws_id, "inbox", serde_json::json!({})).await["type"], "subscribed");

    let twiml = hook.ok(&inbound_params("SM000000000000000000000000000000a1", phone, " Stop ")).await;
    assert!(twiml.contains("unsubscribed"), "{twiml}");
    let opted: (String, String) = sqlx::query_as("SELECT source, via_number FROM opt_outs WHERE phone = $1")
        .bind(phone)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(opted, ("keyword".into(), "+12015550100".into()));
    let received = inbox.next_of("event").await;
    assert_eq!((received["kind"].as_str(), received["data"]["from"].as_str()), (Some("message.received"), Some(phone)));
    let consent = inbox.next_of("event").await;
    assert_eq!(consent["kind"], "consent.changed");
    assert_eq!(consent["data"]["opted_out"], true);

    // A second STOP is stored on the thread but confirmed no more.
    let twiml = hook.ok(&inbound_params("SM000000000000000000000000000000a2", phone, "STOP")).await;
    assert!(twiml.contains("<Response></Response>"), "{twiml}");

    let twiml = hook.ok(&inbound_params("SM000000000000000000000000000000a3", phone, "help")).await;
    assert!(twiml.contains("Reply STOP"), "{twiml}");
    let twiml = hook.ok(&inbound_params("SM000000000000000000000000000000a4", phone, "START")).await;
    assert!(twiml.contains("resubscribed"), "{twiml}");
    assert_eq!(count(&app, "opt_outs").await, 0);

    // Plain language opts out too, flagged for review.
    hook.ok(&inbound_params("SM000000000000000000000000000000a5", phone, "please stop texting me")).await;
    let review: bool = sqlx::query_scalar("SELECT needs_review FROM opt_outs WHERE phone = $1")
        .bind(phone)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(review);
    assert_eq!(count(&app, "messages").await, 5, "every message is on the thread");
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM consent_events ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(kinds, ["opt_out", "opt_out", "opt_in", "opt_out"]);
}

#[tokio::test]
async fn malformed_webhooks_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let (hook, status_hook) = hooks(&app).await;
    let (status, body) =
        hook.post(&inbound_params("SM000000000000000000000000000000b1", "not-a-phone", "hi"), TOKEN).await;
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "From");
    // A status callback whose URL names its campaign message badly (signed as it is: the
    // signature covers the query), field by field.
    let cb = [("AccountSid", SID), ("MessageSid", "SMb2"), ("MessageStatus", "delivered")];
    let attempt = "0192f0c4a1b27c3d8e9f00112233aabb";
    for (query, field) in [
        (format!("o=x&a={attempt}&t=1"), "o"),
        ("o=7&a=nope&t=1".to_owned(), "a"),
        (format!("o=7&a={attempt}&t=soon"), "t"),
        (format!("o=7&a={attempt}"), "t"),
    ] {
        let targeted = Webhook { base: status_hook.base.clone(), path: format!("{}?{query}", status_hook.path) };
        let (status, body) = targeted.post(&cb, TOKEN).await;
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(body["field"], field, "{query}");
    }
    assert_eq!(count(&app, "status_callbacks").await, 0);
    let ws = app.workspace_id("demo").await;
    let ghost = Webhook {
        base: app.base().to_owned(),
        path: format!("/webhooks/twilio/{ws}/{}/inbound", uuid::Uuid::new_v4()),
    };
    assert_eq!(ghost.post(&inbound_params("SMx", "+14155550123", "hi"), TOKEN).await.0, StatusCode::NOT_FOUND);
    assert_eq!(count(&app, "messages").await, 0);
}

/// Status callbacks are kept `STATUS_CALLBACK_RETENTION`, then pruned oldest first, at most a
/// batch per call; a retry of a pruned one is stored again.
#[tokio::test]
async fn status_callbacks_older_than_the_retention_are_pruned_in_batches() {
    let app = TestApp::spawn().await;
    let (_, status_hook) = hooks(&app).await;
    let sids: Vec<String> = (1..=5).map(|i| format!("SM{i:032}")).collect();
    for sid in &sids {
        let cb = [("AccountSid", SID), ("MessageSid", sid), ("MessageStatus", "delivered"), ("SmsSid", sid)];
        assert_eq!(status_hook.post(&cb, TOKEN).await.0, StatusCode::OK);
    }
    // The first three arrived eight days ago.
    sqlx::query("UPDATE status_callbacks SET received_at = now() - interval '8 days' WHERE sid = ANY($1)")
        .bind(&sids[..3])
        .execute(&app.pool)
        .await
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let before = chrono::Utc::now() - STATUS_CALLBACK_RETENTION;
    assert_eq!(prune_status_callbacks(&mut conn, before, 2).await.unwrap(), 2, "one batch at most");
    assert_eq!(prune_status_callbacks(&mut conn, before, 2).await.unwrap(), 1);
    assert_eq!(prune_status_callbacks(&mut conn, before, 2).await.unwrap(), 0);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT sid FROM status_callbacks ORDER BY sid").fetch_all(&app.pool).await.unwrap();
    assert_eq!(left, sids[3..].to_vec(), "the week's callbacks stay");

    // Twilio retrying a pruned callback long after: stored again.
    let cb = [
        ("AccountSid", SID),
        ("MessageSid", sids[0].as_str()),
        ("MessageStatus", "sent"),
        ("SmsSid", sids[0].as_str()),
    ];
    assert_eq!(status_hook.post(&cb, TOKEN).await.0, StatusCode::OK);
    assert_eq!(count(&app, "status_callbacks").await, 3);
}
