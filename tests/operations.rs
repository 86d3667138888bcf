//! Operating the binary: readiness that follows PostgreSQL, clear failures at start, graceful
//! shutdown, bad input answered with JSON 4xx, metrics, OpenAPI, and two instances sharing state.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::pg_proxy::PgProxy;
use common::{Client, Instance, TestApp, TestDb, assert_error, test_config};
use reqwest::{Method, StatusCode};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

#[tokio::test]
async fn postgres_unreachable_at_start_is_one_clear_line_and_a_failing_exit() {
    // Nothing listens on port 1.
    let out = tokio::process::Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/switchboard")
        .env("BIND", "127.0.0.1:0")
        .env("SECRET_KEY", "00".repeat(32))
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1/switchboard"), "{stderr}");
    assert!(stderr.contains("set DATABASE_URL"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[tokio::test]
async fn bad_configuration_names_the_variable() {
    let out = tokio::process::Command::new(BIN)
        .arg("serve")
        .env("BIND", "not-an-address")
        .env("SECRET_KEY", "00".repeat(32))
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BIND"));
}

#[tokio::test]
async fn readyz_goes_red_when_postgres_stops_and_green_when_it_returns() {
    let db = TestDb::fresh().await;
    let proxy = PgProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let url = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    let instance = Instance::start(test_config(&url)).await;
    let client = instance.client();
    let (status, body) = client.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["postgres"], "ok");

    proxy.go_down();
    let (status, body) = client.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["postgres"], "down");
    assert_eq!(client.get("/healthz").await.0, StatusCode::OK, "liveness does not depend on the database");

    proxy.come_back();
    let mut green = false;
    for _ in 0..50 {
        if client.get("/readyz").await.0 == StatusCode::OK {
            green = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(green, "readyz recovers once PostgreSQL is back");
}

#[tokio::test]
async fn sigterm_stops_accepting_drains_and_exits_zero() {
    let db = TestDb::fresh().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("SECRET_KEY", "11".repeat(32))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = Client::new(&base);
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "server came up");
    // A request in flight when the signal lands still gets its answer.
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.post("/api/auth/login", json!({"email": "nobody@x.test", "password": "whatever-123"})).await }
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pid = child.id().unwrap() as i32;
    assert_eq!(unsafe_kill(pid), 0);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("exits promptly").unwrap();
    assert!(status.success(), "exit status {status:?}");
    let (code, _) = in_flight.await.unwrap();
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err(), "no longer accepting");
}

/// Runs the binary against `database_url` and returns its output.
async fn run_bin(database_url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SECRET_KEY", "22".repeat(32))
        .output()
        .await
        .expect("the binary runs")
}

fn unsafe_kill(pid: i32) -> i32 {
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .map(|s| s.code().unwrap_or(-1))
        .unwrap_or(-1)
}

