//! The settings kinds' one shape: a singleton per scope (the organization, or each project),
//! declared as a field a kind owns (`settings.<field>` or `projects[].<field>`), read with
//! one `GET` per scope, written with a `POST`, unset with a `DELETE` where the API has one.
//! Each settings module (data retention, spend limits, model and hosted-tool permissions,
//! service tiers) is one [`SettingKind`] value: its plan name, field, route, how the API's
//! object reads into the file's shape and back, its default, what is destructive and what a
//! reviewer must see; [`SettingKind`] implements `Kind` once for all of them.
//!
//! Adding one: a module with its value type and a `pub static` [`SettingKind`], its line in
//! the registry (`kinds/mod.rs`), a schema entry and a docs row; the emulator plays the API
//! with its own route.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::ValueOp;

use super::ResourceKind;
use super::{ReadScope, Select};
use crate::api::client::{Call, RequestKind, seg};
use crate::api::{Client, Error};
use crate::model::{Document, KindFields, UnmanagedAction};

/// Where a kind's one object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `settings.<field>`: one for the organization.
    Organization,
    /// `projects[].<field>`: one per project.
    Project,
}

/// Everything orgops knows about one singleton settings kind.
pub struct SettingKind {
    /// The plan's kind.
    pub resource: ResourceKind,
    /// What people read (`Kind::title`).
    pub title: &'static str,
    /// The file's key (`settings.<field>` or `projects[].<field>`), also the key's last part.
    pub field: &'static str,
    /// The field under `changes_requested` of the audit event a write of it emits
    /// (drift attribution).
    pub audit_field: &'static str,
    pub level: Level,
    /// The spec's path template (`{project_id}` for project kinds): GET reads, POST writes,
    /// DELETE unsets.
    pub route: &'static str,
    /// The API has a DELETE: a block removed from the file under
    /// `policy.unmanaged.settings: remove` is `unset`; otherwise it is only reported.
    pub deletable: bool,
    /// Only the fields the file gives are managed (hosted tools): the live side is compared
    /// on those fields only, and a write sends only those.
    pub partial: bool,
    /// A GET answering 404 means "not set" (hard spend limits).
    pub absent_is_404: bool,
    /// A value of the file's field through its type: defaults filled in, the canonical
    /// spelling; `None` when it does not fit (the schema refused it already).
    pub parse: fn(Value) -> Option<Value>,
    /// The API's object -> the file's shape; `Ok(None)` when it is the API's default.
    pub from_api: fn(&Value) -> Result<Option<Value>, String>,
    /// The file's shape -> the POST body.
    pub to_api: fn(&Value) -> Value,
    /// The API's default in the file's shape (what a `set` changes from), if it has one.
    pub default: fn() -> Option<Value>,
    /// Whether going from `before` (the live value, or the default) to `after` takes
    /// something away from users (counted by `max_removals`, shown first in markdown).
    pub destructive: fn(Option<&Value>, &Value) -> bool,
    /// What the schema cannot say about the values in a file (`Kind::check`).
    pub check: fn(&SettingKind, &Document) -> Vec<super::Finding>,
    /// The normal form of a value (sorted lists), applied to both sides before comparing.
    pub normalize: fn(Value) -> Value,
    /// What a change of it grants or takes away, in words, when a reviewer must see it
    /// (`Kind::attention`; the subject is the project or the organization).
    pub attention: fn(&super::Change) -> Option<String>,
}

impl SettingKind {
    pub fn name(&self) -> &'static str {
        self.resource.as_str()
    }

    /// The plan key: `settings:<field>` or `project:<name>/<field>`.
    pub fn key(&self, project: Option<&str>) -> String {
        match project {
            None => format!("settings:{}", self.field),
            Some(p) => format!("project:{p}/{}", self.field),
        }
    }

    /// How a value shows in a plan (`before`, `after`, reported objects are JSON objects):
    /// an object as it is, anything else as `{<field>: value}`.
    pub fn view(&self, value: Value) -> Value {
        if value.is_object() {
            value
        } else {
            let mut map = serde_json::Map::new();
            map.insert(self.field.to_string(), value);
            Value::Object(map)
        }
    }

    fn path(&self, project_id: Option<&str>) -> String {
        match project_id {
            Some(id) => self.route.replace("{project_id}", &seg(id)),
            None => self.route.to_string(),
        }
    }
}

/// No finding (`SettingKind::check` of most kinds).
pub(crate) fn no_findings(_: &SettingKind, _: &Document) -> Vec<super::Finding> {
    Vec::new()
}

/// A value through type `T` (`SettingKind::parse`).
pub(crate) fn through<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: Value,
) -> Option<Value> {
    let typed: T = serde_json::from_value(value).ok()?;
    serde_json::to_value(typed).ok()
}

