//! Signature agreement with Twilio's official helper library (`twilio` 9.13.0 from PyPI, in
//! loadtests/.venv, made by loadtests/official/setup.sh when missing): what it signs we accept,
//! what is tampered we refuse, and what our simulator signs it accepts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Uri};
use serde_json::{Value, json};
use switchboard_loadtests::{SimConfig, Simulator};
use switchboard_sender::twilio::signature;

type Params = Vec<(String, String)>;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the official library on `request` (see loadtests/official/signatures.py).
fn official(request: &Value) -> Value {
    let setup = Command::new("bash").arg(repo().join("loadtests/official/setup.sh")).status().expect("bash runs");
    assert!(setup.success(), "loadtests/official/setup.sh failed");
    let python = repo().join("loadtests/.venv/bin/python");
    let mut child = Command::new(&python)
        .arg(repo().join("loadtests/official/signatures.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", Path::new(&python).display()));
    serde_json::to_writer(child.stdin.take().unwrap(), request).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "signatures.py failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn cases() -> Vec<(&'static str, &'static str, Params)> {
    vec![
        (
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            params(&[
                ("CallSid", "CA1234567890ABCDE"),
                ("Caller", "+14158675309"),
                ("Digits", "1234"),
                ("From", "+14158675309"),
                ("To", "+18005551212"),
            ]),
        ),
        (
            "0123456789abcdef0123456789abcdef",
            "https://switchboard.example.com/webhooks/twilio/status?workspace=w1",
            params(&[
                ("MessageSid", "SM1"),
                ("MessageStatus", "delivered"),
                ("To", "+14155552671"),
                ("From", "+12015550100"),
            ]),
        ),
        (
            "tok",
            "http://127.0.0.1:8080/hooks/inbound",
            params(&[("Body", "Ünïcödé 👋 & spaces=+"), ("From", "+14155552671"), ("NumMedia", "2")]),
        ),
        (
            "tok",
            "https://example.com:8443/in",
            params(&[("MediaUrl", "https://b.example/2.png"), ("MediaUrl", "https://a.example/1.png"), ("Body", "")]),
        ),
        ("empty-params", "https://example.com/hook", Vec::new()),
    ]
}

fn as_json(p: &Params) -> Value {
    json!(p.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>())
}

#[test]
fn what_the_official_library_signs_we_accept_and_tampering_we_refuse() {
    let cases = cases();
    let request = json!({ "sign": cases.iter().map(|(t, u, p)| json!({"token": t, "url": u, "params": as_json(p)})).collect::<Vec<_>>() });
    let signatures = official(&request)["signatures"].as_array().unwrap().clone();
    assert_eq!(signatures[0], "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "the official vector");
    for ((token, url, p), official_sig) in cases.iter().zip(&signatures) {
        let official_sig = official_sig.as_str().unwrap();
        assert_eq!(signature::sign(token, url, p), official_sig, "{url}");
        assert!(signature::validate(token, url, p, official_sig), "{url}");
        assert!(!signature::validate("wrong-token", url, p, official_sig), "wrong token: {url}");
        assert!(!signature::validate(token, &format!("{url}x"), p, official_sig), "changed URL: {url}");
        assert!(!signature::validate(token, &url.replacen("://", "://evil.", 1), p, official_sig), "other host: {url}");
        if let Some(((name, value), rest)) = p.split_first() {
            let mut changed = vec![(name.clone(), format!("{value}1"))];
            changed.extend(rest.iter().cloned());
            assert!(!signature::validate(token, url, &changed, official_sig), "changed param: {url}");
            let mut extra = p.clone();
            extra.push(("Injected".into(), "1".into()));
            assert!(!signature::validate(token, url, &extra, official_sig), "added param: {url}");
        }
    }
    // The port forms the official validator accepts, we accept.
    let (token, url, p) = &cases[0];
    assert!(signature::validate(token, &url.replace(".com/", ".com:443/"), p, signatures[0].as_str().unwrap()));
    assert!(!signature::validate(token, &url.replace("https", "http"), p, signatures[0].as_str().unwrap()));
}

#[test]
fn the_official_library_agrees_on_validation_including_port_forms() {
    let (token, url, p) = cases().remove(0);
    let ours = signature::sign(token, url, &p);
    let with_port = url.replace(".com/", ".com:443/");
    let checks = json!({ "validate": [
        {"token": token, "url": url, "params": as_json(&p), "signature": ours},
        {"token": token, "url": with_port, "params": as_json(&p), "signature": ours},
        {"token": token, "url": url.replace("https", "http"), "params": as_json(&p), "signature": ours},
        {"token": "other", "url": url, "params": as_json(&p), "signature": ours},
    ]});
    assert_eq!(official(&checks)["valid"], json!([true, true, false, false]));
}

#[tokio::test]
async fn the_official_library_validates_the_simulators_callbacks_and_replies() {
    // A receiver that keeps the full URL, params and signature of every webhook.
    let seen: Arc<Mutex<Vec<(String, Params, String)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = {
        let (seen, base) = (seen.clone(), base.clone());
        axum::Router::new().route(
            "/{*path}",
            axum::routing::post(move |uri: Uri, headers: HeaderMap, body: String| {
                let (seen, base) = (seen.clone(), base.clone());
                async move {
                    let p: Params = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                    let sig = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    seen.lock().unwrap().push((format!("{base}{uri}"), p, sig));
                }
            }),
        )
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut config = SimConfig { bind: "127.0.0.1:0".parse().unwrap(), default_mps: 1000.0, ..Default::default() };
    config.behaviour.callbacks.sent_delay_ms = 5;
    config.behaviour.callbacks.delivery_delay_ms = 5;
    config.behaviour.callbacks.error_rates = [(30003, 0.5)].into();
    config.behaviour.replies = switchboard_loadtests::ReplyConfig {
        text_rate: 1.0,
        delay_ms: 5,
        inbound_url: Some(format!("{base}/inbound?x=1")),
        ..Default::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    let account = &sim.accounts[0];
    let client = reqwest::Client::new();
    for i in 0..4 {
        let form = [
            ("To", format!("+1415555{:04}", 2671 + i)),
            ("From", account.numbers[0].number.clone()),
            ("Body", "Hello from the simulator".to_owned()),
            ("StatusCallback", format!("{base}/status?campaign={i}&x=%20y")),
        ];
        let r = client
            .post(sim.messages_url(0))
            .basic_auth(&account.sid, Some(&account.auth_token))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let mut hooks = Vec::new();
    for _ in 0..100 {
        hooks = seen.lock().unwrap().clone();
        let finals =
            hooks.iter().filter(|(_, p, _)| p.iter().any(|(k, v)| k == "MessageStatus" && v != "sent")).count();
        let inbound = hooks.iter().filter(|(u, _, _)| u.contains("/inbound")).count();
        if finals == 4 && inbound >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(hooks.iter().any(|(u, _, _)| u.contains("/inbound")), "a reply arrived");
    let token = &account.auth_token;
    let mut checks: Vec<Value> = hooks
        .iter()
        .map(|(url, p, sig)| json!({"token": token, "url": url, "params": as_json(p), "signature": sig}))
        .collect();
    let (url, p, sig) = &hooks[0];
    checks.push(json!({"token": "0".repeat(32), "url": url, "params": as_json(p), "signature": sig}));
    let valid = official(&json!({ "validate": checks }))["valid"].as_array().unwrap().clone();
    let (last, all_real) = valid.split_last().unwrap();
    assert!(all_real.iter().all(|v| v == true), "{valid:?}");
    assert_eq!(*last, false, "a wrong token fails in the official library too");
    sim.stop().await;
}
