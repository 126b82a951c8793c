//! JPEG: the header (size, EXIF orientation, ICC profile) through `jpeg-decoder`; colour photos
//! through libjpeg-turbo (`mozjpeg`), which decodes straight to any n/8 of the size in the DCT
//! domain — the main lever for speed and memory when the thumbnail is much smaller than the
//! photo. Grey and CMYK files, rare in uploads, stay on `jpeg-decoder` (1/8, 1/4, 1/2 scaling).

use std::io::Cursor;

use image::metadata::Orientation;
use jpeg_decoder::{Decoder, PixelFormat};

use crate::color;
use crate::pixels::{Decoded, Pixels};
use crate::{Limits, Rejection, markers};

const NAME: &str = "JPEG";

/// `want` maps the stored size and orientation to the smallest stored size worth decoding.
pub(crate) fn decode(
    bytes: &[u8],
    limits: &Limits,
    want: impl Fn(u32, u32, Orientation) -> (u32, u32),
) -> Result<Decoded, Rejection> {
    let mut dec = Decoder::new(Cursor::new(bytes));
    dec.set_max_decoding_buffer_size(usize::try_from(limits.max_alloc()).unwrap_or(usize::MAX));
    dec.read_info().map_err(map_err)?;
    let info = dec.info().ok_or_else(|| corrupt("no frame header"))?;
    let (full_w, full_h) = (u32::from(info.width), u32::from(info.height));
    limits.check_dimensions(full_w, full_h)?;
    // A decoder that pads missing scan data with grey would accept a half-uploaded file.
    if !markers::scan_is_complete(bytes) {
        return Err(Rejection::Truncated(NAME));
    }
    let orientation = dec
        .exif_data()
        .and_then(|exif| Orientation::from_exif_chunk(exif.strip_prefix(b"Exif\0\0").unwrap_or(exif)))
        .unwrap_or(Orientation::NoTransforms);

    let (want_w, want_h) = want(full_w, full_h, orientation);
    if info.pixel_format == PixelFormat::RGB24 {
        let icc = dec.icc_profile();
        let (w, h, rgb) = turbo::decode_rgb(bytes, (full_w, full_h), (want_w, want_h), limits.deadline)?;
        if (w, h) != turbo::scaled_size(full_w, full_h, want_w, want_h) {
            return Err(corrupt("decoded size does not match the header"));
        }
        let rgb = color::rgb_to_srgb(rgb, icc.as_deref());
        return Ok(Decoded {
            pixels: Pixels::Rgb8(rgb),
            width: w,
            height: h,
            full_width: full_w,
            full_height: full_h,
            orientation,
        });
    }
    let (w, h) = dec.scale(clamp_u16(want_w), clamp_u16(want_h)).map_err(map_err)?;
    let data = dec.decode().map_err(map_err)?;
    let icc = dec.icc_profile();
    let (w, h) = (u32::from(w), u32::from(h));
    let pixel_format = dec.info().map_or(info.pixel_format, |i| i.pixel_format);
    let expected = w as usize * h as usize * pixel_format.pixel_bytes();
    if data.len() != expected {
        return Err(corrupt("decoded size does not match the header"));
    }
    let rgb = match pixel_format {
        PixelFormat::RGB24 => color::rgb_to_srgb(data, icc.as_deref()),
        PixelFormat::L8 => color::gray_to_rgb(&data),
        PixelFormat::L16 => color::gray_to_rgb(&data.chunks_exact(2).map(|p| p[0]).collect::<Vec<_>>()),
        PixelFormat::CMYK32 => color::cmyk_to_srgb(&data, icc.as_deref()),
    };
    Ok(Decoded { pixels: Pixels::Rgb8(rgb), width: w, height: h, full_width: full_w, full_height: full_h, orientation })
}

mod turbo {
    use super::{NAME, corrupt};
    use crate::Rejection;

