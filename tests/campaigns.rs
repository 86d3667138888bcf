//! Leads, campaigns and crusades against the real server and PostgreSQL: lead CRUD and bulk
//! errors, campaign validation, the lifecycle and its 409s, crusades driving their campaigns,
//! materialization (area-code routing, sticky sender, opt-out language on a first message only,
//! template skips, no duplicates on a re-run), and the preview agreeing with `send_verdict`.

mod common;
#[path = "hub/ws.rs"]
#[allow(dead_code)]
mod ws;

use chrono::{Duration, Timelike, Utc};
use common::{Client, TestApp, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_sender::{WorkspaceId, crusades, plan};
use uuid::Uuid;

const N305: &str = "+13055550199";
const N813: &str = "+18135550199";
const N212: &str = "+12125550199";

/// The demo app, its workspace id, a manager, and three numbers (305 FL, 813 FL, 212 NY).
async fn setup() -> (TestApp, String, Client, Vec<String>) {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let admin = app.signed_in("admin@demo.test").await;
    let (status, account) = admin
        .post(
            &format!("/api/workspaces/{ws}/accounts"),
            json!({"name": "Main", "account_sid": "AC0123456789abcdef0123456789abcdef",
                   "auth_token": "tok3n-s3cret-0123456789abcdef", "base_url": "http://127.0.0.1:9/"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let mut ids = Vec::new();
    for e164 in [N305, N813, N212] {
        let (status, n) = admin
            .post(&format!("/api/workspaces/{ws}/numbers"), json!({"e164": e164, "account_id": account["id"]}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{n}");
        ids.push(n["id"].as_str().unwrap().to_owned());
    }
    let manager = app.signed_in("manager@demo.test").await;
    (app, ws, manager, ids)
}

async fn lead(client: &Client, ws: &str, body: Value) -> Value {
    let (status, lead) = client.post(&format!("/api/workspaces/{ws}/leads"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    lead
}

async fn campaign(client: &Client, ws: &str, body: Value) -> String {
    let (status, c) = client.post(&format!("/api/workspaces/{ws}/campaigns"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["status"], "draft");
    c["id"].as_str().unwrap().to_owned()
}

async fn act(client: &Client, ws: &str, kind: &str, id: &str, action: &str) -> (StatusCode, Value) {
    client.post(&format!("/api/workspaces/{ws}/{kind}/{id}/{action}"), json!({})).await
}

/// The outbox rows of a campaign: (to_phone, from_number, body, state, skip_reason).
async fn rows(app: &TestApp, campaign: &str) -> Vec<(String, String, String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT to_phone, from_number, body, state, skip_reason FROM outbox WHERE campaign_id = $1::uuid ORDER BY to_phone",
    )
    .bind(campaign)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn leads_crud_filters_paging_and_bulk_errors() {
    let (_app, ws, manager, _) = setup().await;
    let path = format!("/api/workspaces/{ws}/leads");
    let ana = lead(
        &manager,
        &ws,
        json!({"phone": "(305) 555-0150", "first_name": "Ana", "tags": ["T1", "vip"],
        "time_zone": "America/New_York", "line_type": "mobile", "attributes": {"street": "1 Oak St"}}),
    )
    .await;
    assert_eq!((ana["phone"].as_str(), ana["state"].as_str()), (Some("+13055550150"), None));
    assert_eq!(ana["tags"], json!(["t1", "vip"]));
    let (status, body) = manager.post(&path, json!({"phone": "+13055550150"})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "duplicate");
    assert_eq!(body["field"], "phone");
    for (bad, field) in [
        (json!({"phone": "hello"}), "phone"),
        (json!({"phone": "+13055550151", "time_zone": "Mars/Base"}), "time_zone"),
        (json!({"phone": "+13055550151", "state": "ZZ"}), "state"),
        (json!({"phone": "+13055550151", "line_type": "fax"}), "line_type"),
    ] {
        let (status, body) = manager.post(&path, bad).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(body["field"], field, "{body}");
    }
    // Bulk: upsert by phone, errors with index and field; a repeated phone is refused.
    let (status, out) = manager
        .post(
            &format!("{path}/bulk"),
            json!({"leads": [
                {"phone": "+13055550150", "first_name": "Ana Maria", "tags": ["t1"]},
                {"phone": "+13055550152", "state": "FL", "tags": ["t1"]},
                {"phone": "nope"},
                {"phone": "+13055550153", "time_zone": "Nowhere/Land"},
                {"phone": "305-555-0152"},
                {"phone": 5},
                {"phone": "+13055550154", "tags": ["t1"]}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!((out["created"].as_u64(), out["updated"].as_u64()), (Some(2), Some(1)), "{out}");
    let errors: Vec<(u64, &str)> = out["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(2, "leads[2].phone"), (3, "leads[3].time_zone"), (4, "leads[4].phone"), (5, "leads[5]")]);
    let (status, body) =
        manager.post(&format!("{path}/bulk"), json!({"leads": vec![json!({"phone": "x"}); 10_001]})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("leads")));
    // Filters and keyset paging.
    let (_, page) = manager.get(&format!("{path}?tag=t1&limit=2")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["first_name"], "Ana Maria");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = manager.get(&format!("{path}?tag=t1&limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let (_, fl) = manager.get(&format!("{path}?state=FL&q=0152")).await;
    assert_eq!(fl["items"].as_array().unwrap().len(), 1);
    let (status, body) = manager.get(&format!("{path}?limit=0")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
    // Delete, then 404.
    let id = ana["id"].as_str().unwrap();
    assert_eq!(manager.delete(&format!("{path}/{id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(manager.delete(&format!("{path}/{id}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn campaign_validation_names_the_field_and_viewers_cannot_write() {
    let (app, ws, manager, _) = setup().await;
    let path = format!("/api/workspaces/{ws}/campaigns");
    for (bad, field) in [
        (json!({"name": "x", "steps": [{"after_days": 0, "templates": ["Hi {{first_name"]}]}), "steps[0].templates[0]"),
        (json!({"name": "x", "steps": []}), "steps"),
        (json!({"name": "x", "steps": [{"after_days": 2, "templates": ["a"]}]}), "steps[0].after_days"),
        (
            json!({"name": "x", "steps": [{"after_days": 0, "templates": ["a"]}, {"after_days": 0, "templates": ["b"]}]}),
            "steps[1].after_days",
        ),
        (json!({"name": "", "steps": [{"after_days": 0, "templates": ["a"]}]}), "name"),
        (
            json!({"name": "x", "steps": [{"after_days": 0, "templates": ["a"]}], "audience": {"states": ["ZZ"]}}),
            "audience.states",
        ),
        (
            json!({"name": "x", "steps": [{"after_days": 0, "templates": ["a"]}], "number_pool": [Uuid::new_v4()]}),
            "number_pool",
        ),
        (
            json!({"name": "x", "steps": [{"after_days": 0, "templates": ["a"]}], "retext_pair_days": -1}),
            "retext_pair_days",
        ),
    ] {
        let (status, body) = manager.post(&path, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }
    let viewer = app.signed_in("viewer@demo.test").await;
    let (status, body) =
        viewer.post(&path, json!({"name": "x", "steps": [{"after_days": 0, "templates": ["a"]}]})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = viewer.post(&format!("/api/workspaces/{ws}/leads"), json!({"phone": "+13055550150"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = viewer.post(&format!("/api/workspaces/{ws}/crusades"), json!({"name": "x"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, list) = viewer.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["name"], "Spring sellers: first touch", "the demo seed's draft");
}

#[tokio::test]
async fn lifecycle_moves_and_refusals() {
    let (app, ws, manager, _) = setup().await;
    lead(&manager, &ws, json!({"phone": "+12125550150", "first_name": "Ana", "tags": ["life"]})).await;
    lead(&manager, &ws, json!({"phone": "+12125550151", "first_name": "Ben", "tags": ["life"]})).await;
    let id = campaign(
        &manager,
        &ws,
        json!({"name": "Life", "audience": {"tags": ["life"]},
        "steps": [{"after_days": 0, "templates": ["Hi {{first_name}}"]}, {"after_days": 2, "templates": ["Again?"]}]}),
    )
    .await;
    let (status, body) = act(&manager, &ws, "campaigns", &id, "pause").await;
    assert_error(status, &body, StatusCode::CONFLICT, "invalid_transition");
    assert_eq!(body["field"], "status");
    let (status, body) = act(&manager, &ws, "campaigns", &id, "start").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("running")), "{body}");
    assert_eq!(act(&manager, &ws, "campaigns", &id, "start").await.1["field"], "status");
    let (status, body) = manager.patch(&format!("/api/workspaces/{ws}/campaigns/{id}"), json!({"name": "New"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::CONFLICT, Some("status")));
    assert_eq!(manager.delete(&format!("/api/workspaces/{ws}/campaigns/{id}")).await.0, StatusCode::CONFLICT);
    assert_eq!(act(&manager, &ws, "campaigns", &id, "pause").await.1["status"], "paused");
    let (status, body) = manager.patch(&format!("/api/workspaces/{ws}/campaigns/{id}"), json!({"name": "New"})).await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::OK, Some("New")));
    assert_eq!(act(&manager, &ws, "campaigns", &id, "resume").await.1["status"], "running");
    let (_, got) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{id}")).await;
    assert_eq!((got["counters"]["materialized"].as_i64(), got["queued"].as_i64()), (Some(2), Some(2)), "{got}");
    assert_eq!(act(&manager, &ws, "campaigns", &id, "cancel").await.1["status"], "canceled");
    let states: Vec<String> = rows(&app, &id).await.into_iter().map(|r| r.3).collect();
    assert_eq!(states, ["canceled", "canceled"]);
    let (_, got) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{id}")).await;
    assert_eq!((got["counters"]["canceled"].as_i64(), got["queued"].as_i64()), (Some(2), Some(0)), "{got}");
    assert_eq!(act(&manager, &ws, "campaigns", &id, "resume").await.0, StatusCode::CONFLICT);
    let audit: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'campaign.%' AND target_id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audit, 6, "created, started, paused, updated, resumed, canceled");
    assert_eq!(manager.delete(&format!("/api/workspaces/{ws}/campaigns/{id}")).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn crusades_drive_their_campaigns() {
    let (app, ws, manager, _) = setup().await;
    lead(&manager, &ws, json!({"phone": "+13055550160", "first_name": "Fl", "tags": ["cru"]})).await;
    let crusades_path = format!("/api/workspaces/{ws}/crusades");
    let (status, body) = manager.post(&crusades_path, json!({"name": "Bad", "days": ["funday"]})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("days")));
    let (status, body) =
        manager.post(&crusades_path, json!({"name": "Bad", "start_time": "20:00", "end_time": "09:00"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("end_time")));
    let (status, crusade) = manager
        .post(
            &crusades_path,
            json!({"name": "Weekdays", "days": ["mon", "tue", "wed", "thu", "fri"],
            "start_time": "09:30", "end_time": "22:00", "throttle_per_minute": 30, "jitter_seconds": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{crusade}");
    assert_eq!(crusade["days"], json!(["mon", "tue", "wed", "thu", "fri"]));
    let k = crusade["id"].as_str().unwrap().to_owned();
    let step = json!([{"after_days": 0, "templates": ["Hi {{first_name}}"]}]);
    let a =
        campaign(&manager, &ws, json!({"name": "A", "steps": step, "audience": {"tags": ["cru"]}, "crusade_id": k}))
            .await;
    let b =
        campaign(&manager, &ws, json!({"name": "B", "steps": step, "audience": {"tags": ["cru"]}, "crusade_id": k}))
            .await;
    let (status, body) = act(&manager, &ws, "campaigns", &a, "start").await;
    assert_error(status, &body, StatusCode::CONFLICT, "driven_by_crusade");
    assert_eq!(body["field"], "crusade_id");

    let (status, body) = act(&manager, &ws, "crusades", &k, "start").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("running")), "{body}");
    let (_, got) = manager.get(&format!("{crusades_path}/{k}")).await;
    let statuses: Vec<&str> =
        got["campaigns"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["running", "running"]);
    assert_eq!(got["counters"]["materialized"], 2);
    // The window is the crusade's ∩ Florida's legal 08:00–20:00, on the crusade's days.
    let window: (i16, String, String) = sqlx::query_as(
        "SELECT window_days, window_start::text, window_end::text FROM outbox WHERE campaign_id = $1::uuid",
    )
    .bind(&a)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(window, (0b001_1111, "09:30:00".into(), "20:00:00".into()));
    for (action, want) in [("pause", "paused"), ("resume", "running"), ("cancel", "canceled")] {
        let (status, body) = act(&manager, &ws, "crusades", &k, action).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some(want)), "{action}: {body}");
        for c in [&a, &b] {
            let (_, got) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{c}")).await;
            assert_eq!(got["status"], want, "{action}");
        }
    }
    assert_eq!(act(&manager, &ws, "crusades", &k, "pause").await.1["field"], "status");
}

#[tokio::test]
async fn a_crusade_starting_later_is_scheduled_until_its_date() {
    let (app, ws, manager, _) = setup().await;
    lead(&manager, &ws, json!({"phone": "+13055550161", "first_name": "Fl", "tags": ["later"]})).await;
    let start = (Utc::now() + Duration::days(2)).date_naive();
    let (_, crusade) =
        manager.post(&format!("/api/workspaces/{ws}/crusades"), json!({"name": "Later", "start_date": start})).await;
    let k = crusade["id"].as_str().unwrap().to_owned();
    let c = campaign(
        &manager,
        &ws,
        json!({"name": "L", "audience": {"tags": ["later"]}, "crusade_id": k,
        "steps": [{"after_days": 0, "templates": ["Hello"]}]}),
    )
    .await;
    assert_eq!(act(&manager, &ws, "crusades", &k, "start").await.1["status"], "scheduled");
    assert!(rows(&app, &c).await.is_empty(), "nothing materialized before the date");
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(crusades::activate_due(&mut conn, Utc::now()).await.unwrap().is_empty());
    let flipped = crusades::activate_due(&mut conn, Utc::now() + Duration::days(2)).await.unwrap();
    assert_eq!(flipped.len(), 1);
    assert_eq!(flipped[0].1.to_string(), k);
    let (_, got) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{c}")).await;
    assert_eq!(got["status"], "running");
    assert_eq!(rows(&app, &c).await.len(), 1);
}

#[tokio::test]
async fn a_crusade_past_its_end_date_completes_and_cancels_what_is_queued() {
    let (app, ws, manager, _) = setup().await;
    lead(&manager, &ws, json!({"phone": "+13055550162", "first_name": "Fl", "tags": ["ending"]})).await;
    let end = Utc::now().date_naive();
    let (_, crusade) =
        manager.post(&format!("/api/workspaces/{ws}/crusades"), json!({"name": "Ending", "end_date": end})).await;
    let k = crusade["id"].as_str().unwrap().to_owned();
    let c = campaign(
        &manager,
        &ws,
        json!({"name": "E", "audience": {"tags": ["ending"]}, "crusade_id": k,
        "steps": [{"after_days": 0, "templates": ["Hello"]}]}),
    )
    .await;
    assert_eq!(act(&manager, &ws, "crusades", &k, "start").await.1["status"], "running");
    assert_eq!(rows(&app, &c).await.len(), 1);
    let mut conn = app.pool.acquire().await.unwrap();
    // The end date still runs somewhere in the US until midnight in Hawaii.
    assert!(crusades::end_due(&mut conn, Utc::now()).await.unwrap().iter().all(|(_, id)| id.to_string() != k));
    let ended = crusades::end_due(&mut conn, Utc::now() + Duration::days(2)).await.unwrap();
    assert!(ended.iter().any(|(_, id)| id.to_string() == k), "{ended:?}");
    let (_, got) = manager.get(&format!("/api/workspaces/{ws}/crusades/{k}")).await;
    assert_eq!(got["status"], "completed");
    let (_, got) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{c}")).await;
    assert_eq!(got["status"], "completed");
    let states: Vec<String> = rows(&app, &c).await.into_iter().map(|r| r.3).collect();
    assert_eq!(states, ["canceled"]);
}

#[tokio::test]
async fn materialization_routes_sticks_and_skips() {
    let (app, ws, manager, pool) = setup().await;
    let wsid = WorkspaceId(ws.parse().unwrap());
    for (phone, name) in [
        ("+13055550170", "Same area"),
        ("+14075550170", "Same state"),
        ("+15125550170", "Any"),
        ("+12125550170", "Sticky"),
        ("+12125550171", ""),
    ] {
        lead(&manager, &ws, json!({"phone": phone, "first_name": name, "tags": ["route"]})).await;
    }
    sqlx::query("INSERT INTO leads (workspace_id, id, phone, first_name, tags) VALUES ($1::uuid, $2, '+11235550100', 'Bad', '{route}')")
        .bind(&ws)
        .bind(Uuid::now_v7())
        .execute(&app.pool)
        .await
        .unwrap();
    // +1 212 555 0170 already talks to our 305 number; +1 305 555 0170 was texted before.
    sqlx::query("INSERT INTO conversations (workspace_id, id, our_number, their_number) VALUES ($1::uuid, $2, $3, '+12125550170')")
        .bind(&ws)
        .bind(Uuid::now_v7())
        .bind(N305)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, recent_sends) \
                 VALUES ($1::uuid, '+13055550170', '+19995550100', now() - interval '400 days', \
                         ARRAY[now() - interval '400 days'])",
    )
    .bind(&ws)
    .execute(&app.pool)
    .await
    .unwrap();
    let id = campaign(
        &manager,
        &ws,
        json!({"name": "Route", "audience": {"tags": ["route"]}, "number_pool": pool,
        "steps": [{"after_days": 0, "templates": ["Hi {{first_name}}"]}]}),
    )
    .await;
    assert_eq!(act(&manager, &ws, "campaigns", &id, "start").await.0, StatusCode::OK);
    let got = rows(&app, &id).await;
    let by_phone = |p: &str| got.iter().find(|r| r.0 == p).unwrap().clone();
    assert_eq!(by_phone("+13055550170").1, N305, "same area code");
    assert!([N305, N813].contains(&by_phone("+14075550170").1.as_str()), "same state (FL)");
    assert!([N305, N813, N212].contains(&by_phone("+15125550170").1.as_str()), "any number of the pool");
    assert_eq!(by_phone("+12125550170").1, N305, "sticky beats the same area code");
    assert_eq!(by_phone("+13055550170").2, "Hi Same area", "texted before: no opt-out language");
    assert_eq!(by_phone("+14075550170").2, "Hi Same state\nReply STOP to opt out.", "first contact");
    let skipped = |p: &str| {
        let r = by_phone(p);
        (r.3, r.4)
    };
    assert_eq!(skipped("+12125550171"), ("skipped".into(), Some("template".into())));
    assert_eq!(skipped("+11235550100"), ("skipped".into(), Some("invalid".into())));
    let (_, c) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{id}")).await;
    assert_eq!(c["counters"]["materialized"], 6);
    assert_eq!(c["counters"]["skipped"], json!({"invalid": 1, "template": 1}));
    assert_eq!(c["queued"], 4);
    // A re-run inserts and counts nothing.
    let mut conn = app.pool.acquire().await.unwrap();
    let again = plan::materialize(&mut conn, wsid, id.parse().unwrap(), Utc::now()).await.unwrap();
    assert_eq!((again.queued, again.skipped.len()), (0, 0));
    assert_eq!(rows(&app, &id).await.len(), 6);
    let (_, c) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{id}")).await;
    assert_eq!(c["counters"]["materialized"], 6);
}

/// An `Etc/GMT±N` zone whose local hour now is in `hours` (IANA names invert the sign).
fn zone_with_local_hour(hours: std::ops::RangeInclusive<i32>) -> String {
    let utc_hour = Utc::now().hour() as i32;
    let offset = (-12..=14).find(|o| hours.contains(&(utc_hour + o).rem_euclid(24))).unwrap();
    match offset {
        0 => "Etc/GMT".into(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

#[tokio::test]
async fn preview_counts_agree_with_send_verdict() {
    let (app, ws, manager, _) = setup().await;
    let (open, night) = (zone_with_local_hour(11..=17), zone_with_local_hour(1..=5));
    let leads = [
        ("+12125550180", "send", "Ana", "mobile", &open),
        ("+12125550181", "opted_out", "Ben", "mobile", &open),
        ("+12125550182", "dnc", "Cy", "mobile", &open),
        ("+12125550183", "pair_cooldown", "Di", "mobile", &open),
        ("+12125550184", "recipient_cooldown", "Ed", "mobile", &open),
        ("+12125550185", "outside_hours", "Flo", "mobile", &night),
        ("+12125550186", "template", "", "mobile", &open),
        ("+12125550187", "landline", "Gus", "landline", &open),
    ];
    for (phone, _, name, line, zone) in &leads {
        lead(
            &manager,
            &ws,
            json!({"phone": phone, "first_name": name, "line_type": line, "time_zone": zone, "tags": ["pv"]}),
        )
        .await;
    }
    for sql in [
        "INSERT INTO opt_outs (workspace_id, phone, source) VALUES ($1::uuid, '+12125550181', 'manual')",
        "INSERT INTO dnc_entries (workspace_id, id, lo, hi) VALUES ($1::uuid, gen_random_uuid(), 12125550182, 12125550182)",
        "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, recent_sends) \
         VALUES ($1::uuid, '+12125550183', '+12125550199', now() - interval '1 day', ARRAY[now() - interval '1 day'])",
        // Texted a day ago from a number outside the campaign's pool: the recipient cooldown.
        "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, recent_sends) \
         VALUES ($1::uuid, '+12125550184', '+19995550100', now() - interval '1 day', ARRAY[now() - interval '1 day'])",
    ] {
        sqlx::query(sql).bind(&ws).execute(&app.pool).await.unwrap();
    }
    let id = campaign(
        &manager,
        &ws,
        json!({"name": "Preview", "audience": {"tags": ["pv"]},
        "steps": [{"after_days": 0, "templates": ["Hi {{first_name}}"]}]}),
    )
    .await;
    let path = format!("/api/workspaces/{ws}/campaigns/{id}/preview");
    let (status, pv) = manager.get(&format!("{path}?limit=500")).await;
    assert_eq!(status, StatusCode::OK, "{pv}");
    assert_eq!(pv["total"], 8);
    for (phone, verdict, ..) in &leads {
        assert_eq!(pv["counts"][verdict], 1, "{verdict}: {pv}");
        let item = pv["items"].as_array().unwrap().iter().find(|i| i["phone"] == *phone).unwrap();
        assert_eq!(item["verdict"], *verdict, "{item}");
    }
    // Segments and cost count what will go: the sendable and the deferred message.
    let seg = |p: &str| {
        pv["items"].as_array().unwrap().iter().find(|i| i["phone"] == p).unwrap()["segments"].as_i64().unwrap()
    };
    let segments = seg("+12125550180") + seg("+12125550185");
    assert_eq!(pv["segments"], segments);
    assert!((pv["cost_usd"].as_f64().unwrap() - segments as f64 * 0.0083).abs() < 1e-9);
    // Pages and the verdict filter.
    let (_, one) = manager.get(&format!("{path}?limit=3")).await;
    assert_eq!(one["items"].as_array().unwrap().len(), 3);
    let (_, two) = manager.get(&format!("{path}?limit=3&cursor={}", one["next_cursor"].as_str().unwrap())).await;
    assert!(two["items"][0]["lead_id"].as_str() > one["items"][2]["lead_id"].as_str());
    let (_, sends) = manager.get(&format!("{path}?verdict=send")).await;
    assert_eq!(sends["items"].as_array().unwrap().len(), 1);
    let (status, body) = manager.get(&format!("{path}?verdict=maybe")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("verdict")));

    // Started, the engine's rows get the same verdicts from send_verdict as the preview said.
    assert_eq!(act(&manager, &ws, "campaigns", &id, "start").await.0, StatusCode::OK);
    let engine: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT to_phone, skip_reason, CASE WHEN state = 'queued' THEN send_verdict(workspace_id, to_phone, to_key, \
           from_number, step, time_zone, window_days, window_start, window_end, max_per_24h, 30, 90, now()) END \
         FROM outbox WHERE campaign_id = $1::uuid",
    )
    .bind(&id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for (phone, skip, verdict) in engine {
        let said = pv["items"].as_array().unwrap().iter().find(|i| i["phone"] == phone.as_str()).unwrap();
        let engine_says = skip.or(verdict).unwrap_or_else(|| "send".into());
        assert_eq!(said["verdict"], engine_says.as_str(), "{phone}");
    }
}

#[tokio::test]
async fn a_pool_without_active_numbers_skips_with_no_number() {
    let (app, ws, manager, pool) = setup().await;
    let admin = app.signed_in("admin@demo.test").await;
    let (status, _) =
        admin.patch(&format!("/api/workspaces/{ws}/numbers/{}", pool[1]), json!({"status": "paused"})).await;
    assert_eq!(status, StatusCode::OK);
    lead(&manager, &ws, json!({"phone": "+18135550190", "first_name": "Nia", "tags": ["nonum"]})).await;
    let id = campaign(
        &manager,
        &ws,
        json!({"name": "No number", "audience": {"tags": ["nonum"]}, "number_pool": [pool[1]],
        "steps": [{"after_days": 0, "templates": ["Hi {{first_name}}"]}]}),
    )
    .await;
    let (_, pv) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{id}/preview")).await;
    assert_eq!((pv["total"].as_i64(), pv["counts"]["no_number"].as_i64()), (Some(1), Some(1)), "{pv}");
    assert_eq!((pv["segments"].as_i64(), pv["cost_usd"].as_f64()), (Some(0), Some(0.0)));
    assert_eq!(act(&manager, &ws, "campaigns", &id, "start").await.0, StatusCode::OK);
    let (_, c) = manager.get(&format!("/api/workspaces/{ws}/campaigns/{id}")).await;
    assert_eq!(c["counters"]["skipped"], json!({"no_number": 1}), "{c}");
}

#[tokio::test]
async fn status_changes_are_published_on_the_crusade_and_campaign_topics() {
    let (_app, ws, manager, _) = setup().await;
    let (_, crusade) = manager.post(&format!("/api/workspaces/{ws}/crusades"), json!({"name": "Live"})).await;
    let k = crusade["id"].as_str().unwrap().to_owned();
    let c = campaign(
        &manager,
        &ws,
        json!({"name": "Live", "crusade_id": k, "audience": {"tags": ["none-yet"]},
        "steps": [{"after_days": 0, "templates": ["Hello"]}]}),
    )
    .await;
    let mut sock = ws::Ws::with_session(&manager).await;
    for topic in [format!("crusade:{k}"), format!("campaign:{c}")] {
        assert_eq!(sock.subscribe(&ws, &topic, json!({})).await["type"], "subscribed");
    }
    assert_eq!(act(&manager, &ws, "crusades", &k, "start").await.0, StatusCode::OK);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let e = sock.next_of("event").await;
        assert_eq!((e["kind"].as_str(), e["data"]["status"].as_str()), (Some("status"), Some("running")), "{e}");
        seen.push(e["topic"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, [format!("campaign:{c}"), format!("crusade:{k}")]);
}
