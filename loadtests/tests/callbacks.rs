//! The simulator's webhooks over real HTTP: signed status callbacks in configured proportions,
//! duplicates and reordering, replies with STOP leading to 21610, daily caps and the pair limit.

mod support;

use std::collections::HashMap;

use axum::http::StatusCode;
use support::{Api, Hook, TO, Webhooks, account, from, start};
use switchboard_loadtests::{BehaviourUpdate, CallbackConfig};

fn finals(hooks: &[Hook]) -> usize {
    hooks.iter().filter(|h| matches!(h.get("MessageStatus"), Some("delivered" | "undelivered" | "failed"))).count()
}

#[tokio::test]
async fn status_callbacks_are_signed_complete_and_in_proportion() {
    let sim = start(|c| {
        c.behaviour.callbacks.error_rates = [(30003, 0.2), (30007, 0.1), (30034, 0.1)].into();
    })
    .await;
    let hooks = Webhooks::start().await;
    hooks.expect_token(&account(&sim).auth_token);
    let api = Api::new(&sim);
    let callback = hooks.url("/twilio/status?campaign=7");
    let n = 300;
    for i in 0..n {
        let from = &account(&sim).numbers[i % 10].number;
        let to = format!("+1415555{:04}", 2000 + i);
        let (status, _) =
            api.create(&[("To", &to), ("From", from), ("Body", "hi"), ("StatusCallback", &callback)]).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let got = hooks.wait_for(|h| finals(h) >= n).await;
    assert!(got.iter().all(|h| h.signature_valid), "every callback validates with signature.rs");
    assert!(got.iter().all(|h| h.path == "/twilio/status"));

    let mut by_status: HashMap<&str, usize> = HashMap::new();
    let mut by_code: HashMap<&str, usize> = HashMap::new();
    for h in &got {
        let status = h.get("MessageStatus").unwrap();
        *by_status.entry(status).or_default() += 1;
        for name in ["AccountSid", "From", "To", "MessageSid", "SmsSid", "SmsStatus", "ApiVersion"] {
            assert!(h.get(name).is_some(), "{name} missing from {h:?}");
        }
        assert_eq!(h.get("SmsStatus"), Some(status));
        assert_eq!(h.get("MessageSid"), h.get("SmsSid"));
        assert_ne!(status, "queued", "no callback for the initial status");
        match status {
            "failed" | "undelivered" => *by_code.entry(h.get("ErrorCode").unwrap()).or_default() += 1,
            _ => assert!(h.get("ErrorCode").is_none()),
        }
        if matches!(status, "delivered" | "undelivered") {
            let done = h.get("RawDlrDoneDate").unwrap();
            assert!(done.len() == 10 && done.bytes().all(|b| b.is_ascii_digit()), "YYMMDDhhmm: {done}");
        }
    }
    // Failed messages (30034) never reach the carrier: no "sent" for them.
    assert_eq!(by_status["sent"], n - by_status["failed"]);
    let share = |count: usize| count as f64 / n as f64;
    assert!((share(by_code["30003"]) - 0.2).abs() < 0.08, "{by_code:?}");
    assert!((share(by_code["30007"]) - 0.1).abs() < 0.06, "{by_code:?}");
    assert!((share(by_status["failed"]) - 0.1).abs() < 0.06, "{by_status:?}");
    assert!((share(by_status["delivered"]) - 0.6).abs() < 0.1, "{by_status:?}");
    assert_eq!(by_code.get("30034"), Some(&by_status["failed"]));
}

#[tokio::test]
async fn callbacks_can_be_duplicated_and_reordered() {
    let sim = start(|_| {}).await;
    let hooks = Webhooks::start().await;
    hooks.expect_token(&account(&sim).auth_token);
    let api = Api::new(&sim);
    let callbacks = CallbackConfig { reorder_rate: 1.0, duplicate_rate: 1.0, ..sim.behaviour().callbacks };
    sim.set_behaviour(BehaviourUpdate { callbacks: Some(callbacks), ..Default::default() }).unwrap();
    let url = hooks.url("/status");
    for _ in 0..5 {
        api.create(&[("To", TO), ("From", &from(&sim)), ("Body", "hi"), ("StatusCallback", &url)]).await;
    }
    let got = hooks.wait_for(|h| h.len() >= 15).await;
    let mut per_message: HashMap<&str, Vec<&str>> = HashMap::new();
    for h in &got {
        assert!(h.signature_valid);
        per_message.entry(h.get("MessageSid").unwrap()).or_default().push(h.get("MessageStatus").unwrap());
    }
    assert_eq!(per_message.len(), 5);
    for statuses in per_message.values() {
        assert_eq!(statuses.len(), 3, "one callback duplicated: {statuses:?}");
        assert_eq!(statuses[0], "delivered", "final status first: {statuses:?}");
        assert_eq!(statuses.last(), Some(&"sent"));
    }
}

#[tokio::test]
async fn inbound_webhooks_can_be_posted_twice_as_twilio_retries_them() {
    let sim = start(|_| {}).await;
    let hooks = Webhooks::start().await;
    hooks.expect_token(&account(&sim).auth_token);
    let replies = switchboard_loadtests::ReplyConfig {
        inbound_url: Some(hooks.url("/inbound")),
        duplicate_rate: 1.0,
        ..Default::default()
    };
    sim.set_behaviour(BehaviourUpdate { replies: Some(replies), ..Default::default() }).unwrap();
    let sent = reqwest::Client::new()
        .post(format!("{}/sim/inbound", sim.base_url))
        .json(&serde_json::json!({ "from": TO, "to": from(&sim), "body": "Is it still available?" }))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    // `/sim/inbound` answers once its webhooks are posted: both are in.
    let got = hooks.hooks();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|h| h.signature_valid));
    assert_eq!(got[0].params, got[1].params, "the retry is the same webhook");
    assert_eq!((sim.replies().len(), sim.stats().inbound_posted), (1, 2));
}

