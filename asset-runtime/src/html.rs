//! HTML tags for assets, with `integrity` and `crossorigin`, attribute values escaped.

use std::fmt::Write as _;

use crate::{Asset, Assets};

impl Assets {
    /// `<script type="importmap">` whose `integrity` map gives every JavaScript asset's hash,
    /// so that modules loaded by `import` (not only by a `<script>` tag) are checked too.
    /// Put it before the first module script.
    pub fn import_map_tag(&self) -> String {
        let mut s = String::from("<script type=\"importmap\">{\"integrity\":{");
        let mut first = true;
        for a in self
            .iter()
            .filter(|a| a.content_type().starts_with("text/javascript"))
        {
            if !first {
                s.push(',');
            }
            first = false;
            // Base URLs and encoded paths hold no quotes, backslashes or angle brackets.
            let _ = write!(s, "\"{a}\":\"{}\"", a.integrity());
        }
        s.push_str("}}</script>");
        s
    }
}

impl Asset {
    /// `<link rel="stylesheet" href=".." integrity=".." crossorigin="anonymous">`
    pub fn stylesheet_tag(&self) -> String {
        self.tag("<link rel=\"stylesheet\" href=\"", "\">")
    }
    /// `<script src=".." integrity=".." crossorigin="anonymous"></script>` (classic script, deferred).
    pub fn script_tag(&self) -> String {
        self.tag("<script defer src=\"", "\"></script>")
    }
    /// `<script type="module" src=".." integrity=".." crossorigin="anonymous"></script>`
    pub fn module_tag(&self) -> String {
        self.tag("<script type=\"module\" src=\"", "\"></script>")
    }
    /// `<link rel="preload" as=".." href=".." ...>` for fonts and images.
    pub fn preload_tag(&self, kind: &str) -> String {
        let mut start = String::from("<link rel=\"preload\" as=\"");
        escape_into(&mut start, kind);
        start.push_str("\" href=\"");
        self.tag(&start, "\">")
    }

    fn tag(&self, start: &str, end: &str) -> String {
        let mut s = String::with_capacity(200);
        s.push_str(start);
        escape_into(&mut s, &self.to_string());
        // `start` ends inside the URL attribute's quotes; `end` closes the tag.
        let close = &end[..1];
        s.push_str(close);
        let _ = write!(s, " integrity=\"");
        escape_into(&mut s, self.integrity());
        s.push_str("\" crossorigin=\"anonymous");
        s.push_str(end);
        s
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for an attribute value.
pub(crate) fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}
