//! The layering of `src/`, checked from the source itself: an arrow only
//! points down `cli/controller -> blueprint -> aws -> engine -> api ->
//! identity`, and no two modules import each other (top-level modules,
//! the engine's files, the AWS families and the files at the root of `aws/`).
//! Test modules (`#[cfg(test)]`, at the end of a file) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer: a module may use its own layer and those
/// below it. `cli` may use `controller` (it starts the operator), never
/// the other way round.
fn layer(top: &str) -> u8 {
    match top {
        "identity" => 0,
        "api" => 1,
        "engine" => 2,
        "aws" => 3,
        "blueprint" => 4,
        "controller" => 5,
        "cli" => 6,
        "lib" | "main" => 7,
        other => panic!("src/{other} has no layer: add it to tests/layering.rs and DESIGN"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/aws/ec2/vpc.rs` -> [aws, ec2, vpc].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The node a module path belongs to: its first two segments, where the
/// second names a module (file or directory) of the first.
fn node(modules: &BTreeSet<Vec<String>>, path: &[String]) -> String {
    let mut best = path[..1].to_vec();
    if path.len() > 1 && modules.contains(&path[..2].to_vec()) {
        best = path[..2].to_vec();
    }
    best.join("::")
}

/// Identifiers after `prefix` in `code`: `crate::a::b` gives [a, b];
/// braces (`super::{a::X, b}`) give each item's first segment.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(inner) = rest.strip_prefix('{') {
            let group = &inner[..inner.find('}').unwrap_or(inner.len())];
            for item in group.split(',') {
                let first: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !first.is_empty() && first != "self" {
                    out.push(vec![first]);
                }
            }
            continue;
        }
        let mut segments = Vec::new();
        let mut text = rest;
        loop {
            let ident: String = text
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if ident.is_empty() {
                break;
            }
            text = &text[ident.len()..];
            segments.push(ident);
            match text.strip_prefix("::") {
                Some(more) if !more.starts_with('{') => text = more,
                Some(more) => {
                    // `a::{b, c}`: each item is a segment after `a`.
                    let group = &more[1..more.find('}').unwrap_or(more.len())];
                    let firsts: Vec<String> = group
                        .split(',')
                        .map(|i| {
                            i.trim()
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect()
                        })
                        .filter(|s: &String| !s.is_empty() && s != "self")
                        .collect();
                    for first in firsts {
                        let mut path = segments.clone();
                        path.push(first);
                        out.push(path);
                    }
                    segments.clear();
                    break;
                }
                None => break,
            }
        }
        if !segments.is_empty() {
            out.push(segments);
        }
    }
    out
}

/// The source without comments' text and the test module at its end.
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Edges between nodes, each with a file that makes it.
fn edges() -> BTreeMap<(String, String), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let from = node(&modules, &module);
        let code = code_of(file);
        let is_dir_module = file.ends_with("mod.rs");
        // `super` of a.rs is its directory's module; of a/mod.rs, its parent's.
        let parent: Vec<String> = if is_dir_module {
            module[..module.len().saturating_sub(1)].to_vec()
        } else {
            module[..module.len() - 1].to_vec()
        };
        let mut targets = Vec::new();
        for path in paths_after(&code, "crate::") {
            targets.push(path);
        }
        for path in paths_after(&code, "super::") {
            if path.first().is_some_and(|p| p == "super") {
                continue; // `super::super`: within the same family
            }
            let mut full = parent.clone();
            full.extend(path);
            targets.push(full);
        }
        for target in targets {
            if target.is_empty() {
                continue;
            }
            let to = node(&modules, &target);
            if to != from {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| file.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    edges
}

#[test]
fn arrows_only_point_down_the_layers() {
    let mut wrong = Vec::new();
    for ((from, to), file) in edges() {
        let (a, b) = (
            from.split("::").next().unwrap(),
            to.split("::").next().unwrap(),
        );
        if a != b && layer(b) > layer(a) {
            wrong.push(format!("{file}: {from} uses {to}, a higher layer"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_import_each_other() {
    let edges = edges();
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
    }
    // Depth-first search for a cycle, reporting its path.
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| *s == n).unwrap();
                let mut cycle = stack[start..].to_vec();
                cycle.push(n);
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        for next in graph.get(n).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(n, &graph, &mut state, &mut stack) {
            let hops: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    format!(
                        "{} -> {} ({})",
                        w[0],
                        w[1],
                        edges[&(w[0].into(), w[1].into())]
                    )
                })
                .collect();
            panic!("modules import each other:\n{}", hops.join("\n"));
        }
    }
}

#[test]
fn the_checker_sees_braces_and_nested_paths() {
    let code = "use crate::aws::{prelude::*, ec2::vpc};\nlet x = crate::engine::diff(a);\nuse super::{fields::Y, run};";
    assert_eq!(
        paths_after(code, "crate::"),
        [
            vec!["aws".to_string(), "prelude".into()],
            vec!["aws".into(), "ec2".into()],
            vec!["engine".into(), "diff".into()],
        ]
    );
    assert_eq!(
        paths_after(code, "super::"),
        [vec!["fields".to_string()], vec!["run".into()]]
    );
}
