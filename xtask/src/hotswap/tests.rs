use std::collections::BTreeMap;

use super::*;
use crate::build::Artifact;
use crate::cfn::release::{Kind, Stored};
use crate::stage::StageId;

fn last() -> Release {
    Release {
        number: 4,
        kind: Kind::Deploy,
        rolled_back_to: None,
        stack: "thumbstack-dev".into(),
        at: "2026-12-06T10:00:00Z".into(),
        by: "arn:aws:iam::123456789012:user/ci".into(),
        commit: None,
        dirty: false,
        stage_file_sha256: "stage-1".into(),
        template: Stored { key: "t".into(), version_id: "v".into(), sha256: "template-1".into() },
        parameters: BTreeMap::from([("ThumbnailMemory".into(), "1024".into()), ("ThumbnailCodeKey".into(), "old.zip".into())]),
        zips: vec![],
    }
}

#[test]
fn only_a_change_of_code_may_be_hotswapped() {
    let parameters = BTreeMap::from([("ThumbnailMemory", "1024".to_string())]);
    let same = Now { template_sha256: "template-1", stage_file_sha256: "stage-1", parameters: &parameters };
    assert!(what_changed(&last(), &same).is_empty(), "code keys are not compared: they are what a hotswap changes");
    let more = BTreeMap::from([("ThumbnailMemory", "2048".to_string())]);
    let changed = Now { template_sha256: "template-2", stage_file_sha256: "stage-2", parameters: &more };
    assert_eq!(what_changed(&last(), &changed), ["the template", "the stage file", "parameter ThumbnailMemory (1024 → 2048)"],);
}

/// On moto, whose Lambda keeps code, versions and aliases without running anything: the new zip
/// becomes the function's code, a version of exactly it is published, and `live` points at it.
#[tokio::test(flavor = "multi_thread")]
async fn a_swap_updates_the_code_publishes_it_and_moves_live() {
    use sha2::{Digest, Sha256};
    let moto = testkit::Moto::start();
    let sdk = moto.sdk_config().await;
    let (s3, lambda) = (shared::aws::s3_client(&sdk), Client::new(&sdk));
    let account = "123456789012";
    let bucket = crate::stage::artifacts_bucket(account, "us-east-1");
    artifacts::ensure_bucket(&s3, &bucket, account, "us-east-1", false).await.unwrap();
    let dev = StageId::new("dev", None).unwrap();
    let dir = std::env::temp_dir().join(format!("thumbstack-hotswap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zip = |n: u8| {
        let path = dir.join(format!("{n}.zip"));
        let bytes = [b"PK\x05\x06 build ".as_slice(), &[n]].concat();
        std::fs::write(&path, &bytes).unwrap();
        Artifact {
            function: "thumbnail".into(),
            zip: path,
            sha256: hex::encode(Sha256::digest(&bytes)),
            zip_bytes: bytes.len() as u64,
            bootstrap_bytes: 0,
            architecture: "x86_64".into(),
            max_glibc: None,
        }
    };
    let first = artifacts::upload(&s3, &bucket, account, &dev, &[zip(1)]).await.unwrap().remove(0);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam.create_role().role_name("thumbnail").assume_role_policy_document(trust).send().await.unwrap();
    let name = "thumbstack-dev-thumbnail";
    let code = aws_sdk_lambda::types::FunctionCode::builder()
        .s3_bucket(&bucket)
        .s3_key(&first.key)
        .s3_object_version(&first.version_id)
        .build();
    lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().unwrap().arn())
        .code(code)
        .send()
        .await
        .unwrap();
    let v1 = lambda.publish_version().function_name(name).send().await.unwrap();
    lambda.create_alias().function_name(name).name(LIVE_ALIAS).function_version(v1.version().unwrap()).send().await.unwrap();

    let second = artifacts::upload(&s3, &bucket, account, &dev, &[zip(2)]).await.unwrap().remove(0);
    let swapped = swap(&lambda, &bucket, name, &second, true, Duration::from_millis(50)).await.unwrap();
    assert_eq!(swapped.version, "2");
    let live = lambda.get_alias().function_name(name).name(LIVE_ALIAS).send().await.unwrap();
    assert_eq!(live.function_version(), Some("2"));
    let published = lambda.get_function_configuration().function_name(name).qualifier("2").send().await.unwrap();
    assert_eq!(published.code_sha256(), Some(second.lambda_sha256().unwrap().as_str()), "version 2 is the new zip");
    assert_ne!(published.code_sha256(), Some(first.lambda_sha256().unwrap().as_str()));
    let after = parameters_after(&last(), &[&second]).unwrap();
    assert_eq!(after["ThumbnailCodeKey"], second.key);
    assert_eq!(after["ThumbnailCodeSha256"], second.lambda_sha256().unwrap());
    assert_eq!(after["ThumbnailMemory"], "1024");
    let _ = std::fs::remove_dir_all(dir);
}
