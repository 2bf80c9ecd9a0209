//! The frame every console page shares (head, navigation, the logged-in user), the security
//! headers it is sent with, and small formatting helpers.

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::security::KafkaPrincipal;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Overview,
    Topics,
    Groups,
    None,
}

/// Only the embedded script and stylesheet run; no frame may embed the console.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// A whole page: `title` as heading, `body` inside the frame.
pub(super) fn render(title: &str, nav: Nav, body: Markup) -> Response {
    render_with(title, nav, None, body)
}

/// [`render`], naming the logged-in user (`login`) in the header.
pub(super) fn render_with(
    title: &str,
    nav: Nav,
    login: Option<&KafkaPrincipal>,
    body: Markup,
) -> Response {
    let link = |target: Nav, href: &str, text: &str| {
        html! {
            a href=(href) class=[(nav == target).then_some("active")] { (text) }
        }
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Milena" }
                // No favicon request (a 404 in the browser's console).
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { "Milena" }
                    nav {
                        (link(Nav::Overview, "/", "Overview"))
                        (link(Nav::Topics, "/topics", "Topics"))
                        (link(Nav::Groups, "/groups", "Consumer groups"))
                        a href="/metrics" { "Metrics" }
                    }
                    @if let Some(principal) = login {
                        span.login #login title="The console acts as this user, under the broker's ACLs" {
                            (principal.to_string())
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    let mut response = Html(markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        // Not `no-referrer`: under it browsers send `Origin: null` with the console's own forms.
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What a path segment keeps as is: RFC 3986's unreserved characters (every character of a
/// legal topic name).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A topic name or group id as one path segment of a link.
pub(super) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// Bytes for people: `1.5 MiB`.
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Broker ids as `1, 2, 3`.
pub(super) fn ids(ids: &[i32]) -> String {
    ids.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A timestamp in ms; the page's script shows it as a date in the browser's time zone.
pub(super) fn timestamp(ms: i64) -> Markup {
    html! { time data-ms=(ms) { (ms) } }
}
