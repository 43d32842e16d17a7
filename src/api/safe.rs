//! The write protocol that makes apply convergent under faults.
//!
//! - **Creates** ([`create_or_find`]): the client never retries a create that may have
//!   landed; it answers [`Error::Ambiguous`]. We then re-read the collection and look the
//!   object up by natural key: found means our create landed (its ID is adopted), absent means
//!   it did not and the create is sent again, at most [`MAX_CREATE_ROUNDS`] times. A create
//!   refused with 400/409 is also followed by a re-read: if the object is there (inviting
//!   someone already invited, a member already in the group), the change is already
//!   satisfied; if not, the API's refusal stands. Nothing is ever created twice.
//! - **Secret-minting creates** ([`find_then_create`]): admin API keys and service accounts
//!   are looked up by natural key right before the create, and adopted when already there.
//! - **Removals** ([`remove`]): a 404 means the object is already gone, which is success.
//! - **Reads and idempotent writes** ([`retry_transient`]): retried on transient failures
//!   (5xx, 429 past the deadline, timeouts, transport errors) beyond the client's own
//!   retries, [`MAX_TRANSIENT_ROUNDS`] rounds in all. Repeating them is harmless.

use std::future::Future;

use crate::api::Error;

/// Creates sent for one object before giving up on an outcome that stays unknown.
pub const MAX_CREATE_ROUNDS: u32 = 6;

/// Rounds of the client's retry loop for reads and idempotent writes.
pub const MAX_TRANSIENT_ROUNDS: u32 = 3;

/// How a create ended.
#[derive(Debug)]
pub enum Created<T> {
    /// The API answered the create: the new object.
    New(T),
    /// The outcome was unknown and the re-read found the object: our create landed.
    Landed(String),
    /// The API refused the create and the re-read found the object: it was already there.
    AlreadyThere(String),
}

/// How a removal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// 404: nothing to remove.
    AlreadyGone,
}

/// A failure that says nothing about the request itself: trying again may succeed.
pub fn is_transient(error: &Error) -> bool {
    match error {
        Error::Timeout { .. } | Error::Transport { .. } => true,
        Error::Api(_) | Error::Http { .. } => error.status().is_some_and(|s| s >= 500 || s == 429),
        _ => false,
    }
}

/// The refusal a create gets when the object (or the membership) already exists.
fn may_mean_exists(error: &Error) -> bool {
    matches!(error.status(), Some(400) | Some(409))
}

/// Runs a read or an idempotent write, again on transient failures.
pub async fn retry_transient<T, F, Fut>(mut call: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut round = 1;
    loop {
        match call().await {
            Err(error) if is_transient(&error) && round < MAX_TRANSIENT_ROUNDS => {
                tracing::debug!("retrying after a transient failure: {error}");
                round += 1;
            }
            other => return other,
        }
    }
}

/// Runs a removal (an idempotent write); 404 is [`Removal::AlreadyGone`].
pub async fn remove<T, F, Fut>(call: F) -> Result<Removal, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    match retry_transient(call).await {
        Ok(_) => Ok(Removal::Removed),
        Err(error) if error.is_not_found() => Ok(Removal::AlreadyGone),
        Err(error) => Err(error),
    }
}

/// Looks the object up by natural key right before creating it, so that another writer's
/// object of the same key (a second apply on another machine) is adopted rather than
/// duplicated: the window between the check and the create is one request long. Then
/// [`create_or_find`]. Used for the objects whose create mints a secret (admin API keys,
/// service accounts), where a duplicate is a key nobody manages.
pub async fn find_then_create<T, C, CFut, F, FFut>(
    create: C,
    mut find: F,
) -> Result<Created<T>, Error>
where
    C: FnMut() -> CFut,
    CFut: Future<Output = Result<T, Error>>,
    F: FnMut() -> FFut,
    FFut: Future<Output = Result<Option<String>, Error>>,
{
    if let Some(id) = retry_transient(&mut find).await? {
        return Ok(Created::AlreadyThere(id));
    }
    create_or_find(create, find).await
}

