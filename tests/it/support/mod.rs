//! Shared helpers for the integration tests.

pub mod cli;
pub mod config;
pub mod contract_client;
pub mod control;
pub mod github_fake;
pub mod hostile;
pub mod loopback;
pub mod markdown;
pub mod openapi;
pub mod org;

/// Asserts that a response body satisfies the spec for `method path` with `status`, panicking
/// with every violation (not just the first) so one failing run shows the whole mismatch.
#[track_caller]
pub fn assert_valid_response(method: &str, path: &str, status: u16, body: &serde_json::Value) {
    if let Err(errors) = openapi::validate_response(method, path, status, body) {
        panic!(
            "{method} {path} → {status}: the body violates the OpenAPI spec:\n  {}\nbody: {body:#}",
            errors.join("\n  ")
        );
    }
}

/// Asserts that a request body satisfies the spec for `method path`, panicking with every
/// violation.
#[track_caller]
pub fn assert_valid_request(method: &str, path: &str, body: &serde_json::Value) {
    if let Err(errors) = openapi::validate_request(method, path, body) {
        panic!(
            "{method} {path}: the request body violates the OpenAPI spec:\n  {}\nbody: {body:#}",
            errors.join("\n  ")
        );
    }
}

/// Typed access to the fields kind modules own in a document object (`model::KindFields`):
/// `project.get::<SpendLimit>("spend_limit")`, `settings.set("data_retention", Some(r))`.
pub trait Fields {
    fn fields(&self) -> &orgops::model::KindFields;
    fn fields_mut(&mut self) -> &mut orgops::model::KindFields;

    fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        serde_json::from_value(self.fields().get(key)?.clone()).ok()
    }

    /// Sets (`Some`) or leaves out (`None`) a field.
    fn set<T: serde::Serialize>(&mut self, key: &str, value: Option<T>) {
        match value.and_then(|v| serde_json::to_value(v).ok()) {
            Some(v) => {
                self.fields_mut().insert(key.to_string(), v);
            }
            None => {
                self.fields_mut().shift_remove(key);
            }
        }
    }

    /// A list field with the file's managed-ness: written (even empty) when managed.
    fn set_list<T: serde::Serialize + Clone>(
        &mut self,
        key: &str,
        list: &orgops::model::ManagedList<T>,
    ) {
        let value = list.is_managed().then(|| list.to_vec());
        self.set(key, value);
    }

    /// A list field as the file's list: managed when written.
    fn list<T: serde::de::DeserializeOwned>(&self, key: &str) -> orgops::model::ManagedList<T> {
        match self.get::<Vec<T>>(key) {
            Some(items) => orgops::model::ManagedList::managed(items),
            None => orgops::model::ManagedList::default(),
        }
    }
}

impl Fields for orgops::model::Project {
    fn fields(&self) -> &orgops::model::KindFields {
        &self.fields
    }
    fn fields_mut(&mut self) -> &mut orgops::model::KindFields {
        &mut self.fields
    }
}

impl Fields for orgops::model::OrgSettings {
    fn fields(&self) -> &orgops::model::KindFields {
        &self.fields
    }
    fn fields_mut(&mut self) -> &mut orgops::model::KindFields {
        &mut self.fields
    }
}
