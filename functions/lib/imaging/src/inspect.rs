//! Reads a file's structure before any decoder sees it: the size and pixel layout the memory
//! budget needs, and the metadata and scan limits, applied by walking, never by inflating or
//! decoding in full. Bounds-checked throughout: it runs on every hostile byte first.

use crate::{Format, Limits, Rejection, markers};

/// What the decode will have to hold, as the file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    Jpeg {
        /// (horizontal, vertical) sampling factor of each component.
        sampling: Vec<(u8, u8)>,
        progressive: bool,
    },
    Png {
        /// Channels after palette expansion (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA).
        channels: u8,
        sixteen_bit: bool,
    },
    Gif,
    Webp,
}

pub(crate) fn inspect(bytes: &[u8], format: Format, limits: &Limits) -> Result<Header, Rejection> {
    let header = match format {
        Format::Jpeg => jpeg(bytes, limits)?,
        Format::Png => png(bytes, limits)?,
        Format::Gif => gif(bytes)?,
        Format::Webp => webp(bytes, limits)?,
    };
    limits.check_dimensions(header.width, header.height)?;
    Ok(header)
}

fn metadata(what: &'static str, bytes: u64, limits: &Limits) -> Result<(), Rejection> {
    if bytes > limits.max_metadata {
        return Err(Rejection::MetadataTooLarge { what, bytes, limit: limits.max_metadata });
    }
    Ok(())
}

/// Inflates a zlib stream only as far as the limit: one byte past it is enough to refuse.
fn inflated(what: &'static str, zlib: &[u8], limits: &Limits) -> Result<(), Rejection> {
    let cap = usize::try_from(limits.max_metadata).unwrap_or(usize::MAX);
    match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(zlib, cap) {
        Ok(_) => Ok(()),
        Err(e) if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
            Err(Rejection::MetadataTooLarge { what, bytes: limits.max_metadata + 1, limit: limits.max_metadata })
        }
        // A broken stream costs nothing to hold: the decoder reports it or ignores the chunk.
        Err(_) => Ok(()),
    }
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn le32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn le24(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from(*b.get(i)?) | u32::from(*b.get(i + 1)?) << 8 | u32::from(*b.get(i + 2)?) << 16)
}

fn truncated(format: &'static str) -> Rejection {
    Rejection::Truncated(format)
}

fn corrupt(format: &'static str, detail: &str) -> Rejection {
    Rejection::Corrupt { format, detail: detail.into() }
}

