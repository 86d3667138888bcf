//! The simulator's Messages API over real HTTP: auth, every create refusal, the exact 201 shape,
//! segments, fetch and list, the record, concurrency limits and injected faults.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use support::{Api, TO, account, from, start};
use switchboard_loadtests::Faults;

#[tokio::test]
async fn bad_credentials_are_401_with_code_20003() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim);
    let params = [("To", TO), ("From", &from(&sim)), ("Body", "hi")];

    let no_auth = api.client.post(&api.url).form(&params).send().await.unwrap();
    assert_eq!(no_auth.status().as_u16(), 401);
    let body: Value = no_auth.json().await.unwrap();
    assert_eq!(body["code"], 20003);
    assert_eq!(body["status"], 401);
    assert_eq!(body["more_info"], "https://www.twilio.com/docs/errors/20003");

    let wrong = Api { password: "0".repeat(32), ..Api::new(&sim) };
    assert_eq!(wrong.create(&params).await.0, StatusCode::UNAUTHORIZED);

    // Right credentials, another account's path.
    let other_path =
        Api { url: api.url.replace(&account(&sim).sid, &format!("AC{}", "0".repeat(32))), ..Api::new(&sim) };
    let (status, body) = other_path.create(&params).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(20003)));

    // An API key and its secret work.
    let key = &account(&sim).api_keys[0];
    let with_key = Api { user: key.sid.clone(), password: key.secret.clone(), ..Api::new(&sim) };
    assert_eq!(with_key.create(&params).await.0, StatusCode::CREATED);
    assert_eq!(sim.stats().rejected.get(&20003), Some(&3));
}

#[tokio::test]
async fn each_refusal_has_twilios_code() {
    let sim = start(|c| {
        c.non_mobile = vec!["+14155550000".into()];
        c.geo_blocked_prefixes = vec!["+44".into()];
    })
    .await;
    let api = Api::new(&sim);
    let ours = from(&sim);
    let long = "a".repeat(1601);
    let media: Vec<(&str, &str)> = (0..11).map(|_| ("MediaUrl", "https://example.com/a.png")).collect();
    let mut too_much_media = vec![("To", TO), ("From", ours.as_str())];
    too_much_media.extend(media);
    let cases: Vec<(i64, Vec<(&str, &str)>)> = vec![
        (21604, vec![("From", &ours), ("Body", "hi")]),
        (21211, vec![("To", "+1 123 456 7890"), ("From", &ours), ("Body", "hi")]),
        (21211, vec![("To", "hello"), ("From", &ours), ("Body", "hi")]),
        (21603, vec![("To", TO), ("Body", "hi")]),
        (21606, vec![("To", TO), ("From", "+14155559999"), ("Body", "hi")]),
        (21702, vec![("To", TO), ("MessagingServiceSid", "MG00000000000000000000000000000000"), ("Body", "hi")]),
        (21602, vec![("To", TO), ("From", &ours)]),
        (21617, vec![("To", TO), ("From", &ours), ("Body", &long)]),
        (21623, too_much_media),
        (21609, vec![("To", TO), ("From", &ours), ("Body", "hi"), ("StatusCallback", "ftp://x")]),
        (90007, vec![("To", TO), ("From", &ours), ("Body", "hi"), ("ValidityPeriod", "36001")]),
        (90007, vec![("To", TO), ("From", &ours), ("Body", "hi"), ("ValidityPeriod", "0")]),
        (90014, vec![("To", TO), ("From", &ours), ("Body", "hi"), ("ValidityPeriod", "soon")]),
        (21266, vec![("To", &ours), ("From", &ours), ("Body", "hi")]),
        (21408, vec![("To", "+442079460958"), ("From", &ours), ("Body", "hi")]),
        (21614, vec![("To", "+14155550000"), ("From", &ours), ("Body", "hi")]),
    ];
    for (code, params) in cases {
        let (status, body) = api.create(&params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{code}: {body}");
        assert_eq!(body["code"].as_i64(), Some(code), "{params:?} → {body}");
        assert_eq!(body["status"], 400);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(body["more_info"], format!("https://www.twilio.com/docs/errors/{code}"));
    }
    assert!(sim.record().is_empty(), "no refusal is recorded");
    // A body of exactly 1,600 characters is fine.
    assert_eq!(api.create(&[("To", TO), ("From", &ours), ("Body", &"a".repeat(1600))]).await.0, StatusCode::CREATED);
}

fn is_rfc2822(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc2822(s).is_ok() && s.ends_with(" +0000") && s.len() == 31
}

#[tokio::test]
async fn created_message_has_twilios_exact_shape() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim);
    let (status, body) = api.create(&[("To", "(415) 555-2671"), ("From", &from(&sim)), ("Body", "Hello 👋")]).await;
    assert_eq!(status, StatusCode::CREATED);
    let object = body.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "account_sid",
            "api_version",
            "body",
            "date_created",
            "date_sent",
            "date_updated",
            "direction",
            "error_code",
            "error_message",
            "from",
            "messaging_service_sid",
            "num_media",
            "num_segments",
            "price",
            "price_unit",
            "sid",
            "status",
            "subresource_uris",
            "to",
            "uri"
        ]
    );
    let sid = body["sid"].as_str().unwrap();
    assert!(sid.len() == 34 && sid.starts_with("SM") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(body["account_sid"], account(&sim).sid.as_str());
    assert_eq!(body["api_version"], "2010-04-01");
    assert_eq!(body["to"], TO, "To comes back in E.164");
    assert_eq!(body["status"], "queued");
    assert_eq!(body["direction"], "outbound-api");
    assert_eq!(body["num_segments"], "1");
    assert_eq!(body["num_media"], "0");
    assert!(body["error_code"].is_null() && body["date_sent"].is_null() && body["price"].is_null());
    assert!(is_rfc2822(body["date_created"].as_str().unwrap()));
    assert!(is_rfc2822(body["date_updated"].as_str().unwrap()));
    assert_eq!(body["uri"], format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", account(&sim).sid));
    assert!(body["subresource_uris"]["media"].as_str().unwrap().ends_with(&format!("{sid}/Media.json")));

    let service = &account(&sim).messaging_services[0];
    let (status, body) = api.create(&[("To", TO), ("MessagingServiceSid", &service.sid), ("Body", "hi")]).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["messaging_service_sid"], service.sid.as_str());
    assert!(service.numbers.contains(&body["from"].as_str().unwrap().to_owned()));
}

