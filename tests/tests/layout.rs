//! The layout rules of the codebase, checked so that they hold: within one
//! crate no two source files share a name (a name says what lives there),
//! and no source file of the bouncer or the worker grows past 600 lines.
//! (No function over 80 lines is clippy's `too_many_lines`, in clippy.toml.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MOST_LINES: usize = 600;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the repository")
        .to_owned()
}

/// Every `.rs` file under `dir`, leaving out build output and nested
/// crates (a fuzz crate is a crate of its own).
fn sources(dir: &Path, top: bool, out: &mut Vec<PathBuf>) {
    if !top && (dir.join("Cargo.toml").exists() || dir.ends_with("target")) {
        return;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, false, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The workspace's crates and the fuzz crates beside them.
fn crates() -> Vec<PathBuf> {
    let root = root();
    let mut out = Vec::new();
    for member in ["ipc", "bouncer", "msn-worker", "msn-sim", "tests"] {
        out.push(root.join(member));
        let fuzz = root.join(member).join("fuzz");
        if fuzz.join("Cargo.toml").exists() {
            out.push(fuzz);
        }
    }
    out
}

#[test]
fn no_two_files_in_one_crate_share_a_name() {
    let mut repeated = Vec::new();
    for krate in crates() {
        let mut files = Vec::new();
        sources(&krate, true, &mut files);
        let mut by_name: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for f in files {
            let name = f.file_name().expect("a file name").to_string_lossy().into_owned();
            by_name.entry(name).or_default().push(f);
        }
        for (name, paths) in by_name {
            if paths.len() > 1 {
                repeated.push(format!("{name}: {paths:?}"));
            }
        }
    }
    assert!(
        repeated.is_empty(),
        "file names repeated within a crate:\n{}",
        repeated.join("\n")
    );
}

#[test]
fn no_source_file_of_the_bouncer_or_the_worker_is_over_600_lines() {
    let mut long = Vec::new();
    for krate in ["bouncer", "msn-worker"] {
        let mut files = Vec::new();
        sources(&root().join(krate).join("src"), true, &mut files);
        assert!(files.len() > 10, "{krate}: no sources found");
        for f in files {
            let lines = std::fs::read_to_string(&f)
                .expect("a source file")
                .lines()
                .count();
            if lines > MOST_LINES {
                long.push(format!("{}: {lines} lines", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "over {MOST_LINES} lines:\n{}", long.join("\n"));
}
