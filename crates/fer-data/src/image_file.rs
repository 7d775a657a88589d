//! Reading an image file: by its content, not its extension, and with JPEG decoded exactly as
//! libjpeg-turbo decodes it for PIL and OpenCV (the islow integer IDCT and "fancy"
//! upsampling). FER2013 and the paper's RAF-DB and SFEW (4.1) are JPEG. The regression trees of the
//! landmark predictor and MTCNN's thresholds amplify a one-level pixel difference, so a decoder
//! that rounds differently from the one the reference tools used breaks their parity.
//!
//! JPEG goes through mozjpeg, which decodes with libjpeg-turbo's code, compiled from source by
//! the C compiler. Everything else goes through the `image` crate with the format guessed from
//! the bytes. So a JPEG named `.png` decodes, and a file that is neither is named as such.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, GrayImage, RgbImage};

use crate::error::{DataError, Result};

/// Images above this many pixels are refused before their pixels are allocated (a 1e5 x 1e5
/// header would otherwise ask for 10 GB). Faces datasets are far below it.
pub const MAX_PIXELS: usize = 64 << 20;

/// Reads and decodes the image at `path`; errors name the path.
pub fn read_image(path: &Path) -> Result<DynamicImage> {
    decode_image_file(path).map_err(|message| DataError::Image {
        path: path.to_path_buf(),
        message,
    })
}

/// Reads and decodes the image at `path`; the error is a message without the path (for
/// callers that list skipped files with their paths).
pub fn decode_image_file(path: &Path) -> std::result::Result<DynamicImage, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    decode_image(&bytes)
}

/// Decodes an image from its bytes, by content: JPEG (starting FF D8 FF) as libjpeg-turbo
/// does, PNG and the rest through `image`. The error is a message without the path.
pub fn decode_image(bytes: &[u8]) -> std::result::Result<DynamicImage, String> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return decode_jpeg(bytes);
    }
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    match reader.format() {
        Some(image::ImageFormat::Png) => {}
        Some(other) => return Err(format!("a {other:?} image: only PNG and JPEG are read")),
        None => return Err("neither PNG nor JPEG (judged by its content, not its name)".into()),
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| format!("unreadable header: {e}"))?;
    check_size(w as usize, h as usize)?;
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())
}

fn check_size(w: usize, h: usize) -> std::result::Result<(), String> {
    if w == 0 || h == 0 {
        return Err(format!("an image of {w}x{h} pixels is empty"));
    }
    if w.saturating_mul(h) > MAX_PIXELS {
        return Err(format!(
            "{w}x{h} pixels is above the limit of {} megapixels",
            MAX_PIXELS >> 20
        ));
    }
    Ok(())
}

/// libjpeg-turbo's decoding: islow IDCT, fancy upsampling; grayscale files stay one channel,
/// colour files become RGB (as PIL's `convert("RGB")`).
fn decode_jpeg(bytes: &[u8]) -> std::result::Result<DynamicImage, String> {
    // libjpeg reports a corrupt file by calling its error_exit, which mozjpeg turns into an
    // unwind (without the panic hook's message): caught here and returned as the message.
    let decoded = std::panic::catch_unwind(|| -> std::result::Result<DynamicImage, String> {
        let io = |e: std::io::Error| e.to_string();
        let mut d = mozjpeg::Decompress::new_mem(bytes).map_err(io)?;
        d.dct_method(mozjpeg::DctMethod::IntegerSlow);
        d.do_fancy_upsampling(true);
        let (w, h) = d.size();
        check_size(w, h)?;
        let (w32, h32) = (w as u32, h as u32);
        if d.components().len() == 1 {
            let mut s = d.grayscale().map_err(io)?;
            let px: Vec<u8> = s.read_scanlines().map_err(io)?;
            s.finish().map_err(io)?;
            GrayImage::from_raw(w32, h32, px)
                .map(DynamicImage::ImageLuma8)
                .ok_or_else(|| "truncated JPEG scan data".to_string())
        } else {
            let mut s = d.rgb().map_err(io)?;
            let px: Vec<u8> = s.read_scanlines().map_err(io)?;
            s.finish().map_err(io)?;
            RgbImage::from_raw(w32, h32, px)
                .map(DynamicImage::ImageRgb8)
                .ok_or_else(|| "truncated JPEG scan data".to_string())
        }
    });
    match decoded {
        Ok(result) => result,
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "corrupt JPEG".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(img: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn jpeg_bytes(img: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    fn gradient() -> DynamicImage {
        DynamicImage::ImageLuma8(GrayImage::from_fn(40, 30, |x, y| {
            image::Luma([(x * 5 + y * 3) as u8])
        }))
    }

    #[test]
    fn png_and_jpeg_decode_by_content_whatever_the_name() {
        let dir = std::env::temp_dir().join(format!("fer-image-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = gradient();
        // A JPEG named .png and a PNG named .jpg both decode.
        std::fs::write(dir.join("jpeg.png"), jpeg_bytes(&img)).unwrap();
        std::fs::write(dir.join("png.jpg"), png_bytes(&img)).unwrap();
        let j = read_image(&dir.join("jpeg.png")).unwrap();
        let p = read_image(&dir.join("png.jpg")).unwrap();
        assert_eq!((j.width(), j.height()), (40, 30));
        assert_eq!(p.to_luma8(), img.to_luma8());
        // Lossy, but close to the original.
        let worst = j
            .to_luma8()
            .pixels()
            .zip(img.to_luma8().pixels())
            .map(|(a, b)| (a[0] as i32 - b[0] as i32).abs())
            .max()
            .unwrap();
        assert!(worst <= 32, "{worst}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_truncated_and_foreign_files_are_errors_not_panics() {
        let jpeg = jpeg_bytes(&gradient());
        for (bytes, expect) in [
            (b"GIF89a....".to_vec(), "only PNG and JPEG"),
            (b"hello".to_vec(), "neither PNG nor JPEG"),
            (Vec::new(), "neither PNG nor JPEG"),
            (jpeg[..20].to_vec(), ""),
            ([&jpeg[..3], &[0u8; 200][..]].concat(), ""),
            (png_bytes(&gradient())[..40].to_vec(), ""),
        ] {
            let e = decode_image(&bytes).expect_err("an error");
            assert!(e.contains(expect), "{e}");
        }
        let e = read_image(Path::new("/nonexistent/face.png"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/face.png: "), "{e}");
    }

    #[test]
    fn a_huge_header_is_refused_before_allocation() {
        // A JPEG whose frame header (SOF0: FF C0, length, precision, height, width) claims
        // 60000 x 60000 pixels.
        let mut jpeg = jpeg_bytes(&gradient());
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline frame header");
        jpeg[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
        let e = decode_image(&jpeg).expect_err("refused");
        assert!(e.contains("60000x60000 pixels is above the limit"), "{e}");
    }
}
