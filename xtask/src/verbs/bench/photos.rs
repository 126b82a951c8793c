//! The corpus photos, grouped by size as the targets are: small under 2 MP, medium 2–8 MP, large
//! over 8 MP (sizes from the `name_WxH.ext` file names, which the MANIFEST also gives); and by class,
//! since a progressive JPEG costs every decoder several times a baseline one. Each JPEG gets a
//! twin of the other class, made losslessly by `jpegtran` (Debian's libjpeg-turbo-progs), so
//! both classes hold the same pictures.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Small,
    Medium,
    Large,
    Hostile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Baseline,
    Progressive,
    Webp,
    Png,
    /// The hostile files: whatever they claim to be.
    Other,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Baseline => "baseline",
            Class::Progressive => "progressive",
            Class::Webp => "webp",
            Class::Png => "png",
            Class::Other => "other",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Photo {
    pub path: PathBuf,
    pub name: String,
    pub megapixels: f64,
    pub group: Group,
    pub class: Class,
}

/// Every photo, or with `quick` the largest of each group (so the peak RSS of the largest photo
/// is still measured).
pub fn select(quick: bool) -> Result<Vec<Photo>> {
    let dir = crate::paths::corpus().join("photos");
    let mut photos = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {} (the shared corpus)", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.ends_with(".tsv") || name.ends_with(".md") {
            continue;
        }
        let Some((w, h)) = dimensions(&name) else { bail!("{name}: expected a name like `photo_4000x3000.jpg`") };
        let megapixels = f64::from(w) * f64::from(h) / 1e6;
        let group = match megapixels {
            m if m < 2.0 => Group::Small,
            m if m <= 8.0 => Group::Medium,
            _ => Group::Large,
        };
        let class = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("webp") => Class::Webp,
            Some("png") => Class::Png,
            _ => Class::Other, // a JPEG: `with_twins` reads which kind
        };
        photos.push(Photo { path, name, megapixels, group, class });
    }
    if photos.is_empty() {
        bail!("no photos in {}", dir.display());
    }
    photos.sort_by(|a, b| (a.group, &a.name).cmp(&(b.group, &b.name)));
    if quick {
        let mut largest: Vec<Photo> = Vec::new();
        for photo in photos {
            match largest.iter_mut().find(|p| p.group == photo.group) {
                Some(p) if p.megapixels < photo.megapixels => *p = photo,
                Some(_) => {}
                None => largest.push(photo),
            }
        }
        photos = largest;
    }
    Ok(photos)
}

/// The hostile files, to measure the worst one's peak RSS (each must be refused, cheaply).
pub fn hostile() -> Result<Vec<Photo>> {
    let dir = crate::paths::corpus().join("hostile");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.ends_with(".tsv") {
            continue;
        }
        files.push(Photo { path, name, megapixels: 0.0, group: Group::Hostile, class: Class::Other });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Every photo, each JPEG classed by its frame (`rdjpgcom -verbose`) and followed by its twin of
/// the other class, written once into `dir` (`l1_bridge-baseline_4352x2448.jpg`).
pub fn with_twins(photos: Vec<Photo>, dir: &Path) -> Result<Vec<Photo>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut all = Vec::new();
    for mut photo in photos {
        if photo.class != Class::Other {
            all.push(photo);
            continue;
        }
        photo.class = jpeg_class(&photo.path)?;
        let twin_class = if photo.class == Class::Progressive { Class::Baseline } else { Class::Progressive };
        let name = twin_name(&photo.name, twin_class).with_context(|| format!("{}: not a `name_WxH.jpg`", photo.name))?;
        let path = dir.join(&name);
        if !path.is_file() {
            let partial = dir.join(format!(".{name}.partial"));
            let mut jpegtran = Command::new("jpegtran");
            jpegtran.args(["-copy", "all", "-optimize"]);
            if twin_class == Class::Progressive {
                jpegtran.arg("-progressive");
            }
            super::stdout_of(jpegtran.arg("-outfile").arg(&partial).arg(&photo.path))
                .context("making a twin with jpegtran (Debian's libjpeg-turbo-progs; dev/scripts/install-bench.sh)")?;
            std::fs::rename(&partial, &path)?;
        }
        let made = jpeg_class(&path)?;
        if made != twin_class {
            bail!("{}: jpegtran wrote a {} JPEG, not {}", path.display(), made.name(), twin_class.name());
        }
        let twin = Photo { path, name, class: twin_class, ..photo.clone() };
        all.extend([photo, twin]);
    }
    Ok(all)
}

fn jpeg_class(path: &Path) -> Result<Class> {
    let verbose = super::stdout_of(Command::new("rdjpgcom").arg("-verbose").arg(path))
        .context("reading a JPEG's frame with rdjpgcom (Debian's libjpeg-turbo-progs; dev/scripts/install-bench.sh)")?;
    class_of(&verbose).with_context(|| format!("{}: rdjpgcom printed no `JPEG process`:\n{verbose}", path.display()))
}

/// `JPEG process: Progressive` (or `Baseline`, `Extended sequential`, …) from `rdjpgcom -verbose`.
fn class_of(rdjpgcom: &str) -> Option<Class> {
    let process = rdjpgcom.lines().find_map(|l| l.strip_prefix("JPEG process: "))?;
    Some(if process.trim() == "Progressive" { Class::Progressive } else { Class::Baseline })
}

/// `l1_bridge_4352x2448.jpg` → `l1_bridge-baseline_4352x2448.jpg`: the size stays last.
fn twin_name(name: &str, class: Class) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    let (label, size) = stem.rsplit_once('_')?;
    Some(format!("{label}-{}_{size}.{ext}", class.name()))
}

fn dimensions(name: &str) -> Option<(u32, u32)> {
    let stem = name.rsplit_once('.')?.0;
    let (w, h) = stem.rsplit_once('_')?.1.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::Class;

    #[test]
    fn twins_are_named_and_classed() {
        assert_eq!(
            super::twin_name("l1_bridge_4352x2448.jpg", Class::Baseline).as_deref(),
            Some("l1_bridge-baseline_4352x2448.jpg")
        );
        assert_eq!(super::dimensions("l1_bridge-baseline_4352x2448.jpg"), Some((4352, 2448)));
        let progressive = "JPEG image is 1365w * 1074h, 3 color components, 8 bits per sample\nJPEG process: Progressive\n";
        assert_eq!(super::class_of(progressive), Some(Class::Progressive));
        assert_eq!(super::class_of("JPEG process: Baseline\n"), Some(Class::Baseline));
        assert_eq!(super::class_of("JPEG process: Extended sequential\n"), Some(Class::Baseline));
        assert_eq!(super::class_of("Not a JPEG file"), None);
    }

    #[test]
    fn groups_and_quick_selection() {
        assert_eq!(super::dimensions("l5_kleiber_6028x3391.jpg"), Some((6028, 3391)));
        assert_eq!(super::dimensions("text.jpg"), None);
        let all = super::select(false).unwrap();
        let quick = super::select(true).unwrap();
        assert_eq!(quick.len(), 3, "one photo per group");
        for q in &quick {
            let biggest = all.iter().filter(|p| p.group == q.group).map(|p| p.megapixels).fold(0.0, f64::max);
            assert_eq!(q.megapixels, biggest, "{} is the largest of its group", q.name);
        }
    }
}
