//! Source maps of minified output, kept true after placeholders are filled in: each
//! replacement moves the generated columns after it on its line by its change in length.

/// One replacement in generated code: at `line` (0-based), `col` (0-based, UTF-16 units),
/// the text grew by `delta` units (negative: shrank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edit {
    pub line: u32,
    pub col: u32,
    pub delta: i64,
    /// An insertion before `col`: mappings at `col` itself move too.
    pub before: bool,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn decode_vlq(s: &[u8]) -> Option<(i64, usize)> {
    let mut value: i64 = 0;
    let mut shift = 0;
    for (i, &c) in s.iter().enumerate() {
        let digit = B64.iter().position(|&b| b == c)? as i64;
        value |= (digit & 31) << shift;
        if digit & 32 == 0 {
            let v = if value & 1 == 1 {
                -(value >> 1)
            } else {
                value >> 1
            };
            return Some((v, i + 1));
        }
        shift += 5;
        if shift > 60 {
            return None;
        }
    }
    None
}

fn encode_vlq(out: &mut String, v: i64) {
    let mut v = if v < 0 { ((-v) << 1) | 1 } else { v << 1 };
    loop {
        let mut digit = v & 31;
        v >>= 5;
        if v > 0 {
            digit |= 32;
        }
        out.push(B64[digit as usize] as char);
        if v == 0 {
            break;
        }
    }
}

/// `mappings` (source map v3) with the generated column of every segment on the lines
/// `touch` selects replaced by `column(line, old column)`; other lines are kept verbatim.
fn map_columns(
    mappings: &str,
    touch: impl Fn(usize) -> bool,
    column: impl Fn(usize, i64) -> i64,
) -> Result<String, String> {
    let mut out = String::with_capacity(mappings.len() + 16);
    for (line_no, line) in mappings.split(';').enumerate() {
        if line_no > 0 {
            out.push(';');
        }
        if !touch(line_no) {
            out.push_str(line);
            continue;
        }
        let (mut prev_old, mut prev_new) = (0i64, 0i64);
        for (k, seg) in line.split(',').enumerate() {
            if k > 0 {
                out.push(',');
            }
            if seg.is_empty() {
                continue;
            }
            let (rel, used) =
                decode_vlq(seg.as_bytes()).ok_or_else(|| format!("bad mapping segment `{seg}`"))?;
            let old = prev_old + rel;
            let new = column(line_no, old);
            encode_vlq(&mut out, new - prev_new);
            out.push_str(&seg[used..]);
            prev_old = old;
            prev_new = new;
        }
    }
    Ok(out)
}

/// Moves the generated columns of `mappings` (source map v3) by `edits` (sorted by line,
/// then column; positions before the edits were applied).
///
/// # Errors
/// Malformed mappings.
pub(crate) fn shift_mappings(mappings: &str, edits: &[Edit]) -> Result<String, String> {
    map_columns(
        mappings,
        |line| edits.iter().any(|e| e.line as usize == line),
        |line, old| {
            let moved: i64 = edits
                .iter()
                .filter(|e| e.line as usize == line)
                .filter(|e| (e.col as i64) < old || (e.before && e.col as i64 == old))
                .map(|e| e.delta)
                .sum();
            old + moved
        },
    )
}

/// `mappings` whose generated columns count bytes of `code` (lightningcss's printer), with
/// those columns counted in UTF-16 units as source maps and every other stage count them.
///
/// # Errors
/// Malformed mappings.
pub(crate) fn byte_columns_to_utf16(mappings: &str, code: &str) -> Result<String, String> {
    if code.is_ascii() {
        return Ok(mappings.to_owned());
    }
    let lines: Vec<&str> = code.split('\n').collect();
    map_columns(
        mappings,
        |_| true,
        |line, old| {
            let text = lines.get(line).copied().unwrap_or("");
            let mut byte = (old.max(0) as usize).min(text.len());
            while !text.is_char_boundary(byte) {
                byte -= 1;
            }
            text[..byte].encode_utf16().count() as i64
        },
    )
}

/// The map JSON with its `mappings` shifted by `edits`, and no `file` field (the map is named
/// by its own hash, so it cannot name the file that names it).
///
/// # Errors
/// Not a source map.
pub(crate) fn adjust(map: &str, edits: &[Edit]) -> Result<String, String> {
    let mut v: serde_json::Value = serde_json::from_str(map).map_err(|e| e.to_string())?;
    let obj = v.as_object_mut().ok_or("a source map is a JSON object")?;
    obj.remove("file");
    if !edits.is_empty() {
        let m = obj
            .get("mappings")
            .and_then(|m| m.as_str())
            .ok_or("no mappings")?;
        let shifted = shift_mappings(m, edits)?;
        obj.insert("mappings".into(), shifted.into());
    }
    serde_json::to_string(&v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_line(line: &str) -> Vec<i64> {
        let mut col = 0;
        line.split(',')
            .map(|s| {
                col += decode_vlq(s.as_bytes()).unwrap().0;
                col
            })
            .collect()
    }

    #[test]
    fn byte_columns_become_utf16_columns() {
        let mut m = String::new();
        encode_vlq(&mut m, 0);
        m.push_str("AAA,");
        encode_vlq(&mut m, 13);
        m.push_str("AAC");
        // `é` is two bytes and one UTF-16 unit: the second segment moves from 13 to 12.
        let code = "a{content:\"é\"}b{}";
        let out = byte_columns_to_utf16(&m, code).unwrap();
        assert_eq!(decode_line(&out), [0, 12]);
        assert_eq!(byte_columns_to_utf16(&m, "ascii only").unwrap(), m);
    }

    #[test]
    fn vlq_round_trips() {
        for v in [0, 1, -1, 15, 16, -16, 1000, -123456] {
            let mut s = String::new();
            encode_vlq(&mut s, v);
            assert_eq!(decode_vlq(s.as_bytes()), Some((v, s.len())), "{v}");
        }
    }

    #[test]
    fn columns_after_an_edit_move() {
        // Segments at columns 0, 10, 20 (with source fields), one line.
        let m = "AAAA,UAAU,UAAU";
        let shifted = shift_mappings(
            m,
            &[Edit {
                line: 0,
                col: 5,
                delta: 7,
                before: false,
            }],
        )
        .unwrap();
        assert_eq!(decode_line(&shifted), [0, 17, 27]);
        let two = shift_mappings(
            m,
            &[
                Edit {
                    line: 0,
                    col: 5,
                    delta: 7,
                    before: false,
                },
                Edit {
                    line: 0,
                    col: 15,
                    delta: -3,
                    before: false,
                },
            ],
        )
        .unwrap();
        assert_eq!(decode_line(&two), [0, 17, 24]);
        assert_eq!(
            shift_mappings(
                "AAAA;AAAA",
                &[Edit {
                    line: 1,
                    col: 0,
                    delta: 0,
                    before: false
                }]
            )
            .unwrap(),
            "AAAA;AAAA"
        );
    }
}
