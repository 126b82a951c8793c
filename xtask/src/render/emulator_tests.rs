//! The rendered `local` template against moto, through a change set as deploy will use it.

use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter};

use super::*;
use crate::template::parameters;

#[tokio::test(flavor = "multi_thread")]
async fn the_local_stack_deploys_on_the_emulator() {
    let infra = crate::paths::infra();
    let stage = Stage::load(&infra, "local").unwrap();
    let rendered = render(&infra, "local", &stage).unwrap();
    let template = rendered.file("template.yaml").unwrap();
    let moto = testkit::Moto::start();
    let sdk = moto.sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);

    // The bootstrap stack first, as `bootstrap` makes it: its boundary goes on every role.
    let bootstrap = format!("{}-bootstrap", rendered.stack_name);
    let bootstrap_parameters = rendered.bootstrap_parameters.clone().unwrap();
    cfn.create_stack()
        .stack_name(&bootstrap)
        .template_body(rendered.file("bootstrap.yaml").unwrap())
        .set_parameters(Some(
            bootstrap_parameters.iter().map(|(k, v)| Parameter::builder().parameter_key(*k).parameter_value(v).build()).collect(),
        ))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .unwrap();
    let made = cfn.describe_stacks().stack_name(&bootstrap).send().await.unwrap();
    let output = |key: &str| {
        made.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .unwrap()
            .to_string()
    };
    let boundary = output("BoundaryArn");
    assert_eq!(boundary, "arn:aws:iam::123456789012:policy/thumbstack-local-boundary");
    assert_eq!(output("ExecutionRoleArn"), "arn:aws:iam::123456789012:role/thumbstack/thumbstack-local-cfn-exec");

    // The functions do not run in the emulator, so their code location is never read.
    let code = [
        "ArtifactsBucket",
        "ThumbnailCodeKey",
        "AvatarCodeKey",
        "ApiCodeKey",
        "ThumbnailCodeVersion",
        "AvatarCodeVersion",
        "ApiCodeVersion",
    ];
    let deploy_time = code.map(|k| (k, "unused".to_string())).into_iter().chain([("PermissionsBoundary", boundary.clone())]);
    let parameters: Vec<Parameter> = parameters("local", &stage)
        .into_iter()
        .chain(deploy_time)
        .map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build())
        .collect();
    let stack = &rendered.stack_name;
    let change_set = |name: &str, kind: ChangeSetType| {
        cfn.create_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .template_body(template)
            .set_parameters(Some(parameters.clone()))
            .capabilities(Capability::CapabilityIam)
            .change_set_type(kind)
            .send()
    };
    change_set("first", ChangeSetType::Create).await.unwrap();
    let described = cfn.describe_change_set().stack_name(stack).change_set_name("first").send().await.unwrap();
    let adds = described.changes().len();
    cfn.execute_change_set().stack_name(stack).change_set_name("first").send().await.unwrap();
    let status = cfn.describe_stacks().stack_name(stack).send().await.unwrap().stacks()[0].stack_status().cloned();
    assert_eq!(status.map(|s| s.as_str().to_string()).as_deref(), Some("CREATE_COMPLETE"));

    let resources = cfn.describe_stack_resources().stack_name(stack).send().await.unwrap();
    let physical = |id: &str| {
        resources.stack_resources().iter().find(|r| r.logical_resource_id() == Some(id)).and_then(|r| r.physical_resource_id())
    };
    assert_eq!(physical("UploadsBucket"), Some("thumbstack-local-uploads-123456789012"));
    assert_eq!(physical("CatalogTable"), Some("thumbstack-local-catalog"));
    assert!(physical("ThumbnailFunction").is_none(), "the emulator stage must not create Lambda functions");
    assert!(adds >= 20, "only {adds} changes in the first change set");

    // Every role of the stack: under the stack's path, with the boundary.
    let iam = aws_sdk_iam::Client::new(&sdk);
    let role = iam.get_role().role_name(physical("ThumbnailRole").unwrap()).send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.path(), "/thumbstack-local/");
    assert_eq!(role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()), Some(boundary.as_str()));

    // The catalog as the functions and queries expect it: both sharded indexes.
    let table = aws_sdk_dynamodb::Client::new(&sdk).describe_table().table_name("thumbstack-local-catalog").send().await.unwrap();
    let mut indexes: Vec<_> = table
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let keys: Vec<_> = i.key_schema().iter().map(|k| k.attribute_name().to_string()).collect();
            (i.index_name().unwrap_or_default().to_string(), keys.join("+"))
        })
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            ("by-owner".to_string(), "owner+uploaded_at".to_string()),
            ("by-size".into(), "shard+thumbnail_size".into()),
            ("by-time".into(), "shard+uploaded_at".into())
        ]
    );

    // Rendering again changes nothing, and CloudFormation agrees: nothing to deploy.
    let again = render(&infra, "local", &stage).unwrap();
    assert_eq!(again.files, rendered.files);
    let empty = change_set("second", ChangeSetType::Update).await;
    let reason = match empty {
        Err(e) => e.into_service_error().to_string(),
        Ok(_) => {
            let d = cfn.describe_change_set().stack_name(stack).change_set_name("second").send().await.unwrap();
            format!("{:?}: {}", d.status(), d.status_reason().unwrap_or_default())
        }
    };
    assert!(reason.contains("didn't contain changes"), "{reason}");
}
