//! Hidden markers in comment and issue bodies: how orgops finds its own sticky comment and
//! tracking issue again, and where the approved plan's hash travels.
//!
//! ```text
//! <!-- orgops:plan path="orgops.yaml" -->
//! <!-- orgops:plan-hash sha256:… -->
//! <!-- orgops:plan-changes <base64 JSON {id: digest}> -->
//! ```
//!
//! The path is percent-encoded where it could end the comment or the attribute, so any path
//! round-trips and one path's marker never matches another's.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// At most this many characters of per-change digests ride in a comment; a larger plan's
/// difference is then reported by counts only.
pub const MAX_DIGEST_FIELD: usize = 16_000;

fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        match c {
            '%' | '"' | '<' | '>' | '-' | '\n' | '\r' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The marker of a kind of body (`plan`, `apply`, `drift`) for a configuration path.
pub fn marker(kind: &str, path: &str) -> String {
    format!("<!-- orgops:{kind} path=\"{}\" -->", encode_path(path))
}

pub fn hash_field(hash: &str) -> String {
    format!("<!-- orgops:plan-hash {hash} -->")
}

/// The hash a body carries, if any.
pub fn find_hash(body: &str) -> Option<String> {
    let start = body.find("<!-- orgops:plan-hash ")? + "<!-- orgops:plan-hash ".len();
    let rest = &body[start..];
    let end = rest.find(" -->")?;
    let hash = &rest[..end];
    (hash.starts_with("sha256:") && hash.len() == 71).then(|| hash.to_string())
}

/// The digests field, or `None` when it would be too large for a comment.
pub fn digests_field(digests: &BTreeMap<String, String>) -> Option<String> {
    let json = serde_json::to_string(digests).ok()?;
    let encoded = STANDARD.encode(json);
    (encoded.len() <= MAX_DIGEST_FIELD).then(|| format!("<!-- orgops:plan-changes {encoded} -->"))
}

pub fn find_digests(body: &str) -> Option<BTreeMap<String, String>> {
    let start = body.find("<!-- orgops:plan-changes ")? + "<!-- orgops:plan-changes ".len();
    let rest = &body[start..];
    let end = rest.find(" -->")?;
    let bytes = STANDARD.decode(&rest[..end]).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_break_out_of_the_marker() {
        let m = marker("plan", "a-->b\"c.yaml");
        assert_eq!(m, "<!-- orgops:plan path=\"a%2D%2D%3Eb%22c.yaml\" -->");
        assert_ne!(
            marker("plan", "orgops.yaml"),
            marker("plan", "orgops.yaml.bak")
        );
        assert!(!marker("plan", "orgops.yaml.bak").contains(&marker("plan", "orgops.yaml")));
    }

    #[test]
    fn hash_and_digests_round_trip() {
        let hash = format!("sha256:{}", "a".repeat(64));
        let body = format!("x\n{}\ny", hash_field(&hash));
        assert_eq!(find_hash(&body), Some(hash));
        assert_eq!(find_hash("<!-- orgops:plan-hash nonsense -->"), None);
        let digests: BTreeMap<String, String> =
            [("user:update:a".to_string(), "0123".to_string())].into();
        let field = digests_field(&digests).expect("small");
        assert_eq!(find_digests(&field), Some(digests));
    }
}
