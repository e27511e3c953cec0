//! The web page (`/ui`): plain HTML, CSS and JavaScript modules from `crates/http/ui/`,
//! embedded in the binary when it is built, so that the agent serves its page with no
//! extra process, file or install step. The page itself holds no data: everything it
//! shows comes from the `/v1/...` API, with the token the operator gives it, so serving
//! these files needs no token even with ACLs on.
//!
//! `/` redirects (307) to `/ui/`, as Nomad's agent does. Each file has a strong `ETag`
//! (a hash of its bytes) and `Cache-Control: no-cache`: browsers keep the files but ask
//! every time, and get a bodyless 304 until the agent is rebuilt with other files.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::hash::{DefaultHasher, Hasher};
use std::sync::OnceLock;

use crate::server::Api;

/// One embedded file.
struct Asset {
    /// Its path below `/ui/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../../ui/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the page loads. `index.html` is the page at `/ui` and `/ui/`.
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("live.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("confirm.js", JS),
    asset!("views/jobs.js", JS),
    asset!("views/job.js", JS),
    asset!("views/deployment.js", JS),
];

/// The page's policy: its own scripts, styles and API only; no inline script, no
/// framing. The API's answers are inserted as text, never as markup, and this is the
/// second line of defence.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/", get(root))
        .route("/ui", get(page))
        .route("/ui/", get(page))
        .route("/ui/{*path}", get(file))
}

/// `GET /`: to the page, as Nomad's agent answers.
async fn root() -> Redirect {
    Redirect::temporary("/ui/")
}

async fn page(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(found) => serve(found, &headers),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A file of the page; one that is not embedded gets the answer of any unknown path.
async fn file(Path(path): Path<String>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    match find(&path) {
        Some(found) => serve(found, &headers),
        None => crate::error::not_found(method, uri).await.into_response(),
    }
}

/// The embedded file at `path` below `/ui/`, with its index in `ASSETS`.
fn find(path: &str) -> Option<(usize, &'static Asset)> {
    ASSETS.iter().enumerate().find(|(_, a)| a.path == path)
}

/// The file, or 304 when the browser's copy is current.
fn serve((i, asset): (usize, &'static Asset), request: &HeaderMap) -> Response {
    let etag = &etags()[i];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches_etag(v, etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = asset.body.into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if asset.content_type == HTML {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

/// The strong entity tag of each asset, in `ASSETS` order: a hash of its bytes, so it
/// changes exactly when the file does (collisions only cost a stale file until reload
/// with the cache bypassed; the files are few and small).
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let mut h = DefaultHasher::new();
                h.write(a.body);
                format!("\"{:016x}-{:x}\"", h.finish(), a.body.len())
            })
            .collect()
    })
}

/// `If-None-Match` holds `*` or a list of tags; it matches by RFC 9110's weak
/// comparison (a `W/` prefix is ignored).
fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = "\"abc-1\"";
        assert!(matches_etag("\"abc-1\"", tag));
        assert!(matches_etag("W/\"abc-1\"", tag));
        assert!(matches_etag("\"x\", \"abc-1\"", tag));
        assert!(matches_etag("*", tag));
        assert!(!matches_etag("\"abc-2\"", tag));
        assert!(!matches_etag("abc-1", tag));
    }

    #[test]
    fn every_asset_has_its_own_tag_and_the_page_links_only_embedded_files() {
        let tags = etags();
        let unique: std::collections::BTreeSet<_> = tags.iter().collect();
        assert_eq!(unique.len(), ASSETS.len());
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).expect("UTF-8 asset");
            // Every `/ui/...` a file refers to (script, style, import) is embedded.
            for (at, _) in text.match_indices("/ui/") {
                let rest = &text[at + 4..];
                let end = rest
                    .find(|c: char| c == '"' || c == '\'' || c == '`' || c.is_whitespace())
                    .unwrap_or(rest.len());
                let linked = &rest[..end];
                if linked.ends_with(".js") || linked.ends_with(".css") {
                    assert!(
                        ASSETS.iter().any(|a| a.path == linked),
                        "{} links /ui/{linked}, which is not embedded",
                        asset.path
                    );
                }
            }
        }
    }
}
