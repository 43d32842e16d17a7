//! File names that cannot meet, for objects whose names can (export's files).

use std::collections::BTreeMap;

/// File-name stems for `names` (distinct names, such as projects' or certificates') that
/// cannot meet, not even on a case-insensitive file system: a name's `readable` form alone
/// when no other name has the same form (compared lower-cased) and the form is not empty;
/// otherwise the form followed by `-` and the first 10 hex digits of the SHA-256 of the
/// exact name (`研究` -> ten hex digits; `Support Assistant` and `support-assistant` ->
/// `support-assistant-` and ten hex digits each). So a stem depends only on the names that share its
/// readable form. The result is checked: should two stems still meet (a hashed stem equal
/// to another name's readable form), the export is refused rather than one file lost.
pub fn distinct_stems<'a>(
    names: impl IntoIterator<Item = &'a str>,
    readable: impl Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    use sha2::{Digest, Sha256};
    let names: Vec<(&str, String)> = names
        .into_iter()
        .map(|name| (name, readable(name)))
        .collect();
    let mut sharing: BTreeMap<String, usize> = BTreeMap::new();
    for (_, form) in &names {
        *sharing.entry(form.to_lowercase()).or_default() += 1;
    }
    let mut stems = BTreeMap::new();
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    for (name, form) in names {
        let stem = if !form.is_empty() && sharing.get(&form.to_lowercase()) == Some(&1) {
            form
        } else {
            let digest = Sha256::digest(name.as_bytes());
            let hash = super::hex::hex(&digest[..5]);
            if form.is_empty() {
                hash
            } else {
                format!("{form}-{hash}")
            }
        };
        if let Some(other) = taken.insert(stem.to_lowercase(), name) {
            return Err(format!(
                "export cannot give {other:?} and {name:?} files of their own (both would be named `{stem}`); nothing was written: rename one of them"
            ));
        }
        stems.insert(name.to_string(), stem);
    }
    Ok(stems)
}
