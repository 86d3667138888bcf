//! The realtime hub end to end: `/ws` against the real app, one instance in process or two
//! sharing PostgreSQL and Redis. Invariant 6 (no silent gaps) is proven by the
//! `invariant_6_no_silent_gaps_*` tests, the WebSocket side of invariant 7 by `invariant_7_*`.

#[path = "../common/mod.rs"]
mod common;
mod process;
mod ws;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::TestApp;
use ws::{Ws, api_token, publish};

const OWNER: &str = "owner@demo.test";
const AGENT: &str = "agent@demo.test";
const VIEWER: &str = "viewer@demo.test";

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

async fn events(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(ws.next_of("event").await);
    }
    out
}

#[tokio::test]
async fn presence_join_update_and_leave_cross_instances() {
    let app = TestApp::spawn_pair().await;
    let demo = app.workspace_id("demo").await;
    let owner = app.signed_in(OWNER).await;
    let agent = app.signed_in(AGENT).await.against(&app.instances[1].base);
    let agent_id = app.user_id(AGENT).await;

    let mut a = Ws::with_session(&owner).await;
    assert_eq!(a.subscribe(&demo, "workspace", json!({})).await["type"], "subscribed");
    let state = a.next_of("presence_state").await;
    assert_eq!(state["users"], json!([]));
    assert_eq!(a.next_of("presence_diff").await["event"], "join", "sees itself join");

    let mut b = Ws::with_session(&agent).await;
    b.subscribe(&demo, "workspace", json!({"meta": {"page": "home"}})).await;
    let state = b.next_of("presence_state").await;
    assert_eq!(state["users"].as_array().unwrap().len(), 1, "the owner, from the other instance: {state}");
    let join = a.next_of("presence_diff").await;
    assert_eq!((join["event"].as_str(), join["user"]["user_id"].as_str()), (Some("join"), Some(agent_id.as_str())));
    assert_eq!(join["user"]["conns"][0]["meta"], json!({"page": "home"}));

    b.send(json!({"type": "presence", "workspace": demo, "topic": "workspace", "meta": {"page": "campaigns", "typing": true}}))
        .await;
    let update = a.next_of("presence_diff").await;
    assert_eq!(update["event"], "update", "a meta change is an update, never leave+join: {update}");
    assert_eq!(update["user"]["conns"][0]["meta"]["page"], "campaigns");

    drop(b);
    let leave = a.next_of("presence_diff").await;
    assert_eq!((leave["event"].as_str(), leave["user"]["user_id"].as_str()), (Some("leave"), Some(agent_id.as_str())));
}

