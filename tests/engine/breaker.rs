//! The circuit breaker (`sender/src/engine/breaker.rs`) against a carrier outage, observed from
//! outside: the engine's own `switchboard_engine_breaker_opened_total` for the opening, the
//! simulator's counters and record for the calls around it.

use switchboard_sender::engine::EngineConfig;

use super::*;

/// Every call answers 503 until the account's breaker opens; then the carrier is healthy again.
/// The breaker holds every call back for its cool-off anyway, lets one probe through, and the
/// probe's success closes it: the rest go at the number's full rate.
#[tokio::test]
async fn an_outage_opens_the_breaker_which_holds_calls_for_the_cool_off_until_a_probe_closes_it() {
    let defaults = EngineConfig::new("test", [0; 32]);
    let (threshold, cool_off) = (u64::from(defaults.breaker_threshold), defaults.breaker_cool_off);
    let sim = simulator(100.0, false).await;
    let app = TestApp::spawn_with(1, false, |c| {
        c.engine.enabled = true;
        c.engine.status_callbacks = false;
    })
    .await;
    let (ws, numbers, _) = carrier(&app, &sim, 20.0, "http://localhost:8080").await;
    let account: Uuid = sqlx::query_scalar("SELECT id FROM carrier_accounts").fetch_one(&app.pool).await.unwrap();
    sim.set_faults(Faults { error_503_rate: 1.0, ..Default::default() }).unwrap();
    let outage = chrono::Utc::now().timestamp_millis();
    let n = 60; // all from one number at 20 MPS
    let campaign = campaign(&app.pool, ws, &numbers[..1], n).await;

    let opened = format!("switchboard_engine_breaker_opened_total{{account=\"{account}\"}}");
    let start = Instant::now();
    while metric(&app, &opened).await < 1.0 {
        assert!(start.elapsed() < Duration::from_secs(30), "the breaker never opened: {:?}", sim.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.set_faults(Faults::default()).unwrap();
    let failed = sim.stats().rejected.get(&20503).copied().unwrap_or(0);
    wait_completed(&app.pool, campaign, Duration::from_secs(90)).await;

    let record = sim.record();
    assert_eq!((record.len(), by_len(&record)), (n, n), "every row sent once");
    // It opened at the threshold-th call (every one failed), and calls stopped there: at most one
    // more was already on the wire (calls leave 1/mps = 50 ms apart).
    assert!(
        (threshold..=threshold + 1).contains(&failed),
        "{failed} calls failed in the outage; the breaker opens after {threshold}"
    );
    // Held: the carrier was healthy again within moments, yet the first call it accepted — the
    // half-open probe — came a whole cool-off after the outage began (the breaker opened later).
    let mut accepted: Vec<i64> = record.iter().map(|r| r.accepted_at_ms).collect();
    accepted.sort_unstable();
    let through_open: Vec<i64> =
        accepted.iter().filter(|at| **at < outage + cool_off.as_millis() as i64).map(|at| at - outage).collect();
    assert!(
        through_open.is_empty(),
        "{} calls went through the open breaker before its {cool_off:?} cool-off ended, at +ms {through_open:?}",
        through_open.len()
    );
    // Closed again after the probe: the others went at the number's rate, not one at a time.
    let busiest = busiest_window(&mut accepted, 1000);
    assert!(busiest >= 10, "at most {busiest} calls in any second after the probe");
    sim.stop().await;
}
