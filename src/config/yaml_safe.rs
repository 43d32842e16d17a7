//! YAML a person reads, with no raw bidirectional control in it (issue 21).
//!
//! serde-saphyr escapes control characters (C0, C1, the line separators) in a double-quoted
//! scalar, but writes the bidirectional controls (U+202A–U+202E, U+2066–U+2069) as they are,
//! in plain scalars too: an exported project named `Evil\u{202e}gpj.exe` would read
//! reordered in a terminal or a pull-request diff. YAML can escape them only inside double
//! quotes, and serde-saphyr has no switch for it, so [`quote_hidden`] re-serializes such a
//! document through [`serde_saphyr::DoubleQuoted`] for every string holding a hidden
//! character, escapes those characters as `\uXXXX`, and checks that the text reads back as
//! the very same document (a mapping key it could not quote is refused, never changed).
//! Documents without such characters (all but hostile ones) never come here.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::Value;

use crate::text::escape::is_hidden;

/// Whether serde-saphyr's text still holds a character no rendering prints raw (its own
/// escapes cover everything else; line feeds are structure).
pub(crate) fn has_raw_hidden(yaml: &str) -> bool {
    yaml.chars().any(|c| c != '\n' && is_hidden(c))
}

/// `value` as YAML with every hidden character of a string written as a `\uXXXX` escape in
/// a double-quoted scalar; refused when the result would not read back as `value`.
pub(crate) fn quote_hidden(
    value: &Value,
    options: serde_saphyr::SerializerOptions,
) -> anyhow::Result<String> {
    let text = serde_saphyr::to_string_with_options(&Quoting(value), options)
        .map_err(|e| anyhow::anyhow!("serializing the document: {e}"))?;
    // Every string that holds a hidden character is now double-quoted, where a `\uXXXX`
    // escape means the character itself.
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c != '\n' && is_hidden(c) {
            out.push_str(&format!("\\u{:04X}", c as u32));
        } else {
            out.push(c);
        }
    }
    let back: Value = serde_saphyr::from_str(&out)
        .map_err(|e| anyhow::anyhow!("re-reading the escaped document: {e}"))?;
    if back != *value {
        anyhow::bail!(
            "a name holds a bidirectional control character YAML cannot escape where it \
             stands (a mapping key, such as a rate limit's model name): refusing to write it \
             raw or changed"
        );
    }
    Ok(out)
}

/// Serializes a JSON value as it is, except that a string holding a hidden character is
/// wrapped in [`serde_saphyr::DoubleQuoted`].
struct Quoting<'a>(&'a Value);

impl Serialize for Quoting<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(s) if s.chars().any(is_hidden) => {
                serde_saphyr::DoubleQuoted(s.as_str()).serialize(serializer)
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Quoting(item))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, item) in map {
                    out.serialize_entry(key, &Quoting(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> serde_saphyr::SerializerOptions {
        let mut options = serde_saphyr::SerializerOptions::default();
        options.compact_list_indent = false;
        options
    }

    #[test]
    fn bidi_controls_are_escaped_in_double_quotes_and_read_back_the_same() {
        let value = serde_json::json!({
            "projects": [
                {"name": "Evil\u{202e}gpj.exe"},
                {"name": format!("{} \u{2066}long", "word ".repeat(30))},
                {"name": "plain"}
            ]
        });
        let text = quote_hidden(&value, options()).expect("escaped");
        assert!(!has_raw_hidden(&text), "{text}");
        assert!(text.contains("\"Evil\\u202Egpj.exe\""), "{text}");
        assert!(text.contains("name: plain"), "{text}");
        let back: Value = serde_saphyr::from_str(&text).expect("YAML");
        assert_eq!(back, value);
    }

    #[test]
    fn a_key_with_a_bidi_control_is_refused_not_changed() {
        let value = serde_json::json!({"rate_limits": {"gpt\u{202e}4o": {"max": 1}}});
        let error = quote_hidden(&value, options()).expect_err("a key cannot be quoted");
        assert!(error.to_string().contains("mapping key"), "{error}");
    }
}