    /// The smallest of 1/8, 1/4, 1/2 and 1 that still covers `want`. libjpeg-turbo scales by any
    /// n/8, but has SIMD only for these IDCTs: 3/8 or 5/8 run in plain C (and 4:2:0 chroma at
    /// twice the luma scale), slower than decoding twice the pixels at 1/2.
    fn numerator(full_w: u32, full_h: u32, want_w: u32, want_h: u32) -> u8 {
        [1u8, 2, 4, 8].into_iter().find(|&n| scaled(full_w, n) >= want_w && scaled(full_h, n) >= want_h).unwrap_or(8)
    }

    /// libjpeg's `jdiv_round_up(size * n, 8)`.
    fn scaled(size: u32, n: u8) -> u32 {
        (size * u32::from(n)).div_ceil(8)
    }

    pub(crate) fn scaled_size(full_w: u32, full_h: u32, want_w: u32, want_h: u32) -> (u32, u32) {
        let n = numerator(full_w, full_h, want_w, want_h);
        (scaled(full_w, n), scaled(full_h, n))
    }

    /// RGB at the smallest scale covering `want` of a `full_w`×`full_h` file. At 1/8 a progressive
    /// file is decoded from its DC scans alone ([`crate::dc_decode`]). libjpeg reports errors by
    /// unwinding (our error manager); they are caught here and become a rejection, and so does
    /// the deadline.
    pub(super) fn decode_rgb(
        bytes: &[u8],
        (full_w, full_h): (u32, u32),
        (want_w, want_h): (u32, u32),
        deadline: Option<crate::Deadline>,
    ) -> Result<(u32, u32, Vec<u8>), Rejection> {
        let n = numerator(full_w, full_h, want_w, want_h);
        if n == 1 {
            let out_of_time = || deadline.is_some_and(|d| std::time::Instant::now() >= d.at);
            match crate::dc_decode::decode(bytes, &out_of_time) {
                Ok(Some(decoded)) => return Ok(decoded),
                Ok(None) => {}
                Err(crate::dc_decode::OutOfTime) => return Err(Rejection::TooSlow(deadline.map_or(0, |d| d.millis))),
            }
        }
        let run = || -> std::io::Result<(u32, u32, Vec<u8>)> {
            let mut d = mozjpeg::Decompress::with_err(deadline::error_mgr()).from_mem(bytes)?;
            d.scale(n);
            let mut started = d.rgb()?;
            let (sw, sh) = (started.width() as u32, started.height() as u32);
            let pixels = started.read_scanlines::<u8>()?;
            started.finish()?;
            Ok((sw, sh, pixels))
        };
        let _armed = deadline::arm(deadline.map(|d| d.at));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(Ok(decoded)) => Ok(decoded),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Rejection::Truncated(NAME)),
            Ok(Err(e)) => Err(corrupt(&e.to_string())),
            Err(panic) if panic.is::<deadline::OutOfTime>() => Err(Rejection::TooSlow(deadline.map_or(0, |d| d.millis))),
            Err(panic) => {
                let detail = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("libjpeg error");
                Err(corrupt(detail))
            }
        }
    }

    /// libjpeg has no clock, but it reports every scan and restart marker it reads to the error
    /// manager's `emit_message` (trace level 1 and 3). That is where the deadline is checked: a
    /// progressive file's time grows with its scans, and each is bounded by the pixel limit.
    #[allow(unsafe_code)]
    mod deadline {
        use std::cell::Cell;
        use std::os::raw::c_int;
        use std::time::Instant;

        use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr, jpeg_std_error};

        thread_local! {
            /// Per thread, because libjpeg calls back on the decoding thread with no user data.
            static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
        }

        /// The unwind payload for a decode stopped by its deadline.
        pub(super) struct OutOfTime;

        pub(super) struct Armed(Option<Instant>);

        pub(super) fn arm(at: Option<Instant>) -> Armed {
            Armed(DEADLINE.replace(at))
        }

        impl Drop for Armed {
            fn drop(&mut self) {
                DEADLINE.set(self.0);
            }
        }

        pub(super) fn error_mgr() -> jpeg_error_mgr {
            // SAFETY: jpeg_std_error only fills in the struct it is given.
            let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
            unsafe { jpeg_std_error(&mut err) };
            err.error_exit = Some(error_exit);
            err.emit_message = Some(emit_message);
            err
        }

        extern "C-unwind" fn emit_message(_cinfo: &mut jpeg_common_struct, _level: c_int) {
            if DEADLINE.get().is_some_and(|at| Instant::now() >= at) {
                std::panic::resume_unwind(Box::new(OutOfTime));
            }
        }

        /// As mozjpeg's own: libjpeg's message, unwound to `decode_rgb` (libjpeg's default exits).
        extern "C-unwind" fn error_exit(cinfo: &mut jpeg_common_struct) {
            let mut buffer = [0u8; 80];
            // SAFETY: `err` is the manager above; format_message writes at most 80 bytes (JMSG_LENGTH_MAX).
            let message = unsafe {
                match cinfo.err.as_ref().and_then(|e| e.format_message) {
                    Some(format) => {
                        let format: unsafe extern "C-unwind" fn(&mut jpeg_common_struct, &mut [u8; 80]) =
                            std::mem::transmute(format);
                        format(cinfo, &mut buffer);
                        String::from_utf8_lossy(buffer.split(|&c| c == 0).next().unwrap_or_default()).into_owned()
                    }
                    None => "unknown".into(),
                }
            };
            std::panic::resume_unwind(Box::new(format!("libjpeg fatal error: {message}")));
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn picks_the_smallest_covering_power_of_two() {
            assert_eq!(super::scaled_size(4000, 3000, 512, 384), (1000, 750)); // 1/4
            assert_eq!(super::scaled_size(1500, 1000, 512, 341), (750, 500)); // 1/2, not the 3/8 that covers
            assert_eq!(super::scaled_size(300, 200, 300, 200), (300, 200));
            assert_eq!(super::scaled_size(6028, 3391, 512, 288), (754, 424)); // 1/8
        }
    }
}

