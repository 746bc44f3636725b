//! `[package.metadata.assets]` in a package's `Cargo.toml` (or a settings file), read
//! strictly (unknown keys are errors) and applied onto a [`Config`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Config, CssImports, InvalidCss, Jsx, Missing, Targets};
use crate::error::{Error, Result};

/// `[package.metadata.assets]`, as written in `Cargo.toml`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Metadata {
    /// The asset directory, relative to the package (default `assets`).
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Browser targets for CSS (`["chrome 109", "safari 15.6"]`).
    pub targets: Option<Vec<String>>,
    /// `"keep"` (default) or `"inline"`.
    pub css_imports: Option<CssImports>,
    /// `"warn"` (default: dropped as browsers drop it) or `"error"`.
    pub invalid_css: Option<InvalidCss>,
    /// `"error"` (default) or `"warn"`.
    pub missing_references: Option<Missing>,
    /// Minify CSS and JS (default `true`).
    pub minify: Option<bool>,
    /// Source maps for minified CSS and JS (default `false`).
    pub source_maps: Option<bool>,
    /// `false` for none, or a level.
    pub gzip: Option<Level>,
    /// `false` for none, or a quality.
    pub brotli: Option<Level>,
    /// brotli quality for files over 128 KiB.
    pub brotli_large: Option<u32>,
    /// Embed the files in the binary (default `true`; `false`: a CDN-only build).
    pub embed: Option<bool>,
    /// Allow empty files (default `false`).
    pub allow_empty: Option<bool>,
    /// Sass load paths, relative to the package (or the settings file).
    pub load_paths: Option<Vec<PathBuf>>,
    /// `"automatic"` (default) or `"classic"`.
    pub jsx_runtime: Option<JsxRuntime>,
    /// The automatic runtime's package (default `react`).
    pub jsx_import_source: Option<String>,
    /// The classic runtime's functions (default `React.createElement`, `React.Fragment`).
    pub jsx_pragma: Option<String>,
    /// The classic runtime's fragment (default `React.Fragment`).
    pub jsx_pragma_frag: Option<String>,
    /// `"<bundle>" = ["<part>", ...]`.
    pub bundles: Option<BTreeMap<String, Vec<String>>>,
    /// Ship bundle parts as assets of their own too (default `true`).
    pub ship_bundle_parts: Option<bool>,
    /// Read by `cargo xtask publish`, not by the build.
    pub publish: Option<toml::Table>,
}

/// `jsx-runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JsxRuntime {
    /// Imports `jsx` from `<jsx-import-source>/jsx-runtime`.
    Automatic,
    /// Calls the pragma in scope.
    Classic,
}

/// A compression setting: `false`, or a level.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Level {
    On(bool),
    Level(u32),
}

fn default_dir() -> PathBuf {
    PathBuf::from("assets")
}

impl Metadata {
    /// Parses the `[package.metadata.assets]` table of a `Cargo.toml` (all defaults if absent).
    ///
    /// # Errors
    /// Malformed TOML or an unknown or mistyped setting.
    pub fn from_cargo_toml(text: &str) -> std::result::Result<Metadata, String> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let table = doc
            .get("package")
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("assets"))
            .cloned()
            .unwrap_or_else(|| toml::Value::Table(Default::default()));
        table
            .try_into()
            .map_err(|e: toml::de::Error| format!("[package.metadata.assets]: {}", e.message()))
    }

    /// Parses a settings file whose top level holds the keys of `[package.metadata.assets]`
    /// (`cargo xtask build --settings FILE`).
    ///
    /// # Errors
    /// Malformed TOML or an unknown or mistyped setting.
    pub fn from_settings_file(text: &str) -> std::result::Result<Metadata, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_owned())
    }

    /// The same settings with `dir` and the load paths taken relative to `base` (the
    /// package's folder, or the settings file's).
    pub fn relative_to(mut self, base: &Path) -> Metadata {
        self.dir = base.join(&self.dir);
        if let Some(paths) = &mut self.load_paths {
            for p in paths.iter_mut() {
                *p = base.join(&*p);
            }
        }
        self
    }

    /// These settings over `c` (`dir` and `publish` are not build settings and are ignored).
    ///
    /// # Errors
    /// Unknown browser targets or out-of-range levels.
    pub fn apply(&self, mut c: Config) -> Result<Config> {
        if let Some(t) = &self.targets {
            c.targets = Targets::parse(t)?;
        }
        let level = |l: Option<Level>, default: Option<u32>, max: u32, what: &str| match l {
            None | Some(Level::On(true)) => Ok(default),
            Some(Level::On(false)) => Ok(None),
            Some(Level::Level(n)) if n <= max => Ok(Some(n)),
            Some(Level::Level(n)) => Err(Error::Config(format!(
                "{what} level {n} is out of range 0..={max}"
            ))),
        };
        c.gzip = level(self.gzip, c.gzip, 9, "gzip")?;
        c.brotli = level(self.brotli, c.brotli, 11, "brotli")?;
        match self.brotli_large {
            Some(q) if q > 11 => {
                return Err(Error::Config(format!(
                    "brotli-large quality {q} is out of range 0..=11"
                )));
            }
            Some(q) => c.brotli_large = q,
            None => {}
        }
        c.css_imports = self.css_imports.unwrap_or(c.css_imports);
        c.invalid_css = self.invalid_css.unwrap_or(c.invalid_css);
        c.missing = self.missing_references.unwrap_or(c.missing);
        c.minify = self.minify.unwrap_or(c.minify);
        c.source_maps = self.source_maps.unwrap_or(c.source_maps);
        c.embed = self.embed.unwrap_or(c.embed);
        c.allow_empty = self.allow_empty.unwrap_or(c.allow_empty);
        if let Some(paths) = &self.load_paths {
            c = c.load_paths(paths.iter().cloned());
        }
        c.jsx = self.jsx(&c.jsx)?;
        if let Some(bundles) = &self.bundles {
            c.bundles.extend(bundles.clone());
        }
        c.ship_bundle_parts = self.ship_bundle_parts.unwrap_or(c.ship_bundle_parts);
        Ok(c)
    }

    fn jsx(&self, current: &Jsx) -> Result<Jsx> {
        let classic = match self.jsx_runtime {
            Some(r) => r == JsxRuntime::Classic,
            None => matches!(current, Jsx::Classic { .. }),
        };
        let mismatch = |key: &str, runtime: &str| {
            Err(Error::Config(format!(
                "{key} is a setting of the {runtime} JSX runtime, but jsx-runtime is not \"{runtime}\""
            )))
        };
        if classic {
            if self.jsx_import_source.is_some() {
                return mismatch("jsx-import-source", "automatic");
            }
            let (pragma, frag) = match current {
                Jsx::Classic {
                    pragma,
                    pragma_frag,
                } => (pragma.clone(), pragma_frag.clone()),
                Jsx::Automatic { .. } => ("React.createElement".into(), "React.Fragment".into()),
            };
            Ok(Jsx::Classic {
                pragma: self.jsx_pragma.clone().unwrap_or(pragma),
                pragma_frag: self.jsx_pragma_frag.clone().unwrap_or(frag),
            })
        } else {
            if self.jsx_pragma.is_some() || self.jsx_pragma_frag.is_some() {
                return mismatch("jsx-pragma", "classic");
            }
            let source = match current {
                Jsx::Automatic { import_source } => import_source.clone(),
                Jsx::Classic { .. } => "react".into(),
            };
            Ok(Jsx::Automatic {
                import_source: self.jsx_import_source.clone().unwrap_or(source),
            })
        }
    }
}
