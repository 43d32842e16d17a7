//! What a reader sees of a markdown comment, read with a CommonMark parser (with GitHub's
//! tables and strikethrough): the text and code, and the raw HTML it holds. GitHub shows raw
//! HTML it allows (`<details>`, `<summary>`, `<b>`, `<code>`) and hides HTML comments, so a
//! name that became raw HTML could hide what follows it.

use pulldown_cmark::{Event, Options, Parser};

/// Raw HTML orgops itself writes: the folding tags, and its hidden markers.
fn is_own_html(html: &str) -> bool {
    let html = html.trim();
    if html.starts_with("<!-- orgops:") && html.ends_with("-->") && html.matches("-->").count() == 1
    {
        return true;
    }
    // A line of our tags with plain text between them (a `<details><summary>` line).
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else {
            return false;
        };
        let tag = &rest[start..start + end + 1];
        if ![
            "<details>",
            "</details>",
            "<summary>",
            "</summary>",
            "<b>",
            "</b>",
            "<code>",
            "</code>",
        ]
        .contains(&tag)
        {
            return false;
        }
        rest = &rest[start + end + 1..];
    }
    true
}

/// The visible text of `markdown` (text and code, entities decoded), or the first raw HTML
/// that orgops did not write.
pub fn visible(markdown: &str) -> Result<String, String> {
    let mut out = String::new();
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    ) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Html(h) | Event::InlineHtml(h) => {
                if !is_own_html(&h) {
                    return Err(h.to_string());
                }
                // Text between our tags (a summary) is shown.
                let mut text = String::new();
                let mut inside = false;
                for c in h.chars() {
                    match c {
                        '<' => inside = true,
                        '>' => inside = false,
                        c if !inside => text.push(c),
                        _ => {}
                    }
                }
                out.push_str(&text);
            }
            _ => {}
        }
        if out.ends_with(|c: char| c != '\n') {
            // Keep lines apart where blocks end.
        }
    }
    Ok(out)
}