/// Creates an object safely: see the module doc. `find` re-reads the collection and returns
/// the ID of the object with the create's natural key, if any.
pub async fn create_or_find<T, C, CFut, F, FFut>(
    mut create: C,
    mut find: F,
) -> Result<Created<T>, Error>
where
    C: FnMut() -> CFut,
    CFut: Future<Output = Result<T, Error>>,
    F: FnMut() -> FFut,
    FFut: Future<Output = Result<Option<String>, Error>>,
{
    let mut round = 1;
    let mut was_ambiguous = false;
    loop {
        match create().await {
            Ok(object) => return Ok(Created::New(object)),
            Err(error) if error.is_ambiguous() => {
                if let Some(id) = retry_transient(&mut find).await? {
                    return Ok(Created::Landed(id));
                }
                if round >= MAX_CREATE_ROUNDS {
                    return Err(error);
                }
                tracing::debug!("create did not land ({error}); sending it again");
                was_ambiguous = true;
                round += 1;
            }
            Err(error) if may_mean_exists(&error) => {
                return match retry_transient(&mut find).await? {
                    // An earlier round's create landed after all (the re-read lagged).
                    Some(id) if was_ambiguous => Ok(Created::Landed(id)),
                    Some(id) => Ok(Created::AlreadyThere(id)),
                    None => Err(error),
                };
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::api::ApiError;

    fn ambiguous() -> Error {
        Error::Ambiguous {
            method: "POST".into(),
            route: "/organization/projects".into(),
            cause: "HTTP 502".into(),
        }
    }

    fn api(status: u16) -> Error {
        Error::Api(Box::new(ApiError {
            status,
            error_type: "invalid_request_error".into(),
            code: None,
            message: "nope".into(),
            param: None,
            method: "POST".into(),
            route: "/organization/projects".into(),
            request_id: None,
        }))
    }

    #[tokio::test]
    async fn an_ambiguous_create_that_landed_is_not_sent_again() {
        let creates = AtomicU32::new(0);
        let outcome = create_or_find(
            || async {
                creates.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(ambiguous())
            },
            || async { Ok(Some("proj_1".to_string())) },
        )
        .await
        .expect("found");
        assert!(matches!(outcome, Created::Landed(id) if id == "proj_1"));
        assert_eq!(creates.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_ambiguous_create_that_did_not_land_is_sent_again() {
        let creates = AtomicU32::new(0);
        let outcome = create_or_find(
            || async {
                if creates.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(ambiguous())
                } else {
                    Ok("created")
                }
            },
            || async { Ok(None) },
        )
        .await
        .expect("created on the second round");
        assert!(matches!(outcome, Created::New("created")));
        assert_eq!(creates.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_outcome_that_stays_unknown_gives_up_after_the_bounded_rounds() {
        let creates = AtomicU32::new(0);
        let error = create_or_find(
            || async {
                creates.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(ambiguous())
            },
            || async { Ok(None) },
        )
        .await
        .expect_err("never lands");
        assert!(error.is_ambiguous());
        assert_eq!(creates.load(Ordering::SeqCst), MAX_CREATE_ROUNDS);
    }

    #[tokio::test]
    async fn a_refused_create_is_satisfied_only_if_the_object_exists() {
        let there = create_or_find(
            || async { Err::<(), _>(api(400)) },
            || async { Ok(Some("invite-1".to_string())) },
        )
        .await
        .expect("already there");
        assert!(matches!(there, Created::AlreadyThere(id) if id == "invite-1"));
        let refused = create_or_find(|| async { Err::<(), _>(api(400)) }, || async { Ok(None) })
            .await
            .expect_err("the refusal stands");
        assert_eq!(refused.status(), Some(400));
        let forbidden = create_or_find(
            || async { Err::<(), _>(api(403)) },
            || async { Ok(Some("x".to_string())) },
        )
        .await
        .expect_err("403 is not an existence answer");
        assert_eq!(forbidden.status(), Some(403));
    }

    #[tokio::test]
    async fn removing_what_is_gone_succeeds_and_transient_failures_are_retried() {
        assert_eq!(
            remove(|| async { Err::<(), _>(api(404)) })
                .await
                .expect("gone"),
            Removal::AlreadyGone
        );
        let calls = AtomicU32::new(0);
        let removed = remove(|| async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(api(503))
            } else {
                Ok(())
            }
        })
        .await
        .expect("second round");
        assert_eq!(removed, Removal::Removed);
        let calls = AtomicU32::new(0);
        let error = retry_transient(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api(500))
        })
        .await
        .expect_err("bounded");
        assert_eq!(error.status(), Some(500));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_TRANSIENT_ROUNDS);
        assert!(!is_transient(&api(400)));
    }
}
