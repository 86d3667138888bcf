//! The sender's Twilio client (sender/src/twilio/client.rs) against the simulator over real
//! HTTP: every outcome class it distinguishes, and fetch/list for reconciliation.

mod support;

use std::time::Duration;

use support::{TO, account, from, start};
use switchboard_loadtests::{Faults, SimHandle};
use switchboard_sender::E164;
use switchboard_sender::twilio::{
    AccountEndpoint, ClientConfig, Credentials, NewMessage, RetryReason, SendOutcome, Sender, TwilioClient,
};
use url::Url;

fn endpoint(sim: &SimHandle) -> AccountEndpoint {
    let a = account(sim);
    AccountEndpoint {
        account_sid: a.sid.clone(),
        base_url: Url::parse(&sim.base_url).unwrap(),
        credentials: Credentials { username: a.sid.clone(), password: a.auth_token.clone() },
    }
}

fn message(sim: &SimHandle, to: &str, body: &str) -> NewMessage {
    NewMessage {
        to: E164::parse(to).unwrap(),
        from: Sender::Number(E164::parse(&from(sim)).unwrap()),
        body: Some(body.to_owned()),
        media_urls: Vec::new(),
        status_callback: None,
        validity_period: None,
    }
}

/// `app` served on a loopback port as a stand-in carrier: an account endpoint pointing at it
/// (with the simulator's credentials), and the server's task to abort.
async fn carrier_at(
    sim: &SimHandle,
    app: axum::Router,
) -> (AccountEndpoint, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    (AccountEndpoint { base_url: base, ..endpoint(sim) }, server)
}

fn client(timeout_ms: u64) -> TwilioClient {
    TwilioClient::new(&ClientConfig { request_timeout: Duration::from_millis(timeout_ms), ..Default::default() })
}

#[tokio::test]
async fn every_outcome_class_against_the_simulator() {
    let sim = start(|c| {
        c.non_mobile = vec!["+14155550000".into()];
        c.geo_blocked_prefixes = vec!["+44".into()];
    })
    .await;
    let twilio = client(2_000);
    let ep = endpoint(&sim);

    let accepted = twilio.create_message(&ep, &message(&sim, TO, "hello")).await;
    let SendOutcome::Accepted(resource) = &accepted else { panic!("{accepted:?}") };
    assert_eq!((resource.status.as_str(), resource.num_segments.as_str()), ("queued", "1"));

    let service = account(&sim).messaging_services[0].sid.clone();
    let via_service = NewMessage { from: Sender::MessagingService(service), ..message(&sim, TO, "hi") };
    let outcome = twilio.create_message(&ep, &via_service).await;
    assert!(matches!(&outcome, SendOutcome::Accepted(r) if r.status == "accepted"), "{outcome:?}");

    let cases = [
        (message(&sim, "+14155550000", "hi"), 21614),
        (message(&sim, "+442079460958", "hi"), 21408),
        (message(&sim, TO, &"a".repeat(1601)), 21617),
        (NewMessage { from: Sender::Number(E164::parse("+14155559999").unwrap()), ..message(&sim, TO, "hi") }, 21606),
    ];
    for (request, code) in cases {
        let outcome = twilio.create_message(&ep, &request).await;
        assert_eq!(outcome.error_code(), Some(code), "{outcome:?}");
        match code {
            21614 | 21408 => assert!(matches!(outcome, SendOutcome::RecipientPermanent { .. })),
            21606 => assert!(matches!(outcome, SendOutcome::SenderUnavailable { .. })),
            _ => assert!(matches!(outcome, SendOutcome::Invalid { .. })),
        }
    }

    // The recipient texts STOP to our number: the next create is an opt-out to record.
    let stop = reqwest::Client::new()
        .post(format!("{}/sim/inbound", sim.base_url))
        .json(&serde_json::json!({ "from": TO, "to": from(&sim), "body": "STOP" }))
        .send()
        .await
        .unwrap();
    assert!(stop.status().is_success());
    let outcome = twilio.create_message(&ep, &message(&sim, TO, "still there?")).await;
    assert!(matches!(outcome, SendOutcome::OptedOut { code: 21610, .. }), "{outcome:?}");

    let bad = AccountEndpoint {
        credentials: Credentials { username: ep.account_sid.clone(), password: "0".repeat(32) },
        ..ep.clone()
    };
    let outcome = twilio.create_message(&bad, &message(&sim, "+14155552672", "hi")).await;
    assert!(matches!(outcome, SendOutcome::AccountFailing { code: 20003, .. }), "{outcome:?}");
}

