//! `cargo xtask deploy | diff | catalog | outputs | status | teardown` as CI runs them (the real
//! binary, `CI=true`, stdin closed, `--json`), against moto started by the harness.
//!
//! moto's CloudFormation ignores some resources: the `local` stage leaves the
//! functions and CloudFront out (`OnAws=false`), and bucket versioning is switched on here by
//! direct API so teardown meets versioned buckets as it would on AWS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

fn xtask(endpoint: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("THUMBSTACK_ENDPOINT", endpoint)
        .env("CI", "true")
        .stdin(Stdio::null())
        .output()
        .expect("running xtask");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains('\x1b') && !run.stdout.contains('\x1b'), "escape codes in CI output:\n{}", run.stderr);
    run
}

/// A copy of `infra/` to edit: a changed stage, a broken template.
fn infra_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("thumbstack-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&testkit::repo_root().join("infra"), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

const UPLOADS: &str = "thumbstack-local-uploads-123456789012";
const TABLE: &str = "thumbstack-local-catalog";
const ARTIFACTS: &str = "thumbstack-artifacts-123456789012-us-east-1";
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/thumbstack/thumbstack-local-cfn-exec";

/// What an administrator runs once per stage before anyone deploys it (`extra`: its stage file's
/// folder, whose retention decides the IAM documents too).
fn bootstrap(endpoint: &str, extra: &[&str]) {
    let run = xtask(endpoint, &[&["bootstrap", "local", "--yes", "--json"][..], extra].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["outputs"]["ExecutionRoleArn"], EXECUTION_ROLE);
}

/// The stage as a test starts from: bootstrapped, then deployed (with `extra` flags).
fn bootstrapped_and_deployed(endpoint: &str, extra: &[&str]) {
    bootstrap(endpoint, extra);
    let deployed = xtask(endpoint, &[&["deploy", "local", "--yes"][..], extra].concat());
    assert_eq!(deployed.code, 0, "{}", deployed.stderr);
}

async fn stacks(sdk: &aws_config::SdkConfig) -> Vec<String> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let listed = cfn.list_stacks().send().await.unwrap();
    listed
        .stack_summaries()
        .iter()
        .filter(|s| s.stack_status().is_some_and(|st| st.as_str() != "DELETE_COMPLETE"))
        .filter_map(|s| s.stack_name().map(str::to_string))
        .collect()
}

