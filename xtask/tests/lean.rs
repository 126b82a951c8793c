//! The build is no heavier than the product: the deployer links no handler, codec or Lambda
//! runtime; the api links neither the imaging core nor SNS; the fuzz targets build no AWS SDK;
//! the local runtime links no test harness.

use std::process::Command;

/// The registry and path package names in `package`'s normal and build dependency tree.
fn tree(package: &str) -> Vec<String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(testkit::repo_root())
        .args(["tree", "--locked", "--prefix", "none", "--format", "{p}", "--edges", "normal,build", "--package", package])
        .output()
        .expect("running cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next().map(String::from)).collect();
    names.sort();
    names.dedup();
    names
}

fn assert_lacks(package: &str, unwanted: &[&str]) {
    let names = tree(package);
    assert!(names.len() > 3, "{package}: cargo tree listed almost nothing: {names:?}");
    let found: Vec<&&str> = unwanted.iter().filter(|u| names.iter().any(|n| n == *u)).collect();
    assert!(found.is_empty(), "{package} depends on {found:?}");
}

#[test]
fn xtask_links_no_handler_codec_or_lambda_runtime() {
    let codecs = ["mozjpeg-sys", "mozjpeg", "imaging", "image", "jpeg-decoder", "png", "image-webp"];
    let handlers = ["lambda_runtime", "thumbnail", "avatar", "api", "worker", "tiny_http"];
    assert_lacks("xtask", &[&codecs[..], &handlers[..]].concat());
}

#[test]
fn the_api_links_neither_imaging_nor_sns() {
    assert_lacks("api", &["imaging", "worker", "aws-sdk-sns", "mozjpeg-sys"]);
}

/// The pre-traffic hook asks the new version; it renders and sends nothing itself.
#[test]
fn the_hook_links_neither_imaging_nor_the_worker() {
    assert_lacks("hook", &["imaging", "worker", "mozjpeg-sys", "aws-sdk-sns"]);
}

#[test]
fn the_fuzz_targets_build_no_aws_sdk() {
    let names = tree("thumbstack-fuzz");
    assert!(names.iter().any(|n| n == "imaging"), "{names:?}");
    let sdk: Vec<&String> = names.iter().filter(|n| n.starts_with("aws-")).collect();
    assert!(sdk.is_empty(), "the fuzz build compiles {sdk:?}");
}

/// The local runtime is what `cargo xtask local` ships to a laptop: no test harness in it. The
/// bench and the fault-accounting test bring testkit themselves.
#[test]
fn the_local_runtime_links_no_test_harness() {
    assert_lacks("thumbstack-local", &["testkit"]);
}

/// The bench's Rust worker is timed against the peers: it carries the imaging core and nothing
/// else, so its release build is the functions' own image path.
#[test]
fn the_bench_worker_links_the_imaging_core_alone() {
    let names = tree("bench-worker");
    assert!(names.iter().any(|n| n == "imaging"), "{names:?}");
    assert_lacks("bench-worker", &["aws-config", "testkit", "worker", "shared", "tokio"]);
}