/// Marker segments and scans, counted as they are met; the ICC profile's chunks added up.
fn jpeg(b: &[u8], limits: &Limits) -> Result<Header, Rejection> {
    const NAME: &str = "JPEG";
    let mut frame: Option<Header> = None;
    let (mut scans, mut icc) = (0u32, 0u64);
    let mut walk = markers::segments(b);
    for segment in walk.by_ref() {
        let body = segment.body;
        match segment.marker {
            0xC0..=0xCF if !matches!(segment.marker, 0xC4 | 0xC8 | 0xCC) => {
                let height = u32::from(be16(body, 1).ok_or(truncated(NAME))?);
                let width = u32::from(be16(body, 3).ok_or(truncated(NAME))?);
                let count = usize::from(*body.get(5).ok_or(truncated(NAME))?);
                let sampling = (0..count)
                    .map(|c| body.get(6 + 3 * c + 1).map(|hv| (hv >> 4, hv & 0x0F)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(truncated(NAME))?;
                let progressive = matches!(segment.marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                frame = Some(Header { width, height, layout: Layout::Jpeg { sampling, progressive } });
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => {
                icc += body.len() as u64;
                metadata("ICC profile", icc, limits)?;
            }
            0xDA => {
                scans += 1;
                if scans > limits.max_scans {
                    return Err(Rejection::TooManyScans { scans, limit: limits.max_scans });
                }
            }
            _ => {}
        }
    }
    // A file cut off after its frame header is the decoder's to report (as truncated).
    match frame {
        Some(frame) => Ok(frame),
        None if walk.cut() => Err(truncated(NAME)),
        None => Err(corrupt(NAME, "no frame header")),
    }
}

/// Every chunk's length is checked; the compressed metadata ones are inflated up to the limit.
fn png(b: &[u8], limits: &Limits) -> Result<Header, Rejection> {
    const NAME: &str = "PNG";
    let mut header: Option<Header> = None;
    let mut transparency = false;
    let mut i = 8;
    while i + 8 <= b.len() {
        let len = be32(b, i).ok_or(truncated(NAME))? as usize;
        let kind = &b[i + 4..i + 8];
        let Some(data) = b.get(i + 8..(i + 8).saturating_add(len)) else {
            // The decoder tells a cut-off file; only the header had to be whole.
            break;
        };
        match kind {
            b"IHDR" => {
                let width = be32(data, 0).ok_or(truncated(NAME))?;
                let height = be32(data, 4).ok_or(truncated(NAME))?;
                let depth = *data.get(8).ok_or(truncated(NAME))?;
                let color = *data.get(9).ok_or(truncated(NAME))?;
                let channels = match color {
                    0 => 1,
                    2 | 3 => 3,
                    4 => 2,
                    6 => 4,
                    _ => return Err(corrupt(NAME, "unknown colour type")),
                };
                header = Some(Header { width, height, layout: Layout::Png { channels, sixteen_bit: depth == 16 } });
            }
            b"tRNS" => transparency = true,
            b"iCCP" => {
                metadata("ICC profile", len as u64, limits)?;
                let name = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                inflated("ICC profile", data.get(name + 2..).unwrap_or_default(), limits)?;
            }
            b"zTXt" => {
                metadata("text chunk", len as u64, limits)?;
                let key = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                inflated("text chunk", data.get(key + 2..).unwrap_or_default(), limits)?;
            }
            b"iTXt" => {
                metadata("text chunk", len as u64, limits)?;
                let key = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                if data.get(key + 1) == Some(&1) {
                    // keyword NUL flag method language NUL translated-keyword NUL text
                    let rest = data.get(key + 3..).unwrap_or_default();
                    let lang = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                    let rest = rest.get(lang + 1..).unwrap_or_default();
                    let translated = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                    inflated("text chunk", rest.get(translated + 1..).unwrap_or_default(), limits)?;
                }
            }
            b"tEXt" => metadata("text chunk", len as u64, limits)?,
            b"eXIf" => metadata("EXIF block", len as u64, limits)?,
            b"IEND" => break,
            _ => {}
        }
        i = i.saturating_add(12).saturating_add(len);
    }
    let mut header = header.ok_or_else(|| corrupt(NAME, "no IHDR chunk"))?;
    if let Layout::Png { channels, .. } = &mut header.layout
        && transparency
        && (*channels == 1 || *channels == 3)
    {
        *channels += 1;
    }
    Ok(header)
}

fn gif(b: &[u8]) -> Result<Header, Rejection> {
    let width = u32::from(u16::from_le_bytes([*b.get(6).ok_or(truncated("GIF"))?, *b.get(7).ok_or(truncated("GIF"))?]));
    let height = u32::from(u16::from_le_bytes([*b.get(8).ok_or(truncated("GIF"))?, *b.get(9).ok_or(truncated("GIF"))?]));
    Ok(Header { width, height, layout: Layout::Gif })
}

/// RIFF chunks: the canvas from VP8X, VP8 or VP8L; ICC, EXIF and XMP held to the metadata limit.
fn webp(b: &[u8], limits: &Limits) -> Result<Header, Rejection> {
    const NAME: &str = "WebP";
    let mut size: Option<(u32, u32)> = None;
    let mut i = 12;
    while i + 8 <= b.len() {
        let kind = &b[i..i + 4];
        let len = le32(b, i + 4).ok_or(truncated(NAME))? as usize;
        let data = b.get(i + 8..(i + 8).saturating_add(len)).unwrap_or(&b[(i + 8).min(b.len())..]);
        match kind {
            b"VP8X" => {
                let w = le24(data, 4).ok_or(truncated(NAME))? + 1;
                let h = le24(data, 7).ok_or(truncated(NAME))? + 1;
                size = Some((w, h));
            }
            b"VP8 " if size.is_none() => {
                let w =
                    u32::from(u16::from_le_bytes([*data.get(6).ok_or(truncated(NAME))?, *data.get(7).ok_or(truncated(NAME))?]));
                let h =
                    u32::from(u16::from_le_bytes([*data.get(8).ok_or(truncated(NAME))?, *data.get(9).ok_or(truncated(NAME))?]));
                size = Some((w & 0x3FFF, h & 0x3FFF));
            }
            b"VP8L" if size.is_none() => {
                let bits = le32(data, 1).ok_or(truncated(NAME))?;
                size = Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1));
            }
            b"ICCP" => metadata("ICC profile", len as u64, limits)?,
            b"EXIF" => metadata("EXIF block", len as u64, limits)?,
            b"XMP " => metadata("XMP block", len as u64, limits)?,
            _ => {}
        }
        // Chunks are padded to an even size.
        i = i.saturating_add(8).saturating_add(len).saturating_add(len & 1);
    }
    let (width, height) = size.ok_or_else(|| corrupt(NAME, "no image header"))?;
    Ok(Header { width, height, layout: Layout::Webp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_or_lying_headers_never_panic() {
        let limits = Limits::default();
        let jpeg = [0xFF, 0xD8, 0xFF, 0xC2, 0, 17, 8, 0, 16, 0, 16, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9];
        let h = inspect(&jpeg, Format::Jpeg, &limits).unwrap();
        assert_eq!((h.width, h.height), (16, 16));
        assert_eq!(h.layout, Layout::Jpeg { sampling: vec![(2, 2), (1, 1), (1, 1)], progressive: true });
        for n in 0..jpeg.len() {
            let _ = inspect(&jpeg[..n], Format::Jpeg, &limits);
        }
        let junk = [&jpeg[..2], &[0x00, 0x17], &jpeg[2..]].concat();
        assert_eq!(inspect(&junk, Format::Jpeg, &limits).map(|h| (h.width, h.height)), Ok((16, 16)), "stray bytes are skipped");
        let mut long = jpeg.to_vec();
        long[5] = 0xFF; // a segment longer than the file
        assert!(inspect(&long, Format::Jpeg, &limits).is_err());
    }

    #[test]
    fn scans_are_counted_before_any_is_decoded() {
        let limits = Limits { max_scans: 3, ..Limits::default() };
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC2, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0];
        for _ in 0..4 {
            jpeg.extend([0xFF, 0xDA, 0, 8, 1, 1, 0, 1, 63, 0, 0x12, 0xFF, 0x00, 0x34]);
        }
        jpeg.extend([0xFF, 0xD9]);
        assert_eq!(inspect(&jpeg, Format::Jpeg, &limits), Err(Rejection::TooManyScans { scans: 4, limit: 3 }));
        assert!(inspect(&jpeg, Format::Jpeg, &Limits::default()).is_ok());
    }
}
