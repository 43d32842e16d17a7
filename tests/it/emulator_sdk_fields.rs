//! Fields the official SDK (`openai==3.63.0`) sends on operations the OpenAPI subset
//! describes with fewer fields: the emulator keeps them and answers them as the SDK's models
//! say, instead of dropping them silently (a dropped field hides a bug in a program that
//! relies on it). Shapes from `openai/types/admin/organization/**` of that SDK.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::org::{self, ADMIN_KEY};

/// Sends one request as the test admin and returns the status and the JSON answer.
fn send(
    emu: &orgops::emulator::RunningEmulator,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    org::send_with_key(emu, ADMIN_KEY, method, path, body)
}

fn limit(amount: i64, channel: Option<Value>) -> Value {
    let mut body = json!({"threshold_amount": amount, "currency": "USD", "interval": "month"});
    if let Some(channel) = channel {
        body["notification_channel"] = channel;
    }
    body
}

/// `notification_channel` on both hard spend limits: stored and answered
/// (`OrganizationSpendLimit.notification_channel` / `ProjectSpendLimit.notification_channel`);
/// left out keeps it, `null` resets it to owner-only, `recipients` left out keeps them, an
/// empty or null `subject_prefix` clears the prefix (`SpendLimitUpdateParams`).
#[test]
fn spend_limit_notification_channel_is_kept_and_answered() {
    let emu = org::start(org::ORG);
    let search = org::project_id(&emu, "Search");
    for (path, object) in [
        (
            "/organization/spend_limit".to_string(),
            "organization.spend_limit",
        ),
        (
            format!("/organization/projects/{search}/spend_limit"),
            "project.spend_limit",
        ),
    ] {
        let channel =
            json!({"type": "email", "recipients": ["ops@example.com"], "subject_prefix": "[cap]"});
        let set = org::call(
            &emu,
            Method::POST,
            &path,
            Some(limit(5000, Some(channel.clone()))),
        );
        assert_eq!(set["object"], object, "{set}");
        assert_eq!(
            set["notification_channel"], channel,
            "POST {path} answers the channel: {set}"
        );
        let read = org::call(&emu, Method::GET, &path, None);
        assert_eq!(
            read["notification_channel"], channel,
            "GET {path} keeps the channel: {read}"
        );

        let kept = org::call(&emu, Method::POST, &path, Some(limit(6000, None)));
        assert_eq!(
            kept["notification_channel"], channel,
            "left out keeps it: {kept}"
        );
        assert_eq!(kept["threshold_amount"], 6000);

        let partial = org::call(
            &emu,
            Method::POST,
            &path,
            Some(limit(
                6000,
                Some(json!({"type": "email", "subject_prefix": ""})),
            )),
        );
        assert_eq!(
            partial["notification_channel"],
            json!({"type": "email", "recipients": ["ops@example.com"], "subject_prefix": null}),
            "recipients left out are kept, an empty prefix clears it: {partial}"
        );

        let reset = org::call(
            &emu,
            Method::POST,
            &path,
            Some(limit(6000, Some(Value::Null))),
        );
        assert_eq!(
            reset["notification_channel"],
            Value::Null,
            "null resets: {reset}"
        );

        let (status, bad) = send(
            &emu,
            Method::POST,
            &path,
            Some(limit(6000, Some(json!({"type": "sms", "recipients": []})))),
        );
        assert_eq!(status, 400, "only email channels exist: {bad}");
        assert_eq!(bad["error"]["param"], "notification_channel.type", "{bad}");
    }
}

fn key_of(keys: &Value, id: &str) -> Value {
    keys["data"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("key {id} is listed: {keys}"))
}