pub(crate) use turbo::scaled_size as turbo_scaled_size;

/// Whether the linked libjpeg-turbo has its SIMD IDCTs (the full and the 1/2 and 1/4 reduced
/// ones) on this CPU: `mozjpeg-sys` compiles `jsimd_none.c` instead, silently, when `nasm` is
/// missing at build time. Every function's `bootstrap --build-info` reports it to `package`.
#[allow(unsafe_code)]
pub fn jpeg_simd() -> bool {
    use std::os::raw::c_int;
    unsafe extern "C" {
        fn jsimd_can_idct_islow() -> c_int;
        fn jsimd_can_idct_4x4() -> c_int;
        fn jsimd_can_idct_2x2() -> c_int;
    }
    // SAFETY: libjpeg-turbo's capability queries take nothing and only read the CPU's features.
    unsafe { jsimd_can_idct_islow() != 0 && jsimd_can_idct_4x4() != 0 && jsimd_can_idct_2x2() != 0 }
}

/// jpeg-decoder's choice: the smallest of 1/8, 1/4, 1/2 and 1 that covers `want`.
pub(crate) fn decoder_scaled_size(full_w: u32, full_h: u32, want_w: u32, want_h: u32) -> (u32, u32) {
    [8u32, 4, 2, 1]
        .into_iter()
        .map(|d| (full_w.div_ceil(d), full_h.div_ceil(d)))
        .find(|&(w, h)| w >= want_w && h >= want_h)
        .unwrap_or((full_w, full_h))
}

fn clamp_u16(v: u32) -> u16 {
    u16::try_from(v.max(1)).unwrap_or(u16::MAX)
}

fn corrupt(detail: &str) -> Rejection {
    Rejection::Corrupt { format: NAME, detail: detail.to_string() }
}

fn map_err(e: jpeg_decoder::Error) -> Rejection {
    match e {
        jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Rejection::Truncated(NAME),
        jpeg_decoder::Error::Unsupported(f) => {
            Rejection::Corrupt { format: NAME, detail: format!("unsupported JPEG feature: {f:?}") }
        }
        other => Rejection::Corrupt { format: NAME, detail: other.to_string() },
    }
}
