//! Progressive JPEGs at 1/8 of their size, from their DC coefficients alone.
//!
//! At 1/8 each 8×8 block becomes one pixel, its DC coefficient (libjpeg's 1×1 IDCT reads nothing
//! else), yet libjpeg entropy-decodes every AC scan first, into a zeroed array of every
//! coefficient of the image (42 MB for 10 MP, most of its time spent faulting those pages in).
//! Here only the scans with `Ss = 0` are read (DC first and DC refinement, wherever the script
//! puts them: chroma DC often comes late, libjpeg's own script refines DC after the AC scans),
//! into one `i16` a block; AC scans are skipped without decoding them.
//!
//! Chroma is upsampled bilinearly (libjpeg's "fancy" triangle filter for 2×) and converted as
//! JFIF says. `tests/dc_decode.rs` holds every progressive photo of the corpus to libjpeg's own
//! full decode at 1/8 by SSIM, and `fuzz/` runs it on hostile bytes.
//!
//! Anything it does not know (a baseline, arithmetic or 12-bit frame, other than three
//! components, fractional sampling, a broken Huffman code) gives `None`, and libjpeg decodes the
//! original file and decides what is wrong with it: this decoder never accepts or refuses a file
//! that libjpeg would not.

use crate::markers;

/// An RGB image at 1/8 scale (libjpeg's `ceil(size / 8)`), or `None` to let libjpeg decode it.
/// `out_of_time` is asked between scans.
pub(crate) fn decode(b: &[u8], out_of_time: &dyn Fn() -> bool) -> Result<Option<(u32, u32, Vec<u8>)>, OutOfTime> {
    let mut state = State::default();
    for s in markers::segments(b) {
        let ok = match s.marker {
            0xC2 => state.frame(s.body),
            0xC0..=0xCF if !matches!(s.marker, 0xC4 | 0xC8 | 0xCC) => None,
            0xC4 => state.huffman(s.body),
            0xDB => state.quant(s.body),
            0xDD => s.body.get(..2).map(|r| state.restart_interval = usize::from(u16::from_be_bytes([r[0], r[1]]))),
            0xEE => {
                state.adobe(s.body);
                Some(())
            }
            0xDA => {
                if out_of_time() {
                    return Err(OutOfTime);
                }
                state.scan(s.body, s.data)
            }
            0xD9 => break,
            _ => Some(()),
        };
        if ok.is_none() {
            return Ok(None);
        }
    }
    Ok(state.finish())
}

/// The deadline passed between two scans.
#[derive(Debug)]
pub(crate) struct OutOfTime;

#[derive(Default)]
struct State {
    width: usize,
    height: usize,
    components: Vec<Component>,
    quant: [Option<u16>; 4],
    dc_tables: [Option<Huffman>; 4],
    restart_interval: usize,
    /// APP14's transform flag: `Some(0)` stores RGB, not YCbCr.
    adobe_transform: Option<u8>,
    mcus_x: usize,
    mcus_y: usize,
}

struct Component {
    id: u8,
    h: usize,
    v: usize,
    table: usize,
    /// The DC quantiser, latched at the component's first scan (as libjpeg does).
    q: Option<u16>,
    /// Blocks across and down, padded to whole MCUs; `dc` holds one coefficient a block.
    bw: usize,
    bh: usize,
    dc: Vec<i16>,
}

