//! Stage 2 for JavaScript, TypeScript and JSX: swc parses (ES module or classic script), puts
//! placeholders where relative module specifiers are, strips TypeScript's types and compiles
//! JSX (`to_javascript`), and minifies (compress + mangle) keeping `/*!` licence comments. JavaScript
//! files named `*.min.js`, or every one when minification is off, keep their own bytes: only
//! the specifier strings and the `sourceMappingURL` are replaced in the text. TypeScript and
//! JSX are always printed from the compiled program (minified or not), with spans kept, so
//! a source map maps back to the `.ts`/`.tsx` source.

use std::panic::{AssertUnwindSafe, catch_unwind};

use swc_core::common::comments::{Comment, CommentKind, Comments, SingleThreadedComments};
use swc_core::common::source_map::SourceMapGenConfig;
use swc_core::common::sync::Lrc;
use swc_core::common::{
    BytePos, FileName, GLOBALS, Globals, LineCol, Mark, SourceFile, SourceMap, Span, Spanned,
};
use swc_core::ecma::ast::{EsVersion, Program};
use swc_core::ecma::codegen::text_writer::{JsWriter, omit_trailing_semi};
use swc_core::ecma::codegen::{Config as CodegenConfig, Emitter};
use swc_core::ecma::minifier::optimize;
use swc_core::ecma::minifier::option::terser::TerserCompressorOptions;
use swc_core::ecma::minifier::option::{
    ExtraOptions, MangleOptions, MinifyOptions, TopLevelOptions,
};
use swc_core::ecma::parser::error::Error as ParseError;
use swc_core::ecma::parser::{
    EsSyntax, Syntax, TsSyntax, parse_file_as_module, parse_file_as_program, parse_file_as_script,
};
use swc_core::ecma::transforms::base::fixer::{fixer, paren_remover};
use swc_core::ecma::transforms::base::hygiene::hygiene;
use swc_core::ecma::transforms::base::resolver;
use swc_core::ecma::transforms::react;
use swc_core::ecma::transforms::typescript;
use swc_core::ecma::visit::VisitMutWith;

use crate::config::{Config, Jsx};
use crate::error::ProblemKind;
use crate::error::{Pos, Problem};
use crate::scan::Lang;
use crate::transform::{Ref, RefKind, Transformed};

/// Deepest bracket nesting parsed: swc's parser and minifier recurse per level, and this
/// depth fits the 64 MiB stacks transforms run on with room to spare.
pub(crate) const MAX_DEPTH: usize = 512;

/// Transforms one JavaScript, TypeScript or JSX file (the language follows `display`'s
/// extension). `module`: `Some(true)` ES module, `Some(false)` classic script, `None` decided
/// by the presence of `import`/`export`.
///
/// # Errors
/// Every syntax error swc finds (the first is returned), or a minifier failure.
pub(crate) fn transform(
    display: &str,
    bytes: &[u8],
    module: Option<bool>,
    config: &Config,
) -> Result<Transformed, Problem> {
    let text = crate::transform::utf8(display, bytes)?;
    // swc drops a leading byte-order mark from its source, so its spans count from after it:
    // the text edited by those spans must not have it either.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    crate::depth::check(display, text, crate::depth::Lang::Js, MAX_DEPTH)?;
    let minify = config.minify
        && !display
            .rsplit('/')
            .next()
            .unwrap_or(display)
            .contains(".min.");
    let lang = crate::scan::lang_of(display);
    // The automatic JSX runtime adds an `import`: such a file is a module.
    let module = match (&config.jsx, lang) {
        (Jsx::Automatic { .. }, Lang::Jsx | Lang::Tsx) => module.or(Some(true)),
        _ => module,
    };
    let job = Job {
        display,
        text,
        module,
        lang,
        minify,
        want_map: config.source_maps,
        jsx: &config.jsx,
    };
    match catch_unwind(AssertUnwindSafe(|| run(&job))) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Problem::new(
                display.to_owned(),
                None,
                ProblemKind::Syntax {
                    message: format!("the minifier failed: {msg}"),
                },
            ))
        }
    }
}

/// What one transform works on, and how.
struct Job<'a> {
    display: &'a str,
    text: &'a str,
    module: Option<bool>,
    lang: Lang,
    minify: bool,
    want_map: bool,
    jsx: &'a Jsx,
}

