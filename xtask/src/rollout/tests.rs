//! moto has no CodeDeploy, so a stand-in answers as CodeDeploy's JSON API does, with answers shaped
//! like its recorded ones: one deployment group with its three alarms, one deployment, and that
//! deployment's statuses in turn.

use std::sync::Mutex;

use super::*;

const GROUP: &str = "thumbstack-prod-thumbnail";
const ALARMS: [&str; 3] = [
    "thumbstack-prod-thumbnail-new-version-errors",
    "thumbstack-prod-thumbnail-dead-letters-growing",
    "thumbstack-prod-thumbnail-new-version-rejections",
];

/// Serves CodeDeploy's answers; `GetDeployment` answers `statuses` in turn, then the last again.
fn codedeploy(statuses: Vec<serde_json::Value>) -> String {
    let calls = Mutex::new(0usize);
    testkit::stand_in::serve(move |request| {
        let target = request.header("x-amz-target").and_then(|t| t.strip_prefix("CodeDeploy_20141006.")).unwrap_or("");
        let answer = match target {
            "ListDeploymentGroups" => serde_json::json!({ "applicationName": "thumbstack-prod", "deploymentGroups": [GROUP] }),
            "GetDeploymentGroup" => serde_json::json!({ "deploymentGroupInfo": {
                "applicationName": "thumbstack-prod", "deploymentGroupName": GROUP,
                "alarmConfiguration": { "enabled": true, "alarms": ALARMS.map(|a| serde_json::json!({ "name": a })) }
            }}),
            "ListDeployments" => serde_json::json!({ "deployments": ["d-ABCDEF123"] }),
            "GetDeployment" => {
                let mut n = calls.lock().unwrap();
                let status = statuses[(*n).min(statuses.len() - 1)].clone();
                *n += 1;
                serde_json::json!({ "deploymentInfo": status })
            }
            other => serde_json::json!({ "__type": "UnknownOperationException", "message": other }),
        };
        testkit::stand_in::Answer {
            status: "200 OK",
            content_type: "application/x-amz-json-1.1",
            body: answer.to_string(),
            ..Default::default()
        }
    })
}

fn status(status: &str) -> serde_json::Value {
    serde_json::json!({ "deploymentId": "d-ABCDEF123", "applicationName": "thumbstack-prod", "deploymentGroupName": GROUP, "status": status })
}

fn failed(status: &str, code: &str, message: &str) -> serde_json::Value {
    let mut info = self::status(status);
    info["errorInformation"] = serde_json::json!({ "code": code, "message": message });
    info["rollbackInfo"] =
        serde_json::json!({ "rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "Deployment rolled back" });
    info
}

/// The change set ends after `apply_for`; the rollouts are followed until they end, or `grace` later.
async fn watched(statuses: Vec<serde_json::Value>, apply_for: Duration, grace: Duration) -> Vec<Followed> {
    let endpoint = codedeploy(statuses);
    let sdk = shared::aws::emulator_config("eu-west-1", &endpoint).await;
    let client = Client::new(&sdk);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let since = aws_sdk_codedeploy::primitives::DateTime::from_secs(0);
    let poll = Duration::from_millis(20);
    let applying = async {
        tokio::time::sleep(apply_for).await;
        let _ = tx.send(true);
    };
    let (followed, ()) = tokio::join!(watch(&client, "thumbstack-prod", since, poll, grace, rx), applying);
    followed.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_that_takes_all_the_traffic_succeeds() {
    let followed =
        watched(vec![status("InProgress"), status("InProgress"), status("Succeeded")], Duration::from_millis(100), GRACE).await;
    assert_eq!(followed.len(), 1);
    assert_eq!((followed[0].group.as_str(), followed[0].deployment_id.as_str()), (GROUP, "d-ABCDEF123"));
    assert_eq!(followed[0].outcome, Outcome::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_an_alarm_stops_names_the_alarm() {
    let message = format!(
        "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected \
         deployments have been stopped. Activated alarms: <{}>",
        ALARMS[2]
    );
    let followed =
        watched(vec![status("InProgress"), failed("Stopped", "ALARM_ACTIVE", &message)], Duration::from_millis(50), GRACE).await;
    assert_eq!(followed[0].outcome, Outcome::RolledBack { why: format!("the alarm {} fired", ALARMS[2]) });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_the_hook_refuses_says_so() {
    let message =
        "The deployment failed because a lifecycle event hook (BeforeAllowTraffic) failed: the new version refused a good photo";
    let followed = watched(
        vec![status("InProgress"), failed("Failed", "HOOK_EXECUTION_FAILURE", message)],
        Duration::from_millis(50),
        GRACE,
    )
    .await;
    let Outcome::RolledBack { why } = &followed[0].outcome else { panic!("{:?}", followed[0]) };
    assert!(why.starts_with("the pre-traffic hook failed: ") && why.contains("BeforeAllowTraffic"), "{why}");
}

/// A rollout still running well after the change set ended is reported as such, not waited on forever.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_still_running_after_the_grace_period_is_a_timeout() {
    let started = Instant::now();
    let followed = watched(vec![status("InProgress")], Duration::from_millis(50), Duration::from_millis(300)).await;
    assert_eq!(followed[0].outcome, Outcome::TimedOut { status: "InProgress".into() });
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}
