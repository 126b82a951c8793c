//! The api against moto: a browser-style upload through the presigned POST it grants, the avatar
//! function run on the notification that upload caused, and the catalog, "my photos", delete,
//! failures and profile answers, each held to openapi.json, each signed-in route as its user
//! (the `sub` the authorizer vouched for) and never another's.

mod support;

use api::Api;
use api::config::ApiConfig;
use api::http::{Request, Response};
use avatar::handler::Handler as AvatarHandler;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};
use shared::catalog::to_item;
use shared::record::CatalogRow;
use testkit::corpus_file;
use testkit::queue::{ASSETS, LOGS, Pipeline, TABLE, UPLOADS, failed_ids, receive, sqs_event};
use thumbnail::handler::Handler as ThumbnailHandler;
use worker::config::Config;

const USER: &str = "user-a";
const OTHER: &str = "user-b";

/// The api's environment as the template gives it, with the stage's upload limit replaced.
fn api_config(p: &Pipeline, max_bytes: &str) -> ApiConfig {
    let env = p.env("api");
    ApiConfig::from_lookup(|name| if name == "MAX_BYTES" { Some(max_bytes.to_string()) } else { env(name) }).unwrap()
}

/// As `as_user` (the verified `sub`), or signed out.
async fn call_as(api: &Api, as_user: Option<&str>, method: &str, path_and_query: &str, body: Option<Value>) -> (u16, Value) {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let request = Request {
        method: method.into(),
        path: path.into(),
        query: api::apigw::form_pairs(query),
        body: body.map(|b| b.to_string().into_bytes()),
        subject: as_user.map(str::to_string),
        ..Request::default()
    };
    let Response { status, content_type, body } = api.handle(&request).await;
    assert_eq!(content_type, "application/json");
    if status == 204 {
        assert!(body.is_empty(), "{body}");
        return (status, Value::Null);
    }
    (status, support::assert_documented(method, path, status, &body))
}

