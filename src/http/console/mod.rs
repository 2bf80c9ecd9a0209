//! The web console: server-rendered pages on the HTTP listener, beside `/metrics`.
//!
//! - `/`: the brokers, topic and partition counts, under-replicated and offline partitions, and
//!   live charts of bytes in/out, messages in and requests per second (the page's script polls
//!   `/console/stats`, the same counters `/metrics` exposes);
//! - `/topics`, `/topics/{name}`: topics, their partitions (leader, replicas, ISR, offsets,
//!   size) and configs with their sources; create, delete (the name typed again), edit configs;
//! - `/topics/{name}/messages`: a bounded read of one partition, and a form to produce one record;
//! - `/groups`, `/groups/{id}`: consumer groups, members, assignments, committed offsets and lag;
//!   reset offsets (empty groups only) and delete.
//!
//! Actions go through the Kafka request handlers themselves (CreateTopics, DeleteTopics,
//! IncrementalAlterConfigs, Produce, OffsetCommit, DeleteGroups) with a request built here, so
//! that they follow the same checks, controller path and replication as a Kafka client's
//! request. Every page and action runs as the viewer (the logged-in `User:<name>`, or
//! `User:ANONYMOUS` on a broker without password users: see `http::auth`) and is authorized
//! as the equivalent Kafka request would be ([`access`]): topics and groups the viewer may not
//! DESCRIBE are left out of lists, and a denied page or action is a 403 page naming the
//! principal, operation and resource. Without an authorizer everything is allowed.
//!
//! Safety: every value is interpolated by `maud`, which escapes it; pages are sent with a
//! Content-Security-Policy that admits only the embedded script and stylesheet. Actions are POST
//! forms, refused when the browser says they come from another site (`Origin`,
//! `Sec-Fetch-Site`), so a web page cannot drive a console on localhost. Bad input gets an error
//! page with a 4xx status. Record reads are bounded and run on a blocking thread; no partition
//! lock is held while a page renders.

mod access;
mod groups;
mod layout;
mod messages;
mod overview;
mod topics;

use std::sync::Arc;

use axum::extract::{Form, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;

pub(super) use access::Access;

use super::HttpState;

/// The console's routes, merged into the listener's router.
pub(super) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/", get(overview::page))
        .route("/console/stats", get(overview::stats))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/console.js", get(script))
        .route("/topics", get(topics::list).post(topics::create))
        .route("/topics/{name}", get(topics::detail))
        .route("/topics/{name}/delete", post(topics::delete))
        .route("/topics/{name}/config", post(topics::alter_config))
        .route(
            "/topics/{name}/messages",
            get(messages::browse).post(messages::produce),
        )
        .route("/groups", get(groups::list))
        .route("/groups/{id}", get(groups::detail))
        .route("/groups/{id}/reset", post(groups::reset_offsets))
        .route("/groups/{id}/delete", post(groups::delete))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("assets/console.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("assets/console.js"),
    )
        .into_response()
}

/// What a page could not do: a status and a sentence for the error page.
#[derive(Debug)]
pub(super) struct ConsoleError {
    status: StatusCode,
    message: String,
}

impl ConsoleError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A Kafka error code a handler answered with, named as Kafka names it.
    pub(super) fn kafka(what: &str, code: i16, message: Option<&str>) -> Self {
        use kafka_protocol::ResponseError;
        let status = match ResponseError::try_from_code(code) {
            Some(ResponseError::UnknownTopicOrPartition | ResponseError::GroupIdNotFound) => {
                StatusCode::NOT_FOUND
            }
            Some(
                ResponseError::TopicAuthorizationFailed
                | ResponseError::GroupAuthorizationFailed
                | ResponseError::ClusterAuthorizationFailed
                | ResponseError::TransactionalIdAuthorizationFailed,
            ) => StatusCode::FORBIDDEN,
            Some(
                ResponseError::TopicAlreadyExists
                | ResponseError::NonEmptyGroup
                | ResponseError::UnknownMemberId
                | ResponseError::IllegalGeneration
                | ResponseError::RebalanceInProgress
                | ResponseError::NotLeaderOrFollower
                | ResponseError::NotCoordinator
                | ResponseError::NotController,
            ) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        let name = super::metrics::error_name(code);
        let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
        Self::new(status, format!("{what} failed with {name}{detail}"))
    }
}

