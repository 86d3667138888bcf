//! Shared pieces of the simulator's tests: starting one on a free port, calling its API with
//! Basic auth, and a tiny webhook receiver that checks every signature with signature.rs.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use serde_json::Value;
use switchboard_loadtests::config::AccountConfig;
use switchboard_loadtests::{SimConfig, SimHandle, Simulator};
use switchboard_sender::twilio::signature;

pub const TO: &str = "+14155552671";

/// A simulator for one test: port 0, fast pacing and callbacks unless the test says otherwise.
pub async fn start(adjust: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config =
        SimConfig { bind: "127.0.0.1:0".parse().unwrap(), seed: 42, default_mps: 1000.0, ..Default::default() };
    config.behaviour.callbacks.sent_delay_ms = 10;
    config.behaviour.callbacks.delivery_delay_ms = 20;
    adjust(&mut config);
    Simulator::start(config).await.expect("simulator starts")
}

pub fn account(sim: &SimHandle) -> &AccountConfig {
    &sim.accounts[0]
}

pub fn from(sim: &SimHandle) -> String {
    account(sim).numbers[0].number.clone()
}

pub struct Api {
    pub client: reqwest::Client,
    pub url: String,
    pub user: String,
    pub password: String,
}

impl Api {
    pub fn new(sim: &SimHandle) -> Self {
        let a = account(sim);
        Self {
            client: reqwest::Client::new(),
            url: sim.messages_url(0),
            user: a.sid.clone(),
            password: a.auth_token.clone(),
        }
    }

    pub async fn create(&self, params: &[(&str, &str)]) -> (StatusCode, Value) {
        let response =
            self.client.post(&self.url).basic_auth(&self.user, Some(&self.password)).form(params).send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, url: &str) -> (StatusCode, Value) {
        let response = self.client.get(url).basic_auth(&self.user, Some(&self.password)).send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// A webhook POST as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Hook {
    pub path: String,
    pub params: Vec<(String, String)>,
    pub signature_valid: bool,
}

impl Hook {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct Receiver {
    base: String,
    token: Arc<Mutex<String>>,
    hooks: Arc<Mutex<Vec<Hook>>>,
}

/// An axum server on a free port that keeps every POST and checks its X-Twilio-Signature.
pub struct Webhooks {
    pub base_url: String,
    token: Arc<Mutex<String>>,
    hooks: Arc<Mutex<Vec<Hook>>>,
}

impl Webhooks {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let receiver = Receiver { base: base_url.clone(), token: Arc::default(), hooks: Arc::default() };
        let (token, hooks) = (receiver.token.clone(), receiver.hooks.clone());
        let app = axum::Router::new().route("/{*path}", post(receive)).with_state(receiver);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url, token, hooks }
    }

    /// The auth token signatures are checked with.
    pub fn expect_token(&self, token: &str) {
        *self.token.lock().unwrap() = token.to_owned();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the hooks received so far (at most 10 s).
    pub async fn wait_for(&self, done: impl Fn(&[Hook]) -> bool) -> Vec<Hook> {
        for _ in 0..200 {
            let hooks = self.hooks();
            if done(&hooks) {
                return hooks;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("webhooks did not arrive in time; got {:?}", self.hooks());
    }
}

async fn receive(State(r): State<Receiver>, uri: Uri, headers: HeaderMap, body: String) -> StatusCode {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let url = format!("{}{}", r.base, uri);
    let header = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let token = r.token.lock().unwrap().clone();
    let signature_valid = signature::validate(&token, &url, &params, header);
    r.hooks.lock().unwrap().push(Hook { path: uri.path().to_owned(), params, signature_valid });
    StatusCode::OK
}
