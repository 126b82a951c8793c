//! `cargo xtask local` as a person runs it: the real binary brings up moto, deploys the `local`
//! stage, and serves the site and api; the seeded demo account signs in through the local
//! sign-in (code flow, PKCE) for a real token of the emulator's pool; an upload through the
//! presigned POST becomes a thumbnail, a text file named `.jpg` a failure, an avatar a 512×512
//! picture on the profile, each the signed-in user's and no one else's — first over plain HTTP,
//! then in headless Chromium (tests/browser/site.test.mjs, screenshots under `target/browser/`).
//! Meanwhile other verbs in a second process find the running stack, and the functions' log lines
//! are readable with `logs`. Ctrl-C stops it all; started again, the data is still there.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::form::{post_form, request, request_with};

/// As the holder of `token` (an access token), or signed out with `None`.
fn api_as(base: &str, token: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("Authorization", b.as_str())).collect();
    let r = request_with(method, &format!("{base}{path}"), &headers, Some("application/json"), &bytes);
    if r.status == 204 {
        return (204, Value::Null);
    }
    (r.status, serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {}", r.text())))
}

/// What the site's auth.js does, over plain HTTP: the authorization request with a PKCE
/// challenge, the local sign-in form (`action` sign-in or sign-up), the redirect's code, the
/// token endpoint. Returns the access token.
fn sign_in(base: &str, action: &str, email: &str, password: &str) -> String {
    let config: Value = serde_json::from_slice(&request("GET", &format!("{base}/auth.json"), None, b"").body).unwrap();
    let (authority, client) = (config["authority"].as_str().unwrap(), config["client_id"].as_str().unwrap());
    assert_eq!(authority, base, "on `local` the site signs in at its own origin");
    let verifier = "a-local-test-verifier-that-is-long-enough-for-pkce-0123456789";
    use base64::Engine;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier));
    let redirect = format!("{base}/");
    let form = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let authorize = form(&[
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", &redirect),
        ("state", "st"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("action", action),
        ("email", email),
        ("password", password),
    ]);
    let page =
        request("POST", &format!("{base}/oauth2/authorize"), Some("application/x-www-form-urlencoded"), authorize.as_bytes());
    assert_eq!(page.status, 302, "{}", page.text());
    let location = page.header("Location").unwrap().to_string();
    let code = location.split("code=").nth(1).and_then(|r| r.split('&').next()).unwrap_or_else(|| panic!("{location}"));
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("redirect_uri", &redirect),
        ("code", code),
        ("code_verifier", verifier),
    ]);
    let tokens = request("POST", &format!("{base}/oauth2/token"), Some("application/x-www-form-urlencoded"), exchange.as_bytes());
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    let tokens: Value = serde_json::from_slice(&tokens.body).unwrap();
    tokens["access_token"].as_str().unwrap().to_string()
}

/// Asks for a presigned POST and uploads `bytes` through it, as the site does; returns the upload id.
fn upload(base: &str, token: &str, kind: &str, name: &str, bytes: &[u8]) -> String {
    let (status, grant) = api_as(
        base,
        Some(token),
        "POST",
        "/api/uploads",
        Some(json!({ "kind": kind, "file_name": name, "content_type": "image/jpeg", "size": bytes.len() })),
    );
    assert_eq!(status, 201, "{grant}");
    let fields: Vec<(String, String)> =
        grant["fields"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    let (status, body) = post_form(grant["url"].as_str().unwrap(), &fields, name, "image/jpeg", bytes);
    assert!((200..300).contains(&status), "upload refused: {status} {body}");
    grant["upload_id"].as_str().unwrap().to_string()
}

/// Stops `xtask local` even when an assertion fails, so no server outlives the test.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
            for _ in 0..100 {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.0.kill();
        }
    }
}

/// `cargo xtask local --no-open ARGS` as CI runs it, its output piped.
fn local(args: &[&str]) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["local", "--no-open"])
        .args(args)
        .env("CI", "true")
        .env_remove("THUMBSTACK_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Running(child)
}

fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| testkit::repo_root().join("target"))
}

