//! The site sync against moto: content types, nothing re-uploaded, removed files deleted, and the
//! sign-in settings made from the stack's outputs uploaded beside the files.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn only_changed_files_move() {
    let moto = testkit::Moto::start();
    let s3 = shared::aws::s3_client(&moto.sdk_config().await);
    s3.create_bucket().bucket("assets").send().await.unwrap();
    let dir = std::env::temp_dir().join(format!("thumbstack-site-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("js")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(dir.join("js/app.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("old.css"), "body{}").unwrap();
    std::fs::write(dir.join(".DS_Store"), "junk").unwrap();

    let outputs: BTreeMap<String, String> = [
        ("AuthUrl", "https://thumbstack-dev-123456789012.auth.eu-west-1.amazoncognito.com"),
        ("UserPoolClientId", "site-client"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    let generated: BTreeMap<String, Vec<u8>> = [(AUTH_FILE.to_string(), auth_file(&outputs).unwrap())].into();
    assert!(auth_file(&BTreeMap::new()).is_none(), "a stage with an external issuer has none");
    let sync = |s3, bucket, dir| super::sync(s3, bucket, dir, &generated);
    let first = sync(&s3, "assets", &dir).await.unwrap();
    assert_eq!(first.uploaded, ["auth.json", "index.html", "js/app.js", "old.css"]);
    let auth = s3.get_object().bucket("assets").key("site/auth.json").send().await.unwrap();
    assert_eq!(auth.cache_control(), Some("no-cache"));
    let auth: serde_json::Value = serde_json::from_slice(&auth.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(
        (auth["authority"].as_str(), auth["client_id"].as_str()),
        (Some(outputs["AuthUrl"].as_str()), Some("site-client"))
    );
    let head = s3.head_object().bucket("assets").key("site/index.html").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(head.cache_control(), Some("no-cache"));
    let js = s3.head_object().bucket("assets").key("site/js/app.js").send().await.unwrap();
    assert!(js.content_type().unwrap().contains("javascript"), "{:?}", js.content_type());

    let again = sync(&s3, "assets", &dir).await.unwrap();
    assert!(again.uploaded.is_empty() && again.deleted.is_empty(), "{again:?}");
    assert_eq!(again.unchanged, 4);

    std::fs::write(dir.join("js/app.js"), "console.log(2)").unwrap();
    std::fs::remove_file(dir.join("old.css")).unwrap();
    let third = sync(&s3, "assets", &dir).await.unwrap();
    assert_eq!(
        (third.uploaded.as_slice(), third.deleted.as_slice(), third.unchanged),
        (&["js/app.js".to_string()][..], &["old.css".to_string()][..], 2)
    );
    assert_eq!(third.stale_paths(), ["/js/app.js", "/old.css"]);
    let listed = s3.list_objects_v2().bucket("assets").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["site/auth.json", "site/index.html", "site/js/app.js"]);
    let body = s3.get_object().bucket("assets").key("site/js/app.js").send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(body.into_bytes().as_ref(), b"console.log(2)");
    std::fs::remove_dir_all(&dir).unwrap();
}
