//! The shape of the code: no import circle among the files of `src/`. Each file's
//! dependencies are the files its paths name (`use crate::…`, `super::…`, a child module's
//! `name::…`, resolved to the deepest module file that exists), outside `#[cfg(test)]`
//! modules. A `mod x;` declaration is not a dependency; `pub use x::Y` is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module path of a file below `src/` (`rules/mod.rs` → `["rules"]`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// Source with comments, string and character literals blanked, so that only code is read.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if (rest.starts_with(b"r#") || rest.starts_with(b"r\"") || rest.starts_with(b"br"))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // Raw string: r"…", r#"…"#, br"…".
            let start = if rest[0] == b'b' { i + 2 } else { i + 1 };
            let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
            if b.get(start + hashes) != Some(&b'"') {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat(b'#').take(hashes)).collect();
            i = start + hashes + 1;
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            let lit = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|&c| c == b'\'').map(|p| i + 3 + p)
            } else {
                let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 2 + ch_len)
            };
            match lit {
                Some(end) => {
                    out.extend_from_slice(b"' '");
                    i = end;
                }
                None => {
                    out.push(b'\'');
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The modules `code` declares as `#[cfg(test)] mod name;` (test code). One with a
/// `#[path]` attribute is found by `path_attributes`.
fn test_module_files(code: &str) -> Vec<TestModule> {
    code.split("#[cfg(test)]")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix("pub ").unwrap_or(rest).trim_start().strip_prefix("mod ")?;
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            rest[name.len()..].trim_start().starts_with(';').then_some(TestModule::Named(name))
        })
        .collect()
}

enum TestModule {
    Named(String),
    File(String),
}

/// `#[cfg(test)] #[path = "file.rs"] mod name;` in the source as written (the file name is a
/// string, which `code_only` blanks).
fn path_attributes(text: &str) -> Vec<TestModule> {
    text.split("#[cfg(test)]")
        .skip(1)
        .filter_map(|rest| {
            let attr = rest.trim_start().strip_prefix("#[path")?;
            let end = attr.find(']')?;
            let file = attr[..end].trim().trim_start_matches('=').trim().trim_matches('"');
            (!file.is_empty()).then(|| TestModule::File(file.to_string()))
        })
        .collect()
}

/// `code` without `#[cfg(test)] mod name { … }` and `#[cfg(test)] mod name;`.
fn without_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        let after = after.strip_prefix("pub ").unwrap_or(after).trim_start();
        let Some(m) = after.strip_prefix("mod ") else {
            out.push_str("#[cfg(test)]");
            rest = &rest[at + "#[cfg(test)]".len()..];
            continue;
        };
        let open = m.find(['{', ';']).unwrap_or(m.len());
        let body = &m[open..];
        if let Some(after) = body.strip_prefix(';') {
            rest = after;
            continue;
        }
        let mut depth = 0usize;
        let mut end = body.len();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

