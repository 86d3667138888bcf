//! The STOP-to-fence measurement (docs/benchmarks.md "STOP to fence",
//! `loadtests/bench-stop-fence.sh`): a STOP signed as Twilio signs it, posted to the real
//! webhook, puts the phone into a running engine's in-memory opt-out set, and that engine records
//! on /metrics the time from the webhook's receipt to the fence — never more than the sender saw
//! from before its POST to the fence, and starting before the webhook's transaction. Its own
//! test binary: the metrics recorder is process-wide, and other engine tests send STOPs too.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestApp;
use common::twilio::{self, TOKEN, inbound_params};
use reqwest::StatusCode;
use switchboard_sender::WorkspaceId;
use switchboard_sender::bus::NullBus;
use switchboard_sender::engine::{Engine, EngineConfig};
use switchboard_sender::pacing::{LocalPacer, Pacer};

/// The value of one series on /metrics, `None` when it is not there.
async fn metric(app: &TestApp, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{}/metrics", app.base())).await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.strip_prefix(series).is_some_and(|rest| rest.starts_with(' ')))?;
    Some(line.rsplit(' ').next()?.parse().unwrap())
}

#[tokio::test]
async fn a_stop_through_the_webhook_fences_the_engine_and_records_the_time_since_receipt() {
    let app = TestApp::spawn().await;
    let account = twilio::register_account(&app).await;
    let hook = account.inbound;
    let workspace = WorkspaceId(account.workspace_id.parse().unwrap());

    // An engine of its own (the app's is off in tests), so the test can ask it.
    let engine = Engine::start(
        app.pool.clone(),
        Pacer::Local(LocalPacer::default()),
        Arc::new(NullBus),
        EngineConfig::new("stop-fence-test", app.secret_key.0),
    )
    .await
    .unwrap();
    let phone = "+14155550177";
    let count = "switchboard_engine_fence_seconds_count{source=\"keyword\",via=\"notify\"}";
    let sum = "switchboard_engine_fence_seconds_sum{source=\"keyword\",via=\"notify\"}";
    assert!(!engine.fenced(workspace, phone));
    assert_eq!(metric(&app, count).await, None, "nothing measured yet");

    // A message that is not a STOP changes nothing.
    hook.ok(&inbound_params("SM00000000000000000000000000000001", phone, "hello")).await;

    let sent = Instant::now();
    let (status, body) = hook.post(&inbound_params("SM00000000000000000000000000000002", phone, "STOP"), TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("unsubscribed"), "{body}");
    while !engine.fenced(workspace, phone) {
        assert!(sent.elapsed() < Duration::from_secs(10), "the engine never fenced {phone}");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let seen = sent.elapsed().as_secs_f64();
    // The sample is recorded right after the entry lands in the set.
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&app, count).await.is_none() {
        assert!(Instant::now() < deadline, "no fence time on /metrics");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(metric(&app, count).await, Some(1.0), "one STOP, one sample");
    let fence = metric(&app, sum).await.unwrap();
    // Microsecond stamps may add up to 1 µs; the interval lies inside what the sender saw.
    assert!(fence > 0.0 && fence <= seen + 1e-5, "fence {fence} s, seen from the sender {seen} s");

    // The interval starts at the webhook's receipt: before its transaction began.
    let (opted_out_at, message_at): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT o.opted_out_at, m.created_at FROM opt_outs o, messages m \
         WHERE o.phone = $1 AND m.sid = 'SM00000000000000000000000000000002'",
    )
    .bind(phone)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(opted_out_at < message_at, "stamped at receipt {opted_out_at}, transaction at {message_at}");
    let event_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT at FROM consent_events WHERE phone = $1 AND kind = 'opt_out'")
            .bind(phone)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(event_at, opted_out_at, "the history says the same moment");

    // START lifts the fence here too, and measures nothing.
    hook.ok(&inbound_params("SM00000000000000000000000000000003", phone, "START")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.fenced(workspace, phone) {
        assert!(Instant::now() < deadline, "START never reached the engine");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(metric(&app, count).await, Some(1.0));
    engine.stop().await;
}

/// The instance whose webhook receives a STOP fences its own engine before the transaction that
/// records the opt-out commits: with that transaction held up (the opt-out table locked), the
/// phone is already in the engine's set and the fence is on /metrics as `via="webhook"`; once
/// the lock goes, the STOP is answered and stored as usual. A message that is not an opt-out
/// fences nothing.
#[tokio::test]
async fn the_receiving_instance_fences_a_stop_before_its_commit() {
    let app = TestApp::spawn_with(1, false, |c| c.engine.enabled = true).await;
    let account = twilio::register_account(&app).await;
    let hook = Arc::new(account.inbound);
    let workspace = WorkspaceId(account.workspace_id.parse().unwrap());
    let opt_outs = app.instances[0].state.opt_outs.clone();
    let phone = "+14155550178";
    let early = "switchboard_engine_fence_seconds_count{source=\"keyword\",via=\"webhook\"}";

    hook.ok(&inbound_params("SM00000000000000000000000000000011", phone, "hello")).await;
    assert!(!opt_outs.contains(workspace, phone), "a plain message fences nothing");
    assert_eq!(metric(&app, early).await, None);

    // Hold every opt-out insert until the lock goes.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE opt_outs IN EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
    let stop = {
        let hook = hook.clone();
        tokio::spawn(async move {
            hook.post(&inbound_params("SM00000000000000000000000000000012", phone, "STOP"), TOKEN).await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !opt_outs.contains(workspace, phone) {
        assert!(Instant::now() < deadline, "the receiving instance never fenced {phone}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!stop.is_finished(), "fenced while the webhook still waits on its transaction");
    assert_eq!(metric(&app, early).await, Some(1.0));
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM opt_outs WHERE phone = $1")
        .bind(phone)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "not committed yet");

    blocker.rollback().await.unwrap();
    let (status, body) = stop.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("unsubscribed"), "{body}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM opt_outs WHERE phone = $1")
        .bind(phone)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    assert!(opt_outs.contains(workspace, phone));
}
