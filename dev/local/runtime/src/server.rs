//! http://127.0.0.1:P for a person's browser: `/api/*` through the api function's own router,
//! behind the same token checks as API Gateway's JWT authorizer (`auth`); `/thumbnails/*` and
//! `/avatars/*` from the assets bucket (as CloudFront serves them); the local sign-in
//! (`/oauth2/*`, `/logout`: `login`) and `/auth.json`, which tells the site where that is; and
//! everything else from `site/`.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use tiny_http::{Header, Request, Response};
use tracing::Instrument;

pub struct Site {
    pub api: api::Api,
    pub verifier: crate::auth::Verifier,
    pub login: crate::login::Login,
    pub s3: aws_sdk_s3::Client,
    pub assets_bucket: String,
    pub site_dir: PathBuf,
    pub runtime: tokio::runtime::Handle,
    /// As CloudFront's response-headers policy sends it (`local_spec::content_security_policy`).
    pub content_security_policy: String,
}

/// Serves until `server.unblock()`; one thread per request.
pub fn serve(server: Arc<tiny_http::Server>, site: Arc<Site>) {
    for request in server.incoming_requests() {
        let site = Arc::clone(&site);
        std::thread::spawn(move || {
            let url = request.url().to_string();
            if let Err(e) = answer(&site, request) {
                eprintln!("local: answering {url}: {e}");
            }
        });
    }
}

/// With a known length, never chunked (tiny_http chunks anything over 32 KiB by default), and
/// with the site's CSP, as every answer through CloudFront has it.
fn whole<R: std::io::Read>(site: &Site, response: Response<R>) -> Response<R> {
    response.with_chunked_threshold(usize::MAX).with_header(header("Content-Security-Policy", &site.content_security_policy))
}

