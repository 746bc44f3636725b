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
use swc_core::ecma::ast::{
    CallExpr, Callee, Decl, EsVersion, ExportAll, Expr, ExprOrSpread, ImportDecl, Lit, NamedExport,
    Program, Stmt, Str,
};
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
use swc_core::ecma::visit::{Visit, VisitMut, VisitMutWith, VisitWith};

use crate::config::{Config, Jsx};
use crate::error::{Pos, Problem};
use crate::refs::{Class, classify_js};
use crate::scan::Lang;
use crate::transform::{PageNames, Ref, RefKind, Script, Transformed};

/// Deepest bracket nesting parsed: swc's parser and minifier recurse per level, and this
/// depth fits the 64 MiB stacks transforms run on with room to spare.
pub(crate) const MAX_DEPTH: usize = 512;

/// Transforms one JavaScript, TypeScript or JSX file (the language follows `display`'s
/// extension). `module`: `Some(true)` ES module, `Some(false)` classic script, `None` decided
/// by the presence of `import`/`export`.
///
/// # Errors
/// Every syntax error swc finds (the first is returned), or a minifier failure.
pub fn transform(
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
            Err(Problem::Syntax {
                path: display.to_owned(),
                pos: None,
                message: format!("the minifier failed: {msg}"),
            })
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
        let mut refs: Vec<Ref> = Vec::new();
        for (i, (span, spec)) in collect.found.iter().enumerate() {
            let pos = position(&cm, *span);
            refs.push(Ref {
                placeholder: placeholder(&token, i),
                spec: spec.clone(),
                kind: RefKind::JsImport,
                pos,
                media: None,
                supports: None,
                layer: None,
            });
        }
        let marks = Marks {
            unresolved: Mark::new(),
            top_level: Mark::new(),
        };
        if !minify && lang == Lang::Plain {
            let mut t = replace_in_text(text, fm.start_pos, &collect.found, refs, &token);
            t.script = Some(script_facts(&program));
            let marked = program.apply(resolver(marks.unresolved, marks.top_level, false));
            t.page = page_names(&marked, marks.unresolved);
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

/// What joining this file with others in a bundle needs to know.
fn script_facts(program: &Program) -> Script {
    let Program::Script(script) = program else {
        return Script {
            module: true,
            strict: true,
            globals: false,
        };
    };
    let strict = script
        .body
        .iter()
        .map_while(|s| match s {
            Stmt::Expr(e) => match &*e.expr {
                Expr::Lit(Lit::Str(s)) => Some(s),
                _ => None,
            },
            _ => None,
        })
        .any(|s| {
            s.raw
                .as_deref()
                .map_or(s.value.as_str() == Some("use strict"), |raw| {
                    raw == "\"use strict\"" || raw == "'use strict'"
                })
        });
    let globals = script.body.iter().any(|s| {
        matches!(
            s,
            Stmt::Decl(Decl::Var(_) | Decl::Fn(_) | Decl::Class(_) | Decl::Using(_))
        )
    }) || {
        let mut vars = ScriptVars::default();
        script.visit_with(&mut vars);
        vars.found
    };
    Script {
        module: false,
        strict,
        globals,
    }
}

/// The names a classic script shares with the page while it loads, from a program the
/// resolver has marked (`unresolved`: its free names).
pub(crate) fn page_names(program: &Program, unresolved: Mark) -> Option<PageNames> {
    let Program::Script(script) = program else {
        return None;
    };
    let mut reads = LoadReads {
        unresolved,
        found: Default::default(),
    };
    script.visit_with(&mut reads);
    let mut hoisted = Hoisted::default();
    script.visit_with(&mut hoisted);
    for s in &script.body {
        if let Stmt::Decl(Decl::Fn(f)) = s {
            hoisted.found.insert(f.ident.sym.to_string());
        }
    }
    Some(PageNames {
        reads: reads.found,
        hoisted: hoisted.found,
    })
}

/// Free names read outside function bodies: what a script reads from the page as it loads.
struct LoadReads {
    unresolved: Mark,
    found: std::collections::BTreeSet<String>,
}

impl Visit for LoadReads {
    fn visit_ident(&mut self, i: &swc_core::ecma::ast::Ident) {
        if i.ctxt.outer() == self.unresolved {
            self.found.insert(i.sym.to_string());
        }
    }
    fn visit_function(&mut self, _: &swc_core::ecma::ast::Function) {}
    fn visit_arrow_expr(&mut self, _: &swc_core::ecma::ast::ArrowExpr) {}
    fn visit_getter_prop(&mut self, _: &swc_core::ecma::ast::GetterProp) {}
    fn visit_setter_prop(&mut self, _: &swc_core::ecma::ast::SetterProp) {}
    // A class's members run later; what it extends is read now.
    fn visit_class(&mut self, c: &swc_core::ecma::ast::Class) {
        c.super_class.visit_with(self);
    }
}

/// The names of `var`s outside function bodies.
#[derive(Default)]
struct Hoisted {
    found: std::collections::BTreeSet<String>,
}

impl Visit for Hoisted {
    fn visit_var_decl(&mut self, d: &swc_core::ecma::ast::VarDecl) {
        if d.kind == swc_core::ecma::ast::VarDeclKind::Var {
            for v in &d.decls {
                let mut names = BindingNames::default();
                v.name.visit_with(&mut names);
                self.found.extend(names.0);
            }
        }
        d.visit_children_with(self);
    }
    fn visit_function(&mut self, _: &swc_core::ecma::ast::Function) {}
    fn visit_arrow_expr(&mut self, _: &swc_core::ecma::ast::ArrowExpr) {}
    fn visit_getter_prop(&mut self, _: &swc_core::ecma::ast::GetterProp) {}
    fn visit_setter_prop(&mut self, _: &swc_core::ecma::ast::SetterProp) {}
    fn visit_class(&mut self, _: &swc_core::ecma::ast::Class) {}
}

/// The names a binding pattern declares.
#[derive(Default)]
struct BindingNames(Vec<String>);

impl Visit for BindingNames {
    fn visit_binding_ident(&mut self, b: &swc_core::ecma::ast::BindingIdent) {
        self.0.push(b.id.sym.to_string());
    }
    // Default values are expressions, not names declared.
    fn visit_expr(&mut self, _: &Expr) {}
}

/// Finds a `var` that belongs to the script itself: anywhere but inside a function (in a
/// block, a loop head, a `try`, a `switch`, it still declares a global of the page).
#[derive(Default)]
struct ScriptVars {
    found: bool,
}

impl Visit for ScriptVars {
    fn visit_var_decl(&mut self, d: &swc_core::ecma::ast::VarDecl) {
        self.found |= d.kind == swc_core::ecma::ast::VarDeclKind::Var;
        d.visit_children_with(self);
    }
    // Function bodies (methods, accessors, arrows, class static blocks) have their own.
    fn visit_function(&mut self, _: &swc_core::ecma::ast::Function) {}
    fn visit_arrow_expr(&mut self, _: &swc_core::ecma::ast::ArrowExpr) {}
    fn visit_getter_prop(&mut self, _: &swc_core::ecma::ast::GetterProp) {}
    fn visit_setter_prop(&mut self, _: &swc_core::ecma::ast::SetterProp) {}
    fn visit_static_block(&mut self, _: &swc_core::ecma::ast::StaticBlock) {}
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
        emitted.map_err(|e| Problem::Syntax {
            path: display.to_owned(),
            pos: None,
            message: format!("printing the compiled code failed: {e}"),
        })?;
    }
    let code = String::from_utf8(out).map_err(|_| Problem::Syntax {
        path: display.to_owned(),
        pos: None,
        message: "the minifier printed invalid UTF-8".into(),
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
    sm.to_writer(&mut json).map_err(|e| Problem::Syntax {
        path: display.to_owned(),
        pos: None,
        message: format!("writing the source map failed: {e}"),
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
        (Some((pos, message)), _) => Err(Problem::Syntax {
            path: display.to_owned(),
            pos: Some(pos),
            message: lower(&message),
        }),
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
        return Err(Problem::Syntax {
            path: display.to_owned(),
            pos: Some(position(cm, span)),
            message: message.into(),
        });
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

/// A token that does not occur in the source, so placeholders cannot collide with its text.
fn placeholder_token(text: &str) -> String {
    let mut n = 0u32;
    loop {
        let token = format!("__asset_ref{n:x}_");
        if !text.contains(&token) {
            return token;
        }
        n += 1;
    }
}

fn placeholder(token: &str, i: usize) -> String {
    format!("{token}{i}__")
}

/// Finds relative module specifiers; when minifying, replaces them with placeholders.
struct Specifiers<'a> {
    token: &'a str,
    found: Vec<(Span, String)>,
    minify: bool,
}

impl Specifiers<'_> {
    fn visit_str(&mut self, s: &mut Str) {
        let Some(value) = s.value.as_str() else {
            return;
        };
        if !matches!(classify_js(value), Class::Relative { .. }) {
            return;
        }
        let i = self.found.len();
        self.found.push((s.span, value.to_owned()));
        if self.minify {
            *s = Str {
                span: s.span,
                value: placeholder(self.token, i).into(),
                raw: None,
            };
        }
    }
}

impl VisitMut for Specifiers<'_> {
    fn visit_mut_import_decl(&mut self, n: &mut ImportDecl) {
        self.visit_str(&mut n.src);
    }
    fn visit_mut_export_all(&mut self, n: &mut ExportAll) {
        self.visit_str(&mut n.src);
    }
    fn visit_mut_named_export(&mut self, n: &mut NamedExport) {
        if let Some(src) = &mut n.src {
            self.visit_str(src);
        }
    }
    fn visit_mut_call_expr(&mut self, n: &mut CallExpr) {
        n.visit_mut_children_with(self);
        if !matches!(n.callee, Callee::Import(_)) {
            return;
        }
        if let Some(ExprOrSpread { spread: None, expr }) = n.args.first_mut()
            && let Expr::Lit(Lit::Str(s)) = &mut **expr
        {
            self.visit_str(s);
        }
    }
}

/// Without minification: the file's own text, with each specifier's characters (inside its
/// quotes) and the trailing `sourceMappingURL` replaced by placeholders.
fn replace_in_text(
    text: &str,
    start: BytePos,
    found: &[(Span, String)],
    mut refs: Vec<Ref>,
    token: &str,
) -> Transformed {
    let mut edits: Vec<(usize, usize, String)> = found
        .iter()
        .enumerate()
        .map(|(i, (span, _))| {
            let lo = (span.lo.0 - start.0) as usize + 1;
            let hi = (span.hi.0 - start.0) as usize - 1;
            (lo, hi, placeholder(token, i))
        })
        .collect();
    if let Some((lo, hi)) = source_mapping_url(text) {
        let ph = placeholder(token, found.len());
        refs.push(Ref {
            placeholder: ph.clone(),
            spec: text[lo..hi].to_owned(),
            kind: RefKind::SourceMap,
            pos: crate::error::pos_of(text.as_bytes(), lo),
            media: None,
            supports: None,
            layer: None,
        });
        edits.push((lo, hi, ph));
    }
    edits.sort_by_key(|e| e.0);
    let mut code = String::with_capacity(text.len());
    let mut at = 0;
    for (lo, hi, ph) in edits {
        code.push_str(&text[at..lo]);
        code.push_str(&ph);
        at = hi;
    }
    code.push_str(&text[at..]);
    Transformed {
        code,
        refs,
        ..Default::default()
    }
}

/// Byte range of the URL in a final `//# sourceMappingURL=...` line.
pub fn source_mapping_url(text: &str) -> Option<(usize, usize)> {
    let trimmed = text.trim_end();
    let line_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
    let line = &trimmed[line_start..];
    let rest = line
        .strip_prefix("//# sourceMappingURL=")
        .or_else(|| line.strip_prefix("//@ sourceMappingURL="))?;
    let lo = line_start + (line.len() - rest.len());
    let url = rest.trim_end();
    (!url.is_empty() && !url.contains(char::is_whitespace)).then_some((lo, lo + url.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minified(src: &str) -> Transformed {
        transform("t.js", src.as_bytes(), None, &Config::new("a", "b")).unwrap()
    }

    #[test]
    fn minifies_and_keeps_licence_comments() {
        let t = minified(
            "/*! keep me */\n// drop me\nfunction add(first, second) { return first + second; }\nconsole.log(add(1, 2));\n",
        );
        assert!(t.code.starts_with("/*! keep me */"), "{}", t.code);
        assert!(
            !t.code.contains("drop me") && !t.code.contains("second"),
            "{}",
            t.code
        );
    }

    #[test]
    fn module_specifiers_become_placeholders() {
        let t = minified(
            "import { a } from './util.mjs';\nimport 'lodash';\nexport * from \"../x.js\";\nconsole.log(a, import('./lazy.js'));\n",
        );
        let specs: Vec<_> = t
            .refs
            .iter()
            .map(|r| (r.spec.as_str(), r.pos.line))
            .collect();
        assert_eq!(specs, [("./util.mjs", 1), ("../x.js", 3), ("./lazy.js", 4)]);
        for r in &t.refs {
            assert!(t.code.contains(&r.placeholder), "{}", t.code);
        }
        assert!(t.code.contains("\"lodash\""), "{}", t.code);
    }

    #[test]
    fn commonjs_forms_of_typescript_are_refused_where_they_stand() {
        let ts = |src: &str| transform("m.ts", src.as_bytes(), None, &Config::new("a", "b"));
        for (src, line) in [
            (
                "const a = 1;\nimport fs = require(\"./fs\");\nconsole.log(fs);\n",
                2,
            ),
            ("export import y = require(\"./y\");\n", 1),
            ("const a = 1;\n\nexport = a;\n", 3),
        ] {
            let e = ts(src).unwrap_err();
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("m.ts:{line}:")), "{shown}");
            assert!(shown.contains("CommonJS"), "{shown}");
        }
        // What compiles to plain JavaScript stays allowed.
        ts("namespace N { export const x = 1; }\nimport x = N.x;\nconsole.log(x);\n").unwrap();
        ts("import type T = require(\"./t\");\nlet v: T;\nconsole.log(v);\n").unwrap();
    }

    #[test]
    fn a_script_s_load_time_reads_and_hoisted_names() {
        let src = "var a = b + 1;\nif (c) { var d; }\nfunction e() { return f; }\nlet g = () => h;\nclass K extends L { m() { return n; } }\nnew K();\n";
        for name in ["s.js", "s.min.js"] {
            let t = transform(name, src.as_bytes(), Some(false), &Config::new("a", "b")).unwrap();
            let page = t.page.unwrap();
            let reads: Vec<&str> = page.reads.iter().map(String::as_str).collect();
            assert_eq!(reads, ["L", "b", "c"], "{name}");
            let hoisted: Vec<&str> = page.hoisted.iter().map(String::as_str).collect();
            assert_eq!(hoisted, ["a", "d", "e"], "{name}");
        }
        let module = transform(
            "m.mjs",
            b"export const x = y;",
            None,
            &Config::new("a", "b"),
        );
        assert_eq!(module.unwrap().page, None);
    }

    #[test]
    fn a_var_in_a_block_is_a_global_of_the_script() {
        let facts = |src: &str| {
            transform("s.js", src.as_bytes(), Some(false), &Config::new("a", "b"))
                .unwrap()
                .script
                .unwrap()
        };
        for src in [
            "\"use strict\";\nif (window.x) { var g = 1; }\n",
            "\"use strict\";\nfor (var i = 0; i < 2; i++) console.log(i);\n",
            "\"use strict\";\ntry { var t = f(); } catch (e) {}\n",
        ] {
            let f = facts(src);
            assert!(f.strict && f.globals, "{src}: {f:?}");
        }
        for src in [
            "\"use strict\";\n(function () { var local = 1; console.log(local); })();\n",
            "\"use strict\";\nwindow.o = { get x() { var v = 1; return v; } };\n",
            "\"use strict\";\n{ let scoped = 1; console.log(scoped); }\n",
        ] {
            let f = facts(src);
            assert!(f.strict && !f.globals, "{src}: {f:?}");
        }
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = transform(
            "bad.js",
            b"let a = 1;\nfunction (",
            None,
            &Config::new("a", "b"),
        )
        .unwrap_err();
        let Problem::Syntax {
            pos: Some(pos),
            path,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((path.as_str(), pos.line), ("bad.js", 2), "{e}");
    }

    #[test]
    fn unminified_files_keep_their_text() {
        let src =
            "import {a} from './a.js';\nconsole.log(a);\n//# sourceMappingURL=lib.min.js.map\n";
        let t = transform("lib.min.js", src.as_bytes(), None, &Config::new("a", "b")).unwrap();
        let mut code = t.code.clone();
        for r in &t.refs {
            code = code.replace(&r.placeholder, &r.spec);
        }
        assert_eq!(code, src);
        assert_eq!(t.refs[1].kind, RefKind::SourceMap);
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// Runs `f` on a 64 MiB stack, as the pipeline runs transforms.
    fn on_pipeline_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn a_byte_order_mark_does_not_shift_specifiers() {
        let src = "\u{feff}import {a} from './a.mjs';\nconsole.log(a);\n";
        for name in ["lib.min.mjs", "app.mjs"] {
            let t = transform(name, src.as_bytes(), None, &Config::new("a", "b")).unwrap();
            assert_eq!(t.refs[0].spec, "./a.mjs", "{name}");
            let code = t.code.replace(&t.refs[0].placeholder, "./a.1234.mjs");
            assert!(
                code.contains("\"./a.1234.mjs\"") || code.contains("'./a.1234.mjs'"),
                "{name}: {code}"
            );
            assert!(!code.contains('\u{feff}'), "{name}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_naming_the_file_and_the_deepest_allowed_works() {
        let n = MAX_DEPTH - 1;
        for (open, close) in [
            ("[", "]"),
            ("(", ")"),
            ("{a:", "}"),
            ("()=>{return ", "}"),
            ("function f(){return ", "}"),
            ("`${", "}`"),
        ] {
            let ok = format!("export const a = {}1{};", open.repeat(n), close.repeat(n));
            let t = on_pipeline_stack(move || {
                transform("ok.mjs", ok.as_bytes(), None, &Config::new("a", "b"))
            });
            assert!(t.is_ok(), "{open}: {:?}", t.err());
        }
        let deep = format!("let a = {};", "[".repeat(1_000_000));
        let e = on_pipeline_stack(move || {
            transform("deep.js", deep.as_bytes(), None, &Config::new("a", "b"))
        })
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("deep.js:1:"), "{e}");
        assert!(e.contains("nesting deeper than 512 levels"), "{e}");
    }
}