async fn call(api: &Api, method: &str, path_and_query: &str, body: Option<Value>) -> (u16, Value) {
    call_as(api, Some(USER), method, path_and_query, body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_avatar_uploaded_through_the_presigned_post_reaches_the_profile() {
    let p = Pipeline::start("avatars", "avatars/").await;
    testkit::queue::create_catalog(&p.sdk).await;
    let avatar = AvatarHandler::new(Config::from_lookup(&avatar::DEFAULTS, p.env("avatar")).unwrap(), &p.sdk);
    let api = Api::new(api_config(&p, "26214400"), &p.sdk);
    let photo = corpus_file("photos/m1_eveningglow_2560x1600.jpg");

    let (status, empty) = call(&api, "GET", "/api/profile", None).await;
    assert_eq!((status, &empty["avatar_url"]), (200, &Value::Null));

    let ask = json!({ "kind": "avatar", "file_name": "me.jpg", "content_type": "image/jpeg", "size": photo.len() });
    let (status, grant) = call(&api, "POST", "/api/uploads", Some(ask)).await;
    assert_eq!(status, 201, "{grant}");
    let upload_id = grant["upload_id"].as_str().unwrap().to_string();
    assert_eq!(grant["key"], format!("avatars/{USER}/{upload_id}"));
    assert_eq!(grant["url"], format!("{}/{UPLOADS}", p.moto.endpoint));
    let fields: Vec<(String, String)> =
        grant["fields"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    let (status, body) = testkit::form::post_form(grant["url"].as_str().unwrap(), &fields, "me.jpg", "image/jpeg", &photo);
    assert!((200..300).contains(&status), "the presigned POST was refused: {status} {body}");
    let stored = p.s3.head_object().bucket(UPLOADS).key(grant["key"].as_str().unwrap()).send().await.unwrap();
    assert_eq!((stored.content_type(), stored.content_length()), (Some("image/jpeg"), Some(photo.len() as i64)));
    // The policy pins the declared type exactly; AWS refuses a form that changes it (moto does
    // not check POST policies, so the document itself is what is held here).
    let post =
        api::presign::PresignedPost { url: String::new(), fields: fields.iter().cloned().collect(), expires_at: String::new() };
    let policy = api::presign::decode_policy(&post).unwrap();
    assert!(policy["conditions"].as_array().unwrap().contains(&json!(["eq", "$Content-Type", "image/jpeg"])), "{policy}");

    // The notification S3 sent for that upload, as Lambda's poller would deliver it.
    let messages: Vec<_> = receive(&p.sqs, &p.queue_url, 1)
        .await
        .into_iter()
        .filter(|m| !m.body().unwrap_or_default().contains("s3:TestEvent"))
        .collect();
    assert!(failed_ids(&avatar.handle(sqs_event(&messages), worker::batch::Invocation::default()).await).is_empty());
    let out = p.s3.get_object().bucket(ASSETS).key(format!("avatars/{USER}.jpg")).send().await.unwrap();
    assert_eq!(out.content_type(), Some("image/jpeg"));
    let jpeg = out.body.collect().await.unwrap().into_bytes();
    let mut decoder = jpeg_decoder::Decoder::new(&jpeg[..]);
    decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!((info.width, info.height), (512, 512));

    let (_, profile) = call(&api, "GET", "/api/profile", None).await;
    assert_eq!(profile["avatar_version"], upload_id.as_str());
    assert_eq!(profile["avatar_url"], format!("/avatars/{USER}.jpg?v={upload_id}"));

    // Saving name and bio leaves the avatar the function recorded alone.
    let (status, saved) = call(&api, "PUT", "/api/profile", Some(json!({ "display_name": "Ada", "bio": "Counts." }))).await;
    assert_eq!((status, &saved["display_name"], &saved["avatar_version"]), (200, &json!("Ada"), &json!(upload_id)));
    let (_, again) = call(&api, "GET", "/api/profile", None).await;
    assert_eq!(again, saved);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_name_the_field_and_unknown_routes_are_json() {
    let p = Pipeline::start("avatars", "avatars/").await;
    // A grant is counted in the catalog table (`api::quota`).
    testkit::queue::create_catalog(&p.sdk).await;
    let api = Api::new(api_config(&p, "1000"), &p.sdk);
    let (status, e) = call(
        &api,
        "POST",
        "/api/uploads",
        Some(json!({ "kind": "image", "file_name": "a.jpg", "content_type": "image/jpeg", "size": 1001 })),
    )
    .await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("size")));
    let (status, e) = call(
        &api,
        "POST",
        "/api/uploads",
        Some(json!({ "kind": "image", "file_name": "../../x", "content_type": "image/jpeg", "size": 5 })),
    )
    .await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("file_name")));
    // Only what the core decodes, by exact type: an SVG original would run script on the bucket's origin.
    let (status, e) = call(
        &api,
        "POST",
        "/api/uploads",
        Some(json!({ "kind": "image", "file_name": "a.svg", "content_type": "image/svg+xml", "size": 5 })),
    )
    .await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("content_type")), "{e}");
    let (status, e) = call(
        &api,
        "POST",
        "/api/uploads",
        Some(json!({ "kind": "image", "file_name": "photo\u{202E}gpj.exe", "content_type": "image/jpeg", "size": 5 })),
    )
    .await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("file_name")), "{e}");
    let (status, e) = call(&api, "POST", "/api/uploads", None).await;
    assert_eq!((status, &e["error"]["code"]), (400, &json!("bad_request")));
    // Signed out, every signed-in route is refused before it does anything.
    for (method, path) in api::ROUTES.iter().filter(|r| r.signed_in).map(|r| (r.method, r.path)) {
        let (status, e) = call_as(&api, None, method, path, Some(json!({}))).await;
        assert_eq!((status, &e["error"]["code"]), (401, &json!("unauthorized")), "{method} {path}");
    }
    // An image is filed under its owner, who is the signed-in user and nobody the body names.
    let ask = json!({ "kind": "image", "file_name": "a.jpg", "content_type": "image/jpeg", "size": 5 });
    let (status, grant) = call(&api, "POST", "/api/uploads", Some(ask)).await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["key"], format!("images/{USER}/{}/a.jpg", grant["upload_id"].as_str().unwrap()));
    let (status, e) = call(&api, "GET", "/api/images?sort=largest", None).await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("sort")));
    let (status, e) = call(&api, "GET", "/api/images?cursor=zz", None).await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("cursor")));
    let response = api.handle(&Request { method: "DELETE".into(), path: "/api/profile".into(), ..Request::default() }).await;
    assert_eq!(response.status, 405);
    let response = api.handle(&Request { method: "GET".into(), path: "/api/nothing".into(), ..Request::default() }).await;
    assert_eq!(response.status, 404);
    assert!(serde_json::from_str::<Value>(&response.body).unwrap()["error"]["message"].is_string());
    let (status, doc) = call(&api, "GET", "/api/openapi.json", None).await;
    assert_eq!((status, &doc["openapi"]), (200, &json!("3.1.0")));
}

/// Even rows are USER's, odd rows OTHER's.
fn row(i: usize) -> CatalogRow {
    // Sizes repeat (ties on size break by id); times are distinct minutes.
    let size = 1000 + (i * 37) % 11 * 100;
    let owner = if i.is_multiple_of(2) { USER } else { OTHER };
    CatalogRow {
        id: format!("{i:04}-upload"),
        owner: Some(owner.into()),
        upload_date: "2026-12-01".into(),
        upload_time: format!("10:{:02}:00", i),
        uploaded_at: format!("2026-12-01T10:{:02}:00.000Z", i),
        file_name: format!("photo {i}.jpg"),
        source_key: format!("images/{owner}/{i:04}-upload/photo {i}.jpg"),
        original_size: 100_000 + i as u64,
        original_width: 4000,
        original_height: 3000,
        original_format: "jpeg".into(),
        thumbnail_key: format!("thumbnails/{i:04}-upload.jpg"),
        thumbnail_size: size as u64,
        thumbnail_width: 256,
        thumbnail_height: 192,
        thumbnail_format: "jpeg".into(),
        visibility: Default::default(),
    }
}