fn answer(site: &Site, mut request: Request) -> std::io::Result<()> {
    // DNS rebinding: a page from another name resolved to 127.0.0.1 would be same-origin with
    // itself and could drive this server with the signed-in user's tokens; only our own names pass.
    if !own_host(header_of(&request, "Host").as_deref()) {
        let out = Response::from_string("this server answers to 127.0.0.1 and localhost only\n").with_status_code(421);
        return request.respond(whole(site, out));
    }
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let path = path.to_string();
    if path.starts_with("/api/") {
        let mut body = Vec::new();
        request.as_reader().read_to_end(&mut body)?;
        // As API Gateway: a signed-in route without a valid token never reaches the function.
        let (subject, sign_in) = if api::route_of(request.method().as_str(), &path).is_some_and(|r| r.signed_in) {
            match site.verifier.verify_header(header_of(&request, "Authorization").as_deref(), std::time::SystemTime::now()) {
                Ok(claims) => {
                    let sign_in = claims.username.map(|username| api::http::SignIn { issuer: claims.iss, username });
                    (Some(claims.sub), sign_in)
                }
                Err(refused) => {
                    eprintln!("local: {} {path}: 401, the token was refused: {refused}", request.method());
                    let out = Response::from_string(r#"{"message":"Unauthorized"}"#)
                        .with_status_code(401)
                        .with_header(header("Content-Type", "application/json"))
                        .with_header(header("WWW-Authenticate", "Bearer"));
                    return request.respond(whole(site, out));
                }
            }
        } else {
            (None, None)
        };
        let api_request = api::http::Request {
            method: request.method().as_str().to_string(),
            path: path.clone(),
            query: api::apigw::form_pairs(query),
            body: Some(body),
            subject,
            sign_in,
            // No CloudFront in front here, and the api expects no origin header.
            origin_verify: None,
        };
        let invocation = tracing::info_span!(crate::logs::SPAN, function = "api");
        let response = site.runtime.block_on(site.api.handle(&api_request).instrument(invocation));
        let out = Response::from_string(response.body)
            .with_status_code(response.status)
            .with_header(header("Content-Type", response.content_type))
            .with_header(header("Cache-Control", "no-store"));
        return request.respond(whole(site, out));
    }
    if let Some(answer) = sign_in(site, &mut request, &path, query)? {
        return request.respond(whole(site, answer));
    }
    if path.starts_with("/thumbnails/") || path.starts_with("/avatars/") {
        let key = percent_decode(path.trim_start_matches('/'));
        let got = site.runtime.block_on(site.s3.get_object().bucket(&site.assets_bucket).key(&key).send());
        let Ok(object) = got else { return request.respond(whole(site, not_found(&site.site_dir, &path))) };
        let content_type = object.content_type().unwrap_or("application/octet-stream").to_string();
        let cache = object.cache_control().unwrap_or("no-cache").to_string();
        let bytes = site.runtime.block_on(object.body.collect()).map(|b| b.into_bytes().to_vec()).unwrap_or_default();
        return request.respond(whole(
            site,
            Response::from_data(bytes)
                .with_header(header("Content-Type", &content_type))
                .with_header(header("Cache-Control", &cache)),
        ));
    }
    match site_file(&site.site_dir, &path) {
        Some(file) if file.is_file() => {
            let bytes = std::fs::read(&file)?;
            let mime = mime_guess::from_path(&file).first_or_octet_stream().to_string();
            request.respond(whole(
                site,
                Response::from_data(bytes)
                    .with_header(header("Content-Type", &mime))
                    .with_header(header("Cache-Control", "no-cache")),
            ))
        }
        _ => request.respond(whole(site, not_found(&site.site_dir, &path))),
    }
}

/// What CloudFront answers for a page or picture that is not there: 404 with the site's own
/// `404.html` (the template's custom error response), or a line when the site has none.
fn not_found(site_dir: &std::path::Path, path: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    match std::fs::read(site_dir.join("404.html")) {
        Ok(page) => Response::from_data(page)
            .with_status_code(404)
            .with_header(header("Content-Type", "text/html; charset=utf-8"))
            .with_header(header("Cache-Control", "no-cache")),
        Err(_) => Response::from_data(format!("{path}: not found").into_bytes()).with_status_code(404),
    }
}

/// The local sign-in's endpoints and `/auth.json`; `None` for any other path.
fn sign_in(
    site: &Site,
    request: &mut Request,
    path: &str,
    query: &str,
) -> std::io::Result<Option<Response<std::io::Cursor<Vec<u8>>>>> {
    use crate::login::Answer;
    let method = request.method().as_str().to_string();
    let form = |request: &mut Request| -> std::io::Result<Vec<(String, String)>> {
        let mut body = String::new();
        request.as_reader().read_to_string(&mut body)?;
        Ok(api::apigw::form_pairs(&body))
    };
    let answer = match (method.as_str(), path) {
        ("GET", "/auth.json") => {
            // The page's own origin (127.0.0.1 or localhost) is where it signs in.
            let host = header_of(request, "Host").unwrap_or_default();
            let authority = format!("http://{host}");
            let authority = if site.login.redirects.contains(&format!("{authority}/")) {
                authority
            } else {
                site.login.redirects[0].trim_end_matches('/').to_string()
            };
            let body = serde_json::json!({ "authority": authority, "client_id": site.login.client_id }).to_string();
            Answer::Json { status: 200, body }
        }
        ("GET", "/oauth2/authorize") => site.login.authorize_page(&api::apigw::form_pairs(query)),
        ("POST", "/oauth2/authorize") => {
            let form = form(request)?;
            site.runtime.block_on(site.login.authorize_submit(&form))
        }
        ("POST", "/oauth2/token") => {
            let form = form(request)?;
            site.runtime.block_on(site.login.token(&form))
        }
        ("GET", "/logout") => site.login.logout(&api::apigw::form_pairs(query)),
        _ => return Ok(None),
    };
    let out = match answer {
        Answer::Page { status, html } => {
            Response::from_string(html).with_status_code(status).with_header(header("Content-Type", "text/html; charset=utf-8"))
        }
        Answer::Redirect(to) => Response::from_string("").with_status_code(302).with_header(header("Location", &to)),
        Answer::Json { status, body } => {
            Response::from_string(body).with_status_code(status).with_header(header("Content-Type", "application/json"))
        }
    };
    Ok(Some(out.with_header(header("Cache-Control", "no-store"))))
}

/// `127.0.0.1`, `localhost` or `[::1]`, with any port: the names the site is served under.
fn own_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    ["127.0.0.1", "localhost", "::1"].contains(&name.to_ascii_lowercase().as_str())
}

fn header_of(request: &Request, name: &'static str) -> Option<String> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string())
}

/// `site/` + the path, or `None` for anything that would leave `site/`.
fn site_file(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path);
    let rel = decoded.trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') { format!("{rel}index.html") } else { rel.to_string() };
    let rel = Path::new(&rel);
    rel.components().all(|c| matches!(c, Component::Normal(_))).then(|| root.join(rel))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .unwrap_or_else(|()| Header::from_bytes("X-Invalid", "1").expect("static header"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_names_are_answered() {
        for ok in ["127.0.0.1:8080", "localhost:3000", "LOCALHOST", "[::1]:9000", "127.0.0.1"] {
            assert!(own_host(Some(ok)), "{ok}");
        }
        for bad in [None, Some(""), Some("attacker.example:8080"), Some("127.0.0.1.attacker.example"), Some("localhost.evil:1")] {
            assert!(!own_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn site_paths_stay_inside_site() {
        let root = Path::new("/srv/site");
        assert_eq!(site_file(root, "/"), Some(root.join("index.html")));
        assert_eq!(site_file(root, "/profile/"), Some(root.join("profile/index.html")));
        assert_eq!(site_file(root, "/app.js"), Some(root.join("app.js")));
        for bad in ["/../etc/passwd", "/a/../../x", "/%2e%2e/x", "//etc/passwd"] {
            assert!(site_file(root, bad).is_none_or(|p| p.starts_with(root) && !p.to_string_lossy().contains("..")), "{bad}");
        }
        assert!(site_file(root, "/%2e%2e/x").is_none());
    }
}
