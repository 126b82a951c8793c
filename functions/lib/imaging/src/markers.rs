//! JPEG's marker structure, walked the same way by everything that reads it: the inspector (limits),
//! the completeness check and the DC-only decoder. Bounds-checked: it runs on every hostile byte
//! first. Entropy-coded data is skipped with `memchr`, because these walks cross every byte of a
//! photo before libjpeg does, and a byte-at-a-time loop cost a millisecond on the large ones.

/// One marker segment. For a scan (SOS), `data` is its entropy-coded data, restart markers included.
pub(crate) struct Segment<'a> {
    pub marker: u8,
    /// The segment's body, after its length field (empty for EOI).
    pub body: &'a [u8],
    pub data: &'a [u8],
}

/// The segments from SOI to EOI (yielded last, when there is one). Stray bytes before a marker and
/// fill bytes are skipped, as libjpeg skips them; a segment cut off by the end of the input ends
/// the walk, and [`Segments::cut`] says so.
pub(crate) struct Segments<'a> {
    b: &'a [u8],
    i: usize,
    done: bool,
    cut: bool,
}

pub(crate) fn segments(b: &[u8]) -> Segments<'_> {
    Segments { b, i: 2, done: false, cut: false }
}

impl Segments<'_> {
    /// The input ended inside a segment, or before an EOI.
    pub(crate) fn cut(&self) -> bool {
        self.cut
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if self.done {
            return None;
        }
        let b = self.b;
        loop {
            let Some(at) = memchr::memchr(0xFF, b.get(self.i..).unwrap_or_default()).map(|o| self.i + o) else {
                return self.stop(true);
            };
            let Some(&marker) = b.get(at + 1) else { return self.stop(true) };
            match marker {
                0xFF => self.i = at + 1,
                // Standalone markers between segments carry nothing.
                0x00 | 0x01 | 0xD0..=0xD7 => self.i = at + 2,
                0xD9 => {
                    self.done = true;
                    return Some(Segment { marker, body: &[], data: &[] });
                }
                _ => {
                    let Some(len) = b.get(at + 2..at + 4).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) else {
                        return self.stop(true);
                    };
                    let Some(body) = b.get(at + 4..at + 2 + len.max(2)) else { return self.stop(true) };
                    let body_end = at + 2 + len.max(2);
                    let end = if marker == 0xDA { entropy_end(b, body_end) } else { body_end };
                    if end == b.len() && marker == 0xDA {
                        self.cut = true;
                        self.done = true;
                    }
                    self.i = end;
                    return Some(Segment { marker, body, data: &b[body_end..end] });
                }
            }
        }
    }
}

impl Segments<'_> {
    fn stop(&mut self, cut: bool) -> Option<Segment<'static>> {
        self.done = true;
        self.cut = cut;
        None
    }
}

/// Where entropy-coded data starting at `i` ends: at the first 0xFF that is not stuffing (0xFF00),
/// a restart marker or a fill byte; or at the end of the input.
fn entropy_end(b: &[u8], mut i: usize) -> usize {
    while let Some(at) = memchr::memchr(0xFF, &b[i..]).map(|o| i + o) {
        match b.get(at + 1) {
            None => return b.len(),
            Some(0x00 | 0xD0..=0xD7 | 0xFF) => i = at + 1,
            Some(_) => return at,
        }
    }
    b.len()
}

/// Every scan's data is there: the walk reaches an EOI after at least one scan. A decoder that pads
/// missing scan data with grey would accept a half-uploaded file. Walking (not searching) skips an
/// EXIF thumbnail's own EOI in APP1.
pub(crate) fn scan_is_complete(b: &[u8]) -> bool {
    let mut walk = segments(b);
    let mut scanned = false;
    for s in walk.by_ref() {
        match s.marker {
            0xDA => scanned = true,
            0xD9 => return scanned && !walk.cut(),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_completeness() {
        // SOI, APP0 (len 4), SOS (len 2), data with stuffing and a restart marker, EOI
        let ok = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xDA, 0, 2, 9, 0xFF, 0x00, 0xFF, 0xD0, 9, 0xFF, 0xD9];
        assert!(scan_is_complete(&ok));
        assert!(!scan_is_complete(&ok[..ok.len() - 2]));
        // An EOI inside APP1 (an EXIF thumbnail) does not count.
        let app1_eoi = [0xFF, 0xD8, 0xFF, 0xE1, 0, 4, 0xFF, 0xD9, 0xFF, 0xDA, 0, 2, 9, 9];
        assert!(!scan_is_complete(&app1_eoi));
        for n in 0..ok.len() {
            let _ = scan_is_complete(&ok[..n]);
        }
    }

    #[test]
    fn a_scan_runs_past_stuffing_restarts_and_fill_bytes() {
        let b = [0xFF, 0xD8, 0xFF, 0xDA, 0, 3, 7, 1, 0xFF, 0, 2, 0xFF, 0xD3, 3, 0xFF, 0xFF, 0xD9];
        let all: Vec<Segment> = segments(&b).collect();
        assert_eq!(all.iter().map(|s| s.marker).collect::<Vec<_>>(), [0xDA, 0xD9]);
        assert_eq!(all[0].body, [7]);
        assert_eq!(all[0].data, [1, 0xFF, 0, 2, 0xFF, 0xD3, 3, 0xFF]);
    }
}