/// The paths a `use` tree names: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(&tree).to_string()];
    };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).flat_map(|p| expand_use(&format!("{prefix}{p}"))).collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every `a::b::c` path in `code` (identifiers joined by `::`), as segments.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[s..j].iter().collect::<String>());
                if chars.get(j) == Some(&':')
                    && chars.get(j + 1) == Some(&':')
                    && chars.get(j + 2).is_some_and(|&c| is_ident(c))
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1 {
                found.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// For every file below `src`, the other files it depends on.
pub fn dependencies(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let files: Vec<PathBuf> = files.iter().map(|f| f.strip_prefix(src).unwrap().to_path_buf()).collect();
    let mut modules: BTreeMap<Vec<String>, PathBuf> = files.iter().map(|f| (module_of(f), f.clone())).collect();
    // Test-only files (and everything below them) are not part of the shape.
    let mut test_only: Vec<Vec<String>> = Vec::new();
    let mut test_files: Vec<PathBuf> = Vec::new();
    for rel in &files {
        // The source as written: a #[path] attribute's file name is a string.
        let text = std::fs::read_to_string(src.join(rel)).unwrap();
        let code = code_only(&text);
        for m in test_module_files(&code).into_iter().chain(path_attributes(&text)) {
            match m {
                TestModule::Named(name) => test_only.push([module_of(rel), vec![name]].concat()),
                TestModule::File(f) => test_files.push(rel.parent().unwrap_or(Path::new("")).join(f)),
            }
        }
    }
    modules.retain(|m, f| !test_only.iter().any(|t| m.starts_with(t)) && !test_files.contains(f));
    let files: Vec<PathBuf> = modules.values().cloned().collect();
    let resolve = |path: &[String]| (0..=path.len()).rev().find_map(|n| modules.get(&path[..n]));
    let mut graph = BTreeMap::new();
    for rel in &files {
        let text = std::fs::read_to_string(src.join(rel)).unwrap();
        let code = without_test_modules(&code_only(&text));
        // The crate root declares modules; the binary is a client of the library.
        if module_of(rel).is_empty() {
            continue;
        }
        let me = module_of(rel);
        let mut named: Vec<Vec<String>> = paths(&code);
        for stmt in code.split(';') {
            let s = stmt.trim_start();
            let s = s.strip_prefix("pub ").or_else(|| s.strip_prefix("pub(crate) ")).unwrap_or(s);
            if let Some(tree) = s.strip_prefix("use ") {
                named.extend(expand_use(tree).iter().map(|p| p.split("::").map(String::from).collect()));
            }
        }
        let mut deps = BTreeSet::new();
        for segs in named {
            let absolute: Vec<String> = match segs[0].as_str() {
                "crate" => segs[1..].to_vec(),
                "super" => {
                    let ups = segs.iter().take_while(|s| *s == "super").count();
                    let mut base = me[..me.len().saturating_sub(ups)].to_vec();
                    base.extend_from_slice(&segs[ups..]);
                    base
                }
                "self" => me.iter().chain(&segs[1..]).cloned().collect(),
                child if modules.contains_key(&[me.clone(), vec![child.to_string()]].concat()) => {
                    me.iter().chain(&segs).cloned().collect()
                }
                _ => continue,
            };
            if let Some(target) = resolve(&absolute) {
                if target != rel {
                    deps.insert(target.clone());
                }
            }
        }
        graph.insert(rel.clone(), deps);
    }
    graph
}

/// The strongly connected components of more than one file (Tarjan).
pub fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        found: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(v: &'a PathBuf, st: &mut State<'a>) {
        let n = st.index.len();
        st.index.insert(v, n);
        st.low.insert(v, n);
        st.stack.push(v);
        for w in st.graph.get(v).into_iter().flatten() {
            if !st.graph.contains_key(w) {
                continue;
            }
            if !st.index.contains_key(w) {
                visit(w, st);
                let lw = st.low[w];
                st.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if st.stack.contains(&w) {
                let iw = st.index[w];
                st.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = st.stack.pop() {
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                st.found.push(comp);
            }
        }
    }
    let mut st = State { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for v in graph.keys() {
        if !st.index.contains_key(v) {
            visit(v, &mut st);
        }
    }
    st.found
}

#[test]
fn no_import_circle_among_source_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = dependencies(&src);
    assert!(graph.len() > 50, "read only {} files", graph.len());
    let found = circles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{} -> {}", a.display(), b.display()))
                })
                .collect();
            edges.join("\n  ")
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n  {}", shown.join("\n\n  "));
}

#[test]
fn the_circle_check_sees_circles() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, s: &str| {
        let f = dir.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, s).unwrap();
    };
    w("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
    w("a/mod.rs", "mod x;\npub use x::X;\n// use crate::c::Z; a comment is not a dependency\n");
    w("a/x.rs", "use super::Y;\npub struct X;\n");
    w("b.rs", "pub fn f() -> crate::c::Z { let s = \"crate::a::X\"; crate::c::Z }\n#[cfg(test)]\nmod tests { use crate::a::X; }\n");
    w("c.rs", "pub struct Z;\nfn g(_: &'static str) -> char { '{' }\n");
    let graph = dependencies(dir.path());
    let p = PathBuf::from;
    assert_eq!(graph[&p("a/mod.rs")], BTreeSet::from([p("a/x.rs")]));
    assert_eq!(graph[&p("a/x.rs")], BTreeSet::from([p("a/mod.rs")]));
    assert_eq!(graph[&p("b.rs")], BTreeSet::from([p("c.rs")]), "strings and test modules are not dependencies");
    assert_eq!(circles(&graph), vec![vec![p("a/mod.rs"), p("a/x.rs")]]);
}

/// The pipeline's direction, as file dependencies: the model reads nothing of the scanner,
/// rules never reach podman, the engine or the output, renderers see only the model.
#[test]
fn layers_of_the_pipeline_depend_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = dependencies(&src);
    let under = |p: &Path, dir: &str| p.starts_with(dir) || p == Path::new(&format!("{dir}.rs"));
    let forbidden: &[(&str, &[&str])] = &[
        (
            "model",
            &[
                "aggregate",
                "commands",
                "config",
                "engine",
                "exit",
                "layers",
                "output",
                "pipeline",
                "podman",
                "render",
                "rules",
                "reference",
                "inspect",
                "escape",
                "canonical",
                "sha256",
                "time",
                "text",
                "glob",
            ],
        ),
        ("rules", &["commands", "config", "engine", "output", "pipeline", "podman", "render", "aggregate", "userns"]),
        ("layers", &["commands", "config", "engine", "output", "pipeline", "render", "rules", "aggregate"]),
        ("engine", &["commands", "config", "output", "pipeline", "podman", "render", "userns"]),
        // Renderers may look a check's metadata up in the registry (for reports that lack it).
        ("render", &["commands", "config", "engine", "layers", "output", "pipeline", "podman", "userns"]),
    ];
    let mut wrong = Vec::new();
    for (file, deps) in &graph {
        for (dir, banned) in forbidden {
            if !under(file, dir) {
                continue;
            }
            for d in deps {
                if banned.iter().any(|b| under(d, b)) {
                    wrong.push(format!("{} -> {}", file.display(), d.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "dependencies against the pipeline's direction:\n  {}", wrong.join("\n  "));
}
