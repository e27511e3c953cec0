//! The web page over a real socket: `/ui` serves the embedded files with their types and
//! entity tags, `/` redirects to it, and the page needs no token even with ACLs on (its
//! data calls do).

use crate::common::Server;

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get(s: &Server, path: &str, if_none_match: Option<&str>) -> reqwest::Response {
    let mut req = no_redirects().get(format!("{}{path}", s.client.base));
    if let Some(tag) = if_none_match {
        req = req.header("If-None-Match", tag);
    }
    req.send().await.expect("request")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn ui_serves_the_page_as_html_at_ui_and_ui_slash() {
    let s = Server::start().await;
    for path in ["/ui", "/ui/"] {
        let r = get(&s, path, None).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&r, "cache-control"), "no-cache");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert!(header(&r, "content-security-policy").contains("script-src 'self'"));
        let tag = header(&r, "etag");
        assert!(
            tag.starts_with('"') && tag.ends_with('"'),
            "strong tag: {tag}"
        );
        let body = r.text().await.expect("body");
        assert!(body.starts_with("<!doctype html>"));
        assert!(body.contains(r#"<script type="module" src="/ui/app.js"></script>"#));
        assert!(body.contains(r#"<main id="main""#));
    }
}

#[tokio::test]
async fn ui_files_have_their_content_types() {
    let s = Server::start().await;
    for (path, content_type) in [
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/views/deployment.js", "text/javascript; charset=utf-8"),
        ("/ui/style.css", "text/css; charset=utf-8"),
        ("/ui/index.html", "text/html; charset=utf-8"),
    ] {
        let r = get(&s, path, None).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "content-type"), content_type, "{path}");
        assert!(!header(&r, "etag").is_empty(), "{path}");
        assert!(!r.bytes().await.expect("body").is_empty(), "{path}");
    }
}

#[tokio::test]
async fn ui_answers_304_when_the_browsers_copy_is_current() {
    let s = Server::start().await;
    let first = get(&s, "/ui/app.js", None).await;
    let tag = header(&first, "etag");
    let again = get(&s, "/ui/app.js", Some(&tag)).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), tag);
    assert!(again.bytes().await.expect("body").is_empty());
    // A tag of another file (or an old build) gets the file.
    let other = header(&get(&s, "/ui/style.css", None).await, "etag");
    assert_ne!(other, tag);
    assert_eq!(get(&s, "/ui/app.js", Some(&other)).await.status(), 200);
}

#[tokio::test]
async fn root_redirects_to_the_page() {
    let s = Server::start().await;
    let r = get(&s, "/", None).await;
    assert_eq!(r.status(), 307);
    assert_eq!(header(&r, "location"), "/ui/");
}

#[tokio::test]
async fn unknown_ui_files_are_404_as_any_unknown_path_and_writes_are_405() {
    let s = Server::start().await;
    for path in ["/ui/nope.js", "/ui/views/", "/uix"] {
        let r = get(&s, path, None).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(
            r.text().await.expect("body"),
            format!("rollout does not implement GET {path}")
        );
    }
    // Nothing outside the embedded files: `..` is resolved before routing.
    let r = get(&s, "/ui/../Cargo.toml", None).await;
    assert_eq!(r.status(), 404);
    let r = s.client.post("/ui/", serde_json::json!({})).await;
    assert_eq!((r.status, r.text.as_str()), (405, "Invalid method"));
}

#[tokio::test]
async fn ui_needs_no_token_with_acls_on_but_its_data_does() {
    let s = Server::with_acls().await;
    assert_eq!(get(&s, "/ui/", None).await.status(), 200);
    assert_eq!(get(&s, "/ui/api.js", None).await.status(), 200);
    let r = s.client.get("/v1/jobs").await;
    assert_eq!((r.status, r.text.as_str()), (403, "Permission denied"));
}