async fn buckets(s3: &aws_sdk_s3::Client) -> Vec<String> {
    s3.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stage_deploys_updates_answers_and_tears_down() {
    let moto = testkit::Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = shared::aws::s3_client(&sdk);
    let endpoint = moto.endpoint.as_str();

    // Without bootstrap there is no execution role to deploy as: refused, naming the command.
    let refused = xtask(endpoint, &["deploy", "local", "--yes", "--json"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("there is no stack thumbstack-local-bootstrap"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Run `cargo xtask bootstrap <stage>` once with administrator credentials"),
        "{}",
        refused.stderr
    );
    bootstrap(endpoint, &[]);
    let unchanged = xtask(endpoint, &["bootstrap", "local", "--yes", "--json"]);
    assert_eq!(unchanged.json()["outcome"], "no_changes", "{}", unchanged.stderr);

    // From nothing.
    let first = xtask(endpoint, &["deploy", "local", "--yes", "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let report = first.json();
    assert_eq!((report["outcome"].as_str(), report["change_set_type"].as_str()), (Some("deployed"), Some("CREATE")));
    assert_eq!(report["status"], "CREATE_COMPLETE");
    // The functions run in-process on an emulator stage: nothing built, zipped or uploaded.
    assert_eq!(report["artifacts"], serde_json::json!([]), "{report:#}");
    assert!(report["timings"].get("package").is_none(), "a release build for an in-process stage: {report:#}");
    assert!(first.stderr.contains("no release build, no zips"), "{}", first.stderr);
    assert!(first.stderr.contains("Add     CatalogTable"), "no diff table:\n{}", first.stderr);
    for bucket in [UPLOADS, "thumbstack-local-assets-123456789012", "thumbstack-local-logs-123456789012"] {
        s3.head_bucket().bucket(bucket).send().await.unwrap_or_else(|e| panic!("{bucket}: {e:?}"));
    }
    aws_sdk_dynamodb::Client::new(&sdk).describe_table().table_name(TABLE).send().await.unwrap();
    let described =
        aws_sdk_cloudformation::Client::new(&sdk).describe_stacks().stack_name("thumbstack-local").send().await.unwrap();
    assert_eq!(described.stacks()[0].role_arn(), Some(EXECUTION_ROLE), "the change set ran as the execution role");
    let queues = aws_sdk_sqs::Client::new(&sdk).list_queues().send().await.unwrap();
    assert_eq!(queues.queue_urls().len(), 4, "{:?}", queues.queue_urls());
    let topics = aws_sdk_sns::Client::new(&sdk).list_topics().send().await.unwrap();
    assert!(topics.topics().iter().any(|t| t.topic_arn().unwrap().ends_with(":thumbstack-local-alarms")));
    let outputs = &report["outputs"];
    assert_eq!(outputs["CatalogTableName"], TABLE);
    assert_eq!(outputs["UploadsBucketName"], UPLOADS);
    assert!(outputs.get("ThumbnailFunctionName").is_none(), "the emulator stage has no Lambda functions: {outputs}");

    // Unchanged: no change set kept.
    let again = xtask(endpoint, &["deploy", "local", "--yes", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let report = again.json();
    assert_eq!(report["outcome"], "no_changes");
    assert!(again.stderr.contains("no changes"), "{}", again.stderr);

    // A changed setting: a second alarm e-mail. diff shows it and changes nothing; deploy adds it.
    let infra = infra_copy("update");
    let stage = infra.join("stages/local.yaml");
    edit(&stage, "    - alarms@localhost.invalid\n", "    - alarms@localhost.invalid\n    - oncall@localhost.invalid\n");
    let infra_arg = infra.to_str().unwrap();
    let diff = xtask(endpoint, &["diff", "local", "--infra", infra_arg, "--json"]);
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    let planned = diff.json();
    assert_eq!(planned["outcome"], "planned");
    let adds: Vec<_> =
        planned["changes"].as_array().unwrap().iter().map(|c| (c["action"].as_str(), c["logical_id"].as_str())).collect();
    assert_eq!(adds, [(Some("Add"), Some("AlarmEmail2"))]);
    let update = xtask(endpoint, &["deploy", "local", "--infra", infra_arg, "--json"]);
    assert_eq!(update.code, 0, "{}", update.stderr);
    assert_eq!(
        (update.json()["change_set_type"].as_str(), update.json()["status"].as_str()),
        (Some("UPDATE"), Some("UPDATE_COMPLETE"))
    );

    // Removing it is destructive: CI without --yes refuses (usage error) and changes nothing.
    let refused = xtask(endpoint, &["deploy", "local", "--json"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_eq!(refused.json()["outcome"], "needs_confirmation");
    assert!(refused.stderr.contains("Remove  AlarmEmail2") && refused.stderr.contains("--yes"), "{}", refused.stderr);
    let status = xtask(endpoint, &["status", "local"]);
    assert!(status.stdout.starts_with("thumbstack-local: UPDATE_COMPLETE"), "{}", status.stdout);
    let accepted = xtask(endpoint, &["deploy", "local", "--yes", "--json"]);
    assert_eq!((accepted.code, accepted.json()["outcome"].as_str()), (0, Some("deployed")), "{}", accepted.stderr);

    // The catalog, seeded with rows of known sizes, answered in order.
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sizes = [9_000u64, 1_500, 30_000, 700, 2_200, 18_000, 950, 4_100, 12_000, 640, 3_300, 8_800];
    for (i, size) in sizes.iter().enumerate() {
        let row = row(i, *size);
        dynamodb.put_item().table_name(TABLE).set_item(Some(shared::catalog::to_item(&row))).send().await.unwrap();
    }
    let smallest = xtask(endpoint, &["catalog", "local", "smallest", "-n", "5", "--json"]);
    assert_eq!(smallest.code, 0, "{}", smallest.stderr);
    let got: Vec<u64> = smallest.json().as_array().unwrap().iter().map(|r| r["thumbnail_size"].as_u64().unwrap()).collect();
    assert_eq!(got, [640, 700, 950, 1_500, 2_200]);
    let recent = xtask(endpoint, &["catalog", "local", "recent", "-n", "2", "--json"]);
    let names: Vec<_> = recent.json().as_array().unwrap().iter().map(|r| r["file_name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["photo-11.jpg", "photo-10.jpg"]);
    let table = xtask(endpoint, &["catalog", "local", "smallest", "-n", "2"]);
    expect_test::expect![[r#"
        UPLOAD DATE  TIME      FILE NAME    ORIGINAL BYTES  THUMBNAIL BYTES
        2026-11-10   10:00:09  photo-9.jpg  64000           640
        2026-11-04   10:00:03  photo-3.jpg  70000           700
    "#]]
    .assert_eq(&table.stdout);
    let outputs = xtask(endpoint, &["outputs", "local", "--json"]).json();
    assert_eq!(outputs["AssetsBucketName"], "thumbstack-local-assets-123456789012");
    let no_cdn = xtask(endpoint, &["invalidate", "local"]);
    assert!(no_cdn.code == 1 && no_cdn.stderr.contains("no CloudFront distribution"), "{}", no_cdn.stderr);

    // Teardown meets versioned, non-empty buckets and leaves nothing.
    s3.put_bucket_versioning()
        .bucket(UPLOADS)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for body in ["one", "two"] {
        s3.put_object().bucket(UPLOADS).key("images/a/b.jpg").body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    s3.delete_object().bucket(UPLOADS).key("images/a/b.jpg").send().await.unwrap();
    s3.put_object()
        .bucket("thumbstack-local-logs-123456789012")
        .key("failures/x.json")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let refused = xtask(endpoint, &["teardown", "local"]);
    assert_eq!(refused.code, 2, "teardown in CI without --yes must refuse: {}", refused.stderr);
    let gone = xtask(endpoint, &["teardown", "local", "--yes", "--json"]);
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    let report = gone.json();
    assert_eq!(report["emptied"][UPLOADS], 3, "two versions and a delete marker: {report:#}");
    assert_eq!(report["status"], "DELETE_COMPLETE");
    // What remains is named, with the command that removes it.
    let remains = report["remains"].to_string();
    assert!(remains.contains("thumbstack-local-bootstrap") && remains.contains("teardown local --all"), "{remains}");
    assert!(remains.contains(ARTIFACTS), "{remains}");
    assert_eq!(buckets(&s3).await, [ARTIFACTS]);
    let status = xtask(endpoint, &["status", "local"]);
    assert_eq!(status.stdout.trim(), "thumbstack-local: not deployed");
    let all = xtask(endpoint, &["teardown", "local", "--yes", "--all", "--json"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(all.json()["remains"], serde_json::json!([]), "{}", all.stderr);
    assert!(buckets(&s3).await.is_empty(), "the artifacts bucket held nothing more: {:?}", buckets(&s3).await);
    assert!(stacks(&sdk).await.is_empty(), "{:?}", stacks(&sdk).await);
    let twice = xtask(endpoint, &["teardown", "local", "--yes"]);
    assert!(twice.code == 0 && twice.stderr.contains("nothing to do"), "{}", twice.stderr);
    std::fs::remove_dir_all(infra).unwrap();
}

#[test]
fn a_template_cloudformation_refuses_exits_6_and_says_why() {
    let moto = testkit::Moto::start();
    bootstrap(&moto.endpoint, &[]);
    let infra = infra_copy("broken");
    edit(&infra.join("template.yaml"), "Outputs:\n", "Outputs:\n  Broken:\n    Value: !Ref NoSuchResource\n");
    let run = xtask(&moto.endpoint, &["deploy", "local", "--yes", "--json", "--infra", infra.to_str().unwrap()]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(run.json()["outcome"], "refused");
    assert!(run.stderr.contains("refused the template") && run.stderr.contains("NoSuchResource"), "{}", run.stderr);
    assert!(run.stderr.contains("next:"), "says what to do: {}", run.stderr);
    assert!(!run.stderr.contains("package:"), "refused before the release build: {}", run.stderr);
    std::fs::remove_dir_all(infra).unwrap();
}

/// Each deploy that changes the stack writes a release record; `rollback --to 1` puts release 1's
/// exact template and parameters back through a change set (shown, then confirmed), and records
/// that it did. On `local` the records hold no zips: its functions run in-process.
#[tokio::test(flavor = "multi_thread")]
async fn releases_are_recorded_and_rollback_puts_one_back() {
    let moto = testkit::Moto::start();
    let sdk = moto.sdk_config().await;
    let endpoint = moto.endpoint.as_str();
    bootstrapped_and_deployed(endpoint, &[]);
    let none_new = xtask(endpoint, &["deploy", "local", "--yes", "--json"]);
    assert_eq!(none_new.json()["release"], Value::Null, "an unchanged deploy records nothing: {}", none_new.stderr);
    let infra = infra_copy("releases");
    edit(
        &infra.join("stages/local.yaml"),
        "    - alarms@localhost.invalid\n",
        "    - alarms@localhost.invalid\n    - oncall@localhost.invalid\n",
    );
    let infra_arg = infra.to_str().unwrap();
    let second = xtask(endpoint, &["deploy", "local", "--infra", infra_arg, "--yes", "--json"]);
    assert_eq!((second.code, second.json()["release"].as_u64()), (0, Some(2)), "{}", second.stderr);

    let listed = xtask(endpoint, &["releases", "local", "--json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let records = listed.json();
    let records = records.as_array().unwrap();
    let numbers: Vec<u64> = records.iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [2, 1], "newest first");
    for r in records {
        assert_eq!(r["kind"], "deploy");
        assert_eq!(r["stack"], "thumbstack-local");
        assert!(r["by"].as_str().unwrap().starts_with("arn:aws:"), "{r}");
        assert_eq!(r["parameters"]["Stage"], "local");
        assert!(r["template"]["key"].as_str().unwrap().starts_with("thumbstack-local/templates/"), "{r}");
        assert!(r["commit"].as_str().is_some_and(|c| c.len() == 40), "this is a git checkout: {r}");
    }
    assert_ne!(records[0]["stage_file_sha256"], records[1]["stage_file_sha256"], "the stage file changed");
    assert_ne!(records[0]["template"]["sha256"], records[1]["template"]["sha256"], "the template changed");

    // Back to release 1: the second e-mail goes, which is destructive, so CI needs --yes.
    let refused = xtask(endpoint, &["rollback", "local", "--to", "1", "--json"]);
    assert_eq!((refused.code, refused.json()["outcome"].as_str()), (2, Some("needs_confirmation")), "{}", refused.stderr);
    assert!(refused.stderr.contains("Remove  AlarmEmail2"), "the diff comes first: {}", refused.stderr);
    let back = xtask(endpoint, &["rollback", "local", "--to", "1", "--yes", "--json"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!((back.json()["outcome"].as_str(), back.json()["release"].as_u64()), (Some("deployed"), Some(3)));
    // The stack runs release 1's template again, byte for byte.
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let body = cfn.get_template().stack_name("thumbstack-local").send().await.unwrap().template_body.unwrap_or_default();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    };
    assert_eq!(sha, records[1]["template"]["sha256"].as_str().unwrap());
    // And release 1's parameters (moto keeps the SNS subscriptions of an update loosely, so the
    // template and parameters are what is compared).
    let described = cfn.describe_stacks().stack_name("thumbstack-local").send().await.unwrap();
    // (Those the template defaults are not in the record: the change set never got them.)
    for p in described.stacks()[0].parameters() {
        let key = p.parameter_key().unwrap();
        if let Some(recorded) = records[1]["parameters"][key].as_str() {
            assert_eq!(Some(recorded), p.parameter_value(), "{key}");
        }
    }
    assert_eq!(
        records[1]["parameters"]["PermissionsBoundary"].as_str().map(|b| b.ends_with("thumbstack-local-boundary")),
        Some(true)
    );
    let table = xtask(endpoint, &["releases", "local"]);
    let first_row = table.stdout.lines().nth(1).unwrap_or_default().to_string();
    assert!(first_row.starts_with("3 ") && first_row.contains("rollback to 1"), "{}", table.stdout);
    let again = xtask(endpoint, &["rollback", "local", "--to", "1", "--yes", "--json"]);
    assert_eq!((again.code, again.json()["outcome"].as_str()), (0, Some("no_changes")), "{}", again.stderr);
    assert!(again.stderr.contains("already is release 1"), "{}", again.stderr);
    let missing = xtask(endpoint, &["rollback", "local", "--to", "9"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("there is no release 9; there are 3, 2, 1"), "{}", missing.stderr);
    std::fs::remove_dir_all(infra).unwrap();
}

/// A protected stage (prod) is not torn down by `--yes`: CI cannot type its name, so the run stops
/// with a usage error before any call (the endpoint here answers nothing; any call would fail
/// differently), and names the flag that would.
#[test]
fn teardown_of_a_protected_stage_stops_before_any_call() {
    for args in [&["teardown", "prod"][..], &["teardown", "prod", "--yes"], &["teardown", "prod", "--yes", "--all"]] {
        let run = xtask("http://127.0.0.1:9", args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("prod is a protected stage") && run.stderr.contains("--confirm-protected prod"),
            "{}",
            run.stderr
        );
    }
    let wrong = xtask("http://127.0.0.1:9", &["teardown", "prod", "--confirm-protected", "dev"]);
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert!(wrong.stderr.contains("does not name this stage"), "{}", wrong.stderr);
}

/// Hotswap is refused before any call where it cannot stand in for a deploy: on a protected stage,
/// and on an emulator stage, whose functions run in-process.
#[test]
fn hotswap_is_refused_on_a_protected_or_in_process_stage() {
    let prod = xtask("http://127.0.0.1:9", &["deploy", "prod", "--hotswap", "--yes"]);
    assert_eq!(prod.code, 2, "{}", prod.stderr);
    assert!(prod.stderr.contains("prod is a protected stage: hotswap is refused"), "{}", prod.stderr);
    let local = xtask("http://127.0.0.1:9", &["deploy", "local", "--hotswap"]);
    assert_eq!(local.code, 2, "{}", local.stderr);
    assert!(local.stderr.contains("nothing to hotswap"), "{}", local.stderr);
}

#[test]
fn bad_input_is_a_usage_error() {
    let run = xtask("http://127.0.0.1:9", &["deploy", "nosuchstage"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("stages here: dev, local, prod"), "{}", run.stderr);
    let run = xtask("http://127.0.0.1:9", &["invalidate", "local", "avatars/*"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

fn row(i: usize, thumbnail_size: u64) -> shared::record::CatalogRow {
    shared::record::CatalogRow {
        id: format!("{i:032x}"),
        owner: Some("u1".into()),
        upload_date: format!("2026-11-{:02}", i + 1),
        upload_time: format!("10:00:{i:02}"),
        uploaded_at: format!("2026-11-{:02}T10:00:{i:02}Z", i + 1),
        file_name: format!("photo-{i}.jpg"),
        source_key: format!("images/u1/{i:032x}/photo-{i}.jpg"),
        original_size: thumbnail_size * 100,
        original_width: 4000,
        original_height: 3000,
        original_format: "jpeg".into(),
        thumbnail_key: format!("thumbnails/{i:032x}.jpg"),
        thumbnail_size,
        thumbnail_width: 256,
        thumbnail_height: 192,
        thumbnail_format: "jpeg".into(),
        visibility: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_refuses_while_object_lock_holds_objects() {
    let moto = testkit::Moto::start();
    let s3 = shared::aws::s3_client(&moto.sdk_config().await);
    bootstrapped_and_deployed(&moto.endpoint, &[]);
    let logs = "thumbstack-local-logs-123456789012";
    use aws_sdk_s3::types::{
        BucketVersioningStatus, DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule, VersioningConfiguration,
    };
    let versioning = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning().bucket(logs).versioning_configuration(versioning).send().await.unwrap();
    let retention = DefaultRetention::builder().mode(ObjectLockRetentionMode::Compliance).days(1).build();
    let lock = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(ObjectLockRule::builder().default_retention(retention).build())
        .build();
    s3.put_object_lock_configuration().bucket(logs).object_lock_configuration(lock).send().await.unwrap();
    s3.put_object().bucket(logs).key("failures/held.json").body(b"{}".to_vec().into()).send().await.unwrap();

    let run = xtask(&moto.endpoint, &["teardown", "local", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("object lock holds 1 object version(s) in thumbstack-local-logs"), "{}", run.stderr);
    assert!(run.stderr.contains("the stack was left in place"), "{}", run.stderr);
    let status = xtask(&moto.endpoint, &["status", "local"]);
    assert!(status.stdout.starts_with("thumbstack-local: CREATE_COMPLETE"), "{}", status.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_keeps_what_the_stage_retains_and_says_so() {
    let moto = testkit::Moto::start();
    let s3 = shared::aws::s3_client(&moto.sdk_config().await);
    let infra = infra_copy("retain");
    edit(&infra.join("stages/local.yaml"), "on_delete: delete", "on_delete: retain");
    let infra_arg = infra.to_str().unwrap();
    bootstrapped_and_deployed(&moto.endpoint, &["--infra", infra_arg]);
    s3.put_object().bucket(UPLOADS).key("images/a/keep.jpg").body(b"photo".to_vec().into()).send().await.unwrap();

    let run = xtask(&moto.endpoint, &["teardown", "local", "--yes", "--json", "--infra", infra_arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let retained: Vec<&str> = report["retained"].as_array().unwrap().iter().filter_map(|r| r[0].as_str()).collect();
    for id in ["UploadsBucket", "AssetsBucket", "LogBucket", "CatalogTable", "DataKey"] {
        assert!(retained.contains(&id), "{id} not reported as retained: {retained:?}");
    }
    assert!(report["emptied"].as_object().unwrap().is_empty(), "a retained bucket was emptied: {report:#}");
    let remains = report["remains"].to_string();
    assert!(remains.contains(&format!("{UPLOADS} (AWS::S3::Bucket UploadsBucket), retained")), "{remains}");
    assert!(remains.contains("aws dynamodb delete-table --table-name thumbstack-local-catalog"), "{remains}");
    let kept = s3.get_object().bucket(UPLOADS).key("images/a/keep.jpg").send().await.unwrap();
    assert_eq!(kept.body.collect().await.unwrap().into_bytes().as_ref(), b"photo");
    std::fs::remove_dir_all(infra).unwrap();
}

/// A stage with a CI pipeline: teardown `--all` removes the pipeline stack too (its versioned
/// bucket emptied first), then the bootstrap stack and the emptied artifacts bucket, so nothing of
/// the stage is left. moto cannot run CodePipeline or CodeBuild, so the pipeline stack here holds
/// what would otherwise stay behind: its versioned bucket, its key and its log group.
#[tokio::test(flavor = "multi_thread")]
async fn teardown_all_leaves_no_stack_and_no_bucket_of_the_stage() {
    let moto = testkit::Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = shared::aws::s3_client(&sdk);
    bootstrapped_and_deployed(&moto.endpoint, &[]);
    let pipeline_bucket = "thumbstack-local-pipeline-123456789012";
    let template = format!(
        "Resources:\n  ArtifactBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: {pipeline_bucket}\n      \
         VersioningConfiguration: {{Status: Enabled}}\n  PipelineKey:\n    Type: AWS::KMS::Key\n    Properties:\n      \
         KeyPolicy: {{Version: '2012-10-17', Statement: []}}\n  BuildLogGroup:\n    Type: AWS::Logs::LogGroup\n    \
         Properties:\n      LogGroupName: /aws/codebuild/thumbstack-local-pipeline\n"
    );
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    cfn.create_stack().stack_name("thumbstack-local-pipeline").template_body(template).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(pipeline_bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for body in ["source-1", "source-2"] {
        s3.put_object().bucket(pipeline_bucket).key("source.zip").body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    let run = xtask(&moto.endpoint, &["teardown", "local", "--yes", "--all", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let also: Vec<(&str, bool)> = report["also"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["stack"].as_str().unwrap(), r["existed"].as_bool().unwrap()))
        .collect();
    assert_eq!(also, [("thumbstack-local-pipeline", true), ("thumbstack-local-bootstrap", true)]);
    assert_eq!(report["also"][0]["emptied"][pipeline_bucket], 2, "{report:#}");
    assert!(stacks(&sdk).await.is_empty(), "{:?}", stacks(&sdk).await);
    assert!(buckets(&s3).await.is_empty(), "{:?}", buckets(&s3).await);
    assert!(run.stderr.contains("nothing of thumbstack-local remains"), "{}", run.stderr);
}

/// The templates' resources changed after bootstrap (here: the key alias is new): the execution
/// role may lack what the change needs, so deploy stops before any change set and names the
/// command; after bootstrap again it deploys.
#[test]
fn a_bootstrap_made_from_other_documents_is_named_before_anything_changes() {
    let moto = testkit::Moto::start();
    let older = infra_copy("older-bootstrap");
    edit(
        &older.join("template.yaml"),
        "  DataKeyAlias:\n    Type: AWS::KMS::Alias\n    Properties:\n      AliasName: !Sub \"alias/${AWS::StackName}\"\n      TargetKeyId: !Ref DataKey\n",
        "",
    );
    let run = xtask(&moto.endpoint, &["bootstrap", "local", "--yes", "--infra", older.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stale = xtask(&moto.endpoint, &["deploy", "local", "--yes", "--json"]);
    assert_eq!(stale.code, 2, "{}", stale.stderr);
    assert!(stale.stderr.contains("was made from other IAM documents"), "{}", stale.stderr);
    assert!(
        stale.stderr.contains("Run `cargo xtask bootstrap <stage>` again with administrator credentials"),
        "{}",
        stale.stderr
    );
    assert!(!stale.stderr.contains("change(s)"), "no change set was made: {}", stale.stderr);
    bootstrap(&moto.endpoint, &[]);
    let deployed = xtask(&moto.endpoint, &["deploy", "local", "--yes", "--json"]);
    assert_eq!(deployed.code, 0, "{}", deployed.stderr);
    std::fs::remove_dir_all(older).unwrap();
}

/// `failures <stage>`: the on-call's list of every rejected upload, from the log bucket, newest
/// first; an object there that is not a record is named, not skipped in silence.
#[tokio::test(flavor = "multi_thread")]
async fn failures_lists_the_records_newest_first() {
    let moto = testkit::Moto::start();
    let s3 = shared::aws::s3_client(&moto.sdk_config().await);
    bootstrapped_and_deployed(&moto.endpoint, &[]);
    let none = xtask(&moto.endpoint, &["failures", "local"]);
    assert!(none.code == 0 && none.stderr.contains("failures: none recorded since"), "{}", none.stderr);
    let logs = "thumbstack-local-logs-123456789012";
    for (id, at, code) in [("a1", "2026-11-30T10:00:00Z", "not_an_image"), ("b2", "2026-12-01T09:00:00Z", "over_memory_budget")] {
        let record = shared::record::FailureRecord {
            function: "thumbnail".into(),
            owner: Some("u1".into()),
            bucket: UPLOADS.into(),
            key: format!("images/u1/{id}/photo.jpg"),
            file_name: Some("photo.jpg".into()),
            size: Some(1234),
            code: code.into(),
            reason: format!("{code}: because"),
            uploaded_at: at.into(),
            recorded_at: at.into(),
        };
        let body = serde_json::to_vec(&record).unwrap();
        s3.put_object()
            .bucket(logs)
            .key(format!("failures/users/u1/2026/12/01/{id}.json"))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    s3.put_object().bucket(logs).key("failures/stray.txt").body(b"not json".to_vec().into()).send().await.unwrap();
    let run = xtask(&moto.endpoint, &["failures", "local", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let codes: Vec<String> = run.json().as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect();
    assert_eq!(codes, ["over_memory_budget", "not_an_image"], "newest first");
    assert!(run.stderr.contains("failures/stray.txt is not a failure record"), "{}", run.stderr);
    let table = xtask(&moto.endpoint, &["failures", "local", "--since", "1h"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with("RECORDED") && table.stdout.contains("images/u1/b2/photo.jpg"), "{}", table.stdout);
}
