// SPDX-License-Identifier: MIT
//! Checks the hand-written declarations of src/lib.rs against jr.h, so that
//! they cannot drift from the C ABI.
//!
//! The test reads src/lib.rs and writes a C file that includes <jr/jr.h> and
//! restates every item jr-sys declares: a `_Static_assert` per constant
//! (value, and type `int`), the callback typedefs and the opaque struct
//! typedefs again (C11 allows an identical redefinition, and rejects any
//! other), a size and signedness assertion per integer typedef, and an
//! `extern` redeclaration of every function (a C compiler rejects a
//! redeclaration whose parameter or return types differ from jr.h's). The C
//! compiler (`$CC`, default `cc`) checks the file with -fsyntax-only -Werror.
//! It also reads jr.h and fails on a constant, typedef or function that
//! jr-sys does not declare.
//!
//! jr.h is looked up in the folders pkg-config gave the build script
//! (`JR_SYS_INCLUDE_PATH`), then /usr/local/include and /usr/include.

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Macros of jr.h that jr-sys does not mirror, and why.
const NOT_MIRRORED: &[(&str, &str)] = &[
    ("JR_JR_H", "include guard"),
    ("JR_API", "symbol visibility attribute"),
];

/// Removes `/* */` and `//` comments (neither file has them in strings that
/// matter here: only `"C"` and doc text).
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        if in_str {
            if b[i] == b'\\' && i + 1 < b.len() {
                out.push_str(&src[i..i + 2]);
                i += 2;
                continue;
            }
            if b[i] == b'"' {
                in_str = false;
            }
        } else if b[i] == b'"' {
            in_str = true;
        } else if src[i..].starts_with("/*") {
            i = src[i..].find("*/").map_or(b.len(), |e| i + e + 2);
            out.push(' ');
            continue;
        } else if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(b.len(), |e| i + e);
            continue;
        }
        let c = src[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits at commas outside <>, () and [].
fn split_top(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' if !cur.ends_with('-') => depth -= 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        parts.push(cur.trim().to_string());
    }
    parts
}

/// The index of the `)` that closes the `(` at `open`.
fn close_paren(s: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {s:?}");
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// C declarator of `name` with Rust type `ty`; `konst` qualifies the
/// outermost level (pointee of the enclosing `*const`).
fn c_decl(ty: &str, name: &str, konst: bool) -> String {
    let ty = ty.trim();
    let q = if konst { "const " } else { "" };
    if let Some(inner) = ty.strip_prefix("*const ") {
        return c_decl(inner, &format!("*{q}{name}"), true);
    }
    if let Some(inner) = ty.strip_prefix("*mut ") {
        return c_decl(inner, &format!("*{q}{name}"), false);
    }
    // A function pointer, nullable (Option) or not: the same C type.
    let fnptr = ty
        .strip_prefix("Option<")
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(ty)
        .trim()
        .trim_end_matches(',') // rustfmt's trailing comma in Option<..,>
        .trim();
    if fnptr.contains("fn(") || fnptr.contains("fn (") {
        let f = fnptr
            .strip_prefix("unsafe extern \"C\" fn")
            .unwrap_or_else(|| panic!("jr-sys: callback type {ty:?} is not unsafe extern \"C\""));
        let f = f.trim();
        let close = close_paren(f, 0);
        let params = c_params(&f[1..close]);
        let ret = f[close + 1..].trim().strip_prefix("->").unwrap_or("()");
        return c_decl(ret, &format!("(*{q}{name})({params})"), false);
    }
    let base = match ty {
        "()" => "void",
        "c_void" => "void",
        "c_char" => "char",
        "c_int" => "int",
        "c_uint" => "unsigned int",
        "c_long" => "long",
        "c_ulong" => "unsigned long",
        "usize" => "size_t",
        "isize" => "ptrdiff_t",
        "i64" => "int64_t",
        "f64" => "double",
        "u64" => "uint64_t",
        "i32" => "int32_t",
        "u32" => "uint32_t",
        "u8" => "uint8_t",
        t if t.starts_with("jr_") && is_ident(t) => t,
        t => panic!("jr-sys: the ABI test does not know the Rust type {t:?}: teach c_decl"),
    };
    format!("{q}{base} {name}").trim_end().to_string()
}

fn c_params(params: &str) -> String {
    let ps = split_top(params);
    if ps.is_empty() {
        return "void".to_string();
    }
    ps.iter()
        .map(|p| {
            let (name, ty) = p
                .split_once(':')
                .unwrap_or_else(|| panic!("jr-sys: parameter {p:?} has no name"));
            c_decl(ty, name.trim(), false)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Default)]
struct Sys {
    consts: Vec<(String, String, String)>, // name, Rust type, value
    types: Vec<(String, String)>,          // name, Rust type
    opaque: Vec<String>,
    sized: Vec<(String, Vec<(String, String)>)>, // name, fields (name, Rust type)
    fns: Vec<(String, String, String)>,          // name, params, return type
}

/// Every `pub` item between `start` and the next `;` (or `)` for opaque!).
fn items<'a>(src: &'a str, start: &str, end: char) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find(start) {
        let after = &rest[i + start.len()..];
        let j = after
            .find(end)
            .unwrap_or_else(|| panic!("{start:?} without {end:?}"));
        out.push(after[..j].trim());
        rest = &after[j..];
    }
    out
}

