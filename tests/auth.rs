//! Sign-in, sessions, CSRF, API tokens and one-time links against the real server and database.

mod common;

use common::{Client, DEMO_PASSWORD, TestApp, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn wrong_password_is_401_and_right_one_signs_in() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let (status, body) = client.login("owner@demo.test", "not-the-password").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (status, body) = client.login("nobody@demo.test", DEMO_PASSWORD).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_credentials");

    let (status, body) = client.login("OWNER@demo.test ", DEMO_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "owner@demo.test");
    let slugs: Vec<_> = body["memberships"].as_array().unwrap().iter().map(|m| m["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["acme", "demo"]);
    let (status, session) = client.get("/api/auth/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["csrf_token"], body["csrf_token"]);
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site() {
    let app = TestApp::spawn().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/login", app.base()))
        .json(&json!({"email": "agent@demo.test", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("sb_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    // Only a hash of the session token is stored.
    let token = cookie.trim_start_matches("sb_session=").split(';').next().unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'")
            .bind(token)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn burst_of_failures_is_429_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(client.login("manager@demo.test", "guess-guess-guess").await.0);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let resp = client
        .request(Method::POST, "/api/auth/login")
        .json(&json!({"email": "manager@demo.test", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "locked account refuses even the right password");
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Other accounts are unaffected.
    assert_eq!(client.login("agent@demo.test", DEMO_PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn cookie_authenticated_post_without_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("owner@demo.test").await;
    let ws = app.workspace_id("demo").await;
    let path = format!("/api/workspaces/{ws}/tokens");

    let mut no_csrf = client.clone();
    no_csrf.csrf = None;
    let (status, body) = no_csrf.post(&path, json!({"name": "ci"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "csrf_failed");
    let mut wrong = client.clone();
    wrong.csrf = Some("forged".into());
    let (status, body) = wrong.post(&path, json!({"name": "ci"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "csrf_failed");
    let (status, _) = no_csrf.post("/api/auth/logout", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "sign-out is CSRF-protected too");

    let (status, body) = client.post(&path, json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Safe methods need no token.
    assert_eq!(no_csrf.get(&path).await.0, StatusCode::OK);
}

#[tokio::test]
async fn api_tokens_work_and_stop_working_when_revoked() {
    let app = TestApp::spawn().await;
    let owner = app.signed_in("manager@demo.test").await;
    let ws = app.workspace_id("demo").await;
    let (status, created) = owner.post(&format!("/api/workspaces/{ws}/tokens"), json!({"name": "load test"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sb_"));

    let script = Client::with_token(app.base(), &token);
    let (status, members) = script.get(&format!("/api/workspaces/{ws}/members")).await;
    assert_eq!(status, StatusCode::OK, "{members}");
    // Bearer requests need no CSRF token: a browser cannot attach the header cross-site.
    let (status, _) = script.post(&format!("/api/workspaces/{ws}/tokens"), json!({"name": "from a token"})).await;
    assert_eq!(status, StatusCode::CREATED);

    // Its last use is recorded (off the request path, to the minute).
    let mut used = false;
    for _ in 0..40 {
        let (_, list) = owner.get(&format!("/api/workspaces/{ws}/tokens")).await;
        if list.as_array().unwrap().iter().any(|t| t["name"] == "load test" && t["last_used_at"].is_string()) {
            used = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(used, "last_used_at is set after the token is used");

    // The listing never shows the secret, and the database holds only its hash.
    let (_, list) = owner.get(&format!("/api/workspaces/{ws}/tokens")).await;
    assert!(!list.to_string().contains(&token));
    let plain: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_tokens WHERE position($1 in encode(token_hash, 'escape')) > 0")
            .bind(&token)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(plain, 0);

    let id = created["id"].as_str().unwrap();
    assert_eq!(owner.delete(&format!("/api/workspaces/{ws}/tokens/{id}")).await.0, StatusCode::NO_CONTENT);
    let (status, body) = script.get(&format!("/api/workspaces/{ws}/members")).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (_, list) = owner.get(&format!("/api/workspaces/{ws}/tokens")).await;
    let revoked = list.as_array().unwrap().iter().find(|t| t["id"] == id).unwrap();
    assert!(revoked["revoked_at"].is_string());
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_in("agent@demo.test").await;
    let phone = app.signed_in("agent@demo.test").await;
    let other = app.signed_in("viewer@demo.test").await;
    assert_eq!(laptop.post("/api/auth/logout-all", json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(phone.get("/api/auth/session").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(laptop.get("/api/auth/session").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(other.get("/api/auth/session").await.0, StatusCode::OK);

    let single = app.signed_in("agent@demo.test").await;
    let second = app.signed_in("agent@demo.test").await;
    assert_eq!(single.post("/api/auth/logout", json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(single.get("/api/auth/session").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(second.get("/api/auth/session").await.0, StatusCode::OK);
}

#[tokio::test]
async fn recovery_link_sets_a_new_password_once_and_ends_old_sessions() {
    let app = TestApp::spawn().await;
    let old_session = app.signed_in("viewer@demo.test").await;
    let config = common::test_config(&app.db.url);
    let link = switchboard_server::commands::recovery_link(&app.pool, &config, "viewer@demo.test").await.unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();

    let client = app.client();
    let (status, body) = client.post("/api/auth/recovery/complete", json!({"token": token, "password": "short"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "password");

    let (status, body) =
        client.post("/api/auth/recovery/complete", json!({"token": token, "password": "a brand new passphrase"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "viewer@demo.test");
    assert_eq!(old_session.get("/api/auth/session").await.0, StatusCode::UNAUTHORIZED);

    let (status, body) =
        client.post("/api/auth/recovery/complete", json!({"token": token, "password": "another new passphrase"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "token");

    let mut fresh = app.client();
    assert_eq!(fresh.login("viewer@demo.test", DEMO_PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(fresh.login("viewer@demo.test", "a brand new passphrase").await.0, StatusCode::OK);

    // Asking for a link answers the same for known and unknown addresses.
    assert_eq!(client.post("/api/auth/recovery", json!({"email": "viewer@demo.test"})).await.0, StatusCode::ACCEPTED);
    assert_eq!(client.post("/api/auth/recovery", json!({"email": "ghost@demo.test"})).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn invited_member_sets_password_through_the_link() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("admin@demo.test").await;
    let ws = app.workspace_id("demo").await;
    let (status, body) = admin
        .post(
            &format!("/api/workspaces/{ws}/members"),
            json!({"email": "New.Agent@Example.com", "name": "Nia", "role": "agent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["member"]["email"], "new.agent@example.com");
    let invite = body["invite_url"].as_str().unwrap();
    assert!(invite.starts_with("http://localhost:8080/recover?token="), "{invite}");
    let token = invite.split("token=").nth(1).unwrap();

    let mut newcomer = app.client();
    assert_eq!(newcomer.login("new.agent@example.com", "").await.0, StatusCode::UNAUTHORIZED);
    let (status, session) =
        newcomer.post("/api/auth/recovery/complete", json!({"token": token, "password": "my own passphrase"})).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["memberships"][0]["role"], "agent");

    // Adding an existing member again is a conflict, and an existing user gets no invite link.
    let (status, body) = admin
        .post(&format!("/api/workspaces/{ws}/members"), json!({"email": "new.agent@example.com", "role": "viewer"}))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_member");
    let acme = app.workspace_id("acme").await;
    let owner = app.signed_in("owner@demo.test").await;
    let (status, body) = owner
        .post(&format!("/api/workspaces/{acme}/members"), json!({"email": "agent@demo.test", "role": "viewer"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["invite_url"].is_null());
}