#[tokio::test]
async fn one_user_with_two_tabs_appears_once() {
    let app = TestApp::spawn_pair().await;
    let demo = app.workspace_id("demo").await;
    let owner = app.signed_in(OWNER).await;
    let mut tab1 = Ws::with_session(&owner).await;
    let mut tab2 = Ws::with_session(&owner.against(&app.instances[1].base)).await;
    tab1.subscribe(&demo, "campaign:7", json!({"meta": {"tab": 1}})).await;
    tab2.subscribe(&demo, "campaign:7", json!({"meta": {"tab": 2}})).await;
    let second = tab1.next_of("presence_diff").await; // own join
    assert_eq!(second["event"], "join");
    let second = tab1.next_of("presence_diff").await;
    assert_eq!(second["event"], "update", "a second tab is an update of the same user: {second}");
    assert_eq!(second["user"]["conns"].as_array().unwrap().len(), 2);

    let agent = app.signed_in(AGENT).await;
    let mut watcher = Ws::with_session(&agent).await;
    watcher.subscribe(&demo, "campaign:7", json!({})).await;
    let state = watcher.next_of("presence_state").await;
    let users = state["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "one entry for the owner: {state}");
    assert_eq!(users[0]["conns"].as_array().unwrap().len(), 2);

    drop(tab2);
    let diff = watcher.next_of("presence_diff").await; // the watcher's own join first
    let diff = if diff["user"]["name"] == "Aaron Agent" { watcher.next_of("presence_diff").await } else { diff };
    assert_eq!(diff["event"], "update", "closing one tab keeps the user: {diff}");
    assert_eq!(diff["user"]["conns"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn killed_instance_presence_disappears_within_30_seconds() {
    let ttl = 3;
    let prefix = format!("sbtest:{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(1, true, |c| {
        c.hub.presence_ttl = Duration::from_secs(ttl);
        c.redis_prefix = prefix.clone();
    })
    .await;
    let demo = app.workspace_id("demo").await;
    let mut other = process::Process::start(&app.db.url, &prefix, &[("HUB_PRESENCE_TTL_SECS", &ttl.to_string())]).await;

    let owner = app.signed_in(OWNER).await;
    let mut watcher = Ws::with_session(&owner).await;
    watcher.subscribe(&demo, "workspace", json!({})).await;
    watcher.next_of("presence_diff").await; // own join

    let agent = app.signed_in(AGENT).await.against(&other.base);
    let mut doomed = Ws::with_session(&agent).await;
    doomed.subscribe(&demo, "workspace", json!({})).await;
    assert_eq!(watcher.next_of("presence_diff").await["event"], "join");

    other.kill(); // SIGKILL: no goodbye, no cleanup; only the heartbeat's expiry in Redis tells
    let killed = Instant::now();
    let leave = watcher.next_of("presence_diff").await;
    assert_eq!(leave["event"], "leave", "{leave}");
    assert_eq!(leave["user"]["name"], "Aaron Agent");
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(30), "gone after {took:?}");
    assert!(took >= Duration::from_secs(1), "the leave came from expiry, not a clean close ({took:?})");
    drop(doomed);
}

#[tokio::test]
async fn silent_connection_is_dropped_within_two_ping_intervals() {
    let app = TestApp::spawn_with(1, false, |c| c.hub.ping_interval = Duration::from_secs(1)).await;
    let demo = app.workspace_id("demo").await;
    let mut watcher = Ws::with_session(&app.signed_in(OWNER).await).await;
    watcher.subscribe(&demo, "workspace", json!({})).await;
    let mut silent = Ws::with_session(&app.signed_in(AGENT).await).await;
    silent.subscribe(&demo, "workspace", json!({})).await;
    let since = Instant::now();
    // `silent` never reads again, so it never answers a ping.
    loop {
        let diff = watcher.next_of("presence_diff").await;
        if diff["event"] == "leave" {
            assert_eq!(diff["user"]["name"], "Aaron Agent");
            break;
        }
    }
    assert!(since.elapsed() <= Duration::from_millis(3500), "dropped after {:?}", since.elapsed());
}

/// Subscribes, sees 5 events, goes away while 7 more are published, comes back with its
/// position: exactly those 7, in order, then live events continue.
async fn recovery_returns_exactly_the_missed_events(app: &TestApp) {
    let demo = app.workspace_id("demo").await;
    let owner = app.signed_in(OWNER).await;
    let reader = app.signed_in(AGENT).await.against(&app.instances.last().unwrap().base);
    let mut ws = Ws::with_session(&reader).await;
    let sub = ws.subscribe(&demo, "campaign:42", json!({"presence": false})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let start = sub["seq"].as_u64().unwrap();
    for i in 0..5 {
        publish(&owner, &demo, "campaign:42", json!({"i": i}), 1).await;
    }
    let seen = events(&mut ws, 5).await;
    assert_eq!(seqs(&seen), (start + 1..=start + 5).collect::<Vec<_>>());
    let last = seen[4]["seq"].as_u64().unwrap();
    drop(ws);

    for i in 5..12 {
        publish(&owner, &demo, "campaign:42", json!({"i": i}), 1).await;
    }
    let mut ws = Ws::with_session(&reader).await;
    let since = json!({"since": {"epoch": epoch, "seq": last}, "presence": false});
    let sub = ws.subscribe(&demo, "campaign:42", since).await;
    let recovered = sub["recovered"].as_u64().unwrap_or(0);
    if app.instances.len() == 1 {
        assert_eq!(recovered, 7, "{sub}");
    } else {
        // Across instances the last publishes may still be on their way through Redis when the
        // subscribe is answered: those come live right after the recovered ones, in order.
        assert!((1..=7).contains(&recovered), "{sub}");
    }
    let missed = events(&mut ws, 7).await;
    assert_eq!(seqs(&missed), (last + 1..=last + 7).collect::<Vec<_>>());
    assert_eq!(
        missed.iter().map(|e| e["data"]["i"].as_u64().unwrap()).collect::<Vec<_>>(),
        (5..12).collect::<Vec<_>>()
    );
    publish(&owner, &demo, "campaign:42", json!({"i": 12}), 1).await;
    let live = ws.next_of("event").await;
    assert_eq!(live["seq"].as_u64(), Some(last + 8), "no duplicate, no gap: {live}");
}

#[tokio::test]
async fn invariant_6_no_silent_gaps_recovery_in_process() {
    recovery_returns_exactly_the_missed_events(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn invariant_6_no_silent_gaps_recovery_across_instances_via_redis() {
    recovery_returns_exactly_the_missed_events(&TestApp::spawn_pair().await).await;
}

async fn gap_past_history_resyncs(app: &TestApp) {
    let demo = app.workspace_id("demo").await;
    let owner = app.signed_in(OWNER).await;
    let mut ws = Ws::with_session(&owner).await;
    let sub = ws.subscribe(&demo, "board:1", json!({"presence": false})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    drop(ws);
    publish(&owner, &demo, "board:1", json!({}), 30).await;
    let mut ws = Ws::with_session(&owner).await;
    let sub = ws.subscribe(&demo, "board:1", json!({"since": {"epoch": epoch, "seq": 1}, "presence": false})).await;
    assert!(sub["recovered"].is_null(), "{sub}");
    let resync = ws.next().await;
    assert_eq!((resync["type"].as_str(), resync["reason"].as_str()), (Some("resync"), Some("gap")), "{resync}");
    assert_eq!(resync["seq"], 30);
    // Within history it still recovers.
    let sub = ws.subscribe(&demo, "board:1", json!({"since": {"epoch": epoch, "seq": 25}, "presence": false})).await;
    assert_eq!(sub["recovered"], 5);
}

#[tokio::test]
async fn invariant_6_no_silent_gaps_gap_past_history_resyncs() {
    gap_past_history_resyncs(&TestApp::spawn_with(1, false, |c| c.hub.history_len = 10).await).await;
    gap_past_history_resyncs(&TestApp::spawn_with(2, true, |c| c.hub.history_len = 10).await).await;
}

#[tokio::test]
async fn invariant_6_no_silent_gaps_epoch_change_resyncs() {
    // History forgotten after idling: a new epoch.
    let app = TestApp::spawn_with(1, false, |c| c.hub.history_idle = Duration::from_secs(1)).await;
    let demo = app.workspace_id("demo").await;
    let owner = app.signed_in(OWNER).await;
    let mut ws = Ws::with_session(&owner).await;
    let sub = ws.subscribe(&demo, "import:9", json!({"presence": false})).await;
    publish(&owner, &demo, "import:9", json!({}), 3).await;
    let seen = events(&mut ws, 3).await;
    let (epoch, last) = (sub["epoch"].as_str().unwrap().to_owned(), seen[2]["seq"].as_u64().unwrap());
    drop(ws);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut ws = Ws::with_session(&owner).await;
    let sub = ws.subscribe(&demo, "import:9", json!({"since": {"epoch": epoch, "seq": last}, "presence": false})).await;
    assert_ne!(sub["epoch"].as_str(), Some(epoch.as_str()));
    let resync = ws.next().await;
    assert_eq!((resync["type"].as_str(), resync["reason"].as_str()), (Some("resync"), Some("epoch")), "{resync}");

    // Redis lost the topic (flush, failover): a new epoch, even for a live subscriber.
    let prefix = format!("sbtest:{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(2, true, |c| c.redis_prefix = prefix.clone()).await;
    let demo = app.workspace_id("demo").await;
    let owner = app.signed_in(OWNER).await;
    let mut live = Ws::with_session(&owner.against(&app.instances[1].base)).await;
    let sub = live.subscribe(&demo, "ticket:5", json!({"presence": false})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    publish(&owner, &demo, "ticket:5", json!({}), 2).await;
    events(&mut live, 2).await;
    let mut redis = redis::Client::open(common::redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () =
        redis::cmd("DEL").arg(format!("{prefix}:hub:seq:{demo}/ticket:5")).query_async(&mut redis).await.unwrap();
    publish(&owner, &demo, "ticket:5", json!({}), 1).await;
    let resync = live.next().await;
    assert_eq!((resync["type"].as_str(), resync["reason"].as_str()), (Some("resync"), Some("epoch")), "{resync}");
    assert_ne!(resync["epoch"].as_str(), Some(epoch.as_str()));
    let mut back = Ws::with_session(&owner).await;
    let sub = back.subscribe(&demo, "ticket:5", json!({"since": {"epoch": epoch, "seq": 2}, "presence": false})).await;
    assert!(sub["recovered"].is_null());
    assert_eq!(back.next().await["reason"], "epoch");
}

#[tokio::test]
async fn slow_consumer_is_cut_off_while_a_fast_one_gets_everything() {
    let app = TestApp::spawn_with(1, false, |c| {
        c.hub.queue_len = 1100;
        c.hub.ping_interval = Duration::from_secs(10);
        c.body_limit = 1024 * 1024;
    })
    .await;
    let demo = app.workspace_id("demo").await;
    let owner = app.signed_in(OWNER).await;
    let mut slow = Ws::with_session(&owner).await;
    slow.subscribe(&demo, "grid", json!({"presence": false})).await;
    let mut fast = Ws::with_session(&owner).await;
    fast.subscribe(&demo, "grid", json!({"presence": false})).await;

    let total = 5000usize;
    let reader = tokio::spawn(async move {
        let got = events(&mut fast, total).await;
        (seqs(&got), fast)
    });
    let pad = "x".repeat(4000);
    for _ in 0..total / 1000 {
        publish(&owner, &demo, "grid", json!({"pad": pad}), 1000).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (fast_seqs, _fast) = tokio::time::timeout(Duration::from_secs(30), reader).await.expect("fast reader").unwrap();
    assert_eq!(fast_seqs, (1..=total as u64).collect::<Vec<_>>(), "the fast consumer got every event, in order");

    // The slow one (which read nothing so far) finds its backlog cut short by a 4008 close.
    let mut got = 0;
    let close = loop {
        match slow.read(Duration::from_secs(10)).await {
            Ok(frame) if frame["type"] == "event" => got += 1,
            Ok(_) => {}
            Err(ws::End::Closed(frame)) => break frame,
            Err(e) => panic!("{e:?}"),
        }
    };
    assert!(got < total, "cut off before the end ({got})");
    assert_eq!(close.map(|c| u16::from(c.code)), Some(4008));
    let (_, metrics) = app.client().get("/metrics").await;
    assert!(metrics.as_str().unwrap().contains("switchboard_hub_queue_overflows_total"));
}

#[tokio::test]
async fn invariant_7_topics_of_other_workspaces_look_like_missing_ones() {
    let app = TestApp::spawn().await;
    let demo = app.workspace_id("demo").await;
    let acme = app.workspace_id("acme").await;
    let nowhere = uuid::Uuid::now_v7().to_string();
    let agent = app.signed_in(AGENT).await;
    let mut ws = Ws::with_session(&agent).await;

    let theirs = ws.subscribe(&acme, "workspace", json!({})).await;
    let missing = ws.subscribe(&nowhere, "workspace", json!({})).await;
    let no_kind = ws.subscribe(&demo, "secrets:1", json!({})).await;
    assert_eq!(theirs["code"], "topic_not_found", "{theirs}");
    for other in [&missing, &no_kind] {
        assert_eq!(theirs["code"], other["code"]);
        assert_eq!(theirs["message"], other["message"]);
    }
    // Publishing into another tenant's topic is refused like a missing workspace (404), and
    // nothing reaches that tenant's subscribers.
    let owner = app.signed_in(OWNER).await; // owner of demo, admin of acme
    let mut acme_ws = Ws::with_session(&owner).await;
    acme_ws.subscribe(&acme, "campaign:1", json!({"presence": false})).await;
    let token = api_token(&agent, &demo).await;
    let agent_token = common::Client::with_token(app.base(), &token);
    let (status, _) = agent_token
        .post(&format!("/api/workspaces/{acme}/hub/publish"), json!({"topic": "campaign:1", "kind": "x"}))
        .await;
    assert_eq!(status.as_u16(), 404);
    // A token only ever reaches its own workspace over the socket too.
    let mut by_token = Ws::with_token(app.base(), &token).await;
    assert_eq!(by_token.subscribe(&acme, "workspace", json!({})).await["code"], "topic_not_found");
    assert_eq!(by_token.subscribe(&demo, "workspace", json!({})).await["type"], "subscribed");
    // Same topic name in two workspaces: two rooms.
    publish(&owner, &demo, "campaign:1", json!({"tenant": "demo"}), 1).await;
    acme_ws.none_of("event", Duration::from_millis(300)).await;

    // Roles: a viewer may not follow the inbox; the refusal names the reason.
    let mut viewer = Ws::with_session(&app.signed_in(VIEWER).await).await;
    let refused = viewer.subscribe(&demo, "inbox", json!({})).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert_eq!(refused["topic"], "inbox");
    assert_eq!(viewer.subscribe(&demo, "campaign:3", json!({})).await["type"], "subscribed");
    // Publishing needs an admin.
    let (status, _) =
        agent.post(&format!("/api/workspaces/{demo}/hub/publish"), json!({"topic": "inbox", "kind": "x"})).await;
    assert_eq!(status.as_u16(), 403);
}

#[tokio::test]
async fn the_socket_needs_credentials_and_our_origin() {
    let app = TestApp::spawn().await;
    let err = Ws::try_anonymous(app.base()).await.err().expect("refused");
    assert!(err.contains("401"), "{err}");
    let owner = app.signed_in(OWNER).await;
    let err = Ws::try_with_session(&owner, "https://evil.example").await.err().expect("refused");
    assert!(err.contains("403"), "{err}");
    let ws = Ws::with_session(&owner).await;
    assert_eq!(ws.hello["user_id"], app.user_id(OWNER).await);
}

#[tokio::test]
async fn malformed_frames_get_an_error_and_the_connection_stays_usable() {
    let app = TestApp::spawn().await;
    let demo = app.workspace_id("demo").await;
    let mut ws = Ws::with_session(&app.signed_in(OWNER).await).await;
    for bad in ["not json", r#"{"type":"nope"}"#, r#"{"type":"subscribe","topic":"inbox"}"#, "[]"] {
        ws.send_text(bad).await;
        let err = ws.next().await;
        assert_eq!((err["type"].as_str(), err["code"].as_str()), (Some("error"), Some("bad_frame")), "{bad}: {err}");
    }
    ws.stream.send(tokio_tungstenite::tungstenite::Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(ws.next().await["code"], "bad_frame");
    ws.send(json!({"type": "presence", "workspace": demo, "topic": "inbox", "meta": {}})).await;
    assert_eq!(ws.next().await["code"], "not_subscribed");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next().await["type"], "pong");
    assert_eq!(ws.subscribe(&demo, "inbox", json!({})).await["type"], "subscribed");
}

#[tokio::test]
async fn oversized_frames_close_with_4009() {
    let app = TestApp::spawn().await;
    let mut ws = Ws::with_session(&app.signed_in(OWNER).await).await;
    let max = ws.hello["max_frame"].as_u64().unwrap() as usize;
    ws.send_text(&format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(max))).await;
    let close = ws.closed(Duration::from_secs(5)).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 4009);
}

#[tokio::test]
async fn drops_reach_everyone_on_the_topic_and_fade() {
    let app = TestApp::spawn_pair().await;
    let demo = app.workspace_id("demo").await;
    let mut a = Ws::with_session(&app.signed_in(OWNER).await).await;
    let mut b = Ws::with_session(&app.signed_in(AGENT).await.against(&app.instances[1].base)).await;
    a.subscribe(&demo, "ticket:8", json!({})).await;
    b.subscribe(&demo, "ticket:8", json!({})).await;
    let drop = json!({"type": "drop", "workspace": demo, "topic": "ticket:8", "text": "on it", "anchor": "note-1", "ttl_ms": 1500});
    a.send(drop).await;
    for ws in [&mut a, &mut b] {
        let note = ws.next_of("drop").await;
        assert_eq!(
            (note["text"].as_str(), note["anchor"].as_str(), note["name"].as_str()),
            (Some("on it"), Some("note-1"), Some("Olivia Owner"))
        );
        let left = note["expires_at"].as_i64().unwrap() - chrono_now_ms();
        assert!((0..=1500).contains(&left), "{left}");
    }
    // A late subscriber on the same instance sees it while it lives, not after.
    let mut late = Ws::with_session(&app.signed_in("manager@demo.test").await.against(&app.instances[1].base)).await;
    late.subscribe(&demo, "ticket:8", json!({"presence": false})).await;
    assert_eq!(late.next_of("drop").await["text"], "on it");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let mut later = Ws::with_session(&app.signed_in("manager@demo.test").await.against(&app.instances[1].base)).await;
    later.subscribe(&demo, "ticket:8", json!({"presence": false})).await;
    later.none_of("drop", Duration::from_millis(300)).await;
    // Bad drops are refused with a reason.
    a.send(json!({"type": "drop", "workspace": demo, "topic": "ticket:8", "text": " "})).await;
    assert_eq!(a.next_of("error").await["code"], "invalid_drop");
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

use futures_util::SinkExt as _;