#[tokio::test]
async fn throttling_server_errors_timeouts_and_a_dead_carrier_are_retryable() {
    let sim = start(|_| {}).await;
    let ep = endpoint(&sim);
    let twilio = client(300);
    let request = message(&sim, TO, "hi");

    sim.set_faults(Faults { error_429_rate: 1.0, ..Default::default() }).unwrap();
    let outcome = twilio.create_message(&ep, &request).await;
    assert!(matches!(outcome, SendOutcome::Retryable { reason: RetryReason::Throttled, .. }), "{outcome:?}");

    sim.set_faults(Faults { error_503_rate: 1.0, ..Default::default() }).unwrap();
    let outcome = twilio.create_message(&ep, &request).await;
    assert!(matches!(outcome, SendOutcome::Retryable { reason: RetryReason::ServerError(503), .. }), "{outcome:?}");

    sim.set_faults(Faults { hang_rate: 1.0, ..Default::default() }).unwrap();
    let outcome = twilio.create_message(&ep, &request).await;
    assert!(
        matches!(outcome, SendOutcome::Retryable { reason: RetryReason::Timeout, maybe_accepted: true, .. }),
        "{outcome:?}"
    );

    sim.set_faults(Faults::default()).unwrap();
    assert!(twilio.create_message(&ep, &request).await.is_accepted());
    assert_eq!(sim.record().len(), 1, "refused and hung requests were not accepted");

    sim.stop().await;
    let outcome = twilio.create_message(&ep, &request).await;
    assert!(matches!(outcome, SendOutcome::Retryable { reason: RetryReason::Connection, .. }), "{outcome:?}");
}

/// A create answered with a redirect is not repeated to where it points: a carrier that took
/// the first request may send it, and the engine decides every retry. The redirect points back
/// at the same origin, so a client that followed it would keep the credentials and post again.
#[tokio::test]
async fn a_create_is_never_repeated_to_where_a_redirect_points() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::{StatusCode, header};
    use axum::routing::post;

    let followed = Arc::new(AtomicUsize::new(0));
    let counter = followed.clone();
    let app = axum::Router::new()
        .route(
            "/moved",
            post(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        )
        .fallback(|| async { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/moved")]) });
    let sim = start(|_| {}).await;
    let (ep, server) = carrier_at(&sim, app).await;
    let outcome = client(2_000).create_message(&ep, &message(&sim, TO, "once")).await;
    assert!(matches!(outcome, SendOutcome::Invalid { .. }), "{outcome:?}");
    assert_eq!(followed.load(Ordering::SeqCst), 0, "the redirect was followed");
    server.abort();
}

#[tokio::test]
async fn a_full_queue_is_sender_unavailable_21611() {
    let sim = start(|c| c.default_mps = 0.01).await;
    let (twilio, ep) = (client(2_000), endpoint(&sim));
    let long = message(&sim, TO, &"a".repeat(1530));
    for _ in 0..36 {
        assert!(twilio.create_message(&ep, &long).await.is_accepted());
    }
    let outcome = twilio.create_message(&ep, &long).await;
    assert!(matches!(outcome, SendOutcome::SenderUnavailable { code: 21611, .. }), "{outcome:?}");
}

#[tokio::test]
async fn fetch_and_list_reconcile_what_was_sent() {
    let sim = start(|_| {}).await;
    let (twilio, ep) = (client(2_000), endpoint(&sim));
    let SendOutcome::Accepted(created) = twilio.create_message(&ep, &message(&sim, TO, "one")).await else {
        panic!("not accepted")
    };
    twilio.create_message(&ep, &message(&sim, "+14155552672", "two")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fetched = twilio.fetch_message(&ep, &created.sid).await.unwrap();
    assert_eq!((fetched.sid.as_str(), fetched.status.as_str()), (created.sid.as_str(), "delivered"));
    let page = twilio.list_messages(&ep, Some(&E164::parse(TO).unwrap()), None, 50).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].body, "one");
    assert!(twilio.fetch_message(&ep, &format!("SM{}", "0".repeat(32))).await.is_err());
}

/// An answer larger than any of Twilio's is not read whole (the client stops at 1 MiB). The
/// create may have been accepted, so it is retryable with `maybe_accepted`: the engine
/// reconciles before any resend.
#[tokio::test]
async fn an_oversized_answer_is_not_read_whole() {
    use axum::http::StatusCode;

    let app = axum::Router::new().fallback(|| async { (StatusCode::CREATED, "x".repeat(2 << 20)) });
    let sim = start(|_| {}).await;
    let (ep, server) = carrier_at(&sim, app).await;
    let outcome = client(2_000).create_message(&ep, &message(&sim, TO, "hi")).await;
    assert!(
        matches!(outcome, SendOutcome::Retryable { reason: RetryReason::Connection, maybe_accepted: true, .. }),
        "{outcome:?}"
    );
    server.abort();
}

/// An acceptance is read for what the engine records (sid and status): a 201 whose resource
/// lacks the other fields (segments, dates, prices...) is still an acceptance of that sid, not a
/// retry of a message the carrier has taken.
#[tokio::test]
async fn an_acceptance_needs_only_its_sid_and_status() {
    use axum::http::StatusCode;

    let sid = format!("SM{}", "a".repeat(32));
    let body = format!(r#"{{"sid":"{sid}","status":"queued","account_sid":"AC1"}}"#);
    let app = axum::Router::new().fallback(move || async move { (StatusCode::CREATED, body) });
    let sim = start(|_| {}).await;
    let (ep, server) = carrier_at(&sim, app).await;
    let outcome = client(2_000).create_message(&ep, &message(&sim, TO, "hi")).await;
    let SendOutcome::Accepted(created) = &outcome else { panic!("{outcome:?}") };
    assert_eq!(
        (created.sid.as_str(), created.status.as_str(), created.num_segments.as_str()),
        (sid.as_str(), "queued", "")
    );
    server.abort();
}