impl State {
    fn frame(&mut self, f: &[u8]) -> Option<()> {
        if !self.components.is_empty() || *f.first()? != 8 {
            return None;
        }
        self.height = usize::from(u16::from_be_bytes([*f.get(1)?, *f.get(2)?]));
        self.width = usize::from(u16::from_be_bytes([*f.get(3)?, *f.get(4)?]));
        if *f.get(5)? != 3 || self.width == 0 || self.height == 0 {
            return None;
        }
        for c in f.get(6..15)?.chunks_exact(3) {
            let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
                return None;
            }
            self.components.push(Component { id: c[0], h, v, table: usize::from(c[2]), q: None, bw: 0, bh: 0, dc: Vec::new() });
        }
        let hmax = self.components.iter().map(|c| c.h).max()?;
        let vmax = self.components.iter().map(|c| c.v).max()?;
        if self.components.iter().any(|c| hmax % c.h != 0 || vmax % c.v != 0) {
            return None;
        }
        self.mcus_x = self.width.div_ceil(8 * hmax);
        self.mcus_y = self.height.div_ceil(8 * vmax);
        for c in &mut self.components {
            c.bw = self.mcus_x * c.h;
            c.bh = self.mcus_y * c.v;
            c.dc = vec![0; c.bw * c.bh];
        }
        Some(())
    }

    fn quant(&mut self, mut d: &[u8]) -> Option<()> {
        while let [pq_tq, rest @ ..] = d {
            let (sixteen, t) = (pq_tq >> 4 == 1, usize::from(pq_tq & 15));
            let size = if sixteen { 128 } else { 64 };
            let table = rest.get(..size)?;
            *self.quant.get_mut(t)? = Some(if sixteen { u16::from_be_bytes([table[0], table[1]]) } else { u16::from(table[0]) });
            d = &rest[size..];
        }
        Some(())
    }

    fn huffman(&mut self, mut d: &[u8]) -> Option<()> {
        while let [tc_th, rest @ ..] = d {
            let counts: [u8; 16] = rest.get(..16)?.try_into().ok()?;
            let total: usize = counts.iter().map(|&n| usize::from(n)).sum();
            let values = rest.get(16..16 + total)?;
            if tc_th >> 4 == 0 {
                *self.dc_tables.get_mut(usize::from(tc_th & 15))? = Some(Huffman::new(&counts, values)?);
            }
            d = &rest[16 + total..];
        }
        Some(())
    }

    fn adobe(&mut self, d: &[u8]) {
        if d.starts_with(b"Adobe") {
            self.adobe_transform = d.get(11).copied();
        }
    }

    fn scan(&mut self, header: &[u8], data: &[u8]) -> Option<()> {
        let ns = usize::from(*header.first()?);
        let selectors = header.get(1..1 + 2 * ns)?;
        let [ss, _se, a] = *header.get(1 + 2 * ns..4 + 2 * ns)? else { return None };
        if ss != 0 || self.components.is_empty() {
            return Some(()); // an AC scan: skipped unread
        }
        let (ah, al) = (a >> 4, u32::from(a & 15));
        if ns == 0 || ns > 4 || al > 13 {
            return None;
        }
        let mut members = Vec::with_capacity(ns);
        for sel in selectors.chunks_exact(2) {
            let i = self.components.iter().position(|c| c.id == sel[0])?;
            let table = usize::from(sel[1] >> 4);
            members.push((i, table));
            let c = &mut self.components[i];
            if c.q.is_none() {
                c.q = Some(self.quant[c.table]?);
            }
        }
        let tables: Vec<Option<&Huffman>> = members.iter().map(|&(_, t)| self.dc_tables.get(t)?.as_ref()).collect();
        if ah == 0 && tables.iter().any(Option::is_none) {
            return None;
        }
        // The blocks of one MCU: every member's h×v blocks when interleaved, else one block of the
        // component's own (unpadded) grid.
        let hmax = self.components.iter().map(|c| c.h).max()?;
        let vmax = self.components.iter().map(|c| c.v).max()?;
        let (units_x, units_y) = if ns == 1 {
            let c = &self.components[members[0].0];
            ((self.width * c.h).div_ceil(hmax).div_ceil(8), (self.height * c.v).div_ceil(vmax).div_ceil(8))
        } else {
            (self.mcus_x, self.mcus_y)
        };
        let mut bits = Bits::new(data);
        let mut predictions = [0i32; 4];
        for unit in 0..units_x * units_y {
            if self.restart_interval > 0 && unit > 0 && unit % self.restart_interval == 0 {
                bits.restart()?;
                predictions = [0; 4];
            }
            let (ux, uy) = (unit % units_x, unit / units_x);
            for (m, &(i, _)) in members.iter().enumerate() {
                let c = &mut self.components[i];
                let (h, v) = if ns == 1 { (1, 1) } else { (c.h, c.v) };
                for by in 0..v {
                    for bx in 0..h {
                        let at = (uy * v + by) * c.bw + ux * h + bx;
                        let block = c.dc.get_mut(at)?;
                        if ah == 0 {
                            let size = bits.decode(tables[m]?)?;
                            predictions[m] = predictions[m].wrapping_add(bits.receive_extend(size)?);
                            *block = (predictions[m] << al) as i16;
                        } else if bits.bit()? {
                            *block |= 1 << al;
                        }
                    }
                }
            }
        }
        Some(())
    }

    fn finish(self) -> Option<(u32, u32, Vec<u8>)> {
        if self.components.len() != 3 {
            return None;
        }
        let (w, h) = (self.width.div_ceil(8), self.height.div_ceil(8));
        let hmax = self.components.iter().map(|c| c.h).max()?;
        let vmax = self.components.iter().map(|c| c.v).max()?;
        let planes: Vec<Vec<u8>> = self
            .components
            .iter()
            .map(|c| {
                let q = i32::from(c.q.unwrap_or(0));
                // The 1×1 IDCT: DESCALE(dc × q, 3), centred on 128, range-limited.
                let plane: Vec<u8> =
                    c.dc.iter().map(|&d| ((i32::from(d) * q + 4) >> 3).wrapping_add(128).clamp(0, 255) as u8).collect();
                // Pixels of real image data in this component (the rest is MCU padding).
                let valid = ((self.width * c.h).div_ceil(hmax).div_ceil(8), (self.height * c.v).div_ceil(vmax).div_ceil(8));
                upsample(&plane, c.bw, valid, (hmax / c.h, vmax / c.v), (w, h))
            })
            .collect();
        let ids: Vec<u8> = self.components.iter().map(|c| c.id).collect();
        let rgb_stored = self.adobe_transform == Some(0) || (self.adobe_transform.is_none() && ids == b"RGB");
        let mut rgb = Vec::with_capacity(w * h * 3);
        for ((&y, &cb), &cr) in planes[0].iter().zip(&planes[1]).zip(&planes[2]) {
            if rgb_stored {
                rgb.extend_from_slice(&[y, cb, cr]);
            } else {
                rgb.extend_from_slice(&ycc_to_rgb(y, cb, cr));
            }
        }
        Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?, rgb))
    }
}