impl SettingKind {
    /// The fields of the object that holds this kind's value: `settings`, or the project.
    fn fields<'d>(&self, doc: &'d Document, project: Option<&str>) -> Option<&'d KindFields> {
        match (self.level, project) {
            (Level::Organization, _) => Some(&doc.settings.fields),
            (Level::Project, Some(name)) => doc
                .projects
                .iter()
                .find(|p| p.name == name)
                .map(|p| &p.fields),
            (Level::Project, None) => None,
        }
    }

    /// The declared value in the file's shape (JSON), `None` when not declared.
    pub fn get(&self, doc: &Document, project: Option<&str>) -> Option<Value> {
        let value = self.fields(doc, project)?.get(self.field)?.clone();
        (self.parse)(value)
    }

    /// Stores a live value (file shape; `None`: at the API's default) into the live document.
    pub fn put(&self, doc: &mut Document, project: Option<&str>, value: Option<Value>) {
        let fields = match (self.level, project) {
            (Level::Organization, _) => &mut doc.settings.fields,
            (Level::Project, Some(name)) => {
                match doc.projects.iter_mut().find(|p| p.name == name) {
                    Some(p) => &mut p.fields,
                    None => return,
                }
            }
            (Level::Project, None) => return,
        };
        match value.and_then(self.parse) {
            Some(value) => {
                fields.insert(self.field.to_string(), value);
            }
            None => {
                fields.shift_remove(self.field);
            }
        }
    }
}

/// What `policy.unmanaged.settings` says about settings a declared scope leaves out
/// (`None`: not managed, not read).
fn leftover_policy(doc: &Document) -> Option<UnmanagedAction> {
    doc.policy
        .unmanaged
        .settings
        .filter(|a| *a != UnmanagedAction::Ignore)
}

/// Which scopes of `kind` a plan of `doc` reads: where the file declares the kind, and, when
/// `policy.unmanaged.settings` is `report` or `remove`, every declared active project (and
/// the organization) so that a block removed from the file is seen. Projects declared
/// `archived` are never read.
pub fn managed(kind: &SettingKind, doc: &Document) -> Select<String> {
    let leftover = leftover_policy(doc).is_some();
    match kind.level {
        Level::Organization => {
            if leftover || kind.get(doc, None).is_some() {
                Select::All
            } else {
                Select::Nothing
            }
        }
        Level::Project => {
            Select::projects(doc, |p| leftover || kind.get(doc, Some(&p.name)).is_some())
        }
    }
}

/// Whether `scope` read `kind` for `project` (organization kinds: `project` is `None`).
pub fn was_read(scope: &ReadScope, kind: &SettingKind, project: Option<&str>) -> bool {
    scope.reads(kind.resource, project.map(super::keys::project).as_deref())
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One `GET` of `kind` (at `project_id` for project kinds): the value in the file's shape,
/// `None` when at the API's default.
pub fn read<'a>(
    client: &'a Client,
    kind: &'a SettingKind,
    project_id: Option<&'a str>,
) -> BoxFuture<'a, Result<Option<Value>, Error>> {
    Box::pin(async move {
        let call = Call::get(kind.route, kind.path(project_id));
        let answer = client.execute::<Value>(&call).await;
        if let Some(observer) = client.page_observer() {
            observer.page_fetched(false);
        }
        match answer {
            Ok(body) => (kind.from_api)(&body).map_err(|reason| Error::Decode {
                method: "GET".into(),
                route: kind.route.into(),
                message: reason,
            }),
            Err(e) if kind.absent_is_404 && e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// Writes `value` (POST), or unsets (DELETE) when `value` is `None`.
pub fn write<'a>(
    client: &'a Client,
    kind: &'a SettingKind,
    project_id: Option<&'a str>,
    value: Option<&'a Value>,
) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let path = kind.path(project_id);
        let call = match value {
            Some(v) => Call::post(kind.route, path, RequestKind::Idempotent, (kind.to_api)(v)),
            None => Call::delete(kind.route, path),
        };
        match client.execute::<Value>(&call).await {
            Ok(_) => Ok(()),
            // Unsetting what is not set is done.
            Err(e) if value.is_none() && e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    })
}

