//! The bare loop: the floor the hub is measured against in the same run. A tokio +
//! tokio-tungstenite server with no protocol at all — no auth, topics, seq numbers, history or
//! presence: every connection reads one `tokio::sync::broadcast` channel and writes what it
//! gets, in batches flushed once (as the hub does). Events come in by `POST /publish
//! {data, count}` on the port after the WebSocket port (the Socket.IO peer's endpoint), so the
//! same driver measures all three servers.
//!
//!   hub-bench bare-server --port 13010    # WebSocket on 13010, publish on 13011

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames written before a flush, as the hub's connection loop.
const BATCH: usize = 256;

pub async fn serve(port: u16, queue_len: usize) -> anyhow::Result<()> {
    let (tx, _) = broadcast::channel::<Utf8Bytes>(queue_len);
    let ws = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let publish = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port + 1))).await?;
    let app = Router::new()
        .route("/publish", post(publish_events))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(tx.clone());
    tokio::spawn(async move { axum::serve(publish, app).await });
    eprintln!("bare loop: WebSocket on 127.0.0.1:{port}, POST /publish on 127.0.0.1:{}", port + 1);
    loop {
        let (stream, _) = ws.accept().await?;
        let rx = tx.subscribe();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let config = WebSocketConfig::default().read_buffer_size(1024).write_buffer_size(8 * 1024);
            if let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await {
                connection(ws, rx).await;
            }
        });
    }
}

/// `{data, count?}`: broadcasts `data` (as JSON text) `count` times.
async fn publish_events(State(tx): State<broadcast::Sender<Utf8Bytes>>, body: String) -> (StatusCode, &'static str) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "the body must be JSON: {\"data\": …, \"count\": n}");
    };
    let text: Utf8Bytes = v["data"].to_string().into();
    for _ in 0..v["count"].as_u64().unwrap_or(1) {
        let _ = tx.send(text.clone());
    }
    (StatusCode::ACCEPTED, "ok")
}

/// Writes every broadcast frame until the client goes or falls a whole queue behind.
async fn connection(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    mut rx: broadcast::Receiver<Utf8Bytes>,
) {
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            msg = stream.next() => if !matches!(msg, Some(Ok(_))) { return },
            frame = rx.recv() => {
                let Ok(first) = frame else { return };
                let mut next = Some(first);
                let mut written = 0;
                while let Some(text) = next {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return;
                    }
                    written += 1;
                    next = if written < BATCH { rx.try_recv().ok() } else { None };
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}
