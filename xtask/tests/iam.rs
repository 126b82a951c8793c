//! The deploy policy on moto with IAM enforced (`/moto-api/reset-auth`): a user holding exactly
//! the deploy policy's actions deploys the `local` stage and tears it down, and cannot write IAM.
//!
//! What moto can and cannot show: it checks each request's action against the caller's policies,
//! but it matches resources for S3 only and never evaluates a condition (an allow with one counts
//! as a deny there). So the user here holds the deploy policy's actions on `*`, without
//! conditions: the test proves the actions are enough to deploy and that no IAM write is among
//! them. The resources and conditions are checked as documents (`policy::tests`) and linted by
//! parliament and cloudsplaining (`render --check`). The execution role's boundary condition
//! cannot be shown here at all: moto's CloudFormation creates resources without asking IAM.
//! And moto checks signatures against form bodies as Python encodes them, so xtask talks to it
//! through `testkit::resign`, whose doc says why.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const EXECUTION_ROLE: &str = "thumbstack-local-cfn-exec";

fn xtask(endpoint: &str, credentials: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).env("THUMBSTACK_ENDPOINT", endpoint).env("CI", "true").stdin(Stdio::null());
    if let Some(c) = credentials {
        cmd.env("THUMBSTACK_EMULATOR_CREDENTIALS", c);
    }
    let out = cmd.output().expect("running xtask");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// From here on moto authenticates and authorizes every request.
fn enforce_iam(endpoint: &str) {
    let authority = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(stream, "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 1\r\nConnection: close\r\n\r\n0")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"ok\""), "{answer}");
}

/// Where moto names an action other than IAM does: it asks for `s3:HeadBucket`, which AWS
/// authorizes as `s3:ListBucket`.
const MOTO_NAMES: [(&str, &str); 1] = [("s3:ListBucket", "s3:HeadBucket")];

/// The deploy policy as moto can hold it: its actions (and moto's names for them), on `*`,
/// without conditions.
fn as_moto_evaluates(policy: &Value) -> Value {
    let statements: Vec<Value> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .map(|s| {
            let mut actions: Vec<&str> = s["Action"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
            actions.extend(MOTO_NAMES.iter().filter(|(aws, _)| actions.contains(aws)).map(|(_, moto)| *moto).collect::<Vec<_>>());
            json!({ "Effect": "Allow", "Action": actions, "Resource": "*" })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

fn denied<T, E: std::fmt::Debug>(result: Result<T, E>, what: &str) {
    match result {
        Ok(_) => panic!("{what} was allowed"),
        Err(e) => {
            let e = format!("{e:?}");
            assert!(e.contains("AccessDenied"), "{what}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_policy_deploys_and_tears_down_the_stage_and_writes_no_iam() {
    let moto = testkit::Moto::start();
    let endpoint = moto.endpoint.as_str();
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);

    // An administrator bootstraps the stage and makes the CI user.
    let (code, _, err) = xtask(endpoint, None, &["bootstrap", "local", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = xtask(endpoint, None, &["policy", "local", "--json"]);
    assert_eq!(code, 0, "{err}");
    let policy: Value = serde_json::from_str(&out).unwrap();
    iam.create_user().user_name("ci").send().await.unwrap();
    iam.put_user_policy()
        .user_name("ci")
        .policy_name("deploy")
        .policy_document(as_moto_evaluates(&policy).to_string())
        .send()
        .await
        .unwrap();
    let key = iam.create_access_key().user_name("ci").send().await.unwrap();
    let key = key.access_key().unwrap();
    let credentials = format!("{}:{}", key.access_key_id(), key.secret_access_key());

    let secrets = [(key.access_key_id().to_string(), key.secret_access_key().to_string())].into();
    let resigner = testkit::resign::Resigner::start(endpoint, secrets);
    enforce_iam(endpoint);
    // The fixed fake credentials are nobody's: refused now.
    let (code, _, err) = xtask(endpoint, None, &["deploy", "local", "--yes"]);
    assert_ne!(code, 0, "moto is not enforcing IAM: {err}");

    // The CI user deploys the stage (twice: the second finds nothing to change).
    for outcome in ["deployed", "no_changes"] {
        let (code, out, err) = xtask(&resigner.endpoint, Some(&credentials), &["deploy", "local", "--yes", "--json"]);
        assert_eq!(code, 0, "the deploy policy lacks an action deploy calls:\n{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["outcome"], outcome, "{err}");
    }

    // It tears the stage down too (as the execution role), and leaves what an administrator made.
    let (code, out, err) = xtask(&resigner.endpoint, Some(&credentials), &["teardown", "local", "--yes", "--json"]);
    assert_eq!(code, 0, "the deploy policy lacks an action teardown calls:\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "DELETE_COMPLETE", "{err}");
    assert!(report["remains"].to_string().contains("thumbstack-local-bootstrap"), "{report:#}");

    // And it can make no role, and change none: not the execution role, not a stack's role.
    let ci = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&sdk)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                key.access_key_id(),
                key.secret_access_key(),
                None,
                None,
                "ci",
            ))
            .build(),
    );
    let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    denied(
        ci.put_role_policy().role_name(EXECUTION_ROLE).policy_name("x").policy_document(admin).send().await,
        "PutRolePolicy on the execution role",
    );
    denied(
        ci.put_role_policy().role_name("thumbstack-local-ThumbnailRole-X").policy_name("x").policy_document(admin).send().await,
        "PutRolePolicy on a stack role",
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}"#;
    denied(
        ci.create_role().role_name("thumbstack-local-x").assume_role_policy_document(trust).send().await,
        "CreateRole without the boundary",
    );
    denied(
        ci.update_assume_role_policy().role_name(EXECUTION_ROLE).policy_document(trust).send().await,
        "UpdateAssumeRolePolicy",
    );
    denied(
        ci.attach_user_policy().user_name("ci").policy_arn("arn:aws:iam::aws:policy/AdministratorAccess").send().await,
        "AttachUserPolicy",
    );
}