/// Follows `next_cursor` of `listing` (e.g. `/api/images?sort=recent`) to the end; returns the
/// items in the order served and the page count.
async fn walk(api: &Api, as_user: Option<&str>, listing: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    let sep = if listing.contains('?') { '&' } else { '?' };
    loop {
        let url = match &cursor {
            Some(c) => format!("{listing}{sep}limit={limit}&cursor={c}"),
            None => format!("{listing}{sep}limit={limit}"),
        };
        let (status, page) = call_as(api, as_user, "GET", &url, None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (items, pages),
        }
        assert!(pages < 50, "pagination does not end");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_pages_in_order_without_gaps_or_repeats() {
    let p = Pipeline::start("thumbnails", "images/").await;
    let dynamodb = testkit::queue::create_catalog(&p.sdk).await;
    let rows: Vec<CatalogRow> = (0..23).map(row).collect();
    for r in &rows {
        dynamodb.put_item().table_name(TABLE).set_item(Some(to_item(r))).send().await.unwrap();
    }
    // A profile item lives in the same table and must never show up as an image.
    dynamodb
        .put_item()
        .table_name(TABLE)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(shared::table::profile_pk(USER)))
        .send()
        .await
        .unwrap();
    let api = Api::new(api_config(&p, "1000"), &p.sdk);

    let (smallest, pages) = walk(&api, None, "/api/images?sort=smallest", 5).await;
    assert_eq!(pages, 5);
    let mut expected = rows.clone();
    shared::catalog::sort(&mut expected, shared::catalog::Order::Smallest);
    let ids = |items: &[Value]| items.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&smallest), expected.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    let sizes: Vec<u64> = smallest.iter().map(|i| i["thumbnail_size"].as_u64().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");

    let (recent, _) = walk(&api, None, "/api/images?sort=recent", 7).await;
    let newest_first: Vec<String> = (0..23).rev().map(|i| format!("{i:04}-upload")).collect();
    assert_eq!(ids(&recent), newest_first);

    // The public listings show thumbnails only: no owner, no key that names one, no original.
    let (_, top) = call_as(&api, None, "GET", "/api/images?sort=smallest&limit=5", None).await;
    let first = &top["items"][0];
    assert_eq!(first["thumbnail_url"], format!("/{}", expected[0].thumbnail_key));
    let public = top.to_string();
    for secret in [USER, OTHER, "original_url", "source_key", "owner"] {
        assert!(!public.contains(secret), "the public listing shows {secret}: {public}");
    }

    // "My photos": each user's own, newest first, paginated, with a link to each original.
    for (user, parity) in [(USER, 0), (OTHER, 1)] {
        let (mine, pages) = walk(&api, Some(user), "/api/photos", 4).await;
        let wanted: Vec<String> = (0..23).rev().filter(|i| i % 2 == parity).map(|i| format!("{i:04}-upload")).collect();
        assert_eq!(ids(&mine), wanted, "{user}");
        assert_eq!(pages, wanted.len().div_ceil(4), "{user}");
        for item in &mine {
            assert_eq!(item["owner"], user);
            let original = item["original_url"].as_str().unwrap();
            let prefix = format!("{}/{UPLOADS}/images/{user}/", p.moto.endpoint);
            assert!(original.starts_with(&prefix) && original.contains("X-Amz-Signature="), "{original}");
        }
    }
    let (_, page) = call(&api, "GET", "/api/photos?limit=2", None).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, e) = call(&api, "GET", &format!("/api/images?sort=recent&cursor={cursor}"), None).await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("cursor")), "a cursor of my photos does not continue the gallery");

    // A cursor of one listing does not continue the other.
    let (_, page) = call(&api, "GET", "/api/images?sort=recent&limit=2", None).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, e) = call(&api, "GET", &format!("/api/images?sort=smallest&cursor={cursor}"), None).await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("cursor")));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_user_sees_their_own_failures_newest_first() {
    let p = Pipeline::start("thumbnails", "images/").await;
    let api = Api::new(api_config(&p, "1000"), &p.sdk);
    let (_, none) = call(&api, "GET", "/api/failures", None).await;
    assert_eq!(none["items"], json!([]));
    let now = chrono::Utc::now();
    let object = |key: String| shared::event::ObjectCreated {
        bucket: UPLOADS.into(),
        key,
        size: Some(12),
        etag: None,
        version_id: None,
        sequencer: None,
        time: now,
    };
    let uploads = [(USER, "first.jpg"), (OTHER, "theirs.jpg"), (USER, "second.jpg"), (USER, "third.jpg")];
    for (i, (owner, name)) in uploads.iter().enumerate() {
        let key = format!("images/{owner}/id{i}/{name}");
        let record = json!({
            "function": "thumbnail", "owner": owner, "bucket": UPLOADS, "key": key, "file_name": name,
            "size": 12, "code": "not_an_image", "reason": "not an image", "uploaded_at": "2026-12-01T10:00:00.000Z",
            "recorded_at": "2026-12-01T10:00:01.000Z"
        });
        let body = ByteStream::from(serde_json::to_vec(&record).unwrap());
        let at = shared::record::FailureRecord::object_key(&object(key), Some(&format!("id{i}")), Some(owner));
        p.s3.put_object().bucket(LOGS).key(at).body(body).send().await.unwrap();
        // S3 timestamps have one-second resolution.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let names = |listed: &Value| -> Vec<String> {
        listed["items"].as_array().unwrap().iter().map(|r| r["file_name"].as_str().unwrap().to_string()).collect()
    };
    let (_, listed) = call(&api, "GET", "/api/failures?limit=2", None).await;
    assert_eq!(names(&listed), ["third.jpg", "second.jpg"]);
    let (_, theirs) = call_as(&api, Some(OTHER), "GET", "/api/failures", None).await;
    assert_eq!(names(&theirs), ["theirs.jpg"], "B sees B's alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_is_deleted_by_its_owner_alone_original_thumbnail_and_row() {
    let p = Pipeline::start("thumbnails", "images/").await;
    let dynamodb = testkit::queue::create_catalog(&p.sdk).await;
    let (api, distribution) = api_at_the_edge(&p).await;
    let (mine, theirs) = (row(0), row(1));
    for r in [&mine, &theirs] {
        dynamodb.put_item().table_name(TABLE).set_item(Some(to_item(r))).send().await.unwrap();
        p.s3.put_object().bucket(UPLOADS).key(&r.source_key).body(b"original".to_vec().into()).send().await.unwrap();
        p.s3.put_object().bucket(ASSETS).key(&r.thumbnail_key).body(b"thumb".to_vec().into()).send().await.unwrap();
    }
    let exists = |bucket: &'static str, key: String| {
        let s3 = p.s3.clone();
        async move { s3.head_object().bucket(bucket).key(key).send().await.is_ok() }
    };
    let row_exists = |id: String| {
        let dynamodb = dynamodb.clone();
        async move {
            let key = aws_sdk_dynamodb::types::AttributeValue::S(shared::table::image_pk(&id));
            dynamodb.get_item().table_name(TABLE).key("pk", key).send().await.unwrap().item().is_some()
        }
    };

    // B's photo is not A's to delete: the same answer as for a photo that does not exist.
    let (status, e) = call(&api, "DELETE", &format!("/api/photos?id={}", theirs.id), None).await;
    assert_eq!((status, &e["error"]["code"]), (404, &json!("not_found")), "{e}");
    let (status, nothing) = call(&api, "DELETE", "/api/photos?id=no-such-upload", None).await;
    assert_eq!((status, &nothing["error"]["message"]), (404, &json!("you have no photo no-such-upload")));
    assert!(exists(UPLOADS, theirs.source_key.clone()).await && exists(ASSETS, theirs.thumbnail_key.clone()).await);
    assert!(row_exists(theirs.id.clone()).await);
    let (status, e) = call(&api, "DELETE", "/api/photos?id=../x", None).await;
    assert_eq!((status, &e["error"]["field"]), (400, &json!("id")));

    let (status, _) = call(&api, "DELETE", &format!("/api/photos?id={}", mine.id), None).await;
    assert_eq!(status, 204);
    // CloudFront forgets the thumbnail too (moto's CloudFront records the invalidation).
    let paths = invalidated(&p.sdk, &distribution).await;
    assert_eq!(paths, [format!("/{}", mine.thumbnail_key)]);
    assert!(!exists(UPLOADS, mine.source_key.clone()).await, "the original is gone");
    assert!(!exists(ASSETS, mine.thumbnail_key.clone()).await, "the thumbnail is gone");
    assert!(!row_exists(mine.id.clone()).await, "the row is gone");
    let (_, listed) = call(&api, "GET", "/api/photos", None).await;
    assert_eq!(listed["items"], json!([]));
    let (status, _) = call(&api, "DELETE", &format!("/api/photos?id={}", mine.id), None).await;
    assert_eq!(status, 404, "a second delete finds nothing");
    assert!(exists(UPLOADS, theirs.source_key.clone()).await && row_exists(theirs.id.clone()).await, "B's photo is untouched");
}

