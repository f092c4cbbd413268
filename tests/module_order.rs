//! The one-way order of modules, checked (docs/ARCHITECTURE.md): inside
//! every crate of the workspace, no two top-level modules import each
//! other, directly or around a longer loop. Shared helpers go in a leaf
//! module instead.
//!
//! A module's imports are its `crate::…` paths outside comments and unit
//! tests, with names re-exported at the crate root resolved to the module
//! they come from. A child module using its parent (`super::`) is not a
//! loop: it is one top-level module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules it imports.
type Imports = BTreeMap<String, BTreeSet<String>>;

/// The code of a file without comment lines and without its inline
/// `#[cfg(test)] mod tests { … }` (always last in this workspace).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim().starts_with("mod tests {"))
        {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// The text between the `{` at `open` and its matching `}`.
fn braced(text: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    &text[open + 1..]
}

/// The items of a `{a, b::c, D as E}` group, split at its top-level commas.
fn group_items(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(group[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(group[start..].trim());
    items.retain(|item| !item.is_empty());
    items
}

fn first_segment(path: &str) -> &str {
    let end = path
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(path.len());
    &path[..end]
}

/// The first segment of every `crate::` path in `code`.
fn crate_paths(code: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if rest.starts_with('{') {
            segments.extend(group_items(braced(rest, 0)).into_iter().map(first_segment));
        } else {
            segments.push(first_segment(rest));
        }
    }
    segments
}

/// A crate root's declared modules (test-only ones left out) and its
/// re-exports (`pub use m::{A, B as C}` → `A`, `C` come from `m`).
fn read_root(root: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut modules = BTreeSet::new();
    let mut test_only = false;
    for line in root.lines().map(str::trim) {
        let declaration = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        if let Some(name) = declaration
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'))
            && !test_only
        {
            modules.insert(name.trim().to_owned());
        }
        test_only = line == "#[cfg(test)]";
    }
    let mut reexports = BTreeMap::new();
    let code = code_of(root);
    for (at, _) in code.match_indices("pub use ") {
        let statement = &code[at + "pub use ".len()..];
        let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
        let Some((module, rest)) = statement.split_once("::") else {
            continue;
        };
        let items = match rest.trim_start().strip_prefix('{') {
            Some(_) => group_items(braced(rest.trim_start(), 0)),
            None => vec![rest.trim()],
        };
        for item in items {
            let name = item.rsplit(" as ").next().unwrap_or(item);
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            reexports.insert(name.to_owned(), module.trim().to_owned());
        }
    }
    (modules, reexports)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The imports between the top-level modules of the crate whose sources
/// are in `src` (`lib.rs` or `main.rs` at its root).
fn imports_of(src: &Path) -> Imports {
    let root = ["lib.rs", "main.rs"]
        .iter()
        .map(|name| src.join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{}: no lib.rs or main.rs", src.display()));
    let root_text = std::fs::read_to_string(&root).expect("readable crate root");
    let (modules, reexports) = read_root(&root_text);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut imports = Imports::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let mut parts = relative.iter().map(|p| p.to_string_lossy().into_owned());
        let top = parts.next().unwrap_or_default();
        let top = top.strip_suffix(".rs").unwrap_or(&top).to_owned();
        // Unit-test files (`tests.rs`, `tests/`) may use anything.
        let is_test = relative.iter().any(|p| p == "tests" || p == "tests.rs");
        if !modules.contains(&top) || is_test {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let code = code_of(&text);
        let entry = imports.entry(top.clone()).or_default();
        for segment in crate_paths(&code) {
            let target = if modules.contains(segment) {
                Some(segment.to_owned())
            } else {
                reexports.get(segment).cloned()
            };
            if let Some(target) = target.filter(|t| *t != top && modules.contains(t)) {
                entry.insert(target);
            }
        }
    }
    imports
}

/// Every loop, as the modules on it with the imports that close it.
fn loops(imports: &Imports) -> Vec<String> {
    let nodes: Vec<&String> = imports.keys().collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in imports.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut reported = BTreeSet::new();
    let mut found = Vec::new();
    for node in &nodes {
        if !reachable[node].contains(*node) || reported.contains(*node) {
            continue;
        }
        let on_loop: BTreeSet<&String> = nodes
            .iter()
            .copied()
            .filter(|other| reachable[node].contains(*other) && reachable[other].contains(*node))
            .collect();
        let edges: Vec<String> = on_loop
            .iter()
            .flat_map(|from| {
                imports[*from]
                    .iter()
                    .filter(|to| on_loop.contains(to))
                    .map(move |to| format!("{from} → {to}"))
            })
            .collect();
        found.push(edges.join(", "));
        reported.extend(on_loop.into_iter().cloned());
    }
    found
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(workspace.join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    sources.push(workspace.join("xtask/src"));
    sources.sort();
    assert!(sources.len() >= 8, "found only {sources:?}");
    let mut problems = Vec::new();
    for src in &sources {
        let imports = imports_of(src);
        assert!(!imports.is_empty(), "{}: no modules found", src.display());
        for found in loops(&imports) {
            problems.push(format!("{}: {found}", src.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "modules that import each other (move what they share into a leaf module):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_finds_a_loop_through_a_reexport_and_ignores_tests_and_comments() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let src = dir.path();
    let write = |name: &str, text: &str| {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
        std::fs::write(path, text).expect("write");
    };
    write(
        "lib.rs",
        "mod a;\npub mod b;\nmod c;\n#[cfg(test)]\nmod checks;\npub use a::{Alpha, inner::Beta as B2};\n",
    );
    write("a/mod.rs", "use crate::c::helper;\n// see crate::b\n");
    write("a/inner.rs", "pub struct Beta;\n");
    write(
        "b.rs",
        "use crate::{B2, c};\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
    );
    write("c.rs", "pub fn helper() {}\n");
    write("checks.rs", "use crate::b;\n");
    write("b/tests.rs", "use crate::a::Alpha;\n");
    let imports = imports_of(src);
    assert_eq!(
        imports["a"],
        BTreeSet::from(["c".to_owned()]),
        "the comment is no import"
    );
    assert_eq!(
        imports["b"],
        BTreeSet::from(["a".to_owned(), "c".to_owned()]),
        "`B2` resolves to `a`; the unit tests are left out"
    );
    assert!(loops(&imports).is_empty());

    // c → b closes a → c → b → a.
    write("c.rs", "pub fn helper() { crate::b::go() }\n");
    let found = loops(&imports_of(src));
    assert_eq!(found, vec!["a → c, b → a, b → c, c → b".to_owned()]);
}
