//! The JavaScript transform's unit tests: what it keeps, what it refuses, and that no input
//! crashes it.

mod behaviour {
    use super::super::*;

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
        let (ProblemKind::Syntax { .. }, Some(pos)) = (&e.kind, e.pos) else {
            panic!("{e:?}")
        };
        assert_eq!((e.path.as_str(), pos.line), ("bad.js", 2), "{e}");
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

mod robustness {
    use super::super::*;

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