/// Each account's grants are counted per UTC day, atomically: past `UPLOADS_PER_DAY` or
/// `BYTES_PER_DAY` a grant is refused with 429 and when the count starts again; another account
/// is not affected, and the policy holds the file to the size that was counted.
#[tokio::test(flavor = "multi_thread")]
async fn grants_past_the_daily_quota_are_refused() {
    let p = Pipeline::start("quota", "images/").await;
    testkit::queue::create_catalog(&p.sdk).await;
    let env = p.env("api");
    let config = ApiConfig::from_lookup(|name| match name {
        "UPLOADS_PER_DAY" => Some("3".into()),
        "BYTES_PER_DAY" => Some("1000".into()),
        _ => env(name),
    })
    .unwrap();
    let api = Api::new(config, &p.sdk);
    let ask = |size: u64| json!({ "kind": "image", "file_name": "a.jpg", "content_type": "image/jpeg", "size": size });
    // 1,001 bytes is over the day's bytes on its own: refused without counting.
    let (status, refused) = call(&api, "POST", "/api/uploads", Some(ask(1001))).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (429, Some("quota_exceeded")), "{refused}");
    let (status, grant) = call(&api, "POST", "/api/uploads", Some(ask(600))).await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["max_bytes"], 600);
    let post = api::presign::PresignedPost {
        url: String::new(),
        fields: grant["fields"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().into())).collect(),
        expires_at: String::new(),
    };
    let policy = api::presign::decode_policy(&post).unwrap();
    assert!(policy["conditions"].as_array().unwrap().contains(&json!(["content-length-range", 1, 600])), "{policy}");
    // 600 + 500 bytes would pass 1,000.
    let (status, refused) = call(&api, "POST", "/api/uploads", Some(ask(500))).await;
    assert_eq!(status, 429, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("3 files or 1000 bytes a day") && message.contains("starts again at"), "{message}");
    for _ in 0..2 {
        assert_eq!(call(&api, "POST", "/api/uploads", Some(ask(100))).await.0, 201);
    }
    // The fourth upload of the day, however small.
    assert_eq!(call(&api, "POST", "/api/uploads", Some(ask(1))).await.0, 429);
    let (status, other) = call_as(&api, Some(OTHER), "POST", "/api/uploads", Some(ask(100))).await;
    assert_eq!(status, 201, "another account has a quota of its own: {other}");
}