fn parse_sys(lib_rs: &str) -> Sys {
    let src = squash(&strip_comments(lib_rs));
    let mut sys = Sys::default();
    for c in items(&src, "pub const ", ';') {
        let (name, rest) = c.split_once(':').expect("pub const NAME: TYPE = VALUE");
        let (ty, value) = rest.split_once('=').expect("pub const NAME: TYPE = VALUE");
        let value = value.trim();
        let literal = value.strip_prefix('-').unwrap_or(value);
        assert!(
            !literal.is_empty() && literal.chars().all(|c| c.is_ascii_digit()),
            "jr-sys: {name} = {value:?} is not a decimal literal; the ABI test reads literals only"
        );
        sys.consts
            .push((name.trim().into(), ty.trim().into(), value.into()));
    }
    for t in items(&src, "pub type ", ';') {
        let (name, ty) = t.split_once('=').expect("pub type NAME = TYPE");
        sys.types.push((name.trim().into(), ty.trim().into()));
    }
    for o in items(&src, "opaque!(", ')') {
        sys.opaque.extend(
            o.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
    }
    // sized!(NAME { field: TYPE, ... }): the sized structs (docs/abi.md).
    for it in items(&src, "sized!(", ')') {
        let open = it.find('{').expect("sized!(NAME { fields })");
        let close = it.rfind('}').expect("sized!(NAME { fields })");
        let fields = it[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| {
                let (n, t) = f.split_once(':').expect("field: TYPE");
                (n.trim().to_string(), t.trim().to_string())
            })
            .collect();
        sys.sized.push((it[..open].trim().to_string(), fields));
    }
    for f in items(&src, "pub fn ", ';') {
        let open = f.find('(').expect("pub fn NAME(");
        let close = close_paren(f, open);
        let ret = f[close + 1..].trim();
        let ret = ret.strip_prefix("->").unwrap_or("()").trim();
        sys.fns.push((
            f[..open].trim().into(),
            f[open + 1..close].into(),
            ret.into(),
        ));
    }
    // Anything else public would escape the check.
    for kw in ["pub static ", "pub union ", "pub enum ", "pub struct "] {
        for it in items(&src, kw, ' ') {
            assert_eq!(
                (kw, it),
                ("pub struct ", "$name"),
                "jr-sys declares a {kw}item the ABI test does not check: teach tests/abi.rs"
            );
        }
    }
    sys
}

/// What jr.h declares: JR_ macros, typedef names, JR_API function names.
fn parse_header(h: &str) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let h = strip_comments(h);
    let mut macros = BTreeSet::new();
    let mut code = String::new();
    for line in h.lines() {
        let t = line.trim_start();
        if let Some(d) = t.strip_prefix('#') {
            if let Some(rest) = d.trim_start().strip_prefix("define") {
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.starts_with("JR_") {
                    macros.insert(name);
                }
            }
        } else {
            code.push_str(line);
            code.push('\n');
        }
    }
    // A sized struct's body ({ fields }) is not a typedef of its own.
    let mut flat = String::with_capacity(code.len());
    let mut depth = 0;
    for ch in code.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ if depth == 0 => flat.push(ch),
            _ => {}
        }
    }
    let code = squash(&flat);
    let mut typedefs = BTreeSet::new();
    for t in items(&code, "typedef ", ';') {
        let name = match t.find("(*") {
            Some(p) => t[p + 2..].split(')').next().unwrap(),
            None => t.rsplit(' ').next().unwrap(),
        };
        typedefs.insert(name.trim().to_string());
    }
    let mut fns = BTreeSet::new();
    for f in items(&code, "JR_API ", ';') {
        let head = &f[..f.find('(').expect("JR_API function without (")];
        let name = head.rsplit([' ', '*']).next().unwrap();
        fns.insert(name.to_string());
    }
    (macros, typedefs, fns)
}

