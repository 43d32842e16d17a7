//! Organization admin API keys, key `admin_api_key:<name>`. Created (the one-time value goes
//! only to the declared sink) or deleted; there is no update. Undeclared live keys follow
//! `policy.unmanaged.admin_api_keys`.

use std::collections::BTreeMap;

use serde_json::json;

use super::super::context::{Context, Draft, Output, pair_up};
use super::super::{Action, Operation, ResourceKind};
use super::keys;
use crate::model::AdminApiKey;

const KIND: ResourceKind = ResourceKind::AdminApiKey;

pub(super) fn diff(ctx: &Context<'_>, out: &mut Output) {
    let desired: BTreeMap<String, &AdminApiKey> = ctx
        .desired
        .admin_api_keys
        .iter()
        .map(|k| (k.name.clone(), k))
        .collect();
    let live: BTreeMap<String, &AdminApiKey> = ctx
        .live
        .admin_api_keys
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
