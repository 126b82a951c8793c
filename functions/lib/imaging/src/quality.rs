//! Quality: the one SSIM every comparison here uses (the bench's score of each tool, the DC
//! decoder's check against libjpeg), so that the figures mean the same thing.

/// Mean SSIM over 8×8 windows with stride 4 (Wang et al. 2004, uniform window).
pub fn ssim(a: &[f32], b: &[f32], w: usize, h: usize) -> f64 {
    const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
    const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
    let (win, step) = (8.min(w), 4);
    let winh = 8.min(h);
    let (mut total, mut count) = (0.0, 0u32);
    let mut y = 0;
    while y + winh <= h {
        let mut x = 0;
        while x + win <= w {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for row in y..y + winh {
                for col in x..x + win {
                    let (p, q) = (f64::from(a[row * w + col]), f64::from(b[row * w + col]));
                    sa += p;
                    sb += q;
                    saa += p * p;
                    sbb += q * q;
                    sab += p * q;
                }
            }
            let n = (win * winh) as f64;
            let (ma, mb) = (sa / n, sb / n);
            let (va, vb, cov) = (saa / n - ma * ma, sbb / n - mb * mb, sab / n - ma * mb);
            total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            count += 1;
            x += step;
        }
        y += step;
    }
    if count == 0 { 1.0 } else { total / f64::from(count) }
}

#[cfg(test)]
mod tests {
    use super::ssim;

    #[test]
    fn ssim_is_one_for_equal_images_and_falls_with_noise() {
        let (w, h) = (32, 24);
        let a: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 255) as f32).collect();
        assert!((ssim(&a, &a, w, h) - 1.0).abs() < 1e-9);
        let slightly: Vec<f32> = a.iter().enumerate().map(|(i, v)| v + if i % 2 == 0 { 3.0 } else { -3.0 }).collect();
        let badly: Vec<f32> = a.iter().enumerate().map(|(i, v)| v + if i % 2 == 0 { 40.0 } else { -40.0 }).collect();
        let (s1, s2) = (ssim(&a, &slightly, w, h), ssim(&a, &badly, w, h));
        assert!(s1 < 1.0 && s2 < s1, "more noise, lower SSIM: {s1} {s2}");
        let flat = vec![128.0; w * h];
        assert!(ssim(&a, &flat, w, h) < 0.1, "structure lost");
    }
}
