//! `bootstrap --build-info`, as `cargo xtask package` runs it before zipping: this build's
//! libjpeg-turbo has its SIMD (the README's test command installs nasm first).

#[test]
fn the_binary_reports_its_architecture_and_a_simd_jpeg_decoder() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbnail"))
        .arg(shared::build_info::FLAG)
        .env_clear()
        .output()
        .expect("running the thumbnail binary");
    assert!(out.status.success(), "{out:?}");
    let info: shared::build_info::BuildInfo = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(info.arch, std::env::consts::ARCH);
    assert_eq!(info.jpeg_simd, Some(true), "libjpeg-turbo without SIMD: was nasm installed when mozjpeg-sys built?");
}