fn run(job: &Job) -> Result<Transformed, Problem> {
    let Job {
        display,
        text,
        module,
        lang,
        minify,
        want_map,
        ..
    } = *job;
    let cm: Lrc<SourceMap> = Lrc::new(SourceMap::default());
    let fm = cm.new_source_file(
        Lrc::new(FileName::Custom(display.to_owned())),
        text.to_owned(),
    );
    GLOBALS.set(&Globals::new(), || {
        let comments = SingleThreadedComments::default();
        let c: Option<&dyn Comments> = Some(&comments);
        let mut program = parse(&cm, &fm, display, module, lang, c)?;
        refuse_commonjs(display, &program, &cm)?;
        let token = placeholder_token(text);
        // Placeholders go into the program wherever it is printed (minified, or compiled
        // from TypeScript or JSX); a plain file kept as written has them put in its text.
        let mut collect = Specifiers {
            token: &token,
            found: Vec::new(),
            minify: minify || lang != Lang::Plain,
        };
        program.visit_mut_with(&mut collect);
        let mut refs = import_refs(&cm, &collect, &token);
        let marks = Marks {
            unresolved: Mark::new(),
            top_level: Mark::new(),
        };
        if !minify && lang == Lang::Plain {
            let mut t = replace_in_text(text, fm.start_pos, &collect.found, refs, &token);
            t.script = Some(script_facts(&program));
            // Only a classic script shares names with the page (a module has none to find).
            if matches!(program, Program::Script(_)) {
                let marked = program.apply(resolver(marks.unresolved, marks.top_level, false));
                t.page = page_names(&marked, marks.unresolved);
            }
            return Ok(t);
        }
        program.mutate(paren_remover(c));
        program.mutate(resolver(
            marks.unresolved,
            marks.top_level,
            lang != Lang::Plain,
        ));
        let page = page_names(&program, marks.unresolved);
        to_javascript(&mut program, lang, job.jsx, &cm, c, marks);
        let program = if minify {
            minified(program, &cm, &comments, marks, passes(text.len()))
        } else {
            program.apply(hygiene()).apply(fixer(c))
        };
        let (code, mappings) = print(display, &program, &cm, c, want_map, minify, text.len())?;
        // Placeholders that the minifier dropped (dead dynamic imports) or that stood in
        // type-only imports are not references.
        refs.retain(|r| code.contains(&r.placeholder));
        let map = if want_map {
            Some(source_map(display, &cm, &mappings)?)
        } else {
            None
        };
        Ok(Transformed {
            code,
            refs,
            map,
            script: Some(script_facts(&program)),
            page,
            ..Default::default()
        })
    })
}

/// The references the specifiers found stand for, each at its position.
fn import_refs(cm: &SourceMap, found: &Specifiers<'_>, token: &str) -> Vec<Ref> {
    found
        .found
        .iter()
        .enumerate()
        .map(|(i, (span, spec))| Ref {
            placeholder: placeholder(token, i),
            spec: spec.clone(),
            kind: RefKind::JsImport,
            pos: position(cm, *span),
            media: None,
            supports: None,
            layer: None,
        })
        .collect()
}

/// The marks of one resolver run, which every later pass must share.
#[derive(Clone, Copy)]
pub(crate) struct Marks {
    pub unresolved: Mark,
    pub top_level: Mark,
}

/// TypeScript's types stripped (enums, namespaces and parameter properties compiled; imports
/// used only as types removed) and JSX compiled for the configured runtime.
pub(crate) fn to_javascript(
    program: &mut Program,
    lang: Lang,
    jsx: &Jsx,
    cm: &Lrc<SourceMap>,
    c: Option<&dyn Comments>,
    marks: Marks,
) {
    let Marks {
        unresolved: u,
        top_level: t,
    } = marks;
    let ts = typescript::Config {
        // TypeScript's own default for modern targets (useDefineForClassFields).
        native_class_properties: true,
        no_empty_export: true,
        ..Default::default()
    };
    match (lang, jsx) {
        (Lang::Ts, _) | (Lang::Tsx, Jsx::Automatic { .. }) => {
            program.mutate(typescript::typescript(ts, u, t));
        }
        // The classic runtime's pragma counts as a use of its import (`React`, `h`).
        (
            Lang::Tsx,
            Jsx::Classic {
                pragma,
                pragma_frag,
            },
        ) => {
            let tsx = typescript::TsxConfig {
                pragma: Some(pragma.clone().into()),
                pragma_frag: Some(pragma_frag.clone().into()),
            };
            program.mutate(typescript::tsx(cm.clone(), ts, tsx, c, u, t));
        }
        _ => {}
    }
    if matches!(lang, Lang::Jsx | Lang::Tsx) {
        let options = match jsx {
            Jsx::Automatic { import_source } => react::Options {
                runtime: Some(react::Runtime::Automatic),
                import_source: Some(import_source.as_str().into()),
                ..Default::default()
            },
            Jsx::Classic {
                pragma,
                pragma_frag,
            } => react::Options {
                runtime: Some(react::Runtime::Classic),
                pragma: Some(pragma.clone().into()),
                pragma_frag: Some(pragma_frag.clone().into()),
                ..Default::default()
            },
        };
        let options = react::Options {
            development: Some(false),
            ..options
        };
        program.mutate(react::react(cm.clone(), c, options, t, u));
    }
}

