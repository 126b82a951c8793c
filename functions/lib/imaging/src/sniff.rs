use serde::{Deserialize, Serialize};

use crate::Rejection;

/// An accepted input format, known from the bytes alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Gif,
}

impl Format {
    /// Every format the core decodes.
    pub const ALL: [Format; 4] = [Format::Jpeg, Format::Png, Format::Webp, Format::Gif];

    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Webp => "WebP",
            Format::Gif => "GIF",
        }
    }
}

/// Tells the real format from the leading bytes; the file name and declared type are never trusted.
/// Recognisable formats we refuse are named in the rejection so the user knows what they sent.
pub fn sniff(bytes: &[u8]) -> Result<Format, Rejection> {
    let b = bytes;
    if b.is_empty() {
        return Err(Rejection::Empty);
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Ok(Format::Gif);
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Ok(Format::Webp);
    }
    if let Some(kind) = iso_bmff_kind(b) {
        return Err(Rejection::Unsupported(kind));
    }
    let unsupported = [
        (&b"%PDF-"[..], "PDF"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (b"BM", "BMP"),
        (b"8BPS", "Photoshop (PSD)"),
        (b"\0\0\x01\0", "ICO"),
        (b"\xFF\x0A", "JPEG XL"),
        (b"\0\0\0\x0CJXL ", "JPEG XL"),
        (b"\0\0\0\x0CjP  ", "JPEG 2000"),
        (b"qoif", "QOI"),
    ];
    if let Some((_, name)) = unsupported.iter().find(|(magic, _)| b.starts_with(magic)) {
        return Err(Rejection::Unsupported(name));
    }
    if let Some(kind) = markup_kind(b) {
        return Err(Rejection::Unsupported(kind));
    }
    if looks_like_text(b) {
        return Err(Rejection::NotAnImage("plain text"));
    }
    Err(Rejection::NotAnImage("unrecognised binary data"))
}

/// HEIF-family files: an `ftyp` box whose major or compatible brands name the codec.
fn iso_bmff_kind(b: &[u8]) -> Option<&'static str> {
    if b.len() < 16 || &b[4..8] != b"ftyp" {
        return None;
    }
    let box_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let end = box_len.clamp(16, b.len().min(256));
    // Major brand at 8..12, minor version at 12..16, compatible brands after.
    let brands = std::iter::once(&b[8..12]).chain(b[16..end].chunks_exact(4));
    let mut heif = false;
    for brand in brands {
        match brand {
            b"avif" | b"avis" => return Some("AVIF"),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => heif = true,
            b"mif1" | b"msf1" => heif = true,
            _ => {}
        }
    }
    heif.then_some("HEIC")
}

fn markup_kind(b: &[u8]) -> Option<&'static str> {
    let head = &b[..b.len().min(1024)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start();
    if !text.starts_with('<') {
        return None;
    }
    if text.contains("<svg") {
        Some("SVG")
    } else if text.contains("<html") || text.starts_with("<!doctype html") {
        Some("HTML")
    } else if text.starts_with("<?xml") {
        Some("XML")
    } else {
        None
    }
}

fn looks_like_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(512)];
    // Allow a multi-byte character cut at the end of the window.
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.valid_up_to() + 4 > head.len() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        Err(_) => return false,
    };
    !valid.is_empty() && valid.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_magic() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Ok(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Ok(Format::Png));
        assert_eq!(sniff(b"GIF89a...."), Ok(Format::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(Format::Webp));
    }

    #[test]
    fn named_rejections() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(sniff(heic), Err(Rejection::Unsupported("HEIC")));
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";
        assert_eq!(sniff(avif), Err(Rejection::Unsupported("AVIF")));
        let avif_minor = b"\0\0\0\x1cftypmif1\0\0\0\0mif1avifmiaf";
        assert_eq!(sniff(avif_minor), Err(Rejection::Unsupported("AVIF")));
        assert_eq!(sniff(b"%PDF-1.7\n"), Err(Rejection::Unsupported("PDF")));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=..."), Err(Rejection::Unsupported("SVG")));
        assert_eq!(sniff(b"  <svg width=\"1\">"), Err(Rejection::Unsupported("SVG")));
        assert_eq!(sniff(b"hello, this is text\n"), Err(Rejection::NotAnImage("plain text")));
        assert_eq!(sniff(b"\x00\x01\x02\x03\x04"), Err(Rejection::NotAnImage("unrecognised binary data")));
        assert_eq!(sniff(b""), Err(Rejection::Empty));
    }

    #[test]
    fn short_inputs_never_panic() {
        for n in 0..16 {
            let _ = sniff(&b"\0\0\0\x18ftypheic"[..n.min(12)]);
            let _ = sniff(&vec![0xFF; n]);
        }
    }
}