#[tokio::test]
async fn migrate_and_seed_commands_are_idempotent() {
    let db = TestDb::fresh().await;
    for args in [&["migrate"][..], &["seed", "--demo"], &["seed", "--demo"]] {
        let out = run_bin(&db.url, args).await;
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let pool = db.pool().await;
    let (users, members): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM memberships)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((users, members), (6, 7));
    let campaign_side: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM campaigns), (SELECT count(*) FROM crusades)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(campaign_side, (200, 1, 1), "demo leads, campaign and crusade, once");
    let out = run_bin(&db.url, &["seed"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--demo"));
    let args =
        ["user", "create", "--email", "ops@x.test", "--password", "short", "--workspace", "demo", "--role", "admin"];
    let out = run_bin(&db.url, &args).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    pool.close().await;
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_naming_the_problem_never_a_500() {
    let app = TestApp::spawn().await;
    let owner = app.signed_in("owner@demo.test").await;
    let ws = app.workspace_id("demo").await;
    let members = format!("/api/workspaces/{ws}/members");

    let raw = |body: &'static str| {
        owner.request(Method::POST, &members).header("content-type", "application/json").body(body).send()
    };
    let json_of = |r: reqwest::Response| async move { (r.status(), r.json::<serde_json::Value>().await.unwrap()) };

    let (s, b) = json_of(raw("{\"email\": ").await.unwrap()).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_json");
    let (s, b) = json_of(raw("{\"email\":\"a@b.test\",\"role\":\"admin\",\"is_root\":true}").await.unwrap()).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(b["field"], "is_root");
    let (s, b) = json_of(raw("{\"email\":\"a@b.test\",\"role\":\"emperor\"}").await.unwrap()).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(b["field"], "role");
    let (s, b) = json_of(raw("{\"email\":42,\"role\":\"agent\"}").await.unwrap()).await;
    assert_eq!(b["field"], "email", "{s} {b}");
    let (s, b) = json_of(raw("{\"role\":\"agent\"}").await.unwrap()).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(b["field"], "email");
    let (s, b) = owner.post(&members, json!({"email": "not an email", "role": "agent"})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(b["field"], "email");

    let r = owner.request(Method::POST, &members).header("content-type", "text/plain").body("hi").send().await.unwrap();
    let (s, b) = json_of(r).await;
    assert_error(s, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(200 * 1024));
    let r = owner
        .request(Method::POST, &format!("/api/workspaces/{ws}/tokens"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(r).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let (s, b) = owner.get("/api/workspaces/not-a-uuid/members").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = owner.patch(&format!("{members}/not-a-uuid"), json!({"role": "agent"})).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = owner.get(&format!("/api/workspaces/{ws}/audit?limit=lots")).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "validation_failed");
    let (s, b) = owner.get("/api/no/such/route").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = owner.send(Method::PUT, "/api/auth/login", Some(json!({}))).await;
    assert_eq!(s.as_u16() / 100, 4, "{s} {b}");
    assert!(b["code"].is_string(), "{b}");
    let (s, b) = app.client().get(&members).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthenticated");

    // The server is still fine.
    assert_eq!(owner.get(&members).await.0, StatusCode::OK);
}

#[tokio::test]
async fn metrics_openapi_and_request_ids_are_served() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.login("owner@demo.test", "wrong-password-here").await;
    let resp = reqwest::get(format!("{}/metrics", app.base())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(text.contains("switchboard_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/auth/login\""), "{text}");

    let (status, spec) = client.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/auth/login",
        "/api/workspaces/{workspace_id}/members/{user_id}",
        "/api/workspaces/{workspace_id}/audit",
        "/api/workspaces/{workspace_id}/leads/bulk",
        "/api/workspaces/{workspace_id}/campaigns/{campaign_id}/preview",
        "/api/workspaces/{workspace_id}/crusades/{crusade_id}/start",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    let docs = reqwest::get(format!("{}/api/docs/", app.base())).await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));

    let resp = reqwest::get(format!("{}/healthz", app.base())).await.unwrap();
    assert!(resp.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn two_instances_share_one_database_and_redis() {
    let app = TestApp::spawn_pair().await;
    let (a, b) = (&app.instances[0], &app.instances[1]);
    for instance in [a, b] {
        let (status, body) = instance.client().get("/readyz").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["redis"], "ok");
    }
    // Sign in on A, act on B: instances keep no session state of their own.
    let on_a = app.signed_in("admin@demo.test").await;
    let on_b = on_a.against(&b.base);
    let ws = app.workspace_id("demo").await;
    let (status, created) = on_b.post(&format!("/api/workspaces/{ws}/tokens"), json!({"name": "made on b"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, tokens) = on_a.get(&format!("/api/workspaces/{ws}/tokens")).await;
    assert!(tokens.as_array().unwrap().iter().any(|t| t["name"] == "made on b"));
    assert_eq!(on_a.post("/api/auth/logout", json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(on_b.get("/api/auth/session").await.0, StatusCode::UNAUTHORIZED, "signing out on A ends it on B");
}

#[tokio::test]
async fn send_log_commands_prepare_partitions_and_archive_old_days() {
    let db = TestDb::fresh().await;
    let out = run_bin(&db.url, &["send-log", "prepare"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pool = db.pool().await;
    let today = chrono::Utc::now().date_naive();
    let name = switchboard_sender::send_log::partition_name(today);
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&name).fetch_one(&pool).await.unwrap();
    assert!(exists, "{name}");

    let dir = std::env::temp_dir().join(format!("sb-archive-{}", uuid::Uuid::new_v4().simple()));
    let out =
        run_bin(&db.url, &["send-log", "archive", "--before", &today.to_string(), "--dir", dir.to_str().unwrap()])
            .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let yesterday = switchboard_sender::send_log::partition_name(today - chrono::Duration::days(1));
    assert!(dir.join(format!("{yesterday}.csv.gz")).is_file(), "yesterday's (empty) day is archived");
    let still: bool =
        sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&name).fetch_one(&pool).await.unwrap();
    assert!(still, "today stays");

    let out = run_bin(&db.url, &["send-log", "archive", "--before", "yesterday", "--dir", "/tmp"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--before"));
    let _ = std::fs::remove_dir_all(dir);
    pool.close().await;
}

/// The server's pools (web and engine) open their sessions with PostgreSQL's JIT off: the
/// engine's claim crossed `jit_above_cost` once a campaign queued about a million rows, and
/// compiled itself at every execution (db::session_settings).
#[tokio::test]
async fn the_servers_sessions_run_without_jit() {
    let db = TestDb::empty().await;
    let server_default: String =
        sqlx::query_scalar("SHOW jit").fetch_one(&db.pool().await).await.expect("ask the server's default");
    let pool = switchboard_server::db::connect_sized(&db.url, 2).await.expect("connect");
    let ours: String = sqlx::query_scalar("SHOW jit").fetch_one(&pool).await.expect("ask our session");
    assert_eq!(ours, "off", "the server's default is {server_default}");
}