/// The api with a distribution of its own in moto's CloudFront, and that distribution's id.
async fn api_at_the_edge(p: &Pipeline) -> (Api, String) {
    let distribution = distribution(&p.sdk).await;
    let env = p.env("api");
    let config = ApiConfig::from_lookup(|name| match name {
        "DISTRIBUTION_ID" => Some(distribution.clone()),
        _ => env(name),
    })
    .unwrap();
    (Api::new(config, &p.sdk), distribution)
}

/// The paths of every invalidation asked of `distribution` so far.
async fn invalidated(sdk: &aws_config::SdkConfig, distribution: &str) -> Vec<String> {
    let cloudfront = aws_sdk_cloudfront::Client::new(sdk);
    let listed = cloudfront.list_invalidations().distribution_id(distribution).send().await.unwrap();
    let mut paths = Vec::new();
    for item in listed.invalidation_list().unwrap().items() {
        let asked = cloudfront.get_invalidation().distribution_id(distribution).id(item.id()).send().await.unwrap();
        paths.extend(asked.invalidation().unwrap().invalidation_batch().unwrap().paths().unwrap().items().to_vec());
    }
    paths
}

/// A distribution in moto's CloudFront (its CloudFormation makes none), for the api to invalidate.
async fn distribution(sdk: &aws_config::SdkConfig) -> String {
    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
    };
    let origin = Origin::builder()
        .id("assets")
        .domain_name(format!("{ASSETS}.s3.us-east-1.amazonaws.com"))
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id("assets")
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference("api-test")
        .comment("")
        .enabled(true)
        .origins(Origins::builder().quantity(1).items(origin).build().unwrap())
        .default_cache_behavior(behavior)
        .build()
        .unwrap();
    let created = aws_sdk_cloudfront::Client::new(sdk).create_distribution().distribution_config(config).send().await.unwrap();
    created.distribution().unwrap().id().to_string()
}

/// `DELETE /api/avatar`: every original the user uploaded for it, the square, CloudFront's copy
/// and the profile's avatar are gone; the display name stays; another user's avatar is untouched;
/// deleting again is still 204.
#[tokio::test(flavor = "multi_thread")]
async fn an_avatar_is_deleted_with_its_originals_and_leaves_the_edge() {
    let p = Pipeline::start("avatars", "avatars/").await;
    let dynamodb = testkit::queue::create_catalog(&p.sdk).await;
    let (api, distribution) = api_at_the_edge(&p).await;
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
    for user in [USER, OTHER] {
        for upload in ["01JAAAAAAAAAAAAAAAAAAAAAAA", "01JBBBBBBBBBBBBBBBBBBBBBBB"] {
            let original = shared::key::avatar_key(user, upload);
            p.s3.put_object().bucket(UPLOADS).key(original).body(b"original".to_vec().into()).send().await.unwrap();
        }
        let square = shared::key::avatar_output_key(user);
        p.s3.put_object().bucket(ASSETS).key(&square).body(b"square".to_vec().into()).send().await.unwrap();
        dynamodb
            .put_item()
            .table_name(TABLE)
            .item("pk", s(&shared::table::profile_pk(user)))
            .item("display_name", s("Ada"))
            .item("avatar_key", s(&square))
            .item("avatar_version", s("v1"))
            .item("avatar_uploaded_at", s("2026-01-01T00:00:00.000Z"))
            .send()
            .await
            .unwrap();
    }
    let (_, before) = call(&api, "GET", "/api/profile", None).await;
    assert!(before["avatar_url"].is_string(), "{before}");

    let (status, _) = call(&api, "DELETE", "/api/avatar", None).await;
    assert_eq!(status, 204);
    let keys = |bucket: &'static str, prefix: String| {
        let s3 = p.s3.clone();
        async move {
            let listed = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
            listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
        }
    };
    assert_eq!(keys(UPLOADS, format!("avatars/{USER}/")).await, Vec::<String>::new(), "the originals are gone");
    assert_eq!(keys(ASSETS, shared::key::avatar_output_key(USER)).await, Vec::<String>::new(), "the square is gone");
    let (_, after) = call(&api, "GET", "/api/profile", None).await;
    assert_eq!((&after["avatar_url"], &after["display_name"]), (&Value::Null, &json!("Ada")), "{after}");
    let paths = invalidated(&p.sdk, &distribution).await;
    assert_eq!(paths, [format!("/{}", shared::key::avatar_output_key(USER))]);

    assert_eq!(keys(UPLOADS, format!("avatars/{OTHER}/")).await.len(), 2, "another's originals are untouched");
    let (_, theirs) = call_as(&api, Some(OTHER), "GET", "/api/profile", None).await;
    assert!(theirs["avatar_url"].is_string(), "{theirs}");
    assert_eq!(call(&api, "DELETE", "/api/avatar", None).await.0, 204, "deleting nothing is fine");
}

