//! Strict listing over the Admin API's three pagination styles (reference §2):
//!
//! - **A, ID cursor**: `{data, first_id, last_id, has_more}`, next page `after=<last_id>`
//!   (admin API keys: `after=<id of the last item>`, as the official SDK does).
//! - **B, opaque cursor**: `{data, has_more, next}`, next page `after=<next>`.
//! - **C, usage pages**: `{data, has_more, next_page}`, next page `page=<next_page>`.
//! - **Token pages** (health alert rules, SDK 3.63.0's `SyncTokenPage`): `{data, has_more,
//!   next}`, next page `page=<next>`.
//!
//! Strict means: `has_more` is honoured (the listing stops exactly when it is false), a page
//! that says `has_more` but carries no cursor is an error, and a cursor seen before is an
//! error — either would silently hide or repeat objects, which is how drift goes unnoticed.
//! Every request asks for the endpoint's maximum page size, so a collection costs the
//! minimum number of requests.
//!
//! Bounded: a listing stops with [`Error::TooManyPages`] after [`MAX_PAGES`] pages (a server
//! that keeps returning new cursors with `has_more: true` would otherwise keep `plan`,
//! `drift` or `audit` reading forever). Cursors are server text: a repeated one is named
//! escaped.

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
#[derive(Debug)]
pub(crate) enum Style<T> {
    /// Style A: `after=<last_id>`.
    LastId,
    /// Style A backwards, where a list takes `before`: `before=<first_id>` (the page just
    /// before the previous one in the list's order).
    FirstIdBefore,
    /// Style A variant: `after=<id of the last item>`.
    LastItemId(fn(&T) -> &str),
    /// Style B: `after=<next>`.
    Next,
    /// Style C: `page=<next_page>`.
    NextPage,
    /// Token pages: `page=<next>`.
    NextAsPage,
}

// Copy whatever `T` is (derive would require `T: Copy`): only a fn pointer is held.
impl<T> Clone for Style<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Style<T> {}

/// Maximum page sizes (reference §2): "1–100" lists and lists with no stated range use 100;
/// groups, group users, roles and role-assignment lists allow 1000; project groups 100.
pub(crate) const MAX_PAGE_A: u32 = 100;
pub(crate) const MAX_PAGE_B: u32 = 1000;
pub(crate) const MAX_PAGE_PROJECT_GROUPS: u32 = 100;

/// The most pages read from one listing (docs/plan.md, "Limits"): 1,000,000 objects at 100
/// a page, ten times the largest organization orgops is measured on; the audit log beyond
/// that is read in ranges (`--since`, `--until`, `--after`).
pub const MAX_PAGES: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
struct Envelope<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    first_id: Option<String>,
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

    /// Like [`Client::list_all`] for objects read as JSON and made into `T` by `decode`: an
    /// item it refuses is an error quoting it, as the `what` orgops expected.
    pub(crate) async fn list_decoded<T>(
        &self,
        call: Call,
        style: Style<serde_json::Value>,
        what: &str,
        decode: impl Fn(&serde_json::Value) -> Option<T>,
    ) -> Result<Vec<T>, Error> {
        let route = call.route;
        let items = self.list_all(call, style, MAX_PAGE_A).await?;
        items
            .iter()
            .map(|v| decode(v).ok_or_else(|| Error::unexpected(route, what, v)))
            .collect()
    }

    /// Like [`Client::list_all`], handing each page to `on_page` as soon as it arrives.
    pub(crate) async fn for_each_page<T: DeserializeOwned>(
        &self,
        call: Call,
        style: Style<T>,
        page_size: u32,
        mut on_page: impl FnMut(Vec<T>),
    ) -> Result<(), Error> {
        let mut pager = Pager::new(self, call, style, page_size, None);
        while let Some(page) = pager.next_page().await? {
            on_page(page);
        }
        Ok(())
    }
}

/// A strict listing one page at a time (what `Client::for_each_page` loops over), for a
/// caller that awaits between pages or stops early: it never requests a page nobody asked
/// for. Starts at the cursor `start` when given (after it; before it for
/// `Style::FirstIdBefore`).
pub struct Pager<'c, T> {
    client: &'c Client,
    call: Call,
    style: Style<T>,
    page_size: u32,
    seen: BTreeSet<String>,
    cursor: Option<String>,
    /// Pages fetched so far.
    pages: usize,
    /// No page follows: the last one said `has_more: false`.
    done: bool,
    /// The last page broke the pagination rules: returned on the next call, after its items.
    error: Option<Error>,
}

impl<'c, T: DeserializeOwned> Pager<'c, T> {
    pub(crate) fn new(
        client: &'c Client,
        call: Call,
        style: Style<T>,
        page_size: u32,
        start: Option<String>,
    ) -> Self {
        Pager {
            client,
            call,
            style,
            page_size,
            seen: BTreeSet::new(),
            cursor: start.filter(|c| !c.is_empty()),
            pages: 0,
            done: false,
            error: None,
        }
    }

    /// Whether the listing is complete (or failed): no page follows.
    pub fn is_done(&self) -> bool {
        self.done && self.error.is_none()
    }

    /// The next page's items; `None` once the listing is complete. A page that says
    /// `has_more` without a usable cursor is returned, and the next call is the error.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, Error> {
        if let Some(error) = self.error.take() {
            self.done = true;
            return Err(error);
        }
        if self.done {
            return Ok(None);
        }
        let style = self.style;
        let mut request = self.call.clone().query("limit", self.page_size);
        if let Some(cursor) = &self.cursor {
            let name = match style {
                Style::NextPage | Style::NextAsPage => "page",
                Style::FirstIdBefore => "before",
                _ => "after",
            };
            request = request.query(name, cursor);
        }
        let page: Envelope<T> = match self.client.execute(&request).await {
            Ok(page) => page,
            Err(error) => {
                self.done = true;
                return Err(error);
            }
        };
        self.pages += 1;
        if let Some(observer) = self.client.page_observer() {
            observer.page_fetched(page.has_more);
        }
        let next = match style {
            Style::LastId => page.last_id.clone(),
            Style::FirstIdBefore => page.first_id.clone(),
            Style::LastItemId(id_of) => page.data.last().map(|item| id_of(item).to_string()),
            Style::Next | Style::NextAsPage => page.next.clone(),
            Style::NextPage => page.next_page.clone(),
        };
        if !page.has_more {
            self.done = true;
            return Ok(Some(page.data));
        }
        let field = match style {
            Style::LastId => "last_id",
            Style::FirstIdBefore => "first_id",
            Style::LastItemId(_) => "the last item's id",
            Style::Next | Style::NextAsPage => "next",
            Style::NextPage => "next_page",
        };
        let route = self.call.route.to_string();
        if self.pages >= MAX_PAGES {
            self.error = Some(Error::TooManyPages {
                route,
                pages: self.pages,
            });
            return Ok(Some(page.data));
        }
        match next.filter(|c| !c.is_empty()) {
            None => {
                self.error = Some(Error::Pagination {
                    route,
                    reason: format!("a page says has_more but carries no cursor ({field})"),
                });
            }
            Some(next) if !self.seen.insert(next.clone()) => {
                self.error = Some(Error::Pagination {
                    route,
                    reason: format!(
                        "cursor \"{}\" was returned twice",
                        crate::text::escape::text(&next)
                    ),
                });
            }
            Some(next) => self.cursor = Some(next),
        }
        Ok(Some(page.data))
    }
}
