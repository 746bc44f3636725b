//! Settings of one pipeline run: given in code through [`Config`]'s builder methods, or read
//! from `[package.metadata.assets]` in the package's `Cargo.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// What to do with a CSS `@import` of another asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CssImports {
    /// The imported file is its own hashed asset; the `@import` points at it.
    #[default]
    Keep,
    /// The imported file's rules replace the `@import`, with its `url()`s rebased.
    Inline,
}

/// What to do with a CSS rule, declaration or media query browsers would drop as invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvalidCss {
    /// Drop it as browsers do, with a `path:line:col` warning; the rest ships minified.
    #[default]
    Warn,
    /// Fail the build.
    Error,
}

/// How a relative reference to a file that is not an asset is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missing {
    /// The build fails.
    #[default]
    Error,
    /// The build warns and leaves the reference as written.
    Warn,
}

/// How JSX (`.jsx`, `.tsx`) becomes JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jsx {
    /// `import { jsx } from "<import source>/jsx-runtime"`, added where JSX is used (React
    /// 17+, Preact, Solid...).
    Automatic {
        /// The package (`react`, `preact`).
        import_source: String,
    },
    /// Calls of `pragma` (`React.createElement`, `h`) and `pragma_frag` for fragments; the
    /// module must have them in scope.
    Classic {
        /// The element function (`React.createElement`, `h`).
        pragma: String,
        /// The fragment (`React.Fragment`, `Fragment`).
        pragma_frag: String,
    },
}

impl Default for Jsx {
    fn default() -> Self {
        Jsx::Automatic {
            import_source: "react".into(),
        }
    }
}

/// Browser versions the CSS is written for, as `(name, major, minor)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets(pub Vec<(String, u32, u32)>);

impl Default for Targets {
    /// Browsers released since early 2023 (roughly Baseline "widely available").
    fn default() -> Self {
        Targets::parse(&[
            "chrome 109",
            "edge 109",
            "firefox 115",
            "safari 15.6",
            "ios_saf 15.6",
            "samsung 21",
            "opera 95",
        ])
        .expect("default targets parse")
    }
}

impl Targets {
    /// Parses entries like `"chrome 109"` or `"safari 15.6"`.
    ///
    /// # Errors
    /// An unknown browser or a malformed version.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Targets> {
        const KNOWN: &[&str] = &[
            "android", "chrome", "edge", "firefox", "ie", "ios_saf", "opera", "safari", "samsung",
        ];
        let mut out = Vec::new();
        for e in entries {
            let e = e.as_ref();
            let bad = || {
                Error::Config(format!(
                    "browser target `{e}`: expected `<browser> <version>`, browser one of {}",
                    KNOWN.join(", ")
                ))
            };
            let (name, ver) = e.trim().split_once(char::is_whitespace).ok_or_else(bad)?;
            let name = name.to_ascii_lowercase();
            if !KNOWN.contains(&name.as_str()) {
                return Err(bad());
            }
            let ver = ver.trim().trim_start_matches(">=").trim();
            let (major, minor) = ver.split_once('.').unwrap_or((ver, "0"));
            let major = major.parse().map_err(|_| bad())?;
            let minor = minor.parse().map_err(|_| bad())?;
            out.push((name, major, minor));
        }
        Ok(Targets(out))
    }
}

/// Files over this many bytes are "large" for [`Config::brotli_large`]: 128 KiB.
pub(crate) const LARGE: usize = 128 * 1024;

/// Settings of the pipeline. Build one with [`Config::new`] and the builder methods, or read
/// it from a package's `Cargo.toml` with [`Config::from_package`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) source: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) targets: Targets,
    pub(crate) css_imports: CssImports,
    pub(crate) invalid_css: InvalidCss,
    pub(crate) missing: Missing,
    pub(crate) minify: bool,
    pub(crate) source_maps: bool,
    pub(crate) gzip: Option<u32>,
    pub(crate) brotli: Option<u32>,
    pub(crate) brotli_large: u32,
    pub(crate) embed: bool,
    pub(crate) allow_empty: bool,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) jobs: usize,
    pub(crate) load_paths: Vec<PathBuf>,
    pub(crate) jsx: Jsx,
    pub(crate) bundles: BTreeMap<String, Vec<String>>,
    pub(crate) ship_bundle_parts: bool,
}

