//! `bootstrap --build-info`: what `cargo xtask package` asks of every binary before zipping it,
//! because some facts about a build are only true of the linked code. The one that matters:
//! `mozjpeg-sys` builds libjpeg-turbo without SIMD when `nasm` is missing, silently, and JPEG
//! decoding is then several times slower. Lambda never passes arguments to `bootstrap`.

use serde::{Deserialize, Serialize};

pub const FLAG: &str = "--build-info";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// `std::env::consts::ARCH` of the running binary (under qemu for a cross build).
    pub arch: String,
    /// Whether libjpeg-turbo's SIMD IDCTs are compiled in; `None` in a binary without a JPEG decoder.
    pub jpeg_simd: Option<bool>,
}

/// Prints the build's facts and exits when `bootstrap` was started with [`FLAG`]; otherwise
/// returns at once. The first line of every function's `main`.
pub fn answer_if_asked(jpeg_simd: impl FnOnce() -> Option<bool>) {
    if std::env::args().nth(1).as_deref() == Some(FLAG) {
        let info = BuildInfo { arch: std::env::consts::ARCH.to_string(), jpeg_simd: jpeg_simd() };
        println!("{}", serde_json::to_string(&info).unwrap_or_default());
        std::process::exit(0);
    }
}
