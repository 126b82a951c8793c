//! Test harness for everything that talks to AWS: a moto server (pinned, installed into
//! `target/tools` by `dev/scripts/install-tools.sh`) on a free 127.0.0.1 port, and SDK configuration
//! with fake credentials pointed at it. Real AWS is never reachable from a test.

pub mod faults;
pub mod form;
pub mod queue;
pub mod resign;
pub mod stand_in;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

pub use local_spec::repo_root;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

/// The repository's image corpus (`tests/corpus`): photos, variants and hostile files, each
/// folder with its MANIFEST.
pub fn corpus() -> PathBuf {
    repo_root().join("tests/corpus")
}

/// `function`'s environment from the rendered `dev` stage (`xtask/tests/golden/dev`, which the
/// golden tests keep equal to what `render` writes): parameters from its parameter file, resources
/// through `resource`. Tests run off AWS, so the template's `RunsOnAws` is false: nothing stands
/// in front of the api to add CloudFront's origin header.
pub fn function_env(function: &str, resource: impl Fn(&str) -> Option<String>) -> std::collections::BTreeMap<String, String> {
    let golden = repo_root().join("xtask/tests/golden/dev");
    let template = std::fs::read_to_string(golden.join("template.yaml")).expect("the rendered dev template");
    let parameters: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden.join("parameters.json")).expect("its parameters")).expect("JSON");
    local_spec::function_env(&template, function, |name| {
        if name == "RunsOnAws" {
            return Some("false".into());
        }
        parameters["Parameters"][name].as_str().map(String::from).or_else(|| resource(name))
    })
    .unwrap_or_else(|e| panic!("{function}'s environment: {e}"))
}

pub fn corpus_file(rel: &str) -> Vec<u8> {
    let path = corpus().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A running moto server, stopped when dropped.
pub struct Moto {
    pub endpoint: String,
    child: Child,
    /// `target/tools/moto-<port>.log`: its stderr.
    log: std::path::PathBuf,
}

impl Moto {
    pub fn start() -> Moto {
        let root = repo_root();
        let status = Command::new("bash")
            .arg(root.join("dev/scripts/install-tools.sh"))
            .arg("moto")
            .status()
            .expect("running install-tools.sh");
        assert!(status.success(), "dev/scripts/install-tools.sh moto failed");
        let bin = target_dir().join("tools/moto/bin/moto_server");
        for _ in 0..3 {
            let port = free_port();
            let log_path = target_dir().join(format!("tools/moto-{port}.log"));
            let log = std::fs::File::create(&log_path).expect("moto log file");
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            if wait_for_port(port, &mut child) {
                return Moto { endpoint: format!("http://127.0.0.1:{port}"), child, log: log_path };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto server did not start; see target/tools/moto-*.log");
    }

    /// SDK configuration for the emulator: fixed fake credentials, us-east-1, our endpoint.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "testkit"))
            .load()
            .await
    }
}

impl Drop for Moto {
    /// Stops moto; its log stays only when the test is failing (it is what to read then), so
    /// passing runs leave no file per test behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

fn wait_for_port(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
