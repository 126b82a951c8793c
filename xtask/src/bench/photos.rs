//! The corpus photos, grouped by size as the targets are: small < 2 MP, medium 2–8 MP,
//! large > 8 MP (sizes from the `name_WxH.ext` file names, which the MANIFEST also gives).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Small,
    Medium,
    Large,
    Hostile,
}

#[derive(Debug, Clone)]
pub struct Photo {
    pub path: PathBuf,
    pub name: String,
    pub megapixels: f64,
    pub group: Group,
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
        photos.push(Photo { path, name, megapixels, group });
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
        files.push(Photo { path, name, megapixels: 0.0, group: Group::Hostile });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn dimensions(name: &str) -> Option<(u32, u32)> {
    let stem = name.rsplit_once('.')?.0;
    let (w, h) = stem.rsplit_once('_')?.1.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

#[cfg(test)]
mod tests {
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