impl Config {
    /// Settings that read assets from `source` and write the output tree into `out`.
    pub fn new(source: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Config {
        Config {
            source: source.into(),
            out: out.into(),
            targets: Targets::default(),
            css_imports: CssImports::Keep,
            invalid_css: InvalidCss::Warn,
            missing: Missing::Error,
            minify: true,
            source_maps: false,
            gzip: Some(9),
            brotli: Some(11),
            brotli_large: 10,
            embed: true,
            allow_empty: false,
            cache_dir: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_paths: Vec::new(),
            jsx: Jsx::default(),
            bundles: BTreeMap::new(),
            ship_bundle_parts: true,
        }
    }

    /// Reads the assets from another directory (the other settings stay).
    pub fn with_source(mut self, source: impl Into<PathBuf>) -> Self {
        self.source = source.into();
        self
    }
    /// Browser targets for CSS, e.g. `["chrome 109", "safari 15.6"]`.
    pub fn targets(mut self, targets: Targets) -> Self {
        self.targets = targets;
        self
    }
    /// Keep `@import`ed files as their own assets (the default) or inline them.
    pub fn css_imports(mut self, mode: CssImports) -> Self {
        self.css_imports = mode;
        self
    }
    /// Drop CSS that browsers drop as invalid, with a warning (the default), or fail.
    pub fn invalid_css(mut self, mode: InvalidCss) -> Self {
        self.invalid_css = mode;
        self
    }
    /// Fail (the default) or warn on references to files that are not assets.
    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }
    /// Minify CSS and JS (on by default). Off ships the files as written, on purpose.
    pub fn minify(mut self, on: bool) -> Self {
        self.minify = on;
        self
    }
    /// Give minified CSS and JS their own source map (`<name>.map`, hashed too).
    pub fn source_maps(mut self, on: bool) -> Self {
        self.source_maps = on;
        self
    }
    /// gzip level 1-9, or `None` for no `.gz` variants.
    pub fn gzip(mut self, level: Option<u32>) -> Self {
        self.gzip = level;
        self
    }
    /// brotli quality 0-11, or `None` for no `.br` variants.
    pub fn brotli(mut self, quality: Option<u32>) -> Self {
        self.brotli = quality;
        self
    }
    /// brotli quality for files over [`LARGE`] bytes (10 by default; the lower of this and
    /// [`Config::brotli`] applies). On the bench corpus quality 10 takes a third of the time
    /// of 11 and its output is 2–3% larger for those files: 1.0% of all brotli bytes.
    pub fn brotli_large(mut self, quality: u32) -> Self {
        self.brotli_large = quality.min(11);
        self
    }
    /// The brotli quality for `logical`, `len` bytes long, if brotli is on.
    ///
    /// A binary font never gets quality 10, but 9: quality 10's search for long matches finds
    /// few in glyph outlines. On the npm corpus's four fonts over 128 KiB (Material Design
    /// Icons' .ttf and .eot, Font Awesome's solid and brands .ttf) quality 9 took 0.16x the
    /// time of 10 for 0.997x its bytes. Quality 11 still pays off for them (0.93x the bytes of
    /// 10), and stays where it is asked for.
    pub(crate) fn brotli_for(&self, logical: &str, len: usize) -> Option<u32> {
        self.brotli.map(|q| {
            let q = if len > LARGE {
                q.min(self.brotli_large)
            } else {
                q
            };
            let font = matches!(
                crate::scan::content_type(logical).0,
                "font/ttf" | "font/otf" | "application/vnd.ms-fontobject"
            );
            if q == 10 && font { 9 } else { q }
        })
    }
    /// Embed the files in the binary (on by default); off for a CDN-only build.
    pub fn embed(mut self, on: bool) -> Self {
        self.embed = on;
        self
    }
    /// Ship empty files instead of failing on them.
    pub fn allow_empty(mut self, on: bool) -> Self {
        self.allow_empty = on;
        self
    }
    /// Where transformed and compressed results are kept between runs.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }
    /// How many threads transform and compress (default: the number of cores).
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = n.max(1);
        self
    }

    /// Folders where Sass `@use`, `@forward` and `@import` look after the importing file's
    /// own folder (e.g. `node_modules/bootstrap/scss`). Added to the ones already set.
    pub fn load_paths<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.load_paths.extend(paths.into_iter().map(Into::into));
        self
    }
    /// How JSX is compiled (default: the automatic runtime from `react`).
    pub fn jsx(mut self, jsx: Jsx) -> Self {
        self.jsx = jsx;
        self
    }
    /// A named bundle: the parts (logical paths, in order) joined into one asset called
    /// `name`, which is minified, hashed and compressed like any file. All parts are CSS, or
    /// all are classic scripts; one ES module alone is bundled with its static imports.
    pub fn bundle<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        parts: impl IntoIterator<Item = S>,
    ) -> Self {
        self.bundles
            .insert(name.into(), parts.into_iter().map(Into::into).collect());
        self
    }
    /// Whether the parts of bundles are shipped as assets of their own too (default: yes).
    pub fn ship_bundle_parts(mut self, on: bool) -> Self {
        self.ship_bundle_parts = on;
        self
    }

    /// The asset directory.
    pub fn source(&self) -> &Path {
        &self.source
    }
    /// The output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }
    /// Whether files are embedded in the binary.
    pub fn embeds(&self) -> bool {
        self.embed
    }

    /// Reads `[package.metadata.assets]` of the package whose `Cargo.toml` is in
    /// `manifest_dir`; `dir` (default `assets`) is relative to it.
    ///
    /// # Errors
    /// An unreadable `Cargo.toml`, or a setting with the wrong name or type.
    pub fn from_package(manifest_dir: &Path, out: impl Into<PathBuf>) -> Result<Config> {
        let path = manifest_dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        let meta = Metadata::from_cargo_toml(&text)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
            .relative_to(manifest_dir);
        meta.apply(Config::new(&meta.dir, out))
    }

    /// Every setting the output tree depends on (for reusing the last run's outputs).
    pub(crate) fn output_fingerprint(&self) -> String {
        format!(
            "{};source={:?};gzip={:?};brotli={:?}/{};missing={:?};empty={};bundles={:?}/{};version={}",
            self.transform_fingerprint(),
            self.source,
            self.gzip,
            self.brotli,
            self.brotli_large,
            self.missing,
            self.allow_empty,
            self.bundles,
            self.ship_bundle_parts,
            env!("CARGO_PKG_VERSION")
        )
    }

    /// A stable description of everything besides a file's bytes and name that decides its
    /// transform: the settings,
    /// and where the tree and the load paths are (two apps' `css/app.scss` with the same
    /// bytes read different partials).
    pub(crate) fn transform_fingerprint(&self) -> String {
        format!(
            "tree={:?};targets={:?};imports={:?};invalid-css={:?};minify={};maps={};load-paths={:?};jsx={:?}",
            canonical(&self.source),
            self.targets.0,
            self.css_imports,
            self.invalid_css,
            self.minify,
            self.source_maps,
            self.load_paths
                .iter()
                .map(|p| canonical(p))
                .collect::<Vec<_>>(),
            self.jsx
        )
    }
}

