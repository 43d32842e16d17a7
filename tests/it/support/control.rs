//! The emulator's control plane (`/_emulator/...`), called from a test's own thread.

use serde_json::Value;

/// Calls `/_emulator/PATH` on the emulator at `base` (its URL without `/v1`) and returns its
/// JSON answer; `body`, when given, is sent as JSON.
pub fn call(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let url = format!("{base}/_emulator/{}", path.trim_start_matches('/'));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a test runtime")
        .block_on(async move {
            let mut request = reqwest::Client::new().request(method, url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request
                .send()
                .await
                .expect("control plane answers")
                .json()
                .await
                .expect("control plane JSON")
        })
}