/// JFIF's YCbCr to RGB, in 16-bit fixed point.
fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (i32::from(y) << 16, i32::from(cb) - 128, i32::from(cr) - 128);
    let half = 1 << 15;
    let clamp = |v: i32| ((v + half) >> 16).clamp(0, 255) as u8;
    [clamp(y + 91_881 * cr), clamp(y - 22_554 * cb - 46_802 * cr), clamp(y + 116_130 * cb)]
}

/// A `stride`-wide plane with `valid` pixels of data, scaled by whole `factor`s to `out`:
/// bilinear between sample centres, edges replicated (for 2×, libjpeg's 3:1 triangle filter).
fn upsample(plane: &[u8], stride: usize, valid: (usize, usize), factor: (usize, usize), out: (usize, usize)) -> Vec<u8> {
    // Per output coordinate: the two source samples and the second one's weight out of 256.
    let taps = |n: usize, f: usize, valid: usize| -> Vec<(usize, usize, u32)> {
        (0..n)
            .map(|o| {
                let pos = ((2 * o + 1) * 256 / (2 * f)).saturating_sub(128); // (o + ½)/f − ½, × 256
                let (i, w) = (pos / 256, (pos % 256) as u32);
                let last = valid.saturating_sub(1);
                (i.min(last), (i + 1).min(last), w)
            })
            .collect()
    };
    let (xs, ys) = (taps(out.0, factor.0, valid.0), taps(out.1, factor.1, valid.1));
    let mut px = Vec::with_capacity(out.0 * out.1);
    for &(y0, y1, wy) in &ys {
        let (r0, r1) = (&plane[y0 * stride..], &plane[y1 * stride..]);
        for &(x0, x1, wx) in &xs {
            let top = u32::from(r0[x0]) * (256 - wx) + u32::from(r0[x1]) * wx;
            let bottom = u32::from(r1[x0]) * (256 - wx) + u32::from(r1[x1]) * wx;
            px.push(((top * (256 - wy) + bottom * wy + (1 << 15)) >> 16) as u8);
        }
    }
    px
}

