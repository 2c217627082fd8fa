//! `msnbnc user …` and the store behind it.

use std::io::Write;
use std::process::{Command, Stdio};

use msnbnc_tests::{binaries, config_text, TestDir};

/// Runs `msnbnc user ARGS --config FILE` with `stdin` as its input.
fn user(config: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(&binaries().msnbnc)
        .arg("user")
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn staff_accounts_are_managed_from_the_command_line() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let (ok, stdout, _) = user(&config, &["add", "alice", "--admin"], "s3cret pass\n");
    assert!(ok);
    assert_eq!(stdout, "added alice (admin)\n");
    assert!(user(&config, &["add", "bob"], "hunter2\n").0);
    let (ok, stdout, _) = user(&config, &["list"], "");
    assert!(ok);
    assert_eq!(stdout, "alice\tadmin\nbob\tstaff\n");
    assert!(user(&config, &["role", "bob", "admin"], "").0);
    assert!(user(&config, &["passwd", "bob"], "new one\n").0);
    assert!(user(&config, &["del", "alice"], "").0);
    assert_eq!(user(&config, &["list"], "").1, "bob\tadmin\n");
}

#[test]
fn mistakes_are_refused_clearly() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let (ok, _, err) = user(&config, &["add", "alice"], "");
    assert!(!ok && err.contains("no password on stdin"), "{err}");
    assert!(user(&config, &["add", "alice"], "x\n").0);
    let (ok, _, err) = user(&config, &["add", "ALICE"], "y\n");
    assert!(!ok && err.contains("user ALICE already exists"), "{err}");
    let (ok, _, err) = user(&config, &["add", "9lives"], "y\n");
    assert!(!ok && err.contains("is not a valid user name"), "{err}");
    let (ok, _, err) = user(&config, &["role", "alice", "king"], "");
    assert!(!ok && err.contains("\"king\" is not a role"), "{err}");
    let (ok, _, err) = user(&config, &["del", "nobody"], "");
    assert!(!ok && err.contains("no user nobody"), "{err}");
}

#[test]
fn a_database_from_a_newer_msnbnc_stops_the_bouncer_at_start() {
    let dir = TestDir::new();
    let text = config_text(&binaries().worker, "");
    let config = dir.write("msnbnc.toml", &text);
    assert!(user(&config, &["list"], "").0, "creates the database");
    let store = text
        .lines()
        .find_map(|l| l.strip_prefix("path = \"").filter(|p| p.ends_with(".db\"")))
        .map(|p| p.trim_end_matches('"').to_owned())
        .unwrap();
    // Bump the schema version as a future msnbnc would.
    let db = std::fs::read(&store).unwrap();
    assert_eq!(&db[..16], b"SQLite format 3\0");
    let mut db = db;
    db[60..64].copy_from_slice(&999u32.to_be_bytes());
    std::fs::write(&store, db).unwrap();
    let (status, _, stderr) = msnbnc_tests::run_msnbnc(&["run", "--config", &config.to_string_lossy()]);
    assert!(!status.success());
    assert!(
        stderr.contains("has schema version 999") && stderr.contains("written by a newer msnbnc"),
        "{stderr}"
    );
}
