//! The carrier registry against the real server: accounts (secrets sealed at rest, never shown),
//! numbers, warm-up caps, roles, and the CSV import (every row accounted for).

mod common;

use common::{Client, TestApp, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_sender::WorkspaceId;
use switchboard_sender::accounts;
use switchboard_server::config::SecretKey;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const SID2: &str = "ACfedcba9876543210fedcba9876543210";
const TOKEN: &str = "tok3n-s3cret-0123456789abcdefXYZ9";

async fn create_account(client: &Client, ws: &str, sid: &str) -> Value {
    let (status, body) = client
        .post(
            &format!("/api/workspaces/{ws}/accounts"),
            json!({"name": "Main", "account_sid": sid, "auth_token": TOKEN, "base_url": "http://127.0.0.1:9/",
                   "daily_cap": 5000, "mps_cap": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn post_csv(client: &Client, path: &str, csv: &str) -> (StatusCode, Value) {
    let resp = client
        .request(Method::POST, path)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn audit(app: &TestApp, action: &str) -> Vec<(String, Option<Value>, Option<Value>)> {
    sqlx::query_as("SELECT outcome, before, after FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn account_crud_never_shows_or_stores_the_token_in_plain_text() {
    let key = [9u8; 32];
    let app = TestApp::spawn_with(1, false, |c| c.secret_key = SecretKey(key)).await;
    let ws = app.workspace_id("demo").await;
    let admin = app.signed_in("admin@demo.test").await;
    let created = create_account(&admin, &ws, SID).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["auth_token_set"], true);
    assert_eq!(created["auth_token_last4"], "XYZ9");
    assert_eq!(created["base_url"], "http://127.0.0.1:9");
    assert_eq!(created["status"], "active");
    assert_eq!(created["mps_cap"], 10.0);

    let (_, list) = admin.get(&format!("/api/workspaces/{ws}/accounts")).await;
    let (_, one) = admin.get(&format!("/api/workspaces/{ws}/accounts/{id}")).await;
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(one["account_sid"], SID);

    // Duplicate SID in the same workspace: 409 naming the field.
    let (status, body) = admin
        .post(
            &format!("/api/workspaces/{ws}/accounts"),
            json!({"name": "Again", "account_sid": SID, "auth_token": TOKEN}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "duplicate");
    assert_eq!(body["field"], "account_sid");

    // Rotation and changes.
    let rotated = "n3w-t0ken-abcdefabcdefabcdefQRST";
    let (status, updated) = admin
        .patch(
            &format!("/api/workspaces/{ws}/accounts/{id}"),
            json!({"auth_token": rotated, "status": "paused", "daily_cap": null, "name": "Main (paused)"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["auth_token_last4"], "QRST");
    assert_eq!(updated["status"], "paused");
    assert!(updated["daily_cap"].is_null());
    assert_eq!(updated["mps_cap"], 10.0, "untouched fields stay");

    // The stored token opens with the server's key to the rotated value, and only with it.
    let ws_id: WorkspaceId = ws.parse().unwrap();
    let account_id: uuid::Uuid = id.parse().unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let creds = accounts::credentials(&mut conn, ws_id, &key, account_id).await.unwrap().unwrap();
    assert_eq!(creds.auth_token.expose(), rotated);
    assert!(!format!("{creds:?}").contains(rotated), "Debug hides the token");
    assert!(accounts::credentials(&mut conn, ws_id, &[1; 32], account_id).await.is_err());
    // A ciphertext moved to another row does not open there.
    let other = create_account(&admin, &ws, SID2).await;
    let other_id: uuid::Uuid = other["id"].as_str().unwrap().parse().unwrap();
    sqlx::query(
        "UPDATE carrier_accounts o SET auth_token_ciphertext = a.auth_token_ciphertext, \
         auth_token_nonce = a.auth_token_nonce FROM carrier_accounts a WHERE a.id = $1 AND o.id = $2",
    )
    .bind(account_id)
    .bind(other_id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert!(accounts::credentials(&mut conn, ws_id, &key, other_id).await.is_err());
    sqlx::query("DELETE FROM carrier_accounts WHERE id = $1").bind(other_id).execute(&app.pool).await.unwrap();

    // Neither token is anywhere in plain text: not in the row, the audit log or any response.
    let raw: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT auth_token_ciphertext, auth_token_nonce FROM carrier_accounts")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(raw.len(), 1);
    for token in [TOKEN, rotated] {
        assert!(!raw[0].0.windows(token.len()).any(|w| w == token.as_bytes()), "ciphertext holds the token");
        let row_text: String = sqlx::query_scalar("SELECT row_to_json(a)::text FROM carrier_accounts a")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(!row_text.contains(token));
        let audit_text: String =
            sqlx::query_scalar("SELECT coalesce(string_agg(row_to_json(l)::text, ' '), '') FROM audit_log l")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert!(!audit_text.contains(token), "the audit log holds a token");
        for body in [&created, &updated, &list, &one] {
            assert!(!body.to_string().contains(token), "a response holds the token");
        }
    }

    let rows = audit(&app, "account.updated").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.as_ref().unwrap()["status"], "active");
    assert_eq!(rows[0].2.as_ref().unwrap()["status"], "paused");
    assert_eq!(rows[0].2.as_ref().unwrap()["auth_token_rotated"], true);

    // Bad input names the field.
    for (body, field) in [
        (json!({"name": "x", "account_sid": "AC12", "auth_token": TOKEN}), "account_sid"),
        (json!({"name": "x", "account_sid": SID2, "auth_token": "short"}), "auth_token"),
        (json!({"name": "x", "account_sid": SID2, "auth_token": TOKEN, "base_url": "ftp://x"}), "base_url"),
        (json!({"name": "x", "account_sid": SID2, "auth_token": TOKEN, "daily_cap": 0}), "daily_cap"),
        (json!({"name": "x", "account_sid": SID2, "auth_token": TOKEN, "status": "gone"}), "status"),
        (
            json!({"name": "x", "account_sid": SID2, "auth_token": TOKEN, "api_key_sid": "SK0123456789abcdef0123456789abcdef"}),
            "api_key_secret",
        ),
        (json!({"name": "", "account_sid": SID2, "auth_token": TOKEN}), "name"),
    ] {
        let (status, resp) = admin.post(&format!("/api/workspaces/{ws}/accounts"), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
        assert_eq!(resp["field"], field, "{resp}");
    }

    assert_eq!(admin.delete(&format!("/api/workspaces/{ws}/accounts/{id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(admin.get(&format!("/api/workspaces/{ws}/accounts/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(audit(&app, "account.deleted").await.len(), 1);
}

#[tokio::test]
async fn numbers_crud_filters_warmup_and_the_account_in_use() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let owner = app.signed_in("owner@demo.test").await;
    let account = create_account(&owner, &ws, SID).await;
    let account_id = account["id"].as_str().unwrap();
    let path = format!("/api/workspaces/{ws}/numbers");

    let today = chrono::Utc::now().date_naive();
    let started = today - chrono::Days::new(4); // today is day 5
    let (status, n1) = owner
        .post(
            &path,
            json!({"e164": "(415) 555-2671", "account_id": account_id, "daily_cap": 300, "campaign_10dlc": "CXYZ123",
                   "warmup": [{"day": 1, "daily_cap": 50}, {"day": 4, "daily_cap": 100}, {"day": 10, "daily_cap": 1000}],
                   "warmup_started_on": started}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{n1}");
    assert_eq!(n1["e164"], "+14155552671");
    assert_eq!(n1["area_code"], "415");
    assert_eq!(n1["state"], "CA");
    assert_eq!(n1["mps"], 1.0);
    assert_eq!(n1["sms"], true);
    assert_eq!(n1["health"], "good");
    assert_eq!(n1["effective_daily_cap"], 100, "min(300, day-5 step 100)");
    let n1_id = n1["id"].as_str().unwrap().to_owned();

    let (status, n2) =
        owner.post(&path, json!({"e164": "+1 212 555 0123", "account_id": account_id, "mps": 2.5})).await;
    assert_eq!(status, StatusCode::CREATED, "{n2}");
    assert_eq!(n2["state"], "NY");
    assert!(n2["effective_daily_cap"].is_null());

    // Duplicate, bad input, foreign account.
    let (status, body) = owner.post(&path, json!({"e164": "+14155552671", "account_id": account_id})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "duplicate");
    assert_eq!(body["field"], "e164");
    for (body, field) in [
        (json!({"e164": "hello", "account_id": account_id}), "e164"),
        (json!({"e164": "+13105550100", "account_id": uuid::Uuid::new_v4()}), "account_id"),
        (json!({"e164": "+13105550100", "account_id": account_id, "state": "TX"}), "state"),
        (json!({"e164": "+13105550100", "account_id": account_id, "mps": -1}), "mps"),
        (json!({"e164": "+13105550100", "account_id": account_id, "warmup": [{"day": 2, "daily_cap": 5}]}), "warmup"),
        (json!({"e164": "+13105550100", "account_id": account_id, "status": "on"}), "status"),
    ] {
        let (status, resp) = owner.post(&path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
        assert_eq!(resp["field"], field, "{resp}");
    }

    // Filters and paging.
    let (_, page) = owner.get(&format!("{path}?state=ca")).await;
    assert_eq!(page["numbers"].as_array().unwrap().len(), 1);
    assert_eq!(page["numbers"][0]["e164"], "+14155552671");
    let (_, page) = owner.get(&format!("{path}?area_code=212&account_id={account_id}&status=active")).await;
    assert_eq!(page["numbers"].as_array().unwrap().len(), 1);
    let (_, page) = owner.get(&format!("{path}?limit=1")).await;
    assert_eq!(page["numbers"][0]["e164"], "+12125550123");
    let next = page["next_after"].as_str().unwrap();
    let (_, page2) = owner.get(&format!("{path}?limit=1&after={}", next.replace('+', "%2B"))).await;
    assert_eq!(page2["numbers"][0]["e164"], "+14155552671");
    let (status, body) = owner.get(&format!("{path}?status=gone")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "status");

    // Update: pause, lower the cap, change health; audited with before and after.
    let (status, upd) = owner
        .patch(&format!("{path}/{n1_id}"), json!({"status": "paused", "daily_cap": 80, "health": "warning"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{upd}");
    assert_eq!(upd["effective_daily_cap"], 80);
    assert_eq!(upd["status"], "paused");
    let rows = audit(&app, "number.updated").await;
    assert_eq!(rows[0].1.as_ref().unwrap()["daily_cap"], 300);
    assert_eq!(rows[0].2.as_ref().unwrap()["daily_cap"], 80);
    let (status, body) = owner.patch(&format!("{path}/{n1_id}"), json!({"e164": "+15555550100"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("e164")));

    // An account with numbers cannot go.
    let (status, body) = owner.delete(&format!("/api/workspaces/{ws}/accounts/{account_id}")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "account_in_use");
    let (_, acct) = owner.get(&format!("/api/workspaces/{ws}/accounts/{account_id}")).await;
    assert_eq!(acct["number_count"], 2);
    for n in [&n1_id, n2["id"].as_str().unwrap()] {
        assert_eq!(owner.delete(&format!("{path}/{n}")).await.0, StatusCode::NO_CONTENT);
    }
    assert_eq!(owner.delete(&format!("/api/workspaces/{ws}/accounts/{account_id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(audit(&app, "number.deleted").await.len(), 2);
}

#[tokio::test]
async fn everyone_reads_only_owners_and_admins_change_and_refusals_are_audited() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let admin = app.signed_in("admin@demo.test").await;
    let account = create_account(&admin, &ws, SID).await;
    let account_id = account["id"].as_str().unwrap();
    let (_, number) = admin
        .post(&format!("/api/workspaces/{ws}/numbers"), json!({"e164": "+14155552671", "account_id": account_id}))
        .await;
    let number_id = number["id"].as_str().unwrap();
    for email in ["manager@demo.test", "agent@demo.test", "viewer@demo.test"] {
        let c = app.signed_in(email).await;
        assert_eq!(c.get(&format!("/api/workspaces/{ws}/accounts")).await.0, StatusCode::OK);
        assert_eq!(c.get(&format!("/api/workspaces/{ws}/accounts/{account_id}")).await.0, StatusCode::OK);
        let (status, page) = c.get(&format!("/api/workspaces/{ws}/numbers")).await;
        assert_eq!((status, page["numbers"].as_array().unwrap().len()), (StatusCode::OK, 1));
        let (status, body) = c
            .post(
                &format!("/api/workspaces/{ws}/accounts"),
                json!({"name": "x", "account_sid": SID2, "auth_token": TOKEN}),
            )
            .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, body) =
            c.patch(&format!("/api/workspaces/{ws}/accounts/{account_id}"), json!({"status": "paused"})).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, body) = c.delete(&format!("/api/workspaces/{ws}/numbers/{number_id}")).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        let (status, body) = post_csv(&c, &format!("/api/workspaces/{ws}/numbers/import"), "e164,account_sid\n").await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let denied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE outcome = 'denied' AND action IN \
         ('account.created', 'account.updated', 'number.deleted', 'number.imported')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(denied, 12);
    let (_, acct) = admin.get(&format!("/api/workspaces/{ws}/accounts/{account_id}")).await;
    assert_eq!(acct["status"], "active", "nothing changed");
}

#[tokio::test]
async fn invariant_8_nothing_lost_on_numbers_import_every_row_accounted() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let admin = app.signed_in("admin@demo.test").await;
    let account = create_account(&admin, &ws, SID).await;
    let (_, existing) = admin
        .post(
            &format!("/api/workspaces/{ws}/numbers"),
            json!({"e164": "+13055550100", "account_id": account["id"], "status": "paused"}),
        )
        .await;
    let path = format!("/api/workspaces/{ws}/numbers/import");
    let csv = format!(
        "phone,account_sid,sms,mms,campaign_10dlc,mps,daily_cap,state,note\n\
         (415) 555-2671,{SID},true,true,CAMP1,2,500,,new\n\
         +13055550100,{SID},yes,no,,,250,FL,existing -> updated\n\
         not-a-number,{SID},,,,,,,bad phone\n\
         +12125550123,{SID2},,,,,,,unknown account\n\
         +14155552671,{SID},,,,,,,duplicate in file\n\
         +17135550100,{SID},,,,fast,,,bad mps\n\
         +17135550101,{SID},,,,,,CA,wrong state\n\
         \"+1 (646) 555-0199\",{SID},0,1,,0.5,,,quoted\n"
    );
    let (status, report) = post_csv(&admin, &path, &csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["rows"].as_array().unwrap();
    let got: Vec<(u64, &str, &str)> = rows
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["status"].as_str().unwrap(), r["field"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "created", ""),
            (3, "updated", ""),
            (4, "rejected", "e164"),
            (5, "rejected", "account_sid"),
            (6, "rejected", "e164"),
            (7, "rejected", "mps"),
            (8, "rejected", "state"),
            (9, "created", ""),
        ],
        "{report}"
    );
    for r in rows.iter().filter(|r| r["status"] == "rejected") {
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.starts_with(r["field"].as_str().unwrap()), "the reason names the column: {reason}");
    }
    assert!(rows[4]["reason"].as_str().unwrap().contains("row 2"), "{}", rows[4]);
    assert_eq!(
        (report["created"].as_u64(), report["updated"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1), Some(5))
    );
    assert_eq!(report["ignored_columns"], json!(["note"]));

    // Good rows landed; the updated number kept its status and took the file's values.
    let (_, page) = admin.get(&format!("/api/workspaces/{ws}/numbers")).await;
    let numbers = page["numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 3);
    let miami = numbers.iter().find(|n| n["e164"] == "+13055550100").unwrap();
    assert_eq!((miami["daily_cap"].as_i64(), miami["status"].as_str()), (Some(250), Some("paused")));
    assert_eq!(miami["id"], existing["id"]);
    let sf = numbers.iter().find(|n| n["e164"] == "+14155552671").unwrap();
    assert_eq!(
        (sf["mms"].as_bool(), sf["mps"].as_f64(), sf["campaign_10dlc"].as_str()),
        (Some(true), Some(2.0), Some("CAMP1"))
    );
    let nyc = numbers.iter().find(|n| n["e164"] == "+16465550199").unwrap();
    assert_eq!(
        (nyc["sms"].as_bool(), nyc["mps"].as_f64(), nyc["state"].as_str()),
        (Some(false), Some(0.5), Some("NY"))
    );
    // Audited: one entry per landed row and one for the import.
    assert_eq!(audit(&app, "number.imported").await.len(), 1);
    let updated = audit(&app, "number.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].1.as_ref().unwrap()["daily_cap"], Value::Null);

    // File-level problems and the wrong content type name what is wrong.
    let (status, body) = post_csv(&admin, &path, "phone,sms\n+14155550100,true\n").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "account_sid");
    let (status, body) = admin.post(&path, json!({"e164": "+14155550100"})).await;
    assert_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}