/// Another verb in a second process, as a person types it while `local` runs: no endpoint given.
fn verb(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("CI", "true")
        .env_remove("THUMBSTACK_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Files under `dir` written since `since`.
fn written_since(dir: &std::path::Path, since: std::time::SystemTime) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(written_since(&path, since));
        } else if entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since) {
            out.push(path);
        }
    }
    out
}

/// Sends Ctrl-C (SIGINT) and waits for the process to end.
fn ctrl_c(child: &mut std::process::Child) -> std::process::ExitStatus {
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "`xtask local` did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn eventually(what: &str, mut check: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within 90 s");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn uploads_become_thumbnails_failures_and_avatars_and_ctrl_c_stops_everything() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::SystemTime::now();
    let mut running = local(&["--port", &port.to_string(), "--seed", "--fresh"]);
    let child = &mut running.0;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log_writer = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[local] {line}");
            log_writer.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    // The first run may build the runtime (the handlers, in debug), never the release zips.
    let base = rx.recv_timeout(Duration::from_secs(1500)).expect("`xtask local` printed no URL");
    assert_eq!(base, format!("http://127.0.0.1:{port}"));
    // `--seed`: a demo account, its e-mail and password on stdout.
    let demo = rx.recv_timeout(Duration::from_secs(300)).expect("`local --seed` printed no demo account");
    let (email, password) = demo.strip_prefix("demo: ").and_then(|d| d.split_once(' ')).unwrap_or_else(|| panic!("{demo}"));
    let token = sign_in(&base, "sign-in", email, password);
    // DNS rebinding: a page from another name that resolves to 127.0.0.1 gets nothing from here.
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    std::io::Write::write_all(&mut stream, b"GET /api/photos HTTP/1.1\r\nHost: rebind.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    let api = |base: &str, method: &str, path: &str, body: Option<Value>| api_as(base, Some(&token), method, path, body);
    let text = log.lock().unwrap().clone();
    assert!(text.contains("wired by direct API what moto's CloudFormation ignores"), "{text}");
    assert!(text.contains("no release build, no zips"), "{text}");
    let zips = written_since(&target_dir().join("lambda"), started);
    assert!(zips.is_empty(), "`local` built release zips it never runs: {zips:?}");
    assert!(!text.contains('\x1b'), "escape codes in CI output");

    // The site, from site/.
    let page = request("GET", &format!("{base}/"), None, b"");
    assert_eq!(page.status, 200);
    assert!(
        page.header("Content-Type").is_some_and(|t| t.starts_with("text/html"))
            && page.text().contains("<title>thumbstack</title>")
    );
    // The CSP CloudFront sends, with the emulator where the stage's buckets would be.
    let csp = page.header("Content-Security-Policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self' http://127.0.0.1:"), "{}", page.headers);
    let script = request("GET", &format!("{base}/app.js"), None, b"");
    assert!(
        script.status == 200 && script.header("Content-Type").is_some_and(|t| t.contains("javascript")),
        "{}",
        script.headers
    );
    assert_eq!(request("GET", &format!("{base}/../Cargo.toml"), None, b"").status, 404);
    // A page or a thumbnail that is not there: 404 with the site's own page, as CloudFront answers.
    for missing in ["/no-such-page.html", "/thumbnails/00000000000000000000000000000000.jpg"] {
        let answer = request("GET", &format!("{base}{missing}"), None, b"");
        assert_eq!(answer.status, 404, "{missing}");
        assert!(answer.text().contains("<title>Not found · thumbstack</title>"), "{missing}: {}", answer.text());
    }

    let photo = testkit::corpus_file("photos/s2_greenmeadow_1280x1024.jpg");
    let id = upload(&base, &token, "image", "meadow.jpg", &photo);
    let row = eventually("the thumbnail row", || {
        let (_, page) = api(&base, "GET", "/api/photos?limit=50", None);
        page["items"].as_array()?.iter().find(|i| i["id"] == id.as_str()).cloned()
    });
    // Signed out, or with a token that is not the pool's, the api's signed-in routes answer 401
    // before the function runs, as API Gateway's authorizer does.
    for token in [None, Some("not-a-token"), Some(&token[..token.len() - 4])] {
        let (status, _) = api_as(&base, token, "GET", "/api/photos", None);
        assert_eq!(status, 401, "{token:?}");
    }
    // Another person: their own photos only, and nothing of the demo user's to delete.
    let other = sign_in(&base, "sign-up", "someone@example.com", "Another-Passw0rd");
    let (_, theirs) = api_as(&base, Some(&other), "GET", "/api/photos", None);
    assert_eq!(theirs["items"], json!([]), "{theirs}");
    let (status, _) = api_as(&base, Some(&other), "DELETE", &format!("/api/photos?id={id}"), None);
    assert_eq!(status, 404);
    assert_eq!((row["file_name"].as_str(), row["original_size"].as_u64()), (Some("meadow.jpg"), Some(photo.len() as u64)));
    let thumb = request("GET", &format!("{base}{}", row["thumbnail_url"].as_str().unwrap()), None, b"");
    assert_eq!((thumb.status, thumb.header("Content-Type")), (200, Some("image/jpeg")));
    assert_eq!(thumb.body.len() as u64, row["thumbnail_size"].as_u64().unwrap());

    // A second terminal: the verbs find the running stack without being told where it is.
    let (code, out, err) = verb(&["catalog", "local", "smallest", "-n", "5", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("catalog --json ({e}): {out}"));
    assert!(rows.as_array().is_some_and(|r| !r.is_empty() && r.len() <= 5), "{rows}");
    let (code, out, err) = verb(&["deploy", "local", "--yes", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["outcome"], "no_changes", "{err}");
    let logged = eventually("the thumbnail_written line in `logs`", || {
        let (code, out, err) = verb(&["logs", "local", "thumbnail", "--since", "5m"]);
        assert_eq!(code, 0, "{err}");
        out.lines().find(|l| l.contains("thumbnail_written") && l.contains(&id)).map(Value::from)
    });
    assert!(logged.as_str().unwrap().contains("INFO"), "{logged}");
    let (code, out, _) = verb(&["logs", "local", "thumbnail", "--since", "5m", "--json"]);
    assert_eq!(code, 0);
    let line: Value = serde_json::from_str(out.lines().find(|l| l.contains("thumbnail_written")).unwrap()).unwrap();
    assert_eq!((line["function"].as_str(), line["message"]["event"].as_str()), (Some("thumbnail"), Some("thumbnail_written")));

    // A second, different photo, so the 5-smallest view has sizes to order.
    let second = upload(&base, &token, "image", "evening.jpg", &testkit::corpus_file("photos/m1_eveningglow_2560x1600.jpg"));
    eventually("the second row", || {
        let (_, page) = api(&base, "GET", "/api/images?sort=recent&limit=50", None);
        page["items"].as_array()?.iter().find(|i| i["id"] == second.as_str()).cloned()
    });

    upload(&base, &token, "image", "notes.jpg", &testkit::corpus_file("hostile/text.jpg"));
    let failure = eventually("the failure record", || {
        let (_, page) = api(&base, "GET", "/api/failures", None);
        page["items"].as_array()?.iter().find(|f| f["file_name"] == "notes.jpg").cloned()
    });
    assert!(!failure["reason"].as_str().unwrap().is_empty(), "{failure}");
    let (_, none) = api_as(&base, Some(&other), "GET", "/api/failures", None);
    assert_eq!(none["items"], json!([]), "another's failures are not listed: {none}");

    let avatar_id = upload(&base, &token, "avatar", "me.jpg", &photo);
    let profile = eventually("the new avatar on the profile", || {
        let (_, p) = api(&base, "GET", "/api/profile", None);
        (p["avatar_version"] == avatar_id.as_str()).then_some(p)
    });
    let picture = request("GET", &format!("{base}{}", profile["avatar_url"].as_str().unwrap()), None, b"");
    assert_eq!((picture.status, picture.header("Content-Type")), (200, Some("image/jpeg")));
    let mut decoder = jpeg_decoder::Decoder::new(&picture.body[..]);
    decoder.read_info().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!((info.width, info.height), (512, 512));

    browser(&base);

    // `--seed`: every corpus photo became a catalog row.
    let seeded: usize = log
        .lock()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("local: seeded ")?.split_whitespace().next()?.parse().ok())
        .expect("--seed said how many photos it uploaded");
    assert!(seeded >= 20, "{seeded}");
    eventually("the seeded photos' rows, the demo user's", || {
        let (_, page) = api(&base, "GET", "/api/photos?limit=100", None);
        let names: Vec<&str> = page["items"].as_array()?.iter().filter_map(|i| i["source_key"].as_str()).collect();
        (names.len() >= seeded + 2).then(|| Value::from(names.len()))
    });

    let moto_port: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("local: started moto on 127.0.0.1:")?.split_whitespace().next()?.parse().ok())
        .expect("this run started its own moto");
    // A second `local` for this checkout reuses the running moto, and leaves it running when it stops.
    let mut second = local(&[]);
    let errors = second.0.stderr.take().unwrap();
    let said = std::thread::spawn(move || BufReader::new(errors).lines().map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    let mut url = String::new();
    BufReader::new(second.0.stdout.take().unwrap()).read_line(&mut url).unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    drop(second);
    let said = said.join().unwrap();
    assert!(
        said.contains(&format!("reusing the moto server this checkout already runs at http://127.0.0.1:{moto_port}")),
        "{said}"
    );
    assert!(!said.contains("stopping moto"), "{said}");
    let (status, _) = api(&base, "GET", "/api/profile", None);
    assert_eq!(status, 200, "the first system still answers");

    let (_, before) = api(&base, "GET", "/api/profile", None);
    // Ctrl-C: the server, the pollers and the moto it started all stop.
    let status = ctrl_c(child);
    assert!(status.success(), "{status}");
    for port in [port, moto_port] {
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "port {port} still answers after Ctrl-C");
    }
    let (code, _, err) = verb(&["catalog", "local", "recent"]);
    assert_ne!(code, 0);
    assert!(err.contains("not running") && err.contains("cargo xtask local"), "says how to start it: {err}");

    // Started again: the photos, their thumbnails and the avatar are still there. The accounts
    // are not: moto keeps its user pool in memory, so a new `local` has a new pool (docs/local.md).
    let mut again = local(&[]);
    let errors = again.0.stderr.take().unwrap();
    let said = std::thread::spawn(move || BufReader::new(errors).lines().map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    let mut url = String::new();
    BufReader::new(again.0.stdout.take().unwrap()).read_line(&mut url).unwrap();
    let base = url.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let (_, page) = api(&base, "GET", "/api/images?sort=recent&limit=100", None);
    let row = page["items"].as_array().unwrap().iter().find(|i| i["id"] == id.as_str()).cloned();
    let row = row.unwrap_or_else(|| panic!("the photo uploaded before the restart is gone: {page}"));
    let thumb = request("GET", &format!("{base}{}", row["thumbnail_url"].as_str().unwrap()), None, b"");
    assert_eq!((thumb.status, thumb.body.len() as u64), (200, row["thumbnail_size"].as_u64().unwrap()));
    assert!(before["avatar_version"].is_string(), "{before}");
    let picture = request("GET", &format!("{base}{}", before["avatar_url"].as_str().unwrap()), None, b"");
    assert_eq!((picture.status, picture.header("Content-Type")), (200, Some("image/jpeg")));
    assert!(ctrl_c(&mut again.0).success());
    let said = said.join().unwrap();
    assert!(said.contains("local: restored "), "{said}");
}

/// The same flows in Debian's headless Chromium, driven by playwright-core.
fn browser(base: &str) {
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("target"));
    let status = Command::new("bash").arg(root.join("dev/scripts/install-browser.sh")).status().unwrap();
    assert!(status.success(), "dev/scripts/install-browser.sh failed");
    let shots = target.join("browser");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(root.join("tests/browser/site.test.mjs"))
        .env("THUMBSTACK_URL", base)
        .env("BROWSER_TOOLS", target.join("tools/browser"))
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser test failed:\n{report}");
    for page in ["signed-out", "upload", "mine", "gallery", "failures", "profile", "smallest", "signed-in-second"] {
        assert!(shots.join(format!("{page}.png")).exists(), "no screenshot of {page}");
    }
}
