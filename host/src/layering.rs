//! The layering rule, checked on the sources: `serve → {mcp, reload} → registry → runtime →
//! egress`, with `events` and `units` at ground level. A module may use the ones below it, never
//! the ones above; below `mcp`, nothing speaks MCP (`rmcp`).

use std::path::{Path, PathBuf};

/// Each module and what it must not use: crate modules, and whether `rmcp` is off limits.
const RULES: &[(&str, &[&str], bool)] = &[
    ("caller", ABOVE_GROUND, true),
    ("events", ABOVE_GROUND, true),
    ("budget", ABOVE_GROUND, true),
    ("allocator", ABOVE_GROUND, true),
    ("backtraces", ABOVE_GROUND, true),
    ("drain", ABOVE_GROUND, true),
    ("guest_text", ABOVE_GROUND, true),
    ("units", ABOVE_GROUND, true),
    ("trace_context", ABOVE_GROUND, true),
    (
        "egress",
        &[
            "runtime", "registry", "mcp", "reload", "serve", "manifest", "config", "inspect",
            "cli", "metrics", "identity", "access", "audit",
        ],
        true,
    ),
    (
        "distribution",
        &[
            "egress", "runtime", "registry", "mcp", "reload", "serve", "manifest", "config",
            "inspect", "cli", "metrics", "identity", "access", "audit",
        ],
        true,
    ),
    (
        "runtime",
        &[
            "registry", "mcp", "reload", "serve", "manifest", "config", "inspect", "cli",
            "metrics", "identity", "access", "audit",
        ],
        true,
    ),
    (
        "registry",
        &[
            "mcp", "reload", "serve", "config", "inspect", "cli", "metrics", "identity", "access",
            "audit",
        ],
        true,
    ),
    (
        "manifest",
        &["registry", "runtime", "mcp", "reload", "serve"],
        true,
    ),
    ("mcp", &["reload", "serve", "inspect", "cli"], false),
    ("reload", &["mcp", "serve", "inspect", "cli"], true),
    (
        "access",
        &[
            "mcp", "reload", "serve", "runtime", "egress", "inspect", "cli", "identity", "audit",
        ],
        true,
    ),
    (
        "audit",
        &[
            "mcp", "reload", "serve", "registry", "runtime", "inspect", "cli", "identity", "access",
        ],
        true,
    ),
    (
        "identity",
        &[
            "mcp", "reload", "serve", "registry", "runtime", "egress", "inspect", "cli", "access",
            "audit",
        ],
        true,
    ),
];

const ABOVE_GROUND: &[&str] = &[
    "access",
    "audit",
    "cli",
    "config",
    "distribution",
    "egress",
    "identity",
    "inspect",
    "manifest",
    "mcp",
    "metrics",
    "registry",
    "reload",
    "runtime",
    "serve",
    "telemetry",
];

#[test]
fn lower_layers_never_use_upper_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for (module, forbidden, no_rmcp) in RULES {
        for file in sources(&src, module) {
            let text = std::fs::read_to_string(&file).unwrap();
            // Comments may name anything; blank them, keeping the line numbers.
            let code: String = text
                .lines()
                .map(|line| match line.trim_start().starts_with("//") {
                    true => "\n".to_owned(),
                    false => format!("{line}\n"),
                })
                .collect();
            let line_of = |at: usize| code[..at].matches('\n').count() + 1;
            let mut found: Vec<(usize, String)> = crate_paths(&code)
                .into_iter()
                .filter(|(_, name)| forbidden.contains(&name.as_str()))
                .map(|(at, name)| (at, format!("crate::{name}")))
                .collect();
            if *no_rmcp {
                found.extend(mentions(&code, "rmcp::").map(|at| (at, "rmcp".to_owned())));
            }
            for (at, what) in found {
                let number = line_of(at);
                offences.push(format!(
                    "{}:{number}: `{module}` must not use {what}: {}",
                    file.strip_prefix(&src).unwrap().display(),
                    code.lines().nth(number - 1).unwrap_or_default().trim()
                ));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "layering broken (serve → {{mcp, reload}} → registry → runtime → egress; events, units at ground level):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_checker_sees_grouped_and_plain_paths() {
    let names = |code: &str| -> Vec<String> {
        crate_paths(code)
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    };
    assert_eq!(names("use crate::mcp::convert;"), ["mcp"]);
    assert_eq!(
        names("use crate::{\n    events::EventSink,\n    reload,\n};"),
        ["events", "reload"]
    );
    assert_eq!(
        names("use crate::{egress::{a, b}, units};"),
        ["egress", "units"]
    );
    assert_eq!(
        names("let x = crate::serve::run(a); notcrate::x"),
        ["serve"]
    );
    let grouped = "use crate::{\n    events::EventSink,\n    reload,\n};";
    let (at, name) = &crate_paths(grouped)[1];
    assert_eq!(
        (&grouped[*at..*at + 6], name.as_str()),
        ("reload", "reload")
    );
    assert_eq!(mentions("rmcp::model::Tool", "rmcp::").count(), 1);
    assert_eq!(mentions("xrmcp::model::Tool", "rmcp::").count(), 0);
}

/// `src/<module>.rs` and every file under `src/<module>/`.
fn sources(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty(), "no sources for module `{module}`");
    files
}

/// The top-level crate modules some code names (`crate::x`, `crate::{x, y::z}`), with where.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut names = Vec::new();
    for at in mentions(code, "crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items only: `crate::{a::{b, c}, d}` names `a` and `d`, each where it is.
            let base = at + "crate::{".len();
            let (mut depth, mut start) = (0, 0);
            for (offset, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.extend(item(group, start, offset, base));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.extend(item(group, start, offset, base));
                        start = offset + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.extend(first_segment(rest).map(|name| (at, name)));
        }
    }
    names
}

/// The first segment of the group item `group[start..end]`, with its offset in the file.
fn item(group: &str, start: usize, end: usize, base: usize) -> Option<(usize, String)> {
    let text = &group[start..end];
    let skipped = text.len() - text.trim_start().len();
    first_segment(text).map(|name| (base + start + skipped, name))
}

fn first_segment(item: &str) -> Option<String> {
    let name: String = item
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Where `path` starts in `code`, not as the tail of a longer name.
fn mentions<'a>(code: &'a str, path: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(path).map(|(at, _)| at).filter(|at| {
        !code[..*at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}
