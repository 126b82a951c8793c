//! An invalidation on a distribution created through moto's CloudFront API (moto's
//! CloudFormation does not create distributions).

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn invalidation_is_created_and_awaited() {
    let moto = testkit::Moto::start();
    let cf = Client::new(&moto.sdk_config().await);
    let origin = Origin::builder()
        .id("assets")
        .domain_name("assets.s3.us-east-1.amazonaws.com")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference("test")
        .comment("")
        .enabled(true)
        .origins(Origins::builder().quantity(1).items(origin).build().unwrap())
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("assets")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created = cf.create_distribution().distribution_config(config).send().await.unwrap();
    let id = created.distribution().unwrap().id().to_string();

    let paths = vec!["/avatars/*".to_string(), "/index.html".into(), "/avatars/*".into()];
    let done = invalidate(&cf, &id, paths, Duration::from_secs(10), Duration::from_millis(50)).await.unwrap();
    assert_eq!(done.paths, ["/avatars/*", "/index.html"]);
    assert!(done.completed(), "{done:?}");
    assert_eq!(exit(&done), Exit::Success);
    let listed = cf.list_invalidations().distribution_id(&id).send().await.unwrap();
    let ids: Vec<_> = listed.invalidation_list().unwrap().items().iter().map(|i| i.id().to_string()).collect();
    assert_eq!(ids.as_slice(), std::slice::from_ref(&done.id));

    // Many changed files become one wildcard.
    let many = (0..20).map(|i| format!("/f{i}.js")).collect();
    assert_eq!(invalidate(&cf, &id, many, Duration::ZERO, Duration::ZERO).await.unwrap().paths, ["/*"]);

    let pending = Invalidation { status: "InProgress".into(), ..done };
    assert_eq!(exit(&pending), Exit::InvalidationPending);
}