/// `path` as the file system resolves it (as given when it cannot).
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

mod metadata;

pub use metadata::{JsxRuntime, Metadata};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_versions() {
        let t = Targets::parse(&["chrome 109", "safari 15.6", "firefox >= 115"]).unwrap();
        assert_eq!(
            t.0,
            vec![
                ("chrome".into(), 109, 0),
                ("safari".into(), 15, 6),
                ("firefox".into(), 115, 0)
            ]
        );
        assert!(
            Targets::parse(&["netscape 4"])
                .unwrap_err()
                .to_string()
                .contains("netscape 4")
        );
    }

    #[test]
    fn metadata_reads_settings() {
        let m = Metadata::from_cargo_toml(
            "[package]\nname='x'\n[package.metadata.assets]\ndir='static'\ngzip=false\nbrotli=5\ncss-imports='inline'\n",
        )
        .unwrap();
        let c = m.apply(Config::new("static", "out")).unwrap();
        assert_eq!(
            (c.gzip, c.brotli, c.css_imports),
            (None, Some(5), CssImports::Inline)
        );
        assert_eq!(m.dir, PathBuf::from("static"));
    }

    #[test]
    fn large_files_get_the_large_brotli_quality() {
        let c = Config::new("a", "b");
        assert_eq!(c.brotli_for("a.js", LARGE), Some(11));
        assert_eq!(c.brotli_for("a.js", LARGE + 1), Some(10));
        assert_eq!(c.brotli_for("f.ttf", LARGE), Some(11), "fonts keep 11");
        assert_eq!(
            c.brotli_for("f.ttf", LARGE + 1),
            Some(9),
            "and never get 10"
        );
        assert_eq!(c.brotli_for("f.eot", LARGE + 1), Some(9));
        assert_eq!(c.brotli_for("f.otf", LARGE + 1), Some(9));
        let c = c.brotli(Some(5));
        assert_eq!(
            c.brotli_for("a.js", LARGE + 1),
            Some(5),
            "never above the brotli setting"
        );
        assert_eq!(c.brotli(None).brotli_for("a.js", 1), None);
        let m = Metadata::from_cargo_toml("[package.metadata.assets]\nbrotli-large=11\n").unwrap();
        let c = m.apply(Config::new("a", "b")).unwrap();
        assert_eq!(c.brotli_for("a.js", LARGE + 1), Some(11));
        assert_eq!(c.brotli_for("f.ttf", LARGE + 1), Some(11));
        let m = Metadata::from_cargo_toml("[package.metadata.assets]\nbrotli-large=12\n").unwrap();
        let e = m.apply(Config::new("a", "b")).unwrap_err().to_string();
        assert!(e.contains("brotli-large quality 12"), "{e}");
    }

    #[test]
    fn jsx_and_bundle_settings_are_read() {
        let m = Metadata::from_cargo_toml(
            "[package.metadata.assets]\njsx-runtime='classic'\njsx-pragma='h'\nload-paths=['vendor/scss']\nship-bundle-parts=false\n[package.metadata.assets.bundles]\n'js/site.js'=['js/a.js','js/b.js']\n",
        )
        .unwrap()
        .relative_to(Path::new("/pkg"));
        let c = m.apply(Config::new("a", "b")).unwrap();
        assert_eq!(
            c.jsx,
            Jsx::Classic {
                pragma: "h".into(),
                pragma_frag: "React.Fragment".into()
            }
        );
        assert_eq!(c.load_paths, vec![PathBuf::from("/pkg/vendor/scss")]);
        assert_eq!(c.bundles["js/site.js"], vec!["js/a.js", "js/b.js"]);
        assert!(!c.ship_bundle_parts);
        let m = Metadata::from_cargo_toml("[package.metadata.assets]\njsx-pragma='h'\n").unwrap();
        let e = m.apply(Config::new("a", "b")).unwrap_err().to_string();
        assert!(e.contains("jsx-pragma"), "{e}");
        let m =
            Metadata::from_cargo_toml("[package.metadata.assets]\njsx-import-source='preact'\n")
                .unwrap();
        let c = m.apply(Config::new("a", "b")).unwrap();
        assert_eq!(
            c.jsx,
            Jsx::Automatic {
                import_source: "preact".into()
            }
        );
    }

    #[test]
    fn metadata_rejects_unknown_keys() {
        let e = Metadata::from_cargo_toml("[package.metadata.assets]\nminfy=true\n").unwrap_err();
        assert!(e.contains("minfy"), "{e}");
    }
}
