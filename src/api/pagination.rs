//! Strict listing over the Admin API's three pagination styles (reference §2):
//!
//! - **A, ID cursor**: `{data, first_id, last_id, has_more}`, next page `after=<last_id>`
//!   (admin API keys: `after=<id of the last item>`, as the official SDK does).
//! - **B, opaque cursor**: `{data, has_more, next}`, next page `after=<next>`.
//! - **C, usage pages**: `{data, has_more, next_page}`, next page `page=<next_page>`.
//!
//! Strict means: `has_more` is honoured (the listing stops exactly when it is false), a page
//! that says `has_more` but carries no cursor is an error, and a cursor seen before is an
//! error — either would silently hide or repeat objects, which is how drift goes unnoticed.
//! Every request asks for the endpoint's maximum page size, so a collection costs the
//! minimum number of requests.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::client::{Call, Client};
use super::error::Error;

/// Told about every list page fetched (drives the "requests done / expected" display).
pub trait PageObserver: Send + Sync {
    /// One page arrived; `has_more` means one more request is coming for this collection.
    fn page_fetched(&self, has_more: bool);
}

/// Where the next page's cursor comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Style<T> {
    /// Style A: `after=<last_id>`.
    LastId,
    /// Style A variant: `after=<id of the last item>`.
    LastItemId(fn(&T) -> &str),
    /// Style B: `after=<next>`.
    Next,
    /// Style C: `page=<next_page>`.
    NextPage,
}

/// Maximum page sizes (reference §2): "1–100" lists and lists with no stated range use 100;
/// groups, group users, roles and role-assignment lists allow 1000; project groups 100.
pub(crate) const MAX_PAGE_A: u32 = 100;
pub(crate) const MAX_PAGE_B: u32 = 1000;
pub(crate) const MAX_PAGE_PROJECT_GROUPS: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
struct Envelope<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    next_page: Option<String>,
}

impl Client {
    /// Lists a whole collection: `call` is the first request (without `limit`/`after`);
    /// pages are fetched sequentially (each needs the previous cursor) at `page_size`.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        call: Call,
        style: Style<T>,
        page_size: u32,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        self.for_each_page(call, style, page_size, |page| items.extend(page))
            .await?;
        Ok(items)
    }

    /// Like [`Client::list_all`], handing each page to `on_page` as soon as it arrives.
    pub(crate) async fn for_each_page<T: DeserializeOwned>(
        &self,
        call: Call,
        style: Style<T>,
        page_size: u32,
        mut on_page: impl FnMut(Vec<T>),
    ) -> Result<(), Error> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = call.clone().query("limit", page_size);
            if let Some(cursor) = &cursor {
                let name = if matches!(style, Style::NextPage) {
                    "page"
                } else {
                    "after"
                };
                request = request.query(name, cursor);
            }
            let page: Envelope<T> = self.execute(&request).await?;
            if let Some(observer) = self.page_observer() {
                observer.page_fetched(page.has_more);
            }
            let next = match style {
                Style::LastId => page.last_id.clone(),
                Style::LastItemId(id_of) => page.data.last().map(|item| id_of(item).to_string()),
                Style::Next => page.next.clone(),
                Style::NextPage => page.next_page.clone(),
            };
            on_page(page.data);
            if !page.has_more {
                return Ok(());
            }
            let field = match style {
                Style::LastId => "last_id",
                Style::LastItemId(_) => "the last item's id",
                Style::Next => "next",
                Style::NextPage => "next_page",
            };
            let next = next
                .filter(|c| !c.is_empty())
                .ok_or_else(|| Error::Pagination {
                    route: call.route.to_string(),
                    reason: format!("a page says has_more but carries no cursor ({field})"),
                })?;
            if !seen.insert(next.clone()) {
                return Err(Error::Pagination {
                    route: call.route.to_string(),
                    reason: format!("cursor {next:?} was returned twice"),
                });
            }
            cursor = Some(next);
        }
    }
}