/// Grants a photo upload as `USER` (`visibility` as the request says it, or not at all), posts
/// `photo` through the presigned POST, and runs the thumbnail function on the notification it
/// caused. Returns the upload id.
async fn upload_photo(p: &Pipeline, api: &Api, thumbnails: &ThumbnailHandler, visibility: Option<&str>, photo: &[u8]) -> String {
    upload_photo_as(p, api, thumbnails, USER, visibility, "beach.jpg", photo).await
}

async fn upload_photo_as(
    p: &Pipeline,
    api: &Api,
    thumbnails: &ThumbnailHandler,
    user: &str,
    visibility: Option<&str>,
    name: &str,
    photo: &[u8],
) -> String {
    let mut ask = json!({ "kind": "image", "file_name": name, "content_type": "image/jpeg", "size": photo.len() });
    if let Some(v) = visibility {
        ask["visibility"] = json!(v);
    }
    let (status, grant) = call_as(api, Some(user), "POST", "/api/uploads", Some(ask)).await;
    assert_eq!(status, 201, "{grant}");
    let fields: Vec<(String, String)> =
        grant["fields"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    let (status, body) = testkit::form::post_form(grant["url"].as_str().unwrap(), &fields, name, "image/jpeg", photo);
    assert!((200..300).contains(&status), "the presigned POST was refused: {status} {body}");
    let messages: Vec<_> = receive(&p.sqs, &p.queue_url, 1)
        .await
        .into_iter()
        .filter(|m| !m.body().unwrap_or_default().contains("s3:TestEvent"))
        .collect();
    assert_eq!(messages.len(), 1);
    assert!(failed_ids(&thumbnails.handle(sqs_event(&messages), worker::batch::Invocation::default()).await).is_empty());
    grant["upload_id"].as_str().unwrap().to_string()
}

/// A private photo is in its owner's photos only: no gallery listing (either order) holds it,
/// its thumbnail is under `private/` (which the distribution may not read), the owner's link to
/// it works, and deleting it asks the edge for nothing, since it was never there. The stage's
/// `DEFAULT_VISIBILITY` decides for a request that does not say.
#[tokio::test(flavor = "multi_thread")]
async fn a_private_photo_is_its_owners_alone() {
    let p = Pipeline::start("private", "images/").await;
    testkit::queue::create_catalog(&p.sdk).await;
    let (api, distribution) = api_at_the_edge(&p).await;
    let thumbnails = ThumbnailHandler::new(Config::from_lookup(&thumbnail::DEFAULTS, p.env("thumbnail")).unwrap(), &p.sdk);
    let photo = corpus_file("photos/m1_eveningglow_2560x1600.jpg");

    let public = upload_photo(&p, &api, &thumbnails, Some("public"), &photo).await;
    let private = upload_photo(&p, &api, &thumbnails, Some("private"), &photo).await;
    for sort in ["recent", "smallest"] {
        let (_, gallery) = call_as(&api, None, "GET", &format!("/api/images?sort={sort}"), None).await;
        let ids: Vec<&str> = gallery["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [public.as_str()], "{sort}: the gallery shows the public photo alone");
    }
    let (_, mine) = call(&api, "GET", "/api/photos", None).await;
    let own = |id: &str| mine["items"].as_array().unwrap().iter().find(|i| i["id"] == id).cloned().unwrap();
    let (public_row, private_row) = (own(&public), own(&private));
    assert_eq!((public_row["visibility"].as_str(), private_row["visibility"].as_str()), (Some("public"), Some("private")));
    assert_eq!(private_row["thumbnail_key"], format!("{}{private}.jpg", shared::visibility::PRIVATE));
    assert_eq!(public_row["thumbnail_url"], format!("/thumbnails/{public}.jpg"));
    // The owner's link is a presigned GET of the assets bucket, and it serves the JPEG.
    let link = private_row["thumbnail_url"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/{ASSETS}/private/", p.moto.endpoint)) && link.contains("X-Amz-Signature="), "{link}");
    let got = testkit::form::request("GET", link, None, b"");
    assert_eq!((got.status, got.header("Content-Type")), (200, Some("image/jpeg")), "{}", got.text());
    assert!(got.body.starts_with(&[0xFF, 0xD8]));
    assert_eq!(got.header("Cache-Control"), Some(shared::visibility::Visibility::Private.cache_control()));
    let stray = p.s3.head_object().bucket(ASSETS).key(format!("thumbnails/{private}.jpg")).send().await;
    assert!(stray.is_err(), "nothing of the private photo is where CloudFront reads");

    let (status, _) = call(&api, "DELETE", &format!("/api/photos?id={private}"), None).await;
    assert_eq!(status, 204);
    assert!(p.s3.head_object().bucket(ASSETS).key(format!("private/{private}.jpg")).send().await.is_err());
    let cloudfront = aws_sdk_cloudfront::Client::new(&p.sdk);
    let asked = cloudfront.list_invalidations().distribution_id(&distribution).send().await.unwrap();
    assert!(asked.invalidation_list().unwrap().items().is_empty(), "a private thumbnail was never at the edge");

    // A request that does not say takes the stage's default.
    let env = p.env("api");
    let private_stage = Api::new(
        ApiConfig::from_lookup(|name| if name == "DEFAULT_VISIBILITY" { Some("private".into()) } else { env(name) }).unwrap(),
        &p.sdk,
    );
    let unsaid = upload_photo(&p, &private_stage, &thumbnails, None, &photo).await;
    let (_, gallery) = call_as(&api, None, "GET", "/api/images", None).await;
    assert_eq!(gallery["items"].as_array().unwrap().len(), 1, "{unsaid} is private by the stage's default");
    let (_, mine) = call(&api, "GET", "/api/photos", None).await;
    assert!(mine["items"].as_array().unwrap().iter().any(|i| i["id"] == unsaid.as_str() && i["visibility"] == "private"));
}

/// A user in a moto pool, signed in as the site signs in (USER_PASSWORD_AUTH): the claims of the
/// access token moto issued, as the authorizer would pass them, and the client to try again with.
struct PoolUser {
    cognito: aws_sdk_cognitoidentityprovider::Client,
    pool: String,
    client: String,
    email: String,
    password: String,
    sub: String,
    sign_in: api::http::SignIn,
}

async fn pool_user(sdk: &aws_config::SdkConfig) -> PoolUser {
    use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, ExplicitAuthFlowsType, UsernameAttributeType};
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    let created =
        cognito.create_user_pool().pool_name("account-test").username_attributes(UsernameAttributeType::Email).send().await;
    let pool = created.unwrap().user_pool().unwrap().id().unwrap().to_string();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("site")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let client = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    let (email, password) = ("leaving@example.com".to_string(), "Leaving-Passw0rd".to_string());
    let attribute = AttributeType::builder().name("email").value(&email).build().unwrap();
    cognito.sign_up().client_id(&client).username(&email).password(&password).user_attributes(attribute).send().await.unwrap();
    cognito.admin_confirm_sign_up().user_pool_id(&pool).username(&email).send().await.unwrap();
    let auth = cognito
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", &email)
        .auth_parameters("PASSWORD", &password)
        .send()
        .await
        .unwrap();
    let token = auth.authentication_result().unwrap().access_token().unwrap().to_string();
    let payload = token.split('.').nth(1).unwrap().replace('-', "+").replace('_', "/");
    let padded = format!("{payload}{}", "=".repeat((4 - payload.len() % 4) % 4));
    let claims: Value = serde_json::from_slice(&aws_smithy_types::base64::decode(padded).unwrap()).unwrap();
    let text = |name: &str| claims[name].as_str().unwrap_or_else(|| panic!("no {name} in {claims}")).to_string();
    let sign_in = api::http::SignIn { issuer: text("iss"), username: text("username") };
    PoolUser { cognito, pool, client, email, password, sub: text("sub"), sign_in }
}

/// Everything in the three buckets and the table that names `who`.
async fn everything_of(
    p: &Pipeline,
    who: &str,
) -> (Vec<String>, Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>) {
    let mut keys = Vec::new();
    for bucket in [UPLOADS, ASSETS, LOGS] {
        let listed = p.s3.list_objects_v2().bucket(bucket).send().await.unwrap();
        keys.extend(listed.contents().iter().map(|o| format!("{bucket}/{}", o.key().unwrap())).filter(|k| k.contains(who)));
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(&p.sdk);
    let items = dynamodb.scan().table_name(TABLE).send().await.unwrap().items().to_vec();
    let items = items.into_iter().filter(|item| format!("{item:?}").contains(who)).collect();
    (keys, items)
}

/// `DELETE /api/account` leaves nothing of the caller: a public and a private photo, a rejected
/// upload (its record and e-mail notice), an avatar and a profile are gone from every bucket and
/// the table (listed whole), the edge is told to forget the public pictures, and the user is gone
/// from the pool, so signing in again fails. What stays is the closed quota of today and tomorrow
/// (the user id and an expiry, so the 15 minutes a deleted account's token still lives cannot add
/// a photo), and another user's photo.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_is_deleted_with_everything_it_had() {
    let p = Pipeline::start("account", "images/").await;
    let dynamodb = testkit::queue::create_catalog(&p.sdk).await;
    let (api, distribution) = api_at_the_edge(&p).await;
    let thumbnails = ThumbnailHandler::new(Config::from_lookup(&thumbnail::DEFAULTS, p.env("thumbnail")).unwrap(), &p.sdk);
    let leaving = pool_user(&p.sdk).await;
    let me = leaving.sub.as_str();
    let photo = corpus_file("photos/s2_greenmeadow_1280x1024.jpg");

    let public = upload_photo_as(&p, &api, &thumbnails, me, Some("public"), "beach.jpg", &photo).await;
    let private = upload_photo_as(&p, &api, &thumbnails, me, Some("private"), "secret.jpg", &photo).await;
    upload_photo_as(&p, &api, &thumbnails, me, None, "notes.jpg", b"these are not pixels").await;
    let theirs = upload_photo_as(&p, &api, &thumbnails, OTHER, None, "theirs.jpg", &photo).await;
    let (status, _) = call_as(&api, Some(me), "PUT", "/api/profile", Some(json!({ "display_name": "Leaving", "bio": "" }))).await;
    assert_eq!(status, 200);
    for key in [format!("avatars/{me}/01JAAAAAAAAAAAAAAAAAAAAAAA"), shared::key::avatar_output_key(me)] {
        let bucket = if key.ends_with(".jpg") { ASSETS } else { UPLOADS };
        p.s3.put_object().bucket(bucket).key(key).body(b"avatar".to_vec().into()).send().await.unwrap();
    }
    let (keys, items) = everything_of(&p, me).await;
    assert!(keys.len() >= 6 && items.len() >= 4, "the account has data to delete: {keys:?} {items:?}");
    assert!(keys.iter().any(|k| k.starts_with(&format!("{LOGS}/failures/users/{me}/"))), "{keys:?}");

    // Without the token's pool and user name, nothing is deleted.
    let (status, refused) = call_as(&api, Some(me), "DELETE", "/api/account", None).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(everything_of(&p, me).await.0, keys);

    let request = Request {
        method: "DELETE".into(),
        path: "/api/account".into(),
        subject: Some(me.to_string()),
        sign_in: Some(leaving.sign_in.clone()),
        ..Request::default()
    };
    let answer = api.handle(&request).await;
    assert_eq!(answer.status, 204, "{}", answer.body);

    let (keys, items) = everything_of(&p, me).await;
    assert_eq!(keys, Vec::<String>::new(), "no file of the account remains");
    for item in &items {
        let pk = item["pk"].as_s().unwrap();
        let closed = pk.starts_with("QUOTA#") && item.get("closed") == Some(&aws_sdk_dynamodb::types::AttributeValue::Bool(true));
        assert!(closed && item.contains_key(shared::table::EXPIRES_AT), "left behind: {item:?}");
    }
    for id in [&public, &private] {
        let (keys, items) = everything_of(&p, id).await;
        assert!(keys.is_empty() && items.is_empty(), "{id}: {keys:?} {items:?}");
    }
    let paths = invalidated(&p.sdk, &distribution).await;
    assert!(paths.contains(&format!("/thumbnails/{public}.jpg")) && !paths.iter().any(|p| p.contains(&private)), "{paths:?}");
    let gone = leaving.cognito.admin_get_user().user_pool_id(&leaving.pool).username(&leaving.email).send().await;
    assert!(gone.is_err_and(|e| format!("{e:?}").contains("UserNotFound")), "the user is gone from the pool");
    let again = leaving
        .cognito
        .initiate_auth()
        .client_id(&leaving.client)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", &leaving.email)
        .auth_parameters("PASSWORD", &leaving.password)
        .send()
        .await;
    assert!(again.is_err(), "signing in again fails");
    // The token outlives the account by minutes: no grant in them.
    let ask = json!({ "kind": "image", "file_name": "late.jpg", "content_type": "image/jpeg", "size": 10 });
    assert_eq!(call_as(&api, Some(me), "POST", "/api/uploads", Some(ask)).await.0, 429);
    // Asked again (the first answer lost), it is still done; so is a row the owner index still
    // lists a moment after its deletion (DynamoDB's indexes are eventually consistent).
    assert_eq!(api.handle(&request).await.status, 204);
    let gone = CatalogRow { owner: Some(me.to_string()), ..row(0) };
    api::photos::remove_row(&api, me, &gone).await.expect("a row already deleted is done");
    let (_, gallery) = call_as(&api, None, "GET", "/api/images", None).await;
    let ids: Vec<&str> = gallery["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [theirs.as_str()], "another user's photo stays");
    assert!(dynamodb.scan().table_name(TABLE).send().await.unwrap().count() > 0);
}
