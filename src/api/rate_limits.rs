//! Project rate limits, pre-existing per model (list and update only):
//! `GET /organization/projects/{project_id}/rate_limits`,
//! `POST /organization/projects/{project_id}/rate_limits/{rate_limit_id}`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::client::{Call, Client, RequestKind, seg};
use super::error::Error;
use super::pagination::{MAX_PAGE_A, Style};
use super::types::{ProjectId, RateLimitId};

/// `ProjectRateLimit`; the last four fields are present only for models they apply to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RateLimit {
    pub id: RateLimitId,
    pub model: String,
    pub max_requests_per_1_minute: Option<u64>,
    pub max_tokens_per_1_minute: Option<u64>,
    pub max_images_per_1_minute: Option<u64>,
    pub max_audio_megabytes_per_1_minute: Option<u64>,
    pub max_requests_per_1_day: Option<u64>,
    pub batch_1_day_max_input_tokens: Option<u64>,
}

impl RateLimit {
    /// The limits in the model's own type.
    pub fn to_model(&self) -> crate::model::RateLimit {
        crate::model::RateLimit {
            max_requests_per_1_minute: self.max_requests_per_1_minute,
            max_tokens_per_1_minute: self.max_tokens_per_1_minute,
            max_images_per_1_minute: self.max_images_per_1_minute,
            max_audio_megabytes_per_1_minute: self.max_audio_megabytes_per_1_minute,
            max_requests_per_1_day: self.max_requests_per_1_day,
            batch_1_day_max_input_tokens: self.batch_1_day_max_input_tokens,
        }
    }
}

impl Client {
    /// `GET /organization/projects/{project_id}/rate_limits` — style A, 100 per page.
    pub async fn list_rate_limits(&self, project: &ProjectId) -> Result<Vec<RateLimit>, Error> {
        let call = Call::get(
            "/organization/projects/{project_id}/rate_limits",
            format!(
                "/organization/projects/{}/rate_limits",
                seg(project.as_str())
            ),
        );
        self.list_all(call, Style::LastId, MAX_PAGE_A).await
    }

    /// `POST /organization/projects/{project_id}/rate_limits/{rate_limit_id}` — set the given
    /// fields (absent fields are left as they are).
    pub async fn update_rate_limit(
        &self,
        project: &ProjectId,
        rate_limit: &RateLimitId,
        limits: &crate::model::RateLimit,
    ) -> Result<RateLimit, Error> {
        let mut body = Map::new();
        for (field, value) in limits.fields() {
            if let Some(value) = value {
                body.insert(field.to_string(), json!(value));
            }
        }
        let call = Call::post(
            "/organization/projects/{project_id}/rate_limits/{rate_limit_id}",
            format!(
                "/organization/projects/{}/rate_limits/{}",
                seg(project.as_str()),
                seg(rate_limit.as_str())
            ),
            RequestKind::Idempotent,
            Value::Object(body),
        );
        self.execute(&call).await
    }
}
