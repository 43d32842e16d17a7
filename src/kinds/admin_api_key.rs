//! Organization admin API keys, key `admin_api_key:<name>`. Created (the one-time value goes
//! only to the declared sink) or deleted; there is no update. Undeclared live keys follow
//! `policy.unmanaged.admin_api_keys`, except the key this run authenticates with
//! ([`super::LiveState::admin_keys_in_use`]): it is never removed nor reported.

use std::collections::BTreeMap;

use serde_json::json;

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::AdminApiKey;

const KIND: ResourceKind = ResourceKind::AdminApiKey;

/// Admin API keys.
pub(crate) struct AdminApiKeyKind;

impl Kind for AdminApiKeyKind {
    fn title(&self) -> &'static str {
        "Admin API keys"
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        super::duplicates::diff(super::DuplicateKind::AdminApiKey, ctx, out);
        let desired: BTreeMap<String, &AdminApiKey> = ctx
            .desired
            .admin_api_keys
            .iter()
            .map(|k| (k.name.clone(), k))
            .collect();
        let live: BTreeMap<String, &AdminApiKey> =
            when_managed(&ctx.desired.admin_api_keys, &ctx.live.admin_api_keys)
                .iter()
                .map(|k| (k.name.clone(), k))
                .collect();
        for (name, d, l) in pair_up(&desired, &live) {
            let key = keys::admin_api_key(name);
            match (d, l) {
                (Some(d), None) => {
                    let mut after = json!({ "name": name });
                    if let Some(days) = d.expires_in_days {
                        after["expires_in_days"] = json!(days);
                    }
                    out.push(
                        Draft::new(
                            KIND,
                            key,
                            Action::Create,
                            Operation::CreateAdminApiKey {
                                name: name.clone(),
                                expires_in_days: d.expires_in_days,
                            },
                        )
                        .after(Some(after))
                        .diffed(&["name"]),
                    )
                }
                // The key in use: removing it would cut the run off; reporting it would make
                // every run report its own credential. Drift shows it as "in use".
                (None, Some(_)) if ctx.state.admin_keys_in_use.contains(name) => {}
                (None, Some(_)) => {
                    let view = json!({ "name": name });
                    out.unmanaged(
                        ctx.desired.policy.unmanaged.admin_api_keys,
                        KIND,
                        &key,
                        view.clone(),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Delete,
                                Operation::DeleteAdminApiKey {
                                    name: name.clone(),
                                    id: None,
                                },
                            )
                            .before(Some(view))
                        },
                    )
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::live::LiveState;
    use crate::model::Document;
    use crate::plan::{PlanOptions, plan};

    #[test]
    fn the_key_in_use_is_neither_removed_nor_reported() {
        let doc = |v| serde_json::from_value::<Document>(v).expect("document");
        let mut live = LiveState {
            org: doc(json!({"admin_api_keys": [{"name": "ci"}, {"name": "old"}]})),
            ..LiveState::default()
        };
        live.admin_keys_in_use.insert("ci".into());
        for policy in ["report", "remove"] {
            let desired = doc(
                json!({"policy": {"unmanaged": {"admin_api_keys": policy}}, "admin_api_keys": []}),
            );
            let p = plan(&desired, &live, &PlanOptions::default()).expect("plan");
            let keys: Vec<&str> = p
                .changes
                .iter()
                .map(|c| c.key.as_str())
                .chain(p.unmanaged.iter().map(|u| u.key.as_str()))
                .collect();
            assert_eq!(keys, vec!["admin_api_key:old"], "{policy}");
        }
    }
}
