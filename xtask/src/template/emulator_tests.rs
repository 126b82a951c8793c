//! The rendered `local` template against moto, through a change set as deploy will use it.

use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter};

use super::*;
use crate::cfn::{StackSpec, Template, changeset, execute};
use crate::companions::render;
use crate::template::parameters;

#[tokio::test(flavor = "multi_thread")]
async fn the_local_stack_deploys_on_the_emulator() {
    let infra = crate::paths::infra();
    let stage = Stage::load(&infra, "local").unwrap();
    let rendered = render(&infra, &stage).unwrap();
    let template = rendered.file("template.yaml").unwrap();
    let moto = testkit::Moto::start();
    let sdk = moto.sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);

    // The bootstrap stack first, as `bootstrap` makes it: its boundary goes on every role.
    let bootstrap = stage.id.bootstrap_stack();
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
        "ThumbnailCodeSha256",
        "AvatarCodeSha256",
        "ApiCodeSha256",
        "HookCodeKey",
        "HookCodeVersion",
    ];
    let deploy_time = code.map(|k| (k, "unused".to_string())).into_iter().chain([("PermissionsBoundary", boundary.clone())]);
    let stack = &rendered.stack_name;
    let spec = StackSpec {
        name: stack.clone(),
        template: Template::Body(template.to_string()),
        parameters: parameters(&stage).into_iter().chain(deploy_time).map(|(k, v)| (k.to_string(), v)).collect(),
        tags: Vec::new(),
        role_arn: None,
        protection: None,
    };
    // Through the core's own change-set path, as deploy takes it.
    let poll = std::time::Duration::from_millis(100);
    let set = changeset::create(&cfn, &spec, poll).await.unwrap().expect("a new stack has changes");
    assert_eq!(set.kind, ChangeSetType::Create);
    let adds = set.changes.len();
    let done = execute::execute(&cfn, &set, poll).await.unwrap();
    assert_eq!(crate::cfn::stack::status(&done.stack), "CREATE_COMPLETE");

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
    let again = render(&infra, &stage).unwrap();
    assert_eq!(again.files, rendered.files);
    assert!(changeset::create(&cfn, &spec, poll).await.unwrap().is_none(), "a second change set found changes");
}
