//! A small WebSocket client for hub tests: connect with a session cookie (and Origin) or an API
//! token, send frames, and read the next frame of a given type with a timeout.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::Client;

pub const ORIGIN: &str = "http://localhost:8080";

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Value,
}

/// How a read ended when it did not yield a frame.
#[derive(Debug)]
#[allow(dead_code)]
pub enum End {
    Closed(Option<CloseFrame>),
    Timeout,
    Error(String),
}

fn ws_url(base: &str) -> String {
    format!("{}/ws", base.replacen("http://", "ws://", 1))
}

impl Ws {
    /// Connects with the client's session cookie and our own Origin.
    pub async fn with_session(client: &Client) -> Self {
        Self::try_with_session(client, ORIGIN).await.expect("websocket upgrade")
    }

    pub async fn try_with_session(client: &Client, origin: &str) -> Result<Self, String> {
        use reqwest::cookie::CookieStore;
        let mut req = ws_url(&client.base).into_client_request().unwrap();
        let cookies = client.jar.cookies(&client.base.parse().unwrap()).expect("signed in");
        req.headers_mut().insert("cookie", cookies.to_str().unwrap().parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        Self::open(req).await
    }

    pub async fn with_token(base: &str, token: &str) -> Self {
        let req = format!("{}?token={token}", ws_url(base)).into_client_request().unwrap();
        Self::open(req).await.expect("websocket upgrade with token")
    }

    pub async fn try_anonymous(base: &str) -> Result<Self, String> {
        Self::open(ws_url(base).into_client_request().unwrap()).await
    }

    async fn open(req: tokio_tungstenite::tungstenite::handshake::client::Request) -> Result<Self, String> {
        let (stream, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| e.to_string())?;
        let mut ws = Self { stream, hello: Value::Null };
        ws.hello = ws.next_of("hello").await;
        Ok(ws)
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream.send(Message::Text(frame.to_string().into())).await.expect("send frame");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::Text(text.into())).await.expect("send frame");
    }

    /// The next JSON frame, or how the stream ended.
    pub async fn read(&mut self, wait: Duration) -> Result<Value, End> {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Err(_) => return Err(End::Timeout),
                Ok(None) => return Err(End::Closed(None)),
                Ok(Some(Err(e))) => return Err(End::Error(e.to_string())),
                Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(&t).expect("server sends JSON")),
                Ok(Some(Ok(Message::Close(frame)))) => return Err(End::Closed(frame)),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.read(Duration::from_secs(10)).await.unwrap_or_else(|e| panic!("expected a frame: {e:?}"))
    }

    /// The next frame of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// No frame of `kind` arrives within `wait` (others are skipped).
    pub async fn none_of(&mut self, kind: &str, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.read(left).await {
                Ok(frame) => assert_ne!(frame["type"], kind, "unexpected {frame}"),
                Err(_) => return,
            }
        }
    }

    /// Subscribes and returns the answer (`subscribed` or `error`).
    pub async fn subscribe(&mut self, workspace: &str, topic: &str, extra: Value) -> Value {
        let mut frame = json!({"type": "subscribe", "workspace": workspace, "topic": topic});
        if let (Some(f), Some(e)) = (frame.as_object_mut(), extra.as_object()) {
            f.extend(e.clone());
        }
        self.send(frame).await;
        loop {
            let answer = self.next().await;
            if answer["type"] == "subscribed" || answer["type"] == "error" {
                return answer;
            }
        }
    }

    /// The close frame that ends the stream (skipping any frames before it).
    pub async fn closed(&mut self, wait: Duration) -> Option<CloseFrame> {
        loop {
            match self.read(wait).await {
                Ok(_) => continue,
                Err(End::Closed(frame)) => return frame,
                Err(e) => panic!("expected a close, got {e:?}"),
            }
        }
    }
}

/// An API token for `email`'s membership in `workspace` (signs in to mint it).
pub async fn api_token(client: &Client, workspace: &str) -> String {
    let (status, body) = client.post(&format!("/api/workspaces/{workspace}/tokens"), json!({"name": "hub test"})).await;
    assert!(status.is_success(), "token: {status} {body}");
    body["token"].as_str().unwrap().to_owned()
}

/// Publishes `count` events through the API.
pub async fn publish(client: &Client, workspace: &str, topic: &str, data: Value, count: u32) {
    let body = json!({"topic": topic, "kind": "test", "data": data, "count": count});
    let (status, answer) = client.post(&format!("/api/workspaces/{workspace}/hub/publish"), body).await;
    assert_eq!(status.as_u16(), 202, "publish: {answer}");
}
