//! Who the workflow is on GitHub: the account its token writes comments as. Only comments by
//! that account count as orgops's own (the sticky plan comment, the approval apply reads, the
//! drift issue); anything anyone else writes is ignored and never edited, whatever markers it
//! carries (see `docs/github-action.md`, "Trust model").
//!
//! Discovery, first match wins:
//! 1. `ORGOPS_GITHUB_BOT_LOGIN` (the action's `bot-login` input), for a GitHub App's token:
//!    its bot is `<app-slug>[bot]`, and an installation token cannot ask who it is;
//! 2. `GET /user`, for a personal access token (or a user-to-server token): that account;
//! 3. when GitHub refuses `GET /user` (401/403, an installation token): `github-actions[bot]`,
//!    the author of every comment written with the workflow's `GITHUB_TOKEN`.
//!
//! The author's `type` must match too (`Bot` for a `[bot]` login): a user account cannot be
//! named `…[bot]`, and a copy of a bot's comment posted by a person says `User`.

use super::client::{Account, GitHubClient};

/// The bot behind every workflow's `GITHUB_TOKEN`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// The environment variable naming the bot explicitly (the action's `bot-login` input).
pub const BOT_LOGIN_ENV: &str = "ORGOPS_GITHUB_BOT_LOGIN";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub login: String,
    /// `Bot` or `User`.
    pub kind: String,
    /// How it was found, for the log.
    pub source: &'static str,
}

impl Identity {
    /// The identity a login names: `…[bot]` logins are bots, others users.
    pub fn from_login(login: &str, source: &'static str) -> Identity {
        let kind = if login.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        };
        Identity {
            login: login.to_string(),
            kind: kind.to_string(),
            source,
        }
    }

    /// True when `author` is this identity (login, compared as GitHub does without case, and
    /// account type).
    pub fn wrote(&self, author: Option<&Account>) -> bool {
        author.is_some_and(|a| a.login.eq_ignore_ascii_case(&self.login) && a.kind == self.kind)
    }

    pub fn describe(&self) -> String {
        format!("{} ({}, {})", self.login, self.kind, self.source)
    }
}

/// Finds the workflow's identity (see the module documentation).
pub async fn discover(client: &GitHubClient, bot_login: Option<&str>) -> anyhow::Result<Identity> {
    if let Some(login) = bot_login.map(str::trim).filter(|l| !l.is_empty()) {
        return Ok(Identity::from_login(login, BOT_LOGIN_ENV));
    }
    Ok(match client.token_account().await? {
        Some(account) => Identity {
            login: account.login,
            kind: account.kind,
            source: "GET /user",
        },
        None => Identity::from_login(ACTIONS_BOT, "an installation token"),
    })
}

/// Seconds since the Unix epoch of a GitHub timestamp (`2026-01-31T09:15:00Z`, optionally
/// with fractional seconds); `None` for anything else.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let time = time.split('.').next()?;
    let mut t = time.split(':');
    let (hh, mm, ss): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if t.next().is_some() || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_to_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2026-01-01T00:00:03Z"), Some(1_767_225_603));
        assert_eq!(
            parse_timestamp("2024-02-29T12:00:00.5Z"),
            Some(1_709_208_000)
        );
        assert_eq!(parse_timestamp("2026-01-01 00:00:00"), None);
        assert_eq!(parse_timestamp("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn only_the_same_login_and_type_count() {
        let bot = Identity::from_login(ACTIONS_BOT, "test");
        let account = |login: &str, kind: &str| Account {
            login: login.into(),
            kind: kind.into(),
        };
        assert!(bot.wrote(Some(&account("github-actions[bot]", "Bot"))));
        assert!(!bot.wrote(Some(&account("github-actions[bot]", "User"))));
        assert!(!bot.wrote(Some(&account("mallory", "User"))));
        assert!(!bot.wrote(None));
        assert_eq!(Identity::from_login("ci-admin", "t").kind, "User");
    }
}
