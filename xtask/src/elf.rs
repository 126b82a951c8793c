//! What a Lambda `bootstrap` needs from the machine it runs on: its architecture and the newest
//! GLIBC symbol version it links against (`provided.al2023` ships glibc 2.34).

use std::fmt;

use anyhow::{Context, Result, bail};
use object::read::elf::{ElfFile64, FileHeader};
use object::{Endianness, elf};

/// `GLIBC_<major>.<minor>[.<patch>]`, ordered numerically (2.4 < 2.34).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlibcVersion(pub u32, pub u32, pub u32);

/// What Lambda's `provided.al2023` runtime offers.
pub const LAMBDA_GLIBC: GlibcVersion = GlibcVersion(2, 34, 0);

impl GlibcVersion {
    pub fn parse(symbol_version: &str) -> Option<GlibcVersion> {
        let mut parts = symbol_version.strip_prefix("GLIBC_")?.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().unwrap_or(Some(0))?;
        let patch = parts.next().unwrap_or(Some(0))?;
        parts.next().is_none().then_some(GlibcVersion(major, minor, patch))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlibcVersion(major, minor, 0) => write!(f, "{major}.{minor}"),
            GlibcVersion(major, minor, patch) => write!(f, "{major}.{minor}.{patch}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub architecture: &'static str,
    /// `None` for a binary that needs no versioned glibc symbol (static, or musl).
    pub max_glibc: Option<GlibcVersion>,
}

pub fn inspect(data: &[u8]) -> Result<Binary> {
    let file = ElfFile64::<Endianness>::parse(data).context("not a 64-bit ELF executable")?;
    let endian = file.endian();
    let architecture = match file.elf_header().e_machine(endian) {
        elf::EM_X86_64 => "x86_64",
        elf::EM_AARCH64 => "arm64",
        other => bail!("unsupported ELF machine {other}: Lambda runs x86_64 and arm64"),
    };
    let sections = file.elf_section_table();
    let mut max_glibc = None;
    // The index returned is the verneed section's link: its string table.
    if let Some((mut needs, strings_index)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, strings_index)?;
        while let Some((_, mut aux)) = needs.next()? {
            while let Some(entry) = aux.next()? {
                let name = String::from_utf8_lossy(entry.name(endian, strings)?);
                max_glibc = max_glibc.max(GlibcVersion::parse(&name));
            }
        }
    }
    Ok(Binary { architecture, max_glibc })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        let v = |s| GlibcVersion::parse(s).unwrap();
        assert!(v("GLIBC_2.4") < v("GLIBC_2.34"));
        assert!(v("GLIBC_2.2.5") < v("GLIBC_2.3"));
        assert!(v("GLIBC_2.35") > LAMBDA_GLIBC);
        assert_eq!(v("GLIBC_2.34"), LAMBDA_GLIBC);
        assert_eq!(v("GLIBC_2.2.5").to_string(), "2.2.5");
        for bad in ["GLIBC_PRIVATE", "GCC_3.0", "GLIBC_2.x", "GLIBC_2.1.2.3"] {
            assert_eq!(GlibcVersion::parse(bad), None, "{bad}");
        }
    }

    /// This test binary is itself a glibc executable for the build machine.
    #[test]
    fn reads_this_test_binary() {
        let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let binary = inspect(&data).unwrap();
        assert_eq!(binary.architecture, if cfg!(target_arch = "x86_64") { "x86_64" } else { "arm64" });
        assert!(binary.max_glibc.is_some_and(|v| v >= GlibcVersion(2, 2, 5)), "{binary:?}");
    }

    #[test]
    fn refuses_what_is_not_an_executable() {
        assert!(inspect(b"#!/bin/sh\necho hi\n").is_err());
        assert!(inspect(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]).is_err());
    }
}