/// The first error among a Kafka response's (error code, message) pairs, as an error page that
/// says what failed.
pub(super) fn kafka_outcome<'a>(
    what: impl FnOnce() -> String,
    results: impl IntoIterator<Item = (i16, Option<&'a str>)>,
) -> Result<(), ConsoleError> {
    match results.into_iter().find(|(code, _)| *code != 0) {
        Some((code, message)) => Err(ConsoleError::kafka(&what(), code, message)),
        None => Ok(()),
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let body = maud::html! {
            p.error { (self.message) }
            p { a href="/" { "Back to the overview" } }
        };
        let mut response = layout::render(
            &format!("Error {}", self.status.as_u16()),
            layout::Nav::None,
            body,
        );
        *response.status_mut() = self.status;
        response
    }
}

pub(super) type PageResult = Result<Response, ConsoleError>;

/// Refuses a POST that the browser says another site sent (cross-site request forgery against a
/// console on localhost): `Sec-Fetch-Site: cross-site`, or an `Origin` that is not this host.
fn check_same_origin(headers: &HeaderMap) -> Result<(), ConsoleError> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let forbidden = || {
        ConsoleError::new(
            StatusCode::FORBIDDEN,
            "This form was sent from another site; the console takes actions only from its own pages.",
        )
    };
    if text(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return Err(forbidden());
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).unwrap_or_default();
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o == host);
        if !same {
            return Err(forbidden());
        }
    }
    Ok(())
}

/// 303 to `location` after a successful action (the browser then GETs it).
pub(super) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// A form or query value as a number, or a clear error naming the field.
pub(super) fn parse_number<T: std::str::FromStr>(
    field: &str,
    text: &str,
) -> Result<Option<T>, ConsoleError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        let shown: String = text.chars().take(40).collect();
        ConsoleError::bad_request(format!("{field}: '{shown}' is not a valid number"))
    })
}

/// An extracted value, or an error page for one that does not decode, with the extractor's
/// status (400, or 413 for a body over [`super::MAX_BODY_BYTES`]).
fn decoded<T, E>(value: Result<T, E>, what: &str) -> Result<T, ConsoleError>
where
    E: IntoResponse + std::fmt::Display,
{
    value.map_err(|e| {
        let message = format!("malformed {what}: {e}");
        let status = e.into_response().status();
        ConsoleError::new(status, message)
    })
}

/// The `{name}` or `{id}` of a route; an error page when it does not decode.
pub(super) struct Named(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Named {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        let path = Path::<String>::from_request_parts(parts, state).await;
        decoded(path, "address").map(|p| Named(p.0))
    }
}

/// A query string; an error page when it does not decode.
pub(super) struct Queried<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Queried<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        let query = Query::<T>::from_request_parts(parts, state).await;
        decoded(query, "query").map(|q| Queried(q.0))
    }
}

/// A posted form; an error page when it does not decode or is too large.
pub(super) struct Posted<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Posted<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ConsoleError> {
        let form = Form::<T>::from_request(request, state).await;
        decoded(form, "form").map(|f| Posted(f.0))
    }
}

/// The broker and the viewer, for an action: refused ([`check_same_origin`]) before the handler
/// runs; each action then asks [`Access::require`] for its ACL.
pub(super) struct Writable(pub Access);

impl FromRequestParts<Arc<HttpState>> for Writable {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<HttpState>,
    ) -> Result<Self, ConsoleError> {
        check_same_origin(&parts.headers)?;
        Access::from_request_parts(parts, state).await.map(Writable)
    }
}