#[tokio::test]
async fn segments_are_counted() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim);
    let ours = from(&sim);
    for (body, segments) in [
        ("a".repeat(160), "1"),
        ("a".repeat(161), "2"),
        (format!("{}€", "a".repeat(159)), "2"),
        ("👋".repeat(35), "1"),
        ("👋".repeat(36), "2"),
        ("a".repeat(1600), "11"),
    ] {
        let (status, created) = api.create(&[("To", TO), ("From", &ours), ("Body", &body)]).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["num_segments"], segments, "{body}");
    }
}

#[tokio::test]
async fn fetch_by_sid_and_list_with_filters_and_pages() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim);
    let ours = from(&sim);
    let other = account(&sim).numbers[1].number.clone();
    let mut sids = Vec::new();
    for i in 0..5 {
        let sender = if i < 3 { &ours } else { &other };
        let (_, body) = api.create(&[("To", TO), ("From", sender), ("Body", &format!("m{i}"))]).await;
        sids.push(body["sid"].as_str().unwrap().to_owned());
    }
    let base = api.url.trim_end_matches(".json").to_owned();
    let (status, one) = api.get(&format!("{base}/{}.json", sids[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["sid"], sids[0].as_str());
    assert_eq!(one["body"], "m0");
    let (status, missing) = api.get(&format!("{base}/SM{}.json", "0".repeat(32))).await;
    assert_eq!((status, missing["code"].as_i64()), (StatusCode::NOT_FOUND, Some(20404)));

    let (_, page) = api.get(&format!("{}?PageSize=2", api.url)).await;
    let listed: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["sid"].as_str().unwrap()).collect();
    assert_eq!(listed, [sids[4].as_str(), sids[3].as_str()], "newest first");
    assert_eq!(
        (page["page"].as_i64(), page["page_size"].as_i64(), page["start"].as_i64()),
        (Some(0), Some(2), Some(0))
    );
    let next = page["next_page_uri"].as_str().unwrap();
    let (_, page1) = api.get(&format!("{}{next}", sim.base_url)).await;
    assert_eq!(page1["messages"][0]["sid"], sids[2].as_str());
    let (_, last) = api.get(&format!("{}?PageSize=2&Page=2", api.url)).await;
    assert!(last["next_page_uri"].is_null());
    assert_eq!(last["messages"].as_array().unwrap().len(), 1);

    let (_, from_other) = api.get(&format!("{}?From={}", api.url, other.replace('+', "%2B"))).await;
    assert_eq!(from_other["messages"].as_array().unwrap().len(), 2);
    let (_, to_nobody) = api.get(&format!("{}?To=%2B14155550199", api.url)).await;
    assert!(to_nobody["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn record_counts_accepted_creates_and_reset_clears_it() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim);
    let ours = from(&sim);
    for _ in 0..3 {
        api.create(&[("To", TO), ("From", &ours), ("Body", "same")]).await;
    }
    api.create(&[("To", "nope"), ("From", &ours), ("Body", "x")]).await;
    let record = sim.record();
    assert_eq!(record.len(), 3);
    assert!(record.iter().all(|r| r.to == TO && r.from == ours && r.body_len == 4));
    assert_eq!(record[0].body_sha256, record[2].body_sha256, "duplicates are countable by body hash");
    let over_http: Vec<switchboard_loadtests::RecordEntry> =
        reqwest::get(format!("{}/sim/record", sim.base_url)).await.unwrap().json().await.unwrap();
    assert_eq!(over_http, record);
    assert_eq!(sim.stats().accepted, 3);
    assert_eq!(sim.stats().rejected.get(&21211), Some(&1));
    let reset = reqwest::Client::new().post(format!("{}/sim/reset", sim.base_url)).send().await.unwrap();
    assert_eq!(reset.status().as_u16(), 204);
    assert!(sim.record().is_empty());
}

#[tokio::test]
async fn queue_beyond_ten_hours_on_a_from_is_21611() {
    // 0.01 segments/s: a 10-segment message takes 1,000 s, so 36 fill the 10 hours.
    let sim = start(|c| c.default_mps = 0.01).await;
    let api = Api::new(&sim);
    let ours = from(&sim);
    let body = "a".repeat(1530);
    let mut accepted = 0;
    let mut refusal = None;
    for _ in 0..40 {
        match api.create(&[("To", TO), ("From", &ours), ("Body", &body)]).await {
            (StatusCode::CREATED, _) => accepted += 1,
            (_, error) => {
                refusal = Some(error);
                break;
            }
        }
    }
    assert_eq!(accepted, 36);
    assert_eq!(refusal.unwrap()["code"], 21611);
    // Another From has its own queue.
    let other = account(&sim).numbers[1].number.clone();
    assert_eq!(api.create(&[("To", TO), ("From", &other), ("Body", "hi")]).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_validity_period_shorter_than_the_queue_fails_with_30036_at_expiry() {
    // 0.01 segments/s: the first message holds the From for 100 s.
    let sim = start(|c| c.default_mps = 0.01).await;
    let api = Api::new(&sim);
    let ours = from(&sim);
    api.create(&[("To", TO), ("From", &ours), ("Body", "first")]).await;
    let (status, created) = api.create(&[("To", TO), ("From", &ours), ("Body", "late"), ("ValidityPeriod", "1")]).await;
    assert_eq!((status, created["status"].as_str()), (StatusCode::CREATED, Some("queued")));
    let url = format!("{}/{}.json", api.url.trim_end_matches(".json"), created["sid"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, fetched) = api.get(&url).await;
    assert_eq!((fetched["status"].as_str(), fetched["error_code"].as_i64()), (Some("failed"), Some(30036)));
}

#[tokio::test]
async fn above_the_concurrency_limit_is_429_with_20429() {
    let sim = start(|c| {
        c.max_concurrent_requests = 2;
        c.behaviour.faults.latency_ms = 300;
    })
    .await;
    let api = std::sync::Arc::new(Api::new(&sim));
    let ours = from(&sim);
    let calls = (0..6).map(|_| {
        let (api, ours) = (api.clone(), ours.clone());
        tokio::spawn(async move { api.create(&[("To", TO), ("From", &ours), ("Body", "hi")]).await })
    });
    let calls: Vec<_> = calls.collect();
    let mut created = 0;
    let mut throttled = 0;
    for call in calls {
        match call.await.unwrap() {
            (StatusCode::CREATED, _) => created += 1,
            (StatusCode::TOO_MANY_REQUESTS, body) => {
                assert_eq!(body["code"], 20429);
                throttled += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 2);
    assert_eq!(throttled, 4);
    // The slots come back.
    assert_eq!(api.create(&[("To", TO), ("From", &ours), ("Body", "hi")]).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn injected_errors_are_twilio_shaped_and_change_at_runtime() {
    let sim = start(|_| {}).await;
    let api = Api::new(&sim);
    let params = [("To", TO), ("From", &from(&sim)), ("Body", "hi")];
    sim.set_faults(Faults { error_503_rate: 1.0, ..Default::default() }).unwrap();
    let (status, body) = api.create(&params).await;
    assert_eq!(
        (status, body["code"].as_i64(), body["status"].as_i64()),
        (StatusCode::SERVICE_UNAVAILABLE, Some(20503), Some(503))
    );

    let set =
        |json: &str| reqwest::Client::new().post(format!("{}/sim/config", sim.base_url)).body(json.to_owned()).send();
    assert!(set(r#"{"faults":{"error_500_rate":1.0}}"#).await.unwrap().status().is_success());
    let (status, body) = api.create(&params).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::INTERNAL_SERVER_ERROR, Some(20500)));
    assert_eq!(set(r#"{"faults":{"error_500_rate":2.0}}"#).await.unwrap().status().as_u16(), 400);
    assert!(set(r#"{"faults":{}}"#).await.unwrap().status().is_success());
    assert_eq!(api.create(&params).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_hung_request_does_not_wedge_the_server() {
    let sim = start(|c| c.behaviour.faults.hang_rate = 1.0).await;
    let api = Api {
        client: reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap(),
        ..Api::new(&sim)
    };
    let params = [("To", TO), ("From", &from(&sim)), ("Body", "hi")];
    let hung = api.client.post(&api.url).basic_auth(&api.user, Some(&api.password)).form(&params).send().await;
    assert!(hung.unwrap_err().is_timeout());
    sim.set_faults(Faults::default()).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(api.create(&params).await.0, StatusCode::CREATED);
    assert!(started.elapsed() < Duration::from_millis(300));
    // A request still hanging does not keep the simulator from stopping.
    sim.set_faults(Faults { hang_rate: 1.0, ..Default::default() }).unwrap();
    let hanging = tokio::spawn({
        let (client, url) = (reqwest::Client::new(), api.url.clone());
        let (user, password) = (api.user.clone(), api.password.clone());
        async move { client.post(url).basic_auth(user, Some(password)).form(&[("To", TO)]).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(10), sim.stop()).await.expect("stop returns");
    hanging.abort();
}

#[tokio::test]
async fn same_seed_same_sids_and_outcomes() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = start(|c| {
            c.behaviour.callbacks.error_rates = [(30003, 0.3), (30007, 0.3)].into();
        })
        .await;
        let api = Api::new(&sim);
        let mut seen = Vec::new();
        for i in 0..20 {
            let (_, body) = api.create(&[("To", TO), ("From", &from(&sim)), ("Body", &format!("n{i}"))]).await;
            seen.push(body["sid"].as_str().unwrap().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for sid in seen.clone() {
            let (_, m) = api.get(&format!("{}/{sid}.json", api.url.trim_end_matches(".json"))).await;
            seen.push(format!("{}:{}", m["status"], m["error_code"]));
        }
        runs.push((account(&sim).sid.clone(), account(&sim).auth_token.clone(), seen));
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].2.iter().any(|s| s.contains("30003")) && runs[0].2.iter().any(|s| s.contains("delivered")));
}
