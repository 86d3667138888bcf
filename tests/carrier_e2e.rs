//! The carrier end to end over real HTTP: the simulator's signed webhooks land in our server
//! (our validator agrees with the simulator's signer and the demo seed's sealed token), a STOP
//! sent through the simulator opts the recipient out workspace-wide, and our Twilio client then
//! gets 21610 from that number, classified as an opt-out.

mod common;

use std::time::Duration;

use common::TestApp;
use switchboard_loadtests::{BehaviourUpdate, ReplyConfig, SimConfig, Simulator};
use switchboard_sender::E164;
use switchboard_sender::twilio::{
    AccountEndpoint, ClientConfig, Credentials, NewMessage, SendOutcome, Sender, TwilioClient,
};
use switchboard_server::commands::{DemoCarrier, seed_demo_carrier};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn simulator_replies_land_signed_and_stop_fences_the_number() {
    let sim = Simulator::start(SimConfig { bind: "127.0.0.1:0".parse().unwrap(), ..Default::default() }).await.unwrap();
    // The app's public URL is where the simulator posts, so signatures are computed over it.
    let port = free_port();
    let app = TestApp::spawn_with(1, false, |c| {
        c.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = format!("http://127.0.0.1:{port}").parse().unwrap();
    })
    .await;
    let demo = &sim.accounts[0];
    let carrier = DemoCarrier {
        account_sid: demo.sid.clone(),
        auth_token: demo.auth_token.clone(),
        base_url: sim.base_url.clone(),
        numbers: demo.numbers.iter().map(|n| n.number.clone()).collect(),
    };
    let mut config = common::test_config(&app.db.url);
    config.public_url = format!("http://127.0.0.1:{port}").parse().unwrap();
    // The test app and this config share the database but not SECRET_KEY: seal with the app's.
    config.secret_key = app.secret_key.clone();
    let inbound = seed_demo_carrier(&app.pool, &config, &carrier).await.unwrap();
    assert_eq!(seed_demo_carrier(&app.pool, &config, &carrier).await.unwrap(), inbound, "idempotent");
    assert_eq!(count(&app, "SELECT count(*) FROM phone_numbers").await, 10);
    sim.set_behaviour(BehaviourUpdate {
        replies: Some(ReplyConfig { inbound_url: Some(inbound), ..Default::default() }),
        ..Default::default()
    })
    .unwrap();

    let ours = demo.numbers[0].number.clone();
    let them = "+14155550123";
    let http = reqwest::Client::new();
    for body in ["Is this still available?", "STOP"] {
        let resp = http
            .post(format!("{}/sim/inbound", sim.base_url))
            .json(&serde_json::json!({"from": them, "to": ours, "body": body}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    }
    // The simulator posts asynchronously; wait for both to be stored.
    for _ in 0..50 {
        if count(&app, "SELECT count(*) FROM messages").await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&app, "SELECT count(*) FROM messages").await, 2, "both signed webhooks accepted");
    assert_eq!(count(&app, "SELECT count(*) FROM opt_outs WHERE phone = '+14155550123'").await, 1);

    // Twilio (the simulator) blocks the pair too; our client classifies it as an opt-out.
    let client = TwilioClient::new(&ClientConfig::default());
    let endpoint = AccountEndpoint {
        account_sid: demo.sid.clone(),
        base_url: sim.base_url.parse().unwrap(),
        credentials: Credentials { username: demo.sid.clone(), password: demo.auth_token.clone() },
    };
    let message = NewMessage {
        to: E164::parse(them).unwrap(),
        from: Sender::Number(E164::parse(&ours).unwrap()),
        body: Some("Following up".into()),
        media_urls: vec![],
        status_callback: None,
        validity_period: None,
    };
    let outcome = client.create_message(&endpoint, &message).await;
    assert!(matches!(outcome, SendOutcome::OptedOut { code: 21610, .. }), "{outcome:?}");
    sim.stop().await;
}