fn include_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = option_env!("JR_SYS_INCLUDE_PATH")
        .map(|p| {
            env::split_paths(p)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    dirs.push("/usr/local/include".into());
    dirs.push("/usr/include".into());
    dirs
}

fn c_source(sys: &Sys) -> String {
    let mut c = String::from("#include <stddef.h>\n#include <stdint.h>\n#include <jr/jr.h>\n\n");
    for (name, ty, value) in &sys.consts {
        let cty = c_decl(ty, "", false);
        c += &format!(
            "_Static_assert({name} == {value}, \"{name}: jr-sys says {value}\");\n\
             _Static_assert(_Generic(({name}), {cty}: 1, default: 0), \"{name}: jr-sys says type {cty}\");\n"
        );
    }
    for o in &sys.opaque {
        c += &format!("typedef struct {o} {o};\n");
    }
    for (name, ty) in &sys.types {
        if ty.contains("fn(") {
            c += &format!("typedef {};\n", c_decl(ty, name, false));
        } else {
            let cty = c_decl(ty, "", false);
            // The same size and signedness (a typedef of a typedef may name
            // another spelling of the type).
            c += &format!(
                "_Static_assert(sizeof({name}) == sizeof({cty}) && \
                 (({name})-1 > 0) == (({cty})-1 > 0), \"{name}: jr-sys says {cty}\");\n"
            );
        }
    }
    // A sized struct: the same fields at the same offsets with the same
    // types, and the same size (nothing after the last field jr-sys knows).
    for (name, fields) in &sys.sized {
        c += &format!("struct jrsys_{name} {{\n");
        for (f, ty) in fields {
            c += &format!("  {};\n", c_decl(ty, f, false));
        }
        c += "};\n";
        c += &format!(
            "_Static_assert(sizeof(struct jrsys_{name}) == sizeof({name}), \"{name}: size\");\n"
        );
        for (f, _) in fields {
            c += &format!(
                "_Static_assert(offsetof(struct jrsys_{name}, {f}) == offsetof({name}, {f}), \
                 \"{name}.{f}: offset\");\n\
                 _Static_assert(__builtin_types_compatible_p(__typeof__((({name} *)0)->{f}), \
                 __typeof__(((struct jrsys_{name} *)0)->{f})), \"{name}.{f}: type\");\n"
            );
        }
    }
    for (name, params, ret) in &sys.fns {
        let params = c_params(params);
        c += &format!(
            "extern {};\n",
            c_decl(ret, &format!("{name}({params})"), false)
        );
    }
    c
}

#[test]
fn declarations_match_jr_h() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sys = parse_sys(&fs::read_to_string(manifest.join("src/lib.rs")).unwrap());
    assert!(
        sys.consts.len() > 10 && sys.fns.len() > 10,
        "lib.rs was not parsed"
    );

    let dirs = include_dirs();
    let header = dirs
        .iter()
        .map(|d| d.join("jr/jr.h"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("jr/jr.h not found in {dirs:?}"));
    let (macros, typedefs, fns) = parse_header(&fs::read_to_string(&header).unwrap());

    // jr.h items jr-sys lacks.
    let have_consts: BTreeSet<_> = sys.consts.iter().map(|c| c.0.clone()).collect();
    let have_types: BTreeSet<_> = sys
        .types
        .iter()
        .map(|t| t.0.clone())
        .chain(sys.opaque.iter().cloned())
        .chain(sys.sized.iter().map(|s| s.0.clone()))
        .collect();
    let have_fns: BTreeSet<_> = sys.fns.iter().map(|f| f.0.clone()).collect();
    let skip: BTreeSet<String> = NOT_MIRRORED.iter().map(|m| m.0.to_string()).collect();
    let missing: Vec<_> = macros
        .difference(&have_consts)
        .filter(|m| !skip.contains(*m))
        .chain(typedefs.difference(&have_types))
        .chain(fns.difference(&have_fns))
        .collect();
    assert!(
        missing.is_empty(),
        "{} declares what jr-sys lacks: {missing:?}",
        header.display()
    );

    // jr-sys items against the compiler's view of jr.h.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("jr_sys_abi_check.c");
    fs::write(&file, c_source(&sys)).unwrap();
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=c11", "-fsyntax-only", "-Wall", "-Werror"]);
    for d in option_env!("JR_SYS_INCLUDE_PATH")
        .map(|p| env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if !d.as_os_str().is_empty() {
            cmd.arg("-I").arg(d);
        }
    }
    cmd.arg(&file);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?} ($CC): {e}"));
    assert!(
        out.status.success(),
        "jr-sys disagrees with {} ({} checked with {cc}):\n{}",
        header.display(),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_checker_understands_rust_types() {
    assert_eq!(
        c_decl("*const *const c_char", "argv", false),
        "const char *const *argv"
    );
    assert_eq!(
        c_decl("*mut *mut jr_client", "out", false),
        "jr_client **out"
    );
    assert_eq!(
        c_decl(
            "Option<unsafe extern \"C\" fn(ctx: *mut c_void, event: c_int)>",
            "cb",
            false
        ),
        "void (*cb)(void *ctx, int event)"
    );
    assert_eq!(
        c_decl("*const c_char", "f(int x)", false),
        "const char *f(int x)"
    );
}
