//! Spec agreement: the simulator's Message resource, list page and accepted create parameters
//! checked against Twilio's own OpenAPI spec (`@twilio/cli-core` 9.0.0, fetched by
//! loadtests/spec/setup.sh with `npm ci`; never committed).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use switchboard_loadtests::{SimConfig, Simulator};

fn spec() -> Value {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("loadtests/spec");
    let setup = Command::new("bash").arg(dir.join("setup.sh")).status().expect("bash runs");
    assert!(setup.success(), "loadtests/spec/setup.sh (npm ci) failed");
    let path = dir.join("node_modules/@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Resolves `{"$ref": "#/components/schemas/x"}`.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(path) => path.split('/').fold(spec, |node, key| &node[key]),
        None => schema,
    }
}

/// Whether `value` has the JSON type `schema` documents (null when nullable; enums checked).
fn conforms(spec: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let nullable = schema["nullable"].as_bool().unwrap_or(false);
    let schema = resolve(spec, schema);
    if value.is_null() {
        return if nullable || schema["nullable"].as_bool().unwrap_or(false) { Ok(()) } else { Err("null".into()) };
    }
    let ok = match schema["type"].as_str() {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        other => return Err(format!("undocumented type {other:?}")),
    };
    if !ok {
        return Err(format!("{value} is not a {}", schema["type"]));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{value} is not one of {allowed:?}"));
    }
    Ok(())
}

fn check_message(spec: &Value, message: &Value) {
    let schema = &spec["components"]["schemas"]["api.v2010.account.message"]["properties"];
    let documented: BTreeSet<&str> = schema.as_object().unwrap().keys().map(String::as_str).collect();
    let ours: BTreeSet<&str> = message.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(ours, documented, "exactly the documented properties");
    for (name, value) in message.as_object().unwrap() {
        if let Err(e) = conforms(spec, &schema[name], value) {
            panic!("{name}: {e}");
        }
    }
}

fn operation<'a>(spec: &'a Value, id: &str) -> &'a Value {
    spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|p| p.as_object().unwrap().values())
        .find(|op| op["operationId"] == id)
        .unwrap_or_else(|| panic!("{id} in the spec"))
}

#[test]
fn the_create_parameters_we_interpret_are_twilios() {
    let spec = spec();
    let body =
        &operation(&spec, "CreateMessage")["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    let documented: BTreeSet<&str> = body["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    for name in switchboard_loadtests::create::INTERPRETED_PARAMS {
        assert!(documented.contains(name), "{name} is not a CreateMessage parameter");
    }
    assert_eq!(body["required"], serde_json::json!(["To"]));
}

#[tokio::test]
async fn created_fetched_and_listed_messages_match_the_spec() {
    let spec = spec();
    let mut config = SimConfig { bind: "127.0.0.1:0".parse().unwrap(), default_mps: 1000.0, ..Default::default() };
    config.behaviour.callbacks.sent_delay_ms = 1;
    config.behaviour.callbacks.delivery_delay_ms = 1;
    config.behaviour.callbacks.error_rates = [(30007, 0.5)].into();
    let sim = Simulator::start(config).await.unwrap();
    let account = &sim.accounts[0];
    let client = reqwest::Client::new();
    let auth = |r: reqwest::RequestBuilder| r.basic_auth(&account.sid, Some(&account.auth_token));
    let mut sids = Vec::new();
    let service = account.messaging_services[0].sid.as_str();
    for (i, sender) in [("From", account.numbers[0].number.as_str()), ("MessagingServiceSid", service)]
        .iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let to = format!("+1415555{:04}", 2671 + i);
        let form = [("To", to.as_str()), *sender, ("Body", "Spec check ✓"), ("MediaUrl", "https://example.com/a.png")];
        let r = auth(client.post(sim.messages_url(0))).form(&form).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let created: Value = r.json().await.unwrap();
        check_message(&spec, &created);
        sids.push(created["sid"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for sid in &sids {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages/{sid}.json", sim.base_url, account.sid);
        let fetched: Value = auth(client.get(url)).send().await.unwrap().json().await.unwrap();
        check_message(&spec, &fetched);
    }
    let page: Value =
        auth(client.get(format!("{}?PageSize=4", sim.messages_url(0)))).send().await.unwrap().json().await.unwrap();
    let list_schema =
        &operation(&spec, "ListMessage")["responses"]["200"]["content"]["application/json"]["schema"]["properties"];
    for (name, schema) in list_schema.as_object().unwrap() {
        let value = page.get(name).unwrap_or_else(|| panic!("list page lacks {name}"));
        conforms(&spec, schema, value).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for message in page["messages"].as_array().unwrap() {
        check_message(&spec, message);
    }
}