/// How many times the compressor runs over a script of `len` bytes: twice (swc's default),
/// once over [`LARGE`](crate::config::LARGE). On the npm corpus of `cargo xtask bench`, one
/// pass over its large libraries (echarts, pdf.js, three.js, ...) made the whole transform
/// stage take 0.85x the time, for 1.0025x the JS bytes (1.0022x brotli); its small scripts
/// come out the same after one pass or two.
fn passes(len: usize) -> usize {
    if len > crate::config::LARGE { 1 } else { 2 }
}

/// Compress (`passes` times) and mangle (top-level names too in a module); only `/*!`
/// comments are kept.
fn minified(
    program: Program,
    cm: &Lrc<SourceMap>,
    comments: &SingleThreadedComments,
    marks: Marks,
    passes: usize,
) -> Program {
    let c: Option<&dyn Comments> = Some(comments);
    let is_module = program.is_module();
    let mut compress = TerserCompressorOptions::default().into_config(cm.clone());
    compress.module = is_module;
    compress.ecma = EsVersion::Es2020;
    compress.passes = passes;
    if is_module {
        compress.top_level = Some(TopLevelOptions { functions: true });
    }
    let options = MinifyOptions {
        compress: Some(compress),
        mangle: Some(MangleOptions {
            top_level: Some(is_module),
            ..Default::default()
        }),
        ..Default::default()
    };
    let Marks {
        unresolved: unresolved_mark,
        top_level: top_level_mark,
    } = marks;
    let mut program = optimize(
        program,
        cm.clone(),
        c,
        None,
        &options,
        &ExtraOptions {
            unresolved_mark,
            top_level_mark,
            mangle_name_cache: None,
        },
    );
    program.mutate(fixer(c));
    let keep = |_: &BytePos, v: &mut Vec<Comment>| -> bool {
        v.retain(is_licence);
        !v.is_empty()
    };
    let (mut leading, mut trailing) = comments.borrow_all_mut();
    leading.retain(keep);
    trailing.retain(keep);
    program
}

/// The program as text (minified, or readable), and its mappings when a source map is wanted.
fn print(
    display: &str,
    program: &Program,
    cm: &Lrc<SourceMap>,
    c: Option<&dyn Comments>,
    want_map: bool,
    minify: bool,
    source_len: usize,
) -> Result<(String, Vec<(BytePos, LineCol)>), Problem> {
    let mut out = Vec::with_capacity(if minify { source_len / 2 } else { source_len });
    let mut mappings: Vec<(BytePos, LineCol)> = Vec::new();
    {
        let wr = JsWriter::new(
            cm.clone(),
            "\n",
            &mut out,
            want_map.then_some(&mut mappings),
        );
        let cfg = CodegenConfig::default()
            .with_minify(minify)
            .with_target(EsVersion::latest());
        let emitted = if minify {
            let mut emitter = Emitter {
                cfg,
                cm: cm.clone(),
                comments: c,
                wr: omit_trailing_semi(wr),
            };
            emitter.emit_program(program)
        } else {
            let mut emitter = Emitter {
                cfg,
                cm: cm.clone(),
                comments: c,
                wr,
            };
            emitter.emit_program(program)
        };
        emitted.map_err(|e| {
            Problem::new(
                display.to_owned(),
                None,
                ProblemKind::Syntax {
                    message: format!("printing the compiled code failed: {e}"),
                },
            )
        })?;
    }
    let code = String::from_utf8(out).map_err(|_| {
        Problem::new(
            display.to_owned(),
            None,
            ProblemKind::Syntax {
                message: "the minifier printed invalid UTF-8".into(),
            },
        )
    })?;
    Ok((code, mappings))
}

/// The source map JSON of `mappings`, naming the source by its file name.
fn source_map(
    display: &str,
    cm: &Lrc<SourceMap>,
    mappings: &[(BytePos, LineCol)],
) -> Result<String, Problem> {
    let name = display.rsplit('/').next().unwrap_or(display);
    let sm = cm.build_source_map(mappings, None, MapConfig { source: name });
    let mut json = Vec::new();
    sm.to_writer(&mut json).map_err(|e| {
        Problem::new(
            display.to_owned(),
            None,
            ProblemKind::Syntax {
                message: format!("writing the source map failed: {e}"),
            },
        )
    })?;
    Ok(String::from_utf8_lossy(&json).into_owned())
}

