//! Thumbnails: derived objects beside the original (`<dir>/_thumb/<size>.<ext>`), made once
//! and reused. JPEG originals give JPEG thumbnails, the rest PNG. Every figure is a
//! [`crate::Budgets`] one: the original's size and pixel count are checked before it is
//! decoded, the decoder's allocations are capped, the crop is taken before scaling and the
//! scaling reads the original in place (no intermediate larger than the original), a
//! thumbnail is never larger than what it shows, and a semaphore bounds how many are made at
//! once. Decoding runs off the async threads.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits, imageops};

use crate::name::{self, Visibility};
use crate::storage::{Budgets, NewObject};
use crate::{Error, Object, Storage};

/// A named thumbnail size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbSize {
    /// Part of the thumbnail's key: lowercase letters, digits, `-`, `_`.
    pub name: String,
    /// The box's width, in pixels.
    pub width: u32,
    /// The box's height, in pixels.
    pub height: u32,
    /// `true`: fill the box and crop the overflow (centred); `false`: fit inside it.
    pub crop: bool,
}

impl ThumbSize {
    /// A box of `width` x `height`, cropped to fill it.
    pub fn cropped(name: &str, width: u32, height: u32) -> ThumbSize {
        ThumbSize {
            name: name.to_owned(),
            width,
            height,
            crop: true,
        }
    }
    /// Fits inside `width` x `height`, aspect ratio kept.
    pub fn fit(name: &str, width: u32, height: u32) -> ThumbSize {
        ThumbSize {
            name: name.to_owned(),
            width,
            height,
            crop: false,
        }
    }
}

impl Storage {
    /// The key `key`'s thumbnail of `size` has (or will have): the app may store it and
    /// build its URL with no request to the store.
    ///
    /// # Errors
    /// An invalid key or size name.
    pub fn thumbnail_key(&self, key: &str, size: &ThumbSize) -> Result<String, Error> {
        name::check_key(key)?;
        name::check_use_prefix(&size.name)
            .map_err(|_| Error::Config(format!("thumbnail size name `{}`", size.name)))?;
        let ext = if is_jpeg_name(key) { "jpg" } else { "png" };
        Ok(name::thumbnail_key(key, &size.name, ext))
    }

    /// The URL of `original`'s thumbnail at `size` (public, or signed like the original),
    /// with no request to the store: for thumbnails the app made when it saved the original.
    ///
    /// # Errors
    /// An invalid key or size name, or signing failed.
    pub async fn thumbnail_url(
        &self,
        original: &Object,
        size: &ThumbSize,
    ) -> Result<String, Error> {
        let key = self.thumbnail_key(&original.key, size)?;
        let jpeg = key.ends_with(".jpg");
        let thumb = Object {
            visibility: original.visibility,
            size: 0,
            content_type: if jpeg { "image/jpeg" } else { "image/png" }.into(),
            original_name: thumb_name(&original.original_name, size, jpeg),
            modified_ms: None,
            key,
        };
        self.url(&thumb).await
    }

    /// The thumbnail of `key` at `size`, made and stored if it does not exist yet: one
    /// request when it exists; otherwise the original is read, resized and stored (never
    /// over a thumbnail another instance just made).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Image`] for what is not a readable image, or the store
    /// failed.
    pub async fn thumbnail(&self, key: &str, size: &ThumbSize) -> Result<Object, Error> {
        let thumb = self.thumbnail_key(key, size)?;
        match self.metadata(&thumb).await {
            Ok(o) => return Ok(o),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let budgets = self.inner.settings.budgets.clone();
        // Waiting for a turn costs nothing but the request; the permit is held until the
        // image is made, across the blocking task.
        let _turn = self
            .inner
            .thumbnails
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Config("the thumbnail queue is closed".into()))?;
        let (original, bytes) = self.read(key, budgets.thumbnail_source_bytes).await?;
        let jpeg = thumb.ends_with(".jpg");
        let s = size.clone();
        let k = key.to_owned();
        let encoded = tokio::task::spawn_blocking(move || render(&bytes, &s, jpeg, &budgets))
            .await
            .map_err(|e| Error::Image {
                key: k.clone(),
                message: format!("the resizer stopped: {e}"),
            })?
            .map_err(|message| Error::Image { key: k, message })?;
        let meta = NewObject {
            content_type: if jpeg { "image/jpeg" } else { "image/png" }.into(),
            original_name: thumb_name(&original.original_name, size, jpeg),
            cache_control: None,
        };
        let len = encoded.len() as u64;
        let body = futures::stream::iter([Ok(bytes::Bytes::from(encoded))]);
        match self.put_exact(&thumb, &meta, body, u64::MAX).await {
            Ok(_) => {}
            // Made meanwhile by another request: the same bytes.
            Err(Error::AlreadyExists { .. }) => return self.metadata(&thumb).await,
            Err(e) => return Err(e),
        }
        Ok(Object {
            visibility: Visibility::of(&thumb).unwrap_or(Visibility::Private),
            key: thumb,
            size: len,
            content_type: meta.content_type,
            original_name: meta.original_name,
            modified_ms: None,
        })
    }
}

/// The download name of a thumbnail: `photo-small.jpg` for `photo.jpeg`.
fn thumb_name(original: &str, size: &ThumbSize, jpeg: bool) -> String {
    let stem = original.rsplit_once('.').map_or(original, |(s, _)| s);
    format!("{stem}-{}.{}", size.name, if jpeg { "jpg" } else { "png" })
}

