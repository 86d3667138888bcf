//! The compliance API against the real app and PostgreSQL (docs/engine.md "Compliance"):
//! opt-outs (manual, import with an answer per row, consent history, review, lift), the DNC
//! list (phones, ranges, import) and undeliverable numbers; bad input names the field; roles
//! decide who may read, write and lift (agent reads, manager writes, only owner/admin lift).

mod common;

use common::{TestApp, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_sender::compliance::suppression::{
    ConsentContext, OptOutSource, Suppressed, record_opt_out, suppression_of,
};
use switchboard_sender::{E164, WorkspaceId};

async fn post_csv(client: &common::Client, path: &str, csv: &str) -> (StatusCode, Value) {
    let resp = client
        .request(reqwest::Method::POST, path)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn audit_actions(app: &TestApp, ws: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action || ':' || outcome FROM audit_log WHERE workspace_id = $1::uuid ORDER BY id")
        .bind(ws)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn opt_outs_manual_list_review_history_and_lift() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let base = format!("/api/workspaces/{ws}/opt-outs");
    let (manager, agent, admin, viewer) = (
        app.signed_in("manager@demo.test").await,
        app.signed_in("agent@demo.test").await,
        app.signed_in("admin@demo.test").await,
        app.signed_in("viewer@demo.test").await,
    );

    let (status, body) = manager.post(&base, json!({"phone": "(415) 555-0101", "note": " asked on the phone "})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["phone"].as_str(), body["source"].as_str()), (Some("+14155550101"), Some("manual")));
    assert_eq!(body["note"], "asked on the phone");
    let (status, _) = manager.post(&base, json!({"phone": "+14155550101"})).await;
    assert_eq!(status, StatusCode::OK, "already opted out");
    for (req, field) in [
        (json!({"phone": "nope"}), "phone"),
        (json!({"phone": "+1 123 456 7890"}), "phone"),
        (json!({}), "phone"),
        (json!({"phone": "+14155550101", "extra": 1}), "extra"),
        (json!({"phone": "+14155550102", "note": "x".repeat(1001)}), "note"),
    ] {
        let (status, body) = manager.post(&base, req).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(body["field"], field, "{body}");
    }
    let (status, body) = agent.post(&base, json!({"phone": "+14155550102"})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // A plain-language revocation (recorded by the inbox) waits for review; another area code.
    let wsid: WorkspaceId = ws.parse().unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    for (phone, source) in [("+14155550100", OptOutSource::Phrase), ("+13105550100", OptOutSource::Keyword)] {
        record_opt_out(&mut conn, wsid, &E164::parse(phone).unwrap(), source, &ConsentContext::default())
            .await
            .unwrap();
    }

    let (status, page) = agent.get(&base).await;
    assert_eq!(status, StatusCode::OK, "agents read: {page}");
    let phones: Vec<&str> = page["items"].as_array().unwrap().iter().map(|o| o["phone"].as_str().unwrap()).collect();
    assert_eq!(phones, ["+13105550100", "+14155550100", "+14155550101"]);
    assert!(page["next_cursor"].is_null());
    let (_, page) = agent.get(&format!("{base}?q=%2B1415")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, page) = agent.get(&format!("{base}?needs_review=true")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["source"], "phrase");
    let (_, first) = agent.get(&format!("{base}?limit=2")).await;
    assert_eq!(first["next_cursor"], "+14155550100");
    let (_, second) = agent.get(&format!("{base}?limit=2&cursor=%2B14155550100")).await;
    assert_eq!(second["items"][0]["phone"], "+14155550101");
    assert!(second["next_cursor"].is_null());
    for (query, field) in [("limit=0", "limit"), ("q=abc", "q")] {
        let (status, body) = agent.get(&format!("{base}?{query}")).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(body["field"], field);
    }
    let (status, body) = viewer.get(&base).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // Review: the flag clears, the phone stays opted out.
    let (status, body) = agent.post(&format!("{base}/+14155550100/review"), json!({})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) =
        manager.post(&format!("{base}/+14155550100/review"), json!({"note": "clear revocation"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["needs_review"].as_bool(), body["note"].as_str()), (Some(false), Some("clear revocation")));
    let (status, _) = manager.post(&format!("{base}/+14155550199/review"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Lift: agents and managers may not; admins may, and the history keeps both events.
    let one = format!("{base}/+14155550101");
    for who in [&agent, &manager] {
        let (status, body) = who.delete(&one).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, body) = admin.delete(&one).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(suppression_of(&mut conn, wsid, &E164::parse("+14155550101").unwrap()).await.unwrap(), None);
    let (status, detail) = agent.get(&one).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(detail["opt_out"].is_null());
    let kinds: Vec<(&str, &str)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["source"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("opt_out", "manual"), ("opt_out", "manual"), ("opt_in", "manual")]);
    assert_eq!(detail["history"][2]["actor_id"], app.user_id("admin@demo.test").await);
    let (status, _) = admin.delete(&one).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer opted out");
    let (status, detail) = agent.get(&format!("{base}/+14155550100")).await;
    assert_eq!((status, detail["opt_out"]["source"].as_str()), (StatusCode::OK, Some("phrase")));
    assert_eq!(agent.get(&format!("{base}/+14155550177")).await.0, StatusCode::NOT_FOUND, "never opted out");
    let (status, body) = agent.get(&format!("{base}/12")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("phone")));

    let actions = audit_actions(&app, &ws).await;
    for want in [
        "opt_out.created:ok",
        "opt_out.created:denied",
        "opt_out.reviewed:ok",
        "opt_out.reviewed:denied",
        "opt_out.removed:denied",
        "opt_out.removed:ok",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

#[tokio::test]
async fn opt_out_import_answers_every_row() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let manager = app.signed_in("manager@demo.test").await;
    let path = format!("/api/workspaces/{ws}/opt-outs/import");
    manager.post(&format!("/api/workspaces/{ws}/opt-outs"), json!({"phone": "+14155550102"})).await;

    let csv =
        "Phone,Note,Vendor\n+14155550101,legacy list,x\n(415) 555-0102,,x\n+14155550101,,x\nnot a phone,,x\n,,x\n";
    let (status, report) = post_csv(&manager, &path, csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["rows"].as_array().unwrap();
    let answers: Vec<(u64, &str, Option<&str>)> =
        rows.iter().map(|r| (r["row"].as_u64().unwrap(), r["status"].as_str().unwrap(), r["field"].as_str())).collect();
    assert_eq!(
        answers,
        [
            (2, "accepted", None),
            (3, "already_listed", None),
            (4, "already_listed", None),
            (5, "rejected", Some("phone")),
            (6, "rejected", Some("phone")),
        ]
    );
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(2)));
    assert_eq!(report["ignored_columns"], json!(["vendor"]));
    let (source, note): (String, Option<String>) =
        sqlx::query_as("SELECT source, note FROM opt_outs WHERE workspace_id = $1::uuid AND phone = '+14155550101'")
            .bind(&ws)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((source.as_str(), note.as_deref()), ("import", Some("legacy list")));

    let (status, body) = post_csv(&manager, &path, "number_of_things\n1\n").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["field"], "phone");
    let (status, body) = manager.post(&path, json!("phone\n+14155550103")).await;
    assert_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let agent = app.signed_in("agent@demo.test").await;
    let (status, _) = post_csv(&agent, &path, "phone\n+14155550104\n").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(audit_actions(&app, &ws).await.contains(&"opt_out.imported:ok".to_owned()));
}

#[tokio::test]
async fn dnc_phones_ranges_import_and_undeliverable() {
    let app = TestApp::spawn().await;
    let ws = app.workspace_id("demo").await;
    let wsid: WorkspaceId = ws.parse().unwrap();
    let base = format!("/api/workspaces/{ws}/dnc");
    let (manager, agent, admin) = (
        app.signed_in("manager@demo.test").await,
        app.signed_in("agent@demo.test").await,
        app.signed_in("admin@demo.test").await,
    );

    let (status, one) = manager.post(&base, json!({"phone": "415-555-0150", "reason": "asked"})).await;
    assert_eq!(status, StatusCode::CREATED, "{one}");
    assert_eq!((one["phone"].as_str(), one["count"].as_i64()), (Some("+14155550150"), Some(1)));
    let (status, range) = manager.post(&base, json!({"from": "+14155550200", "to": "+14155550299"})).await;
    assert_eq!(status, StatusCode::CREATED, "{range}");
    assert_eq!((range["phone"].clone(), range["count"].as_i64()), (Value::Null, Some(100)));
    let (status, again) = manager.post(&base, json!({"from": "+14155550200", "to": "+14155550299"})).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &range["id"]), "the same span is listed once");
    for (req, field) in [
        (json!({"from": "+14155550299", "to": "+14155550200"}), "to"),
        (json!({"from": "+14155550200", "to": "+442071838750"}), "to"),
        (json!({"from": "+14155550200"}), "to"),
        (json!({"to": "+14155550200"}), "from"),
        (json!({"phone": "+14155550200", "from": "+14155550200", "to": "+14155550201"}), "phone"),
        (json!({"phone": "12"}), "phone"),
        (json!({}), "phone"),
        (json!({"phone": "+14155550200", "reason": "x".repeat(501)}), "reason"),
    ] {
        let (status, body) = manager.post(&base, req.clone()).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(body["field"], field, "{req}: {body}");
    }
    let (status, _) = agent.post(&base, json!({"phone": "+14155550151"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let mut conn = app.pool.acquire().await.unwrap();
    for (phone, listed) in [("+14155550150", true), ("+14155550250", true), ("+14155550300", false)] {
        let got = suppression_of(&mut conn, wsid, &E164::parse(phone).unwrap()).await.unwrap();
        assert_eq!(got == Some(Suppressed::Dnc), listed, "{phone}");
    }

    let (status, page) = agent.get(&format!("{base}?limit=1")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["id"], range["id"], "newest first");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = agent.get(&format!("{base}?limit=1&cursor={cursor}")).await;
    assert_eq!(page["items"][0]["id"], one["id"]);
    let (status, body) = agent.get(&format!("{base}?cursor=zzz")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("cursor")));

    let csv = "phone,from,to,reason\n+14155550160,,,court order\n,+14155550400,+14155550409,\n+14155550150,,,\n\
               ,+14155550409,+14155550400,\nxyz,,,\n";
    let (status, report) = post_csv(&manager, &format!("{base}/import"), csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let answers: Vec<(&str, Option<&str>)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["field"].as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("accepted", None),
            ("accepted", None),
            ("already_listed", None),
            ("rejected", Some("to")),
            ("rejected", Some("phone"))
        ]
    );
    let got = suppression_of(&mut conn, wsid, &E164::parse("+14155550405").unwrap()).await.unwrap();
    assert_eq!(got, Some(Suppressed::Dnc));

    // Lifting a DNC entry is for owners and admins.
    let entry = format!("{base}/{}", one["id"].as_str().unwrap());
    let (status, _) = manager.delete(&entry).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(admin.delete(&entry).await.0, StatusCode::NO_CONTENT);
    assert_eq!(admin.delete(&entry).await.0, StatusCode::NOT_FOUND);
    assert_eq!(suppression_of(&mut conn, wsid, &E164::parse("+14155550150").unwrap()).await.unwrap(), None);
    let actions = audit_actions(&app, &ws).await;
    for want in ["dnc.created:ok", "dnc.created:denied", "dnc.deleted:denied", "dnc.deleted:ok", "dnc.imported:ok"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }

    sqlx::query(
        "INSERT INTO undeliverable_numbers (workspace_id, phone, reason, error_code) VALUES \
         ($1::uuid, '+14155550501', 'invalid', 21211), ($1::uuid, '+14155550502', 'landline', 21614)",
    )
    .bind(&ws)
    .execute(&app.pool)
    .await
    .unwrap();
    let path = format!("/api/workspaces/{ws}/undeliverable");
    let (status, page) = agent.get(&format!("{path}?limit=1")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (page["items"][0]["reason"].as_str(), page["items"][0]["error_code"].as_i64()),
        (Some("invalid"), Some(21211))
    );
    let (_, page) = agent.get(&format!("{path}?limit=1&cursor={}", "%2B14155550501")).await;
    assert_eq!(page["items"][0]["phone"], "+14155550502");
    let viewer = app.signed_in("viewer@demo.test").await;
    assert_eq!(viewer.get(&path).await.0, StatusCode::FORBIDDEN);
}