/// A canonical Huffman table: a 9-bit lookup for the common short codes, then per length.
struct Huffman {
    /// (length, value) for every 9-bit prefix whose code is that short; length 0 otherwise.
    fast: Vec<(u8, u8)>,
    /// Per length 1..=16: largest code + 1 (0 when none), and the index of its first value.
    max_code: [u32; 17],
    offset: [i32; 17],
    values: Vec<u8>,
}

const FAST: u32 = 9;

impl Huffman {
    fn new(counts: &[u8; 16], values: &[u8]) -> Option<Huffman> {
        let mut t = Huffman { fast: vec![(0, 0); 1 << FAST], max_code: [0; 17], offset: [0; 17], values: values.to_vec() };
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            let n = u32::from(counts[len as usize - 1]);
            t.offset[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= 1 << len {
                    return None; // more codes than this length can hold
                }
                if len <= FAST {
                    let shift = FAST - len;
                    for fill in 0..1u32 << shift {
                        t.fast[((code << shift) | fill) as usize] = (len as u8, values[k]);
                    }
                }
                code += 1;
                k += 1;
            }
            t.max_code[len as usize] = code;
            code <<= 1;
        }
        Some(t)
    }
}

/// Entropy-coded data as bits: stuffed zeros removed; at a marker, zeros (as libjpeg feeds).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Bits<'a> {
        Bits { data, pos: 0, acc: 0, n: 0 }
    }

    fn fill(&mut self) {
        while self.n <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(0xFF) if self.data.get(self.pos + 1) == Some(&0) => {
                    self.pos += 2;
                    0xFF
                }
                Some(0xFF) | None => 0,
                Some(&b) => {
                    self.pos += 1;
                    b
                }
            };
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    fn take(&mut self, n: u32) -> u32 {
        let v = (self.acc >> (64 - n)) as u32;
        self.acc <<= n;
        self.n -= n;
        v
    }

    fn bit(&mut self) -> Option<bool> {
        self.fill();
        Some(self.take(1) == 1)
    }

    fn decode(&mut self, t: &Huffman) -> Option<u8> {
        self.fill();
        let (len, value) = t.fast[(self.acc >> (64 - FAST)) as usize];
        if len > 0 {
            self.take(u32::from(len));
            return Some(value);
        }
        for len in FAST + 1..=16 {
            let code = (self.acc >> (64 - len)) as u32;
            if code < t.max_code[len as usize] {
                self.take(len);
                return t.values.get(usize::try_from(t.offset[len as usize] + code as i32).ok()?).copied();
            }
        }
        None // no such code: libjpeg decides what the file is worth
    }

    fn receive_extend(&mut self, size: u8) -> Option<i32> {
        match u32::from(size) {
            0 => Some(0),
            s @ 1..=15 => {
                self.fill();
                let v = self.take(s) as i32;
                Some(if v < 1 << (s - 1) { v - (1 << s) + 1 } else { v })
            }
            _ => None,
        }
    }

    /// Drops the interval's padding bits and steps over its RST marker.
    fn restart(&mut self) -> Option<()> {
        let rest = self.data.get(self.pos..)?;
        let at = memchr::memchr_iter(0xFF, rest).find(|&i| matches!(rest.get(i + 1), Some(0xD0..=0xD7)))?;
        self.pos += at + 2;
        (self.acc, self.n) = (0, 0);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huffman_codes_decode_by_lookup_and_by_length() {
        // Two 2-bit codes (00 → 3, 01 → 5) and one 12-bit code (1000 0000 0000 → 9).
        let mut counts = [0u8; 16];
        counts[1] = 2;
        counts[11] = 1;
        let t = Huffman::new(&counts, &[3, 5, 9]).unwrap();
        let data = [0b0001_1000, 0b0000_0000, 0b0000_0000];
        let mut bits = Bits::new(&data);
        assert_eq!(bits.decode(&t), Some(3));
        assert_eq!(bits.decode(&t), Some(5));
        assert_eq!(bits.decode(&t), Some(9));
        // More codes than a length holds is refused.
        let mut over = [0u8; 16];
        over[0] = 3;
        assert!(Huffman::new(&over, &[1, 2, 3]).is_none());
    }

    #[test]
    fn extends_signed_differences() {
        let data = [0b0110_1000];
        let mut bits = Bits::new(&data);
        assert_eq!(bits.receive_extend(2), Some(-2)); // 01 → −2
        assert_eq!(bits.receive_extend(2), Some(2)); // 10 → 2
        assert_eq!(bits.receive_extend(0), Some(0));
    }

    #[test]
    fn upsampling_2x_is_libjpegs_triangle_filter() {
        let plane = [0u8, 100];
        let row = upsample(&plane, 2, (2, 1), (2, 1), (4, 1));
        assert_eq!(row, [0, 25, 75, 100]);
    }

    /// Every progressive JPEG of the corpus (photos, and the variant with restart markers and a
    /// hostile scan order) against libjpeg's full decode at 1/8: the same size; luma as close as
    /// SSIM can tell; every channel the same byte for byte where chroma is not subsampled (so
    /// entropy decoding, dequantisation and colour match libjpeg's exactly), and close where it is.
    #[test]
    fn matches_libjpegs_full_decode_at_one_eighth() {
        let corpus =
            std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../../../tests/corpus");
        let mut checked = Vec::new();
        for folder in ["photos", "variants"] {
            for entry in std::fs::read_dir(corpus.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let Some(frame) = markers::segments(&bytes).find(|s| s.marker == 0xC2) else { continue };
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let (w, h, ours) = decode(&bytes, &|| false).unwrap().unwrap_or_else(|| panic!("{name}: not decoded"));
                let mut libjpeg = mozjpeg::Decompress::new_mem(&bytes).unwrap();
                libjpeg.scale(1);
                let mut started = libjpeg.rgb().unwrap();
                assert_eq!((w as usize, h as usize), (started.width(), started.height()), "{name}");
                let theirs: Vec<u8> = started.read_scanlines().unwrap();
                let (w, h) = (w as usize, h as usize);
                let channel = |px: &[u8], c: usize| px.iter().skip(c).step_by(3).map(|&v| f32::from(v)).collect::<Vec<f32>>();
                let luma = |px: &[u8]| {
                    px.chunks_exact(3)
                        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
                        .collect::<Vec<f32>>()
                };
                let y = crate::ssim(&luma(&ours), &luma(&theirs), w, h);
                let channels: Vec<f64> = (0..3).map(|c| crate::ssim(&channel(&ours, c), &channel(&theirs, c), w, h)).collect();
                let subsampled = frame.body.get(6..15).unwrap().chunks_exact(3).any(|c| c[1] != 0x11);
                assert!(y >= MIN_LUMA_SSIM, "{name}: luma SSIM {y}");
                if subsampled {
                    assert!(channels.iter().all(|&s| s >= MIN_CHANNEL_SSIM), "{name}: SSIM per channel {channels:?}");
                } else {
                    assert!(ours == theirs, "{name}: 4:4:4 differs from libjpeg (SSIM per channel {channels:?})");
                }
                checked.push(name);
            }
        }
        assert!(checked.len() >= 12, "only {checked:?}");
        assert!(checked.iter().any(|n| n == "progressive_restart.jpg"));
    }

    /// Measured minimum over the corpus: 0.9994 (m3; `cargo test -p imaging dc_decode`).
    const MIN_LUMA_SSIM: f64 = 0.999;
    /// Measured minimum: 0.900 (s2's blue; the others ≥ 0.938), on the 4:2:0 files, whose chroma
    /// libjpeg rebuilds at this scale from three AC coefficients a block, and this decoder from
    /// DC alone. The thumbnail's own JPEG stores chroma at half its size, below what is lost here.
    const MIN_CHANNEL_SSIM: f64 = 0.89;

    #[test]
    fn grey_is_grey() {
        assert_eq!(ycc_to_rgb(77, 128, 128), [77, 77, 77]);
    }
}
