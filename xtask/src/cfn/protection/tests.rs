use super::*;
use crate::exit::Exit;

fn stage(name: &str) -> Stage {
    Stage::load(&crate::paths::infra(), name).unwrap()
}

#[test]
fn a_protected_stage_is_torn_down_only_when_named() {
    let prod = stage("prod");
    assert!(prod.protected, "prod is protected");
    // Tests run without a terminal: no one can type the name.
    let refused = confirm_teardown(&prod, None).unwrap_err();
    assert_eq!(refused.exit, Exit::Usage);
    assert!(refused.message.contains("--confirm-protected prod"), "{}", refused.message);
    let wrong = confirm_teardown(&prod, Some("dev")).unwrap_err();
    assert!(wrong.exit == Exit::Usage && wrong.message.contains("does not name this stage"), "{}", wrong.message);
    assert!(confirm_teardown(&prod, Some("prod")).is_ok());
    assert!(confirm_teardown(&stage("dev"), None).is_ok(), "dev is not protected");
}

/// moto has no `UpdateTerminationProtection`, so a stand-in answers as CloudFormation does
/// (its recorded answers) and keeps each request for the test to read.
#[tokio::test(flavor = "multi_thread")]
async fn protect_sets_the_stack_policy_and_termination_protection() {
    use testkit::stand_in::{Answer, serve};
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx = std::sync::Mutex::new(tx);
    let endpoint = serve(move |request| {
        let body = if request.body.contains("Action=SetStackPolicy") {
            "<SetStackPolicyResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></SetStackPolicyResponse>"
        } else {
            "<UpdateTerminationProtectionResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><UpdateTerminationProtectionResult><StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/thumbstack-prod/1</StackId></UpdateTerminationProtectionResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></UpdateTerminationProtectionResponse>"
        };
        let _ = tx.lock().unwrap().send(request.body.clone());
        Answer { status: "200 OK", content_type: "text/xml", body: body.to_string(), ..Default::default() }
    });
    let sdk = shared::aws::emulator_config("eu-west-1", &endpoint).await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let policy = r#"{"Statement":[]}"#;
    protect(&cfn, "thumbstack-prod", &Protection { stack_policy: Some(policy.into()) }).await.unwrap();
    let timeout = std::time::Duration::from_secs(10);
    let first = rx.recv_timeout(timeout).unwrap();
    let second = rx.recv_timeout(timeout).unwrap();
    let decoded = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().to_string();
    let (first, second) = (decoded(&first), decoded(&second));
    assert!(first.contains("Action=SetStackPolicy") && first.contains("StackName=thumbstack-prod"), "{first}");
    assert!(first.contains(&format!("StackPolicyBody={policy}")), "{first}");
    assert!(second.contains("Action=UpdateTerminationProtection"), "{second}");
    assert!(second.contains("EnableTerminationProtection=true"), "{second}");
}

/// The rendered prod policy: every resource that holds data, and only those, may not be replaced
/// or deleted by an update; anything else may change.
#[test]
fn the_stack_policy_keeps_every_resource_that_holds_data() {
    let rendered = crate::template::render_stack(&crate::paths::infra(), &stage("prod")).unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(rendered.file(crate::template::STACK_POLICY).expect("prod has a stack policy")).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements[0]["Action"], "Update:*");
    assert_eq!(statements[1]["Effect"], "Deny");
    assert_eq!(statements[1]["Action"], serde_json::json!(["Update:Replace", "Update:Delete"]));
    let kept: Vec<&str> = statements[1]["Resource"].as_array().unwrap().iter().filter_map(|r| r.as_str()).collect();
    for id in ["UploadsBucket", "AssetsBucket", "LogBucket", "CatalogTable", "UserPool", "DataKey"] {
        assert!(kept.contains(&format!("LogicalResourceId/{id}").as_str()), "{id} is not kept: {kept:?}");
    }
    assert!(!kept.iter().any(|k| k.contains("Function") || k.contains("Queue")), "{kept:?}");
    let dev = crate::template::render_stack(&crate::paths::infra(), &stage("dev")).unwrap();
    assert!(dev.file(crate::template::STACK_POLICY).is_none(), "dev is not protected");
}