#[tokio::test]
async fn callbacks_off_means_none_but_messages_still_progress() {
    let sim = start(|c| c.behaviour.callbacks.enabled = false).await;
    let hooks = Webhooks::start().await;
    let api = Api::new(&sim);
    let (_, created) =
        api.create(&[("To", TO), ("From", &from(&sim)), ("Body", "hi"), ("StatusCallback", &hooks.url("/s"))]).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(hooks.hooks().is_empty());
    let (_, fetched) =
        api.get(&format!("{}/{}.json", api.url.trim_end_matches(".json"), created["sid"].as_str().unwrap())).await;
    assert_eq!(fetched["status"], "delivered");
    assert!(fetched["date_sent"].is_string() && fetched["price"].is_string());
}

#[tokio::test]
async fn a_stop_reply_makes_later_creates_21610_until_start() {
    let sim = start(|c| c.behaviour.replies.stop_rate = 1.0).await;
    let hooks = Webhooks::start().await;
    hooks.expect_token(&account(&sim).auth_token);
    sim.set_behaviour(BehaviourUpdate {
        replies: Some(switchboard_loadtests::ReplyConfig {
            stop_rate: 1.0,
            delay_ms: 10,
            inbound_url: Some(hooks.url("/inbound")),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let api = Api::new(&sim);
    let ours = from(&sim);
    assert_eq!(api.create(&[("To", TO), ("From", &ours), ("Body", "Deal today")]).await.0, StatusCode::CREATED);
    let got = hooks.wait_for(|h| !h.is_empty()).await;
    let stop = &got[0];
    assert!(stop.signature_valid);
    assert_eq!(stop.path, "/inbound");
    assert_eq!((stop.get("From"), stop.get("To")), (Some(TO), Some(ours.as_str())));
    assert_eq!((stop.get("Body"), stop.get("OptOutType")), (Some("STOP"), Some("STOP")));
    assert!(stop.get("MessageSid").unwrap().starts_with("SM"));
    for name in ["AccountSid", "NumMedia", "NumSegments", "SmsSid", "ApiVersion"] {
        assert!(stop.get(name).is_some(), "{name}");
    }
    assert!(sim.is_opted_out(&ours, TO));

    let (status, refused) = api.create(&[("To", TO), ("From", &ours), ("Body", "Still there?")]).await;
    assert_eq!((status, refused["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(21610)));
    // Twilio's block covers only that sender: another number still sends.
    let other = account(&sim).numbers[1].number.clone();
    let quiet = switchboard_loadtests::ReplyConfig { inbound_url: Some(hooks.url("/inbound")), ..Default::default() };
    sim.set_behaviour(BehaviourUpdate { replies: Some(quiet), ..Default::default() }).unwrap();
    assert_eq!(api.create(&[("To", TO), ("From", &other), ("Body", "hi")]).await.0, StatusCode::CREATED);

    // The recipient texts START: sending resumes.
    let start_reply = reqwest::Client::new()
        .post(format!("{}/sim/inbound", sim.base_url))
        .json(&serde_json::json!({ "from": TO, "to": ours, "body": "start" }))
        .send()
        .await
        .unwrap();
    assert!(start_reply.status().is_success());
    let got = hooks.wait_for(|h| h.len() >= 2).await;
    assert_eq!(got[1].get("OptOutType"), Some("START"));
    assert_eq!(api.create(&[("To", TO), ("From", &ours), ("Body", "Welcome back")]).await.0, StatusCode::CREATED);
    let replies = sim.replies();
    assert_eq!(replies.iter().map(|r| r.opt_out_type).collect::<Vec<_>>(), [Some("STOP"), Some("START")]);
}

#[tokio::test]
async fn daily_cap_and_pair_limit_end_messages_with_30023_and_14107() {
    let sim = start(|c| {
        c.pair_limit = 3;
        let mut a = switchboard_loadtests::SimConfig::demo_account(42);
        a.numbers[0].daily_cap = Some(2);
        c.accounts = vec![a];
    })
    .await;
    let hooks = Webhooks::start().await;
    hooks.expect_token(&account(&sim).auth_token);
    let api = Api::new(&sim);
    let capped = account(&sim).numbers[0].number.clone();
    let other = account(&sim).numbers[1].number.clone();
    let url = hooks.url("/status");
    for i in 0..3 {
        let to = format!("+1415555{:04}", 3000 + i);
        api.create(&[("To", &to), ("From", &capped), ("Body", "hi"), ("StatusCallback", &url)]).await;
    }
    for _ in 0..4 {
        api.create(&[("To", TO), ("From", &other), ("Body", "hi"), ("StatusCallback", &url)]).await;
    }
    let got = hooks.wait_for(|h| finals(h) >= 7).await;
    let final_of = |from: &str| -> Vec<(String, Option<String>)> {
        let mut v: Vec<_> = got
            .iter()
            .filter(|h| h.get("From") == Some(from) && h.get("MessageStatus") != Some("sent"))
            .map(|h| (h.get("MessageStatus").unwrap().to_owned(), h.get("ErrorCode").map(str::to_owned)))
            .collect();
        v.sort();
        v
    };
    let d = ("delivered".to_owned(), None);
    assert_eq!(final_of(&capped), [d.clone(), d.clone(), ("undelivered".to_owned(), Some("30023".to_owned()))]);
    assert_eq!(final_of(&other), [d.clone(), d.clone(), d, ("failed".to_owned(), Some("14107".to_owned()))]);
}

#[tokio::test]
async fn a_second_simulator_sinks_the_first_ones_callbacks() {
    let sim = start(|_| {}).await;
    let sink = start(|_| {}).await;
    let api = Api::new(&sim);
    let callback = format!("{}/webhooks/twilio/ws/acct/status?o=1", sink.base_url);
    let n = 20;
    for i in 0..n {
        let to = format!("+1415555{:04}", 3000 + i);
        let (status, _) =
            api.create(&[("To", &to), ("From", &from(&sim)), ("Body", "hi"), ("StatusCallback", &callback)]).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // No error rates configured: every message is delivered, with two callbacks (sent, delivered).
    while sim.stats().callbacks_posted + sim.stats().callbacks_failed < 2 * n as u64 {
        assert!(std::time::Instant::now() < deadline, "callbacks not posted: {:?}", sim.stats());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sim.stats().callbacks_failed, 0, "the sink answers every callback 200");
    assert_eq!(sink.stats().webhooks_sunk, sim.stats().callbacks_posted);
    assert_eq!(sink.stats().accepted, 0, "a sunk callback is no create");
}