/// `value` restricted to the object keys of `like` (partial kinds).
pub(crate) fn restrict(value: &Value, like: &Value) -> Value {
    match (value.as_object(), like.as_object()) {
        (Some(v), Some(l)) => Value::Object(
            v.iter()
                .filter(|(k, _)| l.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// The plan of every settings kind: `set` (the API's default is in force, or the project is
/// created by this plan) or `update` where the file declares a value that differs; for a
/// value the file leaves out (read only under `policy.unmanaged.settings`), `unset` under
/// `remove` where the API has a delete, and otherwise a reported object, noted `no longer
/// managed` when the API cannot delete it.
impl super::kind::Kind for SettingKind {
    fn title(&self) -> &'static str {
        self.title
    }

    /// Every write of a setting is its scope's update event (`organization.updated`, or
    /// `project.updated` naming the project).
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        Some(super::incremental::pages_of::<Option<Value>>(&[]))
    }

    /// A write of the setting is its scope's update event naming the field: a set or changed
    /// value is `changed`, an unset or reported one `unmanaged`.
    fn attribution(&self) -> Vec<super::attribution::Rule> {
        use super::attribution::{DriftClass::*, Names::Setting, *};
        let event = match self.level {
            Level::Organization => ORG_SETTINGS_EVENT,
            Level::Project => PROJECT_SETTINGS_EVENT,
        };
        vec![
            rule(Changed, event, Setting(self.audit_field)),
            rule(Unmanaged, event, Setting(self.audit_field)),
        ]
    }

    /// Money, limits, data and tools, in words; the subject is the project, or
    /// `organization`.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let what = (self.attention)(change)?;
        let subject = match &change.op.decode::<super::ValueOp>().ok()? {
            super::ValueOp::Kind {
                project: Some(project),
                ..
            } => project.clone(),
            _ => "organization".to_string(),
        };
        Some(super::Attention::new(subject, what))
    }

    fn source(&self) -> Option<super::Source> {
        Some(super::Source {
            parent: match self.level {
                Level::Organization => None,
                Level::Project => Some(super::ResourceKind::Project),
            },
            deferred: false,
            announced_as: None,
        })
    }

    fn scope(&self, doc: &Document) -> Select<String> {
        managed(self, doc)
    }

    fn check(&self, doc: &Document) -> Vec<super::Finding> {
        (self.check)(self, doc)
    }

    fn file_field(&self) -> Option<(super::FieldPlace, &'static str)> {
        let place = match self.level {
            Level::Organization => super::FieldPlace::Settings,
            Level::Project => super::FieldPlace::Project,
        };
        Some((place, self.field))
    }

    fn canonical_field(&self, value: Value) -> Value {
        (self.normalize)(value)
    }

    fn field_error(&self, value: &Value) -> Option<String> {
        (self.parse)(value.clone())
            .is_none()
            .then(|| format!("not a {} value", self.field))
    }

    fn declared_keys(&self, doc: &Document) -> Vec<String> {
        match self.level {
            Level::Organization => self
                .get(doc, None)
                .map(|_| self.key(None))
                .into_iter()
                .collect(),
            Level::Project => doc
                .projects
                .iter()
                .filter(|p| self.get(doc, Some(&p.name)).is_some())
                .map(|p| self.key(Some(&p.name)))
                .collect(),
        }
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        parent: Option<&'a super::Parent>,
        pages: super::PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let value = read(client, self, parent.map(super::Parent::id)).await?;
            super::read::one_page(&pages, vec![value]);
            Ok(())
        })
    }

    /// The value read (in the file's shape, `None` at the API's default) into the live
    /// document, so `export` writes it with no code of its own.
    fn normalize(&self, raw: &super::RawStore, state: &mut super::LiveState) {
        for list in raw.lists(self.resource) {
            let project = match &list.parent {
                None => None,
                Some(parent) => {
                    // The kept project's value only (not an extra live duplicate's).
                    let kept = state.ids.get(&super::keys::refs::project(parent.name()));
                    if kept.map(String::as_str) != Some(parent.id()) {
                        continue;
                    }
                    Some(parent.name())
                }
            };
            let value = list
                .pages
                .iter()
                .flat_map(super::read::page_items::<Option<Value>>)
                .next()
                .cloned()
                .flatten();
            self.put(&mut state.org, project, value);
        }
    }

    fn diff(&self, ctx: &super::context::Context<'_>, out: &mut super::context::Output) {
        use super::context::Draft;
        use super::{Action, UnmanagedObject};

        let leftover = leftover_policy(&ctx.desired);
        let kind = self;
        {
            let scopes: Vec<(Option<String>, bool)> = match kind.level {
                Level::Organization => vec![(None, true)],
                Level::Project => ctx
                    .child_projects()
                    .into_iter()
                    .map(|(d, l)| (Some(d.name.clone()), l.is_some()))
                    .collect(),
            };
            for (project, exists) in scopes {
                let project = project.as_deref();
                let key = kind.key(project);
                let read = exists && was_read(&ctx.state.scope, kind, project);
                let desired = kind.get(&ctx.desired, project).map(kind.normalize);
                let live = if read {
                    kind.get(&ctx.live, project).map(kind.normalize)
                } else {
                    None
                };
                let parents: Vec<String> = project
                    .map(|p| format!("project:{p}"))
                    .into_iter()
                    .collect();
                match desired {
                    Some(desired) => {
                        if exists && !read {
                            // Not read (a scope bug would land here): never plan blind.
                            continue;
                        }
                        let effective = live.clone().or_else(kind.default);
                        let before = effective.as_ref().map(|b| {
                            if kind.partial {
                                restrict(b, &desired)
                            } else {
                                b.clone()
                            }
                        });
                        // A partial kind: tools the default or live side does not list are
                        // at their default.
                        let before = match (before, kind.partial, (kind.default)()) {
                            (Some(b), true, Some(default)) => {
                                let mut full = restrict(&default, &desired);
                                if let (Some(f), Some(b)) = (full.as_object_mut(), b.as_object()) {
                                    for (k, v) in b {
                                        f.insert(k.clone(), v.clone());
                                    }
                                }
                                Some(full)
                            }
                            (b, _, _) => b,
                        };
                        if before.as_ref() == Some(&desired) {
                            continue;
                        }
                        let action = if live.is_some() {
                            Action::Update
                        } else {
                            Action::Set
                        };
                        let destructive = (kind.destructive)(live.as_ref(), &desired);
                        out.push(
                            Draft::new(
                                kind.resource,
                                key,
                                action,
                                ValueOp::Kind {
                                    kind: kind.name().to_string(),
                                    project: project.map(str::to_string),
                                    id: None,
                                    value: Some(desired.clone()),
                                },
                            )
                            .before(before.map(|b| kind.view(b)))
                            .after(Some(kind.view(desired)))
                            .diffed(&[])
                            .destructive(destructive)
                            .parents(parents),
                        );
                    }
                    None => {
                        let (Some(policy), Some(live)) = (leftover, live) else {
                            continue;
                        };
                        if policy == UnmanagedAction::Remove && kind.deletable {
                            out.push(
                                Draft::new(
                                    kind.resource,
                                    key,
                                    Action::Unset,
                                    ValueOp::Kind {
                                        kind: kind.name().to_string(),
                                        project: project.map(str::to_string),
                                        id: None,
                                        value: None,
                                    },
                                )
                                .before(Some(kind.view(live)))
                                .after((kind.default)().map(|d| kind.view(d)))
                                .diffed(&[])
                                .parents(parents),
                            );
                        } else {
                            let note = if kind.deletable {
                                "not in the file; `policy.unmanaged.settings: remove` unsets it"
                            } else {
                                "no longer managed: the API cannot delete it, orgops leaves it as it is"
                            };
                            out.unmanaged.push(UnmanagedObject {
                                kind: kind.resource,
                                key,
                                object: kind.view(live),
                                note: Some(note.to_string()),
                            });
                        }
                    }
                }
            }
        }
    }

    fn id_refs(&self, op: &super::Operation) -> Vec<super::IdRef> {
        match op.decode() {
            Ok(ValueOp::Kind {
                project: Some(p), ..
            }) => vec![super::keys::refs::project(&p)],
            _ => Vec::new(),
        }
    }

    fn perform<'a>(
        &'a self,
        op: &'a super::Operation,
        cx: &'a super::apply::ApplyContext,
    ) -> super::apply::BoxFuture<'a, super::apply::Step> {
        Box::pin(async move {
            let ValueOp::Kind { project, value, .. } = op.decode()?;
            let pid = match &project {
                Some(p) => Some(cx.need(&super::keys::refs::project(p))?),
                None => None,
            };
            write(&cx.client, self, pid.as_deref(), value.as_ref())
                .await
                .map_err(super::apply::api)?;
            Ok(super::apply::Done::Applied(None))
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &super::Operation, s: &mut super::LiveState) {
        if let Ok(ValueOp::Kind { project, value, .. }) = op.decode() {
            written(&mut s.org, self, project.as_deref(), value.as_ref());
        }
    }
}

/// The live document after a successful write of `value` (`None`: unset), in the form a
/// read would give: values at the API's default are `None`, a partial kind keeps the fields
/// written before. For tests and simulations of a plan.
pub fn written(
    doc: &mut Document,
    kind: &SettingKind,
    project: Option<&str>,
    value: Option<&Value>,
) {
    let default = (kind.default)();
    let next = match value {
        None => None,
        Some(v) if kind.partial => {
            let mut merged = kind
                .get(doc, project)
                .and_then(|c| c.as_object().cloned())
                .unwrap_or_default();
            if let Some(v) = v.as_object() {
                for (k, x) in v {
                    merged.insert(k.clone(), x.clone());
                }
            }
            if let Some(d) = default.as_ref().and_then(Value::as_object) {
                merged.retain(|k, x| d.get(k) != Some(x));
            }
            (!merged.is_empty()).then_some(Value::Object(merged))
        }
        Some(v) => {
            let v = (kind.normalize)(v.clone());
            (default.as_ref() != Some(&v)).then_some(v)
        }
    };
    kind.put(doc, project, next);
}
