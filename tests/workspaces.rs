//! Members, roles, the audit log, and tenant isolation (invariant 7) against the real server.

mod common;

use common::{Client, TestApp, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn audit_rows(app: &TestApp, action: &str) -> Vec<(String, Option<Value>, Option<Value>, Option<String>)> {
    sqlx::query_as("SELECT outcome, before, after, actor_email FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn viewer_changing_a_role_is_403_and_the_attempt_is_audited() {
    let app = TestApp::spawn().await;
    let viewer = app.signed_in("viewer@demo.test").await;
    let ws = app.workspace_id("demo").await;
    let agent = app.user_id("agent@demo.test").await;
    let (status, body) = viewer.patch(&format!("/api/workspaces/{ws}/members/{agent}"), json!({"role": "admin"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let rows = audit_rows(&app, "member.role_changed").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "denied");
    assert_eq!(rows[0].3.as_deref(), Some("viewer@demo.test"));
    let role: String = sqlx::query_scalar(
        "SELECT role::text FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'agent@demo.test'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(role, "agent", "nothing changed");
}

#[tokio::test]
async fn role_changes_are_audited_with_before_and_after() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("admin@demo.test").await;
    let ws = app.workspace_id("demo").await;
    let agent = app.user_id("agent@demo.test").await;
    let (status, body) =
        admin.patch(&format!("/api/workspaces/{ws}/members/{agent}"), json!({"role": "manager"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "manager");
    let rows = audit_rows(&app, "member.role_changed").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "ok");
    assert_eq!(rows[0].1, Some(json!({"role": "agent"})));
    assert_eq!(rows[0].2, Some(json!({"role": "manager"})));

    // The audit API shows it, with filters.
    let (status, page) = admin.get(&format!("/api/workspaces/{ws}/audit?action=member.&outcome=ok")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor_email"], "admin@demo.test");
    assert_eq!(entries[0]["target_id"], agent);
    assert!(entries[0]["request_id"].is_string());
}

#[tokio::test]
async fn only_owners_touch_the_owner_role_and_the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let admin = app.signed_in("admin@demo.test").await;
    let owner = app.signed_in("owner@demo.test").await;
    let owner_id = app.user_id("owner@demo.test").await;
    let agent_id = app.user_id("agent@demo.test").await;

    let (status, body) =
        admin.patch(&format!("/api/workspaces/{ws}/members/{agent_id}"), json!({"role": "owner"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) =
        admin.patch(&format!("/api/workspaces/{ws}/members/{owner_id}"), json!({"role": "viewer"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = admin.delete(&format!("/api/workspaces/{ws}/members/{owner_id}")).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let (status, body) =
        owner.patch(&format!("/api/workspaces/{ws}/members/{owner_id}"), json!({"role": "admin"})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "last_owner");
    let (status, body) = owner.delete(&format!("/api/workspaces/{ws}/members/{owner_id}")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "last_owner");

    // With a second owner, the first may step down.
    assert_eq!(
        owner.patch(&format!("/api/workspaces/{ws}/members/{agent_id}"), json!({"role": "owner"})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        owner.patch(&format!("/api/workspaces/{ws}/members/{owner_id}"), json!({"role": "admin"})).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn removing_a_member_revokes_their_tokens_and_access() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let agent = app.signed_in("agent@demo.test").await;
    let (_, created) = agent.post(&format!("/api/workspaces/{ws}/tokens"), json!({"name": "mine"})).await;
    let script = Client::with_token(app.base(), created["token"].as_str().unwrap());
    assert_eq!(script.get(&format!("/api/workspaces/{ws}/members")).await.0, StatusCode::OK);

    let admin = app.signed_in("admin@demo.test").await;
    let agent_id = app.user_id("agent@demo.test").await;
    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/members/{agent_id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(agent.get(&format!("/api/workspaces/{ws}/members")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(script.get(&format!("/api/workspaces/{ws}/members")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(audit_rows(&app, "member.removed").await.len(), 1);
}

#[tokio::test]
async fn audit_log_rows_cannot_be_updated_or_deleted_with_raw_sql() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("admin@demo.test").await;
    let ws = app.workspace_id("demo").await;
    admin.post(&format!("/api/workspaces/{ws}/tokens"), json!({"name": "leaves a trace"})).await;
    let count =
        || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_log").fetch_one(&app.pool).await.unwrap() };
    let before = count().await;
    assert!(before >= 1);

    // The app's own database user (the pool the server uses).
    for sql in ["UPDATE audit_log SET action = 'nothing.happened'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = sqlx::query(sql).execute(&app.pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(count().await, before);
    let action: String =
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1").fetch_one(&app.pool).await.unwrap();
    assert_eq!(action, "token.created");
}

#[tokio::test]
async fn audit_log_is_for_owners_and_admins_and_pages() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let admin = app.signed_in("admin@demo.test").await;
    for i in 0..5 {
        admin.post(&format!("/api/workspaces/{ws}/tokens"), json!({"name": format!("t{i}")})).await;
    }
    let (_, first) = admin.get(&format!("/api/workspaces/{ws}/audit?limit=3")).await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 3);
    let next = first["next_before"].as_i64().unwrap();
    let (_, second) = admin.get(&format!("/api/workspaces/{ws}/audit?limit=3&before={next}")).await;
    assert_eq!(second["entries"].as_array().unwrap().len(), 2);
    assert!(second["next_before"].is_null());

    let (status, body) = admin.get(&format!("/api/workspaces/{ws}/audit?limit=0")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "limit");

    for email in ["manager@demo.test", "agent@demo.test", "viewer@demo.test"] {
        let c = app.signed_in(email).await;
        let (status, body) = c.get(&format!("/api/workspaces/{ws}/audit")).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn only_a_super_admin_creates_workspaces() {
    let app = TestApp::spawn().await;
    let owner = app.signed_in("owner@demo.test").await;
    let (status, body) = owner.post("/api/workspaces", json!({"slug": "mine", "name": "Mine"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let sup = app.signed_in("super@demo.test").await;
    let (status, body) = sup.post("/api/workspaces", json!({"slug": "Bad Slug", "name": "X"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "slug");
    let (status, body) = sup.post("/api/workspaces", json!({"slug": "northwind", "name": "Northwind"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], "owner");
    let (status, body) = sup.post("/api/workspaces", json!({"slug": "northwind", "name": "Again"})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "slug_taken");
    let (_, mine) = sup.get("/api/workspaces").await;
    assert!(mine.as_array().unwrap().iter().any(|w| w["slug"] == "northwind"));
}

/// Every workspace-scoped route, with a body where it takes one. Later issues append theirs.
fn workspace_routes(
    ws: &str,
    user: &str,
    token: &str,
    account: &str,
    number: &str,
    campaign_side: &CampaignSide,
    dnc: &str,
) -> Vec<(Method, String, Option<Value>)> {
    let CampaignSide { lead, campaign, crusade } = campaign_side;
    let step = json!([{"after_days": 0, "templates": ["Hi"]}]);
    let sid = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    vec![
        (Method::GET, format!("/api/workspaces/{ws}/members"), None),
        (Method::POST, format!("/api/workspaces/{ws}/members"), Some(json!({"email": "x@y.test", "role": "viewer"}))),
        (Method::PATCH, format!("/api/workspaces/{ws}/members/{user}"), Some(json!({"role": "viewer"}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/members/{user}"), None),
        (Method::GET, format!("/api/workspaces/{ws}/audit"), None),
        (Method::GET, format!("/api/workspaces/{ws}/tokens"), None),
        (Method::POST, format!("/api/workspaces/{ws}/tokens"), Some(json!({"name": "intruder"}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/tokens/{token}"), None),
        (Method::GET, format!("/api/workspaces/{ws}/accounts"), None),
        (
            Method::POST,
            format!("/api/workspaces/{ws}/accounts"),
            Some(json!({"name": "intruder", "account_sid": sid, "auth_token": "intruder-token"})),
        ),
        (Method::GET, format!("/api/workspaces/{ws}/accounts/{account}"), None),
        (Method::PATCH, format!("/api/workspaces/{ws}/accounts/{account}"), Some(json!({"status": "paused"}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/accounts/{account}"), None),
        (Method::GET, format!("/api/workspaces/{ws}/numbers"), None),
        (
            Method::POST,
            format!("/api/workspaces/{ws}/numbers"),
            Some(json!({"e164": "+13105550100", "account_id": account})),
        ),
        // The CSV body is never read: the workspace is resolved first (any body does).
        (Method::POST, format!("/api/workspaces/{ws}/numbers/import"), Some(json!("e164,account_sid"))),
        (Method::GET, format!("/api/workspaces/{ws}/numbers/{number}"), None),
        (Method::PATCH, format!("/api/workspaces/{ws}/numbers/{number}"), Some(json!({"status": "paused"}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/numbers/{number}"), None),
        (Method::GET, format!("/api/workspaces/{ws}/leads"), None),
        (Method::POST, format!("/api/workspaces/{ws}/leads"), Some(json!({"phone": "+13055550177"}))),
        (Method::POST, format!("/api/workspaces/{ws}/leads/bulk"), Some(json!({"leads": [{"phone": "+13055550177"}]}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/leads/{lead}"), None),
        (Method::GET, format!("/api/workspaces/{ws}/campaigns"), None),
        (Method::POST, format!("/api/workspaces/{ws}/campaigns"), Some(json!({"name": "intruder", "steps": step}))),
        (Method::GET, format!("/api/workspaces/{ws}/campaigns/{campaign}"), None),
        (Method::PATCH, format!("/api/workspaces/{ws}/campaigns/{campaign}"), Some(json!({"name": "intruder"}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/campaigns/{campaign}"), None),
        (Method::POST, format!("/api/workspaces/{ws}/campaigns/{campaign}/start"), None),
        (Method::POST, format!("/api/workspaces/{ws}/campaigns/{campaign}/pause"), None),
        (Method::POST, format!("/api/workspaces/{ws}/campaigns/{campaign}/resume"), None),
        (Method::POST, format!("/api/workspaces/{ws}/campaigns/{campaign}/cancel"), None),
        (Method::GET, format!("/api/workspaces/{ws}/campaigns/{campaign}/preview"), None),
        (Method::GET, format!("/api/workspaces/{ws}/crusades"), None),
        (Method::POST, format!("/api/workspaces/{ws}/crusades"), Some(json!({"name": "intruder"}))),
        (Method::GET, format!("/api/workspaces/{ws}/crusades/{crusade}"), None),
        (Method::PATCH, format!("/api/workspaces/{ws}/crusades/{crusade}"), Some(json!({"name": "intruder"}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/crusades/{crusade}"), None),
        (Method::POST, format!("/api/workspaces/{ws}/crusades/{crusade}/start"), None),
        (Method::POST, format!("/api/workspaces/{ws}/crusades/{crusade}/pause"), None),
        (Method::POST, format!("/api/workspaces/{ws}/crusades/{crusade}/resume"), None),
        (Method::POST, format!("/api/workspaces/{ws}/crusades/{crusade}/cancel"), None),
        (Method::GET, format!("/api/workspaces/{ws}/opt-outs"), None),
        (Method::POST, format!("/api/workspaces/{ws}/opt-outs"), Some(json!({"phone": "+14155550100"}))),
        (Method::POST, format!("/api/workspaces/{ws}/opt-outs/import"), Some(json!("phone"))),
        (Method::GET, format!("/api/workspaces/{ws}/opt-outs/+14155550100"), None),
        (Method::POST, format!("/api/workspaces/{ws}/opt-outs/+14155550100/review"), Some(json!({}))),
        (Method::DELETE, format!("/api/workspaces/{ws}/opt-outs/+14155550100"), None),
        (Method::GET, format!("/api/workspaces/{ws}/dnc"), None),
        (Method::POST, format!("/api/workspaces/{ws}/dnc"), Some(json!({"phone": "+14155550100"}))),
        (Method::POST, format!("/api/workspaces/{ws}/dnc/import"), Some(json!("phone"))),
        (Method::DELETE, format!("/api/workspaces/{ws}/dnc/{dnc}"), None),
        (Method::GET, format!("/api/workspaces/{ws}/undeliverable"), None),
    ]
}

/// Ids of the demo seed's campaign side (a lead, the draft campaign, the crusade).
struct CampaignSide {
    lead: String,
    campaign: String,
    crusade: String,
}

async fn campaign_side(app: &TestApp, ws: &str) -> CampaignSide {
    let id = |table: &'static str| {
        sqlx::query_scalar::<_, uuid::Uuid>(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE workspace_id = $1::uuid ORDER BY id LIMIT 1"
        )))
        .bind(ws.to_owned())
        .fetch_one(&app.pool)
    };
    CampaignSide {
        lead: id("leads").await.unwrap().to_string(),
        campaign: id("campaigns").await.unwrap().to_string(),
        crusade: id("crusades").await.unwrap().to_string(),
    }
}

#[tokio::test]
async fn invariant_7_tenants_apart() {
    let app = TestApp::spawn().await;
    let acme = app.workspace_id("acme").await;
    let demo = app.workspace_id("demo").await;
    // super@ is the owner of acme (and server super_admin) but not a member of demo.
    let acme_owner = app.signed_in("super@demo.test").await;
    let (_, acme_token) = acme_owner.post(&format!("/api/workspaces/{acme}/tokens"), json!({"name": "acme"})).await;
    let acme_script = Client::with_token(app.base(), acme_token["token"].as_str().unwrap());
    // A demo resource of each kind to aim at.
    let demo_admin = app.signed_in("admin@demo.test").await;
    let (_, demo_token) = demo_admin.post(&format!("/api/workspaces/{demo}/tokens"), json!({"name": "demo"})).await;
    let demo_user = app.user_id("agent@demo.test").await;
    let (_, demo_account) = demo_admin
        .post(
            &format!("/api/workspaces/{demo}/accounts"),
            json!({"name": "Demo", "account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "demo-token-123"}),
        )
        .await;
    let demo_account = demo_account["id"].as_str().unwrap().to_owned();
    let (_, demo_number) = demo_admin
        .post(&format!("/api/workspaces/{demo}/numbers"), json!({"e164": "+14155552671", "account_id": demo_account}))
        .await;
    let demo_number = demo_number["id"].as_str().unwrap().to_owned();
    demo_admin.post(&format!("/api/workspaces/{demo}/opt-outs"), json!({"phone": "+14155550100"})).await;
    let (_, demo_dnc) = demo_admin.post(&format!("/api/workspaces/{demo}/dnc"), json!({"phone": "+14155550100"})).await;
    let demo_dnc = demo_dnc["id"].as_str().unwrap().to_owned();
    let audit_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE workspace_id = $1::uuid")
        .bind(&demo)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let side = campaign_side(&app, &demo).await;
    let routes = workspace_routes(
        &demo,
        &demo_user,
        demo_token["id"].as_str().unwrap(),
        &demo_account,
        &demo_number,
        &side,
        &demo_dnc,
    );
    for (method, path, body) in routes {
        for (who, client) in [("session", &acme_owner), ("token", &acme_script)] {
            let (status, resp) = client.send(method.clone(), &path, body.clone()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who} {method} {path}: {resp}");
            assert_eq!(resp["code"], "not_found");
        }
    }
    // An acme token cannot reach demo even though it is valid, and a workspace id that does not
    // exist answers exactly like one that does.
    let ghost = uuid::Uuid::new_v4().to_string();
    assert_eq!(acme_script.get(&format!("/api/workspaces/{ghost}/members")).await.0, StatusCode::NOT_FOUND);

    // Nothing in demo changed: members, tokens, audit trail.
    let (_, members) = demo_admin.get(&format!("/api/workspaces/{demo}/members")).await;
    assert_eq!(members.as_array().unwrap().len(), 5);
    assert!(!members.to_string().contains("x@y.test"));
    let (_, tokens) = demo_admin.get(&format!("/api/workspaces/{demo}/tokens")).await;
    assert!(tokens[0]["revoked_at"].is_null());
    let (_, accounts) = demo_admin.get(&format!("/api/workspaces/{demo}/accounts")).await;
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["status"], "active");
    let (_, numbers) = demo_admin.get(&format!("/api/workspaces/{demo}/numbers")).await;
    assert_eq!(numbers["numbers"].as_array().unwrap().len(), 1);
    assert_eq!(numbers["numbers"][0]["status"], "active");
    let (_, opt_outs) = demo_admin.get(&format!("/api/workspaces/{demo}/opt-outs")).await;
    assert_eq!(opt_outs["items"].as_array().unwrap().len(), 1);
    assert_eq!(opt_outs["items"][0]["needs_review"], false);
    let (_, dnc) = demo_admin.get(&format!("/api/workspaces/{demo}/dnc")).await;
    assert_eq!(dnc["items"].as_array().unwrap().len(), 1);
    // And nothing landed in acme either.
    let acme_rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM carrier_accounts WHERE workspace_id = $1::uuid) \
         + (SELECT count(*) FROM phone_numbers WHERE workspace_id = $1::uuid) \
         + (SELECT count(*) FROM leads WHERE workspace_id = $1::uuid) \
         + (SELECT count(*) FROM campaigns WHERE workspace_id = $1::uuid) \
         + (SELECT count(*) FROM crusades WHERE workspace_id = $1::uuid) \
         + (SELECT count(*) FROM opt_outs WHERE workspace_id = $1::uuid) \
         + (SELECT count(*) FROM dnc_entries WHERE workspace_id = $1::uuid)",
    )
    .bind(&acme)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(acme_rows, 0);
    let audit_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE workspace_id = $1::uuid")
        .bind(&demo)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audit_before, audit_after);
    // The workspace list shows only one's own.
    let (_, list) = acme_owner.get("/api/workspaces").await;
    assert!(list.as_array().unwrap().iter().all(|w| w["slug"] != "demo"));
    let (_, list) = acme_script.get("/api/workspaces").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}