fn is_jpeg_name(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    [".jpg", ".jpeg", ".jpe", ".jfif"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// Decodes, crops, scales and encodes one image within `budgets`.
fn render(
    bytes: &[u8],
    size: &ThumbSize,
    jpeg: bool,
    budgets: &Budgets,
) -> Result<Vec<u8>, String> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| e.to_string())
    };
    let (width, height) = reader()?.into_dimensions().map_err(|e| e.to_string())?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > budgets.thumbnail_pixels {
        return Err(format!(
            "{width} x {height} is {pixels} pixels, over the budget of {}",
            budgets.thumbnail_pixels
        ));
    }
    let mut reader = reader()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(budgets.thumbnail_memory);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let (x, y, w, h, out_w, out_h) = plan(img.width(), img.height(), size);
    let out = DynamicImage::ImageRgba8(imageops::thumbnail(
        &*imageops::crop_imm(&img, x, y, w, h),
        out_w,
        out_h,
    ));
    drop(img);
    let mut buf = Cursor::new(Vec::new());
    if jpeg {
        out.to_rgb8()
            .write_to(&mut buf, ImageFormat::Jpeg)
            .map_err(|e| e.to_string())?;
    } else {
        out.write_to(&mut buf, ImageFormat::Png)
            .map_err(|e| e.to_string())?;
    }
    Ok(buf.into_inner())
}

/// The part of a `width` x `height` original a thumbnail shows (`x`, `y`, `w`, `h`) and the
/// thumbnail's size: a crop takes the largest centred part with the box's aspect ratio, a fit
/// all of it; the result fits the box (at most 4096 x 4096) and is never larger than the part
/// it shows (no upscaling), nor smaller than 1 x 1.
fn plan(width: u32, height: u32, size: &ThumbSize) -> (u32, u32, u32, u32, u32, u32) {
    let (bw, bh) = (
        u64::from(size.width.clamp(1, 4096)),
        u64::from(size.height.clamp(1, 4096)),
    );
    let (iw, ih) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let (x, y, w, h) = if size.crop {
        // The box's aspect ratio inside the original: as wide as possible, else as tall.
        if iw * bh >= ih * bw {
            let w = (ih * bw / bh).clamp(1, iw);
            ((iw - w) / 2, 0, w, ih)
        } else {
            let h = (iw * bh / bw).clamp(1, ih);
            (0, (ih - h) / 2, iw, h)
        }
    } else {
        (0, 0, iw, ih)
    };
    // Scale to fit the box, never up.
    let (ow, oh) = if w * bh >= h * bw {
        let ow = bw.min(w);
        (ow, (h * ow / w).max(1))
    } else {
        let oh = bh.min(h);
        ((w * oh / h).max(1), oh)
    };
    let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    (n(x), n(y), n(w), n(h), n(ow), n(oh))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([x as u8, y as u8, 99, 255]));
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, ImageFormat::Png).unwrap();
        buf.into_inner()
    }

    #[test]
    fn crops_and_fits() {
        let src = png(40, 20);
        let b = Budgets::default();
        let out = render(&src, &ThumbSize::cropped("s", 10, 10), false, &b).unwrap();
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!((img.width(), img.height()), (10, 10));
        let out = render(&src, &ThumbSize::fit("s", 10, 10), true, &b).unwrap();
        assert!(out.starts_with(b"\xff\xd8\xff"));
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!((img.width(), img.height()), (10, 5));
    }

    #[test]
    fn garbage_and_bombs_are_errors() {
        let b = Budgets::default();
        assert!(render(b"not an image", &ThumbSize::fit("s", 1, 1), false, &b).is_err());
        // A PNG header claiming 100,000 x 100,000 pixels.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(render(&bomb, &ThumbSize::fit("s", 1, 1), false, &b).is_err());
    }

    #[test]
    fn the_crop_comes_before_the_scaling_and_nothing_is_scaled_up() {
        let crop = |w, h, bw, bh| plan(w, h, &ThumbSize::cropped("s", bw, bh));
        let fit = |w, h, bw, bh| plan(w, h, &ThumbSize::fit("s", bw, bh));
        // The hostile case: a 12000 x 1 strip into a 96 x 96 box shows 1 x 1 pixel.
        assert_eq!(crop(12_000, 1, 96, 96), (5999, 0, 1, 1, 1, 1));
        assert_eq!(crop(4000, 3000, 100, 100), (500, 0, 3000, 3000, 100, 100));
        assert_eq!(crop(3000, 4000, 200, 100), (0, 1250, 3000, 1500, 200, 100));
        assert_eq!(crop(10, 10, 4096, 4096), (0, 0, 10, 10, 10, 10));
        assert_eq!(fit(40, 20, 10, 10), (0, 0, 40, 20, 10, 5));
        assert_eq!(fit(12_000, 1, 96, 96), (0, 0, 12_000, 1, 96, 1));
        assert_eq!(fit(5, 5, 4096, 9999), (0, 0, 5, 5, 5, 5));
    }

    #[test]
    fn images_over_the_pixel_budget_are_refused_before_decoding() {
        let b = Budgets {
            thumbnail_pixels: 40 * 20 - 1,
            ..Budgets::default()
        };
        let e = render(&png(40, 20), &ThumbSize::fit("s", 10, 10), false, &b).unwrap_err();
        assert!(e.contains("800 pixels, over the budget of 799"), "{e}");
        let b = Budgets {
            thumbnail_pixels: 40 * 20,
            ..Budgets::default()
        };
        assert!(render(&png(40, 20), &ThumbSize::fit("s", 10, 10), false, &b).is_ok());
    }
}