pub(crate) fn parse(
    cm: &SourceMap,
    fm: &SourceFile,
    display: &str,
    module: Option<bool>,
    lang: Lang,
    c: Option<&dyn Comments>,
) -> Result<Program, Problem> {
    let syntax = match lang {
        Lang::Ts | Lang::Tsx => Syntax::Typescript(TsSyntax {
            tsx: lang == Lang::Tsx,
            ..Default::default()
        }),
        _ => Syntax::Es(EsSyntax {
            jsx: lang == Lang::Jsx,
            import_attributes: true,
            explicit_resource_management: true,
            ..Default::default()
        }),
    };
    let target = EsVersion::latest();
    let mut recovered: Vec<ParseError> = Vec::new();
    let parsed = match module {
        Some(true) => {
            parse_file_as_module(fm, syntax, target, c, &mut recovered).map(Program::Module)
        }
        Some(false) => {
            parse_file_as_script(fm, syntax, target, c, &mut recovered).map(Program::Script)
        }
        None => parse_file_as_program(fm, syntax, target, c, &mut recovered),
    };
    let mut errors: Vec<(Pos, String)> = recovered
        .iter()
        .map(|e| (position(cm, e.span()), e.kind().msg().into_owned()))
        .collect();
    if let Err(e) = &parsed {
        errors.push((position(cm, e.span()), e.kind().msg().into_owned()));
    }
    errors.sort();
    // A recovered AST is never minified: it would ship something other than what was written.
    match (errors.into_iter().next(), parsed) {
        (None, Ok(program)) => Ok(program),
        (Some((pos, message)), _) => Err(Problem::new(
            display.to_owned(),
            Some(pos),
            ProblemKind::Syntax {
                message: lower(&message),
            },
        )),
        (None, Err(_)) => unreachable!("a parse error is always recorded"),
    }
}

fn lower(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// TypeScript's `import x = require("m")` and `export = x` compile to CommonJS (`require`,
/// `module.exports`), which a browser's ES module does not have: tsc refuses both when it
/// emits ES modules (TS1202, TS1203), and so does the build, at the statement.
pub(crate) fn refuse_commonjs(
    display: &str,
    program: &Program,
    cm: &SourceMap,
) -> Result<(), Problem> {
    use swc_core::ecma::ast::{ModuleDecl, ModuleItem, TsModuleRef};
    let Program::Module(module) = program else {
        return Ok(());
    };
    for item in &module.body {
        let (span, message) = match item {
            ModuleItem::ModuleDecl(ModuleDecl::TsImportEquals(d))
                if !d.is_type_only
                    && matches!(d.module_ref, TsModuleRef::TsExternalModuleRef(_)) =>
            {
                (
                    d.span,
                    "`import … = require(…)` is CommonJS, which a browser module cannot run: write `import x from \"…\"` (or `import * as x from \"…\"`)",
                )
            }
            ModuleItem::ModuleDecl(ModuleDecl::TsExportAssignment(d)) => (
                d.span,
                "`export = …` is CommonJS, which a browser module cannot run: write `export default …`",
            ),
            _ => continue,
        };
        return Err(Problem::new(
            display.to_owned(),
            Some(position(cm, span)),
            ProblemKind::Syntax {
                message: message.into(),
            },
        ));
    }
    Ok(())
}

pub(crate) fn position(cm: &SourceMap, span: Span) -> Pos {
    match cm.try_lookup_char_pos(span.lo) {
        Ok(loc) => Pos {
            line: loc.line as u32,
            col: loc.col.0 as u32 + 1,
        },
        Err(_) => Pos::START,
    }
}

pub(crate) fn is_licence(c: &Comment) -> bool {
    (c.kind == CommentKind::Block && c.text.starts_with('!'))
        || c.text.contains("@license")
        || c.text.contains("@preserve")
}

/// Names the one source of a map and embeds its text, so no original file needs serving.
struct MapConfig<'a> {
    source: &'a str,
}

impl SourceMapGenConfig for MapConfig<'_> {
    fn file_name_to_source(&self, _f: &FileName) -> String {
        self.source.to_owned()
    }
    fn inline_sources_content(&self, _f: &FileName) -> bool {
        true
    }
}

mod script;
mod specifiers;
#[cfg(test)]
mod tests;

pub(crate) use script::page_names;
use script::script_facts;
use specifiers::{Specifiers, placeholder, placeholder_token, replace_in_text};