/// `expires_in_seconds` and `spend_limit` on service-account creation and on a
/// service-account key's creation: the one-time key answers `expires_at` and `spend_limit`
/// (`ProjectAPIKeySpendLimit`, with its enforcement), and the project's key list shows them
/// (`ProjectAPIKey.expires_at`, `.spend_limit`).
#[test]
fn service_account_keys_keep_expiry_and_spend_limit() {
    let emu = org::start(org::ORG);
    let search = org::project_id(&emu, "Search");
    let accounts = format!("/organization/projects/{search}/service_accounts");
    let cap = json!({"threshold_amount": 2500, "currency": "USD", "interval": "month"});
    let created = org::call(
        &emu,
        Method::POST,
        &accounts,
        Some(json!({"name": "ci-bot", "expires_in_seconds": 3600, "spend_limit": cap})),
    );
    let key = &created["api_key"];
    let created_at = key["created_at"].as_i64().expect("created_at");
    assert_eq!(
        key["expires_at"].as_i64(),
        Some(created_at + 3600),
        "expires_at = created_at + expires_in_seconds: {created}"
    );
    let answered_cap = json!({"threshold_amount": 2500, "currency": "USD", "interval": "month",
                              "enforcement": {"status": "inactive"}});
    assert_eq!(key["spend_limit"], answered_cap, "{created}");
    let keys = org::call(
        &emu,
        Method::GET,
        &format!("/organization/projects/{search}/api_keys?limit=100"),
        None,
    );
    let listed = key_of(&keys, key["id"].as_str().expect("key id"));
    assert_eq!(listed["expires_at"], key["expires_at"], "{listed}");
    assert_eq!(listed["spend_limit"], answered_cap, "{listed}");

    let account = created["id"].as_str().expect("account id");
    let extra = org::call(
        &emu,
        Method::POST,
        &format!("{accounts}/{account}/api_keys"),
        Some(json!({"name": "second", "expires_in_seconds": 60,
                    "spend_limit": {"threshold_amount": 100, "currency": "USD", "interval": "month"}})),
    );
    assert_eq!(
        extra["expires_at"].as_i64(),
        extra["created_at"].as_i64().map(|t| t + 60),
        "{extra}"
    );
    assert_eq!(extra["spend_limit"]["threshold_amount"], 100, "{extra}");

    let plain = org::call(
        &emu,
        Method::POST,
        &accounts,
        Some(json!({"name": "plain"})),
    );
    assert_eq!(plain["api_key"]["expires_at"], Value::Null, "{plain}");
    assert_eq!(plain["api_key"]["spend_limit"], Value::Null, "{plain}");

    // "A non-null value cannot be used when `create_service_account_only` is true."
    let (status, refused) = send(
        &emu,
        Method::POST,
        &accounts,
        Some(
            json!({"name": "keyless", "create_service_account_only": true, "expires_in_seconds": 60}),
        ),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["param"], "expires_in_seconds", "{refused}");
    for bad in [
        json!({"expires_in_seconds": 0}),
        json!({"spend_limit": {"threshold_amount": 0, "currency": "USD", "interval": "month"}}),
    ] {
        let mut body = json!({"name": "bad"});
        body.as_object_mut()
            .expect("object")
            .extend(bad.as_object().expect("object").clone());
        let (status, refused) = send(&emu, Method::POST, &accounts, Some(body.clone()));
        assert_eq!(status, 400, "{body} is refused: {refused}");
    }
}

/// The residencies the SDK knows beyond the spec's enum, and the deprecated `geography`
/// (create and update; "Do not provide both `geography` and `residency`").
#[test]
fn sdk_residencies_and_geography_are_accepted() {
    let emu = org::start(org::ORG);
    for residency in [
        "JP_STORAGE_PROCESSING",
        "IN_STORAGE_PROCESSING",
        "AU_STORAGE_PROCESSING",
    ] {
        let (status, project) = send(
            &emu,
            Method::POST,
            "/organization/projects",
            Some(json!({"name": format!("In {residency}"), "residency": residency})),
        );
        assert_eq!(status, 200, "{residency} is a residency: {project}");
        assert_eq!(project["residency"], residency, "{project}");
    }
    let (status, refused) = send(
        &emu,
        Method::POST,
        "/organization/projects",
        Some(json!({"name": "Nowhere", "residency": "MARS_STORAGE"})),
    );
    assert_eq!(status, 400, "{refused}");

    let (status, both) = send(
        &emu,
        Method::POST,
        "/organization/projects",
        Some(json!({"name": "Both", "geography": "EU", "residency": "EU_STORAGE_PROCESSING"})),
    );
    assert_eq!(
        status, 400,
        "geography and residency together are refused: {both}"
    );
    assert_eq!(both["error"]["param"], "geography", "{both}");
    let (status, empty) = send(
        &emu,
        Method::POST,
        "/organization/projects",
        Some(json!({"name": "Blank", "geography": " "})),
    );
    assert_eq!(status, 400, "an empty geography is refused: {empty}");

    let made = org::call(
        &emu,
        Method::POST,
        "/organization/projects",
        Some(json!({"name": "Old style", "geography": "EU"})),
    );
    assert_eq!(made["name"], "Old style", "{made}");
    let id = made["id"].as_str().expect("id");
    let updated = org::call(
        &emu,
        Method::POST,
        &format!("/organization/projects/{id}"),
        Some(json!({"geography": "US"})),
    );
    assert_eq!(updated["id"], id, "{updated}");
}
