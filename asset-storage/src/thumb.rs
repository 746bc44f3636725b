//! Thumbnails: derived objects beside the original (`<dir>/_thumb/<size>.<ext>`), made once
//! and reused. JPEG originals give JPEG thumbnails, the rest PNG. Decoding runs off the async
//! threads with limits on dimensions and memory, so a hostile image cannot exhaust the host.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::name::{self, Visibility};
use crate::storage::NewObject;
use crate::{Error, Object, Storage};

/// A named thumbnail size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbSize {
    /// Part of the thumbnail's key: lowercase letters, digits, `-`, `_`.
    pub name: String,
    pub width: u32,
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

/// Originals larger than this are not read for a thumbnail.
const MAX_SOURCE: u64 = 64 << 20;

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
        let (original, bytes) = self.read(key, MAX_SOURCE).await?;
        let jpeg = thumb.ends_with(".jpg");
        let s = size.clone();
        let k = key.to_owned();
        let encoded = tokio::task::spawn_blocking(move || render(&bytes, &s, jpeg))
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

/// Decodes, resizes and encodes one image.
fn render(bytes: &[u8], size: &ThumbSize, jpeg: bool) -> Result<Vec<u8>, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let (w, h) = (size.width.clamp(1, 4096), size.height.clamp(1, 4096));
    let out = if size.crop {
        img.resize_to_fill(w, h, image::imageops::FilterType::Lanczos3)
    } else {
        img.resize(w, h, image::imageops::FilterType::Lanczos3)
    };
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
        let out = render(&src, &ThumbSize::cropped("s", 10, 10), false).unwrap();
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!((img.width(), img.height()), (10, 10));
        let out = render(&src, &ThumbSize::fit("s", 10, 10), true).unwrap();
        assert!(out.starts_with(b"\xff\xd8\xff"));
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!((img.width(), img.height()), (10, 5));
    }

    #[test]
    fn garbage_and_bombs_are_errors() {
        assert!(render(b"not an image", &ThumbSize::fit("s", 1, 1), false).is_err());
        // A PNG header claiming 100,000 x 100,000 pixels.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(render(&bomb, &ThumbSize::fit("s", 1, 1), false).is_err());
    }
}
